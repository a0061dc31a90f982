//! The persistent kernel cache: compiled object code of each fused kernel on disk,
//! so that a second process compiling the same program skips LLVM.
//!
//! An entry is keyed by everything its code depends on: the fused computation (and
//! the computations it calls) exactly, constants bit for bit, the kernel kind, the
//! LLVM pass list and code-generation level, the host CPU and its features, the LLVM
//! version, and a hash of oxla's own source (so a changed code generator never reads
//! an old entry). The full key is stored in the entry and compared on load, so a
//! hash collision is a miss, never wrong code. Entries are written to a temporary
//! file and renamed, so concurrent processes never read half an entry.
//!
//! The cache lives in `$OXLA_CACHE_DIR`, else `$XDG_CACHE_HOME/oxla/kernels`, else
//! `$HOME/.cache/oxla/kernels`. `OXLA_CACHE_DIR=off` (or empty) turns it off, as does
//! [`set_dir`]`(None)`. When it holds more than [`MAX_ENTRIES`] entries or
//! [`MAX_BYTES`] bytes, the least recently written half goes.

use crate::hlo::ir::{CompId, FusionKind, Module, Op};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// Most entries, and bytes, the cache keeps before it drops the oldest half.
pub const MAX_ENTRIES: usize = 20_000;
pub const MAX_BYTES: u64 = 1 << 30;

/// A compiled kernel: its object code and what the runtime needs to call it.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedKernel {
    pub object: Vec<u8>,
    pub elements: usize,
    pub work_per_element: usize,
}

/// Kernels this process found in the cache, and kernels it stored there.
static HITS: AtomicUsize = AtomicUsize::new(0);
static STORES: AtomicUsize = AtomicUsize::new(0);

/// How many kernels this process has loaded from the cache and stored in it.
pub fn stats() -> (usize, usize) {
    (HITS.load(Ordering::Relaxed), STORES.load(Ordering::Relaxed))
}

/// `None` until first use, then the directory in force (`Some(None)`: off).
static DIR: Mutex<Option<Option<PathBuf>>> = Mutex::new(None);

/// Sets the cache directory for this process (`None` turns the cache off),
/// overriding `OXLA_CACHE_DIR`.
///
/// ```
/// oxla::backend::cpu::kernel_cache::set_dir(None); // always compile afresh
/// assert_eq!(oxla::backend::cpu::kernel_cache::dir(), None);
/// ```
pub fn set_dir(dir: Option<PathBuf>) {
    *DIR.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir);
}

/// The cache directory in force, or `None` when the cache is off.
pub fn dir() -> Option<PathBuf> {
    let mut dir = DIR.lock().unwrap_or_else(|e| e.into_inner());
    dir.get_or_insert_with(default_dir).clone()
}

fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("OXLA_CACHE_DIR") {
        if d.is_empty() || d == "off" {
            return None;
        }
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("oxla").join("kernels"))
}

/// The exact text a kernel's code depends on, short of the build fingerprint
/// (which goes into the entry's file name and header).
pub fn kernel_key(module: &Module, fused: CompId, kind: FusionKind, codegen: &str) -> String {
    use std::fmt::Write as _;
    let mut key = format!("{kind:?}\n{codegen}\n");
    let mut seen = vec![fused];
    let mut next = 0;
    while next < seen.len() {
        let mut comp = module.computation(seen[next]).clone();
        // Names do not change code; leaving them out lets equal kernels of
        // different programs share an entry.
        comp.name.clear();
        let _ = writeln!(key, "#{} {comp:?}", seen[next].0);
        for instr in &comp.instrs {
            // Debug prints every NaN alike; the bytes tell payloads apart.
            if let Op::Constant(lit) = &instr.op {
                for b in lit.data().to_bytes() {
                    let _ = write!(key, "{b:02x}");
                }
                key.push('\n');
            }
            for r in instr.op.regions() {
                if !seen.contains(&r) {
                    seen.push(r);
                }
            }
        }
        next += 1;
    }
    key
}

/// A stable 64-bit hash of `text` (SipHash with fixed keys), salted.
pub fn hash64(text: &str, salt: u64) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    salt.hash(&mut h);
    text.hash(&mut h);
    h.finish()
}

/// What besides the key decides the code: oxla's source, LLVM and the host CPU.
fn fingerprint() -> &'static str {
    static FP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FP.get_or_init(|| {
        let host = super::jit::host_machine();
        format!(
            "oxla {} src {} llvm {} cpu {} {}",
            env!("CARGO_PKG_VERSION"),
            env!("OXLA_SOURCE_HASH"),
            super::jit::llvm_version(),
            host.cpu,
            host.features
        )
    })
}

fn entry_path(dir: &Path, full_key: &str) -> PathBuf {
    dir.join(format!(
        "{:016x}{:016x}.kernel",
        hash64(full_key, 1),
        hash64(full_key, 2)
    ))
}

const MAGIC: &[u8; 8] = b"OXLAK01\n";

fn encode(full_key: &str, k: &CachedKernel) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 32 + full_key.len() + k.object.len());
    out.extend_from_slice(MAGIC);
    for n in [
        full_key.len(),
        k.elements,
        k.work_per_element,
        k.object.len(),
    ] {
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }
    out.extend_from_slice(full_key.as_bytes());
    out.extend_from_slice(&k.object);
    out
}

fn decode(full_key: &str, bytes: &[u8]) -> Option<CachedKernel> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let mut words = [0usize; 4];
    for (i, w) in words.iter_mut().enumerate() {
        let b: [u8; 8] = rest.get(i * 8..i * 8 + 8)?.try_into().ok()?;
        *w = usize::try_from(u64::from_le_bytes(b)).ok()?;
    }
    let [key_len, elements, work_per_element, object_len] = words;
    let body = &rest[32..];
    if body.len() != key_len.checked_add(object_len)? || &body[..key_len] != full_key.as_bytes() {
        return None;
    }
    Some(CachedKernel {
        object: body[key_len..].to_vec(),
        elements,
        work_per_element,
    })
}

/// The cached kernel for `key`, if the cache is on and holds it.
pub fn load(key: &str) -> Option<CachedKernel> {
    let dir = dir()?;
    let full_key = format!("{}\n{key}", fingerprint());
    let bytes = std::fs::read(entry_path(&dir, &full_key)).ok()?;
    let kernel = decode(&full_key, &bytes)?;
    HITS.fetch_add(1, Ordering::Relaxed);
    Some(kernel)
}

/// Stores `kernel` under `key` (best effort: a cache that cannot be written is
/// skipped silently, as it only costs compile time).
pub fn store(key: &str, kernel: &CachedKernel) {
    let Some(dir) = dir() else { return };
    static TRIM: Once = Once::new();
    TRIM.call_once(|| {
        let dir = dir.clone();
        // Trimming reads the whole directory; keep it off the compile path.
        std::thread::spawn(move || trim(&dir, MAX_ENTRIES, MAX_BYTES));
    });
    let full_key = format!("{}\n{key}", fingerprint());
    let path = entry_path(&dir, &full_key);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        // Unique per process and write: threads storing the same kernel at once
        // must not share a temporary file.
        static WRITES: AtomicUsize = AtomicUsize::new(0);
        let tmp = dir.join(format!(
            ".{}.{}.{}.tmp",
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed),
            hash64(&full_key, 3)
        ));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&encode(&full_key, kernel))?;
        drop(f);
        std::fs::rename(&tmp, &path)
    };
    if write().is_ok() {
        STORES.fetch_add(1, Ordering::Relaxed);
    }
}

/// Drops the least recently written entries, down to half of `max` entries and
/// half of `max_bytes`, when there are more than `max` or they hold more than
/// `max_bytes`.
pub fn trim(dir: &Path, max: usize, max_bytes: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "kernel"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((meta.modified().ok()?, meta.len(), e.path()))
        })
        .collect();
    let mut bytes: u64 = files.iter().map(|f| f.1).sum();
    if files.len() <= max && bytes <= max_bytes {
        return;
    }
    files.sort();
    let mut count = files.len();
    for (_, len, path) in &files {
        if count <= max / 2 && bytes <= max_bytes / 2 {
            break;
        }
        let _ = std::fs::remove_file(path);
        count -= 1;
        bytes -= len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_reject_other_keys() {
        let k = CachedKernel {
            object: vec![1, 2, 3, 255],
            elements: 4096,
            work_per_element: 3,
        };
        let bytes = encode("key a", &k);
        assert_eq!(decode("key a", &bytes), Some(k));
        assert_eq!(decode("key b", &bytes), None);
        assert_eq!(decode("key a", &bytes[..bytes.len() - 1]), None);
        assert_eq!(decode("key a", b"garbage"), None);
    }

    #[test]
    fn trim_keeps_the_newest_half() {
        let dir = std::env::temp_dir().join(format!("oxla-trim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..10 {
            std::fs::write(dir.join(format!("{i}.kernel")), [i as u8]).unwrap();
            let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000 + i);
            std::fs::File::options()
                .write(true)
                .open(dir.join(format!("{i}.kernel")))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        trim(&dir, 6, u64::MAX);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["7.kernel", "8.kernel", "9.kernel"]);
        // By size: three one-byte entries, at most two bytes: one stays.
        trim(&dir, 100, 2);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
