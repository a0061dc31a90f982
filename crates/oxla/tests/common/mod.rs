//! Shared helpers for the interpreter tests: a deterministic RNG, literal builders,
//! and `run`, which executes a module through the runtime and through `evaluate`
//! and checks both agree bit for bit.
#![allow(dead_code)]

use oxla::backend::interp::evaluate;
use oxla::{with_native_type, Buffer, Client, DType, Literal, Module, NativeType};

/// xorshift64*: tiny and deterministic.
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

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [lo, hi].
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    pub fn dims(&mut self, rank: usize, max: usize) -> Vec<usize> {
        (0..rank)
            .map(|_| self.int(1, max as i64) as usize)
            .collect()
    }

    pub fn floats(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
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

/// A literal of `dtype` from f64 values (rounded to the dtype).
pub fn lit(dtype: DType, dims: &[usize], v: &[f64]) -> Literal {
    with_native_type!(dtype, T => Literal::from_vec(dims, v.iter().map(|&x| T::from_f64(x)).collect()))
}

/// A literal of `dtype` from i128 values (wrapped to the dtype).
pub fn lit_i(dtype: DType, dims: &[usize], v: &[i128]) -> Literal {
    with_native_type!(dtype, T => Literal::from_vec(dims, v.iter().map(|&x| T::from_i128(x)).collect()))
}

pub fn f64s(l: &Literal) -> Vec<f64> {
    (0..l.num_elements()).map(|i| l.data().get_f64(i)).collect()
}

pub fn i128s(l: &Literal) -> Vec<i128> {
    (0..l.num_elements())
        .map(|i| l.data().get_i128(i))
        .collect()
}

/// Rounds f64 values to `dtype` and back.
pub fn round_to(dtype: DType, v: &[f64]) -> Vec<f64> {
    f64s(&lit(dtype, &[v.len()], v))
}

/// Runs `module` through the interpreter client and through `evaluate`.
pub fn run(module: Module, args: &[Literal]) -> Vec<Literal> {
    let direct = evaluate(&module, args).unwrap_or_else(|e| panic!("evaluate failed: {e}"));
    let client = Client::interpreter();
    let exe = client.compile(module).expect("compile");
    let bufs: Vec<Buffer> = args
        .iter()
        .map(|a| client.buffer_from_literal(a.clone()))
        .collect();
    let refs: Vec<&Buffer> = bufs.iter().collect();
    let out: Vec<Literal> = exe
        .execute(&refs)
        .expect("execute")
        .iter()
        .map(|b| b.to_literal())
        .collect();
    assert_eq!(out.len(), direct.len());
    for (a, b) in out.iter().zip(&direct) {
        assert_eq!(a.shape(), b.shape());
        assert_eq!(
            a.data().to_bytes(),
            b.data().to_bytes(),
            "client and evaluate differ"
        );
    }
    direct
}

/// Runs `m` on the CPU backend.
pub fn run_cpu(m: Module, args: &[Literal]) -> Vec<Literal> {
    let client = Client::cpu();
    let exe = client.compile(m).expect("compile");
    let bufs: Vec<Buffer> = args
        .iter()
        .map(|a| client.buffer_from_literal(a.clone()))
        .collect();
    let refs: Vec<&Buffer> = bufs.iter().collect();
    let got = exe.execute(&refs).expect("run");
    got.iter().map(|b| b.literal().clone()).collect()
}

/// Runs `m` on the CPU backend and in the interpreter; compares every result
/// within `rel` (NaNs must match).
pub fn check_cpu(m: Module, args: &[Literal], rel: f64) {
    let want = evaluate(&m, args).expect("interpreter");
    let got = run_cpu(m, args);
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.shape(), w.shape(), "result {k}");
        assert_close(&f64s(g), &f64s(w), rel, &format!("result {k}"));
    }
}

/// A deterministic sawtooth in [-5, 5.4] of `dims`, shifted by `seed`.
pub fn ramp(dtype: DType, dims: &[usize], seed: usize) -> Literal {
    let n: usize = dims.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| (((i + seed) * 7919) % 1009) as f64 / 97.0 - 5.0)
        .collect();
    lit(dtype, dims, &v)
}

/// Relative tolerance suited to a float dtype.
pub fn tol(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 2e-3,
        DType::BF16 => 1.6e-2,
        DType::F32 => 2e-6,
        _ => 1e-12,
    }
}

/// Asserts `got` ≈ `want` elementwise (NaNs must match; infinities exactly).
pub fn assert_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= rel * w.abs().max(1e-30) || (g - w).abs() <= rel * 1e-3
        };
        assert!(ok, "{what}: element {i}: got {g}, want {w}");
    }
}

/// Row softmax of the f32 `[rows, cols]` value `x`: a max and a sum reduction with
/// elementwise work between them.
pub fn softmax_rows(
    b: &mut oxla::Builder,
    x: oxla::Value,
    rows: usize,
    cols: usize,
) -> oxla::Value {
    use oxla::{BinaryOp, UnaryOp};
    let ninf = b.constant_f64(DType::F32, f64::NEG_INFINITY);
    let maxr = b.scalar_binary_region(BinaryOp::Max, DType::F32);
    let mx = b.reduce(&[x], &[ninf], &[1], maxr);
    let mxb = b.broadcast_in_dim(mx[0], &[rows, cols], &[0]);
    let d = b.binary(BinaryOp::Sub, x, mxb);
    let e = b.unary(UnaryOp::Exp, d);
    let zero = b.constant_f64(DType::F32, 0.0);
    let addr = b.scalar_binary_region(BinaryOp::Add, DType::F32);
    let s = b.reduce(&[e], &[zero], &[1], addr);
    let sb = b.broadcast_in_dim(s[0], &[rows, cols], &[0]);
    b.binary(BinaryOp::Div, e, sb)
}

/// Row layernorm of a `[rows, cols]` parameter: mean and variance (two reduction
/// stages, keepdims reshapes in between), then `(x - mean) * rsqrt(var)`.
pub fn layernorm_rows(d: DType, rows: usize, cols: usize) -> Module {
    use oxla::{BinaryOp, Builder, Shape, UnaryOp};
    let mut b = Builder::new("layernorm");
    let x = b.parameter(Shape::new(d, [rows, cols]));
    let zero = b.constant_f64(d, 0.0);
    let add = b.scalar_binary_region(BinaryOp::Add, d);
    let n = b.full_f64(&Shape::new(d, [rows]), cols as f64);
    let sum = b.reduce(&[x], &[zero], &[1], add);
    let mean = b.binary(BinaryOp::Div, sum[0], n);
    let mean = b.reshape(mean, &[rows, 1]);
    let meanb = b.broadcast_in_dim(mean, &[rows, cols], &[0, 1]);
    let c = b.binary(BinaryOp::Sub, x, meanb);
    let c2 = b.binary(BinaryOp::Mul, c, c);
    let ss = b.reduce(&[c2], &[zero], &[1], add);
    let var = b.binary(BinaryOp::Div, ss[0], n);
    let inv = b.unary(UnaryOp::Rsqrt, var);
    let invb = b.broadcast_in_dim(inv, &[rows, cols], &[0]);
    let out = b.binary(BinaryOp::Mul, c, invb);
    b.finish(&[out])
}
