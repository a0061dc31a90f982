//! Lowering a closed jaxpr to an oxla HLO module, about 1:1 per equation.

use super::aval::Aval;
use super::jaxpr::{Atom, ClosedJaxpr};
use super::primitive::LowerCtx;
use oxla::{Builder, Literal, Module, Value};
use std::collections::HashMap;

/// The module computing `jaxpr`: parameters are the constvars, then the invars.
pub fn lower_jaxpr(name: &str, closed: &ClosedJaxpr) -> Module {
    let jaxpr = &closed.jaxpr;
    let mut b = Builder::new(name);
    let mut env: HashMap<usize, Value> = HashMap::new();
    for v in jaxpr.constvars.iter().chain(&jaxpr.invars) {
        let p = b.parameter(v.aval.oxla_shape());
        env.insert(v.id, p);
    }
    let read = |b: &mut Builder, env: &HashMap<usize, Value>, atom: &Atom| -> Value {
        match atom {
            Atom::Var(v) => env[&v.id],
            Atom::Literal(x) => b.constant(literal_of(x)),
        }
    };
    for eqn in &jaxpr.eqns {
        let args: Vec<Value> = eqn.inputs.iter().map(|a| read(&mut b, &env, a)).collect();
        let in_avals: Vec<Aval> = eqn.inputs.iter().map(Atom::aval).collect();
        let out_avals: Vec<Aval> = eqn.outputs.iter().map(|v| v.aval.clone()).collect();
        let mut ctx = LowerCtx {
            b: &mut b,
            in_avals: &in_avals,
            out_avals: &out_avals,
        };
        let outs = eqn.prim.lower(&mut ctx, &args);
        for (v, o) in eqn.outputs.iter().zip(outs) {
            env.insert(v.id, o);
        }
    }
    let results: Vec<Value> = jaxpr
        .outvars
        .iter()
        .map(|a| read(&mut b, &env, a))
        .collect();
    b.finish(&results)
}

fn literal_of(x: &crate::array::Array) -> Literal {
    x.to_literal()
}
