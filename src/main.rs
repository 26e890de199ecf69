//! Fastly Compute entry point; all logic lives in the library.
//!
//! Built natively, the same binary is a small CLI that answers one request
//! path from a local directory (the same code path as the edge, with the
//! directory as the origin), handy for trying media without Viceroy:
//!
//! ```text
//! cargo run -- fixtures/media '/abr/abr.ism/manifest(format=m3u8-cmaf)' > out.m3u8
//! ```

#[cfg(all(target_arch = "wasm32", target_os = "wasi", target_env = "p1"))]
fn main() {
    edgepack::edge::main();
}

/// The other wasm builds are the library itself (the wasi:http component,
/// the browser module), not this binary.
#[cfg(all(
    target_arch = "wasm32",
    not(all(target_os = "wasi", target_env = "p1"))
))]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use edgepack::service::{materialize, serve, Config};
    use edgepack::source::{FileOrigin, MemoryCache};
    use edgepack::url::{parse, Route};
    use std::io::Write;

    let args: Vec<String> = std::env::args().collect();
    let [_, root, path] = &args[..] else {
        eprintln!("usage: edgepack ROOT REQUEST-PATH   (writes the response body to stdout)");
        return std::process::ExitCode::from(2);
    };
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path.as_str(), None),
    };
    let req = match parse(path, query) {
        Ok(Route::Stream(s)) => s,
        Ok(other) => {
            eprintln!("{other:?} is only served by the edge");
            return std::process::ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{}: {e}", e.http_status());
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut origin = FileOrigin::new(root);
    let mut cache = MemoryCache::default();
    let cfg = Config::default();
    let body = serve(&req, &mut origin, &mut cache, &cfg)
        .and_then(|out| materialize(&out, &mut origin, &cfg));
    match body {
        Ok(parts) => {
            let mut stdout = std::io::stdout().lock();
            for p in parts {
                if stdout.write_all(&p).is_err() {
                    return std::process::ExitCode::FAILURE;
                }
            }
            eprintln!("{} origin reads", origin.log.len());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", e.status());
            std::process::ExitCode::FAILURE
        }
    }
}
