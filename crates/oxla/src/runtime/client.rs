use super::{Buffer, Executable};
use crate::hlo::ir::Module;
use crate::hlo::verify::verify_module;
use crate::{Error, Literal};
use std::sync::{Arc, OnceLock};

/// A compiled module, ready to run on literal inputs of one backend.
pub trait CompiledProgram: Send + Sync {
    fn run(&self, args: &[&Buffer]) -> Result<Vec<Buffer>, Error>;
}

/// A code generator and runtime for one kind of device.
pub trait Backend: Send + Sync {
    fn name(&self) -> &'static str;
    fn compile(&self, module: &Module) -> Result<Arc<dyn CompiledProgram>, Error>;
}

/// One device of a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: usize,
    pub kind: String,
}

/// Owns the devices of one backend and compiles modules for them.
#[derive(Clone)]
pub struct Client {
    backend: Arc<dyn Backend>,
    devices: Vec<Device>,
}

impl Client {
    /// A client for the interpreter backend (one host device).
    pub fn interpreter() -> Client {
        Client {
            backend: Arc::new(crate::backend::interp::InterpBackend),
            devices: vec![Device {
                id: 0,
                kind: "interpreter".to_string(),
            }],
        }
    }

    /// A client for the LLVM CPU backend (one host device).
    pub fn cpu() -> Client {
        Client {
            backend: Arc::new(crate::backend::cpu::CpuBackend),
            devices: vec![Device {
                id: 0,
                kind: "cpu".to_string(),
            }],
        }
    }

    pub fn platform_name(&self) -> &'static str {
        self.backend.name()
    }

    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// Copies a host literal to device 0.
    pub fn buffer_from_literal(&self, literal: Literal) -> Buffer {
        Buffer::from_literal(literal, self.devices[0].id)
    }

    /// Verifies and compiles a module.
    pub fn compile(&self, module: Module) -> Result<Executable, Error> {
        verify_module(&module).map_err(Error::InvalidModule)?;
        let program = self.backend.compile(&module)?;
        Ok(Executable::new(Arc::new(module), program))
    }
}

/// The process-wide default client: the LLVM CPU backend, or the interpreter when
/// the environment variable `OXLA_BACKEND=interpreter` is set.
pub fn default_client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| match std::env::var("OXLA_BACKEND").as_deref() {
        Ok("interpreter") => Client::interpreter(),
        _ => Client::cpu(),
    })
}
