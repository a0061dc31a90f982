//! Transformation rules of the control-flow primitives: jvp and vjp vs finite
//! differences (orders 1-2) through cond, switch, scan, fori_loop (forward only for
//! while_loop, plus its reverse-mode error), vmap vs a loop over the batch (batched
//! and unbatched predicates, carries and xs), jit of the transformed functions.

mod support;

use jaxon::prelude::*;
use jaxon::test_util::{check_grads, Modes};
use jaxon::{lax, numpy as jnp};
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{random_array, Rng};

static CASES: AtomicUsize = AtomicUsize::new(0);

fn grads(f: &dyn Fn(&[Array]) -> Vec<Array>, args: &[Array], modes: Modes) {
    for order in 1..=2 {
        check_grads(f, args, order, modes, None, None);
        CASES.fetch_add(1, Ordering::Relaxed);
    }
}

fn close(a: &Array, b: &Array, tol: f64) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.to_f64_vec().iter().zip(b.to_f64_vec()) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

fn cond_f(a: &[Array]) -> Vec<Array> {
    let w = a[1].clone();
    vec![lax::cond(
        &a[0].sum(None).gt(0.0),
        |x: Array| (&x * &w).sin(),
        |x: Array| &x * &x + w.cos(),
        a[0].clone(),
    )]
}

fn switch_f(a: &[Array]) -> Vec<Array> {
    let w = a[1].clone();
    let f0 = |x: Array| x.exp();
    let f1 = |x: Array| &x * &w;
    let f2 = |x: Array| (x * 3.0).tanh();
    let i = (a[0].sum(None) * 2.0).astype(DType::I32);
    vec![lax::switch(&i, &[&f0, &f1, &f2], a[0].clone())]
}

fn scan_f(a: &[Array]) -> Vec<Array> {
    let w = a[0].clone();
    let (h, ys) = lax::scan(
        |h: Array, x: Array| {
            let h = (&w * &h + &x).tanh();
            (h.clone(), h.sin())
        },
        a[1].clone(),
        a[2].clone(),
    );
    vec![h, ys]
}

fn scan_rev_f(a: &[Array]) -> Vec<Array> {
    let w = a[0].clone();
    let opts = lax::ScanOptions {
        reverse: true,
        ..Default::default()
    };
    let ((h, s), ys) = lax::scan_with(
        |(h, s): (Array, Array), x: Array| {
            let h2 = &h * &x + w.sin();
            ((h2.clone(), s + h.sum(None)), &h2 * &h2)
        },
        (a[1].clone(), jnp::array(0.0f64)),
        a[2].clone(),
        opts,
    );
    vec![h, s, ys]
}

fn fori_f(a: &[Array]) -> Vec<Array> {
    let w = a[1].clone();
    vec![lax::fori_loop(
        0,
        4,
        |i: Array, c: Array| (&c * &w).sin() + i.astype(DType::F64),
        a[0].clone(),
    )]
}

fn while_f(a: &[Array]) -> Vec<Array> {
    let w = a[1].clone();
    let (_, c) = lax::while_loop(
        |(k, _): &(Array, Array)| k.lt(3),
        |(k, c): (Array, Array)| (k + 1, (&c * &w).sin() + 0.5),
        (jnp::array(0i32), a[0].clone()),
    );
    vec![c]
}

#[test]
fn grads_through_control_flow() {
    let mut rng = Rng::new(11);
    for _ in 0..3 {
        let x = random_array(&mut rng, DType::F64, &[3], -1.0, 1.0);
        let w = random_array(&mut rng, DType::F64, &[3], -1.0, 1.0);
        grads(&cond_f, &[x.clone(), w.clone()], Modes::Both);
        grads(&switch_f, &[x.clone(), w.clone()], Modes::Both);
        grads(&fori_f, &[x.clone(), w.clone()], Modes::Both);
        grads(&while_f, &[x.clone(), w.clone()], Modes::Fwd);
        let h0 = random_array(&mut rng, DType::F64, &[3], -1.0, 1.0);
        let xs = random_array(&mut rng, DType::F64, &[4, 3], -1.0, 1.0);
        grads(&scan_f, &[w.clone(), h0.clone(), xs.clone()], Modes::Both);
        grads(&scan_rev_f, &[w, h0, xs], Modes::Both);
    }
    eprintln!(
        "control flow grad cases (construct x order): {}",
        CASES.load(Ordering::Relaxed)
    );
}

#[test]
fn nested_cond_inside_scan_inside_grad() {
    let f = |a: &[Array]| -> Vec<Array> {
        let w = a[0].clone();
        let (h, _) = lax::scan(
            |h: Array, x: Array| {
                let h = lax::cond(
                    &x.gt(0.0),
                    |h: Array| (&h * &w).sin(),
                    |h: Array| &h * x.cos(),
                    h,
                );
                (h, ())
            },
            a[1].clone(),
            a[2].clone(),
        );
        vec![h.sum(None)]
    };
    let w = jnp::array(&[0.7f64, -0.4]);
    let h0 = jnp::array(&[0.3f64, 0.9]);
    let xs = jnp::array(&[0.5f64, -0.2, 1.0, -1.5]);
    grads(&f, &[w.clone(), h0.clone(), xs.clone()], Modes::Both);
    // grad of the same against a Rust reference.
    let g =
        grad(|(w, h0): (Array, Array)| f(&[w, h0, xs.clone()]).remove(0))((w.clone(), h0.clone()));
    let eval = |w: &[f64], h: &[f64]| -> f64 {
        let mut h = h.to_vec();
        for &x in &xs.to_f64_vec() {
            for (k, hk) in h.iter_mut().enumerate() {
                *hk = if x > 0.0 {
                    (*hk * w[k]).sin()
                } else {
                    *hk * x.cos()
                };
            }
        }
        h.iter().sum()
    };
    let (wv, hv) = (w.to_f64_vec(), h0.to_f64_vec());
    for k in 0..2 {
        let e = 1e-6;
        let mut wp = wv.clone();
        wp[k] += e;
        let mut wm = wv.clone();
        wm[k] -= e;
        let fd = (eval(&wp, &hv) - eval(&wm, &hv)) / (2.0 * e);
        assert!((g.0.to_f64_vec()[k] - fd).abs() < 1e-6);
    }
}

#[test]
fn while_loop_reverse_mode_is_an_error() {
    let e = std::panic::catch_unwind(|| {
        grad(|x: Array| while_f(&[x.clone(), x]).remove(0).sum(None))(jnp::array(&[0.5f64]))
    })
    .expect_err("reverse mode through while_loop");
    let m = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        m.contains("Reverse-mode differentiation does not work for lax.while_loop"),
        "{m}"
    );
    // fori_loop with dynamic bounds is a while loop.
    let e = std::panic::catch_unwind(|| {
        grad(|x: Array| lax::fori_loop(0, jnp::array(3i32), |_i: Array, c: Array| c.sin(), x))(
            jnp::array(0.5f64),
        )
    })
    .expect_err("reverse mode through dynamic fori_loop");
    let m = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(m.contains("Try using lax.scan"), "{m}");
}

/// vmap of `f` over the given in_axes equals a loop over the batch.
fn vmap_vs_loop(f: &dyn Fn(&[Array]) -> Vec<Array>, args: &[Array], in_axes: &[Option<i64>]) {
    let size = args
        .iter()
        .zip(in_axes)
        .find_map(|(a, ax)| ax.map(|ax| a.shape()[ax as usize]))
        .expect("a batched arg");
    let outs = jaxon::transform::batching::vmap_flat(|a| f(a), args, in_axes, &[Some(0)], None);
    for b in 0..size {
        let sliced: Vec<Array> = args
            .iter()
            .zip(in_axes)
            .map(|(a, ax)| match ax {
                Some(ax) => {
                    let ax = *ax as usize;
                    let s = lax::slice_in_dim(a, b, b + 1, 1, ax);
                    lax::squeeze(&s, &[ax])
                }
                None => a.clone(),
            })
            .collect();
        let want = f(&sliced);
        for (o, w) in outs.iter().zip(&want) {
            let got = lax::squeeze(&lax::slice_in_dim(o, b, b + 1, 1, 0), &[0]);
            close(&got, w, 1e-9);
        }
    }
    CASES.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn vmap_of_control_flow() {
    let mut rng = Rng::new(5);
    // x: [B, 3] mixed signs so the predicate differs per lane.
    let x = random_array(&mut rng, DType::F64, &[4, 3], -1.0, 1.0);
    let xt = lax::transpose(&x, &[1, 0]);
    let w = random_array(&mut rng, DType::F64, &[3], -1.0, 1.0);
    let wb = random_array(&mut rng, DType::F64, &[4, 3], -1.0, 1.0);
    for f in [
        &cond_f as &dyn Fn(&[Array]) -> Vec<Array>,
        &switch_f,
        &fori_f,
        &while_f,
    ] {
        vmap_vs_loop(f, &[x.clone(), w.clone()], &[Some(0), None]);
        vmap_vs_loop(f, &[xt.clone(), w.clone()], &[Some(1), None]);
        vmap_vs_loop(f, &[x.clone(), wb.clone()], &[Some(0), Some(0)]);
        // Unbatched operand, batched captured value (the predicate is unbatched).
        vmap_vs_loop(f, &[x.i(0), wb.clone()], &[None, Some(0)]);
    }
    // A batched while predicate: per-lane trip counts.
    let starts = jnp::array(&[0.5f64, 2.0, 7.0, 0.1]);
    let g = |a: &[Array]| -> Vec<Array> {
        let (c, n) = lax::while_loop(
            |(c, _): &(Array, Array)| c.lt(10.0),
            |(c, n): (Array, Array)| (c * 1.7, n + 1),
            (a[0].clone(), jnp::array(0i32)),
        );
        vec![c, n]
    };
    vmap_vs_loop(&g, &[starts], &[Some(0)]);
    let h0 = random_array(&mut rng, DType::F64, &[3], -1.0, 1.0);
    let h0b = random_array(&mut rng, DType::F64, &[4, 3], -1.0, 1.0);
    let xs = random_array(&mut rng, DType::F64, &[5, 3], -1.0, 1.0);
    let xsb = random_array(&mut rng, DType::F64, &[5, 4, 3], -1.0, 1.0);
    for f in [&scan_f as &dyn Fn(&[Array]) -> Vec<Array>, &scan_rev_f] {
        vmap_vs_loop(
            f,
            &[w.clone(), h0b.clone(), xs.clone()],
            &[None, Some(0), None],
        );
        vmap_vs_loop(
            f,
            &[w.clone(), h0.clone(), xsb.clone()],
            &[None, None, Some(1)],
        );
        vmap_vs_loop(
            f,
            &[wb.clone(), h0.clone(), xs.clone()],
            &[Some(0), None, None],
        );
        vmap_vs_loop(
            f,
            &[wb.clone(), h0b.clone(), xsb.clone()],
            &[Some(0), Some(0), Some(1)],
        );
    }
    eprintln!("control flow vmap cases: {}", CASES.load(Ordering::Relaxed));
}

#[test]
fn jit_of_transformed_control_flow() {
    let w = jnp::array(&[0.3f64, -0.8, 1.1]);
    let h0 = jnp::array(&[0.1f64, 0.2, -0.3]);
    let xs = jnp::array(&[[0.5f64, -0.5, 0.2], [1.0, 0.1, -0.7]]);
    let loss = |(w, h0, xs): (Array, Array, Array)| scan_f(&[w, h0, xs])[1].sum(None);
    let eager = grad(loss)((w.clone(), h0.clone(), xs.clone()));
    let jitted = jit(grad(loss))((w.clone(), h0.clone(), xs.clone()));
    close(&eager.0, &jitted.0, 1e-12);
    close(&eager.2, &jitted.2, 1e-12);
    let vg = jit(vmap(
        |x: Array| grad(|x: Array| cond_f(&[x.clone(), x]).remove(0).sum(None))(x),
        0,
    ));
    let xb = jnp::array(&[[0.5f64, -0.2, 0.1], [-0.9, 0.3, -0.4]]);
    let got = vg(xb.clone());
    for b in 0..2 {
        let want = grad(|x: Array| cond_f(&[x.clone(), x]).remove(0).sum(None))(xb.i(b));
        close(&got.i(b), &want, 1e-12);
    }
}

#[test]
fn grad_of_scan_is_a_reverse_scan() {
    let loss = |(w, h0, xs): (Array, Array, Array)| scan_f(&[w, h0, xs])[1].sum(None);
    let args = (
        jnp::array(&[0.3f64]),
        jnp::array(&[0.1f64]),
        jnp::array(&[[0.5f64], [1.0]]),
    );
    let t = make_jaxpr(grad(loss))(args).to_string();
    assert!(t.contains("reverse=True"), "{t}");
    assert!(!t.contains("while["), "{t}");
}

#[test]
fn vmap_of_grad_of_scan_and_int_carries() {
    // Per-example gradients through a scan with an integer counter in the carry.
    let loss = |(w, xs): (Array, Array)| {
        let ((h, n), _) = lax::scan(
            |(h, n): (Array, Array), x: Array| (((&h * &w + &x).sin(), n + 1), ()),
            (jnp::array(0.5f64), jnp::array(0i32)),
            xs,
        );
        h * n.astype(DType::F64)
    };
    let ws = jnp::array(&[0.3f64, -1.2, 2.0]);
    let xs = jnp::array(&[0.1f64, 0.4, -0.3, 0.8]);
    let xs2 = xs.clone();
    let per = vmap(
        move |w: Array| grad(|w: Array| loss((w, xs2.clone())))(w),
        0,
    )(ws.clone());
    for b in 0..3 {
        let want = grad(|w: Array| loss((w, xs.clone())))(ws.i(b));
        close(&per.i(b), &want, 1e-12);
    }
    grads(
        &|a: &[Array]| vec![loss((a[0].clone(), a[1].clone()))],
        &[ws.i(1), xs],
        Modes::Both,
    );
}

/// The scan's JVP saves per-iteration residuals (partial evaluation), so the
/// backward loop of an RNN gradient holds the three transposed matmuls only: no
/// recomputed forward cell (which would add the cell's two matmuls again).
#[test]
fn grad_of_scan_rnn_saves_residuals_instead_of_recomputing() {
    let rnn = |(w, u, h0, xs): (Array, Array, Array, Array)| {
        let cell = |h: Array, x: Array| ((jnp::matmul(&h, &w) + jnp::matmul(&x, &u)).tanh(), ());
        lax::scan(cell, h0, xs).0.sum(None)
    };
    let mut rng = Rng::new(7);
    let args = (
        random_array(&mut rng, DType::F64, &[4, 4], -0.5, 0.5),
        random_array(&mut rng, DType::F64, &[3, 4], -0.5, 0.5),
        random_array(&mut rng, DType::F64, &[2, 4], -1.0, 1.0),
        random_array(&mut rng, DType::F64, &[5, 2, 3], -1.0, 1.0),
    );
    let (h0, xs) = (args.2.clone(), args.3.clone());
    let g = grad(move |(w, u): (Array, Array)| rnn((w, u, h0.clone(), xs.clone())));
    let t = make_jaxpr(&g)((args.0.clone(), args.1.clone())).to_string();
    // Forward: h·w and x·u per step; backward: g·wᵀ, hᵀ·g and xᵀ·g.
    assert_eq!(t.matches("dot_general[").count(), 5, "{t}");
    let (w, u) = (args.0.clone(), args.1.clone());
    let (h0, xs) = (args.2.clone(), args.3.clone());
    check_grads(
        &move |a: &[Array]| vec![rnn((a[0].clone(), a[1].clone(), h0.clone(), xs.clone()))],
        &[w, u],
        2,
        Modes::Rev,
        None,
        None,
    );
}
