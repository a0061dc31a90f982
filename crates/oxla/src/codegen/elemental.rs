//! The elemental IR emitter: generates LLVM IR computing one element of an HLO
//! value at a given multi-index. Every target shares it (the CPU backend wraps it in
//! loops; a GPU backend wraps it in a thread index).
//!
//! Element values are carried in a *compute type*: `i1` for bool, `iN` for integers,
//! `float` for f16/bf16/f32 (f16/bf16 rounded back after every op, as the
//! interpreter does), `double` for f64. Index arithmetic is `i64`; all dims are
//! compile-time constants, so divisions by dims become multiplications.
//!
//! Rare operations call the scalar [`super::helpers`], which run the interpreter's
//! element code: bit-identical, just slow.

use super::helpers;
use crate::hlo::ir::*;
use crate::{DType, Literal};
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Module as LlvmModule;
use inkwell::types::{BasicType, BasicTypeEnum, FloatType, IntType};
use inkwell::values::{
    BasicValue, BasicValueEnum, FloatValue, FunctionValue, IntValue, PointerValue, VectorValue,
};
use inkwell::{FloatPredicate, IntPredicate};
use std::collections::HashMap;

pub type R<T> = Result<T, String>;

fn bld<T>(r: Result<T, inkwell::builder::BuilderError>) -> R<T> {
    r.map_err(|e| format!("llvm builder: {e}"))
}

/// A multi-index into an array of static dims, with its row-major linear form.
#[derive(Clone, Debug)]
pub struct Idx<'ctx> {
    /// Identity for memoization: equal ids mean equal indices.
    pub id: usize,
    pub multi: Vec<IntValue<'ctx>>,
    pub linear: IntValue<'ctx>,
}

/// Where the parameters of the computation being emitted come from.
#[derive(Clone, Copy, Debug)]
pub enum ParamSource<'ctx> {
    /// A row-major buffer read at the element's linear index.
    Buffer(PointerValue<'ctx>),
    /// A scalar value (region parameters).
    Scalar(BasicValueEnum<'ctx>),
}

/// Where a spilled value lives: buffer, dtype, and the linear index of the
/// buffer's first element (`None`: 0).
type Spilled<'ctx> = (PointerValue<'ctx>, DType, Option<IntValue<'ctx>>);

/// Emits element computations into the current insertion point of `builder`.
pub struct Elemental<'a, 'ctx> {
    pub context: &'ctx Context,
    pub module: &'a LlvmModule<'ctx>,
    pub builder: &'a Builder<'ctx>,
    pub hlo: &'a Module,
    memo: HashMap<(usize, usize, usize, usize), BasicValueEnum<'ctx>>,
    /// Values fixed for the rest of the emission, whatever the index (see `pin`).
    pinned: HashMap<(usize, usize, usize), BasicValueEnum<'ctx>>,
    /// Values already stored in a buffer at their own linear index (see `spill`).
    spilled: HashMap<(usize, usize, usize), Spilled<'ctx>>,
    next_id: usize,
    /// See [`super::math::MathCx::x86_avx512`].
    x86_avx512: bool,
    /// How many vector iterations the loops emitted now should interleave.
    interleave: std::cell::Cell<u32>,
}

impl<'a, 'ctx> Elemental<'a, 'ctx> {
    pub fn new(
        context: &'ctx Context,
        module: &'a LlvmModule<'ctx>,
        builder: &'a Builder<'ctx>,
        hlo: &'a Module,
    ) -> Self {
        Elemental {
            context,
            module,
            builder,
            hlo,
            memo: HashMap::new(),
            pinned: HashMap::new(),
            spilled: HashMap::new(),
            next_id: 0,
            x86_avx512: false,
            interleave: std::cell::Cell::new(1),
        }
    }

    /// Sets how many vector iterations the loops emitted from now on should
    /// interleave (1: the vectorizer's choice; a target's loop emitter reads it).
    pub fn set_interleave(&self, count: u32) {
        self.interleave.set(count);
    }

    /// See [`Self::set_interleave`].
    pub fn interleave(&self) -> u32 {
        self.interleave.get()
    }

    /// Lets vector code use AVX-512 F, VL and DQ instructions (the code will run on
    /// an x86 CPU that has them).
    pub fn set_x86_avx512(&mut self, on: bool) {
        self.x86_avx512 = on;
    }

    /// Makes `v` of `comp` evaluate to `x` at every index until [`Self::unpin_all`]:
    /// a row kernel pins a reduction's result for the row it is in, and reads it
    /// only at that row.
    pub fn pin(&mut self, comp: &Computation, v: Value, x: BasicValueEnum<'ctx>) {
        let key = (comp as *const Computation as usize, v.instr, v.index);
        self.pinned.insert(key, x);
    }

    /// Makes `v` of `comp` load from `ptr` (a buffer of dtype `d` holding `v` at the
    /// linear index of each of its elements) until [`Self::unpin_all`]: a row
    /// kernel stores an expensive reduce operand while folding it and reads it back
    /// for the elementwise outputs instead of recomputing it. With a `base`, the
    /// buffer holds only the elements from linear index `base` on (one row).
    pub fn spill(
        &mut self,
        comp: &Computation,
        v: Value,
        ptr: PointerValue<'ctx>,
        d: DType,
        base: Option<IntValue<'ctx>>,
    ) {
        let key = (comp as *const Computation as usize, v.instr, v.index);
        self.spilled.insert(key, (ptr, d, base));
    }

    /// Forgets every pinned and spilled value.
    pub fn unpin_all(&mut self) {
        self.pinned.clear();
        self.spilled.clear();
    }

    /// Forgets memoized values (call when leaving the block they were made in).
    pub fn clear_memo(&mut self) {
        self.memo.clear();
    }

    pub fn i64t(&self) -> IntType<'ctx> {
        self.context.i64_type()
    }

    pub fn c64(&self, v: i64) -> IntValue<'ctx> {
        self.i64t().const_int(v as u64, true)
    }

    pub fn fresh_id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id
    }

    /// An index from its multi-index components (dims are static).
    pub fn idx_from_multi(&mut self, dims: &[usize], multi: Vec<IntValue<'ctx>>) -> R<Idx<'ctx>> {
        let mut linear = self.c64(0);
        let strides = crate::strides_of(dims);
        for (m, s) in multi.iter().zip(strides) {
            let term = bld(self.builder.build_int_nuw_mul(*m, self.c64(s as i64), "t"))?;
            linear = bld(self.builder.build_int_nuw_add(linear, term, "lin"))?;
        }
        Ok(Idx {
            id: self.fresh_id(),
            multi,
            linear,
        })
    }

    /// An index from its linear form.
    pub fn idx_from_linear(&mut self, dims: &[usize], linear: IntValue<'ctx>) -> R<Idx<'ctx>> {
        let strides = crate::strides_of(dims);
        let mut multi = Vec::with_capacity(dims.len());
        for (k, (&d, &s)) in dims.iter().zip(&strides).enumerate() {
            let q = if k == 0 {
                bld(self
                    .builder
                    .build_int_unsigned_div(linear, self.c64(s as i64), "q"))?
            } else {
                let q = bld(self
                    .builder
                    .build_int_unsigned_div(linear, self.c64(s as i64), "q"))?;
                bld(self
                    .builder
                    .build_int_unsigned_rem(q, self.c64(d as i64), "r"))?
            };
            multi.push(if d == 1 { self.c64(0) } else { q });
        }
        Ok(Idx {
            id: self.fresh_id(),
            multi,
            linear,
        })
    }

    /// The index of a rank-0 value.
    pub fn scalar_idx(&mut self) -> Idx<'ctx> {
        Idx {
            id: 0,
            multi: vec![],
            linear: self.c64(0),
        }
    }

    // ---- types -------------------------------------------------------------------

    /// The type elements are computed in.
    pub fn compute_type(&self, d: DType) -> BasicTypeEnum<'ctx> {
        match d {
            DType::Bool => self.context.bool_type().into(),
            DType::F16 | DType::BF16 | DType::F32 => self.context.f32_type().into(),
            DType::F64 => self.context.f64_type().into(),
            _ => self.int_type(d.bits()).into(),
        }
    }

    /// The type elements are stored as in memory.
    pub fn storage_type(&self, d: DType) -> BasicTypeEnum<'ctx> {
        match d {
            DType::Bool => self.context.i8_type().into(),
            DType::F16 | DType::BF16 => self.context.i16_type().into(),
            DType::F32 => self.context.f32_type().into(),
            DType::F64 => self.context.f64_type().into(),
            _ => self.int_type(d.bits()).into(),
        }
    }

    /// The integer type of `bits` bits.
    pub fn int_type(&self, bits: u32) -> IntType<'ctx> {
        match bits {
            1 => self.context.bool_type(),
            8 => self.context.i8_type(),
            16 => self.context.i16_type(),
            32 => self.context.i32_type(),
            64 => self.context.i64_type(),
            _ => self.context.i128_type(),
        }
    }

    fn math_cx(&self) -> super::math::MathCx<'a, 'ctx> {
        super::math::MathCx {
            context: self.context,
            module: self.module,
            builder: self.builder,
            x86_avx512: self.x86_avx512,
        }
    }

    fn f32t(&self) -> FloatType<'ctx> {
        self.context.f32_type()
    }

    // ---- memory ------------------------------------------------------------------

    /// Loads element `linear` of a buffer of dtype `d` as a compute value.
    pub fn load(
        &self,
        ptr: PointerValue<'ctx>,
        d: DType,
        linear: IntValue<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let st = self.storage_type(d);
        // SAFETY: the caller passes buffers with at least as many elements as the
        // indices generated for their static shape.
        let p = unsafe { bld(self.builder.build_in_bounds_gep(st, ptr, &[linear], "p"))? };
        let raw = bld(self.builder.build_load(st, p, "v"))?;
        self.from_storage(raw, d)
    }

    /// Stores a compute value as element `linear` of a buffer of dtype `d`.
    pub fn store(
        &self,
        ptr: PointerValue<'ctx>,
        d: DType,
        linear: IntValue<'ctx>,
        v: BasicValueEnum<'ctx>,
    ) -> R<()> {
        let st = self.storage_type(d);
        // SAFETY: as in `load`.
        let p = unsafe { bld(self.builder.build_in_bounds_gep(st, ptr, &[linear], "p"))? };
        let raw = self.to_storage(v, d)?;
        bld(self.builder.build_store(p, raw))?;
        Ok(())
    }

    /// Asks the cache for element `linear` of a buffer of dtype `d` (`write`: the
    /// line will be stored to). A hint: it never faults, so the index may run past
    /// the buffer.
    pub fn prefetch(
        &self,
        ptr: PointerValue<'ctx>,
        d: DType,
        linear: IntValue<'ctx>,
        write: bool,
    ) -> R<()> {
        let st = self.storage_type(d);
        // SAFETY: a plain (not in-bounds) address computation; nothing dereferences it.
        let p = unsafe { bld(self.builder.build_gep(st, ptr, &[linear], "pf"))? };
        let f = self.intrinsic("llvm.prefetch", &[self.ptr_type().into()])?;
        let i32c = |v: u64| self.context.i32_type().const_int(v, false).into();
        // Locality 2 (keep in L2 and up) and the data cache.
        let args = [p.into(), i32c(write as u64), i32c(2), i32c(1)];
        bld(self.builder.build_call(f, &args, ""))?;
        Ok(())
    }

    /// Storage bits/value to compute value.
    pub fn from_storage(&self, raw: BasicValueEnum<'ctx>, d: DType) -> R<BasicValueEnum<'ctx>> {
        let b = self.builder;
        Ok(match d {
            DType::Bool => bld(b.build_int_compare(
                IntPredicate::NE,
                raw.into_int_value(),
                self.context.i8_type().const_zero(),
                "b",
            ))?
            .into(),
            DType::F16 => {
                let h = bld(b.build_bit_cast(raw, self.context.f16_type(), "h"))?;
                bld(b.build_float_ext(h.into_float_value(), self.f32t(), "f"))?.into()
            }
            DType::BF16 => {
                let w =
                    bld(b.build_int_z_extend(raw.into_int_value(), self.context.i32_type(), "w"))?;
                let w =
                    bld(b.build_left_shift(w, self.context.i32_type().const_int(16, false), "s"))?;
                bld(b.build_bit_cast(w, self.f32t(), "f"))?
            }
            _ => raw,
        })
    }

    /// Compute value to storage.
    pub fn to_storage(&self, v: BasicValueEnum<'ctx>, d: DType) -> R<BasicValueEnum<'ctx>> {
        let b = self.builder;
        Ok(match d {
            DType::Bool => {
                bld(b.build_int_z_extend(v.into_int_value(), self.context.i8_type(), "b"))?.into()
            }
            DType::F16 => {
                let h =
                    bld(b.build_float_trunc(v.into_float_value(), self.context.f16_type(), "h"))?;
                bld(b.build_bit_cast(h, self.context.i16_type(), "hb"))?
            }
            DType::BF16 => self.f32_to_bf16_bits(v.into_float_value())?.into(),
            _ => v,
        })
    }

    /// Round-to-nearest-even f32 -> bf16 bits (quiet NaN kept), as the `half` crate.
    fn f32_to_bf16_bits(&self, f: FloatValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.builder;
        let i32t = self.context.i32_type();
        let c = |v: u64| i32t.const_int(v, false);
        let x = bld(b.build_bit_cast(f, i32t, "x"))?.into_int_value();
        let hi = bld(b.build_right_shift(x, c(16), false, "hi"))?;
        let lsb = bld(b.build_and(hi, c(1), "lsb"))?;
        let bias = bld(b.build_int_add(lsb, c(0x7fff), "bias"))?;
        let rounded = bld(b.build_int_add(x, bias, "r"))?;
        let rounded = bld(b.build_right_shift(rounded, c(16), false, "rs"))?;
        let nan = bld(b.build_or(hi, c(0x40), "nan"))?;
        let is_nan = bld(b.build_float_compare(FloatPredicate::UNO, f, f, "isnan"))?;
        let out = bld(b.build_select(is_nan, nan, rounded, "bf"))?.into_int_value();
        bld(b.build_int_truncate(out, self.context.i16_type(), "bf16"))
    }

    /// Rounds an f32 compute value to dtype `d`'s precision (f16/bf16), else returns it.
    pub fn round_to(&self, v: BasicValueEnum<'ctx>, d: DType) -> R<BasicValueEnum<'ctx>> {
        match d {
            DType::F16 | DType::BF16 => {
                let s = self.to_storage(v, d)?;
                self.from_storage(s, d)
            }
            _ => Ok(v),
        }
    }

    // ---- constants ---------------------------------------------------------------

    /// Element `i` of a literal as a compute constant.
    pub fn constant(&self, lit: &Literal, i: usize) -> R<BasicValueEnum<'ctx>> {
        let d = lit.dtype();
        let data = lit.data();
        Ok(match d {
            DType::Bool => self
                .context
                .bool_type()
                .const_int((data.get_i128(i) != 0) as u64, false)
                .into(),
            DType::F16 | DType::BF16 | DType::F32 => {
                self.f32t().const_float(data.get_f64(i)).into()
            }
            DType::F64 => self.context.f64_type().const_float(data.get_f64(i)).into(),
            _ => self
                .int_type(d.bits())
                .const_int(data.get_i128(i) as u64, false)
                .into(),
        })
    }

    // ---- helper calls ------------------------------------------------------------

    fn helper_fn(&self, name: &str, nargs: usize) -> FunctionValue<'ctx> {
        if let Some(f) = self.module.get_function(name) {
            return f;
        }
        let i64t = self.i64t();
        let i32t = self.context.i32_type();
        let params: Vec<_> = match name {
            "oxla_unary_bits" => vec![i32t.into(), i32t.into(), i64t.into()],
            "oxla_binary_bits" => vec![i32t.into(), i32t.into(), i64t.into(), i64t.into()],
            "oxla_reduce_precision_bits" => {
                vec![i32t.into(), i64t.into(), i32t.into(), i32t.into()]
            }
            _ => vec![i32t.into(), i32t.into(), i64t.into()],
        };
        debug_assert_eq!(params.len(), nargs);
        self.module
            .add_function(name, i64t.fn_type(&params, false), None)
    }

    /// A compute value as zero-extended storage bits in an i64.
    fn to_bits64(&self, v: BasicValueEnum<'ctx>, d: DType) -> R<IntValue<'ctx>> {
        let s = self.to_storage(v, d)?;
        let width = d.size_bytes() as u32 * 8;
        let as_int = bld(self.builder.build_bit_cast(s, self.int_type(width), "ib"))?;
        if width == 64 {
            Ok(as_int.into_int_value())
        } else {
            bld(self
                .builder
                .build_int_z_extend(as_int.into_int_value(), self.i64t(), "z"))
        }
    }

    fn value_from_bits64(&self, bits: IntValue<'ctx>, d: DType) -> R<BasicValueEnum<'ctx>> {
        let width = d.size_bytes() as u32 * 8;
        let t = if width == 64 {
            bits
        } else {
            bld(self
                .builder
                .build_int_truncate(bits, self.int_type(width), "t"))?
        };
        let st = self.storage_type(d);
        let s = bld(self.builder.build_bit_cast(t, st, "s"))?;
        self.from_storage(s, d)
    }

    fn call_helper(&self, name: &str, args: &[IntValue<'ctx>]) -> R<IntValue<'ctx>> {
        let f = self.helper_fn(name, args.len());
        let args: Vec<_> = args.iter().map(|&a| a.into()).collect();
        let call = bld(self.builder.build_call(f, &args, "h"))?;
        Ok(call
            .try_as_basic_value()
            .basic()
            .expect("helper returns i64")
            .into_int_value())
    }

    fn i32c(&self, v: u32) -> IntValue<'ctx> {
        self.context.i32_type().const_int(v as u64, false)
    }

    /// `op(x)` through the interpreter's element code.
    pub fn unary_helper(
        &self,
        op: UnaryOp,
        d: DType,
        x: BasicValueEnum<'ctx>,
        out: DType,
    ) -> R<BasicValueEnum<'ctx>> {
        let xb = self.to_bits64(x, d)?;
        let r = self.call_helper(
            "oxla_unary_bits",
            &[
                self.i32c(helpers::unary_code(op)),
                self.i32c(helpers::dtype_code(d)),
                xb,
            ],
        )?;
        self.value_from_bits64(r, out)
    }

    fn binary_helper(
        &self,
        op: BinaryOp,
        d: DType,
        x: BasicValueEnum<'ctx>,
        y: BasicValueEnum<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let xb = self.to_bits64(x, d)?;
        let yb = self.to_bits64(y, d)?;
        let r = self.call_helper(
            "oxla_binary_bits",
            &[
                self.i32c(helpers::binary_code(op)),
                self.i32c(helpers::dtype_code(d)),
                xb,
                yb,
            ],
        )?;
        self.value_from_bits64(r, d)
    }

    fn convert_helper(
        &self,
        from: DType,
        to: DType,
        x: BasicValueEnum<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let xb = self.to_bits64(x, from)?;
        let r = self.call_helper(
            "oxla_convert_bits",
            &[
                self.i32c(helpers::dtype_code(from)),
                self.i32c(helpers::dtype_code(to)),
                xb,
            ],
        )?;
        self.value_from_bits64(r, to)
    }

    fn intrinsic(&self, name: &str, types: &[BasicTypeEnum<'ctx>]) -> R<FunctionValue<'ctx>> {
        let i = Intrinsic::find(name).ok_or_else(|| format!("no LLVM intrinsic {name}"))?;
        i.get_declaration(self.module, types)
            .ok_or_else(|| format!("cannot declare {name}"))
    }

    fn call_intrinsic(&self, name: &str, args: &[BasicValueEnum<'ctx>]) -> R<BasicValueEnum<'ctx>> {
        let f = self.intrinsic(name, &[args[0].get_type()])?;
        let args: Vec<_> = args.iter().map(|&a| a.into()).collect();
        let call = bld(self.builder.build_call(f, &args, "i"))?;
        Ok(call
            .try_as_basic_value()
            .basic()
            .expect("intrinsic returns a value"))
    }

    // ---- elements ----------------------------------------------------------------

    /// Emits value `v` of computation `comp` at index `idx` (an index into `v`'s
    /// shape), reading parameters from `params`.
    pub fn value(
        &mut self,
        comp: &Computation,
        params: &[ParamSource<'ctx>],
        v: Value,
        idx: &Idx<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let key = (
            comp as *const Computation as usize,
            v.instr,
            v.index,
            idx.id,
        );
        if let Some(&x) = self.memo.get(&key) {
            return Ok(x);
        }
        if let Some(&x) = self.pinned.get(&(key.0, key.1, key.2)) {
            return Ok(x);
        }
        let out = match self.spilled.get(&(key.0, key.1, key.2)) {
            Some(&(ptr, d, None)) => self.load(ptr, d, idx.linear)?,
            Some(&(ptr, d, Some(base))) => {
                let at = bld(self.builder.build_int_nuw_sub(idx.linear, base, "inrow"))?;
                self.load(ptr, d, at)?
            }
            None => self.compute(comp, params, v, idx)?,
        };
        self.memo.insert(key, out);
        Ok(out)
    }

    /// Whether `v` has one value for all indices of the loop being emitted: built by
    /// elementwise ops, broadcasts and reshapes from pinned values (a row kernel's
    /// totals), constants (always splats in kernels) and scalar parameters.
    fn loop_invariant(
        &self,
        comp: &Computation,
        params: &[ParamSource<'ctx>],
        v: Value,
        depth: usize,
    ) -> bool {
        let key = (comp as *const Computation as usize, v.instr, v.index);
        if self.pinned.contains_key(&key) {
            return true;
        }
        let instr = &comp.instrs[v.instr];
        match &instr.op {
            Op::Constant(_) => true,
            Op::Parameter { index } => matches!(params[*index], ParamSource::Scalar(_)),
            Op::Unary(_)
            | Op::Binary(_)
            | Op::Convert { .. }
            | Op::BroadcastInDim { .. }
            | Op::Reshape { .. } => {
                depth < 16
                    && instr
                        .operands
                        .iter()
                        .all(|&o| self.loop_invariant(comp, params, o, depth + 1))
            }
            _ => false,
        }
    }

    /// The operand `k` of `instr` at the same index (or at the scalar index when
    /// the operand is rank 0 and the result is not).
    fn same_index(
        &mut self,
        comp: &Computation,
        params: &[ParamSource<'ctx>],
        instr: &Instr,
        k: usize,
        idx: &Idx<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let operand = instr.operands[k];
        if comp.shape(operand).rank() == 0 && !idx.multi.is_empty() {
            let s = self.scalar_idx();
            self.value(comp, params, operand, &s)
        } else {
            self.value(comp, params, operand, idx)
        }
    }

    fn compute(
        &mut self,
        comp: &Computation,
        params: &[ParamSource<'ctx>],
        v: Value,
        idx: &Idx<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let instr = &comp.instrs[v.instr];
        let out_shape = &instr.shapes[v.index];
        let d = out_shape.dtype;
        match &instr.op {
            Op::Parameter { index } => match params[*index] {
                ParamSource::Buffer(ptr) => self.load(ptr, d, idx.linear),
                ParamSource::Scalar(x) => Ok(x),
            },
            Op::Constant(lit) => {
                if crate::passes::fusion::is_splat(lit) && lit.num_elements() > 0 {
                    self.constant(lit, 0)
                } else {
                    Err("non-splat constant inside a kernel".into())
                }
            }
            Op::Iota { dim, .. } => {
                let i = idx.multi[*dim];
                self.convert_index(i, d)
            }
            Op::Unary(op) => {
                let x = self.same_index(comp, params, instr, 0, idx)?;
                let in_d = comp.shape(instr.operands[0]).dtype;
                let r = self.unary(*op, in_d, x, d)?;
                self.round_to(r, d)
            }
            Op::Binary(op) => {
                let x = self.same_index(comp, params, instr, 0, idx)?;
                let y = self.same_index(comp, params, instr, 1, idx)?;
                let r = if *op == BinaryOp::Div
                    && d.is_float()
                    && self.loop_invariant(comp, params, instr.operands[1], 0)
                {
                    let (fx, fy) = (x.into_float_value(), y.into_float_value());
                    super::variants::div_by_invariant(&self.math_cx(), fx, fy)?.into()
                } else {
                    self.binary(*op, d, x, y)?
                };
                self.round_to(r, d)
            }
            Op::Compare { dir, total_order } => {
                let x = self.same_index(comp, params, instr, 0, idx)?;
                let y = self.same_index(comp, params, instr, 1, idx)?;
                let in_d = comp.shape(instr.operands[0]).dtype;
                Ok(self.compare(*dir, *total_order, in_d, x, y)?.into())
            }
            Op::Select => {
                if let Some((a, b)) = signed_zero_product(comp, instr) {
                    // `a·b + 0` where a factor is zero, else `a·b`: the simplifier's
                    // exact form of a one-term dot (whose sum starts at +0) is
                    // fma(a, b, +0), the exact product rounded once plus +0, in one
                    // instruction instead of five.
                    let x = self.value(comp, params, a, idx)?;
                    let y = self.value(comp, params, b, idx)?;
                    let zero = x.get_type().into_float_type().const_zero();
                    return self.call_intrinsic("llvm.fma", &[x, y, zero.into()]);
                }
                let p = self.same_index(comp, params, instr, 0, idx)?;
                let t = self.same_index(comp, params, instr, 1, idx)?;
                let f = self.same_index(comp, params, instr, 2, idx)?;
                bld(self.builder.build_select(p.into_int_value(), t, f, "sel"))
            }
            Op::Clamp => {
                let lo = self.same_index(comp, params, instr, 0, idx)?;
                let x = self.same_index(comp, params, instr, 1, idx)?;
                let hi = self.same_index(comp, params, instr, 2, idx)?;
                let m = self.binary(BinaryOp::Min, d, x, hi)?;
                self.binary(BinaryOp::Max, d, lo, m)
            }
            Op::Convert { dtype } => {
                let x = self.same_index(comp, params, instr, 0, idx)?;
                let from = comp.shape(instr.operands[0]).dtype;
                self.convert(x, from, *dtype)
            }
            Op::BitcastConvert { dtype } => {
                let x = self.same_index(comp, params, instr, 0, idx)?;
                let from = comp.shape(instr.operands[0]).dtype;
                if from.size_bytes() != dtype.size_bytes() {
                    return Err("bitcast_convert between widths inside a kernel".into());
                }
                let s = self.to_storage(x, from)?;
                let width = self.int_type(from.size_bytes() as u32 * 8);
                let i = bld(self.builder.build_bit_cast(s, width, "bc"))?;
                let s = bld(self
                    .builder
                    .build_bit_cast(i, self.storage_type(*dtype), "bc"))?;
                self.from_storage(s, *dtype)
            }
            Op::BroadcastInDim { broadcast_dims, .. } => {
                let operand = instr.operands[0];
                let od = comp.shape(operand).dims.clone();
                let multi: Vec<IntValue> = broadcast_dims
                    .iter()
                    .zip(&od)
                    .map(|(&bd, &size)| {
                        if size == 1 {
                            self.c64(0)
                        } else {
                            idx.multi[bd]
                        }
                    })
                    .collect();
                let sub = self.idx_from_multi(&od, multi)?;
                self.value(comp, params, operand, &sub)
            }
            Op::Reshape { dims } => {
                let operand = instr.operands[0];
                let od = comp.shape(operand).dims.clone();
                let squeeze = |ds: &[usize]| -> Vec<usize> {
                    ds.iter().copied().filter(|&x| x != 1).collect()
                };
                if squeeze(&od) == squeeze(dims) {
                    // Only size-1 dims change: keep the non-trivial components.
                    let mut nontrivial = dims
                        .iter()
                        .zip(&idx.multi)
                        .filter(|(&s, _)| s != 1)
                        .map(|(_, &m)| m);
                    let multi: Vec<IntValue> = od
                        .iter()
                        .map(|&s| {
                            if s == 1 {
                                self.c64(0)
                            } else {
                                nontrivial.next().expect("same dims")
                            }
                        })
                        .collect();
                    let sub = Idx {
                        id: idx.id,
                        multi,
                        linear: idx.linear,
                    };
                    // Same linear index, so memoization by id stays valid only for
                    // this operand's shape; use a fresh id to be safe.
                    let sub = Idx {
                        id: self.fresh_id(),
                        ..sub
                    };
                    self.value(comp, params, operand, &sub)
                } else {
                    let sub = self.idx_from_linear(&od, idx.linear)?;
                    self.value(comp, params, operand, &sub)
                }
            }
            Op::Transpose { perm } => {
                let operand = instr.operands[0];
                let od = comp.shape(operand).dims.clone();
                let mut multi = vec![self.c64(0); od.len()];
                for (i, &p) in perm.iter().enumerate() {
                    multi[p] = idx.multi[i];
                }
                let sub = self.idx_from_multi(&od, multi)?;
                self.value(comp, params, operand, &sub)
            }
            Op::Reverse { dims } => {
                let operand = instr.operands[0];
                let od = comp.shape(operand).dims.clone();
                let mut multi = idx.multi.clone();
                for &k in dims {
                    multi[k] = bld(self.builder.build_int_sub(
                        self.c64(od[k] as i64 - 1),
                        multi[k],
                        "rev",
                    ))?;
                }
                let sub = self.idx_from_multi(&od, multi)?;
                self.value(comp, params, operand, &sub)
            }
            Op::Slice { start, strides, .. } => {
                let operand = instr.operands[0];
                let od = comp.shape(operand).dims.clone();
                let mut multi = Vec::with_capacity(od.len());
                for k in 0..od.len() {
                    let m = bld(self.builder.build_int_mul(
                        idx.multi[k],
                        self.c64(strides[k] as i64),
                        "st",
                    ))?;
                    multi.push(bld(self.builder.build_int_add(
                        m,
                        self.c64(start[k] as i64),
                        "sl",
                    ))?);
                }
                let sub = self.idx_from_multi(&od, multi)?;
                self.value(comp, params, operand, &sub)
            }
            Op::DynamicSlice { sizes } => {
                let operand = instr.operands[0];
                let od = comp.shape(operand).dims.clone();
                let mut multi = Vec::with_capacity(od.len());
                for k in 0..od.len() {
                    let s_idx = self.scalar_idx();
                    let sv = instr.operands[1 + k];
                    let sd = comp.shape(sv).dtype;
                    let start = self.value(comp, params, sv, &s_idx)?.into_int_value();
                    let start = self.index_to_i64(start, sd)?;
                    let hi = (od[k] - sizes[k]) as i64;
                    let start = self.clamp_i64(start, 0, hi)?;
                    multi.push(bld(self.builder.build_int_add(start, idx.multi[k], "ds"))?);
                }
                let sub = self.idx_from_multi(&od, multi)?;
                self.value(comp, params, operand, &sub)
            }
            Op::Pad { low, interior, .. } => {
                let operand = instr.operands[0];
                let od = comp.shape(operand).dims.clone();
                let s_idx = self.scalar_idx();
                let pad = self.value(comp, params, instr.operands[1], &s_idx)?;
                let mut valid = self.context.bool_type().const_int(1, false);
                let mut multi = Vec::with_capacity(od.len());
                let b = self.builder;
                for k in 0..od.len() {
                    let step = interior[k] as i64 + 1;
                    let rel = bld(b.build_int_sub(idx.multi[k], self.c64(low[k]), "rel"))?;
                    let nonneg =
                        bld(b.build_int_compare(IntPredicate::SGE, rel, self.c64(0), "nn"))?;
                    let q = bld(b.build_int_signed_div(rel, self.c64(step), "q"))?;
                    let r = bld(b.build_int_signed_rem(rel, self.c64(step), "r"))?;
                    let on_grid = bld(b.build_int_compare(IntPredicate::EQ, r, self.c64(0), "g"))?;
                    let inside = bld(b.build_int_compare(
                        IntPredicate::SLT,
                        q,
                        self.c64(od[k] as i64),
                        "in",
                    ))?;
                    for c in [nonneg, on_grid, inside] {
                        valid = bld(b.build_and(valid, c, "ok"))?;
                    }
                    multi.push(self.clamp_i64(q, 0, od[k] as i64 - 1)?);
                }
                if od.contains(&0) {
                    return Ok(pad);
                }
                let sub = self.idx_from_multi(&od, multi)?;
                let x = self.value(comp, params, operand, &sub)?;
                bld(self.builder.build_select(valid, x, pad, "pad"))
            }
            Op::Concatenate { dim } => {
                let mut offset = 0i64;
                let mut result: Option<BasicValueEnum> = None;
                let pos = idx.multi[*dim];
                for k in 0..instr.operands.len() {
                    let operand = instr.operands[k];
                    let od = comp.shape(operand).dims.clone();
                    let size = od[*dim] as i64;
                    if size == 0 {
                        continue;
                    }
                    let mut multi = idx.multi.clone();
                    let rel = bld(self.builder.build_int_sub(pos, self.c64(offset), "rel"))?;
                    multi[*dim] = self.clamp_i64(rel, 0, size - 1)?;
                    let sub = self.idx_from_multi(&od, multi)?;
                    let x = self.value(comp, params, operand, &sub)?;
                    result = Some(match result {
                        None => x,
                        Some(prev) => {
                            let here = bld(self.builder.build_int_compare(
                                IntPredicate::SGE,
                                pos,
                                self.c64(offset),
                                "here",
                            ))?;
                            bld(self.builder.build_select(here, x, prev, "cat"))?
                        }
                    });
                    offset += size;
                }
                // All operands empty: so is the output, and this element is never
                // computed; any value of the right type will do.
                Ok(match result {
                    Some(x) => x,
                    None => self.compute_type(d).const_zero(),
                })
            }
            Op::ReducePrecision {
                exponent_bits,
                mantissa_bits,
            } => {
                let x = self.same_index(comp, params, instr, 0, idx)?;
                let xb = self.to_bits64(x, d)?;
                let r = self.call_helper(
                    "oxla_reduce_precision_bits",
                    &[
                        self.i32c(helpers::dtype_code(d)),
                        xb,
                        self.i32c(*exponent_bits),
                        self.i32c(*mantissa_bits),
                    ],
                )?;
                self.value_from_bits64(r, d)
            }
            other => Err(format!("{} cannot be computed elementally", other.name())),
        }
    }

    fn clamp_i64(&self, x: IntValue<'ctx>, lo: i64, hi: i64) -> R<IntValue<'ctx>> {
        let b = self.builder;
        let lo_c = self.c64(lo);
        let hi_c = self.c64(hi.max(lo));
        let below = bld(b.build_int_compare(IntPredicate::SLT, x, lo_c, "lt"))?;
        let x = bld(b.build_select(below, lo_c, x, "cl"))?.into_int_value();
        let above = bld(b.build_int_compare(IntPredicate::SGT, x, hi_c, "gt"))?;
        Ok(bld(b.build_select(above, hi_c, x, "ch"))?.into_int_value())
    }

    /// An integer index value of dtype `d` as i64 (signed or unsigned extension).
    pub fn index_to_i64(&self, x: IntValue<'ctx>, d: DType) -> R<IntValue<'ctx>> {
        if d.bits() == 64 {
            return Ok(x);
        }
        if d.is_signed_int() {
            bld(self.builder.build_int_s_extend(x, self.i64t(), "sx"))
        } else {
            bld(self.builder.build_int_z_extend(x, self.i64t(), "zx"))
        }
    }

    /// An i64 index (non-negative) as dtype `d`.
    fn convert_index(&self, i: IntValue<'ctx>, d: DType) -> R<BasicValueEnum<'ctx>> {
        let b = self.builder;
        Ok(match d {
            DType::Bool => bld(b.build_int_compare(IntPredicate::NE, i, self.c64(0), "b"))?.into(),
            DType::F16 | DType::BF16 | DType::F32 => {
                let f = bld(b.build_unsigned_int_to_float(i, self.f32t(), "f"))?;
                self.round_to(f.into(), d)?
            }
            DType::F64 => {
                bld(b.build_unsigned_int_to_float(i, self.context.f64_type(), "f"))?.into()
            }
            _ => bld(b.build_int_truncate_or_bit_cast(i, self.int_type(d.bits()), "t"))?.into(),
        })
    }

    // ---- arithmetic --------------------------------------------------------------

    /// `op(x)`; `d` is the operand dtype, `out` the result dtype.
    pub fn unary(
        &self,
        op: UnaryOp,
        d: DType,
        x: BasicValueEnum<'ctx>,
        out: DType,
    ) -> R<BasicValueEnum<'ctx>> {
        use UnaryOp::*;
        let b = self.builder;
        if d.is_float() {
            let f = x.into_float_value();
            let native: Option<BasicValueEnum> = match op {
                Neg => Some(bld(b.build_float_neg(f, "neg"))?.into()),
                Abs => Some(self.call_intrinsic("llvm.fabs", &[x])?),
                Floor => Some(self.call_intrinsic("llvm.floor", &[x])?),
                Ceil => Some(self.call_intrinsic("llvm.ceil", &[x])?),
                RoundNearestEven => Some(self.call_intrinsic("llvm.roundeven", &[x])?),
                RoundNearestAfz => Some(self.call_intrinsic("llvm.round", &[x])?),
                Sqrt if d != DType::F16 && d != DType::BF16 => {
                    Some(self.call_intrinsic("llvm.sqrt", &[x])?)
                }
                IsFinite => {
                    let a = self.call_intrinsic("llvm.fabs", &[x])?.into_float_value();
                    let inf = f.get_type().const_float(f64::INFINITY);
                    Some(bld(b.build_float_compare(FloatPredicate::OLT, a, inf, "fin"))?.into())
                }
                Sign => {
                    let zero = f.get_type().const_zero();
                    let one = f.get_type().const_float(1.0);
                    let pos = bld(b.build_float_compare(FloatPredicate::OGT, f, zero, "p"))?;
                    let neg = bld(b.build_float_compare(FloatPredicate::OLT, f, zero, "n"))?;
                    let minus = bld(b.build_float_neg(one, "m"))?;
                    let r = bld(b.build_select(neg, minus, f, "s"))?;
                    Some(bld(b.build_select(pos, one.into(), r, "s"))?)
                }
                Rsqrt if d == DType::F32 => {
                    // The interpreter computes 1/sqrt in f64 and rounds once.
                    let x64 = bld(b.build_float_ext(f, self.context.f64_type(), "x"))?;
                    let s = self
                        .call_intrinsic("llvm.sqrt", &[x64.into()])?
                        .into_float_value();
                    let one = self.context.f64_type().const_float(1.0);
                    let r = bld(b.build_float_div(one, s, "r"))?;
                    Some(bld(b.build_float_trunc(r, self.f32t(), "r32"))?.into())
                }
                Rsqrt if d == DType::F64 => {
                    let s = self.call_intrinsic("llvm.sqrt", &[x])?.into_float_value();
                    let one = self.context.f64_type().const_float(1.0);
                    Some(bld(b.build_float_div(one, s, "r"))?.into())
                }
                _ => None,
            };
            if let Some(v) = native {
                return Ok(v);
            }
            if matches!(d, DType::F32 | DType::F64) {
                if let Ok(v) = super::math::emit_unary(&self.math_cx(), op, f) {
                    return Ok(v.into());
                }
            }
            return self.unary_helper(op, d, x, out);
        }
        let i = x.into_int_value();
        let t = i.get_type();
        match op {
            Not => Ok(bld(b.build_not(i, "not"))?.into()),
            Neg => Ok(bld(b.build_int_neg(i, "neg"))?.into()),
            Abs if d.is_unsigned_int() => Ok(x),
            Abs => {
                let neg = bld(b.build_int_neg(i, "neg"))?;
                let lt = bld(b.build_int_compare(IntPredicate::SLT, i, t.const_zero(), "lt"))?;
                bld(b.build_select(lt, neg, i, "abs"))
            }
            Sign => {
                let zero = t.const_zero();
                let one = t.const_int(1, false);
                let nz = bld(b.build_int_compare(IntPredicate::NE, i, zero, "nz"))?;
                let pos = bld(b.build_select(nz, one, zero, "p"))?.into_int_value();
                if d.is_unsigned_int() {
                    return Ok(pos.into());
                }
                let lt = bld(b.build_int_compare(IntPredicate::SLT, i, zero, "lt"))?;
                bld(b.build_select(lt, t.const_all_ones(), pos, "sign"))
            }
            PopulationCount => self.call_intrinsic("llvm.ctpop", &[x]),
            _ => self.unary_helper(op, d, x, out),
        }
    }

    /// `op(x, y)` on compute values of dtype `d`.
    pub fn binary(
        &self,
        op: BinaryOp,
        d: DType,
        x: BasicValueEnum<'ctx>,
        y: BasicValueEnum<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        use BinaryOp::*;
        let b = self.builder;
        if d.is_float() {
            let (fx, fy) = (x.into_float_value(), y.into_float_value());
            return Ok(match op {
                Add => bld(b.build_float_add(fx, fy, "add"))?.into(),
                Sub => bld(b.build_float_sub(fx, fy, "sub"))?.into(),
                Mul => bld(b.build_float_mul(fx, fy, "mul"))?.into(),
                Div => bld(b.build_float_div(fx, fy, "div"))?.into(),
                Rem => bld(b.build_float_rem(fx, fy, "rem"))?.into(),
                Max | Min => self.float_max_min(op == Max, fx, fy)?.into(),
                Pow if matches!(d, DType::F32 | DType::F64) => {
                    super::math::emit_pow(&self.math_cx(), fx, fy)?.into()
                }
                Atan2 if matches!(d, DType::F32 | DType::F64) => {
                    super::math::emit_atan2(&self.math_cx(), fx, fy)?.into()
                }
                _ => return self.binary_helper(op, d, x, y),
            });
        }
        let (ix, iy) = (x.into_int_value(), y.into_int_value());
        let t = ix.get_type();
        let signed = d.is_signed_int();
        let bits = t.get_bit_width() as u64;
        Ok(match op {
            Add => bld(b.build_int_add(ix, iy, "add"))?.into(),
            Sub => bld(b.build_int_sub(ix, iy, "sub"))?.into(),
            Mul => bld(b.build_int_mul(ix, iy, "mul"))?.into(),
            And => bld(b.build_and(ix, iy, "and"))?.into(),
            Or => bld(b.build_or(ix, iy, "or"))?.into(),
            Xor => bld(b.build_xor(ix, iy, "xor"))?.into(),
            Max | Min => {
                let pred = match (op == Max, signed) {
                    (true, true) => IntPredicate::SGT,
                    (true, false) => IntPredicate::UGT,
                    (false, true) => IntPredicate::SLT,
                    (false, false) => IntPredicate::ULT,
                };
                let c = bld(b.build_int_compare(pred, ix, iy, "c"))?;
                bld(b.build_select(c, ix, iy, "mm"))?
            }
            Div | Rem if !d.is_bool() => {
                let zero = t.const_zero();
                let is_zero = bld(b.build_int_compare(IntPredicate::EQ, iy, zero, "z"))?;
                // MIN / -1 overflows: divide by 1 instead and fix up.
                let overflow = if signed {
                    let min = t.const_int(1u64 << (bits - 1), false);
                    let xm = bld(b.build_int_compare(IntPredicate::EQ, ix, min, "xm"))?;
                    let ym =
                        bld(b.build_int_compare(IntPredicate::EQ, iy, t.const_all_ones(), "ym"))?;
                    bld(b.build_and(xm, ym, "ov"))?
                } else {
                    self.context.bool_type().const_zero()
                };
                let bad = bld(b.build_or(is_zero, overflow, "bad"))?;
                let safe_y =
                    bld(b.build_select(bad, t.const_int(1, false), iy, "sy"))?.into_int_value();
                if op == Div {
                    let q = if signed {
                        bld(b.build_int_signed_div(ix, safe_y, "q"))?
                    } else {
                        bld(b.build_int_unsigned_div(ix, safe_y, "q"))?
                    };
                    // x / 0 = -1 (all ones); MIN / -1 = MIN (= x / 1).
                    bld(b.build_select(is_zero, t.const_all_ones(), q, "div"))?
                } else {
                    let r = if signed {
                        bld(b.build_int_signed_rem(ix, safe_y, "r"))?
                    } else {
                        bld(b.build_int_unsigned_rem(ix, safe_y, "r"))?
                    };
                    // x % 0 = x; MIN % -1 = 0 (= x % 1).
                    bld(b.build_select(is_zero, ix, r, "rem"))?
                }
            }
            ShiftLeft | ShiftRightLogical | ShiftRightArithmetic => {
                let limit = t.const_int(bits, false);
                let big = bld(b.build_int_compare(IntPredicate::UGE, iy, limit, "big"))?;
                let amount = bld(b.build_select(big, t.const_int(bits - 1, false), iy, "amt"))?
                    .into_int_value();
                match op {
                    ShiftLeft => {
                        let s = bld(b.build_left_shift(ix, amount, "shl"))?;
                        bld(b.build_select(big, t.const_zero(), s, "shl"))?
                    }
                    ShiftRightLogical => {
                        let s = bld(b.build_right_shift(ix, amount, false, "shr"))?;
                        bld(b.build_select(big, t.const_zero(), s, "shr"))?
                    }
                    _ => bld(b.build_right_shift(ix, amount, true, "sar"))?.into(),
                }
            }
            _ => return self.binary_helper(op, d, x, y),
        })
    }

    /// NaN-propagating max/min with max(-0, +0) = +0 and min(-0, +0) = -0.
    /// `op(x, y)` lane by lane on float vectors: the reduction combiners Add, Mul,
    /// Max and Min, with the same semantics as [`Self::binary`] per lane.
    pub fn float_vector_combine(
        &self,
        op: BinaryOp,
        x: VectorValue<'ctx>,
        y: VectorValue<'ctx>,
    ) -> R<VectorValue<'ctx>> {
        let b = self.builder;
        Ok(match op {
            BinaryOp::Add => bld(b.build_float_add(x, y, "vadd"))?,
            BinaryOp::Mul => bld(b.build_float_mul(x, y, "vmul"))?,
            BinaryOp::Max | BinaryOp::Min => {
                let max = op == BinaryOp::Max;
                if let Some(v) = super::variants::max_min(&self.math_cx(), max, x, y)? {
                    return Ok(v);
                }
                let name = if max { "llvm.maximum" } else { "llvm.minimum" };
                self.call_intrinsic(name, &[x.into(), y.into()])?
                    .into_vector_value()
            }
            _ => return Err(format!("{op:?} is not a vector reduction combiner")),
        })
    }

    /// Loads `lanes` consecutive elements of a float buffer of dtype `d` (f32 or
    /// f64, whose storage is the compute type) starting at element `linear`.
    pub fn load_float_vector(
        &self,
        ptr: PointerValue<'ctx>,
        d: DType,
        linear: IntValue<'ctx>,
        lanes: u32,
    ) -> R<VectorValue<'ctx>> {
        let st = self.storage_type(d);
        let vt = st.into_float_type().vec_type(lanes);
        // SAFETY: the caller reads only elements inside the buffer's static shape.
        let p = unsafe { bld(self.builder.build_in_bounds_gep(st, ptr, &[linear], "vp"))? };
        let v = bld(self.builder.build_load(vt, p, "vv"))?;
        // Buffers are aligned only to their element.
        v.as_instruction_value()
            .expect("a load is an instruction")
            .set_alignment(d.size_bytes() as u32)
            .map_err(|e| format!("llvm: {e}"))?;
        Ok(v.into_vector_value())
    }

    fn float_max_min(
        &self,
        max: bool,
        x: FloatValue<'ctx>,
        y: FloatValue<'ctx>,
    ) -> R<FloatValue<'ctx>> {
        let name = if max { "llvm.maximum" } else { "llvm.minimum" };
        Ok(self
            .call_intrinsic(name, &[x.into(), y.into()])?
            .into_float_value())
    }

    /// Comparison of two compute values of dtype `d`.
    pub fn compare(
        &self,
        dir: CmpDir,
        total: bool,
        d: DType,
        x: BasicValueEnum<'ctx>,
        y: BasicValueEnum<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = self.builder;
        if d.is_float() && !total {
            let p = match dir {
                CmpDir::Eq => FloatPredicate::OEQ,
                CmpDir::Ne => FloatPredicate::UNE,
                CmpDir::Lt => FloatPredicate::OLT,
                CmpDir::Le => FloatPredicate::OLE,
                CmpDir::Gt => FloatPredicate::OGT,
                CmpDir::Ge => FloatPredicate::OGE,
            };
            return bld(b.build_float_compare(p, x.into_float_value(), y.into_float_value(), "fc"));
        }
        let (ix, iy, signed) = if d.is_float() {
            (
                self.total_order_key(x.into_float_value())?,
                self.total_order_key(y.into_float_value())?,
                true,
            )
        } else {
            (x.into_int_value(), y.into_int_value(), d.is_signed_int())
        };
        let p = match (dir, signed) {
            (CmpDir::Eq, _) => IntPredicate::EQ,
            (CmpDir::Ne, _) => IntPredicate::NE,
            (CmpDir::Lt, true) => IntPredicate::SLT,
            (CmpDir::Le, true) => IntPredicate::SLE,
            (CmpDir::Gt, true) => IntPredicate::SGT,
            (CmpDir::Ge, true) => IntPredicate::SGE,
            (CmpDir::Lt, false) => IntPredicate::ULT,
            (CmpDir::Le, false) => IntPredicate::ULE,
            (CmpDir::Gt, false) => IntPredicate::UGT,
            (CmpDir::Ge, false) => IntPredicate::UGE,
        };
        bld(b.build_int_compare(p, ix, iy, "ic"))
    }

    /// A signed integer whose order is the IEEE total order of the float.
    fn total_order_key(&self, f: FloatValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.builder;
        let width = f.get_type().get_bit_width();
        let it = self.int_type(width);
        let i = bld(b.build_bit_cast(f, it, "ti"))?.into_int_value();
        let sign = bld(b.build_right_shift(i, it.const_int(width as u64 - 1, false), true, "sg"))?;
        let mask = bld(b.build_right_shift(sign, it.const_int(1, false), false, "mk"))?;
        bld(b.build_xor(i, mask, "key"))
    }

    /// Converts a compute value between dtypes with the interpreter's semantics.
    pub fn convert(
        &self,
        x: BasicValueEnum<'ctx>,
        from: DType,
        to: DType,
    ) -> R<BasicValueEnum<'ctx>> {
        let b = self.builder;
        if from == to {
            return Ok(x);
        }
        let to_t = self.compute_type(to);
        if to.is_bool() {
            return Ok(if from.is_float() {
                let f = x.into_float_value();
                bld(b.build_float_compare(FloatPredicate::UNE, f, f.get_type().const_zero(), "nz"))?
                    .into()
            } else {
                let i = x.into_int_value();
                bld(b.build_int_compare(IntPredicate::NE, i, i.get_type().const_zero(), "nz"))?
                    .into()
            });
        }
        let narrow_float = matches!(to, DType::F16 | DType::BF16);
        if from.is_float() && to.is_float() {
            if narrow_float && from == DType::F64 {
                return self.convert_helper(from, to, x);
            }
            let f = x.into_float_value();
            let ft = to_t.into_float_type();
            let v: BasicValueEnum = if f.get_type() == ft {
                f.into()
            } else if ft.get_bit_width() > f.get_type().get_bit_width() {
                bld(b.build_float_ext(f, ft, "fx"))?.into()
            } else {
                bld(b.build_float_trunc(f, ft, "ft"))?.into()
            };
            return self.round_to(v, to);
        }
        if from.is_float() {
            // Saturating, NaN -> 0: exactly LLVM's fptosi.sat / fptoui.sat.
            let name = if to.is_signed_int() {
                "llvm.fptosi.sat"
            } else {
                "llvm.fptoui.sat"
            };
            let f = self.intrinsic(name, &[to_t, x.get_type()])?;
            let call = bld(b.build_call(f, &[x.into()], "sat"))?;
            return Ok(call.try_as_basic_value().basic().expect("value"));
        }
        let i = x.into_int_value();
        let src_signed = from.is_signed_int();
        if to.is_float() {
            if narrow_float && from.bits() > 16 {
                return self.convert_helper(from, to, x);
            }
            let ft = to_t.into_float_type();
            let v = if src_signed {
                bld(b.build_signed_int_to_float(i, ft, "sf"))?
            } else {
                bld(b.build_unsigned_int_to_float(i, ft, "uf"))?
            };
            return self.round_to(v.into(), to);
        }
        let it = to_t.into_int_type();
        let from_bits = i.get_type().get_bit_width();
        Ok(if it.get_bit_width() > from_bits {
            if src_signed {
                bld(b.build_int_s_extend(i, it, "se"))?.into()
            } else {
                bld(b.build_int_z_extend(i, it, "ze"))?.into()
            }
        } else if it.get_bit_width() < from_bits {
            bld(b.build_int_truncate(i, it, "tr"))?.into()
        } else {
            i.into()
        })
    }

    /// Emits a scalar region `comp` applied to `args`; returns its results.
    pub fn region(
        &mut self,
        comp: CompId,
        args: &[BasicValueEnum<'ctx>],
    ) -> R<Vec<BasicValueEnum<'ctx>>> {
        let hlo = self.hlo;
        let c = hlo.computation(comp);
        let params: Vec<ParamSource> = args.iter().map(|&a| ParamSource::Scalar(a)).collect();
        let idx = Idx {
            id: self.fresh_id(),
            multi: vec![],
            linear: self.c64(0),
        };
        let mut out = Vec::with_capacity(c.results.len());
        for &r in &c.results {
            out.push(self.value(c, &params, r, &idx)?);
        }
        Ok(out)
    }

    /// The LLVM type of a pointer (opaque pointers: one type).
    pub fn ptr_type(&self) -> inkwell::types::PointerType<'ctx> {
        self.context.ptr_type(inkwell::AddressSpace::default())
    }

    /// A scalar type as a basic type, for callers building signatures.
    pub fn basic(&self, d: DType) -> BasicTypeEnum<'ctx> {
        self.compute_type(d).as_basic_type_enum()
    }
}

/// For `select(a == 0 | b == 0, a·b + 0, a·b)` over f32 (what `passes::simplify`
/// makes of a dot without contraction), the factors `a` and `b`.
fn signed_zero_product(comp: &Computation, select: &Instr) -> Option<(Value, Value)> {
    let &[pred, then, other] = select.operands.as_slice() else {
        return None;
    };
    if comp.shape(other).dtype != DType::F32 {
        return None;
    }
    let instr = |v: Value| &comp.instrs[v.instr];
    let binary = |v: Value, op: BinaryOp| -> Option<(Value, Value)> {
        let i = instr(v);
        (i.op == Op::Binary(op)).then(|| (i.operands[0], i.operands[1]))
    };
    // +0.0, or a broadcast of it.
    let positive_zero = |v: Value| -> bool {
        let mut i = instr(v);
        if let Op::BroadcastInDim { .. } = i.op {
            i = instr(i.operands[0]);
        }
        match &i.op {
            Op::Constant(lit) => {
                lit.num_elements() == 1 && {
                    let z = lit.data().get_f64(0);
                    z == 0.0 && z.is_sign_positive()
                }
            }
            _ => false,
        }
    };
    let is_zero_test = |v: Value| -> Option<Value> {
        let i = instr(v);
        match i.op {
            Op::Compare {
                dir: CmpDir::Eq,
                total_order: false,
            } if positive_zero(i.operands[1]) => Some(i.operands[0]),
            _ => None,
        }
    };
    let (a, b) = binary(other, BinaryOp::Mul)?;
    let (sum, zero) = binary(then, BinaryOp::Add)?;
    let (t0, t1) = binary(pred, BinaryOp::Or)?;
    let (z0, z1) = (is_zero_test(t0)?, is_zero_test(t1)?);
    let factors_tested = (z0, z1) == (a, b) || (z0, z1) == (b, a);
    (sum == other && positive_zero(zero) && factors_tested).then_some((a, b))
}
