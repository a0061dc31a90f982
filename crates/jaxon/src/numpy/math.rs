//! Elementwise math with promotion and broadcasting: arithmetic, comparisons,
//! logic, transcendental functions, `where_`, `clip` and friends.

use super::promote::{promote_operands, to_inexact, ArrayLike, Operand};
use crate::array::Array;
use crate::lax;
use crate::prim::elementwise::{BinaryKind, RoundingMethod, UnaryKind};
use oxla::DType;

/// Promotes and broadcasts two operands.
#[track_caller]
fn pair(op: &str, x: impl ArrayLike, y: impl ArrayLike) -> (Array, Array) {
    let mut v = promote_operands(op, vec![x.operand(), y.operand()]);
    let y = v.pop().expect("two operands");
    let x = v.pop().expect("two operands");
    (x, y)
}

#[track_caller]
fn binary(op: &str, kind: BinaryKind, x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair(op, x, y);
    // Like JAX: bool + bool is logical or, bool * bool logical and; unsigned >> is logical.
    let kind = match (kind, x.dtype()) {
        (BinaryKind::Add, DType::Bool) => BinaryKind::Or,
        (BinaryKind::Mul, DType::Bool) => BinaryKind::And,
        (BinaryKind::ShiftRightArithmetic, d) if d.is_unsigned_int() => {
            BinaryKind::ShiftRightLogical
        }
        (k, _) => k,
    };
    lax::binary(kind, &x, &y)
}

/// A scalar `v` broadcast to `like`'s shape and dtype (select needs equal shapes).
#[track_caller]
fn filled(like: &Array, v: f64) -> Array {
    let s = lax::full_like_scalar(like, v);
    if like.ndim() == 0 {
        s
    } else {
        lax::broadcast_in_dim(&s, like.shape(), &[])
    }
}

/// For integer division: the divisor with zeros replaced by one (JAX's remainder and
/// fmod give 0 for a zero integer divisor).
#[track_caller]
fn nonzero_divisor(y: &Array) -> Array {
    lax::select(&lax::eq(y, &filled(y, 0.0)), &filled(y, 1.0), y)
}

macro_rules! np_binary {
    ($($(#[$doc:meta])* $name:ident => $kind:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(x: impl ArrayLike, y: impl ArrayLike) -> Array {
            binary(stringify!($name), $kind, x, y)
        }
    )*};
}

np_binary! {
    /// x + y.
    add => BinaryKind::Add;
    /// x - y.
    subtract => BinaryKind::Sub;
    /// x * y.
    multiply => BinaryKind::Mul;
    /// Elementwise maximum (NaN propagates).
    maximum => BinaryKind::Max;
    /// Elementwise minimum (NaN propagates).
    minimum => BinaryKind::Min;
    /// Bitwise (or logical, for bool) and.
    bitwise_and => BinaryKind::And;
    bitwise_or => BinaryKind::Or;
    bitwise_xor => BinaryKind::Xor;
    left_shift => BinaryKind::ShiftLeft;
    /// Arithmetic shift for signed integers, logical for unsigned (like NumPy).
    right_shift => BinaryKind::ShiftRightArithmetic;
}

/// True division: integers are converted to float first.
#[track_caller]
pub fn divide(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("divide", x, y);
    let (x, y) = if x.dtype().is_float() {
        (x, y)
    } else {
        let weak = x.weak_type() && y.weak_type();
        let f = crate::dtypes::default_float();
        (
            lax::convert_weak(&x, f, weak),
            lax::convert_weak(&y, f, weak),
        )
    };
    lax::div(&x, &y)
}

/// Alias of [`divide`].
#[track_caller]
pub fn true_divide(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    divide(x, y)
}

/// Floor division (rounds toward negative infinity, like Python's `//`).
#[track_caller]
pub fn floor_divide(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("floor_divide", x, y);
    if x.dtype().is_float() {
        let q = lax::div(&lax::sub(&x, &remainder(&x, &y)), &y);
        let q = lax::round(&q, RoundingMethod::ToNearestEven);
        // A zero divisor gives x / y (±inf or NaN), as in JAX.
        return lax::select(&lax::eq(&y, &filled(&y, 0.0)), &lax::div(&x, &y), &q);
    }
    if x.dtype().is_unsigned_int() || x.dtype().is_bool() {
        return lax::div(&x, &y);
    }
    // Truncated quotient, minus one where the signs differ and the division is inexact
    // (signs compared with `sign` like JAX, so a zero divisor gives -1 - 1 for x != 0).
    let q = lax::div(&x, &y);
    let zero = Array::scalar_i128(0, x.dtype(), false);
    let signs_differ = lax::ne(&lax::sign(&x), &lax::sign(&y));
    let inexact = lax::ne(&lax::rem(&x, &y), &zero);
    let fix = lax::bitwise_and(&signs_differ, &inexact);
    let one = Array::scalar_i128(1, x.dtype(), false);
    lax::select(&fix, &lax::sub(&q, &one), &q)
}

/// Remainder with the divisor's sign (Python's `%`).
#[track_caller]
pub fn remainder(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("remainder", x, y);
    let y = if x.dtype().is_float() {
        y
    } else {
        nonzero_divisor(&y)
    };
    let r = lax::rem(&x, &y);
    if x.dtype().is_unsigned_int() || x.dtype().is_bool() {
        return r;
    }
    let zero = Array::scalar_i128(0, x.dtype(), false);
    let zero = if r.ndim() > 0 {
        lax::broadcast_in_dim(&zero, r.shape(), &[])
    } else {
        zero
    };
    let fix = lax::bitwise_and(
        &lax::ne(&r, &zero),
        &lax::ne(&lax::lt(&r, &zero), &lax::lt(&y, &zero)),
    );
    lax::select(&fix, &lax::add(&r, &y), &r)
}

/// Alias of [`remainder`].
#[track_caller]
pub fn mod_(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    remainder(x, y)
}

/// Remainder with the dividend's sign (C `fmod`).
#[track_caller]
pub fn fmod(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("fmod", x, y);
    if x.dtype().is_float() {
        lax::rem(&x, &y)
    } else {
        lax::rem(&x, &nonzero_divisor(&y))
    }
}

/// x ** y. An integer Rust scalar exponent on a float array uses `integer_pow`.
#[track_caller]
pub fn power(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (xo, yo) = (x.operand(), y.operand());
    if let (Operand::Array(a), Operand::Int(n)) = (&xo, &yo) {
        if let Ok(n) = i32::try_from(*n) {
            if a.dtype().is_float() || n >= 0 {
                return lax::integer_pow(a, n);
            }
        }
    }
    binary("power", BinaryKind::Pow, xo, yo)
}

/// Alias of [`power`].
#[track_caller]
pub fn pow(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    power(x, y)
}

/// Elementwise arctangent of x/y using the signs of both.
#[track_caller]
pub fn arctan2(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("arctan2", to_inexact(x.operand()), to_inexact(y.operand()));
    lax::atan2(&x, &y)
}

/// sqrt(x² + y²) without undue overflow.
#[track_caller]
pub fn hypot(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("hypot", to_inexact(x.operand()), to_inexact(y.operand()));
    let (ax, ay) = (lax::abs(&x), lax::abs(&y));
    let hi = lax::max(&ax, &ay);
    let lo = lax::min(&ax, &ay);
    let zero = filled(&hi, 0.0);
    let safe_hi = lax::select(&lax::eq(&hi, &zero), &filled(&hi, 1.0), &hi);
    let r = lax::div(&lo, &safe_hi);
    let out = lax::mul(
        &hi,
        &lax::sqrt(&lax::add(
            &lax::full_like_scalar(&r, 1.0),
            &lax::mul(&r, &r),
        )),
    );
    // Infinity wins over NaN, as in C hypot.
    let inf = filled(&out, f64::INFINITY);
    lax::select(&lax::eq(&hi, &inf), &inf, &out)
}

/// log(exp(x) + exp(y)), stable.
#[track_caller]
pub fn logaddexp(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair(
        "logaddexp",
        to_inexact(x.operand()),
        to_inexact(y.operand()),
    );
    let amax = lax::max(&x, &y);
    let delta = lax::sub(&x, &y);
    let is_nan = lax::ne(&delta, &delta);
    let soft = lax::add(&amax, &lax::log1p(&lax::exp(&lax::neg(&lax::abs(&delta)))));
    // Equal infinities give delta = NaN; the answer is then amax (unless x or y is NaN).
    let x_or_y_nan = lax::bitwise_or(&lax::ne(&x, &x), &lax::ne(&y, &y));
    let nan_delta_result = lax::select(&x_or_y_nan, &lax::add(&x, &y), &amax);
    lax::select(&is_nan, &nan_delta_result, &soft)
}

/// nextafter toward y, in the promoted float dtype.
#[track_caller]
pub fn nextafter(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair(
        "nextafter",
        to_inexact(x.operand()),
        to_inexact(y.operand()),
    );
    lax::nextafter(&x, &y)
}

// ---- comparisons and logic --------------------------------------------------------

macro_rules! np_compare {
    ($($(#[$doc:meta])* $name:ident => $lax:ident;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(x: impl ArrayLike, y: impl ArrayLike) -> Array {
            let (x, y) = pair(stringify!($name), x, y);
            lax::$lax(&x, &y)
        }
    )*};
}

np_compare! {
    equal => eq;
    not_equal => ne;
    less => lt;
    less_equal => le;
    greater => gt;
    greater_equal => ge;
}

#[track_caller]
fn as_bool(x: Operand) -> Array {
    let a = x.into_array();
    if a.dtype() == DType::Bool {
        a
    } else {
        lax::ne(&a, &Array::scalar_i128(0, a.dtype(), false))
    }
}

/// Logical and of truth values.
#[track_caller]
pub fn logical_and(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("logical_and", as_bool(x.operand()), as_bool(y.operand()));
    lax::bitwise_and(&x, &y)
}

/// Logical or of truth values.
#[track_caller]
pub fn logical_or(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("logical_or", as_bool(x.operand()), as_bool(y.operand()));
    lax::bitwise_or(&x, &y)
}

/// Logical xor of truth values.
#[track_caller]
pub fn logical_xor(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("logical_xor", as_bool(x.operand()), as_bool(y.operand()));
    lax::bitwise_xor(&x, &y)
}

/// Logical not of truth values.
#[track_caller]
pub fn logical_not(x: impl ArrayLike) -> Array {
    lax::not(&as_bool(x.operand()))
}

/// Bitwise not (logical for bool).
#[track_caller]
pub fn invert(x: impl ArrayLike) -> Array {
    lax::not(&x.to_array())
}

/// Alias of [`invert`].
#[track_caller]
pub fn bitwise_not(x: impl ArrayLike) -> Array {
    invert(x)
}

/// `x` where `condition` else `y`, broadcasting all three.
#[track_caller]
pub fn where_(condition: impl ArrayLike, x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let c = as_bool(condition.operand());
    let (xo, yo) = (x.operand(), y.operand());
    let shape = super::promote::broadcast_shapes("where", &[c.shape(), xo.shape(), yo.shape()]);
    let mut v = promote_operands("where", vec![xo, yo]);
    let y = v.pop().expect("two operands");
    let x = v.pop().expect("two operands");
    let b = |a: &Array| super::promote::broadcast_to_shape(a, &shape);
    lax::select(&b(&c), &b(&x), &b(&y))
}

/// Clips into `[a_min, a_max]`.
#[track_caller]
pub fn clip(x: impl ArrayLike, a_min: impl ArrayLike, a_max: impl ArrayLike) -> Array {
    let x = x.to_array();
    let lo = maximum(&x, a_min);
    minimum(&lo, a_max)
}

// ---- unary ------------------------------------------------------------------------

macro_rules! np_unary_float {
    ($($(#[$doc:meta])* $name:ident => $kind:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(x: impl ArrayLike) -> Array {
            lax::unary($kind, &to_inexact(x.operand()))
        }
    )*};
}

np_unary_float! {
    exp => UnaryKind::Exp;
    exp2 => UnaryKind::Exp2;
    expm1 => UnaryKind::Expm1;
    log => UnaryKind::Log;
    log1p => UnaryKind::Log1p;
    sqrt => UnaryKind::Sqrt;
    cbrt => UnaryKind::Cbrt;
    sin => UnaryKind::Sin;
    cos => UnaryKind::Cos;
    tan => UnaryKind::Tan;
    arcsin => UnaryKind::Asin;
    arccos => UnaryKind::Acos;
    arctan => UnaryKind::Atan;
    sinh => UnaryKind::Sinh;
    cosh => UnaryKind::Cosh;
    tanh => UnaryKind::Tanh;
    arcsinh => UnaryKind::Asinh;
    arccosh => UnaryKind::Acosh;
    arctanh => UnaryKind::Atanh;
}

/// log base 2.
#[track_caller]
pub fn log2(x: impl ArrayLike) -> Array {
    let x = to_inexact(x.operand());
    lax::div(
        &lax::log(&x),
        &lax::full_like_scalar(&x, std::f64::consts::LN_2),
    )
}

/// log base 10.
#[track_caller]
pub fn log10(x: impl ArrayLike) -> Array {
    let x = to_inexact(x.operand());
    lax::div(
        &lax::log(&x),
        &lax::full_like_scalar(&x, std::f64::consts::LN_10),
    )
}

/// -x.
#[track_caller]
pub fn negative(x: impl ArrayLike) -> Array {
    lax::neg(&x.to_array())
}

/// |x|.
#[track_caller]
pub fn abs(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    if x.dtype().is_bool() {
        return x;
    }
    lax::abs(&x)
}

/// Alias of [`abs`].
#[track_caller]
pub fn absolute(x: impl ArrayLike) -> Array {
    abs(x)
}

/// -1, 0 or 1.
#[track_caller]
pub fn sign(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    if x.dtype().is_unsigned_int() {
        let zero = Array::scalar_i128(0, x.dtype(), false);
        return lax::convert_element_type(&lax::ne(&x, &zero), x.dtype());
    }
    lax::sign(&x)
}

/// x * x.
#[track_caller]
pub fn square(x: impl ArrayLike) -> Array {
    lax::integer_pow(&x.to_array(), 2)
}

/// 1 / x (integers are promoted to float, like jnp.reciprocal).
#[track_caller]
pub fn reciprocal(x: impl ArrayLike) -> Array {
    let x = to_inexact(x.operand());
    lax::integer_pow(&x, -1)
}

#[track_caller]
fn rounding(x: Operand, f: impl Fn(&Array) -> Array) -> Array {
    let x = x.into_array();
    if x.dtype().is_float() {
        f(&x)
    } else {
        x
    }
}

/// Largest integer <= x.
#[track_caller]
pub fn floor(x: impl ArrayLike) -> Array {
    rounding(x.operand(), lax::floor)
}

/// Smallest integer >= x.
#[track_caller]
pub fn ceil(x: impl ArrayLike) -> Array {
    rounding(x.operand(), lax::ceil)
}

/// Rounds toward zero.
#[track_caller]
pub fn trunc(x: impl ArrayLike) -> Array {
    rounding(x.operand(), |x| {
        let zero = lax::full_like_scalar(x, 0.0);
        lax::select(&lax::lt(x, &zero), &lax::ceil(x), &lax::floor(x))
    })
}

/// Rounds half to even.
#[track_caller]
pub fn rint(x: impl ArrayLike) -> Array {
    rounding(x.operand(), |x| {
        lax::round(x, RoundingMethod::ToNearestEven)
    })
}

/// Rounds half to even at `decimals` decimal places (like jnp.round).
#[track_caller]
pub fn round(x: impl ArrayLike, decimals: i32) -> Array {
    let x = x.operand();
    if decimals < 0 && !x.ptype().dtype.is_float() {
        crate::error::user_error(format!(
            "round: decimals={decimals} < 0 is not supported for integer dtype {}",
            x.ptype().dtype
        ));
    }
    rounding(x, |x| {
        if decimals == 0 {
            return lax::round(x, RoundingMethod::ToNearestEven);
        }
        let factor = lax::full_like_scalar(x, 10f64.powi(decimals));
        let scaled = lax::round(&lax::mul(x, &factor), RoundingMethod::ToNearestEven);
        // Multiply by the reciprocal rather than divide: XLA rewrites the division by a
        // constant this way, so this rounds exactly like JAX.
        lax::mul(&scaled, &lax::full_like_scalar(x, 10f64.powi(-decimals)))
    })
}

/// sin(πx)/(πx), 1 at 0.
#[track_caller]
pub fn sinc(x: impl ArrayLike) -> Array {
    let x = to_inexact(x.operand());
    let pix = lax::mul(&x, &lax::full_like_scalar(&x, std::f64::consts::PI));
    let zero = filled(&x, 0.0);
    let is_zero = lax::eq(&x, &zero);
    let safe = lax::select(&is_zero, &filled(&x, 1.0), &pix);
    let v = lax::div(&lax::sin(&safe), &safe);
    lax::select(&is_zero, &filled(&x, 1.0), &v)
}

/// Degrees to radians.
#[track_caller]
pub fn deg2rad(x: impl ArrayLike) -> Array {
    let x = to_inexact(x.operand());
    lax::mul(&x, &lax::full_like_scalar(&x, std::f64::consts::PI / 180.0))
}

/// Radians to degrees.
#[track_caller]
pub fn rad2deg(x: impl ArrayLike) -> Array {
    let x = to_inexact(x.operand());
    lax::mul(&x, &lax::full_like_scalar(&x, 180.0 / std::f64::consts::PI))
}

/// Alias of [`deg2rad`].
#[track_caller]
pub fn radians(x: impl ArrayLike) -> Array {
    deg2rad(x)
}

/// Alias of [`rad2deg`].
#[track_caller]
pub fn degrees(x: impl ArrayLike) -> Array {
    rad2deg(x)
}

/// True where x is finite.
#[track_caller]
pub fn isfinite(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    if !x.dtype().is_float() {
        return super::creation::full(x.shape(), true, Some(DType::Bool));
    }
    lax::is_finite(&x)
}

/// True where x is NaN.
#[track_caller]
pub fn isnan(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    lax::ne(&x, &x)
}

/// True where x is ±infinity.
#[track_caller]
pub fn isinf(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    if !x.dtype().is_float() {
        return super::creation::full(x.shape(), false, Some(DType::Bool));
    }
    let inf = lax::full_like_scalar(&x, f64::INFINITY);
    lax::eq(&lax::abs(&x), &inf)
}

/// `x` converted to `dtype`.
#[track_caller]
pub fn astype(x: impl ArrayLike, dtype: DType) -> Array {
    lax::convert_element_type(&x.to_array(), dtype)
}

// ---- more elementwise functions (jax.numpy ufuncs built from the ones above) -------

/// `(floor_divide(x, y), remainder(x, y))`, like Python's `divmod`.
///
/// ```
/// use jaxon::numpy as jnp;
/// let (q, r) = jnp::divmod(&jnp::array(&[7i32, -7]), 2);
/// assert_eq!(q.to_vec::<i32>(), vec![3, -4]);
/// assert_eq!(r.to_vec::<i32>(), vec![1, 1]);
/// ```
#[track_caller]
pub fn divmod(x: impl ArrayLike, y: impl ArrayLike) -> (Array, Array) {
    let (x, y) = pair("divmod", x, y);
    (floor_divide(&x, &y), remainder(&x, &y))
}

/// True where the sign bit is set (so `-0.0` and negative NaNs count as negative).
#[track_caller]
pub fn signbit(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    let d = x.dtype();
    if d.is_bool() || d.is_unsigned_int() {
        return super::creation::full(x.shape(), false, Some(DType::Bool));
    }
    if d.is_int() {
        return lax::lt(&x, &filled(&x, 0.0));
    }
    // Reinterpret the float as a signed integer of the same width: the sign bit is its sign.
    let int = match d.bits() {
        16 => DType::I16,
        32 => DType::I32,
        _ => DType::I64,
    };
    let bits = lax::bitcast_convert_type(&x, int);
    lax::lt(&bits, &filled(&bits, 0.0))
}

/// `+x`: the value itself (after the usual array conversion).
#[track_caller]
pub fn positive(x: impl ArrayLike) -> Array {
    x.to_array()
}

/// |x| in floating point (integers are converted to float first).
#[track_caller]
pub fn fabs(x: impl ArrayLike) -> Array {
    lax::abs(&to_inexact(x.operand()))
}

/// log2(2^x + 2^y), stable.
#[track_caller]
pub fn logaddexp2(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair(
        "logaddexp2",
        to_inexact(x.operand()),
        to_inexact(y.operand()),
    );
    let amax = lax::max(&x, &y);
    let delta = lax::sub(&x, &y);
    let ln2 = lax::full_like_scalar(&x, std::f64::consts::LN_2);
    let soft = lax::add(
        &amax,
        &lax::div(&lax::log1p(&lax::exp2(&lax::neg(&lax::abs(&delta)))), &ln2),
    );
    // NaN delta: a NaN input, or equal infinities (then x + y is that infinity).
    lax::select(&lax::ne(&delta, &delta), &lax::add(&x, &y), &soft)
}

/// Elementwise maximum that ignores NaN (NaN only where both are NaN).
#[track_caller]
pub fn fmax(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("fmax", x, y);
    // Like JAX: x where x > y or y is NaN, else y (so fmax(-0.0, 0.0) is 0.0).
    let pick_x = lax::bitwise_or(&lax::gt(&x, &y), &isnan(&y));
    where_(pick_x, &x, &y)
}

/// Elementwise minimum that ignores NaN (NaN only where both are NaN).
#[track_caller]
pub fn fmin(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("fmin", x, y);
    // Like JAX: x where x < y or y is NaN, else y (so fmin(-0.0, 0.0) is 0.0).
    let pick_x = lax::bitwise_or(&lax::lt(&x, &y), &isnan(&y));
    where_(pick_x, &x, &y)
}

/// |x| with the sign bit of y (float result).
#[track_caller]
pub fn copysign(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair("copysign", to_inexact(x.operand()), to_inexact(y.operand()));
    let ax = lax::abs(&x);
    where_(signbit(&y), lax::neg(&ax), ax)
}

/// x ** y computed in floating point (integers are converted to float first).
#[track_caller]
pub fn float_power(x: impl ArrayLike, y: impl ArrayLike) -> Array {
    let (x, y) = pair(
        "float_power",
        to_inexact(x.operand()),
        to_inexact(y.operand()),
    );
    lax::pow(&x, &y)
}

/// 0 where x < 0, 1 where x > 0, and `h0` elsewhere (x == 0, and NaN x as in JAX).
#[track_caller]
pub fn heaviside(x: impl ArrayLike, h0: impl ArrayLike) -> Array {
    let (x, h0) = pair(
        "heaviside",
        to_inexact(x.operand()),
        to_inexact(h0.operand()),
    );
    let zero = lax::full_like_scalar(&x, 0.0);
    let one = lax::full_like_scalar(&x, 1.0);
    let inner = where_(lax::gt(&x, &zero), one, h0);
    where_(lax::lt(&x, &zero), zero, inner)
}

/// True where `|a - b| <= atol + rtol * |b|` (with infinities equal only to themselves;
/// NaNs equal each other only with `equal_nan`). Integers compare exactly.
///
/// ```
/// use jaxon::numpy as jnp;
/// let c = jnp::isclose(&jnp::array(&[1.0f32, 2.0]), &jnp::array(&[1.000001f32, 2.1]), 1e-5, 1e-8, false);
/// assert_eq!(c.to_vec::<bool>(), vec![true, false]);
/// ```
#[track_caller]
pub fn isclose(
    a: impl ArrayLike,
    b: impl ArrayLike,
    rtol: f64,
    atol: f64,
    equal_nan: bool,
) -> Array {
    let (a, b) = pair("isclose", a, b);
    if !a.dtype().is_float() {
        return lax::eq(&a, &b);
    }
    // The tolerances are rounded to the operands' dtype first, as in JAX.
    let (rtol, atol) = (
        lax::full_like_scalar(&a, rtol),
        lax::full_like_scalar(&a, atol),
    );
    let bound = lax::add(&atol, &lax::mul(&rtol, &lax::abs(&b)));
    let out = lax::le(&lax::abs(&lax::sub(&a, &b)), &bound);
    let (a_inf, b_inf) = (isinf(&a), isinf(&b));
    let out = lax::bitwise_and(&out, &lax::not(&lax::bitwise_or(&a_inf, &b_inf)));
    let same_inf = lax::bitwise_and(&lax::bitwise_and(&a_inf, &b_inf), &lax::eq(&a, &b));
    let out = lax::bitwise_or(&out, &same_inf);
    let (a_nan, b_nan) = (isnan(&a), isnan(&b));
    let out = lax::bitwise_and(&out, &lax::not(&lax::bitwise_or(&a_nan, &b_nan)));
    if equal_nan {
        lax::bitwise_or(&out, &lax::bitwise_and(&a_nan, &b_nan))
    } else {
        out
    }
}

/// True (a 0-d bool array) when [`isclose`] holds everywhere.
#[track_caller]
pub fn allclose(
    a: impl ArrayLike,
    b: impl ArrayLike,
    rtol: f64,
    atol: f64,
    equal_nan: bool,
) -> Array {
    super::reductions::all(isclose(a, b, rtol, atol, equal_nan), None, false)
}

/// Clips with optional bounds: `maximum(a_min, x)` if given, then `minimum(a_max, ·)`
/// (like `jnp.clip(x, min, max)` with `None` bounds).
///
/// ```
/// use jaxon::numpy as jnp;
/// let c = jnp::clip_opt(&jnp::array(&[-2.0f32, 0.5, 3.0]), Some(0.0), None::<f64>);
/// assert_eq!(c.to_vec::<f32>(), vec![0.0, 0.5, 3.0]);
/// ```
#[track_caller]
pub fn clip_opt(
    x: impl ArrayLike,
    a_min: Option<impl ArrayLike>,
    a_max: Option<impl ArrayLike>,
) -> Array {
    let mut out = x.operand();
    if let Some(lo) = a_min {
        out = Operand::Array(maximum(lo, out));
    }
    if let Some(hi) = a_max {
        out = Operand::Array(minimum(hi, out));
    }
    out.into_array()
}

/// Largest finite value of a float dtype.
fn float_max(d: DType) -> f64 {
    let (mant, exp) = d.float_bits().expect("float dtype");
    let max_exp = (1i32 << (exp - 1)) - 1;
    (2.0 - 2f64.powi(-(mant as i32))) * 2f64.powi(max_exp)
}

/// Replaces NaN with `nan`, +inf with `posinf` and -inf with `neginf` (defaults: the
/// dtype's largest and most negative finite values). Non-float input is unchanged.
#[track_caller]
pub fn nan_to_num(x: impl ArrayLike, nan: f64, posinf: Option<f64>, neginf: Option<f64>) -> Array {
    let x = x.to_array();
    let d = x.dtype();
    if !d.is_float() {
        return x;
    }
    let big = float_max(d);
    let c = |v: f64| filled(&x, v);
    let out = lax::select(&isnan(&x), &c(nan), &x);
    let out = lax::select(
        &lax::eq(&out, &c(f64::INFINITY)),
        &c(posinf.unwrap_or(big)),
        &out,
    );
    lax::select(
        &lax::eq(&out, &c(f64::NEG_INFINITY)),
        &c(neginf.unwrap_or(-big)),
        &out,
    )
}
