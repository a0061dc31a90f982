//! Reproducibility and statistics of jaxon::random: the same key gives the same numbers
//! eagerly, under jit and under vmap over keys (both threefry layouts); split and fold_in
//! keys look independent; samplers' moments match theory within bounds from the sample
//! size; bad input panics with the operation and the caller's line.

mod support;

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::random;
use support::expect_panic;

/// Every sampler, on one key, flattened to f64 (for comparing runs).
fn draws(key: &Array) -> Vec<Array> {
    let (k1, k2) = random::split2(key);
    let logits = jnp::array(&[0.0f32, 1.0, 2.0]);
    vec![
        random::split(key, 3),
        random::fold_in(key, 7),
        random::bits(key, &[5], DType::U32),
        random::bits(key, &[3], DType::U64),
        random::bits(&k1, &[7], DType::U8),
        random::uniform(key, &[4], DType::F32, -2.0, 3.0),
        random::uniform(&k2, &[3], DType::BF16, 0.0, 1.0),
        random::normal(&k2, &[4], DType::F32),
        random::randint(key, &[6], 0, 10, DType::I32),
        random::bernoulli(key, 0.3, &[6]),
        random::permutation(&k1, 8, 0, false),
        random::categorical(&k2, &logits, -1, Some(&[5]), true),
        random::gumbel(key, &[3], DType::F32),
        random::exponential(key, &[3], DType::F32),
        random::laplace(key, &[3], DType::F32),
        random::logistic(key, &[3], DType::F32),
        random::truncated_normal(key, -1.0, 2.0, &[3], DType::F32),
        random::choice(key, 6, &[3], false, None, 0),
        random::rademacher(key, &[4], DType::I32),
    ]
}

fn same(a: &[Array], b: &[Array], what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.dtype(), y.dtype(), "{what} draw {i}");
        assert_eq!(x.shape(), y.shape(), "{what} draw {i}");
        assert_eq!(x.to_f64_vec(), y.to_f64_vec(), "{what} draw {i}");
    }
}

#[test]
fn eager_equals_jit_and_vmap() {
    let mut checks = 0;
    for part in [true, false] {
        let _g = random::PartitionableGuard::new(part);
        let key = random::key(42);
        let eager = draws(&key);
        // Same key twice: same numbers.
        same(&eager, &draws(&key), "repeat");
        let jitted = jit(|k: Array| draws(&k));
        same(&eager, &jitted(key.clone()), "jit");
        // vmap over a batch of keys == a loop over the keys.
        let keys = random::split(&key, 3);
        let batched = vmap(|k: Array| draws(&k), 0)(keys.clone());
        for b in 0..3 {
            let kb = keys.i(b);
            let row: Vec<Array> = batched.iter().map(|x| x.i(b)).collect();
            same(&draws(&kb), &row, "vmap");
        }
        // jit of vmap, too.
        let jv = jit(vmap(|k: Array| random::normal(&k, &[4], DType::F32), 0));
        let direct = vmap(|k: Array| random::normal(&k, &[4], DType::F32), 0)(keys.clone());
        assert_eq!(jv(keys).to_f64_vec(), direct.to_f64_vec());
        checks += eager.len() * 5;
    }
    eprintln!("random reproducibility: {checks} (draw x mode) checks");
}

#[test]
fn vmap_over_seeds_and_fold_in_data() {
    // key_from_seed and fold_in take traced data.
    let seeds = Array::from_vec(&[3], vec![0i64, 42, (1 << 32) + 7]);
    let keys = vmap(|s: Array| random::key_from_seed(&s), 0)(seeds);
    for (i, s) in [0u64, 42, (1 << 32) + 7].into_iter().enumerate() {
        assert_eq!(keys.i(i).to_vec::<u32>(), random::key(s).to_vec::<u32>());
    }
    let key = random::key(5);
    let idx = Array::from_vec(&[4], vec![0u32, 1, 2, 3]);
    let folded = vmap(|i: Array| random::fold_in(&key, &i), 0)(idx);
    // Partitionable split(key, n)[i] == fold_in(key, i).
    assert_eq!(
        folded.to_vec::<u32>(),
        random::split(&key, 4).to_vec::<u32>()
    );
}

#[test]
fn grad_through_samplers() {
    // Reparameterised samples: d/dx sum(normal(key) * x) = normal(key).
    let key = random::key(3);
    let n = random::normal(&key, &[4], DType::F32);
    let g = grad(|x: Array| (random::normal(&key, &[4], DType::F32) * &x).sum(None))(jnp::ones(
        &[4],
        DType::F32,
    ));
    assert_eq!(g.to_f64_vec(), n.to_f64_vec());
}

/// Mean and variance of a sample, and the standard errors of both (the variance's from
/// the fourth central moment).
fn moments(v: &[f64]) -> (f64, f64, f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
    let m4 = v.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n;
    (m, var, (var / n).sqrt(), ((m4 - var * var) / n).sqrt())
}

/// Mean and variance within `z` standard errors of theory.
fn check_moments(name: &str, v: &[f64], mean: f64, var: f64, z: f64) {
    let (m, s2, se_m, se_v) = moments(v);
    eprintln!(
        "{name}: mean {m:.4} (want {mean:.4} ± {:.4}), var {s2:.4} (want {var:.4} ± {:.4})",
        z * se_m,
        z * se_v
    );
    assert!((m - mean).abs() <= z * se_m, "{name}: mean {m} vs {mean}");
    assert!((s2 - var).abs() <= z * se_v, "{name}: var {s2} vs {var}");
}

#[test]
fn sampler_moments() {
    const N: usize = 4096;
    let key = random::key(2024);
    let ks = random::split(&key, 12);
    let k = |i: usize| ks.i(i);
    let f = |a: Array| a.to_f64_vec();
    let pi2 = std::f64::consts::PI.powi(2);
    let sample = jit(move |k: Array| {
        let ks = random::split(&k, 12);
        let k = |i: usize| ks.i(i);
        vec![
            random::uniform(&k(0), &[N], DType::F32, -1.0, 3.0),
            random::normal(&k(1), &[N], DType::F32),
            random::exponential(&k(2), &[N], DType::F32),
            random::gumbel(&k(3), &[N], DType::F32),
            random::laplace(&k(4), &[N], DType::F32),
            random::logistic(&k(5), &[N], DType::F32),
            random::randint(&k(6), &[N], -3, 7, DType::I32).astype(DType::F32),
            random::bernoulli(&k(7), 0.3, &[N]).astype(DType::F32),
            random::rademacher(&k(8), &[N], DType::F32),
            random::truncated_normal(&k(9), -1.0, 2.0, &[N], DType::F32),
            random::normal(&k(10), &[N], DType::F64),
        ]
    });
    let s = sample(key.clone());
    let z = 5.0;
    check_moments("uniform[-1,3)", &f(s[0].clone()), 1.0, 16.0 / 12.0, z);
    check_moments("normal", &f(s[1].clone()), 0.0, 1.0, z);
    check_moments("exponential", &f(s[2].clone()), 1.0, 1.0, z);
    check_moments("gumbel", &f(s[3].clone()), 0.5772156649, pi2 / 6.0, z);
    check_moments("laplace", &f(s[4].clone()), 0.0, 2.0, z);
    check_moments("logistic", &f(s[5].clone()), 0.0, pi2 / 3.0, z);
    check_moments("randint[-3,7)", &f(s[6].clone()), 1.5, 99.0 / 12.0, z);
    check_moments("bernoulli(0.3)", &f(s[7].clone()), 0.3, 0.21, z);
    check_moments("rademacher", &f(s[8].clone()), 0.0, 1.0, z);
    // Standard normal truncated to (a, b).
    let (a, b) = (-1.0f64, 2.0f64);
    let phi = |x: f64| (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let cdf = |x: f64| 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
    let zz = cdf(b) - cdf(a);
    let tm = (phi(a) - phi(b)) / zz;
    let tv = 1.0 + (a * phi(a) - b * phi(b)) / zz - tm * tm;
    let tn = f(s[9].clone());
    assert!(
        tn.iter().all(|&x| x > a && x < b),
        "truncated_normal outside (a, b)"
    );
    check_moments("truncated_normal(-1,2)", &tn, tm, tv, z);
    check_moments("normal f64", &f(s[10].clone()), 0.0, 1.0, z);

    // categorical frequencies vs softmax(logits), each within z binomial sd.
    let logits = [0.0f32, 1.0, 2.0, -1.0];
    let c = random::categorical(&k(11), jnp::array(&logits), -1, Some(&[N]), true);
    let e: Vec<f64> = logits.iter().map(|&l| (l as f64).exp()).collect();
    let tot: f64 = e.iter().sum();
    let cv = c.to_f64_vec();
    for (j, ej) in e.iter().enumerate() {
        let p = ej / tot;
        let freq = cv.iter().filter(|&&x| x as usize == j).count() as f64 / N as f64;
        let sd = (p * (1.0 - p) / N as f64).sqrt();
        assert!(
            (freq - p).abs() <= z * sd,
            "categorical class {j}: {freq} vs {p}"
        );
    }
    // Permutations and choice without replacement never repeat.
    let mut p = random::permutation(&k(11), 50, 0, false).to_vec::<i32>();
    p.sort();
    assert_eq!(p, (0..50).collect::<Vec<i32>>());
    let mut ch = random::choice(&k(10), 20, &[20], false, None, 0).to_vec::<i32>();
    ch.sort();
    assert_eq!(ch, (0..20).collect::<Vec<i32>>());
}

/// Row means and pairwise correlations of uniforms drawn from `keys` ([K, 2]).
fn check_independent(name: &str, keys: Array) {
    const M: usize = 256;
    let u = jit(vmap(
        |k: Array| random::uniform(&k, &[M], DType::F32, 0.0, 1.0),
        0,
    ))(keys);
    let rows: Vec<Vec<f64>> = (0..u.shape()[0]).map(|i| u.i(i).to_f64_vec()).collect();
    let z = 5.5;
    let sd_mean = (1.0 / 12.0 / M as f64).sqrt();
    let mut worst_corr: f64 = 0.0;
    for (i, r) in rows.iter().enumerate() {
        let (m, v, _, _) = moments(r);
        assert!((m - 0.5).abs() <= z * sd_mean, "{name}: row {i} mean {m}");
        // Var of a uniform sample variance: (1/80 - 1/144) / M.
        assert!((v - 1.0 / 12.0).abs() <= z * ((1.0 / 80.0 - 1.0 / 144.0) / M as f64).sqrt());
    }
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let (mi, vi, _, _) = moments(&rows[i]);
            let (mj, vj, _, _) = moments(&rows[j]);
            let cov = rows[i]
                .iter()
                .zip(&rows[j])
                .map(|(a, b)| (a - mi) * (b - mj))
                .sum::<f64>()
                / M as f64;
            let corr = cov / (vi * vj).sqrt();
            worst_corr = worst_corr.max(corr.abs());
            // Under independence corr ~ N(0, 1/M).
            assert!(
                corr.abs() <= z / (M as f64).sqrt(),
                "{name}: corr({i},{j}) = {corr}"
            );
        }
    }
    eprintln!(
        "{name}: {} streams, max |corr| {worst_corr:.3} (bound {:.3})",
        rows.len(),
        z / (M as f64).sqrt()
    );
}

#[test]
fn split_and_fold_in_independence() {
    let key = random::key(7);
    check_independent("split", random::split(&key, 48));
    let idx = Array::from_vec(&[48], (0..48u32).collect::<Vec<_>>());
    check_independent(
        "fold_in",
        vmap(|i: Array| random::fold_in(&key, &i), 0)(idx),
    );
    let _g = random::PartitionableGuard::new(false);
    check_independent("split (original layout)", random::split(&key, 48));
}

#[test]
fn errors_name_the_operation_and_line() {
    let bad = jnp::zeros(&[3], DType::U32);
    let l = line!() + 1;
    let f = || random::split(&bad, 2);
    expect_panic(|| drop(f()), &["random.split", file!(), &l.to_string()]);
    let l = line!() + 1;
    let f = || random::bits(&random::key(0), &[2], DType::I32);
    expect_panic(
        || drop(f()),
        &["random.bits", "unsigned", file!(), &l.to_string()],
    );
    let l = line!() + 1;
    let f = || random::uniform(&random::key(0), &[2], DType::I32, 0.0, 1.0);
    expect_panic(
        || drop(f()),
        &["random.uniform", "float", file!(), &l.to_string()],
    );
    let l = line!() + 1;
    let f = || random::fold_in(&random::key(0), -1);
    expect_panic(
        || drop(f()),
        &["random.fold_in", "uint32", file!(), &l.to_string()],
    );
    let l = line!() + 1;
    let f = || random::choice(&random::key(0), 3, &[5], false, None, 0);
    expect_panic(
        || drop(f()),
        &["random.choice", "larger sample", file!(), &l.to_string()],
    );
    let (k0, z3) = (random::key(0), jnp::zeros(&[3], DType::F32));
    let l = line!() + 1;
    let f = || random::uniform(&k0, &[2], DType::F32, &z3, 1.0);
    expect_panic(
        || drop(f()),
        &["random.uniform", "minval", file!(), &l.to_string()],
    );
    let l = line!() + 1;
    let f = || random::randint(&random::key(0), &[2], 0, 5, DType::F32);
    expect_panic(
        || drop(f()),
        &["random.randint", "integer", file!(), &l.to_string()],
    );
}

#[test]
fn the_threefry_layout_is_part_of_the_jit_cache_key() {
    let f = jaxon::jit(|k: jaxon::Array| jaxon::random::bits(&k, &[4], jaxon::DType::U32));
    let key = jaxon::random::key(3);
    let new = f(key.clone()).to_vec::<u32>();
    let old = {
        let _g = jaxon::random::PartitionableGuard::new(false);
        f(key.clone()).to_vec::<u32>()
    };
    assert_ne!(new, old);
    let eager_old = {
        let _g = jaxon::random::PartitionableGuard::new(false);
        jaxon::random::bits(&key, &[4], jaxon::DType::U32).to_vec::<u32>()
    };
    assert_eq!(old, eager_old);
    assert_eq!(f(key).to_vec::<u32>(), new);
}
