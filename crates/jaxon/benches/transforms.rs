//! Tracing and dispatch costs: `cargo bench -p jaxon --bench transforms`.

use criterion::{criterion_group, criterion_main, Criterion};
use jaxon::numpy as jnp;
use jaxon::prelude::*;

/// A function of 1000 primitive applications (alternating sin and mul).
fn thousand_eqns(x: Array) -> Array {
    let mut y = x;
    for i in 0..500 {
        y = y.sin() * (1.0 + i as f64 * 1e-3);
    }
    y
}

fn bench(c: &mut Criterion) {
    let x = jnp::ones(&[16], DType::F32);
    let jaxpr = make_jaxpr(thousand_eqns)(x.clone());
    assert_eq!(jaxpr.jaxpr.eqns.len(), 1000);
    c.bench_function("trace 1000-equation function to a jaxpr", |b| {
        b.iter(|| make_jaxpr(thousand_eqns)(x.clone()))
    });
    let one = jnp::array(&[1.0f32]);
    let f = jit(|x: Array| x + 1.0);
    let _ = f(one.clone());
    c.bench_function("jit(x + 1) cache hit, one element", |b| {
        b.iter(|| f(one.clone()))
    });
    c.bench_function("eager sin, one element", |b| b.iter(|| one.sin()));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
