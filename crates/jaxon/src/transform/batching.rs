//! Vectorization (`vmap`): the batch trace carries (value, batch dimension) pairs and
//! applies each primitive's batching rule.

use super::rules::move_axis;
use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::Primitive;
use crate::core::trace::{
    bind_at, current_trace, fresh_trace_id, set_current_trace, Trace, TraceId, Tracer,
};
use crate::error::fail;
use crate::lax;
use std::any::Any;
use std::panic::Location;
use std::sync::{Arc, Weak};

/// The batch trace of one `vmap`.
pub struct BatchTrace {
    id: TraceId,
    me: Weak<BatchTrace>,
    parent: Arc<dyn Trace>,
    /// The size of the mapped axis.
    pub axis_size: usize,
    /// The axis name collectives refer to, if any.
    pub axis_name: Option<String>,
}

struct BatchPayload {
    value: Array,
    bdim: usize,
}

impl BatchTrace {
    pub fn new(
        parent: Arc<dyn Trace>,
        axis_size: usize,
        axis_name: Option<String>,
    ) -> Arc<BatchTrace> {
        Arc::new_cyclic(|me| BatchTrace {
            id: fresh_trace_id(),
            me: me.clone(),
            parent,
            axis_size,
            axis_name,
        })
    }

    /// A value of this trace (`None` batch dim: an unbatched value, no tracer).
    pub fn pack(&self, value: Array, bdim: Option<usize>) -> Array {
        match bdim {
            None => value,
            Some(bdim) => {
                let mut shape = value.shape().to_vec();
                debug_assert_eq!(shape[bdim], self.axis_size);
                shape.remove(bdim);
                let me = self.me.upgrade().expect("batch trace alive");
                Array::from_tracer(Tracer {
                    trace: me,
                    aval: value.aval().with_shape(shape),
                    payload: Arc::new(BatchPayload { value, bdim }),
                })
            }
        }
    }

    /// Splits a value into (full value, batch dim) from this trace's point of view.
    pub fn unpack(&self, x: &Array) -> (Array, Option<usize>) {
        if let Some(t) = x.as_tracer() {
            if t.trace.id() == self.id {
                let p = t.payload::<BatchPayload>().expect("batch payload");
                return (p.value.clone(), Some(p.bdim));
            }
        }
        (x.clone(), None)
    }
}

impl Trace for BatchTrace {
    fn id(&self) -> TraceId {
        self.id
    }

    fn process_primitive(
        &self,
        prim: Arc<dyn Primitive>,
        args: &[Array],
        _out_avals: Vec<Aval>,
        loc: &'static Location<'static>,
    ) -> Vec<Array> {
        let (vals, dims): (Vec<Array>, Vec<Option<usize>>) =
            args.iter().map(|a| self.unpack(a)).unzip();
        let _guard = set_current_trace(self.parent.clone());
        if prim.axis_name().is_some() && prim.axis_name() == self.axis_name.as_deref() {
            let (outs, out_dims) = match prim.collective_batch(&vals, &dims, self.axis_size) {
                Ok(r) => r,
                Err(msg) => fail(format!("{}: {msg}", prim.name()), loc),
            };
            drop(_guard);
            return outs
                .into_iter()
                .zip(out_dims)
                .map(|(v, d)| self.pack(v, d))
                .collect();
        }
        // A higher-order primitive whose body uses this trace's axis name is batched
        // even with unbatched operands: its collectives need this axis.
        let uses_axis = self
            .axis_name
            .as_deref()
            .is_some_and(|n| crate::prim::control::uses_axis_name(prim.as_ref(), n));
        if dims.iter().all(Option::is_none) && !uses_axis {
            return bind_at(prim, &vals, loc);
        }
        let result = {
            let _name = RuleAxisGuard::push(self.axis_name.clone());
            prim.batch(&vals, &dims, self.axis_size)
        };
        let (outs, out_dims) = match result {
            Ok(r) => r,
            Err(msg) => fail(format!("{}: {msg}", prim.name()), loc),
        };
        drop(_guard);
        outs.into_iter()
            .zip(out_dims)
            .map(|(v, d)| self.pack(v, d))
            .collect()
    }

    fn kind(&self) -> &'static str {
        "batch"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Maps `f` over axis `in_axes[i]` of each argument (`None`: not mapped) and stacks
/// the results along `out_axes[j]` (`None`: the output must not depend on the batch).
#[track_caller]
pub fn vmap_flat(
    f: impl FnOnce(&[Array]) -> Vec<Array>,
    args: &[Array],
    in_axes: &[Option<i64>],
    out_axes: &[Option<i64>],
    axis_name: Option<&str>,
) -> Vec<Array> {
    vmap_flat_with(f, args, in_axes, &|_| out_axes.to_vec(), axis_name)
}

/// [`vmap_flat`] with the output axes computed after `f` ran (from the number of
/// outputs), for callers that learn the output structure only then.
#[track_caller]
pub fn vmap_flat_with(
    f: impl FnOnce(&[Array]) -> Vec<Array>,
    args: &[Array],
    in_axes: &[Option<i64>],
    out_axes: &dyn Fn(usize) -> Vec<Option<i64>>,
    axis_name: Option<&str>,
) -> Vec<Array> {
    let loc = Location::caller();
    if in_axes.len() != args.len() {
        fail(
            format!(
                "vmap: {} in_axes for {} arguments",
                in_axes.len(),
                args.len()
            ),
            loc,
        );
    }
    let mut size: Option<usize> = None;
    let mut dims = Vec::with_capacity(args.len());
    for (i, (a, ax)) in args.iter().zip(in_axes).enumerate() {
        let d = ax.map(|ax| {
            let n = a.ndim() as i64;
            if ax < -n || ax >= n {
                fail(
                    format!(
                        "vmap: in_axes {ax} is out of bounds for argument {i} of shape {:?}",
                        a.shape()
                    ),
                    loc,
                );
            }
            (if ax < 0 { ax + n } else { ax }) as usize
        });
        if let Some(d) = d {
            let s = a.shape()[d];
            match size {
                None => size = Some(s),
                Some(prev) if prev != s => fail(
                    format!(
                        "vmap got inconsistent sizes for the mapped axis: argument {i} has size {s} \
                         along axis {d}, an earlier argument has size {prev}"
                    ),
                    loc,
                ),
                _ => {}
            }
        }
        dims.push(d);
    }
    let Some(size) = size else {
        fail("vmap must have at least one non-None value in in_axes", loc);
    };
    let trace = BatchTrace::new(current_trace(), size, axis_name.map(str::to_string));
    let _axis = axis_name.map(|n| AxisEnvGuard::push(n, size));
    let inputs: Vec<Array> = args
        .iter()
        .zip(&dims)
        .map(|(a, &d)| trace.pack(a.clone(), d))
        .collect();
    let outs = {
        let _guard = set_current_trace(trace.clone());
        f(&inputs)
    };
    let out_axes = out_axes(outs.len());
    if out_axes.len() != outs.len() && out_axes.len() != 1 {
        fail(
            format!(
                "vmap: {} out_axes for {} outputs",
                out_axes.len(),
                outs.len()
            ),
            loc,
        );
    }
    outs.iter()
        .enumerate()
        .map(|(j, o)| {
            let out_ax = if out_axes.len() == 1 {
                out_axes[0]
            } else {
                out_axes[j]
            };
            let (v, d) = trace.unpack(o);
            match (out_ax, d) {
                (None, None) => v,
                (None, Some(_)) => fail(
                    format!("vmap has mapped output {j} but out_axes is None for it"),
                    loc,
                ),
                (Some(ax), d) => {
                    let rank = v.ndim() + usize::from(d.is_none());
                    let n = rank as i64;
                    if ax < -n || ax >= n {
                        fail(
                            format!(
                                "vmap: out_axes {ax} out of bounds for output {j} of rank {rank}"
                            ),
                            loc,
                        );
                    }
                    let ax = (if ax < 0 { ax + n } else { ax }) as usize;
                    match d {
                        Some(d) => move_axis(&v, d, ax),
                        // An unbatched output is broadcast along the new axis, like JAX.
                        None => move_axis(&lax::broadcast(&v, &[size]), 0, ax),
                    }
                }
            }
        })
        .collect()
}

thread_local! {
    /// The axis names of the batch traces whose batching rules are running, innermost last.
    static RULE_AXIS: std::cell::RefCell<Vec<Option<String>>> = const { std::cell::RefCell::new(Vec::new()) };
    static AXIS_ENV: std::cell::RefCell<Vec<(String, usize)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The size of the innermost vmap axis called `name`, if one is active.
pub fn axis_size(name: &str) -> Option<usize> {
    AXIS_ENV.with(|e| {
        e.borrow()
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
    })
}

/// The names of the active vmap axes, innermost last.
pub fn axis_names() -> Vec<String> {
    AXIS_ENV.with(|e| e.borrow().iter().map(|(n, _)| n.clone()).collect())
}

/// Binds an axis name while a named vmap runs.
struct AxisEnvGuard;

impl AxisEnvGuard {
    fn push(name: &str, size: usize) -> AxisEnvGuard {
        AXIS_ENV.with(|e| e.borrow_mut().push((name.to_string(), size)));
        AxisEnvGuard
    }
}

impl Drop for AxisEnvGuard {
    fn drop(&mut self) {
        AXIS_ENV.with(|e| e.borrow_mut().pop());
    }
}

/// The axis name of the batch trace whose batching rule is running (the innermost
/// one; `None` outside batching rules or for an unnamed vmap). Higher-order
/// primitives batch their bodies with it, so collectives inside a `scan`, `cond` or
/// `while_loop` body refer to the enclosing `vmap_with(.., Some(name))`.
pub fn current_axis_name() -> Option<String> {
    RULE_AXIS.with(|r| r.borrow().last().cloned().flatten())
}

/// Records the axis name of a batch trace while its batching rule runs.
struct RuleAxisGuard;

impl RuleAxisGuard {
    fn push(name: Option<String>) -> RuleAxisGuard {
        RULE_AXIS.with(|r| r.borrow_mut().push(name));
        RuleAxisGuard
    }
}

impl Drop for RuleAxisGuard {
    fn drop(&mut self) {
        RULE_AXIS.with(|r| r.borrow_mut().pop());
    }
}
