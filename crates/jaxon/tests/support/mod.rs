//! Shared helpers for jaxon's integration tests: a deterministic RNG and random arrays.
#![allow(dead_code)]

use jaxon::prelude::*;
use oxla::Literal;

/// A small deterministic xorshift generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [lo, hi].
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    /// A random shape of rank 0..=max_rank with dims 1..=max_dim.
    pub fn shape(&mut self, max_rank: usize, max_dim: usize) -> Vec<usize> {
        let r = self.int(0, max_rank as i64) as usize;
        (0..r)
            .map(|_| self.int(1, max_dim as i64) as usize)
            .collect()
    }
}

/// A random array of `dtype`: floats uniform in [lo, hi) (rounded to the dtype),
/// integers uniform in [lo, hi] clipped to the dtype's range, bools fair.
pub fn random_array(rng: &mut Rng, dtype: DType, shape: &[usize], lo: f64, hi: f64) -> Array {
    let n: usize = shape.iter().product();
    let vals: Vec<f64> = (0..n)
        .map(|_| {
            if dtype.is_float() {
                rng.uniform(lo, hi)
            } else if dtype.is_bool() {
                rng.int(0, 1) as f64
            } else {
                let (dlo, dhi) = int_range(dtype);
                rng.int(lo.max(dlo) as i64, hi.min(dhi) as i64) as f64
            }
        })
        .collect();
    let lit = Literal::from_vec(shape, vals).convert(dtype);
    Array::from_literal(lit, false)
}

/// The representable range of an integer dtype, as f64 (clipped to ±2^62).
pub fn int_range(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::Bool => (0.0, 1.0),
        DType::I8 => (-128.0, 127.0),
        DType::I16 => (-32768.0, 32767.0),
        DType::I32 => (-2147483648.0, 2147483647.0),
        DType::I64 => (-4.6e18, 4.6e18),
        DType::U8 => (0.0, 255.0),
        DType::U16 => (0.0, 65535.0),
        DType::U32 => (0.0, 4294967295.0),
        DType::U64 => (0.0, 4.6e18),
        _ => (f64::MIN, f64::MAX),
    }
}

/// Rounds an f64 to `dtype` and back (the value a correctly rounded result has).
pub fn round_to(dtype: DType, v: f64) -> f64 {
    Literal::from_vec(&[], vec![v])
        .convert(dtype)
        .data()
        .get_f64(0)
}

/// Relative tolerance for results of `dtype` (a few units in the last place).
pub fn float_tol(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 2e-3,
        DType::BF16 => 1.6e-2,
        DType::F32 => 2e-6,
        _ => 1e-13,
    }
}

/// Asserts that `got` is within `rtol` (relative, with `atol` floor) of `want`;
/// NaN matches NaN and infinities must match exactly.
pub fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= atol + rtol * w.abs()
        };
        assert!(
            ok,
            "{what}: element {i}: got {g}, want {w} (rtol {rtol}, atol {atol})"
        );
    }
}

/// Runs `f`, expecting a panic whose message contains every string in `needles`.
pub fn expect_panic(f: impl FnOnce(), needles: &[&str]) -> String {
    let err =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    for n in needles {
        assert!(msg.contains(n), "panic message {msg:?} lacks {n:?}");
    }
    msg
}

/// A float of a golden JSON fixture (`"nan"`, `"inf"`, `"-inf"` as strings).
pub fn json_f64(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::String(s) if s == "nan" => f64::NAN,
        serde_json::Value::String(s) if s == "inf" => f64::INFINITY,
        serde_json::Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        v => v.as_f64().expect("a number"),
    }
}

/// The dtype with numpy name `name`.
pub fn dtype_of(name: &str) -> DType {
    DType::ALL
        .into_iter()
        .find(|d| d.numpy_name() == name)
        .unwrap_or_else(|| panic!("dtype {name}"))
}

/// The `shape` of an ARRAY of a golden JSON fixture.
pub fn golden_shape(v: &serde_json::Value) -> Vec<usize> {
    v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// An ARRAY of a golden JSON fixture (`tools/gen_golden.py`).
pub fn golden_array(v: &serde_json::Value) -> Array {
    let shape = golden_shape(v);
    let data: Vec<f64> = v["data"].as_array().unwrap().iter().map(json_f64).collect();
    let f = Array::from_vec(&shape, data);
    jaxon::lax::convert_element_type(&f, dtype_of(v["dtype"].as_str().unwrap()))
}
