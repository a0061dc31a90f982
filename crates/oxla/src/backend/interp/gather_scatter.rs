//! XLA gather and scatter (StableHLO dimension numbers; the index vector is the last
//! dim of the indices).

use super::elementwise::Elem;
use super::{for_each_index, scalar_at, set_at, simple_combiner, Combiner, Interp, R};
use crate::hlo::ir::{CompId, GatherDims, ScatterDims};
use crate::{strides_of, with_data, Data, Literal, NativeType, Shape};

fn index_values(ind: &Literal) -> Vec<i128> {
    (0..ind.num_elements())
        .map(|i| ind.data().get_i128(i))
        .collect()
}

/// Gather: start indices are clamped so every slice is in bounds.
pub fn gather(
    x: &Literal,
    ind: &Literal,
    g: &GatherDims,
    slice_sizes: &[usize],
    out: &Shape,
) -> Literal {
    let xd = x.dims();
    let xs = x.shape().strides();
    let r = xd.len();
    let id = ind.dims();
    let nb = id.len() - 1;
    let is = strides_of(id);
    let vals = index_values(ind);
    let batch_out_dims: Vec<usize> = (0..out.rank())
        .filter(|d| !g.offset_dims.contains(d))
        .collect();
    let window_dims: Vec<usize> = (0..r)
        .filter(|d| !g.collapsed_slice_dims.contains(d) && !g.operand_batching_dims.contains(d))
        .collect();
    // The operand offset where each batch position's slice starts (batch positions
    // in row-major order of the indices' batch dims, which are the output's batch
    // dims in order).
    let mut starts = Vec::new();
    for_each_index(&id[..nb], |b| {
        let base: usize = b.iter().zip(&is).map(|(&v, &s)| v * s).sum();
        let mut offset = 0;
        for (k, &d) in g.start_index_map.iter().enumerate() {
            let max = (xd[d] - slice_sizes[d]) as i128;
            offset += vals[base + k * is[nb]].clamp(0, max) as usize * xs[d];
        }
        for (&d, &bd) in g
            .operand_batching_dims
            .iter()
            .zip(&g.start_indices_batching_dims)
        {
            offset += b[bd] * xs[d];
        }
        starts.push(offset);
    });
    // Per output dim: the step it makes in the batch position list (batch dims) or
    // in the operand (offset dims).
    let batch_strides = strides_of(&id[..nb]);
    let mut batch_step = vec![0usize; out.rank()];
    let mut operand_step = vec![0usize; out.rank()];
    for (i, &d) in batch_out_dims.iter().enumerate() {
        batch_step[d] = batch_strides[i];
    }
    for (&d, &od) in window_dims.iter().zip(&g.offset_dims) {
        operand_step[od] = xs[d];
    }
    let Some((&last, outer)) = out.dims.split_last() else {
        return Literal::new(out.clone(), x.data().take(&starts));
    };
    let (bl, wl) = (batch_step[outer.len()], operand_step[outer.len()]);
    // Runs of `last` elements: each output row reads one contiguous operand run
    // when the last output dim walks the operand with stride 1 (taking rows).
    let contiguous = bl == 0 && wl == 1;
    let data = with_data!(x.data(), v => {
        let mut o_data = Vec::with_capacity(out.num_elements());
        for_each_index(outer, |o| {
            let b: usize = o.iter().zip(&batch_step).map(|(&v, &s)| v * s).sum();
            let w: usize = o.iter().zip(&operand_step).map(|(&v, &s)| v * s).sum();
            if contiguous {
                let start = starts[b] + w;
                o_data.extend_from_slice(&v[start..start + last]);
            } else {
                o_data.extend((0..last).map(|k| v[starts[b + k * bl] + w + k * wl]));
            }
        });
        NativeType::wrap(o_data)
    });
    Literal::new(out.clone(), data)
}

/// Scatter: windows partly out of bounds are skipped; updates apply in row-major
/// order of `updates`, so duplicates accumulate (or the last write wins).
pub fn scatter(
    interp: &Interp,
    x: &Literal,
    ind: &Literal,
    upd: &Literal,
    s: &ScatterDims,
    body: CompId,
) -> R<Literal> {
    if let Some(c) = simple_combiner(interp.module.computation(body)) {
        let mut target = x.clone();
        scatter_in_place(&mut target, ind, upd, s, c);
        return Ok(target);
    }
    let runs = UpdateRuns::new(x.shape(), ind, upd.dims(), s);
    let mut data = x.data().clone();
    let mut pairs = Vec::with_capacity(upd.num_elements());
    runs.for_each(|dst, src, len| pairs.extend((0..len).map(|k| (dst + k, src + k))));
    for &(dst, src) in &pairs {
        let args = [scalar_at(&data, dst), scalar_at(upd.data(), src)];
        let out = interp.call(body, &args)?;
        set_at(&mut data, dst, &out[0]);
    }
    Ok(Literal::new(x.shape().clone(), data))
}

/// [`scatter`] with a one-op (or overwrite) body, into `target` itself: the CPU
/// backend scatters in place into an operand that dies there.
pub(crate) fn scatter_in_place(
    target: &mut Literal,
    ind: &Literal,
    upd: &Literal,
    s: &ScatterDims,
    c: Combiner,
) {
    let runs = UpdateRuns::new(target.shape(), ind, upd.dims(), s);
    with_data!(target.data_mut(), v => combine(v, upd.data(), &runs, c));
}

/// Where scatter's update elements go, in update (row-major) order.
struct UpdateRuns {
    dims: Vec<usize>,
    /// Each scatter position's window start in the operand (None: skipped).
    starts: Vec<Option<usize>>,
    /// Per update dim: its step in `starts` (scatter dims) or in the operand
    /// (window dims).
    batch_step: Vec<usize>,
    window_step: Vec<usize>,
}

impl UpdateRuns {
    fn new(x: &Shape, ind: &Literal, ud: &[usize], s: &ScatterDims) -> UpdateRuns {
        let xd = &x.dims;
        let xs = x.strides();
        let r = xd.len();
        let id = ind.dims();
        let nb = id.len() - 1;
        let is = strides_of(id);
        let vals = index_values(ind);
        let scatter_dims: Vec<usize> = (0..ud.len())
            .filter(|d| !s.update_window_dims.contains(d))
            .collect();
        let window_dims: Vec<usize> = (0..r)
            .filter(|d| !s.inserted_window_dims.contains(d) && !s.input_batching_dims.contains(d))
            .collect();
        // Window extent along each operand dim (1 for inserted and batching dims).
        let mut extent = vec![1usize; r];
        for (&d, &u) in window_dims.iter().zip(&s.update_window_dims) {
            extent[d] = ud[u];
        }
        // Where each scatter position's window starts in x (row-major order of the
        // indices' batch dims), or None when the window is partly out of bounds.
        let mut starts: Vec<Option<usize>> = Vec::new();
        for_each_index(&id[..nb], |b| {
            let base: usize = b.iter().zip(&is).map(|(&v, &st)| v * st).sum();
            let mut start = vec![0i128; r];
            for (k, &d) in s.scatter_dims_to_operand_dims.iter().enumerate() {
                start[d] = vals[base + k * is[nb]];
            }
            for (&d, &bd) in s
                .input_batching_dims
                .iter()
                .zip(&s.scatter_indices_batching_dims)
            {
                start[d] += b[bd] as i128;
            }
            let in_bounds =
                (0..r).all(|d| start[d] >= 0 && start[d] + extent[d] as i128 <= xd[d] as i128);
            starts.push(in_bounds.then(|| {
                start
                    .iter()
                    .zip(&xs)
                    .map(|(&v, &st)| v as usize * st)
                    .sum::<usize>()
            }));
        });
        // Per update dim: its step in the scatter position list or in x's window.
        let batch_strides = strides_of(&id[..nb]);
        let mut batch_step = vec![0usize; ud.len()];
        let mut window_step = vec![0usize; ud.len()];
        for (i, &d) in scatter_dims.iter().enumerate() {
            batch_step[d] = batch_strides[i];
        }
        for (&d, &u) in window_dims.iter().zip(&s.update_window_dims) {
            window_step[u] = xs[d];
        }
        UpdateRuns {
            dims: ud.to_vec(),
            starts,
            batch_step,
            window_step,
        }
    }

    /// Calls `f(destination, source, len)` for runs of update elements in order:
    /// `len` consecutive updates going to `len` consecutive operand elements (a
    /// whole last dim when it is a window dim of operand stride 1, else single
    /// elements).
    fn for_each(&self, mut f: impl FnMut(usize, usize, usize)) {
        let Some((&last, outer)) = self.dims.split_last() else {
            if let Some(start) = self.starts[0] {
                f(start, 0, 1);
            }
            return;
        };
        let r = outer.len();
        let (bl, wl) = (self.batch_step[r], self.window_step[r]);
        let contiguous = bl == 0 && wl == 1;
        let mut src = 0;
        for_each_index(outer, |u| {
            let b: usize = u.iter().zip(&self.batch_step).map(|(&v, &st)| v * st).sum();
            let w: usize = u
                .iter()
                .zip(&self.window_step)
                .map(|(&v, &st)| v * st)
                .sum();
            if contiguous {
                if let Some(start) = self.starts[b] {
                    f(start + w, src, last);
                }
            } else {
                for k in 0..last {
                    if let Some(start) = self.starts[b + k * bl] {
                        f(start + w + k * wl, src + k, 1);
                    }
                }
            }
            src += last;
        });
    }
}

fn combine<T: Elem>(out: &mut [T], upd: &Data, runs: &UpdateRuns, c: Combiner) {
    let u = T::slice(upd).expect("scatter: updates dtype differs");
    runs.for_each(|dst, src, len| {
        let (to, from) = (&mut out[dst..dst + len], &u[src..src + len]);
        match c {
            Combiner::Binary(op) => to
                .iter_mut()
                .zip(from)
                .for_each(|(t, &f)| *t = T::binary(op, *t, f)),
            Combiner::Second => to.copy_from_slice(from),
        }
    });
}
