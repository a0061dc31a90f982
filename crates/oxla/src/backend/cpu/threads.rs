//! The CPU backend's worker threads and their floating-point environment.
//!
//! Like XLA's CPU backend (and so JAX on CPU), matrix products run with subnormal
//! numbers flushed to zero (x86 MXCSR FTZ and DAZ): gradients that decay through
//! long recurrences reach the subnormal range, where the FMA units slow down
//! several-fold. Elementwise and reduction kernels keep IEEE subnormals, so their
//! results stay bit-identical to the interpreter's.
//!
//! The backend owns one rayon pool. Its threads start in flush mode, because GEMM
//! work split by the `gemm` crate runs on them without a hook of ours; kernel chunks
//! set the IEEE mode themselves for the span of each chunk.

use std::sync::LazyLock;

/// The backend's thread pool (one thread per core).
static POOL: LazyLock<rayon::ThreadPool> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("oxla-cpu-{i}"))
        .start_handler(|_| set_mode(Mode::Flush))
        .build()
        .expect("the CPU backend's thread pool starts")
});

/// The backend's thread pool.
pub fn pool() -> &'static rayon::ThreadPool {
    &POOL
}

/// How the FPU treats subnormal numbers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// IEEE 754: subnormal inputs and results are kept.
    Ieee,
    /// Subnormal inputs read as zero and subnormal results become zero.
    Flush,
}

/// MXCSR bits: FTZ (flush results to zero) and DAZ (denormal inputs are zero).
#[cfg(target_arch = "x86_64")]
const FLUSH_BITS: u32 = (1 << 15) | (1 << 6);

#[cfg(target_arch = "x86_64")]
fn read_csr() -> u32 {
    let mut csr: u32 = 0;
    // SAFETY: stmxcsr stores the 32-bit MXCSR register to a valid, aligned u32.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr as *mut u32, options(nostack)) };
    csr
}

#[cfg(target_arch = "x86_64")]
fn write_csr(csr: u32) {
    // SAFETY: ldmxcsr loads MXCSR from a valid u32; the value only differs from the
    // current one in the FTZ/DAZ bits, which are always valid to set or clear.
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &csr as *const u32, options(nostack)) };
}

/// Sets this thread's subnormal mode.
pub fn set_mode(mode: Mode) {
    #[cfg(target_arch = "x86_64")]
    {
        let csr = read_csr();
        let new = match mode {
            Mode::Flush => csr | FLUSH_BITS,
            Mode::Ieee => csr & !FLUSH_BITS,
        };
        if new != csr {
            write_csr(new);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = mode;
}

/// This thread's subnormal mode.
pub fn mode() -> Mode {
    #[cfg(target_arch = "x86_64")]
    {
        if read_csr() & FLUSH_BITS == FLUSH_BITS {
            return Mode::Flush;
        }
    }
    Mode::Ieee
}

/// Runs `f` with this thread in `mode`, restoring the previous mode afterwards.
pub fn with_mode<R>(mode: Mode, f: impl FnOnce() -> R) -> R {
    let old = self::mode();
    if old == mode {
        return f();
    }
    set_mode(mode);
    struct Restore(Mode);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_mode(self.0);
        }
    }
    let _restore = Restore(old);
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_switch_and_restore() {
        let tiny = std::hint::black_box(1.0e-39f32);
        let two = std::hint::black_box(2.0f32);
        let ieee = with_mode(Mode::Ieee, || std::hint::black_box(tiny * two));
        assert_eq!(ieee, 2.0e-39);
        let flushed = with_mode(Mode::Flush, || std::hint::black_box(tiny * two));
        if cfg!(target_arch = "x86_64") {
            assert_eq!(flushed, 0.0);
        }
        assert_eq!(mode(), Mode::Ieee);
        let on_pool = pool().install(mode);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(on_pool, Mode::Flush);
        }
    }
}
