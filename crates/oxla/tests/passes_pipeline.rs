//! The pass pipeline: the default passes, verification after each pass (a breaking
//! pass is named), errors from passes, and the whole pipeline on mixed programs
//! (fewer instructions, bit-identical results).

mod passes_support;

use oxla::passes::{default_pipeline, optimize, Cse, Dce, Pass, Pipeline, Simplify};
use oxla::{BinaryOp, Builder, DType, Error, Module, Shape, UnaryOp};
use passes_support::*;

/// A test pass that gives an instruction a wrong result shape.
struct Breaker;

impl Pass for Breaker {
    fn name(&self) -> &'static str {
        "breaker"
    }

    fn run(&self, module: &mut Module) -> Result<bool, Error> {
        let entry = module.entry.0;
        let instr = module.computations[entry]
            .instrs
            .last_mut()
            .expect("an instruction");
        instr.shapes[0] = Shape::new(DType::F64, [99]);
        Ok(true)
    }
}

/// A test pass that fails.
struct Failing;

impl Pass for Failing {
    fn name(&self) -> &'static str {
        "failing"
    }

    fn run(&self, _: &mut Module) -> Result<bool, Error> {
        Err(Error::Runtime("failing pass".to_string()))
    }
}

fn small() -> Module {
    module(&[Shape::new(DType::F32, [3])], |b, p| {
        vec![b.unary(UnaryOp::Exp, p[0])]
    })
}

#[test]
fn a_breaking_pass_is_named() {
    let mut m = small();
    let err = Pipeline::new()
        .add(Simplify)
        .add(Breaker)
        .add(Dce)
        .run(&mut m)
        .unwrap_err();
    let Error::InvalidModule(msg) = err else {
        panic!("wrong error kind: {err:?}");
    };
    assert!(msg.contains("after pass breaker"), "{msg}");
}

#[test]
fn an_invalid_input_and_a_failing_pass_are_reported() {
    let mut m = small();
    m.computations[0].results[0].instr = 7;
    let err = default_pipeline().run(&mut m).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidModule(msg) if msg.contains("input")),
        "{err:?}"
    );
    let mut m = small();
    let err = Pipeline::new().add(Failing).run(&mut m).unwrap_err();
    assert_eq!(err, Error::Runtime("failing pass".to_string()));
}

#[test]
fn default_pipeline_passes() {
    let names = default_pipeline().pass_names();
    assert_eq!(&names[..4], &["simplify", "constant_fold", "cse", "dce"]);
    assert!(Pipeline::new().pass_names().is_empty());
    let mut m = small();
    let before = m.clone();
    Pipeline::new().run(&mut m).unwrap();
    assert_eq!(m, before);
}

/// A program with work for every pass: duplicates, identities, foldable constants
/// and dead code.
fn mixed(dtype: DType) -> Module {
    let s = Shape::new(dtype, [4, 6]);
    let mut b = Builder::new("mixed");
    let add = b.scalar_binary_region(BinaryOp::Add, dtype);
    let _unused_region = b.scalar_binary_region(BinaryOp::Max, dtype);
    let x = b.parameter(s.clone());
    let y = b.parameter(s.clone());
    let one = b.constant_f64(dtype, 1.0);
    let two = b.constant_f64(dtype, 2.0);
    // (2 / 2) * 1: a foldable chain that ends in the identity 1 for every dtype.
    let q = b.binary(BinaryOp::Div, two, two);
    let k = b.binary(BinaryOp::Mul, q, one);
    let kb = b.broadcast_in_dim(k, &[4, 6], &[]);
    let xk = b.binary(BinaryOp::Mul, x, kb);
    let s1 = b.binary(BinaryOp::Sub, xk, y);
    let s2 = b.binary(BinaryOp::Sub, xk, y);
    let t = b.transpose(s2, &[1, 0]);
    let tt = b.transpose(t, &[1, 0]);
    let prod = b.binary(BinaryOp::Mul, s1, tt);
    let _dead = b.unary(UnaryOp::Neg, prod);
    let z = b.constant_f64(dtype, 0.0);
    let r = b.reduce(&[prod], &[z], &[1], add);
    b.finish(&r)
}

#[test]
fn the_default_pipeline_shrinks_programs_exactly() {
    for dtype in [DType::F32, DType::F64, DType::I32] {
        let m = mixed(dtype);
        let mut out = m.clone();
        optimize(&mut out).unwrap();
        // Left: the two parameters, x - y, its square, the reduce's init and the reduce.
        assert_eq!(
            ops(&out),
            vec!["subtract", "multiply", "constant", "reduce"],
            "{dtype}:\n{out}"
        );
        assert_eq!(out.computations.len(), 2);
        assert_same(&m, &out, 40, 6, true);
        // Optimizing again changes nothing.
        let mut again = out.clone();
        optimize(&mut again).unwrap();
        assert_eq!(again, out);
    }
}

#[test]
fn passes_report_no_change_on_their_own_output() {
    let m = mixed(DType::F32);
    let mut out = m.clone();
    optimize(&mut out).unwrap();
    for p in [&Simplify as &dyn Pass, &Cse, &Dce] {
        assert!(!p.run(&mut out.clone()).unwrap(), "{} changed", p.name());
    }
}
