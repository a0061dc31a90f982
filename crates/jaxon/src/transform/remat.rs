//! Rematerialization (`jax.checkpoint` / `jax.remat`): the primitive `checkpoint`
//! holds the traced function. Its linearization saves only the intermediate values
//! the [`Policy`] allows; the backward pass recomputes the others from the inputs.
//!
//! The JVP rule traces the JVP of the body and partially evaluates it (inputs known,
//! tangents unknown). It binds two `checkpoint`s: a forward one computing the outputs
//! and the saved residuals, and a tangent one that takes (inputs, saved residuals,
//! tangents) and *recomputes* the unsaved primal values it needs. Under `linearize`
//! the forward one runs now and the tangent one is recorded in the linear jaxpr; its
//! transpose is a `checkpoint` of the transposed body, whose non-linear part (the
//! recomputation) runs in the backward pass.

use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::jaxpr::{Atom, ClosedJaxpr, Eqn, Jaxpr, Var};
use crate::core::lower::lower_jaxpr_into;
use crate::core::primitive::{BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult};
use crate::core::trace::bind_at;
use crate::prim::control::SubJaxpr;
use crate::prim::custom::{batch_sub, is_eval_trace, jvp_eval, to_front, trace_primal, trace_sub};
use crate::transform::ad::backward_pass;
use crate::transform::jvp::has_tangent;
use crate::transform::rules::instantiate;
use crate::tree::Tree;
use oxla::Value;
use std::collections::HashSet;
use std::panic::Location;
use std::sync::Arc;

/// Which intermediate values the linearization of a checkpointed function may keep
/// for the backward pass (JAX's `jax.checkpoint_policies`). The function's inputs
/// are always available.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Save nothing: recompute every intermediate (JAX's default, `policy=None`).
    #[default]
    NothingSaveable,
    /// Save the results of matrix multiplications (`dot_general`), recompute the rest.
    DotsSaveable,
    /// Save everything (no recomputation).
    EverythingSaveable,
}

impl Policy {
    fn saveable(self, prim: &dyn Primitive) -> bool {
        match self {
            Policy::NothingSaveable => false,
            Policy::DotsSaveable => prim.name() == "dot_general",
            Policy::EverythingSaveable => true,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Policy::NothingSaveable => "None",
            Policy::DotsSaveable => "dots_saveable",
            Policy::EverythingSaveable => "everything_saveable",
        }
    }
}

/// `checkpoint[jaxpr differentiated policy prevent_cse]`: runs `jaxpr` on its
/// operands (its captured values first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    pub jaxpr: SubJaxpr,
    pub policy: Policy,
    pub prevent_cse: bool,
    /// Set on the checkpoints made by differentiation (forward, tangent, transpose).
    pub differentiated: bool,
}

fn py_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_string()
}

impl Checkpoint {
    fn derived(&self, jaxpr: Jaxpr) -> Checkpoint {
        Checkpoint {
            jaxpr: SubJaxpr(Arc::new(jaxpr)),
            differentiated: true,
            ..self.clone()
        }
    }
}

impl Primitive for Checkpoint {
    fn name(&self) -> &'static str {
        "checkpoint"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("differentiated", py_bool(self.differentiated)),
            ("jaxpr", self.jaxpr.to_string()),
            ("policy", self.policy.text().to_string()),
            ("prevent_cse", py_bool(self.prevent_cse)),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let want = self.jaxpr.in_avals();
        let ok = inputs.len() == want.len()
            && inputs
                .iter()
                .zip(&want)
                .all(|(a, b)| a.shape == b.shape && a.dtype == b.dtype);
        if !ok {
            let g: Vec<String> = inputs.iter().map(|a| a.to_string()).collect();
            let w: Vec<String> = want.iter().map(|a| a.to_string()).collect();
            return Err(format!(
                "operands ({}) do not match the jaxpr's inputs ({})",
                g.join(", "),
                w.join(", ")
            ));
        }
        Ok(self.jaxpr.out_avals())
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        lower_jaxpr_into(ctx.b, &self.jaxpr.0, &[], args)
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let loc = Location::caller();
        let nz: Vec<bool> = tangents.iter().map(Option::is_some).collect();
        let ts: Vec<Array> = tangents.iter().flatten().cloned().collect();
        let in_avals = self.jaxpr.in_avals();
        let out_avals = self.jaxpr.out_avals();
        let want: Vec<bool> = out_avals.iter().map(has_tangent).collect();
        let n = in_avals.len();
        let mut avals = in_avals.clone();
        avals.extend(ts.iter().map(Array::aval));
        // The JVP of the body: (x, tx) -> (y, ty).
        let jj = trace_sub(&avals, |a| {
            let (p, t) = a.split_at(n);
            let (o, to) = jvp_eval(&self.jaxpr, p, &nz, t);
            let tangents_out: Vec<Array> = to
                .iter()
                .zip(&o)
                .zip(&want)
                .filter(|(_, &w)| w)
                .map(|((t, o), _)| instantiate(t, &o.aval().strong()))
                .collect();
            [o, tangents_out].concat()
        });
        let n_known = jj.consts.len() + n;
        let policy = self.policy;
        let (fwd, tan) = split_known(&jj.jaxpr.0, n_known, out_avals.len(), |_, e| {
            policy.saveable(&*e.prim)
        });
        let mut known = jj.consts;
        known.extend_from_slice(primals);
        let mut fouts = bind_at(Arc::new(self.derived(fwd)), &known, loc);
        let saved = fouts.split_off(out_avals.len());
        let mut tan_args = known;
        tan_args.extend(saved);
        tan_args.extend(ts);
        let mut touts = bind_at(Arc::new(self.derived(tan)), &tan_args, loc).into_iter();
        let tangents_out = want
            .iter()
            .map(|&w| if w { touts.next() } else { None })
            .collect();
        Ok((fouts, tangents_out))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let loc = Location::caller();
        let lin: Vec<bool> = args.iter().map(LinArg::is_linear).collect();
        let res: Vec<Array> = args
            .iter()
            .filter(|a| !a.is_linear())
            .map(|a| a.value().cloned())
            .collect::<Result<_, _>>()?;
        let ct_vals: Vec<Array> = cts
            .iter()
            .zip(self.jaxpr.out_avals())
            .map(|(c, a)| instantiate(c, &a.strong()))
            .collect();
        let mut avals: Vec<Aval> = res.iter().map(Array::aval).collect();
        avals.extend(ct_vals.iter().map(Array::aval));
        let t = trace_sub(&avals, |a| {
            let (r, c) = a.split_at(res.len());
            let c: Vec<Option<Array>> = c.iter().cloned().map(Some).collect();
            transpose_eval(&self.jaxpr, &lin, r, &c)
        });
        let mut operands = t.consts;
        operands.extend(res);
        operands.extend(ct_vals);
        let prim = self.derived((*t.jaxpr.0).clone());
        let mut outs = bind_at(Arc::new(prim), &operands, loc).into_iter();
        Ok(lin
            .iter()
            .map(|&l| if l { outs.next() } else { None })
            .collect())
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let loc = Location::caller();
        let ops: Vec<Array> = args
            .iter()
            .zip(dims)
            .map(|(a, d)| to_front(a, *d))
            .collect();
        let bat: Vec<bool> = dims.iter().map(Option::is_some).collect();
        let nout = self.jaxpr.out_avals().len();
        let (t, ob) = batch_sub(&self.jaxpr, &bat, size, &vec![false; nout]);
        let prim = Checkpoint {
            jaxpr: t.jaxpr,
            ..self.clone()
        };
        let mut operands = t.consts;
        operands.extend(ops);
        let outs = bind_at(Arc::new(prim), &operands, loc);
        Ok((outs, ob.iter().map(|&b| b.then_some(0)).collect()))
    }
}

fn var_ids(atoms: &[Atom]) -> impl Iterator<Item = usize> + '_ {
    atoms.iter().filter_map(|a| match a {
        Atom::Var(v) => Some(v.id),
        Atom::Literal(_) => None,
    })
}

/// Partial evaluation of a JVP jaxpr `(known invars, tangent invars) -> (primal
/// outs, tangent outs)` with the first `n_known` invars known. Returns
/// * the forward jaxpr: known invars -> (primal outs, saved residuals),
/// * the tangent jaxpr: (known invars, saved residuals, tangent invars) -> tangent
///   outs, which recomputes every known value it needs whose equation (by index)
///   `saveable` rejects.
pub(crate) fn split_known(
    j: &Jaxpr,
    n_known: usize,
    n_primal: usize,
    saveable: impl Fn(usize, &Eqn) -> bool,
) -> (Jaxpr, Jaxpr) {
    let mut unknown: HashSet<usize> = j.invars[n_known..].iter().map(|v| v.id).collect();
    let is_unknown: Vec<bool> = j
        .eqns
        .iter()
        .map(|e| {
            let u = var_ids(&e.inputs).any(|id| unknown.contains(&id));
            if u {
                unknown.extend(e.outputs.iter().map(|v| v.id));
            }
            u
        })
        .collect();
    // Known values the tangent computation reads.
    let mut needed: HashSet<usize> = var_ids(&j.outvars[n_primal..])
        .filter(|id| !unknown.contains(id))
        .collect();
    for (e, _) in j.eqns.iter().zip(&is_unknown).filter(|(_, &u)| u) {
        needed.extend(var_ids(&e.inputs).filter(|id| !unknown.contains(id)));
    }
    // Walk back: saveable producers become residuals, the others are recomputed.
    let mut saved: Vec<Var> = Vec::new();
    let mut recompute = vec![false; j.eqns.len()];
    for (i, e) in j.eqns.iter().enumerate().rev() {
        if is_unknown[i] || !e.outputs.iter().any(|v| needed.contains(&v.id)) {
            continue;
        }
        if saveable(i, e) {
            saved.extend(e.outputs.iter().filter(|v| needed.contains(&v.id)).cloned());
        } else {
            recompute[i] = true;
            needed.extend(var_ids(&e.inputs));
        }
    }
    saved.reverse();
    let known_in = &j.invars[..n_known];
    let tan = Jaxpr {
        constvars: Vec::new(),
        invars: [known_in, &saved, &j.invars[n_known..]].concat(),
        eqns: j
            .eqns
            .iter()
            .enumerate()
            .filter(|(i, _)| is_unknown[*i] || recompute[*i])
            .map(|(_, e)| e.clone())
            .collect(),
        outvars: j.outvars[n_primal..].to_vec(),
    };
    // The forward jaxpr: what the primal outputs and the residuals need.
    let mut fwd_outs: Vec<Atom> = j.outvars[..n_primal].to_vec();
    fwd_outs.extend(saved.iter().cloned().map(Atom::Var));
    let mut live: HashSet<usize> = var_ids(&fwd_outs).collect();
    let mut keep = vec![false; j.eqns.len()];
    for (i, e) in j.eqns.iter().enumerate().rev() {
        // Effects (equations without outputs, e.g. debug prints) run forward, once.
        let effect = e.outputs.is_empty();
        if !is_unknown[i] && (effect || e.outputs.iter().any(|v| live.contains(&v.id))) {
            keep[i] = true;
            live.extend(var_ids(&e.inputs));
        }
    }
    let fwd = Jaxpr {
        constvars: Vec::new(),
        invars: known_in.to_vec(),
        eqns: j
            .eqns
            .iter()
            .enumerate()
            .filter(|(i, _)| keep[*i])
            .map(|(_, e)| e.clone())
            .collect(),
        outvars: fwd_outs,
    };
    (fwd, tan)
}

/// Cotangents of the linear invars of `j` (`lin`), instantiated, for output
/// cotangents `cts`; `res` are the values of the other invars, in order. The
/// non-linear equations (the recomputation) are evaluated forward first.
fn transpose_eval(j: &SubJaxpr, lin: &[bool], res: &[Array], cts: &[Option<Array>]) -> Vec<Array> {
    let mut jj = (*j.0).clone();
    let invars = std::mem::take(&mut jj.invars);
    let (lin_vars, res_vars): (Vec<Var>, Vec<Var>) = {
        let mut l = Vec::new();
        let mut r = Vec::new();
        for (v, &is_lin) in invars.into_iter().zip(lin) {
            if is_lin {
                l.push(v);
            } else {
                r.push(v);
            }
        }
        (l, r)
    };
    jj.constvars = res_vars;
    jj.invars = lin_vars.clone();
    let closed = ClosedJaxpr {
        jaxpr: jj,
        consts: res.to_vec(),
    };
    backward_pass(&closed, cts)
        .iter()
        .zip(&lin_vars)
        .map(|(c, v)| instantiate(c, &v.aval.strong()))
        .collect()
}

/// `f` rematerialized in differentiation, saving nothing (like `jax.checkpoint(f)`):
/// values are the same; the backward pass of `grad` recomputes `f`'s intermediates
/// from its inputs instead of storing them.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let f = checkpoint(|x: Array| x.sin().sin());
/// let g = grad(move |x: Array| f(x).sum(None));
/// let x = jnp::array(&[0.5f32]);
/// let want = 0.5f32.sin().cos() * 0.5f32.cos();
/// assert!((g(x.clone()).to_vec::<f32>()[0] - want).abs() < 1e-6);
/// // The gradient's jaxpr computes `sin` again in the backward part.
/// let text = make_jaxpr(grad(|x: Array| checkpoint(|x: Array| x.sin().sin())(x).sum(None)))(x).to_string();
/// assert_eq!(text.matches(" sin ").count(), 3);
/// ```
#[track_caller]
pub fn checkpoint<A: Tree, B: Tree>(f: impl Fn(A) -> B) -> impl Fn(A) -> B {
    checkpoint_with(f, Policy::NothingSaveable)
}

/// Alias of [`checkpoint`] (`jax.remat`).
#[track_caller]
pub fn remat<A: Tree, B: Tree>(f: impl Fn(A) -> B) -> impl Fn(A) -> B {
    checkpoint_with(f, Policy::NothingSaveable)
}

/// [`checkpoint`] with a saving policy.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let f = checkpoint_with(|(w, x): (Array, Array)| jnp::matmul(&w, &x).tanh(), Policy::DotsSaveable);
/// let g = grad(move |w: Array| f((w, jnp::ones(&[2], DType::F32))).sum(None));
/// assert_eq!(g(jnp::zeros(&[2, 2], DType::F32)).to_vec::<f32>(), vec![1.0; 4]);
/// ```
#[track_caller]
pub fn checkpoint_with<A: Tree, B: Tree>(f: impl Fn(A) -> B, policy: Policy) -> impl Fn(A) -> B {
    let loc = Location::caller();
    move |a: A| {
        if is_eval_trace() {
            return f(a);
        }
        let (leaves, def) = a.tree_flatten();
        let (traced, out_def) = trace_primal(&f, &def, &leaves);
        let prim = Checkpoint {
            jaxpr: traced.jaxpr,
            policy,
            prevent_cse: true,
            differentiated: false,
        };
        let mut operands = traced.consts;
        operands.extend(leaves);
        B::tree_unflatten(&out_def, bind_at(Arc::new(prim), &operands, loc))
    }
}
