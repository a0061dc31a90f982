//! `debug::print` / `debug_print!` / `debug::callback` eagerly and under jit, vmap,
//! grad and control flow: the printed text, the number of lines and their order.

mod support;

use jaxon::prelude::*;
use jaxon::{debug, debug_print, lax, numpy as jnp};
use std::sync::{Arc, Mutex};
use support::{expect_panic, random_array, Rng};

/// `x = <x>, y = <y>` for concrete arrays, the reference the prints must match.
fn line(x: &Array, y: &Array) -> String {
    format!("x = {x}, y = {y}\n")
}

/// Row `i` of `x` along its leading axis.
fn row(x: &Array, i: usize) -> Array {
    lax::squeeze(&lax::slice_in_dim(x, i, i + 1, 1, 0), &[0])
}

fn body(x: &Array) -> Array {
    let y = x.sin();
    debug_print!("x = {}, y = {}", x, &y);
    y * 2.0
}

#[test]
fn print_eager_and_jit_match_the_values() {
    let mut rng = Rng::new(1);
    let f = jit(|x: Array| body(&x));
    let mut cases = 0;
    for dtype in [DType::F32, DType::F64] {
        for _ in 0..4 {
            let shape = rng.shape(3, 4);
            let x = random_array(&mut rng, dtype, &shape, -2.0, 2.0);
            let want = line(&x, &x.sin());
            assert_eq!(debug::capture(|| drop(body(&x))), want, "eager");
            let traces = jaxon::transform::jit::trace_count();
            assert_eq!(debug::capture(|| drop(f(x.clone()))), want, "jit");
            // A cache hit prints again without retracing.
            assert_eq!(debug::capture(|| drop(f(x.clone()))), want, "jit again");
            assert!(jaxon::transform::jit::trace_count() <= traces + 1);
            cases += 3;
        }
    }
    eprintln!("debug_print: {cases} eager/jit print cases");
}

#[test]
fn print_under_vmap_prints_each_lane_in_order() {
    let mut rng = Rng::new(2);
    let x = random_array(&mut rng, DType::F32, &[3, 2], -1.0, 1.0);
    let want: String = (0..3)
        .map(|i| {
            let xi = row(&x, i);
            line(&xi, &xi.sin())
        })
        .collect();
    let f = vmap(|x: Array| body(&x), 0);
    assert_eq!(debug::capture(|| drop(f(x.clone()))), want);
    let jf = jit(vmap(|x: Array| body(&x), 0));
    assert_eq!(debug::capture(|| drop(jf(x.clone()))), want);
    // Mapped along a non-leading axis: the lanes are the columns.
    let xt = lax::transpose(&x, &[1, 0]);
    let g = vmap(|x: Array| body(&x), 1);
    assert_eq!(debug::capture(|| drop(g(xt))), want);
}

#[test]
fn print_under_vmap_with_an_unbatched_operand_and_nested_vmap() {
    let mut rng = Rng::new(3);
    let x = random_array(&mut rng, DType::F64, &[2, 3], -1.0, 1.0);
    let c = random_array(&mut rng, DType::F64, &[4], -1.0, 1.0);
    let c2 = c.clone();
    let f = vmap(
        move |x: Array| {
            debug_print!("c = {}, x = {}", c2, x);
            x
        },
        0,
    );
    let want: String = (0..2)
        .map(|i| format!("c = {c}, x = {}\n", row(&x, i)))
        .collect();
    assert_eq!(debug::capture(|| drop(f(x.clone()))), want);
    // Nested: outer lanes, then inner lanes, one scalar each.
    let inner = vmap(
        |e: Array| {
            debug_print!("{}", e);
            e
        },
        0,
    );
    let g = vmap(inner, 0);
    let want: String = x
        .to_vec::<f64>()
        .iter()
        .map(|v| format!("{}\n", jnp::array(*v)))
        .collect();
    assert_eq!(debug::capture(|| drop(g(x.clone()))), want);
}

#[test]
fn print_under_grad_shows_primals_once() {
    let mut rng = Rng::new(4);
    let x = random_array(&mut rng, DType::F64, &[3], -1.0, 1.0);
    let loss = |x: Array| body(&x).sum(None);
    let want = line(&x, &x.sin());
    let g = grad(loss);
    let (out, grad_val) = {
        let mut gv = None;
        let out = debug::capture(|| gv = Some(g(x.clone())));
        (out, gv.unwrap())
    };
    assert_eq!(out, want, "grad");
    // The print does not change the gradient: d/dx sum(2 sin x) = 2 cos x.
    let cos = x.cos().to_vec::<f64>();
    for (g, c) in grad_val.to_vec::<f64>().iter().zip(cos) {
        assert!((g - 2.0 * c).abs() < 1e-12);
    }
    assert_eq!(
        debug::capture(|| drop(jit(grad(loss))(x.clone()))),
        want,
        "jit(grad)"
    );
    assert_eq!(
        debug::capture(|| drop(grad(jit(loss))(x.clone()))),
        want,
        "grad(jit)"
    );
    let t = jnp::ones_like(&x);
    assert_eq!(
        debug::capture(|| drop(jvp(loss, x.clone(), t))),
        want,
        "jvp"
    );
    // Second order: the primal value is printed by the innermost evaluation.
    let h = grad(|x: Array| grad(loss)(x).sum(None));
    assert_eq!(debug::capture(|| drop(h(x.clone()))), want, "grad(grad)");
}

#[test]
fn callbacks_run_in_program_order_in_jit_and_loops() {
    let log: Arc<Mutex<Vec<(u32, f64)>>> = Arc::new(Mutex::new(Vec::new()));
    let tagged = |tag: u32, x: &Array| {
        let log = log.clone();
        debug::callback(
            move |v| log.lock().unwrap().push((tag, v[0].item_f64())),
            std::slice::from_ref(x),
        );
    };
    let f = |x: Array| {
        tagged(0, &x);
        let y = lax::fori_loop(
            0,
            3,
            |i: Array, c: Array| {
                tagged(1, &i.astype(DType::F32));
                let c = c * 2.0;
                tagged(2, &c);
                c
            },
            x.clone(),
        );
        let z = lax::while_loop(
            |c: &Array| c.lt(100.0),
            |c: Array| {
                tagged(3, &c);
                c * 3.0
            },
            y.clone(),
        );
        let w = lax::cond(
            &z.gt(0.0),
            |z: Array| {
                tagged(4, &z);
                z
            },
            |z: Array| {
                tagged(5, &z);
                z
            },
            z,
        );
        tagged(6, &w);
        w
    };
    let x0 = 1.5f32;
    // The reference: the same loop in Rust.
    let mut want = vec![(0, x0 as f64)];
    let mut c = x0;
    for i in 0..3 {
        want.push((1, i as f64));
        c *= 2.0;
        want.push((2, c as f64));
    }
    while c < 100.0 {
        want.push((3, c as f64));
        c *= 3.0;
    }
    want.push((4, c as f64));
    want.push((6, c as f64));
    for (name, run) in [
        (
            "eager",
            Box::new(|| drop(f(jnp::array(x0)))) as Box<dyn Fn()>,
        ),
        ("jit", Box::new(|| drop(jit(f)(jnp::array(x0))))),
    ] {
        log.lock().unwrap().clear();
        run();
        assert_eq!(*log.lock().unwrap(), want, "{name}");
    }
}

#[test]
fn jaxpr_and_hlo_keep_the_effect() {
    let f = |x: Array| {
        debug_print!("{}", x);
        x + 1.0
    };
    let x = jnp::array(&[1.0f32]);
    let j = make_jaxpr(f)(x.clone()).to_string();
    assert!(j.contains("debug_callback[effect=Debug] a"), "{j}");
    let hlo = jaxon::lower(f, x).module.to_string();
    assert!(hlo.contains("() host_callback(%0)"), "{hlo}");
}

#[test]
fn bad_format_strings_point_at_the_caller() {
    let x = jnp::array(&[1.0f32]);
    let l = line!() + 1;
    let f = || debug::print("{} {}", &[&x]);
    expect_panic(
        f,
        &[
            "debug.print",
            "argument 1, but 1 arguments",
            &format!("{}:{}", file!(), l),
        ],
    );
    let l = line!() + 1;
    let f = || debug::print("{x}", &[&x]);
    expect_panic(f, &["unsupported field {x}", &format!("{}:{}", file!(), l)]);
}

#[test]
fn print_inside_scan_under_vmap_and_grad() {
    let step = |c: Array, x: Array| {
        debug_print!("c = {}, x = {}", c, x);
        let c = &c * &x;
        (c.clone(), c)
    };
    let xs = jnp::array(&[1.5f64, 2.0, -0.5]);
    // Reference: the same loop in Rust on concrete values.
    let mut want = String::new();
    let mut c = jnp::array(1.0f64);
    for i in 0..3 {
        let x = row(&xs, i);
        want.push_str(&format!("c = {c}, x = {x}\n"));
        c = &c * &x;
    }
    let run = |xs: Array| lax::scan(step, jnp::array(1.0f64), xs).0;
    assert_eq!(debug::capture(|| drop(run(xs.clone()))), want, "eager scan");
    assert_eq!(
        debug::capture(|| drop(jit(run)(xs.clone()))),
        want,
        "jit scan"
    );
    let g = grad(run);
    let out = debug::capture(|| drop(g(xs.clone())));
    // Once, in the forward pass; the backward pass does not repeat the effect.
    assert_eq!(out, want, "grad(scan)");
    // vmap over two sequences: each step prints once per lane.
    let two = lax::concatenate(
        &[
            lax::expand_dims(&xs, &[0]),
            lax::expand_dims(&(&xs * 2.0), &[0]),
        ],
        0,
    );
    let out = debug::capture(|| drop(vmap(run, 0)(two.clone())));
    assert_eq!(out.lines().count(), 6, "{out}");
}
