//! Data-movement ops. Each computes, for every output element, the flat index of its
//! source element, then gathers with `Data::take` / `Data::take_or`.

use super::for_each_index;
use crate::{Data, Literal, Shape};

fn gathered(out: &Shape, x: &Literal, idx: &[usize]) -> Literal {
    Literal::new(out.clone(), x.data().take(idx))
}

pub fn broadcast_in_dim(x: &Literal, out: &Shape, broadcast_dims: &[usize]) -> Literal {
    let xs = x.shape().strides();
    let mut idx = Vec::with_capacity(out.num_elements());
    for_each_index(&out.dims, |o| {
        idx.push(
            broadcast_dims
                .iter()
                .enumerate()
                .map(|(i, &d)| if x.dims()[i] == 1 { 0 } else { o[d] * xs[i] })
                .sum(),
        )
    });
    gathered(out, x, &idx)
}

pub fn transpose(x: &Literal, out: &Shape, perm: &[usize]) -> Literal {
    let xs = x.shape().strides();
    let mut idx = Vec::with_capacity(out.num_elements());
    for_each_index(&out.dims, |o| {
        idx.push(o.iter().zip(perm).map(|(&v, &p)| v * xs[p]).sum())
    });
    gathered(out, x, &idx)
}

pub fn reverse(x: &Literal, dims: &[usize]) -> Literal {
    let xs = x.shape().strides();
    let xd = x.dims();
    let mut idx = Vec::with_capacity(x.num_elements());
    for_each_index(xd, |o| {
        idx.push(
            (0..xd.len())
                .map(|d| if dims.contains(&d) { xd[d] - 1 - o[d] } else { o[d] } * xs[d])
                .sum(),
        )
    });
    gathered(x.shape(), x, &idx)
}

pub fn slice(x: &Literal, out: &Shape, start: &[usize], strides: &[usize]) -> Literal {
    let xs = x.shape().strides();
    let mut idx = Vec::with_capacity(out.num_elements());
    for_each_index(&out.dims, |o| {
        idx.push(
            (0..o.len())
                .map(|d| (start[d] + o[d] * strides[d]) * xs[d])
                .sum(),
        )
    });
    gathered(out, x, &idx)
}

/// Scalar start indices clamped into `[0, dim - size]`.
fn clamped_starts(starts: &[&Literal], dims: &[usize], sizes: &[usize]) -> Vec<usize> {
    starts
        .iter()
        .enumerate()
        .map(|(d, s)| s.data().get_i128(0).clamp(0, (dims[d] - sizes[d]) as i128) as usize)
        .collect()
}

pub fn dynamic_slice(x: &Literal, starts: &[&Literal], out: &Shape) -> Literal {
    let start = clamped_starts(starts, x.dims(), &out.dims);
    slice(x, out, &start, &vec![1; out.rank()])
}

pub fn dynamic_update_slice(x: &Literal, update: &Literal, starts: &[&Literal]) -> Literal {
    let start = clamped_starts(starts, x.dims(), update.dims());
    let xs = x.shape().strides();
    let n = x.num_elements();
    // Positions >= n address the update inside the concatenation.
    let mut idx: Vec<usize> = (0..n).collect();
    let mut u = n;
    for_each_index(update.dims(), |o| {
        let dst: usize = (0..o.len()).map(|d| (start[d] + o[d]) * xs[d]).sum();
        idx[dst] = u;
        u += 1;
    });
    gathered(x.shape(), &concat_literal(x, update), &idx)
}

fn concat_literal(a: &Literal, b: &Literal) -> Literal {
    let data = Data::concat(&[a.data(), b.data()]);
    Literal::new(Shape::new(a.dtype(), [data.len()]), data)
}

pub fn concatenate(parts: &[&Literal], dim: usize, out: &Shape) -> Literal {
    let datas: Vec<&Data> = parts.iter().map(|p| p.data()).collect();
    let all = Data::concat(&datas);
    // For each part: its range along `dim`, its flat base in `all`, its strides.
    let mut meta = Vec::with_capacity(parts.len());
    let (mut along, mut base) = (0, 0);
    for p in parts {
        let end = along + p.dims()[dim];
        meta.push((along, end, base, p.shape().strides()));
        along = end;
        base += p.num_elements();
    }
    let mut idx = Vec::with_capacity(out.num_elements());
    for_each_index(&out.dims, |o| {
        let (first, _, base, strides) = meta
            .iter()
            .find(|m| m.0 <= o[dim] && o[dim] < m.1)
            .expect("concatenate: index inside some part");
        let off: usize = (0..o.len())
            .map(|d| if d == dim { o[d] - first } else { o[d] } * strides[d])
            .sum();
        idx.push(base + off);
    });
    Literal::new(out.clone(), all.take(&idx))
}

pub fn pad(x: &Literal, value: &Literal, out: &Shape, low: &[i64], interior: &[usize]) -> Literal {
    let xs = x.shape().strides();
    let xd = x.dims();
    let mut idx = Vec::with_capacity(out.num_elements());
    for_each_index(&out.dims, |o| {
        let mut src = 0;
        for d in 0..o.len() {
            let p = o[d] as i64 - low[d];
            let step = interior[d] as i64 + 1;
            if p < 0 || p % step != 0 || p / step >= xd[d] as i64 {
                idx.push(None);
                return;
            }
            src += (p / step) as usize * xs[d];
        }
        idx.push(Some(src));
    });
    Literal::new(out.clone(), x.data().take_or(&idx, value.data()))
}
