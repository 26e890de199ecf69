//! A response's status and headers, decided from the request's headers and
//! what the body is: the one place where 200 / 206 / 304 / 416, validators,
//! cache policy and CORS are chosen.

use super::conditional;
use super::cors;
use super::etag;
use super::range::{self, RangeAsk};

/// One year: a segment of a given source version never changes.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The request facts HTTP semantics depend on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub head: bool,
    pub range: Option<String>,
    pub if_none_match: Option<String>,
}

/// Deployment settings that shape responses, and the one request header
/// the CORS answer depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Origins allowed to read responses: `*`, a comma-separated list, or
    /// empty to send no CORS headers (see [`cors`]).
    pub cors_origin: String,
    /// `max-age` of manifests, seconds (segments are immutable).
    pub manifest_ttl: u32,
    /// The request's `Origin` header (Fetch, "`Origin` header"), echoed when
    /// `cors_origin` lists it; set with [`Policy::for_request_origin`].
    pub request_origin: Option<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            cors_origin: "*".into(),
            manifest_ttl: 60,
            request_origin: None,
        }
    }
}

impl Policy {
    /// This policy for a request with `Origin: origin` (or none); every
    /// adapter passes the header so an allow-list can be answered.
    pub fn for_request_origin(mut self, origin: Option<&str>) -> Policy {
        self.request_origin = origin.map(str::to_string);
        self
    }
}

/// Sent on every response: the content is what its `Content-Type` says,
/// never sniffed (Fetch standard, "`X-Content-Type-Options` header" and
/// "should response to request be blocked due to nosniff?"). Error bodies
/// are plain text that may quote a URL, and a playlist, an error or a
/// segment must not be run as a script or a style sheet by a page that
/// points a `<script>` or `<link>` at it.
pub const NOSNIFF: (&str, &str) = ("x-content-type-options", "nosniff");

/// Status and headers (lower-case names), ready to copy into a platform's
/// response type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
}

impl ResponseHead {
    /// The head every response starts from (errors, preflights and
    /// bodies alike): CORS for the policy and [`NOSNIFF`].
    pub fn new(status: u16, policy: &Policy) -> Self {
        let mut headers = cors::headers(&policy.cors_origin, policy.request_origin.as_deref());
        headers.push((NOSNIFF.0, NOSNIFF.1.to_string()));
        ResponseHead { status, headers }
    }

    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some(h) => h.1 = value,
            None => self.headers.push((name, value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to send for a body of known length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub head: ResponseHead,
    /// The bytes of the body to send (`start..end`), or `None` for none of
    /// it (HEAD, 304, 416).
    pub body: Option<(u64, u64)>,
    /// A short text body to send instead (the reason of a 416).
    pub text: Option<String>,
}

/// The response for a body of `len` bytes with validator `etag`:
/// `immutable` bodies (segments, init segments) are cached for a year,
/// others (manifests) for the policy's TTL. Honours `If-None-Match` (304,
/// §13.1.2, evaluated before Range as §13.2.2 orders) and a single `Range`
/// (206 / 416, §14).
pub fn for_body(
    req: &RequestHead,
    policy: &Policy,
    content_type: &str,
    len: u64,
    etag: &str,
    immutable: bool,
) -> Delivery {
    let cache_control = if immutable {
        IMMUTABLE.to_string()
    } else {
        format!("public, max-age={}", policy.manifest_ttl)
    };
    if req
        .if_none_match
        .as_deref()
        .is_some_and(|inm| conditional::none_match(inm, etag))
    {
        let mut head = ResponseHead::new(304, policy);
        head.set("etag", etag);
        head.set("cache-control", cache_control);
        return Delivery {
            head,
            body: None,
            text: None,
        };
    }
    let mut head = ResponseHead::new(200, policy);
    head.set("content-type", content_type);
    head.set("etag", etag);
    head.set("cache-control", cache_control);
    head.set("accept-ranges", "bytes");
    let (start, end) = match range::ask(req.range.as_deref(), len) {
        RangeAsk::Whole => (0, len),
        RangeAsk::Part(a, b) => {
            head.status = 206;
            head.set("content-range", range::content_range(a, b, len));
            (a, b)
        }
        RangeAsk::Unsatisfiable => {
            let (mut head, text) = error_head(policy, 416, "range not satisfiable");
            head.set("content-range", range::unsatisfied_range(len));
            return Delivery {
                head,
                body: None,
                text: (!req.head).then_some(text),
            };
        }
    };
    head.set("content-length", (end - start).to_string());
    Delivery {
        head,
        body: (!req.head).then_some((start, end)),
        text: None,
    }
}

/// [`for_body`] for a generated body held in memory, tagged by its bytes.
pub fn for_generated(
    req: &RequestHead,
    policy: &Policy,
    content_type: &str,
    data: &[u8],
    immutable: bool,
) -> Delivery {
    let tag = etag::of_body(data);
    for_body(
        req,
        policy,
        content_type,
        data.len() as u64,
        &tag,
        immutable,
    )
}

/// Cache policy of a secret answer (a content key): for this viewer only,
/// kept by no cache (RFC 9111 §5.2.2.3, §5.2.2.7).
pub const PRIVATE: &str = "private, no-store";

/// The response for a small secret body of `len` bytes (a content key):
/// 200 with the whole body, [`PRIVATE`], no validator (nothing may keep
/// it to revalidate) and no Range (a 16-byte key is read whole; RFC 9110
/// §14.2 lets a server ignore `Range`).
pub fn for_private(req: &RequestHead, policy: &Policy, content_type: &str, len: u64) -> Delivery {
    let mut head = ResponseHead::new(200, policy);
    head.set("content-type", content_type);
    head.set("cache-control", PRIVATE);
    head.set("content-length", len.to_string());
    Delivery {
        head,
        body: (!req.head).then_some((0, len)),
        text: None,
    }
}

/// An error: status and a one-line plain-text reason, never cached.
pub fn error_head(policy: &Policy, status: u16, reason: &str) -> (ResponseHead, String) {
    let body = format!("{reason}\n");
    let mut head = ResponseHead::new(status, policy);
    head.set("content-type", "text/plain; charset=utf-8");
    head.set("cache-control", "no-store");
    head.set("content-length", body.len().to_string());
    (head, body)
}

/// The answer to a CORS preflight (`OPTIONS`): the methods and headers
/// are granted only to an allowed origin (Fetch, "CORS protocol").
pub fn preflight_head(policy: &Policy) -> ResponseHead {
    let mut head = ResponseHead::new(204, policy);
    if head.get("access-control-allow-origin").is_some() {
        head.set("access-control-allow-methods", cors::METHODS);
        head.set("access-control-allow-headers", cors::ALLOW_HEADERS);
        head.set("access-control-max-age", cors::MAX_AGE);
    }
    head
}
