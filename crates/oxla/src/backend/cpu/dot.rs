//! dot_general on f32/f64 through the `gemm` crate.
//!
//! A dot is run as a loop over its batch dims of one GEMM each, with the free and
//! contracting dims of each operand merged into one dim when they are adjacent in
//! memory; other layouts (and other dtypes) fall back to the interpreter.

use super::threads;
use crate::hlo::ir::*;
use crate::{DType, Literal, Shape};

/// Flops of one GEMM above which it is split across the backend's threads.
const PARALLEL_FLOPS: usize = 1 << 24;

/// A merged group of dims: its total size and the stride of its innermost dim.
#[derive(Clone, Copy, Debug)]
struct Group {
    size: usize,
    stride: usize,
}

/// Merges `dims` (in the given order) of an operand with `shape` into one group,
/// if they are consecutive and in order.
fn group(shape: &[usize], dims: &[usize]) -> Option<Group> {
    if dims.is_empty() {
        return Some(Group { size: 1, stride: 1 });
    }
    for w in dims.windows(2) {
        if w[1] != w[0] + 1 {
            return None;
        }
    }
    let strides = crate::strides_of(shape);
    Some(Group {
        size: dims.iter().map(|&d| shape[d]).product(),
        stride: strides[*dims.last().expect("non-empty")],
    })
}

/// The plan of one dot_general.
pub struct DotPlan {
    dtype: DType,
    batch: Vec<usize>,
    lhs_batch_strides: Vec<usize>,
    rhs_batch_strides: Vec<usize>,
    m: Group,
    n: Group,
    k_lhs: Group,
    k_rhs: Group,
}

impl DotPlan {
    /// A plan for `instr` when the gemm path applies.
    pub fn new(comp: &Computation, instr: &Instr) -> Option<DotPlan> {
        let Op::DotGeneral { dims, out_dtype } = &instr.op else {
            return None;
        };
        let lhs = comp.shape(instr.operands[0]);
        let rhs = comp.shape(instr.operands[1]);
        if !matches!(lhs.dtype, DType::F32 | DType::F64)
            || lhs.dtype != *out_dtype
            || rhs.dtype != lhs.dtype
        {
            return None;
        }
        let free = |rank: usize, batch: &[usize], contract: &[usize]| -> Vec<usize> {
            (0..rank)
                .filter(|d| !batch.contains(d) && !contract.contains(d))
                .collect()
        };
        let lf = free(lhs.rank(), &dims.lhs_batch, &dims.lhs_contracting);
        let rf = free(rhs.rank(), &dims.rhs_batch, &dims.rhs_contracting);
        let m = group(&lhs.dims, &lf)?;
        let n = group(&rhs.dims, &rf)?;
        let k_lhs = group(&lhs.dims, &dims.lhs_contracting)?;
        let k_rhs = group(&rhs.dims, &dims.rhs_contracting)?;
        let ls = crate::strides_of(&lhs.dims);
        let rs = crate::strides_of(&rhs.dims);
        Some(DotPlan {
            dtype: lhs.dtype,
            batch: dims.lhs_batch.iter().map(|&d| lhs.dims[d]).collect(),
            lhs_batch_strides: dims.lhs_batch.iter().map(|&d| ls[d]).collect(),
            rhs_batch_strides: dims.rhs_batch.iter().map(|&d| rs[d]).collect(),
            m,
            n,
            k_lhs,
            k_rhs,
        })
    }

    pub fn run(&self, lhs: &Literal, rhs: &Literal, out: &Shape) -> Literal {
        let mut result = Literal::zeros(out.clone());
        match self.dtype {
            DType::F32 => self.run_typed::<f32>(lhs, rhs, &mut result),
            _ => self.run_typed::<f64>(lhs, rhs, &mut result),
        }
        result
    }

    fn run_typed<T: crate::NativeType + Default>(
        &self,
        lhs: &Literal,
        rhs: &Literal,
        out: &mut Literal,
    ) {
        let (m, n, k) = (self.m.size, self.n.size, self.k_lhs.size);
        // Addresses, so that the work can move to a pool thread.
        let lp = lhs.data().as_ptr() as usize;
        let rp = rhs.data().as_ptr() as usize;
        let op = out.data_mut().as_mut_ptr() as usize;
        let flops = 2 * m * n * k;
        // Splitting pays off once one thread would take ~100 µs: below that, waking
        // the other threads costs more than it saves (small RNN-step GEMMs).
        let parallel = flops >= PARALLEL_FLOPS;
        let parallelism = if parallel {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        };
        // GEMMs flush subnormals, as XLA's CPU backend does (see `threads`); split
        // ones run on the backend's pool, whose threads are in flush mode.
        let run = || {
            threads::with_mode(threads::Mode::Flush, || {
                self.run_batches(
                    lp as *const T,
                    rp as *const T,
                    op as *mut T,
                    (m, n, k),
                    parallelism,
                )
            })
        };
        if parallel {
            threads::pool().install(run);
        } else {
            run();
        }
    }

    fn run_batches<T: crate::NativeType + Default>(
        &self,
        lp: *const T,
        rp: *const T,
        op: *mut T,
        (m, n, k): (usize, usize, usize),
        parallelism: gemm::Parallelism,
    ) {
        let batches: usize = self.batch.iter().product();
        let bstrides = crate::strides_of(&self.batch);
        let offsets = |b: usize| {
            let (mut lo, mut ro) = (0usize, 0usize);
            for (i, &s) in bstrides.iter().enumerate() {
                let bi = (b / s) % self.batch[i];
                lo += bi * self.lhs_batch_strides[i];
                ro += bi * self.rhs_batch_strides[i];
            }
            (lo, ro)
        };
        for b in 0..batches {
            let (lo, ro) = offsets(b);
            let oo = b * m * n;
            if k == 0 {
                continue;
            }
            let (l, l_cs, l_rs) = (lp.wrapping_add(lo), self.k_lhs.stride, self.m.stride);
            let (r, r_cs, r_rs) = (rp.wrapping_add(ro), self.n.stride, self.k_rhs.stride);
            // SAFETY: offsets and strides stay inside the operand buffers: every
            // (i, j, p) with i < m, j < n, p < k addresses an element of the
            // static shapes, and the output is m×n row-major per batch.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    op.add(oo),
                    1,
                    n as isize,
                    false,
                    l,
                    l_cs as isize,
                    l_rs as isize,
                    r,
                    r_cs as isize,
                    r_rs as isize,
                    T::default(),
                    one::<T>(),
                    false,
                    false,
                    false,
                    parallelism,
                );
            }
        }
    }
}

fn one<T: crate::NativeType>() -> T {
    T::from_f64(1.0)
}
