//! Matrix-vector products as a multiply and a reduce, for the CPU backend.
//!
//! A dot_general with one operand made only of contracted dims (a vector, or a
//! block of them) does one multiply-add per element of the other operand: it is
//! bound by reading that operand. `gemm` runs such a product on one thread (it is
//! far below the split threshold) and the fusion pass cannot see into it. As
//! `reduce(x * broadcast(v))` it becomes a row (or column) reduction that runs on
//! every core and fuses with its producers and consumers: a per-example gradient's
//! `f(x·w) * x` reads `x` once, in one row kernel.
//!
//! The sum's order changes (lanes of the row fold instead of gemm's), as between
//! any two GEMM kernels, and subnormals are kept, as in the interpreter.
//! Backend-specific: the interpreter runs the dot as written.

use crate::hlo::ir::{BinaryOp, CompId, Computation, DotDims, Instr, Module, Op, Value};
use crate::passes::rewrite::{map_regions, replace_instrs, Rewriter};
use crate::passes::Pass;
use crate::{DType, Error, Literal, Shape};

/// The pass (see the module docs).
pub struct GemvAsReduce;

impl Pass for GemvAsReduce {
    fn name(&self) -> &'static str {
        "gemv_as_reduce"
    }

    fn run(&self, module: &mut Module) -> Result<bool, Error> {
        // The add regions the reduces need, one per dtype, go first: a region
        // must precede the computations that use it.
        let mut dtypes: Vec<DType> = Vec::new();
        for comp in &module.computations {
            for instr in &comp.instrs {
                if vector_side(comp, instr).is_some() {
                    let d = instr.shapes[0].dtype;
                    if !dtypes.contains(&d) {
                        dtypes.push(d);
                    }
                }
            }
        }
        if dtypes.is_empty() {
            return Ok(false);
        }
        prepend_add_regions(module, &dtypes);
        let region = |d: DType| CompId(dtypes.iter().position(|&x| x == d).expect("a region"));
        let mut changed = false;
        for c in 0..module.computations.len() {
            let comp = &module.computations[c];
            let any = comp.instrs.iter().any(|i| vector_side(comp, i).is_some());
            if !any {
                continue;
            }
            let comp = &module.computations[c];
            let rebuilt = replace_instrs(comp, |r, instr| {
                let side = vector_side(comp, instr)?;
                let body = region(instr.shapes[0].dtype);
                Some(vec![rewrite(r, comp, instr, side, body)])
            });
            module.computations[c] = rebuilt;
            changed = true;
        }
        Ok(changed)
    }
}

/// Which operand of a dot is the vector (0: lhs, 1: rhs), when the dot qualifies:
/// f32/f64 throughout, no batch dims, one operand made only of contracted dims and
/// the other of more than that, with at least [`MIN_MATRIX_ELEMENTS`] elements.
fn vector_side(comp: &Computation, instr: &Instr) -> Option<usize> {
    let Op::DotGeneral { dims, out_dtype } = &instr.op else {
        return None;
    };
    let (l, r) = (comp.shape(instr.operands[0]), comp.shape(instr.operands[1]));
    if !matches!(out_dtype, DType::F32 | DType::F64)
        || l.dtype != *out_dtype
        || r.dtype != *out_dtype
        || !dims.lhs_batch.is_empty()
    {
        return None;
    }
    let k = dims.lhs_contracting.len();
    let side = match (l.rank() == k, r.rank() == k) {
        (false, true) => 1,
        (true, false) => 0,
        _ => return None,
    };
    let matrix = if side == 1 { l } else { r };
    (matrix.num_elements() >= MIN_MATRIX_ELEMENTS).then_some(side)
}

/// Smaller products stay with gemm: a [100,100]·[100] takes 1.6 µs there and
/// ~20 µs as a reduce kernel (the Hessian workload's step went from 0.05-0.075 to
/// 0.086-0.096 ms when they were rewritten too).
const MIN_MATRIX_ELEMENTS: usize = 1 << 16;

/// `reduce(matrix * broadcast(vector), contracted dims)` for the dot `instr`.
fn rewrite(
    r: &mut Rewriter,
    comp: &Computation,
    instr: &Instr,
    side: usize,
    body: CompId,
) -> Value {
    let Op::DotGeneral { dims, out_dtype } = &instr.op else {
        unreachable!("vector_side accepts dots only")
    };
    let d = *out_dtype;
    let DotDims {
        lhs_contracting,
        rhs_contracting,
        ..
    } = dims;
    let (m_contract, v_contract) = if side == 1 {
        (lhs_contracting, rhs_contracting)
    } else {
        (rhs_contracting, lhs_contracting)
    };
    let matrix = r.map(instr.operands[1 - side]);
    let vector = r.map(instr.operands[side]);
    let m_shape = comp.shape(instr.operands[1 - side]).clone();
    // Vector dim v_contract[j] pairs with matrix dim m_contract[j].
    let vector_rank = comp.shape(instr.operands[side]).rank();
    let broadcast_dims: Vec<usize> = (0..vector_rank)
        .map(|vd| {
            let j = v_contract
                .iter()
                .position(|&x| x == vd)
                .expect("every vector dim is contracted");
            m_contract[j]
        })
        .collect();
    let spread = r.push1(
        Op::BroadcastInDim {
            out_dims: m_shape.dims.clone(),
            broadcast_dims,
        },
        vec![vector],
        m_shape.clone(),
    );
    // The dot's products are lhs·rhs; a product's bits do not depend on the order.
    let product = r.push1(
        Op::Binary(BinaryOp::Mul),
        vec![matrix, spread],
        m_shape.clone(),
    );
    let zero = r.push1(
        Op::Constant(Literal::scalar_f64(d, 0.0)),
        vec![],
        Shape::new(d, []),
    );
    let mut reduced: Vec<usize> = m_contract.clone();
    reduced.sort_unstable();
    r.push1(
        Op::Reduce {
            dims: reduced,
            body,
        },
        vec![product, zero],
        instr.shapes[0].clone(),
    )
}

/// Puts an `add` region over scalars of each of `dtypes` first in the module (in
/// that order), shifting every other computation's id.
fn prepend_add_regions(module: &mut Module, dtypes: &[DType]) {
    let n = dtypes.len();
    for comp in &mut module.computations {
        for instr in &mut comp.instrs {
            map_regions(&mut instr.op, |c| CompId(c.0 + n));
        }
    }
    module.entry = CompId(module.entry.0 + n);
    let regions = dtypes.iter().map(|&d| add_region(d));
    module.computations.splice(0..0, regions);
}

/// An `add` region over scalars of `d`.
fn add_region(d: DType) -> Computation {
    let scalar = Shape::new(d, []);
    let param = |index| Instr {
        op: Op::Parameter { index },
        operands: vec![],
        shapes: vec![scalar.clone()],
    };
    let v = |instr| Value { instr, index: 0 };
    Computation {
        name: "gemv_add".into(),
        params: vec![scalar.clone(), scalar.clone()],
        instrs: vec![
            param(0),
            param(1),
            Instr {
                op: Op::Binary(BinaryOp::Add),
                operands: vec![v(0), v(1)],
                shapes: vec![scalar.clone()],
            },
        ],
        results: vec![v(2)],
    }
}
