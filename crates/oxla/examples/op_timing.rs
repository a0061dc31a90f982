//! Times one elementwise kernel per float unary op on the CPU backend:
//! `cargo run --release -p oxla --example op_timing` (`-- dispatch`: only the
//! dispatch of a one-element program).

use oxla::{Builder, Client, DType, Literal, Shape, UnaryOp};
use std::time::Instant;

fn main() {
    let n: usize = std::env::var("OP_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 24);
    let client = Client::cpu();
    dispatch(&client);
    if std::env::args().nth(1).as_deref() == Some("dispatch") {
        return;
    }
    dots(&client);
    convs(&client);
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
        let reps = ((1usize << 28) / n.max(1) / 16).max(10);
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

/// Times small dot_generals of the shapes an RNN step and its gradient run
/// (batch 32, hidden 256, inputs 64), with the contracting dims they use.
fn dots(client: &Client) {
    // (lhs dims, rhs dims, lhs contracting, rhs contracting)
    let cases: [(&[usize], &[usize], usize, usize); 7] = [
        (&[32, 256], &[256, 256], 1, 0),
        (&[16, 256], &[256, 256], 1, 0),
        (&[32000, 64], &[64, 256], 1, 0),
        (&[32, 64], &[64, 256], 1, 0),
        (&[32, 256], &[32, 256], 0, 0),
        (&[32, 256], &[32, 64], 0, 0),
        (&[32, 256], &[256, 256], 1, 1),
    ];
    for (ld, rd, lc, rc) in cases {
        let mut b = Builder::new("dot");
        let l = b.parameter(Shape::new(DType::F32, ld));
        let r = b.parameter(Shape::new(DType::F32, rd));
        let dims = oxla::DotDims {
            lhs_batch: vec![],
            rhs_batch: vec![],
            lhs_contracting: vec![lc],
            rhs_contracting: vec![rc],
        };
        let op = oxla::Op::DotGeneral {
            dims,
            out_dtype: DType::F32,
        };
        let y = b.add(op, &[l, r]);
        let exe = client.compile(b.finish(&[y])).expect("compiles");
        let lit = |d: &[usize]| {
            let n: usize = d.iter().product();
            client.buffer_from_literal(Literal::from_vec(d, vec![0.5f32; n]))
        };
        let (lb, rb) = (lit(ld), lit(rd));
        exe.execute(&[&lb, &rb]).expect("runs");
        let reps = 2000;
        let t = Instant::now();
        for _ in 0..reps {
            exe.execute(&[&lb, &rb]).expect("runs");
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / reps as f64;
        let flops = 2.0 * (ld.iter().product::<usize>() * rd.iter().product::<usize>()) as f64
            / ld[lc] as f64;
        println!(
            "dot {ld:?}x{rd:?} contract ({lc},{rc}) {us:8.1} us  {:6.1} GFLOP/s",
            flops / us / 1e3
        );
    }
}

/// Times an NHWC 3×3 SAME convolution [8,16,16,32]·[3,3,32,32] on the CPU backend
/// (im2col + GEMM) and in the interpreter.
fn convs(client: &Client) {
    let (xd, kd) = ([8usize, 16, 16, 32], [3usize, 3, 32, 32]);
    let mut b = Builder::new("conv");
    let x = b.parameter(Shape::new(DType::F32, xd));
    let k = b.parameter(Shape::new(DType::F32, kd));
    let op = oxla::Op::Convolution {
        window_strides: vec![1, 1],
        padding: vec![(1, 1), (1, 1)],
        lhs_dilation: vec![1, 1],
        rhs_dilation: vec![1, 1],
        dims: oxla::ConvDims {
            input_batch: 0,
            input_feature: 3,
            input_spatial: vec![1, 2],
            kernel_input_feature: 2,
            kernel_output_feature: 3,
            kernel_spatial: vec![0, 1],
            output_batch: 0,
            output_feature: 3,
            output_spatial: vec![1, 2],
        },
        feature_group_count: 1,
        batch_group_count: 1,
        out_dtype: DType::F32,
    };
    let y = b.add(op, &[x, k]);
    let module = b.finish(&[y]);
    let flops = 2.0 * (8 * 16 * 16 * 32 * 9 * 32) as f64;
    for (name, client) in [
        ("cpu", client.clone()),
        ("interpreter", Client::interpreter()),
    ] {
        let exe = client.compile(module.clone()).expect("compiles");
        let lit = |d: &[usize]| {
            let n: usize = d.iter().product();
            let v = (0..n).map(|i| (i % 13) as f32 * 0.1).collect();
            client.buffer_from_literal(Literal::from_vec(d, v))
        };
        let (xb, kb) = (lit(&xd), lit(&kd));
        exe.execute(&[&xb, &kb]).expect("runs");
        let reps = if name == "cpu" { 200 } else { 3 };
        let t = Instant::now();
        for _ in 0..reps {
            exe.execute(&[&xb, &kb]).expect("runs");
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / reps as f64;
        println!(
            "conv {xd:?}*{kd:?} {name:>11} {us:10.1} us  {:6.1} GFLOP/s",
            flops / us / 1e3
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
