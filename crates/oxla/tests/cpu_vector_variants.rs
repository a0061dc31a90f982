//! Element functions with hand-written vector bodies (`codegen/variants.rs`): the
//! vectorized code must compute exactly what the scalar code does.
//!
//! Divisions by a loop-invariant divisor (a constant, or a row kernel's row total)
//! run as a reciprocal multiplication with Markstein's correction, redone with a
//! true division for vectors where a lane is outside the ranges that make it exact.
//! The results must be bit-identical to IEEE division: checked against the host's
//! `/` over dividends of every exponent (subnormals, zeros, infinities and NaNs
//! included) and divisors at and around each range limit, in both tiers (first
//! calls run unvectorized code, later ones the vector code).
//!
//! The exp family's final `p·2^n` is one `vscalef` in vector loops on AVX-512
//! machines, and two multiplications in scalar code: both tiers must agree bit for
//! bit over the whole argument range, subnormal and overflowing results included.

mod common;

use common::Rng;
use oxla::backend::cpu::wait_for_background_compiles;
use oxla::{BinaryOp, Builder, Client, DType, Literal, Module, Shape};

/// Runs `m` on the CPU backend before and after its kernels' second tier is in.
fn run_both_tiers(m: &Module, args: &[Literal]) -> [Literal; 2] {
    let client = Client::cpu();
    let exe = client.compile(m.clone()).expect("compiles");
    let bufs: Vec<_> = args
        .iter()
        .map(|a| client.buffer_from_literal(a.clone()))
        .collect();
    let refs: Vec<_> = bufs.iter().collect();
    let first = exe.execute(&refs).expect("runs")[0].literal().clone();
    wait_for_background_compiles();
    let second = exe.execute(&refs).expect("runs")[0].literal().clone();
    [first, second]
}

/// Asserts `got[i]` is `a[i] / b[i]` exactly (any NaN for a NaN).
fn assert_quotients<T: Copy + std::fmt::Debug + Into<f64>>(
    got: &[T],
    a: &[T],
    b: impl Fn(usize) -> T,
    div: impl Fn(T, T) -> T,
    bits: impl Fn(T) -> u64,
    what: &str,
) {
    assert_eq!(got.len(), a.len());
    let mut bad = Vec::new();
    for (i, (&g, &x)) in got.iter().zip(a).enumerate() {
        let want = div(x, b(i));
        let same = bits(g) == bits(want) || (g.into().is_nan() && want.into().is_nan());
        if !same && bad.len() < 8 {
            bad.push(format!("{x:?} / {:?} = {g:?}, want {want:?}", b(i)));
        }
    }
    assert!(bad.is_empty(), "{what}: {}", bad.join("; "));
}

/// Dividends of every exponent: random bit patterns (a quarter of them with
/// exponents near the bottom of the range), and the special values.
fn dividends_f32(rng: &mut Rng, n: usize) -> Vec<f32> {
    let special = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-45,
        f32::MAX,
        -f32::MAX,
        1.0,
        3.0,
    ];
    let mut v: Vec<f32> = special.to_vec();
    while v.len() < n {
        let r = rng.next_u64();
        let x = if r.is_multiple_of(4) {
            // Exponent field 0..40: subnormals and tiny normals.
            let e = ((r >> 8) % 40) as u32;
            f32::from_bits(((r >> 40) as u32 & 0x807f_ffff) | (e << 23))
        } else {
            f32::from_bits((r >> 16) as u32)
        };
        v.push(x);
    }
    v
}

fn dividends_f64(rng: &mut Rng, n: usize) -> Vec<f64> {
    let special = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
        5e-324,
        f64::MAX,
        1.0,
    ];
    let mut v: Vec<f64> = special.to_vec();
    while v.len() < n {
        let r = rng.next_u64();
        let x = if r.is_multiple_of(4) {
            let e = (rng.next_u64() % 80) << 52;
            f64::from_bits((r & 0x800f_ffff_ffff_ffff) | e)
        } else {
            f64::from_bits(r)
        };
        v.push(x);
    }
    v
}

/// `x / c` for a constant `c` (a loop kernel).
fn divide_by_constant(dtype: DType, n: usize, c: f64) -> Module {
    let mut b = Builder::new("div_const");
    let x = b.parameter(Shape::new(dtype, [n]));
    let k = b.constant_f64(dtype, c);
    let kb = b.broadcast_in_dim(k, &[n], &[]);
    let q = b.binary(BinaryOp::Div, x, kb);
    b.finish(&[q])
}

/// Divisors at and around the limits of the fast path: 2^-28 and 2^126 (the
/// divisor range), the normal range's ends, subnormals, zeros, infinities, NaN.
fn divisors_f32() -> Vec<f32> {
    let p = |e: i32| 2f32.powi(e);
    vec![
        3.0,
        -7.0,
        0.1,
        1.0,
        p(-28),
        p(-28) * 0.999_999_9,
        p(-28) * 1.000_000_1,
        p(126),
        p(126) * 1.000_000_1,
        p(126) * 0.999_999_9,
        f32::MIN_POSITIVE,
        f32::MAX,
        1e-40,
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NAN,
        1.5e30,
        -2.5e-20,
    ]
}

#[test]
fn f32_division_by_constants_is_exact() {
    // Not a multiple of 16 or 8: the vector loop, its epilogue and scalar tail all run.
    let n = (1 << 16) + 29;
    let a = dividends_f32(&mut Rng::new(11), n);
    let arg = Literal::from_vec(&[n], a.clone());
    for c in divisors_f32() {
        let m = divide_by_constant(DType::F32, n, c as f64);
        for (tier, got) in run_both_tiers(&m, std::slice::from_ref(&arg))
            .iter()
            .enumerate()
        {
            let got = got.as_slice::<f32>().expect("f32");
            let what = format!("x / {c:e}, tier {}", tier + 1);
            assert_quotients(got, &a, |_| c, |x, y| x / y, |x| x.to_bits() as u64, &what);
        }
    }
}

#[test]
fn f64_division_by_constants_is_exact() {
    let n = (1 << 15) + 13;
    let a = dividends_f64(&mut Rng::new(12), n);
    let arg = Literal::from_vec(&[n], a.clone());
    let p = |e: i32| 2f64.powi(e);
    for c in [
        3.0,
        0.1,
        -1e300,
        p(-57),
        p(-57) * (1.0 - 1e-16),
        p(1022),
        p(1022) * (1.0 + 1e-15),
        f64::MIN_POSITIVE,
        5e-320,
        0.0,
        f64::INFINITY,
        f64::NAN,
    ] {
        let m = divide_by_constant(DType::F64, n, c);
        for (tier, got) in run_both_tiers(&m, std::slice::from_ref(&arg))
            .iter()
            .enumerate()
        {
            let got = got.as_slice::<f64>().expect("f64");
            let what = format!("x / {c:e}, tier {}", tier + 1);
            assert_quotients(got, &a, |_| c, |x, y| x / y, |x| x.to_bits(), &what);
        }
    }
}

/// `x / max(y)` per row (a row kernel): each row of `y` repeats one divisor, so
/// every dividend pattern meets many divisor mantissas and exponents.
fn divide_by_row_max(dtype: DType, rows: usize, cols: usize) -> Module {
    let mut b = Builder::new("div_row");
    let shape = Shape::new(dtype, [rows, cols]);
    let x = b.parameter(shape.clone());
    let y = b.parameter(shape);
    let maxr = b.scalar_binary_region(BinaryOp::Max, dtype);
    let ninf = b.constant_f64(dtype, f64::NEG_INFINITY);
    let m = b.reduce(&[y], &[ninf], &[1], maxr)[0];
    let mb = b.broadcast_in_dim(m, &[rows, cols], &[0]);
    let q = b.binary(BinaryOp::Div, x, mb);
    b.finish(&[q])
}

#[test]
fn f32_division_by_row_totals_is_exact() {
    let (rows, cols) = (600, 1027);
    let mut rng = Rng::new(13);
    let a = dividends_f32(&mut rng, rows * cols);
    // Random divisors of all mantissas, mostly in the fast range, some outside.
    let mut divisors = divisors_f32();
    while divisors.len() < rows {
        let r = rng.next_u64();
        let e = (r >> 32) % 200 + 27; // exponents 2^-100 .. 2^99
        divisors.push(f32::from_bits(
            ((r as u32) & 0x807f_ffff) | ((e as u32) << 23),
        ));
    }
    let y: Vec<f32> = (0..rows * cols).map(|i| divisors[i / cols]).collect();
    let m = divide_by_row_max(DType::F32, rows, cols);
    let args = [
        Literal::from_vec(&[rows, cols], a.clone()),
        Literal::from_vec(&[rows, cols], y),
    ];
    for (tier, got) in run_both_tiers(&m, &args).iter().enumerate() {
        let got = got.as_slice::<f32>().expect("f32");
        let what = format!("row totals, tier {}", tier + 1);
        let b = |i: usize| divisors[i / cols];
        assert_quotients(got, &a, b, |x, y| x / y, |x| x.to_bits() as u64, &what);
    }
}

#[test]
fn softmax_with_tiny_and_zero_probabilities_is_exact() {
    // Rows spread over 0..200: exp underflows to subnormals and zeros, so the
    // division's vector check fails for some vectors and passes for others.
    let (rows, cols) = (64, 4096);
    let mut rng = Rng::new(14);
    let x: Vec<f64> = (0..rows * cols)
        .map(|i| rng.uniform(-((i / cols) as f64) * 3.0, 1.0))
        .collect();
    let mut b = Builder::new("softmax");
    let xv = b.parameter(Shape::new(DType::F32, [rows, cols]));
    let out = common::softmax_rows(&mut b, xv, rows, cols);
    let m = b.finish(&[out]);
    let arg = common::lit(DType::F32, &[rows, cols], &x);
    let want = oxla::backend::interp::evaluate(&m, std::slice::from_ref(&arg)).expect("interp");
    // The interpreter's exp is not the kernels', so compare the division alone:
    // each output times its row sum is checked by the row-total test above; here
    // the outputs must be the interpreter's within exp's error and sum to 1.
    for got in run_both_tiers(&m, std::slice::from_ref(&arg)) {
        let g = common::f64s(&got);
        common::assert_close(&g, &common::f64s(&want[0]), 1e-5, "softmax");
        for r in 0..rows {
            let s: f64 = g[r * cols..(r + 1) * cols].iter().sum();
            assert!((s - 1.0).abs() < 1e-4, "row {r} sums to {s}");
        }
    }
}

/// Arguments of every exponent plus a dense sweep of `[lo, hi]` (where results
/// go subnormal and overflow).
fn sweep_f32(rng: &mut Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut v = dividends_f32(rng, n / 2);
    let rest = n - v.len();
    v.extend((0..rest).map(|i| lo + (hi - lo) * i as f32 / rest as f32));
    v
}

fn unary_module(op: oxla::UnaryOp, dtype: DType, n: usize) -> Module {
    let mut b = Builder::new("unary");
    let x = b.parameter(Shape::new(dtype, [n]));
    let y = b.unary(op, x);
    b.finish(&[y])
}

/// Elements per module in the tier comparisons: kernels with math functions over
/// 4096 elements skip the first tier.
const CHUNK: usize = 4000;

/// Asserts that `make(len)`'s first call (first-tier, scalar code) and its call
/// after the second tier is in (vector code) give the same bits, for `args` cut
/// into chunks of [`CHUNK`] elements.
fn assert_tiers_agree<T: oxla::NativeType>(
    make: impl Fn(usize) -> Module,
    args: &[Vec<T>],
    what: &str,
) {
    // Every kernel misses the cache, so the first call runs the first tier.
    oxla::backend::cpu::kernel_cache::set_dir(None);
    let n = args[0].len();
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        let lits: Vec<Literal> = args
            .iter()
            .map(|a| Literal::from_vec(&[end - start], a[start..end].to_vec()))
            .collect();
        let before = oxla::backend::cpu::upgraded_kernels();
        let [first, second] = run_both_tiers(&make(end - start), &lits);
        assert!(
            oxla::backend::cpu::upgraded_kernels() > before,
            "{what}: a kernel was upgraded"
        );
        let (a, b) = (first.data().to_bytes(), second.data().to_bytes());
        let width = first.dtype().size_bytes();
        if let Some(i) = (0..a.len() / width)
            .find(|&i| a[i * width..(i + 1) * width] != b[i * width..(i + 1) * width])
        {
            panic!("{what}: the tiers differ at element {}", start + i);
        }
    }
}

#[test]
fn exp_family_tiers_agree_over_the_whole_range() {
    use oxla::UnaryOp::*;
    let n = 6 * CHUNK;
    let mut rng = Rng::new(15);
    for (op, lo, hi) in [
        (Exp, -110.0, 92.0),
        (Exp2, -155.0, 131.0),
        (Logistic, -110.0, 110.0),
        (Cosh, -95.0, 95.0),
        (Sinh, -95.0, 95.0),
    ] {
        let x = sweep_f32(&mut rng, n, lo, hi);
        assert_tiers_agree(|len| unary_module(op, DType::F32, len), &[x], op.name());
    }
    // f64: exp's subnormal and overflow ranges.
    let x: Vec<f64> = (0..n)
        .map(|i| -760.0 + 1480.0 * i as f64 / n as f64)
        .chain(dividends_f64(&mut rng, 1024))
        .collect();
    assert_tiers_agree(|len| unary_module(Exp, DType::F64, len), &[x], "f64 exp");
}

#[test]
fn f32_pow_tiers_agree() {
    // f32 pow runs in f64: its loop vectorizes with 8 f64 lanes.
    let n = 2 * CHUNK;
    let mut rng = Rng::new(16);
    let x: Vec<f32> = (0..n).map(|_| rng.uniform(0.0, 40.0) as f32).collect();
    let y: Vec<f32> = (0..n).map(|_| rng.uniform(-30.0, 30.0) as f32).collect();
    let make = |len: usize| {
        let mut b = Builder::new("pow");
        let xv = b.parameter(Shape::new(DType::F32, [len]));
        let yv = b.parameter(Shape::new(DType::F32, [len]));
        let p = b.binary(BinaryOp::Pow, xv, yv);
        b.finish(&[p])
    };
    assert_tiers_agree(make, &[x, y], "pow");
}

/// Row maxima and minima (the row folds' vector combiner: AVX-512's `vrange` plus a
/// NaN blend) must be IEEE `maximum`/`minimum`: NaN when a NaN is in the row, +0
/// over -0 for max (and -0 under +0 for min) wherever the zeros sit.
#[test]
fn row_max_and_min_keep_nans_and_signed_zeros() {
    let (rows, cols) = (48, 1030);
    let mut rng = Rng::new(17);
    let mut x = vec![0f64; rows * cols];
    for r in 0..rows {
        let row = &mut x[r * cols..(r + 1) * cols];
        let at = (rng.next_u64() % cols as u64) as usize;
        match r % 8 {
            0 => row.iter_mut().for_each(|v| *v = rng.uniform(-5.0, 5.0)),
            1 => {
                row.iter_mut().for_each(|v| *v = rng.uniform(-5.0, 5.0));
                row[at] = f64::NAN;
            }
            2 => {
                row.iter_mut().for_each(|v| *v = -0.0);
                row[at] = 0.0;
            }
            3 => row.iter_mut().for_each(|v| *v = -0.0),
            4 => {
                row.iter_mut().for_each(|v| *v = 0.0);
                row[at] = -0.0;
            }
            5 => {
                row.iter_mut()
                    .for_each(|v| *v = rng.uniform(-1.0, 0.0) - 1.0);
                row[at] = -0.0;
                row[(at + 17) % cols] = 0.0;
            }
            6 => {
                row.iter_mut().for_each(|v| *v = rng.uniform(-5.0, 5.0));
                row[at] = f64::INFINITY;
                row[(at + 1) % cols] = f64::NEG_INFINITY;
                row[(at + 500) % cols] = f64::NAN;
            }
            _ => {
                row.iter_mut().for_each(|v| *v = rng.uniform(-5.0, 5.0));
                row[cols - 1] = f64::NAN;
            }
        }
    }
    for dtype in [DType::F32, DType::F64] {
        for op in [BinaryOp::Max, BinaryOp::Min] {
            let mut b = Builder::new("fold");
            let xv = b.parameter(Shape::new(dtype, [rows, cols]));
            let region = b.scalar_binary_region(op, dtype);
            let init = if op == BinaryOp::Max {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
            let init = b.constant_f64(dtype, init);
            let red = b.reduce(&[xv], &[init], &[1], region)[0];
            let m = b.finish(&[red]);
            let arg = common::lit(dtype, &[rows, cols], &x);
            let want = common::f64s(
                &oxla::backend::interp::evaluate(&m, std::slice::from_ref(&arg)).expect("interp")
                    [0],
            );
            for (tier, got) in run_both_tiers(&m, &[arg]).iter().enumerate() {
                let got = common::f64s(got);
                for r in 0..rows {
                    let (g, w) = (got[r], want[r]);
                    let same = (g.is_nan() && w.is_nan()) || g.to_bits() == w.to_bits();
                    assert!(
                        same,
                        "{op:?} {dtype:?} row {r} (kind {}), tier {}: {g:?}, want {w:?}",
                        r % 8,
                        tier + 1
                    );
                }
            }
        }
    }
}
