//! Loop nests around the elemental emitter: one LLVM function per fusion.
//!
//! Every kernel has the signature `void k(i8** bufs, i64 start, i64 end)`: `bufs`
//! holds the fused computation's parameters, then its outputs; `[start, end)` is a
//! range of output elements (linear, row-major), so the runtime can split the work
//! across threads.

use crate::codegen::elemental::{Elemental, Idx, ParamSource, R};
use crate::hlo::ir::*;
use crate::DType;
use inkwell::basic_block::BasicBlock;
use inkwell::values::{BasicValueEnum, FunctionValue, IntValue, PhiValue, PointerValue};
use inkwell::IntPredicate;

fn bld<T>(r: Result<T, inkwell::builder::BuilderError>) -> R<T> {
    r.map_err(|e| format!("llvm builder: {e}"))
}

/// What the runtime needs to know to call a kernel.
#[derive(Clone, Debug)]
pub struct KernelInfo {
    pub name: String,
    /// Number of output elements the `[start, end)` range refers to.
    pub elements: usize,
    /// Rough work per output element (for the parallel split).
    pub work_per_element: usize,
}

/// A counted loop `for i in lo..hi` with extra loop-carried values.
struct Loop<'ctx> {
    index: IntValue<'ctx>,
    carried: Vec<PhiValue<'ctx>>,
    header: BasicBlock<'ctx>,
    exit: BasicBlock<'ctx>,
    phi: PhiValue<'ctx>,
}

fn begin_loop<'ctx>(
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

fn end_loop<'ctx>(
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
    bld(b.build_unconditional_branch(l.header))?;
    b.position_at_end(l.exit);
    Ok(())
}

/// Declares `void name(i8** bufs, i64 start, i64 end)` and loads the buffer
/// pointers; returns (function, start, end, pointers).
fn prologue<'ctx>(
    el: &Elemental<'_, 'ctx>,
    name: &str,
    count: usize,
) -> R<(
    FunctionValue<'ctx>,
    IntValue<'ctx>,
    IntValue<'ctx>,
    Vec<PointerValue<'ctx>>,
)> {
    let cx = el.context;
    let ptr = el.ptr_type();
    let i64t = el.i64t();
    let fty = cx
        .void_type()
        .fn_type(&[ptr.into(), i64t.into(), i64t.into()], false);
    let f = el.module.add_function(name, fty, None);
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
    Ok((f, start, end, ptrs))
}

/// Emits a loop kernel: every result of `comp` (all of the same dims) computed at
/// each output index in `[start, end)`.
pub fn emit_loop_kernel(
    el: &mut Elemental<'_, '_>,
    name: &str,
    comp: &Computation,
) -> R<KernelInfo> {
    let nparams = comp.params.len();
    let nout = comp.results.len();
    let (f, start, end, ptrs) = prologue(el, name, nparams + nout)?;
    let dims = comp.shape(comp.results[0]).dims.clone();
    let elements: usize = dims.iter().product();
    let params: Vec<ParamSource> = ptrs[..nparams]
        .iter()
        .map(|&p| ParamSource::Buffer(p))
        .collect();
    let outs = &ptrs[nparams..];
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
    let inner = begin_loop(el, f, col0, col_end, &[])?;
    let mut multi = outer.multi.clone();
    if rank > 0 {
        multi.push(inner.index);
    }
    let linear = bld(el.builder.build_int_nuw_add(base, inner.index, "l"))?;
    let idx = Idx {
        id: usize::MAX - 1,
        multi,
        linear,
    };
    for (k, &r) in comp.results.iter().enumerate() {
        let v = el.value(comp, &params, r, &idx)?;
        el.store(outs[k], comp.shape(r).dtype, linear, v)?;
    }
    end_loop(el, &inner, el.c64(1), &[])?;
    el.clear_memo();
    let latch = el.builder.get_insert_block().expect("positioned");
    let next = bld(el.builder.build_int_nuw_add(base, el.c64(row_len), "next"))?;
    lin_phi.add_incoming(&[(&next, latch)]);
    bld(el.builder.build_unconditional_branch(header))?;
    el.builder.position_at_end(exit);
    bld(el.builder.build_return(None))?;
    Ok(KernelInfo {
        name: name.to_string(),
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
    let nparams = comp.params.len();
    let nout = comp.results.len();
    let (f, start, end, ptrs) = prologue(el, name, nparams + nout)?;
    let params: Vec<ParamSource> = ptrs[..nparams]
        .iter()
        .map(|&p| ParamSource::Buffer(p))
        .collect();
    let outs = ptrs[nparams..].to_vec();
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
    let (mut oi, mut ri) = (0, 0);
    for d in 0..in_dims.len() {
        if red_dims.contains(&d) {
            let pos = red_dims.iter().position(|&x| x == d).expect("reduced dim");
            multi.push(red_idx.multi[pos]);
            ri += 1;
        } else {
            multi.push(out_idx.multi[oi]);
            oi += 1;
        }
    }
    let _ = ri;
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
        name: name.to_string(),
        elements,
        work_per_element: red_count.max(1) * comp.instrs.len(),
    })
}
