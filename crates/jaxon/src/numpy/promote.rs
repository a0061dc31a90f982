//! Operands, type promotion and broadcasting for the numpy layer.

use crate::array::Array;
use crate::dtypes::{default_float, default_int, result_type, PType};
use crate::error::user_error;
use crate::lax;
use oxla::DType;

/// An argument of a numpy function before promotion: an array or a weak Rust scalar.
#[derive(Clone, Debug)]
pub enum Operand {
    Array(Array),
    Float(f64),
    Int(i128),
    Bool(bool),
}

impl Operand {
    /// The operand's type in the promotion lattice.
    pub fn ptype(&self) -> PType {
        match self {
            Operand::Array(a) => PType {
                dtype: a.dtype(),
                weak: a.weak_type(),
            },
            Operand::Float(_) => PType {
                dtype: default_float(),
                weak: true,
            },
            Operand::Int(_) => PType {
                dtype: default_int(),
                weak: true,
            },
            Operand::Bool(_) => PType {
                dtype: DType::Bool,
                weak: false,
            },
        }
    }

    pub fn shape(&self) -> &[usize] {
        match self {
            Operand::Array(a) => a.shape(),
            _ => &[],
        }
    }

    /// The operand as an array of the given dtype and weak flag.
    #[track_caller]
    pub fn materialize(&self, dtype: DType, weak: bool) -> Array {
        match self {
            Operand::Array(a) => lax::convert_weak(a, dtype, weak),
            Operand::Float(v) => {
                if dtype.is_float() {
                    Array::scalar_f64(*v, dtype, weak)
                } else {
                    Array::scalar_i128(*v as i128, dtype, weak)
                }
            }
            Operand::Int(v) => Array::scalar_i128(*v, dtype, weak),
            Operand::Bool(b) => Array::scalar_i128(*b as i128, dtype, weak),
        }
    }

    /// The operand as an array of its own (default) type.
    #[track_caller]
    pub fn into_array(self) -> Array {
        match self {
            Operand::Array(a) => a,
            other => {
                let t = other.ptype();
                other.materialize(t.dtype, t.weak)
            }
        }
    }
}

/// Anything a numpy function accepts as an array: `Array`, `&Array`, Rust scalars.
pub trait ArrayLike {
    fn operand(self) -> Operand;

    /// The value as an array (scalars become weakly typed 0-d arrays).
    #[track_caller]
    fn to_array(self) -> Array
    where
        Self: Sized,
    {
        self.operand().into_array()
    }
}

impl ArrayLike for Array {
    fn operand(self) -> Operand {
        Operand::Array(self)
    }
}

impl ArrayLike for &Array {
    fn operand(self) -> Operand {
        Operand::Array(self.clone())
    }
}

impl ArrayLike for &&Array {
    fn operand(self) -> Operand {
        Operand::Array((*self).clone())
    }
}

impl ArrayLike for Operand {
    fn operand(self) -> Operand {
        self
    }
}

macro_rules! float_like {
    ($($t:ty),*) => {$(
        impl ArrayLike for $t {
            fn operand(self) -> Operand {
                Operand::Float(self as f64)
            }
        }
    )*};
}
float_like!(f32, f64);

macro_rules! int_like {
    ($($t:ty),*) => {$(
        impl ArrayLike for $t {
            fn operand(self) -> Operand {
                Operand::Int(self as i128)
            }
        }
    )*};
}
int_like!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl ArrayLike for bool {
    fn operand(self) -> Operand {
        Operand::Bool(self)
    }
}

macro_rules! half_like {
    ($($t:ty),*) => {$(
        impl ArrayLike for $t {
            fn operand(self) -> Operand {
                Operand::Array(Array::from_vec(&[], vec![self]))
            }
        }
    )*};
}
half_like!(half::f16, half::bf16);

/// NumPy broadcasting of shapes; `None` if they do not broadcast.
pub fn try_broadcast_shapes(shapes: &[&[usize]]) -> Option<Vec<usize>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        let offset = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[offset + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return None;
            }
        }
    }
    Some(out)
}

/// NumPy broadcasting of shapes; panics naming `op` and the shapes when they clash.
#[track_caller]
pub fn broadcast_shapes(op: &str, shapes: &[&[usize]]) -> Vec<usize> {
    match try_broadcast_shapes(shapes) {
        Some(s) => s,
        None => {
            let list: Vec<String> = shapes.iter().map(|s| format!("{s:?}")).collect();
            user_error(format!(
                "{op}: shapes {} do not broadcast",
                list.join(" and ")
            ))
        }
    }
}

/// Broadcasts `x` to `shape` (right-aligned, NumPy rules).
#[track_caller]
pub fn broadcast_to_shape(x: &Array, shape: &[usize]) -> Array {
    if x.shape() == shape {
        return x.clone();
    }
    let offset = shape.len() - x.ndim();
    let dims: Vec<usize> = (offset..shape.len()).collect();
    lax::broadcast_in_dim(x, shape, &dims)
}

/// Promotes operands to their common dtype and broadcasts non-scalars to a common
/// shape (0-d operands stay 0-d: elementwise primitives accept them).
#[track_caller]
pub fn promote_operands(op: &str, operands: Vec<Operand>) -> Vec<Array> {
    let types: Vec<PType> = operands.iter().map(Operand::ptype).collect();
    let t = result_type(&types);
    let shapes: Vec<&[usize]> = operands.iter().map(Operand::shape).collect();
    let shape = broadcast_shapes(op, &shapes);
    operands
        .iter()
        .map(|o| {
            let a = o.materialize(t.dtype, t.weak);
            if a.ndim() == 0 {
                a
            } else {
                broadcast_to_shape(&a, &shape)
            }
        })
        .collect()
}

/// Promotes to a common dtype without broadcasting.
#[track_caller]
pub fn promote_dtypes(operands: Vec<Operand>) -> Vec<Array> {
    let types: Vec<PType> = operands.iter().map(Operand::ptype).collect();
    let t = result_type(&types);
    operands
        .iter()
        .map(|o| o.materialize(t.dtype, t.weak))
        .collect()
}

/// The operand converted to a float dtype if it is an integer or bool (for sin, mean...).
#[track_caller]
pub fn to_inexact(x: Operand) -> Array {
    let t = crate::dtypes::to_inexact(x.ptype());
    x.materialize(t.dtype, t.weak)
}

/// Normalizes a possibly negative axis; panics naming `op` when out of range.
#[track_caller]
pub fn canonical_axis(op: &str, axis: i64, ndim: usize) -> usize {
    let n = ndim as i64;
    if axis < -n || axis >= n {
        user_error(format!(
            "{op}: axis {axis} is out of bounds for an array of dimension {ndim}"
        ));
    }
    (if axis < 0 { axis + n } else { axis }) as usize
}

/// Normalizes several axes (sorted, deduplicated check).
#[track_caller]
pub fn canonical_axes(op: &str, axes: &[i64], ndim: usize) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::with_capacity(axes.len());
    for &a in axes {
        out.push(canonical_axis(op, a, ndim));
    }
    out.sort_unstable();
    if out.windows(2).any(|w| w[0] == w[1]) {
        user_error(format!("{op}: repeated axis in {axes:?}"));
    }
    out
}
