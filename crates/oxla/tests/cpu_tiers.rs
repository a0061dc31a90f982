//! Tiered compilation: a program's first call runs first-tier kernels (no
//! vectorizer); the background thread swaps in second-tier kernels, which must
//! compute the same bits. Kernels with math functions over 4096 elements or more
//! skip the first tier. One test: the kernel cache setting is process-wide.

mod common;

use oxla::backend::cpu::{kernel_cache, upgraded_kernels, wait_for_background_compiles};
use oxla::backend::interp::evaluate;
use oxla::{BinaryOp, Builder, Client, DType, Literal, Module, Shape, UnaryOp};

/// Transcendental loop kernels, a row kernel (softmax), a column reduction and an
/// f64 chain: code the vectorizer changes most.
fn program(rows: usize, cols: usize) -> Module {
    let mut b = Builder::new("tiers");
    let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
    let soft = common::softmax_rows(&mut b, x, rows, cols);
    let xt = b.transpose(x, &[1, 0]);
    let t = b.unary(UnaryOp::Tanh, xt);
    let l = b.unary(UnaryOp::Log1p, t);
    let mixed = b.binary(BinaryOp::Mul, l, xt);
    let zero = b.constant_f64(DType::F32, 0.0);
    let add = b.scalar_binary_region(BinaryOp::Add, DType::F32);
    let colsum = b.reduce(&[mixed], &[zero], &[0], add);
    let x64 = b.convert(x, DType::F64);
    let e = b.unary(UnaryOp::Exp, x64);
    let s = b.unary(UnaryOp::Sin, e);
    b.finish(&[soft, colsum[0], s])
}

#[test]
fn second_tier_kernels_compute_the_first_tiers_bits() {
    if std::env::var("OXLA_TIERED").is_ok_and(|v| v == "0") {
        eprintln!("skipped: tiered compilation is off (OXLA_TIERED=0)");
        return;
    }
    // Every kernel misses the cache, so the first call runs the first tier.
    kernel_cache::set_dir(None);
    // Under 4096 elements, so the transcendental kernels take the first tier too.
    let (rows, cols) = (40, 100);
    let m = program(rows, cols);
    let xs: Vec<f64> = (0..rows * cols)
        .map(|i| ((i * 7919) % 1013) as f64 / 150.0 - 3.0)
        .collect();
    let x = common::lit(DType::F32, &[rows, cols], &xs);
    let want = evaluate(&m, std::slice::from_ref(&x)).unwrap();
    let client = Client::cpu();
    let exe = client.compile(m).unwrap();
    let buf = client.buffer_from_literal(x);
    let run = || -> Vec<Literal> {
        let out = exe.execute(&[&buf]).unwrap();
        out.iter().map(|b| b.literal().clone()).collect()
    };
    let before = upgraded_kernels();
    let first = run();
    wait_for_background_compiles();
    assert!(
        upgraded_kernels() > before,
        "the background thread upgraded the kernels"
    );
    let second = run();
    for (k, (a, b)) in first.iter().zip(&second).enumerate() {
        assert_eq!(a.data().to_bytes(), b.data().to_bytes(), "result {k}");
    }
    for (k, (g, w)) in second.iter().zip(&want).enumerate() {
        common::assert_close(
            &common::f64s(g),
            &common::f64s(w),
            1e-5,
            &format!("result {k}"),
        );
    }

    // A tanh over 8192 elements is compiled fully at once: nothing to upgrade.
    let mut b = Builder::new("heavy");
    let x = b.parameter(Shape::new(DType::F32, [32, 256]));
    let t = b.unary(UnaryOp::Tanh, x);
    let m = b.finish(&[t]);
    let xs: Vec<f64> = (0..32 * 256)
        .map(|i| (i % 97) as f64 / 20.0 - 2.0)
        .collect();
    let x = common::lit(DType::F32, &[32, 256], &xs);
    let want = evaluate(&m, std::slice::from_ref(&x)).unwrap();
    let exe = client.compile(m).unwrap();
    let before = upgraded_kernels();
    let got = exe.execute(&[&client.buffer_from_literal(x)]).unwrap();
    wait_for_background_compiles();
    assert_eq!(
        upgraded_kernels(),
        before,
        "a math-heavy kernel was upgraded"
    );
    common::assert_close(
        &common::f64s(got[0].literal()),
        &common::f64s(&want[0]),
        1e-6,
        "tanh",
    );
}
