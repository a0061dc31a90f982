//! reduce_window on the CPU backend: windows of up to 64 positions with a one-op
//! body become fused strided slices (`backend/cpu/window.rs`); the results must be
//! the interpreter's bit for bit (padding reads the op's exact identity), for
//! random ranks, windows, strides, paddings (negative too) and dilations, on data
//! with NaNs, signed zeros and infinities, for every combining op with an identity.

mod common;

use common::{lit, lit_i, run_cpu, Rng};
use oxla::backend::cpu::optimized_module;
use oxla::backend::interp::evaluate;
use oxla::{BinaryOp, Builder, DType, Literal, Module, Op};

/// A random reduce_window of `op` over `dtype` data, and its argument. Float data
/// are all -0.0 when `negative_zeros` (with a -0.0 init: only an exact identity in
/// the padding keeps the sums' sign).
fn random_case(
    rng: &mut Rng,
    op: BinaryOp,
    dtype: DType,
    big: bool,
    negative_zeros: bool,
) -> (Module, Literal, String) {
    let rank = rng.int(1, 3) as usize;
    let mut dims = vec![];
    let (mut window, mut strides, mut base, mut wdil, mut padding) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..rank {
        let n = rng.int(1, if big { 40 } else { 7 }) as usize;
        let w = rng.int(1, 3) as usize;
        let (bd, wd) = (rng.int(1, 2) as usize, rng.int(1, 2) as usize);
        let lo = rng.int(-1, 2);
        let dilated_in = ((n - 1) * bd + 1) as i64;
        let dilated_w = ((w - 1) * wd + 1) as i64;
        let hi = rng.int(-1, 2).max(dilated_w - dilated_in - lo);
        dims.push(n);
        window.push(w);
        strides.push(rng.int(1, 2) as usize);
        base.push(bd);
        wdil.push(wd);
        padding.push((lo, hi));
    }
    let n: usize = dims.iter().product();
    let x = if dtype.is_float() {
        let specials = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.5,
            -2.0,
        ];
        let v: Vec<f64> = (0..n)
            .map(|_| match rng.int(0, 3) {
                _ if negative_zeros => -0.0,
                0 => specials[rng.int(0, 6) as usize],
                _ => rng.int(-4, 4) as f64 * 0.25,
            })
            .collect();
        lit(dtype, &dims, &v)
    } else if dtype == DType::Bool {
        let v: Vec<bool> = (0..n).map(|_| rng.int(0, 1) == 1).collect();
        Literal::from_vec(&dims, v)
    } else {
        let v: Vec<i128> = (0..n).map(|_| rng.int(-5, 5) as i128).collect();
        lit_i(dtype, &dims, &v)
    };
    let what = format!(
        "{op:?} {dtype:?} x{dims:?} window {window:?} strides {strides:?} base {base:?} \
         window_dilation {wdil:?} padding {padding:?}"
    );
    let mut b = Builder::new("reduce_window");
    let p = b.parameter(x.shape().clone());
    let body = b.scalar_binary_region(op, dtype);
    // An init that is not the identity, so that it shows in every output.
    let init = match dtype {
        DType::Bool => b.constant(Literal::scalar(op == BinaryOp::And)),
        d if d.is_float() && negative_zeros => b.constant_f64(d, -0.0),
        d if d.is_float() => b.constant_f64(d, 0.5),
        d => b.constant_i128(d, 1),
    };
    let r = b.add(
        Op::ReduceWindow {
            window,
            strides,
            base_dilation: base,
            window_dilation: wdil,
            padding,
            body,
        },
        &[p, init],
    );
    (b.finish(&[r]), x, what)
}

fn reduce_windows_left(m: &Module) -> usize {
    let opt = optimized_module(m).expect("optimize");
    opt.computations
        .iter()
        .flat_map(|c| &c.instrs)
        .filter(|i| matches!(i.op, Op::ReduceWindow { .. }))
        .count()
}

#[test]
fn windows_match_the_interpreter_bit_for_bit() {
    let mut rng = Rng::new(0x77);
    let cases: [(BinaryOp, &[DType]); 6] = [
        (
            BinaryOp::Add,
            &[DType::F32, DType::F64, DType::I32, DType::BF16],
        ),
        (
            BinaryOp::Max,
            &[DType::F32, DType::F64, DType::I8, DType::U16],
        ),
        (BinaryOp::Min, &[DType::F32, DType::I64, DType::U8]),
        (BinaryOp::Mul, &[DType::F32, DType::I32]),
        (BinaryOp::And, &[DType::Bool, DType::U32, DType::I16]),
        (BinaryOp::Or, &[DType::Bool, DType::I32]),
    ];
    for (op, dtypes) in cases {
        for &dtype in dtypes {
            for i in 0..16 {
                let zeros = dtype.is_float() && i % 4 == 1;
                let (m, x, what) = random_case(&mut rng, op, dtype, i % 4 == 0, zeros);
                assert_eq!(reduce_windows_left(&m), 0, "not rewritten: {what}");
                let want = evaluate(&m, std::slice::from_ref(&x))
                    .expect("interpreter")
                    .remove(0);
                let got = run_cpu(m, std::slice::from_ref(&x)).remove(0);
                assert_eq!(got.shape(), want.shape(), "{what}");
                assert_eq!(got.data().to_bytes(), want.data().to_bytes(), "{what}");
            }
        }
    }
}

#[test]
fn large_windows_and_other_bodies_keep_the_interpreter_path() {
    // 9×9 = 81 positions: over the limit; a subtraction has no identity.
    let x = lit(
        DType::F32,
        &[12, 12],
        &(0..144).map(f64::from).collect::<Vec<_>>(),
    );
    for (op, window) in [(BinaryOp::Max, vec![9, 9]), (BinaryOp::Sub, vec![2, 2])] {
        let mut b = Builder::new("kept");
        let p = b.parameter(x.shape().clone());
        let body = b.scalar_binary_region(op, DType::F32);
        let init = b.constant_f64(DType::F32, 0.0);
        let r = b.add(
            Op::ReduceWindow {
                window,
                strides: vec![1, 1],
                base_dilation: vec![1, 1],
                window_dilation: vec![1, 1],
                padding: vec![(0, 0), (0, 0)],
                body,
            },
            &[p, init],
        );
        let m = b.finish(&[r]);
        assert_eq!(reduce_windows_left(&m), 1, "{op:?}");
        let want = evaluate(&m, std::slice::from_ref(&x))
            .expect("interpreter")
            .remove(0);
        assert_eq!(
            run_cpu(m, std::slice::from_ref(&x))[0].data().to_bytes(),
            want.data().to_bytes(),
            "{op:?}"
        );
    }
}
