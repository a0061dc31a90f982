//! `config::disable_jit` (jit and control flow run eagerly with concrete values) and
//! `config::debug_nans` (the primitive and the user's line that produced a NaN).

mod support;

use jaxon::prelude::*;
use jaxon::{config, lax, numpy as jnp};
use std::cell::Cell;
use support::{expect_panic, random_array, Rng};

#[test]
fn disable_jit_runs_the_function_eagerly() {
    let mut rng = Rng::new(11);
    let concrete = Cell::new(None);
    let f = |x: Array| {
        concrete.set(Some(x.is_concrete()));
        (x.sin() * 3.0).sum(None)
    };
    let jf = jit(f);
    for _ in 0..3 {
        let shape = rng.shape(2, 4);
        let x = random_array(&mut rng, DType::F32, &shape, -1.0, 1.0);
        concrete.set(None);
        let traced = jf(x.clone());
        // Traced on a cache miss, not run at all on a hit.
        assert_ne!(concrete.get(), Some(true));
        let eager = {
            let _g = config::disable_jit();
            assert!(config::jit_disabled());
            jf(x.clone())
        };
        assert_eq!(concrete.get(), Some(true));
        assert!((eager.item::<f32>() - traced.item::<f32>()).abs() <= 1e-5);
        assert!(!config::jit_disabled());
        // Guards nest and restore the previous value.
        {
            let _a = config::disable_jit();
            {
                let _b = config::with_disable_jit(false);
                assert!(!config::jit_disabled());
            }
            assert!(config::jit_disabled());
        }
        assert!(!config::jit_disabled());
    }
}

/// Each control-flow body records whether it saw concrete values.
#[test]
fn disable_jit_runs_control_flow_with_rust_loops() {
    let seen = Cell::new(0usize);
    let concrete = Cell::new(true);
    let note = |x: &Array| {
        seen.set(seen.get() + 1);
        concrete.set(concrete.get() && x.is_concrete());
    };
    let prog = |x: Array| {
        let a = lax::cond(
            &x.sum(None).gt(0.0),
            |v: Array| {
                note(&v);
                v * 2.0
            },
            |v: Array| {
                note(&v);
                -v
            },
            x.clone(),
        );
        let b = lax::while_loop(
            |c: &Array| c.sum(None).lt(50.0),
            |c: Array| {
                note(&c);
                c * 1.5 + 1.0
            },
            a,
        );
        let (s, ys) = lax::scan_with(
            |c: Array, r: Array| {
                note(&r);
                (&c + &r, &c * &r)
            },
            jnp::zeros(&[], DType::F32),
            b.clone(),
            lax::ScanOptions {
                reverse: true,
                ..Default::default()
            },
        );
        let f = lax::fori_loop(
            0,
            4,
            |i: Array, c: Array| {
                note(&c);
                c + i.astype(DType::F32)
            },
            s,
        );
        let sw = lax::switch(
            &jnp::array(5i32),
            &[&|v: Array| v + 1.0, &|v: Array| {
                note(&v);
                v - 1.0
            }],
            f,
        );
        (b, ys, sw)
    };
    let mut rng = Rng::new(12);
    for _ in 0..3 {
        let x = random_array(&mut rng, DType::F32, &[3], -2.0, 2.0);
        seen.set(0);
        let traced = jit(prog)(x.clone());
        let traced_calls = seen.get();
        assert!(!concrete.get(), "traced bodies see tracers");
        concrete.set(true);
        seen.set(0);
        let eager = {
            let _g = config::disable_jit();
            jit(prog)(x.clone())
        };
        assert!(concrete.get(), "eager bodies see concrete values");
        // Eagerly one call per iteration actually run: the loops ran (traced: once
        // per body), so there are more calls than bodies.
        assert!(
            seen.get() > traced_calls,
            "{} vs {traced_calls}",
            seen.get()
        );
        for (e, t) in [
            (&eager.0, &traced.0),
            (&eager.1, &traced.1),
            (&eager.2, &traced.2),
        ] {
            assert_eq!(e.shape(), t.shape());
            for (a, b) in e.to_vec::<f32>().iter().zip(t.to_vec::<f32>()) {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
    }
}

#[test]
fn debug_nans_eager_names_the_primitive_and_line() {
    let _g = config::debug_nans();
    let x = jnp::array(&[1.0f32, -1.0]);
    let (f, l) = (|| drop(x.log()), line!());
    expect_panic(
        f,
        &[
            "invalid value (nan) encountered in log",
            &format!("{}:{l}", file!()),
        ],
    );
    let inf = jnp::array(f64::INFINITY);
    let (f, l) = (|| drop(lax::sub(&inf, &inf)), line!());
    expect_panic(f, &["encountered in sub", &format!("{}:{l}", file!())]);
    // Finite results and integers pass.
    let ok = x.exp() + jnp::array(&[1i32, 2]).astype(DType::F32);
    assert_eq!(ok.shape(), &[2]);
}

#[test]
fn debug_nans_in_jit_reruns_op_by_op_to_find_the_line() {
    let mut rng = Rng::new(13);
    static SQRT_LINE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let f = jit(|x: Array| {
        let y = x.sin() * 2.0;
        SQRT_LINE.store(line!() + 1, std::sync::atomic::Ordering::Relaxed);
        let z = lax::sqrt(&y);
        z + 1.0
    });
    let x = random_array(&mut rng, DType::F32, &[4], -3.0, -0.5);
    // Off: the NaN comes back silently.
    let out = f(x.clone());
    assert!(out.to_vec::<f32>().iter().any(|v| v.is_nan()));
    let _g = config::debug_nans();
    let line = SQRT_LINE.load(std::sync::atomic::Ordering::Relaxed);
    let msg = expect_panic(
        || drop(f(x.clone())),
        &["invalid value (nan) encountered in sqrt"],
    );
    assert!(msg.contains(&format!("{}:{line}", file!())), "{msg}");
    // Inside grad(jit(...)) the forward pass is checked too.
    let g = grad(|x: Array| f(x).sum(None));
    expect_panic(
        || drop(g(x.clone())),
        &["encountered in sqrt", &format!("{}:{line}", file!())],
    );
    // Positive inputs: no NaN, no panic; results equal the unchecked run.
    let xp = random_array(&mut rng, DType::F32, &[4], 0.5, 2.5);
    let checked = f(xp.clone()).to_vec::<f32>();
    drop(_g);
    assert_eq!(checked, f(xp).to_vec::<f32>());
}

#[test]
fn debug_nans_with_a_nan_input_to_jit() {
    let _g = config::debug_nans();
    let f = jit(|x: Array| x * 2.0);
    let l = line!() - 1;
    let msg = expect_panic(
        || drop(f(jnp::array(&[f32::NAN]))),
        &["invalid value (nan) encountered in mul"],
    );
    assert!(msg.contains(&format!("{}:{l}", file!())), "{msg}");
}
