//! The HLO IR: a module of computations; each computation is an SSA list of
//! instructions. Instructions may have several results (StableHLO style), so there
//! are no tuples: a [`Value`] names one result of one instruction.
//!
//! Region-carrying ops (reduce, scatter, sort, while, conditional, ...) refer to other
//! computations of the same module by [`CompId`].
//!
//! Semantics follow XLA/StableHLO unless a doc comment says otherwise.

use crate::{DType, Literal, Shape};

/// Index of a computation inside its [`Module`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompId(pub usize);

/// One result of one instruction of the same computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value {
    /// Position of the instruction in [`Computation::instrs`].
    pub instr: usize,
    /// Which result of that instruction.
    pub index: usize,
}

/// A whole program: computations plus the entry point.
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    pub name: String,
    pub computations: Vec<Computation>,
    pub entry: CompId,
}

impl Module {
    pub fn computation(&self, id: CompId) -> &Computation {
        &self.computations[id.0]
    }

    pub fn entry_computation(&self) -> &Computation {
        self.computation(self.entry)
    }
}

/// A function: parameters, instructions in definition order, results.
#[derive(Clone, Debug, PartialEq)]
pub struct Computation {
    pub name: String,
    /// Parameter shapes; parameter `i` is read by an `Op::Parameter { index: i }`.
    pub params: Vec<Shape>,
    pub instrs: Vec<Instr>,
    pub results: Vec<Value>,
}

impl Computation {
    /// The shape of a value.
    pub fn shape(&self, v: Value) -> &Shape {
        &self.instrs[v.instr].shapes[v.index]
    }

    /// How many times each instruction's results are read (by operands and the
    /// computation's results).
    pub fn use_counts(&self) -> Vec<usize> {
        let mut uses = vec![0usize; self.instrs.len()];
        for v in self
            .instrs
            .iter()
            .flat_map(|i| &i.operands)
            .chain(&self.results)
        {
            uses[v.instr] += 1;
        }
        uses
    }

    pub fn result_shapes(&self) -> Vec<Shape> {
        self.results
            .iter()
            .map(|&v| self.shape(v).clone())
            .collect()
    }
}

/// One SSA instruction.
#[derive(Clone, Debug, PartialEq)]
pub struct Instr {
    pub op: Op,
    pub operands: Vec<Value>,
    /// Result shapes (one entry per result).
    pub shapes: Vec<Shape>,
}

/// Elementwise unary operations. Integer-only ones: `Not` (also bool), `PopulationCount`.
/// Float-only: all transcendental ones, `Floor`, `Ceil`, `Round*`, `IsFinite` (bool result).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Abs,
    Sign,
    Floor,
    Ceil,
    /// Round half away from zero.
    RoundNearestAfz,
    /// Round half to even.
    RoundNearestEven,
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
    /// 1 / (1 + exp(-x)).
    Logistic,
    Erf,
    Erfc,
    ErfInv,
    Lgamma,
    Digamma,
    /// Bool result: not NaN and not infinite.
    IsFinite,
    /// Logical not for bool, bitwise not for integers.
    Not,
    PopulationCount,
}

impl UnaryOp {
    /// Whether native backends compute this float function with their own
    /// approximations (exp, tanh, sin, erf, ...): everything but the exact
    /// operations (sqrt is correctly rounded).
    pub fn is_approximated(self) -> bool {
        use UnaryOp::*;
        !matches!(
            self,
            Neg | Abs
                | Sign
                | Floor
                | Ceil
                | RoundNearestAfz
                | RoundNearestEven
                | Sqrt
                | IsFinite
                | Not
                | PopulationCount
        )
    }

    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "negate",
            Abs => "abs",
            Sign => "sign",
            Floor => "floor",
            Ceil => "ceil",
            RoundNearestAfz => "round_nearest_afz",
            RoundNearestEven => "round_nearest_even",
            Exp => "exponential",
            Exp2 => "exp2",
            Expm1 => "exponential_minus_one",
            Log => "log",
            Log1p => "log_plus_one",
            Sqrt => "sqrt",
            Rsqrt => "rsqrt",
            Cbrt => "cbrt",
            Sin => "sine",
            Cos => "cosine",
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
            PopulationCount => "popcnt",
        }
    }
}

/// Elementwise binary operations (operands of equal shape and dtype).
/// Integer `Div` truncates toward zero and `Rem` takes the dividend's sign; integer
/// division by zero gives -1 for `Div` (all ones for unsigned) and the dividend for `Rem`
/// (XLA's convention). Shifts by >= bit width give 0 (left, logical) or the sign fill
/// (arithmetic). `Max`/`Min` propagate NaN. `And`/`Or`/`Xor` are logical on bool,
/// bitwise on integers. `Pow` on integers is exponentiation by squaring (negative
/// exponents give 0 except for bases 1 and -1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
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

impl BinaryOp {
    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add",
            Sub => "subtract",
            Mul => "multiply",
            Div => "divide",
            Rem => "remainder",
            Pow => "power",
            Max => "maximum",
            Min => "minimum",
            Atan2 => "atan2",
            NextAfter => "next_after",
            And => "and",
            Or => "or",
            Xor => "xor",
            ShiftLeft => "shift_left",
            ShiftRightLogical => "shift_right_logical",
            ShiftRightArithmetic => "shift_right_arithmetic",
        }
    }
}

/// Comparison direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpDir {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpDir {
    pub fn name(self) -> &'static str {
        match self {
            CmpDir::Eq => "EQ",
            CmpDir::Ne => "NE",
            CmpDir::Lt => "LT",
            CmpDir::Le => "LE",
            CmpDir::Gt => "GT",
            CmpDir::Ge => "GE",
        }
    }
}

/// XLA gather dimension numbers (StableHLO naming). The index vector dimension is
/// always the last dimension of the start indices (as in JAX).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct GatherDims {
    pub offset_dims: Vec<usize>,
    pub collapsed_slice_dims: Vec<usize>,
    pub operand_batching_dims: Vec<usize>,
    pub start_indices_batching_dims: Vec<usize>,
    pub start_index_map: Vec<usize>,
}

/// XLA scatter dimension numbers (StableHLO naming); the index vector dimension is
/// the last dimension of the scatter indices.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct ScatterDims {
    pub update_window_dims: Vec<usize>,
    pub inserted_window_dims: Vec<usize>,
    pub input_batching_dims: Vec<usize>,
    pub scatter_indices_batching_dims: Vec<usize>,
    pub scatter_dims_to_operand_dims: Vec<usize>,
}

/// dot_general dimension numbers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct DotDims {
    pub lhs_batch: Vec<usize>,
    pub rhs_batch: Vec<usize>,
    pub lhs_contracting: Vec<usize>,
    pub rhs_contracting: Vec<usize>,
}

/// Convolution dimension numbers: which dimension of each operand plays which role.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct ConvDims {
    pub input_batch: usize,
    pub input_feature: usize,
    pub input_spatial: Vec<usize>,
    pub kernel_input_feature: usize,
    pub kernel_output_feature: usize,
    pub kernel_spatial: Vec<usize>,
    pub output_batch: usize,
    pub output_feature: usize,
    pub output_spatial: Vec<usize>,
}

/// What kind of kernel a [`Op::Fusion`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FusionKind {
    /// One loop over the output elements: elementwise ops, broadcasts, reshapes,
    /// transposes, converts, selects, iota, slices, concatenates, pads, ...
    Loop,
    /// Reductions (possibly several siblings, multi-output) over the same dims, with
    /// their elementwise producers fused into the reads of the reduced operands.
    Input,
    /// Row reductions over the trailing dims and the elementwise consumers of their
    /// results, computed row by row: each row's reductions, one pass after another,
    /// then its elementwise outputs, while the row is still in cache (softmax,
    /// layernorm).
    Row,
}

impl FusionKind {
    pub fn name(self) -> &'static str {
        match self {
            FusionKind::Loop => "kLoop",
            FusionKind::Input => "kInput",
            FusionKind::Row => "kRow",
        }
    }
}

/// Operations. Operand lists are described per variant as `(a, b, ...)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// `()`: parameter `index` of the enclosing computation.
    Parameter { index: usize },
    /// `()`: a constant.
    Constant(Literal),
    /// `()`: values 0, 1, ... along `dim` of `shape`, broadcast along the others.
    Iota { shape: Shape, dim: usize },
    /// `(x)`.
    Unary(UnaryOp),
    /// `(x, y)`, same shape and dtype.
    Binary(BinaryOp),
    /// `(x, y)` -> bool. `total_order` uses the IEEE total order for floats
    /// (-NaN < -inf < ... < -0.0 < 0.0 < ... < inf < NaN); otherwise IEEE comparison.
    Compare { dir: CmpDir, total_order: bool },
    /// `(pred, on_true, on_false)`; pred is bool of the same dims or a bool scalar.
    Select,
    /// `(lo, x, hi)`; lo and hi have x's shape or are scalars. max(lo, min(x, hi)).
    Clamp,
    /// `(x)` -> same dims, `dtype`. float->int truncates and saturates, NaN -> 0;
    /// anything -> bool is `x != 0`.
    Convert { dtype: DType },
    /// `(x)` -> reinterpret the bits. Equal widths: same dims. A narrower target adds a
    /// trailing dim of size ratio; a wider target removes a trailing dim of that size.
    BitcastConvert { dtype: DType },
    /// `(x)` -> `out_dims`; operand dim i maps to output dim `broadcast_dims[i]`
    /// (sizes equal or operand size 1).
    BroadcastInDim {
        out_dims: Vec<usize>,
        broadcast_dims: Vec<usize>,
    },
    /// `(x)` -> `dims` (row-major, same element count).
    Reshape { dims: Vec<usize> },
    /// `(x)`; output dim i is operand dim `perm[i]`.
    Transpose { perm: Vec<usize> },
    /// `(x)`: reverse along `dims`.
    Reverse { dims: Vec<usize> },
    /// `(x)`: static strided slice, `start <= limit`, `strides >= 1`.
    Slice {
        start: Vec<usize>,
        limit: Vec<usize>,
        strides: Vec<usize>,
    },
    /// `(x, i_0, ..., i_{r-1})`, scalar integer starts, clamped so the window fits.
    DynamicSlice { sizes: Vec<usize> },
    /// `(x, update, i_0, ..., i_{r-1})`, starts clamped so the update fits.
    DynamicUpdateSlice,
    /// `(x_0, ..., x_n)` along `dim`.
    Concatenate { dim: usize },
    /// `(x, pad_value)`: `low`/`high` may be negative (cropping); `interior` >= 0.
    Pad {
        low: Vec<i64>,
        high: Vec<i64>,
        interior: Vec<usize>,
    },
    /// `(operand, start_indices)`: XLA gather; start indices are clamped so each
    /// slice is in bounds.
    Gather {
        dims: GatherDims,
        slice_sizes: Vec<usize>,
        indices_are_sorted: bool,
    },
    /// `(operand, scatter_indices, updates)`: XLA scatter; `body` combines
    /// (current, update) scalars into the new value. A window that is partly out of
    /// bounds is skipped.
    Scatter {
        dims: ScatterDims,
        body: CompId,
        indices_are_sorted: bool,
        unique_indices: bool,
    },
    /// `(x_0..x_{n-1}, init_0..init_{n-1})`: reduce `dims` away with `body`
    /// (2n scalar params -> n results). Elements are combined in index order.
    Reduce { dims: Vec<usize>, body: CompId },
    /// `(x_0..x_{n-1}, init_0..init_{n-1})`: windowed reduction.
    ReduceWindow {
        window: Vec<usize>,
        strides: Vec<usize>,
        base_dilation: Vec<usize>,
        window_dilation: Vec<usize>,
        padding: Vec<(i64, i64)>,
        body: CompId,
    },
    /// `(x_0..x_{n-1})` sorted together along `dim`; `body` is the comparator
    /// (2n scalar params: a_0, b_0, a_1, b_1, ... -> bool "a before b").
    Sort {
        dim: usize,
        is_stable: bool,
        body: CompId,
    },
    /// `(x)`: the `k` largest along the last dim, sorted descending (ties keep the
    /// lower index first; NaN counts as largest) -> (values, i32 indices).
    TopK { k: usize },
    /// `(lhs, rhs)` -> dtype `out_dtype`; output dims: batch, lhs free, rhs free.
    DotGeneral { dims: DotDims, out_dtype: DType },
    /// `(lhs, rhs)`: XLA convolution.
    Convolution {
        window_strides: Vec<usize>,
        padding: Vec<(i64, i64)>,
        lhs_dilation: Vec<usize>,
        rhs_dilation: Vec<usize>,
        dims: ConvDims,
        feature_group_count: usize,
        batch_group_count: usize,
        out_dtype: DType,
    },
    /// `(x)`: round a float to the given exponent/mantissa widths (XLA semantics).
    ReducePrecision {
        exponent_bits: u32,
        mantissa_bits: u32,
    },
    /// `(args...)`: call `comp`.
    Call { comp: CompId },
    /// `(args...)`: a fusion made by the fusion pass: `comp` (the fused computation)
    /// runs as one kernel. Semantically a [`Op::Call`].
    Fusion { comp: CompId, kind: FusionKind },
    /// `(init...)`: `while cond(state) { state = body(state) }`; results = final state.
    While { cond: CompId, body: CompId },
    /// `(index, args...)`: index is an i32 scalar (clamped into range) or a bool
    /// (false -> branch 0, true -> branch 1); runs `branches[index](args...)`.
    Conditional { branches: Vec<CompId> },
    /// `(x_0, ..., x_{n-1})` -> `results` (possibly none): calls the host closure
    /// registered as `id` in [`crate::runtime::callbacks`] with the operand values
    /// and returns what it produces (which must match `results`). It has a side
    /// effect: it runs exactly once each time control reaches it, in program order,
    /// and is never removed, even when it has no results or they are unused.
    HostCallback { id: u64, results: Vec<Shape> },
}

impl Op {
    /// A math function native backends approximate: an approximated unary op
    /// (see [`UnaryOp::is_approximated`]), `pow` or `atan2`.
    pub fn is_approximated_math(&self) -> bool {
        match self {
            Op::Unary(u) => u.is_approximated(),
            Op::Binary(b) => matches!(b, BinaryOp::Pow | BinaryOp::Atan2),
            _ => false,
        }
    }

    /// The op's name as printed in HLO text.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Parameter { .. } => "parameter",
            Op::Constant(_) => "constant",
            Op::Iota { .. } => "iota",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Compare { .. } => "compare",
            Op::Select => "select",
            Op::Clamp => "clamp",
            Op::Convert { .. } => "convert",
            Op::BitcastConvert { .. } => "bitcast_convert",
            Op::BroadcastInDim { .. } => "broadcast_in_dim",
            Op::Reshape { .. } => "reshape",
            Op::Transpose { .. } => "transpose",
            Op::Reverse { .. } => "reverse",
            Op::Slice { .. } => "slice",
            Op::DynamicSlice { .. } => "dynamic_slice",
            Op::DynamicUpdateSlice => "dynamic_update_slice",
            Op::Concatenate { .. } => "concatenate",
            Op::Pad { .. } => "pad",
            Op::Gather { .. } => "gather",
            Op::Scatter { .. } => "scatter",
            Op::Reduce { .. } => "reduce",
            Op::ReduceWindow { .. } => "reduce_window",
            Op::Sort { .. } => "sort",
            Op::TopK { .. } => "top_k",
            Op::DotGeneral { .. } => "dot_general",
            Op::Convolution { .. } => "convolution",
            Op::ReducePrecision { .. } => "reduce_precision",
            Op::Call { .. } => "call",
            Op::Fusion { .. } => "fusion",
            Op::While { .. } => "while",
            Op::Conditional { .. } => "conditional",
            Op::HostCallback { .. } => "host_callback",
        }
    }

    /// Whether the op has an effect besides its results (a pass must keep it and
    /// its position relative to other effects, even when its results are unused).
    pub fn has_side_effect(&self) -> bool {
        matches!(self, Op::HostCallback { .. })
    }

    /// Sub-computations this op refers to.
    pub fn regions(&self) -> Vec<CompId> {
        match self {
            Op::Scatter { body, .. }
            | Op::Reduce { body, .. }
            | Op::ReduceWindow { body, .. }
            | Op::Sort { body, .. } => vec![*body],
            Op::Call { comp } | Op::Fusion { comp, .. } => vec![*comp],
            Op::While { cond, body } => vec![*cond, *body],
            Op::Conditional { branches } => branches.clone(),
            _ => vec![],
        }
    }
}
