//! NumPy-style methods on `Array` (`x.sum(None)`, `x.reshape(&[-1, 1])`, `x.gt(1.5)`).

use crate::array::Array;
use crate::lax;
use crate::numpy::{self as jnp, ArrayLike};
use oxla::DType;

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $func:path;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(&self) -> Array {
            $func(self)
        }
    )*};
}

macro_rules! compare_methods {
    ($($(#[$doc:meta])* $name:ident => $func:path;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(&self, other: impl ArrayLike) -> Array {
            $func(self, other)
        }
    )*};
}

impl Array {
    unary_methods! {
        exp => jnp::exp;
        log => jnp::log;
        log1p => jnp::log1p;
        expm1 => jnp::expm1;
        sqrt => jnp::sqrt;
        sin => jnp::sin;
        cos => jnp::cos;
        tan => jnp::tan;
        tanh => jnp::tanh;
        sinh => jnp::sinh;
        cosh => jnp::cosh;
        abs => jnp::abs;
        sign => jnp::sign;
        floor => jnp::floor;
        ceil => jnp::ceil;
        square => jnp::square;
        reciprocal => jnp::reciprocal;
        ravel => jnp::ravel;
        /// Flattens to 1-d (alias of `ravel`).
        flatten => jnp::ravel;
        /// Logical not (bool) or bitwise not (integers).
        not => jnp::invert;
    }

    compare_methods! {
        /// `self < other` elementwise.
        lt => jnp::less;
        /// `self <= other` elementwise.
        le => jnp::less_equal;
        /// `self > other` elementwise.
        gt => jnp::greater;
        /// `self >= other` elementwise.
        ge => jnp::greater_equal;
        /// `self == other` elementwise.
        eq => jnp::equal;
        /// `self != other` elementwise.
        ne => jnp::not_equal;
        /// Elementwise maximum.
        maximum => jnp::maximum;
        /// Elementwise minimum.
        minimum => jnp::minimum;
        /// `self ** other`.
        pow => jnp::power;
    }

    /// Row-major reshape; one dim may be -1.
    #[track_caller]
    pub fn reshape(&self, shape: &[i64]) -> Array {
        jnp::reshape(self, shape)
    }

    /// The transpose (axes reversed).
    #[track_caller]
    pub fn t(&self) -> Array {
        jnp::transpose(self, None)
    }

    /// Permutes axes.
    #[track_caller]
    pub fn transpose(&self, axes: &[i64]) -> Array {
        jnp::transpose(self, Some(axes))
    }

    /// Converts to `dtype`.
    #[track_caller]
    pub fn astype(&self, dtype: DType) -> Array {
        lax::convert_element_type(self, dtype)
    }

    /// Sum over `axes` (None = all).
    #[track_caller]
    pub fn sum(&self, axes: Option<&[i64]>) -> Array {
        jnp::sum(self, axes, false)
    }

    /// Mean over `axes` (None = all).
    #[track_caller]
    pub fn mean(&self, axes: Option<&[i64]>) -> Array {
        jnp::mean(self, axes, false)
    }

    /// Product over `axes` (None = all).
    #[track_caller]
    pub fn prod(&self, axes: Option<&[i64]>) -> Array {
        jnp::prod(self, axes, false)
    }

    /// Maximum over `axes` (None = all).
    #[track_caller]
    pub fn max(&self, axes: Option<&[i64]>) -> Array {
        jnp::max(self, axes, false)
    }

    /// Minimum over `axes` (None = all).
    #[track_caller]
    pub fn min(&self, axes: Option<&[i64]>) -> Array {
        jnp::min(self, axes, false)
    }

    /// Index of the maximum along `axis` (None = flattened).
    #[track_caller]
    pub fn argmax(&self, axis: Option<i64>) -> Array {
        jnp::argmax(self, axis)
    }

    /// Index of the minimum along `axis` (None = flattened).
    #[track_caller]
    pub fn argmin(&self, axis: Option<i64>) -> Array {
        jnp::argmin(self, axis)
    }

    /// True if every element is truthy over `axes`.
    #[track_caller]
    pub fn all(&self, axes: Option<&[i64]>) -> Array {
        jnp::all(self, axes, false)
    }

    /// True if any element is truthy over `axes`.
    #[track_caller]
    pub fn any(&self, axes: Option<&[i64]>) -> Array {
        jnp::any(self, axes, false)
    }

    /// Clips into `[lo, hi]`.
    #[track_caller]
    pub fn clip(&self, lo: impl ArrayLike, hi: impl ArrayLike) -> Array {
        jnp::clip(self, lo, hi)
    }

    /// Removes all size-1 axes.
    #[track_caller]
    pub fn squeeze(&self) -> Array {
        jnp::squeeze(self, None)
    }

    /// Inserts a size-1 axis.
    #[track_caller]
    pub fn expand_dims(&self, axis: i64) -> Array {
        jnp::expand_dims(self, axis)
    }
}
