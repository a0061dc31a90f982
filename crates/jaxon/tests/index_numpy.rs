//! NumPy indexing (`x.i`), functional updates (`x.at`), `take` and
//! `take_along_axis` against a NumPy-indexing reference written here (with JAX's
//! out-of-bounds rules), on random shapes, indices and dtypes.

mod index_common;

use index_common::*;
use jaxon::lax::{self, GatherScatterMode};
use jaxon::numpy::{self as jnp, IndexItem, Slice, TakeMode};
use jaxon::prelude::*;
use jaxon::Array;

// ---- the reference ----------------------------------------------------------------

/// A host-side index item.
#[derive(Clone, Debug)]
enum Ref {
    Int(i64),
    Slice(Slice),
    NewAxis,
    Ellipsis,
    /// An integer index array (shape, values).
    Ints(Vec<usize>, Vec<i64>),
    /// A boolean mask (shape, values).
    Mask(Vec<usize>, Vec<bool>),
}

impl Ref {
    fn item(&self) -> IndexItem {
        match self {
            Ref::Int(i) => IndexItem::Int(*i),
            Ref::Slice(s) => IndexItem::Slice(*s),
            Ref::NewAxis => IndexItem::NewAxis,
            Ref::Ellipsis => IndexItem::Ellipsis,
            Ref::Ints(shape, v) => IndexItem::Array(Array::from_vec(
                shape,
                v.iter().map(|&i| i as i32).collect(),
            )),
            Ref::Mask(shape, v) => IndexItem::Array(Array::from_vec(shape, v.clone())),
        }
    }
}

/// What one result dim reads.
enum Dim {
    Slice {
        dim: usize,
        start: i64,
        step: i64,
        len: usize,
    },
    NewAxis,
    Block,
}

/// The indexed shape and, per result element, the source multi-index before
/// bounds handling (advanced indices wrapped once, not clamped).
fn reference_index(shape: &[usize], items: &[Ref]) -> (Vec<usize>, Vec<Vec<i64>>) {
    // Masks become integer arrays of their true coordinates.
    let mut expanded = Vec::new();
    for it in items {
        match it {
            Ref::Mask(ms, mv) if ms.is_empty() => {
                assert!(mv[0]);
                expanded.push(Ref::NewAxis);
            }
            Ref::Mask(ms, mv) => {
                let hits: Vec<usize> = (0..mv.len()).filter(|&f| mv[f]).collect();
                for d in 0..ms.len() {
                    let v = hits.iter().map(|&f| unravel(f, ms)[d] as i64).collect();
                    expanded.push(Ref::Ints(vec![hits.len()], v));
                }
            }
            other => expanded.push(other.clone()),
        }
    }
    let consumed = expanded
        .iter()
        .filter(|i| !matches!(i, Ref::NewAxis | Ref::Ellipsis))
        .count();
    let fill = shape.len() - consumed;
    let full = Ref::Slice(jnp::s(None, None, 1));
    let mut its = Vec::new();
    let mut had_ellipsis = false;
    for it in expanded {
        if let Ref::Ellipsis = it {
            had_ellipsis = true;
            its.extend((0..fill).map(|_| full.clone()));
        } else {
            its.push(it);
        }
    }
    if !had_ellipsis {
        its.extend((0..fill).map(|_| full.clone()));
    }
    // Advanced items (integers count as 0-d arrays) and their broadcast shape.
    let mut dim = 0;
    let mut adv = Vec::new(); // (item position, operand dim, shape, values)
    for (p, it) in its.iter().enumerate() {
        match it {
            Ref::Int(i) => adv.push((p, dim, vec![], vec![*i])),
            Ref::Ints(s, v) => adv.push((p, dim, s.clone(), v.clone())),
            _ => {}
        }
        if !matches!(it, Ref::NewAxis) {
            dim += 1;
        }
    }
    let shapes: Vec<&[usize]> = adv.iter().map(|a| &a.2[..]).collect();
    let bshape = jnp::try_broadcast_shapes(&shapes).expect("index arrays broadcast");
    let adjacent = adv.windows(2).all(|w| w[1].0 == w[0].0 + 1);
    let mut dims = Vec::new();
    if !adjacent {
        dims.push(Dim::Block);
    }
    let mut dim = 0;
    for (p, it) in its.iter().enumerate() {
        match it {
            Ref::NewAxis => {
                dims.push(Dim::NewAxis);
                continue;
            }
            Ref::Slice(s) => {
                let (start, len) = s.indices(shape[dim]);
                dims.push(Dim::Slice {
                    dim,
                    start,
                    step: s.step,
                    len,
                });
            }
            _ if adjacent && adv[0].0 == p => dims.push(Dim::Block),
            _ => {}
        }
        dim += 1;
    }
    let mut out_shape = Vec::new();
    for d in &dims {
        match d {
            Dim::Slice { len, .. } => out_shape.push(*len),
            Dim::NewAxis => out_shape.push(1),
            Dim::Block => out_shape.extend_from_slice(&bshape),
        }
    }
    let n: usize = out_shape.iter().product();
    let sources = (0..n)
        .map(|f| {
            let o = unravel(f, &out_shape);
            let mut src = vec![0i64; shape.len()];
            let mut pos = 0;
            for d in &dims {
                match d {
                    Dim::Slice {
                        dim, start, step, ..
                    } => {
                        src[*dim] = start + step * o[pos] as i64;
                        pos += 1;
                    }
                    Dim::NewAxis => pos += 1,
                    Dim::Block => {
                        let b = &o[pos..pos + bshape.len()];
                        for (_, dim, s, v) in &adv {
                            // Broadcast: align the array's shape to the right of bshape.
                            let off = bshape.len() - s.len();
                            let at: Vec<usize> = s
                                .iter()
                                .enumerate()
                                .map(|(k, &n)| if n == 1 { 0 } else { b[off + k] })
                                .collect();
                            let i = v[ravel(&at, s)];
                            let size = shape[*dim] as i64;
                            src[*dim] = if i < 0 { i + size } else { i };
                        }
                        pos += bshape.len();
                    }
                }
            }
            src
        })
        .collect();
    (out_shape, sources)
}

fn clamp_source(src: &[i64], shape: &[usize]) -> Vec<usize> {
    src.iter()
        .zip(shape)
        .map(|(&i, &n)| i.clamp(0, n as i64 - 1) as usize)
        .collect()
}

fn in_bounds(src: &[i64], shape: &[usize]) -> bool {
    src.iter()
        .zip(shape)
        .all(|(&i, &n)| (0..n as i64).contains(&i))
}

// ---- random indices ---------------------------------------------------------------

fn random_slice(rng: &mut Rng, n: usize) -> Slice {
    let n = n as i64;
    let bound = |rng: &mut Rng| {
        if rng.coin(0.3) {
            None
        } else {
            Some(rng.int(-n - 2, n + 2))
        }
    };
    let (start, stop) = (bound(rng), bound(rng));
    let steps = [1, 1, 1, 2, 3, -1, -1, -2, -3];
    jnp::s(start, stop, steps[rng.below(steps.len())])
}

/// A random index for an array of `shape`: up to 5 items, consuming at most
/// `shape.len()` dims; `arrays` allows integer arrays and masks.
fn random_index(rng: &mut Rng, shape: &[usize], arrays: bool) -> Vec<Ref> {
    let mut items = Vec::new();
    let mut dim = 0;
    let mut ellipsis_at = None;
    // One broadcast shape for all integer arrays of this index.
    let bshape = rng.shape(1, 2, 3);
    let count = rng.below(5) + 1;
    let mut has_arrays = false;
    for _ in 0..count {
        let left = shape.len() - dim;
        let mut choice = rng.below(if arrays { 7 } else { 5 });
        if choice == 6 && has_arrays {
            choice = 1; // a mask's length cannot broadcast with other arrays
        }
        match choice {
            _ if left == 0 || choice == 3 => {
                if ellipsis_at.is_none() && rng.coin(0.3) {
                    ellipsis_at = Some(items.len());
                    items.push(Ref::Ellipsis);
                } else {
                    items.push(Ref::NewAxis);
                }
            }
            0 | 4 => {
                let n = shape[dim] as i64;
                items.push(Ref::Int(rng.int(-n - 2, n + 1)));
                dim += 1;
            }
            1 | 2 => {
                items.push(Ref::Slice(random_slice(rng, shape[dim])));
                dim += 1;
            }
            5 => {
                // A suffix of the broadcast shape, sometimes with a dim of size 1.
                let k = rng.below(bshape.len() + 1);
                let mut s = bshape[bshape.len() - k..].to_vec();
                if !s.is_empty() && rng.coin(0.3) {
                    s[0] = 1;
                }
                let m: usize = s.iter().product();
                let n = shape[dim] as i64;
                let v = (0..m).map(|_| rng.int(-n - 2, n + 1)).collect();
                items.push(Ref::Ints(s, v));
                has_arrays = true;
                dim += 1;
            }
            _ => {
                let k = 1 + rng.below(left.min(2));
                let ms = shape[dim..dim + k].to_vec();
                let m: usize = ms.iter().product();
                items.push(Ref::Mask(ms, (0..m).map(|_| rng.coin(0.5)).collect()));
                // Masks broadcast against other arrays only when their counts agree;
                // keep one mask per index.
                return items;
            }
        }
    }
    items
}

fn describe(items: &[Ref]) -> String {
    format!("{items:?}")
}

// ---- x.i --------------------------------------------------------------------------

#[test]
fn indexing_matches_numpy_reference_with_clamping() {
    let mut rng = Rng::new(20);
    for case in 0..300 {
        let dtype = ALL_DTYPES[case % ALL_DTYPES.len()];
        let shape = rng.shape(1, 4, 5);
        let n: usize = shape.iter().product();
        let v = rng.values(dtype, n, true);
        let x = array(dtype, &shape, &v);
        let items = random_index(&mut rng, &shape, case % 3 != 0);
        let spec: Vec<IndexItem> = items.iter().map(Ref::item).collect();
        let got = x.i(spec);
        let (want_shape, sources) = reference_index(&shape, &items);
        let want: Vec<f64> = sources
            .iter()
            .map(|s| v[ravel(&clamp_source(s, &shape), &shape)])
            .collect();
        let what = format!("{dtype} {shape:?} [{}]", describe(&items));
        assert_array(&got, dtype, &want_shape, &want, &what);
    }
}

#[test]
fn index_syntax_forms() {
    let x = lax::reshape(&jnp::arange(24), &[2, 3, 4]);
    let v = |a: Array| a.to_vec::<i32>();
    assert_eq!(v(x.i(1).i(2)), vec![20, 21, 22, 23]);
    assert_eq!(v(x.i((0, 1, -1))), vec![7]);
    assert_eq!(x.i((0, 1, -1)).shape(), &[] as &[usize]);
    assert_eq!(v(x.i((1, 1..3, 0))), vec![16, 20]);
    assert_eq!(v(x.i((0, 0, ..2))), vec![0, 1]);
    assert_eq!(v(x.i((0, 0, 2..))), vec![2, 3]);
    assert_eq!(v(x.i((0, 0, 1..=2))), vec![1, 2]);
    assert_eq!(v(x.i((0, 0, ..=-1))), vec![0, 1, 2, 3]);
    assert_eq!(v(x.i((0, 0, jnp::s(None, None, -1)))), vec![3, 2, 1, 0]);
    assert_eq!(v(x.i((Ellipsis, 3))), vec![3, 7, 11, 15, 19, 23]);
    assert_eq!(x.i((NewAxis, .., NewAxis)).shape(), &[1, 2, 1, 3, 4]);
    assert_eq!(x.i(()).shape(), &[2, 3, 4]);
    assert_eq!(v(x.i((1usize, 2i64, 3u8))), vec![23]);
    let idx = jnp::array(&[1i32, 0]);
    assert_eq!(v(x.i((&idx, 0, 0))), vec![12, 0]);
    assert_eq!(v(x.i((0, idx.clone(), ..1))), vec![4, 0]);
    let mask = jnp::array(&[false, true, true]);
    assert_eq!(v(x.i((0, &mask, 0))), vec![4, 8]);
    // A 0-d integer array is a dynamic index: wrapped once, then clamped.
    assert_eq!(v(x.i((0, 0, jnp::array(-1i32)))), vec![3]);
    assert_eq!(v(x.i((0, 0, jnp::array(100i32)))), vec![3]);
    assert_eq!(v(x.i((0, 0, jnp::array(-100i32)))), vec![0]);
    // Static out-of-range integers clamp too (JAX, not NumPy).
    assert_eq!(v(x.i((0, 0, 9))), vec![3]);
    assert_eq!(v(x.i((0, 0, -9))), vec![0]);
}

#[test]
fn basic_indexing_lowers_to_slices_not_gather() {
    let x = lax::reshape(&jnp::arange(12), &[3, 4]);
    let j = make_jaxpr(|x: Array| x.i((1, jnp::s(None, None, -2))))(x.clone()).to_string();
    for p in ["slice[", "rev[", "squeeze["] {
        assert!(j.contains(p), "{j}");
    }
    assert!(!j.contains("gather"), "{j}");
    let j = make_jaxpr(|x: Array| x.i((.., NewAxis, 1..3)))(x.clone()).to_string();
    assert!(
        j.contains("broadcast_in_dim[") && !j.contains("gather"),
        "{j}"
    );
    let j = make_jaxpr(|x: Array| x.i(jnp::array(&[0i32, 2])))(x).to_string();
    assert!(j.contains("gather["), "{j}");
}

// ---- x.at -------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Upd {
    Set,
    Add,
    Mul,
    Min,
    Max,
}

fn apply(kind: Upd, dtype: DType, a: f64, b: f64) -> f64 {
    let bool_ = dtype == DType::Bool;
    let r = match kind {
        Upd::Set => b,
        Upd::Add if bool_ => ((a != 0.0) || (b != 0.0)) as i32 as f64,
        Upd::Mul if bool_ => ((a != 0.0) && (b != 0.0)) as i32 as f64,
        Upd::Add => a + b,
        Upd::Mul => a * b,
        Upd::Min => a.min(b),
        Upd::Max => a.max(b),
    };
    match dtype {
        DType::F32 => r as f32 as f64,
        DType::F16 => half::f16::from_f64(r).to_f64(),
        DType::BF16 => half::bf16::from_f64(r).to_f64(),
        _ => r,
    }
}

fn run_update(at: &jnp::At, kind: Upd, v: &Array, mode: Option<GatherScatterMode>) -> Array {
    match (kind, mode) {
        (Upd::Set, None) => at.set(v),
        (Upd::Add, None) => at.add(v),
        (Upd::Mul, None) => at.mul(v),
        (Upd::Min, None) => at.min(v),
        (Upd::Max, None) => at.max(v),
        (Upd::Set, Some(m)) => at.set_with(v, m),
        (Upd::Add, Some(m)) => at.add_with(v, m),
        (Upd::Mul, Some(m)) => at.mul_with(v, m),
        (Upd::Min, Some(m)) => at.min_with(v, m),
        (Upd::Max, Some(m)) => at.max_with(v, m),
    }
}

#[test]
fn updates_match_reference_dropping_out_of_bounds() {
    let mut rng = Rng::new(21);
    let kinds = [Upd::Set, Upd::Add, Upd::Mul, Upd::Min, Upd::Max];
    // Small-magnitude integer dtypes would overflow in products; use wide ones.
    let dtypes = [
        DType::F32,
        DType::F64,
        DType::I32,
        DType::I64,
        DType::Bool,
        DType::F16,
        DType::U16,
    ];
    for case in 0..250 {
        let dtype = dtypes[case % dtypes.len()];
        let kind = kinds[case % kinds.len()];
        let clip = case % 4 == 3;
        let shape = rng.shape(1, 3, 5);
        let n: usize = shape.iter().product();
        let xv = rng.values(dtype, n, false);
        let x = array(dtype, &shape, &xv);
        let items = random_index(&mut rng, &shape, case % 3 != 0);
        let (ishape, sources) = reference_index(&shape, &items);
        let m: usize = ishape.iter().product();
        // Updates: the full indexed shape, a suffix of it, or a scalar.
        let vshape: Vec<usize> = match case % 3 {
            0 => ishape.clone(),
            1 => ishape[ishape.len() / 2..].to_vec(),
            _ => vec![],
        };
        let vn: usize = vshape.iter().product();
        let uv = rng.values(dtype, vn, false);
        let upd = array(dtype, &vshape, &uv);
        let spec: Vec<IndexItem> = items.iter().map(Ref::item).collect();
        let mode = clip.then_some(GatherScatterMode::Clip);
        let got = run_update(&x.at(spec), kind, &upd, mode);
        let mut want = xv.clone();
        let mut hits = vec![0; n];
        let off = ishape.len() - vshape.len();
        for (f, src) in sources.iter().enumerate().take(m) {
            if !clip && !in_bounds(src, &shape) {
                continue;
            }
            let at = ravel(&clamp_source(src, &shape), &shape);
            let o = unravel(f, &ishape);
            let value = uv[ravel(&o[off..], &vshape)];
            want[at] = apply(kind, dtype, want[at], value);
            hits[at] += 1;
        }
        let what = format!(
            "{kind:?} clip={clip} {dtype} {shape:?} [{}] upd {vshape:?}",
            describe(&items)
        );
        assert_eq!(got.shape(), &shape[..], "{what}");
        assert_eq!(got.dtype(), dtype, "{what}");
        let g = got.to_f64_vec();
        for i in 0..n {
            if kind == Upd::Set && hits[i] > 1 {
                continue; // which duplicate wins is unspecified
            }
            let tol = if dtype == DType::F16 {
                2e-3 * want[i].abs()
            } else {
                0.0
            };
            assert!(
                same_bits(g[i], want[i]) || (g[i] - want[i]).abs() <= tol,
                "{what}: element {i} is {}, expected {}\n got {g:?}\nwant {want:?}",
                g[i],
                want[i]
            );
        }
    }
}

#[test]
fn update_semantics_like_jax() {
    let x = jnp::arange_with(0.0, 6.0, 1.0, Some(DType::F32));
    let v = |a: Array| a.to_vec::<f32>();
    assert_eq!(v(x.at(2).set(9.0)), vec![0.0, 1.0, 9.0, 3.0, 4.0, 5.0]);
    assert_eq!(v(x.at(-1).set(9.0)), vec![0.0, 1.0, 2.0, 3.0, 4.0, 9.0]);
    assert_eq!(
        v(x.at(10).add(1.0)),
        v(x.clone()),
        "static out-of-range update dropped"
    );
    let idx = jnp::array(&[0i32, 7, -1, -7, 100]);
    assert_eq!(
        v(x.at(&idx).set(-1.0)),
        vec![-1.0, 1.0, 2.0, 3.0, 4.0, -1.0]
    );
    let dup = jnp::array(&[1i32, 1, 3, 1]);
    assert_eq!(v(x.at(&dup).add(1.0)), vec![0.0, 4.0, 2.0, 4.0, 4.0, 5.0]);
    let clip = jnp::array(&[0i32, 7, -100]);
    let vals = jnp::array(&[1.0f32, 2.0, 3.0]);
    let got = x.at(&clip).set_with(&vals, GatherScatterMode::Clip);
    assert_eq!(v(got), vec![3.0, 1.0, 2.0, 3.0, 4.0, 2.0]);
    assert_eq!(v(x.at(0..2).add(1.0)), vec![1.0, 2.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(
        v(x.at(jnp::s(None, None, -2)).mul(10.0)),
        vec![0.0, 10.0, 2.0, 30.0, 4.0, 50.0]
    );
    // The value converts to the array's dtype; integer adds wrap.
    let i = jnp::array(&[1i32, 2, 3]);
    assert_eq!(i.at(0).set(7.9).to_vec::<i32>(), vec![7, 2, 3]);
    let b = Array::from_vec(&[2], vec![100i8, 0]);
    assert_eq!(b.at(0).add(100).to_vec::<i8>(), vec![-56, 0]);
    // get: clamps by default; fill mode fills.
    let g = jnp::array(&[0i32, 6, -7, 100]);
    assert_eq!(v(x.at(&g).get()), vec![0.0, 5.0, 0.0, 5.0]);
    let filled = x.at(&g).get_with(GatherScatterMode::FillOrDrop, Some(-1.0));
    assert_eq!(v(filled), vec![0.0, -1.0, -1.0, -1.0]);
    let nan = x
        .at(jnp::array(&[0i32, 6, -1]))
        .get_with(GatherScatterMode::FillOrDrop, None);
    let nan = v(nan);
    assert!(nan[0] == 0.0 && nan[1].is_nan() && nan[2] == 5.0);
    // A 0-d array.
    let s = jnp::array(2.0f32);
    assert_eq!(s.at(()).add(3.0).item::<f32>(), 5.0);
    assert_eq!(s.at(Ellipsis).set(1.0).item::<f32>(), 1.0);
    // A mask.
    let mask = jnp::array(&[true, false, true, false, false, true]);
    assert_eq!(v(x.at(&mask).set(0.0)), vec![0.0, 1.0, 0.0, 3.0, 4.0, 0.0]);
}

// ---- take / take_along_axis -------------------------------------------------------

fn fill_for(dtype: DType) -> f64 {
    match dtype {
        DType::Bool => 1.0,
        d if d.is_float() => f64::NAN,
        d if d.is_signed_int() => int_range(d).0,
        d => int_range(d).1,
    }
}

/// The position `take` reads for index `i` on an axis of size `n`, or None (fill).
/// `take_along_axis` wraps negative indices once even when clipping.
fn take_pos(i: i64, n: usize, mode: TakeMode, along: bool) -> Option<usize> {
    let n = n as i64;
    match mode {
        TakeMode::Clip if along && i < 0 => Some((i + n).clamp(0, n - 1) as usize),
        TakeMode::Fill => {
            let i = if i < 0 { i + n } else { i };
            (0..n).contains(&i).then_some(i as usize)
        }
        TakeMode::Clip => Some(i.clamp(0, n - 1) as usize),
        TakeMode::Wrap => Some(i.rem_euclid(n) as usize),
    }
}

#[test]
fn take_matches_reference_for_every_mode_and_dtype() {
    let mut rng = Rng::new(22);
    let modes = [TakeMode::Fill, TakeMode::Clip, TakeMode::Wrap];
    for case in 0..80 {
        let dtype = ALL_DTYPES[case % ALL_DTYPES.len()];
        let mode = modes[case % 3];
        let shape = rng.shape(1, 3, 4);
        let n: usize = shape.iter().product();
        let v = rng.values(dtype, n, true);
        let x = array(dtype, &shape, &v);
        let ishape = rng.shape(0, 2, 3);
        let m: usize = ishape.iter().product();
        let axis = if case % 5 == 0 {
            None
        } else {
            Some(rng.int(-(shape.len() as i64), shape.len() as i64 - 1))
        };
        let (src_shape, ax) = match axis {
            None => (vec![n], 0),
            Some(a) => (
                shape.clone(),
                (a + shape.len() as i64) as usize % shape.len(),
            ),
        };
        let size = src_shape[ax];
        let iv: Vec<i64> = (0..m)
            .map(|_| rng.int(-(size as i64) - 2, size as i64 + 2))
            .collect();
        let idx = Array::from_vec(&ishape, iv.iter().map(|&i| i as i32).collect());
        let fill = (case % 2 == 0).then_some(3.0);
        let got = match (mode, fill) {
            (TakeMode::Fill, None) => jnp::take(&x, &idx, axis),
            _ => jnp::take_with(&x, &idx, axis, mode, fill),
        };
        let mut out_shape = src_shape[..ax].to_vec();
        out_shape.extend_from_slice(&ishape);
        out_shape.extend_from_slice(&src_shape[ax + 1..]);
        let count: usize = out_shape.iter().product();
        let want: Vec<f64> = (0..count)
            .map(|f| {
                let o = unravel(f, &out_shape);
                let i = iv[ravel(&o[ax..ax + ishape.len()], &ishape)];
                match take_pos(i, size, mode, false) {
                    None => {
                        fill.map_or(
                            fill_for(dtype),
                            |f| if dtype == DType::Bool { 1.0 } else { f },
                        )
                    }
                    Some(p) => {
                        let mut s = o[..ax].to_vec();
                        s.push(p);
                        s.extend_from_slice(&o[ax + ishape.len()..]);
                        v[ravel(&s, &src_shape)]
                    }
                }
            })
            .collect();
        let what = format!("take {dtype} {shape:?} {iv:?} axis {axis:?} {mode:?}");
        assert_array(&got, dtype, &out_shape, &want, &what);
    }
}

#[test]
fn take_along_axis_matches_reference() {
    let mut rng = Rng::new(23);
    for case in 0..60 {
        let dtype = ALL_DTYPES[case % ALL_DTYPES.len()];
        let shape = rng.shape(1, 3, 4);
        let r = shape.len();
        let n: usize = shape.iter().product();
        let v = rng.values(dtype, n, true);
        let x = array(dtype, &shape, &v);
        let ax = rng.below(r);
        // Index shape: any size on the axis; elsewhere equal, or 1 on either side.
        let mut ishape = shape.clone();
        ishape[ax] = 1 + rng.below(5);
        let mut xshape = shape.clone();
        for d in (0..r).filter(|&d| d != ax) {
            if rng.coin(0.2) {
                ishape[d] = 1;
            }
        }
        let x = if rng.coin(0.3) && r > 1 {
            // Make the array's non-axis dim 1 and let it broadcast.
            let d = (ax + 1) % r;
            xshape[d] = 1;
            let full: Vec<IndexItem> = (0..r)
                .map(|q| {
                    if q == d {
                        IndexItem::Slice(jnp::s(Some(0), Some(1), 1))
                    } else {
                        IndexItem::Slice(jnp::s(None, None, 1))
                    }
                })
                .collect();
            x.i(full)
        } else {
            x
        };
        let m: usize = ishape.iter().product();
        let size = shape[ax] as i64;
        let iv: Vec<i64> = (0..m).map(|_| rng.int(-size - 2, size + 1)).collect();
        let idx = Array::from_vec(&ishape, iv.iter().map(|&i| i as i32).collect());
        let clip = case % 2 == 1;
        let got = if clip {
            jnp::take_along_axis_with(&x, &idx, Some(ax as i64 - r as i64), TakeMode::Clip, None)
        } else {
            jnp::take_along_axis(&x, &idx, ax as i64)
        };
        let out_shape: Vec<usize> = (0..r)
            .map(|d| {
                if d == ax {
                    ishape[d]
                } else {
                    ishape[d].max(xshape[d])
                }
            })
            .collect();
        let count: usize = out_shape.iter().product();
        let want: Vec<f64> = (0..count)
            .map(|f| {
                let o = unravel(f, &out_shape);
                let io: Vec<usize> = (0..r)
                    .map(|d| if ishape[d] == 1 { 0 } else { o[d] })
                    .collect();
                let i = iv[ravel(&io, &ishape)];
                let mode = if clip { TakeMode::Clip } else { TakeMode::Fill };
                match take_pos(i, shape[ax], mode, true) {
                    None => fill_for(dtype),
                    Some(p) => {
                        let mut s: Vec<usize> = (0..r)
                            .map(|d| if xshape[d] == 1 { 0 } else { o[d] })
                            .collect();
                        s[ax] = p;
                        v[ravel(&s, &shape)]
                    }
                }
            })
            .collect();
        let what = format!(
            "take_along_axis {dtype} {xshape:?} idx {ishape:?} {iv:?} axis {ax} clip {clip}"
        );
        assert_array(&got, dtype, &out_shape, &want, &what);
    }
}

#[test]
fn take_along_axis_with_argsort_sorts() {
    let m = jnp::array(&[[3.0f32, 1.0, 2.0], [6.0, 4.0, 5.0]]);
    let i = jnp::argsort(&m, Some(1));
    assert_eq!(
        jnp::take_along_axis(&m, &i, 1).to_vec::<f32>(),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    let flat = jnp::take_along_axis_with(&m, jnp::array(&[5i32, 0]), None, TakeMode::Fill, None);
    assert_eq!(flat.to_vec::<f32>(), vec![5.0, 3.0]);
}

// ---- errors -----------------------------------------------------------------------

#[test]
#[rustfmt::skip]
fn indexing_errors_name_the_operation_and_the_callers_line() {
    let f = file!();
    let x = lax::reshape(&jnp::arange(6), &[2, 3]);
    expect_error(|| x.i((0, 0, 0)), f, line!(), &["index", "too many indices", "2-dimensional, but 3"]);
    expect_error(|| x.i((Ellipsis, 0, Ellipsis)), f, line!(), &["index", "single ellipsis"]);
    expect_error(|| x.i(jnp::s(None, None, 0)), f, line!(), &["index", "step cannot be zero"]);
    expect_error(|| x.i(jnp::array(&[0.5f32])), f, line!(), &["index", "integers or booleans"]);
    expect_error(|| x.i(jnp::array(&[true, false, true])), f, line!(), &["index", "boolean mask of shape [3]"]);
    expect_error(|| x.i((jnp::array(&[0i32, 1]), jnp::array(&[0i32, 1, 2]))), f, line!(), &["index", "do not broadcast"]);
    expect_error(|| x.at(0).set(jnp::zeros(&[2], DType::I32)), f, line!(), &["at().set", "cannot broadcast the update of shape [2]"]);
    expect_error(|| x.at((0, 0, 0)).add(1), f, line!(), &["at().add", "too many indices"]);
    let y = jnp::array(&[1.0f32, 2.0]);
    expect_error(|| make_jaxpr(|m: Array| y.i(lax::gt(&m, &jnp::array(0.0f32))))(y.clone()), f, line!(), &["index", "boolean mask index must be concrete"]);
    expect_error(|| jnp::take(&x, jnp::array(&[0.0f32]), Some(0)), f, line!(), &["take", "indices must be integers"]);
    expect_error(|| jnp::take(&x, jnp::array(&[0i32]), Some(2)), f, line!(), &["take", "axis 2 is out of bounds"]);
    expect_error(|| jnp::take_along_axis(&x, jnp::array(&[0i32]), 1), f, line!(), &["take_along_axis", "same number of dimensions"]);
    expect_error(|| jnp::take_along_axis(&x, jnp::zeros(&[3, 1], DType::I32), 1), f, line!(), &["take_along_axis", "do not broadcast"]);
}

#[test]
fn empty_indices_and_empty_arrays() {
    let x = lax::reshape(&jnp::arange(6), &[2, 3]);
    let none = Array::from_vec(&[0], Vec::<i32>::new());
    assert_eq!(x.i(&none).shape(), &[0, 3]);
    assert_eq!(x.i((.., &none)).shape(), &[2, 0]);
    let all_false = jnp::array(&[false, false, false]);
    assert_eq!(x.i((.., &all_false)).shape(), &[2, 0]);
    assert_eq!(x.at(&none).add(1).to_vec::<i32>(), x.to_vec::<i32>());
    assert_eq!(x.i(jnp::s(Some(2), Some(1), 1)).shape(), &[0, 3]);
    assert_eq!(x.i((.., jnp::s(Some(3), None, -1))).shape(), &[2, 3]);
    let e = jnp::zeros(&[0, 4], DType::F32);
    assert_eq!(e.i((.., 1..3)).shape(), &[0, 2]);
    assert_eq!(e.i((.., jnp::s(None, None, -1))).shape(), &[0, 4]);
    assert_eq!(e.at((.., 0)).set(1.0).shape(), &[0, 4]);
}
