//! Sorting: `sort`, `argsort`, `lexsort` (like jax.numpy).
//!
//! Floats sort as `-inf < ... < -0.0 == 0.0 < ... < inf < NaN` (see `lax::sort`).

use super::promote::{canonical_axis, ArrayLike};
use crate::array::Array;
use crate::error::user_error;
use crate::lax;
use oxla::DType;

/// The array to sort and the axis: `None` flattens first.
#[track_caller]
fn sort_operand(op: &str, x: Array, axis: Option<i64>) -> (Array, usize) {
    match axis {
        None => {
            let n = x.size();
            (lax::reshape(&x, &[n]), 0)
        }
        Some(a) => {
            let axis = canonical_axis(op, a, x.ndim());
            (x, axis)
        }
    }
}

/// `x` sorted along `axis` (`None`: flattened), ascending and stable.
///
/// ```
/// use jaxon::numpy as jnp;
/// let x = jnp::array(&[3.0f32, f32::NAN, -1.0, 2.0]);
/// let s = jnp::sort(&x, Some(0)).to_vec::<f32>();
/// assert_eq!(&s[..3], &[-1.0, 2.0, 3.0]);
/// assert!(s[3].is_nan());
/// ```
#[track_caller]
pub fn sort(x: impl ArrayLike, axis: Option<i64>) -> Array {
    sort_with(x, axis, true, false)
}

/// [`sort`] with jax.numpy's `stable` and `descending` options.
#[track_caller]
pub fn sort_with(x: impl ArrayLike, axis: Option<i64>, stable: bool, descending: bool) -> Array {
    let (x, axis) = sort_operand("sort", x.to_array(), axis);
    let out = lax::sort(&[x], axis, stable, 1).remove(0);
    if descending {
        lax::rev(&out, &[axis])
    } else {
        out
    }
}

/// The int32 indices that sort `x` along `axis` (`None`: flattened); stable, so
/// equal elements keep their order.
///
/// ```
/// use jaxon::numpy as jnp;
/// let i = jnp::argsort(&jnp::array(&[3.0f32, 1.0, 2.0, 1.0]), Some(-1));
/// assert_eq!(i.to_vec::<i32>(), vec![1, 3, 2, 0]);
/// ```
#[track_caller]
pub fn argsort(x: impl ArrayLike, axis: Option<i64>) -> Array {
    argsort_with(x, axis, true, false)
}

/// [`argsort`] with jax.numpy's `stable` and `descending` options. A stable
/// descending argsort keeps equal elements in their original order.
#[track_caller]
pub fn argsort_with(x: impl ArrayLike, axis: Option<i64>, stable: bool, descending: bool) -> Array {
    let (x, axis) = sort_operand("argsort", x.to_array(), axis);
    let mut keys = x;
    let mut iota = lax::broadcasted_iota(DType::I32, keys.shape(), axis);
    // Reversing first and reversing the result back keeps ties in order (like JAX).
    if descending && stable {
        keys = lax::rev(&keys, &[axis]);
        iota = lax::rev(&iota, &[axis]);
    }
    let (_, idx) = lax::sort_key_val(&keys, &iota, axis, stable);
    if descending {
        lax::rev(&idx, &[axis])
    } else {
        idx
    }
}

/// Indirect stable sort by several keys: the last key is the primary one (NumPy's
/// `lexsort`). All keys must have the same shape; returns int32 indices.
///
/// ```
/// use jaxon::numpy as jnp;
/// let a = jnp::array(&[1i32, 0, 1, 0]);
/// let b = jnp::array(&[2i32, 2, 1, 1]);
/// assert_eq!(jnp::lexsort(&[a, b], -1).to_vec::<i32>(), vec![3, 2, 1, 0]);
/// ```
#[track_caller]
pub fn lexsort(keys: &[Array], axis: i64) -> Array {
    let Some(first) = keys.first() else {
        user_error("lexsort: needs at least one key")
    };
    if let Some(k) = keys.iter().find(|k| k.shape() != first.shape()) {
        user_error(format!(
            "lexsort: all keys need the same shape, got {:?} and {:?}",
            first.shape(),
            k.shape()
        ));
    }
    if first.ndim() == 0 {
        return Array::scalar_i128(0, DType::I32, false);
    }
    let axis = canonical_axis("lexsort", axis, first.ndim());
    let mut operands: Vec<Array> = keys.iter().rev().cloned().collect();
    operands.push(lax::broadcasted_iota(DType::I32, first.shape(), axis));
    lax::sort(&operands, axis, true, keys.len())
        .pop()
        .expect("sort output")
}

/// `x` rearranged along `axis` so the element at `kth` is the one a sort would put
/// there, smaller-or-equal ones before it and larger-or-equal ones after (NumPy's
/// `partition`). The order within each side is unspecified; jaxon returns it
/// sorted, which satisfies the contract.
#[track_caller]
pub fn partition(x: impl ArrayLike, kth: i64, axis: i64) -> Array {
    let x = x.to_array();
    check_kth("partition", &x, kth, axis);
    sort(&x, Some(axis))
}

/// The int32 indices that [`partition`] `x` along `axis` around `kth` (stable).
#[track_caller]
pub fn argpartition(x: impl ArrayLike, kth: i64, axis: i64) -> Array {
    let x = x.to_array();
    check_kth("argpartition", &x, kth, axis);
    argsort(&x, Some(axis))
}

#[track_caller]
fn check_kth(op: &str, x: &Array, kth: i64, axis: i64) {
    let n = x.shape()[canonical_axis(op, axis, x.ndim())] as i64;
    if kth < -n || kth >= n {
        user_error(format!(
            "{op}: kth {kth} is out of bounds for an axis of size {n}"
        ));
    }
}
