//! `jaxon::random`: explicit, splittable pseudo-random numbers, bit-identical to JAX.
//!
//! A key is a `uint32[2]` array (JAX's "legacy" raw key). Every function is written
//! with ordinary lax primitives (threefry2x32 is adds, xors and shifts on `uint32`),
//! so it works eagerly, under `jit`, under `vmap` over keys, and lowers like any other
//! code. See the guide `docs/randomness.md`.
//!
//! ```
//! use jaxon::prelude::*;
//! use jaxon::random;
//! let key = random::key(42);
//! let (k1, k2) = random::split2(&key);
//! let u = random::uniform(&k1, &[3], DType::F32, 0.0, 1.0);
//! let n = random::normal(&k2, &[3], DType::F32);
//! assert_eq!(u.shape(), &[3]);
//! assert_eq!(n.dtype(), DType::F32);
//! ```
//!
//! The counter layout of `split` and `bits` follows JAX's `jax_threefry_partitionable`
//! flag. JAX ≥ 0.5 (and the current 0.10) defaults it to `true`; so does jaxon. Switch
//! it with [`set_threefry_partitionable`] or [`PartitionableGuard`]. The flag is read
//! when a function is traced: set it before the first call of a jitted function.

pub(crate) mod gamma_grad;
mod matrix;
mod rejection;
mod samplers;

pub use matrix::*;
pub use rejection::*;
pub use samplers::*;

use crate::array::Array;
use crate::error::user_error;
use crate::lax;
use crate::numpy::ArrayLike;
use oxla::DType;
use std::cell::Cell;

// ---- configuration ----------------------------------------------------------------

thread_local! {
    static PARTITIONABLE: Cell<bool> = const { Cell::new(true) };
}

/// Whether `split` and `bits` use JAX's "partitionable" threefry layout on this thread
/// (`jax_threefry_partitionable`; default `true`, like JAX ≥ 0.5).
pub fn threefry_partitionable() -> bool {
    PARTITIONABLE.with(Cell::get)
}

/// Sets `jax_threefry_partitionable` for this thread; returns the previous setting.
/// `false` reproduces JAX ≤ 0.4.x streams.
pub fn set_threefry_partitionable(on: bool) -> bool {
    PARTITIONABLE.with(|c| c.replace(on))
}

/// Sets `jax_threefry_partitionable` until dropped (then restores the old value).
///
/// ```
/// use jaxon::random;
/// {
///     let _g = random::PartitionableGuard::new(false);
///     assert!(!random::threefry_partitionable());
/// }
/// assert!(random::threefry_partitionable());
/// ```
pub struct PartitionableGuard {
    previous: bool,
}

impl PartitionableGuard {
    pub fn new(on: bool) -> PartitionableGuard {
        PartitionableGuard {
            previous: set_threefry_partitionable(on),
        }
    }
}

impl Drop for PartitionableGuard {
    fn drop(&mut self) {
        set_threefry_partitionable(self.previous);
    }
}

// ---- small helpers ----------------------------------------------------------------

/// A 0-d constant of an unsigned/signed integer dtype.
fn int_const(v: i128, dtype: DType) -> Array {
    Array::scalar_i128(v, dtype, false)
}

fn u32c(v: u32) -> Array {
    int_const(v as i128, DType::U32)
}

/// The two words of a single key, as 0-d `uint32` arrays.
#[track_caller]
fn key_words(op: &str, key: &Array) -> (Array, Array) {
    if key.dtype() != DType::U32 || key.shape() != [2] {
        user_error(format!(
            "random.{op}: expected a single PRNG key of shape [2] and dtype u32 \
             (from random::key, split or fold_in), got {}{:?}; use vmap for batches of keys",
            key.dtype(),
            key.shape()
        ));
    }
    let k0 = lax::reshape(&lax::slice(key, &[0], &[1], None), &[]);
    let k1 = lax::reshape(&lax::slice(key, &[1], &[2], None), &[]);
    (k0, k1)
}

fn stack_words(y0: &Array, y1: &Array) -> Array {
    let mut shape = y0.shape().to_vec();
    shape.push(1);
    let a = lax::reshape(y0, &shape);
    let b = lax::reshape(y1, &shape);
    lax::concatenate(&[a, b], shape.len() - 1)
}

fn rotl(x: &Array, r: u32) -> Array {
    lax::bitwise_or(
        &lax::shift_left(x, &u32c(r)),
        &lax::shift_right_logical(x, &u32c(32 - r)),
    )
}

// ---- the hash ---------------------------------------------------------------------

/// The Threefry-2x32 block cipher (20 rounds), elementwise over `uint32` arrays:
/// key words `k0`, `k1` and counter words `x0`, `x1` (equal shapes, or 0-d) to the two
/// output words. This is JAX's `threefry2x32` primitive, written with lax ops.
#[track_caller]
pub fn threefry2x32(k0: &Array, k1: &Array, x0: &Array, x1: &Array) -> (Array, Array) {
    for (name, a) in [("k0", k0), ("k1", k1), ("x0", x0), ("x1", x1)] {
        if a.dtype() != DType::U32 {
            user_error(format!(
                "random.threefry2x32: {name} must be u32, got {}{:?}",
                a.dtype(),
                a.shape()
            ));
        }
    }
    const ROT: [[u32; 4]; 2] = [[13, 15, 26, 6], [17, 29, 16, 24]];
    let ks = [
        k0.clone(),
        k1.clone(),
        lax::bitwise_xor(&lax::bitwise_xor(k0, k1), &u32c(0x1BD1_1BDA)),
    ];
    let mut a = lax::add(x0, &ks[0]);
    let mut b = lax::add(x1, &ks[1]);
    // `a` may be 0-d while `b` is not (or the reverse): broadcast both to one shape.
    if a.shape() != b.shape() {
        let shape = if a.ndim() == 0 { b.shape() } else { a.shape() }.to_vec();
        a = crate::numpy::broadcast_to_shape(&a, &shape);
        b = crate::numpy::broadcast_to_shape(&b, &shape);
    }
    for g in 0..5usize {
        for &r in &ROT[g % 2] {
            a = lax::add(&a, &b);
            b = rotl(&b, r);
            b = lax::bitwise_xor(&b, &a);
        }
        a = lax::add(&a, &ks[(g + 1) % 3]);
        b = lax::add(&lax::add(&b, &ks[(g + 2) % 3]), &u32c(g as u32 + 1));
    }
    (a, b)
}

/// JAX's `threefry_2x32(key, counts)`: hashes the flattened counts as pairs
/// (first half, second half), the odd one out paired with 0.
fn threefry_2x32_counts(k0: &Array, k1: &Array, counts: &Array) -> Array {
    let shape = counts.shape().to_vec();
    let n = counts.size();
    let mut flat = lax::reshape(counts, &[n]);
    if n % 2 == 1 {
        let zero = lax::reshape(&u32c(0), &[1]);
        flat = lax::concatenate(&[flat, zero], 0);
    }
    let m = flat.size() / 2;
    let x0 = lax::slice(&flat, &[0], &[m], None);
    let x1 = lax::slice(&flat, &[m], &[2 * m], None);
    let (y0, y1) = threefry2x32(k0, k1, &x0, &x1);
    let out = lax::concatenate(&[y0, y1], 0);
    lax::reshape(&lax::slice(&out, &[0], &[n], None), &shape)
}

/// The row-major linear index of every element of `shape` as (hi, lo) `uint32` words.
fn iota_2x32_shape(shape: &[usize]) -> (Array, Array) {
    let n: usize = shape.iter().product();
    if (n as u128) <= u32::MAX as u128 + 1 {
        let lo = lax::reshape(&lax::iota(DType::U32, n), shape);
        let hi = crate::numpy::broadcast_to_shape(&u32c(0), shape);
        (hi, lo)
    } else {
        let c = lax::reshape(&lax::iota(DType::U64, n), shape);
        let hi = lax::shift_right_logical(&c, &int_const(32, DType::U64));
        (
            lax::convert_element_type(&hi, DType::U32),
            lax::convert_element_type(&c, DType::U32),
        )
    }
}

// ---- keys -------------------------------------------------------------------------

/// A PRNG key from a 64-bit seed: `[seed >> 32, seed & 0xFFFFFFFF]` as `uint32[2]`,
/// like JAX's `PRNGKey(seed)` (with 64-bit seeds, as under `jax_enable_x64`).
///
/// ```
/// let k = jaxon::random::key((1u64 << 32) + 7);
/// assert_eq!(k.to_vec::<u32>(), vec![1, 7]);
/// ```
pub fn key(seed: u64) -> Array {
    Array::from_vec(&[2], vec![(seed >> 32) as u32, seed as u32])
}

/// A key from a 0-d integer seed array (traceable: `vmap` over seeds works). Seeds of
/// 32 bits or fewer give `[0, seed as u32]`; 64-bit seeds are split into two words.
#[track_caller]
pub fn key_from_seed(seed: &Array) -> Array {
    if seed.ndim() != 0 || !seed.dtype().is_int() {
        user_error(format!(
            "random.key_from_seed: the seed must be a 0-d integer array, got {}{:?}",
            seed.dtype(),
            seed.shape()
        ));
    }
    let (hi, lo) = if seed.dtype().bits() == 64 {
        let sh = lax::shift_right_logical(seed, &int_const(32, seed.dtype()));
        let mask = int_const(0xFFFF_FFFF, seed.dtype());
        (
            lax::convert_element_type(&sh, DType::U32),
            lax::convert_element_type(&lax::bitwise_and(seed, &mask), DType::U32),
        )
    } else {
        (u32c(0), lax::convert_element_type(seed, DType::U32))
    };
    stack_words(&hi, &lo)
}

/// `num` new keys, shape `[num, 2]` (JAX's `split(key, num)`).
#[track_caller]
pub fn split(key: &Array, num: usize) -> Array {
    split_shape(key, &[num])
}

/// New keys of shape `shape ++ [2]` (JAX's `split(key, shape)`).
#[track_caller]
pub fn split_shape(key: &Array, shape: &[usize]) -> Array {
    let (k0, k1) = key_words("split", key);
    if threefry_partitionable() {
        let (hi, lo) = iota_2x32_shape(shape);
        let (y0, y1) = threefry2x32(&k0, &k1, &hi, &lo);
        stack_words(&y0, &y1)
    } else {
        let n: usize = shape.iter().product();
        let bits = threefry_2x32_counts(&k0, &k1, &lax::iota(DType::U32, 2 * n));
        let mut out_shape = shape.to_vec();
        out_shape.push(2);
        lax::reshape(&bits, &out_shape)
    }
}

/// Two new keys (JAX's `k1, k2 = split(key)`).
#[track_caller]
pub fn split2(key: &Array) -> (Array, Array) {
    let ks = split(key, 2);
    (row(&ks, 0), row(&ks, 1))
}

/// Key `i` of a `[n, 2]` key array.
fn row(keys: &Array, i: usize) -> Array {
    lax::reshape(&lax::slice(keys, &[i, 0], &[i + 1, 2], None), &[2])
}

/// A new key that mixes `data` (a 0-d integer converted to `uint32`) into `key`:
/// `threefry2x32(key, (0, data))`. Same in both threefry layouts.
#[track_caller]
pub fn fold_in(key: &Array, data: impl ArrayLike) -> Array {
    let (k0, k1) = key_words("fold_in", key);
    let d = match data.operand() {
        crate::numpy::Operand::Int(v) => {
            if !(0..=u32::MAX as i128).contains(&v) {
                user_error(format!(
                    "random.fold_in: data {v} does not fit in uint32 (0..=4294967295)"
                ));
            }
            u32c(v as u32)
        }
        crate::numpy::Operand::Array(a) => {
            if a.ndim() != 0 || !(a.dtype().is_int() || a.dtype().is_bool()) {
                user_error(format!(
                    "random.fold_in: data must be a 0-d integer, got {}{:?}; use vmap for batches",
                    a.dtype(),
                    a.shape()
                ));
            }
            lax::convert_element_type(&a, DType::U32)
        }
        other => user_error(format!(
            "random.fold_in: data must be an integer, got {other:?}"
        )),
    };
    let (y0, y1) = threefry2x32(&k0, &k1, &u32c(0), &d);
    stack_words(&y0, &y1)
}

/// Uniform random bits of `shape` as an unsigned dtype (`U8`, `U16`, `U32`, `U64`),
/// like `jax.random.bits`.
#[track_caller]
pub fn bits(key: &Array, shape: &[usize], dtype: DType) -> Array {
    if !dtype.is_unsigned_int() {
        user_error(format!(
            "random.bits: dtype must be an unsigned integer dtype (u8, u16, u32, u64), got {dtype}"
        ));
    }
    let (k0, k1) = key_words("bits", key);
    random_bits(&k0, &k1, dtype.bits(), shape)
}

/// `random_bits(key, bit_width, shape)` on the key's words.
fn random_bits(k0: &Array, k1: &Array, width: u32, shape: &[usize]) -> Array {
    if threefry_partitionable() {
        bits_partitionable(k0, k1, width, shape)
    } else {
        bits_original(k0, k1, width, shape)
    }
}

fn uint_dtype(width: u32) -> DType {
    match width {
        8 => DType::U8,
        16 => DType::U16,
        32 => DType::U32,
        _ => DType::U64,
    }
}

fn bits_partitionable(k0: &Array, k1: &Array, width: u32, shape: &[usize]) -> Array {
    let (hi, lo) = iota_2x32_shape(shape);
    let (y0, y1) = threefry2x32(k0, k1, &hi, &lo);
    match width {
        64 => {
            let h = lax::convert_element_type(&y0, DType::U64);
            let l = lax::convert_element_type(&y1, DType::U64);
            let h = lax::shift_left(&h, &int_const(32, DType::U64));
            lax::bitwise_or(&h, &l)
        }
        32 => lax::bitwise_xor(&y0, &y1),
        w => lax::convert_element_type(&lax::bitwise_xor(&y0, &y1), uint_dtype(w)),
    }
}

fn bits_original(k0: &Array, k1: &Array, width: u32, shape: &[usize]) -> Array {
    let size: usize = shape.iter().product();
    let words = (width as usize * size).div_ceil(32);
    if words as u128 >= u32::MAX as u128 {
        user_error(format!(
            "random.bits: {size} elements of {width} bits exceed the original threefry layout's \
             single-block limit; use the partitionable layout"
        ));
    }
    let bits = threefry_2x32_counts(k0, k1, &lax::iota(DType::U32, words));
    let out = match width {
        64 => {
            let h = lax::slice(&bits, &[0], &[size], None);
            let l = lax::slice(&bits, &[size], &[2 * size], None);
            let h = lax::convert_element_type(&h, DType::U64);
            let l = lax::convert_element_type(&l, DType::U64);
            lax::bitwise_or(&lax::shift_left(&h, &int_const(32, DType::U64)), &l)
        }
        32 => bits,
        w => {
            // Little-endian unpack: word q gives elements q*(32/w) .. (q+1)*(32/w).
            let per = (32 / w) as usize;
            let b = lax::broadcast_in_dim(&bits, &[words, per], &[0]);
            let sh = lax::mul(
                &lax::broadcasted_iota(DType::U32, &[words, per], 1),
                &u32c(w),
            );
            let mask = crate::numpy::broadcast_to_shape(&u32c((1u32 << w) - 1), &[words, per]);
            let v = lax::bitwise_and(&lax::shift_right_logical(&b, &sh), &mask);
            let v = lax::reshape(&v, &[words * per]);
            let v = lax::convert_element_type(&v, uint_dtype(w));
            lax::slice(&v, &[0], &[size], None)
        }
    };
    lax::reshape(&out, shape)
}
