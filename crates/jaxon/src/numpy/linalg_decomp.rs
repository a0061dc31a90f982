//! Matrix decompositions of `jax.numpy.linalg` (`cholesky`, `qr`), written with lax
//! ops: a `fori_loop` over columns with fixed shapes (masks select the column being
//! worked on), so they trace compactly, batch over leading dims, and work under jit,
//! vmap and differentiation like any other lax code.

use crate::array::Array;
use crate::error::user_error;
use crate::lax;
use crate::numpy::{broadcast_to_shape, to_inexact, ArrayLike};
use oxla::DType;

pub(super) fn scalar(v: f64, like: &Array) -> Array {
    Array::scalar_f64(v, like.dtype(), false)
}

pub(super) fn full_as(like: &Array, v: f64) -> Array {
    broadcast_to_shape(&scalar(v, like), like.shape())
}

/// `a` with its last two dims swapped.
pub(super) fn mt(a: &Array) -> Array {
    let n = a.ndim();
    let mut perm: Vec<usize> = (0..n).collect();
    perm.swap(n - 2, n - 1);
    lax::transpose(a, &perm)
}

/// The leading (batch) axes of an array whose last `inner` dims are the operand's.
fn batch_axes(x: &Array, inner: usize) -> Vec<usize> {
    (0..x.ndim() - inner).collect()
}

/// Batched `m @ v`: `[B.., M, N] x [B.., N] -> [B.., M]`.
fn matvec(m: &Array, v: &Array) -> Array {
    let b = batch_axes(v, 1);
    let nb = b.len();
    lax::dot_general(m, v, ((vec![nb + 1], vec![nb]), (b.clone(), b)), None)
}

/// Batched `v @ m`: `[B.., M] x [B.., M, N] -> [B.., N]`.
fn vecmat(v: &Array, m: &Array) -> Array {
    let b = batch_axes(v, 1);
    let nb = b.len();
    lax::dot_general(v, m, ((vec![nb], vec![nb]), (b.clone(), b)), None)
}

/// Batched outer product `[B.., M] x [B.., N] -> [B.., M, N]`.
fn outer(u: &Array, v: &Array) -> Array {
    let nb = u.ndim() - 1;
    let shape: Vec<usize> = u.shape().iter().copied().chain([v.shape()[nb]]).collect();
    let b: Vec<usize> = (0..nb).collect();
    let ud: Vec<usize> = (0..=nb).collect();
    let vd: Vec<usize> = b.iter().copied().chain([nb + 1]).collect();
    lax::mul(
        &lax::broadcast_in_dim(u, &shape, &ud),
        &lax::broadcast_in_dim(v, &shape, &vd),
    )
}

/// `[B..]` -> `[B.., n]` (the same value along a new last axis).
pub(super) fn spread_last(x: &Array, n: usize) -> Array {
    let shape: Vec<usize> = x.shape().iter().copied().chain([n]).collect();
    let dims: Vec<usize> = (0..x.ndim()).collect();
    lax::broadcast_in_dim(x, &shape, &dims)
}

/// Entries of `x` where `mask`, summed over `axis` (an exact extraction when the mask
/// picks one entry per lane; zeros elsewhere keep infinities from leaking).
pub(super) fn pick(mask: &Array, x: &Array, axis: usize) -> Array {
    lax::reduce_sum(&lax::select(mask, x, &full_as(x, 0.0)), &[axis])
}

/// An i32 iota of `shape` along `axis`, compared with the loop index `j` by `cmp`.
fn index_mask(shape: &[usize], axis: usize, j: &Array, cmp: fn(&Array, &Array) -> Array) -> Array {
    let iota = lax::broadcasted_iota(DType::I32, shape, axis);
    cmp(&iota, &broadcast_to_shape(j, shape))
}

/// The diagonal mask of `[B.., n, n]`.
pub(super) fn eye_mask(shape: &[usize]) -> Array {
    let nb = shape.len() - 2;
    lax::eq(
        &lax::broadcasted_iota(DType::I32, shape, nb),
        &lax::broadcasted_iota(DType::I32, shape, nb + 1),
    )
}

#[track_caller]
pub(super) fn matrices(op: &str, a: &Array) {
    if a.ndim() < 2 {
        user_error(format!(
            "jnp.linalg.{op}: expected a matrix (or a batch of them, shape [..., m, n]), got \
             {}{:?}",
            a.dtype(),
            a.shape()
        ));
    }
}

#[track_caller]
pub(super) fn square_matrices(op: &str, a: &Array) {
    let s = a.shape();
    if a.ndim() < 2 || s[s.len() - 1] != s[s.len() - 2] {
        user_error(format!(
            "jnp.linalg.{op}: expected a square matrix (or a batch of them, shape [..., n, n]), \
             got {}{:?}",
            a.dtype(),
            s
        ));
    }
}

/// The lower-triangular Cholesky factor `L` of each symmetric positive-definite matrix
/// in `a` (`[..., n, n]`): `a = L Lᴴ`. Like `jnp.linalg.cholesky`, only the symmetrised
/// input `(a + aᵀ)/2` is used, and a matrix that is not positive definite gives all NaN.
///
/// ```
/// use jaxon::numpy as jnp;
/// let l = jnp::linalg::cholesky(jnp::array(&[[4.0f32, 2.0], [2.0, 5.0]]));
/// assert_eq!(l.to_vec::<f32>(), vec![2.0, 0.0, 1.0, 2.0]);
/// ```
#[track_caller]
pub fn cholesky(a: impl ArrayLike) -> Array {
    let a = to_inexact(a.operand());
    square_matrices("cholesky", &a);
    let a = lax::div(&lax::add(&a, &mt(&a)), &scalar(2.0, &a));
    let shape = a.shape().to_vec();
    let nb = shape.len() - 2;
    let n = shape[nb];
    let vshape = &shape[..nb + 1];
    // Column j: v = a[:, j] - L L[j, :]ᵀ (L's columns >= j are still zero), then
    // L[j, j] = sqrt(v[j]) and L[i, j] = v[i] / L[j, j] below the diagonal.
    let l = lax::fori_loop(
        0,
        n as i64,
        |j: Array, l: Array| {
            let col_m = index_mask(&shape, nb + 1, &j, lax::eq);
            let row_m = index_mask(&shape, nb, &j, lax::eq);
            let row_v = index_mask(vshape, nb, &j, lax::eq);
            let below_v = index_mask(vshape, nb, &j, lax::gt);
            let aj = pick(&col_m, &a, nb + 1);
            let lj = pick(&row_m, &l, nb);
            let v = lax::sub(&aj, &matvec(&l, &lj));
            let d = spread_last(&lax::sqrt(&pick(&row_v, &v, nb)), n);
            let col = lax::select(
                &below_v,
                &lax::div(&v, &d),
                &lax::select(&row_v, &d, &full_as(&v, 0.0)),
            );
            let col = lax::broadcast_in_dim(&col, &shape, &(0..=nb).collect::<Vec<_>>());
            lax::select(&col_m, &col, &l)
        },
        full_as(&a, 0.0),
    );
    if n == 0 {
        return l;
    }
    // LAPACK's potrf stops at a non-positive pivot; JAX then returns NaN everywhere.
    let diag = pick(&eye_mask(&shape), &l, nb + 1);
    let ok = lax::reduce_and(&lax::gt(&diag, &full_as(&diag, 0.0)), &[nb]);
    let ok = lax::broadcast_in_dim(&ok, &shape, &(0..nb).collect::<Vec<_>>());
    lax::select(&ok, &l, &full_as(&l, f64::NAN))
}

/// The QR decomposition of each matrix in `a` (`[..., m, n]`) by Householder
/// reflections, with LAPACK's sign convention (`R[j, j] = -sign(a_jj) ‖x‖`), like
/// `jnp.linalg.qr`. `mode` is `"reduced"` (`q: [..., m, k]`, `r: [..., k, n]`,
/// `k = min(m, n)`) or `"complete"` (`q: [..., m, m]`, `r: [..., m, n]`).
///
/// ```
/// use jaxon::numpy as jnp;
/// let a = jnp::array(&[[3.0f32, 1.0], [4.0, 2.0]]);
/// let (q, r) = jnp::linalg::qr(&a, "reduced");
/// let back = jnp::matmul(&q, &r).to_vec::<f32>();
/// assert!(back.iter().zip([3.0, 1.0, 4.0, 2.0]).all(|(x, y)| (x - y).abs() < 1e-5));
/// ```
#[track_caller]
pub fn qr(a: impl ArrayLike, mode: &str) -> (Array, Array) {
    let a = to_inexact(a.operand());
    matrices("qr", &a);
    if mode != "reduced" && mode != "complete" {
        user_error(format!(
            "jnp.linalg.qr: mode must be \"reduced\" or \"complete\", got {mode:?}"
        ));
    }
    let shape = a.shape().to_vec();
    let nb = shape.len() - 2;
    let (m, n) = (shape[nb], shape[nb + 1]);
    let k = m.min(n);
    let vshape = &shape[..nb + 1];
    let qshape: Vec<usize> = shape[..nb].iter().copied().chain([m, m]).collect();
    let q0 = lax::convert_element_type(&eye_mask(&qshape), a.dtype());
    let (r, q) = lax::fori_loop(
        0,
        k as i64,
        |j: Array, (r, q): (Array, Array)| {
            let col_m = index_mask(&shape, nb + 1, &j, lax::eq);
            let row_at = index_mask(&shape, nb, &j, lax::eq);
            let row_below = index_mask(&shape, nb, &j, lax::gt);
            let at_v = index_mask(vshape, nb, &j, lax::eq);
            let below_v = index_mask(vshape, nb, &j, lax::gt);
            let colj = pick(&col_m, &r, nb + 1);
            let alpha = pick(&at_v, &colj, nb);
            let below = lax::select(&below_v, &colj, &full_as(&colj, 0.0));
            let xnorm2 = lax::reduce_sum(&lax::mul(&below, &below), &[nb]);
            let norm = lax::sqrt(&lax::add(&lax::mul(&alpha, &alpha), &xnorm2));
            let zero = full_as(&alpha, 0.0);
            let beta = lax::select(&lax::ge(&alpha, &zero), &lax::neg(&norm), &norm);
            // dlarfg: no reflection when the part below the diagonal is already zero.
            let trivial = lax::eq(&xnorm2, &zero);
            let tau = lax::select(&trivial, &zero, &lax::div(&lax::sub(&beta, &alpha), &beta));
            let scale = lax::select(
                &trivial,
                &zero,
                &lax::div(&full_as(&alpha, 1.0), &lax::sub(&alpha, &beta)),
            );
            let v = lax::select(
                &at_v,
                &full_as(&colj, 1.0),
                &lax::mul(&below, &spread_last(&scale, m)),
            );
            // R <- (I - tau v vᵀ) R and Q <- Q (I - tau v vᵀ).
            let tau_r = lax::broadcast_in_dim(&tau, &shape, &(0..nb).collect::<Vec<_>>());
            let r = lax::sub(&r, &lax::mul(&tau_r, &outer(&v, &vecmat(&v, &r))));
            let tau_q = lax::broadcast_in_dim(&tau, &qshape, &(0..nb).collect::<Vec<_>>());
            let q = lax::sub(&q, &lax::mul(&tau_q, &outer(&matvec(&q, &v), &v)));
            // Column j of R is exactly (.., beta, 0, ..).
            let diag = lax::select(&trivial, &alpha, &beta);
            let diag = lax::broadcast_in_dim(&diag, &shape, &(0..nb).collect::<Vec<_>>());
            let r = lax::select(&lax::bitwise_and(&col_m, &row_below), &full_as(&r, 0.0), &r);
            let r = lax::select(&lax::bitwise_and(&col_m, &row_at), &diag, &r);
            (r, q)
        },
        (a.clone(), q0),
    );
    if mode == "complete" {
        return (q, r);
    }
    let mut qlim = qshape.clone();
    qlim[nb + 1] = k;
    let mut rlim = shape.clone();
    rlim[nb] = k;
    let zeros = vec![0; shape.len()];
    (
        lax::slice(&q, &zeros, &qlim, None),
        lax::slice(&r, &zeros, &rlim, None),
    )
}
