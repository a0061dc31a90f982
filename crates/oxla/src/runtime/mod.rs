//! The runtime: clients own devices and compile modules into executables that run
//! on device buffers.

mod buffer;
pub mod callbacks;
mod client;
mod executable;

pub use buffer::Buffer;
pub use client::{default_client, Backend, Client, CompiledProgram, Device};
pub use executable::Executable;
