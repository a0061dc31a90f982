//! Backends: code generators and runtimes for each kind of device.

pub mod cpu;
pub mod interp;
