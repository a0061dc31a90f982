//! LLVM code generation in two halves: [`compile_object`] turns one LLVM module into
//! relocatable object code (on any thread, in parallel with others; the result can
//! be cached on disk), and [`JitCode::link`] loads objects into the process ORC JIT
//! (one JITDylib per executable) and finds
//! the kernels' entry points.

use crate::codegen::helpers;
use inkwell::context::Context;
use inkwell::llvm_sys;
use inkwell::module::Module as LlvmModule;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine,
};
pub use inkwell::OptimizationLevel;
use llvm_sys::error::{LLVMDisposeErrorMessage, LLVMErrorRef, LLVMGetErrorMessage};
use llvm_sys::orc2::lljit::*;
use llvm_sys::orc2::*;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The kernel ABI: `(bufs, start, end)`.
pub type KernelFn = unsafe extern "C" fn(*const *mut u8, i64, i64);

/// Machine code of one executable, linked by the process's ORC JIT into a JITDylib
/// of its own. Dropping it frees the code.
pub struct JitCode {
    /// Null for a program without kernels.
    dylib: LLVMOrcJITDylibRef,
    pub kernels: HashMap<String, KernelFn>,
}

// SAFETY: after linking, the dylib is only cleared (from whichever thread drops the
// last reference; ORC's session serializes that with other threads' links); the
// kernels are plain machine code that is safe to call from any thread concurrently.
unsafe impl Send for JitCode {}
// SAFETY: see `Send`: shared access only reads the `kernels` map.
unsafe impl Sync for JitCode {}

impl Drop for JitCode {
    fn drop(&mut self) {
        if self.dylib.is_null() {
            return;
        }
        // SAFETY: `dylib` belongs to the process's JIT, which is never disposed;
        // clearing it frees this executable's code and symbols, after which the
        // empty dylib is handed to the next `link`.
        let cleared = take_error(unsafe { LLVMOrcJITDylibClear(self.dylib) });
        if cleared.is_ok() {
            spare_dylibs().push(self.dylib as usize);
        }
    }
}

/// The process's ORC JIT: creating one cost 0.4 ms per executable (its target
/// machine, linking layer and session), a quarter of an eager op's first call.
/// It lives until the process ends (never disposed: the code of executables alive
/// at exit stays valid).
fn shared_jit() -> Result<LLVMOrcLLJITRef, String> {
    static JIT: OnceLock<Result<usize, String>> = OnceLock::new();
    JIT.get_or_init(|| {
        // LLJIT needs the native target registered.
        host_machine();
        let mut jit: LLVMOrcLLJITRef = std::ptr::null_mut();
        // SAFETY: a null builder asks for the default LLJIT set-up; the JIT is kept
        // for the rest of the process.
        take_error(unsafe { LLVMOrcCreateLLJIT(&mut jit, std::ptr::null_mut()) })
            .map_err(|e| format!("LLVM JIT: {e}"))?;
        Ok(jit as usize)
    })
    .clone()
    .map(|p| p as LLVMOrcLLJITRef)
}

/// Cleared dylibs of dropped executables, ready for reuse (a session never forgets
/// a dylib, so making a new one per executable would leak).
fn spare_dylibs() -> std::sync::MutexGuard<'static, Vec<usize>> {
    static SPARE: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
    SPARE.lock().unwrap_or_else(|e| e.into_inner())
}

/// An empty dylib of `jit` that resolves the process's symbols (libc, libm).
fn empty_dylib(jit: LLVMOrcLLJITRef) -> Result<LLVMOrcJITDylibRef, String> {
    if let Some(d) = spare_dylibs().pop() {
        // Its process-symbol generator survives clearing.
        return Ok(d as LLVMOrcJITDylibRef);
    }
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = CString::new(format!("oxla-executable-{n}")).expect("no NUL");
    // SAFETY: `jit` is live; the session copies the (unique) name; the new dylib
    // belongs to the session.
    let dylib = unsafe {
        LLVMOrcExecutionSessionCreateBareJITDylib(
            LLVMOrcLLJITGetExecutionSession(jit),
            name.as_ptr(),
        )
    };
    let mut generator: LLVMOrcDefinitionGeneratorRef = std::ptr::null_mut();
    // SAFETY: looks up undefined symbols in this process; on success the dylib
    // takes ownership of the generator.
    unsafe {
        take_error(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
            &mut generator,
            LLVMOrcLLJITGetGlobalPrefix(jit),
            None,
            std::ptr::null_mut(),
        ))
        .map_err(|e| format!("LLVM JIT: {e}"))?;
        LLVMOrcJITDylibAddGenerator(dylib, generator);
    }
    Ok(dylib)
}

/// Where a session lookup's handler leaves each symbol's address (by interned name),
/// or the error, for the linking thread waiting on the condition variable.
type LookupSlot = (
    std::sync::Mutex<Option<Result<Vec<(usize, u64)>, String>>>,
    std::sync::Condvar,
);

extern "C" fn lookup_done(
    err: LLVMErrorRef,
    pairs: LLVMOrcCSymbolMapPairs,
    count: usize,
    ctx: *mut std::ffi::c_void,
) {
    // SAFETY: `ctx` is the `LookupSlot` that `link` waits on until this has run.
    let slot = unsafe { &*(ctx as *const LookupSlot) };
    let result = if err.is_null() {
        // SAFETY: on success `pairs` holds `count` entries, valid for this call.
        let pairs = unsafe { std::slice::from_raw_parts(pairs, count) };
        Ok(pairs
            .iter()
            .map(|p| (p.Name as usize, p.Sym.Address))
            .collect())
    } else {
        take_error(err).map(|_| Vec::new())
    };
    let mut r = slot.0.lock().unwrap_or_else(|e| e.into_inner());
    *r = Some(result);
    slot.1.notify_all();
}

/// The message of an LLVM error (consuming it), or `Ok` for no error.
fn take_error(err: LLVMErrorRef) -> Result<(), String> {
    if err.is_null() {
        return Ok(());
    }
    // SAFETY: `err` is a live error; getting its message consumes it, and the
    // message is a C string we free with the matching call.
    unsafe {
        let msg = LLVMGetErrorMessage(err);
        let text = CStr::from_ptr(msg).to_string_lossy().into_owned();
        LLVMDisposeErrorMessage(msg);
        Err(text)
    }
}

/// The LLVM library's version, `major.minor.patch`.
pub fn llvm_version() -> String {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: LLVMGetVersion writes three integers through valid pointers.
    unsafe { llvm_sys::core::LLVMGetVersion(&mut major, &mut minor, &mut patch) };
    format!("{major}.{minor}.{patch}")
}

/// The LLVM pass pipeline run on every kernel module.
///
/// Kernels arrive as simple counted loops over straight-line element code, so a
/// short function pipeline does what `default<O2>` did for them at a third of the
/// optimizer time and about two thirds of the machine-code time (measured on the
/// MLP training step's 21 kernels: 34 ms + 115 ms instead of 130 ms + 180 ms, with
/// the same kernel speed on workloads a, b, d and h). The vectorizer does not
/// interleave: the second copy of a wide vector body doubled code size (and
/// machine-code time) without speeding up memory-bound loops. LICM runs again after
/// vectorizing: the vectorizer's alias checks let it hoist row-invariant work (a
/// broadcast operand's whole producer) out of the vector body. A textual
/// `instcombine` checks that one run reaches a fixpoint and aborts the process when
/// it does not (a testing aid in LLVM 19); `no-verify-fixpoint` turns that off, as
/// `default<O2>` does. `always-inline` and `globaldce` then inline the scalar and
/// vector bodies of `codegen::variants` functions and drop the unused ones.
/// `OXLA_LLVM_PASSES` replaces the pipeline (e.g. `default<O2>`) for experiments.
pub const LEAN_PASSES: &str = "function(sroa,early-cse,instcombine<no-verify-fixpoint>,\
     simplifycfg,loop(loop-rotate),loop-mssa(licm),loop(indvars),\
     loop-vectorize<interleave-forced-only>,loop-mssa(licm),\
     instcombine<no-verify-fixpoint>,simplifycfg),always-inline,globaldce";

/// The first tier's pass list (see `tiers.rs`): clean-ups only. No loop passes and
/// no vectorizer, which take most of the optimizer's time. The vector variants'
/// scalar bodies are inlined first, so the clean-ups drop what only their vector
/// bodies use (a division's hoistable reciprocal).
pub const QUICK_PASSES: &str =
    "always-inline,function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg),globaldce";

pub fn passes() -> String {
    std::env::var("OXLA_LLVM_PASSES").unwrap_or_else(|_| LEAN_PASSES.to_string())
}

/// The host CPU's name, features and vector width, read once (this also sets up
/// LLVM's native target).
pub fn host_machine() -> &'static HostCpu {
    static HOST: OnceLock<HostCpu> = OnceLock::new();
    HOST.get_or_init(|| {
        Target::initialize_native(&InitializationConfig::default()).expect("LLVM native target");
        if let Ok(args) = std::env::var("OXLA_LLVM_ARGS") {
            let mut argv: Vec<std::ffi::CString> = vec![c"oxla".into()];
            argv.extend(
                args.split_whitespace()
                    .map(|a| CString::new(a).expect("no NUL")),
            );
            let ptrs: Vec<*const std::ffi::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
            // SAFETY: `ptrs` points at NUL-terminated strings alive for the call.
            unsafe {
                llvm_sys::support::LLVMParseCommandLineOptions(
                    ptrs.len() as i32,
                    ptrs.as_ptr(),
                    std::ptr::null(),
                )
            };
        }
        let cpu = TargetMachine::get_host_cpu_name().to_string();
        let features = TargetMachine::get_host_cpu_features().to_string();
        let vector_bits = if features.contains("+avx512f") {
            "512"
        } else if features.contains("+avx") {
            "256"
        } else {
            "128"
        }
        .to_string();
        HostCpu {
            cpu,
            features,
            vector_bits,
        }
    })
}

/// The host CPU as LLVM names it.
pub struct HostCpu {
    pub cpu: String,
    pub features: String,
    /// The preferred vector width in bits.
    pub vector_bits: String,
}

impl HostCpu {
    /// Whether the CPU has AVX-512 F, VL and DQ (x86 only).
    pub fn has_avx512(&self) -> bool {
        cfg!(target_arch = "x86_64")
            && ["+avx512f", "+avx512vl", "+avx512dq"]
                .iter()
                .all(|f| self.features.contains(f))
    }
}

/// Where one module's compile time went.
#[derive(Clone, Copy, Debug, Default)]
pub struct CompileTiming {
    pub emit: Duration,
    pub optimize: Duration,
    pub machine_code: Duration,
}

impl std::ops::AddAssign for CompileTiming {
    fn add_assign(&mut self, o: CompileTiming) {
        self.emit += o.emit;
        self.optimize += o.optimize;
        self.machine_code += o.machine_code;
    }
}

/// Runs `f` with this thread's target machine for `level` (LLVM target machines
/// must not generate code for two modules at once, so each thread has its own).
fn with_target_machine<R>(level: OptimizationLevel, f: impl FnOnce(&TargetMachine) -> R) -> R {
    thread_local! {
        static MACHINES: std::cell::RefCell<Vec<(OptimizationLevel, TargetMachine)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    MACHINES.with(|m| {
        let mut m = m.borrow_mut();
        let pos = match m.iter().position(|(l, _)| *l == level) {
            Some(pos) => pos,
            None => {
                let host = host_machine();
                let triple = TargetMachine::get_default_triple();
                let tm = Target::from_triple(&triple)
                    .expect("host target")
                    .create_target_machine(
                        &triple,
                        &host.cpu,
                        &host.features,
                        level,
                        // Position-independent code with the small code model: the
                        // object links anywhere, and calls to helpers in the host
                        // program go through stubs the JIT linker makes.
                        RelocMode::PIC,
                        CodeModel::Small,
                    )
                    .expect("host target machine");
                m.push((level, tm));
                m.len() - 1
            }
        };
        f(&m[pos].1)
    })
}

/// Compiles one LLVM module to relocatable object code: `emit` fills the module;
/// then the pass pipeline `passes` (e.g. [`passes()`]) and code generation at
/// `level` (`None` picks LLVM's fast instruction selection). Safe to call from
/// several threads at once.
pub fn compile_object(
    level: OptimizationLevel,
    passes: &str,
    emit: impl for<'ctx> FnOnce(&'ctx Context, &LlvmModule<'ctx>) -> Result<(), String>,
) -> Result<(Vec<u8>, CompileTiming), String> {
    let host = host_machine();
    let cx = Context::create();
    let module = cx.create_module("oxla");
    with_target_machine(level, |tm| {
        module.set_triple(&tm.get_triple());
        module.set_data_layout(&tm.get_target_data().get_data_layout());
        let t0 = Instant::now();
        emit(&cx, &module)?;
        let emit_time = t0.elapsed();
        let cpu_attr = cx.create_string_attribute("target-cpu", &host.cpu);
        let feat_attr = cx.create_string_attribute("target-features", &host.features);
        // Full-width vectors where the CPU has them: LLVM's default tuning for some
        // AVX-512 CPUs prefers 256-bit vectors.
        let width_attr = cx.create_string_attribute("prefer-vector-width", &host.vector_bits);
        for f in module.get_functions() {
            if f.count_basic_blocks() > 0 {
                f.add_attribute(inkwell::attributes::AttributeLoc::Function, cpu_attr);
                f.add_attribute(inkwell::attributes::AttributeLoc::Function, feat_attr);
                f.add_attribute(inkwell::attributes::AttributeLoc::Function, width_attr);
            }
        }
        module
            .verify()
            .map_err(|e| format!("invalid LLVM IR: {}", e.to_string()))?;
        // OXLA_DUMP_LLVM=before|after prints the kernels' IR around the optimizer.
        let dump = std::env::var("OXLA_DUMP_LLVM").unwrap_or_default();
        if dump == "before" {
            eprintln!("{}", module.print_to_string().to_string());
        }
        let t1 = Instant::now();
        module
            .run_passes(passes, tm, PassBuilderOptions::create())
            .map_err(|e| format!("LLVM passes: {}", e.to_string()))?;
        let optimize = t1.elapsed();
        if dump == "after" {
            eprintln!("{}", module.print_to_string().to_string());
        }
        let t2 = Instant::now();
        let object = tm
            .write_to_memory_buffer(&module, FileType::Object)
            .map_err(|e| format!("LLVM code generation: {}", e.to_string()))?;
        let timing = CompileTiming {
            emit: emit_time,
            optimize,
            machine_code: t2.elapsed(),
        };
        Ok((object.as_slice().to_vec(), timing))
    })
}

/// The host functions kernels may call, by symbol name.
fn helper_symbols() -> [(&'static CStr, usize); 4] {
    [
        (
            c"oxla_unary_bits",
            helpers::oxla_unary_bits as *const () as usize,
        ),
        (
            c"oxla_binary_bits",
            helpers::oxla_binary_bits as *const () as usize,
        ),
        (
            c"oxla_reduce_precision_bits",
            helpers::oxla_reduce_precision_bits as *const () as usize,
        ),
        (
            c"oxla_convert_bits",
            helpers::oxla_convert_bits as *const () as usize,
        ),
    ]
}

impl JitCode {
    /// Links object files from [`compile_object`] into a dylib of the process JIT (a
    /// fresh one, or one a dropped executable cleared) and looks up
    /// the kernels `names`. Kernels may call oxla's helper functions and the C
    /// library (LLVM emits `memcpy`, `memset` and libm calls on its own).
    pub fn link(objects: &[&[u8]], names: &[String]) -> Result<JitCode, String> {
        if objects.is_empty() && names.is_empty() {
            return Ok(JitCode {
                dylib: std::ptr::null_mut(),
                kernels: HashMap::new(),
            });
        }
        let jit = shared_jit()?;
        let mut code = JitCode {
            dylib: empty_dylib(jit)?,
            kernels: HashMap::new(),
        };
        let dylib = code.dylib;
        let flags = || LLVMJITSymbolFlags {
            GenericFlags: LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsExported as u8
                | LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsCallable as u8,
            TargetFlags: 0,
        };
        let mut helpers: Vec<LLVMOrcCSymbolMapPair> = helper_symbols()
            .iter()
            .map(|(name, addr)| LLVMOrcCSymbolMapPair {
                // SAFETY: `jit` is live and `name` a C string; the interned name is
                // handed to `LLVMOrcAbsoluteSymbols`, which takes ownership of it.
                Name: unsafe { LLVMOrcLLJITMangleAndIntern(jit, name.as_ptr()) },
                Sym: LLVMJITEvaluatedSymbol {
                    Address: *addr as u64,
                    Flags: flags(),
                },
            })
            .collect();
        // SAFETY: the pairs are valid for the call; the materialization unit is
        // consumed by `LLVMOrcJITDylibDefine`.
        take_error(unsafe {
            let unit = LLVMOrcAbsoluteSymbols(helpers.as_mut_ptr(), helpers.len());
            LLVMOrcJITDylibDefine(dylib, unit)
        })
        .map_err(|e| format!("LLVM JIT helpers: {e}"))?;
        for object in objects {
            // SAFETY: the buffer copies `object`; adding it to the JIT takes
            // ownership of the buffer.
            take_error(unsafe {
                let buffer = llvm_sys::core::LLVMCreateMemoryBufferWithMemoryRangeCopy(
                    object.as_ptr().cast(),
                    object.len(),
                    c"oxla-kernel".as_ptr(),
                );
                LLVMOrcLLJITAddObjectFile(jit, dylib, buffer)
            })
            .map_err(|e| format!("LLVM JIT object: {e}"))?;
        }
        // One lookup of every kernel in this executable's dylib (it links them all).
        let mut cnames = Vec::with_capacity(names.len());
        for name in names {
            cnames.push(CString::new(name.as_str()).map_err(|e| e.to_string())?);
        }
        let mut set: Vec<LLVMOrcCLookupSetElement> = cnames
            .iter()
            .map(|c| LLVMOrcCLookupSetElement {
                // SAFETY: `jit` is live; the entry is released below.
                Name: unsafe { LLVMOrcLLJITMangleAndIntern(jit, c.as_ptr()) },
                LookupFlags: LLVMOrcSymbolLookupFlags::LLVMOrcSymbolLookupFlagsRequiredSymbol,
            })
            .collect();
        let mut order = [LLVMOrcCJITDylibSearchOrderElement {
            JD: dylib,
            JDLookupFlags:
                LLVMOrcJITDylibLookupFlags::LLVMOrcJITDylibLookupFlagsMatchExportedSymbolsOnly,
        }];
        let slot: LookupSlot = Default::default();
        // SAFETY: the search order and the symbol set stay alive until the result
        // handler has run (waited for below); `slot` outlives it as well.
        unsafe {
            LLVMOrcExecutionSessionLookup(
                LLVMOrcLLJITGetExecutionSession(jit),
                LLVMOrcLookupKind::LLVMOrcLookupKindStatic,
                order.as_mut_ptr(),
                order.len(),
                set.as_mut_ptr(),
                set.len(),
                lookup_done,
                &slot as *const LookupSlot as *mut std::ffi::c_void,
            )
        };
        let found = {
            let mut r = slot.0.lock().unwrap_or_else(|e| e.into_inner());
            while r.is_none() {
                r = slot.1.wait(r).unwrap_or_else(|e| e.into_inner());
            }
            r.take().expect("a lookup result")
        };
        let interned: Vec<usize> = set.iter().map(|e| e.Name as usize).collect();
        for e in &set {
            // SAFETY: each entry was interned above and is released once.
            unsafe { LLVMOrcReleaseSymbolStringPoolEntry(e.Name) };
        }
        let found = found.map_err(|e| format!("LLVM JIT lookup: {e}"))?;
        for (name, key) in names.iter().zip(interned) {
            let addr = found.iter().find(|(n, _)| *n == key).map_or(0, |&(_, a)| a);
            if addr == 0 {
                return Err(format!("LLVM JIT lookup {name}: no address"));
            }
            // SAFETY: `addr` is the entry of a function we emitted with the kernel
            // ABI signature, in memory that lives as long as `code`.
            let f: KernelFn = unsafe { std::mem::transmute::<usize, KernelFn>(addr as usize) };
            code.kernels.insert(name.clone(), f);
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An object with one kernel `name` that stores `value` into the first byte of
    /// its first buffer.
    fn object_storing(name: &str, value: u8) -> Vec<u8> {
        let (object, _) = compile_object(OptimizationLevel::None, QUICK_PASSES, |cx, m| {
            let ptr = cx.ptr_type(inkwell::AddressSpace::default());
            let i64t = cx.i64_type();
            let f = m.add_function(
                name,
                cx.void_type()
                    .fn_type(&[ptr.into(), i64t.into(), i64t.into()], false),
                None,
            );
            let b = cx.create_builder();
            b.position_at_end(cx.append_basic_block(f, "entry"));
            let bufs = f.get_nth_param(0).expect("bufs").into_pointer_value();
            let first = b
                .build_load(ptr, bufs, "first")
                .map_err(|e| e.to_string())?;
            b.build_store(
                first.into_pointer_value(),
                cx.i8_type().const_int(value as u64, false),
            )
            .map_err(|e| e.to_string())?;
            b.build_return(None).map_err(|e| e.to_string())?;
            Ok(())
        })
        .expect("compiles");
        object
    }

    fn run(code: &JitCode, name: &str) -> u8 {
        let mut byte = 0u8;
        let bufs = [&mut byte as *mut u8];
        // SAFETY: the kernel writes one byte through the first buffer pointer.
        unsafe { code.kernels[name](bufs.as_ptr(), 0, 1) };
        byte
    }

    #[test]
    fn executables_keep_their_own_symbols_and_dropped_ones_are_reused() {
        let names = ["oxla_test_kernel".to_string()];
        let (one, two) = (object_storing(&names[0], 1), object_storing(&names[0], 2));
        // Two live executables with the same kernel name do not clash.
        let a = JitCode::link(&[&one], &names).expect("links");
        let b = JitCode::link(&[&two], &names).expect("links");
        assert_eq!((run(&a, &names[0]), run(&b, &names[0])), (1, 2));
        // A dropped executable's dylib is cleared and serves the next link.
        drop(a);
        let c = JitCode::link(&[&two], &names).expect("links");
        assert_eq!((run(&b, &names[0]), run(&c, &names[0])), (2, 2));
        drop(c);
        let d = JitCode::link(&[&one], &names).expect("links");
        assert_eq!(run(&d, &names[0]), 1);
        // A missing kernel is an error, not a null function.
        let missing = JitCode::link(&[&one], &["oxla_not_there".to_string()]);
        assert!(missing.err().is_some_and(|e| e.contains("oxla_not_there")));
    }
}
