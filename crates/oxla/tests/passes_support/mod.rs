//! Shared helpers for the pass tests: a deterministic RNG, random literals (with
//! signed zeros, infinities and quiet NaNs for floats), bit-exact comparison of a
//! module before and after a pass, and instruction counting.
#![allow(dead_code)]

use oxla::backend::interp::evaluate;
use oxla::passes::Pass;
use oxla::{with_native_type, DType, Literal, Module, NativeType, Shape};

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

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A float value: mostly ordinary numbers, sometimes a special one.
fn float_value(rng: &mut Rng, specials: bool) -> f64 {
    let pick = if specials { rng.below(12) } else { 11 };
    match pick {
        0 => 0.0,
        1 => -0.0,
        2 => f64::INFINITY,
        3 => f64::NEG_INFINITY,
        4 => f64::NAN,
        5 => -f64::NAN,
        6 => 1.0,
        7 => -1.0,
        8 => 1e-40, // a subnormal f32
        // A quiet NaN with a random sign and payload.
        9 => f64::from_bits(0x7FF8_0000_0000_0000 | (rng.next_u64() & 0x8007_FFFF_FFFF_FFFF)),
        _ => {
            let mag = (rng.below(2001) as f64 - 1000.0) / 100.0;
            let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
            sign * 2f64.powf(mag) * (1.0 + rng.below(1000) as f64 / 1000.0)
        }
    }
}

/// Random elements of `shape`. Integers cover the full range (plus 0, 1, -1);
/// floats include -0.0, infinities and NaNs when `specials` is set.
pub fn random_literal(rng: &mut Rng, shape: &Shape, specials: bool) -> Literal {
    let n = shape.num_elements();
    let dtype = shape.dtype;
    with_native_type!(dtype, T => {
        let v: Vec<T> = (0..n)
            .map(|_| {
                if dtype.is_float() {
                    T::from_f64(float_value(rng, specials))
                } else {
                    match rng.below(6) {
                        0 => T::from_i128(0),
                        1 => T::from_i128(1),
                        2 => T::from_i128(-1),
                        _ => T::from_i128(rng.next_u64() as i64 as i128),
                    }
                }
            })
            .collect();
        Literal::from_vec(&shape.dims, v)
    })
}

/// Random arguments for the entry computation of `m`.
pub fn random_args(rng: &mut Rng, m: &Module, specials: bool) -> Vec<Literal> {
    m.entry_computation()
        .params
        .iter()
        .map(|s| random_literal(rng, s, specials))
        .collect()
}

/// Whether two literals are the same bit for bit.
pub fn bits_eq(a: &Literal, b: &Literal) -> bool {
    a.shape() == b.shape() && a.data().to_bytes() == b.data().to_bytes()
}

/// Evaluates `before` and `after` on `trials` sets of random arguments and requires
/// bit-identical results.
pub fn assert_same(before: &Module, after: &Module, seed: u64, trials: usize, specials: bool) {
    let mut rng = Rng::new(seed);
    for t in 0..trials {
        let args = random_args(&mut rng, before, specials);
        let want = evaluate(before, &args).expect("the original module runs");
        let got = evaluate(after, &args).expect("the rewritten module runs");
        assert_eq!(want.len(), got.len());
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            assert!(
                bits_eq(w, g),
                "trial {t}, result {i} differs:\nargs {args:?}\nwant {w:?}\ngot  {g:?}\nbefore:\n{before}\nafter:\n{after}"
            );
        }
    }
}

/// Runs `passes` in order on a copy of `m`; returns the result and whether the
/// first pass changed anything.
pub fn apply(m: &Module, passes: &[&dyn Pass]) -> (Module, bool) {
    let mut out = m.clone();
    let mut first = None;
    for p in passes {
        let changed = p.run(&mut out).expect("the pass runs");
        first.get_or_insert(changed);
        oxla::hlo::verify::verify_module(&out).expect("the pass keeps the module valid");
    }
    (out, first.unwrap_or(false))
}

/// The op names of the entry computation's instructions, parameters left out.
pub fn ops(m: &Module) -> Vec<&'static str> {
    m.entry_computation()
        .instrs
        .iter()
        .map(|i| i.op.name())
        .filter(|&n| n != "parameter")
        .collect()
}

/// How many entry instructions have op name `name`.
pub fn count(m: &Module, name: &str) -> usize {
    ops(m).iter().filter(|&&n| n == name).count()
}

/// A module built by `f` on parameters of the given shapes.
pub fn module(
    params: &[Shape],
    f: impl FnOnce(&mut oxla::Builder, &[oxla::Value]) -> Vec<oxla::Value>,
) -> Module {
    let mut b = oxla::Builder::new("test");
    let ps: Vec<oxla::Value> = params.iter().map(|s| b.parameter(s.clone())).collect();
    let out = f(&mut b, &ps);
    b.finish(&out)
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
