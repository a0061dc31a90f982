//! reduce_window as strided slices combined elementwise, for the CPU backend.
//!
//! A reduce_window whose body is one binary op (max pooling, average pooling's
//! sum) over a window of a few positions is, per window position `k`, a strided
//! slice of the (padded, dilated) operand, and the result is
//! `op(...op(op(init, slice_0), slice_1)..., slice_last)`. Pads, slices and binary
//! ops all fuse into one loop kernel reading the operand where the windows need it,
//! instead of the interpreter's loops: a 2×2 max pool of [32,32,32,64] f32 went
//! from 63-68 ms to about a millisecond.
//!
//! Exactness: the interpreter combines only the window positions that land on an
//! operand element (padding and base-dilation holes are skipped). Here those
//! positions read the op's exact identity instead (`x + -0.0`, `x * 1`,
//! `max(x, -inf)`, ... return `x` bit for bit, NaNs and signed zeros included), so
//! the results are identical, in the same combining order.

use super::super::interp::{simple_combiner, Combiner};
use crate::hlo::ir::{BinaryOp, Computation, Instr, Module, Op, Value};
use crate::passes::rewrite::{replace_instrs, Rewriter};
use crate::passes::Pass;
use crate::{DType, Error, Literal, Shape};

/// Window positions above which the rewrite stops paying (one slice read each).
const MAX_WINDOW: usize = 64;

/// The pass (see the module docs).
pub struct WindowAsSlices;

impl Pass for WindowAsSlices {
    fn name(&self) -> &'static str {
        "window_as_slices"
    }

    fn run(&self, module: &mut Module) -> Result<bool, Error> {
        let mut changed = false;
        for c in 0..module.computations.len() {
            let comp = &module.computations[c];
            let ops: Vec<Option<BinaryOp>> = comp
                .instrs
                .iter()
                .map(|i| combining_op(module, i))
                .collect();
            if ops.iter().all(Option::is_none) {
                continue;
            }
            let mut ops = ops.into_iter();
            let rebuilt = replace_instrs(comp, |r, instr| {
                let op = ops.next().expect("one entry per instruction")?;
                Some(vec![rewrite(r, comp, instr, op)])
            });
            module.computations[c] = rebuilt;
            changed = true;
        }
        Ok(changed)
    }
}

/// The binary op of a reduce_window that qualifies: one operand, a body that is
/// one binary op with an exact identity, a non-empty window of at most
/// [`MAX_WINDOW`] positions and a non-empty result.
fn combining_op(module: &Module, instr: &Instr) -> Option<BinaryOp> {
    let Op::ReduceWindow { window, body, .. } = &instr.op else {
        return None;
    };
    let positions: usize = window.iter().product();
    if instr.operands.len() != 2
        || !(1..=MAX_WINDOW).contains(&positions)
        || instr.shapes[0].num_elements() == 0
    {
        return None;
    }
    let Some(Combiner::Binary(op)) = simple_combiner(module.computation(*body)) else {
        return None;
    };
    identity(op, instr.shapes[0].dtype).map(|_| op)
}

/// The value `e` with `op(x, e) == x` bit for bit for every `x` of `dtype`.
fn identity(op: BinaryOp, dtype: DType) -> Option<Literal> {
    let (lo, hi) = int_range(dtype)?;
    let float = dtype.is_float();
    Some(match (op, float) {
        // -0.0, not 0.0: -0.0 + 0.0 is +0.0.
        (BinaryOp::Add, true) => Literal::scalar_f64(dtype, -0.0),
        (BinaryOp::Mul, true) => Literal::scalar_f64(dtype, 1.0),
        (BinaryOp::Max, true) => Literal::scalar_f64(dtype, f64::NEG_INFINITY),
        (BinaryOp::Min, true) => Literal::scalar_f64(dtype, f64::INFINITY),
        (BinaryOp::Add | BinaryOp::Or | BinaryOp::Xor, false) => Literal::scalar_i128(dtype, 0),
        (BinaryOp::Mul, false) => Literal::scalar_i128(dtype, 1),
        (BinaryOp::Max, false) => Literal::scalar_i128(dtype, lo),
        (BinaryOp::Min, false) => Literal::scalar_i128(dtype, hi),
        // All bits set: true, -1, or the unsigned maximum.
        (BinaryOp::And, false) => Literal::scalar_i128(dtype, if lo < 0 { -1 } else { hi }),
        _ => return None,
    })
}

/// The smallest and largest value of an integer (or bool) dtype; floats get a
/// placeholder range (only integers use it).
fn int_range(dtype: DType) -> Option<(i128, i128)> {
    Some(match dtype {
        DType::Bool => (0, 1),
        DType::I8 => (i8::MIN.into(), i8::MAX.into()),
        DType::I16 => (i16::MIN.into(), i16::MAX.into()),
        DType::I32 => (i32::MIN.into(), i32::MAX.into()),
        DType::I64 => (i64::MIN.into(), i64::MAX.into()),
        DType::U8 => (0, u8::MAX.into()),
        DType::U16 => (0, u16::MAX.into()),
        DType::U32 => (0, u32::MAX.into()),
        DType::U64 => (0, u64::MAX.into()),
        d if d.is_float() => (0, 0),
        _ => return None,
    })
}

/// `op(...op(init, slice_0)..., slice_last)` over the window positions of
/// `instr`, the operand padded (and base-dilated) with `op`'s identity.
fn rewrite(r: &mut Rewriter, comp: &Computation, instr: &Instr, op: BinaryOp) -> Value {
    let Op::ReduceWindow {
        window,
        strides,
        base_dilation,
        window_dilation,
        padding,
        ..
    } = &instr.op
    else {
        unreachable!("combining_op accepts reduce_windows only")
    };
    let out = instr.shapes[0].clone();
    let dtype = out.dtype;
    let x_shape = comp.shape(instr.operands[0]).clone();
    let x = r.map(instr.operands[0]);
    let init = r.map(instr.operands[1]);
    let fill = identity(op, dtype).expect("combining_op checked the identity");
    let fill = r.push1(Op::Constant(fill), vec![], Shape::new(dtype, []));
    let padded_dims: Vec<usize> = (0..x_shape.rank())
        .map(|d| {
            let dilated = match x_shape.dims[d] {
                0 => 0,
                n => (n - 1) * base_dilation[d] + 1,
            } as i64;
            (dilated + padding[d].0 + padding[d].1).max(0) as usize
        })
        .collect();
    let padded = r.push1(
        Op::Pad {
            low: padding.iter().map(|p| p.0).collect(),
            high: padding.iter().map(|p| p.1).collect(),
            interior: base_dilation.iter().map(|&b| b - 1).collect(),
        },
        vec![x, fill],
        Shape::new(dtype, padded_dims),
    );
    let mut acc = r.push1(
        Op::BroadcastInDim {
            out_dims: out.dims.clone(),
            broadcast_dims: vec![],
        },
        vec![init],
        out.clone(),
    );
    crate::backend::interp::for_each_index(window, |k| {
        let start: Vec<usize> = (0..k.len()).map(|d| k[d] * window_dilation[d]).collect();
        let limit: Vec<usize> = (0..k.len())
            .map(|d| start[d] + (out.dims[d] - 1) * strides[d] + 1)
            .collect();
        let slice = r.push1(
            Op::Slice {
                start,
                limit,
                strides: strides.clone(),
            },
            vec![padded],
            out.clone(),
        );
        acc = r.push1(Op::Binary(op), vec![acc, slice], out.clone());
    });
    acc
}
