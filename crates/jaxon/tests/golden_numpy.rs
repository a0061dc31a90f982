//! Compares jaxon's numpy / lax / nn functions with outputs recorded from real JAX
//! (`tests/golden/*.json`, made by `tools/gen_golden.py`): dtype, weak type, shape and
//! values of every case whose function jaxon has.

mod golden_support;

use golden_support::{approx, compare, load, Arg, Case, Tol};
use jaxon::lax::{BinaryKind, RoundingMethod, UnaryKind};
use jaxon::numpy as jnp;
use jaxon::numpy::Operand;
use jaxon::{lax, nn, Array, DType};
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Cases where jaxon knowingly differs from JAX: (case name, reason). Skipped and printed.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "linspace_neg",
        "interior values of JAX's float32 linspace(1, -1, 7) carry XLA CPU rounding (e.g. -2^-26 at the midpoint); jaxon computes in f64 and rounds once",
    ),
    (
        "add_uint32_int8",
        "jaxon keeps 64-bit dtypes enabled, so uint32 with a signed int promotes to int64 (JAX's x64 result); JAX's default mode canonicalizes it to int32",
    ),
    (
        "add_uint32_int16",
        "jaxon keeps 64-bit dtypes enabled, so uint32 with a signed int promotes to int64 (JAX's x64 result); JAX's default mode canonicalizes it to int32",
    ),
    (
        "add_uint32_int32",
        "jaxon keeps 64-bit dtypes enabled, so uint32 with a signed int promotes to int64 (JAX's x64 result); JAX's default mode canonicalizes it to int32",
    ),
    (
        "add_int8_uint32",
        "jaxon keeps 64-bit dtypes enabled, so uint32 with a signed int promotes to int64 (JAX's x64 result); JAX's default mode canonicalizes it to int32",
    ),
    (
        "add_int16_uint32",
        "jaxon keeps 64-bit dtypes enabled, so uint32 with a signed int promotes to int64 (JAX's x64 result); JAX's default mode canonicalizes it to int32",
    ),
    (
        "add_int32_uint32",
        "jaxon keeps 64-bit dtypes enabled, so uint32 with a signed int promotes to int64 (JAX's x64 result); JAX's default mode canonicalizes it to int32",
    ),
    (
        "lax.pow_float32_int32",
        "lax::pow requires equal dtypes; JAX's lax.pow accepts an integer exponent with a float base (prim/elementwise.rs)",
    ),
    (
        "greater_equal_int32_weakfloat",
        "comparisons return a strong bool; JAX marks the result weak when both promoted operands are weak (prim/elementwise.rs weak-type rule)",
    ),
];

/// Why a case was not run.
enum Skip {
    /// jaxon has no such function (yet).
    Missing,
    /// jaxon has the function but not this keyword/argument form.
    Form(&'static str),
}

type Out = Result<Vec<Array>, Skip>;

fn one(a: Array) -> Out {
    Ok(vec![a])
}

/// Float ops that are not exactly rounded (transcendentals, reductions whose summation
/// order differs): compared within a few ulps. Everything else must match bit-exactly.
fn tolerance(f: &str, dt: DType) -> Option<Tol> {
    const APPROX: &[&str] = &[
        // transcendental: XLA's polynomial approximations are not correctly rounded
        "exp",
        "exp2",
        "expm1",
        "sinh",
        "cosh",
        "tanh",
        "arcsinh",
        "arccosh",
        "arctanh",
        "arcsin",
        "arccos",
        "arctan",
        "arctan2",
        "sin",
        "cos",
        "tan",
        "log",
        "log1p",
        "log2",
        "log10",
        "cbrt",
        "sinc",
        "hypot",
        "logaddexp",
        "power",
        "lax.pow",
        "lax.rsqrt",
        "lax.erf",
        "lax.erfc",
        "lax.erf_inv",
        "lax.lgamma",
        "lax.digamma",
        "lax.logistic",
        // float reductions: summation order is implementation-defined
        "sum",
        "prod",
        "mean",
        "var",
        "std",
        "nn.logsumexp",
        // nn activations are built from transcendentals
        "nn.sigmoid",
        "nn.silu",
        "nn.swish",
        "nn.softplus",
        "nn.gelu",
        "nn.softmax",
        "nn.log_softmax",
        "logaddexp2",
        "float_power",
        "logspace",
        "nansum",
        "nanmean",
        "average",
        "trace",
        "nn.log_sigmoid",
        "nn.elu",
        "nn.celu",
        "nn.selu",
        "nn.mish",
        "nn.standardize",
    ];
    if !dt.is_float() || !APPROX.contains(&f) {
        return None;
    }
    Some(approx(dt))
}

fn kw<'a>(c: &'a Case, k: &str) -> Option<&'a Value> {
    c.kwargs.get(k).filter(|v| !v.is_null())
}

fn kw_i64(c: &Case, k: &str, default: i64) -> i64 {
    kw(c, k).map_or(default, |v| v.as_i64().expect("int kwarg"))
}

fn kw_bool(c: &Case, k: &str) -> bool {
    kw(c, k).is_some_and(|v| v.as_bool().expect("bool kwarg"))
}

/// An `axis` kwarg (int, list or null) as a list of axes.
fn kw_axes(c: &Case, k: &str) -> Option<Vec<i64>> {
    kw(c, k).map(|v| match v {
        Value::Array(a) => a.iter().map(|x| x.as_i64().expect("axis")).collect(),
        v => vec![v.as_i64().expect("axis")],
    })
}

fn kw_usizes(c: &Case, k: &str) -> Option<Vec<usize>> {
    kw_axes(c, k).map(|v| v.into_iter().map(|x| x as usize).collect())
}

fn kw_dtype(c: &Case, k: &str) -> Option<DType> {
    kw(c, k).map(|v| golden_support::dtype(v.as_str().expect("dtype kwarg")))
}

fn unary_np(f: &str) -> Option<fn(Operand) -> Array> {
    Some(match f {
        "exp" => jnp::exp,
        "exp2" => jnp::exp2,
        "expm1" => jnp::expm1,
        "log" => jnp::log,
        "log1p" => jnp::log1p,
        "log2" => jnp::log2,
        "log10" => jnp::log10,
        "sqrt" => jnp::sqrt,
        "cbrt" => jnp::cbrt,
        "sin" => jnp::sin,
        "cos" => jnp::cos,
        "tan" => jnp::tan,
        "arcsin" => jnp::arcsin,
        "arccos" => jnp::arccos,
        "arctan" => jnp::arctan,
        "sinh" => jnp::sinh,
        "cosh" => jnp::cosh,
        "tanh" => jnp::tanh,
        "arcsinh" => jnp::arcsinh,
        "arccosh" => jnp::arccosh,
        "arctanh" => jnp::arctanh,
        "negative" => jnp::negative,
        "abs" => jnp::abs,
        "absolute" => jnp::absolute,
        "sign" => jnp::sign,
        "square" => jnp::square,
        "reciprocal" => jnp::reciprocal,
        "floor" => jnp::floor,
        "ceil" => jnp::ceil,
        "trunc" => jnp::trunc,
        "rint" => jnp::rint,
        "sinc" => jnp::sinc,
        "deg2rad" => jnp::deg2rad,
        "rad2deg" => jnp::rad2deg,
        "isfinite" => jnp::isfinite,
        "isnan" => jnp::isnan,
        "isinf" => jnp::isinf,
        "logical_not" => jnp::logical_not,
        "invert" => jnp::invert,
        "bitwise_not" => jnp::bitwise_not,
        "nn.relu" => nn::relu,
        "nn.sigmoid" => nn::sigmoid,
        "nn.silu" => nn::silu,
        "nn.swish" => nn::swish,
        "nn.softplus" => nn::softplus,
        "signbit" => jnp::signbit,
        "positive" => jnp::positive,
        "fabs" => jnp::fabs,
        "nn.relu6" => nn::relu6,
        "nn.log_sigmoid" => nn::log_sigmoid,
        "nn.hard_tanh" => nn::hard_tanh,
        "nn.hard_sigmoid" => nn::hard_sigmoid,
        "nn.hard_silu" => nn::hard_silu,
        "nn.hard_swish" => nn::hard_swish,
        "nn.selu" => nn::selu,
        "nn.soft_sign" => nn::soft_sign,
        "nn.mish" => nn::mish,
        "nn.sparse_plus" => nn::sparse_plus,
        _ => return None,
    })
}

fn binary_np(f: &str) -> Option<fn(Operand, Operand) -> Array> {
    Some(match f {
        "add" => jnp::add,
        "subtract" => jnp::subtract,
        "multiply" => jnp::multiply,
        "divide" => jnp::divide,
        "true_divide" => jnp::true_divide,
        "floor_divide" => jnp::floor_divide,
        "remainder" => jnp::remainder,
        "mod" => jnp::mod_,
        "fmod" => jnp::fmod,
        "power" => jnp::power,
        "arctan2" => jnp::arctan2,
        "hypot" => jnp::hypot,
        "logaddexp" => jnp::logaddexp,
        "nextafter" => jnp::nextafter,
        "maximum" => jnp::maximum,
        "minimum" => jnp::minimum,
        "bitwise_and" => jnp::bitwise_and,
        "bitwise_or" => jnp::bitwise_or,
        "bitwise_xor" => jnp::bitwise_xor,
        "left_shift" => jnp::left_shift,
        "right_shift" => jnp::right_shift,
        "logical_and" => jnp::logical_and,
        "logical_or" => jnp::logical_or,
        "logical_xor" => jnp::logical_xor,
        "equal" => jnp::equal,
        "not_equal" => jnp::not_equal,
        "less" => jnp::less,
        "less_equal" => jnp::less_equal,
        "greater" => jnp::greater,
        "greater_equal" => jnp::greater_equal,
        "logaddexp2" => jnp::logaddexp2,
        "fmax" => jnp::fmax,
        "fmin" => jnp::fmin,
        "copysign" => jnp::copysign,
        "float_power" => jnp::float_power,
        "heaviside" => jnp::heaviside,
        _ => return None,
    })
}

fn unary_lax(f: &str) -> Option<UnaryKind> {
    Some(match f {
        "lax.rsqrt" => UnaryKind::Rsqrt,
        "lax.erf" => UnaryKind::Erf,
        "lax.erfc" => UnaryKind::Erfc,
        "lax.erf_inv" => UnaryKind::ErfInv,
        "lax.lgamma" => UnaryKind::Lgamma,
        "lax.digamma" => UnaryKind::Digamma,
        "lax.logistic" => UnaryKind::Logistic,
        "lax.population_count" => UnaryKind::PopulationCount,
        _ => return None,
    })
}

fn binary_lax(f: &str) -> Option<BinaryKind> {
    Some(match f {
        "lax.div" => BinaryKind::Div,
        "lax.rem" => BinaryKind::Rem,
        "lax.pow" => BinaryKind::Pow,
        "lax.nextafter" => BinaryKind::NextAfter,
        "lax.shift_left" => BinaryKind::ShiftLeft,
        "lax.shift_right_logical" => BinaryKind::ShiftRightLogical,
        "lax.shift_right_arithmetic" => BinaryKind::ShiftRightArithmetic,
        _ => return None,
    })
}

/// Only these kwargs are understood for `f`; any other makes the case a `Skip::Form`.
fn only(c: &Case, allowed: &[&str]) -> Result<(), Skip> {
    match c.kwargs.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(_) => Err(Skip::Form("keyword argument jaxon does not take")),
        None => Ok(()),
    }
}

/// Runs one case with jaxon.
fn dispatch(c: &Case) -> Out {
    let args: Vec<Arg> = c.args.iter().map(Arg::parse).collect();
    let f = c.fn_.as_str();
    if let Some(u) = unary_np(f) {
        only(c, &[])?;
        return one(u(args[0].op()));
    }
    if let Some(b) = binary_np(f) {
        only(c, &[])?;
        return one(b(args[0].op(), args[1].op()));
    }
    if let Some(k) = unary_lax(f) {
        only(c, &[])?;
        return one(lax::unary(k, &args[0].arr()));
    }
    if let Some(k) = binary_lax(f) {
        only(c, &[])?;
        return one(lax::binary(k, &args[0].arr(), &args[1].arr()));
    }
    let x = || args[0].op();
    let axes = kw_axes(c, "axis");
    let ax = axes.as_deref();
    let keep = kw_bool(c, "keepdims");
    match f {
        "astype" => one(jnp::astype(x(), kw_dtype(c, "dtype").expect("dtype"))),
        "round" => one(jnp::round(x(), kw_i64(c, "decimals", 0) as i32)),
        "lax.round" => {
            let m = match kw_i64(c, "rounding_method", 0) {
                0 => RoundingMethod::AwayFromZero,
                _ => RoundingMethod::ToNearestEven,
            };
            one(lax::round(&args[0].arr(), m))
        }
        "lax.integer_pow" => one(lax::integer_pow(&args[0].arr(), kw_i64(c, "y", 0) as i32)),
        "clip" => {
            // clip(x, min, max): positional or keyword; a null or absent bound is None.
            let bound = |i: usize, k: &str| {
                let from_kw = kw(c, k).map(|v| Arg::S(golden_support::scalar(v)));
                match args.get(i).cloned().or(from_kw) {
                    None | Some(Arg::None) => None,
                    Some(a) => Some(a.op()),
                }
            };
            one(jnp::clip_opt(x(), bound(1, "min"), bound(2, "max")))
        }
        "divmod" => {
            let (q, r) = jnp::divmod(args[0].op(), args[1].op());
            Ok(vec![q, r])
        }
        "isclose" | "allclose" => {
            only(c, &["rtol", "atol", "equal_nan"])?;
            let tol = |k: &str, d: f64| kw(c, k).map_or(d, golden_support::num);
            let (rtol, atol) = (tol("rtol", 1e-5), tol("atol", 1e-8));
            let f = if f == "isclose" {
                jnp::isclose
            } else {
                jnp::allclose
            };
            one(f(
                args[0].op(),
                args[1].op(),
                rtol,
                atol,
                kw_bool(c, "equal_nan"),
            ))
        }
        "nan_to_num" => {
            only(c, &["nan", "posinf", "neginf"])?;
            let nan = kw(c, "nan").map_or(0.0, golden_support::num);
            let inf = |k: &str| kw(c, k).map(golden_support::num);
            one(jnp::nan_to_num(x(), nan, inf("posinf"), inf("neginf")))
        }
        "where" if args.len() == 3 && c.kwargs.is_empty() => {
            one(jnp::where_(args[0].op(), args[1].op(), args[2].op()))
        }
        "where" => Err(Skip::Form("one-argument where (nonzero)")),
        // ---- reductions
        "sum" | "prod" | "max" | "min" => {
            only(c, &["axis", "keepdims", "dtype", "initial"])?;
            let mut o = jnp::ReduceOptions::new();
            o.dtype = kw_dtype(c, "dtype");
            o.initial = kw(c, "initial").map(golden_support::scalar);
            let r: fn(Operand, Option<&[i64]>, bool, jnp::ReduceOptions) -> Array = match f {
                "sum" => jnp::sum_with,
                "prod" => jnp::prod_with,
                "max" => jnp::max_with,
                _ => jnp::min_with,
            };
            one(r(x(), ax, keep, o))
        }
        "mean" => {
            only(c, &["axis", "keepdims", "dtype"])?;
            one(jnp::mean_with(x(), ax, keep, kw_dtype(c, "dtype")))
        }
        "all" | "any" | "nansum" | "nanprod" | "nanmax" | "nanmin" | "nanmean" | "ptp"
        | "count_nonzero" | "median" => {
            only(c, &["axis", "keepdims"])?;
            let r: fn(Operand, Option<&[i64]>, bool) -> Array = match f {
                "all" => jnp::all,
                "any" => jnp::any,
                "nansum" => jnp::nansum,
                "nanprod" => jnp::nanprod,
                "nanmax" => jnp::nanmax,
                "nanmin" => jnp::nanmin,
                "nanmean" => jnp::nanmean,
                "ptp" => jnp::ptp,
                "count_nonzero" => jnp::count_nonzero,
                _ => jnp::median,
            };
            one(r(x(), ax, keep))
        }
        "average" => {
            only(c, &["axis", "keepdims", "weights"])?;
            let w = kw(c, "weights").map(golden_support::array);
            one(jnp::average(x(), ax, w.as_ref(), keep))
        }
        "var" | "std" => {
            only(c, &["axis", "keepdims", "ddof"])?;
            let ddof = kw_i64(c, "ddof", 0) as usize;
            let r: fn(Operand, Option<&[i64]>, usize, bool) -> Array =
                if f == "var" { jnp::var } else { jnp::std };
            one(r(x(), ax, ddof, keep))
        }
        "argmax" | "argmin" => {
            only(c, &["axis", "keepdims"])?;
            let axis = axes.map(|a| a[0]);
            one(if f == "argmax" {
                jnp::argmax_with(x(), axis, keep)
            } else {
                jnp::argmin_with(x(), axis, keep)
            })
        }
        "nn.logsumexp" => {
            only(c, &["axis", "keepdims"])?;
            if keep {
                one(jnp::logsumexp(x(), ax, true))
            } else {
                one(nn::logsumexp(x(), ax))
            }
        }
        // ---- shape ops
        "reshape" => {
            only(c, &["shape"])?;
            one(jnp::reshape(x(), &kw_axes(c, "shape").expect("shape")))
        }
        "ravel" => one(jnp::ravel(x())),
        "transpose" => one(jnp::transpose(x(), kw_axes(c, "axes").as_deref())),
        "swapaxes" => one(jnp::swapaxes(
            x(),
            kw_i64(c, "axis1", 0),
            kw_i64(c, "axis2", 0),
        )),
        "moveaxis" => match (kw_axes(c, "source"), kw_axes(c, "destination")) {
            (Some(s), Some(d)) if s.len() == 1 && d.len() == 1 => {
                one(jnp::moveaxis(x(), s[0], d[0]))
            }
            _ => Err(Skip::Form("moveaxis with several axes")),
        },
        "broadcast_to" => one(jnp::broadcast_to(
            x(),
            &kw_usizes(c, "shape").expect("shape"),
        )),
        "broadcast_arrays" => {
            let xs: Vec<Array> = args.iter().map(Arg::arr).collect();
            Ok(jnp::broadcast_arrays(&xs))
        }
        "expand_dims" => match axes.as_deref() {
            Some([a]) => one(jnp::expand_dims(x(), *a)),
            _ => Err(Skip::Form("expand_dims with several axes")),
        },
        "squeeze" => one(jnp::squeeze(x(), ax)),
        "concatenate" | "stack" => {
            let xs = args[0].arrays();
            let axis = kw_i64(c, "axis", 0);
            match kw(c, "axis") {
                Some(Value::Null) | None if f == "concatenate" && c.kwargs.contains_key("axis") => {
                    Err(Skip::Form("concatenate with axis=None"))
                }
                _ if f == "concatenate" => one(jnp::concatenate(&xs, axis)),
                _ => one(jnp::stack(&xs, axis)),
            }
        }
        "hstack" => one(jnp::hstack(&args[0].arrays())),
        "vstack" => one(jnp::vstack(&args[0].arrays())),
        "split" => {
            let axis = kw_i64(c, "axis", 0);
            Ok(match kw(c, "indices_or_sections").expect("sections") {
                Value::Array(_) => jnp::split(
                    x(),
                    jnp::Sections::At(kw_axes(c, "indices_or_sections").unwrap()),
                    axis,
                ),
                v => jnp::split(
                    x(),
                    jnp::Sections::Equal(v.as_u64().expect("n") as usize),
                    axis,
                ),
            })
        }
        "tile" => match kw_axes(c, "reps") {
            Some(r) if r.iter().all(|&v| v >= 0) => one(jnp::tile(
                x(),
                &r.iter().map(|&v| v as usize).collect::<Vec<_>>(),
            )),
            _ => Err(Skip::Form("tile reps")),
        },
        "repeat" => {
            let axis = kw(c, "axis").map(|v| v.as_i64().expect("axis"));
            match kw(c, "repeats").expect("repeats") {
                Value::Number(n) => one(jnp::repeat(
                    x(),
                    n.as_u64().expect("repeats") as usize,
                    axis,
                )),
                v => {
                    let r: Vec<usize> = golden_support::array(v)
                        .to_f64_vec()
                        .iter()
                        .map(|&n| n as usize)
                        .collect();
                    one(jnp::repeat_each(x(), &r, axis))
                }
            }
        }
        "dstack" => one(jnp::dstack(&args[0].arrays())),
        "column_stack" => one(jnp::column_stack(&args[0].arrays())),
        "array_split" => {
            let axis = kw_i64(c, "axis", 0);
            Ok(match kw(c, "indices_or_sections").expect("sections") {
                Value::Array(_) => jnp::array_split(
                    x(),
                    jnp::Sections::At(kw_axes(c, "indices_or_sections").unwrap()),
                    axis,
                ),
                v => jnp::array_split(x(), v.as_u64().expect("n") as usize, axis),
            })
        }
        "fliplr" => one(jnp::fliplr(x())),
        "flipud" => one(jnp::flipud(x())),
        "rot90" => {
            only(c, &["k", "axes"])?;
            let axes = kw_axes(c, "axes").unwrap_or(vec![0, 1]);
            one(jnp::rot90(x(), kw_i64(c, "k", 1), (axes[0], axes[1])))
        }
        "diag" => one(jnp::diag(x(), kw_i64(c, "k", 0))),
        "diagonal" | "trace" => {
            only(c, &["offset", "axis1", "axis2"])?;
            let (o, a1, a2) = (
                kw_i64(c, "offset", 0),
                kw_i64(c, "axis1", 0),
                kw_i64(c, "axis2", 1),
            );
            one(if f == "diagonal" {
                jnp::diagonal(x(), o, a1, a2)
            } else {
                jnp::trace(x(), o, a1, a2)
            })
        }
        "atleast_1d" => one(jnp::atleast_1d(x())),
        "atleast_2d" => one(jnp::atleast_2d(x())),
        "atleast_3d" => one(jnp::atleast_3d(x())),
        "meshgrid" => {
            only(c, &["indexing"])?;
            let xs: Vec<Array> = args.iter().map(Arg::arr).collect();
            let ix = kw(c, "indexing").map_or("xy", |v| v.as_str().unwrap());
            Ok(jnp::meshgrid(&xs, ix))
        }
        "logspace" => {
            only(c, &["num", "endpoint", "base", "dtype"])?;
            let (a, b) = (
                golden_support::num(&c.args[0]["scalar"]),
                golden_support::num(&c.args[1]["scalar"]),
            );
            one(jnp::logspace_with(
                a,
                b,
                kw_i64(c, "num", 50) as usize,
                kw(c, "endpoint").is_none_or(|v| v.as_bool().unwrap()),
                kw(c, "base").map_or(10.0, golden_support::num),
                kw_dtype(c, "dtype"),
            ))
        }
        "flip" => one(jnp::flip(x(), ax)),
        "roll" => match (kw(c, "shift"), axes.as_deref()) {
            (Some(Value::Number(s)), None) => one(jnp::roll(x(), s.as_i64().unwrap(), None)),
            (Some(Value::Number(s)), Some([a])) => {
                one(jnp::roll(x(), s.as_i64().unwrap(), Some(*a)))
            }
            _ => Err(Skip::Form("roll over several axes")),
        },
        "pad" => pad(c, &args),
        "tril" => one(jnp::tril(&args[0].arr(), kw_i64(c, "k", 0))),
        "triu" => one(jnp::triu(&args[0].arr(), kw_i64(c, "k", 0))),
        "zeros_like" => one(jnp::zeros_like(&args[0].arr())),
        "full_like" => match kw(c, "fill_value") {
            Some(v) => one(jnp::full_like(&args[0].arr(), golden_support::scalar(v))),
            None => Err(Skip::Form("full_like fill")),
        },
        // ---- creation
        "tri" | "eye" => {
            let n = kw_i64(c, "N", 0) as usize;
            let m = kw(c, "M").map(|v| v.as_u64().expect("M") as usize);
            let dt = kw_dtype(c, "dtype").unwrap_or(DType::F32);
            let k = kw_i64(c, "k", 0);
            one(if f == "tri" {
                jnp::tri(n, m, k, dt)
            } else {
                jnp::eye_with(n, m, k, dt)
            })
        }
        "identity" => one(jnp::identity(
            kw_i64(c, "n", 0) as usize,
            kw_dtype(c, "dtype").unwrap_or(DType::F32),
        )),
        "arange" => {
            only(c, &["dtype"])?;
            let dt = kw_dtype(c, "dtype");
            one(match args.len() {
                1 if dt.is_none() => jnp::arange(args[0].op()),
                1 => jnp::arange_with(0, args[0].op(), 1, dt),
                2 => jnp::arange_with(args[0].op(), args[1].op(), 1, dt),
                _ => jnp::arange_with(args[0].op(), args[1].op(), args[2].op(), dt),
            })
        }
        "linspace" => {
            only(c, &["num", "endpoint", "dtype"])?;
            let (a, b) = (
                golden_support::num(&c.args[0]["scalar"]),
                golden_support::num(&c.args[1]["scalar"]),
            );
            let num = kw_i64(c, "num", 50) as usize;
            let endpoint = kw(c, "endpoint").is_none_or(|v| v.as_bool().unwrap());
            one(jnp::linspace_with(
                a,
                b,
                num,
                endpoint,
                kw_dtype(c, "dtype"),
            ))
        }
        "full" => one(jnp::full(
            &kw_usizes(c, "shape").expect("shape"),
            golden_support::scalar(kw(c, "fill_value").expect("fill_value")),
            kw_dtype(c, "dtype"),
        )),
        "ones" | "zeros" => {
            let shape = kw_usizes(c, "shape").expect("shape");
            let dt = kw_dtype(c, "dtype").unwrap_or(DType::F32);
            one(if f == "ones" {
                jnp::ones(&shape, dt)
            } else {
                jnp::zeros(&shape, dt)
            })
        }
        // ---- nn
        "nn.gelu" => one(nn::gelu(
            x(),
            kw(c, "approximate").is_none_or(|v| v.as_bool().unwrap()),
        )),
        "nn.softmax" | "nn.log_softmax" => {
            only(c, &["axis", "where"])?;
            let axes = match axes {
                None if !c.kwargs.contains_key("axis") => Some(vec![-1]),
                a => a,
            };
            let mask = kw(c, "where").map(golden_support::array);
            let f = if f == "nn.softmax" {
                nn::softmax_with
            } else {
                nn::log_softmax_with
            };
            one(f(x(), axes.as_deref(), mask.as_ref()))
        }
        "nn.elu" | "nn.celu" => {
            only(c, &["alpha"])?;
            let alpha = kw(c, "alpha").map_or(1.0, golden_support::num);
            one(if f == "nn.elu" {
                nn::elu(x(), alpha)
            } else {
                nn::celu(x(), alpha)
            })
        }
        "nn.leaky_relu" => {
            only(c, &["negative_slope"])?;
            let s = kw(c, "negative_slope").map_or(0.01, golden_support::num);
            one(nn::leaky_relu(x(), s))
        }
        "nn.standardize" => {
            only(c, &["axis", "epsilon"])?;
            let axes = match axes {
                None if !c.kwargs.contains_key("axis") => Some(vec![-1]),
                a => a,
            };
            let eps = kw(c, "epsilon").map_or(1e-5, golden_support::num);
            one(nn::standardize(x(), axes.as_deref(), eps))
        }
        "nn.glu" => {
            only(c, &["axis"])?;
            one(nn::glu(x(), kw_i64(c, "axis", -1)))
        }
        "nn.one_hot" => {
            only(c, &["num_classes", "dtype", "axis"])?;
            let n = kw_i64(c, "num_classes", 0) as usize;
            one(nn::one_hot_with(
                x(),
                n,
                kw_dtype(c, "dtype").unwrap_or(DType::F32),
                kw_i64(c, "axis", -1),
            ))
        }
        _ => Err(Skip::Missing),
    }
}

fn pad(c: &Case, args: &[Arg]) -> Out {
    only(c, &["pad_width", "mode", "constant_values"])?;
    let x = args[0].arr();
    let pw = kw(c, "pad_width").expect("pad_width");
    // NumPy's pad_width: n, [lo, hi] or [[lo, hi], ...].
    let pairs: Vec<(usize, usize)> = match pw {
        Value::Number(n) => {
            vec![(n.as_u64().unwrap() as usize, n.as_u64().unwrap() as usize); x.ndim()]
        }
        Value::Array(v) if v.iter().all(Value::is_number) => {
            let (lo, hi) = (
                v[0].as_u64().unwrap() as usize,
                v[1].as_u64().unwrap() as usize,
            );
            vec![(lo, hi); x.ndim()]
        }
        Value::Array(v) => v
            .iter()
            .map(|p| {
                (
                    p[0].as_u64().unwrap() as usize,
                    p[1].as_u64().unwrap() as usize,
                )
            })
            .collect(),
        _ => panic!("bad pad_width"),
    };
    let mode = match kw(c, "mode").map_or("constant", |v| v.as_str().unwrap()) {
        "constant" => None,
        "edge" => Some(jnp::PadMode::Edge),
        "reflect" => Some(jnp::PadMode::Reflect),
        "symmetric" => Some(jnp::PadMode::Symmetric),
        "wrap" => Some(jnp::PadMode::Wrap),
        "linear_ramp" => Some(jnp::PadMode::LinearRamp),
        "maximum" => Some(jnp::PadMode::Maximum),
        "minimum" => Some(jnp::PadMode::Minimum),
        "mean" => Some(jnp::PadMode::Mean),
        _ => return Err(Skip::Form("pad mode")),
    };
    match (mode, kw(c, "constant_values")) {
        (Some(m), None) => one(jnp::pad_with(&x, &pairs, m)),
        (None, None) => one(jnp::pad(&x, &pairs, 0)),
        (None, Some(v)) if !v.is_array() => one(jnp::pad(&x, &pairs, golden_support::scalar(v))),
        (None, Some(Value::Array(v))) if v.iter().all(Value::is_array) => {
            let vals: Vec<(f64, f64)> = v
                .iter()
                .map(|p| (golden_support::num(&p[0]), golden_support::num(&p[1])))
                .collect();
            one(jnp::pad_constants(&x, &pairs, &vals))
        }
        _ => Err(Skip::Form("pad with these constants")),
    }
}

/// True when `got` differs from `want` only because JAX's x64 mode makes the default
/// int/uint/float 64-bit (weak Python scalars, sums of small ints, int64+uint64 -> float);
/// jaxon's defaults are JAX's 32-bit mode ones. Only used for `"x64": true` cases.
fn x64_default_only(got: DType, want: DType) -> bool {
    matches!(
        (got, want),
        (DType::I32, DType::I64) | (DType::U32, DType::U64) | (DType::F32, DType::F64)
    )
}

fn run_file(file: &str) {
    let cases = load(file);
    let (mut run, mut passed, mut missing, mut form, mut known) = (0, 0, 0, 0, 0);
    let mut missing_fns: Vec<String> = vec![];
    let mut failures: Vec<String> = vec![];
    for c in &cases {
        if let Some((_, why)) = KNOWN_DIFFERENCES.iter().find(|(n, _)| *n == c.name) {
            eprintln!("{file}: known difference {}: {why}", c.name);
            known += 1;
            continue;
        }
        let result = catch_unwind(AssertUnwindSafe(|| dispatch(c)));
        let outs = match (result, &c.error) {
            (Ok(Err(Skip::Missing)), _) => {
                missing += 1;
                if !missing_fns.contains(&c.fn_) {
                    missing_fns.push(c.fn_.clone());
                }
                continue;
            }
            (Ok(Err(Skip::Form(why))), _) => {
                eprintln!("{file}: skipped {} ({why})", c.name);
                form += 1;
                continue;
            }
            (Err(_), Some(_)) => {
                run += 1;
                passed += 1;
                continue;
            }
            (Ok(Ok(outs)), Some(e)) => {
                run += 1;
                let shapes: Vec<_> = outs.iter().map(|o| o.shape().to_vec()).collect();
                failures.push(format!(
                    "{}: JAX raises {e}, jaxon returned arrays of shapes {shapes:?}",
                    c.name
                ));
                continue;
            }
            (Err(p), None) => {
                run += 1;
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: jaxon panicked: {msg}", c.name));
                continue;
            }
            (Ok(Ok(outs)), None) => outs,
        };
        run += 1;
        if outs.len() != c.out.len() {
            failures.push(format!(
                "{}: got {} outputs, want {}",
                c.name,
                outs.len(),
                c.out.len()
            ));
            continue;
        }
        let mut ok = true;
        for (i, (got, want)) in outs.iter().zip(&c.out).enumerate() {
            let wdt = golden_support::dtype(want["dtype"].as_str().unwrap());
            // In x64 mode JAX's defaults are 64-bit: compare values at JAX's dtype, and
            // skip the weak-type check (its weak flag follows the same default).
            let (got, check_weak) = if c.x64 && x64_default_only(got.dtype(), wdt) {
                // Only JAX's x64 weak-scalar default differs: compare the values.
                (jnp::astype(got, wdt), false)
            } else {
                (got.clone(), true)
            };
            if let Some(d) = compare(&got, want, tolerance(&c.fn_, wdt), check_weak) {
                failures.push(format!("{} (fn {}) out[{i}]: {d}", c.name, c.fn_));
                ok = false;
            }
        }
        if ok {
            passed += 1;
        }
    }
    eprintln!(
        "{file}: {} cases: {run} run, {passed} passed, {} skipped ({missing} fn missing in jaxon: {}; {form} unsupported form; {known} known differences)",
        cases.len(),
        missing + form + known,
        missing_fns.join(", ")
    );
    assert!(
        failures.is_empty(),
        "{file}: {} mismatches with JAX:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn golden_numpy_promotion() {
    run_file("numpy_promotion.json");
}

#[test]
fn golden_numpy_intdiv() {
    run_file("numpy_intdiv.json");
}

#[test]
fn golden_numpy_rounding() {
    run_file("numpy_rounding.json");
}

#[test]
fn golden_numpy_math() {
    run_file("numpy_math.json");
}

#[test]
fn golden_numpy_reductions() {
    run_file("numpy_reductions.json");
}

#[test]
fn golden_numpy_shape() {
    run_file("numpy_shape.json");
}

#[test]
fn golden_nn() {
    run_file("nn.json");
}
