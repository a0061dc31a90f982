#!/usr/bin/env python3
"""The JAX side of `bench/compare`: runs the workloads of issue 5 item 7 in real JAX
and prints one JSON line per workload: name, median_ms, min_ms, iters, desc.

The shapes and the math mirror crates/jaxon/benches/workloads_common.rs exactly; keep
the two in step. Usage: jax_workloads.py [--quick] [--only a,b,...] [--budget SECONDS]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time

import numpy as np

import jax
import jax.numpy as jnp
from jax import lax


def sizes(quick):
    """Problem sizes; the quick set keeps jaxon's interpreter run short."""
    if quick:
        return dict(
            elementwise=1 << 20,
            rows=512,
            matmul=[64, 128, 256],
            mlp=(32, [784, 128, 128, 10]),
            pe=(1000, 64),
            rnn=(50, 32, 8, 16),
            rnn_compile_steps=20,
            hessian=100,
            conv=(4, 8, 8, 8, 3),
            sort=1 << 14,
            take=(1000, 16, 64),
        )
    return dict(
        elementwise=16 << 20,
        rows=4096,
        matmul=[512, 1024, 2048],
        mlp=(256, [784, 512, 512, 10]),
        pe=(1000, 512),
        rnn=(1000, 256, 32, 64),
        rnn_compile_steps=100,
        hessian=100,
        conv=(32, 32, 64, 64, 3),
        sort=1 << 20,
        take=(50000, 256, 4096),
    )


def uniform(rng, shape, scale=1.0):
    return jnp.asarray(rng.uniform(-scale, scale, size=shape).astype(np.float32))


def ready(tree):
    for leaf in jax.tree_util.tree_leaves(tree):
        leaf.block_until_ready()
    return tree


# ---- the workloads (same math as workloads_common.rs) ----------------------------------


def arith_chain(x):
    y = x * 1.01
    y = y + 0.5
    y = y * x
    y = y - 0.25
    y = y * 0.99
    y = y + x
    y = y * 0.5
    y = y - 1.0
    y = y * y
    return y + 2.0


def transcendental_chain(x):
    y = jnp.tanh(x)
    y = jnp.exp(y)
    y = y * 0.5
    y = jax.nn.sigmoid(y)
    y = jnp.sin(y)
    y = y + x
    y = jnp.tanh(y)
    y = y * 0.3
    y = jnp.exp(y)
    return jnp.sin(y)


def softmax_rows(x):
    m = jnp.max(x, axis=-1, keepdims=True)
    e = jnp.exp(x - m)
    return e / jnp.sum(e, axis=-1, keepdims=True)


def layernorm_rows(x):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    c = x - mean
    var = jnp.mean(c * c, axis=-1, keepdims=True)
    return c / jnp.sqrt(var + 1e-5)


def mlp_init(rng, dims):
    return [
        (uniform(rng, (a, b), 1.0 / np.sqrt(a)), jnp.zeros((b,), jnp.float32))
        for a, b in zip(dims[:-1], dims[1:])
    ]


def mlp_loss(params, x, y):
    h = x
    for w, b in params[:-1]:
        h = jax.nn.relu(h @ w + b)
    w, b = params[-1]
    logp = jax.nn.log_softmax(h @ w + b, axis=-1)
    return -jnp.mean(jnp.sum(y * logp, axis=-1))


def make_mlp_step():
    """A fresh function object each call, so jax.jit's caches start empty."""

    def step(params, x, y):
        loss, g = jax.value_and_grad(mlp_loss)(params, x, y)
        params = jax.tree_util.tree_map(lambda p, d: p - 0.01 * d, params, g)
        return params, loss

    return step


def mlp_data(rng, batch, dims):
    x = uniform(rng, (batch, dims[0]))
    labels = rng.integers(0, dims[-1], size=batch)
    y = jnp.asarray(np.eye(dims[-1], dtype=np.float32)[labels])
    return mlp_init(rng, dims), x, y


def pe_loss(w, x, y):
    return jnp.square(jnp.tanh(jnp.dot(x, w)) - y)


def conv_nhwc(x, k):
    return lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


def rnn_final(params, h0, xs):
    w, u, b = params

    def cell(h, x):
        return jnp.tanh(h @ w + x @ u + b), None

    h, _ = lax.scan(cell, h0, xs)
    return h


def rnn_loss(params, h0, xs):
    return jnp.sum(rnn_final(params, h0, xs))


def rnn_data(rng, steps, hidden, batch, inputs):
    params = (
        uniform(rng, (hidden, hidden), 1.0 / np.sqrt(hidden)),
        uniform(rng, (inputs, hidden), 1.0 / np.sqrt(inputs)),
        jnp.zeros((hidden,), jnp.float32),
    )
    return params, jnp.zeros((batch, hidden), jnp.float32), uniform(rng, (steps, batch, inputs))


def make_rnn_grad():
    def g(params, h0, xs):
        return jax.grad(rnn_loss)(params, h0, xs)

    return g


def hessian_fn(a):
    return lambda x: jnp.sum(jnp.tanh(a @ x))


def persistent_cache(on):
    """Turns JAX's persistent compilation cache on (in a fresh temporary directory,
    caching every program) or off."""
    from jax._src import compilation_cache

    if on:
        jax.config.update("jax_enable_compilation_cache", True)
        jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="jax-cache-"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    else:
        jax.config.update("jax_enable_compilation_cache", False)
    compilation_cache.reset_cache()


# ---- timing ----------------------------------------------------------------------------


def measure(fn, budget, fresh=False, setup=None, min_samples=3, max_samples=10000):
    """Median and min seconds per call of `fn` after a warm-up call. Fast calls are
    timed in batches of `inner` so that one sample lasts about a millisecond; `fresh`
    workloads (compile time) are timed one call per sample, `setup` run untimed first."""
    if setup:
        setup()
    fn()
    inner = 1
    if not fresh:
        t0 = time.perf_counter()
        fn()
        one = time.perf_counter() - t0
        inner = max(1, min(10000, int(1e-3 / max(one, 1e-9))))
    samples = []
    start = time.perf_counter()
    while True:
        if setup:
            setup()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
        elapsed = time.perf_counter() - start
        if len(samples) >= max_samples:
            break
        if len(samples) >= min_samples and elapsed >= budget:
            break
    return statistics.median(samples), min(samples), len(samples) * inner


def workloads(s):
    """(name, description, builder) triples; a builder returns (fn, options)."""
    out = []
    n = s["elementwise"]

    def elementwise(chain):
        def build():
            x = uniform(np.random.default_rng(1), (n,))
            f = jax.jit(chain)
            return lambda: f(x).block_until_ready(), {}

        return build

    out.append(("a_arith", f"10 arithmetic ops, {n} f32", elementwise(arith_chain)))
    out.append(("a_transcendental", f"10 ops with exp/tanh/logistic/sin, {n} f32",
                elementwise(transcendental_chain)))
    r = s["rows"]

    def rows(fn):
        def build():
            x = uniform(np.random.default_rng(2), (r, r), 3.0)
            f = jax.jit(fn)
            return lambda: f(x).block_until_ready(), {}

        return build

    out.append(("b_softmax", f"row softmax {r}x{r} f32", rows(softmax_rows)))
    out.append(("b_layernorm", f"row layernorm {r}x{r} f32, eps 1e-5", rows(layernorm_rows)))
    for m in s["matmul"]:
        def build(m=m):
            rng = np.random.default_rng(3)
            a, b = uniform(rng, (m, m)), uniform(rng, (m, m))
            f = jax.jit(jnp.matmul)
            return lambda: f(a, b).block_until_ready(), {}

        out.append((f"c_matmul_{m}", f"{m}x{m} @ {m}x{m} f32", build))
    batch, dims = s["mlp"]
    dims_s = "-".join(map(str, dims))

    def mlp_build():
        params, x, y = mlp_data(np.random.default_rng(4), batch, dims)
        step = jax.jit(make_mlp_step())
        state = [params]

        def run():
            state[0], loss = step(state[0], x, y)
            ready((state[0], loss))

        return run, {}

    out.append(("d_mlp_step", f"MLP {dims_s} batch {batch}, value_and_grad+SGD", mlp_build))
    p, pb = s["pe"]

    def pe_build():
        rng = np.random.default_rng(5)
        w, x, y = uniform(rng, (p,), 0.05), uniform(rng, (pb, p)), uniform(rng, (pb,))
        f = jax.jit(jax.vmap(jax.grad(pe_loss), in_axes=(None, 0, 0)))
        return lambda: f(w, x, y).block_until_ready(), {}

    out.append(("e_per_example_grads", f"vmap(grad) tanh(x.w), {p} params, batch {pb}", pe_build))

    def dispatch_jit():
        x = jnp.ones((1,), jnp.float32)
        f = jax.jit(lambda v: v + 1.0)
        return lambda: f(x).block_until_ready(), {}

    def dispatch_eager():
        x = jnp.ones((1,), jnp.float32)
        return lambda: (x + 1.0).block_until_ready(), {}

    out.append(("f_dispatch_jit", "jit(x + 1), 1 element", dispatch_jit))
    out.append(("f_dispatch_eager", "eager x + 1, 1 element", dispatch_eager))

    def compile_mlp(cache=False):
        persistent_cache(cache)
        params, x, y = mlp_data(np.random.default_rng(4), batch, dims)

        def run():
            ready(jax.jit(make_mlp_step())(params, x, y))

        return run, {"fresh": True, "setup": jax.clear_caches}

    out.append(("g_compile_mlp", "first call of (d) incl. tracing", compile_mlp))
    steps, hidden, rb, ri = s["rnn"]
    cs = s["rnn_compile_steps"]

    def compile_rnn():
        persistent_cache(False)
        params, h0, xs = rnn_data(np.random.default_rng(6), cs, hidden, rb, ri)

        def run():
            ready(jax.jit(make_rnn_grad())(params, h0, xs))

        return run, {"fresh": True, "setup": jax.clear_caches}

    out.append(("g_compile_rnn_grad", f"first call of grad of {cs}-step scan RNN", compile_rnn))
    # What a second process sees: the persistent compilation cache already holds the
    # program (filled by the warm-up call), the in-memory caches are empty.
    out.append(
        (
            "g_compile_mlp_cached",
            "first call of (d), persistent compilation cache warm",
            lambda: compile_mlp(cache=True),
        )
    )
    rnn_desc = f"{steps} steps, hidden {hidden}, batch {rb}, input {ri}"

    def rnn_fwd():
        params, h0, xs = rnn_data(np.random.default_rng(6), steps, hidden, rb, ri)
        f = jax.jit(rnn_final)
        return lambda: f(params, h0, xs).block_until_ready(), {}

    def rnn_grad():
        params, h0, xs = rnn_data(np.random.default_rng(6), steps, hidden, rb, ri)
        f = jax.jit(make_rnn_grad())
        return lambda: ready(f(params, h0, xs)), {}

    out.append(("h_rnn_forward", "scan RNN forward, " + rnn_desc, rnn_fwd))
    out.append(("h_rnn_grad", "scan RNN gradient, " + rnn_desc, rnn_grad))
    hn = s["hessian"]

    def hess():
        rng = np.random.default_rng(7)
        a, x = uniform(rng, (hn, hn), 1.0 / np.sqrt(hn)), uniform(rng, (hn,))
        f = jax.jit(jax.hessian(hessian_fn(a)))
        return lambda: f(x).block_until_ready(), {}

    out.append(("i_hessian", f"hessian of sum(tanh(A x)), {hn} inputs", hess))
    cb, hw, cin, cout, kw = s["conv"]
    shape = f"x [{cb},{hw},{hw},{cin}] k [{kw},{kw},{cin},{cout}]"

    def conv_data():
        rng = np.random.default_rng(8)
        x = uniform(rng, (cb, hw, hw, cin))
        k = uniform(rng, (kw, kw, cin, cout), 1.0 / np.sqrt(kw * kw * cin))
        return x, k

    def conv2d():
        x, k = conv_data()
        f = jax.jit(conv_nhwc)
        return lambda: f(x, k).block_until_ready(), {}

    def conv2d_grad():
        x, k = conv_data()
        f = jax.jit(jax.grad(lambda xk: jnp.sum(jnp.square(conv_nhwc(*xk)))))
        return lambda: ready(f((x, k))), {}

    out.append(("j_conv2d", f"conv NHWC/HWIO SAME, {shape}", conv2d))
    out.append(("j_conv2d_grad", f"grad of sum(conv^2), {shape}", conv2d_grad))

    def maxpool_grad():
        x = uniform(np.random.default_rng(9), (cb, hw, hw, cin))
        pool = lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                           "VALID")
        f = jax.jit(jax.grad(lambda x: jnp.sum(jnp.square(pool(x)))))
        return lambda: f(x).block_until_ready(), {}

    rows, width, taken = s["take"]

    def take_grad():
        table = uniform(np.random.default_rng(10), (rows, width))
        idx = jnp.asarray([(i * 7919) % rows for i in range(taken)], jnp.int32)
        f = jax.jit(lambda t, i: jax.grad(lambda t: jnp.sum(jnp.square(jnp.take(t, i, axis=0))))(t))
        return lambda: f(table, idx).block_until_ready(), {}

    def sort():
        v = uniform(np.random.default_rng(11), (s["sort"],))
        f = jax.jit(jnp.sort)
        return lambda: f(v).block_until_ready(), {}

    out.append(("k_maxpool_grad", f"grad of sum(maxpool2x2(x)^2), x [{cb},{hw},{hw},{cin}]",
                maxpool_grad))
    out.append(("k_take_grad", f"grad of sum(take(table, idx)^2), table [{rows},{width}], "
                f"{taken} rows", take_grad))
    out.append(("k_sort", f"jnp.sort of {s['sort']} f32", sort))
    return out


def selected(name, only, names):
    """A full name selects that workload only (`j_conv2d` is not `j_conv2d_grad`); any
    other entry selects the names it prefixes (`a` -> `a_arith`, ...)."""
    return not only or any(name == o or (o not in names and name.startswith(o + "_"))
                           for o in only)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--budget", type=float, default=None)
    args = ap.parse_args()
    only = [o for o in args.only.split(",") if o]
    budget = args.budget if args.budget is not None else (0.2 if args.quick else 1.0)
    s = sizes(args.quick)
    info = {"jax": jax.__version__, "devices": [str(d) for d in jax.devices()]}
    print(json.dumps({"info": info}), flush=True)
    table = workloads(s)
    names = [w[0] for w in table]
    for name, desc, build in table:
        if not selected(name, only, names):
            continue
        try:
            fn, opts = build()
            med, lo, iters = measure(fn, budget, **opts)
            line = {"name": name, "median_ms": med * 1e3, "min_ms": lo * 1e3,
                    "iters": iters, "desc": desc}
            del fn
        except Exception as e:  # one failing workload must not end the run
            line = {"name": name, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
