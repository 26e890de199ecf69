//! Fastly responses from the platform-free HTTP decisions of
//! [`crate::http`]: this file only copies a status and headers into a
//! `fastly::Response`.

use super::config::Settings;
use crate::http::{self, Delivery, Policy, RequestHead, ResponseHead};
use fastly::http::{FramingHeadersMode, StatusCode};
use fastly::Response;

/// The deployment's response policy for this request (its `Origin`
/// decides the CORS answer).
pub fn policy(s: &Settings) -> Policy {
    s.deploy.policy().for_request_origin(s.origin.as_deref())
}

pub fn request_head(s: &Settings, head: bool) -> RequestHead {
    RequestHead {
        head,
        range: s.range.clone(),
        if_none_match: s.if_none_match.clone(),
    }
}

/// A `fastly::Response` with `head`'s status and headers. When the head
/// states a Content-Length it is sent as is (the body may come later, be
/// streamed, or be absent for HEAD).
pub fn to_response(head: &ResponseHead) -> Response {
    let status = StatusCode::from_u16(head.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut r = Response::from_status(status);
    for (name, value) in &head.headers {
        r.set_header(*name, value.as_str());
    }
    if head.get("content-length").is_some() {
        r.set_framing_headers_mode(FramingHeadersMode::ManuallyFromHeaders);
    }
    r
}

/// The response of a delivery that sends no payload (304, 416, HEAD).
pub fn without_payload(d: &Delivery) -> Response {
    let mut r = to_response(&d.head);
    if let Some(t) = &d.text {
        r.set_body(t.as_str());
    }
    r
}

pub fn with_cors(s: &Settings, status: StatusCode) -> Response {
    to_response(&ResponseHead::new(status.as_u16(), &policy(s)))
}

/// An error: status and a one-line reason as text, never cached.
pub fn error(s: &Settings, status: StatusCode, reason: &str) -> Response {
    let (head, body) = http::error_head(&policy(s), status.as_u16(), reason);
    to_response(&head).with_body(body)
}

/// A generated body (manifest, init segment), tagged by its bytes; Range
/// and If-None-Match are honoured.
pub fn body(s: &Settings, ct: &'static str, data: &[u8], immutable: bool, head: bool) -> Response {
    let d = http::for_generated(&request_head(s, head), &policy(s), ct, data, immutable);
    match d.body {
        Some((a, b)) => to_response(&d.head).with_body(&data[a as usize..b as usize]),
        None => without_payload(&d),
    }
}

/// A secret body (a content key): `private, no-store`, no validator
/// ([`http::for_private`]).
pub fn private(s: &Settings, ct: &'static str, data: &[u8], head: bool) -> Response {
    let d = http::for_private(&request_head(s, head), &policy(s), ct, data.len() as u64);
    match d.body {
        Some((a, b)) => to_response(&d.head).with_body(&data[a as usize..b as usize]),
        None => without_payload(&d),
    }
}

/// The delivery of a media segment of `len` bytes, known before any
/// payload is read (Content-Length, not chunked), tagged by the source
/// ETag and the generated header bytes.
pub fn segment(
    s: &Settings,
    ct: &'static str,
    len: u64,
    source_etag: &str,
    seg_header: &[u8],
    head: bool,
) -> Delivery {
    let tag = http::etag::of_segment(source_etag, seg_header);
    http::for_body(&request_head(s, head), &policy(s), ct, len, &tag, true)
}

/// When the module started on a request, and how long it has spent in the
/// platform's cache calls since ([`super::cache::EdgeCache::spent`]).
#[derive(Clone, Copy)]
pub struct Timing {
    pub start: std::time::Instant,
    pub cache: std::time::Duration,
}

/// `Server-Timing` ([`crate::http::server_timing`]) of an answer whose
/// body is in memory: that is all of the module's work for it (a
/// streamed segment's payload is read after its head, so it has none).
pub fn server_timing(r: &mut Response, state: &str, t: Timing) {
    r.set_header(
        "server-timing",
        crate::http::server_timing(state, t.start.elapsed(), t.cache),
    );
}
