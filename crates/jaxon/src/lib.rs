//! # jaxon — JAX for Rust
//!
//! NumPy-style array code on [`Array`], built from primitives that are traced by
//! composable transformations and compiled by [`oxla`].
//!
//! ```
//! use jaxon::prelude::*;
//! use jaxon::numpy as jnp;
//! let x = jnp::array(&[1.0f32, 2.0, 3.0]);
//! let y = (&x * 2.0 + 1.0).sum(None);
//! assert_eq!(y.item::<f32>(), 15.0);
//! ```

pub mod array;
pub mod config;
pub mod core;
pub mod debug;
pub mod display;
pub mod dtypes;
pub mod error;
pub mod lax;
mod methods;
pub mod nn;
pub mod numpy;
mod ops;
pub mod prim;
pub mod random;
pub mod test_util;
pub mod transform;
pub mod tree;

/// Guides, compiled as doctests.
pub mod guide {
    #[doc = include_str!("../../../docs/transformations.md")]
    pub mod transformations {}
    #[doc = include_str!("../../../docs/randomness.md")]
    pub mod randomness {}
}

// Lets `#[derive(Tree)]` (which emits `::jaxon::...` paths) work inside this crate.
extern crate self as jaxon;

pub use array::{Array, Element};
pub use error::Error;
/// `#[derive(Tree)]`: see [`tree`].
pub use jaxon_macros::Tree;
pub use oxla::DType;
pub use prim::custom::{custom_jvp, custom_vjp};
pub use transform::api::{
    grad, grad_with_aux, hessian, jacfwd, jacrev, jit, jit_with, jvp, linearize, lower, make_jaxpr,
    value_and_grad, value_and_grad_with_aux, vjp, vmap, vmap_with, AxisSpec, JitOptions, Lowered,
};
pub use transform::remat::{checkpoint, checkpoint_with, remat, Policy};
pub use tree::{
    tree_flatten, tree_leaves, tree_map, tree_map2, tree_reduce, tree_structure, tree_transpose,
    tree_unflatten, Static, Tree, TreeDef,
};

/// The names most programs need: `use jaxon::prelude::*;`.
pub mod prelude {
    pub use crate::array::{Array, Element};
    pub use crate::axes;
    pub use crate::numpy::{ArrayLike, Ellipsis, NewAxis};
    pub use crate::prim::custom::{custom_jvp, custom_vjp};
    pub use crate::transform::api::{
        grad, grad_with_aux, hessian, jacfwd, jacrev, jit, jit_with, jvp, linearize, make_jaxpr,
        value_and_grad, value_and_grad_with_aux, vjp, vmap, vmap_with, JitOptions,
    };
    pub use crate::transform::remat::{checkpoint, checkpoint_with, remat, Policy};
    pub use crate::tree::{Static, Tree, TreeDef};
    pub use jaxon_macros::Tree;
    pub use oxla::DType;
}
