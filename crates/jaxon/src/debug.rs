//! Runtime debugging from inside transformations, like `jax.debug`: [`print`] (and
//! the [`debug_print!`](crate::debug_print) macro) and the general [`callback`].
//!
//! Both bind the `debug_callback` primitive, which has no outputs and a side effect:
//! eagerly it calls the Rust closure at once; under `jit` it lowers to oxla's
//! `host_callback` op, which the program runs in order each time it reaches it (also
//! inside loops and branches); under `vmap` the closure runs once per lane; under
//! `grad`/`jvp` it sees the primal values (no tangent effect, nothing to transpose).
//!
//! Output goes to stdout, or to the innermost [`capture`] on the current thread.
//!
//! ```
//! use jaxon::prelude::*;
//! use jaxon::{debug, numpy as jnp};
//! let f = jit(|x: Array| {
//!     let y = x.sin();
//!     jaxon::debug_print!("x = {}, y = {}", x, y);
//!     y * 2.0
//! });
//! let out = debug::capture(|| {
//!     f(jnp::array(&[0.0f32, 0.5]));
//! });
//! assert_eq!(out, "x = [0.  0.5], y = [0.         0.47942555]\n");
//! ```

use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult};
use crate::core::trace::{bind, bind_at, set_current_trace, EvalTrace};
use crate::error::user_error;
use crate::transform::rules::move_axis;
use oxla::runtime::callbacks;
use oxla::{Literal, Shape, Value};
use std::cell::RefCell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::Location;
use std::sync::Arc;

/// A debug callback's closure.
pub type DebugFn = Arc<dyn Fn(&[Array]) + Send + Sync>;

/// A closure registered with oxla's host-callback registry for as long as a
/// primitive (e.g. in a jaxpr kept by a jit cache) refers to it.
struct Registration {
    id: u64,
    f: DebugFn,
}

impl Registration {
    fn new(f: DebugFn) -> Registration {
        let g = f.clone();
        let id = callbacks::register(move |lits: &[Literal]| {
            let args: Vec<Array> = lits
                .iter()
                .map(|l| Array::from_literal(l.clone(), false))
                .collect();
            // The closure runs with concrete values, whatever trace ran the program.
            let _eval = set_current_trace(Arc::new(EvalTrace));
            g(&args);
            Vec::new()
        });
        Registration { id, f }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        callbacks::unregister(self.id);
    }
}

/// The `debug_callback` primitive: calls a host closure on its operands; no outputs.
#[derive(Clone)]
pub struct DebugCallback {
    reg: Arc<Registration>,
}

impl DebugCallback {
    pub fn new(f: DebugFn) -> DebugCallback {
        DebugCallback {
            reg: Arc::new(Registration::new(f)),
        }
    }

    /// The id of the host callback it lowers to.
    pub fn callback_id(&self) -> u64 {
        self.reg.id
    }
}

impl PartialEq for DebugCallback {
    fn eq(&self, other: &Self) -> bool {
        self.reg.id == other.reg.id
    }
}

impl Eq for DebugCallback {}

impl Hash for DebugCallback {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.reg.id.hash(state);
    }
}

impl fmt::Debug for DebugCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DebugCallback(#{})", self.reg.id)
    }
}

impl Primitive for DebugCallback {
    fn name(&self) -> &'static str {
        "debug_callback"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("effect", "Debug".to_string())]
    }

    fn abstract_eval(&self, _inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        Ok(Vec::new())
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        ctx.b.host_callback(self.reg.id, args, &[])
    }

    fn eval_on_host(&self, args: &[Array]) -> Option<Vec<Array>> {
        (self.reg.f)(args);
        Some(Vec::new())
    }

    /// Sees the primals; there are no outputs, so no tangents.
    fn jvp(&self, primals: &[Array], _tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        bind(self.clone(), primals);
        Ok((Vec::new(), Vec::new()))
    }

    /// No outputs, so no cotangent flows anywhere.
    fn transpose(&self, _cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        Ok(vec![None; args.len()])
    }

    /// One call per lane, in lane order, like `jax.debug.print` under `vmap`.
    fn batch(
        &self,
        args: &[Array],
        dims: &[Option<usize>],
        axis_size: usize,
    ) -> RuleResult<BatchOut> {
        let front: Vec<Array> = args
            .iter()
            .zip(dims)
            .map(|(a, d)| d.map_or_else(|| a.clone(), |d| move_axis(a, d, 0)))
            .collect();
        let batched: Vec<bool> = dims.iter().map(Option::is_some).collect();
        let inner = self.reg.f.clone();
        let per_lane = move |xs: &[Array]| {
            for i in 0..axis_size {
                let lane: Vec<Array> = xs
                    .iter()
                    .zip(&batched)
                    .map(|(x, &b)| if b { lane_of(x, i) } else { x.clone() })
                    .collect();
                inner(&lane);
            }
        };
        bind(DebugCallback::new(Arc::new(per_lane)), &front);
        Ok((Vec::new(), Vec::new()))
    }
}

/// Row `i` of a concrete array along its leading axis, sliced on the host.
fn lane_of(x: &Array, i: usize) -> Array {
    let lit = x.to_literal();
    let rest = x.shape()[1..].to_vec();
    let n: usize = rest.iter().product();
    let idx: Vec<usize> = (i * n..(i + 1) * n).collect();
    let shape = Shape::new(x.dtype(), rest);
    Array::from_literal(Literal::new(shape, lit.data().take(&idx)), x.weak_type())
}

/// Calls `f` with the runtime values of `args`, from inside any transformation:
/// at once when eager, each time the compiled program reaches it under `jit`, once
/// per lane under `vmap`, with the primal values under `grad` (`jax.debug.callback`).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{debug, numpy as jnp};
/// use std::sync::{Arc, Mutex};
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let s = seen.clone();
/// let f = vmap(move |x: Array| {
///     let s = s.clone();
///     debug::callback(move |v| s.lock().unwrap().push(v[0].item::<f32>()), &[x.clone()]);
///     x
/// }, 0);
/// f(jnp::array(&[1.0f32, 2.0, 3.0]));
/// assert_eq!(*seen.lock().unwrap(), vec![1.0, 2.0, 3.0]);
/// ```
#[track_caller]
pub fn callback(f: impl Fn(&[Array]) + Send + Sync + 'static, args: &[Array]) {
    bind_at(
        Arc::new(DebugCallback::new(Arc::new(f))),
        args,
        Location::caller(),
    );
}

/// A piece of a parsed format string.
#[derive(Clone, Debug)]
enum Piece {
    Text(String),
    Arg(usize),
}

/// Parses `{}` (next argument), `{N}` (argument N), `{{` and `}}`.
fn parse(fmt: &str, nargs: usize) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut next = 0;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) => field.push(ch),
                        None => return Err(format!("unclosed '{{' in {fmt:?}")),
                    }
                }
                let i = if field.is_empty() {
                    next += 1;
                    next - 1
                } else {
                    field.trim().parse::<usize>().map_err(|_| {
                        format!("unsupported field {{{field}}} in {fmt:?}; use {{}} or {{N}}")
                    })?
                };
                if i >= nargs {
                    return Err(format!(
                        "{fmt:?} refers to argument {i}, but {nargs} arguments were given"
                    ));
                }
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Arg(i));
            }
            '}' => return Err(format!("unmatched '}}' in {fmt:?}")),
            c => text.push(c),
        }
    }
    pieces.push(Piece::Text(text));
    Ok(pieces)
}

fn render(pieces: &[Piece], args: &[Array]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.clone(),
            Piece::Arg(i) => args[*i].to_string(),
        })
        .collect()
}

/// Prints `fmt` with each `{}` / `{N}` replaced by the runtime value of an argument
/// (formatted like `str(np.asarray(x))`), from inside `jit`, `vmap` (one line per
/// lane), `grad` (primal values) or eagerly, in program order (`jax.debug.print`).
/// The [`debug_print!`](crate::debug_print) macro is the same with variadic arguments.
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{debug, numpy as jnp};
/// let g = grad(|x: Array| {
///     debug::print("x = {}", &[&x]);
///     (&x * &x).sum(None)
/// });
/// let out = debug::capture(|| {
///     g(jnp::array(&[1.0f32, 2.0]));
/// });
/// assert_eq!(out, "x = [1. 2.]\n");
/// ```
#[track_caller]
pub fn print(fmt: &str, args: &[&Array]) {
    let pieces = match parse(fmt, args.len()) {
        Ok(p) => p,
        Err(e) => user_error(format!("debug.print: {e}")),
    };
    let owned: Vec<Array> = args.iter().map(|&a| a.clone()).collect();
    callback(move |xs| emit(&render(&pieces, xs)), &owned);
}

/// `debug_print!("x = {}, y = {}", x, y)`: [`print`] with the arguments (arrays or
/// references to arrays) listed after the format string.
///
/// ```
/// use jaxon::{debug, numpy as jnp};
/// let x = jnp::array(&[1i32, 2]);
/// let out = debug::capture(|| jaxon::debug_print!("{} and {0}", &x));
/// assert_eq!(out, "[1 2] and [1 2]\n");
/// ```
#[macro_export]
macro_rules! debug_print {
    ($fmt:expr $(, $arg:expr)* $(,)?) => {
        $crate::debug::print(
            $fmt,
            &[$(::std::borrow::Borrow::<$crate::Array>::borrow(&$arg)),*],
        )
    };
}

thread_local! {
    static CAPTURES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Writes one line of debug output: to the innermost capture of this thread, or to
/// stdout.
pub fn emit(line: &str) {
    let captured = CAPTURES.with(|c| match c.borrow_mut().last_mut() {
        Some(buf) => {
            buf.push_str(line);
            buf.push('\n');
            true
        }
        None => false,
    });
    if !captured {
        println!("{line}");
    }
}

/// Pops the capture buffer even if the captured code panics.
struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURES.with(|c| c.borrow_mut().pop());
    }
}

/// Runs `f` and returns the debug output it produced on this thread (instead of
/// printing it), one `\n`-terminated line per print.
pub fn capture(f: impl FnOnce()) -> String {
    CAPTURES.with(|c| c.borrow_mut().push(String::new()));
    let guard = CaptureGuard;
    f();
    let out = CAPTURES.with(|c| c.borrow_mut().last_mut().map(std::mem::take));
    drop(guard);
    out.unwrap_or_default()
}
