//! sort / top_k primitives and jnp::sort / argsort / lexsort against references
//! computed here, on random shapes and values of every dtype.

mod index_common;

use index_common::*;
use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{lax, Array};
use std::cmp::Ordering;

/// JAX's sort order: -0.0 == 0.0, every NaN equal and after everything else.
fn key_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).expect("not NaN"),
    }
}

/// Flat indices of every run along `dim`.
fn rows(shape: &[usize], dim: usize) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    let st = strides(shape);
    (0..n)
        .filter(|&f| unravel(f, shape)[dim] == 0)
        .map(|base| (0..shape[dim]).map(|j| base + j * st[dim]).collect())
        .collect()
}

/// For each flat position, the flat source position after a stable sort of each
/// run along `dim` by `cmp`.
fn sort_perm(
    shape: &[usize],
    dim: usize,
    mut cmp: impl FnMut(usize, usize) -> Ordering,
) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut perm = vec![0; n];
    for row in rows(shape, dim) {
        let mut sorted = row.clone();
        sorted.sort_by(|&a, &b| cmp(a, b));
        for (dst, src) in row.iter().zip(sorted) {
            perm[*dst] = src;
        }
    }
    perm
}

fn permute(values: &[f64], perm: &[usize]) -> Vec<f64> {
    perm.iter().map(|&p| values[p]).collect()
}

#[test]
fn sort_matches_reference_for_every_dtype() {
    let mut rng = Rng::new(1);
    for dtype in ALL_DTYPES {
        for _ in 0..4 {
            let shape = rng.shape(1, 3, 6);
            let dim = rng.below(shape.len());
            let n: usize = shape.iter().product();
            let v = rng.values(dtype, n, true);
            let x = array(dtype, &shape, &v);
            let out = lax::sort(std::slice::from_ref(&x), dim, true, 1);
            let perm = sort_perm(&shape, dim, |a, b| key_cmp(v[a], v[b]));
            // Stability fixes the order of tied -0.0 / 0.0 and of NaNs, so compare bits.
            assert_array(
                &out[0],
                dtype,
                &shape,
                &permute(&v, &perm),
                &format!("sort {dtype} {shape:?} dim {dim}"),
            );
        }
    }
}

#[test]
fn sort_by_several_keys_carries_the_other_operands() {
    let mut rng = Rng::new(2);
    for case in 0..12 {
        let (d1, d2) = (ALL_DTYPES[case % 13], ALL_DTYPES[(case * 5 + 3) % 13]);
        let shape = rng.shape(1, 2, 7);
        let dim = rng.below(shape.len());
        let n: usize = shape.iter().product();
        let (v1, v2) = (rng.values(d1, n, true), rng.values(d2, n, true));
        let payload: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let ops = [
            array(d1, &shape, &v1),
            array(d2, &shape, &v2),
            array(DType::I32, &shape, &payload),
        ];
        for num_keys in [1, 2] {
            let out = lax::sort(&ops, dim, true, num_keys);
            let perm = sort_perm(&shape, dim, |a, b| {
                let first = key_cmp(v1[a], v1[b]);
                if num_keys == 1 {
                    first
                } else {
                    first.then(key_cmp(v2[a], v2[b]))
                }
            });
            let what = format!("sort keys {d1},{d2} num_keys {num_keys} {shape:?} dim {dim}");
            assert_array(&out[0], d1, &shape, &permute(&v1, &perm), &what);
            assert_array(&out[1], d2, &shape, &permute(&v2, &perm), &what);
            assert_array(
                &out[2],
                DType::I32,
                &shape,
                &permute(&payload, &perm),
                &what,
            );
        }
    }
}

#[test]
fn sort_orders_nan_last_and_treats_signed_zeros_as_equal() {
    let v = [
        f64::NAN,
        1.0,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        f64::INFINITY,
        -1.0,
        -f64::NAN,
        0.0,
        -0.0,
    ];
    for dtype in [DType::F16, DType::BF16, DType::F32, DType::F64] {
        let x = array(dtype, &[10], &v);
        let i = jnp::argsort(&x, Some(0));
        // Stable: equal zeros keep their order, both NaNs (even a negative one) go last.
        assert_eq!(
            i.to_vec::<i32>(),
            vec![2, 6, 3, 4, 8, 9, 1, 5, 0, 7],
            "{dtype}"
        );
        let s = jnp::sort(&x, Some(0)).to_f64_vec();
        let want = [
            f64::NEG_INFINITY,
            -1.0,
            0.0,
            -0.0,
            0.0,
            -0.0,
            1.0,
            f64::INFINITY,
        ];
        assert!(
            s[..8].iter().zip(&want).all(|(a, b)| same_bits(*a, *b)),
            "{s:?}"
        );
        assert!(s[8].is_nan() && s[9].is_nan());
        let d = jnp::argsort_with(&x, Some(0), true, true);
        assert_eq!(
            d.to_vec::<i32>(),
            vec![0, 7, 5, 1, 3, 4, 8, 9, 6, 2],
            "{dtype}"
        );
    }
}

#[test]
fn argsort_is_stable_ascending_and_descending() {
    let mut rng = Rng::new(3);
    for dtype in ALL_DTYPES {
        let shape = rng.shape(1, 3, 6);
        let axis = rng.int(-(shape.len() as i64), shape.len() as i64 - 1);
        let dim = (axis + shape.len() as i64) as usize % shape.len();
        let n: usize = shape.iter().product();
        let v = rng.values(dtype, n, true);
        let x = array(dtype, &shape, &v);
        let pos = |f: usize| unravel(f, &shape)[dim] as f64;
        let up = sort_perm(&shape, dim, |a, b| key_cmp(v[a], v[b]));
        let want: Vec<f64> = up.iter().map(|&p| pos(p)).collect();
        let got = jnp::argsort(&x, Some(axis));
        assert_array(&got, DType::I32, &shape, &want, &format!("argsort {dtype}"));
        let down = sort_perm(&shape, dim, |a, b| key_cmp(v[b], v[a]));
        let want: Vec<f64> = down.iter().map(|&p| pos(p)).collect();
        let got = jnp::argsort_with(&x, Some(axis), true, true);
        assert_array(
            &got,
            DType::I32,
            &shape,
            &want,
            &format!("argsort desc {dtype}"),
        );
        // Sorted values agree with the permutation (descending = reversed ascending).
        let s = jnp::sort_with(&x, Some(axis), true, true);
        let rev = sort_perm(&shape, dim, |a, b| key_cmp(v[a], v[b]));
        let want: Vec<f64> = (0..n)
            .map(|f| {
                let mut i = unravel(f, &shape);
                i[dim] = shape[dim] - 1 - i[dim];
                v[rev[ravel(&i, &shape)]]
            })
            .collect();
        assert_array(&s, dtype, &shape, &want, &format!("sort desc {dtype}"));
    }
}

#[test]
fn jnp_sort_flattens_with_axis_none() {
    let mut rng = Rng::new(4);
    let shape = [3, 4];
    let v = rng.values(DType::F32, 12, true);
    let x = array(DType::F32, &shape, &v);
    let perm = sort_perm(&[12], 0, |a, b| key_cmp(v[a], v[b]));
    assert_array(
        &jnp::sort(&x, None),
        DType::F32,
        &[12],
        &permute(&v, &perm),
        "sort None",
    );
    let want: Vec<f64> = perm.iter().map(|&p| p as f64).collect();
    assert_array(
        &jnp::argsort(&x, None),
        DType::I32,
        &[12],
        &want,
        "argsort None",
    );
}

#[test]
fn top_k_matches_reference() {
    let mut rng = Rng::new(5);
    for dtype in ALL_DTYPES.into_iter().filter(|d| *d != DType::Bool) {
        for _ in 0..3 {
            let shape = rng.shape(1, 3, 6);
            let last = *shape.last().unwrap();
            let k = rng.below(last + 1);
            let n: usize = shape.iter().product();
            let v = rng.values(dtype, n, true);
            let x = array(dtype, &shape, &v);
            let (vals, idx) = lax::top_k(&x, k);
            // Descending, NaN largest, ties (including -0.0 vs 0.0) by lower index.
            let r = shape.len() - 1;
            let mut out_shape = shape.clone();
            out_shape[r] = k;
            let (mut want_v, mut want_i) = (Vec::new(), Vec::new());
            for row in rows(&shape, r) {
                let mut sorted = row.clone();
                sorted.sort_by(|&a, &b| key_cmp(v[b], v[a]));
                for &p in &sorted[..k] {
                    want_v.push(v[p]);
                    want_i.push((p - row[0]) as f64);
                }
            }
            let what = format!("top_k {dtype} {shape:?} k {k}");
            // -0.0 and 0.0 tie, so compare the values through the indices' order only.
            let got_v = vals.to_f64_vec();
            assert_eq!(vals.shape(), &out_shape[..], "{what}");
            assert_eq!(vals.dtype(), dtype, "{what}");
            for (g, w) in got_v.iter().zip(&want_v) {
                assert!(
                    key_cmp(*g, *w) == Ordering::Equal,
                    "{what}: {got_v:?} vs {want_v:?}"
                );
            }
            assert_array(&idx, DType::I32, &out_shape, &want_i, &what);
        }
    }
}

#[test]
fn lexsort_and_sort_key_val() {
    let mut rng = Rng::new(6);
    for _ in 0..5 {
        let shape = rng.shape(1, 2, 6);
        let dim = shape.len() - 1;
        let n: usize = shape.iter().product();
        let keys: Vec<Vec<f64>> = (0..3).map(|_| rng.values(DType::I32, n, false)).collect();
        let arrays: Vec<Array> = keys.iter().map(|k| array(DType::I32, &shape, k)).collect();
        let got = jnp::lexsort(&arrays, -1);
        // The last key is the primary one.
        let perm = sort_perm(&shape, dim, |a, b| {
            keys.iter()
                .rev()
                .fold(Ordering::Equal, |o, k| o.then(key_cmp(k[a], k[b])))
        });
        let want: Vec<f64> = perm
            .iter()
            .map(|&p| unravel(p, &shape)[dim] as f64)
            .collect();
        assert_array(&got, DType::I32, &shape, &want, "lexsort");
        let (k, v) = lax::sort_key_val(&arrays[0], &arrays[1], dim, true);
        let perm = sort_perm(&shape, dim, |a, b| key_cmp(keys[0][a], keys[0][b]));
        assert_array(
            &k,
            DType::I32,
            &shape,
            &permute(&keys[0], &perm),
            "sort_key_val keys",
        );
        assert_array(
            &v,
            DType::I32,
            &shape,
            &permute(&keys[1], &perm),
            "sort_key_val values",
        );
    }
}

#[test]
fn sort_primitives_print_jax_params() {
    let x = jnp::array(&[3.0f32, 1.0]);
    let j = make_jaxpr(|x: Array| lax::sort(&[x], 0, true, 1).remove(0))(x.clone());
    assert!(
        j.to_string()
            .contains("sort[dimension=0 is_stable=True num_keys=1]"),
        "{j}"
    );
    let j = make_jaxpr(|x: Array| lax::top_k(&x, 1).0)(x);
    assert!(j.to_string().contains("top_k[k=1]"), "{j}");
}

#[test]
#[rustfmt::skip]
fn sort_errors_name_the_operation_and_the_callers_line() {
    let x = jnp::array(&[3.0f32, 1.0]);
    let y = jnp::array(&[3.0f32, 1.0, 2.0]);
    let f = file!();
    expect_error(|| lax::sort(std::slice::from_ref(&x), 0, true, 2), f, line!(), &["sort", "num_keys"]);
    expect_error(|| lax::sort(&[x.clone(), y.clone()], 0, true, 1), f, line!(), &["sort", "shapes"]);
    expect_error(|| lax::sort(std::slice::from_ref(&x), 1, true, 1), f, line!(), &["sort", "dimension 1"]);
    expect_error(|| lax::top_k(&x, 3), f, line!(), &["top_k", "k = 3"]);
    let b = jnp::array(&[true, false]);
    expect_error(|| lax::top_k(&b, 1), f, line!(), &["top_k", "bool"]);
    let s = jnp::array(1.0f32);
    expect_error(|| lax::top_k(&s, 1), f, line!(), &["top_k", "rank"]);
    expect_error(|| jnp::sort(&x, Some(1)), f, line!(), &["sort", "axis 1"]);
    expect_error(|| jnp::argsort(&x, Some(-2)), f, line!(), &["argsort", "axis -2"]);
    expect_error(|| jnp::partition(&x, 2, -1), f, line!(), &["partition", "kth 2 is out of bounds"]);
    expect_error(|| jnp::argpartition(&x, 0, 1), f, line!(), &["argpartition", "axis 1"]);
    expect_error(|| jnp::lexsort(&[x.clone(), y.clone()], -1), f, line!(), &["lexsort", "shape"]);
}

#[test]
fn partition_puts_the_kth_element_in_place() {
    let mut rng = Rng::new(7);
    for dtype in [DType::F32, DType::I32, DType::U8] {
        let shape = rng.shape(1, 2, 6);
        let r = shape.len();
        let n: usize = shape.iter().product();
        let v = rng.values(dtype, n, false);
        let x = array(dtype, &shape, &v);
        let kth = rng.below(shape[r - 1]) as i64;
        let p = jnp::partition(&x, kth, -1).to_f64_vec();
        let ip = jnp::argpartition(&x, kth, -1).to_vec::<i32>();
        for row in rows(&shape, r - 1) {
            let mut vals: Vec<f64> = row.iter().map(|&f| v[f]).collect();
            vals.sort_by(|a, b| key_cmp(*a, *b));
            let k = p[row[kth as usize]];
            assert_eq!(k, vals[kth as usize], "{dtype} kth value");
            assert!(row[..kth as usize].iter().all(|&f| p[f] <= k));
            assert!(row[kth as usize..].iter().all(|&f| p[f] >= k));
            let via_idx = v[row[0] + ip[row[kth as usize]] as usize * strides(&shape)[r - 1]];
            assert_eq!(via_idx, k, "{dtype} argpartition");
        }
    }
}
