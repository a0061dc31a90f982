//! `jaxon::numpy`: the jax.numpy API, built only from lax primitives.
//!
//! Conventions: names and argument order follow jax.numpy; array arguments accept
//! `&Array`, `Array` or a Rust scalar ([`ArrayLike`]); one axis is `Option<i64>`
//! (`None` = flattened), several are `Option<&[i64]>`; negative axes count from the
//! end. Rust scalars are weakly typed (like Python scalars in JAX): `x * 2.0` keeps
//! `x`'s dtype. Alone, a float scalar becomes f32 and an integer scalar i32.

mod creation;
mod cumulative;
mod indexing;
pub mod linalg;
mod linalg_decomp;
mod linalg_eig;
mod math;
mod promote;
mod reductions;
mod shape_ops;
mod sorting;

pub use creation::*;
pub use cumulative::*;
pub use indexing::*;
pub use linalg::*;
pub use math::*;
pub use promote::{
    broadcast_shapes, broadcast_to_shape, canonical_axes, canonical_axis, promote_dtypes,
    promote_operands, to_inexact, try_broadcast_shapes, ArrayLike, Operand,
};
pub use reductions::*;
pub use shape_ops::*;
pub use sorting::*;

/// Index marker for a new axis of size 1 (`x.i((NewAxis, ..))`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewAxis;

/// Index marker for "all remaining axes" (`x.i((Ellipsis, 0))`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ellipsis;
