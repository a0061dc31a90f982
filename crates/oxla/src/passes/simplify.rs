//! The algebraic simplifier: local rewrites that remove work, each exact under the
//! interpreter's semantics (bit-identical results, signed zeros and NaNs included;
//! see the module docs of [`crate::passes`] for signaling NaNs).
//!
//! Arithmetic: `x + 0`, `x - 0`, `x * 1`, `x * 0 -> 0`, `x / 1`, bitwise identities
//! (`x & ~0`, `x | 0`, `x ^ 0`, `x & x`, `x | x`, shifts by 0) for integers and bools.
//! Floats only where exact: `x + -0.0`, `x - 0.0`, `x * 1.0`, `x / 1.0` (never `x + 0.0`,
//! which turns `-0.0` into `0.0`, nor `x * 0.0`, wrong for NaN, inf and negatives).
//! `neg(neg x)`, `not(not x)`, `select` with a constant predicate or equal branches.
//!
//! Data movement: convert to the same dtype; exact convert chains (a lossless first
//! step: integer widening, f32 -> f64, ...); reshape to the same dims and
//! reshape(reshape); identity and composed transposes; identity and composed
//! broadcast_in_dim; full and composed slices; one-operand concatenate; all-zero pad;
//! reverse of size-1 dims and reverse(reverse).
//!
//! Dot canonicalization: a dot_general operand that is a transpose is read directly
//! when the transpose keeps the operand's free dims in order (it only moves batch
//! and contracting dims, which the dimension numbers can name instead). A transpose
//! of a dot (its only user) that swaps the operands' free dims becomes the dot with
//! its operands swapped. A dot whose contracting dims hold one element becomes a
//! broadcast multiply. Moving batch dims first or other layout normalization is not
//! done.
//!
//! Rewrites leave the replaced producers behind; [`super::Dce`] removes them.

use super::rewrite::Rewriter;
use super::Pass;
use crate::hlo::ir::{BinaryOp, CmpDir, Computation, DotDims, Op, UnaryOp, Value};
use crate::{DType, Error, Literal, Module, Shape};

/// The algebraic simplification pass.
pub struct Simplify;

impl Pass for Simplify {
    fn name(&self) -> &'static str {
        "simplify"
    }

    fn run(&self, module: &mut Module) -> Result<bool, Error> {
        let mut changed = false;
        for comp in &mut module.computations {
            if let Some(new) = simplify_computation(comp) {
                *comp = new;
                changed = true;
            }
        }
        Ok(changed)
    }
}

/// What one instruction becomes.
enum Rewrite {
    /// An existing value (of the same shape).
    Value(Value),
    /// A cheaper op on (new) operands, with the same result shape.
    Op(Box<Op>, Vec<Value>),
}

fn new_op(op: Op, operands: Vec<Value>) -> Rewrite {
    Rewrite::Op(Box::new(op), operands)
}

/// Rewrites chain (a composed transpose may become the identity); this bounds them.
const MAX_CHAIN: usize = 8;

fn simplify_computation(comp: &Computation) -> Option<Computation> {
    let mut r = Rewriter::new(comp.instrs.len());
    let mut changed = false;
    let uses = comp.use_counts();
    for instr in &comp.instrs {
        let mut op = instr.op.clone();
        let mut operands = r.map_all(&instr.operands);
        let mut result = None;
        if let Some(v) = dot_as_multiply(&mut r, &op, &operands, &instr.shapes) {
            changed = true;
            r.bind(vec![v]);
            continue;
        }
        let sole_user = instr.operands.first().is_some_and(|v| uses[v.instr] == 1);
        if let Some(v) = sole_user
            .then(|| transposed_dot(&mut r, &op, &operands))
            .flatten()
        {
            changed = true;
            r.bind(vec![v]);
            continue;
        }
        // Only single-result, effect-free ops are rewritten.
        if instr.shapes.len() == 1 && !op.has_side_effect() && op.regions().is_empty() {
            let shape = &instr.shapes[0];
            for _ in 0..MAX_CHAIN {
                match simplify(&r, &op, &operands, shape) {
                    Some(Rewrite::Value(v)) if r.shape(v) == shape => {
                        result = Some(v);
                        break;
                    }
                    Some(Rewrite::Op(o, ops)) => {
                        changed = true;
                        (op, operands) = (*o, ops);
                    }
                    _ => break,
                }
            }
        }
        match result {
            Some(v) => {
                changed = true;
                r.bind(vec![v]);
            }
            None => {
                let out = r.push(op, operands, instr.shapes.clone());
                r.bind(out);
            }
        }
    }
    changed.then(|| r.finish(comp))
}

/// One rewrite of `op` on `x` (new values) with result `shape`, if any applies.
fn simplify(r: &Rewriter, op: &Op, x: &[Value], shape: &Shape) -> Option<Rewrite> {
    use Rewrite::Value as V;
    let operand = |i: usize| r.shape(x[i]);
    match op {
        Op::Binary(b) => binary(r, *b, x[0], x[1]).map(V),
        Op::Unary(u @ (UnaryOp::Neg | UnaryOp::Not)) => {
            let inner = r.def(x[0]);
            (inner.op == Op::Unary(*u)).then(|| V(inner.operands[0]))
        }
        Op::Select => {
            if x[1] == x[2] {
                return Some(V(x[1]));
            }
            let p = splat(r, x[0])?;
            Some(V(if p.data().get_i128(0) != 0 {
                x[1]
            } else {
                x[2]
            }))
        }
        Op::Convert { dtype } => {
            let a = operand(0).dtype;
            if a == *dtype {
                return Some(V(x[0]));
            }
            let inner = r.def(x[0]);
            let Op::Convert { dtype: b } = inner.op else {
                return None;
            };
            let z = inner.operands[0];
            let a = r.shape(z).dtype;
            convert_chain(a, b, *dtype).then(|| new_op(Op::Convert { dtype: *dtype }, vec![z]))
        }
        Op::Reshape { dims } => {
            if operand(0).dims == *dims {
                return Some(V(x[0]));
            }
            let inner = r.def(x[0]);
            matches!(inner.op, Op::Reshape { .. })
                .then(|| new_op(op.clone(), vec![inner.operands[0]]))
        }
        Op::Transpose { perm } => {
            if is_identity(perm) {
                return Some(V(x[0]));
            }
            let inner = r.def(x[0]);
            let Op::Transpose { perm: p1 } = &inner.op else {
                return None;
            };
            // Output dim i is inner dim perm[i], which is z's dim p1[perm[i]].
            let perm = perm.iter().map(|&i| p1[i]).collect();
            Some(new_op(Op::Transpose { perm }, vec![inner.operands[0]]))
        }
        Op::BroadcastInDim {
            out_dims,
            broadcast_dims,
        } => {
            if operand(0).dims == *out_dims && is_identity(broadcast_dims) {
                return Some(V(x[0]));
            }
            let inner = r.def(x[0]);
            let Op::BroadcastInDim {
                broadcast_dims: bd1,
                ..
            } = &inner.op
            else {
                return None;
            };
            // z's dim i goes to the middle's dim bd1[i], then to broadcast_dims[bd1[i]].
            let composed = bd1.iter().map(|&d| broadcast_dims[d]).collect();
            Some(new_op(
                Op::BroadcastInDim {
                    out_dims: out_dims.clone(),
                    broadcast_dims: composed,
                },
                vec![inner.operands[0]],
            ))
        }
        Op::Slice { start, strides, .. } => {
            let dims = &operand(0).dims;
            let full = start.iter().all(|&s| s == 0)
                && shape.dims == *dims
                && dims.iter().zip(strides).all(|(&d, &s)| d <= 1 || s == 1);
            if full {
                return Some(V(x[0]));
            }
            let inner = r.def(x[0]);
            let Op::Slice {
                start: s1,
                strides: t1,
                ..
            } = &inner.op
            else {
                return None;
            };
            compose_slices(s1, t1, start, strides, &shape.dims)
                .map(|op| new_op(op, vec![inner.operands[0]]))
        }
        Op::Concatenate { .. } if x.len() == 1 => Some(V(x[0])),
        Op::Pad {
            low,
            high,
            interior,
        } => (low.iter().chain(high).all(|&p| p == 0) && interior.iter().all(|&i| i == 0))
            .then(|| V(x[0])),
        Op::Reverse { dims } => reverse(r, dims, x[0]),
        Op::DotGeneral { dims, out_dtype } => {
            let (l, dl) = absorb_transpose(r, x[0], &dims.lhs_batch, &dims.lhs_contracting)
                .map_or((x[0], None), |(v, b, c)| (v, Some((b, c))));
            let (rr, dr) = absorb_transpose(r, x[1], &dims.rhs_batch, &dims.rhs_contracting)
                .map_or((x[1], None), |(v, b, c)| (v, Some((b, c))));
            if dl.is_none() && dr.is_none() {
                return None;
            }
            let (lhs_batch, lhs_contracting) =
                dl.unwrap_or((dims.lhs_batch.clone(), dims.lhs_contracting.clone()));
            let (rhs_batch, rhs_contracting) =
                dr.unwrap_or((dims.rhs_batch.clone(), dims.rhs_contracting.clone()));
            let dims = DotDims {
                lhs_batch,
                rhs_batch,
                lhs_contracting,
                rhs_contracting,
            };
            Some(new_op(
                Op::DotGeneral {
                    dims,
                    out_dtype: *out_dtype,
                },
                vec![l, rr],
            ))
        }
        _ => None,
    }
}

/// A dot_general whose contracting dims hold one element (an outer product, e.g. the
/// per-example gradient of a dot under vmap) becomes a multiply of the operands
/// broadcast to the output: one fused loop instead of one tiny GEMM per batch
/// element. The interpreter computes `0 + a * b` with an exact product and rounds
/// once, which floats match bit for bit with a select on zero operands. Only operands of
/// the output's dtype are rewritten (a conversion first would round twice).
fn dot_as_multiply(r: &mut Rewriter, op: &Op, x: &[Value], shapes: &[Shape]) -> Option<Value> {
    let Op::DotGeneral { dims, out_dtype } = op else {
        return None;
    };
    let (ls, rs) = (r.shape(x[0]).clone(), r.shape(x[1]).clone());
    let numeric = out_dtype.is_float() || out_dtype.is_int();
    if !numeric || ls.dtype != *out_dtype || rs.dtype != *out_dtype {
        return None;
    }
    let k: usize = dims.lhs_contracting.iter().map(|&d| ls.dims[d]).product();
    if k != 1 {
        return None;
    }
    let out = shapes[0].clone();
    let nb = dims.lhs_batch.len();
    let lhs_free = ls.rank() - nb - dims.lhs_contracting.len();
    let spread = |r: &mut Rewriter,
                  v: Value,
                  s: &Shape,
                  batch: &[usize],
                  contract: &[usize],
                  free_at: usize| {
        let kept: Vec<usize> = (0..s.rank()).filter(|d| !contract.contains(d)).collect();
        let v = if kept.len() == s.rank() {
            v
        } else {
            let dims: Vec<usize> = kept.iter().map(|&d| s.dims[d]).collect();
            let shape = Shape::new(s.dtype, dims.clone());
            r.push1(Op::Reshape { dims }, vec![v], shape)
        };
        let mut free = free_at;
        let broadcast_dims = kept
            .iter()
            .map(|d| match batch.iter().position(|b| b == d) {
                Some(i) => i,
                None => {
                    free += 1;
                    free - 1
                }
            })
            .collect::<Vec<usize>>();
        if is_identity(&broadcast_dims) && kept.len() == out.rank() {
            return v;
        }
        let op = Op::BroadcastInDim {
            out_dims: out.dims.clone(),
            broadcast_dims,
        };
        r.push1(op, vec![v], out.clone())
    };
    let a = spread(r, x[0], &ls, &dims.lhs_batch, &dims.lhs_contracting, nb);
    let b = spread(
        r,
        x[1],
        &rs,
        &dims.rhs_batch,
        &dims.rhs_contracting,
        nb + lhs_free,
    );
    let product = r.push1(Op::Binary(BinaryOp::Mul), vec![a, b], out.clone());
    if !out_dtype.is_float() {
        return Some(product);
    }
    // The interpreter sums in f64 from +0. For f64 that is `0 + a·b` with `a·b`
    // rounded: +0 for every zero product, underflowed ones included.
    let splat = |r: &mut Rewriter, v: f64, dtype: DType| {
        let c = r.push1(
            Op::Constant(Literal::scalar_f64(dtype, v)),
            vec![],
            Shape::new(dtype, vec![]),
        );
        let op = Op::BroadcastInDim {
            out_dims: out.dims.clone(),
            broadcast_dims: vec![],
        };
        r.push1(op, vec![c], Shape::new(dtype, out.dims.clone()))
    };
    let zeros = splat(r, 0.0, *out_dtype);
    if *out_dtype == DType::F64 {
        return Some(r.push1(Op::Binary(BinaryOp::Add), vec![product, zeros], out));
    }
    // Narrower floats: their products are exact in f64, so with a zero operand the
    // sum is `0 + ±0 = +0`, and otherwise it is the product rounded once (a product
    // that underflows keeps its sign).
    let pred = Shape::new(DType::Bool, out.dims.clone());
    let is_zero = |r: &mut Rewriter, v: Value| {
        let cmp = Op::Compare {
            dir: CmpDir::Eq,
            total_order: false,
        };
        r.push1(cmp, vec![v, zeros], pred.clone())
    };
    let (za, zb) = (is_zero(r, a), is_zero(r, b));
    let any_zero = r.push1(Op::Binary(BinaryOp::Or), vec![za, zb], pred.clone());
    let plus_zero = r.push1(Op::Binary(BinaryOp::Add), vec![product, zeros], out.clone());
    Some(r.push1(Op::Select, vec![any_zero, plus_zero, product], out))
}

/// `transpose(dot(a, b))` that swaps the two operands' free dims (keeping batch dims
/// first) is `dot(b, a)`: the GEMM writes the transposed layout directly instead of
/// a kernel reading it with strides (weight gradients in a scan's backward pass).
/// Each element is the same sum of the same products, so the result is identical
/// (up to which NaN's payload propagates when both factors are NaN).
/// Only applied when the transpose is the dot's one user, so no dot is duplicated.
fn transposed_dot(r: &mut Rewriter, op: &Op, x: &[Value]) -> Option<Value> {
    let Op::Transpose { perm } = op else {
        return None;
    };
    let inner = r.def(x[0]);
    let Op::DotGeneral { dims, out_dtype } = &inner.op else {
        return None;
    };
    let (a, b) = (inner.operands[0], inner.operands[1]);
    let nb = dims.lhs_batch.len();
    let nl = r.shape(a).rank() - nb - dims.lhs_contracting.len();
    let nr = r.shape(b).rank() - nb - dims.rhs_contracting.len();
    let swapped: Vec<usize> = (0..nb)
        .chain(nb + nl..nb + nl + nr)
        .chain(nb..nb + nl)
        .collect();
    if *perm != swapped || nl == 0 || nr == 0 {
        return None;
    }
    let dims = DotDims {
        lhs_batch: dims.rhs_batch.clone(),
        rhs_batch: dims.lhs_batch.clone(),
        lhs_contracting: dims.rhs_contracting.clone(),
        rhs_contracting: dims.lhs_contracting.clone(),
    };
    let op = Op::DotGeneral {
        dims,
        out_dtype: *out_dtype,
    };
    let shape = r.shape(x[0]);
    let dims_out: Vec<usize> = perm.iter().map(|&p| shape.dims[p]).collect();
    let out = Shape::new(shape.dtype, dims_out);
    Some(r.push1(op, vec![b, a], out))
}

fn is_identity(perm: &[usize]) -> bool {
    perm.iter().enumerate().all(|(i, &p)| i == p)
}

/// The scalar every element of `v` equals (bit for bit), when `v` is a constant or
/// a broadcast of one.
fn splat(r: &Rewriter, v: Value) -> Option<Literal> {
    let instr = r.def(v);
    match &instr.op {
        Op::Constant(lit) => {
            if lit.num_elements() == 0 {
                return None;
            }
            let width = lit.dtype().size_bytes();
            let bytes = lit.data().to_bytes();
            let first = &bytes[..width];
            bytes
                .chunks_exact(width)
                .all(|c| c == first)
                .then(|| Literal::new(Shape::scalar(lit.dtype()), lit.data().take(&[0])))
        }
        Op::BroadcastInDim { .. } => splat(r, instr.operands[0]),
        _ => None,
    }
}

/// Scalar constant predicates.
#[derive(Clone, Copy, PartialEq)]
enum Known {
    /// Integer or bool zero (false).
    IntZero,
    /// Integer or bool one (true).
    IntOne,
    /// Integer with all bits set (or true).
    AllOnes,
    /// Float `+0.0`.
    PosZero,
    /// Float `-0.0`.
    NegZero,
    /// Float `1.0`.
    FloatOne,
}

/// Whether `s` (a splat scalar, if known) is the value `k`.
fn is(s: Option<&Literal>, k: Known) -> bool {
    let Some(s) = s else {
        return false;
    };
    let t = s.dtype();
    let d = s.data();
    if t.is_float() {
        let f = d.get_f64(0);
        match k {
            Known::PosZero => f == 0.0 && f.is_sign_positive(),
            Known::NegZero => f == 0.0 && f.is_sign_negative(),
            Known::FloatOne => f == 1.0,
            _ => false,
        }
    } else {
        let i = d.get_i128(0);
        match k {
            Known::IntZero => i == 0,
            Known::IntOne => i == 1,
            Known::AllOnes if t.is_signed_int() => i == -1,
            Known::AllOnes if t.is_bool() => i == 1,
            Known::AllOnes => i == (1i128 << t.bits()) - 1,
            _ => false,
        }
    }
}

/// Binary identities; the replacement is one of the operands.
fn binary(r: &Rewriter, b: BinaryOp, x: Value, y: Value) -> Option<Value> {
    use BinaryOp::*;
    use Known::*;
    let t = r.shape(x).dtype;
    let exact = t.is_int() || t.is_bool();
    let int = t.is_int();
    let float = t.is_float();
    // Each operand's splat value is computed once (large constants are scanned).
    let (sx, sy) = (splat(r, x), splat(r, y));
    let isk = |v: Value, k| is(if v == x { sx.as_ref() } else { sy.as_ref() }, k);
    match b {
        Add if int && isk(y, IntZero) => Some(x),
        Add if int && isk(x, IntZero) => Some(y),
        // x + -0.0 == x for every x, including -0.0; x + 0.0 is not.
        Add if float && isk(y, NegZero) => Some(x),
        Add if float && isk(x, NegZero) => Some(y),
        Sub if int && isk(y, IntZero) => Some(x),
        Sub if float && isk(y, PosZero) => Some(x),
        Mul if int && isk(y, IntOne) => Some(x),
        Mul if int && isk(x, IntOne) => Some(y),
        Mul if int && isk(y, IntZero) => Some(y),
        Mul if int && isk(x, IntZero) => Some(x),
        Mul if float && isk(y, FloatOne) => Some(x),
        Mul if float && isk(x, FloatOne) => Some(y),
        Div if int && isk(y, IntOne) => Some(x),
        Div if float && isk(y, FloatOne) => Some(x),
        And | Or if exact && x == y => Some(x),
        Max | Min if int && x == y => Some(x),
        And if exact && isk(y, AllOnes) => Some(x),
        And if exact && isk(x, AllOnes) => Some(y),
        And if exact && isk(y, IntZero) => Some(y),
        And if exact && isk(x, IntZero) => Some(x),
        Or | Xor if exact && isk(y, IntZero) => Some(x),
        Or | Xor if exact && isk(x, IntZero) => Some(y),
        Or if exact && isk(y, AllOnes) => Some(y),
        Or if exact && isk(x, AllOnes) => Some(x),
        ShiftLeft | ShiftRightLogical | ShiftRightArithmetic if int && isk(y, IntZero) => Some(x),
        _ => None,
    }
}

/// Significand bits of a float type (with the implicit bit).
fn mantissa_bits(t: DType) -> u32 {
    match t {
        DType::F16 => 11,
        DType::BF16 => 8,
        DType::F32 => 24,
        _ => 53,
    }
}

/// Bits an integer type's values need as a magnitude.
fn value_bits(t: DType) -> u32 {
    if t.is_signed_int() {
        t.bits() - 1
    } else {
        t.bits()
    }
}

/// Whether converting `a` to `b` keeps every value (quiet NaNs included).
fn lossless(a: DType, b: DType) -> bool {
    match (a, b) {
        _ if a == b => true,
        (DType::Bool, _) => true,
        _ if a.is_int() && b.is_int() => match (a.is_signed_int(), b.is_signed_int()) {
            (true, false) => false,
            (false, true) => b.bits() > a.bits(),
            _ => b.bits() >= a.bits(),
        },
        _ if a.is_int() && b.is_float() => mantissa_bits(b) >= value_bits(a),
        (DType::F16 | DType::BF16, DType::F32 | DType::F64) | (DType::F32, DType::F64) => true,
        _ => false,
    }
}

/// Whether `convert(convert(x: a, b), c) == convert(x, c)` (the identity when
/// `c == a`). The first step must be lossless; then converting from `b` depends only
/// on the value, which is `x`'s, and integer and float sources convert values alike
/// except that float -> integer saturates where integer -> integer wraps.
fn convert_chain(a: DType, b: DType, c: DType) -> bool {
    if !lossless(a, b) {
        return false;
    }
    let int_like = |t: DType| t.is_int() || t.is_bool();
    c == a
        || (int_like(a) && int_like(b))
        || (a.is_float() && b.is_float())
        || (int_like(a) && b.is_float() && (c.is_float() || c.is_bool()))
}

/// `slice(slice(z, s1, _, t1), s2, l2, t2)` as one slice of `z` (when not empty).
fn compose_slices(
    s1: &[usize],
    t1: &[usize],
    s2: &[usize],
    t2: &[usize],
    out: &[usize],
) -> Option<Op> {
    if out.contains(&0) {
        return None;
    }
    let start: Vec<usize> = (0..out.len()).map(|d| s1[d] + s2[d] * t1[d]).collect();
    let strides: Vec<usize> = (0..out.len()).map(|d| t1[d] * t2[d]).collect();
    let limit = (0..out.len())
        .map(|d| start[d] + (out[d] - 1) * strides[d] + 1)
        .collect();
    Some(Op::Slice {
        start,
        limit,
        strides,
    })
}

/// Reverse without its size-1 dims, and reverse(reverse) as one reverse.
fn reverse(r: &Rewriter, dims: &[usize], x: Value) -> Option<Rewrite> {
    let sizes = &r.shape(x).dims;
    let kept: Vec<usize> = dims.iter().copied().filter(|&d| sizes[d] > 1).collect();
    if kept.is_empty() {
        return Some(Rewrite::Value(x));
    }
    let inner = r.def(x);
    if let Op::Reverse { dims: d1 } = &inner.op {
        // Reversing a dim twice undoes it: keep the dims reversed an odd number of times.
        let mut both: Vec<usize> = d1
            .iter()
            .filter(|d| !kept.contains(d))
            .chain(kept.iter().filter(|d| !d1.contains(d)))
            .copied()
            .collect();
        both.sort_unstable();
        return Some(if both.is_empty() {
            Rewrite::Value(inner.operands[0])
        } else {
            new_op(Op::Reverse { dims: both }, vec![inner.operands[0]])
        });
    }
    (kept.len() < dims.len()).then(|| new_op(Op::Reverse { dims: kept }, vec![x]))
}

/// When dot operand `v` is a transpose that keeps the free dims in order: its
/// operand `z` and the batch and contracting dims that name the same dims of `z`.
fn absorb_transpose(
    r: &Rewriter,
    v: Value,
    batch: &[usize],
    contracting: &[usize],
) -> Option<(Value, Vec<usize>, Vec<usize>)> {
    let inner = r.def(v);
    let Op::Transpose { perm } = &inner.op else {
        return None;
    };
    // Dim i of the transpose is dim perm[i] of its operand.
    let free: Vec<usize> = (0..perm.len())
        .filter(|d| !batch.contains(d) && !contracting.contains(d))
        .map(|d| perm[d])
        .collect();
    if !free.windows(2).all(|w| w[0] < w[1]) {
        return None;
    }
    let map = |ds: &[usize]| ds.iter().map(|&d| perm[d]).collect();
    Some((inner.operands[0], map(batch), map(contracting)))
}
