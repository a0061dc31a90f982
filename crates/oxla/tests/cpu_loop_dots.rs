//! Dots of one slice per iteration of a loop-invariant array, hoisted out of the
//! loop as one dot over every slice (`backend/cpu/loop_dots.rs`): the results must
//! be the interpreter's (exact here: small-integer data), and the rewrite must
//! happen exactly when it is safe and pays (a known trip count of at least half
//! the slices, an invariant other operand).

mod common;

use common::{lit, run_cpu, Rng};
use oxla::backend::cpu::optimized_module;
use oxla::backend::interp::evaluate;
use oxla::{BinaryOp, Builder, CmpDir, DType, DotDims, Literal, Module, Op, Shape, Value};

/// One scan-like loop: `acc += dot(slice_t, other)` (or `dot(other, slice_t)`).
struct Case {
    name: &'static str,
    dtype: DType,
    /// The array sliced once per iteration.
    xs: Vec<usize>,
    /// Which of its dims is sliced.
    dim: usize,
    /// Whether a reshape drops the unit dim before the dot.
    reshape: bool,
    /// The dot's other operand's dims.
    other: Vec<usize>,
    /// Whether the slice is the dot's rhs.
    slice_is_rhs: bool,
    /// The dot's dimension numbers (on the slice as the dot sees it).
    dims: DotDims,
    /// The counter's start, the bound it is compared with (`i < bound`), and
    /// whether the compare is written `bound > i`.
    start: i64,
    bound: i64,
    flipped_compare: bool,
    /// Slice `bound - 1 - i` instead of `i`.
    reverse: bool,
    /// The other operand is a constant of the body rather than loop state.
    other_constant: bool,
    /// The other operand changes every iteration (it is doubled).
    other_varies: bool,
    /// Whether the rewrite is expected.
    hoists: bool,
}

fn dims(lb: &[usize], lc: &[usize], rb: &[usize], rc: &[usize]) -> DotDims {
    DotDims {
        lhs_batch: lb.to_vec(),
        rhs_batch: rb.to_vec(),
        lhs_contracting: lc.to_vec(),
        rhs_contracting: rc.to_vec(),
    }
}

fn rnn_like(name: &'static str) -> Case {
    Case {
        name,
        dtype: DType::F32,
        xs: vec![10, 3, 4],
        dim: 0,
        reshape: true,
        other: vec![4, 5],
        slice_is_rhs: false,
        dims: dims(&[], &[1], &[], &[0]),
        start: 0,
        bound: 10,
        flipped_compare: false,
        reverse: false,
        other_constant: false,
        other_varies: false,
        hoists: true,
    }
}

fn small_ints(rng: &mut Rng, dtype: DType, dims: &[usize]) -> Literal {
    let n: usize = dims.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.int(-3, 3) as f64).collect();
    lit(dtype, dims, &v)
}

/// The module and its arguments (xs, other, acc0).
fn build(case: &Case, rng: &mut Rng) -> (Module, Vec<Literal>) {
    let d = case.dtype;
    let xs = small_ints(rng, d, &case.xs);
    let other = small_ints(rng, d, &case.other);
    let mut slice_dims = case.xs.clone();
    slice_dims[case.dim] = 1;
    let mut seen_dims = slice_dims.clone();
    if case.reshape {
        seen_dims.remove(case.dim);
    }
    let (l, r) = if case.slice_is_rhs {
        (
            Shape::new(d, case.other.clone()),
            Shape::new(d, seen_dims.clone()),
        )
    } else {
        (
            Shape::new(d, seen_dims.clone()),
            Shape::new(d, case.other.clone()),
        )
    };
    let dot_op = Op::DotGeneral {
        dims: case.dims.clone(),
        out_dtype: d,
    };
    let acc_shape = oxla::hlo::verify::infer_shapes(&dot_op, &[&l, &r], &[], &[])
        .expect("a valid dot")
        .remove(0);
    let acc0 = small_ints(rng, d, &acc_shape.dims);

    let mut b = Builder::new(case.name);
    let i32s = Shape::scalar(DType::I32);
    let state = [
        i32s.clone(),
        xs.shape().clone(),
        other.shape().clone(),
        acc_shape.clone(),
    ];
    let bound = case.bound;
    let flipped = case.flipped_compare;
    let cond = b.region("cond", &state, |b, p| {
        let n = b.constant_i128(DType::I32, bound as i128);
        let test = if flipped {
            b.compare(CmpDir::Gt, n, p[0])
        } else {
            b.compare(CmpDir::Lt, p[0], n)
        };
        vec![test]
    });
    let body = b.region("body", &state, |b, p| {
        let index = if case.reverse {
            let last = b.constant_i128(DType::I32, (bound - 1) as i128);
            b.binary(BinaryOp::Sub, last, p[0])
        } else {
            p[0]
        };
        let zero = b.constant_i128(DType::I32, 0);
        let mut starts = vec![zero; case.xs.len()];
        starts[case.dim] = index;
        let mut operands = vec![p[1]];
        operands.extend(starts);
        let mut slice = b.add(
            Op::DynamicSlice {
                sizes: slice_dims.clone(),
            },
            &operands,
        );
        if case.reshape {
            slice = b.reshape(slice, &seen_dims);
        }
        let other: Value = if case.other_constant {
            b.constant(other.clone())
        } else {
            p[2]
        };
        let pair = if case.slice_is_rhs {
            [other, slice]
        } else {
            [slice, other]
        };
        let dot = b.add(dot_op.clone(), &pair);
        let acc = b.binary(BinaryOp::Add, p[3], dot);
        let one = b.constant_i128(DType::I32, 1);
        let next = b.binary(BinaryOp::Add, p[0], one);
        let other_next = if case.other_varies {
            b.binary(BinaryOp::Add, p[2], p[2])
        } else {
            p[2]
        };
        vec![next, p[1], other_next, acc]
    });
    let xs_p = b.parameter(xs.shape().clone());
    let other_p = b.parameter(other.shape().clone());
    let acc_p = b.parameter(acc_shape);
    let start = b.constant_i128(DType::I32, case.start as i128);
    let out = b.add_multi(Op::While { cond, body }, &[start, xs_p, other_p, acc_p]);
    (b.finish(&[out[3]]), vec![xs, other, acc0])
}

/// Whether the optimized module computes a dot outside the loop.
fn hoisted(m: &Module) -> bool {
    let opt = optimized_module(m).expect("optimizes");
    opt.entry_computation()
        .instrs
        .iter()
        .any(|i| matches!(i.op, Op::DotGeneral { .. }))
}

fn check(case: Case) {
    let mut rng = Rng::new(case.name.len() as u64 * 31 + 7);
    let (m, args) = build(&case, &mut rng);
    assert_eq!(hoisted(&m), case.hoists, "{}: hoisted?", case.name);
    let want = evaluate(&m, &args).expect("interpreter");
    let got = run_cpu(m, &args);
    assert_eq!(got, want, "{}", case.name);
}

#[test]
fn rnn_input_projection_is_hoisted() {
    check(rnn_like("rnn"));
}

#[test]
fn reversed_index_and_flipped_compare() {
    check(Case {
        reverse: true,
        flipped_compare: true,
        ..rnn_like("reversed")
    });
}

#[test]
fn slice_on_the_rhs_along_a_middle_dim() {
    // other [5,4] · xs[:, t, :] ([4,3]) -> [5,3]
    check(Case {
        xs: vec![4, 10, 3],
        dim: 1,
        other: vec![5, 4],
        slice_is_rhs: true,
        dims: dims(&[], &[1], &[], &[0]),
        ..rnn_like("rhs middle")
    });
}

#[test]
fn unit_dim_kept_as_a_free_dim() {
    // xs[t:t+1] ([1,3,4]) · other [4,5] -> [1,3,5], no reshape.
    check(Case {
        reshape: false,
        dims: dims(&[], &[2], &[], &[0]),
        ..rnn_like("no reshape")
    });
}

#[test]
fn batch_dims_and_a_constant_other_operand() {
    // xs[t] ([2,3,4]) · other [2,4,5] with batch dim 0 -> [2,3,5].
    check(Case {
        xs: vec![10, 2, 3, 4],
        other: vec![2, 4, 5],
        dims: dims(&[0], &[2], &[0], &[1]),
        other_constant: true,
        ..rnn_like("batch")
    });
}

#[test]
fn integer_dots_and_a_nonzero_start() {
    check(Case {
        dtype: DType::I32,
        start: 3,
        ..rnn_like("int start")
    });
}

#[test]
fn short_loops_and_varying_operands_stay() {
    // 3 of 10 slices: hoisting would do more than twice the loop's work.
    check(Case {
        bound: 3,
        hoists: false,
        ..rnn_like("short")
    });
    // Starting at 6 of 10: 4 iterations, under half.
    check(Case {
        start: 6,
        hoists: false,
        ..rnn_like("late start")
    });
    check(Case {
        other_varies: true,
        hoists: false,
        ..rnn_like("varying")
    });
}
