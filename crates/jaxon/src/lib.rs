//! jaxon
