//! Random nested pytrees (random lengths, keys, shapes and dtypes): flattening yields the
//! leaves in the order of a hand-written JAX-order walk, unflattening restores every leaf's
//! shape, dtype and values, and the structure ignores leaf values but not arity or keys.

mod support;

use std::collections::BTreeMap;

use jaxon::prelude::*;
use jaxon::{tree_leaves, tree_structure, tree_unflatten};
use support::{random_array, Rng};

type Node = (Array, Option<Vec<Array>>, Static<u8>);
type Forest = Vec<BTreeMap<String, Node>>;

const DTYPES: [DType; 4] = [DType::F32, DType::F64, DType::I32, DType::BF16];

fn leaf(rng: &mut Rng) -> Array {
    let dt = DTYPES[rng.int(0, 3) as usize];
    let shape = rng.shape(3, 4);
    random_array(rng, dt, &shape, -5.0, 5.0)
}

fn forest(rng: &mut Rng) -> Forest {
    (0..rng.int(0, 4))
        .map(|_| {
            (0..rng.int(0, 4))
                .map(|_| {
                    let key = format!("k{}", rng.int(0, 20));
                    let opt = (rng.int(0, 1) == 1)
                        .then(|| (0..rng.int(0, 3)).map(|_| leaf(rng)).collect());
                    (key, (leaf(rng), opt, Static(rng.int(0, 2) as u8)))
                })
                .collect()
        })
        .collect()
}

/// JAX's order written out by hand: list items in order, dict keys sorted (a BTreeMap
/// iterates sorted), tuple fields in order, None contributes nothing.
fn reference_leaves(f: &Forest) -> Vec<Array> {
    let mut out = Vec::new();
    for m in f {
        for (x, opt, _) in m.values() {
            out.push(x.clone());
            out.extend(opt.iter().flatten().cloned());
        }
    }
    out
}

fn same_array(a: &Array, b: &Array) -> bool {
    a.shape() == b.shape() && a.dtype() == b.dtype() && a.to_f64_vec() == b.to_f64_vec()
}

#[test]
fn random_forests_round_trip_in_jax_order() {
    let mut rng = Rng::new(7);
    for case in 0..60 {
        let f = forest(&mut rng);
        let leaves = tree_leaves(&f);
        let want = reference_leaves(&f);
        assert_eq!(leaves.len(), want.len(), "case {case}");
        assert!(
            leaves.iter().zip(&want).all(|(a, b)| same_array(a, b)),
            "case {case}"
        );
        let def = tree_structure(&f);
        assert_eq!(def.num_leaves(), want.len());
        let back: Forest = tree_unflatten(&def, leaves.clone());
        assert_eq!(tree_structure(&back), def, "case {case}");
        let again = tree_leaves(&back);
        assert!(
            again.iter().zip(&leaves).all(|(a, b)| same_array(a, b)),
            "case {case}"
        );
        // Other leaf values, same structure.
        let other: Vec<Array> = leaves.iter().map(|x| x.astype(DType::F32) * 0.0).collect();
        let replaced: Forest = tree_unflatten(&def, other);
        assert_eq!(tree_structure(&replaced), def);
        // One more list item changes the structure.
        let mut longer = f.clone();
        longer.push(BTreeMap::new());
        assert_ne!(tree_structure(&longer), def);
    }
}
