//! Control flow forward semantics: cond, switch, while_loop, fori_loop, scan, map
//! against Rust reference loops, eagerly and under jit; jaxpr printing; errors.

mod support;

use jaxon::prelude::*;
use jaxon::{lax, numpy as jnp};
use support::{random_array, Rng};

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

#[test]
fn cond_picks_branch() {
    let mut rng = Rng::new(1);
    for case in 0..6 {
        let shape = rng.shape(2, 3);
        let x = random_array(&mut rng, DType::F32, &shape, -2.0, 2.0);
        let p = case % 2 == 0;
        let y = lax::cond(
            &jnp::array(p),
            |x: Array| &x * 2.0,
            |x: Array| -x,
            x.clone(),
        );
        let want: Vec<f64> = x
            .to_f64_vec()
            .iter()
            .map(|v| if p { v * 2.0 } else { -v })
            .collect();
        close(&y.to_f64_vec(), &want, 1e-6);
        let f = jit(move |x: Array| {
            lax::cond(
                &x.sum(None).gt(0.0),
                |x: Array| x.sin(),
                |x: Array| x.cos(),
                x,
            )
        });
        let s: f64 = x.to_f64_vec().iter().sum();
        let want: Vec<f64> = x
            .to_f64_vec()
            .iter()
            .map(|v| if s > 0.0 { v.sin() } else { v.cos() })
            .collect();
        close(&f(x.clone()).to_f64_vec(), &want, 1e-5);
    }
}

#[test]
fn cond_pytree_and_capture() {
    let w = jnp::array(&[1.0f32, 2.0, 3.0]);
    let x = jnp::array(&[0.5f32, -1.0, 2.0]);
    for p in [true, false] {
        let (a, b) = lax::cond(
            &jnp::array(p),
            |(x, k): (Array, Array)| (&x * &w, k + 1),
            |(x, k): (Array, Array)| (&x + &w, k - 1),
            (x.clone(), jnp::array(5i32)),
        );
        let xs = x.to_f64_vec();
        let ws = w.to_f64_vec();
        let want: Vec<f64> = xs
            .iter()
            .zip(&ws)
            .map(|(x, w)| if p { x * w } else { x + w })
            .collect();
        close(&a.to_f64_vec(), &want, 1e-6);
        assert_eq!(b.item::<i32>(), if p { 6 } else { 4 });
    }
}

#[test]
fn switch_clamps_index() {
    let f0 = |x: Array| &x + 1.0;
    let f1 = |x: Array| &x * 10.0;
    let f2 = |x: Array| x.exp();
    let x = jnp::array(&[0.5f32, 1.5]);
    for i in -2i32..5 {
        let y = lax::switch(&jnp::array(i), &[&f0, &f1, &f2], x.clone());
        let k = i.clamp(0, 2);
        let want: Vec<f64> = x
            .to_f64_vec()
            .iter()
            .map(|v| match k {
                0 => v + 1.0,
                1 => v * 10.0,
                _ => v.exp(),
            })
            .collect();
        close(&y.to_f64_vec(), &want, 1e-6);
        let g = jit(|(i, x): (Array, Array)| lax::switch(&i, &[&f0, &f1, &f2], x));
        close(&g((jnp::array(i), x.clone())).to_f64_vec(), &want, 1e-6);
    }
}

#[test]
fn while_loop_matches_reference() {
    let mut rng = Rng::new(3);
    for _ in 0..5 {
        let start = rng.uniform(0.1, 3.0);
        let y = lax::while_loop(
            |c: &Array| c.lt(10.0),
            |c: Array| c * 1.5,
            jnp::array(start as f32),
        );
        let mut r = start as f32;
        while r < 10.0 {
            r *= 1.5;
        }
        close(&[y.item::<f32>() as f64], &[r as f64], 1e-6);
        // A pytree carry with a data-dependent trip count, under jit.
        let f = jit(|(x, n): (Array, Array)| {
            lax::while_loop(
                |(x, _): &(Array, Array)| x.sum(None).lt(50.0),
                |(x, n): (Array, Array)| (&x * 2.0 + 1.0, n + 1),
                (x, n),
            )
        });
        let x = random_array(&mut rng, DType::F32, &[3], 0.0, 2.0);
        let (xo, n) = f((x.clone(), jnp::array(0i32)));
        let mut xs = x.to_f64_vec();
        let mut k = 0;
        while xs.iter().sum::<f64>() < 50.0 {
            xs.iter_mut().for_each(|v| *v = *v * 2.0 + 1.0);
            k += 1;
        }
        close(&xo.to_f64_vec(), &xs, 1e-5);
        assert_eq!(n.item::<i32>(), k);
    }
}

#[test]
fn fori_loop_static_and_dynamic() {
    let init = jnp::array(&[0.3f32, -0.7]);
    let body = |i: Array, c: Array| c.sin() + i.astype(DType::F32);
    let mut r: Vec<f64> = init.to_f64_vec();
    for i in 0..5 {
        r.iter_mut().for_each(|v| *v = v.sin() + i as f64);
    }
    let y = lax::fori_loop(0, 5, body, init.clone());
    close(&y.to_f64_vec(), &r, 1e-5);
    let y = lax::fori_loop(jnp::array(0i32), jnp::array(5i32), body, init.clone());
    close(&y.to_f64_vec(), &r, 1e-5);
    let y = lax::fori_loop(0, jnp::array(5i32), body, init.clone());
    close(&y.to_f64_vec(), &r, 1e-5);
    let f = jit(move |c: Array| lax::fori_loop(0, 5, body, c));
    close(&f(init.clone()).to_f64_vec(), &r, 1e-5);
    // An empty range returns the init.
    let y = lax::fori_loop(3, 1, body, init.clone());
    close(&y.to_f64_vec(), &init.to_f64_vec(), 0.0);
    let j = make_jaxpr(move |c: Array| lax::fori_loop(0, 5, body, c))(init.clone()).to_string();
    assert!(j.contains("scan["), "{j}");
    let j = make_jaxpr(move |(c, n): (Array, Array)| lax::fori_loop(0, &n, body, c))((
        init,
        jnp::array(3i32),
    ))
    .to_string();
    assert!(j.contains("while["), "{j}");
}

/// Reference RNN-like scan: h' = tanh(w * h + x), y = h' * 2.
fn scan_ref(w: &[f64], h0: &[f64], xs: &[Vec<f64>], reverse: bool) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut h = h0.to_vec();
    let mut ys = vec![Vec::new(); xs.len()];
    let order: Vec<usize> = if reverse {
        (0..xs.len()).rev().collect()
    } else {
        (0..xs.len()).collect()
    };
    for t in order {
        h = h
            .iter()
            .zip(w)
            .zip(&xs[t])
            .map(|((h, w), x)| (w * h + x).tanh())
            .collect();
        ys[t] = h.iter().map(|v| v * 2.0).collect();
    }
    (h, ys)
}

#[test]
fn scan_matches_reference() {
    let mut rng = Rng::new(7);
    for case in 0..6 {
        let (n, t) = (1 + rng.int(0, 3) as usize, rng.int(0, 5) as usize);
        let w = random_array(&mut rng, DType::F64, &[n], -1.0, 1.0);
        let h0 = random_array(&mut rng, DType::F64, &[n], -1.0, 1.0);
        let xs = random_array(&mut rng, DType::F64, &[t, n], -1.0, 1.0);
        let reverse = case % 2 == 1;
        let wc = w.clone();
        let step = move |h: Array, x: Array| {
            let h = (&wc * &h + &x).tanh();
            (h.clone(), &h * 2.0)
        };
        let opts = lax::ScanOptions {
            reverse,
            ..Default::default()
        };
        let (h, ys) = lax::scan_with(step.clone(), h0.clone(), xs.clone(), opts.clone());
        let xv = xs.to_f64_vec();
        let rows: Vec<Vec<f64>> = (0..t).map(|i| xv[i * n..(i + 1) * n].to_vec()).collect();
        let (rh, rys) = scan_ref(&w.to_f64_vec(), &h0.to_f64_vec(), &rows, reverse);
        close(&h.to_f64_vec(), &rh, 1e-12);
        assert_eq!(ys.shape(), &[t, n]);
        close(&ys.to_f64_vec(), &rys.concat(), 1e-12);
        let f =
            jit(move |(h0, xs): (Array, Array)| lax::scan_with(step.clone(), h0, xs, opts.clone()));
        let (h2, ys2) = f((h0.clone(), xs.clone()));
        close(&h2.to_f64_vec(), &rh, 1e-12);
        close(&ys2.to_f64_vec(), &rys.concat(), 1e-12);
    }
}

#[test]
fn scan_pytrees_length_and_map() {
    // xs as a tuple, ys as a tuple, no xs with `length`.
    let a = jnp::array(&[1.0f32, 2.0, 3.0]);
    let b = jnp::array(&[[1i32, 0], [2, 1], [3, 5]]);
    let ((s, k), (ys, zs)) = lax::scan(
        |(s, k): (Array, Array), (x, y): (Array, Array)| {
            let s2 = &s + &x;
            ((s2.clone(), k + y.sum(None)), (s2, x * 2.0))
        },
        (jnp::array(0.0f32), jnp::array(0i32)),
        (a.clone(), b),
    );
    assert_eq!(s.item::<f32>(), 6.0);
    assert_eq!(k.item::<i32>(), 12);
    assert_eq!(ys.to_vec::<f32>(), vec![1.0, 3.0, 6.0]);
    assert_eq!(zs.to_vec::<f32>(), vec![2.0, 4.0, 6.0]);
    let opts = lax::ScanOptions {
        length: Some(4),
        ..Default::default()
    };
    let (c, ys) = lax::scan_with(
        |c: Array, (): ()| (&c * 2.0, c),
        jnp::array(1.0f32),
        (),
        opts,
    );
    assert_eq!(c.item::<f32>(), 16.0);
    assert_eq!(ys.to_vec::<f32>(), vec![1.0, 2.0, 4.0, 8.0]);
    let m = lax::map(
        |x: Array| x.sum(None),
        jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]),
    );
    assert_eq!(m.to_vec::<f32>(), vec![3.0, 7.0]);
}

#[test]
fn jaxprs_print_like_jax() {
    let j = make_jaxpr(|x: Array| lax::cond(&x.gt(0.0), |x: Array| x.sin(), |x: Array| x.cos(), x))(
        jnp::array(1.0f32),
    );
    let t = j.to_string();
    assert!(t.contains("cond[") && t.contains("branches=("), "{t}");
    let j = make_jaxpr(|x: Array| lax::while_loop(|c: &Array| c.lt(10.0), |c: Array| c * 1.5, x))(
        jnp::array(1.0f32),
    );
    let t = j.to_string();
    for p in [
        "while[",
        "cond_jaxpr=",
        "body_jaxpr=",
        "cond_nconsts=0",
        "body_nconsts=0",
    ] {
        assert!(t.contains(p), "{p} in {t}");
    }
    let j = make_jaxpr(|xs: Array| {
        lax::scan(|c: Array, x: Array| (&c + &x, c), jnp::array(0.0f32), xs)
    })(jnp::array(&[1.0f32, 2.0]));
    let t = j.to_string();
    for p in [
        "scan[",
        "length=2",
        "reverse=False",
        "num_consts=0",
        "num_carry=1",
        "linear=(False, False)",
        "unroll=1",
    ] {
        assert!(t.contains(p), "{p} in {t}");
    }
}

#[test]
fn eager_cache_distinguishes_bodies() {
    // Same shapes, different bodies / captured literals: distinct results.
    let x = jnp::array(&[1.0f32, 2.0]);
    for k in [2.0f32, 3.0] {
        let y = lax::fori_loop(0, 3, move |_i: Array, c: Array| c * k, x.clone());
        close(
            &y.to_f64_vec(),
            &[(k as f64).powi(3), 2.0 * (k as f64).powi(3)],
            1e-6,
        );
    }
    let y1 = lax::cond(
        &jnp::array(true),
        |x: Array| x.sin(),
        |x: Array| x.cos(),
        x.clone(),
    );
    let y2 = lax::cond(
        &jnp::array(true),
        |x: Array| x.exp(),
        |x: Array| x.cos(),
        x.clone(),
    );
    close(&y1.to_f64_vec(), &[1f64.sin(), 2f64.sin()], 1e-6);
    close(&y2.to_f64_vec(), &[1f64.exp(), 2f64.exp()], 1e-5);
}

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let e = std::panic::catch_unwind(f).expect_err("should panic");
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn errors_name_types_and_line() {
    let line = line!() + 2;
    let m = panic_message(|| {
        lax::while_loop(
            |c: &Array| c.lt(10.0),
            |c: Array| c.astype(DType::F64),
            jnp::array(1.0f32),
        );
    });
    assert!(
        m.contains("while_loop") && m.contains("f32[]") && m.contains("f64[]"),
        "{m}"
    );
    assert!(m.contains(&format!("{}:{line}", file!())), "{m}");
    let line = line!() + 2;
    let m = panic_message(|| {
        lax::cond(
            &jnp::array(true),
            |x: Array| x.clone(),
            |x: Array| x.reshape(&[1, 2]),
            jnp::array(&[1.0f32, 2.0]),
        );
    });
    assert!(
        m.contains("cond") && m.contains("f32[2]") && m.contains("f32[1,2]"),
        "{m}"
    );
    assert!(m.contains(&format!("{}:{line}", file!())), "{m}");
    let line = line!() + 2;
    let m = panic_message(|| {
        lax::scan(
            |c: Array, x: Array| ((&c, &c).0 + x.sum(None), x),
            jnp::array(0i32),
            jnp::array(&[1.0f32]),
        );
    });
    assert!(
        m.contains("scan") && m.contains("i32[]") && m.contains("f32[]"),
        "{m}"
    );
    assert!(m.contains(&format!("{}:{line}", file!())), "{m}");
    let line = line!() + 2;
    let m = panic_message(|| {
        lax::scan(
            |c: Array, x: (Array, Array)| (c, x.0),
            jnp::array(0.0f32),
            (jnp::array(&[1.0f32]), jnp::array(&[1.0f32, 2.0])),
        );
    });
    assert!(m.contains("scan") && m.contains("leading axis"), "{m}");
    assert!(m.contains(&format!("{}:{line}", file!())), "{m}");
    let line = line!() + 2;
    let m = panic_message(|| {
        lax::while_loop(|c: &Array| c.clone(), |c: Array| c, jnp::array(1.0f32));
    });
    assert!(
        m.contains("boolean scalar") && m.contains(&format!("{}:{line}", file!())),
        "{m}"
    );
}

/// The control-flow lines of DESIGN.md §4, as written.
#[test]
#[allow(unused_variables)]
fn design_contract_lines() {
    let pred = jnp::array(true);
    let operand = jnp::array(&[1.0f32, -2.0]);
    let i = jnp::array(1i32);
    let f0 = |x: Array| x + 1.0;
    let f1 = |x: Array| x * 3.0;
    let init = jnp::array(&[0.5f32, 1.0]);
    let h0 = jnp::array(&[0.0f32, 1.0]);
    let xs = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]]);
    let a = lax::cond(&pred, |x| x * 2.0, |x| -x, operand.clone());
    let b = lax::switch(&i, &[&f0, &f1], operand.clone());
    let c = lax::fori_loop(
        0,
        5,
        |i: Array, c: Array| c.sin() + i.astype(DType::F32),
        init.clone(),
    );
    let init0 = jnp::array(0.5f32);
    let d = lax::while_loop(|c: &Array| c.lt(10.0), |c: Array| c * 1.5, init0);
    let (carry, ys) = lax::scan(|h: Array, x: Array| (h.clone(), h), h0, xs);
    assert_eq!(a.to_vec::<f32>(), vec![2.0, -4.0]);
    assert_eq!(b.to_vec::<f32>(), vec![3.0, -6.0]);
    assert_eq!(c.shape(), &[2]);
    assert!(d.to_vec::<f32>().iter().all(|&v| v >= 10.0));
    assert_eq!(carry.to_vec::<f32>(), vec![0.0, 1.0]);
    assert_eq!(ys.to_vec::<f32>(), vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
}
