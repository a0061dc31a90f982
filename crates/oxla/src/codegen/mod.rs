//! Code generation shared by the native backends: the elemental IR emitter (LLVM IR
//! for one element of an HLO value), branch-free vector-friendly math, and the
//! scalar helpers generated code may call, and element functions with hand-written
//! vector bodies.

pub mod elemental;
pub mod helpers;
pub mod math;
pub mod variants;
