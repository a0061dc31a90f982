//! Reductions with axes and keepdims: sum, mean, prod, max, min, argmax, argmin,
//! var, std, all, any, logsumexp; their `dtype=`/`initial=` forms; NaN-ignoring
//! reductions; count_nonzero, average, ptp, median.

use super::promote::{canonical_axes, canonical_axis, to_inexact, ArrayLike, Operand};
use crate::array::Array;
use crate::dtypes::default_int;
use crate::error::user_error;
use crate::lax;
use crate::prim::reduce::ReduceKind;
use oxla::DType;

/// Resolves `axes` (None = all) for an array of rank `ndim`.
#[track_caller]
fn resolve_axes(op: &str, axes: Option<&[i64]>, ndim: usize) -> Vec<usize> {
    match axes {
        None => (0..ndim).collect(),
        Some(a) => canonical_axes(op, a, ndim),
    }
}

/// Re-inserts reduced axes as size 1 when `keepdims`.
#[track_caller]
fn keep(x: Array, axes: &[usize], keepdims: bool) -> Array {
    if !keepdims {
        return x;
    }
    let mut dims = axes.to_vec();
    dims.sort_unstable();
    lax::expand_dims(&x, &dims)
}

/// Sum accumulation dtype like jax.numpy: bool and narrow ints sum as the default
/// int; unsigned narrow ints as uint32.
fn sum_dtype(d: DType) -> DType {
    match d {
        DType::Bool | DType::I8 | DType::I16 => default_int(),
        DType::U8 | DType::U16 => DType::U32,
        d => d,
    }
}

#[track_caller]
fn reduce_with(
    op: &str,
    x: impl ArrayLike,
    axes: Option<&[i64]>,
    keepdims: bool,
    kind: ReduceKind,
    upcast: bool,
) -> Array {
    let x = x.to_array();
    let axes = resolve_axes(op, axes, x.ndim());
    let x = if upcast {
        lax::convert_weak(&x, sum_dtype(x.dtype()), x.weak_type())
    } else {
        x
    };
    let r = if upcast {
        with_f16_upcast(&x, |x| lax::reduce(x, kind, &axes))
    } else {
        lax::reduce(&x, kind, &axes)
    };
    keep(r, &axes, keepdims)
}

/// Runs `f` on float16/bfloat16 input in float32 and converts back, as JAX does for
/// sums, products, means and variances (so half-precision sums do not overflow early).
#[track_caller]
fn with_f16_upcast(x: &Array, f: impl FnOnce(&Array) -> Array) -> Array {
    let d = x.dtype();
    if d == DType::F16 || d == DType::BF16 {
        let r = f(&lax::convert_weak(x, DType::F32, x.weak_type()));
        lax::convert_weak(&r, d, r.weak_type())
    } else {
        f(x)
    }
}

/// Sum over `axes` (None = all).
///
/// ```
/// use jaxon::numpy as jnp;
/// let m = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
/// assert_eq!(jnp::sum(&m, Some(&[1]), false).to_vec::<f32>(), vec![3.0, 7.0]);
/// ```
#[track_caller]
pub fn sum(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    reduce_with("sum", x, axes, keepdims, ReduceKind::Sum, true)
}

/// Product over `axes`.
#[track_caller]
pub fn prod(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    reduce_with("prod", x, axes, keepdims, ReduceKind::Prod, true)
}

#[track_caller]
fn check_nonempty(op: &str, x: &Array, axes: &[usize]) {
    if axes.iter().any(|&a| x.shape()[a] == 0) {
        user_error(format!(
            "{op}: zero-size array to reduction operation with no identity (shape {:?})",
            x.shape()
        ));
    }
}

/// Maximum over `axes` (NaN propagates).
#[track_caller]
pub fn max(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = x.to_array();
    check_nonempty("max", &x, &resolve_axes("max", axes, x.ndim()));
    reduce_with("max", x, axes, keepdims, ReduceKind::Max, false)
}

/// Minimum over `axes` (NaN propagates).
#[track_caller]
pub fn min(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = x.to_array();
    check_nonempty("min", &x, &resolve_axes("min", axes, x.ndim()));
    reduce_with("min", x, axes, keepdims, ReduceKind::Min, false)
}

/// Alias of [`max`].
#[track_caller]
pub fn amax(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    max(x, axes, keepdims)
}

/// Alias of [`min`].
#[track_caller]
pub fn amin(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    min(x, axes, keepdims)
}

#[track_caller]
fn truthy(x: Array) -> Array {
    if x.dtype() == DType::Bool {
        x
    } else {
        lax::ne(&x, &lax::full_like_scalar(&x, 0.0))
    }
}

/// True if all elements over `axes` are truthy.
#[track_caller]
pub fn all(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = truthy(x.to_array());
    reduce_with("all", x, axes, keepdims, ReduceKind::And, false)
}

/// True if any element over `axes` is truthy.
#[track_caller]
pub fn any(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = truthy(x.to_array());
    reduce_with("any", x, axes, keepdims, ReduceKind::Or, false)
}

/// Number of reduced elements as an array of `like`'s dtype.
fn count(x: &Array, axes: &[usize], like: &Array) -> Array {
    let n: usize = axes.iter().map(|&a| x.shape()[a]).product();
    lax::full_like_scalar(like, n as f64)
}

/// Arithmetic mean over `axes` (integers average in float32).
#[track_caller]
pub fn mean(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = to_inexact(x.operand());
    let ax = resolve_axes("mean", axes, x.ndim());
    let m = with_f16_upcast(&x, |x| {
        let s = lax::reduce_sum(x, &ax);
        lax::div(&s, &count(x, &ax, &s))
    });
    keep(m, &ax, keepdims)
}

/// Variance over `axes` with `ddof` delta degrees of freedom.
#[track_caller]
pub fn var(x: impl ArrayLike, axes: Option<&[i64]>, ddof: usize, keepdims: bool) -> Array {
    let x = to_inexact(x.operand());
    let ax = resolve_axes("var", axes, x.ndim());
    let v = with_f16_upcast(&x, |x| {
        let mu = keep(mean(x, axes, false), &ax, true);
        let centered = lax::sub(x, &super::promote::broadcast_to_shape(&mu, x.shape()));
        let sq = lax::mul(&centered, &centered);
        let s = lax::reduce_sum(&sq, &ax);
        let n: usize = ax.iter().map(|&a| x.shape()[a]).product();
        let denom = lax::full_like_scalar(&s, n as f64 - ddof as f64);
        lax::div(&s, &denom)
    });
    keep(v, &ax, keepdims)
}

/// Standard deviation over `axes`.
#[track_caller]
pub fn std(x: impl ArrayLike, axes: Option<&[i64]>, ddof: usize, keepdims: bool) -> Array {
    lax::sqrt(&var(x, axes, ddof, keepdims))
}

#[track_caller]
fn arg_extreme(op: &str, x: impl ArrayLike, axis: Option<i64>, is_max: bool) -> Array {
    let x = x.to_array();
    let (x, axis) = match axis {
        None => (lax::reshape(&x, &[x.size()]), 0),
        Some(a) => {
            let a = canonical_axis(op, a, x.ndim());
            (x, a)
        }
    };
    if x.shape()[axis] == 0 {
        user_error(format!(
            "{op}: attempt to get {op} of an empty sequence (shape {:?})",
            x.shape()
        ));
    }
    if is_max {
        lax::argmax(&x, axis, DType::I32)
    } else {
        lax::argmin(&x, axis, DType::I32)
    }
}

/// Index of the first maximum along `axis` (None = flattened); NaN counts as maximal.
#[track_caller]
pub fn argmax(x: impl ArrayLike, axis: Option<i64>) -> Array {
    arg_extreme("argmax", x, axis, true)
}

/// Index of the first minimum along `axis` (None = flattened); NaN counts as minimal.
#[track_caller]
pub fn argmin(x: impl ArrayLike, axis: Option<i64>) -> Array {
    arg_extreme("argmin", x, axis, false)
}

/// log(sum(exp(x))) over `axes`, computed stably.
#[track_caller]
pub fn logsumexp(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = to_inexact(x.operand());
    let ax = resolve_axes("logsumexp", axes, x.ndim());
    let m = lax::reduce_max(&x, &ax);
    // Infinite maxima would give inf - inf = NaN; shift by 0 there instead.
    let finite = lax::is_finite(&m);
    let m = lax::select(
        &finite,
        &m,
        &lax::broadcast_in_dim(&lax::full_like_scalar(&m, 0.0), m.shape(), &[]),
    );
    let mk = keep(m.clone(), &ax, true);
    let shifted = lax::sub(&x, &super::promote::broadcast_to_shape(&mk, x.shape()));
    let s = lax::reduce_sum(&lax::exp(&shifted), &ax);
    let out = lax::add(&lax::log(&s), &m);
    keep(out, &ax, keepdims)
}

// ---- option forms -------------------------------------------------------------------

/// The `dtype=` and `initial=` keywords of [`sum_with`], [`prod_with`], [`max_with`]
/// and [`min_with`].
///
/// ```
/// use jaxon::numpy::{self as jnp, ReduceOptions};
/// use jaxon::DType;
/// let x = jnp::array(&[1.5f32, 2.5]);
/// let s = jnp::sum_with(&x, None, false, ReduceOptions::new().dtype(DType::I32));
/// assert_eq!(s.to_vec::<i32>(), vec![3]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ReduceOptions {
    /// The dtype the input is converted to before reducing, and of the result.
    pub dtype: Option<DType>,
    /// A scalar combined with the reduced value (max/min of an empty axis then is it).
    pub initial: Option<Operand>,
}

impl ReduceOptions {
    /// No options: the plain reduction.
    pub fn new() -> ReduceOptions {
        ReduceOptions::default()
    }

    /// Sets `dtype`.
    pub fn dtype(mut self, dtype: DType) -> ReduceOptions {
        self.dtype = Some(dtype);
        self
    }

    /// Sets `initial`.
    pub fn initial(mut self, initial: impl ArrayLike) -> ReduceOptions {
        self.initial = Some(initial.operand());
        self
    }
}

/// jax.numpy's `_reduction` with `dtype`/`initial`: convert, reduce, combine with
/// `initial`, convert to the result dtype.
#[track_caller]
fn reduce_opts(
    op: &str,
    x: impl ArrayLike,
    axes: Option<&[i64]>,
    keepdims: bool,
    kind: ReduceKind,
    opts: ReduceOptions,
) -> Array {
    let x = x.to_array();
    let ax = resolve_axes(op, axes, x.ndim());
    let additive = matches!(kind, ReduceKind::Sum | ReduceKind::Prod);
    if opts.initial.is_none() && !additive {
        check_nonempty(op, &x, &ax);
    }
    let result_dtype = opts.dtype.unwrap_or(if additive {
        sum_dtype(x.dtype())
    } else {
        x.dtype()
    });
    // An explicit dtype gives a strong result; otherwise weakness is kept as in `sum`.
    let weak = opts.dtype.is_none() && x.weak_type();
    let comp = match result_dtype {
        DType::F16 | DType::BF16 if additive => DType::F32,
        d => d,
    };
    let kind = match (kind, comp) {
        (ReduceKind::Sum | ReduceKind::Max, DType::Bool) => ReduceKind::Or,
        (ReduceKind::Prod | ReduceKind::Min, DType::Bool) => ReduceKind::And,
        (k, _) => k,
    };
    let a = lax::convert_weak(&x, comp, weak);
    let mut r = lax::reduce(&a, kind, &ax);
    if let Some(init) = opts.initial {
        if !init.shape().is_empty() {
            user_error(format!(
                "{op}: initial value must be a scalar, got an array of shape {:?}",
                init.shape()
            ));
        }
        let i = init.materialize(comp, false);
        r = match kind {
            ReduceKind::Sum => lax::add(&i, &r),
            ReduceKind::Prod => lax::mul(&i, &r),
            ReduceKind::Max => lax::max(&i, &r),
            ReduceKind::Min => lax::min(&i, &r),
            ReduceKind::Or => lax::bitwise_or(&i, &r),
            _ => lax::bitwise_and(&i, &r),
        };
    }
    let r = keep(r, &ax, keepdims);
    lax::convert_weak(&r, result_dtype, weak)
}

/// [`sum`] with `dtype=`/`initial=` (an integer `dtype` sums in that dtype, wrapping).
#[track_caller]
pub fn sum_with(
    x: impl ArrayLike,
    axes: Option<&[i64]>,
    keepdims: bool,
    opts: ReduceOptions,
) -> Array {
    reduce_opts("sum", x, axes, keepdims, ReduceKind::Sum, opts)
}

/// [`prod`] with `dtype=`/`initial=`.
#[track_caller]
pub fn prod_with(
    x: impl ArrayLike,
    axes: Option<&[i64]>,
    keepdims: bool,
    opts: ReduceOptions,
) -> Array {
    reduce_opts("prod", x, axes, keepdims, ReduceKind::Prod, opts)
}

/// [`max`] with `dtype=`/`initial=` (with `initial`, empty axes are allowed).
#[track_caller]
pub fn max_with(
    x: impl ArrayLike,
    axes: Option<&[i64]>,
    keepdims: bool,
    opts: ReduceOptions,
) -> Array {
    reduce_opts("max", x, axes, keepdims, ReduceKind::Max, opts)
}

/// [`min`] with `dtype=`/`initial=` (with `initial`, empty axes are allowed).
#[track_caller]
pub fn min_with(
    x: impl ArrayLike,
    axes: Option<&[i64]>,
    keepdims: bool,
    opts: ReduceOptions,
) -> Array {
    reduce_opts("min", x, axes, keepdims, ReduceKind::Min, opts)
}

/// [`mean`] with `dtype=`: sums in `dtype` (float16/bfloat16 in float32), divides by
/// the count, converts to `dtype`.
#[track_caller]
pub fn mean_with(
    x: impl ArrayLike,
    axes: Option<&[i64]>,
    keepdims: bool,
    dtype: Option<DType>,
) -> Array {
    let Some(d) = dtype else {
        return mean(x, axes, keepdims);
    };
    let x = x.to_array();
    let ax = resolve_axes("mean", axes, x.ndim());
    let comp = match d {
        DType::F16 | DType::BF16 => DType::F32,
        d => d,
    };
    let s = sum_with(&x, axes, keepdims, ReduceOptions::new().dtype(comp));
    let m = lax::div(&s, &count(&x, &ax, &s));
    lax::convert_element_type(&m, d)
}

/// [`argmax`] with `keepdims` (the reduced axis, or every axis for None, kept as size 1).
#[track_caller]
pub fn argmax_with(x: impl ArrayLike, axis: Option<i64>, keepdims: bool) -> Array {
    let x = x.to_array();
    let r = arg_extreme("argmax", &x, axis, true);
    keep_arg(r, &x, axis, keepdims)
}

/// [`argmin`] with `keepdims`.
#[track_caller]
pub fn argmin_with(x: impl ArrayLike, axis: Option<i64>, keepdims: bool) -> Array {
    let x = x.to_array();
    let r = arg_extreme("argmin", &x, axis, false);
    keep_arg(r, &x, axis, keepdims)
}

fn keep_arg(r: Array, x: &Array, axis: Option<i64>, keepdims: bool) -> Array {
    let dims: Vec<usize> = match axis {
        None => (0..x.ndim()).collect(),
        // Already validated by arg_extreme.
        Some(a) => vec![a.rem_euclid(x.ndim() as i64) as usize],
    };
    keep(r, &dims, keepdims)
}

// ---- NaN-ignoring reductions ----------------------------------------------------------

/// `x` with NaNs replaced by `v` (only called for float arrays).
#[track_caller]
fn replace_nan(x: &Array, v: f64) -> Array {
    let fill = lax::broadcast_in_dim(&lax::full_like_scalar(x, v), x.shape(), &[]);
    lax::select(&lax::ne(x, x), &fill, x)
}

/// Sum over `axes` treating NaN as zero.
#[track_caller]
pub fn nansum(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = x.to_array();
    if !x.dtype().is_float() {
        return sum(x, axes, keepdims);
    }
    sum(replace_nan(&x, 0.0), axes, keepdims)
}

/// Product over `axes` treating NaN as one.
#[track_caller]
pub fn nanprod(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = x.to_array();
    if !x.dtype().is_float() {
        return prod(x, axes, keepdims);
    }
    prod(replace_nan(&x, 1.0), axes, keepdims)
}

#[track_caller]
fn nan_extreme(op: &str, x: Array, axes: Option<&[i64]>, keepdims: bool, is_max: bool) -> Array {
    let f = if is_max { max } else { min };
    if !x.dtype().is_float() {
        return f(x, axes, keepdims);
    }
    check_nonempty(op, &x, &resolve_axes(op, axes, x.ndim()));
    let fill = if is_max {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };
    let out = f(replace_nan(&x, fill), axes, keepdims);
    // All-NaN slices give NaN.
    let all_nan = all(lax::ne(&x, &x), axes, keepdims);
    let nan = lax::broadcast_in_dim(&lax::full_like_scalar(&out, f64::NAN), out.shape(), &[]);
    lax::select(&all_nan, &nan, &out)
}

/// Maximum over `axes` ignoring NaN (NaN only for all-NaN slices).
#[track_caller]
pub fn nanmax(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    nan_extreme("nanmax", x.to_array(), axes, keepdims, true)
}

/// Minimum over `axes` ignoring NaN (NaN only for all-NaN slices).
#[track_caller]
pub fn nanmin(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    nan_extreme("nanmin", x.to_array(), axes, keepdims, false)
}

/// Mean over `axes` of the non-NaN elements (integers: like [`mean`]).
#[track_caller]
pub fn nanmean(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = x.to_array();
    let d = x.dtype();
    if !d.is_float() {
        return mean(x, axes, keepdims);
    }
    let not_nan = lax::eq(&x, &x);
    let n = sum_with(&not_nan, axes, keepdims, ReduceOptions::new().dtype(d));
    lax::div(&nansum(&x, axes, keepdims), &n)
}

// ---- other statistics -----------------------------------------------------------------

/// Number of nonzero (truthy) elements over `axes`, as the default int dtype.
#[track_caller]
pub fn count_nonzero(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let t = truthy(x.to_array());
    sum_with(
        &t,
        axes,
        keepdims,
        ReduceOptions::new().dtype(default_int()),
    )
}

/// Range (max - min) over `axes`.
#[track_caller]
pub fn ptp(x: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let x = x.to_array();
    lax::sub(&max(&x, axes, keepdims), &min(&x, axes, keepdims))
}

/// Weighted mean over `axes`: `sum(a * w) / sum(w)`. `weights` has `a`'s shape, or is
/// 1-d along a single `axes` entry. Without weights this is [`mean`].
///
/// ```
/// use jaxon::numpy as jnp;
/// let a = jnp::array(&[1.0f32, 2.0, 4.0]);
/// let w = jnp::array(&[1.0f32, 0.0, 1.0]);
/// assert_eq!(jnp::average(&a, None, Some(&w), false).to_vec::<f32>(), vec![2.5]);
/// ```
#[track_caller]
pub fn average(
    a: impl ArrayLike,
    axes: Option<&[i64]>,
    weights: Option<&Array>,
    keepdims: bool,
) -> Array {
    let Some(w) = weights else {
        return mean(a, axes, keepdims);
    };
    let v = super::promote::promote_dtypes(vec![
        Operand::Array(to_inexact(a.operand())),
        Operand::Array(to_inexact(w.operand())),
    ]);
    let (a, mut w) = (v[0].clone(), v[1].clone());
    if a.shape() != w.shape() {
        let axis = match axes {
            _ if w.ndim() != 1 => user_error(format!(
                "average: 1D weights expected when shapes of a {:?} and weights {:?} differ",
                a.shape(),
                w.shape()
            )),
            Some([ax]) => canonical_axis("average", *ax, a.ndim()),
            None => user_error(format!(
                "average: axis must be specified when shapes of a {:?} and weights {:?} differ",
                a.shape(),
                w.shape()
            )),
            Some(_) => user_error(format!(
                "average: single axis expected when shapes of a {:?} and weights {:?} differ",
                a.shape(),
                w.shape()
            )),
        };
        if w.shape()[0] != a.shape()[axis] {
            user_error(format!(
                "average: length of weights {:?} not compatible with axis {axis} of shape {:?}",
                w.shape(),
                a.shape()
            ));
        }
        w = lax::broadcast_in_dim(&w, a.shape(), &[axis]);
    }
    let num = sum(lax::mul(&a, &w), axes, keepdims);
    lax::div(&num, &sum(&w, axes, keepdims))
}

/// Median over `axes` (None = all): the middle of the sorted values, or the mean of
/// the two middle ones; NaN if the slice has a NaN. Integers give float.
///
/// ```
/// use jaxon::numpy as jnp;
/// let m = jnp::median(&jnp::array(&[3.0f32, 1.0, 4.0, 1.5]), None, false);
/// assert_eq!(m.to_vec::<f32>(), vec![2.25]);
/// ```
#[track_caller]
pub fn median(a: impl ArrayLike, axes: Option<&[i64]>, keepdims: bool) -> Array {
    let a = to_inexact(a.operand());
    let ax = resolve_axes("median", axes, a.ndim());
    let rest: Vec<usize> = (0..a.ndim()).filter(|d| !ax.contains(d)).collect();
    let n: usize = ax.iter().map(|&d| a.shape()[d]).product();
    if n == 0 {
        user_error(format!(
            "median: cannot take the median of an empty slice (shape {:?}, axes {ax:?})",
            a.shape()
        ));
    }
    // Reduced axes last, merged into one.
    let perm: Vec<usize> = rest.iter().chain(&ax).copied().collect();
    let mut flat: Vec<usize> = rest.iter().map(|&d| a.shape()[d]).collect();
    flat.push(n);
    let last = flat.len() - 1;
    let x = lax::reshape(&lax::transpose(&a, &perm), &flat);
    let any_nan = lax::reduce(&lax::ne(&x, &x), ReduceKind::Or, &[last]);
    let any_nan = lax::broadcast_in_dim(&any_nan, &flat, &(0..last).collect::<Vec<_>>());
    let x = replace_where(&x, &any_nan, f64::NAN);
    let sorted = super::sorting::sort(&x, Some(-1));
    let pick = |i: usize| {
        lax::reshape(
            &lax::slice_in_dim(&sorted, i, i + 1, 1, last),
            &flat[..last],
        )
    };
    let (lo, hi) = (pick((n - 1) / 2), pick(n / 2));
    let m = lax::mul(&lax::add(&lo, &hi), &lax::full_like_scalar(&lo, 0.5));
    keep(m, &ax, keepdims)
}

#[track_caller]
fn replace_where(x: &Array, mask: &Array, v: f64) -> Array {
    let fill = lax::broadcast_in_dim(&lax::full_like_scalar(x, v), x.shape(), &[]);
    lax::select(mask, &fill, x)
}
