//! Eager execution: each primitive is compiled alone through oxla (the same path as
//! jit), and the executable is cached by (primitive with params, input avals).

use super::aval::Aval;
use super::primitive::{LowerCtx, Primitive};
use crate::array::Array;
use crate::error::fail;
use oxla::{Builder, Executable};
use rustc_hash::FxHashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A compiled primitive and the signature it was compiled for.
struct Entry {
    prim: Arc<dyn Primitive>,
    in_types: Vec<(Vec<usize>, oxla::DType)>,
    exe: Executable,
}

impl Entry {
    fn matches(&self, prim: &dyn Primitive, args: &[Array]) -> bool {
        self.in_types.len() == args.len()
            && self
                .in_types
                .iter()
                .zip(args)
                .all(|((shape, dtype), a)| *dtype == a.dtype() && oxla::same_dims(shape, a.shape()))
            && self.prim.dyn_eq(prim.as_any())
    }
}

/// The hash of a call's signature, computed from the arguments without building a
/// key (looked up on every eager op).
fn signature_hash(prim: &dyn Primitive, args: &[Array]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    prim.dyn_hash(&mut h);
    for a in args {
        a.shape().hash(&mut h);
        a.dtype().hash(&mut h);
    }
    h.finish()
}

/// Executables by signature hash (entries with equal hashes share a bucket).
fn cache() -> &'static Mutex<FxHashMap<u64, Vec<Entry>>> {
    static CACHE: OnceLock<Mutex<FxHashMap<u64, Vec<Entry>>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

static COMPILES: AtomicUsize = AtomicUsize::new(0);

/// How many primitives eager mode has compiled so far in this process.
pub fn compile_count() -> usize {
    COMPILES.load(Ordering::Relaxed)
}

/// Builds the HLO module that applies `prim` once to parameters of `in_avals`.
pub fn lower_primitive(
    prim: &dyn Primitive,
    in_avals: &[Aval],
    out_avals: &[Aval],
) -> oxla::Module {
    let mut b = Builder::new(prim.name());
    let params: Vec<oxla::Value> = in_avals
        .iter()
        .map(|a| b.parameter(a.oxla_shape()))
        .collect();
    let mut ctx = LowerCtx {
        b: &mut b,
        in_avals,
        out_avals,
    };
    let outs = prim.lower(&mut ctx, &params);
    b.finish(&outs)
}

fn executable_for(prim: Arc<dyn Primitive>, args: &[Array], out_avals: &[Aval]) -> Executable {
    let hash = signature_hash(&*prim, args);
    let found = cache()
        .lock()
        .expect("eager cache lock")
        .get(&hash)
        .and_then(|bucket| bucket.iter().find(|e| e.matches(&*prim, args)))
        .map(|e| e.exe.clone());
    if let Some(exe) = found {
        return exe;
    }
    let in_avals: Vec<Aval> = args.iter().map(|a| a.aval()).collect();
    let module = lower_primitive(&*prim, &in_avals, out_avals);
    let exe = oxla::default_client()
        .compile(module)
        .unwrap_or_else(|e| panic!("{}: oxla failed to compile the primitive: {e}", prim.name()));
    COMPILES.fetch_add(1, Ordering::Relaxed);
    let entry = Entry {
        prim,
        in_types: in_avals.into_iter().map(|a| (a.shape, a.dtype)).collect(),
        exe: exe.clone(),
    };
    cache()
        .lock()
        .expect("eager cache lock")
        .entry(hash)
        .or_default()
        .push(entry);
    exe
}

/// Runs `prim` on concrete `args`.
pub fn execute(
    prim: Arc<dyn Primitive>,
    args: &[Array],
    out_avals: Vec<Aval>,
    loc: &'static Location<'static>,
) -> Vec<Array> {
    let name = prim.name();
    let exe = executable_for(prim, args, &out_avals);
    let buffers: Vec<&oxla::Buffer> = args.iter().map(|a| a.buffer()).collect();
    let outs = exe
        .execute(&buffers)
        .unwrap_or_else(|e| fail(format!("{name}: execution failed: {e}"), loc));
    outs.into_iter()
        .zip(out_avals)
        .map(|(buf, aval)| Array::from_buffer(buf, aval.weak_type))
        .collect()
}
