//! conv_general_dilated on every numeric dtype with random layouts, strides, padding,
//! lhs/rhs dilation and feature/batch groups, against a naive loop reference in f64
//! (StableHLO semantics); padding strings against JAX's padtype_to_pads formula; and
//! the golden cases from real JAX (tests/golden/numpy_conv.json).

mod support;

use jaxon::lax::{self, ConvDimensionNumbers, Padding};
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

fn permutation(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.int(0, i as i64) as usize;
        p.swap(i, j);
    }
    p
}

struct Params {
    strides: Vec<usize>,
    pads: Vec<(i64, i64)>,
    lhs_dil: Vec<usize>,
    rhs_dil: Vec<usize>,
    dn: ConvDimensionNumbers,
    fg: usize,
    bg: usize,
}

/// The convolution written as loops over the output: returns (shape, values, sum of
/// |products| per output element).
fn conv_ref(
    l: &[f64],
    ls: &[usize],
    r: &[f64],
    rs: &[usize],
    p: &Params,
) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let d = &p.dn;
    let ns = ls.len() - 2;
    let n_batch = ls[d.lhs_spec[0]];
    let o_feat = rs[d.rhs_spec[0]];
    let k_in = rs[d.rhs_spec[1]];
    let in_sp: Vec<usize> = (0..ns).map(|i| ls[d.lhs_spec[2 + i]]).collect();
    let k_sp: Vec<usize> = (0..ns).map(|i| rs[d.rhs_spec[2 + i]]).collect();
    let out_sp: Vec<usize> = (0..ns)
        .map(|i| {
            let n = in_sp[i] as i64;
            let dil = if n == 0 {
                0
            } else {
                (n - 1) * p.lhs_dil[i] as i64 + 1
            };
            let padded = dil + p.pads[i].0 + p.pads[i].1;
            let wk = (k_sp[i] as i64 - 1) * p.rhs_dil[i] as i64 + 1;
            if padded < wk {
                0
            } else {
                ((padded - wk) / p.strides[i] as i64 + 1) as usize
            }
        })
        .collect();
    let mut out_shape = vec![0; ls.len()];
    out_shape[d.out_spec[0]] = n_batch / p.bg;
    out_shape[d.out_spec[1]] = o_feat;
    for i in 0..ns {
        out_shape[d.out_spec[2 + i]] = out_sp[i];
    }
    let n_out: usize = out_shape.iter().product();
    let n_k: usize = k_sp.iter().product();
    let (mut vals, mut mags) = (Vec::new(), Vec::new());
    for oidx in 0..n_out {
        let oi = unravel(oidx, &out_shape);
        let (n, o) = (oi[d.out_spec[0]], oi[d.out_spec[1]]);
        let fgroup = o / (o_feat / p.fg);
        let bgroup = o / (o_feat / p.bg);
        let nb = bgroup * (n_batch / p.bg) + n;
        let (mut s, mut m) = (0.0, 0.0);
        for i in 0..k_in {
            let c = fgroup * k_in + i;
            'window: for kk in 0..n_k {
                let ki = unravel(kk, &k_sp);
                let mut li = vec![0; ls.len()];
                li[d.lhs_spec[0]] = nb;
                li[d.lhs_spec[1]] = c;
                for j in 0..ns {
                    let y = oi[d.out_spec[2 + j]] as i64;
                    let pos =
                        y * p.strides[j] as i64 + ki[j] as i64 * p.rhs_dil[j] as i64 - p.pads[j].0;
                    let ld = p.lhs_dil[j] as i64;
                    if pos < 0 || pos % ld != 0 || pos / ld >= in_sp[j] as i64 {
                        continue 'window;
                    }
                    li[d.lhs_spec[2 + j]] = (pos / ld) as usize;
                }
                let mut ri = vec![0; rs.len()];
                ri[d.rhs_spec[0]] = o;
                ri[d.rhs_spec[1]] = i;
                for j in 0..ns {
                    ri[d.rhs_spec[2 + j]] = ki[j];
                }
                let prod = l[ravel(&li, ls)] * r[ravel(&ri, rs)];
                s += prod;
                m += prod.abs();
            }
        }
        vals.push(s);
        mags.push(m);
    }
    (out_shape, vals, mags)
}

fn check(what: &str, got: &Array, want: &[f64], mags: &[f64], dtype: DType) {
    let g = got.to_f64_vec();
    let tol = if dtype.is_float() {
        float_tol(dtype) * 4.0
    } else {
        0.0
    };
    assert_eq!(g.len(), want.len(), "{what}: length");
    for i in 0..g.len() {
        assert!(
            (g[i] - want[i]).abs() <= tol * (mags[i] + want[i].abs()),
            "{what}: element {i}: got {}, want {}",
            g[i],
            want[i]
        );
    }
}

/// A random convolution: shapes in random layouts and random parameters.
fn random_conv(rng: &mut Rng) -> (Vec<usize>, Vec<usize>, Params) {
    let ns = rng.int(1, 2) as usize;
    let nd = ns + 2;
    let (fg, bg) = match rng.int(0, 3) {
        0 => (rng.int(2, 3) as usize, 1),
        1 => (1, 2),
        _ => (1, 1),
    };
    let k_in = rng.int(1, 2) as usize;
    let o_feat = fg * bg * rng.int(1, 2) as usize;
    let n_batch = bg * rng.int(1, 2) as usize;
    let in_sp: Vec<usize> = (0..ns).map(|_| rng.int(1, 5) as usize).collect();
    let k_sp: Vec<usize> = (0..ns).map(|_| rng.int(1, 3) as usize).collect();
    let dn = ConvDimensionNumbers {
        lhs_spec: permutation(rng, nd),
        rhs_spec: permutation(rng, nd),
        out_spec: permutation(rng, nd),
    };
    let mut ls = vec![0; nd];
    ls[dn.lhs_spec[0]] = n_batch;
    ls[dn.lhs_spec[1]] = k_in * fg;
    let mut rs = vec![0; nd];
    rs[dn.rhs_spec[0]] = o_feat;
    rs[dn.rhs_spec[1]] = k_in;
    for i in 0..ns {
        ls[dn.lhs_spec[2 + i]] = in_sp[i];
        rs[dn.rhs_spec[2 + i]] = k_sp[i];
    }
    let lhs_dil: Vec<usize> = (0..ns).map(|_| rng.int(1, 2) as usize).collect();
    let pads = (0..ns)
        .map(|i| {
            let dil = (in_sp[i] as i64 - 1) * lhs_dil[i] as i64 + 1;
            let (lo, hi) = (rng.int(-1, 2), rng.int(-1, 2));
            if dil + lo + hi < 0 {
                (0, 0)
            } else {
                (lo, hi)
            }
        })
        .collect();
    let p = Params {
        strides: (0..ns).map(|_| rng.int(1, 2) as usize).collect(),
        pads,
        lhs_dil,
        rhs_dil: (0..ns).map(|_| rng.int(1, 2) as usize).collect(),
        dn,
        fg,
        bg,
    };
    (ls, rs, p)
}

fn range(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::I8 => (-2.0, 2.0),
        d if d.is_unsigned_int() => (0.0, 3.0),
        _ => (-3.0, 3.0),
    }
}

#[test]
fn conv_general_dilated_random_on_every_dtype() {
    let mut rng = Rng::new(31);
    for dtype in DType::ALL.into_iter().filter(|d| !d.is_bool()) {
        for trial in 0..8 {
            let (ls, rs, p) = random_conv(&mut rng);
            let (lo, hi) = range(dtype);
            let l = random_array(&mut rng, dtype, &ls, lo, hi);
            let r = random_array(&mut rng, dtype, &rs, lo, hi);
            let out = lax::conv_general_dilated(
                &l,
                &r,
                &p.strides,
                p.pads.clone(),
                Some(&p.lhs_dil),
                Some(&p.rhs_dil),
                p.dn.clone(),
                p.fg,
                p.bg,
            );
            let (oshape, want, mags) = conv_ref(&l.to_f64_vec(), &ls, &r.to_f64_vec(), &rs, &p);
            let what = format!(
                "conv {dtype} #{trial} lhs {ls:?} rhs {rs:?} strides {:?} pads {:?} lhs_dil {:?} \
                 rhs_dil {:?} {:?} fg {} bg {}",
                p.strides, p.pads, p.lhs_dil, p.rhs_dil, p.dn, p.fg, p.bg
            );
            assert_eq!(out.shape(), &oshape[..], "{what}");
            assert_eq!(out.dtype(), dtype, "{what}");
            check(&what, &out, &want, &mags, dtype);
        }
    }
}

#[test]
fn conv_preferred_element_type() {
    let mut rng = Rng::new(32);
    for (input, pref) in [
        (DType::BF16, DType::F32),
        (DType::I8, DType::I32),
        (DType::F16, DType::F32),
    ] {
        let (ls, rs, p) = random_conv(&mut rng);
        let (lo, hi) = if input.is_int() {
            (-100.0, 100.0)
        } else {
            (-3.0, 3.0)
        };
        let l = random_array(&mut rng, input, &ls, lo, hi);
        let r = random_array(&mut rng, input, &rs, lo, hi);
        let out = lax::conv_general_dilated_preferred(
            &l,
            &r,
            &p.strides,
            p.pads.clone(),
            Some(&p.lhs_dil),
            Some(&p.rhs_dil),
            p.dn.clone(),
            p.fg,
            p.bg,
            Some(pref),
        );
        assert_eq!(out.dtype(), pref);
        let (_, want, mags) = conv_ref(&l.to_f64_vec(), &ls, &r.to_f64_vec(), &rs, &p);
        check(
            &format!("conv {input}->{pref}"),
            &out,
            &want,
            &mags,
            if pref.is_float() { pref } else { input },
        );
    }
}

/// JAX's padtype_to_pads, written out independently.
fn jax_pads(ins: &[usize], ks: &[usize], strides: &[usize], lower: bool) -> Vec<(i64, i64)> {
    (0..ins.len())
        .map(|i| {
            let out = ins[i].div_ceil(strides[i]) as i64;
            let total = ((out - 1) * strides[i] as i64 + ks[i] as i64 - ins[i] as i64).max(0);
            if lower {
                (total - total / 2, total / 2)
            } else {
                (total / 2, total - total / 2)
            }
        })
        .collect()
}

#[test]
fn padding_strings_resolve_like_jax() {
    let mut rng = Rng::new(33);
    for trial in 0..12 {
        let (ls, rs, mut p) = random_conv(&mut rng);
        p.lhs_dil = vec![1; p.lhs_dil.len()];
        let l = random_array(&mut rng, DType::F32, &ls, -1.0, 1.0);
        let r = random_array(&mut rng, DType::F32, &rs, -1.0, 1.0);
        let ns = ls.len() - 2;
        let ins: Vec<usize> = (0..ns).map(|i| ls[p.dn.lhs_spec[2 + i]]).collect();
        let ks: Vec<usize> = (0..ns)
            .map(|i| (rs[p.dn.rhs_spec[2 + i]] - 1) * p.rhs_dil[i] + 1)
            .collect();
        for (padding, want_pads) in [
            (Padding::Same, jax_pads(&ins, &ks, &p.strides, false)),
            (Padding::SameLower, jax_pads(&ins, &ks, &p.strides, true)),
            (Padding::Valid, vec![(0, 0); ns]),
        ] {
            assert_eq!(
                lax::padtype_to_pads(&ins, &ks, &p.strides, &padding),
                want_pads
            );
            let out = lax::conv_general_dilated(
                &l,
                &r,
                &p.strides,
                padding.clone(),
                None,
                Some(&p.rhs_dil),
                p.dn.clone(),
                p.fg,
                p.bg,
            );
            p.pads = want_pads;
            let (oshape, want, mags) = conv_ref(&l.to_f64_vec(), &ls, &r.to_f64_vec(), &rs, &p);
            assert_eq!(out.shape(), &oshape[..], "#{trial} {padding:?}");
            if padding != Padding::Valid {
                for i in 0..ns {
                    assert_eq!(
                        oshape[p.dn.out_spec[2 + i]],
                        ins[i].div_ceil(p.strides[i]),
                        "SAME keeps ceil(in / stride)"
                    );
                }
            }
            check(
                &format!("#{trial} {padding:?}"),
                &out,
                &want,
                &mags,
                DType::F32,
            );
        }
    }
}

#[test]
fn dimension_number_strings() {
    let d = ConvDimensionNumbers::from_strings("NCHW", "OIHW", "NCHW").unwrap();
    assert_eq!(d, ConvDimensionNumbers::default_for_rank(4));
    let d = ConvDimensionNumbers::from_strings("NHWC", "HWIO", "NHWC").unwrap();
    assert_eq!(
        (d.lhs_spec, d.rhs_spec, d.out_spec),
        (vec![0, 3, 1, 2], vec![3, 2, 0, 1], vec![0, 3, 1, 2])
    );
    // Spatial order follows the kernel string.
    let d = ConvDimensionNumbers::from_strings("NWHC", "OIHW", "NCWH").unwrap();
    assert_eq!(
        (d.lhs_spec, d.rhs_spec, d.out_spec),
        (vec![0, 3, 2, 1], vec![0, 1, 2, 3], vec![0, 1, 3, 2])
    );
    assert!(ConvDimensionNumbers::from_strings("NCHW", "OIHW", "NCWH").is_ok());
    assert!(ConvDimensionNumbers::from_strings("NCH", "OIW", "NCH")
        .unwrap_err()
        .contains("spatial"));
    assert!(ConvDimensionNumbers::from_strings("NNHW", "OIHW", "NCHW")
        .unwrap_err()
        .contains("exactly once"));
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
fn conv_errors_name_the_op_and_caller_line() {
    let z = |s: &[usize], d| jaxon::numpy::zeros(s, d);
    let x = z(&[1, 4, 5, 5], DType::F32);
    let k = z(&[6, 2, 3, 3], DType::F32);
    check_err!(
        lax::conv(&x, &k, &[1, 1], Padding::Valid),
        &["conv_general_dilated", "feature"]
    );
    check_err!(
        lax::conv_general_dilated(&x, &k, &[1, 1], Padding::Valid, None, None, None, 3, 1),
        &["conv_general_dilated", "feature_group_count"]
    );
    check_err!(
        lax::conv_general_dilated(&x, &k, &[1, 1], Padding::Valid, None, None, None, 2, 2),
        &["conv_general_dilated", "at most"]
    );
    let ki = z(&[6, 4, 3, 3], DType::I32);
    check_err!(
        lax::conv(&x, &ki, &[1, 1], Padding::Valid),
        &["conv_general_dilated", "dtypes differ"]
    );
    check_err!(
        lax::conv(&x, &z(&[6, 4, 3], DType::F32), &[1, 1], Padding::Valid),
        &["conv_general_dilated", "rank"]
    );
    check_err!(
        lax::conv(&x, &z(&[6, 4, 3, 3], DType::F32), &[1], Padding::Valid),
        &["conv_general_dilated", "window_strides"]
    );
    check_err!(
        lax::conv_general_dilated(
            &x,
            &z(&[6, 4, 3, 3], DType::F32),
            &[1, 1],
            Padding::Same,
            Some(&[2, 2]),
            None,
            None,
            1,
            1
        ),
        &["conv_general_dilated", "transposed"]
    );
    check_err!(
        lax::conv_general_dilated(
            &x,
            &z(&[6, 4, 3, 3], DType::F32),
            &[1, 1],
            Padding::Valid,
            None,
            None,
            ("NCHW", "OIHW", "NCH"),
            1,
            1
        ),
        &["conv_general_dilated", "dimension_numbers"]
    );
    check_err!(
        lax::conv(
            &x,
            &z(&[6, 4, 3, 3], DType::F32),
            &[1, 1],
            [(-9, 0), (0, 0)]
        ),
        &["conv_general_dilated", "padding"]
    );
    let b = z(&[1, 4, 5, 5], DType::Bool);
    check_err!(
        lax::conv(&b, &b, &[1, 1], Padding::Valid),
        &["conv_general_dilated", "bool"]
    );
}

#[test]
fn conv_jaxpr_params() {
    let x = jaxon::numpy::zeros(&[1, 2, 5, 5], DType::F32);
    let k = jaxon::numpy::zeros(&[3, 2, 3, 3], DType::F32);
    let j = make_jaxpr(move |x: Array| lax::conv(&x, &k, &[1, 1], Padding::Same))(x);
    let text = j.to_string();
    for s in [
        "conv_general_dilated",
        "padding=((1, 1), (1, 1))",
        "window_strides=(1, 1)",
        "dimension_numbers=ConvDimensionNumbers(lhs_spec=(0, 1, 2, 3), rhs_spec=(0, 1, 2, 3), out_spec=(0, 1, 2, 3))",
        "feature_group_count=1",
    ] {
        assert!(text.contains(s), "{text} lacks {s}");
    }
}

// ---- golden cases from real JAX ---------------------------------------------------

fn golden(name: &str) -> Json {
    let path = format!("{}/../../tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

fn json_f64(v: &Json) -> f64 {
    match v {
        Json::String(s) if s == "nan" => f64::NAN,
        Json::String(s) if s == "inf" => f64::INFINITY,
        Json::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Json::Bool(b) => *b as u8 as f64,
        v => v.as_f64().expect("a number"),
    }
}

fn usizes(v: &Json) -> Vec<usize> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x.as_u64().expect("an int") as usize)
        .collect()
}

fn golden_array(v: &Json) -> Array {
    let shape = usizes(&v["shape"]);
    let data: Vec<f64> = v["data"].as_array().unwrap().iter().map(json_f64).collect();
    match v["dtype"].as_str().unwrap() {
        "float32" => Array::from_vec(&shape, data.iter().map(|&x| x as f32).collect()),
        "int32" => Array::from_vec(&shape, data.iter().map(|&x| x as i32).collect()),
        d => panic!("unexpected dtype {d}"),
    }
}

fn golden_padding(v: &Json) -> Padding {
    match v {
        Json::String(s) => Padding::from_name(s).expect("a padding name"),
        Json::Array(pairs) => Padding::Explicit(
            pairs
                .iter()
                .map(|p| (p[0].as_i64().unwrap(), p[1].as_i64().unwrap()))
                .collect(),
        ),
        _ => panic!("bad padding {v}"),
    }
}

fn golden_dn(v: &Json) -> lax::ConvSpec {
    match v {
        Json::Array(s) => lax::ConvSpec::from((
            s[0].as_str().unwrap(),
            s[1].as_str().unwrap(),
            s[2].as_str().unwrap(),
        )),
        _ => lax::ConvSpec::Default,
    }
}

#[test]
fn golden_convolutions_match_jax() {
    let g = golden("numpy_conv.json");
    let mut n = 0;
    for case in g["cases"].as_array().unwrap() {
        let fname = case["fn"].as_str().unwrap();
        let name = case["name"].as_str().unwrap();
        let kw = &case["kwargs"];
        let args = case["args"].as_array().unwrap();
        let opt = |k: &str| (!kw[k].is_null()).then(|| usizes(&kw[k]));
        let run = || match fname {
            "lax.conv_general_dilated" => {
                let (l, r) = (golden_array(&args[0]), golden_array(&args[1]));
                let fg = kw["feature_group_count"].as_u64().unwrap_or(1) as usize;
                let bg = kw["batch_group_count"].as_u64().unwrap_or(1) as usize;
                Some(lax::conv_general_dilated(
                    &l,
                    &r,
                    &usizes(&kw["window_strides"]),
                    golden_padding(&kw["padding"]),
                    opt("lhs_dilation").as_deref(),
                    opt("rhs_dilation").as_deref(),
                    golden_dn(&kw["dimension_numbers"]),
                    fg,
                    bg,
                ))
            }
            "lax.conv" => {
                let (l, r) = (golden_array(&args[0]), golden_array(&args[1]));
                Some(lax::conv(
                    &l,
                    &r,
                    &usizes(&kw["window_strides"]),
                    golden_padding(&kw["padding"]),
                ))
            }
            "lax.conv_transpose" => {
                let (l, r) = (golden_array(&args[0]), golden_array(&args[1]));
                Some(lax::conv_transpose(
                    &l,
                    &r,
                    &usizes(&kw["strides"]),
                    golden_padding(&kw["padding"]),
                    opt("rhs_dilation").as_deref(),
                    golden_dn(&kw["dimension_numbers"]),
                ))
            }
            _ => None,
        };
        if !case["error"].is_null() {
            if fname.starts_with("lax.conv") {
                expect_panic(
                    || {
                        run();
                    },
                    &["conv"],
                );
                n += 1;
            }
            continue;
        }
        let Some(out) = run() else { continue };
        let want = &case["out"];
        assert_eq!(out.shape(), &usizes(&want["shape"])[..], "{name}");
        let wv: Vec<f64> = want["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(json_f64)
            .collect();
        assert_close(name, &out.to_f64_vec(), &wv, 1e-5, 1e-5);
        n += 1;
    }
    assert!(n >= 25, "only {n} golden conv cases ran");
}
