//! How an element loop writes its outputs: with plain stores, or, for outputs too
//! large to be read back from cache, with streaming (non-temporal) stores.
//!
//! A plain store to a line that is not cached first reads the line from memory
//! (read-for-ownership), so writing a large output costs twice its size in memory
//! traffic. A streaming store writes whole lines without reading them: on this
//! machine a two-core `y = x + 1` over 64 MB runs about twice as fast with them.
//! The element code is emitted one element at a time (the loop vectorizer widens
//! it), so the values go to a small stack tile first, and the tile is written out
//! in 64-byte aligned vectors carrying `!nontemporal`.

use super::kernel::{begin_loop, bld, end_loop, stack_buffer};
use crate::codegen::elemental::{Elemental, R};
use crate::DType;
use inkwell::values::{BasicValue, BasicValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::IntPredicate;

/// Elements per chunk of a chunked loop (and per stack tile of a streamed one).
pub const CHUNK: usize = 256;

/// Outputs of at least this many bytes are written with streaming stores: well
/// past what the two cores' L2 caches hold, so a consumer would not find them
/// cached anyway.
pub const STREAM_BYTES: usize = 8 << 20;

/// The width of a streaming store, and the alignment it needs.
const LINE: usize = 64;

/// Emitted at the start of each chunk of a chunked loop, given the chunk's first
/// position.
pub type ChunkHook<'h, 'ctx> = &'h dyn Fn(&Elemental<'_, 'ctx>, IntValue<'ctx>) -> R<()>;

/// Computes the outputs' values at a position.
pub type ElementBody<'b, 'ctx> =
    &'b mut dyn FnMut(&mut Elemental<'_, 'ctx>, IntValue<'ctx>) -> R<Vec<BasicValueEnum<'ctx>>>;

/// One output of an element loop.
#[derive(Clone, Copy)]
pub struct Output<'ctx> {
    pub ptr: PointerValue<'ctx>,
    pub dtype: DType,
    /// Written with streaming stores (see [`stream_output`]).
    pub stream: bool,
}

/// Whether an output of `elements` elements of `d` should be streamed.
pub fn stream_output(elements: usize, d: DType) -> bool {
    elements * d.size_bytes() >= STREAM_BYTES
}

/// Emits `for pos in lo..hi`, storing the values `body(pos)` returns (one per
/// output, in order) at linear index `offset + pos` of each output.
///
/// With a `chunk_hook`, the bulk of the range runs in chunks of [`CHUNK`] elements
/// and the hook is emitted at the start of each (given the chunk's first `pos`).
/// Streamed outputs of one element size go through a stack tile per chunk; the
/// first stretch up to a 64-byte boundary and the last partial chunk use plain
/// stores.
#[allow(clippy::too_many_arguments)]
pub fn emit_output_loop<'ctx>(
    el: &mut Elemental<'_, 'ctx>,
    f: FunctionValue<'ctx>,
    (lo, hi): (IntValue<'ctx>, IntValue<'ctx>),
    offset: IntValue<'ctx>,
    outs: &[Output<'ctx>],
    chunk_hook: Option<ChunkHook<'_, 'ctx>>,
    body: ElementBody<'_, 'ctx>,
) -> R<()> {
    // Streamed outputs share one element size, so one head aligns them all.
    let size = outs.iter().find(|o| o.stream).map(|o| o.dtype.size_bytes());
    let streamed: Vec<bool> = outs
        .iter()
        .map(|o| o.stream && Some(o.dtype.size_bytes()) == size)
        .collect();
    let plain_loop = |el: &mut Elemental<'_, 'ctx>,
                      body: ElementBody<'_, 'ctx>,
                      from: IntValue<'ctx>,
                      to: IntValue<'ctx>|
     -> R<()> {
        let l = begin_loop(el, f, from, to, &[])?;
        let values = body(el, l.index)?;
        let linear = bld(el.builder.build_int_nuw_add(offset, l.index, "l"))?;
        for (o, v) in outs.iter().zip(values) {
            el.store(o.ptr, o.dtype, linear, v)?;
        }
        end_loop(el, &l, el.c64(1), &[])?;
        el.clear_memo();
        Ok(())
    };
    let Some(size) = size else {
        let Some(hook) = chunk_hook else {
            return plain_loop(el, body, lo, hi);
        };
        let bulk_end = chunk_end(el, lo, hi)?;
        let chunks = begin_loop(el, f, lo, bulk_end, &[])?;
        hook(el, chunks.index)?;
        let tiles = vec![None; outs.len()];
        emit_chunk(el, f, chunks.index, offset, outs, &tiles, body)?;
        end_loop(el, &chunks, el.c64(CHUNK as i64), &[])?;
        return plain_loop(el, body, bulk_end, hi);
    };

    // Stack tiles, 64-byte aligned.
    let tile_ty = el.context.i8_type().array_type((CHUNK * size) as u32);
    let mut tiles = Vec::new();
    for &s in &streamed {
        tiles.push(if s {
            let t = stack_buffer(el, f, tile_ty.into(), "stream_tile")?;
            t.as_instruction()
                .expect("an alloca is an instruction")
                .set_alignment(LINE as u32)
                .map_err(|e| format!("llvm: {e}"))?;
            Some(t)
        } else {
            None
        });
    }

    // The head: up to the first position where the first streamed output is at a
    // 64-byte boundary (its address is a multiple of its element size).
    let i64t = el.i64t();
    let first = outs[streamed.iter().position(|&s| s).expect("a streamed output")].ptr;
    let addr0 = bld(el.builder.build_ptr_to_int(first, i64t, "addr"))?;
    let start_byte = bld(el.builder.build_int_nuw_add(offset, lo, "startel"))?;
    let start_byte = bld(el
        .builder
        .build_int_nuw_mul(start_byte, el.c64(size as i64), "startb"))?;
    let start_addr = bld(el.builder.build_int_add(addr0, start_byte, "starta"))?;
    let mis = bld(el
        .builder
        .build_and(start_addr, el.c64(LINE as i64 - 1), "mis"))?;
    let gap = bld(el.builder.build_int_sub(el.c64(LINE as i64), mis, "gap"))?;
    let gap = bld(el.builder.build_and(gap, el.c64(LINE as i64 - 1), "gap"))?;
    let head = bld(el
        .builder
        .build_int_unsigned_div(gap, el.c64(size as i64), "head"))?;
    let head_end = bld(el.builder.build_int_nuw_add(lo, head, "headend"))?;
    let past = bld(el
        .builder
        .build_int_compare(IntPredicate::SGT, head_end, hi, "past"))?;
    let head_end = bld(el.builder.build_select(past, hi, head_end, "headend"))?.into_int_value();
    // Every other streamed output must sit at the same offset from a line.
    let mut aligned = el.context.bool_type().const_int(1, false);
    for (o, &s) in outs.iter().zip(&streamed) {
        if s {
            let a = bld(el.builder.build_ptr_to_int(o.ptr, i64t, "addr"))?;
            let d = bld(el.builder.build_int_sub(a, addr0, "d"))?;
            let m = bld(el.builder.build_and(d, el.c64(LINE as i64 - 1), "m"))?;
            let z = bld(el
                .builder
                .build_int_compare(IntPredicate::EQ, m, el.c64(0), "z"))?;
            aligned = bld(el.builder.build_and(aligned, z, "aligned"))?;
        }
    }
    plain_loop(el, body, lo, head_end)?;

    let bulk_end = chunk_end(el, head_end, hi)?;
    let chunks = begin_loop(el, f, head_end, bulk_end, &[])?;
    if let Some(hook) = chunk_hook {
        hook(el, chunks.index)?;
    }
    emit_chunk(el, f, chunks.index, offset, outs, &tiles, body)?;
    // Write the tiles out: streaming when aligned, plain otherwise.
    let chunk_linear = bld(el.builder.build_int_nuw_add(offset, chunks.index, "cl"))?;
    let chunk_byte = bld(el
        .builder
        .build_int_nuw_mul(chunk_linear, el.c64(size as i64), "cb"))?;
    let stream_bb = el.context.append_basic_block(f, "stream");
    let plain_bb = el.context.append_basic_block(f, "flush");
    let joined = el.context.append_basic_block(f, "flushed");
    bld(el
        .builder
        .build_conditional_branch(aligned, stream_bb, plain_bb))?;
    for (bb, nontemporal) in [(stream_bb, true), (plain_bb, false)] {
        el.builder.position_at_end(bb);
        for (o, tile) in outs.iter().zip(&tiles) {
            if let Some(t) = tile {
                flush_tile(el, *t, o.ptr, chunk_byte, CHUNK * size, nontemporal)?;
            }
        }
        bld(el.builder.build_unconditional_branch(joined))?;
    }
    el.builder.position_at_end(joined);
    end_loop(el, &chunks, el.c64(CHUNK as i64), &[])?;
    plain_loop(el, body, bulk_end, hi)
}

/// Ends a kernel that used [`emit_output_loop`] with streamed outputs: streaming
/// stores are weakly ordered, so they are fenced before the kernel returns and the
/// runtime hands the output on (once per call: a fence waits for every store in
/// flight).
pub fn fence_streams(el: &Elemental<'_, '_>, outs: &[Output<'_>]) -> R<()> {
    if !outs.iter().any(|o| o.stream) {
        return Ok(());
    }
    let sfence = inkwell::intrinsics::Intrinsic::find("llvm.x86.sse.sfence")
        .and_then(|i| i.get_declaration(el.module, &[]));
    if let Some(sfence) = sfence {
        bld(el.builder.build_call(sfence, &[], ""))?;
    }
    Ok(())
}

/// The elements of the chunk starting at `chunk`, stored to the outputs (or to
/// their tiles, at the position in the chunk).
fn emit_chunk<'ctx>(
    el: &mut Elemental<'_, 'ctx>,
    f: FunctionValue<'ctx>,
    chunk: IntValue<'ctx>,
    offset: IntValue<'ctx>,
    outs: &[Output<'ctx>],
    tiles: &[Option<PointerValue<'ctx>>],
    body: ElementBody<'_, 'ctx>,
) -> R<()> {
    let inner = begin_loop(el, f, el.c64(0), el.c64(CHUNK as i64), &[])?;
    let pos = bld(el.builder.build_int_nuw_add(chunk, inner.index, "pos"))?;
    let values = body(el, pos)?;
    let linear = bld(el.builder.build_int_nuw_add(offset, pos, "l"))?;
    for ((o, v), tile) in outs.iter().zip(values).zip(tiles) {
        match tile {
            Some(t) => el.store(*t, o.dtype, inner.index, v)?,
            None => el.store(o.ptr, o.dtype, linear, v)?,
        }
    }
    end_loop(el, &inner, el.c64(1), &[])?;
    el.clear_memo();
    Ok(())
}

/// `lo` plus the whole chunks that fit before `hi`.
fn chunk_end<'ctx>(
    el: &Elemental<'_, 'ctx>,
    lo: IntValue<'ctx>,
    hi: IntValue<'ctx>,
) -> R<IntValue<'ctx>> {
    let b = el.builder;
    let n = bld(b.build_int_sub(hi, lo, "n"))?;
    let neg = bld(b.build_int_compare(IntPredicate::SLT, n, el.c64(0), "neg"))?;
    let n = bld(b.build_select(neg, el.c64(0), n, "n"))?.into_int_value();
    let whole = bld(b.build_int_unsigned_div(n, el.c64(CHUNK as i64), "whole"))?;
    let whole = bld(b.build_int_nuw_mul(whole, el.c64(CHUNK as i64), "whole"))?;
    bld(b.build_int_nuw_add(lo, whole, "bulkend"))
}

/// Copies `bytes` bytes from `tile` to `out + at` in 64-byte vectors.
fn flush_tile<'ctx>(
    el: &Elemental<'_, 'ctx>,
    tile: PointerValue<'ctx>,
    out: PointerValue<'ctx>,
    at: IntValue<'ctx>,
    bytes: usize,
    nontemporal: bool,
) -> R<()> {
    let i8t = el.context.i8_type();
    let vt = el.context.i32_type().vec_type((LINE / 4) as u32);
    let kind = el.context.get_kind_id("nontemporal");
    let one = el
        .context
        .metadata_node(&[el.context.i32_type().const_int(1, false).into()]);
    for k in (0..bytes).step_by(LINE) {
        // SAFETY: the tile holds `bytes` bytes.
        let src = unsafe {
            bld(el
                .builder
                .build_in_bounds_gep(i8t, tile, &[el.c64(k as i64)], "src"))?
        };
        let v = bld(el.builder.build_load(vt, src, "line"))?;
        v.as_instruction_value()
            .expect("a load is an instruction")
            .set_alignment(LINE as u32)
            .map_err(|e| format!("llvm: {e}"))?;
        let off = bld(el.builder.build_int_nuw_add(at, el.c64(k as i64), "off"))?;
        // SAFETY: the chunk lies inside the output: its elements are in the range
        // the runtime passed.
        let dst = unsafe { bld(el.builder.build_in_bounds_gep(i8t, out, &[off], "dst"))? };
        let st = bld(el.builder.build_store(dst, v))?;
        if nontemporal {
            st.set_alignment(LINE as u32)
                .map_err(|e| format!("llvm: {e}"))?;
            st.set_metadata(one, kind)
                .map_err(|e| format!("llvm: {e}"))?;
        } else {
            st.set_alignment(1).map_err(|e| format!("llvm: {e}"))?;
        }
    }
    Ok(())
}
