//! The primitive abstraction: every array operation is a primitive applied with
//! `bind`. A primitive is a value (its params are its fields); its rules live
//! together in one file under `prim/`.
//!
//! Rules of a primitive:
//! * `abstract_eval`: the shape/dtype rule (required),
//! * `lower`: to oxla HLO (required),
//! * `jvp`, `transpose` (linear primitives only), `batch`: the transformation rules.
//!   A primitive without one reports an error naming itself and the transformation,
//!   never a silent zero.

use super::aval::Aval;
use crate::array::Array;
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

    /// Forward-mode rule: the outputs and their tangents for `primals` with
    /// `tangents` (`None` is a symbolic zero). Written with traceable operations, so
    /// derivatives of any order follow.
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let _ = (primals, tangents);
        Err(no_rule(self.name(), "jvp (forward-mode differentiation)"))
    }

    /// Transpose rule of a linear primitive: cotangents of the inputs given the
    /// output cotangents (`None` = zero). `args` say which inputs are the linear ones.
    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let _ = (cts, args);
        Err(no_rule(
            self.name(),
            "transpose (reverse-mode differentiation)",
        ))
    }

    /// Batching rule: applies the primitive to `args` whose batch dimensions are
    /// `dims` (`None` = not batched; at least one is batched), all of size
    /// `axis_size`. Returns the outputs and their batch dimensions.
    fn batch(
        &self,
        args: &[Array],
        dims: &[Option<usize>],
        axis_size: usize,
    ) -> RuleResult<BatchOut> {
        let _ = (args, dims, axis_size);
        Err(no_rule(self.name(), "batching (vmap)"))
    }

    /// For host-side primitives (debug callbacks): applied eagerly to concrete
    /// `args`, runs on the host and returns the outputs instead of compiling the
    /// primitive alone. `None` (the default) compiles it like any other.
    fn eval_on_host(&self, args: &[Array]) -> Option<Vec<Array>> {
        let _ = args;
        None
    }

    /// For collectives (`psum`, `all_gather`, ...): the named axis they reduce over.
    fn axis_name(&self) -> Option<&str> {
        None
    }

    /// For collectives: the rule of the vmap whose axis name this collective names,
    /// turning the collective into an operation over the batch dimension.
    fn collective_batch(
        &self,
        args: &[Array],
        dims: &[Option<usize>],
        axis_size: usize,
    ) -> RuleResult<BatchOut> {
        let _ = (args, dims, axis_size);
        Err(no_rule(self.name(), "named-axis batching"))
    }
}

/// A rule's outcome: `Err` carries a message for the user.
pub type RuleResult<T> = Result<T, String>;

/// Primal outputs and their tangents (`None` = symbolic zero).
pub type JvpOut = (Vec<Array>, Vec<Option<Array>>);

/// Outputs and their batch dimensions.
pub type BatchOut = (Vec<Array>, Vec<Option<usize>>);

/// An input of a linear equation being transposed.
#[derive(Clone, Debug)]
pub enum LinArg {
    /// A linear input (its cotangent is wanted); its aval.
    Linear(Aval),
    /// A constant input with its value.
    Const(Array),
}

impl LinArg {
    pub fn aval(&self) -> Aval {
        match self {
            LinArg::Linear(a) => a.clone(),
            LinArg::Const(x) => x.aval(),
        }
    }

    pub fn is_linear(&self) -> bool {
        matches!(self, LinArg::Linear(_))
    }

    /// The value of a constant input; an error for a linear one.
    pub fn value(&self) -> RuleResult<&Array> {
        match self {
            LinArg::Const(x) => Ok(x),
            LinArg::Linear(a) => Err(format!("a nonlinear use of the linear value {a}")),
        }
    }
}

/// The message for a missing rule.
pub fn no_rule(prim: &str, transformation: &str) -> String {
    format!("primitive {prim} has no {transformation} rule")
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
