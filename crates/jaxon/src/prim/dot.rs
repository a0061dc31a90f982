//! `dot_general`: generalized tensor contraction (jax-spec 2.5), and `lax::dot`.
//!
//! Output dims, in order: batch dims (in `lhs_batch` order), lhs free dims
//! (ascending), rhs free dims (ascending). Both operands must have one dtype;
//! `preferred_element_type` sets the accumulation/output dtype (default: the input
//! dtype). Bool operands contract like NumPy: an OR of ANDs.
//!
//! jvp / transpose / batch rules: the transformations issue adds them here.

use super::elementwise::same_dtype;
use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{LowerCtx, Primitive};
use crate::core::trace::bind1;
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
