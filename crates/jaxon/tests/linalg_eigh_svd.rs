//! jnp::linalg::eigh / eigvalsh / svd / svdvals (and random.multivariate_normal's
//! "eigh" and "svd" methods, which use them) against a straightforward f64 Jacobi
//! reference and JAX's (LAPACK's) golden results, by their defining identities, on
//! random shapes with batch dims, under jit and vmap, with derivatives by finite
//! differences, and their errors.

mod support;

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::random;
use jaxon::test_util::{check_grads, Modes};
use support::{assert_close, expect_panic, golden_array, Rng};

fn arr(shape: &[usize], vals: Vec<f64>, dtype: DType) -> Array {
    jnp::from_f64_values(shape, &vals, dtype)
}

/// Eigenvalues (ascending) of the symmetric `n x n` matrix `a` by the classic cyclic
/// Jacobi method in f64, swept until the off-diagonal part underflows.
fn eigvals_ref(a: &[f64], n: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    for _ in 0..100 {
        let off: f64 = (0..n * n)
            .filter(|i| i / n != i % n)
            .map(|i| m[i] * m[i])
            .sum();
        if off < 1e-300 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (x, y) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * x - s * y;
                    m[q * n + k] = s * x + c * y;
                }
                for k in 0..n {
                    let (x, y) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * x - s * y;
                    m[k * n + q] = s * x + c * y;
                }
            }
        }
    }
    let mut w: Vec<f64> = (0..n).map(|i| m[i * n + i]).collect();
    w.sort_by(f64::total_cmp);
    w
}

/// Singular values (descending) of the row-major `m x n` matrix: square roots of the
/// eigenvalues of `aᵀa` (accurate to about sqrt(eps) of the largest).
fn singular_values_ref(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    let ata: Vec<f64> = (0..n * n)
        .map(|ij| (0..m).map(|k| a[k * n + ij / n] * a[k * n + ij % n]).sum())
        .collect();
    let mut s: Vec<f64> = eigvals_ref(&ata, n)
        .iter()
        .map(|x| x.max(0.0).sqrt())
        .collect();
    s.reverse();
    s.truncate(m.min(n));
    s
}

fn random_symmetric(rng: &mut Rng, n: usize) -> Vec<f64> {
    let b: Vec<f64> = (0..n * n).map(|_| rng.uniform(-2.0, 2.0)).collect();
    (0..n * n)
        .map(|ij| (b[ij] + b[(ij % n) * n + ij / n]) / 2.0)
        .collect()
}

/// Within `tol` relative to `max(|want|, 1)`.
fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_close(what, got, want, tol, tol);
}

/// `xᵀx` for each matrix of `x` compared with the identity (orthonormal columns).
fn assert_orthonormal_columns(what: &str, x: &Array, tol: f64) {
    let k = x.shape()[x.ndim() - 1];
    let xtx = jnp::matmul(jnp::swapaxes(x, -1, -2), x).to_f64_vec();
    let eye: Vec<f64> = (0..xtx.len())
        .map(|i| (i % (k * k)).is_multiple_of(k + 1) as u8 as f64)
        .collect();
    close(what, &xtx, &eye, tol);
}

fn tol_of(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-12
    } else {
        2e-5
    }
}

#[test]
fn eigh_matches_reference() {
    let mut rng = Rng::new(31);
    let mut cases = 0;
    for dtype in [DType::F64, DType::F32] {
        let tol = tol_of(dtype);
        for n in [1usize, 2, 3, 4, 5, 8, 13] {
            let batch = rng.shape(0, 2);
            let count: usize = batch.iter().product();
            let mats: Vec<Vec<f64>> = (0..count).map(|_| random_symmetric(&mut rng, n)).collect();
            let shape: Vec<usize> = batch.iter().copied().chain([n, n]).collect();
            let a = arr(&shape, mats.concat(), dtype);
            let (w, v) = jnp::linalg::eigh(&a);
            let what = format!("eigh {dtype}{shape:?}");
            assert_eq!(w.shape(), &shape[..shape.len() - 1], "{what}: w shape");
            assert_eq!((v.shape(), v.dtype()), (&shape[..], dtype), "{what}: v");
            let want: Vec<f64> = mats.iter().flat_map(|m| eigvals_ref(m, n)).collect();
            close(&format!("{what} w"), &w.to_f64_vec(), &want, tol * 4.0);
            // A V = V diag(w) and VᵀV = I.
            let av = jnp::matmul(&a, &v).to_f64_vec();
            let vw = (&v * &jnp::expand_dims(&w, -2)).to_f64_vec();
            close(&format!("{what} AV"), &av, &vw, tol * 4.0 * n as f64);
            assert_orthonormal_columns(&format!("{what} VᵀV"), &v, tol * n as f64);
            // jit compiles the same iteration.
            let (wj, vj) = jit(|a: Array| jnp::linalg::eigh(&a))(a.clone());
            close(
                &format!("{what} jit w"),
                &wj.to_f64_vec(),
                &w.to_f64_vec(),
                tol,
            );
            close(
                &format!("{what} jit v"),
                &vj.to_f64_vec(),
                &v.to_f64_vec(),
                4.0 * tol,
            );
            cases += 1;
        }
    }
    // Only the symmetrised input counts; repeated eigenvalues; diagonal input.
    let a = jnp::array(&[[2.0f64, 3.0], [-1.0, 2.0]]);
    close(
        "eigh symmetrised",
        &jnp::linalg::eigvalsh(&a).to_f64_vec(),
        &[1.0, 3.0],
        1e-15,
    );
    let (w, v) = jnp::linalg::eigh(jnp::eye(4).astype(DType::F32) * 3.0);
    assert_eq!(w.to_vec::<f32>(), vec![3.0; 4]);
    assert_orthonormal_columns("eigh of 3 I", &v, 0.0);
    let d = jnp::array(&[[5.0f32, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 2.0]]);
    assert_eq!(
        jnp::linalg::eigvalsh(&d).to_vec::<f32>(),
        vec![-1.0, 2.0, 5.0]
    );
    // Wide dynamic range: small eigenvalues keep their absolute accuracy.
    let g = arr(&[2, 2], vec![1e8, 1.0, 1.0, 1e-8], DType::F64);
    let w = jnp::linalg::eigvalsh(&g).to_f64_vec();
    close(
        "eigh wide range",
        &w,
        &eigvals_ref(&[1e8, 1.0, 1.0, 1e-8], 2),
        1e-15,
    );
    // A matrix with a NaN gives NaN; its batch neighbour is unaffected.
    let bad = jnp::array(&[[[1.0f64, f64::NAN], [0.0, 1.0]], [[2.0, 0.0], [0.0, 1.0]]]);
    let (w, v) = jnp::linalg::eigh(&bad);
    let (w, v) = (w.to_f64_vec(), v.to_f64_vec());
    assert!(
        w[..2].iter().chain(&v[..4]).all(|x| x.is_nan()),
        "{w:?} {v:?}"
    );
    assert_eq!(&w[2..], &[1.0, 2.0]);
    // Empty matrices.
    let (w, v) = jnp::linalg::eigh(jnp::zeros(&[3, 0, 0], DType::F32));
    assert_eq!(
        (w.shape(), v.shape()),
        (&[3usize, 0][..], &[3usize, 0, 0][..])
    );
    eprintln!("eigh: {cases} random cases");
}

#[test]
fn svd_matches_reference() {
    let mut rng = Rng::new(37);
    let mut cases = 0;
    for dtype in [DType::F64, DType::F32] {
        let tol = tol_of(dtype);
        for t in 0..14 {
            let (m, n) = (rng.int(1, 7) as usize, rng.int(1, 7) as usize);
            let batch = rng.shape(0, 2);
            let count: usize = batch.iter().product();
            let shape: Vec<usize> = batch.iter().copied().chain([m, n]).collect();
            let mut vals: Vec<f64> = (0..count * m * n).map(|_| rng.uniform(-2.0, 2.0)).collect();
            if t % 3 == 2 && n > 1 {
                // Rank deficient: the last column repeats the first.
                for r in 0..count * m {
                    vals[r * n + n - 1] = vals[r * n];
                }
            }
            let a = arr(&shape, vals.clone(), dtype);
            let full = t % 2 == 1;
            let (u, s, vh) = jnp::linalg::svd(&a, full);
            let k = m.min(n);
            let what = format!("svd {dtype}{shape:?} full={full}");
            let (ku, kv) = if full { (m, n) } else { (k, k) };
            assert_eq!(u.shape()[u.ndim() - 2..], [m, ku], "{what}: u shape");
            assert_eq!(s.shape()[s.ndim() - 1], k, "{what}: s shape");
            assert_eq!(vh.shape()[vh.ndim() - 2..], [kv, n], "{what}: vh shape");
            let want: Vec<f64> = vals
                .chunks(m * n)
                .flat_map(|c| singular_values_ref(c, m, n))
                .collect();
            // The reference squares: compare squares (its small values carry
            // sqrt(eps) errors).
            let sq = |v: &[f64]| v.iter().map(|x| x * x).collect::<Vec<_>>();
            close(
                &format!("{what} s²"),
                &sq(&s.to_f64_vec()),
                &sq(&want),
                4.0 * tol,
            );
            assert_orthonormal_columns(&format!("{what} UᵀU"), &u, 4.0 * tol);
            assert_orthonormal_columns(
                &format!("{what} V"),
                &jnp::swapaxes(&vh, -1, -2),
                4.0 * tol,
            );
            // U[:, :k] diag(s) Vh[:k] = A.
            let uk = leading(&u, m, k) * jnp::expand_dims(&s, -2);
            let vk = leading(&vh, k, n);
            close(
                &format!("{what} U S Vh"),
                &jnp::matmul(&uk, &vk).to_f64_vec(),
                &vals,
                4.0 * tol,
            );
            let s_only = jnp::linalg::svdvals(&a).to_f64_vec();
            close(&format!("{what} svdvals"), &s_only, &s.to_f64_vec(), 0.0);
            let (_, sj, _) = jit(move |a: Array| jnp::linalg::svd(&a, full))(a.clone());
            close(
                &format!("{what} jit"),
                &sj.to_f64_vec(),
                &s.to_f64_vec(),
                tol,
            );
            cases += 1;
        }
    }
    // Zero and rank-one matrices still give orthonormal U and V.
    let (u, s, vh) = jnp::linalg::svd(jnp::zeros(&[4, 3], DType::F64), true);
    assert_eq!(s.to_f64_vec(), vec![0.0; 3]);
    assert_orthonormal_columns("svd of 0: U", &u, 1e-15);
    assert_orthonormal_columns("svd of 0: V", &jnp::swapaxes(&vh, -1, -2), 1e-15);
    let r1 = arr(
        &[3, 3],
        vec![1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 3.0, 6.0, 9.0],
        DType::F64,
    );
    let (u, s, _) = jnp::linalg::svd(&r1, false);
    close("svd rank one", &s.to_f64_vec(), &[14.0, 0.0, 0.0], 1e-14);
    assert_orthonormal_columns("svd rank one: U", &u, 1e-14);
    let bad = jnp::array(&[[f64::INFINITY, 0.0], [0.0, 1.0]]);
    assert!(jnp::linalg::svdvals(&bad)
        .to_f64_vec()
        .iter()
        .all(|x| x.is_nan()));
    // Empty matrices: no singular values; full U/Vh are identities.
    for (m, n) in [(3usize, 0usize), (0, 2)] {
        let (u, s, vh) = jnp::linalg::svd(jnp::zeros(&[m, n], DType::F32), true);
        assert_eq!(s.shape(), &[0]);
        assert_eq!(
            u.to_f64_vec(),
            jnp::eye(m).to_f64_vec(),
            "svd of [{m}, {n}]: U"
        );
        assert_eq!(
            vh.to_f64_vec(),
            jnp::eye(n).to_f64_vec(),
            "svd of [{m}, {n}]: Vh"
        );
        let (u, s, vh) = jnp::linalg::svd(jnp::zeros(&[2, m, n], DType::F32), false);
        assert_eq!(
            (u.shape(), s.shape(), vh.shape()),
            (&[2, m, 0][..], &[2, 0][..], &[2, 0, n][..])
        );
    }
    eprintln!("svd: {cases} random cases");
}

/// `x[b]`.
fn nth(x: &Array, b: usize) -> Array {
    jnp::take(x, jnp::array(b as i32), Some(0))
}

/// The leading `rows x cols` block of each matrix of `x`.
fn leading(x: &Array, rows: usize, cols: usize) -> Array {
    let nb = x.ndim() - 2;
    let limit: Vec<usize> = x.shape()[..nb]
        .iter()
        .copied()
        .chain([rows, cols])
        .collect();
    jaxon::lax::slice(x, &vec![0; nb + 2], &limit, None)
}

#[test]
fn vmap_matches_loop() {
    let mut rng = Rng::new(41);
    let n = 4;
    let mats: Vec<Vec<f64>> = (0..3).map(|_| random_symmetric(&mut rng, n)).collect();
    let a = arr(&[3, n, n], mats.concat(), DType::F64);
    for axis in [0usize, 2] {
        let x = jnp::moveaxis(&a, 0, axis as i64);
        let (w, v) = vmap(|m: Array| jnp::linalg::eigh(&m), axis as i64)(x);
        for (b, mat) in mats.iter().enumerate() {
            let one = arr(&[n, n], mat.clone(), DType::F64);
            let (w1, v1) = jnp::linalg::eigh(&one);
            let wb = nth(&w, b);
            let vb = nth(&v, b);
            close("vmap eigh w", &wb.to_f64_vec(), &w1.to_f64_vec(), 1e-13);
            close("vmap eigh v", &vb.to_f64_vec(), &v1.to_f64_vec(), 1e-12);
        }
    }
    let g = arr(
        &[3, 5, 2],
        (0..30).map(|_| rng.uniform(-1.0, 1.0)).collect(),
        DType::F64,
    );
    let (u, s, vh) = vmap(|m: Array| jnp::linalg::svd(&m, false), 0)(g.clone());
    let (ud, sd, vhd) = jnp::linalg::svd(&g, false);
    close("vmap svd s", &s.to_f64_vec(), &sd.to_f64_vec(), 1e-13);
    close("vmap svd u", &u.to_f64_vec(), &ud.to_f64_vec(), 1e-12);
    close("vmap svd vh", &vh.to_f64_vec(), &vhd.to_f64_vec(), 1e-12);
}

#[test]
fn derivatives_match_finite_differences() {
    let mut rng = Rng::new(43);
    // Eigenvectors and singular vectors are defined up to sign: check the
    // sign-invariant squares.
    let a = arr(&[4, 4], random_symmetric(&mut rng, 4), DType::F64);
    check_grads(
        &|x| {
            let (w, v) = jnp::linalg::eigh(&x[0]);
            vec![w, &v * &v]
        },
        std::slice::from_ref(&a),
        2,
        Modes::Both,
        None,
        None,
    );
    for (m, n) in [(3usize, 3usize), (4, 2), (2, 3)] {
        let g = arr(
            &[m, n],
            (0..m * n).map(|_| rng.uniform(-1.0, 1.0)).collect(),
            DType::F64,
        );
        check_grads(
            &|x| {
                let (u, s, vh) = jnp::linalg::svd(&x[0], false);
                vec![&u * &u, s, &vh * &vh]
            },
            std::slice::from_ref(&g),
            1,
            Modes::Both,
            None,
            None,
        );
    }
    // Gradients under jit and vmap go through the same rule.
    let f = |x: Array| jnp::linalg::eigvalsh(&x).sum(None);
    let direct = grad(f)(a.clone());
    let jitted = jit(grad(f))(a.clone());
    close(
        "jit(grad)",
        &jitted.to_f64_vec(),
        &direct.to_f64_vec(),
        1e-13,
    );
    // d(sum of eigenvalues)/dA = I (the trace).
    close(
        "grad of trace",
        &direct.to_f64_vec(),
        &jnp::eye(4).to_f64_vec(),
        1e-13,
    );
    let batch = jnp::stack(&[a.clone(), &a * 2.0], 0);
    let per = vmap(grad(f), 0)(batch).to_f64_vec();
    close("vmap(grad)", &per[16..], &direct.to_f64_vec(), 1e-13);
}

#[test]
fn multivariate_normal_methods() {
    let mean = jnp::array(&[1.0f64, -2.0, 0.5]);
    let cov = jnp::array(&[[2.0f64, 0.6, -0.4], [0.6, 1.0, 0.3], [-0.4, 0.3, 0.8]]);
    let covv = cov.to_f64_vec();
    let key = random::key(7);
    let count = 40_000usize;
    let chol = random::multivariate_normal(&key, &mean, &cov, Some(&[count]), None);
    for method in ["cholesky", "eigh", "svd"] {
        let x = random::multivariate_normal_with(&key, &mean, &cov, Some(&[count]), None, method);
        assert_eq!((x.shape(), x.dtype()), (&[count, 3][..], DType::F64));
        if method == "cholesky" {
            assert_eq!(x.to_f64_vec(), chol.to_f64_vec());
        }
        // Sample mean and covariance within a few standard errors.
        let xs = x.to_f64_vec();
        let mu: Vec<f64> = (0..3)
            .map(|j| xs.iter().skip(j).step_by(3).sum::<f64>() / count as f64)
            .collect();
        for j in 0..3 {
            let se = (covv[j * 3 + j] / count as f64).sqrt();
            assert!(
                (mu[j] - mean.to_f64_vec()[j]).abs() < 5.0 * se,
                "{method}: mean[{j}] = {}",
                mu[j]
            );
            for k in 0..3 {
                let c: f64 = xs
                    .chunks(3)
                    .map(|r| (r[j] - mu[j]) * (r[k] - mu[k]))
                    .sum::<f64>()
                    / count as f64;
                let se = ((covv[j * 3 + j] * covv[k * 3 + k] + covv[j * 3 + k].powi(2))
                    / count as f64)
                    .sqrt();
                assert!(
                    (c - covv[j * 3 + k]).abs() < 5.0 * se,
                    "{method}: cov[{j},{k}] = {c}"
                );
            }
        }
    }
    // A singular covariance: cholesky gives NaN, eigh and svd sample the subspace.
    let sing = jnp::array(&[[1.0f64, 2.0], [2.0, 4.0]]);
    let zero = jnp::zeros(&[2], DType::F64);
    for method in ["eigh", "svd"] {
        let x = random::multivariate_normal_with(&key, &zero, &sing, Some(&[100]), None, method)
            .to_f64_vec();
        assert!(
            x.chunks(2).all(|r| (r[1] - 2.0 * r[0]).abs() < 1e-12),
            "{method}"
        );
        assert!(x.iter().any(|v| v.abs() > 0.5), "{method}: not all zero");
    }
    // jit and vmap over keys give the same samples as eager.
    let f = |k: Array| {
        random::multivariate_normal_with(&k, &mean, &cov, Some(&[4]), Some(DType::F32), "eigh")
    };
    let eager = f(key.clone());
    let jitted = jit(f)(key.clone());
    close(
        "mvn eigh jit",
        &jitted.to_f64_vec(),
        &eager.to_f64_vec(),
        1e-6,
    );
    let keys = random::split(&key, 3);
    let mapped = vmap(f, 0)(keys.clone());
    let second = f(nth(&keys, 1));
    close(
        "mvn eigh vmap",
        &nth(&mapped, 1).to_f64_vec(),
        &second.to_f64_vec(),
        1e-6,
    );
    // Gradients flow through the decomposition: d(sum of samples)/d mean = count.
    let g = grad(|m: Array| {
        random::multivariate_normal_with(&key, &m, &cov, Some(&[5]), None, "svd").sum(None)
    })(mean.clone());
    close("mvn svd grad", &g.to_f64_vec(), &[5.0; 3], 1e-12);
}

#[test]
fn errors_name_the_operation_and_line() {
    let x = jnp::ones(&[2, 3], DType::F32);
    let l = line!() + 1;
    let f = || jnp::linalg::eigh(&x);
    expect_panic(|| drop(f()), &["eigh", "square", file!(), &l.to_string()]);
    let l = line!() + 1;
    let f = || jnp::linalg::svd(jnp::ones(&[3], DType::F32), false);
    expect_panic(|| drop(f()), &["svd", "matrix", file!(), &l.to_string()]);
    let l = line!() + 1;
    let f = || jnp::linalg::svdvals(jnp::ones(&[2, 2], DType::F16));
    expect_panic(|| drop(f()), &["svd", "f16", file!(), &l.to_string()]);
    let key = random::key(0);
    let l = line!() + 2;
    let f = || {
        random::multivariate_normal_with(
            &key,
            jnp::zeros(&[2], DType::F32),
            jnp::eye(2),
            None,
            None,
            "lu",
        )
    };
    expect_panic(
        || drop(f()),
        &[
            "multivariate_normal",
            "method",
            "\"lu\"",
            file!(),
            &l.to_string(),
        ],
    );
    // Reverse-mode through a full non-square SVD is refused like in JAX.
    let a = jnp::ones(&[3, 2], DType::F64);
    let g = || grad(|a: Array| jnp::linalg::svd(&a, true).0.sum(None))(a.clone());
    expect_panic(|| drop(g()), &["svd", "full_matrices", "[3, 2]"]);
}

/// The sign (±1) per column that best aligns `got` with `want` (both `[.., rows,
/// k]`): eigen/singular vectors are unique only up to sign.
fn column_signs(got: &Array, want: &Array) -> Array {
    let flip = jnp::sign((got * want).sum(Some(&[-2])));
    jnp::where_(flip.eq(0.0), 1.0, &flip)
}

/// JAX's (LAPACK's) results from `tests/golden/numpy_linalg.json`: eigenvalues,
/// singular values, Cholesky factors and QR (LAPACK's signs) equal within
/// rounding; eigen/singular vectors up to a sign per vector.
#[test]
fn golden_decompositions_match_jax() {
    let path = format!(
        "{}/../../tests/golden/numpy_linalg.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("golden")).unwrap();
    let mut count = 0;
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let a = golden_array(&case["args"][0]);
        // Both sides are backward stable: values agree to a few eps of the matrix's
        // size, vectors (which also depend on the gaps between values) to more.
        let eps = if a.dtype() == DType::F64 {
            f64::EPSILON
        } else {
            f32::EPSILON as f64
        };
        let size = a.shape().iter().max().copied().unwrap_or(1) as f64;
        let scale = a.to_f64_vec().iter().fold(1.0f64, |m, x| m.max(x.abs())) * size;
        let (tol, vtol) = (eps * scale, 1e3 * eps * scale);
        let out = &case["out"];
        let check = |got: &Array, want: &serde_json::Value, tol: f64| {
            close(
                name,
                &got.to_f64_vec(),
                &golden_array(want).to_f64_vec(),
                tol,
            )
        };
        match case["fn"].as_str().unwrap() {
            "linalg.eigh" => {
                let (w, v) = jnp::linalg::eigh(&a);
                check(&w, &out[0], 4.0 * tol);
                let want_v = golden_array(&out[1]);
                let v = &v * &jnp::expand_dims(column_signs(&v, &want_v), -2);
                close(name, &v.to_f64_vec(), &want_v.to_f64_vec(), vtol);
            }
            "linalg.eigvalsh" => {
                let w = jnp::linalg::eigvalsh(&a);
                check(&w, out, 4.0 * tol);
            }
            "linalg.svd" if case["kwargs"]["compute_uv"] == false => {
                let s = jnp::linalg::svdvals(&a);
                check(&s, out, 4.0 * tol);
            }
            "linalg.svd" => {
                let (u, s, vh) = jnp::linalg::svd(&a, false);
                check(&s, &out[1], 4.0 * tol);
                // u's and vh's signs flip together: align u, then vh by the same signs.
                let want_u = golden_array(&out[0]);
                let flip = column_signs(&u, &want_u);
                let u = &u * &jnp::expand_dims(&flip, -2);
                let vh = &vh * &jnp::expand_dims(&flip, -1);
                close(name, &u.to_f64_vec(), &want_u.to_f64_vec(), vtol);
                check(&vh, &out[2], vtol);
            }
            "linalg.cholesky" => {
                let l = jnp::linalg::cholesky(&a);
                check(&l, out, 4.0 * tol);
            }
            "linalg.qr" => {
                let mode = case["kwargs"]["mode"].as_str().unwrap();
                let (q, r) = jnp::linalg::qr(&a, mode);
                check(&q, &out[0], vtol);
                check(&r, &out[1], vtol);
            }
            other => panic!("{name}: unexpected fn {other}"),
        }
        count += 1;
    }
    assert!(count >= 40, "only {count} golden linalg cases");
    eprintln!("linalg golden: {count} cases against JAX");
}
