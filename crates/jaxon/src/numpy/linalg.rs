//! Products: `dot`, `matmul`, `vdot`, `inner`, `outer`, `tensordot`, `einsum`, and
//! the methods `Array::dot` / `Array::matmul`.
//!
//! Operands are promoted to their common dtype (weak Rust scalars give way), the
//! contraction is one `dot_general` with `preferred_element_type` set to that dtype
//! (as jax.numpy does), and the result is weak only when every operand was.

/// Decompositions of `jax.numpy.linalg` (`jnp::linalg::cholesky`, `qr`, `eigh`,
/// `eigvalsh`, `svd`, `svdvals`).
pub use super::linalg_decomp::{cholesky, qr};
pub use super::linalg_eig::{eigh, eigvalsh, svd, svdvals};

use super::promote::{canonical_axis, promote_dtypes, ArrayLike, Operand};
use crate::array::Array;
use crate::dtypes::{result_type, PType};
use crate::error::user_error;
use crate::lax::{self, DotDimensionNumbers};
use oxla::DType;

/// Promotes operands; returns them with the common dtype and the output weak flag.
#[track_caller]
fn promote_all(operands: Vec<Operand>) -> (Vec<Array>, DType, bool) {
    let types: Vec<PType> = operands.iter().map(Operand::ptype).collect();
    let t = result_type(&types);
    (promote_dtypes(operands), t.dtype, t.weak)
}

/// `dot_general` in the promoted dtype, then the weak flag of jax.numpy's result.
#[track_caller]
fn contract(a: &Array, b: &Array, dims: DotDimensionNumbers, dtype: DType, weak: bool) -> Array {
    let out = lax::dot_general(a, b, dims, Some(dtype));
    lax::convert_weak(&out, dtype, weak)
}

#[track_caller]
fn ravel(x: &Array) -> Array {
    lax::reshape(x, &[x.size()])
}

/// The size check of a contraction, reported with the numpy function's name.
#[track_caller]
fn check_contract(op: &str, a: &Array, b: &Array, ad: &[usize], bd: &[usize]) {
    for (&i, &j) in ad.iter().zip(bd) {
        if a.shape()[i] != b.shape()[j] {
            user_error(format!(
                "{op}: shapes {:?} and {:?} are not aligned: dim {i} of the first (size {}) != \
                 dim {j} of the second (size {})",
                a.shape(),
                b.shape(),
                a.shape()[i],
                b.shape()[j]
            ));
        }
    }
}

/// Dot product with NumPy's rules (`jnp.dot`): 0-d operands multiply; 1-d·1-d is the
/// inner product; otherwise the last axis of `a` contracts with `b`'s only axis (1-d)
/// or second-to-last axis (N-d).
///
/// ```
/// use jaxon::numpy as jnp;
/// let m = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
/// let v = jnp::array(&[1.0f32, 1.0]);
/// assert_eq!(jnp::dot(&m, &v).to_vec::<f32>(), vec![3.0, 7.0]);
/// ```
#[track_caller]
pub fn dot(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    let (v, dtype, weak) = promote_all(vec![a.operand(), b.operand()]);
    let (a, b) = (&v[0], &v[1]);
    let (an, bn) = (a.ndim(), b.ndim());
    let (ad, bd): (Vec<usize>, Vec<usize>) = if an == 0 || bn == 0 {
        (vec![], vec![])
    } else if bn == 1 {
        (vec![an - 1], vec![0])
    } else {
        (vec![an - 1], vec![bn - 2])
    };
    check_contract("dot", a, b, &ad, &bd);
    contract(
        a,
        b,
        DotDimensionNumbers::contracting(&ad, &bd),
        dtype,
        weak,
    )
}

/// Matrix product with NumPy's `matmul` rules (`jnp.matmul`, the `@` operator):
/// batch dims broadcast, a 1-d first operand gets a leading 1 (removed after), a 1-d
/// second operand a trailing 1 (removed after). 0-d operands are errors.
///
/// ```
/// use jaxon::numpy as jnp;
/// let a = jnp::ones(&[4, 1, 2, 3], jaxon::DType::F32);
/// let b = jnp::ones(&[5, 3, 6], jaxon::DType::F32);
/// assert_eq!(jnp::matmul(&a, &b).shape(), &[4, 5, 2, 6]);
/// ```
#[track_caller]
pub fn matmul(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    let (v, dtype, weak) = promote_all(vec![a.operand(), b.operand()]);
    let (a, b) = (&v[0], &v[1]);
    for (i, x) in [a, b].iter().enumerate() {
        if x.ndim() < 1 {
            user_error(format!(
                "matmul: input operand {i} must have ndim at least 1, but it has ndim 0 \
                 (shapes {:?} and {:?})",
                a.shape(),
                b.shape()
            ));
        }
    }
    let (a_mat, b_mat) = (a.ndim() > 1, b.ndim() > 1);
    let batch_of = |x: &Array, is_mat: bool| -> Vec<usize> {
        if is_mat {
            x.shape()[..x.ndim() - 2].to_vec()
        } else {
            vec![]
        }
    };
    let (ab, bb) = (batch_of(a, a_mat), batch_of(b, b_mat));
    let nb = ab.len().max(bb.len());
    let pad = |v: Vec<usize>| -> Vec<Option<usize>> {
        let mut out = vec![None; nb - v.len()];
        out.extend(v.into_iter().map(Some));
        out
    };
    let (ab, bb) = (pad(ab), pad(bb));
    // Port of jnp.matmul: size-1 batch dims are squeezed and become free dims of the
    // other operand; equal ones are dot_general batch dims.
    let (mut a_squeeze, mut b_squeeze) = (Vec::new(), Vec::new());
    let (mut a_batch, mut b_batch) = (Vec::new(), Vec::new());
    let (mut idx_batch, mut idx_a_other, mut idx_b_other) = (Vec::new(), Vec::new(), Vec::new());
    for (i, (ba, bbd)) in ab.iter().zip(&bb).enumerate() {
        match (*ba, *bbd) {
            (None, _) => idx_b_other.push(i),
            (_, None) => idx_a_other.push(i),
            (Some(1), _) => {
                idx_b_other.push(i);
                a_squeeze.push(idx_batch.len() + idx_a_other.len() + a_squeeze.len());
            }
            (_, Some(1)) => {
                idx_a_other.push(i);
                b_squeeze.push(idx_batch.len() + idx_b_other.len() + b_squeeze.len());
            }
            (Some(x), Some(y)) if x == y => {
                a_batch.push(idx_batch.len() + idx_a_other.len());
                b_batch.push(idx_batch.len() + idx_b_other.len());
                idx_batch.push(i);
            }
            _ => user_error(format!(
                "matmul: incompatible shapes for matmul arguments: {:?} and {:?} (batch dims \
                 do not broadcast)",
                a.shape(),
                b.shape()
            )),
        }
    }
    if a_mat {
        idx_a_other.push(nb);
    }
    if b_mat {
        idx_b_other.push(nb + a_mat as usize);
    }
    let order: Vec<usize> = idx_batch
        .iter()
        .chain(&idx_a_other)
        .chain(&idx_b_other)
        .copied()
        .collect();
    let mut perm: Vec<usize> = (0..order.len()).collect();
    perm.sort_by_key(|&i| order[i]);
    let a2 = lax::squeeze(a, &a_squeeze);
    let b2 = lax::squeeze(b, &b_squeeze);
    let ac = a2.ndim() - 1;
    let bc = b2.ndim() - 1 - b_mat as usize;
    if a2.shape()[ac] != b2.shape()[bc] {
        user_error(format!(
            "matmul: shapes {:?} and {:?} are not aligned: contracting dims of size {} and {}",
            a.shape(),
            b.shape(),
            a2.shape()[ac],
            b2.shape()[bc]
        ));
    }
    let dims = DotDimensionNumbers {
        lhs_contracting: vec![ac],
        rhs_contracting: vec![bc],
        lhs_batch: a_batch,
        rhs_batch: b_batch,
    };
    let out = lax::dot_general(&a2, &b2, dims, Some(dtype));
    let out = lax::transpose(&out, &perm);
    lax::convert_weak(&out, dtype, weak)
}

/// Dot product of the flattened operands (`jnp.vdot`; no conjugation: jaxon has no
/// complex dtypes).
#[track_caller]
pub fn vdot(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    let (v, dtype, weak) = promote_all(vec![a.operand(), b.operand()]);
    let (a, b) = (ravel(&v[0]), ravel(&v[1]));
    if a.size() != b.size() {
        user_error(format!(
            "vdot: operands must have the same number of elements, got shapes {:?} and {:?}",
            v[0].shape(),
            v[1].shape()
        ));
    }
    contract(
        &a,
        &b,
        DotDimensionNumbers::contracting(&[0], &[0]),
        dtype,
        weak,
    )
}

/// Outer product of the flattened operands (`jnp.outer`): shape `[a.size, b.size]`.
#[track_caller]
pub fn outer(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    let (v, dtype, weak) = promote_all(vec![a.operand(), b.operand()]);
    contract(
        &ravel(&v[0]),
        &ravel(&v[1]),
        DotDimensionNumbers::default(),
        dtype,
        weak,
    )
}

/// Inner product over the last axes (`jnp.inner`); a 0-d operand multiplies.
#[track_caller]
pub fn inner(a: impl ArrayLike, b: impl ArrayLike) -> Array {
    let (v, dtype, weak) = promote_all(vec![a.operand(), b.operand()]);
    let (a, b) = (&v[0], &v[1]);
    let dims = if a.ndim() == 0 || b.ndim() == 0 {
        DotDimensionNumbers::default()
    } else {
        let (ad, bd) = ([a.ndim() - 1], [b.ndim() - 1]);
        check_contract("inner", a, b, &ad, &bd);
        DotDimensionNumbers::contracting(&ad, &bd)
    };
    contract(a, b, dims, dtype, weak)
}

/// The `axes` argument of [`tensordot`]: a count `N` (the last N axes of `a` with the
/// first N of `b`) or two equally long lists of axes (negative axes count from the
/// end). Converts from `usize`/`i32`, `(i64, i64)` and pairs of arrays/vectors/slices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TensordotAxes {
    Count(usize),
    Pairs(Vec<i64>, Vec<i64>),
}

impl From<usize> for TensordotAxes {
    fn from(n: usize) -> Self {
        TensordotAxes::Count(n)
    }
}

impl From<i32> for TensordotAxes {
    fn from(n: i32) -> Self {
        TensordotAxes::Count(n.max(0) as usize)
    }
}

impl From<(i64, i64)> for TensordotAxes {
    fn from((a, b): (i64, i64)) -> Self {
        TensordotAxes::Pairs(vec![a], vec![b])
    }
}

impl<const N: usize, const M: usize> From<([i64; N], [i64; M])> for TensordotAxes {
    fn from((a, b): ([i64; N], [i64; M])) -> Self {
        TensordotAxes::Pairs(a.to_vec(), b.to_vec())
    }
}

impl From<(Vec<i64>, Vec<i64>)> for TensordotAxes {
    fn from((a, b): (Vec<i64>, Vec<i64>)) -> Self {
        TensordotAxes::Pairs(a, b)
    }
}

impl From<(&[i64], &[i64])> for TensordotAxes {
    fn from((a, b): (&[i64], &[i64])) -> Self {
        TensordotAxes::Pairs(a.to_vec(), b.to_vec())
    }
}

/// Tensor contraction over the given axes (`jnp.tensordot`): the output has `a`'s
/// free axes then `b`'s.
///
/// ```
/// use jaxon::numpy as jnp;
/// let a = jnp::ones(&[2, 3, 4], jaxon::DType::F32);
/// let b = jnp::ones(&[3, 4, 5], jaxon::DType::F32);
/// assert_eq!(jnp::tensordot(&a, &b, 2).shape(), &[2, 5]);
/// assert_eq!(jnp::tensordot(&a, &b, ([1, 2], [0, 1])).shape(), &[2, 5]);
/// ```
#[track_caller]
pub fn tensordot(a: impl ArrayLike, b: impl ArrayLike, axes: impl Into<TensordotAxes>) -> Array {
    let (v, dtype, weak) = promote_all(vec![a.operand(), b.operand()]);
    let (a, b) = (&v[0], &v[1]);
    let (an, bn) = (a.ndim(), b.ndim());
    let (ad, bd): (Vec<usize>, Vec<usize>) = match axes.into() {
        TensordotAxes::Count(n) => {
            if n > an.min(bn) {
                user_error(format!(
                    "tensordot: number of axes {n} exceeds the input ranks (shapes {:?} and {:?})",
                    a.shape(),
                    b.shape()
                ));
            }
            ((an - n..an).collect(), (0..n).collect())
        }
        TensordotAxes::Pairs(x, y) => {
            if x.len() != y.len() {
                user_error(format!(
                    "tensordot: axes lists must have equal length, got {x:?} and {y:?}"
                ));
            }
            // Loops, not closures: canonical_axis reports the caller's line.
            let (mut ad, mut bd) = (Vec::new(), Vec::new());
            for &i in &x {
                ad.push(canonical_axis("tensordot", i, an));
            }
            for &i in &y {
                bd.push(canonical_axis("tensordot", i, bn));
            }
            (ad, bd)
        }
    };
    for (name, d) in [("first", &ad), ("second", &bd)] {
        if (1..d.len()).any(|i| d[..i].contains(&d[i])) {
            user_error(format!(
                "tensordot: repeated axis in {d:?} of the {name} operand"
            ));
        }
    }
    check_contract("tensordot", a, b, &ad, &bd);
    contract(
        a,
        b,
        DotDimensionNumbers::contracting(&ad, &bd),
        dtype,
        weak,
    )
}

// ---- einsum -----------------------------------------------------------------------

/// Ids of labels: letters are their code points; ellipsis dims are `ELL + k`.
const ELL: u32 = 1 << 16;

fn label_text(l: u32) -> String {
    if l >= ELL {
        format!("... dim {}", l - ELL)
    } else {
        char::from_u32(l).map_or_else(|| l.to_string(), |c| format!("'{c}'"))
    }
}

/// One parsed term: labels with the position of `...` (if any).
struct Term {
    labels: Vec<u32>,
    ellipsis: Option<usize>,
}

#[track_caller]
fn parse_term(subscripts: &str, term: &str) -> Term {
    let mut labels = Vec::new();
    let mut ellipsis = None;
    let chars: Vec<char> = term.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '.' {
            if chars.get(i + 1..i + 3) != Some(&['.', '.']) || ellipsis.is_some() {
                user_error(format!(
                    "einsum: invalid ellipsis in term {term:?} of {subscripts:?} (use one \"...\" \
                     per term)"
                ));
            }
            ellipsis = Some(labels.len());
            i += 3;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            user_error(format!(
                "einsum: invalid subscript {c:?} in {subscripts:?} (labels are letters a-z, A-Z)"
            ));
        }
        labels.push(c as u32);
        i += 1;
    }
    Term { labels, ellipsis }
}

/// An operand with one label per dim.
struct Labeled {
    x: Array,
    labels: Vec<u32>,
}

/// Reduces a repeated label to one axis by taking the diagonal.
#[track_caller]
fn take_diagonals(subscripts: &str, mut op: Labeled) -> Labeled {
    loop {
        let dup = (0..op.labels.len()).find_map(|j| {
            let i = op.labels[..j].iter().position(|&l| l == op.labels[j])?;
            Some((i, j))
        });
        let Some((i, j)) = dup else {
            return op;
        };
        let n = op.x.shape()[i];
        if op.x.shape()[j] != n {
            user_error(format!(
                "einsum: label {} repeats in one operand of {subscripts:?} with different sizes \
                 {} and {} (shape {:?})",
                label_text(op.labels[i]),
                n,
                op.x.shape()[j],
                op.x.shape()
            ));
        }
        // Move i, j last, flatten them, and keep every (n + 1)-th element: x[.., k, k].
        let mut perm: Vec<usize> = (0..op.labels.len()).filter(|&d| d != i && d != j).collect();
        let mut labels: Vec<u32> = perm.iter().map(|&d| op.labels[d]).collect();
        let mut shape: Vec<usize> = perm.iter().map(|&d| op.x.shape()[d]).collect();
        perm.extend([i, j]);
        let t = lax::transpose(&op.x, &perm);
        shape.push(n * n);
        let flat = lax::reshape(&t, &shape);
        let d = shape.len() - 1;
        let diag = lax::slice_in_dim(&flat, 0, n * n, n + 1, d);
        labels.push(op.labels[i]);
        op = Labeled { x: diag, labels };
    }
}

/// Sums `op` over the dims whose labels `keep` rejects.
#[track_caller]
fn sum_out(op: Labeled, keep: impl Fn(u32) -> bool) -> Labeled {
    let axes: Vec<usize> = (0..op.labels.len())
        .filter(|&d| !keep(op.labels[d]))
        .collect();
    if axes.is_empty() {
        return op;
    }
    let x = if op.x.dtype().is_bool() {
        lax::reduce_or(&op.x, &axes)
    } else {
        lax::reduce_sum(&op.x, &axes)
    };
    let labels = op.labels.iter().copied().filter(|&l| keep(l)).collect();
    Labeled { x, labels }
}

/// Einstein summation (`jnp.einsum`): `"ij,jk->ik"`, implicit output (`"ij,jk"`: the
/// labels appearing once, sorted, after any `...` dims), repeated labels within an
/// operand take the diagonal (`"ii->i"`, trace `"ii"`), labels absent from the output
/// are summed, `...` broadcasts. Contracts pairwise from left to right with
/// `dot_general`.
///
/// ```
/// use jaxon::numpy as jnp;
/// let m = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
/// assert_eq!(jnp::einsum("ij,kj->ik", &[&m, &m]).to_vec::<f32>(), vec![5.0, 11.0, 11.0, 25.0]);
/// assert_eq!(jnp::einsum("ii", &[&m]).item::<f32>(), 5.0);
/// ```
#[track_caller]
pub fn einsum(subscripts: &str, operands: &[&Array]) -> Array {
    einsum_with(subscripts, operands, None)
}

/// [`einsum`] with a `preferred_element_type` (the output and accumulation dtype).
#[track_caller]
pub fn einsum_with(
    subscripts: &str,
    operands: &[&Array],
    preferred_element_type: Option<DType>,
) -> Array {
    let spec: String = subscripts.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, out_spec) = match spec.split_once("->") {
        Some((l, r)) if !r.contains("->") => (l, Some(r)),
        Some(_) => user_error(format!("einsum: more than one \"->\" in {subscripts:?}")),
        None => (spec.as_str(), None),
    };
    let mut terms: Vec<Term> = Vec::new();
    for t in lhs.split(',') {
        terms.push(parse_term(subscripts, t));
    }
    if operands.is_empty() || terms.len() != operands.len() {
        user_error(format!(
            "einsum: {subscripts:?} names {} operands but {} were given",
            terms.len(),
            operands.len()
        ));
    }
    let (arrays, dtype, all_weak) = promote_all(operands.iter().map(|a| a.operand()).collect());
    let out_dtype = preferred_element_type.unwrap_or(dtype);
    let weak = all_weak && preferred_element_type.is_none();

    // Labels per operand, with ellipsis dims right-aligned across operands.
    let mut ell_rank = 0;
    for (t, x) in terms.iter().zip(&arrays) {
        let ok = match t.ellipsis {
            None => t.labels.len() == x.ndim(),
            Some(_) => t.labels.len() <= x.ndim(),
        };
        if !ok {
            user_error(format!(
                "einsum: operand of shape {:?} has {} dims but its subscripts in {subscripts:?} \
                 name {}",
                x.shape(),
                x.ndim(),
                t.labels.len()
            ));
        }
        if t.ellipsis.is_some() {
            ell_rank = ell_rank.max(x.ndim() - t.labels.len());
        }
    }
    let mut ops: Vec<Labeled> = terms
        .iter()
        .zip(&arrays)
        .map(|(t, x)| {
            let mut labels = t.labels.clone();
            if let Some(p) = t.ellipsis {
                let e = x.ndim() - t.labels.len();
                let ell = (ell_rank - e..ell_rank).map(|k| ELL + k as u32);
                labels.splice(p..p, ell);
            }
            let x = lax::convert_element_type(x, out_dtype);
            Labeled { x, labels }
        })
        .collect();

    let ell_labels: Vec<u32> = (0..ell_rank).map(|k| ELL + k as u32).collect();
    let output: Vec<u32> = match out_spec {
        Some(o) => {
            let t = parse_term(subscripts, o);
            let mut labels = t.labels;
            if let Some(p) = t.ellipsis {
                labels.splice(p..p, ell_labels.iter().copied());
            }
            labels
        }
        None => {
            let all: Vec<u32> = ops.iter().flat_map(|o| o.labels.clone()).collect();
            let mut once: Vec<u32> = all
                .iter()
                .copied()
                .filter(|&l| l < ELL && all.iter().filter(|&&m| m == l).count() == 1)
                .collect();
            once.sort_unstable();
            ell_labels.iter().copied().chain(once).collect()
        }
    };
    for (k, &l) in output.iter().enumerate() {
        if output[..k].contains(&l) {
            user_error(format!(
                "einsum: output label {} repeats in {subscripts:?}",
                label_text(l)
            ));
        }
        if !ops.iter().any(|o| o.labels.contains(&l)) {
            user_error(format!(
                "einsum: output label {} of {subscripts:?} appears in no input",
                label_text(l)
            ));
        }
    }

    // Diagonals first, then each label's size (size 1 broadcasts).
    let mut diag = Vec::new();
    for o in ops {
        diag.push(take_diagonals(subscripts, o));
    }
    ops = diag;
    let mut sizes: Vec<(u32, usize)> = Vec::new();
    for o in &ops {
        for (d, &l) in o.labels.iter().enumerate() {
            let n = o.x.shape()[d];
            match sizes.iter_mut().find(|(m, _)| *m == l) {
                None => sizes.push((l, n)),
                Some((_, s)) if *s == n || n == 1 => {}
                Some((_, s)) if *s == 1 => *s = n,
                Some((_, s)) => user_error(format!(
                    "einsum: label {} has size {} in one operand and {n} in another ({subscripts:?}, \
                     shapes {:?})",
                    label_text(l),
                    *s,
                    arrays.iter().map(|a| a.shape().to_vec()).collect::<Vec<_>>()
                )),
            }
        }
    }
    let size_of = |l: u32| sizes.iter().find(|(m, _)| *m == l).map_or(1, |p| p.1);
    let ops: Vec<Labeled> = ops
        .into_iter()
        .map(|o| {
            let full: Vec<usize> = o.labels.iter().map(|&l| size_of(l)).collect();
            if full == o.x.shape() {
                return o;
            }
            let dims: Vec<usize> = (0..full.len()).collect();
            Labeled {
                x: lax::broadcast_in_dim(&o.x, &full, &dims),
                labels: o.labels,
            }
        })
        .collect();

    // Left-to-right pairwise contraction.
    let n_ops = ops.len();
    let mut ops = ops.into_iter();
    let first = ops.next().expect("at least one operand");
    let needed =
        |later: &[Vec<u32>], l: u32| output.contains(&l) || later.iter().any(|v| v.contains(&l));
    let rest: Vec<Labeled> = ops.collect();
    let rest_labels: Vec<Vec<u32>> = rest.iter().map(|o| o.labels.clone()).collect();
    let mut acc = sum_out(first, |l| needed(&rest_labels, l));
    for (k, next) in rest.into_iter().enumerate() {
        let later = &rest_labels[k + 1..];
        let acc_labels = acc.labels.clone();
        let next = sum_out(next, |l| needed(later, l) || acc_labels.contains(&l));
        let next_labels = next.labels.clone();
        acc = sum_out(acc, |l| needed(later, l) || next_labels.contains(&l));
        let shared: Vec<u32> = acc
            .labels
            .iter()
            .copied()
            .filter(|l| next.labels.contains(l))
            .collect();
        let (batch, contracted): (Vec<u32>, Vec<u32>) =
            shared.into_iter().partition(|&l| needed(later, l));
        let pos = |labels: &[u32], l: u32| labels.iter().position(|&m| m == l).unwrap_or(0);
        let dims = DotDimensionNumbers {
            lhs_contracting: contracted.iter().map(|&l| pos(&acc.labels, l)).collect(),
            rhs_contracting: contracted.iter().map(|&l| pos(&next.labels, l)).collect(),
            lhs_batch: batch.iter().map(|&l| pos(&acc.labels, l)).collect(),
            rhs_batch: batch.iter().map(|&l| pos(&next.labels, l)).collect(),
        };
        let x = lax::dot_general(&acc.x, &next.x, dims, Some(out_dtype));
        let mut labels = batch.clone();
        labels.extend(
            acc.labels
                .iter()
                .filter(|l| !shared_has(&batch, &contracted, **l)),
        );
        labels.extend(
            next.labels
                .iter()
                .filter(|l| !shared_has(&batch, &contracted, **l)),
        );
        acc = Labeled { x, labels };
    }
    debug_assert!(n_ops >= 1);
    let acc = sum_out(acc, |l| output.contains(&l));
    let perm: Vec<usize> = output
        .iter()
        .map(|&l| acc.labels.iter().position(|&m| m == l).unwrap_or(0))
        .collect();
    let out = lax::transpose(&acc.x, &perm);
    lax::convert_weak(&out, out_dtype, weak)
}

fn shared_has(batch: &[u32], contracted: &[u32], l: u32) -> bool {
    batch.contains(&l) || contracted.contains(&l)
}

impl Array {
    /// `jnp.dot(self, other)`.
    #[track_caller]
    pub fn dot(&self, other: impl ArrayLike) -> Array {
        dot(self, other)
    }

    /// `jnp.matmul(self, other)` (Python's `self @ other`).
    #[track_caller]
    pub fn matmul(&self, other: impl ArrayLike) -> Array {
        matmul(self, other)
    }
}
