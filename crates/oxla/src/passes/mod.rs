//! HLO passes.

pub mod fusion;
