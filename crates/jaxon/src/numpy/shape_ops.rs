//! Shape manipulation: reshape (with -1), ravel, transpose, swapaxes, moveaxis,
//! broadcast_to, broadcast_arrays, expand_dims, squeeze, concatenate, stack,
//! hstack, vstack, split, tile, repeat, flip, roll, pad.

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
    if mode == PadMode::Constant {
        return pad(&x, pad_width, 0);
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
        PadMode::Edge | PadMode::Constant => i.clamp(0, n - 1),
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
    };
    r as usize
}
