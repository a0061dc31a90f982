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
    let xd = x[0].dims();
    let xs = strides_of(xd);
    let mut pairs = Vec::new();
    let mut o = 0;
    for_each_index(&out[0].dims, |oi| {
        for_each_index(w.window, |wi| {
            let mut src = 0;
            for d in 0..xd.len() {
                let p =
                    (oi[d] * w.strides[d] + wi[d] * w.window_dilation[d]) as i64 - w.padding[d].0;
                let b = w.base_dilation[d] as i64;
                if p < 0 || p % b != 0 || p / b >= xd[d] as i64 {
                    return;
                }
                src += (p / b) as usize * xs[d];
            }
            pairs.push((o, src));
        });
        o += 1;
    });
    fold(interp, x, body, out, &pairs)
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
