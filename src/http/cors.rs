//! CORS (Fetch standard §3.2) for players on other origins.
//!
//! Browser players read `Content-Range` (byte-range reads, e.g. I-frame
//! playlists and SIDX-style access), `Content-Length` and `ETag`; response
//! headers beyond the CORS-safelisted ones are invisible to scripts unless
//! exposed.

/// Headers scripts may read.
pub const EXPOSE: &str =
    "Content-Length, Content-Range, Content-Type, ETag, Accept-Ranges, Edgepack-Omitted";
/// Methods a preflight allows.
pub const METHODS: &str = "GET, HEAD, OPTIONS";
/// Request headers a preflight allows.
pub const ALLOW_HEADERS: &str = "Range, If-None-Match, If-Modified-Since, If-Match, Origin";
/// Preflight cache lifetime, seconds.
pub const MAX_AGE: &str = "86400";

/// CORS headers for a response, given the configured allowed origin (`*`,
/// one origin, or empty for none).
pub fn headers(allow_origin: &str) -> Vec<(&'static str, String)> {
    if allow_origin.is_empty() {
        return Vec::new();
    }
    let mut h = vec![
        ("access-control-allow-origin", allow_origin.to_string()),
        ("access-control-expose-headers", EXPOSE.to_string()),
    ];
    if allow_origin != "*" {
        // The answer depends on the request's Origin (Fetch §3.2.5).
        h.push(("vary", "Origin".to_string()));
    }
    h
}
