//! Test helpers like `jax.test_util`: [`check_grads`] compares forward- and
//! reverse-mode derivatives with central finite differences, at any order.

use crate::array::Array;
use crate::transform::{ad, jvp};
use oxla::{DType, Literal};

/// Which derivative modes [`check_grads`] checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modes {
    Fwd,
    Rev,
    Both,
}

/// A deterministic stream of normal-ish values for random tangents/cotangents.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // Sum of uniforms: cheap, bounded, roughly normal.
        let u = |s: u64, k: u32| ((s.rotate_left(k) >> 11) as f64) / (1u64 << 53) as f64;
        u(self.0, 0) + u(self.0, 21) + u(self.0, 42) - 1.5
    }

    fn like(&mut self, x: &Array) -> Array {
        let vals: Vec<f64> = (0..x.size()).map(|_| self.next()).collect();
        Array::from_literal(Literal::from_vec(x.shape(), vals).convert(x.dtype()), false)
    }
}

/// Default (atol, rtol) of the comparisons for a dtype.
fn default_tol(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-5,
        DType::F32 => 2e-2,
        _ => 1e-1,
    }
}

fn axpy(a: f64, x: &Array, y: &Array) -> Array {
    let xs = x.to_f64_vec();
    let ys = y.to_f64_vec();
    let v: Vec<f64> = xs.iter().zip(&ys).map(|(x, y)| a * x + y).collect();
    Array::from_literal(Literal::from_vec(x.shape(), v).convert(x.dtype()), false)
}

fn scale(a: f64, x: &Array) -> Array {
    let v: Vec<f64> = x.to_f64_vec().iter().map(|x| a * x).collect();
    Array::from_literal(Literal::from_vec(x.shape(), v).convert(x.dtype()), false)
}

fn inner(a: &[Array], b: &[Array]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            x.to_f64_vec()
                .iter()
                .zip(y.to_f64_vec())
                .map(|(p, q)| p * q)
                .sum::<f64>()
        })
        .sum()
}

#[track_caller]
fn assert_close(what: &str, got: &[Array], want: &[Array], tol: f64) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.shape(), w.shape(), "{what}: output {i} shape");
        for (k, (a, b)) in g.to_f64_vec().iter().zip(w.to_f64_vec()).enumerate() {
            let ok = (a - b).abs() <= tol * (1.0 + b.abs()) || (a.is_nan() && b.is_nan());
            assert!(
                ok,
                "{what}: output {i} element {k}: {a} vs {b} (tolerance {tol})"
            );
        }
    }
}

/// The tolerance used for `args` (the loosest dtype wins).
fn tol_for(args: &[Array], tol: Option<f64>) -> f64 {
    tol.unwrap_or_else(|| {
        args.iter()
            .map(|a| default_tol(a.dtype()))
            .fold(0.0, f64::max)
    })
}

/// Checks the JVP of `f` at `args` against central differences along a random
/// tangent.
#[track_caller]
pub fn check_jvp(f: &dyn Fn(&[Array]) -> Vec<Array>, args: &[Array], eps: f64, tol: Option<f64>) {
    let mut s = Stream(0x1234_5678_9ABC_DEF1);
    let tangents: Vec<Array> = args.iter().map(|a| s.like(a)).collect();
    let (_, t_out) = jvp::jvp_flat(|x| f(x), args, &tangents);
    let plus: Vec<Array> = args
        .iter()
        .zip(&tangents)
        .map(|(a, t)| axpy(eps, t, a))
        .collect();
    let minus: Vec<Array> = args
        .iter()
        .zip(&tangents)
        .map(|(a, t)| axpy(-eps, t, a))
        .collect();
    let (fp, fm) = (f(&plus), f(&minus));
    let numeric: Vec<Array> = fp
        .iter()
        .zip(&fm)
        .map(|(p, m)| scale(1.0 / (2.0 * eps), &axpy(-1.0, m, p)))
        .collect();
    assert_close(
        "jvp vs finite differences",
        &t_out,
        &numeric,
        tol_for(args, tol),
    );
}

/// Checks the VJP of `f` against its JVP: <vjp(ct), t> == <ct, jvp(t)>.
#[track_caller]
pub fn check_vjp(f: &dyn Fn(&[Array]) -> Vec<Array>, args: &[Array], eps: f64, tol: Option<f64>) {
    let mut s = Stream(0x0FED_CBA9_8765_4321);
    let (outs, lin) = ad::vjp_flat(|x| f(x), args);
    let cts: Vec<Array> = outs.iter().map(|o| s.like(o)).collect();
    let x_cts = lin.transpose(&cts);
    let tangents: Vec<Array> = args.iter().map(|a| s.like(a)).collect();
    // The JVP direction from finite differences keeps the check independent of jvp.
    let plus: Vec<Array> = args
        .iter()
        .zip(&tangents)
        .map(|(a, t)| axpy(eps, t, a))
        .collect();
    let minus: Vec<Array> = args
        .iter()
        .zip(&tangents)
        .map(|(a, t)| axpy(-eps, t, a))
        .collect();
    let (fp, fm) = (f(&plus), f(&minus));
    let lhs = inner(&x_cts, &tangents);
    let rhs = inner(&cts, &fp) / (2.0 * eps) - inner(&cts, &fm) / (2.0 * eps);
    let t = tol_for(args, tol);
    assert!(
        (lhs - rhs).abs() <= t * (1.0 + rhs.abs()),
        "vjp vs finite differences: <vjp(ct), t> = {lhs} but <ct, df·t> = {rhs} (tolerance {t})"
    );
}

/// Checks derivatives of `f` up to `order` in the given modes (JAX's
/// `jax.test_util.check_grads`). Arguments should be f64 for tight checks.
///
/// ```
/// use jaxon::numpy as jnp;
/// use jaxon::test_util::{check_grads, Modes};
/// let x = jnp::array(&[0.3f64, -1.2]);
/// check_grads(&|a| vec![a[0].sin() * &a[0]], &[x], 2, Modes::Both, None, None);
/// ```
#[track_caller]
pub fn check_grads(
    f: &dyn Fn(&[Array]) -> Vec<Array>,
    args: &[Array],
    order: usize,
    modes: Modes,
    tol: Option<f64>,
    eps: Option<f64>,
) {
    let eps = eps.unwrap_or_else(|| {
        if args.iter().all(|a| a.dtype() == DType::F64) {
            1e-5
        } else {
            1e-2
        }
    });
    if matches!(modes, Modes::Fwd | Modes::Both) {
        check_jvp(f, args, eps, tol);
    }
    if matches!(modes, Modes::Rev | Modes::Both) {
        check_vjp(f, args, eps, tol);
    }
    if order > 1 {
        let mut s = Stream(0x5555_AAAA_3333_CCCC);
        if matches!(modes, Modes::Fwd | Modes::Both) {
            let tangents: Vec<Array> = args.iter().map(|a| s.like(a)).collect();
            let f_jvp = move |x: &[Array]| jvp::jvp_flat(|y| f(y), x, &tangents).1;
            check_grads(&f_jvp, args, order - 1, Modes::Fwd, tol, Some(eps));
        }
        if matches!(modes, Modes::Rev | Modes::Both) {
            let outs = f(args);
            let cts: Vec<Array> = outs.iter().map(|o| s.like(o)).collect();
            let f_vjp = move |x: &[Array]| ad::vjp_flat(|y| f(y), x).1.transpose(&cts);
            check_grads(&f_vjp, args, order - 1, Modes::Rev, tol, Some(eps));
        }
    }
}
