//! Array shapes: an element type and dimensions (row-major).

use crate::DType;
use std::fmt;

/// The type of an array value: element type plus dimensions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub dtype: DType,
    pub dims: Vec<usize>,
}

impl Shape {
    /// `self == other`, written as a loop: shapes are short, and a call to `memcmp`
    /// per comparison showed in the per-op dispatch profile.
    #[inline]
    pub fn same_as(&self, other: &Shape) -> bool {
        self.dtype == other.dtype && same_dims(&self.dims, &other.dims)
    }

    pub fn new(dtype: DType, dims: impl Into<Vec<usize>>) -> Shape {
        Shape {
            dtype,
            dims: dims.into(),
        }
    }

    /// A 0-d shape.
    pub fn scalar(dtype: DType) -> Shape {
        Shape {
            dtype,
            dims: vec![],
        }
    }

    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    pub fn num_elements(&self) -> usize {
        self.dims.iter().product()
    }

    pub fn size_bytes(&self) -> usize {
        self.num_elements() * self.dtype.size_bytes()
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        strides_of(&self.dims)
    }

    pub fn with_dtype(&self, dtype: DType) -> Shape {
        Shape {
            dtype,
            dims: self.dims.clone(),
        }
    }
}

/// Row-major strides (in elements) of `dims`.
pub fn strides_of(dims: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * dims[i + 1];
    }
    strides
}

/// Formats dims as `[2,3]` (jaxpr style: no spaces).
pub fn dims_text(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", inner.join(","))
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, dims_text(&self.dims))
    }
}

/// `a == b` for dimension lists, without a `memcmp` call (see [`Shape::same_as`]).
#[inline]
pub fn same_dims(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}
