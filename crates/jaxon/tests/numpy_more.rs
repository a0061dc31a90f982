//! The jax.numpy / jax.nn additions (NaN-aware math, nan-reductions, median, diagonal,
//! rot90, meshgrid, per-element repeat, activations, masked softmax) against
//! straightforward f64 references on random shapes and values, and their errors.

mod support;

use jaxon::nn;
use jaxon::numpy as jnp;
use jaxon::prelude::*;
use support::{assert_close, expect_panic, random_array, round_to, Rng};

/// Random f32 values with NaN, ±0 and ±inf sprinkled in.
fn specials(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match rng.int(0, 9) {
            0 => f32::NAN,
            1 => 0.0,
            2 => -0.0,
            3 => [f32::INFINITY, f32::NEG_INFINITY][rng.int(0, 1) as usize],
            _ => rng.uniform(-3.0, 3.0) as f32,
        })
        .collect()
}

fn same_bits(what: &str, got: &[f32], want: &[f32]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || g.to_bits() == w.to_bits();
        assert!(ok, "{what}[{i}]: got {g:?} want {w:?}");
    }
}

#[test]
fn nan_aware_binary_math_matches_reference_exactly() {
    let mut rng = Rng::new(1);
    for _ in 0..6 {
        let n = rng.int(1, 40) as usize;
        let (a, b) = (specials(&mut rng, n), specials(&mut rng, n));
        let (x, y) = (
            Array::from_vec(&[n], a.clone()),
            Array::from_vec(&[n], b.clone()),
        );
        let zip = |f: fn(f32, f32) -> f32| -> Vec<f32> {
            a.iter().zip(&b).map(|(&p, &q)| f(p, q)).collect()
        };
        // JAX: x where x > y or y is NaN, else y.
        let fmax_ref = zip(|p, q| if p > q || q.is_nan() { p } else { q });
        let fmin_ref = zip(|p, q| if p < q || q.is_nan() { p } else { q });
        same_bits("fmax", &jnp::fmax(&x, &y).to_vec::<f32>(), &fmax_ref);
        same_bits("fmin", &jnp::fmin(&x, &y).to_vec::<f32>(), &fmin_ref);
        same_bits(
            "copysign",
            &jnp::copysign(&x, &y).to_vec::<f32>(),
            &zip(f32::copysign),
        );
        // JAX: h0 for x == 0 and for NaN x.
        let heav = zip(|p, q| {
            if p < 0.0 {
                0.0
            } else if p > 0.0 {
                1.0
            } else {
                q
            }
        });
        same_bits("heaviside", &jnp::heaviside(&x, &y).to_vec::<f32>(), &heav);
        let sb: Vec<bool> = a.iter().map(|v| v.is_sign_negative()).collect();
        assert_eq!(jnp::signbit(&x).to_vec::<bool>(), sb);
        let (q, r) = jnp::divmod(&x, &y);
        same_bits(
            "divmod.0",
            &q.to_vec::<f32>(),
            &jnp::floor_divide(&x, &y).to_vec::<f32>(),
        );
        same_bits(
            "divmod.1",
            &r.to_vec::<f32>(),
            &jnp::remainder(&x, &y).to_vec::<f32>(),
        );
        let clip_ref: Vec<f32> = a
            .iter()
            .map(|&v| if v.is_nan() { v } else { v.max(-1.0) })
            .collect();
        same_bits(
            "clip_opt",
            &jnp::clip_opt(&x, Some(-1.0), None::<f64>).to_vec::<f32>(),
            &clip_ref,
        );
    }
}

#[test]
fn isclose_and_nan_to_num_match_reference() {
    let mut rng = Rng::new(2);
    for dt in [DType::F32, DType::F64] {
        let n = 50;
        let a: Vec<f64> = specials(&mut rng, n).iter().map(|&v| v as f64).collect();
        let b: Vec<f64> = a
            .iter()
            .map(|&v| {
                if rng.int(0, 1) == 0 {
                    v * (1.0 + rng.uniform(-2e-5, 2e-5))
                } else {
                    v
                }
            })
            .collect();
        let to = |v: &[f64]| jnp::astype(Array::from_vec(&[n], v.to_vec()), dt);
        let (x, y) = (to(&a), to(&b));
        let (a, b) = (x.to_f64_vec(), y.to_f64_vec());
        let (rtol, atol) = (round_to(dt, 1e-5), round_to(dt, 1e-8));
        for equal_nan in [false, true] {
            let want: Vec<bool> = a
                .iter()
                .zip(&b)
                .map(|(&p, &q)| {
                    if p.is_nan() || q.is_nan() {
                        equal_nan && p.is_nan() && q.is_nan()
                    } else if p.is_infinite() || q.is_infinite() {
                        p == q
                    } else {
                        // Within 1 ulp of the bound the f32 rounding decides; compare in dtype.
                        round_to(dt, (p - q).abs())
                            <= round_to(dt, atol + round_to(dt, rtol * q.abs()))
                    }
                })
                .collect();
            assert_eq!(
                jnp::isclose(&x, &y, 1e-5, 1e-8, equal_nan).to_vec::<bool>(),
                want,
                "{dt}"
            );
        }
        let fixed = jnp::nan_to_num(&x, 0.5, None, Some(-7.0)).to_f64_vec();
        let big = if dt == DType::F32 {
            f32::MAX as f64
        } else {
            f64::MAX
        };
        let want: Vec<f64> = a
            .iter()
            .map(|&v| {
                if v.is_nan() {
                    0.5
                } else if v == f64::INFINITY {
                    big
                } else if v == f64::NEG_INFINITY {
                    -7.0
                } else {
                    v
                }
            })
            .collect();
        assert_eq!(fixed, want);
    }
    let close = jnp::allclose(
        jnp::array(&[1.0f32]),
        jnp::array(&[1.1f32]),
        0.2,
        0.0,
        false,
    );
    assert!(close.item::<bool>());
    let far = jnp::allclose(
        jnp::array(&[1.0f32]),
        jnp::array(&[1.3f32]),
        0.2,
        0.0,
        false,
    );
    assert!(!far.item::<bool>());
}

/// A random 2-d f32 array (with some NaNs) and its values.
fn random_2d(rng: &mut Rng, nan: bool) -> (Array, Vec<f64>, usize, usize) {
    let (r, c) = (rng.int(1, 5) as usize, rng.int(1, 6) as usize);
    let x = random_array(rng, DType::F32, &[r, c], -5.0, 5.0);
    let mut v = x.to_f64_vec();
    if nan {
        for e in v.iter_mut() {
            if rng.int(0, 4) == 0 {
                *e = f64::NAN;
            }
        }
    }
    (
        jnp::astype(Array::from_vec(&[r, c], v.clone()), DType::F32),
        v,
        r,
        c,
    )
}

/// Reference reduction over axis 0, 1 or all of an (r, c) row-major matrix.
fn reduce_ref(
    v: &[f64],
    r: usize,
    c: usize,
    axis: Option<usize>,
    f: &dyn Fn(&[f64]) -> f64,
) -> Vec<f64> {
    match axis {
        None => vec![f(v)],
        Some(0) => (0..c)
            .map(|j| f(&(0..r).map(|i| v[i * c + j]).collect::<Vec<_>>()))
            .collect(),
        _ => (0..r).map(|i| f(&v[i * c..(i + 1) * c])).collect(),
    }
}

#[test]
fn nan_reductions_median_and_stats_match_reference() {
    let mut rng = Rng::new(3);
    let non_nan = |s: &[f64]| {
        s.iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect::<Vec<f64>>()
    };
    for _ in 0..8 {
        let (x, v, r, c) = random_2d(&mut rng, true);
        for axis in [None, Some(0usize), Some(1)] {
            let ax = axis.map(|a| [a as i64]);
            let ax = ax.as_ref().map(|a| &a[..]);
            let nansum = |s: &[f64]| non_nan(s).iter().sum::<f64>();
            assert_close(
                "nansum",
                &jnp::nansum(&x, ax, false).to_f64_vec(),
                &reduce_ref(&v, r, c, axis, &nansum),
                1e-6,
                1e-5,
            );
            let nanmean = |s: &[f64]| {
                let k = non_nan(s);
                if k.is_empty() {
                    f64::NAN
                } else {
                    k.iter().sum::<f64>() / k.len() as f64
                }
            };
            assert_close(
                "nanmean",
                &jnp::nanmean(&x, ax, false).to_f64_vec(),
                &reduce_ref(&v, r, c, axis, &nanmean),
                1e-6,
                1e-5,
            );
            let nanmax = |s: &[f64]| non_nan(s).into_iter().reduce(f64::max).unwrap_or(f64::NAN);
            let nanmin = |s: &[f64]| non_nan(s).into_iter().reduce(f64::min).unwrap_or(f64::NAN);
            assert_close(
                "nanmax",
                &jnp::nanmax(&x, ax, false).to_f64_vec(),
                &reduce_ref(&v, r, c, axis, &nanmax),
                0.0,
                0.0,
            );
            assert_close(
                "nanmin",
                &jnp::nanmin(&x, ax, false).to_f64_vec(),
                &reduce_ref(&v, r, c, axis, &nanmin),
                0.0,
                0.0,
            );
            let count = |s: &[f64]| s.iter().filter(|&&e| e != 0.0).count() as f64;
            assert_eq!(
                jnp::count_nonzero(&x, ax, false)
                    .to_vec::<i32>()
                    .iter()
                    .map(|&k| k as f64)
                    .collect::<Vec<_>>(),
                reduce_ref(&v, r, c, axis, &count)
            );
            // Median: the mean of the two middle sorted values (in f32); NaN if any NaN.
            let median = |s: &[f64]| {
                if s.iter().any(|e| e.is_nan()) {
                    return f64::NAN;
                }
                let mut k = s.to_vec();
                k.sort_by(f64::total_cmp);
                let n = k.len();
                round_to(
                    DType::F32,
                    round_to(DType::F32, k[(n - 1) / 2] + k[n / 2]) * 0.5,
                )
            };
            assert_close(
                "median",
                &jnp::median(&x, ax, false).to_f64_vec(),
                &reduce_ref(&v, r, c, axis, &median),
                0.0,
                0.0,
            );
        }
        // Without NaNs: ptp, argmax keepdims, average with 1-d weights.
        let (x, v, r, c) = random_2d(&mut rng, false);
        let ptp = |s: &[f64]| {
            s.iter().copied().fold(f64::MIN, f64::max) - s.iter().copied().fold(f64::MAX, f64::min)
        };
        assert_close(
            "ptp",
            &jnp::ptp(&x, Some(&[1]), false).to_f64_vec(),
            &reduce_ref(&v, r, c, Some(1), &ptp),
            1e-6,
            1e-6,
        );
        assert_eq!(jnp::argmax_with(&x, Some(1), true).shape(), &[r, 1]);
        assert_eq!(jnp::argmin_with(&x, None, true).shape(), &[1, 1]);
        let w: Vec<f64> = (0..c).map(|_| rng.uniform(0.5, 2.0)).collect();
        let wa = jnp::astype(Array::from_vec(&[c], w.clone()), DType::F32);
        let w = wa.to_f64_vec();
        let avg =
            |s: &[f64]| s.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / w.iter().sum::<f64>();
        assert_close(
            "average",
            &jnp::average(&x, Some(&[1]), Some(&wa), false).to_f64_vec(),
            &reduce_ref(&v, r, c, Some(1), &avg),
            1e-5,
            1e-5,
        );
    }
    // dtype= and initial= forms.
    let e = jnp::zeros(&[0], DType::F32);
    let opts = jnp::ReduceOptions::new().initial(-1.0);
    assert_eq!(
        jnp::max_with(&e, None, false, opts).to_vec::<f32>(),
        vec![-1.0]
    );
    let i8s = jnp::array(&[100i8, 100, 100]);
    let s = jnp::sum_with(
        &i8s,
        None,
        false,
        jnp::ReduceOptions::new().dtype(DType::I8),
    );
    assert_eq!((s.dtype(), s.item::<i8>()), (DType::I8, 300i32 as i8));
}

#[test]
fn diagonal_diag_trace_match_reference() {
    let mut rng = Rng::new(4);
    for _ in 0..10 {
        let (b, n, m) = (
            rng.int(1, 3) as usize,
            rng.int(1, 5) as usize,
            rng.int(1, 5) as usize,
        );
        let x = random_array(&mut rng, DType::I32, &[b, n, m], -50.0, 50.0);
        let v = x.to_vec::<i32>();
        let k = rng.int(-5, 5);
        let diag_of = |bi: usize| -> Vec<i32> {
            (0..n as i64)
                .filter(|&i| (0..m as i64).contains(&(i + k)))
                .map(|i| v[bi * n * m + i as usize * m + (i + k) as usize])
                .collect()
        };
        let want: Vec<i32> = (0..b).flat_map(diag_of).collect();
        assert_eq!(jnp::diagonal(&x, k, 1, 2).to_vec::<i32>(), want, "k={k}");
        // Swapped axes: the diagonal of the transpose.
        let want_t = jnp::diagonal(jnp::swapaxes(&x, 1, 2), k, 1, 2).to_vec::<i32>();
        assert_eq!(jnp::diagonal(&x, k, 2, 1).to_vec::<i32>(), want_t);
        let tr: Vec<i32> = (0..b).map(|bi| diag_of(bi).iter().sum()).collect();
        assert_eq!(jnp::trace(&x, k, 1, 2).to_vec::<i32>(), tr);
        // diag of a vector, then back.
        let d: Vec<i32> = v[..m].to_vec();
        let dm = jnp::diag(Array::from_vec(&[m], d.clone()), k);
        let size = m + k.unsigned_abs() as usize;
        assert_eq!(dm.shape(), &[size, size]);
        assert_eq!(jnp::diag(&dm, k).to_vec::<i32>(), d);
        assert_eq!(
            jnp::sum(&dm, None, false).item::<i32>(),
            d.iter().sum::<i32>()
        );
    }
}

#[test]
fn shape_functions_match_reference() {
    let mut rng = Rng::new(5);
    for _ in 0..8 {
        let (r, c) = (rng.int(1, 4) as usize, rng.int(1, 4) as usize);
        let x = random_array(&mut rng, DType::I32, &[r, c], -9.0, 9.0);
        let v = x.to_vec::<i32>();
        let at = |i: usize, j: usize| v[i * c + j];
        // rot90 k times = the reference rotation applied k times.
        let rot1: Vec<i32> = (0..c)
            .flat_map(|i| (0..r).map(move |j| (i, j)))
            .map(|(i, j)| at(j, c - 1 - i))
            .collect();
        assert_eq!(jnp::rot90(&x, 1, (0, 1)).to_vec::<i32>(), rot1);
        let r2 = jnp::rot90(&x, 2, (0, 1)).to_vec::<i32>();
        assert_eq!(r2, v.iter().rev().copied().collect::<Vec<_>>());
        assert_eq!(
            jnp::rot90(&x, -1, (0, 1)).to_vec::<i32>(),
            jnp::rot90(&x, 3, (0, 1)).to_vec::<i32>()
        );
        assert_eq!(
            jnp::rot90(&x, 1, (1, 0)).to_vec::<i32>(),
            jnp::rot90(&x, 3, (0, 1)).to_vec::<i32>()
        );
        // Per-element repeat along axis 1.
        let reps: Vec<usize> = (0..c).map(|_| rng.int(0, 3) as usize).collect();
        let want: Vec<i32> = (0..r)
            .flat_map(|i| {
                (0..c)
                    .flat_map(|j| vec![at(i, j); reps[j]])
                    .collect::<Vec<_>>()
            })
            .collect();
        let got = jnp::repeat_each(&x, &reps, Some(1));
        assert_eq!(got.shape(), &[r, reps.iter().sum::<usize>()]);
        assert_eq!(got.to_vec::<i32>(), want);
        // array_split sizes: the first n % k parts are one longer.
        let n = rng.int(0, 9) as usize;
        let k = rng.int(1, 5) as usize;
        let sizes: Vec<usize> = jnp::array_split(jnp::arange(n as i32), k, 0)
            .iter()
            .map(|p| p.size())
            .collect();
        let want: Vec<usize> = (0..k).map(|i| n / k + usize::from(i < n % k)).collect();
        assert_eq!(sizes, want);
        // meshgrid: xy swaps the first two output axes relative to ij.
        let (a, b) = (jnp::arange(r as i32), jnp::arange(c as i32));
        let ij = jnp::meshgrid(&[a.clone(), b.clone()], "ij");
        let xy = jnp::meshgrid(&[a, b], "xy");
        assert_eq!(ij[0].shape(), &[r, c]);
        assert_eq!(
            jnp::transpose(&xy[0], None).to_vec::<i32>(),
            ij[0].to_vec::<i32>()
        );
        assert_eq!(
            jnp::transpose(&xy[1], None).to_vec::<i32>(),
            ij[1].to_vec::<i32>()
        );
        assert_eq!(
            jnp::column_stack(&[jnp::ravel(&x), jnp::ravel(&x)]).shape(),
            &[r * c, 2]
        );
        assert_eq!(jnp::dstack(&[x.clone(), x.clone()]).shape(), &[r, c, 2]);
        assert_eq!(jnp::atleast_3d(jnp::ravel(&x)).shape(), &[1, r * c, 1]);
    }
}

#[test]
fn activations_match_f64_reference() {
    let mut rng = Rng::new(6);
    type Act = (&'static str, fn(&Array) -> Array, fn(f64) -> f64);
    let acts: Vec<Act> = vec![
        ("relu6", |x| nn::relu6(x), |v| v.clamp(0.0, 6.0)),
        (
            "log_sigmoid",
            |x| nn::log_sigmoid(x),
            |v| -(1.0 + (-v).exp()).ln(),
        ),
        (
            "elu",
            |x| nn::elu(x, 0.7),
            |v| if v > 0.0 { v } else { 0.7 * v.exp_m1() },
        ),
        (
            "leaky_relu",
            |x| nn::leaky_relu(x, 0.1),
            |v| if v >= 0.0 { v } else { 0.1 * v },
        ),
        ("hard_tanh", |x| nn::hard_tanh(x), |v| v.clamp(-1.0, 1.0)),
        (
            "hard_sigmoid",
            |x| nn::hard_sigmoid(x),
            |v| (v + 3.0).clamp(0.0, 6.0) / 6.0,
        ),
        (
            "hard_silu",
            |x| nn::hard_silu(x),
            |v| v * (v + 3.0).clamp(0.0, 6.0) / 6.0,
        ),
        (
            "selu",
            |x| nn::selu(x),
            |v| {
                1.0507009873554805
                    * if v > 0.0 {
                        v
                    } else {
                        1.6732632423543772 * v.exp_m1()
                    }
            },
        ),
        (
            "celu",
            |x| nn::celu(x, 2.0),
            |v| v.max(0.0) + 2.0 * (v.min(0.0) / 2.0).exp_m1(),
        ),
        ("soft_sign", |x| nn::soft_sign(x), |v| v / (v.abs() + 1.0)),
        ("mish", |x| nn::mish(x), |v| v * (1.0 + v.exp()).ln().tanh()),
        (
            "sparse_plus",
            |x| nn::sparse_plus(x),
            |v| {
                if v <= -1.0 {
                    0.0
                } else if v >= 1.0 {
                    v
                } else {
                    (v + 1.0).powi(2) / 4.0
                }
            },
        ),
    ];
    for dt in [DType::F32, DType::F64] {
        let shape = rng.shape(3, 5);
        let x = random_array(&mut rng, dt, &shape, -8.0, 8.0);
        let v = x.to_f64_vec();
        let tol = if dt == DType::F32 { 1e-5 } else { 1e-12 };
        for (name, f, r) in &acts {
            let got = f(&x);
            assert_eq!(got.dtype(), dt, "{name}");
            let want: Vec<f64> = v.iter().map(|&e| r(e)).collect();
            assert_close(name, &got.to_f64_vec(), &want, tol, tol);
        }
    }
}

#[test]
fn masked_softmax_and_standardize_match_reference() {
    let mut rng = Rng::new(7);
    for _ in 0..5 {
        let (r, c) = (rng.int(1, 4) as usize, rng.int(2, 5) as usize);
        let x = random_array(&mut rng, DType::F32, &[r, c], -4.0, 4.0);
        let v = x.to_f64_vec();
        let mask: Vec<bool> = (0..r * c)
            .map(|i| i % c == 0 || rng.int(0, 2) > 0)
            .collect();
        let m = Array::from_vec(&[r, c], mask.clone());
        let mut want = vec![0.0; r * c];
        let mut want_log = vec![f64::NEG_INFINITY; r * c];
        for i in 0..r {
            let row = i * c..(i + 1) * c;
            let s: f64 = row.clone().filter(|&j| mask[j]).map(|j| v[j].exp()).sum();
            for j in row.filter(|&j| mask[j]) {
                want[j] = v[j].exp() / s;
                want_log[j] = v[j] - s.ln();
            }
        }
        assert_close(
            "softmax",
            &nn::softmax_with(&x, Some(&[-1]), Some(&m)).to_f64_vec(),
            &want,
            1e-5,
            1e-6,
        );
        assert_close(
            "log_softmax",
            &nn::log_softmax_with(&x, Some(&[-1]), Some(&m)).to_f64_vec(),
            &want_log,
            1e-5,
            1e-5,
        );
        // Over all axes the whole array sums to one.
        let all = nn::softmax_with(&x, None, None);
        assert_close(
            "softmax all",
            &[jnp::sum(&all, None, false).item_f64()],
            &[1.0],
            1e-5,
            1e-5,
        );
        let st = nn::standardize(&x, Some(&[-1]), 1e-5).to_f64_vec();
        for i in 0..r {
            let row = &v[i * c..(i + 1) * c];
            let mu = row.iter().sum::<f64>() / c as f64;
            let var = row.iter().map(|e| e * e).sum::<f64>() / c as f64 - mu * mu;
            let want: Vec<f64> = row.iter().map(|e| (e - mu) / (var + 1e-5).sqrt()).collect();
            assert_close("standardize", &st[i * c..(i + 1) * c], &want, 1e-3, 1e-3);
        }
        if c % 2 == 0 {
            let h = c / 2;
            let g = nn::glu(&x, 1).to_f64_vec();
            let want: Vec<f64> = (0..r)
                .flat_map(|i| (0..h).map(move |j| (i, j)))
                .map(|(i, j)| v[i * c + j] / (1.0 + (-v[i * c + h + j]).exp()))
                .collect();
            assert_close("glu", &g, &want, 1e-5, 1e-6);
        }
    }
}

/// Runs `f` (built on line `line`), expecting a panic naming `msg` at that line.
fn at_line(f: impl FnOnce(), line: u32, msg: &str) {
    let got = expect_panic(f, &[msg, file!()]);
    assert!(got.contains(&format!("{}:{line}:", file!())), "{got}");
}

#[test]
fn bad_input_errors_name_the_op_and_the_callers_line() {
    let v = jnp::array(&[1.0f32, 2.0, 3.0]);
    let m = jnp::ones(&[2, 3], DType::F32);
    let e = jnp::zeros(&[0], DType::F32);
    let (v1, m1, m2, m3, m4, m5, m6) = (
        v.clone(),
        m.clone(),
        m.clone(),
        m.clone(),
        m.clone(),
        m.clone(),
        m,
    );
    let (e1, e2) = (e.clone(), e);
    let w = Some(&v);
    let three = jnp::arange(3);

    let (f, l) = (move || drop(jnp::diagonal(&v1, 0, 0, 1)), line!());
    at_line(
        f,
        l,
        "diagonal: requires an array of at least two dimensions, got shape [3]",
    );
    let (f, l) = (move || drop(jnp::trace(&m1, 0, 1, -1)), line!());
    at_line(f, l, "trace: axis1 and axis2 cannot be the same");
    let (f, l) = (move || drop(jnp::rot90(&m2, 1, (0, 2))), line!());
    at_line(f, l, "rot90: axis 2 is out of bounds");
    let (f, l) = (move || drop(jnp::repeat_each(&m3, &[1, 2], None)), line!());
    at_line(f, l, "repeat: 2 repeats for axis 0 of size 6");
    let (f, l) = (move || drop(jnp::meshgrid(&[m4], "ij")), line!());
    at_line(f, l, "meshgrid: arguments must be 1-d, got shape [2, 3]");
    let a0: Option<&[i64]> = Some(&[0]);
    let (f, l) = (move || drop(jnp::average(&m5, a0, w, false)), line!());
    at_line(
        f,
        l,
        "average: length of weights [3] not compatible with axis 0",
    );
    let (f, l) = (move || drop(nn::glu(&m6, 1)), line!());
    at_line(f, l, "glu: axis 1 of shape [2, 3] must have an even size");
    let (f, l) = (move || drop(jnp::median(&e1, None, false)), line!());
    at_line(f, l, "median: cannot take the median of an empty slice");
    let (f, l) = (move || drop(jnp::nanmax(&e2, None, false)), line!());
    at_line(f, l, "nanmax: zero-size array");
    let (f, l) = (move || drop(jnp::array_split(three, 0usize, 0)), line!());
    at_line(
        f,
        l,
        "array_split: number of sections must be larger than 0",
    );
}
