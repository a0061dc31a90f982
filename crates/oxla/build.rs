//! Checks for LLVM 19 before the build gets to llvm-sys, whose own error does not say
//! which package to install.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=LLVM_SYS_191_PREFIX");
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
