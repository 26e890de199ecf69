//! Origin reads as `wasi:http/outgoing-handler` requests: ranged,
//! conditional, all of a batch in flight at once. What each request holds
//! (path, `Range`, `If-Match`, signature) is built by
//! [`crate::source::request`], what a response means is decided by
//! [`crate::source::response`]; this file only moves requests and bodies.

use crate::crypto::provider::KeyProvider;
use crate::settings::Settings;
use crate::source::keyprovider;
use crate::source::request::{OriginRequests, OutgoingRead};
use crate::source::response::{self, Head};
use crate::source::{Origin, OriginError, ReadRequest, ReadResponse, ReadTarget};
use std::io;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method,
    OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::{InputStream, StreamError};

/// The origin bucket named by `EDGEPACK_ORIGIN` (`http://host:port` or
/// `https://host`). Under wasi:http the URL's authority is both where the
/// request goes and its `Host` header (the host forbids setting `host`),
/// so it is also the host an S3 signature covers.
pub struct WasiOrigin {
    scheme: Scheme,
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

impl WasiOrigin {
    /// The origin at `url` (scheme and authority; a path is not allowed:
    /// use the `origin_prefix` setting), with the credentials of `s`. The
    /// error (a 500's reason) never repeats the URL, which could hold user
    /// info or a query, nor a secret.
    pub fn new(url: &str, s: &Settings) -> Result<WasiOrigin, String> {
        const FORM: &str = "EDGEPACK_ORIGIN must be http(s)://host[:port]";
        let (scheme, rest) = match url.split_once("://") {
            Some(("http", rest)) => (Scheme::Http, rest),
            Some(("https", rest)) => (Scheme::Https, rest),
            _ => return Err(FORM.to_string()),
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(FORM.to_string());
        }
        Ok(WasiOrigin {
            scheme,
            requests: s.origin_requests(authority).map_err(|e| e.to_string())?,
            sent: 0,
        })
    }

    /// Starts the `GET` `out` (built and signed by [`OriginRequests`]) as
    /// it is; `object` names it in errors.
    fn start(
        &mut self,
        object: &str,
        out: &OutgoingRead,
    ) -> Result<FutureIncomingResponse, OriginError> {
        self.sent += 1;
        // Errors name the object only: a value or the query may be secret.
        let bad = |what: &str| OriginError::Bad(format!("{object}: {what}"));
        let list: Vec<(String, Vec<u8>)> = out
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.as_bytes().to_vec()))
            .collect();
        let fields = Fields::from_list(&list).map_err(|_| bad("invalid request header"))?;
        let req = OutgoingRequest::new(fields);
        req.set_method(&Method::Get)
            .and(req.set_scheme(Some(&self.scheme)))
            .and(req.set_authority(Some(&self.requests.host)))
            .and(req.set_path_with_query(Some(&out.path_and_query())))
            .map_err(|()| bad("invalid request"))?;
        outgoing_handler::handle(req, None).map_err(|e| error_code(object, &e))
    }

    /// Starts a `GET` of the whole of `object`.
    pub fn get(&mut self, object: &str) -> Result<FutureIncomingResponse, OriginError> {
        let out = self.requests.whole(object, now_unix());
        self.start(object, &out)
    }

    /// Starts the read `r`: `Range`, and `If-Match` on payload reads; or
    /// the key provider's `POST`.
    pub fn send(&mut self, r: &ReadRequest) -> Result<FutureIncomingResponse, OriginError> {
        if let ReadTarget::KeyProvider { provider, body } = &r.target {
            self.sent += 1;
            return send_key_request(r, provider, body);
        }
        let out = self.requests.read(r, now_unix());
        self.start(&r.path, &out)
    }
}

/// The key provider's `POST` of the CPIX request `body` to the configured
/// URL (its authority is also the `Host`).
fn send_key_request(
    r: &ReadRequest,
    provider: &KeyProvider,
    body: &[u8],
) -> Result<FutureIncomingResponse, OriginError> {
    let bad = |what: &str| keyprovider::unreachable(r, false, what);
    let mut headers = vec![(
        "content-type".to_string(),
        keyprovider::CONTENT_TYPE.as_bytes().to_vec(),
    )];
    if let Some(auth) = &provider.authorization {
        headers.push(("authorization".to_string(), auth.as_bytes().to_vec()));
    }
    let fields = Fields::from_list(&headers).map_err(|_| bad("invalid request header"))?;
    let req = OutgoingRequest::new(fields);
    let scheme = if provider.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    req.set_method(&Method::Post)
        .and(req.set_scheme(Some(&scheme)))
        .and(req.set_authority(Some(&provider.authority)))
        .and(req.set_path_with_query(Some(&provider.path_and_query)))
        .map_err(|()| bad("invalid request"))?;
    let out = req.body().map_err(|()| bad("no request body"))?;
    // Sent first, then the body written: a body larger than the host's
    // buffer would otherwise wait for a reader that is not there yet.
    let fut = outgoing_handler::handle(req, None).map_err(|e| {
        let timeout = matches!(
            e,
            ErrorCode::DnsTimeout
                | ErrorCode::ConnectionTimeout
                | ErrorCode::ConnectionReadTimeout
                | ErrorCode::ConnectionWriteTimeout
                | ErrorCode::HttpResponseTimeout
        );
        keyprovider::unreachable(r, timeout, format!("{e:?}"))
    })?;
    {
        let stream = out.write().map_err(|()| bad("no request body stream"))?;
        // In chunks: a stream takes at most 4096 bytes per call.
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|_| bad("writing the request body"))?;
        }
    }
    OutgoingBody::finish(out, None).map_err(|_| bad("finishing the request body"))?;
    Ok(fut)
}

/// Maps a wasi:http error to the origin error the core turns into a status.
fn error_code(path: &str, e: &ErrorCode) -> OriginError {
    match e {
        ErrorCode::DnsTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => OriginError::Timeout(path.to_string()),
        other => OriginError::Bad(format!("{path}: {other:?}")),
    }
}

/// An origin response: the headers the core decides on, and the body.
pub struct Fetched {
    pub status: u16,
    pub content_range: Option<String>,
    pub content_length: Option<u64>,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub last_modified: Option<String>,
    pub body: BodyReader,
}

impl Fetched {
    pub fn head(&self) -> Head<'_> {
        Head {
            status: self.status,
            content_range: self.content_range.as_deref(),
            content_length: self.content_length,
            etag: self.etag.as_deref(),
            last_modified: self.last_modified.as_deref(),
        }
    }
}

/// Waits for a started request's response.
pub fn wait(path: &str, fut: FutureIncomingResponse) -> Result<Fetched, OriginError> {
    fut.subscribe().block();
    let resp: IncomingResponse = match fut.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(error_code(path, &e)),
        Some(Err(())) | None => {
            return Err(OriginError::Bad(format!("{path}: no response")));
        }
    };
    let headers = resp.headers();
    // Lossy: a value that is not UTF-8 counts as absent.
    let get = |name: &str| {
        headers
            .get(name)
            .into_iter()
            .next()
            .and_then(|v| String::from_utf8(v).ok())
    };
    let fetched_head = (
        get("content-range"),
        get("content-length").and_then(|v| v.trim().parse().ok()),
        get("etag"),
        get("content-type"),
        get("last-modified"),
    );
    drop(headers);
    let status = resp.status();
    let body = resp
        .consume()
        .map_err(|()| OriginError::Bad(format!("{path}: body already taken")))?;
    let stream = body
        .stream()
        .map_err(|()| OriginError::Bad(format!("{path}: body stream unavailable")))?;
    Ok(Fetched {
        status,
        content_range: fetched_head.0,
        content_length: fetched_head.1,
        etag: fetched_head.2,
        content_type: fetched_head.3,
        last_modified: fetched_head.4,
        body: BodyReader {
            stream,
            _body: body,
            _resp: resp,
        },
    })
}

/// An incoming body as `std::io::Read`. Field order is drop order: the
/// stream is a child of the body, which is a child of the response.
pub struct BodyReader {
    stream: InputStream,
    _body: IncomingBody,
    _resp: IncomingResponse,
}

impl io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.stream.blocking_read(buf.len() as u64) {
            Ok(data) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                Ok(n)
            }
            Err(StreamError::Closed) => Ok(0),
            Err(StreamError::LastOperationFailed(e)) => Err(io::Error::other(e.to_debug_string())),
        }
    }
}

impl Origin for WasiOrigin {
    fn read(&mut self, reqs: &[ReadRequest]) -> Vec<Result<ReadResponse, OriginError>> {
        // Start every read first so they overlap, then collect in order.
        let started: Vec<_> = reqs.iter().map(|r| self.send(r)).collect();
        reqs.iter()
            .zip(started)
            .map(|(r, fut)| {
                if matches!(r.target, ReadTarget::KeyProvider { .. }) {
                    let f = wait(&r.path, fut?).map_err(|e| match e {
                        OriginError::Timeout(_) => keyprovider::unreachable(r, true, ""),
                        other => keyprovider::unreachable(r, false, other),
                    })?;
                    return keyprovider::answer(r, f.status, f.body);
                }
                let f = wait(&r.path, fut?)?;
                let head = f.head();
                let acc = response::check(r, &head)?;
                let version = head.version(acc.total).unwrap_or_default();
                let data = response::read_body(r, &acc, f.body)?;
                response::finish(r, &acc, &version, data)
            })
            .collect()
    }
}
