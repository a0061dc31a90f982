//! Reverse-mode differentiation, JAX's way: `linearize` = JVP + partial evaluation
//! (the primal computation runs now, the tangent computation is recorded as a linear
//! jaxpr); `vjp` = linearize + transpose; `grad` = vjp with cotangent 1.

use super::jvp::{has_tangent, JvpTrace};
use super::rules::{add_tangents, instantiate, zeros_like};
use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::jaxpr::{Atom, ClosedJaxpr, JaxprRecorder};
use crate::core::primitive::LinArg;
use crate::core::trace::{bind_at, current_trace, set_current_trace};
use crate::error::fail;
use std::collections::{HashMap, HashSet};
use std::panic::Location;

/// A linear function recorded by [`linearize_flat`]: tangents in, tangents out.
#[derive(Clone)]
pub struct LinearFn {
    /// The linear jaxpr; its invars are the tangents of the differentiable inputs.
    pub jaxpr: ClosedJaxpr,
    /// For each original input, whether it has a tangent (floats do).
    pub has_tangent: Vec<bool>,
    pub in_avals: Vec<Aval>,
    pub out_avals: Vec<Aval>,
}

/// Evaluates `f` at `primals` and records its linearization.
pub fn linearize_flat(
    f: impl FnOnce(&[Array]) -> Vec<Array>,
    primals: &[Array],
) -> (Vec<Array>, LinearFn) {
    let rec = JaxprRecorder::partial(current_trace());
    let jvp = JvpTrace::new(rec.trace());
    let has_t: Vec<bool> = primals.iter().map(|p| has_tangent(&p.aval())).collect();
    let inputs: Vec<Array> = primals
        .iter()
        .zip(&has_t)
        .map(|(p, &h)| {
            let t = if h {
                Some(rec.new_input(p.aval().strong()))
            } else {
                None
            };
            jvp.pack(p.clone(), t)
        })
        .collect();
    let outs = {
        let _guard = set_current_trace(jvp.clone());
        f(&inputs)
    };
    let (primal_outs, tangent_outs): (Vec<Array>, Vec<Option<Array>>) =
        outs.iter().map(|o| jvp.unpack(o)).unzip();
    // Zero output tangents become explicit zeros so the jaxpr has one output each.
    let tangent_outs: Vec<Array> = {
        let _guard = set_current_trace(rec.trace());
        tangent_outs
            .iter()
            .zip(&primal_outs)
            .map(|(t, p)| instantiate(t, &p.aval().strong()))
            .collect()
    };
    let jaxpr = rec.finish(&tangent_outs);
    let lin = LinearFn {
        jaxpr,
        has_tangent: has_t,
        in_avals: primals.iter().map(|p| p.aval()).collect(),
        out_avals: primal_outs.iter().map(|p| p.aval()).collect(),
    };
    (primal_outs, lin)
}

/// Transposes a linear jaxpr: input cotangents (`None` = zero) from output ones.
pub fn backward_pass(lin: &ClosedJaxpr, cts_out: &[Option<Array>]) -> Vec<Option<Array>> {
    let jaxpr = &lin.jaxpr;
    // Which variables depend on the linear inputs.
    let mut linear: HashSet<usize> = jaxpr.invars.iter().map(|v| v.id).collect();
    let mut consts: HashMap<usize, Array> = HashMap::new();
    for (v, c) in jaxpr.constvars.iter().zip(&lin.consts) {
        consts.insert(v.id, c.clone());
    }
    let mut linear_eqns = Vec::new();
    for eqn in &jaxpr.eqns {
        let is_lin = eqn
            .inputs
            .iter()
            .any(|a| matches!(a, Atom::Var(v) if linear.contains(&v.id)));
        if is_lin {
            linear.extend(eqn.outputs.iter().map(|v| v.id));
            linear_eqns.push(eqn);
        } else if eqn.outputs.is_empty() {
            // An effect without values (a debug callback): it ran in the forward
            // pass; the backward pass must not repeat it (JAX prints once).
            continue;
        } else {
            // A non-linear equation (on constants only): evaluate it forward.
            let args: Vec<Array> = eqn
                .inputs
                .iter()
                .map(|a| match a {
                    Atom::Var(v) => consts[&v.id].clone(),
                    Atom::Literal(x) => x.clone(),
                })
                .collect();
            for (v, o) in eqn
                .outputs
                .iter()
                .zip(bind_at(eqn.prim.clone(), &args, eqn.loc))
            {
                consts.insert(v.id, o);
            }
        }
    }
    let mut ct_env: HashMap<usize, Array> = HashMap::new();
    let accumulate = |env: &mut HashMap<usize, Array>, id: usize, ct: Array| {
        let prev = env.remove(&id);
        let sum = add_tangents(prev, Some(ct)).expect("a cotangent");
        env.insert(id, sum);
    };
    for (atom, ct) in jaxpr.outvars.iter().zip(cts_out) {
        if let (Atom::Var(v), Some(ct)) = (atom, ct) {
            if linear.contains(&v.id) {
                accumulate(&mut ct_env, v.id, ct.clone());
            }
        }
    }
    for eqn in linear_eqns.iter().rev() {
        let cts: Vec<Option<Array>> = eqn.outputs.iter().map(|v| ct_env.remove(&v.id)).collect();
        if cts.iter().all(Option::is_none) {
            continue;
        }
        let args: Vec<LinArg> = eqn
            .inputs
            .iter()
            .map(|a| match a {
                Atom::Var(v) if linear.contains(&v.id) => LinArg::Linear(v.aval.clone()),
                Atom::Var(v) => LinArg::Const(consts[&v.id].clone()),
                Atom::Literal(x) => LinArg::Const(x.clone()),
            })
            .collect();
        let cts_in = match eqn.prim.transpose(&cts, &args) {
            Ok(c) => c,
            Err(msg) => fail(format!("{}: {msg}", eqn.prim.name()), eqn.loc),
        };
        for (atom, ct) in eqn.inputs.iter().zip(cts_in) {
            if let (Atom::Var(v), Some(ct)) = (atom, ct) {
                if linear.contains(&v.id) {
                    accumulate(&mut ct_env, v.id, ct);
                }
            }
        }
    }
    jaxpr.invars.iter().map(|v| ct_env.remove(&v.id)).collect()
}

impl LinearFn {
    /// Cotangents of the inputs for output cotangents `cts` (one per output).
    /// Inputs without tangents (integers, bools) get zeros.
    #[track_caller]
    pub fn transpose(&self, cts: &[Array]) -> Vec<Array> {
        let loc = Location::caller();
        if cts.len() != self.out_avals.len() {
            fail(
                format!(
                    "vjp: {} cotangents for {} outputs",
                    cts.len(),
                    self.out_avals.len()
                ),
                loc,
            );
        }
        for (c, a) in cts.iter().zip(&self.out_avals) {
            if c.shape() != a.shape.as_slice() || c.dtype() != a.dtype {
                fail(
                    format!("vjp: cotangent {} does not match output {}", c.aval(), a),
                    loc,
                );
            }
        }
        let cts: Vec<Option<Array>> = cts.iter().map(|c| Some(c.clone())).collect();
        let mut in_cts = backward_pass(&self.jaxpr, &cts).into_iter();
        self.in_avals
            .iter()
            .zip(&self.has_tangent)
            .map(|(aval, &h)| {
                let ct = if h { in_cts.next().flatten() } else { None };
                instantiate(&ct, &aval.strong())
            })
            .collect()
    }
}

/// `(outputs, pullback)`: the pullback maps output cotangents to input cotangents.
pub fn vjp_flat(
    f: impl FnOnce(&[Array]) -> Vec<Array>,
    primals: &[Array],
) -> (Vec<Array>, LinearFn) {
    linearize_flat(f, primals)
}

/// The value and the gradient of a scalar-output function with respect to all inputs.
#[track_caller]
pub fn value_and_grad_flat(
    f: impl FnOnce(&[Array]) -> Vec<Array>,
    primals: &[Array],
) -> (Array, Vec<Array>) {
    value_and_grad_at(f, primals, Location::caller())
}

/// [`value_and_grad_flat`] reporting errors at `loc`.
pub fn value_and_grad_at(
    f: impl FnOnce(&[Array]) -> Vec<Array>,
    primals: &[Array],
    loc: &'static Location<'static>,
) -> (Array, Vec<Array>) {
    for p in primals {
        if !p.dtype().is_float() {
            fail(
                format!(
                    "grad requires real- or complex-valued inputs (input dtype that is a sub-dtype of \
                     np.inexact), but got {} (convert with .astype(DType::F32))",
                    p.aval()
                ),
                loc,
            );
        }
    }
    let (outs, lin) = vjp_flat(f, primals);
    if outs.len() != 1 || outs[0].ndim() != 0 || !outs[0].dtype().is_float() {
        let avals: Vec<String> = outs.iter().map(|o| o.aval().to_string()).collect();
        fail(
            format!(
                "grad requires a function with one real scalar output, got ({}); use vjp or jacrev for others",
                avals.join(", ")
            ),
            loc,
        );
    }
    let one = crate::lax::full_like_scalar(&outs[0], 1.0);
    let grads = lin.transpose(&[one]);
    (outs[0].clone(), grads)
}

/// Zero cotangents for every input (helper for rules).
pub fn zero_cotangents(args: &[LinArg]) -> Vec<Option<Array>> {
    args.iter().map(|_| None).collect()
}

/// Zeros like each array.
pub fn zeros_for(xs: &[Array]) -> Vec<Array> {
    xs.iter().map(zeros_like).collect()
}
