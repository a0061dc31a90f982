//! `dot_general`: generalized tensor contraction (jax-spec 2.5), and `lax::dot`.
//!
//! Output dims, in order: batch dims (in `lhs_batch` order), lhs free dims
//! (ascending), rhs free dims (ascending). Both operands must have one dtype;
//! `preferred_element_type` sets the accumulation/output dtype (default: the input
//! dtype). Bool operands contract like NumPy: an OR of ANDs.
//!
//! Rules: the JVP is bilinear; the transposes w.r.t. lhs and rhs are dot_generals
//! of the cotangent with the other operand followed by a transpose (JAX's
//! `_dot_general_transpose_lhs/rhs`); batching adds a batch dim to both operands'
//! batch lists when both are batched, else makes the batch dim a free dim.

use super::elementwise::same_dtype;
use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult};
use crate::core::trace::bind1;
use crate::lax;
use crate::transform::rules::{add_tangents, move_axis};
use oxla::{CmpDir, DType, DotDims, Op, Value};

/// Which dims of `dot_general`'s operands are contracted and which are batch dims.
///
/// Converts from JAX's tuple form `((lhs_contracting, rhs_contracting), (lhs_batch,
/// rhs_batch))` with arrays, slices or vectors:
///
/// ```
/// use jaxon::lax::DotDimensionNumbers;
/// let d: DotDimensionNumbers = (([2], [1]), ([0], [0])).into();
/// assert_eq!(d.lhs_contracting, vec![2]);
/// assert_eq!(d.rhs_batch, vec![0]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DotDimensionNumbers {
    pub lhs_contracting: Vec<usize>,
    pub rhs_contracting: Vec<usize>,
    pub lhs_batch: Vec<usize>,
    pub rhs_batch: Vec<usize>,
}

impl DotDimensionNumbers {
    /// Contract `lhs_contracting[i]` with `rhs_contracting[i]`; no batch dims.
    pub fn contracting(lhs_contracting: &[usize], rhs_contracting: &[usize]) -> Self {
        DotDimensionNumbers {
            lhs_contracting: lhs_contracting.to_vec(),
            rhs_contracting: rhs_contracting.to_vec(),
            ..Default::default()
        }
    }
}

impl<const A: usize, const B: usize, const C: usize, const D: usize>
    From<(([usize; A], [usize; B]), ([usize; C], [usize; D]))> for DotDimensionNumbers
{
    fn from(((lc, rc), (lb, rb)): (([usize; A], [usize; B]), ([usize; C], [usize; D]))) -> Self {
        DotDimensionNumbers {
            lhs_contracting: lc.to_vec(),
            rhs_contracting: rc.to_vec(),
            lhs_batch: lb.to_vec(),
            rhs_batch: rb.to_vec(),
        }
    }
}

impl From<((&[usize], &[usize]), (&[usize], &[usize]))> for DotDimensionNumbers {
    fn from(((lc, rc), (lb, rb)): ((&[usize], &[usize]), (&[usize], &[usize]))) -> Self {
        DotDimensionNumbers {
            lhs_contracting: lc.to_vec(),
            rhs_contracting: rc.to_vec(),
            lhs_batch: lb.to_vec(),
            rhs_batch: rb.to_vec(),
        }
    }
}

impl From<((Vec<usize>, Vec<usize>), (Vec<usize>, Vec<usize>))> for DotDimensionNumbers {
    fn from(
        ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch)): (
            (Vec<usize>, Vec<usize>),
            (Vec<usize>, Vec<usize>),
        ),
    ) -> Self {
        DotDimensionNumbers {
            lhs_contracting,
            rhs_contracting,
            lhs_batch,
            rhs_batch,
        }
    }
}

/// `dot_general[dimension_numbers=((lc, rc), (lb, rb)), precision=None,
/// preferred_element_type]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DotGeneral {
    pub dimension_numbers: DotDimensionNumbers,
    pub preferred_element_type: Option<DType>,
}

fn list_text(v: &[usize]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Checks that `dims` are distinct and in range for an operand of rank `rank`.
fn check_dims(which: &str, dims: &[usize], rank: usize, shape: &[usize]) -> Result<(), String> {
    for (i, &d) in dims.iter().enumerate() {
        if d >= rank {
            return Err(format!(
                "{which} dimension {d} is out of range for an operand of shape {shape:?}"
            ));
        }
        if dims[..i].contains(&d) {
            return Err(format!(
                "{which} dimensions {dims:?} repeat dimension {d} (operand shape {shape:?})"
            ));
        }
    }
    Ok(())
}

/// The output dtype for inputs of `input` dtype and an optional preferred type
/// (JAX's `_validate_preferred_element_type` and `_maybe_upcast`).
pub(crate) fn preferred_output_dtype(
    input: DType,
    preferred: Option<DType>,
) -> Result<DType, String> {
    let Some(p) = preferred else {
        return Ok(input);
    };
    if p == input {
        return Ok(p);
    }
    if input.is_float() && !p.is_float() {
        return Err(format!(
            "preferred_element_type {p} is not a floating-point type but the inputs are {input}"
        ));
    }
    if input.is_int() && p.is_bool() {
        return Err(format!(
            "preferred_element_type {p} is not allowed for integer inputs ({input})"
        ));
    }
    if input.is_int() && p.is_int() && p.bits() < input.bits() {
        return Err(format!(
            "preferred_element_type {p} must not be narrower than the input type {input}"
        ));
    }
    Ok(p)
}

/// Output shape of a dot_general (the shape rule without dtypes).
pub(crate) fn dot_general_shape(
    lhs: &[usize],
    rhs: &[usize],
    d: &DotDimensionNumbers,
) -> Result<Vec<usize>, String> {
    if d.lhs_contracting.len() != d.rhs_contracting.len() {
        return Err(format!(
            "lhs and rhs must have the same number of contracting dimensions, got {:?} and {:?}",
            d.lhs_contracting, d.rhs_contracting
        ));
    }
    if d.lhs_batch.len() != d.rhs_batch.len() {
        return Err(format!(
            "lhs and rhs must have the same number of batch dimensions, got {:?} and {:?}",
            d.lhs_batch, d.rhs_batch
        ));
    }
    let lused: Vec<usize> = d
        .lhs_batch
        .iter()
        .chain(&d.lhs_contracting)
        .copied()
        .collect();
    let rused: Vec<usize> = d
        .rhs_batch
        .iter()
        .chain(&d.rhs_contracting)
        .copied()
        .collect();
    check_dims("lhs batch and contracting", &lused, lhs.len(), lhs)?;
    check_dims("rhs batch and contracting", &rused, rhs.len(), rhs)?;
    for (kind, ls, rs) in [
        ("batch", &d.lhs_batch, &d.rhs_batch),
        ("contracting", &d.lhs_contracting, &d.rhs_contracting),
    ] {
        let lsz: Vec<usize> = ls.iter().map(|&a| lhs[a]).collect();
        let rsz: Vec<usize> = rs.iter().map(|&b| rhs[b]).collect();
        if lsz != rsz {
            return Err(format!(
                "{kind} dimensions must have the same sizes, got {lsz:?} (lhs dims {ls:?} of \
                 shape {lhs:?}) and {rsz:?} (rhs dims {rs:?} of shape {rhs:?})"
            ));
        }
    }
    let mut out: Vec<usize> = d.lhs_batch.iter().map(|&a| lhs[a]).collect();
    out.extend(
        (0..lhs.len())
            .filter(|a| !lused.contains(a))
            .map(|a| lhs[a]),
    );
    out.extend(
        (0..rhs.len())
            .filter(|b| !rused.contains(b))
            .map(|b| rhs[b]),
    );
    Ok(out)
}

impl Primitive for DotGeneral {
    fn name(&self) -> &'static str {
        "dot_general"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let d = &self.dimension_numbers;
        vec![
            (
                "dimension_numbers",
                format!(
                    "(({}, {}), ({}, {}))",
                    list_text(&d.lhs_contracting),
                    list_text(&d.rhs_contracting),
                    list_text(&d.lhs_batch),
                    list_text(&d.rhs_batch)
                ),
            ),
            (
                "preferred_element_type",
                self.preferred_element_type
                    .map_or("None".to_string(), |t| t.numpy_name().to_string()),
            ),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [lhs, rhs] = inputs else {
            return Err(format!("expects 2 operands, got {}", inputs.len()));
        };
        let dtype = same_dtype(inputs)?;
        let out_dtype = preferred_output_dtype(dtype, self.preferred_element_type)?;
        let shape = dot_general_shape(&lhs.shape, &rhs.shape, &self.dimension_numbers)?;
        let weak = lhs.weak_type && rhs.weak_type && self.preferred_element_type.is_none();
        Ok(vec![Aval::weak(shape, out_dtype, weak)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let d = &self.dimension_numbers;
        let dims = DotDims {
            lhs_batch: d.lhs_batch.clone(),
            rhs_batch: d.rhs_batch.clone(),
            lhs_contracting: d.lhs_contracting.clone(),
            rhs_contracting: d.rhs_contracting.clone(),
        };
        let out_dtype = ctx.out_avals[0].dtype;
        let (mut lhs, mut rhs) = (args[0], args[1]);
        if !ctx.in_avals[0].dtype.is_bool() {
            return vec![ctx.b.add(Op::DotGeneral { dims, out_dtype }, &[lhs, rhs])];
        }
        // Bool: count the true products in an integer (or the preferred) type; a bool
        // result is "any product true", NumPy's OR of ANDs.
        let acc = if out_dtype.is_bool() {
            DType::I32
        } else {
            out_dtype
        };
        lhs = ctx.b.convert(lhs, acc);
        rhs = ctx.b.convert(rhs, acc);
        let out = ctx.b.add(
            Op::DotGeneral {
                dims,
                out_dtype: acc,
            },
            &[lhs, rhs],
        );
        if !out_dtype.is_bool() {
            return vec![out];
        }
        let zero = ctx.b.constant_i128(acc, 0);
        let dims_out = ctx.out_avals[0].shape.clone();
        let zero = ctx.b.broadcast_in_dim(zero, &dims_out, &[]);
        vec![ctx.b.compare(CmpDir::Ne, out, zero)]
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let (l, r) = (&primals[0], &primals[1]);
        let ans = bind1(self.clone(), primals);
        let dl = tangents[0]
            .as_ref()
            .map(|t| bind1(self.clone(), &[t.clone(), r.clone()]));
        let dr = tangents[1]
            .as_ref()
            .map(|t| bind1(self.clone(), &[l.clone(), t.clone()]));
        Ok((vec![ans], vec![add_tangents(dl, dr)]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let Some(ct) = &cts[0] else {
            return Ok(vec![None, None]);
        };
        let d = &self.dimension_numbers;
        let mut out = vec![None, None];
        if args[0].is_linear() {
            let y = args[1].value()?;
            out[0] = Some(transpose_lhs(ct, &args[0].aval(), y, d, false));
        }
        if args[1].is_linear() {
            let x = args[0].value()?;
            let swapped = DotDimensionNumbers {
                lhs_contracting: d.rhs_contracting.clone(),
                rhs_contracting: d.lhs_contracting.clone(),
                lhs_batch: d.rhs_batch.clone(),
                rhs_batch: d.lhs_batch.clone(),
            };
            out[1] = Some(transpose_lhs(ct, &args[1].aval(), x, &swapped, true));
        }
        Ok(out)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], _size: usize) -> RuleResult<BatchOut> {
        let d = &self.dimension_numbers;
        let shift = |v: &[usize], b: usize| -> Vec<usize> {
            v.iter().map(|&a| if a >= b { a + 1 } else { a }).collect()
        };
        let (lhs, rhs) = (&args[0], &args[1]);
        let (dn, out_dim, l, r) = match (dims[0], dims[1]) {
            (Some(lb), Some(rb)) => {
                // Both batched: the batch dims go to the front and become a new
                // leading batch dimension of the contraction.
                let (l, r) = (move_axis(lhs, lb, 0), move_axis(rhs, rb, 0));
                let mut lhs_batch = vec![0];
                lhs_batch.extend(shift(&d.lhs_batch, 0));
                let mut rhs_batch = vec![0];
                rhs_batch.extend(shift(&d.rhs_batch, 0));
                let dn = DotDimensionNumbers {
                    lhs_contracting: shift(&d.lhs_contracting, 0),
                    rhs_contracting: shift(&d.rhs_contracting, 0),
                    lhs_batch,
                    rhs_batch,
                };
                (dn, 0, l, r)
            }
            (Some(lb), None) => {
                // The batch dim is a free lhs dim: its output position follows the
                // batch dims and the lhs free dims before it.
                let dn = DotDimensionNumbers {
                    lhs_contracting: shift(&d.lhs_contracting, lb),
                    rhs_contracting: d.rhs_contracting.clone(),
                    lhs_batch: shift(&d.lhs_batch, lb),
                    rhs_batch: d.rhs_batch.clone(),
                };
                let used: Vec<usize> = dn
                    .lhs_batch
                    .iter()
                    .chain(&dn.lhs_contracting)
                    .copied()
                    .collect();
                let free_before = (0..lb).filter(|a| !used.contains(a)).count();
                (
                    dn,
                    d.lhs_batch.len() + free_before,
                    lhs.clone(),
                    rhs.clone(),
                )
            }
            (None, Some(rb)) => {
                let dn = DotDimensionNumbers {
                    lhs_contracting: d.lhs_contracting.clone(),
                    rhs_contracting: shift(&d.rhs_contracting, rb),
                    lhs_batch: d.lhs_batch.clone(),
                    rhs_batch: shift(&d.rhs_batch, rb),
                };
                let used: Vec<usize> = dn
                    .rhs_batch
                    .iter()
                    .chain(&dn.rhs_contracting)
                    .copied()
                    .collect();
                let free_before = (0..rb).filter(|a| !used.contains(a)).count();
                let lhs_free = lhs.ndim() - d.lhs_batch.len() - d.lhs_contracting.len();
                (
                    dn,
                    d.lhs_batch.len() + lhs_free + free_before,
                    lhs.clone(),
                    rhs.clone(),
                )
            }
            (None, None) => return Err("dot_general batching rule: no operand is batched".into()),
        };
        let prim = DotGeneral {
            dimension_numbers: dn,
            preferred_element_type: self.preferred_element_type,
        };
        Ok((vec![bind1(prim, &[l, r])], vec![Some(out_dim)]))
    }
}

/// Consecutive index ranges with the given lengths (JAX's `ranges_like`).
fn ranges_like(lens: &[usize]) -> Vec<Vec<usize>> {
    let mut start = 0;
    lens.iter()
        .map(|&n| {
            let r: Vec<usize> = (start..start + n).collect();
            start += n;
            r
        })
        .collect()
}

/// The dims of a rank-`n` operand that are neither batch nor contracting.
fn free_dims(n: usize, contracting: &[usize], batch: &[usize]) -> Vec<usize> {
    (0..n)
        .filter(|a| !contracting.contains(a) && !batch.contains(a))
        .collect()
}

/// Cotangent of a dot_general's lhs `x` (aval `x_aval`) given the output cotangent
/// `g` and the rhs value `y` (JAX's `_dot_general_transpose_lhs`; `swap_ans` when
/// the roles were swapped to transpose w.r.t. the rhs).
fn transpose_lhs(
    g: &Array,
    x_aval: &Aval,
    y: &Array,
    d: &DotDimensionNumbers,
    swap_ans: bool,
) -> Array {
    let x_kept = free_dims(x_aval.ndim(), &d.lhs_contracting, &d.lhs_batch);
    let y_kept = free_dims(y.ndim(), &d.rhs_contracting, &d.rhs_batch);
    let (ans_batch, ans_y) = if swap_ans {
        let r = ranges_like(&[d.lhs_batch.len(), y_kept.len(), x_kept.len()]);
        (r[0].clone(), r[1].clone())
    } else {
        let r = ranges_like(&[d.lhs_batch.len(), x_kept.len(), y_kept.len()]);
        (r[0].clone(), r[2].clone())
    };
    // The cotangent may be in a preferred (wider) type: contract in the input type.
    let g = if g.dtype() != y.dtype() {
        lax::convert_element_type(g, y.dtype())
    } else {
        g.clone()
    };
    let dims = DotDimensionNumbers {
        lhs_contracting: ans_y,
        rhs_contracting: y_kept,
        lhs_batch: ans_batch,
        rhs_batch: d.rhs_batch.clone(),
    };
    let prod = dot_general(&g, y, dims, None);
    // Output dims: x's batch dims, x's free dims, then x's contracting dims in the
    // order of y's contracting dims.
    let mut order: Vec<usize> = (0..d.rhs_contracting.len()).collect();
    order.sort_by_key(|&i| d.rhs_contracting[i]);
    let mut src: Vec<usize> = d.lhs_batch.clone();
    src.extend(&x_kept);
    src.extend(order.iter().map(|&i| d.lhs_contracting[i]));
    let mut perm = vec![0; src.len()];
    for (i, &a) in src.iter().enumerate() {
        perm[a] = i;
    }
    let out = lax::transpose(&prod, &perm);
    if out.dtype() != x_aval.dtype {
        lax::convert_element_type(&out, x_aval.dtype)
    } else {
        out
    }
}

/// General tensor contraction (`jax.lax.dot_general`). Operands need one dtype;
/// `preferred_element_type` (None: the input dtype) is the output dtype.
///
/// ```
/// use jaxon::{lax, numpy as jnp};
/// let a = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
/// let b = jnp::array(&[[5.0f32], [6.0]]);
/// let c = lax::dot_general(&a, &b, (([1], [0]), ([], [])), None);
/// assert_eq!(c.shape(), &[2, 1]);
/// ```
#[track_caller]
pub fn dot_general(
    lhs: &Array,
    rhs: &Array,
    dimension_numbers: impl Into<DotDimensionNumbers>,
    preferred_element_type: Option<DType>,
) -> Array {
    bind1(
        DotGeneral {
            dimension_numbers: dimension_numbers.into(),
            preferred_element_type,
        },
        &[lhs.clone(), rhs.clone()],
    )
}

/// Vector/vector, matrix/vector and matrix/matrix products (`jax.lax.dot`): contracts
/// the last dim of `lhs` (rank 1 or 2) with the first of `rhs` (rank 1 or 2).
#[track_caller]
pub fn dot(lhs: &Array, rhs: &Array) -> Array {
    dot_preferred(lhs, rhs, None)
}

/// [`dot`] with a `preferred_element_type`.
#[track_caller]
pub fn dot_preferred(lhs: &Array, rhs: &Array, preferred_element_type: Option<DType>) -> Array {
    let (l, r) = (lhs.shape(), rhs.shape());
    let ok = (1..=2).contains(&l.len()) && (1..=2).contains(&r.len()) && l[l.len() - 1] == r[0];
    if !ok {
        crate::error::user_error(format!(
            "dot: incompatible shapes for dot: got {l:?} and {r:?} (lax.dot takes rank-1 or \
             rank-2 operands whose last and first dims agree)"
        ));
    }
    dot_general(
        lhs,
        rhs,
        DotDimensionNumbers::contracting(&[l.len() - 1], &[0]),
        preferred_element_type,
    )
}
