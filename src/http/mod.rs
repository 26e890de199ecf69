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

#[cfg(test)]
mod tests;
