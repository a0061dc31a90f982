//! Mid-size GEMMs (1 to 16 MFLOP) run as two row halves, the second on the CPU
//! backend's helper thread (`backend/cpu/pair.rs`): products must be the
//! interpreter's (exact here: small-integer data) for even and odd row counts,
//! f32 and f64, a transposed rhs (its row-major copy on later calls), a GEMM
//! accumulating into its addend, and a scan whose step GEMM splits every iteration.

mod common;

use common::{lit, Rng};
use oxla::backend::interp::evaluate;
use oxla::{BinaryOp, Builder, Client, CmpDir, DType, DotDims, Literal, Module, Op, Shape};

fn small_ints(rng: &mut Rng, dtype: DType, dims: &[usize]) -> Literal {
    let n: usize = dims.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.int(-3, 3) as f64).collect();
    lit(dtype, dims, &v)
}

fn matmul_dims(rhs_contracting: usize) -> DotDims {
    DotDims {
        lhs_batch: vec![],
        rhs_batch: vec![],
        lhs_contracting: vec![1],
        rhs_contracting: vec![rhs_contracting],
    }
}

/// Runs `m` three times on the CPU backend (the helper is awake after the first)
/// and compares each result with the interpreter's, exactly.
fn check(m: &Module, args: &[Literal], what: &str) {
    let want = evaluate(m, args).expect("interpreter");
    let client = Client::cpu();
    let exe = client.compile(m.clone()).expect("compiles");
    let bufs: Vec<_> = args
        .iter()
        .map(|a| client.buffer_from_literal(a.clone()))
        .collect();
    let refs: Vec<_> = bufs.iter().collect();
    for call in 0..3 {
        let got: Vec<Literal> = exe
            .execute(&refs)
            .expect("runs")
            .iter()
            .map(|b| b.literal().clone())
            .collect();
        assert_eq!(got, want, "{what}, call {call}");
    }
}

#[test]
fn split_products_match_the_interpreter() {
    let mut rng = Rng::new(5);
    // (m, k, n, rhs transposed, dtype): 2·m·k·n between 2^20 and 2^24.
    let cases = [
        (32, 256, 256, false, DType::F32),
        (33, 256, 256, false, DType::F32),
        (17, 300, 129, false, DType::F32),
        (32, 256, 256, true, DType::F32),
        (40, 128, 200, false, DType::F64),
        (256, 32, 256, false, DType::F32),
    ];
    for (m, k, n, transposed, dtype) in cases {
        let mut b = Builder::new("dot");
        let l = b.parameter(Shape::new(dtype, [m, k]));
        let rdims = if transposed { [n, k] } else { [k, n] };
        let r = b.parameter(Shape::new(dtype, rdims));
        let op = Op::DotGeneral {
            dims: matmul_dims(if transposed { 1 } else { 0 }),
            out_dtype: dtype,
        };
        let y = b.add(op, &[l, r]);
        let module = b.finish(&[y]);
        let args = [
            small_ints(&mut rng, dtype, &[m, k]),
            small_ints(&mut rng, dtype, &rdims),
        ];
        check(&module, &args, &format!("[{m},{k}]x{rdims:?} {dtype:?}"));
    }
}

#[test]
fn split_product_accumulating_into_its_addend() {
    let mut rng = Rng::new(6);
    let (m, k, n) = (256, 32, 256);
    let mut b = Builder::new("acc");
    let acc = b.parameter(Shape::new(DType::F32, [m, n]));
    let l = b.parameter(Shape::new(DType::F32, [m, k]));
    let r = b.parameter(Shape::new(DType::F32, [k, n]));
    let op = Op::DotGeneral {
        dims: matmul_dims(0),
        out_dtype: DType::F32,
    };
    let d = b.add(op, &[l, r]);
    let y = b.binary(BinaryOp::Add, acc, d);
    let module = b.finish(&[y]);
    let args = [
        small_ints(&mut rng, DType::F32, &[m, n]),
        small_ints(&mut rng, DType::F32, &[m, k]),
        small_ints(&mut rng, DType::F32, &[k, n]),
    ];
    check(&module, &args, "acc + dot");
}

/// `h <- clamp(h·W + 1, -4, 4)` for 20 steps: every step's GEMM splits, and each
/// half's rows are the ones the same thread wrote the step before.
#[test]
fn scan_step_products_match_the_interpreter() {
    let mut rng = Rng::new(7);
    let (batch, hidden) = (32usize, 256usize);
    let h_shape = Shape::new(DType::F32, [batch, hidden]);
    let w_shape = Shape::new(DType::F32, [hidden, hidden]);
    let mut b = Builder::new("scan");
    let i32s = Shape::scalar(DType::I32);
    let state = [i32s.clone(), h_shape.clone(), w_shape.clone()];
    let cond = b.region("cond", &state, |b, p| {
        let n = b.constant_i128(DType::I32, 20);
        vec![b.compare(CmpDir::Lt, p[0], n)]
    });
    let body = b.region("body", &state, |b, p| {
        let op = Op::DotGeneral {
            dims: matmul_dims(0),
            out_dtype: DType::F32,
        };
        let d = b.add(op, &[p[1], p[2]]);
        let one = b.full_f64(&h_shape, 1.0);
        let s = b.binary(BinaryOp::Add, d, one);
        let lo = b.full_f64(&h_shape, -4.0);
        let hi = b.full_f64(&h_shape, 4.0);
        let h = b.add(Op::Clamp, &[lo, s, hi]);
        let step = b.constant_i128(DType::I32, 1);
        vec![b.binary(BinaryOp::Add, p[0], step), h, p[2]]
    });
    let h0 = b.parameter(h_shape.clone());
    let w = b.parameter(w_shape.clone());
    let start = b.constant_i128(DType::I32, 0);
    let out = b.add_multi(Op::While { cond, body }, &[start, h0, w]);
    let module = b.finish(&[out[1]]);
    let args = [
        small_ints(&mut rng, DType::F32, &[batch, hidden]),
        small_ints(&mut rng, DType::F32, &[hidden, hidden]),
    ];
    check(&module, &args, "scan");
}
