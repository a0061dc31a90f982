//! Dead code elimination: drops instructions whose results nobody uses and
//! computations that no live computation refers to.
//!
//! Kept even when unused: instructions with a side effect (directly or through a
//! region) and parameters (harmless, and backends may expect one per parameter).
//! An effect-free while loop whose results are unused is removed like anything
//! else, even if it would not have ended.

use super::rewrite::Rewriter;
use super::rewrite::{effectful_computations, has_effect, remove_unreachable_computations};
use super::Pass;
use crate::hlo::ir::{Computation, Op};
use crate::{Error, Module};

/// The dead code elimination pass.
pub struct Dce;

impl Pass for Dce {
    fn name(&self) -> &'static str {
        "dce"
    }

    fn run(&self, module: &mut Module) -> Result<bool, Error> {
        let effectful = effectful_computations(module);
        let mut changed = false;
        for comp in &mut module.computations {
            if let Some(new) = dce_computation(comp, &effectful) {
                *comp = new;
                changed = true;
            }
        }
        changed |= remove_unreachable_computations(module);
        Ok(changed)
    }
}

/// The computation without its dead instructions; `None` when all are live.
fn dce_computation(comp: &Computation, effectful: &[bool]) -> Option<Computation> {
    let mut live = vec![false; comp.instrs.len()];
    for r in &comp.results {
        live[r.instr] = true;
    }
    // Operands precede their users, so one backward sweep marks everything.
    for (i, instr) in comp.instrs.iter().enumerate().rev() {
        if matches!(instr.op, Op::Parameter { .. }) || has_effect(&instr.op, effectful) {
            live[i] = true;
        }
        if live[i] {
            for o in &instr.operands {
                live[o.instr] = true;
            }
        }
    }
    if live.iter().all(|&l| l) {
        return None;
    }
    let mut r = Rewriter::new(comp.instrs.len());
    for (instr, &l) in comp.instrs.iter().zip(&live) {
        if l {
            r.copy(instr);
        } else {
            // Nothing live reads a dead instruction, so it needs no new values.
            r.bind(Vec::new());
        }
    }
    Some(r.finish(comp))
}
