//! The lax primitives. Each file holds a family of primitives with all their rules
//! side by side, plus the thin `lax` functions that bind them.

pub mod collective;
pub mod control;
pub mod conv;
pub mod custom;
pub mod dot;
pub mod elementwise;
pub mod index;
pub mod reduce;
pub mod shape;
pub mod sort;
pub mod windowed;
