//! A simple cost model, like XLA's `cost_analysis`: floating-point operations,
//! transcendental operations and bytes accessed, summed over the entry computation
//! (loop bodies count once: the trip count is not known statically).

use super::ir::*;
use crate::Shape;

/// The estimated cost of running a module once.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cost {
    /// Arithmetic operations (a multiply-add counts as 2).
    pub flops: f64,
    /// Transcendental operations (exp, log, sin, ...).
    pub transcendentals: f64,
    /// Bytes read by every instruction plus bytes written.
    pub bytes_accessed: f64,
}

fn elems(s: &Shape) -> f64 {
    s.num_elements() as f64
}

fn is_transcendental(op: UnaryOp) -> bool {
    op.is_approximated() || op == UnaryOp::Sqrt
}

/// The cost of the module's entry computation (including called regions once).
pub fn cost_analysis(module: &Module) -> Cost {
    let mut cost = Cost::default();
    add_computation(module, module.entry, &mut cost, 0);
    cost
}

fn add_computation(module: &Module, id: CompId, cost: &mut Cost, depth: usize) {
    let comp = module.computation(id);
    for instr in &comp.instrs {
        let out: f64 = instr.shapes.iter().map(elems).sum();
        let operand_bytes: f64 = instr
            .operands
            .iter()
            .map(|&v| comp.shape(v).size_bytes() as f64)
            .sum();
        let out_bytes: f64 = instr.shapes.iter().map(|s| s.size_bytes() as f64).sum();
        if !matches!(instr.op, Op::Parameter { .. } | Op::Constant(_)) {
            cost.bytes_accessed += operand_bytes + out_bytes;
        }
        match &instr.op {
            Op::Unary(u) if is_transcendental(*u) => cost.transcendentals += out,
            Op::Unary(_) | Op::Binary(_) | Op::Compare { .. } | Op::Select | Op::Clamp => {
                cost.flops += out
            }
            Op::Reduce { .. } | Op::ReduceWindow { .. } => {
                let input: f64 = instr
                    .operands
                    .iter()
                    .take(instr.shapes.len())
                    .map(|&v| elems(comp.shape(v)))
                    .sum();
                cost.flops += input;
            }
            Op::DotGeneral { dims, .. } => {
                let lhs = comp.shape(instr.operands[0]);
                let k: f64 = dims
                    .lhs_contracting
                    .iter()
                    .map(|&d| lhs.dims[d] as f64)
                    .product();
                cost.flops += 2.0 * out * k;
            }
            Op::Convolution {
                dims,
                feature_group_count,
                ..
            } => {
                let rhs = comp.shape(instr.operands[1]);
                let window: f64 = dims
                    .kernel_spatial
                    .iter()
                    .map(|&d| rhs.dims[d] as f64)
                    .product();
                let in_features = rhs.dims[dims.kernel_input_feature] as f64;
                let _ = feature_group_count;
                cost.flops += 2.0 * out * window * in_features;
            }
            _ => {}
        }
        // Regions (reduce bodies are per element and already counted; control flow
        // bodies run at least once).
        if matches!(
            instr.op,
            Op::While { .. } | Op::Conditional { .. } | Op::Call { .. } | Op::Fusion { .. }
        ) && depth < 16
        {
            for r in instr.op.regions() {
                add_computation(module, r, cost, depth + 1);
            }
        }
    }
}
