//! Indexing primitives: dynamic_slice, dynamic_update_slice, gather and the scatter
//! family (`scatter`, `scatter-add`, `scatter-mul`, `scatter-min`, `scatter-max`).
//!
//! Out-of-bounds behaviour follows JAX's [`GatherScatterMode`]: oxla's gather clamps
//! and its scatter drops windows that are partly out of bounds, so `FILL_OR_DROP`
//! gathers add a mask and a select, and `CLIP` scatters clamp their indices first.
//!
//! Transformation rules follow JAX (`lax/slicing.py`): dynamic_slice and gather are
//! linear in the operand (transposes: dynamic_update_slice / scatter-add into
//! zeros); scatter-add is linear; scatter (overwrite) differentiates with the
//! "scatter ids" trick unless the indices are unique; scatter-min/max average the
//! tangents of tied winners; batching adds batching dims (or a leading window dim),
//! and dynamic_slice / dynamic_update_slice with batched starts become gather /
//! scatter.

use super::elementwise::py_bool;
use super::reduce::{combiner, int_bounds, lower_reduce, ReduceKind};
use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{
    tuple_text, BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult,
};
use crate::core::trace::{bind, bind1};
use crate::lax;
use crate::transform::rules::{bdim_to_front, instantiate, move_axis, zeros_aval, zeros_like};
use oxla::{BinaryOp, CmpDir, DType, GatherDims, Literal, Op, ScatterDims, Shape, Value};
use std::fmt;
use std::hash::{Hash, Hasher};

// ---- modes and dimension numbers --------------------------------------------------

/// How gathers and scatters treat out-of-bounds indices (JAX's `GatherScatterMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GatherScatterMode {
    /// Indices are clamped so every window is in bounds.
    Clip,
    /// A gather window that is partly out of bounds yields `fill_value`; such a
    /// scatter window is dropped.
    FillOrDrop,
    /// The caller promises in-bounds indices; in practice gathers clamp and scatters
    /// drop.
    PromiseInBounds,
}

impl fmt::Display for GatherScatterMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            GatherScatterMode::Clip => "CLIP",
            GatherScatterMode::FillOrDrop => "FILL_OR_DROP",
            GatherScatterMode::PromiseInBounds => "PROMISE_IN_BOUNDS",
        };
        write!(f, "GatherScatterMode.{name}")
    }
}

/// Gather dimension numbers, with JAX's field names. The index vector is always
/// the last dimension of the start indices.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct GatherDimensionNumbers {
    /// Output dims that hold the slice (window) dims, sorted.
    pub offset_dims: Vec<usize>,
    /// Operand dims sliced with size 1 and removed from the output.
    pub collapsed_slice_dims: Vec<usize>,
    /// Operand dim indexed by each component of the index vector.
    pub start_index_map: Vec<usize>,
    pub operand_batching_dims: Vec<usize>,
    pub start_indices_batching_dims: Vec<usize>,
}

impl fmt::Display for GatherDimensionNumbers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GatherDimensionNumbers(offset_dims={}, collapsed_slice_dims={}, \
             start_index_map={}, operand_batching_dims={}, start_indices_batching_dims={})",
            tuple_text(&self.offset_dims),
            tuple_text(&self.collapsed_slice_dims),
            tuple_text(&self.start_index_map),
            tuple_text(&self.operand_batching_dims),
            tuple_text(&self.start_indices_batching_dims)
        )
    }
}

/// Scatter dimension numbers, with JAX's field names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct ScatterDimensionNumbers {
    /// Dims of the updates that hold the window dims, sorted.
    pub update_window_dims: Vec<usize>,
    /// Operand dims with window size 1 that the updates do not have.
    pub inserted_window_dims: Vec<usize>,
    /// Operand dim indexed by each component of the index vector.
    pub scatter_dims_to_operand_dims: Vec<usize>,
    pub operand_batching_dims: Vec<usize>,
    pub scatter_indices_batching_dims: Vec<usize>,
}

impl fmt::Display for ScatterDimensionNumbers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ScatterDimensionNumbers(update_window_dims={}, inserted_window_dims={}, \
             scatter_dims_to_operand_dims={}, operand_batching_dims={}, \
             scatter_indices_batching_dims={})",
            tuple_text(&self.update_window_dims),
            tuple_text(&self.inserted_window_dims),
            tuple_text(&self.scatter_dims_to_operand_dims),
            tuple_text(&self.operand_batching_dims),
            tuple_text(&self.scatter_indices_batching_dims)
        )
    }
}

/// A gather fill value (compared and hashed by its bits, so NaN is a valid key).
#[derive(Clone, Copy, Debug)]
pub struct FillValue(pub f64);

impl PartialEq for FillValue {
    fn eq(&self, other: &FillValue) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for FillValue {}

impl Hash for FillValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

/// JAX's default gather fill: NaN for floats, the minimum of signed integers, the
/// maximum of unsigned integers, `true` for bool.
pub fn default_fill_literal(dtype: DType) -> Literal {
    if dtype.is_float() {
        Literal::scalar_f64(dtype, f64::NAN)
    } else if dtype.is_signed_int() {
        Literal::scalar_i128(dtype, int_bounds(dtype).0)
    } else {
        Literal::scalar_i128(dtype, int_bounds(dtype).1)
    }
}

fn fill_literal(dtype: DType, fill: Option<FillValue>) -> Literal {
    match fill {
        None => default_fill_literal(dtype),
        Some(FillValue(v)) if dtype.is_float() => Literal::scalar_f64(dtype, v),
        Some(FillValue(v)) if dtype.is_bool() => Literal::scalar_i128(dtype, (v != 0.0) as i128),
        Some(FillValue(v)) => {
            let (lo, hi) = int_bounds(dtype);
            Literal::scalar_i128(dtype, (v as i128).clamp(lo, hi))
        }
    }
}

// ---- shared checks ----------------------------------------------------------------

fn check_dims(dims: &[usize], rank: usize, what: &str) -> Result<(), String> {
    for (i, &d) in dims.iter().enumerate() {
        if d >= rank || dims[..i].contains(&d) {
            return Err(format!(
                "{what} {dims:?} must be distinct dims below {rank}"
            ));
        }
    }
    Ok(())
}

fn check_sorted(dims: &[usize], rank: usize, what: &str) -> Result<(), String> {
    check_dims(dims, rank, what)?;
    if dims.windows(2).any(|w| w[0] > w[1]) {
        return Err(format!("{what} {dims:?} must be sorted"));
    }
    Ok(())
}

fn check_indices(idx: &Aval, k: usize, map_name: &str) -> Result<usize, String> {
    if !idx.dtype.is_int() || idx.ndim() == 0 {
        return Err(format!(
            "indices must be an integer array of rank >= 1 (the last dim is the index \
             vector), got {idx}"
        ));
    }
    let last = idx.shape[idx.ndim() - 1];
    if last != k {
        return Err(format!(
            "the last dim of the indices {idx} must equal the length {k} of {map_name}"
        ));
    }
    Ok(idx.ndim() - 1)
}

fn check_batching(
    x: &Aval,
    idx: &Aval,
    xb: &[usize],
    ib: &[usize],
    names: (&str, &str),
) -> Result<(), String> {
    if xb.len() != ib.len() {
        return Err(format!(
            "{} {xb:?} and {} {ib:?} differ in length",
            names.0, names.1
        ));
    }
    check_dims(ib, idx.ndim() - 1, names.1)?;
    for (&a, &b) in xb.iter().zip(ib) {
        if x.shape[a] != idx.shape[b] {
            return Err(format!(
                "operand dim {a} of {x} and indices dim {b} of {idx} are batching dims of \
                 different sizes"
            ));
        }
    }
    Ok(())
}

// ---- dynamic_slice ----------------------------------------------------------------

/// `dynamic_slice[slice_sizes](x, *starts)`: a window of `x` whose starts are 0-d
/// integers, clamped so the window fits (XLA semantics).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DynamicSlice {
    pub slice_sizes: Vec<usize>,
}

fn check_starts(x: &Aval, starts: &[Aval]) -> Result<(), String> {
    if starts.len() != x.ndim() {
        return Err(format!(
            "needs one start index per dim of the operand {x}, got {}",
            starts.len()
        ));
    }
    if let Some(s) = starts
        .iter()
        .find(|s| !s.shape.is_empty() || !s.dtype.is_int())
    {
        return Err(format!("start indices must be 0-d integers, got {s}"));
    }
    Ok(())
}

impl Primitive for DynamicSlice {
    fn name(&self) -> &'static str {
        "dynamic_slice"
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let ans = bind1(self.clone(), primals);
        let t = tangents[0]
            .as_ref()
            .map(|t| bind1(self.clone(), &with_first(t, &primals[1..])));
        Ok((vec![ans], vec![t]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let mut out = vec![None; args.len()];
        if let (Some(ct), LinArg::Linear(aval)) = (&cts[0], &args[0]) {
            let mut a = vec![zeros_aval(aval), ct.clone()];
            a.extend(const_values(&args[1..])?);
            out[0] = Some(bind1(DynamicUpdateSlice, &a));
        }
        Ok(out)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let (x, starts) = args.split_first().ok_or("expects an operand")?;
        if dims[1..].iter().all(Option::is_none) {
            // Only the operand is batched: slice its batch dim in full.
            let x = bdim_to_front(x, dims[0], size);
            let mut a = vec![x];
            a.push(zero_start(starts));
            a.extend_from_slice(starts);
            let mut sizes = vec![size];
            sizes.extend_from_slice(&self.slice_sizes);
            return Ok((
                vec![bind1(DynamicSlice { slice_sizes: sizes }, &a)],
                vec![Some(0)],
            ));
        }
        // Batched starts: a gather of one full-rank window per example (CLIP clamps
        // like dynamic_slice, in the forward and the transposed scatter).
        let r = x.ndim() - usize::from(dims[0].is_some());
        let index = batch_starts(starts, &dims[1..], size);
        let all: Vec<usize> = (0..r).collect();
        let g = Gather {
            dimension_numbers: GatherDimensionNumbers {
                offset_dims: all.clone(),
                start_index_map: all,
                ..Default::default()
            },
            slice_sizes: self.slice_sizes.clone(),
            indices_are_sorted: true,
            unique_indices: true,
            mode: GatherScatterMode::Clip,
            fill_value: None,
        };
        g.batch(&[x.clone(), index], &[dims[0], Some(0)], size)
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("slice_sizes", tuple_text(&self.slice_sizes))]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let (x, starts) = inputs.split_first().ok_or("expects an operand")?;
        check_starts(x, starts)?;
        if self.slice_sizes.len() != x.ndim()
            || self.slice_sizes.iter().zip(&x.shape).any(|(s, d)| s > d)
        {
            return Err(format!(
                "slice_sizes {:?} must have one entry per dim of {x}, each at most the dim",
                self.slice_sizes
            ));
        }
        Ok(vec![x.with_shape(self.slice_sizes.clone())])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx.b.add(
            Op::DynamicSlice {
                sizes: self.slice_sizes.clone(),
            },
            args,
        )]
    }
}

/// `dynamic_update_slice(x, update, *starts)`: `x` with `update` written at the
/// starts, clamped so the update fits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DynamicUpdateSlice;

impl Primitive for DynamicUpdateSlice {
    fn name(&self) -> &'static str {
        "dynamic_update_slice"
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let ans = bind1(self.clone(), primals);
        if tangents[0].is_none() && tangents[1].is_none() {
            return Ok((vec![ans], vec![None]));
        }
        let mut a = vec![
            instantiate(&tangents[0], &primals[0].aval()),
            instantiate(&tangents[1], &primals[1].aval()),
        ];
        a.extend_from_slice(&primals[2..]);
        Ok((vec![ans], vec![Some(bind1(self.clone(), &a))]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let mut out = vec![None; args.len()];
        let Some(ct) = &cts[0] else {
            return Ok(out);
        };
        let starts = const_values(&args[2..])?;
        let u = args[1].aval();
        if args[0].is_linear() {
            // The operand keeps the cotangent outside the overwritten window.
            out[0] = Some(bind1(
                self.clone(),
                &with_first2(ct, &zeros_aval(&u), &starts),
            ));
        }
        if args[1].is_linear() {
            let ds = DynamicSlice {
                slice_sizes: u.shape.clone(),
            };
            out[1] = Some(bind1(ds, &with_first(ct, &starts)));
        }
        Ok(out)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let [x, u, starts @ ..] = args else {
            return Err("expects an operand and an update".into());
        };
        if dims[2..].iter().all(Option::is_none) {
            let x = bdim_to_front(x, dims[0], size);
            let u = bdim_to_front(u, dims[1], size);
            let mut a = vec![x, u, zero_start(starts)];
            a.extend_from_slice(starts);
            return Ok((vec![bind1(self.clone(), &a)], vec![Some(0)]));
        }
        // Batched starts: a scatter of one full window per example (CLIP clamps like
        // dynamic_update_slice).
        let r = u.ndim() - usize::from(dims[1].is_some());
        let index = batch_starts(starts, &dims[2..], size);
        let all: Vec<usize> = (0..r).collect();
        let sc = Scatter {
            kind: ScatterKind::Set,
            dimension_numbers: ScatterDimensionNumbers {
                update_window_dims: all.clone(),
                scatter_dims_to_operand_dims: all,
                ..Default::default()
            },
            indices_are_sorted: true,
            unique_indices: true,
            mode: GatherScatterMode::Clip,
        };
        sc.batch(
            &[x.clone(), index, u.clone()],
            &[dims[0], Some(0), dims[1]],
            size,
        )
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [x, u, starts @ ..] = inputs else {
            return Err("expects an operand and an update".into());
        };
        check_starts(x, starts)?;
        if u.dtype != x.dtype {
            return Err(format!(
                "update dtype {} must equal the operand dtype {}",
                u.dtype, x.dtype
            ));
        }
        if u.ndim() != x.ndim() || u.shape.iter().zip(&x.shape).any(|(a, b)| a > b) {
            return Err(format!("update {u} does not fit into the operand {x}"));
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx.b.add(Op::DynamicUpdateSlice, args)]
    }
}

/// Wraps a negative 0-d start index once by adding `size` (JAX's
/// `allow_negative_indices`); unsigned indices pass unchanged.
#[track_caller]
fn wrap_negative(i: &Array, size: usize) -> Array {
    if !i.dtype().is_signed_int() {
        return i.clone();
    }
    let zero = Array::scalar_i128(0, i.dtype(), false);
    let n = Array::scalar_i128(size as i128, i.dtype(), false);
    lax::select(&lax::lt(i, &zero), &lax::add(i, &n), i)
}

/// Start indices as 0-d integers of one dtype, negative ones wrapped.
#[track_caller]
fn normalize_starts(op: &str, x: &Array, starts: &[Array]) -> Vec<Array> {
    if starts.len() != x.ndim() {
        crate::error::user_error(format!(
            "{op}: needs one start index per dim of the operand {}, got {}",
            x.aval(),
            starts.len()
        ));
    }
    if let Some(s) = starts.iter().find(|s| s.ndim() != 0 || !s.dtype().is_int()) {
        crate::error::user_error(format!(
            "{op}: start indices must be 0-d integers, got {}",
            s.aval()
        ));
    }
    let same = starts.windows(2).all(|w| w[0].dtype() == w[1].dtype());
    let mut out = Vec::with_capacity(starts.len());
    for (s, &d) in starts.iter().zip(x.shape()) {
        let s = if same {
            s.clone()
        } else {
            lax::convert_element_type(s, DType::I64)
        };
        out.push(wrap_negative(&s, d));
    }
    out
}

/// The window of `x` of shape `sizes` at `starts` (0-d integers, one per dim).
/// Negative starts count from the end; starts are then clamped so the window fits.
///
/// ```
/// use jaxon::{lax, numpy as jnp, Array};
/// let x = jnp::array(&[0.0f32, 1.0, 2.0, 3.0, 4.0]);
/// let i = Array::from_vec(&[], vec![4i32]);
/// assert_eq!(lax::dynamic_slice(&x, &[i], &[2]).to_vec::<f32>(), vec![3.0, 4.0]);
/// ```
#[track_caller]
pub fn dynamic_slice(x: &Array, starts: &[Array], sizes: &[usize]) -> Array {
    let starts = normalize_starts("dynamic_slice", x, starts);
    let mut args = vec![x.clone()];
    args.extend(starts);
    bind1(
        DynamicSlice {
            slice_sizes: sizes.to_vec(),
        },
        &args,
    )
}

/// `x` with `update` written at `starts` (negative starts count from the end; the
/// starts are clamped so the update fits).
#[track_caller]
pub fn dynamic_update_slice(x: &Array, update: &Array, starts: &[Array]) -> Array {
    let starts = normalize_starts("dynamic_update_slice", x, starts);
    let mut args = vec![x.clone(), update.clone()];
    args.extend(starts);
    bind1(DynamicUpdateSlice, &args)
}

/// Starts that are 0 everywhere except `start` at `axis`.
#[track_caller]
fn starts_in_dim(op: &str, x: &Array, start: &Array, axis: usize) -> Vec<Array> {
    if axis >= x.ndim() {
        crate::error::user_error(format!(
            "{op}: axis {axis} is out of range for the operand {}",
            x.aval()
        ));
    }
    (0..x.ndim())
        .map(|d| {
            if d == axis {
                start.clone()
            } else {
                Array::scalar_i128(0, start.dtype(), false)
            }
        })
        .collect()
}

/// `size` elements of `x` along `axis` from `start` (a 0-d integer).
#[track_caller]
pub fn dynamic_slice_in_dim(x: &Array, start: &Array, size: usize, axis: usize) -> Array {
    let starts = starts_in_dim("dynamic_slice_in_dim", x, start, axis);
    let mut sizes = x.shape().to_vec();
    sizes[axis] = size;
    dynamic_slice(x, &starts, &sizes)
}

/// Element `index` of `x` along `axis`; `keepdims` keeps that axis with size 1.
#[track_caller]
pub fn dynamic_index_in_dim(x: &Array, index: &Array, axis: usize, keepdims: bool) -> Array {
    let y = dynamic_slice_in_dim(x, index, 1, axis);
    if keepdims {
        y
    } else {
        lax::squeeze(&y, &[axis])
    }
}

/// `x` with `update` written from `start` along `axis`.
#[track_caller]
pub fn dynamic_update_slice_in_dim(x: &Array, update: &Array, start: &Array, axis: usize) -> Array {
    let starts = starts_in_dim("dynamic_update_slice_in_dim", x, start, axis);
    dynamic_update_slice(x, update, &starts)
}

/// `x` with `update` (of `x`'s shape without `axis`, or with it of size 1) written
/// at `index` along `axis`.
#[track_caller]
pub fn dynamic_update_index_in_dim(x: &Array, update: &Array, index: &Array, axis: usize) -> Array {
    let update = if update.ndim() + 1 == x.ndim() {
        lax::expand_dims(update, &[axis])
    } else {
        update.clone()
    };
    dynamic_update_slice_in_dim(x, &update, index, axis)
}

// ---- gather -----------------------------------------------------------------------

/// `gather[dimension_numbers, slice_sizes, indices_are_sorted, unique_indices, mode,
/// fill_value](operand, indices)` (XLA gather; the index vector is the last dim).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Gather {
    pub dimension_numbers: GatherDimensionNumbers,
    pub slice_sizes: Vec<usize>,
    pub indices_are_sorted: bool,
    pub unique_indices: bool,
    pub mode: GatherScatterMode,
    /// `None`: JAX's default fill for the dtype (used by `FillOrDrop` only).
    pub fill_value: Option<FillValue>,
}

impl Gather {
    fn out_shape(&self, x: &Aval, idx: &Aval) -> Result<Vec<usize>, String> {
        let g = &self.dimension_numbers;
        let r = x.ndim();
        let nbatch = check_indices(idx, g.start_index_map.len(), "start_index_map")?;
        check_dims(&g.start_index_map, r, "start_index_map")?;
        let mut removed = g.collapsed_slice_dims.clone();
        removed.extend(&g.operand_batching_dims);
        check_dims(&removed, r, "collapsed_slice_dims + operand_batching_dims")?;
        check_sorted(&g.collapsed_slice_dims, r, "collapsed_slice_dims")?;
        if let Some(d) = g
            .start_index_map
            .iter()
            .find(|d| g.operand_batching_dims.contains(d))
        {
            return Err(format!(
                "dim {d} is in both start_index_map and operand_batching_dims"
            ));
        }
        check_batching(
            x,
            idx,
            &g.operand_batching_dims,
            &g.start_indices_batching_dims,
            ("operand_batching_dims", "start_indices_batching_dims"),
        )?;
        if self.slice_sizes.len() != r {
            return Err(format!(
                "slice_sizes {:?} must have one entry per dim of the operand {x}",
                self.slice_sizes
            ));
        }
        for (d, (&s, &n)) in self.slice_sizes.iter().zip(&x.shape).enumerate() {
            if s > n {
                return Err(format!(
                    "slice_sizes {:?} exceed the operand {x} in dim {d}",
                    self.slice_sizes
                ));
            }
            if removed.contains(&d) && s != 1 {
                return Err(format!(
                    "collapsed or batching dim {d} must have slice size 1, slice_sizes {:?}",
                    self.slice_sizes
                ));
            }
        }
        let window: Vec<usize> = (0..r)
            .filter(|d| !removed.contains(d))
            .map(|d| self.slice_sizes[d])
            .collect();
        let out_rank = nbatch + window.len();
        if g.offset_dims.len() != window.len() {
            return Err(format!(
                "offset_dims {:?} must have {} entries (operand rank {r} minus collapsed and \
                 batching dims)",
                g.offset_dims,
                window.len()
            ));
        }
        check_sorted(&g.offset_dims, out_rank, "offset_dims")?;
        let (mut wi, mut bi) = (window.iter(), idx.shape.iter());
        Ok((0..out_rank)
            .map(|d| {
                let it = if g.offset_dims.contains(&d) {
                    wi.next()
                } else {
                    bi.next()
                };
                *it.expect("gather output dims")
            })
            .collect())
    }
}

impl Primitive for Gather {
    fn name(&self) -> &'static str {
        "gather"
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let ans = bind1(self.clone(), primals);
        // Filled windows have a zero tangent (JAX gathers the tangent with fill 0).
        let tg = Gather {
            fill_value: Some(FillValue(0.0)),
            ..self.clone()
        };
        let t = tangents[0]
            .as_ref()
            .map(|t| bind1(tg, &[t.clone(), primals[1].clone()]));
        Ok((vec![ans], vec![t]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let mut out = vec![None, None];
        if let (Some(ct), LinArg::Linear(aval)) = (&cts[0], &args[0]) {
            // Scatter-add into zeros with the same mode: clamped windows add where
            // they were read, filled windows are dropped.
            let sc = self.inverse_scatter(ScatterKind::Add);
            let idx = args[1].value()?.clone();
            out[0] = Some(bind1(sc, &[zeros_aval(aval), idx, ct.clone()]));
        }
        Ok(out)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let g = &self.dimension_numbers;
        let (x, idx) = (&args[0], &args[1]);
        let out = match (dims[0], dims[1]) {
            (Some(xd), None) => {
                // The batch dim becomes a leading full window dim.
                let mut slice_sizes = vec![size];
                slice_sizes.extend_from_slice(&self.slice_sizes);
                let prim = Gather {
                    dimension_numbers: GatherDimensionNumbers {
                        offset_dims: prepend0(&g.offset_dims),
                        collapsed_slice_dims: shift(&g.collapsed_slice_dims),
                        start_index_map: shift(&g.start_index_map),
                        operand_batching_dims: shift(&g.operand_batching_dims),
                        start_indices_batching_dims: g.start_indices_batching_dims.clone(),
                    },
                    slice_sizes,
                    ..self.clone()
                };
                bind1(prim, &[move_axis(x, xd, 0), idx.clone()])
            }
            (None, Some(id)) => {
                // One more batch dim of the indices; the batched gather may read one
                // place several times, so sortedness and uniqueness are dropped.
                let prim = Gather {
                    dimension_numbers: GatherDimensionNumbers {
                        offset_dims: shift(&g.offset_dims),
                        start_indices_batching_dims: shift(&g.start_indices_batching_dims),
                        ..g.clone()
                    },
                    indices_are_sorted: false,
                    unique_indices: false,
                    ..self.clone()
                };
                bind1(prim, &[x.clone(), move_axis(idx, id, 0)])
            }
            (Some(xd), Some(id)) => {
                let mut slice_sizes = vec![1];
                slice_sizes.extend_from_slice(&self.slice_sizes);
                let prim = Gather {
                    dimension_numbers: GatherDimensionNumbers {
                        offset_dims: shift(&g.offset_dims),
                        collapsed_slice_dims: shift(&g.collapsed_slice_dims),
                        start_index_map: shift(&g.start_index_map),
                        operand_batching_dims: prepend0(&g.operand_batching_dims),
                        start_indices_batching_dims: prepend0(&g.start_indices_batching_dims),
                    },
                    slice_sizes,
                    ..self.clone()
                };
                bind1(prim, &[move_axis(x, xd, 0), move_axis(idx, id, 0)])
            }
            (None, None) => bind1(self.clone(), args),
        };
        Ok((vec![out], vec![Some(0)]))
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("dimension_numbers", self.dimension_numbers.to_string()),
            ("slice_sizes", tuple_text(&self.slice_sizes)),
            ("indices_are_sorted", py_bool(self.indices_are_sorted)),
            ("unique_indices", py_bool(self.unique_indices)),
            ("mode", self.mode.to_string()),
            (
                "fill_value",
                self.fill_value.map_or("None".into(), |f| f.0.to_string()),
            ),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [x, idx] = inputs else {
            return Err(format!(
                "expects (operand, indices), got {} operands",
                inputs.len()
            ));
        };
        Ok(vec![x.with_shape(self.out_shape(x, idx)?)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let g = &self.dimension_numbers;
        let (x, idx) = (args[0], args[1]);
        let out = ctx.b.add(
            Op::Gather {
                dims: GatherDims {
                    offset_dims: g.offset_dims.clone(),
                    collapsed_slice_dims: g.collapsed_slice_dims.clone(),
                    operand_batching_dims: g.operand_batching_dims.clone(),
                    start_indices_batching_dims: g.start_indices_batching_dims.clone(),
                    start_index_map: g.start_index_map.clone(),
                },
                slice_sizes: self.slice_sizes.clone(),
                indices_are_sorted: self.indices_are_sorted,
            },
            &[x, idx],
        );
        if self.mode != GatherScatterMode::FillOrDrop || g.start_index_map.is_empty() {
            // oxla's gather clamps, which is CLIP and PROMISE_IN_BOUNDS.
            return vec![out];
        }
        self.lower_fill(ctx, idx, out)
    }
}

impl Gather {
    /// The scatter that writes back where this gather reads (its transpose).
    fn inverse_scatter(&self, kind: ScatterKind) -> Scatter {
        let g = &self.dimension_numbers;
        Scatter {
            kind,
            dimension_numbers: ScatterDimensionNumbers {
                update_window_dims: g.offset_dims.clone(),
                inserted_window_dims: g.collapsed_slice_dims.clone(),
                scatter_dims_to_operand_dims: g.start_index_map.clone(),
                operand_batching_dims: g.operand_batching_dims.clone(),
                scatter_indices_batching_dims: g.start_indices_batching_dims.clone(),
            },
            indices_are_sorted: self.indices_are_sorted,
            unique_indices: self.unique_indices,
            mode: self.mode,
        }
    }

    /// Replaces the windows whose start is out of range by the fill value (JAX's
    /// `_gather_fill`).
    fn lower_fill(&self, ctx: &mut LowerCtx, idx: Value, out: Value) -> Vec<Value> {
        let g = &self.dimension_numbers;
        let x_aval = &ctx.in_avals[0];
        let idx_dims = ctx.in_avals[1].shape.clone();
        let out_aval = ctx.out_avals[0].clone();
        let last = idx_dims.len() - 1;
        let upper: Vec<i64> = g
            .start_index_map
            .iter()
            .map(|&d| (x_aval.shape[d] - self.slice_sizes[d]) as i64)
            .collect();
        let b = &mut *ctx.b;
        let idx64 = b.convert(idx, DType::I64);
        let upper = b.constant(Literal::from_vec(&[upper.len()], upper));
        let upper = b.broadcast_in_dim(upper, &idx_dims, &[last]);
        let zero = b.full_f64(&Shape::new(DType::I64, idx_dims.clone()), 0.0);
        let ge = b.compare(CmpDir::Ge, idx64, zero);
        let le = b.compare(CmpDir::Le, idx64, upper);
        let ok = b.binary(BinaryOp::And, ge, le);
        let ok = lower_reduce(b, ReduceKind::And, ok, &[last]);
        let batch_dims: Vec<usize> = (0..out_aval.ndim())
            .filter(|d| !g.offset_dims.contains(d))
            .collect();
        let mask = b.broadcast_in_dim(ok, &out_aval.shape, &batch_dims);
        let fill = b.constant(fill_literal(out_aval.dtype, self.fill_value));
        let fill = b.broadcast_in_dim(fill, &out_aval.shape, &[]);
        vec![b.select(mask, out, fill)]
    }
}

/// XLA gather of `x` at `indices` (integers; the last dim is the index vector).
/// `mode` decides out-of-bounds windows; `fill_value` (None: NaN / int min / uint max
/// / true) is used by `FillOrDrop`.
#[track_caller]
pub fn gather(
    x: &Array,
    indices: &Array,
    dimension_numbers: &GatherDimensionNumbers,
    slice_sizes: &[usize],
    mode: GatherScatterMode,
    fill_value: Option<f64>,
) -> Array {
    bind1(
        Gather {
            dimension_numbers: dimension_numbers.clone(),
            slice_sizes: slice_sizes.to_vec(),
            indices_are_sorted: false,
            unique_indices: false,
            mode,
            fill_value: fill_value.map(FillValue),
        },
        &[x.clone(), indices.clone()],
    )
}

// ---- scatter ----------------------------------------------------------------------

/// How a scatter combines the operand with the updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScatterKind {
    /// Overwrite (which of several duplicate updates wins is unspecified).
    Set,
    Add,
    Mul,
    Min,
    Max,
}

/// `scatter` / `scatter-add` / `scatter-mul` / `scatter-min` / `scatter-max`
/// `[dimension_numbers, indices_are_sorted, unique_indices, mode, update_jaxpr,
/// update_consts](operand, indices, updates)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scatter {
    pub kind: ScatterKind,
    pub dimension_numbers: ScatterDimensionNumbers,
    pub indices_are_sorted: bool,
    pub unique_indices: bool,
    pub mode: GatherScatterMode,
}

impl Scatter {
    /// The window size of each operand dim (1 for inserted and batching dims).
    fn window_sizes(&self, x: &Aval, upd: &Aval) -> Vec<usize> {
        let s = &self.dimension_numbers;
        let mut pos = s.update_window_dims.iter();
        (0..x.ndim())
            .map(|d| {
                if s.inserted_window_dims.contains(&d) || s.operand_batching_dims.contains(&d) {
                    1
                } else {
                    pos.next().map_or(1, |&u| upd.shape[u])
                }
            })
            .collect()
    }

    fn check(&self, x: &Aval, idx: &Aval, upd: &Aval) -> Result<(), String> {
        let s = &self.dimension_numbers;
        let r = x.ndim();
        if upd.dtype != x.dtype {
            return Err(format!(
                "updates dtype {} must equal the operand dtype {}",
                upd.dtype, x.dtype
            ));
        }
        let nbatch = check_indices(
            idx,
            s.scatter_dims_to_operand_dims.len(),
            "scatter_dims_to_operand_dims",
        )?;
        check_dims(
            &s.scatter_dims_to_operand_dims,
            r,
            "scatter_dims_to_operand_dims",
        )?;
        let mut removed = s.inserted_window_dims.clone();
        removed.extend(&s.operand_batching_dims);
        check_dims(&removed, r, "inserted_window_dims + operand_batching_dims")?;
        check_sorted(&s.inserted_window_dims, r, "inserted_window_dims")?;
        check_batching(
            x,
            idx,
            &s.operand_batching_dims,
            &s.scatter_indices_batching_dims,
            ("operand_batching_dims", "scatter_indices_batching_dims"),
        )?;
        check_sorted(&s.update_window_dims, upd.ndim(), "update_window_dims")?;
        let window_dims: Vec<usize> = (0..r).filter(|d| !removed.contains(d)).collect();
        if s.update_window_dims.len() != window_dims.len() {
            return Err(format!(
                "update_window_dims {:?} must have {} entries (operand rank {r} minus inserted \
                 and batching dims)",
                s.update_window_dims,
                window_dims.len()
            ));
        }
        for (&u, &o) in s.update_window_dims.iter().zip(&window_dims) {
            if upd.shape[u] > x.shape[o] {
                return Err(format!(
                    "the update window dim {u} of {upd} exceeds the operand {x} in dim {o}"
                ));
            }
        }
        let scatter_shape: Vec<usize> = (0..upd.ndim())
            .filter(|d| !s.update_window_dims.contains(d))
            .map(|d| upd.shape[d])
            .collect();
        if scatter_shape != idx.shape[..nbatch] {
            return Err(format!(
                "the updates {upd} have scatter dims {scatter_shape:?} but the indices {idx} \
                 have batch dims {:?}",
                &idx.shape[..nbatch]
            ));
        }
        Ok(())
    }

    /// Clamps the indices so every window is in bounds (CLIP mode).
    fn clamp_indices(&self, ctx: &mut LowerCtx, idx: Value) -> Value {
        let (x, idx_aval, upd) = (&ctx.in_avals[0], &ctx.in_avals[1], &ctx.in_avals[2]);
        let sizes = self.window_sizes(x, upd);
        let idx_max = int_bounds(idx_aval.dtype).1;
        let upper: Vec<i64> = self
            .dimension_numbers
            .scatter_dims_to_operand_dims
            .iter()
            .map(|&d| ((x.shape[d] - sizes[d]) as i128).min(idx_max) as i64)
            .collect();
        let dims = idx_aval.shape.clone();
        let dtype = idx_aval.dtype;
        let b = &mut *ctx.b;
        let upper = Literal::from_vec(&[upper.len()], upper).convert(dtype);
        let upper = b.constant(upper);
        let upper = b.broadcast_in_dim(upper, &dims, &[dims.len() - 1]);
        let zero = b.full_f64(&Shape::new(dtype, dims), 0.0);
        b.add(Op::Clamp, &[zero, idx, upper])
    }
}

impl Primitive for Scatter {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        match self.kind {
            ScatterKind::Add => Ok(self.linear_jvp(primals, tangents)),
            ScatterKind::Set if self.unique_indices => Ok(self.linear_jvp(primals, tangents)),
            ScatterKind::Set => Ok(self.ids_jvp(primals, tangents)),
            ScatterKind::Mul => self.mul_jvp(primals, tangents),
            ScatterKind::Min | ScatterKind::Max => Ok(self.extremal_jvp(primals, tangents)),
        }
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let mut out = vec![None, None, None];
        let Some(ct) = &cts[0] else {
            return Ok(out);
        };
        let idx = args[1].value()?.clone();
        let (x, u) = (args[0].aval(), args[2].aval());
        let gather_ct = || {
            let g = self.inverse_gather(&x, &u, self.mode, Some(FillValue(0.0)));
            bind1(g, &[ct.clone(), idx.clone()])
        };
        match self.kind {
            ScatterKind::Add => {
                if args[0].is_linear() {
                    out[0] = Some(ct.clone());
                }
                if args[2].is_linear() {
                    out[2] = Some(gather_ct());
                }
            }
            ScatterKind::Set if self.unique_indices => {
                if args[0].is_linear() {
                    // Overwritten places get no cotangent.
                    let z = zeros_aval(&u);
                    out[0] = Some(bind1(self.clone(), &[ct.clone(), idx.clone(), z]));
                }
                if args[2].is_linear() {
                    out[2] = Some(gather_ct());
                }
            }
            ScatterKind::Mul if !args[2].is_linear() => {
                // Linear in the operand alone: a diagonal scaling, its own transpose.
                let u = args[2].value()?.clone();
                out[0] = Some(bind1(self.clone(), &[ct.clone(), idx, u]));
            }
            ScatterKind::Set => {
                return Err(
                    "the transpose of scatter is only defined for unique_indices=True \
                            (its JVP uses scatter-add otherwise)"
                        .into(),
                )
            }
            ScatterKind::Mul => {
                return Err("scatter-mul is not linear in its updates; no transpose".into())
            }
            _ => return Err(format!("{} is not linear; no transpose", self.name())),
        }
        Ok(out)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let s = &self.dimension_numbers;
        let x = bdim_to_front(&args[0], dims[0], size);
        let u = bdim_to_front(&args[2], dims[2], size);
        let (idx, dnums) = match dims[1] {
            // The batch dim becomes a leading window dim of the updates.
            None => (
                args[1].clone(),
                ScatterDimensionNumbers {
                    update_window_dims: prepend0(&s.update_window_dims),
                    inserted_window_dims: shift(&s.inserted_window_dims),
                    scatter_dims_to_operand_dims: shift(&s.scatter_dims_to_operand_dims),
                    operand_batching_dims: shift(&s.operand_batching_dims),
                    scatter_indices_batching_dims: s.scatter_indices_batching_dims.clone(),
                },
            ),
            Some(id) => (
                move_axis(&args[1], id, 0),
                ScatterDimensionNumbers {
                    update_window_dims: shift(&s.update_window_dims),
                    inserted_window_dims: shift(&s.inserted_window_dims),
                    scatter_dims_to_operand_dims: shift(&s.scatter_dims_to_operand_dims),
                    operand_batching_dims: prepend0(&s.operand_batching_dims),
                    scatter_indices_batching_dims: prepend0(&s.scatter_indices_batching_dims),
                },
            ),
        };
        let prim = Scatter {
            dimension_numbers: dnums,
            ..self.clone()
        };
        Ok((vec![bind1(prim, &[x, idx, u])], vec![Some(0)]))
    }

    fn name(&self) -> &'static str {
        match self.kind {
            ScatterKind::Set => "scatter",
            ScatterKind::Add => "scatter-add",
            ScatterKind::Mul => "scatter-mul",
            ScatterKind::Min => "scatter-min",
            ScatterKind::Max => "scatter-max",
        }
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("dimension_numbers", self.dimension_numbers.to_string()),
            ("indices_are_sorted", py_bool(self.indices_are_sorted)),
            ("unique_indices", py_bool(self.unique_indices)),
            ("mode", self.mode.to_string()),
            ("update_jaxpr", "None".into()),
            ("update_consts", "()".into()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [x, idx, upd] = inputs else {
            return Err(format!(
                "expects (operand, indices, updates), got {} operands",
                inputs.len()
            ));
        };
        self.check(x, idx, upd)?;
        Ok(vec![x.clone()])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let (x, mut idx, upd) = (args[0], args[1], args[2]);
        let dtype = ctx.in_avals[0].dtype;
        if self.mode == GatherScatterMode::Clip {
            idx = self.clamp_indices(ctx, idx);
        }
        let body = match self.kind {
            ScatterKind::Set => {
                let s = Shape::scalar(dtype);
                ctx.b.region("scatter", &[s.clone(), s], |_, p| vec![p[1]])
            }
            kind => {
                // Bool add/mul are logical or/and (min/max already are, via combiner).
                let op = match (kind, dtype.is_bool()) {
                    (ScatterKind::Add, true) => BinaryOp::Or,
                    (ScatterKind::Mul, true) => BinaryOp::And,
                    (ScatterKind::Add, false) => BinaryOp::Add,
                    (ScatterKind::Mul, false) => BinaryOp::Mul,
                    (ScatterKind::Min, _) => combiner(ReduceKind::Min, dtype),
                    _ => combiner(ReduceKind::Max, dtype),
                };
                ctx.b.scalar_binary_region(op, dtype)
            }
        };
        let s = &self.dimension_numbers;
        vec![ctx.b.add(
            Op::Scatter {
                dims: ScatterDims {
                    update_window_dims: s.update_window_dims.clone(),
                    inserted_window_dims: s.inserted_window_dims.clone(),
                    input_batching_dims: s.operand_batching_dims.clone(),
                    scatter_indices_batching_dims: s.scatter_indices_batching_dims.clone(),
                    scatter_dims_to_operand_dims: s.scatter_dims_to_operand_dims.clone(),
                },
                body,
                indices_are_sorted: self.indices_are_sorted,
                unique_indices: self.unique_indices,
            },
            &[x, idx, upd],
        )]
    }
}

/// Applies a scatter of `kind`.
#[track_caller]
pub fn scatter_kind(
    kind: ScatterKind,
    x: &Array,
    indices: &Array,
    updates: &Array,
    dimension_numbers: &ScatterDimensionNumbers,
    mode: GatherScatterMode,
) -> Array {
    let mut out = bind(
        Scatter {
            kind,
            dimension_numbers: dimension_numbers.clone(),
            indices_are_sorted: false,
            unique_indices: false,
            mode,
        },
        &[x.clone(), indices.clone(), updates.clone()],
    );
    out.pop().expect("scatter has one output")
}

macro_rules! scatter_fns {
    ($($(#[$doc:meta])* $name:ident => $kind:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(
            x: &Array,
            indices: &Array,
            updates: &Array,
            dimension_numbers: &ScatterDimensionNumbers,
            mode: GatherScatterMode,
        ) -> Array {
            scatter_kind($kind, x, indices, updates, dimension_numbers, mode)
        }
    )*};
}

scatter_fns! {
    /// XLA scatter overwriting `x` with `updates` at `indices` (`FillOrDrop` and
    /// `PromiseInBounds` drop out-of-bounds windows, `Clip` clamps them).
    scatter => ScatterKind::Set;
    /// Scatter that adds the updates (duplicates accumulate).
    scatter_add => ScatterKind::Add;
    /// Scatter that multiplies by the updates.
    scatter_mul => ScatterKind::Mul;
    /// Scatter that takes the minimum with the updates.
    scatter_min => ScatterKind::Min;
    /// Scatter that takes the maximum with the updates.
    scatter_max => ScatterKind::Max;
}

// ---- transformation helpers -------------------------------------------------------

impl Scatter {
    /// The gather that reads what this scatter writes (`X.at[I].set(X[I]) == X`).
    fn inverse_gather(
        &self,
        x: &Aval,
        upd: &Aval,
        mode: GatherScatterMode,
        fill_value: Option<FillValue>,
    ) -> Gather {
        let s = &self.dimension_numbers;
        Gather {
            dimension_numbers: GatherDimensionNumbers {
                offset_dims: s.update_window_dims.clone(),
                collapsed_slice_dims: s.inserted_window_dims.clone(),
                start_index_map: s.scatter_dims_to_operand_dims.clone(),
                operand_batching_dims: s.operand_batching_dims.clone(),
                start_indices_batching_dims: s.scatter_indices_batching_dims.clone(),
            },
            slice_sizes: self.window_sizes(x, upd),
            indices_are_sorted: self.indices_are_sorted,
            unique_indices: self.unique_indices,
            mode,
            fill_value,
        }
    }

    /// The gather mode that reads back exactly the windows this scatter wrote:
    /// clamped for CLIP, otherwise out-of-bounds windows read the fill value.
    fn readback_mode(&self) -> GatherScatterMode {
        match self.mode {
            GatherScatterMode::Clip => GatherScatterMode::Clip,
            _ => GatherScatterMode::FillOrDrop,
        }
    }

    fn with_kind(&self, kind: ScatterKind) -> Scatter {
        Scatter {
            kind,
            ..self.clone()
        }
    }

    /// JVP of a scatter linear in (operand, updates): the same scatter of the tangents.
    fn linear_jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> JvpOut {
        let ans = bind1(self.clone(), primals);
        let tx = instantiate(&tangents[0], &primals[0].aval());
        let tu = instantiate(&tangents[2], &primals[2].aval());
        let t = bind1(self.clone(), &[tx, primals[1].clone(), tu]);
        (vec![ans], vec![Some(t)])
    }

    /// JAX's "scatter ids" JVP of an overwriting scatter with possibly repeated
    /// indices: scatter a positive id per update, read the winning ids back, mask
    /// the losers and use scatter-add on the masked values and tangents.
    fn ids_jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> JvpOut {
        let (x, idx, u) = (&primals[0], &primals[1], &primals[2]);
        let s = &self.dimension_numbers;
        let scatter_dims: Vec<usize> = (0..u.ndim())
            .filter(|d| !s.update_window_dims.contains(d))
            .collect();
        let ids_shape: Vec<usize> = scatter_dims.iter().map(|&d| u.shape()[d]).collect();
        let n: usize = ids_shape.iter().product();
        let id_dtype = if n < u32::MAX as usize {
            DType::U32
        } else {
            DType::U64
        };
        let one = Array::scalar_i128(1, id_dtype, false);
        let ids = lax::add(&lax::iota(id_dtype, n), &one);
        let ids = lax::reshape(&ids, &ids_shape);
        let ids = lax::broadcast_in_dim(&ids, u.shape(), &scatter_dims);
        let zeros_ids = zeros_aval(&Aval::new(x.shape().to_vec(), id_dtype));
        let scattered = bind1(self.clone(), &[zeros_ids.clone(), idx.clone(), ids.clone()]);
        let g = self.inverse_gather(&x.aval(), &u.aval(), self.readback_mode(), None);
        let gathered = bind1(g, &[scattered.clone(), idx.clone()]);
        let keep_x = lax::eq(&scattered, &zeros_ids);
        let keep_u = lax::eq(&ids, &gathered);
        let mask = |keep: &Array, v: &Array| lax::select(keep, v, &zeros_like(v));
        let add = self.with_kind(ScatterKind::Add);
        let ans = bind1(
            add.clone(),
            &[mask(&keep_x, x), idx.clone(), mask(&keep_u, u)],
        );
        let tx = instantiate(&tangents[0], &x.aval());
        let tu = instantiate(&tangents[2], &u.aval());
        let t = bind1(add, &[mask(&keep_x, &tx), idx.clone(), mask(&keep_u, &tu)]);
        (vec![ans], vec![Some(t)])
    }

    /// scatter-mul: the operand tangent is scaled like the operand; the updates
    /// tangent needs unique indices (as in JAX).
    fn mul_jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let (x, idx, u) = (&primals[0], &primals[1], &primals[2]);
        if tangents[2].is_some() && !self.unique_indices {
            return Err(
                "the JVP of scatter-mul with respect to the updates is only implemented for \
                 unique_indices=True (as in JAX); differentiate with respect to the operand \
                 only, or use unique indices"
                    .into(),
            );
        }
        let ans = bind1(self.clone(), primals);
        let tx = tangents[0]
            .as_ref()
            .map(|t| bind1(self.clone(), &[t.clone(), idx.clone(), u.clone()]));
        let tu = tangents[2].as_ref().map(|t| {
            let add = self.with_kind(ScatterKind::Add);
            lax::mul(x, &bind1(add, &[zeros_like(x), idx.clone(), t.clone()]))
        });
        let t = crate::transform::rules::add_tangents(tx, tu);
        Ok((vec![ans], vec![t]))
    }

    /// scatter-min/max: each output takes the tangent of its winner; tied winners
    /// (the operand and/or several updates) share it evenly, like JAX.
    fn extremal_jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> JvpOut {
        let (x, idx, u) = (&primals[0], &primals[1], &primals[2]);
        let ans = bind1(self.clone(), primals);
        let g = self.inverse_gather(&x.aval(), &u.aval(), self.readback_mode(), None);
        let won_u = lax::eq(u, &bind1(g, &[ans.clone(), idx.clone()]));
        let won_x = lax::eq(x, &ans);
        let add = self.with_kind(ScatterKind::Add);
        let scatter_masked = |keep: &Array, v: &Array| {
            let v = lax::select(keep, v, &zeros_like(v));
            bind1(add.clone(), &[zeros_like(x), idx.clone(), v])
        };
        let ones =
            |v: &Array| lax::broadcast_in_dim(&lax::full_like_scalar(v, 1.0), v.shape(), &[]);
        let x_ones = ones(x);
        let count = lax::add(
            &scatter_masked(&won_u, &ones(u)),
            &lax::select(&won_x, &x_ones, &zeros_like(x)),
        );
        let count = lax::max(&count, &x_ones);
        let tx = tangents[0]
            .as_ref()
            .map(|t| lax::select(&won_x, t, &zeros_like(t)));
        let tu = tangents[2].as_ref().map(|t| scatter_masked(&won_u, t));
        let t = crate::transform::rules::add_tangents(tx, tu).map(|t| lax::div(&t, &count));
        (vec![ans], vec![t])
    }
}

/// Dims shifted by one (a batch dim was put in front).
fn shift(dims: &[usize]) -> Vec<usize> {
    dims.iter().map(|d| d + 1).collect()
}

/// Dim 0 followed by the shifted dims.
fn prepend0(dims: &[usize]) -> Vec<usize> {
    std::iter::once(0)
        .chain(dims.iter().map(|d| d + 1))
        .collect()
}

/// `[first, rest...]`.
fn with_first(first: &Array, rest: &[Array]) -> Vec<Array> {
    let mut v = vec![first.clone()];
    v.extend_from_slice(rest);
    v
}

/// `[a, b, rest...]`.
fn with_first2(a: &Array, b: &Array, rest: &[Array]) -> Vec<Array> {
    let mut v = vec![a.clone(), b.clone()];
    v.extend_from_slice(rest);
    v
}

/// The values of constant (non-linear) inputs of a transposed equation.
fn const_values(args: &[LinArg]) -> RuleResult<Vec<Array>> {
    args.iter().map(|a| a.value().cloned()).collect()
}

/// A 0 start index of the starts' dtype (int32 when there are none).
fn zero_start(starts: &[Array]) -> Array {
    let dtype = starts.first().map_or(DType::I32, Array::dtype);
    Array::scalar_i128(0, dtype, false)
}

/// 0-d start indices (some batched, as `[size]` arrays) stacked into `[size, r]`
/// gather/scatter indices.
fn batch_starts(starts: &[Array], dims: &[Option<usize>], size: usize) -> Array {
    let cols: Vec<Array> = starts
        .iter()
        .zip(dims)
        .map(|(s, d)| lax::reshape(&bdim_to_front(s, *d, size), &[size, 1]))
        .collect();
    lax::concatenate(&cols, 1)
}
