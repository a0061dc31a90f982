//! dot_general and convolution by direct loops. Floats accumulate in f64, integers
//! in wrapping i64 (after converting the operands to the output dtype), bools as
//! OR of ANDs; the sums are converted to the output dtype at the end.

use super::for_each_index;
use crate::hlo::ir::{ConvDims, DotDims};
use crate::{with_data, with_native_type, DType, Data, Literal, NativeType, Shape};

/// An accumulator type.
trait Acc: Copy {
    const ZERO: Self;
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl Acc for f64 {
    const ZERO: f64 = 0.0;
    fn mul_add(self, a: f64, b: f64) -> f64 {
        self + a * b
    }
}

impl Acc for i64 {
    const ZERO: i64 = 0;
    fn mul_add(self, a: i64, b: i64) -> i64 {
        self.wrapping_add(a.wrapping_mul(b))
    }
}

impl Acc for bool {
    const ZERO: bool = false;
    fn mul_add(self, a: bool, b: bool) -> bool {
        self | (a & b)
    }
}

/// Operand elements in the accumulator domain of the output dtype.
enum Vals {
    F(Vec<f64>),
    I(Vec<i64>),
    B(Vec<bool>),
}

fn vals(x: &Literal, out: DType) -> Vals {
    if out.is_float() {
        Vals::F(with_data!(x.data(), v => v.iter().map(|e| e.to_f64()).collect()))
    } else {
        let d = x.data().convert(out);
        match d {
            Data::Bool(v) => Vals::B(v),
            // Wrapping i64 arithmetic is exact modulo 2^64, enough for every width.
            d => Vals::I(with_data!(&d, v => v.iter().map(|e| e.to_i128() as i64).collect())),
        }
    }
}

fn finish_f(v: Vec<f64>, out: &Shape) -> Literal {
    let data = with_native_type!(out.dtype, T => T::wrap(v.into_iter().map(T::from_f64).collect()));
    Literal::new(out.clone(), data)
}

fn finish_i(v: Vec<i64>, out: &Shape) -> Literal {
    let data = with_native_type!(out.dtype, T => {
        T::wrap(v.into_iter().map(|e| T::from_i128(e as i128)).collect())
    });
    Literal::new(out.clone(), data)
}

/// Runs `f` on both operands in one accumulator domain and converts the result.
macro_rules! in_domain {
    ($l:expr, $r:expr, $out:expr, |$a:ident, $b:ident| $body:expr) => {
        match (vals($l, $out.dtype), vals($r, $out.dtype)) {
            (Vals::F($a), Vals::F($b)) => finish_f($body, $out),
            (Vals::I($a), Vals::I($b)) => finish_i($body, $out),
            (Vals::B($a), Vals::B($b)) => Literal::new($out.clone(), Data::Bool($body)),
            _ => unreachable!("both operands convert to the same domain"),
        }
    };
}

/// Elements of `v` (dims `dims`) reordered so that dims `order` come first, in order.
fn permuted<A: Copy>(v: &[A], dims: &[usize], order: &[usize]) -> Vec<A> {
    let strides = crate::strides_of(dims);
    let pdims: Vec<usize> = order.iter().map(|&d| dims[d]).collect();
    let mut out = Vec::with_capacity(v.len());
    for_each_index(&pdims, |i| {
        out.push(
            v[i.iter()
                .zip(order)
                .map(|(&x, &d)| x * strides[d])
                .sum::<usize>()],
        )
    });
    out
}

pub fn dot_general(l: &Literal, r: &Literal, d: &DotDims, out: &Shape) -> Literal {
    let (ld, rd) = (l.dims(), r.dims());
    let free = |rank: usize, batch: &[usize], contract: &[usize]| -> Vec<usize> {
        (0..rank)
            .filter(|x| !batch.contains(x) && !contract.contains(x))
            .collect()
    };
    let lfree = free(ld.len(), &d.lhs_batch, &d.lhs_contracting);
    let rfree = free(rd.len(), &d.rhs_batch, &d.rhs_contracting);
    let size =
        |dims: &[usize], which: &[usize]| -> usize { which.iter().map(|&x| dims[x]).product() };
    let b = size(ld, &d.lhs_batch);
    let m = size(ld, &lfree);
    let k = size(ld, &d.lhs_contracting);
    let n = size(rd, &rfree);
    // lhs as [batch, free, contracting], rhs as [batch, contracting, free].
    let lorder: Vec<usize> = [&d.lhs_batch[..], &lfree, &d.lhs_contracting].concat();
    let rorder: Vec<usize> = [&d.rhs_batch[..], &d.rhs_contracting, &rfree].concat();
    fn matmul<A: Acc>(l: &[A], r: &[A], b: usize, m: usize, k: usize, n: usize) -> Vec<A> {
        let mut out = vec![A::ZERO; b * m * n];
        for bi in 0..b {
            for mi in 0..m {
                for ni in 0..n {
                    let mut acc = A::ZERO;
                    for ki in 0..k {
                        acc = acc.mul_add(l[(bi * m + mi) * k + ki], r[(bi * k + ki) * n + ni]);
                    }
                    out[(bi * m + mi) * n + ni] = acc;
                }
            }
        }
        out
    }
    in_domain!(l, r, out, |x, y| matmul(
        &permuted(&x, ld, &lorder),
        &permuted(&y, rd, &rorder),
        b,
        m,
        k,
        n
    ))
}

/// Convolution parameters.
pub struct Conv<'a> {
    pub window_strides: &'a [usize],
    pub padding: &'a [(i64, i64)],
    pub lhs_dilation: &'a [usize],
    pub rhs_dilation: &'a [usize],
    pub dims: &'a ConvDims,
    pub feature_group_count: usize,
    pub batch_group_count: usize,
}

/// XLA convolution (StableHLO semantics for the groups: feature groups split the
/// input features and output features into contiguous chunks; batch groups split the
/// input batch and the output features).
pub fn convolution(l: &Literal, r: &Literal, c: &Conv, out: &Shape) -> Literal {
    let geo = Geometry {
        ld: l.dims().to_vec(),
        kd: r.dims().to_vec(),
        ls: l.shape().strides(),
        ks: r.shape().strides(),
    };
    in_domain!(l, r, out, |x, y| conv_loops(&x, &y, &geo, c, &out.dims))
}

struct Geometry {
    ld: Vec<usize>,
    kd: Vec<usize>,
    ls: Vec<usize>,
    ks: Vec<usize>,
}

fn conv_loops<A: Acc>(l: &[A], k: &[A], g: &Geometry, c: &Conv, out_dims: &[usize]) -> Vec<A> {
    let d = c.dims;
    let n = d.input_spatial.len();
    let k_out = g.kd[d.kernel_output_feature];
    let k_in = g.kd[d.kernel_input_feature];
    let feature_chunk = k_out / c.feature_group_count;
    let batch_chunk = k_out / c.batch_group_count;
    let out_batch = out_dims[d.output_batch];
    let kspatial: Vec<usize> = d.kernel_spatial.iter().map(|&s| g.kd[s]).collect();
    let mut out = Vec::with_capacity(out_dims.iter().product());
    for_each_index(out_dims, |o| {
        let f = o[d.output_feature];
        let in_batch = (f / batch_chunk) * out_batch + o[d.output_batch];
        let in_feature0 = (f / feature_chunk) * k_in;
        let mut acc = A::ZERO;
        for_each_index(&kspatial, |w| {
            let (mut loff, mut koff) = (0, 0);
            for i in 0..n {
                let p = (o[d.output_spatial[i]] * c.window_strides[i] + w[i] * c.rhs_dilation[i])
                    as i64
                    - c.padding[i].0;
                let dil = c.lhs_dilation[i] as i64;
                // Padding and lhs-dilation holes hold zeros: skip them.
                if p < 0 || p % dil != 0 || p / dil >= g.ld[d.input_spatial[i]] as i64 {
                    return;
                }
                loff += (p / dil) as usize * g.ls[d.input_spatial[i]];
                koff += w[i] * g.ks[d.kernel_spatial[i]];
            }
            loff += in_batch * g.ls[d.input_batch];
            koff += f * g.ks[d.kernel_output_feature];
            for ci in 0..k_in {
                let lv = l[loff + (in_feature0 + ci) * g.ls[d.input_feature]];
                let kv = k[koff + ci * g.ks[d.kernel_input_feature]];
                acc = acc.mul_add(lv, kv);
            }
        });
        out.push(acc);
    });
    out
}
