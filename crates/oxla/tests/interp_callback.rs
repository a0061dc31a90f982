//! The host-callback op: results from a registered closure, zero-result callbacks
//! kept and run in program order (also inside loops), shape checks, verifier and text.

mod common;

use common::{f64s, lit, run, Rng};
use oxla::hlo::verify::verify_module;
use oxla::runtime::callbacks;
use oxla::{BinaryOp, Builder, CmpDir, DType, Literal, Op, Shape};
use std::sync::{Arc, Mutex};

#[test]
fn callback_results_feed_the_program() {
    let mut rng = Rng::new(7);
    for dtype in [DType::F32, DType::F64] {
        for rank in 0..3 {
            let dims = rng.dims(rank, 4);
            let n: usize = dims.iter().product();
            let xs = rng.floats(n, -3.0, 3.0);
            // The callback squares its operand on the host.
            let id = callbacks::register(|a: &[Literal]| {
                let v: Vec<f64> = f64s(&a[0]).iter().map(|x| x * x).collect();
                vec![lit(a[0].shape().dtype, a[0].dims(), &v)]
            });
            let shape = Shape::new(dtype, dims.clone());
            let mut b = Builder::new("sq");
            let x = b.parameter(shape.clone());
            let sq = b.host_callback(id, &[x], std::slice::from_ref(&shape));
            let y = b.binary(BinaryOp::Add, sq[0], x);
            let out = run(b.finish(&[y]), &[lit(dtype, &dims, &xs)]);
            let want: Vec<f64> = common::round_to(dtype, &xs)
                .iter()
                .map(|x| x * x + x)
                .collect();
            let got = f64s(&out[0]);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{g} vs {w}");
            }
            assert!(callbacks::unregister(id));
            assert!(!callbacks::is_registered(id));
        }
    }
}

/// A callback that appends `(tag, first operand value)` to `log`.
fn logger(log: &Arc<Mutex<Vec<(u32, f64)>>>, tag: u32) -> u64 {
    let log = log.clone();
    callbacks::register(move |a: &[Literal]| {
        log.lock().unwrap().push((tag, f64s(&a[0])[0]));
        vec![]
    })
}

#[test]
fn zero_result_callbacks_run_in_program_order_inside_a_loop() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (before, first, second, after) = (
        logger(&log, 0),
        logger(&log, 1),
        logger(&log, 2),
        logger(&log, 3),
    );
    let i32s = Shape::scalar(DType::I32);
    let mut b = Builder::new("loop");
    let n = b.parameter(i32s.clone());
    let cond = b.region("cond", &[i32s.clone(), i32s.clone()], |b, p| {
        vec![b.compare(CmpDir::Lt, p[0], p[1])]
    });
    let body = b.region("body", &[i32s.clone(), i32s.clone()], |b, p| {
        // Two effects per iteration with unused (absent) results, around an add.
        assert!(b.host_callback(first, &[p[0]], &[]).is_empty());
        let one = b.constant_i128(DType::I32, 1);
        let next = b.binary(BinaryOp::Add, p[0], one);
        b.host_callback(second, &[next], &[]);
        vec![next, p[1]]
    });
    let zero = b.constant_i128(DType::I32, 0);
    b.host_callback(before, &[n], &[]);
    let w = b.add_multi(Op::While { cond, body }, &[zero, n]);
    b.host_callback(after, &[w[0]], &[]);
    let module = b.finish(&[w[0]]);
    verify_module(&module).unwrap();
    let trips = 3;
    let out = oxla::backend::interp::evaluate(&module, &[Literal::scalar(trips)]).unwrap();
    assert_eq!(out[0], Literal::scalar(trips));
    let mut want = vec![(0, trips as f64)];
    for i in 0..trips {
        want.push((1, i as f64));
        want.push((2, (i + 1) as f64));
    }
    want.push((3, trips as f64));
    assert_eq!(*log.lock().unwrap(), want);
    for id in [before, first, second, after] {
        callbacks::unregister(id);
    }
}

#[test]
fn wrong_result_shapes_and_unknown_ids_are_errors() {
    let id = callbacks::register(|_: &[Literal]| vec![Literal::scalar(1.0f32)]);
    let mut b = Builder::new("bad");
    let x = b.parameter(Shape::new(DType::F32, [2]));
    let outs = b.host_callback(id, &[x], &[Shape::new(DType::F32, [2])]);
    let module = b.finish(&outs);
    let arg = lit(DType::F32, &[2], &[1.0, 2.0]);
    let e = oxla::backend::interp::evaluate(&module, std::slice::from_ref(&arg)).unwrap_err();
    assert!(
        e.contains("host_callback") && e.contains("returned (f32[])"),
        "{e}"
    );
    callbacks::unregister(id);
    let e = oxla::backend::interp::evaluate(&module, &[arg]).unwrap_err();
    assert!(e.contains("is not registered"), "{e}");
}

#[test]
fn verifier_and_text() {
    let mut b = Builder::new("cb");
    let x = b.parameter(Shape::new(DType::F32, [2]));
    let y = b.parameter(Shape::scalar(DType::I32));
    b.host_callback(42, &[x, y], &[]);
    let two = b.host_callback(
        43,
        &[],
        &[Shape::scalar(DType::F32), Shape::scalar(DType::I32)],
    );
    let module = b.finish(&[two[1]]);
    verify_module(&module).unwrap();
    let text = module.to_string();
    assert!(
        text.contains("%2 = () host_callback(%0, %1), callback_id=42, has_side_effect=true"),
        "{text}"
    );
    assert!(
        text.contains("%3 = (f32[], i32[]) host_callback(), callback_id=43"),
        "{text}"
    );
    assert!(Op::HostCallback {
        id: 1,
        results: vec![]
    }
    .has_side_effect());
    // A stored shape that differs from the declared results fails verification.
    let mut bad = module.clone();
    let entry = bad.entry.0;
    bad.computations[entry].instrs[3].shapes.pop();
    assert!(verify_module(&bad).unwrap_err().contains("host_callback"));
}
