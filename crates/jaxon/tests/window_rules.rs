//! Transformation rules of the windowed reductions (`reduce_window_sum/max/min`)
//! and the cumulative primitives (`cumsum`, `cumprod`, `cummax`, `cummin`,
//! `cumlogsumexp`): gradients vs finite differences (orders 1–2), vmap vs a loop
//! over the batch, jit vs eager; plus the numpy cumulative functions.

mod dot_rules_support;
mod support;

use dot_rules_support::{grads, jit, vmap, Counter};
use jaxon::core::primitive::{LinArg, Primitive};
use jaxon::lax;
use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::transform::jvp::jvp_flat;
use support::{random_array, Rng};

fn rand(rng: &mut Rng, shape: &[usize]) -> Array {
    random_array(rng, DType::F64, shape, -1.0, 1.0)
}

fn with_batch(shape: &[usize], ax: Option<usize>, n: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    if let Some(ax) = ax {
        s.insert(ax, n);
    }
    s
}

/// Random reduce_window parameters for an operand of `shape`. For max/min
/// (`chooser`) every window keeps at least one real element: no base dilation, and
/// padding only on dims with undilated windows of size >= 2.
struct Window {
    dims: Vec<usize>,
    strides: Vec<usize>,
    padding: Vec<(i64, i64)>,
    base: Vec<usize>,
    wdil: Vec<usize>,
}

fn random_window(rng: &mut Rng, shape: &[usize], chooser: bool) -> Window {
    let r = shape.len();
    let mut w = Window {
        dims: vec![],
        strides: vec![],
        padding: vec![],
        base: vec![],
        wdil: vec![],
    };
    for &n in shape {
        let base = if chooser { 1 } else { rng.int(1, 2) as usize };
        let wdil = rng.int(1, 2) as usize;
        let dilated = (n - 1) * base + 1;
        // A window that fits the (dilated) operand.
        let max_w = ((dilated - 1) / wdil + 1).min(3);
        let dim = rng.int(1, max_w as i64) as usize;
        let pad = if !chooser || (dim >= 2 && wdil == 1) {
            (rng.int(0, 1), rng.int(0, 1))
        } else {
            (0, 0)
        };
        w.dims.push(dim);
        w.strides.push(rng.int(1, 2) as usize);
        w.padding.push(pad);
        w.base.push(base);
        w.wdil.push(wdil);
    }
    assert_eq!(w.dims.len(), r);
    w
}

fn reduce_window(kind: &str, x: &Array, w: &Window) -> Array {
    let f = match kind {
        "reduce_window_sum" => lax::reduce_window_sum,
        "reduce_window_max" => lax::reduce_window_max,
        _ => lax::reduce_window_min,
    };
    f(
        x,
        &w.dims,
        &w.strides,
        w.padding.clone(),
        Some(&w.base),
        Some(&w.wdil),
    )
}

#[test]
fn reduce_window_rules() {
    let c = Counter::new();
    let mut rng = Rng::new(21);
    for kind in [
        "reduce_window_sum",
        "reduce_window_max",
        "reduce_window_min",
    ] {
        for _ in 0..6 {
            let r = rng.int(1, 3) as usize;
            let shape: Vec<usize> = (0..r).map(|_| rng.int(1, 4) as usize).collect();
            let w = random_window(&mut rng, &shape, kind != "reduce_window_sum");
            let f = |a: &[Array]| vec![reduce_window(kind, &a[0], &w)];
            let x = rand(&mut rng, &shape);
            grads(&c, kind, &f, std::slice::from_ref(&x));
            jit(&c, kind, &f, &[x]);
            for ax in [0, r] {
                let xb = rand(&mut rng, &with_batch(&shape, Some(ax), 3));
                vmap(&c, kind, &f, &[xb], &[Some(ax)]);
            }
        }
    }
    assert!(c.report("reduce_window rules") >= 72);
}

#[test]
fn reduce_window_max_ties_take_the_first_position() {
    // With ties inside a window the tangent is the one at the first position of the
    // maximum in the window (XLA's select_and_gather_add order).
    let mut rng = Rng::new(4);
    let x = jnp::array(&[2.0f64, 2.0, 1.0, 3.0, 3.0]);
    let t = rand(&mut rng, &[5]);
    let f = |a: &[Array]| {
        vec![lax::reduce_window_max(
            &a[0],
            &[2],
            &[1],
            [(0, 0)],
            None,
            None,
        )]
    };
    let (_, dt) = jvp_flat(f, std::slice::from_ref(&x), std::slice::from_ref(&t));
    let (xv, tv) = (x.to_f64_vec(), t.to_f64_vec());
    let want: Vec<f64> = (0..4)
        .map(|i| if xv[i] >= xv[i + 1] { tv[i] } else { tv[i + 1] })
        .collect();
    assert_eq!(dt[0].to_f64_vec(), want);
}

fn cum(kind: &str, x: &Array, axis: usize, reverse: bool) -> Array {
    match kind {
        "cumsum" => lax::cumsum(x, axis, reverse),
        "cumprod" => lax::cumprod(x, axis, reverse),
        "cummax" => lax::cummax(x, axis, reverse),
        "cummin" => lax::cummin(x, axis, reverse),
        _ => lax::cumlogsumexp(x, axis, reverse),
    }
}

#[test]
fn cumulative_rules() {
    let c = Counter::new();
    let mut rng = Rng::new(33);
    for kind in ["cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"] {
        for case in 0..5 {
            let r = rng.int(1, 3) as usize;
            let shape: Vec<usize> = (0..r).map(|_| rng.int(1, 6) as usize).collect();
            let axis = rng.int(0, r as i64 - 1) as usize;
            let reverse = case % 2 == 1;
            let f = |a: &[Array]| vec![cum(kind, &a[0], axis, reverse)];
            let mut x = rand(&mut rng, &shape);
            if kind == "cumprod" && case == 0 {
                // An exact zero: the product rule must not divide by it.
                let mut v = x.to_f64_vec();
                let mid = v.len() / 2;
                v[mid] = 0.0;
                x = Array::from_vec(&shape, v);
            }
            grads(&c, kind, &f, std::slice::from_ref(&x));
            jit(&c, kind, &f, &[x]);
            for ax in [0, r] {
                let xb = rand(&mut rng, &with_batch(&shape, Some(ax), 2));
                vmap(&c, kind, &f, &[xb], &[Some(ax)]);
            }
        }
    }
    assert!(c.report("cumulative rules") >= 100);
}

#[test]
fn cumprod_grad_with_zeros_matches_reference() {
    // d cumprod(x)_i / d x_j = prod_{k <= i, k != j} x_k for j <= i, computed directly.
    let x = jnp::array(&[1.5f64, 0.0, -2.0, 0.0, 0.5]);
    let f = |a: &[Array]| vec![lax::reduce_sum(&lax::cumprod(&a[0], 0, false), &[0])];
    let (_, lin) = jaxon::transform::ad::vjp_flat(f, std::slice::from_ref(&x));
    let g = lin.transpose(&[jnp::array(1.0f64)]);
    let xv = x.to_f64_vec();
    for (j, gj) in g[0].to_f64_vec().iter().enumerate() {
        let want: f64 = (j..5)
            .map(|i| (0..=i).filter(|&k| k != j).map(|k| xv[k]).product::<f64>())
            .sum();
        assert!((gj - want).abs() < 1e-12, "element {j}: {gj} vs {want}");
    }
}

#[test]
fn numpy_cumulative_functions_differentiate_and_vmap() {
    let c = Counter::new();
    let mut rng = Rng::new(8);
    type F = fn(&Array) -> Array;
    let cases: [(&str, F); 4] = [
        ("jnp.cumsum", |a| jnp::cumsum(a, Some(1))),
        ("jnp.cumsum(flat)", |a| jnp::cumsum(a, None)),
        ("jnp.cumprod", |a| jnp::cumprod(a, Some(0))),
        ("jnp.cumprod(-1)", |a| jnp::cumprod(a, Some(-1))),
    ];
    for (name, g) in cases {
        let f = |a: &[Array]| vec![g(&a[0])];
        let x = rand(&mut rng, &[3, 4]);
        grads(&c, name, &f, std::slice::from_ref(&x));
        jit(&c, name, &f, &[x]);
        vmap(&c, name, &f, &[rand(&mut rng, &[3, 4, 2])], &[Some(2)]);
        vmap(&c, name, &f, &[rand(&mut rng, &[2, 3, 4])], &[Some(0)]);
    }
    assert_eq!(c.report("numpy cumulative"), 16);
}

#[test]
fn nonlinear_window_primitives_refuse_transpose() {
    // Transposing a non-linear primitive is an error naming it, never a zero.
    let aval = jnp::zeros(&[3], DType::F64).aval();
    let cm = lax::Cumulative {
        kind: lax::CumKind::Max,
        axis: 0,
        reverse: false,
    };
    let err = cm
        .transpose(
            &[Some(jnp::zeros(&[3], DType::F64))],
            &[LinArg::Linear(aval.clone())],
        )
        .unwrap_err();
    assert!(err.contains("cummax") && err.contains("transpose"), "{err}");
    let rw = lax::ReduceWindow {
        kind: lax::ReduceKind::Max,
        window_dimensions: vec![2],
        window_strides: vec![1],
        padding: vec![(0, 0)],
        base_dilation: vec![1],
        window_dilation: vec![1],
    };
    let err = rw
        .transpose(
            &[Some(jnp::zeros(&[2], DType::F64))],
            &[LinArg::Linear(aval)],
        )
        .unwrap_err();
    assert!(err.contains("reduce_window_max"), "{err}");
}

#[test]
fn vmap_of_derivatives() {
    // Batching the ops the JVP rules emit (pad/slice/select scans and choosers) and
    // the transposes (pad + reduce_window_sum, reversed cumsum).
    let c = Counter::new();
    let mut rng = Rng::new(12);
    let shape = [4, 3];
    for kind in [
        "reduce_window_sum",
        "reduce_window_max",
        "cummax",
        "cumprod",
        "cumlogsumexp",
    ] {
        let w = random_window(&mut rng, &shape, kind == "reduce_window_max");
        let f = move |a: &[Array]| match kind {
            k if k.starts_with("reduce") => vec![reduce_window(k, &a[0], &w)],
            k => vec![cum(k, &a[0], 0, true)],
        };
        let t = rand(&mut rng, &shape);
        let df = |a: &[Array]| jvp_flat(&f, a, std::slice::from_ref(&t)).1;
        vmap(&c, kind, &df, &[rand(&mut rng, &[4, 3, 2])], &[Some(2)]);
        let cts = f(&[rand(&mut rng, &shape)]);
        let vjp = |a: &[Array]| jaxon::transform::ad::vjp_flat(&f, a).1.transpose(&cts);
        vmap(&c, kind, &vjp, &[rand(&mut rng, &[2, 4, 3])], &[Some(0)]);
    }
    assert_eq!(c.report("window vmap(jvp/vjp)"), 10);
}
