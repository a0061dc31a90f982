//! Samplers that factor matrices: `multivariate_normal` (Cholesky) and `orthogonal`
//! (QR with JAX's sign correction), on top of `jnp::linalg`.

use super::key_words;
use super::samplers::{float_layout, normal_impl};
use crate::array::Array;
use crate::error::user_error;
use crate::lax;
use crate::numpy::{
    self as jnp, broadcast_to_shape, promote_dtypes, try_broadcast_shapes, ArrayLike, Operand,
};
use oxla::DType;

/// Multivariate normal samples with mean `mean` (`[..., n]`) and covariance `cov`
/// (`[..., n, n]`, positive definite): `mean + L z` with `L = cholesky(cov)` and
/// standard normal `z` (JAX's default `method='cholesky'`; see
/// [`multivariate_normal_with`] for the others). The result is `shape ++ [n]`,
/// `shape` defaulting to the broadcast of the batch shapes; `dtype` defaults to the
/// promoted float dtype of `mean` and `cov`.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{numpy as jnp, random};
/// let mean = jnp::array(&[1.0f32, -1.0]);
/// let cov = jnp::array(&[[1.0f32, 0.5], [0.5, 2.0]]);
/// let x = random::multivariate_normal(&random::key(0), &mean, &cov, Some(&[5]), None);
/// assert_eq!(x.shape(), &[5, 2]);
/// ```
#[track_caller]
pub fn multivariate_normal(
    key: &Array,
    mean: impl ArrayLike,
    cov: impl ArrayLike,
    shape: Option<&[usize]>,
    dtype: Option<DType>,
) -> Array {
    multivariate_normal_with(key, mean, cov, shape, dtype, "cholesky")
}

/// [`multivariate_normal`] with JAX's `method`: `"cholesky"` (the default: fastest,
/// needs a positive-definite `cov`), `"eigh"` (`factor = v sqrt(w)` from
/// [`jnp::linalg::eigh`]) or `"svd"` (`factor = u sqrt(s)` from [`jnp::linalg::svd`]);
/// the last two accept positive semi-definite (singular) covariances. The normal
/// draws are JAX's bit for bit; with `"eigh"`/`"svd"` the samples equal JAX's only
/// up to the signs of the eigenvectors, which LAPACK chooses and ours need not match
/// (the distribution is the same).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{numpy as jnp, random};
/// // A singular covariance: x[1] is always 2 x[0].
/// let cov = jnp::array(&[[1.0f64, 2.0], [2.0, 4.0]]);
/// let x = random::multivariate_normal_with(
///     &random::key(0), &jnp::zeros(&[2], DType::F64), &cov, Some(&[3]), None, "eigh",
/// );
/// let x = x.to_vec::<f64>();
/// assert!((x[1] - 2.0 * x[0]).abs() < 1e-12);
/// ```
#[track_caller]
pub fn multivariate_normal_with(
    key: &Array,
    mean: impl ArrayLike,
    cov: impl ArrayLike,
    shape: Option<&[usize]>,
    dtype: Option<DType>,
    method: &str,
) -> Array {
    let op = "multivariate_normal";
    key_words(op, key);
    let (mean, cov) = {
        let v = promote_dtypes(vec![mean.operand(), cov.operand()]);
        let f = |a: &Array| jnp::to_inexact(Operand::Array(a.clone()));
        (f(&v[0]), f(&v[1]))
    };
    let dtype = dtype.unwrap_or(mean.dtype());
    float_layout(op, dtype);
    if mean.ndim() < 1 {
        user_error(format!(
            "random.{op}: requires mean.ndim >= 1, got mean of shape {:?}",
            mean.shape()
        ));
    }
    let n = mean.shape()[mean.ndim() - 1];
    let cs = cov.shape();
    if cov.ndim() < 2 || cs[cs.len() - 2..] != [n, n] {
        user_error(format!(
            "random.{op}: requires cov.shape == (..., n, n) for n={n}, but got cov.shape == {cs:?}"
        ));
    }
    let mb = &mean.shape()[..mean.ndim() - 1];
    let cb = &cs[..cs.len() - 2];
    let batch = match shape {
        Some(s) => s.to_vec(),
        None => match try_broadcast_shapes(&[mb, cb]) {
            Some(s) => s,
            None => user_error(format!(
                "random.{op}: the batch shapes of mean {mb:?} and cov {cb:?} do not broadcast"
            )),
        },
    };
    for (what, s) in [("mean", mb), ("cov", cb)] {
        if try_broadcast_shapes(&[s, &batch]).as_deref() != Some(&batch[..]) {
            user_error(format!(
                "random.{op}: {what}'s batch shape {s:?} does not broadcast to the sample shape \
                 {batch:?}"
            ));
        }
    }
    let factor = match method {
        "cholesky" => jnp::linalg::cholesky(&cov),
        "eigh" => {
            let (w, v) = jnp::linalg::eigh(&cov);
            scale_columns(&v, &lax::sqrt(&w))
        }
        "svd" => {
            let (u, s, _) = jnp::linalg::svd(&cov, true);
            scale_columns(&u, &lax::sqrt(&s))
        }
        _ => user_error(format!(
            "random.{op}: method must be one of \"svd\", \"eigh\", \"cholesky\", got {method:?}"
        )),
    };
    let full: Vec<usize> = batch.iter().copied().chain([n]).collect();
    let z = normal_impl(op, key, &full, dtype);
    // einsum('...ij,...j->...i', factor, z) with the batch dims broadcast.
    let fshape: Vec<usize> = full.iter().copied().chain([n]).collect();
    let factor = broadcast_to_shape(&factor, &fshape);
    let (factor, z) = {
        let v = promote_dtypes(vec![Operand::Array(factor), Operand::Array(z)]);
        (v[0].clone(), v[1].clone())
    };
    let b: Vec<usize> = (0..batch.len()).collect();
    let nb = b.len();
    let lz = lax::dot_general(
        &factor,
        &z,
        ((vec![nb + 1], vec![nb]), (b.clone(), b)),
        None,
    );
    &mean + &lz
}

/// `m * d[..., None, :]`: column `j` of each matrix scaled by `d[j]`.
fn scale_columns(m: &Array, d: &Array) -> Array {
    let nb = d.ndim() - 1;
    let dims: Vec<usize> = (0..nb).chain([nb + 1]).collect();
    lax::mul(m, &lax::broadcast_in_dim(d, m.shape(), &dims))
}

/// A random `n x m` matrix (`m` defaults to `n`) with orthonormal rows or columns,
/// uniform on O(n) when square (Mezzadri's method: QR of a Gaussian matrix, with
/// `Q`'s columns multiplied by the signs of `R`'s diagonal), shape `shape ++ [n, m]`,
/// like `jax.random.orthogonal`.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{numpy as jnp, random};
/// let q = random::orthogonal(&random::key(0), 3, &[], DType::F32, None);
/// let qtq = jnp::matmul(&jnp::swapaxes(&q, -1, -2), &q).to_vec::<f32>();
/// assert!((qtq[0] - 1.0).abs() < 1e-5 && qtq[1].abs() < 1e-5);
/// ```
#[track_caller]
pub fn orthogonal(key: &Array, n: usize, shape: &[usize], dtype: DType, m: Option<usize>) -> Array {
    let op = "orthogonal";
    key_words(op, key);
    float_layout(op, dtype);
    let m = m.unwrap_or(n);
    let full: Vec<usize> = shape.iter().copied().chain([n.max(m), n.min(m)]).collect();
    let z = normal_impl(op, key, &full, dtype);
    let (q, r) = jnp::linalg::qr(&z, "reduced");
    let d = jnp::diagonal(&r, 0, -2, -1);
    let nb = shape.len();
    let mut dims: Vec<usize> = (0..nb).collect();
    dims.push(nb + 1);
    let x = lax::mul(&q, &lax::broadcast_in_dim(&lax::sign(&d), q.shape(), &dims));
    if n < m {
        jnp::swapaxes(&x, -1, -2)
    } else {
        x
    }
}
