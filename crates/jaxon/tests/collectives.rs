//! Collectives over named vmap axes (`axis_name`), their derivatives, nesting, and
//! the unbound-name error.

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{lax, test_util};

fn close(a: &Array, b: &Array) {
    assert_eq!(a.shape(), b.shape(), "{a} vs {b}");
    for (x, y) in a.to_f64_vec().iter().zip(b.to_f64_vec()) {
        assert!((x - y).abs() <= 1e-9 * (1.0 + y.abs()), "{a} vs {b}");
    }
}

#[test]
fn reducing_collectives_match_whole_array_reductions() {
    let x = jnp::array(&[[1.0f64, 5.0], [3.0, -2.0], [0.5, 4.0]]);
    let f = |op: fn(&Array, &str) -> Array| {
        vmap_with(move |r: Array| op(&r, "rows"), 0, 0, Some("rows"))
    };
    let n = 3;
    let tile = |v: Array| jnp::broadcast_to(&v, &[n, 2]);
    close(
        &f(lax::psum)(x.clone()),
        &tile(jnp::sum(&x, Some(&[0]), false)),
    );
    close(
        &f(lax::pmax)(x.clone()),
        &tile(jnp::max(&x, Some(&[0]), false)),
    );
    close(
        &f(lax::pmin)(x.clone()),
        &tile(jnp::min(&x, Some(&[0]), false)),
    );
    close(
        &f(lax::pmean)(x.clone()),
        &tile(jnp::mean(&x, Some(&[0]), false)),
    );
    // An unbatched operand: every lane holds it, so psum multiplies by the axis size.
    let c = vmap_with(
        |r: Array| &r * 0.0 + lax::psum(&jnp::array(2.0f64), "rows"),
        0,
        0,
        Some("rows"),
    )(x.clone());
    close(&c, &jnp::full(&[3, 2], 6.0, Some(DType::F64)));
}

#[test]
fn all_gather_and_axis_index() {
    let x = jnp::array(&[1.0f32, 2.0, 3.0]);
    let g = vmap_with(|v: Array| lax::all_gather(&v, "i", 0), 0, 0, Some("i"))(x.clone());
    assert_eq!(g.shape(), &[3, 3]);
    assert_eq!(
        g.to_vec::<f32>(),
        vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    );
    let idx = vmap_with(
        |v: Array| v + lax::axis_index("i").astype(DType::F32),
        0,
        0,
        Some("i"),
    )(x);
    assert_eq!(idx.to_vec::<f32>(), vec![1.0, 3.0, 5.0]);
}

#[test]
fn nested_named_axes() {
    let x = jnp::arange_with(0, 6, 1, Some(DType::F64)).reshape(&[2, 3]);
    // Inner vmap over columns named "j", outer over rows named "i": psum over "i" from inside.
    let f = vmap_with(
        |row: Array| {
            vmap_with(
                |v: Array| lax::psum(&v, "i") - lax::psum(&v, "j"),
                0,
                0,
                Some("j"),
            )(row)
        },
        0,
        0,
        Some("i"),
    );
    let got = f(x.clone());
    let col_sums = jnp::broadcast_to(jnp::sum(&x, Some(&[0]), true), &[2, 3]);
    let row_sums = jnp::broadcast_to(jnp::sum(&x, Some(&[1]), true), &[2, 3]);
    close(&got, &(col_sums - row_sums));
}

#[test]
fn gradients_flow_through_collectives() {
    let normalize = |x: Array| vmap_with(|v: Array| &v / lax::psum(&v, "b"), 0, 0, Some("b"))(x);
    let x = jnp::array(&[1.0f64, 2.0, 4.0]);
    test_util::check_grads(
        &|a| vec![normalize(a[0].clone()).sin()],
        std::slice::from_ref(&x),
        2,
        test_util::Modes::Both,
        None,
        None,
    );
    let gathered = |x: Array| {
        vmap_with(
            |v: Array| lax::all_gather(&v, "b", 0).i(0) * &v,
            0,
            0,
            Some("b"),
        )(x)
    };
    test_util::check_grads(
        &|a| vec![gathered(a[0].clone())],
        std::slice::from_ref(&x),
        1,
        test_util::Modes::Both,
        None,
        None,
    );
    let j = jit(normalize)(x.clone());
    close(&j, &(&x / 7.0));
}

#[test]
fn unbound_axis_name_is_an_error_at_the_callers_line() {
    let x = jnp::array(&[1.0f32]);
    let (f, line) = (move || drop(lax::psum(&x, "nope")), line!());
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("unbound");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("psum: unbound axis name: nope"), "{msg}");
    assert!(msg.contains(&format!("{}:{line}:", file!())), "{msg}");
}
