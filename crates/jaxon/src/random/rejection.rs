//! Samplers built on rejection loops, with JAX's algorithms and key splitting
//! (jax/_src/random/core.py): gamma (Marsaglia–Tsang), loggamma, beta, dirichlet,
//! generalized_normal, ball and poisson (Knuth / Hörmann's transformed rejection).
//! The loops are `lax::while_loop`s, so they run eagerly, under jit and under vmap.

use super::samplers::{fconst, float_layout, fma, normal_impl, tiny, to_shape, uniform_scalar};
use super::{int_const, key_words, split, split2};
use crate::array::Array;
use crate::error::user_error;
use crate::lax;
use crate::numpy::{self as jnp, broadcast_to_shape, try_broadcast_shapes, ArrayLike, Operand};
use oxla::DType;

/// `v` of `like`'s dtype broadcast to `like`'s shape (select needs equal shapes).
fn full_as(like: &Array, v: f64) -> Array {
    broadcast_to_shape(&fconst(v, like.dtype()), like.shape())
}

/// Row `i` of a `[n, 2]` key array.
fn key_row(keys: &Array, i: usize) -> Array {
    lax::reshape(&lax::slice(keys, &[i, 0], &[i + 1, 2], None), &[2])
}

/// Panics naming `op` unless `dtype` is a float dtype.
#[track_caller]
fn check_float(op: &str, dtype: DType) {
    float_layout(op, dtype);
}

/// A parameter as an array of `dtype`, broadcast to `shape` (`None`: its own shape).
#[track_caller]
fn param(op: &str, what: &str, x: Operand, dtype: DType, shape: Option<&[usize]>) -> Array {
    let a = x.materialize(dtype, false);
    let shape = shape.map_or_else(|| a.shape().to_vec(), <[usize]>::to_vec);
    to_shape(op, what, Operand::Array(a), dtype, &shape)
}

// ---- gamma ------------------------------------------------------------------------------

/// One Marsaglia–Tsang draw of Gamma(alpha) (0-d `alpha`, one key), JAX's `_gamma_one`:
/// alpha < 1 is boosted to alpha + 1 and the sample scaled by `U^(1/alpha)`.
fn gamma_one(key: &Array, alpha: &Array, log_space: bool) -> Array {
    let dt = alpha.dtype();
    let c = |v: f64| fconst(v, dt);
    let (zero, one) = (c(0.0), c(1.0));
    let boost_mask = lax::ge(alpha, &one);
    let boosted = lax::select(&boost_mask, alpha, &lax::add(alpha, &one));
    let d = lax::sub(&boosted, &c(1.0 / 3.0));
    let cc = lax::div(&c(1.0 / 3.0), &lax::sqrt(&d));

    // Accept when U < 1 - 0.0331 X^2 or log U < X/2 + d (1 - V + log V); the loop
    // runs while neither holds.
    let cond = |(_, x, v, u): &(Array, Array, Array, Array)| {
        let squeeze = lax::sub(&one, &lax::mul(&c(0.0331), &lax::mul(x, x)));
        let rhs = lax::add(
            &lax::mul(x, &c(0.5)),
            &lax::mul(&d, &lax::add(&lax::sub(&one, v), &lax::log(v))),
        );
        lax::bitwise_and(&lax::ge(u, &squeeze), &lax::ge(&lax::log(u), &rhs))
    };
    let body = |(key, _, _, _): (Array, Array, Array, Array)| {
        let ks = split(&key, 3);
        let (key, x_key, u_key) = (key_row(&ks, 0), key_row(&ks, 1), key_row(&ks, 2));
        // Normal draws until v = 1 + c x is positive.
        let (_, x, v) = lax::while_loop(
            |(_, _, v): &(Array, Array, Array)| lax::le(v, &zero),
            |(k, _, _): (Array, Array, Array)| {
                let (k, sub) = split2(&k);
                let x = normal_impl("gamma", &sub, &[], dt);
                // XLA contracts `1 + x * c` into an FMA.
                let v = fma(&x, &cc, &one);
                (k, x, v)
            },
            (x_key, zero.clone(), c(-1.0)),
        );
        let xx = lax::mul(&x, &x);
        let vvv = lax::mul(&lax::mul(&v, &v), &v);
        let u = uniform_scalar("gamma", &u_key, &[], dt, 0.0, 1.0);
        (key, xx, vvv, u)
    };
    let (key, subkey) = split2(key);
    // The initial state makes the condition true.
    let (_, _, v, _) = lax::while_loop(cond, body, (key, zero.clone(), one.clone(), c(2.0)));
    let inv_alpha = lax::div(&one, alpha);
    if log_space {
        let log_samples = lax::neg(&super::exponential(&subkey, &[], dt));
        let skip = lax::bitwise_or(&boost_mask, &lax::eq(&log_samples, &zero));
        let log_boost = lax::select(&skip, &zero, &lax::mul(&log_samples, &inv_alpha));
        lax::add(&lax::add(&lax::log(&d), &lax::log(&v)), &log_boost)
    } else {
        let samples = lax::sub(&one, &uniform_scalar("gamma", &subkey, &[], dt, 0.0, 1.0));
        let boost = lax::select(&boost_mask, &one, &lax::pow(&samples, &inv_alpha));
        lax::mul(&lax::mul(&d, &v), &boost)
    }
}

/// Gamma(a) samples (or their logs) for `a` already of the output's shape, with JAX's
/// derivative rule: the sample moves with `a` along its quantile (implicit
/// reparameterization, [`lax::random_gamma_grad`]), so `grad` works through the
/// rejection loops, which are never differentiated themselves.
fn gamma_impl(key: &Array, a: &Array, log_space: bool) -> Array {
    let draw = crate::custom_jvp(
        move |(k, a): (Array, Array)| gamma_draw(&k, &a, log_space),
        move |(k, a): (Array, Array), (_, a_dot): (Array, Array)| {
            let out = gamma_draw(&k, &a, log_space);
            let slope = sample_slope(&out, &a, log_space);
            let tangent = lax::mul(&a_dot, &slope);
            (out, tangent)
        },
    );
    draw((key.clone(), a.clone()))
}

/// d(sample)/da of gamma samples `out` (their logs when `log_space`).
fn sample_slope(out: &Array, a: &Array, log_space: bool) -> Array {
    if !log_space {
        return lax::random_gamma_grad(a, out);
    }
    // d log x = dx / x. exp(log x) may round to 0: use the smallest normal instead.
    let x = lax::exp(out);
    let smallest = full_as(&x, tiny(x.dtype()));
    let x = lax::select(&lax::eq(&x, &full_as(&x, 0.0)), &smallest, &x);
    lax::div(&lax::random_gamma_grad(a, &x), &x)
}

/// JAX's `random_gamma` lowering: one key per element (`split(key, size)`), and
/// `_gamma_one` vmapped over (keys, alphas).
fn gamma_draw(key: &Array, a: &Array, log_space: bool) -> Array {
    let shape = a.shape().to_vec();
    let n = a.size();
    if n == 0 {
        return a.clone();
    }
    let keys = split(key, n);
    let alphas = lax::reshape(a, &[n]);
    let draw = crate::vmap(
        move |(k, al): (Array, Array)| gamma_one(&k, &al, log_space),
        0,
    );
    lax::reshape(&draw((keys, alphas)), &shape)
}

#[track_caller]
fn gamma_checked(
    op: &str,
    key: &Array,
    a: Operand,
    shape: Option<&[usize]>,
    dtype: DType,
    log_space: bool,
) -> Array {
    key_words(op, key);
    check_float(op, dtype);
    let a = param(op, "a", a, dtype, shape);
    gamma_impl(key, &a, log_space)
}

/// Gamma(a) samples (unit scale) of `dtype`; `shape` defaults to `a`'s shape and must
/// be what `a` broadcasts to. JAX's Marsaglia–Tsang rejection loop with one key per
/// element, so the numbers match `jax.random.gamma`.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::random;
/// let g = random::gamma(&random::key(0), 2.0, Some(&[4]), DType::F32);
/// assert!(g.to_vec::<f32>().iter().all(|&v| v > 0.0));
/// ```
#[track_caller]
pub fn gamma(key: &Array, a: impl ArrayLike, shape: Option<&[usize]>, dtype: DType) -> Array {
    gamma_checked("gamma", key, a.operand(), shape, dtype, false)
}

/// `log` of Gamma(a) samples, computed in log space (accurate for tiny `a`), like
/// `jax.random.loggamma`: `exp(loggamma(k, a))` ≈ `gamma(k, a)`.
#[track_caller]
pub fn loggamma(key: &Array, a: impl ArrayLike, shape: Option<&[usize]>, dtype: DType) -> Array {
    gamma_checked("loggamma", key, a.operand(), shape, dtype, true)
}

/// Beta(a, b) samples: `Ga / (Ga + Gb)` from two log-gamma draws (keys from
/// `split(key)`), scaled by their max to keep precision, like `jax.random.beta`.
/// `shape` defaults to the broadcast of `a` and `b`.
#[track_caller]
pub fn beta(
    key: &Array,
    a: impl ArrayLike,
    b: impl ArrayLike,
    shape: Option<&[usize]>,
    dtype: DType,
) -> Array {
    key_words("beta", key);
    check_float("beta", dtype);
    let a = a.operand().materialize(dtype, false);
    let b = b.operand().materialize(dtype, false);
    let shape = match shape {
        Some(s) => s.to_vec(),
        None => match try_broadcast_shapes(&[a.shape(), b.shape()]) {
            Some(s) => s,
            None => user_error(format!(
                "random.beta: a {:?} and b {:?} do not broadcast together",
                a.shape(),
                b.shape()
            )),
        },
    };
    let a = to_shape("beta", "a", Operand::Array(a), dtype, &shape);
    let b = to_shape("beta", "b", Operand::Array(b), dtype, &shape);
    let (key_a, key_b) = split2(key);
    let lga = gamma_impl(&key_a, &a, true);
    let lgb = gamma_impl(&key_b, &b, true);
    let log_max = lax::max(&lga, &lgb);
    let ga = lax::exp(&lax::sub(&lga, &log_max));
    let gb = lax::exp(&lax::sub(&lgb, &log_max));
    lax::div(&ga, &lax::add(&ga, &gb))
}

/// Dirichlet(alpha) samples along the last axis: `softmax(loggamma(key, alpha))`, like
/// `jax.random.dirichlet`. `alpha` is `(..., k)`; the result is `shape ++ [k]` with
/// `shape` defaulting to `alpha.shape[:-1]`.
#[track_caller]
pub fn dirichlet(
    key: &Array,
    alpha: impl ArrayLike,
    shape: Option<&[usize]>,
    dtype: DType,
) -> Array {
    key_words("dirichlet", key);
    check_float("dirichlet", dtype);
    let alpha = alpha.operand().materialize(dtype, false);
    if alpha.ndim() < 1 {
        user_error(format!(
            "random.dirichlet: requires alpha.ndim >= 1, got alpha of shape {:?}",
            alpha.shape()
        ));
    }
    let k = alpha.shape()[alpha.ndim() - 1];
    let batch = shape.map_or_else(
        || alpha.shape()[..alpha.ndim() - 1].to_vec(),
        <[usize]>::to_vec,
    );
    let full: Vec<usize> = batch.iter().copied().chain([k]).collect();
    let alpha = to_shape("dirichlet", "alpha", Operand::Array(alpha), dtype, &full);
    let lg = gamma_impl(key, &alpha, true);
    crate::nn::softmax(&lg, -1)
}

/// Samples of the generalized normal distribution (density ∝ `exp(-|x|^p)`):
/// `rademacher * gamma(1/p)^(1/p)`, like `jax.random.generalized_normal`.
#[track_caller]
pub fn generalized_normal(key: &Array, p: f64, shape: &[usize], dtype: DType) -> Array {
    key_words("generalized_normal", key);
    check_float("generalized_normal", dtype);
    generalized_normal_impl(key, p, shape, dtype)
}

/// `1/p` as JAX computes it for a Python scalar `p`: a weak f32 division (f64 when the
/// sample dtype is f64), converted to `dtype`.
fn inv_p(p: f64, dtype: DType) -> Array {
    let cdt = if dtype == DType::F64 {
        DType::F64
    } else {
        DType::F32
    };
    let r = lax::div(&fconst(1.0, cdt), &fconst(p, cdt));
    lax::convert_element_type(&r, dtype)
}

fn generalized_normal_impl(key: &Array, p: f64, shape: &[usize], dtype: DType) -> Array {
    let (k0, k1) = split2(key);
    let ip = inv_p(p, dtype);
    let g = gamma_impl(&k0, &broadcast_to_shape(&ip, shape), false);
    let r = super::rademacher(&k1, shape, dtype);
    lax::mul(&r, &lax::pow(&g, &ip))
}

/// Points uniform in the unit Lp ball of dimension `d`, shape `shape ++ [d]`:
/// `g / (sum |g|^p + e)^(1/p)` with generalized-normal `g` and exponential `e`
/// (Barthe et al.), like `jax.random.ball`.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::random;
/// let x = random::ball(&random::key(1), 3, 2.0, &[5], DType::F32);
/// assert_eq!(x.shape(), &[5, 3]);
/// ```
#[track_caller]
pub fn ball(key: &Array, d: usize, p: f64, shape: &[usize], dtype: DType) -> Array {
    key_words("ball", key);
    check_float("ball", dtype);
    let (k1, k2) = split2(key);
    let full: Vec<usize> = shape.iter().copied().chain([d]).collect();
    let g = generalized_normal_impl(&k1, p, &full, dtype);
    let e = super::exponential(&k2, shape, dtype);
    let pw = lax::pow(&lax::abs(&g), &fconst(p, dtype));
    let s = lax::add(&lax::reduce_sum(&pw, &[shape.len()]), &e);
    let r = lax::pow(&s, &inv_p(p, dtype));
    let dims: Vec<usize> = (0..shape.len()).collect();
    lax::div(&g, &lax::broadcast_in_dim(&r, &full, &dims))
}

// ---- poisson ----------------------------------------------------------------------------

/// `reduce_or` over all axes.
pub(super) fn any(x: &Array) -> Array {
    let axes: Vec<usize> = (0..x.ndim()).collect();
    lax::reduce_or(x, &axes)
}

/// Knuth's method: count uniforms until their product drops below `exp(-lam)`. All
/// elements share one key sequence; the loop runs until every element is done.
fn poisson_knuth(key: &Array, lam: &Array, dtype: DType, max_iters: i32) -> Array {
    let shape = lam.shape().to_vec();
    let neg_lam = lax::neg(lam);
    let one_k = broadcast_to_shape(&int_const(1, dtype), &shape);
    let init = (
        int_const(0, DType::I32),
        broadcast_to_shape(&int_const(0, dtype), &shape),
        key.clone(),
        full_as(lam, 0.0),
    );
    let (_, k, _, _) = lax::while_loop(
        |(i, _, _, log_prod): &(Array, Array, Array, Array)| {
            let live = any(&lax::gt(log_prod, &neg_lam));
            lax::bitwise_and(
                &live,
                &lax::lt(i, &int_const(max_iters as i128, DType::I32)),
            )
        },
        |(i, k, rng, log_prod): (Array, Array, Array, Array)| {
            let (rng, sub) = split2(&rng);
            let k = lax::select(&lax::gt(&log_prod, &neg_lam), &lax::add(&k, &one_k), &k);
            let u = uniform_scalar("poisson", &sub, &shape, DType::F32, 0.0, 1.0);
            let i = lax::add(&i, &int_const(1, DType::I32));
            (i, k, rng, lax::add(&log_prod, &lax::log(&u)))
        },
        init,
    );
    lax::sub(&k, &one_k)
}

/// Hörmann's transformed rejection (PTRS) for large rates.
fn poisson_rejection(key: &Array, lam: &Array, dtype: DType, max_iters: i32) -> Array {
    let shape = lam.shape().to_vec();
    let f = |v: f64| full_as(lam, v);
    let log_lam = lax::log(lam);
    // XLA contracts `c0 + c1 * y` into FMAs.
    let b = fma(&f(2.53), &lax::sqrt(lam), &f(0.931));
    let a = fma(&f(0.02483), &b, &f(-0.059));
    let inv_alpha = lax::add(&f(1.1239), &lax::div(&f(1.1328), &lax::sub(&b, &f(3.4))));
    let v_r = lax::sub(&f(0.9277), &lax::div(&f(3.6224), &lax::sub(&b, &f(2.0))));
    let init = (
        int_const(0, DType::I32),
        f(-1.0),
        jnp::zeros(&shape, DType::Bool),
        key.clone(),
    );
    let (_, k, _, _) = lax::while_loop(
        |(i, _, accepted, _): &(Array, Array, Array, Array)| {
            let pending = any(&lax::not(accepted));
            lax::bitwise_and(
                &pending,
                &lax::lt(i, &int_const(max_iters as i128, DType::I32)),
            )
        },
        |(i, k_out, accepted, key): (Array, Array, Array, Array)| {
            let ks = split(&key, 3);
            let (key, sk0, sk1) = (key_row(&ks, 0), key_row(&ks, 1), key_row(&ks, 2));
            let u = lax::sub(
                &uniform_scalar("poisson", &sk0, &shape, DType::F32, 0.0, 1.0),
                &f(0.5),
            );
            let v = uniform_scalar("poisson", &sk1, &shape, DType::F32, 0.0, 1.0);
            let us = lax::sub(&f(0.5), &lax::abs(&u));
            let t1 = lax::add(&lax::div(&lax::mul(&f(2.0), &a), &us), &b);
            let k = lax::floor(&lax::add(&fma(&t1, &u, lam), &f(0.43)));
            let s = lax::log(&lax::div(
                &lax::mul(&v, &inv_alpha),
                &lax::add(&lax::div(&a, &lax::mul(&us, &us)), &b),
            ));
            let t = lax::sub(
                &fma(&k, &log_lam, &lax::neg(lam)),
                &lax::lgamma(&lax::add(&k, &f(1.0))),
            );
            let accept1 = lax::bitwise_and(&lax::ge(&us, &f(0.07)), &lax::le(&v, &v_r));
            let reject = lax::bitwise_or(
                &lax::lt(&k, &f(0.0)),
                &lax::bitwise_and(&lax::lt(&us, &f(0.013)), &lax::gt(&v, &us)),
            );
            let accept2 = lax::le(&s, &t);
            let accept = lax::bitwise_or(&accept1, &lax::bitwise_and(&lax::not(&reject), &accept2));
            let k_out = lax::select(&accept, &k, &k_out);
            let accepted = lax::bitwise_or(&accepted, &accept);
            (
                lax::add(&i, &int_const(1, DType::I32)),
                k_out,
                accepted,
                key,
            )
        },
        init,
    );
    lax::convert_element_type(&k, dtype)
}

/// Poisson(lam) samples of an integer `dtype`; `shape` defaults to `lam`'s shape.
/// Like `jax.random.poisson`: `lam` in float32, Knuth's method where `lam < 10` (or
/// NaN), transformed rejection elsewhere, 0 where `lam == 0`.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::random;
/// let k = random::poisson(&random::key(0), 4.0, Some(&[6]), DType::I32);
/// assert!(k.to_vec::<i32>().iter().all(|&v| v >= 0));
/// ```
#[track_caller]
pub fn poisson(key: &Array, lam: impl ArrayLike, shape: Option<&[usize]>, dtype: DType) -> Array {
    key_words("poisson", key);
    if !dtype.is_int() {
        user_error(format!(
            "random.poisson: dtype must be an integer dtype, got {dtype}"
        ));
    }
    let lam = lam.operand();
    if !(lam.ptype().dtype.is_float() || lam.ptype().dtype.is_int()) {
        user_error(format!(
            "random.poisson: lam must be a real number or array, got {}",
            lam.ptype().dtype
        ));
    }
    let lam = param("poisson", "lam", lam, DType::F32, shape);
    let use_knuth = lax::bitwise_or(&lax::ne(&lam, &lam), &lax::lt(&lam, &full_as(&lam, 10.0)));
    let lam_knuth = lax::select(&use_knuth, &lam, &full_as(&lam, 0.0));
    let lam_rej = lax::select(&use_knuth, &full_as(&lam, 1e5), &lam);
    let (_, hi) = crate::prim::reduce::int_bounds(dtype);
    let max_iters = hi.min(i32::MAX as i128) as i32;
    let result = lax::select(
        &use_knuth,
        &poisson_knuth(key, &lam_knuth, dtype, max_iters),
        &poisson_rejection(key, &lam_rej, dtype, max_iters),
    );
    let zeros = jnp::zeros(lam.shape(), dtype);
    lax::select(&lax::eq(&lam, &full_as(&lam, 0.0)), &zeros, &result)
}
