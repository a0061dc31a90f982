//! Convolutions on the CPU backend (im2col + GEMM) against the interpreter: random
//! ranks, layouts, strides, paddings (negative too), dilations and feature groups,
//! small-integer data (exact in f32/f64, so the results must match bit for bit
//! whatever the summation order), plus float data within a tolerance and the
//! interpreter fallbacks (integers, batch groups).

mod common;

use common::{check_cpu, f64s, lit, run_cpu, Rng};
use oxla::backend::interp::evaluate;
use oxla::{Builder, ConvDims, DType, Literal, Module, Op};

/// One random convolution: the module and its two arguments.
struct Case {
    module: Module,
    args: [Literal; 2],
    what: String,
}

/// A random permutation of `0..n`.
fn permutation(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.int(0, i as i64) as usize);
    }
    p
}

/// Dims in logical order (batch/out-feature, feature/in-feature, spatial...) laid
/// out by `perm`: logical dim `i` is physical dim `perm[i]`.
fn physical(dims: &[usize], perm: &[usize]) -> Vec<usize> {
    let mut out = vec![0; dims.len()];
    for (i, &d) in dims.iter().enumerate() {
        out[perm[i]] = d;
    }
    out
}

fn random_case(rng: &mut Rng, dtype: DType, big: bool, float_data: bool) -> Case {
    // Rank 2 (no spatial dims: a grouped matrix product) now and then.
    let spatial = rng.int(if big { 1 } else { 0 }, 3) as usize;
    let groups = rng.int(1, 3) as usize;
    let (batch, group_in, group_out) = if big {
        (4, 8, 16)
    } else {
        (
            rng.int(1, 3) as usize,
            rng.int(1, 3) as usize,
            rng.int(1, 3) as usize,
        )
    };
    let max_size = if big {
        [40, 14, 6][spatial.max(1) - 1]
    } else {
        6
    };
    let mut in_sizes = vec![];
    let mut window = vec![];
    let mut strides = vec![];
    let mut padding = vec![];
    let mut lhs_dil = vec![];
    let mut rhs_dil = vec![];
    for _ in 0..spatial {
        let size = rng.int(1, max_size) as usize;
        let w = rng.int(1, 3) as usize;
        let (ld, rd) = (rng.int(1, 2) as usize, rng.int(1, 2) as usize);
        let s = rng.int(1, 2) as usize;
        let lo = rng.int(-1, 2);
        let dilated_in = ((size - 1) * ld + 1) as i64;
        let dilated_w = ((w - 1) * rd + 1) as i64;
        // At least one output position.
        let hi = rng.int(-1, 2).max(dilated_w - dilated_in - lo);
        in_sizes.push(size);
        window.push(w);
        strides.push(s);
        padding.push((lo, hi));
        lhs_dil.push(ld);
        rhs_dil.push(rd);
    }
    let rank = spatial + 2;
    let (pi, pk, po) = (
        permutation(rng, rank),
        permutation(rng, rank),
        permutation(rng, rank),
    );
    let dims = ConvDims {
        input_batch: pi[0],
        input_feature: pi[1],
        input_spatial: pi[2..].to_vec(),
        kernel_output_feature: pk[0],
        kernel_input_feature: pk[1],
        kernel_spatial: pk[2..].to_vec(),
        output_batch: po[0],
        output_feature: po[1],
        output_spatial: po[2..].to_vec(),
    };
    let x_dims = physical(&[&[batch, groups * group_in][..], &in_sizes].concat(), &pi);
    let k_dims = physical(
        &[&[groups * group_out, group_in][..], &window].concat(),
        &pk,
    );
    let values = |rng: &mut Rng, n: usize| -> Vec<f64> {
        (0..n)
            .map(|_| {
                if float_data {
                    rng.uniform(-1.0, 1.0)
                } else {
                    rng.int(-3, 3) as f64
                }
            })
            .collect()
    };
    let xv = values(rng, x_dims.iter().product());
    let kv = values(rng, k_dims.iter().product());
    let (x, k) = (lit(dtype, &x_dims, &xv), lit(dtype, &k_dims, &kv));
    let mut b = Builder::new("conv");
    let p = b.parameter(x.shape().clone());
    let q = b.parameter(k.shape().clone());
    let what = format!(
        "{dtype:?} x{x_dims:?} k{k_dims:?} groups {groups} strides {strides:?} padding \
         {padding:?} lhs_dilation {lhs_dil:?} rhs_dilation {rhs_dil:?} dims {dims:?}"
    );
    let o = b.add(
        Op::Convolution {
            window_strides: strides,
            padding,
            lhs_dilation: lhs_dil,
            rhs_dilation: rhs_dil,
            dims,
            feature_group_count: groups,
            batch_group_count: 1,
            out_dtype: dtype,
        },
        &[p, q],
    );
    Case {
        module: b.finish(&[o]),
        args: [x, k],
        what,
    }
}

/// Runs `case` on the CPU backend and returns the result with the interpreter's.
fn cpu_and_interpreter(case: Case) -> (Literal, Literal, String) {
    let want = evaluate(&case.module, &case.args)
        .expect("interpreter")
        .remove(0);
    let got = run_cpu(case.module, &case.args).remove(0);
    (got, want, case.what)
}

#[test]
fn small_integer_convolutions_match_the_interpreter_exactly() {
    let mut rng = Rng::new(0xc0);
    for i in 0..150 {
        let dtype = if i % 2 == 0 { DType::F32 } else { DType::F64 };
        let (got, want, what) = cpu_and_interpreter(random_case(&mut rng, dtype, false, false));
        assert_eq!(got.shape(), want.shape(), "case {i}: {what}");
        assert_eq!(f64s(&got), f64s(&want), "case {i}: {what}");
    }
}

#[test]
fn large_convolutions_run_in_parallel_blocks_and_match() {
    // Big enough for several row blocks and the parallel path.
    let mut rng = Rng::new(0xc1);
    for i in 0..6 {
        let dtype = if i % 2 == 0 { DType::F32 } else { DType::F64 };
        let (got, want, what) = cpu_and_interpreter(random_case(&mut rng, dtype, true, false));
        assert_eq!(f64s(&got), f64s(&want), "case {i}: {what}");
    }
}

#[test]
fn float_convolutions_match_within_rounding() {
    let mut rng = Rng::new(0xc2);
    for i in 0..40 {
        let dtype = if i % 2 == 0 { DType::F32 } else { DType::F64 };
        let case = random_case(&mut rng, dtype, i % 5 == 0, true);
        let (got, want, what) = cpu_and_interpreter(case);
        // Sums of up to a few hundred products of [-1, 1] values in another order:
        // compare against the sum of magnitudes' scale, not the (possibly
        // cancelled) result.
        let eps = if dtype == DType::F32 { 1e-5 } else { 1e-13 };
        for (j, (g, w)) in f64s(&got).iter().zip(f64s(&want)).enumerate() {
            assert!(
                (g - w).abs() <= eps * 64.0,
                "case {i} element {j}: {g} vs {w}: {what}"
            );
        }
    }
}

#[test]
fn integer_and_batch_group_convolutions_fall_back_to_the_interpreter() {
    // I32 data, and a batch-grouped convolution (a grouped kernel's gradient).
    let mut rng = Rng::new(0xc3);
    let case = random_case(&mut rng, DType::I32, false, false);
    check_cpu(case.module, &case.args, 0.0);
    let x = lit(DType::F32, &[4, 2, 5], &rng.floats(40, -1.0, 1.0));
    let k = lit(DType::F32, &[4, 2, 3], &rng.floats(24, -1.0, 1.0));
    let mut b = Builder::new("batch_groups");
    let p = b.parameter(x.shape().clone());
    let q = b.parameter(k.shape().clone());
    let o = b.add(
        Op::Convolution {
            window_strides: vec![1],
            padding: vec![(1, 1)],
            lhs_dilation: vec![1],
            rhs_dilation: vec![1],
            dims: ConvDims {
                input_batch: 0,
                input_feature: 1,
                input_spatial: vec![2],
                kernel_output_feature: 0,
                kernel_input_feature: 1,
                kernel_spatial: vec![2],
                output_batch: 0,
                output_feature: 1,
                output_spatial: vec![2],
            },
            feature_group_count: 1,
            batch_group_count: 2,
            out_dtype: DType::F32,
        },
        &[p, q],
    );
    check_cpu(b.finish(&[o]), &[x, k], 1e-6);
}
