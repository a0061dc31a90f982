//! Type promotion (jax.numpy's "standard" lattice) with weak types.

use oxla::DType;

/// A dtype with a weak flag; weak types are the Rust-scalar kinds `i*` and `f*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PType {
    pub dtype: DType,
    pub weak: bool,
}

/// Lattice nodes: the concrete dtypes plus the weak kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    D(DType),
    WeakInt,
    WeakFloat,
}

fn node(t: PType) -> Node {
    if t.weak {
        if t.dtype.is_float() {
            Node::WeakFloat
        } else if t.dtype.is_bool() {
            Node::D(DType::Bool)
        } else {
            Node::WeakInt
        }
    } else {
        Node::D(t.dtype)
    }
}

/// Direct successors in JAX's promotion lattice.
fn ups(n: Node) -> Vec<Node> {
    use DType::*;
    use Node::*;
    match n {
        D(Bool) => vec![WeakInt],
        WeakInt => vec![D(U8), D(I8)],
        D(U8) => vec![D(I16), D(U16)],
        D(U16) => vec![D(I32), D(U32)],
        D(U32) => vec![D(I64), D(U64)],
        D(U64) => vec![WeakFloat],
        D(I8) => vec![D(I16)],
        D(I16) => vec![D(I32)],
        D(I32) => vec![D(I64)],
        D(I64) => vec![WeakFloat],
        WeakFloat => vec![D(BF16), D(F16)],
        D(BF16) | D(F16) => vec![D(F32)],
        D(F32) => vec![D(F64)],
        D(F64) => vec![],
    }
}

fn upper_set(n: Node) -> Vec<Node> {
    let mut seen = vec![n];
    let mut i = 0;
    while i < seen.len() {
        for u in ups(seen[i]) {
            if !seen.contains(&u) {
                seen.push(u);
            }
        }
        i += 1;
    }
    seen
}

/// The least upper bound of two types (the result type of a binary op). Looked up
/// in a table built once: every eager binary op promotes its operands.
pub fn promote(a: PType, b: PType) -> PType {
    static TABLE: std::sync::OnceLock<Vec<PType>> = std::sync::OnceLock::new();
    let n = DType::ALL.len() * 2;
    let table = TABLE.get_or_init(|| {
        let all: Vec<PType> = (0..n).map(ptype_at).collect();
        all.iter()
            .flat_map(|&a| all.iter().map(move |&b| promote_in_lattice(a, b)))
            .collect()
    });
    table[ptype_index(a) * n + ptype_index(b)]
}

fn ptype_index(t: PType) -> usize {
    let d = DType::ALL
        .iter()
        .position(|&d| d == t.dtype)
        .expect("every dtype is in DType::ALL");
    d * 2 + usize::from(t.weak)
}

fn ptype_at(i: usize) -> PType {
    PType {
        dtype: DType::ALL[i / 2],
        weak: i % 2 == 1,
    }
}

/// `promote`, computed from the lattice.
fn promote_in_lattice(a: PType, b: PType) -> PType {
    let (na, nb) = (node(a), node(b));
    let ua = upper_set(na);
    let ub = upper_set(nb);
    let common: Vec<Node> = ua.iter().copied().filter(|n| ub.contains(n)).collect();
    // The least element: the common upper bound whose upper set holds all others.
    let lub = common
        .iter()
        .copied()
        .find(|&c| {
            let uc = upper_set(c);
            common.iter().all(|n| uc.contains(n))
        })
        .expect("the promotion lattice has a least upper bound");
    match lub {
        Node::D(d) => PType {
            dtype: d,
            weak: false,
        },
        Node::WeakInt => PType {
            dtype: if a.weak && !a.dtype.is_bool() {
                a.dtype
            } else {
                b.dtype
            },
            weak: true,
        },
        Node::WeakFloat => {
            // Both weak floats keep the wider representation; otherwise the default float.
            let dtype = match (a.weak && a.dtype.is_float(), b.weak && b.dtype.is_float()) {
                (true, true) => wider(a.dtype, b.dtype),
                (true, false) => a.dtype,
                (false, true) => b.dtype,
                (false, false) => default_float(),
            };
            PType { dtype, weak: true }
        }
    }
}

fn wider(a: DType, b: DType) -> DType {
    if a.size_bytes() >= b.size_bytes() {
        a
    } else {
        b
    }
}

/// The result type of several operands.
pub fn result_type(types: &[PType]) -> PType {
    let mut it = types.iter().copied();
    let first = it.next().expect("result_type of no operands");
    it.fold(first, promote)
}

/// The dtype weak float scalars materialise as (JAX's default with x64 off).
pub fn default_float() -> DType {
    DType::F32
}

/// The dtype weak integer scalars materialise as.
pub fn default_int() -> DType {
    DType::I32
}

/// The float dtype an operation like `mean` or `sqrt` computes ints in.
pub fn to_inexact(t: PType) -> PType {
    if t.dtype.is_float() {
        t
    } else {
        PType {
            dtype: default_float(),
            weak: t.weak,
        }
    }
}
