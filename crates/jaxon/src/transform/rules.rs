//! Small helpers shared by the transformation rules of many primitives.

use crate::array::Array;
use crate::core::aval::Aval;
use crate::lax;

/// Zeros with `x`'s shape and dtype.
pub fn zeros_like(x: &Array) -> Array {
    zeros_aval(&x.aval())
}

/// Zeros of an aval.
pub fn zeros_aval(a: &Aval) -> Array {
    let z = lax::full_like_scalar_dtype(a.dtype, 0.0);
    lax::broadcast_in_dim(&z, &a.shape, &[])
}

/// A tangent or cotangent made concrete: zeros for `None`.
pub fn instantiate(t: &Option<Array>, aval: &Aval) -> Array {
    match t {
        Some(t) => t.clone(),
        None => zeros_aval(aval),
    }
}

/// Sum of two optional tangents.
pub fn add_tangents(a: Option<Array>, b: Option<Array>) -> Option<Array> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => Some(lax::add(&a, &b)),
    }
}

/// Sums `ct` down to `shape` (undoing a broadcast of a 0-d or equal-shape operand).
pub fn unbroadcast(ct: &Array, shape: &[usize]) -> Array {
    if ct.shape() == shape {
        return ct.clone();
    }
    if shape.is_empty() {
        let axes: Vec<usize> = (0..ct.ndim()).collect();
        return lax::reduce_sum(ct, &axes);
    }
    // Same rank: sum the dims that were size 1.
    let axes: Vec<usize> = (0..ct.ndim())
        .filter(|&d| shape[d] == 1 && ct.shape()[d] != 1)
        .collect();
    let s = lax::reduce_sum(ct, &axes);
    lax::reshape(&s, shape)
}

/// Moves batch dim `from` of `x` to position `to`.
pub fn move_axis(x: &Array, from: usize, to: usize) -> Array {
    if from == to {
        return x.clone();
    }
    let mut perm: Vec<usize> = (0..x.ndim()).filter(|&d| d != from).collect();
    perm.insert(to, from);
    lax::transpose(x, &perm)
}

/// `x` with its batch dim at 0: moved there, or broadcast in when unbatched.
pub fn bdim_to_front(x: &Array, bdim: Option<usize>, size: usize) -> Array {
    match bdim {
        Some(d) => move_axis(x, d, 0),
        None => lax::broadcast(x, &[size]),
    }
}

/// `x` (batch dim `bdim`) with its batch dim at 0, leaving unbatched 0-d values as
/// they are (elementwise primitives accept 0-d operands).
pub fn bdim_to_front_or_scalar(x: &Array, bdim: Option<usize>, size: usize, rank: usize) -> Array {
    match bdim {
        Some(d) => move_axis(x, d, 0),
        None if x.ndim() == 0 => x.clone(),
        None => {
            let _ = rank;
            lax::broadcast(x, &[size])
        }
    }
}

/// Batching rule of elementwise primitives: every operand gets the batch dim at the
/// front and the per-example output shape (unbatched 0-d operands stay 0-d), then
/// the primitive runs once on the batch; the output batch dim is 0.
pub fn batch_elementwise(
    prim: impl crate::core::primitive::Primitive + Clone,
    args: &[Array],
    dims: &[Option<usize>],
    size: usize,
) -> crate::core::primitive::RuleResult<crate::core::primitive::BatchOut> {
    // The per-example shape of the output: the largest per-example operand shape.
    let example_shape: Vec<usize> = args
        .iter()
        .zip(dims)
        .map(|(a, d)| {
            let mut s = a.shape().to_vec();
            if let Some(d) = d {
                s.remove(*d);
            }
            s
        })
        .max_by_key(|s| s.len())
        .unwrap_or_default();
    let mut full = vec![size];
    full.extend_from_slice(&example_shape);
    let all_dims: Vec<usize> = (0..full.len()).collect();
    let moved: Vec<Array> = args
        .iter()
        .zip(dims)
        .map(|(a, d)| match d {
            Some(d) => {
                let m = move_axis(a, *d, 0);
                if m.ndim() == 1 && !example_shape.is_empty() {
                    lax::broadcast_in_dim(&m, &full, &[0])
                } else {
                    m
                }
            }
            None if a.ndim() == 0 => a.clone(),
            None => lax::broadcast_in_dim(a, &full, &all_dims[1..]),
        })
        .collect();
    let outs = crate::core::trace::bind(prim, &moved);
    let n = outs.len();
    Ok((outs, vec![Some(0); n]))
}

/// The JVP of a primitive that is linear in its single operand: the same primitive
/// applied to the primal and to the tangent.
pub fn linear_jvp(
    prim: impl crate::core::primitive::Primitive + Clone,
    primals: &[Array],
    tangents: &[Option<Array>],
) -> crate::core::primitive::RuleResult<crate::core::primitive::JvpOut> {
    use crate::core::trace::bind1;
    let ans = bind1(prim.clone(), primals);
    let t = tangents[0]
        .as_ref()
        .map(|t| bind1(prim, std::slice::from_ref(t)));
    Ok((vec![ans], vec![t]))
}
