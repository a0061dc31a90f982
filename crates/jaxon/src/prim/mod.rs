//! The lax primitives. Each file holds a family of primitives with all their rules
//! side by side, plus the thin `lax` functions that bind them.

pub mod elementwise;
pub mod reduce;
pub mod shape;
