//! Accuracy of the LLVM math emitters (`oxla::codegen::math`): each function is
//! JIT-compiled into a loop kernel for the host CPU and run on about a million
//! inputs spread over the whole float range; the result is compared with the
//! interpreter evaluated in f64 (Rust std / libm), and the max error in ULPs is
//! asserted per function and printed as a table. Plus a check that the kernel
//! loop vectorizes at O3 and that bad input is rejected.

mod common;
use common::Rng;
use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, InitializationConfig, RelocMode, Target, TargetMachine};
use inkwell::values::FloatValue;
use inkwell::{AddressSpace, IntPredicate, OptimizationLevel};
use oxla::backend::interp::evaluate;
use oxla::codegen::math::{emit_atan2, emit_pow, emit_unary, MathCx};
use oxla::{BinaryOp, Builder, DType, Literal, Shape, UnaryOp};

/// The function under test.
#[derive(Clone, Copy, Debug)]
enum Fun {
    U(UnaryOp),
    Pow,
    Atan2,
}

impl Fun {
    fn arity(self) -> usize {
        match self {
            Fun::U(_) => 1,
            _ => 2,
        }
    }

    fn name(self) -> String {
        match self {
            Fun::U(op) => op.name().to_string(),
            Fun::Pow => "pow".into(),
            Fun::Atan2 => "atan2".into(),
        }
    }
}

/// Emits `void f(const T* a, [const T* b,] T* out, i64 n)` applying `fun`
/// elementwise, with the host CPU's name and features on the function.
fn build_kernel<'ctx>(ctx: &'ctx Context, module: &Module<'ctx>, fun: Fun, wide: bool) {
    let ft = if wide { ctx.f64_type() } else { ctx.f32_type() };
    let ptr = ctx.ptr_type(AddressSpace::default());
    let i64t = ctx.i64_type();
    let mut params = vec![ptr.into(); fun.arity() + 1];
    params.push(i64t.into());
    let f = module.add_function("f", ctx.void_type().fn_type(&params, false), None);
    let cpu = TargetMachine::get_host_cpu_name();
    let features = TargetMachine::get_host_cpu_features();
    let attr = |k: &str, v: &str| ctx.create_string_attribute(k, v);
    let loc = inkwell::attributes::AttributeLoc::Function;
    f.add_attribute(loc, attr("target-cpu", cpu.to_str().unwrap()));
    f.add_attribute(loc, attr("target-features", features.to_str().unwrap()));

    let b = ctx.create_builder();
    let entry = ctx.append_basic_block(f, "entry");
    let body = ctx.append_basic_block(f, "body");
    let exit = ctx.append_basic_block(f, "exit");
    let n = f
        .get_nth_param(fun.arity() as u32 + 1)
        .unwrap()
        .into_int_value();
    b.position_at_end(entry);
    let any = b
        .build_int_compare(IntPredicate::SGT, n, i64t.const_zero(), "any")
        .unwrap();
    b.build_conditional_branch(any, body, exit).unwrap();

    b.position_at_end(body);
    let i = b.build_phi(i64t, "i").unwrap();
    let i_v = i.as_basic_value().into_int_value();
    let load = |k: u32| -> FloatValue<'ctx> {
        let p = f.get_nth_param(k).unwrap().into_pointer_value();
        // SAFETY: i < n and the caller passes arrays of n elements.
        let q = unsafe { b.build_gep(ft, p, &[i_v], "p") }.unwrap();
        b.build_load(ft, q, "x").unwrap().into_float_value()
    };
    let cx = MathCx {
        context: ctx,
        module,
        builder: &b,
        x86_avx512: false,
    };
    let y = match fun {
        Fun::U(op) => emit_unary(&cx, op, load(0)),
        Fun::Pow => emit_pow(&cx, load(0), load(1)),
        Fun::Atan2 => emit_atan2(&cx, load(0), load(1)),
    }
    .unwrap();
    let out = f
        .get_nth_param(fun.arity() as u32)
        .unwrap()
        .into_pointer_value();
    // SAFETY: as for the loads.
    let q = unsafe { b.build_gep(ft, out, &[i_v], "q") }.unwrap();
    b.build_store(q, y).unwrap();
    let next = b
        .build_int_add(i_v, i64t.const_int(1, false), "next")
        .unwrap();
    let more = b
        .build_int_compare(IntPredicate::SLT, next, n, "more")
        .unwrap();
    b.build_conditional_branch(more, body, exit).unwrap();
    i.add_incoming(&[(&i64t.const_zero(), entry), (&next, body)]);
    b.position_at_end(exit);
    b.build_return(None).unwrap();
    module.verify().unwrap();
}

type Kernel1<T> = unsafe extern "C" fn(*const T, *mut T, i64);
type Kernel2<T> = unsafe extern "C" fn(*const T, *const T, *mut T, i64);

/// JIT-compiles `fun` for element type `T` (f32 or f64) and runs it on `args`.
fn run_jit<T: Copy + Default>(fun: Fun, args: &[Vec<T>]) -> Vec<T> {
    Target::initialize_native(&InitializationConfig::default()).unwrap();
    let wide = std::mem::size_of::<T>() == 8;
    let ctx = Context::create();
    let module = ctx.create_module("math_test");
    build_kernel(&ctx, &module, fun, wide);
    let ee: ExecutionEngine = module
        .create_jit_execution_engine(OptimizationLevel::Aggressive)
        .unwrap();
    let n = args[0].len();
    let mut out = vec![T::default(); n];
    match fun.arity() {
        1 => {
            // SAFETY: "f" was built above with exactly this signature.
            let f = unsafe { ee.get_function::<Kernel1<T>>("f") }.unwrap();
            // SAFETY: both buffers hold n elements.
            unsafe { f.call(args[0].as_ptr(), out.as_mut_ptr(), n as i64) };
        }
        _ => {
            // SAFETY: "f" was built above with exactly this signature.
            let f = unsafe { ee.get_function::<Kernel2<T>>("f") }.unwrap();
            // SAFETY: all three buffers hold n elements.
            unsafe {
                f.call(
                    args[0].as_ptr(),
                    args[1].as_ptr(),
                    out.as_mut_ptr(),
                    n as i64,
                )
            };
        }
    }
    out
}

/// The interpreter's f64 result (the reference for both f32 and f64).
fn reference(fun: Fun, args: &[Vec<f64>]) -> Vec<f64> {
    let n = args[0].len();
    let mut b = Builder::new("ref");
    let ps: Vec<_> = args
        .iter()
        .map(|_| b.parameter(Shape::new(DType::F64, vec![n])))
        .collect();
    let y = match fun {
        Fun::U(op) => b.unary(op, ps[0]),
        Fun::Pow => b.binary(BinaryOp::Pow, ps[0], ps[1]),
        Fun::Atan2 => b.binary(BinaryOp::Atan2, ps[0], ps[1]),
    };
    let lits: Vec<Literal> = args
        .iter()
        .map(|a| Literal::from_vec(&[n], a.clone()))
        .collect();
    let out = evaluate(&b.finish(&[y]), &lits).unwrap();
    out[0].as_slice::<f64>().unwrap().to_vec()
}

/// Where the interpreter's f64 math (Rust std / libm) is itself inaccurate, a
/// better f64 reference: the `libm` crate's asinh, acosh, atanh (std's lose
/// accuracy near ±1 and overflow for huge x), logistic below -700 (the
/// interpreter's exp(-x) overflows), erf_inv within 1e-12 of ±1 (Newton on erfc
/// from the interpreter's value).
fn better_reference(fun: Fun, xs: &[f64], interp: Vec<f64>) -> Vec<f64> {
    let Fun::U(op) = fun else { return interp };
    xs.iter()
        .zip(interp)
        .map(|(&x, w)| match op {
            UnaryOp::Asinh => libm::asinh(x),
            UnaryOp::Acosh if x >= 1.0 => libm::acosh(x),
            UnaryOp::Atanh => libm::atanh(x),
            UnaryOp::Logistic if x < -700.0 => x.exp() / (1.0 + x.exp()),
            UnaryOp::ErfInv if x.abs() > 1.0 - 1e-12 && x.abs() < 1.0 => {
                let tail = 1.0 - x.abs();
                let mut r = w.abs();
                for _ in 0..50 {
                    let d = -2.0 / std::f64::consts::PI.sqrt() * (-r * r).exp();
                    r -= (libm::erfc(r) - tail) / d;
                }
                r.copysign(x)
            }
            _ => w,
        })
        .collect()
}

/// A float format: f32 or f64.
trait Float: Copy + Default + PartialEq {
    const MANT: i32;
    const MIN_EXP: i32;
    const MAX: f64;
    fn from(v: f64) -> Self;
    fn to(self) -> f64;
}

impl Float for f32 {
    const MANT: i32 = 23;
    const MIN_EXP: i32 = -126;
    const MAX: f64 = f32::MAX as f64;
    fn from(v: f64) -> Self {
        v as f32
    }
    fn to(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    const MANT: i32 = 52;
    const MIN_EXP: i32 = -1022;
    const MAX: f64 = f64::MAX;
    fn from(v: f64) -> Self {
        v
    }
    fn to(self) -> f64 {
        self
    }
}

/// Error of `got` against the exact-ish `want` in ULPs of T at `want`, where the
/// ULP is at least `floor` (a value, for functions judged by absolute error near
/// their zeros); infinite for a NaN, infinity or sign-of-zero mismatch.
fn ulp_error<T: Float>(got: T, want: f64, floor: f64) -> f64 {
    let g = got.to();
    if want.is_nan() || g.is_nan() {
        return if want.is_nan() && g.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if g == want {
        return if g == 0.0 && g.is_sign_negative() != want.is_sign_negative() {
            f64::INFINITY
        } else {
            0.0
        };
    }
    if g.is_infinite() {
        // Rounding the reference decides: anything past MAX + ulp/2 overflows.
        let rounded = T::from(want).to();
        return if rounded == g { 0.0 } else { f64::INFINITY };
    }
    let w = want.clamp(-T::MAX * 2.0, T::MAX * 2.0);
    let e = if w == 0.0 {
        T::MIN_EXP
    } else {
        (w.abs().log2().floor() as i32).max(T::MIN_EXP)
    };
    let ulp = ((e - T::MANT) as f64).exp2().max(floor);
    ((g - w).abs() / ulp).min(1e300)
}

/// Specials and boundaries tried for every function (and their negations).
const SPECIALS: [f64; 30] = [
    0.0,
    f64::INFINITY,
    f64::NAN,
    1.0,
    0.5,
    2.0,
    1e-45,
    1.1754942e-38,
    1.1754944e-38,
    5e-324,
    2.2250738585072014e-308,
    3.4028235e38,
    f64::MAX,
    88.72283,
    88.7229,
    89.0,
    87.33655,
    103.97208,
    104.0,
    709.782712893384,
    709.79,
    745.1332191019411,
    746.0,
    0.9999999,
    0.99999994,
    1.0000001,
    0.9999999999999999,
    1e-8,
    3.0,
    std::f64::consts::FRAC_PI_2,
];

/// Inputs: the specials, a third log-uniform over every magnitude of T, a third
/// log-uniform over `range`'s magnitudes and a third uniform over `range`.
fn inputs<T: Float>(rng: &mut Rng, n: usize, range: (f64, f64)) -> Vec<f64> {
    let mut v: Vec<f64> = SPECIALS
        .iter()
        .flat_map(|&s| [s, -s])
        .map(|s| T::from(s).to())
        .collect();
    let (emin, emax) = if T::MANT == 23 {
        (-149.0, 128.0)
    } else {
        (-1074.0, 1024.0)
    };
    let top = range.0.abs().max(range.1.abs()).log2().min(emax);
    while v.len() < n {
        let k = v.len() % 3;
        let sign = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
        let x = match k {
            0 => sign * rng.uniform(emin, emax).exp2(),
            1 => sign * rng.uniform(emin, top).exp2(),
            _ => rng.uniform(range.0, range.1),
        };
        v.push(T::from(x).to());
    }
    v
}

/// One function's bounds: the input range where the ULP bound is asserted, and
/// the bounds for f32 and f64.
struct Case {
    fun: Fun,
    range: (f64, f64),
    ulp32: f64,
    ulp64: f64,
    /// For f64: errors count in ULPs of at least this value (0: plain ULPs).
    floor64: f64,
}

fn u(op: UnaryOp, range: (f64, f64), ulp32: f64, ulp64: f64) -> Case {
    Case {
        fun: Fun::U(op),
        range,
        ulp32,
        ulp64,
        floor64: 0.0,
    }
}

const ALL: (f64, f64) = (-f64::MAX, f64::MAX);

fn cases() -> Vec<Case> {
    use UnaryOp::*;
    vec![
        u(Exp, (-800.0, 800.0), 4.0, 4.0),
        u(Exp2, (-1100.0, 1100.0), 4.0, 4.0),
        u(Expm1, (-800.0, 800.0), 4.0, 4.0),
        u(Log, ALL, 4.0, 4.0),
        u(Log1p, ALL, 4.0, 4.0),
        u(Tanh, (-30.0, 30.0), 4.0, 4.0),
        u(Logistic, (-800.0, 800.0), 4.0, 4.0),
        u(Erf, (-8.0, 8.0), 4.0, 4.0),
        u(Erfc, (-30.0, 30.0), 4.0, 8.0),
        u(ErfInv, (-1.0, 1.0), 4.0, 4.0),
        u(Sin, (-1.6e6, 1.6e6), 4.0, 4.0),
        u(Cos, (-1.6e6, 1.6e6), 4.0, 4.0),
        u(Tan, (-1.6e6, 1.6e6), 4.0, 4.0),
        u(Sqrt, ALL, 0.5, 0.5),
        u(Rsqrt, ALL, 1.5, 1.5),
        u(Cbrt, ALL, 4.0, 4.0),
        u(Asin, (-1.0, 1.0), 4.0, 4.0),
        u(Acos, (-1.0, 1.0), 4.0, 4.0),
        u(Atan, ALL, 4.0, 4.0),
        u(Sinh, (-800.0, 800.0), 4.0, 4.0),
        u(Cosh, (-800.0, 800.0), 4.0, 4.0),
        u(Asinh, ALL, 4.0, 4.0),
        u(Acosh, ALL, 4.0, 4.0),
        u(Atanh, (-1.0, 1.0), 4.0, 4.0),
        // f64 lgamma and digamma: absolute error near their zeros (ULPs of 1).
        Case {
            floor64: f64::EPSILON,
            ..u(Lgamma, (-100.0, 1e6), 4.0, 64.0)
        },
        Case {
            floor64: f64::EPSILON,
            ..u(Digamma, (-100.0, 1e6), 4.0, 16.0)
        },
        Case {
            fun: Fun::Pow,
            range: ALL,
            ulp32: 4.0,
            ulp64: 4.0,
            floor64: 0.0,
        },
        Case {
            fun: Fun::Atan2,
            range: ALL,
            ulp32: 4.0,
            ulp64: 4.0,
            floor64: 0.0,
        },
    ]
}

/// Pairs for the binary functions: every pair of specials, then random pairs:
/// for pow, |x| log-uniform in [2^-40, 2^40] and y uniform in [-60, 60] (integral
/// half the time, so that negative x gets exercised).
fn pair_inputs<T: Float>(rng: &mut Rng, n: usize, fun: Fun) -> (Vec<f64>, Vec<f64>) {
    let sp: Vec<f64> = SPECIALS
        .iter()
        .flat_map(|&s| [s, -s])
        .map(|s| T::from(s).to())
        .collect();
    let (mut a, mut b) = (vec![], vec![]);
    for &x in &sp {
        for &y in &sp {
            a.push(x);
            b.push(y);
        }
    }
    while a.len() < n {
        let sign = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
        let (x, y) = match fun {
            Fun::Pow => {
                let x = sign * rng.uniform(-40.0, 40.0).exp2();
                let y = rng.uniform(-60.0, 60.0);
                let y = if rng.next_u64() & 1 == 0 {
                    y.round()
                } else {
                    y
                };
                (x, y)
            }
            _ => {
                let s2 = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
                let (lo, hi) = if T::MANT == 23 {
                    (-149.0, 128.0)
                } else {
                    (-1074.0, 1024.0)
                };
                (
                    sign * rng.uniform(lo, hi).exp2(),
                    s2 * rng.uniform(lo, hi).exp2(),
                )
            }
        };
        a.push(T::from(x).to());
        b.push(T::from(y).to());
    }
    (a, b)
}

/// Measured accuracy of one function.
struct Row {
    name: String,
    max_ulp: f64,
    worst: Vec<f64>,
    beyond: f64,
    bound: f64,
    mismatches: usize,
}

fn measure<T: Float>(case: &Case, n: usize, seed: u64) -> Row {
    let mut rng = Rng::new(seed);
    let args: Vec<Vec<f64>> = match case.fun {
        Fun::U(_) => vec![inputs::<T>(&mut rng, n, case.range)],
        f => {
            let (a, b) = pair_inputs::<T>(&mut rng, n, f);
            vec![a, b]
        }
    };
    let typed: Vec<Vec<T>> = args
        .iter()
        .map(|a| a.iter().map(|&x| T::from(x)).collect())
        .collect();
    let got = run_jit::<T>(case.fun, &typed);
    let want = better_reference(case.fun, &args[0], reference(case.fun, &args));
    let (bound, floor) = if T::MANT == 23 {
        (case.ulp32, 0.0)
    } else {
        (case.ulp64, case.floor64)
    };
    let mut row = Row {
        name: case.fun.name(),
        max_ulp: 0.0,
        worst: vec![],
        beyond: 0.0,
        bound,
        mismatches: 0,
    };
    for i in 0..n {
        let e = ulp_error(got[i], want[i], floor);
        let x = args[0][i];
        let inside = case.fun.arity() == 2 || (x >= case.range.0 && x <= case.range.1);
        if e.is_infinite() {
            row.mismatches += 1;
            if row.mismatches <= 3 {
                eprintln!(
                    "{}: {:?} -> {} want {}",
                    row.name,
                    args.iter().map(|a| a[i]).collect::<Vec<_>>(),
                    got[i].to(),
                    want[i]
                );
            }
        } else if inside && e > row.max_ulp {
            row.max_ulp = e;
            row.worst = args.iter().map(|a| a[i]).collect();
        } else if !inside {
            row.beyond = row.beyond.max(e);
        }
    }
    row
}

fn check_all<T: Float>(label: &str) {
    let n = 1 << 20;
    let rows: Vec<Row> = cases()
        .iter()
        .enumerate()
        .map(|(k, c)| measure::<T>(c, n, 1000 + k as u64))
        .collect();
    println!("{label}: max error in ULPs over {n} inputs per function");
    println!(
        "{:<24} {:>10} {:>8} {:>12} {:>4}  worst input",
        "function", "max ulp", "bound", "beyond", "bad"
    );
    let mut failed = vec![];
    for r in &rows {
        println!(
            "{:<24} {:>10.3} {:>8} {:>12.3e} {:>4}  {:?}",
            r.name, r.max_ulp, r.bound, r.beyond, r.mismatches, r.worst
        );
        if r.max_ulp > r.bound || r.mismatches > 0 {
            failed.push(r.name.clone());
        }
    }
    assert!(failed.is_empty(), "{label}: out of bounds: {failed:?}");
}

#[test]
fn f32_accuracy() {
    check_all::<f32>("f32");
}

#[test]
fn f64_accuracy() {
    check_all::<f64>("f64");
}

/// The exp kernel, optimized at O3 for the host CPU, is vectorized: the emitted
/// math is straight-line code the loop vectorizer accepts (no calls, no branches).
#[test]
fn exp_loop_vectorizes() {
    Target::initialize_native(&InitializationConfig::default()).unwrap();
    for wide in [false, true] {
        let ctx = Context::create();
        let module = ctx.create_module("vec_test");
        build_kernel(&ctx, &module, Fun::U(UnaryOp::Exp), wide);
        let triple = TargetMachine::get_default_triple();
        let target = Target::from_triple(&triple).unwrap();
        let cpu = TargetMachine::get_host_cpu_name();
        let features = TargetMachine::get_host_cpu_features();
        let tm = target
            .create_target_machine(
                &triple,
                cpu.to_str().unwrap(),
                features.to_str().unwrap(),
                OptimizationLevel::Aggressive,
                RelocMode::Default,
                CodeModel::Default,
            )
            .unwrap();
        module.set_triple(&triple);
        module.set_data_layout(&tm.get_target_data().get_data_layout());
        module
            .run_passes("default<O3>", &tm, PassBuilderOptions::create())
            .unwrap();
        let ir = module.print_to_string().to_string();
        let elt = if wide { "double" } else { "float" };
        let vector = (2..=16)
            .map(|w| format!("<{w} x {elt}>"))
            .any(|t| ir.contains(&t));
        assert!(vector, "exp loop ({elt}) did not vectorize:\n{ir}");
        assert!(
            !ir.contains("call float @exp") && !ir.contains("call double @exp"),
            "libm call in the kernel"
        );
    }
}

/// Ops without a float result, and non-float operands, are rejected.
#[test]
fn bad_input_is_rejected() {
    let ctx = Context::create();
    let module = ctx.create_module("bad");
    let f = module.add_function("g", ctx.void_type().fn_type(&[], false), None);
    let b = ctx.create_builder();
    b.position_at_end(ctx.append_basic_block(f, "entry"));
    let cx = MathCx {
        context: &ctx,
        module: &module,
        builder: &b,
        x86_avx512: false,
    };
    let x = ctx.f32_type().const_float(1.0);
    for op in [UnaryOp::IsFinite, UnaryOp::Not, UnaryOp::PopulationCount] {
        let err = emit_unary(&cx, op, x).unwrap_err();
        assert!(err.contains(op.name()), "{err}");
    }
    let h = ctx.f16_type().const_float(1.0);
    assert!(emit_unary(&cx, UnaryOp::Exp, h)
        .unwrap_err()
        .contains("f32 or f64"));
    assert!(emit_pow(&cx, h, h).is_err());
    assert!(emit_atan2(&cx, h, h).is_err());
}
