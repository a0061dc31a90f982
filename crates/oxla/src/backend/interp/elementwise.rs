//! Elementwise ops: unary, binary, compare, select, clamp, conversions, iota and
//! reduce_precision. Each dtype implements [`Elem`]; vector ops map it.

use super::math;
use crate::hlo::ir::{BinaryOp, CmpDir, UnaryOp};
use crate::{with_data, with_native_type, DType, Data, Literal, NativeType, Shape};
use half::{bf16, f16};
use std::cmp::Ordering;

/// Scalar semantics of the elementwise ops for one native type. Combinations that
/// shape inference rejects panic with a message naming the op.
pub trait Elem: NativeType {
    fn unary(op: UnaryOp, x: Self) -> Self;
    fn binary(op: BinaryOp, x: Self, y: Self) -> Self;
}

fn undefined(op: &str, dtype: DType) -> ! {
    panic!("oxla interp: {op} is not defined for {dtype}")
}

macro_rules! float_elem {
    ($t:ty, $bits:ty) => {
        impl Elem for $t {
            fn unary(op: UnaryOp, x: Self) -> Self {
                <$t as NativeType>::from_f64(math::float_unary(op, NativeType::to_f64(x)))
            }
            fn binary(op: BinaryOp, x: Self, y: Self) -> Self {
                let (xf, yf) = (NativeType::to_f64(x), NativeType::to_f64(y));
                if op == BinaryOp::NextAfter {
                    let (xb, yb) = (x.to_bits() as u64, y.to_bits() as u64);
                    let bits = math::next_after_bits(xb, yb, xf, yf, <$bits>::BITS);
                    return <$t>::from_bits(bits as $bits);
                }
                // f64 has more than twice the precision of every float dtype, so
                // computing in f64 and rounding once is correctly rounded for + - * /.
                <$t as NativeType>::from_f64(math::float_binary(op, xf, yf))
            }
        }
    };
}
float_elem!(f16, u16);
float_elem!(bf16, u16);
float_elem!(f32, u32);
float_elem!(f64, u64);

/// Integer ops shared by signed and unsigned types (wrapping, XLA conventions).
macro_rules! int_binary {
    ($t:ty, $ut:ty, $st:ty) => {
        #[allow(clippy::unnecessary_cast)]
        fn binary(op: BinaryOp, x: Self, y: Self) -> Self {
            use BinaryOp::*;
            // Shift amounts are read as unsigned: negative ones are huge.
            let amount = (y as $ut) as u64;
            let bits = <$t>::BITS as u64;
            match op {
                Add => x.wrapping_add(y),
                Sub => x.wrapping_sub(y),
                Mul => x.wrapping_mul(y),
                // Division by zero gives all ones; MIN / -1 wraps to MIN.
                Div if y == 0 => !0,
                Div => x.wrapping_div(y),
                Rem if y == 0 => x,
                Rem => x.wrapping_rem(y),
                Pow => Self::int_pow(x, y),
                Max => x.max(y),
                Min => x.min(y),
                And => x & y,
                Or => x | y,
                Xor => x ^ y,
                ShiftLeft if amount >= bits => 0,
                ShiftLeft => x << amount,
                ShiftRightLogical if amount >= bits => 0,
                ShiftRightLogical => ((x as $ut) >> amount) as $t,
                ShiftRightArithmetic => ((x as $st) >> amount.min(bits - 1)) as $t,
                Atan2 | NextAfter => undefined(op.name(), <$t>::DTYPE),
            }
        }
    };
}

/// Wrapping exponentiation by squaring.
macro_rules! pow_by_squaring {
    ($x:expr, $e:expr) => {{
        let (mut base, mut e, mut acc) = ($x, $e as u64, 1);
        while e > 0 {
            if e & 1 == 1 {
                acc = base.wrapping_mul(acc);
            }
            base = base.wrapping_mul(base);
            e >>= 1;
        }
        acc
    }};
}

macro_rules! signed_elem {
    ($t:ty, $ut:ty) => {
        impl IntPow for $t {
            fn int_pow(x: Self, y: Self) -> Self {
                if y < 0 {
                    // Only 1 and -1 have integer reciprocals.
                    return match x {
                        1 => 1,
                        -1 if y & 1 == 1 => -1,
                        -1 => 1,
                        _ => 0,
                    };
                }
                pow_by_squaring!(x, y)
            }
        }
        impl Elem for $t {
            fn unary(op: UnaryOp, x: Self) -> Self {
                match op {
                    UnaryOp::Neg => x.wrapping_neg(),
                    UnaryOp::Abs => x.wrapping_abs(),
                    UnaryOp::Sign => x.signum(),
                    UnaryOp::Not => !x,
                    UnaryOp::PopulationCount => x.count_ones() as $t,
                    _ => undefined(op.name(), <$t>::DTYPE),
                }
            }
            int_binary!($t, $ut, $t);
        }
    };
}

macro_rules! unsigned_elem {
    ($t:ty, $st:ty) => {
        impl IntPow for $t {
            fn int_pow(x: Self, y: Self) -> Self {
                pow_by_squaring!(x, y)
            }
        }
        impl Elem for $t {
            fn unary(op: UnaryOp, x: Self) -> Self {
                match op {
                    UnaryOp::Neg => x.wrapping_neg(),
                    UnaryOp::Abs => x,
                    UnaryOp::Sign => (x != 0) as $t,
                    UnaryOp::Not => !x,
                    UnaryOp::PopulationCount => x.count_ones() as $t,
                    _ => undefined(op.name(), <$t>::DTYPE),
                }
            }
            int_binary!($t, $t, $st);
        }
    };
}

trait IntPow: Sized {
    fn int_pow(x: Self, y: Self) -> Self;
}

signed_elem!(i8, u8);
signed_elem!(i16, u16);
signed_elem!(i32, u32);
signed_elem!(i64, u64);
unsigned_elem!(u8, i8);
unsigned_elem!(u16, i16);
unsigned_elem!(u32, i32);
unsigned_elem!(u64, i64);

impl Elem for bool {
    fn unary(op: UnaryOp, x: Self) -> Self {
        match op {
            UnaryOp::Not => !x,
            _ => undefined(op.name(), DType::Bool),
        }
    }
    fn binary(op: BinaryOp, x: Self, y: Self) -> Self {
        match op {
            BinaryOp::And | BinaryOp::Min => x & y,
            BinaryOp::Or | BinaryOp::Max => x | y,
            BinaryOp::Xor => x ^ y,
            _ => undefined(op.name(), DType::Bool),
        }
    }
}

fn unary_vec<T: Elem>(op: UnaryOp, v: &[T]) -> Data {
    T::wrap(v.iter().map(|&x| T::unary(op, x)).collect())
}

fn binary_vec<T: Elem>(op: BinaryOp, a: &[T], b: &Data) -> Data {
    let b = T::slice(b).expect("binary: operand dtypes differ");
    T::wrap(
        a.iter()
            .zip(b)
            .map(|(&x, &y)| T::binary(op, x, y))
            .collect(),
    )
}

pub fn unary(op: UnaryOp, x: &Literal) -> Literal {
    if op == UnaryOp::IsFinite {
        let data = with_data!(x.data(), v => v.iter().map(|e| e.to_f64().is_finite()).collect());
        return Literal::new(x.shape().with_dtype(DType::Bool), Data::Bool(data));
    }
    let data = with_data!(x.data(), v => unary_vec(op, v));
    Literal::new(x.shape().clone(), data)
}

pub fn binary(op: BinaryOp, x: &Literal, y: &Literal) -> Literal {
    let data = with_data!(x.data(), v => binary_vec(op, v, y.data()));
    Literal::new(x.shape().clone(), data)
}

/// Orders two elements: floats as f64 (IEEE, or the total order), others as i128.
pub fn order<T: NativeType>(a: T, b: T, total_order: bool) -> Option<Ordering> {
    if T::DTYPE.is_float() {
        let (a, b) = (a.to_f64(), b.to_f64());
        if total_order {
            Some(a.total_cmp(&b))
        } else {
            a.partial_cmp(&b)
        }
    } else {
        Some(a.to_i128().cmp(&b.to_i128()))
    }
}

pub fn cmp_holds(dir: CmpDir, ord: Option<Ordering>) -> bool {
    use Ordering::*;
    match dir {
        CmpDir::Eq => ord == Some(Equal),
        CmpDir::Ne => ord != Some(Equal),
        CmpDir::Lt => ord == Some(Less),
        CmpDir::Le => matches!(ord, Some(Less | Equal)),
        CmpDir::Gt => ord == Some(Greater),
        CmpDir::Ge => matches!(ord, Some(Greater | Equal)),
    }
}

fn compare_vec<T: NativeType>(dir: CmpDir, total: bool, a: &[T], b: &Data) -> Vec<bool> {
    let b = T::slice(b).expect("compare: operand dtypes differ");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| cmp_holds(dir, order(x, y, total)))
        .collect()
}

pub fn compare(dir: CmpDir, total_order: bool, x: &Literal, y: &Literal) -> Literal {
    let data = with_data!(x.data(), v => compare_vec(dir, total_order, v, y.data()));
    Literal::new(x.shape().with_dtype(DType::Bool), Data::Bool(data))
}

pub fn select(pred: &Literal, t: &Literal, f: &Literal) -> Literal {
    let p = pred
        .as_slice::<bool>()
        .expect("select: predicate is not bool");
    let n = t.num_elements();
    let scalar = pred.dims().is_empty();
    // Positions >= n address on_false inside the concatenation.
    let idx: Vec<usize> = (0..n)
        .map(|i| {
            if p[if scalar { 0 } else { i }] {
                i
            } else {
                n + i
            }
        })
        .collect();
    Literal::new(
        t.shape().clone(),
        Data::concat(&[t.data(), f.data()]).take(&idx),
    )
}

/// max(lo, min(x, hi)), with scalar bounds broadcast.
pub fn clamp(lo: &Literal, x: &Literal, hi: &Literal) -> Literal {
    let full = |b: &Literal| {
        if b.dims() == x.dims() {
            b.clone()
        } else {
            Literal::new(x.shape().clone(), b.data().take(&vec![0; x.num_elements()]))
        }
    };
    let m = binary(BinaryOp::Min, x, &full(hi));
    binary(BinaryOp::Max, &full(lo), &m)
}

pub fn bitcast(x: &Literal, out: &Shape) -> Literal {
    Literal::new(
        out.clone(),
        Data::from_bytes(out.dtype, &x.data().to_bytes()),
    )
}

pub fn iota(shape: &Shape, dim: usize) -> Literal {
    let stride = shape.strides()[dim];
    let size = shape.dims[dim];
    let n = shape.num_elements();
    let data = with_native_type!(shape.dtype, T => {
        T::wrap((0..n).map(|i| T::from_i128(((i / stride) % size) as i128)).collect())
    });
    Literal::new(shape.clone(), data)
}

fn reduce_precision_vec<T: NativeType + Copy>(
    v: &[T],
    bits: impl Fn(T) -> u64,
    from_bits: impl Fn(u64) -> T,
    e: u32,
    m: u32,
) -> Vec<T> {
    let (src_m, src_e) = T::DTYPE
        .float_bits()
        .expect("reduce_precision: not a float");
    v.iter()
        .map(|&x| {
            if x.to_f64().is_nan() {
                x
            } else {
                from_bits(math::reduce_precision_bits(bits(x), src_m, src_e, e, m))
            }
        })
        .collect()
}

pub fn reduce_precision(x: &Literal, exponent_bits: u32, mantissa_bits: u32) -> Literal {
    let (e, m) = (exponent_bits, mantissa_bits);
    let data = match x.data() {
        Data::F16(v) => Data::F16(reduce_precision_vec(
            v,
            |x| x.to_bits() as u64,
            |b| f16::from_bits(b as u16),
            e,
            m,
        )),
        Data::BF16(v) => Data::BF16(reduce_precision_vec(
            v,
            |x| x.to_bits() as u64,
            |b| bf16::from_bits(b as u16),
            e,
            m,
        )),
        Data::F32(v) => Data::F32(reduce_precision_vec(
            v,
            |x| x.to_bits() as u64,
            |b| f32::from_bits(b as u32),
            e,
            m,
        )),
        Data::F64(v) => Data::F64(reduce_precision_vec(v, f64::to_bits, f64::from_bits, e, m)),
        other => undefined("reduce_precision", other.dtype()),
    };
    Literal::new(x.shape().clone(), data)
}
