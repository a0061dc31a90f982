//! `#[derive(Tree)]`: named, tuple, unit and generic structs, `#[tree(static)]` fields,
//! nesting with the standard containers, and the errors of a def that does not fit.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::{tree_leaves, tree_map, tree_map2, tree_structure, tree_unflatten};

fn a(v: f32) -> Array {
    jnp::array(v)
}

fn vals(leaves: &[Array]) -> Vec<f32> {
    leaves.iter().map(|x| x.item::<f32>()).collect()
}

fn hash_of(d: &TreeDef) -> u64 {
    let mut h = DefaultHasher::new();
    d.hash(&mut h);
    h.finish()
}

fn panic_text<R>(f: impl FnOnce() -> R) -> String {
    let Err(err) = catch_unwind(AssertUnwindSafe(f)) else {
        panic!("expected a panic")
    };
    err.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[derive(Tree, Clone)]
struct Linear {
    w: Array,
    b: Option<Array>,
}

#[derive(Tree, Clone)]
struct Mlp {
    layers: Vec<Linear>,
    #[tree(static)]
    activation: String,
    scale: Array,
    #[tree(static)]
    depth: usize,
}

#[derive(Tree, Clone, Debug)]
struct Pair(Array, #[tree(static)] i32, Array);

#[derive(Tree, Clone, Debug, PartialEq)]
struct Marker;

#[derive(Tree, Clone)]
struct Generic<T, K> {
    items: Vec<T>,
    #[tree(static)]
    key: K,
    last: T,
}

#[derive(Tree, Clone)]
struct WithWhere<T>
where
    T: Clone,
{
    inner: Box<T>,
    extra: BTreeMap<String, T>,
}

/// A type parameter used only by a static field needs no `Tree` bound.
#[derive(Tree, Clone)]
struct OnlyStatic<S> {
    x: Array,
    #[tree(static)]
    s: S,
}

#[derive(Hash, PartialEq, Eq, Clone, Debug)]
enum Act {
    Relu,
    Tanh,
}

fn mlp(activation: &str) -> Mlp {
    Mlp {
        layers: vec![
            Linear {
                w: a(1.0),
                b: Some(a(2.0)),
            },
            Linear { w: a(3.0), b: None },
        ],
        activation: activation.into(),
        scale: a(4.0),
        depth: 2,
    }
}

#[test]
fn named_fields_flatten_in_declaration_order() {
    let m = mlp("relu");
    let (leaves, def) = m.tree_flatten();
    assert_eq!(vals(&leaves), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(
        def.to_string(),
        "PyTreeDef(CustomNode(Mlp[('layers', 'activation', 'scale', 'depth')], \
         [[CustomNode(Linear[('w', 'b')], [*, *]), CustomNode(Linear[('w', 'b')], [*, None])], \
         Static[\"relu\"], *, Static[2]]))"
    );
    assert_eq!(def.num_leaves(), 4);
    let back = Mlp::tree_unflatten(&def, tree_map(|x| x * 2.0, &m).tree_flatten().0);
    assert_eq!(back.activation, "relu");
    assert_eq!(back.depth, 2);
    assert!(back.layers[1].b.is_none());
    assert_eq!(back.layers[0].b.as_ref().unwrap().item::<f32>(), 4.0);
    assert_eq!(back.scale.item::<f32>(), 8.0);
    assert_eq!(tree_structure(&back), def);
}

#[test]
fn static_fields_are_part_of_the_def() {
    let d1 = tree_structure(&mlp("relu"));
    let d2 = tree_structure(&mlp("relu"));
    let d3 = tree_structure(&mlp("tanh"));
    assert_eq!(d1, d2);
    assert_eq!(hash_of(&d1), hash_of(&d2));
    assert_ne!(d1, d3);
    assert_ne!(hash_of(&d1), hash_of(&d3));
    // tree_map keeps the static value; tree_map2 refuses different static values.
    let m = tree_map(|x| -x, &mlp("tanh"));
    assert_eq!(m.activation, "tanh");
    let (file, line) = (file!(), line!() + 1);
    let msg = panic_text(|| tree_map2(|x, y| x + y, &mlp("relu"), &mlp("tanh")));
    assert!(
        msg.contains("tree_map2: the trees have different structures"),
        "{msg}"
    );
    assert!(
        msg.contains("Static[\"relu\"]") && msg.contains("Static[\"tanh\"]"),
        "{msg}"
    );
    assert!(msg.contains(&format!("{file}:{line}")), "{msg}");
}

#[test]
fn tuple_and_unit_structs() {
    let p = Pair(a(1.0), 7, a(2.0));
    let (leaves, def) = p.tree_flatten();
    assert_eq!(vals(&leaves), [1.0, 2.0]);
    assert_eq!(
        def.to_string(),
        "PyTreeDef(CustomNode(Pair[('0', '1', '2')], [*, Static[7], *]))"
    );
    let q: Pair = tree_unflatten(&def, vec![a(5.0), a(6.0)]);
    assert_eq!((q.0.item::<f32>(), q.1, q.2.item::<f32>()), (5.0, 7, 6.0));
    assert_ne!(def, tree_structure(&Pair(a(1.0), 8, a(2.0))));

    let (leaves, def) = Marker.tree_flatten();
    assert!(leaves.is_empty());
    assert_eq!(def.to_string(), "PyTreeDef(CustomNode(Marker[()], []))");
    assert_eq!(Marker::tree_unflatten(&def, vec![]), Marker);
    let t = (Marker, a(1.0), vec![Marker]);
    assert_eq!(tree_leaves(&t).len(), 1);
}

#[test]
fn generic_structs() {
    let g = Generic {
        items: vec![(a(1.0), a(2.0)), (a(3.0), a(4.0))],
        key: Act::Relu,
        last: (a(5.0), a(6.0)),
    };
    let (leaves, def) = g.tree_flatten();
    assert_eq!(vals(&leaves), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(
        def.to_string(),
        "PyTreeDef(CustomNode(Generic[('items', 'key', 'last')], \
         [[(*, *), (*, *)], Static[Relu], (*, *)]))"
    );
    let back: Generic<(Array, Array), Act> = tree_unflatten(&def, leaves);
    assert_eq!(back.key, Act::Relu);
    assert_eq!(back.last.1.item::<f32>(), 6.0);
    let other = Generic {
        key: Act::Tanh,
        ..g.clone()
    };
    assert_ne!(tree_structure(&other), def);

    let w = WithWhere {
        inner: Box::new(a(1.0)),
        extra: BTreeMap::from([("z".to_string(), a(3.0)), ("y".to_string(), a(2.0))]),
    };
    let (leaves, def) = w.tree_flatten();
    assert_eq!(vals(&leaves), [1.0, 2.0, 3.0]);
    let back: WithWhere<Array> = tree_unflatten(&def, leaves);
    assert_eq!(back.extra["z"].item::<f32>(), 3.0);

    // S needs only the static bounds (a HashSet would not do; a Vec does).
    let o = OnlyStatic {
        x: a(1.0),
        s: vec![1u8, 2],
    };
    let back: OnlyStatic<Vec<u8>> = tree_unflatten(&tree_structure(&o), tree_leaves(&o));
    assert_eq!(back.s, vec![1, 2]);
}

#[test]
fn derived_structs_nest_in_containers() {
    let t = (
        vec![mlp("relu"), mlp("relu")],
        Some(Pair(a(9.0), 0, a(10.0))),
    );
    let (leaves, def) = t.tree_flatten();
    assert_eq!(
        vals(&leaves),
        [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 9.0, 10.0]
    );
    let back: (Vec<Mlp>, Option<Pair>) = tree_unflatten(&def, leaves);
    assert_eq!(back.1.unwrap().2.item::<f32>(), 10.0);
    let s = tree_map2(|x, y| x + y, &mlp("relu"), &mlp("relu"));
    assert_eq!(vals(&tree_leaves(&s)), [2.0, 4.0, 6.0, 8.0]);
}

#[test]
fn a_def_that_does_not_fit_is_a_clear_error() {
    let list_def = tree_structure(&vec![a(1.0), a(2.0)]);
    let (file, line) = (file!(), line!() + 1);
    let msg = panic_text(|| tree_unflatten::<Linear>(&list_def, vec![a(1.0), a(2.0)]));
    assert!(
        msg.contains("tree_unflatten: structure mismatch for"),
        "{msg}"
    );
    assert!(msg.contains("Linear"), "{msg}");
    assert!(
        msg.contains("expected the struct Linear with fields ('w', 'b')"),
        "{msg}"
    );
    assert!(msg.contains("found PyTreeDef([*, *])"), "{msg}");
    assert!(msg.contains(&format!("{file}:{line}")), "{msg}");

    // A struct def with another struct's name.
    let pair_def = tree_structure(&Pair(a(1.0), 1, a(2.0)));
    let msg = panic_text(|| tree_unflatten::<Linear>(&pair_def, vec![a(1.0), a(2.0)]));
    assert!(
        msg.contains("found PyTreeDef(CustomNode(Pair[('0', '1', '2')], [*, Static[1], *]))"),
        "{msg}"
    );

    // A static field whose stored value has another type.
    let bad = jaxon::tree::TreeDef::record(
        "Pair",
        &["0", "1", "2"],
        vec![
            TreeDef::leaf(),
            TreeDef::static_value(1u64),
            TreeDef::leaf(),
        ],
    );
    let msg = panic_text(|| tree_unflatten::<Pair>(&bad, vec![a(1.0), a(2.0)]));
    assert!(
        msg.contains("expected a static i32, found PyTreeDef(Static[1])"),
        "{msg}"
    );
}
