//! Gradients of the gamma-based samplers (implicit reparameterization) against real JAX
//! 0.10.2 (`tests/golden/random_grad.json`, made by `tools/gen_golden.py --only
//! random_grad.json`), against finite differences of the sampler itself, and under
//! jit and vmap.

mod golden_support;

use golden_support::{array, compare, load, Case, Tol};
use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{lax, random};

/// The gradients are derivatives of samples that match JAX's within a few ulp, through
/// series that stop at the dtype's epsilon (seen: 4.7e-6 relative in f32, 6.6e-15 in
/// f64).
fn tol(dt: DType) -> Tol {
    match dt {
        DType::F64 => Tol {
            rtol: 5e-14,
            atol: 1e-300,
        },
        _ => Tol {
            rtol: 2e-5,
            atol: 1e-38,
        },
    }
}

fn kw_array(c: &Case, name: &str) -> Array {
    array(&c.kwargs[name])
}

fn shape_kw(c: &Case) -> Option<Vec<usize>> {
    c.kwargs.get("shape").filter(|v| !v.is_null()).map(|v| {
        v.as_array()
            .expect("shape")
            .iter()
            .map(|d| d.as_u64().expect("dim") as usize)
            .collect()
    })
}

/// `sum(sample · [1, 2, 3, ...])`, the generator's weighting of the sample.
fn weighted_sum(out: &Array) -> Array {
    let w = jnp::arange_with(1.0, out.size() as f64 + 1.0, 1.0, Some(out.dtype()));
    (out * &lax::reshape(&w, out.shape())).sum(None)
}

/// The gradients of one case, in the order of the case's outputs.
fn run(c: &Case) -> Vec<Array> {
    if c.fn_ == "lax.random_gamma_grad" {
        return vec![lax::random_gamma_grad(
            &array(&c.args[0]),
            &array(&c.args[1]),
        )];
    }
    let key = array(&c.args[0]);
    let dtype = golden_support::dtype(c.kwargs["dtype"].as_str().expect("dtype"));
    let shape = shape_kw(c);
    match c.fn_.as_str() {
        "random.gamma" | "random.loggamma" => {
            let log = c.fn_ == "random.loggamma";
            let f = move |a: Array| {
                let s = shape.as_deref();
                let out = if log {
                    random::loggamma(&key, &a, s, dtype)
                } else {
                    random::gamma(&key, &a, s, dtype)
                };
                weighted_sum(&out)
            };
            vec![grad(f)(kw_array(c, "a"))]
        }
        "random.beta" => {
            let f = move |(a, b): (Array, Array)| {
                weighted_sum(&random::beta(&key, &a, &b, shape.as_deref(), dtype))
            };
            let (ga, gb) = grad(f)((kw_array(c, "a"), kw_array(c, "b")));
            vec![ga, gb]
        }
        "random.dirichlet" => {
            let f = move |alpha: Array| {
                weighted_sum(&random::dirichlet(&key, &alpha, shape.as_deref(), dtype))
            };
            vec![grad(f)(kw_array(c, "alpha"))]
        }
        "random.uniform" => {
            let shape = shape.expect("shape");
            let f = move |(lo, hi): (Array, Array)| {
                weighted_sum(&random::uniform(&key, &shape, dtype, &lo, &hi))
            };
            let (glo, ghi) = grad(f)((kw_array(c, "minval"), kw_array(c, "maxval")));
            vec![glo, ghi]
        }
        "random.truncated_normal" => {
            let shape = shape.expect("shape");
            let f = move |(lo, hi): (Array, Array)| {
                weighted_sum(&random::truncated_normal(&key, &lo, &hi, &shape, dtype))
            };
            let (glo, ghi) = grad(f)((kw_array(c, "lower"), kw_array(c, "upper")));
            vec![glo, ghi]
        }
        "random.multivariate_normal" => {
            let f = move |(mean, cov): (Array, Array)| {
                let out =
                    random::multivariate_normal(&key, &mean, &cov, shape.as_deref(), Some(dtype));
                weighted_sum(&out)
            };
            let (gm, gc) = grad(f)((kw_array(c, "mean"), kw_array(c, "cov")));
            vec![gm, gc]
        }
        other => panic!("no jaxon function for {other}"),
    }
}

#[test]
fn golden_gradients_match_jax() {
    let cases = load("random_grad.json");
    assert!(cases.len() >= 26, "fixture has {} cases", cases.len());
    let mut failures = vec![];
    for c in &cases {
        let got = run(c);
        assert_eq!(got.len(), c.out.len(), "{}: output count", c.name);
        for (g, w) in got.iter().zip(&c.out) {
            let want = array(w).to_f64_vec();
            let worst = g
                .to_f64_vec()
                .iter()
                .zip(&want)
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|(a, b)| (a - b).abs() / b.abs().max(1e-30))
                .fold(0.0, f64::max);
            eprintln!("{}: max relative difference {worst:.2e}", c.name);
            if let Some(e) = compare(g, w, Some(tol(g.dtype())), false) {
                failures.push(format!("{}: {e}", c.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The regularized lower incomplete gamma function P(a, x) by its series, in f64.
fn lower_gamma_p(a: f64, x: f64) -> f64 {
    let (mut term, mut sum, mut n) = (1.0 / a, 1.0 / a, 0.0);
    while term > sum * 1e-17 {
        n += 1.0;
        term *= x / (a + n);
        sum += term;
    }
    (a * x.ln() - x - libm_lgamma(a)).exp() * sum
}

/// ln Γ(a) for a > 0 (Lanczos, g = 7), accurate to ~1e-15 relative.
fn libm_lgamma(a: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = a - 1.0;
    let t = x + 7.5;
    let s: f64 = G[0] + (1..9).map(|i| G[i] / (x + i as f64)).sum::<f64>();
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

/// dx/da at fixed P(a, x), by central differences of P: -(∂P/∂a) / (∂P/∂x).
fn implicit_derivative(a: f64, x: f64) -> f64 {
    let (ha, hx) = (1e-5 * a.max(1e-3), 1e-5 * x);
    let dpa = (lower_gamma_p(a + ha, x) - lower_gamma_p(a - ha, x)) / (2.0 * ha);
    let dpx = (lower_gamma_p(a, x + hx) - lower_gamma_p(a, x - hx)) / (2.0 * hx);
    -dpa / dpx
}

#[test]
fn random_gamma_grad_matches_finite_differences_of_the_cdf() {
    // Both branches: the series (x <= 1 or x <= a) and the continued fraction.
    let pairs = [
        (0.2, 0.05),
        (0.7, 0.9),
        (1.0, 0.5),
        (2.5, 1.5),
        (2.5, 6.0),
        (6.0, 3.0),
        (6.0, 12.0),
        (40.0, 35.0),
        (40.0, 50.0),
    ];
    let a: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let x: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let got = lax::random_gamma_grad(&jnp::array(&a), &jnp::array(&x)).to_vec::<f64>();
    for (i, &(a, x)) in pairs.iter().enumerate() {
        let want = implicit_derivative(a, x);
        assert!(
            (got[i] - want).abs() <= 1e-6 * want.abs().max(1.0),
            "a={a} x={x}: got {} want {want}",
            got[i]
        );
    }
}

#[test]
fn gamma_sample_gradients_agree_eagerly_under_jit_and_vmap() {
    let key = random::key(3);
    let a = jnp::array(&[0.4f32, 1.5, 9.0]);
    let k = key.clone();
    let f = move |a: Array| random::gamma(&k, &a, None, DType::F32).sum(None);
    let eager = grad(f.clone())(a.clone()).to_vec::<f32>();
    let jitted = jit(grad(f))(a.clone()).to_vec::<f32>();
    assert_eq!(eager, jitted);
    // vmap over keys: each row's gradient is the gradient with that key alone.
    let keys = random::split(&random::key(4), 3);
    let per_key =
        |k: Array| grad(move |a: Array| random::gamma(&k, &a, None, DType::F32).sum(None));
    let batched = vmap(
        move |k: Array| per_key(k)(jnp::array(&[0.4f32, 1.5, 9.0])),
        0,
    )(keys.clone());
    for i in 0..3 {
        let k = lax::reshape(&lax::slice(&keys, &[i, 0], &[i + 1, 2], None), &[2]);
        let single = per_key(k)(a.clone()).to_vec::<f32>();
        assert_eq!(
            batched.to_vec::<f32>()[i * 3..i * 3 + 3],
            single[..],
            "row {i}"
        );
    }
    // The gradient is the derivative of the sample along its quantile.
    let x = random::gamma(&key, &a, None, DType::F32);
    let want = lax::random_gamma_grad(&a, &x).to_vec::<f32>();
    assert_eq!(eager, want);
}

#[test]
fn random_gamma_grad_edge_cases_and_errors() {
    let a = jnp::array(&[2.0f32, 0.0, -1.0, 2.0, f32::NAN]);
    let x = jnp::array(&[0.0f32, 1.0, 1.0, -0.5, 1.0]);
    let g = lax::random_gamma_grad(&a, &x).to_vec::<f32>();
    assert_eq!(g[0], 0.0);
    assert!(g[1..].iter().all(|v| v.is_nan()), "{g:?}");
    let err = std::panic::catch_unwind(|| {
        lax::random_gamma_grad(&jnp::array(&[1.0f32]), &jnp::array(&[1.0f64]))
    })
    .expect_err("mixed dtypes");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("random_gamma_grad") && msg.contains("f32"),
        "{msg}"
    );
}
