//! Shape inference for every op, and the module verifier.

use super::ir::*;
use crate::Shape;

/// The result shapes of `op` applied to operands of the given shapes.
///
/// `params` are the parameter shapes of the enclosing computation (for
/// `Op::Parameter`); `comps` are the module's finished computations (for regions).
pub fn infer_shapes(
    op: &Op,
    operands: &[&Shape],
    params: &[Shape],
    comps: &[Computation],
) -> Result<Vec<Shape>, String> {
    let _ = (op, operands, params, comps);
    Err("shape inference not written yet".to_string())
}

/// Checks that every instruction's stored shapes equal the inferred ones, that operands
/// refer to earlier instructions, and that regions exist and have fitting signatures.
pub fn verify_module(module: &Module) -> Result<(), String> {
    let _ = module;
    Ok(())
}
