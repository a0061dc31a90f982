//! Reduce and reduce_window. Both list (output, input) element pairs in combining
//! order and fold them; a simple binary body runs natively, any other body through
//! the region interpreter.

use super::elementwise::Elem;
use super::{for_each_index, scalar_at, set_at, simple_combiner, Combiner, Interp, R};
use crate::hlo::ir::CompId;
use crate::{strides_of, with_data, Data, Literal, Shape};

/// `(x_0..x_{n-1}, init_0..init_{n-1})`: elements combine in increasing index order.
pub fn reduce(
    interp: &Interp,
    x: &[&Literal],
    dims: &[usize],
    body: CompId,
    out: &[Shape],
) -> R<Vec<Literal>> {
    let xd = x[0].dims();
    let os = strides_of(&out[0].dims);
    let kept: Vec<usize> = (0..xd.len()).filter(|d| !dims.contains(d)).collect();
    // Row-major input order visits each output's elements in increasing index order.
    let mut pairs = Vec::with_capacity(x[0].num_elements());
    let mut i = 0;
    for_each_index(xd, |idx| {
        let o: usize = kept.iter().zip(&os).map(|(&d, &s)| idx[d] * s).sum();
        pairs.push((o, i));
        i += 1;
    });
    fold(interp, x, body, out, &pairs)
}

/// Window parameters of reduce_window.
pub struct Window<'a> {
    pub window: &'a [usize],
    pub strides: &'a [usize],
    pub base_dilation: &'a [usize],
    pub window_dilation: &'a [usize],
    pub padding: &'a [(i64, i64)],
}

/// Padding and base-dilation holes are skipped (they would only combine the init).
pub fn reduce_window(
    interp: &Interp,
    x: &[&Literal],
    w: &Window,
    body: CompId,
    out: &[Shape],
) -> R<Vec<Literal>> {
    let sources = WindowSources::new(x[0].dims(), w, &out[0].dims);
    if let (Some(Combiner::Binary(op)), [xk, init]) =
        (simple_combiner(interp.module.computation(body)), x)
    {
        // One operand, a plain binary body: fold each window straight away.
        let data = with_data!(xk.data(), v => fold_windows(v, init.data(), &sources, op));
        return Ok(vec![Literal::new(out[0].clone(), data)]);
    }
    let mut pairs = Vec::new();
    sources.for_each(|o, src| pairs.push((o, src)));
    fold(interp, x, body, out, &pairs)
}

/// The input elements each reduce_window output combines, in window order.
struct WindowSources {
    out_dims: Vec<usize>,
    /// Per dim and output index along it: the offsets (input index × stride) of
    /// the window positions that land on an input element, in window order.
    offsets: Vec<Vec<Vec<usize>>>,
}

impl WindowSources {
    fn new(xd: &[usize], w: &Window, out_dims: &[usize]) -> WindowSources {
        let xs = strides_of(xd);
        let offsets = (0..xd.len())
            .map(|d| {
                (0..out_dims[d])
                    .map(|o| {
                        (0..w.window[d])
                            .filter_map(|k| {
                                let p = (o * w.strides[d] + k * w.window_dilation[d]) as i64
                                    - w.padding[d].0;
                                let b = w.base_dilation[d] as i64;
                                (p >= 0 && p % b == 0 && p / b < xd[d] as i64)
                                    .then(|| (p / b) as usize * xs[d])
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        WindowSources {
            out_dims: out_dims.to_vec(),
            offsets,
        }
    }

    /// Calls `f(output, input)` for every output (row-major) and each input
    /// element of its window, in window order.
    fn for_each(&self, mut f: impl FnMut(usize, usize)) {
        let r = self.out_dims.len();
        if r == 0 {
            f(0, 0);
            return;
        }
        let mut lists: Vec<&[usize]> = vec![&[]; r];
        let mut pos = vec![0usize; r];
        // partial[d]: the offset of dims 0..d at their current window positions.
        let mut partial = vec![0usize; r];
        let mut o = 0;
        for_each_index(&self.out_dims, |oi| {
            let output = o;
            o += 1;
            for d in 0..r {
                lists[d] = &self.offsets[d][oi[d]];
                if lists[d].is_empty() {
                    return;
                }
                pos[d] = 0;
            }
            for d in 1..r {
                partial[d] = partial[d - 1] + lists[d - 1][0];
            }
            loop {
                // The innermost dim's window positions, then an odometer step on
                // the outer ones (window order: last dim fastest).
                let base = partial[r - 1];
                for &off in lists[r - 1] {
                    f(output, base + off);
                }
                let mut d = r - 1;
                loop {
                    if d == 0 {
                        return;
                    }
                    d -= 1;
                    pos[d] += 1;
                    if pos[d] < lists[d].len() {
                        break;
                    }
                    pos[d] = 0;
                }
                for e in d + 1..r {
                    partial[e] = partial[e - 1] + lists[e - 1][pos[e - 1]];
                }
            }
        });
    }
}

fn fold_windows<T: Elem>(
    x: &[T],
    init: &Data,
    sources: &WindowSources,
    op: crate::BinaryOp,
) -> Data {
    let init = T::slice(init).expect("reduce_window: init dtype differs")[0];
    let count: usize = sources.out_dims.iter().product();
    let mut acc = vec![init; count];
    sources.for_each(|o, src| acc[o] = T::binary(op, acc[o], x[src]));
    T::wrap(acc)
}

/// Starts every output at its init and combines `acc = body(acc, x[i])` for each
/// `(output, i)` pair in order.
fn fold(
    interp: &Interp,
    x: &[&Literal],
    body: CompId,
    out: &[Shape],
    pairs: &[(usize, usize)],
) -> R<Vec<Literal>> {
    let n = x.len() / 2;
    let count = out[0].num_elements();
    let mut acc: Vec<Data> = x[n..]
        .iter()
        .map(|init| init.data().take(&vec![0; count]))
        .collect();
    match simple_combiner(interp.module.computation(body)) {
        Some(Combiner::Binary(op)) if n == 1 => {
            acc[0] = with_data!(&acc[0], a => fold_binary(a, x[0].data(), pairs, op));
        }
        _ => {
            for &(o, i) in pairs {
                let mut args: Vec<Literal> = acc.iter().map(|a| scalar_at(a, o)).collect();
                args.extend(x[..n].iter().map(|xk| scalar_at(xk.data(), i)));
                let res = interp.call(body, &args)?;
                for (a, r) in acc.iter_mut().zip(&res) {
                    set_at(a, o, r);
                }
            }
        }
    }
    Ok(acc
        .into_iter()
        .zip(out)
        .map(|(a, s)| Literal::new(s.clone(), a))
        .collect())
}

fn fold_binary<T: Elem>(
    acc: &[T],
    x: &Data,
    pairs: &[(usize, usize)],
    op: crate::BinaryOp,
) -> Data {
    let x = T::slice(x).expect("reduce: input dtype differs from init");
    let mut acc = acc.to_vec();
    for &(o, i) in pairs {
        acc[o] = T::binary(op, acc[o], x[i]);
    }
    T::wrap(acc)
}
