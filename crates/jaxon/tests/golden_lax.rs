//! Golden values from real JAX (tools/gen_golden.py) for indexing, gather/scatter
//! out-of-bounds behaviour, sorting, einsum, convolution and pooling.

mod golden_support;

use golden_support::*;
use jaxon::lax::{self, GatherScatterMode, Padding};
use jaxon::numpy::{self as jnp, IndexItem, TakeMode};
use jaxon::prelude::*;
use serde_json::{Map, Value};

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|d| d.as_u64().expect("uint") as usize)
        .collect()
}

fn axis_kw(kw: &Map<String, Value>, default: Option<i64>) -> Option<i64> {
    match kw.get("axis") {
        None => default,
        Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().expect("axis")),
    }
}

fn padding(v: &Value) -> Padding {
    match v {
        Value::String(s) => Padding::from_name(s).expect("padding name"),
        Value::Array(pairs) => Padding::Explicit(
            pairs
                .iter()
                .map(|p| (p[0].as_i64().expect("lo"), p[1].as_i64().expect("hi")))
                .collect(),
        ),
        _ => panic!("bad padding {v}"),
    }
}

fn dims_spec(kw: &Map<String, Value>) -> Option<(String, String, String)> {
    kw.get("dimension_numbers")
        .and_then(|v| v.as_array())
        .map(|l| {
            let s = |i: usize| l[i].as_str().expect("spec").to_string();
            (s(0), s(1), s(2))
        })
}

fn index_items(v: &Value) -> Vec<IndexItem> {
    v.as_array()
        .expect("index list")
        .iter()
        .map(|item| {
            let o = item.as_object().expect("index item");
            if let Some(n) = o.get("int") {
                IndexItem::Int(n.as_i64().expect("int"))
            } else if let Some(s) = o.get("slice") {
                let g = |i: usize| s[i].as_i64();
                IndexItem::Slice(jnp::s(g(0), g(1), g(2).unwrap_or(1)))
            } else if o.contains_key("newaxis") {
                IndexItem::NewAxis
            } else if o.contains_key("ellipsis") {
                IndexItem::Ellipsis
            } else {
                IndexItem::Array(array(&o["array"]))
            }
        })
        .collect()
}

/// The mode named in the case; absent, JAX's default for that use (`default`).
fn scatter_mode(kw: &Map<String, Value>, default: GatherScatterMode) -> GatherScatterMode {
    match kw.get("mode").and_then(|m| m.as_str()) {
        Some("clip") => GatherScatterMode::Clip,
        Some("promise_in_bounds") => GatherScatterMode::PromiseInBounds,
        Some("fill") | Some("drop") => GatherScatterMode::FillOrDrop,
        _ => default,
    }
}

fn take_mode(kw: &Map<String, Value>) -> TakeMode {
    match kw.get("mode").and_then(|m| m.as_str()) {
        Some("clip") => TakeMode::Clip,
        Some("wrap") => TakeMode::Wrap,
        _ => TakeMode::Fill,
    }
}

/// The jaxon result(s) of one case, or `None` when jaxon has no such function.
fn run(case: &Case, raw: &Value) -> Option<Vec<Array>> {
    let kw = &case.kwargs;
    let args: Vec<Arg> = case.args.iter().map(Arg::parse).collect();
    let a = |i: usize| args[i].arr();
    let bool_kw = |k: &str, d: bool| kw.get(k).and_then(|v| v.as_bool()).unwrap_or(d);
    let out = match case.fn_.as_str() {
        "getitem" => vec![a(0).i(index_items(&raw["index"]))],
        f if f.starts_with("at_") => {
            let at = a(0).at(index_items(&raw["index"]));
            let value = || Arg::parse(&raw["value"]).op();
            // Updates default to dropping out-of-bounds windows.
            let mode = scatter_mode(kw, GatherScatterMode::FillOrDrop);
            vec![match f {
                "at_set" => at.set_with(value(), mode),
                "at_add" => at.add_with(value(), mode),
                "at_multiply" => at.mul_with(value(), mode),
                "at_min" => at.min_with(value(), mode),
                "at_max" => at.max_with(value(), mode),
                "at_get" => {
                    let fill = kw.get("fill_value").map(num);
                    // `.at[].get()` defaults to promise_in_bounds, which clamps.
                    at.get_with(scatter_mode(kw, GatherScatterMode::PromiseInBounds), fill)
                }
                _ => return None,
            }]
        }
        "take" => vec![jnp::take_with(
            a(0),
            a(1),
            axis_kw(kw, None),
            take_mode(kw),
            kw.get("fill_value").map(num),
        )],
        "take_along_axis" => {
            vec![jnp::take_along_axis_with(
                a(0),
                a(1),
                axis_kw(kw, None),
                take_mode(kw),
                kw.get("fill_value").map(num),
            )]
        }
        "sort" => vec![jnp::sort_with(
            a(0),
            axis_kw(kw, Some(-1)),
            bool_kw("stable", true),
            bool_kw("descending", false),
        )],
        "argsort" => {
            vec![jnp::argsort_with(
                a(0),
                axis_kw(kw, Some(-1)),
                bool_kw("stable", true),
                bool_kw("descending", false),
            )]
        }
        "lax.top_k" => {
            let (v, i) = lax::top_k(&a(0), kw["k"].as_u64().expect("k") as usize);
            vec![v, i]
        }
        "lax.sort" => {
            let ops = match &args[0] {
                Arg::List(_) => args[0].arrays(),
                _ => vec![a(0)],
            };
            let dim = kw.get("dimension").and_then(|v| v.as_u64()).unwrap_or(0) as usize;
            let keys = kw.get("num_keys").and_then(|v| v.as_u64()).unwrap_or(1) as usize;
            lax::sort(&ops, dim, bool_kw("is_stable", true), keys)
        }
        "lexsort" => vec![jnp::lexsort(
            &args[0].arrays(),
            axis_kw(kw, Some(-1)).unwrap_or(-1),
        )],
        "einsum" => {
            let Arg::Str(spec) = &args[0] else {
                panic!("einsum spec")
            };
            let ops: Vec<Array> = args[1..].iter().map(Arg::arr).collect();
            let refs: Vec<&Array> = ops.iter().collect();
            let preferred = kw
                .get("preferred_element_type")
                .and_then(|v| v.as_str())
                .map(dtype);
            vec![jnp::einsum_with(spec, &refs, preferred)]
        }
        "lax.conv_general_dilated" => {
            let lhs_d = kw.get("lhs_dilation").map(usizes);
            let rhs_d = kw.get("rhs_dilation").map(usizes);
            let groups = kw
                .get("feature_group_count")
                .and_then(|v| v.as_u64())
                .unwrap_or(1) as usize;
            let batch_groups = kw
                .get("batch_group_count")
                .and_then(|v| v.as_u64())
                .unwrap_or(1) as usize;
            let strides = usizes(&kw["window_strides"]);
            let pad = padding(&kw["padding"]);
            let r = match dims_spec(kw) {
                Some((l, r, o)) => lax::conv_general_dilated(
                    &a(0),
                    &a(1),
                    &strides,
                    pad,
                    lhs_d.as_deref(),
                    rhs_d.as_deref(),
                    (l.as_str(), r.as_str(), o.as_str()),
                    groups,
                    batch_groups,
                ),
                None => lax::conv_general_dilated(
                    &a(0),
                    &a(1),
                    &strides,
                    pad,
                    lhs_d.as_deref(),
                    rhs_d.as_deref(),
                    None,
                    groups,
                    batch_groups,
                ),
            };
            vec![r]
        }
        "lax.conv" => vec![lax::conv(
            &a(0),
            &a(1),
            &usizes(&kw["window_strides"]),
            padding(&kw["padding"]),
        )],
        "lax.conv_transpose" => {
            let (l, r, o) = dims_spec(kw).expect("dimension numbers");
            vec![lax::conv_transpose(
                &a(0),
                &a(1),
                &usizes(&kw["strides"]),
                padding(&kw["padding"]),
                None,
                (l.as_str(), r.as_str(), o.as_str()),
            )]
        }
        "lax.reduce_window" => {
            let x = a(0);
            let win = usizes(&kw["window_dimensions"]);
            let strides = usizes(&kw["window_strides"]);
            let pad = padding(&kw["padding"]);
            let base = kw.get("base_dilation").map(usizes);
            let wdil = kw.get("window_dilation").map(usizes);
            let init = num(&kw["init_value"]);
            let (r, identity) = match kw["computation"].as_str().expect("computation") {
                "max" => (
                    lax::reduce_window_max(
                        &x,
                        &win,
                        &strides,
                        pad,
                        base.as_deref(),
                        wdil.as_deref(),
                    ),
                    None,
                ),
                "min" => (
                    lax::reduce_window_min(
                        &x,
                        &win,
                        &strides,
                        pad,
                        base.as_deref(),
                        wdil.as_deref(),
                    ),
                    None,
                ),
                _ => (
                    lax::reduce_window_sum(
                        &x,
                        &win,
                        &strides,
                        pad,
                        base.as_deref(),
                        wdil.as_deref(),
                    ),
                    Some(0.0),
                ),
            };
            // A non-identity init value folds in once per window.
            let init_arr = lax::full_like_scalar(&r, init);
            let r = match (kw["computation"].as_str(), identity) {
                (Some("max"), _)
                    if init > f64::NEG_INFINITY
                        && !(x.dtype().is_int() && init <= i32::MIN as f64) =>
                {
                    lax::max(&r, &init_arr)
                }
                (Some("min"), _) if init < f64::INFINITY => lax::min(&r, &init_arr),
                (_, Some(z)) if init != z => lax::add(&r, &init_arr),
                _ => r,
            };
            vec![r]
        }
        _ => return None,
    };
    Some(out)
}

/// Float tolerance per function: data are small integers, so sums are exact; only
/// the sign of an exact zero may differ with the summation order in einsum/conv.
fn tolerance(f: &str, dt: DType) -> Option<Tol> {
    match f {
        "einsum" | "lax.conv_general_dilated" | "lax.conv" | "lax.conv_transpose" => Some(Tol {
            rtol: 0.0,
            atol: 0.0,
        }),
        _ => {
            let _ = dt;
            None
        }
    }
}

fn check_file(file: &str) {
    let text = std::fs::read_to_string(format!(
        "{}/../../tests/golden/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let root: Value = serde_json::from_str(&text).expect("json");
    let raw_cases = root["cases"].as_array().expect("cases").clone();
    let cases = load(file);
    let (mut run_n, mut skipped) = (0, Vec::new());
    let mut bad = Vec::new();
    for (case, raw) in cases.iter().zip(&raw_cases) {
        if case.error.is_some() {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(case, raw)));
            match r {
                Err(_) => run_n += 1,
                Ok(None) => skipped.push(case.name.clone()),
                Ok(Some(_)) => bad.push(format!(
                    "{}: JAX raises {:?}, jaxon did not",
                    case.name, case.error
                )),
            }
            continue;
        }
        let got = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(case, raw))) {
            Ok(Some(g)) => g,
            Ok(None) => {
                skipped.push(case.name.clone());
                continue;
            }
            Err(e) => {
                let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
                bad.push(format!("{}: panicked: {msg}", case.name));
                continue;
            }
        };
        run_n += 1;
        if got.len() != case.out.len() {
            bad.push(format!(
                "{}: {} outputs, want {}",
                case.name,
                got.len(),
                case.out.len()
            ));
            continue;
        }
        for (g, w) in got.iter().zip(&case.out) {
            if let Some(d) = compare(g, w, tolerance(&case.fn_, g.dtype()), !case.x64) {
                bad.push(format!("{}: {d}", case.name));
            }
        }
    }
    eprintln!(
        "{file}: {} cases: {run_n} run, {} skipped (no such jaxon function: {skipped:?})",
        cases.len(),
        skipped.len()
    );
    assert!(
        bad.is_empty(),
        "{file}: {} mismatches with JAX:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn golden_indexing() {
    check_file("numpy_indexing.json");
}

#[test]
fn golden_sort() {
    check_file("numpy_sort.json");
}

#[test]
fn golden_einsum() {
    check_file("numpy_einsum.json");
}

#[test]
fn golden_conv_and_pooling() {
    check_file("numpy_conv.json");
}
