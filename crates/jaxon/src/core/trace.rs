//! Traces and `bind`: the thread's current trace interprets every primitive.
//!
//! Like JAX's "stackless" core, a transformation installs its trace as the current
//! one while it runs user code; the trace unwraps only its own tracers (everything
//! else is a constant to it) and runs its rules with its parent as the current trace.
//! The bottom of every chain is the eval trace, which executes primitives eagerly.

use super::aval::Aval;
use super::eager;
use super::primitive::Primitive;
use crate::array::Array;
use crate::error::fail;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A unique identity for a trace.
pub type TraceId = u64;

/// A fresh trace identity.
pub fn fresh_trace_id() -> TraceId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An interpretation of primitives.
pub trait Trace: Send + Sync + Any {
    fn id(&self) -> TraceId;

    /// Applies `prim` to `args` (tracers of this trace or values from outside it).
    /// `out_avals` were already computed by the primitive's shape rule.
    fn process_primitive(
        &self,
        prim: Arc<dyn Primitive>,
        args: &[Array],
        out_avals: Vec<Aval>,
        loc: &'static Location<'static>,
    ) -> Vec<Array>;

    /// A short name for messages (`eval`, `jaxpr`, `jvp`, `batch`).
    fn kind(&self) -> &'static str;

    /// Lets a trace downcast tracer payloads and itself.
    fn as_any(&self) -> &dyn Any;
}

/// A value being traced: the trace it belongs to, its aval and trace-specific data.
#[derive(Clone)]
pub struct Tracer {
    pub trace: Arc<dyn Trace>,
    pub aval: Aval,
    pub payload: Arc<dyn Any + Send + Sync>,
}

impl Tracer {
    /// The payload as the concrete type a trace stored in it.
    pub fn payload<T: Any>(&self) -> Option<&T> {
        self.payload.downcast_ref::<T>()
    }
}

thread_local! {
    static CURRENT: RefCell<Arc<dyn Trace>> = RefCell::new(Arc::new(EvalTrace));
}

/// The thread's current trace.
pub fn current_trace() -> Arc<dyn Trace> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Restores the previous current trace when dropped.
pub struct TraceGuard {
    previous: Option<Arc<dyn Trace>>,
}

impl Drop for TraceGuard {
    fn drop(&mut self) {
        if let Some(prev) = self.previous.take() {
            CURRENT.with(|c| *c.borrow_mut() = prev);
        }
    }
}

/// Makes `trace` current until the guard is dropped.
pub fn set_current_trace(trace: Arc<dyn Trace>) -> TraceGuard {
    let previous = CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), trace));
    TraceGuard {
        previous: Some(previous),
    }
}

/// Applies a primitive to arguments through the current trace.
///
/// The primitive's shape rule runs first; a violation panics with the primitive's
/// name and the caller's source line.
#[track_caller]
pub fn bind(prim: impl Primitive, args: &[Array]) -> Vec<Array> {
    bind_arc(Arc::new(prim), args)
}

/// [`bind`] for a primitive already in an `Arc` (as stored in jaxpr equations).
#[track_caller]
pub fn bind_arc(prim: Arc<dyn Primitive>, args: &[Array]) -> Vec<Array> {
    bind_at(prim, args, Location::caller())
}

/// [`bind`] reporting errors at `loc` (a location recorded earlier, e.g. in a jaxpr
/// equation, so that errors raised while replaying point at the user's line).
pub fn bind_at(
    prim: Arc<dyn Primitive>,
    args: &[Array],
    loc: &'static Location<'static>,
) -> Vec<Array> {
    let _outer = OuterBind::enter(loc);
    let avals: Vec<Aval> = args.iter().map(|a| a.aval()).collect();
    let out_avals = match prim.abstract_eval(&avals) {
        Ok(out) => out,
        Err(msg) => fail(format!("{}: {msg}", prim.name()), loc),
    };
    current_trace().process_primitive(prim, args, out_avals, loc)
}

thread_local! {
    static OUTER_LOC: Cell<Option<&'static Location<'static>>> = const { Cell::new(None) };
}

/// Marks the outermost `bind` on this thread: the user's call, as opposed to the
/// binds that transformation rules make on its behalf.
struct OuterBind(bool);

impl OuterBind {
    fn enter(loc: &'static Location<'static>) -> OuterBind {
        OuterBind(OUTER_LOC.with(|c| c.get().is_none() && c.replace(Some(loc)).is_none()))
    }
}

impl Drop for OuterBind {
    fn drop(&mut self) {
        if self.0 {
            OUTER_LOC.with(|c| c.set(None));
        }
    }
}

/// The location of the outermost `bind` in progress on this thread (the user's line
/// for primitives that rules bind while transforming it).
pub fn user_location() -> Option<&'static Location<'static>> {
    OUTER_LOC.with(Cell::get)
}

/// [`bind`] for single-output primitives.
#[track_caller]
pub fn bind1(prim: impl Primitive, args: &[Array]) -> Array {
    let mut out = bind(prim, args);
    debug_assert_eq!(out.len(), 1);
    out.pop().expect("primitive with one output")
}

/// The eval trace: runs each primitive eagerly, compiled alone through oxla.
pub struct EvalTrace;

impl Trace for EvalTrace {
    fn id(&self) -> TraceId {
        0
    }

    fn process_primitive(
        &self,
        prim: Arc<dyn Primitive>,
        args: &[Array],
        out_avals: Vec<Aval>,
        loc: &'static Location<'static>,
    ) -> Vec<Array> {
        for a in args {
            if let Some(t) = a.as_tracer() {
                fail(
                    format!(
                        "{}: escaped tracer: a value traced by a {} trace was used outside \
                         that transformation (it is {}); return it from the transformed \
                         function instead of storing it",
                        prim.name(),
                        t.trace.kind(),
                        t.aval
                    ),
                    loc,
                );
            }
        }
        if let Some(outs) = prim.eval_on_host(args) {
            return outs;
        }
        let name = prim.name();
        let outs = eager::execute(prim, args, out_avals, loc);
        if crate::config::debug_nans_enabled() && crate::config::has_nan(&outs) {
            let at = user_location().unwrap_or(loc);
            fail(format!("invalid value (nan) encountered in {name}"), at);
        }
        outs
    }

    fn kind(&self) -> &'static str {
        "eval"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
