//! Owning LLVM JIT code: an LLVM context, the MCJIT engine holding the machine code,
//! and the addresses of the kernels.

use crate::codegen::helpers;
use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::module::Module as LlvmModule;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, InitializationConfig, RelocMode, Target, TargetMachine};
pub use inkwell::OptimizationLevel;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The kernel ABI: `(bufs, start, end)`.
pub type KernelFn = unsafe extern "C" fn(*const *mut u8, i64, i64);

/// Machine code of one executable. Dropping it frees the code.
pub struct JitCode {
    // Field order matters: the engine must go before the context it borrows.
    engine: Option<ExecutionEngine<'static>>,
    context: *mut Context,
    pub kernels: HashMap<String, KernelFn>,
}

// SAFETY: after construction the engine and context are never used again except
// to be dropped (from whichever thread drops the last reference); the kernels are
// plain machine code that is safe to call from any thread concurrently.
unsafe impl Send for JitCode {}
// SAFETY: see `Send`: shared access only reads the `kernels` map.
unsafe impl Sync for JitCode {}

impl Drop for JitCode {
    fn drop(&mut self) {
        self.engine.take();
        // SAFETY: `context` came from `Box::into_raw` in `JitCode::build` and the
        // engine, the only borrower, was dropped above.
        unsafe { drop(Box::from_raw(self.context)) };
    }
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
/// broadcast operand's whole producer) out of the vector body. `OXLA_LLVM_PASSES`
/// replaces the pipeline (e.g. `default<O2>`) for experiments.
pub const LEAN_PASSES: &str = "function(sroa,early-cse,instcombine,simplifycfg,\
     loop(loop-rotate),loop-mssa(licm),loop(indvars),\
     loop-vectorize<interleave-forced-only>,loop-mssa(licm),instcombine,simplifycfg)";

fn passes() -> String {
    std::env::var("OXLA_LLVM_PASSES").unwrap_or_else(|_| LEAN_PASSES.to_string())
}

/// The host target machine, created once.
pub fn host_machine() -> &'static TargetMachineCell {
    static TM: OnceLock<TargetMachineCell> = OnceLock::new();
    TM.get_or_init(|| {
        Target::initialize_native(&InitializationConfig::default()).expect("LLVM native target");
        let triple = TargetMachine::get_default_triple();
        let target = Target::from_triple(&triple).expect("host target");
        let cpu = TargetMachine::get_host_cpu_name().to_string();
        let features = TargetMachine::get_host_cpu_features().to_string();
        let tm = target
            .create_target_machine(
                &triple,
                &cpu,
                &features,
                OptimizationLevel::Aggressive,
                RelocMode::Default,
                CodeModel::JITDefault,
            )
            .expect("host target machine");
        let vector_bits = if features.contains("+avx512f") {
            "512"
        } else if features.contains("+avx") {
            "256"
        } else {
            "128"
        }
        .to_string();
        TargetMachineCell {
            tm,
            cpu,
            features,
            vector_bits,
        }
    })
}

/// The host target machine with its CPU name and features.
pub struct TargetMachineCell {
    pub tm: TargetMachine,
    pub cpu: String,
    pub features: String,
    /// The preferred vector width in bits.
    pub vector_bits: String,
}

// SAFETY: LLVM's TargetMachine is immutable after creation; we only use it to read
// its data layout/triple and to drive pass pipelines, which LLVM allows from
// several threads.
unsafe impl Send for TargetMachineCell {}
// SAFETY: see `Send`.
unsafe impl Sync for TargetMachineCell {}

impl JitCode {
    /// Builds machine code: `emit` fills an LLVM module and returns the names of
    /// the kernel functions to look up.
    pub fn build(
        level: OptimizationLevel,
        emit: impl for<'ctx> FnOnce(&'ctx Context, &LlvmModule<'ctx>) -> Result<Vec<String>, String>,
    ) -> Result<JitCode, String> {
        // LLVM's target registry, MCJIT set-up and the shared target machine are not
        // safe to drive from several threads at once; compiles are short, so they
        // take turns.
        static LLVM_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = LLVM_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let context: *mut Context = Box::into_raw(Box::new(Context::create()));
        let mut code = JitCode {
            engine: None,
            context,
            kernels: HashMap::new(),
        };
        // SAFETY: the context lives until `code` is dropped, after the engine.
        let cx: &'static Context = unsafe { &*context };
        let module = cx.create_module("oxla");
        let host = host_machine();
        module.set_triple(&host.tm.get_triple());
        module.set_data_layout(&host.tm.get_target_data().get_data_layout());
        let timing = std::env::var_os("OXLA_TIMING").is_some();
        let t0 = std::time::Instant::now();
        let names = emit(cx, &module)?;
        let t_emit = t0.elapsed();
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
        let t1 = std::time::Instant::now();
        module
            .run_passes(&passes(), &host.tm, PassBuilderOptions::create())
            .map_err(|e| format!("LLVM passes: {}", e.to_string()))?;
        let t_opt = t1.elapsed();
        let t2 = std::time::Instant::now();
        if dump == "after" {
            eprintln!("{}", module.print_to_string().to_string());
        }
        let engine = module
            .create_jit_execution_engine(level)
            .map_err(|e| format!("LLVM JIT: {}", e.to_string()))?;
        for (name, addr) in [
            (
                "oxla_unary_bits",
                helpers::oxla_unary_bits as *const () as usize,
            ),
            (
                "oxla_binary_bits",
                helpers::oxla_binary_bits as *const () as usize,
            ),
            (
                "oxla_reduce_precision_bits",
                helpers::oxla_reduce_precision_bits as *const () as usize,
            ),
            (
                "oxla_convert_bits",
                helpers::oxla_convert_bits as *const () as usize,
            ),
        ] {
            if let Some(f) = module.get_function(name) {
                engine.add_global_mapping(&f, addr);
            }
        }
        for name in names {
            let addr = engine
                .get_function_address(&name)
                .map_err(|e| format!("LLVM JIT lookup {name}: {e:?}"))?;
            // SAFETY: `addr` is the entry of a function we emitted with the kernel
            // ABI signature.
            let f: KernelFn = unsafe { std::mem::transmute::<usize, KernelFn>(addr) };
            code.kernels.insert(name, f);
        }
        code.engine = Some(engine);
        // OXLA_TIMING=1 prints where compile time goes.
        if timing {
            eprintln!(
                "oxla cpu compile: {} kernels, emit {:.1} ms, LLVM optimize {:.1} ms, machine code {:.1} ms",
                code.kernels.len(),
                t_emit.as_secs_f64() * 1e3,
                t_opt.as_secs_f64() * 1e3,
                t2.elapsed().as_secs_f64() * 1e3
            );
        }
        Ok(code)
    }
}
