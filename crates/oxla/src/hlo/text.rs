//! The HLO text printer: XLA-like, one instruction per line, regions first.
//!
//! ```text
//! HloModule axpy
//!
//! ENTRY main {
//!   %0 = f32[3] parameter(0)
//!   %1 = f32[] constant(2)
//!   %2 = f32[3] broadcast_in_dim(%1), dimensions={}
//!   %3 = f32[3] multiply(%2, %0)
//!   ROOT (%3)
//! }
//! ```

use super::ir::*;
use crate::{with_data, Literal};
use std::fmt::{self, Write};

/// The module as human-readable HLO text.
pub fn module_to_text(module: &Module) -> String {
    let mut out = format!("HloModule {}\n", module.name);
    for (i, comp) in module.computations.iter().enumerate() {
        out.push('\n');
        let id = CompId(i);
        if id == module.entry {
            out.push_str("ENTRY ");
        }
        write_computation(&mut out, module, id, comp);
    }
    out
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&module_to_text(self))
    }
}

/// How a computation is referred to: the entry by its name, regions as `name.id`
/// (region names repeat, e.g. several `add` bodies).
fn comp_name(module: &Module, id: CompId) -> String {
    match module.computations.get(id.0) {
        Some(c) if id == module.entry => c.name.clone(),
        Some(c) => format!("{}.{}", c.name, id.0),
        None => format!("<missing computation {}>", id.0),
    }
}

fn write_computation(out: &mut String, module: &Module, id: CompId, comp: &Computation) {
    let _ = writeln!(out, "{} {{", comp_name(module, id));
    let value = |v: &Value| {
        let single = comp
            .instrs
            .get(v.instr)
            .is_some_and(|i| i.shapes.len() == 1);
        if single {
            format!("%{}", v.instr)
        } else {
            format!("%{}.{}", v.instr, v.index)
        }
    };
    for (i, instr) in comp.instrs.iter().enumerate() {
        let shape = match instr.shapes.as_slice() {
            [s] => s.to_string(),
            many => format!(
                "({})",
                many.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let operands: Vec<String> = instr.operands.iter().map(value).collect();
        let inner = match &instr.op {
            Op::Parameter { index } => index.to_string(),
            Op::Constant(lit) => literal_text(lit),
            _ => operands.join(", "),
        };
        let attrs = attributes(module, comp, instr);
        let _ = write!(out, "  %{i} = {shape} {}({inner})", instr.op.name());
        if !attrs.is_empty() {
            let _ = write!(out, ", {}", attrs.join(", "));
        }
        out.push('\n');
    }
    let results: Vec<String> = comp.results.iter().map(value).collect();
    let _ = writeln!(out, "  ROOT ({})\n}}", results.join(", "));
}

/// Up to 16 elements, then `...`.
fn literal_text(lit: &Literal) -> String {
    const MAX: usize = 16;
    let items: Vec<String> =
        with_data!(lit.data(), v => v.iter().take(MAX).map(|x| format!("{x:?}")).collect());
    let more = if lit.num_elements() > MAX {
        ", ..."
    } else {
        ""
    };
    if lit.dims().is_empty() {
        items.join("")
    } else {
        format!("{{{}{more}}}", items.join(", "))
    }
}

fn list(v: &[usize]) -> String {
    let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("{{{}}}", s.join(","))
}

fn joined<T: fmt::Display>(v: &[T], sep: &str) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

/// XLA's window attribute: `size=2x2 stride=1x1 pad=0_0x1_1 lhs_dilate=1x1 rhs_dilate=1x1`.
fn window(
    size: &[usize],
    stride: &[usize],
    pad: &[(i64, i64)],
    lhs: &[usize],
    rhs: &[usize],
) -> String {
    let pads: Vec<String> = pad.iter().map(|(l, h)| format!("{l}_{h}")).collect();
    format!(
        "window={{size={} stride={} pad={} lhs_dilate={} rhs_dilate={}}}",
        joined(size, "x"),
        joined(stride, "x"),
        pads.join("x"),
        joined(lhs, "x"),
        joined(rhs, "x")
    )
}

/// XLA's `dim_labels=b01f_01io->b01f`.
fn dim_labels(d: &ConvDims) -> String {
    let labels = |a: usize, a_ch: char, b: usize, b_ch: char, spatial: &[usize]| {
        let mut s = vec!['?'; spatial.len() + 2];
        if let Some(c) = s.get_mut(a) {
            *c = a_ch;
        }
        if let Some(c) = s.get_mut(b) {
            *c = b_ch;
        }
        for (i, &p) in spatial.iter().enumerate() {
            if let Some(c) = s.get_mut(p) {
                *c = char::from_digit(i as u32 % 10, 10).unwrap_or('?');
            }
        }
        s.into_iter().collect::<String>()
    };
    format!(
        "dim_labels={}_{}->{}",
        labels(d.input_batch, 'b', d.input_feature, 'f', &d.input_spatial),
        labels(
            d.kernel_input_feature,
            'i',
            d.kernel_output_feature,
            'o',
            &d.kernel_spatial
        ),
        labels(
            d.output_batch,
            'b',
            d.output_feature,
            'f',
            &d.output_spatial
        )
    )
}

fn attributes(module: &Module, comp: &Computation, instr: &Instr) -> Vec<String> {
    let op = &instr.op;
    let name = |id: &CompId| comp_name(module, *id);
    let mut a = Vec::new();
    match op {
        Op::Iota { dim, .. } => a.push(format!("iota_dimension={dim}")),
        Op::Compare { dir, total_order } => {
            a.push(format!("direction={}", dir.name()));
            if *total_order {
                a.push("type=TOTALORDER".to_string());
            }
        }
        Op::BroadcastInDim { broadcast_dims, .. } => {
            a.push(format!("dimensions={}", list(broadcast_dims)))
        }
        Op::Transpose { perm } => a.push(format!("dimensions={}", list(perm))),
        Op::Reverse { dims } => a.push(format!("dimensions={}", list(dims))),
        Op::Slice {
            start,
            limit,
            strides,
        } => {
            let parts: Vec<String> = (0..start.len())
                .map(|i| format!("[{}:{}:{}]", start[i], limit[i], strides[i]))
                .collect();
            a.push(format!("slice={{{}}}", parts.join(", ")));
        }
        Op::DynamicSlice { sizes } => a.push(format!("dynamic_slice_sizes={}", list(sizes))),
        Op::Concatenate { dim } => a.push(format!("dimensions={{{dim}}}")),
        Op::Pad {
            low,
            high,
            interior,
        } => {
            let parts: Vec<String> = (0..low.len())
                .map(|i| format!("{}_{}_{}", low[i], high[i], interior[i]))
                .collect();
            a.push(format!("padding={}", parts.join("x")));
        }
        Op::Gather {
            dims,
            slice_sizes,
            indices_are_sorted,
        } => {
            a.push(format!("offset_dims={}", list(&dims.offset_dims)));
            a.push(format!(
                "collapsed_slice_dims={}",
                list(&dims.collapsed_slice_dims)
            ));
            if !dims.operand_batching_dims.is_empty() {
                a.push(format!(
                    "operand_batching_dims={}",
                    list(&dims.operand_batching_dims)
                ));
                a.push(format!(
                    "start_indices_batching_dims={}",
                    list(&dims.start_indices_batching_dims)
                ));
            }
            a.push(format!("start_index_map={}", list(&dims.start_index_map)));
            a.push(format!("slice_sizes={}", list(slice_sizes)));
            if *indices_are_sorted {
                a.push("indices_are_sorted=true".to_string());
            }
        }
        Op::Scatter {
            dims,
            body,
            indices_are_sorted,
            unique_indices,
        } => {
            a.push(format!(
                "update_window_dims={}",
                list(&dims.update_window_dims)
            ));
            a.push(format!(
                "inserted_window_dims={}",
                list(&dims.inserted_window_dims)
            ));
            if !dims.input_batching_dims.is_empty() {
                a.push(format!(
                    "input_batching_dims={}",
                    list(&dims.input_batching_dims)
                ));
                a.push(format!(
                    "scatter_indices_batching_dims={}",
                    list(&dims.scatter_indices_batching_dims)
                ));
            }
            a.push(format!(
                "scatter_dims_to_operand_dims={}",
                list(&dims.scatter_dims_to_operand_dims)
            ));
            if *indices_are_sorted {
                a.push("indices_are_sorted=true".to_string());
            }
            if *unique_indices {
                a.push("unique_indices=true".to_string());
            }
            a.push(format!("to_apply={}", name(body)));
        }
        Op::Reduce { dims, body } => {
            a.push(format!("dimensions={}", list(dims)));
            a.push(format!("to_apply={}", name(body)));
        }
        Op::ReduceWindow {
            window: size,
            strides,
            base_dilation,
            window_dilation,
            padding,
            body,
        } => {
            a.push(window(
                size,
                strides,
                padding,
                base_dilation,
                window_dilation,
            ));
            a.push(format!("to_apply={}", name(body)));
        }
        Op::Sort {
            dim,
            is_stable,
            body,
        } => {
            a.push(format!("dimensions={{{dim}}}"));
            if *is_stable {
                a.push("is_stable=true".to_string());
            }
            a.push(format!("to_apply={}", name(body)));
        }
        Op::TopK { k } => a.push(format!("k={k}")),
        Op::DotGeneral { dims, .. } => {
            a.push(format!("lhs_batch_dims={}", list(&dims.lhs_batch)));
            a.push(format!(
                "lhs_contracting_dims={}",
                list(&dims.lhs_contracting)
            ));
            a.push(format!("rhs_batch_dims={}", list(&dims.rhs_batch)));
            a.push(format!(
                "rhs_contracting_dims={}",
                list(&dims.rhs_contracting)
            ));
        }
        Op::Convolution {
            window_strides,
            padding,
            lhs_dilation,
            rhs_dilation,
            dims,
            feature_group_count,
            batch_group_count,
            ..
        } => {
            // The window size is the kernel's spatial extent.
            let kernel = comp
                .instrs
                .get(instr.operands[1].instr)
                .map(|k| &k.shapes[instr.operands[1].index]);
            let sizes: Vec<usize> = dims
                .kernel_spatial
                .iter()
                .map(|&d| kernel.map_or(0, |k| k.dims[d]))
                .collect();
            a.push(window(
                &sizes,
                window_strides,
                padding,
                lhs_dilation,
                rhs_dilation,
            ));
            a.push(dim_labels(dims));
            if *feature_group_count != 1 {
                a.push(format!("feature_group_count={feature_group_count}"));
            }
            if *batch_group_count != 1 {
                a.push(format!("batch_group_count={batch_group_count}"));
            }
        }
        Op::ReducePrecision {
            exponent_bits,
            mantissa_bits,
        } => {
            a.push(format!("exponent_bits={exponent_bits}"));
            a.push(format!("mantissa_bits={mantissa_bits}"));
        }
        Op::Call { comp } => a.push(format!("to_apply={}", name(comp))),
        Op::Fusion { comp, kind } => {
            a.push(format!("kind={}", kind.name()));
            a.push(format!("calls={}", name(comp)));
        }
        Op::While { cond, body } => {
            a.push(format!("condition={}", name(cond)));
            a.push(format!("body={}", name(body)));
        }
        Op::Conditional { branches } => {
            let names: Vec<String> = branches.iter().map(name).collect();
            a.push(format!("branch_computations={{{}}}", names.join(", ")));
        }
        Op::HostCallback { id, .. } => {
            a.push(format!("callback_id={id}"));
            a.push("has_side_effect=true".to_string());
        }
        Op::Parameter { .. }
        | Op::Constant(_)
        | Op::Unary(_)
        | Op::Binary(_)
        | Op::Select
        | Op::Clamp
        | Op::Convert { .. }
        | Op::BitcastConvert { .. }
        | Op::Reshape { .. }
        | Op::DynamicUpdateSlice => {}
    }
    a
}
