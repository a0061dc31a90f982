//! `random_gamma_grad(a, x)`: how a Gamma(a) sample `x` moves when `a` moves with the
//! sample's quantile held fixed (implicit reparameterization, as in
//! `jax.lax.random_gamma_grad`). With `P(a, x)` the regularized lower incomplete
//! gamma function, `u = P(a, x)` fixed gives `dx/da = -(∂P/∂a) / (∂P/∂x)`.
//!
//! `∂P/∂x = x^(a-1) e^(-x) / Γ(a)`, and `∂P/∂a` comes from differentiating, term by
//! term, the series of `P` (small `x`) or the continued fraction of `Q = 1 - P`
//! (`x > 1` and `x > a`). Both carry the factor `x^a e^(-x) / Γ(·)`, which cancels
//! against `∂P/∂x`, so the result never underflows with it:
//!
//! * series: `P = x^a e^(-x) / Γ(a+1) · S`, `S = Σ c_n`, `c_0 = 1`,
//!   `c_n = c_(n-1) x / (a+n)`; `dx/da = -(S (log x - ψ(a+1)) + dS/da) · x / a`.
//! * continued fraction (Legendre's, evaluated with Cephes' recurrence for `igamc`):
//!   `Q = x^a e^(-x) / Γ(a) · F`; `dx/da = (F (log x - ψ(a)) + dF/da) · x`.
//!
//! Each loop runs until its derivative term converges to the dtype's epsilon (at most
//! 2000 steps), element by element, as a `while_loop`: it works eagerly, under `jit`
//! and under `vmap`.

use super::rejection::any;
use super::samplers::{fconst, float_layout};
use crate::array::Array;
use crate::error::user_error;
use crate::lax;
use oxla::DType;

const MAX_STEPS: f64 = 2000.0;

/// The derivative of a Gamma(`a`) sample `x` with respect to `a` (`jax.lax.random_gamma_grad`).
/// `a` and `x` have one float dtype and one shape (or are 0-d). `x = 0` gives 0;
/// `a <= 0`, `x < 0` or NaN give NaN.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{lax, numpy as jnp};
/// // A Gamma(1) sample at 0.5 moves by ~0.807 per unit of a (JAX: 0.806979117).
/// let g = lax::random_gamma_grad(&jnp::array(&[1.0f64]), &jnp::array(&[0.5f64]));
/// assert!((g.to_vec::<f64>()[0] - 0.806979117).abs() < 1e-8);
/// ```
#[track_caller]
pub fn random_gamma_grad(a: &Array, x: &Array) -> Array {
    let (da, dx) = (a.dtype(), x.dtype());
    if da != dx || !da.is_float() {
        user_error(format!(
            "lax.random_gamma_grad: a and x must have one float dtype, got a: {da} and x: {dx}"
        ));
    }
    let (a, x) = match (a.ndim(), x.ndim()) {
        (0, n) if n > 0 => (lax::broadcast(a, x.shape()), x.clone()),
        (n, 0) if n > 0 => (a.clone(), lax::broadcast(x, a.shape())),
        _ if a.shape() == x.shape() => (a.clone(), x.clone()),
        _ => user_error(format!(
            "lax.random_gamma_grad: a and x must have one shape, got a: {:?} and x: {:?}",
            a.shape(),
            x.shape()
        )),
    };
    match da {
        // Too little precision for the loops to converge: compute in f32.
        DType::F16 | DType::BF16 => {
            let up = |v: &Array| lax::convert_element_type(v, DType::F32);
            lax::convert_element_type(&gamma_grad(&up(&a), &up(&x)), da)
        }
        _ => gamma_grad(&a, &x),
    }
}

/// [`random_gamma_grad`] on validated operands of one shape and an f32/f64 dtype.
fn gamma_grad(a: &Array, x: &Array) -> Array {
    let dt = a.dtype();
    let c = |v: f64| fconst(v, dt);
    let full = |v: f64| lax::broadcast(&c(v), a.shape());
    let is_nan = lax::bitwise_or(&lax::ne(a, a), &lax::ne(x, x));
    let x_is_zero = lax::eq(x, &c(0.0));
    let domain_error = lax::bitwise_or(&lax::lt(x, &c(0.0)), &lax::le(a, &c(0.0)));
    let skip = lax::bitwise_or(&lax::bitwise_or(&is_nan, &x_is_zero), &domain_error);
    let use_fraction = lax::bitwise_and(&lax::gt(x, &c(1.0)), &lax::gt(x, a));
    let live = lax::not(&skip);
    // Disabled elements get harmless operands (a = x = 1), so no loop sees NaN.
    let a_ok = lax::select(&live, a, &full(1.0));
    let x_ok = lax::select(&live, x, &full(1.0));
    let on_series = lax::bitwise_and(&live, &lax::not(&use_fraction));
    let on_fraction = lax::bitwise_and(&live, &use_fraction);
    let series = series_grad(&a_ok, &x_ok, &on_series);
    let fraction = fraction_grad(&a_ok, &x_ok, &on_fraction);
    let out = lax::select(&use_fraction, &fraction, &series);
    let out = lax::select(&x_is_zero, &full(0.0), &out);
    let bad = lax::bitwise_or(&domain_error, &is_nan);
    lax::select(&bad, &full(f64::NAN), &out)
}

/// The spacing of `dt`'s floats at 1.
fn epsilon(dt: DType) -> f64 {
    2f64.powi(-(float_layout("random_gamma_grad", dt).1 as i32))
}

/// `state` with each field replaced by `new`'s where `mask` is set.
fn update<const N: usize>(mask: &Array, new: [Array; N], old: [Array; N]) -> [Array; N] {
    let mut it = old.into_iter();
    new.map(|n| lax::select(mask, &n, &it.next().expect("same length")))
}

/// `dx/da` from the series of `P(a, x)`, for the elements where `enabled`.
fn series_grad(a: &Array, x: &Array, enabled: &Array) -> Array {
    let dt = a.dtype();
    let c = |v: f64| fconst(v, dt);
    let eps = c(epsilon(dt));
    let zeros = lax::broadcast(&c(0.0), a.shape());
    let ones = lax::broadcast(&c(1.0), a.shape());
    // [enabled, steps, r = a + n, c_n, S, dc_n/da, dS/da]
    let init = [
        enabled.clone(),
        c(0.0),
        a.clone(),
        ones.clone(),
        ones,
        zeros.clone(),
        zeros,
    ];
    let cond = |s: &[Array; 7]| lax::bitwise_and(&any(&s[0]), &lax::lt(&s[1], &c(MAX_STEPS)));
    let body = |s: [Array; 7]| {
        let [on, steps, r, term, sum, dterm, dsum] = s;
        let r1 = lax::add(&r, &c(1.0));
        let ratio = lax::div(x, &r1);
        // d/da of term·x/(a+n) = dterm·x/(a+n) - term·x/(a+n)².
        let dterm1 = lax::sub(
            &lax::mul(&dterm, &ratio),
            &lax::div(&lax::mul(&term, x), &lax::mul(&r1, &r1)),
        );
        let dsum1 = lax::add(&dsum, &dterm1);
        let term1 = lax::mul(&term, &ratio);
        let sum1 = lax::add(&sum, &term1);
        let [r, term, sum, dterm, dsum] = update(
            &on,
            [r1, term1, sum1, dterm1, dsum1],
            [r, term, sum, dterm, dsum],
        );
        let going = lax::gt(&lax::abs(&lax::div(&dterm, &dsum)), &eps);
        let on = lax::bitwise_and(&on, &going);
        [on, lax::add(&steps, &c(1.0)), r, term, sum, dterm, dsum]
    };
    let [_, _, _, _, sum, _, dsum] = lax::while_loop(cond, body, init);
    let dlog = lax::sub(&lax::log(x), &lax::digamma(&lax::add(a, &c(1.0))));
    let inner = lax::add(&lax::mul(&sum, &dlog), &dsum);
    lax::neg(&lax::div(&lax::mul(&inner, x), a))
}

/// `dx/da` from the continued fraction of `Q(a, x)`, for the elements where `enabled`.
fn fraction_grad(a: &Array, x: &Array, enabled: &Array) -> Array {
    let dt = a.dtype();
    let c = |v: f64| fconst(v, dt);
    let eps = c(epsilon(dt));
    let big = 2f64.powi(52);
    let zeros = lax::broadcast(&c(0.0), a.shape());
    let y = lax::sub(&c(1.0), a);
    let z = lax::add(&lax::add(x, &y), &c(1.0));
    let pkm1 = lax::add(x, &c(1.0));
    let qkm1 = lax::mul(&z, x);
    let ans = lax::div(&pkm1, &qkm1);
    let dqkm1 = lax::neg(x);
    let dans = lax::div(&lax::mul(&ans, x), &qkm1);
    // [enabled, steps, y, z, n, p(k-1), q(k-1), p(k-2), q(k-2), F,
    //  dp(k-1), dq(k-1), dp(k-2), dq(k-2), dF]  (d = d/da)
    let init = [
        enabled.clone(),
        c(0.0),
        y,
        z,
        zeros.clone(),
        pkm1,
        qkm1,
        lax::broadcast(&c(1.0), a.shape()),
        x.clone(),
        ans,
        zeros.clone(),
        dqkm1,
        zeros.clone(),
        zeros,
        dans,
    ];
    let cond = |s: &[Array; 15]| lax::bitwise_and(&any(&s[0]), &lax::lt(&s[1], &c(MAX_STEPS)));
    let body = |s: [Array; 15]| {
        let [on, steps, y, z, n, pkm1, qkm1, pkm2, qkm2, ans, dpkm1, dqkm1, dpkm2, dqkm2, dans] = s;
        let n1 = lax::add(&n, &c(1.0));
        let y1 = lax::add(&y, &c(1.0));
        let z1 = lax::add(&z, &c(2.0));
        let yc = lax::mul(&y1, &n1);
        let pk = lax::sub(&lax::mul(&pkm1, &z1), &lax::mul(&pkm2, &yc));
        let qk = lax::sub(&lax::mul(&qkm1, &z1), &lax::mul(&qkm2, &yc));
        let nonzero = lax::ne(&qk, &c(0.0));
        let ratio = lax::div(&pk, &qk);
        let ans1 = lax::select(&nonzero, &ratio, &ans);
        // dz/da = dy/da = -1, so d(yc)/da = -n.
        let dpk = lax::add(
            &lax::sub(
                &lax::sub(&lax::mul(&dpkm1, &z1), &pkm1),
                &lax::mul(&dpkm2, &yc),
            ),
            &lax::mul(&pkm2, &n1),
        );
        let dqk = lax::add(
            &lax::sub(
                &lax::sub(&lax::mul(&dqkm1, &z1), &qkm1),
                &lax::mul(&dqkm2, &yc),
            ),
            &lax::mul(&qkm2, &n1),
        );
        let dans_new = lax::div(&lax::sub(&dpk, &lax::mul(&ans1, &dqk)), &qk);
        let dans1 = lax::select(&nonzero, &dans_new, &dans);
        let change = lax::abs(&lax::sub(&dans1, &dans));
        let going = lax::bitwise_or(&lax::not(&nonzero), &lax::gt(&change, &eps));
        // Keep the recurrence's terms in range.
        let scale = lax::select(
            &lax::gt(&lax::abs(&pk), &c(big)),
            &lax::broadcast(&c(1.0 / big), pk.shape()),
            &lax::broadcast(&c(1.0), pk.shape()),
        );
        let s = |v: &Array| lax::mul(v, &scale);
        let new = [
            y1,
            z1,
            n1,
            s(&pk),
            s(&qk),
            s(&pkm1),
            s(&qkm1),
            ans1,
            s(&dpk),
            s(&dqk),
            s(&dpkm1),
            s(&dqkm1),
            dans1,
        ];
        let old = [
            y, z, n, pkm1, qkm1, pkm2, qkm2, ans, dpkm1, dqkm1, dpkm2, dqkm2, dans,
        ];
        let [y, z, n, pkm1, qkm1, pkm2, qkm2, ans, dpkm1, dqkm1, dpkm2, dqkm2, dans] =
            update(&on, new, old);
        let on = lax::bitwise_and(&on, &going);
        [
            on,
            lax::add(&steps, &c(1.0)),
            y,
            z,
            n,
            pkm1,
            qkm1,
            pkm2,
            qkm2,
            ans,
            dpkm1,
            dqkm1,
            dpkm2,
            dqkm2,
            dans,
        ]
    };
    let s = lax::while_loop(cond, body, init);
    let (ans, dans) = (&s[9], &s[14]);
    let dlog = lax::sub(&lax::log(x), &lax::digamma(a));
    lax::mul(&lax::add(&lax::mul(ans, &dlog), dans), x)
}
