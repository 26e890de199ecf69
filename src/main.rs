//! Fastly Compute entry point; all logic lives in the library.

#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
fn main() {
    edgepack::edge::main();
}

/// Natively the binary only points at the real entry points.
#[cfg(not(all(target_arch = "wasm32", target_os = "wasi")))]
fn main() {
    eprintln!("edgepack runs on Fastly Compute: build with --target wasm32-wasip1 (see README)");
}
