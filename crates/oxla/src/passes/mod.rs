//! HLO optimization passes and the pipeline that runs them.
//!
//! Each pass rewrites a [`Module`] in place (by rebuilding computations) and says
//! whether it changed anything. A [`Pipeline`] runs passes in order, verifies the
//! module after each one (a pass that breaks it is named in the error), and, when the
//! environment variable `OXLA_DUMP` names a directory, writes the module's HLO text
//! before and after every pass there.
//!
//! Every rewrite is exact: the optimized module computes bit-identical results to the
//! original under the interpreter. The one caveat is signaling NaNs: float arithmetic
//! quiets them, so removing an identity such as `x * 1.0` can keep a signaling NaN
//! that the original would have quieted (as LLVM and XLA also do).
//!
//! Layout: every array is row-major, everywhere; there is no layout assignment pass.

mod constant_fold;
mod cse;
mod dce;
pub mod fusion;
pub mod rewrite;
mod simplify;

pub use constant_fold::{ConstantFold, FOLD_EXPAND_LIMIT, FOLD_LIMIT};
pub use cse::Cse;
pub use dce::Dce;
pub use simplify::Simplify;

use crate::hlo::verify::verify_module;
use crate::{Error, Module};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One module-to-module rewrite.
pub trait Pass: Send + Sync {
    /// Short name (used in errors and dump file names).
    fn name(&self) -> &'static str;
    /// Rewrites `module` in place; returns whether anything changed.
    fn run(&self, module: &mut Module) -> Result<bool, Error>;
}

/// An ordered list of passes.
#[derive(Default)]
pub struct Pipeline {
    passes: Vec<Box<dyn Pass>>,
}

/// Numbers dumps across the process so that modules with one name never collide.
static DUMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// The pipeline with `pass` appended.
    #[allow(clippy::should_implement_trait)] // builder style, as the API asks
    pub fn add(mut self, pass: impl Pass + 'static) -> Pipeline {
        self.passes.push(Box::new(pass));
        self
    }

    /// The names of the passes, in order.
    pub fn pass_names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    /// Runs every pass in order on `module`, verifying the input and the result of
    /// each pass; dumps before/after text when `OXLA_DUMP` is set.
    pub fn run(&self, module: &mut Module) -> Result<(), Error> {
        verify_module(module)
            .map_err(|e| Error::InvalidModule(format!("input to the pass pipeline: {e}")))?;
        let dump_dir = std::env::var_os("OXLA_DUMP")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        for pass in &self.passes {
            let dump = match &dump_dir {
                Some(dir) => Some(dump_before(dir, module, pass.name())?),
                None => None,
            };
            pass.run(module)?;
            if let Some(after) = dump {
                write_dump(&after, module)?;
            }
            verify_module(module)
                .map_err(|e| Error::InvalidModule(format!("after pass {}: {e}", pass.name())))?;
        }
        Ok(())
    }
}

/// Writes `<dir>/<module>.<NN>.<pass>.before.txt`; returns the path of the matching
/// `after` file.
fn dump_before(dir: &Path, module: &Module, pass: &str) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Runtime(format!("OXLA_DUMP: cannot create {}: {e}", dir.display())))?;
    let n = DUMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let stem = format!("{}.{n:02}.{pass}", sanitize(&module.name));
    write_dump(&dir.join(format!("{stem}.before.txt")), module)?;
    Ok(dir.join(format!("{stem}.after.txt")))
}

fn write_dump(path: &Path, module: &Module) -> Result<(), Error> {
    std::fs::write(path, module.to_string())
        .map_err(|e| Error::Runtime(format!("OXLA_DUMP: cannot write {}: {e}", path.display())))
}

/// A module name usable as a file name.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "module".to_string()
    } else {
        s
    }
}

/// The standard optimization passes: simplify, constant folding, CSE and DCE, twice
/// (one round exposes more work for the next: folded constants merge under CSE and
/// simplify again).
pub fn default_pipeline() -> Pipeline {
    Pipeline::new()
        .add(Simplify)
        .add(ConstantFold)
        .add(Cse)
        .add(Dce)
        .add(Simplify)
        .add(ConstantFold)
        .add(Cse)
        .add(Dce)
}

/// Runs [`default_pipeline`] on `module`.
pub fn optimize(module: &mut Module) -> Result<(), Error> {
    default_pipeline().run(module)
}
