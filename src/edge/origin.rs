//! Origin reads over the `origin` backend: ranged, conditional, concurrent.
//! What each request holds (path, `Range`, `If-Match`, signature) is built
//! by [`crate::source::request`], what a response means is decided by
//! [`crate::source::response`], how a segment body is put together by
//! [`crate::deliver`]; this file only moves Fastly requests and bodies.

use super::cache::EdgeCache;
use super::config::{Settings, BACKEND};
use super::respond;
use super::{done, Handled};
use crate::auth::AuthConfigError;
use crate::crypto::provider::{KeyProvider, BACKEND as KEY_BACKEND};
use crate::deliver::{self, SegmentBody};
use crate::service::ts::TsBody;
use crate::service::{self, Output};
use crate::source::keyprovider;
use crate::source::request::{OriginRequests, OutgoingRead};
use crate::source::response::{self, Head};
use crate::source::{Origin, OriginError, ReadRequest, ReadResponse, ReadTarget};
use fastly::http::body::StreamingBody;
use fastly::http::request::{PendingRequest, SendErrorCause};
use fastly::http::{header, HeaderName, HeaderValue, StatusCode};
use fastly::{Body, Request, Response};

pub struct FastlyOrigin {
    requests: OriginRequests,
    /// Backend requests sent so far for this client request.
    pub sent: usize,
}

/// The clock signatures are dated by: seconds since the unix epoch (a
/// clock before it signs as 1970, and the origin refuses the request).
fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl FastlyOrigin {
    /// The origin as `origin_host` (default `origin`, the backend's name)
    /// names it: the `Host` sent, and the host an S3 signature covers. An
    /// unusable origin auth setting is an error: no request goes out
    /// unsigned.
    pub fn new(s: &Settings) -> Result<Self, AuthConfigError> {
        let host = s.origin_host.as_deref().unwrap_or("origin");
        Ok(FastlyOrigin {
            requests: s.origin_requests(host)?,
            sent: 0,
        })
    }

    /// The Fastly request for a built and signed `out`, sent as it is.
    fn request(&self, object: &str, out: &OutgoingRead) -> Result<Request, OriginError> {
        let url = format!("http://{}{}", self.requests.host, out.path_and_query());
        let mut req = Request::get(url).with_pass(true);
        for (name, value) in &out.headers {
            // Names and values were checked when the settings were read
            // or come from the origin's own headers; a bad one is still an
            // error, never the SDK's panic. Neither is echoed: a value may
            // be a secret.
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return Err(OriginError::Bad(format!(
                    "{object}: invalid request header"
                )));
            };
            req.append_header(name, value);
        }
        Ok(req)
    }

    fn send(&mut self, r: &ReadRequest) -> Result<PendingRequest, OriginError> {
        self.sent += 1;
        if let ReadTarget::KeyProvider { provider, body } = &r.target {
            return send_key_request(r, provider, body);
        }
        let out = self.requests.read(r, now_unix());
        self.request(&r.path, &out)?
            .send_async(BACKEND)
            .map_err(|e| send_error(&r.path, e.root_cause()))
    }
}

/// The answer to a request that would reach the origin when the origin
/// auth settings are unusable: 500, naming the key (never its value).
pub fn misconfigured(s: &Settings, e: &AuthConfigError) -> Response {
    respond::error(s, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

fn send_error(path: &str, cause: &SendErrorCause) -> OriginError {
    match cause {
        SendErrorCause::DnsTimeout
        | SendErrorCause::ConnectionTimeout
        | SendErrorCause::HttpResponseTimeout => OriginError::Timeout(path.to_string()),
        c => OriginError::Bad(format!("{path}: {c}")),
    }
}

/// A header's value, lossily: a non-UTF-8 value counts as absent (the
/// SDK's `get_header_str` would panic on it).
fn header_str(resp: &Response, name: header::HeaderName) -> Option<&str> {
    resp.get_header(name).and_then(|v| v.to_str().ok())
}

/// The status and framing headers [`response::check`] decides on.
fn head_of(resp: &Response) -> Head<'_> {
    Head {
        status: resp.get_status().as_u16(),
        content_range: header_str(resp, header::CONTENT_RANGE),
        content_length: header_str(resp, header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
        etag: header_str(resp, header::ETAG),
        last_modified: header_str(resp, header::LAST_MODIFIED),
    }
}

fn into_read(r: &ReadRequest, mut resp: Response) -> Result<ReadResponse, OriginError> {
    let body = resp.take_body();
    if matches!(r.target, ReadTarget::KeyProvider { .. }) {
        return keyprovider::answer(r, resp.get_status().as_u16(), body);
    }
    response::into_read(r, &head_of(&resp), body)
}

/// The key provider's `POST` (a CPIX request, [`crate::source::cpix`]),
/// through the backend [`KEY_BACKEND`] to the configured URL; never
/// cached by Fastly (`pass`).
fn send_key_request(
    r: &ReadRequest,
    provider: &KeyProvider,
    body: &bytes::Bytes,
) -> Result<PendingRequest, OriginError> {
    let mut req = Request::post(provider.url.as_str())
        .with_pass(true)
        .with_header(header::CONTENT_TYPE, keyprovider::CONTENT_TYPE)
        .with_body(body.to_vec());
    if let Some(auth) = &provider.authorization {
        // Checked when read (`with_authorization`); still never the SDK's
        // panic, and never echoed.
        let value = HeaderValue::from_str(auth)
            .map_err(|_| keyprovider::unreachable(r, false, "invalid key_provider_auth"))?;
        req.set_header(header::AUTHORIZATION, value);
    }
    req.send_async(KEY_BACKEND)
        .map_err(|e| key_error(r, e.root_cause()))
}

/// A failed key provider request: 504 on a timeout, else 502.
fn key_error(r: &ReadRequest, cause: &SendErrorCause) -> OriginError {
    let timeout = matches!(
        cause,
        SendErrorCause::DnsTimeout
            | SendErrorCause::ConnectionTimeout
            | SendErrorCause::HttpResponseTimeout
    );
    keyprovider::unreachable(r, timeout, cause)
}

impl Origin for FastlyOrigin {
    fn read(&mut self, reqs: &[ReadRequest]) -> Vec<Result<ReadResponse, OriginError>> {
        // Send everything first so the reads overlap, then collect in order.
        let pending: Vec<Result<PendingRequest, OriginError>> =
            reqs.iter().map(|r| self.send(r)).collect();
        reqs.iter()
            .zip(pending)
            .map(|(r, p)| {
                let resp = p?.wait().map_err(|e| match r.target {
                    ReadTarget::KeyProvider { .. } => key_error(r, e.root_cause()),
                    ReadTarget::Origin => send_error(&r.path, e.root_cause()),
                })?;
                into_read(r, resp)
            })
            .collect()
    }
}

/// Passes an origin object through (player page and scripts).
pub fn proxy(s: &Settings, path: &str, head: bool) -> Response {
    let o = match FastlyOrigin::new(s) {
        Ok(o) => o,
        Err(e) => return misconfigured(s, &e),
    };
    let req = match o.request(path, &o.requests.whole(path, now_unix())) {
        Ok(r) => r,
        Err(e) => return respond::error(s, StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    match req.send(BACKEND) {
        Ok(resp) if resp.get_status() == StatusCode::OK => {
            let ct = header_str(&resp, header::CONTENT_TYPE)
                .unwrap_or("application/octet-stream")
                .to_string();
            let mut out =
                respond::with_cors(s, StatusCode::OK).with_header(header::CONTENT_TYPE, ct);
            out.set_header(header::CACHE_CONTROL, "public, max-age=300");
            if !head {
                out.set_body(resp.into_body());
            }
            out
        }
        Ok(resp) if matches!(resp.get_status().as_u16(), 401 | 403) => respond::error(
            s,
            StatusCode::BAD_GATEWAY,
            &OriginError::Forbidden(path.to_string()).to_string(),
        ),
        Ok(resp) => respond::error(s, resp.get_status(), "player file not found at origin"),
        Err(e) => respond::error(
            s,
            StatusCode::BAD_GATEWAY,
            &format!("origin: {}", e.root_cause()),
        ),
    }
}

/// One origin read of a segment, checked.
pub type Source = deliver::Source<Body>;

/// Sends every read of `plan` at once and checks each answer; the bodies
/// are not read yet where they can be streamed.
pub fn fetch(
    plan: &SegmentBody,
    origin: &mut FastlyOrigin,
    path: &str,
) -> Result<Vec<Source>, OriginError> {
    let pending: Vec<Result<PendingRequest, OriginError>> =
        plan.requests.iter().map(|r| origin.send(r)).collect();
    let mut sources: Vec<Source> = Vec::with_capacity(plan.reads.len());
    for (req, p) in plan.requests.iter().zip(pending) {
        let mut resp = p.and_then(|p| p.wait().map_err(|e| send_error(path, e.root_cause())))?;
        let acc = response::check(req, &head_of(&resp))?;
        if acc.exact && plan.in_order {
            sources.push(Source::Body(resp.take_body()));
            continue;
        }
        let body = resp.take_body();
        let data = response::read_body(req, &acc, body)?;
        let version = head_of(&resp).version(acc.total).unwrap_or_default();
        let read = response::finish(req, &acc, &version, data)?;
        sources.push(Source::Bytes(read.data));
    }
    Ok(sources)
}

/// Writes header + payload of `plan` to `out` ([`deliver::write_body`]);
/// false when the body broke: the caller must not finish `out`. With
/// `splice`, a read that is exactly one run is appended host-side;
/// without, it is copied in bounded chunks so a short origin body is
/// caught before `out` is finished (the output cache must never keep a
/// short copy).
pub fn write_body(
    plan: &SegmentBody,
    sources: Vec<Source>,
    out: &mut StreamingBody,
    splice: bool,
) -> bool {
    let append: fn(Body, &mut StreamingBody) = |b, out| out.append(b);
    deliver::write_body(plan, sources, out, splice.then_some(append))
}

/// Reads a segment's payload and streams header + payload to the client.
pub fn stream_segment(
    s: &Settings,
    out: &Output,
    origin: &mut FastlyOrigin,
    cache: &mut EdgeCache,
    head: bool,
    cfg: &service::Config,
) -> Handled {
    let Output::Segment {
        content_type,
        header: seg_header,
        runs,
        path,
        etag,
    } = out
    else {
        return done(respond::error(
            s,
            StatusCode::INTERNAL_SERVER_ERROR,
            "not a segment",
        ));
    };
    let delivery = respond::segment(s, content_type, out.len(), etag, seg_header, head);
    // A revalidation, a HEAD or an unsatisfiable range costs no payload read.
    let Some(range) = delivery.body else {
        return done(respond::without_payload(&delivery));
    };
    let plan = SegmentBody::plan(seg_header, runs, path, etag, range, cfg.read_limits());
    let sources = match fetch(&plan, origin, path) {
        Ok(s) => s,
        Err(e) => return fail(origin_failure(s, cache, path, &e)),
    };
    let mut body = respond::to_response(&delivery.head).stream_to_client();
    if !write_body(&plan, sources, &mut body, true) {
        return abort(body);
    }
    let _ = body.finish();
    Handled::Streamed
}

/// Ends a streamed response without finishing it: the client sees a broken
/// transfer (never a clean end of a truncated body that a cache would
/// keep).
fn abort(body: StreamingBody) -> Handled {
    drop(body);
    Handled::Streamed
}

/// Error response for a failed payload read; a changed object also drops
/// its cached index and asks for a retry.
pub fn origin_failure(
    s: &Settings,
    cache: &mut EdgeCache,
    path: &str,
    e: &OriginError,
) -> (Response, bool) {
    let changed = matches!(e, OriginError::Changed(_));
    if changed {
        crate::source::forget_source(path, cache);
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    (respond::error(s, status, &e.to_string()), changed)
}

pub fn fail((resp, retry): (Response, bool)) -> Handled {
    if retry {
        Handled::Retry(Box::new(resp))
    } else {
        done(resp)
    }
}

/// Streams a built TS segment in chunks; the length is exact before the
/// first byte goes out.
pub fn stream_ts(s: &Settings, seg: &mut TsBody, tag: &str, head: bool) -> Handled {
    let delivery = respond::segment(s, service::CT_TS, seg.len(), tag, b"ts", head);
    let Some((start, end)) = delivery.body else {
        return done(respond::without_payload(&delivery));
    };
    let resp = respond::to_response(&delivery.head);
    let mut body = resp.stream_to_client();
    if deliver::write_ts(seg, start, end, &mut body).is_err() {
        return abort(body);
    }
    let _ = body.finish();
    Handled::Streamed
}
