//! Scalar fallbacks called from generated code for the rare element operations the
//! emitter does not generate inline (lgamma, digamma, next_after, integer pow,
//! reduce_precision, f16/bf16 transcendental functions, ...). They run the
//! interpreter's own element code on one element, so results are bit-identical to
//! the oracle.
//!
//! Values cross the boundary as raw bits in a `u64` (zero-extended).

use crate::backend::interp::elementwise as ew;
use crate::hlo::ir::{BinaryOp, UnaryOp};
use crate::{DType, Data, Literal, Shape};

/// The `DType`s in a fixed order, so generated code can pass one as a number.
pub const DTYPES: [DType; 13] = [
    DType::Bool,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::U64,
    DType::F16,
    DType::BF16,
    DType::F32,
    DType::F64,
];

pub const UNARY_OPS: [UnaryOp; 36] = {
    use UnaryOp::*;
    [
        Neg,
        Abs,
        Sign,
        Floor,
        Ceil,
        RoundNearestAfz,
        RoundNearestEven,
        Exp,
        Exp2,
        Expm1,
        Log,
        Log1p,
        Sqrt,
        Rsqrt,
        Cbrt,
        Sin,
        Cos,
        Tan,
        Asin,
        Acos,
        Atan,
        Sinh,
        Cosh,
        Tanh,
        Asinh,
        Acosh,
        Atanh,
        Logistic,
        Erf,
        Erfc,
        ErfInv,
        Lgamma,
        Digamma,
        IsFinite,
        Not,
        PopulationCount,
    ]
};

pub const BINARY_OPS: [BinaryOp; 16] = {
    use BinaryOp::*;
    [
        Add,
        Sub,
        Mul,
        Div,
        Rem,
        Pow,
        Max,
        Min,
        Atan2,
        NextAfter,
        And,
        Or,
        Xor,
        ShiftLeft,
        ShiftRightLogical,
        ShiftRightArithmetic,
    ]
};

pub fn dtype_code(d: DType) -> u32 {
    DTYPES.iter().position(|&x| x == d).expect("known dtype") as u32
}

pub fn unary_code(op: UnaryOp) -> u32 {
    UNARY_OPS.iter().position(|&x| x == op).expect("known op") as u32
}

pub fn binary_code(op: BinaryOp) -> u32 {
    BINARY_OPS.iter().position(|&x| x == op).expect("known op") as u32
}

fn scalar_from_bits(dtype: DType, bits: u64) -> Literal {
    let bytes = bits.to_le_bytes();
    let data = Data::from_bytes(dtype, &bytes[..dtype.size_bytes()]);
    Literal::new(Shape::scalar(dtype), data)
}

fn bits_of(lit: &Literal) -> u64 {
    let bytes = lit.data().to_bytes();
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(&bytes);
    u64::from_le_bytes(buf)
}

/// `op(x)` on one element of dtype `dtype` (codes from [`DTYPES`]/[`UNARY_OPS`]).
pub extern "C" fn oxla_unary_bits(op: u32, dtype: u32, x: u64) -> u64 {
    let dtype = DTYPES[dtype as usize];
    let out = ew::unary(UNARY_OPS[op as usize], &scalar_from_bits(dtype, x));
    bits_of(&out)
}

/// `op(x, y)` on elements of dtype `dtype`.
pub extern "C" fn oxla_binary_bits(op: u32, dtype: u32, x: u64, y: u64) -> u64 {
    let dtype = DTYPES[dtype as usize];
    let out = ew::binary(
        BINARY_OPS[op as usize],
        &scalar_from_bits(dtype, x),
        &scalar_from_bits(dtype, y),
    );
    bits_of(&out)
}

/// XLA reduce_precision of one element.
pub extern "C" fn oxla_reduce_precision_bits(dtype: u32, x: u64, exp: u32, man: u32) -> u64 {
    let dtype = DTYPES[dtype as usize];
    bits_of(&ew::reduce_precision(&scalar_from_bits(dtype, x), exp, man))
}

/// Converts one element from dtype `from` to dtype `to` exactly as the interpreter.
pub extern "C" fn oxla_convert_bits(from: u32, to: u32, x: u64) -> u64 {
    let (from, to) = (DTYPES[from as usize], DTYPES[to as usize]);
    bits_of(&scalar_from_bits(from, x).convert(to))
}
