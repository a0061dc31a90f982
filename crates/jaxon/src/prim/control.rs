//! Control flow as higher-order primitives holding sub-jaxprs, like `jax.lax`:
//! `cond` (and `switch`), `while` (`while_loop`, `fori_loop` with dynamic bounds) and
//! `scan` (`scan`, `map`, `fori_loop` with static bounds).
//!
//! The user's functions are traced once into jaxprs. Values they capture from outside
//! (arrays, tracers of enclosing transformations) become explicit operands of the
//! primitive, so enclosing transformations see them. The primitives lower to oxla
//! `conditional` / `while` regions; scan is a `while` with a counter that slices the
//! xs and writes the ys with `dynamic_update_slice`.
//!
//! Differentiation: the JVP rule of each primitive binds the primal primitive and a
//! separate *tangent* primitive whose body is the JVP of the original body (it
//! recomputes the primal values it needs from the primal inputs, which are constants
//! or stacked xs of the tangent primitive). The tangent primitive is linear in its
//! tangent operands, so `linearize` records only it, and its transpose is built from
//! `backward_pass` on the body: a `cond` over transposed branches, a reverse `scan`
//! over the transposed body (carry cotangents flowing backwards, constant cotangents
//! accumulated in the carry). Reverse mode through `while` is an error, like in JAX.

use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::jaxpr::{eval_jaxpr, jaxpr_text, trace_to_jaxpr, Atom, ClosedJaxpr, Jaxpr, Var};
use crate::core::lower::lower_jaxpr_into;
use crate::core::primitive::{BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult};
use crate::core::trace::{bind_at, current_trace, set_current_trace};
use crate::error::fail;
use crate::lax;
use crate::transform::ad::backward_pass;
use crate::transform::batching::{current_axis_name, BatchTrace};
use crate::transform::jvp::{has_tangent, JvpTrace};
use crate::transform::remat::split_known;
use crate::transform::rules::{instantiate, move_axis, zeros_aval};
use crate::tree::{Tree, TreeDef};
use oxla::{BinaryOp, CmpDir, DType, Op, Shape, Value};
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::Location;
use std::sync::{Arc, Mutex};

// ---- sub-jaxprs ------------------------------------------------------------------------

/// A sub-jaxpr of a higher-order primitive. It has no constvars: what it captured is
/// passed as leading operands. Equality and hashing are structural (primitives with
/// their params, avals, literals, variable wiring), so the eager cache can key on it.
#[derive(Clone)]
pub struct SubJaxpr(pub Arc<Jaxpr>);

impl SubJaxpr {
    pub fn in_avals(&self) -> Vec<Aval> {
        self.0.invars.iter().map(|v| v.aval.clone()).collect()
    }

    pub fn out_avals(&self) -> Vec<Aval> {
        self.0.outvars.iter().map(Atom::aval).collect()
    }

    /// Evaluates the jaxpr with the current trace.
    pub fn call(&self, args: &[Array]) -> Vec<Array> {
        eval_jaxpr(&self.0, &[], args)
    }

    /// As a closed jaxpr (for printing and inspection).
    pub fn closed(&self) -> ClosedJaxpr {
        ClosedJaxpr {
            jaxpr: (*self.0).clone(),
            consts: Vec::new(),
        }
    }
}

impl fmt::Debug for SubJaxpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&jaxpr_text(&self.0))
    }
}

impl fmt::Display for SubJaxpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&jaxpr_text(&self.0))
    }
}

/// Numbers variables in order of definition, so equal structures compare equal.
fn canon(map: &mut HashMap<usize, usize>, v: &Var) -> usize {
    let n = map.len();
    *map.entry(v.id).or_insert(n)
}

fn literal_key(a: &Array) -> (Aval, Vec<u8>) {
    (a.aval(), a.to_literal().data().to_bytes())
}

impl Hash for SubJaxpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let j = &*self.0;
        let mut m = HashMap::new();
        (j.constvars.len(), j.invars.len(), j.eqns.len()).hash(state);
        for v in j.constvars.iter().chain(&j.invars) {
            canon(&mut m, v);
            v.aval.hash(state);
        }
        let atom = |m: &mut HashMap<usize, usize>, a: &Atom, state: &mut H| match a {
            Atom::Var(v) => (0u8, canon(m, v)).hash(state),
            Atom::Literal(x) => (1u8, literal_key(x)).hash(state),
        };
        for e in &j.eqns {
            e.prim.dyn_hash(state);
            e.inputs.len().hash(state);
            for a in &e.inputs {
                atom(&mut m, a, state);
            }
            for v in &e.outputs {
                canon(&mut m, v);
                v.aval.hash(state);
            }
        }
        for a in &j.outvars {
            atom(&mut m, a, state);
        }
    }
}

impl PartialEq for SubJaxpr {
    fn eq(&self, other: &SubJaxpr) -> bool {
        if Arc::ptr_eq(&self.0, &other.0) {
            return true;
        }
        let (a, b) = (&*self.0, &*other.0);
        if a.constvars.len() != b.constvars.len()
            || a.invars.len() != b.invars.len()
            || a.eqns.len() != b.eqns.len()
            || a.outvars.len() != b.outvars.len()
        {
            return false;
        }
        let (mut ma, mut mb) = (HashMap::new(), HashMap::new());
        let bind_vars = |ma: &mut HashMap<usize, usize>,
                         mb: &mut HashMap<usize, usize>,
                         x: &[Var],
                         y: &[Var]| {
            x.len() == y.len()
                && x.iter().zip(y).all(|(x, y)| {
                    canon(ma, x);
                    canon(mb, y);
                    x.aval == y.aval
                })
        };
        if !bind_vars(&mut ma, &mut mb, &a.constvars, &b.constvars)
            || !bind_vars(&mut ma, &mut mb, &a.invars, &b.invars)
        {
            return false;
        }
        let atom_eq = |ma: &HashMap<usize, usize>,
                       mb: &HashMap<usize, usize>,
                       x: &Atom,
                       y: &Atom| match (x, y) {
            (Atom::Var(x), Atom::Var(y)) => {
                ma.get(&x.id).is_some() && ma.get(&x.id) == mb.get(&y.id)
            }
            (Atom::Literal(x), Atom::Literal(y)) => literal_key(x) == literal_key(y),
            _ => false,
        };
        for (x, y) in a.eqns.iter().zip(&b.eqns) {
            if !x.prim.dyn_eq(y.prim.as_any())
                || x.inputs.len() != y.inputs.len()
                || !x
                    .inputs
                    .iter()
                    .zip(&y.inputs)
                    .all(|(p, q)| atom_eq(&ma, &mb, p, q))
                || !bind_vars(&mut ma, &mut mb, &x.outputs, &y.outputs)
            {
                return false;
            }
        }
        a.outvars
            .iter()
            .zip(&b.outvars)
            .all(|(p, q)| atom_eq(&ma, &mb, p, q))
    }
}

impl Eq for SubJaxpr {}

/// A traced sub-jaxpr with the values it captured (its leading operands).
pub(crate) struct Traced {
    pub jaxpr: SubJaxpr,
    pub consts: Vec<Array>,
}

/// Traces `f` on inputs of `avals`; captured values become leading invars.
pub(crate) fn trace_sub(avals: &[Aval], f: impl FnOnce(&[Array]) -> Vec<Array>) -> Traced {
    let closed = trace_to_jaxpr(avals, f);
    let mut j = closed.jaxpr;
    let mut invars = std::mem::take(&mut j.constvars);
    invars.append(&mut j.invars);
    j.invars = invars;
    Traced {
        jaxpr: SubJaxpr(Arc::new(j)),
        consts: closed.consts,
    }
}

/// A copy of `j` with unused invars of `avals` inserted at position `at`.
fn with_unused_invars(j: &Jaxpr, at: usize, avals: &[Aval]) -> Jaxpr {
    if avals.is_empty() {
        return j.clone();
    }
    let max_id = j
        .constvars
        .iter()
        .chain(&j.invars)
        .chain(j.eqns.iter().flat_map(|e| e.outputs.iter()))
        .map(|v| v.id)
        .max()
        .unwrap_or(0);
    let mut out = j.clone();
    let fresh: Vec<Var> = avals
        .iter()
        .enumerate()
        .map(|(i, a)| Var {
            id: max_id + 1 + i,
            aval: a.clone(),
        })
        .collect();
    out.invars.splice(at..at, fresh);
    out
}

fn same_type(a: &Aval, b: &Aval) -> bool {
    a.shape == b.shape && a.dtype == b.dtype
}

fn avals_text(avals: &[Aval]) -> String {
    let parts: Vec<String> = avals.iter().map(|a| a.to_string()).collect();
    format!("({})", parts.join(", "))
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

fn check_operands(what: &str, got: &[Aval], want: &[Aval]) -> Result<(), String> {
    if got.len() != want.len() || !got.iter().zip(want).all(|(g, w)| same_type(g, w)) {
        return Err(format!(
            "{what}: operands {} do not match the jaxpr's inputs {}",
            avals_text(got),
            avals_text(want)
        ));
    }
    Ok(())
}

/// Whether `j` (or a sub-jaxpr of one of its equations) binds a collective over the
/// axis `name`.
fn jaxpr_uses_axis_name(j: &Jaxpr, name: &str) -> bool {
    j.eqns.iter().any(|e| uses_axis_name(e.prim.as_ref(), name))
}

/// Whether `prim` is a collective over the axis `name` or a control-flow primitive
/// whose bodies contain one (so a named vmap must batch it even when its operands
/// are unbatched).
pub fn uses_axis_name(prim: &dyn Primitive, name: &str) -> bool {
    if prim.axis_name() == Some(name) {
        return true;
    }
    let any = prim.as_any();
    let subs: Vec<&SubJaxpr> = if let Some(c) = any.downcast_ref::<Cond>() {
        c.branches.iter().collect()
    } else if let Some(w) = any.downcast_ref::<While>() {
        vec![&w.cond_jaxpr, &w.body_jaxpr]
    } else if let Some(s) = any.downcast_ref::<Scan>() {
        vec![&s.jaxpr]
    } else {
        Vec::new()
    };
    subs.iter().any(|j| jaxpr_uses_axis_name(&j.0, name))
}

// ---- generic sub-jaxpr transformations --------------------------------------------------

/// Runs `j` under a fresh JVP trace: primal outputs and their tangents. `nz[i]` says
/// whether input i has a tangent; `tangents` holds those tangents in order.
pub(crate) fn jvp_eval(
    j: &SubJaxpr,
    primals: &[Array],
    nz: &[bool],
    tangents: &[Array],
) -> (Vec<Array>, Vec<Option<Array>>) {
    let trace = JvpTrace::new(current_trace());
    let mut ts = tangents.iter();
    let inputs: Vec<Array> = primals
        .iter()
        .zip(nz)
        .map(|(p, &n)| trace.pack(p.clone(), if n { ts.next().cloned() } else { None }))
        .collect();
    let outs = {
        let _guard = set_current_trace(trace.clone());
        j.call(&inputs)
    };
    outs.iter().map(|o| trace.unpack(o)).unzip()
}

/// Which outputs of `j` have nonzero tangents when the inputs with `nz` do.
fn jvp_out_nz(j: &SubJaxpr, nz: &[bool]) -> Vec<bool> {
    let in_avals = j.in_avals();
    let n = in_avals.len();
    let mut avals = in_avals.clone();
    avals.extend(tangent_avals(&in_avals, nz));
    let slot = Mutex::new(Vec::new());
    trace_sub(&avals, |a| {
        let (p, t) = a.split_at(n);
        let (_, touts) = jvp_eval(j, p, nz, t);
        *slot.lock().expect("slot") = touts.iter().map(Option::is_some).collect();
        Vec::new()
    });
    slot.into_inner().expect("slot")
}

fn tangent_avals(avals: &[Aval], nz: &[bool]) -> Vec<Aval> {
    avals
        .iter()
        .zip(nz)
        .filter(|(_, &n)| n)
        .map(|(a, _)| a.strong())
        .collect()
}

fn pick<T: Clone>(xs: &[T], mask: &[bool]) -> Vec<T> {
    xs.iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .map(|(x, _)| x.clone())
        .collect()
}

/// Cotangents of the linear invars of `j` (`lin`), instantiated, for output
/// cotangents `cts`; `res` are the values of the other invars, in order.
fn transpose_eval(j: &SubJaxpr, lin: &[bool], res: &[Array], cts: &[Option<Array>]) -> Vec<Array> {
    let mut jj = (*j.0).clone();
    let invars = std::mem::take(&mut jj.invars);
    let lin_vars = pick(&invars, lin);
    let not_lin: Vec<bool> = lin.iter().map(|l| !l).collect();
    jj.constvars = pick(&invars, &not_lin);
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

/// Runs `j` under a fresh batch trace on `args` (batched at 0 where `bat`).
/// Returns the outputs (batched ones at 0) and which are batched.
pub(crate) fn batch_eval(
    j: &SubJaxpr,
    args: &[Array],
    bat: &[bool],
    size: usize,
) -> (Vec<Array>, Vec<bool>) {
    let trace = BatchTrace::new(current_trace(), size, current_axis_name());
    let inputs: Vec<Array> = args
        .iter()
        .zip(bat)
        .map(|(a, &b)| trace.pack(a.clone(), b.then_some(0)))
        .collect();
    let outs = {
        let _guard = set_current_trace(trace.clone());
        j.call(&inputs)
    };
    outs.iter()
        .map(|o| match trace.unpack(o) {
            (v, Some(d)) => (move_axis(&v, d, 0), true),
            (v, None) => (v, false),
        })
        .unzip()
}

pub(crate) fn batched_avals(avals: &[Aval], bat: &[bool], size: usize) -> Vec<Aval> {
    avals
        .iter()
        .zip(bat)
        .map(|(a, &b)| {
            if b {
                let mut s = vec![size];
                s.extend_from_slice(&a.shape);
                a.with_shape(s)
            } else {
                a.clone()
            }
        })
        .collect()
}

/// The batched version of `j` (inputs batched at 0 where `bat`); outputs with
/// `force` are made batched. Returns it with which outputs are batched.
pub(crate) fn batch_sub(
    j: &SubJaxpr,
    bat: &[bool],
    size: usize,
    force: &[bool],
) -> (Traced, Vec<bool>) {
    let avals = batched_avals(&j.in_avals(), bat, size);
    let slot = Mutex::new(Vec::new());
    let t = trace_sub(&avals, |a| {
        let (outs, ob) = batch_eval(j, a, bat, size);
        let outs = outs
            .into_iter()
            .zip(&ob)
            .zip(force)
            .map(|((o, &b), &f)| {
                if f && !b {
                    lax::broadcast(&o, &[size])
                } else {
                    o
                }
            })
            .collect();
        *slot.lock().expect("slot") = ob.iter().zip(force).map(|(b, f)| *b || *f).collect();
        outs
    });
    (t, slot.into_inner().expect("slot"))
}

/// `x` with its batch dim at 0 (`None` stays unbatched).
pub(crate) fn to_front(x: &Array, d: Option<usize>) -> Array {
    match d {
        Some(d) => move_axis(x, d, 0),
        None => x.clone(),
    }
}

fn broadcast_front(x: &Array, batched: bool, size: usize) -> Array {
    if batched {
        x.clone()
    } else {
        lax::broadcast(x, &[size])
    }
}

// ---- cond ----------------------------------------------------------------------------------

/// `cond[branches=(...)]`: operands `(index, args...)`; runs `branches[index](args...)`.
/// The index is an i32 scalar, clamped into range. Every branch takes the same args
/// (the captured values of all branches come first) and returns the same types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cond {
    pub branches: Vec<SubJaxpr>,
}

/// Binds `cond` with branches that each take their own captured values followed by
/// `ops`: the captured values of all branches become shared leading operands.
fn bind_cond(
    index: &Array,
    branches: Vec<Traced>,
    ops: &[Array],
    loc: &'static Location<'static>,
) -> Vec<Array> {
    let const_avals: Vec<Vec<Aval>> = branches
        .iter()
        .map(|b| b.consts.iter().map(Array::aval).collect())
        .collect();
    let mut args = vec![index.clone()];
    let mut jaxprs = Vec::new();
    for (i, b) in branches.iter().enumerate() {
        let own = b.consts.len();
        let after: Vec<Aval> = const_avals[i + 1..].concat();
        let before: Vec<Aval> = const_avals[..i].concat();
        let j = with_unused_invars(&b.jaxpr.0, own, &after);
        let j = with_unused_invars(&j, 0, &before);
        jaxprs.push(SubJaxpr(Arc::new(j)));
        args.extend(b.consts.iter().cloned());
    }
    args.extend(ops.iter().cloned());
    bind_at(Arc::new(Cond { branches: jaxprs }), &args, loc)
}

impl Primitive for Cond {
    fn name(&self) -> &'static str {
        "cond"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let texts: Vec<String> = self.branches.iter().map(|b| b.to_string()).collect();
        vec![("branches", format!("({})", texts.join(" ")))]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let Some((index, ops)) = inputs.split_first() else {
            return Err("expects an index operand".to_string());
        };
        if !index.shape.is_empty() || index.dtype != DType::I32 {
            return Err(format!(
                "the branch index must be an i32 scalar, got {index}"
            ));
        }
        let out = self.branches[0].out_avals();
        for (i, b) in self.branches.iter().enumerate() {
            check_operands(&format!("branch {i}"), ops, &b.in_avals())?;
            let o = b.out_avals();
            if o.len() != out.len() || !o.iter().zip(&out).all(|(a, b)| same_type(a, b)) {
                return Err(format!(
                    "branch {i} returns {} but branch 0 returns {}",
                    avals_text(&o),
                    avals_text(&out)
                ));
            }
        }
        Ok(out)
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let shapes: Vec<Shape> = ctx.in_avals[1..].iter().map(Aval::oxla_shape).collect();
        let comps = self
            .branches
            .iter()
            .enumerate()
            .map(|(i, br)| {
                ctx.b.region(&format!("branch_{i}"), &shapes, |b, p| {
                    lower_jaxpr_into(b, &br.0, &[], p)
                })
            })
            .collect();
        ctx.b.add_multi(Op::Conditional { branches: comps }, args)
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let loc = Location::caller();
        let outs = bind_at(Arc::new(self.clone()), primals, loc);
        let ops = &primals[1..];
        let nz: Vec<bool> = tangents[1..].iter().map(Option::is_some).collect();
        let ts: Vec<Array> = tangents[1..].iter().flatten().cloned().collect();
        let want: Vec<bool> = outs.iter().map(|o| has_tangent(&o.aval())).collect();
        // Each tangent branch recomputes its primal values from the primal operands
        // (constants for the linear tangent computation) and returns the tangents.
        let branches: Vec<Traced> = self
            .branches
            .iter()
            .map(|br| {
                let in_avals = br.in_avals();
                let mut avals = in_avals.clone();
                avals.extend(tangent_avals(&in_avals, &nz));
                trace_sub(&avals, |a| {
                    let (p, t) = a.split_at(in_avals.len());
                    let (o, to) = jvp_eval(br, p, &nz, t);
                    to.iter()
                        .zip(&o)
                        .zip(&want)
                        .filter(|(_, &w)| w)
                        .map(|((t, o), _)| instantiate(t, &o.aval().strong()))
                        .collect()
                })
            })
            .collect();
        let mut args = ops.to_vec();
        args.extend(ts);
        let mut touts = bind_cond(&primals[0], branches, &args, loc).into_iter();
        let tangents_out = want
            .iter()
            .map(|&w| if w { touts.next() } else { None })
            .collect();
        Ok((outs, tangents_out))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let loc = Location::caller();
        let index = args[0].value()?.clone();
        let ops = &args[1..];
        let lin: Vec<bool> = ops.iter().map(LinArg::is_linear).collect();
        let res: Vec<Array> = ops
            .iter()
            .filter(|a| !a.is_linear())
            .map(|a| a.value().cloned())
            .collect::<Result<_, _>>()?;
        let res_avals: Vec<Aval> = res.iter().map(Array::aval).collect();
        let out_avals = self.branches[0].out_avals();
        let ct_vals: Vec<Array> = cts
            .iter()
            .zip(&out_avals)
            .map(|(c, a)| instantiate(c, &a.strong()))
            .collect();
        let mut avals = res_avals.clone();
        avals.extend(ct_vals.iter().map(Array::aval));
        let branches: Vec<Traced> = self
            .branches
            .iter()
            .map(|br| {
                trace_sub(&avals, |a| {
                    let (r, c) = a.split_at(res.len());
                    let c: Vec<Option<Array>> = c.iter().cloned().map(Some).collect();
                    transpose_eval(br, &lin, r, &c)
                })
            })
            .collect();
        let mut operands = res.clone();
        operands.extend(ct_vals);
        let mut outs = bind_cond(&index, branches, &operands, loc).into_iter();
        let mut result = vec![None];
        result.extend(lin.iter().map(|&l| if l { outs.next() } else { None }));
        Ok(result)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let loc = Location::caller();
        let ops: Vec<Array> = args[1..]
            .iter()
            .zip(&dims[1..])
            .map(|(a, d)| to_front(a, *d))
            .collect();
        let bat: Vec<bool> = dims[1..].iter().map(Option::is_some).collect();
        if let Some(d) = dims[0] {
            // A batched predicate: every branch runs on the whole batch and the
            // outputs are selected per lane (JAX turns cond into select here).
            let n = self.branches.len() as f64;
            let index = move_axis(&args[0], d, 0);
            let lo = lax::full_like_scalar(&index, 0.0);
            let hi = lax::full_like_scalar(&index, n - 1.0);
            let index = lax::clamp(&lo, &index, &hi);
            let all: Vec<Vec<Array>> = self
                .branches
                .iter()
                .map(|br| {
                    let (outs, ob) = batch_eval(br, &ops, &bat, size);
                    outs.iter()
                        .zip(ob)
                        .map(|(o, b)| broadcast_front(o, b, size))
                        .collect()
                })
                .collect();
            let outs: Vec<Array> = (0..all[0].len())
                .map(|k| {
                    let cases: Vec<Array> = all.iter().map(|o| o[k].clone()).collect();
                    let which = lax::broadcast_in_dim(&index, cases[0].shape(), &[0]);
                    lax::select_n(&which, &cases)
                })
                .collect();
            let n = outs.len();
            return Ok((outs, vec![Some(0); n]));
        }
        let nout = self.branches[0].out_avals().len();
        let mut out_bat = vec![false; nout];
        for br in &self.branches {
            let (_, ob) = batch_sub(br, &bat, size, &vec![false; nout]);
            out_bat = out_bat.iter().zip(&ob).map(|(a, b)| *a || *b).collect();
        }
        let branches: Vec<Traced> = self
            .branches
            .iter()
            .map(|br| batch_sub(br, &bat, size, &out_bat).0)
            .collect();
        let outs = bind_cond(&args[0], branches, &ops, loc);
        Ok((outs, out_bat.iter().map(|&b| b.then_some(0)).collect()))
    }
}

// ---- while ---------------------------------------------------------------------------------

/// `while[cond_jaxpr body_jaxpr cond_nconsts body_nconsts]`: operands
/// `(cond_consts, body_consts, init)`; `cond_jaxpr(cond_consts, carry) -> bool` and
/// `body_jaxpr(body_consts, carry) -> carry`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct While {
    pub cond_jaxpr: SubJaxpr,
    pub body_jaxpr: SubJaxpr,
    pub cond_nconsts: usize,
    pub body_nconsts: usize,
}

/// JAX's message for reverse mode through a while loop.
pub const WHILE_REVERSE_MSG: &str = "Reverse-mode differentiation does not work for \
    lax.while_loop or lax.fori_loop with dynamic start/stop values. Try using lax.scan, \
    or lax.fori_loop with constant start/stop.";

impl While {
    fn split<'a, T>(&self, xs: &'a [T]) -> (&'a [T], &'a [T], &'a [T]) {
        let (c, r) = xs.split_at(self.cond_nconsts);
        let (b, k) = r.split_at(self.body_nconsts);
        (c, b, k)
    }
}

/// Binds `while` for traced cond/body functions of `(consts, carry)`.
fn bind_while(
    cond: Traced,
    cond_args: &[Array],
    body: Traced,
    body_args: &[Array],
    init: &[Array],
    loc: &'static Location<'static>,
) -> Vec<Array> {
    let prim = While {
        cond_nconsts: cond.consts.len() + cond_args.len(),
        body_nconsts: body.consts.len() + body_args.len(),
        cond_jaxpr: cond.jaxpr,
        body_jaxpr: body.jaxpr,
    };
    let mut args = cond.consts;
    args.extend(cond_args.iter().cloned());
    args.extend(body.consts);
    args.extend(body_args.iter().cloned());
    args.extend(init.iter().cloned());
    bind_at(Arc::new(prim), &args, loc)
}

impl Primitive for While {
    fn name(&self) -> &'static str {
        "while"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("body_jaxpr", self.body_jaxpr.to_string()),
            ("body_nconsts", self.body_nconsts.to_string()),
            ("cond_jaxpr", self.cond_jaxpr.to_string()),
            ("cond_nconsts", self.cond_nconsts.to_string()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        if inputs.len() < self.cond_nconsts + self.body_nconsts {
            return Err(format!("too few operands: {}", inputs.len()));
        }
        let (c, b, init) = self.split(inputs);
        check_operands(
            "cond_jaxpr",
            &[c, init].concat(),
            &self.cond_jaxpr.in_avals(),
        )?;
        check_operands(
            "body_jaxpr",
            &[b, init].concat(),
            &self.body_jaxpr.in_avals(),
        )?;
        let pred = self.cond_jaxpr.out_avals();
        if pred.len() != 1 || !pred[0].shape.is_empty() || pred[0].dtype != DType::Bool {
            return Err(format!(
                "cond_jaxpr must return a bool scalar, got {}",
                avals_text(&pred)
            ));
        }
        let out = self.body_jaxpr.out_avals();
        if out.len() != init.len() || !out.iter().zip(init).all(|(a, b)| same_type(a, b)) {
            return Err(format!(
                "body_jaxpr returns {} for the carry {}",
                avals_text(&out),
                avals_text(init)
            ));
        }
        Ok(init.to_vec())
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let shapes: Vec<Shape> = ctx.in_avals.iter().map(Aval::oxla_shape).collect();
        let (cn, bn) = (self.cond_nconsts, self.body_nconsts);
        let cond = ctx.b.region("cond", &shapes, |b, p| {
            let a = [&p[..cn], &p[cn + bn..]].concat();
            lower_jaxpr_into(b, &self.cond_jaxpr.0, &[], &a)
        });
        let body = ctx.b.region("body", &shapes, |b, p| {
            let a = [&p[cn..cn + bn], &p[cn + bn..]].concat();
            let outs = lower_jaxpr_into(b, &self.body_jaxpr.0, &[], &a);
            [&p[..cn + bn], &outs[..]].concat()
        });
        let res = ctx.b.add_multi(Op::While { cond, body }, args);
        res[cn + bn..].to_vec()
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let loc = Location::caller();
        let outs = bind_at(Arc::new(self.clone()), primals, loc);
        let (cc, bc, init) = self.split(primals);
        let (_, bt, it) = self.split(tangents);
        let bc_nz: Vec<bool> = bt.iter().map(Option::is_some).collect();
        let mut carry_nz: Vec<bool> = it
            .iter()
            .zip(init)
            .map(|(t, x)| t.is_some() && has_tangent(&x.aval()))
            .collect();
        // The carries with nonzero tangents: a fixpoint over the body.
        loop {
            let out_nz = jvp_out_nz(
                &self.body_jaxpr,
                &[bc_nz.clone(), carry_nz.clone()].concat(),
            );
            let next: Vec<bool> = carry_nz
                .iter()
                .zip(&out_nz)
                .map(|(a, b)| *a || *b)
                .collect();
            if next == carry_nz {
                break;
            }
            carry_nz = next;
        }
        let nk = init.len();
        let carry_avals: Vec<Aval> = init.iter().map(Array::aval).collect();
        let ct_avals = tangent_avals(&carry_avals, &carry_nz);
        let nct = ct_avals.len();
        // The joint loop carries (primal, tangent); only its tangents are used.
        let cond_avals: Vec<Aval> = cc
            .iter()
            .chain(init)
            .map(Array::aval)
            .chain(ct_avals.iter().cloned())
            .collect();
        let cond = trace_sub(&cond_avals, |a| self.cond_jaxpr.call(&a[..a.len() - nct]));
        let bt_vals: Vec<Array> = bt.iter().flatten().cloned().collect();
        let mut body_avals: Vec<Aval> = bc.iter().map(Array::aval).collect();
        body_avals.extend(bt_vals.iter().map(Array::aval));
        body_avals.extend(carry_avals.iter().cloned());
        body_avals.extend(ct_avals.iter().cloned());
        let (nb, nbt) = (bc.len(), bt_vals.len());
        let nz_all = [bc_nz.clone(), carry_nz.clone()].concat();
        let body = trace_sub(&body_avals, |a| {
            let (bcs, r) = a.split_at(nb);
            let (bts, r) = r.split_at(nbt);
            let (cs, cts) = r.split_at(nk);
            let (o, t) = jvp_eval(
                &self.body_jaxpr,
                &[bcs, cs].concat(),
                &nz_all,
                &[bts, cts].concat(),
            );
            let mut res = o.clone();
            for (i, t) in t.iter().enumerate() {
                if carry_nz[i] {
                    res.push(instantiate(t, &o[i].aval().strong()));
                }
            }
            res
        });
        let mut state: Vec<Array> = init.to_vec();
        for (i, t) in it.iter().enumerate() {
            if carry_nz[i] {
                state.push(instantiate(t, &carry_avals[i].strong()));
            }
        }
        let mut body_args = bc.to_vec();
        body_args.extend(bt_vals);
        let joint = bind_while(cond, cc, body, &body_args, &state, loc);
        let mut touts = joint[nk..].iter().cloned();
        let tangents_out = carry_nz
            .iter()
            .map(|&n| if n { touts.next() } else { None })
            .collect();
        Ok((outs, tangents_out))
    }

    fn transpose(
        &self,
        _cts: &[Option<Array>],
        _args: &[LinArg],
    ) -> RuleResult<Vec<Option<Array>>> {
        Err(WHILE_REVERSE_MSG.to_string())
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let loc = Location::caller();
        let args: Vec<Array> = args
            .iter()
            .zip(dims)
            .map(|(a, d)| to_front(a, *d))
            .collect();
        let bat: Vec<bool> = dims.iter().map(Option::is_some).collect();
        let (cc, bc, init) = self.split(&args);
        let (cc_bat, bc_bat, init_bat) = self.split(&bat);
        let nk = init.len();
        let mut carry_bat = init_bat.to_vec();
        loop {
            let (_, ob) = batch_sub(
                &self.body_jaxpr,
                &[bc_bat, &carry_bat[..]].concat(),
                size,
                &carry_bat,
            );
            if ob == carry_bat {
                break;
            }
            carry_bat = ob;
        }
        let (_, pred_bat) = batch_sub(
            &self.cond_jaxpr,
            &[cc_bat, &carry_bat[..]].concat(),
            size,
            &[false],
        );
        let pred_batched = pred_bat[0];
        if pred_batched {
            carry_bat = vec![true; nk];
        }
        let state: Vec<Array> = init
            .iter()
            .zip(init_bat)
            .zip(&carry_bat)
            .map(|((x, &b), &want)| {
                if want {
                    broadcast_front(x, b, size)
                } else {
                    x.clone()
                }
            })
            .collect();
        let outs = if !pred_batched {
            let (cond, _) = batch_sub(
                &self.cond_jaxpr,
                &[cc_bat, &carry_bat[..]].concat(),
                size,
                &[false],
            );
            let (body, _) = batch_sub(
                &self.body_jaxpr,
                &[bc_bat, &carry_bat[..]].concat(),
                size,
                &carry_bat,
            );
            bind_while(cond, cc, body, bc, &state, loc)
        } else {
            // Runs until every lane is done; finished lanes keep their carry.
            let avals: Vec<Aval> = cc.iter().chain(&state).map(Array::aval).collect();
            let ncc = cc.len();
            let cond_bat = [cc_bat, &carry_bat[..]].concat();
            let cond = trace_sub(&avals, |a| {
                let (p, _) = batch_eval(&self.cond_jaxpr, a, &cond_bat, size);
                vec![lax::reduce_or(&p[0], &[0])]
            });
            let mut body_avals: Vec<Aval> = cc.iter().chain(bc).map(Array::aval).collect();
            body_avals.extend(state.iter().map(Array::aval));
            let nbc = bc.len();
            let body = trace_sub(&body_avals, |a| {
                let (ccs, r) = a.split_at(ncc);
                let (bcs, carry) = r.split_at(nbc);
                let (p, pb) = batch_eval(&self.cond_jaxpr, &[ccs, carry].concat(), &cond_bat, size);
                let pred = broadcast_front(&p[0], pb[0], size);
                let (new, nb) = batch_eval(
                    &self.body_jaxpr,
                    &[bcs, carry].concat(),
                    &[bc_bat, &carry_bat[..]].concat(),
                    size,
                );
                new.iter()
                    .zip(nb)
                    .zip(carry)
                    .map(|((n, b), old)| {
                        let n = broadcast_front(n, b, size);
                        let which = lax::broadcast_in_dim(&pred, n.shape(), &[0]);
                        lax::select(&which, &n, old)
                    })
                    .collect()
            });
            bind_while(cond, cc, body, &[cc, bc].concat(), &state, loc)
        };
        Ok((outs, carry_bat.iter().map(|&b| b.then_some(0)).collect()))
    }
}

// ---- scan ----------------------------------------------------------------------------------

/// `scan[jaxpr length reverse num_consts num_carry linear unroll]`: operands
/// `(consts, init, xs)`; `jaxpr(consts, carry, x) -> (carry, y)` runs over the
/// leading axis of the xs (backwards when `reverse`); outputs `(carry, ys)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scan {
    pub jaxpr: SubJaxpr,
    pub length: usize,
    pub reverse: bool,
    pub num_consts: usize,
    pub num_carry: usize,
    pub linear: Vec<bool>,
    pub unroll: usize,
}

impl Scan {
    fn split<'a, T>(&self, xs: &'a [T]) -> (&'a [T], &'a [T], &'a [T]) {
        let (c, r) = xs.split_at(self.num_consts);
        let (k, x) = r.split_at(self.num_carry);
        (c, k, x)
    }

    /// One iteration of the lowered loop on the loop state `(i, consts, carry, xs,
    /// ys accumulators)`: slices the xs at step i, runs the body, writes the ys.
    fn lower_step(&self, b: &mut oxla::Builder, p: &[Value], nx: usize) -> Vec<Value> {
        let (nc, nk) = (self.num_consts, self.num_carry);
        let length = self.length as i128;
        let i = p[0];
        let idx = if self.reverse {
            let last = b.constant_i128(DType::I32, length - 1);
            b.binary(BinaryOp::Sub, last, i)
        } else {
            i
        };
        let z = b.constant_i128(DType::I32, 0);
        let starts = |rank: usize| -> Vec<Value> {
            let mut s = vec![idx];
            s.extend(std::iter::repeat_n(z, rank - 1));
            s
        };
        let xs = &p[1 + nc + nk..1 + nc + nk + nx];
        let mut body_args: Vec<Value> = p[1..1 + nc + nk].to_vec();
        for &x in xs {
            let dims = b.shape(x).dims.clone();
            let mut sizes = dims.clone();
            sizes[0] = 1;
            let mut operands = vec![x];
            operands.extend(starts(dims.len()));
            let s = b.add(Op::DynamicSlice { sizes }, &operands);
            body_args.push(b.reshape(s, &dims[1..]));
        }
        let outs = lower_jaxpr_into(b, &self.jaxpr.0, &[], &body_args);
        let one = b.constant_i128(DType::I32, 1);
        let mut next = vec![b.binary(BinaryOp::Add, i, one)];
        next.extend_from_slice(&p[1..1 + nc]);
        next.extend_from_slice(&outs[..nk]);
        next.extend_from_slice(xs);
        for (acc, &y) in p[1 + nc + nk + nx..].iter().zip(&outs[nk..]) {
            let mut dims = vec![1];
            dims.extend_from_slice(&b.shape(y).dims.clone());
            let y1 = b.reshape(y, &dims);
            let mut operands = vec![*acc, y1];
            operands.extend(starts(dims.len()));
            next.push(b.add(Op::DynamicUpdateSlice, &operands));
        }
        next
    }

    /// A scan like this one with another body and operand counts.
    fn with(
        &self,
        t: &Traced,
        num_consts: usize,
        num_carry: usize,
        linear: Vec<bool>,
        reverse: bool,
    ) -> Scan {
        let mut linear = linear;
        let mut l = vec![false; t.consts.len()];
        l.append(&mut linear);
        Scan {
            jaxpr: t.jaxpr.clone(),
            length: self.length,
            reverse,
            num_consts: t.consts.len() + num_consts,
            num_carry,
            linear: l,
            unroll: self.unroll,
        }
    }
}

fn bind_scan(
    prim: Scan,
    consts: Vec<Array>,
    rest: &[Array],
    loc: &'static Location<'static>,
) -> Vec<Array> {
    let mut args = consts;
    args.extend(rest.iter().cloned());
    bind_at(Arc::new(prim), &args, loc)
}

/// The per-iteration slice aval of a stacked aval.
fn unstacked(a: &Aval) -> Aval {
    a.with_shape(a.shape[1..].to_vec())
}

fn stacked(a: &Aval, n: usize) -> Aval {
    let mut s = vec![n];
    s.extend_from_slice(&a.shape);
    a.with_shape(s)
}

impl Primitive for Scan {
    fn name(&self) -> &'static str {
        "scan"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let lin: Vec<&str> = self.linear.iter().map(|&l| py_bool(l)).collect();
        vec![
            ("jaxpr", self.jaxpr.to_string()),
            ("length", self.length.to_string()),
            ("linear", crate::core::primitive::tuple_text(&lin)),
            ("num_carry", self.num_carry.to_string()),
            ("num_consts", self.num_consts.to_string()),
            ("reverse", py_bool(self.reverse).to_string()),
            ("unroll", self.unroll.to_string()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        if inputs.len() < self.num_consts + self.num_carry {
            return Err(format!("too few operands: {}", inputs.len()));
        }
        let (c, k, xs) = self.split(inputs);
        for x in xs {
            if x.shape.first() != Some(&self.length) {
                return Err(format!(
                    "scanned operand {x} must have leading dimension length {}",
                    self.length
                ));
            }
        }
        let x_avals: Vec<Aval> = xs.iter().map(unstacked).collect();
        check_operands(
            "jaxpr",
            &[c, k, &x_avals[..]].concat(),
            &self.jaxpr.in_avals(),
        )?;
        let out = self.jaxpr.out_avals();
        let nk = self.num_carry;
        if out.len() < nk || !out[..nk].iter().zip(k).all(|(a, b)| same_type(a, b)) {
            return Err(format!(
                "the body returns {} for the carry {}",
                avals_text(&out[..nk.min(out.len())]),
                avals_text(k)
            ));
        }
        let mut res = k.to_vec();
        res.extend(out[nk..].iter().map(|a| stacked(a, self.length)));
        Ok(res)
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let (nc, nk) = (self.num_consts, self.num_carry);
        let nx = args.len() - nc - nk;
        let ys_avals: Vec<Aval> = ctx.out_avals[nk..].to_vec();
        if self.length == 0 {
            // No iterations (and no slice of the empty xs to take).
            let mut out = args[nc..nc + nk].to_vec();
            for a in &ys_avals {
                out.push(ctx.b.full_f64(&a.oxla_shape(), 0.0));
            }
            return out;
        }
        let i32s = Shape::scalar(DType::I32);
        let zero = ctx.b.constant_i128(DType::I32, 0);
        let mut state = vec![zero];
        state.extend_from_slice(args);
        for a in &ys_avals {
            state.push(ctx.b.full_f64(&a.oxla_shape(), 0.0));
        }
        let mut shapes = vec![i32s];
        shapes.extend(ctx.in_avals.iter().map(Aval::oxla_shape));
        shapes.extend(ys_avals.iter().map(Aval::oxla_shape));
        // `unroll` iterations per trip of the loop; the remaining `length % unroll`
        // iterations follow the loop as straight-line code.
        let unroll = self.unroll.clamp(1, self.length);
        let trips = self.length / unroll;
        let main = (trips * unroll) as i128;
        if trips > 0 {
            let cond = ctx.b.region("scan_cond", &shapes, |b, p| {
                let n = b.constant_i128(DType::I32, main);
                vec![b.compare(CmpDir::Lt, p[0], n)]
            });
            let body = ctx.b.region("scan_body", &shapes, |b, p| {
                let mut p = p.to_vec();
                for _ in 0..unroll {
                    p = self.lower_step(b, &p, nx);
                }
                p
            });
            state = ctx.b.add_multi(Op::While { cond, body }, &state);
        }
        for _ in main as usize..self.length {
            state = self.lower_step(ctx.b, &state, nx);
        }
        let mut out = state[1 + nc..1 + nc + nk].to_vec();
        out.extend_from_slice(&state[1 + nc + nk + nx..]);
        out
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let loc = Location::caller();
        let (nc, nk) = (self.num_consts, self.num_carry);
        let (consts, init, xs) = self.split(primals);
        let (ct, it, xt) = self.split(tangents);
        let c_nz: Vec<bool> = ct.iter().map(Option::is_some).collect();
        let x_nz: Vec<bool> = xt.iter().map(Option::is_some).collect();
        let mut carry_nz: Vec<bool> = it
            .iter()
            .zip(init)
            .map(|(t, x)| t.is_some() && has_tangent(&x.aval()))
            .collect();
        loop {
            let nz = [c_nz.clone(), carry_nz.clone(), x_nz.clone()].concat();
            let out_nz = jvp_out_nz(&self.jaxpr, &nz);
            let next: Vec<bool> = carry_nz
                .iter()
                .zip(&out_nz)
                .map(|(a, b)| *a || *b)
                .collect();
            if next == carry_nz {
                break;
            }
            carry_nz = next;
        }
        // The JVP of the body, known inputs first: (consts, carry, x, const tangents,
        // carry tangents, x tangents) -> (carry, y, carry tangents, y tangents).
        let ny = self.jaxpr.out_avals().len() - nk;
        let nx = xs.len();
        let ct_vals: Vec<Array> = ct.iter().flatten().cloned().collect();
        let xt_vals: Vec<Array> = xt.iter().flatten().cloned().collect();
        let carry_avals: Vec<Aval> = init.iter().map(Array::aval).collect();
        let y_avals: Vec<Aval> = self.jaxpr.out_avals()[nk..].to_vec();
        let y_want: Vec<bool> = y_avals.iter().map(has_tangent).collect();
        let tc_init: Vec<Array> = it
            .iter()
            .zip(&carry_avals)
            .zip(&carry_nz)
            .filter(|(_, &n)| n)
            .map(|((t, a), _)| instantiate(t, &a.strong()))
            .collect();
        let (nct, ntc, nxt) = (ct_vals.len(), tc_init.len(), xt_vals.len());
        let mut avals: Vec<Aval> = self.jaxpr.in_avals();
        avals.extend(ct_vals.iter().map(Array::aval));
        avals.extend(tc_init.iter().map(Array::aval));
        avals.extend(xt_vals.iter().map(|x| unstacked(&x.aval())));
        let nz = [c_nz.clone(), carry_nz.clone(), x_nz.clone()].concat();
        let jj = trace_sub(&avals, |a| {
            let (p, t) = a.split_at(nc + nk + nx);
            let (o, t) = jvp_eval(&self.jaxpr, p, &nz, t);
            let mut res = o.clone();
            for i in 0..nk {
                if carry_nz[i] {
                    res.push(instantiate(&t[i], &o[i].aval().strong()));
                }
            }
            for i in 0..ny {
                if y_want[i] {
                    res.push(instantiate(&t[nk + i], &o[nk + i].aval().strong()));
                }
            }
            res
        });
        // Partial evaluation, as JAX's scan does under linearize: the primal scan
        // also stacks every per-iteration value the tangents need, so the tangent
        // scan (and its transpose, the backward loop) does no primal work. Values of
        // the consts alone are loop-invariant: recomputed rather than stacked.
        let nj = jj.consts.len();
        let n_invariant = nj + nc;
        let jaxpr = &jj.jaxpr.0;
        let mut invariant: std::collections::HashSet<usize> =
            jaxpr.invars[..n_invariant].iter().map(|v| v.id).collect();
        let is_invariant: Vec<bool> = jaxpr
            .eqns
            .iter()
            .map(|e| {
                let inv = e.inputs.iter().all(|a| match a {
                    Atom::Var(v) => invariant.contains(&v.id),
                    Atom::Literal(_) => true,
                });
                if inv {
                    invariant.extend(e.outputs.iter().map(|v| v.id));
                }
                inv
            })
            .collect();
        let n_known = n_invariant + nk + nx;
        let (mut fwd, mut tan) = split_known(jaxpr, n_known, nk + ny, |i, _| !is_invariant[i]);
        let n_saved = tan.invars.len() - n_known - (nct + ntc + nxt);
        // The carries each iteration starts from, where the tangents read them.
        let used: std::collections::HashSet<usize> = tan
            .eqns
            .iter()
            .flat_map(|e| e.inputs.iter())
            .chain(&tan.outvars)
            .filter_map(|a| match a {
                Atom::Var(v) => Some(v.id),
                Atom::Literal(_) => None,
            })
            .collect();
        let carry_vars = &tan.invars[n_invariant..n_invariant + nk];
        let carry_used: Vec<usize> = (0..nk)
            .filter(|&i| used.contains(&carry_vars[i].id))
            .collect();
        fwd.outvars
            .extend(carry_used.iter().map(|&i| Atom::Var(carry_vars[i].clone())));
        let primal = Scan {
            jaxpr: SubJaxpr(Arc::new(fwd)),
            length: self.length,
            reverse: self.reverse,
            num_consts: n_invariant,
            num_carry: nk,
            linear: vec![false; n_known],
            unroll: self.unroll,
        };
        let mut res = bind_scan(primal, jj.consts.clone(), primals, loc);
        let carry_stack = res.split_off(nk + ny + n_saved);
        let saved = res.split_off(nk + ny);
        let outs = res;
        // The tangent scan: consts (jaxpr consts, primal consts, const tangents),
        // carries (carry tangents), xs (used carries, primal xs, saved values, x
        // tangents).
        let inv = std::mem::take(&mut tan.invars);
        let (known_consts, r) = inv.split_at(n_invariant);
        let (carry_in, r) = r.split_at(nk);
        let (x_in, r) = r.split_at(nx);
        let (saved_in, r) = r.split_at(n_saved);
        let (ct_in, r) = r.split_at(nct);
        let (tc_in, xt_in) = r.split_at(ntc);
        let used_carry_in: Vec<Var> = carry_used.iter().map(|&i| carry_in[i].clone()).collect();
        tan.invars = [
            known_consts,
            ct_in,
            tc_in,
            &used_carry_in,
            x_in,
            saved_in,
            xt_in,
        ]
        .concat();
        let n_res_x = used_carry_in.len() + nx + n_saved;
        let tangent = Scan {
            jaxpr: SubJaxpr(Arc::new(tan)),
            length: self.length,
            reverse: self.reverse,
            num_consts: n_invariant + nct,
            num_carry: ntc,
            linear: [
                vec![false; n_invariant],
                vec![true; nct + ntc],
                vec![false; n_res_x],
                vec![true; nxt],
            ]
            .concat(),
            unroll: self.unroll,
        };
        let mut targs: Vec<Array> = consts.to_vec();
        targs.extend(ct_vals);
        targs.extend(tc_init);
        targs.extend(carry_stack);
        targs.extend(xs.iter().cloned());
        targs.extend(saved);
        targs.extend(xt_vals);
        let touts = bind_scan(tangent, jj.consts.clone(), &targs, loc);
        let mut tc_out = touts[..ntc].iter().cloned();
        let mut ty_out = touts[ntc..].iter().cloned();
        let mut tangents_out: Vec<Option<Array>> = carry_nz
            .iter()
            .map(|&n| if n { tc_out.next() } else { None })
            .collect();
        tangents_out.extend(y_want.iter().map(|&w| if w { ty_out.next() } else { None }));
        Ok((outs, tangents_out))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let loc = Location::caller();
        let nk = self.num_carry;
        let (c_args, k_args, x_args) = self.split(args);
        let c_lin: Vec<bool> = c_args.iter().map(LinArg::is_linear).collect();
        let x_lin: Vec<bool> = x_args.iter().map(LinArg::is_linear).collect();
        let values = |xs: &[LinArg]| -> RuleResult<Vec<Array>> {
            xs.iter()
                .filter(|a| !a.is_linear())
                .map(|a| a.value().cloned())
                .collect()
        };
        let res_c = values(c_args)?;
        let res_x = values(x_args)?;
        let carry_avals: Vec<Aval> = k_args.iter().map(|a| a.aval().strong()).collect();
        let out_avals: Vec<Aval> = self
            .jaxpr
            .out_avals()
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i < nk {
                    a.strong()
                } else {
                    stacked(&a.strong(), self.length)
                }
            })
            .collect();
        let ct_vals: Vec<Array> = cts
            .iter()
            .zip(&out_avals)
            .map(|(c, a)| instantiate(c, a))
            .collect();
        let lin_c_avals: Vec<Aval> = c_args
            .iter()
            .filter(|a| a.is_linear())
            .map(|a| a.aval().strong())
            .collect();
        let acc0: Vec<Array> = lin_c_avals.iter().map(zeros_aval).collect();
        let (nrc, nlc, nrx) = (res_c.len(), lin_c_avals.len(), res_x.len());
        let lin_all = [c_lin.clone(), vec![true; nk], x_lin.clone()].concat();
        let mut avals: Vec<Aval> = res_c.iter().map(Array::aval).collect();
        avals.extend(lin_c_avals.iter().cloned());
        avals.extend(carry_avals.iter().cloned());
        avals.extend(res_x.iter().map(|x| unstacked(&x.aval())));
        avals.extend(ct_vals[nk..].iter().map(|y| unstacked(&y.aval())));
        let tbody = trace_sub(&avals, |a| {
            let (rc, r) = a.split_at(nrc);
            let (acc, r) = r.split_at(nlc);
            let (ctc, r) = r.split_at(nk);
            let (rx, cty) = r.split_at(nrx);
            let body_cts: Vec<Option<Array>> = ctc.iter().chain(cty).cloned().map(Some).collect();
            let lin_cts = transpose_eval(&self.jaxpr, &lin_all, &[rc, rx].concat(), &body_cts);
            let mut out: Vec<Array> = acc
                .iter()
                .zip(&lin_cts[..nlc])
                .map(|(a, c)| lax::add(a, c))
                .collect();
            out.extend_from_slice(&lin_cts[nlc..]);
            out
        });
        let linear = [
            vec![false; nrc],
            vec![true; nlc + nk],
            vec![false; nrx],
            vec![true; ct_vals.len() - nk],
        ]
        .concat();
        let tp = self.with(&tbody, nrc, nlc + nk, linear, !self.reverse);
        let mut targs = res_c;
        targs.extend(acc0);
        targs.extend(ct_vals[..nk].iter().cloned());
        targs.extend(res_x);
        targs.extend(ct_vals[nk..].iter().cloned());
        let outs = bind_scan(tp, tbody.consts.clone(), &targs, loc);
        let mut acc = outs[..nlc].iter().cloned();
        let ct_init = &outs[nlc..nlc + nk];
        let mut ct_xs = outs[nlc + nk..].iter().cloned();
        let mut result: Vec<Option<Array>> = c_lin
            .iter()
            .map(|&l| if l { acc.next() } else { None })
            .collect();
        result.extend(
            k_args
                .iter()
                .zip(ct_init)
                .map(|(a, c)| a.is_linear().then(|| c.clone())),
        );
        result.extend(x_lin.iter().map(|&l| if l { ct_xs.next() } else { None }));
        Ok(result)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let loc = Location::caller();
        let (nc, nk) = (self.num_consts, self.num_carry);
        let moved: Vec<Array> = args
            .iter()
            .zip(dims)
            .enumerate()
            .map(|(i, (a, d))| match d {
                // The xs keep the scanned axis first: their batch dim goes to 1.
                Some(d) if i >= nc + nk => move_axis(a, *d, 1),
                d => to_front(a, *d),
            })
            .collect();
        let bat: Vec<bool> = dims.iter().map(Option::is_some).collect();
        let (c_bat, init_bat, x_bat) = self.split(&bat);
        let ny = self.jaxpr.out_avals().len() - nk;
        let mut carry_bat = init_bat.to_vec();
        let (body, out_bat) = loop {
            let force = [carry_bat.clone(), vec![false; ny]].concat();
            let in_bat = [c_bat, &carry_bat[..], x_bat].concat();
            let (t, ob) = batch_sub(&self.jaxpr, &in_bat, size, &force);
            if ob[..nk] == carry_bat[..] {
                break (t, ob);
            }
            carry_bat = carry_bat.iter().zip(&ob).map(|(a, b)| *a || *b).collect();
        };
        let (consts, init, xs) = self.split(&moved);
        let mut rest = consts.to_vec();
        rest.extend(
            init.iter()
                .zip(init_bat)
                .zip(&carry_bat)
                .map(|((x, &b), &want)| {
                    if want {
                        broadcast_front(x, b, size)
                    } else {
                        x.clone()
                    }
                }),
        );
        rest.extend(xs.iter().cloned());
        let mut linear = self.linear.clone();
        let p = self.with(&body, nc, nk, std::mem::take(&mut linear), self.reverse);
        let outs = bind_scan(p, body.consts.clone(), &rest, loc);
        let mut out_dims: Vec<Option<usize>> = carry_bat.iter().map(|&b| b.then_some(0)).collect();
        out_dims.extend(out_bat[nk..].iter().map(|&b| b.then_some(1)));
        Ok((outs, out_dims))
    }
}

// ---- the lax API ---------------------------------------------------------------------------

/// Traces a user function of a pytree into a sub-jaxpr; also returns its output
/// structure.
fn trace_fn<T: Tree, U: Tree>(
    def: &TreeDef,
    avals: &[Aval],
    f: impl FnOnce(T) -> U,
) -> (Traced, TreeDef) {
    let slot = Mutex::new(None);
    let t = trace_sub(avals, |a| {
        let (leaves, d) = f(T::tree_unflatten(def, a.to_vec())).tree_flatten();
        *slot.lock().expect("slot") = Some(d);
        leaves
    });
    (
        t,
        slot.into_inner().expect("slot").expect("the function ran"),
    )
}

fn type_text(def: &TreeDef, avals: &[Aval]) -> String {
    format!("{def} with leaves {}", avals_text(avals))
}

/// The shared implementation of `cond` and `switch`.
fn switch_at<T: Tree, U: Tree>(
    what: &str,
    index: Array,
    branches: &[&dyn Fn(T) -> U],
    operand: T,
    loc: &'static Location<'static>,
) -> U {
    if branches.is_empty() {
        fail(format!("{what}: needs at least one branch"), loc);
    }
    let (leaves, def) = operand.tree_flatten();
    if crate::config::run_eagerly(std::slice::from_ref(&index)) {
        // disable_jit: pick the branch with Rust control flow.
        let last = branches.len() as i32 - 1;
        let i = index.item::<i32>().clamp(0, last) as usize;
        return branches[i](T::tree_unflatten(&def, leaves));
    }
    let avals: Vec<Aval> = leaves.iter().map(Array::aval).collect();
    let mut traced = Vec::new();
    let mut out: Option<(TreeDef, Vec<Aval>)> = None;
    for (i, f) in branches.iter().enumerate() {
        let (t, d) = trace_fn(&def, &avals, |x: T| f(x));
        let o = t.jaxpr.out_avals();
        if let Some((d0, o0)) = &out {
            if *d0 != d || o0.len() != o.len() || !o0.iter().zip(&o).all(|(a, b)| same_type(a, b)) {
                let names = if what == "cond" {
                    ["true_fun", "false_fun"]
                } else {
                    ["branch 0", "another branch"]
                };
                let (n0, n1) = if what == "cond" {
                    (names[0], names[1])
                } else {
                    ("branch 0", "branch")
                };
                let n1 = if what == "cond" {
                    n1.to_string()
                } else {
                    format!("{n1} {i}")
                };
                fail(
                    format!(
                        "{what}: the branches must have identical output types, but {n0} returns {} \
                         and {n1} returns {}",
                        type_text(d0, o0),
                        type_text(&d, &o)
                    ),
                    loc,
                );
            }
        } else {
            out = Some((d, o));
        }
        traced.push(t);
    }
    let (out_def, _) = out.expect("a branch");
    let outs = bind_cond(&index, traced, &leaves, loc);
    U::tree_unflatten(&out_def, outs)
}

/// `true_fn(operand)` if `pred` else `false_fn(operand)`, as one `cond` primitive:
/// both branches are traced and the choice happens when the program runs (also under
/// jit and vmap, where a batched `pred` selects per lane). `pred` is a bool (or
/// integer, nonzero = true) scalar; the branches return the same pytree types.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{lax, numpy as jnp};
/// let x = jnp::array(&[1.0f32, 2.0]);
/// let y = lax::cond(&jnp::array(true), |x: Array| x * 2.0, |x: Array| -x, x);
/// assert_eq!(y.to_vec::<f32>(), vec![2.0, 4.0]);
/// ```
#[track_caller]
pub fn cond<T: Tree, U: Tree>(
    pred: &Array,
    true_fn: impl Fn(T) -> U,
    false_fn: impl Fn(T) -> U,
    operand: T,
) -> U {
    let loc = Location::caller();
    if pred.ndim() != 0 {
        fail(
            format!("cond: pred must be a scalar, got {}", pred.aval()),
            loc,
        );
    }
    let pred = match pred.dtype() {
        DType::Bool => pred.clone(),
        d if d.is_int() => lax::ne(pred, &lax::full_like_scalar(pred, 0.0)),
        _ => fail(
            format!(
                "cond: pred type must be either boolean or number, got {}",
                pred.aval()
            ),
            loc,
        ),
    };
    let index = lax::convert_element_type(&pred, DType::I32);
    switch_at("cond", index, &[&false_fn, &true_fn], operand, loc)
}

/// `branches[index](operand)` as one `cond` primitive; `index` (an integer scalar)
/// is clamped into `[0, branches.len() - 1]` like JAX.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{lax, numpy as jnp};
/// let f0 = |x: Array| x + 1.0;
/// let f1 = |x: Array| x * 10.0;
/// let y = lax::switch(&jnp::array(7i32), &[&f0, &f1], jnp::array(2.0f32));
/// assert_eq!(y.item::<f32>(), 20.0);
/// ```
#[track_caller]
pub fn switch<T: Tree, U: Tree>(index: &Array, branches: &[&dyn Fn(T) -> U], operand: T) -> U {
    let loc = Location::caller();
    if index.ndim() != 0 || !index.dtype().is_int() {
        fail(
            format!(
                "switch: index must be an integer scalar, got {}",
                index.aval()
            ),
            loc,
        );
    }
    let i = lax::convert_element_type(index, DType::I32);
    let lo = lax::full_like_scalar(&i, 0.0);
    let hi = lax::full_like_scalar(&i, branches.len().saturating_sub(1) as f64);
    let i = lax::clamp(&lo, &i, &hi);
    switch_at("switch", i, branches, operand, loc)
}

fn check_carry(
    what: &str,
    in_def: &TreeDef,
    in_avals: &[Aval],
    out_def: &TreeDef,
    out_avals: &[Aval],
    loc: &'static Location<'static>,
) {
    if in_def != out_def
        || in_avals.len() != out_avals.len()
        || !in_avals.iter().zip(out_avals).all(|(a, b)| same_type(a, b))
    {
        fail(
            format!(
                "{what}: the body function's carry output must have the same type as its input: \
                 the input carry is {} but the output carry is {}",
                type_text(in_def, in_avals),
                type_text(out_def, out_avals)
            ),
            loc,
        );
    }
}

fn while_at<T: Tree>(
    what: &str,
    cond_fun: impl Fn(&T) -> Array,
    body_fun: impl Fn(T) -> T,
    init: T,
    loc: &'static Location<'static>,
) -> T {
    let (leaves, def) = init.tree_flatten();
    if crate::config::run_eagerly(&leaves) {
        return while_eagerly(
            what,
            cond_fun,
            body_fun,
            T::tree_unflatten(&def, leaves),
            loc,
        );
    }
    let avals: Vec<Aval> = leaves.iter().map(Array::aval).collect();
    let (cond, _) = trace_fn(&def, &avals, |x: T| cond_fun(&x));
    let pred = cond.jaxpr.out_avals();
    if pred.len() != 1 || !pred[0].shape.is_empty() || pred[0].dtype != DType::Bool {
        fail(
            format!(
                "{what}: cond_fun must return a boolean scalar, but got {}",
                avals_text(&pred)
            ),
            loc,
        );
    }
    let (body, out_def) = trace_fn(&def, &avals, body_fun);
    check_carry(what, &def, &avals, &out_def, &body.jaxpr.out_avals(), loc);
    let outs = bind_while(cond, &[], body, &[], &leaves, loc);
    T::tree_unflatten(&def, outs)
}

/// `while_loop` under disable_jit: a Rust loop on concrete values.
fn while_eagerly<T: Tree>(
    what: &str,
    cond_fun: impl Fn(&T) -> Array,
    body_fun: impl Fn(T) -> T,
    mut carry: T,
    loc: &'static Location<'static>,
) -> T {
    loop {
        let p = cond_fun(&carry);
        if p.ndim() != 0 || p.dtype() != DType::Bool {
            fail(
                format!(
                    "{what}: cond_fun must return a boolean scalar, but got {}",
                    p.aval()
                ),
                loc,
            );
        }
        if !p.item::<bool>() {
            return carry;
        }
        carry = body_fun(carry);
    }
}

/// `while cond_fun(carry) { carry = body_fun(carry) }` as one `while` primitive (a
/// real loop on the device). The carry is a pytree whose types the body keeps.
/// Forward-mode differentiable; reverse mode is an error like in JAX (use `scan` or
/// `fori_loop` with static bounds).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{lax, numpy as jnp};
/// let y = lax::while_loop(|c: &Array| c.lt(10.0), |c: Array| c * 1.5, jnp::array(1.0f32));
/// assert!((y.item::<f32>() - 1.5f32.powi(6)).abs() < 1e-4);
/// ```
#[track_caller]
pub fn while_loop<T: Tree>(
    cond_fun: impl Fn(&T) -> Array,
    body_fun: impl Fn(T) -> T,
    init: T,
) -> T {
    while_at("while_loop", cond_fun, body_fun, init, Location::caller())
}

/// A `fori_loop` bound: a Rust integer is static (the loop becomes a `scan`, so it
/// is reverse-differentiable); an `Array` is dynamic (the loop becomes a `while`).
pub enum LoopBound {
    Static(i64),
    Dynamic(Array),
}

macro_rules! static_bound {
    ($($t:ty),*) => {$(
        impl From<$t> for LoopBound {
            fn from(v: $t) -> LoopBound {
                LoopBound::Static(v as i64)
            }
        }
    )*};
}
static_bound!(i32, i64, u32, usize);

impl From<Array> for LoopBound {
    fn from(v: Array) -> LoopBound {
        LoopBound::Dynamic(v)
    }
}

impl From<&Array> for LoopBound {
    fn from(v: &Array) -> LoopBound {
        LoopBound::Dynamic(v.clone())
    }
}

/// `for i in lower..upper { carry = body(i, carry) }`. With Rust integer bounds the
/// trip count is static and the loop is a `scan` (reverse-differentiable); with
/// `Array` bounds it is a `while`. `i` is an int32 scalar (or the bounds' dtype).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{lax, numpy as jnp};
/// let y = lax::fori_loop(0, 4, |i: Array, c: Array| c + i.astype(DType::F32), jnp::array(0.0f32));
/// assert_eq!(y.item::<f32>(), 6.0);
/// ```
#[track_caller]
pub fn fori_loop<T: Tree>(
    lower: impl Into<LoopBound>,
    upper: impl Into<LoopBound>,
    body: impl Fn(Array, T) -> T,
    init: T,
) -> T {
    let loc = Location::caller();
    match (lower.into(), upper.into()) {
        (LoopBound::Static(lo), LoopBound::Static(hi)) => {
            let length = (hi - lo).max(0) as usize;
            let i0 = Array::scalar_i128(lo as i128, DType::I32, true);
            let opts = ScanOptions {
                length: Some(length),
                ..ScanOptions::default()
            };
            let ((_, carry), ()) = scan_at(
                "fori_loop",
                |(i, c): (Array, T), _: ()| {
                    let one = lax::full_like_scalar(&i, 1.0);
                    let next = lax::add(&i, &one);
                    ((next, body(i, c)), ())
                },
                (i0, init),
                (),
                opts,
                loc,
            );
            carry
        }
        (lo, hi) => {
            let dynamic = |b: &LoopBound| match b {
                LoopBound::Dynamic(a) => Some(a.dtype()),
                LoopBound::Static(_) => None,
            };
            let dtype = dynamic(&lo).or(dynamic(&hi)).expect("a dynamic bound");
            let as_array = |b: LoopBound| match b {
                LoopBound::Static(v) => Array::scalar_i128(v as i128, dtype, true),
                LoopBound::Dynamic(a) => a,
            };
            let (lo, hi) = (as_array(lo), as_array(hi));
            for b in [&lo, &hi] {
                if b.ndim() != 0 || !b.dtype().is_int() || b.dtype() != dtype {
                    fail(
                        format!(
                            "fori_loop: the bounds must be integer scalars of one dtype, got {} and {}",
                            lo.aval(),
                            hi.aval()
                        ),
                        loc,
                    );
                }
            }
            let (_, _, carry) = while_at(
                "fori_loop",
                |(i, hi, _): &(Array, Array, T)| lax::lt(i, hi),
                |(i, hi, c): (Array, Array, T)| {
                    let one = lax::full_like_scalar(&i, 1.0);
                    let next = lax::add(&i, &one);
                    (next, hi, body(i, c))
                },
                (lo, hi, init),
                loc,
            );
            carry
        }
    }
}

/// Options of [`scan_with`], like `jax.lax.scan`'s keyword arguments.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// The number of iterations; required when there are no xs, else must match them.
    pub length: Option<usize>,
    /// Scan from the end of the xs to the start (the ys keep the xs' order).
    pub reverse: bool,
    /// Iterations per trip of the lowered loop (the body is repeated `unroll` times
    /// in the loop; the `length % unroll` remaining iterations follow it). At least 1;
    /// values above `length` unroll the whole scan. Results do not change.
    pub unroll: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            length: None,
            reverse: false,
            unroll: 1,
        }
    }
}

fn scan_at<C: Tree, X: Tree, Y: Tree>(
    what: &str,
    f: impl Fn(C, X) -> (C, Y),
    init: C,
    xs: X,
    opts: ScanOptions,
    loc: &'static Location<'static>,
) -> (C, Y) {
    let (carry, c_def) = init.tree_flatten();
    let (xs, x_def) = xs.tree_flatten();
    let mut length = opts.length;
    for x in &xs {
        let Some(&n) = x.shape().first() else {
            fail(
                format!(
                    "{what}: scanned-over values must have a leading axis, got {}",
                    x.aval()
                ),
                loc,
            );
        };
        match length {
            Some(l) if l != n => fail(
                format!(
                    "{what}: scanned-over values have inconsistent leading axis sizes: {} has {n}, expected {l}",
                    x.aval()
                ),
                loc,
            ),
            _ => length = Some(n),
        }
    }
    let Some(length) = length else {
        fail(
            format!("{what}: got no values to scan over and `length` was not specified"),
            loc,
        );
    };
    if opts.unroll == 0 {
        fail(format!("{what}: unroll must be at least 1, got 0"), loc);
    }
    let c_avals: Vec<Aval> = carry.iter().map(Array::aval).collect();
    let all: Vec<Array> = carry.iter().chain(&xs).cloned().collect();
    if length > 0 && crate::config::run_eagerly(&all) {
        let carry = C::tree_unflatten(&c_def, carry);
        return scan_eagerly(what, f, carry, &xs, &x_def, length, opts.reverse, loc);
    }
    let mut avals = c_avals.clone();
    avals.extend(xs.iter().map(|x| unstacked(&x.aval())));
    let nk = carry.len();
    let defs = Mutex::new(None);
    let body = trace_sub(&avals, |a| {
        let c = C::tree_unflatten(&c_def, a[..nk].to_vec());
        let x = X::tree_unflatten(&x_def, a[nk..].to_vec());
        let (c, y) = f(c, x);
        let (mut cl, cd) = c.tree_flatten();
        let (yl, yd) = y.tree_flatten();
        *defs.lock().expect("defs") = Some((cd, yd));
        cl.extend(yl);
        cl
    });
    let (out_c_def, y_def) = defs.into_inner().expect("defs").expect("the body ran");
    let out = body.jaxpr.out_avals();
    check_carry(
        what,
        &c_def,
        &c_avals,
        &out_c_def,
        &out[..out_c_def.num_leaves().min(out.len())],
        loc,
    );
    let nconsts = body.consts.len();
    let prim = Scan {
        jaxpr: body.jaxpr,
        length,
        reverse: opts.reverse,
        num_consts: nconsts,
        num_carry: nk,
        linear: vec![false; nconsts + nk + xs.len()],
        unroll: opts.unroll,
    };
    let mut rest = carry;
    rest.extend(xs);
    let outs = bind_scan(prim, body.consts, &rest, loc);
    let (c, y) = outs.split_at(nk);
    (
        C::tree_unflatten(&c_def, c.to_vec()),
        Y::tree_unflatten(&y_def, y.to_vec()),
    )
}

/// `scan` under disable_jit: a Rust loop over the leading axis of concrete xs.
#[allow(clippy::too_many_arguments)]
fn scan_eagerly<C: Tree, X: Tree, Y: Tree>(
    what: &str,
    f: impl Fn(C, X) -> (C, Y),
    mut carry: C,
    xs: &[Array],
    x_def: &TreeDef,
    length: usize,
    reverse: bool,
    loc: &'static Location<'static>,
) -> (C, Y) {
    let (c0, c_def) = carry.tree_flatten();
    let c_avals: Vec<Aval> = c0.iter().map(Array::aval).collect();
    let mut ys: Vec<Option<Vec<Array>>> = vec![None; length];
    let mut y_def = None;
    for step in 0..length {
        let i = if reverse { length - 1 - step } else { step };
        let x: Vec<Array> = xs
            .iter()
            .map(|x| lax::squeeze(&lax::slice_in_dim(x, i, i + 1, 1, 0), &[0]))
            .collect();
        let (c, y) = f(carry, X::tree_unflatten(x_def, x));
        let (cl, cd) = c.tree_flatten();
        let out_avals: Vec<Aval> = cl.iter().map(Array::aval).collect();
        check_carry(what, &c_def, &c_avals, &cd, &out_avals, loc);
        carry = C::tree_unflatten(&cd, cl);
        let (yl, yd) = y.tree_flatten();
        y_def = Some(yd);
        ys[i] = Some(yl);
    }
    let ys: Vec<Vec<Array>> = ys.into_iter().map(|y| y.expect("every step ran")).collect();
    let stacked: Vec<Array> = (0..ys[0].len())
        .map(|j| {
            let rows: Vec<Array> = ys.iter().map(|y| lax::expand_dims(&y[j], &[0])).collect();
            lax::concatenate(&rows, 0)
        })
        .collect();
    (
        carry,
        Y::tree_unflatten(&y_def.expect("length > 0"), stacked),
    )
}

/// `jax.lax.scan`: loops `f(carry, x) -> (carry, y)` over the leading axis of the
/// pytree `xs` and returns the final carry and the stacked ys, as one `scan`
/// primitive (a real loop; reverse-differentiable).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{lax, numpy as jnp};
/// let xs = jnp::array(&[1.0f32, 2.0, 3.0]);
/// let (total, partial) = lax::scan(|c: Array, x: Array| (&c + &x, &c + &x), jnp::array(0.0f32), xs);
/// assert_eq!(total.item::<f32>(), 6.0);
/// assert_eq!(partial.to_vec::<f32>(), vec![1.0, 3.0, 6.0]);
/// ```
#[track_caller]
pub fn scan<C: Tree, X: Tree, Y: Tree>(f: impl Fn(C, X) -> (C, Y), init: C, xs: X) -> (C, Y) {
    scan_at(
        "scan",
        f,
        init,
        xs,
        ScanOptions::default(),
        Location::caller(),
    )
}

/// [`scan`] with `length`, `reverse` and `unroll` options.
#[track_caller]
pub fn scan_with<C: Tree, X: Tree, Y: Tree>(
    f: impl Fn(C, X) -> (C, Y),
    init: C,
    xs: X,
    options: ScanOptions,
) -> (C, Y) {
    scan_at("scan", f, init, xs, options, Location::caller())
}

/// `jax.lax.map`: `f` applied to each slice of `xs` along its leading axis, stacked.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{lax, numpy as jnp};
/// let ys = lax::map(|x: Array| x.sum(None), jnp::array(&[[1.0f32, 2.0], [3.0, 4.0]]));
/// assert_eq!(ys.to_vec::<f32>(), vec![3.0, 7.0]);
/// ```
#[track_caller]
pub fn map<X: Tree, Y: Tree>(f: impl Fn(X) -> Y, xs: X) -> Y {
    let (_, ys) = scan_at(
        "map",
        |(), x: X| ((), f(x)),
        (),
        xs,
        ScanOptions::default(),
        Location::caller(),
    );
    ys
}

// ---- associative_scan ----------------------------------------------------------------------

/// Interleaves `a` and `b` along `axis` (`a` first; `a` has as many or one more
/// elements): pads each with zeros into the other's places and adds (ORs for bool).
fn interleave(a: &Array, b: &Array, axis: usize) -> Array {
    let (na, nb) = (a.shape()[axis], b.shape()[axis]);
    let same = na == nb;
    let config = |lo: i64, hi: i64, rank: usize| -> Vec<(i64, i64, usize)> {
        let mut c = vec![(0, 0, 0); rank];
        c[axis] = (lo, hi, 1);
        c
    };
    let pa = lax::pad(
        a,
        &lax::full_like_scalar(a, 0.0),
        &config(0, i64::from(same), a.ndim()),
    );
    let pb = lax::pad(
        b,
        &lax::full_like_scalar(b, 0.0),
        &config(1, i64::from(!same), b.ndim()),
    );
    if a.dtype() == DType::Bool {
        lax::bitwise_or(&pa, &pb)
    } else {
        lax::add(&pa, &pb)
    }
}

/// Every `stride`-th slice along `axis` from `start` up to `limit` (exclusive).
fn strided(x: &Array, start: usize, limit: usize, stride: usize, axis: usize) -> Array {
    lax::slice_in_dim(x, start, limit.max(start), stride, axis)
}

/// JAX's parallel prefix scan (Blelloch-style): combine adjacent pairs, scan the
/// half-length result recursively (the odd positions), then combine it with the even
/// elements and interleave.
fn prefix_scan(
    combine: &dyn Fn(Vec<Array>, Vec<Array>) -> Vec<Array>,
    elems: Vec<Array>,
    axis: usize,
) -> Vec<Array> {
    let n = elems[0].shape()[axis];
    if n < 2 {
        return elems;
    }
    let reduced = combine(
        elems
            .iter()
            .map(|e| strided(e, 0, n - 1, 2, axis))
            .collect(),
        elems.iter().map(|e| strided(e, 1, n, 2, axis)).collect(),
    );
    let odd = prefix_scan(combine, reduced, axis);
    let evens_from_2: Vec<Array> = elems.iter().map(|e| strided(e, 2, n, 2, axis)).collect();
    let even = if n.is_multiple_of(2) {
        let m = odd[0].shape()[axis];
        combine(
            odd.iter().map(|e| strided(e, 0, m - 1, 1, axis)).collect(),
            evens_from_2,
        )
    } else {
        combine(odd.clone(), evens_from_2)
    };
    elems
        .iter()
        .zip(even)
        .zip(odd)
        .map(|((e, ev), od)| {
            let first = strided(e, 0, 1, 1, axis);
            interleave(&lax::concatenate(&[first, ev], axis), &od, axis)
        })
        .collect()
}

/// `jax.lax.associative_scan`: all prefix combinations `f(...f(f(x0, x1), x2)..., xi)`
/// of the slices of the pytree `elems` along `axis` (negative counts from the end),
/// or suffix combinations when `reverse`. `f` must be associative and work
/// elementwise on stacks of slices (it is called on whole arrays, each combining
/// element-for-element along `axis`); it must return the pytree structure and
/// shapes of its inputs. Built from slices, pads, concatenations and `f` in
/// O(log n) depth, so it differentiates, vmaps and jits like ordinary code.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{lax, numpy as jnp};
/// let xs = jnp::array(&[1.0f32, 2.0, 3.0, 4.0, 5.0]);
/// let c = lax::associative_scan(|a: Array, b: Array| a + b, xs, false, 0);
/// assert_eq!(c.to_vec::<f32>(), vec![1.0, 3.0, 6.0, 10.0, 15.0]);
/// ```
#[track_caller]
pub fn associative_scan<T: Tree>(f: impl Fn(T, T) -> T, elems: T, reverse: bool, axis: i64) -> T {
    let loc = Location::caller();
    let (leaves, def) = elems.tree_flatten();
    let Some(first) = leaves.first() else {
        fail("associative_scan: elems has no array leaves", loc);
    };
    let rank = first.ndim() as i64;
    if axis < -rank || axis >= rank {
        fail(
            format!(
                "associative_scan: axis {axis} is out of bounds for elems of rank {rank} ({})",
                first.aval()
            ),
            loc,
        );
    }
    let ax = (if axis < 0 { axis + rank } else { axis }) as usize;
    let n = first.shape()[ax];
    for l in &leaves {
        if l.ndim() <= ax || l.shape()[ax] != n {
            fail(
                format!(
                    "associative_scan: array inputs must all have the same length along axis {axis}: \
                     got {} and {}",
                    first.aval(),
                    l.aval()
                ),
                loc,
            );
        }
    }
    let combine = |a: Vec<Array>, b: Vec<Array>| -> Vec<Array> {
        let want: Vec<Aval> = a.iter().map(Array::aval).collect();
        let (out, out_def) =
            f(T::tree_unflatten(&def, a), T::tree_unflatten(&def, b)).tree_flatten();
        let got: Vec<Aval> = out.iter().map(Array::aval).collect();
        if out_def != def
            || got.len() != want.len()
            || !got.iter().zip(&want).all(|(g, w)| same_type(g, w))
        {
            fail(
                format!(
                    "associative_scan: the combine function must return the type of its inputs: \
                     it takes {} but returns {}",
                    type_text(&def, &want),
                    type_text(&out_def, &got)
                ),
                loc,
            );
        }
        out
    };
    let flip = |xs: Vec<Array>| -> Vec<Array> {
        if reverse {
            xs.iter().map(|x| lax::rev(x, &[ax])).collect()
        } else {
            xs
        }
    };
    let out = flip(prefix_scan(&combine, flip(leaves), ax));
    T::tree_unflatten(&def, out)
}
