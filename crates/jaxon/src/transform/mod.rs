//! Transformations: forward and reverse differentiation, batching, jit.
//!
//! Each is a trace (see `core::trace`) plus the user-facing functions. The flat
//! versions here work on slices of arrays; the pytree-facing API wraps them.

pub mod ad;
pub mod api;
pub mod batching;
pub mod jit;
pub mod jvp;
pub mod remat;
pub mod rules;
