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
        let y = matmul(&mut b, l, r, 0);
        let exe = client.compile(b.finish(&[y])).unwrap();
        // Subnormal inputs read as zero; normal inputs whose product is subnormal
        // give zero.
        let sub = client.buffer_from_literal(Literal::from_vec(&[m, k], vec![1.0e-39f32; m * k]));
        let big = client.buffer_from_literal(Literal::from_vec(&[k, n], vec![1.0e30f32; k * n]));
        let got = exe.execute(&[&sub, &big]).unwrap();
        assert!(all_equal(&got[0], 0.0));
        let tiny = client.buffer_from_literal(Literal::from_vec(&[m, k], vec![1.0e-20f32; m * k]));
        let small = client.buffer_from_literal(Literal::from_vec(&[k, n], vec![1.0e-20f32; k * n]));
        let got = exe.execute(&[&tiny, &small]).unwrap();
        assert!(all_equal(&got[0], 0.0));
        // Normal products are unaffected.
        let one = client.buffer_from_literal(Literal::from_vec(&[m, k], vec![1.0f32; m * k]));
        let ones = client.buffer_from_literal(Literal::from_vec(&[k, n], vec![1.0f32; k * n]));
        let got = exe.execute(&[&one, &ones]).unwrap();
        assert!(all_equal(&got[0], k as f32));
    }
}

/// An f32 matrix product contracting the lhs's dim 1 with the rhs's dim
/// `rhs_contracting` (1: the rhs is read transposed).
fn matmul(b: &mut Builder, l: oxla::Value, r: oxla::Value, rhs_contracting: usize) -> oxla::Value {
    let dims = oxla::DotDims {
        lhs_batch: vec![],
        rhs_batch: vec![],
        lhs_contracting: vec![1],
        rhs_contracting: vec![rhs_contracting],
    };
    let op = oxla::Op::DotGeneral {
        dims,
        out_dtype: DType::F32,
    };
    b.add(op, &[l, r])
}

/// Whether every element of an f32 buffer equals `v`.
fn all_equal(b: &oxla::Buffer, v: f32) -> bool {
    b.literal()
        .as_slice::<f32>()
        .unwrap()
        .iter()
        .all(|&x| x == v)
}

/// Column reductions (over leading dims) run as a vectorized loop over contiguous
/// outputs, combining in the same order as the interpreter: bit-identical sums, for
/// one and two reduced dims, f32 and f16, and a two-result (max and its row)
/// reduce.
#[test]
fn column_reductions_match_the_interpreter_bit_for_bit() {
    let client = Client::cpu();
    for (dtype, dims, red) in [
        (DType::F32, vec![37usize, 300usize], vec![0usize]),
        (DType::F32, vec![3, 5, 70], vec![0, 1]),
        (DType::F16, vec![33, 129], vec![0]),
        (DType::F32, vec![256, 512], vec![0]),
    ] {
        let mut b = Builder::new("colsum");
        let x = b.parameter(Shape::new(dtype, dims.clone()));
        // Exactly rounded element work (transcendental kernels are ≤ 4 ULP, not
        // bit-identical to the interpreter).
        let e = b.binary(BinaryOp::Mul, x, x);
        let zero = b.constant_f64(dtype, 0.0);
        let add = b.scalar_binary_region(BinaryOp::Add, dtype);
        let s = b.reduce(&[e], &[zero], &red, add);
        let m = b.finish(&[s[0]]);
        let n: usize = dims.iter().product();
        let xs: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1009) as f64 / 37.0 - 13.0)
            .collect();
        let lit = Literal::from_vec(&dims, xs).convert(dtype);
        let want = evaluate(&m, std::slice::from_ref(&lit)).unwrap();
        let exe = client.compile(m).unwrap();
        let got = exe.execute(&[&client.buffer_from_literal(lit)]).unwrap();
        assert_eq!(
            got[0].literal().data().to_bytes(),
            want[0].data().to_bytes(),
            "{dtype} {dims:?} over {red:?}"
        );
    }
    // Two results: the largest value per column and the row it is in.
    let (rows, cols) = (41, 97);
    let mut b = Builder::new("colargmax");
    let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
    let iota = b.iota(Shape::new(DType::I32, [rows, cols]), 0);
    let body = b.region(
        "argmax",
        &[
            Shape::scalar(DType::F32),
            Shape::scalar(DType::I32),
            Shape::scalar(DType::F32),
            Shape::scalar(DType::I32),
        ],
        |b, p| {
            let take = b.compare(oxla::CmpDir::Ge, p[0], p[2]);
            let v = b.select(take, p[0], p[2]);
            let i = b.select(take, p[1], p[3]);
            vec![v, i]
        },
    );
    let ninf = b.constant_f64(DType::F32, f64::NEG_INFINITY);
    let zero = b.constant_i128(DType::I32, 0);
    let r = b.reduce(&[x, iota], &[ninf, zero], &[0], body);
    let m = b.finish(&[r[0], r[1]]);
    let xs: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919) % 1013) as f32 / 10.0 - 50.0)
        .collect();
    let lit = Literal::from_vec(&[rows, cols], xs);
    let want = evaluate(&m, std::slice::from_ref(&lit)).unwrap();
    let exe = client.compile(m).unwrap();
    let got = exe.execute(&[&client.buffer_from_literal(lit)]).unwrap();
    for k in 0..2 {
        assert_eq!(got[k].literal(), &want[k], "result {k}");
    }
}

/// A dot whose rhs is read transposed keeps a row-major copy once the same buffer
/// comes back; results stay equal to the interpreter's on every call, and a new
/// buffer is picked up.
#[test]
fn repeated_transposed_rhs_gives_the_same_products() {
    let (m, k, n) = (5usize, 33usize, 17usize);
    let mut b = Builder::new("dot_t");
    let l = b.parameter(Shape::new(DType::F32, [m, k]));
    let r = b.parameter(Shape::new(DType::F32, [n, k]));
    let y = matmul(&mut b, l, r, 1);
    let module = b.finish(&[y]);
    let client = Client::cpu();
    let exe = client.compile(module.clone()).unwrap();
    let lit = |len: usize, seed: usize, dims: &[usize]| {
        let v: Vec<f32> = (0..len)
            .map(|i| (((i + seed) * 7919) % 101) as f32 / 17.0 - 3.0)
            .collect();
        Literal::from_vec(dims, v)
    };
    let w1 = lit(n * k, 1, &[n, k]);
    let w2 = lit(n * k, 2, &[n, k]);
    let w1_buf = client.buffer_from_literal(w1.clone());
    let w2_buf = client.buffer_from_literal(w2.clone());
    for (call, (w_buf, w)) in [
        (&w1_buf, &w1),
        (&w1_buf, &w1),
        (&w1_buf, &w1),
        (&w2_buf, &w2),
        (&w2_buf, &w2),
    ]
    .into_iter()
    .enumerate()
    {
        let x = lit(m * k, call, &[m, k]);
        let want = evaluate(&module, &[x.clone(), w.clone()]).unwrap();
        let got = exe
            .execute(&[&client.buffer_from_literal(x), w_buf])
            .unwrap();
        let (g, e) = (
            got[0].literal().as_slice::<f32>().unwrap(),
            want[0].as_slice::<f32>().unwrap(),
        );
        for (a, b) in g.iter().zip(e) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "call {call}: {a} vs {b}"
            );
        }
    }
}

/// A program that is one kernel over its parameters runs without the step loop
/// (`SingleKernel`): outputs in order, a parameter read twice, parameters in another
/// order than the kernel's operands, and the interpreter's bits. A program that also
/// returns a parameter, or returns the kernel's outputs out of order, takes the
/// general path and agrees too.
#[test]
fn single_kernel_programs_match_the_interpreter() {
    let n = 1000;
    let xs: Vec<f32> = (0..n).map(|i| i as f32 * 0.37 - 100.0).collect();
    let ys: Vec<f32> = (0..n).map(|i| (i % 17) as f32 - 8.0).collect();
    let lits = [
        Literal::from_vec(&[n], xs.clone()),
        Literal::from_vec(&[n], ys.clone()),
    ];
    let client = Client::cpu();
    for variant in 0..3 {
        let mut b = Builder::new("single");
        let x = b.parameter(Shape::new(DType::F32, [n]));
        let y = b.parameter(Shape::new(DType::F32, [n]));
        let yx = b.binary(BinaryOp::Sub, y, x);
        let sq = b.binary(BinaryOp::Mul, x, x);
        let outs = match variant {
            0 => vec![yx, sq],
            1 => vec![sq, yx, x],
            _ => vec![sq, yx],
        };
        let m = b.finish(&outs);
        let want = evaluate(&m, &lits).unwrap();
        let exe = client.compile(m).unwrap();
        let bufs: Vec<_> = lits
            .iter()
            .map(|l| client.buffer_from_literal(l.clone()))
            .collect();
        let refs: Vec<_> = bufs.iter().collect();
        let got = exe.execute(&refs).unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(
                g.literal().as_slice::<f32>().unwrap(),
                w.as_slice::<f32>().unwrap(),
                "variant {variant}"
            );
        }
        // A second call reuses the pooled output buffers.
        let again = exe.execute(&refs).unwrap();
        assert_eq!(again[0].literal(), got[0].literal());
    }
}

/// A dropped program's large buffers serve the next program's outputs (the
/// process keeps them as spares): whatever they held, the new results are exact,
/// for elementwise kernels, dots and row reductions, under other dims too.
#[test]
fn buffers_of_dropped_programs_serve_new_ones() {
    let client = Client::cpu();
    let n = 256 * 256;
    // Fill outputs of every size used below with a marker value, then drop.
    for dims in [[256usize, 256], [128, 512]] {
        let mut b = Builder::new("fill");
        let x = b.parameter(Shape::new(DType::F32, dims));
        let nan = b.constant_f64(DType::F32, f64::NAN);
        let nan = b.broadcast_in_dim(nan, &dims, &[]);
        let y = b.binary(BinaryOp::Add, x, nan);
        let exe = client.compile(b.finish(&[y, y])).unwrap();
        let buf = client.buffer_from_literal(Literal::from_vec(&dims, vec![1f32; n]));
        exe.execute(&[&buf]).unwrap();
    }
    // Positive, so the dot's sums do not cancel.
    let xs: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1013) as f32 / 1013.0)
        .collect();
    let lit = Literal::from_vec(&[128, 512], xs);
    let mut b = Builder::new("reuse");
    let x = b.parameter(Shape::new(DType::F32, [128, 512]));
    let two = b.constant_f64(DType::F32, 2.0);
    let two = b.broadcast_in_dim(two, &[128, 512], &[]);
    let doubled = b.binary(BinaryOp::Mul, x, two);
    let r = b.reshape(x, &[512, 128]);
    let prod = matmul(&mut b, x, r, 0);
    let soft = common::softmax_rows(&mut b, doubled, 128, 512);
    let m = b.finish(&[doubled, prod, soft]);
    let want = evaluate(&m, std::slice::from_ref(&lit)).unwrap();
    let exe = client.compile(m).unwrap();
    let got = exe.execute(&[&client.buffer_from_literal(lit)]).unwrap();
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        common::assert_close(
            &common::f64s(g.literal()),
            &common::f64s(w),
            1e-5,
            &format!("result {k}"),
        );
    }
}

/// `dynamic_update_slice` on the CPU backend equals the interpreter's, bit for
/// bit: updates covering whole trailing dims (one contiguous run), partial rows,
/// clamped starts, rank 0 and 1, and large targets.
#[test]
fn dynamic_update_slices_match_the_interpreter() {
    let cases: Vec<(Vec<usize>, Vec<usize>, Vec<i32>)> = vec![
        (vec![10, 4, 6], vec![1, 4, 6], vec![3, 0, 0]),
        (vec![10, 4, 6], vec![2, 4, 6], vec![9, 0, 0]),
        (vec![10, 4, 6], vec![3, 2, 6], vec![1, 1, 0]),
        (vec![10, 4, 6], vec![2, 3, 5], vec![4, 2, 1]),
        (vec![7], vec![3], vec![-2]),
        (vec![], vec![], vec![]),
        (vec![1000, 32, 70], vec![1, 32, 70], vec![517, 0, 0]),
        (vec![1000, 32, 70], vec![2, 5, 33], vec![3, 7, 5]),
        (vec![2_100_001], vec![1001], vec![12_345]),
    ];
    let client = Client::cpu();
    for (dims, udims, starts) in cases {
        let mut b = Builder::new("dus");
        let x = b.parameter(Shape::new(DType::F32, dims.clone()));
        let u = b.parameter(Shape::new(DType::F32, udims.clone()));
        let mut operands = vec![x, u];
        for _ in &starts {
            operands.push(b.parameter(Shape::new(DType::I32, [])));
        }
        let y = b.add(oxla::Op::DynamicUpdateSlice, &operands);
        let m = b.finish(&[y]);
        let n: usize = dims.iter().product();
        let un: usize = udims.iter().product();
        let mut args = vec![
            Literal::from_vec(&dims, (0..n).map(|i| i as f32).collect::<Vec<_>>()),
            Literal::from_vec(
                &udims,
                (0..un).map(|i| -(i as f32) - 1.0).collect::<Vec<_>>(),
            ),
        ];
        args.extend(starts.iter().map(|&s| Literal::scalar(s)));
        let want = evaluate(&m, &args).unwrap();
        let exe = client.compile(m).unwrap();
        let bufs: Vec<_> = args
            .iter()
            .map(|a| client.buffer_from_literal(a.clone()))
            .collect();
        let got = exe.execute(&bufs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(
            got[0].literal().data().to_bytes(),
            want[0].data().to_bytes(),
            "dims {dims:?}, update {udims:?} at {starts:?}"
        );
    }
}

/// A dot without contraction (vmap of a gradient's outer product) becomes an
/// elementwise product whose signed zeros follow the interpreter's sum from +0 in
/// f64: for f32 a zero factor gives +0 and a product that underflows keeps its sign
/// (the kernel computes it as one fma); for f64 every zero product is +0. The bits
/// must be the interpreter's, signs of zero included.
#[test]
fn outer_products_keep_the_dots_signed_zeros() {
    let specials = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e-30,
        -1e-30,
        3e-39,
        -3e-39,
        1e30,
        -1e30,
        2.5,
        -7.25,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1e-200,
        -1e-200,
        1e200,
    ];
    let n = specials.len();
    for dtype in [DType::F32, DType::F64] {
        let mut b = Builder::new("outer");
        let x = b.parameter(Shape::new(dtype, [n]));
        let y = b.parameter(Shape::new(dtype, [n]));
        let dims = oxla::DotDims {
            lhs_batch: vec![],
            rhs_batch: vec![],
            lhs_contracting: vec![],
            rhs_contracting: vec![],
        };
        let op = oxla::Op::DotGeneral {
            dims,
            out_dtype: dtype,
        };
        let out = b.add(op, &[x, y]);
        let m = b.finish(&[out]);
        let arg = common::lit(dtype, &[n], &specials);
        let want = evaluate(&m, &[arg.clone(), arg.clone()]).expect("interpreter");
        let got = common::run_cpu(m, &[arg.clone(), arg]);
        let (g, w) = (common::f64s(&got[0]), common::f64s(&want[0]));
        for (k, (g, w)) in g.iter().zip(&w).enumerate() {
            let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
            let (i, j) = (k / n, k % n);
            assert!(
                same,
                "{dtype:?} {} * {}: got {g:e}, want {w:e}",
                specials[i], specials[j]
            );
        }
        // The cases that matter are there: +0 from a zero factor times a negative
        // number; an underflowing product of opposite signs.
        let at = |i: usize, j: usize| w[i * n + j];
        assert!(at(0, 3) == 0.0 && at(0, 3).is_sign_positive());
        let (tiny, neg_tiny) = if dtype == DType::F32 {
            (4, 5)
        } else {
            (15, 16)
        };
        let underflow = at(tiny, neg_tiny);
        assert_eq!(underflow, 0.0);
        assert_eq!(underflow.is_sign_negative(), dtype == DType::F32);
    }
}
