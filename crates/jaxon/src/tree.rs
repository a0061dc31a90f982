//! Pytrees: nested containers of [`Array`]s, flattened to a list of leaves plus a
//! [`TreeDef`] that records the structure, like `jax.tree_util`.
//!
//! Every transformation takes and returns pytrees: tuples, `Vec`s, arrays `[T; N]`,
//! `Option`s, `Box`es, string-keyed maps, [`Static`] values and structs with
//! `#[derive(Tree)]`. Leaves come out depth first, left to right: tuple and list elements
//! in order, map entries by sorted key (like dicts in JAX), struct fields in declaration
//! order. `None` is a node with no children, like JAX's `None`.
//!
//! ```
//! use jaxon::prelude::*;
//! use jaxon::numpy as jnp;
//! use jaxon::tree::{tree_leaves, tree_map, tree_structure};
//!
//! #[derive(Tree, Clone)]
//! struct Linear {
//!     w: Array,
//!     b: Option<Array>,
//!     #[tree(static)]
//!     activation: String,
//! }
//!
//! let layer = Linear { w: jnp::ones(&[2, 2], DType::F32), b: None, activation: "relu".into() };
//! assert_eq!(tree_leaves(&layer).len(), 1);
//! assert_eq!(
//!     tree_structure(&layer).to_string(),
//!     "PyTreeDef(CustomNode(Linear[('w', 'b', 'activation')], [*, None, Static[\"relu\"]]))"
//! );
//! let doubled = tree_map(|x| x * 2.0, &layer);
//! assert_eq!(doubled.w.to_vec::<f32>(), vec![2.0; 4]);
//! assert_eq!(doubled.activation, "relu");
//! ```
//!
//! Enums are not pytrees (the variant would have to live in the def); deriving is a
//! compile error, and so is an unknown `#[tree(...)]` attribute:
//!
//! ```compile_fail
//! use jaxon::prelude::*;
//! #[derive(Tree)]
//! enum Layer { Dense(Array), Identity }
//! ```
//!
//! ```compile_fail
//! use jaxon::prelude::*;
//! #[derive(Tree)]
//! struct S { #[tree(skip)] x: Array }
//! ```

use std::any::{type_name, Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::array::Array;
use crate::error::user_error;

/// A pytree: a value that flattens to a list of [`Array`] leaves and a [`TreeDef`], and is
/// rebuilt from them.
///
/// Implement it with `#[derive(Tree)]` for structs; hand-written implementations build
/// their def with the [`TreeDef`] constructors and check it with `expect_*` on unflatten.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let t = (jnp::array(1.0f32), vec![jnp::array(2.0f32), jnp::array(3.0f32)]);
/// let (leaves, def) = t.tree_flatten();
/// assert_eq!(def.to_string(), "PyTreeDef((*, [*, *]))");
/// let back = <(Array, Vec<Array>)>::tree_unflatten(&def, leaves);
/// assert_eq!(back.1[1].item::<f32>(), 3.0);
/// ```
pub trait Tree: Sized {
    /// Appends the leaves of `self` to `leaves` in JAX order and returns the structure.
    fn flatten(&self, leaves: &mut Vec<Array>) -> TreeDef;

    /// Rebuilds a value from `def`, taking leaves from `leaves` in order.
    ///
    /// Panics, naming the expected and the found structure, when `def` does not fit
    /// `Self` or the leaves run out.
    #[track_caller]
    fn unflatten(def: &TreeDef, leaves: &mut dyn Iterator<Item = Array>) -> Self;

    /// The leaves (in JAX order) and the structure of `self`.
    fn tree_flatten(&self) -> (Vec<Array>, TreeDef) {
        let mut leaves = Vec::new();
        let def = self.flatten(&mut leaves);
        (leaves, def)
    }

    /// Rebuilds a value from `def` and exactly `def.num_leaves()` leaves (panics otherwise).
    #[track_caller]
    fn tree_unflatten(def: &TreeDef, leaves: Vec<Array>) -> Self {
        if leaves.len() != def.num_leaves() {
            user_error(format!(
                "tree_unflatten: {def} has {} leaves but {} leaves were given",
                def.num_leaves(),
                leaves.len()
            ));
        }
        Self::unflatten(def, &mut leaves.into_iter())
    }
}

/// What a value must be to live in a [`TreeDef`] as a static (non-array) value.
pub trait StaticBound: Hash + Eq + Clone + fmt::Debug + Send + Sync + 'static {}
impl<T: Hash + Eq + Clone + fmt::Debug + Send + Sync + 'static> StaticBound for T {}

/// Object-safe equality and hashing for static values of any type.
trait DynStatic: fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn dyn_eq(&self, other: &dyn DynStatic) -> bool;
    fn dyn_hash(&self, state: &mut dyn Hasher);
}

impl<T: StaticBound> DynStatic for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn dyn_eq(&self, other: &dyn DynStatic) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
    fn dyn_hash(&self, mut state: &mut dyn Hasher) {
        TypeId::of::<T>().hash(&mut state);
        self.hash(&mut state);
    }
}

/// A static value stored in a [`TreeDef`]: compared and hashed by value (values of
/// different types are never equal).
#[derive(Clone)]
pub struct StaticValue(Arc<dyn DynStatic>);

impl StaticValue {
    /// Wraps `value`.
    pub fn new<T: StaticBound>(value: T) -> StaticValue {
        StaticValue(Arc::new(value))
    }

    /// The value, if it has type `T`.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        (*self.0).as_any().downcast_ref::<T>()
    }
}

impl PartialEq for StaticValue {
    fn eq(&self, other: &StaticValue) -> bool {
        (*self.0).dyn_eq(&*other.0)
    }
}

impl Eq for StaticValue {}

impl Hash for StaticValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (*self.0).dyn_hash(state)
    }
}

impl fmt::Debug for StaticValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// The kind of one node of a [`TreeDef`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// An [`Array`] leaf.
    Leaf,
    /// `Option::None`: no children (JAX's `None`).
    None,
    /// A tuple (`()` is the empty tuple).
    Tuple,
    /// A `Vec` or a Rust array `[T; N]` (JAX's list).
    List,
    /// A string-keyed map; the keys, sorted (JAX's dict).
    Dict(Vec<String>),
    /// A [`Static`] value or a `#[tree(static)]` field: no leaves, the value is the node.
    Static(StaticValue),
    /// A struct with `#[derive(Tree)]`: its name and field names (`"0"`, `"1"`, ... for
    /// tuple structs); one child per field.
    Record {
        /// The struct's name.
        name: &'static str,
        /// The field names in declaration order.
        fields: &'static [&'static str],
    },
    /// `Some(x)` where `x` itself flattens to `None` or `Some` (an `Option<Option<_>>`);
    /// any other `Some(x)` is just `x`, as in JAX.
    Some,
}

/// The structure of a pytree: node kinds, static values and arity, but not the leaf values.
///
/// It is `Eq + Hash` (it is part of the jit cache key). Tuples and lists differ, map keys
/// and static values count. Display prints JAX's form:
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// use std::collections::BTreeMap;
/// let x = jnp::array(1.0f32);
/// let m = BTreeMap::from([("a".to_string(), x.clone())]);
/// let def = jaxon::tree_structure(&(x.clone(), vec![x.clone(), x.clone()], m));
/// assert_eq!(def.to_string(), "PyTreeDef((*, [*, *], {'a': *}))");
/// assert_eq!(def.num_leaves(), 4);
/// assert_eq!(def.children().len(), 3);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TreeDef {
    kind: NodeKind,
    children: Vec<TreeDef>,
    num_leaves: usize,
}

impl TreeDef {
    fn node(kind: NodeKind, children: Vec<TreeDef>) -> TreeDef {
        let num_leaves = match kind {
            NodeKind::Leaf => 1,
            _ => children.iter().map(|c| c.num_leaves).sum(),
        };
        TreeDef {
            kind,
            children,
            num_leaves,
        }
    }

    /// A single leaf, `*`.
    pub fn leaf() -> TreeDef {
        TreeDef::node(NodeKind::Leaf, Vec::new())
    }

    /// `None`.
    pub fn none() -> TreeDef {
        TreeDef::node(NodeKind::None, Vec::new())
    }

    /// A tuple of `children`.
    pub fn tuple(children: Vec<TreeDef>) -> TreeDef {
        TreeDef::node(NodeKind::Tuple, children)
    }

    /// A list of `children`.
    pub fn list(children: Vec<TreeDef>) -> TreeDef {
        TreeDef::node(NodeKind::List, children)
    }

    /// A dict; the entries are sorted by key (panics on a repeated key).
    #[track_caller]
    pub fn dict(mut entries: Vec<(String, TreeDef)>) -> TreeDef {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            user_error(format!("TreeDef::dict: the key '{}' appears twice", w[0].0));
        }
        let (keys, children) = entries.into_iter().unzip();
        TreeDef::node(NodeKind::Dict(keys), children)
    }

    /// A static value: no leaves; `value` takes part in equality and hashing.
    pub fn static_value<T: StaticBound>(value: T) -> TreeDef {
        TreeDef::node(NodeKind::Static(StaticValue::new(value)), Vec::new())
    }

    /// A struct node (what `#[derive(Tree)]` emits): one child per field.
    #[track_caller]
    pub fn record(
        name: &'static str,
        fields: &'static [&'static str],
        children: Vec<TreeDef>,
    ) -> TreeDef {
        if fields.len() != children.len() {
            user_error(format!(
                "TreeDef::record: {name} has {} fields but {} children were given",
                fields.len(),
                children.len()
            ));
        }
        TreeDef::node(NodeKind::Record { name, fields }, children)
    }

    /// The `Some` wrapper node (see [`NodeKind::Some`]).
    pub fn some(child: TreeDef) -> TreeDef {
        TreeDef::node(NodeKind::Some, vec![child])
    }

    /// The kind of the root node.
    pub fn kind(&self) -> &NodeKind {
        &self.kind
    }

    /// The child structures of the root node (empty for leaves, `None` and statics).
    pub fn children(&self) -> &[TreeDef] {
        &self.children
    }

    /// The number of array leaves.
    pub fn num_leaves(&self) -> usize {
        self.num_leaves
    }

    /// The number of nodes, leaves included (JAX's `num_nodes`).
    pub fn num_nodes(&self) -> usize {
        1 + self.children.iter().map(TreeDef::num_nodes).sum::<usize>()
    }

    /// Whether this is a single leaf.
    pub fn is_leaf(&self) -> bool {
        self.kind == NodeKind::Leaf
    }

    /// Rebuilds a `T` from this structure and its leaves (JAX's `treedef.unflatten`).
    #[track_caller]
    pub fn unflatten<T: Tree>(&self, leaves: Vec<Array>) -> T {
        T::tree_unflatten(self, leaves)
    }

    /// This structure with every leaf replaced by `inner` (JAX's `treedef.compose`).
    ///
    /// ```
    /// use jaxon::tree::TreeDef;
    /// let outer = TreeDef::list(vec![TreeDef::leaf(), TreeDef::leaf()]);
    /// let inner = TreeDef::tuple(vec![TreeDef::leaf(), TreeDef::leaf()]);
    /// assert_eq!(outer.compose(&inner).to_string(), "PyTreeDef([(*, *), (*, *)])");
    /// ```
    pub fn compose(&self, inner: &TreeDef) -> TreeDef {
        if self.is_leaf() {
            return inner.clone();
        }
        let children = self.children.iter().map(|c| c.compose(inner)).collect();
        TreeDef::node(self.kind.clone(), children)
    }

    /// The subtrees of `full` at the leaves of `self`, in order (JAX's
    /// `treedef.flatten_up_to`, on structures): `self` must be a prefix of `full`, i.e. equal
    /// to it except that a leaf of `self` may stand for any subtree. This is how a prefix
    /// spec (vmap's `in_axes`) applies one entry to a whole subtree. Panics naming both
    /// structures when `self` is not a prefix of `full`.
    ///
    /// ```
    /// use jaxon::prelude::*;
    /// use jaxon::numpy as jnp;
    /// let x = jnp::array(1.0f32);
    /// let full = jaxon::tree_structure(&(x.clone(), vec![x.clone(), x.clone()]));
    /// let prefix = TreeDef::tuple(vec![TreeDef::leaf(), TreeDef::leaf()]);
    /// let subs = prefix.flatten_up_to(&full);
    /// assert_eq!(subs.iter().map(|d| d.num_leaves()).collect::<Vec<_>>(), [1, 2]);
    /// ```
    #[track_caller]
    pub fn flatten_up_to(&self, full: &TreeDef) -> Vec<TreeDef> {
        let mut out = Vec::with_capacity(self.num_leaves);
        if let Err(why) = self.up_to(full, &mut out) {
            user_error(format!(
                "flatten_up_to: {self} is not a prefix of {full}: {why}"
            ));
        }
        out
    }

    /// Collects the subtrees; the error says where the structures differ.
    fn up_to(&self, full: &TreeDef, out: &mut Vec<TreeDef>) -> Result<(), String> {
        if self.is_leaf() {
            out.push(full.clone());
            return Ok(());
        }
        if self.kind != full.kind || self.children.len() != full.children.len() {
            return Err(format!("expected {self}, found {full}"));
        }
        for (p, f) in self.children.iter().zip(&full.children) {
            p.up_to(f, out)?;
        }
        Ok(())
    }

    /// Checks that this is the struct node `name { fields }` and returns its children;
    /// panics naming the expected and found structure otherwise. Used by `#[derive(Tree)]`.
    #[track_caller]
    pub fn expect_record<T>(
        &self,
        name: &'static str,
        fields: &'static [&'static str],
    ) -> &[TreeDef] {
        match &self.kind {
            NodeKind::Record { name: n, fields: f } if *n == name && *f == fields => &self.children,
            _ => mismatch::<T>(
                &format!(
                    "the struct {name} with fields {}",
                    py_tuple_of_names(fields)
                ),
                self,
            ),
        }
    }

    /// Checks that this is a static node holding a `T` and returns a copy of the value;
    /// panics naming the expected and found structure otherwise.
    #[track_caller]
    pub fn expect_static<T: StaticBound>(&self) -> T {
        match &self.kind {
            NodeKind::Static(v) => match v.downcast_ref::<T>() {
                Some(x) => x.clone(),
                None => mismatch::<T>(&format!("a static {}", type_name::<T>()), self),
            },
            _ => mismatch::<T>(&format!("a static {}", type_name::<T>()), self),
        }
    }

    /// Checks that this is a node of `kind` (compared by variant only for dicts) and
    /// returns its children; panics naming expected and found structure otherwise.
    #[track_caller]
    fn expect_kind<T>(&self, kind: &NodeKind, what: &str) -> &[TreeDef] {
        let same = match (kind, &self.kind) {
            (NodeKind::Dict(_), NodeKind::Dict(_)) => true,
            (a, b) => a == b,
        };
        if !same {
            mismatch::<T>(what, self);
        }
        &self.children
    }
}

/// Panics: `def` does not fit the type `T`.
#[track_caller]
fn mismatch<T>(expected: &str, found: &TreeDef) -> ! {
    user_error(format!(
        "tree_unflatten: structure mismatch for {}: expected {expected}, found {found}",
        type_name::<T>()
    ))
}

fn py_tuple_of_names(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match quoted.len() {
        1 => format!("({},)", quoted[0]),
        _ => format!("({})", quoted.join(", ")),
    }
}

impl TreeDef {
    fn fmt_inner(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, cs: &[TreeDef]| -> fmt::Result {
            for (i, c) in cs.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                c.fmt_inner(f)?;
            }
            Ok(())
        };
        match &self.kind {
            NodeKind::Leaf => write!(f, "*"),
            NodeKind::None => write!(f, "None"),
            NodeKind::Tuple => {
                write!(f, "(")?;
                list(f, &self.children)?;
                let comma = if self.children.len() == 1 { "," } else { "" };
                write!(f, "{comma})")
            }
            NodeKind::List => {
                write!(f, "[")?;
                list(f, &self.children)?;
                write!(f, "]")
            }
            NodeKind::Dict(keys) => {
                write!(f, "{{")?;
                for (i, (k, c)) in keys.iter().zip(&self.children).enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "'{k}': ")?;
                    c.fmt_inner(f)?;
                }
                write!(f, "}}")
            }
            NodeKind::Static(v) => write!(f, "Static[{v:?}]"),
            NodeKind::Record { name, fields } => {
                write!(f, "CustomNode({name}[{}], [", py_tuple_of_names(fields))?;
                list(f, &self.children)?;
                write!(f, "])")
            }
            NodeKind::Some => {
                write!(f, "Some(")?;
                list(f, &self.children)?;
                write!(f, ")")
            }
        }
    }
}

impl fmt::Display for TreeDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PyTreeDef(")?;
        self.fmt_inner(f)?;
        write!(f, ")")
    }
}

impl fmt::Debug for TreeDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

// ---------------------------------------------------------------------------------------
// Implementations for the standard containers.

impl Tree for Array {
    fn flatten(&self, leaves: &mut Vec<Array>) -> TreeDef {
        leaves.push(self.clone());
        TreeDef::leaf()
    }

    #[track_caller]
    fn unflatten(def: &TreeDef, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        def.expect_kind::<Array>(&NodeKind::Leaf, "a leaf *");
        match leaves.next() {
            Some(x) => x,
            None => {
                user_error("tree_unflatten: ran out of leaves (fewer leaves than the TreeDef has)")
            }
        }
    }
}

impl Tree for () {
    fn flatten(&self, _leaves: &mut Vec<Array>) -> TreeDef {
        TreeDef::tuple(Vec::new())
    }

    #[track_caller]
    fn unflatten(def: &TreeDef, _leaves: &mut dyn Iterator<Item = Array>) -> Self {
        let cs = def.expect_kind::<()>(&NodeKind::Tuple, "the empty tuple ()");
        if !cs.is_empty() {
            mismatch::<()>("the empty tuple ()", def);
        }
    }
}

macro_rules! tuple_tree {
    ($n:expr; $($t:ident $i:tt),+) => {
        impl<$($t: Tree),+> Tree for ($($t,)+) {
            fn flatten(&self, leaves: &mut Vec<Array>) -> TreeDef {
                TreeDef::tuple(vec![$(self.$i.flatten(leaves)),+])
            }

            #[track_caller]
            fn unflatten(def: &TreeDef, leaves: &mut dyn Iterator<Item = Array>) -> Self {
                let what = concat!("a tuple of ", stringify!($n), " children");
                let cs = def.expect_kind::<Self>(&NodeKind::Tuple, what);
                if cs.len() != $n {
                    mismatch::<Self>(what, def);
                }
                ($($t::unflatten(&cs[$i], leaves),)+)
            }
        }
    };
}

tuple_tree!(1; A 0);
tuple_tree!(2; A 0, B 1);
tuple_tree!(3; A 0, B 1, C 2);
tuple_tree!(4; A 0, B 1, C 2, D 3);
tuple_tree!(5; A 0, B 1, C 2, D 3, E 4);
tuple_tree!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_tree!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_tree!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_tree!(9; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_tree!(10; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_tree!(11; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_tree!(12; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

impl<T: Tree> Tree for Vec<T> {
    fn flatten(&self, leaves: &mut Vec<Array>) -> TreeDef {
        TreeDef::list(self.iter().map(|x| x.flatten(leaves)).collect())
    }

    #[track_caller]
    fn unflatten(def: &TreeDef, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        let cs = def.expect_kind::<Self>(&NodeKind::List, "a list [...]");
        let mut out = Vec::with_capacity(cs.len());
        for c in cs {
            out.push(T::unflatten(c, leaves));
        }
        out
    }
}

impl<T: Tree, const N: usize> Tree for [T; N] {
    fn flatten(&self, leaves: &mut Vec<Array>) -> TreeDef {
        TreeDef::list(self.iter().map(|x| x.flatten(leaves)).collect())
    }

    #[track_caller]
    fn unflatten(def: &TreeDef, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        let what = format!("a list of {N} children");
        let cs = def.expect_kind::<Self>(&NodeKind::List, &what);
        if cs.len() != N {
            mismatch::<Self>(&what, def);
        }
        let mut items = Vec::with_capacity(N);
        for c in cs {
            items.push(T::unflatten(c, leaves));
        }
        match items.try_into() {
            Ok(a) => a,
            Err(_) => mismatch::<Self>(&what, def),
        }
    }
}

impl<T: Tree> Tree for Option<T> {
    fn flatten(&self, leaves: &mut Vec<Array>) -> TreeDef {
        match self {
            None => TreeDef::none(),
            Some(x) => {
                let d = x.flatten(leaves);
                // Only a nested Option needs the wrapper to round-trip.
                match d.kind {
                    NodeKind::None | NodeKind::Some => TreeDef::some(d),
                    _ => d,
                }
            }
        }
    }

    #[track_caller]
    fn unflatten(def: &TreeDef, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        match def.kind {
            NodeKind::None => None,
            NodeKind::Some => Some(T::unflatten(&def.children[0], leaves)),
            _ => Some(T::unflatten(def, leaves)),
        }
    }
}

impl<T: Tree> Tree for Box<T> {
    fn flatten(&self, leaves: &mut Vec<Array>) -> TreeDef {
        (**self).flatten(leaves)
    }

    #[track_caller]
    fn unflatten(def: &TreeDef, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        Box::new(T::unflatten(def, leaves))
    }
}

/// Flattens map entries in sorted key order.
fn flatten_sorted<'a, T: Tree + 'a>(
    mut entries: Vec<(&'a String, &'a T)>,
    leaves: &mut Vec<Array>,
) -> TreeDef {
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let (keys, children) = entries
        .into_iter()
        .map(|(k, v)| (k.clone(), v.flatten(leaves)))
        .unzip();
    TreeDef::node(NodeKind::Dict(keys), children)
}

/// The (key, value) pairs of a dict node, values rebuilt in key order.
#[track_caller]
fn unflatten_entries<M, T: Tree>(
    def: &TreeDef,
    leaves: &mut dyn Iterator<Item = Array>,
) -> Vec<(String, T)> {
    let cs = def.expect_kind::<M>(&NodeKind::Dict(Vec::new()), "a dict {...}");
    let NodeKind::Dict(keys) = &def.kind else {
        mismatch::<M>("a dict {...}", def)
    };
    let mut out = Vec::with_capacity(cs.len());
    for (k, c) in keys.iter().zip(cs) {
        out.push((k.clone(), T::unflatten(c, leaves)));
    }
    out
}

impl<T: Tree> Tree for BTreeMap<String, T> {
    fn flatten(&self, leaves: &mut Vec<Array>) -> TreeDef {
        flatten_sorted(self.iter().collect(), leaves)
    }

    #[track_caller]
    fn unflatten(def: &TreeDef, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        unflatten_entries::<Self, T>(def, leaves)
            .into_iter()
            .collect()
    }
}

impl<T: Tree, S: std::hash::BuildHasher + Default> Tree for HashMap<String, T, S> {
    fn flatten(&self, leaves: &mut Vec<Array>) -> TreeDef {
        flatten_sorted(self.iter().collect(), leaves)
    }

    #[track_caller]
    fn unflatten(def: &TreeDef, leaves: &mut dyn Iterator<Item = Array>) -> Self {
        unflatten_entries::<Self, T>(def, leaves)
            .into_iter()
            .collect()
    }
}

/// A non-array value that is part of the tree structure (JAX's static arguments): it has
/// no leaves, its value is stored in the [`TreeDef`] (so it is part of the jit cache key),
/// and unflatten restores it from there.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let a = (jnp::array(1.0f32), Static(3usize));
/// let b = (jnp::array(5.0f32), Static(4usize));
/// assert_eq!(jaxon::tree_leaves(&a).len(), 1);
/// assert_ne!(jaxon::tree_structure(&a), jaxon::tree_structure(&b));
/// let c = jaxon::tree_map(|x| x + 1.0, &a);
/// assert_eq!(*c.1, 3);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Static<T>(pub T);

impl<T> Deref for Static<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Static<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: StaticBound> Tree for Static<T> {
    fn flatten(&self, _leaves: &mut Vec<Array>) -> TreeDef {
        TreeDef::static_value(self.0.clone())
    }

    #[track_caller]
    fn unflatten(def: &TreeDef, _leaves: &mut dyn Iterator<Item = Array>) -> Self {
        Static(def.expect_static::<T>())
    }
}

// ---------------------------------------------------------------------------------------
// tree_util functions.

/// The leaves of `tree` in JAX order.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let leaves = jaxon::tree_leaves(&(jnp::array(1.0f32), None::<Array>, [jnp::array(2.0f32)]));
/// assert_eq!(leaves.len(), 2);
/// ```
pub fn tree_leaves<T: Tree>(tree: &T) -> Vec<Array> {
    tree.tree_flatten().0
}

/// The structure of `tree`.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let x = jnp::array(1.0f32);
/// assert_ne!(jaxon::tree_structure(&(x.clone(), x.clone())), jaxon::tree_structure(&vec![x.clone(), x]));
/// ```
pub fn tree_structure<T: Tree>(tree: &T) -> TreeDef {
    tree.tree_flatten().1
}

/// The leaves and the structure of `tree`.
pub fn tree_flatten<T: Tree>(tree: &T) -> (Vec<Array>, TreeDef) {
    tree.tree_flatten()
}

/// Rebuilds a `T` from `def` and exactly `def.num_leaves()` leaves.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let (leaves, def) = jaxon::tree_flatten(&vec![jnp::array(1.0f32), jnp::array(2.0f32)]);
/// let v: Vec<Array> = jaxon::tree_unflatten(&def, leaves);
/// assert_eq!(v[1].item::<f32>(), 2.0);
/// ```
#[track_caller]
pub fn tree_unflatten<T: Tree>(def: &TreeDef, leaves: Vec<Array>) -> T {
    T::tree_unflatten(def, leaves)
}

/// Applies `f` to every leaf, keeping the structure (and the static values).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let t = (jnp::array(1.0f32), vec![jnp::array(2.0f32)]);
/// let u = jaxon::tree_map(|x| x * 10.0, &t);
/// assert_eq!(u.1[0].item::<f32>(), 20.0);
/// ```
#[track_caller]
pub fn tree_map<T: Tree>(mut f: impl FnMut(&Array) -> Array, tree: &T) -> T {
    let (leaves, def) = tree.tree_flatten();
    T::tree_unflatten(&def, leaves.iter().map(&mut f).collect())
}

/// Applies `f` to corresponding leaves of `a` and `b`, which must have the same structure
/// (panics naming both structures otherwise); the result has the structure of `a`.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let a = (jnp::array(1.0f32), jnp::array(2.0f32));
/// let b = (jnp::array(10.0f32), jnp::array(20.0f32));
/// let s = jaxon::tree_map2(|x, y| x + y, &a, &b);
/// assert_eq!(s.1.item::<f32>(), 22.0);
/// ```
#[track_caller]
pub fn tree_map2<T: Tree, U: Tree>(mut f: impl FnMut(&Array, &Array) -> Array, a: &T, b: &U) -> T {
    let (la, da) = a.tree_flatten();
    let (lb, db) = b.tree_flatten();
    if da != db {
        user_error(format!(
            "tree_map2: the trees have different structures: {da} vs {db}"
        ));
    }
    let out = la.iter().zip(&lb).map(|(x, y)| f(x, y)).collect();
    T::tree_unflatten(&da, out)
}

/// Folds `f` over the leaves of `tree` in order, starting from `init`.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let t = vec![jnp::ones(&[2], DType::F32), jnp::ones(&[3], DType::F32)];
/// let n = jaxon::tree_reduce(|acc, x: &Array| acc + x.size(), &t, 0);
/// assert_eq!(n, 5);
/// ```
pub fn tree_reduce<T: Tree, A>(f: impl FnMut(A, &Array) -> A, tree: &T, init: A) -> A {
    tree.tree_flatten().0.iter().fold(init, f)
}

/// Transposes flattened leaves of an `outer`-of-`inner` tree (structure
/// `outer.compose(inner)`) into the leaves and structure of the `inner`-of-`outer` tree.
///
/// Panics when the number of leaves does not fit `outer.compose(inner)`.
#[track_caller]
pub fn tree_transpose_flat(
    outer: &TreeDef,
    inner: &TreeDef,
    leaves: Vec<Array>,
) -> (Vec<Array>, TreeDef) {
    let (no, ni) = (outer.num_leaves(), inner.num_leaves());
    if leaves.len() != no * ni {
        user_error(format!(
            "tree_transpose: {} leaves do not fit the outer structure {outer} ({no} leaves) \
             of inner structures {inner} ({ni} leaves each)",
            leaves.len()
        ));
    }
    let out = (0..ni)
        .flat_map(|j| (0..no).map(move |i| i * ni + j))
        .map(|k| leaves[k].clone())
        .collect();
    (out, inner.compose(outer))
}

/// Turns an `outer`-of-`inner` tree into an `inner`-of-`outer` tree, like
/// `jax.tree_util.tree_transpose`; for example a list of pairs into a pair of lists. The
/// structure of `tree` must be `outer.compose(inner)` (panics naming both otherwise).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// use jaxon::tree::TreeDef;
/// let a = |v: f32| jnp::array(v);
/// let rows = vec![(a(1.0), a(2.0)), (a(3.0), a(4.0))];
/// let outer = TreeDef::list(vec![TreeDef::leaf(); 2]);
/// let inner = TreeDef::tuple(vec![TreeDef::leaf(); 2]);
/// let (xs, ys): (Vec<Array>, Vec<Array>) = jaxon::tree_transpose(&outer, &inner, &rows);
/// assert_eq!(xs[1].item::<f32>(), 3.0);
/// assert_eq!(ys[0].item::<f32>(), 2.0);
/// ```
#[track_caller]
pub fn tree_transpose<T: Tree, U: Tree>(outer: &TreeDef, inner: &TreeDef, tree: &T) -> U {
    let (leaves, def) = tree.tree_flatten();
    let expected = outer.compose(inner);
    if def != expected {
        user_error(format!(
            "tree_transpose: the tree has structure {def}, but outer {outer} composed with \
             inner {inner} is {expected}"
        ));
    }
    let (out, out_def) = tree_transpose_flat(outer, inner, leaves);
    U::tree_unflatten(&out_def, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derive's `::jaxon::` paths resolve inside this crate too.
    #[derive(jaxon_macros::Tree)]
    struct Inside {
        x: Array,
        #[tree(static)]
        n: u8,
    }

    #[test]
    fn derive_works_inside_the_crate() {
        let t = Inside {
            x: Array::scalar_f64(1.0, oxla::DType::F32, false),
            n: 3,
        };
        let (leaves, def) = t.tree_flatten();
        let back = Inside::tree_unflatten(&def, leaves);
        assert_eq!((back.x.item::<f32>(), back.n), (1.0, 3));
    }
}
