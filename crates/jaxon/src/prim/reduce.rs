//! Reductions: reduce_sum / max / min / prod / and / or / xor, argmax / argmin.
//!
//! Each primitive's jvp / transpose / batch rules sit in its `impl Primitive`.

use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{
    tuple_text, BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult,
};
use crate::core::trace::bind1;
use crate::lax;
use oxla::{BinaryOp, Builder, CmpDir, DType, Literal, Shape, Value};

/// Which monoid a reduction folds with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    Sum,
    Max,
    Min,
    Prod,
    And,
    Or,
    Xor,
}

/// `reduce_<kind>[axes]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reduce {
    pub kind: ReduceKind,
    pub axes: Vec<usize>,
}

fn reduced_shape(x: &Aval, axes: &[usize]) -> Result<Vec<usize>, String> {
    for (i, &a) in axes.iter().enumerate() {
        if a >= x.ndim() || axes[..i].contains(&a) {
            return Err(format!("invalid axes {axes:?} for shape {:?}", x.shape));
        }
    }
    Ok((0..x.ndim())
        .filter(|d| !axes.contains(d))
        .map(|d| x.shape[d])
        .collect())
}

/// The identity element of a reduction, as a 0-d literal of `dtype`.
pub fn identity_literal(kind: ReduceKind, dtype: DType) -> Literal {
    use ReduceKind::*;
    match (kind, dtype.is_float()) {
        (Sum | Or | Xor, _) => Literal::scalar_i128(dtype, 0),
        (Prod | And, _) if dtype.is_bool() => Literal::scalar_i128(dtype, 1),
        (And, _) => Literal::scalar_i128(dtype, -1),
        (Prod, _) => Literal::scalar_i128(dtype, 1),
        (Max, true) => Literal::scalar_f64(dtype, f64::NEG_INFINITY),
        (Min, true) => Literal::scalar_f64(dtype, f64::INFINITY),
        (Max, false) => Literal::scalar_i128(dtype, int_bounds(dtype).0),
        (Min, false) => Literal::scalar_i128(dtype, int_bounds(dtype).1),
    }
}

/// (min, max) of an integer or bool dtype.
pub fn int_bounds(dtype: DType) -> (i128, i128) {
    if dtype.is_bool() {
        return (0, 1);
    }
    let bits = dtype.bits();
    if dtype.is_signed_int() {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// The binary op folding a reduction (bool max/min are or/and).
pub fn combiner(kind: ReduceKind, dtype: DType) -> BinaryOp {
    use ReduceKind::*;
    match (kind, dtype.is_bool()) {
        (Sum, _) => BinaryOp::Add,
        (Prod, _) => BinaryOp::Mul,
        (Max, true) | (Or, _) => BinaryOp::Or,
        (Min, true) | (And, _) => BinaryOp::And,
        (Max, false) => BinaryOp::Max,
        (Min, false) => BinaryOp::Min,
        (Xor, _) => BinaryOp::Xor,
    }
}

/// Lowers a monoid reduction of `x` over `axes`.
pub fn lower_reduce(b: &mut Builder, kind: ReduceKind, x: Value, axes: &[usize]) -> Value {
    let dtype = b.shape(x).dtype;
    let init = b.constant(identity_literal(kind, dtype));
    let body = b.scalar_binary_region(combiner(kind, dtype), dtype);
    b.reduce(&[x], &[init], axes, body)[0]
}

impl Primitive for Reduce {
    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let x = &primals[0];
        let ans = reduce(x, self.kind, &self.axes);
        let Some(t) = &tangents[0] else {
            return Ok((vec![ans], vec![None]));
        };
        let kept: Vec<usize> = (0..x.ndim()).filter(|d| !self.axes.contains(d)).collect();
        let tout = match self.kind {
            ReduceKind::Sum => Some(reduce_sum(t, &self.axes)),
            ReduceKind::Max | ReduceKind::Min => {
                // Ties share the derivative evenly (JAX's "chooser" rule).
                let ans_b = lax::broadcast_in_dim(&ans, x.shape(), &kept);
                let loc = lax::convert_element_type(&lax::eq(x, &ans_b), x.dtype());
                let num = reduce_sum(&lax::mul(t, &loc), &self.axes);
                Some(lax::div(&num, &reduce_sum(&loc, &self.axes)))
            }
            ReduceKind::Prod => Some(prod_jvp(x, t, &self.axes)),
            _ => None,
        };
        Ok((vec![ans], vec![tout]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        if self.kind != ReduceKind::Sum {
            return Err(crate::core::primitive::no_rule(
                self.name(),
                "transpose (it is not linear)",
            ));
        }
        let shape = args[0].aval().shape;
        let kept: Vec<usize> = (0..shape.len())
            .filter(|d| !self.axes.contains(d))
            .collect();
        Ok(vec![cts[0]
            .as_ref()
            .map(|ct| lax::broadcast_in_dim(ct, &shape, &kept))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], _size: usize) -> RuleResult<BatchOut> {
        let b = dims[0].expect("a batched operand");
        let (axes, out_dim) = shift_axes(&self.axes, b);
        Ok((
            vec![reduce(&args[0], self.kind, &axes)],
            vec![Some(out_dim)],
        ))
    }

    fn name(&self) -> &'static str {
        match self.kind {
            ReduceKind::Sum => "reduce_sum",
            ReduceKind::Max => "reduce_max",
            ReduceKind::Min => "reduce_min",
            ReduceKind::Prod => "reduce_prod",
            ReduceKind::And => "reduce_and",
            ReduceKind::Or => "reduce_or",
            ReduceKind::Xor => "reduce_xor",
        }
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("axes", tuple_text(&self.axes))]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [x] = inputs else {
            return Err(format!("expects 1 operand, got {}", inputs.len()));
        };
        let bad = match self.kind {
            ReduceKind::And | ReduceKind::Or | ReduceKind::Xor => x.dtype.is_float(),
            _ => false,
        };
        if bad {
            return Err(format!("needs an integer or bool dtype, got {}", x.dtype));
        }
        Ok(vec![x.with_shape(reduced_shape(x, &self.axes)?)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        vec![lower_reduce(ctx.b, self.kind, args[0], &self.axes)]
    }
}

/// Reduces `x` over `axes` with `kind`.
#[track_caller]
pub fn reduce(x: &Array, kind: ReduceKind, axes: &[usize]) -> Array {
    bind1(
        Reduce {
            kind,
            axes: axes.to_vec(),
        },
        std::slice::from_ref(x),
    )
}

macro_rules! reduce_fns {
    ($($name:ident => $kind:expr;)*) => {$(
        #[track_caller]
        pub fn $name(x: &Array, axes: &[usize]) -> Array {
            reduce(x, $kind, axes)
        }
    )*};
}

reduce_fns! {
    reduce_sum => ReduceKind::Sum;
    reduce_max => ReduceKind::Max;
    reduce_min => ReduceKind::Min;
    reduce_prod => ReduceKind::Prod;
    reduce_and => ReduceKind::And;
    reduce_or => ReduceKind::Or;
    reduce_xor => ReduceKind::Xor;
}

// ---- argmax / argmin --------------------------------------------------------------

/// `argmax[axes=(k,), index_dtype]` / `argmin`: the first extreme index; NaN counts
/// as the extreme (so the first NaN wins).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArgMinMax {
    pub is_max: bool,
    pub axis: usize,
    pub index_dtype: DType,
}

impl Primitive for ArgMinMax {
    fn jvp(&self, primals: &[Array], _tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        Ok((vec![bind1(self.clone(), primals)], vec![None]))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], _size: usize) -> RuleResult<BatchOut> {
        let b = dims[0].expect("a batched operand");
        let (axes, out_dim) = shift_axes(&[self.axis], b);
        let p = ArgMinMax {
            axis: axes[0],
            ..self.clone()
        };
        Ok((vec![bind1(p, &args[..1])], vec![Some(out_dim)]))
    }

    fn name(&self) -> &'static str {
        if self.is_max {
            "argmax"
        } else {
            "argmin"
        }
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("axes", tuple_text(&[self.axis])),
            ("index_dtype", self.index_dtype.numpy_name().into()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [x] = inputs else {
            return Err(format!("expects 1 operand, got {}", inputs.len()));
        };
        if !self.index_dtype.is_int() {
            return Err(format!(
                "index_dtype must be an integer type, got {}",
                self.index_dtype
            ));
        }
        if self.axis < x.ndim() && x.shape[self.axis] == 0 {
            return Err(format!(
                "attempt to get {} of an empty axis {} of shape {:?}",
                self.name(),
                self.axis,
                x.shape
            ));
        }
        let shape = reduced_shape(x, &[self.axis])?;
        Ok(vec![Aval::new(shape, self.index_dtype)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let x = args[0];
        let xs = ctx.b.shape(x).clone();
        let idx = ctx
            .b
            .iota(Shape::new(self.index_dtype, xs.dims.clone()), self.axis);
        let init_v = ctx.b.constant(identity_literal(
            if self.is_max {
                ReduceKind::Max
            } else {
                ReduceKind::Min
            },
            xs.dtype,
        ));
        let init_i = ctx.b.constant_i128(self.index_dtype, 0);
        let is_max = self.is_max;
        let (vs, is) = (Shape::scalar(xs.dtype), Shape::scalar(self.index_dtype));
        let body = ctx.b.region(
            if is_max { "argmax" } else { "argmin" },
            &[vs.clone(), is.clone(), vs, is],
            |b, p| {
                let (av, ai, bv, bi) = (p[0], p[1], p[2], p[3]);
                let a_nan = b.compare(CmpDir::Ne, av, av);
                let b_nan = b.compare(CmpDir::Ne, bv, bv);
                let a_first = b.compare(CmpDir::Lt, ai, bi);
                let better = b.compare(if is_max { CmpDir::Gt } else { CmpDir::Lt }, av, bv);
                let equal = b.compare(CmpDir::Eq, av, bv);
                // a wins: a NaN and (b not NaN or a first); or neither NaN and
                // (a better, or equal and a first).
                let not_b_nan = b.unary(oxla::UnaryOp::Not, b_nan);
                let b_nan_or_first = b.binary(BinaryOp::Or, not_b_nan, a_first);
                let nan_case = b.binary(BinaryOp::And, a_nan, b_nan_or_first);
                let tie = b.binary(BinaryOp::And, equal, a_first);
                let better_or_tie = b.binary(BinaryOp::Or, better, tie);
                let not_a_nan = b.unary(oxla::UnaryOp::Not, a_nan);
                let neither = b.binary(BinaryOp::And, not_a_nan, not_b_nan);
                let plain_case = b.binary(BinaryOp::And, neither, better_or_tie);
                let a_wins = b.binary(BinaryOp::Or, nan_case, plain_case);
                vec![b.select(a_wins, av, bv), b.select(a_wins, ai, bi)]
            },
        );
        let outs = ctx
            .b
            .reduce(&[x, idx], &[init_v, init_i], &[self.axis], body);
        vec![outs[1]]
    }
}

/// Index of the first maximum along `axis`.
#[track_caller]
pub fn argmax(x: &Array, axis: usize, index_dtype: DType) -> Array {
    bind1(
        ArgMinMax {
            is_max: true,
            axis,
            index_dtype,
        },
        std::slice::from_ref(x),
    )
}

/// Index of the first minimum along `axis`.
#[track_caller]
pub fn argmin(x: &Array, axis: usize, index_dtype: DType) -> Array {
    bind1(
        ArgMinMax {
            is_max: false,
            axis,
            index_dtype,
        },
        std::slice::from_ref(x),
    )
}

/// Reduction axes of the per-example value mapped into the batched value whose batch
/// dim is `bdim`, and the batch dim of the result.
pub fn shift_axes(axes: &[usize], bdim: usize) -> (Vec<usize>, usize) {
    let mut shifted = Vec::with_capacity(axes.len());
    for &a in axes {
        shifted.push(if a >= bdim { a + 1 } else { a });
    }
    let out = bdim - shifted.iter().filter(|&&a| a < bdim).count();
    (shifted, out)
}

/// JAX's reduce_prod JVP: the reduced axes are moved to the front and flattened,
/// and a pairwise multiplication tree (mul, slice and pad only, so derivatives of
/// any order and batching follow) is differentiated.
fn prod_jvp(x: &Array, t: &Array, axes: &[usize]) -> Array {
    let kept: Vec<usize> = (0..x.ndim()).filter(|d| !axes.contains(d)).collect();
    let mut perm = axes.to_vec();
    perm.extend_from_slice(&kept);
    let n: usize = axes.iter().map(|&d| x.shape()[d]).product();
    let mut flat = vec![n];
    flat.extend(kept.iter().map(|&d| x.shape()[d]));
    let prep = |v: &Array| lax::reshape(&lax::transpose(v, &perm), &flat);
    let out_shape = flat[1..].to_vec();
    let tree = |xs: &[Array]| vec![prod_tree(&xs[0], &out_shape)];
    let (_, mut touts) = crate::transform::jvp::jvp_flat(tree, &[prep(x)], &[prep(t)]);
    touts.remove(0)
}

/// The product over axis 0 by repeatedly multiplying the two halves.
fn prod_tree(x: &Array, out_shape: &[usize]) -> Array {
    let one = lax::full_like_scalar(x, 1.0);
    let mut x = x.clone();
    while x.shape()[0] > 1 {
        let n = x.shape()[0];
        let n1 = n.div_ceil(2);
        let a = lax::slice_in_dim(&x, 0, n1, 1, 0);
        let mut b = lax::slice_in_dim(&x, n1, n, 1, 0);
        if n - n1 != n1 {
            let mut cfg = vec![(0, 0, 0); x.ndim()];
            cfg[0] = (0, 1, 0);
            b = lax::pad(&b, &one, &cfg);
        }
        x = lax::mul(&a, &b);
    }
    if x.shape()[0] == 0 {
        return lax::broadcast_in_dim(&one, out_shape, &[]);
    }
    lax::reshape(&x, out_shape)
}
