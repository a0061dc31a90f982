//! `jaxon::lax`: thin wrappers over the primitives, like `jax.lax`. Operands must
//! already have equal dtypes (and equal shapes, or be 0-d, for elementwise ops):
//! promotion and broadcasting are the numpy layer's job.

pub use crate::prim::collective::*;
pub use crate::prim::control::*;
pub use crate::prim::conv::*;
pub use crate::prim::dot::*;
pub use crate::prim::elementwise::*;
pub use crate::prim::index::*;
pub use crate::prim::reduce::*;
pub use crate::prim::shape::*;
pub use crate::prim::sort::*;
pub use crate::prim::windowed::*;
pub use crate::random::gamma_grad::random_gamma_grad;
