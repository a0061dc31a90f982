//! Derivatives of the special functions: lgamma' = digamma, digamma' = trigamma.

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{lax, test_util};

#[test]
fn trigamma_matches_known_values_and_differences_of_digamma() {
    let x = jnp::array(&[1.0f64, 0.5, 2.0, 7.5, 0.1, -0.5, -1.3]);
    let t = lax::trigamma(&x).to_f64_vec();
    let pi2 = std::f64::consts::PI.powi(2);
    assert!((t[0] - pi2 / 6.0).abs() < 1e-12, "{}", t[0]);
    assert!((t[1] - pi2 / 2.0).abs() < 1e-12, "{}", t[1]);
    assert!((t[2] - (pi2 / 6.0 - 1.0)).abs() < 1e-12, "{}", t[2]);
    // Central differences of digamma agree everywhere else.
    let h = 1e-5;
    let dp = lax::digamma(&(&x + h)).to_f64_vec();
    let dm = lax::digamma(&(&x - h)).to_f64_vec();
    for i in 3..7 {
        let fd = (dp[i] - dm[i]) / (2.0 * h);
        assert!(
            (t[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
            "x[{i}]: {} vs {fd}",
            t[i]
        );
    }
}

#[test]
fn digamma_and_lgamma_differentiate_to_second_order() {
    let x = jnp::array(&[0.7f64, 1.9, 4.2]);
    test_util::check_grads(
        &|a| vec![lax::digamma(&a[0])],
        std::slice::from_ref(&x),
        2,
        test_util::Modes::Both,
        None,
        None,
    );
    test_util::check_grads(
        &|a| vec![lax::lgamma(&a[0])],
        std::slice::from_ref(&x),
        2,
        test_util::Modes::Both,
        None,
        None,
    );
    let g = grad(|x: Array| lax::digamma(&x).sum(None))(x.clone());
    let want = lax::trigamma(&x);
    assert_eq!(g.to_f64_vec(), want.to_f64_vec());
}
