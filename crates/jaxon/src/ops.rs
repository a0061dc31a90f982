//! Operator overloading: `+ - * / %` and unary `-` on `Array`, `&Array` and Rust
//! scalars, with jax.numpy promotion and broadcasting.

use crate::array::Array;
use crate::numpy::{self as jnp, ArrayLike};
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

macro_rules! array_binop {
    ($Trait:ident, $method:ident, $func:path) => {
        impl<R: ArrayLike> $Trait<R> for Array {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: R) -> Array {
                $func(self, rhs)
            }
        }

        impl<R: ArrayLike> $Trait<R> for &Array {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: R) -> Array {
                $func(self, rhs)
            }
        }
    };
}

array_binop!(Add, add, jnp::add);
array_binop!(Sub, sub, jnp::subtract);
array_binop!(Mul, mul, jnp::multiply);
array_binop!(Div, div, jnp::divide);
array_binop!(Rem, rem, jnp::remainder);

macro_rules! scalar_lhs {
    ($($t:ty),*) => {$(
        scalar_lhs!(@op $t, Add, add, jnp::add);
        scalar_lhs!(@op $t, Sub, sub, jnp::subtract);
        scalar_lhs!(@op $t, Mul, mul, jnp::multiply);
        scalar_lhs!(@op $t, Div, div, jnp::divide);
        scalar_lhs!(@op $t, Rem, rem, jnp::remainder);
    )*};
    (@op $t:ty, $Trait:ident, $method:ident, $func:path) => {
        impl $Trait<Array> for $t {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: Array) -> Array {
                $func(self, rhs)
            }
        }

        impl $Trait<&Array> for $t {
            type Output = Array;
            #[track_caller]
            fn $method(self, rhs: &Array) -> Array {
                $func(self, rhs)
            }
        }
    };
}

scalar_lhs!(f32, f64, i32, i64, u32, u8);

impl Neg for Array {
    type Output = Array;
    #[track_caller]
    fn neg(self) -> Array {
        jnp::negative(self)
    }
}

impl Neg for &Array {
    type Output = Array;
    #[track_caller]
    fn neg(self) -> Array {
        jnp::negative(self)
    }
}
