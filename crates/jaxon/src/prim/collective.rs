//! Collectives over a named axis: `psum`, `pmean`, `pmax`, `pmin`, `all_gather`,
//! `axis_index`. The axis is bound by `vmap_with(.., axis_name)` (and later by
//! `pmap`); under that vmap each collective becomes an operation over the batch
//! dimension. Outside any axis of that name binding one is an error.

use crate::array::Array;
use crate::core::aval::Aval;
use crate::core::primitive::{BatchOut, JvpOut, LinArg, LowerCtx, Primitive, RuleResult};
use crate::core::trace::bind1;
use crate::lax;
use crate::prim::reduce::ReduceKind;
use crate::transform::batching::{axis_names, axis_size};
use crate::transform::rules::{bdim_to_front, linear_jvp, move_axis};
use oxla::{DType, Value};

/// The reduction a reducing collective applies across the named axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CollectiveKind {
    Sum,
    Max,
    Min,
}

/// `psum` / `pmax` / `pmin` over a named axis.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PReduce {
    pub kind: CollectiveKind,
    pub axis_name: String,
}

fn check_bound(name: &str) -> Result<usize, String> {
    axis_size(name).ok_or_else(|| {
        let bound = axis_names();
        format!(
            "unbound axis name: {name} (bound axis names: {bound:?}); collectives need an enclosing \
             vmap_with(.., Some(\"{name}\")) or pmap"
        )
    })
}

fn unbound_lowering(name: &str) -> ! {
    // abstract_eval rejects unbound names before any lowering happens.
    panic!("collective over axis {name} reached lowering outside its vmap")
}

impl Primitive for PReduce {
    fn name(&self) -> &'static str {
        match self.kind {
            CollectiveKind::Sum => "psum",
            CollectiveKind::Max => "pmax",
            CollectiveKind::Min => "pmin",
        }
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("axes", format!("('{}',)", self.axis_name))]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        check_bound(&self.axis_name)?;
        match inputs {
            [x] => Ok(vec![x.clone()]),
            _ => Err(format!("expects 1 operand, got {}", inputs.len())),
        }
    }

    fn lower(&self, _ctx: &mut LowerCtx, _args: &[Value]) -> Vec<Value> {
        unbound_lowering(&self.axis_name)
    }

    fn axis_name(&self) -> Option<&str> {
        Some(&self.axis_name)
    }

    fn collective_batch(
        &self,
        args: &[Array],
        dims: &[Option<usize>],
        size: usize,
    ) -> RuleResult<BatchOut> {
        let x = &args[0];
        let out = match (dims[0], self.kind) {
            (Some(d), CollectiveKind::Sum) => lax::reduce(x, ReduceKind::Sum, &[d]),
            (Some(d), CollectiveKind::Max) => lax::reduce(x, ReduceKind::Max, &[d]),
            (Some(d), CollectiveKind::Min) => lax::reduce(x, ReduceKind::Min, &[d]),
            // Every lane holds the same value: the sum is size copies, max/min itself.
            (None, CollectiveKind::Sum) => lax::mul(x, &lax::full_like_scalar(x, size as f64)),
            (None, _) => x.clone(),
        };
        Ok((vec![out], vec![None]))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], _size: usize) -> RuleResult<BatchOut> {
        // A collective over another axis acts on every lane of this batch alike.
        Ok((vec![bind1(self.clone(), &args[..1])], vec![dims[0]]))
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        if self.kind != CollectiveKind::Sum {
            return Err(format!(
                "{} is not differentiable (like in JAX)",
                self.name()
            ));
        }
        let ans = bind1(self.clone(), primals);
        let t = tangents[0]
            .as_ref()
            .map(|t| bind1(self.clone(), std::slice::from_ref(t)));
        Ok((vec![ans], vec![t]))
    }

    fn transpose(&self, cts: &[Option<Array>], _args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        if self.kind != CollectiveKind::Sum {
            return Err(crate::core::primitive::no_rule(self.name(), "transpose"));
        }
        Ok(vec![cts[0]
            .as_ref()
            .map(|c| bind1(self.clone(), std::slice::from_ref(c)))])
    }
}

/// The sum of `x` over all lanes of the named axis (every lane gets the sum).
///
/// ```
/// use jaxon::prelude::*;
/// use jaxon::{lax, numpy as jnp};
/// let f = vmap_with(|x: Array| &x / lax::psum(&x, "i"), 0, 0, Some("i"));
/// assert_eq!(f(jnp::array(&[1.0f32, 3.0])).to_vec::<f32>(), vec![0.25, 0.75]);
/// ```
#[track_caller]
pub fn psum(x: &Array, axis_name: &str) -> Array {
    preduce(x, axis_name, CollectiveKind::Sum)
}

/// The maximum over the named axis.
#[track_caller]
pub fn pmax(x: &Array, axis_name: &str) -> Array {
    preduce(x, axis_name, CollectiveKind::Max)
}

/// The minimum over the named axis.
#[track_caller]
pub fn pmin(x: &Array, axis_name: &str) -> Array {
    preduce(x, axis_name, CollectiveKind::Min)
}

#[track_caller]
fn preduce(x: &Array, axis_name: &str, kind: CollectiveKind) -> Array {
    bind1(
        PReduce {
            kind,
            axis_name: axis_name.to_string(),
        },
        std::slice::from_ref(x),
    )
}

/// The mean over the named axis.
#[track_caller]
pub fn pmean(x: &Array, axis_name: &str) -> Array {
    let s = psum(x, axis_name);
    let n = axis_size(axis_name).unwrap_or(1);
    lax::div(&s, &lax::full_like_scalar(&s, n as f64))
}

/// `all_gather[axis_name, axis, axis_size]`: every lane gets all lanes' values
/// stacked along `axis`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AllGather {
    pub axis_name: String,
    pub axis: usize,
    pub axis_size: usize,
}

impl Primitive for AllGather {
    fn name(&self) -> &'static str {
        "all_gather"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("all_gather_dimension", self.axis.to_string()),
            ("axis_name", format!("'{}'", self.axis_name)),
            ("axis_size", self.axis_size.to_string()),
        ]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        check_bound(&self.axis_name)?;
        let [x] = inputs else {
            return Err(format!("expects 1 operand, got {}", inputs.len()));
        };
        if self.axis > x.ndim() {
            return Err(format!(
                "axis {} out of range for shape {:?}",
                self.axis, x.shape
            ));
        }
        let mut shape = x.shape.clone();
        shape.insert(self.axis, self.axis_size);
        Ok(vec![x.with_shape(shape)])
    }

    fn lower(&self, _ctx: &mut LowerCtx, _args: &[Value]) -> Vec<Value> {
        unbound_lowering(&self.axis_name)
    }

    fn axis_name(&self) -> Option<&str> {
        Some(&self.axis_name)
    }

    fn collective_batch(
        &self,
        args: &[Array],
        dims: &[Option<usize>],
        size: usize,
    ) -> RuleResult<BatchOut> {
        let x = bdim_to_front(&args[0], dims[0], size);
        Ok((vec![move_axis(&x, 0, self.axis)], vec![None]))
    }

    fn batch(&self, args: &[Array], dims: &[Option<usize>], size: usize) -> RuleResult<BatchOut> {
        let x = bdim_to_front(&args[0], dims[0], size);
        let inner = AllGather {
            axis: self.axis + 1,
            ..self.clone()
        };
        Ok((vec![bind1(inner, &[x])], vec![Some(0)]))
    }

    fn jvp(&self, primals: &[Array], tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        linear_jvp(self.clone(), primals, tangents)
    }

    fn transpose(&self, cts: &[Option<Array>], _args: &[LinArg]) -> RuleResult<Vec<Option<Array>>> {
        // Lane i's input appears at index i of every lane's output: sum the cotangents
        // over lanes, then take this lane's slice.
        Ok(vec![cts[0].as_ref().map(|ct| {
            let total = psum(ct, &self.axis_name);
            let i = axis_index(&self.axis_name);
            lax::dynamic_index_in_dim(&total, &i, self.axis, false)
        })])
    }
}

/// All lanes' values of `x` stacked along a new axis `axis`.
#[track_caller]
pub fn all_gather(x: &Array, axis_name: &str, axis: usize) -> Array {
    let size = match check_bound(axis_name) {
        Ok(s) => s,
        Err(msg) => crate::error::user_error(format!("all_gather: {msg}")),
    };
    bind1(
        AllGather {
            axis_name: axis_name.to_string(),
            axis,
            axis_size: size,
        },
        std::slice::from_ref(x),
    )
}

/// `axis_index[axis_name]`: this lane's position along the named axis (int32).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AxisIndex {
    pub axis_name: String,
}

impl Primitive for AxisIndex {
    fn name(&self) -> &'static str {
        "axis_index"
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![("axis_name", format!("'{}'", self.axis_name))]
    }

    fn abstract_eval(&self, inputs: &[Aval]) -> Result<Vec<Aval>, String> {
        check_bound(&self.axis_name)?;
        if !inputs.is_empty() {
            return Err("takes no operands".into());
        }
        Ok(vec![Aval::new(vec![], DType::I32)])
    }

    fn lower(&self, _ctx: &mut LowerCtx, _args: &[Value]) -> Vec<Value> {
        unbound_lowering(&self.axis_name)
    }

    fn axis_name(&self) -> Option<&str> {
        Some(&self.axis_name)
    }

    fn collective_batch(
        &self,
        _args: &[Array],
        _dims: &[Option<usize>],
        size: usize,
    ) -> RuleResult<BatchOut> {
        Ok((vec![lax::iota(DType::I32, size)], vec![Some(0)]))
    }

    fn jvp(&self, primals: &[Array], _tangents: &[Option<Array>]) -> RuleResult<JvpOut> {
        Ok((vec![bind1(self.clone(), primals)], vec![None]))
    }
}

/// This lane's index along the named axis.
#[track_caller]
pub fn axis_index(axis_name: &str) -> Array {
    bind1(
        AxisIndex {
            axis_name: axis_name.to_string(),
        },
        &[],
    )
}
