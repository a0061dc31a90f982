//! `jit`: trace once per input signature into a jaxpr, lower it to oxla HLO,
//! compile, and run the cached executable on later calls.

use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::jaxpr::{trace_to_jaxpr, ClosedJaxpr};
use crate::core::lower::lower_jaxpr;
use crate::core::trace::{current_trace, set_current_trace, EvalTrace};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

thread_local! {
    static TRACES: Cell<usize> = const { Cell::new(0) };
}

/// How many times jit has traced a function on this thread (tests use it to check
/// that a cache hit neither traces nor compiles).
pub fn trace_count() -> usize {
    TRACES.with(Cell::get)
}

/// One compiled specialization of a jitted function.
pub struct Compiled {
    pub jaxpr: ClosedJaxpr,
    pub executable: oxla::Executable,
    pub out_avals: Vec<Aval>,
}

/// The cache of one jitted function, keyed by a signature.
pub struct JitCache<K> {
    name: String,
    entries: Mutex<HashMap<K, Arc<Compiled>>>,
}

impl<K: std::hash::Hash + Eq + Clone> JitCache<K> {
    pub fn new(name: &str) -> JitCache<K> {
        JitCache {
            name: name.to_string(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The compiled function for `key`, tracing `f` on `in_avals` on a miss.
    pub fn get_or_compile(
        &self,
        key: &K,
        in_avals: &[Aval],
        f: impl FnOnce(&[Array]) -> Vec<Array>,
    ) -> Arc<Compiled> {
        if let Some(c) = self.entries.lock().expect("jit cache lock").get(key) {
            return c.clone();
        }
        TRACES.with(|t| t.set(t.get() + 1));
        let jaxpr = trace_to_jaxpr(in_avals, f);
        let module = lower_jaxpr(&self.name, &jaxpr);
        let executable = oxla::default_client()
            .compile(module)
            .unwrap_or_else(|e| panic!("jit({}): oxla failed to compile: {e}", self.name));
        let out_avals = jaxpr.out_avals();
        let c = Arc::new(Compiled {
            jaxpr,
            executable,
            out_avals,
        });
        self.entries
            .lock()
            .expect("jit cache lock")
            .insert(key.clone(), c.clone());
        c
    }
}

impl Compiled {
    /// Runs on concrete arguments.
    pub fn run(&self, args: &[Array]) -> Vec<Array> {
        let bufs: Vec<&oxla::Buffer> = self
            .jaxpr
            .consts
            .iter()
            .chain(args)
            .map(|a| a.buffer())
            .collect();
        let outs = self
            .executable
            .execute(&bufs)
            .unwrap_or_else(|e| panic!("jit: execution failed: {e}"));
        let outs: Vec<Array> = outs
            .into_iter()
            .zip(&self.out_avals)
            .map(|(b, a)| Array::from_buffer(b, a.weak_type))
            .collect();
        if crate::config::debug_nans_enabled() && crate::config::has_nan(&outs) {
            self.find_nan(args);
        }
        outs
    }

    /// A NaN came out: re-runs the jaxpr op by op with NaN checks on, which panics
    /// at the first primitive producing one, with the line of its equation (JAX's
    /// de-optimized re-run).
    fn find_nan(&self, args: &[Array]) -> ! {
        {
            let _nans = crate::config::with_debug_nans(true);
            let _eval = set_current_trace(Arc::new(EvalTrace));
            self.jaxpr.call(args);
        }
        panic!(
            "invalid value (nan) encountered in jit; the de-optimized function (run op by op) \
             did not produce one, so the NaN came from the inputs or from jit-specific behavior"
        )
    }
}

/// Whether jit should compile now: at top level with concrete arguments. Under
/// another transformation the function is traced through (inlined) instead, so the
/// outer transformation sees its primitives.
/// Under [`crate::config::disable_jit`] nothing compiles: the function runs eagerly.
pub fn should_compile(args: &[Array]) -> bool {
    !crate::config::jit_disabled()
        && current_trace().id() == 0
        && args.iter().all(Array::is_concrete)
}
