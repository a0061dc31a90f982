//! LLVM code generation shared by the native backends.

pub mod math;
