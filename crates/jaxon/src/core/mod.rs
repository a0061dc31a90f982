//! The frontend core: avals, primitives, traces and `bind`, jaxprs, eager execution.

pub mod aval;
pub mod eager;
pub mod jaxpr;
pub mod lower;
pub mod primitive;
pub mod trace;

pub use aval::Aval;
pub use jaxpr::{trace_to_jaxpr, Atom, ClosedJaxpr, Eqn, Jaxpr, Var};
pub use primitive::{LowerCtx, Primitive};
pub use trace::{bind, bind1, current_trace, Trace, Tracer};
