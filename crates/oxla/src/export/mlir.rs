//! MLIR text pieces shared by the StableHLO printer: tensor types, dense element
//! attributes (bit-exact) and attribute lists.

use crate::{DType, Literal, Shape};
use std::fmt::Write;

/// Non-splat constants with more elements than this print as one hex blob.
const MAX_LISTED_ELEMENTS: usize = 64;

/// The MLIR element type: `i1` for bool, `ui32` for unsigned, `bf16`, ...
pub fn element_type(dtype: DType) -> &'static str {
    match dtype {
        DType::Bool => "i1",
        DType::I8 => "i8",
        DType::I16 => "i16",
        DType::I32 => "i32",
        DType::I64 => "i64",
        DType::U8 => "ui8",
        DType::U16 => "ui16",
        DType::U32 => "ui32",
        DType::U64 => "ui64",
        DType::F16 => "f16",
        DType::BF16 => "bf16",
        DType::F32 => "f32",
        DType::F64 => "f64",
    }
}

/// `tensor<2x3xf32>`; a scalar is `tensor<f32>`.
pub fn tensor_type(shape: &Shape) -> String {
    let mut s = String::from("tensor<");
    for d in &shape.dims {
        let _ = write!(s, "{d}x");
    }
    s.push_str(element_type(shape.dtype));
    s.push('>');
    s
}

/// `(t0, t1)` for an operand list.
pub fn type_list<'a>(shapes: impl IntoIterator<Item = &'a Shape>) -> String {
    let items: Vec<String> = shapes.into_iter().map(tensor_type).collect();
    format!("({})", items.join(", "))
}

/// A result type: `t` for one result, `(t0, t1)` otherwise.
pub fn result_types(shapes: &[Shape]) -> String {
    match shapes {
        [one] => tensor_type(one),
        many => type_list(many),
    }
}

/// `array<i64: 1, 2>` (a dense i64 array property).
pub fn i64_array<T: Copy + Into<i128>>(v: &[T]) -> String {
    if v.is_empty() {
        return "array<i64>".to_string();
    }
    let items: Vec<String> = v.iter().map(|&x| x.into().to_string()).collect();
    format!("array<i64: {}>", items.join(", "))
}

/// `array<i64: ...>` from usize values.
pub fn usize_array(v: &[usize]) -> String {
    let as_i64: Vec<i64> = v.iter().map(|&x| x as i64).collect();
    i64_array(&as_i64)
}

/// `[1, 2]` (a list inside a dimension-numbers attribute).
pub fn bracket_list(v: &[usize]) -> String {
    let items: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// Window padding as `dense<[[lo, hi], ...]> : tensor<Nx2xi64>`.
pub fn padding_attr(padding: &[(i64, i64)]) -> String {
    if padding.is_empty() {
        return "dense<> : tensor<0x2xi64>".to_string();
    }
    let rows: Vec<String> = padding
        .iter()
        .map(|(lo, hi)| format!("[{lo}, {hi}]"))
        .collect();
    format!(
        "dense<[{}]> : tensor<{}x2xi64>",
        rows.join(", "),
        padding.len()
    )
}

/// The `dense<...> : tensor<...>` attribute of a constant. Floats print as their
/// bit pattern (`0x7FC00000`) so NaN payloads, infinities and -0 survive; large
/// non-bool constants print as one little-endian hex blob.
pub fn dense_attr(lit: &Literal) -> String {
    let ty = tensor_type(lit.shape());
    let n = lit.num_elements();
    let dtype = lit.dtype();
    if n == 0 {
        return format!("dense<> : {ty}");
    }
    let width = dtype.size_bytes();
    let bytes = lit.data().to_bytes();
    let chunks: Vec<&[u8]> = bytes.chunks_exact(width).collect();
    if chunks.iter().all(|c| *c == chunks[0]) {
        return format!("dense<{}> : {ty}", element_text(dtype, chunks[0]));
    }
    if n > MAX_LISTED_ELEMENTS && !dtype.is_bool() {
        let mut hex = String::with_capacity(2 * bytes.len());
        for b in &bytes {
            let _ = write!(hex, "{b:02X}");
        }
        return format!("dense<\"0x{hex}\"> : {ty}");
    }
    let items: Vec<String> = chunks.iter().map(|c| element_text(dtype, c)).collect();
    format!("dense<{}> : {ty}", nested(&items, lit.dims()))
}

/// One element from its little-endian bytes: `true`, `-3`, `0x3F800000`.
fn element_text(dtype: DType, le: &[u8]) -> String {
    if dtype.is_bool() {
        return (le[0] != 0).to_string();
    }
    if dtype.is_float() {
        let mut hex = String::from("0x");
        for b in le.iter().rev() {
            let _ = write!(hex, "{b:02X}");
        }
        return hex;
    }
    let mut raw = [0u8; 16];
    raw[..le.len()].copy_from_slice(le);
    let unsigned = u128::from_le_bytes(raw);
    if dtype.is_signed_int() {
        // Sign-extend from the element width.
        let shift = 128 - 8 * le.len() as u32;
        (((unsigned << shift) as i128) >> shift).to_string()
    } else {
        unsigned.to_string()
    }
}

/// Row-major items as nested brackets following `dims`.
fn nested(items: &[String], dims: &[usize]) -> String {
    match dims {
        [] => items[0].clone(),
        [_] => format!("[{}]", items.join(", ")),
        [d, rest @ ..] => {
            let chunk = items.len() / d;
            let parts: Vec<String> = items.chunks(chunk).map(|c| nested(c, rest)).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// A symbol name MLIR accepts without quoting: letters, digits, `_`, `.`, `$`,
/// not starting with a digit.
pub fn symbol(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// `dense<x> : tensor<...>`: every element of `shape` equal to the one element of
/// `scalar` (same dtype).
pub fn splat_attr(shape: &Shape, scalar: &Literal) -> String {
    let bytes = scalar.data().to_bytes();
    format!(
        "dense<{}> : {}",
        element_text(shape.dtype, &bytes),
        tensor_type(shape)
    )
}
