//! Constant folding: what folds (instruction counts), what must not (size limits,
//! broadcasts and iotas that would grow, loops, side effects), and bit-identical
//! results before and after.

mod passes_support;

use oxla::passes::{ConstantFold, Dce, FOLD_EXPAND_LIMIT, FOLD_LIMIT};
use oxla::runtime::callbacks;
use oxla::{BinaryOp, Builder, CmpDir, DType, Literal, Op, Shape, UnaryOp};
use passes_support::*;

#[test]
fn chains_of_constants_fold_to_one_constant() {
    let mut rng = Rng::new(30);
    for dtype in [DType::F32, DType::F16, DType::I8, DType::U64] {
        let s = Shape::new(dtype, [3, 4]);
        let c1 = random_literal(&mut rng, &s, true);
        let c2 = random_literal(&mut rng, &s, true);
        let m = module(std::slice::from_ref(&s), |b, p| {
            let a = b.constant(c1.clone());
            let c = b.constant(c2.clone());
            let sum = b.binary(BinaryOp::Mul, a, c);
            let t = b.transpose(sum, &[1, 0]);
            let r = b.reshape(t, &[12]);
            let back = b.reshape(r, &[3, 4]);
            let n = b.unary(UnaryOp::Abs, back);
            // Depends on the parameter: stays.
            vec![b.binary(BinaryOp::Add, n, p[0])]
        });
        let (out, changed) = apply(&m, &[&ConstantFold, &Dce]);
        assert!(changed);
        assert_eq!(ops(&out), vec!["constant", "add"], "{dtype}:\n{out}");
        assert_same(&m, &out, 31, 4, true);
        assert!(
            !apply(&out, &[&ConstantFold]).1,
            "folding is not idempotent"
        );
    }
}

#[test]
fn regions_travel_with_folded_reductions_and_sorts() {
    let mut b = Builder::new("m");
    let add = b.scalar_binary_region(BinaryOp::Add, DType::I32);
    let s = Shape::scalar(DType::F32);
    let less = b.region("less", &[s.clone(), s], |b, p| {
        vec![b.compare(CmpDir::Lt, p[0], p[1])]
    });
    let x = b.parameter(Shape::new(DType::I32, [3]));
    let c = b.constant(Literal::from_vec(&[2, 3], vec![1i32, 2, 3, 4, 5, 6]));
    let z = b.constant_i128(DType::I32, 0);
    let sums = b.reduce(&[c], &[z], &[0], add);
    let v = b.constant(Literal::from_vec(&[5], vec![3.0f32, -0.0, 0.0, -1.0, 2.5]));
    let sorted = b.add(
        Op::Sort {
            dim: 0,
            is_stable: true,
            body: less,
        },
        &[v],
    );
    let out = b.binary(BinaryOp::Add, sums[0], x);
    let m = b.finish(&[out, sorted]);
    let (folded, changed) = apply(&m, &[&ConstantFold, &Dce]);
    assert!(changed);
    assert_eq!(count(&folded, "reduce") + count(&folded, "sort"), 0);
    // Both regions are unused now.
    assert_eq!(folded.computations.len(), 1);
    assert_same(&m, &folded, 32, 3, false);
}

#[test]
fn growing_broadcasts_never_fold_and_iotas_only_when_small() {
    let big = [100, 100];
    let small = [2, 3];
    const { assert!(6 <= FOLD_EXPAND_LIMIT && 10_000 > FOLD_EXPAND_LIMIT) };
    let m = module(&[], |b, _| {
        let c = b.constant_f64(DType::F32, 2.5);
        let big_b = b.broadcast_in_dim(c, &big, &[]);
        let small_b = b.broadcast_in_dim(c, &small, &[]);
        let big_i = b.iota(Shape::new(DType::I32, big), 1);
        let small_i = b.iota(Shape::new(DType::I32, small), 0);
        // A broadcast that does not grow (adds a size-1 dim) folds at any size.
        let wide = b.constant(Literal::from_vec(&[200], vec![1u8; 200]));
        let same_size = b.broadcast_in_dim(wide, &[1, 200], &[1]);
        vec![big_b, small_b, big_i, small_i, same_size]
    });
    let (out, changed) = apply(&m, &[&ConstantFold, &Dce]);
    assert!(changed);
    assert_eq!(count(&out, "broadcast_in_dim"), 2);
    assert_eq!(count(&out, "iota"), 1);
    let e = out.entry_computation();
    let shape_of = |i: usize| e.instrs[e.results[i].instr].op.name();
    assert_eq!(shape_of(0), "broadcast_in_dim");
    assert_eq!(shape_of(2), "iota");
    assert_eq!(shape_of(1), "broadcast_in_dim");
    assert_eq!(shape_of(3), "constant");
    assert_eq!(shape_of(4), "constant");
    assert_same(&m, &out, 33, 1, false);
}

#[test]
fn results_over_the_limit_stay() {
    let n = FOLD_LIMIT + 1;
    let m = module(&[], |b, _| {
        let c = b.constant(Literal::from_vec(&[n], vec![1i8; n]));
        vec![b.unary(UnaryOp::Neg, c)]
    });
    let (_, changed) = apply(&m, &[&ConstantFold]);
    assert!(!changed);
    let m = module(&[], |b, _| {
        let c = b.constant(Literal::from_vec(&[FOLD_LIMIT], vec![1i8; FOLD_LIMIT]));
        vec![b.unary(UnaryOp::Neg, c)]
    });
    let (out, changed) = apply(&m, &[&ConstantFold, &Dce]);
    assert!(changed);
    assert_eq!(ops(&out), vec!["constant"]);
}

#[test]
fn loops_and_callbacks_stay() {
    let id = callbacks::register(|xs: &[Literal]| xs.to_vec());
    let mut b = Builder::new("m");
    let s = Shape::scalar(DType::I32);
    let cond = b.region("cond", std::slice::from_ref(&s), |b, p| {
        let ten = b.constant_i128(DType::I32, 10);
        vec![b.compare(CmpDir::Lt, p[0], ten)]
    });
    let body = b.region("body", std::slice::from_ref(&s), |b, p| {
        let one = b.constant_i128(DType::I32, 1);
        vec![b.binary(BinaryOp::Add, p[0], one)]
    });
    // A pure call whose callee loops: not folded either.
    let looping = b.region("looping", std::slice::from_ref(&s), |b, p| {
        vec![b.add(Op::While { cond, body }, &[p[0]])]
    });
    let zero = b.constant_i128(DType::I32, 0);
    let w = b.add(Op::While { cond, body }, &[zero]);
    let c = b.add(Op::Call { comp: looping }, &[zero]);
    let cb = b.host_callback(id, &[zero], std::slice::from_ref(&s));
    let m = b.finish(&[w, c, cb[0]]);
    let (out, changed) = apply(&m, &[&ConstantFold]);
    // Only `1 + x` style work inside regions could fold, and there is none.
    assert!(!changed, "{out}");
    assert_same(&m, &out, 34, 1, false);
    callbacks::unregister(id);
}

#[test]
fn folding_inside_regions() {
    let mut b = Builder::new("m");
    let s = Shape::scalar(DType::F64);
    let body = b.region("scaled_add", &[s.clone(), s.clone()], |b, p| {
        let two = b.constant_f64(DType::F64, 2.0);
        let half = b.constant_f64(DType::F64, 0.5);
        let one = b.binary(BinaryOp::Mul, two, half);
        let a = b.binary(BinaryOp::Add, p[0], p[1]);
        vec![b.binary(BinaryOp::Mul, a, one)]
    });
    let x = b.parameter(Shape::new(DType::F64, [5]));
    let z = b.constant_f64(DType::F64, 0.0);
    let r = b.reduce(&[x], &[z], &[0], body);
    let m = b.finish(&r);
    let (out, changed) = apply(&m, &[&ConstantFold, &Dce]);
    assert!(changed);
    let region = &out.computations[0];
    let names: Vec<&str> = region.instrs.iter().map(|i| i.op.name()).collect();
    assert_eq!(
        names,
        vec!["parameter", "parameter", "constant", "add", "multiply"]
    );
    assert_same(&m, &out, 35, 5, true);
}
