//! Dots of one slice per iteration of a loop-invariant array, computed for every
//! slice before the loop, for the CPU backend.
//!
//! A scan RNN's `x_t · U` reads `x_t = xs[t]` (a dynamic_slice of an array the loop
//! carries unchanged) against an invariant `U`. Per step that is a small GEMM on
//! one core (a [32,64]·[64,256] takes ~10 µs); for all steps at once it is one
//! large GEMM on every core, and each step reads its slice of the result (the
//! slice fuses into the step's elementwise kernel). RNN libraries precompute the
//! input projection the same way.
//!
//! The rewrite needs a known trip count (a counter starting at a constant, stepped
//! by one, compared with a constant) of at least half the number of slices, so at
//! most twice the loop's own work is done, and the hoisted result stays under
//! [`MAX_HOISTED_BYTES`] (it lives as long as the loop).
//!
//! Every output element is the same sum of the same products as before (the
//! interpreter's results are bit-identical); only gemm's blocking differs.

use crate::hlo::ir::{CmpDir, Computation, Instr, Module, Op, Value};
use crate::hlo::verify::infer_shapes;
use crate::passes::rewrite::{replace_instrs, Rewriter};
use crate::passes::Pass;
use crate::{Error, Literal, Shape};

/// The largest hoisted dot result (bytes).
pub const MAX_HOISTED_BYTES: usize = 256 << 20;

/// The pass (see the module docs).
pub struct HoistSlicedDots;

impl Pass for HoistSlicedDots {
    fn name(&self) -> &'static str {
        "hoist_sliced_dots"
    }

    fn run(&self, module: &mut Module) -> Result<bool, Error> {
        let mut changed = false;
        // Each rewrite replaces the dots it hoists, so this ends; the bound only
        // guards against a mistake in that reasoning.
        for _ in 0..1000 {
            match find_loop(module) {
                Some((comp, instr, cands)) => {
                    hoist(module, comp, instr, &cands)?;
                    changed = true;
                }
                None => return Ok(changed),
            }
        }
        Ok(changed)
    }
}

/// One dot of a loop body that reads a slice of an invariant array.
#[derive(Clone, Debug)]
struct Candidate {
    /// The dot's position in the body.
    dot: usize,
    /// Which dot operand is the slice (0: lhs, 1: rhs).
    side: usize,
    /// The body parameter (= loop state slot) of the sliced array.
    source: usize,
    /// The other operand: an invariant parameter's slot or a constant.
    other: Other,
    /// The sliced dim of the source array.
    dim: usize,
    /// Whether a reshape dropped the unit dim between the slice and the dot.
    reshaped: bool,
    /// The body value of the start index along `dim`.
    index: Value,
}

#[derive(Clone, Debug)]
enum Other {
    Param(usize),
    Constant(Literal),
}

/// The first while loop (computation, instruction) with dots to hoist.
fn find_loop(module: &Module) -> Option<(usize, usize, Vec<Candidate>)> {
    let mut refs = vec![0usize; module.computations.len()];
    for comp in &module.computations {
        for instr in &comp.instrs {
            for r in instr.op.regions() {
                refs[r.0] += 1;
            }
        }
    }
    for (c, comp) in module.computations.iter().enumerate() {
        for (i, instr) in comp.instrs.iter().enumerate() {
            let Op::While { cond, body } = instr.op else {
                continue;
            };
            // The body and condition are rewritten: nothing else may call them.
            if cond == body || refs[cond.0] != 1 || refs[body.0] != 1 {
                continue;
            }
            let (cond, body) = (module.computation(cond), module.computation(body));
            let Some(trips) = trip_count(comp, instr, cond, body) else {
                continue;
            };
            let cands = candidates(body, trips);
            if !cands.is_empty() {
                return Some((c, i, cands));
            }
        }
    }
    None
}

/// The parameter index `v` reads, if it is a parameter.
fn param_of(comp: &Computation, v: Value) -> Option<usize> {
    match comp.instrs[v.instr].op {
        Op::Parameter { index } => Some(index),
        _ => None,
    }
}

/// The integer scalar constant `v`, if it is one.
fn int_constant(comp: &Computation, v: Value) -> Option<i128> {
    match &comp.instrs[v.instr].op {
        Op::Constant(lit) if lit.shape().rank() == 0 && lit.dtype().is_int() => {
            Some(lit.data().get_i128(0))
        }
        _ => None,
    }
}

/// Which loop state slots the body passes through unchanged.
fn invariant_slots(body: &Computation) -> Vec<bool> {
    (0..body.params.len())
        .map(|j| body.results.get(j).and_then(|&v| param_of(body, v)) == Some(j))
        .collect()
}

/// How many times the loop `instr` (in `parent`) runs, when a counter slot starts
/// at a constant, the body adds one to it, and the condition compares it with a
/// constant.
fn trip_count(
    parent: &Computation,
    instr: &Instr,
    cond: &Computation,
    body: &Computation,
) -> Option<i128> {
    let &[test] = cond.results.as_slice() else {
        return None;
    };
    let t = &cond.instrs[test.instr];
    let Op::Compare { dir, .. } = t.op else {
        return None;
    };
    let (a, b) = (t.operands[0], t.operands[1]);
    // Normalize to `counter < bound` or `counter <= bound`.
    let (slot, bound, inclusive) = match dir {
        CmpDir::Lt | CmpDir::Le => (
            param_of(cond, a)?,
            int_constant(cond, b)?,
            dir == CmpDir::Le,
        ),
        CmpDir::Gt | CmpDir::Ge => (
            param_of(cond, b)?,
            int_constant(cond, a)?,
            dir == CmpDir::Ge,
        ),
        _ => return None,
    };
    let step = &body.instrs[body.results.get(slot)?.instr];
    let steps_by_one = matches!(step.op, Op::Binary(crate::BinaryOp::Add))
        && match (
            param_of(body, step.operands[0]),
            param_of(body, step.operands[1]),
        ) {
            (Some(p), None) => p == slot && int_constant(body, step.operands[1]) == Some(1),
            (None, Some(p)) => p == slot && int_constant(body, step.operands[0]) == Some(1),
            _ => false,
        };
    if !steps_by_one {
        return None;
    }
    let start = int_constant(parent, *instr.operands.get(slot)?)?;
    Some((bound + i128::from(inclusive) - start).max(0))
}

/// The dots of `body` worth hoisting out of a loop that runs `trips` times.
fn candidates(body: &Computation, trips: i128) -> Vec<Candidate> {
    let invariant = invariant_slots(body);
    let is_invariant = |v: Value| param_of(body, v).filter(|&j| invariant[j]);
    let mut out = Vec::new();
    for (d, instr) in body.instrs.iter().enumerate() {
        let Op::DotGeneral { dims, .. } = &instr.op else {
            continue;
        };
        for side in 0..2 {
            let other = instr.operands[1 - side];
            let other = match (&body.instrs[other.instr].op, is_invariant(other)) {
                (_, Some(j)) => Other::Param(j),
                (Op::Constant(lit), None) => Other::Constant(lit.clone()),
                _ => continue,
            };
            let Some((source, dim, reshaped, index)) =
                sliced_invariant(body, instr.operands[side], &is_invariant)
            else {
                continue;
            };
            let (batch, contracting) = if side == 0 {
                (&dims.lhs_batch, &dims.lhs_contracting)
            } else {
                (&dims.rhs_batch, &dims.rhs_contracting)
            };
            // Without the reshape, the unit dim must be a free dim of the dot.
            if !reshaped && (batch.contains(&dim) || contracting.contains(&dim)) {
                continue;
            }
            let slices = body.params[source].dims[dim] as i128;
            let bytes = body.shape(Value { instr: d, index: 0 }).size_bytes() as i128 * slices;
            if 2 * trips < slices || bytes > MAX_HOISTED_BYTES as i128 {
                continue;
            }
            out.push(Candidate {
                dot: d,
                side,
                source,
                other,
                dim,
                reshaped,
                index,
            });
            break;
        }
    }
    out
}

/// `v` as one slice of an invariant parameter: `dynamic_slice` of size 1 along one
/// dim (`dim`) and full along the others, possibly followed by a reshape that drops
/// that dim. Returns (parameter, dim, reshaped, start index along dim).
fn sliced_invariant(
    body: &Computation,
    v: Value,
    is_invariant: &impl Fn(Value) -> Option<usize>,
) -> Option<(usize, usize, bool, Value)> {
    let mut slice = &body.instrs[v.instr];
    let mut reshaped_to = None;
    if let Op::Reshape { dims } = &slice.op {
        reshaped_to = Some(dims.clone());
        slice = &body.instrs[slice.operands[0].instr];
    }
    let Op::DynamicSlice { sizes } = &slice.op else {
        return None;
    };
    let source = is_invariant(slice.operands[0])?;
    let full = &body.params[source].dims;
    let differ: Vec<usize> = (0..full.len()).filter(|&d| sizes[d] != full[d]).collect();
    let &[dim] = differ.as_slice() else {
        return None;
    };
    if sizes[dim] != 1 {
        return None;
    }
    if let Some(dims) = &reshaped_to {
        let mut dropped = sizes.clone();
        dropped.remove(dim);
        if *dims != dropped {
            return None;
        }
    }
    Some((source, dim, reshaped_to.is_some(), slice.operands[1 + dim]))
}

/// The dot over the whole source array for candidate `c` of `dot`, whose other
/// operand has rank `other_rank`: (operation, position of the sliced dim in its
/// result).
fn whole_dot(dot: &Instr, c: &Candidate, other_rank: usize) -> (Op, usize) {
    let Op::DotGeneral { dims, out_dtype } = &dot.op else {
        unreachable!("candidates are dots")
    };
    // Operand dim i of the slice is source dim `lift(i)`.
    let lift = |i: &usize| if c.reshaped && *i >= c.dim { i + 1 } else { *i };
    let lift_all = |v: &[usize]| v.iter().map(lift).collect::<Vec<_>>();
    let mut new = dims.clone();
    if c.side == 0 {
        new.lhs_batch = lift_all(&dims.lhs_batch);
        new.lhs_contracting = lift_all(&dims.lhs_contracting);
    } else {
        new.rhs_batch = lift_all(&dims.rhs_batch);
        new.rhs_contracting = lift_all(&dims.rhs_contracting);
    }
    let (batch, contracting) = if c.side == 0 {
        (&new.lhs_batch, &new.lhs_contracting)
    } else {
        (&new.rhs_batch, &new.rhs_contracting)
    };
    // Result dims: batch, lhs free, rhs free (each in operand order).
    let free_before = (0..c.dim)
        .filter(|d| !batch.contains(d) && !contracting.contains(d))
        .count();
    let lhs_free = if c.side == 1 {
        other_rank - new.lhs_batch.len() - new.lhs_contracting.len()
    } else {
        0
    };
    let position = new.lhs_batch.len() + lhs_free + free_before;
    let op = Op::DotGeneral {
        dims: new,
        out_dtype: *out_dtype,
    };
    (op, position)
}

/// Hoists `cands` out of the while loop `instr` of computation `comp`.
fn hoist(module: &mut Module, comp: usize, instr: usize, cands: &[Candidate]) -> Result<(), Error> {
    let parent = &module.computations[comp];
    let w = &parent.instrs[instr];
    let Op::While { cond, body } = w.op else {
        unreachable!("find_loop returns while loops")
    };
    let old_body = module.computation(body);
    let slots = old_body.params.len();
    let failed = |e: String| Error::InvalidModule(format!("hoist_sliced_dots: {e}"));

    // The whole dots, their result shapes and the sliced dim's position.
    let mut wholes = Vec::with_capacity(cands.len());
    for c in cands {
        let dot = &old_body.instrs[c.dot];
        let source = &old_body.params[c.source];
        let other = match &c.other {
            Other::Param(j) => old_body.params[*j].clone(),
            Other::Constant(lit) => lit.shape().clone(),
        };
        let (op, position) = whole_dot(dot, c, other.rank());
        let operands = if c.side == 0 {
            [source, &other]
        } else {
            [&other, source]
        };
        let shape = infer_shapes(&op, &operands, &[], &[]).map_err(failed)?;
        wholes.push((op, shape[0].clone(), position));
    }

    // The parent: the whole dots before the loop, the loop with one more slot each.
    let new_parent = replace_instrs(parent, |r, old| {
        if !std::ptr::eq(old, w) {
            return None;
        }
        let mut operands = r.map_all(&old.operands);
        let mut shapes = old.shapes.clone();
        for (c, (op, shape, _)) in cands.iter().zip(&wholes) {
            let source = r.map(old.operands[c.source]);
            let other = match &c.other {
                Other::Param(j) => r.map(old.operands[*j]),
                Other::Constant(lit) => {
                    r.push1(Op::Constant(lit.clone()), vec![], lit.shape().clone())
                }
            };
            let pair = if c.side == 0 {
                vec![source, other]
            } else {
                vec![other, source]
            };
            operands.push(r.push1(op.clone(), pair, shape.clone()));
            shapes.push(shape.clone());
        }
        let results = r.push(old.op.clone(), operands, shapes);
        Some(results[..old.shapes.len()].to_vec())
    });

    // The body: one slice of the hoisted result in place of each dot.
    let mut r = Rewriter::new(old_body.instrs.len());
    let params: Vec<Value> = wholes
        .iter()
        .enumerate()
        .map(|(k, (_, shape, _))| {
            r.push1(Op::Parameter { index: slots + k }, vec![], shape.clone())
        })
        .collect();
    for (i, old) in old_body.instrs.iter().enumerate() {
        let Some(k) = cands.iter().position(|c| c.dot == i) else {
            r.copy(old);
            continue;
        };
        let (_, shape, position) = &wholes[k];
        let index = r.map(cands[k].index);
        let index_dtype = r.shape(index).dtype;
        let zero = r.push1(
            Op::Constant(Literal::scalar_i128(index_dtype, 0)),
            vec![],
            Shape::scalar(index_dtype),
        );
        let mut sizes = shape.dims.clone();
        sizes[*position] = 1;
        let mut starts = vec![zero; sizes.len()];
        starts[*position] = index;
        let mut operands = vec![params[k]];
        operands.extend(starts);
        let slice_shape = Shape::new(shape.dtype, sizes.clone());
        let slice = r.push1(Op::DynamicSlice { sizes }, operands, slice_shape);
        let want = &old.shapes[0];
        let value = r.push1(
            Op::Reshape {
                dims: want.dims.clone(),
            },
            vec![slice],
            want.clone(),
        );
        r.bind(vec![value]);
    }
    let mut new_body = r.finish(old_body);
    for (k, (_, shape, _)) in wholes.iter().enumerate() {
        new_body.params.push(shape.clone());
        new_body.results.push(params[k]);
    }

    module.computations[comp] = new_parent;
    module.computations[body.0] = new_body;
    let cond = &mut module.computations[cond.0];
    cond.params
        .extend(wholes.into_iter().map(|(_, shape, _)| shape));
    Ok(())
}
