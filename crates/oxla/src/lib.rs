//! # oxla
//!
//! An XLA-style array compiler: an HLO IR of SSA instructions with regions, a
//! builder and verifier, a runtime ([`Client`], [`Device`], [`Buffer`],
//! [`Executable`]) and backends. The interpreter backend executes every op and is the
//! semantic oracle for everything else.
//!
//! oxla knows nothing of tracing: its input is a [`Module`].

pub mod backend;
pub mod codegen;
mod dtype;
mod error;
pub mod export;
pub mod hlo;
mod literal;
pub mod passes;
pub mod runtime;
mod shape;

pub use dtype::DType;
pub use error::Error;
pub use hlo::builder::Builder;
pub use hlo::cost::{cost_analysis, Cost};
pub use hlo::ir::{
    BinaryOp, CmpDir, CompId, Computation, ConvDims, DotDims, FusionKind, GatherDims, Instr,
    Module, Op, ScatterDims, UnaryOp, Value,
};
pub use literal::{Data, Literal, NativeType};
pub use runtime::{default_client, Buffer, Client, Device, Executable};
pub use shape::{dims_text, same_dims, strides_of, Shape};
