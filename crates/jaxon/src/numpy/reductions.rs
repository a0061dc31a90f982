//! Reductions with axes and keepdims: sum, mean, prod, max, min, argmax, argmin,
//! var, std, all, any, logsumexp.

use super::promote::{canonical_axes, canonical_axis, to_inexact, ArrayLike};
use crate::array::Array;
use crate::dtypes::default_int;
use crate::error::user_error;
use crate::lax;
use crate::prim::reduce::ReduceKind;
use oxla::DType;

/// Resolves `axes` (None = all) for an array of rank `ndim`.
#[track_caller]
fn resolve_axes(op: &str, axes: Option<&[i64]>, ndim: usize) -> Vec<usize> {
    match axes {
        None => (0..ndim).collect(),
        Some(a) => canonical_axes(op, a, ndim),
    }
}

/// Re-inserts reduced axes as size 1 when `keepdims`.
#[track_caller]
fn keep(x: Array, axes: &[usize], keepdims: bool) -> Array {
    if !keepdims {
        return x;
    }
    let mut dims = axes.to_vec();
    dims.sort_unstable();
    lax::expand_dims(&x, &dims)
}

/// Sum accumulation dtype like jax.numpy: bool and narrow ints sum as the default
/// int; unsigned narrow ints as uint32.
fn sum_dtype(d: DType) -> DType {
    match d {
        DType::Bool | DType::I8 | DType::I16 => default_int(),
        DType::U8 | DType::U16 => DType::U32,
        d => d,
    }
}

#[track_caller]
fn reduce_with(
    op: &str,
    x: impl ArrayLike,
    axes: Option<&[i64]>,
    keepdims: bool,
    kind: ReduceKind,
    upcast: bool,
) -> Array {
    let x = x.to_array();
    let axes = resolve_axes(op, axes, x.ndim());
    let x = if upcast {
        lax::convert_weak(&x, sum_dtype(x.dtype()), x.weak_type())
    } else {
        x
    };
    let r = if upcast {
        with_f16_upcast(&x, |x| lax::reduce(x, kind, &axes))
    } else {
        lax::reduce(&x, kind, &axes)
    };
    keep(r, &axes, keepdims)
}

/// Runs `f` on float16/bfloat16 input in float32 and converts back, as JAX does for
/// sums, products, means and variances (so half-precision sums do not overflow early).
#[track_caller]
fn with_f16_upcast(x: &Array, f: impl FnOnce(&Array) -> Array) -> Array {
    let d = x.dtype();
    if d == DType::F16 || d == DType::BF16 {
        let r = f(&lax::convert_weak(x, DType::F32, x.weak_type()));
        lax::convert_weak(&r, d, r.weak_type())
    } else {
        f(x)
    }
}

/// Sum over `axes` (None = all).
///
/// ```
/// use jaxon::numpy as jnp;
/// let m = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
/// assert_eq!(jnp::sum(&m, Some(&[1]), false).to_vec::<f32>(), vec![3.0, 7.0]);
/// ```
#[track_caller]
pub fn sum(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    reduce_with("sum", x, axes, keepdims, ReduceKind::Sum, true)
}

/// Product over `axes`.
#[track_caller]
pub fn prod(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    reduce_with("prod", x, axes, keepdims, ReduceKind::Prod, true)
}

#[track_caller]
fn check_nonempty(op: &str, x: &Array, axes: &[usize]) {
    if axes.iter().any(|&a| x.shape()[a] == 0) {
        user_error(format!(
            "{op}: zero-size array to reduction operation with no identity (shape {:?})",
            x.shape()
        ));
    }
}

/// Maximum over `axes` (NaN propagates).
#[track_caller]
pub fn max(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = x.to_array();
    check_nonempty("max", &x, &resolve_axes("max", axes, x.ndim()));
    reduce_with("max", x, axes, keepdims, ReduceKind::Max, false)
}

/// Minimum over `axes` (NaN propagates).
#[track_caller]
pub fn min(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = x.to_array();
    check_nonempty("min", &x, &resolve_axes("min", axes, x.ndim()));
    reduce_with("min", x, axes, keepdims, ReduceKind::Min, false)
}

/// Alias of [`max`].
#[track_caller]
pub fn amax(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    max(x, axes, keepdims)
}

/// Alias of [`min`].
#[track_caller]
pub fn amin(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    min(x, axes, keepdims)
}

#[track_caller]
fn truthy(x: Array) -> Array {
    if x.dtype() == DType::Bool {
        x
    } else {
        lax::ne(&x, &lax::full_like_scalar(&x, 0.0))
    }
}

/// True if all elements over `axes` are truthy.
#[track_caller]
pub fn all(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = truthy(x.to_array());
    reduce_with("all", x, axes, keepdims, ReduceKind::And, false)
}

/// True if any element over `axes` is truthy.
#[track_caller]
pub fn any(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = truthy(x.to_array());
    reduce_with("any", x, axes, keepdims, ReduceKind::Or, false)
}

/// Number of reduced elements as an array of `like`'s dtype.
fn count(x: &Array, axes: &[usize], like: &Array) -> Array {
    let n: usize = axes.iter().map(|&a| x.shape()[a]).product();
    lax::full_like_scalar(like, n as f64)
}

/// Arithmetic mean over `axes` (integers average in float32).
#[track_caller]
pub fn mean(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = to_inexact(x.operand());
    let ax = resolve_axes("mean", axes, x.ndim());
    let m = with_f16_upcast(&x, |x| {
        let s = lax::reduce_sum(x, &ax);
        lax::div(&s, &count(x, &ax, &s))
    });
    keep(m, &ax, keepdims)
}

/// Variance over `axes` with `ddof` delta degrees of freedom.
#[track_caller]
pub fn var(x: impl ArrayLike, axes: Option<&[i64]>, ddof: usize, keepdims: bool) -> Array {
    let x = to_inexact(x.operand());
    let ax = resolve_axes("var", axes, x.ndim());
    let v = with_f16_upcast(&x, |x| {
        let mu = keep(mean(x, axes, false), &ax, true);
        let centered = lax::sub(x, &super::promote::broadcast_to_shape(&mu, x.shape()));
        let sq = lax::mul(&centered, &centered);
        let s = lax::reduce_sum(&sq, &ax);
        let n: usize = ax.iter().map(|&a| x.shape()[a]).product();
        let denom = lax::full_like_scalar(&s, n as f64 - ddof as f64);
        lax::div(&s, &denom)
    });
    keep(v, &ax, keepdims)
}

/// Standard deviation over `axes`.
#[track_caller]
pub fn std(x: impl ArrayLike, axes: Option<&[i64]>, ddof: usize, keepdims: bool) -> Array {
    lax::sqrt(&var(x, axes, ddof, keepdims))
}

#[track_caller]
fn arg_extreme(op: &str, x: impl ArrayLike, axis: Option<i64>, is_max: bool) -> Array {
    let x = x.to_array();
    let (x, axis) = match axis {
        None => (lax::reshape(&x, &[x.size()]), 0),
        Some(a) => {
            let a = canonical_axis(op, a, x.ndim());
            (x, a)
        }
    };
    if x.shape()[axis] == 0 {
        user_error(format!(
            "{op}: attempt to get {op} of an empty sequence (shape {:?})",
            x.shape()
        ));
    }
    if is_max {
        lax::argmax(&x, axis, DType::I32)
    } else {
        lax::argmin(&x, axis, DType::I32)
    }
}

/// Index of the first maximum along `axis` (None = flattened); NaN counts as maximal.
#[track_caller]
pub fn argmax(x: impl ArrayLike, axis: Option<i64>) -> Array {
    arg_extreme("argmax", x, axis, true)
}

/// Index of the first minimum along `axis` (None = flattened); NaN counts as minimal.
#[track_caller]
pub fn argmin(x: impl ArrayLike, axis: Option<i64>) -> Array {
    arg_extreme("argmin", x, axis, false)
}

/// log(sum(exp(x))) over `axes`, computed stably.
#[track_caller]
pub fn logsumexp(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = to_inexact(x.operand());
    let ax = resolve_axes("logsumexp", axes, x.ndim());
    let m = lax::reduce_max(&x, &ax);
    // Infinite maxima would give inf - inf = NaN; shift by 0 there instead.
    let finite = lax::is_finite(&m);
    let m = lax::select(
        &finite,
        &m,
        &lax::broadcast_in_dim(&lax::full_like_scalar(&m, 0.0), m.shape(), &[]),
    );
    let mk = keep(m.clone(), &ax, true);
    let shifted = lax::sub(&x, &super::promote::broadcast_to_shape(&mk, x.shape()));
    let s = lax::reduce_sum(&lax::exp(&shifted), &ax);
    let out = lax::add(&lax::log(&s), &m);
    keep(out, &ax, keepdims)
}
