//! Elementwise primitives: unary math, binary arithmetic and logic, comparisons,
//! select_n, clamp, dtype conversions, integer_pow and reduce_precision.
//!
//! Binary primitives take operands of one dtype whose shapes are equal, or where one
//! side is 0-d (as in JAX's jaxprs: `mul c 3.0:f32[]`). The numpy layer does the
//! promotion and broadcasting before binding.
//!
//! Each primitive's jvp / transpose / batch rules sit in its `impl Primitive`.

use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult};
use crate::core::trace::bind1;
use crate::transform::rules::{
    add_tangents, batch_elementwise, instantiate, unbroadcast, zeros_like,
};
use oxla::{BinaryOp, CmpDir, DType, UnaryOp, Value};

/// Which values a primitive accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Accepts {
    Float,
    Numeric,
    Int,
    IntOrBool,
    Any,
}

fn check_dtype(accepts: Accepts, dtype: DType) -> Result<(), String> {
    let ok = match accepts {
        Accepts::Float => dtype.is_float(),
        Accepts::Numeric => !dtype.is_bool(),
        Accepts::Int => dtype.is_int(),
        Accepts::IntOrBool => dtype.is_int() || dtype.is_bool(),
        Accepts::Any => true,
    };
    if ok {
        Ok(())
    } else {
        let what = match accepts {
            Accepts::Float => "a floating-point",
            Accepts::Numeric => "a numeric (non-bool)",
            Accepts::Int => "an integer",
            Accepts::IntOrBool => "an integer or bool",
            Accepts::Any => "any",
        };
        Err(format!("needs {what} dtype, got {dtype}"))
    }
}

// ---- unary ------------------------------------------------------------------------

/// The elementwise unary primitives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryKind {
    Neg,
    Abs,
    Sign,
    Floor,
    Ceil,
    /// `round[rounding_method]`: 0 = away from zero, 1 = to nearest even.
    Round(u8),
    Exp,
    Exp2,
    Expm1,
    Log,
    Log1p,
    Sqrt,
    Rsqrt,
    Cbrt,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Logistic,
    Erf,
    Erfc,
    ErfInv,
    Lgamma,
    Digamma,
    IsFinite,
    Not,
    PopulationCount,
}

/// An elementwise unary primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Unary(pub UnaryKind);

impl UnaryKind {
    fn name(self) -> &'static str {
        use UnaryKind::*;
        match self {
            Neg => "neg",
            Abs => "abs",
            Sign => "sign",
            Floor => "floor",
            Ceil => "ceil",
            Round(_) => "round",
            Exp => "exp",
            Exp2 => "exp2",
            Expm1 => "expm1",
            Log => "log",
            Log1p => "log1p",
            Sqrt => "sqrt",
            Rsqrt => "rsqrt",
            Cbrt => "cbrt",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Asin => "asin",
            Acos => "acos",
            Atan => "atan",
            Sinh => "sinh",
            Cosh => "cosh",
            Tanh => "tanh",
            Asinh => "asinh",
            Acosh => "acosh",
            Atanh => "atanh",
            Logistic => "logistic",
            Erf => "erf",
            Erfc => "erfc",
            ErfInv => "erf_inv",
            Lgamma => "lgamma",
            Digamma => "digamma",
            IsFinite => "is_finite",
            Not => "not",
            PopulationCount => "population_count",
        }
    }

    fn accepts(self) -> Accepts {
        use UnaryKind::*;
        match self {
            Neg | Sign => Accepts::Numeric,
            Abs => Accepts::Numeric,
            Not => Accepts::IntOrBool,
            PopulationCount => Accepts::Int,
            _ => Accepts::Float,
        }
    }

    fn hlo(self) -> UnaryOp {
        use UnaryKind::*;
        match self {
            Neg => UnaryOp::Neg,
            Abs => UnaryOp::Abs,
            Sign => UnaryOp::Sign,
            Floor => UnaryOp::Floor,
            Ceil => UnaryOp::Ceil,
            Round(0) => UnaryOp::RoundNearestAfz,
            Round(_) => UnaryOp::RoundNearestEven,
            Exp => UnaryOp::Exp,
            Exp2 => UnaryOp::Exp2,
            Expm1 => UnaryOp::Expm1,
            Log => UnaryOp::Log,
            Log1p => UnaryOp::Log1p,
            Sqrt => UnaryOp::Sqrt,
            Rsqrt => UnaryOp::Rsqrt,
            Cbrt => UnaryOp::Cbrt,
            Sin => UnaryOp::Sin,
            Cos => UnaryOp::Cos,
            Tan => UnaryOp::Tan,
            Asin => UnaryOp::Asin,
            Acos => UnaryOp::Acos,
            Atan => UnaryOp::Atan,
            Sinh => UnaryOp::Sinh,
            Cosh => UnaryOp::Cosh,
            Tanh => UnaryOp::Tanh,
            Asinh => UnaryOp::Asinh,
            Acosh => UnaryOp::Acosh,
            Atanh => UnaryOp::Atanh,
            Logistic => UnaryOp::Logistic,
            Erf => UnaryOp::Erf,
            Erfc => UnaryOp::Erfc,
            ErfInv => UnaryOp::ErfInv,
            Lgamma => UnaryOp::Lgamma,
            Digamma => UnaryOp::Digamma,
            IsFinite => UnaryOp::IsFinite,
            Not => UnaryOp::Not,
            PopulationCount => UnaryOp::PopulationCount,
        }
    }
}

impl Primitive for Unary {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let x = &primals[0];
        let ans = unary(self.0, x);
        let t = match &tangents[0] {
            Some(t) => t,
            None => return Ok((vec![ans], vec![None])),
        };
        let c = |v: f64| full_like_scalar(x, v);
        use UnaryKind::*;
        let tout = match self.0 {
            Neg => Some(neg(t)),
            Abs => Some(select(&ge(x, &c(0.0)), t, &neg(t))),
            Sign | Floor | Ceil | Round(_) | IsFinite | Not | PopulationCount => None,
            Exp => Some(mul(t, &ans)),
            Exp2 => Some(mul(&mul(t, &ans), &c(std::f64::consts::LN_2))),
            Expm1 => Some(mul(t, &add(&ans, &c(1.0)))),
            Log => Some(div(t, x)),
            Log1p => Some(div(t, &add(x, &c(1.0)))),
            Sqrt => Some(div(&mul(t, &c(0.5)), &ans)),
            Rsqrt => Some(mul(&mul(t, &c(-0.5)), &div(&ans, x))),
            Cbrt => Some(mul(t, &div(&c(1.0 / 3.0), &integer_pow(&ans, 2)))),
            Sin => Some(mul(t, &cos(x))),
            Cos => Some(neg(&mul(t, &sin(x)))),
            Tan => Some(mul(t, &add(&c(1.0), &mul(&ans, &ans)))),
            Asin => Some(mul(t, &rsqrt(&sub(&c(1.0), &mul(x, x))))),
            Acos => Some(neg(&mul(t, &rsqrt(&sub(&c(1.0), &mul(x, x)))))),
            Atan => Some(div(t, &add(&c(1.0), &mul(x, x)))),
            Sinh => Some(mul(t, &cosh(x))),
            Cosh => Some(mul(t, &sinh(x))),
            Tanh => Some(mul(t, &sub(&c(1.0), &mul(&ans, &ans)))),
            Asinh => Some(mul(t, &rsqrt(&add(&mul(x, x), &c(1.0))))),
            Acosh => Some(mul(t, &rsqrt(&mul(&sub(x, &c(1.0)), &add(x, &c(1.0)))))),
            Atanh => Some(div(t, &mul(&add(&c(1.0), x), &sub(&c(1.0), x)))),
            Logistic => Some(mul(t, &mul(&ans, &sub(&c(1.0), &ans)))),
            Erf | Erfc => {
                let d = mul(
                    &c(2.0 / std::f64::consts::PI.sqrt()),
                    &exp(&neg(&mul(x, x))),
                );
                let d = if self.0 == Erfc { neg(&d) } else { d };
                Some(mul(t, &d))
            }
            ErfInv => Some(mul(
                t,
                &mul(
                    &c(std::f64::consts::PI.sqrt() / 2.0),
                    &exp(&mul(&ans, &ans)),
                ),
            )),
            Lgamma => Some(mul(t, &digamma(x))),
            Digamma => Some(mul(t, &trigamma(x))),
        };
        Ok((vec![ans], vec![tout]))
    }

    fn transpose(&self, cts: &[Option<Array>], _args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        match self.0 {
            UnaryKind::Neg => Ok(vec![cts[0].as_ref().map(neg)]),
            _ => Err(crate::core::primitive::no_rule(
                self.name(),
                "transpose (it is not linear)",
            )),
        }
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        batch_elementwise(*self, args, dims, size)
    }

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        match self.0 {
            UnaryKind::Round(m) => {
                let m = if m == 0 {
                    "AWAY_FROM_ZERO"
                } else {
                    "TO_NEAREST_EVEN"
                };
                vec![("rounding_method", format!("RoundingMethod.{m}"))]
            }
            _ => vec![],
        }
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one_input(inputs)?;
        check_dtype(self.0.accepts(), x.dtype)?;
        if self.0 == UnaryKind::IsFinite {
            return Ok(vec![Aval::new(x.shape.clone(), DType::Bool)]);
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let x = args[0];
        // abs of unsigned integers is the identity.
        if self.0 == UnaryKind::Abs && ctx.in_avals[0].dtype.is_unsigned_int() {
            return vec![x];
        }
        vec![ctx.b.unary(self.0.hlo(), x)]
    }
}

fn one_input(inputs: &[Aval]) -> Result<&Aval, String> {
    match inputs {
        [x] => Ok(x),
        _ => Err(format!("expects 1 operand, got {}", inputs.len())),
    }
}

/// Applies an elementwise unary primitive.
#[track_caller]
pub fn unary(kind: UnaryKind, x: &Array) -> Array {
    bind1(Unary(kind), std::slice::from_ref(x))
}

macro_rules! unary_fns {
    ($($(#[$doc:meta])* $fn_name:ident => $kind:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $fn_name(x: &Array) -> Array {
            unary($kind, x)
        }
    )*};
}

unary_fns! {
    /// -x.
    neg => UnaryKind::Neg;
    /// |x|.
    abs => UnaryKind::Abs;
    /// -1, 0 or 1 (NaN stays NaN).
    sign => UnaryKind::Sign;
    floor => UnaryKind::Floor;
    ceil => UnaryKind::Ceil;
    exp => UnaryKind::Exp;
    exp2 => UnaryKind::Exp2;
    expm1 => UnaryKind::Expm1;
    log => UnaryKind::Log;
    log1p => UnaryKind::Log1p;
    sqrt => UnaryKind::Sqrt;
    rsqrt => UnaryKind::Rsqrt;
    cbrt => UnaryKind::Cbrt;
    sin => UnaryKind::Sin;
    cos => UnaryKind::Cos;
    tan => UnaryKind::Tan;
    asin => UnaryKind::Asin;
    acos => UnaryKind::Acos;
    atan => UnaryKind::Atan;
    sinh => UnaryKind::Sinh;
    cosh => UnaryKind::Cosh;
    tanh => UnaryKind::Tanh;
    asinh => UnaryKind::Asinh;
    acosh => UnaryKind::Acosh;
    atanh => UnaryKind::Atanh;
    /// 1 / (1 + exp(-x)).
    logistic => UnaryKind::Logistic;
    erf => UnaryKind::Erf;
    erfc => UnaryKind::Erfc;
    erf_inv => UnaryKind::ErfInv;
    lgamma => UnaryKind::Lgamma;
    digamma => UnaryKind::Digamma;
    /// True where x is neither infinite nor NaN.
    is_finite => UnaryKind::IsFinite;
    /// Logical not (bool) or bitwise not (integers).
    not => UnaryKind::Not;
    population_count => UnaryKind::PopulationCount;
}

/// Rounding method of [`round`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundingMethod {
    AwayFromZero,
    ToNearestEven,
}

/// Rounds to an integral value (ties per `method`).
#[track_caller]
pub fn round(x: &Array, method: RoundingMethod) -> Array {
    unary(UnaryKind::Round(method as u8), x)
}

// ---- binary -----------------------------------------------------------------------

/// The elementwise binary primitives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Max,
    Min,
    Atan2,
    NextAfter,
    And,
    Or,
    Xor,
    ShiftLeft,
    ShiftRightLogical,
    ShiftRightArithmetic,
}

impl BinaryKind {
    fn name(self) -> &'static str {
        use BinaryKind::*;
        match self {
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "div",
            Rem => "rem",
            Pow => "pow",
            Max => "max",
            Min => "min",
            Atan2 => "atan2",
            NextAfter => "nextafter",
            And => "and",
            Or => "or",
            Xor => "xor",
            ShiftLeft => "shift_left",
            ShiftRightLogical => "shift_right_logical",
            ShiftRightArithmetic => "shift_right_arithmetic",
        }
    }

    fn accepts(self) -> Accepts {
        use BinaryKind::*;
        match self {
            Add | Sub | Mul | Div | Rem => Accepts::Numeric,
            Pow => Accepts::Numeric,
            Max | Min => Accepts::Any,
            Atan2 | NextAfter => Accepts::Float,
            And | Or | Xor => Accepts::IntOrBool,
            ShiftLeft | ShiftRightLogical | ShiftRightArithmetic => Accepts::Int,
        }
    }

    fn hlo(self) -> BinaryOp {
        use BinaryKind::*;
        match self {
            Add => BinaryOp::Add,
            Sub => BinaryOp::Sub,
            Mul => BinaryOp::Mul,
            Div => BinaryOp::Div,
            Rem => BinaryOp::Rem,
            Pow => BinaryOp::Pow,
            Max => BinaryOp::Max,
            Min => BinaryOp::Min,
            Atan2 => BinaryOp::Atan2,
            NextAfter => BinaryOp::NextAfter,
            And => BinaryOp::And,
            Or => BinaryOp::Or,
            Xor => BinaryOp::Xor,
            ShiftLeft => BinaryOp::ShiftLeft,
            ShiftRightLogical => BinaryOp::ShiftRightLogical,
            ShiftRightArithmetic => BinaryOp::ShiftRightArithmetic,
        }
    }
}

/// An elementwise binary primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Binary(pub BinaryKind);

/// The common shape of elementwise operands: equal shapes, or 0-d operands mixed in.
pub(crate) fn elementwise_shape(inputs: &[Aval]) -> Result<Vec<usize>, String> {
    let mut shape: Option<&Vec<usize>> = None;
    for a in inputs {
        if a.shape.is_empty() {
            continue;
        }
        match shape {
            None => shape = Some(&a.shape),
            Some(s) if *s == a.shape => {}
            Some(s) => {
                return Err(format!(
                    "operand shapes differ: {:?} and {:?} (lax requires equal shapes; \
                     jnp functions broadcast)",
                    s, a.shape
                ))
            }
        }
    }
    Ok(shape.cloned().unwrap_or_default())
}

pub(crate) fn same_dtype(inputs: &[Aval]) -> Result<DType, String> {
    let d = inputs[0].dtype;
    if let Some(other) = inputs.iter().find(|a| a.dtype != d) {
        return Err(format!(
            "operand dtypes differ: {} and {} (lax requires equal dtypes; jnp functions promote)",
            d, other.dtype
        ));
    }
    Ok(d)
}

fn all_weak(inputs: &[Aval]) -> bool {
    inputs.iter().all(|a| a.weak_type)
}

/// Broadcasts 0-d operands to `shape` (lowering of elementwise primitives).
pub(crate) fn broadcast_scalars(ctx: &mut LowerCtx, args: &[Value], shape: &[usize]) -> Vec<Value> {
    args.iter()
        .map(|&v| {
            if ctx.b.shape(v).dims.is_empty() && !shape.is_empty() {
                ctx.b.broadcast_in_dim(v, shape, &[])
            } else {
                v
            }
        })
        .collect()
}

impl Primitive for Binary {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let (x, y) = (&primals[0], &primals[1]);
        let ans = binary(self.0, x, y);
        let shape = ans.shape().to_vec();
        // A tangent term shaped like the output (0-d operands broadcast).
        let fit = |t: Array| -> Array {
            if t.shape() == shape.as_slice() {
                t
            } else {
                crate::lax::broadcast_in_dim(&t, &shape, &[])
            }
        };
        let (tx, ty) = (&tangents[0], &tangents[1]);
        let c = |v: f64| full_like_scalar(x, v);
        use BinaryKind::*;
        let term_x = |f: &dyn Fn(&Array) -> Array| tx.as_ref().map(|t| fit(f(t)));
        let term_y = |f: &dyn Fn(&Array) -> Array| ty.as_ref().map(|t| fit(f(t)));
        let tout = match self.0 {
            Add => add_tangents(term_x(&|t| t.clone()), term_y(&|t| t.clone())),
            Sub => add_tangents(term_x(&|t| t.clone()), term_y(&neg)),
            Mul => add_tangents(term_x(&|t| mul(t, y)), term_y(&|t| mul(x, t))),
            Div => add_tangents(
                term_x(&|t| div(t, y)),
                term_y(&|t| neg(&div(&mul(t, &ans), y))),
            ),
            Rem => {
                let q = div(x, y);
                let trunc = select(&lt(&q, &c(0.0)), &ceil(&q), &floor(&q));
                add_tangents(term_x(&|t| t.clone()), term_y(&|t| neg(&mul(t, &trunc))))
            }
            Pow => {
                let dx = |t: &Array| {
                    let ym1 = sub(y, &full_like_scalar(y, 1.0));
                    let yf = convert_element_type(y, x.dtype());
                    let ym1f = convert_element_type(&ym1, x.dtype());
                    let jac = mul(&yf, &pow(x, &ym1f));
                    // Like JAX: an integer exponent 0 gives 0 (not 0 * 0^-1 = NaN at x = 0).
                    let jac = if y.dtype().is_int() {
                        let y0 = eq(y, &full_like_scalar(y, 0.0));
                        let zero = zeros_like(&jac);
                        let y0 = if y0.shape() == jac.shape() {
                            y0
                        } else {
                            crate::lax::broadcast_in_dim(&y0, jac.shape(), &[])
                        };
                        select(&y0, &zero, &jac)
                    } else {
                        jac
                    };
                    mul(t, &jac)
                };
                let dy = |t: &Array| {
                    let safe_x = select(&eq(x, &c(0.0)), &broadcast_like(&c(1.0), x), x);
                    mul(t, &mul(&log(&safe_x), &ans))
                };
                add_tangents(term_x(&dx), term_y(&dy))
            }
            Max | Min => {
                let pick_x = if self.0 == Max { gt(x, y) } else { lt(x, y) };
                let tie = eq(x, y);
                let zero = broadcast_like(&c(0.0), &ans);
                let half = broadcast_like(&c(0.5), &ans);
                let one = broadcast_like(&c(1.0), &ans);
                let wx = select(&tie, &half, &select(&pick_x, &one, &zero));
                let wy = sub(&one, &wx);
                add_tangents(term_x(&|t| mul(t, &wx)), term_y(&|t| mul(t, &wy)))
            }
            Atan2 => {
                let denom = add(&mul(x, x), &mul(y, y));
                add_tangents(
                    term_x(&|t| mul(t, &div(y, &denom))),
                    term_y(&|t| neg(&mul(t, &div(x, &denom)))),
                )
            }
            NextAfter | And | Or | Xor | ShiftLeft | ShiftRightLogical | ShiftRightArithmetic => {
                None
            }
        };
        let tout = if ans.dtype().is_float() { tout } else { None };
        Ok((vec![ans], vec![tout]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let Some(ct) = &cts[0] else {
            return Ok(vec![None, None]);
        };
        let shape_of = |a: &LinArg| a.aval().shape;
        let lin = |i: usize| args[i].is_linear();
        use BinaryKind::*;
        let out = match self.0 {
            Add => vec![
                lin(0).then(|| unbroadcast(ct, &shape_of(&args[0]))),
                lin(1).then(|| unbroadcast(ct, &shape_of(&args[1]))),
            ],
            Sub => vec![
                lin(0).then(|| unbroadcast(ct, &shape_of(&args[0]))),
                lin(1).then(|| unbroadcast(&neg(ct), &shape_of(&args[1]))),
            ],
            Mul => {
                if lin(0) && lin(1) {
                    return Err("mul of two linear values is not linear".into());
                }
                if lin(0) {
                    vec![
                        Some(unbroadcast(&mul(ct, args[1].value()?), &shape_of(&args[0]))),
                        None,
                    ]
                } else {
                    vec![
                        None,
                        Some(unbroadcast(&mul(args[0].value()?, ct), &shape_of(&args[1]))),
                    ]
                }
            }
            Div => {
                if lin(1) {
                    return Err("div is linear only in its numerator".into());
                }
                vec![
                    Some(unbroadcast(&div(ct, args[1].value()?), &shape_of(&args[0]))),
                    None,
                ]
            }
            _ => {
                return Err(crate::core::primitive::no_rule(
                    self.name(),
                    "transpose (it is not linear)",
                ))
            }
        };
        Ok(out)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        batch_elementwise(*self, args, dims, size)
    }

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        if inputs.len() != 2 {
            return Err(format!("expects 2 operands, got {}", inputs.len()));
        }
        // pow takes an integer exponent with a float base, like lax.pow.
        let mixed_pow =
            self.0 == BinaryKind::Pow && inputs[0].dtype.is_float() && inputs[1].dtype.is_int();
        let dtype = if mixed_pow {
            inputs[0].dtype
        } else {
            same_dtype(inputs)?
        };
        check_dtype(self.0.accepts(), dtype)?;
        let shape = elementwise_shape(inputs)?;
        Ok(vec![Aval::weak(shape, dtype, all_weak(inputs))])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let shape = ctx.out_avals[0].shape.clone();
        let mut a = broadcast_scalars(ctx, args, &shape);
        let dtype = ctx.out_avals[0].dtype;
        a[1] = ctx.b.convert(a[1], dtype);
        vec![ctx.b.binary(self.0.hlo(), a[0], a[1])]
    }
}

/// Applies an elementwise binary primitive.
#[track_caller]
pub fn binary(kind: BinaryKind, x: &Array, y: &Array) -> Array {
    bind1(Binary(kind), &[x.clone(), y.clone()])
}

macro_rules! binary_fns {
    ($($(#[$doc:meta])* $fn_name:ident => $kind:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $fn_name(x: &Array, y: &Array) -> Array {
            binary($kind, x, y)
        }
    )*};
}

binary_fns! {
    add => BinaryKind::Add;
    sub => BinaryKind::Sub;
    mul => BinaryKind::Mul;
    /// Division; integer division truncates toward zero.
    div => BinaryKind::Div;
    /// Remainder with the dividend's sign (C fmod).
    rem => BinaryKind::Rem;
    pow => BinaryKind::Pow;
    /// Elementwise maximum (NaN propagates).
    max => BinaryKind::Max;
    /// Elementwise minimum (NaN propagates).
    min => BinaryKind::Min;
    atan2 => BinaryKind::Atan2;
    nextafter => BinaryKind::NextAfter;
    bitwise_and => BinaryKind::And;
    bitwise_or => BinaryKind::Or;
    bitwise_xor => BinaryKind::Xor;
    shift_left => BinaryKind::ShiftLeft;
    shift_right_logical => BinaryKind::ShiftRightLogical;
    shift_right_arithmetic => BinaryKind::ShiftRightArithmetic;
}

// ---- comparisons ------------------------------------------------------------------

/// A comparison primitive (`eq`, `ne`, `lt`, `le`, `gt`, `ge`) with a bool result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Compare(pub CmpKind);

/// Comparison direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpKind {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Primitive for Compare {
    fn jvp(&self, primals: &[Array], _tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        Ok((vec![bind1(*self, primals)], vec![None]))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        batch_elementwise(*self, args, dims, size)
    }

    fn name(&self) -> &'static str {
        match self.0 {
            CmpKind::Eq => "eq",
            CmpKind::Ne => "ne",
            CmpKind::Lt => "lt",
            CmpKind::Le => "le",
            CmpKind::Gt => "gt",
            CmpKind::Ge => "ge",
        }
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        if inputs.len() != 2 {
            return Err(format!("expects 2 operands, got {}", inputs.len()));
        }
        same_dtype(inputs)?;
        let shape = elementwise_shape(inputs)?;
        // Like JAX: comparing two weakly typed values gives a weak bool.
        Ok(vec![Aval::weak(shape, DType::Bool, all_weak(inputs))])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let shape = ctx.out_avals[0].shape.clone();
        let a = broadcast_scalars(ctx, args, &shape);
        let dir = match self.0 {
            CmpKind::Eq => CmpDir::Eq,
            CmpKind::Ne => CmpDir::Ne,
            CmpKind::Lt => CmpDir::Lt,
            CmpKind::Le => CmpDir::Le,
            CmpKind::Gt => CmpDir::Gt,
            CmpKind::Ge => CmpDir::Ge,
        };
        vec![ctx.b.compare(dir, a[0], a[1])]
    }
}

macro_rules! compare_fns {
    ($($fn_name:ident => $kind:expr;)*) => {$(
        #[track_caller]
        pub fn $fn_name(x: &Array, y: &Array) -> Array {
            bind1(Compare($kind), &[x.clone(), y.clone()])
        }
    )*};
}

compare_fns! {
    eq => CmpKind::Eq;
    ne => CmpKind::Ne;
    lt => CmpKind::Lt;
    le => CmpKind::Le;
    gt => CmpKind::Gt;
    ge => CmpKind::Ge;
}

// ---- select_n and clamp -----------------------------------------------------------

/// `select_n(which, *cases)`: `cases[which]` elementwise; `which` is bool (two cases)
/// or int32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SelectN;

impl Primitive for SelectN {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let ans = bind1(*self, primals);
        let which = &primals[0];
        let tout = if tangents[1..].iter().all(Option::is_none) || !ans.dtype().is_float() {
            None
        } else {
            let ts: Vec<Array> = tangents[1..]
                .iter()
                .zip(&primals[1..])
                .map(|(t, p)| instantiate(t, &p.aval().strong()))
                .collect();
            Some(select_n(which, &ts))
        };
        Ok((vec![ans], vec![tout]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let which = args[0].value()?;
        let mut out = vec![None];
        for (i, a) in args[1..].iter().enumerate() {
            out.push(match (&cts[0], a.is_linear()) {
                (Some(ct), true) => {
                    let zero = zeros_like(ct);
                    let cases: Vec<Array> = (0..args.len() - 1)
                        .map(|j| if j == i { ct.clone() } else { zero.clone() })
                        .collect();
                    Some(select_n(which, &cases))
                }
                _ => None,
            });
        }
        Ok(out)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        // The cases must keep equal shapes: an unbatched 0-d case next to a batched
        // one would stay 0-d in batch_elementwise, so give every case the batch dim.
        let (args, dims) = batch_operands(args, dims, size, |i| i > 0);
        batch_elementwise(*self, &args, &dims, size)
    }

    fn name(&self) -> &'static str {
        "select_n"
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let (which, cases) = inputs
            .split_first()
            .ok_or("expects a predicate and cases")?;
        if cases.is_empty() {
            return Err("needs at least one case".into());
        }
        match which.dtype {
            DType::Bool if cases.len() <= 2 => {}
            DType::Bool => {
                return Err(format!(
                    "a bool predicate selects among 2 cases, got {}",
                    cases.len()
                ))
            }
            DType::I32 => {}
            d => return Err(format!("the predicate must be bool or int32, got {d}")),
        }
        let dtype = same_dtype(cases)?;
        let case_shape = &cases[0].shape;
        if cases.iter().any(|c| &c.shape != case_shape) {
            let shapes: Vec<&Vec<usize>> = cases.iter().map(|c| &c.shape).collect();
            return Err(format!("cases must have equal shapes, got {shapes:?}"));
        }
        if !which.shape.is_empty() && &which.shape != case_shape {
            return Err(format!(
                "the predicate shape {:?} must be 0-d or equal the cases' shape {:?}",
                which.shape, case_shape
            ));
        }
        Ok(vec![Aval::weak(case_shape.clone(), dtype, all_weak(cases))])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let which = args[0];
        let cases = &args[1..];
        let shape = ctx.out_avals[0].shape.clone();
        let which_dtype = ctx.in_avals[0].dtype;
        let which = if ctx.b.shape(which).dims.is_empty() && !shape.is_empty() {
            ctx.b.broadcast_in_dim(which, &shape, &[])
        } else {
            which
        };
        let mut result = cases[0];
        for (i, &case) in cases.iter().enumerate().skip(1) {
            let pred = if which_dtype == DType::Bool {
                which
            } else {
                let c = ctx.b.constant_i128(DType::I32, i as i128);
                let c = ctx.b.broadcast_in_dim(c, &shape, &[]);
                ctx.b.compare(CmpDir::Ge, which, c)
            };
            result = ctx.b.select(pred, case, result);
        }
        vec![result]
    }
}

/// `cases[which]` elementwise.
#[track_caller]
pub fn select_n(which: &Array, cases: &[Array]) -> Array {
    let mut args = vec![which.clone()];
    args.extend(cases.iter().cloned());
    bind1(SelectN, &args)
}

/// `on_true` where `pred` else `on_false` (`select_n(pred, on_false, on_true)`).
#[track_caller]
pub fn select(pred: &Array, on_true: &Array, on_false: &Array) -> Array {
    select_n(pred, &[on_false.clone(), on_true.clone()])
}

/// `clamp(lo, x, hi)`: lo and hi are 0-d or shaped like x.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Clamp;

impl Primitive for Clamp {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let (lo, x, hi) = (&primals[0], &primals[1], &primals[2]);
        let ans = clamp(lo, x, hi);
        if !ans.dtype().is_float() {
            return Ok((vec![ans], vec![None]));
        }
        let shape = ans.shape().to_vec();
        let fit = |t: &Array| crate::lax::broadcast_in_dim(t, &shape, &[]);
        let zero = zeros_like(&ans);
        let pick = |cond: Array, t: &Option<Array>| {
            t.as_ref().map(|t| {
                let t = if t.shape() == shape.as_slice() {
                    t.clone()
                } else {
                    fit(t)
                };
                select(&cond, &t, &zero)
            })
        };
        let blo = |b: &Array| {
            if b.shape() == shape.as_slice() {
                b.clone()
            } else {
                fit(b)
            }
        };
        let (lo_b, hi_b) = (blo(lo), blo(hi));
        let in_range = bitwise_and(&ge(x, &lo_b), &le(x, &hi_b));
        let t = add_tangents(
            add_tangents(
                pick(lt(x, &lo_b), &tangents[0]),
                pick(in_range, &tangents[1]),
            ),
            pick(gt(x, &hi_b), &tangents[2]),
        );
        Ok((vec![ans], vec![t]))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        // x fixes the output shape (the bounds may be 0-d): an unbatched 0-d x next to
        // a batched bound would stay 0-d in batch_elementwise, so give x the batch dim.
        let (args, dims) = batch_operands(args, dims, size, |i| i == 1);
        batch_elementwise(*self, &args, &dims, size)
    }

    fn name(&self) -> &'static str {
        "clamp"
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [lo, x, hi] = inputs else {
            return Err(format!(
                "expects (lo, x, hi), got {} operands",
                inputs.len()
            ));
        };
        same_dtype(inputs)?;
        for (name, b) in [("lo", lo), ("hi", hi)] {
            if !b.shape.is_empty() && b.shape != x.shape {
                return Err(format!(
                    "{name} has shape {:?}; it must be 0-d or x's shape {:?}",
                    b.shape, x.shape
                ));
            }
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let shape = ctx.out_avals[0].shape.clone();
        let a = broadcast_scalars(ctx, args, &shape);
        vec![ctx.b.add(oxla::Op::Clamp, &a)]
    }
}

/// Broadcasts the unbatched operands selected by `pick` to carry a leading batch dim
/// of `size`, for primitives whose operands must share one shape under vmap.
fn batch_operands(
    args: &[Array],
    dims: &[Option<usize>],
    size: usize,
    pick: impl Fn(usize) -> bool,
) -> (Vec<Array>, Vec<Option<usize>>) {
    args.iter()
        .zip(dims)
        .enumerate()
        .map(|(i, (a, d))| match d {
            None if pick(i) => (crate::lax::broadcast(a, &[size]), Some(0)),
            _ => (a.clone(), *d),
        })
        .unzip()
}

/// Clamps `x` into `[lo, hi]`.
#[track_caller]
pub fn clamp(lo: &Array, x: &Array, hi: &Array) -> Array {
    bind1(Clamp, &[lo.clone(), x.clone(), hi.clone()])
}

// ---- conversions ------------------------------------------------------------------

/// `convert_element_type[new_dtype, weak_type]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvertElementType {
    pub new_dtype: DType,
    pub weak_type: bool,
}

impl Primitive for ConvertElementType {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let ans = bind1(*self, primals);
        let t = match &tangents[0] {
            Some(t) if self.new_dtype.is_float() && primals[0].dtype().is_float() => {
                Some(convert_element_type(t, self.new_dtype))
            }
            _ => None,
        };
        Ok((vec![ans], vec![t]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let from = args[0].aval().dtype;
        Ok(vec![cts[0]
            .as_ref()
            .map(|ct| convert_element_type(ct, from))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        batch_elementwise(*self, args, dims, size)
    }

    fn name(&self) -> &'static str {
        "convert_element_type"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("new_dtype", self.new_dtype.numpy_name().to_string()),
            ("weak_type", py_bool(self.weak_type)),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one_input(inputs)?;
        Ok(vec![Aval::weak(
            x.shape.clone(),
            self.new_dtype,
            self.weak_type,
        )])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx.b.convert(args[0], self.new_dtype)]
    }
}

/// Python's spelling of a bool, as jaxpr params print it.
pub(crate) fn py_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

/// Converts to `dtype` (float -> int truncates toward zero, saturating; NaN -> 0).
#[track_caller]
pub fn convert_element_type(x: &Array, dtype: DType) -> Array {
    convert_weak(x, dtype, false)
}

/// Converts to `dtype` with an explicit weak flag (used by type promotion).
#[track_caller]
pub fn convert_weak(x: &Array, dtype: DType, weak_type: bool) -> Array {
    if x.dtype() == dtype && x.weak_type() == weak_type {
        return x.clone();
    }
    bind1(
        ConvertElementType {
            new_dtype: dtype,
            weak_type,
        },
        std::slice::from_ref(x),
    )
}

/// `bitcast_convert_type[new_dtype]`: reinterprets the bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BitcastConvertType {
    pub new_dtype: DType,
}

impl Primitive for BitcastConvertType {
    fn jvp(&self, primals: &[Array], _tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        Ok((vec![bind1(*self, primals)], vec![None]))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], _size: usize) -> RuleResult<BatchOut> {
        // Bitcasting only touches the trailing dim, so the batch dim stays where it
        // is, unless it is last and a widening bitcast consumes the last dim.
        let x = &args[0];
        let d = dims[0].expect("a batched operand");
        let widening = x.dtype().size_bytes() < self.new_dtype.size_bytes();
        if widening && d + 1 == x.ndim() {
            let front = crate::transform::rules::move_axis(x, d, 0);
            return Ok((vec![bind1(*self, &[front])], vec![Some(0)]));
        }
        Ok((vec![bind1(*self, args)], vec![Some(d)]))
    }

    fn name(&self) -> &'static str {
        "bitcast_convert_type"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("new_dtype", self.new_dtype.numpy_name().to_string())]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one_input(inputs)?;
        let (from, to) = (x.dtype.size_bytes(), self.new_dtype.size_bytes());
        if x.dtype.is_bool() || self.new_dtype.is_bool() {
            return Err("cannot bitcast to or from bool".into());
        }
        let mut shape = x.shape.clone();
        if from > to {
            shape.push(from / to);
        } else if from < to {
            let ratio = to / from;
            if shape.last() != Some(&ratio) {
                return Err(format!(
                    "bitcasting {} to {} needs a last dimension of size {ratio}, shape is {:?}",
                    x.dtype, self.new_dtype, x.shape
                ));
            }
            shape.pop();
        }
        Ok(vec![Aval::new(shape, self.new_dtype)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx.b.add(
            oxla::Op::BitcastConvert {
                dtype: self.new_dtype,
            },
            args,
        )]
    }
}

/// Reinterprets the bits of `x` as `dtype` (a narrower type adds a trailing dim).
#[track_caller]
pub fn bitcast_convert_type(x: &Array, dtype: DType) -> Array {
    bind1(
        BitcastConvertType { new_dtype: dtype },
        std::slice::from_ref(x),
    )
}

// ---- integer_pow and reduce_precision ---------------------------------------------

/// `integer_pow[y]`: x raised to a static integer power.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IntegerPow {
    pub y: i32,
}

impl Primitive for IntegerPow {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let x = &primals[0];
        let ans = integer_pow(x, self.y);
        let t = match &tangents[0] {
            Some(t) if self.y != 0 => {
                let d = if self.y == 1 {
                    full_like_scalar(x, 1.0)
                } else {
                    integer_pow(x, self.y - 1)
                };
                Some(mul(t, &mul(&full_like_scalar(x, self.y as f64), &d)))
            }
            _ => None,
        };
        let t = t.map(|t| {
            if t.shape() == ans.shape() {
                t
            } else {
                crate::lax::broadcast_in_dim(&t, ans.shape(), &[])
            }
        });
        Ok((vec![ans], vec![t]))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        batch_elementwise(*self, args, dims, size)
    }

    fn name(&self) -> &'static str {
        "integer_pow"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("y", self.y.to_string())]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one_input(inputs)?;
        check_dtype(Accepts::Numeric, x.dtype)?;
        if self.y < 0 && !x.dtype.is_float() {
            return Err(format!(
                "negative power {} of an integer dtype {}",
                self.y, x.dtype
            ));
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let aval = &ctx.in_avals[0];
        let shape = aval.oxla_shape();
        let x = args[0];
        // Exponentiation by squaring, like XLA's lowering of integer_pow.
        let mut acc: Option<Value> = None;
        let mut base = x;
        let mut n = self.y.unsigned_abs();
        while n > 0 {
            if n & 1 == 1 {
                acc = Some(match acc {
                    None => base,
                    Some(a) => ctx.b.binary(BinaryOp::Mul, a, base),
                });
            }
            n >>= 1;
            if n > 0 {
                base = ctx.b.binary(BinaryOp::Mul, base, base);
            }
        }
        let pos = acc.unwrap_or_else(|| ctx.b.full_f64(&shape, 1.0));
        if self.y < 0 {
            let one = ctx.b.full_f64(&shape, 1.0);
            return vec![ctx.b.binary(BinaryOp::Div, one, pos)];
        }
        vec![pos]
    }
}

/// x ** y for a static integer y.
#[track_caller]
pub fn integer_pow(x: &Array, y: i32) -> Array {
    bind1(IntegerPow { y }, std::slice::from_ref(x))
}

/// `reduce_precision[exponent_bits, mantissa_bits]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReducePrecision {
    pub exponent_bits: u32,
    pub mantissa_bits: u32,
}

impl Primitive for ReducePrecision {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let ans = bind1(*self, primals);
        Ok((
            vec![ans],
            vec![tangents[0]
                .as_ref()
                .map(|t| bind1(*self, std::slice::from_ref(t)))],
        ))
    }

    fn transpose(&self, cts: &[Option<Array>], _args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        Ok(vec![cts[0]
            .as_ref()
            .map(|c| bind1(*self, std::slice::from_ref(c)))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        batch_elementwise(*self, args, dims, size)
    }

    fn name(&self) -> &'static str {
        "reduce_precision"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("exponent_bits", self.exponent_bits.to_string()),
            ("mantissa_bits", self.mantissa_bits.to_string()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let x = one_input(inputs)?;
        check_dtype(Accepts::Float, x.dtype)?;
        if self.exponent_bits < 1 {
            return Err("exponent_bits must be at least 1".into());
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![ctx.b.add(
            oxla::Op::ReducePrecision {
                exponent_bits: self.exponent_bits,
                mantissa_bits: self.mantissa_bits,
            },
            args,
        )]
    }
}

/// Rounds `x` as if stored with the given exponent and mantissa widths.
#[track_caller]
pub fn reduce_precision(x: &Array, exponent_bits: u32, mantissa_bits: u32) -> Array {
    bind1(
        ReducePrecision {
            exponent_bits,
            mantissa_bits,
        },
        std::slice::from_ref(x),
    )
}

/// A 0-d constant of `like`'s dtype holding `v` (a weak-free helper for rules).
pub fn full_like_scalar(like: &Array, v: f64) -> Array {
    if like.dtype().is_float() {
        Array::scalar_f64(v, like.dtype(), false)
    } else {
        Array::scalar_i128(v as i128, like.dtype(), false)
    }
}

/// A 0-d constant of `dtype` holding `v`.
pub fn full_like_scalar_dtype(dtype: DType, v: f64) -> Array {
    if dtype.is_float() {
        Array::scalar_f64(v, dtype, false)
    } else {
        Array::scalar_i128(v as i128, dtype, false)
    }
}

/// `v` (0-d) broadcast to `like`'s shape.
fn broadcast_like(v: &Array, like: &Array) -> Array {
    if like.ndim() == 0 {
        v.clone()
    } else {
        crate::lax::broadcast_in_dim(v, like.shape(), &[])
    }
}

// ---- stop_gradient ------------------------------------------------------------------

/// `stop_gradient`: the identity whose derivative is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StopGradient;

impl Primitive for StopGradient {
    fn name(&self) -> &'static str {
        "stop_gradient"
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        Ok(vec![one_input(inputs)?.clone()])
    }

    fn lower(&self, _ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![args[0]]
    }

    fn jvp(&self, primals: &[Array], _tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        Ok((vec![primals[0].clone()], vec![None]))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], _size: usize) -> RuleResult<BatchOut> {
        Ok((vec![args[0].clone()], vec![dims[0]]))
    }
}

/// `x` with a zero derivative: gradients do not flow through it.
#[track_caller]
pub fn stop_gradient(x: &Array) -> Array {
    bind1(StopGradient, std::slice::from_ref(x))
}

/// The trigamma function ψ₁(x) = d/dx digamma(x), from traceable operations (so it
/// has derivatives itself): the recurrence ψ₁(x) = ψ₁(x + 1) + 1/x² shifts x up to
/// at least 10, then the asymptotic series; negative x use the reflection formula
/// ψ₁(1 − x) + ψ₁(x) = π² / sin²(πx). Accurate to about 1e-12 relative in f64.
pub fn trigamma(x: &Array) -> Array {
    let c = |v: f64| full_like_scalar(x, v);
    let reflect = lt(x, &c(0.5));
    // Evaluate at z = x, or z = 1 - x for the reflected branch.
    let mut z = select(&reflect, &sub(&c(1.0), x), x);
    let mut acc = broadcast_like(&c(0.0), x);
    for _ in 0..10 {
        let small = lt(&z, &c(10.0));
        let term = div(&c(1.0), &mul(&z, &z));
        acc = add(&acc, &select(&small, &term, &broadcast_like(&c(0.0), x)));
        z = select(&small, &add(&z, &c(1.0)), &z);
    }
    // 1/z + 1/(2z²) + 1/(6z³) − 1/(30z⁵) + 1/(42z⁷) − 1/(30z⁹)
    let inv = div(&c(1.0), &z);
    let inv2 = mul(&inv, &inv);
    let series = [-1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 1.0 / 6.0]
        .iter()
        .fold(broadcast_like(&c(0.0), x), |p, &k| {
            add(&mul(&p, &inv2), &c(k))
        });
    let tail = add(
        &add(&inv, &mul(&inv2, &c(0.5))),
        &mul(&mul(&inv, &inv2), &series),
    );
    let direct = add(&acc, &tail);
    let pi = std::f64::consts::PI;
    let s = sin(&mul(x, &c(pi)));
    let reflected = sub(&div(&c(pi * pi), &mul(&s, &s)), &direct);
    select(&reflect, &reflected, &direct)
}
