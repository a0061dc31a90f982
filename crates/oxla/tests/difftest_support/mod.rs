//! Random HLO graphs for differential testing of the CPU backend against the
//! interpreter: a deterministic generator (xorshift RNG, so a failing seed replays),
//! random inputs rich in special values, and a comparison that is bit-exact where
//! both backends must agree exactly and ULP-bounded where the CPU backend may
//! legitimately differ (polynomial math, GEMM summation order).

#![allow(dead_code)]

use oxla::backend::interp::evaluate;
use oxla::{
    BinaryOp, Builder, Client, CmpDir, DType, Data, DotDims, Literal, Module, Op, Shape, UnaryOp,
    Value,
};

/// xorshift64* generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    /// A random permutation of `0..n`.
    pub fn perm(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            p.swap(i, self.below(i + 1));
        }
        p
    }
}

pub const FLOATS: [DType; 4] = [DType::F16, DType::BF16, DType::F32, DType::F64];
pub const INTS: [DType; 8] = [
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::U64,
];

/// Machine epsilon (2^-mantissa bits) of a float dtype.
pub fn eps(d: DType) -> f64 {
    match d {
        DType::F16 => 2f64.powi(-10),
        DType::BF16 => 2f64.powi(-7),
        DType::F32 => 2f64.powi(-23),
        DType::F64 => 2f64.powi(-52),
        _ => 0.0,
    }
}

// ---- random inputs ---------------------------------------------------------------

/// Raw bits of one random float of `d`'s layout (`bits` wide, `m` mantissa bits):
/// specials (±0, ±inf, NaN, subnormals, min normal, max, ±1) with probability
/// `special`, otherwise a value of moderate magnitude.
fn float_bits(rng: &mut Rng, bits: u32, m: u32, special: f64) -> u64 {
    let sign = 1u64 << (bits - 1);
    let exp_mask = ((1u64 << (bits - 1 - m)) - 1) << m;
    let bias = (1u64 << (bits - 2 - m)) - 1;
    let one = bias << m;
    let s = if rng.chance(0.5) { sign } else { 0 };
    if rng.chance(special) {
        let mant = rng.next_u64() & ((1u64 << m) - 1);
        return s | match rng.below(9) {
            0 => 0,
            1 => exp_mask,                               // inf
            2 => exp_mask | (1 << (m - 1)),              // quiet NaN
            3 => mant.max(1),                            // subnormal
            4 => 1 << m,                                 // min normal
            5 => (exp_mask - (1 << m)) | ((1 << m) - 1), // max
            6 => one,                                    // 1
            7 => exp_mask | mant.max(1),                 // NaN with a payload
            _ => one + (1 << m) * rng.below(3) as u64,   // 1, 2, 4
        };
    }
    // Exponent within about 2^±6 of one, random mantissa.
    let e = (bias as i64 + rng.range(-6, 6)) as u64;
    let mant = rng.next_u64() & ((1u64 << m) - 1);
    s | (e << m) | mant
}

/// A random literal of `shape`; `special` is the chance of a special value.
pub fn random_literal(rng: &mut Rng, shape: &Shape, special: f64) -> Literal {
    let n = shape.num_elements();
    let d = shape.dtype;
    let mut bytes: Vec<u8> = Vec::with_capacity(n * d.size_bytes());
    for _ in 0..n {
        let v: u64 = match d {
            DType::Bool => rng.below(2) as u64,
            DType::F16 => float_bits(rng, 16, 10, special),
            DType::BF16 => float_bits(rng, 16, 7, special),
            DType::F32 => float_bits(rng, 32, 23, special),
            DType::F64 => float_bits(rng, 64, 52, special),
            _ => {
                let bits = d.bits();
                let mask = if bits == 64 {
                    u64::MAX
                } else {
                    (1u64 << bits) - 1
                };
                let top = 1u64 << (bits - 1);
                let v = if rng.chance(special) {
                    match rng.below(6) {
                        0 => 0,
                        1 => 1,
                        2 => mask,                              // -1 / MAX
                        3 => top,                               // MIN / 2^(b-1)
                        4 => top - 1,                           // MAX / 2^(b-1)-1
                        _ => bits as u64 + rng.below(3) as u64, // shift amounts around the width
                    }
                } else if rng.chance(0.5) {
                    rng.range(-9, 9) as u64
                } else {
                    rng.next_u64()
                };
                v & mask
            }
        };
        bytes.extend_from_slice(&v.to_le_bytes()[..d.size_bytes()]);
    }
    Literal::new(shape.clone(), Data::from_bytes(d, &bytes))
}

/// A scalar constant literal of `d` (specials included).
pub fn random_scalar(rng: &mut Rng, d: DType, special: f64) -> Literal {
    random_literal(rng, &Shape::scalar(d), special)
}

// ---- tolerances ------------------------------------------------------------------

/// How closely the CPU result must match the interpreter's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tol {
    /// Bit-exact (any NaN matches any NaN).
    Exact,
    /// Relative error bound (absolute in the subnormal range): at most
    /// `rel / eps(dtype) + 2` ULPs apart; NaN must match NaN.
    Rel(f64),
    /// A dot_general result: |cpu - interp| <= (k + 2) eps |a|·|b| (the bound of
    /// any summation order), where |a|·|b| comes from the twin module.
    Dot { k: usize },
}

impl Tol {
    fn rel(self) -> f64 {
        match self {
            Tol::Exact => 0.0,
            Tol::Rel(r) => r,
            Tol::Dot { .. } => f64::INFINITY,
        }
    }
}

/// A value of the graph being generated.
#[derive(Clone, Debug)]
struct Node {
    v: Value,
    shape: Shape,
    tol: Tol,
    /// Known to be >= 0 or NaN (sums of such values are well conditioned).
    nonneg: bool,
}

/// Knobs of the generator.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Number of generation steps.
    pub steps: usize,
    /// Element limit of generated arrays.
    pub max_elements: usize,
    /// Which op families to draw from (all when `None`).
    pub family: Option<Family>,
}

/// Op families, for focused properties.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Family {
    Elementwise,
    Structural,
    Reduce,
    Dot,
}

/// A generated test case.
pub struct Case {
    pub module: Module,
    /// Same graph, but every float dot reads |lhs| and |rhs| (error bounds).
    pub abs_module: Module,
    pub inputs: Vec<Literal>,
    pub tols: Vec<Tol>,
}

struct Gen {
    rng: Rng,
    b: Builder,
    pool: Vec<Node>,
    params: Vec<Shape>,
    cfg: Config,
    /// Twin mode: float dots read absolute values.
    abs_dots: bool,
    /// Dot results (terminal: never operands).
    dots: Vec<Node>,
}

/// Builds the case for `seed`. The graph is generated twice from the same seed
/// (plain and with |.| dot operands), which draws the same random numbers.
pub fn generate(seed: u64, cfg: Config) -> Case {
    let (module, tols, params) = build(seed, cfg, false);
    let (abs_module, _, _) = build(seed, cfg, true);
    let mut rng = Rng::new(seed ^ 0x5EED);
    let inputs = params
        .iter()
        .map(|s| {
            let special = rng.pick(&[0.0, 0.1, 0.3]);
            random_literal(&mut rng, s, special)
        })
        .collect();
    Case {
        module,
        abs_module,
        inputs,
        tols,
    }
}

fn build(seed: u64, cfg: Config, abs_dots: bool) -> (Module, Vec<Tol>, Vec<Shape>) {
    let mut g = Gen {
        rng: Rng::new(seed),
        b: Builder::new("difftest"),
        pool: Vec::new(),
        params: Vec::new(),
        cfg,
        abs_dots,
        dots: Vec::new(),
    };
    let first = g.random_shape();
    g.param(first);
    for _ in 0..cfg.steps {
        g.step();
    }
    // Results: the newest value, a few random others, and every dot.
    let mut outs: Vec<Node> = vec![g.pool.last().expect("a value").clone()];
    for _ in 0..g.rng.below(3) {
        let k = g.rng.below(g.pool.len());
        let n = g.pool[k].clone();
        if !outs.iter().any(|o| o.v == n.v) {
            outs.push(n);
        }
    }
    outs.extend(g.dots.iter().cloned());
    let results: Vec<Value> = outs.iter().map(|n| n.v).collect();
    let tols = outs.iter().map(|n| n.tol).collect();
    let params = g.params.clone();
    (g.b.finish(&results), tols, params)
}

fn max_tol(a: Tol, b: Tol) -> Tol {
    let r = a.rel().max(b.rel());
    if r == 0.0 {
        Tol::Exact
    } else {
        Tol::Rel(r)
    }
}

fn add_rel(t: Tol, extra: f64) -> Tol {
    Tol::Rel(t.rel() + extra)
}

impl Gen {
    fn random_dtype(&mut self) -> DType {
        match self.rng.below(10) {
            0 => DType::Bool,
            1..=4 => self.rng.pick(&INTS),
            5 | 6 => DType::F32,
            _ => self.rng.pick(&FLOATS),
        }
    }

    fn random_dims(&mut self, rank: usize) -> Vec<usize> {
        loop {
            let dims: Vec<usize> = (0..rank)
                .map(|_| {
                    if self.rng.chance(0.04) {
                        0
                    } else {
                        self.rng.pick(&[1, 1, 2, 3, 4, 5, 7, 8])
                    }
                })
                .collect();
            if dims.iter().product::<usize>() <= self.cfg.max_elements {
                return dims;
            }
        }
    }

    fn random_shape(&mut self) -> Shape {
        let rank = self.rng.pick(&[0, 1, 1, 2, 2, 2, 3, 3, 4]);
        let dims = self.random_dims(rank);
        Shape::new(self.random_dtype(), dims)
    }

    fn push(&mut self, v: Value, tol: Tol, nonneg: bool) -> usize {
        let shape = self.b.shape(v).clone();
        // Dot bounds of integer/exact values are exact; float bounds stay floats.
        let tol = if shape.dtype.is_float() {
            tol
        } else {
            Tol::Exact
        };
        self.pool.push(Node {
            v,
            shape,
            tol,
            nonneg,
        });
        self.pool.len() - 1
    }

    fn param(&mut self, shape: Shape) -> usize {
        self.params.push(shape.clone());
        let v = self.b.parameter(shape);
        self.push(v, Tol::Exact, false)
    }

    /// A pool value accepted by `ok`, or none.
    fn pick_where(&mut self, ok: impl Fn(&Node) -> bool) -> Option<usize> {
        let cands: Vec<usize> = (0..self.pool.len())
            .filter(|&i| ok(&self.pool[i]))
            .collect();
        if cands.is_empty() {
            None
        } else {
            // Prefer recent values so that chains form.
            let k = cands.len();
            let i = if self.rng.chance(0.6) {
                k - 1 - self.rng.below(k.min(3))
            } else {
                self.rng.below(k)
            };
            Some(cands[i])
        }
    }

    /// A value of exactly `shape`: an existing one or a new parameter.
    fn value_of(&mut self, shape: &Shape, ok: impl Fn(&Node) -> bool) -> usize {
        if self.rng.chance(0.6) {
            if let Some(i) = self.pick_where(|n| n.shape == *shape && ok(n)) {
                return i;
            }
        }
        self.param(shape.clone())
    }

    fn constant(&mut self, d: DType) -> Value {
        let lit = random_scalar(&mut self.rng, d, 0.3);
        self.b.constant(lit)
    }

    fn step(&mut self) {
        let fam = match self.cfg.family {
            Some(f) => f,
            None => self.rng.pick(&[
                Family::Elementwise,
                Family::Elementwise,
                Family::Structural,
                Family::Reduce,
                Family::Dot,
            ]),
        };
        match fam {
            Family::Elementwise => match self.rng.below(9) {
                0 | 1 => self.unary(),
                2..=4 => self.binary(),
                5 => self.compare(),
                6 => self.select(),
                7 => self.clamp(),
                _ => self.convert(),
            },
            Family::Structural => match self.rng.below(10) {
                0 => self.broadcast(),
                1 => self.reshape(),
                2 => self.transpose(),
                3 => self.slice(),
                4 => self.concatenate(),
                5 => self.pad(),
                6 => self.iota(),
                7 => self.reverse(),
                8 => self.dynamic_slice(),
                _ => self.binary(),
            },
            Family::Reduce => match self.rng.below(5) {
                0 | 1 => self.reduce(),
                2 => self.argmax(),
                3 => self.unary(),
                _ => self.broadcast(),
            },
            Family::Dot => match self.rng.below(3) {
                0 => self.dot(),
                1 => self.binary(),
                _ => self.transpose(),
            },
        }
    }

    // ---- elementwise -------------------------------------------------------------

    fn unary(&mut self) {
        use UnaryOp::*;
        let i = self.pick_where(|_| true).expect("the pool is never empty");
        let n = self.pool[i].clone();
        let d = n.shape.dtype;
        if d.is_bool() {
            let v = self.b.unary(Not, n.v);
            self.push(v, Tol::Exact, false);
            return;
        }
        if d.is_int() {
            let op = self.rng.pick(&[Neg, Abs, Sign, Not, PopulationCount]);
            let v = self.b.unary(op, n.v);
            self.push(v, Tol::Exact, false);
            return;
        }
        if n.tol != Tol::Exact {
            // Well-conditioned ops only on approximate values.
            match self.rng.below(3) {
                0 => {
                    let v = self.b.unary(Neg, n.v);
                    self.push(v, n.tol, false);
                }
                1 => {
                    let v = self.b.unary(Abs, n.v);
                    self.push(v, n.tol, true);
                }
                _ => {
                    let v = self.b.unary(Sqrt, n.v);
                    self.push(v, add_rel(n.tol, eps(d)), true);
                }
            }
            return;
        }
        let exact = [
            Neg,
            Abs,
            Sign,
            Floor,
            Ceil,
            RoundNearestAfz,
            RoundNearestEven,
            Sqrt,
            IsFinite,
        ];
        // (op, range of the asserted accuracy, result known non-negative).
        let approx: [(UnaryOp, f64, bool); 14] = [
            (Exp, 700.0, true),
            (Exp2, 1000.0, true),
            (Expm1, 700.0, false),
            (Log, f64::INFINITY, false),
            (Log1p, f64::INFINITY, false),
            (Tanh, 30.0, false),
            (Logistic, 700.0, true),
            (Erf, 8.0, false),
            (Sin, 1e5, false),
            (Cos, 1e5, false),
            (Tan, 1e5, false),
            (Rsqrt, f64::INFINITY, true),
            (Cbrt, f64::INFINITY, false),
            (Atan, f64::INFINITY, false),
        ];
        if self.rng.chance(0.5) {
            let op = self.rng.pick(&exact);
            let v = self.b.unary(op, n.v);
            self.push(v, Tol::Exact, matches!(op, Abs | Sqrt));
            return;
        }
        let (op, range, nonneg) = self.rng.pick(&approx);
        let mut x = n.v;
        if range.is_finite() {
            // Keep the argument where the accuracy is asserted (docs/cpu-math.md).
            let lo = self.b.constant_f64(d, -range);
            let hi = self.b.constant_f64(d, range);
            x = self.b.add(Op::Clamp, &[lo, x, hi]);
        }
        let v = self.b.unary(op, x);
        // f16/bf16 run the interpreter's element code: exact.
        let tol = if matches!(d, DType::F32 | DType::F64) {
            Tol::Rel(4.0 * eps(d))
        } else {
            Tol::Exact
        };
        self.push(v, tol, nonneg);
    }

    fn binary(&mut self) {
        use BinaryOp::*;
        let i = self.pick_where(|_| true).expect("non-empty pool");
        let n = self.pool[i].clone();
        let d = n.shape.dtype;
        if d.is_bool() {
            let j = self.value_of(&n.shape, |_| true);
            let op = self.rng.pick(&[And, Or, Xor, Max, Min]);
            let v = self.b.binary(op, n.v, self.pool[j].v);
            self.push(v, Tol::Exact, false);
            return;
        }
        if d.is_int() {
            let j = self.value_of(&n.shape, |_| true);
            let op = self.rng.pick(&[
                Add,
                Sub,
                Mul,
                Div,
                Rem,
                Max,
                Min,
                And,
                Or,
                Xor,
                ShiftLeft,
                ShiftRightLogical,
                ShiftRightArithmetic,
                Pow,
            ]);
            let (x, y) = if self.rng.chance(0.5) {
                (n.v, self.pool[j].v)
            } else {
                (self.pool[j].v, n.v)
            };
            let v = self.b.binary(op, x, y);
            self.push(v, Tol::Exact, false);
            return;
        }
        if n.tol != Tol::Exact {
            // Approximate operands: ops that keep relative errors bounded.
            let ops: &[BinaryOp] = if n.nonneg {
                &[Mul, Div, Max, Min, Add]
            } else {
                &[Mul, Div, Max, Min]
            };
            let op = self.rng.pick(ops);
            let need_nonneg = op == Add;
            let j = self.value_of(&n.shape, |m| {
                m.tol != Tol::Exact || !need_nonneg || m.nonneg
            });
            let m = self.pool[j].clone();
            if need_nonneg && !m.nonneg {
                // A fresh parameter: make it non-negative.
                let a = self.b.unary(UnaryOp::Abs, m.v);
                let v = self.b.binary(Add, n.v, a);
                self.push(v, add_rel(max_tol(n.tol, m.tol), eps(d)), true);
                return;
            }
            let v = self.b.binary(op, n.v, m.v);
            let tol = match op {
                Mul | Div => Tol::Rel(n.tol.rel() + m.tol.rel() + eps(d)),
                Add => add_rel(max_tol(n.tol, m.tol), eps(d)),
                _ => max_tol(n.tol, m.tol),
            };
            let nonneg = match op {
                Mul | Div | Add | Min => n.nonneg && m.nonneg,
                _ => n.nonneg || m.nonneg,
            };
            self.push(v, tol, nonneg);
            return;
        }
        let j = self.value_of(&n.shape, |m| m.tol == Tol::Exact);
        let m = self.pool[j].clone();
        let exact_ops = [Add, Sub, Mul, Div, Rem, Max, Min, NextAfter];
        let (op, tol) = if self.rng.chance(0.8) {
            (self.rng.pick(&exact_ops), Tol::Exact)
        } else {
            let op = self.rng.pick(&[Pow, Atan2]);
            let tol = if matches!(d, DType::F32 | DType::F64) {
                Tol::Rel(4.0 * eps(d))
            } else {
                Tol::Exact
            };
            (op, tol)
        };
        let (x, y) = if self.rng.chance(0.5) {
            (n.v, m.v)
        } else {
            (m.v, n.v)
        };
        let v = self.b.binary(op, x, y);
        self.push(v, tol, false);
    }

    fn compare(&mut self) {
        let i = self
            .pick_where(|n| n.tol == Tol::Exact)
            .expect("parameters are exact");
        let n = self.pool[i].clone();
        let j = self.value_of(&n.shape, |m| m.tol == Tol::Exact);
        let dir = self.rng.pick(&[
            CmpDir::Eq,
            CmpDir::Ne,
            CmpDir::Lt,
            CmpDir::Le,
            CmpDir::Gt,
            CmpDir::Ge,
        ]);
        let total_order = n.shape.dtype.is_float() && self.rng.chance(0.3);
        let v = self
            .b
            .add(Op::Compare { dir, total_order }, &[n.v, self.pool[j].v]);
        self.push(v, Tol::Exact, false);
    }

    fn select(&mut self) {
        let i = self.pick_where(|_| true).expect("non-empty pool");
        let n = self.pool[i].clone();
        let j = self.value_of(&n.shape, |_| true);
        let m = self.pool[j].clone();
        let pred = if self.rng.chance(0.2) {
            let lit = random_scalar(&mut self.rng, DType::Bool, 0.0);
            self.b.constant(lit)
        } else {
            let ps = n.shape.with_dtype(DType::Bool);
            let k = self.value_of(&ps, |_| true);
            self.pool[k].v
        };
        let v = self.b.select(pred, n.v, m.v);
        self.push(v, max_tol(n.tol, m.tol), n.nonneg && m.nonneg);
    }

    fn clamp(&mut self) {
        let i = self.pick_where(|_| true).expect("non-empty pool");
        let n = self.pool[i].clone();
        let d = n.shape.dtype;
        let (lo, hi, tol) = if self.rng.chance(0.6) {
            let lo = self.constant(d);
            let hi = self.constant(d);
            (lo, hi, n.tol)
        } else {
            let a = self.value_of(&n.shape, |_| true);
            let b = self.value_of(&n.shape, |_| true);
            let tol = max_tol(n.tol, max_tol(self.pool[a].tol, self.pool[b].tol));
            (self.pool[a].v, self.pool[b].v, tol)
        };
        let v = self.b.add(Op::Clamp, &[lo, n.v, hi]);
        self.push(v, tol, false);
    }

    fn convert(&mut self) {
        let i = self.pick_where(|_| true).expect("non-empty pool");
        let n = self.pool[i].clone();
        let from = n.shape.dtype;
        if n.tol != Tol::Exact {
            let to = self.rng.pick(&FLOATS);
            if to == from {
                return;
            }
            let v = self.b.convert(n.v, to);
            let tol = add_rel(n.tol, eps(to));
            self.push(v, tol, n.nonneg);
            return;
        }
        let to = self.random_dtype();
        if to == from {
            return;
        }
        let v = self.b.convert(n.v, to);
        self.push(v, Tol::Exact, false);
    }

    // ---- structural --------------------------------------------------------------

    fn broadcast(&mut self) {
        let i = self
            .pick_where(|n| n.shape.rank() < 4)
            .unwrap_or_else(|| self.pool.len() - 1);
        let n = self.pool[i].clone();
        let r = n.shape.rank();
        if r >= 4 {
            return;
        }
        let out_rank = self.rng.range(r as i64, 4) as usize;
        // Operand dim k goes to output position positions[k] (distinct, any order).
        let perm = self.rng.perm(out_rank);
        let mut positions: Vec<usize> = perm[..r].to_vec();
        if self.rng.chance(0.7) {
            positions.sort_unstable();
        }
        let mut out = vec![0usize; out_rank];
        let free = self.random_dims(out_rank);
        for (o, slot) in out.iter_mut().enumerate() {
            *slot = free[o];
        }
        for (k, &p) in positions.iter().enumerate() {
            let s = n.shape.dims[k];
            out[p] = if s == 1 && self.rng.chance(0.5) {
                free[p]
            } else {
                s
            };
        }
        if out.iter().product::<usize>() > self.cfg.max_elements * 2 {
            return;
        }
        let v = self.b.broadcast_in_dim(n.v, &out, &positions);
        self.push(v, n.tol, n.nonneg);
    }

    fn reshape(&mut self) {
        let i = self.pick_where(|_| true).expect("non-empty pool");
        let n = self.pool[i].clone();
        let mut dims = n.shape.dims.clone();
        for _ in 0..self.rng.range(1, 3) {
            match self.rng.below(4) {
                0 if dims.len() >= 2 => {
                    let k = self.rng.below(dims.len() - 1);
                    let m = dims[k] * dims[k + 1];
                    dims.splice(k..k + 2, [m]);
                }
                1 if !dims.is_empty() && dims.len() < 4 => {
                    let k = self.rng.below(dims.len());
                    let s = dims[k];
                    let divs: Vec<usize> =
                        (1..=s.max(1)).filter(|&a| s.is_multiple_of(a)).collect();
                    let a = self.rng.pick(&divs);
                    let b = s.checked_div(a).unwrap_or(0);
                    let a = if s == 0 { self.rng.pick(&[0, 2]) } else { a };
                    let b = if s == 0 && a == 0 { 3 } else { b };
                    dims.splice(k..k + 1, [a, b]);
                }
                2 if dims.len() < 4 => {
                    let k = self.rng.below(dims.len() + 1);
                    dims.insert(k, 1);
                }
                _ => {
                    if let Some(k) = dims.iter().position(|&s| s == 1) {
                        dims.remove(k);
                    }
                }
            }
        }
        if dims.iter().product::<usize>() != n.shape.num_elements() || dims.len() > 4 {
            return;
        }
        let v = self.b.reshape(n.v, &dims);
        self.push(v, n.tol, n.nonneg);
    }

    fn transpose(&mut self) {
        let i = self.pick_where(|n| n.shape.rank() >= 2).unwrap_or(0);
        let n = self.pool[i].clone();
        let perm = self.rng.perm(n.shape.rank());
        let v = self.b.transpose(n.v, &perm);
        self.push(v, n.tol, n.nonneg);
    }

    fn slice(&mut self) {
        let i = self.pick_where(|_| true).expect("non-empty pool");
        let n = self.pool[i].clone();
        let (mut start, mut limit, mut strides) = (vec![], vec![], vec![]);
        for &s in &n.shape.dims {
            let a = self.rng.range(0, s as i64) as usize;
            let b = self.rng.range(a as i64, s as i64) as usize;
            start.push(a);
            limit.push(b);
            strides.push(self.rng.pick(&[1, 1, 2, 3]));
        }
        let v = self.b.slice(n.v, &start, &limit, &strides);
        self.push(v, n.tol, n.nonneg);
    }

    fn concatenate(&mut self) {
        let i = self.pick_where(|n| n.shape.rank() >= 1).unwrap_or(0);
        let n = self.pool[i].clone();
        if n.shape.rank() == 0 {
            return;
        }
        let dim = self.rng.below(n.shape.rank());
        let mut operands = vec![n.v];
        let mut tol = n.tol;
        let mut nonneg = n.nonneg;
        for _ in 0..self.rng.range(1, 2) {
            let same = |m: &Node| {
                m.shape.dtype == n.shape.dtype
                    && m.shape.rank() == n.shape.rank()
                    && (0..m.shape.rank()).all(|k| k == dim || m.shape.dims[k] == n.shape.dims[k])
            };
            let j = match self.pick_where(same) {
                Some(j) if self.rng.chance(0.5) => j,
                _ => {
                    let mut dims = n.shape.dims.clone();
                    dims[dim] = self.rng.pick(&[0, 1, 2, 3]);
                    self.param(Shape::new(n.shape.dtype, dims))
                }
            };
            operands.push(self.pool[j].v);
            tol = max_tol(tol, self.pool[j].tol);
            nonneg &= self.pool[j].nonneg;
        }
        let v = self.b.add(Op::Concatenate { dim }, &operands);
        self.push(v, tol, nonneg);
    }

    fn pad(&mut self) {
        let i = self.pick_where(|_| true).expect("non-empty pool");
        let n = self.pool[i].clone();
        let (mut low, mut high, mut interior) = (vec![], vec![], vec![]);
        for &s in &n.shape.dims {
            let inter = self.rng.pick(&[0usize, 0, 1, 2]);
            let full = s as i64 + (s as i64 - 1).max(0) * inter as i64;
            let lo = self.rng.range(-2, 2).max(-full);
            let hi = self.rng.range(-2, 2).max(-(full + lo));
            low.push(lo);
            high.push(hi);
            interior.push(inter);
        }
        let pv = self.constant(n.shape.dtype);
        let v = self.b.add(
            Op::Pad {
                low,
                high,
                interior,
            },
            &[n.v, pv],
        );
        // The padding value is exact, but of unknown sign.
        self.push(v, n.tol, false);
    }

    fn iota(&mut self) {
        let rank = self.rng.range(1, 4) as usize;
        let dims = self.random_dims(rank);
        let d = self
            .rng
            .pick(&[DType::I32, DType::U8, DType::I64, DType::F32, DType::F16]);
        let dim = self.rng.below(rank);
        let v = self.b.iota(Shape::new(d, dims), dim);
        self.push(v, Tol::Exact, true);
    }

    fn reverse(&mut self) {
        let i = self.pick_where(|_| true).expect("non-empty pool");
        let n = self.pool[i].clone();
        let dims: Vec<usize> = (0..n.shape.rank())
            .filter(|_| self.rng.chance(0.5))
            .collect();
        let v = self.b.add(Op::Reverse { dims }, &[n.v]);
        self.push(v, n.tol, n.nonneg);
    }

    fn dynamic_slice(&mut self) {
        let i = self.pick_where(|_| true).expect("non-empty pool");
        let n = self.pool[i].clone();
        let sizes: Vec<usize> = n
            .shape
            .dims
            .iter()
            .map(|&s| self.rng.range(0, s as i64) as usize)
            .collect();
        let mut operands = vec![n.v];
        for _ in 0..n.shape.rank() {
            let d = self
                .rng
                .pick(&[DType::I32, DType::I64, DType::U32, DType::I8]);
            let s = if self.rng.chance(0.5) {
                let lit = Literal::scalar_i128(d, self.rng.range(-3, 9) as i128);
                self.b.constant(lit)
            } else {
                let k = self.param(Shape::scalar(d));
                self.pool[k].v
            };
            operands.push(s);
        }
        let v = self.b.add(Op::DynamicSlice { sizes }, &operands);
        self.push(v, n.tol, n.nonneg);
    }

    // ---- reductions --------------------------------------------------------------

    fn reduce(&mut self) {
        let i = self.pick_where(|n| n.shape.rank() >= 1).unwrap_or(0);
        let n = self.pool[i].clone();
        let d = n.shape.dtype;
        let r = n.shape.rank();
        let mut dims: Vec<usize> = (0..r).filter(|_| self.rng.chance(0.5)).collect();
        if dims.is_empty() && r > 0 {
            dims.push(self.rng.below(r));
        }
        if self.rng.chance(0.3) {
            // Unsorted reduce dims: elements must still combine in index order.
            let p = self.rng.perm(dims.len());
            dims = p.iter().map(|&k| dims[k]).collect();
        }
        let count: usize = dims.iter().map(|&k| n.shape.dims[k]).product();
        // Sibling reductions over the same operand and dims (multi-output kernels).
        for _ in 0..self.rng.range(1, 3) {
            let ops: &[BinaryOp] = if d.is_bool() {
                &[BinaryOp::And, BinaryOp::Or]
            } else if n.tol != Tol::Exact {
                if n.nonneg {
                    &[BinaryOp::Add, BinaryOp::Max, BinaryOp::Min]
                } else {
                    &[BinaryOp::Max, BinaryOp::Min]
                }
            } else {
                &[BinaryOp::Add, BinaryOp::Max, BinaryOp::Min, BinaryOp::Mul]
            };
            let op = self.rng.pick(ops);
            let init = match (op, d.is_float(), self.rng.chance(0.5)) {
                (_, _, false) => self.constant(d),
                (BinaryOp::Add | BinaryOp::Or, _, true) => self.b.constant_f64(d, 0.0),
                (BinaryOp::Mul | BinaryOp::And, _, true) => self.b.constant_f64(d, 1.0),
                (BinaryOp::Max, true, true) => self.b.constant_f64(d, f64::NEG_INFINITY),
                (BinaryOp::Min, true, true) => self.b.constant_f64(d, f64::INFINITY),
                _ => self.constant(d),
            };
            let body = self.b.scalar_binary_region(op, d);
            let v = self.b.reduce(&[n.v], &[init], &dims, body)[0];
            let tol = match op {
                BinaryOp::Add => add_rel(n.tol, (count + 2) as f64 * eps(d)),
                _ => n.tol,
            };
            let tol = if n.tol == Tol::Exact { Tol::Exact } else { tol };
            self.push(v, tol, n.nonneg && op != BinaryOp::Mul);
        }
    }

    /// argmax-style variadic reduce: (value, index) pairs, ties to the lower index,
    /// NaN wins.
    fn argmax(&mut self) {
        let i = self
            .pick_where(|n| n.shape.rank() >= 1 && n.tol == Tol::Exact && !n.shape.dtype.is_bool())
            .unwrap_or(0);
        let n = self.pool[i].clone();
        let d = n.shape.dtype;
        if n.shape.rank() == 0 || n.tol != Tol::Exact || d.is_bool() {
            return;
        }
        let r = n.shape.rank();
        let dim = self.rng.below(r);
        let mut dims = vec![dim];
        if r > 1 && self.rng.chance(0.3) {
            dims.push((dim + 1) % r);
        }
        let idx_t = self.rng.pick(&[DType::I32, DType::I64]);
        let iota = self.b.iota(Shape::new(idx_t, n.shape.dims.clone()), dim);
        let s = Shape::scalar(d);
        let si = Shape::scalar(idx_t);
        let min_first = self.rng.chance(0.3);
        let body = self
            .b
            .region("argmax", &[s.clone(), si.clone(), s, si], |b, p| {
                let (av, ai, bv, bi) = (p[0], p[1], p[2], p[3]);
                let better_dir = if min_first { CmpDir::Lt } else { CmpDir::Gt };
                let better = b.compare(better_dir, av, bv);
                let eq = b.compare(CmpDir::Eq, av, bv);
                let lower = b.compare(CmpDir::Lt, ai, bi);
                let tie = b.binary(BinaryOp::And, eq, lower);
                let mut take_a = b.binary(BinaryOp::Or, better, tie);
                if d.is_float() {
                    let a_nan = b.compare(CmpDir::Ne, av, av);
                    take_a = b.binary(BinaryOp::Or, take_a, a_nan);
                }
                let v = b.select(take_a, av, bv);
                let k = b.select(take_a, ai, bi);
                vec![v, k]
            });
        let init_v = if d.is_float() {
            self.b.constant_f64(
                d,
                if min_first {
                    f64::INFINITY
                } else {
                    f64::NEG_INFINITY
                },
            )
        } else {
            self.constant(d)
        };
        let init_i = self.b.constant_i128(idx_t, 0);
        let out = self.b.reduce(&[n.v, iota], &[init_v, init_i], &dims, body);
        self.push(out[0], Tol::Exact, false);
        self.push(out[1], Tol::Exact, true);
    }

    // ---- dot ---------------------------------------------------------------------

    fn dot(&mut self) {
        let d = self
            .rng
            .pick(&[DType::F32, DType::F32, DType::F64, DType::I32]);
        let size = |rng: &mut Rng| rng.pick(&[1usize, 2, 3, 4, 5, 8, 0]);
        let nb = self.rng.below(3);
        let nk = self.rng.below(3);
        let nm = self.rng.below(2);
        let nn = self.rng.below(2);
        let batch: Vec<usize> = (0..nb).map(|_| size(&mut self.rng)).collect();
        let contract: Vec<usize> = (0..nk).map(|_| size(&mut self.rng) + 1).collect();
        let m: Vec<usize> = (0..nm).map(|_| size(&mut self.rng)).collect();
        let n: Vec<usize> = (0..nn).map(|_| size(&mut self.rng)).collect();
        // Role lists: (role, k) with role 0 batch, 1 contracting, 2 free.
        let layout = |rng: &mut Rng, free: &[usize]| -> (Vec<usize>, Vec<(u8, usize)>) {
            let mut roles: Vec<(u8, usize)> = (0..nb).map(|k| (0u8, k)).collect();
            roles.extend((0..nk).map(|k| (1u8, k)));
            roles.extend((0..free.len()).map(|k| (2u8, k)));
            let p = if rng.chance(0.5) {
                (0..roles.len()).collect()
            } else {
                rng.perm(roles.len())
            };
            let roles: Vec<(u8, usize)> = p.iter().map(|&i| roles[i]).collect();
            let dims = roles
                .iter()
                .map(|&(r, k)| match r {
                    0 => batch[k],
                    1 => contract[k],
                    _ => free[k],
                })
                .collect();
            (dims, roles)
        };
        let (ld, lroles) = layout(&mut self.rng, &m);
        let (rd, rroles) = layout(&mut self.rng, &n);
        let find = |roles: &[(u8, usize)], role: u8, k: usize| {
            roles.iter().position(|&x| x == (role, k)).expect("role")
        };
        let dims = DotDims {
            lhs_batch: (0..nb).map(|k| find(&lroles, 0, k)).collect(),
            rhs_batch: (0..nb).map(|k| find(&rroles, 0, k)).collect(),
            lhs_contracting: (0..nk).map(|k| find(&lroles, 1, k)).collect(),
            rhs_contracting: (0..nk).map(|k| find(&rroles, 1, k)).collect(),
        };
        let total = |ds: &[usize]| ds.iter().product::<usize>();
        if total(&ld) > self.cfg.max_elements || total(&rd) > self.cfg.max_elements {
            return;
        }
        let lshape = Shape::new(d, ld);
        let rshape = Shape::new(d, rd);
        let l = self.value_of(&lshape, |x| x.tol == Tol::Exact);
        let r = self.value_of(&rshape, |x| x.tol == Tol::Exact);
        let (mut lv, mut rv) = (self.pool[l].v, self.pool[r].v);
        if self.rng.chance(0.3) {
            // A fusible producer in front of the dot.
            lv = self.b.unary(UnaryOp::Neg, lv);
        }
        if self.abs_dots && d.is_float() {
            lv = self.b.unary(UnaryOp::Abs, lv);
            rv = self.b.unary(UnaryOp::Abs, rv);
        }
        let k = total(&contract);
        let v = self.b.add(Op::DotGeneral { dims, out_dtype: d }, &[lv, rv]);
        let shape = self.b.shape(v).clone();
        let tol = if d.is_float() {
            Tol::Dot { k }
        } else {
            Tol::Exact
        };
        self.dots.push(Node {
            v,
            shape,
            tol,
            nonneg: false,
        });
    }
}

// ---- running and comparing ---------------------------------------------------------

/// Runs `module` on the CPU backend twice: once as compiled (first-tier kernels
/// unless the kernel cache had them), then after the background compiles (second
/// tier); both runs must give the same bits. Returns the second run's results.
pub fn run_cpu(module: &Module, inputs: &[Literal]) -> Result<Vec<Literal>, String> {
    let client = Client::cpu();
    let exe = client
        .compile(module.clone())
        .map_err(|e| format!("compile: {e}"))?;
    let bufs: Vec<_> = inputs
        .iter()
        .map(|l| client.buffer_from_literal(l.clone()))
        .collect();
    let refs: Vec<_> = bufs.iter().collect();
    let run = || -> Result<Vec<Literal>, String> {
        let out = exe.execute(&refs).map_err(|e| format!("execute: {e}"))?;
        Ok(out.iter().map(|b| b.to_literal()).collect())
    };
    let first = run()?;
    oxla::backend::cpu::wait_for_background_compiles();
    let second = run()?;
    for (k, (a, b)) in first.iter().zip(&second).enumerate() {
        if a.data().to_bytes() != b.data().to_bytes() {
            return Err(format!("result {k}: the two kernel tiers differ"));
        }
    }
    Ok(second)
}

/// Signed key of a float's bits whose order is the IEEE total order, so that the
/// difference of two keys is the distance in ULPs (±0 coincide).
fn ulp_key(bits: u64, width: u32) -> i128 {
    let sign = 1u64 << (width - 1);
    let mag = (bits & (sign - 1)) as i128;
    if bits & sign != 0 {
        -mag
    } else {
        mag
    }
}

fn float_bits_of(lit: &Literal, i: usize) -> (u64, u32) {
    match lit.data() {
        Data::F16(v) => (v[i].to_bits() as u64, 16),
        Data::BF16(v) => (v[i].to_bits() as u64, 16),
        Data::F32(v) => (v[i].to_bits() as u64, 32),
        Data::F64(v) => (v[i].to_bits(), 64),
        _ => unreachable!("float literal"),
    }
}

/// Compares one output; `bound` is the |a|·|b| output of the twin module for dots.
pub fn compare_output(
    got: &Literal,
    want: &Literal,
    tol: Tol,
    bound: Option<&Literal>,
) -> Result<(), String> {
    if got.shape() != want.shape() {
        return Err(format!("shape {} vs {}", got.shape(), want.shape()));
    }
    let d = want.dtype();
    if !d.is_float() {
        return if got.data() == want.data() {
            Ok(())
        } else {
            Err(format!("{:?}\n  vs interpreter\n{:?}", got, want))
        };
    }
    for i in 0..want.num_elements() {
        let (gb, w) = float_bits_of(got, i);
        let (wb, _) = float_bits_of(want, i);
        let g = got.data().get_f64(i);
        let x = want.data().get_f64(i);
        if g.is_nan() && x.is_nan() {
            continue;
        }
        let ok = match tol {
            Tol::Exact => gb == wb,
            Tol::Rel(r) => {
                let ulps = (ulp_key(gb, w) - ulp_key(wb, w)).unsigned_abs() as f64;
                !g.is_nan() && !x.is_nan() && ulps <= r / eps(d) + 2.0
            }
            Tol::Dot { k } => {
                let b = bound.expect("dot bound").data().get_f64(i);
                let max = match d {
                    DType::F32 => f32::MAX as f64,
                    _ => f64::MAX,
                };
                if !b.is_finite() || b > max / 4.0 {
                    true // overflow or non-finite terms: order-dependent
                } else {
                    let tiny = match d {
                        DType::F32 => f32::from_bits(1) as f64,
                        _ => f64::from_bits(1),
                    };
                    (g - x).abs() <= (k + 2) as f64 * eps(d) * b + (k + 2) as f64 * tiny
                }
            }
        };
        if !ok {
            return Err(format!(
                "element {i}: cpu {g:e} ({gb:#x}) vs interpreter {x:e} ({wb:#x}), tolerance {tol:?}"
            ));
        }
    }
    Ok(())
}

/// Runs a case on both backends and compares every output.
pub fn check_case(case: &Case) -> Result<(), String> {
    let want = evaluate(&case.module, &case.inputs).map_err(|e| format!("interpreter: {e}"))?;
    let got = run_cpu(&case.module, &case.inputs)?;
    let bounds = if case.tols.iter().any(|t| matches!(t, Tol::Dot { .. })) {
        Some(evaluate(&case.abs_module, &case.inputs).map_err(|e| format!("twin: {e}"))?)
    } else {
        None
    };
    if got.len() != want.len() {
        return Err(format!("{} results vs {}", got.len(), want.len()));
    }
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        let bound = bounds.as_ref().map(|b| &b[k]);
        compare_output(g, w, case.tols[k], bound).map_err(|e| format!("result {k}: {e}"))?;
    }
    Ok(())
}

/// Describes a failing case: the module text and the inputs.
pub fn describe(case: &Case) -> String {
    let mut s = format!("{}\ninputs:\n", case.module);
    for (i, l) in case.inputs.iter().enumerate() {
        s += &format!("  p{i}: {} {:?}\n", l.shape(), l.data());
    }
    s
}
