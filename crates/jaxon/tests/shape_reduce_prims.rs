//! Shape and reduction primitives on every dtype against index-arithmetic references.

mod support;

use jaxon::lax;
use jaxon::prelude::*;
use support::*;

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i)
}

#[test]
fn transpose_rev_slice_on_every_dtype() {
    let mut rng = Rng::new(11);
    for dtype in DType::ALL {
        let shape = vec![
            rng.int(1, 4) as usize,
            rng.int(1, 4) as usize,
            rng.int(1, 4) as usize,
        ];
        let x = random_array(&mut rng, dtype, &shape, -50.0, 50.0);
        let xv = x.to_f64_vec();
        // transpose (2, 0, 1)
        let perm = [2usize, 0, 1];
        let t = lax::transpose(&x, &perm);
        let tshape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        assert_eq!(t.shape(), &tshape[..]);
        let tv = t.to_f64_vec();
        for (o, &v) in tv.iter().enumerate() {
            let oi = unravel(o, &tshape);
            let mut si = vec![0; 3];
            for (k, &p) in perm.iter().enumerate() {
                si[p] = oi[k];
            }
            assert_eq!(v, xv[ravel(&si, &shape)], "transpose {dtype}");
        }
        // rev over dims 0 and 2
        let r = lax::rev(&x, &[0, 2]).to_f64_vec();
        for (o, &v) in r.iter().enumerate() {
            let mut i = unravel(o, &shape);
            i[0] = shape[0] - 1 - i[0];
            i[2] = shape[2] - 1 - i[2];
            assert_eq!(v, xv[ravel(&i, &shape)], "rev {dtype}");
        }
        // strided slice
        let start = [0, 0, shape[2] / 2];
        let limit = shape.clone();
        let strides = [2, 1, 1];
        let s = lax::slice(&x, &start, &limit, Some(&strides));
        let sshape: Vec<usize> = (0..3)
            .map(|d| (limit[d] - start[d]).div_ceil(strides[d]))
            .collect();
        assert_eq!(s.shape(), &sshape[..]);
        for (o, &v) in s.to_f64_vec().iter().enumerate() {
            let oi = unravel(o, &sshape);
            let si: Vec<usize> = (0..3).map(|d| start[d] + oi[d] * strides[d]).collect();
            assert_eq!(v, xv[ravel(&si, &shape)], "slice {dtype}");
        }
        // reshape / squeeze / expand_dims / broadcast_in_dim keep row-major order
        let flat = lax::reshape(&x, &[x.size()]);
        assert_eq!(flat.to_f64_vec(), xv);
        let e = lax::expand_dims(&x, &[0, 4]);
        assert_eq!(e.shape(), &[1, shape[0], shape[1], shape[2], 1]);
        assert_eq!(lax::squeeze(&e, &[0, 4]).shape(), &shape[..]);
        let b = lax::broadcast_in_dim(&x, &[2, shape[0], shape[1], shape[2]], &[1, 2, 3]);
        let bv = b.to_f64_vec();
        assert_eq!(&bv[..xv.len()], &xv[..]);
        assert_eq!(&bv[xv.len()..], &xv[..]);
    }
}

#[test]
fn concatenate_and_pad_with_negative_and_interior() {
    let mut rng = Rng::new(12);
    for dtype in DType::ALL {
        let a = random_array(&mut rng, dtype, &[2, 3], -9.0, 9.0);
        let b = random_array(&mut rng, dtype, &[1, 3], -9.0, 9.0);
        let c = lax::concatenate(&[a.clone(), b.clone()], 0);
        let mut want = a.to_f64_vec();
        want.extend(b.to_f64_vec());
        assert_eq!(c.to_f64_vec(), want, "concatenate {dtype}");
        // pad a 1-d array: low -1 (crop), high 2, interior 1
        let x = random_array(&mut rng, dtype, &[4], -9.0, 9.0);
        let v = random_array(&mut rng, dtype, &[], -9.0, 9.0);
        let p = lax::pad(&x, &v, &[(-1, 2, 1)]);
        let xv = x.to_f64_vec();
        let pv = v.to_f64_vec()[0];
        // interior-padded: x0 v x1 v x2 v x3, then crop 1 at the front, add 2 at the back
        let mut full = Vec::new();
        for (i, &e) in xv.iter().enumerate() {
            if i > 0 {
                full.push(pv);
            }
            full.push(e);
        }
        let mut want: Vec<f64> = full[1..].to_vec();
        want.extend([pv, pv]);
        assert_eq!(p.to_f64_vec(), want, "pad {dtype}");
    }
}

#[test]
fn iota_counts_along_a_dimension() {
    for dtype in [DType::I32, DType::U8, DType::F32, DType::I64, DType::BF16] {
        let x = lax::broadcasted_iota(dtype, &[2, 3], 1);
        assert_eq!(x.to_f64_vec(), vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
        let y = lax::broadcasted_iota(dtype, &[2, 3], 0);
        assert_eq!(y.to_f64_vec(), vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    }
}

#[test]
fn reductions_on_every_dtype() {
    use jaxon::lax::ReduceKind::*;
    let mut rng = Rng::new(13);
    for dtype in DType::ALL {
        let shape = [3usize, 4, 2];
        let x = random_array(&mut rng, dtype, &shape, -4.0, 4.0);
        let xv = x.to_f64_vec();
        for axes in [vec![0usize], vec![1], vec![0, 2], vec![0, 1, 2]] {
            let out_shape: Vec<usize> = (0..3)
                .filter(|d| !axes.contains(d))
                .map(|d| shape[d])
                .collect();
            let n_out: usize = out_shape.iter().product();
            let mut kinds = vec![Max, Min];
            if !dtype.is_bool() {
                kinds.extend([Sum, Prod]);
            }
            if !dtype.is_float() {
                kinds.extend([And, Or]);
            }
            for kind in kinds {
                let got = lax::reduce(&x, kind, &axes);
                assert_eq!(got.shape(), &out_shape[..]);
                let gl = got.to_literal();
                let mut acc: Vec<Option<i128>> = vec![None; n_out];
                let mut accf: Vec<Option<f64>> = vec![None; n_out];
                let xl = x.to_literal();
                for (i, _) in xv.iter().enumerate() {
                    let idx = unravel(i, &shape);
                    let oi: Vec<usize> = (0..3)
                        .filter(|d| !axes.contains(d))
                        .map(|d| idx[d])
                        .collect();
                    let o = ravel(&oi, &out_shape);
                    if dtype.is_float() {
                        let v = xv[i];
                        accf[o] = Some(match (accf[o], kind) {
                            (None, _) => v,
                            (Some(a), Sum) => a + v,
                            (Some(a), Prod) => a * v,
                            (Some(a), Max) => a.max(v),
                            (Some(a), Min) => a.min(v),
                            _ => unreachable!(),
                        });
                    } else {
                        let v = xl.data().get_i128(i);
                        acc[o] = Some(match (acc[o], kind) {
                            (None, _) => v,
                            (Some(a), Sum) => a + v,
                            (Some(a), Prod) => a * v,
                            (Some(a), Max) => a.max(v),
                            (Some(a), Min) => a.min(v),
                            (Some(a), And) => a & v,
                            (Some(a), Or) => a | v,
                            _ => unreachable!(),
                        });
                    }
                }
                for o in 0..n_out {
                    if dtype.is_float() {
                        let want = round_to(dtype, accf[o].expect("reduced value"));
                        let g = gl.data().get_f64(o);
                        let tol = if matches!(kind, Sum | Prod) {
                            30.0 * float_tol(dtype)
                        } else {
                            0.0
                        };
                        assert!(
                            g == want || (g - want).abs() <= tol * (1.0 + want.abs()),
                            "{kind:?} {dtype} {axes:?}: {g} vs {want}"
                        );
                    } else {
                        let bits = dtype.bits();
                        let m = 1i128 << bits;
                        let mut w = acc[o].expect("reduced value").rem_euclid(m);
                        if dtype.is_signed_int() && w >= m / 2 {
                            w -= m;
                        }
                        if dtype.is_bool() {
                            w = (w != 0) as i128;
                        }
                        assert_eq!(gl.data().get_i128(o), w, "{kind:?} {dtype} {axes:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn argmax_argmin_first_index_and_nan() {
    let x = jaxon::numpy::array(&[[1.0f32, 3.0, 3.0, 0.0], [f32::NAN, 2.0, f32::NAN, 5.0]]);
    assert_eq!(lax::argmax(&x, 1, DType::I32).to_vec::<i32>(), vec![1, 0]);
    assert_eq!(lax::argmin(&x, 1, DType::I32).to_vec::<i32>(), vec![3, 0]);
    assert_eq!(
        lax::argmax(&x, 0, DType::I32).to_vec::<i32>(),
        vec![1, 0, 1, 1]
    );
    let mut rng = Rng::new(14);
    for dtype in DType::ALL {
        if dtype.is_bool() {
            continue;
        }
        let x = random_array(&mut rng, dtype, &[3, 5], -3.0, 3.0);
        let v = x.to_f64_vec();
        let got = lax::argmax(&x, 1, DType::I32).to_vec::<i32>();
        let got_min = lax::argmin(&x, 1, DType::I64).to_vec::<i64>();
        for r in 0..3 {
            let row = &v[r * 5..r * 5 + 5];
            let best = (0..5).fold(0, |b, i| if row[i] > row[b] { i } else { b });
            let worst = (0..5).fold(0, |b, i| if row[i] < row[b] { i } else { b });
            assert_eq!(got[r] as usize, best, "argmax {dtype}");
            assert_eq!(got_min[r] as usize, worst, "argmin {dtype}");
        }
    }
}
