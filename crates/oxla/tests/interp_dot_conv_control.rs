//! dot_general, convolution, control flow and the HLO text form.

mod common;
use common::*;
use oxla::{BinaryOp, Builder, CmpDir, ConvDims, DType, DotDims, Literal, Op, Shape};

#[test]
fn dot_general_batched_all_dtypes() {
    let mut rng = Rng::new(30);
    // lhs [b, m, k] with contracting dim 2, batch 0; rhs [k, b, n] with contracting 0, batch 1.
    for (in_dtype, out_dtype) in [
        (DType::F32, DType::F32),
        (DType::BF16, DType::F32),
        (DType::F16, DType::F16),
        (DType::F64, DType::F64),
        (DType::I8, DType::I32),
        (DType::I32, DType::I32),
        (DType::U8, DType::U8),
        (DType::I64, DType::I64),
    ] {
        let (b, m, k, n) = (2, 3, 4, 2);
        let lv: Vec<f64> = (0..b * m * k).map(|_| rng.int(-5, 5) as f64).collect();
        let rv: Vec<f64> = (0..k * b * n).map(|_| rng.int(-5, 5) as f64).collect();
        let lv = if in_dtype.is_unsigned_int() {
            lv.iter().map(|v| v.abs()).collect()
        } else {
            lv
        };
        let rv = if in_dtype.is_unsigned_int() {
            rv.iter().map(|v| v.abs()).collect()
        } else {
            rv
        };
        let (l, r) = (
            lit(in_dtype, &[b, m, k], &lv),
            lit(in_dtype, &[k, b, n], &rv),
        );
        let dims = DotDims {
            lhs_batch: vec![0],
            rhs_batch: vec![1],
            lhs_contracting: vec![2],
            rhs_contracting: vec![0],
        };
        let mut bld = Builder::new("dot");
        let p = bld.parameter(l.shape().clone());
        let q = bld.parameter(r.shape().clone());
        let o = bld.add(Op::DotGeneral { dims, out_dtype }, &[p, q]);
        let got = run(bld.finish(&[o]), &[l, r]).remove(0);
        assert_eq!(got.shape(), &Shape::new(out_dtype, [b, m, n]));
        let mut want = vec![];
        for bi in 0..b {
            for mi in 0..m {
                for ni in 0..n {
                    let s: f64 = (0..k)
                        .map(|ki| lv[(bi * m + mi) * k + ki] * rv[(ki * b + bi) * n + ni])
                        .sum();
                    want.push(s);
                }
            }
        }
        // u8 products wrap modulo 256.
        let want: Vec<f64> = if out_dtype == DType::U8 {
            want.iter().map(|v| v.rem_euclid(256.0)).collect()
        } else {
            want
        };
        assert_eq!(
            f64s(&got),
            round_to(out_dtype, &want),
            "{in_dtype} -> {out_dtype}"
        );
    }
}

struct ConvCase {
    n: usize,
    c: usize,
    o: usize,
    hw: [usize; 2],
    khw: [usize; 2],
    stride: [usize; 2],
    pad: [(i64, i64); 2],
    lhs_dil: [usize; 2],
    rhs_dil: [usize; 2],
    fg: usize,
    bg: usize,
}

/// Reference NCHW/OIHW convolution: explicitly dilate and pad the input, then slide
/// the dilated kernel; groups per StableHLO (contiguous chunks).
fn conv_ref(cc: &ConvCase, x: &[f64], w: &[f64]) -> (Vec<usize>, Vec<f64>) {
    let [h, wd] = cc.hw;
    let ph = ((h - 1) * cc.lhs_dil[0] + 1) as i64 + cc.pad[0].0 + cc.pad[0].1;
    let pw = ((wd - 1) * cc.lhs_dil[1] + 1) as i64 + cc.pad[1].0 + cc.pad[1].1;
    let (ph, pw) = (ph as usize, pw as usize);
    let at = |nn: usize, ci: usize, y: usize, xx: usize| -> f64 {
        // Position in the padded, dilated image -> input value or zero.
        let py = y as i64 - cc.pad[0].0;
        let px = xx as i64 - cc.pad[1].0;
        let (dy, dx) = (cc.lhs_dil[0] as i64, cc.lhs_dil[1] as i64);
        if py < 0 || px < 0 || py % dy != 0 || px % dx != 0 {
            return 0.0;
        }
        let (iy, ix) = ((py / dy) as usize, (px / dx) as usize);
        if iy >= h || ix >= wd {
            return 0.0;
        }
        x[((nn * cc.c + ci) * h + iy) * wd + ix]
    };
    let ekh = (cc.khw[0] - 1) * cc.rhs_dil[0] + 1;
    let ekw = (cc.khw[1] - 1) * cc.rhs_dil[1] + 1;
    let oh = if ph < ekh {
        0
    } else {
        (ph - ekh) / cc.stride[0] + 1
    };
    let ow = if pw < ekw {
        0
    } else {
        (pw - ekw) / cc.stride[1] + 1
    };
    let cin = cc.c / cc.fg;
    let out_n = cc.n / cc.bg;
    let mut out = vec![];
    for nn in 0..out_n {
        for oc in 0..cc.o {
            let fgroup = oc / (cc.o / cc.fg);
            let bgroup = oc / (cc.o / cc.bg);
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = 0.0;
                    for ci in 0..cin {
                        for ky in 0..cc.khw[0] {
                            for kx in 0..cc.khw[1] {
                                let v = at(
                                    bgroup * out_n + nn,
                                    fgroup * cin + ci,
                                    oy * cc.stride[0] + ky * cc.rhs_dil[0],
                                    ox * cc.stride[1] + kx * cc.rhs_dil[1],
                                );
                                s += v * w[((oc * cin + ci) * cc.khw[0] + ky) * cc.khw[1] + kx];
                            }
                        }
                    }
                    out.push(s);
                }
            }
        }
    }
    (vec![out_n, cc.o, oh, ow], out)
}

fn nchw() -> ConvDims {
    ConvDims {
        input_batch: 0,
        input_feature: 1,
        input_spatial: vec![2, 3],
        kernel_output_feature: 0,
        kernel_input_feature: 1,
        kernel_spatial: vec![2, 3],
        output_batch: 0,
        output_feature: 1,
        output_spatial: vec![2, 3],
    }
}

#[test]
fn convolution_strides_padding_dilations_groups() {
    let mut rng = Rng::new(31);
    let mut cases = vec![];
    for i in 0..30 {
        let fg = [1, 2, 1][i % 3];
        let bg = [1, 1, 2][i % 3];
        let cc = ConvCase {
            n: 2 * bg,
            c: fg * rng.int(1, 2) as usize,
            o: 2 * fg * bg,
            hw: [rng.int(3, 6) as usize, rng.int(3, 6) as usize],
            khw: [rng.int(1, 3) as usize, rng.int(1, 3) as usize],
            stride: [rng.int(1, 2) as usize, rng.int(1, 2) as usize],
            pad: [
                (rng.int(0, 2), rng.int(-1, 2)),
                (rng.int(0, 1), rng.int(0, 2)),
            ],
            lhs_dil: [rng.int(1, 2) as usize, 1],
            rhs_dil: [1, rng.int(1, 2) as usize],
            fg,
            bg,
        };
        cases.push(cc);
    }
    for (i, cc) in cases.iter().enumerate() {
        let dtype = [DType::F32, DType::F64, DType::I32][i % 3];
        let xdims = [cc.n, cc.c, cc.hw[0], cc.hw[1]];
        let wdims = [cc.o, cc.c / cc.fg, cc.khw[0], cc.khw[1]];
        let xv: Vec<f64> = (0..xdims.iter().product())
            .map(|_| rng.int(-3, 3) as f64)
            .collect();
        let wv: Vec<f64> = (0..wdims.iter().product())
            .map(|_| rng.int(-3, 3) as f64)
            .collect();
        let (odims, want) = conv_ref(cc, &xv, &wv);
        let (x, w) = (lit(dtype, &xdims, &xv), lit(dtype, &wdims, &wv));
        let mut b = Builder::new("conv");
        let p = b.parameter(x.shape().clone());
        let q = b.parameter(w.shape().clone());
        let o = b.add(
            Op::Convolution {
                window_strides: cc.stride.to_vec(),
                padding: cc.pad.to_vec(),
                lhs_dilation: cc.lhs_dil.to_vec(),
                rhs_dilation: cc.rhs_dil.to_vec(),
                dims: nchw(),
                feature_group_count: cc.fg,
                batch_group_count: cc.bg,
                out_dtype: dtype,
            },
            &[p, q],
        );
        let got = run(b.finish(&[o]), &[x, w]).remove(0);
        assert_eq!(got.dims(), odims, "case {i}");
        assert_eq!(f64s(&got), want, "case {i}");
    }
}

#[test]
fn convolution_nhwc_hwio_layout_matches_nchw() {
    // Same convolution in two layouts: transpose the inputs and the result.
    let mut rng = Rng::new(32);
    let x = lit(DType::F32, &[1, 2, 4, 5], &rng.floats(40, -1.0, 1.0));
    let w = lit(DType::F32, &[3, 2, 2, 2], &rng.floats(24, -1.0, 1.0));
    let conv = |dims: ConvDims| Op::Convolution {
        window_strides: vec![1, 2],
        padding: vec![(1, 0), (0, 1)],
        lhs_dilation: vec![1, 1],
        rhs_dilation: vec![1, 1],
        dims,
        feature_group_count: 1,
        batch_group_count: 1,
        out_dtype: DType::F32,
    };
    let mut b = Builder::new("layouts");
    let p = b.parameter(x.shape().clone());
    let q = b.parameter(w.shape().clone());
    let a = b.add(conv(nchw()), &[p, q]);
    let pt = b.transpose(p, &[0, 2, 3, 1]);
    let qt = b.transpose(q, &[2, 3, 1, 0]);
    let nhwc = ConvDims {
        input_batch: 0,
        input_feature: 3,
        input_spatial: vec![1, 2],
        kernel_output_feature: 3,
        kernel_input_feature: 2,
        kernel_spatial: vec![0, 1],
        output_batch: 0,
        output_feature: 3,
        output_spatial: vec![1, 2],
    };
    let c = b.add(conv(nhwc), &[pt, qt]);
    let back = b.transpose(c, &[0, 3, 1, 2]);
    let out = run(b.finish(&[a, back]), &[x, w]);
    assert_close(&f64s(&out[1]), &f64s(&out[0]), 1e-6, "layouts");
}

#[test]
fn while_loop_sums_one_to_ten() {
    let i32s = Shape::scalar(DType::I32);
    let mut b = Builder::new("sum");
    let cond = b.region("cond", &[i32s.clone(), i32s.clone()], |b, p| {
        let ten = b.constant_i128(DType::I32, 10);
        vec![b.compare(CmpDir::Le, p[0], ten)]
    });
    let body = b.region("body", &[i32s.clone(), i32s.clone()], |b, p| {
        let one = b.constant_i128(DType::I32, 1);
        let next = b.binary(BinaryOp::Add, p[0], one);
        let acc = b.binary(BinaryOp::Add, p[1], p[0]);
        vec![next, acc]
    });
    let i = b.constant_i128(DType::I32, 1);
    let z = b.constant_i128(DType::I32, 0);
    let r = b.add_multi(Op::While { cond, body }, &[i, z]);
    let out = run(b.finish(&r), &[]);
    assert_eq!(out[0].as_slice::<i32>().unwrap(), [11]);
    assert_eq!(out[1].as_slice::<i32>().unwrap(), [55]);
}

#[test]
fn conditional_clamps_index_and_call() {
    let f = Shape::new(DType::F32, [2]);
    let mut b = Builder::new("cond");
    let ops = [BinaryOp::Add, BinaryOp::Mul, BinaryOp::Sub];
    let branches: Vec<_> = ops
        .iter()
        .map(|&op| {
            b.region(op.name(), std::slice::from_ref(&f), |b, p| {
                vec![b.binary(op, p[0], p[0])]
            })
        })
        .collect();
    let idx = b.parameter(Shape::scalar(DType::I32));
    let x = b.parameter(f.clone());
    let r = b.add(
        Op::Conditional {
            branches: branches.clone(),
        },
        &[idx, x],
    );
    let called = b.add(Op::Call { comp: branches[1] }, &[x]);
    let m = b.finish(&[r, called]);
    let xv = Literal::from_vec(&[2], vec![3.0f32, -1.5]);
    for (i, want) in [
        (-5, [6.0, -3.0]),
        (0, [6.0, -3.0]),
        (1, [9.0, 2.25]),
        (2, [0.0, 0.0]),
        (7, [0.0, 0.0]),
    ] {
        let out = run(m.clone(), &[Literal::scalar(i), xv.clone()]);
        assert_eq!(out[0].as_slice::<f32>().unwrap(), want, "index {i}");
        assert_eq!(out[1].as_slice::<f32>().unwrap(), [9.0, 2.25]);
    }
    // A bool index picks branch 0 for false and 1 for true.
    let mut b = Builder::new("cond_bool");
    let br: Vec<_> = ops[..2]
        .iter()
        .map(|&op| {
            b.region(op.name(), std::slice::from_ref(&f), |b, p| {
                vec![b.binary(op, p[0], p[0])]
            })
        })
        .collect();
    let pred = b.parameter(Shape::scalar(DType::Bool));
    let x = b.parameter(f.clone());
    let r = b.add(Op::Conditional { branches: br }, &[pred, x]);
    let m = b.finish(&[r]);
    let out = run(m.clone(), &[Literal::scalar(true), xv.clone()]);
    assert_eq!(out[0].as_slice::<f32>().unwrap(), [9.0, 2.25]);
    let out = run(m, &[Literal::scalar(false), xv]);
    assert_eq!(out[0].as_slice::<f32>().unwrap(), [6.0, -3.0]);
}

#[test]
fn evaluate_rejects_bad_arguments() {
    let mut b = Builder::new("m");
    let x = b.parameter(Shape::new(DType::F32, [2]));
    let m = b.finish(&[x]);
    let e = oxla::backend::interp::evaluate(&m, &[Literal::scalar(1.0f32)]).unwrap_err();
    assert!(e.contains("argument 0"), "{e}");
    assert!(oxla::backend::interp::evaluate(&m, &[]).is_err());
}

#[test]
fn hlo_text_golden() {
    let mut b = Builder::new("axpy");
    let x = b.parameter(Shape::new(DType::F32, [3]));
    let y = b.parameter(Shape::new(DType::F32, [3]));
    let two = b.constant_f64(DType::F32, 2.0);
    let two = b.broadcast_in_dim(two, &[3], &[]);
    let ax = b.binary(BinaryOp::Mul, two, x);
    let out = b.binary(BinaryOp::Add, ax, y);
    let add = b.scalar_binary_region(BinaryOp::Add, DType::F32);
    let zero = b.constant_f64(DType::F32, 0.0);
    let sum = b.reduce(&[out], &[zero], &[0], add);
    let m = b.finish(&[out, sum[0]]);
    let want = "\
HloModule axpy

add.0 {
  %0 = f32[] parameter(0)
  %1 = f32[] parameter(1)
  %2 = f32[] add(%0, %1)
  ROOT (%2)
}

ENTRY main {
  %0 = f32[3] parameter(0)
  %1 = f32[3] parameter(1)
  %2 = f32[] constant(2.0)
  %3 = f32[3] broadcast_in_dim(%2), dimensions={}
  %4 = f32[3] multiply(%3, %0)
  %5 = f32[3] add(%4, %1)
  %6 = f32[] constant(0.0)
  %7 = f32[] reduce(%5, %6), dimensions={0}, to_apply=add.0
  ROOT (%5, %7)
}
";
    assert_eq!(oxla::hlo::text::module_to_text(&m), want);
    assert_eq!(m.to_string(), want);
}

#[test]
fn hlo_text_prints_op_attributes() {
    let mut b = Builder::new("attrs");
    let x = b.parameter(Shape::new(DType::F32, [1, 2, 5, 5]));
    let w = b.parameter(Shape::new(DType::F32, [4, 1, 3, 3]));
    let c = b.add(
        Op::Convolution {
            window_strides: vec![2, 1],
            padding: vec![(1, 1), (0, 0)],
            lhs_dilation: vec![1, 1],
            rhs_dilation: vec![1, 2],
            dims: nchw(),
            feature_group_count: 2,
            batch_group_count: 1,
            out_dtype: DType::F32,
        },
        &[x, w],
    );
    let s = Shape::scalar(DType::F32);
    let less = b.region("less", &[s.clone(), s], |b, p| {
        vec![b.compare(CmpDir::Lt, p[0], p[1])]
    });
    let flat = b.reshape(c, &[12]);
    let sorted = b.add_multi(
        Op::Sort {
            dim: 0,
            is_stable: true,
            body: less,
        },
        &[flat],
    );
    let top = b.add_multi(Op::TopK { k: 2 }, &[sorted[0]]);
    let m = b.finish(&[top[0], top[1]]);
    let text = m.to_string();
    for needle in [
        "window={size=3x3 stride=2x1 pad=1_1x0_0 lhs_dilate=1x1 rhs_dilate=1x2}",
        "dim_labels=bf01_oi01->bf01",
        "feature_group_count=2",
        "sort(%3), dimensions={0}, is_stable=true, to_apply=less.0",
        "= (f32[2], i32[2]) top_k(%4), k=2",
        "ROOT (%5.0, %5.1)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}
