//! Programmer errors name the operation, the shapes/dtypes and the caller's line;
//! jaxprs print in `jax.make_jaxpr`'s format; escaped tracers are caught.

mod support;

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{lax, nn};
use support::expect_panic;

#[test]
fn broadcast_error_points_at_the_callers_line() {
    let a = jnp::array(&[1.0f32, 2.0, 3.0]);
    let b = jnp::array(&[1.0f32, 2.0, 3.0, 4.0]);
    let (f, line) = (move || drop(&a + &b), line!());
    let msg = expect_panic(f, &["add: shapes [3] and [4] do not broadcast", file!()]);
    assert!(msg.contains(&format!("{}:{line}:", file!())), "{msg}");
}

#[test]
fn lax_dtype_error_names_primitive_dtypes_and_line() {
    let a = jnp::array(&[1.0f32, 2.0]);
    let b = jnp::array(&[1i32, 2]);
    let (f, line) = (move || drop(lax::add(&a, &b)), line!());
    let msg = expect_panic(f, &["add: operand dtypes differ: f32 and i32", file!()]);
    assert!(msg.contains(&format!(":{line}:")), "{msg}");
}

#[test]
fn axis_and_reshape_errors() {
    let m = jnp::ones(&[2, 3], DType::F32);
    let m2 = m.clone();
    let (f, line) = (move || drop(jnp::sum(&m, Some(&[2]), false)), line!());
    let msg = expect_panic(
        f,
        &["sum: axis 2 is out of bounds for an array of dimension 2"],
    );
    assert!(msg.contains(&format!("{}:{line}:", file!())), "{msg}");
    expect_panic(
        move || drop(m2.reshape(&[4, -1])),
        &["reshape: cannot reshape array of shape [2, 3]", file!()],
    );
    expect_panic(
        || drop(lax::sin(&jnp::array(&[1i32]))),
        &["sin: needs a floating-point dtype, got i32", file!()],
    );
    expect_panic(
        || drop(jnp::array(&[1.0f32]).to_vec::<i32>()),
        &["to_vec: the array has dtype f32, asked for i32"],
    );
}

#[test]
fn jaxpr_prints_like_jax() {
    let x = jnp::ones(&[8], DType::F32);
    let j = make_jaxpr(|s: Array| (s.sin() * 3.0).sum(None))(x);
    // The same text as str(jax.make_jaxpr(...)) in jax-spec section 3.2.
    assert_eq!(
        j.to_string(),
        "{ lambda ; a:f32[8]. let\n    b:f32[8] = sin a\n    c:f32[8] = mul b 3.0:f32[]\n    \
         d:f32[] = reduce_sum[axes=(0,)] c\n  in (d,) }"
    );
    let small = make_jaxpr(|s: Array| s.cos().sin())(jnp::ones(&[], DType::F32));
    assert_eq!(
        small.to_string(),
        "{ lambda ; a:f32[]. let b:f32[] = cos a; c:f32[] = sin b in (c,) }"
    );
}

#[test]
fn jaxpr_hoists_array_constants_and_evaluates() {
    let w = jnp::array(&[1.0f32, 2.0, 3.0]);
    let w2 = w.clone();
    let j = make_jaxpr(move |x: Array| &x * &w2 + 1.0)(jnp::ones(&[3], DType::F32));
    let text = j.to_string();
    assert!(
        text.starts_with("{ lambda a:f32[3]; b:f32[3]. let"),
        "{text}"
    );
    let out = j.call(&[jnp::array(&[2.0f32, 2.0, 2.0])]);
    assert_eq!(out[0].to_vec::<f32>(), vec![3.0, 5.0, 7.0]);
    let _ = nn::relu(&w);
}

#[test]
fn escaped_tracer_is_an_error() {
    use std::sync::Mutex;
    let leaked: Mutex<Option<Array>> = Mutex::new(None);
    let _ = make_jaxpr(|x: Array| {
        *leaked.lock().unwrap() = Some(x.clone());
        x
    })(jnp::ones(&[2], DType::F32));
    let t = leaked.lock().unwrap().take().unwrap();
    expect_panic(move || drop(t.sin()), &["escaped tracer"]);
}

#[test]
fn reading_a_traced_value_is_a_concretization_error() {
    let msg = std::panic::catch_unwind(|| {
        make_jaxpr(|x: Array| {
            let _ = x.to_vec::<f32>();
            x
        })(jnp::ones(&[2], DType::F32))
    });
    let err = msg.expect_err("must panic");
    let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("concretization error"), "{text}");
    assert!(text.contains("lax::cond"), "{text}");
}

#[test]
fn concrete_arrays_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Array>();
    let x = jnp::array(&[1.0f32, 2.0]);
    let h = std::thread::spawn(move || (&x * 2.0).to_vec::<f32>());
    assert_eq!(h.join().unwrap(), vec![2.0, 4.0]);
}

#[test]
fn eager_cache_reuses_executables() {
    let x = jnp::array(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    let y = jnp::array(&[9.0f32, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0]);
    let _ = lax::tan(&x);
    // The counter is process-wide and the other tests of this binary compile
    // concurrently: one attempt without any compile proves the reuse (a cache that
    // missed would compile in every attempt).
    let reused = (0..50).any(|_| {
        let before = jaxon::core::eager::compile_count();
        let _ = lax::tan(&x);
        let _ = lax::tan(&y);
        jaxon::core::eager::compile_count() == before
    });
    assert!(reused, "eager tan compiled again for equal avals");
}

#[test]
fn display_looks_like_numpy() {
    assert_eq!(jnp::array(&[1.0f32, 2.5, 3.0]).to_string(), "[1.  2.5 3. ]");
    assert_eq!(
        jnp::array(&[[1i32, 2], [30, 4]]).to_string(),
        "[[ 1  2]\n [30  4]]"
    );
    assert_eq!(jnp::array(&[true, false]).to_string(), "[ True False]");
    assert_eq!(jnp::array(2.5f32).to_string(), "2.5");
    assert_eq!(jnp::array(&[1.0f32, 2.0]).to_string(), "[1. 2.]");
    assert_eq!(
        format!("{:?}", jnp::array(&[0.5f32])),
        "Array([0.5], dtype=float32)"
    );
}
