//! CSE and DCE: what they merge and remove (instruction and computation counts),
//! what they must keep (side effects, distinct constants, parameters), and
//! bit-identical results before and after.

mod passes_support;

use oxla::passes::{Cse, Dce};
use oxla::runtime::callbacks;
use oxla::{BinaryOp, Builder, CompId, DType, Literal, Module, Op, Shape, UnaryOp, Value};
use passes_support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn cse_merges_duplicate_chains() {
    for dtype in [DType::F32, DType::I64, DType::BF16] {
        let s = Shape::new(dtype, [4, 3]);
        let m = module(&[s.clone(), s], |b, p| {
            let a1 = b.binary(BinaryOp::Add, p[0], p[1]);
            let a2 = b.binary(BinaryOp::Add, p[0], p[1]);
            let m1 = b.binary(BinaryOp::Mul, a1, a1);
            let m2 = b.binary(BinaryOp::Mul, a2, a2);
            let t1 = b.transpose(m1, &[1, 0]);
            let t2 = b.transpose(m2, &[1, 0]);
            // Operand order matters: no merge with a1.
            let a3 = b.binary(BinaryOp::Add, p[1], p[0]);
            vec![t1, t2, a3]
        });
        let (out, changed) = apply(&m, &[&Cse]);
        assert!(changed);
        assert_eq!(count(&out, "add"), 2);
        assert_eq!(count(&out, "multiply"), 1);
        assert_eq!(count(&out, "transpose"), 1);
        let e = out.entry_computation();
        assert_eq!(e.results[0], e.results[1]);
        assert_same(&m, &out, 20, 5, true);
        assert!(!apply(&out, &[&Cse]).1, "CSE is not idempotent");
    }
}

#[test]
fn cse_compares_constants_bit_for_bit() {
    let m = module(&[Shape::scalar(DType::F32)], |b, p| {
        let z = b.constant(Literal::scalar(0.0f32));
        let nz = b.constant(Literal::scalar(-0.0f32));
        let z2 = b.constant(Literal::scalar(0.0f32));
        let nan = b.constant(Literal::scalar(f32::NAN));
        let nan2 = b.constant(Literal::scalar(f32::NAN));
        let other_nan = b.constant(Literal::scalar(f32::from_bits(0x7FC0_0001)));
        [z, nz, z2, nan, nan2, other_nan]
            .into_iter()
            .map(|c| b.binary(BinaryOp::Add, p[0], c))
            .collect()
    });
    let (out, changed) = apply(&m, &[&Cse, &Dce]);
    assert!(changed);
    // 0.0, -0.0, NaN and the other NaN stay apart.
    assert_eq!(count(&out, "constant"), 4);
    assert_eq!(count(&out, "add"), 4);
    assert_same(&m, &out, 21, 5, true);
}

#[test]
fn cse_keeps_different_attributes_apart() {
    let m = module(&[Shape::new(DType::I32, [3, 3])], |b, p| {
        let t1 = b.transpose(p[0], &[1, 0]);
        let t2 = b.transpose(p[0], &[0, 1]);
        let r1 = b.add(Op::Reverse { dims: vec![0] }, &[p[0]]);
        let r2 = b.add(Op::Reverse { dims: vec![1] }, &[p[0]]);
        let i1 = b.iota(Shape::new(DType::I32, [3, 3]), 0);
        let i2 = b.iota(Shape::new(DType::I32, [3, 3]), 1);
        vec![t1, t2, r1, r2, i1, i2]
    });
    let (out, changed) = apply(&m, &[&Cse]);
    assert!(!changed);
    assert_eq!(out, m);
}

#[test]
fn cse_merges_multi_result_instructions_and_params() {
    let mut b = Builder::new("m");
    let add = b.scalar_binary_region(BinaryOp::Add, DType::I32);
    let x = b.parameter(Shape::new(DType::I32, [4, 5]));
    let x_again = b.add(Op::Parameter { index: 0 }, &[]);
    let z = b.constant_i128(DType::I32, 0);
    let r1 = b.reduce(&[x], &[z], &[1], add);
    let r2 = b.reduce(&[x_again], &[z], &[1], add);
    let m = b.finish(&[r1[0], r2[0]]);
    let (out, changed) = apply(&m, &[&Cse, &Dce]);
    assert!(changed);
    assert_eq!(count(&out, "reduce"), 1);
    assert_same(&m, &out, 22, 5, false);
}

/// A callback counting its calls, returning its operand.
fn counting_callback() -> (u64, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let id = callbacks::register(move |xs: &[Literal]| {
        n2.fetch_add(1, Ordering::SeqCst);
        xs.to_vec()
    });
    (id, n)
}

/// Runs `m` and returns how often the counter went up.
fn calls(m: &Module, n: &AtomicUsize, args: &[Literal]) -> usize {
    let before = n.load(Ordering::SeqCst);
    oxla::backend::interp::evaluate(m, args).expect("runs");
    n.load(Ordering::SeqCst) - before
}

#[test]
fn side_effects_are_neither_merged_nor_removed() {
    let (id, n) = counting_callback();
    let s = Shape::new(DType::F32, [2]);
    let mut b = Builder::new("fx");
    // A region whose only effect is the callback: calls to it are effects too.
    let noisy = b.region("noisy", std::slice::from_ref(&s), |b, p| {
        b.host_callback(id, &[p[0]], std::slice::from_ref(&s));
        vec![p[0]]
    });
    let x = b.parameter(s.clone());
    let c1 = b.host_callback(id, &[x], std::slice::from_ref(&s));
    let _c2 = b.host_callback(id, &[x], std::slice::from_ref(&s));
    let _unused_call = b.add(Op::Call { comp: noisy }, &[x]);
    let _unused_call2 = b.add(Op::Call { comp: noisy }, &[x]);
    let _dead = b.unary(UnaryOp::Neg, x);
    let m = b.finish(&[c1[0]]);
    let (out, _) = apply(&m, &[&Cse, &Dce]);
    assert_eq!(count(&out, "host_callback"), 2);
    assert_eq!(count(&out, "call"), 2);
    assert_eq!(count(&out, "negate"), 0);
    assert_eq!(out.computations.len(), 2);
    let arg = [Literal::from_vec(&[2], vec![1.0f32, -2.0])];
    assert_eq!(calls(&m, &n, &arg), 4);
    assert_eq!(calls(&out, &n, &arg), 4);
    assert_same(&m, &out, 23, 3, true);
    callbacks::unregister(id);
}

#[test]
fn dce_removes_dead_instructions_and_keeps_parameters() {
    let s = Shape::new(DType::I16, [3]);
    let m = module(&[s.clone(), s.clone(), s], |b, p| {
        let dead1 = b.binary(BinaryOp::Mul, p[0], p[1]);
        let _dead2 = b.unary(UnaryOp::Neg, dead1);
        let live = b.binary(BinaryOp::Sub, p[1], p[0]);
        vec![live]
    });
    let (out, changed) = apply(&m, &[&Dce]);
    assert!(changed);
    assert_eq!(ops(&out), vec!["subtract"]);
    // The unused third parameter is still there.
    let e = out.entry_computation();
    assert_eq!(e.instrs.len(), 4);
    assert_eq!(e.params.len(), 3);
    assert_eq!(e.results, vec![Value { instr: 3, index: 0 }]);
    assert_same(&m, &out, 24, 5, false);
    assert!(!apply(&out, &[&Dce]).1, "DCE is not idempotent");
}

#[test]
fn dce_keeps_partly_used_multi_result_instructions() {
    let mut b = Builder::new("m");
    let s = Shape::scalar(DType::F64);
    let argmax = b.region(
        "two",
        &[s.clone(), s.clone(), s.clone(), s.clone()],
        |b, p| {
            let a = b.binary(BinaryOp::Max, p[0], p[2]);
            let c = b.binary(BinaryOp::Add, p[1], p[3]);
            vec![a, c]
        },
    );
    let x = b.parameter(Shape::new(DType::F64, [3, 4]));
    let y = b.parameter(Shape::new(DType::F64, [3, 4]));
    let z = b.constant_f64(DType::F64, 0.0);
    let r = b.reduce(&[x, y], &[z, z], &[1], argmax);
    let m = b.finish(&[r[1]]);
    let (out, changed) = apply(&m, &[&Dce]);
    assert!(!changed);
    assert_eq!(count(&out, "reduce"), 1);
}

#[test]
fn dce_removes_unused_computations_and_renumbers() {
    let mut b = Builder::new("m");
    let mul = b.scalar_binary_region(BinaryOp::Mul, DType::F32);
    let add = b.scalar_binary_region(BinaryOp::Add, DType::F32);
    let s = Shape::new(DType::F32, [2, 3]);
    // A called computation that itself uses `add`.
    let inner = b.region("inner", std::slice::from_ref(&s), |b, p| {
        let z = b.constant_f64(DType::F32, -0.0);
        let dead = b.unary(UnaryOp::Exp, p[0]);
        let _dead2 = b.unary(UnaryOp::Log, dead);
        b.reduce(&[p[0]], &[z], &[1], add)
    });
    let x = b.parameter(s);
    let one = b.constant_f64(DType::F32, 1.0);
    let _unused_product = b.reduce(&[x], &[one], &[0], mul);
    let out = b.add(Op::Call { comp: inner }, &[x]);
    let m = b.finish(&[out]);
    assert_eq!(m.computations.len(), 4);
    let (out, changed) = apply(&m, &[&Dce]);
    assert!(changed);
    // `mul` went; add, inner and the entry stay, renumbered.
    assert_eq!(out.computations.len(), 3);
    assert_eq!(out.entry, CompId(2));
    let names: Vec<&str> = out.computations.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["add", "inner", "main"]);
    let call = out
        .entry_computation()
        .instrs
        .iter()
        .find(|i| i.op.name() == "call");
    assert_eq!(call.map(|i| i.op.regions()), Some(vec![CompId(1)]));
    // Dead code inside the called computation went too.
    assert_eq!(out.computations[1].instrs.len(), 3);
    assert_same(&m, &out, 25, 5, true);
}
