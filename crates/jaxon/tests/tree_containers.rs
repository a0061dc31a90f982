//! Pytrees over the standard containers: round trips, JAX leaf order, TreeDef equality,
//! hashing and printing, the tree_util functions and their error messages.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};

use jaxon::numpy as jnp;
use jaxon::prelude::*;
use jaxon::tree::{tree_transpose_flat, NodeKind};
use jaxon::{
    tree_flatten, tree_leaves, tree_map, tree_map2, tree_reduce, tree_structure, tree_transpose,
    tree_unflatten,
};

/// A 0-d f32 array holding `v`; leaves are told apart by value.
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

/// Runs `f`, expects a panic, returns its message.
fn panic_text<R>(f: impl FnOnce() -> R) -> String {
    let Err(err) = catch_unwind(AssertUnwindSafe(f)) else {
        panic!("expected a panic")
    };
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Flattens, checks the leaf values and the printed def, unflattens, flattens again and
/// checks that the result is the same tree (same def, same leaves).
fn round_trip<T: Tree>(t: &T, want_leaves: &[f32], want_def: &str) -> T {
    let (leaves, def) = t.tree_flatten();
    assert_eq!(vals(&leaves), want_leaves);
    assert_eq!(def.to_string(), want_def);
    assert_eq!(def.num_leaves(), want_leaves.len());
    let back = T::tree_unflatten(&def, leaves);
    let (leaves2, def2) = back.tree_flatten();
    assert_eq!(def2, def);
    assert_eq!(vals(&leaves2), want_leaves);
    back
}

#[test]
fn leaves_and_units() {
    round_trip(&a(1.0), &[1.0], "PyTreeDef(*)");
    round_trip(&(), &[], "PyTreeDef(())");
    round_trip(&(a(1.0),), &[1.0], "PyTreeDef((*,))");
    round_trip(&(a(1.0), a(2.0)), &[1.0, 2.0], "PyTreeDef((*, *))");
}

#[test]
fn tuples_up_to_twelve() {
    let t = (
        a(0.0),
        a(1.0),
        a(2.0),
        a(3.0),
        a(4.0),
        a(5.0),
        a(6.0),
        a(7.0),
        a(8.0),
        a(9.0),
        a(10.0),
        (a(11.0), a(12.0)),
    );
    let want: Vec<f32> = (0..13).map(|i| i as f32).collect();
    let back = round_trip(
        &t,
        &want,
        "PyTreeDef((*, *, *, *, *, *, *, *, *, *, *, (*, *)))",
    );
    assert_eq!(back.11 .1.item::<f32>(), 12.0);
    let t5 = (a(1.0), (), a(2.0), vec![a(3.0)], [a(4.0)]);
    round_trip(
        &t5,
        &[1.0, 2.0, 3.0, 4.0],
        "PyTreeDef((*, (), *, [*], [*]))",
    );
}

#[test]
fn vecs_arrays_boxes() {
    let v = vec![a(1.0), a(2.0), a(3.0)];
    round_trip(&v, &[1.0, 2.0, 3.0], "PyTreeDef([*, *, *])");
    round_trip(&Vec::<Array>::new(), &[], "PyTreeDef([])");
    let arr = [vec![a(1.0)], vec![], vec![a(2.0), a(3.0)]];
    round_trip(&arr, &[1.0, 2.0, 3.0], "PyTreeDef([[*], [], [*, *]])");
    // Box is transparent, like a reference in Python.
    let b = Box::new((a(1.0), Box::new(a(2.0))));
    round_trip(&b, &[1.0, 2.0], "PyTreeDef((*, *))");
    // Vec and [T; N] are both JAX lists.
    assert_eq!(
        tree_structure(&[a(1.0), a(2.0)]),
        tree_structure(&vec![a(1.0), a(2.0)])
    );
}

#[test]
fn options_are_none_nodes() {
    // JAX: tree_leaves([None, 1, None]) == [1]; [None, 1] prints PyTreeDef([None, *]).
    let t = vec![None, Some(a(1.0)), None];
    let back = round_trip(&t, &[1.0], "PyTreeDef([None, *, None])");
    assert!(back[0].is_none() && back[2].is_none());
    round_trip(&None::<Array>, &[], "PyTreeDef(None)");
    // Some(x) is x, as in JAX ...
    assert_eq!(tree_structure(&Some(a(1.0))), tree_structure(&a(1.0)));
    // ... except where that would lose information (an Option of an Option).
    let nested: Vec<Option<Option<Array>>> = vec![Some(None), None, Some(Some(a(1.0)))];
    let back = round_trip(&nested, &[1.0], "PyTreeDef([Some(None), None, *])");
    assert!(matches!(back[0], Some(None)));
    assert!(back[1].is_none());
    assert!(matches!(back[2], Some(Some(_))));
    let deep: Option<Option<Option<Array>>> = Some(Some(None));
    let back = round_trip(&deep, &[], "PyTreeDef(Some(Some(None)))");
    assert!(matches!(back, Some(Some(None))));
}

#[test]
fn maps_flatten_by_sorted_key() {
    // JAX: tree_leaves({'b': [1], 'a': [2, None], 'c': [3]}) == [2, 1, 3].
    let mut m: HashMap<String, Vec<Option<Array>>> = HashMap::new();
    m.insert("b".into(), vec![Some(a(1.0))]);
    m.insert("a".into(), vec![Some(a(2.0)), None]);
    m.insert("c".into(), vec![Some(a(3.0))]);
    let want = "PyTreeDef({'a': [*, None], 'b': [*], 'c': [*]})";
    let back = round_trip(&m, &[2.0, 1.0, 3.0], want);
    assert_eq!(back["b"][0].as_ref().unwrap().item::<f32>(), 1.0);
    let bm: BTreeMap<String, Vec<Option<Array>>> = m.into_iter().collect();
    let back = round_trip(&bm, &[2.0, 1.0, 3.0], want);
    assert_eq!(back.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
    round_trip(&BTreeMap::<String, Array>::new(), &[], "PyTreeDef({})");
    // Keys are part of the structure.
    let k1 = BTreeMap::from([("x".to_string(), a(1.0))]);
    let k2 = BTreeMap::from([("y".to_string(), a(1.0))]);
    assert_ne!(tree_structure(&k1), tree_structure(&k2));
    // HashMap and BTreeMap with the same keys have the same structure.
    let h1: HashMap<String, Array> = k1.clone().into_iter().collect();
    assert_eq!(tree_structure(&h1), tree_structure(&k1));
}

#[test]
fn static_values_are_part_of_the_structure() {
    let t = (a(1.0), Static(3usize), Static("relu".to_string()));
    let back = round_trip(&t, &[1.0], "PyTreeDef((*, Static[3], Static[\"relu\"]))");
    assert_eq!(*back.1, 3);
    assert_eq!(back.2.as_str(), "relu");
    let same = tree_structure(&(a(5.0), Static(3usize), Static("relu".to_string())));
    let other = tree_structure(&(a(1.0), Static(4usize), Static("relu".to_string())));
    let other_type = tree_structure(&(a(1.0), Static(3u32), Static("relu".to_string())));
    let def = tree_structure(&t);
    assert_eq!(def, same);
    assert_eq!(hash_of(&def), hash_of(&same));
    assert_ne!(def, other);
    assert_ne!(hash_of(&def), hash_of(&other));
    assert_ne!(def, other_type, "values of different types differ");
    match def.children()[1].kind() {
        NodeKind::Static(v) => assert_eq!(v.downcast_ref::<usize>(), Some(&3)),
        k => panic!("expected a static node, got {k:?}"),
    }
    let mut s = Static(vec![1, 2]);
    s.push(3);
    assert_eq!(s.len(), 3);
}

#[test]
fn treedef_equality_hash_and_accessors() {
    // JAX: tree_structure((1, 2)) != tree_structure([1, 2]).
    let tup = tree_structure(&(a(1.0), a(2.0)));
    let list = tree_structure(&vec![a(1.0), a(2.0)]);
    assert_ne!(tup, list);
    // Leaf values do not matter.
    let tup2 = tree_structure(&(jnp::zeros(&[3, 4], DType::F64), a(9.0)));
    assert_eq!(tup, tup2);
    assert_eq!(hash_of(&tup), hash_of(&tup2));
    let nested = tree_structure(&(a(1.0), vec![a(2.0), a(3.0)], None::<Array>));
    assert_eq!(nested.num_leaves(), 3);
    assert_eq!(nested.num_nodes(), 6);
    assert_eq!(nested.children().len(), 3);
    assert_eq!(nested.children()[1], list);
    assert_eq!(*nested.kind(), NodeKind::Tuple);
    assert!(nested.children()[0].is_leaf());
    assert_eq!(format!("{nested:?}"), nested.to_string());
    let v: (Array, Vec<Array>, Option<Array>) = nested.unflatten(vec![a(7.0), a(8.0), a(9.0)]);
    assert_eq!(v.1[1].item::<f32>(), 9.0);
}

#[test]
fn free_functions_round_trip() {
    let t = (vec![a(1.0), a(2.0)], a(3.0));
    let (leaves, def) = tree_flatten(&t);
    assert_eq!(vals(&leaves), [1.0, 2.0, 3.0]);
    assert_eq!(vals(&tree_leaves(&t)), [1.0, 2.0, 3.0]);
    assert_eq!(tree_structure(&t), def);
    let back: (Vec<Array>, Array) = tree_unflatten(&def, leaves);
    assert_eq!(back.1.item::<f32>(), 3.0);
}

#[test]
fn tree_map_keeps_structure_and_statics() {
    let t = (
        vec![a(1.0), a(2.0)],
        Static(7i64),
        Some(a(3.0)),
        None::<Array>,
    );
    let u = tree_map(|x| x * 10.0 + 1.0, &t);
    assert_eq!(tree_structure(&u), tree_structure(&t));
    assert_eq!(vals(&tree_leaves(&u)), [11.0, 21.0, 31.0]);
    assert_eq!(*u.1, 7);
    // Leaves are visited in order.
    let mut seen = Vec::new();
    tree_map(
        |x| {
            seen.push(x.item::<f32>());
            x.clone()
        },
        &t,
    );
    assert_eq!(seen, [1.0, 2.0, 3.0]);
}

#[test]
fn tree_map2_combines_matching_trees() {
    let p = BTreeMap::from([("w".to_string(), a(1.0)), ("b".to_string(), a(2.0))]);
    let g = BTreeMap::from([("b".to_string(), a(0.5)), ("w".to_string(), a(4.0))]);
    let q = tree_map2(|x, y| x - y * 0.5, &p, &g);
    assert_eq!(q["w"].item::<f32>(), 1.0 - 2.0);
    assert_eq!(q["b"].item::<f32>(), 2.0 - 0.25);
    // Different container types with the same structure combine.
    let r = tree_map2(|x, y| x + y, &vec![a(1.0)], &[a(2.0)]);
    assert_eq!(r[0].item::<f32>(), 3.0);
}

#[test]
fn tree_map2_mismatch_names_both_structures() {
    let (file, line) = (file!(), line!() + 1);
    let msg = panic_text(|| tree_map2(|x, y| x + y, &(a(1.0), a(2.0)), &vec![a(1.0), a(2.0)]));
    assert!(msg.contains("tree_map2"), "{msg}");
    assert!(
        msg.contains("PyTreeDef((*, *)) vs PyTreeDef([*, *])"),
        "{msg}"
    );
    assert!(msg.contains(&format!("{file}:{line}")), "{msg}");
    let msg =
        panic_text(|| tree_map2(|x, _| x.clone(), &(a(1.0), Static(1)), &(a(1.0), Static(2))));
    assert!(
        msg.contains("Static[1]") && msg.contains("Static[2]"),
        "{msg}"
    );
}

#[test]
fn tree_reduce_folds_in_order() {
    let t = (
        a(1.0),
        vec![a(2.0), a(3.0)],
        BTreeMap::from([("k".to_string(), a(4.0))]),
    );
    let order = tree_reduce(
        |mut acc: Vec<f32>, x: &Array| {
            acc.push(x.item::<f32>());
            acc
        },
        &t,
        Vec::new(),
    );
    assert_eq!(order, [1.0, 2.0, 3.0, 4.0]);
    let total = tree_reduce(|acc, x| acc + x, &t, a(0.0));
    assert_eq!(total.item::<f32>(), 10.0);
    assert_eq!(tree_reduce(|n, _| n + 1, &(), 0), 0);
}

#[test]
fn tree_transpose_swaps_outer_and_inner() {
    // JAX: tree_transpose(structure([0, 0]), structure((0, 0)), [(1, 2), (3, 4)]) == ([1, 3], [2, 4]).
    let rows = vec![(a(1.0), a(2.0)), (a(3.0), a(4.0))];
    let outer = TreeDef::list(vec![TreeDef::leaf(); 2]);
    let inner = TreeDef::tuple(vec![TreeDef::leaf(); 2]);
    let (xs, ys): (Vec<Array>, Vec<Array>) = tree_transpose(&outer, &inner, &rows);
    assert_eq!(vals(&xs), [1.0, 3.0]);
    assert_eq!(vals(&ys), [2.0, 4.0]);
    // Back again.
    let again: Vec<(Array, Array)> = tree_transpose(&inner, &outer, &(xs, ys));
    assert_eq!(vals(&tree_leaves(&again)), [1.0, 2.0, 3.0, 4.0]);
    // A dict of lists of 3 -> a list of 3 dicts.
    let d = BTreeMap::from([
        ("a".to_string(), vec![a(1.0), a(2.0), a(3.0)]),
        ("b".to_string(), vec![a(4.0), a(5.0), a(6.0)]),
    ]);
    let outer = tree_structure(&BTreeMap::from([
        ("a".to_string(), a(0.0)),
        ("b".to_string(), a(0.0)),
    ]));
    let inner = TreeDef::list(vec![TreeDef::leaf(); 3]);
    let per: Vec<BTreeMap<String, Array>> = tree_transpose(&outer, &inner, &d);
    assert_eq!(per.len(), 3);
    assert_eq!(per[2]["a"].item::<f32>(), 3.0);
    assert_eq!(per[1]["b"].item::<f32>(), 5.0);
    let (flat, def) = tree_transpose_flat(&outer, &inner, tree_leaves(&d));
    assert_eq!(vals(&flat), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert_eq!(
        def.to_string(),
        "PyTreeDef([{'a': *, 'b': *}, {'a': *, 'b': *}, {'a': *, 'b': *}])"
    );
}

#[test]
fn tree_transpose_mismatch_is_an_error() {
    let outer = TreeDef::list(vec![TreeDef::leaf(); 3]);
    let inner = TreeDef::tuple(vec![TreeDef::leaf(); 2]);
    let rows = vec![(a(1.0), a(2.0)), (a(3.0), a(4.0))];
    let (file, line) = (file!(), line!() + 1);
    let msg = panic_text(|| tree_transpose::<_, (Vec<Array>, Vec<Array>)>(&outer, &inner, &rows));
    assert!(msg.contains("tree_transpose"), "{msg}");
    assert!(msg.contains("PyTreeDef([(*, *), (*, *)])"), "{msg}");
    assert!(msg.contains("PyTreeDef([(*, *), (*, *), (*, *)])"), "{msg}");
    assert!(msg.contains(&format!("{file}:{line}")), "{msg}");
    let msg = panic_text(|| tree_transpose_flat(&outer, &inner, vec![a(1.0)]));
    assert!(msg.contains("1 leaves do not fit"), "{msg}");
}

#[test]
fn unflatten_errors_name_expected_and_found() {
    let list_def = tree_structure(&vec![a(1.0), a(2.0)]);
    let (file, line) = (file!(), line!() + 1);
    let msg = panic_text(|| tree_unflatten::<(Array, Array)>(&list_def, vec![a(1.0), a(2.0)]));
    assert!(msg.contains("tree_unflatten: structure mismatch"), "{msg}");
    assert!(msg.contains("expected a tuple of 2 children"), "{msg}");
    assert!(msg.contains("found PyTreeDef([*, *])"), "{msg}");
    assert!(msg.contains(&format!("{file}:{line}")), "{msg}");

    let msg = panic_text(|| tree_unflatten::<[Array; 3]>(&list_def, vec![a(1.0), a(2.0)]));
    assert!(
        msg.contains("expected a list of 3 children, found PyTreeDef([*, *])"),
        "{msg}"
    );

    let msg = panic_text(|| tree_unflatten::<Vec<Array>>(&list_def, vec![a(1.0)]));
    assert!(
        msg.contains("PyTreeDef([*, *]) has 2 leaves but 1 leaves were given"),
        "{msg}"
    );
    let msg = panic_text(|| tree_unflatten::<Vec<Array>>(&list_def, vec![a(1.0); 3]));
    assert!(
        msg.contains("has 2 leaves but 3 leaves were given"),
        "{msg}"
    );

    let dict_def = tree_structure(&BTreeMap::from([("a".to_string(), a(1.0))]));
    let msg = panic_text(|| tree_unflatten::<Vec<Array>>(&dict_def, vec![a(1.0)]));
    assert!(
        msg.contains("expected a list [...], found PyTreeDef({'a': *})"),
        "{msg}"
    );
    let msg = panic_text(|| tree_unflatten::<BTreeMap<String, Array>>(&list_def, vec![a(1.0); 2]));
    assert!(
        msg.contains("expected a dict {...}, found PyTreeDef([*, *])"),
        "{msg}"
    );

    let st = tree_structure(&Static(1u8));
    let msg = panic_text(|| tree_unflatten::<Static<u16>>(&st, vec![]));
    assert!(
        msg.contains("expected a static u16, found PyTreeDef(Static[1])"),
        "{msg}"
    );
    let msg = panic_text(|| tree_unflatten::<Array>(&st, vec![]));
    assert!(
        msg.contains("expected a leaf *, found PyTreeDef(Static[1])"),
        "{msg}"
    );
    let msg = panic_text(|| tree_unflatten::<()>(&list_def, vec![a(1.0); 2]));
    assert!(msg.contains("expected the empty tuple ()"), "{msg}");

    // A hand-driven unflatten that runs out of leaves.
    let msg = panic_text(|| {
        <(Array, Array)>::unflatten(
            &tree_structure(&(a(1.0), a(1.0))),
            &mut std::iter::once(a(1.0)),
        )
    });
    assert!(msg.contains("ran out of leaves"), "{msg}");
}

#[test]
fn leaves_keep_arrays_intact() {
    let m = jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]);
    let i = jnp::array(&[1i32, 2, 3]);
    let t = (m.clone(), vec![i.clone()]);
    let back: (Array, Vec<Array>) = tree_unflatten(&tree_structure(&t), tree_leaves(&t));
    assert_eq!(back.0.shape(), &[2, 2]);
    assert_eq!(back.0.to_vec::<f32>(), m.to_vec::<f32>());
    assert_eq!(back.1[0].dtype(), DType::I32);
    assert_eq!(back.1[0].to_vec::<i32>(), vec![1, 2, 3]);
}

#[test]
fn flatten_up_to_applies_a_prefix() {
    let full = tree_structure(&(
        a(1.0),
        vec![a(2.0), a(3.0)],
        BTreeMap::from([("k".to_string(), (a(4.0), None::<Array>))]),
    ));
    // The tree itself is a prefix: one single-leaf subtree per leaf.
    let subs = full.flatten_up_to(&full);
    assert_eq!(subs.len(), 4);
    assert!(subs.iter().all(TreeDef::is_leaf));
    // A single leaf is a prefix of anything.
    assert_eq!(TreeDef::leaf().flatten_up_to(&full), vec![full.clone()]);
    let prefix = tree_structure(&(
        a(0.0),
        a(0.0),
        BTreeMap::from([("k".to_string(), (a(0.0), None::<Array>))]),
    ));
    let subs = prefix.flatten_up_to(&full);
    assert_eq!(
        subs.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        ["PyTreeDef(*)", "PyTreeDef([*, *])", "PyTreeDef(*)"]
    );
    // Not a prefix: a list where a tuple is, None where a leaf is.
    let (file, line) = (file!(), line!() + 1);
    let msg = panic_text(|| tree_structure(&[a(0.0), a(0.0), a(0.0)]).flatten_up_to(&full));
    assert!(msg.contains("is not a prefix of"), "{msg}");
    assert!(
        msg.contains(
            "expected PyTreeDef([*, *, *]), found PyTreeDef((*, [*, *], {'k': (*, None)}))"
        ),
        "{msg}"
    );
    assert!(msg.contains(&format!("{file}:{line}")), "{msg}");
    let msg = panic_text(|| tree_structure(&(None::<Array>, a(0.0), a(0.0))).flatten_up_to(&full));
    assert!(
        msg.contains("expected PyTreeDef(None), found PyTreeDef(*)"),
        "{msg}"
    );
}
