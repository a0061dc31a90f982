//! Sorting primitives: `sort` (variadic, by the first `num_keys` operands) and
//! `top_k`.
//!
//! Floats sort in JAX's total order: `-inf < ... < -0.0 == 0.0 < ... < inf < NaN`
//! (every NaN equal and last), so the comparator canonicalises -0.0 to 0.0 and every
//! NaN to one NaN before a total-order comparison, like `lax._sort_lt_comparator`.
//!
//! Transformation rules follow JAX: the sort JVP sorts an extra iota operand to
//! recover the permutation and gathers the tangents with it (take_along_axis
//! style); top_k gathers the tangent at the returned indices; batching shifts the
//! dimension.

use super::elementwise::py_bool;
use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{BatchOut, JvpOut, LowerCtx, Primitive, RuleResult};
use crate::core::trace::{bind, bind1};
use crate::lax;
use crate::prim::index::{Gather, GatherDimensionNumbers, GatherScatterMode};
use crate::transform::rules::{bdim_to_front, move_axis};
use oxla::{BinaryOp, Builder, CmpDir, DType, Op, Shape, Value};

/// `sort[dimension, is_stable, num_keys]`: sorts all operands along `dimension` by
/// the lexicographic order of the first `num_keys` operands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sort {
    pub dimension: usize,
    pub is_stable: bool,
    pub num_keys: usize,
}

impl Primitive for Sort {
    fn name(&self) -> &'static str {
        "sort"
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let shape = primals[0].shape().to_vec();
        let dtype = index_dtype(shape[self.dimension]);
        let mut ops = primals.to_vec();
        ops.push(lax::broadcasted_iota(dtype, &shape, self.dimension));
        let mut outs = bind(self.clone(), &ops);
        let perm = outs.pop().expect("sort output");
        let t_out = tangents
            .iter()
            .map(|t| {
                t.as_ref()
                    .map(|t| take_along_axis(t, &perm, self.dimension))
            })
            .collect();
        Ok((outs, t_out))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        // All operands share one shape, so unbatched ones are broadcast.
        let moved: Vec<Array> = args
            .iter()
            .zip(dims)
            .map(|(a, d)| bdim_to_front(a, *d, size))
            .collect();
        let prim = Sort {
            dimension: self.dimension + 1,
            ..self.clone()
        };
        let outs = bind(prim, &moved);
        let n = outs.len();
        Ok((outs, vec![Some(0); n]))
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("dimension", self.dimension.to_string()),
            ("is_stable", py_bool(self.is_stable)),
            ("num_keys", self.num_keys.to_string()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let first = inputs.first().ok_or("needs at least one operand")?;
        if self.num_keys == 0 || self.num_keys > inputs.len() {
            return Err(format!(
                "num_keys {} must be between 1 and the number of operands {}",
                self.num_keys,
                inputs.len()
            ));
        }
        if let Some(a) = inputs.iter().find(|a| a.shape != first.shape) {
            return Err(format!(
                "operands must have equal shapes, got {first} and {a}"
            ));
        }
        if self.dimension >= first.ndim() {
            return Err(format!(
                "dimension {} is out of range for the operand {first}",
                self.dimension
            ));
        }
        Ok(inputs.to_vec())
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let dtypes: Vec<DType> = ctx.in_avals.iter().map(|a| a.dtype).collect();
        let params: Vec<Shape> = dtypes
            .iter()
            .flat_map(|&d| [Shape::scalar(d), Shape::scalar(d)])
            .collect();
        let num_keys = self.num_keys;
        let body = ctx.b.region("sort_lt", &params, |b, p| {
            vec![lexicographic_lt(b, p, num_keys)]
        });
        ctx.b.add_multi(
            Op::Sort {
                dim: self.dimension,
                is_stable: self.is_stable,
                body,
            },
            args,
        )
    }
}

/// -0.0 -> 0.0 and every NaN -> one NaN, so a total-order compare matches JAX.
fn canonicalize_float(b: &mut Builder, x: Value) -> Value {
    let dtype = b.shape(x).dtype;
    if !dtype.is_float() {
        return x;
    }
    let zero = b.constant_f64(dtype, 0.0);
    let nan = b.constant_f64(dtype, f64::NAN);
    let is_zero = b.compare(CmpDir::Eq, x, zero);
    let x = b.select(is_zero, zero, x);
    let is_nan = b.compare(CmpDir::Ne, x, x);
    b.select(is_nan, nan, x)
}

fn total_compare(b: &mut Builder, dir: CmpDir, x: Value, y: Value) -> Value {
    b.add(
        Op::Compare {
            dir,
            total_order: true,
        },
        &[x, y],
    )
}

/// `a < b` over the first `num_keys` operand pairs (params a_0, b_0, a_1, b_1, ...),
/// lexicographically: built from the last key backwards like JAX.
fn lexicographic_lt(b: &mut Builder, p: &[Value], num_keys: usize) -> Value {
    let mut result: Option<Value> = None;
    for k in (0..num_keys).rev() {
        let x = canonicalize_float(b, p[2 * k]);
        let y = canonicalize_float(b, p[2 * k + 1]);
        let lt = total_compare(b, CmpDir::Lt, x, y);
        result = Some(match result {
            None => lt,
            Some(rest) => {
                let eq = total_compare(b, CmpDir::Eq, x, y);
                let tie = b.binary(BinaryOp::And, eq, rest);
                b.binary(BinaryOp::Or, lt, tie)
            }
        });
    }
    result.expect("num_keys >= 1")
}

/// Sorts `operands` together along `dimension` by the first `num_keys` of them
/// (lexicographically). Floats: `-inf < ... < -0.0 == 0.0 < ... < inf < NaN`.
/// `is_stable` keeps the order of equal keys.
///
/// ```
/// use jaxon::{lax, numpy as jnp};
/// let k = jnp::array(&[3i32, 1, 2]);
/// let v = jnp::array(&[30.0f32, 10.0, 20.0]);
/// let out = lax::sort(&[k, v], 0, true, 1);
/// assert_eq!(out[1].to_vec::<f32>(), vec![10.0, 20.0, 30.0]);
/// ```
#[track_caller]
pub fn sort(operands: &[Array], dimension: usize, is_stable: bool, num_keys: usize) -> Vec<Array> {
    bind(
        Sort {
            dimension,
            is_stable,
            num_keys,
        },
        operands,
    )
}

/// Sorts `keys` along `dimension` and permutes `values` the same way.
#[track_caller]
pub fn sort_key_val(
    keys: &Array,
    values: &Array,
    dimension: usize,
    is_stable: bool,
) -> (Array, Array) {
    let mut out = sort(&[keys.clone(), values.clone()], dimension, is_stable, 1);
    let v = out.pop().expect("sort output");
    let k = out.pop().expect("sort output");
    (k, v)
}

/// `top_k[k]`: the `k` largest entries along the last axis, descending, and their
/// int32 indices (ties: lower index first; NaN counts as the largest).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopK {
    pub k: usize,
}

impl Primitive for TopK {
    fn name(&self) -> &'static str {
        "top_k"
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let outs = bind(self.clone(), primals);
        let last = primals[0].ndim() - 1;
        let t = tangents[0]
            .as_ref()
            .map(|t| take_along_axis(t, &outs[1], last));
        Ok((outs, vec![t, None]))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], _size: usize) -> RuleResult<BatchOut> {
        let x = &args[0];
        let d = dims[0].ok_or("the batching rule needs a batched operand")?;
        // top_k works on the last axis, so the batch dim must be elsewhere.
        let (x, d) = if d == x.ndim() - 1 {
            (move_axis(x, d, 0), 0)
        } else {
            (x.clone(), d)
        };
        let outs = bind(self.clone(), &[x]);
        Ok((outs, vec![Some(d), Some(d)]))
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("k", self.k.to_string())]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [x] = inputs else {
            return Err(format!("expects 1 operand, got {}", inputs.len()));
        };
        let Some(&last) = x.shape.last() else {
            return Err(format!("needs an operand of rank >= 1, got {x}"));
        };
        if self.k > last {
            return Err(format!(
                "k = {} is larger than the last dim of the operand {x}",
                self.k
            ));
        }
        if x.dtype.is_bool() {
            return Err(format!("needs a numeric operand, got {x}"));
        }
        let mut shape = x.shape.clone();
        *shape.last_mut().expect("rank >= 1") = self.k;
        Ok(vec![
            x.with_shape(shape.clone()),
            Aval::new(shape, DType::I32),
        ])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        ctx.b.add_multi(Op::TopK { k: self.k }, args)
    }
}

/// The `k` largest entries of `x` along its last axis (descending) and their int32
/// indices.
///
/// ```
/// use jaxon::{lax, numpy as jnp};
/// let (v, i) = lax::top_k(&jnp::array(&[1.0f32, 5.0, 3.0]), 2);
/// assert_eq!(v.to_vec::<f32>(), vec![5.0, 3.0]);
/// assert_eq!(i.to_vec::<i32>(), vec![1, 2]);
/// ```
#[track_caller]
pub fn top_k(x: &Array, k: usize) -> (Array, Array) {
    let mut out = bind(TopK { k }, std::slice::from_ref(x));
    let i = out.pop().expect("top_k output");
    let v = out.pop().expect("top_k output");
    (v, i)
}

/// int32 indices when they fit, else int64 (like JAX).
fn index_dtype(n: usize) -> DType {
    if n < i32::MAX as usize {
        DType::I32
    } else {
        DType::I64
    }
}

/// `x` gathered at `idx` along `axis` (`idx` has `x`'s shape except along `axis`;
/// `take_along_axis` as one gather whose other index components are iotas).
pub(crate) fn take_along_axis(x: &Array, idx: &Array, axis: usize) -> Array {
    let shape = idx.shape().to_vec();
    let r = shape.len();
    let mut col_shape = shape.clone();
    col_shape.push(1);
    let cols: Vec<Array> = (0..r)
        .map(|d| {
            let c = if d == axis {
                idx.clone()
            } else {
                lax::broadcasted_iota(idx.dtype(), &shape, d)
            };
            lax::reshape(&c, &col_shape)
        })
        .collect();
    let indices = lax::concatenate(&cols, r);
    let all: Vec<usize> = (0..r).collect();
    let g = Gather {
        dimension_numbers: GatherDimensionNumbers {
            collapsed_slice_dims: all.clone(),
            start_index_map: all,
            ..Default::default()
        },
        slice_sizes: vec![1; r],
        indices_are_sorted: false,
        unique_indices: false,
        mode: GatherScatterMode::PromiseInBounds,
        fill_value: None,
    };
    bind1(g, &[x.clone(), indices])
}
