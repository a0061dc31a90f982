//! `jaxon::nn`: neural-network functions like `jax.nn`.

use crate::array::Array;
use crate::lax;
use crate::numpy::{self as jnp, canonical_axis, to_inexact, ArrayLike};
use oxla::DType;

/// max(x, 0).
#[track_caller]
pub fn relu(x: impl ArrayLike) -> Array {
    let x = x.to_array();
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

/// log(1 + exp(x)), computed stably.
#[track_caller]
pub fn softplus(x: impl ArrayLike) -> Array {
    let x = to_inexact(x.operand());
    jnp::logaddexp(&x, 0.0)
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

/// log(sum(exp(x))) over `axes` (None = all), stable.
#[track_caller]
pub fn logsumexp(x: impl ArrayLike, axes: Option<&[i64]>) -> Array {
    jnp::logsumexp(x, axes, false)
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
