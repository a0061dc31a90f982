//! Elementwise primitives: unary math, binary arithmetic and logic, comparisons,
//! select_n, clamp, dtype conversions, integer_pow and reduce_precision.
//!
//! Binary primitives take operands of one dtype whose shapes are equal, or where one
//! side is 0-d (as in JAX's jaxprs: `mul c 3.0:f32[]`). The numpy layer does the
//! promotion and broadcasting before binding.
//!
//! jvp / transpose / batch rules: the transformations issue adds them here.

use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{LowerCtx, Primitive};
use crate::core::trace::bind1;
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
