//! Cumulative reductions: `cumsum`, `cumprod`, `nancumsum`, `nancumprod`.
//!
//! Accumulation dtypes follow jax.numpy: bool and integers narrower than the default
//! int (i32) accumulate in i32, narrow unsigned integers in u32; wider integers and
//! floats keep their dtype. An explicit `dtype` overrides this (bool accumulates in
//! i32 and is converted back at the end).

use super::promote::{canonical_axis, ArrayLike};
use crate::array::Array;
use crate::dtypes::default_int;
use crate::lax;
use crate::prim::windowed::CumKind;
use oxla::DType;

/// JAX's `_promote_integer_dtype`: the accumulator for sums and products.
fn promote_integer_dtype(dtype: DType) -> DType {
    let int = default_int();
    if dtype.is_bool() {
        int
    } else if dtype.is_unsigned_int() && dtype.bits() < int.bits() {
        DType::U32
    } else if dtype.is_signed_int() && dtype.bits() < int.bits() {
        int
    } else {
        dtype
    }
}

#[track_caller]
fn cumulative_reduction(
    name: &str,
    kind: CumKind,
    a: impl ArrayLike,
    axis: Option<i64>,
    dtype: Option<DType>,
    nan_fill: Option<f64>,
) -> Array {
    let mut a = a.to_array();
    if axis.is_none() || a.ndim() == 0 {
        a = lax::reshape(&a, &[a.size()]);
    }
    let axis = canonical_axis(name, axis.unwrap_or(0), a.ndim());
    if let Some(fill) = nan_fill {
        if a.dtype().is_float() {
            let is_nan = lax::ne(&a, &a);
            let fill = lax::broadcast(&lax::full_like_scalar(&a, fill), a.shape());
            a = lax::select(&is_nan, &fill, &a);
        }
    }
    let mut acc = dtype.unwrap_or(a.dtype());
    if dtype.is_none() || acc.is_bool() {
        acc = promote_integer_dtype(acc);
    }
    if dtype == Some(DType::Bool) && !a.dtype().is_bool() {
        a = lax::ne(&a, &lax::full_like_scalar(&a, 0.0));
    }
    let a = lax::convert_element_type(&a, acc);
    let out = match kind {
        CumKind::Sum => lax::cumsum(&a, axis, false),
        _ => lax::cumprod(&a, axis, false),
    };
    match dtype {
        Some(DType::Bool) => lax::convert_element_type(&out, DType::Bool),
        _ => out,
    }
}

/// Cumulative sum along `axis` (`None`: of the flattened array), like `jnp.cumsum`.
///
/// ```
/// use jaxon::numpy as jnp;
/// let x = jnp::array(&[[1i8, 2], [3, 4]]);
/// let c = jnp::cumsum(&x, Some(0));
/// assert_eq!(c.dtype(), jaxon::DType::I32); // small ints accumulate in int32
/// assert_eq!(c.to_vec::<i32>(), vec![1, 2, 4, 6]);
/// assert_eq!(jnp::cumsum(&x, None).to_vec::<i32>(), vec![1, 3, 6, 10]);
/// ```
#[track_caller]
pub fn cumsum(a: impl ArrayLike, axis: Option<i64>) -> Array {
    cumulative_reduction("cumsum", CumKind::Sum, a, axis, None, None)
}

/// [`cumsum`] accumulating in `dtype` (`None`: the jax.numpy default).
#[track_caller]
pub fn cumsum_with(a: impl ArrayLike, axis: Option<i64>, dtype: Option<DType>) -> Array {
    cumulative_reduction("cumsum", CumKind::Sum, a, axis, dtype, None)
}

/// Cumulative product along `axis` (`None`: of the flattened array).
#[track_caller]
pub fn cumprod(a: impl ArrayLike, axis: Option<i64>) -> Array {
    cumulative_reduction("cumprod", CumKind::Prod, a, axis, None, None)
}

/// [`cumprod`] accumulating in `dtype` (`None`: the jax.numpy default).
#[track_caller]
pub fn cumprod_with(a: impl ArrayLike, axis: Option<i64>, dtype: Option<DType>) -> Array {
    cumulative_reduction("cumprod", CumKind::Prod, a, axis, dtype, None)
}

/// [`cumsum`] treating NaNs as zero.
#[track_caller]
pub fn nancumsum(a: impl ArrayLike, axis: Option<i64>) -> Array {
    cumulative_reduction("nancumsum", CumKind::Sum, a, axis, None, Some(0.0))
}

/// [`cumprod`] treating NaNs as one.
#[track_caller]
pub fn nancumprod(a: impl ArrayLike, axis: Option<i64>) -> Array {
    cumulative_reduction("nancumprod", CumKind::Prod, a, axis, None, Some(1.0))
}
