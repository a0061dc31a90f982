//! Compares jaxon's control flow (scan, while_loop, cond, switch, fori_loop,
//! associative_scan) and its transformations with outputs recorded from real JAX in
//! `tests/golden/control.json` (made by `tools/gen_golden.py`, topic `topic_control`;
//! its `"doc"` describes the case format). Every test function is named in the fixture
//! and written once here with jaxon's API, mirroring its JAX source in `CONTROL_FUNS`.
//! Outputs are the pytree leaves in JAX's order (tuples in order, dict keys sorted:
//! the JAX dicts `{"u", "v"}` and `{"p", "q"}` are tuples here).

mod golden_support;

use golden_support::{array, compare, load, string_field, Case, Tol};
use jaxon::lax;
use jaxon::numpy as jnp;
use jaxon::prelude::*;
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A test function: positional arrays in, the output leaves out.
type Fun = fn(&[Array]) -> Vec<Array>;

fn sum(x: &Array) -> Array {
    jnp::sum(x, None, false)
}

fn one_like(x: &Array) -> Array {
    lax::full_like_scalar(x, 1.0)
}

/// `_rnn`: h = tanh(w h + u x) over the xs; ys = sum(h * h).
fn rnn(a: &[Array]) -> (Array, Array) {
    let (w, u) = (a[0].clone(), a[1].clone());
    lax::scan(
        |h: Array, x: Array| {
            let h = (w.matmul(&h) + u.matmul(&x)).tanh();
            (h.clone(), sum(&(&h * &h)))
        },
        a[2].clone(),
        a[3].clone(),
    )
}

/// `_while_dd`: grows x until its squared norm passes 10, counting the trips.
fn while_dd(a: &[Array]) -> (Array, Array) {
    let i0 = Array::scalar_i128(0, DType::I32, false);
    lax::while_loop(
        |(x, _): &(Array, Array)| sum(&(x * x)).lt(10.0),
        |(x, i): (Array, Array)| (&x * 1.25 + x.sin() * 0.25, lax::add(&i, &one_like(&i))),
        (a[0].clone(), i0),
    )
}

/// `_nested`: a cond on the sign of x inside a scan (differentiated by the cases).
fn nested(a: &[Array]) -> Array {
    let w = a[0].clone();
    let (h, ys) = lax::scan(
        |h: Array, x: Array| {
            let (wt, xt) = (w.clone(), x.clone());
            let (wf, xf) = (w.clone(), x.clone());
            let h = lax::cond(
                &x.gt(0.0),
                move |h: Array| (&wt * &h + &xt).sin(),
                move |h: Array| (&wf * &h).cos() - &xf,
                h,
            );
            (h.clone(), &h * &x)
        },
        jnp::array(0.5f32),
        a[1].clone(),
    );
    h + sum(&ys)
}

fn switch3(a: &[Array]) -> Array {
    let f0 = |x: Array| x.sin() * 2.0;
    let f1 = |x: Array| &x * &x - 1.0;
    let f2 = |x: Array| (-x).exp();
    lax::switch(&a[0], &[&f0, &f1, &f2], a[1].clone())
}

fn fori_static(a: &[Array]) -> Array {
    let w = a[0].clone();
    let c = lax::fori_loop(
        0,
        5,
        move |i: Array, c: Array| (&c * &w).tanh() + &c * i.astype(DType::F32) * 0.1,
        a[1].clone(),
    );
    sum(&c)
}

/// `_scan_rev_tree`: a reverse scan with carry (c1, c2), xs (u, v), ys (p, q).
#[allow(clippy::type_complexity)]
fn scan_rev_tree(a: &[Array]) -> ((Array, Array), (Array, Array)) {
    let av = a[0].clone();
    let opts = lax::ScanOptions {
        reverse: true,
        ..Default::default()
    };
    lax::scan_with(
        |(c1, c2): (Array, Array), (u, v): (Array, Array)| {
            let n1 = &c1 * &u + &av;
            let n2 = &c2 + sum(&v) * sum(&c1);
            let p = &n1 * &n2;
            ((n1, n2), (p, &v * sum(&c1)))
        },
        (jnp::ones(&[2], DType::F32), jnp::array(0.0f32)),
        (a[1].clone(), a[2].clone()),
        opts,
    )
}

fn linrec(p: (Array, Array), q: (Array, Array)) -> (Array, Array) {
    (&p.0 * &q.0, &q.0 * &p.1 + &q.1)
}

/// The test functions by name (JAX source in tools/gen_golden.py, CONTROL_FUNS).
fn function(name: &str) -> Option<Fun> {
    let f: Fun = match name {
        "rnn" => |a| {
            let (h, ys) = rnn(a);
            vec![h, ys]
        },
        "rnn_loss" => |a| {
            let (h, ys) = rnn(a);
            vec![sum(&ys) + sum(&h)]
        },
        "while_dd" => |a| vec![while_dd(a).0],
        "while_dd_count" => |a| {
            let (x, i) = while_dd(a);
            vec![x, i]
        },
        "nested_cond_scan" => |a| vec![nested(a)],
        "switch3" => |a| vec![switch3(a)],
        "switch3_sum" => |a| vec![sum(&switch3(a))],
        "fori_static" => |a| vec![fori_static(a)],
        "scan_rev_tree" => |a| {
            let ((c1, c2), (p, q)) = scan_rev_tree(a);
            vec![c1, c2, p, q]
        },
        "scan_rev_tree_loss" => |a| {
            let ((c1, c2), (p, q)) = scan_rev_tree(a);
            vec![sum(&c1) + c2 + sum(&p) + sum(&(&q * &q))]
        },
        "assoc_cumsum" => |a| {
            vec![lax::associative_scan(
                |x: Array, y: Array| x + y,
                a[0].clone(),
                false,
                1,
            )]
        },
        "assoc_cummax_rev" => |a| {
            vec![lax::associative_scan(
                |x: Array, y: Array| lax::max(&x, &y),
                a[0].clone(),
                true,
                0,
            )]
        },
        "assoc_linrec" => |a| {
            let (h, g) = lax::associative_scan(linrec, (a[0].clone(), a[1].clone()), false, 0);
            vec![h, g]
        },
        "assoc_linrec_loss" => |a| {
            let (_, g) = lax::associative_scan(linrec, (a[0].clone(), a[1].clone()), false, 0);
            vec![sum(&(&g * &g))]
        },
        _ => return None,
    };
    Some(f)
}

// ---- applying the transformations ------------------------------------------------------

/// Calls `vmap_with(g, in_axes, 0)` on positional args (dispatch on the arity).
fn vmap_call(f: Fun, args: &[Array], in_axes: &[Option<i64>]) -> Vec<Array> {
    macro_rules! arity {
        ($($i:tt $t:ty),+) => {{
            let v = vmap_with(
                move |t: ($($t,)+)| f(&[$(t.$i),+]),
                axes![$(in_axes[$i]),+],
                0,
                None,
            );
            v(($(args[$i].clone(),)+))
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

fn ints(v: &Value) -> Vec<Option<i64>> {
    v.as_array()
        .expect("list")
        .iter()
        .map(Value::as_i64)
        .collect()
}

/// Applies the case's transformation to `f`; the outputs in the fixture's order.
fn apply(transform: &str, f: Fun, case: &Case) -> Vec<Array> {
    let args: Vec<Array> = case.args.iter().map(array).collect();
    match transform {
        "value" => f(&args),
        "grad" => {
            let nums: Vec<usize> = ints(&case.kwargs["argnums"])
                .into_iter()
                .map(|n| n.expect("argnum") as usize)
                .collect();
            let chosen: Vec<Array> = nums.iter().map(|&n| args[n].clone()).collect();
            let all = args.clone();
            let picked = nums.clone();
            grad(move |sel: Vec<Array>| {
                let mut a = all.clone();
                for (&n, x) in picked.iter().zip(sel) {
                    a[n] = x;
                }
                f(&a).remove(0)
            })(chosen)
        }
        "jvp" => {
            let tangents = arrays(&case.kwargs["tangents"]);
            let (p, t) = jvp(|a: Vec<Array>| f(&a), args, tangents);
            p.into_iter().chain(t).collect()
        }
        "vmap" => vmap_call(f, &args, &ints(&case.kwargs["in_axes"])),
        t => panic!("unknown transformation {t}"),
    }
}

/// float32 tolerance for every case: 2e-6 relative (a few ulps: jaxon's interpreter
/// and XLA evaluate tanh/sin/exp and the matmul sums in a different order, and loops
/// carry those differences from step to step) plus 1e-6 absolute for values that
/// cancel to near zero. Dtypes and shapes must match exactly.
fn tolerance(_case: &Case) -> Tol {
    Tol {
        rtol: 2e-6,
        atol: 1e-6,
    }
}

#[test]
fn control_flow_matches_jax() {
    let file = "control.json";
    let kinds = string_field(file, "transform");
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut failures = vec![];
    // Panics are collected as failures below; keep their backtraces out of the log.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let cases = load(file);
    for case in &cases {
        let transform = kinds[&case.name].as_str();
        assert!(case.error.is_none(), "{}: JAX refused it", case.name);
        let Some(f) = function(&case.fn_) else {
            failures.push(format!("{}: no Rust function {}", case.name, case.fn_));
            continue;
        };
        *counts.entry(transform.to_string()).or_default() += 1;
        let got = match catch_unwind(AssertUnwindSafe(|| apply(transform, f, case))) {
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
        for (i, (g, w)) in got.iter().zip(&case.out).enumerate() {
            if let Some(d) = compare(g, w, Some(tolerance(case)), false) {
                failures.push(format!("{} out[{i}]: {d}", case.name));
            }
        }
    }
    std::panic::set_hook(hook);
    let total: usize = counts.values().sum();
    eprintln!("golden control: {total} cases run");
    for (t, n) in &counts {
        eprintln!("  {t}: {n}");
    }
    assert!(total >= 25, "only {total} cases");
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ from JAX:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
