use crate::{Literal, Shape};
use std::sync::Arc;

/// An immutable array living on a device. Cloning shares the memory.
///
/// The interpreter keeps buffers in host memory as [`Literal`]s.
#[derive(Clone, Debug)]
pub struct Buffer {
    literal: Arc<Literal>,
    device: usize,
}

impl Buffer {
    /// A buffer holding `literal` on device `device`.
    pub fn from_literal(literal: Literal, device: usize) -> Buffer {
        Buffer {
            literal: Arc::new(literal),
            device,
        }
    }

    pub fn shape(&self) -> &Shape {
        self.literal.shape()
    }

    pub fn device_id(&self) -> usize {
        self.device
    }

    /// The contents, copied to the host when the buffer lives elsewhere.
    pub fn to_literal(&self) -> Literal {
        (*self.literal).clone()
    }

    /// The contents without a copy, for host-resident buffers.
    pub fn literal(&self) -> &Literal {
        &self.literal
    }

    /// Waits until the buffer's contents are computed (the interpreter is synchronous).
    pub fn block_until_ready(&self) {}
}
