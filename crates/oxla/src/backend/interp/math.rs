//! Scalar float math in f64 (the interpreter rounds results to the dtype afterwards),
//! plus the few operations that must work on a dtype's bits.

use crate::hlo::ir::{BinaryOp, UnaryOp};
use std::f64::consts::PI;

/// A float unary op evaluated in f64.
pub fn float_unary(op: UnaryOp, x: f64) -> f64 {
    use UnaryOp::*;
    match op {
        Neg => -x,
        Abs => x.abs(),
        // Sign of NaN is NaN and of ±0 is ±0.
        Sign => {
            if x.is_nan() || x == 0.0 {
                x
            } else {
                x.signum()
            }
        }
        Floor => x.floor(),
        Ceil => x.ceil(),
        RoundNearestAfz => x.round(),
        RoundNearestEven => x.round_ties_even(),
        Exp => x.exp(),
        Exp2 => x.exp2(),
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
        Asinh => x.asinh(),
        Acosh => x.acosh(),
        Atanh => x.atanh(),
        Logistic => 1.0 / (1.0 + (-x).exp()),
        Erf => libm::erf(x),
        Erfc => libm::erfc(x),
        ErfInv => erf_inv(x),
        Lgamma => libm::lgamma(x),
        Digamma => digamma(x),
        IsFinite | Not | PopulationCount => {
            panic!("oxla interp: {} is not a float op", op.name())
        }
    }
}

/// A float binary op evaluated in f64 (all but `NextAfter`, which needs the dtype).
pub fn float_binary(op: BinaryOp, x: f64, y: f64) -> f64 {
    use BinaryOp::*;
    match op {
        Add => x + y,
        Sub => x - y,
        Mul => x * y,
        Div => x / y,
        Rem => x % y,
        Pow => x.powf(y),
        Atan2 => x.atan2(y),
        // NaN propagates; max(-0, +0) = +0 and min(-0, +0) = -0 whatever the order.
        Max | Min if x.is_nan() => x,
        Max | Min if y.is_nan() => y,
        Max if x == y => {
            if x.is_sign_negative() {
                y
            } else {
                x
            }
        }
        Min if x == y => {
            if x.is_sign_negative() {
                x
            } else {
                y
            }
        }
        Max => x.max(y),
        Min => x.min(y),
        _ => panic!("oxla interp: {} is not defined for floats", op.name()),
    }
}

/// C `nextafter` on the raw bits of an IEEE float of `nbits` bits (sign-magnitude).
/// `x`, `y` are the values as f64 (exact), `xb`, `yb` their bits.
pub fn next_after_bits(xb: u64, yb: u64, x: f64, y: f64, nbits: u32) -> u64 {
    if x.is_nan() {
        return xb;
    }
    if y.is_nan() {
        return yb;
    }
    if x == y {
        return yb;
    }
    let sign = 1u64 << (nbits - 1);
    if x == 0.0 {
        // The smallest subnormal, with y's sign.
        return (yb & sign) | 1;
    }
    // Stepping away from zero increments the magnitude bits.
    if (x < y) == (x > 0.0) {
        xb + 1
    } else {
        xb - 1
    }
}

/// XLA's reduce_precision on the bits of a float with `src_m` mantissa and `src_e`
/// exponent bits: round to nearest even into `m` mantissa bits, then overflow to
/// inf and flush values below the reduced format's smallest normal to zero.
/// NaN is handled by the caller.
pub fn reduce_precision_bits(x: u64, src_m: u32, src_e: u32, e: u32, m: u32) -> u64 {
    let nbits = 1 + src_e + src_m;
    let all = if nbits == 64 {
        u64::MAX
    } else {
        (1u64 << nbits) - 1
    };
    let mut x = x;
    if m < src_m {
        let shift = src_m - m;
        let last_bit = 1u64 << shift;
        let bias = (last_bit >> 1) - 1 + ((x & last_bit) >> shift);
        x = x.wrapping_add(bias) & all & !(last_bit - 1);
    }
    if e < src_e {
        let sign = 1u64 << (nbits - 1);
        let exp_mask = ((1u64 << src_e) - 1) << src_m;
        let bias = (1i64 << (src_e - 1)) - 1;
        let reduced_bias = (1i64 << (e - 1)) - 1;
        let max_exp = ((bias + reduced_bias) as u64) << src_m;
        let min_exp = ((bias - reduced_bias) as u64) << src_m;
        let exp = x & exp_mask;
        if exp > max_exp {
            x = (x & sign) | exp_mask;
        } else if exp <= min_exp {
            x &= sign;
        }
    }
    x
}

/// The digamma function ψ(x) = d/dx ln Γ(x); NaN at the poles (non-positive integers).
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return x;
    }
    if x <= 0.0 && x == x.floor() {
        return f64::NAN;
    }
    let mut x = x;
    let mut result = 0.0;
    if x < 0.0 {
        // Reflection: ψ(x) = ψ(1 - x) - π / tan(πx); tan(πx) has period 1 in x, so
        // reduce first to keep the argument small and exact.
        let r = x - x.round();
        result -= PI / (PI * r).tan();
        x = 1.0 - x;
    }
    // Recurrence ψ(x) = ψ(x + 1) - 1/x up to where the asymptotic series converges.
    while x < 10.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    let series = z
        * (1.0 / 12.0
            - z * (1.0 / 120.0
                - z * (1.0 / 252.0
                    - z * (1.0 / 240.0 - z * (1.0 / 132.0 - z * (691.0 / 32760.0 - z / 12.0))))));
    result + x.ln() - 0.5 / x - series
}

/// The inverse error function: Giles' approximation refined by Halley steps on erf
/// (or on erfc for |y| >= 0.5, where 1 - |y| is exact and keeps full accuracy).
pub fn erf_inv(y: f64) -> f64 {
    if y.is_nan() || y.abs() > 1.0 {
        return f64::NAN;
    }
    if y.abs() == 1.0 {
        return y * f64::INFINITY;
    }
    if y == 0.0 {
        return y;
    }
    let a = y.abs();
    let w = -((1.0 - a) * (1.0 + a)).ln();
    let p = if w < 5.0 {
        let w = w - 2.5;
        [
            2.81022636e-08,
            3.43273939e-07,
            -3.5233877e-06,
            -4.39150654e-06,
            0.00021858087,
            -0.00125372503,
            -0.00417768164,
            0.246640727,
            1.50140941,
        ]
        .iter()
        .fold(0.0, |p, c| c + p * w)
    } else {
        let w = w.sqrt() - 3.0;
        [
            -0.000200214257,
            0.000100950558,
            0.00134934322,
            -0.00367342844,
            0.00573950773,
            -0.0076224613,
            0.00943887047,
            1.00167406,
            2.83297682,
        ]
        .iter()
        .fold(0.0, |p, c| c + p * w)
    };
    let mut x = p * a;
    let c = 2.0 / PI.sqrt();
    for _ in 0..3 {
        let d = c * (-x * x).exp();
        let (f, fp) = if a < 0.5 {
            (libm::erf(x) - a, d)
        } else {
            (libm::erfc(x) - (1.0 - a), -d)
        };
        if f == 0.0 || !x.is_finite() {
            break;
        }
        // Halley: f'' = -2x f', so x -= f / (f' + x f).
        x -= f / (fp + x * f);
    }
    x.copysign(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn digamma_values() {
        // Reference values from mpmath.
        let cases = [
            (1.0, -0.5772156649015329),
            (0.5, -1.9635100260214235),
            (2.5, 0.7031566406452432),
            (10.0, 2.251752589066721),
            (100.5, 4.605174352581845),
            (1e-8, -100000000.57721565),
            (-0.5, 0.03648997397857652),
            (-2.7, -1.115347129140687),
        ];
        for (x, want) in cases {
            assert!(
                close(digamma(x), want, 1e-14),
                "digamma({x}) = {} want {want}",
                digamma(x)
            );
        }
        assert!(digamma(0.0).is_nan() && digamma(-3.0).is_nan());
    }

    #[test]
    fn erf_inv_roundtrip() {
        for &y in &[
            1e-300,
            1e-10,
            0.1,
            0.3,
            0.4999,
            0.5,
            0.7,
            0.9,
            0.99,
            0.999999,
            1.0 - 1e-15,
        ] {
            let x = erf_inv(y);
            let back = if y < 0.5 {
                libm::erf(x)
            } else {
                1.0 - libm::erfc(x)
            };
            assert!(close(back, y, 1e-15), "erf(erf_inv({y})) = {back}");
            assert_eq!(erf_inv(-y), -x);
        }
        assert!(close(erf_inv(0.5), 0.4769362762044699, 1e-15));
        assert!(close(erf_inv(0.999), 2.326753765513525, 1e-14));
        assert_eq!(erf_inv(1.0), f64::INFINITY);
        assert!(erf_inv(1.5).is_nan());
    }

    #[test]
    fn reduce_precision_to_bf16() {
        // f32 -> bf16 widths must agree with round-to-nearest-even conversion.
        for &v in &[
            1.0f32,
            1.0 + 1.0 / 256.0,
            1.0 + 3.0 / 256.0,
            3.3,
            -2.7e-20,
            65504.0,
            1e38,
            3.4e38,
        ] {
            let got = f32::from_bits(reduce_precision_bits(v.to_bits() as u64, 23, 8, 8, 7) as u32);
            assert_eq!(got, half::bf16::from_f32(v).to_f32(), "{v}");
        }
        // f32 -> f16 widths: overflow to inf, tiny values flush to zero.
        let rp =
            |v: f32| f32::from_bits(reduce_precision_bits(v.to_bits() as u64, 23, 8, 5, 10) as u32);
        assert_eq!(rp(70000.0), f32::INFINITY);
        assert_eq!(rp(-1e-6), -0.0);
        assert_eq!(rp(1.0 + 1.0 / 4096.0), 1.0);
    }
}
