//! jnp products — dot, matmul, vdot, inner, outer, tensordot, einsum — on several
//! dtypes and random shapes, against a naive einsum evaluator written here (loops over
//! every label assignment, with NumPy broadcasting of size-1 dims); promotion, errors
//! with the caller's line, and JAX's golden einsum cases.

mod support;

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use support::*;

/// Naive einsum of an explicit spec "ab,bc->ac" over f64 values. Size-1 dims
/// broadcast against the label's size. Returns (shape, values, sum of |terms|).
fn einsum_ref(
    spec: &str,
    ops: &[(Vec<usize>, Vec<f64>)],
    boolean: bool,
) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let (ins, out) = spec.split_once("->").expect("explicit spec");
    let ins: Vec<Vec<char>> = ins.split(',').map(|t| t.chars().collect()).collect();
    let out: Vec<char> = out.chars().collect();
    let mut size: BTreeMap<char, usize> = BTreeMap::new();
    for (t, (shape, _)) in ins.iter().zip(ops) {
        assert_eq!(
            t.len(),
            shape.len(),
            "reference spec {spec} vs shape {shape:?}"
        );
        for (&c, &n) in t.iter().zip(shape) {
            let e = size.entry(c).or_insert(n);
            *e = (*e).max(n);
        }
    }
    let labels: Vec<char> = size.keys().copied().collect();
    let sizes: Vec<usize> = labels.iter().map(|c| size[c]).collect();
    let out_shape: Vec<usize> = out.iter().map(|c| size[c]).collect();
    let n_out: usize = out_shape.iter().product();
    let (mut vals, mut mags) = (vec![0.0; n_out], vec![0.0; n_out]);
    let total: usize = sizes.iter().product();
    for a in 0..total {
        let mut rem = a;
        let mut idx = BTreeMap::new();
        for (k, &c) in labels.iter().enumerate().rev() {
            idx.insert(c, rem % sizes[k]);
            rem /= sizes[k];
        }
        let mut prod = 1.0;
        for (t, (shape, v)) in ins.iter().zip(ops) {
            let flat = t
                .iter()
                .zip(shape)
                .fold(0, |acc, (c, &n)| acc * n + if n == 1 { 0 } else { idx[c] });
            prod *= v[flat];
        }
        let o = out.iter().fold(0, |acc, c| acc * size[c] + idx[c]);
        vals[o] += prod;
        mags[o] += prod.abs();
    }
    if boolean {
        vals = vals.iter().map(|&v| (v != 0.0) as u8 as f64).collect();
    }
    (out_shape, vals, mags)
}

fn check(what: &str, got: &Array, want: &(Vec<usize>, Vec<f64>, Vec<f64>), dtype: DType) {
    assert_eq!(got.shape(), &want.0[..], "{what}: shape");
    let g = got.to_f64_vec();
    let tol = if dtype.is_float() {
        float_tol(dtype) * 4.0
    } else {
        0.0
    };
    assert_eq!(g.len(), want.1.len(), "{what}: length");
    for (i, (&got, (&w, &mag))) in g.iter().zip(want.1.iter().zip(&want.2)).enumerate() {
        assert!(
            (got - w).abs() <= tol * (mag + w.abs()),
            "{what}: element {i}: got {got}, want {w}"
        );
    }
}

fn range(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::I8 => (-1.0, 1.0),
        d if d.is_int() => (-5.0, 5.0),
        _ => (-2.0, 2.0),
    }
}

const DTYPES: [DType; 7] = [
    DType::F32,
    DType::F64,
    DType::BF16,
    DType::F16,
    DType::I32,
    DType::I8,
    DType::Bool,
];

/// (our subscripts, the explicit spec for the reference, shape of each operand from
/// label sizes).
const EINSUM_CASES: &[(&str, &str)] = &[
    ("ij,jk->ik", "ij,jk->ik"),
    ("ij,kj->ik", "ij,kj->ik"),
    ("ij,jk", "ij,jk->ik"),
    ("ba,ac", "ba,ac->bc"),
    ("ji", "ji->ij"),
    ("ij->ji", "ij->ji"),
    ("ii->i", "ii->i"),
    ("ii", "ii->"),
    ("iij->ij", "iij->ij"),
    ("iji->j", "iji->j"),
    ("ij->", "ij->"),
    ("ij->j", "ij->j"),
    ("i,i", "i,i->"),
    ("i,i->i", "i,i->i"),
    ("i,j->ij", "i,j->ij"),
    ("i,j", "i,j->ij"),
    ("bij,bjk->bik", "bij,bjk->bik"),
    ("bij,bjk->kib", "bij,bjk->kib"),
    ("ij,ij,ij->", "ij,ij,ij->"),
    ("ij,jk,kl->il", "ij,jk,kl->il"),
    ("ij,jk,kl", "ij,jk,kl->il"),
    ("abc,cd,dbe->ae", "abc,cd,dbe->ae"),
    ("ij,jk,ik->", "ij,jk,ik->"),
    ("ii,ij->j", "ii,ij->j"),
    ("Ab,bA->A", "Ab,bA->A"),
    ("aB,Bc", "aB,Bc->ac"),
    ("ij, jk -> ik", "ij,jk->ik"),
    ("i->i", "i->i"),
    ("ijk->", "ijk->"),
    ("i,jk->", "i,jk->"),
];

#[test]
fn einsum_random_against_naive_loops() {
    let mut rng = Rng::new(51);
    for dtype in DTYPES {
        for &(sub, reference) in EINSUM_CASES {
            let mut size: BTreeMap<char, usize> = BTreeMap::new();
            let (ins, _) = reference.split_once("->").unwrap();
            for c in ins.chars().filter(|c| c.is_ascii_alphabetic()) {
                size.entry(c).or_insert_with(|| rng.int(1, 4) as usize);
            }
            let (lo, hi) = range(dtype);
            let arrays: Vec<Array> = ins
                .split(',')
                .map(|t| {
                    let shape: Vec<usize> = t.chars().map(|c| size[&c]).collect();
                    random_array(&mut rng, dtype, &shape, lo, hi)
                })
                .collect();
            let refs: Vec<&Array> = arrays.iter().collect();
            let out = jnp::einsum(sub, &refs);
            let ops: Vec<(Vec<usize>, Vec<f64>)> = arrays
                .iter()
                .map(|a| (a.shape().to_vec(), a.to_f64_vec()))
                .collect();
            let want = einsum_ref(reference, &ops, dtype.is_bool());
            assert_eq!(out.dtype(), dtype, "{sub}");
            check(
                &format!("einsum {sub:?} {dtype} {size:?}"),
                &out,
                &want,
                dtype,
            );
        }
    }
}

#[test]
fn einsum_ellipsis_and_broadcasting() {
    let mut rng = Rng::new(52);
    let cases: &[(&str, &str, &[&[usize]])] = &[
        (
            "...ij,...jk->...ik",
            "xyij,xyjk->xyik",
            &[&[2, 3, 2, 4], &[2, 3, 4, 2]],
        ),
        (
            "...ij,...jk",
            "xyij,yjk->xyik",
            &[&[2, 3, 2, 4], &[3, 4, 2]],
        ),
        (
            "...ij,...jk",
            "xyij,xyjk->xyik",
            &[&[2, 1, 2, 4], &[1, 3, 4, 2]],
        ),
        ("i...->...", "ixy->xy", &[&[3, 2, 4]]),
        ("...i->i", "xyi->i", &[&[3, 2, 4]]),
        ("i...i->...", "ixi->x", &[&[3, 2, 3]]),
        ("...,...->...", "xy,xy->xy", &[&[2, 3], &[2, 3]]),
        (
            "ij...,jk...->ik...",
            "ijx,jkx->ikx",
            &[&[2, 3, 4], &[3, 2, 4]],
        ),
        ("ij,ij->ij", "ij,ij->ij", &[&[2, 1], &[2, 3]]),
    ];
    for &(sub, reference, shapes) in cases {
        let arrays: Vec<Array> = shapes
            .iter()
            .map(|s| random_array(&mut rng, DType::F32, s, -2.0, 2.0))
            .collect();
        let refs: Vec<&Array> = arrays.iter().collect();
        let out = jnp::einsum(sub, &refs);
        let ops: Vec<(Vec<usize>, Vec<f64>)> = arrays
            .iter()
            .map(|a| (a.shape().to_vec(), a.to_f64_vec()))
            .collect();
        check(
            &format!("einsum {sub:?}"),
            &out,
            &einsum_ref(reference, &ops, false),
            DType::F32,
        );
    }
}

/// Runs `f` on random operands of `shapes` and compares with the einsum reference.
fn check_product(
    rng: &mut Rng,
    name: &str,
    dtype: DType,
    shapes: [&[usize]; 2],
    reference: &str,
    f: impl Fn(&Array, &Array) -> Array,
) {
    let (lo, hi) = range(dtype);
    let a = random_array(rng, dtype, shapes[0], lo, hi);
    let b = random_array(rng, dtype, shapes[1], lo, hi);
    let out = f(&a, &b);
    let want = einsum_ref(
        reference,
        &[
            (a.shape().to_vec(), a.to_f64_vec()),
            (b.shape().to_vec(), b.to_f64_vec()),
        ],
        dtype.is_bool(),
    );
    assert_eq!(out.dtype(), dtype, "{name}");
    check(&format!("{name} {shapes:?} {dtype}"), &out, &want, dtype);
}

#[test]
fn dot_follows_numpy_rules() {
    let mut rng = Rng::new(53);
    let cases: &[([&[usize]; 2], &str)] = &[
        ([&[], &[]], ",->"),
        ([&[], &[3, 2]], ",ij->ij"),
        ([&[3, 2], &[]], "ij,->ij"),
        ([&[4], &[4]], "i,i->"),
        ([&[2, 4], &[4]], "ij,j->i"),
        ([&[4], &[4, 3]], "i,ij->j"),
        ([&[2, 4], &[4, 3]], "ij,jk->ik"),
        ([&[2, 3, 4], &[4]], "abj,j->ab"),
        ([&[2, 3, 4], &[5, 4, 2]], "abj,cjd->abcd"),
        ([&[4], &[2, 4, 3]], "j,ajb->ab"),
    ];
    for dtype in DTYPES {
        for &(shapes, reference) in cases {
            check_product(&mut rng, "dot", dtype, shapes, reference, |a, b| {
                jnp::dot(a, b)
            });
            check_product(&mut rng, "Array::dot", dtype, shapes, reference, |a, b| {
                a.dot(b)
            });
        }
    }
}

#[test]
fn matmul_broadcasts_batch_dims() {
    let mut rng = Rng::new(54);
    let cases: &[([&[usize]; 2], &str)] = &[
        ([&[4], &[4]], "i,i->"),
        ([&[2, 4], &[4]], "ij,j->i"),
        ([&[4], &[4, 3]], "i,ij->j"),
        ([&[2, 4], &[4, 3]], "ij,jk->ik"),
        ([&[5, 2, 4], &[5, 4, 3]], "bij,bjk->bik"),
        ([&[5, 2, 4], &[4, 3]], "bij,jk->bik"),
        ([&[2, 4], &[5, 4, 3]], "ij,bjk->bik"),
        ([&[4, 1, 2, 3], &[5, 3, 6]], "wxij,xjk->wxik"),
        ([&[1, 2, 3], &[5, 3, 6]], "xij,xjk->xik"),
        ([&[5, 2, 3], &[1, 3, 6]], "xij,xjk->xik"),
        ([&[3, 1, 2, 3], &[1, 4, 3, 2]], "wxij,wxjk->wxik"),
        ([&[4], &[2, 3, 4, 5]], "j,abjk->abk"),
        ([&[2, 3, 5, 4], &[4]], "abij,j->abi"),
    ];
    for dtype in DTYPES {
        for &(shapes, reference) in cases {
            check_product(&mut rng, "matmul", dtype, shapes, reference, |a, b| {
                jnp::matmul(a, b)
            });
        }
    }
    let a = jnp::ones(&[3, 2, 4], DType::F32);
    assert_eq!(a.matmul(jnp::ones(&[4, 5], DType::F32)).shape(), &[3, 2, 5]);
}

#[test]
fn vdot_inner_outer_tensordot() {
    let mut rng = Rng::new(55);
    for dtype in DTYPES {
        let r = &mut rng;
        check_product(r, "vdot", dtype, [&[2, 3], &[2, 3]], "ab,ab->", |a, b| {
            jnp::vdot(a, b)
        });
        check_product(
            r,
            "inner",
            dtype,
            [&[2, 4], &[3, 4]],
            "ik,jk->ij",
            |a, b| jnp::inner(a, b),
        );
        check_product(r, "inner", dtype, [&[], &[3, 4]], ",jk->jk", |a, b| {
            jnp::inner(a, b)
        });
        check_product(r, "inner", dtype, [&[4], &[4]], "i,i->", |a, b| {
            jnp::inner(a, b)
        });
        check_product(r, "outer", dtype, [&[3], &[2]], "i,j->ij", |a, b| {
            jnp::outer(a, b)
        });
        check_product(
            r,
            "tensordot 2",
            dtype,
            [&[2, 3, 4], &[3, 4, 5]],
            "ajk,jkb->ab",
            |a, b| jnp::tensordot(a, b, 2),
        );
        check_product(r, "tensordot 0", dtype, [&[2], &[3]], "i,j->ij", |a, b| {
            jnp::tensordot(a, b, 0usize)
        });
        check_product(
            r,
            "tensordot pairs",
            dtype,
            [&[2, 3, 4], &[4, 5, 3]],
            "ajk,kbj->ab",
            |a, b| jnp::tensordot(a, b, ([1, 2], [2, 0])),
        );
        check_product(
            r,
            "tensordot neg",
            dtype,
            [&[2, 3], &[3, 5]],
            "ij,jk->ik",
            |a, b| jnp::tensordot(a, b, (-1, 0)),
        );
        check_product(
            r,
            "tensordot vec",
            dtype,
            [&[2, 3], &[2, 5]],
            "ij,ik->jk",
            |a, b| jnp::tensordot(a, b, (vec![0], vec![0])),
        );
    }
    // vdot flattens both operands.
    let a = random_array(&mut rng, DType::F64, &[2, 3], -2.0, 2.0);
    let b = random_array(&mut rng, DType::F64, &[6], -2.0, 2.0);
    let want: f64 = a
        .to_f64_vec()
        .iter()
        .zip(b.to_f64_vec())
        .map(|(x, y)| x * y)
        .sum();
    assert!((jnp::vdot(&a, &b).item::<f64>() - want).abs() < 1e-12);
}

#[test]
fn promotion_and_weak_types() {
    let i8a = jnp::array(&[[1i8, 2], [3, 4]]);
    let f32v = jnp::array(&[1.0f32, 0.5]);
    let out = jnp::dot(&i8a, &f32v);
    assert_eq!(out.dtype(), DType::F32);
    assert_eq!(out.to_vec::<f32>(), vec![2.0, 5.0]);
    // A weak Rust scalar keeps the array's dtype.
    let s = jnp::dot(&i8a, 3);
    assert_eq!((s.dtype(), s.weak_type()), (DType::I8, false));
    assert_eq!(s.to_vec::<i8>(), vec![3, 6, 9, 12]);
    let w = jnp::dot(2.0, 3.0);
    assert_eq!((w.dtype(), w.weak_type()), (DType::F32, true));
    assert_eq!(w.item::<f32>(), 6.0);
    let m = jnp::matmul(jnp::array(&[1i32, 2]), jnp::array(&[[1.0f64], [2.0]]));
    assert_eq!(m.dtype(), DType::F64);
    let e = jnp::einsum("i,i->", &[&jnp::array(&[1u8, 2]), &jnp::array(&[3i8, 4])]);
    assert_eq!(e.dtype(), DType::I16);
    assert_eq!(e.item::<i16>(), 11);
    let b = jnp::dot(jnp::array(&[true, false]), jnp::array(&[false, true]));
    assert_eq!((b.dtype(), b.item::<bool>()), (DType::Bool, false));
    let p = jnp::einsum_with(
        "ij,jk->ik",
        &[
            &jnp::ones(&[2, 3], DType::BF16),
            &jnp::ones(&[3, 2], DType::BF16),
        ],
        Some(DType::F32),
    );
    assert_eq!(p.dtype(), DType::F32);
    let t = make_jaxpr(|x: Array| jnp::dot(&x, &x))(jnp::ones(&[3, 3], DType::F32)).to_string();
    assert!(t.contains("preferred_element_type=float32"), "{t}");
}

macro_rules! check_err {
    ($e:expr, $needles:expr) => {{
        let first = line!();
        let msg = expect_panic(
            || {
                let _ = $e;
            },
            $needles,
        );
        let at = format!("(at {}:", file!());
        let pos = msg
            .find(&at)
            .unwrap_or_else(|| panic!("{msg:?} lacks {at}"));
        let line: u32 = msg[pos + at.len()..]
            .split(':')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("a line number");
        assert!(
            (first..first + 4).contains(&line),
            "{msg:?}: line {line} is not the caller's ({first})"
        );
    }};
}

#[test]
fn errors_name_the_function_shapes_and_caller_line() {
    let m = jnp::ones(&[2, 3], DType::F32);
    let n = jnp::ones(&[4, 5], DType::F32);
    let s = jnp::array(1.0f32);
    check_err!(jnp::dot(&m, &n), &["dot", "[2, 3]", "[4, 5]"]);
    check_err!(m.dot(&n), &["dot", "[2, 3]", "[4, 5]"]);
    check_err!(jnp::matmul(&m, &n), &["matmul", "[2, 3]", "[4, 5]"]);
    check_err!(jnp::matmul(&s, &n), &["matmul", "ndim"]);
    check_err!(
        jnp::matmul(
            jnp::ones(&[2, 2, 3], DType::F32),
            jnp::ones(&[3, 3, 1], DType::F32)
        ),
        &["matmul", "[2, 2, 3]", "[3, 3, 1]"]
    );
    check_err!(jnp::vdot(&m, &n), &["vdot", "[2, 3]"]);
    check_err!(jnp::inner(&m, &n), &["inner", "[2, 3]"]);
    check_err!(jnp::tensordot(&m, &n, 3), &["tensordot", "3"]);
    check_err!(
        jnp::tensordot(&m, &n, ([1], [0, 1])),
        &["tensordot", "equal length"]
    );
    check_err!(jnp::tensordot(&m, &n, (5, 0)), &["tensordot", "axis 5"]);
    check_err!(jnp::einsum("ij,jk->ik", &[&m]), &["einsum", "2 operands"]);
    check_err!(
        jnp::einsum("ij,jk->ik", &[&m, &n]),
        &["einsum", "'j'", "size"]
    );
    check_err!(jnp::einsum("ij->ik", &[&m]), &["einsum", "'k'", "no input"]);
    check_err!(jnp::einsum("ij->ii", &[&m]), &["einsum", "repeats"]);
    check_err!(
        jnp::einsum("i1->i", &[&m]),
        &["einsum", "invalid subscript"]
    );
    check_err!(jnp::einsum("ijk->i", &[&m]), &["einsum", "[2, 3]"]);
    check_err!(
        jnp::einsum("ii->i", &[&m]),
        &["einsum", "'i'", "different sizes"]
    );
    check_err!(jnp::einsum("i..j->i", &[&m]), &["einsum", "ellipsis"]);
    check_err!(jnp::einsum("i->i->i", &[&m]), &["einsum", "->"]);
}

// ---- golden cases from real JAX ---------------------------------------------------

#[test]
fn golden_einsum_matches_jax() {
    let path = format!(
        "{}/../../tests/golden/numpy_einsum.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let g: Json = serde_json::from_str(&std::fs::read_to_string(&path).expect("golden")).unwrap();
    let mut n = 0;
    for case in g["cases"].as_array().unwrap() {
        assert_eq!(case["fn"], "einsum");
        let name = case["name"].as_str().unwrap();
        let args = case["args"].as_array().unwrap();
        let sub = args[0].as_str().unwrap();
        let arrays: Vec<Array> = args[1..].iter().map(golden_array).collect();
        let refs: Vec<&Array> = arrays.iter().collect();
        let pref = case["kwargs"]["preferred_element_type"]
            .as_str()
            .map(dtype_of);
        let out = jnp::einsum_with(sub, &refs, pref);
        let want = &case["out"];
        let wshape = golden_shape(want);
        assert_eq!(out.shape(), &wshape[..], "{name}");
        assert_eq!(
            out.dtype(),
            dtype_of(want["dtype"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(
            out.weak_type(),
            want["weak_type"].as_bool().unwrap(),
            "{name}"
        );
        let wv: Vec<f64> = want["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(json_f64)
            .collect();
        let rtol = if out.dtype() == DType::BF16 {
            1e-2
        } else {
            1e-6
        };
        assert_close(name, &out.to_f64_vec(), &wv, rtol, 1e-6);
        n += 1;
    }
    assert!(n >= 28, "only {n} golden einsum cases");
}

#[test]
fn jnp_dot_jaxpr_matches_jax() {
    // jax-spec 3.2: jnp.dot(f32[3,4], f32[4,5]).
    let b = jnp::ones(&[4, 5], DType::F32);
    let j = make_jaxpr(move |a: Array| jnp::dot(&a, &b))(jnp::ones(&[3, 4], DType::F32));
    let text = j.to_string();
    assert_eq!(text.matches("dot_general").count(), 1, "{text}");
    assert!(!text.contains("convert_element_type"), "{text}");
    assert!(
        text.contains("dimension_numbers=(([1], [0]), ([], []))")
            && text.contains("preferred_element_type=float32"),
        "{text}"
    );
}
