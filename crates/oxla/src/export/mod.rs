//! Exporting modules to other compilers' formats.
//!
//! [`to_stablehlo_text`] prints a [`crate::Module`] as StableHLO MLIR text that
//! XLA's own parser (e.g. jaxlib's `compile_and_load`) accepts.

mod mlir;
pub mod stablehlo;

pub use stablehlo::to_stablehlo_text;
