//! Samplers on top of `random_bits`, with JAX's algorithms (jax/_src/random.py), so
//! the same key gives the same numbers as JAX.

use super::{int_const, key_words, random_bits, split2, uint_dtype};
use crate::array::Array;
use crate::error::user_error;
use crate::lax;
use crate::numpy::{self as jnp, broadcast_to_shape, try_broadcast_shapes, ArrayLike, Operand};
use oxla::DType;

// ---- helpers ------------------------------------------------------------------------

pub(super) fn fconst(v: f64, dtype: DType) -> Array {
    Array::scalar_f64(v, dtype, false)
}

/// (total bits, mantissa bits) of a float dtype; panics naming `op` otherwise.
#[track_caller]
pub(super) fn float_layout(op: &str, dtype: DType) -> (u32, u32) {
    match dtype.float_bits() {
        Some((nmant, _)) => (dtype.bits(), nmant),
        None => user_error(format!(
            "random.{op}: dtype must be a float dtype (f16, bf16, f32, f64), got {dtype}"
        )),
    }
}

/// Smallest positive normal number of a float dtype (`finfo.tiny`).
pub(super) fn tiny(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 2f64.powi(-14),
        DType::F64 => f64::MIN_POSITIVE,
        // f32 and bf16 share the exponent range.
        _ => f32::MIN_POSITIVE as f64,
    }
}

/// `x` converted to `dtype` and broadcast to `shape`; panics naming `op` and `what`
/// when `x`'s shape does not broadcast to `shape`.
#[track_caller]
pub(super) fn to_shape(op: &str, what: &str, x: Operand, dtype: DType, shape: &[usize]) -> Array {
    let a = x.materialize(dtype, false);
    match try_broadcast_shapes(&[a.shape(), shape]) {
        Some(s) if s == shape => broadcast_to_shape(&a, shape),
        _ => user_error(format!(
            "random.{op}: {what} of shape {:?} does not broadcast to the sample shape {shape:?}",
            a.shape()
        )),
    }
}

/// An integer-valued operand as an integer array (floats truncate to int32, like
/// `astype(int)`).
#[track_caller]
fn int_operand(x: Operand) -> Array {
    // A Rust integer is int32 when it fits, else int64 (JAX: int32, or int64 with x64).
    if let Operand::Int(v) = x {
        let dt = if i32::try_from(v).is_ok() {
            DType::I32
        } else {
            DType::I64
        };
        return int_const(v, dt);
    }
    let a = x.into_array();
    if a.dtype().is_float() || a.dtype().is_bool() {
        lax::convert_element_type(&a, DType::I32)
    } else {
        a
    }
}

// ---- uniform and friends --------------------------------------------------------------

/// Uniform floats in `[minval, maxval)` (`minval`/`maxval` broadcast to `shape`), with
/// JAX's mantissa trick: random mantissa bits under the exponent of 1.0, minus 1.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::random;
/// let u = random::uniform(&random::key(0), &[4], DType::F32, -1.0, 1.0);
/// assert!(u.to_vec::<f32>().iter().all(|&v| (-1.0..1.0).contains(&v)));
/// ```
#[track_caller]
pub fn uniform(
    key: &Array,
    shape: &[usize],
    dtype: DType,
    minval: impl ArrayLike,
    maxval: impl ArrayLike,
) -> Array {
    float_layout("uniform", dtype);
    let lo = to_shape("uniform", "minval", minval.operand(), dtype, shape);
    let hi = to_shape("uniform", "maxval", maxval.operand(), dtype, shape);
    uniform_impl("uniform", key, shape, dtype, &lo, &hi)
}

/// Uniform in `[lo, hi)` with `lo`, `hi` already of `dtype` and `shape`.
#[track_caller]
fn uniform_impl(
    op: &str,
    key: &Array,
    shape: &[usize],
    dtype: DType,
    lo: &Array,
    hi: &Array,
) -> Array {
    let (nbits, nmant) = float_layout(op, dtype);
    let (k0, k1) = key_words(op, key);
    let rng_bits = if nmant < 8 { 8 } else { nbits };
    let udt = uint_dtype(nbits);
    let mut bits = random_bits(&k0, &k1, rng_bits, shape);
    if rng_bits != nbits {
        bits = lax::convert_element_type(&bits, udt);
    }
    let one_bits = lax::bitcast_convert_type(&fconst(1.0, dtype), udt);
    let fbits = lax::bitwise_or(
        &lax::shift_right_logical(&bits, &int_const((rng_bits - nmant) as i128, udt)),
        &one_bits,
    );
    let floats = lax::sub(
        &lax::bitcast_convert_type(&fbits, dtype),
        &fconst(1.0, dtype),
    );
    let scaled = fma(&floats, &lax::sub(hi, lo), lo);
    lax::max(lo, &scaled)
}

/// `a * b + c` rounded once, as XLA's CPU and GPU backends compute it (LLVM contracts
/// the multiply-add of JAX's formulas into an FMA). Below f64 this is exact through
/// f64: the product of two floats of at most 24 bits is exact there. f64 rounds twice.
pub(super) fn fma(a: &Array, b: &Array, c: &Array) -> Array {
    let dt = a.dtype();
    if dt == DType::F64 {
        return lax::add(&lax::mul(a, b), c);
    }
    let up = |x: &Array| lax::convert_element_type(x, DType::F64);
    let r = lax::add(&lax::mul(&up(a), &up(b)), &up(c));
    lax::convert_element_type(&r, dt)
}

/// XLA's `erf_inv` for f32 (M. Giles' single-precision approximation, Horner steps as
/// FMAs), so normal samples match JAX's to the rounding of `log1p`. Other dtypes use
/// `lax::erf_inv`; f16/bf16 compute in f32 like XLA.
fn erf_inv(x: &Array) -> Array {
    match x.dtype() {
        DType::F32 => erf_inv_f32_differentiable(x),
        DType::F16 | DType::BF16 => {
            let y = erf_inv_f32_differentiable(&lax::convert_element_type(x, DType::F32));
            lax::convert_element_type(&y, x.dtype())
        }
        _ => lax::erf_inv(x),
    }
}

/// [`erf_inv_f32`] with `erf_inv`'s derivative, √π/2 · exp(erf_inv(x)²), instead of
/// the derivative of the polynomial (whose unselected branch would give NaN).
fn erf_inv_f32_differentiable(x: &Array) -> Array {
    let f = crate::custom_jvp(
        |x: Array| erf_inv_f32(&x),
        |x: Array, t: Array| {
            let y = erf_inv_f32(&x);
            let slope = lax::mul(
                &fconst(std::f64::consts::PI.sqrt() / 2.0, DType::F32),
                &lax::exp(&lax::mul(&y, &y)),
            );
            (y, lax::mul(&t, &slope))
        },
    );
    f(x.clone())
}

fn erf_inv_f32(x: &Array) -> Array {
    const SMALL: [f64; 9] = [
        2.81022636e-08,
        3.43273939e-07,
        -3.5233877e-06,
        -4.39150654e-06,
        0.00021858087,
        -0.00125372503,
        -0.00417768164,
        0.246640727,
        1.50140941,
    ];
    const LARGE: [f64; 9] = [
        -0.000200214257,
        0.000100950558,
        0.00134934322,
        -0.00367342844,
        0.00573950773,
        -0.0076224613,
        0.00943887047,
        1.00167406,
        2.83297682,
    ];
    let dt = DType::F32;
    let shape = x.shape().to_vec();
    let full = |v: f64| broadcast_to_shape(&fconst(v, dt), &shape);
    let w = lax::neg(&lax::log1p(&lax::mul(&lax::neg(x), x)));
    let lt = lax::lt(&w, &full(5.0));
    let w = lax::select(
        &lt,
        &lax::sub(&w, &full(2.5)),
        &lax::sub(&lax::sqrt(&w), &full(3.0)),
    );
    let coef = |i: usize| lax::select(&lt, &full(SMALL[i]), &full(LARGE[i]));
    let mut p = coef(0);
    for i in 1..9 {
        p = fma(&p, &w, &coef(i));
    }
    let result = lax::mul(&p, x);
    let edge = lax::eq(&lax::abs(x), &full(1.0));
    lax::select(&edge, &lax::mul(x, &full(f64::INFINITY)), &result)
}

/// Uniform with scalar bounds.
#[track_caller]
pub(super) fn uniform_scalar(
    op: &str,
    key: &Array,
    shape: &[usize],
    dtype: DType,
    lo: f64,
    hi: f64,
) -> Array {
    let lo = broadcast_to_shape(&fconst(lo, dtype), shape);
    let hi = broadcast_to_shape(&fconst(hi, dtype), shape);
    uniform_impl(op, key, shape, dtype, &lo, &hi)
}

/// Standard normal samples: `sqrt(2) * erf_inv(u)` with `u` uniform in
/// `(nextafter(-1, 0), 1)` (JAX's inverse-CDF method).
#[track_caller]
pub fn normal(key: &Array, shape: &[usize], dtype: DType) -> Array {
    normal_impl("normal", key, shape, dtype)
}

#[track_caller]
pub(super) fn normal_impl(op: &str, key: &Array, shape: &[usize], dtype: DType) -> Array {
    let (_, nmant) = float_layout(op, dtype);
    // nextafter(-1, 0): the float just above -1.
    let lo = -(1.0 - 2f64.powi(-(nmant as i32) - 1));
    let u = uniform_scalar(op, key, shape, dtype, lo, 1.0);
    lax::mul(&fconst(std::f64::consts::SQRT_2, dtype), &erf_inv(&u))
}

/// Normal samples truncated to the open interval `(lower, upper)` (bounds broadcast to
/// `shape`), by inverting the CDF between `erf(lower/√2)` and `erf(upper/√2)`.
#[track_caller]
pub fn truncated_normal(
    key: &Array,
    lower: impl ArrayLike,
    upper: impl ArrayLike,
    shape: &[usize],
    dtype: DType,
) -> Array {
    float_layout("truncated_normal", dtype);
    let lower = to_shape("truncated_normal", "lower", lower.operand(), dtype, shape);
    let upper = to_shape("truncated_normal", "upper", upper.operand(), dtype, shape);
    let sqrt2 = fconst(std::f64::consts::SQRT_2, dtype);
    let a = lax::erf(&lax::div(&lower, &sqrt2));
    let b = lax::erf(&lax::div(&upper, &sqrt2));
    let u = uniform_impl("truncated_normal", key, shape, dtype, &a, &b);
    let out = lax::mul(&sqrt2, &erf_inv(&u));
    let inf = broadcast_to_shape(&fconst(f64::INFINITY, dtype), shape);
    let ninf = broadcast_to_shape(&fconst(f64::NEG_INFINITY, dtype), shape);
    let lo = lax::nextafter(&lax::stop_gradient(&lower), &inf);
    let hi = lax::nextafter(&lax::stop_gradient(&upper), &ninf);
    // jnp.clip: min(max(x, lo), hi).
    lax::min(&lax::max(&out, &lo), &hi)
}

/// How many random bits a sampler spends per sample (JAX's `mode` argument of
/// `bernoulli`, `gumbel` and `categorical`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One uniform per sample (JAX's default): probabilities below ~1e-7 (f32) are
    /// resolved poorly.
    #[default]
    Low,
    /// Two uniforms per sample, about twice the cost: resolves probabilities down to
    /// ~1e-14 (f32).
    High,
    /// `gumbel` in f32 only: 64 random bits converted to a float with the full
    /// dynamic range (other dtypes use `High`).
    Highest,
}

/// Bernoulli samples (bool) with mean `p` (a float; Rust floats are f32), broadcast to
/// `shape`: `uniform(key, shape, dtype(p)) < p`.
#[track_caller]
pub fn bernoulli(key: &Array, p: impl ArrayLike, shape: &[usize]) -> Array {
    bernoulli_mode(key, p, shape, Mode::Low)
}

/// [`bernoulli`] with JAX's `mode`: `High` draws two uniforms `u1, u2` and tests
/// `u2 * 2^-nmant < p - u1`, resolving small probabilities.
///
/// ```
/// use jaxon::random::{self, Mode};
/// let b = random::bernoulli_mode(&random::key(0), 1e-3f32, &[1000], Mode::High);
/// assert!(b.to_vec::<bool>().iter().filter(|&&x| x).count() < 10);
/// ```
#[track_caller]
pub fn bernoulli_mode(key: &Array, p: impl ArrayLike, shape: &[usize], mode: Mode) -> Array {
    let p = p.operand();
    let dtype = p.ptype().dtype;
    if !dtype.is_float() {
        user_error(format!(
            "random.bernoulli: the probability p must have a float dtype, got {dtype}"
        ));
    }
    let p = to_shape("bernoulli", "p", p, dtype, shape);
    match mode {
        Mode::Low => {
            let u = uniform_scalar("bernoulli", key, shape, dtype, 0.0, 1.0);
            lax::lt(&u, &p)
        }
        Mode::High => {
            let (_, nmant) = float_layout("bernoulli", dtype);
            let (u1, u2) = two_uniforms("bernoulli", key, shape, dtype, 0.0);
            let u2 = lax::mul(&u2, &fconst(2f64.powi(-(nmant as i32)), dtype));
            lax::lt(&u2, &lax::sub(&p, &u1))
        }
        Mode::Highest => user_error(
            "random.bernoulli: mode must be Low or High (JAX accepts 'low' and 'high'), got Highest"
                .to_string(),
        ),
    }
}

/// Two independent uniform draws in `[lo, 1)` of `shape`: the halves of one draw of
/// shape `[2, shape...]`, as JAX splits `uniform(key, (2, *shape))`.
#[track_caller]
fn two_uniforms(op: &str, key: &Array, shape: &[usize], dtype: DType, lo: f64) -> (Array, Array) {
    let both: Vec<usize> = std::iter::once(2).chain(shape.iter().copied()).collect();
    let u = uniform_scalar(op, key, &both, dtype, lo, 1.0);
    let half = |i: usize| lax::squeeze(&lax::slice_in_dim(&u, i, i + 1, 1, 0), &[0]);
    (half(0), half(1))
}

/// Samples of the standard Gumbel distribution: `-log(-log(u))`, `u` uniform in
/// `[tiny, 1)` (JAX's default "low" mode).
#[track_caller]
pub fn gumbel(key: &Array, shape: &[usize], dtype: DType) -> Array {
    gumbel_mode(key, shape, dtype, Mode::Low)
}

/// [`gumbel`] with JAX's `mode`: `High` combines two uniforms into one with ~2x the
/// mantissa below 0.5 and takes `-log(-log1p(-x))`; `Highest` (f32) turns 64 random
/// bits into a float with the full exponent range, using `log1p` below 0.5 and `log`
/// above.
#[track_caller]
pub fn gumbel_mode(key: &Array, shape: &[usize], dtype: DType, mode: Mode) -> Array {
    let (_, nmant) = float_layout("gumbel", dtype);
    let gumbel_of = |x: &Array| lax::neg(&lax::log(&lax::neg(&lax::log1p(&lax::neg(x)))));
    match mode {
        Mode::Low => {
            let u = uniform_scalar("gumbel", key, shape, dtype, tiny(dtype), 1.0);
            lax::neg(&lax::log(&lax::neg(&lax::log(&u))))
        }
        Mode::Highest if dtype == DType::F32 => gumbel_highest_f32(key, shape),
        Mode::High | Mode::Highest => {
            let (high, low) = two_uniforms("gumbel", key, shape, dtype, 0.0);
            let fine = lax::add(
                &lax::add(
                    &high,
                    &lax::mul(&fconst(2f64.powi(-(nmant as i32)), dtype), &low),
                ),
                &fconst(tiny(dtype), dtype),
            );
            let x = lax::select(&lax::ge(&high, &fconst(0.5, dtype)), &high, &fine);
            gumbel_of(&x)
        }
    }
}

/// JAX's "highest" f32 Gumbel: two words of bits as a 64-bit fixed-point fraction
/// (flipped to `1 - f` above one half), converted to f32 through its leading zeros.
#[track_caller]
fn gumbel_highest_f32(key: &Array, shape: &[usize]) -> Array {
    let (k0, k1) = key_words("gumbel", key);
    let both: Vec<usize> = std::iter::once(2).chain(shape.iter().copied()).collect();
    let bits = random_bits(&k0, &k1, 32, &both);
    let word = |b: &Array, i: usize| lax::squeeze(&lax::slice_in_dim(b, i, i + 1, 1, 0), &[0]);
    let (hi, lo) = (word(&bits, 0), word(&bits, 1));
    let u32c = |v: u32| int_const(v as i128, DType::U32);
    // 1 - f in 64-bit fixed point: the complement plus one, carrying into the high word.
    let (nhi, nlo) = (lax::not(&hi), lax::not(&lo));
    let carry = lax::convert_element_type(&lax::eq(&nlo, &u32c(u32::MAX)), DType::U32);
    let nhi = lax::add(&nhi, &carry);
    let nlo = lax::add(&nlo, &u32c(1));
    let flip = lax::lt(&hi, &u32c(1 << 31));
    let x = safe_int_to_float(
        &lax::select(&flip, &hi, &nhi),
        &lax::select(&flip, &lo, &nlo),
    );
    let below = lax::neg(&lax::log(&lax::neg(&lax::log1p(&lax::neg(&x)))));
    let above = lax::neg(&lax::log(&lax::neg(&lax::log(&x))));
    lax::select(&flip, &below, &above)
}

/// Leading zero bits of a `uint32` array (32 for zero), through the exact f64 value:
/// its exponent is `floor(log2(x))`.
fn count_leading_zeros(x: &Array) -> Array {
    let u32c = |v: u32| int_const(v as i128, DType::U32);
    let f = lax::convert_element_type(x, DType::F64);
    let exp_bits = lax::shift_right_logical(
        &lax::bitcast_convert_type(&f, DType::U64),
        &int_const(52, DType::U64),
    );
    let exp = lax::convert_element_type(&exp_bits, DType::U32);
    // 31 - (exp - 1023) = 1054 - exp.
    let clz = lax::sub(&u32c(1054), &exp);
    lax::select(
        &lax::eq(x, &u32c(0)),
        &broadcast_to_shape(&u32c(32), x.shape()),
        &clz,
    )
}

/// JAX's `_safe_int_to_float`: the 64-bit fraction `hi:lo` (a value in (0, 1)) as an
/// f32 with the exponent from its leading zeros and 23 mantissa bits after them.
fn safe_int_to_float(hi: &Array, lo: &Array) -> Array {
    let u32c = |v: u32| int_const(v as i128, DType::U32);
    let (hiclz, loclz) = (count_leading_zeros(hi), count_leading_zeros(lo));
    let hi_all_zero = lax::eq(&hiclz, &u32c(32));
    let mantissa = lax::bitwise_or(
        &lax::shift_left(hi, &hiclz),
        &lax::select(
            &hi_all_zero,
            &lax::shift_left(lo, &loclz),
            &lax::shift_right_logical(lo, &lax::sub(&u32c(32), &hiclz)),
        ),
    );
    let mantissa = lax::bitwise_and(
        &lax::shift_right_logical(&mantissa, &u32c(32 - 23 - 1)),
        &u32c((1 << 23) - 1),
    );
    // finfo(f32).minexp = -126: exponent field = 126 - (leading zeros), so a
    // fraction in [1/2, 1) gets 2^-1.
    let zeros = lax::select(&hi_all_zero, &lax::add(&u32c(32), &loclz), &hiclz);
    let exp = lax::shift_left(&lax::sub(&u32c(126), &zeros), &u32c(23));
    let exp = lax::bitwise_and(&exp, &u32c((1 << 30) - (1 << 22)));
    lax::bitcast_convert_type(&lax::bitwise_or(&exp, &mantissa), DType::F32)
}

/// Standard exponential samples: `-log1p(-u)`.
#[track_caller]
pub fn exponential(key: &Array, shape: &[usize], dtype: DType) -> Array {
    float_layout("exponential", dtype);
    let u = uniform_scalar("exponential", key, shape, dtype, 0.0, 1.0);
    lax::neg(&lax::log1p(&lax::neg(&u)))
}

/// Standard Laplace samples: `sign(u) * log1p(-|u|)`, `u` uniform in `(-1, 1)`.
#[track_caller]
pub fn laplace(key: &Array, shape: &[usize], dtype: DType) -> Array {
    let (_, nmant) = float_layout("laplace", dtype);
    let epsneg = 2f64.powi(-(nmant as i32) - 1);
    let u = uniform_scalar("laplace", key, shape, dtype, -1.0 + epsneg, 1.0);
    lax::mul(&lax::sign(&u), &lax::log1p(&lax::neg(&lax::abs(&u))))
}

/// Standard logistic samples: `log(u) - log1p(-u)`, `u` uniform in `[tiny, 1)`.
#[track_caller]
pub fn logistic(key: &Array, shape: &[usize], dtype: DType) -> Array {
    float_layout("logistic", dtype);
    let u = uniform_scalar("logistic", key, shape, dtype, tiny(dtype), 1.0);
    lax::sub(&lax::log(&u), &lax::log1p(&lax::neg(&u)))
}

/// Random signs (-1 or +1 with equal probability) of `dtype`.
#[track_caller]
pub fn rademacher(key: &Array, shape: &[usize], dtype: DType) -> Array {
    let b = bernoulli(key, 0.5, shape);
    let b = lax::convert_element_type(&b, dtype);
    let two = Operand::Int(2).materialize(dtype, false);
    let one = Operand::Int(1).materialize(dtype, false);
    lax::sub(&lax::mul(&two, &b), &one)
}

// ---- integers -------------------------------------------------------------------------

/// Integers uniform in `[minval, maxval)` (bounds broadcast to `shape`, clipped to the
/// dtype's range; an empty range gives `minval`), JAX's two-word modulus method.
/// 8- and 16-bit dtypes are sampled at 32 bits and cast, like JAX ≥ 0.7.2.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::random;
/// let r = random::randint(&random::key(0), &[8], 0, 10, DType::I32);
/// assert!(r.to_vec::<i32>().iter().all(|&v| (0..10).contains(&v)));
/// ```
#[track_caller]
pub fn randint(
    key: &Array,
    shape: &[usize],
    minval: impl ArrayLike,
    maxval: impl ArrayLike,
    dtype: DType,
) -> Array {
    if !dtype.is_int() {
        user_error(format!(
            "random.randint: dtype must be an integer dtype, got {dtype}"
        ));
    }
    let minval = int_operand(minval.operand());
    let maxval = int_operand(maxval.operand());
    for (what, a) in [("minval", &minval), ("maxval", &maxval)] {
        if try_broadcast_shapes(&[a.shape(), shape]).as_deref() != Some(shape) {
            user_error(format!(
                "random.randint: {what} of shape {:?} does not broadcast to the sample shape {shape:?}",
                a.shape()
            ));
        }
    }
    if dtype.bits() < 32 {
        let (lo, hi) = crate::prim::reduce::int_bounds(dtype);
        let clip = |x: &Array, hi: i128| {
            let x = lax::convert_element_type(x, DType::I32);
            lax::clamp(&int_const(lo, DType::I32), &x, &int_const(hi, DType::I32))
        };
        let minval = clip(&minval, hi);
        let maxval = clip(&maxval, hi + 1);
        let r = randint_impl(key, shape, &minval, &maxval, DType::I32);
        return lax::convert_element_type(&r, dtype);
    }
    randint_impl(key, shape, &minval, &maxval, dtype)
}

/// `val` (an integer array) converted to `dtype`, clipping instead of wrapping.
fn convert_and_clip(val: &Array, dtype: DType) -> Array {
    let (dlo, dhi) = crate::prim::reduce::int_bounds(dtype);
    let (vlo, vhi) = crate::prim::reduce::int_bounds(val.dtype());
    let lo = int_const(dlo.max(vlo), val.dtype());
    let hi = int_const(dhi.min(vhi), val.dtype());
    let v = lax::min(&lax::max(val, &lo), &hi);
    lax::convert_element_type(&v, dtype)
}

#[track_caller]
fn randint_impl(
    key: &Array,
    shape: &[usize],
    minval: &Array,
    maxval: &Array,
    dtype: DType,
) -> Array {
    let (_, dhi) = crate::prim::reduce::int_bounds(dtype);
    let (_, mhi) = crate::prim::reduce::int_bounds(maxval.dtype());
    let threshold = int_const(dhi.min(mhi), maxval.dtype());
    let out_of_range = lax::gt(maxval, &threshold);
    let minval = broadcast_to_shape(&convert_and_clip(minval, dtype), shape);
    let maxval = broadcast_to_shape(&convert_and_clip(maxval, dtype), shape);
    let out_of_range = broadcast_to_shape(&out_of_range, shape);
    let nbits = dtype.bits();
    let (k1, k2) = split2(key);
    let (a0, a1) = key_words("randint", &k1);
    let (b0, b1) = key_words("randint", &k2);
    let higher = random_bits(&a0, &a1, nbits, shape);
    let lower = random_bits(&b0, &b1, nbits, shape);
    let udt = uint_dtype(nbits);
    let uconst = |v: i128| broadcast_to_shape(&int_const(v, udt), shape);
    let span = lax::convert_element_type(&lax::sub(&maxval, &minval), udt);
    let span = lax::select(&lax::le(&maxval, &minval), &uconst(1), &span);
    let grow = lax::bitwise_and(&out_of_range, &lax::gt(&maxval, &minval));
    let span = lax::select(&grow, &lax::add(&span, &uconst(1)), &span);
    let mult = lax::rem(&uconst(1i128 << (nbits / 2)), &span);
    let mult = lax::rem(&lax::mul(&mult, &mult), &span);
    let off = lax::add(
        &lax::mul(&lax::rem(&higher, &span), &mult),
        &lax::rem(&lower, &span),
    );
    let off = lax::rem(&off, &span);
    lax::add(&minval, &lax::convert_element_type(&off, dtype))
}

// ---- permutations and choices ---------------------------------------------------------

/// `x` shuffled along `axis` by repeated stable sorts on random 32-bit keys (JAX's
/// `_shuffle`).
fn shuffle(key: &Array, x: &Array, axis: usize) -> Array {
    let size = x.size().max(1) as f64;
    let rounds = (3.0 * size.ln() / (u32::MAX as f64).ln()).ceil() as usize;
    let mut key = key.clone();
    let mut x = x.clone();
    for _ in 0..rounds {
        let (k, sub) = split2(&key);
        key = k;
        let (s0, s1) = key_words("permutation", &sub);
        let sort_keys = random_bits(&s0, &s1, 32, x.shape());
        x = lax::sort_key_val(&sort_keys, &x, axis, true).1;
    }
    x
}

/// A random permutation: of `arange(x)` when `x` is a 0-d integer, else of `x`'s
/// entries along `axis` (the same permutation for every slice, or each 1-d slice on
/// its own when `independent`), like `jax.random.permutation`.
///
/// ```
/// use jaxon::random;
/// let p = random::permutation(&random::key(0), 5, 0, false);
/// let mut v = p.to_vec::<i32>();
/// v.sort();
/// assert_eq!(v, vec![0, 1, 2, 3, 4]);
/// ```
#[track_caller]
pub fn permutation(key: &Array, x: impl ArrayLike, axis: i64, independent: bool) -> Array {
    key_words("permutation", key);
    let x = x.to_array();
    if x.ndim() == 0 {
        if !x.dtype().is_int() {
            user_error(format!(
                "random.permutation: x must be an integer or at least 1-dimensional, got {}{:?}",
                x.dtype(),
                x.shape()
            ));
        }
        let n = x.item_f64() as i64;
        if n < 0 {
            user_error(format!("random.permutation: x = {n} must be non-negative"));
        }
        return shuffle(key, &jnp::arange(n), 0);
    }
    let axis = jnp::canonical_axis("random.permutation", axis, x.ndim());
    if independent || x.ndim() == 1 {
        return shuffle(key, &x, axis);
    }
    let n = x.shape()[axis] as i64;
    let ind = shuffle(key, &jnp::arange(n), 0);
    jnp::take(&x, &ind, Some(axis as i64))
}

/// Samples of `shape` from `a` (a 0-d integer `n` means `arange(n)`) along `axis`, with
/// or without replacement, uniformly or with probabilities `p` (1-d, length
/// `a.shape[axis]`), like `jax.random.choice`.
#[track_caller]
pub fn choice(
    key: &Array,
    a: impl ArrayLike,
    shape: &[usize],
    replace: bool,
    p: Option<&Array>,
    axis: i64,
) -> Array {
    key_words("choice", key);
    let arr = a.to_array();
    let (n_inputs, axis) = if arr.ndim() == 0 {
        if !arr.dtype().is_int() {
            user_error(format!(
                "random.choice: a must be an integer or an array, got {}{:?}",
                arr.dtype(),
                arr.shape()
            ));
        }
        (arr.item_f64() as i64, 0usize)
    } else {
        let ax = jnp::canonical_axis("random.choice", axis, arr.ndim());
        (arr.shape()[ax] as i64, ax)
    };
    let n_draws: usize = shape.iter().product();
    let out_shape: Vec<usize> = if arr.ndim() == 0 {
        shape.to_vec()
    } else {
        let s = arr.shape();
        [&s[..axis], shape, &s[axis + 1..]].concat()
    };
    if n_draws == 0 {
        return jnp::zeros(&out_shape, arr.dtype());
    }
    if n_inputs <= 0 {
        user_error("random.choice: a must be greater than 0 unless no samples are taken");
    }
    if !replace && n_draws as i64 > n_inputs {
        user_error(format!(
            "random.choice: cannot take a larger sample (size {n_draws}) than the population \
             (size {n_inputs}) when replace=false"
        ));
    }
    let ind = match p {
        None if replace => randint(key, shape, 0, n_inputs, DType::I32),
        None => {
            let perm = if arr.ndim() == 0 {
                permutation(key, n_inputs, 0, false)
            } else {
                permutation(key, &arr, axis as i64, false)
            };
            let sliced = lax::slice_in_dim(&perm, 0, n_draws, 1, axis);
            return lax::reshape(&sliced, &out_shape);
        }
        Some(p) => {
            let p = jnp::to_inexact(Operand::Array(p.clone()));
            if p.shape() != [n_inputs as usize] {
                user_error(format!(
                    "random.choice: p must be a 1-d vector with the same size as a.shape[axis] \
                     ({n_inputs}), got shape {:?}",
                    p.shape()
                ));
            }
            let dt = p.dtype();
            if replace {
                let cum = jnp::cumsum(&p, None);
                let total = lax::slice(&cum, &[n_inputs as usize - 1], &[n_inputs as usize], None);
                let total = lax::reshape(&total, &[]);
                let u = uniform_scalar("choice", key, shape, dt, 0.0, 1.0);
                let r = lax::mul(&total, &lax::sub(&fconst(1.0, dt), &u));
                lax::reshape(&searchsorted_left(&cum, &r), shape)
            } else {
                let g = lax::add(&gumbel(key, &[n_inputs as usize], dt), &lax::log(&p));
                let (_, idx) = lax::top_k(&g, n_draws);
                lax::reshape(&idx, shape)
            }
        }
    };
    if arr.ndim() == 0 {
        ind
    } else {
        let taken = jnp::take(&arr, lax::reshape(&ind, &[n_draws]), Some(axis as i64));
        lax::reshape(&taken, &out_shape)
    }
}

/// For each entry of `r`, the number of entries of the sorted 1-d `a` that are `< r`
/// (`searchsorted(a, r, side='left')`), as int32.
fn searchsorted_left(a: &Array, r: &Array) -> Array {
    let n = a.shape()[0];
    let rf = lax::reshape(r, &[r.size(), 1]);
    let rf = lax::broadcast_in_dim(&rf, &[r.size(), n], &[0, 1]);
    let af = lax::broadcast_in_dim(a, &[r.size(), n], &[1]);
    let less = lax::convert_element_type(&lax::lt(&af, &rf), DType::I32);
    lax::reduce_sum(&less, &[1])
}

/// Samples from categorical distributions given unnormalised log-probabilities
/// `logits` along `axis` (Gumbel-max with replacement, Gumbel-top-k without), like
/// `jax.random.categorical`. `shape` defaults to the batch shape (`logits.shape`
/// without `axis`) and may add leading sample dimensions.
#[track_caller]
pub fn categorical(
    key: &Array,
    logits: impl ArrayLike,
    axis: i64,
    shape: Option<&[usize]>,
    replace: bool,
) -> Array {
    categorical_mode(key, logits, axis, shape, replace, Mode::Low)
}

/// [`categorical`] with JAX's `mode` for its Gumbel noise (see [`gumbel_mode`]).
#[track_caller]
pub fn categorical_mode(
    key: &Array,
    logits: impl ArrayLike,
    axis: i64,
    shape: Option<&[usize]>,
    replace: bool,
    mode: Mode,
) -> Array {
    key_words("categorical", key);
    let logits = logits.to_array();
    if !logits.dtype().is_float() {
        user_error(format!(
            "random.categorical: logits must be a float array, got {}{:?}",
            logits.dtype(),
            logits.shape()
        ));
    }
    let nd = logits.ndim();
    let ax = jnp::canonical_axis("random.categorical", axis, nd);
    let mut batch_shape = logits.shape().to_vec();
    batch_shape.remove(ax);
    let shape = shape
        .map(<[usize]>::to_vec)
        .unwrap_or_else(|| batch_shape.clone());
    if shape.len() < batch_shape.len()
        || try_broadcast_shapes(&[&batch_shape, &shape]).as_deref() != Some(&shape[..])
    {
        user_error(format!(
            "random.categorical: shape {shape:?} is not compatible with the batch shape \
             {batch_shape:?} of logits {:?} (axis {axis})",
            logits.shape()
        ));
    }
    let prefix = &shape[..shape.len() - batch_shape.len()];
    let dt = logits.dtype();
    if replace {
        let mut lshape = shape[prefix.len()..].to_vec();
        lshape.insert(ax, logits.shape()[ax]);
        let full: Vec<usize> = [prefix, &lshape].concat();
        let g = gumbel_mode(key, &full, dt, mode);
        let l = broadcast_to_shape(&logits, &full);
        jnp::argmax(lax::add(&g, &l), Some((prefix.len() + ax) as i64))
    } else {
        let k: usize = prefix.iter().product();
        if k > logits.shape()[ax] {
            user_error(format!(
                "random.categorical: number of samples without replacement ({k}) cannot exceed \
                 the number of categories ({})",
                logits.shape()[ax]
            ));
        }
        let l = lax::add(&logits, &gumbel_mode(key, logits.shape(), dt, mode));
        let l = jnp::moveaxis(&l, ax as i64, -1);
        let (_, idx) = lax::top_k(&l, k);
        // [batch..., k] -> [k, batch...] -> shape.
        let r = idx.ndim();
        let perm: Vec<usize> = std::iter::once(r - 1).chain(0..r - 1).collect();
        lax::reshape(&lax::transpose(&idx, &perm), &shape)
    }
}
