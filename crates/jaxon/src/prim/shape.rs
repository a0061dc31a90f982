//! Shape primitives: broadcast_in_dim, reshape, squeeze, transpose, rev, slice,
//! concatenate, pad, iota (and `expand_dims`, which binds broadcast_in_dim).
//!
//! All are linear: the JVP applies the same primitive to the tangent, and each has a
//! transpose rule. Rules sit in each `impl Primitive`.

use super::elementwise::same_dtype;
use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{
    tuple_text, BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult,
};
use crate::core::trace::bind1;
use crate::transform::rules::{bdim_to_front, instantiate, linear_jvp, move_axis};
use oxla::{DType, Op, Shape, Value};

fn one(inputs: &[Aval]) -> Result<&Aval, String> {
    match inputs {
        [x] => Ok(x),
        _ => Err(format!("expects 1 operand, got {}", inputs.len())),
    }
}

// ---- broadcast_in_dim -------------------------------------------------------------

/// `broadcast_in_dim[shape, broadcast_dimensions]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BroadcastInDim {
    pub shape: Vec<usize>,
    pub broadcast_dimensions: Vec<usize>,
}

impl Primitive for BroadcastInDim {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        linear_jvp(self.clone(), primals, tangents)
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let Some(ct) = &cts[0] else {
            return Ok(vec![None]);
        };
        let in_shape = args[0].aval().shape;
        // Sum the new dims and the size-1 dims that were expanded, then restore shape.
        let sum_dims: Vec<usize> = (0..self.shape.len())
            .filter(
                |d| match self.broadcast_dimensions.iter().position(|b| b == d) {
                    None => true,
                    Some(i) => in_shape[i] == 1 && self.shape[*d] != 1,
                },
            )
            .collect();
        let s = crate::lax::reduce_sum(ct, &sum_dims);
        Ok(vec![Some(reshape(&s, &in_shape))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let x = bdim_to_front(&args[0], dims[0], size);
        let mut shape = vec![size];
        shape.extend_from_slice(&self.shape);
        let mut bd = vec![0];
        bd.extend(self.broadcast_dimensions.iter().map(|d| d + 1));
        Ok((vec![broadcast_in_dim(&x, &shape, &bd)], vec![Some(0)]))
    }

    fn name(&self) -> &'static str {
        "broadcast_in_dim"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("shape", tuple_text(&self.shape)),
            (
                "broadcast_dimensions",
                tuple_text(&self.broadcast_dimensions),
            ),
            ("sharding", "None".into()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one(inputs)?;
        if self.broadcast_dimensions.len() != x.ndim() {
            return Err(format!(
                "broadcast_dimensions {:?} must have one entry per operand dim (shape {:?})",
                self.broadcast_dimensions, x.shape
            ));
        }
        let mut prev: Option<usize> = None;
        for (i, &d) in self.broadcast_dimensions.iter().enumerate() {
            if d >= self.shape.len() || prev.is_some_and(|p| d <= p) {
                return Err(format!(
                    "broadcast_dimensions {:?} must be strictly increasing and < {}",
                    self.broadcast_dimensions,
                    self.shape.len()
                ));
            }
            prev = Some(d);
            if x.shape[i] != 1 && x.shape[i] != self.shape[d] {
                return Err(format!(
                    "operand shape {:?} cannot broadcast to {:?} via dims {:?}",
                    x.shape, self.shape, self.broadcast_dimensions
                ));
            }
        }
        Ok(vec![x.with_shape(self.shape.clone())])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx
            .b
            .broadcast_in_dim(args[0], &self.shape, &self.broadcast_dimensions)]
    }
}

/// Broadcasts `x` into `shape`; operand dim i goes to output dim `broadcast_dimensions[i]`.
#[track_caller]
pub fn broadcast_in_dim(x: &Array, shape: &[usize], broadcast_dimensions: &[usize]) -> Array {
    if x.shape() == shape {
        return x.clone();
    }
    bind1(
        BroadcastInDim {
            shape: shape.to_vec(),
            broadcast_dimensions: broadcast_dimensions.to_vec(),
        },
        std::slice::from_ref(x),
    )
}

/// Adds leading dims: `broadcast(x, sizes)` has shape `sizes + x.shape`.
#[track_caller]
pub fn broadcast(x: &Array, sizes: &[usize]) -> Array {
    let mut shape = sizes.to_vec();
    shape.extend_from_slice(x.shape());
    let dims: Vec<usize> = (sizes.len()..shape.len()).collect();
    broadcast_in_dim(x, &shape, &dims)
}

/// Inserts size-1 dims at `dimensions` (positions in the output).
#[track_caller]
pub fn expand_dims(x: &Array, dimensions: &[usize]) -> Array {
    let rank = x.ndim() + dimensions.len();
    let mut shape = Vec::with_capacity(rank);
    let mut bdims = Vec::with_capacity(x.ndim());
    let mut src = 0;
    for d in 0..rank {
        if dimensions.contains(&d) {
            shape.push(1);
        } else {
            bdims.push(d);
            shape.push(x.shape()[src]);
            src += 1;
        }
    }
    if bdims.len() != x.ndim() {
        crate::error::user_error(format!(
            "expand_dims: dimensions {dimensions:?} out of range for rank {}",
            x.ndim()
        ));
    }
    broadcast_in_dim(x, &shape, &bdims)
}

// ---- reshape / squeeze ------------------------------------------------------------

/// `reshape[new_sizes, dimensions=None]` (row-major).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reshape {
    pub new_sizes: Vec<usize>,
}

impl Primitive for Reshape {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        linear_jvp(self.clone(), primals, tangents)
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        Ok(vec![cts[0]
            .as_ref()
            .map(|ct| reshape(ct, &args[0].aval().shape))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let x = bdim_to_front(&args[0], dims[0], size);
        let mut shape = vec![size];
        shape.extend_from_slice(&self.new_sizes);
        Ok((vec![reshape(&x, &shape)], vec![Some(0)]))
    }

    fn name(&self) -> &'static str {
        "reshape"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("new_sizes", tuple_text(&self.new_sizes)),
            ("dimensions", "None".into()),
            ("sharding", "None".into()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one(inputs)?;
        let n: usize = self.new_sizes.iter().product();
        if n != x.size() {
            return Err(format!(
                "cannot reshape {:?} ({} elements) into {:?} ({n} elements)",
                x.shape,
                x.size(),
                self.new_sizes
            ));
        }
        Ok(vec![x.with_shape(self.new_sizes.clone())])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx.b.reshape(args[0], &self.new_sizes)]
    }
}

/// Reshapes `x` (row-major) to `shape`.
#[track_caller]
pub fn reshape(x: &Array, shape: &[usize]) -> Array {
    if x.shape() == shape {
        return x.clone();
    }
    bind1(
        Reshape {
            new_sizes: shape.to_vec(),
        },
        std::slice::from_ref(x),
    )
}

/// `squeeze[dimensions]`: removes size-1 dims.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Squeeze {
    pub dimensions: Vec<usize>,
}

impl Primitive for Squeeze {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        linear_jvp(self.clone(), primals, tangents)
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        Ok(vec![cts[0]
            .as_ref()
            .map(|ct| reshape(ct, &args[0].aval().shape))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let x = bdim_to_front(&args[0], dims[0], size);
        let d: Vec<usize> = self.dimensions.iter().map(|d| d + 1).collect();
        Ok((vec![squeeze(&x, &d)], vec![Some(0)]))
    }

    fn name(&self) -> &'static str {
        "squeeze"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("dimensions", tuple_text(&self.dimensions))]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one(inputs)?;
        for &d in &self.dimensions {
            if d >= x.ndim() || x.shape[d] != 1 {
                return Err(format!(
                    "cannot squeeze dimension {d} of shape {:?} (it must exist and have size 1)",
                    x.shape
                ));
            }
        }
        let shape: Vec<usize> = (0..x.ndim())
            .filter(|d| !self.dimensions.contains(d))
            .map(|d| x.shape[d])
            .collect();
        Ok(vec![x.with_shape(shape)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let dims = ctx.out_avals[0].shape.clone();
        vec![ctx.b.reshape(args[0], &dims)]
    }
}

/// Removes the given size-1 dims.
#[track_caller]
pub fn squeeze(x: &Array, dimensions: &[usize]) -> Array {
    if dimensions.is_empty() {
        return x.clone();
    }
    bind1(
        Squeeze {
            dimensions: dimensions.to_vec(),
        },
        std::slice::from_ref(x),
    )
}

// ---- transpose / rev --------------------------------------------------------------

/// `transpose[permutation]`: output dim i is operand dim `permutation[i]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Transpose {
    pub permutation: Vec<usize>,
}

pub(crate) fn check_permutation(perm: &[usize], rank: usize) -> Result<(), String> {
    let mut seen = vec![false; rank];
    if perm.len() != rank
        || perm
            .iter()
            .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
    {
        return Err(format!("{perm:?} is not a permutation of 0..{rank}"));
    }
    Ok(())
}

impl Primitive for Transpose {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        linear_jvp(self.clone(), primals, tangents)
    }

    fn transpose(&self, cts: &[Option<Array>], _args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let mut inv = vec![0; self.permutation.len()];
        for (i, &p) in self.permutation.iter().enumerate() {
            inv[p] = i;
        }
        Ok(vec![cts[0].as_ref().map(|ct| transpose(ct, &inv))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let x = bdim_to_front(&args[0], dims[0], size);
        let mut perm = vec![0];
        perm.extend(self.permutation.iter().map(|p| p + 1));
        Ok((vec![transpose(&x, &perm)], vec![Some(0)]))
    }

    fn name(&self) -> &'static str {
        "transpose"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("permutation", tuple_text(&self.permutation))]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one(inputs)?;
        check_permutation(&self.permutation, x.ndim())?;
        let shape: Vec<usize> = self.permutation.iter().map(|&p| x.shape[p]).collect();
        Ok(vec![x.with_shape(shape)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx.b.transpose(args[0], &self.permutation)]
    }
}

/// Permutes dims: output dim i is `x`'s dim `permutation[i]`.
#[track_caller]
pub fn transpose(x: &Array, permutation: &[usize]) -> Array {
    if permutation.iter().enumerate().all(|(i, &p)| i == p) && permutation.len() == x.ndim() {
        return x.clone();
    }
    bind1(
        Transpose {
            permutation: permutation.to_vec(),
        },
        std::slice::from_ref(x),
    )
}

/// `rev[dimensions]`: reverses along the given dims.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rev {
    pub dimensions: Vec<usize>,
}

impl Primitive for Rev {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        linear_jvp(self.clone(), primals, tangents)
    }

    fn transpose(&self, cts: &[Option<Array>], _args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        Ok(vec![cts[0].as_ref().map(|ct| rev(ct, &self.dimensions))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let x = bdim_to_front(&args[0], dims[0], size);
        let d: Vec<usize> = self.dimensions.iter().map(|d| d + 1).collect();
        Ok((vec![rev(&x, &d)], vec![Some(0)]))
    }

    fn name(&self) -> &'static str {
        "rev"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("dimensions", tuple_text(&self.dimensions))]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one(inputs)?;
        if let Some(d) = self.dimensions.iter().find(|&&d| d >= x.ndim()) {
            return Err(format!(
                "dimension {d} out of range for shape {:?}",
                x.shape
            ));
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx.b.add(
            Op::Reverse {
                dims: self.dimensions.clone(),
            },
            args,
        )]
    }
}

/// Reverses `x` along `dimensions`.
#[track_caller]
pub fn rev(x: &Array, dimensions: &[usize]) -> Array {
    if dimensions.is_empty() {
        return x.clone();
    }
    bind1(
        Rev {
            dimensions: dimensions.to_vec(),
        },
        std::slice::from_ref(x),
    )
}

// ---- slice ------------------------------------------------------------------------

/// `slice[start_indices, limit_indices, strides]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slice {
    pub start_indices: Vec<usize>,
    pub limit_indices: Vec<usize>,
    pub strides: Option<Vec<usize>>,
}

impl Primitive for Slice {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        linear_jvp(self.clone(), primals, tangents)
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let Some(ct) = &cts[0] else {
            return Ok(vec![None]);
        };
        let in_shape = args[0].aval().shape;
        let strides = self
            .strides
            .clone()
            .unwrap_or_else(|| vec![1; in_shape.len()]);
        // Zeros around and between the sliced elements.
        let cfg: Vec<(i64, i64, usize)> = (0..in_shape.len())
            .map(|d| {
                let lo = self.start_indices[d] as i64;
                let out = ct.shape()[d] as i64;
                let covered = if out == 0 {
                    0
                } else {
                    (out - 1) * strides[d] as i64 + 1
                };
                let hi = in_shape[d] as i64 - lo - covered;
                (lo, hi, strides[d] - 1)
            })
            .collect();
        let zero = crate::lax::full_like_scalar(ct, 0.0);
        Ok(vec![Some(pad(ct, &zero, &cfg))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let x = bdim_to_front(&args[0], dims[0], size);
        let mut start = vec![0];
        start.extend_from_slice(&self.start_indices);
        let mut limit = vec![size];
        limit.extend_from_slice(&self.limit_indices);
        let strides = self.strides.as_ref().map(|s| {
            let mut v = vec![1];
            v.extend_from_slice(s);
            v
        });
        Ok((
            vec![slice(&x, &start, &limit, strides.as_deref())],
            vec![Some(0)],
        ))
    }

    fn name(&self) -> &'static str {
        "slice"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("start_indices", tuple_text(&self.start_indices)),
            ("limit_indices", tuple_text(&self.limit_indices)),
            (
                "strides",
                self.strides
                    .as_ref()
                    .map_or("None".into(), |s| tuple_text(s)),
            ),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one(inputs)?;
        let r = x.ndim();
        let strides = self.strides.clone().unwrap_or_else(|| vec![1; r]);
        if self.start_indices.len() != r || self.limit_indices.len() != r || strides.len() != r {
            return Err(format!(
                "start {:?}, limit {:?} and strides {:?} need one entry per dim of {:?}",
                self.start_indices, self.limit_indices, strides, x.shape
            ));
        }
        let mut shape = Vec::with_capacity(r);
        for (d, &st) in strides.iter().enumerate() {
            let (s, l) = (self.start_indices[d], self.limit_indices[d]);
            if s > l || l > x.shape[d] || st == 0 {
                return Err(format!(
                    "invalid slice of dim {d} (size {}): start {s}, limit {l}, stride {st}",
                    x.shape[d]
                ));
            }
            shape.push((l - s).div_ceil(st));
        }
        Ok(vec![x.with_shape(shape)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let strides = self
            .strides
            .clone()
            .unwrap_or_else(|| vec![1; self.start_indices.len()]);
        vec![ctx
            .b
            .slice(args[0], &self.start_indices, &self.limit_indices, &strides)]
    }
}

/// Static strided slice (`strides` None means all 1).
#[track_caller]
pub fn slice(x: &Array, start: &[usize], limit: &[usize], strides: Option<&[usize]>) -> Array {
    let strides = strides
        .filter(|s| s.iter().any(|&v| v != 1))
        .map(<[usize]>::to_vec);
    if strides.is_none() && start.iter().all(|&s| s == 0) && limit == x.shape() {
        return x.clone();
    }
    bind1(
        Slice {
            start_indices: start.to_vec(),
            limit_indices: limit.to_vec(),
            strides,
        },
        std::slice::from_ref(x),
    )
}

/// Slices `[start, limit)` with `stride` along one axis.
#[track_caller]
pub fn slice_in_dim(x: &Array, start: usize, limit: usize, stride: usize, axis: usize) -> Array {
    let mut s = vec![0; x.ndim()];
    let mut l = x.shape().to_vec();
    let mut st = vec![1; x.ndim()];
    s[axis] = start;
    l[axis] = limit;
    st[axis] = stride;
    slice(x, &s, &l, Some(&st))
}

// ---- concatenate ------------------------------------------------------------------

/// `concatenate[dimension]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Concatenate {
    pub dimension: usize,
}

impl Primitive for Concatenate {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let ans = bind1(self.clone(), primals);
        if tangents.iter().all(Option::is_none) || !ans.dtype().is_float() {
            return Ok((vec![ans], vec![None]));
        }
        let ts: Vec<Array> = tangents
            .iter()
            .zip(primals)
            .map(|(t, p)| instantiate(t, &p.aval().strong()))
            .collect();
        Ok((vec![ans], vec![Some(bind1(self.clone(), &ts))]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let Some(ct) = &cts[0] else {
            return Ok(vec![None; args.len()]);
        };
        let mut start = 0;
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            let n = a.aval().shape[self.dimension];
            out.push(
                a.is_linear()
                    .then(|| slice_in_dim(ct, start, start + n, 1, self.dimension)),
            );
            start += n;
        }
        Ok(out)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let xs: Vec<Array> = args
            .iter()
            .zip(dims)
            .map(|(a, &d)| bdim_to_front(a, d, size))
            .collect();
        Ok((vec![concatenate(&xs, self.dimension + 1)], vec![Some(0)]))
    }

    fn name(&self) -> &'static str {
        "concatenate"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("dimension", self.dimension.to_string())]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let first = inputs.first().ok_or("needs at least one operand")?;
        let dtype = same_dtype(inputs)?;
        let d = self.dimension;
        if d >= first.ndim() {
            return Err(format!(
                "dimension {d} out of range for shape {:?}",
                first.shape
            ));
        }
        let mut shape = first.shape.clone();
        shape[d] = 0;
        for a in inputs {
            let ok = a.ndim() == first.ndim()
                && (0..a.ndim()).all(|i| i == d || a.shape[i] == first.shape[i]);
            if !ok {
                let shapes: Vec<&Vec<usize>> = inputs.iter().map(|a| &a.shape).collect();
                return Err(format!("shapes {shapes:?} differ outside dimension {d}"));
            }
            shape[d] += a.shape[d];
        }
        let weak = inputs.iter().all(|a| a.weak_type);
        Ok(vec![Aval::weak(shape, dtype, weak)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx.b.add(
            Op::Concatenate {
                dim: self.dimension,
            },
            args,
        )]
    }
}

/// Joins arrays along `dimension`.
#[track_caller]
pub fn concatenate(xs: &[Array], dimension: usize) -> Array {
    if xs.len() == 1 {
        return xs[0].clone();
    }
    bind1(Concatenate { dimension }, xs)
}

// ---- pad --------------------------------------------------------------------------

/// `pad[padding_config=((lo, hi, interior), ...)]`; negative lo/hi crop.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pad {
    pub padding_config: Vec<(i64, i64, usize)>,
}

impl Primitive for Pad {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let ans = bind1(self.clone(), primals);
        if tangents.iter().all(Option::is_none) || !ans.dtype().is_float() {
            return Ok((vec![ans], vec![None]));
        }
        let tx = instantiate(&tangents[0], &primals[0].aval().strong());
        let tv = instantiate(&tangents[1], &primals[1].aval().strong());
        Ok((vec![ans], vec![Some(bind1(self.clone(), &[tx, tv]))]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let Some(ct) = &cts[0] else {
            return Ok(vec![None, None]);
        };
        let zero = crate::lax::full_like_scalar(ct, 0.0);
        // Undo the edge padding (negative amounts re-pad), then drop interior padding.
        let unpad: Vec<(i64, i64, usize)> = self
            .padding_config
            .iter()
            .map(|&(lo, hi, _)| (-lo, -hi, 0))
            .collect();
        let core = pad(ct, &zero, &unpad);
        let n = core.ndim();
        let start = vec![0; n];
        let limit = core.shape().to_vec();
        let strides: Vec<usize> = self.padding_config.iter().map(|p| p.2 + 1).collect();
        let t_operand = slice(&core, &start, &limit, Some(&strides));
        let t_value = args[1].is_linear().then(|| {
            let all: Vec<usize> = (0..n).collect();
            crate::lax::sub(
                &crate::lax::reduce_sum(ct, &all),
                &crate::lax::reduce_sum(&t_operand, &all),
            )
        });
        Ok(vec![args[0].is_linear().then_some(t_operand), t_value])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let x = bdim_to_front(&args[0], dims[0], size);
        let mut cfg = vec![(0, 0, 0)];
        cfg.extend_from_slice(&self.padding_config);
        if dims[1].is_none() {
            return Ok((vec![pad(&x, &args[1], &cfg)], vec![Some(0)]));
        }
        // A batched padding value: pad with zeros, then select it into the padding.
        let zero = crate::lax::full_like_scalar(&x, 0.0);
        let padded = pad(&x, &zero, &cfg);
        let ones = crate::lax::broadcast_in_dim(
            &Array::scalar_i128(1, DType::Bool, false),
            x.shape(),
            &[],
        );
        let mask = pad(&ones, &Array::scalar_i128(0, DType::Bool, false), &cfg);
        let v = move_axis(&args[1], dims[1].unwrap_or(0), 0);
        let v = broadcast_in_dim(&v, padded.shape(), &[0]);
        Ok((vec![crate::lax::select(&mask, &padded, &v)], vec![Some(0)]))
    }

    fn name(&self) -> &'static str {
        "pad"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let items: Vec<String> = self
            .padding_config
            .iter()
            .map(|(l, h, i)| format!("({l}, {h}, {i})"))
            .collect();
        vec![("padding_config", tuple_text(&items))]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [x, v] = inputs else {
            return Err(format!(
                "expects (operand, padding_value), got {} operands",
                inputs.len()
            ));
        };
        if !v.shape.is_empty() {
            return Err(format!(
                "padding_value must be 0-d, got shape {:?}",
                v.shape
            ));
        }
        same_dtype(inputs)?;
        if self.padding_config.len() != x.ndim() {
            return Err(format!(
                "padding_config has {} entries for an operand of shape {:?}",
                self.padding_config.len(),
                x.shape
            ));
        }
        let mut shape = Vec::with_capacity(x.ndim());
        for (&n, &(lo, hi, interior)) in x.shape.iter().zip(&self.padding_config) {
            let size = lo + hi + n as i64 + (n.saturating_sub(1) * interior) as i64;
            if size < 0 {
                return Err(format!(
                    "padding ({lo}, {hi}, {interior}) of a dim of size {n} gives negative size {size}"
                ));
            }
            shape.push(size as usize);
        }
        Ok(vec![x.with_shape(shape)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx.b.add(
            Op::Pad {
                low: self.padding_config.iter().map(|p| p.0).collect(),
                high: self.padding_config.iter().map(|p| p.1).collect(),
                interior: self.padding_config.iter().map(|p| p.2).collect(),
            },
            args,
        )]
    }
}

/// Pads (or crops, with negative amounts) `x` with the 0-d `padding_value`.
#[track_caller]
pub fn pad(x: &Array, padding_value: &Array, padding_config: &[(i64, i64, usize)]) -> Array {
    bind1(
        Pad {
            padding_config: padding_config.to_vec(),
        },
        &[x.clone(), padding_value.clone()],
    )
}

// ---- iota -------------------------------------------------------------------------

/// `iota[dtype, shape, dimension]`: 0, 1, 2, ... along `dimension`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Iota {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub dimension: usize,
}

impl Primitive for Iota {
    fn name(&self) -> &'static str {
        "iota"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("dtype", self.dtype.numpy_name().into()),
            ("shape", tuple_text(&self.shape)),
            ("dimension", self.dimension.to_string()),
            ("sharding", "None".into()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        if !inputs.is_empty() {
            return Err("takes no operands".into());
        }
        if self.dimension >= self.shape.len() {
            return Err(format!(
                "dimension {} out of range for shape {:?}",
                self.dimension, self.shape
            ));
        }
        if self.dtype.is_bool() {
            return Err("iota of bool".into());
        }
        Ok(vec![Aval::new(self.shape.clone(), self.dtype)])
    }

    fn lower(&self, ctx: &mut LowerCtx, _args: &[Value]) -> Vec<Value> {
        vec![ctx
            .b
            .iota(Shape::new(self.dtype, self.shape.clone()), self.dimension)]
    }
}

/// 0, 1, ..., n-1 along `dimension` of `shape`.
#[track_caller]
pub fn broadcasted_iota(dtype: DType, shape: &[usize], dimension: usize) -> Array {
    bind1(
        Iota {
            dtype,
            shape: shape.to_vec(),
            dimension,
        },
        &[],
    )
}

/// 0, 1, ..., n-1.
#[track_caller]
pub fn iota(dtype: DType, n: usize) -> Array {
    broadcasted_iota(dtype, &[n], 0)
}
