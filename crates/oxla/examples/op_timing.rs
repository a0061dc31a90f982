//! Times one elementwise kernel per float unary op on the CPU backend:
//! `cargo run --release -p oxla --example op_timing`.

use oxla::{Builder, Client, DType, Literal, Shape, UnaryOp};
use std::time::Instant;

fn main() {
    let n = 1 << 24;
    let client = Client::cpu();
    dispatch(&client);
    let xs: Vec<f32> = (0..n).map(|i| ((i % 1000) as f32) / 500.0 - 1.0).collect();
    let input = client.buffer_from_literal(Literal::from_vec(&[n], xs));
    use UnaryOp::*;
    for op in [
        Neg, Exp, Log, Log1p, Expm1, Tanh, Logistic, Sin, Cos, Erf, ErfInv, Sqrt, Rsqrt,
    ] {
        let mut b = Builder::new("op");
        let x = b.parameter(Shape::new(DType::F32, [n]));
        let y = b.unary(op, x);
        let exe = client.compile(b.finish(&[y])).expect("compiles");
        exe.execute(&[&input]).expect("runs");
        let reps = 10;
        let t = Instant::now();
        for _ in 0..reps {
            exe.execute(&[&input]).expect("runs");
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
        println!(
            "{:>12} {:8.2} ms  {:6.3} ns/element",
            op.name(),
            ms,
            ms * 1e6 / n as f64
        );
    }
}

/// Time of one call of a compiled `x + 1` on one element (oxla alone, no jaxon).
fn dispatch(client: &Client) {
    let mut b = Builder::new("add1");
    let x = b.parameter(Shape::new(DType::F32, [1]));
    let one = b.constant_f64(DType::F32, 1.0);
    let one = b.broadcast_in_dim(one, &[1], &[]);
    let y = b.binary(oxla::BinaryOp::Add, x, one);
    let exe = client.compile(b.finish(&[y])).expect("compiles");
    let input = client.buffer_from_literal(Literal::from_vec(&[1], vec![1.0f32]));
    let reps = 200_000;
    let t = Instant::now();
    for _ in 0..reps {
        exe.execute(&[&input]).expect("runs");
    }
    let ns = t.elapsed().as_secs_f64() * 1e9 / reps as f64;
    println!("{:>12} {:8.0} ns per call", "dispatch", ns);
}
