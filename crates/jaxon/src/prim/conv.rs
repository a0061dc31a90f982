//! `conv_general_dilated` (jax-spec 2.6): XLA convolution with strides, padding,
//! lhs (transposed-conv) and rhs (atrous) dilation, dimension numbers and feature /
//! batch groups; plus `lax::conv`, `conv_with_general_padding`, `conv_transpose`
//! and the padding helper `padtype_to_pads`.
//!
//! Groups follow StableHLO: with `feature_group_count = G` the lhs features and the
//! rhs output features are split into G consecutive blocks and block g of the output
//! convolves block g of the input with block g of the kernel; `batch_group_count`
//! splits the lhs batch the same way.
//!
//! Rules (ported from JAX): the JVP is bilinear; the transposes w.r.t. lhs and rhs
//! are convolutions of the cotangent (`_conv_general_dilated_transpose_lhs/rhs`,
//! strides and dilations swapping roles); batching folds the vmapped dim into the
//! lhs batch dim, into the rhs output-feature dim via groups, or both.

use super::dot::preferred_output_dtype;
use super::elementwise::same_dtype;
use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{
    tuple_text, BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult,
};
use crate::core::trace::bind1;
use crate::error::user_error;
use crate::lax;
use crate::transform::rules::add_tangents;
use oxla::{ConvDims, DType, Op, Value};

// ---- padding ----------------------------------------------------------------------

/// Padding of a convolution or windowed reduction: JAX's `'SAME'`, `'VALID'`,
/// `'SAME_LOWER'` strings, or explicit `(low, high)` pairs per spatial dim
/// (negative amounts crop).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Output size `ceil(in / stride)`; an odd total pad puts the extra at the end.
    Same,
    /// No padding.
    Valid,
    /// Like `Same`, with the extra pad at the start.
    SameLower,
    /// `(low, high)` per spatial dim.
    Explicit(Vec<(i64, i64)>),
}

impl From<Vec<(i64, i64)>> for Padding {
    fn from(p: Vec<(i64, i64)>) -> Padding {
        Padding::Explicit(p)
    }
}

impl From<&[(i64, i64)]> for Padding {
    fn from(p: &[(i64, i64)]) -> Padding {
        Padding::Explicit(p.to_vec())
    }
}

impl<const N: usize> From<[(i64, i64); N]> for Padding {
    fn from(p: [(i64, i64); N]) -> Padding {
        Padding::Explicit(p.to_vec())
    }
}

impl<const N: usize> From<&[(i64, i64); N]> for Padding {
    fn from(p: &[(i64, i64); N]) -> Padding {
        Padding::Explicit(p.to_vec())
    }
}

impl Padding {
    /// The padding named like JAX's strings (`"SAME"`, `"VALID"`, `"SAME_LOWER"`,
    /// any case); `None` for another string.
    pub fn from_name(name: &str) -> Option<Padding> {
        match name.to_ascii_uppercase().as_str() {
            "SAME" => Some(Padding::Same),
            "VALID" => Some(Padding::Valid),
            "SAME_LOWER" => Some(Padding::SameLower),
            _ => None,
        }
    }
}

/// Explicit `(low, high)` pads for `padding` (`jax.lax.padtype_to_pads`): `Same`
/// pads so that the output has `ceil(in / stride)` elements. `window_shape` must
/// already include any window dilation.
#[track_caller]
pub fn padtype_to_pads(
    in_shape: &[usize],
    window_shape: &[usize],
    window_strides: &[usize],
    padding: &Padding,
) -> Vec<(i64, i64)> {
    let n = in_shape.len();
    if let Padding::Explicit(p) = padding {
        return p.clone();
    }
    if window_shape.len() != n || window_strides.len() != n {
        user_error(format!(
            "padtype_to_pads: input shape {in_shape:?}, window {window_shape:?} and strides \
             {window_strides:?} must have the same length"
        ));
    }
    if window_strides.contains(&0) {
        user_error(format!(
            "padtype_to_pads: window strides must be >= 1, got {window_strides:?}"
        ));
    }
    (0..n)
        .map(|i| {
            let (d, w, s) = (
                in_shape[i] as i64,
                window_shape[i] as i64,
                window_strides[i] as i64,
            );
            let total = match padding {
                Padding::Valid => 0,
                _ => {
                    let out = (d + s - 1) / s;
                    ((out - 1) * s + w - d).max(0)
                }
            };
            match padding {
                Padding::SameLower => (total - total / 2, total / 2),
                _ => (total / 2, total - total / 2),
            }
        })
        .collect()
}

// ---- dimension numbers ------------------------------------------------------------

/// Which dims of the operands and the result are batch, feature and spatial
/// (JAX's `ConvDimensionNumbers`): `lhs_spec = (batch, feature, spatial...)`,
/// `rhs_spec = (out feature, in feature, spatial...)`, `out_spec = (batch, feature,
/// spatial...)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConvDimensionNumbers {
    pub lhs_spec: Vec<usize>,
    pub rhs_spec: Vec<usize>,
    pub out_spec: Vec<usize>,
}

impl ConvDimensionNumbers {
    /// The default layout for rank `ndim`: NC..., OI..., NC....
    pub fn default_for_rank(ndim: usize) -> ConvDimensionNumbers {
        let ident: Vec<usize> = (0..ndim).collect();
        ConvDimensionNumbers {
            lhs_spec: ident.clone(),
            rhs_spec: ident.clone(),
            out_spec: ident,
        }
    }

    /// Parses layout strings like `("NCHW", "OIHW", "NCHW")` or `("NHWC", "HWIO",
    /// "NHWC")` (`jax.lax.conv_general_permutations`): `N`/`C` mark the lhs and output
    /// batch/feature dims, `O`/`I` the kernel's, any other letters are spatial dims,
    /// ordered as they appear in the kernel string.
    ///
    /// ```
    /// use jaxon::lax::ConvDimensionNumbers;
    /// let d = ConvDimensionNumbers::from_strings("NHWC", "HWIO", "NHWC").unwrap();
    /// assert_eq!(d.lhs_spec, vec![0, 3, 1, 2]);
    /// assert_eq!(d.rhs_spec, vec![3, 2, 0, 1]);
    /// ```
    pub fn from_strings(lhs: &str, rhs: &str, out: &str) -> Result<ConvDimensionNumbers, String> {
        let specs = [lhs, rhs, out];
        let pairs = [('N', 'C'), ('O', 'I'), ('N', 'C')];
        for (i, (s, (a, b))) in specs.iter().zip(pairs).enumerate() {
            let count = |c: char| s.chars().filter(|&x| x == c).count();
            if count(a) != 1 || count(b) != 1 {
                return Err(format!(
                    "convolution dimension_numbers[{i}] must contain the characters '{a}' and \
                     '{b}' exactly once, got {s:?}"
                ));
            }
            let mut chars: Vec<char> = s.chars().collect();
            chars.sort_unstable();
            chars.dedup();
            if chars.len() != s.chars().count() {
                return Err(format!(
                    "convolution dimension_numbers[{i}] cannot have duplicate characters, got {s:?}"
                ));
            }
        }
        let spatial = |s: &str, (a, b): (char, char)| {
            let mut v: Vec<char> = s.chars().filter(|&c| c != a && c != b).collect();
            v.sort_unstable();
            v
        };
        let rs = spatial(rhs, pairs[1]);
        if spatial(lhs, pairs[0]) != rs || spatial(out, pairs[2]) != rs {
            return Err(format!(
                "convolution dimension_numbers elements must each have the same set of spatial \
                 characters, got ({lhs:?}, {rhs:?}, {out:?})"
            ));
        }
        let rhs_chars: Vec<char> = rhs.chars().collect();
        let perm = |s: &str, (a, b): (char, char)| -> Vec<usize> {
            let chars: Vec<char> = s.chars().collect();
            let pos = |c: char| chars.iter().position(|&x| x == c).unwrap_or(0);
            let mut p = vec![pos(a), pos(b)];
            // Spatial dims in the order the kernel string lists them.
            for &c in &rhs_chars {
                if c != 'O' && c != 'I' {
                    p.push(pos(c));
                }
            }
            p
        };
        Ok(ConvDimensionNumbers {
            lhs_spec: perm(lhs, pairs[0]),
            rhs_spec: perm(rhs, pairs[1]),
            out_spec: perm(out, pairs[2]),
        })
    }

    fn text(&self) -> String {
        format!(
            "ConvDimensionNumbers(lhs_spec={}, rhs_spec={}, out_spec={})",
            tuple_text(&self.lhs_spec),
            tuple_text(&self.rhs_spec),
            tuple_text(&self.out_spec)
        )
    }
}

/// The `dimension_numbers` argument of [`conv_general_dilated`]: `None` (the default
/// NC.../OI.../NC... layout), a [`ConvDimensionNumbers`], or three layout strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConvSpec {
    Default,
    Numbers(ConvDimensionNumbers),
    Strings(String, String, String),
}

impl From<Option<ConvDimensionNumbers>> for ConvSpec {
    fn from(d: Option<ConvDimensionNumbers>) -> ConvSpec {
        d.map_or(ConvSpec::Default, ConvSpec::Numbers)
    }
}

impl From<ConvDimensionNumbers> for ConvSpec {
    fn from(d: ConvDimensionNumbers) -> ConvSpec {
        ConvSpec::Numbers(d)
    }
}

impl From<(&str, &str, &str)> for ConvSpec {
    fn from((l, r, o): (&str, &str, &str)) -> ConvSpec {
        ConvSpec::Strings(l.into(), r.into(), o.into())
    }
}

impl ConvSpec {
    /// The dimension numbers for operands of rank `ndim`.
    #[track_caller]
    fn resolve(&self, op: &str, ndim: usize) -> ConvDimensionNumbers {
        let d = match self {
            ConvSpec::Default => ConvDimensionNumbers::default_for_rank(ndim),
            ConvSpec::Numbers(d) => d.clone(),
            ConvSpec::Strings(l, r, o) => match ConvDimensionNumbers::from_strings(l, r, o) {
                Ok(d) => d,
                Err(e) => user_error(format!("{op}: {e}")),
            },
        };
        for spec in [&d.lhs_spec, &d.rhs_spec, &d.out_spec] {
            if spec.len() != ndim {
                user_error(format!(
                    "{op}: dimension numbers {} do not fit operands of rank {ndim}",
                    d.text()
                ));
            }
        }
        d
    }
}

// ---- the primitive ----------------------------------------------------------------

/// `conv_general_dilated[window_strides, padding, lhs_dilation, rhs_dilation,
/// dimension_numbers, feature_group_count, batch_group_count, precision=None,
/// preferred_element_type]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeneralDilated {
    pub window_strides: Vec<usize>,
    pub padding: Vec<(i64, i64)>,
    pub lhs_dilation: Vec<usize>,
    pub rhs_dilation: Vec<usize>,
    pub dimension_numbers: ConvDimensionNumbers,
    pub feature_group_count: usize,
    pub batch_group_count: usize,
    pub preferred_element_type: Option<DType>,
}

fn is_permutation(p: &[usize], n: usize) -> bool {
    let mut seen = vec![false; n];
    p.len() == n
        && p.iter()
            .all(|&i| i < n && !std::mem::replace(&mut seen[i], true))
}

/// Output size of a windowed dim, or an error when padding makes it negative.
pub(crate) fn window_out_size(
    n: usize,
    (lo, hi): (i64, i64),
    base_dilation: usize,
    window: usize,
    window_dilation: usize,
    stride: usize,
) -> Result<usize, String> {
    let dilated = if n == 0 {
        0
    } else {
        (n as i64 - 1) * base_dilation as i64 + 1
    };
    let padded = dilated + lo + hi;
    if padded < 0 {
        return Err(format!(
            "padding ({lo}, {hi}) is larger than the (dilated) dimension of size {dilated}"
        ));
    }
    let w = if window == 0 {
        0
    } else {
        (window as i64 - 1) * window_dilation as i64 + 1
    };
    Ok(if padded < w {
        0
    } else {
        ((padded - w) / stride as i64 + 1) as usize
    })
}

impl ConvGeneralDilated {
    fn out_shape(&self, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>, String> {
        let nd = lhs.len();
        if nd < 2 || rhs.len() != nd {
            return Err(format!(
                "lhs and rhs must have the same rank >= 2, got shapes {lhs:?} and {rhs:?}"
            ));
        }
        let d = &self.dimension_numbers;
        for (name, spec) in [
            ("lhs", &d.lhs_spec),
            ("rhs", &d.rhs_spec),
            ("out", &d.out_spec),
        ] {
            if !is_permutation(spec, nd) {
                return Err(format!(
                    "{name}_spec {spec:?} is not a permutation of 0..{nd} (shapes {lhs:?} and {rhs:?})"
                ));
            }
        }
        let n = nd - 2;
        for (name, v) in [
            ("window_strides", &self.window_strides),
            ("lhs_dilation", &self.lhs_dilation),
            ("rhs_dilation", &self.rhs_dilation),
        ] {
            if v.len() != n {
                return Err(format!(
                    "{name} {v:?} must have one entry per spatial dim ({n} for shapes {lhs:?} \
                     and {rhs:?})"
                ));
            }
            if v.contains(&0) {
                return Err(format!("{name} must be >= 1, got {v:?}"));
            }
        }
        if self.padding.len() != n {
            return Err(format!(
                "padding {:?} must have one (low, high) pair per spatial dim ({n} for shapes \
                 {lhs:?} and {rhs:?})",
                self.padding
            ));
        }
        let (fg, bg) = (self.feature_group_count, self.batch_group_count);
        if fg == 0 || bg == 0 || (fg > 1 && bg > 1) {
            return Err(format!(
                "feature_group_count {fg} and batch_group_count {bg} must be >= 1, and at most \
                 one of them may be > 1"
            ));
        }
        let batch = lhs[d.lhs_spec[0]];
        let in_feat = lhs[d.lhs_spec[1]];
        let out_feat = rhs[d.rhs_spec[0]];
        let k_in = rhs[d.rhs_spec[1]];
        if !in_feat.is_multiple_of(fg) || in_feat / fg != k_in {
            return Err(format!(
                "lhs feature dimension size divided by feature_group_count must equal the rhs \
                 input feature dimension size, but {in_feat} / {fg} != {k_in} (shapes {lhs:?} \
                 and {rhs:?})"
            ));
        }
        if !out_feat.is_multiple_of(fg) {
            return Err(format!(
                "rhs output feature dimension size {out_feat} must be a multiple of \
                 feature_group_count {fg} (rhs shape {rhs:?})"
            ));
        }
        if !batch.is_multiple_of(bg) || !out_feat.is_multiple_of(bg) {
            return Err(format!(
                "lhs batch size {batch} and rhs output feature size {out_feat} must be multiples \
                 of batch_group_count {bg} (shapes {lhs:?} and {rhs:?})"
            ));
        }
        let mut out = vec![0; nd];
        out[d.out_spec[0]] = batch / bg;
        out[d.out_spec[1]] = out_feat;
        for i in 0..n {
            out[d.out_spec[i + 2]] = window_out_size(
                lhs[d.lhs_spec[i + 2]],
                self.padding[i],
                self.lhs_dilation[i],
                rhs[d.rhs_spec[i + 2]],
                self.rhs_dilation[i],
                self.window_strides[i],
            )
            .map_err(|e| format!("spatial dim {i}: {e} (lhs shape {lhs:?})"))?;
        }
        Ok(out)
    }
}

impl Primitive for ConvGeneralDilated {
    fn name(&self) -> &'static str {
        "conv_general_dilated"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        let pads: Vec<String> = self
            .padding
            .iter()
            .map(|(l, h)| format!("({l}, {h})"))
            .collect();
        vec![
            ("window_strides", tuple_text(&self.window_strides)),
            ("padding", tuple_text(&pads)),
            ("lhs_dilation", tuple_text(&self.lhs_dilation)),
            ("rhs_dilation", tuple_text(&self.rhs_dilation)),
            ("dimension_numbers", self.dimension_numbers.text()),
            ("feature_group_count", self.feature_group_count.to_string()),
            ("batch_group_count", self.batch_group_count.to_string()),
            ("precision", "None".into()),
            (
                "preferred_element_type",
                self.preferred_element_type
                    .map_or("None".to_string(), |t| t.numpy_name().to_string()),
            ),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        let [lhs, rhs] = inputs else {
            return Err(format!("expects 2 operands, got {}", inputs.len()));
        };
        let dtype = same_dtype(inputs)?;
        if dtype.is_bool() {
            return Err("does not accept bool operands".into());
        }
        let out_dtype = preferred_output_dtype(dtype, self.preferred_element_type)?;
        let shape = self.out_shape(&lhs.shape, &rhs.shape)?;
        Ok(vec![Aval::new(shape, out_dtype)])
    }

    fn lower(&self, ctx: &mut LowerCtx, args: &[Value]) -> Vec<Value> {
        let d = &self.dimension_numbers;
        let dims = ConvDims {
            input_batch: d.lhs_spec[0],
            input_feature: d.lhs_spec[1],
            input_spatial: d.lhs_spec[2..].to_vec(),
            kernel_output_feature: d.rhs_spec[0],
            kernel_input_feature: d.rhs_spec[1],
            kernel_spatial: d.rhs_spec[2..].to_vec(),
            output_batch: d.out_spec[0],
            output_feature: d.out_spec[1],
            output_spatial: d.out_spec[2..].to_vec(),
        };
        vec![ctx.b.add(
            Op::Convolution {
                window_strides: self.window_strides.clone(),
                padding: self.padding.clone(),
                lhs_dilation: self.lhs_dilation.clone(),
                rhs_dilation: self.rhs_dilation.clone(),
                dims,
                feature_group_count: self.feature_group_count,
                batch_group_count: self.batch_group_count,
                out_dtype: ctx.out_avals[0].dtype,
            },
            args,
        )]
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        let (l, r) = (&primals[0], &primals[1]);
        let ans = bind1(self.clone(), primals);
        let dl = tangents[0]
            .as_ref()
            .map(|t| bind1(self.clone(), &[t.clone(), r.clone()]));
        let dr = tangents[1]
            .as_ref()
            .map(|t| bind1(self.clone(), &[l.clone(), t.clone()]));
        Ok((vec![ans], vec![add_tangents(dl, dr)]))
    }

    fn transpose(&self, cts: &[Option<Array>], args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        let Some(ct) = &cts[0] else {
            return Ok(vec![None, None]);
        };
        let mut out = vec![None, None];
        if args[0].is_linear() {
            out[0] = Some(self.transpose_lhs(ct, &args[0].aval(), args[1].value()?));
        }
        if args[1].is_linear() {
            out[1] = Some(self.transpose_rhs(ct, args[0].value()?, &args[1].aval()));
        }
        Ok(out)
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], _size: usize) -> RuleResult<BatchOut> {
        let (out, d) = self.batched(&args[0], &args[1], dims[0], dims[1])?;
        Ok((vec![out], vec![Some(d)]))
    }
}

// ---- transformation rules ---------------------------------------------------------

/// Splits axis `src` of `x` into `(size1, shape[src] / size1)` (JAX's
/// `_reshape_axis_out_of`).
fn reshape_axis_out_of(src: usize, size1: usize, x: &Array) -> Array {
    let mut shape = x.shape().to_vec();
    let size2 = shape[src] / size1;
    shape.splice(src..=src, [size1, size2]);
    lax::reshape(x, &shape)
}

/// Merges axis `src` of `x` into axis `dst` (numbered after `src` is removed), `src`
/// becoming the major part (JAX's `_reshape_axis_into`).
fn reshape_axis_into(src: usize, dst: usize, x: &Array) -> Array {
    let mut perm: Vec<usize> = (0..x.ndim()).filter(|&i| i != src).collect();
    perm.insert(dst, src);
    let mut shape: Vec<usize> = x.shape().to_vec();
    let n = shape.remove(src);
    shape[dst] *= n;
    lax::reshape(&lax::transpose(x, &perm), &shape)
}

/// `(spec[1], spec[0], spec[2..])`.
fn spec_transpose(spec: &[usize]) -> Vec<usize> {
    let mut s = spec.to_vec();
    s.swap(0, 1);
    s
}

fn dilate_shape(shape: &[usize], dilation: &[usize]) -> Vec<i64> {
    shape
        .iter()
        .zip(dilation)
        .map(|(&d, &r)| dilate_dim(d, r) as i64)
        .collect()
}

fn take(shape: &[usize], idx: &[usize]) -> Vec<usize> {
    idx.iter().map(|&i| shape[i]).collect()
}

/// JAX's `_conv_general_vjp_lhs_padding` (also used by reduce_window_sum's
/// transpose).
pub(crate) fn conv_vjp_lhs_padding(
    in_shape: &[usize],
    window: &[usize],
    strides: &[usize],
    out_shape: &[usize],
    padding: &[(i64, i64)],
    lhs_dilation: &[usize],
    rhs_dilation: &[usize],
) -> Vec<(i64, i64)> {
    let l = dilate_shape(in_shape, lhs_dilation);
    let r = dilate_shape(window, rhs_dilation);
    let o = dilate_shape(out_shape, strides);
    (0..in_shape.len())
        .map(|i| {
            let before = r[i] - padding[i].0 - 1;
            let after = l[i] + r[i] - 1 - o[i] - before;
            (before, after)
        })
        .collect()
}

/// JAX's `_conv_general_vjp_rhs_padding`.
fn conv_vjp_rhs_padding(
    in_shape: &[usize],
    window: &[usize],
    strides: &[usize],
    out_shape: &[usize],
    padding: &[(i64, i64)],
    lhs_dilation: &[usize],
    rhs_dilation: &[usize],
) -> Vec<(i64, i64)> {
    let l = dilate_shape(in_shape, lhs_dilation);
    let r = dilate_shape(window, rhs_dilation);
    let o = dilate_shape(out_shape, strides);
    (0..in_shape.len())
        .map(|i| {
            let lo = padding[i].0;
            (lo, (o[i] - l[i]) + (r[i] - lo - 1))
        })
        .collect()
}

impl ConvGeneralDilated {
    fn with(
        &self,
        dimension_numbers: ConvDimensionNumbers,
        feature_group_count: usize,
        batch_group_count: usize,
    ) -> ConvGeneralDilated {
        ConvGeneralDilated {
            dimension_numbers,
            feature_group_count,
            batch_group_count,
            ..self.clone()
        }
    }

    /// The cotangent of the lhs (JAX's `_conv_general_dilated_transpose_lhs`).
    fn transpose_lhs(&self, g: &Array, lhs: &Aval, rhs: &Array) -> Array {
        let d = &self.dimension_numbers;
        let (lhs_spec, rhs_spec, out_spec) = (&d.lhs_spec, &d.rhs_spec, &d.out_spec);
        let (mut fg, bg) = (self.feature_group_count, self.batch_group_count);
        let mut rhs = rhs.clone();
        if fg > 1 || bg > 1 {
            // Move the group axis out of the kernel's output features into its
            // input features.
            let groups = fg.max(bg);
            rhs = reshape_axis_out_of(rhs_spec[0], groups, &rhs);
            rhs = reshape_axis_into(rhs_spec[0], rhs_spec[1], &rhs);
            fg = groups;
        }
        let trans = ConvDimensionNumbers {
            lhs_spec: out_spec.clone(),
            rhs_spec: spec_transpose(rhs_spec),
            out_spec: lhs_spec.clone(),
        };
        let padding = conv_vjp_lhs_padding(
            &take(&lhs.shape, &lhs_spec[2..]),
            &take(rhs.shape(), &rhs_spec[2..]),
            &self.window_strides,
            &take(g.shape(), &out_spec[2..]),
            &self.padding,
            &self.lhs_dilation,
            &self.rhs_dilation,
        );
        let revd = lax::rev(&rhs, &rhs_spec[2..]);
        let g = self.in_dtype(g, rhs.dtype());
        let prim = ConvGeneralDilated {
            window_strides: self.lhs_dilation.clone(),
            padding,
            lhs_dilation: self.window_strides.clone(),
            rhs_dilation: self.rhs_dilation.clone(),
            dimension_numbers: trans,
            feature_group_count: fg,
            batch_group_count: 1,
            preferred_element_type: None,
        };
        let mut out = bind1(prim, &[g, revd]);
        if bg > 1 {
            out = reshape_axis_out_of(lhs_spec[1], bg, &out);
            out = reshape_axis_into(lhs_spec[1], lhs_spec[0], &out);
        }
        out
    }

    /// The cotangent of the rhs (JAX's `_conv_general_dilated_transpose_rhs`).
    fn transpose_rhs(&self, g: &Array, lhs: &Array, rhs: &Aval) -> Array {
        if g.size() == 0 {
            return crate::transform::rules::zeros_aval(rhs);
        }
        let d = &self.dimension_numbers;
        let (fg, bg) = (self.feature_group_count, self.batch_group_count);
        // Feature groups become batch groups and vice versa.
        let (fg, bg) = if bg > 1 { (bg, 1) } else { (1, fg) };
        let trans = ConvDimensionNumbers {
            lhs_spec: spec_transpose(&d.lhs_spec),
            rhs_spec: spec_transpose(&d.out_spec),
            out_spec: spec_transpose(&d.rhs_spec),
        };
        let padding = conv_vjp_rhs_padding(
            &take(lhs.shape(), &d.lhs_spec[2..]),
            &take(&rhs.shape, &d.rhs_spec[2..]),
            &self.window_strides,
            &take(g.shape(), &d.out_spec[2..]),
            &self.padding,
            &self.lhs_dilation,
            &self.rhs_dilation,
        );
        let g = self.in_dtype(g, lhs.dtype());
        let prim = ConvGeneralDilated {
            window_strides: self.rhs_dilation.clone(),
            padding,
            lhs_dilation: self.lhs_dilation.clone(),
            rhs_dilation: self.window_strides.clone(),
            dimension_numbers: trans,
            feature_group_count: fg,
            batch_group_count: bg,
            preferred_element_type: None,
        };
        bind1(prim, &[lhs.clone(), g])
    }

    /// The cotangent in the operands' dtype (it has the preferred type, if any).
    fn in_dtype(&self, g: &Array, dtype: DType) -> Array {
        if g.dtype() == dtype {
            g.clone()
        } else {
            lax::convert_element_type(g, dtype)
        }
    }

    /// JAX's `_conv_general_dilated_batch_rule`: the output and its batch dim.
    fn batched(
        &self,
        lhs: &Array,
        rhs: &Array,
        lhs_bdim: Option<usize>,
        rhs_bdim: Option<usize>,
    ) -> RuleResult<(Array, usize)> {
        let d = &self.dimension_numbers;
        let (lhs_spec, rhs_spec, out_spec) = (&d.lhs_spec, &d.rhs_spec, &d.out_spec);
        let (fg, bg) = (self.feature_group_count, self.batch_group_count);
        let dn = d.clone();
        match (lhs_bdim, rhs_bdim) {
            (Some(lb), Some(rb)) => {
                let n = lhs.shape()[lb];
                let (new_lhs, fg, bg) = if bg > 1 {
                    (reshape_axis_into(lb, lhs_spec[0], lhs), fg, bg * n)
                } else {
                    (reshape_axis_into(lb, lhs_spec[1], lhs), fg * n, bg)
                };
                let new_rhs = reshape_axis_into(rb, rhs_spec[0], rhs);
                let out = bind1(self.with(dn, fg, bg), &[new_lhs, new_rhs]);
                Ok((reshape_axis_out_of(out_spec[1], n, &out), out_spec[1]))
            }
            (Some(lb), None) => {
                let n = lhs.shape()[lb];
                let new_lhs = if bg == 1 {
                    reshape_axis_into(lb, lhs_spec[0], lhs)
                } else {
                    // Keep the batch groups outermost: (groups, vmapped, batch/groups).
                    let x =
                        reshape_axis_out_of(lhs_spec[0] + usize::from(lb <= lhs_spec[0]), bg, lhs);
                    let x =
                        reshape_axis_into(lb + usize::from(lhs_spec[0] < lb), lhs_spec[0] + 1, &x);
                    reshape_axis_into(lhs_spec[0], lhs_spec[0], &x)
                };
                let out = bind1(self.with(dn, fg, bg), &[new_lhs, rhs.clone()]);
                Ok((reshape_axis_out_of(out_spec[0], n, &out), out_spec[0]))
            }
            (None, Some(rb)) => {
                let n = rhs.shape()[rb];
                if fg == 1 && bg == 1 {
                    let new_rhs = reshape_axis_into(rb, rhs_spec[0], rhs);
                    let out = bind1(self.with(dn, fg, bg), &[lhs.clone(), new_rhs]);
                    return Ok((reshape_axis_out_of(out_spec[1], n, &out), out_spec[1]));
                }
                // Groups must stay outermost in the output features.
                let groups = fg.max(bg);
                let x =
                    reshape_axis_out_of(rhs_spec[0] + usize::from(rb <= rhs_spec[0]), groups, rhs);
                let x = reshape_axis_into(rb + usize::from(rhs_spec[0] < rb), rhs_spec[0] + 1, &x);
                let new_rhs = reshape_axis_into(rhs_spec[0], rhs_spec[0], &x);
                let out = bind1(self.with(dn, fg, bg), &[lhs.clone(), new_rhs]);
                let out = reshape_axis_out_of(out_spec[1], groups, &out);
                let out = reshape_axis_out_of(out_spec[1] + 1, n, &out);
                Ok((
                    reshape_axis_into(out_spec[1], out_spec[1] + 1, &out),
                    out_spec[1],
                ))
            }
            (None, None) => Err("conv_general_dilated batching rule: no operand is batched".into()),
        }
    }
}

// ---- lax functions ----------------------------------------------------------------

fn ones_or(v: Option<&[usize]>, n: usize) -> Vec<usize> {
    v.map_or_else(|| vec![1; n], <[usize]>::to_vec)
}

/// General dilated convolution (`jax.lax.conv_general_dilated`).
///
/// * `padding`: [`Padding::Same`] / `Valid` / `SameLower` (resolved like JAX, with the
///   kernel's `rhs_dilation` taken into account) or explicit `(low, high)` pairs.
/// * `lhs_dilation` / `rhs_dilation`: `None` means all ones.
/// * `dimension_numbers`: `None`, a [`ConvDimensionNumbers`], or layout strings such
///   as `("NHWC", "HWIO", "NHWC")`.
///
/// ```
/// use jaxon::{lax, lax::Padding, numpy as jnp};
/// let x = jnp::ones(&[1, 1, 4, 4], jaxon::DType::F32);
/// let k = jnp::ones(&[2, 1, 3, 3], jaxon::DType::F32);
/// let y = lax::conv_general_dilated(&x, &k, &[1, 1], Padding::Same, None, None, None, 1, 1);
/// assert_eq!(y.shape(), &[1, 2, 4, 4]);
/// ```
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn conv_general_dilated(
    lhs: &Array,
    rhs: &Array,
    window_strides: &[usize],
    padding: impl Into<Padding>,
    lhs_dilation: Option<&[usize]>,
    rhs_dilation: Option<&[usize]>,
    dimension_numbers: impl Into<ConvSpec>,
    feature_group_count: usize,
    batch_group_count: usize,
) -> Array {
    conv_general_dilated_preferred(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        dimension_numbers,
        feature_group_count,
        batch_group_count,
        None,
    )
}

/// [`conv_general_dilated`] with a `preferred_element_type` (the output dtype).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn conv_general_dilated_preferred(
    lhs: &Array,
    rhs: &Array,
    window_strides: &[usize],
    padding: impl Into<Padding>,
    lhs_dilation: Option<&[usize]>,
    rhs_dilation: Option<&[usize]>,
    dimension_numbers: impl Into<ConvSpec>,
    feature_group_count: usize,
    batch_group_count: usize,
    preferred_element_type: Option<DType>,
) -> Array {
    let op = "conv_general_dilated";
    let nd = lhs.ndim();
    if nd < 2 || rhs.ndim() != nd {
        user_error(format!(
            "{op}: lhs and rhs must have the same rank >= 2, got shapes {:?} and {:?}",
            lhs.shape(),
            rhs.shape()
        ));
    }
    let n = nd - 2;
    let dn = dimension_numbers.into().resolve(op, nd);
    let lhs_dil = ones_or(lhs_dilation, n);
    let rhs_dil = ones_or(rhs_dilation, n);
    let padding = padding.into();
    let pads = match &padding {
        Padding::Explicit(p) => p.clone(),
        _ => {
            if lhs_dil.iter().any(|&d| d != 1) {
                user_error(format!(
                    "{op}: string padding ({padding:?}) is not implemented for transposed \
                     convolution (lhs_dilation {lhs_dil:?}); give explicit padding or use \
                     conv_transpose"
                ));
            }
            if rhs_dil.len() != n || window_strides.len() != n {
                user_error(format!(
                    "{op}: window_strides {window_strides:?} and rhs_dilation {rhs_dil:?} need \
                     {n} entries for shapes {:?} and {:?}",
                    lhs.shape(),
                    rhs.shape()
                ));
            }
            let in_sp: Vec<usize> = dn.lhs_spec[2..].iter().map(|&i| lhs.shape()[i]).collect();
            let k_sp: Vec<usize> = dn.rhs_spec[2..]
                .iter()
                .zip(&rhs_dil)
                .map(|(&i, &r)| dilate_dim(rhs.shape()[i], r))
                .collect();
            padtype_to_pads(&in_sp, &k_sp, window_strides, &padding)
        }
    };
    bind1(
        ConvGeneralDilated {
            window_strides: window_strides.to_vec(),
            padding: pads,
            lhs_dilation: lhs_dil,
            rhs_dilation: rhs_dil,
            dimension_numbers: dn,
            feature_group_count,
            batch_group_count,
            preferred_element_type,
        },
        &[lhs.clone(), rhs.clone()],
    )
}

/// The size of a dim of size `d` dilated by `r` (`r - 1` holes between elements).
fn dilate_dim(d: usize, r: usize) -> usize {
    if d == 0 {
        0
    } else {
        (d - 1) * r + 1
    }
}

/// Convolution in the default NC.../OI.../NC... layout (`jax.lax.conv`).
#[track_caller]
pub fn conv(
    lhs: &Array,
    rhs: &Array,
    window_strides: &[usize],
    padding: impl Into<Padding>,
) -> Array {
    conv_general_dilated(lhs, rhs, window_strides, padding, None, None, None, 1, 1)
}

/// Convolution with explicit padding and dilations, default layout
/// (`jax.lax.conv_with_general_padding`).
#[track_caller]
pub fn conv_with_general_padding(
    lhs: &Array,
    rhs: &Array,
    window_strides: &[usize],
    padding: impl Into<Padding>,
    lhs_dilation: Option<&[usize]>,
    rhs_dilation: Option<&[usize]>,
) -> Array {
    conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        None,
        1,
        1,
    )
}

/// JAX's `_conv_transpose_padding` for one spatial dim.
fn conv_transpose_padding(k: usize, s: usize, same: bool) -> (i64, i64) {
    let (k, s) = (k as i64, s as i64);
    let (pad_len, pad_a) = if same {
        let pad_len = k + s - 2;
        let pad_a = if s > k - 1 { k - 1 } else { (pad_len + 1) / 2 };
        (pad_len, pad_a)
    } else {
        (k + s - 2 + (k - s).max(0), k - 1)
    };
    (pad_a, pad_len - pad_a)
}

/// Transposed convolution (`jax.lax.conv_transpose`, `transpose_kernel=False`): the
/// lhs is dilated by `strides`. `dimension_numbers` default to NHWC-like layouts
/// (`NC`/`IO`/`NC` plus spatial letters) as in JAX; `Same`/`Valid` padding gives
/// outputs of `in * stride` / `in * stride + max(k - stride, 0)` elements.
#[track_caller]
pub fn conv_transpose(
    lhs: &Array,
    rhs: &Array,
    strides: &[usize],
    padding: impl Into<Padding>,
    rhs_dilation: Option<&[usize]>,
    dimension_numbers: impl Into<ConvSpec>,
) -> Array {
    let op = "conv_transpose";
    let nd = lhs.ndim();
    if nd < 2 || rhs.ndim() != nd {
        user_error(format!(
            "{op}: lhs and rhs must have the same rank >= 2, got shapes {:?} and {:?}",
            lhs.shape(),
            rhs.shape()
        ));
    }
    let spec = match dimension_numbers.into() {
        ConvSpec::Default => {
            let sp: &[&str] = &["", "H", "HW", "HWD"];
            let Some(s) = sp.get(nd - 2) else {
                user_error(format!(
                    "{op}: no default dimension numbers for rank {nd}; pass them explicitly"
                ))
            };
            ConvSpec::Strings(format!("N{s}C"), format!("{s}IO"), format!("N{s}C"))
        }
        other => other,
    };
    let dn = spec.resolve(op, nd);
    let n = nd - 2;
    let rhs_dil = ones_or(rhs_dilation, n);
    if strides.len() != n || rhs_dil.len() != n {
        user_error(format!(
            "{op}: strides {strides:?} and rhs_dilation {rhs_dil:?} need {n} entries"
        ));
    }
    let pads = match padding.into() {
        Padding::Explicit(p) => p,
        p @ (Padding::Same | Padding::Valid) => (0..n)
            .map(|i| {
                let k = dilate_dim(rhs.shape()[dn.rhs_spec[i + 2]], rhs_dil[i]);
                conv_transpose_padding(k, strides[i], p == Padding::Same)
            })
            .collect(),
        Padding::SameLower => user_error(format!(
            "{op}: padding must be Same, Valid or explicit, got SameLower"
        )),
    };
    conv_general_dilated(
        lhs,
        rhs,
        &vec![1; n],
        pads,
        Some(strides),
        Some(&rhs_dil),
        dn,
        1,
        1,
    )
}
