//! Harness of the index/sort rule tests: derivatives vs finite differences (orders
//! 1 and 2), vmap vs a loop over the batch for several in_axes, vmap of the VJP,
//! and jit vs eager, with a count of the (primitive × check) cases.
#![allow(dead_code)]

use jaxon::numpy as jnp;
use jaxon::test_util::{check_grads, Modes};
use jaxon::transform::{ad, batching::vmap_flat, jit::JitCache};
use jaxon::Array;
use std::collections::BTreeMap;
use std::rc::Rc;

/// xorshift64* (deterministic).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Random continuous f64 values (distinct with probability 1).
    pub fn f64s(&mut self, shape: &[usize]) -> Array {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| self.uniform(-2.0, 2.0)).collect();
        Array::from_vec(shape, v)
    }

    /// Random int32 values in `lo..=hi`.
    pub fn ints(&mut self, shape: &[usize], lo: i64, hi: i64) -> Array {
        let n: usize = shape.iter().product();
        let v: Vec<i32> = (0..n).map(|_| self.int(lo, hi) as i32).collect();
        Array::from_vec(shape, v)
    }

    /// A random shape of rank in `lo..=hi` with dims in `1..=max_dim`.
    pub fn shape(&mut self, lo: usize, hi: usize, max_dim: usize) -> Vec<usize> {
        let r = lo + self.below(hi - lo + 1);
        (0..r).map(|_| 1 + self.below(max_dim)).collect()
    }
}

pub type Fun = Rc<dyn Fn(&[Array]) -> Vec<Array>>;
pub type Gen = Rc<dyn Fn(&mut Rng) -> Vec<Array>>;

/// One test function: `f` over all arguments (float ones are differentiated,
/// integer ones are indices), and `gen` drawing per-example arguments of fixed
/// shapes.
pub struct Case {
    pub prim: &'static str,
    pub f: Fun,
    pub gen: Gen,
    /// Check derivatives (orders 1 and 2) vs finite differences.
    pub grads: bool,
}

/// Counts of (primitive × check) cases.
#[derive(Default)]
pub struct Counts(pub BTreeMap<(String, String), usize>);

impl Counts {
    pub fn add(&mut self, prim: &str, check: &str) {
        *self.0.entry((prim.into(), check.into())).or_default() += 1;
    }

    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    pub fn report(&self, what: &str) {
        for ((p, c), n) in &self.0 {
            eprintln!("{what}: {p} × {c}: {n}");
        }
        eprintln!("{what}: {} (primitive × check) cases", self.total());
    }
}

fn is_float(a: &Array) -> bool {
    a.dtype().is_float()
}

/// `f` as a function of the float arguments only (the others fixed).
fn float_fn(f: &Fun, args: &[Array]) -> (Vec<usize>, Vec<Array>, Fun) {
    let pos: Vec<usize> = (0..args.len()).filter(|&i| is_float(&args[i])).collect();
    let floats: Vec<Array> = pos.iter().map(|&i| args[i].clone()).collect();
    let (f, all, p) = (f.clone(), args.to_vec(), pos.clone());
    let g: Fun = Rc::new(move |fa: &[Array]| {
        let mut a = all.clone();
        for (k, &i) in p.iter().enumerate() {
            a[i] = fa[k].clone();
        }
        f(&a)
    });
    (pos, floats, g)
}

/// The cotangents of the float arguments of `f` at `args` for cotangent = the outputs
/// (a nonlinear function of all arguments, so vmap/jit of it exercise the
/// transposes' batching and lowering).
fn vjp_of(f: &Fun) -> Fun {
    let f = f.clone();
    Rc::new(move |args: &[Array]| {
        let (_, floats, g) = float_fn(&f, args);
        let (outs, lin) = ad::vjp_flat(|x| g(x), &floats);
        // Integer outputs get zero cotangents.
        let cts: Vec<Array> = outs
            .iter()
            .map(|o| {
                if is_float(o) {
                    o.clone()
                } else {
                    jnp::zeros_like(o)
                }
            })
            .collect();
        lin.transpose(&cts)
    })
}

#[track_caller]
pub fn assert_same(what: &str, got: &[Array], want: &[Array]) {
    assert_eq!(got.len(), want.len(), "{what}: number of outputs");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.shape(), w.shape(), "{what}: output {i} shape");
        assert_eq!(g.dtype(), w.dtype(), "{what}: output {i} dtype");
        for (k, (a, b)) in g.to_f64_vec().iter().zip(w.to_f64_vec()).enumerate() {
            let ok = (a - b).abs() <= 1e-12 * (1.0 + b.abs()) || (a.is_nan() && b.is_nan());
            assert!(ok, "{what}: output {i} element {k}: {a} vs {b}");
        }
    }
}

/// vmap of `f` (batch of `size`; `axes[i]` the batch axis of argument i or None)
/// equals the stack of per-example results.
#[track_caller]
fn check_vmap(what: &str, f: &Fun, examples: &[Vec<Array>], axes: &[Option<usize>]) {
    let n = examples[0].len();
    let batched: Vec<Array> = (0..n)
        .map(|i| match axes[i] {
            Some(ax) => {
                let xs: Vec<Array> = examples.iter().map(|e| e[i].clone()).collect();
                jnp::stack(&xs, ax as i64)
            }
            None => examples[0][i].clone(),
        })
        .collect();
    let in_axes: Vec<Option<i64>> = axes.iter().map(|a| a.map(|a| a as i64)).collect();
    let got = vmap_flat(|x| f(x), &batched, &in_axes, &[Some(0)], None);
    let per: Vec<Vec<Array>> = examples
        .iter()
        .map(|e| {
            let a: Vec<Array> = (0..n)
                .map(|i| {
                    if axes[i].is_some() {
                        e[i].clone()
                    } else {
                        examples[0][i].clone()
                    }
                })
                .collect();
            f(&a)
        })
        .collect();
    let want: Vec<Array> = (0..per[0].len())
        .map(|j| {
            let ys: Vec<Array> = per.iter().map(|p| p[j].clone()).collect();
            jnp::stack(&ys, 0)
        })
        .collect();
    assert_same(&format!("{what} (in_axes {axes:?})"), &got, &want);
}

/// jit of `f` equals eager.
#[track_caller]
fn check_jit(what: &str, f: &Fun, args: &[Array]) {
    let cache: JitCache<u32> = JitCache::new(what);
    let avals: Vec<_> = args.iter().map(|a| a.aval()).collect();
    let c = cache.get_or_compile(&0, &avals, |x| f(x));
    assert_same(&format!("{what}: jit vs eager"), &c.run(args), &f(args));
}

/// Three in_axes choices: all at 0; all at their last position (non-leading);
/// a random mix of batched/unbatched arguments at random positions.
fn axes_choices(rng: &mut Rng, args: &[Array]) -> Vec<Vec<Option<usize>>> {
    let n = args.len();
    let front = vec![Some(0); n];
    let back: Vec<Option<usize>> = args.iter().map(|a| Some(a.ndim())).collect();
    let mut mixed: Vec<Option<usize>> = args
        .iter()
        .map(|a| {
            if rng.below(2) == 0 {
                None
            } else {
                Some(rng.below(a.ndim() + 1))
            }
        })
        .collect();
    if mixed.iter().all(Option::is_none) {
        let i = rng.below(n);
        mixed[i] = Some(rng.below(args[i].ndim() + 1));
    }
    // A second mix with exactly one batched argument (when there are several).
    let mut one = vec![None; n];
    let i = rng.below(n);
    one[i] = Some(rng.below(args[i].ndim() + 1));
    vec![front, back, mixed, one]
}

/// Runs every check of `case` and counts them.
#[track_caller]
pub fn run_case(case: &Case, rng: &mut Rng, counts: &mut Counts) {
    let args = (case.gen)(rng);
    let what = case.prim;
    let shown: Vec<String> = args
        .iter()
        .map(|a| format!("{:?} {:?}", a.shape(), a.to_f64_vec()))
        .collect();
    eprintln!("case {what}: {shown:?}");
    if case.grads {
        let (_, floats, g) = float_fn(&case.f, &args);
        check_grads(&|x| g(x), &floats, 2, Modes::Both, None, None);
        counts.add(what, "jvp+vjp vs finite differences, orders 1-2");
    }
    let size = 3;
    let examples: Vec<Vec<Array>> = (0..size).map(|_| (case.gen)(rng)).collect();
    let vf = vjp_of(&case.f);
    for axes in axes_choices(rng, &args) {
        check_vmap(what, &case.f, &examples, &axes);
        counts.add(what, "vmap vs loop");
        if case.grads {
            check_vmap(&format!("{what} vjp"), &vf, &examples, &axes);
            counts.add(what, "vmap of vjp vs loop");
        }
    }
    check_jit(what, &case.f, &args);
    counts.add(what, "jit vs eager");
    if case.grads {
        check_jit(&format!("{what} vjp"), &vf, &args);
        counts.add(what, "jit of vjp vs eager");
    }
}
