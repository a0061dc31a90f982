//! Lowering a closed jaxpr to an oxla HLO module, about 1:1 per equation.

use super::aval::Aval;
use super::jaxpr::{Atom, ClosedJaxpr, Jaxpr};
use super::primitive::LowerCtx;
use oxla::{Builder, Literal, Module, Value};
use std::collections::HashMap;

/// The module computing `jaxpr`: parameters are the constvars, then the invars.
pub fn lower_jaxpr(name: &str, closed: &ClosedJaxpr) -> Module {
    let jaxpr = &closed.jaxpr;
    let mut b = Builder::new(name);
    let params: Vec<Value> = jaxpr
        .constvars
        .iter()
        .chain(&jaxpr.invars)
        .map(|v| b.parameter(v.aval.oxla_shape()))
        .collect();
    let (consts, args) = params.split_at(jaxpr.constvars.len());
    let results = lower_jaxpr_into(&mut b, jaxpr, consts, args);
    b.finish(&results)
}

/// Emits the equations of `jaxpr` into the current computation (or region) of `b`,
/// with `consts` and `args` as the values of its constvars and invars; returns the
/// values of its outputs. Higher-order primitives use it to lower their sub-jaxprs
/// into `while`/`conditional` regions.
pub fn lower_jaxpr_into(
    b: &mut Builder,
    jaxpr: &Jaxpr,
    consts: &[Value],
    args: &[Value],
) -> Vec<Value> {
    assert_eq!(
        consts.len(),
        jaxpr.constvars.len(),
        "lower_jaxpr_into: consts"
    );
    assert_eq!(args.len(), jaxpr.invars.len(), "lower_jaxpr_into: args");
    let mut env: HashMap<usize, Value> = HashMap::new();
    for (v, &x) in jaxpr.constvars.iter().zip(consts) {
        env.insert(v.id, x);
    }
    for (v, &x) in jaxpr.invars.iter().zip(args) {
        env.insert(v.id, x);
    }
    let read = |b: &mut Builder, env: &HashMap<usize, Value>, atom: &Atom| -> Value {
        match atom {
            Atom::Var(v) => env[&v.id],
            Atom::Literal(x) => b.constant(literal_of(x)),
        }
    };
    for eqn in &jaxpr.eqns {
        let args: Vec<Value> = eqn.inputs.iter().map(|a| read(b, &env, a)).collect();
        let in_avals: Vec<Aval> = eqn.inputs.iter().map(Atom::aval).collect();
        let out_avals: Vec<Aval> = eqn.outputs.iter().map(|v| v.aval.clone()).collect();
        let mut ctx = LowerCtx {
            b: &mut *b,
            in_avals: &in_avals,
            out_avals: &out_avals,
        };
        let outs = eqn.prim.lower(&mut ctx, &args);
        for (v, o) in eqn.outputs.iter().zip(outs) {
            env.insert(v.id, o);
        }
    }
    jaxpr.outvars.iter().map(|a| read(b, &env, a)).collect()
}

fn literal_of(x: &crate::array::Array) -> Literal {
    x.to_literal()
}
