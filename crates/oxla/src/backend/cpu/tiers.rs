//! Tiered kernel compilation. Kernels missing from the kernel cache are first
//! compiled quickly (clean-up passes only, LLVM's fast instruction selection: no loop
//! passes and no vectorizer, which take most of LLVM's time), so a first call runs
//! within milliseconds. A background thread then compiles them with the full
//! pipeline, stores them in the kernel cache and swaps them into the running
//! program. Both tiers compute bit-identical results (no fast-math: LLVM may not
//! reorder float operations, and every reduction's order is fixed by the emitter).
//!
//! Tiering is on by default (`OXLA_TIERED=0` turns it off: kernels are then compiled
//! fully before the first call). [`wait_for_background_compiles`] blocks until every
//! submitted upgrade is done (benchmarks timing the steady state, tests checking the
//! second tier).
//!
//! Exit is the delicate part. LLVM keeps function-local statics (SelectionDAG's
//! value-type tables, for one) whose destructors are registered when first used, so
//! a static first touched by a background compile is destroyed early in `exit`,
//! while that compile may still be running: a crash at exit. So the exiting thread
//! stops the upgrades before anything is destroyed: glibc's `exit` runs the exiting
//! thread's thread-local destructors before any `atexit` handler or static
//! destructor, and the main thread holds a thread-local [`ExitGuard`] (set up before
//! `main`) whose destructor drops queued upgrades and waits for the one in flight.
//! An `atexit` handler does the same for an exit from another thread.

use super::jit::{JitCode, KernelFn};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};

/// Whether kernels are compiled in two tiers (on unless `OXLA_TIERED=0`).
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("OXLA_TIERED").map_or(true, |v| v != "0"))
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

/// Whether the background thread is compiling now (it then occupies a core).
static COMPILING: AtomicBool = AtomicBool::new(false);

/// Whether a second-tier compile is running in the background: fine-grained
/// two-core splits wait for a helper thread that the compile keeps off its core
/// (an RNN gradient's step ran 3.5 times slower), so they run on one thread then.
pub fn compiling_in_background() -> bool {
    COMPILING.load(Ordering::Relaxed)
}

#[cfg(test)]
pub(crate) fn set_compiling_for_test(on: bool) {
    COMPILING.store(on, Ordering::Relaxed);
}

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
        // Keeps the `.init_array` entry (and so the main thread's guard) linked.
        std::hint::black_box(&INSTALL_EXIT_GUARD);
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
            // Cleared on drop, so a panicking compile does not leave splits off.
            struct Compiling;
            impl Drop for Compiling {
                fn drop(&mut self) {
                    COMPILING.store(false, Ordering::Relaxed);
                }
            }
            COMPILING.store(true, Ordering::Relaxed);
            let compiling = Compiling;
            let result = upgrade();
            drop(compiling);
            match result {
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

/// Stops background compiles for good: drops queued upgrades and waits for the one in
/// flight (LLVM must not run while the process tears down its static objects).
fn stop_upgrades() {
    let q = queue();
    let mut state = lock(q);
    state.exiting = true;
    state.jobs.clear();
    q.changed.notify_all();
    while state.busy {
        state = q.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

/// At process exit from a thread without an [`ExitGuard`]: stops the upgrades. Runs
/// after the static destructors registered later than it, so the main thread's
/// guard is what makes exit safe; this is the fallback.
extern "C" fn at_exit() {
    stop_upgrades();
}

/// Held in a thread-local of the main thread; dropping it (the first thing `exit`
/// does on that thread) stops the upgrades.
struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        stop_upgrades();
    }
}

thread_local! {
    static EXIT_GUARD: ExitGuard = const { ExitGuard };
}

/// Touches the main thread's guard, which registers its destructor.
extern "C" fn install_exit_guard() {
    EXIT_GUARD.with(|_| {});
}

/// Runs [`install_exit_guard`] on the main thread before `main`.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static INSTALL_EXIT_GUARD: extern "C" fn() = install_exit_guard;

#[cfg(not(target_os = "linux"))]
static INSTALL_EXIT_GUARD: extern "C" fn() = install_exit_guard;
