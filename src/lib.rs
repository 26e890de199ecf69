//! edgepack: dynamic packaging of ISO BMFF (MP4) into HLS, DASH and Smooth
//! Streaming, built to run at the CDN edge.
//!
//! This crate's core is platform-free and sans-IO: it is handed bytes, says
//! which byte ranges it needs next, and returns manifests and segments as
//! generated headers plus borrowed payload slices. The Fastly adapter lives
//! in `edge` (wasm32-wasip1 only), the WASI 0.2 `wasi:http/proxy` one in
//! `wasi_http` (wasm32-wasip2 only), the browser one (wasm-bindgen) in
//! `browser` (wasm32-unknown-unknown only; its logic is also built for
//! native tests).

pub mod access;
pub mod auth;
#[cfg(any(all(target_arch = "wasm32", target_os = "unknown"), test))]
pub mod browser;
pub mod codec;
pub mod crypto;
pub mod deliver;
#[cfg(all(target_arch = "wasm32", target_os = "wasi", target_env = "p1"))]
pub mod edge;
pub mod entry;
pub mod error;
pub mod filter;
pub mod http;
pub mod index;
pub mod input;
pub mod job;
pub mod locator;
pub mod manifest;
pub mod media_set;
pub mod model;
pub mod mp4;
pub mod mux;
pub mod outputs;
pub mod plan;
pub mod service;
pub mod settings;
pub mod source;
pub mod summary;
#[cfg(test)]
pub(crate) mod testutil;
pub mod timeline;
pub mod token;
pub mod url;
#[cfg(all(target_arch = "wasm32", target_os = "wasi", target_env = "p2"))]
pub mod wasi_http;
