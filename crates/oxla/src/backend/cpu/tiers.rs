//! Tiered kernel compilation. Kernels missing from the kernel cache are first
//! compiled quickly (clean-up passes only, LLVM's fast instruction selection: no loop
//! passes and no vectorizer, which take most of LLVM's time), so a first call runs
//! within milliseconds. A background thread then compiles them with the full
//! pipeline, stores them in the kernel cache and swaps them into the running
//! program. Both tiers compute bit-identical results (no fast-math: LLVM may not
//! reorder float operations, and every reduction's order is fixed by the emitter).
//!
//! Tiering is opt-in (`OXLA_TIERED=1`): with it on, a test binary crashed at exit
//! (SIGSEGV after all its tests passed) in about one CI run in three, cause not yet
//! found; off, kernels are compiled fully before the first call. [`wait_for_background_compiles`] blocks until every submitted upgrade is
//! done (benchmarks timing the steady state, tests checking the second tier).

use super::jit::{JitCode, KernelFn};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};

/// Whether kernels are compiled in two tiers (`OXLA_TIERED=1`; off by default).
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("OXLA_TIERED").is_ok_and(|v| v == "1"))
}

/// The kernel each kernel step of a program calls: first-tier code until the
/// upgrade swaps in the second tier.
pub struct KernelSlots {
    fns: Vec<AtomicPtr<()>>,
    /// Code linked after the program was built (kept alive with the program).
    later: Mutex<Vec<JitCode>>,
}

impl KernelSlots {
    /// Slots holding `fns`, which must point into code the program keeps alive.
    pub fn new(fns: &[KernelFn]) -> KernelSlots {
        KernelSlots {
            fns: fns.iter().map(|&f| AtomicPtr::new(f as *mut ())).collect(),
            later: Mutex::new(Vec::new()),
        }
    }

    /// The kernel in slot `slot` now.
    pub fn get(&self, slot: usize) -> KernelFn {
        let p = self.fns[slot].load(Ordering::Acquire);
        // SAFETY: every pointer stored in a slot is a `KernelFn` (see `new` and
        // `install`) in JIT code that lives as long as these slots.
        unsafe { std::mem::transmute::<*mut (), KernelFn>(p) }
    }

    /// Keeps `code` alive with the slots and points slot `s` at `f` for each
    /// `(s, f)` of `fns` (functions in `code`).
    fn install(&self, code: JitCode, fns: Vec<(usize, KernelFn)>) {
        let mut later = self.later.lock().unwrap_or_else(|e| e.into_inner());
        later.push(code);
        UPGRADED.fetch_add(fns.len(), Ordering::Relaxed);
        for (slot, f) in fns {
            self.fns[slot].store(f as *mut (), Ordering::Release);
        }
    }
}

static UPGRADED: AtomicUsize = AtomicUsize::new(0);

/// How many kernels of running programs the background thread has replaced by
/// their second tier, in this process.
pub fn upgraded_kernels() -> usize {
    UPGRADED.load(Ordering::Relaxed)
}

/// The second-tier compile of some of a program's kernels: linked code and the
/// slot each of its kernels goes to.
pub type Upgrade = Box<dyn FnOnce() -> Result<(JitCode, Vec<(usize, KernelFn)>), String> + Send>;

struct Queue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<(Weak<KernelSlots>, Upgrade)>,
    busy: bool,
    started: bool,
    exiting: bool,
}

fn queue() -> &'static Queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE.get_or_init(|| Queue {
        state: Mutex::new(QueueState::default()),
        changed: Condvar::new(),
    })
}

fn lock(q: &Queue) -> std::sync::MutexGuard<'_, QueueState> {
    q.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Queues `upgrade` for the background thread; its result goes into `slots` if
/// the program still exists by then (dropped programs' upgrades are skipped).
pub fn submit(slots: &Arc<KernelSlots>, upgrade: Upgrade) {
    let q = queue();
    let mut state = lock(q);
    if state.exiting {
        return;
    }
    if !state.started {
        let spawned = std::thread::Builder::new()
            .name("oxla-upgrade".into())
            .spawn(worker);
        if spawned.is_err() {
            // No thread: the program keeps its first-tier kernels.
            return;
        }
        state.started = true;
        // SAFETY: `at_exit` is a plain `extern "C" fn()` that only touches the
        // queue's statics; registering it has no other effect.
        unsafe { atexit(at_exit) };
    }
    state.jobs.push_back((Arc::downgrade(slots), upgrade));
    q.changed.notify_all();
}

/// Blocks until every upgrade submitted so far has been compiled and installed
/// (or skipped because its program is gone).
pub fn wait_for_background_compiles() {
    let q = queue();
    let mut state = lock(q);
    while !state.jobs.is_empty() || state.busy {
        state = q.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

fn worker() {
    let q = queue();
    loop {
        let (slots, upgrade) = {
            let mut state = lock(q);
            loop {
                if state.exiting {
                    // Never return: a returning thread destroys its thread-local
                    // LLVM target machines while the exiting process tears down
                    // LLVM's statics (a crash at exit).
                    drop(state);
                    loop {
                        std::thread::park();
                    }
                }
                if let Some(job) = state.jobs.pop_front() {
                    state.busy = true;
                    break job;
                }
                state = q.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        if slots.strong_count() > 0 {
            match upgrade() {
                Ok((code, fns)) => {
                    if let Some(slots) = slots.upgrade() {
                        slots.install(code, fns);
                    }
                }
                // The program keeps running its first-tier kernels.
                Err(e) => eprintln!("oxla: background kernel compile failed: {e}"),
            }
        }
        let mut state = lock(q);
        state.busy = false;
        q.changed.notify_all();
    }
}

extern "C" {
    fn atexit(f: extern "C" fn()) -> i32;
}

/// At process exit, drops queued upgrades and waits for the one in flight: LLVM
/// must not run while the process tears down its static objects.
extern "C" fn at_exit() {
    let q = queue();
    let mut state = lock(q);
    state.exiting = true;
    state.jobs.clear();
    q.changed.notify_all();
    while state.busy {
        state = q.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}
