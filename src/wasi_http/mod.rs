//! The WASI 0.2 `wasi:http/proxy` adapter (wasm32-wasip2): the component
//! model's standard HTTP handler, run by `wasmtime serve`, jco, Spin or
//! wasmCloud. Like the Fastly adapter it only moves bytes: every decision
//! comes from the core ([`crate::entry`], [`crate::job`],
//! [`crate::http`], [`crate::deliver`], [`crate::source::response`]).
//!
//! Settings come from environment variables, `EDGEPACK_` + the upper-cased
//! key of [`crate::settings`] (`EDGEPACK_SEGMENT_MS`, …), and
//! `EDGEPACK_ORIGIN`, the bucket's `http(s)://host[:port]`. Secrets (the
//! keys of [`crate::auth`] such as `EDGEPACK_AZURE_KEY`,
//! `EDGEPACK_TOKEN_KEYS` and `EDGEPACK_ENCRYPTION_KEY_SEED`) come from the
//! same environment: a component host has no separate secret store, and
//! hosts such as Spin and wasmCloud fill the environment from theirs.

mod cache;
mod origin;
mod respond;

use crate::deliver::{self, SegmentBody, Source};
use crate::entry::{self, Entry};
use crate::http::{self, Policy, RequestHead};
use crate::job::{Job, Step};
use crate::service::{self, Output};
use crate::settings::Settings;
use crate::source::response;
use crate::source::{Origin, OriginError};
use cache::InstanceCache;
use origin::WasiOrigin;
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{Fields, IncomingRequest, Method, ResponseOutparam};

struct Handler;

impl Guest for Handler {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        handle(&req, out);
    }
}

wasip2::http::proxy::export!(Handler);

fn settings() -> Settings {
    Settings::from_lookups(secret, secret)
}

/// The request body, at most [`crate::crypto::clearkey::MAX_REQUEST_BYTES`]
/// (`Err` with the cap when longer; a failed read ends the body, which the
/// core then refuses as malformed).
fn read_body(req: &IncomingRequest) -> Result<bytes::Bytes, usize> {
    use wasip2::io::streams::StreamError;
    let max = crate::crypto::clearkey::MAX_REQUEST_BYTES;
    let Ok(body) = req.consume() else {
        return Ok(bytes::Bytes::new());
    };
    let mut buf = Vec::new();
    if let Ok(stream) = body.stream() {
        loop {
            match stream.blocking_read((max + 1 - buf.len()) as u64) {
                Ok(data) => buf.extend_from_slice(&data),
                Err(StreamError::Closed) | Err(StreamError::LastOperationFailed(_)) => break,
            }
            if buf.len() > max {
                return Err(max);
            }
        }
        // The stream is a child of the body: dropped first.
        drop(stream);
    }
    drop(body);
    Ok(bytes::Bytes::from(buf))
}

/// A request header's first value, lossily (non-UTF-8 counts as absent).
fn header(h: &Fields, name: &str) -> Option<String> {
    h.get(name)
        .into_iter()
        .next()
        .and_then(|v| String::from_utf8(v).ok())
}

fn method_name(m: &Method) -> &str {
    match m {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(s) => s,
    }
}

/// One client request, with what the response depends on.
struct Ctx {
    policy: Policy,
    req: RequestHead,
    /// When the component started on this request (`Server-Timing`).
    started: std::time::Instant,
}

impl Ctx {
    /// `Server-Timing` of an answer built in memory: the wasi:http
    /// standard has no cache API, so every answer is packaged and no time
    /// goes to platform cache calls (the instance's memory cache is the
    /// module's own work).
    fn timed(&self, head: &mut http::ResponseHead) {
        head.set(
            "server-timing",
            http::server_timing(
                "packaged",
                self.started.elapsed(),
                std::time::Duration::ZERO,
            ),
        );
    }

    fn error(&self, out: ResponseOutparam, status: u16, reason: &str) {
        let (head, body) = http::error_head(&self.policy, status, reason);
        let body = if self.req.head { "" } else { body.as_str() };
        respond::send(out, &head, body.as_bytes());
    }
}

/// A secret: the environment variable `EDGEPACK_` + the upper-cased key
/// (`EDGEPACK_TOKEN_KEYS`), as for the other settings.
fn secret(key: &str) -> Option<String> {
    std::env::var(format!("EDGEPACK_{}", key.to_ascii_uppercase())).ok()
}

/// Unix seconds now (wasi:clocks wall clock), for token expiry.
fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn handle(req: &IncomingRequest, out: ResponseOutparam) {
    // Timed from here, settings included, as the Fastly adapter does.
    let started = std::time::Instant::now();
    let mut s = settings();
    s.access.load_secrets(secret);
    s.load_key_seed(secret);
    for p in s.access.problems.iter().chain(&s.key_problem()) {
        // The host collects stderr as the service's log; no key material.
        eprintln!("edgepack: settings: {p}");
    }
    let method = req.method();
    let headers = req.headers();
    let origin = header(&headers, "origin");
    let ctx = Ctx {
        policy: s.policy().for_request_origin(origin.as_deref()),
        req: RequestHead {
            head: matches!(method, Method::Head),
            range: header(&headers, "range"),
            if_none_match: header(&headers, "if-none-match"),
        },
        started,
    };
    drop(headers);
    let pq = req.path_with_query().unwrap_or_else(|| "/".into());
    let (path, query) = match pq.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (pq.as_str(), None),
    };
    let stream = match entry::entry(
        method_name(&method),
        path,
        query,
        &ctx.policy,
        &s.access,
        now_unix(),
    ) {
        Entry::Answer(head, body) => return respond::send(out, &head, body.as_bytes()),
        Entry::Proxy(object) => return proxy(&ctx, &s, &object, out),
        Entry::Stream(stream) => stream,
    };
    let origin_url = std::env::var("EDGEPACK_ORIGIN").unwrap_or_default();
    let mut origin = match WasiOrigin::new(&origin_url, &s) {
        Ok(o) => o,
        Err(reason) => return ctx.error(out, 500, &reason),
    };
    let mut cache = InstanceCache::new(s.index_ttl, &s.origin_prefix);
    let mut cfg = s.service_config();
    // The URL as received (no query): an encrypted MPD's licence URL is
    // made absolute from it.
    cfg.request_url = req.authority().map(|host| {
        let scheme = match req.scheme() {
            Some(wasip2::http::types::Scheme::Https) => "https".to_string(),
            Some(wasip2::http::types::Scheme::Other(s)) => s,
            _ => "http".to_string(),
        };
        format!("{scheme}://{host}{path}")
    });
    // The licence route's body (an EME licence request), bounded.
    let body = if stream.resource == crate::url::Resource::Licence {
        match read_body(req) {
            Ok(b) => b,
            Err(n) => return ctx.error(out, 413, &format!("licence request over {n} bytes")),
        }
    } else {
        bytes::Bytes::new()
    };
    // The core's request job decides every read; this loop only performs
    // them (concurrently) and delivers the answer.
    let mut job = Job::new(stream, cfg.clone()).with_body(body);
    let mut results = Vec::new();
    let mut out = out;
    loop {
        match job.step(&mut cache, results) {
            Step::Read(reads) => results = origin.read(&reads),
            Step::Answer(Err(e)) => return ctx.error(out, e.status(), &e.to_string()),
            Step::Answer(Ok(answer)) => {
                // Segment payload reads get what the index reads left of
                // the per-request budget.
                let budget = job.payload_limits();
                match deliver(&ctx, answer, &mut origin, &mut cache, budget, out) {
                    // The segment's source changed while being read (its
                    // index is already dropped): once more, or say so.
                    Delivered::Changed(o, e) => {
                        if !job.restart() {
                            return ctx.error(o, e.status(), &e.to_string());
                        }
                        out = o;
                        results = Vec::new();
                    }
                    Delivered::Done => return,
                }
            }
        }
    }
}

enum Delivered {
    Done,
    /// A payload read found the object changed; nothing was sent yet.
    Changed(ResponseOutparam, OriginError),
}

fn deliver(
    ctx: &Ctx,
    answer: Output,
    origin: &mut WasiOrigin,
    cache: &mut InstanceCache,
    max_reads: crate::plan::ReadLimits,
    out: ResponseOutparam,
) -> Delivered {
    match answer {
        Output::Text {
            content_type,
            body,
            omitted,
        } => {
            let d =
                http::for_generated(&ctx.req, &ctx.policy, content_type, body.as_bytes(), false);
            let mut head = d.head.clone();
            ctx.timed(&mut head);
            if !omitted.is_empty() {
                // The host collects stderr as the service's log.
                eprintln!(
                    "edgepack: omitted from the manifest: {}",
                    omitted.join("; ")
                );
                head.set("edgepack-omitted", omitted.join("; "));
            }
            send_delivery(out, &head, &d, body.as_bytes());
        }
        Output::Bytes { content_type, body } => {
            let d = http::for_generated(&ctx.req, &ctx.policy, content_type, &body, true);
            let mut head = d.head.clone();
            ctx.timed(&mut head);
            send_delivery(out, &head, &d, &body);
        }
        seg @ Output::Segment { .. } => {
            return segment(ctx, &seg, origin, cache, max_reads, out);
        }
        Output::TsBuilt { mut segment, tag } => {
            let tag = http::etag::of_segment(&tag, b"ts");
            let d = http::for_body(
                &ctx.req,
                &ctx.policy,
                service::CT_TS,
                segment.len(),
                &tag,
                true,
            );
            let Some((start, end)) = d.body else {
                send_delivery(out, &d.head.clone(), &d, b"");
                return Delivered::Done;
            };
            if let Some(mut sink) = respond::start(out, &d.head) {
                if deliver::write_ts(&mut segment, start, end, &mut sink).is_ok() {
                    sink.finish();
                }
            }
        }
        Output::Key { body, content_type } => {
            let d = http::for_private(&ctx.req, &ctx.policy, content_type, body.len() as u64);
            send_delivery(out, &d.head.clone(), &d, &body);
        }
        // The job reads a TS segment's samples before it answers.
        Output::Ts(_) | Output::Cenc(_) => ctx.error(out, 500, "segment answered unbuilt"),
    }
    Delivered::Done
}

/// Sends a delivery whose body (if any) is the `start..end` of `data`, or
/// its short text (a 416's reason).
fn send_delivery(
    out: ResponseOutparam,
    head: &http::ResponseHead,
    d: &http::Delivery,
    data: &[u8],
) {
    match (d.body, &d.text) {
        (Some((a, b)), _) => respond::send(out, head, &data[a as usize..b as usize]),
        (None, Some(t)) => respond::send(out, head, t.as_bytes()),
        (None, None) => respond::send(out, head, b""),
    }
}

/// Reads a segment's payload and streams header + payload to the client;
/// the length is exact before any payload is read.
fn segment(
    ctx: &Ctx,
    seg: &Output,
    origin: &mut WasiOrigin,
    cache: &mut InstanceCache,
    max_reads: crate::plan::ReadLimits,
    out: ResponseOutparam,
) -> Delivered {
    let Output::Segment {
        content_type,
        header,
        runs,
        path,
        etag,
    } = seg
    else {
        ctx.error(out, 500, "not a segment");
        return Delivered::Done;
    };
    let tag = http::etag::of_segment(etag, header);
    let d = http::for_body(&ctx.req, &ctx.policy, content_type, seg.len(), &tag, true);
    // A revalidation, a HEAD or an unsatisfiable range costs no payload read.
    let Some(range) = d.body else {
        send_delivery(out, &d.head.clone(), &d, b"");
        return Delivered::Done;
    };
    let plan = SegmentBody::plan(header, runs, path, etag, range, max_reads);
    let started: Vec<_> = plan.requests.iter().map(|r| origin.send(r)).collect();
    let mut sources = Vec::with_capacity(started.len());
    for (req, fut) in plan.requests.iter().zip(started) {
        let read = fut.and_then(|f| origin::wait(path, f)).and_then(|f| {
            let acc = response::check(req, &f.head())?;
            if acc.exact && plan.in_order {
                return Ok(Source::Body(f.body));
            }
            let version = f.head().version(acc.total).unwrap_or_default();
            let data = response::read_body(req, &acc, f.body)?;
            Ok(Source::Bytes(
                response::finish(req, &acc, &version, data)?.data,
            ))
        });
        match read {
            Ok(s) => sources.push(s),
            Err(e @ OriginError::Changed(_)) => {
                crate::source::forget_source(path, cache);
                return Delivered::Changed(out, e);
            }
            Err(e) => {
                ctx.error(out, e.status(), &e.to_string());
                return Delivered::Done;
            }
        }
    }
    let Some(mut sink) = respond::start(out, &d.head) else {
        return Delivered::Done;
    };
    // No splice: through wasm memory in bounded chunks, because jco's
    // splice waits for a drain that never comes once the client has gone.
    // A broken body leaves the sink unfinished (the response aborts).
    if deliver::write_body(&plan, sources, &mut sink, None) {
        sink.finish();
    }
    Delivered::Done
}

/// Passes an origin object through (the demo player's page and scripts).
fn proxy(ctx: &Ctx, s: &Settings, object: &str, out: ResponseOutparam) {
    let origin_url = std::env::var("EDGEPACK_ORIGIN").unwrap_or_default();
    let mut origin = match WasiOrigin::new(&origin_url, s) {
        Ok(o) => o,
        Err(reason) => return ctx.error(out, 500, &reason),
    };
    let fetched = origin.get(object).and_then(|f| origin::wait(object, f));
    let f = match fetched {
        Ok(f) if f.status == 200 => f,
        Ok(f) if matches!(f.status, 401 | 403) => {
            let e = OriginError::Forbidden(object.to_string());
            return ctx.error(out, e.status(), &e.to_string());
        }
        Ok(f) => return ctx.error(out, f.status, "player file not found at origin"),
        Err(e) => return ctx.error(out, 502, &format!("origin: {e}")),
    };
    let mut head = http::ResponseHead::new(200, &ctx.policy);
    head.set(
        "content-type",
        f.content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into()),
    );
    head.set("cache-control", "public, max-age=300");
    if let Some(len) = f.content_length {
        head.set("content-length", len.to_string());
    }
    let Some(mut sink) = respond::start(out, &head) else {
        return;
    };
    if ctx.req.head {
        return sink.finish();
    }
    let mut body = f.body;
    if std::io::copy(&mut body, &mut sink).is_ok() {
        sink.finish();
    }
}
