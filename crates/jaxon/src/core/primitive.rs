//! The primitive abstraction: every array operation is a primitive applied with
//! `bind`. A primitive is a value (its params are its fields); its rules live
//! together in one file under `prim/`.
//!
//! Rules of a primitive:
//! * `abstract_eval`: the shape/dtype rule (required),
//! * `lower`: to oxla HLO (required),
//! * `jvp`, `transpose`, `batch`: the transformation rules. They arrive with the
//!   transformations issue; a primitive without one reports an error naming itself and
//!   the transformation, never a silent zero.

use super::aval::Aval;
use oxla::{Builder, Value};
use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};

/// What lowering one primitive application needs.
pub struct LowerCtx<'a> {
    pub b: &'a mut Builder,
    pub in_avals: &'a [Aval],
    pub out_avals: &'a [Aval],
}

/// An operation on arrays with its rules.
pub trait Primitive: Send + Sync + fmt::Debug + DynKey + 'static {
    /// The name printed in jaxprs (`add`, `reduce_sum`, ...).
    fn name(&self) -> &'static str;

    /// Parameters as (key, value text) for jaxpr printing; printed sorted by key.
    fn params(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Output avals for inputs with these avals, or a message saying what is wrong
    /// (the message is shown with the operation's name and the caller's line).
    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String>;

    /// Emits oxla HLO computing the outputs from the inputs.
    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value>;
}

/// Equality and hashing for `dyn Primitive` (the eager cache key), derived from
/// `PartialEq + Eq + Hash` of the concrete primitive type.
pub trait DynKey {
    fn as_any(&self) -> &dyn Any;
    fn dyn_eq(&self, other: &dyn Any) -> bool;
    fn dyn_hash(&self, state: &mut dyn Hasher);
}

impl<T: Eq + Hash + 'static> DynKey for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn dyn_eq(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<T>().is_some_and(|o| o == self)
    }

    fn dyn_hash(&self, mut state: &mut dyn Hasher) {
        std::any::TypeId::of::<T>().hash(&mut state);
        self.hash(&mut state);
    }
}

/// Formats a list the way jaxpr params print tuples: `(0, 1)`, `(0,)`, `()`.
pub fn tuple_text<T: fmt::Display>(items: &[T]) -> String {
    match items {
        [] => "()".to_string(),
        [x] => format!("({x},)"),
        _ => {
            let parts: Vec<String> = items.iter().map(|x| x.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}
