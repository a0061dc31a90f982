//! f32/f64 convolution as im2col + GEMM.
//!
//! For each feature group, the input patches that the kernel window sees at each
//! output position become the rows of a matrix (im2col: one row per (batch, output
//! position), one column per (window position, input feature)); the kernel becomes a
//! `[window·in_features, out_features]` matrix; one GEMM per block of rows gives the
//! outputs. Padding and lhs-dilation holes are zeros in the patch matrix, rhs
//! dilation spaces the window positions, and any layout of the three operands'
//! dims works: the patch gather and the output scatter follow the strides.
//!
//! Rows go in blocks whose patch matrix stays in cache (about 1 MB); large
//! convolutions run their blocks in parallel on the backend's pool, each block on
//! one thread (gathering patches parallelizes too). Like every GEMM of this backend,
//! the products flush subnormals (see `threads`).
//!
//! Integer and half-precision convolutions, and `batch_group_count > 1` (the
//! kernel gradient of a grouped convolution), run the interpreter's loops.

use super::threads;
use crate::backend::interp::for_each_index;
use crate::hlo::ir::*;
use crate::{DType, Literal, NativeType};
use rayon::prelude::*;

/// Bytes of one block's patch matrix.
const BLOCK_BYTES: usize = 1 << 20;
/// Flops above which the blocks run in parallel.
const PARALLEL_FLOPS: usize = 1 << 22;

/// The plan of one convolution.
pub struct ConvPlan {
    dtype: DType,
    groups: usize,
    /// Input features per group (the kernel's input-feature dim).
    group_in: usize,
    /// Output features per group.
    group_out: usize,
    batch: usize,
    /// Output spatial sizes, in the order of `dims.output_spatial`.
    out_spatial: Vec<usize>,
    /// Kernel window sizes, in spatial order.
    window: Vec<usize>,
    /// Input spatial sizes.
    in_spatial: Vec<usize>,
    strides: Vec<usize>,
    pad_low: Vec<i64>,
    lhs_dilation: Vec<usize>,
    rhs_dilation: Vec<usize>,
    /// Element strides of the input's batch, feature and spatial dims.
    in_batch_stride: usize,
    in_feature_stride: usize,
    in_spatial_strides: Vec<usize>,
    /// Element strides of the kernel's input-feature, output-feature, spatial dims.
    k_in_stride: usize,
    k_out_stride: usize,
    k_spatial_strides: Vec<usize>,
    /// Element strides of the output's batch, feature and spatial dims.
    out_batch_stride: usize,
    out_feature_stride: usize,
    out_spatial_strides: Vec<usize>,
}

impl ConvPlan {
    /// A plan for `instr` when the GEMM path applies (f32/f64, one batch group).
    pub fn new(comp: &Computation, instr: &Instr) -> Option<ConvPlan> {
        let Op::Convolution {
            window_strides,
            padding,
            lhs_dilation,
            rhs_dilation,
            dims,
            feature_group_count,
            batch_group_count,
            out_dtype,
        } = &instr.op
        else {
            return None;
        };
        let lhs = comp.shape(instr.operands[0]);
        let rhs = comp.shape(instr.operands[1]);
        let out = &instr.shapes[0];
        if !matches!(lhs.dtype, DType::F32 | DType::F64)
            || rhs.dtype != lhs.dtype
            || *out_dtype != lhs.dtype
            || *batch_group_count != 1
            || *feature_group_count == 0
        {
            return None;
        }
        let (ls, ks, os) = (
            crate::strides_of(&lhs.dims),
            crate::strides_of(&rhs.dims),
            crate::strides_of(&out.dims),
        );
        let groups = *feature_group_count;
        let out_features = rhs.dims[dims.kernel_output_feature];
        Some(ConvPlan {
            dtype: lhs.dtype,
            groups,
            group_in: rhs.dims[dims.kernel_input_feature],
            group_out: out_features / groups,
            batch: out.dims[dims.output_batch],
            out_spatial: dims.output_spatial.iter().map(|&d| out.dims[d]).collect(),
            window: dims.kernel_spatial.iter().map(|&d| rhs.dims[d]).collect(),
            in_spatial: dims.input_spatial.iter().map(|&d| lhs.dims[d]).collect(),
            strides: window_strides.clone(),
            pad_low: padding.iter().map(|p| p.0).collect(),
            lhs_dilation: lhs_dilation.clone(),
            rhs_dilation: rhs_dilation.clone(),
            in_batch_stride: ls[dims.input_batch],
            in_feature_stride: ls[dims.input_feature],
            in_spatial_strides: dims.input_spatial.iter().map(|&d| ls[d]).collect(),
            k_in_stride: ks[dims.kernel_input_feature],
            k_out_stride: ks[dims.kernel_output_feature],
            k_spatial_strides: dims.kernel_spatial.iter().map(|&d| ks[d]).collect(),
            out_batch_stride: os[dims.output_batch],
            out_feature_stride: os[dims.output_feature],
            out_spatial_strides: dims.output_spatial.iter().map(|&d| os[d]).collect(),
        })
    }

    /// Computes the convolution into `out` (whose contents may be garbage).
    pub fn run(&self, lhs: &Literal, rhs: &Literal, mut out: Literal) -> Literal {
        match self.dtype {
            DType::F32 => self.run_typed::<f32>(lhs, rhs, &mut out),
            _ => self.run_typed::<f64>(lhs, rhs, &mut out),
        }
        out
    }

    /// Output rows: one per (batch, output position).
    fn rows(&self) -> usize {
        self.batch * self.out_spatial.iter().product::<usize>()
    }

    /// Columns of the patch matrix: (window position, input feature).
    fn patch(&self) -> usize {
        self.group_in * self.window.iter().product::<usize>()
    }

    fn run_typed<T: NativeType + Default>(&self, lhs: &Literal, rhs: &Literal, out: &mut Literal) {
        let k = rhs.as_slice::<T>().expect("convolution kernel dtype");
        let (rows, patch, n) = (self.rows(), self.patch(), self.group_out);
        assert_eq!(out.dtype(), T::DTYPE, "convolution output dtype");
        if rows == 0 || n == 0 {
            return;
        }
        if patch == 0 {
            // An empty window or no input features: every output is zero.
            let zero = T::wrap(vec![T::zero(); out.num_elements()]);
            *out = Literal::new(out.shape().clone(), zero);
            return;
        }
        // Blocks write disjoint output elements (their rows, every feature), so
        // they share the output by address.
        let out = OutElements {
            addr: out.data_mut().as_mut_ptr() as usize,
            len: out.num_elements(),
        };
        let x = self.input_view::<T>(lhs.as_slice::<T>().expect("convolution input dtype"));
        let kernels: Vec<Vec<T>> = (0..self.groups).map(|g| self.kernel_matrix(k, g)).collect();
        let positions = window_positions(&self.window);
        let flops = 2 * rows * patch * n * self.groups;
        let parallel = flops >= PARALLEL_FLOPS;
        let (block, chunk) = self.blocking::<T>(parallel);
        let blocks = rows.div_ceil(block);
        let spatial = self.window.len();
        let window_size: usize = self.window.iter().product();
        let run_block = |b: usize| {
            let first = b * block;
            let count = block.min(rows - first);
            let mut patches = vec![T::zero(); count * chunk * self.group_in];
            let mut products = vec![T::zero(); count * n];
            for (g, kernel) in kernels.iter().enumerate() {
                // Window positions in chunks, each adding its share of the sums.
                for c in 0..window_size.div_ceil(chunk) {
                    let (start, end) = (c * chunk, ((c + 1) * chunk).min(window_size));
                    let cols = (end - start) * self.group_in;
                    let patches = &mut patches[..count * cols];
                    let chunk_positions = &positions[start * spatial..end * spatial];
                    self.gather_patches(&x, g, first, (chunk_positions, end - start), patches);
                    let rows_of_kernel = &kernel[start * self.group_in * n..][..cols * n];
                    gemm_rows(
                        patches,
                        rows_of_kernel,
                        &mut products,
                        (count, n, cols),
                        c > 0,
                    );
                }
                self.scatter_rows::<T>(&products, g, first, out);
            }
        };
        threads::with_mode(threads::Mode::Flush, || {
            if parallel && blocks > 1 && super::pair::covers_pool() {
                // Both threads of a two-core machine take blocks in turn (see `pair`).
                let next = std::sync::atomic::AtomicUsize::new(0);
                super::pair::split2(&|_| {
                    threads::with_mode(threads::Mode::Flush, || loop {
                        let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if b >= blocks {
                            break;
                        }
                        run_block(b);
                    })
                });
            } else if parallel && blocks > 1 {
                threads::pool().install(|| (0..blocks).into_par_iter().for_each(run_block));
            } else {
                (0..blocks).for_each(run_block);
            }
        });
    }

    /// Rows per block and window positions per chunk: a block's patch matrix
    /// (rows × chunk positions × input features) about `BLOCK_BYTES`. Whole
    /// windows while that leaves a block of at least 64 rows; otherwise (a kernel
    /// gradient, whose "window" is the whole image) blocks of up to 256 rows and
    /// the window in chunks, accumulated. Parallel runs get a multiple of the
    /// pool's threads in blocks.
    fn blocking<T>(&self, parallel: bool) -> (usize, usize) {
        let rows = self.rows();
        let size = std::mem::size_of::<T>();
        let positions: usize = self.window.iter().product();
        let per_position = self.group_in * size;
        let (mut block, chunk) = if positions * per_position * rows.min(64) <= BLOCK_BYTES {
            (BLOCK_BYTES / (positions * per_position), positions)
        } else {
            let block = rows.min(256);
            (
                block,
                (BLOCK_BYTES / (block * per_position)).clamp(1, positions),
            )
        };
        block = block.clamp(1, rows);
        if parallel {
            let threads = threads::pool().current_num_threads().max(1);
            let blocks = rows.div_ceil(block).div_ceil(threads) * threads;
            block = rows.div_ceil(blocks).max(1);
        }
        (block, chunk)
    }

    /// The input as the patch gather reads it: as it is when its features are
    /// contiguous (or single), else copied to (batch, spatial..., feature) order
    /// first. Gathering strided features costs a cache line per element: the
    /// kernel gradient of an NHWC convolution (its "features" are the images of
    /// the batch, 64 KB apart) took 2.4x the forward's time before the copy.
    fn input_view<'a, T: NativeType>(&self, x: &'a [T]) -> InputView<'a, T> {
        let view = InputView {
            data: std::borrow::Cow::Borrowed(x),
            batch_stride: self.in_batch_stride,
            feature_stride: self.in_feature_stride,
            spatial_strides: self.in_spatial_strides.clone(),
        };
        let features = self.groups * self.group_in;
        if self.in_feature_stride == 1 || self.group_in == 1 {
            return view;
        }
        let batch: usize = self.batch;
        let sizes = &self.in_spatial;
        let spatial: usize = sizes.iter().product();
        let mut copy = vec![T::zero(); batch * spatial * features];
        // Spatial position outermost, then batch, then feature: the source's
        // contiguous dim is batch or feature in the layouts that get here (a
        // spatial one is read from cache-resident lines), so its lines are used
        // whole while they are hot.
        let mut s_flat = 0;
        for_each_index(sizes, |s| {
            let src_s: usize = s
                .iter()
                .zip(&self.in_spatial_strides)
                .map(|(&i, &st)| i * st)
                .sum();
            for b in 0..batch {
                let src = src_s + b * self.in_batch_stride;
                let dst = &mut copy[(b * spatial + s_flat) * features..][..features];
                for (c, d) in dst.iter_mut().enumerate() {
                    *d = x[src + c * self.in_feature_stride];
                }
            }
            s_flat += 1;
        });
        let mut spatial_strides = vec![0; sizes.len()];
        let mut stride = features;
        for i in (0..sizes.len()).rev() {
            spatial_strides[i] = stride;
            stride *= sizes[i];
        }
        InputView {
            data: std::borrow::Cow::Owned(copy),
            batch_stride: spatial * features,
            feature_stride: 1,
            spatial_strides,
        }
    }

    /// Group `g`'s kernel as a row-major `[patch, group_out]` matrix, rows in the
    /// patch matrix's column order (window position major, input feature minor).
    fn kernel_matrix<T: NativeType>(&self, k: &[T], g: usize) -> Vec<T> {
        let n = self.group_out;
        let mut m = Vec::with_capacity(self.patch() * n);
        for_each_index(&self.window, |w| {
            let base: usize = w
                .iter()
                .zip(&self.k_spatial_strides)
                .map(|(&i, &s)| i * s)
                .sum();
            for ci in 0..self.group_in {
                let row = base + ci * self.k_in_stride;
                m.extend((0..n).map(|f| k[row + (g * n + f) * self.k_out_stride]));
            }
        });
        m
    }

    /// Rows `first..` of the patch matrix of group `g`, the columns of `count`
    /// window positions (`positions`: their flattened multi-indices), zeros for
    /// padding and dilation holes.
    fn gather_patches<T: NativeType>(
        &self,
        x: &InputView<'_, T>,
        g: usize,
        first: usize,
        (positions, count): (&[usize], usize),
        patches: &mut [T],
    ) {
        let ci = self.group_in;
        let spatial = self.out_spatial.len();
        let feature0 = g * ci * x.feature_stride;
        let mut pos = vec![0usize; spatial];
        for (r, row) in patches.chunks_exact_mut(count * ci).enumerate() {
            let (b, o) = self.row_index(first + r, &mut pos);
            let base = b * x.batch_stride + feature0;
            'position: for (j, dst) in row.chunks_exact_mut(ci).enumerate() {
                let w = &positions[j * spatial..(j + 1) * spatial];
                let mut offset = base;
                for i in 0..spatial {
                    let p = (o[i] * self.strides[i] + w[i] * self.rhs_dilation[i]) as i64
                        - self.pad_low[i];
                    let dil = self.lhs_dilation[i] as i64;
                    if p < 0 || p % dil != 0 || p / dil >= self.in_spatial[i] as i64 {
                        dst.fill(T::zero());
                        continue 'position;
                    }
                    offset += (p / dil) as usize * x.spatial_strides[i];
                }
                if x.feature_stride == 1 {
                    dst.copy_from_slice(&x.data[offset..offset + ci]);
                } else {
                    for (c, d) in dst.iter_mut().enumerate() {
                        *d = x.data[offset + c * x.feature_stride];
                    }
                }
            }
        }
    }

    /// Writes group `g`'s products for rows `first..` into the output.
    fn scatter_rows<T: NativeType>(
        &self,
        products: &[T],
        g: usize,
        first: usize,
        out: OutElements,
    ) {
        let n = self.group_out;
        let mut pos = vec![0usize; self.out_spatial.len()];
        for (r, row) in products.chunks_exact(n).enumerate() {
            let (b, o) = self.row_index(first + r, &mut pos);
            let base = b * self.out_batch_stride
                + o.iter()
                    .zip(&self.out_spatial_strides)
                    .map(|(&i, &s)| i * s)
                    .sum::<usize>()
                + g * n * self.out_feature_stride;
            for (f, &v) in row.iter().enumerate() {
                out.write(base + f * self.out_feature_stride, v);
            }
        }
    }

    /// The (batch, output position) of row `r`, the position written into `pos`.
    fn row_index<'a>(&self, mut r: usize, pos: &'a mut [usize]) -> (usize, &'a [usize]) {
        for i in (0..pos.len()).rev() {
            pos[i] = r % self.out_spatial[i];
            r /= self.out_spatial[i];
        }
        (r, pos)
    }
}

/// The convolution input with the element strides of its batch, feature and
/// spatial dims.
struct InputView<'a, T: Clone> {
    data: std::borrow::Cow<'a, [T]>,
    batch_stride: usize,
    feature_stride: usize,
    spatial_strides: Vec<usize>,
}

/// The output's elements by address, shared by the blocks of a parallel run.
#[derive(Clone, Copy)]
struct OutElements {
    addr: usize,
    len: usize,
}

impl OutElements {
    /// Writes element `i` (bounds-checked).
    fn write<T: NativeType>(self, i: usize, v: T) {
        assert!(i < self.len, "convolution output index {i} of {}", self.len);
        // SAFETY: `addr` is the start of the output literal's `len` elements of
        // type T (`run_typed` checked the dtype), exclusively borrowed by
        // `run_typed` for the whole run; `i` is in bounds, and each element is
        // written by one block only (blocks own disjoint rows), with nothing
        // reading the output until the run ends.
        unsafe { (self.addr as *mut T).add(i).write(v) }
    }
}

/// Every index of `dims` (last dim fastest), flattened one after another.
fn window_positions(dims: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(dims.iter().product::<usize>() * dims.len());
    for_each_index(dims, |w| out.extend_from_slice(w));
    out
}

/// `c = a·b` (`c += a·b` when `accumulate`) for row-major `a` [m, k], `b` [k, n]
/// and `c` [m, n], on this thread.
fn gemm_rows<T: NativeType + Default>(
    a: &[T],
    b: &[T],
    c: &mut [T],
    (m, n, k): (usize, usize, usize),
    accumulate: bool,
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // SAFETY: the three slices hold the row-major matrices of the sizes given
    // (checked above), and `c` is a distinct, exclusively borrowed allocation.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            if accumulate {
                T::from_f64(1.0)
            } else {
                T::default()
            },
            T::from_f64(1.0),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}
