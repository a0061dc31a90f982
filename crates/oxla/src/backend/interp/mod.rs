//! The interpreter backend: executes every HLO op directly on host [`Literal`]s.
//! Slow, simple and obviously right: it is the oracle for every other backend.
//!
//! Layout: `elementwise` (+ `math`) for per-element ops, `structural` for data
//! movement, `gather_scatter`, `reduce` (reduce and reduce_window), `sort` (sort and
//! top_k), `dot_conv`; control flow and region calls live here.

mod comparator;
mod dot_conv;
pub(crate) mod elementwise;
mod gather_scatter;
pub(crate) use gather_scatter::scatter_in_place;
mod math;
mod reduce;
mod sort;
mod structural;

use crate::hlo::ir::{BinaryOp, CmpDir, CompId, Computation, Module, Op};
use crate::hlo::verify::verify_module;
use crate::runtime::{Backend, Buffer, CompiledProgram};
use crate::{with_data, Data, Error, Literal, NativeType, Shape};
use std::sync::Arc;

type R<T> = Result<T, String>;

/// Whether the sort comparator `comp` of `module` orders by keys, so that sorts
/// with it run as a stable sort by integer keys rather than evaluating the region
/// per comparison (see `comparator`); for diagnostics and tests.
pub fn sort_comparator_has_keys(module: &Module, comp: CompId, operands: &[&Literal]) -> bool {
    comparator::lexicographic_keys(module.computation(comp), operands).is_some()
}

/// Evaluates the entry computation of `module` on `args`.
pub fn evaluate(module: &Module, args: &[Literal]) -> Result<Vec<Literal>, String> {
    verify_module(module)?;
    let params = &module.entry_computation().params;
    if params.len() != args.len() {
        return Err(format!(
            "{} expects {} arguments, got {}",
            module.name,
            params.len(),
            args.len()
        ));
    }
    for (i, (p, a)) in params.iter().zip(args).enumerate() {
        if p != a.shape() {
            return Err(format!("argument {i} should be {p}, got {}", a.shape()));
        }
    }
    Interp { module }.call(module.entry, args)
}

/// Evaluation context: the module whose computations regions refer to.
pub(crate) struct Interp<'m> {
    module: &'m Module,
}

impl<'m> Interp<'m> {
    pub(crate) fn new(module: &'m Module) -> Self {
        Interp { module }
    }

    /// Runs computation `id` on `args` (already checked against its parameters).
    pub(crate) fn call(&self, id: CompId, args: &[Literal]) -> R<Vec<Literal>> {
        let comp = self.module.computation(id);
        let mut values: Vec<Vec<Literal>> = Vec::with_capacity(comp.instrs.len());
        for (i, instr) in comp.instrs.iter().enumerate() {
            let out = {
                let ops: Vec<&Literal> = instr
                    .operands
                    .iter()
                    .map(|v| &values[v.instr][v.index])
                    .collect();
                self.eval(&instr.op, &ops, args, &instr.shapes)
                    .map_err(|e| format!("{} %{i} ({}): {e}", comp.name, instr.op.name()))?
            };
            debug_assert!(
                out.iter().map(|l| l.shape()).eq(instr.shapes.iter()),
                "{} %{i}: result shapes differ from the inferred ones",
                comp.name
            );
            values.push(out);
        }
        Ok(comp
            .results
            .iter()
            .map(|v| values[v.instr][v.index].clone())
            .collect())
    }

    pub(crate) fn eval(
        &self,
        op: &Op,
        x: &[&Literal],
        args: &[Literal],
        shapes: &[Shape],
    ) -> R<Vec<Literal>> {
        use elementwise as ew;
        use structural as st;
        // Every op but a host callback has a result; that one may have none.
        let no_result = Shape::scalar(crate::DType::Bool);
        let out = shapes.first().unwrap_or(&no_result);
        let one = |l: Literal| Ok(vec![l]);
        match op {
            Op::Parameter { index } => one(args[*index].clone()),
            Op::Constant(lit) => one(lit.clone()),
            Op::Iota { shape, dim } => one(ew::iota(shape, *dim)),
            Op::Unary(u) => one(ew::unary(*u, x[0])),
            Op::Binary(b) => one(ew::binary(*b, x[0], x[1])),
            Op::Compare { dir, total_order } => one(ew::compare(*dir, *total_order, x[0], x[1])),
            Op::Select => one(ew::select(x[0], x[1], x[2])),
            Op::Clamp => one(ew::clamp(x[0], x[1], x[2])),
            Op::Convert { dtype } => one(x[0].convert(*dtype)),
            Op::BitcastConvert { .. } => one(ew::bitcast(x[0], out)),
            Op::BroadcastInDim { broadcast_dims, .. } => {
                one(st::broadcast_in_dim(x[0], out, broadcast_dims))
            }
            Op::Reshape { dims } => one(x[0].reshape(dims)),
            Op::Transpose { perm } => one(st::transpose(x[0], out, perm)),
            Op::Reverse { dims } => one(st::reverse(x[0], dims)),
            Op::Slice { start, strides, .. } => one(st::slice(x[0], out, start, strides)),
            Op::DynamicSlice { .. } => one(st::dynamic_slice(x[0], &x[1..], out)),
            Op::DynamicUpdateSlice => one(st::dynamic_update_slice(x[0], x[1], &x[2..])),
            Op::Concatenate { dim } => one(st::concatenate(x, *dim, out)),
            Op::Pad { low, interior, .. } => one(st::pad(x[0], x[1], out, low, interior)),
            Op::Gather {
                dims, slice_sizes, ..
            } => one(gather_scatter::gather(x[0], x[1], dims, slice_sizes, out)),
            Op::Scatter { dims, body, .. } => {
                gather_scatter::scatter(self, x[0], x[1], x[2], dims, *body).map(|l| vec![l])
            }
            Op::Reduce { dims, body } => reduce::reduce(self, x, dims, *body, shapes),
            Op::ReduceWindow {
                window,
                strides,
                base_dilation,
                window_dilation,
                padding,
                body,
            } => {
                let w = reduce::Window {
                    window,
                    strides,
                    base_dilation,
                    window_dilation,
                    padding,
                };
                reduce::reduce_window(self, x, &w, *body, shapes)
            }
            Op::Sort { dim, body, .. } => sort::sort(self, x, *dim, *body),
            Op::TopK { k } => Ok(sort::top_k(x[0], *k)),
            Op::DotGeneral { dims, .. } => one(dot_conv::dot_general(x[0], x[1], dims, out)),
            Op::Convolution {
                window_strides,
                padding,
                lhs_dilation,
                rhs_dilation,
                dims,
                feature_group_count,
                batch_group_count,
                ..
            } => {
                let c = dot_conv::Conv {
                    window_strides,
                    padding,
                    lhs_dilation,
                    rhs_dilation,
                    dims,
                    feature_group_count: *feature_group_count,
                    batch_group_count: *batch_group_count,
                };
                one(dot_conv::convolution(x[0], x[1], &c, out))
            }
            Op::ReducePrecision {
                exponent_bits,
                mantissa_bits,
            } => one(ew::reduce_precision(x[0], *exponent_bits, *mantissa_bits)),
            Op::Call { comp } | Op::Fusion { comp, .. } => self.call(*comp, &owned(x)),
            Op::While { cond, body } => {
                let mut state = owned(x);
                while self.predicate(*cond, &state)? {
                    state = self.call(*body, &state)?;
                }
                Ok(state)
            }
            Op::HostCallback { id, .. } => host_callback(*id, x, shapes),
            Op::Conditional { branches } => {
                let last = branches.len() as i128 - 1;
                // An out-of-range index runs the last branch (XLA clamps).
                let i = x[0].data().get_i128(0).clamp(0, last) as usize;
                self.call(branches[i], &owned(&x[1..]))
            }
        }
    }

    /// Runs a region returning one bool scalar.
    fn predicate(&self, id: CompId, args: &[Literal]) -> R<bool> {
        let out = self.call(id, args)?;
        Ok(out[0]
            .as_slice::<bool>()
            .expect("predicate region returns bool")[0])
    }
}

/// Runs a host callback and checks that its results have the declared shapes.
fn host_callback(id: u64, x: &[&Literal], shapes: &[Shape]) -> R<Vec<Literal>> {
    let out = crate::runtime::callbacks::call(id, &owned(x))?;
    let got: Vec<&Shape> = out.iter().map(Literal::shape).collect();
    if !got.iter().copied().eq(shapes.iter()) {
        let text = |s: Vec<String>| s.join(", ");
        return Err(format!(
            "host callback {id} returned ({}), expected ({})",
            text(got.iter().map(|s| s.to_string()).collect()),
            text(shapes.iter().map(|s| s.to_string()).collect())
        ));
    }
    Ok(out)
}

fn owned(x: &[&Literal]) -> Vec<Literal> {
    x.iter().map(|&l| l.clone()).collect()
}

/// Visits every multi-index of `dims` in row-major order.
pub(crate) fn for_each_index(dims: &[usize], mut f: impl FnMut(&[usize])) {
    if dims.contains(&0) {
        return;
    }
    let mut idx = vec![0; dims.len()];
    loop {
        f(&idx);
        let mut d = dims.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Element `i` of `data` as a scalar literal.
pub(crate) fn scalar_at(data: &Data, i: usize) -> Literal {
    Literal::new(Shape::scalar(data.dtype()), data.take(&[i]))
}

fn set_from<T: NativeType>(v: &mut [T], i: usize, src: &Data) {
    v[i] = T::slice(src).expect("set_at: dtype differs")[0];
}

/// Overwrites element `i` of `data` with the scalar `value`.
pub(crate) fn set_at(data: &mut Data, i: usize, value: &Literal) {
    with_data!(data, v => set_from(v, i, value.data()))
}

/// What a scalar region computes, when it is simple enough to run natively.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Combiner {
    /// `f(a, b) = a op b`.
    Binary(BinaryOp),
    /// `f(a, b) = b` (scatter's overwrite).
    Second,
}

/// Recognises a region `(a, b) -> a op b` (or `b op a` for commutative ops) or
/// `(a, b) -> b` on two scalars of one dtype.
pub(crate) fn simple_combiner(comp: &Computation) -> Option<Combiner> {
    if comp.params.len() != 2 || comp.results.len() != 1 || comp.params[0] != comp.params[1] {
        return None;
    }
    let param = |v: crate::Value| match comp.instrs[v.instr].op {
        Op::Parameter { index } => Some(index),
        _ => None,
    };
    let root = comp.results[0];
    if param(root) == Some(1) {
        return Some(Combiner::Second);
    }
    let instr = &comp.instrs[root.instr];
    let Op::Binary(op) = instr.op else {
        return None;
    };
    use BinaryOp::*;
    let commutative = matches!(op, Add | Mul | Max | Min | And | Or | Xor);
    match (param(instr.operands[0]), param(instr.operands[1])) {
        (Some(0), Some(1)) => Some(Combiner::Binary(op)),
        (Some(1), Some(0)) if commutative => Some(Combiner::Binary(op)),
        _ => None,
    }
}

/// Recognises a sort comparator `compare(a_0, b_0)` with `LT` or `GT`:
/// returns (dir, total_order, swapped operands).
pub(crate) fn simple_comparator(comp: &Computation) -> Option<(CmpDir, bool)> {
    if comp.results.len() != 1 {
        return None;
    }
    let instr = &comp.instrs[comp.results[0].instr];
    let Op::Compare { dir, total_order } = instr.op else {
        return None;
    };
    let param = |v: crate::Value| match comp.instrs[v.instr].op {
        Op::Parameter { index } => Some(index),
        _ => None,
    };
    let flip = |d| match d {
        CmpDir::Lt => Some(CmpDir::Gt),
        CmpDir::Gt => Some(CmpDir::Lt),
        _ => None,
    };
    match (param(instr.operands[0]), param(instr.operands[1])) {
        (Some(0), Some(1)) if flip(dir).is_some() => Some((dir, total_order)),
        (Some(1), Some(0)) => flip(dir).map(|d| (d, total_order)),
        _ => None,
    }
}

/// The interpreter as a runtime backend.
pub struct InterpBackend;

struct InterpProgram {
    module: Arc<Module>,
}

impl Backend for InterpBackend {
    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn compile(&self, module: &Module) -> Result<Arc<dyn CompiledProgram>, Error> {
        Ok(Arc::new(InterpProgram {
            module: Arc::new(module.clone()),
        }))
    }
}

impl CompiledProgram for InterpProgram {
    fn run(&self, args: &[&Buffer]) -> Result<Vec<Buffer>, Error> {
        let literals: Vec<Literal> = args.iter().map(|b| b.to_literal()).collect();
        let out = evaluate(&self.module, &literals).map_err(Error::Runtime)?;
        Ok(out
            .into_iter()
            .map(|l| Buffer::from_literal(l, 0))
            .collect())
    }
}
