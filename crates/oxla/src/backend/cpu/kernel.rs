//! Loop nests around the elemental emitter: one LLVM function per fusion.
//!
//! Every kernel has the signature `void k(i8** bufs, i64 start, i64 end)`: `bufs`
//! holds the fused computation's parameters, then its outputs; `[start, end)` is a
//! range of output elements (linear, row-major), so the runtime can split the work
//! across threads.

use super::stores::{self, Output};
use crate::codegen::elemental::{Elemental, Idx, ParamSource, R};
use crate::hlo::ir::*;
use crate::DType;
use inkwell::basic_block::BasicBlock;
use inkwell::values::{
    BasicValueEnum, FunctionValue, IntValue, PhiValue, PointerValue, VectorValue,
};
use inkwell::IntPredicate;

pub(super) fn bld<T>(r: Result<T, inkwell::builder::BuilderError>) -> R<T> {
    r.map_err(|e| format!("llvm builder: {e}"))
}

/// What the runtime needs to know to call a kernel.
#[derive(Clone, Debug)]
pub struct KernelInfo {
    /// Number of output elements the `[start, end)` range refers to.
    pub elements: usize,
    /// Rough work per output element (for the parallel split).
    pub work_per_element: usize,
}

/// A counted loop `for i in lo..hi` with extra loop-carried values.
pub(super) struct Loop<'ctx> {
    pub index: IntValue<'ctx>,
    carried: Vec<PhiValue<'ctx>>,
    header: BasicBlock<'ctx>,
    exit: BasicBlock<'ctx>,
    phi: PhiValue<'ctx>,
}

pub(super) fn begin_loop<'ctx>(
    el: &Elemental<'_, 'ctx>,
    f: FunctionValue<'ctx>,
    lo: IntValue<'ctx>,
    hi: IntValue<'ctx>,
    carried_init: &[BasicValueEnum<'ctx>],
) -> R<Loop<'ctx>> {
    let cx = el.context;
    let b = el.builder;
    let pre = b.get_insert_block().expect("positioned");
    let header = cx.append_basic_block(f, "head");
    let body = cx.append_basic_block(f, "body");
    let exit = cx.append_basic_block(f, "exit");
    bld(b.build_unconditional_branch(header))?;
    b.position_at_end(header);
    let phi = bld(b.build_phi(el.i64t(), "i"))?;
    phi.add_incoming(&[(&lo, pre)]);
    let mut carried = Vec::new();
    for init in carried_init {
        let p = bld(b.build_phi(init.get_type(), "acc"))?;
        p.add_incoming(&[(init, pre)]);
        carried.push(p);
    }
    let index = phi.as_basic_value().into_int_value();
    let more = bld(b.build_int_compare(IntPredicate::SLT, index, hi, "more"))?;
    bld(b.build_conditional_branch(more, body, exit))?;
    b.position_at_end(body);
    Ok(Loop {
        index,
        carried,
        header,
        exit,
        phi,
    })
}

pub(super) fn end_loop<'ctx>(
    el: &Elemental<'_, 'ctx>,
    l: &Loop<'ctx>,
    step: IntValue<'ctx>,
    carried_next: &[BasicValueEnum<'ctx>],
) -> R<()> {
    let b = el.builder;
    let latch = b.get_insert_block().expect("positioned");
    let next = bld(b.build_int_nsw_add(l.index, step, "next"))?;
    l.phi.add_incoming(&[(&next, latch)]);
    for (p, v) in l.carried.iter().zip(carried_next) {
        p.add_incoming(&[(v, latch)]);
    }
    let latch_branch = bld(b.build_unconditional_branch(l.header))?;
    if el.interleave() > 1 {
        set_interleave(el, latch_branch, el.interleave());
    }
    b.position_at_end(l.exit);
    Ok(())
}

/// Asks the loop vectorizer to interleave `count` vector iterations of the loop
/// whose latch branch is `latch` (LLVM's `llvm.loop.interleave.count`): two
/// independent dependency chains in flight instead of one.
fn set_interleave(
    el: &Elemental<'_, '_>,
    latch: inkwell::values::InstructionValue<'_>,
    count: u32,
) {
    use inkwell::context::AsContextRef;
    use inkwell::llvm_sys::core::*;
    use inkwell::llvm_sys::debuginfo::{LLVMMetadataReplaceAllUsesWith, LLVMTemporaryMDNode};
    use inkwell::values::AsValueRef;
    let key = "llvm.loop.interleave.count";
    let kind = "llvm.loop";
    // SAFETY: every handle comes from the live context of `el` (and `latch` is an
    // instruction in it); strings are passed with their lengths. The loop ID must
    // refer to itself: a temporary node stands for it while it is built and is
    // then replaced by it (which also frees the temporary).
    unsafe {
        let ctx = el.context.as_ctx_ref();
        let name = LLVMMDStringInContext2(ctx, key.as_ptr().cast(), key.len());
        let i32t = LLVMInt32TypeInContext(ctx);
        let value = LLVMValueAsMetadata(LLVMConstInt(i32t, count as u64, 0));
        let mut hint_ops = [name, value];
        let hint = LLVMMDNodeInContext2(ctx, hint_ops.as_mut_ptr(), 2);
        let temp = LLVMTemporaryMDNode(ctx, std::ptr::null_mut(), 0);
        let mut id_ops = [temp, hint];
        let id = LLVMMDNodeInContext2(ctx, id_ops.as_mut_ptr(), 2);
        LLVMMetadataReplaceAllUsesWith(temp, id);
        let kind_id = LLVMGetMDKindIDInContext(ctx, kind.as_ptr().cast(), kind.len() as u32);
        LLVMSetMetadata(latch.as_value_ref(), kind_id, LLVMMetadataAsValue(ctx, id));
    }
}

/// A kernel function being emitted: its range arguments and buffers.
struct Prologue<'ctx> {
    f: FunctionValue<'ctx>,
    start: IntValue<'ctx>,
    end: IntValue<'ctx>,
    /// The fused computation's parameters, read from their buffers.
    params: Vec<ParamSource<'ctx>>,
    /// One buffer per result.
    outs: Vec<PointerValue<'ctx>>,
}

/// Declares `void name(i8** bufs, i64 start, i64 end)` for `comp` and loads its
/// parameter and output buffer pointers.
fn prologue<'ctx>(el: &Elemental<'_, 'ctx>, name: &str, comp: &Computation) -> R<Prologue<'ctx>> {
    let nparams = comp.params.len();
    let count = nparams + comp.results.len();
    let cx = el.context;
    let ptr = el.ptr_type();
    let i64t = el.i64t();
    let fty = cx
        .void_type()
        .fn_type(&[ptr.into(), i64t.into(), i64t.into()], false);
    // Weak: an object from the kernel cache may hold other kernels too, so two
    // objects can define the same kernel (equal names mean equal code).
    let f = el
        .module
        .add_function(name, fty, Some(inkwell::module::Linkage::WeakODR));
    let entry = cx.append_basic_block(f, "entry");
    el.builder.position_at_end(entry);
    let bufs = f.get_nth_param(0).expect("bufs").into_pointer_value();
    let start = f.get_nth_param(1).expect("start").into_int_value();
    let end = f.get_nth_param(2).expect("end").into_int_value();
    let mut ptrs = Vec::with_capacity(count);
    for k in 0..count {
        // SAFETY: the runtime passes an array of `count` buffer pointers.
        let slot = unsafe {
            bld(el
                .builder
                .build_in_bounds_gep(ptr, bufs, &[el.c64(k as i64)], "slot"))?
        };
        let p = bld(el.builder.build_load(ptr, slot, "buf"))?.into_pointer_value();
        ptrs.push(p);
    }
    let outs = ptrs.split_off(nparams);
    // A 0-d parameter (a dynamic_slice start, a scalar operand) is read once here:
    // the loops cannot hoist its load themselves, as outputs might alias it for all
    // LLVM knows, and a load in the loop keeps a contiguous copy from vectorizing.
    let params = ptrs
        .into_iter()
        .zip(&comp.params)
        .map(|(p, shape)| {
            Ok(if shape.dims.is_empty() {
                ParamSource::Scalar(el.load(p, shape.dtype, el.c64(0))?)
            } else {
                ParamSource::Buffer(p)
            })
        })
        .collect::<R<Vec<_>>>()?;
    Ok(Prologue {
        f,
        start,
        end,
        params,
        outs,
    })
}

/// Emits a loop kernel: every result of `comp` (all of the same dims) computed at
/// each output index in `[start, end)`.
pub fn emit_loop_kernel<'ctx>(
    el: &mut Elemental<'_, 'ctx>,
    name: &str,
    comp: &Computation,
) -> R<KernelInfo> {
    let Prologue {
        f,
        start,
        end,
        params,
        outs,
    } = prologue(el, name, comp)?;
    let dims = comp.shape(comp.results[0]).dims.clone();
    let elements: usize = dims.iter().product();
    let b = el.builder;
    let rank = dims.len();
    let row_len = if rank == 0 { 1 } else { dims[rank - 1] as i64 };
    let outer_dims: Vec<usize> = if rank == 0 {
        vec![]
    } else {
        dims[..rank - 1].to_vec()
    };

    // Outer loop over (partial) rows: lin advances to the next row start.
    let pre = b.get_insert_block().expect("positioned");
    let cx = el.context;
    let header = cx.append_basic_block(f, "rows");
    let body = cx.append_basic_block(f, "row");
    let exit = cx.append_basic_block(f, "done");
    bld(b.build_unconditional_branch(header))?;
    b.position_at_end(header);
    let lin_phi = bld(b.build_phi(el.i64t(), "lin"))?;
    lin_phi.add_incoming(&[(&start, pre)]);
    let lin = lin_phi.as_basic_value().into_int_value();
    let more = bld(b.build_int_compare(IntPredicate::SLT, lin, end, "more"))?;
    bld(b.build_conditional_branch(more, body, exit))?;
    b.position_at_end(body);
    let row = bld(b.build_int_unsigned_div(lin, el.c64(row_len), "row"))?;
    let col0 = bld(b.build_int_unsigned_rem(lin, el.c64(row_len), "col0"))?;
    let base = bld(b.build_int_nuw_mul(row, el.c64(row_len), "base"))?;
    let remaining = bld(b.build_int_sub(end, base, "remaining"))?;
    let fits = bld(b.build_int_compare(IntPredicate::SLT, remaining, el.c64(row_len), "fits"))?;
    let col_end = bld(b.build_select(fits, remaining, el.c64(row_len), "colend"))?.into_int_value();
    let outer = el.idx_from_linear(&outer_dims, row)?;
    // Streaming stores need rows long enough for whole chunks.
    let long_rows = row_len as usize >= 2 * stores::CHUNK;
    let outputs: Vec<Output> = outs
        .iter()
        .zip(&comp.results)
        .map(|(&ptr, &r)| {
            let dtype = comp.shape(r).dtype;
            Output {
                ptr,
                dtype,
                stream: long_rows && stores::stream_output(elements, dtype),
            }
        })
        .collect();
    // Inputs of the output's dims (read at its index, as a rule), prefetched a
    // distance ahead in large kernels: the hardware prefetchers stop at page
    // boundaries, and a compute-heavy loop keeps too few loads in flight to hide
    // the latency of restarting them (exp over 16M f32, one core: 13.2 -> 10.4 ms).
    let ahead: Vec<(PointerValue<'ctx>, DType)> = if long_rows && outputs.iter().any(|o| o.stream) {
        params
            .iter()
            .zip(&comp.params)
            .filter_map(|(p, shape)| match p {
                ParamSource::Buffer(p) if shape.dims == dims => Some((*p, shape.dtype)),
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let prefetch = |el: &Elemental<'_, 'ctx>, chunk: IntValue<'ctx>| -> R<()> {
        let at = bld(el.builder.build_int_nuw_add(base, chunk, "at"))?;
        for &(p, d) in &ahead {
            let distance = (PREFETCH_AHEAD_BYTES / d.size_bytes()) as i64;
            let at = bld(el.builder.build_int_nuw_add(at, el.c64(distance), "ahead"))?;
            let per_line = (64 / d.size_bytes()).max(1);
            for k in (0..stores::CHUNK).step_by(per_line) {
                let i = bld(el.builder.build_int_nuw_add(at, el.c64(k as i64), "pf"))?;
                el.prefetch(p, d, i, false)?;
            }
        }
        Ok(())
    };
    // Two or more math functions per element make a dependency chain longer than
    // the out-of-order window hides: interleave two vector iterations (a chain of
    // seven, exp/tanh/logistic/sin, over 16M f32: 92-103 -> 67-71 ms). Not for
    // lighter loops: twice the code for no gain (softmax's loops got slower).
    let math_ops = comp
        .instrs
        .iter()
        .filter(|i| i.op.is_approximated_math())
        .count();
    el.set_interleave(if math_ops >= 2 { 2 } else { 1 });
    stores::emit_output_loop(
        el,
        f,
        (col0, col_end),
        base,
        &outputs,
        (!ahead.is_empty()).then_some(&prefetch),
        &mut |el, pos| {
            let mut multi = outer.multi.clone();
            if rank > 0 {
                multi.push(pos);
            }
            let linear = bld(el.builder.build_int_nuw_add(base, pos, "l"))?;
            let idx = Idx {
                id: usize::MAX - 1,
                multi,
                linear,
            };
            comp.results
                .iter()
                .map(|&r| el.value(comp, &params, r, &idx))
                .collect()
        },
    )?;
    el.set_interleave(1);
    let latch = el.builder.get_insert_block().expect("positioned");
    let next = bld(el.builder.build_int_nuw_add(base, el.c64(row_len), "next"))?;
    lin_phi.add_incoming(&[(&next, latch)]);
    bld(el.builder.build_unconditional_branch(header))?;
    el.builder.position_at_end(exit);
    stores::fence_streams(el, &outputs)?;
    bld(el.builder.build_return(None))?;
    Ok(KernelInfo {
        elements,
        work_per_element: comp.instrs.len(),
    })
}

/// Emits an input (reduction) kernel: the results are those of the computation's
/// reduce roots, which all reduce operands of the same dims over the same dims.
pub fn emit_reduce_kernel(
    el: &mut Elemental<'_, '_>,
    name: &str,
    comp: &Computation,
) -> R<KernelInfo> {
    let Prologue {
        f,
        start,
        end,
        params,
        outs,
    } = prologue(el, name, comp)?;
    // The distinct reduce instructions, in result order.
    let mut reduces: Vec<usize> = Vec::new();
    for r in &comp.results {
        if !reduces.contains(&r.instr) {
            reduces.push(r.instr);
        }
    }
    let first = &comp.instrs[reduces[0]];
    let Op::Reduce { dims: red_dims, .. } = &first.op else {
        return Err("input kernel root is not a reduce".into());
    };
    // Combine in increasing index order (the reduce semantics), whatever order the
    // dims are listed in: float results depend on it.
    let mut red_dims = red_dims.clone();
    red_dims.sort_unstable();
    let in_dims = comp.shape(first.operands[0]).dims.clone();
    let out_dims: Vec<usize> = (0..in_dims.len())
        .filter(|d| !red_dims.contains(d))
        .map(|d| in_dims[d])
        .collect();
    let red_sizes: Vec<usize> = red_dims.iter().map(|&d| in_dims[d]).collect();
    let red_count: usize = red_sizes.iter().product();
    let elements: usize = out_dims.iter().product();

    if let Some(plan) = row_reduction(el.hlo, comp, &reduces, &in_dims, &red_dims) {
        emit_row_reduction(
            el,
            f,
            (start, end),
            comp,
            &reduces,
            &params,
            &outs,
            &plan,
            (&out_dims, &red_sizes),
        )?;
        return Ok(KernelInfo {
            elements,
            work_per_element: red_count.max(1) * comp.instrs.len(),
        });
    }
    if let Some(acc_out) = column_outputs(comp, &reduces, &red_dims, in_dims.len()) {
        emit_column_reduction(
            el,
            f,
            (start, end),
            comp,
            (&reduces, &params, &outs, &acc_out),
            (&in_dims, &out_dims, &red_sizes),
        )?;
        return Ok(KernelInfo {
            elements,
            work_per_element: red_count.max(1) * comp.instrs.len(),
        });
    }
    let outer = begin_loop(el, f, start, end, &[])?;
    let out_idx = el.idx_from_linear(&out_dims, outer.index)?;
    // Initial accumulators: the init operands (scalars).
    let mut inits: Vec<BasicValueEnum> = Vec::new();
    for &ri in &reduces {
        let instr = &comp.instrs[ri];
        let n = instr.operands.len() / 2;
        for k in 0..n {
            let s = el.scalar_idx();
            inits.push(el.value(comp, &params, instr.operands[n + k], &s)?);
        }
    }
    let inner = begin_loop(el, f, el.c64(0), el.c64(red_count as i64), &inits)?;
    let red_idx = el.idx_from_linear(&red_sizes, inner.index)?;
    let mut multi = Vec::with_capacity(in_dims.len());
    let mut oi = 0;
    for d in 0..in_dims.len() {
        if red_dims.contains(&d) {
            let pos = red_dims.iter().position(|&x| x == d).expect("reduced dim");
            multi.push(red_idx.multi[pos]);
        } else {
            multi.push(out_idx.multi[oi]);
            oi += 1;
        }
    }
    let in_idx = el.idx_from_multi(&in_dims, multi)?;
    let mut next: Vec<BasicValueEnum> = Vec::new();
    let mut acc_pos = 0;
    for &r in &reduces {
        let instr = &comp.instrs[r];
        let Op::Reduce { body, .. } = &instr.op else {
            return Err("input kernel root is not a reduce".into());
        };
        let n = instr.operands.len() / 2;
        let accs: Vec<BasicValueEnum> = inner.carried[acc_pos..acc_pos + n]
            .iter()
            .map(|p| p.as_basic_value())
            .collect();
        let mut xs = Vec::with_capacity(n);
        for k in 0..n {
            xs.push(el.value(comp, &params, instr.operands[k], &in_idx)?);
        }
        let mut args = accs;
        args.extend(xs);
        let out = el.region(*body, &args)?;
        next.extend(out);
        acc_pos += n;
    }
    end_loop(el, &inner, el.c64(1), &next)?;
    // Store the final accumulators.
    let finals: Vec<BasicValueEnum> = inner.carried.iter().map(|p| p.as_basic_value()).collect();
    for (k, r) in comp.results.iter().enumerate() {
        // Result k is result `r.index` of reduce `r.instr`: find its accumulator.
        let mut pos = 0;
        for &ri2 in &reduces {
            if ri2 == r.instr {
                break;
            }
            pos += comp.instrs[ri2].operands.len() / 2;
        }
        let d: DType = comp.shape(*r).dtype;
        el.store(outs[k], d, outer.index, finals[pos + r.index])?;
    }
    end_loop(el, &outer, el.c64(1), &[])?;
    el.clear_memo();
    bld(el.builder.build_return(None))?;
    Ok(KernelInfo {
        elements,
        work_per_element: red_count.max(1) * comp.instrs.len(),
    })
}

/// For each reduce of a row kernel whose operand is computed (not a parameter) and
/// also feeds an elementwise result: the result (output index) whose buffer the
/// fold stores the operand in, so the element loop loads it instead of computing
/// it again (softmax's `exp(x - max)`). The operand must be read only at its own
/// element on the way to the results (elementwise ops of the rows' dims), and the
/// result must have its dtype and depend on it; each output holds one operand.
fn row_spills(comp: &Computation, in_dims: &[usize]) -> std::collections::HashMap<usize, usize> {
    let users = crate::passes::fusion::users_of(comp);
    let mut spills = std::collections::HashMap::new();
    let mut taken = std::collections::HashSet::new();
    for (r, instr) in comp.instrs.iter().enumerate() {
        if !matches!(instr.op, Op::Reduce { .. }) {
            continue;
        }
        let v = instr.operands[0];
        let producer = &comp.instrs[v.instr];
        if matches!(producer.op, Op::Parameter { .. }) || producer.shapes.len() != 1 {
            continue;
        }
        // Walk the uses: reduces end a path; elementwise ops of the rows' dims
        // continue it; anything else rules the spill out.
        let mut reached = std::collections::HashSet::new();
        let mut stack = vec![v.instr];
        let mut local = true;
        while let Some(x) = stack.pop() {
            reached.insert(x);
            for &u in &users[x] {
                let user = &comp.instrs[u];
                if matches!(user.op, Op::Reduce { .. }) {
                    continue;
                }
                let same_row = crate::passes::fusion::is_elementwise(&user.op)
                    && user.shapes[0].dims == in_dims;
                if !same_row {
                    local = false;
                } else if !reached.contains(&u) {
                    stack.push(u);
                }
            }
        }
        if !local {
            continue;
        }
        let d = producer.shapes[0].dtype;
        let target = comp.results.iter().enumerate().find(|(k, res)| {
            reached.contains(&res.instr)
                && comp.shape(**res).dtype == d
                && comp.shape(**res).dims == in_dims
                && !taken.contains(k)
        });
        if let Some((k, _)) = target {
            taken.insert(k);
            spills.insert(r, k);
        }
    }
    spills
}

/// The row-shaped buffers of a row kernel, to prefetch the next row from while a
/// later pass works on the current one (from cache). Without it the memory sits
/// idle during those passes: the hardware prefetchers do not run ahead across
/// the page boundaries of a long row.
struct NextRow<'ctx> {
    /// Buffer, dtype, and whether the kernel stores to it.
    buffers: Vec<(PointerValue<'ctx>, DType, bool)>,
    /// Elements per row.
    count: usize,
    /// Which of how many passes shares out the prefetching (see `share`).
    pass: usize,
    passes: usize,
}

/// Where a row fold stores its reduce operand for the last pass to read back.
#[derive(Clone, Copy)]
struct Spill<'ctx> {
    ptr: PointerValue<'ctx>,
    /// A one-row buffer (indexed by the position in the row), not an output.
    in_row: bool,
}

impl<'ctx> Spill<'ctx> {
    fn at(&self, linear: IntValue<'ctx>, pos: IntValue<'ctx>) -> IntValue<'ctx> {
        if self.in_row {
            pos
        } else {
            linear
        }
    }
}

/// The largest row buffer a row kernel keeps on its stack.
const ROW_SCRATCH_BYTES: usize = 64 << 10;

/// A stack buffer for one row of `count` elements of `d`.
fn row_scratch<'ctx>(
    el: &Elemental<'_, 'ctx>,
    f: FunctionValue<'ctx>,
    d: DType,
    count: usize,
) -> R<PointerValue<'ctx>> {
    let ty = inkwell::types::BasicType::array_type(&el.storage_type(d), count as u32);
    stack_buffer(el, f, ty.into(), "row_scratch")
}

/// An `alloca` of `ty` in `f`'s entry block (so it is allocated once, not per
/// loop iteration); the builder stays where it was.
pub(super) fn stack_buffer<'ctx>(
    el: &Elemental<'_, 'ctx>,
    f: FunctionValue<'ctx>,
    ty: inkwell::types::BasicTypeEnum<'ctx>,
    name: &str,
) -> R<PointerValue<'ctx>> {
    let entry = f.get_first_basic_block().expect("entry block");
    let here = el.builder.get_insert_block().expect("positioned");
    match entry.get_first_instruction() {
        Some(first) => el.builder.position_before(&first),
        None => el.builder.position_at_end(entry),
    }
    let p = bld(el.builder.build_alloca(ty, name));
    el.builder.position_at_end(here);
    p
}

/// How far ahead large loop kernels prefetch their inputs.
const PREFETCH_AHEAD_BYTES: usize = 32 << 10;

/// Rows shorter than this many bytes are left to the hardware prefetchers.
const PREFETCH_ROW_BYTES: usize = 4096;

impl<'ctx> NextRow<'ctx> {
    fn new(
        comp: &Computation,
        params: &[ParamSource<'ctx>],
        outs: &[PointerValue<'ctx>],
        streamed: &[usize],
        in_dims: &[usize],
        count: usize,
    ) -> NextRow<'ctx> {
        let mut buffers = Vec::new();
        for (p, shape) in params.iter().zip(&comp.params) {
            if let ParamSource::Buffer(p) = p {
                if shape.dims == in_dims {
                    buffers.push((*p, shape.dtype, false));
                }
            }
        }
        for (k, (p, r)) in outs.iter().zip(&comp.results).enumerate() {
            let shape = comp.shape(*r);
            if shape.dims == in_dims && !streamed.contains(&k) {
                buffers.push((*p, shape.dtype, true));
            }
        }
        buffers.retain(|&(_, d, _)| count * d.size_bytes() >= PREFETCH_ROW_BYTES);
        NextRow {
            buffers,
            count,
            pass: 0,
            passes: 0,
        }
    }

    fn none() -> NextRow<'ctx> {
        NextRow {
            buffers: Vec::new(),
            count: 0,
            pass: 0,
            passes: 0,
        }
    }

    /// Gives pass `pass` of `passes` (the passes after the first, each over the row
    /// in chunks of TILE elements) its share of the next row to prefetch.
    fn share(&self, pass: usize, passes: usize) -> NextRow<'ctx> {
        NextRow {
            buffers: self.buffers.clone(),
            count: self.count,
            pass,
            passes,
        }
    }

    /// At the chunk of the row starting at element `chunk`: prefetches this chunk's
    /// part of the pass's share of the row after `row`, a line at a time (spread
    /// over the chunks, so the prefetches do not all wait for fill buffers at once).
    fn emit(&self, el: &Elemental<'_, 'ctx>, row: &Row<'ctx>, chunk: IntValue<'ctx>) -> R<()> {
        if self.buffers.is_empty() || self.passes == 0 {
            return Ok(());
        }
        let chunk_no = bld(el
            .builder
            .build_int_unsigned_div(chunk, el.c64(TILE as i64), "chunk"))?;
        let share = self.count.div_ceil(self.passes);
        let chunks = (self.count / TILE).max(1);
        for &(p, d, write) in &self.buffers {
            let per_line = (64 / d.size_bytes()).max(1);
            let len = share.div_ceil(chunks).div_ceil(per_line) * per_line;
            // Element of the next row where this chunk's part starts.
            let first = bld(el
                .builder
                .build_int_nuw_mul(chunk_no, el.c64(len as i64), "part"))?;
            let first = bld(el.builder.build_int_nuw_add(
                first,
                el.c64((self.count + self.pass * share) as i64),
                "part",
            ))?;
            let at = bld(el.builder.build_int_nuw_add(row.base, first, "ahead"))?;
            for k in (0..len).step_by(per_line) {
                let i = bld(el.builder.build_int_nuw_add(at, el.c64(k as i64), "pf"))?;
                el.prefetch(p, d, i, write)?;
            }
        }
        Ok(())
    }
}

/// Emits a row kernel (`FusionKind::Row`): for each row in `[start, end)`, the
/// reductions stage by stage (a reduce comes after every reduce its operand reads),
/// each stage one pass over the row; then the elementwise results over the row.
/// Reduce results are read only at their own row (the fusion pass checks), so each
/// is pinned to its total for the rest of the row.
pub fn emit_row_kernel<'ctx>(
    el: &mut Elemental<'_, 'ctx>,
    name: &str,
    comp: &Computation,
) -> R<KernelInfo> {
    let Prologue {
        f,
        start,
        end,
        params,
        outs,
    } = prologue(el, name, comp)?;
    // Stage of each instruction: how many reduces deep its value is.
    let mut stage = vec![0usize; comp.instrs.len()];
    let mut stages: Vec<Vec<usize>> = Vec::new();
    for (i, instr) in comp.instrs.iter().enumerate() {
        let deepest = instr.operands.iter().map(|v| stage[v.instr]).max();
        stage[i] = deepest.unwrap_or(0);
        if matches!(instr.op, Op::Reduce { .. }) {
            stage[i] += 1;
            if stages.len() < stage[i] {
                stages.resize(stage[i], Vec::new());
            }
            stages[stage[i] - 1].push(i);
        }
    }
    let first = stages
        .first()
        .and_then(|s| s.first())
        .map(|&i| &comp.instrs[i])
        .ok_or("row kernel without a reduce")?;
    let Op::Reduce { dims: red_dims, .. } = &first.op else {
        return Err("row kernel without a reduce".into());
    };
    let in_dims = comp.shape(first.operands[0]).dims.clone();
    let kept = in_dims.len() - red_dims.len();
    let (out_dims, red_sizes) = (&in_dims[..kept], &in_dims[kept..]);
    let count: usize = red_sizes.iter().product();
    let rows: usize = out_dims.iter().product();
    let spill_to = row_spills(comp, &in_dims);
    let passes = |n: usize| stages.len() - 1 + n;
    // Row-shaped results, written by the last pass.
    let elementwise: Vec<(usize, Value, DType)> = comp
        .results
        .iter()
        .enumerate()
        .filter(|(_, r)| !matches!(comp.instrs[r.instr].op, Op::Reduce { .. }))
        .map(|(k, r)| (k, *r, comp.shape(*r).dtype))
        .collect();
    for &(k, r, _) in &elementwise {
        if comp.shape(r).dims != in_dims {
            return Err(format!("row kernel result {k} is not row-shaped"));
        }
    }
    let stream: Vec<bool> = elementwise
        .iter()
        .map(|&(_, _, d)| count >= 2 * stores::CHUNK && stores::stream_output(rows * count, d))
        .collect();
    // The first pass streams the row in; the later ones fetch the next row (not
    // the streamed outputs: their stores need no line in the cache).
    let streamed: Vec<usize> = elementwise
        .iter()
        .zip(&stream)
        .filter(|(_, &s)| s)
        .map(|(&(k, _, _), _)| k)
        .collect();
    let next_row = NextRow::new(comp, &params, &outs, &streamed, &in_dims, count);
    // Which passes prefetch the next row: all passes after the first share it out,
    // except when the last pass streams its outputs and some fold passes compute
    // math functions: those compute-bound passes then prefetch it all (measured on
    // softmax: 9.0 -> 8.1 ms; the streaming stores keep the memory busy in the
    // last pass, and the exp pass leaves it idle).
    let heavy: Vec<usize> = (1..stages.len())
        .filter(|&n| fold_computes_math(comp, &stages[n]))
        .collect();
    let math_passes = (!heavy.is_empty() && !streamed.is_empty()).then_some(heavy);
    // A spill into a streamed output would be written twice (the streaming store
    // of a cached line evicts it): spill into a row buffer on the stack instead,
    // when the row is small enough.
    let mut scratch = std::collections::HashMap::new();
    for (&r, &k) in &spill_to {
        let streamed = elementwise
            .iter()
            .zip(&stream)
            .any(|(&(kk, _, _), &s)| kk == k && s);
        let d = comp.shape(comp.instrs[r].operands[0]).dtype;
        if streamed && count * d.size_bytes() <= ROW_SCRATCH_BYTES {
            scratch.insert(r, row_scratch(el, f, d, count)?);
        }
    }
    let outer = begin_loop(el, f, start, end, &[])?;
    let row = Row::new(el, out_dims, count, outer.index)?;
    let mut totals: Vec<Option<BasicValueEnum>> = vec![None; comp.instrs.len()];
    for (n, group) in stages.iter().enumerate() {
        let plan = row_reduction(el.hlo, comp, group, &in_dims, red_dims)
            .ok_or("row kernel reduce without a row plan")?;
        let spills: Vec<Option<Spill>> = group
            .iter()
            .map(|r| match (scratch.get(r), spill_to.get(r)) {
                (Some(&ptr), _) => Some(Spill { ptr, in_row: true }),
                (None, Some(&k)) => Some(Spill {
                    ptr: outs[k],
                    in_row: false,
                }),
                (None, None) => None,
            })
            .collect();
        // Pass n of the passes after the first; the elementwise pass is the last.
        let ahead = match (n, &math_passes) {
            (0, _) => NextRow::none(),
            (_, Some(heavy)) => match heavy.iter().position(|&p| p == n) {
                Some(k) => next_row.share(k, heavy.len()),
                None => NextRow::none(),
            },
            (_, None) => next_row.share(n - 1, passes(!elementwise.is_empty() as usize)),
        };
        let sums = emit_row_fold(
            el, f, comp, group, &params, &plan, &row, red_sizes, &spills, &ahead,
        )?;
        for (&r, x) in group.iter().zip(sums) {
            el.pin(comp, Value { instr: r, index: 0 }, x);
            totals[r] = Some(x);
        }
        for (&r, spill) in group.iter().zip(&spills) {
            if let Some(sp) = spill {
                let v = comp.instrs[r].operands[0];
                let base = sp.in_row.then_some(row.base);
                el.spill(comp, v, sp.ptr, comp.shape(v).dtype, base);
            }
        }
    }
    for (k, r) in comp.results.iter().enumerate() {
        if let Some(x) = totals[r.instr] {
            el.store(outs[k], comp.shape(*r).dtype, outer.index, x)?;
        }
    }
    let outputs: Vec<Output> = elementwise
        .iter()
        .zip(&stream)
        .map(|(&(k, _, dtype), &stream)| Output {
            ptr: outs[k],
            dtype,
            stream,
        })
        .collect();
    if !elementwise.is_empty() {
        let ahead = match math_passes {
            Some(_) => NextRow::none(),
            None => next_row.share(stages.len() - 1, passes(1)),
        };
        let hook = |el: &Elemental<'_, 'ctx>, chunk: IntValue<'ctx>| ahead.emit(el, &row, chunk);
        stores::emit_output_loop(
            el,
            f,
            (el.c64(0), el.c64(count as i64)),
            row.base,
            &outputs,
            Some(&hook),
            &mut |el, pos| {
                let idx = row.element(el, red_sizes, pos)?;
                elementwise
                    .iter()
                    .map(|&(_, r, _)| el.value(comp, &params, r, &idx))
                    .collect()
            },
        )?;
    }
    el.unpin_all();
    end_loop(el, &outer, el.c64(1), &[])?;
    el.clear_memo();
    stores::fence_streams(el, &outputs)?;
    bld(el.builder.build_return(None))?;
    Ok(KernelInfo {
        elements: rows,
        work_per_element: count.max(1) * comp.instrs.len(),
    })
}

/// Whether computing the operands of `reduces` evaluates a math function (exp,
/// tanh, ...) other than through another reduce.
fn fold_computes_math(comp: &Computation, reduces: &[usize]) -> bool {
    let mut seen = vec![false; comp.instrs.len()];
    let mut todo: Vec<usize> = reduces
        .iter()
        .map(|&r| comp.instrs[r].operands[0].instr)
        .collect();
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let instr = &comp.instrs[i];
        if instr.op.is_approximated_math() {
            return true;
        }
        if !matches!(instr.op, Op::Reduce { .. }) {
            todo.extend(instr.operands.iter().map(|v| v.instr));
        }
    }
    false
}

/// For a reduction over leading dims (a column reduction: the kept dims are
/// trailing, so the outputs of one reduced position are contiguous): the output
/// each accumulator is stored in, in accumulator order, when every accumulator has
/// exactly one output.
fn column_outputs(
    comp: &Computation,
    reduces: &[usize],
    red_dims: &[usize],
    rank: usize,
) -> Option<Vec<usize>> {
    if red_dims.is_empty()
        || red_dims.len() >= rank
        || red_dims.iter().enumerate().any(|(i, &d)| i != d)
    {
        return None;
    }
    let mut acc_out = Vec::new();
    for &ri in reduces {
        for q in 0..comp.instrs[ri].operands.len() / 2 {
            let want = Value {
                instr: ri,
                index: q,
            };
            let mut hits = comp.results.iter().enumerate().filter(|(_, &v)| v == want);
            let (k, _) = hits.next()?;
            if hits.next().is_some() {
                return None;
            }
            acc_out.push(k);
        }
    }
    (acc_out.len() == comp.results.len()).then_some(acc_out)
}

/// Emits a column reduction: the outputs in `[start, end)` start as the init
/// values, then every reduced position in index order combines its contiguous run
/// of elements into them. Each output sees the same combine order as in the
/// generic loop (reduced index order), so the results are identical, but the inner
/// loop runs over contiguous outputs and vectorizes.
fn emit_column_reduction<'ctx>(
    el: &mut Elemental<'_, 'ctx>,
    f: FunctionValue<'ctx>,
    (start, end): (IntValue<'ctx>, IntValue<'ctx>),
    comp: &Computation,
    (reduces, params, outs, acc_out): (
        &[usize],
        &[ParamSource<'ctx>],
        &[PointerValue<'ctx>],
        &[usize],
    ),
    (in_dims, out_dims, red_sizes): (&[usize], &[usize], &[usize]),
) -> R<()> {
    let dtype = |k: usize| comp.shape(comp.results[k]).dtype;
    let s = el.scalar_idx();
    let mut inits = Vec::new();
    for &ri in reduces {
        let instr = &comp.instrs[ri];
        let n = instr.operands.len() / 2;
        for k in 0..n {
            inits.push(el.value(comp, params, instr.operands[n + k], &s)?);
        }
    }
    let init = begin_loop(el, f, start, end, &[])?;
    for (acc, &k) in acc_out.iter().enumerate() {
        el.store(outs[k], dtype(k), init.index, inits[acc])?;
    }
    end_loop(el, &init, el.c64(1), &[])?;
    let red_count: usize = red_sizes.iter().product();
    let rows = begin_loop(el, f, el.c64(0), el.c64(red_count as i64), &[])?;
    let red_idx = el.idx_from_linear(red_sizes, rows.index)?;
    let cols = begin_loop(el, f, start, end, &[])?;
    let out_idx = el.idx_from_linear(out_dims, cols.index)?;
    let multi = [red_idx.multi.clone(), out_idx.multi.clone()].concat();
    let in_idx = el.idx_from_multi(in_dims, multi)?;
    let mut acc_pos = 0;
    for &ri in reduces {
        let instr = &comp.instrs[ri];
        let Op::Reduce { body, .. } = &instr.op else {
            return Err("input kernel root is not a reduce".into());
        };
        let n = instr.operands.len() / 2;
        let mut args = Vec::with_capacity(2 * n);
        for q in 0..n {
            let k = acc_out[acc_pos + q];
            args.push(el.load(outs[k], dtype(k), cols.index)?);
        }
        for q in 0..n {
            args.push(el.value(comp, params, instr.operands[q], &in_idx)?);
        }
        let next = el.region(*body, &args)?;
        for (q, v) in next.into_iter().enumerate() {
            let k = acc_out[acc_pos + q];
            el.store(outs[k], dtype(k), cols.index, v)?;
        }
        acc_pos += n;
    }
    end_loop(el, &cols, el.c64(1), &[])?;
    end_loop(el, &rows, el.c64(1), &[])?;
    el.clear_memo();
    bld(el.builder.build_return(None))?;
    Ok(())
}

/// Elements per tile in row reductions (a multiple of every lane count); the same
/// as the output loops' chunks, which the next-row prefetches count in.
const TILE: usize = stores::CHUNK;
/// Vector accumulators per reduce in a row fold.
const ROW_VECTORS: usize = 4;

/// A reduction over the trailing dims with simple float combiners: the reduced
/// elements of one output are contiguous, and the fold keeps `ROW_VECTORS` vector
/// accumulators of `lanes` lanes (element j goes to lane j mod `ROW_VECTORS`·`lanes`),
/// combined in a fixed tree at the end: a deterministic order.
struct RowPlan {
    lanes: usize,
    /// Per reduce: its combiner and the identity to start the extra lanes from.
    ops: Vec<(BinaryOp, f64)>,
}

fn row_reduction(
    hlo: &Module,
    comp: &Computation,
    reduces: &[usize],
    in_dims: &[usize],
    red_dims: &[usize],
) -> Option<RowPlan> {
    let rank = in_dims.len();
    let k = red_dims.len();
    if k == 0 || red_dims.iter().enumerate().any(|(i, &d)| d != rank - k + i) {
        return None;
    }
    let count: usize = red_dims.iter().map(|&d| in_dims[d]).product();
    let mut ops = Vec::new();
    let mut lanes = 16;
    for &r in reduces {
        let instr = &comp.instrs[r];
        let Op::Reduce { body, .. } = &instr.op else {
            return None;
        };
        if instr.operands.len() != 2 {
            return None;
        }
        let d = comp.shape(instr.operands[0]).dtype;
        if !matches!(d, DType::F32 | DType::F64) {
            return None;
        }
        if d == DType::F64 {
            lanes = 8;
        }
        let op = match crate::backend::interp::simple_combiner(hlo.computation(*body))? {
            crate::backend::interp::Combiner::Binary(op) => op,
            crate::backend::interp::Combiner::Second => return None,
        };
        let identity = match op {
            BinaryOp::Add => -0.0,
            BinaryOp::Mul => 1.0,
            BinaryOp::Max => f64::NEG_INFINITY,
            BinaryOp::Min => f64::INFINITY,
            _ => return None,
        };
        ops.push((op, identity));
    }
    (count >= lanes * ROW_VECTORS).then_some(RowPlan { lanes, ops })
}

#[allow(clippy::too_many_arguments)]
fn emit_row_reduction<'ctx>(
    el: &mut Elemental<'_, 'ctx>,
    f: FunctionValue<'ctx>,
    (start, end): (IntValue<'ctx>, IntValue<'ctx>),
    comp: &Computation,
    reduces: &[usize],
    params: &[ParamSource<'ctx>],
    outs: &[PointerValue<'ctx>],
    plan: &RowPlan,
    (out_dims, red_sizes): (&[usize], &[usize]),
) -> R<()> {
    let count: usize = red_sizes.iter().product();
    let outer = begin_loop(el, f, start, end, &[])?;
    let row = Row::new(el, out_dims, count, outer.index)?;
    let none = vec![None; reduces.len()];
    let totals = emit_row_fold(
        el,
        f,
        comp,
        reduces,
        params,
        plan,
        &row,
        red_sizes,
        &none,
        &NextRow::none(),
    )?;
    for (k, r) in comp.results.iter().enumerate() {
        let n = reduces
            .iter()
            .position(|&x| x == r.instr)
            .expect("reduce root");
        let d = comp.shape(*r).dtype;
        el.store(outs[k], d, outer.index, totals[n])?;
    }
    end_loop(el, &outer, el.c64(1), &[])?;
    el.clear_memo();
    bld(el.builder.build_return(None))?;
    Ok(())
}

/// Combines vectors with an order-insensitive combiner (max, min) into one scalar:
/// pairwise while there are several, then halving the last one's lanes.
fn vector_tree<'ctx>(
    el: &Elemental<'_, 'ctx>,
    op: BinaryOp,
    mut level: Vec<VectorValue<'ctx>>,
) -> R<BasicValueEnum<'ctx>> {
    while level.len() > 1 {
        let mut up = Vec::with_capacity(level.len() / 2);
        for pair in level.chunks(2) {
            up.push(match pair {
                [a, b] => el.float_vector_combine(op, *a, *b)?,
                [a] => *a,
                _ => unreachable!("chunks of two"),
            });
        }
        level = up;
    }
    let mut v = level[0];
    let i32t = el.context.i32_type();
    while v.get_type().get_size() > 1 {
        let half = v.get_type().get_size() / 2;
        let pick = |from: u32| -> R<VectorValue<'ctx>> {
            let mask: Vec<_> = (from..from + half)
                .map(|i| i32t.const_int(i as u64, false))
                .collect();
            let mask = inkwell::types::VectorType::const_vector(&mask);
            bld(el.builder.build_shuffle_vector(v, v, mask, "half"))
        };
        v = el.float_vector_combine(op, pick(0)?, pick(half)?)?;
    }
    bld(el.builder.build_extract_element(v, el.c64(0), "total"))
}

/// One row of a row reduction: its index among the rows (the kept dims) and the
/// linear position of its first element.
struct Row<'ctx> {
    index: Idx<'ctx>,
    base: IntValue<'ctx>,
}

impl<'ctx> Row<'ctx> {
    fn new(
        el: &mut Elemental<'_, 'ctx>,
        out_dims: &[usize],
        count: usize,
        linear: IntValue<'ctx>,
    ) -> R<Row<'ctx>> {
        let index = el.idx_from_linear(out_dims, linear)?;
        let base = bld(el
            .builder
            .build_int_nuw_mul(linear, el.c64(count as i64), "rb"))?;
        Ok(Row { index, base })
    }

    /// The index of element `pos` of the row in the reduced operand.
    fn element(
        &self,
        el: &mut Elemental<'_, 'ctx>,
        red_sizes: &[usize],
        pos: IntValue<'ctx>,
    ) -> R<Idx<'ctx>> {
        let red = el.idx_from_linear(red_sizes, pos)?;
        let mut multi = self.index.multi.clone();
        multi.extend(red.multi);
        let linear = bld(el.builder.build_int_nuw_add(self.base, pos, "el"))?;
        Ok(Idx {
            id: el.fresh_id(),
            multi,
            linear,
        })
    }
}

/// The tile step of a row fold: `len` elements of the row from `start` are computed
/// into the reduces' stack tiles by a plain elementwise loop (which the loop
/// vectorizer handles whatever the producers are), then folded from the tiles into
/// the `ROW_VECTORS` vector accumulators per reduce: element `start + j` into lane
/// `j % width`, the same order as folding straight from a buffer.
struct TileFold<'a, 'ctx> {
    comp: &'a Computation,
    params: &'a [ParamSource<'ctx>],
    reduces: &'a [usize],
    bufs: &'a [(PointerValue<'ctx>, DType)],
    spills: &'a [Option<Spill<'ctx>>],
    row: &'a Row<'ctx>,
    red_sizes: &'a [usize],
    plan: &'a RowPlan,
}

impl<'ctx> TileFold<'_, 'ctx> {
    fn emit(
        &self,
        el: &mut Elemental<'_, 'ctx>,
        f: FunctionValue<'ctx>,
        start: IntValue<'ctx>,
        len: usize,
        accs: Vec<BasicValueEnum<'ctx>>,
    ) -> R<Vec<BasicValueEnum<'ctx>>> {
        let (comp, params) = (self.comp, self.params);
        let lanes = self.plan.lanes;
        let fill = begin_loop(el, f, el.c64(0), el.c64(len as i64), &[])?;
        let pos = bld(el.builder.build_int_nuw_add(start, fill.index, "pos"))?;
        let idx = self.row.element(el, self.red_sizes, pos)?;
        for (n, &r) in self.reduces.iter().enumerate() {
            let operand = comp.instrs[r].operands[0];
            let x = el.value(comp, params, operand, &idx)?;
            el.store(self.bufs[n].0, self.bufs[n].1, fill.index, x)?;
            if let Some(sp) = self.spills[n] {
                el.store(sp.ptr, self.bufs[n].1, sp.at(idx.linear, pos), x)?;
            }
        }
        end_loop(el, &fill, el.c64(1), &[])?;
        el.clear_memo();
        let fold = begin_loop(el, f, el.c64(0), el.c64(len as i64), &accs)?;
        let mut next = Vec::new();
        for (n, (buf, d)) in self.bufs.iter().enumerate() {
            for v in 0..ROW_VECTORS {
                let at = bld(el.builder.build_int_nuw_add(
                    fold.index,
                    el.c64((v * lanes) as i64),
                    "at",
                ))?;
                let x = el.load_float_vector(*buf, *d, at, lanes as u32)?;
                let acc = fold.carried[n * ROW_VECTORS + v].as_basic_value();
                next.push(
                    el.float_vector_combine(self.plan.ops[n].0, acc.into_vector_value(), x)?
                        .into(),
                );
            }
        }
        end_loop(el, &fold, el.c64((lanes * ROW_VECTORS) as i64), &next)?;
        Ok(fold.carried.iter().map(|p| p.as_basic_value()).collect())
    }
}

/// Folds one row of every reduce in `reduces` (all of the plan's shape) in one pass
/// over the row; returns each reduce's total.
#[allow(clippy::too_many_arguments)]
fn emit_row_fold<'ctx>(
    el: &mut Elemental<'_, 'ctx>,
    f: FunctionValue<'ctx>,
    comp: &Computation,
    reduces: &[usize],
    params: &[ParamSource<'ctx>],
    plan: &RowPlan,
    row: &Row<'ctx>,
    red_sizes: &[usize],
    spills: &[Option<Spill<'ctx>>],
    ahead: &NextRow<'ctx>,
) -> R<Vec<BasicValueEnum<'ctx>>> {
    let count: usize = red_sizes.iter().product();
    let lanes = plan.lanes;
    let width = lanes * ROW_VECTORS;
    let main = (count / width * width) as i64;
    let row_base = row.base;
    // ROW_VECTORS vector accumulators per reduce (independent chains, so the
    // combiner's latency overlaps): lane j of the `width` lanes folds elements
    // j, j + width, ... Lane 0 starts from the init value, the others from the
    // identity.
    let mut inits: Vec<BasicValueEnum> = Vec::new();
    for (n, &r) in reduces.iter().enumerate() {
        let instr = &comp.instrs[r];
        let s = el.scalar_idx();
        let init = el.value(comp, params, instr.operands[1], &s)?;
        let ty = init.get_type().into_float_type();
        let identity = ty.const_float(plan.ops[n].1);
        let splat = inkwell::types::VectorType::const_vector(&vec![identity; lanes]);
        let v = bld(el
            .builder
            .build_insert_element(splat, init, el.c64(0), "init"))?;
        inits.push(v.into());
        inits.extend(std::iter::repeat_n(
            BasicValueEnum::from(splat),
            ROW_VECTORS - 1,
        ));
    }
    let element = |el: &mut Elemental<'_, 'ctx>, pos: IntValue<'ctx>| -> R<Idx<'ctx>> {
        row.element(el, red_sizes, pos)
    };
    let combine = |el: &Elemental<'_, 'ctx>,
                   n: usize,
                   acc: BasicValueEnum<'ctx>,
                   x: VectorValue<'ctx>|
     -> R<BasicValueEnum<'ctx>> {
        Ok(el
            .float_vector_combine(plan.ops[n].0, acc.into_vector_value(), x)?
            .into())
    };
    // A reduce whose operand is a parameter reads it straight from its buffer.
    let direct: Vec<Option<PointerValue<'ctx>>> = reduces
        .iter()
        .map(|&r| {
            let operand = comp.instrs[r].operands[0];
            match comp.instrs[operand.instr].op {
                Op::Parameter { index } => match params[index] {
                    ParamSource::Buffer(p) => Some(p),
                    _ => None,
                },
                _ => None,
            }
        })
        .collect();
    // Bulk: tiles of TILE elements are first computed into stack buffers by a plain
    // elementwise loop (which the loop vectorizer handles whatever the producers
    // are), then folded into the lanes; the order per lane is the same as below.
    // Operands read straight from a buffer need no tile (LLVM would turn the fill
    // into a memcpy); the lanes below fold them directly, in the same order.
    let plain = direct.iter().all(Option::is_some);
    // Rows shorter than a tile use one tile of their whole-width part (lane-by-lane
    // code for a 64-element row was ten times slower than the tile's vector loop).
    let tile = TILE.min(main as usize);
    let tiles_end = if plain || tile == 0 {
        0
    } else {
        (count / tile * tile) as i64
    };
    let mut tile_bufs = Vec::new();
    for &r in reduces {
        let d = comp.shape(comp.instrs[r].operands[0]).dtype;
        let ty = inkwell::types::BasicType::array_type(&el.storage_type(d), tile.max(1) as u32);
        tile_bufs.push((stack_buffer(el, f, ty.into(), "tile")?, d));
    }
    let tiles = begin_loop(el, f, el.c64(0), el.c64(tiles_end), &inits)?;
    ahead.emit(el, row, tiles.index)?;
    let tile_accs: Vec<BasicValueEnum> = tiles.carried.iter().map(|p| p.as_basic_value()).collect();
    let fold = TileFold {
        comp,
        params,
        reduces,
        bufs: &tile_bufs,
        spills,
        row,
        red_sizes,
        plan,
    };
    let folded = fold.emit(el, f, tiles.index, tile, tile_accs)?;
    end_loop(el, &tiles, el.c64(tile.max(1) as i64), &folded)?;
    let mut after_tiles: Vec<BasicValueEnum> =
        tiles.carried.iter().map(|p| p.as_basic_value()).collect();
    // The whole-width part of the rest of the row through one shorter tile (lane by
    // lane it took half of a 1000-element row's fold time).
    let mut lanes_from = tiles_end;
    if !plain && main > tiles_end {
        after_tiles = fold.emit(
            el,
            f,
            el.c64(tiles_end),
            (main - tiles_end) as usize,
            after_tiles,
        )?;
        lanes_from = main;
    }

    let body = begin_loop(el, f, el.c64(lanes_from), el.c64(main), &after_tiles)?;
    let mut next = Vec::new();
    for (n, &r) in reduces.iter().enumerate() {
        let operand = comp.instrs[r].operands[0];
        let d = comp.shape(operand).dtype;
        for v in 0..ROW_VECTORS {
            let first =
                bld(el
                    .builder
                    .build_int_nuw_add(body.index, el.c64((v * lanes) as i64), "first"))?;
            let x = match direct[n] {
                Some(p) => {
                    let at = bld(el.builder.build_int_nuw_add(row_base, first, "at"))?;
                    el.load_float_vector(p, d, at, lanes as u32)?
                }
                None => {
                    // The few elements past the last whole tile, lane by lane.
                    let ty = el.storage_type(d).into_float_type().vec_type(lanes as u32);
                    let mut x = ty.get_undef();
                    for j in 0..lanes {
                        let pos =
                            bld(el.builder.build_int_nuw_add(first, el.c64(j as i64), "pos"))?;
                        let idx = element(el, pos)?;
                        let e = el.value(comp, params, operand, &idx)?;
                        if let Some(sp) = spills[n] {
                            el.store(sp.ptr, d, sp.at(idx.linear, pos), e)?;
                        }
                        x = bld(el
                            .builder
                            .build_insert_element(x, e, el.c64(j as i64), "lane"))?;
                    }
                    x
                }
            };
            let acc = body.carried[n * ROW_VECTORS + v].as_basic_value();
            next.push(combine(el, n, acc, x)?);
        }
    }
    end_loop(el, &body, el.c64(width as i64), &next)?;
    el.clear_memo();
    // Fixed-shape tree over the lanes, then the remainder in order.
    let mut totals = Vec::new();
    for (n, &r) in reduces.iter().enumerate() {
        let d = comp.shape(comp.instrs[r].operands[0]).dtype;
        let accs: Vec<VectorValue<'ctx>> = (0..ROW_VECTORS)
            .map(|v| {
                body.carried[n * ROW_VECTORS + v]
                    .as_basic_value()
                    .into_vector_value()
            })
            .collect();
        if matches!(plan.ops[n].0, BinaryOp::Max | BinaryOp::Min) {
            // Any order gives the same max (or min): halve vectors instead.
            totals.push(vector_tree(el, plan.ops[n].0, accs)?);
            continue;
        }
        let mut level: Vec<BasicValueEnum> = Vec::with_capacity(width);
        for acc in accs {
            for j in 0..lanes {
                level.push(bld(el.builder.build_extract_element(
                    acc,
                    el.c64(j as i64),
                    "lane",
                ))?);
            }
        }
        while level.len() > 1 {
            let mut up = Vec::with_capacity(level.len() / 2);
            for pair in level.chunks(2) {
                up.push(el.binary(plan.ops[n].0, d, pair[0], pair[1])?);
            }
            level = up;
        }
        totals.push(level[0]);
    }
    let tail = begin_loop(el, f, el.c64(main), el.c64(count as i64), &totals)?;
    let mut next = Vec::new();
    for (n, &r) in reduces.iter().enumerate() {
        let operand = comp.instrs[r].operands[0];
        let d = comp.shape(operand).dtype;
        let idx = element(el, tail.index)?;
        let x = el.value(comp, params, operand, &idx)?;
        if let Some(sp) = spills[n] {
            el.store(sp.ptr, d, sp.at(idx.linear, tail.index), x)?;
        }
        next.push(el.binary(plan.ops[n].0, d, tail.carried[n].as_basic_value(), x)?);
    }
    end_loop(el, &tail, el.c64(1), &next)?;
    el.clear_memo();
    Ok(tail.carried.iter().map(|p| p.as_basic_value()).collect())
}
