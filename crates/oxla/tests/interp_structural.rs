//! Data-movement ops, gather and scatter, against index arithmetic done here.

mod common;
use common::*;
use oxla::{BinaryOp, Builder, DType, GatherDims, Literal, Op, ScatterDims, Shape};

/// Row-major multi-index of flat position `i`.
fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for d in (0..dims.len()).rev() {
        idx[d] = i % dims[d];
        i /= dims[d];
    }
    idx
}

fn ravel(idx: &[usize], dims: &[usize]) -> usize {
    idx.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i)
}

fn one_op(op: Op, args: &[Literal]) -> Literal {
    let mut b = Builder::new("t");
    let ps: Vec<_> = args
        .iter()
        .map(|a| b.parameter(a.shape().clone()))
        .collect();
    let r = b.add(op, &ps);
    run(b.finish(&[r]), args).remove(0)
}

fn iota_lit(dtype: DType, dims: &[usize]) -> Literal {
    let n: usize = dims.iter().product();
    lit(dtype, dims, &(0..n).map(|i| i as f64).collect::<Vec<_>>())
}

#[test]
fn broadcast_reshape_transpose_reverse_slice() {
    let mut rng = Rng::new(10);
    for dtype in DType::ALL {
        let dims = rng.dims(3, 4);
        let x = if dtype.is_bool() {
            let n: usize = dims.iter().product();
            Literal::from_vec(&dims, (0..n).map(|i| i % 3 == 0).collect())
        } else {
            iota_lit(dtype, &dims)
        };
        let xs = f64s(&x);
        // broadcast [a,b,c] -> [a,2,b,c] with dims (0,2,3).
        let out_dims = vec![dims[0], 2, dims[1], dims[2]];
        let op = Op::BroadcastInDim {
            out_dims: out_dims.clone(),
            broadcast_dims: vec![0, 2, 3],
        };
        let got = f64s(&one_op(op, std::slice::from_ref(&x)));
        let n: usize = out_dims.iter().product();
        let want: Vec<f64> = (0..n)
            .map(|i| {
                let o = unravel(i, &out_dims);
                xs[ravel(&[o[0], o[2], o[3]], &dims)]
            })
            .collect();
        assert_eq!(got, want, "broadcast {dtype}");

        let got = one_op(
            Op::Reshape {
                dims: vec![dims[2], dims[0] * dims[1]],
            },
            std::slice::from_ref(&x),
        );
        assert_eq!(f64s(&got), xs);

        let perm = [2, 0, 1];
        let tdims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
        let got = f64s(&one_op(
            Op::Transpose {
                perm: perm.to_vec(),
            },
            std::slice::from_ref(&x),
        ));
        let want: Vec<f64> = (0..xs.len())
            .map(|i| {
                let o = unravel(i, &tdims);
                let mut src = vec![0; 3];
                for k in 0..3 {
                    src[perm[k]] = o[k];
                }
                xs[ravel(&src, &dims)]
            })
            .collect();
        assert_eq!(got, want, "transpose {dtype}");

        let got = f64s(&one_op(
            Op::Reverse { dims: vec![0, 2] },
            std::slice::from_ref(&x),
        ));
        let want: Vec<f64> = (0..xs.len())
            .map(|i| {
                let o = unravel(i, &dims);
                xs[ravel(&[dims[0] - 1 - o[0], o[1], dims[2] - 1 - o[2]], &dims)]
            })
            .collect();
        assert_eq!(got, want, "reverse {dtype}");

        let start = vec![0, dims[1] / 2, 0];
        let limit = dims.clone();
        let strides = vec![2, 1, 3];
        let op = Op::Slice {
            start: start.clone(),
            limit: limit.clone(),
            strides: strides.clone(),
        };
        let got = one_op(op, std::slice::from_ref(&x));
        let sdims: Vec<usize> = (0..3)
            .map(|d| (limit[d] - start[d]).div_ceil(strides[d]))
            .collect();
        assert_eq!(got.dims(), sdims);
        let want: Vec<f64> = (0..got.num_elements())
            .map(|i| {
                let o = unravel(i, &sdims);
                let src: Vec<usize> = (0..3).map(|d| start[d] + o[d] * strides[d]).collect();
                xs[ravel(&src, &dims)]
            })
            .collect();
        assert_eq!(f64s(&got), want, "slice {dtype}");
    }
}

#[test]
fn dynamic_slice_and_update_clamp() {
    let x = iota_lit(DType::F32, &[4, 5]);
    let idx = |v: i64| Literal::scalar(v as i32);
    // Start (3, -2) clamps to (2, 0) for a [2, 3] window.
    let got = one_op(
        Op::DynamicSlice { sizes: vec![2, 3] },
        &[x.clone(), idx(3), idx(-2)],
    );
    assert_eq!(f64s(&got), [10.0, 11.0, 12.0, 15.0, 16.0, 17.0]);
    let u = lit(DType::F32, &[2, 2], &[-1.0, -2.0, -3.0, -4.0]);
    let got = one_op(
        Op::DynamicUpdateSlice,
        &[x.clone(), u, Literal::scalar(1i64), Literal::scalar(9u8)],
    );
    let mut want = f64s(&x);
    // Column start 9 clamps to 3.
    want[8] = -1.0;
    want[9] = -2.0;
    want[13] = -3.0;
    want[14] = -4.0;
    assert_eq!(f64s(&got), want);
}

#[test]
fn concatenate_parts() {
    let a = iota_lit(DType::I16, &[2, 1]);
    let b = lit(DType::I16, &[2, 0], &[]);
    let c = lit(DType::I16, &[2, 2], &[10.0, 11.0, 12.0, 13.0]);
    let got = one_op(Op::Concatenate { dim: 1 }, &[a.clone(), b, c]);
    assert_eq!(got.dims(), [2, 3]);
    assert_eq!(f64s(&got), [0.0, 10.0, 11.0, 1.0, 12.0, 13.0]);
    let got = one_op(Op::Concatenate { dim: 0 }, &[a.clone(), a]);
    assert_eq!(f64s(&got), [0.0, 1.0, 0.0, 1.0]);
}

#[test]
fn pad_negative_and_interior() {
    let mut rng = Rng::new(11);
    for _ in 0..10 {
        let dims = rng.dims(2, 4);
        let x = iota_lit(DType::F64, &dims);
        let low: Vec<i64> = (0..2).map(|_| rng.int(-1, 2)).collect();
        let high: Vec<i64> = (0..2).map(|_| rng.int(-1, 2)).collect();
        let interior: Vec<usize> = (0..2).map(|_| rng.int(0, 2) as usize).collect();
        let out: Vec<i64> = (0..2)
            .map(|d| {
                let n = dims[d] as i64;
                low[d] + high[d] + n + (n - 1) * interior[d] as i64
            })
            .collect();
        if out.iter().any(|&o| o < 0) {
            continue;
        }
        let op = Op::Pad {
            low: low.clone(),
            high,
            interior: interior.clone(),
        };
        let got = one_op(op, &[x.clone(), Literal::scalar(-1.0f64)]);
        // Reference: build the fully padded array, then crop the negative parts.
        let odims: Vec<usize> = out.iter().map(|&o| o as usize).collect();
        let mut want = vec![-1.0; odims.iter().product()];
        for (i, &v) in f64s(&x).iter().enumerate() {
            let s = unravel(i, &dims);
            let pos: Vec<i64> = (0..2)
                .map(|d| low[d] + (s[d] * (interior[d] + 1)) as i64)
                .collect();
            if (0..2).all(|d| pos[d] >= 0 && pos[d] < out[d]) {
                let p: Vec<usize> = pos.iter().map(|&p| p as usize).collect();
                want[ravel(&p, &odims)] = v;
            }
        }
        assert_eq!(got.dims(), odims);
        assert_eq!(f64s(&got), want);
    }
}

#[test]
fn gather_clamps_starts() {
    // x[idx, :] on a [5, 3] operand; indices 7 and -3 clamp to 4 and 0.
    let x = iota_lit(DType::F32, &[5, 3]);
    let idx = Literal::from_vec(&[4, 1], vec![1i32, 7, -3, 4]);
    let dims = GatherDims {
        offset_dims: vec![1],
        collapsed_slice_dims: vec![0],
        start_index_map: vec![0],
        ..Default::default()
    };
    let op = Op::Gather {
        dims,
        slice_sizes: vec![1, 3],
        indices_are_sorted: false,
    };
    let got = one_op(op, &[x.clone(), idx]);
    assert_eq!(got.dims(), [4, 3]);
    let rows = [1, 4, 0, 4];
    let want: Vec<f64> = rows
        .iter()
        .flat_map(|&r| (0..3).map(move |c| (r * 3 + c) as f64))
        .collect();
    assert_eq!(f64s(&got), want);

    // 2-d windows: a [2, 2] window at (i, j), clamped so it fits.
    let idx = Literal::from_vec(&[3, 2], vec![0i64, 0, 4, 2, 2, -1]);
    let dims = GatherDims {
        offset_dims: vec![1, 2],
        start_index_map: vec![0, 1],
        ..Default::default()
    };
    let op = Op::Gather {
        dims,
        slice_sizes: vec![2, 2],
        indices_are_sorted: false,
    };
    let got = one_op(op, &[x.clone(), idx]);
    let starts = [(0, 0), (3, 1), (2, 0)];
    let want: Vec<f64> = starts
        .iter()
        .flat_map(|&(r, c)| [(r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)])
        .map(|(r, c)| (r * 3 + c) as f64)
        .collect();
    assert_eq!(f64s(&got), want);

    // Batching dims: out[b] = x[b, idx[b]].
    let idx = Literal::from_vec(&[5, 1], vec![2i32, 0, 1, 9, 2]);
    let dims = GatherDims {
        offset_dims: vec![],
        collapsed_slice_dims: vec![1],
        operand_batching_dims: vec![0],
        start_indices_batching_dims: vec![0],
        start_index_map: vec![1],
    };
    let op = Op::Gather {
        dims,
        slice_sizes: vec![1, 1],
        indices_are_sorted: false,
    };
    let got = one_op(op, &[x, idx]);
    assert_eq!(f64s(&got), [2.0, 3.0, 7.0, 11.0, 14.0]);
}

fn scatter_module(
    x: &Literal,
    idx: &Literal,
    upd: &Literal,
    dims: ScatterDims,
    body: Option<BinaryOp>,
) -> Literal {
    let mut b = Builder::new("scatter");
    let s = Shape::scalar(x.dtype());
    let region = match body {
        Some(op) => b.scalar_binary_region(op, x.dtype()),
        None => b.region("overwrite", &[s.clone(), s], |_, p| vec![p[1]]),
    };
    let ps = [x, idx, upd].map(|l| b.parameter(l.shape().clone()));
    let r = b.add(
        Op::Scatter {
            dims,
            body: region,
            indices_are_sorted: false,
            unique_indices: false,
        },
        &ps,
    );
    run(b.finish(&[r]), &[x.clone(), idx.clone(), upd.clone()]).remove(0)
}

#[test]
fn scatter_drops_oob_and_accumulates_duplicates() {
    let row_dims = ScatterDims {
        update_window_dims: vec![1],
        inserted_window_dims: vec![0],
        scatter_dims_to_operand_dims: vec![0],
        ..Default::default()
    };
    for dtype in [DType::F32, DType::I32, DType::U8, DType::BF16] {
        let x = lit(dtype, &[4, 2], &[0.0; 8]);
        let idx = Literal::from_vec(&[5, 1], vec![1i32, 3, 1, 4, -1]);
        let upd = lit(
            dtype,
            &[5, 2],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        );
        let got = scatter_module(&x, &idx, &upd, row_dims.clone(), Some(BinaryOp::Add));
        assert_eq!(
            f64s(&got),
            [0.0, 0.0, 6.0, 8.0, 0.0, 0.0, 3.0, 4.0],
            "add {dtype}"
        );
        let got = scatter_module(&x, &idx, &upd, row_dims.clone(), None);
        assert_eq!(
            f64s(&got),
            [0.0, 0.0, 5.0, 6.0, 0.0, 0.0, 3.0, 4.0],
            "set {dtype}"
        );
    }
    // A window partly out of bounds is dropped whole: [2]-wide windows into [5].
    let dims = ScatterDims {
        update_window_dims: vec![1],
        inserted_window_dims: vec![],
        scatter_dims_to_operand_dims: vec![0],
        ..Default::default()
    };
    let x = lit(DType::F64, &[5], &[0.0; 5]);
    let idx = Literal::from_vec(&[3, 1], vec![0i64, 4, 3]);
    let upd = lit(DType::F64, &[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let got = scatter_module(&x, &idx, &upd, dims.clone(), Some(BinaryOp::Max));
    assert_eq!(f64s(&got), [1.0, 2.0, 0.0, 5.0, 6.0]);
    // A non-trivial body goes through the region interpreter: (a, b) -> a * 2 + b.
    let mut b = Builder::new("scatter");
    let s = Shape::scalar(DType::F64);
    let region = b.region("double_add", &[s.clone(), s], |b, p| {
        let two = b.constant_f64(DType::F64, 2.0);
        let d = b.binary(BinaryOp::Mul, p[0], two);
        vec![b.binary(BinaryOp::Add, d, p[1])]
    });
    let ps = [&x, &idx, &upd].map(|l| b.parameter(l.shape().clone()));
    let x1 = lit(DType::F64, &[5], &[1.0; 5]);
    let r = b.add(
        Op::Scatter {
            dims,
            body: region,
            indices_are_sorted: false,
            unique_indices: false,
        },
        &ps,
    );
    let got = run(b.finish(&[r]), &[x1, idx, upd]).remove(0);
    assert_eq!(f64s(&got), [3.0, 4.0, 1.0, 7.0, 8.0]);
}

#[test]
fn scatter_with_batching_dims() {
    // out[b, idx[b]] += upd[b].
    let dims = ScatterDims {
        update_window_dims: vec![],
        inserted_window_dims: vec![1],
        input_batching_dims: vec![0],
        scatter_indices_batching_dims: vec![0],
        scatter_dims_to_operand_dims: vec![1],
    };
    let x = lit(DType::I64, &[3, 3], &[0.0; 9]);
    let idx = Literal::from_vec(&[3, 1], vec![2i32, 0, 5]);
    let upd = lit(DType::I64, &[3], &[7.0, 8.0, 9.0]);
    let got = scatter_module(&x, &idx, &upd, dims, Some(BinaryOp::Add));
    assert_eq!(f64s(&got), [0.0, 0.0, 7.0, 8.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
}
