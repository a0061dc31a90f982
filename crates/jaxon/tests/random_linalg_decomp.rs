//! jnp::linalg::cholesky and jnp::linalg::qr (used by random.multivariate_normal and
//! random.orthogonal) against straightforward f64 references, on random shapes with
//! batch dims, under jit and vmap, with gradients by finite differences, and their
//! error messages.

mod support;

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::test_util::{check_grads, Modes};
use support::{expect_panic, Rng};

fn arr(shape: &[usize], vals: Vec<f64>, dtype: DType) -> Array {
    jnp::from_f64_values(shape, &vals, dtype)
}

/// A random symmetric positive-definite `n x n` matrix `B Bᵀ + n I`, row-major.
fn spd(rng: &mut Rng, n: usize) -> Vec<f64> {
    let b: Vec<f64> = (0..n * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum::<f64>();
        }
        a[i * n + i] += n as f64;
    }
    a
}

/// Cholesky–Banachiewicz in f64.
fn cholesky_ref(a: &[f64], n: usize) -> Vec<f64> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            l[i * n + j] = if i == j {
                (a[i * n + i] - s).sqrt()
            } else {
                (a[i * n + j] - s) / l[j * n + j]
            };
        }
    }
    l
}

/// |R| from modified Gram–Schmidt in f64 (QR is unique up to the signs of R's rows).
fn abs_r_ref(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    let k = m.min(n);
    let mut cols: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..m).map(|i| a[i * n + j]).collect())
        .collect();
    let mut r = vec![0.0; k * n];
    for j in 0..k {
        let norm = cols[j].iter().map(|x| x * x).sum::<f64>().sqrt();
        r[j * n + j] = norm;
        let q: Vec<f64> = cols[j].iter().map(|x| x / norm).collect();
        for c in j + 1..n {
            let d: f64 = q.iter().zip(&cols[c]).map(|(x, y)| x * y).sum();
            r[j * n + c] = d.abs();
            for i in 0..m {
                cols[c][i] -= d * q[i];
            }
        }
    }
    r
}

fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{i}]: got {g} want {w}"
        );
    }
}

#[test]
fn cholesky_matches_reference() {
    let mut rng = Rng::new(17);
    let mut cases = 0;
    for dtype in [DType::F64, DType::F32] {
        let tol = if dtype == DType::F64 { 1e-12 } else { 2e-5 };
        for _ in 0..6 {
            let n = rng.int(1, 5) as usize;
            let batch = rng.shape(2, 3);
            let count: usize = batch.iter().product();
            let mats: Vec<Vec<f64>> = (0..count).map(|_| spd(&mut rng, n)).collect();
            let shape: Vec<usize> = batch.iter().copied().chain([n, n]).collect();
            let a = arr(&shape, mats.concat(), dtype);
            let l = jnp::linalg::cholesky(&a);
            assert_eq!((l.shape(), l.dtype()), (&shape[..], dtype));
            let want: Vec<f64> = mats.iter().flat_map(|m| cholesky_ref(m, n)).collect();
            close(
                &format!("cholesky {dtype}{shape:?}"),
                &l.to_f64_vec(),
                &want,
                tol,
            );
            let lj = jit(|a: Array| jnp::linalg::cholesky(&a))(a.clone());
            assert_eq!(lj.to_f64_vec(), l.to_f64_vec(), "cholesky jit");
            cases += 1;
        }
    }
    // Only the symmetrised input counts; a non-positive-definite matrix gives NaNs.
    let a = jnp::array(&[[4.0f64, 100.0], [-96.0, 5.0]]);
    close(
        "cholesky symmetrised",
        &jnp::linalg::cholesky(&a).to_f64_vec(),
        &[2.0, 0.0, 1.0, 2.0],
        1e-15,
    );
    let bad = jnp::array(&[[[1.0f32, 2.0], [2.0, 1.0]], [[4.0, 0.0], [0.0, 9.0]]]);
    let lb = jnp::linalg::cholesky(&bad).to_f64_vec();
    assert!(
        lb[..4].iter().all(|x| x.is_nan()),
        "not positive definite: {lb:?}"
    );
    assert_eq!(&lb[4..], &[2.0, 0.0, 0.0, 3.0]);
    eprintln!("cholesky: {cases} random cases");
}

#[test]
fn qr_matches_reference() {
    let mut rng = Rng::new(23);
    let mut cases = 0;
    for dtype in [DType::F64, DType::F32] {
        let tol = if dtype == DType::F64 { 1e-12 } else { 5e-5 };
        for t in 0..8 {
            let (m, n) = (rng.int(1, 5) as usize, rng.int(1, 5) as usize);
            let batch = rng.shape(2, 2);
            let count: usize = batch.iter().product();
            let shape: Vec<usize> = batch.iter().copied().chain([m, n]).collect();
            let vals: Vec<f64> = (0..count * m * n).map(|_| rng.uniform(-2.0, 2.0)).collect();
            let a = arr(&shape, vals.clone(), dtype);
            let mode = if t % 2 == 0 { "reduced" } else { "complete" };
            let (q, r) = jnp::linalg::qr(&a, mode);
            let k = if mode == "reduced" { m.min(n) } else { m };
            assert_eq!(q.shape()[q.ndim() - 2..], [m, k], "q shape");
            assert_eq!(r.shape()[r.ndim() - 2..], [k, n], "r shape");
            let what = format!("qr {dtype}{shape:?} {mode}");
            // Q R = A, QᵀQ = I, R upper triangular, |R| as Gram–Schmidt's.
            close(
                &format!("{what} QR"),
                &jnp::matmul(&q, &r).to_f64_vec(),
                &a.to_f64_vec(),
                tol,
            );
            let qtq = jnp::matmul(jnp::swapaxes(&q, -1, -2), &q).to_f64_vec();
            let eye: Vec<f64> = (0..count * k * k)
                .map(|i| (i % (k * k) % (k + 1) == 0) as u8 as f64)
                .collect();
            close(&format!("{what} QᵀQ"), &qtq, &eye, tol);
            let rv = r.to_f64_vec();
            let kk = m.min(n);
            for (b, mat) in vals.chunks(m * n).enumerate() {
                let rb = &rv[b * k * n..(b + 1) * k * n];
                for i in 0..k {
                    for j in 0..i.min(n) {
                        assert_eq!(rb[i * n + j], 0.0, "{what}: R[{i},{j}] below the diagonal");
                    }
                }
                let got: Vec<f64> = rb[..kk * n].iter().map(|x| x.abs()).collect();
                close(
                    &format!("{what} |R|"),
                    &got,
                    &abs_r_ref(mat, m, n),
                    tol * 10.0,
                );
                // LAPACK's sign: R[0,0] = -sign(a00) ‖a[:, 0]‖ (no reflection for m = 1).
                let sign = if m > 1 { -1.0 } else { 1.0 };
                assert!(sign * rb[0] * mat[0] >= 0.0, "{what}: R[0,0] sign");
            }
            let (qj, rj) = jit(|a: Array| jnp::linalg::qr(&a, "reduced"))(a.clone());
            let (q2, r2) = jnp::linalg::qr(&a, "reduced");
            assert_eq!(qj.to_f64_vec(), q2.to_f64_vec(), "qr jit");
            assert_eq!(rj.to_f64_vec(), r2.to_f64_vec(), "qr jit");
            cases += 1;
        }
    }
    eprintln!("qr: {cases} random cases");
}

#[test]
fn vmap_and_grads() {
    let mut rng = Rng::new(5);
    let n = 3;
    let mats: Vec<Vec<f64>> = (0..4).map(|_| spd(&mut rng, n)).collect();
    let a = arr(&[4, n, n], mats.concat(), DType::F64);
    // vmap over axis 0 and over axis 2 (the same matrices, transposed layout).
    let direct = jnp::linalg::cholesky(&a).to_f64_vec();
    let v0 = vmap(|m: Array| jnp::linalg::cholesky(&m), 0)(a.clone());
    assert_eq!(v0.to_f64_vec(), direct, "cholesky vmap axis 0");
    let moved = jnp::moveaxis(&a, 0, 2);
    let v2 = vmap(|m: Array| jnp::linalg::cholesky(&m), 2)(moved);
    close("cholesky vmap axis 2", &v2.to_f64_vec(), &direct, 1e-14);
    let q0 = vmap(|m: Array| jnp::linalg::qr(&m, "reduced").0, 0)(a.clone());
    close(
        "qr vmap",
        &q0.to_f64_vec(),
        &jnp::linalg::qr(&a, "reduced").0.to_f64_vec(),
        1e-14,
    );
    // Derivatives through the column loops, by finite differences (orders 1 and 2).
    let a1 = arr(&[n, n], mats[0].clone(), DType::F64);
    check_grads(
        &|x| vec![jnp::linalg::cholesky(&x[0])],
        std::slice::from_ref(&a1),
        2,
        Modes::Both,
        None,
        None,
    );
    let g = arr(
        &[3, 2],
        (0..6).map(|_| rng.uniform(-1.0, 1.0)).collect(),
        DType::F64,
    );
    check_grads(
        &|x| {
            let (q, r) = jnp::linalg::qr(&x[0], "reduced");
            vec![q, r]
        },
        &[g],
        1,
        Modes::Both,
        None,
        None,
    );
    eprintln!("linalg decompositions: 3 vmap checks, 2 check_grads");
}

#[test]
fn errors_name_the_operation_and_line() {
    let x = jnp::ones(&[2, 3], DType::F32);
    let l = line!() + 1;
    let f = || jnp::linalg::cholesky(&x);
    expect_panic(
        || drop(f()),
        &["cholesky", "square", file!(), &l.to_string()],
    );
    let l = line!() + 1;
    let f = || jnp::linalg::qr(jnp::ones(&[3], DType::F32), "reduced");
    expect_panic(|| drop(f()), &["qr", "matrix", file!(), &l.to_string()]);
    let l = line!() + 1;
    let f = || jnp::linalg::qr(&x, "full");
    expect_panic(|| drop(f()), &["qr", "mode", file!(), &l.to_string()]);
}
