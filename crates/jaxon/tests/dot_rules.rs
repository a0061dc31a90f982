//! Transformation rules of `dot_general` (jvp, transpose, batching) on random
//! dimension numbers, and the numpy products built on it: gradients vs finite
//! differences (orders 1–2), vmap vs a loop over the batch, jit vs eager.

mod dot_rules_support;
mod support;

use dot_rules_support::{grads, jit, vmap, Counter};
use jaxon::lax::{self, DotDimensionNumbers};
use jaxon::numpy as jnp;
use jaxon::prelude::*;
use support::{random_array, Rng};

/// A random dot_general problem: operand shapes and dimension numbers with
/// batch, contracting and free dims in a random order.
fn random_dot(rng: &mut Rng) -> (Vec<usize>, Vec<usize>, DotDimensionNumbers) {
    let nb = rng.int(0, 1) as usize;
    let nc = rng.int(0, 2) as usize;
    let (nlf, nrf) = (rng.int(0, 2) as usize, rng.int(0, 1) as usize);
    let bsz: Vec<usize> = (0..nb).map(|_| rng.int(1, 3) as usize).collect();
    let csz: Vec<usize> = (0..nc).map(|_| rng.int(1, 3) as usize).collect();
    // Role of each operand dim: (kind, index); shuffled into random positions.
    let place = |nfree: usize, rng: &mut Rng| {
        let mut roles: Vec<(u8, usize)> = (0..nb).map(|i| (0, i)).collect();
        roles.extend((0..nc).map(|i| (1, i)));
        roles.extend((0..nfree).map(|i| (2, i)));
        for i in (1..roles.len()).rev() {
            roles.swap(i, rng.int(0, i as i64) as usize);
        }
        let shape: Vec<usize> = roles
            .iter()
            .map(|&(k, i)| match k {
                0 => bsz[i],
                1 => csz[i],
                _ => rng.int(1, 3) as usize,
            })
            .collect();
        let pos = |kind: u8, n: usize| -> Vec<usize> {
            (0..n)
                .map(|i| roles.iter().position(|&r| r == (kind, i)).unwrap())
                .collect()
        };
        (shape, pos(0, nb), pos(1, nc))
    };
    let (ls, lb, lc) = place(nlf, rng);
    let (rs, rb, rc) = place(nrf, rng);
    let dn = DotDimensionNumbers {
        lhs_contracting: lc,
        rhs_contracting: rc,
        lhs_batch: lb,
        rhs_batch: rb,
    };
    (ls, rs, dn)
}

/// `shape` with a batch dim of size `n` inserted at `ax`.
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

#[test]
fn dot_general_rules() {
    let c = Counter::new();
    let mut rng = Rng::new(7);
    for _ in 0..12 {
        let (ls, rs, dn) = random_dot(&mut rng);
        let f = |a: &[Array]| vec![lax::dot_general(&a[0], &a[1], dn.clone(), None)];
        let args = [rand(&mut rng, &ls), rand(&mut rng, &rs)];
        grads(&c, "dot_general", &f, &args);
        jit(&c, "dot_general", &f, &args);
        // vmap: both at 0, lhs only at its last dim, rhs only in the middle, and both
        // at non-leading dims.
        let n = rng.int(1, 3) as usize;
        let choices = [
            [Some(0), Some(0)],
            [Some(ls.len()), None],
            [None, Some(rs.len() / 2)],
            [Some(ls.len() / 2), Some(rs.len())],
        ];
        for axes in choices {
            let args = [
                rand(&mut rng, &with_batch(&ls, axes[0], n)),
                rand(&mut rng, &with_batch(&rs, axes[1], n)),
            ];
            vmap(&c, "dot_general", &f, &args, &axes);
        }
    }
    // vmap of the gradient (batching the transpose's dot_generals).
    let (ls, rs, dn) = (
        vec![2, 3],
        vec![3, 4],
        DotDimensionNumbers::contracting(&[1], &[0]),
    );
    let g = |a: &[Array]| {
        let f = |x: &[Array]| vec![lax::dot_general(&x[0], &x[1], dn.clone(), None).sin()];
        let (outs, lin) = jaxon::transform::ad::vjp_flat(f, a);
        lin.transpose(&[jnp::ones_like(&outs[0])])
    };
    let args = [
        rand(&mut rng, &with_batch(&ls, Some(1), 3)),
        rand(&mut rng, &rs),
    ];
    vmap(&c, "dot_general", &g, &args, &[Some(1), None]);
    assert!(c.report("dot_rules") >= 60);
}

#[test]
fn dot_general_preferred_type_grad() {
    // f32 inputs accumulating in f64: cotangents come back in f32.
    let mut rng = Rng::new(3);
    let a = random_array(&mut rng, DType::F32, &[2, 3], -1.0, 1.0);
    let b = random_array(&mut rng, DType::F32, &[3, 2], -1.0, 1.0);
    let f = |x: &[Array]| {
        vec![lax::dot_general(
            &x[0],
            &x[1],
            (([1], [0]), ([], [])),
            Some(DType::F64),
        )]
    };
    let (outs, lin) = jaxon::transform::ad::vjp_flat(f, &[a.clone(), b.clone()]);
    assert_eq!(outs[0].dtype(), DType::F64);
    let ct = jnp::ones_like(&outs[0]);
    let cts = lin.transpose(&[ct]);
    assert_eq!(cts[0].dtype(), DType::F32);
    // d/da sum(a @ b) = row sums of b, broadcast over a's rows.
    let bv = b.to_f64_vec();
    for (k, g) in cts[0].to_f64_vec().iter().enumerate() {
        let j = k % 3;
        let want = bv[j * 2] + bv[j * 2 + 1];
        assert!((g - want).abs() < 1e-5, "element {k}: {g} vs {want}");
    }
}

#[test]
fn numpy_products_differentiate_and_vmap() {
    let c = Counter::new();
    let mut rng = Rng::new(11);
    type Case = (
        &'static str,
        Vec<usize>,
        Vec<usize>,
        Box<dyn Fn(&[Array]) -> Vec<Array>>,
    );
    let cases: Vec<Case> = vec![
        (
            "jnp.dot",
            vec![2, 3],
            vec![3],
            Box::new(|a| vec![jnp::dot(&a[0], &a[1])]),
        ),
        (
            "jnp.matmul",
            vec![2, 2, 3],
            vec![3, 4],
            Box::new(|a| vec![jnp::matmul(&a[0], &a[1])]),
        ),
        (
            "jnp.einsum",
            vec![2, 3, 4],
            vec![4, 3],
            Box::new(|a| vec![jnp::einsum("ijk,kj->ik", &[&a[0], &a[1]])]),
        ),
        (
            "jnp.tensordot",
            vec![2, 3, 4],
            vec![3, 4, 2],
            Box::new(|a| vec![jnp::tensordot(&a[0], &a[1], 2usize)]),
        ),
        (
            "jnp.inner",
            vec![3, 4],
            vec![2, 4],
            Box::new(|a| vec![jnp::inner(&a[0], &a[1])]),
        ),
        (
            "jnp.outer",
            vec![3],
            vec![2],
            Box::new(|a| vec![jnp::outer(&a[0], &a[1])]),
        ),
    ];
    for (name, ls, rs, f) in &cases {
        let args = [rand(&mut rng, ls), rand(&mut rng, rs)];
        grads(&c, name, f.as_ref(), &args);
        jit(&c, name, f.as_ref(), &args);
        for axes in [[Some(0), None], [None, Some(rs.len())], [Some(1), Some(0)]] {
            let args = [
                rand(&mut rng, &with_batch(ls, axes[0], 2)),
                rand(&mut rng, &with_batch(rs, axes[1], 2)),
            ];
            vmap(&c, name, f.as_ref(), &args, &axes);
        }
    }
    assert!(c.report("numpy products") >= 30);
}

#[test]
fn grad_of_a_self_product() {
    // grad of a product of two differentiated operands is fine (the JVP is
    // bilinear); both operands' cotangents are returned.
    let mut rng = Rng::new(5);
    let a = rand(&mut rng, &[3]);
    let f = |x: &[Array]| vec![lax::dot_general(&x[0], &x[0], (([0], [0]), ([], [])), None)];
    let (_, lin) = jaxon::transform::ad::vjp_flat(f, std::slice::from_ref(&a));
    let g = lin.transpose(&[jnp::ones_like(&lax::reduce_sum(&a, &[0]))]);
    for (gv, av) in g[0].to_f64_vec().iter().zip(a.to_f64_vec()) {
        assert!((gv - 2.0 * av).abs() < 1e-12, "{gv} vs {}", 2.0 * av);
    }
}
