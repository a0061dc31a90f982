//! Checks for LLVM 19 before the build gets to llvm-sys, whose own error does not say
//! which package to install, and fingerprints oxla's source for the kernel cache
//! (`OXLA_SOURCE_HASH`): code from a changed code generator must never be reused.

use std::hash::{Hash, Hasher};
use std::path::Path;

/// Hashes every file under `dir`, in path order.
fn hash_tree(dir: &Path, h: &mut impl Hasher) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("oxla's src directory is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            hash_tree(&path, h);
        } else {
            path.file_name().hash(h);
            std::fs::read(&path)
                .expect("source file is readable")
                .hash(h);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=LLVM_SYS_191_PREFIX");
    println!("cargo:rerun-if-changed=src");
    let mut h = std::hash::DefaultHasher::new();
    hash_tree(Path::new("src"), &mut h);
    println!("cargo:rustc-env=OXLA_SOURCE_HASH={:016x}", h.finish());
    let prefix = std::env::var("LLVM_SYS_191_PREFIX").unwrap_or_else(|_| "/usr/lib/llvm-19".into());
    let config = Path::new(&prefix).join("bin").join("llvm-config");
    if !config.exists() {
        panic!(
            "\n\noxla needs LLVM 19, linked dynamically, and found no {}.\n\
             Install Debian's package llvm-19-dev:\n\n    sudo apt-get install -y llvm-19-dev\n\n\
             (or run tools/install-llvm). The prefix is pinned in .cargo/config.toml \
             (LLVM_SYS_191_PREFIX).\n",
            config.display()
        );
    }
}
