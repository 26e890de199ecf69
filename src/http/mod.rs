//! HTTP semantics as plain functions over plain data, free of any runtime
//! (after pingora's `range_filter` / `conditional_filter`): what status,
//! which headers and which byte range a response gets. Every adapter
//! (Fastly, wasi:http, the browser's service worker) asks this module and
//! only copies the answer into its platform's response type, so Range,
//! conditional requests, validators, cache policy and CORS are decided once
//! and tested natively.

pub mod conditional;
pub mod cors;
pub mod etag;
pub mod range;
mod respond;

pub use respond::{
    error_head, for_body, for_generated, for_private, preflight_head, Delivery, Policy,
    RequestHead, ResponseHead, IMMUTABLE, NOSNIFF, PRIVATE,
};

/// The `Server-Timing` value of an answer (W3C Server Timing, `dur` in
/// milliseconds): `edgepack` is the module's time for the request from its
/// first instruction until the answer's head is ready, `desc` what the
/// output cache did (`hit`, `miss`, `collapsed`, `prefetched`; `packaged`
/// where there is no output cache or it is off); `cache` is the part of it
/// spent in the platform's cache calls. One format for every adapter, so
/// an operator reads every runtime's answers the same way.
pub fn server_timing(
    state: &str,
    total: std::time::Duration,
    cache: std::time::Duration,
) -> String {
    format!(
        "edgepack;desc=\"{state}\";dur={:.3}, cache;dur={:.3}",
        total.as_secs_f64() * 1000.0,
        cache.as_secs_f64() * 1000.0
    )
}

#[cfg(test)]
mod tests;
