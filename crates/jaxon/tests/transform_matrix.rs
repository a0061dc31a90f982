//! The per-primitive transformation matrix (JAX's lax_autodiff_test / lax_vmap_test
//! pattern) for the elementwise, shape and reduction primitives: for each primitive
//! over random shapes, params and values,
//! * jit (a `JitCache` trace + compile) equals eager exactly,
//! * jvp and vjp agree with central finite differences at orders 1 and 2 (f64), or,
//!   for non-differentiable primitives, the JVP tangent and the gradient are zero,
//! * vmap equals a loop over the batch for several in_axes choices,
//!
//! plus compositions of transformations, JAX's derivative conventions at kinks,
//! and the errors of grad.

mod support;

use jaxon::lax::{self, BinaryKind, CmpKind, ReduceKind, UnaryKind};
use jaxon::prelude::*;
use jaxon::test_util::{check_grads, Modes};
use jaxon::transform::{ad, batching::vmap_flat, jit::JitCache, jvp::jvp_flat};
use std::rc::Rc;
use support::{expect_panic, random_array, Rng};

type Fun = Rc<dyn Fn(&[Array]) -> Vec<Array>>;
type Gen = Rc<dyn Fn(&mut Rng) -> Vec<Array>>;
type Check<'a> = &'a dyn Fn(&mut Rng, &mut Counts);
type Range = (f64, f64);

/// What the derivative check of a case is.
#[derive(Clone, Copy, Debug)]
enum Deriv {
    /// check_grads up to `order` (finite differences with `eps`).
    Smooth { order: usize, eps: Option<f64> },
    /// The primitive is not differentiable: tangents and gradients are zero.
    Zero,
    /// No inputs to differentiate (iota).
    NoInputs,
}

/// One primitive application: `f` applied to arguments drawn by `gen` (every draw
/// has the same shapes and dtypes, fresh values).
struct Case {
    name: String,
    f: Fun,
    gen: Gen,
    deriv: Deriv,
}

fn case(name: impl Into<String>, deriv: Deriv, gen: Gen, f: Fun) -> Case {
    Case {
        name: name.into(),
        f,
        gen,
        deriv,
    }
}

const SMOOTH: Deriv = Deriv::Smooth {
    order: 2,
    eps: None,
};

/// Counts of (primitive × check) cases run.
#[derive(Default, Debug)]
struct Counts {
    jit: usize,
    jvp_vjp_fd: usize,
    zero_derivative: usize,
    vmap: usize,
}

impl Counts {
    fn report(&self, what: &str) {
        eprintln!(
            "transform matrix [{what}]: jit==eager {} | jvp+vjp vs finite differences (orders 1-2) {} | \
             zero tangent/grad {} | vmap==loop {} | total {}",
            self.jit,
            self.jvp_vjp_fd,
            self.zero_derivative,
            self.vmap,
            self.jit + self.jvp_vjp_fd + self.zero_derivative + self.vmap
        );
    }
}

// ---- array helpers ------------------------------------------------------------------

fn f64s(shape: &[usize], vals: Vec<f64>) -> Array {
    Array::from_vec(shape, vals)
}

fn size(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Uniform f64 in [lo, hi).
fn uni(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Array {
    random_array(rng, DType::F64, shape, lo, hi)
}

/// Magnitude in [lo, hi) with a random sign (keeps away from 0).
fn signed(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Array {
    let v = (0..size(shape))
        .map(|_| {
            let m = rng.uniform(lo, hi);
            if rng.int(0, 1) == 0 {
                m
            } else {
                -m
            }
        })
        .collect();
    f64s(shape, v)
}

/// Distinct values (gaps >= 0.1) in random order, for max/min/argmax.
fn distinct(rng: &mut Rng, shape: &[usize]) -> Array {
    let n = size(shape);
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * 0.3 - n as f64 * 0.15).collect();
    for i in (1..n).rev() {
        let j = rng.int(0, i as i64) as usize;
        v.swap(i, j);
    }
    let v = v.iter().map(|x| x + rng.uniform(0.0, 0.05)).collect();
    f64s(shape, v)
}

fn shape_of(rng: &mut Rng, min_rank: usize, max_rank: usize, max_dim: usize) -> Vec<usize> {
    let r = rng.int(min_rank as i64, max_rank as i64) as usize;
    (0..r)
        .map(|_| rng.int(1, max_dim as i64) as usize)
        .collect()
}

/// Elementwise comparison: same shape and dtype, equal values (NaN == NaN, -0 == 0).
#[track_caller]
fn assert_same(what: &str, got: &Array, want: &Array) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let (g, w) = (got.to_literal(), want.to_literal());
    for i in 0..g.num_elements() {
        let ok = if got.dtype().is_float() {
            let (a, b) = (g.data().get_f64(i), w.data().get_f64(i));
            a == b || (a.is_nan() && b.is_nan())
        } else {
            g.data().get_i128(i) == w.data().get_i128(i)
        };
        assert!(
            ok,
            "{what}: element {i} differs: got {got:?}, want {want:?}"
        );
    }
}

/// Stacks along a new axis `d`.
fn stack(xs: &[Array], d: usize) -> Array {
    let parts: Vec<Array> = xs.iter().map(|x| lax::expand_dims(x, &[d])).collect();
    lax::concatenate(&parts, d)
}

// ---- the checks ---------------------------------------------------------------------

fn check_jit(c: &Case, args: &[Array], counts: &mut Counts) {
    let eager = (c.f)(args);
    let avals: Vec<_> = args.iter().map(Array::aval).collect();
    let cache: JitCache<u8> = JitCache::new(&c.name);
    let f = c.f.clone();
    let compiled = cache.get_or_compile(&0, &avals, move |xs| f(xs));
    let jitted = compiled.run(args);
    assert_eq!(jitted.len(), eager.len(), "{}: jit output count", c.name);
    for (j, e) in jitted.iter().zip(&eager) {
        assert_same(&format!("{}: jit vs eager", c.name), j, e);
    }
    counts.jit += 1;
}

/// `f` restricted to its float arguments (the others are held fixed).
fn float_part(c: &Case, args: &[Array]) -> (Fun, Vec<Array>) {
    let float_idx: Vec<usize> = (0..args.len())
        .filter(|&i| args[i].dtype().is_float())
        .collect();
    let fixed = args.to_vec();
    let f = c.f.clone();
    let idx = float_idx.clone();
    let g: Fun = Rc::new(move |xs: &[Array]| {
        let mut all = fixed.clone();
        for (k, &i) in idx.iter().enumerate() {
            all[i] = xs[k].clone();
        }
        f(&all)
    });
    (g, float_idx.iter().map(|&i| args[i].clone()).collect())
}

fn check_deriv(c: &Case, args: &[Array], rng: &mut Rng, counts: &mut Counts) {
    match c.deriv {
        Deriv::Smooth { order, eps } => {
            let (g, xs) = float_part(c, args);
            check_grads(&*g, &xs, order, Modes::Both, None, eps);
            counts.jvp_vjp_fd += 1;
        }
        Deriv::Zero => {
            // The JVP along a random tangent is exactly zero.
            let tangents: Vec<Array> = args
                .iter()
                .map(|a| random_array(rng, a.dtype(), a.shape(), -1.0, 1.0))
                .collect();
            let (_, t_out) = jvp_flat(|x| (c.f)(x), args, &tangents);
            for t in &t_out {
                assert!(
                    t.to_f64_vec().iter().all(|&v| v == 0.0),
                    "{}: the tangent must be zero, got {t:?}",
                    c.name
                );
            }
            // grad of sum(f(x)) as f64 with respect to the float inputs is zero.
            let (g, xs) = float_part(c, args);
            if !xs.is_empty() {
                let loss = |x: &[Array]| {
                    let y = lax::convert_element_type(&g(x)[0], DType::F64);
                    let all: Vec<usize> = (0..y.ndim()).collect();
                    vec![lax::reduce_sum(&y, &all)]
                };
                let (_, grads) = ad::value_and_grad_flat(loss, &xs);
                for gr in &grads {
                    assert!(
                        gr.to_f64_vec().iter().all(|&v| v == 0.0),
                        "{}: the gradient must be zero, got {gr:?}",
                        c.name
                    );
                }
            }
            counts.zero_derivative += 1;
        }
        Deriv::NoInputs => {}
    }
}

/// vmap over `in_axes` (batch size `n`) equals stacking the per-example results.
fn check_vmap_axes(c: &Case, in_axes: &[Option<usize>], n: usize, rng: &mut Rng) {
    let base = (c.gen)(rng);
    let examples: Vec<Vec<Array>> = (0..n).map(|_| (c.gen)(rng)).collect();
    let ex_args = |i: usize| -> Vec<Array> {
        (0..base.len())
            .map(|j| match in_axes[j] {
                Some(_) => examples[i][j].clone(),
                None => base[j].clone(),
            })
            .collect()
    };
    let per_example: Vec<Vec<Array>> = (0..n).map(|i| (c.f)(&ex_args(i))).collect();
    let args: Vec<Array> = (0..base.len())
        .map(|j| match in_axes[j] {
            Some(d) => {
                let xs: Vec<Array> = examples.iter().map(|e| e[j].clone()).collect();
                stack(&xs, d)
            }
            None => base[j].clone(),
        })
        .collect();
    let axes: Vec<Option<i64>> = in_axes.iter().map(|a| a.map(|d| d as i64)).collect();
    let got = vmap_flat(|x| (c.f)(x), &args, &axes, &[Some(0)], None);
    for (k, g) in got.iter().enumerate() {
        let outs: Vec<Array> = per_example.iter().map(|o| o[k].clone()).collect();
        let want = stack(&outs, 0);
        assert_same(
            &format!("{}: vmap in_axes {in_axes:?} output {k}", c.name),
            g,
            &want,
        );
    }
}

/// The in_axes choices: all at 0; all trailing (non-leading); the first batched at a
/// random dim with the rest unbatched; the first unbatched with the rest batched.
fn axes_choices(ranks: &[usize], rng: &mut Rng) -> Vec<Vec<Option<usize>>> {
    let n = ranks.len();
    let mut out: Vec<Vec<Option<usize>>> =
        vec![vec![Some(0); n], ranks.iter().map(|&r| Some(r)).collect()];
    if n >= 2 {
        let mut first = vec![None; n];
        first[0] = Some(rng.int(0, ranks[0] as i64) as usize);
        out.push(first);
        let rest: Vec<Option<usize>> = (0..n)
            .map(|i| (i > 0).then(|| rng.int(0, ranks[i] as i64) as usize))
            .collect();
        out.push(rest);
    }
    let mut uniq: Vec<Vec<Option<usize>>> = Vec::new();
    for a in out {
        if a.iter().any(Option::is_some) && !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    uniq
}

/// vmap over an empty batch (size 0 at axis 0 of every operand) gives empty
/// outputs of the per-example shape, like JAX.
fn check_vmap_empty(c: &Case, args: &[Array]) {
    let empty = |a: &Array| {
        let mut shape = vec![0];
        shape.extend_from_slice(a.shape());
        lax::convert_element_type(&Array::from_vec(&shape, Vec::<f64>::new()), a.dtype())
    };
    let batched: Vec<Array> = args.iter().map(empty).collect();
    let axes = vec![Some(0); args.len()];
    let got = vmap_flat(|x| (c.f)(x), &batched, &axes, &[Some(0)], None);
    for (g, o) in got.iter().zip((c.f)(args)) {
        let mut shape = vec![0];
        shape.extend_from_slice(o.shape());
        assert_eq!(g.shape(), shape.as_slice(), "{}: empty vmap shape", c.name);
        assert_eq!(g.dtype(), o.dtype(), "{}: empty vmap dtype", c.name);
    }
}

fn check_vmap(c: &Case, args: &[Array], rng: &mut Rng, counts: &mut Counts) {
    if args.is_empty() {
        return;
    }
    check_vmap_empty(c, args);
    counts.vmap += 1;
    let ranks: Vec<usize> = args.iter().map(Array::ndim).collect();
    for axes in axes_choices(&ranks, rng) {
        let n = rng.int(1, 3) as usize;
        check_vmap_axes(c, &axes, n, rng);
        counts.vmap += 1;
    }
}

fn run_cases(what: &str, cases: &[Case], seed: u64) -> Counts {
    let mut rng = Rng::new(seed);
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    for c in cases {
        let args = (c.gen)(&mut rng);
        let checks: [(&str, Check); 3] = [
            ("jit", &|_, k| check_jit(c, &args, k)),
            ("derivative", &|r, k| check_deriv(c, &args, r, k)),
            ("vmap", &|r, k| check_vmap(c, &args, r, k)),
        ];
        for (check, run) in checks {
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(&mut rng, &mut counts)
            }));
            if let Err(e) = res {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{} [{check}]: {msg}", c.name));
            }
        }
    }
    counts.report(what);
    assert!(
        failures.is_empty(),
        "{} failing checks:\n{}",
        failures.len(),
        failures.join("\n")
    );
    counts
}

fn gen(g: impl Fn(&mut Rng) -> Vec<Array> + 'static) -> Gen {
    Rc::new(g)
}

fn fun(f: impl Fn(&[Array]) -> Vec<Array> + 'static) -> Fun {
    Rc::new(f)
}

// ---- elementwise ----------------------------------------------------------------------

/// (kind, lo, hi, signed magnitude, derivative order).
fn smooth_unary() -> Vec<(UnaryKind, f64, f64, bool, usize)> {
    use UnaryKind::*;
    vec![
        (Neg, -2.0, 2.0, false, 2),
        (Abs, 0.2, 2.0, true, 2),
        (Exp, -2.0, 2.0, false, 2),
        (Exp2, -2.0, 2.0, false, 2),
        (Expm1, -2.0, 2.0, false, 2),
        (Log, 0.2, 3.0, false, 2),
        (Log1p, -0.5, 2.0, false, 2),
        (Sqrt, 0.2, 3.0, false, 2),
        (Rsqrt, 0.2, 3.0, false, 2),
        (Cbrt, 0.2, 3.0, true, 2),
        (Sin, -3.0, 3.0, false, 2),
        (Cos, -3.0, 3.0, false, 2),
        (Tan, -1.2, 1.2, false, 2),
        (Asin, -0.8, 0.8, false, 2),
        (Acos, -0.8, 0.8, false, 2),
        (Atan, -3.0, 3.0, false, 2),
        (Sinh, -2.0, 2.0, false, 2),
        (Cosh, -2.0, 2.0, false, 2),
        (Tanh, -2.0, 2.0, false, 2),
        (Asinh, -3.0, 3.0, false, 2),
        (Acosh, 1.2, 3.0, false, 2),
        (Atanh, -0.8, 0.8, false, 2),
        (Logistic, -3.0, 3.0, false, 2),
        (Erf, -2.0, 2.0, false, 2),
        (Erfc, -2.0, 2.0, false, 2),
        (ErfInv, -0.8, 0.8, false, 2),
        // lgamma' = digamma, digamma' = trigamma.
        (Lgamma, 0.5, 3.0, false, 2),
        (Digamma, 0.5, 3.0, false, 2),
    ]
}

fn unary_cases(rng: &mut Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    for (kind, lo, hi, sgn, order) in smooth_unary() {
        for inst in 0..2 {
            let shape = shape_of(rng, usize::from(inst == 0), 3, 3);
            let g = gen(move |r| {
                vec![if sgn {
                    signed(r, &shape, lo, hi)
                } else {
                    uni(r, &shape, lo, hi)
                }]
            });
            let deriv = Deriv::Smooth { order, eps: None };
            cases.push(case(
                format!("{kind:?}"),
                deriv,
                g,
                fun(move |x| vec![lax::unary(kind, &x[0])]),
            ));
        }
    }
    // Piecewise-constant float ops: zero derivative (values off the jumps).
    use UnaryKind::*;
    for kind in [Sign, Floor, Ceil, Round(0), Round(1), IsFinite] {
        let shape = shape_of(rng, 1, 3, 3);
        let g = gen(move |r| vec![signed(r, &shape, 0.1, 3.0)]);
        cases.push(case(
            format!("{kind:?}"),
            Deriv::Zero,
            g,
            fun(move |x| vec![lax::unary(kind, &x[0])]),
        ));
    }
    // Integer / bool unary ops.
    for (kind, dtype) in [
        (Neg, DType::I32),
        (Abs, DType::I32),
        (Sign, DType::I32),
        (Not, DType::I32),
        (Not, DType::Bool),
        (PopulationCount, DType::U8),
        (PopulationCount, DType::I32),
    ] {
        let shape = shape_of(rng, 0, 3, 3);
        let g = gen(move |r| vec![random_array(r, dtype, &shape, -100.0, 100.0)]);
        cases.push(case(
            format!("{kind:?}:{dtype}"),
            Deriv::Zero,
            g,
            fun(move |x| vec![lax::unary(kind, &x[0])]),
        ));
    }
    cases
}

/// Operand shapes of a binary case: equal, y 0-d, or x 0-d.
fn binary_shapes(rng: &mut Rng, inst: usize) -> (Vec<usize>, Vec<usize>) {
    let s = shape_of(rng, 1, 3, 3);
    match inst {
        0 => (s.clone(), s),
        1 => (s, vec![]),
        _ => (vec![], s),
    }
}

fn binary_cases(rng: &mut Rng) -> Vec<Case> {
    use BinaryKind::*;
    let mut cases = Vec::new();
    // (kind, x range, y range, y signed).
    let smooth: Vec<(BinaryKind, Range, Range, bool)> = vec![
        (Add, (-2.0, 2.0), (-2.0, 2.0), false),
        (Sub, (-2.0, 2.0), (-2.0, 2.0), false),
        (Mul, (-2.0, 2.0), (-2.0, 2.0), false),
        (Div, (-2.0, 2.0), (0.5, 2.0), true),
        (Pow, (0.5, 2.0), (-2.0, 2.0), false),
        (Atan2, (0.3, 2.0), (-2.0, 2.0), false),
    ];
    for (kind, (xl, xh), (yl, yh), ysgn) in smooth {
        for inst in 0..3 {
            let (sx, sy) = binary_shapes(rng, inst);
            let g = gen(move |r| {
                let x = if kind == Atan2 {
                    signed(r, &sx, xl, xh)
                } else {
                    uni(r, &sx, xl, xh)
                };
                let y = if ysgn {
                    signed(r, &sy, yl, yh)
                } else {
                    uni(r, &sy, yl, yh)
                };
                vec![x, y]
            });
            cases.push(case(
                format!("{kind:?}"),
                SMOOTH,
                g,
                fun(move |a| vec![lax::binary(kind, &a[0], &a[1])]),
            ));
        }
    }
    // rem: x = q*y + r with r in (0.2, 0.8)*y keeps off the jumps of fmod.
    for inst in 0..3 {
        let (sx, sy) = binary_shapes(rng, inst);
        let g = gen(move |r| {
            let y = signed(r, &sy, 0.5, 2.0);
            let yv = y.to_f64_vec();
            let n = size(&sx).max(size(&sy));
            let xv: Vec<f64> = (0..size(&sx))
                .map(|i| {
                    let yi = yv[if yv.len() == 1 { 0 } else { i }];
                    let q = r.int(-2, 2) as f64;
                    let s = if r.int(0, 1) == 0 { 1.0 } else { -1.0 };
                    s * (q.abs() + r.uniform(0.2, 0.8)) * yi.abs()
                })
                .collect();
            let _ = n;
            vec![f64s(&sx, xv), y]
        });
        cases.push(case(
            "Rem",
            SMOOTH,
            g,
            fun(|a| vec![lax::rem(&a[0], &a[1])]),
        ));
    }
    // max/min: operands apart by at least 0.1 (no ties; ties are tested separately).
    for kind in [Max, Min] {
        for inst in 0..3 {
            let (sx, sy) = binary_shapes(rng, inst);
            let g = gen(move |r| {
                let y = uni(r, &sy, -2.0, 2.0);
                let yv = y.to_f64_vec();
                let xv: Vec<f64> = (0..size(&sx))
                    .map(|i| {
                        let yi = yv[if yv.len() == 1 { 0 } else { i }];
                        yi + if r.int(0, 1) == 0 { 1.0 } else { -1.0 } * r.uniform(0.1, 1.0)
                    })
                    .collect();
                vec![f64s(&sx, xv), y]
            });
            cases.push(case(
                format!("{kind:?}"),
                SMOOTH,
                g,
                fun(move |a| vec![lax::binary(kind, &a[0], &a[1])]),
            ));
        }
    }
    // pow with an integer exponent: differentiable in the base only.
    for inst in 0..2 {
        let (sx, sy) = binary_shapes(rng, inst);
        let g = gen(move |r| {
            vec![
                uni(r, &sx, 0.5, 2.0),
                random_array(r, DType::I32, &sy, -3.0, 3.0),
            ]
        });
        cases.push(case(
            "Pow:f64^i32",
            SMOOTH,
            g,
            fun(|a| vec![lax::pow(&a[0], &a[1])]),
        ));
    }
    // nextafter: zero derivative.
    for inst in 0..2 {
        let (sx, sy) = binary_shapes(rng, inst);
        let g = gen(move |r| vec![uni(r, &sx, -2.0, 2.0), uni(r, &sy, -2.0, 2.0)]);
        cases.push(case(
            "NextAfter",
            Deriv::Zero,
            g,
            fun(|a| vec![lax::nextafter(&a[0], &a[1])]),
        ));
    }
    // Integer and bool binary ops (jit, vmap, zero tangents).
    let int_ops: Vec<(BinaryKind, DType, Range, Range)> = vec![
        (Add, DType::I32, (-50.0, 50.0), (-50.0, 50.0)),
        (Sub, DType::I32, (-50.0, 50.0), (-50.0, 50.0)),
        (Mul, DType::I32, (-50.0, 50.0), (-50.0, 50.0)),
        (Div, DType::I32, (-50.0, 50.0), (1.0, 9.0)),
        (Rem, DType::I32, (-50.0, 50.0), (1.0, 9.0)),
        (Pow, DType::I32, (-3.0, 3.0), (0.0, 4.0)),
        (Max, DType::I32, (-50.0, 50.0), (-50.0, 50.0)),
        (Min, DType::U8, (0.0, 255.0), (0.0, 255.0)),
        (Max, DType::Bool, (0.0, 1.0), (0.0, 1.0)),
        (And, DType::I32, (-99.0, 99.0), (-99.0, 99.0)),
        (Or, DType::U8, (0.0, 255.0), (0.0, 255.0)),
        (Xor, DType::Bool, (0.0, 1.0), (0.0, 1.0)),
        (And, DType::Bool, (0.0, 1.0), (0.0, 1.0)),
        (ShiftLeft, DType::I32, (-99.0, 99.0), (0.0, 7.0)),
        (ShiftRightLogical, DType::I32, (-99.0, 99.0), (0.0, 7.0)),
        (ShiftRightArithmetic, DType::I32, (-99.0, 99.0), (0.0, 7.0)),
    ];
    for (kind, dtype, (xl, xh), (yl, yh)) in int_ops {
        let inst = rng_pick(rng, 3);
        let (sx, sy) = binary_shapes(rng, inst);
        let g = gen(move |r| {
            vec![
                random_array(r, dtype, &sx, xl, xh),
                random_array(r, dtype, &sy, yl, yh),
            ]
        });
        cases.push(case(
            format!("{kind:?}:{dtype}"),
            Deriv::Zero,
            g,
            fun(move |a| vec![lax::binary(kind, &a[0], &a[1])]),
        ));
    }
    cases
}

fn rng_pick(rng: &mut Rng, n: usize) -> usize {
    rng.int(0, n as i64 - 1) as usize
}

fn compare_cases(rng: &mut Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    for kind in [
        CmpKind::Eq,
        CmpKind::Ne,
        CmpKind::Lt,
        CmpKind::Le,
        CmpKind::Gt,
        CmpKind::Ge,
    ] {
        for (inst, dtype) in [(0, DType::F64), (1, DType::F64), (2, DType::I32)] {
            let (sx, sy) = binary_shapes(rng, inst);
            // Values on a small grid so that ties occur.
            let g = gen(move |r| {
                [
                    random_array(r, DType::I32, &sx, -2.0, 2.0),
                    random_array(r, DType::I32, &sy, -2.0, 2.0),
                ]
                .iter()
                .map(|a| lax::convert_element_type(a, dtype))
                .collect()
            });
            cases.push(case(
                format!("{kind:?}:{dtype}"),
                Deriv::Zero,
                g,
                fun(move |a| {
                    let f = match kind {
                        CmpKind::Eq => lax::eq,
                        CmpKind::Ne => lax::ne,
                        CmpKind::Lt => lax::lt,
                        CmpKind::Le => lax::le,
                        CmpKind::Gt => lax::gt,
                        CmpKind::Ge => lax::ge,
                    };
                    vec![f(&a[0], &a[1])]
                }),
            ));
        }
    }
    cases
}

fn select_clamp_cases(rng: &mut Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    // select_n with a bool predicate (0-d or shaped) and two cases.
    for inst in 0..2 {
        let s = shape_of(rng, 1, 3, 3);
        let ps = if inst == 0 { s.clone() } else { vec![] };
        let g = gen(move |r| {
            vec![
                random_array(r, DType::Bool, &ps, 0.0, 1.0),
                uni(r, &s, -2.0, 2.0),
                uni(r, &s, -2.0, 2.0),
            ]
        });
        cases.push(case(
            "select_n:bool",
            SMOOTH,
            g,
            fun(|a| vec![lax::select_n(&a[0], &a[1..])]),
        ));
    }
    // select_n with an int32 predicate and three cases.
    for inst in 0..2 {
        let s = shape_of(rng, 1, 3, 3);
        let ps = if inst == 0 { s.clone() } else { vec![] };
        let g = gen(move |r| {
            vec![
                random_array(r, DType::I32, &ps, 0.0, 2.0),
                uni(r, &s, -2.0, 2.0),
                uni(r, &s, -2.0, 2.0),
                uni(r, &s, -2.0, 2.0),
            ]
        });
        cases.push(case(
            "select_n:i32",
            SMOOTH,
            g,
            fun(|a| vec![lax::select_n(&a[0], &a[1..])]),
        ));
    }
    // clamp with 0-d or shaped bounds; x kept 0.1 away from both bounds.
    for inst in 0..3 {
        let s = shape_of(rng, 1, 3, 3);
        let (lo_s, hi_s) = match inst {
            0 => (vec![], vec![]),
            1 => (s.clone(), vec![]),
            _ => (s.clone(), s.clone()),
        };
        let g = gen(move |r| {
            let lo = uni(r, &lo_s, -1.0, -0.3);
            let hi = uni(r, &hi_s, 0.3, 1.0);
            let (lv, hv) = (lo.to_f64_vec(), hi.to_f64_vec());
            let xv: Vec<f64> = (0..size(&s))
                .map(|i| {
                    let l = lv[if lv.len() == 1 { 0 } else { i }];
                    let h = hv[if hv.len() == 1 { 0 } else { i }];
                    loop {
                        let x = r.uniform(-1.5, 1.5);
                        if (x - l).abs() > 0.1 && (x - h).abs() > 0.1 {
                            break x;
                        }
                    }
                })
                .collect();
            vec![lo, f64s(&s, xv), hi]
        });
        cases.push(case(
            "clamp",
            SMOOTH,
            g,
            fun(|a| vec![lax::clamp(&a[0], &a[1], &a[2])]),
        ));
    }
    cases
}

fn conversion_cases(rng: &mut Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    let convs: Vec<(DType, DType, Deriv)> = vec![
        (
            DType::F64,
            DType::F32,
            Deriv::Smooth {
                order: 2,
                eps: Some(0.25),
            },
        ),
        (DType::F32, DType::F64, SMOOTH),
        (DType::F64, DType::I32, Deriv::Zero),
        (DType::F64, DType::Bool, Deriv::Zero),
        (DType::I32, DType::F64, Deriv::Zero),
        (DType::Bool, DType::F32, Deriv::Zero),
        (DType::U8, DType::I32, Deriv::Zero),
    ];
    for (from, to, deriv) in convs {
        let s = shape_of(rng, 0, 3, 3);
        let g = gen(move |r| vec![random_array(r, from, &s, -3.0, 3.0)]);
        cases.push(case(
            format!("convert_element_type:{from}->{to}"),
            deriv,
            g,
            fun(move |a| vec![lax::convert_element_type(&a[0], to)]),
        ));
    }
    // A weak-typed result.
    let s = shape_of(rng, 1, 2, 3);
    cases.push(case(
        "convert_element_type:weak",
        SMOOTH,
        gen(move |r| vec![random_array(r, DType::F32, &s, -3.0, 3.0)]),
        fun(|a| vec![lax::convert_weak(&a[0], DType::F64, true)]),
    ));
    // bitcast_convert_type: same width, narrower (adds a dim), wider (drops one).
    let bitcasts: Vec<(DType, DType, bool)> = vec![
        (DType::F64, DType::I64, false),
        (DType::F32, DType::I32, false),
        (DType::F64, DType::U32, false),
        (DType::U32, DType::F64, true),
        (DType::I32, DType::F32, false),
    ];
    for (from, to, needs_pair) in bitcasts {
        let mut s = shape_of(rng, 1, 2, 3);
        if needs_pair {
            s.push(2);
        }
        let g = gen(move |r| vec![random_array(r, from, &s, -3.0, 3.0)]);
        cases.push(case(
            format!("bitcast_convert_type:{from}->{to}"),
            Deriv::Zero,
            g,
            fun(move |a| vec![lax::bitcast_convert_type(&a[0], to)]),
        ));
    }
    // integer_pow over several exponents (x away from 0 for negative powers).
    for y in [-3, -2, -1, 0, 1, 2, 3, 4] {
        let s = shape_of(rng, 0, 3, 3);
        let g = gen(move |r| vec![signed(r, &s, 0.4, 1.6)]);
        cases.push(case(
            format!("integer_pow:{y}"),
            SMOOTH,
            g,
            fun(move |a| vec![lax::integer_pow(&a[0], y)]),
        ));
    }
    for y in [0, 2, 3] {
        let s = shape_of(rng, 1, 3, 3);
        let g = gen(move |r| vec![random_array(r, DType::I32, &s, -5.0, 5.0)]);
        cases.push(case(
            format!("integer_pow:i32:{y}"),
            Deriv::Zero,
            g,
            fun(move |a| vec![lax::integer_pow(&a[0], y)]),
        ));
    }
    // reduce_precision: f64's own widths (the identity, so finite differences apply)
    // and narrower formats (jit/vmap, and the JVP rounds the tangent the same way).
    for (e, m) in [(11u32, 52u32), (8, 23), (5, 10), (8, 7)] {
        let s = shape_of(rng, 0, 3, 3);
        let deriv = if (e, m) == (11, 52) {
            SMOOTH
        } else {
            Deriv::NoInputs
        };
        let g = gen(move |r| vec![uni(r, &s, -3.0, 3.0)]);
        cases.push(case(
            format!("reduce_precision:{e},{m}"),
            deriv,
            g,
            fun(move |a| vec![lax::reduce_precision(&a[0], e, m)]),
        ));
    }
    cases
}

#[test]
fn elementwise_matrix() {
    let mut rng = Rng::new(11);
    let mut cases = unary_cases(&mut rng);
    cases.extend(binary_cases(&mut rng));
    cases.extend(compare_cases(&mut rng));
    cases.extend(select_clamp_cases(&mut rng));
    cases.extend(conversion_cases(&mut rng));
    run_cases("elementwise", &cases, 12);
}

// ---- shape primitives ---------------------------------------------------------------

/// Draws f64 (differentiable) or i32 (jit/vmap, zero tangents) operands.
fn operand(r: &mut Rng, dtype: DType, shape: &[usize]) -> Array {
    if dtype.is_float() {
        uni(r, shape, -2.0, 2.0)
    } else {
        random_array(r, dtype, shape, -9.0, 9.0)
    }
}

fn deriv_for(dtype: DType) -> Deriv {
    if dtype.is_float() {
        SMOOTH
    } else {
        Deriv::Zero
    }
}

/// A random subset of 0..n, sorted.
fn subset(rng: &mut Rng, n: usize) -> Vec<usize> {
    (0..n).filter(|_| rng.int(0, 1) == 1).collect()
}

fn shape_cases(rng: &mut Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    for inst in 0..3 {
        let dtype = if inst == 2 { DType::I32 } else { DType::F64 };
        let d = deriv_for(dtype);
        let name = |op: &str| format!("{op}:{dtype}");

        // broadcast_in_dim: new dims and expanded size-1 dims.
        let out_rank = rng.int(1, 3) as usize;
        let bdims = subset(rng, out_rank);
        let out_shape: Vec<usize> = (0..out_rank).map(|_| rng.int(1, 3) as usize).collect();
        let in_shape: Vec<usize> = bdims
            .iter()
            .map(|&b| if rng.int(0, 2) == 0 { 1 } else { out_shape[b] })
            .collect();
        let (os, bd) = (out_shape.clone(), bdims.clone());
        cases.push(case(
            name("broadcast_in_dim"),
            d,
            gen(move |r| vec![operand(r, dtype, &in_shape)]),
            fun(move |a| vec![lax::broadcast_in_dim(&a[0], &os, &bd)]),
        ));

        // reshape: to a random factorisation of the element count.
        let s = shape_of(rng, 1, 3, 4);
        let n = size(&s);
        let divisors: Vec<usize> = (1..=n).filter(|k| n.is_multiple_of(*k)).collect();
        let k = divisors[rng_pick(rng, divisors.len())];
        let new_shape = if rng.int(0, 1) == 0 {
            vec![k, n / k]
        } else {
            vec![n / k, 1, k]
        };
        cases.push(case(
            name("reshape"),
            d,
            gen(move |r| vec![operand(r, dtype, &s)]),
            fun(move |a| vec![lax::reshape(&a[0], &new_shape)]),
        ));

        // squeeze / expand_dims: size-1 dims at random positions.
        let base = shape_of(rng, 0, 2, 3);
        let rank = base.len() + rng.int(1, 2) as usize;
        let mut ones = subset(rng, rank);
        ones.truncate(rank - base.len());
        while ones.len() < rank - base.len() {
            let c = (0..rank).find(|c| !ones.contains(c)).unwrap_or(0);
            ones.push(c);
            ones.sort_unstable();
        }
        let mut it = base.iter();
        let with_ones: Vec<usize> = (0..rank)
            .map(|i| {
                if ones.contains(&i) {
                    1
                } else {
                    *it.next().unwrap_or(&1)
                }
            })
            .collect();
        let o = ones.clone();
        cases.push(case(
            name("squeeze"),
            d,
            gen(move |r| vec![operand(r, dtype, &with_ones)]),
            fun(move |a| vec![lax::squeeze(&a[0], &o)]),
        ));
        let b2 = base.clone();
        cases.push(case(
            name("expand_dims"),
            d,
            gen(move |r| vec![operand(r, dtype, &b2)]),
            fun(move |a| vec![lax::expand_dims(&a[0], &ones)]),
        ));

        // transpose: a random permutation.
        let s = shape_of(rng, 1, 4, 3);
        let mut perm: Vec<usize> = (0..s.len()).collect();
        for i in (1..perm.len()).rev() {
            let j = rng.int(0, i as i64) as usize;
            perm.swap(i, j);
        }
        cases.push(case(
            name("transpose"),
            d,
            gen(move |r| vec![operand(r, dtype, &s)]),
            fun(move |a| vec![lax::transpose(&a[0], &perm)]),
        ));

        // rev: a random non-empty subset of dims.
        let s = shape_of(rng, 1, 3, 3);
        let mut dims = subset(rng, s.len());
        if dims.is_empty() {
            dims.push(s.len() - 1);
        }
        cases.push(case(
            name("rev"),
            d,
            gen(move |r| vec![operand(r, dtype, &s)]),
            fun(move |a| vec![lax::rev(&a[0], &dims)]),
        ));

        // slice: random start/limit/strides.
        let s = shape_of(rng, 1, 3, 5);
        let start: Vec<usize> = s
            .iter()
            .map(|&n| rng.int(0, n as i64 - 1) as usize)
            .collect();
        let limit: Vec<usize> = s
            .iter()
            .zip(&start)
            .map(|(&n, &st)| rng.int(st as i64 + 1, n as i64) as usize)
            .collect();
        let strides: Vec<usize> = s.iter().map(|_| rng.int(1, 3) as usize).collect();
        cases.push(case(
            name("slice"),
            d,
            gen(move |r| vec![operand(r, dtype, &s)]),
            fun(move |a| vec![lax::slice(&a[0], &start, &limit, Some(&strides))]),
        ));

        // concatenate: 2-3 operands differing along the dimension.
        let s = shape_of(rng, 1, 3, 3);
        let dim = rng_pick(rng, s.len());
        let shapes: Vec<Vec<usize>> = (0..rng.int(2, 3))
            .map(|_| {
                let mut t = s.clone();
                t[dim] = rng.int(1, 3) as usize;
                t
            })
            .collect();
        cases.push(case(
            name("concatenate"),
            d,
            gen(move |r| shapes.iter().map(|t| operand(r, dtype, t)).collect()),
            fun(move |a| vec![lax::concatenate(a, dim)]),
        ));

        // pad: low/high in -2..=3 (negative crops), interior 0..=2; the padding value
        // is an operand too.
        let s = shape_of(rng, 0, 3, 4);
        let cfg: Vec<(i64, i64, usize)> = s
            .iter()
            .map(|&n| loop {
                let (lo, hi, int) = (rng.int(-2, 3), rng.int(-2, 3), rng.int(0, 2) as usize);
                if lo + hi + n as i64 + ((n - 1) * int) as i64 >= 0 {
                    break (lo, hi, int);
                }
            })
            .collect();
        cases.push(case(
            name("pad"),
            d,
            gen(move |r| vec![operand(r, dtype, &s), operand(r, dtype, &[])]),
            fun(move |a| vec![lax::pad(&a[0], &a[1], &cfg)]),
        ));

        // iota: no operands, jit only.
        let s = shape_of(rng, 1, 3, 4);
        let dim = rng_pick(rng, s.len());
        cases.push(case(
            name("iota"),
            Deriv::NoInputs,
            gen(|_| vec![]),
            fun(move |_| vec![lax::broadcasted_iota(dtype, &s, dim)]),
        ));
    }
    cases
}

#[test]
fn shape_matrix() {
    let mut rng = Rng::new(21);
    let cases = shape_cases(&mut rng);
    run_cases("shape", &cases, 22);
}

// ---- reductions ---------------------------------------------------------------------

fn reduce_cases(rng: &mut Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    use ReduceKind::*;
    for kind in [Sum, Max, Min, Prod] {
        for inst in 0..3 {
            let s = shape_of(rng, 1, 3, 4);
            let axes = match inst {
                0 => (0..s.len()).collect(),
                _ => subset(rng, s.len()),
            };
            let g = gen(move |r| {
                vec![match kind {
                    Max | Min => distinct(r, &s),
                    Prod => signed(r, &s, 0.5, 1.5),
                    _ => uni(r, &s, -2.0, 2.0),
                }]
            });
            cases.push(case(
                format!("reduce_{kind:?}"),
                SMOOTH,
                g,
                fun(move |a| vec![lax::reduce(&a[0], kind, &axes)]),
            ));
        }
    }
    // Integer and bool reductions.
    for (kind, dtype) in [
        (Sum, DType::I32),
        (Max, DType::I32),
        (Min, DType::U8),
        (Prod, DType::I32),
        (And, DType::Bool),
        (Or, DType::Bool),
        (Xor, DType::Bool),
        (And, DType::I32),
        (Or, DType::U8),
        (Xor, DType::I32),
    ] {
        let s = shape_of(rng, 1, 3, 4);
        let axes = subset(rng, s.len());
        let g = gen(move |r| vec![random_array(r, dtype, &s, -3.0, 3.0)]);
        cases.push(case(
            format!("reduce_{kind:?}:{dtype}"),
            Deriv::Zero,
            g,
            fun(move |a| vec![lax::reduce(&a[0], kind, &axes)]),
        ));
    }
    // argmax / argmin: zero derivative; float and integer operands.
    for is_max in [true, false] {
        for dtype in [DType::F64, DType::F64, DType::I32] {
            let s = shape_of(rng, 1, 3, 4);
            let axis = rng_pick(rng, s.len());
            let g = gen(move |r| {
                vec![if dtype.is_float() {
                    distinct(r, &s)
                } else {
                    random_array(r, dtype, &s, -3.0, 3.0)
                }]
            });
            cases.push(case(
                format!("arg{}:{dtype}", if is_max { "max" } else { "min" }),
                Deriv::Zero,
                g,
                fun(move |a| {
                    vec![if is_max {
                        lax::argmax(&a[0], axis, DType::I32)
                    } else {
                        lax::argmin(&a[0], axis, DType::I32)
                    }]
                }),
            ));
        }
    }
    cases
}

#[test]
fn reduce_matrix() {
    let mut rng = Rng::new(31);
    let cases = reduce_cases(&mut rng);
    run_cases("reduce", &cases, 32);
}

// ---- compositions -------------------------------------------------------------------

/// A per-example loss: sum(tanh(x * w) * x + log1p(exp(w * w))) over one example.
fn loss(w: &Array, x: &Array) -> Array {
    let all: Vec<usize> = (0..x.ndim()).collect();
    let a = lax::mul(&lax::tanh(&lax::mul(x, w)), x);
    let b = lax::log1p(&lax::exp(&lax::mul(w, w)));
    lax::reduce_sum(&lax::add(&a, &b), &all)
}

fn grad_w(w: &Array, x: &Array) -> Array {
    let x = x.clone();
    ad::value_and_grad_flat(|a| vec![loss(&a[0], &x)], std::slice::from_ref(w)).1[0].clone()
}

#[test]
fn compositions() {
    let mut rng = Rng::new(41);
    let mut n = 0;
    let (b, d) = (3, 4);
    let w = uni(&mut rng, &[d], -1.0, 1.0);
    let xs = uni(&mut rng, &[b, d], -1.0, 1.0);
    let rows: Vec<Array> = (0..b)
        .map(|i| lax::reshape(&lax::slice_in_dim(&xs, i, i + 1, 1, 0), &[d]))
        .collect();
    let per_example = stack(&rows.iter().map(|x| grad_w(&w, x)).collect::<Vec<_>>(), 0);

    // vmap of grad: per-example gradients, with x batched at 0 and at 1.
    for (x_b, ax) in [(xs.clone(), 0), (lax::transpose(&xs, &[1, 0]), 1)] {
        let got = vmap_flat(
            |a| vec![grad_w(&a[0], &a[1])],
            &[w.clone(), x_b],
            &[None, Some(ax)],
            &[Some(0)],
            None,
        );
        assert_same("vmap(grad)", &got[0], &per_example);
        n += 1;
    }

    // grad of vmap: the gradient of the summed batch loss is the sum of the
    // per-example gradients; and check_grads through vmap.
    let batch_loss = |a: &[Array]| {
        let l = vmap_flat(
            |p| vec![loss(&p[0], &p[1])],
            &[a[0].clone(), a[1].clone()],
            &[None, Some(0)],
            &[Some(0)],
            None,
        );
        vec![lax::reduce_sum(&l[0], &[0])]
    };
    let (_, g) = ad::value_and_grad_flat(batch_loss, &[w.clone(), xs.clone()]);
    let want = lax::reduce_sum(&per_example, &[0]);
    assert_close_vec("grad(vmap)", &g[0], &want, 1e-12);
    check_grads(
        &batch_loss,
        &[w.clone(), xs.clone()],
        2,
        Modes::Both,
        None,
        None,
    );
    n += 2;

    // jvp of grad (a Hessian-vector product) against finite differences of grad.
    let v = uni(&mut rng, &[d], -1.0, 1.0);
    let x0 = rows[0].clone();
    let g_of = |a: &[Array]| vec![grad_w(&a[0], &x0)];
    let (_, hv) = jvp_flat(g_of, std::slice::from_ref(&w), std::slice::from_ref(&v));
    let eps = 1e-5;
    let shift = |s: f64| {
        let vals: Vec<f64> = w
            .to_f64_vec()
            .iter()
            .zip(v.to_f64_vec())
            .map(|(a, b)| a + s * b)
            .collect();
        grad_w(&f64s(&[d], vals), &x0).to_f64_vec()
    };
    let (gp, gm) = (shift(eps), shift(-eps));
    let fd: Vec<f64> = gp
        .iter()
        .zip(&gm)
        .map(|(p, m)| (p - m) / (2.0 * eps))
        .collect();
    assert_close_vec("jvp(grad)", &hv[0], &f64s(&[d], fd), 1e-6);
    n += 1;

    // grad(grad(grad(f))) of f(x) = x^3 sin x, against the closed form.
    let f = |x: &Array| lax::mul(&lax::integer_pow(x, 3), &lax::sin(x));
    let d1 = |x: &Array| {
        ad::value_and_grad_flat(|a| vec![f(&a[0])], std::slice::from_ref(x)).1[0].clone()
    };
    let d2 = |x: &Array| {
        ad::value_and_grad_flat(|a| vec![d1(&a[0])], std::slice::from_ref(x)).1[0].clone()
    };
    let d3 = |x: &Array| {
        ad::value_and_grad_flat(|a| vec![d2(&a[0])], std::slice::from_ref(x)).1[0].clone()
    };
    for _ in 0..3 {
        let x = rng.uniform(-2.0, 2.0);
        let got = d3(&Array::scalar_f64(x, DType::F64, false)).item_f64();
        let want = 6.0 * x.sin() + 18.0 * x * x.cos() - 9.0 * x * x * x.sin() - x.powi(3) * x.cos();
        assert!(
            (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
            "grad^3: {got} vs {want}"
        );
        n += 1;
    }

    // jit of grad and jit of vmap(grad) (JitCache over a value_and_grad_flat call).
    let cache: JitCache<u8> = JitCache::new("jit_grad");
    let avals = [w.aval(), x0.aval()];
    let jg = cache.get_or_compile(&0, &avals, |a| {
        let x = a[1].clone();
        let (v, g) = ad::value_and_grad_flat(|p| vec![loss(&p[0], &x)], &a[..1]);
        vec![v, g[0].clone()]
    });
    let out = jg.run(&[w.clone(), x0.clone()]);
    assert_close_vec("jit(grad)", &out[1], &grad_w(&w, &x0), 1e-14);
    assert_close_vec("jit(value)", &out[0], &loss(&w, &x0), 1e-14);
    let cache: JitCache<u8> = JitCache::new("jit_vmap_grad");
    let jv = cache.get_or_compile(&0, &[w.aval(), xs.aval()], |a| {
        vmap_flat(
            |p| vec![grad_w(&p[0], &p[1])],
            a,
            &[None, Some(0)],
            &[Some(0)],
            None,
        )
    });
    assert_close_vec(
        "jit(vmap(grad))",
        &jv.run(&[w.clone(), xs.clone()])[0],
        &per_example,
        1e-14,
    );
    n += 3;
    eprintln!("transform matrix [compositions]: {n} cases");
}

#[track_caller]
fn assert_close_vec(what: &str, got: &Array, want: &Array, tol: f64) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (g, w) in got.to_f64_vec().iter().zip(want.to_f64_vec()) {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}: {g} vs {w}");
    }
}

// ---- JAX's derivative conventions -----------------------------------------------------

fn grad1(f: impl Fn(&Array) -> Array, x: &Array) -> Vec<f64> {
    ad::value_and_grad_flat(
        |a| {
            let y = f(&a[0]);
            let all: Vec<usize> = (0..y.ndim()).collect();
            vec![lax::reduce_sum(&y, &all)]
        },
        std::slice::from_ref(x),
    )
    .1[0]
        .to_f64_vec()
}

#[test]
fn derivative_conventions() {
    // abs'(x) = select(x >= 0, 1, -1): +1 at 0 (and at -0.0, which is >= 0).
    let x = f64s(&[4], vec![0.0, -0.0, 2.0, -2.0]);
    assert_eq!(grad1(lax::abs, &x), vec![1.0, 1.0, 1.0, -1.0]);
    // max/min ties split the derivative evenly between the operands.
    for kind in [BinaryKind::Max, BinaryKind::Min] {
        let a = f64s(&[3], vec![1.0, 2.0, 3.0]);
        let b = f64s(&[3], vec![1.0, 5.0, 0.0]);
        let (_, g) = ad::value_and_grad_flat(
            |p| vec![lax::reduce_sum(&lax::binary(kind, &p[0], &p[1]), &[0])],
            &[a, b],
        );
        let (ga, gb) = (g[0].to_f64_vec(), g[1].to_f64_vec());
        let a_wins = if kind == BinaryKind::Max {
            [0.0, 1.0]
        } else {
            [1.0, 0.0]
        };
        assert_eq!(ga, vec![0.5, a_wins[0], a_wins[1]], "{kind:?} wrt x");
        assert_eq!(
            gb,
            vec![0.5, 1.0 - a_wins[0], 1.0 - a_wins[1]],
            "{kind:?} wrt y"
        );
    }
    // reduce_max / reduce_min ties share the derivative evenly.
    let x = f64s(&[2, 4], vec![1.0, 3.0, 3.0, 2.0, 5.0, 5.0, 5.0, -1.0]);
    let g = grad1(|v| lax::reduce_max(v, &[1]), &x);
    let third = 1.0 / 3.0;
    assert_eq!(g, vec![0.0, 0.5, 0.5, 0.0, third, third, third, 0.0]);
    let x = f64s(&[5], vec![0.0, 4.0, 0.0, 0.0, 1.0]);
    let g = grad1(|v| lax::reduce_min(v, &[0]), &x);
    assert_eq!(g, vec![third, 0.0, third, third, 0.0]);
    // sqrt'(0) = inf.
    let g = grad1(lax::sqrt, &f64s(&[2], vec![0.0, 4.0]));
    assert_eq!(g, vec![f64::INFINITY, 0.25]);
    // The JVP of sign/floor/round is a zero tangent (not NaN), also at the jumps.
    let x = f64s(&[3], vec![0.0, 1.0, 2.5]);
    for kind in [UnaryKind::Sign, UnaryKind::Floor, UnaryKind::Round(1)] {
        assert_eq!(grad1(|v| lax::unary(kind, v), &x), vec![0.0; 3], "{kind:?}");
    }
}

// ---- errors -------------------------------------------------------------------------

#[test]
fn grad_errors_name_the_operation_and_line() {
    let here = file!();
    let x = f64s(&[3], vec![1.0, 2.0, 3.0]);
    // A non-scalar output.
    let start = line!();
    let msg = expect_panic(
        || {
            drop(ad::value_and_grad_flat(
                |a| vec![lax::sin(&a[0])],
                std::slice::from_ref(&x),
            ))
        },
        &["grad", "scalar", "f64[3]"],
    );
    assert_located(&msg, here, start, line!());
    // An integer input.
    let xi = Array::from_vec(&[2], vec![1i32, 2]);
    let start = line!();
    let msg = expect_panic(
        || {
            drop(ad::value_and_grad_flat(
                |a| vec![lax::reduce_sum(&a[0], &[0])],
                std::slice::from_ref(&xi),
            ))
        },
        &["grad", "i32[2]", "inexact"],
    );
    assert_located(&msg, here, start, line!());
    // A primitive without a derivative: pmax (like JAX), differentiated inside the
    // vmap that binds its axis, under grad and under jvp.
    let msg = expect_panic(
        || {
            let per_lane = |r: Array| grad(|y: Array| lax::pmax(&y, "i"))(r);
            drop(vmap_with(per_lane, 0, 0, Some("i"))(x.clone()));
        },
        &["pmax", "not differentiable"],
    );
    assert!(msg.contains(here), "{msg}");
    let msg = expect_panic(
        || {
            let per_lane = |r: Array| {
                let (_, t) = jvp_flat(
                    |a| vec![lax::pmax(&a[0], "i")],
                    std::slice::from_ref(&r),
                    std::slice::from_ref(&r),
                );
                t[0].clone()
            };
            drop(vmap_with(per_lane, 0, 0, Some("i"))(x.clone()));
        },
        &["pmax", "not differentiable"],
    );
    assert!(msg.contains(here), "{msg}");
}

/// The message ends with `(at FILE:LINE:COL)` where FILE is this test file and LINE
/// lies in `[start, end]` (the statement that made the call).
#[track_caller]
fn assert_located(msg: &str, file: &str, start: u32, end: u32) {
    let at = msg
        .rfind(&format!("(at {file}:"))
        .unwrap_or_else(|| panic!("no location of {file} in {msg:?}"));
    let rest = &msg[at + 5 + file.len()..];
    let line: u32 = rest
        .split(':')
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("no line in {msg:?}"));
    assert!(
        (start..=end).contains(&line),
        "line {line} not in {start}..={end}: {msg:?}"
    );
}

#[test]
fn pow_derivative_at_zero_follows_jax() {
    // x-side: y * x^(y-1), with 0 where an integer y is 0 (JAX's _pow_jvp_lhs).
    let x = f64s(&[3], vec![0.0, 0.0, 0.0]);
    let y = Array::from_vec(&[3], vec![0i32, 1, 2]);
    let (_, g) = ad::value_and_grad_flat(
        |a| vec![lax::reduce_sum(&lax::pow(&a[0], &y), &[0])],
        std::slice::from_ref(&x),
    );
    assert_eq!(g[0].to_f64_vec(), vec![0.0, 1.0, 0.0]);
    // y-side: log(x with zeros replaced by 1) * ans = 0 at x = 0.
    let yf = f64s(&[2], vec![2.0, 3.0]);
    let x0 = f64s(&[2], vec![0.0, 2.0]);
    let (_, g) = ad::value_and_grad_flat(
        |a| vec![lax::reduce_sum(&lax::pow(&a[0], &a[1]), &[0])],
        &[x0, yf],
    );
    assert_eq!(g[0].to_f64_vec(), vec![0.0, 12.0]);
    let want = 2f64.ln() * 8.0;
    assert_eq!(g[1].to_f64_vec(), vec![0.0, want]);
}
