//! Shared helpers of the indexing and sorting tests: a deterministic RNG, random
//! values per dtype, and panic-message checks.
#![allow(dead_code)]

use jaxon::numpy as jnp;
use jaxon::{Array, DType};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Every dtype jaxon supports.
pub const ALL_DTYPES: [DType; 13] = [
    DType::Bool,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::U16,
    DType::U32,
    DType::U64,
    DType::F16,
    DType::BF16,
    DType::F32,
    DType::F64,
];

/// xorshift64* (deterministic across runs and platforms).
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

    pub fn coin(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }

    /// A random shape of rank in `min_rank..=max_rank`, dims in `1..=max_dim`.
    pub fn shape(&mut self, min_rank: usize, max_rank: usize, max_dim: usize) -> Vec<usize> {
        let r = min_rank + self.below(max_rank - min_rank + 1);
        (0..r).map(|_| 1 + self.below(max_dim)).collect()
    }

    /// `n` values exactly representable in `dtype`, with many ties; with `specials`,
    /// floats include NaN, infinities and both zeros, integers their extremes.
    pub fn values(&mut self, dtype: DType, n: usize, specials: bool) -> Vec<f64> {
        (0..n).map(|_| self.value(dtype, specials)).collect()
    }

    pub fn value(&mut self, dtype: DType, specials: bool) -> f64 {
        if dtype == DType::Bool {
            return self.below(2) as f64;
        }
        if dtype.is_float() {
            if specials && self.coin(0.2) {
                let s = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0];
                return s[self.below(s.len())];
            }
            return (self.int(-12, 12) as f64) * 0.5;
        }
        let (lo, hi) = int_range(dtype);
        if specials && self.coin(0.1) {
            return if self.coin(0.5) { lo } else { hi };
        }
        (self.int(-20, 20) as f64).clamp(lo, hi)
    }
}

/// The (min, max) of an integer dtype, as f64 (exact enough for the tests' uses).
pub fn int_range(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::I8 => (-128.0, 127.0),
        DType::I16 => (-32768.0, 32767.0),
        DType::I32 => (-2147483648.0, 2147483647.0),
        DType::I64 => (-9.223372036854776e18, 9.223372036854776e18),
        DType::U8 => (0.0, 255.0),
        DType::U16 => (0.0, 65535.0),
        DType::U32 => (0.0, 4294967295.0),
        DType::U64 => (0.0, 1.8446744073709552e19),
        _ => (0.0, 1.0),
    }
}

/// An array of `dtype` holding `values` (exactly representable).
pub fn array(dtype: DType, shape: &[usize], values: &[f64]) -> Array {
    jnp::from_f64_values(shape, values, dtype)
}

/// Equal as f64 values of `dtype`, NaN matching NaN and -0.0 distinct from 0.0.
pub fn same_bits(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// Asserts `got` has `shape`, `dtype` and exactly `want` (NaN == NaN, signed zeros).
#[track_caller]
pub fn assert_array(got: &Array, dtype: DType, shape: &[usize], want: &[f64], what: &str) {
    assert_eq!(got.dtype(), dtype, "{what}: dtype");
    assert_eq!(got.shape(), shape, "{what}: shape");
    let g = got.to_f64_vec();
    assert_eq!(g.len(), want.len(), "{what}: length");
    for (i, (a, b)) in g.iter().zip(want).enumerate() {
        assert!(
            same_bits(*a, *b),
            "{what}: element {i} is {a}, expected {b}\n got {g:?}\nwant {want:?}"
        );
    }
}

/// Runs `f`, expects a panic whose message contains every one of `needles` and the
/// location `file:line` of the caller's statement.
#[track_caller]
pub fn expect_error<R>(f: impl FnOnce() -> R, file: &str, line: u32, needles: &[&str]) {
    let err = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic containing {needles:?}"),
        Err(e) => e,
    };
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    for n in needles {
        assert!(msg.contains(n), "message {msg:?} lacks {n:?}");
    }
    let loc = format!("{file}:{line}:");
    assert!(
        msg.contains(&loc),
        "message {msg:?} lacks the location {loc}"
    );
}

/// Row-major strides.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// The multi-index of flat position `flat`.
pub fn unravel(flat: usize, shape: &[usize]) -> Vec<usize> {
    let st = strides(shape);
    shape
        .iter()
        .zip(&st)
        .map(|(&n, &s)| (flat / s) % n.max(1))
        .collect()
}

/// The flat position of a multi-index.
pub fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(strides(shape)).map(|(i, s)| i * s).sum()
}
