//! Common subexpression elimination within each computation: an instruction equal
//! to an earlier one (same op and attributes, same operands, same result shapes)
//! is replaced by it. Constants are compared bit for bit (so `0.0` and `-0.0` stay
//! apart, and equal NaNs merge). Side-effecting instructions (directly or through a
//! region) are never merged.

use super::rewrite::{effectful_computations, has_effect, literal_bits_eq, Rewriter};
use super::Pass;
use crate::hlo::ir::{Computation, Instr, Op, Value};
use crate::{Error, Module, Shape};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// The common subexpression elimination pass.
pub struct Cse;

impl Pass for Cse {
    fn name(&self) -> &'static str {
        "cse"
    }

    fn run(&self, module: &mut Module) -> Result<bool, Error> {
        let effectful = effectful_computations(module);
        let mut changed = false;
        for comp in &mut module.computations {
            if let Some(new) = cse_computation(comp, &effectful) {
                *comp = new;
                changed = true;
            }
        }
        Ok(changed)
    }
}

/// The computation with duplicates merged; `None` when there were none.
fn cse_computation(comp: &Computation, effectful: &[bool]) -> Option<Computation> {
    let mut r = Rewriter::new(comp.instrs.len());
    // Hash of (op name, operands, shapes, constant bits) -> new instructions.
    let mut seen: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut changed = false;
    for instr in &comp.instrs {
        if has_effect(&instr.op, effectful) {
            r.copy(instr);
            continue;
        }
        let operands = r.map_all(&instr.operands);
        let key = key_hash(&instr.op, &operands, &instr.shapes);
        let bucket = seen.entry(key).or_default();
        let found = bucket
            .iter()
            .copied()
            .find(|&j| same(&r.instrs[j], &instr.op, &operands, &instr.shapes));
        match found {
            Some(j) => {
                let values = (0..instr.shapes.len())
                    .map(|index| Value { instr: j, index })
                    .collect();
                r.bind(values);
                changed = true;
            }
            None => {
                let out = r.push(instr.op.clone(), operands, instr.shapes.clone());
                bucket.push(r.instrs.len() - 1);
                r.bind(out);
            }
        }
    }
    changed.then(|| r.finish(comp))
}

/// A hash of what identifies an instruction; attributes other than a constant's
/// value are left out (equal hashes are checked with [`same`]).
fn key_hash(op: &Op, operands: &[Value], shapes: &[Shape]) -> u64 {
    let mut h = DefaultHasher::new();
    op.name().hash(&mut h);
    operands.hash(&mut h);
    shapes.hash(&mut h);
    if let Op::Constant(lit) = op {
        lit.data().to_bytes().hash(&mut h);
    }
    h.finish()
}

/// Whether `earlier` computes the same as an instruction of `op` on `operands`.
fn same(earlier: &Instr, op: &Op, operands: &[Value], shapes: &[Shape]) -> bool {
    let op_eq = match (&earlier.op, op) {
        (Op::Constant(a), Op::Constant(b)) => literal_bits_eq(a, b),
        // No other op holds floats, so derived equality is exact.
        (a, b) => a == b,
    };
    op_eq && earlier.operands == operands && earlier.shapes == shapes
}
