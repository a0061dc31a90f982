use super::{Buffer, CompiledProgram};
use crate::hlo::ir::Module;
use crate::Error;
use std::sync::Arc;

/// A compiled module. Running it checks argument shapes first.
#[derive(Clone)]
pub struct Executable {
    module: Arc<Module>,
    program: Arc<dyn CompiledProgram>,
}

impl Executable {
    pub(crate) fn new(module: Arc<Module>, program: Arc<dyn CompiledProgram>) -> Executable {
        Executable { module, program }
    }

    /// The module this executable was compiled from.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Runs the program; one buffer per parameter of the entry computation.
    pub fn execute(&self, args: &[&Buffer]) -> Result<Vec<Buffer>, Error> {
        let params = &self.module.entry_computation().params;
        if params.len() != args.len() {
            return Err(Error::InvalidArgument(format!(
                "{} expects {} arguments, got {}",
                self.module.name,
                params.len(),
                args.len()
            )));
        }
        for (i, (p, a)) in params.iter().zip(args).enumerate() {
            if !p.same_as(a.shape()) {
                return Err(Error::InvalidArgument(format!(
                    "{}: argument {i} should be {p}, got {}",
                    self.module.name,
                    a.shape()
                )));
            }
        }
        self.program.run(args)
    }
}
