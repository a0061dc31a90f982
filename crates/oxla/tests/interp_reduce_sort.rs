//! Reduce, reduce_window, sort and top_k against naive references.

mod common;
use common::*;
use oxla::{BinaryOp, Builder, CmpDir, DType, Literal, Op, Shape};

#[test]
fn reduce_sum_max_all_dtypes() {
    let mut rng = Rng::new(20);
    for dtype in FLOATS.into_iter().chain(INTS) {
        let dims = rng.dims(3, 4);
        let n: usize = dims.iter().product();
        let vals: Vec<f64> = (0..n).map(|_| rng.int(0, 9) as f64).collect();
        let x = lit(dtype, &dims, &vals);
        for (op, init, f) in [
            (
                BinaryOp::Add,
                0.0,
                (|a: f64, b: f64| a + b) as fn(f64, f64) -> f64,
            ),
            (BinaryOp::Max, 0.0, |a: f64, b: f64| a.max(b)),
            (BinaryOp::Min, 100.0, |a: f64, b: f64| a.min(b)),
        ] {
            let mut b = Builder::new("reduce");
            let p = b.parameter(x.shape().clone());
            let body = b.scalar_binary_region(op, dtype);
            let i = b.constant_f64(dtype, init);
            let r = b.reduce(&[p], &[i], &[0, 2], body);
            let got = f64s(&run(b.finish(&r), std::slice::from_ref(&x))[0]);
            let want: Vec<f64> = (0..dims[1])
                .map(|j| {
                    let mut acc = init;
                    for a in 0..dims[0] {
                        for c in 0..dims[2] {
                            acc = f(acc, vals[(a * dims[1] + j) * dims[2] + c]);
                        }
                    }
                    acc
                })
                .collect();
            assert_eq!(got, round_to(dtype, &want), "{} {dtype}", op.name());
        }
    }
}

#[test]
fn reduce_max_propagates_nan_and_bool_and_or() {
    let x = lit(DType::F32, &[2, 3], &[1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0]);
    let mut b = Builder::new("reduce");
    let p = b.parameter(x.shape().clone());
    let body = b.scalar_binary_region(BinaryOp::Max, DType::F32);
    let i = b.constant_f64(DType::F32, f64::NEG_INFINITY);
    let r = b.reduce(&[p], &[i], &[1], body);
    let got = f64s(&run(b.finish(&r), &[x])[0]);
    assert!(got[0].is_nan() && got[1] == 6.0);

    let x = Literal::from_vec(&[2, 2], vec![true, false, true, true]);
    for (op, init, want) in [
        (BinaryOp::And, true, [false, true]),
        (BinaryOp::Or, false, [true, true]),
    ] {
        let mut b = Builder::new("reduce");
        let p = b.parameter(x.shape().clone());
        let body = b.scalar_binary_region(op, DType::Bool);
        let i = b.constant(Literal::scalar(init));
        let r = b.reduce(&[p], &[i], &[1], body);
        assert_eq!(
            run(b.finish(&r), std::slice::from_ref(&x))[0]
                .as_slice::<bool>()
                .unwrap(),
            want
        );
    }
}

#[test]
fn variadic_argmax_uses_general_region() {
    let vals = [3.0, 7.0, 7.0, 1.0, 2.0, 9.0, 0.0, 9.0];
    let x = lit(DType::F32, &[2, 4], &vals);
    let mut b = Builder::new("argmax");
    let p = b.parameter(x.shape().clone());
    let idx = b.iota(Shape::new(DType::I32, [2, 4]), 1);
    let (f, i) = (Shape::scalar(DType::F32), Shape::scalar(DType::I32));
    // Ties keep the lower index: take the new element only when strictly greater.
    let body = b.region("argmax", &[f.clone(), i.clone(), f, i], |b, q| {
        let gt = b.compare(CmpDir::Gt, q[2], q[0]);
        vec![b.select(gt, q[2], q[0]), b.select(gt, q[3], q[1])]
    });
    let lo = b.constant_f64(DType::F32, f64::NEG_INFINITY);
    let zero = b.constant_i128(DType::I32, 0);
    let r = b.reduce(&[p, idx], &[lo, zero], &[1], body);
    let out = run(b.finish(&r), &[x]);
    assert_eq!(f64s(&out[0]), [7.0, 9.0]);
    assert_eq!(out[1].as_slice::<i32>().unwrap(), [1, 1]);
}

#[allow(clippy::too_many_arguments)]
fn reduce_window_ref(
    x: &[f64],
    dims: &[usize],
    window: &[usize],
    strides: &[usize],
    base: &[usize],
    wdil: &[usize],
    pad: &[(i64, i64)],
    init: f64,
    f: fn(f64, f64) -> f64,
) -> (Vec<usize>, Vec<f64>) {
    // Materialise the dilated, padded input with holes as None, then slide the window.
    let r = dims.len();
    let pdims: Vec<usize> = (0..r)
        .map(|d| ((dims[d] as i64 - 1) * base[d] as i64 + 1 + pad[d].0 + pad[d].1).max(0) as usize)
        .collect();
    let total: usize = pdims.iter().product();
    let mut padded: Vec<Option<f64>> = vec![None; total];
    for (i, &v) in x.iter().enumerate() {
        let mut rem = i;
        let mut pos = vec![0i64; r];
        for d in (0..r).rev() {
            pos[d] = (rem % dims[d]) as i64 * base[d] as i64 + pad[d].0;
            rem /= dims[d];
        }
        if (0..r).all(|d| pos[d] >= 0 && pos[d] < pdims[d] as i64) {
            let flat = (0..r).fold(0, |acc, d| acc * pdims[d] + pos[d] as usize);
            padded[flat] = Some(v);
        }
    }
    let odims: Vec<usize> = (0..r)
        .map(|d| {
            let w = (window[d] - 1) * wdil[d] + 1;
            if pdims[d] < w {
                0
            } else {
                (pdims[d] - w) / strides[d] + 1
            }
        })
        .collect();
    let n: usize = odims.iter().product();
    let wn: usize = window.iter().product();
    let mut out = Vec::with_capacity(n);
    for o in 0..n {
        let mut oi = vec![0; r];
        let mut rem = o;
        for d in (0..r).rev() {
            oi[d] = rem % odims[d];
            rem /= odims[d];
        }
        let mut acc = init;
        for w in 0..wn {
            let mut wi = vec![0; r];
            let mut rem = w;
            for d in (0..r).rev() {
                wi[d] = rem % window[d];
                rem /= window[d];
            }
            let flat = (0..r).fold(0, |acc, d| {
                acc * pdims[d] + oi[d] * strides[d] + wi[d] * wdil[d]
            });
            if let Some(v) = padded[flat] {
                acc = f(acc, v);
            }
        }
        out.push(acc);
    }
    (odims, out)
}

#[test]
fn reduce_window_padding_strides_dilations() {
    let mut rng = Rng::new(21);
    for case in 0..24 {
        let dtype = [DType::F32, DType::F64, DType::I32, DType::BF16][case % 4];
        let dims = rng.dims(2, 6);
        let window: Vec<usize> = (0..2).map(|_| rng.int(1, 3) as usize).collect();
        let strides: Vec<usize> = (0..2).map(|_| rng.int(1, 2) as usize).collect();
        let base: Vec<usize> = (0..2).map(|_| rng.int(1, 2) as usize).collect();
        let wdil: Vec<usize> = (0..2).map(|_| rng.int(1, 2) as usize).collect();
        let pad: Vec<(i64, i64)> = (0..2).map(|_| (rng.int(0, 2), rng.int(-1, 2))).collect();
        let n: usize = dims.iter().product();
        let vals: Vec<f64> = (0..n).map(|_| rng.int(-20, 20) as f64).collect();
        let x = lit(dtype, &dims, &vals);
        let (op, init, f) = if case % 2 == 0 {
            (
                BinaryOp::Add,
                0.0,
                (|a: f64, b: f64| a + b) as fn(f64, f64) -> f64,
            )
        } else {
            (
                BinaryOp::Max,
                -1000.0,
                (|a: f64, b: f64| a.max(b)) as fn(f64, f64) -> f64,
            )
        };
        let (odims, want) =
            reduce_window_ref(&vals, &dims, &window, &strides, &base, &wdil, &pad, init, f);
        let mut b = Builder::new("rw");
        let p = b.parameter(x.shape().clone());
        let body = b.scalar_binary_region(op, dtype);
        let i = b.constant_f64(dtype, init);
        let r = b.add(
            Op::ReduceWindow {
                window,
                strides,
                base_dilation: base,
                window_dilation: wdil,
                padding: pad,
                body,
            },
            &[p, i],
        );
        let got = run(b.finish(&[r]), &[x]).remove(0);
        assert_eq!(got.dims(), odims, "case {case}");
        assert_eq!(f64s(&got), round_to(dtype, &want), "case {case}");
    }
}

fn sort_module(xs: &[Literal], dim: usize, total_order: bool, general: bool) -> Vec<Literal> {
    let mut b = Builder::new("sort");
    let ps: Vec<_> = xs.iter().map(|x| b.parameter(x.shape().clone())).collect();
    let params: Vec<Shape> = xs
        .iter()
        .flat_map(|x| [Shape::scalar(x.dtype()), Shape::scalar(x.dtype())])
        .collect();
    let body = b.region("less", &params, |b, p| {
        let lt = b.add(
            Op::Compare {
                dir: CmpDir::Lt,
                total_order,
            },
            &[p[0], p[1]],
        );
        if general {
            // Same predicate, but not recognisable as a plain compare.
            let t = b.constant(Literal::scalar(true));
            vec![b.binary(BinaryOp::And, lt, t)]
        } else {
            vec![lt]
        }
    });
    let r = b.add_multi(
        Op::Sort {
            dim,
            is_stable: true,
            body,
        },
        &ps,
    );
    run(b.finish(&r), xs)
}

#[test]
fn sort_stable_total_order_with_nan() {
    let keys = [3.0, f64::NAN, -0.0, 1.0, 0.0, -f64::INFINITY, 1.0, 3.0];
    for dtype in FLOATS {
        for general in [false, true] {
            let x = lit(dtype, &[8], &keys);
            let tag = Literal::from_vec(&[8], (0..8).collect::<Vec<i32>>());
            let out = sort_module(&[x, tag], 0, true, general);
            assert_eq!(
                out[1].as_slice::<i32>().unwrap(),
                [5, 2, 4, 3, 6, 0, 7, 1],
                "{dtype}"
            );
        }
    }
    // Along dim 0 of a matrix, several operands, integer keys.
    let mut rng = Rng::new(22);
    for dtype in INTS {
        let vals: Vec<i128> = (0..12).map(|_| rng.int(0, 4) as i128).collect();
        let x = lit_i(dtype, &[4, 3], &vals);
        let tag = Literal::from_vec(&[4, 3], (0..12).collect::<Vec<i64>>());
        let out = sort_module(&[x, tag], 0, false, false);
        let tags = out[1].as_slice::<i64>().unwrap();
        for c in 0..3 {
            let mut col: Vec<(i128, i64)> = (0..4)
                .map(|r| (vals[r * 3 + c], (r * 3 + c) as i64))
                .collect();
            col.sort_by_key(|p| p.0);
            for r in 0..4 {
                assert_eq!(tags[r * 3 + c], col[r].1, "{dtype}");
                assert_eq!(i128s(&out[0])[r * 3 + c], col[r].0);
            }
        }
    }
}

#[test]
fn top_k_nan_largest_ties_lower_index() {
    let vals = [1.0, f64::NAN, 5.0, 5.0, -1.0, 7.0, 2.0, 2.0, 0.0, 2.0];
    for dtype in FLOATS {
        let x = lit(dtype, &[2, 5], &vals);
        let mut b = Builder::new("topk");
        let p = b.parameter(x.shape().clone());
        let r = b.add_multi(Op::TopK { k: 3 }, &[p]);
        let out = run(b.finish(&r), &[x]);
        let v = f64s(&out[0]);
        assert!(v[0].is_nan());
        assert_eq!(&v[1..], [5.0, 5.0, 7.0, 2.0, 2.0]);
        assert_eq!(out[1].as_slice::<i32>().unwrap(), [1, 2, 3, 0, 1, 2]);
    }
    let x = Literal::from_vec(&[4], vec![3u8, 200, 3, 9]);
    let mut b = Builder::new("topk");
    let p = b.parameter(x.shape().clone());
    let r = b.add_multi(Op::TopK { k: 4 }, &[p]);
    let out = run(b.finish(&r), &[x]);
    assert_eq!(out[0].as_slice::<u8>().unwrap(), [200, 9, 3, 3]);
    assert_eq!(out[1].as_slice::<i32>().unwrap(), [1, 3, 0, 2]);
}
