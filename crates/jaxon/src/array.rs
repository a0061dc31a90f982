//! `Array`: the one user-facing value, concrete (a device buffer) or a tracer.

use crate::core::aval::Aval;
use crate::core::trace::Tracer;
use crate::error::user_error;
use oxla::{Buffer, DType, Literal, NativeType};
use std::fmt;
use std::sync::Arc;

/// Rust element types that arrays can be built from and read into
/// (`bool`, `i8`..`i64`, `u8`..`u64`, `f16`, `bf16`, `f32`, `f64`).
pub trait Element: NativeType {}
impl<T: NativeType> Element for T {}

/// An n-dimensional array: concrete (immutable device memory, `Send + Sync`) or a
/// tracer of some transformation. Cloning is cheap (shared).
#[derive(Clone)]
pub struct Array(Arc<Repr>);

// Arrays are immutable, so observing one after a caught panic is fine.
impl std::panic::UnwindSafe for Array {}
impl std::panic::RefUnwindSafe for Array {}

enum Repr {
    Concrete { aval: Aval, buffer: Buffer },
    Traced(Tracer),
}

impl Array {
    /// A concrete array from a device buffer.
    pub fn from_buffer(buffer: Buffer, weak_type: bool) -> Array {
        let shape = buffer.shape();
        let aval = Aval::weak(shape.dims.clone(), shape.dtype, weak_type);
        Array(Arc::new(Repr::Concrete { aval, buffer }))
    }

    /// A concrete array holding a host literal (copied to the default device).
    pub fn from_literal(literal: Literal, weak_type: bool) -> Array {
        Array::from_buffer(
            oxla::default_client().buffer_from_literal(literal),
            weak_type,
        )
    }

    /// A concrete array from row-major values; panics if the count does not match.
    #[track_caller]
    pub fn from_vec<T: Element>(shape: &[usize], values: Vec<T>) -> Array {
        let n: usize = shape.iter().product();
        if n != values.len() {
            user_error(format!(
                "array: shape {shape:?} needs {n} elements, got {}",
                values.len()
            ));
        }
        Array::from_literal(Literal::from_vec(shape, values), false)
    }

    /// A 0-d array of `dtype` holding `v` (converted as by a cast).
    pub fn scalar_f64(v: f64, dtype: DType, weak_type: bool) -> Array {
        Array::from_literal(Literal::scalar_f64(dtype, v), weak_type)
    }

    /// A 0-d array of `dtype` holding `v` (integers wrap).
    pub fn scalar_i128(v: i128, dtype: DType, weak_type: bool) -> Array {
        Array::from_literal(Literal::scalar_i128(dtype, v), weak_type)
    }

    /// Wraps a tracer.
    pub fn from_tracer(t: Tracer) -> Array {
        Array(Arc::new(Repr::Traced(t)))
    }

    /// The abstract value: shape, dtype and weak type.
    pub fn aval(&self) -> Aval {
        self.aval_ref().clone()
    }

    fn aval_ref(&self) -> &Aval {
        match &*self.0 {
            Repr::Concrete { aval, .. } => aval,
            Repr::Traced(t) => &t.aval,
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.aval_ref().shape
    }

    pub fn dtype(&self) -> DType {
        self.aval_ref().dtype
    }

    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    pub fn size(&self) -> usize {
        self.shape().iter().product()
    }

    pub fn weak_type(&self) -> bool {
        self.aval_ref().weak_type
    }

    /// The tracer, if this array is being traced.
    pub fn as_tracer(&self) -> Option<&Tracer> {
        match &*self.0 {
            Repr::Traced(t) => Some(t),
            Repr::Concrete { .. } => None,
        }
    }

    pub fn is_concrete(&self) -> bool {
        self.as_tracer().is_none()
    }

    /// Whether both handles refer to the same array object.
    pub fn same_object(&self, other: &Array) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The device buffer of a concrete array.
    #[track_caller]
    pub fn buffer(&self) -> &Buffer {
        match &*self.0 {
            Repr::Concrete { buffer, .. } if buffer.is_deleted() => user_error(format!(
                "the array ({}) has been deleted: it was donated to a jitted function \
                 (JitOptions::donate); use the function's outputs instead",
                self.aval()
            )),
            Repr::Concrete { buffer, .. } => buffer,
            Repr::Traced(t) => concretization_error("buffer", &t.aval),
        }
    }

    /// The values as a host literal.
    #[track_caller]
    pub fn to_literal(&self) -> Literal {
        self.buffer().to_literal()
    }

    /// The values, row-major. `T` must be the array's element type.
    #[track_caller]
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        let buffer = self.buffer();
        match buffer.literal().as_slice::<T>() {
            Some(v) => v.to_vec(),
            None => user_error(format!(
                "to_vec: the array has dtype {}, asked for {} (use .astype first)",
                self.dtype(),
                T::DTYPE
            )),
        }
    }

    /// The value of a one-element array.
    #[track_caller]
    pub fn item<T: Element>(&self) -> T {
        if self.size() != 1 {
            user_error(format!(
                "item: the array has shape {:?}; only one-element arrays convert to a scalar",
                self.shape()
            ));
        }
        self.to_vec::<T>()[0]
    }

    /// The value of a one-element array of any dtype, as f64.
    #[track_caller]
    pub fn item_f64(&self) -> f64 {
        if self.size() != 1 {
            user_error(format!(
                "item: the array has shape {:?}; only one-element arrays convert to a scalar",
                self.shape()
            ));
        }
        self.to_literal().data().get_f64(0)
    }

    /// The values converted to f64 (any dtype), row-major.
    #[track_caller]
    pub fn to_f64_vec(&self) -> Vec<f64> {
        let lit = self.to_literal();
        (0..lit.num_elements())
            .map(|i| lit.data().get_f64(i))
            .collect()
    }

    /// Waits until the values are computed; returns `self` for chaining.
    pub fn block_until_ready(&self) -> &Array {
        if let Repr::Concrete { buffer, .. } = &*self.0 {
            buffer.block_until_ready();
        }
        self
    }
}

#[track_caller]
fn concretization_error(what: &str, aval: &Aval) -> ! {
    user_error(format!(
        "{what}: concretization error: the values of a traced array ({aval}) are not \
         known while tracing; use lax::cond / lax::while_loop for data-dependent control \
         flow, or move the computation outside the transformation"
    ))
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Repr::Concrete { aval, .. } => {
                write!(
                    f,
                    "Array({}, dtype={}",
                    crate::display::array_str(self),
                    aval.dtype.numpy_name()
                )?;
                if aval.weak_type {
                    write!(f, ", weak_type=True")?;
                }
                write!(f, ")")
            }
            Repr::Traced(t) => write!(f, "Traced<{}>with<{}>", t.aval, t.trace.kind()),
        }
    }
}

impl fmt::Display for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Repr::Concrete { .. } => f.write_str(&crate::display::array_str(self)),
            Repr::Traced(t) => write!(f, "Traced<{}>with<{}>", t.aval, t.trace.kind()),
        }
    }
}
