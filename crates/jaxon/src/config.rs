//! Runtime switches for debugging, like `jax.config`: [`disable_jit`] and
//! [`debug_nans`]. Each has a process-wide default (`set_*`) and a scope guard that
//! overrides it on the current thread until dropped.
//!
//! ```
//! use jaxon::prelude::*;
//! use jaxon::{config, numpy as jnp};
//! let f = jit(|x: Array| {
//!     // Under disable_jit the function runs eagerly: values are concrete here.
//!     if x.is_concrete() { println!("x = {x}"); }
//!     x * 2.0
//! });
//! {
//!     let _eager = config::disable_jit();
//!     assert!(config::jit_disabled());
//!     assert_eq!(f(jnp::array(&[1.0f32])).to_vec::<f32>(), vec![2.0]);
//! }
//! assert!(!config::jit_disabled());
//! ```

use crate::array::Array;
use crate::core::trace::current_trace;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

static DISABLE_JIT: AtomicBool = AtomicBool::new(false);
static DEBUG_NANS: AtomicBool = AtomicBool::new(false);

thread_local! {
    static DISABLE_JIT_HERE: Cell<Option<bool>> = const { Cell::new(None) };
    static DEBUG_NANS_HERE: Cell<Option<bool>> = const { Cell::new(None) };
}

type Flag = &'static std::thread::LocalKey<Cell<Option<bool>>>;

/// Restores a thread's previous setting when dropped.
#[must_use = "the setting reverts when the guard is dropped"]
pub struct ConfigGuard {
    flag: Flag,
    previous: Option<bool>,
}

impl Drop for ConfigGuard {
    fn drop(&mut self) {
        self.flag.with(|c| c.set(self.previous));
    }
}

fn override_flag(flag: Flag, value: bool) -> ConfigGuard {
    let previous = flag.with(|c| c.replace(Some(value)));
    ConfigGuard { flag, previous }
}

fn read(flag: Flag, global: &AtomicBool) -> bool {
    flag.with(Cell::get)
        .unwrap_or_else(|| global.load(Ordering::Relaxed))
}

/// Sets the process-wide default of `disable_jit` (`jax.config.update("jax_disable_jit", ..)`).
pub fn set_disable_jit(value: bool) {
    DISABLE_JIT.store(value, Ordering::Relaxed);
}

/// Until the guard is dropped, `jit` on this thread runs functions eagerly, op by op
/// (so Rust-side prints and breakpoints see concrete values), and `lax::cond`,
/// `switch`, `while_loop`, `fori_loop`, `scan` and `map` on concrete values run their
/// bodies with Rust control flow (`jax.disable_jit()`).
pub fn disable_jit() -> ConfigGuard {
    override_flag(&DISABLE_JIT_HERE, true)
}

/// Whether jit is disabled on this thread.
pub fn jit_disabled() -> bool {
    read(&DISABLE_JIT_HERE, &DISABLE_JIT)
}

/// Sets the process-wide default of `debug_nans` (`jax_debug_nans`).
pub fn set_debug_nans(value: bool) {
    DEBUG_NANS.store(value, Ordering::Relaxed);
}

/// Until the guard is dropped, on this thread, every eagerly executed primitive and
/// every jitted call checks its float outputs for NaN. A NaN panics with
/// `invalid value (nan) encountered in <primitive>` and the user's source line; for
/// a jitted function the function is re-run op by op to find the primitive.
///
/// ```
/// use jaxon::{config, numpy as jnp};
/// let _nans = config::debug_nans();
/// let x = jnp::array(&[-1.0f32]);
/// let err = std::panic::catch_unwind(|| x.sqrt()).unwrap_err();
/// let msg = err.downcast_ref::<String>().unwrap();
/// assert!(msg.starts_with("invalid value (nan) encountered in sqrt"), "{msg}");
/// ```
pub fn debug_nans() -> ConfigGuard {
    override_flag(&DEBUG_NANS_HERE, true)
}

/// Overrides `debug_nans` on this thread with `value` until the guard is dropped.
pub fn with_debug_nans(value: bool) -> ConfigGuard {
    override_flag(&DEBUG_NANS_HERE, value)
}

/// Overrides `disable_jit` on this thread with `value` until the guard is dropped.
pub fn with_disable_jit(value: bool) -> ConfigGuard {
    override_flag(&DISABLE_JIT_HERE, value)
}

/// Whether NaN checking is on for this thread.
pub fn debug_nans_enabled() -> bool {
    read(&DEBUG_NANS_HERE, &DEBUG_NANS)
}

/// Whether a control-flow construct should run with Rust control flow: jit is
/// disabled, nothing is being traced and the values are concrete.
pub(crate) fn run_eagerly(args: &[Array]) -> bool {
    jit_disabled() && current_trace().id() == 0 && args.iter().all(Array::is_concrete)
}

/// Whether any float element of the arrays is NaN.
pub(crate) fn has_nan(xs: &[Array]) -> bool {
    xs.iter().any(|x| {
        x.is_concrete() && x.dtype().is_float() && x.to_f64_vec().iter().any(|v| v.is_nan())
    })
}

/// Sets where compiled kernels are cached on disk for later processes
/// (`jax.config.update("jax_compilation_cache_dir", ..)`); `None` turns the cache
/// off. Unlike JAX's, the cache is on by default (`~/.cache/oxla/kernels`, or
/// `$OXLA_CACHE_DIR`; `OXLA_CACHE_DIR=off` turns it off): entries are keyed by the
/// exact kernel, the compiler's source and the CPU, so they are never stale.
///
/// ```
/// jaxon::config::set_compilation_cache_dir(None); // always compile afresh
/// assert_eq!(jaxon::config::compilation_cache_dir(), None);
/// ```
pub fn set_compilation_cache_dir(dir: Option<std::path::PathBuf>) {
    oxla::backend::cpu::kernel_cache::set_dir(dir);
}

/// The kernel cache directory in force, or `None` when the cache is off.
pub fn compilation_cache_dir() -> Option<std::path::PathBuf> {
    oxla::backend::cpu::kernel_cache::dir()
}
