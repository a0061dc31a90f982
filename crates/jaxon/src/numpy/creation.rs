//! Array creation: `array`, `zeros`, `ones`, `full`, `*_like`, `arange`, `linspace`,
//! `logspace`, `eye`, `identity`, `tri`, `tril`, `triu`, `diag`, `diagonal`, `trace`.

use super::promote::{ArrayLike, Operand};
use crate::array::{Array, Element};
use crate::dtypes::{default_float, default_int};
use crate::error::user_error;
use crate::lax;
use oxla::{DType, Literal};

/// Host data that `array` accepts: Rust scalars, slices, `Vec`s and nested arrays.
pub trait HostData {
    type Elem: Element;
    /// Appends the elements (row-major) and returns the shape.
    fn collect_into(&self, out: &mut Vec<Self::Elem>) -> Vec<usize>;
}

macro_rules! scalar_host_data {
    ($($t:ty),*) => {$(
        impl HostData for $t {
            type Elem = $t;
            fn collect_into(&self, out: &mut Vec<$t>) -> Vec<usize> {
                out.push(*self);
                vec![]
            }
        }
    )*};
}
scalar_host_data!(
    bool,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    half::f16,
    half::bf16
);

fn collect_seq<T: HostData>(items: &[T], out: &mut Vec<T::Elem>) -> Vec<usize> {
    let mut inner: Option<Vec<usize>> = None;
    for item in items {
        let s = item.collect_into(out);
        match &inner {
            None => inner = Some(s),
            Some(prev) if *prev == s => {}
            Some(prev) => panic!("array: ragged nested data: shapes {prev:?} and {s:?}"),
        }
    }
    let mut shape = vec![items.len()];
    shape.extend(inner.unwrap_or_default());
    shape
}

impl<T: HostData, const N: usize> HostData for [T; N] {
    type Elem = T::Elem;
    fn collect_into(&self, out: &mut Vec<T::Elem>) -> Vec<usize> {
        collect_seq(self, out)
    }
}

impl<T: HostData> HostData for [T] {
    type Elem = T::Elem;
    fn collect_into(&self, out: &mut Vec<T::Elem>) -> Vec<usize> {
        collect_seq(self, out)
    }
}

impl<T: HostData> HostData for Vec<T> {
    type Elem = T::Elem;
    fn collect_into(&self, out: &mut Vec<T::Elem>) -> Vec<usize> {
        collect_seq(self, out)
    }
}

impl<T: HostData + ?Sized> HostData for &T {
    type Elem = T::Elem;
    fn collect_into(&self, out: &mut Vec<T::Elem>) -> Vec<usize> {
        (**self).collect_into(out)
    }
}

/// An array from host data, keeping the Rust element type exactly.
///
/// ```
/// use jaxon::numpy as jnp;
/// let m = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
/// assert_eq!(m.shape(), &[2, 2]);
/// let s = jnp::array(2.5f32);
/// assert_eq!(s.ndim(), 0);
/// ```
pub fn array<D: ArrayData>(data: D) -> Array {
    let mut values = Vec::new();
    let shape = data.host().collect_into(&mut values);
    Array::from_literal(Literal::from_vec(&shape, values), false)
}

/// What [`array`] accepts: a Rust scalar, a `Vec`, or a reference to a slice, an
/// array or nested arrays. (Fixed-size arrays are taken by reference only, so
/// `jnp::array(&[1.0f32, 2.0])` is the one spelling.)
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not array data for `jnp::array`",
    label = "pass scalars by value and slices, arrays and nested arrays by reference",
    note = "write `jnp::array(&[1.0f32, 2.0])`, `jnp::array(vec![..])` or `jnp::array(2.5f32)`"
)]
pub trait ArrayData {
    type Data: HostData + ?Sized;
    fn host(&self) -> &Self::Data;
}

impl<D: HostData + ?Sized> ArrayData for &D {
    type Data = D;
    fn host(&self) -> &D {
        self
    }
}

impl<T: HostData> ArrayData for Vec<T> {
    type Data = Vec<T>;
    fn host(&self) -> &Vec<T> {
        self
    }
}

macro_rules! scalar_array_data {
    ($($t:ty),*) => {$(
        impl ArrayData for $t {
            type Data = $t;
            fn host(&self) -> &$t {
                self
            }
        }
    )*};
}
scalar_array_data!(
    bool,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    half::f16,
    half::bf16
);

/// `array` then `astype(dtype)`.
#[track_caller]
pub fn array_as<D: ArrayData>(data: D, dtype: DType) -> Array {
    lax::convert_element_type(&array(data), dtype)
}

/// The value as an array (arrays pass through; scalars become weak 0-d arrays).
#[track_caller]
pub fn asarray(x: impl ArrayLike) -> Array {
    x.to_array()
}

/// An array of `shape` filled with `fill_value`, of `dtype` (default: the value's own).
#[track_caller]
pub fn full(shape: &[usize], fill_value: impl ArrayLike, dtype: Option<DType>) -> Array {
    let op = fill_value.operand();
    let v = match dtype {
        Some(d) => op.materialize(d, false),
        // A weak scalar fill without a dtype gives a weakly typed array, as in JAX.
        None => {
            let t = op.ptype();
            op.materialize(t.dtype, t.weak)
        }
    };
    if v.ndim() != 0 {
        user_error(format!(
            "full: fill_value must be a scalar, got shape {:?}",
            v.shape()
        ));
    }
    lax::broadcast_in_dim(&v, shape, &[])
}

/// Zeros of `shape` and `dtype`.
#[track_caller]
pub fn zeros(shape: &[usize], dtype: DType) -> Array {
    full(shape, 0, Some(dtype))
}

/// Ones of `shape` and `dtype`.
#[track_caller]
pub fn ones(shape: &[usize], dtype: DType) -> Array {
    full(shape, 1, Some(dtype))
}

/// Zeros with `x`'s shape and dtype.
#[track_caller]
pub fn zeros_like(x: &Array) -> Array {
    zeros(x.shape(), x.dtype())
}

/// Ones with `x`'s shape and dtype.
#[track_caller]
pub fn ones_like(x: &Array) -> Array {
    ones(x.shape(), x.dtype())
}

/// `fill_value` with `x`'s shape and dtype.
#[track_caller]
pub fn full_like(x: &Array, fill_value: impl ArrayLike) -> Array {
    full(x.shape(), fill_value, Some(x.dtype()))
}

fn scalar_f64(op: &Operand) -> f64 {
    match op {
        Operand::Float(v) => *v,
        Operand::Int(v) => *v as f64,
        Operand::Bool(b) => *b as u8 as f64,
        Operand::Array(a) => a.item_f64(),
    }
}

/// 0, 1, ..., stop-1 (an integer `stop` gives int32, a float gives float32).
///
/// ```
/// use jaxon::numpy as jnp;
/// assert_eq!(jnp::arange(4).to_vec::<i32>(), vec![0, 1, 2, 3]);
/// ```
#[track_caller]
pub fn arange(stop: impl ArrayLike) -> Array {
    arange_with(0, stop, 1, None)
}

/// `jnp.arange(start, stop, step, dtype)`.
#[track_caller]
pub fn arange_with(
    start: impl ArrayLike,
    stop: impl ArrayLike,
    step: impl ArrayLike,
    dtype: Option<DType>,
) -> Array {
    let ops = [start.operand(), stop.operand(), step.operand()];
    let all_int = ops.iter().all(|o| {
        matches!(o, Operand::Int(_)) || matches!(o, Operand::Array(a) if a.dtype().is_int())
    });
    let dtype = dtype.unwrap_or(if all_int {
        default_int()
    } else {
        default_float()
    });
    let [start, stop, step] = [
        scalar_f64(&ops[0]),
        scalar_f64(&ops[1]),
        scalar_f64(&ops[2]),
    ];
    if step == 0.0 {
        user_error("arange: step must not be zero");
    }
    let n = ((stop - start) / step).ceil().max(0.0) as usize;
    let values: Vec<f64> = if dtype.is_float() {
        // Like NumPy's arange (which JAX uses for concrete bounds): the step is the
        // difference of the first two values in `dtype`, and each value is
        // start + i * delta rounded in `dtype` (half types compute in float32).
        let calc = if dtype == DType::F64 {
            DType::F64
        } else {
            DType::F32
        };
        let r = |v: f64, d: DType| Literal::scalar_f64(d, v).data().get_f64(0);
        let first = r(start, dtype);
        let delta = r(r(start + step, dtype) - first, calc);
        (0..n)
            .map(|i| r(first + r(i as f64 * delta, calc), calc))
            .collect()
    } else {
        (0..n).map(|i| start + i as f64 * step).collect()
    };
    from_f64_values(&[n], &values, dtype)
}

/// An array of `dtype` from f64 values (converted like a cast).
pub fn from_f64_values(shape: &[usize], values: &[f64], dtype: DType) -> Array {
    let lit = Literal::from_vec(shape, values.to_vec()).convert(dtype);
    Array::from_literal(lit, false)
}

/// `num` evenly spaced float32 values from `start` to `stop` (inclusive).
#[track_caller]
pub fn linspace(start: f64, stop: f64, num: usize) -> Array {
    linspace_with(start, stop, num, true, None)
}

/// `jnp.linspace(start, stop, num, endpoint, dtype)`.
#[track_caller]
pub fn linspace_with(
    start: f64,
    stop: f64,
    num: usize,
    endpoint: bool,
    dtype: Option<DType>,
) -> Array {
    let div = if endpoint { num.saturating_sub(1) } else { num } as f64;
    let step = if div > 0.0 { (stop - start) / div } else { 0.0 };
    let mut values: Vec<f64> = (0..num).map(|i| start + i as f64 * step).collect();
    if endpoint && num > 1 {
        values[num - 1] = stop;
    }
    from_f64_values(&[num], &values, dtype.unwrap_or(default_float()))
}

/// The n×n float32 identity matrix.
#[track_caller]
pub fn eye(n: usize) -> Array {
    eye_with(n, None, 0, DType::F32)
}

/// `jnp.eye(n, m, k, dtype)`: ones on the k-th diagonal.
#[track_caller]
pub fn eye_with(n: usize, m: Option<usize>, k: i64, dtype: DType) -> Array {
    let m = m.unwrap_or(n);
    let mask = diagonal_mask(n, m, k, Diag::On);
    lax::convert_element_type(&mask, dtype)
}

/// The n×n identity of `dtype`.
#[track_caller]
pub fn identity(n: usize, dtype: DType) -> Array {
    eye_with(n, None, 0, dtype)
}

/// Which cells of an (n, m) grid a diagonal mask selects.
#[derive(Clone, Copy)]
enum Diag {
    /// col - row == k
    On,
    /// col - row <= k
    AtOrBelow,
}

/// Bool (n, m) mask relative to the k-th diagonal, built from iotas.
#[track_caller]
fn diagonal_mask(n: usize, m: usize, k: i64, which: Diag) -> Array {
    let rows = lax::broadcasted_iota(DType::I32, &[n, m], 0);
    let cols = lax::broadcasted_iota(DType::I32, &[n, m], 1);
    let shifted = lax::add(&rows, &Array::scalar_i128(k as i128, DType::I32, false));
    match which {
        Diag::On => lax::eq(&cols, &shifted),
        Diag::AtOrBelow => lax::le(&cols, &shifted),
    }
}

/// (n, m) array of `dtype` with ones at and below the k-th diagonal.
#[track_caller]
pub fn tri(n: usize, m: Option<usize>, k: i64, dtype: DType) -> Array {
    let mask = diagonal_mask(n, m.unwrap_or(n), k, Diag::AtOrBelow);
    lax::convert_element_type(&mask, dtype)
}

#[track_caller]
fn tri_select(x: &Array, k: i64, lower: bool, op: &str) -> Array {
    if x.ndim() < 2 {
        user_error(format!(
            "{op}: needs at least 2 dims, got shape {:?}",
            x.shape()
        ));
    }
    let (n, m) = (x.shape()[x.ndim() - 2], x.shape()[x.ndim() - 1]);
    let mask = if lower {
        diagonal_mask(n, m, k, Diag::AtOrBelow)
    } else {
        lax::not(&diagonal_mask(n, m, k - 1, Diag::AtOrBelow))
    };
    let mask = super::promote::broadcast_to_shape(&mask, x.shape());
    let zero = Array::scalar_i128(0, x.dtype(), false);
    let zero = lax::broadcast_in_dim(&zero, x.shape(), &[]);
    lax::select(&mask, x, &zero)
}

/// The lower triangle (at and below diagonal k) of the last two dims; zeros elsewhere.
#[track_caller]
pub fn tril(x: &Array, k: i64) -> Array {
    tri_select(x, k, true, "tril")
}

/// The upper triangle (at and above diagonal k) of the last two dims; zeros elsewhere.
#[track_caller]
pub fn triu(x: &Array, k: i64) -> Array {
    tri_select(x, k, false, "triu")
}

/// `num` values `base ** t` for `t` evenly spaced from `start` to `stop` (inclusive),
/// float32 (`jnp.logspace(start, stop, num)`).
///
/// ```
/// use jaxon::numpy as jnp;
/// assert_eq!(jnp::logspace(0.0, 2.0, 3).to_vec::<f32>(), vec![1.0, 10.0, 100.0]);
/// ```
#[track_caller]
pub fn logspace(start: f64, stop: f64, num: usize) -> Array {
    logspace_with(start, stop, num, true, 10.0, None)
}

/// `jnp.logspace(start, stop, num, endpoint, base, dtype)`: `base ** linspace(...)`
/// computed in floating point, then converted to `dtype`.
#[track_caller]
pub fn logspace_with(
    start: f64,
    stop: f64,
    num: usize,
    endpoint: bool,
    base: f64,
    dtype: Option<DType>,
) -> Array {
    let dtype = dtype.unwrap_or(default_float());
    let comp = if dtype.is_float() {
        dtype
    } else {
        default_float()
    };
    let lin = linspace_with(start, stop, num, endpoint, Some(comp));
    lax::convert_element_type(&super::math::power(base, &lin), dtype)
}

/// The diagonal at `offset` of the plane of `axis1` and `axis2`, as the last axis of
/// the result (the other axes keep their order).
///
/// ```
/// use jaxon::numpy as jnp;
/// let m = jnp::array(&[[1i32, 2, 3], [4, 5, 6]]);
/// assert_eq!(jnp::diagonal(&m, 1, 0, 1).to_vec::<i32>(), vec![2, 6]);
/// ```
#[track_caller]
pub fn diagonal(a: impl ArrayLike, offset: i64, axis1: i64, axis2: i64) -> Array {
    let a = a.to_array();
    let a = last_two("diagonal", &a, axis1, axis2);
    let nd = a.ndim();
    let (n, m) = (a.shape()[nd - 2] as i64, a.shape()[nd - 1] as i64);
    let d = (n + offset.min(0)).min(m - offset.max(0)).max(0) as usize;
    let (r0, c0) = if offset >= 0 {
        (0, offset as usize)
    } else {
        ((-offset) as usize, 0)
    };
    let (r0, c0) = if d == 0 { (0, 0) } else { (r0, c0) };
    // The d×d block whose main diagonal is wanted; flattened, that diagonal is every
    // (d+1)-th element.
    let block = lax::slice_in_dim(
        &lax::slice_in_dim(&a, r0, r0 + d, 1, nd - 2),
        c0,
        c0 + d,
        1,
        nd - 1,
    );
    let mut flat = a.shape()[..nd - 2].to_vec();
    flat.push(d * d);
    let block = lax::reshape(&block, &flat);
    lax::slice_in_dim(&block, 0, d * d, d + 1, nd - 2)
}

/// `a` with `axis1` and `axis2` moved to the end (checked: at least 2-d, distinct axes).
#[track_caller]
fn last_two(op: &str, a: &Array, axis1: i64, axis2: i64) -> Array {
    if a.ndim() < 2 {
        user_error(format!(
            "{op}: requires an array of at least two dimensions, got shape {:?}",
            a.shape()
        ));
    }
    let a1 = super::promote::canonical_axis(op, axis1, a.ndim());
    let a2 = super::promote::canonical_axis(op, axis2, a.ndim());
    if a1 == a2 {
        user_error(format!(
            "{op}: axis1 and axis2 cannot be the same (both {a1})"
        ));
    }
    let mut perm: Vec<usize> = (0..a.ndim()).filter(|&d| d != a1 && d != a2).collect();
    perm.extend([a1, a2]);
    lax::transpose(a, &perm)
}

/// 1-d `v`: a square matrix with `v` on diagonal `k`. 2-d `v`: its diagonal `k`.
///
/// ```
/// use jaxon::numpy as jnp;
/// let m = jnp::diag(&jnp::array(&[1i32, 2]), 1);
/// assert_eq!(m.to_vec::<i32>(), vec![0, 1, 0, 0, 0, 2, 0, 0, 0]);
/// ```
#[track_caller]
pub fn diag(v: impl ArrayLike, k: i64) -> Array {
    let v = v.to_array();
    match v.ndim() {
        1 => {
            let n = v.shape()[0] + k.unsigned_abs() as usize;
            let zero = Array::scalar_i128(0, v.dtype(), false);
            let padded = lax::pad(&v, &zero, &[(k.max(0), (-k).max(0), 0)]);
            let rows = lax::broadcast_in_dim(&padded, &[n, n], &[1]);
            let mask = diagonal_mask(n, n, k, Diag::On);
            lax::select(&mask, &rows, &lax::broadcast_in_dim(&zero, &[n, n], &[]))
        }
        2 => diagonal(&v, k, 0, 1),
        _ => user_error(format!(
            "diag: input must be 1-d or 2-d, got shape {:?}",
            v.shape()
        )),
    }
}

/// Sum of the diagonal at `offset` of the plane of `axis1` and `axis2` (integers
/// accumulate like [`sum`](super::reductions::sum)).
#[track_caller]
pub fn trace(a: impl ArrayLike, offset: i64, axis1: i64, axis2: i64) -> Array {
    let a = a.to_array();
    let a = last_two("trace", &a, axis1, axis2);
    let nd = a.ndim();
    let (n, m) = (a.shape()[nd - 2], a.shape()[nd - 1]);
    // Like JAX: zero everything off the diagonal and sum the plane.
    let mask =
        super::promote::broadcast_to_shape(&diagonal_mask(n, m, offset, Diag::On), a.shape());
    let zero = lax::broadcast_in_dim(&Array::scalar_i128(0, a.dtype(), false), a.shape(), &[]);
    let masked = lax::select(&mask, &a, &zero);
    super::reductions::sum(&masked, Some(&[-2, -1]), false)
}
