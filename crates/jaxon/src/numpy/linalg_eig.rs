//! The symmetric eigendecomposition and the singular value decomposition of
//! `jax.numpy.linalg` (`eigh`, `eigvalsh`, `svd`, `svdvals`), by Jacobi rotations
//! written with lax ops.
//!
//! A sweep is a `fori_loop` over the `n - 1` rounds of a round-robin ordering in
//! which every index meets every other once; the `n / 2` pairs of a round are
//! disjoint, so a round rotates them all at once. The matrix is kept in slot order
//! (the two halves of the pairs as separate blocks), so a round is elementwise work
//! on the blocks plus a fixed shuffle of slices to the next pairing: O(n²) per
//! round, O(n³) per sweep, no gathers. Sweeps repeat in a `while_loop` until the
//! off-diagonal part (`eigh`) or the columns' mutual cosines (`svd`, one-sided
//! Jacobi) fall below the dtype's epsilon (about ten sweeps). Jacobi is at least as
//! accurate as LAPACK's solvers (small eigenvalues of graded matrices keep their
//! relative accuracy), but with several small kernels per round it is slow beyond
//! small matrices: jit-compiled, 0.2-0.4 ms at 8x8, 3-8 ms at 32x32, 14-50 ms at
//! 64x64, 0.16-0.5 s at 128x128 (`svd` the faster; LAPACK through JAX: 0.04, 0.2, 1
//! and 2-4 ms). (A variant of `eigh` that reorders and rotates rows only, a round
//! as two loop steps over the transposed carry, was 1.2x faster at 64x64 and 1.5x
//! slower at 32x32: not kept.) Everything batches over leading dims and runs under jit
//! and vmap. Derivatives come from JAX's analytic rules through `custom_jvp` (the
//! rules call the decomposition again, so any order works), not from
//! differentiating the iteration.

use super::linalg_decomp::{eye_mask, full_as, matrices, mt, pick, qr, scalar, square_matrices};
use crate::array::Array;
use crate::error::user_error;
use crate::lax;
use crate::numpy::{self as jnp, to_inexact, ArrayLike};
use crate::prim::custom::custom_jvp;
use oxla::DType;

/// Sweeps after which the iteration stops even if it has not converged (Jacobi
/// needs about ten for f64 matrices of a few hundred rows).
const MAX_SWEEPS: i64 = 60;

/// `x` (`[B.., k]`) spread over `shape` (`[B.., r, c]`), its last axis placed at
/// `axis` (`nb`: one value per row, `nb + 1`: one value per column).
fn along(x: &Array, shape: &[usize], axis: usize) -> Array {
    let nb = x.ndim() - 1;
    let dims: Vec<usize> = (0..nb).chain([axis]).collect();
    lax::broadcast_in_dim(x, shape, &dims)
}

/// `shape` with its last two dims replaced.
fn with_last2(shape: &[usize], r: usize, c: usize) -> Vec<usize> {
    let nb = shape.len() - 2;
    shape[..nb].iter().copied().chain([r, c]).collect()
}

/// Sum of `x` over its last `k` dims.
fn sum_last(x: &Array, k: usize) -> Array {
    let nd = x.ndim();
    lax::reduce_sum(x, &(nd - k..nd).collect::<Vec<_>>())
}

/// `true` when any element of `x` is true (a scalar).
fn any(x: &Array) -> Array {
    if x.ndim() == 0 {
        return x.clone();
    }
    lax::reduce_or(x, &(0..x.ndim()).collect::<Vec<_>>())
}

/// The dtype's machine epsilon (`jnp.finfo(dtype).eps`).
fn epsilon(dtype: DType) -> f64 {
    match dtype {
        DType::F32 => f32::EPSILON as f64,
        _ => f64::EPSILON,
    }
}

#[track_caller]
fn float_matrices(op: &str, a: &Array) {
    if !matches!(a.dtype(), DType::F32 | DType::F64) {
        user_error(format!(
            "jnp.linalg.{op}: {}{:?} matrices are not supported (f32 and f64 are)",
            a.dtype(),
            a.shape()
        ));
    }
}

/// The slice `lo..hi` of axis `axis`.
fn part(x: &Array, axis: usize, lo: usize, hi: usize) -> Array {
    let mut start = vec![0; x.ndim()];
    let mut limit = x.shape().to_vec();
    start[axis] = lo;
    limit[axis] = hi;
    lax::slice(x, &start, &limit, None)
}

/// Splits axis `axis` (size `n`, even) into the two halves of the round-robin
/// ordering's first round: slots `E = 0..n/2` and `O = n-1, n-2, .., n/2` (index `i`
/// of `E` is paired with index `i` of `O`).
fn to_slots(x: &Array, axis: usize) -> (Array, Array) {
    let n = x.shape()[axis];
    let h = n / 2;
    (part(x, axis, 0, h), lax::rev(&part(x, axis, h, n), &[axis]))
}

/// The inverse of [`to_slots`].
fn from_slots(e: &Array, o: &Array, axis: usize) -> Array {
    lax::concatenate(&[e.clone(), lax::rev(o, &[axis])], axis)
}

/// The next round of the round-robin ordering (Brent and Luk's): the first element
/// stays, the others move one place around the circle `E_1 .. E_h-1, O_h-1 .. O_0`:
/// `E' = [E_0, O_0, E_1 .. E_h-2]`, `O' = [O_1 .. O_h-1, E_h-1]`. After `n - 1`
/// rounds every pair has met once and the order is back to the start.
fn next_round(e: &Array, o: &Array, axis: usize) -> (Array, Array) {
    let h = e.shape()[axis];
    if h < 2 {
        return (e.clone(), o.clone());
    }
    (
        lax::concatenate(
            &[
                part(e, axis, 0, 1),
                part(o, axis, 0, 1),
                part(e, axis, 1, h - 1),
            ],
            axis,
        ),
        lax::concatenate(&[part(o, axis, 1, h), part(e, axis, h - 1, h)], axis),
    )
}

/// The inverse of [`next_round`]: `E = [E'_0, E'_2 .. E'_h-1, O'_h-1]`,
/// `O = [E'_1, O'_0 .. O'_h-2]`.
fn prev_round(e: &Array, o: &Array, axis: usize) -> (Array, Array) {
    let h = e.shape()[axis];
    if h < 2 {
        return (e.clone(), o.clone());
    }
    (
        lax::concatenate(
            &[
                part(e, axis, 0, 1),
                part(e, axis, 2, h),
                part(o, axis, h - 1, h),
            ],
            axis,
        ),
        lax::concatenate(&[part(e, axis, 1, 2), part(o, axis, 0, h - 1)], axis),
    )
}

/// Rotates the paired slices `(e_i, o_i)` along `axis` of `[B.., r, c]` blocks by
/// `(c_i, s_i)` (`[B.., h]`): `e <- c e - s o`, `o <- s e + c o`.
fn rotate_pairs(e: &Array, o: &Array, c: &Array, s: &Array, axis: usize) -> (Array, Array) {
    let cc = along(c, e.shape(), axis);
    let sc = along(s, e.shape(), axis);
    (
        lax::sub(&lax::mul(&cc, e), &lax::mul(&sc, o)),
        lax::add(&lax::mul(&sc, e), &lax::mul(&cc, o)),
    )
}

/// The diagonal of each `[B.., h, h]` block.
fn diag_of(x: &Array, eye: &Array) -> Array {
    let nb = x.ndim() - 2;
    pick(eye, x, nb + 1)
}

/// The rotation `(c, s, t = s / c)` that makes `[[x, z], [z, y]]` diagonal (for
/// `eigh`) or two columns with squared norms `x`, `y` and dot product `z` orthogonal
/// (for `svd`): the smaller root of `t² + 2ζt - 1 = 0`, `ζ = (y - x) / 2z`; none when
/// `z == 0` (or `ζ²` overflows, where the rotation is below rounding).
fn rotation(x: &Array, y: &Array, z: &Array) -> (Array, Array, Array) {
    let zero = full_as(z, 0.0);
    let one = full_as(z, 1.0);
    let zeta = lax::div(&lax::sub(y, x), &lax::mul(z, &scalar(2.0, z)));
    let sign = lax::select(&lax::ge(&zeta, &zero), &one, &lax::neg(&one));
    let root = lax::sqrt(&lax::add(&lax::mul(&zeta, &zeta), &one));
    let t = lax::div(&sign, &lax::add(&lax::abs(&zeta), &root));
    let t = lax::select(&lax::eq(z, &zero), &zero, &t);
    let c = lax::rsqrt(&lax::add(&lax::mul(&t, &t), &one));
    let s = lax::mul(&t, &c);
    (c, s, t)
}

/// Pads the last two dims of `a` to `rows x cols` with zeros.
fn pad_to(a: &Array, rows: usize, cols: usize) -> Array {
    let nb = a.ndim() - 2;
    let mut config = vec![(0i64, 0i64, 0usize); nb];
    config.push((0, (rows - a.shape()[nb]) as i64, 0));
    config.push((0, (cols - a.shape()[nb + 1]) as i64, 0));
    lax::pad(a, &scalar(0.0, a), &config)
}

/// The leading `rows x cols` block of the last two dims.
fn top_left(a: &Array, rows: usize, cols: usize) -> Array {
    let nb = a.ndim() - 2;
    let limit = with_last2(a.shape(), rows, cols);
    lax::slice(a, &vec![0; nb + 2], &limit, None)
}

/// All NaN where a matrix of `a` (`[B.., m, n]`) has a non-finite entry (LAPACK's
/// answer); `x` has the batch dims first.
fn nan_where_nonfinite(a: &Array, x: &Array) -> Array {
    let nb = a.ndim() - 2;
    let finite = lax::reduce_and(&lax::is_finite(a), &[nb, nb + 1]);
    let finite = lax::broadcast_in_dim(&finite, x.shape(), &(0..nb).collect::<Vec<_>>());
    lax::select(&finite, x, &full_as(x, f64::NAN))
}

/// A symmetric matrix in round-robin slot order: blocks `[EE, EO; OE, OO]`, and the
/// eigenvector columns `[VE, VO]`.
type Blocks = (Array, Array, Array, Array, Array, Array);

/// Applies a change of pairing (`next_round`/`prev_round`) to the rows and columns
/// of the blocks and to the columns of the eigenvectors.
fn reorder(blocks: Blocks, nb: usize, step: fn(&Array, &Array, usize) -> (Array, Array)) -> Blocks {
    let (ee, eo, oe, oo, ve, vo) = blocks;
    let (ee, oe) = step(&ee, &oe, nb);
    let (eo, oo) = step(&eo, &oo, nb);
    let (ee, eo) = step(&ee, &eo, nb + 1);
    let (oe, oo) = step(&oe, &oo, nb + 1);
    let (ve, vo) = step(&ve, &vo, nb + 1);
    (ee, eo, oe, oo, ve, vo)
}

/// The cyclic Jacobi eigenvalue iteration on symmetric `a` (`[B.., n, n]`):
/// eigenvalues ascending and eigenvectors as columns.
fn jacobi_eigh(a: &Array) -> (Array, Array) {
    let shape = a.shape().to_vec();
    let nb = shape.len() - 2;
    let n = shape[nb];
    if n == 0 {
        let w_shape: Vec<usize> = shape[..nb].iter().copied().chain([0]).collect();
        return (lax::reshape(a, &w_shape), a.clone());
    }
    // An odd size gets a zero row and column: their rotations are the identity.
    let n2 = n + n % 2;
    let a0 = pad_to(a, n2, n2);
    let eye_n = eye_mask(&with_last2(&shape, n2, n2));
    let v0 = lax::convert_element_type(&eye_n, a.dtype());
    let (row_e, row_o) = to_slots(&a0, nb);
    let (ee, eo) = to_slots(&row_e, nb + 1);
    let (oe, oo) = to_slots(&row_o, nb + 1);
    let (ve, vo) = to_slots(&v0, nb + 1);
    let eye = eye_mask(ee.shape());
    let zero = full_as(&ee, 0.0);
    let blocks = reorder((ee, eo, oe, oo, ve, vo), nb, prev_round);
    let sq = |x: &Array| sum_last(&lax::mul(x, x), 2);
    let off_diag = |x: &Array| sq(&lax::select(&eye, &zero, x));
    let off2 = |(ee, eo, oe, oo, _, _): &Blocks| {
        lax::add(
            &lax::add(&off_diag(ee), &off_diag(oo)),
            &lax::add(&sq(eo), &sq(oe)),
        )
    };
    let eps = epsilon(a.dtype());
    let threshold = lax::mul(&sq(&a0), &scalar(eps * eps, &a0));
    // A round first moves the (materialized) blocks to its pairing, then rotates:
    // shuffling freshly rotated values would recompute them for every piece of the
    // shuffle. The carry is one round behind, so sweeps start from `prev_round`.
    let round = |_: Array, blocks: Blocks| {
        let (ee, eo, oe, oo, ve, vo) = reorder(blocks, nb, next_round);
        let (app, aqq, apq) = (diag_of(&ee, &eye), diag_of(&oo, &eye), diag_of(&eo, &eye));
        let (c, s, t) = rotation(&app, &aqq, &apq);
        // Jᵀ A J: the rows of each pair, then its columns.
        let (ee, oe) = rotate_pairs(&ee, &oe, &c, &s, nb);
        let (eo, oo) = rotate_pairs(&eo, &oo, &c, &s, nb);
        let (ee, eo) = rotate_pairs(&ee, &eo, &c, &s, nb + 1);
        let (oe, oo) = rotate_pairs(&oe, &oo, &c, &s, nb + 1);
        let (ve, vo) = rotate_pairs(&ve, &vo, &c, &s, nb + 1);
        // The rotated pairs: exactly zero off the diagonal, the diagonal from the
        // 2x2 solution (more accurate than the rotated sums).
        let tz = lax::mul(&t, &apq);
        let on_diag = |x: &Array, d: &Array| lax::select(&eye, &along(d, x.shape(), nb + 1), x);
        let ee = on_diag(&ee, &lax::sub(&app, &tz));
        let oo = on_diag(&oo, &lax::add(&aqq, &tz));
        let eo = lax::select(&eye, &zero, &eo);
        let oe = lax::select(&eye, &zero, &oe);
        (ee, eo, oe, oo, ve, vo)
    };
    let (_, blocks) = lax::while_loop(
        |(k, blocks): &(Array, Blocks)| {
            let more = any(&lax::gt(&off2(blocks), &threshold));
            lax::bitwise_and(&lax::lt(k, &full_as(k, MAX_SWEEPS as f64)), &more)
        },
        |(k, blocks): (Array, Blocks)| {
            let blocks = lax::fori_loop(0, (n2 - 1) as i64, round, blocks);
            (lax::add(&k, &full_as(&k, 1.0)), blocks)
        },
        (Array::scalar_i128(0, DType::I32, false), blocks),
    );
    let (ee, _, _, oo, ve, vo) = reorder(blocks, nb, next_round);
    let w = from_slots(&diag_of(&ee, &eye), &diag_of(&oo, &eye), nb);
    let w = part(&w, nb, 0, n);
    let v = top_left(&from_slots(&ve, &vo, nb + 1), n, n);
    let order = jnp::argsort(&w, Some(-1));
    let w = jnp::take_along_axis(&w, &order, -1);
    let v = jnp::take_along_axis(&v, along(&order, v.shape(), nb + 1), -1);
    (nan_where_nonfinite(a, &w), nan_where_nonfinite(a, &v))
}

/// One-sided Jacobi (Hestenes) on `a` (`[B.., m, n]`): `(g, v)` with `a v = g`, `v`
/// orthogonal and `g`'s columns mutually orthogonal.
fn jacobi_columns(a: &Array) -> (Array, Array) {
    let shape = a.shape().to_vec();
    let nb = shape.len() - 2;
    let (m, n) = (shape[nb], shape[nb + 1]);
    let n2 = n + n % 2;
    // The columns are kept as rows (`gᵀ`, `vᵀ`): reordering and rotating pairs then
    // work on whole contiguous rows, and the norms and dot products are row sums.
    let (row, inner) = (nb, nb + 1);
    let g0 = mt(&pad_to(a, m, n2));
    let v0 = lax::convert_element_type(&eye_mask(&with_last2(&shape, n2, n2)), a.dtype());
    let (ge, go) = to_slots(&g0, row);
    let (ve, vo) = to_slots(&v0, row);
    let (ge, go) = prev_round(&ge, &go, row);
    let (ve, vo) = prev_round(&ve, &vo, row);
    let eps = epsilon(a.dtype());
    let tol = eps * (m.max(1) as f64).sqrt();
    let zero_b = jnp::zeros(&shape[..nb], a.dtype());
    type Cols = (Array, Array, Array, Array, Array);
    // As in `jacobi_eigh`, a round reorders its (materialized) input first.
    let round = |_: Array, (ge, go, ve, vo, worst): Cols| {
        let (ge, go) = next_round(&ge, &go, row);
        let (ve, vo) = next_round(&ve, &vo, row);
        let dot = |x: &Array, y: &Array| lax::reduce_sum(&lax::mul(x, y), &[inner]);
        let (alpha, beta, gamma) = (dot(&ge, &ge), dot(&go, &go), dot(&ge, &go));
        let scale = lax::mul(&lax::sqrt(&alpha), &lax::sqrt(&beta));
        let zero = full_as(&scale, 0.0);
        let cosine = lax::select(
            &lax::gt(&scale, &zero),
            &lax::div(&lax::abs(&gamma), &scale),
            &zero,
        );
        let worst = lax::max(&worst, &lax::reduce_max(&cosine, &[nb]));
        let (c, s, _) = rotation(&alpha, &beta, &gamma);
        let (ge, go) = rotate_pairs(&ge, &go, &c, &s, row);
        let (ve, vo) = rotate_pairs(&ve, &vo, &c, &s, row);
        (ge, go, ve, vo, worst)
    };
    let (_, cols) = lax::while_loop(
        |(k, (_, _, _, _, worst)): &(Array, Cols)| {
            let first = lax::eq(k, &full_as(k, 0.0));
            let more = lax::bitwise_and(
                &lax::lt(k, &full_as(k, MAX_SWEEPS as f64)),
                &any(&lax::gt(worst, &full_as(worst, tol))),
            );
            lax::bitwise_or(&first, &more)
        },
        |(k, (ge, go, ve, vo, _)): (Array, Cols)| {
            let cols = (ge, go, ve, vo, zero_b.clone());
            let cols = lax::fori_loop(0, (n2 - 1) as i64, round, cols);
            (lax::add(&k, &full_as(&k, 1.0)), cols)
        },
        (
            Array::scalar_i128(0, DType::I32, false),
            (ge, go, ve, vo, zero_b.clone()),
        ),
    );
    let (ge, go, ve, vo, _) = cols;
    let (ge, go) = next_round(&ge, &go, row);
    let (ve, vo) = next_round(&ve, &vo, row);
    let g = mt(&from_slots(&ge, &go, row));
    let v = mt(&from_slots(&ve, &vo, row));
    (top_left(&g, m, n), top_left(&v, n, n))
}

/// The SVD of tall `a` (`[B.., m, n]`, `m >= n > 0`): `(u, s, v)` with `a = u diag(s) vᵀ`,
/// `s` descending, `u` `[B.., m, m]` when `full` else `[B.., m, n]`.
fn tall_svd(a: &Array, full: bool) -> (Array, Array, Array) {
    let shape = a.shape().to_vec();
    let nb = shape.len() - 2;
    let (m, n) = (shape[nb], shape[nb + 1]);
    let (g, v) = jacobi_columns(a);
    let s = lax::sqrt(&lax::reduce_sum(&lax::mul(&g, &g), &[nb]));
    let order = jnp::argsort_with(&s, Some(-1), true, true);
    let s = jnp::take_along_axis(&s, &order, -1);
    let g = jnp::take_along_axis(&g, along(&order, g.shape(), nb + 1), -1);
    let v = jnp::take_along_axis(&v, along(&order, v.shape(), nb + 1), -1);
    let positive = lax::gt(&s, &full_as(&s, 0.0));
    let safe_s = lax::select(&positive, &s, &full_as(&s, 1.0));
    let pos_cols = along(&positive, g.shape(), nb + 1);
    let u0 = lax::select(
        &pos_cols,
        &lax::div(&g, &along(&safe_s, g.shape(), nb + 1)),
        &full_as(&g, 0.0),
    );
    // Zero singular values (sorted last) leave zero columns: a Householder QR of
    // u0 keeps its unit columns (up to sign) and completes them to an orthonormal
    // basis, of the whole space for `full`.
    let (q, _) = qr(&u0, if full { "complete" } else { "reduced" });
    let lead = top_left(&q, m, n);
    let u = lax::select(&pos_cols, &u0, &lead);
    let u = if full && m > n {
        let rest = lax::slice(&q, &with_last2(&vec![0; nb + 2], 0, n), q.shape(), None);
        lax::concatenate(&[u, rest], nb + 1)
    } else {
        u
    };
    (
        nan_where_nonfinite(a, &u),
        nan_where_nonfinite(a, &s),
        nan_where_nonfinite(a, &v),
    )
}

/// `(u, s, vh)` of any `a`: wide matrices are decomposed through their transpose.
fn svd_any(a: &Array, full: bool) -> (Array, Array, Array) {
    let nb = a.ndim() - 2;
    let (m, n) = (a.shape()[nb], a.shape()[nb + 1]);
    if m.min(n) == 0 {
        // No singular values; the full bases are identities.
        let batch = &a.shape()[..nb];
        let eye = |k: usize, cols: usize| {
            let shape = with_last2(a.shape(), k, cols);
            let square = lax::convert_element_type(&eye_mask(&with_last2(&shape, k, k)), a.dtype());
            top_left(&square, k, cols)
        };
        let s = jnp::zeros(
            &batch.iter().copied().chain([0]).collect::<Vec<_>>(),
            a.dtype(),
        );
        return if full {
            (eye(m, m), s, eye(n, n))
        } else {
            (eye(m, 0), s, top_left(&eye(n, n), 0, n))
        };
    }
    if m >= n {
        let (u, s, v) = tall_svd(a, full);
        (u, s, mt(&v))
    } else {
        let (u, s, v) = tall_svd(&mt(a), full);
        (v, s, mt(&u))
    }
}

/// `eigh` of an already symmetric `a`, with JAX's derivative rule.
fn eigh_symmetric(a: &Array) -> (Array, Array) {
    custom_jvp(|a: Array| jacobi_eigh(&a), eigh_jvp)(a.clone())
}

/// `dw = diag(Vᵀ dA V)`, `dV = V (F ∘ Vᵀ dA V)` with `F[i, j] = 1 / (w[j] - w[i])`
/// off the diagonal (infinite for repeated eigenvalues, as in JAX).
fn eigh_jvp(a: Array, da: Array) -> ((Array, Array), (Array, Array)) {
    let (w, v) = eigh_symmetric(&a);
    let vdv = jnp::matmul(jnp::matmul(mt(&v), &da), &v);
    let dw = jnp::diagonal(&vdv, 0, -2, -1);
    let nb = a.ndim() - 2;
    let eye = lax::convert_element_type(&eye_mask(a.shape()), a.dtype());
    let gaps = lax::sub(&along(&w, a.shape(), nb + 1), &along(&w, a.shape(), nb));
    let f = lax::sub(&lax::integer_pow(&lax::add(&eye, &gaps), -1), &eye);
    let dv = jnp::matmul(&v, lax::mul(&f, &vdv));
    ((w, v), (dw, dv))
}

/// The reduced SVD with JAX's derivative rule.
fn svd_reduced(a: &Array) -> (Array, Array, Array) {
    custom_jvp(|a: Array| svd_any(&a, false), svd_jvp)(a.clone())
}

/// JAX's SVD JVP (real matrices): with `dS = Uᵀ dA V`, `ds = diag(dS)`,
/// `dU = U (F ∘ (dS S + S dSᵀ))`, `dV = V (F ∘ (S dS + dSᵀ S))`,
/// `F[i, j] = 1 / (s[j]² - s[i]²)` off the diagonal, plus the parts of `dA` outside
/// the column (row) space for tall (wide) matrices.
fn svd_jvp(a: Array, da: Array) -> ((Array, Array, Array), (Array, Array, Array)) {
    let (u, s, vh) = svd_reduced(&a);
    let nb = a.ndim() - 2;
    let (m, n) = (a.shape()[nb], a.shape()[nb + 1]);
    let k = s.shape()[nb];
    let v = mt(&vh);
    let ut = mt(&u);
    let ds_mat = jnp::matmul(jnp::matmul(&ut, &da), &v);
    let ds = jnp::diagonal(&ds_mat, 0, -2, -1);
    let kk = with_last2(a.shape(), k, k);
    let s_col = along(&s, &kk, nb + 1);
    let s_row = along(&s, &kk, nb);
    let eye = lax::convert_element_type(&eye_mask(&kk), a.dtype());
    let diffs = lax::mul(&lax::add(&s_col, &s_row), &lax::sub(&s_col, &s_row));
    let f = lax::sub(&lax::integer_pow(&lax::add(&diffs, &eye), -1), &eye);
    let dss = lax::mul(&s_col, &ds_mat);
    let sds = lax::mul(&s_row, &ds_mat);
    let mut du = jnp::matmul(&u, lax::mul(&f, &lax::add(&dss, &mt(&dss))));
    let mut dv = jnp::matmul(&v, lax::mul(&f, &lax::add(&sds, &mt(&sds))));
    if m > n {
        let dav = jnp::matmul(&da, &v);
        let outside = lax::sub(&dav, &jnp::matmul(&u, jnp::matmul(&ut, &dav)));
        du = lax::add(
            &du,
            &lax::div(&outside, &along(&s, outside.shape(), nb + 1)),
        );
    }
    if n > m {
        let dau = jnp::matmul(mt(&da), &u);
        let outside = lax::sub(&dau, &jnp::matmul(&v, jnp::matmul(&vh, &dau)));
        dv = lax::add(
            &dv,
            &lax::div(&outside, &along(&s, outside.shape(), nb + 1)),
        );
    }
    ((u, s, vh), (du, ds, mt(&dv)))
}

/// The eigenvalues (ascending) and eigenvectors (as columns) of each symmetric
/// matrix in `a` (`[..., n, n]`), like `jnp.linalg.eigh`: `a = v diag(w) vᵀ`. Only
/// the symmetrised input `(a + aᵀ)/2` is used (JAX's `symmetrize_input=True`).
/// Eigenvectors are unique up to sign (and rotations within repeated eigenvalues);
/// ours need not have LAPACK's signs. Matrices with a NaN or infinite entry give all
/// NaN. Differentiable (JAX's rule: gradients through eigenvectors of repeated
/// eigenvalues are not finite, as in JAX).
///
/// ```
/// use jaxon::numpy as jnp;
/// let (w, v) = jnp::linalg::eigh(jnp::array(&[[2.0f64, 1.0], [1.0, 2.0]]));
/// let w = w.to_vec::<f64>();
/// assert!((w[0] - 1.0).abs() < 1e-15 && (w[1] - 3.0).abs() < 1e-15);
/// assert_eq!(v.shape(), &[2, 2]);
/// ```
#[track_caller]
pub fn eigh(a: impl ArrayLike) -> (Array, Array) {
    let a = to_inexact(a.operand());
    square_matrices("eigh", &a);
    float_matrices("eigh", &a);
    let a = lax::div(&lax::add(&a, &mt(&a)), &scalar(2.0, &a));
    eigh_symmetric(&a)
}

/// The eigenvalues (ascending) of each symmetric matrix in `a`, like
/// `jnp.linalg.eigvalsh`.
///
/// ```
/// use jaxon::numpy as jnp;
/// let w = jnp::linalg::eigvalsh(jnp::array(&[[1.0f32, 0.0], [0.0, -1.0]]));
/// assert_eq!(w.to_vec::<f32>(), vec![-1.0, 1.0]);
/// ```
#[track_caller]
pub fn eigvalsh(a: impl ArrayLike) -> Array {
    eigh(a).0
}

/// The singular value decomposition `a = u diag(s) vh` of each matrix in `a`
/// (`[..., m, n]`), like `jnp.linalg.svd` with `compute_uv=True`: `s` descending
/// (`[..., k]`, `k = min(m, n)`); `u` is `[..., m, m]` and `vh` `[..., n, n]` when
/// `full_matrices`, else `[..., m, k]` and `[..., k, n]`. Singular vectors are unique
/// up to sign; ours need not have LAPACK's. Differentiable like JAX (not with
/// `full_matrices` on non-square matrices, which JAX rejects too).
///
/// ```
/// use jaxon::numpy as jnp;
/// let a = jnp::array(&[[3.0f64, 0.0], [0.0, -4.0], [0.0, 0.0]]);
/// let (u, s, vh) = jnp::linalg::svd(&a, false);
/// assert_eq!((u.shape(), vh.shape()), (&[3usize, 2][..], &[2usize, 2][..]));
/// let s = s.to_vec::<f64>();
/// assert!((s[0] - 4.0).abs() < 1e-15 && (s[1] - 3.0).abs() < 1e-15);
/// ```
#[track_caller]
pub fn svd(a: impl ArrayLike, full_matrices: bool) -> (Array, Array, Array) {
    let a = to_inexact(a.operand());
    matrices("svd", &a);
    float_matrices("svd", &a);
    let nb = a.ndim() - 2;
    if !full_matrices || a.shape()[nb] == a.shape()[nb + 1] {
        return svd_reduced(&a);
    }
    let loc = std::panic::Location::caller();
    custom_jvp(
        |a: Array| svd_any(&a, true),
        move |a: Array, _: Array| -> ((Array, Array, Array), (Array, Array, Array)) {
            user_error(format!(
                "jnp.linalg.svd: the derivative of the SVD with full_matrices=true of a \
                 non-square {}{:?} matrix is not defined (called at {loc}); use \
                 full_matrices=false",
                a.dtype(),
                a.shape()
            ))
        },
    )(a)
}

/// The singular values (descending) of each matrix in `a`, like
/// `jnp.linalg.svdvals` (`svd` with `compute_uv=False`).
///
/// ```
/// use jaxon::numpy as jnp;
/// let s = jnp::linalg::svdvals(jnp::array(&[[0.0f32, 2.0], [1.0, 0.0]]));
/// assert_eq!(s.to_vec::<f32>(), vec![2.0, 1.0]);
/// ```
#[track_caller]
pub fn svdvals(a: impl ArrayLike) -> Array {
    svd(a, false).1
}
