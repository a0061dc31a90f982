use crate::{Literal, Shape};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// An immutable array living on a device. Cloning shares the memory.
///
/// The interpreter keeps buffers in host memory as [`Literal`]s.
#[derive(Clone, Debug)]
pub struct Buffer {
    literal: Arc<Literal>,
    device: usize,
    /// Set when the buffer was donated to a computation: it may no longer be read.
    deleted: Arc<AtomicBool>,
}

impl Buffer {
    /// A buffer holding `literal` on device `device`.
    pub fn from_literal(literal: Literal, device: usize) -> Buffer {
        Buffer {
            literal: Arc::new(literal),
            device,
            deleted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A buffer sharing an existing host literal.
    pub fn from_shared(literal: Arc<Literal>, device: usize) -> Buffer {
        Buffer {
            literal,
            device,
            deleted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The shared host literal (no copy).
    pub fn shared_literal(&self) -> Arc<Literal> {
        self.literal.clone()
    }

    /// Marks the buffer (and every clone of it) as deleted, e.g. after donation.
    pub fn delete(&self) {
        self.deleted.store(true, Ordering::Release);
    }

    /// Whether the buffer was deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
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
