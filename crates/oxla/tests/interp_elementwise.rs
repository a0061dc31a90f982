//! Elementwise ops on every dtype they support, against references computed here.

mod common;
use common::*;
use oxla::{BinaryOp, Builder, CmpDir, DType, Literal, Op, Shape, UnaryOp};

fn unary_run(op: UnaryOp, x: &Literal) -> Literal {
    let mut b = Builder::new("unary");
    let p = b.parameter(x.shape().clone());
    let y = b.unary(op, p);
    run(b.finish(&[y]), std::slice::from_ref(x)).remove(0)
}

fn binary_run(op: BinaryOp, x: &Literal, y: &Literal) -> Literal {
    let mut b = Builder::new("binary");
    let p = b.parameter(x.shape().clone());
    let q = b.parameter(y.shape().clone());
    let r = b.binary(op, p, q);
    run(b.finish(&[r]), &[x.clone(), y.clone()]).remove(0)
}

fn float_ref(op: UnaryOp, x: f64) -> f64 {
    use UnaryOp::*;
    match op {
        Neg => -x,
        Abs => x.abs(),
        Floor => x.floor(),
        Ceil => x.ceil(),
        Exp => x.exp(),
        Exp2 => 2f64.powf(x),
        Expm1 => x.exp_m1(),
        Log => x.ln(),
        Log1p => x.ln_1p(),
        Sqrt => x.sqrt(),
        Rsqrt => 1.0 / x.sqrt(),
        Cbrt => x.cbrt(),
        Sin => x.sin(),
        Cos => x.cos(),
        Tan => x.tan(),
        Asin => x.asin(),
        Acos => x.acos(),
        Atan => x.atan(),
        Sinh => x.sinh(),
        Cosh => x.cosh(),
        Tanh => x.tanh(),
        Asinh => (x + (x * x + 1.0).sqrt()).ln(),
        Acosh => (x + (x * x - 1.0).sqrt()).ln(),
        Atanh => 0.5 * ((1.0 + x) / (1.0 - x)).ln(),
        Logistic => 1.0 / (1.0 + (-x).exp()),
        Erf => libm::erf(x),
        Erfc => libm::erfc(x),
        Lgamma => libm::lgamma(x),
        _ => unreachable!(),
    }
}

/// Inputs inside each op's domain.
fn domain(op: UnaryOp) -> (f64, f64) {
    use UnaryOp::*;
    match op {
        Log | Sqrt | Rsqrt | Lgamma | Digamma => (0.1, 8.0),
        Log1p => (-0.9, 5.0),
        Asin | Acos | Atanh | ErfInv => (-0.95, 0.95),
        Acosh => (1.0, 9.0),
        Exp | Exp2 | Expm1 | Sinh | Cosh => (-5.0, 5.0),
        _ => (-6.0, 6.0),
    }
}

#[test]
fn float_unary_ops_all_float_dtypes() {
    use UnaryOp::*;
    let mut rng = Rng::new(1);
    let ops = [
        Neg, Abs, Floor, Ceil, Exp, Exp2, Expm1, Log, Log1p, Sqrt, Rsqrt, Cbrt, Sin, Cos, Tan,
        Asin, Acos, Atan, Sinh, Cosh, Tanh, Asinh, Acosh, Atanh, Logistic, Erf, Erfc, Lgamma,
    ];
    for dtype in FLOATS {
        for op in ops {
            let dims = rng.dims(2, 5);
            let n = dims.iter().product();
            let (lo, hi) = domain(op);
            let x = lit(dtype, &dims, &rng.floats(n, lo, hi));
            let xs = f64s(&x);
            let got = f64s(&unary_run(op, &x));
            let want = round_to(
                dtype,
                &xs.iter().map(|&v| float_ref(op, v)).collect::<Vec<_>>(),
            );
            assert_close(
                &got,
                &want,
                tol(dtype) * 4.0,
                &format!("{} {dtype}", op.name()),
            );
        }
    }
}

#[test]
fn special_functions() {
    let mut rng = Rng::new(2);
    for dtype in [DType::F32, DType::F64] {
        let y = lit(dtype, &[50], &rng.floats(50, -0.99, 0.99));
        let x = unary_run(UnaryOp::ErfInv, &y);
        let back: Vec<f64> = f64s(&x).iter().map(|&v| libm::erf(v)).collect();
        assert_close(&back, &f64s(&y), tol(dtype) * 4.0, "erf(erf_inv(y))");
        // ψ(x + 1) - ψ(x) = 1/x.
        let xs = rng.floats(20, 0.3, 6.0);
        let a = f64s(&unary_run(UnaryOp::Digamma, &lit(DType::F64, &[20], &xs)));
        let shifted: Vec<f64> = xs.iter().map(|v| v + 1.0).collect();
        let b = f64s(&unary_run(
            UnaryOp::Digamma,
            &lit(DType::F64, &[20], &shifted),
        ));
        let diff: Vec<f64> = a.iter().zip(&b).map(|(p, q)| q - p).collect();
        let inv: Vec<f64> = xs.iter().map(|v| 1.0 / v).collect();
        assert_close(&diff, &inv, 1e-12, "digamma recurrence");
    }
    let got = f64s(&unary_run(
        UnaryOp::Digamma,
        &lit(DType::F64, &[3], &[1.0, 0.0, -2.0]),
    ));
    assert!((got[0] + 0.5772156649015329).abs() < 1e-15);
    assert!(got[1].is_nan() && got[2].is_nan());
    // expm1 / log1p keep full relative accuracy near zero.
    let tiny = lit(DType::F64, &[2], &[1e-12, -3e-15]);
    assert_close(
        &f64s(&unary_run(UnaryOp::Expm1, &tiny)),
        &[1e-12 + 5e-25, -3e-15],
        1e-15,
        "expm1",
    );
    assert_close(
        &f64s(&unary_run(UnaryOp::Log1p, &tiny)),
        &[1e-12 - 5e-25, -3e-15],
        1e-15,
        "log1p",
    );
}

#[test]
fn rounding_sign_and_finiteness() {
    let v = [
        0.5,
        1.5,
        2.5,
        -0.5,
        -2.5,
        -0.0,
        f64::NAN,
        3.7,
        f64::INFINITY,
        -1.2,
    ];
    for dtype in FLOATS {
        let x = lit(dtype, &[10], &v);
        let afz = f64s(&unary_run(UnaryOp::RoundNearestAfz, &x));
        assert_close(
            &afz,
            &[
                1.0,
                2.0,
                3.0,
                -1.0,
                -3.0,
                -0.0,
                f64::NAN,
                4.0,
                f64::INFINITY,
                -1.0,
            ],
            0.0,
            "afz",
        );
        let even = f64s(&unary_run(UnaryOp::RoundNearestEven, &x));
        assert_close(
            &even,
            &[
                0.0,
                2.0,
                2.0,
                -0.0,
                -2.0,
                -0.0,
                f64::NAN,
                4.0,
                f64::INFINITY,
                -1.0,
            ],
            0.0,
            "even",
        );
        let sign = f64s(&unary_run(UnaryOp::Sign, &x));
        assert_close(
            &sign,
            &[1.0, 1.0, 1.0, -1.0, -1.0, -0.0, f64::NAN, 1.0, 1.0, -1.0],
            0.0,
            "sign",
        );
        assert!(sign[5].is_sign_negative(), "sign(-0.0) is -0.0");
        let fin = unary_run(UnaryOp::IsFinite, &x);
        let want = [true, true, true, true, true, true, false, true, false, true];
        assert_eq!(fin.as_slice::<bool>().unwrap(), want);
    }
}

#[test]
fn integer_unary_ops() {
    let mut rng = Rng::new(3);
    for dtype in INTS {
        let bits = dtype.bits();
        let signed = dtype.is_signed_int();
        let wrap = |v: i128| -> i128 {
            let m = v.rem_euclid(1i128 << bits);
            if signed && m >= 1i128 << (bits - 1) {
                m - (1i128 << bits)
            } else {
                m
            }
        };
        let mut vals: Vec<i128> = (0..20).map(|_| wrap(rng.next_u64() as i128)).collect();
        vals.extend([0, 1, wrap(-1), wrap(1i128 << (bits - 1))]);
        let x = lit_i(dtype, &[vals.len()], &vals);
        let check = |op: UnaryOp, f: &dyn Fn(i128) -> i128| {
            let got = i128s(&unary_run(op, &x));
            let want: Vec<i128> = vals.iter().map(|&v| wrap(f(v))).collect();
            assert_eq!(got, want, "{} {dtype}", op.name());
        };
        check(UnaryOp::Neg, &|v| -v);
        check(UnaryOp::Abs, &|v| v.abs());
        check(UnaryOp::Sign, &|v| v.signum());
        check(UnaryOp::Not, &|v| !v);
        let popcnt = |v: i128| (v.rem_euclid(1i128 << bits) as u128).count_ones() as i128;
        check(UnaryOp::PopulationCount, &popcnt);
    }
    let b = Literal::from_vec(&[2], vec![true, false]);
    assert_eq!(
        unary_run(UnaryOp::Not, &b).as_slice::<bool>().unwrap(),
        [false, true]
    );
}

#[test]
fn integer_binary_ops_wrap() {
    use BinaryOp::*;
    let mut rng = Rng::new(4);
    for dtype in INTS {
        let bits = dtype.bits();
        let signed = dtype.is_signed_int();
        let wrap = |v: i128| -> i128 {
            let m = v.rem_euclid(1i128 << bits);
            if signed && m >= 1i128 << (bits - 1) {
                m - (1i128 << bits)
            } else {
                m
            }
        };
        let n = 40;
        let mut a: Vec<i128> = (0..n).map(|_| wrap(rng.next_u64() as i128)).collect();
        let mut b: Vec<i128> = (0..n).map(|_| wrap(rng.int(-9, 9) as i128)).collect();
        // Edge cases: division by zero, MIN / -1.
        let min = if signed { -(1i128 << (bits - 1)) } else { 0 };
        a.extend([7, -7, 0, min, min, 5].map(wrap));
        b.extend([0, 0, 0, wrap(-1), 0, wrap(-2)]);
        let (x, y) = (lit_i(dtype, &[a.len()], &a), lit_i(dtype, &[b.len()], &b));
        let check = |op: BinaryOp, f: &dyn Fn(i128, i128) -> i128| {
            let got = i128s(&binary_run(op, &x, &y));
            let want: Vec<i128> = a.iter().zip(&b).map(|(&p, &q)| wrap(f(p, q))).collect();
            assert_eq!(got, want, "{} {dtype} on {a:?} {b:?}", op.name());
        };
        check(Add, &|p, q| p + q);
        check(Sub, &|p, q| p - q);
        check(Mul, &|p, q| p.wrapping_mul(q));
        check(Div, &|p, q| if q == 0 { -1 } else { p / q });
        check(Rem, &|p, q| if q == 0 { p } else { p % q });
        check(Max, &|p, q| p.max(q));
        check(Min, &|p, q| p.min(q));
        check(And, &|p, q| p & q);
        check(Or, &|p, q| p | q);
        check(Xor, &|p, q| p ^ q);
        check(Pow, &|p, q| {
            if q < 0 {
                match p {
                    1 => 1,
                    -1 => {
                        if q % 2 == 0 {
                            1
                        } else {
                            -1
                        }
                    }
                    _ => 0,
                }
            } else {
                // Square and multiply modulo 2^bits (unsigned exponents can be huge).
                let (mut acc, mut base, mut e) = (1i128, p, q);
                while e > 0 {
                    if e & 1 == 1 {
                        acc = wrap((acc as u128).wrapping_mul(base as u128) as i128);
                    }
                    base = wrap((base as u128).wrapping_mul(base as u128) as i128);
                    e >>= 1;
                }
                acc
            }
        });
    }
}

#[test]
fn shifts() {
    use BinaryOp::*;
    for dtype in INTS {
        let bits = dtype.bits() as i128;
        let signed = dtype.is_signed_int();
        let top = 1i128 << (bits - 1);
        let x0 = if signed { -top + 5 } else { top + 5 };
        let a = [x0, x0, x0, x0, 12, 12];
        let amounts = [0, 1, bits - 1, bits, bits + 3, -1];
        let (x, y) = (lit_i(dtype, &[6], &a), lit_i(dtype, &[6], &amounts));
        let ubits = |v: i128| v.rem_euclid(1i128 << bits);
        let to_dtype = |v: i128| i128s(&lit_i(dtype, &[1], &[v]))[0];
        let got = i128s(&binary_run(ShiftLeft, &x, &y));
        let want: Vec<i128> = a
            .iter()
            .zip(&amounts)
            .map(|(&v, &s)| {
                if s < 0 || s >= bits {
                    0
                } else {
                    to_dtype(v << s)
                }
            })
            .collect();
        assert_eq!(got, want, "shl {dtype}");
        let got = i128s(&binary_run(ShiftRightLogical, &x, &y));
        let want: Vec<i128> = a
            .iter()
            .zip(&amounts)
            .map(|(&v, &s)| {
                if s < 0 || s >= bits {
                    0
                } else {
                    to_dtype(ubits(v) >> s)
                }
            })
            .collect();
        assert_eq!(got, want, "shrl {dtype}");
        let got = i128s(&binary_run(ShiftRightArithmetic, &x, &y));
        let want: Vec<i128> = a
            .iter()
            .zip(&amounts)
            .map(|(&v, &s)| {
                // Sign fill from the top bit, whatever the signedness.
                let sv = if ubits(v) >= top {
                    ubits(v) - 2 * top
                } else {
                    ubits(v)
                };
                let s = if s < 0 || s >= bits { bits - 1 } else { s };
                to_dtype(sv >> s)
            })
            .collect();
        assert_eq!(got, want, "shra {dtype}");
    }
}

#[test]
fn float_binary_ops() {
    use BinaryOp::*;
    let mut rng = Rng::new(5);
    for dtype in FLOATS {
        let n = 30;
        let a = f64s(&lit(dtype, &[n], &rng.floats(n, -4.0, 4.0)));
        let mut b = f64s(&lit(dtype, &[n], &rng.floats(n, -4.0, 4.0)));
        b[0] = 0.0;
        let (x, y) = (lit(dtype, &[n], &a), lit(dtype, &[n], &b));
        let check = |op: BinaryOp, f: &dyn Fn(f64, f64) -> f64| {
            let got = f64s(&binary_run(op, &x, &y));
            let want = round_to(
                dtype,
                &a.iter().zip(&b).map(|(&p, &q)| f(p, q)).collect::<Vec<_>>(),
            );
            assert_close(&got, &want, tol(dtype), &format!("{} {dtype}", op.name()));
        };
        // + - * / are correctly rounded: exact agreement with the f64 result rounded.
        let exact = |op: BinaryOp, f: &dyn Fn(f64, f64) -> f64| {
            let got = f64s(&binary_run(op, &x, &y));
            let want = round_to(
                dtype,
                &a.iter().zip(&b).map(|(&p, &q)| f(p, q)).collect::<Vec<_>>(),
            );
            assert_close(&got, &want, 0.0, &format!("{} {dtype}", op.name()));
        };
        exact(Add, &|p, q| p + q);
        exact(Sub, &|p, q| p - q);
        exact(Mul, &|p, q| p * q);
        exact(Div, &|p, q| p / q);
        check(Rem, &|p, q| p % q);
        check(Atan2, &|p, q| p.atan2(q));
        check(Pow, &|p, q| p.powf(q));
    }
}

#[test]
fn pow_on_absolute_values_and_nan_propagation() {
    for dtype in FLOATS {
        let x = lit(dtype, &[4], &[2.0, -2.0, f64::NAN, 1.0]);
        let y = lit(dtype, &[4], &[3.0, 0.5, 1.0, f64::NAN]);
        let got = f64s(&binary_run(BinaryOp::Pow, &x, &y));
        assert_close(&got, &[8.0, f64::NAN, f64::NAN, 1.0], 0.0, "pow");
        let a = lit(dtype, &[4], &[f64::NAN, 1.0, -0.0, 0.0]);
        let b = lit(dtype, &[4], &[1.0, f64::NAN, 0.0, -0.0]);
        let mx = f64s(&binary_run(BinaryOp::Max, &a, &b));
        let mn = f64s(&binary_run(BinaryOp::Min, &a, &b));
        assert!(mx[0].is_nan() && mx[1].is_nan() && mn[0].is_nan() && mn[1].is_nan());
        assert!(mx[2] == 0.0 && mx[2].is_sign_positive() && mx[3].is_sign_positive());
        assert!(mn[2].is_sign_negative() && mn[3].is_sign_negative());
    }
}

#[test]
fn next_after_in_each_dtype() {
    for dtype in FLOATS {
        let (m, e) = dtype.float_bits().unwrap();
        let k = 2 - (1 << (e - 1)) - m as i32;
        let min_sub = 2f64.powi(k / 2) * 2f64.powi(k - k / 2);
        let eps = 2f64.powi(-(m as i32));
        let x = lit(dtype, &[5], &[1.0, 1.0, 0.0, -0.0, 2.0]);
        let y = lit(dtype, &[5], &[2.0, 0.0, -1.0, 1.0, 2.0]);
        let got = f64s(&binary_run(BinaryOp::NextAfter, &x, &y));
        assert_eq!(got[0], 1.0 + eps, "{dtype}");
        assert_eq!(got[1], 1.0 - eps / 2.0, "{dtype}");
        assert_eq!(got[2], -min_sub, "{dtype}: smallest negative subnormal");
        assert_eq!(got[3], min_sub, "{dtype}");
        assert_eq!(got[4], 2.0);
    }
    let x = Literal::from_vec(&[1], vec![f32::NAN]);
    let y = Literal::from_vec(&[1], vec![1.0f32]);
    assert!(f64s(&binary_run(BinaryOp::NextAfter, &x, &y))[0].is_nan());
}

#[test]
fn bool_logic() {
    let a = Literal::from_vec(&[4], vec![false, false, true, true]);
    let b = Literal::from_vec(&[4], vec![false, true, false, true]);
    let get = |op| binary_run(op, &a, &b).as_slice::<bool>().unwrap().to_vec();
    assert_eq!(get(BinaryOp::And), [false, false, false, true]);
    assert_eq!(get(BinaryOp::Or), [false, true, true, true]);
    assert_eq!(get(BinaryOp::Xor), [false, true, true, false]);
}

fn compare_run(dir: CmpDir, total_order: bool, x: &Literal, y: &Literal) -> Vec<bool> {
    let mut b = Builder::new("cmp");
    let p = b.parameter(x.shape().clone());
    let q = b.parameter(y.shape().clone());
    let r = b.add(Op::Compare { dir, total_order }, &[p, q]);
    run(b.finish(&[r]), &[x.clone(), y.clone()])[0]
        .as_slice::<bool>()
        .unwrap()
        .to_vec()
}

#[test]
fn compare_ieee_and_total_order() {
    let a = [1.0, f64::NAN, -0.0, 2.0, f64::NAN, -f64::NAN];
    let b = [2.0, 1.0, 0.0, 2.0, f64::NAN, f64::NEG_INFINITY];
    for dtype in FLOATS {
        let (x, y) = (lit(dtype, &[6], &a), lit(dtype, &[6], &b));
        assert_eq!(
            compare_run(CmpDir::Lt, false, &x, &y),
            [true, false, false, false, false, false]
        );
        assert_eq!(
            compare_run(CmpDir::Eq, false, &x, &y),
            [false, false, true, true, false, false]
        );
        assert_eq!(
            compare_run(CmpDir::Ne, false, &x, &y),
            [true, true, false, false, true, true]
        );
        assert_eq!(
            compare_run(CmpDir::Lt, true, &x, &y),
            [true, false, true, false, false, true]
        );
        assert_eq!(
            compare_run(CmpDir::Ge, true, &x, &y),
            [false, true, false, true, true, false]
        );
    }
    let mut rng = Rng::new(6);
    for dtype in INTS {
        let a: Vec<i128> = (0..20).map(|_| rng.int(0, 5) as i128).collect();
        let b: Vec<i128> = (0..20).map(|_| rng.int(0, 5) as i128).collect();
        let (x, y) = (lit_i(dtype, &[20], &a), lit_i(dtype, &[20], &b));
        for (dir, f) in [
            (CmpDir::Le, (|p, q| p <= q) as fn(i128, i128) -> bool),
            (CmpDir::Gt, |p, q| p > q),
            (CmpDir::Eq, |p, q| p == q),
        ] {
            let want: Vec<bool> = a.iter().zip(&b).map(|(&p, &q)| f(p, q)).collect();
            assert_eq!(compare_run(dir, false, &x, &y), want, "{dtype}");
        }
    }
}

#[test]
fn select_and_clamp() {
    let mut b = Builder::new("sel");
    let p = b.parameter(Shape::new(DType::Bool, [3]));
    let t = b.parameter(Shape::new(DType::I32, [3]));
    let f = b.parameter(Shape::new(DType::I32, [3]));
    let ps = b.parameter(Shape::scalar(DType::Bool));
    let r = b.select(p, t, f);
    let r2 = b.select(ps, t, f);
    let out = run(
        b.finish(&[r, r2]),
        &[
            Literal::from_vec(&[3], vec![true, false, true]),
            Literal::from_vec(&[3], vec![1i32, 2, 3]),
            Literal::from_vec(&[3], vec![10i32, 20, 30]),
            Literal::scalar(false),
        ],
    );
    assert_eq!(out[0].as_slice::<i32>().unwrap(), [1, 20, 3]);
    assert_eq!(out[1].as_slice::<i32>().unwrap(), [10, 20, 30]);

    for dtype in [DType::F32, DType::I8, DType::U16, DType::BF16] {
        let mut b = Builder::new("clamp");
        let lo = b.parameter(Shape::scalar(dtype));
        let x = b.parameter(Shape::new(dtype, [5]));
        let hi = b.parameter(Shape::new(dtype, [5]));
        let r = b.add(Op::Clamp, &[lo, x, hi]);
        let out = run(
            b.finish(&[r]),
            &[
                lit(dtype, &[], &[2.0]),
                lit(dtype, &[5], &[0.0, 3.0, 9.0, 5.0, 1.0]),
                lit(dtype, &[5], &[4.0, 4.0, 4.0, 1.0, 9.0]),
            ],
        );
        // max(lo, min(x, hi)): lo wins when hi < lo.
        assert_eq!(f64s(&out[0]), [2.0, 3.0, 4.0, 2.0, 2.0], "{dtype}");
    }
}

#[test]
fn convert_between_all_dtypes() {
    let vals = [
        0.0,
        1.0,
        -1.5,
        2.7,
        300.0,
        -70000.5,
        f64::NAN,
        f64::INFINITY,
    ];
    for from in DType::ALL {
        let x = lit(from, &[vals.len()], &vals);
        for to in DType::ALL {
            let mut b = Builder::new("convert");
            let p = b.parameter(x.shape().clone());
            let r = b.add(Op::Convert { dtype: to }, &[p]);
            let got = run(b.finish(&[r]), std::slice::from_ref(&x)).remove(0);
            let want = x.convert(to);
            assert_eq!(
                got.data().to_bytes(),
                want.data().to_bytes(),
                "{from} -> {to}"
            );
        }
    }
    // Float -> int truncates and saturates, NaN -> 0; anything -> bool is x != 0.
    let x = lit(DType::F32, &[5], &[2.9, -2.9, 1e10, f64::NAN, -1e10]);
    assert_eq!(i128s(&x.convert(DType::I8)), [2, -2, 127, 0, -128]);
    assert_eq!(i128s(&x.convert(DType::U8)), [2, 0, 255, 0, 0]);
    let x = lit(DType::F32, &[3], &[0.0, 0.1, f64::NAN]);
    assert_eq!(
        x.convert(DType::Bool).as_slice::<bool>().unwrap(),
        [false, true, true]
    );
}

fn bitcast_run(x: &Literal, dtype: DType) -> Literal {
    let mut b = Builder::new("bitcast");
    let p = b.parameter(x.shape().clone());
    let r = b.add(Op::BitcastConvert { dtype }, &[p]);
    run(b.finish(&[r]), std::slice::from_ref(x)).remove(0)
}

#[test]
fn bitcast_f32_u32_u8() {
    let v = [1.0f32, -2.5, f32::INFINITY];
    let x = Literal::from_vec(&[3], v.to_vec());
    let u = bitcast_run(&x, DType::U32);
    let want: Vec<u32> = v.iter().map(|f| f.to_bits()).collect();
    assert_eq!(u.as_slice::<u32>().unwrap(), want);
    let bytes = bitcast_run(&x, DType::U8);
    assert_eq!(bytes.dims(), [3, 4]);
    let want: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
    assert_eq!(bytes.as_slice::<u8>().unwrap(), want);
    let back = bitcast_run(&bytes, DType::F32);
    assert_eq!(back, x);
    let i = bitcast_run(&u, DType::I32);
    assert_eq!(i.as_slice::<i32>().unwrap()[1], (-2.5f32).to_bits() as i32);
}

#[test]
fn iota_all_numeric_dtypes() {
    for dtype in DType::ALL.into_iter().filter(|d| !d.is_bool()) {
        let mut b = Builder::new("iota");
        let r = b.iota(Shape::new(dtype, [2, 3]), 1);
        let r0 = b.iota(Shape::new(dtype, [2, 3]), 0);
        let out = run(b.finish(&[r, r0]), &[]);
        assert_eq!(f64s(&out[0]), [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
        assert_eq!(f64s(&out[1]), [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    }
}

fn reduce_precision_run(x: &Literal, e: u32, m: u32) -> Literal {
    let mut b = Builder::new("rp");
    let p = b.parameter(x.shape().clone());
    let r = b.add(
        Op::ReducePrecision {
            exponent_bits: e,
            mantissa_bits: m,
        },
        &[p],
    );
    run(b.finish(&[r]), std::slice::from_ref(x)).remove(0)
}

#[test]
fn reduce_precision_to_bf16_and_f16_widths() {
    let mut rng = Rng::new(7);
    let mut v: Vec<f64> = rng.floats(200, -1000.0, 1000.0);
    v.extend([
        1e-30,
        -3e-6,
        1e5,
        65519.0,
        65520.0,
        f64::NAN,
        f64::INFINITY,
        -0.0,
        6.1e-5,
        5.9e-5,
    ]);
    for dtype in [DType::F32, DType::F64] {
        let x = lit(dtype, &[v.len()], &v);
        let xs = f64s(&x);
        // bf16 widths: same as rounding to bf16 (f32's exponent range).
        let got = f64s(&reduce_precision_run(&x, 8, 7));
        let want = round_to(DType::BF16, &xs);
        if dtype == DType::F32 {
            assert_close(&got, &want, 0.0, "bf16 widths");
        }
        // f16 widths: round to f16, with f16 subnormals flushed to zero.
        let got = f64s(&reduce_precision_run(&x, 5, 10));
        let want: Vec<f64> = round_to(DType::F16, &xs)
            .into_iter()
            .map(|h| {
                if h != 0.0 && h.abs() < 2f64.powi(-14) {
                    0.0f64.copysign(h)
                } else {
                    h
                }
            })
            .collect();
        assert_close(&got, &want, 0.0, &format!("f16 widths from {dtype}"));
    }
    // Identity at the type's own widths.
    let x = lit(DType::F16, &[4], &[1.5, 6e-8, -65504.0, f64::NAN]);
    assert_eq!(
        reduce_precision_run(&x, 5, 10).data().to_bytes(),
        x.data().to_bytes()
    );
}
