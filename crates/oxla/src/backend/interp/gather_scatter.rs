//! XLA gather and scatter (StableHLO dimension numbers; the index vector is the last
//! dim of the indices).

use super::elementwise::Elem;
use super::{for_each_index, scalar_at, set_at, simple_combiner, Combiner, Interp, R};
use crate::hlo::ir::{CompId, GatherDims, ScatterDims};
use crate::{strides_of, with_data, Data, Literal, Shape};

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
    let mut idx = Vec::with_capacity(out.num_elements());
    for_each_index(&out.dims, |o| {
        let b: Vec<usize> = batch_out_dims.iter().map(|&d| o[d]).collect();
        let base: usize = b.iter().zip(&is).map(|(&v, &s)| v * s).sum();
        let mut full = vec![0usize; r];
        for (k, &d) in g.start_index_map.iter().enumerate() {
            let max = (xd[d] - slice_sizes[d]) as i128;
            full[d] = vals[base + k * is[nb]].clamp(0, max) as usize;
        }
        for (&d, &bd) in g
            .operand_batching_dims
            .iter()
            .zip(&g.start_indices_batching_dims)
        {
            full[d] += b[bd];
        }
        for (&d, &od) in window_dims.iter().zip(&g.offset_dims) {
            full[d] += o[od];
        }
        idx.push(full.iter().zip(&xs).map(|(&v, &s)| v * s).sum());
    });
    Literal::new(out.clone(), x.data().take(&idx))
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
    let xd = x.dims();
    let xs = x.shape().strides();
    let r = xd.len();
    let id = ind.dims();
    let nb = id.len() - 1;
    let is = strides_of(id);
    let vals = index_values(ind);
    let ud = upd.dims();
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
    // (destination in x, source in updates), in update order.
    let mut pairs = Vec::new();
    let mut src = 0;
    for_each_index(ud, |u| {
        let b: Vec<usize> = scatter_dims.iter().map(|&d| u[d]).collect();
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
        if in_bounds {
            let mut full: Vec<usize> = start.iter().map(|&v| v as usize).collect();
            for (&d, &ud) in window_dims.iter().zip(&s.update_window_dims) {
                full[d] += u[ud];
            }
            pairs.push((
                full.iter().zip(&xs).map(|(&v, &st)| v * st).sum::<usize>(),
                src,
            ));
        }
        src += 1;
    });
    let data = match simple_combiner(interp.module.computation(body)) {
        Some(c) => with_data!(x.data(), v => combine(v, upd.data(), &pairs, c)),
        None => {
            let mut data = x.data().clone();
            for &(dst, src) in &pairs {
                let args = [scalar_at(&data, dst), scalar_at(upd.data(), src)];
                let out = interp.call(body, &args)?;
                set_at(&mut data, dst, &out[0]);
            }
            data
        }
    };
    Ok(Literal::new(x.shape().clone(), data))
}

fn combine<T: Elem>(x: &[T], upd: &Data, pairs: &[(usize, usize)], c: Combiner) -> Data {
    let u = T::slice(upd).expect("scatter: updates dtype differs");
    let mut out = x.to_vec();
    for &(dst, src) in pairs {
        out[dst] = match c {
            Combiner::Binary(op) => T::binary(op, out[dst], u[src]),
            Combiner::Second => u[src],
        };
    }
    T::wrap(out)
}
