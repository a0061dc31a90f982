//! StableHLO export: the structure of the text, errors for what cannot be exported,
//! and (when jax is installed) every op run in real XLA against the interpreter.

mod common;
mod xla_support;

use common::*;
use oxla::backend::interp::evaluate;
use oxla::export::to_stablehlo_text;
use oxla::{
    BinaryOp, Builder, CmpDir, ConvDims, DType, DotDims, Error, FusionKind, GatherDims, Literal,
    Module, Op, ScatterDims, Shape, UnaryOp, Value,
};
use std::collections::HashSet;

// ---- building cases ------------------------------------------------------------------------

/// A named module with the arguments to run it on.
struct Case {
    name: String,
    module: Module,
    args: Vec<Literal>,
}

/// A module whose parameters have the shapes of `args` and whose body is `f`.
fn case(
    name: &str,
    args: Vec<Literal>,
    f: impl FnOnce(&mut Builder, &[Value]) -> Vec<Value>,
) -> Case {
    let mut b = Builder::new(name);
    let ps: Vec<Value> = args
        .iter()
        .map(|a| b.parameter(a.shape().clone()))
        .collect();
    let results = f(&mut b, &ps);
    Case {
        name: name.to_string(),
        module: b.finish(&results),
        args,
    }
}

/// One op applied to all parameters.
fn op_case(name: &str, op: Op, args: Vec<Literal>) -> Case {
    case(name, args, |b, p| b.add_multi(op, p))
}

fn f32s(rng: &mut Rng, dims: &[usize], lo: f64, hi: f64) -> Literal {
    let n = dims.iter().product();
    lit(DType::F32, dims, &rng.floats(n, lo, hi))
}

fn ints(rng: &mut Rng, dtype: DType, dims: &[usize], lo: i64, hi: i64) -> Literal {
    let n: usize = dims.iter().product();
    let v: Vec<i128> = (0..n).map(|_| rng.int(lo, hi) as i128).collect();
    lit_i(dtype, dims, &v)
}

fn scalar_region(b: &mut Builder, op: BinaryOp, dtype: DType) -> oxla::CompId {
    b.scalar_binary_region(op, dtype)
}

/// Exports every case, runs them all in real XLA and compares with the interpreter.
fn check_in_xla(test: &str, cases: &[Case], rtol: f64) {
    let texts: Vec<(String, Vec<Literal>)> = cases
        .iter()
        .map(|c| {
            let text = to_stablehlo_text(&c.module)
                .unwrap_or_else(|e| panic!("{}: export failed: {e}", c.name));
            (text, c.args.clone())
        })
        .collect();
    let Some(results) = xla_support::run_in_xla(test, &texts) else {
        return;
    };
    // Every mismatch is listed, not only the first.
    let mut failures = Vec::new();
    for ((c, got), (text, _)) in cases.iter().zip(results).zip(&texts) {
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{}: XLA rejected the module: {e}\n{text}", c.name));
                continue;
            }
        };
        let want = evaluate(&c.module, &c.args).expect("interpreter");
        if got.len() != want.len() {
            failures.push(format!(
                "{}: {} results, expected {}",
                c.name,
                got.len(),
                want.len()
            ));
            continue;
        }
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if let Err(e) = xla_support::compare(g, w, rtol) {
                failures.push(format!("{} result {i}: {e}", c.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- text structure ------------------------------------------------------------------------

/// Every `%name = ` / `%name:n = ` is defined once in the whole text.
fn assert_unique_definitions(text: &str) {
    let mut seen = HashSet::new();
    for line in text.lines() {
        let line = line.trim_start();
        if let Some((lhs, _)) = line.split_once(" = \"") {
            if lhs.starts_with('%') {
                let name = lhs.split(':').next().unwrap_or(lhs);
                assert!(
                    seen.insert(name.to_string()),
                    "{name} defined twice:\n{text}"
                );
            }
        }
    }
}

#[test]
fn entry_signature_types_and_elementwise_ops() {
    let args = vec![
        Literal::from_vec(&[2, 3], vec![0.0f32; 6]),
        Literal::from_vec(&[4], vec![0u32; 4]),
        Literal::from_vec(&[], vec![true]),
        Literal::from_vec(&[2], vec![half::bf16::ZERO; 2]),
    ];
    let c = case("elementwise", args, |b, p| {
        let e = b.unary(UnaryOp::Exp, p[0]);
        let s = b.binary(BinaryOp::ShiftRightLogical, p[1], p[1]);
        let n = b.unary(UnaryOp::Not, p[2]);
        let l = b.unary(UnaryOp::Lgamma, p[3]);
        let cmp = b.compare(CmpDir::Lt, p[1], p[1]);
        vec![e, s, n, l, cmp]
    });
    let text = to_stablehlo_text(&c.module).unwrap();
    assert!(text.starts_with("module @elementwise {\n"), "{text}");
    assert!(text.contains(
        "func.func public @main(%arg0: tensor<2x3xf32>, %arg1: tensor<4xui32>, %arg2: tensor<i1>, \
         %arg3: tensor<2xbf16>) -> (tensor<2x3xf32>, tensor<4xui32>, tensor<i1>, tensor<2xbf16>, \
         tensor<4xi1>)"
    ));
    assert!(
        text.contains("\"stablehlo.exponential\"(%arg0) : (tensor<2x3xf32>) -> tensor<2x3xf32>")
    );
    assert!(text.contains("\"stablehlo.shift_right_logical\"(%arg1, %arg1)"));
    assert!(text.contains("\"stablehlo.not\"(%arg2) : (tensor<i1>) -> tensor<i1>"));
    assert!(text.contains("\"chlo.lgamma\"(%arg3)"));
    assert!(text.contains("comparison_type UNSIGNED"), "{text}");
    assert!(text.contains("comparison_direction LT"));
    assert!(text.contains("\"func.return\"(%0, %1, %2, %3, %4)"));
    assert_unique_definitions(&text);
}

#[test]
fn constants_are_bit_exact() {
    let special = Literal::from_vec(&[2, 2], vec![f32::NAN, -0.0, f32::INFINITY, 1.0]);
    let large = Literal::from_vec(&[100], (0..100).map(|i| i as i16 - 50).collect::<Vec<_>>());
    let c = case("consts", vec![], |b, _| {
        vec![
            b.constant(special),
            b.constant(Literal::from_vec(&[3], vec![true, false, true])),
            b.constant(Literal::from_vec(&[3], vec![-1i8, 0, 127])),
            b.constant(Literal::scalar(half::f16::from_f32(-2.0))),
            b.constant(Literal::from_vec(&[4], vec![7u64; 4])),
            b.constant(large),
        ]
    });
    let text = to_stablehlo_text(&c.module).unwrap();
    assert!(
        text.contains(
            "dense<[[0x7FC00000, 0x80000000], [0x7F800000, 0x3F800000]]> : tensor<2x2xf32>"
        ),
        "{text}"
    );
    assert!(text.contains("dense<[true, false, true]> : tensor<3xi1>"));
    assert!(text.contains("dense<[-1, 0, 127]> : tensor<3xi8>"));
    assert!(text.contains("dense<0xC000> : tensor<f16>"));
    assert!(text.contains("dense<7> : tensor<4xui64>"));
    // -50 as little-endian i16 is CE FF.
    assert!(text.contains("dense<\"0xCEFFCFFF"), "{text}");
}

#[test]
fn regions_are_inlined_and_calls_are_private_functions() {
    let x = Literal::from_vec(&[2, 3], vec![0.0f32; 6]);
    let c = case("regions", vec![x], |b, p| {
        let add = scalar_region(b, BinaryOp::Add, DType::F32);
        let zero = b.constant_f64(DType::F32, 0.0);
        let sum = b.reduce(&[p[0]], &[zero], &[1], add);
        let s = Shape::new(DType::F32, [2]);
        let double = b.region("double", std::slice::from_ref(&s), |b, q| {
            vec![b.binary(BinaryOp::Add, q[0], q[0])]
        });
        let called = b.add(Op::Call { comp: double }, &[sum[0]]);
        let fused = b.add(
            Op::Fusion {
                comp: double,
                kind: FusionKind::Loop,
            },
            &[called],
        );
        let pred = b.compare(CmpDir::Gt, zero, zero);
        let branches = vec![double, double];
        let r = b.add(Op::Conditional { branches }, &[pred, fused]);
        vec![r]
    });
    let text = to_stablehlo_text(&c.module).unwrap();
    assert!(text.contains("%1 = \"stablehlo.reduce\"(%arg0, %0) <{dimensions = array<i64: 1>}> ({"));
    assert!(
        text.contains("^bb0(%arg1: tensor<f32>, %arg2: tensor<f32>):"),
        "{text}"
    );
    assert!(text.contains("\"stablehlo.return\"("));
    // Call and fusion share one private function.
    assert_eq!(
        text.matches("func.func private @double_").count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("\"func.call\"").count(), 2);
    // The bool branch index becomes a clamped i32.
    assert!(text.contains("\"stablehlo.convert\"") && text.contains("\"stablehlo.clamp\""));
    assert!(text.contains("\"stablehlo.case\""));
    assert_unique_definitions(&text);
}

#[test]
fn host_callback_and_invalid_modules_are_errors() {
    let x = Literal::from_vec(&[2], vec![0.0f32; 2]);
    let c = case("cb", vec![x.clone()], |b, p| {
        b.host_callback(7, &[p[0]], &[Shape::new(DType::F32, [2])])
    });
    match to_stablehlo_text(&c.module) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("host callback"), "{m}"),
        other => panic!("expected an error, got {other:?}"),
    }
    // A host callback nested in a called computation is found too.
    let c = case("nested_cb", vec![x], |b, p| {
        let s = Shape::new(DType::F32, [2]);
        let inner = b.region("inner", std::slice::from_ref(&s), |b, q| {
            b.host_callback(8, &[q[0]], std::slice::from_ref(&s))
        });
        vec![b.add(Op::Call { comp: inner }, &[p[0]])]
    });
    assert!(matches!(
        to_stablehlo_text(&c.module),
        Err(Error::InvalidArgument(_))
    ));
    // A module that does not verify is rejected, not printed.
    let mut m = c.module.clone();
    m.computations[m.entry.0].results.push(Value {
        instr: 99,
        index: 0,
    });
    assert!(matches!(
        to_stablehlo_text(&m),
        Err(Error::InvalidModule(_))
    ));
}

// ---- real XLA ------------------------------------------------------------------------------

#[test]
fn elementwise_ops_match_real_xla() {
    use UnaryOp::*;
    let mut rng = Rng::new(1);
    let mut cases = Vec::new();
    let domains: [(UnaryOp, f64, f64); 34] = [
        (Neg, -3.0, 3.0),
        (Abs, -3.0, 3.0),
        (Sign, -3.0, 3.0),
        (Floor, -3.0, 3.0),
        (Ceil, -3.0, 3.0),
        (Exp, -3.0, 3.0),
        (Exp2, -3.0, 3.0),
        (Expm1, -3.0, 3.0),
        (Log, 0.1, 5.0),
        (Log1p, -0.5, 5.0),
        (Sqrt, 0.0, 5.0),
        (Rsqrt, 0.1, 5.0),
        (Cbrt, -5.0, 5.0),
        (Sin, -3.0, 3.0),
        (Cos, -3.0, 3.0),
        (Tan, -1.2, 1.2),
        (Asin, -0.9, 0.9),
        (Acos, -0.9, 0.9),
        (Atan, -3.0, 3.0),
        (Sinh, -3.0, 3.0),
        (Cosh, -3.0, 3.0),
        (Tanh, -3.0, 3.0),
        (Asinh, -3.0, 3.0),
        (Acosh, 1.1, 5.0),
        (Atanh, -0.9, 0.9),
        (Logistic, -5.0, 5.0),
        (Erf, -2.0, 2.0),
        (Erfc, -2.0, 2.0),
        (ErfInv, -0.9, 0.9),
        (Lgamma, 0.1, 5.0),
        (Digamma, 0.5, 5.0),
        (IsFinite, -3.0, 3.0),
        (RoundNearestAfz, -3.0, 3.0),
        (RoundNearestEven, -3.0, 3.0),
    ];
    for (op, lo, hi) in domains {
        let x = f32s(&mut rng, &[3, 4], lo, hi);
        cases.push(op_case(op.name(), Op::Unary(op), vec![x]));
    }
    let halves = lit(DType::F32, &[6], &[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]);
    for op in [RoundNearestAfz, RoundNearestEven] {
        cases.push(op_case("round_halves", Op::Unary(op), vec![halves.clone()]));
    }
    let special = lit(DType::F32, &[4], &[f64::NAN, f64::INFINITY, -0.0, 2.0]);
    for op in [IsFinite, Abs, Neg, Floor] {
        cases.push(op_case("special", Op::Unary(op), vec![special.clone()]));
    }
    for (dtype, op) in [
        (DType::I32, Not),
        (DType::U8, Not),
        (DType::I32, PopulationCount),
        (DType::U16, PopulationCount),
        (DType::I8, Abs),
        (DType::I32, Sign),
        (DType::I64, Neg),
    ] {
        let x = ints(&mut rng, dtype, &[5], -100, 100);
        cases.push(op_case(op.name(), Op::Unary(op), vec![x]));
    }
    let bools = Literal::from_vec(&[3], vec![true, false, true]);
    cases.push(op_case("not_bool", Op::Unary(Not), vec![bools.clone()]));

    use BinaryOp::*;
    for op in [Add, Sub, Mul, Div, Rem, Pow, Max, Min, Atan2, NextAfter] {
        let lo = if op == Pow { 0.1 } else { -3.0 };
        let mut x = f32s(&mut rng, &[2, 3], lo, 3.0);
        if matches!(op, Max | Min) {
            x = lit(DType::F32, &[2, 3], &[f64::NAN, 1.0, -0.0, 2.0, 3.0, -1.0]);
        }
        let y = f32s(&mut rng, &[2, 3], -3.0, 3.0);
        cases.push(op_case(op.name(), Op::Binary(op), vec![x, y]));
    }
    for dtype in [DType::I32, DType::U32, DType::I8] {
        for op in [
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
        ] {
            let x = ints(&mut rng, dtype, &[8], -60, 60);
            let (lo, hi) = match op {
                ShiftLeft | ShiftRightLogical | ShiftRightArithmetic => (0, 40),
                Pow if dtype.is_unsigned_int() => (0, 5),
                Pow => (-2, 5),
                Div | Rem => (-4, 4),
                _ => (-60, 60),
            };
            let y = ints(&mut rng, dtype, &[8], lo, hi);
            cases.push(op_case(op.name(), Op::Binary(op), vec![x, y]));
        }
    }
    cases.push(op_case(
        "and_bool",
        Op::Binary(And),
        vec![bools.clone(), bools.clone()],
    ));

    // Comparisons: IEEE and total order on floats with NaN and signed zeros; signed,
    // unsigned and bool integers.
    let fx = lit(
        DType::F32,
        &[6],
        &[f64::NAN, -0.0, 0.0, 1.0, -f64::NAN, 2.0],
    );
    let fy = lit(DType::F32, &[6], &[1.0, 0.0, -0.0, 1.0, 3.0, f64::NAN]);
    let ux = lit_i(DType::U32, &[3], &[1, 4_000_000_000, 5]);
    let uy = lit_i(DType::U32, &[3], &[2, 1, 5]);
    let ix = lit_i(DType::I32, &[3], &[-1, 4, 5]);
    let iy = lit_i(DType::I32, &[3], &[2, -7, 5]);
    let by = Literal::from_vec(&[3], vec![false, false, true]);
    for dir in [
        CmpDir::Eq,
        CmpDir::Ne,
        CmpDir::Lt,
        CmpDir::Le,
        CmpDir::Gt,
        CmpDir::Ge,
    ] {
        for total_order in [false, true] {
            let op = Op::Compare { dir, total_order };
            cases.push(op_case("compare_f32", op, vec![fx.clone(), fy.clone()]));
        }
        let op = Op::Compare {
            dir,
            total_order: false,
        };
        cases.push(op_case(
            "compare_u32",
            op.clone(),
            vec![ux.clone(), uy.clone()],
        ));
        cases.push(op_case(
            "compare_i32",
            op.clone(),
            vec![ix.clone(), iy.clone()],
        ));
        cases.push(op_case("compare_bool", op, vec![bools.clone(), by.clone()]));
    }

    let x = f32s(&mut rng, &[2, 3], -2.0, 2.0);
    let y = f32s(&mut rng, &[2, 3], -2.0, 2.0);
    let mask = Literal::from_vec(&[2, 3], vec![true, false, false, true, true, false]);
    cases.push(op_case(
        "select",
        Op::Select,
        vec![mask, x.clone(), y.clone()],
    ));
    cases.push(op_case(
        "select_scalar_pred",
        Op::Select,
        vec![Literal::scalar(false), x.clone(), y.clone()],
    ));
    cases.push(op_case(
        "clamp",
        Op::Clamp,
        vec![Literal::scalar(-1.0f32), x.clone(), Literal::scalar(0.5f32)],
    ));

    // Converts, including float -> int saturation and NaN -> 0.
    let wide = lit(DType::F32, &[6], &[f64::NAN, 1e10, -1e10, -3.7, 3.7, 0.0]);
    for dtype in [
        DType::I32,
        DType::U8,
        DType::I64,
        DType::Bool,
        DType::F16,
        DType::BF16,
        DType::F64,
    ] {
        cases.push(op_case(
            "convert",
            Op::Convert { dtype },
            vec![wide.clone()],
        ));
    }
    let iv = ints(&mut rng, DType::I32, &[5], -1000, 1000);
    for dtype in [DType::F16, DType::U16, DType::Bool, DType::I64, DType::F32] {
        cases.push(op_case(
            "convert_int",
            Op::Convert { dtype },
            vec![iv.clone()],
        ));
    }
    cases.push(op_case(
        "convert_bool",
        Op::Convert { dtype: DType::F32 },
        vec![bools.clone()],
    ));
    cases.push(op_case(
        "bitcast_same",
        Op::BitcastConvert { dtype: DType::I32 },
        vec![special.clone()],
    ));
    cases.push(op_case(
        "bitcast_narrow",
        Op::BitcastConvert { dtype: DType::U8 },
        vec![special.clone()],
    ));
    cases.push(op_case(
        "bitcast_wide",
        Op::BitcastConvert { dtype: DType::F32 },
        vec![ints(&mut rng, DType::U16, &[3, 2], 0, 65535)],
    ));
    cases.push(op_case(
        "reduce_precision",
        Op::ReducePrecision {
            exponent_bits: 5,
            mantissa_bits: 3,
        },
        vec![f32s(&mut rng, &[8], -100.0, 100.0)],
    ));
    let specials = Literal::from_vec(&[4], vec![f32::NAN, -0.0, f32::NEG_INFINITY, 1.5]);
    cases.push(case("constants", vec![], |b, _| {
        vec![
            b.constant(specials),
            b.constant(lit(DType::BF16, &[2], &[-0.0, 3.5])),
            b.constant(lit(DType::F16, &[2], &[f64::INFINITY, 0.1])),
            b.constant(lit(
                DType::F64,
                &[100],
                &(0..100).map(|i| i as f64 / 7.0).collect::<Vec<_>>(),
            )),
            b.constant(lit_i(DType::U64, &[2], &[u64::MAX as i128, 3])),
            b.constant(Literal::from_vec(&[2, 2], vec![true, false, false, true])),
        ]
    }));
    check_in_xla("elementwise", &cases, 2e-5);
}

#[test]
fn structural_ops_match_real_xla() {
    let mut rng = Rng::new(2);
    let mut cases = Vec::new();
    let x = f32s(&mut rng, &[3, 4], -2.0, 2.0);
    cases.push(case("iota", vec![], |b, _| {
        vec![
            b.iota(Shape::new(DType::I32, [2, 3]), 1),
            b.iota(Shape::new(DType::F32, [4]), 0),
        ]
    }));
    cases.push(case(
        "broadcast_reshape_transpose",
        vec![x.clone()],
        |b, p| {
            let t = b.transpose(p[0], &[1, 0]);
            let r = b.reshape(t, &[2, 6]);
            let bc = b.broadcast_in_dim(p[0], &[2, 3, 4], &[1, 2]);
            vec![t, r, bc]
        },
    ));
    cases.push(op_case(
        "reverse",
        Op::Reverse { dims: vec![0, 1] },
        vec![x.clone()],
    ));
    cases.push(case("slice", vec![x.clone()], |b, p| {
        vec![b.slice(p[0], &[0, 1], &[3, 4], &[2, 2])]
    }));
    for (i, j) in [(1i32, 2i64), (-3, 9)] {
        let args = vec![x.clone(), Literal::scalar(i), Literal::scalar(j)];
        cases.push(op_case(
            "dynamic_slice_mixed",
            Op::DynamicSlice { sizes: vec![2, 2] },
            args,
        ));
    }
    let upd = f32s(&mut rng, &[2, 3], 5.0, 6.0);
    for (i, j) in [(0i32, 1i32), (7, -2)] {
        let args = vec![
            x.clone(),
            upd.clone(),
            Literal::scalar(i),
            Literal::scalar(j),
        ];
        cases.push(op_case(
            "dynamic_update_slice",
            Op::DynamicUpdateSlice,
            args,
        ));
    }
    cases.push(op_case(
        "concatenate",
        Op::Concatenate { dim: 1 },
        vec![x.clone(), f32s(&mut rng, &[3, 2], 0.0, 1.0), x.clone()],
    ));
    cases.push(op_case(
        "pad",
        Op::Pad {
            low: vec![1, -1],
            high: vec![-1, 2],
            interior: vec![1, 0],
        },
        vec![x.clone(), Literal::scalar(9.0f32)],
    ));
    // Gathers: rows (with clamped starts), 2-d windows, batching dims.
    cases.push(op_case(
        "gather_rows",
        Op::Gather {
            dims: GatherDims {
                offset_dims: vec![1],
                collapsed_slice_dims: vec![0],
                start_index_map: vec![0],
                ..Default::default()
            },
            slice_sizes: vec![1, 4],
            indices_are_sorted: false,
        },
        vec![x.clone(), Literal::from_vec(&[4, 1], vec![1i32, 7, -3, 2])],
    ));
    cases.push(op_case(
        "gather_windows",
        Op::Gather {
            dims: GatherDims {
                offset_dims: vec![1, 2],
                start_index_map: vec![0, 1],
                ..Default::default()
            },
            slice_sizes: vec![2, 2],
            indices_are_sorted: false,
        },
        vec![
            x.clone(),
            Literal::from_vec(&[3, 2], vec![0i64, 0, 4, 2, 2, -1]),
        ],
    ));
    cases.push(op_case(
        "gather_batching",
        Op::Gather {
            dims: GatherDims {
                offset_dims: vec![],
                collapsed_slice_dims: vec![1],
                operand_batching_dims: vec![0],
                start_indices_batching_dims: vec![0],
                start_index_map: vec![1],
            },
            slice_sizes: vec![1, 1],
            indices_are_sorted: false,
        },
        vec![x.clone(), Literal::from_vec(&[3, 1], vec![2i32, 0, 9])],
    ));
    // Scatter-add with duplicate and out-of-bounds rows, and an overwrite.
    let idx = Literal::from_vec(&[4, 1], vec![1i32, 2, 1, 5]);
    let rows = f32s(&mut rng, &[4, 4], -1.0, 1.0);
    for body_op in [Some(BinaryOp::Add), None] {
        let args = vec![x.clone(), idx.clone(), rows.clone()];
        cases.push(case("scatter", args, |b, p| {
            let s = Shape::scalar(DType::F32);
            let body = match body_op {
                Some(op) => scalar_region(b, op, DType::F32),
                None => b.region("overwrite", &[s.clone(), s], |_, q| vec![q[1]]),
            };
            let op = Op::Scatter {
                dims: ScatterDims {
                    update_window_dims: vec![1],
                    inserted_window_dims: vec![0],
                    scatter_dims_to_operand_dims: vec![0],
                    ..Default::default()
                },
                body,
                indices_are_sorted: false,
                unique_indices: body_op.is_none(),
            };
            vec![b.add(op, p)]
        }));
    }
    // Batched dot with a contracting dim, and i8 x i8 -> i32.
    cases.push(op_case(
        "dot_batch",
        Op::DotGeneral {
            dims: DotDims {
                lhs_batch: vec![0],
                rhs_batch: vec![0],
                lhs_contracting: vec![2],
                rhs_contracting: vec![1],
            },
            out_dtype: DType::F32,
        },
        vec![
            f32s(&mut rng, &[2, 3, 4], -1.0, 1.0),
            f32s(&mut rng, &[2, 4, 5], -1.0, 1.0),
        ],
    ));
    cases.push(op_case(
        "dot_i8",
        Op::DotGeneral {
            dims: DotDims {
                lhs_contracting: vec![1],
                rhs_contracting: vec![0],
                ..Default::default()
            },
            out_dtype: DType::I32,
        },
        vec![
            ints(&mut rng, DType::I8, &[3, 4], -100, 100),
            ints(&mut rng, DType::I8, &[4, 2], -100, 100),
        ],
    ));
    let nchw = ConvDims {
        input_batch: 0,
        input_feature: 1,
        input_spatial: vec![2, 3],
        kernel_output_feature: 0,
        kernel_input_feature: 1,
        kernel_spatial: vec![2, 3],
        output_batch: 0,
        output_feature: 1,
        output_spatial: vec![2, 3],
    };
    let nhwc = ConvDims {
        input_batch: 0,
        input_feature: 3,
        input_spatial: vec![1, 2],
        kernel_output_feature: 3,
        kernel_input_feature: 2,
        kernel_spatial: vec![0, 1],
        output_batch: 0,
        output_feature: 3,
        output_spatial: vec![1, 2],
    };
    let conv = |dims: ConvDims, groups: usize| Op::Convolution {
        window_strides: vec![1, 2],
        padding: vec![(1, 0), (0, 1)],
        lhs_dilation: vec![1, 2],
        rhs_dilation: vec![2, 1],
        dims,
        feature_group_count: groups,
        batch_group_count: 1,
        out_dtype: DType::F32,
    };
    cases.push(op_case(
        "conv_nchw_grouped",
        conv(nchw, 2),
        vec![
            f32s(&mut rng, &[2, 4, 5, 5], -1.0, 1.0),
            f32s(&mut rng, &[6, 2, 2, 3], -1.0, 1.0),
        ],
    ));
    cases.push(op_case(
        "conv_nhwc",
        conv(nhwc, 1),
        vec![
            f32s(&mut rng, &[1, 5, 6, 2], -1.0, 1.0),
            f32s(&mut rng, &[2, 2, 2, 3], -1.0, 1.0),
        ],
    ));
    check_in_xla("structural", &cases, 2e-5);
}

#[test]
fn regions_and_control_flow_match_real_xla() {
    let mut rng = Rng::new(3);
    let mut cases = Vec::new();
    let x = f32s(&mut rng, &[3, 5], -2.0, 2.0);
    cases.push(case("reduce_sum_max", vec![x.clone()], |b, p| {
        let add = scalar_region(b, BinaryOp::Add, DType::F32);
        let max = scalar_region(b, BinaryOp::Max, DType::F32);
        let zero = b.constant_f64(DType::F32, 0.0);
        let ninf = b.constant_f64(DType::F32, f64::NEG_INFINITY);
        let s = b.reduce(&[p[0]], &[zero], &[1], add);
        let m = b.reduce(&[p[0]], &[ninf], &[0, 1], max);
        vec![s[0], m[0]]
    }));
    cases.push(case("argmax_variadic_reduce", vec![x.clone()], |b, p| {
        let (f, i) = (Shape::scalar(DType::F32), Shape::scalar(DType::I32));
        let body = b.region("argmax", &[f.clone(), i.clone(), f, i], |b, q| {
            // (acc_v, acc_i, x_v, x_i): keep the larger value, the lower index on ties.
            let gt = b.compare(CmpDir::Gt, q[2], q[0]);
            let eq = b.compare(CmpDir::Eq, q[2], q[0]);
            let lower = b.compare(CmpDir::Lt, q[3], q[1]);
            let tie = b.binary(BinaryOp::And, eq, lower);
            let take = b.binary(BinaryOp::Or, gt, tie);
            vec![b.select(take, q[2], q[0]), b.select(take, q[3], q[1])]
        });
        let iota = b.iota(Shape::new(DType::I32, [3, 5]), 1);
        let ninf = b.constant_f64(DType::F32, f64::NEG_INFINITY);
        let zero = b.constant_i128(DType::I32, 0);
        b.reduce(&[p[0], iota], &[ninf, zero], &[1], body)
    }));
    cases.push(case("reduce_window", vec![x.clone()], |b, p| {
        let add = scalar_region(b, BinaryOp::Add, DType::F32);
        let zero = b.constant_f64(DType::F32, 0.0);
        let op = Op::ReduceWindow {
            window: vec![2, 3],
            strides: vec![1, 2],
            base_dilation: vec![1, 2],
            window_dilation: vec![2, 1],
            padding: vec![(1, 1), (0, 2)],
            body: add,
        };
        vec![b.add(op, &[p[0], zero])]
    }));
    let keys = ints(&mut rng, DType::I32, &[3, 6], 0, 3);
    let vals = f32s(&mut rng, &[3, 6], -1.0, 1.0);
    cases.push(case("sort_two_operands", vec![keys, vals], |b, p| {
        let (i, f) = (Shape::scalar(DType::I32), Shape::scalar(DType::F32));
        let less = b.region("less", &[i.clone(), i, f.clone(), f], |b, q| {
            vec![b.compare(CmpDir::Lt, q[0], q[1])]
        });
        b.add_multi(
            Op::Sort {
                dim: 1,
                is_stable: true,
                body: less,
            },
            p,
        )
    }));
    cases.push(op_case(
        "top_k",
        Op::TopK { k: 3 },
        vec![f32s(&mut rng, &[2, 6], -1.0, 1.0)],
    ));
    // while: sum 1..=n.
    cases.push(case("while", vec![Literal::scalar(10i32)], |b, p| {
        let i32s = Shape::scalar(DType::I32);
        let three = vec![i32s.clone(), i32s.clone(), i32s];
        let cond = b.region("cond", &three, |b, q| {
            vec![b.compare(CmpDir::Le, q[0], q[2])]
        });
        let body = b.region("body", &three, |b, q| {
            let one = b.constant_i128(DType::I32, 1);
            vec![
                b.binary(BinaryOp::Add, q[0], one),
                b.binary(BinaryOp::Add, q[1], q[0]),
                q[2],
            ]
        });
        let one = b.constant_i128(DType::I32, 1);
        let zero = b.constant_i128(DType::I32, 0);
        b.add_multi(Op::While { cond, body }, &[one, zero, p[0]])
    }));
    // Conditionals on i32 indices (negative and too large clamp) and on bools.
    let v = f32s(&mut rng, &[2], -2.0, 2.0);
    for index in [
        Literal::scalar(-5i32),
        Literal::scalar(1i32),
        Literal::scalar(7i32),
    ] {
        cases.push(conditional_case(index, &v, 3));
    }
    for pred in [false, true] {
        cases.push(conditional_case(Literal::scalar(pred), &v, 2));
    }
    cases.push(case("call", vec![v.clone()], |b, p| {
        let s = Shape::new(DType::F32, [2]);
        let f = b.region("square_plus", std::slice::from_ref(&s), |b, q| {
            let sq = b.binary(BinaryOp::Mul, q[0], q[0]);
            vec![sq, b.binary(BinaryOp::Add, sq, q[0])]
        });
        let r = b.add_multi(Op::Call { comp: f }, &[p[0]]);
        let fused = b.add_multi(
            Op::Fusion {
                comp: f,
                kind: FusionKind::Loop,
            },
            &[r[1]],
        );
        vec![r[0], fused[1]]
    }));
    check_in_xla("regions", &cases, 2e-5);
}

/// `branches[index](x)` with branch k computing `x * (k + 1) - k`.
fn conditional_case(index: Literal, x: &Literal, n: usize) -> Case {
    case("conditional", vec![index, x.clone()], |b, p| {
        let s = x.shape().clone();
        let branches = (0..n)
            .map(|k| {
                b.region("branch", std::slice::from_ref(&s), |b, q| {
                    let m = b.full_f64(&s, (k + 1) as f64);
                    let c = b.full_f64(&s, k as f64);
                    let y = b.binary(BinaryOp::Mul, q[0], m);
                    vec![b.binary(BinaryOp::Sub, y, c)]
                })
            })
            .collect();
        vec![b.add(Op::Conditional { branches }, p)]
    })
}
