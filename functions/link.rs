//! The build script of every function binary, and of `make bench`'s hello-world floor, so both
//! are linked the same way.
//!
//! - **Not position-independent** (`-no-pie`), on Linux, except in a `crt-static` build (see
//!   `main`). A PIE's loader applies every relative relocation before `main`: a vtable entry,
//!   the address in a static string table. The endpoint has 43,000 (1 MB of `.rela.dyn`), half
//!   of the instructions it runs to its first `/next` (callgrind), and the pages they write are
//!   page faults. Linked at a fixed address, the linker writes them into the file instead. This
//!   is how Go builds Lambda binaries by default; libc, the heap, the stack and every mapping
//!   stay randomized, only the binary's own image does not. Packed relocations
//!   (`-z pack-relative-relocs`) would keep a PIE, but need glibc 2.36: Lambda's
//!   `provided.al2023` has 2.34, and would refuse to load the binary.
//! - **`PRIVATELINK_LINK_MAP=<dir>`**: the linker also writes `<dir>/<package>.map`, the bytes
//!   each input section adds to the binary, from which `make bench` counts bytes by crate.
//!   Only the final link reads it: setting it rebuilds no dependency.

fn main() {
    println!("cargo:rerun-if-env-changed=PRIVATELINK_LINK_MAP");
    // A statically linked build (the release's validator command line, `crt-static`) is left as
    // rustc links it, a static PIE: `-no-pie` would turn it into a binary that still asks for the
    // dynamic loader, and crashes without one. Lambda's start-up is not its concern.
    let static_crt = std::env::var("CARGO_CFG_TARGET_FEATURE")
        .is_ok_and(|features| features.split(',').any(|f| f == "crt-static"));
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") && !static_crt {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    if let Some(dir) = std::env::var_os("PRIVATELINK_LINK_MAP") {
        let package = std::env::var("CARGO_PKG_NAME").expect("cargo sets CARGO_PKG_NAME");
        let map = std::path::Path::new(&dir).join(format!("{package}.map"));
        println!("cargo:rustc-link-arg-bins=-Wl,-Map={}", map.display());
    }
}
