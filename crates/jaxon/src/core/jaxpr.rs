//! Jaxprs: the frontend IR that transformations work on, the trace that builds
//! them, their evaluation and their printing in `jax.make_jaxpr`'s format.

use super::aval::Aval;
use super::primitive::Primitive;
use super::trace::{bind_at, fresh_trace_id, set_current_trace, Trace, TraceId, Tracer};
use crate::array::Array;
use crate::error::fail;
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A variable of a jaxpr: a unique id and its aval.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Var {
    pub id: usize,
    pub aval: Aval,
}

/// An equation input or a jaxpr output: a variable or an inline scalar literal.
#[derive(Clone, Debug)]
pub enum Atom {
    Var(Var),
    Literal(Array),
}

impl Atom {
    pub fn aval(&self) -> Aval {
        match self {
            Atom::Var(v) => v.aval.clone(),
            Atom::Literal(a) => a.aval(),
        }
    }
}

/// One primitive application: `outputs = prim[params] inputs`, with the user's
/// source line that produced it (for errors raised later, e.g. inside jit).
#[derive(Clone, Debug)]
pub struct Eqn {
    pub prim: Arc<dyn Primitive>,
    pub inputs: Vec<Atom>,
    pub outputs: Vec<Var>,
    pub loc: &'static Location<'static>,
}

/// A function in A-normal form.
#[derive(Clone, Debug, Default)]
pub struct Jaxpr {
    pub constvars: Vec<Var>,
    pub invars: Vec<Var>,
    pub eqns: Vec<Eqn>,
    pub outvars: Vec<Atom>,
}

/// A jaxpr with the values of its constvars.
#[derive(Clone, Debug)]
pub struct ClosedJaxpr {
    pub jaxpr: Jaxpr,
    pub consts: Vec<Array>,
}

impl ClosedJaxpr {
    /// Runs the jaxpr on `args` with the current trace (eagerly at top level).
    pub fn call(&self, args: &[Array]) -> Vec<Array> {
        eval_jaxpr(&self.jaxpr, &self.consts, args)
    }

    pub fn in_avals(&self) -> Vec<Aval> {
        self.jaxpr.invars.iter().map(|v| v.aval.clone()).collect()
    }

    pub fn out_avals(&self) -> Vec<Aval> {
        self.jaxpr.outvars.iter().map(Atom::aval).collect()
    }
}

/// Evaluates a jaxpr by binding each equation's primitive with the current trace.
pub fn eval_jaxpr(jaxpr: &Jaxpr, consts: &[Array], args: &[Array]) -> Vec<Array> {
    assert_eq!(
        consts.len(),
        jaxpr.constvars.len(),
        "eval_jaxpr: const count"
    );
    assert_eq!(args.len(), jaxpr.invars.len(), "eval_jaxpr: argument count");
    let mut env: HashMap<usize, Array> = HashMap::new();
    for (v, a) in jaxpr.constvars.iter().zip(consts) {
        env.insert(v.id, a.clone());
    }
    for (v, a) in jaxpr.invars.iter().zip(args) {
        env.insert(v.id, a.clone());
    }
    let read = |env: &HashMap<usize, Array>, atom: &Atom| match atom {
        Atom::Var(v) => env[&v.id].clone(),
        Atom::Literal(a) => a.clone(),
    };
    for eqn in &jaxpr.eqns {
        let inputs: Vec<Array> = eqn.inputs.iter().map(|a| read(&env, a)).collect();
        let outs = bind_at(eqn.prim.clone(), &inputs, eqn.loc);
        for (v, o) in eqn.outputs.iter().zip(outs) {
            env.insert(v.id, o);
        }
    }
    jaxpr.outvars.iter().map(|a| read(&env, a)).collect()
}

// ---- building jaxprs by tracing ----------------------------------------------------

#[derive(Default)]
struct Builder {
    next_var: usize,
    invars: Vec<Var>,
    eqns: Vec<Eqn>,
    /// Non-scalar values from outside the trace, by identity, with their constvar.
    consts: Vec<(Array, Var)>,
}

/// The trace that records primitive applications into a jaxpr.
///
/// With a parent it does partial evaluation (JAX's `pe` trace): an equation none of
/// whose inputs is one of its own tracers is "known" and is evaluated by the parent
/// trace right away; only the rest is recorded. That is how `linearize` splits a JVP
/// into the primal computation (run now) and the linear tangent jaxpr.
pub struct JaxprTrace {
    id: TraceId,
    me: Weak<JaxprTrace>,
    builder: Mutex<Builder>,
    finished: AtomicBool,
    parent: Option<Arc<dyn Trace>>,
}

/// A jaxpr trace's payload: the variable a tracer stands for.
struct VarPayload(Var);

impl JaxprTrace {
    fn new(parent: Option<Arc<dyn Trace>>) -> Arc<JaxprTrace> {
        Arc::new_cyclic(|me| JaxprTrace {
            id: fresh_trace_id(),
            me: me.clone(),
            builder: Mutex::new(Builder::default()),
            finished: AtomicBool::new(false),
            parent,
        })
    }

    fn new_var(b: &mut Builder, aval: Aval) -> Var {
        let v = Var {
            id: b.next_var,
            aval,
        };
        b.next_var += 1;
        v
    }

    fn tracer(self: &Arc<Self>, var: Var) -> Array {
        Array::from_tracer(Tracer {
            trace: self.clone(),
            aval: var.aval.clone(),
            payload: Arc::new(VarPayload(var)),
        })
    }

    fn is_own(&self, x: &Array) -> bool {
        x.as_tracer().is_some_and(|t| t.trace.id() == self.id)
    }

    /// The atom for an argument: own tracers are variables, scalars from outside
    /// are literals, other outside values become constvars.
    fn atom_for(&self, b: &mut Builder, x: &Array) -> Atom {
        if let Some(t) = x.as_tracer() {
            if t.trace.id() == self.id {
                let v = &t.payload::<VarPayload>().expect("jaxpr tracer payload").0;
                return Atom::Var(v.clone());
            }
        } else if x.ndim() == 0 {
            return Atom::Literal(x.clone());
        }
        if let Some((_, v)) = b.consts.iter().find(|(c, _)| c.same_object(x)) {
            return Atom::Var(v.clone());
        }
        let v = Self::new_var(b, x.aval());
        b.consts.push((x.clone(), v.clone()));
        Atom::Var(v)
    }
}

impl Trace for JaxprTrace {
    fn id(&self) -> TraceId {
        self.id
    }

    fn process_primitive(
        &self,
        prim: Arc<dyn Primitive>,
        args: &[Array],
        out_avals: Vec<Aval>,
        loc: &'static Location<'static>,
    ) -> Vec<Array> {
        if self.finished.load(Ordering::Relaxed) {
            fail(
                format!(
                    "{}: escaped tracer: the jaxpr trace has finished",
                    prim.name()
                ),
                loc,
            );
        }
        if let Some(parent) = &self.parent {
            if !args.iter().any(|a| self.is_own(a)) {
                let _guard = set_current_trace(parent.clone());
                return bind_at(prim, args, loc);
            }
        }
        let mut b = self.builder.lock().expect("jaxpr builder lock");
        let inputs: Vec<Atom> = args.iter().map(|a| self.atom_for(&mut b, a)).collect();
        let outputs: Vec<Var> = out_avals
            .into_iter()
            .map(|a| Self::new_var(&mut b, a))
            .collect();
        b.eqns.push(Eqn {
            prim,
            inputs,
            outputs: outputs.clone(),
            loc,
        });
        drop(b);
        let me = self
            .me
            .upgrade()
            .expect("jaxpr trace alive while processing");
        outputs.into_iter().map(|v| me.tracer(v)).collect()
    }

    fn kind(&self) -> &'static str {
        if self.parent.is_some() {
            "partial-eval"
        } else {
            "jaxpr"
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Records a jaxpr: make inputs with [`JaxprRecorder::new_input`], run code with
/// [`JaxprRecorder::trace`] as the current trace, then [`JaxprRecorder::finish`].
pub struct JaxprRecorder {
    trace: Arc<JaxprTrace>,
}

impl JaxprRecorder {
    /// A recorder of every primitive (for jit and make_jaxpr).
    pub fn new() -> JaxprRecorder {
        JaxprRecorder {
            trace: JaxprTrace::new(None),
        }
    }

    /// A partial-evaluation recorder: known equations run on `parent` right away.
    pub fn partial(parent: Arc<dyn Trace>) -> JaxprRecorder {
        JaxprRecorder {
            trace: JaxprTrace::new(Some(parent)),
        }
    }

    /// A new input variable, as a tracer.
    pub fn new_input(&self, aval: Aval) -> Array {
        let v = {
            let mut b = self.trace.builder.lock().expect("jaxpr builder lock");
            let v = JaxprTrace::new_var(&mut b, aval);
            b.invars.push(v.clone());
            v
        };
        self.trace.tracer(v)
    }

    /// The trace to make current while running the traced code.
    pub fn trace(&self) -> Arc<dyn Trace> {
        self.trace.clone()
    }

    /// Ends recording with the given outputs.
    pub fn finish(self, outs: &[Array]) -> ClosedJaxpr {
        let mut b = self.trace.builder.lock().expect("jaxpr builder lock");
        let outvars: Vec<Atom> = outs
            .iter()
            .map(|o| self.trace.atom_for(&mut b, o))
            .collect();
        self.trace.finished.store(true, Ordering::Relaxed);
        let b = std::mem::take(&mut *b);
        let (consts, constvars): (Vec<Array>, Vec<Var>) = b.consts.into_iter().unzip();
        ClosedJaxpr {
            jaxpr: Jaxpr {
                constvars,
                invars: b.invars,
                eqns: b.eqns,
                outvars,
            },
            consts,
        }
    }
}

impl Default for JaxprRecorder {
    fn default() -> Self {
        JaxprRecorder::new()
    }
}

/// Traces `f` on abstract inputs of `in_avals` into a closed jaxpr.
pub fn trace_to_jaxpr(in_avals: &[Aval], f: impl FnOnce(&[Array]) -> Vec<Array>) -> ClosedJaxpr {
    let rec = JaxprRecorder::new();
    let args: Vec<Array> = in_avals.iter().map(|a| rec.new_input(a.clone())).collect();
    let outs = {
        let _guard = set_current_trace(rec.trace());
        f(&args)
    };
    rec.finish(&outs)
}

// ---- printing ----------------------------------------------------------------------

/// Variable names `a..z, ba, bb, ...` assigned in order of first appearance.
struct Names {
    by_id: HashMap<usize, String>,
}

impl Names {
    fn name(&mut self, v: &Var) -> String {
        let next = self.by_id.len();
        self.by_id
            .entry(v.id)
            .or_insert_with(|| var_name(next))
            .clone()
    }
}

/// JAX's variable naming: base-26 digits with `a` = 0, so the 27th name is `ba`.
pub fn var_name(mut n: usize) -> String {
    let mut chars = vec![(b'a' + (n % 26) as u8) as char];
    n /= 26;
    while n > 0 {
        chars.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    chars.iter().rev().collect()
}

fn literal_text(a: &Array) -> String {
    let aval = a.aval();
    let v = crate::display::scalar_repr(a);
    format!("{v}:{aval}")
}

fn atom_text(names: &mut Names, atom: &Atom) -> String {
    match atom {
        Atom::Var(v) => names.name(v),
        Atom::Literal(a) => literal_text(a),
    }
}

fn binder_text(names: &mut Names, v: &Var) -> String {
    format!("{}:{}", names.name(v), v.aval)
}

fn eqn_lines(names: &mut Names, eqn: &Eqn) -> (String, Vec<String>) {
    let inputs: Vec<String> = eqn.inputs.iter().map(|a| atom_text(names, a)).collect();
    let outs: Vec<String> = eqn.outputs.iter().map(|v| binder_text(names, v)).collect();
    let mut params = eqn.prim.params();
    params.sort_by(|a, b| a.0.cmp(b.0));
    let param_items: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let lhs = if outs.is_empty() {
        String::new()
    } else {
        format!("{} = ", outs.join(" "))
    };
    let head = format!("{lhs}{}", eqn.prim.name());
    let args = inputs.join(" ");
    (head, vec![args, param_items.join(" ")])
}

impl fmt::Display for ClosedJaxpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&jaxpr_text(&self.jaxpr))
    }
}

impl fmt::Display for Jaxpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&jaxpr_text(self))
    }
}

const WIDTH: usize = 80;

/// Formats a jaxpr like `str(jax.make_jaxpr(f)(...))`: on one line when it fits in
/// 80 columns, otherwise one equation per line.
pub fn jaxpr_text(jaxpr: &Jaxpr) -> String {
    let mut names = Names {
        by_id: HashMap::new(),
    };
    let consts: Vec<String> = jaxpr
        .constvars
        .iter()
        .map(|v| binder_text(&mut names, v))
        .collect();
    let ins: Vec<String> = jaxpr
        .invars
        .iter()
        .map(|v| binder_text(&mut names, v))
        .collect();
    let header = format!("{{ lambda {}; {}. let", consts.join(" "), ins.join(" "));
    let mut eqns: Vec<(String, String, String)> = Vec::new();
    for e in &jaxpr.eqns {
        let (head, rest) = eqn_lines(&mut names, e);
        eqns.push((head, rest[1].clone(), rest[0].clone()));
    }
    let outs: Vec<String> = jaxpr
        .outvars
        .iter()
        .map(|a| atom_text(&mut names, a))
        .collect();
    let outs_text = if outs.len() == 1 {
        format!("({},)", outs[0])
    } else {
        format!("({})", outs.join(", "))
    };
    let inline_eqn = |(head, params, args): &(String, String, String)| {
        let p = if params.is_empty() {
            String::new()
        } else {
            format!("[{params}]")
        };
        if args.is_empty() {
            format!("{head}{p} ")
        } else {
            format!("{head}{p} {args}")
        }
    };
    let one_line_eqns: Vec<String> = eqns.iter().map(inline_eqn).collect();
    let one_line = format!("{header} {} in {outs_text} }}", one_line_eqns.join("; "));
    if one_line.len() <= WIDTH && !one_line.contains('\n') {
        return one_line;
    }
    let mut out = format!("{header}\n");
    for (i, e) in eqns.iter().enumerate() {
        let line = format!("    {}", one_line_eqns[i]);
        if line.len() <= WIDTH || e.1.is_empty() {
            out.push_str(&line);
        } else {
            // The param list breaks: one `k=v` per line, indented 2 more than the eqn.
            out.push_str(&format!("    {}[\n", e.0));
            for item in split_params(&e.1) {
                out.push_str(&format!("      {item}\n"));
            }
            out.push_str(&format!("    ] {}", e.2));
        }
        out.push('\n');
    }
    out.push_str(&format!("  in {outs_text} }}"));
    out
}

/// Splits `k=v k=v` at the spaces that start a new `key=`.
fn split_params(params: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in params.chars() {
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if ch == ' ' && depth == 0 {
            items.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    if !cur.is_empty() {
        items.push(cur);
    }
    items
}
