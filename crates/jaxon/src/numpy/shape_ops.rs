//! Shape manipulation: reshape (with -1), ravel, transpose, swapaxes, moveaxis,
//! broadcast_to, broadcast_arrays, expand_dims, squeeze, concatenate, stack,
//! hstack, vstack, dstack, column_stack, split, array_split, tile, repeat, flip,
//! fliplr, flipud, rot90, roll, pad, atleast_1d/2d/3d, meshgrid.

use super::promote::{
    broadcast_shapes, broadcast_to_shape, canonical_axes, canonical_axis, promote_dtypes,
    ArrayLike, Operand,
};
use crate::array::Array;
use crate::error::user_error;
use crate::lax;

/// Resolves a NumPy shape with at most one -1 for `size` elements.
#[track_caller]
pub fn resolve_shape(op: &str, shape: &[i64], size: usize, from: &[usize]) -> Vec<usize> {
    let unknown: Vec<usize> = (0..shape.len()).filter(|&i| shape[i] == -1).collect();
    if unknown.len() > 1 || shape.iter().any(|&d| d < -1) {
        user_error(format!(
            "{op}: invalid shape {shape:?} (at most one -1, no other negatives)"
        ));
    }
    let known: usize = shape
        .iter()
        .filter(|&&d| d >= 0)
        .map(|&d| d as usize)
        .product();
    let mut out: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    if let Some(&i) = unknown.first() {
        if known == 0 || !size.is_multiple_of(known) {
            user_error(format!(
                "{op}: cannot reshape array of shape {from:?} into shape {shape:?}"
            ));
        }
        out[i] = size / known;
    } else if known != size {
        user_error(format!(
            "{op}: cannot reshape array of shape {from:?} (size {size}) into shape {shape:?}"
        ));
    }
    out
}

/// Row-major reshape; one dim may be -1.
#[track_caller]
pub fn reshape(x: impl ArrayLike, shape: &[i64]) -> Array {
    let x = x.to_array();
    let s = resolve_shape("reshape", shape, x.size(), x.shape());
    lax::reshape(&x, &s)
}

/// Flattens to 1-d.
#[track_caller]
pub fn ravel(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    lax::reshape(&x, &[x.size()])
}

/// Permutes axes (None reverses them).
#[track_caller]
pub fn transpose(x: impl ArrayLike, axes: Option<&[i64]>) -> Array {
    let x = x.to_array();
    let perm: Vec<usize> = match axes {
        None => (0..x.ndim()).rev().collect(),
        Some(a) => {
            if a.len() != x.ndim() {
                user_error(format!(
                    "transpose: axes {a:?} don't match array of shape {:?}",
                    x.shape()
                ));
            }
            canonical_axes("transpose", a, x.ndim());
            let mut p = Vec::with_capacity(a.len());
            for &ax in a {
                p.push(canonical_axis("transpose", ax, x.ndim()));
            }
            p
        }
    };
    lax::transpose(&x, &perm)
}

/// Swaps two axes.
#[track_caller]
pub fn swapaxes(x: impl ArrayLike, axis1: i64, axis2: i64) -> Array {
    let x = x.to_array();
    let (a, b) = (
        canonical_axis("swapaxes", axis1, x.ndim()),
        canonical_axis("swapaxes", axis2, x.ndim()),
    );
    let mut perm: Vec<usize> = (0..x.ndim()).collect();
    perm.swap(a, b);
    lax::transpose(&x, &perm)
}

/// Moves axis `source` to position `destination`.
#[track_caller]
pub fn moveaxis(x: impl ArrayLike, source: i64, destination: i64) -> Array {
    let x = x.to_array();
    let s = canonical_axis("moveaxis", source, x.ndim());
    let d = canonical_axis("moveaxis", destination, x.ndim());
    let mut perm: Vec<usize> = (0..x.ndim()).filter(|&i| i != s).collect();
    perm.insert(d, s);
    lax::transpose(&x, &perm)
}

/// Broadcasts to `shape` with NumPy rules.
#[track_caller]
pub fn broadcast_to(x: impl ArrayLike, shape: &[usize]) -> Array {
    let x = x.to_array();
    let b = broadcast_shapes("broadcast_to", &[x.shape(), shape]);
    if b != shape {
        user_error(format!(
            "broadcast_to: cannot broadcast shape {:?} to {shape:?}",
            x.shape()
        ));
    }
    broadcast_to_shape(&x, shape)
}

/// Broadcasts several arrays to their common shape.
#[track_caller]
pub fn broadcast_arrays(xs: &[Array]) -> Vec<Array> {
    let shapes: Vec<&[usize]> = xs.iter().map(|x| x.shape()).collect();
    let shape = broadcast_shapes("broadcast_arrays", &shapes);
    xs.iter().map(|x| broadcast_to_shape(x, &shape)).collect()
}

/// Inserts a size-1 axis at `axis` (negative counts in the result).
#[track_caller]
pub fn expand_dims(x: impl ArrayLike, axis: i64) -> Array {
    let x = x.to_array();
    let a = canonical_axis("expand_dims", axis, x.ndim() + 1);
    lax::expand_dims(&x, &[a])
}

/// Removes size-1 axes (None: all of them).
#[track_caller]
pub fn squeeze(x: impl ArrayLike, axes: Option<&[i64]>) -> Array {
    let x = x.to_array();
    let dims: Vec<usize> = match axes {
        None => (0..x.ndim()).filter(|&d| x.shape()[d] == 1).collect(),
        Some(a) => {
            let d = canonical_axes("squeeze", a, x.ndim());
            if let Some(&bad) = d.iter().find(|&&d| x.shape()[d] != 1) {
                user_error(format!(
                    "squeeze: cannot select an axis to squeeze out which has size not equal to one (axis {bad} of shape {:?})",
                    x.shape()
                ));
            }
            d
        }
    };
    lax::squeeze(&x, &dims)
}

#[track_caller]
fn promote_all(xs: &[Array]) -> Vec<Array> {
    promote_dtypes(xs.iter().cloned().map(Operand::Array).collect())
}

/// Joins arrays along an existing axis.
#[track_caller]
pub fn concatenate(xs: &[Array], axis: i64) -> Array {
    if xs.is_empty() {
        user_error("concatenate: need at least one array");
    }
    let nd = xs[0].ndim();
    if nd == 0 {
        user_error("concatenate: zero-dimensional arrays cannot be concatenated");
    }
    if let Some(bad) = xs.iter().find(|x| x.ndim() != nd) {
        user_error(format!(
            "concatenate: all arrays must have the same number of dimensions, got shapes {:?} and {:?}",
            xs[0].shape(),
            bad.shape()
        ));
    }
    let a = canonical_axis("concatenate", axis, nd);
    for x in xs {
        let ok = (0..nd).all(|d| d == a || x.shape()[d] == xs[0].shape()[d]);
        if !ok {
            user_error(format!(
                "concatenate: shapes {:?} and {:?} differ outside axis {axis}",
                xs[0].shape(),
                x.shape()
            ));
        }
    }
    lax::concatenate(&promote_all(xs), a)
}

/// Joins arrays along a new axis.
#[track_caller]
pub fn stack(xs: &[Array], axis: i64) -> Array {
    if xs.is_empty() {
        user_error("stack: need at least one array");
    }
    if let Some(bad) = xs.iter().find(|x| x.shape() != xs[0].shape()) {
        user_error(format!(
            "stack: all input arrays must have the same shape, got {:?} and {:?}",
            xs[0].shape(),
            bad.shape()
        ));
    }
    let a = canonical_axis("stack", axis, xs[0].ndim() + 1);
    let expanded: Vec<Array> = promote_all(xs)
        .iter()
        .map(|x| lax::expand_dims(x, &[a]))
        .collect();
    lax::concatenate(&expanded, a)
}

/// Stacks horizontally (axis 1, or 0 for 1-d arrays).
#[track_caller]
pub fn hstack(xs: &[Array]) -> Array {
    let xs: Vec<Array> = xs
        .iter()
        .map(|x| {
            if x.ndim() == 0 {
                lax::reshape(x, &[1])
            } else {
                x.clone()
            }
        })
        .collect();
    let axis = if xs.first().is_some_and(|x| x.ndim() == 1) {
        0
    } else {
        1
    };
    concatenate(&xs, axis)
}

/// Stacks vertically (rows; 1-d arrays become rows).
#[track_caller]
pub fn vstack(xs: &[Array]) -> Array {
    let xs: Vec<Array> = xs
        .iter()
        .map(|x| {
            if x.ndim() < 2 {
                lax::reshape(x, &[1, x.size()])
            } else {
                x.clone()
            }
        })
        .collect();
    concatenate(&xs, 0)
}

/// How to split an axis.
#[derive(Clone, Debug)]
pub enum Sections {
    /// Into this many equal parts.
    Equal(usize),
    /// At these indices.
    At(Vec<i64>),
}

impl From<usize> for Sections {
    fn from(n: usize) -> Sections {
        Sections::Equal(n)
    }
}

impl From<&[i64]> for Sections {
    fn from(v: &[i64]) -> Sections {
        Sections::At(v.to_vec())
    }
}

impl<const N: usize> From<&[i64; N]> for Sections {
    fn from(v: &[i64; N]) -> Sections {
        Sections::At(v.to_vec())
    }
}

/// Splits into parts along `axis` (equal sections or at indices).
#[track_caller]
pub fn split(x: impl ArrayLike, sections: impl Into<Sections>, axis: i64) -> Vec<Array> {
    let x = x.to_array();
    let a = canonical_axis("split", axis, x.ndim());
    let n = x.shape()[a];
    let bounds: Vec<usize> = match sections.into() {
        Sections::Equal(k) => {
            if k == 0 || !n.is_multiple_of(k) {
                user_error(format!(
                    "split: array split does not result in an equal division ({n} into {k})"
                ));
            }
            (0..=k).map(|i| i * n / k).collect()
        }
        Sections::At(idx) => {
            let mut b = vec![0usize];
            for &i in &idx {
                let j = if i < 0 { i + n as i64 } else { i };
                if !(0..=n as i64).contains(&j) {
                    // JAX rejects split indices outside the axis (NumPy would clamp).
                    user_error(format!(
                        "split: index {i} is out of bounds for axis {a} of size {n}"
                    ));
                }
                b.push(j as usize);
            }
            b.push(n);
            b
        }
    };
    bounds
        .windows(2)
        .map(|w| lax::slice_in_dim(&x, w[0], w[1].max(w[0]), 1, a))
        .collect()
}

/// Repeats the whole array `reps` times along each axis.
#[track_caller]
pub fn tile(x: impl ArrayLike, reps: &[usize]) -> Array {
    let x = x.to_array();
    let nd = x.ndim().max(reps.len());
    let mut shape = vec![1usize; nd - x.ndim()];
    shape.extend_from_slice(x.shape());
    let x = lax::reshape(&x, &shape);
    let mut reps_full = vec![1usize; nd - reps.len()];
    reps_full.extend_from_slice(reps);
    // Broadcast to (r0, s0, r1, s1, ...) then merge pairs.
    let mut big = Vec::with_capacity(2 * nd);
    let mut dims = Vec::with_capacity(nd);
    for d in 0..nd {
        big.push(reps_full[d]);
        big.push(shape[d]);
        dims.push(2 * d + 1);
    }
    let b = lax::broadcast_in_dim(&x, &big, &dims);
    let out: Vec<usize> = (0..nd).map(|d| reps_full[d] * shape[d]).collect();
    lax::reshape(&b, &out)
}

/// Repeats each element `repeats` times along `axis` (None = flattened).
#[track_caller]
pub fn repeat(x: impl ArrayLike, repeats: usize, axis: Option<i64>) -> Array {
    let x = x.to_array();
    let (x, a) = match axis {
        None => (lax::reshape(&x, &[x.size()]), 0),
        Some(ax) => {
            let a = canonical_axis("repeat", ax, x.ndim());
            (x, a)
        }
    };
    let mut big = x.shape().to_vec();
    big.insert(a + 1, repeats);
    let dims: Vec<usize> = (0..x.ndim())
        .map(|d| if d <= a { d } else { d + 1 })
        .collect();
    let b = lax::broadcast_in_dim(&x, &big, &dims);
    let mut out = x.shape().to_vec();
    out[a] *= repeats;
    lax::reshape(&b, &out)
}

/// Reverses along `axes` (None = all).
#[track_caller]
pub fn flip(x: impl ArrayLike, axes: Option<&[i64]>) -> Array {
    let x = x.to_array();
    let dims = match axes {
        None => (0..x.ndim()).collect(),
        Some(a) => canonical_axes("flip", a, x.ndim()),
    };
    lax::rev(&x, &dims)
}

/// Rolls elements by `shift` along `axis` (None = flattened, then restored).
#[track_caller]
pub fn roll(x: impl ArrayLike, shift: i64, axis: Option<i64>) -> Array {
    let x = x.to_array();
    let Some(ax) = axis else {
        let flat = lax::reshape(&x, &[x.size()]);
        return lax::reshape(&roll(&flat, shift, Some(0)), x.shape());
    };
    let a = canonical_axis("roll", ax, x.ndim());
    let n = x.shape()[a] as i64;
    if n == 0 {
        return x;
    }
    let s = shift.rem_euclid(n) as usize;
    if s == 0 {
        return x;
    }
    let n = n as usize;
    let tail = lax::slice_in_dim(&x, n - s, n, 1, a);
    let head = lax::slice_in_dim(&x, 0, n - s, 1, a);
    lax::concatenate(&[tail, head], a)
}

/// Padding modes of [`pad_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadMode {
    Constant,
    Edge,
    Reflect,
    Symmetric,
    Wrap,
    /// A linear ramp from the edge value to 0 (NumPy's default `end_values`).
    LinearRamp,
    /// The maximum of the whole axis.
    Maximum,
    /// The minimum of the whole axis.
    Minimum,
    /// The mean of the whole axis (rounded for integers).
    Mean,
}

/// Pads with a constant value: `pad_width[i] = (before, after)` for axis i.
#[track_caller]
pub fn pad(
    x: impl ArrayLike,
    pad_width: &[(usize, usize)],
    constant_value: impl ArrayLike,
) -> Array {
    let x = x.to_array();
    if pad_width.len() != x.ndim() {
        user_error(format!(
            "pad: pad_width has {} entries for an array of shape {:?}",
            pad_width.len(),
            x.shape()
        ));
    }
    let v = constant_value.operand().materialize(x.dtype(), false);
    let cfg: Vec<(i64, i64, usize)> = pad_width
        .iter()
        .map(|&(lo, hi)| (lo as i64, hi as i64, 0))
        .collect();
    lax::pad(&x, &v, &cfg)
}

/// Pads with a NumPy mode (constant pads with zero).
#[track_caller]
pub fn pad_with(x: impl ArrayLike, pad_width: &[(usize, usize)], mode: PadMode) -> Array {
    let mut x = x.to_array();
    if pad_width.len() != x.ndim() {
        user_error(format!(
            "pad: pad_width has {} entries for an array of shape {:?}",
            pad_width.len(),
            x.shape()
        ));
    }
    match mode {
        PadMode::Constant => return pad(&x, pad_width, 0),
        PadMode::LinearRamp => return pad_linear_ramp(x, pad_width),
        PadMode::Maximum | PadMode::Minimum | PadMode::Mean => {
            return pad_stats(x, pad_width, mode)
        }
        _ => {}
    }
    for (axis, &(lo, hi)) in pad_width.iter().enumerate() {
        let n = x.shape()[axis];
        if n == 0 && lo + hi > 0 {
            user_error(format!(
                "pad: cannot pad an empty axis {axis} with mode {mode:?}"
            ));
        }
        let idx = |i: i64| -> usize { pad_source_index(mode, i, n) };
        let lo_idx: Vec<usize> = (0..lo).map(|k| idx(k as i64 - lo as i64)).collect();
        let hi_idx: Vec<usize> = (0..hi).map(|k| idx(n as i64 + k as i64)).collect();
        let piece = |i: usize| lax::slice_in_dim(&x, i, i + 1, 1, axis);
        let mut parts: Vec<Array> = lo_idx.iter().map(|&i| piece(i)).collect();
        parts.push(x.clone());
        parts.extend(hi_idx.iter().map(|&i| piece(i)));
        x = lax::concatenate(&parts, axis);
    }
    x
}

/// The source index along an axis of size n for padded position i (NumPy modes).
fn pad_source_index(mode: PadMode, i: i64, n: usize) -> usize {
    let n = n as i64;
    let r = match mode {
        PadMode::Wrap => i.rem_euclid(n),
        PadMode::Reflect => {
            if n == 1 {
                0
            } else {
                let p = 2 * (n - 1);
                let m = i.rem_euclid(p);
                if m < n {
                    m
                } else {
                    p - m
                }
            }
        }
        PadMode::Symmetric => {
            let p = 2 * n;
            let m = i.rem_euclid(p);
            if m < n {
                m
            } else {
                p - 1 - m
            }
        }
        // Edge, and the modes handled elsewhere.
        _ => i.clamp(0, n - 1),
    };
    r as usize
}

/// NumPy's `linear_ramp` pad (end value 0): per axis, `num` values from 0 toward the
/// edge value, endpoint excluded, computed like `jnp.linspace` (`start*(1-t) + stop*t`).
#[track_caller]
fn pad_linear_ramp(mut x: Array, pad_width: &[(usize, usize)]) -> Array {
    let d = x.dtype();
    let comp = if d.is_float() {
        d
    } else {
        crate::dtypes::default_float()
    };
    for (axis, &(lo, hi)) in pad_width.iter().enumerate() {
        let n = x.shape()[axis];
        if n == 0 && lo + hi > 0 {
            user_error(format!(
                "pad: cannot pad an empty axis {axis} with mode LinearRamp"
            ));
        }
        let ramp = |edge: Array, num: usize| -> Array {
            let mut shape = edge.shape().to_vec();
            shape[axis] = num;
            if num == 0 {
                return lax::slice_in_dim(&edge, 0, 0, 1, axis);
            }
            let t: Vec<f64> = (0..num).map(|k| k as f64 / num as f64).collect();
            let t = super::creation::from_f64_values(&[num], &t, comp);
            let t = lax::broadcast_in_dim(&t, &shape, &[axis]);
            let stop = broadcast_to_shape(&lax::convert_element_type(&edge, comp), &shape);
            // start = 0, so start * (1 - t) is an exact zero.
            let zero = lax::full_like_scalar(&t, 0.0);
            let one_minus_t = lax::sub(&lax::full_like_scalar(&t, 1.0), &t);
            let start_part = lax::mul(&broadcast_to_shape(&zero, &shape), &one_minus_t);
            let out = lax::add(&start_part, &lax::mul(&stop, &t));
            let out = if d.is_float() { out } else { lax::floor(&out) };
            lax::convert_element_type(&out, d)
        };
        let before = ramp(lax::slice_in_dim(&x, 0, 1, 1, axis), lo);
        let after = lax::rev(&ramp(lax::slice_in_dim(&x, n - 1, n, 1, axis), hi), &[axis]);
        x = lax::concatenate(&[before, x, after], axis);
    }
    x
}

/// NumPy's `maximum`/`minimum`/`mean` pads over whole axes, one axis after another.
#[track_caller]
fn pad_stats(mut x: Array, pad_width: &[(usize, usize)], mode: PadMode) -> Array {
    let d = x.dtype();
    for (axis, &(lo, hi)) in pad_width.iter().enumerate() {
        if x.shape()[axis] == 0 && lo + hi > 0 {
            user_error(format!(
                "pad: cannot pad an empty axis {axis} with mode {mode:?}"
            ));
        }
        let ax = [axis as i64];
        let stat = match mode {
            PadMode::Maximum => super::reductions::max(&x, Some(&ax), true),
            PadMode::Minimum => super::reductions::min(&x, Some(&ax), true),
            _ => super::reductions::mean(&x, Some(&ax), true),
        };
        let stat = if d.is_int() && !stat.dtype().is_int() {
            lax::round(&stat, lax::RoundingMethod::ToNearestEven)
        } else {
            stat
        };
        let stat = lax::convert_element_type(&stat, d);
        let before = repeat(&stat, lo, Some(axis as i64));
        let after = repeat(&stat, hi, Some(axis as i64));
        x = lax::concatenate(&[before, x, after], axis);
    }
    x
}

/// Constant padding with its own `(before, after)` value per axis, applied axis by
/// axis like `jnp.pad(x, pad_width, constant_values=[[b0, a0], [b1, a1], ...])`.
#[track_caller]
pub fn pad_constants(
    x: impl ArrayLike,
    pad_width: &[(usize, usize)],
    values: &[(f64, f64)],
) -> Array {
    let mut x = x.to_array();
    if pad_width.len() != x.ndim() || values.len() != x.ndim() {
        user_error(format!(
            "pad: pad_width has {} and constant_values {} entries for an array of shape {:?}",
            pad_width.len(),
            values.len(),
            x.shape()
        ));
    }
    let nd = x.ndim();
    for (axis, (&(lo, hi), &(vlo, vhi))) in pad_width.iter().zip(values).enumerate() {
        for (w, v, before) in [(lo, vlo, true), (hi, vhi, false)] {
            let mut cfg = vec![(0i64, 0i64, 0usize); nd];
            cfg[axis] = if before {
                (w as i64, 0, 0)
            } else {
                (0, w as i64, 0)
            };
            let v = Array::scalar_f64(v, x.dtype(), false);
            x = lax::pad(&x, &v, &cfg);
        }
    }
    x
}

/// Stacks along a third axis (1-d arrays become `(1, n, 1)`, 2-d `(m, n, 1)`).
#[track_caller]
pub fn dstack(xs: &[Array]) -> Array {
    let xs: Vec<Array> = xs.iter().map(atleast_3d).collect();
    concatenate(&xs, 2)
}

/// Stacks 1-d arrays as columns of a 2-d array (2-d arrays are joined along axis 1).
#[track_caller]
pub fn column_stack(xs: &[Array]) -> Array {
    let xs: Vec<Array> = xs
        .iter()
        .map(|x| {
            if x.ndim() < 2 {
                lax::reshape(x, &[x.size(), 1])
            } else {
                x.clone()
            }
        })
        .collect();
    concatenate(&xs, 1)
}

/// Like [`split`], but `Sections::Equal(k)` may divide unevenly: the first `n % k`
/// parts get one extra element.
///
/// ```
/// use jaxon::numpy as jnp;
/// let parts = jnp::array_split(&jnp::arange(5), 3usize, 0);
/// let sizes: Vec<usize> = parts.iter().map(|p| p.size()).collect();
/// assert_eq!(sizes, vec![2, 2, 1]);
/// ```
#[track_caller]
pub fn array_split(x: impl ArrayLike, sections: impl Into<Sections>, axis: i64) -> Vec<Array> {
    let x = x.to_array();
    match sections.into() {
        Sections::Equal(k) => {
            if k == 0 {
                user_error("array_split: number of sections must be larger than 0");
            }
            let n = x.shape()[canonical_axis("array_split", axis, x.ndim())];
            let (q, r) = (n / k, n % k);
            let mut idx = vec![];
            let mut at = 0;
            for i in 0..k - 1 {
                at += q + usize::from(i < r);
                idx.push(at as i64);
            }
            split(&x, Sections::At(idx), axis)
        }
        at => split(&x, at, axis),
    }
}

/// Reverses axis 1 (left/right).
#[track_caller]
pub fn fliplr(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    if x.ndim() < 2 {
        user_error(format!(
            "fliplr: requires an array with at least 2 dimensions, got shape {:?}",
            x.shape()
        ));
    }
    lax::rev(&x, &[1])
}

/// Reverses axis 0 (up/down).
#[track_caller]
pub fn flipud(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    if x.ndim() < 1 {
        user_error("flipud: requires an array with at least 1 dimension, got a scalar");
    }
    lax::rev(&x, &[0])
}

/// Rotates by 90° `k` times in the plane of `axes` (from the first axis toward the second).
///
/// ```
/// use jaxon::numpy as jnp;
/// let r = jnp::rot90(&jnp::array(&[[1i32, 2], [3, 4]]), 1, (0, 1));
/// assert_eq!(r.to_vec::<i32>(), vec![2, 4, 1, 3]);
/// ```
#[track_caller]
pub fn rot90(m: impl ArrayLike, k: i64, axes: (i64, i64)) -> Array {
    let m = m.to_array();
    if m.ndim() < 2 {
        user_error(format!(
            "rot90: requires an array with at least 2 dimensions, got shape {:?}",
            m.shape()
        ));
    }
    let a1 = canonical_axis("rot90", axes.0, m.ndim());
    let a2 = canonical_axis("rot90", axes.1, m.ndim());
    if a1 == a2 {
        user_error(format!("rot90: axes must be different, got {axes:?}"));
    }
    let mut perm: Vec<usize> = (0..m.ndim()).collect();
    perm.swap(a1, a2);
    match k.rem_euclid(4) {
        0 => m,
        1 => lax::transpose(&lax::rev(&m, &[a2]), &perm),
        2 => lax::rev(&m, &[a1, a2]),
        _ => lax::rev(&lax::transpose(&m, &perm), &[a2]),
    }
}

/// `x` with at least 1 dimension (a scalar becomes shape `[1]`).
#[track_caller]
pub fn atleast_1d(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    match x.ndim() {
        0 => lax::reshape(&x, &[1]),
        _ => x,
    }
}

/// `x` with at least 2 dimensions (`[n]` becomes `[1, n]`).
#[track_caller]
pub fn atleast_2d(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    match x.ndim() {
        0 => lax::reshape(&x, &[1, 1]),
        1 => lax::reshape(&x, &[1, x.size()]),
        _ => x,
    }
}

/// `x` with at least 3 dimensions (`[n]` becomes `[1, n, 1]`, `[m, n]` `[m, n, 1]`).
#[track_caller]
pub fn atleast_3d(x: impl ArrayLike) -> Array {
    let x = x.to_array();
    match x.ndim() {
        0 => lax::reshape(&x, &[1, 1, 1]),
        1 => lax::reshape(&x, &[1, x.size(), 1]),
        2 => lax::expand_dims(&x, &[2]),
        _ => x,
    }
}

/// Coordinate grids from 1-d arrays. `indexing` is `"xy"` (Cartesian: the first two
/// outputs have shape `[len(y), len(x), ...]`) or `"ij"` (matrix: `[len(x), len(y), ...]`).
///
/// ```
/// use jaxon::numpy as jnp;
/// let g = jnp::meshgrid(&[jnp::array(&[1i32, 2, 3]), jnp::array(&[7i32, 8])], "xy");
/// assert_eq!(g[0].shape(), &[2, 3]);
/// assert_eq!(g[1].to_vec::<i32>(), vec![7, 7, 7, 8, 8, 8]);
/// ```
#[track_caller]
pub fn meshgrid(xs: &[Array], indexing: &str) -> Vec<Array> {
    if indexing != "xy" && indexing != "ij" {
        user_error(format!(
            "meshgrid: indexing must be \"xy\" or \"ij\", got {indexing:?}"
        ));
    }
    if let Some(bad) = xs.iter().find(|x| x.ndim() != 1) {
        user_error(format!(
            "meshgrid: arguments must be 1-d, got shape {:?}",
            bad.shape()
        ));
    }
    let swap = indexing == "xy" && xs.len() >= 2;
    let mut order: Vec<usize> = (0..xs.len()).collect();
    if swap {
        order.swap(0, 1);
    }
    let shape: Vec<usize> = order.iter().map(|&i| xs[i].size()).collect();
    let mut out: Vec<Array> = order
        .iter()
        .enumerate()
        .map(|(pos, &i)| lax::broadcast_in_dim(&xs[i], &shape, &[pos]))
        .collect();
    if swap {
        out.swap(0, 1);
    }
    out
}

/// Repeats element `i` along `axis` (None = flattened) `repeats[i]` times; a single
/// entry applies to every element (like `jnp.repeat` with an array of repeats).
///
/// ```
/// use jaxon::numpy as jnp;
/// let r = jnp::repeat_each(&jnp::array(&[1i32, 2, 3]), &[2, 0, 1], None);
/// assert_eq!(r.to_vec::<i32>(), vec![1, 1, 3]);
/// ```
#[track_caller]
pub fn repeat_each(x: impl ArrayLike, repeats: &[usize], axis: Option<i64>) -> Array {
    let x = x.to_array();
    let (x, a) = match axis {
        None => (lax::reshape(&x, &[x.size()]), 0),
        Some(ax) => {
            let a = canonical_axis("repeat", ax, x.ndim());
            (x, a)
        }
    };
    if let [r] = repeats {
        return repeat(&x, *r, Some(a as i64));
    }
    let n = x.shape()[a];
    if repeats.len() != n {
        user_error(format!(
            "repeat: {} repeats for axis {a} of size {n} (shape {:?})",
            repeats.len(),
            x.shape()
        ));
    }
    // Static repeats: each element's slice repeated, then joined.
    let mut parts: Vec<Array> = (0..n)
        .filter(|&i| repeats[i] > 0)
        .map(|i| {
            repeat(
                lax::slice_in_dim(&x, i, i + 1, 1, a),
                repeats[i],
                Some(a as i64),
            )
        })
        .collect();
    if parts.is_empty() {
        parts.push(lax::slice_in_dim(&x, 0, 0, 1, a));
    }
    lax::concatenate(&parts, a)
}
