//! jax.nn-style functions.
