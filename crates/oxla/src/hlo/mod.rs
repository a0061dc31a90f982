//! The HLO IR, its builder, verifier and text form.

pub mod builder;
pub mod cost;
pub mod ir;
pub mod text;
pub mod verify;
