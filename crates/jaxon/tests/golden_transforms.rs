//! Compares jaxon's transformations (grad, value_and_grad, jvp, vjp, jacfwd, jacrev,
//! hessian, vmap and compositions) with outputs recorded from real JAX in
//! `tests/golden/transforms.json` (made by `tools/gen_golden.py`, topic
//! `topic_transforms`; its `"doc"` describes each transformation's case format).
//! Every test function is named in the fixture and written once here with jaxon's API,
//! mirroring its JAX source in `TRANSFORM_FUNS` of the generator.

mod golden_support;

use golden_support::{array, compare, load, string_field, Case, Tol};
use jaxon::lax::Padding;
use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{lax, nn};
use serde_json::Value;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Cases where jaxon knowingly differs from JAX: (case name, reason). Skipped and printed.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

/// A test function: positional arrays in, one or more arrays out.
type Fun = fn(&[Array]) -> Vec<Array>;

/// A float32 constant (the literal constants of the JAX functions).
fn c32(shape: &[usize], v: &[f32]) -> Array {
    Array::from_vec(shape, v.to_vec())
}

fn i32s(v: &[i32]) -> Array {
    Array::from_vec(&[v.len()], v.to_vec())
}

/// `jnp.arange(n, dtype=float32).reshape(shape)`.
fn iota(shape: &[usize]) -> Array {
    let n: usize = shape.iter().product();
    c32(shape, &(0..n).map(|i| i as f32).collect::<Vec<_>>())
}

fn sum(x: Array) -> Array {
    jnp::sum(x, None, false)
}

fn sq(x: Array) -> Array {
    jnp::power(x, 2)
}

fn conv(x: &Array, k: &Array, strides: &[usize], padding: Padding) -> Array {
    lax::conv_general_dilated(x, k, strides, padding, None, None, None, 1, 1)
}

/// The test functions by name (JAX source in tools/gen_golden.py, TRANSFORM_FUNS).
fn function(name: &str) -> Option<Fun> {
    let f: Fun = match name {
        // ---- scalar outputs ----
        "sin_exp_sum" => |a| vec![sum(a[0].sin() * a[0].exp())],
        "log_sqrt" => |a| vec![sum(a[0].log() + a[0].sqrt() * 2.0)],
        "tanh_logistic" => |a| vec![sum(a[0].tanh() * nn::sigmoid(&a[0]))],
        "pow_xy" => |a| vec![sum(jnp::power(&a[0], &a[1]))],
        "abs_sum" => |a| vec![sum(a[0].abs() * &a[0])],
        "abs_at_zero" => |a| vec![sum(a[0].abs())],
        "max_all_ties" => |a| vec![jnp::max(&a[0], None, false)],
        "min_axis_ties" => |a| {
            vec![sum(
                jnp::min(&a[0], Some(&[1]), false) * c32(&[2], &[1.0, -2.0])
            )]
        },
        "maximum_ties" => |a| {
            vec![sum(
                jnp::maximum(&a[0], &a[1]) * c32(&[4], &[1.0, 2.0, 3.0, 4.0])
            )]
        },
        "minimum_ties" => |a| vec![sum(sq(jnp::minimum(&a[0], &a[1])))],
        "where_select" => |a| vec![sum(jnp::where_(a[0].gt(0), sq(a[0].clone()), a[0].sin()))],
        "logsumexp_all" => |a| vec![nn::logsumexp(&a[0], None)],
        "softmax_xent" => |a| {
            let labels = c32(&[2, 3], &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
            vec![-sum(labels * nn::log_softmax(&a[0], -1))]
        },
        "softmax_weighted" => |a| {
            let w = c32(&[2, 3], &[1.0, 2.0, 3.0, -1.0, 0.5, 0.0]);
            vec![sum(nn::softmax(&a[0], 0) * w)]
        },
        "mean_sq" => |a| vec![jnp::mean(sq(a[0].clone()), None, false)],
        "prod_all" => |a| vec![jnp::prod(&a[0], None, false)],
        "prod_with_zero" => |a| vec![jnp::prod(&a[0], Some(&[1]), false).sum(None)],
        "norm2" => |a| vec![sum(&a[0] * &a[0]).sqrt()],
        "mse_linear" => |a| {
            let (w, b, x, y) = (&a[0], &a[1], &a[2], &a[3]);
            vec![jnp::mean(sq(x.matmul(w) + b - y), None, false)]
        },
        "integer_pow_poly" => |a| {
            let x = &a[0];
            vec![sum(
                jnp::power(x, 3) - jnp::power(x, 2) * 2.0 + jnp::power(x, -2)
            )]
        },
        "clip_bounds" => |a| {
            let w = c32(&[6], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
            vec![sum(sq(jnp::clip(&a[0], -1.0, 1.0)) * w)]
        },
        "cumsum_sq" => |a| vec![sum(sq(jnp::cumsum(&a[0], None)))],
        "cumprod_sum" => |a| vec![sum(jnp::cumprod(&a[0], Some(1)))],
        "sort_weighted" => |a| vec![sum(jnp::sort(&a[0], Some(-1)) * iota(&[5]))],
        "top_k_weighted" => |a| vec![sum(lax::top_k(&a[0], 3).0 * c32(&[3], &[3.0, 2.0, 1.0]))],
        "gather_dup" => |a| vec![sum(sq(a[0].i(i32s(&[0, 2, 2, 4]))))],
        "at_add" => |a| vec![sum(a[0].at(i32s(&[1, 3, 1])).add(&a[1]).sin())],
        "slice_last" => |a| vec![sum(sq(a[0].i(1..4))) + a[0].i(-1) * 3.0],
        "einsum_sq" => |a| vec![sum(sq(jnp::einsum("ij,jk->ik", &[&a[0], &a[1]])))],
        "conv_valid_sq" => |a| vec![sum(sq(conv(&a[0], &a[1], &[1, 1], Padding::Valid)))],
        "pad_concat" => |a| {
            let c = jnp::concatenate(&[a[0].clone(), a[1].clone()], 1);
            vec![sum(jnp::pad(c, &[(1, 0), (0, 2)], 0.0) * iota(&[3, 7]))]
        },
        "reshape_transpose" => |a| {
            let t = jnp::transpose(a[0].reshape(&[3, 2]), None);
            vec![sum(sq(t) * iota(&[2, 3]))]
        },
        "broadcast_add" => |a| vec![sum((&a[0] + &a[1]).tanh())],
        "matvec_tanh" => |a| vec![sum(a[0].matmul(&a[1]).tanh())],
        "dot_sq" => |a| vec![sq(jnp::dot(&a[0], &a[1]))],
        "scalar_poly_sin" => |a| vec![jnp::power(&a[0], 3) * a[0].sin()],
        "scalar_exp_ratio" => |a| vec![a[0].sin().exp() / (1.0 + &a[0] * &a[0])],
        "clamp_scalar" => |a| vec![lax::clamp(&a[1], &a[0], &jnp::array(2.0f32)) * &a[0]],
        "mlp_loss" => |a| {
            let (w1, w2, x) = (&a[0], &a[1], &a[2]);
            vec![jnp::mean(
                x.matmul(w1).tanh().matmul(sq(w2.clone())),
                None,
                false,
            )]
        },
        // ---- array outputs ----
        "softmax_rows" => |a| vec![nn::softmax(&a[0], -1)],
        "cumsum_rows" => |a| vec![jnp::cumsum(&a[0], Some(1))],
        "sort_vec" => |a| vec![jnp::sort(&a[0], Some(-1))],
        "matvec" => |a| vec![a[0].matmul(&a[1])],
        "elementwise_mix" => |a| {
            let x = &a[0];
            vec![x.exp() * x.sin() + nn::sigmoid(x) * (x * x).log1p()]
        },
        "conv_same_s2" => |a| vec![conv(&a[0], &a[1], &[2, 1], Padding::Same)],
        "gather_rows" => |a| vec![a[0].i(i32s(&[2, 0, 2])) * 2.0],
        "outer_bcast" => |a| vec![a[0].i((.., NewAxis)) * &a[1] + sq(a[1].clone())],
        "max_axis0_ties" => |a| vec![jnp::max(&a[0], Some(&[0]), false)],
        "cumprod_vec" => |a| vec![jnp::cumprod(&a[0], None)],
        "top_k_vals" => |a| vec![lax::top_k(&a[0], 2).0],
        "sincos_pair" => |a| vec![a[0].sin(), a[0].cos() * &a[0]],
        "bilinear_pair" => |a| vec![&a[0] * &a[1], sum(a[0].clone()) - &a[1]],
        _ => return None,
    };
    Some(f)
}

// ---- applying the transformations ------------------------------------------------------

/// `f` as a function of its first argument, the others fixed (JAX's argnums=0).
fn of_first(f: Fun, args: &[Array]) -> impl Fn(Array) -> Array + Clone {
    let rest = args[1..].to_vec();
    move |x0: Array| {
        let mut a = vec![x0];
        a.extend(rest.iter().cloned());
        f(&a).remove(0)
    }
}

/// The scalar function of all arguments (for grad).
fn scalar(f: Fun) -> impl Fn(Vec<Array>) -> Array + Clone {
    move |a: Vec<Array>| f(&a).remove(0)
}

/// Calls `vmap_with(g, in_axes, out_axes)` (under `jit` if asked) on positional args:
/// the per-argument axes need a tuple input, so dispatch on the arity.
fn vmap_call(
    g: impl Fn(&[Array]) -> Vec<Array> + Clone,
    args: &[Array],
    in_axes: &[Option<i64>],
    out_axes: i64,
    under_jit: bool,
) -> Vec<Array> {
    macro_rules! arity {
        ($($i:tt $t:ty),+) => {{
            let g = g.clone();
            let v = vmap_with(
                move |t: ($($t,)+)| g(&[$(t.$i),+]),
                axes![$(in_axes[$i]),+],
                out_axes,
                None,
            );
            let a = ($(args[$i].clone(),)+);
            if under_jit {
                jit(v)(a)
            } else {
                v(a)
            }
        }};
    }
    match args.len() {
        1 => arity!(0 Array),
        2 => arity!(0 Array, 1 Array),
        3 => arity!(0 Array, 1 Array, 2 Array),
        4 => arity!(0 Array, 1 Array, 2 Array, 3 Array),
        n => panic!("vmap_call: {n} arguments"),
    }
}

fn arrays(v: &Value) -> Vec<Array> {
    v.as_array()
        .expect("list of arrays")
        .iter()
        .map(array)
        .collect()
}

fn in_axes(case: &Case) -> Vec<Option<i64>> {
    case.kwargs["in_axes"]
        .as_array()
        .expect("in_axes")
        .iter()
        .map(Value::as_i64)
        .collect()
}

/// Applies the case's transformation to `f`; the outputs in the fixture's order.
fn apply(transform: &str, f: Fun, case: &Case) -> Vec<Array> {
    let args: Vec<Array> = case.args.iter().map(array).collect();
    match transform {
        "grad" => grad(scalar(f))(args),
        "value_and_grad" => {
            let (v, g) = value_and_grad(scalar(f))(args);
            std::iter::once(v).chain(g).collect()
        }
        "jvp" => {
            let tangents = arrays(&case.kwargs["tangents"]);
            let (p, t) = jvp(|a: Vec<Array>| f(&a), args, tangents);
            p.into_iter().chain(t).collect()
        }
        "vjp" => {
            let cts = arrays(&case.kwargs["cotangents"]);
            let (p, pullback) = vjp(|a: Vec<Array>| f(&a), args);
            let g = pullback(cts);
            p.into_iter().chain(g).collect()
        }
        "jacfwd" => vec![jacfwd(of_first(f, &args))(args[0].clone())],
        "jacrev" => vec![jacrev(of_first(f, &args))(args[0].clone())],
        "hessian" => vec![hessian(of_first(f, &args))(args[0].clone())],
        "jacfwd_jacrev" => vec![jacfwd(jacrev(of_first(f, &args)))(args[0].clone())],
        "grad_grad" => {
            let g = of_first(f, &args);
            vec![grad(move |x0: Array| sum(grad(g.clone())(x0)))(
                args[0].clone(),
            )]
        }
        "vmap" => {
            let out_axes = case.kwargs["out_axes"].as_i64().expect("out_axes");
            vmap_call(f, &args, &in_axes(case), out_axes, false)
        }
        "vmap_grad" | "jit_vmap_grad" => {
            let per_example = move |a: &[Array]| grad(scalar(f))(a.to_vec());
            vmap_call(
                per_example,
                &args,
                &in_axes(case),
                0,
                transform == "jit_vmap_grad",
            )
        }
        t => panic!("unknown transformation {t}"),
    }
}

/// float32 tolerance: 2e-6 relative (a few ulps: the derivative formulas evaluate
/// transcendentals and sums in a different order than XLA) plus a small absolute term
/// for results that cancel to near zero.
fn tolerance(_case: &Case, _transform: &str) -> Tol {
    Tol {
        rtol: 2e-6,
        atol: 1e-6,
    }
}

#[test]
fn transforms_match_jax() {
    let file = "transforms.json";
    let kinds = string_field(file, "transform");
    let known: HashMap<&str, &str> = KNOWN_DIFFERENCES.iter().copied().collect();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut failures = vec![];
    let mut skipped = 0;
    // Panics are collected as failures below; keep their backtraces out of the log.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for case in load(file) {
        let transform = kinds[&case.name].as_str();
        if let Some(why) = known.get(case.name.as_str()) {
            eprintln!("known difference, skipped: {}: {why}", case.name);
            skipped += 1;
            continue;
        }
        let Some(f) = function(&case.fn_) else {
            failures.push(format!("{}: no Rust function {}", case.name, case.fn_));
            continue;
        };
        *counts.entry(transform.to_string()).or_default() += 1;
        let got = match catch_unwind(AssertUnwindSafe(|| apply(transform, f, &case))) {
            Ok(got) => got,
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: panicked: {msg}", case.name));
                continue;
            }
        };
        if got.len() != case.out.len() {
            failures.push(format!(
                "{}: {} outputs, JAX has {}",
                case.name,
                got.len(),
                case.out.len()
            ));
            continue;
        }
        let tol = tolerance(&case, transform);
        for (i, (g, w)) in got.iter().zip(&case.out).enumerate() {
            if let Some(d) = compare(g, w, Some(tol), false) {
                failures.push(format!("{} out[{i}]: {d}", case.name));
            }
        }
    }
    std::panic::set_hook(hook);
    let total: usize = counts.values().sum();
    eprintln!("golden transforms: {total} cases run, {skipped} known differences skipped");
    for (t, n) in &counts {
        eprintln!("  {t}: {n}");
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ from JAX:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
