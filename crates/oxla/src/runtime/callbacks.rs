//! The process-wide registry of host callbacks run by [`Op::HostCallback`].
//!
//! A callback is a Rust closure from the operand values to the result values. It is
//! registered once and referred to by its id in HLO; [`unregister`] frees it. The
//! backend calls it on the thread that executes the program, in program order.
//!
//! ```
//! use oxla::runtime::callbacks;
//! use oxla::{Builder, DType, Literal, Shape};
//! let id = callbacks::register(|xs: &[Literal]| vec![xs[0].clone(), xs[0].clone()]);
//! let mut b = Builder::new("dup");
//! let x = b.parameter(Shape::new(DType::F32, [2]));
//! let s = b.shape(x).clone();
//! let outs = b.host_callback(id, &[x], &[s.clone(), s]);
//! let module = b.finish(&outs);
//! let arg = Literal::from_vec(&[2], vec![1.0f32, 2.0]);
//! let got = oxla::backend::interp::evaluate(&module, &[arg.clone()]).unwrap();
//! assert_eq!(got, vec![arg.clone(), arg]);
//! callbacks::unregister(id);
//! ```
//!
//! [`Op::HostCallback`]: crate::Op::HostCallback

use crate::Literal;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A host callback: operand values in, result values out.
pub type HostFn = Arc<dyn Fn(&[Literal]) -> Vec<Literal> + Send + Sync>;

fn registry() -> &'static Mutex<HashMap<u64, HostFn>> {
    static REGISTRY: OnceLock<Mutex<HashMap<u64, HostFn>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<u64, HostFn>> {
    // A callback never runs under the lock, so a poisoned lock still holds a
    // consistent map.
    registry().lock().unwrap_or_else(|p| p.into_inner())
}

/// Registers `f` and returns its id (ids are never reused).
pub fn register(f: impl Fn(&[Literal]) -> Vec<Literal> + Send + Sync + 'static) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    lock().insert(id, Arc::new(f));
    id
}

/// Removes callback `id`; returns whether it was registered.
pub fn unregister(id: u64) -> bool {
    lock().remove(&id).is_some()
}

/// Whether callback `id` is registered.
pub fn is_registered(id: u64) -> bool {
    lock().contains_key(&id)
}

/// Calls callback `id` on `args` (outside the registry lock, so a callback may
/// register or call others). A panic of the callback propagates to the caller.
pub fn call(id: u64, args: &[Literal]) -> Result<Vec<Literal>, String> {
    let f = lock()
        .get(&id)
        .cloned()
        .ok_or_else(|| format!("host callback {id} is not registered"))?;
    Ok(f(args))
}
