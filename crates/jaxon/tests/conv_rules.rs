//! Transformation rules of `conv_general_dilated` on random layouts, strides,
//! paddings, dilations and feature/batch groups: gradients vs finite differences
//! (orders 1–2), vmap vs a loop over the batch, jit vs eager.

mod dot_rules_support;
mod support;

use dot_rules_support::{grads, jit, vmap, Counter};
use jaxon::lax::{self, ConvDimensionNumbers};
use jaxon::prelude::*;
use support::{random_array, Rng};

/// A random convolution: its parameters and operand shapes.
struct Conv {
    strides: Vec<usize>,
    padding: Vec<(i64, i64)>,
    lhs_dil: Vec<usize>,
    rhs_dil: Vec<usize>,
    dn: ConvDimensionNumbers,
    fg: usize,
    bg: usize,
    lhs: Vec<usize>,
    rhs: Vec<usize>,
}

impl Conv {
    fn apply(&self, l: &Array, r: &Array) -> Array {
        lax::conv_general_dilated(
            l,
            r,
            &self.strides,
            self.padding.clone(),
            Some(&self.lhs_dil),
            Some(&self.rhs_dil),
            self.dn.clone(),
            self.fg,
            self.bg,
        )
    }
}

fn permutation(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.int(0, i as i64) as usize);
    }
    p
}

/// Places logical sizes (batch/feature first, then spatial) by a spec.
fn layout(spec: &[usize], logical: &[usize]) -> Vec<usize> {
    let mut s = vec![0; spec.len()];
    for (i, &p) in spec.iter().enumerate() {
        s[p] = logical[i];
    }
    s
}

fn random_conv(rng: &mut Rng, groups: (usize, usize)) -> Conv {
    let n = rng.int(1, 2) as usize;
    let nd = n + 2;
    let (fg, bg) = groups;
    let pick = |rng: &mut Rng, lo, hi| -> Vec<usize> {
        (0..n).map(|_| rng.int(lo, hi) as usize).collect()
    };
    let strides = pick(rng, 1, 2);
    let lhs_dil = pick(rng, 1, 2);
    let rhs_dil = pick(rng, 1, 2);
    let k = pick(rng, 1, 2);
    let padding: Vec<(i64, i64)> = (0..n).map(|_| (rng.int(0, 1), rng.int(-1, 1))).collect();
    // Input sizes large enough for at least one output element.
    let x: Vec<usize> = (0..n)
        .map(|i| (k[i] - 1) * rhs_dil[i] + 1 + rng.int(1, 3) as usize)
        .collect();
    let cg = rng.int(1, 2) as usize;
    let batch = bg * rng.int(1, 2) as usize;
    let out_feat = fg * bg * rng.int(1, 2) as usize;
    let dn = ConvDimensionNumbers {
        lhs_spec: permutation(rng, nd),
        rhs_spec: permutation(rng, nd),
        out_spec: permutation(rng, nd),
    };
    let mut lhs_l = vec![batch, cg * fg];
    lhs_l.extend(&x);
    let mut rhs_l = vec![out_feat, cg];
    rhs_l.extend(&k);
    Conv {
        lhs: layout(&dn.lhs_spec, &lhs_l),
        rhs: layout(&dn.rhs_spec, &rhs_l),
        strides,
        padding,
        lhs_dil,
        rhs_dil,
        dn,
        fg,
        bg,
    }
}

fn with_batch(shape: &[usize], ax: Option<usize>, n: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    if let Some(ax) = ax {
        s.insert(ax, n);
    }
    s
}

fn rand(rng: &mut Rng, shape: &[usize]) -> Array {
    random_array(rng, DType::F64, shape, -1.0, 1.0)
}

fn run_cases(c: &Counter, seed: u64, groups: (usize, usize), count: usize) {
    let mut rng = Rng::new(seed);
    for _ in 0..count {
        let cv = random_conv(&mut rng, groups);
        let f = |a: &[Array]| vec![cv.apply(&a[0], &a[1])];
        let args = [rand(&mut rng, &cv.lhs), rand(&mut rng, &cv.rhs)];
        let name = "conv_general_dilated";
        grads(c, name, &f, &args);
        jit(c, name, &f, &args);
        let nd = cv.lhs.len();
        let choices = [
            [Some(0), Some(0)],
            [Some(nd), None],
            [None, Some(1)],
            [Some(nd / 2), Some(nd)],
        ];
        for axes in choices {
            let args = [
                rand(&mut rng, &with_batch(&cv.lhs, axes[0], 2)),
                rand(&mut rng, &with_batch(&cv.rhs, axes[1], 2)),
            ];
            vmap(c, name, &f, &args, &axes);
        }
    }
}

#[test]
fn conv_rules_plain() {
    let c = Counter::new();
    run_cases(&c, 1, (1, 1), 10);
    assert!(c.report("conv_rules (no groups)") >= 60);
}

#[test]
fn conv_rules_feature_groups() {
    let c = Counter::new();
    run_cases(&c, 2, (2, 1), 6);
    assert!(c.report("conv_rules (feature_group_count 2)") >= 36);
}

#[test]
fn conv_rules_batch_groups() {
    let c = Counter::new();
    run_cases(&c, 3, (1, 2), 6);
    assert!(c.report("conv_rules (batch_group_count 2)") >= 36);
}

#[test]
fn conv_transpose_and_conv_differentiate() {
    // The public wrappers go through the same primitive; a quick check of each.
    let c = Counter::new();
    let mut rng = Rng::new(9);
    let x = rand(&mut rng, &[1, 5, 2]);
    let k = rand(&mut rng, &[3, 2, 2]);
    let f = |a: &[Array]| {
        vec![lax::conv_transpose(
            &a[0],
            &a[1],
            &[2],
            lax::Padding::Same,
            None,
            None,
        )]
    };
    grads(&c, "conv_transpose", &f, &[x.clone(), k.clone()]);
    vmap(
        &c,
        "conv_transpose",
        &f,
        &[rand(&mut rng, &[2, 1, 5, 2]), k],
        &[Some(0), None],
    );
    let x = rand(&mut rng, &[2, 2, 5, 4]);
    let k = rand(&mut rng, &[3, 2, 2, 3]);
    let g = |a: &[Array]| vec![lax::conv(&a[0], &a[1], &[1, 2], lax::Padding::Valid)];
    grads(&c, "conv", &g, &[x, k.clone()]);
    jit(&c, "conv", &g, &[rand(&mut rng, &[2, 2, 5, 4]), k]);
    assert_eq!(c.report("conv wrappers"), 4);
}

#[test]
fn per_example_gradients_under_vmap() {
    // vmap of a VJP batches the transposed convolutions (both operands batched).
    let c = Counter::new();
    let mut rng = Rng::new(17);
    for groups in [(1, 1), (2, 1), (1, 2)] {
        let cv = random_conv(&mut rng, groups);
        let g = |a: &[Array]| {
            let f = |x: &[Array]| vec![cv.apply(&x[0], &x[1]).sin()];
            let (outs, lin) = jaxon::transform::ad::vjp_flat(f, a);
            lin.transpose(&[jaxon::numpy::ones_like(&outs[0])])
        };
        let args = [
            rand(&mut rng, &with_batch(&cv.lhs, Some(0), 2)),
            rand(&mut rng, &with_batch(&cv.rhs, Some(1), 2)),
        ];
        vmap(
            &c,
            "conv_general_dilated (vjp)",
            &g,
            &args,
            &[Some(0), Some(1)],
        );
        let args = [
            rand(&mut rng, &cv.lhs),
            rand(&mut rng, &with_batch(&cv.rhs, Some(0), 2)),
        ];
        vmap(
            &c,
            "conv_general_dilated (vjp)",
            &g,
            &args,
            &[None, Some(0)],
        );
    }
    assert_eq!(c.report("conv vmap(vjp)"), 6);
}
