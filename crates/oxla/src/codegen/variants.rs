//! Element functions with hand-written vector bodies ("vector variants").
//!
//! The elemental emitter writes scalar code and LLVM's loop vectorizer widens it.
//! Some operations have a much faster vector form that the vectorizer cannot derive
//! from scalar code: one that needs control flow across the lanes, or a target
//! instruction. Such an operation is emitted as a call of an internal scalar
//! function whose call site carries LLVM's vector-function-ABI attribute
//! (`_ZGV_LLVM_N16vvv_oxla_divr_f32(oxla_divr_f32_v16)`, ...), naming variants of
//! several widths defined in the same module. The loop vectorizer calls the variant
//! of the width it picks (its cost model weighs them like other calls); the CPU
//! backend's pass lists then run `always-inline` (every function here is
//! `alwaysinline`) and `globaldce` (the variants nobody called). The scalar body and
//! every variant compute bit-identical results, so vectorized, remainder and
//! first-tier (unvectorized) code agree.
//!
//! The operations: a division whose divisor is the same for a whole loop (a row
//! kernel dividing by a row's sum, or by a constant), see [`div_by_invariant`]; and
//! the exp family's `p·2^n` as AVX-512's `vscalef`, see [`scale`]. Explicit vector
//! code (the row kernels' folds) also gets an AVX-512 form of `maximum`/`minimum`
//! here, see [`max_min`].

use super::math::MathCx;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::BuilderError;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Linkage;
use inkwell::types::{FloatType, VectorType};
use inkwell::values::{
    BasicMetadataValueEnum, BasicValueEnum, FloatValue, FunctionValue, VectorValue,
};
use inkwell::{FloatPredicate, IntPredicate};

type R<T> = Result<T, String>;

fn be(e: BuilderError) -> String {
    format!("oxla codegen variants: {e}")
}

/// Vector widths of the generic variants: the vectorizer's main loop (16 f32 lanes
/// with AVX-512, 8 with AVX2) and its narrower epilogue loops.
const WIDTHS: [u32; 3] = [4, 8, 16];

/// `a / b` where `b` is the same for every iteration of the innermost loop around
/// the call (so LLVM hoists `1/b` out of it). Correctly rounded, like `fdiv`.
///
/// Vectorized, each lane computes Markstein's corrected quotient: with `r = 1/b`
/// correctly rounded, `q0 = a·r`, `e = a - q0·b` (exact, by fma) and `q1 = q0 + e·r`
/// is the correctly rounded `a/b`, given that nothing underflows or overflows: `r` is
/// a normal number (else it is replaced by NaN, and so `q1` is NaN), `q1` is finite,
/// and the residual `e` (about 2^-p·a) does not lose bits to underflow, which
/// `|q1| >= min_quotient` with `|b| >= min_divisor` guarantees. Where some lane fails
/// that check (including zero dividends, whose `q1` may have the wrong sign), the
/// whole vector is divided again with `fdiv`. One multiplication and two fmas replace
/// a division, which on x86 has an order of magnitude less throughput.
pub fn div_by_invariant<'ctx>(
    cx: &MathCx<'_, 'ctx>,
    a: FloatValue<'ctx>,
    b: FloatValue<'ctx>,
) -> R<FloatValue<'ctx>> {
    let ft = a.get_type();
    let limits = Limits::of(cx, ft)?;
    let bld = cx.builder;
    // The reciprocal, NaN outside the divisor range the vector check relies on.
    let recip = bld
        .build_float_div(ft.const_float(1.0), b, "recip")
        .map_err(be)?;
    let abs_b = intrinsic(cx, "llvm.fabs", &[b.into()])?.into_float_value();
    let in_range = |pred, limit: f64| {
        bld.build_float_compare(pred, abs_b, ft.const_float(limit), "")
            .map_err(be)
    };
    let ok = bld
        .build_and(
            in_range(FloatPredicate::OGE, limits.min_divisor)?,
            in_range(FloatPredicate::OLE, limits.max_divisor)?,
            "",
        )
        .map_err(be)?;
    let r = bld
        .build_select(ok, recip, ft.const_float(f64::NAN), "r")
        .map_err(be)?
        .into_float_value();
    let name = type_name("oxla_divr", cx, ft);
    call_with_variants(
        cx,
        &name,
        &[a, b, r],
        &WIDTHS,
        &|cx, args| {
            cx.builder
                .build_float_div(args[0], args[1], "q")
                .map_err(be)
        },
        &|cx, f, p| emit_divr_vector(cx, f, p, &limits),
    )
}

/// `p·2^n` for an integral float `n` (see `math.rs`'s `scale`), only on x86 with
/// AVX-512: the vector variants are one `vscalef` (a single rounding, like the
/// scalar code's two products, of which only the second rounds). There are
/// variants of 4, 8 and 16 f32 lanes and 2, 4 and 8 f64 lanes; a loop vectorized
/// wider calls the scalar function per lane, which LLVM's cost model avoids.
pub fn scale<'ctx>(
    cx: &MathCx<'_, 'ctx>,
    p: FloatValue<'ctx>,
    n: FloatValue<'ctx>,
) -> R<FloatValue<'ctx>> {
    let ft = p.get_type();
    let widths: &[u32] = if ft == cx.context.f64_type() {
        &[2, 4, 8]
    } else {
        &[4, 8, 16]
    };
    call_with_variants(
        cx,
        &type_name("oxla_scale", cx, ft),
        &[p, n],
        widths,
        &|cx, args| super::math::emit_scale_inline(cx, args[0], args[1]),
        &emit_scalef,
    )
}

/// The vector body of `scale`: AVX-512's `vscalef` of the vector's width.
fn emit_scalef<'ctx>(
    cx: &MathCx<'_, 'ctx>,
    _f: FunctionValue<'ctx>,
    p: &[VectorValue<'ctx>],
) -> R<VectorValue<'ctx>> {
    avx512_masked(cx, "scalef", &[p[0].into(), p[1].into()], p[0])?.ok_or_else(|| {
        format!(
            "oxla codegen variants: no vscalef of {} lanes",
            p[0].get_type().get_size()
        )
    })
}

/// Calls AVX-512's `llvm.x86.avx512.mask.<op>.<ps|pd>.<bits>` for vectors of
/// `src`'s type with every lane enabled: `args`, then `src` (the pass-through for
/// disabled lanes), the mask and, in the 512-bit forms, the rounding argument
/// (the MXCSR mode). `None` where the width has no such instruction.
fn avx512_masked<'ctx>(
    cx: &MathCx<'_, 'ctx>,
    op: &str,
    args: &[BasicMetadataValueEnum<'ctx>],
    src: VectorValue<'ctx>,
) -> R<Option<VectorValue<'ctx>>> {
    let vt = src.get_type();
    let lanes = vt.get_size();
    let wide = vt.get_element_type() == cx.context.f64_type().into();
    let bits = lanes * if wide { 64 } else { 32 };
    if !matches!(bits, 128 | 256 | 512) {
        return Ok(None);
    }
    let name = format!(
        "llvm.x86.avx512.mask.{op}.{}.{bits}",
        if wide { "pd" } else { "ps" }
    );
    let decl = Intrinsic::find(&name)
        .and_then(|i| i.get_declaration(cx.module, &[]))
        .ok_or_else(|| format!("oxla codegen variants: no intrinsic {name}"))?;
    let all_lanes = if lanes == 16 {
        cx.context.i16_type().const_all_ones()
    } else {
        cx.context.i8_type().const_all_ones()
    };
    let mut call_args = args.to_vec();
    call_args.extend::<[BasicMetadataValueEnum; 2]>([src.into(), all_lanes.into()]);
    if bits == 512 {
        // _MM_FROUND_CUR_DIRECTION.
        call_args.push(cx.context.i32_type().const_int(4, false).into());
    }
    let r = cx
        .builder
        .build_call(decl, &call_args, op)
        .map_err(be)?
        .try_as_basic_value()
        .basic()
        .ok_or_else(|| format!("oxla codegen variants: {name} returned nothing"))?;
    Ok(Some(r.into_vector_value()))
}

/// The ranges the fast division relies on, for one float type of precision p:
/// `|a| >= min_quotient·min_divisor` keeps the residual's last bit (about 2^-2p·a)
/// above the smallest subnormal, and `max_divisor` keeps `1/b` normal.
struct Limits {
    min_divisor: f64,
    max_divisor: f64,
    min_quotient: f64,
    /// The largest finite number.
    max: f64,
}

impl Limits {
    fn of(cx: &MathCx<'_, '_>, ft: FloatType<'_>) -> R<Limits> {
        if ft == cx.context.f32_type() {
            // |a| >= 2^-98 > 2^(-149 + 2·24 + 2).
            Ok(Limits {
                min_divisor: 2f64.powi(-28),
                max_divisor: 2f64.powi(126),
                min_quotient: 2f64.powi(-70),
                max: f32::MAX as f64,
            })
        } else if ft == cx.context.f64_type() {
            // |a| >= 2^-965 > 2^(-1074 + 2·53 + 2).
            Ok(Limits {
                min_divisor: 2f64.powi(-57),
                max_divisor: 2f64.powi(1022),
                min_quotient: 2f64.powi(-908),
                max: f64::MAX,
            })
        } else {
            Err(format!(
                "oxla codegen variants: expected f32 or f64, got {}",
                ft.print_to_string()
            ))
        }
    }
}

/// `base` with the float type's suffix.
fn type_name(base: &str, cx: &MathCx<'_, '_>, ft: FloatType<'_>) -> String {
    let suffix = if ft == cx.context.f64_type() {
        "f64"
    } else {
        "f32"
    };
    format!("{base}_{suffix}")
}

/// The scalar body of a variant function: the builder is positioned in its entry.
type ScalarBody<'b, 'ctx> =
    &'b dyn Fn(&MathCx<'_, 'ctx>, &[FloatValue<'ctx>]) -> R<FloatValue<'ctx>>;
/// The vector body of one width: the builder is positioned in the entry block of
/// `f` (which it may add blocks to), the parameters are vectors of one type.
type VectorBody<'b, 'ctx> = &'b dyn Fn(
    &MathCx<'_, 'ctx>,
    FunctionValue<'ctx>,
    &[VectorValue<'ctx>],
) -> R<VectorValue<'ctx>>;

/// Calls the function `name` (all arguments and the result of one float type),
/// defining it and its variants of `widths` lanes on first use.
fn call_with_variants<'ctx>(
    cx: &MathCx<'_, 'ctx>,
    name: &str,
    args: &[FloatValue<'ctx>],
    widths: &[u32],
    scalar: ScalarBody<'_, 'ctx>,
    vector: VectorBody<'_, 'ctx>,
) -> R<FloatValue<'ctx>> {
    let ft = args[0].get_type();
    let variant = |w: u32| format!("{name}_v{w}");
    let f = match cx.module.get_function(name) {
        Some(f) => f,
        None => {
            // A builder of its own: the caller's stays where it is.
            let bld = cx.context.create_builder();
            let body_cx = MathCx {
                builder: &bld,
                ..*cx
            };
            let params: Vec<_> = args.iter().map(|_| ft.into()).collect();
            let f = define(cx, name, ft.fn_type(&params, false))?;
            bld.position_at_end(cx.context.append_basic_block(f, "entry"));
            let p: Vec<FloatValue> = f.get_param_iter().map(|v| v.into_float_value()).collect();
            let r = scalar(&body_cx, &p)?;
            bld.build_return(Some(&r)).map_err(be)?;
            for &w in widths {
                let vt = ft.vec_type(w);
                let params: Vec<_> = args.iter().map(|_| vt.into()).collect();
                let v = define(cx, &variant(w), vt.fn_type(&params, false))?;
                bld.position_at_end(cx.context.append_basic_block(v, "entry"));
                let p: Vec<VectorValue> =
                    v.get_param_iter().map(|x| x.into_vector_value()).collect();
                let r = vector(&body_cx, v, &p)?;
                bld.build_return(Some(&r)).map_err(be)?;
            }
            f
        }
    };
    let call_args: Vec<BasicMetadataValueEnum> = args.iter().map(|&a| a.into()).collect();
    let call = cx.builder.build_call(f, &call_args, "").map_err(be)?;
    let vs = "v".repeat(args.len());
    let mappings: Vec<String> = widths
        .iter()
        .map(|&w| format!("_ZGV_LLVM_N{w}{vs}_{name}({})", variant(w)))
        .collect();
    let attr = cx
        .context
        .create_string_attribute("vector-function-abi-variant", &mappings.join(","));
    call.add_attribute(AttributeLoc::Function, attr);
    call.try_as_basic_value()
        .basic()
        .map(|v| v.into_float_value())
        .ok_or_else(|| format!("oxla codegen variants: {name} returned nothing"))
}

/// Declares an internal, always-inlined, side-effect-free function.
fn define<'ctx>(
    cx: &MathCx<'_, 'ctx>,
    name: &str,
    ty: inkwell::types::FunctionType<'ctx>,
) -> R<FunctionValue<'ctx>> {
    let f = cx.module.add_function(name, ty, Some(Linkage::Internal));
    for (attr, value) in [
        ("alwaysinline", 0),
        ("nounwind", 0),
        ("willreturn", 0),
        ("nosync", 0),
        ("memory", 0), // memory(none)
    ] {
        let kind = Attribute::get_named_enum_kind_id(attr);
        if kind == 0 {
            return Err(format!("oxla codegen variants: no LLVM attribute {attr}"));
        }
        f.add_attribute(
            AttributeLoc::Function,
            cx.context.create_enum_attribute(kind, value),
        );
    }
    Ok(f)
}

/// The vector body of `divr`: Markstein's quotient, or `fdiv` of the whole vector
/// when a lane needs it (see [`div_by_invariant`]).
fn emit_divr_vector<'ctx>(
    cx: &MathCx<'_, 'ctx>,
    f: FunctionValue<'ctx>,
    p: &[VectorValue<'ctx>],
    limits: &Limits,
) -> R<VectorValue<'ctx>> {
    let bld = cx.builder;
    let entry = bld
        .get_insert_block()
        .ok_or("divr: builder not positioned")?;
    let slow = cx.context.append_basic_block(f, "slow");
    let done = cx.context.append_basic_block(f, "done");
    let (a, b, r) = (p[0], p[1], p[2]);
    let vt = a.get_type();
    let splat = |x: f64| -> VectorValue<'ctx> {
        let ft = vt.get_element_type().into_float_type();
        VectorType::const_vector(&vec![ft.const_float(x); vt.get_size() as usize])
    };
    let q0 = bld.build_float_mul(a, r, "q0").map_err(be)?;
    let nq0 = bld.build_float_neg(q0, "nq0").map_err(be)?;
    let e = intrinsic(cx, "llvm.fma", &[nq0.into(), b.into(), a.into()])?.into_vector_value();
    let q1 = intrinsic(cx, "llvm.fma", &[e.into(), r.into(), q0.into()])?.into_vector_value();
    let cmp = |pred, x: VectorValue<'ctx>, c: f64| {
        bld.build_float_compare(pred, x, splat(c), "").map_err(be)
    };
    let abs_q1 = intrinsic(cx, "llvm.fabs", &[q1.into()])?.into_vector_value();
    // Ordered compares: NaN lanes fail them.
    let covered = bld
        .build_and(
            cmp(FloatPredicate::OGE, abs_q1, limits.min_quotient)?,
            cmp(FloatPredicate::OLE, abs_q1, limits.max)?,
            "covered",
        )
        .map_err(be)?;
    let lanes = vt.get_size();
    let mask_ty = std::num::NonZeroU32::new(lanes)
        .and_then(|n| cx.context.custom_width_int_type(n).ok())
        .ok_or("oxla codegen variants: no lane mask type")?;
    let covered_bits = bld
        .build_bit_cast(covered, mask_ty, "")
        .map_err(be)?
        .into_int_value();
    let all = bld
        .build_int_compare(
            IntPredicate::EQ,
            covered_bits,
            mask_ty.const_all_ones(),
            "all",
        )
        .map_err(be)?;
    bld.build_conditional_branch(all, done, slow).map_err(be)?;
    bld.position_at_end(slow);
    let exact = bld.build_float_div(a, b, "exact").map_err(be)?;
    bld.build_unconditional_branch(done).map_err(be)?;
    bld.position_at_end(done);
    let phi = bld.build_phi(vt, "q").map_err(be)?;
    phi.add_incoming(&[(&q1, entry), (&exact, slow)]);
    Ok(phi.as_basic_value().into_vector_value())
}

/// Calls the LLVM intrinsic `name` overloaded on its first argument's type.
fn intrinsic<'ctx>(
    cx: &MathCx<'_, 'ctx>,
    name: &str,
    args: &[BasicValueEnum<'ctx>],
) -> R<BasicValueEnum<'ctx>> {
    let decl = Intrinsic::find(name)
        .and_then(|i| i.get_declaration(cx.module, &[args[0].get_type()]))
        .ok_or_else(|| format!("oxla codegen variants: no intrinsic {name}"))?;
    let args: Vec<BasicMetadataValueEnum> = args.iter().map(|&a| a.into()).collect();
    cx.builder
        .build_call(decl, &args, "")
        .map_err(be)?
        .try_as_basic_value()
        .basic()
        .ok_or_else(|| format!("oxla codegen variants: {name} returned nothing"))
}

/// IEEE `maximum` (or `minimum`) of two float vectors, with AVX-512 DQ's `vrange`
/// where the width has one (else `None`): `vrange` orders -0 below +0 as `maximum`
/// does but drops NaNs, so lanes where either side is NaN take `x + y`, a NaN (x86
/// returns the first NaN operand: `x`'s if both are). Three instructions instead
/// of LLVM's six for `llvm.maximum`. `x` is the running accumulator in folds.
pub fn max_min<'ctx>(
    cx: &MathCx<'_, 'ctx>,
    max: bool,
    x: VectorValue<'ctx>,
    y: VectorValue<'ctx>,
) -> R<Option<VectorValue<'ctx>>> {
    if !cx.x86_avx512 {
        return Ok(None);
    }
    // imm8: bits 1:0 pick min (00) or max (01); bits 3:2 = 01 take the sign from
    // the comparison's result.
    let imm = cx
        .context
        .i32_type()
        .const_int(if max { 0b0101 } else { 0b0100 }, false);
    let Some(ranged) = avx512_masked(cx, "range", &[x.into(), y.into(), imm.into()], x)? else {
        return Ok(None);
    };
    let bld = cx.builder;
    let nan = bld
        .build_float_compare(FloatPredicate::UNO, x, y, "nan")
        .map_err(be)?;
    let sum = bld.build_float_add(x, y, "nan_of").map_err(be)?;
    Ok(Some(
        bld.build_select(nan, sum, ranged, "maxmin")
            .map_err(be)?
            .into_vector_value(),
    ))
}
