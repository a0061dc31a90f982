//! dynamic_slice, dynamic_update_slice, gather and the scatter family against
//! references written here (XLA semantics plus JAX's GatherScatterMode), on random
//! shapes, dimension numbers and values of every dtype.

mod index_common;

use index_common::*;
use jaxon::lax::{self, GatherDimensionNumbers, GatherScatterMode, ScatterDimensionNumbers};
use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::Array;

const INDEX_DTYPES: [DType; 5] = [DType::I32, DType::I64, DType::I8, DType::U8, DType::U32];

/// A random index value around `0..=hi`, some of it out of range (never negative
/// for unsigned index dtypes).
fn index_value(rng: &mut Rng, dtype: DType, hi: i64) -> i64 {
    let lo = if dtype.is_unsigned_int() { 0 } else { -hi - 3 };
    rng.int(lo, hi + 3)
}

/// A random subset of `0..n` (in random order).
fn subset(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).filter(|_| rng.coin(0.5)).collect();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
    v
}

/// A random sorted choice of `k` positions out of `0..n`.
fn sorted_choice(rng: &mut Rng, n: usize, k: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        all.swap(i, rng.below(i + 1));
    }
    let mut out = all[..k].to_vec();
    out.sort_unstable();
    out
}

fn mode_name(m: GatherScatterMode) -> &'static str {
    match m {
        GatherScatterMode::Clip => "clip",
        GatherScatterMode::FillOrDrop => "fill_or_drop",
        GatherScatterMode::PromiseInBounds => "promise_in_bounds",
    }
}

const MODES: [GatherScatterMode; 3] = [
    GatherScatterMode::Clip,
    GatherScatterMode::FillOrDrop,
    GatherScatterMode::PromiseInBounds,
];

// ---- dynamic_slice / dynamic_update_slice -----------------------------------------

/// JAX's start: negative wrapped once, then clamped so the window fits.
fn clamp_start(s: i64, n: usize, size: usize) -> usize {
    let s = if s < 0 { s + n as i64 } else { s };
    s.clamp(0, (n - size) as i64) as usize
}

#[test]
fn dynamic_slice_matches_reference_for_every_dtype() {
    let mut rng = Rng::new(10);
    for dtype in ALL_DTYPES {
        for case in 0..3 {
            let shape = rng.shape(1, 3, 5);
            let n: usize = shape.iter().product();
            let v = rng.values(dtype, n, true);
            let x = array(dtype, &shape, &v);
            let sizes: Vec<usize> = shape.iter().map(|&d| rng.below(d + 1)).collect();
            let idt = INDEX_DTYPES[case % INDEX_DTYPES.len()];
            let starts: Vec<i64> = shape
                .iter()
                .map(|&d| index_value(&mut rng, idt, d as i64).clamp(-100, 100))
                .collect();
            let start_arrays: Vec<Array> = starts
                .iter()
                .map(|&s| array(idt, &[], &[s as f64]))
                .collect();
            let got = lax::dynamic_slice(&x, &start_arrays, &sizes);
            let clamped: Vec<usize> = (0..shape.len())
                .map(|d| clamp_start(starts[d], shape[d], sizes[d]))
                .collect();
            let m: usize = sizes.iter().product();
            let want: Vec<f64> = (0..m)
                .map(|f| {
                    let o = unravel(f, &sizes);
                    let src: Vec<usize> = o.iter().zip(&clamped).map(|(a, b)| a + b).collect();
                    v[ravel(&src, &shape)]
                })
                .collect();
            let what = format!("dynamic_slice {dtype} {shape:?} at {starts:?} size {sizes:?}");
            assert_array(&got, dtype, &sizes, &want, &what);
        }
    }
}

#[test]
fn dynamic_update_slice_matches_reference_for_every_dtype() {
    let mut rng = Rng::new(11);
    for dtype in ALL_DTYPES {
        for case in 0..3 {
            let shape = rng.shape(1, 3, 5);
            let n: usize = shape.iter().product();
            let v = rng.values(dtype, n, true);
            let x = array(dtype, &shape, &v);
            let ushape: Vec<usize> = shape.iter().map(|&d| rng.below(d + 1)).collect();
            let m: usize = ushape.iter().product();
            let u = rng.values(dtype, m, true);
            let upd = array(dtype, &ushape, &u);
            let idt = INDEX_DTYPES[(case + 2) % INDEX_DTYPES.len()];
            let starts: Vec<i64> = shape
                .iter()
                .map(|&d| index_value(&mut rng, idt, d as i64).clamp(-100, 100))
                .collect();
            let start_arrays: Vec<Array> = starts
                .iter()
                .map(|&s| array(idt, &[], &[s as f64]))
                .collect();
            let got = lax::dynamic_update_slice(&x, &upd, &start_arrays);
            let clamped: Vec<usize> = (0..shape.len())
                .map(|d| clamp_start(starts[d], shape[d], ushape[d]))
                .collect();
            let mut want = v.clone();
            for (f, &uv) in u.iter().enumerate() {
                let o = unravel(f, &ushape);
                let dst: Vec<usize> = o.iter().zip(&clamped).map(|(a, b)| a + b).collect();
                want[ravel(&dst, &shape)] = uv;
            }
            let what = format!("dynamic_update_slice {dtype} {shape:?} at {starts:?}");
            assert_array(&got, dtype, &shape, &want, &what);
        }
    }
}

#[test]
fn dynamic_in_dim_helpers() {
    let x = jnp::array(&[[0.0f32, 1.0, 2.0], [3.0, 4.0, 5.0]]);
    let i = jnp::array(-1i32);
    assert_eq!(
        lax::dynamic_index_in_dim(&x, &i, 1, false).to_vec::<f32>(),
        vec![2.0, 5.0]
    );
    let row = lax::dynamic_index_in_dim(&x, &jnp::array(7i32), 0, true);
    assert_eq!(row.shape(), &[1, 3]);
    assert_eq!(row.to_vec::<f32>(), vec![3.0, 4.0, 5.0]);
    let s = lax::dynamic_slice_in_dim(&x, &jnp::array(2i32), 2, 1);
    assert_eq!(s.to_vec::<f32>(), vec![1.0, 2.0, 4.0, 5.0]);
    let u = lax::dynamic_update_index_in_dim(&x, &jnp::array(&[9.0f32, 8.0]), &i, 1);
    assert_eq!(u.to_vec::<f32>(), vec![0.0, 1.0, 9.0, 3.0, 4.0, 8.0]);
}

// ---- gather -----------------------------------------------------------------------

struct GatherCase {
    shape: Vec<usize>,
    idx_shape: Vec<usize>,
    idx: Vec<i64>,
    dnums: GatherDimensionNumbers,
    slice_sizes: Vec<usize>,
    out_shape: Vec<usize>,
}

fn random_gather(rng: &mut Rng, idt: DType) -> GatherCase {
    let shape = rng.shape(1, 3, 5);
    let r = shape.len();
    let start_index_map = subset(rng, r);
    let collapsed: Vec<usize> = (0..r).filter(|_| rng.coin(0.4)).collect();
    let slice_sizes: Vec<usize> = (0..r)
        .map(|d| {
            if collapsed.contains(&d) {
                1
            } else {
                rng.below(shape[d] + 1)
            }
        })
        .collect();
    let batch = rng.shape(0, 2, 3);
    let k = start_index_map.len();
    let mut idx_shape = batch.clone();
    idx_shape.push(k);
    let count: usize = idx_shape.iter().product();
    let idx: Vec<i64> = (0..count)
        .map(|f| {
            let d = start_index_map[f % k.max(1)];
            index_value(rng, idt, (shape[d] - slice_sizes[d]) as i64)
        })
        .collect();
    let windows: Vec<usize> = (0..r)
        .filter(|d| !collapsed.contains(d))
        .map(|d| slice_sizes[d])
        .collect();
    let out_rank = batch.len() + windows.len();
    let offset_dims = sorted_choice(rng, out_rank, windows.len());
    let (mut w, mut b) = (windows.iter(), batch.iter());
    let out_shape = (0..out_rank)
        .map(|p| {
            *if offset_dims.contains(&p) {
                w.next()
            } else {
                b.next()
            }
            .unwrap()
        })
        .collect();
    GatherCase {
        shape,
        idx_shape,
        idx,
        dnums: GatherDimensionNumbers {
            offset_dims,
            collapsed_slice_dims: collapsed,
            start_index_map,
            ..Default::default()
        },
        slice_sizes,
        out_shape,
    }
}

/// XLA gather with JAX's modes, on host values.
fn reference_gather(c: &GatherCase, v: &[f64], mode: GatherScatterMode, fill: f64) -> Vec<f64> {
    let r = c.shape.len();
    let n: usize = c.out_shape.iter().product();
    let k = c.dnums.start_index_map.len();
    let window_dims: Vec<usize> = (0..r)
        .filter(|d| !c.dnums.collapsed_slice_dims.contains(d))
        .collect();
    (0..n)
        .map(|f| {
            let o = unravel(f, &c.out_shape);
            let mut batch = Vec::new();
            let mut offs = Vec::new();
            for (p, &i) in o.iter().enumerate() {
                if c.dnums.offset_dims.contains(&p) {
                    offs.push(i);
                } else {
                    batch.push(i);
                }
            }
            let mut starts = vec![0i64; r];
            let mut in_bounds = true;
            for j in 0..k {
                let mut at = batch.clone();
                at.push(j);
                let d = c.dnums.start_index_map[j];
                let s = c.idx[ravel(&at, &c.idx_shape)];
                let hi = (c.shape[d] - c.slice_sizes[d]) as i64;
                in_bounds &= (0..=hi).contains(&s);
                starts[d] = s.clamp(0, hi);
            }
            if mode == GatherScatterMode::FillOrDrop && !in_bounds {
                return fill;
            }
            let mut src: Vec<usize> = starts.iter().map(|&s| s as usize).collect();
            for (w, &d) in window_dims.iter().enumerate() {
                src[d] += offs[w];
            }
            v[ravel(&src, &c.shape)]
        })
        .collect()
}

/// JAX's default gather fill for a dtype.
fn default_fill(dtype: DType) -> f64 {
    match dtype {
        DType::Bool => 1.0,
        d if d.is_float() => f64::NAN,
        d if d.is_signed_int() => int_range(d).0,
        d => int_range(d).1,
    }
}

#[test]
fn gather_matches_reference_for_every_dtype_and_mode() {
    let mut rng = Rng::new(12);
    for dtype in ALL_DTYPES {
        for case in 0..6 {
            let idt = INDEX_DTYPES[case % INDEX_DTYPES.len()];
            let c = random_gather(&mut rng, idt);
            let n: usize = c.shape.iter().product();
            let v = rng.values(dtype, n, true);
            let x = array(dtype, &c.shape, &v);
            let idx_f: Vec<f64> = c.idx.iter().map(|&i| i as f64).collect();
            let idx = array(idt, &c.idx_shape, &idx_f);
            let mode = MODES[case % 3];
            let fill = if case % 2 == 0 { None } else { Some(1.0) };
            let got = lax::gather(&x, &idx, &c.dnums, &c.slice_sizes, mode, fill);
            let want = reference_gather(&c, &v, mode, fill.unwrap_or(default_fill(dtype)));
            let what = format!(
                "gather {dtype} {:?} idx {:?}={:?} {} slice {:?} {}",
                c.shape,
                c.idx_shape,
                c.idx,
                c.dnums,
                c.slice_sizes,
                mode_name(mode)
            );
            assert_array(&got, dtype, &c.out_shape, &want, &what);
        }
    }
}

// ---- scatter ----------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Set,
    Add,
    Mul,
    Min,
    Max,
}

struct ScatterCase {
    shape: Vec<usize>,
    idx_shape: Vec<usize>,
    idx: Vec<i64>,
    upd_shape: Vec<usize>,
    dnums: ScatterDimensionNumbers,
}

fn random_scatter(rng: &mut Rng, idt: DType) -> ScatterCase {
    let shape = rng.shape(1, 3, 5);
    let r = shape.len();
    let map = subset(rng, r);
    let inserted: Vec<usize> = (0..r).filter(|_| rng.coin(0.4)).collect();
    let window_dims: Vec<usize> = (0..r).filter(|d| !inserted.contains(d)).collect();
    let wsizes: Vec<usize> = window_dims
        .iter()
        .map(|&d| 1 + rng.below(shape[d]))
        .collect();
    let mut full = vec![1; r];
    for (&d, &w) in window_dims.iter().zip(&wsizes) {
        full[d] = w;
    }
    let batch = rng.shape(0, 2, 4);
    let k = map.len();
    let mut idx_shape = batch.clone();
    idx_shape.push(k);
    let count: usize = idx_shape.iter().product();
    let idx: Vec<i64> = (0..count)
        .map(|f| {
            let d = map[f % k.max(1)];
            index_value(rng, idt, (shape[d] - full[d]) as i64)
        })
        .collect();
    let upd_rank = batch.len() + wsizes.len();
    let uwd = sorted_choice(rng, upd_rank, wsizes.len());
    let (mut w, mut b) = (wsizes.iter(), batch.iter());
    let upd_shape = (0..upd_rank)
        .map(|p| *if uwd.contains(&p) { w.next() } else { b.next() }.unwrap())
        .collect();
    ScatterCase {
        shape,
        idx_shape,
        idx,
        upd_shape,
        dnums: ScatterDimensionNumbers {
            update_window_dims: uwd,
            inserted_window_dims: inserted,
            scatter_dims_to_operand_dims: map,
            ..Default::default()
        },
    }
}

/// Rounds an f64 result to what `dtype` stores (integers wrap).
fn round_to(dtype: DType, v: f64) -> f64 {
    match dtype {
        DType::F32 => v as f32 as f64,
        DType::F16 => half::f16::from_f64(v).to_f64(),
        DType::BF16 => half::bf16::from_f64(v).to_f64(),
        DType::F64 => v,
        DType::Bool => (v != 0.0) as i32 as f64,
        d => {
            let bits = d.bits();
            let m = v as i128 & ((1i128 << bits) - 1);
            let m = if d.is_signed_int() && m >= 1i128 << (bits - 1) {
                m - (1i128 << bits)
            } else {
                m
            };
            m as f64
        }
    }
}

fn combine(kind: Kind, dtype: DType, a: f64, b: f64) -> f64 {
    let v = match (kind, dtype == DType::Bool) {
        (Kind::Set, _) => b,
        (Kind::Add | Kind::Max, true) => ((a != 0.0) || (b != 0.0)) as i32 as f64,
        (Kind::Mul | Kind::Min, true) => ((a != 0.0) && (b != 0.0)) as i32 as f64,
        (Kind::Add, _) => a + b,
        (Kind::Mul, _) => a * b,
        (Kind::Min, _) => a.min(b),
        (Kind::Max, _) => a.max(b),
    };
    round_to(dtype, v)
}

/// XLA scatter with JAX's modes on host values; also returns how many updates
/// reached each element (several `Set`s to one element have no defined winner).
fn reference_scatter(
    c: &ScatterCase,
    x: &[f64],
    u: &[f64],
    kind: Kind,
    dtype: DType,
    mode: GatherScatterMode,
) -> (Vec<f64>, Vec<usize>) {
    let r = c.shape.len();
    let d = &c.dnums;
    let window_dims: Vec<usize> = (0..r)
        .filter(|q| !d.inserted_window_dims.contains(q))
        .collect();
    let mut full = vec![1; r];
    for (w, &q) in window_dims.iter().enumerate() {
        full[q] = c.upd_shape[d.update_window_dims[w]];
    }
    let mut out = x.to_vec();
    let mut hits = vec![0; x.len()];
    for (f, &uv) in u.iter().enumerate() {
        let p = unravel(f, &c.upd_shape);
        let (mut batch, mut wins) = (Vec::new(), Vec::new());
        for (q, &i) in p.iter().enumerate() {
            if d.update_window_dims.contains(&q) {
                wins.push(i);
            } else {
                batch.push(i);
            }
        }
        let mut starts = vec![0i64; r];
        let mut in_bounds = true;
        for (j, &q) in d.scatter_dims_to_operand_dims.iter().enumerate() {
            let mut at = batch.clone();
            at.push(j);
            let s = c.idx[ravel(&at, &c.idx_shape)];
            let hi = (c.shape[q] - full[q]) as i64;
            in_bounds &= (0..=hi).contains(&s);
            starts[q] = s.clamp(0, hi);
        }
        if mode != GatherScatterMode::Clip && !in_bounds {
            continue;
        }
        let mut dst: Vec<usize> = starts.iter().map(|&s| s as usize).collect();
        for (w, &q) in window_dims.iter().enumerate() {
            dst[q] += wins[w];
        }
        let at = ravel(&dst, &c.shape);
        out[at] = combine(kind, dtype, out[at], uv);
        hits[at] += 1;
    }
    (out, hits)
}

fn scatter_fn(
    kind: Kind,
) -> fn(&Array, &Array, &Array, &ScatterDimensionNumbers, GatherScatterMode) -> Array {
    match kind {
        Kind::Set => lax::scatter,
        Kind::Add => lax::scatter_add,
        Kind::Mul => lax::scatter_mul,
        Kind::Min => lax::scatter_min,
        Kind::Max => lax::scatter_max,
    }
}

fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 2e-3,
        DType::BF16 => 2e-2,
        DType::F32 => 1e-6,
        DType::F64 => 1e-15,
        _ => 0.0,
    }
}

#[test]
fn scatters_match_reference_for_every_dtype_kind_and_mode() {
    let mut rng = Rng::new(13);
    let mut case = 0;
    for dtype in ALL_DTYPES {
        for kind in [Kind::Set, Kind::Add, Kind::Mul, Kind::Min, Kind::Max] {
            for _ in 0..2 {
                case += 1;
                let idt = INDEX_DTYPES[case % INDEX_DTYPES.len()];
                let c = random_scatter(&mut rng, idt);
                let n: usize = c.shape.iter().product();
                let m: usize = c.upd_shape.iter().product();
                let (xv, uv) = (rng.values(dtype, n, false), rng.values(dtype, m, false));
                let x = array(dtype, &c.shape, &xv);
                let upd = array(dtype, &c.upd_shape, &uv);
                let idx_f: Vec<f64> = c.idx.iter().map(|&i| i as f64).collect();
                let idx = array(idt, &c.idx_shape, &idx_f);
                let mode = MODES[case % 3];
                let got = scatter_fn(kind)(&x, &idx, &upd, &c.dnums, mode);
                let (want, hits) = reference_scatter(&c, &xv, &uv, kind, dtype, mode);
                let what = format!(
                    "{kind:?} {dtype} {:?} idx {:?}={:?} upd {:?} {} {}",
                    c.shape,
                    c.idx_shape,
                    c.idx,
                    c.upd_shape,
                    c.dnums,
                    mode_name(mode)
                );
                assert_eq!(got.shape(), &c.shape[..], "{what}");
                assert_eq!(got.dtype(), dtype, "{what}");
                let g = got.to_f64_vec();
                for i in 0..n {
                    if kind == Kind::Set && hits[i] > 1 {
                        continue; // the winner among duplicates is unspecified
                    }
                    let tol = tolerance(dtype) * want[i].abs().max(1.0);
                    assert!(
                        same_bits(g[i], want[i]) || (g[i] - want[i]).abs() <= tol,
                        "{what}: element {i} is {}, expected {}\n got {g:?}\nwant {want:?}",
                        g[i],
                        want[i]
                    );
                }
            }
        }
    }
}

#[test]
fn scatter_add_accumulates_duplicates_and_drops_out_of_bounds() {
    let x = jnp::zeros(&[5], DType::F32);
    let idx = Array::from_vec(&[6, 1], vec![1i32, 1, 3, 1, 5, -1]);
    let upd = jnp::array(&[1.0f32, 2.0, 3.0, 4.0, 100.0, 200.0]);
    let dn = ScatterDimensionNumbers {
        update_window_dims: vec![],
        inserted_window_dims: vec![0],
        scatter_dims_to_operand_dims: vec![0],
        ..Default::default()
    };
    let drop = lax::scatter_add(&x, &idx, &upd, &dn, GatherScatterMode::FillOrDrop);
    assert_eq!(drop.to_vec::<f32>(), vec![0.0, 7.0, 0.0, 3.0, 0.0]);
    let clip = lax::scatter_add(&x, &idx, &upd, &dn, GatherScatterMode::Clip);
    assert_eq!(clip.to_vec::<f32>(), vec![200.0, 7.0, 0.0, 3.0, 100.0]);
}

#[test]
fn gather_and_scatter_print_jax_params() {
    let x = jnp::array(&[1.0f32, 2.0, 3.0]);
    let dn = GatherDimensionNumbers {
        offset_dims: vec![],
        collapsed_slice_dims: vec![0],
        start_index_map: vec![0],
        ..Default::default()
    };
    let j = make_jaxpr(move |x: Array| {
        let i = Array::from_vec(&[2, 1], vec![0i32, 2]);
        lax::gather(&x, &i, &dn, &[1], GatherScatterMode::FillOrDrop, None)
    })(x.clone())
    .to_string();
    assert!(j.contains("gather["), "{j}");
    assert!(j.contains("dimension_numbers=GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,), operand_batching_dims=(), start_indices_batching_dims=())"), "{j}");
    assert!(j.contains("mode=GatherScatterMode.FILL_OR_DROP"), "{j}");
    assert!(j.contains("slice_sizes=(1,)"), "{j}");
    let j = make_jaxpr(|x: Array| x.at(1).add(1.0))(x.clone()).to_string();
    assert!(j.contains("scatter-add["), "{j}");
    assert!(
        j.contains("ScatterDimensionNumbers(update_window_dims=()"),
        "{j}"
    );
    let j = make_jaxpr(|x: Array| {
        let i = Array::from_vec(&[], vec![1i32]);
        lax::dynamic_slice(&x, &[i], &[2])
    })(x)
    .to_string();
    assert!(j.contains("dynamic_slice[slice_sizes=(2,)]"), "{j}");
}

#[test]
#[rustfmt::skip]
fn index_primitive_errors_name_the_operation_and_the_callers_line() {
    let f = file!();
    let x = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
    let i = jnp::array(0i32);
    let fi = jnp::array(0.5f32);
    expect_error(|| lax::dynamic_slice(&x, std::slice::from_ref(&i), &[1, 1]), f, line!(), &["dynamic_slice", "one start index per dim"]);
    expect_error(|| lax::dynamic_slice(&x, &[i.clone(), fi.clone()], &[1, 1]), f, line!(), &["dynamic_slice", "0-d integers"]);
    expect_error(|| lax::dynamic_slice(&x, &[i.clone(), i.clone()], &[3, 1]), f, line!(), &["dynamic_slice", "slice_sizes"]);
    let big = jnp::zeros(&[3, 3], DType::F32);
    expect_error(|| lax::dynamic_update_slice(&x, &big, &[i.clone(), i.clone()]), f, line!(), &["dynamic_update_slice", "does not fit"]);
    let ints = jnp::zeros(&[1, 1], DType::I32);
    expect_error(|| lax::dynamic_update_slice(&x, &ints, &[i.clone(), i.clone()]), f, line!(), &["dynamic_update_slice", "dtype"]);
    let dn = GatherDimensionNumbers {
        offset_dims: vec![1],
        collapsed_slice_dims: vec![0],
        start_index_map: vec![0],
        ..Default::default()
    };
    let idx = Array::from_vec(&[2, 1], vec![0i32, 1]);
    expect_error(|| lax::gather(&x, &idx, &dn, &[2, 2], GatherScatterMode::Clip, None), f, line!(), &["gather", "slice size 1"]);
    let fidx = jnp::zeros(&[2, 1], DType::F32);
    expect_error(|| lax::gather(&x, &fidx, &dn, &[1, 2], GatherScatterMode::Clip, None), f, line!(), &["gather", "integer"]);
    let idx2 = Array::from_vec(&[1, 2], vec![0i32, 1]);
    expect_error(|| lax::gather(&x, &idx2, &dn, &[1, 2], GatherScatterMode::Clip, None), f, line!(), &["gather", "start_index_map"]);
    let sn = ScatterDimensionNumbers {
        update_window_dims: vec![1],
        inserted_window_dims: vec![0],
        scatter_dims_to_operand_dims: vec![0],
        ..Default::default()
    };
    let upd_i = jnp::zeros(&[2, 2], DType::I32);
    expect_error(|| lax::scatter_add(&x, &idx, &upd_i, &sn, GatherScatterMode::FillOrDrop), f, line!(), &["scatter-add", "dtype"]);
    let upd_bad = jnp::zeros(&[3, 2], DType::F32);
    expect_error(|| lax::scatter(&x, &idx, &upd_bad, &sn, GatherScatterMode::FillOrDrop), f, line!(), &["scatter", "scatter dims"]);
}
