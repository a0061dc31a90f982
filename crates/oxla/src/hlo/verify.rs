//! Shape inference for every op, and the module verifier.
//!
//! Errors are plain strings that start with the op name and say what is wrong, e.g.
//! `add: operand shapes f32[3] and f32[4] differ`.

use super::ir::*;
use crate::{DType, Shape};

/// The result shapes of `op` applied to operands of the given shapes.
///
/// `params` are the parameter shapes of the enclosing computation (for
/// `Op::Parameter`); `comps` are the module's finished computations (for regions).
pub fn infer_shapes(
    op: &Op,
    operands: &[&Shape],
    params: &[Shape],
    comps: &[Computation],
) -> Result<Vec<Shape>, String> {
    infer(op, operands, params, comps).map_err(|e| format!("{}: {e}", op.name()))
}

type R<T> = Result<T, String>;

fn infer(op: &Op, xs: &[&Shape], params: &[Shape], comps: &[Computation]) -> R<Vec<Shape>> {
    let one = |s: Shape| Ok(vec![s]);
    match op {
        Op::Parameter { index } => {
            arity(xs, 0)?;
            match params.get(*index) {
                Some(s) => one(s.clone()),
                None => Err(format!(
                    "parameter {index} out of range: the computation has {} parameters",
                    params.len()
                )),
            }
        }
        Op::Constant(lit) => {
            arity(xs, 0)?;
            one(lit.shape().clone())
        }
        Op::Iota { shape, dim } => {
            arity(xs, 0)?;
            if *dim >= shape.rank() {
                return Err(format!("dim {dim} out of range for {shape}"));
            }
            if shape.dtype.is_bool() {
                return Err(format!("bool iota {shape} is not supported"));
            }
            one(shape.clone())
        }
        Op::Unary(u) => {
            arity(xs, 1)?;
            unary(*u, xs[0]).map(|s| vec![s])
        }
        Op::Binary(b) => {
            arity(xs, 2)?;
            same_shape(xs[0], xs[1])?;
            binary_dtype(*b, xs[0].dtype)?;
            one(xs[0].clone())
        }
        Op::Compare { .. } => {
            arity(xs, 2)?;
            same_shape(xs[0], xs[1])?;
            one(xs[0].with_dtype(DType::Bool))
        }
        Op::Select => {
            arity(xs, 3)?;
            let (p, t, f) = (xs[0], xs[1], xs[2]);
            if !p.dtype.is_bool() {
                return Err(format!("predicate {p} is not bool"));
            }
            same_shape(t, f)?;
            if p.rank() != 0 && p.dims != t.dims {
                return Err(format!(
                    "predicate {p} is neither a scalar nor of the dims of {t}"
                ));
            }
            one(t.clone())
        }
        Op::Clamp => {
            arity(xs, 3)?;
            let (lo, x, hi) = (xs[0], xs[1], xs[2]);
            for b in [lo, hi] {
                if b.dtype != x.dtype || (b.rank() != 0 && b.dims != x.dims) {
                    return Err(format!("bound {b} must be a scalar or of shape {x}"));
                }
            }
            one(x.clone())
        }
        Op::Convert { dtype } => {
            arity(xs, 1)?;
            one(xs[0].with_dtype(*dtype))
        }
        Op::BitcastConvert { dtype } => {
            arity(xs, 1)?;
            bitcast(xs[0], *dtype).map(|s| vec![s])
        }
        Op::BroadcastInDim {
            out_dims,
            broadcast_dims,
        } => {
            arity(xs, 1)?;
            let x = xs[0];
            if broadcast_dims.len() != x.rank() {
                return Err(format!(
                    "broadcast_dims {broadcast_dims:?} must have one entry per dim of {x}"
                ));
            }
            distinct_in_range(broadcast_dims, out_dims.len(), "broadcast_dims")?;
            for (i, &d) in broadcast_dims.iter().enumerate() {
                if x.dims[i] != out_dims[d] && x.dims[i] != 1 {
                    return Err(format!(
                        "operand {x} dim {i} (size {}) cannot broadcast to output dim {d} (size {})",
                        x.dims[i], out_dims[d]
                    ));
                }
            }
            one(Shape::new(x.dtype, out_dims.clone()))
        }
        Op::Reshape { dims } => {
            arity(xs, 1)?;
            let out = Shape::new(xs[0].dtype, dims.clone());
            if out.num_elements() != xs[0].num_elements() {
                return Err(format!(
                    "cannot reshape {} to {out}: element counts differ",
                    xs[0]
                ));
            }
            one(out)
        }
        Op::Transpose { perm } => {
            arity(xs, 1)?;
            let x = xs[0];
            if perm.len() != x.rank() {
                return Err(format!("perm {perm:?} has the wrong length for {x}"));
            }
            distinct_in_range(perm, x.rank(), "perm")?;
            one(Shape::new(
                x.dtype,
                perm.iter().map(|&p| x.dims[p]).collect::<Vec<_>>(),
            ))
        }
        Op::Reverse { dims } => {
            arity(xs, 1)?;
            distinct_in_range(dims, xs[0].rank(), "dims")?;
            one(xs[0].clone())
        }
        Op::Slice {
            start,
            limit,
            strides,
        } => {
            arity(xs, 1)?;
            let x = xs[0];
            let r = x.rank();
            if start.len() != r || limit.len() != r || strides.len() != r {
                return Err(format!("start/limit/strides must have length {r} for {x}"));
            }
            let mut out = Vec::with_capacity(r);
            for i in 0..r {
                if start[i] > limit[i] || limit[i] > x.dims[i] || strides[i] == 0 {
                    return Err(format!(
                        "dim {i}: need start {} <= limit {} <= size {} and stride {} >= 1",
                        start[i], limit[i], x.dims[i], strides[i]
                    ));
                }
                out.push((limit[i] - start[i]).div_ceil(strides[i]));
            }
            one(Shape::new(x.dtype, out))
        }
        Op::DynamicSlice { sizes } => {
            let x = xs.first().ok_or("missing operand")?;
            arity(xs, 1 + x.rank())?;
            if sizes.len() != x.rank() {
                return Err(format!("sizes {sizes:?} must have length {}", x.rank()));
            }
            for (i, (&s, &d)) in sizes.iter().zip(&x.dims).enumerate() {
                if s > d {
                    return Err(format!("size {s} of dim {i} exceeds {x}"));
                }
            }
            int_scalars(&xs[1..])?;
            one(Shape::new(x.dtype, sizes.clone()))
        }
        Op::DynamicUpdateSlice => {
            let x = xs.first().ok_or("missing operand")?;
            arity(xs, 2 + x.rank())?;
            let u = xs[1];
            if u.dtype != x.dtype
                || u.rank() != x.rank()
                || u.dims.iter().zip(&x.dims).any(|(a, b)| a > b)
            {
                return Err(format!("update {u} does not fit into {x}"));
            }
            int_scalars(&xs[2..])?;
            one((*x).clone())
        }
        Op::Concatenate { dim } => {
            let first = xs.first().ok_or("needs at least one operand")?;
            if *dim >= first.rank() {
                return Err(format!("dim {dim} out of range for {first}"));
            }
            let mut out = first.dims.clone();
            out[*dim] = 0;
            for x in xs {
                let same_rest = x.rank() == first.rank()
                    && (0..x.rank()).all(|i| i == *dim || x.dims[i] == first.dims[i]);
                if x.dtype != first.dtype || !same_rest {
                    return Err(format!("operands {first} and {x} differ outside dim {dim}"));
                }
                out[*dim] += x.dims[*dim];
            }
            one(Shape::new(first.dtype, out))
        }
        Op::Pad {
            low,
            high,
            interior,
        } => {
            arity(xs, 2)?;
            let (x, v) = (xs[0], xs[1]);
            if v.rank() != 0 || v.dtype != x.dtype {
                return Err(format!("pad value {v} must be a {} scalar", x.dtype));
            }
            let r = x.rank();
            if low.len() != r || high.len() != r || interior.len() != r {
                return Err(format!("low/high/interior must have length {r} for {x}"));
            }
            let mut out = Vec::with_capacity(r);
            for i in 0..r {
                let n = x.dims[i] as i64;
                let size = low[i] + high[i] + n + (n - 1).max(0) * interior[i] as i64;
                if size < 0 {
                    return Err(format!("dim {i} of {x} would get negative size {size}"));
                }
                out.push(size as usize);
            }
            one(Shape::new(x.dtype, out))
        }
        Op::Gather {
            dims, slice_sizes, ..
        } => {
            arity(xs, 2)?;
            gather(xs[0], xs[1], dims, slice_sizes).map(|s| vec![s])
        }
        Op::Scatter { dims, body, .. } => {
            arity(xs, 3)?;
            scatter(xs[0], xs[1], xs[2], dims)?;
            let s = Shape::scalar(xs[0].dtype);
            check_region(comps, *body, &[s.clone(), s.clone()], Some(&[s]))?;
            one(xs[0].clone())
        }
        Op::Reduce { dims, body } => {
            let n = variadic_half(xs)?;
            let first = xs[0];
            distinct_in_range(dims, first.rank(), "dims")?;
            let mut sig = Vec::new();
            for i in 0..n {
                let (x, init) = (xs[i], xs[n + i]);
                if x.dims != first.dims {
                    return Err(format!("inputs {first} and {x} have different dims"));
                }
                if init.rank() != 0 || init.dtype != x.dtype {
                    return Err(format!("init {init} must be a {} scalar", x.dtype));
                }
                sig.push(init.clone());
            }
            let args: Vec<Shape> = sig.iter().chain(&sig).cloned().collect();
            check_region(comps, *body, &args, Some(&sig))?;
            let out: Vec<usize> = (0..first.rank())
                .filter(|d| !dims.contains(d))
                .map(|d| first.dims[d])
                .collect();
            Ok(sig
                .iter()
                .map(|s| Shape::new(s.dtype, out.clone()))
                .collect())
        }
        Op::ReduceWindow {
            window,
            strides,
            base_dilation,
            window_dilation,
            padding,
            body,
        } => {
            let n = variadic_half(xs)?;
            let first = xs[0];
            let r = first.rank();
            if window.len() != r
                || strides.len() != r
                || base_dilation.len() != r
                || window_dilation.len() != r
                || padding.len() != r
            {
                return Err(format!(
                    "window/strides/base_dilation/window_dilation/padding must have length {r}"
                ));
            }
            let mut sig = Vec::new();
            for i in 0..n {
                let (x, init) = (xs[i], xs[n + i]);
                if x.dims != first.dims {
                    return Err(format!("inputs {first} and {x} have different dims"));
                }
                if init.rank() != 0 || init.dtype != x.dtype {
                    return Err(format!("init {init} must be a {} scalar", x.dtype));
                }
                sig.push(init.clone());
            }
            let args: Vec<Shape> = sig.iter().chain(&sig).cloned().collect();
            check_region(comps, *body, &args, Some(&sig))?;
            let mut out = Vec::with_capacity(r);
            for i in 0..r {
                if window[i] == 0
                    || strides[i] == 0
                    || base_dilation[i] == 0
                    || window_dilation[i] == 0
                {
                    return Err(format!(
                        "dim {i}: window, strides and dilations must be >= 1"
                    ));
                }
                out.push(window_out(
                    first.dims[i],
                    padding[i],
                    base_dilation[i],
                    window[i],
                    window_dilation[i],
                    strides[i],
                    i,
                )?);
            }
            Ok(sig
                .iter()
                .map(|s| Shape::new(s.dtype, out.clone()))
                .collect())
        }
        Op::Sort { dim, body, .. } => {
            let first = xs.first().ok_or("needs at least one operand")?;
            if *dim >= first.rank() {
                return Err(format!("dim {dim} out of range for {first}"));
            }
            let mut args = Vec::new();
            for x in xs {
                if x.dims != first.dims {
                    return Err(format!("operands {first} and {x} have different dims"));
                }
                args.push(Shape::scalar(x.dtype));
                args.push(Shape::scalar(x.dtype));
            }
            check_region(comps, *body, &args, Some(&[Shape::scalar(DType::Bool)]))?;
            Ok(xs.iter().map(|&x| x.clone()).collect())
        }
        Op::TopK { k } => {
            arity(xs, 1)?;
            let x = xs[0];
            let last = x
                .dims
                .last()
                .copied()
                .ok_or_else(|| format!("operand {x} is a scalar"))?;
            if last < *k {
                return Err(format!("k = {k} exceeds the last dim of {x}"));
            }
            if x.dtype.is_bool() {
                return Err(format!("operand {x} is bool"));
            }
            let mut dims = x.dims.clone();
            *dims.last_mut().expect("rank >= 1") = *k;
            Ok(vec![
                Shape::new(x.dtype, dims.clone()),
                Shape::new(DType::I32, dims),
            ])
        }
        Op::DotGeneral { dims, out_dtype } => {
            arity(xs, 2)?;
            dot(xs[0], xs[1], dims, *out_dtype).map(|s| vec![s])
        }
        Op::Convolution {
            window_strides,
            padding,
            lhs_dilation,
            rhs_dilation,
            dims,
            feature_group_count,
            batch_group_count,
            out_dtype,
        } => {
            arity(xs, 2)?;
            let c = ConvParams {
                window_strides,
                padding,
                lhs_dilation,
                rhs_dilation,
                dims,
                feature_group_count: *feature_group_count,
                batch_group_count: *batch_group_count,
            };
            conv(xs[0], xs[1], &c, *out_dtype).map(|s| vec![s])
        }
        Op::ReducePrecision {
            exponent_bits,
            mantissa_bits,
        } => {
            arity(xs, 1)?;
            if !xs[0].dtype.is_float() {
                return Err(format!("operand {} is not a float", xs[0]));
            }
            if *exponent_bits == 0 || *exponent_bits > 30 || *mantissa_bits > 60 {
                return Err(format!(
                    "unsupported widths: exponent_bits {exponent_bits}, mantissa_bits {mantissa_bits}"
                ));
            }
            one(xs[0].clone())
        }
        Op::Call { comp } | Op::Fusion { comp, .. } => {
            let args: Vec<Shape> = xs.iter().map(|&s| s.clone()).collect();
            let c = check_region(comps, *comp, &args, None)?;
            Ok(c.result_shapes())
        }
        Op::While { cond, body } => {
            let state: Vec<Shape> = xs.iter().map(|&s| s.clone()).collect();
            check_region(comps, *cond, &state, Some(&[Shape::scalar(DType::Bool)]))?;
            check_region(comps, *body, &state, Some(&state))?;
            Ok(state)
        }
        Op::Conditional { branches } => {
            let index = xs.first().ok_or("missing the branch index operand")?;
            if index.rank() != 0 || !matches!(index.dtype, DType::I32 | DType::Bool) {
                return Err(format!(
                    "branch index {index} must be an i32 or bool scalar"
                ));
            }
            if branches.is_empty() {
                return Err("needs at least one branch".to_string());
            }
            if index.dtype.is_bool() && branches.len() != 2 {
                return Err(format!(
                    "a bool index needs 2 branches, got {}",
                    branches.len()
                ));
            }
            let args: Vec<Shape> = xs[1..].iter().map(|&s| s.clone()).collect();
            let first = check_region(comps, branches[0], &args, None)?.result_shapes();
            for &b in &branches[1..] {
                check_region(comps, b, &args, Some(&first))?;
            }
            Ok(first)
        }
        // Operands are arbitrary arrays; the results are whatever the op declares.
        Op::HostCallback { results, .. } => Ok(results.clone()),
    }
}

fn arity(xs: &[&Shape], n: usize) -> R<()> {
    if xs.len() != n {
        return Err(format!("expects {n} operands, got {}", xs.len()));
    }
    Ok(())
}

/// For ops with operands `(x_0..x_{n-1}, init_0..init_{n-1})`: returns n.
fn variadic_half(xs: &[&Shape]) -> R<usize> {
    if xs.is_empty() || !xs.len().is_multiple_of(2) {
        return Err(format!(
            "expects 2n operands (inputs then inits), got {}",
            xs.len()
        ));
    }
    Ok(xs.len() / 2)
}

fn same_shape(a: &Shape, b: &Shape) -> R<()> {
    if a != b {
        return Err(format!("operand shapes {a} and {b} differ"));
    }
    Ok(())
}

fn distinct_in_range(dims: &[usize], rank: usize, what: &str) -> R<()> {
    for (i, &d) in dims.iter().enumerate() {
        if d >= rank {
            return Err(format!("{what} {dims:?}: {d} out of range for rank {rank}"));
        }
        if dims[..i].contains(&d) {
            return Err(format!("{what} {dims:?}: {d} repeats"));
        }
    }
    Ok(())
}

fn int_scalars(xs: &[&Shape]) -> R<()> {
    for x in xs {
        if x.rank() != 0 || !x.dtype.is_int() {
            return Err(format!("start index {x} must be an integer scalar"));
        }
    }
    Ok(())
}

fn unary(u: UnaryOp, x: &Shape) -> R<Shape> {
    use UnaryOp::*;
    let t = x.dtype;
    let ok = match u {
        Neg | Abs | Sign => t.is_int() || t.is_float(),
        Not => t.is_int() || t.is_bool(),
        PopulationCount => t.is_int(),
        _ => t.is_float(),
    };
    if !ok {
        return Err(format!("operand {x} has an unsupported dtype"));
    }
    Ok(if u == IsFinite {
        x.with_dtype(DType::Bool)
    } else {
        x.clone()
    })
}

fn binary_dtype(b: BinaryOp, t: DType) -> R<()> {
    use BinaryOp::*;
    let ok = match b {
        Add | Sub | Mul | Div | Rem | Pow => t.is_int() || t.is_float(),
        Max | Min => true,
        Atan2 | NextAfter => t.is_float(),
        And | Or | Xor => t.is_int() || t.is_bool(),
        ShiftLeft | ShiftRightLogical | ShiftRightArithmetic => t.is_int(),
    };
    if !ok {
        return Err(format!("dtype {t} is not supported"));
    }
    Ok(())
}

fn bitcast(x: &Shape, to: DType) -> R<Shape> {
    let (a, b) = (x.dtype.size_bytes(), to.size_bytes());
    let mut dims = x.dims.clone();
    if a > b {
        dims.push(a / b);
    } else if a < b {
        if dims.last() != Some(&(b / a)) {
            return Err(format!(
                "operand {x} needs a last dim of {} to become {to}",
                b / a
            ));
        }
        dims.pop();
    }
    Ok(Shape::new(to, dims))
}

/// Output size of one windowed dim (reduce_window and convolution).
fn window_out(
    n: usize,
    (lo, hi): (i64, i64),
    base_dilation: usize,
    window: usize,
    window_dilation: usize,
    stride: usize,
    dim: usize,
) -> R<usize> {
    let dilated = if n == 0 {
        0
    } else {
        (n as i64 - 1) * base_dilation as i64 + 1
    };
    let padded = dilated + lo + hi;
    if padded < 0 {
        return Err(format!(
            "dim {dim}: padding ({lo}, {hi}) makes the size negative"
        ));
    }
    let w = (window as i64 - 1) * window_dilation as i64 + 1;
    Ok(if padded < w {
        0
    } else {
        ((padded - w) / stride as i64 + 1) as usize
    })
}

/// Checks that `id` exists, takes `args` and (if given) returns `results`.
fn check_region<'a>(
    comps: &'a [Computation],
    id: CompId,
    args: &[Shape],
    results: Option<&[Shape]>,
) -> R<&'a Computation> {
    let c = comps.get(id.0).ok_or_else(|| {
        format!(
            "region {} does not exist (or does not precede its user)",
            id.0
        )
    })?;
    if c.params != args {
        return Err(format!(
            "region {} takes ({}) but is given ({})",
            c.name,
            shapes_text(&c.params),
            shapes_text(args)
        ));
    }
    let valid = |v: &Value| matches!(c.instrs.get(v.instr), Some(i) if v.index < i.shapes.len());
    if !c.results.iter().all(valid) {
        return Err(format!("region {} has an invalid result", c.name));
    }
    if let Some(want) = results {
        let got = c.result_shapes();
        if got != want {
            return Err(format!(
                "region {} returns ({}) but must return ({})",
                c.name,
                shapes_text(&got),
                shapes_text(want)
            ));
        }
    }
    Ok(c)
}

fn shapes_text(s: &[Shape]) -> String {
    s.iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn gather(x: &Shape, idx: &Shape, g: &GatherDims, slice_sizes: &[usize]) -> R<Shape> {
    if !idx.dtype.is_int() || idx.rank() == 0 {
        return Err(format!(
            "start indices {idx} must be an integer array of rank >= 1"
        ));
    }
    let r = x.rank();
    if slice_sizes.len() != r {
        return Err(format!("slice_sizes {slice_sizes:?} must have length {r}"));
    }
    let nbatch = idx.rank() - 1;
    let k = idx.dims[nbatch];
    if g.start_index_map.len() != k {
        return Err(format!(
            "start_index_map {:?} must have {k} entries (last dim of {idx})",
            g.start_index_map
        ));
    }
    distinct_in_range(&g.start_index_map, r, "start_index_map")?;
    let mut removed: Vec<usize> = g.collapsed_slice_dims.clone();
    removed.extend(&g.operand_batching_dims);
    distinct_in_range(&removed, r, "collapsed_slice_dims + operand_batching_dims")?;
    if g.start_index_map
        .iter()
        .any(|d| g.operand_batching_dims.contains(d))
    {
        return Err("start_index_map overlaps operand_batching_dims".to_string());
    }
    batching_pairs(
        x,
        idx,
        &g.operand_batching_dims,
        &g.start_indices_batching_dims,
        "operand_batching_dims",
    )?;
    for (i, (&s, &d)) in slice_sizes.iter().zip(&x.dims).enumerate() {
        if s > d {
            return Err(format!("slice size {s} of dim {i} exceeds {x}"));
        }
        if removed.contains(&i) && s != 1 {
            return Err(format!(
                "collapsed/batching dim {i} must have slice size 1, got {s}"
            ));
        }
    }
    let offsets: Vec<usize> = (0..r)
        .filter(|d| !removed.contains(d))
        .map(|d| slice_sizes[d])
        .collect();
    if g.offset_dims.len() != offsets.len() {
        return Err(format!(
            "offset_dims {:?} must have {} entries",
            g.offset_dims,
            offsets.len()
        ));
    }
    let out_rank = nbatch + offsets.len();
    sorted_in_range(&g.offset_dims, out_rank, "offset_dims")?;
    let (mut oi, mut bi) = (0, 0);
    let mut out = Vec::with_capacity(out_rank);
    for d in 0..out_rank {
        if g.offset_dims.contains(&d) {
            out.push(offsets[oi]);
            oi += 1;
        } else {
            out.push(idx.dims[bi]);
            bi += 1;
        }
    }
    Ok(Shape::new(x.dtype, out))
}

fn sorted_in_range(dims: &[usize], rank: usize, what: &str) -> R<()> {
    distinct_in_range(dims, rank, what)?;
    if dims.windows(2).any(|w| w[0] > w[1]) {
        return Err(format!("{what} {dims:?} must be sorted"));
    }
    Ok(())
}

/// Operand batching dims pair with index batching dims (which exclude the index vector dim).
fn batching_pairs(x: &Shape, idx: &Shape, xb: &[usize], ib: &[usize], what: &str) -> R<()> {
    if xb.len() != ib.len() {
        return Err(format!(
            "{what} {xb:?} and index batching dims {ib:?} differ in length"
        ));
    }
    distinct_in_range(ib, idx.rank() - 1, "index batching dims")?;
    for (&a, &b) in xb.iter().zip(ib) {
        if x.dims[a] != idx.dims[b] {
            return Err(format!(
                "batching dim {a} of {x} and dim {b} of {idx} differ in size"
            ));
        }
    }
    Ok(())
}

fn scatter(x: &Shape, idx: &Shape, upd: &Shape, s: &ScatterDims) -> R<()> {
    if !idx.dtype.is_int() || idx.rank() == 0 {
        return Err(format!(
            "scatter indices {idx} must be an integer array of rank >= 1"
        ));
    }
    if upd.dtype != x.dtype {
        return Err(format!("updates {upd} and operand {x} differ in dtype"));
    }
    let r = x.rank();
    let nbatch = idx.rank() - 1;
    let k = idx.dims[nbatch];
    if s.scatter_dims_to_operand_dims.len() != k {
        return Err(format!(
            "scatter_dims_to_operand_dims {:?} must have {k} entries",
            s.scatter_dims_to_operand_dims
        ));
    }
    distinct_in_range(
        &s.scatter_dims_to_operand_dims,
        r,
        "scatter_dims_to_operand_dims",
    )?;
    let mut removed = s.inserted_window_dims.clone();
    removed.extend(&s.input_batching_dims);
    distinct_in_range(&removed, r, "inserted_window_dims + input_batching_dims")?;
    if s.scatter_dims_to_operand_dims
        .iter()
        .any(|d| s.input_batching_dims.contains(d))
    {
        return Err("scatter_dims_to_operand_dims overlaps input_batching_dims".to_string());
    }
    batching_pairs(
        x,
        idx,
        &s.input_batching_dims,
        &s.scatter_indices_batching_dims,
        "input_batching_dims",
    )?;
    sorted_in_range(&s.update_window_dims, upd.rank(), "update_window_dims")?;
    let window_operand_dims: Vec<usize> = (0..r).filter(|d| !removed.contains(d)).collect();
    if s.update_window_dims.len() != window_operand_dims.len() {
        return Err(format!(
            "update_window_dims {:?} must have {} entries",
            s.update_window_dims,
            window_operand_dims.len()
        ));
    }
    for (&u, &o) in s.update_window_dims.iter().zip(&window_operand_dims) {
        if upd.dims[u] > x.dims[o] {
            return Err(format!(
                "updates {upd} window dim {u} exceeds operand {x} dim {o}"
            ));
        }
    }
    let scatter_dims: Vec<usize> = (0..upd.rank())
        .filter(|d| !s.update_window_dims.contains(d))
        .map(|d| upd.dims[d])
        .collect();
    if scatter_dims != idx.dims[..nbatch] {
        return Err(format!(
            "updates {upd} scatter dims {scatter_dims:?} must equal the batch dims of {idx}"
        ));
    }
    Ok(())
}

fn dot(l: &Shape, r: &Shape, d: &DotDims, out: DType) -> R<Shape> {
    if d.lhs_batch.len() != d.rhs_batch.len() || d.lhs_contracting.len() != d.rhs_contracting.len()
    {
        return Err(format!(
            "batch/contracting dims of lhs and rhs differ in number: {d:?}"
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
    distinct_in_range(&lused, l.rank(), "lhs batch + contracting dims")?;
    distinct_in_range(&rused, r.rank(), "rhs batch + contracting dims")?;
    for (&a, &b) in lused.iter().zip(&rused) {
        if l.dims[a] != r.dims[b] {
            return Err(format!(
                "lhs {l} dim {a} and rhs {r} dim {b} differ in size"
            ));
        }
    }
    let mut dims: Vec<usize> = d.lhs_batch.iter().map(|&a| l.dims[a]).collect();
    dims.extend(
        (0..l.rank())
            .filter(|a| !lused.contains(a))
            .map(|a| l.dims[a]),
    );
    dims.extend(
        (0..r.rank())
            .filter(|b| !rused.contains(b))
            .map(|b| r.dims[b]),
    );
    Ok(Shape::new(out, dims))
}

struct ConvParams<'a> {
    window_strides: &'a [usize],
    padding: &'a [(i64, i64)],
    lhs_dilation: &'a [usize],
    rhs_dilation: &'a [usize],
    dims: &'a ConvDims,
    feature_group_count: usize,
    batch_group_count: usize,
}

fn conv(l: &Shape, k: &Shape, c: &ConvParams, out: DType) -> R<Shape> {
    let d = c.dims;
    let n = d.input_spatial.len();
    if l.rank() != n + 2 || k.rank() != n + 2 {
        return Err(format!("lhs {l} and rhs {k} must both have rank {}", n + 2));
    }
    if d.kernel_spatial.len() != n
        || d.output_spatial.len() != n
        || c.window_strides.len() != n
        || c.padding.len() != n
        || c.lhs_dilation.len() != n
        || c.rhs_dilation.len() != n
    {
        return Err(format!(
            "spatial dims, strides, padding and dilations must have length {n}"
        ));
    }
    let mut li = vec![d.input_batch, d.input_feature];
    li.extend(&d.input_spatial);
    let mut ki = vec![d.kernel_output_feature, d.kernel_input_feature];
    ki.extend(&d.kernel_spatial);
    let mut oi = vec![d.output_batch, d.output_feature];
    oi.extend(&d.output_spatial);
    distinct_in_range(&li, n + 2, "input dims")?;
    distinct_in_range(&ki, n + 2, "kernel dims")?;
    distinct_in_range(&oi, n + 2, "output dims")?;
    let (fg, bg) = (c.feature_group_count, c.batch_group_count);
    if fg == 0 || bg == 0 || (fg > 1 && bg > 1) {
        return Err(format!(
            "feature_group_count {fg} and batch_group_count {bg} must be >= 1, not both > 1"
        ));
    }
    let in_f = l.dims[d.input_feature];
    let k_in = k.dims[d.kernel_input_feature];
    let k_out = k.dims[d.kernel_output_feature];
    let batch = l.dims[d.input_batch];
    if in_f != k_in * fg {
        return Err(format!(
            "input features {in_f} must equal kernel input features {k_in} * feature_group_count {fg}"
        ));
    }
    if !k_out.is_multiple_of(fg) || !k_out.is_multiple_of(bg) || !batch.is_multiple_of(bg) {
        return Err(format!(
            "kernel output features {k_out} and batch {batch} must divide by the group counts"
        ));
    }
    let mut dims = vec![0; n + 2];
    dims[d.output_batch] = batch / bg;
    dims[d.output_feature] = k_out;
    for i in 0..n {
        if c.window_strides[i] == 0 || c.lhs_dilation[i] == 0 || c.rhs_dilation[i] == 0 {
            return Err(format!(
                "spatial dim {i}: strides and dilations must be >= 1"
            ));
        }
        dims[d.output_spatial[i]] = window_out(
            l.dims[d.input_spatial[i]],
            c.padding[i],
            c.lhs_dilation[i],
            k.dims[d.kernel_spatial[i]],
            c.rhs_dilation[i],
            c.window_strides[i],
            i,
        )?;
    }
    Ok(Shape::new(out, dims))
}

/// Checks that every instruction's stored shapes equal the inferred ones, that operands
/// refer to earlier instructions, and that regions exist and have fitting signatures.
pub fn verify_module(module: &Module) -> Result<(), String> {
    if module.entry.0 >= module.computations.len() {
        return Err(format!(
            "entry computation {} does not exist",
            module.entry.0
        ));
    }
    for (ci, comp) in module.computations.iter().enumerate() {
        verify_computation(comp, &module.computations[..ci])
            .map_err(|e| format!("computation {} ({}): {e}", ci, comp.name))?;
    }
    Ok(())
}

/// `earlier` are the computations that precede `comp`: the only ones it may use.
fn verify_computation(comp: &Computation, earlier: &[Computation]) -> R<()> {
    let valid =
        |v: &Value, before: usize| v.instr < before && v.index < comp.instrs[v.instr].shapes.len();
    for (i, instr) in comp.instrs.iter().enumerate() {
        for v in &instr.operands {
            if !valid(v, i) {
                return Err(format!(
                    "instruction %{i} ({}): operand %{}.{} is not an earlier result",
                    instr.op.name(),
                    v.instr,
                    v.index
                ));
            }
        }
        for r in instr.op.regions() {
            if r.0 >= earlier.len() {
                return Err(format!(
                    "instruction %{i} ({}): region {} does not exist or does not precede it",
                    instr.op.name(),
                    r.0
                ));
            }
        }
        let shapes: Vec<&Shape> = instr.operands.iter().map(|&v| comp.shape(v)).collect();
        let inferred = infer_shapes(&instr.op, &shapes, &comp.params, earlier)
            .map_err(|e| format!("instruction %{i}: {e}"))?;
        if inferred != instr.shapes {
            return Err(format!(
                "instruction %{i} ({}): stored shapes ({}) but inferred ({})",
                instr.op.name(),
                shapes_text(&instr.shapes),
                shapes_text(&inferred)
            ));
        }
    }
    for v in &comp.results {
        if !valid(v, comp.instrs.len()) {
            return Err(format!("result %{}.{} does not exist", v.instr, v.index));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)] // `&[a.clone()]` reads better in tests
mod tests {
    use super::*;
    use crate::{Builder, Literal};

    fn s(dtype: DType, dims: &[usize]) -> Shape {
        Shape::new(dtype, dims)
    }

    fn inf(op: Op, xs: &[Shape]) -> R<Vec<Shape>> {
        let refs: Vec<&Shape> = xs.iter().collect();
        infer_shapes(&op, &refs, &[], &[])
    }

    fn inf1(op: Op, xs: &[Shape]) -> Shape {
        let mut v = inf(op, xs).unwrap();
        assert_eq!(v.len(), 1);
        v.pop().unwrap()
    }

    fn err(op: Op, xs: &[Shape], needle: &str) {
        let e = inf(op, xs).unwrap_err();
        assert!(e.contains(needle), "error {e:?} lacks {needle:?}");
    }

    const F32: DType = DType::F32;
    const I32: DType = DType::I32;

    #[test]
    fn elementwise() {
        let a = s(F32, &[3]);
        err(
            Op::Binary(BinaryOp::Add),
            &[a.clone(), s(F32, &[4])],
            "add: operand shapes f32[3] and f32[4] differ",
        );
        assert_eq!(inf1(Op::Binary(BinaryOp::Add), &[a.clone(), a.clone()]), a);
        err(Op::Unary(UnaryOp::Exp), &[s(I32, &[2])], "exponential");
        assert_eq!(
            inf1(Op::Unary(UnaryOp::IsFinite), &[a.clone()]),
            s(DType::Bool, &[3])
        );
        assert!(inf(Op::Unary(UnaryOp::Not), &[s(DType::Bool, &[])]).is_ok());
        assert!(inf(Op::Unary(UnaryOp::Not), &[a.clone()]).is_err());
        assert!(inf(Op::Unary(UnaryOp::PopulationCount), &[s(DType::U8, &[])]).is_ok());
        assert!(inf(Op::Binary(BinaryOp::ShiftLeft), &[a.clone(), a.clone()]).is_err());
        assert!(inf(Op::Binary(BinaryOp::Atan2), &[s(I32, &[]), s(I32, &[])]).is_err());
        assert!(inf(Op::Binary(BinaryOp::Pow), &[s(I32, &[]), s(I32, &[])]).is_ok());
        assert!(inf(Op::Binary(BinaryOp::And), &[a.clone(), a.clone()]).is_err());
        let cmp = Op::Compare {
            dir: CmpDir::Lt,
            total_order: true,
        };
        assert_eq!(inf1(cmp, &[a.clone(), a.clone()]), s(DType::Bool, &[3]));
        let b = s(DType::Bool, &[]);
        assert_eq!(inf1(Op::Select, &[b.clone(), a.clone(), a.clone()]), a);
        err(
            Op::Select,
            &[s(DType::Bool, &[2]), a.clone(), a.clone()],
            "predicate",
        );
        assert_eq!(inf1(Op::Clamp, &[s(F32, &[]), a.clone(), a.clone()]), a);
        err(Op::Clamp, &[s(I32, &[]), a.clone(), a.clone()], "bound");
    }

    #[test]
    fn conversions() {
        let a = s(F32, &[2, 3]);
        assert_eq!(
            inf1(Op::Convert { dtype: I32 }, &[a.clone()]),
            s(I32, &[2, 3])
        );
        assert_eq!(
            inf1(Op::BitcastConvert { dtype: DType::U32 }, &[a.clone()]),
            s(DType::U32, &[2, 3])
        );
        assert_eq!(
            inf1(Op::BitcastConvert { dtype: DType::U8 }, &[a.clone()]),
            s(DType::U8, &[2, 3, 4])
        );
        assert_eq!(
            inf1(Op::BitcastConvert { dtype: F32 }, &[s(DType::U8, &[5, 4])]),
            s(F32, &[5])
        );
        err(
            Op::BitcastConvert { dtype: F32 },
            &[s(DType::U8, &[5])],
            "last dim of 4",
        );
    }

    #[test]
    fn structural() {
        let a = s(F32, &[2, 3]);
        let bc = Op::BroadcastInDim {
            out_dims: vec![4, 2, 3],
            broadcast_dims: vec![1, 2],
        };
        assert_eq!(inf1(bc, &[a.clone()]), s(F32, &[4, 2, 3]));
        let bc = Op::BroadcastInDim {
            out_dims: vec![4, 3],
            broadcast_dims: vec![0, 1],
        };
        err(bc, &[a.clone()], "cannot broadcast");
        assert_eq!(
            inf1(Op::Reshape { dims: vec![6] }, &[a.clone()]),
            s(F32, &[6])
        );
        err(
            Op::Reshape { dims: vec![5] },
            &[a.clone()],
            "element counts",
        );
        assert_eq!(
            inf1(Op::Transpose { perm: vec![1, 0] }, &[a.clone()]),
            s(F32, &[3, 2])
        );
        err(Op::Transpose { perm: vec![0, 0] }, &[a.clone()], "repeats");
        err(Op::Reverse { dims: vec![2] }, &[a.clone()], "out of range");
        let sl = Op::Slice {
            start: vec![0, 1],
            limit: vec![2, 3],
            strides: vec![1, 2],
        };
        assert_eq!(inf1(sl, &[a.clone()]), s(F32, &[2, 1]));
        let idx = s(DType::I64, &[]);
        let ds = Op::DynamicSlice { sizes: vec![1, 2] };
        assert_eq!(
            inf1(ds.clone(), &[a.clone(), idx.clone(), idx.clone()]),
            s(F32, &[1, 2])
        );
        err(ds, &[a.clone(), idx.clone(), s(F32, &[])], "integer scalar");
        let upd = s(F32, &[1, 3]);
        assert_eq!(
            inf1(
                Op::DynamicUpdateSlice,
                &[a.clone(), upd, idx.clone(), idx.clone()]
            ),
            a
        );
        let cat = Op::Concatenate { dim: 1 };
        assert_eq!(
            inf1(cat.clone(), &[a.clone(), s(F32, &[2, 5])]),
            s(F32, &[2, 8])
        );
        err(cat, &[a.clone(), s(F32, &[3, 5])], "differ outside dim 1");
        let pad = Op::Pad {
            low: vec![-1, 2],
            high: vec![0, 1],
            interior: vec![0, 2],
        };
        // dim 0: -1 + 0 + 2 = 1; dim 1: 2 + 1 + 3 + 2*2 = 10.
        assert_eq!(inf1(pad, &[a.clone(), s(F32, &[])]), s(F32, &[1, 10]));
        let pad = Op::Pad {
            low: vec![-3, 0],
            high: vec![0, 0],
            interior: vec![0, 0],
        };
        err(pad, &[a.clone(), s(F32, &[])], "negative size");
        assert_eq!(
            inf1(
                Op::Iota {
                    shape: a.clone(),
                    dim: 1
                },
                &[]
            ),
            a
        );
        err(
            Op::Iota {
                shape: a.clone(),
                dim: 2,
            },
            &[],
            "out of range",
        );
        let sorted = inf(Op::TopK { k: 2 }, &[a.clone()]).unwrap();
        assert_eq!(sorted, vec![s(F32, &[2, 2]), s(I32, &[2, 2])]);
        err(Op::TopK { k: 4 }, &[a.clone()], "exceeds");
        assert_eq!(
            inf1(Op::Constant(Literal::scalar(1.5f64)), &[]),
            s(DType::F64, &[])
        );
        let p = [a.clone()];
        assert_eq!(
            infer_shapes(&Op::Parameter { index: 0 }, &[], &p, &[]).unwrap(),
            vec![a.clone()]
        );
        assert!(infer_shapes(&Op::Parameter { index: 1 }, &[], &p, &[]).is_err());
    }

    #[test]
    fn gather_scatter() {
        // x[idx] on a [5, 4] operand with [3, 1] indices -> [3, 4].
        let x = s(F32, &[5, 4]);
        let idx = s(I32, &[3, 1]);
        let dims = GatherDims {
            offset_dims: vec![1],
            collapsed_slice_dims: vec![0],
            start_index_map: vec![0],
            ..Default::default()
        };
        let g = Op::Gather {
            dims: dims.clone(),
            slice_sizes: vec![1, 4],
            indices_are_sorted: false,
        };
        assert_eq!(inf1(g, &[x.clone(), idx.clone()]), s(F32, &[3, 4]));
        let g = Op::Gather {
            dims,
            slice_sizes: vec![2, 4],
            indices_are_sorted: false,
        };
        err(g, &[x.clone(), idx.clone()], "slice size 1");
        // Non-collapsed window, offset dim placed first: [2, 3] output from [3, 1] indices.
        let dims = GatherDims {
            offset_dims: vec![0, 1],
            start_index_map: vec![1],
            ..Default::default()
        };
        let g = Op::Gather {
            dims,
            slice_sizes: vec![2, 2],
            indices_are_sorted: false,
        };
        assert_eq!(inf1(g, &[x.clone(), idx.clone()]), s(F32, &[2, 2, 3]));
        // Batching dims.
        let xb = s(F32, &[3, 5]);
        let dims = GatherDims {
            offset_dims: vec![],
            collapsed_slice_dims: vec![1],
            operand_batching_dims: vec![0],
            start_indices_batching_dims: vec![0],
            start_index_map: vec![1],
        };
        let g = Op::Gather {
            dims,
            slice_sizes: vec![1, 1],
            indices_are_sorted: false,
        };
        assert_eq!(inf1(g, &[xb, idx.clone()]), s(F32, &[3]));

        let mut b = Builder::new("t");
        let add = b.scalar_binary_region(BinaryOp::Add, F32);
        let addi = b.scalar_binary_region(BinaryOp::Add, I32);
        let m = b.finish(&[]);
        let comps = &m.computations[..2];
        let sd = ScatterDims {
            update_window_dims: vec![1],
            inserted_window_dims: vec![0],
            scatter_dims_to_operand_dims: vec![0],
            ..Default::default()
        };
        let sc = |body| Op::Scatter {
            dims: sd.clone(),
            body,
            indices_are_sorted: false,
            unique_indices: false,
        };
        let upd = s(F32, &[3, 4]);
        let ok = infer_shapes(&sc(add), &[&x, &idx, &upd], &[], comps).unwrap();
        assert_eq!(ok, vec![x.clone()]);
        let e = infer_shapes(&sc(addi), &[&x, &idx, &upd], &[], comps).unwrap_err();
        assert!(e.contains("region add takes"), "{e}");
        let e = infer_shapes(&sc(CompId(7)), &[&x, &idx, &upd], &[], comps).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let bad = s(F32, &[2, 4]);
        let e = infer_shapes(&sc(add), &[&x, &idx, &bad], &[], comps).unwrap_err();
        assert!(e.contains("batch dims"), "{e}");
    }

    #[test]
    fn reductions_and_sort() {
        let mut b = Builder::new("t");
        let add = b.scalar_binary_region(BinaryOp::Add, F32);
        let f = Shape::scalar(F32);
        let i = Shape::scalar(I32);
        let argmax = b.region(
            "argmax",
            &[f.clone(), i.clone(), f.clone(), i.clone()],
            |b, p| {
                let gt = b.compare(CmpDir::Gt, p[0], p[2]);
                vec![b.select(gt, p[0], p[2]), b.select(gt, p[1], p[3])]
            },
        );
        let less = b.region(
            "less",
            &[f.clone(), f.clone(), i.clone(), i.clone()],
            |b, p| vec![b.compare(CmpDir::Lt, p[0], p[1])],
        );
        let m = b.finish(&[]);
        let c = &m.computations[..3];
        let x = s(F32, &[2, 3, 4]);
        let xi = s(I32, &[2, 3, 4]);
        let r = Op::Reduce {
            dims: vec![1],
            body: add,
        };
        assert_eq!(
            infer_shapes(&r, &[&x, &f], &[], c).unwrap(),
            vec![s(F32, &[2, 4])]
        );
        assert!(infer_shapes(&r, &[&x, &i], &[], c).is_err());
        let r = Op::Reduce {
            dims: vec![0, 2],
            body: argmax,
        };
        let out = infer_shapes(&r, &[&x, &xi, &f, &i], &[], c).unwrap();
        assert_eq!(out, vec![s(F32, &[3]), s(I32, &[3])]);
        // Body signature mismatch: argmax as a single-input body.
        assert!(infer_shapes(
            &Op::Reduce {
                dims: vec![0],
                body: argmax
            },
            &[&x, &f],
            &[],
            c
        )
        .is_err());

        let rw = Op::ReduceWindow {
            window: vec![1, 2, 3],
            strides: vec![1, 2, 1],
            base_dilation: vec![1, 1, 2],
            window_dilation: vec![1, 1, 2],
            padding: vec![(0, 0), (1, 0), (1, 1)],
            body: add,
        };
        // dim 1: padded 4, window 2, stride 2 -> 2; dim 2: dilated 7 + 2 = 9, window 5 -> 5.
        assert_eq!(
            infer_shapes(&rw, &[&x, &f], &[], c).unwrap(),
            vec![s(F32, &[2, 2, 5])]
        );

        let so = Op::Sort {
            dim: 2,
            is_stable: true,
            body: less,
        };
        assert_eq!(
            infer_shapes(&so, &[&x, &xi], &[], c).unwrap(),
            vec![x.clone(), xi.clone()]
        );
        assert!(infer_shapes(&so, &[&x], &[], c).is_err());
    }

    #[test]
    fn dot_and_conv() {
        let dims = DotDims {
            lhs_batch: vec![0],
            rhs_batch: vec![0],
            lhs_contracting: vec![2],
            rhs_contracting: vec![1],
        };
        let d = Op::DotGeneral {
            dims: dims.clone(),
            out_dtype: F32,
        };
        let out = inf1(
            d.clone(),
            &[s(DType::BF16, &[2, 3, 4]), s(DType::BF16, &[2, 4, 5])],
        );
        assert_eq!(out, s(F32, &[2, 3, 5]));
        err(
            d,
            &[s(F32, &[2, 3, 4]), s(F32, &[2, 5, 5])],
            "differ in size",
        );

        // NCHW / OIHW with feature groups, strides, padding and dilations.
        let cd = ConvDims {
            input_batch: 0,
            input_feature: 1,
            input_spatial: vec![2, 3],
            kernel_output_feature: 0,
            kernel_input_feature: 1,
            kernel_spatial: vec![2, 3],
            output_batch: 0,
            output_feature: 1,
            output_spatial: vec![2, 3],
        };
        let conv = |fg, bg| Op::Convolution {
            window_strides: vec![2, 1],
            padding: vec![(1, 1), (0, -1)],
            lhs_dilation: vec![1, 2],
            rhs_dilation: vec![2, 1],
            dims: cd.clone(),
            feature_group_count: fg,
            batch_group_count: bg,
            out_dtype: F32,
        };
        // H: padded 9, window 5, stride 2 -> 3. W: dilated 9 - 1 = 8, window 2 -> 7.
        let out = inf1(conv(2, 1), &[s(F32, &[2, 4, 7, 5]), s(F32, &[6, 2, 3, 2])]);
        assert_eq!(out, s(F32, &[2, 6, 3, 7]));
        err(
            conv(3, 1),
            &[s(F32, &[2, 4, 7, 5]), s(F32, &[6, 2, 3, 2])],
            "feature_group_count",
        );
        let out = inf1(conv(1, 2), &[s(F32, &[4, 2, 7, 5]), s(F32, &[6, 2, 3, 2])]);
        assert_eq!(out, s(F32, &[2, 6, 3, 7]));
    }

    #[test]
    fn control_flow() {
        let mut b = Builder::new("t");
        let i = Shape::scalar(I32);
        let cond = b.region("cond", &[i.clone()], |b, p| {
            let ten = b.constant_i128(I32, 10);
            vec![b.compare(CmpDir::Lt, p[0], ten)]
        });
        let body = b.region("body", &[i.clone()], |b, p| {
            let one = b.constant_i128(I32, 1);
            vec![b.binary(BinaryOp::Add, p[0], one)]
        });
        let m = b.finish(&[]);
        let c = &m.computations[..2];
        let w = Op::While { cond, body };
        assert_eq!(infer_shapes(&w, &[&i], &[], c).unwrap(), vec![i.clone()]);
        let f = Shape::scalar(F32);
        assert!(infer_shapes(&w, &[&f], &[], c).is_err());
        assert!(infer_shapes(&Op::While { cond: body, body }, &[&i], &[], c).is_err());
        let cnd = Op::Conditional {
            branches: vec![body, body, body],
        };
        assert_eq!(
            infer_shapes(&cnd, &[&i, &i], &[], c).unwrap(),
            vec![i.clone()]
        );
        let pred = Shape::scalar(DType::Bool);
        assert!(infer_shapes(&cnd, &[&pred, &i], &[], c).is_err());
        assert_eq!(
            infer_shapes(&Op::Call { comp: body }, &[&i], &[], c).unwrap(),
            vec![i.clone()]
        );
    }

    fn small_module() -> Module {
        let mut b = Builder::new("m");
        let x = b.parameter(s(F32, &[3]));
        let add = b.scalar_binary_region(BinaryOp::Add, F32);
        let zero = b.constant_f64(F32, 0.0);
        let y = b.binary(BinaryOp::Mul, x, x);
        let r = b.reduce(&[y], &[zero], &[0], add);
        b.finish(&[r[0], y])
    }

    #[test]
    fn verify_accepts_built_modules() {
        verify_module(&small_module()).unwrap();
    }

    #[test]
    fn verify_rejects_broken_modules() {
        let check = |m: Module, needle: &str| {
            let e = verify_module(&m).unwrap_err();
            assert!(e.contains(needle), "error {e:?} lacks {needle:?}");
        };
        let mut m = small_module();
        let entry = m.entry.0;
        m.computations[entry].instrs[3].shapes[0] = s(F32, &[4]);
        check(m, "stored shapes");

        let mut m = small_module();
        m.computations[entry].instrs[2].operands[0] = Value { instr: 3, index: 0 };
        check(m, "not an earlier result");

        let mut m = small_module();
        m.computations[entry].instrs[2].operands[0] = Value { instr: 0, index: 1 };
        check(m, "not an earlier result");

        let mut m = small_module();
        m.computations[entry].results[0] = Value { instr: 9, index: 0 };
        check(m, "result %9.0");

        // The region must precede its user.
        let mut m = small_module();
        m.computations.swap(0, 1);
        m.entry = CompId(0);
        check(m, "does not precede");

        let mut m = small_module();
        m.entry = CompId(5);
        check(m, "entry");
    }
}
