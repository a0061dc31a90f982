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

struct CacheKey {
    prim: Arc<dyn Primitive>,
    in_avals: Vec<(Vec<usize>, oxla::DType)>,
}

impl PartialEq for CacheKey {
    fn eq(&self, other: &CacheKey) -> bool {
        self.prim.dyn_eq(other.prim.as_any()) && self.in_avals == other.in_avals
    }
}

impl Eq for CacheKey {}

impl std::hash::Hash for CacheKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.prim.dyn_hash(state);
        self.in_avals.hash(state);
    }
}

/// Executables by primitive and input types (FxHash: looked up on every eager op).
fn cache() -> &'static Mutex<FxHashMap<CacheKey, Executable>> {
    static CACHE: OnceLock<Mutex<FxHashMap<CacheKey, Executable>>> = OnceLock::new();
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
    let in_avals: Vec<Aval> = args.iter().map(|a| a.aval()).collect();
    let key = CacheKey {
        prim,
        in_avals: in_avals
            .iter()
            .map(|a| (a.shape.clone(), a.dtype))
            .collect(),
    };
    if let Some(exe) = cache().lock().expect("eager cache lock").get(&key) {
        return exe.clone();
    }
    let module = lower_primitive(&*key.prim, &in_avals, out_avals);
    let exe = oxla::default_client().compile(module).unwrap_or_else(|e| {
        panic!(
            "{}: oxla failed to compile the primitive: {e}",
            key.prim.name()
        )
    });
    COMPILES.fetch_add(1, Ordering::Relaxed);
    cache()
        .lock()
        .expect("eager cache lock")
        .insert(key, exe.clone());
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
