//! The interpreter backend: executes every HLO op directly on host [`Literal`]s.
//! Slow, simple and obviously right: it is the oracle for every other backend.

use crate::hlo::ir::Module;
use crate::runtime::{Backend, Buffer, CompiledProgram};
use crate::{Error, Literal};
use std::sync::Arc;

/// Evaluates the entry computation of `module` on `args`.
pub fn evaluate(module: &Module, args: &[Literal]) -> Result<Vec<Literal>, String> {
    let _ = (module, args);
    Err("interpreter not written yet".to_string())
}

/// The interpreter as a runtime backend.
pub struct InterpBackend;

struct InterpProgram {
    module: Arc<Module>,
}

impl Backend for InterpBackend {
    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn compile(&self, module: &Module) -> Result<Arc<dyn CompiledProgram>, Error> {
        Ok(Arc::new(InterpProgram {
            module: Arc::new(module.clone()),
        }))
    }
}

impl CompiledProgram for InterpProgram {
    fn run(&self, args: &[&Buffer]) -> Result<Vec<Buffer>, Error> {
        let literals: Vec<Literal> = args.iter().map(|b| b.to_literal()).collect();
        let out = evaluate(&self.module, &literals).map_err(Error::Runtime)?;
        Ok(out
            .into_iter()
            .map(|l| Buffer::from_literal(l, 0))
            .collect())
    }
}
