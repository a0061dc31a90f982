//! Criterion benches of the workloads that `bench/compare` runs against JAX:
//! `cargo bench -p jaxon --bench workloads [-- FILTER]`. Full sizes by default;
//! `JAXON_BENCH_QUICK=1` picks the quick sizes (as `bench/compare --quick`).

#[path = "shared/workloads.rs"]
mod workloads;

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let quick = std::env::var("JAXON_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let sizes = workloads::sizes(quick);
    let mut group = c.benchmark_group("workloads");
    for name in workloads::names(&sizes) {
        // Built inside the closure so that a criterion filter skips the data set-up.
        group.bench_function(&name, |b| {
            let mut w = workloads::build(&name, &sizes);
            b.iter(|| (w.run)())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
