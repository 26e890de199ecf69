//! Response headers: content type, caching, validators and CORS.

use super::config::Settings;
use fastly::http::{header, FramingHeadersMode, StatusCode};
use fastly::Response;

/// One year: segments of a given source version never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Response headers a cross-origin script may read besides the safelisted
/// ones (Fetch §3.2.6 "CORS-safelisted response-header name"): players that
/// fetch byte ranges need `Content-Range` of a 206 (and `Accept-Ranges` to
/// know they may), hls.js and dash.js read `Content-Length`, caches `ETag`.
const EXPOSE_HEADERS: &str = "Content-Length, Content-Range, Content-Type, Accept-Ranges, ETag";

pub fn with_cors(s: &Settings, mut r: Response) -> Response {
    if !s.cors_origin.is_empty() {
        r.set_header(header::ACCESS_CONTROL_ALLOW_ORIGIN, s.cors_origin.as_str());
        r.set_header(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
        if s.cors_origin != "*" {
            r.set_header(header::VARY, "Origin");
        }
    }
    r
}

pub fn preflight(s: &Settings) -> Response {
    let mut r = with_cors(s, Response::from_status(StatusCode::NO_CONTENT));
    r.set_header(header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS");
    r.set_header(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        "Range, If-None-Match, If-Modified-Since, Origin",
    );
    r.set_header(header::ACCESS_CONTROL_MAX_AGE, "86400");
    r
}

/// An error: status and a one-line reason as text.
pub fn error(s: &Settings, status: StatusCode, reason: &str) -> Response {
    let mut r = text(
        s,
        status,
        "text/plain; charset=utf-8",
        &format!("{reason}\n"),
        false,
    );
    r.set_header(header::CACHE_CONTROL, "no-store");
    r
}

pub fn text(s: &Settings, status: StatusCode, ct: &str, body: &str, head: bool) -> Response {
    let mut r = with_cors(s, Response::from_status(status)).with_header(header::CONTENT_TYPE, ct);
    if !head {
        r.set_body(body);
    }
    r
}

/// FNV-1a, for ETags of generated bodies.
fn fnv(data: &[u8], seed: u64) -> u64 {
    data.iter().fold(seed, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

const FNV_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// A generated body (manifest, init segment).
pub fn body(
    s: &Settings,
    ct: &'static str,
    data: Vec<u8>,
    immutable: bool,
    head: bool,
) -> Response {
    let mut r =
        with_cors(s, Response::from_status(StatusCode::OK)).with_header(header::CONTENT_TYPE, ct);
    r.set_header(header::ETAG, format!("\"{:016x}\"", fnv(&data, FNV_SEED)));
    let cc = if immutable {
        IMMUTABLE.to_string()
    } else {
        format!("public, max-age={}", s.manifest_ttl)
    };
    r.set_header(header::CACHE_CONTROL, cc);
    if let Some(nm) = not_modified(s, &r) {
        return nm;
    }
    r.set_header(header::ACCEPT_RANGES, "bytes");
    let len = data.len() as u64;
    let (start, end) = match range_ask(s, len) {
        Ask::Whole => (0, len),
        Ask::Part(a, b) => {
            r = partial(r, a, b, len);
            (a, b)
        }
        Ask::Unsatisfiable => return unsatisfiable(s, len),
    };
    r.set_header(header::CONTENT_LENGTH, (end - start).to_string());
    r.set_framing_headers_mode(FramingHeadersMode::ManuallyFromHeaders);
    if !head {
        r.set_body(&data[start as usize..end as usize]);
    }
    r
}

/// Headers of a media segment; the length is known before any payload is
/// read, so the response is sent with Content-Length, not chunked.
pub fn segment_headers(
    s: &Settings,
    ct: &'static str,
    len: u64,
    source_etag: &str,
    seg_header: &[u8],
) -> Response {
    let mut r =
        with_cors(s, Response::from_status(StatusCode::OK)).with_header(header::CONTENT_TYPE, ct);
    r.set_header(header::CONTENT_LENGTH, len.to_string());
    r.set_header(header::ACCEPT_RANGES, "bytes");
    r.set_framing_headers_mode(FramingHeadersMode::ManuallyFromHeaders);
    r.set_header(header::CACHE_CONTROL, IMMUTABLE);
    // The header bytes pin down the samples; the source ETag pins the bytes.
    let tag = fnv(seg_header, fnv(source_etag.as_bytes(), FNV_SEED));
    r.set_header(header::ETAG, format!("\"{tag:016x}\""));
    r
}

/// A 304 for `r` when the request's `If-None-Match` lists its ETag
/// (RFC 9110 §13.1.2, weak comparison), keeping the validators and caching
/// headers; `None` to send `r`.
pub fn not_modified(s: &Settings, r: &Response) -> Option<Response> {
    let inm = s.if_none_match.as_deref()?;
    let tag = r.get_header_str(header::ETAG)?;
    let matches = inm
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == tag);
    if !matches {
        return None;
    }
    let mut nm = with_cors(s, Response::from_status(StatusCode::NOT_MODIFIED));
    for h in [header::ETAG, header::CACHE_CONTROL] {
        if let Some(v) = r.get_header_str(&h) {
            nm.set_header(&h, v.to_string());
        }
    }
    Some(nm)
}

/// What a `Range` header asks of a body of `len` bytes. Only single ranges
/// are honoured; anything else is answered whole, as RFC 9110 §14.2 allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    Whole,
    /// Bytes `start..end` (end exclusive).
    Part(u64, u64),
    Unsatisfiable,
}

pub fn range_ask(s: &Settings, len: u64) -> Ask {
    let Some(spec) = s
        .range
        .as_deref()
        .and_then(|r| r.trim().strip_prefix("bytes="))
    else {
        return Ask::Whole;
    };
    if spec.contains(',') {
        return Ask::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ask::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (true, false) => b.parse::<u64>().ok().map(|n| (len.saturating_sub(n), len)),
        (false, _) => a.parse::<u64>().ok().and_then(|start| {
            let end = if b.is_empty() {
                Some(len)
            } else {
                b.parse::<u64>().ok().map(|e| e.saturating_add(1).min(len))
            };
            end.map(|end| (start, end))
        }),
        _ => None,
    };
    match parsed {
        None => Ask::Whole,
        Some((start, end)) if start >= len || start >= end => Ask::Unsatisfiable,
        Some((start, end)) => Ask::Part(start, end),
    }
}

/// Turns a 200 with Content-Length `len` into the 206 for `start..end`.
pub fn partial(mut r: Response, start: u64, end: u64, len: u64) -> Response {
    r.set_status(StatusCode::PARTIAL_CONTENT);
    r.set_header(
        header::CONTENT_RANGE,
        format!("bytes {start}-{}/{len}", end - 1),
    );
    r.set_header(header::CONTENT_LENGTH, (end - start).to_string());
    r
}

/// 416 with the representation's length.
pub fn unsatisfiable(s: &Settings, len: u64) -> Response {
    let mut r = error(
        s,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range not satisfiable",
    );
    r.set_header(header::CONTENT_RANGE, format!("bytes */{len}"));
    r
}
