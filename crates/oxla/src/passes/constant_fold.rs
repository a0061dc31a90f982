//! Constant folding: an instruction whose operands are all constants is evaluated by
//! the interpreter at compile time and replaced by constants.
//!
//! Not folded: parameters, side-effecting instructions (directly or through a
//! region), while loops and anything whose regions contain one (the loop might not
//! end), results or operands of more than [`FOLD_LIMIT`] elements in total, and
//! growing broadcasts, and iotas whose result has more than [`FOLD_EXPAND_LIMIT`] elements
//! (a broadcast scalar is cheaper than a large constant). An instruction the
//! interpreter fails on is left for the runtime to report.

use super::rewrite::Rewriter;
use super::rewrite::{computations_containing, contains, extract_computations, map_regions};
use super::Pass;
use crate::backend::interp::evaluate;
use crate::hlo::ir::{CompId, Computation, Instr, Module, Op, Value};
use crate::{Error, Literal};

/// Largest number of elements (results together, and operands together) of an
/// instruction that is folded.
pub const FOLD_LIMIT: usize = 1 << 16;

/// Largest result (in elements) of a folded broadcast or iota, unless the broadcast
/// does not grow its operand.
pub const FOLD_EXPAND_LIMIT: usize = 64;

/// The constant folding pass.
pub struct ConstantFold;

impl Pass for ConstantFold {
    fn name(&self) -> &'static str {
        "constant_fold"
    }

    fn run(&self, module: &mut Module) -> Result<bool, Error> {
        let pinned = computations_containing(module, is_pinned);
        let mut changed = false;
        for ci in 0..module.computations.len() {
            if let Some(new) = fold_computation(module, module.computation(CompId(ci)), &pinned) {
                module.computations[ci] = new;
                changed = true;
            }
        }
        Ok(changed)
    }
}

/// `comp` (a computation of `module`) with its foldable instructions folded;
/// `None` when nothing folded.
fn fold_computation(module: &Module, comp: &Computation, pinned: &[bool]) -> Option<Computation> {
    let mut r = Rewriter::new(comp.instrs.len());
    let mut changed = false;
    for instr in &comp.instrs {
        let operands = r.map_all(&instr.operands);
        let consts: Option<Vec<&Literal>> = operands
            .iter()
            .map(|&v| match &r.def(v).op {
                Op::Constant(lit) => Some(lit),
                _ => None,
            })
            .collect();
        let folded = match consts {
            Some(consts) if foldable(instr, &consts, pinned) => {
                evaluate_alone(module, instr, &consts)
            }
            _ => None,
        };
        match folded {
            Some(lits) => {
                let values = lits
                    .into_iter()
                    .map(|lit| {
                        let shape = lit.shape().clone();
                        r.push1(Op::Constant(lit), vec![], shape)
                    })
                    .collect();
                r.bind(values);
                changed = true;
            }
            None => {
                r.copy(instr);
            }
        }
    }
    changed.then(|| r.finish(comp))
}

/// Ops that must run where they are: effects, and loops that may not end.
fn is_pinned(op: &Op) -> bool {
    op.has_side_effect() || matches!(op, Op::While { .. })
}

/// Whether `instr`, whose operands are the constants `consts`, may be folded.
fn foldable(instr: &Instr, consts: &[&Literal], pinned: &[bool]) -> bool {
    if matches!(instr.op, Op::Parameter { .. } | Op::Constant(_)) {
        return false;
    }
    // Folding a math function with the interpreter's libm would make a function's
    // result depend on whether its inputs happened to be constants (jit vs eager
    // vs vmap): backends compute them with their own approximations.
    if contains(&instr.op, is_pinned, pinned) || instr.op.is_approximated_math() {
        return false;
    }
    let out: usize = instr.shapes.iter().map(|s| s.num_elements()).sum();
    let inputs: usize = consts.iter().map(|c| c.num_elements()).sum();
    // A broadcast that grows stays a broadcast: fusion computes it for free, while a
    // folded copy would be one more array for kernels to read.
    if matches!(instr.op, Op::BroadcastInDim { .. }) && out > inputs {
        return false;
    }
    let expands = matches!(instr.op, Op::Iota { .. });
    out <= FOLD_LIMIT && inputs <= FOLD_LIMIT && !(expands && out > FOLD_EXPAND_LIMIT)
}

/// Runs `instr` on `consts` in a module of its own (with copies of its regions).
fn evaluate_alone(module: &Module, instr: &Instr, consts: &[&Literal]) -> Option<Vec<Literal>> {
    let (mut comps, new_ids) = extract_computations(module, &instr.op.regions());
    let mut op = instr.op.clone();
    map_regions(&mut op, |id| new_ids[id.0].expect("regions are extracted"));
    let mut instrs: Vec<Instr> = consts
        .iter()
        .map(|&c| Instr {
            op: Op::Constant(c.clone()),
            operands: vec![],
            shapes: vec![c.shape().clone()],
        })
        .collect();
    let operands = (0..consts.len())
        .map(|instr| Value { instr, index: 0 })
        .collect();
    let n = instr.shapes.len();
    instrs.push(Instr {
        op,
        operands,
        shapes: instr.shapes.clone(),
    });
    let root = consts.len();
    comps.push(Computation {
        name: "fold".to_string(),
        params: vec![],
        instrs,
        results: (0..n).map(|index| Value { instr: root, index }).collect(),
    });
    let entry = CompId(comps.len() - 1);
    let tiny = Module {
        name: "constant_fold".to_string(),
        computations: comps,
        entry,
    };
    evaluate(&tiny, &[]).ok()
}
