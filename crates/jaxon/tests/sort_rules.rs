//! Transformation rules of `sort` (variadic, several keys) and `top_k`, and of the
//! numpy sorting functions built on them: jvp and vjp vs finite differences (orders
//! 1-2, f64, distinct keys), vmap vs a loop over the batch for several in_axes,
//! vmap/jit of the VJP, and jit vs eager.

mod rules_index_support;

use jaxon::lax;
use jaxon::numpy as jnp;
use jaxon::Array;
use rules_index_support::{run_case, Case, Counts, Rng};
use std::rc::Rc;

/// Sorts of 1-3 operands along a random dimension; `int_key` makes the first key
/// an integer with ties (the stable order then decides), `num_keys` keys in all.
fn sort_case(rng: &mut Rng, operands: usize, num_keys: usize, int_key: bool) -> Case {
    let shape = rng.shape(1, 3, 4);
    let dim = rng.below(shape.len());
    let n = shape[dim] as i64;
    Case {
        prim: "sort",
        f: Rc::new(move |a| lax::sort(a, dim, true, num_keys)),
        gen: Rc::new(move |r| {
            (0..operands)
                .map(|i| {
                    if i == 0 && int_key {
                        r.ints(&shape, 0, n / 2)
                    } else {
                        r.f64s(&shape)
                    }
                })
                .collect()
        }),
        grads: true,
    }
}

fn top_k_case(rng: &mut Rng) -> Case {
    let shape = rng.shape(1, 3, 5);
    let k = 1 + rng.below(*shape.last().expect("rank >= 1"));
    Case {
        prim: "top_k",
        f: Rc::new(move |a| {
            let (v, i) = lax::top_k(&a[0], k);
            vec![v, i]
        }),
        gen: Rc::new(move |r| vec![r.f64s(&shape)]),
        grads: true,
    }
}

fn numpy_cases(rng: &mut Rng) -> Vec<Case> {
    let shape = rng.shape(1, 3, 4);
    let axis = -1 - rng.below(shape.len()) as i64;
    let (s1, s2, s3, s4) = (shape.clone(), shape.clone(), shape.clone(), shape.clone());
    vec![
        Case {
            prim: "numpy sort",
            f: Rc::new(move |a| vec![jnp::sort(&a[0], Some(axis))]),
            gen: Rc::new(move |r| vec![r.f64s(&s1)]),
            grads: true,
        },
        Case {
            prim: "numpy sort (flattened, descending)",
            f: Rc::new(|a| vec![jnp::sort_with(&a[0], None, true, true)]),
            gen: Rc::new(move |r| vec![r.f64s(&s2)]),
            grads: true,
        },
        Case {
            prim: "numpy argsort + take_along_axis",
            f: Rc::new(move |a| {
                let i = jnp::argsort(&a[0], Some(axis));
                vec![jnp::take_along_axis(&a[1], &i, axis), i]
            }),
            gen: Rc::new(move |r| vec![r.f64s(&s3), r.f64s(&s3)]),
            grads: true,
        },
        Case {
            prim: "numpy lexsort",
            f: Rc::new(|a| vec![jnp::lexsort(a, -1)]),
            gen: Rc::new(move |r| vec![r.ints(&s4, 0, 2), r.f64s(&s4)]),
            grads: false,
        },
    ]
}

#[test]
fn sort_rules_all_checks() {
    let mut rng = Rng::new(5);
    let mut counts = Counts::default();
    for _ in 0..3 {
        for (ops, keys, int_key) in [(1, 1, false), (2, 1, false), (2, 1, true), (3, 2, true)] {
            let c = sort_case(&mut rng, ops, keys, int_key);
            run_case(&c, &mut rng, &mut counts);
        }
        let c = top_k_case(&mut rng);
        run_case(&c, &mut rng, &mut counts);
    }
    for c in numpy_cases(&mut rng) {
        run_case(&c, &mut rng, &mut counts);
    }
    counts.report("sort_rules");
}

/// The sort JVP permutes the tangents exactly like the primals (checked against a
/// reference permutation computed here), including ties broken by stability.
#[test]
fn sort_jvp_permutes_tangents_like_primals() {
    let mut rng = Rng::new(9);
    for _ in 0..5 {
        let n = 1 + rng.below(8);
        let keys = rng.ints(&[n], 0, 3);
        let vals = rng.f64s(&[n]);
        let t = rng.f64s(&[n]);
        let f = |a: &[Array]| lax::sort(&[keys.clone(), a[0].clone()], 0, true, 1);
        let (_, tout) = jaxon::transform::jvp::jvp_flat(
            |a| vec![f(a)[1].clone()],
            &[vals],
            std::slice::from_ref(&t),
        );
        let k = keys.to_f64_vec();
        let mut perm: Vec<usize> = (0..n).collect();
        perm.sort_by(|&i, &j| k[i].partial_cmp(&k[j]).expect("finite"));
        let tv = t.to_f64_vec();
        let want: Vec<f64> = perm.iter().map(|&i| tv[i]).collect();
        assert_eq!(tout[0].to_f64_vec(), want, "keys {k:?}");
    }
}
