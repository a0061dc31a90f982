//! reduce_window_{sum,max,min} and the cumulative primitives on every dtype they
//! accept, random shapes and window parameters, against loop references in f64; and
//! JAX's golden reduce_window cases (tests/golden/numpy_conv.json).

mod support;

use jaxon::lax::{self, Padding};
use jaxon::prelude::*;
use serde_json::Value as Json;
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

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Sum,
    Max,
    Min,
}

struct Win {
    window: Vec<usize>,
    strides: Vec<usize>,
    pads: Vec<(i64, i64)>,
    base: Vec<usize>,
    wdil: Vec<usize>,
}

fn identity(kind: Kind, dtype: DType) -> f64 {
    let (lo, hi) = if dtype.is_float() {
        (f64::NEG_INFINITY, f64::INFINITY)
    } else {
        match dtype {
            DType::I64 => (i64::MIN as f64, i64::MAX as f64),
            DType::U64 => (0.0, u64::MAX as f64),
            d => int_range(d),
        }
    };
    match kind {
        Kind::Sum => 0.0,
        Kind::Max => lo,
        Kind::Min => hi,
    }
}

/// Loop reference: (shape, values, sum of |terms|).
fn window_ref(
    x: &[f64],
    shape: &[usize],
    w: &Win,
    kind: Kind,
    dtype: DType,
) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let r = shape.len();
    let out_shape: Vec<usize> = (0..r)
        .map(|i| {
            let n = shape[i] as i64;
            let dil = if n == 0 {
                0
            } else {
                (n - 1) * w.base[i] as i64 + 1
            };
            let padded = dil + w.pads[i].0 + w.pads[i].1;
            let ws = (w.window[i] as i64 - 1) * w.wdil[i] as i64 + 1;
            if padded < ws {
                0
            } else {
                ((padded - ws) / w.strides[i] as i64 + 1) as usize
            }
        })
        .collect();
    let n_out: usize = out_shape.iter().product();
    let n_win: usize = w.window.iter().product();
    let (mut vals, mut mags) = (Vec::new(), Vec::new());
    for o in 0..n_out {
        let oi = unravel(o, &out_shape);
        let (mut acc, mut mag) = (identity(kind, dtype), 0.0);
        'win: for k in 0..n_win {
            let ki = unravel(k, &w.window);
            let mut xi = vec![0; r];
            for d in 0..r {
                let pos = (oi[d] * w.strides[d] + ki[d] * w.wdil[d]) as i64 - w.pads[d].0;
                let b = w.base[d] as i64;
                if pos < 0 || pos % b != 0 || pos / b >= shape[d] as i64 {
                    continue 'win;
                }
                xi[d] = (pos / b) as usize;
            }
            let v = x[ravel(&xi, shape)];
            acc = match kind {
                Kind::Sum => acc + v,
                Kind::Max => acc.max(v),
                Kind::Min => acc.min(v),
            };
            mag += v.abs();
        }
        vals.push(acc);
        mags.push(mag);
    }
    (out_shape, vals, mags)
}

fn random_win(rng: &mut Rng, shape: &[usize]) -> Win {
    let r = shape.len();
    let base: Vec<usize> = (0..r).map(|_| rng.int(1, 2) as usize).collect();
    let pads = (0..r)
        .map(|i| {
            let dil = (shape[i] as i64 - 1) * base[i] as i64 + 1;
            let (lo, hi) = (rng.int(-1, 2), rng.int(-1, 2));
            if dil + lo + hi < 0 {
                (0, 0)
            } else {
                (lo, hi)
            }
        })
        .collect();
    Win {
        window: (0..r).map(|_| rng.int(1, 3) as usize).collect(),
        strides: (0..r).map(|_| rng.int(1, 3) as usize).collect(),
        pads,
        base,
        wdil: (0..r).map(|_| rng.int(1, 2) as usize).collect(),
    }
}

fn range(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::I8 => (-10.0, 10.0),
        d if d.is_unsigned_int() => (0.0, 20.0),
        d if d.is_int() => (-1000.0, 1000.0),
        _ => (-4.0, 4.0),
    }
}

fn check(what: &str, got: &Array, want: &[f64], mags: &[f64], dtype: DType, rtol: f64) {
    let g = got.to_f64_vec();
    assert_eq!(g.len(), want.len(), "{what}: length");
    for i in 0..g.len() {
        let ok = if want[i].is_nan() {
            g[i].is_nan()
        } else if want[i].is_infinite() {
            g[i] == want[i]
        } else {
            (g[i] - want[i]).abs() <= rtol * (mags[i] + want[i].abs())
        };
        assert!(
            ok,
            "{what} ({dtype}): element {i}: got {}, want {}",
            g[i], want[i]
        );
    }
}

fn tol(dtype: DType) -> f64 {
    if dtype.is_float() {
        float_tol(dtype) * 4.0
    } else {
        0.0
    }
}

#[test]
fn reduce_window_random_on_every_dtype() {
    let mut rng = Rng::new(41);
    for dtype in DType::ALL {
        for kind in [Kind::Sum, Kind::Max, Kind::Min] {
            if kind == Kind::Sum && dtype.is_bool() {
                continue;
            }
            for trial in 0..4 {
                let shape: Vec<usize> =
                    (0..rng.int(1, 3)).map(|_| rng.int(1, 5) as usize).collect();
                let w = random_win(&mut rng, &shape);
                let (lo, hi) = range(dtype);
                let x = random_array(&mut rng, dtype, &shape, lo, hi);
                let f: WinFn = match kind {
                    Kind::Sum => lax::reduce_window_sum,
                    Kind::Max => lax::reduce_window_max,
                    Kind::Min => lax::reduce_window_min,
                };
                let out = f(
                    &x,
                    &w.window,
                    &w.strides,
                    Padding::Explicit(w.pads.clone()),
                    Some(&w.base),
                    Some(&w.wdil),
                );
                let (oshape, want, mags) = window_ref(&x.to_f64_vec(), &shape, &w, kind, dtype);
                let what = format!(
                    "reduce_window {kind:?} #{trial} {shape:?} window {:?} strides {:?} pads {:?} \
                     base {:?} wdil {:?}",
                    w.window, w.strides, w.pads, w.base, w.wdil
                );
                assert_eq!(out.shape(), &oshape[..], "{what}");
                assert_eq!(out.dtype(), dtype);
                check(&what, &out, &want, &mags, dtype, tol(dtype));
            }
        }
    }
}

#[test]
fn reduce_window_string_padding() {
    let mut rng = Rng::new(42);
    let x = random_array(&mut rng, DType::F32, &[5, 7], -1.0, 1.0);
    let out = lax::reduce_window_max(&x, &[2, 3], &[2, 2], Padding::Same, None, None);
    // SAME: ceil(5/2) = 3, ceil(7/2) = 4; pads (0,1) and (1,1).
    assert_eq!(out.shape(), &[3, 4]);
    let w = Win {
        window: vec![2, 3],
        strides: vec![2, 2],
        pads: vec![(0, 1), (1, 1)],
        base: vec![1, 1],
        wdil: vec![1, 1],
    };
    let (_, want, mags) = window_ref(&x.to_f64_vec(), &[5, 7], &w, Kind::Max, DType::F32);
    check("SAME max", &out, &want, &mags, DType::F32, 0.0);
    let out = lax::reduce_window_sum(&x, &[2, 3], &[1, 1], Padding::Valid, None, None);
    assert_eq!(out.shape(), &[4, 5]);
}

type CumFn = fn(&Array, usize, bool) -> Array;
type WinFn = fn(&Array, &[usize], &[usize], Padding, Option<&[usize]>, Option<&[usize]>) -> Array;

fn cum_ref(
    x: &[f64],
    shape: &[usize],
    axis: usize,
    reverse: bool,
    kind: &str,
) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![0.0; x.len()];
    let mut mags = vec![0.0; x.len()];
    let n = shape[axis];
    for (o, slot) in out.iter_mut().enumerate() {
        let oi = unravel(o, shape);
        let range: Vec<usize> = if reverse {
            (oi[axis]..n).collect()
        } else {
            (0..=oi[axis]).collect()
        };
        let vals: Vec<f64> = range
            .iter()
            .map(|&k| {
                let mut i = oi.clone();
                i[axis] = k;
                x[ravel(&i, shape)]
            })
            .collect();
        *slot = match kind {
            "cumsum" => vals.iter().sum(),
            "cumprod" => vals.iter().product(),
            "cummax" => vals.iter().fold(f64::NEG_INFINITY, |a, &b| {
                if b.is_nan() || a.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            }),
            "cummin" => vals.iter().fold(f64::INFINITY, |a, &b| {
                if b.is_nan() || a.is_nan() {
                    f64::NAN
                } else {
                    a.min(b)
                }
            }),
            _ => vals.iter().map(|v| v.exp()).sum::<f64>().ln(),
        };
        mags[o] = match kind {
            "cumsum" => vals.iter().map(|v| v.abs()).sum(),
            "cumprod" => slot.abs() * vals.len() as f64,
            _ => slot.abs(),
        };
    }
    (out, mags)
}

#[test]
fn cumulative_ops_random_on_every_dtype() {
    let mut rng = Rng::new(43);
    let ops: [(&str, CumFn); 5] = [
        ("cumsum", lax::cumsum),
        ("cumprod", lax::cumprod),
        ("cummax", lax::cummax),
        ("cummin", lax::cummin),
        ("cumlogsumexp", lax::cumlogsumexp),
    ];
    for dtype in DType::ALL.into_iter().filter(|d| !d.is_bool()) {
        for (name, f) in ops {
            if name == "cumlogsumexp" && !dtype.is_float() {
                continue;
            }
            for trial in 0..4 {
                let shape: Vec<usize> =
                    (0..rng.int(1, 3)).map(|_| rng.int(1, 5) as usize).collect();
                let axis = rng.int(0, shape.len() as i64 - 1) as usize;
                let reverse = rng.int(0, 1) == 1;
                let (lo, hi) = match (name, dtype) {
                    ("cumprod", d) if d.is_float() => (0.5, 1.5),
                    ("cumprod", d) if d.is_unsigned_int() => (0.0, 3.0),
                    ("cumprod", _) => (-2.0, 2.0),
                    _ => range(dtype),
                };
                let x = random_array(&mut rng, dtype, &shape, lo, hi);
                let out = f(&x, axis, reverse);
                let (want, mags) = cum_ref(&x.to_f64_vec(), &shape, axis, reverse, name);
                let what = format!("{name} #{trial} {shape:?} axis {axis} reverse {reverse}");
                assert_eq!(out.shape(), x.shape(), "{what}");
                assert_eq!(out.dtype(), dtype, "{what}");
                let rtol = if name == "cumlogsumexp" {
                    tol(dtype) * 2.0
                } else {
                    tol(dtype)
                };
                check(&what, &out, &want, &mags, dtype, rtol);
            }
        }
    }
}

#[test]
fn cumulative_edge_values() {
    let x = jaxon::numpy::array(&[1.0f32, f32::NAN, 3.0, -2.0]);
    let m = lax::cummax(&x, 0, false).to_vec::<f32>();
    assert_eq!(m[0], 1.0);
    assert!(m[1..].iter().all(|v| v.is_nan()), "{m:?}");
    let m = lax::cummin(&x, 0, true).to_vec::<f32>();
    assert_eq!(&m[2..], &[-2.0, -2.0]);
    assert!(m[..2].iter().all(|v| v.is_nan()), "{m:?}");
    // logsumexp stays finite for huge inputs and handles -inf.
    let y = jaxon::numpy::array(&[f32::NEG_INFINITY, 1000.0, 1000.0, f32::NEG_INFINITY]);
    let l = lax::cumlogsumexp(&y, 0, false).to_vec::<f32>();
    assert_eq!(l[0], f32::NEG_INFINITY);
    assert_eq!(l[1], 1000.0);
    assert!(
        (l[2] - (1000.0 + std::f32::consts::LN_2)).abs() < 1e-3,
        "{l:?}"
    );
    assert_eq!(l[3], l[2]);
    // Empty axes and length-1 axes.
    let e = jaxon::numpy::zeros(&[0, 3], DType::F32);
    assert_eq!(lax::cumsum(&e, 0, false).shape(), &[0, 3]);
    assert_eq!(lax::cumsum(&e, 1, true).shape(), &[0, 3]);
}

macro_rules! check_err {
    ($e:expr, $needles:expr) => {{
        let first = line!();
        let msg = expect_panic(
            || {
                let _ = $e;
            },
            $needles,
        );
        let at = format!("(at {}:", file!());
        let pos = msg
            .find(&at)
            .unwrap_or_else(|| panic!("{msg:?} lacks {at}"));
        let line: u32 = msg[pos + at.len()..]
            .split(':')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("a line number");
        assert!(
            (first..first + 4).contains(&line),
            "{msg:?}: line {line} is not the caller's ({first})"
        );
    }};
}

#[test]
fn window_and_cumulative_errors() {
    let x = jaxon::numpy::zeros(&[3, 4], DType::F32);
    let b = jaxon::numpy::zeros(&[3], DType::Bool);
    let i = jaxon::numpy::zeros(&[3], DType::I32);
    check_err!(lax::cumsum(&x, 2, false), &["cumsum", "axis 2", "[3, 4]"]);
    check_err!(lax::cumsum(&b, 0, false), &["cumsum", "bool"]);
    check_err!(
        lax::cumlogsumexp(&i, 0, false),
        &["cumlogsumexp", "floating"]
    );
    check_err!(
        lax::reduce_window_sum(&x, &[2], &[1, 1], [(0, 0), (0, 0)], None, None),
        &["reduce_window_sum", "window_dimensions"]
    );
    check_err!(
        lax::reduce_window_max(&x, &[2, 2], &[1, 0], [(0, 0), (0, 0)], None, None),
        &["reduce_window_max", "window_strides"]
    );
    check_err!(
        lax::reduce_window_min(&x, &[2, 2], &[1, 1], [(-5, 0), (0, 0)], None, None),
        &["reduce_window_min", "padding"]
    );
    check_err!(
        lax::reduce_window_sum(&b, &[2], &[1], [(0, 0)], None, None),
        &["reduce_window_sum", "bool"]
    );
}

#[test]
fn jaxpr_params() {
    let x = jaxon::numpy::zeros(&[3, 4], DType::F32);
    let t = make_jaxpr(|x: Array| lax::cumsum(&x, 1, true))(x.clone()).to_string();
    assert!(t.contains("cumsum[axis=1 reverse=True]"), "{t}");
    let t = make_jaxpr(|x: Array| {
        lax::reduce_window_max(&x, &[2, 2], &[1, 1], Padding::Valid, None, None)
    })(x)
    .to_string();
    for s in [
        "reduce_window_max[",
        "window_dimensions=(2, 2)",
        "padding=((0, 0), (0, 0))",
        "base_dilation=(1, 1)",
    ] {
        assert!(t.contains(s), "{t} lacks {s}");
    }
}

// ---- golden reduce_window cases from real JAX -------------------------------------

fn json_f64(v: &Json) -> f64 {
    match v {
        Json::String(s) if s == "nan" => f64::NAN,
        Json::String(s) if s == "inf" => f64::INFINITY,
        Json::String(s) if s == "-inf" => f64::NEG_INFINITY,
        v => v.as_f64().expect("a number"),
    }
}

fn usizes(v: &Json) -> Option<Vec<usize>> {
    v.as_array().map(|a| {
        a.iter()
            .map(|x| x.as_u64().expect("an int") as usize)
            .collect()
    })
}

#[test]
fn golden_reduce_window_matches_jax() {
    let path = format!(
        "{}/../../tests/golden/numpy_conv.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let g: Json =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file")).unwrap();
    let mut n = 0;
    for case in g["cases"].as_array().unwrap() {
        if case["fn"] != "lax.reduce_window" {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let kw = &case["kwargs"];
        let a = &case["args"][0];
        let shape = usizes(&a["shape"]).unwrap();
        let data: Vec<f64> = a["data"].as_array().unwrap().iter().map(json_f64).collect();
        let x = match a["dtype"].as_str().unwrap() {
            "float32" => Array::from_vec(&shape, data.iter().map(|&v| v as f32).collect()),
            "int32" => Array::from_vec(&shape, data.iter().map(|&v| v as i32).collect()),
            d => panic!("{d}"),
        };
        let padding = match &kw["padding"] {
            Json::String(s) => Padding::from_name(s).unwrap(),
            p => Padding::Explicit(
                p.as_array()
                    .unwrap()
                    .iter()
                    .map(|q| (q[0].as_i64().unwrap(), q[1].as_i64().unwrap()))
                    .collect(),
            ),
        };
        let comp = kw["computation"].as_str().unwrap();
        let f: WinFn = match comp {
            "add" => lax::reduce_window_sum,
            "max" => lax::reduce_window_max,
            _ => lax::reduce_window_min,
        };
        let base = usizes(&kw["base_dilation"]);
        let wdil = usizes(&kw["window_dilation"]);
        let mut out = f(
            &x,
            &usizes(&kw["window_dimensions"]).unwrap(),
            &usizes(&kw["window_strides"]).unwrap(),
            padding,
            base.as_deref(),
            wdil.as_deref(),
        );
        // A non-identity init joins every window: fold it in afterwards.
        let init = json_f64(&kw["init_value"]);
        if comp == "max" && init > f64::MIN && x.dtype().is_float() {
            out = jaxon::numpy::maximum(&out, init);
        }
        let want = &case["out"];
        assert_eq!(out.shape(), &usizes(&want["shape"]).unwrap()[..], "{name}");
        let wv: Vec<f64> = want["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(json_f64)
            .collect();
        assert_close(name, &out.to_f64_vec(), &wv, 1e-6, 1e-6);
        n += 1;
    }
    assert!(n >= 10, "only {n} golden reduce_window cases");
}
