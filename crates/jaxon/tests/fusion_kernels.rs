//! How many kernels the CPU backend's fusion makes of common layers (row softmax,
//! layernorm, tanh-gelu, an Adam update), that each fusion reads every outer value
//! once, and that the fused program (run on `Client::cpu()` explicitly) matches the
//! interpreter on the lowered module.

use jaxon::prelude::*;
use jaxon::{lax, nn, numpy as jnp, Lowered};
use oxla::backend::interp::evaluate;
use oxla::passes::fusion::kernel_count;
use oxla::{Client, Computation, FusionKind, Literal, Module, Op};

/// Deterministic inputs in [-scale, scale].
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let u = (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32;
            (2.0 * u - 1.0) * scale
        })
        .collect()
}

fn array(shape: &[usize], seed: u64, scale: f32) -> Array {
    Array::from_vec(shape, values(shape.iter().product(), seed, scale))
}

/// The fusion instructions of the entry computation: (kind, fused computation, operands).
fn fusions(m: &Module) -> Vec<(FusionKind, &Computation, Vec<oxla::Value>)> {
    m.entry_computation()
        .instrs
        .iter()
        .filter_map(|i| match i.op {
            Op::Fusion { comp, kind } => Some((kind, m.computation(comp), i.operands.clone())),
            _ => None,
        })
        .collect()
}

/// Checks the kernel count and the structure of every fusion; returns the
/// optimized module. Prints the module on failure.
fn check_kernels(lowered: &Lowered, max_kernels: usize, want_fusions: usize) -> Module {
    let m = lowered.optimized_module();
    let k = kernel_count(&m, m.entry);
    let fs = fusions(&m);
    if std::env::var_os("SHOW_FUSED").is_some() {
        println!("{m}");
    }
    assert!(
        k <= max_kernels && fs.len() == want_fusions,
        "{k} kernels (at most {max_kernels} expected), {} fusions ({want_fusions} expected):\n{m}",
        fs.len()
    );
    for (_, comp, operands) in &fs {
        // No outer value enters a kernel twice (it would be read twice per element).
        let mut seen = operands.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), operands.len(), "duplicate fusion operand:\n{m}");
        assert_eq!(operands.len(), comp.params.len(), "{m}");
        // Every parameter is read, by exactly one instruction reading it per kind
        // of use (parameters are not duplicated inside the kernel either).
        let params: Vec<usize> = comp
            .instrs
            .iter()
            .enumerate()
            .filter(|(_, i)| matches!(i.op, Op::Parameter { .. }))
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            params.len(),
            comp.params.len(),
            "one parameter op each:\n{m}"
        );
        for p in params {
            let users = comp
                .instrs
                .iter()
                .filter(|i| i.operands.iter().any(|v| v.instr == p))
                .count();
            assert!(users >= 1, "unused kernel parameter %{p}:\n{m}");
        }
    }
    m
}

/// Runs the lowered module on the CPU backend and on the interpreter.
fn both(lowered: &Lowered, args: &[&Array]) -> (Vec<Literal>, Vec<Literal>) {
    let lits: Vec<Literal> = args.iter().map(|a| a.to_literal()).collect();
    let want = evaluate(&lowered.module, &lits).expect("interpreter");
    let client = Client::cpu();
    let exe = client.compile(lowered.module.clone()).expect("cpu compile");
    let bufs: Vec<_> = lits
        .iter()
        .map(|l| client.buffer_from_literal(l.clone()))
        .collect();
    let refs: Vec<_> = bufs.iter().collect();
    let got = exe.execute(&refs).expect("cpu run");
    (got.iter().map(|b| b.to_literal()).collect(), want)
}

/// Elementwise closeness: |g - w| <= rel |w| + abs.
fn assert_close(what: &str, got: &Literal, want: &Literal, rel: f64, abs: f64) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for i in 0..want.num_elements() {
        let (g, w) = (got.data().get_f64(i), want.data().get_f64(i));
        assert!(
            (g - w).abs() <= rel * w.abs() + abs,
            "{what}[{i}]: cpu {g} vs interpreter {w}"
        );
    }
}

#[test]
fn softmax_is_one_row_kernel() {
    let x = array(&[64, 128], 1, 8.0);
    let lowered = jaxon::lower(|x: Array| nn::softmax(&x, -1), x.clone());
    let m = check_kernels(&lowered, 1, 1);
    // Per row: the max, then the sum of exp(x - max) (it needs the max, so the two
    // cannot share one pass), then the normalization, recomputing the cheap exp
    // instead of storing it; x is read from memory once.
    let (kind, comp, operands) = &fusions(&m)[0];
    assert_eq!(*kind, FusionKind::Row, "{m}");
    assert_eq!(operands.len(), 1, "softmax reads only x:\n{m}");
    let reduces = comp
        .instrs
        .iter()
        .filter(|i| matches!(i.op, Op::Reduce { .. }))
        .count();
    assert_eq!(reduces, 2, "{m}");
    let (got, want) = both(&lowered, &[&x]);
    assert_close("softmax", &got[0], &want[0], 1e-5, 1e-12);
}

/// A row too short for the row kernel's lanes keeps the three-pass form.
#[test]
fn short_row_softmax_is_three_kernels() {
    let x = array(&[64, 8], 1, 8.0);
    let lowered = jaxon::lower(|x: Array| nn::softmax(&x, -1), x.clone());
    let m = check_kernels(&lowered, 3, 3);
    let kinds: Vec<FusionKind> = fusions(&m).iter().map(|f| f.0).collect();
    assert_eq!(
        kinds,
        [FusionKind::Input, FusionKind::Input, FusionKind::Loop],
        "{m}"
    );
    let (got, want) = both(&lowered, &[&x]);
    assert_close("softmax", &got[0], &want[0], 1e-5, 1e-12);
}

/// Softmax over the leading axis reduces columns: no row kernel.
#[test]
fn column_softmax_is_not_a_row_kernel() {
    let x = array(&[64, 128], 1, 8.0);
    let lowered = jaxon::lower(|x: Array| nn::softmax(&x, 0), x.clone());
    let m = check_kernels(&lowered, 3, 3);
    assert!(fusions(&m).iter().all(|f| f.0 != FusionKind::Row), "{m}");
    let (got, want) = both(&lowered, &[&x]);
    assert_close("softmax", &got[0], &want[0], 1e-5, 1e-12);
}

fn layernorm(args: (Array, Array, Array)) -> Array {
    let (x, scale, bias) = args;
    let mean = jnp::mean(&x, Some(&[-1]), true);
    let d = &x - &mean;
    let var = jnp::mean(&d * &d, Some(&[-1]), true);
    let inv = lax::rsqrt(&(var + 1e-5));
    d * inv * scale + bias
}

#[test]
fn layernorm_is_one_row_kernel() {
    let args = (
        array(&[64, 128], 2, 3.0),
        array(&[128], 3, 1.0),
        array(&[128], 4, 1.0),
    );
    let lowered = jaxon::lower(layernorm, args.clone());
    let m = check_kernels(&lowered, 1, 1);
    assert_eq!(fusions(&m)[0].0, FusionKind::Row, "{m}");
    let (got, want) = both(&lowered, &[&args.0, &args.1, &args.2]);
    assert_close("layernorm", &got[0], &want[0], 1e-5, 1e-5);
}

#[test]
fn gelu_is_one_kernel() {
    let x = array(&[64, 128], 5, 6.0);
    let lowered = jaxon::lower(|x: Array| nn::gelu(&x, true), x.clone());
    let m = check_kernels(&lowered, 1, 1);
    let (_, comp, operands) = &fusions(&m)[0];
    assert_eq!(operands.len(), 1, "gelu reads only x:\n{m}");
    assert!(
        comp.instrs
            .iter()
            .any(|i| matches!(i.op, Op::Unary(oxla::UnaryOp::Tanh))),
        "{m}"
    );
    let (got, want) = both(&lowered, &[&x]);
    assert_close("gelu", &got[0], &want[0], 1e-5, 1e-6);
}

/// One Adam step; `bc1 = 1 - b1^t` and `bc2 = 1 - b2^t` come in as scalars.
fn adam(args: (Array, Array, Array, Array, Array, Array)) -> (Array, Array, Array) {
    let (p, g, m, v, bc1, bc2) = args;
    let (lr, b1, b2, eps) = (1e-3, 0.9, 0.999, 1e-8);
    let m2 = &m * b1 + &g * (1.0 - b1);
    let v2 = &v * b2 + &g * &g * (1.0 - b2);
    let mhat = &m2 / &bc1;
    let vhat = &v2 / &bc2;
    let p2 = &p - mhat * lr / (jnp::sqrt(vhat) + eps);
    (p2, m2, v2)
}

#[test]
fn adam_update_is_one_multi_output_kernel() {
    let t = 7;
    let args = (
        array(&[64, 128], 6, 1.0),
        array(&[64, 128], 7, 0.1),
        array(&[64, 128], 8, 0.01),
        jnp::abs(array(&[64, 128], 9, 0.001)),
        Array::scalar_f64(1.0 - 0.9f64.powi(t), DType::F32, false),
        Array::scalar_f64(1.0 - 0.999f64.powi(t), DType::F32, false),
    );
    let lowered = jaxon::lower(adam, args.clone());
    let m = check_kernels(&lowered, 1, 1);
    let (kind, comp, operands) = &fusions(&m)[0];
    assert_eq!(*kind, FusionKind::Loop, "{m}");
    assert_eq!(
        comp.results.len(),
        3,
        "new param, m and v from one kernel:\n{m}"
    );
    assert_eq!(operands.len(), 6, "p, g, m, v and the two scalars:\n{m}");
    let all = [&args.0, &args.1, &args.2, &args.3, &args.4, &args.5];
    let (got, want) = both(&lowered, &all);
    for (k, name) in ["param", "m", "v"].iter().enumerate() {
        assert_close(name, &got[k], &want[k], 1e-6, 0.0);
    }
}

/// `tanh` of 100 values broadcast along the last dim of a 100×100 product is
/// computed once per value in a kernel of its own, not once per product element;
/// broadcast along the first dim (hoisted out of each row's loop) it stays inlined.
#[test]
fn expensive_values_broadcast_along_rows_get_their_own_kernel() {
    let has_tanh = |c: &Computation| {
        c.instrs
            .iter()
            .any(|i| matches!(i.op, Op::Unary(oxla::UnaryOp::Tanh)))
    };
    let v = array(&[100], 6, 2.0);
    let m = array(&[100, 100], 7, 1.0);
    let along_rows = jaxon::lower(
        |(v, m): (Array, Array)| &m * &v.tanh().reshape(&[1, 100]),
        (v.clone(), m.clone()),
    );
    let opt = check_kernels(&along_rows, 2, 2);
    for (_, comp, _) in fusions(&opt) {
        if has_tanh(comp) {
            let sizes: Vec<usize> = comp
                .results
                .iter()
                .map(|r| comp.shape(*r).num_elements())
                .collect();
            assert_eq!(sizes, [100], "tanh computed per value:\n{opt}");
        }
    }
    let (got, want) = both(&along_rows, &[&v, &m]);
    assert_close("along rows", &got[0], &want[0], 1e-6, 1e-6);

    let along_columns = jaxon::lower(
        |(v, m): (Array, Array)| &m * &v.tanh().reshape(&[100, 1]),
        (v.clone(), m.clone()),
    );
    check_kernels(&along_columns, 1, 1);
    let (got, want) = both(&along_columns, &[&v, &m]);
    assert_close("along columns", &got[0], &want[0], 1e-6, 1e-6);
}
