//! The HLO text printer.

use super::ir::*;

/// The module as human-readable HLO text.
pub fn module_to_text(module: &Module) -> String {
    format!("{module:?}")
}
