//! dot_general on f32/f64 through the `gemm` crate.
//!
//! A dot is run as a loop over its batch dims of one GEMM each, with the free and
//! contracting dims of each operand merged into one dim when they are adjacent in
//! memory; other layouts (and other dtypes) fall back to the interpreter.

use super::threads;
use crate::hlo::ir::*;
use crate::{DType, Literal};
use std::sync::{Arc, Mutex};

/// Flops of one GEMM above which it is split across the backend's threads.
const PARALLEL_FLOPS: usize = 1 << 24;

/// Flops of one GEMM above which (and below [`PARALLEL_FLOPS`], or at any size on a
/// two-core machine: `pair::covers_pool`) its rows are split in two halves, one on
/// the helper thread of `pair`.
const SPLIT_FLOPS: usize = 1 << 20;
/// Rows of each half at least.
const SPLIT_MIN_ROWS: usize = 8;

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
    /// A row-major copy of a transposed rhs that comes back unchanged call after
    /// call (a loop-invariant weight).
    repacked: Mutex<Repacked>,
}

/// The operand a dot saw last, and its row-major copy once it came back.
#[derive(Default)]
struct Repacked {
    /// Holding the operand keeps it immutable (buffers are only updated in place
    /// when nothing else refers to them), so the same allocation means the same
    /// contents.
    source: Option<Arc<Literal>>,
    copy: Option<Literal>,
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
            repacked: Default::default(),
        })
    }

    /// Computes the dot into `out` (whose contents may be garbage).
    pub fn run(&self, lhs: &Arc<Literal>, rhs: &Arc<Literal>, mut out: Literal) -> Literal {
        if self.k_lhs.size == 0 {
            // An empty contraction: zeros (gemm is not called).
            return Literal::zeros(out.shape().clone());
        }
        match self.dtype {
            DType::F32 => self.run_typed::<f32>(lhs, rhs, &mut out, false, None),
            _ => self.run_typed::<f64>(lhs, rhs, &mut out, false, None),
        }
        out
    }

    /// Whether the product runs in two row halves on the helper pair (see
    /// [`DotPlan::run_then`]).
    pub fn splits(&self) -> bool {
        let (m, n, k) = (self.m.size, self.n.size, self.k_lhs.size);
        let flops = 2 * m * n * k;
        self.batch.iter().product::<usize>() == 1
            && flops >= SPLIT_FLOPS
            && (flops < PARALLEL_FLOPS || super::pair::covers_pool())
            && m >= 2 * SPLIT_MIN_ROWS
            && super::pair::available()
    }

    /// The product into `out`, then `epilogue(start, end)` over ranges of output
    /// elements that together cover it once: when the product [`splits`], each half
    /// runs the epilogue over its own rows right after computing them, on the same
    /// thread (an elementwise consumer kernel then reads rows its core just wrote,
    /// without a second hand-off); otherwise over everything, after the product.
    ///
    /// [`splits`]: DotPlan::splits
    pub fn run_then(
        &self,
        lhs: &Arc<Literal>,
        rhs: &Arc<Literal>,
        out: &mut Literal,
        epilogue: &(dyn Fn(usize, usize) + Sync),
    ) {
        if self.k_lhs.size == 0 {
            // An empty contraction: zeros, written in place (the epilogue may hold
            // the buffer's address).
            let bytes = out.shape().size_bytes();
            // SAFETY: the buffer holds `bytes` bytes of f32/f64, for which all-zero
            // bytes are +0.0.
            unsafe { std::ptr::write_bytes(out.data_mut().as_mut_ptr(), 0, bytes) };
            epilogue(0, out.num_elements());
            return;
        }
        match self.dtype {
            DType::F32 => self.run_typed::<f32>(lhs, rhs, out, false, Some(epilogue)),
            _ => self.run_typed::<f64>(lhs, rhs, out, false, Some(epilogue)),
        }
    }

    /// Whether the dot contracts at least one element (an empty contraction is
    /// zeros, which gemm does not write).
    pub fn contracts(&self) -> bool {
        self.k_lhs.size > 0
    }

    /// `acc + dot(lhs, rhs)`, accumulated into `acc`'s buffer by gemm.
    pub fn accumulate(&self, lhs: &Arc<Literal>, rhs: &Arc<Literal>, mut acc: Literal) -> Literal {
        match self.dtype {
            DType::F32 => self.run_typed::<f32>(lhs, rhs, &mut acc, true, None),
            _ => self.run_typed::<f64>(lhs, rhs, &mut acc, true, None),
        }
        acc
    }

    /// The address and (row, column) strides gemm should read the rhs with: the
    /// operand itself, or its row-major copy when it is transposed and the same
    /// buffer as in the last call. gemm reads a transposed rhs (output columns
    /// strided) about twice as slowly as a row-major one (measured on
    /// [32,256]·[256,256]ᵀ: 58 µs against 30 µs). Only unbatched dots are repacked.
    fn rhs_operand<T: crate::NativeType>(
        &self,
        x: &Arc<Literal>,
    ) -> (
        *const T,
        usize,
        usize,
        Option<std::sync::MutexGuard<'_, Repacked>>,
    ) {
        let (rows, cols) = (self.k_rhs, self.n);
        let plain = (
            x.data().as_ptr() as *const T,
            rows.stride,
            cols.stride,
            None,
        );
        let transposed = self.n.stride != 1 && self.k_rhs.stride == 1;
        if !self.batch.is_empty() || !transposed {
            return plain;
        }
        let mut cache = self.repacked.lock().unwrap_or_else(|e| e.into_inner());
        let same = cache.source.as_ref().is_some_and(|s| Arc::ptr_eq(s, x));
        if !same {
            // First sight: remember it; repack only if it comes back.
            cache.source = Some(x.clone());
            cache.copy = None;
            return plain;
        }
        if cache.copy.is_none() {
            let src = x.as_slice::<T>().expect("dot operand dtype");
            let (r, c) = (rows.size, cols.size);
            let mut v = Vec::with_capacity(r * c);
            for i in 0..r {
                v.extend((0..c).map(|j| src[i * rows.stride + j * cols.stride]));
            }
            cache.copy = Some(Literal::from_vec(&[r, c], v));
        }
        let p = cache.copy.as_ref().expect("repacked").data().as_ptr() as *const T;
        (p, cols.size, 1, Some(cache))
    }

    /// `accumulate`: gemm adds the product to `out` instead of overwriting it.
    fn run_typed<T: crate::NativeType + Default>(
        &self,
        lhs: &Arc<Literal>,
        rhs: &Arc<Literal>,
        out: &mut Literal,
        accumulate: bool,
        epilogue: Option<&(dyn Fn(usize, usize) + Sync)>,
    ) {
        let (m, n, k) = (self.m.size, self.n.size, self.k_lhs.size);
        let (l_rs, l_cs) = (self.m.stride, self.k_lhs.stride);
        // The guard keeps a repacked copy alive (and unchanged) during the call.
        let (rp, r_rs, r_cs, _rhs_guard) = self.rhs_operand::<T>(rhs);
        // Addresses, so that the work can move to a pool thread.
        let (lp, rp) = (lhs.data().as_ptr() as usize, rp as usize);
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
                    (lp as *const T, l_rs, l_cs),
                    (rp as *const T, r_rs, r_cs),
                    op as *mut T,
                    (m, n, k),
                    (parallelism, accumulate),
                )
            })
        };
        if self.splits() {
            // Two row blocks, the first on this thread and the second on the
            // helper, every time: a loop's state rows stay in one core's cache.
            let half = m / 2;
            let size = std::mem::size_of::<T>();
            super::pair::split2(&|part| {
                let (first, rows) = if part == 0 {
                    (0, half)
                } else {
                    (half, m - half)
                };
                threads::with_mode(threads::Mode::Flush, || {
                    self.run_batches(
                        ((lp + first * l_rs * size) as *const T, l_rs, l_cs),
                        (rp as *const T, r_rs, r_cs),
                        (op + first * n * size) as *mut T,
                        (rows, n, k),
                        (gemm::Parallelism::None, accumulate),
                    )
                });
                if let Some(epilogue) = epilogue {
                    epilogue(first * n, (first + rows) * n);
                }
            });
            return;
        }
        if parallel {
            threads::pool().install(run);
        } else {
            run();
        }
        if let Some(epilogue) = epilogue {
            epilogue(0, m * n);
        }
    }

    /// Operands come as (address, row stride, column stride) of their (m, k) and
    /// (k, n) matrices.
    fn run_batches<T: crate::NativeType + Default>(
        &self,
        (lp, l_rs, l_cs): (*const T, usize, usize),
        (rp, r_rs, r_cs): (*const T, usize, usize),
        op: *mut T,
        (m, n, k): (usize, usize, usize),
        (parallelism, accumulate): (gemm::Parallelism, bool),
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
            let (l, r) = (lp.wrapping_add(lo), rp.wrapping_add(ro));
            // SAFETY: offsets and strides stay inside the operand buffers (or their
            // row-major copies): every (i, j, p) with i < m, j < n, p < k addresses
            // an element of the static shapes, and the output is m×n row-major per
            // batch. gemm reads the output only when accumulating, and every
            // element of it is then initialized (the accumulator's values).
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    op.add(oo),
                    1,
                    n as isize,
                    accumulate,
                    l,
                    l_cs as isize,
                    l_rs as isize,
                    r,
                    r_cs as isize,
                    r_rs as isize,
                    // dst = alpha·dst + beta·lhs·rhs; alpha only matters when
                    // gemm reads dst.
                    if accumulate { one::<T>() } else { T::default() },
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
