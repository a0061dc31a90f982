//! Shared machinery for passes that rebuild computations: a [`Rewriter`] that copies
//! instructions into a fresh list while remapping operands, region renumbering, and
//! side-effect analysis through regions.

use crate::hlo::ir::{CompId, Computation, Instr, Module, Op, Value};
use crate::Shape;

/// Rebuilds one computation. Old instructions are visited in order; each is either
/// copied (operands remapped), replaced by an existing new value, or replaced by new
/// instructions. Operands always refer to the new list, so later rewrites see the
/// already simplified producers.
pub struct Rewriter {
    /// The new instruction list.
    pub instrs: Vec<Instr>,
    /// For each old instruction, the new value of each of its results.
    map: Vec<Vec<Value>>,
}

impl Rewriter {
    /// A rewriter for a computation with `n` old instructions.
    pub fn new(n: usize) -> Rewriter {
        Rewriter {
            instrs: Vec::with_capacity(n),
            map: Vec::with_capacity(n),
        }
    }

    /// The new value standing for old value `v` (its instruction must be visited).
    pub fn map(&self, v: Value) -> Value {
        self.map[v.instr][v.index]
    }

    /// The old instruction's operands, mapped to new values.
    pub fn map_all(&self, vs: &[Value]) -> Vec<Value> {
        vs.iter().map(|&v| self.map(v)).collect()
    }

    /// Appends a new instruction (operands are new values) and returns its results.
    pub fn push(&mut self, op: Op, operands: Vec<Value>, shapes: Vec<Shape>) -> Vec<Value> {
        let instr = self.instrs.len();
        let n = shapes.len();
        self.instrs.push(Instr {
            op,
            operands,
            shapes,
        });
        (0..n).map(|index| Value { instr, index }).collect()
    }

    /// Appends a single-result instruction and returns its value.
    pub fn push1(&mut self, op: Op, operands: Vec<Value>, shape: Shape) -> Value {
        self.push(op, operands, vec![shape])[0]
    }

    /// Records that the next old instruction's results are `values`.
    pub fn bind(&mut self, values: Vec<Value>) {
        self.map.push(values);
    }

    /// Copies the old instruction `instr` (operands remapped) and binds its results.
    pub fn copy(&mut self, instr: &Instr) -> Vec<Value> {
        let operands = self.map_all(&instr.operands);
        let out = self.push(instr.op.clone(), operands, instr.shapes.clone());
        self.bind(out.clone());
        out
    }

    /// The instruction defining new value `v`.
    pub fn def(&self, v: Value) -> &Instr {
        &self.instrs[v.instr]
    }

    /// The shape of new value `v`.
    pub fn shape(&self, v: Value) -> &Shape {
        &self.instrs[v.instr].shapes[v.index]
    }

    /// The rebuilt computation: `old`'s name, parameters and (mapped) results.
    pub fn finish(self, old: &Computation) -> Computation {
        let results = self.map_all(&old.results);
        Computation {
            name: old.name.clone(),
            params: old.params.clone(),
            instrs: self.instrs,
            results,
        }
    }
}

/// Rebuilds `comp`: each instruction for which `replace` returns `Some(results)`
/// (pushed through the rewriter, operands via [`Rewriter::map`]) stands for
/// those results; the others are copied.
pub fn replace_instrs(
    comp: &Computation,
    mut replace: impl FnMut(&mut Rewriter, &Instr) -> Option<Vec<Value>>,
) -> Computation {
    let mut r = Rewriter::new(comp.instrs.len());
    for instr in &comp.instrs {
        match replace(&mut r, instr) {
            Some(results) => r.bind(results),
            None => {
                r.copy(instr);
            }
        }
    }
    r.finish(comp)
}

/// Calls `f` on every computation id the op refers to, letting it replace the id.
pub fn map_regions(op: &mut Op, mut f: impl FnMut(CompId) -> CompId) {
    match op {
        Op::Scatter { body, .. }
        | Op::Reduce { body, .. }
        | Op::ReduceWindow { body, .. }
        | Op::Sort { body, .. } => *body = f(*body),
        Op::Call { comp } | Op::Fusion { comp, .. } => *comp = f(*comp),
        Op::While { cond, body } => {
            *cond = f(*cond);
            *body = f(*body);
        }
        Op::Conditional { branches } => branches.iter_mut().for_each(|b| *b = f(*b)),
        _ => {}
    }
}

/// The computations reachable from `roots` through regions, as a mask over
/// `module.computations`.
pub fn reachable(module: &Module, roots: &[CompId]) -> Vec<bool> {
    let mut seen = vec![false; module.computations.len()];
    let mut stack: Vec<CompId> = roots.to_vec();
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id.0], true) {
            continue;
        }
        for instr in &module.computation(id).instrs {
            stack.extend(instr.op.regions());
        }
    }
    seen
}

/// The new id of each computation when only those marked in `keep` stay (in order).
fn renumbering(keep: &[bool]) -> Vec<Option<CompId>> {
    let mut next = 0;
    keep.iter()
        .map(|&k| {
            k.then(|| {
                next += 1;
                CompId(next - 1)
            })
        })
        .collect()
}

/// Rewrites every region reference of `comps` through `new_ids`.
fn renumber_regions(comps: &mut [Computation], new_ids: &[Option<CompId>]) {
    for comp in comps {
        for instr in &mut comp.instrs {
            map_regions(&mut instr.op, |id| {
                new_ids[id.0].expect("a kept computation uses a dropped one")
            });
        }
    }
}

/// Keeps only the computations marked in `keep` (in their order, so every region
/// still precedes its users) and renumbers every region reference and the entry.
/// Panics if a kept computation refers to a dropped one or the entry is dropped.
/// Returns the new id of each old computation (`None` for dropped ones).
pub fn retain_computations(module: &mut Module, keep: &[bool]) -> Vec<Option<CompId>> {
    let new_ids = renumbering(keep);
    let old = std::mem::take(&mut module.computations);
    module.computations = old
        .into_iter()
        .zip(keep)
        .filter_map(|(c, &k)| k.then_some(c))
        .collect();
    renumber_regions(&mut module.computations, &new_ids);
    module.entry = new_ids[module.entry.0].expect("the entry computation is kept");
    new_ids
}

/// Removes computations that the entry cannot reach; returns whether any went.
pub fn remove_unreachable_computations(module: &mut Module) -> bool {
    let keep = reachable(module, &[module.entry]);
    if keep.iter().all(|&k| k) {
        return false;
    }
    retain_computations(module, &keep);
    true
}

/// A copy of the computations reachable from `roots` (renumbered, in order) and the
/// new id of each old one (`None` if not copied): the regions a small module that
/// evaluates one instruction needs.
pub fn extract_computations(
    module: &Module,
    roots: &[CompId],
) -> (Vec<Computation>, Vec<Option<CompId>>) {
    let keep = reachable(module, roots);
    let new_ids = renumbering(&keep);
    let mut comps: Vec<Computation> = module
        .computations
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .map(|(c, _)| c.clone())
        .collect();
    renumber_regions(&mut comps, &new_ids);
    (comps, new_ids)
}

/// For each computation, whether it contains an op satisfying `pred`, directly or
/// through a region (regions precede their users, so one forward sweep suffices).
pub fn computations_containing(module: &Module, pred: impl Fn(&Op) -> bool) -> Vec<bool> {
    let mut out: Vec<bool> = Vec::with_capacity(module.computations.len());
    for comp in &module.computations {
        let hit = comp.instrs.iter().any(|i| contains(&i.op, &pred, &out));
        out.push(hit);
    }
    out
}

/// Whether `op` satisfies `pred` or one of its regions is marked in `mask` (as from
/// [`computations_containing`] with the same predicate).
pub fn contains(op: &Op, pred: impl Fn(&Op) -> bool, mask: &[bool]) -> bool {
    pred(op) || op.regions().iter().any(|r| mask[r.0])
}

/// For each computation, whether running it can have a side effect.
pub fn effectful_computations(module: &Module) -> Vec<bool> {
    computations_containing(module, Op::has_side_effect)
}

/// Whether `op` has a side effect, itself or through a region (`effectful` as from
/// [`effectful_computations`]).
pub fn has_effect(op: &Op, effectful: &[bool]) -> bool {
    contains(op, Op::has_side_effect, effectful)
}

/// Bitwise equality of literals (so `0.0 != -0.0` and equal NaNs are equal).
pub fn literal_bits_eq(a: &crate::Literal, b: &crate::Literal) -> bool {
    a.shape() == b.shape() && a.data().to_bytes() == b.data().to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BinaryOp, Builder, DType, Literal};

    /// Two reduce bodies, only the second used.
    fn two_regions() -> Module {
        let mut b = Builder::new("m");
        let _unused = b.scalar_binary_region(BinaryOp::Mul, DType::F32);
        let add = b.scalar_binary_region(BinaryOp::Add, DType::F32);
        let x = b.parameter(Shape::new(DType::F32, [4]));
        let z = b.constant_f64(DType::F32, 0.0);
        let r = b.reduce(&[x], &[z], &[0], add);
        b.finish(&r)
    }

    #[test]
    fn unreachable_computations_go_and_ids_are_renumbered() {
        let mut m = two_regions();
        assert_eq!(m.computations.len(), 3);
        assert!(remove_unreachable_computations(&mut m));
        assert_eq!(m.computations.len(), 2);
        assert_eq!(m.entry, CompId(1));
        let reduce = &m.entry_computation().instrs[2];
        assert_eq!(reduce.op.regions(), vec![CompId(0)]);
        crate::hlo::verify::verify_module(&m).unwrap();
        assert!(!remove_unreachable_computations(&mut m));
    }

    #[test]
    fn extraction_renumbers() {
        let m = two_regions();
        let (comps, ids) = extract_computations(&m, &[CompId(1)]);
        assert_eq!(comps.len(), 1);
        assert_eq!(ids, vec![None, Some(CompId(0)), None]);
    }

    #[test]
    fn rewriter_remaps_operands_and_results() {
        let mut b = Builder::new("m");
        let x = b.parameter(Shape::new(DType::I32, [2]));
        let n = b.unary(crate::UnaryOp::Neg, x);
        let a = b.binary(BinaryOp::Add, n, x);
        let m = b.finish(&[a]);
        let old = m.entry_computation();
        let mut r = Rewriter::new(old.instrs.len());
        r.copy(&old.instrs[0]);
        // Drop the negation: its users read x instead.
        r.bind(vec![r.map(Value { instr: 0, index: 0 })]);
        r.copy(&old.instrs[2]);
        let c = r.finish(old);
        assert_eq!(c.instrs.len(), 2);
        assert_eq!(c.instrs[1].operands, vec![Value { instr: 0, index: 0 }; 2]);
        assert_eq!(c.results, vec![Value { instr: 1, index: 0 }]);
    }

    #[test]
    fn literal_bits_distinguish_signed_zeros() {
        let p = Literal::scalar(0.0f32);
        let n = Literal::scalar(-0.0f32);
        assert!(p == n, "PartialEq conflates the zeros");
        assert!(!literal_bits_eq(&p, &n));
        let nan = Literal::scalar(f32::NAN);
        assert!(literal_bits_eq(&nan, &nan.clone()));
    }

    #[test]
    fn effects_propagate_through_regions() {
        let mut b = Builder::new("m");
        let s = Shape::scalar(DType::F32);
        let cb = b.region("cb", std::slice::from_ref(&s), |b, p| {
            b.host_callback(7, &[p[0]], &[]);
            vec![p[0]]
        });
        let pure = b.region("pure", std::slice::from_ref(&s), |_, p| vec![p[0]]);
        let x = b.parameter(s);
        let c1 = b.add(Op::Call { comp: cb }, &[x]);
        let c2 = b.add(Op::Call { comp: pure }, &[c1]);
        let m = b.finish(&[c2]);
        let e = effectful_computations(&m);
        assert_eq!(e, vec![true, false, true]);
        let entry = m.entry_computation();
        assert!(has_effect(&entry.instrs[1].op, &e));
        assert!(!has_effect(&entry.instrs[2].op, &e));
    }
}
