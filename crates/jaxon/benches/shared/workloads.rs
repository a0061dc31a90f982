//! The benchmark workloads of issue 5 item 7, shared by the `bench_workloads` example
//! (driven by `bench/compare`) and the `workloads` criterion bench (included with
//! `#[path]`). Public API only, so they measure whatever backend is the default.
//!
//! The shapes and the math mirror `bench/jax_workloads.py` exactly; keep them in step.

// Each includer uses a different subset (the criterion bench has no bandwidth test).
#![allow(dead_code)]

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{axes, lax, nn, tree_leaves};
use std::time::Instant;

/// Problem sizes: the full set of the issue, or a quick set for smoke runs.
pub struct Sizes {
    /// Elements of the elementwise chains (a).
    pub elementwise: usize,
    /// Rows = columns of the softmax/layernorm input (b).
    pub rows: usize,
    /// Square matmul sizes (c).
    pub matmul: Vec<usize>,
    /// MLP batch and layer widths (d, g).
    pub mlp: (usize, Vec<usize>),
    /// Per-example gradients: parameters and batch (e).
    pub pe: (usize, usize),
    /// RNN steps, hidden, batch, inputs (h).
    pub rnn: (usize, usize, usize, usize),
    /// Steps of the RNN whose gradient's compile time is measured (g).
    pub rnn_compile_steps: usize,
    /// Inputs of the Hessian's function (i).
    pub hessian: usize,
    /// NHWC convolution (j, no target): batch, height = width, in and out
    /// features, window size.
    pub conv: (usize, usize, usize, usize, usize),
    /// Host-side ops (k, no target): elements of the sorted vector, (rows, width,
    /// taken rows) of the gathered table.
    pub sort: usize,
    pub take: (usize, usize, usize),
}

/// The sizes of `bench/jax_workloads.py`'s `sizes(quick)`.
pub fn sizes(quick: bool) -> Sizes {
    if quick {
        Sizes {
            elementwise: 1 << 20,
            rows: 512,
            matmul: vec![64, 128, 256],
            mlp: (32, vec![784, 128, 128, 10]),
            pe: (1000, 64),
            rnn: (50, 32, 8, 16),
            rnn_compile_steps: 20,
            hessian: 100,
            conv: (4, 8, 8, 8, 3),
            sort: 1 << 14,
            take: (1000, 16, 64),
        }
    } else {
        Sizes {
            elementwise: 16 << 20,
            rows: 4096,
            matmul: vec![512, 1024, 2048],
            mlp: (256, vec![784, 512, 512, 10]),
            pe: (1000, 512),
            rnn: (1000, 256, 32, 64),
            rnn_compile_steps: 100,
            hessian: 100,
            conv: (32, 32, 64, 64, 3),
            sort: 1 << 20,
            take: (50000, 256, 4096),
        }
    }
}

/// One runnable workload.
pub struct Workload {
    pub name: String,
    pub desc: String,
    /// Bytes a perfect implementation moves (inputs read once, outputs written once),
    /// for the fraction of memory bandwidth; `None` where that is not the limit.
    pub bytes: Option<f64>,
    /// Compile-time workloads: every call is a fresh compile, timed one per sample.
    pub fresh: bool,
    /// One call with its results materialized.
    pub run: Box<dyn FnMut()>,
}

/// The workload names for these sizes, in table order.
pub fn names(s: &Sizes) -> Vec<String> {
    let mut v: Vec<String> = ["a_arith", "a_transcendental", "b_softmax", "b_layernorm"]
        .iter()
        .map(|n| n.to_string())
        .collect();
    v.extend(s.matmul.iter().map(|m| format!("c_matmul_{m}")));
    for n in [
        "d_mlp_step",
        "e_per_example_grads",
        "f_dispatch_jit",
        "f_dispatch_eager",
        "g_compile_mlp",
        "g_compile_rnn_grad",
        "g_compile_mlp_cached",
        "h_rnn_forward",
        "h_rnn_grad",
        "i_hessian",
        "j_conv2d",
        "j_conv2d_grad",
        "k_maxpool_grad",
        "k_take_grad",
        "k_sort",
    ] {
        v.push(n.to_string());
    }
    v
}

/// Whether `name` is picked by `--only` entries (a full name or a group letter).
pub fn selected(name: &str, only: &[String], names: &[String]) -> bool {
    // A full name selects that workload only (`j_conv2d` is not `j_conv2d_grad`);
    // any other entry selects the names it prefixes (`a` -> `a_arith`, ...).
    only.is_empty()
        || only
            .iter()
            .any(|o| name == o || (!names.contains(o) && name.starts_with(&format!("{o}_"))))
}

/// Waits for every leaf of a result.
fn ready<T: Tree>(t: &T) {
    for leaf in tree_leaves(t) {
        leaf.block_until_ready();
    }
}

/// Uniform f32 values in [-scale, scale] from a xorshift stream (inputs only need to
/// be well-scaled, not equal to JAX's).
fn uniform(seed: u64, shape: &[usize], scale: f32) -> Array {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 40) as f32 / (1u64 << 24) as f32;
            (2.0 * u - 1.0) * scale
        })
        .collect();
    Array::from_vec(shape, v)
}

// ---- the math (same as jax_workloads.py) ----------------------------------------------

fn arith_chain(x: Array) -> Array {
    let mut y = &x * 1.01;
    y = y + 0.5;
    y = y * &x;
    y = y - 0.25;
    y = y * 0.99;
    y = y + &x;
    y = y * 0.5;
    y = y - 1.0;
    y = &y * &y;
    y + 2.0
}

fn transcendental_chain(x: Array) -> Array {
    let mut y = x.tanh();
    y = y.exp();
    y = y * 0.5;
    y = nn::sigmoid(&y);
    y = y.sin();
    y = y + &x;
    y = y.tanh();
    y = y * 0.3;
    y = y.exp();
    y.sin()
}

fn softmax_rows(x: Array) -> Array {
    let m = jnp::max(&x, Some(&[-1]), true);
    let e = (&x - &m).exp();
    let s = jnp::sum(&e, Some(&[-1]), true);
    e / s
}

fn layernorm_rows(x: Array) -> Array {
    let mean = jnp::mean(&x, Some(&[-1]), true);
    let c = &x - &mean;
    let var = jnp::mean(&c * &c, Some(&[-1]), true);
    c / (var + 1e-5).sqrt()
}

/// Parameters as a flat `[w0, b0, w1, b1, ...]` list (JAX: a list of (w, b) pairs).
fn mlp_init(seed: u64, dims: &[usize]) -> Vec<Array> {
    dims.windows(2)
        .enumerate()
        .flat_map(|(i, d)| {
            let scale = 1.0 / (d[0] as f32).sqrt();
            [
                uniform(seed + i as u64, &[d[0], d[1]], scale),
                jnp::zeros(&[d[1]], DType::F32),
            ]
        })
        .collect()
}

fn mlp_loss(params: &[Array], x: &Array, y: &Array) -> Array {
    let layers = params.len() / 2;
    let mut h = x.clone();
    for (i, wb) in params.chunks(2).enumerate() {
        let z = jnp::matmul(&h, &wb[0]) + &wb[1];
        h = if i + 1 < layers { nn::relu(z) } else { z };
    }
    let logp = nn::log_softmax(&h, -1);
    -jnp::mean(jnp::sum(y * &logp, Some(&[-1]), false), None, false)
}

type MlpArgs = (Vec<Array>, Array, Array);

/// A fresh jitted step (an empty compile cache each call).
fn make_mlp_step() -> impl Fn(MlpArgs) -> (Vec<Array>, Array) {
    jit(|(p, x, y): MlpArgs| {
        // Differentiate with respect to the parameters only, as jax.grad's argnums=0.
        let (loss, g) = value_and_grad(|p: Vec<Array>| mlp_loss(&p, &x, &y))(p.clone());
        let p = p.iter().zip(&g).map(|(w, d)| w - d * 0.01).collect();
        (p, loss)
    })
}

fn mlp_data(batch: usize, dims: &[usize]) -> MlpArgs {
    let x = uniform(41, &[batch, dims[0]], 1.0);
    let classes = *dims.last().expect("layer widths");
    let mut onehot = vec![0.0f32; batch * classes];
    for (i, row) in onehot.chunks_mut(classes).enumerate() {
        row[(i * 7919) % classes] = 1.0;
    }
    (
        mlp_init(42, dims),
        x,
        Array::from_vec(&[batch, classes], onehot),
    )
}

fn pe_loss(w: &Array, x: &Array, y: &Array) -> Array {
    jnp::square(x.dot(w).tanh() - y)
}

/// Final hidden state of `h <- tanh(h W + x U + b)` scanned over `xs` ([steps, batch, in]).
fn rnn_final(p: &[Array], h0: &Array, xs: &Array) -> Array {
    let (w, u, b) = (p[0].clone(), p[1].clone(), p[2].clone());
    let cell =
        move |h: Array, x: Array| ((jnp::matmul(&h, &w) + jnp::matmul(&x, &u) + &b).tanh(), ());
    lax::scan(cell, h0.clone(), xs.clone()).0
}

type RnnArgs = (Vec<Array>, Array, Array);

/// 2×2 max pooling, stride 2, of NHWC `x`.
fn max_pool_2x2(x: &Array) -> Array {
    let valid = [(0, 0); 4];
    lax::reduce_window_max(x, &[1, 2, 2, 1], &[1, 2, 2, 1], valid, None, None)
}

/// Stride-1 SAME convolution of NHWC `x` with an HWIO kernel.
fn conv_nhwc(x: &Array, k: &Array) -> Array {
    lax::conv_general_dilated(
        x,
        k,
        &[1, 1],
        lax::Padding::Same,
        None,
        None,
        ("NHWC", "HWIO", "NHWC"),
        1,
        1,
    )
}

fn make_rnn_grad() -> impl Fn(RnnArgs) -> Vec<Array> {
    jit(|(p, h0, xs): RnnArgs| grad(|p: Vec<Array>| rnn_final(&p, &h0, &xs).sum(None))(p))
}

fn rnn_data(steps: usize, hidden: usize, batch: usize, inputs: usize) -> RnnArgs {
    let params = vec![
        uniform(61, &[hidden, hidden], 1.0 / (hidden as f32).sqrt()),
        uniform(62, &[inputs, hidden], 1.0 / (inputs as f32).sqrt()),
        jnp::zeros(&[hidden], DType::F32),
    ];
    (
        params,
        jnp::zeros(&[batch, hidden], DType::F32),
        uniform(63, &[steps, batch, inputs], 1.0),
    )
}

// ---- building the workloads -----------------------------------------------------------

fn workload(name: &str, desc: String, run: impl FnMut() + 'static) -> Workload {
    Workload {
        name: name.to_string(),
        desc,
        bytes: None,
        fresh: false,
        run: Box::new(run),
    }
}

fn jitted_unary(name: &str, desc: String, f: fn(Array) -> Array, x: Array) -> Workload {
    let bytes = 2.0 * 4.0 * x.size() as f64;
    let f = jit(f);
    let mut w = workload(name, desc, move || {
        f(x.clone()).block_until_ready();
    });
    w.bytes = Some(bytes);
    w
}

/// Builds the named workload (data and jitted functions; nothing runs yet).
pub fn build(name: &str, s: &Sizes) -> Workload {
    let n = s.elementwise;
    let r = s.rows;
    let (batch, dims) = (s.mlp.0, s.mlp.1.clone());
    let dims_s: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    let dims_s = dims_s.join("-");
    let (steps, hidden, rb, ri) = s.rnn;
    let rnn_desc = format!("{steps} steps, hidden {hidden}, batch {rb}, input {ri}");
    match name {
        "a_arith" => jitted_unary(
            name,
            format!("10 arithmetic ops, {n} f32"),
            arith_chain,
            uniform(1, &[n], 1.0),
        ),
        "a_transcendental" => jitted_unary(
            name,
            format!("10 ops with exp/tanh/logistic/sin, {n} f32"),
            transcendental_chain,
            uniform(1, &[n], 1.0),
        ),
        "b_softmax" => jitted_unary(
            name,
            format!("row softmax {r}x{r} f32"),
            softmax_rows,
            uniform(2, &[r, r], 3.0),
        ),
        "b_layernorm" => jitted_unary(
            name,
            format!("row layernorm {r}x{r} f32, eps 1e-5"),
            layernorm_rows,
            uniform(2, &[r, r], 3.0),
        ),
        _ if name.starts_with("c_matmul_") => {
            let m: usize = name["c_matmul_".len()..]
                .parse()
                .unwrap_or_else(|_| panic!("bad matmul workload {name}"));
            let (a, b) = (uniform(3, &[m, m], 1.0), uniform(4, &[m, m], 1.0));
            let f = jit(|(a, b): (Array, Array)| jnp::matmul(&a, &b));
            workload(name, format!("{m}x{m} @ {m}x{m} f32"), move || {
                f((a.clone(), b.clone())).block_until_ready();
            })
        }
        "d_mlp_step" => {
            let (params, x, y) = mlp_data(batch, &dims);
            let step = make_mlp_step();
            let mut state = Some(params);
            let desc = format!("MLP {dims_s} batch {batch}, value_and_grad+SGD");
            workload(name, desc, move || {
                let p = state.take().expect("parameters");
                let (p, loss) = step((p, x.clone(), y.clone()));
                ready(&(p.clone(), loss));
                state = Some(p);
            })
        }
        "e_per_example_grads" => {
            let (p, pb) = s.pe;
            let (w, x, y) = (
                uniform(51, &[p], 0.05),
                uniform(52, &[pb, p], 1.0),
                uniform(53, &[pb], 1.0),
            );
            let per_example = |(w, x, y): (Array, Array, Array)| {
                // Gradient with respect to w only, as jax.grad's default argnums=0.
                grad(|w: Array| pe_loss(&w, &x, &y))(w)
            };
            let f = jit(vmap(per_example, axes![None, 0, 0]));
            let desc = format!("vmap(grad) tanh(x.w), {p} params, batch {pb}");
            workload(name, desc, move || {
                f((w.clone(), x.clone(), y.clone())).block_until_ready();
            })
        }
        "f_dispatch_jit" => {
            let x = jnp::ones(&[1], DType::F32);
            let f = jit(|v: Array| v + 1.0);
            workload(name, "jit(x + 1), 1 element".into(), move || {
                f(x.clone()).block_until_ready();
            })
        }
        "f_dispatch_eager" => {
            let x = jnp::ones(&[1], DType::F32);
            workload(name, "eager x + 1, 1 element".into(), move || {
                (&x + 1.0).block_until_ready();
            })
        }
        "g_compile_mlp" => {
            // Cold: the kernel cache is off, every kernel goes through LLVM.
            jaxon::config::set_compilation_cache_dir(None);
            let args = mlp_data(batch, &dims);
            let desc = "first call of (d) incl. tracing, fresh jit cache".into();
            let mut w = workload(name, desc, move || ready(&make_mlp_step()(args.clone())));
            w.fresh = true;
            w
        }
        "g_compile_rnn_grad" => {
            jaxon::config::set_compilation_cache_dir(None);
            let cs = s.rnn_compile_steps;
            let args = rnn_data(cs, hidden, rb, ri);
            let desc = format!("first call of grad of {cs}-step scan RNN, fresh jit cache");
            let mut w = workload(name, desc, move || ready(&make_rnn_grad()(args.clone())));
            w.fresh = true;
            w
        }
        "g_compile_mlp_cached" => {
            // What a second process sees: the kernel cache (in a fresh directory,
            // filled by the warm-up call) holds every kernel; the jit cache is empty.
            let dir = std::env::temp_dir().join(format!("oxla-bench-cache-{}", std::process::id()));
            jaxon::config::set_compilation_cache_dir(Some(dir));
            let args = mlp_data(batch, &dims);
            let desc = "first call of (d), kernel cache warm, fresh jit cache".into();
            let mut w = workload(name, desc, move || ready(&make_mlp_step()(args.clone())));
            w.fresh = true;
            w
        }
        "h_rnn_forward" => {
            let args = rnn_data(steps, hidden, rb, ri);
            let f = jit(|(p, h0, xs): RnnArgs| rnn_final(&p, &h0, &xs));
            workload(name, format!("scan RNN forward, {rnn_desc}"), move || {
                f(args.clone()).block_until_ready();
            })
        }
        "h_rnn_grad" => {
            let args = rnn_data(steps, hidden, rb, ri);
            let f = make_rnn_grad();
            workload(name, format!("scan RNN gradient, {rnn_desc}"), move || {
                ready(&f(args.clone()))
            })
        }
        "i_hessian" => {
            let hn = s.hessian;
            let a = uniform(71, &[hn, hn], 1.0 / (hn as f32).sqrt());
            let x = uniform(72, &[hn], 1.0);
            let f = jit(hessian(move |x: Array| {
                jnp::matmul(&a, &x).tanh().sum(None)
            }));
            let desc = format!("hessian of sum(tanh(A x)), {hn} inputs");
            workload(name, desc, move || {
                f(x.clone()).block_until_ready();
            })
        }
        "j_conv2d" | "j_conv2d_grad" => {
            let (cb, hw, cin, cout, kw) = s.conv;
            let x = uniform(81, &[cb, hw, hw, cin], 1.0);
            let k = uniform(
                82,
                &[kw, kw, cin, cout],
                1.0 / ((kw * kw * cin) as f32).sqrt(),
            );
            let shape = format!("x [{cb},{hw},{hw},{cin}] k [{kw},{kw},{cin},{cout}]");
            if name == "j_conv2d" {
                let f = jit(|(x, k): (Array, Array)| conv_nhwc(&x, &k));
                workload(name, format!("conv NHWC/HWIO SAME, {shape}"), move || {
                    f((x.clone(), k.clone())).block_until_ready();
                })
            } else {
                let f = jit(grad(|(x, k): (Array, Array)| {
                    jnp::square(conv_nhwc(&x, &k)).sum(None)
                }));
                workload(name, format!("grad of sum(conv^2), {shape}"), move || {
                    ready(&f((x.clone(), k.clone())))
                })
            }
        }
        "k_maxpool_grad" => {
            let (cb, hw, cin, _, _) = s.conv;
            let x = uniform(83, &[cb, hw, hw, cin], 1.0);
            let f = jit(grad(|x: Array| jnp::square(max_pool_2x2(&x)).sum(None)));
            let desc = format!("grad of sum(maxpool2x2(x)^2), x [{cb},{hw},{hw},{cin}]");
            workload(name, desc, move || {
                f(x.clone()).block_until_ready();
            })
        }
        "k_take_grad" => {
            let (rows, width, taken) = s.take;
            let table = uniform(84, &[rows, width], 1.0);
            let idx: Vec<i32> = (0..taken).map(|i| ((i * 7919) % rows) as i32).collect();
            let idx = Array::from_vec(&[taken], idx);
            let f = jit(move |t: Array| {
                grad(|t: Array| jnp::square(jnp::take(&t, &idx, Some(0))).sum(None))(t)
            });
            let desc =
                format!("grad of sum(take(table, idx)^2), table [{rows},{width}], {taken} rows");
            workload(name, desc, move || {
                f(table.clone()).block_until_ready();
            })
        }
        "k_sort" => {
            let n = s.sort;
            let v = uniform(85, &[n], 1.0);
            let f = jit(|v: Array| jnp::sort(&v, Some(-1)));
            workload(name, format!("jnp.sort of {n} f32"), move || {
                f(v.clone()).block_until_ready();
            })
        }
        _ => panic!("unknown workload {name}"),
    }
}

// ---- timing ---------------------------------------------------------------------------

/// Seconds per call: median and min over the samples, and the number of calls.
pub struct Measurement {
    pub median_s: f64,
    pub min_s: f64,
    pub iters: usize,
}

/// Times `w` after one warm-up call (and its background compiles) until `budget`
/// seconds have passed (at least
/// `min_samples` samples). Fast calls are timed in batches so that a sample lasts
/// about a millisecond; fresh (compile) workloads one call per sample. Same rule as
/// `measure` in jax_workloads.py.
pub fn measure(w: &mut Workload, budget: f64, min_samples: usize) -> Measurement {
    (w.run)();
    // Steady state means second-tier kernels; and a compile workload's samples
    // must not overlap the previous sample's background compile.
    oxla::backend::cpu::wait_for_background_compiles();
    let mut inner = 1;
    if !w.fresh {
        let t = Instant::now();
        (w.run)();
        let one = t.elapsed().as_secs_f64().max(1e-9);
        inner = ((1e-3 / one) as usize).clamp(1, 10_000);
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    loop {
        let t = Instant::now();
        for _ in 0..inner {
            (w.run)();
        }
        samples.push(t.elapsed().as_secs_f64() / inner as f64);
        if w.fresh {
            oxla::backend::cpu::wait_for_background_compiles();
        }
        let done = samples.len() >= min_samples && start.elapsed().as_secs_f64() >= budget;
        if done || samples.len() >= 10_000 {
            break;
        }
    }
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    let median_s = if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    };
    Measurement {
        median_s,
        min_s: samples[0],
        iters: samples.len() * inner,
    }
}

// ---- memory bandwidth -----------------------------------------------------------------

/// Best-of-`reps` STREAM copy (`b = a`) and triad (`a = b + s c`) bandwidth in bytes/s
/// over `threads` threads, on f32 arrays of `bytes` bytes each. The buffers are
/// touched before timing so no sample page-faults.
pub fn bandwidth(bytes: usize, threads: usize, reps: usize) -> (f64, f64) {
    let n = bytes / 4;
    let mut a = vec![1.0f32; n];
    let mut b = vec![2.0f32; n];
    let c = vec![0.5f32; n];
    let chunk = n.div_ceil(threads);
    let (mut copy, mut triad) = (f64::MAX, f64::MAX);
    for _ in 0..reps {
        let t = Instant::now();
        std::thread::scope(|sc| {
            for (dst, src) in b.chunks_mut(chunk).zip(a.chunks(chunk)) {
                sc.spawn(move || dst.copy_from_slice(src));
            }
        });
        copy = copy.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::thread::scope(|sc| {
            for ((dst, x), y) in a
                .chunks_mut(chunk)
                .zip(b.chunks(chunk))
                .zip(c.chunks(chunk))
            {
                sc.spawn(move || {
                    for ((d, &x), &y) in dst.iter_mut().zip(x).zip(y) {
                        *d = x + 0.5 * y;
                    }
                });
            }
        });
        triad = triad.min(t.elapsed().as_secs_f64());
    }
    // Keep the results observable so the loops are not optimized away.
    assert!(a[n / 2].is_finite() && b[n / 3].is_finite());
    (2.0 * bytes as f64 / copy, 3.0 * bytes as f64 / triad)
}
