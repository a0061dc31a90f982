//! Checks shared by the dot/conv/window rule tests: gradients against finite
//! differences (orders 1 and 2), vmap against a loop over the batch, and jit against
//! eager, each counted per primitive so the tests can report case counts.
#![allow(dead_code)]

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::test_util::{check_grads, Modes};
use jaxon::transform::{ad, batching, jit::JitCache};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A function of flat array arguments.
pub type Fun<'a> = &'a dyn Fn(&[Array]) -> Vec<Array>;

/// (primitive, check) -> number of cases run.
pub struct Counter(Mutex<BTreeMap<(String, &'static str), usize>>);

impl Counter {
    pub fn new() -> Counter {
        Counter(Mutex::new(BTreeMap::new()))
    }

    fn bump(&self, prim: &str, check: &'static str) {
        *self
            .0
            .lock()
            .unwrap()
            .entry((prim.to_string(), check))
            .or_default() += 1;
    }

    /// Prints the counts and returns their total.
    pub fn report(&self, what: &str) -> usize {
        let m = self.0.lock().unwrap();
        let total: usize = m.values().sum();
        for ((p, c), n) in m.iter() {
            eprintln!("{what}: {p} x {c}: {n} cases");
        }
        eprintln!("{what}: {total} (primitive x check) cases in all");
        total
    }
}

/// jvp and vjp against central differences at orders 1 and 2.
pub fn grads(c: &Counter, prim: &str, f: Fun, args: &[Array]) {
    check_grads(f, args, 2, Modes::Both, None, None);
    c.bump(prim, "grad order 1-2 (fwd+rev)");
}

/// Element `i` of `x` along `axis`.
fn take(x: &Array, axis: usize, i: usize) -> Array {
    let mut start = vec![0; x.ndim()];
    let mut limit = x.shape().to_vec();
    start[axis] = i;
    limit[axis] = i + 1;
    jaxon::lax::squeeze(&jaxon::lax::slice(x, &start, &limit, None), &[axis])
}

/// vmap(f) over `in_axes` equals stacking f over the examples.
pub fn vmap(c: &Counter, prim: &str, f: Fun, args: &[Array], in_axes: &[Option<usize>]) {
    let axes: Vec<Option<i64>> = in_axes.iter().map(|a| a.map(|a| a as i64)).collect();
    let got = batching::vmap_flat(f, args, &axes, &[Some(0)], None);
    let n = args
        .iter()
        .zip(in_axes)
        .find_map(|(a, ax)| ax.map(|ax| a.shape()[ax]))
        .expect("a batched argument");
    let per: Vec<Vec<Array>> = (0..n)
        .map(|i| {
            let ex: Vec<Array> = args
                .iter()
                .zip(in_axes)
                .map(|(a, ax)| ax.map_or_else(|| a.clone(), |ax| take(a, ax, i)))
                .collect();
            f(&ex)
        })
        .collect();
    for (j, g) in got.iter().enumerate() {
        let outs: Vec<Array> = per.iter().map(|o| o[j].clone()).collect();
        let want = jnp::stack(&outs, 0);
        assert_eq!(
            g.shape(),
            want.shape(),
            "{prim}: vmap {in_axes:?} output {j} shape"
        );
        super::support::assert_close(
            &format!("{prim}: vmap {in_axes:?} output {j}"),
            &g.to_f64_vec(),
            &want.to_f64_vec(),
            1e-9,
            1e-9,
        );
    }
    c.bump(prim, "vmap vs loop");
}

/// jit(f) equals f, and jit of f's VJP equals the eager VJP.
pub fn jit(c: &Counter, prim: &str, f: Fun, args: &[Array]) {
    let avals: Vec<_> = args.iter().map(Array::aval).collect();
    let check = |what: &str, got: Vec<Array>, want: Vec<Array>| {
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.shape(), w.shape(), "{prim}: {what} shape");
            super::support::assert_close(
                &format!("{prim}: {what}"),
                &g.to_f64_vec(),
                &w.to_f64_vec(),
                1e-9,
                1e-9,
            );
        }
    };
    let cache = JitCache::<()>::new("rules_test");
    let got = cache.get_or_compile(&(), &avals, f).run(args);
    check("jit vs eager", got, f(args));
    let outs = f(args);
    let cts: Vec<Array> = outs.iter().map(|o| jaxon::lax::cos(o)).collect();
    let vjp = |x: &[Array]| ad::vjp_flat(f, x).1.transpose(&cts);
    let cache = JitCache::<()>::new("rules_test_vjp");
    let got = cache.get_or_compile(&(), &avals, vjp).run(args);
    check("jit(vjp) vs eager vjp", got, vjp(args));
    c.bump(prim, "jit vs eager (f and vjp)");
}
