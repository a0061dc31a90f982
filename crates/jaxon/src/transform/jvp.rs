//! Forward-mode differentiation: the JVP trace carries (primal, tangent) pairs,
//! with `None` as a symbolic zero tangent.

use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::Primitive;
use crate::core::trace::{
    bind_at, current_trace, fresh_trace_id, set_current_trace, Trace, TraceId, Tracer,
};
use crate::error::fail;
use std::any::Any;
use std::panic::Location;
use std::sync::{Arc, Weak};

/// The JVP trace.
pub struct JvpTrace {
    id: TraceId,
    me: Weak<JvpTrace>,
    parent: Arc<dyn Trace>,
}

struct JvpPayload {
    primal: Array,
    tangent: Option<Array>,
}

impl JvpTrace {
    /// A JVP trace whose rules run on `parent`.
    pub fn new(parent: Arc<dyn Trace>) -> Arc<JvpTrace> {
        Arc::new_cyclic(|me| JvpTrace {
            id: fresh_trace_id(),
            me: me.clone(),
            parent,
        })
    }

    /// A value of this trace: `primal` with `tangent` (no tracer when the tangent
    /// is a symbolic zero).
    pub fn pack(&self, primal: Array, tangent: Option<Array>) -> Array {
        match tangent {
            None => primal,
            Some(t) => {
                let me = self.me.upgrade().expect("jvp trace alive");
                Array::from_tracer(Tracer {
                    trace: me,
                    aval: primal.aval(),
                    payload: Arc::new(JvpPayload {
                        primal,
                        tangent: Some(t),
                    }),
                })
            }
        }
    }

    /// Splits a value into (primal, tangent) from this trace's point of view.
    pub fn unpack(&self, x: &Array) -> (Array, Option<Array>) {
        if let Some(t) = x.as_tracer() {
            if t.trace.id() == self.id {
                let p = t.payload::<JvpPayload>().expect("jvp payload");
                return (p.primal.clone(), p.tangent.clone());
            }
        }
        (x.clone(), None)
    }
}

impl Trace for JvpTrace {
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
        let (primals, tangents): (Vec<Array>, Vec<Option<Array>>) =
            args.iter().map(|a| self.unpack(a)).unzip();
        let _guard = set_current_trace(self.parent.clone());
        if tangents.iter().all(Option::is_none) {
            return bind_at(prim, &primals, loc);
        }
        let (outs, out_tangents) = match prim.jvp(&primals, &tangents) {
            Ok(r) => r,
            Err(msg) => fail(format!("{}: {msg}", prim.name()), loc),
        };
        drop(_guard);
        outs.into_iter()
            .zip(out_tangents)
            .map(|(p, t)| self.pack(p, t))
            .collect()
    }

    fn kind(&self) -> &'static str {
        "jvp"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The tangent dtype for a primal: floats have tangents, other dtypes none.
pub fn has_tangent(a: &Aval) -> bool {
    a.dtype.is_float()
}

/// Runs `f` on (primals, tangents) and returns (outputs, output tangents); zero
/// tangents are materialised.
#[track_caller]
pub fn jvp_flat(
    f: impl FnOnce(&[Array]) -> Vec<Array>,
    primals: &[Array],
    tangents: &[Array],
) -> (Vec<Array>, Vec<Array>) {
    let loc = Location::caller();
    if primals.len() != tangents.len() {
        fail(
            format!(
                "jvp: {} primals but {} tangents",
                primals.len(),
                tangents.len()
            ),
            loc,
        );
    }
    for (p, t) in primals.iter().zip(tangents) {
        if p.shape() != t.shape() || p.dtype() != t.dtype() {
            fail(
                format!(
                    "jvp: primal and tangent must have the same shape and dtype, got {} and {}",
                    p.aval(),
                    t.aval()
                ),
                loc,
            );
        }
    }
    let trace = JvpTrace::new(current_trace());
    let inputs: Vec<Array> = primals
        .iter()
        .zip(tangents)
        .map(|(p, t)| {
            let t = if has_tangent(&p.aval()) {
                Some(t.clone())
            } else {
                None
            };
            trace.pack(p.clone(), t)
        })
        .collect();
    let outs = {
        let _guard = set_current_trace(trace.clone());
        f(&inputs)
    };
    outs.iter()
        .map(|o| {
            let (p, t) = trace.unpack(o);
            let t = t.unwrap_or_else(|| super::rules::zeros_like(&p));
            (p, t)
        })
        .unzip()
}
