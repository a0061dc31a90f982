//! Windowed reductions `reduce_window_sum/max/min[window_dimensions, window_strides,
//! padding, base_dilation, window_dilation]`, and the cumulative primitives
//! `cumsum`, `cumprod`, `cummax`, `cummin`, `cumlogsumexp` `[axis, reverse]`.
//!
//! A cumulative op lowers to a reduce_window whose window spans the whole axis, padded
//! by `n - 1` identity elements in front (or behind, for `reverse`): output i folds
//! elements `0..=i` (or `i..n`).
//!
//! Rules: reduce_window_sum and cumsum are linear (transposes: pad the cotangent and
//! reduce_window_sum it, as JAX does; cumsum in the other direction). The
//! reduce_window_max/min JVP picks the tangent at the first position of each
//! window holding the result (select_and_gather_add semantics). The cumprod /
//! cummax / cummin / cumlogsumexp JVPs run a log-depth (Hillis–Steele) scan on
//! (value, tangent) pairs with the JVP of the combining op (max ties split evenly,
//! as lax.max's JVP does). Batching shifts the window / axis past the batch dim.

use super::conv::{window_out_size, Padding};
use super::reduce::{combiner, identity_literal, ReduceKind};
use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{
    no_rule, tuple_text, BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult,
};
use crate::core::trace::bind1;
use crate::error::user_error;
use crate::lax;
use oxla::{BinaryOp, Builder, CmpDir, CompId, DType, Literal, Op, Shape, UnaryOp, Value};

// ---- reduce_window_{sum,max,min} --------------------------------------------------

/// `reduce_window_sum` / `reduce_window_max` / `reduce_window_min`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReduceWindow {
    /// `Sum`, `Max` or `Min`.
    pub kind: ReduceKind,
    pub window_dimensions: Vec<usize>,
    pub window_strides: Vec<usize>,
    pub padding: Vec<(i64, i64)>,
    pub base_dilation: Vec<usize>,
    pub window_dilation: Vec<usize>,
}

impl ReduceWindow {
    fn out_shape(&self, x: &[usize]) -> Result<Vec<usize>, String> {
        let r = x.len();
        for (name, v) in [
            ("window_dimensions", &self.window_dimensions),
            ("window_strides", &self.window_strides),
            ("base_dilation", &self.base_dilation),
            ("window_dilation", &self.window_dilation),
        ] {
            if v.len() != r {
                return Err(format!(
                    "{name} {v:?} must have one entry per operand dim (shape {x:?})"
                ));
            }
            if v.contains(&0) {
                return Err(format!("{name} must be >= 1, got {v:?}"));
            }
        }
        if self.padding.len() != r {
            return Err(format!(
                "padding {:?} must have one (low, high) pair per operand dim (shape {x:?})",
                self.padding
            ));
        }
        (0..r)
            .map(|i| {
                window_out_size(
                    x[i],
                    self.padding[i],
                    self.base_dilation[i],
                    self.window_dimensions[i],
                    self.window_dilation[i],
                    self.window_strides[i],
                )
                .map_err(|e| format!("dim {i}: {e} (operand shape {x:?})"))
            })
            .collect()
    }
}

impl Primitive for ReduceWindow {
    fn name(&self) -> &'static str {
        match self.kind {
            ReduceKind::Max => "reduce_window_max",
            ReduceKind::Min => "reduce_window_min",
            _ => "reduce_window_sum",
        }
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let pads: Vec<String> = self
            .padding
            .iter()
            .map(|(l, h)| format!("({l}, {h})"))
            .collect();
        vec![
            ("window_dimensions", tuple_text(&self.window_dimensions)),
            ("window_strides", tuple_text(&self.window_strides)),
            ("padding", tuple_text(&pads)),
            ("base_dilation", tuple_text(&self.base_dilation)),
            ("window_dilation", tuple_text(&self.window_dilation)),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [x] = inputs else {
            return Err(format!("expects 1 operand, got {}", inputs.len()));
        };
        if !matches!(
            self.kind,
            ReduceKind::Sum | ReduceKind::Max | ReduceKind::Min
        ) {
            return Err(format!("unsupported reduction {:?}", self.kind));
        }
        if self.kind == ReduceKind::Sum && x.dtype.is_bool() {
            return Err("does not accept bool operands".into());
        }
        Ok(vec![x.with_shape(self.out_shape(&x.shape)?)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let dtype = ctx.in_avals[0].dtype;
        let init = ctx.b.constant(identity_literal(self.kind, dtype));
        let body = ctx
            .b
            .scalar_binary_region(combiner(self.kind, dtype), dtype);
        vec![ctx.b.add(
            Op::ReduceWindow {
                window: self.window_dimensions.clone(),
                strides: self.window_strides.clone(),
                base_dilation: self.base_dilation.clone(),
                window_dilation: self.window_dilation.clone(),
                padding: self.padding.clone(),
                body,
            },
            &[args[0], init],
        )]
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let x = &primals[0];
        let ans = bind1(self.clone(), primals);
        let Some(t) = &tangents[0] else {
            return Ok((vec![ans], vec![None]));
        };
        let dt = match self.kind {
            ReduceKind::Sum => bind1(self.clone(), std::slice::from_ref(t)),
            _ => self.chooser_tangent(x, t, &ans),
        };
        Ok((vec![ans], vec![Some(dt)]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        if self.kind != ReduceKind::Sum {
            return Err(no_rule(self.name(), "transpose (it is not linear)"));
        }
        let Some(ct) = &cts[0] else {
            return Ok(vec![None]);
        };
        let in_shape = args[0].aval().shape;
        let r = in_shape.len();
        let pads = super::conv::conv_vjp_lhs_padding(
            &in_shape,
            &self.window_dimensions,
            &self.window_strides,
            ct.shape(),
            &self.padding,
            &self.base_dilation,
            &self.window_dilation,
        );
        let cfg: Vec<(i64, i64, usize)> = pads
            .iter()
            .zip(&self.window_strides)
            .map(|(&(lo, hi), &s)| (lo, hi, s - 1))
            .collect();
        let padded = lax::pad(ct, &lax::full_like_scalar(ct, 0.0), &cfg);
        let prim = ReduceWindow {
            kind: ReduceKind::Sum,
            window_dimensions: self.window_dimensions.clone(),
            window_strides: self.base_dilation.clone(),
            padding: vec![(0, 0); r],
            base_dilation: vec![1; r],
            window_dilation: self.window_dilation.clone(),
        };
        Ok(vec![Some(bind1(prim, &[padded]))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], _size: usize) -> RuleResult<BatchOut> {
        let b = dims[0].ok_or("reduce_window batching rule: the operand is not batched")?;
        let mut p = self.clone();
        p.window_dimensions.insert(b, 1);
        p.window_strides.insert(b, 1);
        p.padding.insert(b, (0, 0));
        p.base_dilation.insert(b, 1);
        p.window_dilation.insert(b, 1);
        Ok((vec![bind1(p, &args[..1])], vec![Some(b)]))
    }
}

impl ReduceWindow {
    /// The tangent of a max/min window reduction: per window, the tangent at the
    /// first position (row-major) whose value equals the result. Each window offset
    /// is a strided slice of the padded operand; offsets are visited last to first so
    /// that the first match wins.
    fn chooser_tangent(&self, x: &Array, t: &Array, ans: &Array) -> Array {
        let ident = if self.kind == ReduceKind::Max {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        let cfg: Vec<(i64, i64, usize)> = self
            .padding
            .iter()
            .zip(&self.base_dilation)
            .map(|(&(lo, hi), &bd)| (lo, hi, bd - 1))
            .collect();
        let xp = lax::pad(x, &lax::full_like_scalar(x, ident), &cfg);
        let tp = lax::pad(t, &lax::full_like_scalar(t, 0.0), &cfg);
        let out = ans.shape().to_vec();
        let mut res = crate::transform::rules::zeros_like(ans);
        let total: usize = self.window_dimensions.iter().product();
        for flat in (0..total).rev() {
            // The window offset of this flat (row-major) index.
            let mut rem = flat;
            let mut start = vec![0; out.len()];
            for i in (0..out.len()).rev() {
                let w = self.window_dimensions[i];
                start[i] = (rem % w) * self.window_dilation[i];
                rem /= w;
            }
            let limit: Vec<usize> = (0..out.len())
                .map(|i| match out[i] {
                    0 => start[i],
                    o => start[i] + (o - 1) * self.window_strides[i] + 1,
                })
                .collect();
            let strides = Some(&self.window_strides[..]);
            let xk = lax::slice(&xp, &start, &limit, strides);
            let tk = lax::slice(&tp, &start, &limit, strides);
            res = lax::select(&lax::eq(&xk, ans), &tk, &res);
        }
        res
    }
}

#[track_caller]
#[allow(clippy::too_many_arguments)]
fn reduce_window_kind(
    op: &str,
    kind: ReduceKind,
    x: &Array,
    window_dimensions: &[usize],
    window_strides: &[usize],
    padding: Padding,
    base_dilation: Option<&[usize]>,
    window_dilation: Option<&[usize]>,
) -> Array {
    let r = x.ndim();
    let ones = || vec![1; r];
    let base_dilation = base_dilation.map_or_else(ones, <[usize]>::to_vec);
    let window_dilation = window_dilation.map_or_else(ones, <[usize]>::to_vec);
    let padding = match padding {
        Padding::Explicit(p) => p,
        other => {
            if window_dimensions.len() != r || window_strides.len() != r {
                user_error(format!(
                    "{op}: window_dimensions {window_dimensions:?} and window_strides \
                     {window_strides:?} need one entry per dim of shape {:?}",
                    x.shape()
                ));
            }
            // Like jax.lax.reduce_window: string padding ignores the dilations.
            super::conv::padtype_to_pads(x.shape(), window_dimensions, window_strides, &other)
        }
    };
    bind1(
        ReduceWindow {
            kind,
            window_dimensions: window_dimensions.to_vec(),
            window_strides: window_strides.to_vec(),
            padding,
            base_dilation,
            window_dilation,
        },
        std::slice::from_ref(x),
    )
}

macro_rules! reduce_window_fns {
    ($($(#[$doc:meta])* $name:ident => $kind:expr;)*) => {$(
        $(#[$doc])*
        ///
        /// `padding`: explicit `(low, high)` pairs per dim, or `Same` / `Valid` /
        /// `SameLower` resolved like `jax.lax.reduce_window` (from the undilated window);
        /// dilations `None` mean all ones.
        #[track_caller]
        pub fn $name(
            x: &Array,
            window_dimensions: &[usize],
            window_strides: &[usize],
            padding: impl Into<Padding>,
            base_dilation: Option<&[usize]>,
            window_dilation: Option<&[usize]>,
        ) -> Array {
            reduce_window_kind(
                stringify!($name),
                $kind,
                x,
                window_dimensions,
                window_strides,
                padding.into(),
                base_dilation,
                window_dilation,
            )
        }
    )*};
}

reduce_window_fns! {
    /// Sum over sliding windows (padding counts as 0).
    ///
    /// ```
    /// use jaxon::{lax, numpy as jnp};
    /// let x = jnp::array(&[1.0f32, 2.0, 3.0, 4.0]);
    /// let y = lax::reduce_window_sum(&x, &[2], &[1], [(0, 0)], None, None);
    /// assert_eq!(y.to_vec::<f32>(), vec![3.0, 5.0, 7.0]);
    /// ```
    reduce_window_sum => ReduceKind::Sum;
    /// Maximum over sliding windows (padding counts as the dtype's lowest value).
    reduce_window_max => ReduceKind::Max;
    /// Minimum over sliding windows (padding counts as the dtype's highest value).
    reduce_window_min => ReduceKind::Min;
}

// ---- cumulative ops ---------------------------------------------------------------

/// Which associative operation a cumulative primitive scans with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CumKind {
    Sum,
    Prod,
    Max,
    Min,
    LogSumExp,
}

/// `cumsum[axis, reverse]`, `cumprod`, `cummax`, `cummin`, `cumlogsumexp`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cumulative {
    pub kind: CumKind,
    pub axis: usize,
    pub reverse: bool,
}

impl Primitive for Cumulative {
    fn name(&self) -> &'static str {
        match self.kind {
            CumKind::Sum => "cumsum",
            CumKind::Prod => "cumprod",
            CumKind::Max => "cummax",
            CumKind::Min => "cummin",
            CumKind::LogSumExp => "cumlogsumexp",
        }
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("axis", self.axis.to_string()),
            ("reverse", super::elementwise::py_bool(self.reverse)),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [x] = inputs else {
            return Err(format!("expects 1 operand, got {}", inputs.len()));
        };
        if self.axis >= x.ndim() {
            return Err(format!(
                "axis {} is out of bounds for an array of shape {:?}",
                self.axis, x.shape
            ));
        }
        if x.dtype.is_bool() {
            return Err(format!(
                "does not accept dtype bool (accepted: numeric dtypes), shape {:?}",
                x.shape
            ));
        }
        if self.kind == CumKind::LogSumExp && !x.dtype.is_float() {
            return Err(format!(
                "needs a floating-point dtype, got {} (shape {:?})",
                x.dtype, x.shape
            ));
        }
        Ok(vec![x.clone()])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let x = &ctx.in_avals[0];
        let (dtype, rank, n) = (x.dtype, x.ndim(), x.shape[self.axis]);
        if n <= 1 {
            return vec![args[0]];
        }
        let (init, body) = match self.kind {
            CumKind::LogSumExp => (
                Literal::scalar_f64(dtype, f64::NEG_INFINITY),
                logaddexp_region(ctx.b, dtype),
            ),
            k => {
                let kind = match k {
                    CumKind::Sum => ReduceKind::Sum,
                    CumKind::Prod => ReduceKind::Prod,
                    CumKind::Max => ReduceKind::Max,
                    _ => ReduceKind::Min,
                };
                let body = ctx.b.scalar_binary_region(combiner(kind, dtype), dtype);
                (identity_literal(kind, dtype), body)
            }
        };
        let init = ctx.b.constant(init);
        let mut window = vec![1; rank];
        window[self.axis] = n;
        let mut padding = vec![(0i64, 0i64); rank];
        let pad = n as i64 - 1;
        padding[self.axis] = if self.reverse { (0, pad) } else { (pad, 0) };
        vec![ctx.b.add(
            Op::ReduceWindow {
                window,
                strides: vec![1; rank],
                base_dilation: vec![1; rank],
                window_dilation: vec![1; rank],
                padding,
                body,
            },
            &[args[0], init],
        )]
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let ans = bind1(self.clone(), primals);
        let Some(t) = &tangents[0] else {
            return Ok((vec![ans], vec![None]));
        };
        let dt = match self.kind {
            CumKind::Sum => bind1(self.clone(), std::slice::from_ref(t)),
            _ => self.scan_tangent(&primals[0], t),
        };
        Ok((vec![ans], vec![Some(dt)]))
    }

    fn transpose(&self, cts: &[Option<Array>], _args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        if self.kind != CumKind::Sum {
            return Err(no_rule(self.name(), "transpose (it is not linear)"));
        }
        let rev = Cumulative {
            kind: CumKind::Sum,
            axis: self.axis,
            reverse: !self.reverse,
        };
        Ok(vec![cts[0]
            .as_ref()
            .map(|ct| bind1(rev, std::slice::from_ref(ct)))])
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], _size: usize) -> RuleResult<BatchOut> {
        let b = dims[0].ok_or("cumulative batching rule: the operand is not batched")?;
        let p = Cumulative {
            axis: self.axis + usize::from(b <= self.axis),
            ..self.clone()
        };
        Ok((vec![bind1(p, &args[..1])], vec![Some(b)]))
    }
}

impl Cumulative {
    /// The tangent of a cumulative op: an inclusive Hillis–Steele scan over
    /// (value, tangent) pairs combined with the JVP of the scan's operation. Step `d`
    /// combines each element with the one `d` places earlier (identity beyond the
    /// start), so after ceil(log2 n) steps element i has folded in 0..=i.
    fn scan_tangent(&self, x: &Array, t: &Array) -> Array {
        let n = x.shape()[self.axis];
        let ident = match self.kind {
            CumKind::Prod => 1.0,
            CumKind::Max | CumKind::LogSumExp => f64::NEG_INFINITY,
            _ => f64::INFINITY,
        };
        let ident = lax::full_like_scalar(x, ident);
        let zero = lax::full_like_scalar(t, 0.0);
        let (mut v, mut tv) = (x.clone(), t.clone());
        let mut d = 1;
        while d < n {
            let mut cfg = vec![(0i64, 0i64, 0usize); x.ndim()];
            let di = d as i64;
            cfg[self.axis] = if self.reverse {
                (-di, di, 0)
            } else {
                (di, -di, 0)
            };
            let (a, ta) = (lax::pad(&v, &ident, &cfg), lax::pad(&tv, &zero, &cfg));
            (v, tv) = combine_jvp(self.kind, &a, &ta, &v, &tv);
            d *= 2;
        }
        tv
    }
}

/// `x` scalar `v` broadcast to `like`'s shape and dtype.
fn full_like(like: &Array, v: f64) -> Array {
    lax::broadcast_in_dim(&lax::full_like_scalar(like, v), like.shape(), &[])
}

/// The combined value of `a` and `b` under `kind`'s operation and its tangent.
fn combine_jvp(kind: CumKind, a: &Array, ta: &Array, b: &Array, tb: &Array) -> (Array, Array) {
    match kind {
        CumKind::Prod => (lax::mul(a, b), lax::add(&lax::mul(ta, b), &lax::mul(a, tb))),
        CumKind::Max | CumKind::Min => {
            // Weight of a: 1 where it wins, 1/2 on ties (lax.max's JVP).
            let (c, wins) = if kind == CumKind::Max {
                (lax::max(a, b), lax::gt(a, b))
            } else {
                (lax::min(a, b), lax::lt(a, b))
            };
            let dtype = a.dtype();
            let tie = lax::mul(
                &lax::convert_element_type(&lax::eq(a, b), dtype),
                &full_like(a, 0.5),
            );
            let wa = lax::add(&lax::convert_element_type(&wins, dtype), &tie);
            let wb = lax::sub(&full_like(a, 1.0), &wa);
            (c, lax::add(&lax::mul(ta, &wa), &lax::mul(tb, &wb)))
        }
        _ => {
            // logaddexp: value max + log1p(exp(-|a - b|)), weights softmax(a, b).
            let diff = lax::sub(a, b);
            let c = lax::add(
                &lax::max(a, b),
                &lax::log1p(&lax::exp(&lax::neg(&lax::abs(&diff)))),
            );
            let wa = lax::logistic(&diff);
            let wb = lax::logistic(&lax::neg(&diff));
            (c, lax::add(&lax::mul(ta, &wa), &lax::mul(tb, &wb)))
        }
    }
}

/// A region computing log(exp(a) + exp(b)) of two scalars without overflow.
fn logaddexp_region(b: &mut Builder, dtype: DType) -> CompId {
    let s = Shape::scalar(dtype);
    b.region("logaddexp", &[s.clone(), s], |b, p| {
        let (x, y) = (p[0], p[1]);
        let amax = b.binary(BinaryOp::Max, x, y);
        let delta = b.binary(BinaryOp::Sub, x, y);
        let abs = b.unary(UnaryOp::Abs, delta);
        let neg = b.unary(UnaryOp::Neg, abs);
        let e = b.unary(UnaryOp::Exp, neg);
        let l = b.unary(UnaryOp::Log1p, e);
        let soft = b.binary(BinaryOp::Add, amax, l);
        // delta is NaN when x and y are equal infinities (answer: amax) or either is
        // NaN (answer: NaN, which x + y gives).
        let delta_nan = b.compare(CmpDir::Ne, delta, delta);
        let x_nan = b.compare(CmpDir::Ne, x, x);
        let y_nan = b.compare(CmpDir::Ne, y, y);
        let any_nan = b.binary(BinaryOp::Or, x_nan, y_nan);
        let sum = b.binary(BinaryOp::Add, x, y);
        let nan_case = b.select(any_nan, sum, amax);
        vec![b.select(delta_nan, nan_case, soft)]
    })
}

#[track_caller]
fn cumulative(kind: CumKind, x: &Array, axis: usize, reverse: bool) -> Array {
    bind1(
        Cumulative {
            kind,
            axis,
            reverse,
        },
        std::slice::from_ref(x),
    )
}

macro_rules! cumulative_fns {
    ($($(#[$doc:meta])* $name:ident => $kind:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(x: &Array, axis: usize, reverse: bool) -> Array {
            cumulative($kind, x, axis, reverse)
        }
    )*};
}

cumulative_fns! {
    /// Running sum along `axis` (from the end when `reverse`), in `x`'s dtype.
    ///
    /// ```
    /// use jaxon::{lax, numpy as jnp};
    /// let x = jnp::array(&[1i32, 2, 3]);
    /// assert_eq!(lax::cumsum(&x, 0, false).to_vec::<i32>(), vec![1, 3, 6]);
    /// assert_eq!(lax::cumsum(&x, 0, true).to_vec::<i32>(), vec![6, 5, 3]);
    /// ```
    cumsum => CumKind::Sum;
    /// Running product along `axis`.
    cumprod => CumKind::Prod;
    /// Running maximum along `axis` (NaN propagates).
    cummax => CumKind::Max;
    /// Running minimum along `axis` (NaN propagates).
    cummin => CumKind::Min;
    /// Running log(sum(exp(x))) along `axis`, computed stably (floats only).
    cumlogsumexp => CumKind::LogSumExp;
}
