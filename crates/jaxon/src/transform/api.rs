//! The transformations on pytrees: `jit`, `grad`, `value_and_grad`, `jvp`, `vjp`,
//! `linearize`, `jacfwd`, `jacrev`, `hessian`, `vmap`, `make_jaxpr`. Each flattens
//! its inputs, runs the flat transformation from the sibling modules and rebuilds
//! the output structure.

use super::{ad, batching, jit as jit_mod, jvp as jvp_mod};
use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::jaxpr::{trace_to_jaxpr, ClosedJaxpr};
use crate::error::user_error;
use crate::lax;
use crate::tree::{Tree, TreeDef};
use std::sync::{Arc, Mutex};

/// Runs `f` on flat leaves: unflattens to `A`, calls, flattens the `B` result and
/// stores its structure in `out_def`.
fn flat_call<A: Tree, B: Tree>(
    f: &impl Fn(A) -> B,
    in_def: &TreeDef,
    leaves: &[Array],
    out_def: &Mutex<Option<TreeDef>>,
) -> Vec<Array> {
    let a = A::tree_unflatten(in_def, leaves.to_vec());
    let (outs, def) = f(a).tree_flatten();
    *out_def.lock().expect("out def lock") = Some(def);
    outs
}

fn take_def(out_def: &Mutex<Option<TreeDef>>) -> TreeDef {
    out_def
        .lock()
        .expect("out def lock")
        .clone()
        .expect("the function ran")
}

// ---- jit ------------------------------------------------------------------------------

#[derive(Clone, PartialEq, Eq, Hash)]
struct JitKey {
    def: TreeDef,
    avals: Vec<Aval>,
    /// Settings that change what tracing produces (JAX's trace context).
    threefry_partitionable: bool,
}

impl JitKey {
    /// Whether a call with `leaves` of structure `def` has this signature (without
    /// building a key: the fast path of a repeated call).
    fn matches(&self, def: &TreeDef, leaves: &[Array], threefry_partitionable: bool) -> bool {
        self.threefry_partitionable == threefry_partitionable
            && self.avals.len() == leaves.len()
            && self.avals.iter().zip(leaves).all(|(a, l)| {
                a.dtype == l.dtype() && a.weak_type == l.weak_type() && a.shape == l.shape()
            })
            && self.def == *def
    }
}

/// A jitted function's executables by signature, and the last one used.
struct JitEntries<E> {
    by_key: rustc_hash::FxHashMap<JitKey, E>,
    last: Option<(JitKey, E)>,
}

impl<E> Default for JitEntries<E> {
    fn default() -> Self {
        JitEntries {
            by_key: Default::default(),
            last: None,
        }
    }
}

/// Compiles `f` for each new input signature (tree structure, shapes, dtypes, weak
/// types and `Static` values) and reuses the executable afterwards: a call with a
/// known signature neither traces nor compiles. Under another transformation the
/// function is traced through, so the outer transformation sees its operations.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let f = jit(|x: Array| x.tanh() * 2.0);
/// let y = f(jnp::array(&[0.0f32, 1.0]));
/// assert!((y.to_vec::<f32>()[1] - 2.0 * 1f32.tanh()).abs() < 1e-6);
/// ```
pub fn jit<A: Tree, B: Tree, F: Fn(A) -> B>(f: F) -> impl Fn(A) -> B {
    let cache: Arc<jit_mod::JitCache<JitKey>> = Arc::new(jit_mod::JitCache::new("jit"));
    // The fast path of a call: the last signature compares equal without building
    // a key; otherwise one lookup (FxHash) finds the executable and the output
    // structure.
    type Entry = (Arc<jit_mod::Compiled>, TreeDef);
    let entries: Arc<Mutex<JitEntries<Entry>>> = Arc::default();
    move |a: A| {
        let (leaves, def) = a.tree_flatten();
        if !jit_mod::should_compile(&leaves) {
            return f(A::tree_unflatten(&def, leaves));
        }
        let partitionable = crate::random::threefry_partitionable();
        let (compiled, out_def) = {
            // Held while compiling, so a signature is traced once even when
            // several threads call at once (tracing never re-enters this path:
            // nested calls see a tracer and inline).
            let mut entries = entries.lock().expect("jit entries");
            let last_hit = entries
                .last
                .as_ref()
                .filter(|(k, _)| k.matches(&def, &leaves, partitionable))
                .map(|(_, e)| e.clone());
            match last_hit {
                Some(entry) => entry,
                None => {
                    let key = JitKey {
                        def: def.clone(),
                        avals: leaves.iter().map(Array::aval).collect(),
                        threefry_partitionable: partitionable,
                    };
                    let entry = match entries.by_key.get(&key).cloned() {
                        Some(entry) => entry,
                        None => {
                            let out_def_slot = Mutex::new(None);
                            let compiled = cache.get_or_compile(&key, &key.avals, |tracers| {
                                flat_call(&f, &key.def, tracers, &out_def_slot)
                            });
                            let out_def = out_def_slot
                                .into_inner()
                                .expect("out def lock")
                                .expect("tracing records the output structure");
                            let entry = (compiled, out_def);
                            entries.by_key.insert(key.clone(), entry.clone());
                            entry
                        }
                    };
                    entries.last = Some((key, entry.clone()));
                    entry
                }
            }
        };
        B::tree_unflatten(&out_def, compiled.run(&leaves))
    }
}

/// Options of [`jit_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JitOptions {
    /// Arguments whose buffers the computation may reuse for its outputs (JAX's
    /// `donate_argnums`): positions in the argument tuple (position 0 is the whole
    /// argument when it is not a tuple). After a call the caller's donated arrays are
    /// deleted; reading them is an error.
    pub donate: Vec<usize>,
}

/// `jit` with options (donation).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let step = jit_with(|(w, g): (Array, Array)| &w - &g * 0.1, JitOptions { donate: vec![0] });
/// let w = jnp::ones(&[3], DType::F32);
/// let w2 = step((w.clone(), jnp::ones(&[3], DType::F32)));
/// assert_eq!(w2.to_vec::<f32>(), vec![0.9; 3]);
/// assert!(std::panic::catch_unwind(|| w.to_vec::<f32>()).is_err()); // donated
/// ```
pub fn jit_with<A: Tree, B: Tree, F: Fn(A) -> B>(f: F, options: JitOptions) -> impl Fn(A) -> B {
    let jitted = jit(f);
    move |a: A| {
        let (leaves, def) = a.tree_flatten();
        let donated = donated_leaves(&def, &options.donate);
        let out = jitted(A::tree_unflatten(&def, leaves.clone()));
        if jit_mod::should_compile(&leaves) {
            for (leaf, d) in leaves.iter().zip(donated) {
                if d {
                    leaf.buffer().delete();
                }
            }
        }
        out
    }
}

/// For each leaf, whether it belongs to a donated argument position.
fn donated_leaves(def: &TreeDef, donate: &[usize]) -> Vec<bool> {
    let positions: Vec<&TreeDef> = if matches!(def.kind(), crate::tree::NodeKind::Tuple) {
        def.children().iter().collect()
    } else {
        vec![def]
    };
    positions
        .iter()
        .enumerate()
        .flat_map(|(i, p)| std::iter::repeat_n(donate.contains(&i), p.num_leaves()))
        .collect()
}

/// The jaxpr of `f` at the given arguments (printable with `Display`).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let j = make_jaxpr(|x: Array| x.sin() * 2.0)(jnp::array(&[1.0f32, 2.0]));
/// assert_eq!(j.to_string(), "{ lambda ; a:f32[2]. let b:f32[2] = sin a; c:f32[2] = mul b 2.0:f32[] in (c,) }");
/// ```
pub fn make_jaxpr<A: Tree, B: Tree, F: Fn(A) -> B>(f: F) -> impl Fn(A) -> ClosedJaxpr {
    move |a: A| {
        let (leaves, def) = a.tree_flatten();
        let avals: Vec<Aval> = leaves.iter().map(Array::aval).collect();
        let slot = Mutex::new(None);
        trace_to_jaxpr(&avals, |tracers| flat_call(&f, &def, tracers, &slot))
    }
}

// ---- forward and reverse mode --------------------------------------------------------------

/// `(f(primals), df(primals)·tangents)`; `tangents` has the structure of `primals`.
#[track_caller]
pub fn jvp<A: Tree, B: Tree>(f: impl Fn(A) -> B, primals: A, tangents: A) -> (B, B) {
    let (p, def) = primals.tree_flatten();
    let (t, tdef) = tangents.tree_flatten();
    if def != tdef {
        user_error(format!(
            "jvp: primals {def} and tangents {tdef} have different structures"
        ));
    }
    let slot = Mutex::new(None);
    let (outs, touts) = jvp_mod::jvp_flat(|x| flat_call(&f, &def, x, &slot), &p, &t);
    let out_def = take_def(&slot);
    (
        B::tree_unflatten(&out_def, outs),
        B::tree_unflatten(&out_def, touts),
    )
}

/// `(f(primals), pullback)` where `pullback(cotangent of the output)` is the
/// cotangent of the inputs.
pub fn vjp<A: Tree, B: Tree>(f: impl Fn(A) -> B, primals: A) -> (B, impl Fn(B) -> A) {
    let (p, def) = primals.tree_flatten();
    let slot = Mutex::new(None);
    let (outs, lin) = ad::vjp_flat(|x| flat_call(&f, &def, x, &slot), &p);
    let out_def = take_def(&slot);
    let pullback = move |ct: B| {
        let (cts, ct_def) = ct.tree_flatten();
        if ct_def != out_def {
            user_error(format!(
                "vjp: the cotangent {ct_def} does not match the output structure {out_def}"
            ));
        }
        A::tree_unflatten(&def, lin.transpose(&cts))
    };
    (B::tree_unflatten(&take_def(&slot), outs), pullback)
}

/// `(f(primals), f_jvp)` where `f_jvp(tangents)` evaluates the linearization.
pub fn linearize<A: Tree, B: Tree>(f: impl Fn(A) -> B, primals: A) -> (B, impl Fn(A) -> B) {
    let (p, def) = primals.tree_flatten();
    let slot = Mutex::new(None);
    let (outs, lin) = ad::linearize_flat(|x| flat_call(&f, &def, x, &slot), &p);
    let out_def = take_def(&slot);
    let od = out_def.clone();
    let f_jvp = move |t: A| {
        let (ts, tdef) = t.tree_flatten();
        if tdef != def {
            user_error(format!(
                "linearize: tangents {tdef} do not match the primals {def}"
            ));
        }
        let tin: Vec<Array> = ts
            .into_iter()
            .zip(&lin.has_tangent)
            .filter(|(_, h)| **h)
            .map(|(t, _)| t)
            .collect();
        let outs = lin.jaxpr.call(&tin);
        B::tree_unflatten(&od, outs)
    };
    (B::tree_unflatten(&out_def, outs), f_jvp)
}

/// The gradient of a scalar function with respect to its (pytree) argument.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let g = grad(|x: Array| x.sin().sum(None));
/// let x = jnp::array(&[0.0f32, 1.0]);
/// assert!((g(x).to_vec::<f32>()[1] - 1f32.cos()).abs() < 1e-6);
/// ```
#[track_caller]
pub fn grad<A: Tree, F: Fn(A) -> Array>(f: F) -> impl Fn(A) -> A {
    let vg = value_and_grad(f);
    move |a: A| vg(a).1
}

/// `(f(x), grad f(x))`.
/// Errors (non-scalar output, integer inputs) point at the line that called
/// `value_and_grad`.
#[track_caller]
pub fn value_and_grad<A: Tree, F: Fn(A) -> Array>(f: F) -> impl Fn(A) -> (Array, A) {
    let loc = std::panic::Location::caller();
    move |a: A| {
        let (p, def) = a.tree_flatten();
        let (v, g) =
            ad::value_and_grad_at(|x| vec![f(A::tree_unflatten(&def, x.to_vec()))], &p, loc);
        (v, A::tree_unflatten(&def, g))
    }
}

/// The gradient of the first output of `f`, which also returns auxiliary data:
/// `(grad, aux)`.
#[track_caller]
pub fn grad_with_aux<A: Tree, Aux: Tree, F: Fn(A) -> (Array, Aux)>(f: F) -> impl Fn(A) -> (A, Aux) {
    let vg = value_and_grad_with_aux(f);
    move |a: A| {
        let ((_, aux), g) = vg(a);
        (g, aux)
    }
}

/// `((value, aux), grad)` for `f` returning `(scalar, aux)`.
#[track_caller]
pub fn value_and_grad_with_aux<A: Tree, Aux: Tree, F: Fn(A) -> (Array, Aux)>(
    f: F,
) -> impl Fn(A) -> ((Array, Aux), A) {
    let loc = std::panic::Location::caller();
    move |a: A| {
        let (p, def) = a.tree_flatten();
        let aux_slot: Mutex<Option<(Vec<Array>, TreeDef)>> = Mutex::new(None);
        let (v, g) = ad::value_and_grad_at(
            |x| {
                let (v, aux) = f(A::tree_unflatten(&def, x.to_vec()));
                // The aux values leave the trace as plain values (no derivative flows).
                let (aux_leaves, aux_def) = aux.tree_flatten();
                let aux_leaves = aux_leaves.iter().map(lax::stop_gradient).collect();
                *aux_slot.lock().expect("aux lock") = Some((aux_leaves, aux_def));
                vec![v]
            },
            &p,
            loc,
        );
        let (aux_leaves, aux_def) = aux_slot.into_inner().expect("aux lock").expect("f ran");
        let aux = Aux::tree_unflatten(&aux_def, aux_leaves);
        ((v, aux), A::tree_unflatten(&def, g))
    }
}

// ---- Jacobians -------------------------------------------------------------------------------

/// The Jacobian by forward mode: shape `f(x).shape + x.shape`.
pub fn jacfwd<F: Fn(Array) -> Array>(f: F) -> impl Fn(Array) -> Array {
    move |x: Array| {
        let n = x.size();
        let basis = crate::numpy::eye_with(n, None, 0, x.dtype());
        let mut bshape = vec![n];
        bshape.extend_from_slice(x.shape());
        let basis = lax::reshape(&basis, &bshape);
        let cols = batching::vmap_flat(
            |t| jvp_mod::jvp_flat(|p| vec![f(p[0].clone())], std::slice::from_ref(&x), &t[..1]).1,
            &[basis],
            &[Some(0)],
            &[Some(-1)],
            None,
        );
        // cols: out.shape + [n] -> out.shape + x.shape
        let out = &cols[0];
        let mut shape = out.shape()[..out.ndim() - 1].to_vec();
        shape.extend_from_slice(x.shape());
        lax::reshape(out, &shape)
    }
}

/// The Jacobian by reverse mode: shape `f(x).shape + x.shape`.
pub fn jacrev<F: Fn(Array) -> Array>(f: F) -> impl Fn(Array) -> Array {
    move |x: Array| {
        let (y, lin) = ad::vjp_flat(|p| vec![f(p[0].clone())], std::slice::from_ref(&x));
        let m = y[0].size();
        let basis = crate::numpy::eye_with(m, None, 0, y[0].dtype());
        let mut bshape = vec![m];
        bshape.extend_from_slice(y[0].shape());
        let basis = lax::reshape(&basis, &bshape);
        let rows = batching::vmap_flat(
            |ct| lin.transpose(&ct[..1]),
            &[basis],
            &[Some(0)],
            &[Some(0)],
            None,
        );
        let mut shape = y[0].shape().to_vec();
        shape.extend_from_slice(x.shape());
        lax::reshape(&rows[0], &shape)
    }
}

/// The Hessian `jacfwd(jacrev(f))`: shape `f(x).shape + x.shape + x.shape`.
pub fn hessian<F: Fn(Array) -> Array + Clone>(f: F) -> impl Fn(Array) -> Array {
    jacfwd(jacrev(f))
}

// ---- vmap --------------------------------------------------------------------------------------

/// Which axis of each input (or output) is mapped: one spec for the whole tree, or
/// a tuple of specs for the elements of a tuple (a prefix of the tree, like JAX's
/// in_axes). `None` means not mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AxisSpec {
    Leaf(Option<i64>),
    Tuple(Vec<AxisSpec>),
}

/// Values usable as one entry of an [`AxisSpec`]: integers, `None`, nested specs.
pub trait IntoAxisSpec {
    fn into_axis_spec(self) -> AxisSpec;
}

impl IntoAxisSpec for Option<i64> {
    fn into_axis_spec(self) -> AxisSpec {
        AxisSpec::Leaf(self)
    }
}

impl IntoAxisSpec for AxisSpec {
    fn into_axis_spec(self) -> AxisSpec {
        self
    }
}

macro_rules! int_axis_spec {
    ($($t:ty),*) => {$(
        impl IntoAxisSpec for $t {
            fn into_axis_spec(self) -> AxisSpec {
                AxisSpec::Leaf(Some(self as i64))
            }
        }
    )*};
}
int_axis_spec!(i32, i64, usize);

/// A tuple of per-element axis specs: `axes![None, 0, 1]`.
#[macro_export]
macro_rules! axes {
    ($($a:expr),* $(,)?) => {
        $crate::transform::api::AxisSpec::Tuple(vec![$($crate::transform::api::IntoAxisSpec::into_axis_spec($a)),*])
    };
}

impl AxisSpec {
    fn prefix(&self) -> TreeDef {
        match self {
            AxisSpec::Leaf(_) => TreeDef::leaf(),
            AxisSpec::Tuple(v) => TreeDef::tuple(v.iter().map(AxisSpec::prefix).collect()),
        }
    }

    fn leaves(&self, out: &mut Vec<Option<i64>>) {
        match self {
            AxisSpec::Leaf(a) => out.push(*a),
            AxisSpec::Tuple(v) => v.iter().for_each(|s| s.leaves(out)),
        }
    }

    /// One axis per leaf of a tree with structure `full`.
    #[track_caller]
    fn broadcast_to(&self, full: &TreeDef, what: &str) -> Vec<Option<i64>> {
        let subtrees = match self {
            AxisSpec::Leaf(_) => vec![full.clone()],
            AxisSpec::Tuple(_) => {
                let prefix = self.prefix();
                let ok = prefix_matches(&prefix, full);
                if !ok {
                    user_error(format!(
                        "vmap: {what} {self:?} does not match the structure {full}"
                    ));
                }
                prefix.flatten_up_to(full)
            }
        };
        let mut axes = Vec::new();
        self.leaves(&mut axes);
        subtrees
            .iter()
            .zip(axes)
            .flat_map(|(sub, a)| std::iter::repeat_n(a, sub.num_leaves()))
            .collect()
    }
}

fn prefix_matches(prefix: &TreeDef, full: &TreeDef) -> bool {
    if prefix.is_leaf() {
        return true;
    }
    prefix.kind() == full.kind()
        && prefix.children().len() == full.children().len()
        && prefix
            .children()
            .iter()
            .zip(full.children())
            .all(|(p, f)| prefix_matches(p, f))
}

impl From<i64> for AxisSpec {
    fn from(a: i64) -> AxisSpec {
        AxisSpec::Leaf(Some(a))
    }
}

impl From<i32> for AxisSpec {
    fn from(a: i32) -> AxisSpec {
        AxisSpec::Leaf(Some(a as i64))
    }
}

impl From<usize> for AxisSpec {
    fn from(a: usize) -> AxisSpec {
        AxisSpec::Leaf(Some(a as i64))
    }
}

impl From<Option<i64>> for AxisSpec {
    fn from(a: Option<i64>) -> AxisSpec {
        AxisSpec::Leaf(a)
    }
}

/// Vectorizes `f` over the axes `in_axes` of its inputs; outputs are stacked on axis 0.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let sq = vmap(|x: Array| &x * &x, 0);
/// assert_eq!(sq(jnp::array(&[1.0f32, 2.0, 3.0])).to_vec::<f32>(), vec![1.0, 4.0, 9.0]);
/// ```
pub fn vmap<A: Tree, B: Tree, F: Fn(A) -> B>(
    f: F,
    in_axes: impl Into<AxisSpec>,
) -> impl Fn(A) -> B {
    vmap_with(f, in_axes, 0, None)
}

/// `vmap` with output axes and an axis name for collectives.
pub fn vmap_with<A: Tree, B: Tree, F: Fn(A) -> B>(
    f: F,
    in_axes: impl Into<AxisSpec>,
    out_axes: impl Into<AxisSpec>,
    axis_name: Option<&str>,
) -> impl Fn(A) -> B {
    let in_axes = in_axes.into();
    let out_axes = out_axes.into();
    let axis_name = axis_name.map(str::to_string);
    move |a: A| {
        let (leaves, def) = a.tree_flatten();
        let per_leaf = in_axes.broadcast_to(&def, "in_axes");
        let slot = Mutex::new(None);
        let outs = batching::vmap_flat_with(
            |x| flat_call(&f, &def, x, &slot),
            &leaves,
            &per_leaf,
            &|_| out_axes.broadcast_to(&take_def(&slot), "out_axes"),
            axis_name.as_deref(),
        );
        B::tree_unflatten(&take_def(&slot), outs)
    }
}

// ---- lower ---------------------------------------------------------------------------------

/// A function traced and lowered for given arguments (`lower(f, args)`): inspect its
/// jaxpr and HLO, or compile it.
pub struct Lowered {
    pub jaxpr: ClosedJaxpr,
    pub module: oxla::Module,
    out_def: TreeDef,
}

/// Traces `f` at `args` and lowers it to oxla HLO.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::numpy as jnp;
/// let l = jaxon::lower(|x: Array| x.tanh(), jnp::array(&[1.0f32]));
/// assert!(l.hlo_text().contains("tanh"));
/// let y: Array = l.compile().call(&[jnp::array(&[0.0f32])]);
/// assert_eq!(y.to_vec::<f32>(), vec![0.0]);
/// ```
pub fn lower<A: Tree, B: Tree>(f: impl Fn(A) -> B, args: A) -> Lowered {
    let (leaves, def) = args.tree_flatten();
    let avals: Vec<Aval> = leaves.iter().map(Array::aval).collect();
    let slot = Mutex::new(None);
    let jaxpr = trace_to_jaxpr(&avals, |t| flat_call(&f, &def, t, &slot));
    let module = crate::core::lower::lower_jaxpr("lowered", &jaxpr);
    Lowered {
        jaxpr,
        module,
        out_def: take_def(&slot),
    }
}

impl Lowered {
    /// The HLO module as text.
    pub fn hlo_text(&self) -> String {
        self.module.to_string()
    }

    /// The module as StableHLO MLIR text, which real XLA (e.g. jaxlib's
    /// `compile_and_load`) parses and runs. Fails for what StableHLO cannot express,
    /// such as host callbacks (`debug_print`, `pure_callback`).
    ///
    /// ```
    /// use jaxon::prelude::*;
    /// use jaxon::numpy as jnp;
    /// let l = jaxon::lower(|x: Array| x.tanh(), jnp::array(&[1.0f32]));
    /// assert!(l.stablehlo_text().unwrap().contains("stablehlo.tanh"));
    /// ```
    pub fn stablehlo_text(&self) -> Result<String, oxla::Error> {
        oxla::export::to_stablehlo_text(&self.module)
    }

    /// The module after oxla's optimization pipeline and fusion, as the CPU backend
    /// generates code for it: each `fusion` is one kernel.
    ///
    /// ```
    /// use jaxon::prelude::*;
    /// use jaxon::numpy as jnp;
    /// let l = jaxon::lower(|x: Array| (x.tanh() * 2.0).exp(), jnp::ones(&[8], DType::F32));
    /// let m = l.optimized_module();
    /// assert_eq!(oxla::passes::fusion::kernel_count(&m, m.entry), 1);
    /// ```
    pub fn optimized_module(&self) -> oxla::Module {
        oxla::backend::cpu::optimized_module(&self.module)
            .unwrap_or_else(|e| panic!("lower: oxla failed to optimize: {e}"))
    }

    /// Estimated flops, transcendental operations and bytes accessed.
    ///
    /// ```
    /// use jaxon::prelude::*;
    /// use jaxon::numpy as jnp;
    /// let a = jnp::ones(&[4, 8], DType::F32);
    /// let c = jaxon::lower(|(a, b): (Array, Array)| jnp::matmul(&a, &b), (a.clone(), a.t())).cost_analysis();
    /// assert_eq!(c.flops, 2.0 * 4.0 * 4.0 * 8.0);
    /// ```
    pub fn cost_analysis(&self) -> oxla::Cost {
        oxla::cost_analysis(&self.module)
    }

    /// Compiles the module.
    pub fn compile(&self) -> CompiledFn {
        let executable = oxla::default_client()
            .compile(self.module.clone())
            .unwrap_or_else(|e| panic!("lower: oxla failed to compile: {e}"));
        CompiledFn {
            compiled: jit_mod::Compiled {
                jaxpr: self.jaxpr.clone(),
                executable,
                out_avals: self.jaxpr.out_avals(),
            },
            out_def: self.out_def.clone(),
        }
    }
}

/// A compiled function from [`Lowered::compile`].
pub struct CompiledFn {
    compiled: jit_mod::Compiled,
    out_def: TreeDef,
}

impl CompiledFn {
    /// Runs on flat arguments (the leaves of the arguments it was lowered for).
    #[track_caller]
    pub fn call<B: Tree>(&self, args: &[Array]) -> B {
        let want = self.compiled.jaxpr.in_avals();
        let got: Vec<Aval> = args.iter().map(Array::aval).collect();
        let same = want.len() == got.len()
            && want
                .iter()
                .zip(&got)
                .all(|(w, g)| w.shape == g.shape && w.dtype == g.dtype);
        if !same {
            let w: Vec<String> = want.iter().map(|a| a.to_string()).collect();
            let g: Vec<String> = got.iter().map(|a| a.to_string()).collect();
            user_error(format!(
                "compiled function called with ({}) but lowered for ({})",
                g.join(", "),
                w.join(", ")
            ));
        }
        B::tree_unflatten(&self.out_def, self.compiled.run(args))
    }
}
