//! `jaxon::nn`: neural-network functions like `jax.nn`.

use crate::array::Array;
use crate::lax;
use crate::numpy::{self as jnp, canonical_axes, canonical_axis, to_inexact, ArrayLike};
use crate::prim::custom::custom_jvp;
use oxla::DType;

/// max(x, 0), with a custom JVP like `jax.nn.relu`: the derivative at 0 is 0 (not the
/// 0.5 that `maximum`'s tie rule would give).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{nn, numpy as jnp};
/// let g = grad(|x: Array| nn::relu(&x).sum(None))(jnp::array(&[-1.0f32, 0.0, 2.0]));
/// assert_eq!(g.to_vec::<f32>(), vec![0.0, 0.0, 1.0]);
/// ```
#[track_caller]
pub fn relu(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    custom_jvp(relu_impl, |x: Array, t: Array| {
        let dt = jnp::where_(jnp::greater(&x, 0), &t, 0);
        (relu_impl(x), dt)
    })(x)
}

fn relu_impl(x: Array) -> Array {
    jnp::maximum(&x, 0)
}

/// Logistic sigmoid 1 / (1 + exp(-x)).
#[track_caller]
pub fn sigmoid(x: impl ArrayLike) -> Array {
    lax::logistic(&to_inexact(x.operand()))
}

/// x * sigmoid(x).
#[track_caller]
pub fn silu(x: impl ArrayLike) -> Array {
    let x = to_inexact(x.operand());
    lax::mul(&x, &lax::logistic(&x))
}

/// Alias of [`silu`].
#[track_caller]
pub fn swish(x: impl ArrayLike) -> Array {
    silu(x)
}

/// log(1 + exp(x)), computed stably, with the derivative sigmoid(x) as a custom JVP
/// so that gradients stay finite for large |x| (1 at x = 1000, 0 at x = -1000).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{nn, numpy as jnp};
/// let g = grad(|x: Array| nn::softplus(&x).sum(None))(jnp::array(&[-1000.0f32, 0.0, 1000.0]));
/// assert_eq!(g.to_vec::<f32>(), vec![0.0, 0.5, 1.0]);
/// ```
#[track_caller]
pub fn softplus(x: impl ArrayLike) -> Array {
    let x = to_inexact(x.operand());
    custom_jvp(softplus_impl, |x: Array, t: Array| {
        let dt = lax::mul(&t, &lax::logistic(&x));
        (softplus_impl(x), dt)
    })(x)
}

fn softplus_impl(x: Array) -> Array {
    jnp::logaddexp(&x, 0.0)
}

/// log(1 + exp(x)): the same function as [`softplus`] (values and safe gradient).
#[track_caller]
pub fn log1pexp(x: impl ArrayLike) -> Array {
    softplus(x)
}

/// GELU; `approximate` uses the tanh formula (jax.nn.gelu's default).
#[track_caller]
pub fn gelu(x: impl ArrayLike, approximate: bool) -> Array {
    let x = to_inexact(x.operand());
    if approximate {
        let c = (2.0 / std::f64::consts::PI).sqrt();
        let inner = &x
            + lax::mul(
                &lax::integer_pow(&x, 3),
                &lax::full_like_scalar(&x, 0.044715),
            );
        let t = lax::tanh(&lax::mul(&inner, &lax::full_like_scalar(&x, c)));
        &x * 0.5 * (t + 1.0)
    } else {
        let e = lax::erf(&lax::mul(
            &x,
            &lax::full_like_scalar(&x, std::f64::consts::FRAC_1_SQRT_2),
        ));
        &x * 0.5 * (e + 1.0)
    }
}

/// Softmax along `axis`.
///
/// ```
/// use jaxon::{nn, numpy as jnp};
/// let p = nn::softmax(&jnp::array(&[1.0f32, 1.0]), -1);
/// assert_eq!(p.to_vec::<f32>(), vec![0.5, 0.5]);
/// ```
#[track_caller]
pub fn softmax(x: impl ArrayLike, axis: i64) -> Array {
    let x = to_inexact(x.operand());
    let a = canonical_axis("softmax", axis, x.ndim()) as i64;
    // Shifting by the max changes nothing mathematically and avoids overflow.
    let m = jnp::max(&x, Some(&[a]), true);
    let e = jnp::exp(&x - &m);
    let s = jnp::sum(&e, Some(&[a]), true);
    e / s
}

/// log(softmax(x)) along `axis`, computed stably.
#[track_caller]
pub fn log_softmax(x: impl ArrayLike, axis: i64) -> Array {
    let x = to_inexact(x.operand());
    let a = canonical_axis("log_softmax", axis, x.ndim()) as i64;
    let m = jnp::max(&x, Some(&[a]), true);
    let shifted = &x - &m;
    let lse = jnp::log(jnp::sum(jnp::exp(&shifted), Some(&[a]), true));
    shifted - lse
}

/// log(sum(exp(x))) over `axes` (None = all), stable; the values of
/// [`jnp::logsumexp`]. Its custom JVP makes the gradient the softmax of `x` even with
/// infinities: where the result is ±inf the weight is spread evenly over the entries
/// equal to it (the limit of the softmax), instead of NaN.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{nn, numpy as jnp};
/// let g = grad(|x: Array| nn::logsumexp(&x, None))(jnp::array(&[f32::INFINITY, 1.0]));
/// assert_eq!(g.to_vec::<f32>(), vec![1.0, 0.0]);
/// ```
#[track_caller]
pub fn logsumexp(x: impl ArrayLike, axes: Option<&[i64]>) -> Array {
    let x = to_inexact(x.operand());
    // Checked here so that a bad axis points at the caller.
    let axes: Option<Vec<i64>> = axes.map(|a| {
        canonical_axes("logsumexp", a, x.ndim())
            .iter()
            .map(|&d| d as i64)
            .collect()
    });
    logsumexp_custom(x, axes, false)
}

fn logsumexp_custom(x: Array, axes: Option<Vec<i64>>, keepdims: bool) -> Array {
    let ax = axes.clone();
    custom_jvp(
        move |x: Array| jnp::logsumexp(&x, ax.as_deref(), keepdims),
        move |x: Array, t: Array| {
            let out = logsumexp_custom(x.clone(), axes.clone(), keepdims);
            let w = logsumexp_weights(&x, axes.clone());
            (out, jnp::sum(lax::mul(&t, &w), axes.as_deref(), keepdims))
        },
    )(x)
}

/// d logsumexp / dx: exp(x - lse) where lse is finite, else the indicator of
/// x == lse normalised. Non-selected lanes see only safe values (no NaN leaks into
/// reverse mode through the select).
fn logsumexp_weights(x: &Array, axes: Option<Vec<i64>>) -> Array {
    let lse = logsumexp_custom(x.clone(), axes.clone(), true);
    let lse_b = jnp::broadcast_to(&lse, x.shape());
    let finite = jnp::isfinite(&lse_b);
    let safe_x = jnp::where_(&finite, x, 0.0);
    let safe_lse = jnp::where_(&finite, &lse_b, 0.0);
    let soft = jnp::exp(jnp::subtract(safe_x, safe_lse));
    let hit = lax::stop_gradient(&jnp::equal(x, &lse_b).astype(x.dtype()));
    let count = jnp::sum(&hit, axes.as_deref(), true);
    let limit = jnp::divide(&hit, count);
    jnp::where_(&finite, soft, limit)
}

/// One-hot encoding along a new last axis; out-of-range indices give a zero row.
#[track_caller]
pub fn one_hot(x: impl ArrayLike, num_classes: usize, dtype: DType) -> Array {
    let x = x.to_array();
    let mut shape = x.shape().to_vec();
    shape.push(num_classes);
    let classes = lax::broadcasted_iota(x.dtype(), &shape, shape.len() - 1);
    let xb = lax::broadcast_in_dim(&x, &shape, &(0..x.ndim()).collect::<Vec<_>>());
    lax::convert_element_type(&lax::eq(&xb, &classes), dtype)
}

/// min(max(x, 0), 6).
#[track_caller]
pub fn relu6(x: impl ArrayLike) -> Array {
    jnp::minimum(jnp::maximum(x, 0), 6.0)
}

/// log(sigmoid(x)) = -softplus(-x), stable.
#[track_caller]
pub fn log_sigmoid(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    jnp::negative(softplus(jnp::negative(&x)))
}

/// Exponential linear unit: x for x > 0, else alpha * (exp(x) - 1).
#[track_caller]
pub fn elu(x: impl ArrayLike, alpha: f64) -> Array {
    let x = x.to_array();
    let pos = jnp::greater(&x, 0);
    // expm1 of the positive side is never taken, so large x cannot overflow it.
    let safe = jnp::where_(&pos, 0.0, &x);
    jnp::where_(&pos, &x, jnp::multiply(alpha, jnp::expm1(&safe)))
}

/// x for x >= 0, else negative_slope * x (jax.nn's default slope is 0.01).
#[track_caller]
pub fn leaky_relu(x: impl ArrayLike, negative_slope: f64) -> Array {
    let x = x.to_array();
    jnp::where_(
        jnp::greater_equal(&x, 0),
        &x,
        jnp::multiply(negative_slope, &x),
    )
}

/// x clipped to [-1, 1].
#[track_caller]
pub fn hard_tanh(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    let inner = jnp::where_(jnp::less(&x, -1), -1, &x);
    jnp::where_(jnp::greater(&x, 1), 1, inner)
}

/// relu6(x + 3) / 6.
#[track_caller]
pub fn hard_sigmoid(x: impl ArrayLike) -> Array {
    // Multiplied by the reciprocal: XLA rewrites division by a constant this way, so
    // this rounds exactly like JAX.
    jnp::multiply(relu6(jnp::add(x, 3.0)), 1.0 / 6.0)
}

/// x * hard_sigmoid(x).
#[track_caller]
pub fn hard_silu(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    jnp::multiply(&x, hard_sigmoid(&x))
}

/// Alias of [`hard_silu`].
#[track_caller]
pub fn hard_swish(x: impl ArrayLike) -> Array {
    hard_silu(x)
}

/// Scaled ELU with the self-normalizing constants.
#[track_caller]
pub fn selu(x: impl ArrayLike) -> Array {
    const ALPHA: f64 = 1.673_263_242_354_377_3;
    const SCALE: f64 = 1.050_700_987_355_480_5;
    jnp::multiply(SCALE, elu(x, ALPHA))
}

/// Continuously differentiable ELU: max(x, 0) + alpha * expm1(min(x, 0) / alpha).
#[track_caller]
pub fn celu(x: impl ArrayLike, alpha: f64) -> Array {
    let x = x.to_array();
    let neg = jnp::expm1(jnp::divide(jnp::minimum(&x, 0.0), alpha));
    jnp::add(jnp::maximum(&x, 0.0), jnp::multiply(alpha, neg))
}

/// x / (|x| + 1).
#[track_caller]
pub fn soft_sign(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    jnp::divide(&x, jnp::add(jnp::abs(&x), 1))
}

/// x * tanh(softplus(x)).
#[track_caller]
pub fn mish(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    jnp::multiply(&x, jnp::tanh(softplus(&x)))
}

/// 0 for x <= -1, x for x >= 1, (x + 1)² / 4 in between.
#[track_caller]
pub fn sparse_plus(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    let mid = jnp::divide(jnp::power(jnp::add(&x, 1.0), 2), 4);
    let upper = jnp::where_(jnp::greater_equal(&x, 1.0), &x, mid);
    jnp::where_(jnp::less_equal(&x, -1.0), 0.0, upper)
}

/// (x - mean) / sqrt(var + epsilon) over `axes` (None = all; jax.nn's default is
/// `Some(&[-1])`, epsilon 1e-5), with var = mean(x²) - mean(x)².
#[track_caller]
pub fn standardize(x: impl ArrayLike, axes: Option<&[i64]>, epsilon: f64) -> Array {
    let x = x.to_array();
    let mean = jnp::mean(&x, axes, true);
    let var = jnp::subtract(jnp::mean(jnp::square(&x), axes, true), jnp::square(&mean));
    jnp::multiply(
        jnp::subtract(&x, &mean),
        lax::rsqrt(&jnp::add(var, epsilon)),
    )
}

/// Gated linear unit: splits `x` in two halves along `axis` and returns a * sigmoid(b).
#[track_caller]
pub fn glu(x: impl ArrayLike, axis: i64) -> Array {
    let x = x.to_array();
    let a = canonical_axis("glu", axis, x.ndim());
    if !x.shape()[a].is_multiple_of(2) {
        crate::error::user_error(format!(
            "glu: axis {axis} of shape {:?} must have an even size",
            x.shape()
        ));
    }
    let halves = jnp::split(&x, 2usize, a as i64);
    jnp::multiply(&halves[0], sigmoid(&halves[1]))
}

/// `x` where `mask`, else `v` (the mask broadcast to `x`'s shape).
#[track_caller]
fn masked(mask: Option<&Array>, x: &Array, v: f64) -> Array {
    match mask {
        Some(m) => jnp::where_(m, x, lax::full_like_scalar(x, v)),
        None => x.clone(),
    }
}

/// Softmax over `axes` (None = all), optionally only over the entries where `where_`
/// is true (the others give 0), like `jax.nn.softmax(x, axis, where=...)`.
///
/// ```
/// use jaxon::{nn, numpy as jnp};
/// let m = jnp::array(&[true, false, true]);
/// let p = nn::softmax_with(&jnp::array(&[1.0f32, 5.0, 1.0]), None, Some(&m));
/// assert_eq!(p.to_vec::<f32>(), vec![0.5, 0.0, 0.5]);
/// ```
#[track_caller]
pub fn softmax_with(x: impl ArrayLike, axes: Option<&[i64]>, where_: Option<&Array>) -> Array {
    let x = to_inexact(x.operand());
    let init = jnp::ReduceOptions::new().initial(f64::NEG_INFINITY);
    let safe = masked(where_, &x, f64::NEG_INFINITY);
    let m = jnp::max_with(&safe, axes, true, init);
    let e = jnp::exp(jnp::subtract(&safe, &m));
    let e = masked(where_, &e, 0.0);
    let s = jnp::sum(&e, axes, true);
    masked(where_, &jnp::divide(&e, s), 0.0)
}

/// log(softmax(x)) over `axes` (None = all), optionally masked by `where_` (masked
/// entries give -inf), like `jax.nn.log_softmax(x, axis, where=...)`.
#[track_caller]
pub fn log_softmax_with(x: impl ArrayLike, axes: Option<&[i64]>, where_: Option<&Array>) -> Array {
    let x = to_inexact(x.operand());
    let init = jnp::ReduceOptions::new().initial(f64::NEG_INFINITY);
    let safe = masked(where_, &x, f64::NEG_INFINITY);
    let m = jnp::max_with(&safe, axes, true, init);
    let shifted = jnp::subtract(&safe, &m);
    let e = masked(where_, &jnp::exp(&shifted), 0.0);
    let lse = jnp::log(jnp::sum(e, axes, true));
    masked(where_, &jnp::subtract(&shifted, lse), f64::NEG_INFINITY)
}

/// [`one_hot`] with the class axis at `axis` (-1 = last, jax.nn's default).
#[track_caller]
pub fn one_hot_with(x: impl ArrayLike, num_classes: usize, dtype: DType, axis: i64) -> Array {
    let x = x.to_array();
    let a = canonical_axis("one_hot", axis, x.ndim() + 1);
    jnp::moveaxis(one_hot(&x, num_classes, dtype), -1, a as i64)
}
