//! NumPy indexing on [`Array`]: `x.i(idx)`, functional updates `x.at(idx).set(v)`,
//! and `take` / `take_along_axis`.
//!
//! An index is an integer, a Rust range, a strided [`Slice`] (built with [`s`]),
//! [`NewAxis`], [`Ellipsis`], an integer index array, a boolean mask, or a tuple of
//! these (see [`IndexSpec`]). Semantics follow JAX:
//! * reads clamp out-of-range indices (after wrapping negative ones once), so
//!   `arange(5).i(10)` is the last element;
//! * updates (`at(..).set/add/mul/min/max`) drop out-of-range updates, and duplicate
//!   indices accumulate for `add`/`mul`/`min`/`max`;
//! * basic indexing (integers and slices) lowers to `slice` / `rev` / `squeeze` /
//!   `broadcast_in_dim` (and `dynamic_slice` for 0-d index arrays); advanced indexing
//!   lowers to `gather`, updates to the `scatter` family.
//!
//! ```
//! use jaxon::prelude::*;
//! use jaxon::numpy as jnp;
//! let m = jnp::array(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]);
//! assert_eq!(m.i((.., 1)).to_vec::<f32>(), vec![2.0, 5.0]);
//! assert_eq!(m.i((1, jnp::s(None, None, -1))).to_vec::<f32>(), vec![6.0, 5.0, 4.0]);
//! let u = m.at((0, 0)).add(10.0);
//! assert_eq!(u.i((0, 0)).item::<f32>(), 11.0);
//! ```

use super::promote::{canonical_axis, try_broadcast_shapes, ArrayLike};
use super::{Ellipsis, NewAxis};
use crate::array::Array;
use crate::error::user_error;
use crate::lax::{self, GatherDimensionNumbers, GatherScatterMode, ScatterDimensionNumbers};
use crate::prim::index::{scatter_kind, ScatterKind};
use oxla::DType;
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

// ---- index items ------------------------------------------------------------------

/// A strided slice `start:stop:step` (Python semantics: negative bounds count from
/// the end, `None` means the natural end for the step's direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    pub start: Option<i64>,
    pub stop: Option<i64>,
    pub step: i64,
}

/// The slice `start:stop:step`; `s(None, None, -1)` is Python's `::-1`.
pub fn s(start: Option<i64>, stop: Option<i64>, step: i64) -> Slice {
    Slice { start, stop, step }
}

impl Slice {
    /// The first index and the length of the slice on an axis of size `n`
    /// (Python's `slice.indices`).
    pub fn indices(&self, n: usize) -> (i64, usize) {
        let n = n as i64;
        let step = self.step;
        let (lower, upper) = if step > 0 { (0, n) } else { (-1, n - 1) };
        let clamp = |v: i64| {
            let v = if v < 0 { v + n } else { v };
            v.clamp(lower, upper)
        };
        let start = self.start.map_or(if step > 0 { 0 } else { n - 1 }, clamp);
        let stop = self.stop.map_or(if step > 0 { n } else { -1 }, clamp);
        let len = if step > 0 && stop > start {
            (stop - start + step - 1) / step
        } else if step < 0 && start > stop {
            (start - stop - step - 1) / -step
        } else {
            0
        };
        (start, len as usize)
    }
}

/// One element of a NumPy index.
#[derive(Clone, Debug)]
pub enum IndexItem {
    /// A static integer (negative counts from the end).
    Int(i64),
    Slice(Slice),
    NewAxis,
    Ellipsis,
    /// An integer index array or a boolean mask.
    Array(Array),
}

/// Anything usable as a NumPy index: integers, ranges, [`Slice`], [`NewAxis`],
/// [`Ellipsis`], index arrays and masks (`Array`, `&Array`), [`IndexItem`], vectors
/// of items, and tuples of up to 6 single items.
pub trait IndexSpec {
    fn index_items(self) -> Vec<IndexItem>;
}

/// A single index item (what tuples are made of).
pub trait IndexElem {
    fn index_item(self) -> IndexItem;
}

impl<T: IndexElem> IndexSpec for T {
    fn index_items(self) -> Vec<IndexItem> {
        vec![self.index_item()]
    }
}

impl IndexElem for IndexItem {
    fn index_item(self) -> IndexItem {
        self
    }
}

impl IndexElem for Slice {
    fn index_item(self) -> IndexItem {
        IndexItem::Slice(self)
    }
}

impl IndexElem for NewAxis {
    fn index_item(self) -> IndexItem {
        IndexItem::NewAxis
    }
}

impl IndexElem for Ellipsis {
    fn index_item(self) -> IndexItem {
        IndexItem::Ellipsis
    }
}

impl IndexElem for Array {
    fn index_item(self) -> IndexItem {
        IndexItem::Array(self)
    }
}

impl IndexElem for &Array {
    fn index_item(self) -> IndexItem {
        IndexItem::Array(self.clone())
    }
}

impl IndexElem for RangeFull {
    fn index_item(self) -> IndexItem {
        IndexItem::Slice(s(None, None, 1))
    }
}

macro_rules! int_index {
    ($($t:ty),*) => {$(
        impl IndexElem for $t {
            fn index_item(self) -> IndexItem {
                IndexItem::Int(self as i64)
            }
        }
        impl IndexElem for Range<$t> {
            fn index_item(self) -> IndexItem {
                IndexItem::Slice(s(Some(self.start as i64), Some(self.end as i64), 1))
            }
        }
        impl IndexElem for RangeFrom<$t> {
            fn index_item(self) -> IndexItem {
                IndexItem::Slice(s(Some(self.start as i64), None, 1))
            }
        }
        impl IndexElem for RangeTo<$t> {
            fn index_item(self) -> IndexItem {
                IndexItem::Slice(s(None, Some(self.end as i64), 1))
            }
        }
        impl IndexElem for RangeInclusive<$t> {
            fn index_item(self) -> IndexItem {
                IndexItem::Slice(inclusive(Some(*self.start() as i64), *self.end() as i64))
            }
        }
        impl IndexElem for RangeToInclusive<$t> {
            fn index_item(self) -> IndexItem {
                IndexItem::Slice(inclusive(None, self.end as i64))
            }
        }
    )*};
}
int_index!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// `start..=end`: `-1` as the end means "through the last element".
fn inclusive(start: Option<i64>, end: i64) -> Slice {
    s(start, if end == -1 { None } else { Some(end + 1) }, 1)
}

impl IndexSpec for Vec<IndexItem> {
    fn index_items(self) -> Vec<IndexItem> {
        self
    }
}

impl IndexSpec for &[IndexItem] {
    fn index_items(self) -> Vec<IndexItem> {
        self.to_vec()
    }
}

impl IndexSpec for () {
    fn index_items(self) -> Vec<IndexItem> {
        Vec::new()
    }
}

macro_rules! tuple_index {
    ($($name:ident),+) => {
        impl<$($name: IndexElem),+> IndexSpec for ($($name,)+) {
            #[allow(non_snake_case)]
            fn index_items(self) -> Vec<IndexItem> {
                let ($($name,)+) = self;
                vec![$($name.index_item()),+]
            }
        }
    };
}
tuple_index!(A);
tuple_index!(A, B);
tuple_index!(A, B, C);
tuple_index!(A, B, C, D);
tuple_index!(A, B, C, D, E);
tuple_index!(A, B, C, D, E, F);

// ---- normalised index -------------------------------------------------------------

/// An index item after masks and the ellipsis are expanded.
#[derive(Clone, Debug)]
enum Item {
    /// A static integer, already wrapped once if negative (may be out of range).
    Int(i64),
    Slice(Slice),
    NewAxis,
    /// An integer array (any rank, 0-d included).
    Array(Array),
}

/// Expands masks and the ellipsis; every dim of `x` gets exactly one consuming item.
#[track_caller]
fn normalize(op: &str, x: &Array, items: Vec<IndexItem>) -> Vec<Item> {
    let mut out: Vec<Option<Item>> = Vec::new(); // None marks the ellipsis
    let mut consumed = 0usize;
    let mut ellipses = 0;
    for item in items {
        match item {
            IndexItem::Int(i) => {
                consumed += 1;
                out.push(Some(Item::Int(i)));
            }
            IndexItem::Slice(sl) => {
                if sl.step == 0 {
                    user_error(format!("{op}: slice step cannot be zero"));
                }
                consumed += 1;
                out.push(Some(Item::Slice(sl)));
            }
            IndexItem::NewAxis => out.push(Some(Item::NewAxis)),
            IndexItem::Ellipsis => {
                ellipses += 1;
                if ellipses > 1 {
                    user_error(format!(
                        "{op}: an index can only have a single ellipsis (Ellipsis)"
                    ));
                }
                out.push(None);
            }
            IndexItem::Array(a) if a.dtype().is_bool() => {
                let dims = mask_to_indices(op, x, consumed, &a);
                consumed += a.ndim();
                if a.ndim() == 0 {
                    out.push(Some(Item::NewAxis));
                }
                out.extend(dims.into_iter().map(|d| Some(Item::Array(d))));
            }
            IndexItem::Array(a) => {
                if !a.dtype().is_int() {
                    user_error(format!(
                        "{op}: index arrays must be integers or booleans, got {}",
                        a.aval()
                    ));
                }
                consumed += 1;
                out.push(Some(Item::Array(a)));
            }
        }
    }
    if consumed > x.ndim() {
        user_error(format!(
            "{op}: too many indices for array: array is {}-dimensional, but {consumed} were \
             indexed",
            x.ndim()
        ));
    }
    let fill = x.ndim() - consumed;
    let full = || Some(Item::Slice(s(None, None, 1)));
    if ellipses == 0 {
        out.extend((0..fill).map(|_| full()));
    }
    let mut result = Vec::new();
    for it in out {
        match it {
            Some(i) => result.push(i),
            None => result.extend((0..fill).map(|_| full().expect("slice"))),
        }
    }
    result
}

/// The true positions of a concrete boolean mask covering dims `first..` of `x`, as
/// one int32 index array per mask dim.
#[track_caller]
fn mask_to_indices(op: &str, x: &Array, first: usize, mask: &Array) -> Vec<Array> {
    if !mask.is_concrete() {
        user_error(format!(
            "{op}: a boolean mask index must be concrete: the shape of the result would \
             depend on traced values ({}); use jnp::where_ with a fill value instead",
            mask.aval()
        ));
    }
    if mask.ndim() == 0 {
        if !mask.item::<bool>() {
            user_error(format!(
                "{op}: a scalar False mask (an empty result) is not supported"
            ));
        }
        return Vec::new();
    }
    let end = first + mask.ndim();
    if end > x.ndim() || x.shape()[first..end] != *mask.shape() {
        user_error(format!(
            "{op}: boolean mask of shape {:?} does not match the indexed dims of an array of \
             shape {:?}",
            mask.shape(),
            x.shape()
        ));
    }
    let values = mask.to_vec::<bool>();
    let strides = oxla::strides_of(mask.shape());
    let mut coords: Vec<Vec<i32>> = vec![Vec::new(); mask.ndim()];
    for (flat, _) in values.iter().enumerate().filter(|(_, &v)| v) {
        for (d, c) in coords.iter_mut().enumerate() {
            c.push(((flat / strides[d]) % mask.shape()[d]) as i32);
        }
    }
    coords
        .into_iter()
        .map(|c| {
            let n = c.len();
            Array::from_vec(&[n], c)
        })
        .collect()
}

/// The dtype index arrays are converted to: int32 unless some array needs 64 bits.
fn index_dtype<'a>(arrays: impl IntoIterator<Item = &'a Array>) -> DType {
    let wide = arrays
        .into_iter()
        .any(|a| matches!(a.dtype(), DType::I64 | DType::U64 | DType::U32));
    if wide {
        DType::I64
    } else {
        DType::I32
    }
}

/// `idx` as `dtype` with negative entries wrapped once by adding `n`.
#[track_caller]
fn wrap_indices(idx: &Array, dtype: DType, n: usize) -> Array {
    let idx = lax::convert_element_type(idx, dtype);
    let zero = Array::scalar_i128(0, dtype, false);
    let size = Array::scalar_i128(n as i128, dtype, false);
    lax::select(&lax::lt(&idx, &zero), &lax::add(&idx, &size), &idx)
}

/// A static integer wrapped once; the result is kept within [-1, n] so it fits any
/// index dtype while staying out of range exactly when the original was.
fn wrap_static(i: i64, n: usize) -> i64 {
    let n = n as i64;
    let i = if i < 0 { i + n } else { i };
    i.clamp(-1, n)
}

// ---- basic indexing ---------------------------------------------------------------

fn is_basic(items: &[Item]) -> bool {
    items
        .iter()
        .all(|it| !matches!(it, Item::Array(a) if a.ndim() > 0))
}

/// Integers, slices, new axes and 0-d index arrays via slice / rev / dynamic_slice /
/// squeeze / broadcast_in_dim (clamping out-of-range integers like JAX).
#[track_caller]
fn basic_index(op: &str, x: &Array, items: &[Item]) -> Array {
    let r = x.ndim();
    let (mut start, mut limit, mut strides) = (vec![0; r], x.shape().to_vec(), vec![1; r]);
    let (mut reversed, mut squeezed, mut newaxes) = (Vec::new(), Vec::new(), Vec::new());
    let mut dynamic: Vec<(usize, Array)> = Vec::new();
    let (mut d, mut out_pos) = (0, 0);
    for it in items {
        let n = x.shape().get(d).copied().unwrap_or(0);
        match it {
            Item::NewAxis => {
                newaxes.push(out_pos);
                out_pos += 1;
                continue;
            }
            Item::Int(i) => {
                if n == 0 {
                    user_error(format!(
                        "{op}: index {i} is out of bounds for axis {d} with size 0"
                    ));
                }
                let i = wrap_static(*i, n).clamp(0, n as i64 - 1) as usize;
                (start[d], limit[d]) = (i, i + 1);
                squeezed.push(d);
            }
            Item::Array(a) => {
                if n == 0 {
                    user_error(format!(
                        "{op}: cannot index axis {d} of size 0 with an integer"
                    ));
                }
                dynamic.push((d, a.clone()));
                squeezed.push(d);
            }
            Item::Slice(sl) => {
                let (first, len) = sl.indices(n);
                let step = sl.step.unsigned_abs() as usize;
                let lo = if sl.step > 0 {
                    first
                } else {
                    first + (len as i64 - 1).max(0) * sl.step
                };
                let lo = if len == 0 { 0 } else { lo as usize };
                (start[d], limit[d], strides[d]) = (lo, lo + (len.max(1) - 1) * step + 1, step);
                if len == 0 {
                    (limit[d], strides[d]) = (0, 1);
                }
                if sl.step < 0 && len > 1 {
                    reversed.push(d);
                }
                out_pos += 1;
            }
        }
        d += 1;
    }
    let mut y = lax::slice(x, &start, &limit, Some(&strides));
    y = lax::rev(&y, &reversed);
    if !dynamic.is_empty() {
        y = dynamic_ints(&y, &dynamic);
    }
    y = lax::squeeze(&y, &squeezed);
    if newaxes.is_empty() {
        y
    } else {
        lax::expand_dims(&y, &newaxes)
    }
}

/// A size-1 `dynamic_slice` at each 0-d index array (other dims whole).
#[track_caller]
fn dynamic_ints(y: &Array, dynamic: &[(usize, Array)]) -> Array {
    let dtype = index_dtype(dynamic.iter().map(|(_, a)| a));
    let mut starts: Vec<Array> = (0..y.ndim())
        .map(|_| Array::scalar_i128(0, dtype, false))
        .collect();
    let mut sizes = y.shape().to_vec();
    for (d, a) in dynamic {
        starts[*d] = lax::convert_element_type(a, dtype);
        sizes[*d] = 1;
    }
    lax::dynamic_slice(y, &starts, &sizes)
}

// ---- gather plan ------------------------------------------------------------------

/// One dim of the indexed result.
#[derive(Clone, Debug)]
enum OutDim {
    /// A unit-step slice of operand dim `dim` (a gather window).
    Window {
        dim: usize,
        start: i64,
        len: usize,
    },
    /// A strided or reversed slice of `dim`: `start + step * i` for `i < len`.
    Strided {
        dim: usize,
        start: i64,
        step: i64,
        len: usize,
    },
    /// The broadcast shape of the advanced (integer and array) indices.
    Advanced,
    NewAxis,
}

/// An index expressed as one gather (or scatter) of the original array.
struct GatherPlan {
    indices: Array,
    dnums: GatherDimensionNumbers,
    slice_sizes: Vec<usize>,
    /// The gather's output shape.
    gather_shape: Vec<usize>,
    /// The indexed shape: the gather's shape with the new axes inserted.
    shape: Vec<usize>,
    /// Positions of the new axes in `shape`.
    newaxes: Vec<usize>,
}

/// Builds the gather of `x` that computes the index `items`.
#[track_caller]
fn gather_plan(op: &str, x: &Array, items: &[Item]) -> GatherPlan {
    let r = x.ndim();
    // Advanced items: their operand dims, values and positions in the item list.
    let mut adv: Vec<(usize, Option<Array>, i64)> = Vec::new(); // (dim, array, static)
    let mut adv_pos = Vec::new();
    let mut dims_of_items = Vec::new();
    let mut d = 0;
    for (p, it) in items.iter().enumerate() {
        dims_of_items.push(d);
        match it {
            Item::Int(i) => {
                adv.push((d, None, wrap_static(*i, x.shape()[d])));
                adv_pos.push(p);
            }
            Item::Array(a) => {
                adv.push((d, Some(a.clone()), 0));
                adv_pos.push(p);
            }
            Item::NewAxis => continue,
            Item::Slice(_) => {}
        }
        d += 1;
    }
    let arrays: Vec<&Array> = adv.iter().filter_map(|(_, a, _)| a.as_ref()).collect();
    let dtype = index_dtype(arrays.iter().copied());
    let shapes: Vec<&[usize]> = arrays.iter().map(|a| a.shape()).collect();
    let Some(bshape) = try_broadcast_shapes(&shapes) else {
        user_error(format!(
            "{op}: index arrays of shapes {shapes:?} do not broadcast together"
        ))
    };
    let adjacent = adv_pos.windows(2).all(|w| w[1] == w[0] + 1);

    // The layout of the result.
    let mut layout = Vec::new();
    if !adv.is_empty() && !adjacent {
        layout.push(OutDim::Advanced);
    }
    for (p, it) in items.iter().enumerate() {
        let dim = dims_of_items[p];
        match it {
            Item::NewAxis => layout.push(OutDim::NewAxis),
            Item::Slice(sl) => {
                let (start, len) = sl.indices(x.shape()[dim]);
                if sl.step == 1 {
                    layout.push(OutDim::Window { dim, start, len });
                } else {
                    layout.push(OutDim::Strided {
                        dim,
                        start,
                        step: sl.step,
                        len,
                    });
                }
            }
            _ if adjacent && adv_pos.first() == Some(&p) => layout.push(OutDim::Advanced),
            _ => {}
        }
    }

    // Index batch shape (in result order) and where the advanced block starts in it.
    let mut batch = Vec::new();
    let mut adv_at = 0;
    let mut strided_at = vec![0; r];
    for o in &layout {
        match o {
            OutDim::Advanced => {
                adv_at = batch.len();
                batch.extend_from_slice(&bshape);
            }
            OutDim::Strided { dim, len, .. } => {
                strided_at[*dim] = batch.len();
                batch.push(*len);
            }
            _ => {}
        }
    }
    let mut comp_shape = batch.clone();
    comp_shape.push(1);

    // Index components, in operand dim order.
    let mut comps: Vec<(usize, Array)> = Vec::new();
    for (dim, a, i) in &adv {
        let v = match a {
            Some(a) => {
                let a = wrap_indices(a, dtype, x.shape()[*dim]);
                let a = super::promote::broadcast_to_shape(&a, &bshape);
                let to: Vec<usize> = (adv_at..adv_at + bshape.len()).collect();
                lax::broadcast_in_dim(&a, &comp_shape, &to)
            }
            None => constant_component(*i, dtype, &comp_shape),
        };
        comps.push((*dim, v));
    }
    let mut slice_sizes = vec![1; r];
    let mut offset_dims = Vec::new();
    let mut out_pos = 0;
    for o in &layout {
        match o {
            OutDim::Window { dim, start, len } => {
                slice_sizes[*dim] = *len;
                if *start != 0 && *len > 0 {
                    comps.push((*dim, constant_component(*start, dtype, &comp_shape)));
                }
                offset_dims.push(out_pos);
                out_pos += 1;
            }
            OutDim::Strided {
                dim,
                start,
                step,
                len,
            } => {
                let i = lax::iota(dtype, *len);
                let i = lax::mul(&i, &Array::scalar_i128(*step as i128, dtype, false));
                let i = lax::add(&i, &Array::scalar_i128(*start as i128, dtype, false));
                let v = lax::broadcast_in_dim(&i, &comp_shape, &[strided_at[*dim]]);
                comps.push((*dim, v));
                out_pos += 1;
            }
            OutDim::Advanced => out_pos += bshape.len(),
            OutDim::NewAxis => {}
        }
    }
    if comps.is_empty() && r > 0 {
        // A gather needs an index vector; start the first (whole) window at 0.
        comps.push((0, constant_component(0, dtype, &comp_shape)));
    }
    comps.sort_by_key(|(dim, _)| *dim);
    let start_index_map: Vec<usize> = comps.iter().map(|(dim, _)| *dim).collect();
    let mut collapsed: Vec<usize> = adv.iter().map(|(dim, _, _)| *dim).collect();
    collapsed.extend(layout.iter().filter_map(|o| match o {
        OutDim::Strided { dim, .. } => Some(*dim),
        _ => None,
    }));
    collapsed.sort_unstable();
    let values: Vec<Array> = comps.into_iter().map(|(_, v)| v).collect();
    let indices = lax::concatenate(&values, batch.len());

    let mut shape = Vec::new();
    let mut newaxes = Vec::new();
    for o in &layout {
        match o {
            OutDim::Window { len, .. } => shape.push(*len),
            OutDim::Strided { len, .. } => shape.push(*len),
            OutDim::Advanced => shape.extend_from_slice(&bshape),
            OutDim::NewAxis => {
                newaxes.push(shape.len());
                shape.push(1);
            }
        }
    }
    let gather_shape: Vec<usize> = shape
        .iter()
        .enumerate()
        .filter(|(i, _)| !newaxes.contains(i))
        .map(|(_, &n)| n)
        .collect();
    GatherPlan {
        indices,
        dnums: GatherDimensionNumbers {
            offset_dims,
            collapsed_slice_dims: collapsed,
            start_index_map,
            operand_batching_dims: vec![],
            start_indices_batching_dims: vec![],
        },
        slice_sizes,
        gather_shape,
        shape,
        newaxes,
    }
}

fn constant_component(v: i64, dtype: DType, shape: &[usize]) -> Array {
    let c = Array::scalar_i128(v as i128, dtype, false);
    lax::broadcast_in_dim(&c, shape, &[])
}

#[track_caller]
fn gather_index(
    op: &str,
    x: &Array,
    items: &[Item],
    mode: GatherScatterMode,
    fill_value: Option<f64>,
) -> Array {
    if x.ndim() == 0 {
        return basic_index(op, x, items);
    }
    let plan = gather_plan(op, x, items);
    let y = lax::gather(
        x,
        &plan.indices,
        &plan.dnums,
        &plan.slice_sizes,
        mode,
        fill_value,
    );
    debug_assert_eq!(y.shape(), &plan.gather_shape[..]);
    if plan.newaxes.is_empty() {
        y
    } else {
        lax::expand_dims(&y, &plan.newaxes)
    }
}

// ---- public API -------------------------------------------------------------------

impl Array {
    /// NumPy indexing (`x[idx]` in Python): integers, ranges, [`Slice`]s, [`NewAxis`],
    /// [`Ellipsis`], integer index arrays, concrete boolean masks, and tuples of these.
    /// Out-of-range integers clamp (after negative ones wrap once), like JAX.
    ///
    /// ```
    /// use jaxon::prelude::*;
    /// use jaxon::numpy as jnp;
    /// let x = jnp::array(&[0.0f32, 1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(x.i(-1).item::<f32>(), 4.0);
    /// assert_eq!(x.i(1..3).to_vec::<f32>(), vec![1.0, 2.0]);
    /// assert_eq!(x.i(jnp::s(Some(4), Some(0), -2)).to_vec::<f32>(), vec![4.0, 2.0]);
    /// let idx = jnp::array(&[3i32, 0, 9]);
    /// assert_eq!(x.i(&idx).to_vec::<f32>(), vec![3.0, 0.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn i(&self, idx: impl IndexSpec) -> Array {
        let items = normalize("index", self, idx.index_items());
        if is_basic(&items) {
            basic_index("index", self, &items)
        } else {
            gather_index(
                "index",
                self,
                &items,
                GatherScatterMode::PromiseInBounds,
                None,
            )
        }
    }

    /// Functional updates at an index: `x.at(idx).set(v)`, `.add(v)`, `.mul(v)`,
    /// `.min(v)`, `.max(v)`, `.get()` (JAX's `x.at[idx]`).
    #[track_caller]
    pub fn at(&self, idx: impl IndexSpec) -> At {
        At {
            x: self.clone(),
            items: idx.index_items(),
        }
    }
}

/// The result of [`Array::at`]: an array and an index, waiting for an update.
///
/// Updates drop out-of-range indices (JAX's default `FILL_OR_DROP` for scatters),
/// convert the value to the array's dtype and broadcast it to the indexed shape.
/// With duplicate indices, `add`/`mul`/`min`/`max` accumulate; which `set` wins is
/// unspecified.
#[derive(Clone, Debug)]
pub struct At {
    x: Array,
    items: Vec<IndexItem>,
}

macro_rules! at_updates {
    ($($(#[$doc:meta])* $name:ident, $with:ident => $kind:expr, $op:literal;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(&self, v: impl ArrayLike) -> Array {
            self.update($op, $kind, v.to_array(), GatherScatterMode::FillOrDrop)
        }

        /// The same update with an explicit out-of-bounds mode (`Clip` clamps).
        #[track_caller]
        pub fn $with(&self, v: impl ArrayLike, mode: GatherScatterMode) -> Array {
            self.update($op, $kind, v.to_array(), mode)
        }
    )*};
}

impl At {
    at_updates! {
        /// `x` with the indexed elements replaced by `v`.
        set, set_with => ScatterKind::Set, "at().set";
        /// `x` with `v` added at the index (duplicates accumulate).
        add, add_with => ScatterKind::Add, "at().add";
        /// `x` with the indexed elements multiplied by `v`.
        mul, mul_with => ScatterKind::Mul, "at().mul";
        /// `x` with the indexed elements replaced by their minimum with `v`.
        min, min_with => ScatterKind::Min, "at().min";
        /// `x` with the indexed elements replaced by their maximum with `v`.
        max, max_with => ScatterKind::Max, "at().max";
    }

    /// The indexed values, like `x.i(idx)` (out-of-range indices clamp).
    #[track_caller]
    pub fn get(&self) -> Array {
        self.x.i(self.items.clone())
    }

    /// The indexed values with an explicit mode; `FillOrDrop` returns `fill_value`
    /// (None: NaN, the int minimum, the uint maximum, or true) for out-of-range indices.
    #[track_caller]
    pub fn get_with(&self, mode: GatherScatterMode, fill_value: Option<f64>) -> Array {
        let items = normalize("at().get", &self.x, self.items.clone());
        gather_index("at().get", &self.x, &items, mode, fill_value)
    }

    #[track_caller]
    fn update(&self, op: &str, kind: ScatterKind, v: Array, mode: GatherScatterMode) -> Array {
        let x = &self.x;
        let items = normalize(op, x, self.items.clone());
        let v = lax::convert_element_type(&v, x.dtype());
        if x.ndim() == 0 {
            let shape: Vec<usize> = items.iter().map(|_| 1).collect();
            let v = lax::reshape(&broadcast_update(op, &v, &shape), &[]);
            return combine(kind, x, &v);
        }
        let plan = gather_plan(op, x, &items);
        let v = broadcast_update(op, &v, &plan.shape);
        let v = lax::reshape(&v, &plan.gather_shape);
        let dnums = ScatterDimensionNumbers {
            update_window_dims: plan.dnums.offset_dims.clone(),
            inserted_window_dims: plan.dnums.collapsed_slice_dims.clone(),
            scatter_dims_to_operand_dims: plan.dnums.start_index_map.clone(),
            operand_batching_dims: vec![],
            scatter_indices_batching_dims: vec![],
        };
        scatter_kind(kind, x, &plan.indices, &v, &dnums, mode)
    }
}

/// Broadcasts an update value to the indexed shape (NumPy rules).
#[track_caller]
fn broadcast_update(op: &str, v: &Array, shape: &[usize]) -> Array {
    match try_broadcast_shapes(&[v.shape(), shape]) {
        Some(s) if s == shape => super::promote::broadcast_to_shape(v, shape),
        _ => user_error(format!(
            "{op}: cannot broadcast the update of shape {:?} to the indexed shape {shape:?}",
            v.shape()
        )),
    }
}

/// The update of a 0-d array (no scatter needed).
#[track_caller]
fn combine(kind: ScatterKind, x: &Array, v: &Array) -> Array {
    let v = lax::convert_weak(v, x.dtype(), x.weak_type());
    match kind {
        ScatterKind::Set => v,
        ScatterKind::Add if x.dtype().is_bool() => lax::bitwise_or(x, &v),
        ScatterKind::Mul if x.dtype().is_bool() => lax::bitwise_and(x, &v),
        ScatterKind::Add => lax::add(x, &v),
        ScatterKind::Mul => lax::mul(x, &v),
        ScatterKind::Min => lax::min(x, &v),
        ScatterKind::Max => lax::max(x, &v),
    }
}

// ---- take / take_along_axis -------------------------------------------------------

/// Out-of-range handling of [`take_with`] and [`take_along_axis_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TakeMode {
    /// Out-of-range indices (after negative ones wrap once) give the fill value
    /// (default: NaN, the int minimum, the uint maximum, or true).
    Fill,
    /// Indices are clamped into range (`take`: negative ones clamp to 0;
    /// `take_along_axis`: negative ones wrap once first, like JAX).
    Clip,
    /// Indices wrap around (modulo the axis size).
    Wrap,
}

/// Converts `idx` for a take along an axis of size `n` under `mode`. `take` clips
/// negative indices to 0; `take_along_axis` wraps them once first (like JAX).
#[track_caller]
fn take_indices(
    op: &str,
    idx: &Array,
    n: usize,
    mode: TakeMode,
    wrap_before_clip: bool,
) -> (Array, GatherScatterMode) {
    if !idx.dtype().is_int() {
        user_error(format!(
            "{op}: indices must be integers, got {}",
            idx.aval()
        ));
    }
    if n == 0 {
        user_error(format!("{op}: cannot take from an axis of size 0"));
    }
    let dtype = index_dtype([idx]);
    match mode {
        TakeMode::Fill => (wrap_indices(idx, dtype, n), GatherScatterMode::FillOrDrop),
        TakeMode::Clip if wrap_before_clip => {
            (wrap_indices(idx, dtype, n), GatherScatterMode::Clip)
        }
        TakeMode::Clip => (
            lax::convert_element_type(idx, dtype),
            GatherScatterMode::Clip,
        ),
        TakeMode::Wrap => {
            let idx = lax::convert_element_type(idx, dtype);
            let size = Array::scalar_i128(n as i128, dtype, false);
            let r = lax::rem(&idx, &size);
            let zero = Array::scalar_i128(0, dtype, false);
            let r = lax::select(&lax::lt(&r, &zero), &lax::add(&r, &size), &r);
            (r, GatherScatterMode::PromiseInBounds)
        }
    }
}

/// Elements of `x` at `indices` along `axis` (`None`: of the flattened array).
/// Out-of-range indices give NaN (the int minimum, the uint maximum, true), JAX's
/// default `mode="fill"`.
///
/// ```
/// use jaxon::numpy as jnp;
/// let x = jnp::array(&[10.0f32, 20.0, 30.0]);
/// let y = jnp::take(&x, &jnp::array(&[2i32, -1, 3]), None).to_vec::<f32>();
/// assert_eq!(&y[..2], &[30.0, 30.0]);
/// assert!(y[2].is_nan());
/// ```
#[track_caller]
pub fn take(x: impl ArrayLike, indices: impl ArrayLike, axis: Option<i64>) -> Array {
    take_with(x, indices, axis, TakeMode::Fill, None)
}

/// [`take`] with an explicit mode and fill value.
#[track_caller]
pub fn take_with(
    x: impl ArrayLike,
    indices: impl ArrayLike,
    axis: Option<i64>,
    mode: TakeMode,
    fill_value: Option<f64>,
) -> Array {
    let (x, indices) = (x.to_array(), indices.to_array());
    let (a, axis) = match axis {
        None => (lax::reshape(&x, &[x.size()]), 0),
        Some(ax) => {
            let axis = canonical_axis("take", ax, x.ndim());
            (x, axis)
        }
    };
    let (idx, gmode) = take_indices("take", &indices, a.shape()[axis], mode, false);
    let k = idx.ndim();
    let mut idx_shape = idx.shape().to_vec();
    idx_shape.push(1);
    let idx = lax::reshape(&idx, &idx_shape);
    let mut slice_sizes = a.shape().to_vec();
    slice_sizes[axis] = 1;
    let offset_dims: Vec<usize> = (0..axis).chain(axis + k..a.ndim() + k - 1).collect();
    let dnums = GatherDimensionNumbers {
        offset_dims,
        collapsed_slice_dims: vec![axis],
        start_index_map: vec![axis],
        ..Default::default()
    };
    lax::gather(&a, &idx, &dnums, &slice_sizes, gmode, fill_value)
}

/// Elements of `arr` at `indices` along `axis`, pairing every other position
/// (NumPy's `take_along_axis`; the shapes broadcast outside `axis`). Out-of-range
/// indices give the fill value, like JAX's default.
///
/// ```
/// use jaxon::numpy as jnp;
/// let m = jnp::array(&[[3.0f32, 1.0, 2.0], [6.0, 5.0, 4.0]]);
/// let idx = jnp::argsort(&m, Some(1));
/// let sorted = jnp::take_along_axis(&m, &idx, 1);
/// assert_eq!(sorted.to_vec::<f32>(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// ```
#[track_caller]
pub fn take_along_axis(arr: impl ArrayLike, indices: impl ArrayLike, axis: i64) -> Array {
    take_along_axis_with(arr, indices, Some(axis), TakeMode::Fill, None)
}

/// [`take_along_axis`] with `axis: None` (flattened), a mode and a fill value.
#[track_caller]
pub fn take_along_axis_with(
    arr: impl ArrayLike,
    indices: impl ArrayLike,
    axis: Option<i64>,
    mode: TakeMode,
    fill_value: Option<f64>,
) -> Array {
    let op = "take_along_axis";
    let (arr, idx) = (arr.to_array(), indices.to_array());
    let (arr, axis) = match axis {
        None => {
            if idx.ndim() != 1 {
                user_error(format!(
                    "{op}: with axis None the indices must be 1-d, got shape {:?}",
                    idx.shape()
                ));
            }
            (lax::reshape(&arr, &[arr.size()]), 0)
        }
        Some(a) => (arr.clone(), canonical_axis(op, a, arr.ndim())),
    };
    if idx.ndim() != arr.ndim() {
        user_error(format!(
            "{op}: indices and arr must have the same number of dimensions, got shapes {:?} \
             and {:?}",
            idx.shape(),
            arr.shape()
        ));
    }
    let r = arr.ndim();
    let mut out_shape = Vec::with_capacity(r);
    for d in 0..r {
        let (a, i) = (arr.shape()[d], idx.shape()[d]);
        out_shape.push(match (a, i) {
            _ if d == axis => i,
            (a, i) if a == i || i == 1 => a,
            (1, i) => i,
            _ => user_error(format!(
                "{op}: shapes {:?} (arr) and {:?} (indices) do not broadcast outside axis {axis}",
                arr.shape(),
                idx.shape()
            )),
        });
    }
    let mut arr_shape = out_shape.clone();
    arr_shape[axis] = arr.shape()[axis];
    let all: Vec<usize> = (0..r).collect();
    let arr = lax::broadcast_in_dim(&arr, &arr_shape, &all);
    let (idx, gmode) = take_indices(op, &idx, arr_shape[axis], mode, true);
    let idx = lax::broadcast_in_dim(&idx, &out_shape, &all);
    let mut comp_shape = out_shape.clone();
    comp_shape.push(1);
    let comps: Vec<Array> = (0..r)
        .map(|d| {
            let c = if d == axis {
                idx.clone()
            } else {
                lax::broadcasted_iota(idx.dtype(), &out_shape, d)
            };
            lax::reshape(&c, &comp_shape)
        })
        .collect();
    let indices = lax::concatenate(&comps, r);
    let dnums = GatherDimensionNumbers {
        offset_dims: vec![],
        collapsed_slice_dims: all.clone(),
        start_index_map: all,
        ..Default::default()
    };
    lax::gather(&arr, &indices, &dnums, &vec![1; r], gmode, fill_value)
}
