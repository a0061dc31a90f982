//! Every elementwise primitive on every dtype it supports, on random shapes and
//! values, against references computed here in f64 (floats) or native integers.

mod support;

use jaxon::lax::{self, BinaryKind, UnaryKind};
use jaxon::prelude::*;
use support::*;

const FLOATS: [DType; 4] = [DType::F16, DType::BF16, DType::F32, DType::F64];
const INTS: [DType; 8] = [
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::U64,
];

fn erf_ref(x: f64) -> f64 {
    libm::erf(x)
}

/// (primitive, reference, input domain, tolerance in units of the dtype's tolerance).
type UnaryCase = (UnaryKind, fn(f64) -> f64, (f64, f64), f64);
type IntRef = Box<dyn Fn(i128, i128) -> i128>;
type CompareCase = (fn(&Array, &Array) -> Array, fn(f64, f64) -> bool);

fn unary_cases() -> Vec<UnaryCase> {
    use UnaryKind::*;
    vec![
        (Neg, |x| -x, (-5.0, 5.0), 0.0),
        (Abs, f64::abs, (-5.0, 5.0), 0.0),
        (
            Sign,
            |x| if x == 0.0 { 0.0 } else { x.signum() },
            (-5.0, 5.0),
            0.0,
        ),
        (Floor, f64::floor, (-5.0, 5.0), 0.0),
        (Ceil, f64::ceil, (-5.0, 5.0), 0.0),
        (Round(0), f64::round, (-5.0, 5.0), 0.0),
        (Round(1), f64::round_ties_even, (-5.0, 5.0), 0.0),
        (Exp, f64::exp, (-5.0, 5.0), 1.0),
        (Exp2, f64::exp2, (-5.0, 5.0), 1.0),
        (Expm1, f64::exp_m1, (-3.0, 3.0), 1.0),
        (Log, f64::ln, (0.01, 10.0), 1.0),
        (Log1p, f64::ln_1p, (-0.9, 10.0), 1.0),
        (Sqrt, f64::sqrt, (0.0, 10.0), 1.0),
        (Rsqrt, |x| 1.0 / x.sqrt(), (0.01, 10.0), 1.0),
        (Cbrt, f64::cbrt, (-10.0, 10.0), 1.0),
        (Sin, f64::sin, (-5.0, 5.0), 1.0),
        (Cos, f64::cos, (-5.0, 5.0), 1.0),
        (Tan, f64::tan, (-1.2, 1.2), 1.0),
        (Asin, f64::asin, (-0.99, 0.99), 1.0),
        (Acos, f64::acos, (-0.99, 0.99), 1.0),
        (Atan, f64::atan, (-5.0, 5.0), 1.0),
        (Sinh, f64::sinh, (-3.0, 3.0), 1.0),
        (Cosh, f64::cosh, (-3.0, 3.0), 1.0),
        (Tanh, f64::tanh, (-3.0, 3.0), 1.0),
        (Asinh, f64::asinh, (-5.0, 5.0), 1.0),
        (Acosh, f64::acosh, (1.0, 10.0), 1.0),
        (Atanh, f64::atanh, (-0.95, 0.95), 1.0),
        (Logistic, |x| 1.0 / (1.0 + (-x).exp()), (-6.0, 6.0), 1.0),
        (Erf, erf_ref, (-3.0, 3.0), 1.0),
        (Erfc, libm::erfc, (-3.0, 3.0), 1.0),
        (ErfInv, |y| erf_inv_ref(y), (-0.99, 0.99), 2.0),
        (Lgamma, libm::lgamma, (0.1, 8.0), 2.0),
        (Digamma, digamma_ref, (0.3, 8.0), 2.0),
    ]
}

/// erf_inv by Newton iteration on libm's erf (independent of the implementation).
fn erf_inv_ref(y: f64) -> f64 {
    let mut x = 0.0f64;
    for _ in 0..100 {
        let err = libm::erf(x) - y;
        x -= err / (2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp());
    }
    x
}

/// digamma as the derivative of lgamma by a central difference in extended steps.
fn digamma_ref(x: f64) -> f64 {
    // Shift up with the recurrence, then the asymptotic series.
    let (mut x, mut acc) = (x, 0.0);
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + x.ln()
        - 0.5 / x
        - x2 * (1.0 / 12.0 - x2 * (1.0 / 120.0 - x2 * (1.0 / 252.0 - x2 / 240.0)))
}

#[test]
fn unary_float_ops_match_f64_reference() {
    let mut rng = Rng::new(1);
    let mut cases = 0;
    for (kind, reference, (lo, hi), tol_units) in unary_cases() {
        for dtype in FLOATS {
            let shape = rng.shape(3, 4);
            let x = random_array(&mut rng, dtype, &shape, lo, hi);
            let y = lax::unary(kind, &x);
            assert_eq!(y.dtype(), dtype);
            assert_eq!(y.shape(), x.shape());
            let want: Vec<f64> = x
                .to_f64_vec()
                .iter()
                .map(|&v| round_to(dtype, reference(v)))
                .collect();
            // Exact ops must be exact; the others within a few ulps of the dtype.
            let rtol = tol_units * float_tol(dtype);
            let atol = if tol_units == 0.0 { 0.0 } else { rtol };
            assert_close(
                &format!("{kind:?} {dtype}"),
                &y.to_f64_vec(),
                &want,
                rtol,
                atol,
            );
            cases += 1;
        }
    }
    assert_eq!(cases, unary_cases().len() * FLOATS.len());
}

#[test]
fn unary_integer_ops_match_native() {
    let mut rng = Rng::new(2);
    for dtype in INTS {
        let shape = rng.shape(2, 5);
        let x = random_array(&mut rng, dtype, &shape, -1000.0, 1000.0);
        let lit = x.to_literal();
        let vals: Vec<i128> = (0..x.size()).map(|i| lit.data().get_i128(i)).collect();
        let bits = dtype.bits();
        let wrap = |v: i128| -> i128 {
            let m = 1i128 << bits;
            let r = v.rem_euclid(m);
            if dtype.is_signed_int() && r >= m / 2 {
                r - m
            } else {
                r
            }
        };
        let check = |kind: UnaryKind, f: &dyn Fn(i128) -> i128| {
            let y = lax::unary(kind, &x);
            let l = y.to_literal();
            for (i, &v) in vals.iter().enumerate() {
                assert_eq!(l.data().get_i128(i), wrap(f(v)), "{kind:?} {dtype} of {v}");
            }
        };
        check(UnaryKind::Neg, &|v| -v);
        check(UnaryKind::Sign, &|v| v.signum());
        check(UnaryKind::Not, &|v| !v);
        check(UnaryKind::PopulationCount, &|v| {
            (wrap(v).rem_euclid(1i128 << bits)).count_ones() as i128
        });
        if dtype.is_signed_int() {
            check(UnaryKind::Abs, &|v| v.abs());
        }
    }
}

#[test]
fn is_finite_and_not_bool() {
    let x = jaxon::numpy::array(&[1.0f32, f32::NAN, f32::INFINITY, -f32::INFINITY, -0.0]);
    assert_eq!(
        lax::is_finite(&x).to_vec::<bool>(),
        vec![true, false, false, false, true]
    );
    let b = jaxon::numpy::array(&[true, false]);
    assert_eq!(lax::not(&b).to_vec::<bool>(), vec![false, true]);
}

fn binary_float_ref(kind: BinaryKind) -> Option<fn(f64, f64) -> f64> {
    use BinaryKind::*;
    Some(match kind {
        Add => |a, b| a + b,
        Sub => |a, b| a - b,
        Mul => |a, b| a * b,
        Div => |a, b| a / b,
        Rem => |a, b| a % b,
        Pow => f64::powf,
        Max => f64::max,
        Min => f64::min,
        Atan2 => f64::atan2,
        _ => return None,
    })
}

#[test]
fn binary_float_ops_match_f64_reference() {
    use BinaryKind::*;
    let mut rng = Rng::new(3);
    for kind in [Add, Sub, Mul, Div, Rem, Pow, Max, Min, Atan2] {
        let reference = binary_float_ref(kind).expect("float reference");
        for dtype in FLOATS {
            let shape = rng.shape(3, 4);
            let (lo, hi) = if kind == Pow { (0.1, 3.0) } else { (-4.0, 4.0) };
            let x = random_array(&mut rng, dtype, &shape, lo, hi);
            let y = random_array(&mut rng, dtype, &shape, lo, hi);
            let z = lax::binary(kind, &x, &y);
            let want: Vec<f64> = x
                .to_f64_vec()
                .iter()
                .zip(y.to_f64_vec())
                .map(|(&a, b)| round_to(dtype, reference(a, b)))
                .collect();
            let rtol = if matches!(kind, Add | Sub | Mul | Div | Max | Min) {
                0.0
            } else {
                float_tol(dtype)
            };
            // Rem near multiples loses relative accuracy; compare absolutely.
            let atol = if kind == Rem {
                4.0 * float_tol(dtype)
            } else {
                rtol
            };
            assert_close(
                &format!("{kind:?} {dtype}"),
                &z.to_f64_vec(),
                &want,
                rtol,
                atol,
            );
        }
    }
}

#[test]
fn binary_integer_ops_wrap_and_follow_xla_conventions() {
    use BinaryKind::*;
    let mut rng = Rng::new(4);
    for dtype in INTS {
        let bits = dtype.bits();
        let signed = dtype.is_signed_int();
        let wrap = |v: i128| -> i128 {
            let m = 1i128 << bits;
            let r = v.rem_euclid(m);
            if signed && r >= m / 2 {
                r - m
            } else {
                r
            }
        };
        let shape = vec![rng.int(1, 12) as usize];
        let x = random_array(&mut rng, dtype, &shape, -300.0, 300.0);
        let mut y = random_array(&mut rng, dtype, &shape, -300.0, 300.0);
        // Include a zero divisor and a large shift.
        let mut yv: Vec<i128> = (0..y.size())
            .map(|i| y.to_literal().data().get_i128(i))
            .collect();
        yv[0] = 0;
        y = Array::from_literal(
            oxla::Literal::from_vec(&shape, yv.iter().map(|&v| v as f64).collect::<Vec<_>>())
                .convert(dtype),
            false,
        );
        let xv: Vec<i128> = (0..x.size())
            .map(|i| x.to_literal().data().get_i128(i))
            .collect();
        let cases: Vec<(BinaryKind, IntRef)> = vec![
            (Add, Box::new(|a, b| a + b)),
            (Sub, Box::new(|a, b| a - b)),
            (Mul, Box::new(|a, b| a * b)),
            (Div, Box::new(move |a, b| if b == 0 { -1 } else { a / b })),
            (Rem, Box::new(|a, b| if b == 0 { a } else { a % b })),
            (Max, Box::new(|a, b| a.max(b))),
            (Min, Box::new(|a, b| a.min(b))),
            (And, Box::new(|a, b| a & b)),
            (Or, Box::new(|a, b| a | b)),
            (Xor, Box::new(|a, b| a ^ b)),
        ];
        for (kind, f) in cases {
            let z = lax::binary(kind, &x, &y).to_literal();
            for i in 0..xv.len() {
                assert_eq!(
                    z.data().get_i128(i),
                    wrap(f(xv[i], yv[i])),
                    "{kind:?} {dtype}: {} op {}",
                    xv[i],
                    yv[i]
                );
            }
        }
        // Shifts: amounts as unsigned; >= width gives 0 or the sign fill.
        let amounts: Vec<f64> = (0..shape[0])
            .map(|i| (i * 3 % (bits as usize + 3)) as f64)
            .collect();
        let s = Array::from_literal(
            oxla::Literal::from_vec(&shape, amounts.clone()).convert(dtype),
            false,
        );
        let shl = lax::shift_left(&x, &s).to_literal();
        let shr = lax::shift_right_logical(&x, &s).to_literal();
        let sar = lax::shift_right_arithmetic(&x, &s).to_literal();
        let m = 1i128 << bits;
        for i in 0..xv.len() {
            let (a, k) = (xv[i], amounts[i] as u32);
            let ua = a.rem_euclid(m);
            let want_shl = if k >= bits { 0 } else { wrap(a << k) };
            let want_shr = if k >= bits { 0 } else { wrap(ua >> k) };
            let sa = if ua >= m / 2 { ua - m } else { ua };
            let want_sar = if k >= bits {
                wrap(if sa < 0 { -1 } else { 0 })
            } else {
                wrap(sa >> k)
            };
            assert_eq!(shl.data().get_i128(i), want_shl, "shl {dtype} {a} {k}");
            assert_eq!(shr.data().get_i128(i), want_shr, "shr {dtype} {a} {k}");
            assert_eq!(sar.data().get_i128(i), want_sar, "sar {dtype} {a} {k}");
        }
    }
}

#[test]
fn comparisons_on_every_dtype() {
    let mut rng = Rng::new(5);
    for dtype in DType::ALL {
        let shape = rng.shape(2, 5);
        let x = random_array(&mut rng, dtype, &shape, -3.0, 3.0);
        let y = random_array(&mut rng, dtype, &shape, -3.0, 3.0);
        let (xv, yv) = (x.to_f64_vec(), y.to_f64_vec());
        let fns: [CompareCase; 6] = [
            (lax::eq, |a, b| a == b),
            (lax::ne, |a, b| a != b),
            (lax::lt, |a, b| a < b),
            (lax::le, |a, b| a <= b),
            (lax::gt, |a, b| a > b),
            (lax::ge, |a, b| a >= b),
        ];
        for (f, r) in fns {
            let got = f(&x, &y).to_vec::<bool>();
            let want: Vec<bool> = xv.iter().zip(&yv).map(|(&a, &b)| r(a, b)).collect();
            assert_eq!(got, want, "{dtype}");
        }
    }
}

#[test]
fn select_n_and_clamp() {
    let mut rng = Rng::new(6);
    for dtype in DType::ALL {
        let shape = vec![7];
        let cases: Vec<Array> = (0..3)
            .map(|_| random_array(&mut rng, dtype, &shape, -9.0, 9.0))
            .collect();
        let which = Array::from_vec(&shape, vec![0i32, 1, 2, 2, 1, 0, 1]);
        let got = lax::select_n(&which, &cases).to_f64_vec();
        let vals: Vec<Vec<f64>> = cases.iter().map(|c| c.to_f64_vec()).collect();
        let w = which.to_vec::<i32>();
        let want: Vec<f64> = (0..7).map(|i| vals[w[i] as usize][i]).collect();
        assert_eq!(got, want, "select_n {dtype}");
        let pred = Array::from_vec(&shape, vec![true, false, true, false, false, true, true]);
        let got = lax::select(&pred, &cases[0], &cases[1]).to_f64_vec();
        let p = pred.to_vec::<bool>();
        let want: Vec<f64> = (0..7)
            .map(|i| if p[i] { vals[0][i] } else { vals[1][i] })
            .collect();
        assert_eq!(got, want, "select {dtype}");
        if !dtype.is_bool() {
            let lo = random_array(&mut rng, dtype, &[], -3.0, 0.0);
            let hi = random_array(&mut rng, dtype, &[], 0.0, 3.0);
            let got = lax::clamp(&lo, &cases[0], &hi).to_f64_vec();
            let (l, h) = (lo.to_f64_vec()[0], hi.to_f64_vec()[0]);
            let want: Vec<f64> = vals[0].iter().map(|&v| v.max(l).min(h)).collect();
            assert_eq!(got, want, "clamp {dtype}");
        }
    }
}

#[test]
fn convert_between_every_pair_of_dtypes() {
    let mut rng = Rng::new(7);
    for from in DType::ALL {
        let x = random_array(&mut rng, from, &[6], -100.0, 100.0);
        for to in DType::ALL {
            let y = lax::convert_element_type(&x, to);
            assert_eq!(y.dtype(), to);
            let want = x.to_literal().convert(to);
            assert_eq!(y.to_literal(), want, "{from} -> {to}");
        }
    }
    // Saturation and NaN -> 0 (XLA semantics).
    let f = jaxon::numpy::array(&[300.0f32, -300.0, f32::NAN, 2.7, -2.7]);
    assert_eq!(
        lax::convert_element_type(&f, DType::I8).to_vec::<i8>(),
        vec![127, -128, 0, 2, -2]
    );
    assert_eq!(
        lax::convert_element_type(&f, DType::U8).to_vec::<u8>(),
        vec![255, 0, 0, 2, 0]
    );
}

#[test]
fn bitcast_convert_type_reinterprets_bits() {
    let x = jaxon::numpy::array(&[1.0f32, -2.5, 0.0]);
    let u = lax::bitcast_convert_type(&x, DType::U32);
    assert_eq!(
        u.to_vec::<u32>(),
        vec![1.0f32.to_bits(), (-2.5f32).to_bits(), 0]
    );
    let bytes = lax::bitcast_convert_type(&x, DType::U8);
    assert_eq!(bytes.shape(), &[3, 4]);
    assert_eq!(&bytes.to_vec::<u8>()[..4], &1.0f32.to_le_bytes());
    let back = lax::bitcast_convert_type(&bytes, DType::F32);
    assert_eq!(back.to_vec::<f32>(), x.to_vec::<f32>());
}

#[test]
fn integer_pow_matches_powi() {
    let mut rng = Rng::new(8);
    for dtype in FLOATS {
        let x = random_array(&mut rng, dtype, &[5], 0.5, 2.0);
        for y in [-3, -1, 0, 1, 2, 3, 7] {
            let z = lax::integer_pow(&x, y);
            let want: Vec<f64> = x
                .to_f64_vec()
                .iter()
                .map(|v| round_to(dtype, v.powi(y)))
                .collect();
            assert_close(
                &format!("integer_pow {y} {dtype}"),
                &z.to_f64_vec(),
                &want,
                8.0 * float_tol(dtype),
                0.0,
            );
        }
    }
    let xi = Array::from_vec(&[4], vec![-3i32, -1, 2, 5]);
    assert_eq!(
        lax::integer_pow(&xi, 3).to_vec::<i32>(),
        vec![-27, -1, 8, 125]
    );
}

#[test]
fn reduce_precision_rounds_to_narrower_formats() {
    let mut rng = Rng::new(9);
    let x = random_array(&mut rng, DType::F32, &[50], -1000.0, 1000.0);
    let as_bf16 = lax::reduce_precision(&x, 8, 7);
    let want: Vec<f64> = x
        .to_f64_vec()
        .iter()
        .map(|&v| round_to(DType::BF16, v))
        .collect();
    assert_eq!(as_bf16.to_f64_vec(), want);
    let as_f16 = lax::reduce_precision(&x, 5, 10);
    let want: Vec<f64> = x
        .to_f64_vec()
        .iter()
        .map(|&v| round_to(DType::F16, v))
        .collect();
    assert_eq!(as_f16.to_f64_vec(), want);
}

#[test]
fn nextafter_steps_one_ulp() {
    let x = jaxon::numpy::array(&[1.0f32, 0.0, -1.0]);
    let y = jaxon::numpy::array(&[2.0f32, 1.0, -2.0]);
    let z = lax::nextafter(&x, &y).to_vec::<f32>();
    assert_eq!(
        z,
        vec![
            f32::from_bits(1.0f32.to_bits() + 1),
            f32::from_bits(1),
            f32::from_bits((-1.0f32).to_bits() + 1)
        ]
    );
}

#[test]
fn scalar_operands_broadcast_in_binary_primitives() {
    let x = jaxon::numpy::array(&[1.0f32, 2.0, 3.0]);
    let s = Array::scalar_f64(10.0, DType::F32, false);
    assert_eq!(lax::add(&x, &s).to_vec::<f32>(), vec![11.0, 12.0, 13.0]);
    assert_eq!(lax::sub(&s, &x).to_vec::<f32>(), vec![9.0, 8.0, 7.0]);
}
