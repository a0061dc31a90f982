mod common;

use oxla::backend::interp::evaluate;
use oxla::{BinaryOp, Builder, Client, DType, Literal, Shape, UnaryOp};

#[test]
fn softmax_matches_interpreter() {
    for (rows, cols) in [(4, 37), (3, 1000), (2, 512)] {
        softmax_case(rows, cols);
    }
}

fn softmax_case(rows: usize, cols: usize) {
    let mut b = Builder::new("softmax");
    let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
    let out = common::softmax_rows(&mut b, x, rows, cols);
    let m = b.finish(&[out]);
    let xs: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919) % 101) as f32 / 10.0 - 5.0)
        .collect();
    let lit = Literal::from_vec(&[rows, cols], xs);
    let want = evaluate(&m, std::slice::from_ref(&lit)).unwrap();
    let client = Client::cpu();
    let exe = client.compile(m).unwrap();
    let buf = client.buffer_from_literal(lit);
    let got = exe.execute(&[&buf]).unwrap();
    let g = got[0].literal().as_slice::<f32>().unwrap().to_vec();
    let w = want[0].as_slice::<f32>().unwrap();
    for (a, b) in g.iter().zip(w) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-30), "{a} vs {b}");
    }
}

#[test]
fn exp_kernel_runs() {
    let n = 1 << 12;
    let mut b = Builder::new("expk");
    let x = b.parameter(Shape::new(DType::F32, [n]));
    let e = b.unary(UnaryOp::Exp, x);
    let m = b.finish(&[e]);
    let xs: Vec<f32> = (0..n).map(|i| (i as f32) / n as f32).collect();
    let client = Client::cpu();
    let exe = client.compile(m).unwrap();
    let buf = client.buffer_from_literal(Literal::from_vec(&[n], xs.clone()));
    let got = exe.execute(&[&buf]).unwrap();
    let g = got[0].literal().as_slice::<f32>().unwrap();
    for (a, x) in g.iter().zip(&xs) {
        assert!((a - x.exp()).abs() <= 4.0 * f32::EPSILON * x.exp());
    }
}

/// Dots flush subnormal inputs and results to zero, as XLA's CPU backend does;
/// elementwise kernels keep them, on one thread and split over the pool.
#[test]
fn dots_flush_subnormals_and_kernels_keep_them() {
    let client = Client::cpu();
    for n in [8usize, 1 << 18] {
        let mut b = Builder::new("sub");
        let x = b.parameter(Shape::new(DType::F32, [n]));
        let two = b.constant_f64(DType::F32, 2.0);
        let two = b.broadcast_in_dim(two, &[n], &[]);
        let y = b.binary(BinaryOp::Mul, x, two);
        let exe = client.compile(b.finish(&[y])).unwrap();
        let buf = client.buffer_from_literal(Literal::from_vec(&[n], vec![1.0e-39f32; n]));
        let got = exe.execute(&[&buf]).unwrap();
        let g = got[0].literal().as_slice::<f32>().unwrap().to_vec();
        assert!(g.iter().all(|&v| v == 2.0e-39), "n = {n}: {:?}", &g[..4]);
    }
    // Small (one thread) and large (split over the pool) products.
    for (m, k, n) in [(2usize, 3usize, 4usize), (256, 256, 256)] {
        let mut b = Builder::new("dot");
        let l = b.parameter(Shape::new(DType::F32, [m, k]));
        let r = b.parameter(Shape::new(DType::F32, [k, n]));
        let dims = oxla::DotDims {
            lhs_batch: vec![],
            rhs_batch: vec![],
            lhs_contracting: vec![1],
            rhs_contracting: vec![0],
        };
        let y = b.add(
            oxla::Op::DotGeneral {
                dims,
                out_dtype: DType::F32,
            },
            &[l, r],
        );
        let exe = client.compile(b.finish(&[y])).unwrap();
        // Subnormal inputs read as zero; normal inputs whose product is subnormal
        // give zero.
        let sub = client.buffer_from_literal(Literal::from_vec(&[m, k], vec![1.0e-39f32; m * k]));
        let big = client.buffer_from_literal(Literal::from_vec(&[k, n], vec![1.0e30f32; k * n]));
        let got = exe.execute(&[&sub, &big]).unwrap();
        assert!(got[0]
            .literal()
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .all(|&v| v == 0.0));
        let tiny = client.buffer_from_literal(Literal::from_vec(&[m, k], vec![1.0e-20f32; m * k]));
        let small = client.buffer_from_literal(Literal::from_vec(&[k, n], vec![1.0e-20f32; k * n]));
        let got = exe.execute(&[&tiny, &small]).unwrap();
        assert!(got[0]
            .literal()
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .all(|&v| v == 0.0));
        // Normal products are unaffected.
        let one = client.buffer_from_literal(Literal::from_vec(&[m, k], vec![1.0f32; m * k]));
        let got = exe.execute(&[&one, &one_like(&client, k, n)]).unwrap();
        assert!(got[0]
            .literal()
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .all(|&v| v == k as f32));
    }
}

fn one_like(client: &Client, k: usize, n: usize) -> oxla::Buffer {
    client.buffer_from_literal(Literal::from_vec(&[k, n], vec![1.0f32; k * n]))
}
