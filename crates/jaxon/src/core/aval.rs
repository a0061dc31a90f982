//! Abstract values: what a tracer knows about an array.

use oxla::{DType, Shape};
use std::fmt;

/// Shape, dtype and weak type of an array: everything but its values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Aval {
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// Weakly typed values (from Rust scalars) give way to the other operand's dtype
    /// in type promotion.
    pub weak_type: bool,
}

impl Aval {
    pub fn new(shape: impl Into<Vec<usize>>, dtype: DType) -> Aval {
        Aval {
            shape: shape.into(),
            dtype,
            weak_type: false,
        }
    }

    pub fn weak(shape: impl Into<Vec<usize>>, dtype: DType, weak_type: bool) -> Aval {
        Aval {
            shape: shape.into(),
            dtype,
            weak_type,
        }
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The oxla shape (dtype and dims).
    pub fn oxla_shape(&self) -> Shape {
        Shape::new(self.dtype, self.shape.clone())
    }

    pub fn with_dtype(&self, dtype: DType) -> Aval {
        Aval {
            shape: self.shape.clone(),
            dtype,
            weak_type: self.weak_type,
        }
    }

    pub fn with_shape(&self, shape: impl Into<Vec<usize>>) -> Aval {
        Aval {
            shape: shape.into(),
            dtype: self.dtype,
            weak_type: self.weak_type,
        }
    }

    pub fn strong(&self) -> Aval {
        Aval {
            weak_type: false,
            ..self.clone()
        }
    }
}

/// Prints as in jaxprs: `f32[2,3]` (weak types are not shown).
impl fmt::Display for Aval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, oxla::dims_text(&self.shape))
    }
}
