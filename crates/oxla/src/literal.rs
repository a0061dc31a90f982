//! Host-side array values: a [`Shape`] plus typed, row-major element storage.
//!
//! Literals are the constants of HLO and the buffers of the interpreter backend.

use crate::{DType, Shape};
use half::{bf16, f16};
use std::fmt;

/// Typed element storage, one variant per [`DType`].
#[derive(Clone, PartialEq)]
pub enum Data {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Runs `$body` with `$v` bound to the typed vector inside a [`Data`].
#[macro_export]
macro_rules! with_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            $crate::Data::Bool($v) => $body,
            $crate::Data::I8($v) => $body,
            $crate::Data::I16($v) => $body,
            $crate::Data::I32($v) => $body,
            $crate::Data::I64($v) => $body,
            $crate::Data::U8($v) => $body,
            $crate::Data::U16($v) => $body,
            $crate::Data::U32($v) => $body,
            $crate::Data::U64($v) => $body,
            $crate::Data::F16($v) => $body,
            $crate::Data::BF16($v) => $body,
            $crate::Data::F32($v) => $body,
            $crate::Data::F64($v) => $body,
        }
    };
}

/// Runs `$body` with the type alias `$T` set to the native type of `$dtype`.
#[macro_export]
macro_rules! with_native_type {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::DType::U16 => {
                type $T = u16;
                $body
            }
            $crate::DType::U32 => {
                type $T = u32;
                $body
            }
            $crate::DType::U64 => {
                type $T = u64;
                $body
            }
            $crate::DType::F16 => {
                type $T = half::f16;
                $body
            }
            $crate::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// A Rust type that stores elements of one [`DType`].
pub trait NativeType: Copy + PartialEq + fmt::Debug + Send + Sync + 'static {
    const DTYPE: DType;
    fn wrap(v: Vec<Self>) -> Data;
    fn slice(d: &Data) -> Option<&[Self]>;
    /// Value as f64 (exact for every type but 64-bit integers beyond 2^53).
    fn to_f64(self) -> f64;
    /// Value as i128 (floats truncate toward zero, saturating; NaN gives 0).
    fn to_i128(self) -> i128;
    /// Nearest value of this type (floats round to nearest even; ints saturate; NaN -> 0).
    fn from_f64(v: f64) -> Self;
    /// Integers wrap modulo 2^bits; floats round to nearest; bool is `v != 0`.
    fn from_i128(v: i128) -> Self;
    fn zero() -> Self;
}

macro_rules! native_int {
    ($t:ty, $variant:ident) => {
        impl NativeType for $t {
            const DTYPE: DType = DType::$variant;
            fn wrap(v: Vec<Self>) -> Data {
                Data::$variant(v)
            }
            fn slice(d: &Data) -> Option<&[Self]> {
                match d {
                    Data::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn to_i128(self) -> i128 {
                self as i128
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn from_i128(v: i128) -> Self {
                v as $t
            }
            fn zero() -> Self {
                0
            }
        }
    };
}
native_int!(i8, I8);
native_int!(i16, I16);
native_int!(i32, I32);
native_int!(i64, I64);
native_int!(u8, U8);
native_int!(u16, U16);
native_int!(u32, U32);
native_int!(u64, U64);

impl NativeType for bool {
    const DTYPE: DType = DType::Bool;
    fn wrap(v: Vec<Self>) -> Data {
        Data::Bool(v)
    }
    fn slice(d: &Data) -> Option<&[Self]> {
        match d {
            Data::Bool(v) => Some(v),
            _ => None,
        }
    }
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    fn to_i128(self) -> i128 {
        self as i128
    }
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    fn from_i128(v: i128) -> Self {
        v != 0
    }
    fn zero() -> Self {
        false
    }
}

macro_rules! native_float {
    ($t:ty, $variant:ident, $from_f64:expr, $to_f64:expr, $from_i128:expr) => {
        impl NativeType for $t {
            const DTYPE: DType = DType::$variant;
            fn wrap(v: Vec<Self>) -> Data {
                Data::$variant(v)
            }
            fn slice(d: &Data) -> Option<&[Self]> {
                match d {
                    Data::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn to_f64(self) -> f64 {
                let f: fn($t) -> f64 = $to_f64;
                f(self)
            }
            fn to_i128(self) -> i128 {
                self.to_f64() as i128
            }
            fn from_f64(v: f64) -> Self {
                let f: fn(f64) -> $t = $from_f64;
                f(v)
            }
            fn from_i128(v: i128) -> Self {
                let f: fn(i128) -> $t = $from_i128;
                f(v)
            }
            fn zero() -> Self {
                Self::from_f64(0.0)
            }
        }
    };
}
native_float!(f32, F32, |v| v as f32, |v| v as f64, |v| v as f32);
native_float!(f64, F64, |v| v, |v| v, |v| v as f64);
// i128 -> f32 rounds once, then f32 -> f16 may round again; for the integer
// magnitudes that fit f16 (< 65520) the first step is exact, so this is correct.
native_float!(f16, F16, f16::from_f64, f16::to_f64, |v| f16::from_f32(
    v as f32
));
native_float!(
    bf16,
    BF16,
    bf16::from_f64,
    bf16::to_f64,
    |v| bf16::from_f64(v as f64)
);

impl Data {
    pub fn dtype(&self) -> DType {
        with_data!(self, v => native_dtype_of(v))
    }

    pub fn len(&self) -> usize {
        with_data!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `n` zeros (false for bool) of `dtype`.
    pub fn zeros(dtype: DType, n: usize) -> Data {
        with_native_type!(dtype, T => T::wrap(vec![T::zero(); n]))
    }

    /// Elements at the given flat positions, in order.
    pub fn take(&self, idx: &[usize]) -> Data {
        with_data!(self, v => NativeType::wrap(idx.iter().map(|&i| v[i]).collect()))
    }

    /// Elements at the given flat positions; `None` takes element 0 of `fill`.
    pub fn take_or(&self, idx: &[Option<usize>], fill: &Data) -> Data {
        with_data!(self, v => {
            let fill_value = NativeType::slice(fill).expect("take_or: fill dtype differs")[0];
            NativeType::wrap(idx.iter().map(|i| i.map_or(fill_value, |i| v[i])).collect())
        })
    }

    /// Element `i` converted to f64.
    pub fn get_f64(&self, i: usize) -> f64 {
        with_data!(self, v => v[i].to_f64())
    }

    /// Element `i` converted to i128 (floats truncate).
    pub fn get_i128(&self, i: usize) -> i128 {
        with_data!(self, v => v[i].to_i128())
    }

    /// All elements converted to `dtype` with XLA's convert semantics.
    pub fn convert(&self, dtype: DType) -> Data {
        if self.dtype() == dtype {
            return self.clone();
        }
        let src_float = self.dtype().is_float();
        with_data!(self, v => with_native_type!(dtype, T => {
            let out: Vec<T> = if src_float && !dtype.is_bool() {
                if dtype.is_float() {
                    v.iter().map(|x| T::from_f64(x.to_f64())).collect()
                } else {
                    // float -> int saturates, NaN -> 0 (Rust `as` semantics = XLA's).
                    v.iter().map(|x| T::from_f64(x.to_f64().trunc())).collect()
                }
            } else if src_float {
                v.iter().map(|x| x.to_f64() != 0.0).map(|b| T::from_i128(b as i128)).collect()
            } else {
                v.iter().map(|x| T::from_i128(x.to_i128())).collect()
            };
            T::wrap(out)
        }))
    }

    /// Concatenation of several data of the same dtype.
    pub fn concat(parts: &[&Data]) -> Data {
        let dtype = parts[0].dtype();
        with_native_type!(dtype, T => {
            let mut out: Vec<T> = Vec::new();
            for p in parts {
                out.extend_from_slice(T::slice(p).expect("concat: dtype mismatch"));
            }
            T::wrap(out)
        })
    }

    /// Address of the first element (for backends that run native code on it).
    pub fn as_ptr(&self) -> *const u8 {
        with_data!(self, v => v.as_ptr().cast::<u8>())
    }

    /// Mutable address of the first element (for backends writing results).
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        with_data!(self, v => v.as_mut_ptr().cast::<u8>())
    }

    /// Raw little-endian bytes of the elements (bool as 0/1 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * self.dtype().size_bytes());
        match self {
            Data::Bool(v) => out.extend(v.iter().map(|&b| b as u8)),
            Data::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
            Data::U8(v) => out.extend_from_slice(v),
            Data::I16(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
            Data::U16(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
            Data::F16(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
            Data::BF16(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
            Data::I32(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
            Data::U32(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
            Data::F32(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
            Data::I64(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
            Data::U64(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
            Data::F64(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
        }
        out
    }

    /// Elements of `dtype` from little-endian bytes (the inverse of [`Data::to_bytes`]).
    pub fn from_bytes(dtype: DType, bytes: &[u8]) -> Data {
        fn chunks<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
            bytes
                .chunks_exact(N)
                .map(|c| c.try_into().expect("chunk size"))
        }
        match dtype {
            DType::Bool => Data::Bool(bytes.iter().map(|&b| b != 0).collect()),
            DType::I8 => Data::I8(bytes.iter().map(|&b| b as i8).collect()),
            DType::U8 => Data::U8(bytes.to_vec()),
            DType::I16 => Data::I16(chunks(bytes).map(i16::from_le_bytes).collect()),
            DType::U16 => Data::U16(chunks(bytes).map(u16::from_le_bytes).collect()),
            DType::F16 => Data::F16(chunks(bytes).map(f16::from_le_bytes).collect()),
            DType::BF16 => Data::BF16(chunks(bytes).map(bf16::from_le_bytes).collect()),
            DType::I32 => Data::I32(chunks(bytes).map(i32::from_le_bytes).collect()),
            DType::U32 => Data::U32(chunks(bytes).map(u32::from_le_bytes).collect()),
            DType::F32 => Data::F32(chunks(bytes).map(f32::from_le_bytes).collect()),
            DType::I64 => Data::I64(chunks(bytes).map(i64::from_le_bytes).collect()),
            DType::U64 => Data::U64(chunks(bytes).map(u64::from_le_bytes).collect()),
            DType::F64 => Data::F64(chunks(bytes).map(f64::from_le_bytes).collect()),
        }
    }
}

fn native_dtype_of<T: NativeType>(_: &[T]) -> DType {
    T::DTYPE
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        with_data!(self, v => write!(f, "{:?}", v))
    }
}

/// A host array: shape plus elements.
#[derive(Clone, PartialEq)]
pub struct Literal {
    shape: Shape,
    data: Data,
}

impl Literal {
    /// A literal from typed data; panics when the element count or dtype disagrees.
    pub fn new(shape: Shape, data: Data) -> Literal {
        assert_eq!(
            shape.dtype,
            data.dtype(),
            "Literal::new: shape dtype {} but data dtype {}",
            shape.dtype,
            data.dtype()
        );
        assert_eq!(
            shape.num_elements(),
            data.len(),
            "Literal::new: shape {} needs {} elements, got {}",
            shape,
            shape.num_elements(),
            data.len()
        );
        Literal { shape, data }
    }

    /// A literal from a vector of native values.
    pub fn from_vec<T: NativeType>(dims: &[usize], v: Vec<T>) -> Literal {
        Literal::new(Shape::new(T::DTYPE, dims), T::wrap(v))
    }

    /// A 0-d literal.
    pub fn scalar<T: NativeType>(v: T) -> Literal {
        Literal::from_vec(&[], vec![v])
    }

    /// A 0-d literal of `dtype` holding `v` converted with [`NativeType::from_f64`].
    pub fn scalar_f64(dtype: DType, v: f64) -> Literal {
        with_native_type!(dtype, T => Literal::scalar(T::from_f64(v)))
    }

    /// A 0-d literal of `dtype` holding `v` converted with [`NativeType::from_i128`].
    pub fn scalar_i128(dtype: DType, v: i128) -> Literal {
        with_native_type!(dtype, T => Literal::scalar(T::from_i128(v)))
    }

    pub fn zeros(shape: Shape) -> Literal {
        let n = shape.num_elements();
        let data = Data::zeros(shape.dtype, n);
        Literal { shape, data }
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    pub fn dtype(&self) -> DType {
        self.shape.dtype
    }

    pub fn dims(&self) -> &[usize] {
        &self.shape.dims
    }

    pub fn data(&self) -> &Data {
        &self.data
    }

    /// The elements, mutably (the shape cannot change).
    pub fn data_mut(&mut self) -> &mut Data {
        &mut self.data
    }

    pub fn into_data(self) -> Data {
        self.data
    }

    pub fn num_elements(&self) -> usize {
        self.data.len()
    }

    /// The elements as a slice of their native type; `None` if `T` is not the dtype.
    pub fn as_slice<T: NativeType>(&self) -> Option<&[T]> {
        T::slice(&self.data)
    }

    /// The same elements under new dims (same count).
    pub fn reshape(&self, dims: &[usize]) -> Literal {
        Literal::new(Shape::new(self.dtype(), dims), self.data.clone())
    }

    /// Elements converted to `dtype`.
    pub fn convert(&self, dtype: DType) -> Literal {
        Literal::new(self.shape.with_dtype(dtype), self.data.convert(dtype))
    }
}

impl fmt::Debug for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.shape, self.data)
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
