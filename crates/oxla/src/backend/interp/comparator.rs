//! Recognizes sort comparators that order by keys, so that a sort can run as a
//! plain stable sort by integer keys instead of evaluating the comparator region
//! for every comparison.
//!
//! A comparator region takes `(a_0, b_0, a_1, b_1, ...)`, one pair per sort
//! operand, and says whether `a` goes before `b`. Recognized forms, per key `k`:
//!
//! * `compare(LT|GT, a_k, b_k)` (or with the operands swapped) on integers, or on
//!   floats in total order;
//! * the same on floats canonicalized first, as JAX's (and jaxon's) comparator
//!   does: `select(x != x, NaN, select(x == 0, 0, x))`, so -0.0 ties with 0.0 and
//!   every NaN ties with every other (and sorts last);
//! * lexicographic chains `or(lt_k, and(eq_k, rest))`, `eq_k` the total-order
//!   equality of the same (canonicalized) values.
//!
//! Every such comparator is a strict weak order given by a tuple of keys, so the
//! stable sort by the keys is exactly the permutation the reference merge sort
//! finds. Anything else (IEEE partial comparisons on floats, other regions) is not
//! recognized and keeps the general path.

use crate::hlo::ir::*;
use crate::{with_data, DType, Literal, NativeType};

/// One key of a recognized comparator: which operand, which way, and how its
/// values order.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub operand: usize,
    descending: bool,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Integers and bools by value; floats in IEEE total order.
    Plain,
    /// Floats with zeros replaced by `zero` and NaNs by `nan` (their f64 bits)
    /// first, then in total order.
    Canonical { zero: u64, nan: u64 },
}

impl Key {
    /// The operand's elements as integers whose unsigned order is the key's order.
    pub fn sortable(&self, x: &Literal) -> Vec<u64> {
        let mut keys = with_data!(x.data(), v => self.sortable_typed(v));
        if self.descending {
            keys.iter_mut().for_each(|k| *k = !*k);
        }
        keys
    }

    fn sortable_typed<T: NativeType>(&self, v: &[T]) -> Vec<u64> {
        if T::DTYPE.is_float() {
            v.iter()
                .map(|&e| {
                    let mut f = e.to_f64();
                    if let Kind::Canonical { zero, nan } = self.kind {
                        if f == 0.0 {
                            f = f64::from_bits(zero);
                        } else if f.is_nan() {
                            f = f64::from_bits(nan);
                        }
                    }
                    total_order_bits(f)
                })
                .collect()
        } else if is_unsigned(T::DTYPE) {
            v.iter().map(|&e| e.to_i128() as u64).collect()
        } else {
            v.iter()
                .map(|&e| (e.to_i128() as i64 as u64) ^ (1 << 63))
                .collect()
        }
    }
}

fn is_unsigned(d: DType) -> bool {
    matches!(
        d,
        DType::Bool | DType::U8 | DType::U16 | DType::U32 | DType::U64
    )
}

/// Bits of `f` whose unsigned order is IEEE 754 total order (`f64::total_cmp`).
fn total_order_bits(f: f64) -> u64 {
    let b = f.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// The keys of `comp` as a comparator of `operands`, if it has a recognized form.
pub fn lexicographic_keys(comp: &Computation, operands: &[&Literal]) -> Option<Vec<Key>> {
    let [result] = comp.results[..] else {
        return None;
    };
    let mut keys = Vec::new();
    let mut v = result;
    loop {
        if let Some(key) = key_less(comp, v) {
            keys.push(key);
            break;
        }
        // or(lt, and(eq, rest)), either operand order of or/and.
        let (lt, tie) = binary(comp, v, BinaryOp::Or)?;
        let (key, tie) = key_less(comp, lt)
            .map(|k| (k, tie))
            .or_else(|| key_less(comp, tie).map(|k| (k, lt)))?;
        let (eq, rest) = binary(comp, tie, BinaryOp::And)?;
        let rest = if key_equal(comp, eq, &key) {
            rest
        } else if key_equal(comp, rest, &key) {
            eq
        } else {
            return None;
        };
        keys.push(key);
        v = rest;
    }
    // Every key operand has the shape of the first (one permutation).
    let valid = keys.iter().all(|k| {
        operands
            .get(k.operand)
            .is_some_and(|x| x.dims() == operands[0].dims())
    });
    valid.then_some(keys)
}

/// The operands of `v` when it is the binary op `op`.
fn binary(comp: &Computation, v: Value, op: BinaryOp) -> Option<(Value, Value)> {
    let instr = &comp.instrs[v.instr];
    (instr.op == Op::Binary(op)).then(|| (instr.operands[0], instr.operands[1]))
}

/// `v` as "key a goes strictly before key b": LT(a, b), GT(b, a), or the
/// descending forms.
fn key_less(comp: &Computation, v: Value) -> Option<Key> {
    let instr = &comp.instrs[v.instr];
    let Op::Compare { dir, total_order } = instr.op else {
        return None;
    };
    let (l, r) = (
        source(comp, instr.operands[0])?,
        source(comp, instr.operands[1])?,
    );
    if l.1 != r.1 {
        return None;
    }
    // Floats compare in total order (an IEEE compare leaves NaN pairs unordered
    // but not equal, which no key order expresses).
    if !total_order && (l.1.is_some() || is_float_param(comp, l.0)) {
        return None;
    }
    let a_first = l.0 % 2 == 0 && r.0 == l.0 + 1;
    let b_first = r.0 % 2 == 0 && l.0 == r.0 + 1;
    let descending = match (dir, a_first, b_first) {
        (CmpDir::Lt, true, _) | (CmpDir::Gt, _, true) => false,
        (CmpDir::Gt, true, _) | (CmpDir::Lt, _, true) => true,
        _ => return None,
    };
    Some(Key {
        operand: l.0.min(r.0) / 2,
        descending,
        kind: match l.1 {
            Some((zero, nan)) => Kind::Canonical { zero, nan },
            None => Kind::Plain,
        },
    })
}

/// Whether `v` is the total-order equality of `key`'s two values.
fn key_equal(comp: &Computation, v: Value, key: &Key) -> bool {
    let instr = &comp.instrs[v.instr];
    let Op::Compare {
        dir: CmpDir::Eq,
        total_order,
    } = instr.op
    else {
        return false;
    };
    let (Some(l), Some(r)) = (
        source(comp, instr.operands[0]),
        source(comp, instr.operands[1]),
    ) else {
        return false;
    };
    let kind = match l.1 {
        Some((zero, nan)) => Kind::Canonical { zero, nan },
        None => Kind::Plain,
    };
    let pair = [l.0.min(r.0), l.0.max(r.0)];
    l.1 == r.1
        && kind == key.kind
        && pair == [2 * key.operand, 2 * key.operand + 1]
        && (total_order || !is_float_param(comp, l.0))
}

fn is_float_param(comp: &Computation, index: usize) -> bool {
    comp.params.get(index).is_some_and(|s| s.dtype.is_float())
}

/// The parameter a compared value comes from, and the bits of the (zero, NaN)
/// constants when it is canonicalized first: `select(x != x, NaN, select(x == 0,
/// 0, x))`. (Bits, so that two canonicalizations with the same NaN compare equal.)
fn source(comp: &Computation, v: Value) -> Option<(usize, Option<(u64, u64)>)> {
    if let Some(p) = parameter(comp, v) {
        return Some((p, None));
    }
    // select(is_nan, nan, x1), is_nan = compare(NE, x1, x1)
    let (is_nan, nan, x1) = select(comp, v)?;
    let nan = scalar_constant(comp, nan).filter(|c| c.is_nan())?;
    let (dir, l, r) = compare(comp, is_nan)?;
    if dir != CmpDir::Ne || l != x1 || r != x1 {
        return None;
    }
    // x1 = select(is_zero, zero, x), is_zero = compare(EQ, x, zero') or (zero', x)
    let (is_zero, zero, x) = select(comp, x1)?;
    let zero = scalar_constant(comp, zero).filter(|&c| c == 0.0)?;
    let (dir, l, r) = compare(comp, is_zero)?;
    let other = if l == x { r } else { l };
    let compares_x_with_zero = (l == x || r == x)
        && scalar_constant(comp, other).is_some_and(|c| c == 0.0)
        && dir == CmpDir::Eq;
    if !compares_x_with_zero {
        return None;
    }
    Some((parameter(comp, x)?, Some((zero.to_bits(), nan.to_bits()))))
}

fn parameter(comp: &Computation, v: Value) -> Option<usize> {
    match comp.instrs[v.instr].op {
        Op::Parameter { index } => Some(index),
        _ => None,
    }
}

/// `(pred, on_true, on_false)` of a select.
fn select(comp: &Computation, v: Value) -> Option<(Value, Value, Value)> {
    let instr = &comp.instrs[v.instr];
    (instr.op == Op::Select).then(|| (instr.operands[0], instr.operands[1], instr.operands[2]))
}

/// A plain (IEEE, not total-order) comparison's direction and operands.
fn compare(comp: &Computation, v: Value) -> Option<(CmpDir, Value, Value)> {
    let instr = &comp.instrs[v.instr];
    match instr.op {
        Op::Compare {
            dir,
            total_order: false,
        } => Some((dir, instr.operands[0], instr.operands[1])),
        _ => None,
    }
}

/// The value of a scalar float constant (possibly broadcast).
fn scalar_constant(comp: &Computation, v: Value) -> Option<f64> {
    let instr = &comp.instrs[v.instr];
    match &instr.op {
        Op::Constant(lit) if lit.num_elements() == 1 && lit.dtype().is_float() => {
            Some(lit.data().get_f64(0))
        }
        Op::BroadcastInDim { .. } => scalar_constant(comp, instr.operands[0]),
        _ => None,
    }
}
