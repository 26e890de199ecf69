//! The Fastly Compute adapter: HTTP in, origin range reads out, packaged
//! responses back. Everything it decides comes from the platform-free core
//! (`url`, `service`, `plan`); this module only moves bytes and headers.

mod cache;
mod config;
mod origin;
mod outputs;
mod prefetch;
mod respond;

use crate::entry::{self, Entry};
use crate::job::{Job, Step};
use crate::service::{self, Output};
use crate::source::Origin;
use config::Settings;
use fastly::http::{Method, StatusCode};
use fastly::{Request, Response};
use outputs::Lookup;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Unix seconds now, for token expiry (0 if the clock is before 1970).
fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Handles one client request; never panics on request or origin data.
pub fn main() {
    // Everything the module does for this request is timed from here
    // (`Server-Timing`), settings included: the figure operators see is
    // the module's own share of the request.
    let t0 = Instant::now();
    let mut req = Request::from_client();
    let mut settings = Settings::load();
    // Only a signed URL needs the keys: a Secret Store read (and its
    // decryption) is spared on every other request.
    if crate::token::split(req.get_path()).0.is_some() {
        settings.deploy.access.load_secrets(config::secret);
    }
    // Likewise the content key seed, only for requests that may encrypt.
    if crate::settings::wants_encryption(req.get_path(), req.get_query_str()) {
        settings.deploy.load_key_seed(config::secret);
    }
    for p in settings
        .access
        .problems
        .iter()
        .chain(&settings.key_problem())
    {
        // Fastly collects stderr as the service's log; no key material.
        eprintln!("edgepack: settings: {p}");
    }
    // Lossy header reads: a non-UTF-8 value counts as absent.
    let header = |name| {
        req.get_header(name)
            .and_then(|v: &fastly::http::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    settings.if_none_match = header(fastly::http::header::IF_NONE_MATCH);
    settings.range = header(fastly::http::header::RANGE);
    settings.origin = header(fastly::http::header::ORIGIN);
    let mut next = None;
    let resp = handle(&mut req, &mut settings, &mut next, t0);
    match resp {
        Handled::Done(r) => r.send_to_client(),
        Handled::Retry(r) => r.send_to_client(),
        Handled::Streamed => {}
    }
    // The viewer has its answer; the next segment is packaged after it.
    if let Some(p) = next {
        prefetch::run(&mut settings, p);
    }
}

/// The request body, at most [`crate::crypto::clearkey::MAX_REQUEST_BYTES`]
/// (`Err` with the cap when longer; a failed read is an empty body, which
/// the core refuses as malformed).
fn read_body(req: &mut Request) -> Result<bytes::Bytes, usize> {
    use std::io::Read;
    let max = crate::crypto::clearkey::MAX_REQUEST_BYTES;
    let mut buf = Vec::new();
    let _ = req.take_body().take(max as u64 + 1).read_to_end(&mut buf);
    if buf.len() > max {
        return Err(max);
    }
    Ok(bytes::Bytes::from(buf))
}

/// Wraps a complete response (boxed: `Response` is large).
pub(crate) fn done(r: Response) -> Handled {
    Handled::Done(Box::new(r))
}

pub(crate) enum Handled {
    Done(Box<Response>),
    /// The source changed while being read (its cached index is already
    /// dropped): try again; the response is what to send if not.
    Retry(Box<Response>),
    /// The response was already streamed to the client.
    Streamed,
}

/// Answers one client request. A media segment answered through the
/// output cache (a hit, or a miss stored) leaves in `next` the segment to
/// prefetch when the setting `prefetch` is on.
fn handle(
    req: &mut Request,
    s: &mut Settings,
    next: &mut Option<prefetch::Prefetch>,
    t0: Instant,
) -> Handled {
    let head = req.get_method() == Method::HEAD;
    let stream = match entry::entry(
        req.get_method_str(),
        req.get_path(),
        req.get_query_str(),
        &respond::policy(s),
        &s.access,
        now_unix(),
    ) {
        Entry::Answer(h, body) => {
            let mut r = respond::to_response(&h);
            if !body.is_empty() {
                r.set_body(body);
            }
            return done(r);
        }
        Entry::Proxy(object) => {
            s.load_origin_auth();
            return done(origin::proxy(s, &object, head));
        }
        Entry::Stream(stream) => stream,
    };
    let mut c = cache::EdgeCache::new(s);
    let mut cfg = s.service_config();
    cfg.clock.now = now_unix();
    // The URL as received (no query): an encrypted MPD's licence URL is
    // made absolute from it.
    let url = req.get_url_str();
    cfg.request_url = Some(url.split_once('?').map_or(url, |(u, _)| u).to_string());
    // The licence route's body (an EME licence request), bounded.
    let body = if stream.resource == crate::url::Resource::Licence {
        match read_body(req) {
            Ok(b) => b,
            Err(n) => {
                return done(respond::error(
                    s,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("licence request over {n} bytes"),
                ))
            }
        }
    } else {
        bytes::Bytes::new()
    };
    // The core's request job decides every read; this loop only performs
    // them (concurrently) and delivers the answer.
    let mut job = Job::new(stream, cfg.clone()).with_body(body);
    let surrogate = job.surrogate_key();
    // A warm request finds its output by key before any index is loaded.
    let mut tx = None;
    if s.output_cache {
        if let Some(key) = job.output_key(&mut c) {
            match c.timed(|_| outputs::lookup(&key)) {
                Lookup::Hit(found, stored) => {
                    if s.prefetch {
                        *next = stored
                            .next
                            .and_then(|t| job.request().fragment_at(t))
                            .map(|request| prefetch::Prefetch { request, used: 0 });
                    }
                    let t = respond::Timing {
                        start: t0,
                        cache: c.spent(),
                    };
                    return outputs::respond(s, &found, &stored, head, "hit", t);
                }
                Lookup::Miss(t) => tx = Some((key, t)),
                Lookup::Off => {}
            }
        }
    }
    // Past the output cache: this request may read the origin.
    s.load_origin_auth();
    let s = &*s;
    let mut o = match origin::FastlyOrigin::new(s) {
        Ok(o) => o,
        Err(e) => {
            if let Some((_, t)) = tx.take() {
                let _ = t.cancel_insert_or_update();
            }
            return done(origin::misconfigured(s, &e));
        }
    };
    let mut results = Vec::new();
    loop {
        match job.step(&mut c, results) {
            Step::Read(reads) => results = o.read(&reads),
            Step::Answer(Err(e)) => {
                if let Some((_, t)) = tx.take() {
                    let _ = t.cancel_insert_or_update();
                }
                let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY);
                return done(respond::error(s, status, &e.to_string()));
            }
            Step::Answer(Ok(out)) => {
                // Segment payload reads get what the index reads left of
                // the platform's per-request budget.
                let budget = service::Config {
                    max_segment_reads: job.payload_budget(),
                    ..cfg.clone()
                };
                // Stored when the answer carries a body (not for HEAD, a
                // 304 or a 416, which cost no payload read).
                let stored = if s.output_cache {
                    storable(s, &out, head).map(|st| st.with_next(job.next_fragment_time()))
                } else {
                    None
                };
                if let Some(stored) = stored {
                    let t = match tx.take() {
                        Some(t) => Some(t),
                        // Cold: the version records exist now.
                        None => match job.output_key(&mut c) {
                            Some(key) => match c.timed(|_| outputs::lookup(&key)) {
                                Lookup::Miss(t) => Some((key, t)),
                                Lookup::Hit(found, stored) => {
                                    let t = respond::Timing {
                                        start: t0,
                                        cache: c.spent(),
                                    };
                                    return outputs::respond(s, &found, &stored, head, "hit", t);
                                }
                                Lookup::Off => None,
                            },
                            None => None,
                        },
                    };
                    if let Some((key, t)) = t {
                        let following = stored.next;
                        let h = outputs::store(
                            s, &key, t, out, stored, &mut o, &mut c, &budget, &surrogate, head, t0,
                        );
                        if s.prefetch
                            && matches!(&h, Handled::Done(r) if r.get_status().is_success())
                        {
                            *next = following.and_then(|t| job.request().fragment_at(t)).map(
                                |request| prefetch::Prefetch {
                                    request,
                                    used: o.sent,
                                },
                            );
                        }
                        match h {
                            Handled::Retry(r) => {
                                if !job.restart() {
                                    return Handled::Done(r);
                                }
                                results = Vec::new();
                                continue;
                            }
                            h => return h,
                        }
                    }
                }
                if let Some((_, t)) = tx.take() {
                    let _ = t.cancel_insert_or_update();
                }
                match deliver(s, out, &mut o, &mut c, head, &budget, t0) {
                    // The segment's source changed while being read (its
                    // index is already dropped): once more.
                    Handled::Retry(r) => {
                        if !job.restart() {
                            return Handled::Done(r);
                        }
                        results = Vec::new();
                    }
                    h => return h,
                }
            }
        }
    }
}

/// The facts to store the answer under, when it carries a body (the
/// core's HTTP decision on the output's length and validator); computed
/// once, since a manifest's ETag hashes its whole body.
fn storable(s: &Settings, out: &Output, head: bool) -> Option<crate::outputs::Stored> {
    // A key is never stored (it has no output key either).
    if matches!(out, Output::Ts(_) | Output::Cenc(_) | Output::Key { .. }) {
        return None;
    }
    let stored = crate::outputs::Stored::of(out);
    crate::http::for_body(
        &respond::request_head(s, head),
        &respond::policy(s),
        &stored.content_type,
        out.len(),
        &stored.etag,
        stored.immutable,
    )
    .body
    .map(|_| stored)
}

fn deliver(
    s: &Settings,
    out: Output,
    origin: &mut origin::FastlyOrigin,
    cache: &mut cache::EdgeCache,
    head: bool,
    cfg: &service::Config,
    t0: Instant,
) -> Handled {
    // Packaged without the output cache (off, or a key): timed like a miss.
    let t = respond::Timing {
        start: t0,
        cache: cache.spent(),
    };
    let timed = |mut r: Response| {
        respond::server_timing(&mut r, "packaged", t);
        done(r)
    };
    match out {
        Output::Text {
            content_type,
            body,
            omitted,
        } => {
            let mut r = respond::body(s, content_type, body.as_bytes(), false, head);
            if !omitted.is_empty() {
                // Fastly collects stderr as the service's log.
                eprintln!(
                    "edgepack: omitted from the manifest: {}",
                    omitted.join("; ")
                );
                r.set_header("edgepack-omitted", omitted.join("; "));
            }
            timed(r)
        }
        Output::Bytes { content_type, body } => {
            timed(respond::body(s, content_type, &body, true, head))
        }
        seg @ Output::Segment { .. } => origin::stream_segment(s, &seg, origin, cache, head, cfg),
        Output::TsBuilt { mut segment, tag } => origin::stream_ts(s, &mut segment, &tag, head),
        Output::Key { body, content_type } => timed(respond::private(s, content_type, &body, head)),
        // The job reads a TS segment's samples before it answers.
        Output::Ts(_) | Output::Cenc(_) => done(respond::error(
            s,
            StatusCode::INTERNAL_SERVER_ERROR,
            "TS segment answered unbuilt",
        )),
    }
}
