//! The transformation API of DESIGN.md §4 on pytrees, and how the transformations
//! compose.

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{lax, nn};

fn close(a: &Array, b: &Array, tol: f64) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.to_f64_vec().iter().zip(b.to_f64_vec()) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a} vs {b}");
    }
}

#[test]
fn contract_lines() {
    let x = jnp::array(&[0.1f32, 0.5, -0.3]);
    let t = jnp::array(&[1.0f32, 0.0, 2.0]);
    let f = jit(|x: Array| x.tanh());
    close(&f(x.clone()), &x.tanh(), 0.0);
    let g = grad(|x: Array| x.sin().sum(None));
    close(&g(x.clone()), &x.cos(), 1e-6);
    let loss = |w: &Array, b: &Array| ((w * 2.0) + b).sum(None);
    let vg = value_and_grad(|(w, b): (Array, Array)| loss(&w, &b));
    let (v, (gw, gb)) = vg((x.clone(), t.clone()));
    assert!((v.item::<f32>() - loss(&x, &t).item::<f32>()).abs() < 1e-6);
    close(&gw, &jnp::full(&[3], 2.0, Some(DType::F32)), 0.0);
    close(&gb, &jnp::ones(&[3], DType::F32), 0.0);
    let (y, y_dot) = jvp(|x: Array| x.sin(), x.clone(), t.clone());
    close(&y, &x.sin(), 0.0);
    close(&y_dot, &(x.cos() * &t), 1e-6);
    let (y, pullback) = vjp(|x: Array| x.sin(), x.clone());
    let x_bar = pullback(jnp::ones_like(&y));
    close(&x_bar, &x.cos(), 1e-6);
    let j1 = jacfwd(|x: Array| x.sin())(x.clone());
    let j2 = jacrev(|x: Array| x.sin())(x.clone());
    close(&j1, &(jnp::eye(3) * x.cos()), 1e-6);
    close(&j2, &j1, 1e-6);
    let h = hessian(|x: Array| (&x * &x * &x).sum(None))(x.clone());
    close(&h, &(jnp::eye(3) * (&x * 6.0)), 1e-5);
    let m = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    let w = jnp::array(&[10.0f32, 1.0]);
    let pe = vmap(|(w, x): (Array, Array)| w.dot(&x), axes![None, 0]);
    assert_eq!(
        pe((w.clone(), m.clone())).to_vec::<f32>(),
        vec![12.0, 34.0, 56.0]
    );
    let sq = vmap(|x: Array| &x * &x, 0);
    assert_eq!(sq(x.clone()).to_vec::<f32>(), (&x * &x).to_vec::<f32>());
    let jaxpr = make_jaxpr(|x: Array| x.sin() * 2.0)(x.clone());
    assert!(jaxpr.to_string().contains("sin a"), "{jaxpr}");
    let sg = grad(|x: Array| (lax::stop_gradient(&x) * &x).sum(None))(x.clone());
    close(&sg, &x, 0.0);
}

#[derive(Tree, Clone)]
struct Params {
    w: Array,
    b: Array,
    #[tree(static)]
    name: String,
}

fn mse(p: &Params, x: &Array, y: &Array) -> Array {
    let pred = jnp::matmul(x, &p.w) + &p.b;
    jnp::mean(jnp::square(pred - y), None, false)
}

#[test]
fn grads_over_a_params_struct_match_the_closed_form() {
    let x = jnp::array(&[[1.0f64, 2.0], [3.0, -1.0], [0.5, 0.5]]);
    let y = jnp::array(&[1.0f64, -2.0, 0.0]);
    let p = Params {
        w: jnp::array(&[0.3f64, -0.2]),
        b: jnp::array(0.1f64),
        name: "linear".into(),
    };
    let (xc, yc) = (x.clone(), y.clone());
    let g = grad(move |p: Params| mse(&p, &xc, &yc))(p.clone());
    assert_eq!(g.name, "linear");
    // d/dw mean((xw+b-y)^2) = 2/n x^T r, d/db = 2/n sum r
    let r = jnp::matmul(&x, &p.w) + &p.b - &y;
    close(&g.w, &(jnp::matmul(x.t(), &r) * (2.0 / 3.0)), 1e-12);
    close(&g.b, &(r.sum(None) * (2.0 / 3.0)), 1e-12);
}

#[test]
fn per_example_gradients_and_jit_cache() {
    let w = jnp::array(&[0.5f64, -1.0]);
    let xs = jnp::array(&[[1.0f64, 2.0], [0.0, 1.0], [3.0, 3.0], [1.0, -1.0]]);
    let ys = jnp::array(&[1.0f64, 0.0, 2.0, -1.0]);
    let loss = |(w, x, y): (Array, Array, Array)| jnp::square(w.dot(&x).tanh() - &y).sum(None);
    let per_example = vmap(grad(loss), axes![None, 0, 0]);
    let g = per_example((w.clone(), xs.clone(), ys.clone())).0;
    assert_eq!(g.shape(), &[4, 2]);
    for i in 0..4 {
        let gi = grad(loss)((w.clone(), xs.i(i), ys.i(i))).0;
        close(&g.i(i), &gi, 1e-12);
    }
    let f = jit(vmap(grad(loss), axes![None, 0, 0]));
    let before = jaxon::transform::jit::trace_count();
    let g1 = f((w.clone(), xs.clone(), ys.clone())).0;
    let g2 = f((w.clone() * 2.0, xs.clone(), ys.clone())).0;
    assert_eq!(
        jaxon::transform::jit::trace_count(),
        before + 1,
        "second call must hit the cache"
    );
    close(&g1, &g, 1e-12);
    assert_ne!(g1.to_vec::<f64>(), g2.to_vec::<f64>());
    let _ = f((
        w.astype(DType::F32),
        xs.astype(DType::F32),
        ys.astype(DType::F32),
    ));
    assert_eq!(
        jaxon::transform::jit::trace_count(),
        before + 2,
        "a new dtype traces again"
    );
}

#[test]
fn compositions_agree() {
    let x = jnp::array(&[0.3f64, -0.7, 1.1]);
    let f = |x: Array| nn::softmax(&x, -1).i(0) * x.sin().sum(None);
    let g_jit = jit(grad(f))(x.clone());
    let g = grad(f)(x.clone());
    close(&g_jit, &g, 1e-12);
    let gj = grad(jit(f))(x.clone());
    close(&gj, &g, 1e-12);
    let jf = jacfwd(jacrev(|x: Array| x.sin() * &x))(x.clone());
    assert_eq!(jf.shape(), &[3, 3, 3]);
    let third = grad(grad(grad(|x: Array| x.sin().sum(None))))(jnp::array(0.4f64));
    assert!((third.item::<f64>() + 0.4f64.cos()).abs() < 1e-12);
    let hv = hessian(|x: Array| (x.sin() * &x).sum(None))(x.clone());
    let by_grads = jacfwd(grad(|x: Array| (x.sin() * &x).sum(None)))(x.clone());
    close(&hv, &by_grads, 1e-12);
}

#[test]
fn transformation_errors_name_the_problem_and_line() {
    let x = jnp::array(&[1.0f32, 2.0]);
    let xc = x.clone();
    let (g, line) = (grad(|x: Array| x * 2.0), line!());
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g(xc.clone())))
        .expect_err("non-scalar grad");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("grad requires a function with one real scalar output"),
        "{msg}"
    );
    assert!(msg.contains(&format!("{}:{line}:", file!())), "{msg}");
    let gi = grad(|x: Array| x.astype(DType::F32).sum(None));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gi(jnp::array(&[1i32]))))
        .expect_err("int grad");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("grad requires real- or complex-valued inputs"),
        "{msg}"
    );
    let v = vmap(|(a, b): (Array, Array)| a + b, axes![0, 0]);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        v((x.clone(), jnp::ones(&[3], DType::F32)))
    }))
    .expect_err("sizes");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("inconsistent sizes"), "{msg}");
}

#[test]
fn jit_static_values_captured_constants_and_concretization() {
    let scale = jit(|(x, k): (Array, Static<i32>)| &x * (*k as f64));
    let x = jnp::array(&[1.0f32, 2.0]);
    let before = jaxon::transform::jit::trace_count();
    assert_eq!(
        scale((x.clone(), Static(3))).to_vec::<f32>(),
        vec![3.0, 6.0]
    );
    assert_eq!(
        scale((x.clone(), Static(3))).to_vec::<f32>(),
        vec![3.0, 6.0]
    );
    assert_eq!(
        scale((x.clone(), Static(5))).to_vec::<f32>(),
        vec![5.0, 10.0]
    );
    assert_eq!(
        jaxon::transform::jit::trace_count(),
        before + 2,
        "a new static value retraces"
    );
    // A captured array becomes a constant of the compiled function.
    let w = jnp::array(&[10.0f32, 20.0]);
    let f = jit(move |x: Array| &x + &w);
    assert_eq!(f(x.clone()).to_vec::<f32>(), vec![11.0, 22.0]);
    // Reading a traced value inside jit is a concretization error at the user's line.
    let g = jit(|x: Array| {
        let v = x.to_vec::<f32>();
        x * v[0]
    });
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g(jnp::array(&[1.0f32]))))
        .expect_err("concrete");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("concretization error") && msg.contains("lax::cond"),
        "{msg}"
    );
    assert!(msg.contains(file!()), "{msg}");
    // Donation deletes the caller's array.
    let step = jit_with(
        |(w, g): (Array, Array)| &w - &g,
        JitOptions { donate: vec![0] },
    );
    let w0 = jnp::ones(&[2], DType::F32);
    let w1 = step((w0.clone(), jnp::ones(&[2], DType::F32)));
    assert_eq!(w1.to_vec::<f32>(), vec![0.0, 0.0]);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w0.to_vec::<f32>()))
        .expect_err("donated");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("has been deleted"), "{msg}");
}

#[test]
fn nested_jit_traces_through_and_compiles_once() {
    let inner = jit(|x: Array| x.sin() * 2.0);
    let outer = jit(move |x: Array| inner(x.clone()) + inner(x * 3.0));
    let x = jnp::array(&[0.1f32, 0.2]);
    let before = jaxon::transform::jit::trace_count();
    let y = outer(x.clone());
    let _ = outer(x.clone());
    // One trace of the outer function; the inner one is traced through (inlined).
    assert_eq!(jaxon::transform::jit::trace_count(), before + 1);
    let want = x.sin() * 2.0 + (&x * 3.0).sin() * 2.0;
    close(&y, &want, 1e-6);
    let g = grad(|x: Array| outer(x).sum(None))(x.clone());
    let want_g = x.cos() * 2.0 + (&x * 3.0).cos() * 6.0;
    close(&g, &want_g, 1e-6);
}
