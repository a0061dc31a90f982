//! checkpoint / remat: values and gradients equal the un-checkpointed function for
//! every policy, the gradient's jaxpr recomputes the forward values (or not, per
//! policy), check_grads orders 1-2, vmap vs a loop, jit equals eager, errors.

mod support;

use jaxon::prelude::*;
use jaxon::test_util::{check_grads, Modes};
use jaxon::transform::batching::vmap_flat;
use jaxon::{lax, numpy as jnp};
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{assert_close, expect_panic, random_array, Rng};

static CASES: AtomicUsize = AtomicUsize::new(0);

fn count() {
    CASES.fetch_add(1, Ordering::Relaxed);
}

const POLICIES: [Policy; 3] = [
    Policy::NothingSaveable,
    Policy::DotsSaveable,
    Policy::EverythingSaveable,
];

/// A small layer: sin(tanh(w @ x) * x).
fn layer((w, x): (Array, Array)) -> Array {
    let h = jnp::matmul(&w, &x).tanh();
    (h * &x).sin()
}

fn loss(policy: Option<Policy>) -> impl Fn((Array, Array)) -> Array {
    move |(w, x): (Array, Array)| {
        let y = match policy {
            Some(p) => checkpoint_with(layer, p)((w.clone(), x)),
            None => layer((w.clone(), x)),
        };
        // Two stacked layers, the second reusing w.
        let z = match policy {
            Some(p) => checkpoint_with(layer, p)((w, y)),
            None => layer((w, y)),
        };
        z.sum(None)
    }
}

fn vals(a: &Array) -> Vec<f64> {
    a.to_f64_vec()
}

#[test]
fn gradients_equal_the_plain_function() {
    let mut rng = Rng::new(11);
    for n in [2usize, 3, 4] {
        let w = random_array(&mut rng, DType::F64, &[n, n], -1.0, 1.0);
        let x = random_array(&mut rng, DType::F64, &[n], -1.0, 1.0);
        let (v0, (gw0, gx0)) = value_and_grad(loss(None))((w.clone(), x.clone()));
        for p in POLICIES {
            let (v, (gw, gx)) = value_and_grad(loss(Some(p)))((w.clone(), x.clone()));
            assert_close("value", &vals(&v), &vals(&v0), 1e-12, 1e-12);
            assert_close("grad w", &vals(&gw), &vals(&gw0), 1e-12, 1e-12);
            assert_close("grad x", &vals(&gx), &vals(&gx0), 1e-12, 1e-12);
            let (gwj, gxj) = jit(grad(loss(Some(p))))((w.clone(), x.clone()));
            assert_close("jit grad w", &vals(&gwj), &vals(&gw0), 1e-12, 1e-12);
            assert_close("jit grad x", &vals(&gxj), &vals(&gx0), 1e-12, 1e-12);
            let (_, t) = jvp(
                loss(Some(p)),
                (w.clone(), x.clone()),
                (w.clone(), x.clone()),
            );
            let (_, t0) = jvp(loss(None), (w.clone(), x.clone()), (w.clone(), x.clone()));
            assert_close("jvp", &vals(&t), &vals(&t0), 1e-12, 1e-12);
            count();
        }
    }
}

#[test]
fn check_grads_orders_1_and_2() {
    let mut rng = Rng::new(12);
    let w = random_array(&mut rng, DType::F64, &[3, 3], -1.0, 1.0);
    let x = random_array(&mut rng, DType::F64, &[3], -1.0, 1.0);
    for p in POLICIES {
        let f = move |a: &[Array]| vec![checkpoint_with(layer, p)((a[0].clone(), a[1].clone()))];
        for order in 1..=2 {
            check_grads(&f, &[w.clone(), x.clone()], order, Modes::Both, None, None);
            count();
        }
    }
}

#[test]
fn gradient_jaxpr_recomputes_forward_values() {
    let x = jnp::array(&[0.5f32, 1.0, 1.5]);
    let f = |x: Array| x.sin().sin().sum(None);
    let plain = make_jaxpr(grad(f))(x.clone()).to_string();
    let remat_text = make_jaxpr(grad(|x: Array| {
        checkpoint(|x: Array| x.sin().sin())(x).sum(None)
    }))(x.clone())
    .to_string();
    // Without checkpoint, each sin runs once (its cos is saved); with it, the
    // backward checkpoint computes the inner sin again from x.
    assert_eq!(plain.matches(" sin ").count(), 2, "{plain}");
    assert!(remat_text.contains("checkpoint["), "{remat_text}");
    assert!(remat_text.contains("differentiated=True") && remat_text.contains("prevent_cse=True"));
    assert!(remat_text.contains("policy=None"), "{remat_text}");
    assert_eq!(remat_text.matches(" sin ").count(), 3, "{remat_text}");
    // The backward part is the last checkpoint: it computes sin (recomputation) and cos.
    let last = &remat_text[remat_text.rfind("checkpoint[").expect("a checkpoint")..];
    assert!(
        last.contains(" sin ") && last.contains(" cos "),
        "{remat_text}"
    );
    // Same values as the plain gradient.
    let g = grad(|x: Array| checkpoint(|x: Array| x.sin().sin())(x).sum(None))(x.clone());
    assert_close("grad", &vals(&g), &vals(&grad(f)(x.clone())), 1e-6, 1e-6);
    // remat is the same function.
    let g2 = grad(|x: Array| remat(|x: Array| x.sin().sin())(x).sum(None))(x);
    assert_eq!(vals(&g2), vals(&g));
    count();
}

#[test]
fn policies_decide_what_is_recomputed() {
    let w = jnp::ones(&[3, 3], DType::F32);
    let x = jnp::ones(&[3], DType::F32);
    let text = |p: Policy| {
        make_jaxpr(grad(move |(w, x): (Array, Array)| {
            checkpoint_with(|(w, x): (Array, Array)| jnp::matmul(&w, &x).sin(), p)((w, x)).sum(None)
        }))((w.clone(), x.clone()))
        .to_string()
    };
    let nothing = text(Policy::NothingSaveable);
    let dots = text(Policy::DotsSaveable);
    let every = text(Policy::EverythingSaveable);
    // Forward: one dot_general each. Tangent/backward: transposed dots (2 for w and x)
    // plus, when not saved, the recomputed forward dot.
    let dots_in = |t: &str| t.matches("dot_general[").count();
    assert_eq!(dots_in(&nothing), dots_in(&dots) + 1, "{nothing}\n{dots}");
    assert_eq!(dots_in(&dots), dots_in(&every), "{dots}\n{every}");
    assert!(dots.contains("policy=dots_saveable"), "{dots}");
    assert!(every.contains("policy=everything_saveable"), "{every}");
    // Everything saveable: the cos of the forward is saved, no sin in the backward.
    assert_eq!(every.matches(" sin ").count(), 1, "{every}");
    assert_eq!(dots.matches(" sin ").count(), 1, "{dots}");
    count();
}

#[test]
fn vmap_matches_loop() {
    let mut rng = Rng::new(13);
    let w = random_array(&mut rng, DType::F64, &[3, 3], -1.0, 1.0);
    let xs = random_array(&mut rng, DType::F64, &[3, 4], -1.0, 1.0);
    for p in POLICIES {
        let g = move |w: Array, x: Array| grad(loss(Some(p)))((w, x));
        // vmap of the checkpointed function (batch dim 1) and of its gradient (w unbatched).
        let f = |a: &[Array]| vec![checkpoint_with(layer, p)((a[0].clone(), a[1].clone()))];
        let out = vmap_flat(
            f,
            &[w.clone(), xs.clone()],
            &[None, Some(1)],
            &[Some(0)],
            None,
        );
        let gs = vmap_flat(
            |a| {
                let (gw, gx) = g(a[0].clone(), a[1].clone());
                vec![gw, gx]
            },
            &[w.clone(), xs.clone()],
            &[None, Some(1)],
            &[Some(0)],
            None,
        );
        for i in 0..4 {
            let xi = jnp::take(&xs, i, Some(1));
            let want = layer((w.clone(), xi.clone()));
            let got = jnp::take(&out[0], i, Some(0));
            assert_close("vmap f", &vals(&got), &vals(&want), 1e-12, 1e-12);
            let (gw, gx) = g(w.clone(), xi);
            assert_close(
                "vmap grad w",
                &vals(&jnp::take(&gs[0], i, Some(0))),
                &vals(&gw),
                1e-12,
                1e-12,
            );
            assert_close(
                "vmap grad x",
                &vals(&jnp::take(&gs[1], i, Some(0))),
                &vals(&gx),
                1e-12,
                1e-12,
            );
        }
        // grad of vmap: the batched checkpoint differentiates like the loop.
        let gv = grad(|w: Array| {
            vmap_flat(f, &[w, xs.clone()], &[None, Some(1)], &[Some(0)], None)[0].sum(None)
        })(w.clone());
        let mut want = jnp::zeros_like(&w);
        for i in 0..4 {
            let xi = jnp::take(&xs, i, Some(1));
            want = want + grad(|w: Array| layer((w, xi.clone())).sum(None))(w.clone());
        }
        assert_close("grad vmap", &vals(&gv), &vals(&want), 1e-12, 1e-12);
        count();
    }
}

#[test]
fn captured_values_and_errors() {
    // A captured array becomes an operand; values and gradients are right.
    let c = jnp::array(&[2.0f64, 3.0]);
    let f = |x: Array| checkpoint(|x: Array| (&x * &c).exp())(x).sum(None);
    let x = jnp::array(&[0.1f64, 0.2]);
    let g = grad(f)(x.clone());
    let want: Vec<f64> = [0.1f64 * 2.0, 0.2 * 3.0]
        .iter()
        .zip([2.0, 3.0])
        .map(|(a, k)| a.exp() * k)
        .collect();
    assert_close("captured", &vals(&g), &want, 1e-12, 1e-12);
    // A shape error inside a checkpointed function points at the user's line.
    let line = line!() + 1;
    let bad = checkpoint(|(a, b): (Array, Array)| lax::add(&a, &b));
    let msg = expect_panic(
        || {
            let _ = jit(&bad)((jnp::ones(&[2], DType::F32), jnp::ones(&[3], DType::F32)));
        },
        &["add", file!()],
    );
    assert!(msg.contains(&format!("{}:{line}", file!())), "{msg}");
    count();
}

#[test]
fn zz_report_counts() {
    eprintln!("remat_checkpoint: {} checks", CASES.load(Ordering::Relaxed));
}
