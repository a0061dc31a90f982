//! Row fusion: a row reduction joins the kernel that consumes its result when that
//! kernel works on the same rows (another row reduction over the same operand dims,
//! or a loop over the reduced operand's dims) and reads the result only at its own
//! row, through a broadcast along the reduced dims. The merged kernel
//! ([`FusionKind::Row`]) runs a row's reductions one pass after another and then its
//! elementwise outputs while the row is still in cache, so softmax and layernorm
//! read their input from memory once instead of once per pass.

use super::{absorb, is_elementwise, unit_graph, users_of, Plan};
use crate::backend::interp::{simple_combiner, Combiner};
use crate::hlo::ir::*;
use crate::DType;
use std::collections::BTreeSet;

/// Rows shorter than this are not worth a pass per stage: the row kernel folds
/// four vectors of lanes at a time.
const MIN_ROW: usize = 64;
/// Rows longer than this may not stay in cache between passes.
const MAX_ROW: usize = 1 << 15;
/// Fewer rows than this leave cores idle (a row kernel splits work by rows).
const MIN_ROWS: usize = 16;

/// The operand dims of a reduction the row kernel can compute: a single-operand
/// f32/f64 reduce with add, multiply, max or min over trailing dims, with row
/// length and row count in range.
fn row_reduce_dims(module: &Module, comp: &Computation, i: usize) -> Option<(Vec<usize>, usize)> {
    let instr = &comp.instrs[i];
    let Op::Reduce { dims, body } = &instr.op else {
        return None;
    };
    if instr.operands.len() != 2 {
        return None;
    }
    let shape = comp.shape(instr.operands[0]);
    if !matches!(shape.dtype, DType::F32 | DType::F64) {
        return None;
    }
    let rank = shape.rank();
    let mut sorted = dims.clone();
    sorted.sort_unstable();
    let kept = rank.checked_sub(sorted.len())?;
    if sorted.is_empty() || sorted.iter().enumerate().any(|(k, &d)| d != kept + k) {
        return None;
    }
    match simple_combiner(module.computation(*body))? {
        Combiner::Binary(BinaryOp::Add | BinaryOp::Mul | BinaryOp::Max | BinaryOp::Min) => {}
        _ => return None,
    }
    let row: usize = shape.dims[kept..].iter().product();
    let rows: usize = shape.dims[..kept].iter().product();
    (MIN_ROW..=MAX_ROW).contains(&row).then_some(())?;
    (rows >= MIN_ROWS).then_some((shape.dims.clone(), kept))
}

/// The rows a kernel works on: the reduced operand's dims and the number of kept
/// (leading) dims, when every reduction in it is a row reduction over those dims
/// and every other root has those dims.
fn row_key(
    module: &Module,
    comp: &Computation,
    plan: &Plan,
    k: usize,
) -> Option<(Vec<usize>, usize)> {
    let kernel = &plan.kernels[k];
    if kernel.kind == FusionKind::Loop {
        return None;
    }
    let reduce_roots = kernel
        .roots
        .iter()
        .filter(|&&i| matches!(comp.instrs[i].op, Op::Reduce { .. }));
    let mut key = None;
    for &i in reduce_roots {
        let this = row_reduce_dims(module, comp, i)?;
        if key.get_or_insert_with(|| this.clone()) != &this {
            return None;
        }
    }
    // A row kernel whose reduces were all absorbed inside keeps its key in the
    // members: look there when no root is a reduce.
    let key = match key {
        Some(key) => key,
        None => {
            let member = (0..comp.instrs.len()).find(|&i| {
                !plan.dead[i]
                    && plan.kernels_of[i].contains(&k)
                    && matches!(comp.instrs[i].op, Op::Reduce { .. })
            })?;
            row_reduce_dims(module, comp, member)?
        }
    };
    let other_roots_fit = kernel.roots.iter().all(|&i| {
        matches!(comp.instrs[i].op, Op::Reduce { .. }) || comp.instrs[i].shapes[0].dims == key.0
    });
    other_roots_fit.then_some(key)
}

/// Whether kernel `b` (working on rows `key`) reads every output of kernel `a` at
/// its own row: each use is by an instruction evaluated at the row's index (an
/// elementwise op on row-shaped values, or a broadcast of a row-shaped value along
/// the reduced dims into an instruction evaluated at the row's elements).
fn reads_at_own_row(
    comp: &Computation,
    users: &[Vec<usize>],
    plan: &Plan,
    (a, b): (usize, usize),
    key: &(Vec<usize>, usize),
) -> bool {
    let (in_dims, kept) = key;
    let member = |i: usize| !plan.dead[i] && plan.kernels_of[i].contains(&b);
    // A row-shaped value: the kept dims, then dims of size 1 (keepdims).
    let row_shaped = |dims: &[usize]| {
        dims.len() >= *kept
            && dims[..*kept] == in_dims[..*kept]
            && dims[*kept..].iter().all(|&d| d == 1)
    };
    // Whether user `u` (itself evaluated at its row or row element) evaluates
    // operand `i` at the same row.
    let passes_row = |u: usize, i: usize| -> bool {
        let user = &comp.instrs[u];
        let operand_dims = &comp.instrs[i].shapes[0].dims;
        let user_dims = &user.shapes[0].dims;
        match &user.op {
            op if is_elementwise(op) => operand_dims == user_dims || operand_dims.is_empty(),
            Op::Reduce { .. } => true,
            Op::BroadcastInDim {
                broadcast_dims: dims,
                ..
            } => {
                (user_dims == in_dims || row_shaped(user_dims))
                    && row_shaped(operand_dims)
                    && dims.iter().take(*kept).copied().eq(0..*kept)
            }
            Op::Reshape { .. } => row_shaped(user_dims) && row_shaped(operand_dims),
            _ => false,
        }
    };
    // aligned[i]: member i of b is evaluated only at the current row (or its
    // elements), never at another row.
    let mut aligned = vec![false; comp.instrs.len()];
    for i in (0..comp.instrs.len()).rev() {
        if !member(i) {
            continue;
        }
        let instr = &comp.instrs[i];
        let root_ok = !plan.kernels[b].roots.contains(&i)
            || matches!(instr.op, Op::Reduce { .. })
            || &instr.shapes[0].dims == in_dims;
        aligned[i] = root_ok
            && users[i]
                .iter()
                .filter(|&&u| member(u))
                .all(|&u| aligned[u] && passes_row(u, i));
    }
    let a_outputs: BTreeSet<usize> = plan.kernels[a].roots.iter().copied().collect();
    (0..comp.instrs.len()).filter(|&u| member(u)).all(|u| {
        comp.instrs[u]
            .operands
            .iter()
            .filter(|v| a_outputs.contains(&v.instr))
            .all(|v| aligned[u] && passes_row(u, v.instr))
    })
}

/// Merges row reductions into the kernels that consume them on the same rows,
/// repeatedly (softmax's max, sum and normalization become one kernel).
pub(super) fn merge_row_kernels(module: &Module, comp: &Computation, plan: &mut Plan) {
    let is_result: Vec<bool> = (0..comp.instrs.len())
        .map(|i| comp.results.iter().any(|v| v.instr == i))
        .collect();
    let users = users_of(comp);
    loop {
        let units = unit_graph(comp, plan);
        let mut merged = None;
        'search: for a in 0..plan.kernels.len() {
            if plan.kernels[a].roots.is_empty() {
                continue;
            }
            let Some(key) = row_key(module, comp, plan, a) else {
                continue;
            };
            for &b in &units.succ[a] {
                if b >= units.kernel_count || plan.kernels[b].roots.is_empty() {
                    continue;
                }
                let fits = match plan.kernels[b].kind {
                    FusionKind::Loop => plan.kernels[b]
                        .roots
                        .iter()
                        .all(|&i| comp.instrs[i].shapes[0].dims == key.0),
                    _ => row_key(module, comp, plan, b).as_ref() == Some(&key),
                };
                if fits
                    && !units.indirect_path(a, b)
                    && reads_at_own_row(comp, &users, plan, (a, b), &key)
                {
                    merged = Some((a, b));
                    break 'search;
                }
            }
        }
        let Some((a, b)) = merged else { return };
        let roots = absorb(plan, a, b);
        // Roots of `a` read only inside the merged kernel stop being outputs.
        let kernel = &mut plan.kernels[b];
        kernel.kind = FusionKind::Row;
        for r in roots {
            let outside = is_result[r]
                || users[r]
                    .iter()
                    .any(|&u| !plan.dead[u] && plan.kernels_of[u] != [b]);
            if outside {
                kernel.roots.push(r);
            }
        }
        kernel.roots.sort_unstable();
    }
}
