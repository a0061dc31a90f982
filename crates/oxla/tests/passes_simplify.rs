//! The algebraic simplifier: each rewrite happens (instruction counts) and gives
//! bit-identical results to the original module under the interpreter, on random
//! inputs with signed zeros, infinities and NaNs; non-identities stay.

mod passes_support;

use oxla::passes::{Dce, Simplify};
use oxla::{BinaryOp, Builder, DType, DotDims, Literal, Module, Op, Shape, UnaryOp, Value};
use passes_support::*;

/// Simplify then DCE; checks the result against the original and that a second
/// simplify finds nothing more.
fn simplified(m: &Module, seed: u64) -> Module {
    let (out, changed) = apply(m, &[&Simplify, &Dce]);
    assert!(changed, "simplify changed nothing in\n{m}");
    assert_same(m, &out, seed, 8, true);
    let (again, changed_again) = apply(&out, &[&Simplify]);
    assert!(!changed_again, "simplify is not idempotent:\n{again}");
    out
}

/// A splat constant of `shape` (a scalar constant broadcast).
fn splat(b: &mut Builder, shape: &Shape, v: f64) -> Value {
    b.full_f64(shape, v)
}

#[test]
fn integer_identities_vanish() {
    for dtype in INTS {
        let s = Shape::new(dtype, [5]);
        let m = module(&[s.clone(), s.clone()], |b, p| {
            let (x, y) = (p[0], p[1]);
            let zero = splat(b, &s, 0.0);
            let one = splat(b, &s, 1.0);
            let ones = b.constant_i128(dtype, -1);
            let ones = b.broadcast_in_dim(ones, &[5], &[]);
            use BinaryOp::*;
            vec![
                b.binary(Add, x, zero),
                b.binary(Add, zero, y),
                b.binary(Sub, x, zero),
                b.binary(Mul, x, one),
                b.binary(Mul, one, y),
                b.binary(Div, x, one),
                b.binary(Mul, x, zero),
                b.binary(Mul, zero, y),
                b.binary(And, x, ones),
                b.binary(And, x, x),
                b.binary(And, zero, x),
                b.binary(Or, y, zero),
                b.binary(Or, y, y),
                b.binary(Or, ones, x),
                b.binary(Xor, zero, x),
                b.binary(ShiftLeft, x, zero),
                b.binary(ShiftRightLogical, x, zero),
                b.binary(ShiftRightArithmetic, x, zero),
                b.binary(Max, x, x),
                b.binary(Min, y, y),
            ]
        });
        let out = simplified(&m, 1);
        let arith: Vec<_> = ops(&out)
            .into_iter()
            .filter(|&n| n != "constant" && n != "broadcast_in_dim")
            .collect();
        assert!(arith.is_empty(), "{dtype}: left {arith:?}");
        // x * 0 is the zero operand itself.
        let e = out.entry_computation();
        assert_eq!(e.results[6], e.results[7]);
    }
}

#[test]
fn bool_identities_vanish() {
    let s = Shape::new(DType::Bool, [6]);
    let m = module(std::slice::from_ref(&s), |b, p| {
        let x = p[0];
        let t = b.constant(Literal::from_vec(&[6], vec![true; 6]));
        let f = b.constant(Literal::scalar(false));
        let f = b.broadcast_in_dim(f, &[6], &[]);
        vec![
            b.binary(BinaryOp::And, x, t),
            b.binary(BinaryOp::Or, f, x),
            b.binary(BinaryOp::Xor, x, f),
            b.binary(BinaryOp::And, f, x),
            b.binary(BinaryOp::Or, x, t),
            b.unary(UnaryOp::Not, x),
        ]
    });
    let out = simplified(&m, 2);
    assert_eq!(
        count(&out, "and") + count(&out, "or") + count(&out, "xor"),
        0
    );
    assert_eq!(count(&out, "not"), 1);
}

#[test]
fn exact_float_identities_vanish() {
    for dtype in FLOATS {
        let s = Shape::new(dtype, [16]);
        let m = module(&[s.clone(), s.clone()], |b, p| {
            let (x, y) = (p[0], p[1]);
            let neg_zero = splat(b, &s, -0.0);
            let zero = splat(b, &s, 0.0);
            let one = b.constant(Literal::from_vec(&[16], vec![1.0f64; 16]).convert(dtype));
            use BinaryOp::*;
            vec![
                b.binary(Add, x, neg_zero),
                b.binary(Add, neg_zero, y),
                b.binary(Sub, x, zero),
                b.binary(Mul, x, one),
                b.binary(Mul, one, y),
                b.binary(Div, y, one),
            ]
        });
        let out = simplified(&m, 3);
        for op in ["add", "subtract", "multiply", "divide"] {
            assert_eq!(count(&out, op), 0, "{dtype}: {op} left in\n{out}");
        }
    }
}

#[test]
fn inexact_float_identities_stay() {
    for dtype in FLOATS {
        let s = Shape::new(dtype, [16]);
        let m = module(std::slice::from_ref(&s), |b, p| {
            let x = p[0];
            let neg_zero = splat(b, &s, -0.0);
            let zero = splat(b, &s, 0.0);
            let one = splat(b, &s, 1.0);
            use BinaryOp::*;
            vec![
                // -0.0 + 0.0 is 0.0.
                b.binary(Add, x, zero),
                // -0.0 - -0.0 is 0.0.
                b.binary(Sub, x, neg_zero),
                // NaN, inf and negatives.
                b.binary(Mul, x, zero),
                // 1 / x is no identity.
                b.binary(Div, one, x),
                b.binary(Max, x, x),
            ]
        });
        let (out, changed) = apply(&m, &[&Simplify]);
        assert!(!changed, "{dtype}: rewrote\n{out}");
        assert_eq!(out, m);
    }
}

#[test]
fn double_negation_and_not() {
    let dtypes = [
        DType::I8,
        DType::U32,
        DType::I64,
        DType::F16,
        DType::F32,
        DType::F64,
    ];
    for dtype in dtypes {
        let s = Shape::new(dtype, [7]);
        let m = module(&[s], |b, p| {
            let n = b.unary(UnaryOp::Neg, p[0]);
            let nn = b.unary(UnaryOp::Neg, n);
            let mut out = vec![nn, n];
            if dtype.is_int() {
                let t = b.unary(UnaryOp::Not, p[0]);
                out.push(b.unary(UnaryOp::Not, t));
            }
            out
        });
        let out = simplified(&m, 4);
        // The single negation (a result itself) stays; the double ones go.
        assert_eq!(count(&out, "negate"), 1, "{dtype}");
        assert_eq!(count(&out, "not"), 0, "{dtype}");
        let e = out.entry_computation();
        assert_eq!(e.results[0], Value { instr: 0, index: 0 });
    }
}

#[test]
fn select_with_known_predicate_or_equal_branches() {
    let s = Shape::new(DType::F32, [3, 4]);
    let m = module(
        &[s.clone(), s.clone(), Shape::new(DType::Bool, [3, 4])],
        |b, p| {
            let t = b.constant(Literal::scalar(true));
            let f = b.constant(Literal::scalar(false));
            let fa = b.broadcast_in_dim(f, &[3, 4], &[]);
            vec![
                b.select(t, p[0], p[1]),
                b.select(fa, p[0], p[1]),
                b.select(p[2], p[1], p[1]),
            ]
        },
    );
    let out = simplified(&m, 5);
    assert_eq!(count(&out, "select"), 0);
    let e = out.entry_computation();
    let param = |i| Value { instr: i, index: 0 };
    assert_eq!(e.results, vec![param(0), param(1), param(1)]);

    // A predicate with mixed values stays.
    let m = module(&[s.clone(), s], |b, p| {
        let mixed = b.constant(Literal::from_vec(
            &[3, 4],
            (0..12).map(|i| i % 2 == 0).collect(),
        ));
        vec![b.select(mixed, p[0], p[1])]
    });
    assert!(!apply(&m, &[&Simplify]).1);
}

/// Whether converting `a` to `b` keeps every value: the test's own table.
fn lossless(a: DType, b: DType) -> bool {
    use DType::*;
    let rank = |t: DType| match t {
        I8 => (true, 8),
        I16 => (true, 16),
        I32 => (true, 32),
        I64 => (true, 64),
        U8 => (false, 8),
        U16 => (false, 16),
        U32 => (false, 32),
        U64 => (false, 64),
        _ => (false, 0),
    };
    match (a, b) {
        _ if a == b => true,
        (Bool, _) => true,
        (F16 | BF16, F32 | F64) | (F32, F64) => true,
        (I8 | U8, F16 | BF16 | F32 | F64) | (I16 | U16, F32 | F64) | (I32 | U32, F64) => true,
        _ if a.is_int() && b.is_int() => {
            let ((sa, wa), (sb, wb)) = (rank(a), rank(b));
            (sa == sb && wb >= wa) || (!sa && sb && wb > wa)
        }
        _ => false,
    }
}

#[test]
fn convert_chains_over_every_dtype_triple() {
    let mut rewritten = 0;
    for a in DType::ALL {
        for b in DType::ALL {
            for c in DType::ALL {
                if a == b || b == c {
                    continue;
                }
                let m = module(&[Shape::new(a, [24])], |bl, p| {
                    let y = bl.add(Op::Convert { dtype: b }, &[p[0]]);
                    vec![bl.add(Op::Convert { dtype: c }, &[y])]
                });
                let (out, changed) = apply(&m, &[&Simplify, &Dce]);
                assert_same(&m, &out, 6, 3, true);
                let converts = count(&out, "convert");
                if changed {
                    rewritten += 1;
                    assert!(lossless(a, b), "{a} -> {b} -> {c} rewritten but lossy");
                    assert_eq!(converts, usize::from(a != c), "{a} -> {b} -> {c}");
                } else {
                    assert_eq!(converts, 2);
                }
                // The documented cases.
                let must = (a == c && lossless(a, b))
                    || (lossless(a, b) && (a.is_int() || a.is_bool()) && b.is_int());
                if must {
                    assert!(changed, "{a} -> {b} -> {c} not rewritten");
                }
            }
        }
    }
    assert!(rewritten > 200, "only {rewritten} chains rewritten");
    // f64 -> f32 -> f64 rounds: it stays.
    let m = module(&[Shape::new(DType::F64, [4])], |bl, p| {
        let y = bl.convert(p[0], DType::F32);
        vec![bl.convert(y, DType::F64)]
    });
    assert!(!apply(&m, &[&Simplify]).1);
}

#[test]
fn convert_to_same_dtype_vanishes() {
    let m = module(&[Shape::new(DType::BF16, [3])], |b, p| {
        vec![b.add(Op::Convert { dtype: DType::BF16 }, &[p[0]])]
    });
    let out = simplified(&m, 7);
    assert_eq!(count(&out, "convert"), 0);
}

fn perm_of(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.below(i as u64 + 1) as usize);
    }
    p
}

#[test]
fn reshape_and_transpose_chains() {
    let m = module(&[Shape::new(DType::I32, [2, 3, 4])], |b, p| {
        let same = b.add(
            Op::Reshape {
                dims: vec![2, 3, 4],
            },
            &[p[0]],
        );
        let r1 = b.reshape(same, &[6, 4]);
        let r2 = b.reshape(r1, &[4, 6]);
        let r3 = b.reshape(r2, &[24]);
        let back = b.reshape(r3, &[2, 3, 4]);
        vec![r3, back]
    });
    let out = simplified(&m, 8);
    assert_eq!(count(&out, "reshape"), 1);
    assert_eq!(
        out.entry_computation().results[1],
        Value { instr: 0, index: 0 }
    );

    let mut rng = Rng::new(9);
    for _ in 0..20 {
        let dims = [2, 3, 4, 5];
        let (p1, p2) = (perm_of(&mut rng, 4), perm_of(&mut rng, 4));
        let m = module(&[Shape::new(DType::F32, dims)], |b, p| {
            let id = b.transpose(p[0], &[0, 1, 2, 3]);
            let t1 = b.transpose(id, &p1);
            vec![b.transpose(t1, &p2)]
        });
        let out = simplified(&m, 10);
        let composed: Vec<usize> = p2.iter().map(|&i| p1[i]).collect();
        let identity = composed == [0, 1, 2, 3];
        assert_eq!(
            count(&out, "transpose"),
            usize::from(!identity),
            "{p1:?} {p2:?}"
        );
    }
}

#[test]
fn broadcast_chains() {
    let m = module(&[Shape::new(DType::F16, [3, 1])], |b, p| {
        let same = b.broadcast_in_dim(p[0], &[3, 1], &[0, 1]);
        let b1 = b.broadcast_in_dim(same, &[2, 3, 1], &[1, 2]);
        let b2 = b.broadcast_in_dim(b1, &[2, 5, 3, 4], &[0, 2, 3]);
        vec![b2]
    });
    let out = simplified(&m, 11);
    assert_eq!(count(&out, "broadcast_in_dim"), 1);
    // A transposing broadcast to the same shape is no identity.
    let m = module(&[Shape::new(DType::F32, [3, 3])], |b, p| {
        vec![b.broadcast_in_dim(p[0], &[3, 3], &[1, 0])]
    });
    assert!(!apply(&m, &[&Simplify]).1);
}

#[test]
fn slices_full_and_composed() {
    let m = module(&[Shape::new(DType::I16, [5, 1, 4])], |b, p| {
        vec![b.slice(p[0], &[0, 0, 0], &[5, 1, 4], &[1, 3, 1])]
    });
    let out = simplified(&m, 12);
    assert_eq!(count(&out, "slice"), 0);

    let mut rng = Rng::new(13);
    for _ in 0..30 {
        let dims = [9usize, 7];
        let mut s1 = (vec![], vec![], vec![]);
        for &d in &dims {
            let start = rng.below(d as u64 / 2) as usize;
            let limit = start + 1 + rng.below((d - start) as u64) as usize;
            s1.0.push(start);
            s1.1.push(limit);
            s1.2.push(1 + rng.below(3) as usize);
        }
        let mid: Vec<usize> = (0..2)
            .map(|i| (s1.1[i] - s1.0[i]).div_ceil(s1.2[i]))
            .collect();
        let mut s2 = (vec![], vec![], vec![]);
        for &d in &mid {
            let start = rng.below(d as u64) as usize;
            let limit = start + 1 + rng.below((d - start) as u64) as usize;
            s2.0.push(start);
            s2.1.push(limit);
            s2.2.push(1 + rng.below(2) as usize);
        }
        let m = module(&[Shape::new(DType::F32, dims)], |b, p| {
            let a = b.slice(p[0], &s1.0, &s1.1, &s1.2);
            vec![b.slice(a, &s2.0, &s2.1, &s2.2)]
        });
        let out = simplified(&m, 14);
        assert_eq!(count(&out, "slice"), 1);
    }
}

#[test]
fn single_concat_zero_pad_and_reverses() {
    let m = module(&[Shape::new(DType::F64, [3, 1, 2])], |b, p| {
        let c = b.add(Op::Concatenate { dim: 1 }, &[p[0]]);
        let z = b.constant_f64(DType::F64, 7.0);
        let pad = b.add(
            Op::Pad {
                low: vec![0; 3],
                high: vec![0; 3],
                interior: vec![0; 3],
            },
            &[c, z],
        );
        // Dim 1 has size 1: reversing it does nothing.
        let r1 = b.add(Op::Reverse { dims: vec![1] }, &[pad]);
        let r2 = b.add(
            Op::Reverse {
                dims: vec![0, 1, 2],
            },
            &[r1],
        );
        let r3 = b.add(Op::Reverse { dims: vec![2, 0] }, &[r2]);
        let r4 = b.add(Op::Reverse { dims: vec![0, 2] }, &[p[0]]);
        let r5 = b.add(Op::Reverse { dims: vec![0] }, &[r4]);
        vec![r1, r3, r5]
    });
    let out = simplified(&m, 15);
    assert_eq!(count(&out, "concatenate") + count(&out, "pad"), 0);
    // r5 is one reverse of dim 2; r1 and r3 are the parameter.
    assert_eq!(count(&out, "reverse"), 1);
    let e = out.entry_computation();
    assert_eq!(e.results[0], Value { instr: 0, index: 0 });
    assert_eq!(e.results[1], Value { instr: 0, index: 0 });
    assert_eq!(
        e.instrs[e.results[2].instr].op,
        Op::Reverse { dims: vec![2] }
    );

    // A pad with padding stays.
    let m = module(&[Shape::new(DType::F32, [3])], |b, p| {
        let z = b.constant_f64(DType::F32, 0.0);
        vec![b.add(
            Op::Pad {
                low: vec![1],
                high: vec![0],
                interior: vec![0],
            },
            &[p[0], z],
        )]
    });
    assert!(!apply(&m, &[&Simplify]).1);
}

fn dot(b: &mut Builder, l: Value, r: Value, dims: DotDims, out: DType) -> Value {
    b.add(
        Op::DotGeneral {
            dims,
            out_dtype: out,
        },
        &[l, r],
    )
}

#[test]
fn dot_absorbs_transposes_of_contracting_and_batch_dims() {
    for dtype in [DType::F32, DType::I32] {
        // lhs z: [k, b, m] -> t: [b, m, k]; rhs w: [n, k, b] -> u: [b, k, n].
        let m = module(
            &[Shape::new(dtype, [4, 2, 3]), Shape::new(dtype, [5, 4, 2])],
            |b, p| {
                let t = b.transpose(p[0], &[1, 2, 0]);
                let u = b.transpose(p[1], &[2, 1, 0]);
                let dims = DotDims {
                    lhs_batch: vec![0],
                    rhs_batch: vec![0],
                    lhs_contracting: vec![2],
                    rhs_contracting: vec![1],
                };
                vec![dot(b, t, u, dims, dtype)]
            },
        );
        let out = simplified(&m, 16);
        assert_eq!(count(&out, "transpose"), 0, "{out}");
        let e = out.entry_computation();
        let Op::DotGeneral { dims, .. } = &e.instrs[e.results[0].instr].op else {
            panic!("not a dot:\n{out}");
        };
        assert_eq!(
            (dims.lhs_batch.clone(), dims.lhs_contracting.clone()),
            (vec![1], vec![0])
        );
        assert_eq!(
            (dims.rhs_batch.clone(), dims.rhs_contracting.clone()),
            (vec![2], vec![1])
        );
    }
    // Two contracting dims keep their pairing order.
    let m = module(
        &[
            Shape::new(DType::F64, [3, 2, 4]),
            Shape::new(DType::F64, [2, 3, 5]),
        ],
        |b, p| {
            let t = b.transpose(p[0], &[1, 0, 2]);
            let dims = DotDims {
                lhs_batch: vec![],
                rhs_batch: vec![],
                lhs_contracting: vec![0, 1],
                rhs_contracting: vec![0, 1],
            };
            vec![dot(b, t, p[1], dims, DType::F64)]
        },
    );
    let out = simplified(&m, 17);
    assert_eq!(count(&out, "transpose"), 0);
}

#[test]
fn dot_keeps_transposes_that_reorder_free_dims() {
    let m = module(
        &[
            Shape::new(DType::F32, [3, 5, 4]),
            Shape::new(DType::F32, [4, 2]),
        ],
        |b, p| {
            // The free dims 0 and 1 swap: the output order would change.
            let t = b.transpose(p[0], &[1, 0, 2]);
            let dims = DotDims {
                lhs_batch: vec![],
                rhs_batch: vec![],
                lhs_contracting: vec![2],
                rhs_contracting: vec![0],
            };
            vec![dot(b, t, p[1], dims, DType::F32)]
        },
    );
    let (out, changed) = apply(&m, &[&Simplify]);
    assert!(!changed);
    assert_eq!(count(&out, "transpose"), 1);
}

#[test]
fn rewrites_inside_regions() {
    let mut b = Builder::new("r");
    let s = Shape::scalar(DType::I32);
    let body = b.region("add0", &[s.clone(), s.clone()], |b, p| {
        let z = b.constant_i128(DType::I32, 0);
        let a = b.binary(BinaryOp::Add, p[0], p[1]);
        vec![b.binary(BinaryOp::Add, a, z)]
    });
    let x = b.parameter(Shape::new(DType::I32, [6]));
    let init = b.constant_i128(DType::I32, 0);
    let r = b.reduce(&[x], &[init], &[0], body);
    let m = b.finish(&r);
    let out = simplified(&m, 18);
    let region = &out.computations[0];
    assert_eq!(
        region
            .instrs
            .iter()
            .filter(|i| i.op == Op::Binary(BinaryOp::Add))
            .count(),
        1
    );
}

#[test]
fn dot_with_one_element_contractions_becomes_a_multiply() {
    // Per-example outer products (vmap of a dot's gradient): no contracting dims, or
    // contracting dims of size one, with batch dims interleaved with the free dims.
    let cases: [(Vec<usize>, Vec<usize>, DotDims); 3] = [
        (
            vec![6],
            vec![6, 5],
            DotDims {
                lhs_batch: vec![0],
                rhs_batch: vec![0],
                lhs_contracting: vec![],
                rhs_contracting: vec![],
            },
        ),
        (
            vec![2, 1, 3],
            vec![1, 4, 3],
            DotDims {
                lhs_batch: vec![2],
                rhs_batch: vec![2],
                lhs_contracting: vec![1],
                rhs_contracting: vec![0],
            },
        ),
        (
            vec![3, 1],
            vec![1, 5, 2],
            DotDims {
                lhs_batch: vec![],
                rhs_batch: vec![],
                lhs_contracting: vec![1],
                rhs_contracting: vec![0],
            },
        ),
    ];
    for dtype in [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::BF16,
        DType::I32,
        DType::U8,
    ] {
        for (i, (ld, rd, dims)) in cases.iter().enumerate() {
            let m = module(
                &[Shape::new(dtype, ld.clone()), Shape::new(dtype, rd.clone())],
                |b, p| vec![dot(b, p[0], p[1], dims.clone(), dtype)],
            );
            let out = simplified(&m, 30 + i as u64);
            assert_eq!(count(&out, "dot_general"), 0, "{out}");
            assert_eq!(count(&out, "multiply"), 1, "{out}");
        }
    }
    // A real contraction, and operands of another dtype than the output, stay dots.
    let dims = DotDims {
        lhs_batch: vec![],
        rhs_batch: vec![],
        lhs_contracting: vec![1],
        rhs_contracting: vec![0],
    };
    let m = module(
        &[
            Shape::new(DType::F32, [3, 2]),
            Shape::new(DType::F32, [2, 4]),
        ],
        |b, p| vec![dot(b, p[0], p[1], dims.clone(), DType::F32)],
    );
    assert!(!apply(&m, &[&Simplify]).1);
    let m = module(
        &[
            Shape::new(DType::F16, [3, 1]),
            Shape::new(DType::F16, [1, 4]),
        ],
        |b, p| vec![dot(b, p[0], p[1], dims.clone(), DType::F32)],
    );
    assert!(!apply(&m, &[&Simplify]).1);
}

#[test]
fn transpose_of_a_dot_swaps_its_operands() {
    // Weight gradient x^T g, transposed: [b, n, m] from lhs free m and rhs free n.
    for dtype in [DType::F32, DType::I32] {
        let m = module(
            &[Shape::new(dtype, [2, 5, 3]), Shape::new(dtype, [2, 5, 4])],
            |b, p| {
                let dims = DotDims {
                    lhs_batch: vec![0],
                    rhs_batch: vec![0],
                    lhs_contracting: vec![1],
                    rhs_contracting: vec![1],
                };
                let d = dot(b, p[0], p[1], dims, dtype);
                vec![b.transpose(d, &[0, 2, 1])]
            },
        );
        // Swapped operands may propagate the other NaN's payload, so the inputs
        // here are finite (sums of products are otherwise the same bits).
        let (out, changed) = apply(&m, &[&Simplify, &Dce]);
        assert!(changed);
        assert_same(&m, &out, 40, 8, false);
        assert_eq!(count(&out, "transpose"), 0, "{out}");
        assert_eq!(count(&out, "dot_general"), 1, "{out}");
    }
    // A dot with another user, or a transpose that is not the swap, stays.
    let dims = DotDims {
        lhs_batch: vec![],
        rhs_batch: vec![],
        lhs_contracting: vec![0],
        rhs_contracting: vec![0],
    };
    let shared = module(
        &[
            Shape::new(DType::F32, [5, 3]),
            Shape::new(DType::F32, [5, 3]),
        ],
        |b, p| {
            let d = dot(b, p[0], p[1], dims.clone(), DType::F32);
            vec![b.transpose(d, &[1, 0]), d]
        },
    );
    assert!(!apply(&shared, &[&Simplify]).1);
    let other = module(
        &[
            Shape::new(DType::F32, [5, 2, 3]),
            Shape::new(DType::F32, [5, 4]),
        ],
        |b, p| {
            let d = dot(b, p[0], p[1], dims.clone(), DType::F32);
            vec![b.transpose(d, &[1, 0, 2])]
        },
    );
    assert!(!apply(&other, &[&Simplify]).1);
}
