//! `lax::associative_scan` (vs a sequential reference, check_grads, vmap vs a loop,
//! errors), scan's `unroll` (same results, the body repeated in the HLO) and
//! collectives inside control-flow bodies under a named `vmap_with`.

mod support;

use jaxon::prelude::*;
use jaxon::test_util::{check_grads, Modes};
use jaxon::{lax, numpy as jnp};
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{assert_close, expect_panic, random_array, Rng};

static CASES: AtomicUsize = AtomicUsize::new(0);

/// Slice `i` of `x` along `axis`, without that axis.
fn lane(x: &Array, i: usize, axis: usize) -> Array {
    let mut shape: Vec<i64> = x.shape().iter().map(|&d| d as i64).collect();
    shape.remove(axis);
    lax::slice_in_dim(x, i, i + 1, 1, axis).reshape(&shape)
}

/// Asserts that `msg` names this file at a line in `[line, line + 8)` (the call
/// may be spread over several lines by rustfmt).
fn assert_at(msg: &str, line: u32) {
    let ok = (line..line + 8).any(|l| msg.contains(&format!("{}:{l}:", file!())));
    assert!(ok, "{msg} does not name {}:{line}", file!());
}

fn count() {
    CASES.fetch_add(1, Ordering::Relaxed);
}

/// A function checked by check_grads.
type TestFn = dyn Fn(&[Array]) -> Vec<Array>;

/// A combine function on f64 element tuples, for the sequential reference.
type RefCombine = fn(&[f64], &[f64]) -> Vec<f64>;

/// The sequential prefix (or suffix, `reverse`) scan of the leaves `xs` along `axis`:
/// each leaf's values in the layout of `moveaxis(x, axis, 0)`.
fn reference(xs: &[Array], axis: i64, reverse: bool, comb: RefCombine) -> Vec<Vec<f64>> {
    let moved: Vec<Vec<f64>> = xs
        .iter()
        .map(|x| jnp::moveaxis(x, axis, 0).to_f64_vec())
        .collect();
    let ax = if axis < 0 {
        axis + xs[0].ndim() as i64
    } else {
        axis
    } as usize;
    let n = xs[0].shape()[ax];
    let cols = moved[0].len().checked_div(n).unwrap_or(0);
    let mut out = vec![vec![0.0; moved[0].len()]; xs.len()];
    for c in 0..cols {
        let mut acc: Option<Vec<f64>> = None;
        let order: Vec<usize> = if reverse {
            (0..n).rev().collect()
        } else {
            (0..n).collect()
        };
        for i in order {
            let e: Vec<f64> = moved.iter().map(|m| m[i * cols + c]).collect();
            let next = match &acc {
                None => e,
                Some(a) => comb(a, &e),
            };
            for (l, v) in next.iter().enumerate() {
                out[l][i * cols + c] = *v;
            }
            acc = Some(next);
        }
    }
    out
}

fn check_against_reference(
    got: &[Array],
    xs: &[Array],
    axis: i64,
    rev: bool,
    comb: RefCombine,
    tol: f64,
) {
    let want = reference(xs, axis, rev, comb);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.shape(), xs[0].shape());
        assert_eq!(g.dtype(), xs[0].dtype());
        let g = jnp::moveaxis(g, axis, 0).to_f64_vec();
        assert_close("associative_scan", &g, w, tol, tol);
    }
    count();
}

/// The first-order linear recurrence h_i = a_i h_{i-1} + b_i as a pytree scan.
fn linrec(p: (Array, Array), q: (Array, Array)) -> (Array, Array) {
    (&p.0 * &q.0, &q.0 * &p.1 + &q.1)
}

fn linrec_ref(p: &[f64], q: &[f64]) -> Vec<f64> {
    vec![p[0] * q[0], q[0] * p[1] + q[1]]
}

#[test]
fn associative_scan_matches_sequential_reference() {
    let mut rng = Rng::new(7);
    for trial in 0..24 {
        let rank = 1 + trial % 3;
        let mut shape: Vec<usize> = (0..rank).map(|_| rng.int(1, 4) as usize).collect();
        let axis = rng.int(-(rank as i64), rank as i64 - 1);
        let ax = if axis < 0 { axis + rank as i64 } else { axis } as usize;
        shape[ax] = [0, 1, 2, 3, 5, 8, 9, 16][trial % 8];
        let reverse = trial % 2 == 1;
        for dtype in [DType::F32, DType::F64, DType::I32] {
            let x = random_array(&mut rng, dtype, &shape, -3.0, 3.0);
            let tol = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
            let s = lax::associative_scan(
                |a: Array, b: Array| lax::add(&a, &b),
                x.clone(),
                reverse,
                axis,
            );
            check_against_reference(
                &[s],
                std::slice::from_ref(&x),
                axis,
                reverse,
                |a, b| vec![a[0] + b[0]],
                tol,
            );
            let m = lax::associative_scan(
                |a: Array, b: Array| lax::max(&a, &b),
                x.clone(),
                reverse,
                axis,
            );
            check_against_reference(
                &[m],
                std::slice::from_ref(&x),
                axis,
                reverse,
                |a, b| vec![a[0].max(b[0])],
                0.0,
            );
        }
        // A pytree of two leaves with a non-commutative combine.
        let a = random_array(&mut rng, DType::F64, &shape, -1.2, 1.2);
        let b = random_array(&mut rng, DType::F64, &shape, -2.0, 2.0);
        let (ha, hb) = lax::associative_scan(linrec, (a.clone(), b.clone()), reverse, axis);
        check_against_reference(&[ha, hb], &[a, b], axis, reverse, linrec_ref, 1e-10);
    }
    // Bools combine with `or` in the interleave.
    let x = jnp::array(&[false, true, false, false, true]);
    let y = lax::associative_scan(
        |a: Array, b: Array| lax::bitwise_or(&a, &b),
        x.clone(),
        false,
        0,
    );
    assert_eq!(y.to_vec::<bool>(), vec![false, true, true, true, true]);
    count();
}

#[test]
fn associative_scan_is_built_from_ordinary_primitives() {
    let x = jnp::array(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    let j = make_jaxpr(|x: Array| lax::associative_scan(|a: Array, b: Array| a + b, x, false, 0))(
        x.clone(),
    );
    let text = j.to_string();
    for p in ["slice", "pad", "concatenate", "add"] {
        assert!(text.contains(p), "{p} missing in {text}");
    }
    assert!(!text.contains("scan["), "{text}");
    // Under jit the result is unchanged.
    let f = jit(|x: Array| lax::associative_scan(|a: Array, b: Array| a * b, x, true, 0));
    let eager = lax::associative_scan(|a: Array, b: Array| a * b, x.clone(), true, 0);
    assert_eq!(f(x).to_vec::<f32>(), eager.to_vec::<f32>());
    count();
}

#[test]
fn associative_scan_grads() {
    let mut rng = Rng::new(11);
    for (n, axis, reverse) in [(5usize, 0i64, false), (6, -1, true), (4, 1, false)] {
        let shape = if axis == 0 { vec![n, 2] } else { vec![2, n] };
        let x = random_array(&mut rng, DType::F64, &shape, 0.5, 1.5);
        let y = random_array(&mut rng, DType::F64, &shape, -1.0, 1.0);
        let fs: Vec<Box<TestFn>> = vec![
            Box::new(move |a| {
                vec![lax::associative_scan(
                    |p: Array, q: Array| p * q,
                    a[0].clone(),
                    reverse,
                    axis,
                )]
            }),
            Box::new(move |a| {
                vec![lax::associative_scan(
                    |p: Array, q: Array| lax::max(&p, &q),
                    a[0].sin(),
                    reverse,
                    axis,
                )]
            }),
            Box::new(move |a| {
                let (h, g) =
                    lax::associative_scan(linrec, (a[0].clone(), a[1].clone()), reverse, axis);
                vec![h, g]
            }),
        ];
        for f in &fs {
            for order in 1..=2 {
                check_grads(
                    f.as_ref(),
                    &[x.clone(), y.clone()],
                    order,
                    Modes::Both,
                    None,
                    None,
                );
                count();
            }
        }
    }
}

#[test]
fn associative_scan_vmap_matches_loop() {
    let mut rng = Rng::new(5);
    let scan = |a: Array, b: Array| lax::associative_scan(linrec, (a, b), false, -1);
    // Batch dim 0 on both, then a batch dim 1 on one operand and none on the other.
    let a = random_array(&mut rng, DType::F32, &[3, 2, 7], -1.0, 1.0);
    let b = random_array(&mut rng, DType::F32, &[3, 2, 7], -1.0, 1.0);
    let (ga, gb) = vmap(|(a, b): (Array, Array)| scan(a, b), 0)((a.clone(), b.clone()));
    for i in 0..3 {
        let (wa, wb) = scan(lane(&a, i, 0), lane(&b, i, 0));
        assert_close(
            "vmap a",
            &lane(&ga, i, 0).to_f64_vec(),
            &wa.to_f64_vec(),
            1e-6,
            1e-6,
        );
        assert_close(
            "vmap b",
            &lane(&gb, i, 0).to_f64_vec(),
            &wb.to_f64_vec(),
            1e-6,
            1e-6,
        );
    }
    count();
    let a1 = random_array(&mut rng, DType::F32, &[2, 4, 7], -1.0, 1.0);
    let b0 = random_array(&mut rng, DType::F32, &[2, 7], -1.0, 1.0);
    let (ga, gb) = vmap_with(|(a, b): (Array, Array)| scan(a, b), axes![1, None], 0, None)((
        a1.clone(),
        b0.clone(),
    ));
    for i in 0..4 {
        let ai = lane(&a1, i, 1);
        let (wa, wb) = scan(ai, b0.clone());
        assert_close(
            "vmap a",
            &lane(&ga, i, 0).to_f64_vec(),
            &wa.to_f64_vec(),
            1e-6,
            1e-6,
        );
        assert_close(
            "vmap b",
            &lane(&gb, i, 0).to_f64_vec(),
            &wb.to_f64_vec(),
            1e-6,
            1e-6,
        );
    }
    count();
}

#[test]
fn associative_scan_errors_name_the_caller() {
    let x = jnp::array(&[1.0f32, 2.0]);
    let line = line!();
    let m = expect_panic(
        || {
            drop(lax::associative_scan(
                |a: Array, b: Array| a + b,
                x.clone(),
                false,
                1,
            ))
        },
        &["associative_scan", "axis 1"],
    );
    assert_at(&m, line);
    let y = jnp::array(&[1.0f32, 2.0, 3.0]);
    let line = line!();
    let m = expect_panic(
        || {
            drop(lax::associative_scan(
                linrec,
                (x.clone(), y.clone()),
                false,
                0,
            ))
        },
        &["associative_scan", "same length"],
    );
    assert_at(&m, line);
    let line = line!();
    let m = expect_panic(
        || {
            drop(lax::associative_scan(
                |a: Array, _b: Array| a.sum(None),
                x.clone(),
                false,
                0,
            ))
        },
        &["associative_scan", "combine function"],
    );
    assert_at(&m, line);
    count();
}

// ---- unroll ------------------------------------------------------------------------------

fn rnn_scan(
    unroll: usize,
    reverse: bool,
) -> impl Fn((Array, Array, Array)) -> (Array, Array) + Clone {
    move |(w, h0, xs): (Array, Array, Array)| {
        let opts = lax::ScanOptions {
            unroll,
            reverse,
            ..Default::default()
        };
        lax::scan_with(
            |h: Array, x: Array| {
                let h = (w.matmul(&h) + x).tanh();
                (h.clone(), h.sum(None))
            },
            h0,
            xs,
            opts,
        )
    }
}

#[test]
fn scan_unroll_keeps_results_and_repeats_the_body() {
    let mut rng = Rng::new(3);
    let w = random_array(&mut rng, DType::F32, &[3, 3], -0.8, 0.8);
    let h0 = random_array(&mut rng, DType::F32, &[3], -1.0, 1.0);
    let xs = random_array(&mut rng, DType::F32, &[7, 3], -1.0, 1.0);
    let args = (w, h0, xs);
    for reverse in [false, true] {
        let (h1, y1) = jit(rnn_scan(1, reverse))(args.clone());
        for unroll in [2, 3, 7, 10] {
            let (h, y) = jit(rnn_scan(unroll, reverse))(args.clone());
            assert_eq!(h.to_vec::<f32>(), h1.to_vec::<f32>(), "unroll {unroll}");
            assert_eq!(y.to_vec::<f32>(), y1.to_vec::<f32>(), "unroll {unroll}");
            // Gradients go through scans that keep the unroll factor.
            let g = |u: usize| {
                grad(move |a: (Array, Array, Array)| rnn_scan(u, reverse)(a).1.sum(None))(
                    args.clone(),
                )
            };
            let (g1, gu) = (g(1), g(unroll));
            assert_close("grad w", &gu.0.to_f64_vec(), &g1.0.to_f64_vec(), 1e-6, 1e-6);
            assert_close(
                "grad h0",
                &gu.1.to_f64_vec(),
                &g1.1.to_f64_vec(),
                1e-6,
                1e-6,
            );
            count();
        }
    }
    // length 7: unroll 3 gives two trips of three bodies plus one remainder iteration.
    let tanhs = |u: usize| {
        jaxon::lower(rnn_scan(u, false), args.clone())
            .hlo_text()
            .matches("tanh")
            .count()
    };
    assert_eq!(tanhs(1), 1);
    assert_eq!(tanhs(3), 4);
    assert_eq!(tanhs(7), 7);
    let text = jaxon::lower(rnn_scan(3, false), args.clone()).hlo_text();
    assert_eq!(
        text.matches("while").count(),
        jaxon::lower(rnn_scan(1, false), args.clone())
            .hlo_text()
            .matches("while")
            .count()
    );
    count();
    // The location is the scan_with call inside rnn_scan.
    let m = expect_panic(
        || drop(rnn_scan(0, false)(args.clone())),
        &["scan", "unroll", file!()],
    );
    assert!(m.contains("at least 1"), "{m}");
}

// ---- collectives in control-flow bodies under a named vmap --------------------------------

#[test]
fn psum_inside_scan_inside_named_vmap() {
    let mut rng = Rng::new(9);
    let xs = random_array(&mut rng, DType::F32, &[4, 5], -1.0, 1.0); // 4 lanes, 5 steps
                                                                     // Each step adds the lane's x minus the mean over lanes of the current carry.
    let f = |xs: Array| {
        lax::scan(
            |c: Array, x: Array| {
                let c = &c + &x - lax::pmean(&c, "i") * 0.5;
                (c.clone(), lax::psum(&(&c * &c), "i"))
            },
            jnp::array(0.0f32),
            xs,
        )
    };
    let (c, ys) = vmap_with(f, 0, 0, Some("i"))(xs.clone());
    // Reference: the lanes stepped together in a Rust loop.
    let x = xs.to_f64_vec();
    let mut cs = vec![0.0f64; 4];
    let mut want_ys = vec![0.0f64; 20];
    for t in 0..5 {
        let mean = cs.iter().sum::<f64>() / 4.0;
        for (l, c) in cs.iter_mut().enumerate() {
            *c = *c + x[l * 5 + t] - mean * 0.5;
        }
        let s: f64 = cs.iter().map(|c| c * c).sum();
        for l in 0..4 {
            want_ys[l * 5 + t] = s;
        }
    }
    assert_close("carry", &c.to_f64_vec(), &cs, 1e-5, 1e-5);
    assert_close("ys", &ys.to_f64_vec(), &want_ys, 1e-5, 1e-5);
    // Under jit too.
    let (cj, _) = jit(vmap_with(f, 0, 0, Some("i")))(xs.clone());
    assert_close("jit carry", &cj.to_f64_vec(), &cs, 1e-5, 1e-5);
    count();
    // Per-lane gradients through the scan (psum transposes to psum, like JAX): lane
    // l gets the gradient of the sum over all lanes' losses w.r.t. its own xs.
    let per_lane = vmap_with(grad(move |xs: Array| f(xs).1.sum(None)), 0, 0, Some("i"))(xs.clone());
    let total = grad(|xs: Array| {
        let (_, ys) = lax::scan(
            |c: Array, x: Array| {
                let c = &c + &x - c.mean(None) * 0.5;
                (c.clone(), (&c * &c).sum(None))
            },
            jnp::zeros(&[4], DType::F32),
            jnp::transpose(xs, None),
        );
        ys.sum(None) * 4.0
    })(xs.clone());
    assert_close(
        "per-lane grads",
        &per_lane.to_f64_vec(),
        &total.to_f64_vec(),
        1e-5,
        1e-5,
    );
    count();
}

#[test]
fn collectives_inside_cond_and_while_under_named_vmap() {
    let x = jnp::array(&[1.0f32, -2.0, 3.0, 0.5]);
    // cond with a batched predicate; both branches use the axis.
    let g = vmap_with(
        |x: Array| {
            lax::cond(
                &x.gt(0.0),
                |x: Array| &x / lax::psum(&x, "i"),
                |x: Array| lax::pmax(&x, "i") - &x,
                x,
            )
        },
        0,
        0,
        Some("i"),
    );
    let got = g(x.clone()).to_f64_vec();
    let v = x.to_f64_vec();
    let (s, m) = (
        v.iter().sum::<f64>(),
        v.iter().cloned().fold(f64::MIN, f64::max),
    );
    let want: Vec<f64> = v
        .iter()
        .map(|&a| if a > 0.0 { a / s } else { m - a })
        .collect();
    assert_close("cond", &got, &want, 1e-6, 1e-6);
    count();
    // A while loop whose lanes stop at different times; the body doubles each lane
    // and adds the lane count (psum of an unbatched 1).
    let h = vmap_with(
        |x: Array| {
            lax::while_loop(
                |c: &Array| c.lt(20.0),
                |c: Array| &c * 2.0 + lax::psum(&jnp::array(1.0f32), "i"),
                x,
            )
        },
        0,
        0,
        Some("i"),
    );
    let got = h(x.clone()).to_f64_vec();
    let want: Vec<f64> = v
        .iter()
        .map(|&a| {
            let mut c = a;
            while c < 20.0 {
                c = c * 2.0 + 4.0;
            }
            c
        })
        .collect();
    assert_close("while", &got, &want, 1e-6, 1e-6);
    count();
    // A scan whose operands are all unbatched still sees the named axis: the carry
    // becomes (4 c) / 2 each step.
    let k = vmap_with(
        |x: Array| {
            let opts = lax::ScanOptions {
                length: Some(3),
                ..Default::default()
            };
            let (c, _) = lax::scan_with(
                |c: Array, _: ()| (lax::psum(&c, "i") * 0.5, ()),
                jnp::array(1.0f32),
                (),
                opts,
            );
            c + x
        },
        0,
        0,
        Some("i"),
    );
    let got = k(x.clone()).to_f64_vec();
    let want: Vec<f64> = v.iter().map(|a| a + 8.0).collect();
    assert_close("unbatched scan", &got, &want, 1e-6, 1e-6);
    count();
    eprintln!(
        "control_more: {} checks so far",
        CASES.load(Ordering::Relaxed)
    );
}
