//! Two-way splits of mid-size work: the caller runs half 0 and one helper thread,
//! which spins for its next job, runs half 1.
//!
//! Kernels of a few to a few hundred microseconds (an RNN step's [32,256]·[256,256]
//! GEMM, its elementwise kernel) stayed on one core: waking rayon's sleeping
//! workers costs about as much as they would save. The helper here spins for
//! [`SPIN`] after each job (then sleeps), so a loop's next step finds it awake and
//! a split costs a cache-line round trip between the cores.
//!
//! Half 0 always runs on the caller and half 1 on the helper, so a loop whose GEMM
//! and elementwise kernels both split by rows keeps each half's rows in one core's
//! cache from step to step (splitting by columns instead moves the whole state
//! between cores every step, and measured slower).
//!
//! While it spins, the helper yields its core every ~1024 spins, so a rayon worker
//! that a large kernel right after a split puts on the same core is not held off
//! for the rest of the spin (`j_conv2d_grad`: 92-99 → 74-90 ms, four alternations).
//!
//! Half 1 goes to whichever thread claims it first: a caller that finishes half 0
//! before the helper has started (asleep after its spin, or its core taken by a
//! rayon worker) runs half 1 itself, so a split never costs more than running
//! both halves here. In the MLP step, small GEMMs right after rayon-parallel ones
//! found the helper asleep and waited for it: [256,512]·[512,10] with its bias took
//! 262 µs split against 94 µs unsplit.
//!
//! On a two-core machine every two-way split of a kernel or GEMM goes through here,
//! however large: rayon's idle workers spin for a while after each parallel job,
//! and on two cores they took the cores from the caller and the helper of the next
//! split (a 512 matmul 1.85-1.95 ms on the pool against 1.49-1.54 ms here; the
//! per-example gradients' kernel 0.135 against 0.110-0.118 ms).
//!
//! Splits are not nested and not concurrent: a caller that finds the helper busy
//! (another thread's split, or a split from inside a half) runs both halves itself.
//! So does a caller while a second-tier compile runs in the background: with that
//! thread on one of two cores, each split waited for the helper to be scheduled
//! (the first steps of an RNN gradient ran 3.5 times slower than with one thread).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{LazyLock, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long the helper spins for a new job before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// A job: called with 0 on the caller and 1 on the helper.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

struct Helper {
    /// Jobs posted so far (the caller bumps it).
    posted: AtomicU64,
    /// Jobs whose half 1 is finished.
    done: AtomicU64,
    /// The last job whose half 1 was claimed, by the helper or by the caller.
    claimed: AtomicU64,
    /// The current job: the address of a [`Job`] on the caller's stack, valid until
    /// `done` reaches `posted`.
    job: AtomicPtr<()>,
    /// Held by the caller of a split.
    busy: AtomicBool,
    /// The helper is (about to be) parked.
    sleeping: AtomicBool,
    /// Half 1 panicked.
    panicked: AtomicBool,
    thread: OnceLock<Thread>,
}

/// The helper, where the machine has a second core.
static HELPER: LazyLock<Option<&'static Helper>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return None;
    }
    let helper: &'static Helper = Box::leak(Box::new(Helper {
        posted: AtomicU64::new(0),
        done: AtomicU64::new(0),
        claimed: AtomicU64::new(0),
        job: AtomicPtr::new(std::ptr::null_mut()),
        busy: AtomicBool::new(false),
        sleeping: AtomicBool::new(false),
        panicked: AtomicBool::new(false),
        thread: OnceLock::new(),
    }));
    let handle = std::thread::Builder::new()
        .name("oxla-cpu-pair".to_string())
        .spawn(move || helper_loop(helper))
        .ok()?;
    helper.thread.set(handle.thread().clone()).ok()?;
    Some(helper)
});

/// Whether [`split2`] runs its halves on two threads.
pub fn available() -> bool {
    HELPER.is_some()
}

/// Whether a split uses every thread of the backend's pool (a two-core machine):
/// then large kernels and GEMMs split here too instead of on the pool.
pub fn covers_pool() -> bool {
    available() && super::threads::pool().current_num_threads() == 2
}

/// Runs `f(0)` on this thread and `f(1)` on the helper, and returns when both are
/// done (both here, one after the other, when there is no free helper or it has
/// not started `f(1)` by the time `f(0)` is done). A panic in
/// either half panics here after both halves have finished.
pub fn split2(f: &(dyn Fn(usize) + Sync)) {
    let Some(helper) = *HELPER else {
        f(0);
        f(1);
        return;
    };
    if super::tiers::compiling_in_background() || helper.busy.swap(true, Ordering::Acquire) {
        f(0);
        f(1);
        return;
    }
    let job: Job = f;
    helper
        .job
        .store(&job as *const Job as *mut (), Ordering::Release);
    let ticket = helper.posted.fetch_add(1, Ordering::SeqCst) + 1;
    if helper.sleeping.load(Ordering::SeqCst) {
        if let Some(t) = helper.thread.get() {
            t.unpark();
        }
    }
    let first = catch_unwind(AssertUnwindSafe(|| f(0)));
    // Half 1 goes to whoever claims it first: a helper that has not started it by
    // now (asleep, or its core busy) leaves it to this thread.
    let second = if helper
        .claimed
        .compare_exchange(ticket - 1, ticket, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        let r = catch_unwind(AssertUnwindSafe(|| f(1)));
        helper.done.store(ticket, Ordering::Release);
        r
    } else {
        // The helper runs it; the job lives on this stack until it is done.
        let mut spins = 0u32;
        while helper.done.load(Ordering::Acquire) != ticket {
            spins = spins.wrapping_add(1);
            if spins < 1 << 16 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        Ok(())
    };
    helper.busy.store(false, Ordering::Release);
    if let Err(payload) = first.and(second) {
        std::panic::resume_unwind(payload);
    }
    if helper.panicked.swap(false, Ordering::AcqRel) {
        panic!("oxla CPU backend: the helper thread's half of a split kernel panicked");
    }
}

fn helper_loop(helper: &'static Helper) {
    let mut seen = 0u64;
    loop {
        let mut deadline = Instant::now() + SPIN;
        let mut spins = 0u32;
        while helper.posted.load(Ordering::Acquire) == seen {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(1024) {
                continue;
            }
            // A rayon worker on this core (a large kernel right after a split) gets
            // the core instead of waiting for the spin to end.
            std::thread::yield_now();
            if Instant::now() > deadline {
                helper.sleeping.store(true, Ordering::SeqCst);
                if helper.posted.load(Ordering::SeqCst) == seen {
                    std::thread::park();
                }
                helper.sleeping.store(false, Ordering::SeqCst);
                deadline = Instant::now() + SPIN;
            }
        }
        seen += 1;
        #[cfg(test)]
        while tests::HOLD_HELPER.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        if helper
            .claimed
            .compare_exchange(seen - 1, seen, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // The caller ran both halves; its job may be gone already.
            continue;
        }
        let job = helper.job.load(Ordering::Acquire) as *const Job;
        // SAFETY: the caller stored the address of a `Job` on its stack before
        // bumping `posted` (Release/SeqCst, seen through the Acquire load above),
        // and having lost the claim to this thread it waits (even when its own
        // half panicked) until `done` reaches this ticket.
        let job: Job = unsafe { *job };
        if catch_unwind(AssertUnwindSafe(|| job(1))).is_err() {
            helper.panicked.store(true, Ordering::Release);
        }
        helper.done.store(seen, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;

    /// The helper and the background-compile flag are process-wide: these tests
    /// take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the helper from claiming a job it has seen.
    pub(super) static HOLD_HELPER: AtomicBool = AtomicBool::new(false);

    #[test]
    fn a_helper_that_has_not_started_leaves_half_one_to_the_caller() {
        let _turn = serial();
        let here = std::thread::current().id();
        for _ in 0..3 {
            HOLD_HELPER.store(true, Ordering::Release);
            let on_caller = [AtomicBool::new(false), AtomicBool::new(false)];
            let runs = AtomicUsize::new(0);
            split2(&|h| {
                runs.fetch_add(1, Ordering::Relaxed);
                on_caller[h].store(std::thread::current().id() == here, Ordering::Relaxed);
            });
            HOLD_HELPER.store(false, Ordering::Release);
            assert_eq!(runs.into_inner(), 2);
            assert!(on_caller.iter().all(|b| b.load(Ordering::Relaxed)));
            // The helper skips the job it saw and takes later ones (it may be
            // slow to wake on a loaded machine: a few tries).
            let helper_ran = AtomicBool::new(false);
            for _ in 0..50 {
                split2(&|h| {
                    if h == 0 {
                        std::thread::sleep(Duration::from_millis(10));
                    } else if std::thread::current().id() != here {
                        helper_ran.store(true, Ordering::Relaxed);
                    }
                });
                if helper_ran.load(Ordering::Relaxed) {
                    break;
                }
            }
            assert!(helper_ran.into_inner(), "half 1 ran on the helper");
        }
    }

    #[test]
    fn both_halves_run_once_each() {
        let _turn = serial();
        for _ in 0..1000 {
            let hits = [AtomicUsize::new(0), AtomicUsize::new(0)];
            split2(&|h| {
                hits[h].fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(hits.map(|a| a.into_inner()), [1, 1]);
        }
    }

    #[test]
    fn splits_stay_on_the_caller_during_a_background_compile() {
        let _turn = serial();
        let here = std::thread::current().id();
        let on_caller = [AtomicBool::new(false), AtomicBool::new(false)];
        crate::backend::cpu::tiers::set_compiling_for_test(true);
        split2(&|h| on_caller[h].store(std::thread::current().id() == here, Ordering::Relaxed));
        crate::backend::cpu::tiers::set_compiling_for_test(false);
        assert!(on_caller.iter().all(|b| b.load(Ordering::Relaxed)));
    }

    #[test]
    fn nested_and_concurrent_splits_fall_back_to_one_thread() {
        let _turn = serial();
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        split2(&|_| {
                            split2(&|_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        assert_eq!(total.into_inner(), 4 * 200 * 4);
    }

    #[test]
    fn a_panicking_half_panics_the_caller_after_both_finish() {
        let _turn = serial();
        for bad in 0..2 {
            let other_ran = AtomicBool::new(false);
            let r = catch_unwind(AssertUnwindSafe(|| {
                split2(&|h| {
                    if h == bad {
                        panic!("half {h}");
                    }
                    std::thread::sleep(Duration::from_millis(2));
                    other_ran.store(true, Ordering::Release);
                })
            }));
            assert!(r.is_err());
            assert!(other_ran.load(Ordering::Acquire));
            // The helper is free again.
            let n = AtomicUsize::new(0);
            split2(&|_| {
                n.fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(n.into_inner(), 2);
        }
    }
}
