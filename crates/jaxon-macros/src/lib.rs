//! Procedural macros for jaxon. `#[derive(Tree)]` arrives with the pytree work
//! (the transformations issue); the crate exists now so the workspace layout is final.
