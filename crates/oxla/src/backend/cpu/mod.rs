//! The CPU backend: fusion, LLVM code generation for the host CPU, and a host-side
//! runtime that runs each computation as a sequence of steps (thunks): compiled
//! kernels, GEMM calls, control flow calling nested step lists, and the
//! interpreter's own code for the ops without a native implementation yet.

mod conv;
mod dot;
mod gemv;
mod jit;
mod kernel;
pub mod kernel_cache;
mod loop_dots;
mod pair;
mod stores;
pub mod threads;
mod tiers;
mod window;

pub use tiers::{upgraded_kernels, wait_for_background_compiles};

use crate::backend::interp::Interp;
use crate::codegen::elemental::Elemental;
use crate::hlo::ir::*;
use crate::runtime::{Backend, Buffer, CompiledProgram};
use crate::{Error, Literal};
use jit::{JitCode, KernelFn};
use std::sync::Arc;

/// The LLVM CPU backend.
pub struct CpuBackend;

/// How one instruction runs.
enum Step {
    Param(usize),
    Const(Arc<Literal>),
    Kernel {
        /// The kernel's slot in the program's [`tiers::KernelSlots`].
        slot: usize,
        elements: usize,
        work: usize,
    },
    Dot(Box<dot::DotPlan>),
    /// A float convolution as im2col + GEMM.
    Conv(Box<conv::ConvPlan>),
    /// `acc + dot(lhs, rhs)` as one GEMM accumulating into `acc`'s buffer (in place
    /// when `acc` dies here); operands `(acc, lhs, rhs)`.
    DotAccumulate(Box<dot::DotPlan>),
    /// A dot and the elementwise loop kernel that is its only reader, run as one
    /// step: when the dot splits in row halves, each half's thread runs the kernel
    /// over the rows it just computed (see [`fold_dot_epilogues`]). Operands: the
    /// kernel's without the dot, then the dot's `(lhs, rhs)`.
    DotKernel {
        plan: Box<dot::DotPlan>,
        slot: usize,
        work: usize,
        /// Where the dot's result goes among the kernel's operands.
        at: usize,
        /// The dot's result shape.
        dot_shape: crate::Shape,
    },
    /// A dot folded into the `DotAccumulate` or `DotKernel` that reads it: nothing
    /// to run.
    Folded,
    /// dynamic_update_slice, in place when the operand dies here.
    UpdateSlice,
    /// A scatter with a one-op (or overwrite) body, in place when the operand dies
    /// here (a gradient's scatter-add into zeros does not copy them).
    Scatter(crate::backend::interp::Combiner),
    While {
        cond: CompId,
        body: CompId,
    },
    Conditional {
        branches: Vec<CompId>,
    },
    Call {
        comp: CompId,
    },
    /// Runs through the interpreter's implementation of the op.
    Interp,
}

/// While-loop iterations after which a program's first run submits its second-tier
/// compile instead of waiting for the run to end.
const LONG_RUN_ITERATIONS: usize = 256;

/// An entry computation that is one kernel reading only parameters and returning its
/// outputs in order (most eager ops): it runs without the step loop's bookkeeping.
struct SingleKernel {
    /// The kernel's instruction.
    instr: usize,
    /// The parameter number of each kernel operand.
    params: Vec<usize>,
}

impl SingleKernel {
    fn find(module: &Module, steps: &[Step], operands: &[Vec<Value>]) -> Option<SingleKernel> {
        let comp = module.entry_computation();
        let mut kernel = None;
        for (i, step) in steps.iter().enumerate() {
            match step {
                Step::Param(_) => {}
                Step::Kernel { .. } if kernel.is_none() => kernel = Some(i),
                _ => return None,
            }
        }
        let instr = kernel?;
        let results_in_order = comp.results.len() == comp.instrs[instr].shapes.len()
            && comp
                .results
                .iter()
                .enumerate()
                .all(|(k, v)| v.instr == instr && v.index == k);
        if !results_in_order {
            return None;
        }
        let params = operands[instr]
            .iter()
            .map(|v| match steps[v.instr] {
                Step::Param(p) => Some(p),
                _ => None,
            })
            .collect::<Option<Vec<usize>>>()?;
        Some(SingleKernel { instr, params })
    }
}

struct CpuProgram {
    module: Arc<Module>,
    /// Steps per computation (empty for computations that are never run as steps).
    steps: Vec<Vec<Step>>,
    /// Per computation, instruction and result: the last instruction reading it
    /// (`usize::MAX` for computation results), so buffers die as early as possible
    /// and a dying operand can be updated in place.
    last_use: Vec<Vec<Vec<usize>>>,
    /// Per computation and instruction: the values it reads (the instruction's
    /// operands, except for folded dot-accumulates, which read the dot's operands).
    operands: Vec<Vec<Vec<Value>>>,
    /// Per computation and instruction: where its results start in the flat value
    /// list of a run (one allocation per run instead of one per instruction).
    value_base: Vec<Vec<usize>>,
    param_reads: Vec<Vec<usize>>,
    /// Set when the entry computation is one kernel over its parameters.
    single_kernel: Option<SingleKernel>,
    /// The second-tier compile of first-tier kernels, submitted when the first run
    /// ends, so that it does not compete with that run for the cores.
    upgrade: std::sync::Mutex<Option<tiers::Upgrade>>,
    upgrade_pending: std::sync::atomic::AtomicBool,
    pool: BufferPool,
    /// Time per step, when `OXLA_PROFILE=1`; printed when the program is dropped.
    profile: Option<StepProfile>,
    kernels: Arc<tiers::KernelSlots>,
    _code: Arc<JitCode>,
}

/// Accumulated run time of every step of a program (`OXLA_PROFILE=1`).
struct StepProfile {
    /// (computation, instruction) -> (calls, total time).
    times: std::sync::Mutex<std::collections::HashMap<(CompId, usize), (u64, std::time::Duration)>>,
}

impl StepProfile {
    fn record(&self, comp: CompId, instr: usize, t: std::time::Duration) {
        let mut times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        let e = times.entry((comp, instr)).or_default();
        e.0 += 1;
        e.1 += t;
    }

    /// The steps that took longest, one line each.
    fn report(&self, module: &Module) -> String {
        let times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        let total: std::time::Duration = times.values().map(|v| v.1).sum();
        let mut rows: Vec<_> = times.iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.1 .1));
        let mut out = format!(
            "oxla profile of {}: {:.3} ms in steps (nested control flow counts in its parents too)\n",
            module.name,
            total.as_secs_f64() * 1e3
        );
        for ((c, i), (n, t)) in rows.into_iter().take(25) {
            let comp = module.computation(*c);
            let instr = &comp.instrs[*i];
            let shapes: Vec<String> = instr.shapes.iter().map(|s| s.to_string()).collect();
            out.push_str(&format!(
                "  {:>9.3} ms {:>8} calls {:>8.2} us/call  {} %{i} {} -> {}\n",
                t.as_secs_f64() * 1e3,
                n,
                t.as_secs_f64() * 1e6 / *n as f64,
                comp.name,
                instr.op.name(),
                shapes.join(", ")
            ));
        }
        out
    }
}

impl Drop for CpuProgram {
    fn drop(&mut self) {
        if let Some(p) = &self.profile {
            eprint!("{}", p.report(&self.module));
        }
    }
}

/// Recycles kernel output buffers: a buffer comes back once nobody but the pool
/// holds it, so a steady-state call writes into warm memory instead of page-faulting
/// on fresh allocations.
struct BufferPool {
    buffers: std::sync::Mutex<Vec<Arc<Literal>>>,
}

/// Most buffers (and bytes) a pool keeps.
const POOL_BUFFERS: usize = 64;
const POOL_BYTES: usize = 1 << 30;
/// Smaller buffers come straight from the allocator, which recycles them cheaply.
const POOL_MIN_BYTES: usize = 1 << 16;

impl BufferPool {
    /// A buffer of `shape` whose contents are garbage (every kernel writes all of
    /// its outputs).
    fn take(&self, shape: &crate::Shape) -> Literal {
        if shape.size_bytes() < POOL_MIN_BYTES {
            return Literal::zeros(shape.clone());
        }
        let mut buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pos) = buffers
            .iter()
            .position(|b| b.shape() == shape && Arc::strong_count(b) == 1)
        {
            let b = buffers.swap_remove(pos);
            if let Ok(lit) = Arc::try_unwrap(b) {
                return lit;
            }
        }
        drop(buffers);
        take_spare(shape).unwrap_or_else(|| Literal::zeros(shape.clone()))
    }

    /// Exclusive ownership of `buffer` when the pool's reference is the only other
    /// one (the pool lets go of it); otherwise the buffer back.
    fn reclaim(&self, buffer: Arc<Literal>) -> Result<Literal, Arc<Literal>> {
        let buffer = match Arc::try_unwrap(buffer) {
            Ok(lit) => return Ok(lit),
            Err(shared) => shared,
        };
        if Arc::strong_count(&buffer) != 2 {
            return Err(buffer);
        }
        let mut buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pos) = buffers.iter().position(|b| Arc::ptr_eq(b, &buffer)) {
            drop(buffers.swap_remove(pos));
        }
        drop(buffers);
        Arc::try_unwrap(buffer)
    }

    /// `buffer` to write into: itself when unshared (see `reclaim`), otherwise a
    /// copy in a pooled buffer (warm memory instead of a fresh allocation).
    fn exclusive(&self, buffer: Arc<Literal>) -> Literal {
        match self.reclaim(buffer) {
            Ok(lit) => lit,
            Err(shared) => {
                let mut copy = self.take(shared.shape());
                let bytes = shared.shape().size_bytes();
                // SAFETY: both buffers hold `bytes` bytes (same shape and dtype)
                // and are distinct allocations.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        shared.data().as_ptr(),
                        copy.data_mut().as_mut_ptr(),
                        bytes,
                    )
                };
                copy
            }
        }
    }

    /// Hands out `lit`, keeping a reference to recycle it later.
    fn share(&self, lit: Literal) -> Arc<Literal> {
        let lit = Arc::new(lit);
        if lit.shape().size_bytes() < POOL_MIN_BYTES {
            return lit;
        }
        let mut buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        let bytes: usize = buffers.iter().map(|b| b.shape().size_bytes()).sum();
        if buffers.len() < POOL_BUFFERS && bytes + lit.shape().size_bytes() <= POOL_BYTES {
            buffers.push(lit.clone());
        } else if let Some(pos) = buffers.iter().position(|b| Arc::strong_count(b) == 1) {
            buffers[pos] = lit.clone();
        }
        lit
    }
}

impl Drop for BufferPool {
    /// The buffers nobody else holds go to the process's spares.
    fn drop(&mut self) {
        let buffers = std::mem::take(self.buffers.get_mut().unwrap_or_else(|e| e.into_inner()));
        for b in buffers {
            if let Ok(lit) = Arc::try_unwrap(b) {
                give_spare(lit);
            }
        }
    }
}

/// Large buffers of dropped programs, for the pools of new ones: the first call
/// of a fresh executable (a new `jit`, or one whose cache entry was evicted)
/// would otherwise page-fault on new memory for every large output. In the MLP
/// step's first call with a warm kernel cache, the kernel's page faults and page
/// clearing were about a quarter of the time.
static SPARE: std::sync::Mutex<Vec<Literal>> = std::sync::Mutex::new(Vec::new());

/// Most bytes the spares hold (the oldest go first).
const SPARE_BYTES: usize = 256 << 20;

/// A spare buffer of `shape`'s dtype and element count, reshaped to it.
fn take_spare(shape: &crate::Shape) -> Option<Literal> {
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    let pos = spare
        .iter()
        .position(|l| l.dtype() == shape.dtype && l.num_elements() == shape.num_elements())?;
    let lit = spare.swap_remove(pos);
    Some(Literal::new(shape.clone(), lit.into_data()))
}

fn give_spare(lit: Literal) {
    let bytes = lit.shape().size_bytes();
    if bytes > SPARE_BYTES {
        return;
    }
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    let mut total: usize = spare.iter().map(|l| l.shape().size_bytes()).sum();
    while total + bytes > SPARE_BYTES {
        total -= spare.remove(0).shape().size_bytes();
    }
    spare.push(lit);
}

/// Per instruction and result: the last instruction reading it (`usize::MAX` for
/// computation results).
fn last_uses(comp: &Computation, operands: &[Vec<Value>]) -> Vec<Vec<usize>> {
    let mut last: Vec<Vec<usize>> = comp
        .instrs
        .iter()
        .map(|i| vec![0; i.shapes.len()])
        .collect();
    for (i, ops) in operands.iter().enumerate() {
        for v in ops {
            last[v.instr][v.index] = i;
        }
    }
    for v in &comp.results {
        last[v.instr][v.index] = usize::MAX;
    }
    last
}

/// How many parameter instructions read each parameter (one, normally: then the
/// computation takes ownership of the argument).
fn parameter_reads(comp: &Computation) -> Vec<usize> {
    let mut reads = vec![0; comp.params.len()];
    for instr in &comp.instrs {
        if let Op::Parameter { index } = instr.op {
            reads[index] += 1;
        }
    }
    reads
}

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn compile(&self, module: &Module) -> Result<Arc<dyn CompiledProgram>, Error> {
        compile(module).map(|p| Arc::new(p) as Arc<dyn CompiledProgram>)
    }
}

/// Computations run as step lists: the entry and control-flow bodies, recursively.
fn step_computations(module: &Module) -> Vec<bool> {
    let mut run = vec![false; module.computations.len()];
    let mut stack = vec![module.entry];
    while let Some(c) = stack.pop() {
        if std::mem::replace(&mut run[c.0], true) {
            continue;
        }
        for i in &module.computation(c).instrs {
            match &i.op {
                Op::While { cond, body } => stack.extend([*cond, *body]),
                Op::Conditional { branches } => stack.extend(branches.iter().copied()),
                Op::Call { comp } => stack.push(*comp),
                _ => {}
            }
        }
    }
    run
}

/// Kernels reading and writing fewer elements than this get fast code generation.
const SMALL_KERNEL: usize = 1 << 18;

/// Kernels with math functions over at least this many elements skip the first
/// tier (see `math_heavy`).
const MATH_HEAVY_KERNEL: usize = 4096;

/// Whether a kernel spends its time in math functions (exp, tanh, ...) over enough
/// elements that first-tier code, scalar and without the vectorizer, would cost
/// more than compiling it fully right away: the RNN gradient's per-step `tanh`
/// kernel ran 230 µs per step at the first tier against 12 µs at the second, 23 ms
/// of a 40 ms first call.
fn math_heavy(comp: &Computation) -> bool {
    let math = comp.instrs.iter().any(|i| i.op.is_approximated_math());
    math && kernel_extent(comp) >= MATH_HEAVY_KERNEL
}

/// The largest element count among a fused computation's inputs and outputs.
fn kernel_extent(comp: &Computation) -> usize {
    let results = comp.results.iter().map(|&v| comp.shape(v).num_elements());
    let params = comp.params.iter().map(|s| s.num_elements());
    results.chain(params).max().unwrap_or(0)
}

/// The module the CPU backend generates code for: `module` after the optimization
/// pipeline and fusion. Each `fusion` instruction of the entry computation becomes
/// one kernel.
pub fn optimized_module(module: &Module) -> Result<Module, Error> {
    let mut module = module.clone();
    crate::passes::optimize(&mut module)?;
    crate::passes::Pipeline::new()
        .add(loop_dots::HoistSlicedDots)
        .add(gemv::GemvAsReduce)
        .add(window::WindowAsSlices)
        .add(crate::passes::fusion::Fusion)
        .run(&mut module)?;
    Ok(module)
}

fn compile(module: &Module) -> Result<CpuProgram, Error> {
    let t = std::time::Instant::now();
    let module = optimized_module(module)?;
    if std::env::var_os("OXLA_TIMING").is_some() {
        eprintln!(
            "oxla cpu compile: HLO passes and fusion {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    let run = step_computations(&module);
    let kernels = compile_kernels(&module, &run).map_err(Error::Runtime)?;
    let mut steps: Vec<Vec<Step>> = Vec::with_capacity(module.computations.len());
    for (c, comp) in module.computations.iter().enumerate() {
        if !run[c] {
            steps.push(Vec::new());
            continue;
        }
        let mut list = Vec::with_capacity(comp.instrs.len());
        for instr in &comp.instrs {
            let step = match &instr.op {
                Op::Parameter { index } => Step::Param(*index),
                Op::Constant(lit) => Step::Const(Arc::new(lit.clone())),
                Op::Fusion { comp: fc, .. } => {
                    let k = &kernels.by_fusion[fc];
                    Step::Kernel {
                        slot: k.slot,
                        elements: k.elements,
                        work: k.work_per_element,
                    }
                }
                Op::DotGeneral { .. } => match dot::DotPlan::new(comp, instr) {
                    Some(plan) => Step::Dot(Box::new(plan)),
                    None => Step::Interp,
                },
                Op::Convolution { .. } => match conv::ConvPlan::new(comp, instr) {
                    Some(plan) => Step::Conv(Box::new(plan)),
                    None => Step::Interp,
                },
                Op::While { cond, body } => Step::While {
                    cond: *cond,
                    body: *body,
                },
                Op::Conditional { branches } => Step::Conditional {
                    branches: branches.clone(),
                },
                Op::Call { comp } => Step::Call { comp: *comp },
                Op::DynamicUpdateSlice => Step::UpdateSlice,
                Op::Scatter { body, .. } if instr.operands.len() == 3 => {
                    match crate::backend::interp::simple_combiner(module.computation(*body)) {
                        Some(c) => Step::Scatter(c),
                        None => Step::Interp,
                    }
                }
                _ => Step::Interp,
            };
            list.push(step);
        }
        steps.push(list);
    }
    let mut operands: Vec<Vec<Vec<Value>>> = module
        .computations
        .iter()
        .map(|c| c.instrs.iter().map(|i| i.operands.clone()).collect())
        .collect();
    for (c, comp) in module.computations.iter().enumerate() {
        if run[c] {
            fold_dot_accumulates(&module, comp, &mut steps[c], &mut operands[c]);
            fold_dot_epilogues(&module, comp, &mut steps[c], &mut operands[c]);
        }
    }
    let last_use = module
        .computations
        .iter()
        .zip(&operands)
        .map(|(c, ops)| last_uses(c, ops))
        .collect();
    let param_reads = module.computations.iter().map(parameter_reads).collect();
    let value_base = module
        .computations
        .iter()
        .map(|c| {
            let mut next = 0;
            let mut base: Vec<usize> = c
                .instrs
                .iter()
                .map(|i| {
                    let b = next;
                    next += i.shapes.len();
                    b
                })
                .collect();
            base.push(next);
            base
        })
        .collect();
    let entry = module.entry.0;
    let single_kernel = SingleKernel::find(&module, &steps[entry], &operands[entry]);
    let module = Arc::new(module);
    let kernel_slots = Arc::new(kernels.slots);
    let upgrade = (!kernels.upgrade.is_empty()).then(|| upgrade_job(&module, kernels.upgrade));
    Ok(CpuProgram {
        upgrade_pending: std::sync::atomic::AtomicBool::new(upgrade.is_some()),
        upgrade: std::sync::Mutex::new(upgrade),
        kernels: kernel_slots,
        operands,
        value_base,
        module,
        steps,
        last_use,
        param_reads,
        single_kernel,
        pool: BufferPool {
            buffers: std::sync::Mutex::new(Vec::new()),
        },
        profile: std::env::var("OXLA_PROFILE")
            .is_ok_and(|v| v == "1")
            .then(|| StepProfile {
                times: Default::default(),
            }),
        _code: Arc::new(kernels.code),
    })
}

/// Folds `add(acc, dot(a, b))` — a loop kernel that only adds, whose other operand
/// is a dot read by nothing else — into one GEMM that accumulates into `acc`
/// (gemm's `read_dst`): no separate add kernel and no dot output buffer. A scan's
/// gradient accumulates its weight gradients this way every step. The add then runs
/// inside the GEMM, with subnormals flushed like the rest of it.
fn fold_dot_accumulates(
    module: &Module,
    comp: &Computation,
    steps: &mut [Step],
    operands: &mut [Vec<Value>],
) {
    let uses = comp.use_counts();
    for (f, instr, fc) in loop_fusions(comp) {
        let Some((x, y)) = plain_add(module.computation(fc)) else {
            continue;
        };
        // Which operand is the dot (the other is the accumulator).
        let found = [(x, y), (y, x)]
            .into_iter()
            .map(|(a, d)| (instr.operands[a], instr.operands[d]))
            .find(|(a, d)| {
                a != d
                    && uses[d.instr] == 1
                    && matches!(&steps[d.instr], Step::Dot(p) if p.contracts())
                    && comp.instrs[d.instr].shapes[0] == instr.shapes[0]
            });
        let Some((acc, d)) = found else {
            continue;
        };
        let Step::Dot(plan) = std::mem::replace(&mut steps[d.instr], Step::Folded) else {
            continue;
        };
        steps[f] = Step::DotAccumulate(plan);
        let dot_operands = comp.instrs[d.instr].operands.clone();
        operands[f] = vec![acc, dot_operands[0], dot_operands[1]];
        operands[d.instr].clear();
    }
}

/// The loop fusions of `comp`: (position, instruction, fused computation).
fn loop_fusions(comp: &Computation) -> impl Iterator<Item = (usize, &Instr, CompId)> {
    comp.instrs
        .iter()
        .enumerate()
        .filter_map(|(f, instr)| match instr.op {
            Op::Fusion {
                comp: fc,
                kind: FusionKind::Loop,
            } => Some((f, instr, fc)),
            _ => None,
        })
}

/// Folds a dot that splits in row halves into the elementwise loop kernel that is
/// its only reader (`Step::DotKernel`), when that kernel reads it only pointwise:
/// output element `e` depends on the dot's element `e` alone. Each half's thread
/// then runs the kernel over its own rows, right after computing them: the RNN
/// step's `tanh(h·W + ...)` no longer waits for both halves and reads the other
/// core's rows.
fn fold_dot_epilogues(
    module: &Module,
    comp: &Computation,
    steps: &mut [Step],
    operands: &mut [Vec<Value>],
) {
    let uses = comp.use_counts();
    for (f, instr, fc) in loop_fusions(comp) {
        let Step::Kernel { slot, work, .. } = steps[f] else {
            continue;
        };
        let fused = module.computation(fc);
        let found = instr.operands.iter().enumerate().find(|&(at, d)| {
            d.index == 0
                && uses[d.instr] == 1
                && matches!(&steps[d.instr], Step::Dot(p) if p.splits())
                && comp.instrs[d.instr].shapes[0].dims == instr.shapes[0].dims
                && pointwise_in(fused, at)
        });
        let Some((at, &d)) = found else {
            continue;
        };
        let Step::Dot(plan) = std::mem::replace(&mut steps[d.instr], Step::Folded) else {
            continue;
        };
        steps[f] = Step::DotKernel {
            plan,
            slot,
            work,
            at,
            dot_shape: comp.instrs[d.instr].shapes[0].clone(),
        };
        let mut reads = instr.operands.clone();
        reads.remove(at);
        reads.extend(comp.instrs[d.instr].operands.iter().copied());
        operands[f] = reads;
        operands[d.instr].clear();
    }
}

/// Whether every result of the fused computation `comp` has the dims of its
/// parameter `param`, and reads it only through elementwise ops of those dims
/// (so result element `e` depends on the parameter's element `e` alone).
fn pointwise_in(comp: &Computation, param: usize) -> bool {
    let dims = &comp.params[param].dims;
    let mut derived = vec![false; comp.instrs.len()];
    for (i, instr) in comp.instrs.iter().enumerate() {
        let reads = instr.operands.iter().any(|v| derived[v.instr]);
        derived[i] = match &instr.op {
            Op::Parameter { index } => *index == param,
            _ if !reads => false,
            op if crate::passes::fusion::is_elementwise(op)
                && instr.shapes.iter().all(|s| s.dims == *dims) =>
            {
                true
            }
            _ => return false,
        };
    }
    comp.results.iter().all(|&r| comp.shape(r).dims == *dims)
}

/// The parameter indices `(x, y)` when a fused computation is exactly `x + y` over
/// f32/f64 arrays of the result's shape.
fn plain_add(comp: &Computation) -> Option<(usize, usize)> {
    let [result] = comp.results[..] else {
        return None;
    };
    let add = &comp.instrs[result.instr];
    let out = &add.shapes[0];
    if add.op != Op::Binary(BinaryOp::Add)
        || comp.instrs.len() != 3
        || !matches!(out.dtype, crate::DType::F32 | crate::DType::F64)
    {
        return None;
    }
    let param = |v: Value| match comp.instrs[v.instr].op {
        Op::Parameter { index } if comp.params[index] == *out => Some(index),
        _ => None,
    };
    let (x, y) = (param(add.operands[0])?, param(add.operands[1])?);
    (x != y).then_some((x, y))
}

/// One kernel to generate.
#[derive(Clone)]
struct KernelJob {
    fused: CompId,
    kind: FusionKind,
    level: jit::OptimizationLevel,
    /// The kernel cache key; equal keys mean equal code.
    key: String,
    /// The kernel's symbol, derived from the key.
    symbol: String,
}

/// A linked kernel, ready to run.
struct LinkedKernel {
    /// Its slot in [`ProgramKernels::slots`].
    slot: usize,
    elements: usize,
    work_per_element: usize,
}

/// Every kernel of a program, linked into one piece of JIT code.
struct ProgramKernels {
    by_fusion: std::collections::HashMap<CompId, LinkedKernel>,
    slots: tiers::KernelSlots,
    code: JitCode,
    /// Kernels compiled at the first tier, with their slots: the second tier is
    /// still to come.
    upgrade: Vec<(usize, KernelJob)>,
}

/// Which pipeline compiles a kernel.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Tier {
    /// [`jit::QUICK_PASSES`] and fast instruction selection.
    Quick,
    /// [`jit::passes`] at the job's code-generation level.
    Full,
}

/// Generates (or loads from the kernel cache) the kernels of every fusion that
/// runs, compiling one LLVM module per kernel on all cores, and links them.
fn compile_kernels(module: &Module, run: &[bool]) -> Result<ProgramKernels, String> {
    let t = std::time::Instant::now();
    let mut jobs: Vec<KernelJob> = Vec::new();
    let mut job_of: std::collections::HashMap<CompId, usize> = Default::default();
    let mut job_by_key: std::collections::HashMap<String, usize> = Default::default();
    for (c, comp) in module.computations.iter().enumerate() {
        if !run[c] {
            continue;
        }
        for instr in &comp.instrs {
            let Op::Fusion { comp: fused, kind } = instr.op else {
                continue;
            };
            // Small kernels (a few µs each) get LLVM's fast instruction selection, a
            // fifth of the machine-code time; large ones, where code quality shows,
            // the default level.
            let level = if kernel_extent(module.computation(fused)) < SMALL_KERNEL {
                jit::OptimizationLevel::None
            } else {
                jit::OptimizationLevel::Default
            };
            let codegen = format!("{level:?} {}", jit::passes());
            let key = kernel_cache::kernel_key(module, fused, kind, &codegen);
            let next = jobs.len();
            let j = *job_by_key.entry(key.clone()).or_insert(next);
            if j == next {
                jobs.push(KernelJob {
                    fused,
                    kind,
                    level,
                    symbol: format!("oxla_kernel_{:016x}", kernel_cache::hash64(&key, 0)),
                    key,
                });
            }
            job_of.insert(fused, j);
        }
    }
    // Kernels from the cache, then the rest compiled in batches, one LLVM module
    // per batch and about as many batches as threads (each module costs ~1.5 ms of
    // fixed pass-manager and code-generator set-up, so one module per kernel would
    // waste more than parallelism gains).
    let mut found: Vec<Option<kernel_cache::CachedKernel>> =
        jobs.iter().map(|j| kernel_cache::load(&j.key)).collect();
    let hits = found.iter().filter(|k| k.is_some()).count();
    let tiers: Vec<Tier> = jobs
        .iter()
        .map(|j| {
            if tiers::enabled() && !math_heavy(module.computation(j.fused)) {
                Tier::Quick
            } else {
                Tier::Full
            }
        })
        .collect();
    let upgrade: Vec<(usize, KernelJob)> = (0..jobs.len())
        .filter(|&j| found[j].is_none() && tiers[j] == Tier::Quick)
        .map(|j| (j, jobs[j].clone()))
        .collect();
    let (objects, timing) = compile_missing(module, &jobs, &mut found, &tiers, true)?;
    let quick = upgrade.len();
    let kernels: Vec<kernel_cache::CachedKernel> = found
        .into_iter()
        .map(|k| k.ok_or("a kernel was neither cached nor compiled"))
        .collect::<Result<_, _>>()?;
    // Kernels loaded from one cached batch share its object: link it once.
    let mut unique: Vec<&[u8]> = objects.iter().map(Vec::as_slice).collect();
    for k in &kernels {
        if !unique.contains(&k.object.as_slice()) {
            unique.push(&k.object);
        }
    }
    let t_link = std::time::Instant::now();
    let symbols: Vec<String> = jobs.iter().map(|j| j.symbol.clone()).collect();
    let code = JitCode::link(&unique, &symbols)?;
    if std::env::var_os("OXLA_TIMING").is_some() {
        eprintln!(
            "oxla cpu compile: {} kernels ({hits} from the kernel cache, {quick} at the first \
             tier, the rest in {} modules) in {:.1} ms: emit {:.1} + LLVM optimize {:.1} + \
             machine code {:.1} ms of thread time, link {:.1} ms",
            jobs.len(),
            objects.len(),
            t.elapsed().as_secs_f64() * 1e3,
            timing.emit.as_secs_f64() * 1e3,
            timing.optimize.as_secs_f64() * 1e3,
            timing.machine_code.as_secs_f64() * 1e3,
            t_link.elapsed().as_secs_f64() * 1e3,
        );
    }
    let by_fusion = job_of
        .into_iter()
        .map(|(fused, j)| {
            let k = &kernels[j];
            let linked = LinkedKernel {
                slot: j,
                elements: k.elements,
                work_per_element: k.work_per_element,
            };
            (fused, linked)
        })
        .collect();
    let fns: Vec<KernelFn> = jobs.iter().map(|j| code.kernels[&j.symbol]).collect();
    Ok(ProgramKernels {
        by_fusion,
        slots: tiers::KernelSlots::new(&fns),
        code,
        upgrade,
    })
}

/// Compiles the kernels of `jobs` that `found` lacks, job `j` at `tiers[j]`, and
/// fills them in; second-tier kernels also go to the kernel cache. With
/// `on_pool`, in batches on all the pool's threads; otherwise on this thread, one
/// batch per tier and level. Returns the new objects and the compile timing.
fn compile_missing(
    module: &Module,
    jobs: &[KernelJob],
    found: &mut [Option<kernel_cache::CachedKernel>],
    tiers: &[Tier],
    on_pool: bool,
) -> Result<(Vec<Vec<u8>>, jit::CompileTiming), String> {
    let threads = if on_pool {
        threads::pool().current_num_threads()
    } else {
        1
    };
    let batches = kernel_batches(module, jobs, found, tiers, threads);
    // LLVM folds some constants with the host's libm: IEEE mode.
    let compile = |(tier, batch): &(Tier, Vec<usize>)| {
        threads::with_mode(threads::Mode::Ieee, || {
            compile_batch(module, jobs, batch, *tier)
        })
    };
    let compiled: Vec<Result<CompiledBatch, String>> = if on_pool {
        use rayon::prelude::*;
        threads::pool().install(|| batches.par_iter().map(compile).collect())
    } else {
        batches.iter().map(compile).collect()
    };
    let mut timing = jit::CompileTiming::default();
    let mut objects: Vec<Vec<u8>> = Vec::new();
    for ((tier, batch), result) in batches.iter().zip(compiled) {
        let (object, infos, t) = result?;
        timing += t;
        for (&j, info) in batch.iter().zip(infos) {
            // Each kernel's entry holds its whole batch's object (kernels are weak
            // symbols, so objects sharing a kernel link together).
            let kernel = kernel_cache::CachedKernel {
                object: object.clone(),
                elements: info.elements,
                work_per_element: info.work_per_element,
            };
            if *tier == Tier::Full {
                kernel_cache::store(&jobs[j].key, &kernel);
            }
            found[j] = Some(kernel);
        }
        objects.push(object);
    }
    Ok((objects, timing))
}

/// Queues the second-tier compile of the first-tier kernels `upgrade` (job and
/// slot) of the program whose kernels are `slots`.
/// The second-tier compile of the kernels `upgrade` (slot, job), for
/// [`tiers::submit`].
fn upgrade_job(module: &Arc<Module>, upgrade: Vec<(usize, KernelJob)>) -> tiers::Upgrade {
    let module = module.clone();
    Box::new(move || {
        let (slot_of, jobs): (Vec<usize>, Vec<KernelJob>) = upgrade.into_iter().unzip();
        // On this thread: the program keeps the pool's threads meanwhile.
        let mut found = vec![None; jobs.len()];
        let full = vec![Tier::Full; jobs.len()];
        let (objects, _) = compile_missing(&module, &jobs, &mut found, &full, false)?;
        let symbols: Vec<String> = jobs.iter().map(|j| j.symbol.clone()).collect();
        let unique: Vec<&[u8]> = objects.iter().map(Vec::as_slice).collect();
        let code = JitCode::link(&unique, &symbols)?;
        let fns = slot_of
            .iter()
            .zip(&jobs)
            .map(|(&slot, job)| (slot, code.kernels[&job.symbol]))
            .collect();
        Ok((code, fns))
    })
}

/// Splits the kernels still to compile into batches of one tier (and, at the
/// second tier, one code-generation level): about `threads` batches per group,
/// balanced by a rough cost (instruction count).
fn kernel_batches(
    module: &Module,
    jobs: &[KernelJob],
    found: &[Option<kernel_cache::CachedKernel>],
    tiers: &[Tier],
    threads: usize,
) -> Vec<(Tier, Vec<usize>)> {
    let mut batches = Vec::new();
    let groups = [
        (Tier::Quick, None),
        (Tier::Full, Some(jit::OptimizationLevel::None)),
        (Tier::Full, Some(jit::OptimizationLevel::Default)),
    ];
    for (tier, level) in groups {
        let mut todo: Vec<(usize, usize)> = (0..jobs.len())
            .filter(|&j| {
                found[j].is_none() && tiers[j] == tier && level.is_none_or(|l| jobs[j].level == l)
            })
            .map(|j| (module.computation(jobs[j].fused).instrs.len() + 8, j))
            .collect();
        if todo.is_empty() {
            continue;
        }
        // Largest first, each to the lightest batch.
        todo.sort_by(|a, b| b.cmp(a));
        let n = threads.clamp(1, todo.len());
        let mut load = vec![(0usize, Vec::new()); n];
        for (cost, j) in todo {
            let lightest = load
                .iter_mut()
                .min_by_key(|(c, _)| *c)
                .expect("at least one batch");
            lightest.0 += cost;
            lightest.1.push(j);
        }
        batches.extend(load.into_iter().map(|(_, b)| (tier, b)));
    }
    batches
}

/// One batch's object code, its kernels' run-time facts and its compile timing.
type CompiledBatch = (Vec<u8>, Vec<kernel::KernelInfo>, jit::CompileTiming);

/// Compiles the kernels `batch` (indices into `jobs`, of one code-generation
/// level) into one object at `tier`.
fn compile_batch(
    module: &Module,
    jobs: &[KernelJob],
    batch: &[usize],
    tier: Tier,
) -> Result<CompiledBatch, String> {
    let (level, passes) = match tier {
        Tier::Quick => (jit::OptimizationLevel::None, jit::QUICK_PASSES.to_string()),
        Tier::Full => (jobs[batch[0]].level, jit::passes()),
    };
    let mut infos = Vec::with_capacity(batch.len());
    let (object, timing) = jit::compile_object(level, &passes, |cx, llvm| {
        let builder = cx.create_builder();
        let mut el = Elemental::new(cx, llvm, &builder, module);
        el.set_x86_avx512(jit::host_machine().has_avx512());
        for &j in batch {
            let job = &jobs[j];
            let comp = module.computation(job.fused);
            let info = match job.kind {
                FusionKind::Loop => kernel::emit_loop_kernel(&mut el, &job.symbol, comp),
                FusionKind::Input => kernel::emit_reduce_kernel(&mut el, &job.symbol, comp),
                FusionKind::Row => kernel::emit_row_kernel(&mut el, &job.symbol, comp),
            }
            .map_err(|e| format!("kernel {}: {e}", job.symbol))?;
            infos.push(info);
        }
        Ok(())
    })?;
    Ok((object, infos, timing))
}

/// Raw buffer addresses handed to a kernel running on several threads.
struct Pointers<'a>(&'a [*mut u8]);
// SAFETY: the kernel only reads inputs and writes disjoint output ranges per chunk;
// the buffers outlive the parallel region.
unsafe impl Sync for Pointers<'_> {}
// SAFETY: see `Sync`.
unsafe impl Send for Pointers<'_> {}

impl Pointers<'_> {
    /// The list's address, as the kernel ABI takes it.
    fn base(&self) -> *const *mut u8 {
        self.0.as_ptr()
    }
}

/// Runs `f` on the first `count` of `addresses` as a kernel's pointer list, kept on
/// the stack for all but the widest kernels (one allocation less per kernel call).
fn with_pointers<R>(
    count: usize,
    addresses: impl Iterator<Item = *mut u8>,
    f: impl FnOnce(&Pointers<'_>) -> R,
) -> R {
    const ON_STACK: usize = 16;
    let mut stack = [std::ptr::null_mut::<u8>(); ON_STACK];
    let mut heap = Vec::new();
    let ptrs: &mut [*mut u8] = if count <= ON_STACK {
        &mut stack[..count]
    } else {
        heap.resize(count, std::ptr::null_mut());
        &mut heap
    };
    for (p, a) in ptrs.iter_mut().zip(addresses) {
        *p = a;
    }
    f(&Pointers(ptrs))
}

/// Work (elements × per-element cost) above which a kernel is split across threads.
const PARALLEL_WORK: usize = 1 << 18;

fn run_kernel(f: KernelFn, ptrs: &Pointers<'_>, elements: usize, work: usize) {
    let pool = threads::pool();
    let threads = pool.current_num_threads();
    let total = elements.saturating_mul(work.max(1));
    if threads <= 1 || total < PARALLEL_WORK || elements < 2 {
        // SAFETY: `ptrs` holds the kernel's parameter and output buffers, each
        // with the element count of its static shape; [0, elements) is in range.
        unsafe { f(ptrs.base(), 0, elements as i64) };
        return;
    }
    let chunks = (threads * 4).min(elements);
    let per = elements.div_ceil(chunks);
    if pair::covers_pool() {
        // Both threads of a two-core machine take chunks in turn (see `pair`).
        let next = std::sync::atomic::AtomicUsize::new(0);
        pair::split2(&|_| loop {
            let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let start = c * per;
            if c >= chunks || start >= elements {
                break;
            }
            let end = ((c + 1) * per).min(elements);
            threads::with_mode(threads::Mode::Ieee, || {
                // SAFETY: as above; chunks write disjoint output ranges.
                unsafe { f(ptrs.base(), start as i64, end as i64) };
            });
        });
        return;
    }
    use rayon::prelude::*;
    pool.install(|| {
        (0..chunks).into_par_iter().for_each(|c| {
            let start = c * per;
            let end = ((c + 1) * per).min(elements);
            if start < end {
                // Kernels keep IEEE subnormals on every thread (see `threads`).
                threads::with_mode(threads::Mode::Ieee, || {
                    // SAFETY: as above; chunks write disjoint output ranges.
                    unsafe { f(ptrs.base(), start as i64, end as i64) };
                });
            }
        })
    });
}

impl CpuProgram {
    /// Runs computation `id`, taking ownership of its arguments so that buffers
    /// nobody else holds can be updated in place.
    fn run_computation(
        &self,
        id: CompId,
        args: Vec<Arc<Literal>>,
    ) -> Result<Vec<Arc<Literal>>, String> {
        let comp = self.module.computation(id);
        let steps = &self.steps[id.0];
        let last_use = &self.last_use[id.0];
        let base = &self.value_base[id.0];
        let mut args: Vec<Option<Arc<Literal>>> = args.into_iter().map(Some).collect();
        let mut values: Vec<Option<Arc<Literal>>> = vec![None; base[comp.instrs.len()]];
        for (i, instr) in comp.instrs.iter().enumerate() {
            if let Step::Param(index) = &steps[i] {
                let arg = if self.param_reads[id.0][*index] == 1 {
                    args[*index].take()
                } else {
                    args[*index].clone()
                };
                values[base[i]] =
                    Some(arg.ok_or_else(|| format!("{}: parameter {index} is gone", comp.name))?);
                continue;
            }
            if let Step::Folded = &steps[i] {
                continue;
            }
            let reads = &self.operands[id.0][i];
            let mut operands: Vec<Arc<Literal>> = Vec::with_capacity(reads.len());
            for (k, v) in reads.iter().enumerate() {
                let dies = last_use[v.instr][v.index] == i && !reads[k + 1..].contains(v);
                let slot = &mut values[base[v.instr] + v.index];
                let value = if dies { slot.take() } else { slot.clone() };
                operands
                    .push(value.ok_or_else(|| format!("{} %{i}: operand {k} is gone", comp.name))?);
            }
            let t = self.profile.as_ref().map(|_| std::time::Instant::now());
            let out = self
                .run_step(&steps[i], instr, operands)
                .map_err(|e| format!("{} %{i} ({}): {e}", comp.name, instr.op.name()))?;
            if let (Some(p), Some(t)) = (&self.profile, t) {
                p.record(id, i, t.elapsed());
            }
            for (slot, o) in values[base[i]..base[i + 1]].iter_mut().zip(out) {
                *slot = Some(o);
            }
        }
        comp.results
            .iter()
            .map(|v| {
                values[base[v.instr] + v.index]
                    .clone()
                    .ok_or_else(|| format!("{}: result is gone", comp.name))
            })
            .collect()
    }

    fn run_entry(&self, args: &[&Buffer]) -> Result<Vec<Buffer>, Error> {
        if let (Some(single), None) = (&self.single_kernel, &self.profile) {
            return Ok(self.run_single_kernel(single, args));
        }
        let args: Vec<Arc<Literal>> = args.iter().map(|b| b.shared_literal()).collect();
        let out = self
            .run_computation(self.module.entry, args)
            .map_err(Error::Runtime)?;
        Ok(out.into_iter().map(|l| Buffer::from_shared(l, 0)).collect())
    }

    /// Queues the second-tier compile (once).
    fn submit_upgrade(&self) {
        self.upgrade_pending
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let job = self
            .upgrade
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(job) = job {
            tiers::submit(&self.kernels, job);
        }
    }

    /// Runs a [`SingleKernel`] entry computation on `args` (checked by the caller).
    fn run_single_kernel(&self, single: &SingleKernel, args: &[&Buffer]) -> Vec<Buffer> {
        let instr = &self.module.entry_computation().instrs[single.instr];
        let Step::Kernel {
            slot,
            elements,
            work,
        } = &self.steps[self.module.entry.0][single.instr]
        else {
            unreachable!("a single-kernel program's step is a kernel")
        };
        let inputs = single.params.iter().map(|&p| args[p].literal());
        let outs = self.call_kernel(*slot, *elements, *work, instr, inputs);
        outs.into_iter()
            .map(|o| Buffer::from_shared(self.pool.share(o), 0))
            .collect()
    }

    /// Runs the kernel in `slot` (of the fusion `instr`) on `inputs`, into fresh
    /// (pooled) outputs of `instr`'s shapes.
    fn call_kernel<'l>(
        &self,
        slot: usize,
        elements: usize,
        work: usize,
        instr: &Instr,
        inputs: impl ExactSizeIterator<Item = &'l Literal>,
    ) -> Vec<Literal> {
        let mut outs: Vec<Literal> = instr.shapes.iter().map(|s| self.pool.take(s)).collect();
        let count = inputs.len() + outs.len();
        let addresses = inputs
            .map(|l| l.data().as_ptr() as *mut u8)
            .chain(outs.iter_mut().map(|o| o.data_mut().as_mut_ptr()));
        with_pointers(count, addresses, |ptrs| {
            run_kernel(self.kernels.get(slot), ptrs, elements, work)
        });
        outs
    }

    /// Runs a `Step::DotKernel`: the product into `product`, and the kernel in `slot`
    /// (of the fusion `instr`) over `inputs` with the product inserted at `at`.
    fn run_dot_kernel(
        &self,
        plan: &dot::DotPlan,
        (lhs, rhs): (&Arc<Literal>, &Arc<Literal>),
        product: &mut Literal,
        (slot, work): (usize, usize),
        instr: &Instr,
        (inputs, at): (&[Arc<Literal>], usize),
    ) -> Vec<Literal> {
        let mut outs: Vec<Literal> = instr.shapes.iter().map(|s| self.pool.take(s)).collect();
        let product_ptr = product.data_mut().as_mut_ptr();
        let read = |l: &Arc<Literal>| l.data().as_ptr() as *mut u8;
        let count = inputs.len() + 1 + outs.len();
        let addresses = inputs[..at]
            .iter()
            .map(read)
            .chain(std::iter::once(product_ptr))
            .chain(inputs[at..].iter().map(read))
            .chain(outs.iter_mut().map(|o| o.data_mut().as_mut_ptr()));
        let f = self.kernels.get(slot);
        let elements = product.num_elements();
        with_pointers(count, addresses, |ptrs| {
            plan.run_then(lhs, rhs, product, &|start, end| {
                if (start, end) == (0, elements) {
                    // Not split: the whole kernel, in parallel when it is large.
                    run_kernel(f, ptrs, elements, work);
                    return;
                }
                threads::with_mode(threads::Mode::Ieee, || {
                    // SAFETY: `ptrs` holds the kernel's operand and output buffers
                    // with the element counts of their static shapes (the product's
                    // dims are the kernel's); the rows [start, end) of the product
                    // are computed by now on this thread, and the halves write
                    // disjoint outputs.
                    unsafe { f(ptrs.base(), start as i64, end as i64) };
                });
            })
        });
        outs
    }

    fn run_step(
        &self,
        step: &Step,
        instr: &Instr,
        x: Vec<Arc<Literal>>,
    ) -> Result<Vec<Arc<Literal>>, String> {
        match step {
            Step::Param(_) => Err("parameters are read by run_computation".into()),
            Step::Const(lit) => Ok(vec![lit.clone()]),
            Step::Kernel {
                slot,
                elements,
                work,
            } => {
                let inputs = x.iter().map(|l| &**l);
                let outs = self.call_kernel(*slot, *elements, *work, instr, inputs);
                Ok(outs.into_iter().map(|o| self.pool.share(o)).collect())
            }
            Step::Dot(plan) => {
                let out = self.pool.take(&instr.shapes[0]);
                Ok(vec![self.pool.share(plan.run(&x[0], &x[1], out))])
            }
            Step::Conv(plan) => {
                let out = self.pool.take(&instr.shapes[0]);
                Ok(vec![self.pool.share(plan.run(&x[0], &x[1], out))])
            }
            Step::DotAccumulate(plan) => {
                let mut x = x.into_iter();
                let (acc, lhs, rhs) = match (x.next(), x.next(), x.next()) {
                    (Some(a), Some(l), Some(r)) => (a, l, r),
                    _ => return Err("dot-accumulate needs (acc, lhs, rhs)".into()),
                };
                // In place when nobody else holds the accumulator.
                let acc = self.pool.exclusive(acc);
                Ok(vec![self.pool.share(plan.accumulate(&lhs, &rhs, acc))])
            }
            Step::DotKernel {
                plan,
                slot,
                work,
                at,
                dot_shape,
            } => {
                let mut inputs = x;
                let (rhs, lhs) = match (inputs.pop(), inputs.pop()) {
                    (Some(r), Some(l)) => (r, l),
                    _ => return Err("dot-kernel needs the dot's (lhs, rhs)".into()),
                };
                let mut product = self.pool.take(dot_shape);
                let outs = self.run_dot_kernel(
                    plan,
                    (&lhs, &rhs),
                    &mut product,
                    (*slot, *work),
                    instr,
                    (&inputs, *at),
                );
                drop(self.pool.share(product));
                Ok(outs.into_iter().map(|o| self.pool.share(o)).collect())
            }
            Step::Folded => Err("a folded dot does not run".into()),
            Step::UpdateSlice => {
                let mut it = x.into_iter();
                let operand = it.next().ok_or("missing operand")?;
                let update = it.next().ok_or("missing update")?;
                let starts: Vec<i128> = it.map(|s| s.data().get_i128(0)).collect();
                // In place when nobody else holds the operand; otherwise a copy.
                let mut target = self.pool.exclusive(operand);
                update_slice(&mut target, &update, &starts)?;
                // Back to the pool: the next step's update finds it unshared, and
                // the next call reuses its warm memory.
                Ok(vec![self.pool.share(target)])
            }
            Step::Scatter(combiner) => {
                let Op::Scatter { dims, .. } = &instr.op else {
                    return Err("a scatter step runs a scatter".into());
                };
                let mut it = x.into_iter();
                let (operand, indices, updates) = match (it.next(), it.next(), it.next()) {
                    (Some(o), Some(i), Some(u)) => (o, i, u),
                    _ => return Err("scatter needs (operand, indices, updates)".into()),
                };
                // In place when nobody else holds the operand; otherwise a copy.
                let mut target = self.pool.exclusive(operand);
                crate::backend::interp::scatter_in_place(
                    &mut target,
                    &indices,
                    &updates,
                    dims,
                    *combiner,
                );
                Ok(vec![self.pool.share(target)])
            }
            Step::While { cond, body } => {
                let mut state = x;
                let mut iterations = 0usize;
                loop {
                    iterations += 1;
                    // A long first run starts its second tier without waiting for the
                    // end, so the rest of it runs the faster kernels.
                    if iterations == LONG_RUN_ITERATIONS
                        && self
                            .upgrade_pending
                            .load(std::sync::atomic::Ordering::Relaxed)
                    {
                        self.submit_upgrade();
                    }
                    let p = self.run_computation(*cond, state.clone())?;
                    let go = p[0]
                        .as_slice::<bool>()
                        .ok_or("while predicate is not bool")?[0];
                    if !go {
                        return Ok(state);
                    }
                    state = self.run_computation(*body, state)?;
                }
            }
            Step::Conditional { branches } => {
                let last = branches.len() as i128 - 1;
                // An out-of-range index runs the last branch (XLA clamps).
                let i = x[0].data().get_i128(0).clamp(0, last) as usize;
                self.run_computation(branches[i], x[1..].to_vec())
            }
            Step::Call { comp } => self.run_computation(*comp, x),
            Step::Interp => {
                let interp = Interp::new(&self.module);
                let refs: Vec<&Literal> = x.iter().map(|l| l.as_ref()).collect();
                let out = interp.eval(&instr.op, &refs, &[], &instr.shapes)?;
                Ok(out.into_iter().map(Arc::new).collect())
            }
        }
    }
}

/// Writes `update` into `target` at `starts`, clamped so the update fits
/// (dynamic_update_slice semantics), one contiguous innermost row at a time.
fn update_slice(target: &mut Literal, update: &Literal, starts: &[i128]) -> Result<(), String> {
    let dims = target.dims().to_vec();
    let udims = update.dims().to_vec();
    if target.dtype() != update.dtype() || dims.len() != udims.len() || starts.len() != dims.len() {
        return Err("dynamic_update_slice: operand, update and starts disagree".into());
    }
    if udims.contains(&0) {
        return Ok(());
    }
    let width = target.dtype().size_bytes();
    let start: Vec<usize> = starts
        .iter()
        .zip(dims.iter().zip(&udims))
        .map(|(&s, (&d, &u))| s.clamp(0, (d - u) as i128) as usize)
        .collect();
    let tstrides = crate::strides_of(&dims);
    // Trailing dims the update covers whole merge into its rows (a scan's
    // per-step [1, 32, 256] slice is one contiguous run of the target).
    let mut rank = dims.len();
    while rank > 1 && udims[rank - 1] == dims[rank - 1] && start[rank - 1] == 0 {
        rank -= 1;
    }
    let inner: usize = udims[rank.max(1) - 1..].iter().product();
    let row = if dims.is_empty() { 1 } else { inner };
    let rows = update.num_elements() / row;
    let outer: Vec<usize> = if rank == 0 {
        vec![]
    } else {
        udims[..rank - 1].to_vec()
    };
    let src = update.data().as_ptr();
    let dst = target.data_mut().as_mut_ptr();
    for r in 0..rows {
        // Multi-index of this row inside the update, then its offset in the target.
        let mut rem = r;
        let mut offset = 0;
        for k in (0..outer.len()).rev() {
            let i = rem % outer[k];
            rem /= outer[k];
            offset += (start[k] + i) * tstrides[k];
        }
        if rank > 0 {
            offset += start[rank - 1] * tstrides[rank - 1];
        }
        // SAFETY: the clamped window lies inside `target` (start + update dims <=
        // dims), rows of `row` elements are contiguous in both row-major buffers
        // (merged dims are whole in the target), and `update` and `target` are
        // distinct allocations of the same element width.
        unsafe {
            std::ptr::copy_nonoverlapping(
                src.add(r * row * width),
                dst.add(offset * width),
                row * width,
            );
        }
    }
    Ok(())
}

impl CompiledProgram for CpuProgram {
    fn run(&self, args: &[&Buffer]) -> Result<Vec<Buffer>, Error> {
        let out = self.run_entry(args);
        if self
            .upgrade_pending
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            self.submit_upgrade();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Builder, DType, Shape};

    /// A fused computation reading parameter 0 (f32[4,8]) through `f` and adding
    /// parameter 1 (f32[8], broadcast along rows).
    fn fused(f: impl FnOnce(&mut Builder, Value) -> Value) -> Computation {
        let mut b = Builder::new("fused");
        let x = b.parameter(Shape::new(DType::F32, [4, 8]));
        let row = b.parameter(Shape::new(DType::F32, [8]));
        let spread = b.broadcast_in_dim(row, &[4, 8], &[1]);
        let y = f(&mut b, x);
        let z = b.binary(BinaryOp::Add, y, spread);
        b.finish(&[z]).entry_computation().clone()
    }

    #[test]
    fn pointwise_consumers_are_recognized() {
        let tanh = fused(|b, x| b.unary(crate::UnaryOp::Tanh, x));
        assert!(pointwise_in(&tanh, 0));
        // The broadcast row is not pointwise, but parameter 0 is all that matters.
        assert!(!pointwise_in(&tanh, 1));
        let reversed = fused(|b, x| b.add(Op::Reverse { dims: vec![0] }, &[x]));
        assert!(!pointwise_in(&reversed, 0));
        let transposed = fused(|b, x| {
            let t = b.transpose(x, &[1, 0]);
            b.reshape(t, &[4, 8])
        });
        assert!(!pointwise_in(&transposed, 0));
        let sliced = fused(|b, x| {
            let s = b.slice(x, &[0, 0], &[2, 8], &[1, 1]);
            b.add(Op::Concatenate { dim: 0 }, &[s, s])
        });
        assert!(!pointwise_in(&sliced, 0));
    }

    /// `acc + dot(a, b)` runs as one accumulating GEMM: the accumulator a parameter
    /// (copied: the caller holds it) and computed in the program (dying there: in
    /// place), a plain and a transposed rhs; results equal the interpreter's within
    /// the dot's rounding.
    #[test]
    fn add_of_a_dot_becomes_one_accumulating_gemm() {
        for (computed_acc, rhs_contracting) in [(false, 0), (true, 0), (true, 1)] {
            let (m, k, n) = (7usize, 33usize, 19usize);
            let mut b = Builder::new("acc");
            let acc = b.parameter(Shape::new(DType::F32, [m, n]));
            let x = b.parameter(Shape::new(DType::F32, [m, k]));
            let w_dims = if rhs_contracting == 0 { [k, n] } else { [n, k] };
            let w = b.parameter(Shape::new(DType::F32, w_dims));
            let dot = |b: &mut Builder, l, r, rc: usize| {
                let dims = DotDims {
                    lhs_batch: vec![],
                    rhs_batch: vec![],
                    lhs_contracting: vec![1],
                    rhs_contracting: vec![rc],
                };
                let op = Op::DotGeneral {
                    dims,
                    out_dtype: DType::F32,
                };
                b.add(op, &[l, r])
            };
            // A computed accumulator (another product, dying at the add): in place.
            let acc = if computed_acc {
                let v = b.parameter(Shape::new(DType::F32, [n, n]));
                dot(&mut b, acc, v, 0)
            } else {
                acc
            };
            let d = dot(&mut b, x, w, rhs_contracting);
            let y = b.binary(BinaryOp::Add, acc, d);
            let module = b.finish(&[y]);
            let program = compile(&module).unwrap();
            let entry = &program.steps[program.module.entry.0];
            assert!(
                entry.iter().any(|s| matches!(s, Step::DotAccumulate(_)))
                    && entry.iter().any(|s| matches!(s, Step::Folded)),
                "the add and the dot are folded"
            );
            let lit = |dims: &[usize], seed: usize| {
                let n: usize = dims.iter().product();
                let v: Vec<f32> = (0..n)
                    .map(|i| (((i + seed) * 7919) % 101) as f32 / 13.0 - 4.0)
                    .collect();
                Literal::from_vec(dims, v)
            };
            let mut args = vec![lit(&[m, n], 1), lit(&[m, k], 2), lit(&w_dims, 3)];
            if computed_acc {
                args.push(lit(&[n, n], 4));
            }
            let want = crate::backend::interp::evaluate(&module, &args).unwrap();
            let bufs: Vec<Buffer> = args
                .iter()
                .map(|l| Buffer::from_literal(l.clone(), 0))
                .collect();
            let refs: Vec<&Buffer> = bufs.iter().collect();
            let got = program.run(&refs).unwrap();
            let (g, e) = (
                got[0].literal().as_slice::<f32>().unwrap(),
                want[0].as_slice::<f32>().unwrap(),
            );
            for (a, b) in g.iter().zip(e) {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
            }
            // The caller's accumulator is untouched.
            assert_eq!(bufs[0].literal(), &args[0]);
        }
    }
}
