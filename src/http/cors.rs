//! CORS (Fetch standard §3.2) for players on other origins.
//!
//! Browser players read `Content-Range` (byte-range reads, e.g. I-frame
//! playlists and SIDX-style access), `Content-Length` and `ETag`; response
//! headers beyond the CORS-safelisted ones are invisible to scripts unless
//! exposed.
//!
//! The `cors_origin` setting is `*` (any origin), empty (no CORS headers)
//! or a comma-separated allow-list of origins
//! (`https://a.example, https://b.example:8443`). `Access-Control-Allow-Origin`
//! holds one origin or `*`, never a list (Fetch, "HTTP responses" of the
//! CORS protocol), so with a list the request's `Origin` is echoed when it
//! is listed and nothing is sent otherwise; since the answer then depends
//! on `Origin`, `Vary: Origin` is always sent with a list (Fetch, "CORS
//! protocol and HTTP caches"; RFC 9110 §12.5.5), or a shared cache could
//! hand one site's answer to another.

/// Headers scripts may read: a player's own monitoring may report what
/// the edge did (`Server-Timing`, `X-Edgepack-Cache`).
pub const EXPOSE: &str = "Content-Length, Content-Range, Content-Type, ETag, Accept-Ranges, \
     Edgepack-Omitted, Server-Timing, X-Edgepack-Cache";
/// Methods a preflight allows.
/// POST is for the ClearKey licence route only (`url::Resource::Licence`).
pub const METHODS: &str = "GET, HEAD, OPTIONS, POST";
/// Request headers a preflight allows (`Content-Type`: an EME licence
/// request's `application/json` body).
pub const ALLOW_HEADERS: &str =
    "Range, If-None-Match, If-Modified-Since, If-Match, Origin, Content-Type";
/// Preflight cache lifetime, seconds.
pub const MAX_AGE: &str = "86400";

/// What `cors_origin` allows for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allow<'a> {
    /// CORS off: no headers at all.
    Off,
    /// `*`: any origin, the same answer for every request.
    Any,
    /// An allow-list: `Some(origin)` to echo (the request's own bytes),
    /// `None` when the request's origin is absent or not listed.
    Listed(Option<&'a str>),
}

/// Decides on the configured `allow_origin` and the request's `Origin`
/// header. A listed origin matches ASCII case-insensitively (scheme and
/// host are case-insensitive, RFC 3986 §3.1 and §3.2.2; browsers send them
/// lower-cased) and without a trailing `/` in the setting. `Origin: null`
/// (opaque origins: sandboxed frames, `file:` pages, some redirects;
/// Fetch, "`Origin` header") never matches: every such page sends the
/// same value. Only visible ASCII without spaces or commas is echoed, so
/// the header value is what the setting holds, up to case, whatever the
/// client sent.
pub fn allow<'a>(allow_origin: &str, request_origin: Option<&'a str>) -> Allow<'a> {
    let entries = allow_origin
        .split(',')
        .map(|e| e.trim().trim_end_matches('/'))
        .filter(|e| !e.is_empty());
    let mut listed = false;
    let mut echo = None;
    for e in entries {
        if e == "*" {
            return Allow::Any;
        }
        listed = true;
        if echo.is_none() {
            echo = request_origin.filter(|o| {
                !o.eq_ignore_ascii_case("null")
                    && o.bytes().all(|b| b.is_ascii_graphic() && b != b',')
                    && o.eq_ignore_ascii_case(e)
            });
        }
    }
    if listed {
        Allow::Listed(echo)
    } else {
        Allow::Off
    }
}

/// CORS headers for a response, given the configured allowed origin(s)
/// and the request's `Origin` (see [`allow`]).
pub fn headers(allow_origin: &str, request_origin: Option<&str>) -> Vec<(&'static str, String)> {
    let vary = ("vary", "Origin".to_string());
    let (acao, vary) = match allow(allow_origin, request_origin) {
        Allow::Off => return Vec::new(),
        Allow::Any => ("*", None),
        Allow::Listed(None) => return vec![vary],
        Allow::Listed(Some(origin)) => (origin, Some(vary)),
    };
    let mut h = vec![
        ("access-control-allow-origin", acao.to_string()),
        ("access-control-expose-headers", EXPOSE.to_string()),
    ];
    h.extend(vary);
    h
}
