//! The rejection and matrix samplers of jaxon::random (gamma, loggamma, beta, dirichlet,
//! generalized_normal, ball, poisson, multivariate_normal, orthogonal): the same key
//! gives the same numbers eagerly, under jit and under vmap over keys (both threefry
//! layouts); moments match theory within bounds from the sample size; bad input panics
//! with the operation and the caller's line. (Bits vs JAX: random_golden.rs.)

mod support;

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::random;
use support::expect_panic;

fn cov3() -> Array {
    jnp::array(&[[2.0f32, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 0.8]])
}

/// Every new sampler on one key.
fn draws(key: &Array) -> Vec<Array> {
    let ks = random::split(key, 9);
    let k = |i: usize| ks.i(i);
    let a = jnp::array(&[0.3f32, 1.0, 4.0]);
    vec![
        random::gamma(&k(0), &a, Some(&[2, 3]), DType::F32),
        random::loggamma(&k(1), 0.2, Some(&[3]), DType::F32),
        random::beta(&k(2), 2.0, &a, None, DType::F32),
        random::dirichlet(&k(3), &a, Some(&[2]), DType::F32),
        random::generalized_normal(&k(4), 1.5, &[4], DType::F32),
        random::ball(&k(5), 3, 2.0, &[2], DType::F32),
        random::poisson(&k(6), jnp::array(&[0.0f32, 2.0, 30.0]), None, DType::I32),
        random::multivariate_normal(
            &k(7),
            jnp::zeros(&[3], DType::F32),
            cov3(),
            Some(&[2]),
            None,
        ),
        random::orthogonal(&k(8), 3, &[], DType::F32, Some(2)),
    ]
}

fn same(a: &[Array], b: &[Array], what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.dtype(), y.dtype(), "{what} draw {i}");
        assert_eq!(x.shape(), y.shape(), "{what} draw {i}");
        assert_eq!(x.to_f64_vec(), y.to_f64_vec(), "{what} draw {i}");
    }
}

#[test]
fn eager_equals_jit_and_vmap() {
    let mut checks = 0;
    for part in [true, false] {
        let _g = random::PartitionableGuard::new(part);
        let key = random::key(11);
        let eager = draws(&key);
        same(&eager, &draws(&key), "repeat");
        same(&eager, &jit(|k: Array| draws(&k))(key.clone()), "jit");
        let keys = random::split(&key, 3);
        let batched = vmap(|k: Array| draws(&k), 0)(keys.clone());
        let jv = jit(vmap(|k: Array| draws(&k), 0))(keys.clone());
        same(&batched, &jv, "jit of vmap");
        for b in 0..3 {
            let row: Vec<Array> = batched.iter().map(|x| x.i(b)).collect();
            same(&draws(&keys.i(b)), &row, "vmap");
        }
        checks += eager.len() * 4;
    }
    eprintln!("rejection/matrix samplers reproducibility: {checks} (draw x mode) checks");
}

/// Mean and variance of a sample, and the standard errors of both (the variance's from
/// the fourth central moment).
fn moments(v: &[f64]) -> (f64, f64, f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
    let m4 = v.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n;
    (m, var, (var / n).sqrt(), ((m4 - var * var) / n).sqrt())
}

/// Mean and variance within `z` standard errors of theory.
fn check_moments(name: &str, v: &[f64], mean: f64, var: f64, z: f64) -> usize {
    let (m, s2, se_m, se_v) = moments(v);
    eprintln!(
        "{name}: mean {m:.4} (want {mean:.4} ± {:.4}), var {s2:.4} (want {var:.4} ± {:.4})",
        z * se_m,
        z * se_v
    );
    assert!((m - mean).abs() <= z * se_m, "{name}: mean {m} vs {mean}");
    assert!((s2 - var).abs() <= z * se_v, "{name}: var {s2} vs {var}");
    1
}

/// Column `j` of a row-major `[n, d]` sample.
fn column(v: &[f64], d: usize, j: usize) -> Vec<f64> {
    v.iter().skip(j).step_by(d).copied().collect()
}

fn gamma_fn(x: f64) -> f64 {
    libm::tgamma(x)
}

const N: usize = 4000;
const Z: f64 = 5.0;

#[test]
fn gamma_family_moments() {
    let key = random::key(2024);
    let sample = jit(|k: Array| {
        let ks = random::split(&k, 10);
        let k = |i: usize| ks.i(i);
        vec![
            random::gamma(&k(0), 0.3, Some(&[N]), DType::F32),
            random::gamma(&k(1), 1.0, Some(&[N]), DType::F32),
            random::gamma(&k(2), 4.0, Some(&[N]), DType::F32),
            random::gamma(&k(3), 2.5, Some(&[N]), DType::F64),
            jnp::exp(random::loggamma(&k(4), 0.7, Some(&[N]), DType::F32)),
            random::beta(&k(5), 2.0, 3.0, Some(&[N]), DType::F32),
            random::dirichlet(
                &k(6),
                jnp::array(&[1.0f32, 2.0, 3.0]),
                Some(&[N]),
                DType::F32,
            ),
            random::generalized_normal(&k(7), 2.0, &[N], DType::F32),
            random::generalized_normal(&k(8), 1.0, &[N], DType::F64),
            random::ball(&k(9), 3, 2.0, &[N], DType::F32),
        ]
    });
    let s: Vec<Vec<f64>> = sample(key).iter().map(|a| a.to_f64_vec()).collect();
    let mut n = 0;
    for (i, a) in [0.3, 1.0, 4.0, 2.5].into_iter().enumerate() {
        assert!(s[i].iter().all(|&x| x >= 0.0), "gamma({a}) negative");
        n += check_moments(&format!("gamma({a})"), &s[i], a, a, Z);
    }
    n += check_moments("exp(loggamma(0.7))", &s[4], 0.7, 0.7, Z);
    let (a, b) = (2.0, 3.0);
    assert!(s[5].iter().all(|&x| (0.0..=1.0).contains(&x)));
    n += check_moments(
        "beta(2,3)",
        &s[5],
        a / (a + b),
        a * b / ((a + b) * (a + b) * (a + b + 1.0)),
        Z,
    );
    let alpha = [1.0, 2.0, 3.0];
    let a0: f64 = alpha.iter().sum();
    for (j, aj) in alpha.iter().enumerate() {
        let c = column(&s[6], 3, j);
        let var = aj * (a0 - aj) / (a0 * a0 * (a0 + 1.0));
        n += check_moments(&format!("dirichlet[{j}]"), &c, aj / a0, var, Z);
    }
    for row in s[6].chunks(3) {
        assert!(
            (row.iter().sum::<f64>() - 1.0).abs() < 1e-5,
            "dirichlet row sum"
        );
    }
    // Generalized normal: Var = Γ(3/p) / Γ(1/p) (p = 2: 1/2; p = 1 (Laplace): 2).
    for (i, p) in [(7, 2.0), (8, 1.0)] {
        let var = gamma_fn(3.0 / p) / gamma_fn(1.0 / p);
        n += check_moments(&format!("generalized_normal(p={p})"), &s[i], 0.0, var, Z);
    }
    // Uniform in the unit 3-ball: |x| <= 1, E|x|^2 = d/(d+2), coordinates var 1/(d+2).
    let d = 3.0;
    let r2: Vec<f64> = s[9]
        .chunks(3)
        .map(|r| r.iter().map(|x| x * x).sum())
        .collect();
    assert!(r2.iter().all(|&r| r <= 1.0 + 1e-6), "ball point outside");
    // r^2 = U^(2/d): mean d/(d+2), var d/(d+4) - (d/(d+2))^2.
    let m = d / (d + 2.0);
    n += check_moments("ball |x|^2", &r2, m, d / (d + 4.0) - m * m, Z);
    for j in 0..3 {
        n += check_moments(
            &format!("ball x[{j}]"),
            &column(&s[9], 3, j),
            0.0,
            1.0 / (d + 2.0),
            Z,
        );
    }
    eprintln!("gamma family: {n} moment checks");
}

#[test]
fn poisson_moments() {
    let key = random::key(5);
    let sample = jit(|k: Array| {
        let ks = random::split(&k, 4);
        vec![
            random::poisson(&ks.i(0), 3.0, Some(&[N]), DType::I32),
            random::poisson(&ks.i(1), 25.0, Some(&[N]), DType::I32),
            random::poisson(&ks.i(2), 0.0, Some(&[8]), DType::I32),
            // Knuth and rejection lanes in one call.
            random::poisson(
                &ks.i(3),
                jnp::array(&[0.5f32, 200.0]),
                Some(&[N, 2]),
                DType::I64,
            ),
        ]
    });
    let s = sample(key);
    assert_eq!(s[3].dtype(), DType::I64);
    let s: Vec<Vec<f64>> = s.iter().map(|a| a.to_f64_vec()).collect();
    let mut n = 0;
    for (name, v, lam) in [
        ("poisson(3) knuth", s[0].clone(), 3.0),
        ("poisson(25) rejection", s[1].clone(), 25.0),
        ("poisson(0.5) mixed", column(&s[3], 2, 0), 0.5),
        ("poisson(200) mixed", column(&s[3], 2, 1), 200.0),
    ] {
        assert!(v.iter().all(|&x| x >= 0.0 && x.fract() == 0.0), "{name}");
        n += check_moments(name, &v, lam, lam, Z);
    }
    assert!(s[2].iter().all(|&x| x == 0.0), "poisson(0) is 0");
    eprintln!("poisson: {n} moment checks");
}

#[test]
fn multivariate_normal_and_orthogonal_statistics() {
    let key = random::key(8);
    let (k1, k2) = random::split2(&key);
    let mean = [1.0, -1.0, 0.5];
    let x = random::multivariate_normal(
        &k1,
        jnp::array(&[1.0f32, -1.0, 0.5]),
        cov3(),
        Some(&[N]),
        None,
    );
    assert_eq!(x.shape(), &[N, 3]);
    let x = x.to_f64_vec();
    let c = cov3().to_f64_vec();
    let cols: Vec<Vec<f64>> = (0..3).map(|j| column(&x, 3, j)).collect();
    let mut n = 0;
    for i in 0..3 {
        n += check_moments(&format!("mvn[{i}]"), &cols[i], mean[i], c[i * 4], Z);
        for j in 0..i {
            // Sample covariance of a Gaussian pair: sd sqrt((s_ii s_jj + s_ij^2) / N).
            let mi = cols[i].iter().sum::<f64>() / N as f64;
            let mj = cols[j].iter().sum::<f64>() / N as f64;
            let cij = cols[i]
                .iter()
                .zip(&cols[j])
                .map(|(a, b)| (a - mi) * (b - mj))
                .sum::<f64>()
                / N as f64;
            let sd = ((c[i * 4] * c[j * 4] + c[i * 3 + j].powi(2)) / N as f64).sqrt();
            assert!(
                (cij - c[i * 3 + j]).abs() <= Z * sd,
                "mvn cov[{i},{j}] {cij}"
            );
            n += 1;
        }
    }
    // Haar-orthogonal 4x4 matrices: QᵀQ = I, entries mean 0 and variance 1/4.
    let m = 500;
    let q = random::orthogonal(&k2, 4, &[m], DType::F64, None);
    let qtq = jnp::matmul(jnp::swapaxes(&q, -1, -2), &q).to_f64_vec();
    for (i, v) in qtq.iter().enumerate() {
        let want = if i % 16 % 5 == 0 { 1.0 } else { 0.0 };
        assert!((v - want).abs() < 1e-12, "orthogonal QᵀQ entry {i}: {v}");
    }
    let qv = q.to_f64_vec();
    n += check_moments("orthogonal entries", &qv, 0.0, 0.25, Z);
    // Semi-orthogonal shapes: rows (n < m) or columns (n > m) orthonormal.
    let wide = random::orthogonal(&k2, 2, &[], DType::F32, Some(5));
    assert_eq!(wide.shape(), &[2, 5]);
    let wwt = jnp::matmul(&wide, jnp::swapaxes(&wide, -1, -2)).to_f64_vec();
    for (v, w) in wwt.iter().zip([1.0, 0.0, 0.0, 1.0]) {
        assert!((v - w).abs() < 1e-5, "wide orthogonal rows: {wwt:?}");
    }
    eprintln!("mvn/orthogonal: {n} moment checks");
}

#[test]
fn errors_name_the_operation_and_line() {
    let k = random::key(0);
    let l = line!() + 1;
    let f = || random::gamma(&k, 1.0, Some(&[2]), DType::I32);
    expect_panic(
        || drop(f()),
        &["random.gamma", "float", file!(), &l.to_string()],
    );
    let a3 = jnp::ones(&[3], DType::F32);
    let l = line!() + 1;
    let f = || random::gamma(&k, &a3, Some(&[2]), DType::F32);
    expect_panic(
        || drop(f()),
        &["random.gamma", "[3]", file!(), &l.to_string()],
    );
    let l = line!() + 1;
    let f = || random::poisson(&k, 1.0, None, DType::F32);
    expect_panic(
        || drop(f()),
        &["random.poisson", "integer", file!(), &l.to_string()],
    );
    let l = line!() + 1;
    let f = || random::dirichlet(&k, 1.0, None, DType::F32);
    expect_panic(
        || drop(f()),
        &["random.dirichlet", "ndim", file!(), &l.to_string()],
    );
    let l = line!() + 1;
    let f = || random::beta(&k, &a3, jnp::ones(&[2], DType::F32), None, DType::F32);
    expect_panic(
        || drop(f()),
        &["random.beta", "broadcast", file!(), &l.to_string()],
    );
    let bad_cov = jnp::ones(&[2, 2], DType::F32);
    let l = line!() + 1;
    let f = || random::multivariate_normal(&k, &a3, &bad_cov, None, None);
    expect_panic(
        || drop(f()),
        &[
            "random.multivariate_normal",
            "cov.shape",
            file!(),
            &l.to_string(),
        ],
    );
    let l = line!() + 1;
    let f = || random::bernoulli_mode(&k, 0.5, &[2], random::Mode::Highest);
    expect_panic(
        || drop(f()),
        &["random.bernoulli", "Low or High", file!(), &l.to_string()],
    );
    let l = line!() + 1;
    let f = || random::orthogonal(&k, 3, &[], DType::I32, None);
    expect_panic(
        || drop(f()),
        &["random.orthogonal", "float", file!(), &l.to_string()],
    );
    let l = line!() + 1;
    let f = || random::ball(&jnp::zeros(&[3], DType::U32), 3, 2.0, &[], DType::F32);
    expect_panic(
        || drop(f()),
        &["random.ball", "key", file!(), &l.to_string()],
    );
}
