//! Custom derivatives like `jax.custom_jvp` / `jax.custom_vjp`, as the higher-order
//! primitives `custom_jvp_call` and `custom_vjp_call` holding the traced primal
//! function (`call_jaxpr`) and the user's rules.
//!
//! * Eval calls the primal function directly; jit records the primitive and lowers
//!   `call_jaxpr` inline; vmap batches `call_jaxpr` *and* the rules (their outputs are
//!   made batched along axis 0).
//! * JVP of `custom_jvp_call` runs the user's jvp rule with the enclosing trace
//!   current, so the rule itself is differentiable (higher-order derivatives).
//! * JVP of `custom_vjp_call` runs `fwd` and binds the linear primitive `custom_lin`
//!   on (residuals, tangents); its transpose calls `bwd`. Evaluating `custom_lin`
//!   forward (plain `jvp` of a custom_vjp function) is an error, like in JAX.
//!
//! Values the primal function captures from outside become leading operands
//! (`num_consts`) and get no derivative through the rules: pass everything that
//! must be differentiated as an argument.

use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::lower::lower_jaxpr_into;
use crate::core::primitive::{BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult};
use crate::core::trace::{bind_at, current_trace};
use crate::error::fail;
use crate::lax;
use crate::prim::control::SubJaxpr;
use crate::transform::batching::vmap_flat;
use crate::transform::rules::instantiate;
use crate::tree::{Tree, TreeDef};
use oxla::Value;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

// ---- sub-jaxpr helpers (shared with `transform::remat`) -----------------------------------

pub(crate) use super::control::{batch_sub, jvp_eval, to_front, trace_sub, Traced};

/// Whether the current trace executes eagerly (no transformation active).
pub(crate) fn is_eval_trace() -> bool {
    current_trace().kind() == "eval"
}

/// A short name for a function type, like Python's `__name__`: the last path
/// segment that is not a closure (`my_test::softplus::{{closure}}` gives `softplus`).
pub(crate) fn short_name<F>() -> String {
    let full = std::any::type_name::<F>();
    full.split("::")
        .filter(|s| !s.starts_with('{') && !s.is_empty())
        .last()
        .unwrap_or("fun")
        .split('<')
        .next()
        .unwrap_or("fun")
        .to_string()
}

fn avals_text(avals: &[Aval]) -> String {
    let parts: Vec<String> = avals.iter().map(|a| a.to_string()).collect();
    format!("({})", parts.join(", "))
}

fn same_types(got: &[Aval], want: &[Aval]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| g.shape == w.shape && g.dtype == w.dtype)
}

fn check_operands(prim: &str, got: &[Aval], want: &[Aval]) -> Result<(), String> {
    if !same_types(got, want) {
        return Err(format!(
            "{prim}: operands {} do not match call_jaxpr's inputs {}",
            avals_text(got),
            avals_text(want)
        ));
    }
    Ok(())
}

fn fresh_fun_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Identity of a rule for the primitive's equality and hashing (the eager cache):
/// the custom function it came from, the argument structure, and the batchings
/// applied to it (batched mask and size per vmap level).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RuleKey {
    fun: u64,
    def: TreeDef,
    batched: Vec<(Vec<bool>, usize)>,
}

impl RuleKey {
    fn batched(&self, bat: &[bool], size: usize) -> RuleKey {
        let mut k = self.clone();
        k.batched.push((bat.to_vec(), size));
        k
    }
}

/// Flattens `args` and runs `f` on their pytree; stores the output structure.
fn flat_call<A: Tree, B: Tree>(
    f: &impl Fn(A) -> B,
    def: &TreeDef,
    leaves: &[Array],
    out_def: &Mutex<Option<TreeDef>>,
) -> Vec<Array> {
    let (outs, d) = f(A::tree_unflatten(def, leaves.to_vec())).tree_flatten();
    *out_def.lock().expect("out def") = Some(d);
    outs
}

/// Traces `f` at `leaves` into a sub-jaxpr; returns it with the output structure.
pub(crate) fn trace_primal<A: Tree, B: Tree>(
    f: &impl Fn(A) -> B,
    def: &TreeDef,
    leaves: &[Array],
) -> (Traced, TreeDef) {
    let avals: Vec<Aval> = leaves.iter().map(Array::aval).collect();
    let slot = Mutex::new(None);
    let traced = trace_sub(&avals, |x| flat_call(f, def, x, &slot));
    let out_def = slot.into_inner().expect("out def").expect("f ran");
    (traced, out_def)
}

/// Lowers a call jaxpr inline (its operands are the primitive's operands).
fn lower_call(call: &SubJaxpr, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
    lower_jaxpr_into(ctx.b, &call.0, &[], args)
}

/// Zero tangents made explicit, one per primal.
fn full_tangents(primals: &[Array], tangents: &[Option<Array>]) -> Vec<Array> {
    primals
        .iter()
        .zip(tangents)
        .map(|(p, t)| instantiate(t, &p.aval().strong()))
        .collect()
}

/// Batch dims (0 or none) as vmap in_axes.
fn axes_of(bat: &[bool]) -> Vec<Option<i64>> {
    bat.iter().map(|&b| b.then_some(0)).collect()
}

// ---- custom_jvp ---------------------------------------------------------------------------

type FlatJvp = dyn Fn(&[Array], &[Array]) -> (Vec<Array>, Vec<Array>) + Send + Sync;

/// A custom JVP rule on flat arrays: (primals, tangents) -> (outputs, output tangents).
#[derive(Clone)]
pub struct JvpRule {
    name: String,
    key: RuleKey,
    f: Arc<FlatJvp>,
}

impl PartialEq for JvpRule {
    fn eq(&self, other: &JvpRule) -> bool {
        self.key == other.key
    }
}

impl Eq for JvpRule {}

impl Hash for JvpRule {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl fmt::Debug for JvpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `custom_jvp_call[name call_jaxpr jvp num_consts symbolic_zeros]`: operands are the
/// captured values (`num_consts`) then the arguments.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomJvpCall {
    pub name: String,
    pub call_jaxpr: SubJaxpr,
    pub num_consts: usize,
    pub jvp: JvpRule,
    pub loc: &'static Location<'static>,
}

impl Primitive for CustomJvpCall {
    fn name(&self) -> &'static str {
        "custom_jvp_call"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("name", self.name.clone()),
            ("call_jaxpr", self.call_jaxpr.to_string()),
            ("jvp", self.jvp.name.clone()),
            ("symbolic_zeros", "False".to_string()),
        ];
        if self.num_consts > 0 {
            p.push(("num_consts", self.num_consts.to_string()));
        }
        p
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        check_operands(&self.name, inputs, &self.call_jaxpr.in_avals())?;
        Ok(self.call_jaxpr.out_avals())
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        lower_call(&self.call_jaxpr, ctx, args)
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let n = self.num_consts;
        let ts = full_tangents(&primals[n..], &tangents[n..]);
        let (outs, touts) = (self.jvp.f)(&primals[n..], &ts);
        let want = self.call_jaxpr.out_avals();
        let got: Vec<Aval> = outs.iter().map(Array::aval).collect();
        let got_t: Vec<Aval> = touts.iter().map(Array::aval).collect();
        if !same_types(&got, &want) {
            return Err(format!(
                "the custom JVP rule {} of {} must return primal outputs like the function's \
                 {}, got {}",
                self.jvp.name,
                self.name,
                avals_text(&want),
                avals_text(&got)
            ));
        }
        if !same_types(&got_t, &want) {
            return Err(format!(
                "the custom JVP rule {} of {} must return tangent outputs with the shapes and \
                 dtypes of the primal outputs {}, got {}",
                self.jvp.name,
                self.name,
                avals_text(&want),
                avals_text(&got_t)
            ));
        }
        Ok((outs, touts.into_iter().map(Some).collect()))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let ops: Vec<Array> = args
            .iter()
            .zip(dims)
            .map(|(a, d)| to_front(a, *d))
            .collect();
        let bat: Vec<bool> = dims.iter().map(Option::is_some).collect();
        let nout = self.call_jaxpr.out_avals().len();
        let (traced, _) = batch_sub(&self.call_jaxpr, &bat, size, &vec![true; nout]);
        let bat_args = bat[self.num_consts..].to_vec();
        let inner = self.jvp.f.clone();
        let nargs = bat_args.len();
        let f = move |p: &[Array], t: &[Array]| {
            let mut xs = p.to_vec();
            xs.extend_from_slice(t);
            let axes = [axes_of(&bat_args), axes_of(&bat_args)].concat();
            let outs = vmap_batched(size, &xs, &axes, |xs| {
                let (o, to) = inner(&xs[..nargs], &xs[nargs..]);
                [o, to].concat()
            });
            let (o, to) = outs.split_at(outs.len() / 2);
            (o.to_vec(), to.to_vec())
        };
        let prim = CustomJvpCall {
            name: self.name.clone(),
            num_consts: traced.consts.len() + self.num_consts,
            call_jaxpr: traced.jaxpr,
            jvp: JvpRule {
                name: self.jvp.name.clone(),
                key: self.jvp.key.batched(&bat, size),
                f: Arc::new(f),
            },
            loc: self.loc,
        };
        let mut operands = traced.consts;
        operands.extend(ops);
        let outs = bind_at(Arc::new(prim), &operands, self.loc);
        Ok((outs, vec![Some(0); nout]))
    }
}

/// Maps `f` over `xs` (batched at `axes`) with batch size `size`; every output
/// comes out batched at 0.
fn vmap_batched(
    size: usize,
    xs: &[Array],
    axes: &[Option<i64>],
    f: impl FnOnce(&[Array]) -> Vec<Array>,
) -> Vec<Array> {
    if axes.iter().all(Option::is_none) {
        // Only captured values were batched: the rule's outputs are broadcast.
        return f(xs).iter().map(|o| lax::broadcast(o, &[size])).collect();
    }
    vmap_flat(f, xs, axes, &[Some(0)], None)
}

/// A function with a custom JVP rule, like `jax.custom_jvp` + `defjvp`.
///
/// `f` computes the value; `jvp(primals, tangents)` returns `(f(primals), tangent of
/// the output)`, both with `f`'s output structure (tangents of integer arguments are
/// zeros of their dtype). `jit`, `vmap` and eager calls run `f`; `jvp`/`grad` run the
/// rule, which is written with ordinary (traceable) operations, so derivatives of
/// any order use it. Errors in the rule's output point at the line that called
/// `custom_jvp`.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// // log(1 + exp(x)) whose derivative is computed as sigmoid(x): finite everywhere.
/// let f = custom_jvp(
///     |x: Array| jnp::logaddexp(&x, 0.0),
///     |x: Array, t: Array| (jnp::logaddexp(&x, 0.0), t * jaxon::nn::sigmoid(&x)),
/// );
/// let g = grad(move |x: Array| f(x).sum(None))(jnp::array(&[0.0f32, 1000.0]));
/// assert_eq!(g.to_vec::<f32>(), vec![0.5, 1.0]);
/// ```
#[track_caller]
pub fn custom_jvp<A, B, F, J>(f: F, jvp: J) -> impl Fn(A) -> B
where
    A: Tree + 'static,
    B: Tree + 'static,
    F: Fn(A) -> B,
    J: Fn(A, A) -> (B, B) + Send + Sync + 'static,
{
    let loc = Location::caller();
    let fun = fresh_fun_id();
    let name = short_name::<F>();
    let jvp_name = short_name::<J>();
    let rule = Arc::new(jvp);
    move |a: A| {
        if is_eval_trace() {
            return f(a);
        }
        let (leaves, def) = a.tree_flatten();
        let (traced, out_def) = trace_primal(&f, &def, &leaves);
        let (rule, in_def, od) = (rule.clone(), def.clone(), out_def.clone());
        let flat = move |p: &[Array], t: &[Array]| {
            let (po, to) = rule(
                A::tree_unflatten(&in_def, p.to_vec()),
                A::tree_unflatten(&in_def, t.to_vec()),
            );
            let (po, pdef) = po.tree_flatten();
            let (to, tdef) = to.tree_flatten();
            if pdef != od || tdef != od {
                fail(
                    format!(
                        "custom_jvp: the jvp rule must return (primal_out, tangent_out) with \
                         the function's output structure {od}, got {pdef} and {tdef}"
                    ),
                    loc,
                );
            }
            (po, to)
        };
        let prim = CustomJvpCall {
            name: name.clone(),
            num_consts: traced.consts.len(),
            call_jaxpr: traced.jaxpr,
            jvp: JvpRule {
                name: jvp_name.clone(),
                key: RuleKey {
                    fun,
                    def,
                    batched: Vec::new(),
                },
                f: Arc::new(flat),
            },
            loc,
        };
        let mut operands = traced.consts;
        operands.extend(leaves);
        B::tree_unflatten(&out_def, bind_at(Arc::new(prim), &operands, loc))
    }
}

// ---- custom_vjp ---------------------------------------------------------------------------

type FlatFwd = dyn Fn(&[Array]) -> (Vec<Array>, Vec<Array>) + Send + Sync;
type FlatBwd = dyn Fn(&[Array], &[Array]) -> Vec<Array> + Send + Sync;

/// The `fwd`/`bwd` pair of a custom VJP on flat arrays: `fwd(args) -> (outs, res)`,
/// `bwd(res, output cts) -> argument cts`.
#[derive(Clone)]
pub struct VjpRule {
    fwd_name: String,
    bwd_name: String,
    key: RuleKey,
    fwd: Arc<FlatFwd>,
    bwd: Arc<FlatBwd>,
}

impl PartialEq for VjpRule {
    fn eq(&self, other: &VjpRule) -> bool {
        self.key == other.key
    }
}

impl Eq for VjpRule {}

impl Hash for VjpRule {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl fmt::Debug for VjpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fwd={} bwd={}", self.fwd_name, self.bwd_name)
    }
}

/// JAX's message for forward-mode differentiation of a custom_vjp function.
pub const CUSTOM_VJP_JVP_MSG: &str =
    "can't apply forward-mode autodiff (jvp) to a custom_vjp function.";

/// `custom_vjp_call[name bwd call_jaxpr fwd num_consts symbolic_zeros]`: operands are
/// the captured values (`num_consts`) then the arguments.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomVjpCall {
    pub name: String,
    pub call_jaxpr: SubJaxpr,
    pub num_consts: usize,
    pub rule: VjpRule,
    pub loc: &'static Location<'static>,
}

impl Primitive for CustomVjpCall {
    fn name(&self) -> &'static str {
        "custom_vjp_call"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("name", self.name.clone()),
            ("bwd", self.rule.bwd_name.clone()),
            ("call_jaxpr", self.call_jaxpr.to_string()),
            ("fwd", self.rule.fwd_name.clone()),
            ("symbolic_zeros", "False".to_string()),
        ];
        if self.num_consts > 0 {
            p.push(("num_consts", self.num_consts.to_string()));
        }
        p
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        check_operands(&self.name, inputs, &self.call_jaxpr.in_avals())?;
        Ok(self.call_jaxpr.out_avals())
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        lower_call(&self.call_jaxpr, ctx, args)
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        // Only linearization (grad, vjp) may follow: the tangent map is known only
        // through its transpose `bwd`.
        if current_trace().kind() != "partial-eval" {
            return Err(CUSTOM_VJP_JVP_MSG.to_string());
        }
        let n = self.num_consts;
        let args = &primals[n..];
        let (outs, res) = (self.rule.fwd)(args);
        let want = self.call_jaxpr.out_avals();
        let got: Vec<Aval> = outs.iter().map(Array::aval).collect();
        if !same_types(&got, &want) {
            return Err(format!(
                "the custom VJP fwd rule {} of {} must return primal outputs like the \
                 function's {}, got {}",
                self.rule.fwd_name,
                self.name,
                avals_text(&want),
                avals_text(&got)
            ));
        }
        let lin = CustomLin {
            name: self.name.clone(),
            rule: self.rule.clone(),
            num_res: res.len(),
            in_avals: args.iter().map(|a| a.aval().strong()).collect(),
            out_avals: want.iter().map(Aval::strong).collect(),
            loc: self.loc,
        };
        let mut operands = res;
        operands.extend(full_tangents(args, &tangents[n..]));
        let touts = bind_at(Arc::new(lin), &operands, self.loc);
        Ok((outs, touts.into_iter().map(Some).collect()))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let ops: Vec<Array> = args
            .iter()
            .zip(dims)
            .map(|(a, d)| to_front(a, *d))
            .collect();
        let bat: Vec<bool> = dims.iter().map(Option::is_some).collect();
        let nout = self.call_jaxpr.out_avals().len();
        let (traced, _) = batch_sub(&self.call_jaxpr, &bat, size, &vec![true; nout]);
        let bat_args = bat[self.num_consts..].to_vec();
        let (fwd, bwd) = (self.rule.fwd.clone(), self.rule.bwd.clone());
        let in_axes = axes_of(&bat_args);
        let fwd_b = move |xs: &[Array]| {
            let outs = vmap_batched(size, xs, &in_axes, |xs| {
                let (o, r) = fwd(xs);
                [o, r].concat()
            });
            let (o, r) = outs.split_at(nout);
            (o.to_vec(), r.to_vec())
        };
        let bat_in = bat_args.clone();
        let bwd_b = move |res: &[Array], cts: &[Array]| {
            let mut xs = res.to_vec();
            xs.extend_from_slice(cts);
            let nres = res.len();
            let axes = vec![Some(0); xs.len()];
            let in_cts = vmap_batched(size, &xs, &axes, |xs| bwd(&xs[..nres], &xs[nres..]));
            // Cotangents of unbatched arguments are summed over the batch.
            in_cts
                .iter()
                .zip(&bat_in)
                .map(|(c, &b)| {
                    if b {
                        c.clone()
                    } else {
                        lax::reduce_sum(c, &[0])
                    }
                })
                .collect()
        };
        let prim = CustomVjpCall {
            name: self.name.clone(),
            num_consts: traced.consts.len() + self.num_consts,
            call_jaxpr: traced.jaxpr,
            rule: VjpRule {
                fwd_name: self.rule.fwd_name.clone(),
                bwd_name: self.rule.bwd_name.clone(),
                key: self.rule.key.batched(&bat, size),
                fwd: Arc::new(fwd_b),
                bwd: Arc::new(bwd_b),
            },
            loc: self.loc,
        };
        let mut operands = traced.consts;
        operands.extend(ops);
        let outs = bind_at(Arc::new(prim), &operands, self.loc);
        Ok((outs, vec![Some(0); nout]))
    }
}

/// `custom_lin[name bwd num_res]`: the linear tangent map of a custom_vjp function,
/// operands (residuals, argument tangents). Only its transpose (`bwd`) exists.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomLin {
    pub name: String,
    pub rule: VjpRule,
    pub num_res: usize,
    pub in_avals: Vec<Aval>,
    pub out_avals: Vec<Aval>,
    pub loc: &'static Location<'static>,
}

impl Primitive for CustomLin {
    fn name(&self) -> &'static str {
        "custom_lin"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("bwd", self.rule.bwd_name.clone()),
            ("num_res", self.num_res.to_string()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        if inputs.len() != self.num_res + self.in_avals.len() {
            return Err(format!(
                "expects {} residuals and {} tangents, got {} operands",
                self.num_res,
                self.in_avals.len(),
                inputs.len()
            ));
        }
        Ok(self.out_avals.clone())
    }

    fn lower(&self, _ctx: &mut LowerCtx, _args: &[Value]) -> Vec<Value> {
        fail(CUSTOM_VJP_JVP_MSG, self.loc)
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let res: Vec<Array> = args[..self.num_res]
            .iter()
            .map(|a| a.value().cloned())
            .collect::<Result<_, _>>()?;
        let cts: Vec<Array> = cts
            .iter()
            .zip(&self.out_avals)
            .map(|(c, a)| instantiate(c, a))
            .collect();
        let in_cts = (self.rule.bwd)(&res, &cts);
        let got: Vec<Aval> = in_cts.iter().map(Array::aval).collect();
        if !same_types(&got, &self.in_avals) {
            return Err(format!(
                "the custom VJP bwd rule {} of {} must return cotangents with the shapes and \
                 dtypes of the arguments {}, got {}",
                self.rule.bwd_name,
                self.name,
                avals_text(&self.in_avals),
                avals_text(&got)
            ));
        }
        let mut out = vec![None; self.num_res];
        out.extend(
            in_cts
                .into_iter()
                .zip(&args[self.num_res..])
                .map(|(c, a)| a.is_linear().then_some(c)),
        );
        Ok(out)
    }
}

/// A function with a custom VJP, like `jax.custom_vjp` + `defvjp`.
///
/// `fwd(args)` returns `(f(args), residuals)` (any pytree `R`), and
/// `bwd(residuals, output cotangent)` returns the cotangent of the arguments (their
/// structure, shapes and dtypes). Eager calls, `jit` and `vmap` run `f`; `grad` and
/// `vjp` run `fwd` then `bwd` (written with traceable operations, so reverse-over-
/// reverse works). Forward mode (`jvp`, `jacfwd`) is an error, like in JAX.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// // Gradient clipping: the identity whose cotangent is clipped to [-1, 1].
/// let clip_grad = custom_vjp(
///     |x: Array| x,
///     |x: Array| (x, ()),
///     |_res: (), ct: Array| jnp::clip(&ct, -1.0, 1.0),
/// );
/// let g = grad(move |x: Array| (clip_grad(x) * 5.0).sum(None))(jnp::array(&[2.0f32]));
/// assert_eq!(g.to_vec::<f32>(), vec![1.0]);
/// ```
#[track_caller]
pub fn custom_vjp<A, B, R, F, Fw, Bw>(f: F, fwd: Fw, bwd: Bw) -> impl Fn(A) -> B
where
    A: Tree + 'static,
    B: Tree + 'static,
    R: Tree + 'static,
    F: Fn(A) -> B,
    Fw: Fn(A) -> (B, R) + Send + Sync + 'static,
    Bw: Fn(R, B) -> A + Send + Sync + 'static,
{
    let loc = Location::caller();
    let fun = fresh_fun_id();
    let name = short_name::<F>();
    let (fwd_name, bwd_name) = (short_name::<Fw>(), short_name::<Bw>());
    let (fwd, bwd) = (Arc::new(fwd), Arc::new(bwd));
    move |a: A| {
        if is_eval_trace() {
            return f(a);
        }
        let (leaves, def) = a.tree_flatten();
        let (traced, out_def) = trace_primal(&f, &def, &leaves);
        let res_def: Arc<Mutex<Option<TreeDef>>> = Arc::new(Mutex::new(None));
        let (fw, in_def, od, rd) = (fwd.clone(), def.clone(), out_def.clone(), res_def.clone());
        let flat_fwd = move |x: &[Array]| {
            let (o, r) = fw(A::tree_unflatten(&in_def, x.to_vec()));
            let (o, odef) = o.tree_flatten();
            if odef != od {
                fail(
                    format!(
                        "custom_vjp: fwd must return the function's output structure {od}, \
                         got {odef}"
                    ),
                    loc,
                );
            }
            let (r, rdef) = r.tree_flatten();
            *rd.lock().expect("res def") = Some(rdef);
            (o, r)
        };
        let (bw, in_def, od) = (bwd.clone(), def.clone(), out_def.clone());
        let flat_bwd = move |res: &[Array], cts: &[Array]| {
            let rdef = res_def.lock().expect("res def").clone().expect("fwd ran");
            let r = R::tree_unflatten(&rdef, res.to_vec());
            let a = bw(r, B::tree_unflatten(&od, cts.to_vec()));
            let (c, cdef) = a.tree_flatten();
            if cdef != in_def {
                fail(
                    format!(
                        "custom_vjp: bwd must return cotangents with the arguments' structure \
                         {in_def}, got {cdef}"
                    ),
                    loc,
                );
            }
            c
        };
        let prim = CustomVjpCall {
            name: name.clone(),
            num_consts: traced.consts.len(),
            call_jaxpr: traced.jaxpr,
            rule: VjpRule {
                fwd_name: fwd_name.clone(),
                bwd_name: bwd_name.clone(),
                key: RuleKey {
                    fun,
                    def,
                    batched: Vec::new(),
                },
                fwd: Arc::new(flat_fwd),
                bwd: Arc::new(flat_bwd),
            },
            loc,
        };
        let mut operands = traced.consts;
        operands.extend(leaves);
        B::tree_unflatten(&out_def, bind_at(Arc::new(prim), &operands, loc))
    }
}
