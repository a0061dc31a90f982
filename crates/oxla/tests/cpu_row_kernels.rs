//! Row kernels (`FusionKind::Row`): row reductions fused with the elementwise
//! consumers of their results, checked against the interpreter, with the fusion
//! decision itself asserted (when a row kernel must form, and when it must not).

mod common;

use oxla::backend::cpu::optimized_module;
use oxla::backend::interp::evaluate;
use oxla::{BinaryOp, Builder, Client, DType, FusionKind, Literal, Module, Op, Shape, UnaryOp};

/// The fusion kinds of the optimized module's entry computation.
fn kinds(m: &Module) -> Vec<FusionKind> {
    let opt = optimized_module(m).expect("optimize");
    opt.computation(opt.entry)
        .instrs
        .iter()
        .filter_map(|i| match i.op {
            Op::Fusion { kind, .. } => Some(kind),
            _ => None,
        })
        .collect()
}

/// Runs `m` on the CPU backend and in the interpreter; compares every result
/// within `rel` (NaNs must match).
fn check(m: Module, args: &[Literal], rel: f64) {
    let want = evaluate(&m, args).expect("interpreter");
    let client = Client::cpu();
    let exe = client.compile(m).expect("compile");
    let bufs: Vec<_> = args
        .iter()
        .map(|a| client.buffer_from_literal(a.clone()))
        .collect();
    let refs: Vec<_> = bufs.iter().collect();
    let got = exe.execute(&refs).expect("run");
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        let g = g.literal();
        assert_eq!(g.shape(), w.shape(), "result {k}");
        common::assert_close(
            &common::f64s(g),
            &common::f64s(w),
            rel,
            &format!("result {k}"),
        );
    }
}

fn input(dtype: DType, dims: &[usize], seed: usize) -> Literal {
    let n: usize = dims.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| (((i + seed) * 7919) % 1009) as f64 / 97.0 - 5.0)
        .collect();
    common::lit(dtype, dims, &v)
}

#[test]
fn softmax_rows_of_many_lengths_form_one_row_kernel() {
    // Lengths that are and are not multiples of the kernel's 64 lanes.
    for cols in [64, 100, 1000, 4099] {
        let rows = 19;
        let mut b = Builder::new("softmax");
        let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
        let out = common::softmax_rows(&mut b, x, rows, cols);
        let m = b.finish(&[out]);
        assert_eq!(kinds(&m), [FusionKind::Row], "cols {cols}");
        check(m, &[input(DType::F32, &[rows, cols], cols)], 2e-6);
    }
}

/// Mean and variance (two stages, f64, keepdims reshapes in between), normalized.
#[test]
fn two_stage_f64_layernorm_matches() {
    let (rows, cols) = (33, 257);
    let d = DType::F64;
    let mut b = Builder::new("layernorm");
    let x = b.parameter(Shape::new(d, [rows, cols]));
    let zero = b.constant_f64(d, 0.0);
    let add = b.scalar_binary_region(BinaryOp::Add, d);
    let n = b.full_f64(&Shape::new(d, [rows]), cols as f64);
    let sum = b.reduce(&[x], &[zero], &[1], add);
    let mean = b.binary(BinaryOp::Div, sum[0], n);
    let mean = b.reshape(mean, &[rows, 1]);
    let meanb = b.broadcast_in_dim(mean, &[rows, cols], &[0, 1]);
    let c = b.binary(BinaryOp::Sub, x, meanb);
    let c2 = b.binary(BinaryOp::Mul, c, c);
    let ss = b.reduce(&[c2], &[zero], &[1], add);
    let var = b.binary(BinaryOp::Div, ss[0], n);
    let inv = b.unary(UnaryOp::Rsqrt, var);
    let invb = b.broadcast_in_dim(inv, &[rows, cols], &[0]);
    let out = b.binary(BinaryOp::Mul, c, invb);
    let m = b.finish(&[out]);
    assert_eq!(kinds(&m), [FusionKind::Row]);
    check(m, &[input(d, &[rows, cols], 3)], 1e-12);
}

/// Max, min and product of a row in one stage; the max is also a result of its
/// own, so the row kernel has outputs of both shapes.
#[test]
fn sibling_reductions_and_a_row_shaped_output() {
    let (rows, cols) = (20, 130);
    let d = DType::F32;
    let mut b = Builder::new("siblings");
    let x = b.parameter(Shape::new(d, [rows, cols]));
    let region = |b: &mut Builder, op| b.scalar_binary_region(op, d);
    let maxr = region(&mut b, BinaryOp::Max);
    let minr = region(&mut b, BinaryOp::Min);
    let mulr = region(&mut b, BinaryOp::Mul);
    let ninf = b.constant_f64(d, f64::NEG_INFINITY);
    let inf = b.constant_f64(d, f64::INFINITY);
    let one = b.constant_f64(d, 1.0);
    // Factors near 1 keep the product finite.
    let scale = b.full_f64(&Shape::new(d, [rows, cols]), 0.01);
    let small = b.binary(BinaryOp::Mul, x, scale);
    let ones = b.full_f64(&Shape::new(d, [rows, cols]), 1.0);
    let factors = b.binary(BinaryOp::Add, small, ones);
    let hi = b.reduce(&[x], &[ninf], &[1], maxr);
    let lo = b.reduce(&[x], &[inf], &[1], minr);
    let prod = b.reduce(&[factors], &[one], &[1], mulr);
    let bc = |b: &mut Builder, v| b.broadcast_in_dim(v, &[rows, cols], &[0]);
    let (hib, lob, prodb) = (bc(&mut b, hi[0]), bc(&mut b, lo[0]), bc(&mut b, prod[0]));
    let range = b.binary(BinaryOp::Sub, hib, lob);
    let shifted = b.binary(BinaryOp::Sub, x, lob);
    let unit = b.binary(BinaryOp::Div, shifted, range);
    let out = b.binary(BinaryOp::Mul, unit, prodb);
    let m = b.finish(&[out, hi[0]]);
    assert_eq!(kinds(&m), [FusionKind::Row]);
    check(m, &[input(d, &[rows, cols], 5)], 4e-6);
}

/// NaN and infinities inside rows propagate as in the interpreter.
#[test]
fn nan_and_infinity_rows() {
    let (rows, cols) = (16, 96);
    let mut v: Vec<f64> = (0..rows * cols).map(|i| (i % 13) as f64 - 6.0).collect();
    v[3 * cols + 70] = f64::NAN;
    v[5 * cols + 1] = f64::INFINITY;
    v[7 * cols + 95] = f64::NEG_INFINITY; // in no lane's first vector
    v[9 * cols] = -0.0;
    let mut b = Builder::new("softmax");
    let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
    let out = common::softmax_rows(&mut b, x, rows, cols);
    let m = b.finish(&[out]);
    assert_eq!(kinds(&m), [FusionKind::Row]);
    check(m, &[common::lit(DType::F32, &[rows, cols], &v)], 2e-6);
}

/// Two kept dims and two reduced dims: rows are the leading pair.
#[test]
fn rank_four_rows() {
    let dims = [4, 5, 8, 16];
    let d = DType::F32;
    let mut b = Builder::new("rank4");
    let x = b.parameter(Shape::new(d, dims));
    let zero = b.constant_f64(d, 0.0);
    let add = b.scalar_binary_region(BinaryOp::Add, d);
    let sq = b.binary(BinaryOp::Mul, x, x);
    let s = b.reduce(&[sq], &[zero], &[2, 3], add);
    let sb = b.broadcast_in_dim(s[0], &dims, &[0, 1]);
    let out = b.binary(BinaryOp::Div, sq, sb);
    let m = b.finish(&[out]);
    assert_eq!(kinds(&m), [FusionKind::Row]);
    check(m, &[input(d, &dims, 7)], 2e-6);
}

/// A consumer that reads the reduction at another row (reversed rows) cannot
/// run in the row kernel: the other row's total does not exist yet.
#[test]
fn reading_another_rows_total_keeps_separate_kernels() {
    let (rows, cols) = (24, 128);
    let d = DType::F32;
    let mut b = Builder::new("reversed");
    let x = b.parameter(Shape::new(d, [rows, cols]));
    let zero = b.constant_f64(d, 0.0);
    let add = b.scalar_binary_region(BinaryOp::Add, d);
    let s = b.reduce(&[x], &[zero], &[1], add);
    let rev = b.add(Op::Reverse { dims: vec![0] }, &[s[0]]);
    let sb = b.broadcast_in_dim(rev, &[rows, cols], &[0]);
    let out = b.binary(BinaryOp::Sub, x, sb);
    let m = b.finish(&[out]);
    assert!(!kinds(&m).contains(&FusionKind::Row), "{:?}", kinds(&m));
    check(m, &[input(d, &[rows, cols], 11)], 2e-6);
}

/// Too few rows to share among cores, or rows too long to stay in cache: the
/// reductions stay kernels of their own.
#[test]
fn few_or_very_long_rows_keep_separate_kernels() {
    for (rows, cols) in [(4, 4096), (16, 40000)] {
        let mut b = Builder::new("softmax");
        let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
        let out = common::softmax_rows(&mut b, x, rows, cols);
        let m = b.finish(&[out]);
        let k = kinds(&m);
        assert_eq!(k.len(), 3, "{rows}x{cols}: {k:?}");
        assert!(!k.contains(&FusionKind::Row));
    }
}

/// The row kernel stores `exp(x - max)` in an output's buffer while summing it and
/// reads it back for the outputs; with two outputs that use it (in either order),
/// and a row length with a tail, both must come out right.
#[test]
fn a_stored_reduce_operand_feeds_two_outputs() {
    let (rows, cols) = (17, 1000 + 37);
    for swap in [false, true] {
        let d = DType::F32;
        let mut b = Builder::new("two_uses");
        let x = b.parameter(Shape::new(d, [rows, cols]));
        let ninf = b.constant_f64(d, f64::NEG_INFINITY);
        let maxr = b.scalar_binary_region(BinaryOp::Max, d);
        let mx = b.reduce(&[x], &[ninf], &[1], maxr);
        let mxb = b.broadcast_in_dim(mx[0], &[rows, cols], &[0]);
        let diff = b.binary(BinaryOp::Sub, x, mxb);
        let e = b.unary(UnaryOp::Exp, diff);
        let zero = b.constant_f64(d, 0.0);
        let addr = b.scalar_binary_region(BinaryOp::Add, d);
        let s = b.reduce(&[e], &[zero], &[1], addr);
        let sb = b.broadcast_in_dim(s[0], &[rows, cols], &[0]);
        let soft = b.binary(BinaryOp::Div, e, sb);
        let twice = b.binary(BinaryOp::Add, e, e);
        let outs = if swap { [twice, soft] } else { [soft, twice] };
        let m = b.finish(&outs);
        assert_eq!(kinds(&m), [FusionKind::Row]);
        check(m, &[input(d, &[rows, cols], 13)], 2e-6);
    }
}
