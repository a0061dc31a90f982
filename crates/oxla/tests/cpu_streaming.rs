//! Loop kernels with outputs large enough to be written with streaming stores
//! (through a stack tile, from the first 64-byte boundary on): results must equal
//! the interpreter's, whatever the alignment of the thread's range, the rows'
//! lengths and the outputs' dtypes. Row kernels' streamed outputs are checked in
//! `cpu_row_kernels.rs`.

mod common;

use oxla::{BinaryOp, Builder, DType, Shape, UnaryOp};

/// Above the 8 MiB streaming threshold in f32, and not a multiple of anything.
const BIG: usize = 2_100_003;

#[test]
fn large_elementwise_outputs_match() {
    // Two f32 outputs (both streamed) and an f64 one (a different element size,
    // so stored plainly in the same loop).
    let mut b = Builder::new("big");
    let x = b.parameter(Shape::new(DType::F32, [BIG]));
    let k = b.constant_f64(DType::F32, 1.5);
    let k = b.broadcast_in_dim(k, &[BIG], &[]);
    let y = b.binary(BinaryOp::Mul, x, k);
    let z = b.unary(UnaryOp::Exp, x);
    let w = b.convert(y, DType::F64);
    let w = b.binary(BinaryOp::Add, w, w);
    let m = b.finish(&[y, z, w]);
    common::check_cpu(m, &[common::ramp(DType::F32, &[BIG], 1)], 2e-6);
}

#[test]
fn large_outputs_with_long_rows_match() {
    // A 2-D loop kernel: each row has its own head, chunks and tail.
    let (rows, cols) = (4, 600_001);
    let mut b = Builder::new("rows");
    let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
    let v = b.parameter(Shape::new(DType::F32, [cols]));
    let vb = b.broadcast_in_dim(v, &[rows, cols], &[1]);
    let s = b.binary(BinaryOp::Sub, x, vb);
    let t = b.unary(UnaryOp::Tanh, s);
    let m = b.finish(&[t]);
    let args = [
        common::ramp(DType::F32, &[rows, cols], 3),
        common::ramp(DType::F32, &[cols], 5),
    ];
    common::check_cpu(m, &args, 4e-6);
}

/// A chain of math functions over a streamed size: its loop interleaves two vector
/// iterations and prefetches its inputs ahead (two parameters of the output's
/// dims, one of them read twice); results must stay the interpreter's.
#[test]
fn large_math_chains_match() {
    let mut b = Builder::new("chain");
    let x = b.parameter(Shape::new(DType::F32, [BIG]));
    let y = b.parameter(Shape::new(DType::F32, [BIG]));
    let t = b.unary(UnaryOp::Tanh, x);
    let e = b.unary(UnaryOp::Exp, t);
    let s = b.binary(BinaryOp::Mul, e, y);
    let l = b.unary(UnaryOp::Logistic, s);
    let out = b.binary(BinaryOp::Mul, l, x);
    let m = b.finish(&[out]);
    let args = [
        common::ramp(DType::F32, &[BIG], 2),
        common::ramp(DType::F32, &[BIG], 5),
    ];
    // Three functions of a few ULP each, and exp magnifies its argument's error.
    common::check_cpu(m, &args, 1e-5);
}
