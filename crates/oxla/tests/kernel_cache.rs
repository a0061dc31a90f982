//! The on-disk kernel cache: a second compile of the same program (as in a second
//! process) loads every kernel instead of compiling it, and computes the same bits;
//! damaged entries are recompiled. One test: the cache directory is process-wide.

mod common;

use oxla::backend::cpu::kernel_cache;
use oxla::{BinaryOp, Builder, Client, DType, Literal, Module, Shape, UnaryOp};

/// Softmax rows (a row kernel) plus a large elementwise chain over the transpose
/// (a loop kernel of its own, at the default code-generation level).
fn program(rows: usize, cols: usize) -> Module {
    let mut b = Builder::new("cached");
    let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
    let soft = common::softmax_rows(&mut b, x, rows, cols);
    let xt = b.transpose(x, &[1, 0]);
    let t = b.unary(UnaryOp::Tanh, xt);
    let big = b.binary(BinaryOp::Mul, t, xt);
    b.finish(&[soft, big])
}

fn run(m: &Module, x: &Literal) -> Vec<Literal> {
    let client = Client::cpu();
    let exe = client.compile(m.clone()).unwrap();
    let buf = client.buffer_from_literal(x.clone());
    let out = exe.execute(&[&buf]).unwrap();
    out.iter().map(|b| b.literal().clone()).collect()
}

fn bits(lits: &[Literal]) -> Vec<Vec<u32>> {
    lits.iter()
        .map(|l| {
            l.as_slice::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        })
        .collect()
}

#[test]
fn a_second_compile_loads_every_kernel_and_computes_the_same_bits() {
    let dir = std::env::temp_dir().join(format!("oxla-kernel-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (rows, cols) = (512, 1024);
    let m = program(rows, cols);
    let xs: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919) % 1013) as f32 / 100.0 - 5.0)
        .collect();
    let x = Literal::from_vec(&[rows, cols], xs);

    kernel_cache::set_dir(None);
    let uncached = bits(&run(&m, &x));
    oxla::backend::cpu::wait_for_background_compiles();
    assert_eq!(kernel_cache::stats(), (0, 0), "the cache is off");

    kernel_cache::set_dir(Some(dir.clone()));
    let first = bits(&run(&m, &x));
    // The second tier of each kernel is compiled (and stored) in the background.
    oxla::backend::cpu::wait_for_background_compiles();
    let (hits, stored) = kernel_cache::stats();
    assert_eq!(hits, 0);
    assert!(stored >= 2, "every kernel is stored, got {stored}");
    let entries = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(entries, stored);

    let second = bits(&run(&m, &x));
    assert_eq!(
        kernel_cache::stats(),
        (stored, stored),
        "every kernel is loaded"
    );
    assert_eq!(first, uncached);
    assert_eq!(second, uncached);

    // Damaged entries are misses: the kernels are compiled again and stored anew.
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&path, bytes).unwrap();
    }
    let third = bits(&run(&m, &x));
    oxla::backend::cpu::wait_for_background_compiles();
    assert_eq!(kernel_cache::stats(), (stored, 2 * stored));
    assert_eq!(third, uncached);
    std::fs::remove_dir_all(&dir).unwrap();
}
