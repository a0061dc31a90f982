//! dot_general / lax::dot on every dtype, random shapes and dimension numbers, against
//! a naive loop reference computed in f64.

mod support;

use jaxon::lax::{self, DotDimensionNumbers};
use jaxon::prelude::*;
use support::*;

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i)
}

fn permutation(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.int(0, i as i64) as usize;
        p.swap(i, j);
    }
    p
}

/// Naive dot_general: returns (values, sum of |products|) per output element.
fn dot_ref(
    l: &[f64],
    ls: &[usize],
    r: &[f64],
    rs: &[usize],
    d: &DotDimensionNumbers,
    bool_out: bool,
) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let lfree: Vec<usize> = (0..ls.len())
        .filter(|a| !d.lhs_batch.contains(a) && !d.lhs_contracting.contains(a))
        .collect();
    let rfree: Vec<usize> = (0..rs.len())
        .filter(|a| !d.rhs_batch.contains(a) && !d.rhs_contracting.contains(a))
        .collect();
    let mut out_shape: Vec<usize> = d.lhs_batch.iter().map(|&a| ls[a]).collect();
    out_shape.extend(lfree.iter().map(|&a| ls[a]));
    out_shape.extend(rfree.iter().map(|&a| rs[a]));
    let cshape: Vec<usize> = d.lhs_contracting.iter().map(|&a| ls[a]).collect();
    let n_out: usize = out_shape.iter().product();
    let n_c: usize = cshape.iter().product();
    let (mut vals, mut mags) = (Vec::new(), Vec::new());
    for o in 0..n_out {
        let oi = unravel(o, &out_shape);
        let nb = d.lhs_batch.len();
        let mut li = vec![0; ls.len()];
        let mut ri = vec![0; rs.len()];
        for k in 0..nb {
            li[d.lhs_batch[k]] = oi[k];
            ri[d.rhs_batch[k]] = oi[k];
        }
        for (k, &a) in lfree.iter().enumerate() {
            li[a] = oi[nb + k];
        }
        for (k, &a) in rfree.iter().enumerate() {
            ri[a] = oi[nb + lfree.len() + k];
        }
        let (mut s, mut m) = (0.0, 0.0);
        for c in 0..n_c {
            let ci = unravel(c, &cshape);
            for k in 0..ci.len() {
                li[d.lhs_contracting[k]] = ci[k];
                ri[d.rhs_contracting[k]] = ci[k];
            }
            let p = l[ravel(&li, ls)] * r[ravel(&ri, rs)];
            s += p;
            m += p.abs();
        }
        vals.push(if bool_out { (s != 0.0) as u8 as f64 } else { s });
        mags.push(m);
    }
    (out_shape, vals, mags)
}

/// Random operands for a dot_general with random batch/contracting/free dims.
fn random_case(rng: &mut Rng) -> (Vec<usize>, Vec<usize>, DotDimensionNumbers) {
    let sizes = |rng: &mut Rng, n: i64| -> Vec<usize> {
        (0..rng.int(0, n)).map(|_| rng.int(1, 4) as usize).collect()
    };
    let (b, c) = (sizes(rng, 2), sizes(rng, 2));
    let (lf, rf) = (sizes(rng, 2), sizes(rng, 2));
    let build = |rng: &mut Rng, free: &[usize]| {
        let dims: Vec<usize> = b.iter().chain(&c).chain(free).copied().collect();
        let perm = permutation(rng, dims.len());
        // Operand dim perm[k] holds logical dim k.
        let mut shape = vec![0; dims.len()];
        for (k, &p) in perm.iter().enumerate() {
            shape[p] = dims[k];
        }
        let batch: Vec<usize> = (0..b.len()).map(|k| perm[k]).collect();
        let contract: Vec<usize> = (b.len()..b.len() + c.len()).map(|k| perm[k]).collect();
        (shape, batch, contract)
    };
    let (lshape, lb, lc) = build(rng, &lf);
    let (rshape, rb, rc) = build(rng, &rf);
    let d = DotDimensionNumbers {
        lhs_contracting: lc,
        rhs_contracting: rc,
        lhs_batch: lb,
        rhs_batch: rb,
    };
    (lshape, rshape, d)
}

/// Value range keeping integer sums exact in the narrowest dtypes.
fn range(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::I8 => (-2.0, 2.0),
        d if d.is_unsigned_int() => (0.0, 3.0),
        d if d.is_int() => (-20.0, 20.0),
        _ => (-2.0, 2.0),
    }
}

fn check_dot(what: &str, got: &Array, want: &[f64], mags: &[f64], dtype: DType) {
    let g = got.to_f64_vec();
    let tol = if dtype.is_float() {
        float_tol(dtype) * 4.0
    } else {
        0.0
    };
    assert_eq!(g.len(), want.len(), "{what}: length");
    for i in 0..g.len() {
        // Float sums are compared relative to the magnitude of their terms.
        assert!(
            (g[i] - want[i]).abs() <= tol * (mags[i] + want[i].abs()),
            "{what}: element {i}: got {}, want {} (tol {tol})",
            g[i],
            want[i]
        );
    }
}

#[test]
fn dot_general_random_on_every_dtype() {
    let mut rng = Rng::new(21);
    for dtype in DType::ALL {
        for trial in 0..6 {
            let (ls, rs, d) = random_case(&mut rng);
            let (lo, hi) = range(dtype);
            let l = random_array(&mut rng, dtype, &ls, lo, hi);
            let r = random_array(&mut rng, dtype, &rs, lo, hi);
            let out = lax::dot_general(&l, &r, d.clone(), None);
            let (oshape, want, mags) = dot_ref(
                &l.to_f64_vec(),
                &ls,
                &r.to_f64_vec(),
                &rs,
                &d,
                dtype.is_bool(),
            );
            let what = format!("dot_general {dtype} #{trial} {ls:?}x{rs:?} {d:?}");
            assert_eq!(out.shape(), &oshape[..], "{what}");
            assert_eq!(out.dtype(), dtype, "{what}");
            check_dot(&what, &out, &want, &mags, dtype);
        }
    }
}

#[test]
fn dot_general_preferred_element_type() {
    let mut rng = Rng::new(22);
    let cases = [
        (DType::BF16, DType::F32),
        (DType::F16, DType::F32),
        (DType::F32, DType::F64),
        (DType::I8, DType::I32),
        (DType::U8, DType::I32),
        (DType::I16, DType::F32),
        (DType::Bool, DType::I32),
        (DType::F32, DType::BF16),
    ];
    for (input, pref) in cases {
        for _ in 0..3 {
            let (ls, rs, d) = random_case(&mut rng);
            // Values beyond the input range of i8 sums: accumulation must be wide.
            let (lo, hi) = if input.is_int() {
                (0.0, 100.0)
            } else {
                range(input)
            };
            let l = random_array(&mut rng, input, &ls, lo, hi);
            let r = random_array(&mut rng, input, &rs, lo, hi);
            let out = lax::dot_general(&l, &r, d.clone(), Some(pref));
            assert_eq!(out.dtype(), pref);
            let (oshape, want, mags) =
                dot_ref(&l.to_f64_vec(), &ls, &r.to_f64_vec(), &rs, &d, false);
            assert_eq!(out.shape(), &oshape[..]);
            let what = format!("dot_general {input}->{pref} {ls:?}x{rs:?} {d:?}");
            check_dot(
                &what,
                &out,
                &want,
                &mags,
                if pref.is_float() { pref } else { input },
            );
        }
    }
}

#[test]
fn dot_general_tuple_dimension_numbers_and_batched_matmul() {
    let mut rng = Rng::new(23);
    let a = random_array(&mut rng, DType::F32, &[2, 3, 4], -1.0, 1.0);
    let b = random_array(&mut rng, DType::F32, &[2, 4, 5], -1.0, 1.0);
    let c = lax::dot_general(&a, &b, (([2], [1]), ([0], [0])), None);
    assert_eq!(c.shape(), &[2, 3, 5]);
    let d = DotDimensionNumbers {
        lhs_contracting: vec![2],
        rhs_contracting: vec![1],
        lhs_batch: vec![0],
        rhs_batch: vec![0],
    };
    let (_, want, mags) = dot_ref(
        &a.to_f64_vec(),
        &[2, 3, 4],
        &b.to_f64_vec(),
        &[2, 4, 5],
        &d,
        false,
    );
    check_dot("batched matmul", &c, &want, &mags, DType::F32);
    let lc: &[usize] = &[2];
    let c2 = lax::dot_general(
        &a,
        &b,
        ((lc, &[1usize][..]), (&[0usize][..], &[0usize][..])),
        None,
    );
    assert_eq!(c2.to_vec::<f32>(), c.to_vec::<f32>());
    let c3 = lax::dot_general(&a, &b, ((vec![2], vec![1]), (vec![0], vec![0])), None);
    assert_eq!(c3.to_vec::<f32>(), c.to_vec::<f32>());
}

#[test]
fn lax_dot_vector_and_matrix_forms() {
    let mut rng = Rng::new(24);
    for dtype in [DType::F32, DType::F64, DType::I32, DType::BF16] {
        for (ls, rs) in [
            (vec![3], vec![3]),
            (vec![2, 3], vec![3]),
            (vec![3], vec![3, 4]),
            (vec![2, 3], vec![3, 4]),
        ] {
            let (lo, hi) = range(dtype);
            let l = random_array(&mut rng, dtype, &ls, lo, hi);
            let r = random_array(&mut rng, dtype, &rs, lo, hi);
            let out = lax::dot(&l, &r);
            let d = DotDimensionNumbers::contracting(&[ls.len() - 1], &[0]);
            let (oshape, want, mags) =
                dot_ref(&l.to_f64_vec(), &ls, &r.to_f64_vec(), &rs, &d, false);
            assert_eq!(out.shape(), &oshape[..]);
            check_dot(
                &format!("lax::dot {dtype} {ls:?}x{rs:?}"),
                &out,
                &want,
                &mags,
                dtype,
            );
        }
    }
}

/// Checks that a panic message names `needles` and a line of this file within the
/// macro invocation (the user's line, not jaxon's).
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
fn dot_errors_name_the_op_shapes_and_caller_line() {
    let a = jnp_zeros(&[2, 3], DType::F32);
    let b = jnp_zeros(&[4, 5], DType::F32);
    let c = jnp_zeros(&[3, 5], DType::I32);
    check_err!(
        lax::dot_general(&a, &b, (([1], [0]), ([], [])), None),
        &["dot_general", "[3]", "[4]"]
    );
    check_err!(
        lax::dot_general(&a, &c, (([1], [0]), ([], [])), None),
        &["dot_general", "dtypes differ"]
    );
    check_err!(
        lax::dot_general(&a, &b, (([2], [0]), ([], [])), None),
        &["dot_general", "out of range"]
    );
    check_err!(
        lax::dot_general(&a, &b, (([1], [0, 1]), ([], [])), None),
        &["dot_general", "number of contracting"]
    );
    check_err!(
        lax::dot_general(&a, &a, (([1, 1], [1, 0]), ([], [])), None),
        &["dot_general", "repeat"]
    );
    check_err!(lax::dot(&a, &b), &["dot", "[2, 3]", "[4, 5]"]);
    let i8a = jnp_zeros(&[2, 3], DType::I32);
    check_err!(
        lax::dot_general(&i8a, &c, (([1], [0]), ([], [])), Some(DType::I8)),
        &["dot_general", "narrower"]
    );
    check_err!(
        lax::dot_general(&a, &a, (([1], [1]), ([], [])), Some(DType::I32)),
        &["dot_general", "floating"]
    );
}

fn jnp_zeros(shape: &[usize], dtype: DType) -> Array {
    jaxon::numpy::zeros(shape, dtype)
}

#[test]
fn dot_general_jaxpr_text() {
    let a = jnp_zeros(&[3, 4], DType::F32);
    let b = jnp_zeros(&[4, 5], DType::F32);
    let j = make_jaxpr(move |x: Array| {
        lax::dot_general(&x, &b, (([1], [0]), ([], [])), Some(DType::F32))
    })(a);
    let text = j.to_string();
    assert!(text.contains("dot_general"), "{text}");
    assert!(
        text.contains("dimension_numbers=(([1], [0]), ([], []))"),
        "{text}"
    );
    assert!(text.contains("preferred_element_type=float32"), "{text}");
}
