//! Code generation shared by the native backends: the elemental IR emitter (LLVM IR
//! for one element of an HLO value) and the scalar helpers it may call.

pub mod elemental;
pub mod helpers;
