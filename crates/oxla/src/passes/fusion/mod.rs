//! Fusion: groups instructions into kernels, each run as one loop.
//!
//! * **Loop kernels** compute one or more same-dims outputs element by element:
//!   elementwise ops, broadcasts, reshapes, transposes, converts, selects, iota,
//!   slices, pads, concatenates, ... Every input is read once per output element and
//!   every output written once.
//! * **Input kernels** are reductions (sibling reductions over the same operand dims
//!   and reduced dims share one kernel) whose elementwise producers are computed in
//!   the reading loop instead of being materialized.
//!
//! The model: a value is either *materialized* (a kernel output, a parameter, the
//! result of a non-fusible op) or *inlined* into every kernel that needs it. A
//! fusible value needed by several kernels is recomputed in each when it is cheap
//! and few kernels need it; otherwise it becomes a kernel output of its own (the
//! cost rule that keeps expensive producers from being duplicated).
//!
//! Afterwards, kernels of equal output dims where one reads the other's outputs are
//! merged into one multi-output kernel, and sibling reductions are merged, as long
//! as no other kernel sits between them.
//!
//! Region computations of reduce/scatter/sort/reduce_window (scalar combiners) are
//! left alone; control-flow bodies are fused like the entry computation.

mod row;

use crate::hlo::ir::*;
use crate::Error;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// How many kernels may recompute one fusible value, by how expensive it is.
fn duplication_limit(op: &Op) -> usize {
    match op {
        Op::Constant(_) | Op::Iota { .. } => usize::MAX,
        Op::BroadcastInDim { .. }
        | Op::Reshape { .. }
        | Op::Transpose { .. }
        | Op::Convert { .. }
        | Op::BitcastConvert { .. }
        | Op::Slice { .. }
        | Op::Reverse { .. } => 8,
        Op::Unary(op) if is_cheap_unary(*op) => 4,
        Op::Unary(_) => 2,
        Op::Binary(BinaryOp::Pow | BinaryOp::Atan2) => 2,
        _ => 4,
    }
}

/// Whether an expensive value (a transcendental function) would be recomputed for
/// every row of a kernel: it reaches a broadcast along the output's last dim (so the
/// inner loop cannot hoist it) into at least four times as many elements, directly
/// or through reshapes and elementwise ops. Such a value becomes a small kernel of
/// its own (the Hessian of `sum(tanh(A x))` broadcasts `tanh` of 100 values across
/// a 100×100 product).
fn recomputed_per_row(comp: &Computation, i: usize, users: &[Vec<usize>]) -> bool {
    let expensive = match &comp.instrs[i].op {
        Op::Unary(op) => !is_cheap_unary(*op) && *op != UnaryOp::Sqrt,
        Op::Binary(BinaryOp::Pow | BinaryOp::Atan2) => true,
        _ => false,
    };
    if !expensive {
        return false;
    }
    let elements = comp.instrs[i].shapes[0].num_elements();
    let mut stack = vec![i];
    let mut seen = BTreeSet::new();
    while let Some(x) = stack.pop() {
        for &u in &users[x] {
            let user = &comp.instrs[u];
            let out = &user.shapes[0];
            match &user.op {
                Op::BroadcastInDim { broadcast_dims, .. } => {
                    // The operand dim that becomes the output's last dim varies.
                    let operand_dims = &comp.instrs[x].shapes[0].dims;
                    let varies = out
                        .rank()
                        .checked_sub(1)
                        .and_then(|d| broadcast_dims.iter().position(|&b| b == d))
                        .is_some_and(|p| operand_dims[p] > 1);
                    if varies && out.num_elements() >= 4 * elements {
                        return true;
                    }
                }
                op if (matches!(op, Op::Reshape { .. }) || is_elementwise(op))
                    && out.num_elements() == elements
                    && seen.insert(u) =>
                {
                    stack.push(u);
                }
                _ => {}
            }
        }
    }
    false
}

/// Unary ops costing about one instruction (the rest are function approximations).
fn is_cheap_unary(op: UnaryOp) -> bool {
    use UnaryOp::*;
    matches!(op, Neg | Abs | Sign | Floor | Ceil | Not | IsFinite)
}

/// Whether an instruction can be computed element by element inside a kernel.
pub fn is_fusible(comp: &Computation, instr: &Instr) -> bool {
    match &instr.op {
        Op::Constant(lit) => lit.num_elements() == 1,
        Op::BitcastConvert { dtype } => {
            comp.shape(instr.operands[0]).dtype.size_bytes() == dtype.size_bytes()
        }
        op if is_elementwise(op) => true,
        Op::BroadcastInDim { .. }
        | Op::Reshape { .. }
        | Op::Transpose { .. }
        | Op::Reverse { .. }
        | Op::Slice { .. }
        | Op::Iota { .. }
        | Op::Pad { .. }
        | Op::Concatenate { .. }
        | Op::DynamicSlice { .. } => true,
        _ => false,
    }
}

/// Whether an op reads its operands at its own index (same dims, or scalars).
pub(crate) fn is_elementwise(op: &Op) -> bool {
    matches!(
        op,
        Op::Unary(_)
            | Op::Binary(_)
            | Op::Compare { .. }
            | Op::Select
            | Op::Clamp
            | Op::Convert { .. }
            | Op::BitcastConvert { .. }
            | Op::ReducePrecision { .. }
    )
}

/// Whether every element of a constant is the same (a kernel computes it as an
/// immediate instead of reading a buffer).
pub fn is_splat(lit: &crate::Literal) -> bool {
    let n = lit.num_elements();
    if n <= 1 {
        return n == 1;
    }
    let bytes = lit.data().to_bytes();
    let width = bytes.len() / n;
    bytes.chunks_exact(width).all(|c| c == &bytes[..width])
}

/// Whether an instruction roots an input (reduction) kernel.
fn is_reduction(instr: &Instr) -> bool {
    matches!(instr.op, Op::Reduce { .. })
}

#[derive(Clone, Debug)]
struct Kernel {
    kind: FusionKind,
    /// Instructions whose results are the kernel's outputs, ascending.
    roots: Vec<usize>,
}

/// Fusion as a pipeline pass (so that `OXLA_DUMP` shows the fused module).
pub struct Fusion;

impl super::Pass for Fusion {
    fn name(&self) -> &'static str {
        "fusion"
    }
    fn run(&self, module: &mut Module) -> Result<bool, Error> {
        fuse_module(module)
    }
}

/// Fuses every computation of `module` that is not a scalar combiner region.
/// Returns whether anything changed.
pub fn fuse_module(module: &mut Module) -> Result<bool, Error> {
    let combiners: BTreeSet<usize> = module
        .computations
        .iter()
        .flat_map(|c| c.instrs.iter())
        .filter(|i| {
            matches!(
                i.op,
                Op::Reduce { .. } | Op::ReduceWindow { .. } | Op::Scatter { .. } | Op::Sort { .. }
            )
        })
        .flat_map(|i| i.op.regions())
        .map(|c| c.0)
        .collect();
    let already_fused: BTreeSet<usize> = module
        .computations
        .iter()
        .flat_map(|c| c.instrs.iter())
        .filter_map(|i| match i.op {
            Op::Fusion { comp, .. } => Some(comp.0),
            _ => None,
        })
        .collect();
    let mut changed = false;
    let count = module.computations.len();
    for id in 0..count {
        if combiners.contains(&id) || already_fused.contains(&id) {
            continue;
        }
        let comp = module.computations[id].clone();
        let (rebuilt, fused) = fuse_computation(&comp, module);
        if !fused.is_empty() {
            changed = true;
            module.computations[id] = rebuilt;
        }
    }
    if changed {
        order_computations(module);
    }
    Ok(changed)
}

/// Renumbers computations so that every region precedes the computations using it
/// (the verifier's rule), keeping the relative order otherwise.
pub fn order_computations(module: &mut Module) {
    let n = module.computations.len();
    let mut order: Vec<usize> = Vec::with_capacity(n);
    let mut state = vec![0u8; n]; // 0 new, 1 visiting, 2 done
    fn visit(c: usize, module: &Module, state: &mut [u8], order: &mut Vec<usize>) {
        if state[c] != 0 {
            return;
        }
        state[c] = 1;
        for instr in &module.computations[c].instrs {
            for r in instr.op.regions() {
                visit(r.0, module, state, order);
            }
        }
        state[c] = 2;
        order.push(c);
    }
    for c in 0..n {
        visit(c, module, &mut state, &mut order);
    }
    let mut new_id = vec![0usize; n];
    for (pos, &old) in order.iter().enumerate() {
        new_id[old] = pos;
    }
    let mut old: Vec<Option<Computation>> = std::mem::take(&mut module.computations)
        .into_iter()
        .map(Some)
        .collect();
    module.computations = order
        .iter()
        .map(|&c| old[c].take().expect("each computation once"))
        .collect();
    let map = |c: &mut CompId| c.0 = new_id[c.0];
    for comp in &mut module.computations {
        for instr in &mut comp.instrs {
            match &mut instr.op {
                Op::Scatter { body, .. }
                | Op::Reduce { body, .. }
                | Op::ReduceWindow { body, .. }
                | Op::Sort { body, .. } => map(body),
                Op::Call { comp } | Op::Fusion { comp, .. } => map(comp),
                Op::While { cond, body } => {
                    map(cond);
                    map(body);
                }
                Op::Conditional { branches } => branches.iter_mut().for_each(map),
                _ => {}
            }
        }
    }
    map(&mut module.entry);
}

/// Kernel assignment for one computation.
struct Plan {
    kernels: Vec<Kernel>,
    /// For each instruction: the kernels computing it (its own kernel for roots).
    kernels_of: Vec<Vec<usize>>,
    /// Instructions computed nowhere (unused fusible values).
    dead: Vec<bool>,
}

/// For each instruction, the instructions reading it (each once).
pub(crate) fn users_of(comp: &Computation) -> Vec<Vec<usize>> {
    let mut users = vec![Vec::new(); comp.instrs.len()];
    for (i, instr) in comp.instrs.iter().enumerate() {
        for v in &instr.operands {
            if !users[v.instr].contains(&i) {
                users[v.instr].push(i);
            }
        }
    }
    users
}

fn plan(module: &Module, comp: &Computation) -> Plan {
    let n = comp.instrs.len();
    let users = users_of(comp);
    let is_result: Vec<bool> = (0..n)
        .map(|i| comp.results.iter().any(|v| v.instr == i))
        .collect();
    let mut kernels: Vec<Kernel> = Vec::new();
    let mut kernels_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut dead = vec![false; n];
    for i in (0..n).rev() {
        let instr = &comp.instrs[i];
        if is_reduction(instr) {
            kernels.push(Kernel {
                kind: FusionKind::Input,
                roots: vec![i],
            });
            kernels_of[i] = vec![kernels.len() - 1];
            continue;
        }
        if !is_fusible(comp, instr) {
            continue;
        }
        let live_users: Vec<usize> = users[i].iter().copied().filter(|&u| !dead[u]).collect();
        if live_users.is_empty() && !is_result[i] {
            dead[i] = true;
            continue;
        }
        let mut needed: BTreeSet<usize> = BTreeSet::new();
        let mut materialize = is_result[i];
        for &u in &live_users {
            let user = &comp.instrs[u];
            if is_fusible(comp, user) || is_reduction(user) {
                needed.extend(kernels_of[u].iter().copied());
            } else {
                materialize = true;
            }
        }
        if materialize
            || needed.len() > duplication_limit(&instr.op)
            || recomputed_per_row(comp, i, &users)
        {
            kernels.push(Kernel {
                kind: FusionKind::Loop,
                roots: vec![i],
            });
            kernels_of[i] = vec![kernels.len() - 1];
        } else {
            kernels_of[i] = needed.into_iter().collect();
        }
    }
    let mut plan = Plan {
        kernels,
        kernels_of,
        dead,
    };
    merge_kernels(comp, &mut plan);
    row::merge_row_kernels(module, comp, &mut plan);
    plan
}

/// The dims a kernel iterates over: its outputs' dims (loop) or the reduced
/// operand's dims plus the reduced dims (input).
fn iteration_key(comp: &Computation, k: &Kernel) -> (FusionKind, Vec<usize>, Vec<usize>) {
    let root = &comp.instrs[k.roots[0]];
    match &root.op {
        Op::Reduce { dims, .. } => (
            FusionKind::Input,
            comp.shape(root.operands[0]).dims.clone(),
            dims.clone(),
        ),
        _ => (FusionKind::Loop, root.shapes[0].dims.clone(), vec![]),
    }
}

/// Merges producer-consumer loop kernels of equal dims and sibling reductions.
fn merge_kernels(comp: &Computation, plan: &mut Plan) {
    loop {
        let units = unit_graph(comp, plan);
        let mut merged = None;
        'search: for a in 0..plan.kernels.len() {
            if plan.kernels[a].roots.is_empty() {
                continue;
            }
            for b in 0..plan.kernels.len() {
                if a == b || plan.kernels[b].roots.is_empty() {
                    continue;
                }
                let ka = iteration_key(comp, &plan.kernels[a]);
                if ka != iteration_key(comp, &plan.kernels[b]) {
                    continue;
                }
                // Loop kernels may merge producer into consumer (both compute at
                // the same index); reductions only merge with independent siblings.
                let loop_kind = ka.0 == FusionKind::Loop;
                let direct = loop_kind && units.kernel_edge(a, b);
                let siblings = (!loop_kind || units.share_input(a, b))
                    && a < b
                    && !units.kernel_edge(a, b)
                    && !units.kernel_edge(b, a);
                if (direct || siblings) && !units.indirect_path(a, b) && !units.indirect_path(b, a)
                {
                    merged = Some((a, b));
                    break 'search;
                }
            }
        }
        let Some((a, b)) = merged else { return };
        let roots = absorb(plan, a, b);
        plan.kernels[b].roots.extend(roots);
        plan.kernels[b].roots.sort_unstable();
    }
}

/// Kernel `a` joins kernel `b`: its members become `b`'s. Returns `a`'s roots (the
/// caller decides which stay outputs).
fn absorb(plan: &mut Plan, a: usize, b: usize) -> Vec<usize> {
    for ks in plan.kernels_of.iter_mut() {
        for k in ks.iter_mut() {
            if *k == a {
                *k = b;
            }
        }
        ks.sort_unstable();
        ks.dedup();
    }
    std::mem::take(&mut plan.kernels[a].roots)
}

/// Dependencies between scheduling units (kernels and standalone instructions).
struct Units {
    /// Unit ids: kernels are 0..K, standalone instruction i is K + i.
    succ: Vec<BTreeSet<usize>>,
    inputs: Vec<BTreeSet<usize>>,
    kernel_count: usize,
}

impl Units {
    fn kernel_edge(&self, a: usize, b: usize) -> bool {
        self.succ[a].contains(&b)
    }

    fn share_input(&self, a: usize, b: usize) -> bool {
        !self.inputs[a].is_disjoint(&self.inputs[b])
    }

    /// Whether `a` reaches `b` through some third unit.
    fn indirect_path(&self, a: usize, b: usize) -> bool {
        let mut stack: Vec<usize> = self.succ[a].iter().copied().filter(|&x| x != b).collect();
        let mut seen: BTreeSet<usize> = stack.iter().copied().collect();
        while let Some(x) = stack.pop() {
            if x == b {
                return true;
            }
            for &y in &self.succ[x] {
                if seen.insert(y) {
                    stack.push(y);
                }
            }
        }
        false
    }
}

/// Which unit produces instruction `i`'s results, if any (inlined values belong to
/// no single unit).
fn producer_unit(comp: &Computation, plan: &Plan, i: usize) -> Option<usize> {
    let k = plan.kernels.len();
    if plan.dead[i] {
        return None;
    }
    let instr = &comp.instrs[i];
    if is_fusible(comp, instr) || is_reduction(instr) {
        let ks = &plan.kernels_of[i];
        let own = ks.len() == 1 && plan.kernels[ks[0]].roots.contains(&i);
        own.then(|| ks[0])
    } else {
        Some(k + i)
    }
}

/// Materialized values each unit reads (as producer units).
fn unit_graph(comp: &Computation, plan: &Plan) -> Units {
    let k = plan.kernels.len();
    let n = comp.instrs.len();
    let mut succ = vec![BTreeSet::new(); k + n];
    let mut inputs = vec![BTreeSet::new(); k + n];
    for (i, instr) in comp.instrs.iter().enumerate() {
        if plan.dead[i] {
            continue;
        }
        let consumers: Vec<usize> = if is_fusible(comp, instr) || is_reduction(instr) {
            plan.kernels_of[i].clone()
        } else {
            vec![k + i]
        };
        for v in &instr.operands {
            if let Some(p) = producer_unit(comp, plan, v.instr) {
                for &c in &consumers {
                    if c != p {
                        succ[p].insert(c);
                        inputs[c].insert(p);
                    }
                }
            }
        }
    }
    // Side effects keep their order.
    let effects: Vec<usize> = (0..n)
        .filter(|&i| comp.instrs[i].op.has_side_effect())
        .collect();
    for w in effects.windows(2) {
        succ[k + w[0]].insert(k + w[1]);
    }
    Units {
        succ,
        inputs,
        kernel_count: k,
    }
}

/// Rebuilds `comp` with fusion instructions; returns it and the ids of the fused
/// computations appended to `module`.
fn fuse_computation(comp: &Computation, module: &mut Module) -> (Computation, Vec<CompId>) {
    let plan = plan(module, comp);
    let live_kernels: Vec<usize> = (0..plan.kernels.len())
        .filter(|&k| !plan.kernels[k].roots.is_empty())
        .collect();
    if live_kernels.is_empty() {
        return (comp.clone(), vec![]);
    }
    let units = unit_graph(comp, &plan);
    let order = schedule(comp, &plan, &units);
    let mut out = Computation {
        name: comp.name.clone(),
        params: comp.params.clone(),
        instrs: Vec::new(),
        results: Vec::new(),
    };
    let mut map: BTreeMap<Value, Value> = BTreeMap::new();
    let mut fused = Vec::new();
    for unit in order {
        if unit >= units.kernel_count {
            let i = unit - units.kernel_count;
            let instr = &comp.instrs[i];
            let new = Instr {
                op: instr.op.clone(),
                operands: instr.operands.iter().map(|v| map[v]).collect(),
                shapes: instr.shapes.clone(),
            };
            out.instrs.push(new);
            for r in 0..instr.shapes.len() {
                map.insert(
                    Value { instr: i, index: r },
                    Value {
                        instr: out.instrs.len() - 1,
                        index: r,
                    },
                );
            }
            continue;
        }
        let kernel = &plan.kernels[unit];
        let (body, inputs, outputs) = fused_body(comp, &plan, unit);
        let id = CompId(module.computations.len());
        let shapes = body.result_shapes();
        module.computations.push(body);
        fused.push(id);
        out.instrs.push(Instr {
            op: Op::Fusion {
                comp: id,
                kind: kernel.kind,
            },
            operands: inputs.iter().map(|v| map[v]).collect(),
            shapes,
        });
        let at = out.instrs.len() - 1;
        for (index, v) in outputs.into_iter().enumerate() {
            map.insert(v, Value { instr: at, index });
        }
    }
    out.results = comp.results.iter().map(|v| map[v]).collect();
    (out, fused)
}

/// A topological order of the units, close to the original instruction order.
fn schedule(comp: &Computation, plan: &Plan, units: &Units) -> Vec<usize> {
    let k = units.kernel_count;
    let n = comp.instrs.len();
    let alive = |u: usize| -> bool {
        if u < k {
            !plan.kernels[u].roots.is_empty()
        } else {
            let i = u - k;
            !is_fusible(comp, &comp.instrs[i]) && !is_reduction(&comp.instrs[i])
        }
    };
    let position = |u: usize| -> usize {
        if u < k {
            *plan.kernels[u].roots.iter().max().expect("live kernel")
        } else {
            u - k
        }
    };
    let mut indegree = vec![0usize; k + n];
    for u in 0..k + n {
        if alive(u) {
            for &s in &units.succ[u] {
                indegree[s] += 1;
            }
        }
    }
    let mut ready: BinaryHeap<std::cmp::Reverse<(usize, usize)>> = (0..k + n)
        .filter(|&u| alive(u) && indegree[u] == 0)
        .map(|u| std::cmp::Reverse((position(u), u)))
        .collect();
    let mut order = Vec::new();
    while let Some(std::cmp::Reverse((_, u))) = ready.pop() {
        order.push(u);
        for &s in &units.succ[u] {
            indegree[s] -= 1;
            if indegree[s] == 0 && alive(s) {
                ready.push(std::cmp::Reverse((position(s), s)));
            }
        }
    }
    order
}

/// The fused computation of kernel `k`: its members copied in order, reading
/// materialized values as parameters. Returns it, the outer values it reads, and
/// the outer values its results stand for.
fn fused_body(comp: &Computation, plan: &Plan, k: usize) -> (Computation, Vec<Value>, Vec<Value>) {
    let kernel = &plan.kernels[k];
    let member = |i: usize| !plan.dead[i] && plan.kernels_of[i].contains(&k);
    let mut body = Computation {
        name: format!("{}.fused{}", comp.name, k),
        params: Vec::new(),
        instrs: Vec::new(),
        results: Vec::new(),
    };
    let mut inputs: Vec<Value> = Vec::new();
    let mut local: BTreeMap<Value, Value> = BTreeMap::new();
    for (i, instr) in comp.instrs.iter().enumerate() {
        if !member(i) {
            continue;
        }
        let mut operands = Vec::with_capacity(instr.operands.len());
        for v in &instr.operands {
            let mapped = match local.get(v) {
                Some(&m) => m,
                None => {
                    // A materialized value: a new parameter of the fused computation.
                    let index = body.params.len();
                    body.params.push(comp.shape(*v).clone());
                    body.instrs.push(Instr {
                        op: Op::Parameter { index },
                        operands: vec![],
                        shapes: vec![comp.shape(*v).clone()],
                    });
                    inputs.push(*v);
                    let m = Value {
                        instr: body.instrs.len() - 1,
                        index: 0,
                    };
                    local.insert(*v, m);
                    m
                }
            };
            operands.push(mapped);
        }
        body.instrs.push(Instr {
            op: instr.op.clone(),
            operands,
            shapes: instr.shapes.clone(),
        });
        for r in 0..instr.shapes.len() {
            local.insert(
                Value { instr: i, index: r },
                Value {
                    instr: body.instrs.len() - 1,
                    index: r,
                },
            );
        }
    }
    let mut outputs = Vec::new();
    for &root in &kernel.roots {
        for r in 0..comp.instrs[root].shapes.len() {
            let v = Value {
                instr: root,
                index: r,
            };
            body.results.push(local[&v]);
            outputs.push(v);
        }
    }
    (body, inputs, outputs)
}

/// Number of kernels (fusions plus non-fusible compute ops) a computation runs:
/// what the fusion tests count.
pub fn kernel_count(module: &Module, comp: CompId) -> usize {
    module
        .computation(comp)
        .instrs
        .iter()
        .filter(|i| {
            !matches!(
                i.op,
                Op::Parameter { .. } | Op::Constant(_) | Op::Reshape { .. }
            )
        })
        .count()
}
