//! Row kernels (`FusionKind::Row`): row reductions fused with the elementwise
//! consumers of their results, checked against the interpreter, with the fusion
//! decision itself asserted (when a row kernel must form, and when it must not).

mod common;

use oxla::backend::cpu::optimized_module;
use oxla::{BinaryOp, Builder, DType, FusionKind, Literal, Module, Op, Shape, UnaryOp};

/// The fusion kinds of the optimized module's entry computation.
fn kinds(m: &Module) -> Vec<FusionKind> {
    let opt = optimized_module(m).expect("optimize");
    opt.computation(opt.entry)
        .instrs
        .iter()
        .filter_map(|i| match i.op {
            Op::Fusion { kind, .. } => Some(kind),
            _ => None,
        })
        .collect()
}

#[test]
fn softmax_rows_of_many_lengths_form_one_row_kernel() {
    // Lengths that are and are not multiples of the kernel's 64 lanes. The last
    // two are large enough (8 MiB) for a streamed output: the exp is spilled into a
    // row buffer on the stack (4100 columns), or into the output itself (80 KB
    // rows); every pass after the first prefetches a share of the next row.
    for (rows, cols) in [
        (19, 64),
        (19, 100),
        (19, 1000),
        (19, 4099),
        (520, 4100),
        (110, 20_000),
    ] {
        let mut b = Builder::new("softmax");
        let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
        let out = common::softmax_rows(&mut b, x, rows, cols);
        let m = b.finish(&[out]);
        assert_eq!(kinds(&m), [FusionKind::Row], "cols {cols}");
        common::check_cpu(m, &[common::ramp(DType::F32, &[rows, cols], cols)], 2e-6);
    }
}

/// Mean and variance (two stages, f64, keepdims reshapes in between), normalized.
#[test]
fn two_stage_f64_layernorm_matches() {
    // The second size streams its output. x - mean cancels, and the kernel sums
    // in a different order than the interpreter.
    let d = DType::F64;
    for (rows, cols, rel) in [(33, 257, 1e-12), (513, 4096, 1e-10)] {
        let m = common::layernorm_rows(d, rows, cols);
        assert_eq!(kinds(&m), [FusionKind::Row]);
        common::check_cpu(m, &[common::ramp(d, &[rows, cols], 3)], rel);
    }
}

/// Max, min and product of a row in one stage; the max is also a result of its
/// own, so the row kernel has outputs of both shapes.
#[test]
fn sibling_reductions_and_a_row_shaped_output() {
    let (rows, cols) = (20, 130);
    let d = DType::F32;
    let mut b = Builder::new("siblings");
    let x = b.parameter(Shape::new(d, [rows, cols]));
    let region = |b: &mut Builder, op| b.scalar_binary_region(op, d);
    let maxr = region(&mut b, BinaryOp::Max);
    let minr = region(&mut b, BinaryOp::Min);
    let mulr = region(&mut b, BinaryOp::Mul);
    let ninf = b.constant_f64(d, f64::NEG_INFINITY);
    let inf = b.constant_f64(d, f64::INFINITY);
    let one = b.constant_f64(d, 1.0);
    // Factors near 1 keep the product finite.
    let scale = b.full_f64(&Shape::new(d, [rows, cols]), 0.01);
    let small = b.binary(BinaryOp::Mul, x, scale);
    let ones = b.full_f64(&Shape::new(d, [rows, cols]), 1.0);
    let factors = b.binary(BinaryOp::Add, small, ones);
    let hi = b.reduce(&[x], &[ninf], &[1], maxr);
    let lo = b.reduce(&[x], &[inf], &[1], minr);
    let prod = b.reduce(&[factors], &[one], &[1], mulr);
    let bc = |b: &mut Builder, v| b.broadcast_in_dim(v, &[rows, cols], &[0]);
    let (hib, lob, prodb) = (bc(&mut b, hi[0]), bc(&mut b, lo[0]), bc(&mut b, prod[0]));
    let range = b.binary(BinaryOp::Sub, hib, lob);
    let shifted = b.binary(BinaryOp::Sub, x, lob);
    let unit = b.binary(BinaryOp::Div, shifted, range);
    let out = b.binary(BinaryOp::Mul, unit, prodb);
    let m = b.finish(&[out, hi[0]]);
    assert_eq!(kinds(&m), [FusionKind::Row]);
    common::check_cpu(m, &[common::ramp(d, &[rows, cols], 5)], 4e-6);
}

/// NaN and infinities inside rows propagate as in the interpreter.
#[test]
fn nan_and_infinity_rows() {
    let (rows, cols) = (16, 96);
    let mut v: Vec<f64> = (0..rows * cols).map(|i| (i % 13) as f64 - 6.0).collect();
    v[3 * cols + 70] = f64::NAN;
    v[5 * cols + 1] = f64::INFINITY;
    v[7 * cols + 95] = f64::NEG_INFINITY; // in no lane's first vector
    v[9 * cols] = -0.0;
    let mut b = Builder::new("softmax");
    let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
    let out = common::softmax_rows(&mut b, x, rows, cols);
    let m = b.finish(&[out]);
    assert_eq!(kinds(&m), [FusionKind::Row]);
    common::check_cpu(m, &[common::lit(DType::F32, &[rows, cols], &v)], 2e-6);
}

/// Two kept dims and two reduced dims: rows are the leading pair.
#[test]
fn rank_four_rows() {
    let dims = [4, 5, 8, 16];
    let d = DType::F32;
    let mut b = Builder::new("rank4");
    let x = b.parameter(Shape::new(d, dims));
    let zero = b.constant_f64(d, 0.0);
    let add = b.scalar_binary_region(BinaryOp::Add, d);
    let sq = b.binary(BinaryOp::Mul, x, x);
    let s = b.reduce(&[sq], &[zero], &[2, 3], add);
    let sb = b.broadcast_in_dim(s[0], &dims, &[0, 1]);
    let out = b.binary(BinaryOp::Div, sq, sb);
    let m = b.finish(&[out]);
    assert_eq!(kinds(&m), [FusionKind::Row]);
    common::check_cpu(m, &[common::ramp(d, &dims, 7)], 2e-6);
}

/// A consumer that reads the reduction at another row (reversed rows) cannot
/// run in the row kernel: the other row's total does not exist yet.
#[test]
fn reading_another_rows_total_keeps_separate_kernels() {
    let (rows, cols) = (24, 128);
    let d = DType::F32;
    let mut b = Builder::new("reversed");
    let x = b.parameter(Shape::new(d, [rows, cols]));
    let zero = b.constant_f64(d, 0.0);
    let add = b.scalar_binary_region(BinaryOp::Add, d);
    let s = b.reduce(&[x], &[zero], &[1], add);
    let rev = b.add(Op::Reverse { dims: vec![0] }, &[s[0]]);
    let sb = b.broadcast_in_dim(rev, &[rows, cols], &[0]);
    let out = b.binary(BinaryOp::Sub, x, sb);
    let m = b.finish(&[out]);
    assert!(!kinds(&m).contains(&FusionKind::Row), "{:?}", kinds(&m));
    common::check_cpu(m, &[common::ramp(d, &[rows, cols], 11)], 2e-6);
}

/// Too few rows to share among cores, or rows too long to stay in cache: the
/// reductions stay kernels of their own.
#[test]
fn few_or_very_long_rows_keep_separate_kernels() {
    for (rows, cols) in [(4, 4096), (16, 40000)] {
        let mut b = Builder::new("softmax");
        let x = b.parameter(Shape::new(DType::F32, [rows, cols]));
        let out = common::softmax_rows(&mut b, x, rows, cols);
        let m = b.finish(&[out]);
        let k = kinds(&m);
        assert_eq!(k.len(), 3, "{rows}x{cols}: {k:?}");
        assert!(!k.contains(&FusionKind::Row));
    }
}

/// The row kernel stores `exp(x - max)` in an output's buffer while summing it and
/// reads it back for the outputs; with two outputs that use it (in either order),
/// and a row length with a tail, both must come out right.
#[test]
fn a_stored_reduce_operand_feeds_two_outputs() {
    let (rows, cols) = (17, 1000 + 37);
    for swap in [false, true] {
        let d = DType::F32;
        let mut b = Builder::new("two_uses");
        let x = b.parameter(Shape::new(d, [rows, cols]));
        let ninf = b.constant_f64(d, f64::NEG_INFINITY);
        let maxr = b.scalar_binary_region(BinaryOp::Max, d);
        let mx = b.reduce(&[x], &[ninf], &[1], maxr);
        let mxb = b.broadcast_in_dim(mx[0], &[rows, cols], &[0]);
        let diff = b.binary(BinaryOp::Sub, x, mxb);
        let e = b.unary(UnaryOp::Exp, diff);
        let zero = b.constant_f64(d, 0.0);
        let addr = b.scalar_binary_region(BinaryOp::Add, d);
        let s = b.reduce(&[e], &[zero], &[1], addr);
        let sb = b.broadcast_in_dim(s[0], &[rows, cols], &[0]);
        let soft = b.binary(BinaryOp::Div, e, sb);
        let twice = b.binary(BinaryOp::Add, e, e);
        let outs = if swap { [twice, soft] } else { [soft, twice] };
        let m = b.finish(&outs);
        assert_eq!(kinds(&m), [FusionKind::Row]);
        common::check_cpu(m, &[common::ramp(d, &[rows, cols], 13)], 2e-6);
    }
}

/// Divisors for the division test: ordinary values, the ends of the range where
/// the kernel divides without a divide, subnormals, zeros, infinities and NaN.
fn divisors_f64(max_exp: i32) -> Vec<f64> {
    let p = |e: i32| 2f64.powi(e);
    let mut v = vec![
        1.0,
        3.0,
        -7.5,
        0.1,
        1e-30,
        -1e30,
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1.000_000_1,
        -0.999_999_9,
    ];
    for e in [max_exp - 3, max_exp - 2, max_exp - 1, max_exp] {
        v.push(p(e) * 1.5);
        v.push(-p(-e) * 1.25);
        v.push(p(e));
        v.push(p(-e));
    }
    v
}

/// `x / broadcast(max(y))` in a row kernel, with `y`'s rows constant: the
/// quotient must be IEEE division's, bit for bit, for every kind of operand
/// (NaNs only need to be NaN).
fn division_case<T: oxla::NativeType + Copy>(
    d: DType,
    divisors: &[T],
    numerators: &[T],
    is_nan: fn(T) -> bool,
    bits: fn(T) -> u64,
) {
    let rows = divisors.len();
    let cols = numerators.len();
    let mut b = Builder::new("divide");
    let x = b.parameter(Shape::new(d, [rows, cols]));
    let y = b.parameter(Shape::new(d, [rows, cols]));
    let ninf = b.constant_f64(d, f64::NEG_INFINITY);
    let maxr = b.scalar_binary_region(BinaryOp::Max, d);
    let m = b.reduce(&[y], &[ninf], &[1], maxr);
    let mb = b.broadcast_in_dim(m[0], &[rows, cols], &[0]);
    let q = b.binary(BinaryOp::Div, x, mb);
    let module = b.finish(&[q]);
    assert_eq!(kinds(&module), [FusionKind::Row]);
    let xs: Vec<T> = (0..rows).flat_map(|_| numerators.iter().copied()).collect();
    let ys: Vec<T> = divisors
        .iter()
        .flat_map(|&v| std::iter::repeat_n(v, cols))
        .collect();
    let args = [
        Literal::from_vec(&[rows, cols], xs),
        Literal::from_vec(&[rows, cols], ys),
    ];
    let want = oxla::backend::interp::evaluate(&module, &args).expect("interpreter");
    let client = oxla::Client::cpu();
    let exe = client.compile(module).expect("compile");
    let bufs: Vec<_> = args
        .iter()
        .map(|a| client.buffer_from_literal(a.clone()))
        .collect();
    let got = exe.execute(&bufs.iter().collect::<Vec<_>>()).expect("run");
    let g = got[0].literal();
    let (g, w) = (g.as_slice::<T>().unwrap(), want[0].as_slice::<T>().unwrap());
    for (i, (&g, &w)) in g.iter().zip(w).enumerate() {
        let ok = if is_nan(w) {
            is_nan(g)
        } else {
            bits(g) == bits(w)
        };
        assert!(
            ok,
            "{d:?} element {i} (row {}): got {:#x}, want {:#x}",
            i / cols,
            bits(g),
            bits(w)
        );
    }
}

/// Random bit patterns (every exponent, subnormals included) and special values,
/// 1000 of them: several chunks of the row kernel's last pass.
fn numerator_bits(seed: u64, width: u32) -> Vec<u64> {
    let mut state = seed;
    (0..1000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state >> (64 - width)
        })
        .collect()
}

#[test]
fn division_by_row_totals_is_exact() {
    let specials32 = [
        0.0f32,
        -0.0,
        1.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-40,
        -1e-45,
        f32::MAX,
        f32::MIN_POSITIVE,
    ];
    let mut n32: Vec<f32> = numerator_bits(7, 32)
        .into_iter()
        .map(|b| f32::from_bits(b as u32))
        .collect();
    n32[..specials32.len()].copy_from_slice(&specials32);
    // Ordinary magnitudes too, where the fast path is taken.
    for (i, v) in n32.iter_mut().enumerate().skip(500) {
        *v = ((i * 7919) % 1009) as f32 / 97.0 - 5.0;
    }
    let d32: Vec<f32> = divisors_f64(126).into_iter().map(|v| v as f32).collect();
    division_case(DType::F32, &d32, &n32, f32::is_nan, |v| v.to_bits() as u64);

    let specials64 = [
        0.0f64,
        -0.0,
        1.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1e-310,
        -5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
    ];
    let mut n64: Vec<f64> = numerator_bits(11, 64)
        .into_iter()
        .map(f64::from_bits)
        .collect();
    n64[..specials64.len()].copy_from_slice(&specials64);
    for (i, v) in n64.iter_mut().enumerate().skip(500) {
        *v = ((i * 7919) % 1009) as f64 / 97.0 - 5.0;
    }
    division_case(
        DType::F64,
        &divisors_f64(1022),
        &n64,
        f64::is_nan,
        f64::to_bits,
    );
}

/// A dot with a vector operand (only contracted dims) and a large other operand
/// becomes a multiply and a reduce on the CPU backend: row and column reductions,
/// several contracted dims, f32 and f64, equal to the interpreter's dot.
#[test]
fn matrix_vector_products_match_as_reductions() {
    let dot = |b: &mut Builder, l, r, lc: Vec<usize>, rc: Vec<usize>, d: DType| {
        let dims = oxla::DotDims {
            lhs_batch: vec![],
            rhs_batch: vec![],
            lhs_contracting: lc,
            rhs_contracting: rc,
        };
        b.add(Op::DotGeneral { dims, out_dtype: d }, &[l, r])
    };
    // (lhs dims, rhs dims, lhs contracting, rhs contracting)
    type Case = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>);
    let cases: Vec<Case> = vec![
        (vec![512, 200], vec![200], vec![1], vec![0]),
        (vec![300], vec![300, 256], vec![0], vec![0]),
        (vec![256, 300], vec![256], vec![0], vec![0]),
        (vec![16, 64, 70], vec![70, 64], vec![1, 2], vec![1, 0]),
    ];
    for d in [DType::F32, DType::F64] {
        for (ld, rd, lc, rc) in &cases {
            let mut b = Builder::new("gemv");
            let l = b.parameter(Shape::new(d, ld.clone()));
            let r = b.parameter(Shape::new(d, rd.clone()));
            let y = dot(&mut b, l, r, lc.clone(), rc.clone(), d);
            let m = b.finish(&[y]);
            assert!(
                kinds(&m).iter().all(|k| *k != FusionKind::Loop) && !kinds(&m).is_empty(),
                "{ld:?}·{rd:?} is a reduction kernel"
            );
            // Positive values: the sums do not cancel, so orders agree closely.
            let positive = |dims: &[usize], seed: usize| {
                let n: usize = dims.iter().product();
                let v: Vec<f64> = (0..n)
                    .map(|i| (((i + seed) * 7919) % 1009) as f64 / 1009.0)
                    .collect();
                common::lit(d, dims, &v)
            };
            let rel = if d == DType::F32 { 2e-6 } else { 1e-13 };
            common::check_cpu(m, &[positive(ld, 1), positive(rd, 2)], rel);
        }
    }
}

/// The per-example gradient of `tanh(x·w)` under vmap: the matrix-vector product
/// and the row-wise product with `x` form one row kernel (`x` is read once).
#[test]
fn per_example_gradient_is_one_row_kernel() {
    let (n, p) = (512, 1000);
    let d = DType::F32;
    let mut b = Builder::new("per_example");
    let x = b.parameter(Shape::new(d, [n, p]));
    let w = b.parameter(Shape::new(d, [p]));
    let dims = oxla::DotDims {
        lhs_batch: vec![],
        rhs_batch: vec![],
        lhs_contracting: vec![1],
        rhs_contracting: vec![0],
    };
    let z = b.add(Op::DotGeneral { dims, out_dtype: d }, &[x, w]);
    let t = b.unary(UnaryOp::Tanh, z);
    let tb = b.broadcast_in_dim(t, &[n, p], &[0]);
    let g = b.binary(BinaryOp::Mul, tb, x);
    let m = b.finish(&[g]);
    assert_eq!(kinds(&m), [FusionKind::Row]);
    common::check_cpu(
        m,
        &[common::ramp(d, &[n, p], 5), common::ramp(d, &[p], 7)],
        2e-5,
    );
}
