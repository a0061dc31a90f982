//! custom_jvp / custom_vjp: values vs references, derivatives from the user's rules
//! (check_grads orders 1-2), vmap vs a loop, jit equals eager, jaxprs and errors;
//! the nn functions built on them (safe softplus/logsumexp gradients, relu at 0).

mod support;

use jaxon::prelude::*;
use jaxon::test_util::{check_grads, Modes};
use jaxon::transform::batching::vmap_flat;
use jaxon::{nn, numpy as jnp};
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{assert_close, expect_panic, random_array, Rng};

static CASES: AtomicUsize = AtomicUsize::new(0);

fn count() {
    CASES.fetch_add(1, Ordering::Relaxed);
}

/// sin with a custom JVP that scales the true derivative by 2 (so the rule is
/// visibly the one used): d/dx = 2 cos(x).
fn sin2() -> impl Fn(Array) -> Array {
    custom_jvp(
        |x: Array| x.sin(),
        |x: Array, t: Array| (x.sin(), t * x.cos() * 2.0),
    )
}

/// x * y with a custom VJP whose bwd scales the cotangents by 3.
fn mul3() -> impl Fn((Array, Array)) -> Array {
    custom_vjp(
        |(x, y): (Array, Array)| &x * &y,
        |(x, y): (Array, Array)| (&x * &y, (x, y)),
        |(x, y): (Array, Array), ct: Array| (&ct * &y * 3.0, &ct * &x * 3.0),
    )
}

fn vals(a: &Array) -> Vec<f64> {
    a.to_f64_vec()
}

#[test]
fn custom_jvp_values_and_rule() {
    let mut rng = Rng::new(1);
    for _ in 0..4 {
        let shape = rng.shape(2, 4);
        let x = random_array(&mut rng, DType::F64, &shape, -3.0, 3.0);
        let f = sin2();
        let want: Vec<f64> = vals(&x).iter().map(|v| v.sin()).collect();
        assert_close("eager", &vals(&f(x.clone())), &want, 1e-12, 1e-12);
        let jf = jit(sin2());
        assert_close("jit", &vals(&jf(x.clone())), &want, 1e-12, 1e-12);
        let g = grad(|x: Array| sin2()(x).sum(None))(x.clone());
        let dwant: Vec<f64> = vals(&x).iter().map(|v| 2.0 * v.cos()).collect();
        assert_close("grad", &vals(&g), &dwant, 1e-12, 1e-12);
        let gj = jit(grad(|x: Array| sin2()(x).sum(None)))(x.clone());
        assert_close("jit grad", &vals(&gj), &dwant, 1e-12, 1e-12);
        // Second derivative uses the rule's own derivative: d/dx 2cos(x) = -2 sin(x).
        let gg = grad(|x: Array| grad(|x: Array| sin2()(x).sum(None))(x).sum(None))(x.clone());
        let ddwant: Vec<f64> = vals(&x).iter().map(|v| -2.0 * v.sin()).collect();
        assert_close("grad grad", &vals(&gg), &ddwant, 1e-12, 1e-12);
        let (y, t) = jvp(sin2(), x.clone(), jnp::ones_like(&x));
        assert_close("jvp primal", &vals(&y), &want, 1e-12, 1e-12);
        assert_close("jvp tangent", &vals(&t), &dwant, 1e-12, 1e-12);
        count();
    }
}

#[test]
fn custom_jvp_check_grads_true_rule() {
    // A rule equal to the true derivative passes the finite-difference checks.
    let f = custom_jvp(
        |(x, y): (Array, Array)| (&x * &y).tanh(),
        |(x, y): (Array, Array), (tx, ty): (Array, Array)| {
            let out = (&x * &y).tanh();
            let d = -(&out * &out) + 1.0;
            let t = &d * (&tx * &y + &x * &ty);
            (out, t)
        },
    );
    let mut rng = Rng::new(2);
    for _ in 0..3 {
        let shape = rng.shape(2, 3);
        let x = random_array(&mut rng, DType::F64, &shape, -1.0, 1.0);
        let y = random_array(&mut rng, DType::F64, &shape, -1.0, 1.0);
        let ff = |a: &[Array]| vec![f((a[0].clone(), a[1].clone()))];
        for order in 1..=2 {
            check_grads(&ff, &[x.clone(), y.clone()], order, Modes::Both, None, None);
            count();
        }
    }
}

#[test]
fn custom_vjp_values_and_bwd() {
    let mut rng = Rng::new(3);
    for _ in 0..4 {
        let shape = rng.shape(2, 4);
        let x = random_array(&mut rng, DType::F64, &shape, -2.0, 2.0);
        let y = random_array(&mut rng, DType::F64, &shape, -2.0, 2.0);
        let prod: Vec<f64> = vals(&x).iter().zip(vals(&y)).map(|(a, b)| a * b).collect();
        assert_close(
            "eager",
            &vals(&mul3()((x.clone(), y.clone()))),
            &prod,
            1e-12,
            1e-12,
        );
        assert_close(
            "jit",
            &vals(&jit(mul3())((x.clone(), y.clone()))),
            &prod,
            1e-12,
            1e-12,
        );
        let (gx, gy) =
            grad(|(x, y): (Array, Array)| mul3()((x, y)).sum(None))((x.clone(), y.clone()));
        let gxw: Vec<f64> = vals(&y).iter().map(|v| 3.0 * v).collect();
        let gyw: Vec<f64> = vals(&x).iter().map(|v| 3.0 * v).collect();
        assert_close("grad x", &vals(&gx), &gxw, 1e-12, 1e-12);
        assert_close("grad y", &vals(&gy), &gyw, 1e-12, 1e-12);
        let (gxj, _) =
            jit(grad(|(x, y): (Array, Array)| mul3()((x, y)).sum(None)))((x.clone(), y.clone()));
        assert_close("jit grad", &vals(&gxj), &gxw, 1e-12, 1e-12);
        count();
    }
}

#[test]
fn custom_vjp_true_bwd_check_grads_rev() {
    // A bwd equal to the true VJP passes reverse-mode checks at orders 1 and 2.
    let f = custom_vjp(
        |x: Array| x.sin() * &x,
        |x: Array| (x.sin() * &x, x),
        |x: Array, ct: Array| ct * (x.sin() + &x * x.cos()),
    );
    let mut rng = Rng::new(4);
    let x = random_array(&mut rng, DType::F64, &[3], -2.0, 2.0);
    let ff = |a: &[Array]| vec![f(a[0].clone())];
    for order in 1..=2 {
        check_grads(&ff, std::slice::from_ref(&x), order, Modes::Rev, None, None);
        count();
    }
}

#[test]
fn vmap_matches_loop() {
    let mut rng = Rng::new(5);
    let xs = random_array(&mut rng, DType::F64, &[4, 3], -2.0, 2.0);
    let ys = random_array(&mut rng, DType::F64, &[3, 4], -2.0, 2.0);
    let rows = |a: &Array, axis: usize| -> Vec<Array> {
        (0..4)
            .map(|i| jnp::take(a, i as i64, Some(axis as i64)))
            .collect()
    };
    let xr = rows(&xs, 0);
    let yr = rows(&ys, 1);
    // custom_jvp forward, its gradient, under vmap with in_axes 0 and 1.
    let g = |x: Array| grad(|x: Array| sin2()(x).sum(None))(x);
    let out = vmap_flat(
        |a| vec![sin2()(a[0].clone())],
        std::slice::from_ref(&xs),
        &[Some(0)],
        &[Some(0)],
        None,
    );
    let outg = vmap_flat(
        |a| vec![g(a[0].clone())],
        std::slice::from_ref(&ys),
        &[Some(1)],
        &[Some(0)],
        None,
    );
    for i in 0..4 {
        assert_close(
            "vmap f",
            &vals(&jnp::take(&out[0], i, Some(0))),
            &vals(&sin2()(xr[i as usize].clone())),
            1e-12,
            1e-12,
        );
        assert_close(
            "vmap grad",
            &vals(&jnp::take(&outg[0], i, Some(0))),
            &vals(&g(yr[i as usize].clone())),
            1e-12,
            1e-12,
        );
    }
    count();
    // grad of vmap (the batched jvp rule) equals the per-example gradients.
    let gv = grad(|y: Array| {
        vmap_flat(
            |a| vec![sin2()(a[0].clone())],
            &[y],
            &[Some(1)],
            &[Some(0)],
            None,
        )[0]
        .sum(None)
    })(ys.clone());
    let want: Vec<f64> = vals(&ys).iter().map(|v| 2.0 * v.cos()).collect();
    assert_close("grad vmap jvp", &vals(&gv), &want, 1e-12, 1e-12);
    count();
    // custom_vjp: vmap of grad and grad of vmap (batched fwd/bwd), one arg unbatched.
    let w = random_array(&mut rng, DType::F64, &[3], -2.0, 2.0);
    let gx = |x: Array, w: Array| grad(|(x, w): (Array, Array)| mul3()((x, w)).sum(None))((x, w));
    let vg = vmap_flat(
        |a| {
            let (p, q) = gx(a[0].clone(), a[1].clone());
            vec![p, q]
        },
        &[xs.clone(), w.clone()],
        &[Some(0), None],
        &[Some(0)],
        None,
    );
    for i in 0..4 {
        let (p, q) = gx(xr[i as usize].clone(), w.clone());
        assert_close(
            "vmap grad vjp x",
            &vals(&jnp::take(&vg[0], i, Some(0))),
            &vals(&p),
            1e-12,
            1e-12,
        );
        assert_close(
            "vmap grad vjp w",
            &vals(&jnp::take(&vg[1], i, Some(0))),
            &vals(&q),
            1e-12,
            1e-12,
        );
    }
    count();
    let (gxs, gw) = grad(|(x, w): (Array, Array)| {
        vmap_flat(
            |a| vec![mul3()((a[0].clone(), a[1].clone()))],
            &[x, w],
            &[Some(0), None],
            &[Some(0)],
            None,
        )[0]
        .sum(None)
    })((xs.clone(), w.clone()));
    let gxw: Vec<f64> = (0..12).map(|k| 3.0 * vals(&w)[k % 3]).collect();
    assert_close("grad vmap vjp x", &vals(&gxs), &gxw, 1e-12, 1e-12);
    let gww: Vec<f64> = (0..3)
        .map(|j| (0..4).map(|i| 3.0 * vals(&xs)[i * 3 + j]).sum())
        .collect();
    assert_close("grad vmap vjp w (summed)", &vals(&gw), &gww, 1e-12, 1e-12);
    count();
}

#[test]
fn jaxprs_show_the_primitives() {
    let x = jnp::array(&[1.0f32, 2.0]);
    let j = make_jaxpr(sin2())(x.clone()).to_string();
    assert!(
        j.contains("custom_jvp_call[")
            && j.contains("call_jaxpr={ lambda ; a:f32[2]. let b:f32[2] = sin a in (b,) }"),
        "{j}"
    );
    assert!(j.contains("symbolic_zeros=False"), "{j}");
    let j = make_jaxpr(mul3())((x.clone(), x.clone())).to_string();
    assert!(
        j.contains("custom_vjp_call[") && j.contains("fwd=") && j.contains("bwd="),
        "{j}"
    );
    let jr = make_jaxpr(|x: Array| nn::relu(&x))(x).to_string();
    assert!(jr.contains("name=relu") && jr.contains("max"), "{jr}");
    count();
}

#[test]
fn forward_mode_of_custom_vjp_is_an_error() {
    let line = line!() + 1;
    let f = custom_vjp(
        |x: Array| x.sin(),
        |x: Array| (x.sin(), x),
        |x: Array, ct: Array| ct * x.cos(),
    );
    let x = jnp::array(&[1.0f64]);
    let msg = expect_panic(
        || {
            let _ = jvp(&f, x.clone(), x.clone());
        },
        &[
            "can't apply forward-mode autodiff (jvp) to a custom_vjp function",
            file!(),
        ],
    );
    assert!(msg.contains(&format!("{}:{line}", file!())), "{msg}");
    count();
}

#[test]
fn bad_rule_outputs_are_errors_at_the_users_line() {
    let line = line!() + 1;
    let f = custom_jvp(
        |x: Array| x.sin(),
        |x: Array, t: Array| (x.sin(), t.sum(None)),
    );
    let x = jnp::array(&[1.0f64, 2.0]);
    let msg = expect_panic(
        || {
            let _ = grad(|x: Array| f(x).sum(None))(x.clone());
        },
        &["custom_jvp_call", "tangent outputs", file!()],
    );
    assert!(msg.contains(&format!("{}:{line}", file!())), "{msg}");
    let line = line!() + 1;
    let g = custom_vjp(
        |x: Array| x.sin(),
        |x: Array| (x.sin(), ()),
        |_: (), ct: Array| ct.sum(None),
    );
    let msg = expect_panic(
        || {
            let _ = grad(|x: Array| g(x).sum(None))(x.clone());
        },
        &["bwd rule", file!()],
    );
    assert!(msg.contains(&format!("{}:{line}", file!())), "{msg}");
    count();
}

#[test]
fn nn_safe_gradients() {
    // softplus: values unchanged, gradient sigmoid(x) finite at ±1000.
    let x = jnp::array(&[-1000.0f32, -2.0, 0.0, 3.0, 1000.0]);
    let v = nn::softplus(&x);
    let want: Vec<f64> = vals(&x)
        .iter()
        .map(|&t: &f64| if t > 30.0 { t } else { t.exp().ln_1p() })
        .collect();
    assert_close("softplus", &vals(&v), &want, 1e-6, 1e-6);
    let g = grad(|x: Array| nn::softplus(&x).sum(None))(x.clone());
    let gw: Vec<f64> = vals(&x).iter().map(|t| 1.0 / (1.0 + (-t).exp())).collect();
    assert_close("softplus grad", &vals(&g), &gw, 1e-6, 1e-7);
    assert_eq!(g.to_vec::<f32>()[4], 1.0);
    let g2 = grad(|x: Array| nn::log1pexp(&x).sum(None))(x.clone());
    assert_eq!(vals(&g2), vals(&g));
    // logsumexp: gradient = softmax, also with infinities.
    let mut rng = Rng::new(6);
    let y = random_array(&mut rng, DType::F64, &[2, 5], -4.0, 4.0);
    let gy = grad(|y: Array| nn::logsumexp(&y, Some(&[1])).sum(None))(y.clone());
    let sm = nn::softmax(&y, 1);
    assert_close("lse grad", &vals(&gy), &vals(&sm), 1e-12, 1e-12);
    assert_eq!(
        vals(&nn::logsumexp(&y, Some(&[1]))),
        vals(&jnp::logsumexp(&y, Some(&[1]), false))
    );
    let inf = jnp::array(&[f64::INFINITY, 1.0, f64::INFINITY, f64::NEG_INFINITY]);
    let gi = grad(|y: Array| nn::logsumexp(&y, None))(inf.clone());
    assert_eq!(vals(&gi), vec![0.5, 0.0, 0.5, 0.0]);
    let ninf = jnp::array(&[f64::NEG_INFINITY, 0.0, 1.0]);
    let gn = grad(|y: Array| nn::logsumexp(&y, None))(ninf);
    let e = [0.0, 1.0f64.exp().recip(), 1.0];
    let s: f64 = e.iter().sum();
    assert_close(
        "lse -inf",
        &vals(&gn),
        &e.iter().map(|v| v / s).collect::<Vec<_>>(),
        1e-12,
        1e-12,
    );
    let big = jnp::array(&[1000.0f32, 0.0]);
    let gb = grad(|y: Array| nn::logsumexp(&y, None))(big);
    assert_eq!(gb.to_vec::<f32>(), vec![1.0, 0.0]);
    // relu: derivative 0 at 0, values unchanged.
    let r = jnp::array(&[-1.0f32, 0.0, 2.0]);
    assert_eq!(nn::relu(&r).to_vec::<f32>(), vec![0.0, 0.0, 2.0]);
    let gr = grad(|x: Array| nn::relu(&x).sum(None))(r);
    assert_eq!(gr.to_vec::<f32>(), vec![0.0, 0.0, 1.0]);
    // check_grads through the nn functions away from kinks.
    let z = random_array(&mut rng, DType::F64, &[4], 0.1, 2.0);
    for order in 1..=2 {
        check_grads(
            &|a| vec![nn::softplus(&a[0])],
            std::slice::from_ref(&z),
            order,
            Modes::Both,
            None,
            None,
        );
        check_grads(
            &|a| vec![nn::logsumexp(&a[0], None)],
            std::slice::from_ref(&z),
            order,
            Modes::Both,
            None,
            None,
        );
        check_grads(
            &|a| vec![nn::relu(&a[0])],
            std::slice::from_ref(&z),
            order,
            Modes::Both,
            None,
            None,
        );
        count();
    }
    count();
}

#[test]
fn zz_report_counts() {
    eprintln!(
        "custom_derivatives: {} checks",
        CASES.load(Ordering::Relaxed)
    );
}
