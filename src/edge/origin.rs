//! Origin reads over the `origin` backend: ranged, conditional, concurrent.

use super::cache::EdgeCache;
use super::config::{Settings, BACKEND};
use super::respond;
use super::{done, Handled};
use crate::mux::cmaf::ByteRun;
use crate::mux::ts::TsSegment;
use crate::plan;
use crate::service::{self, Output};
use crate::source::{index_key, Cache, Origin, OriginError, ReadRequest, ReadResponse};
use bytes::Bytes;
use fastly::http::request::{PendingRequest, SendErrorCause};
use fastly::http::{header, StatusCode};
use fastly::{Body, Request, Response};
use std::io::Write;

/// A read whose body is larger than this is refused rather than buffered
/// (an origin that ignores `Range` would otherwise send a whole title).
const MAX_BUFFERED_READ: u64 = 64 * 1024 * 1024;

pub struct FastlyOrigin {
    host: String,
    prefix: String,
    /// Backend requests sent so far for this client request.
    pub sent: usize,
}

/// Percent-encodes an object path for the request line (RFC 3986 §2.3
/// unreserved characters and `/` stay as they are).
fn encode_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl FastlyOrigin {
    pub fn new(s: &Settings) -> Self {
        FastlyOrigin {
            host: s
                .origin_host
                .clone()
                .unwrap_or_else(|| "origin".to_string()),
            prefix: s.origin_prefix.clone(),
            sent: 0,
        }
    }

    fn request(&self, path: &str) -> Request {
        let url = format!(
            "http://{}/{}",
            self.host,
            encode_path(&format!("{}{path}", self.prefix))
        );
        Request::get(url).with_pass(true)
    }

    fn send(&mut self, r: &ReadRequest) -> Result<PendingRequest, OriginError> {
        self.sent += 1;
        let mut req = self.request(&r.path).with_header(
            header::RANGE,
            format!("bytes={}-{}", r.start, r.end.saturating_sub(1)),
        );
        if let Some(tag) = &r.if_match {
            req.set_header(header::IF_MATCH, tag.as_str());
        }
        req.send_async(BACKEND)
            .map_err(|e| send_error(&r.path, e.root_cause()))
    }
}

fn send_error(path: &str, cause: &SendErrorCause) -> OriginError {
    match cause {
        SendErrorCause::DnsTimeout
        | SendErrorCause::ConnectionTimeout
        | SendErrorCause::HttpResponseTimeout => OriginError::Timeout(path.to_string()),
        c => OriginError::Bad(format!("{path}: {c}")),
    }
}

/// Checks a response's status; `Ok` carries (first byte, total size).
fn check(path: &str, r: &ReadRequest, resp: &Response) -> Result<(u64, u64), OriginError> {
    let status = resp.get_status();
    match status.as_u16() {
        206 => {
            // Content-Range: bytes first-last/total
            let cr = resp
                .get_header_str(header::CONTENT_RANGE)
                .unwrap_or_default();
            let spec = cr.strip_prefix("bytes ").unwrap_or_default();
            let (range, total) = spec.split_once('/').unwrap_or_default();
            let first = range.split('-').next().and_then(|v| v.parse::<u64>().ok());
            let total = total.parse::<u64>().ok();
            match (first, total) {
                (Some(f), Some(t)) if f == r.start => Ok((f, t)),
                _ => Err(OriginError::Bad(format!(
                    "{path}: unusable Content-Range '{cr}'"
                ))),
            }
        }
        200 => {
            let len = resp
                .get_header_str(header::CONTENT_LENGTH)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if len > MAX_BUFFERED_READ {
                return Err(OriginError::Bad(format!(
                    "{path}: origin ignored Range on a {len}-byte object"
                )));
            }
            Ok((0, len))
        }
        404 | 410 => Err(OriginError::NotFound(path.to_string())),
        401 | 403 => Err(OriginError::Forbidden(path.to_string())),
        412 => Err(OriginError::Changed(path.to_string())),
        // A range from byte 0 is unsatisfiable only on an empty object.
        416 if r.start == 0 => Err(OriginError::Empty(path.to_string())),
        416 => Err(OriginError::Bad(format!(
            "{path}: range {}-{} not satisfiable",
            r.start, r.end
        ))),
        504 => Err(OriginError::Timeout(path.to_string())),
        s => Err(OriginError::Bad(format!("{path}: origin answered {s}"))),
    }
}

/// Reads a whole body; a body that ends early (the origin closed the
/// connection) is an error, not a trap.
fn read_body(mut body: Body, path: &str) -> Result<Vec<u8>, OriginError> {
    use std::io::Read;
    let mut buf = Vec::new();
    body.read_to_end(&mut buf)
        .map_err(|e| OriginError::Bad(format!("{path}: short body ({e})")))?;
    Ok(buf)
}

/// Reads a response body into memory and cuts out the requested range.
fn into_read(r: &ReadRequest, mut resp: Response) -> Result<ReadResponse, OriginError> {
    let (first, total) = check(&r.path, r, &resp)?;
    let etag = resp
        .get_header_str(header::ETAG)
        .unwrap_or_default()
        .to_string();
    let body = Bytes::from(read_body(resp.take_body(), &r.path)?);
    let total = if resp.get_status() == StatusCode::OK {
        body.len() as u64
    } else {
        total
    };
    let want_end = r.end.min(total);
    let data = if first == r.start {
        body
    } else {
        // A 200 with the whole object: keep the requested part.
        let s = usize::try_from(r.start)
            .unwrap_or(usize::MAX)
            .min(body.len());
        body.slice(s..)
    };
    let want = want_end.saturating_sub(r.start) as usize;
    if data.len() < want {
        return Err(OriginError::Bad(format!(
            "{}: short body ({} of {want} bytes)",
            r.path,
            data.len()
        )));
    }
    Ok(ReadResponse {
        data: data.slice(..want),
        total_size: total,
        etag,
    })
}

impl Origin for FastlyOrigin {
    fn read(&mut self, reqs: &[ReadRequest]) -> Vec<Result<ReadResponse, OriginError>> {
        // Send everything first so the reads overlap, then collect in order.
        let pending: Vec<Result<PendingRequest, OriginError>> =
            reqs.iter().map(|r| self.send(r)).collect();
        reqs.iter()
            .zip(pending)
            .map(|(r, p)| {
                let resp = p?.wait().map_err(|e| send_error(&r.path, e.root_cause()))?;
                into_read(r, resp)
            })
            .collect()
    }
}

/// Passes an origin object through (player page and scripts).
pub fn proxy(s: &Settings, path: &str, head: bool) -> Response {
    let o = FastlyOrigin::new(s);
    match o.request(path).send(BACKEND) {
        Ok(resp) if resp.get_status() == StatusCode::OK => {
            let ct = resp
                .get_header_str(header::CONTENT_TYPE)
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
        Ok(resp) => respond::error(s, resp.get_status(), "player file not found at origin"),
        Err(e) => respond::error(
            s,
            StatusCode::BAD_GATEWAY,
            &format!("origin: {}", e.root_cause()),
        ),
    }
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
    let len = out.len();
    let delivery = respond::segment(s, content_type, len, etag, seg_header, head);
    // A revalidation, a HEAD or an unsatisfiable range costs no payload read.
    let Some((a, b)) = delivery.body else {
        return done(respond::without_payload(&delivery));
    };
    let resp = respond::to_response(&delivery.head);
    // A byte range of the segment reads only the source runs under it.
    let (seg_header, runs) = if (a, b) == (0, len) {
        (seg_header.clone(), runs.clone())
    } else {
        slice_parts(seg_header, runs, a, b)
    };
    let (seg_header, runs) = (&seg_header, &runs);
    let reads = plan::plan_reads(runs, cfg.max_segment_reads);
    let reqs = crate::source::payload_reads(path, etag, &reads);
    let pending: Vec<Result<PendingRequest, OriginError>> =
        reqs.iter().map(|r| origin.send(r)).collect();
    // Runs in file order (the usual case) can be copied out of each read
    // as it streams past; otherwise reads are buffered and sliced.
    let in_order = runs.windows(2).all(|w| w[0].end() <= w[1].offset);
    let mut sources: Vec<Source> = Vec::with_capacity(reads.len());
    for ((read, req), p) in reads.iter().zip(&reqs).zip(pending) {
        let result = p.and_then(|p| p.wait().map_err(|e| send_error(path, e.root_cause())));
        let resp = match result {
            Ok(r) => r,
            Err(e) => return fail(origin_failure(s, cache, path, &e)),
        };
        let len_ok = resp
            .get_header_str(header::CONTENT_LENGTH)
            .and_then(|v| v.parse::<u64>().ok())
            == Some(read.len);
        if resp.get_status() == StatusCode::PARTIAL_CONTENT && len_ok {
            if let Err(e) = check(path, req, &resp) {
                return fail(origin_failure(s, cache, path, &e));
            }
            let exact = runs.iter().any(|r| r == read);
            if exact || in_order {
                sources.push(Source::Body(resp.into_body(), exact));
                continue;
            }
        }
        match into_read(req, resp) {
            Ok(r) => sources.push(Source::Bytes(r.data)),
            Err(e) => return fail(origin_failure(s, cache, path, &e)),
        }
    }
    if !in_order {
        return stream_buffered(s, resp, seg_header, runs, &reads, sources);
    }
    let mut body = resp.stream_to_client();
    let mut ok = body.write_all(seg_header).is_ok();
    for (read, src) in reads.iter().zip(sources) {
        if !ok {
            break;
        }
        let inside: Vec<ByteRun> = runs
            .iter()
            .filter(|r| r.offset >= read.offset && r.end() <= read.end())
            .copied()
            .collect();
        ok = match src {
            // Host-side splice: the payload never enters wasm memory.
            Source::Body(b, true) => {
                body.append(b);
                true
            }
            Source::Body(b, false) => copy_runs(b, *read, &inside, &mut body).is_ok(),
            Source::Bytes(data) => inside.iter().all(|r| {
                let at = (r.offset - read.offset) as usize;
                data.get(at..at + r.len as usize)
                    .is_some_and(|d| body.write_all(d).is_ok())
            }),
        };
    }
    let _ = body.finish();
    Handled::Streamed
}

/// The part `start..end` of a body made of `header` then `runs`.
fn slice_parts(header: &Bytes, runs: &[ByteRun], start: u64, end: u64) -> (Bytes, Vec<ByteRun>) {
    let hlen = header.len() as u64;
    let head = header.slice(start.min(hlen) as usize..end.min(hlen) as usize);
    let mut out = Vec::new();
    let mut pos = hlen;
    for r in runs {
        let (from, to) = (start.max(pos), end.min(pos + r.len));
        if from < to {
            out.push(ByteRun {
                offset: r.offset + (from - pos),
                len: to - from,
            });
        }
        pos += r.len;
    }
    (head, out)
}

/// One origin read of a segment.
enum Source {
    /// A checked 206 body; `true` when it is exactly one run (splice it).
    Body(Body, bool),
    Bytes(Bytes),
}

/// Streams the parts of `read` that belong to `runs` (sorted, inside
/// `read`) from `src` to `out`, 64 KB at a time: memory stays flat however
/// large the segment.
fn copy_runs(
    mut src: Body,
    read: ByteRun,
    runs: &[ByteRun],
    out: &mut impl Write,
) -> std::io::Result<()> {
    use std::io::Read;
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = read.offset;
    let mut next = 0;
    while next < runs.len() {
        let n = src.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "origin body ended early",
            ));
        }
        let end = pos + n as u64;
        let mut i = next;
        while i < runs.len() && runs[i].offset < end {
            let r = runs[i];
            let from = r.offset.max(pos);
            let to = r.end().min(end);
            if from < to {
                out.write_all(&buf[(from - pos) as usize..(to - pos) as usize])?;
            }
            if r.end() <= end {
                next = i + 1;
            }
            i += 1;
        }
        pos = end;
    }
    Ok(())
}

/// Fallback for runs out of file order: every read in memory, then sliced.
fn stream_buffered(
    s: &Settings,
    resp: Response,
    seg_header: &[u8],
    runs: &[ByteRun],
    reads: &[ByteRun],
    sources: Vec<Source>,
) -> Handled {
    let mut buffered = Vec::with_capacity(reads.len());
    for (read, src) in reads.iter().zip(sources) {
        let data = match src {
            Source::Bytes(d) => d,
            Source::Body(b, _) => match read_body(b, "segment") {
                Ok(d) => Bytes::from(d),
                Err(e) => return done(respond::error(s, StatusCode::BAD_GATEWAY, &e.to_string())),
            },
        };
        buffered.push((*read, data));
    }
    let parts = match plan::assemble(runs, &buffered) {
        Ok(p) => p,
        Err(e) => return done(respond::error(s, StatusCode::BAD_GATEWAY, &e.to_string())),
    };
    let mut body = resp.stream_to_client();
    let mut ok = body.write_all(seg_header).is_ok();
    for p in parts {
        if ok {
            ok = body.write_all(&p).is_ok();
        }
    }
    let _ = body.finish();
    Handled::Streamed
}

/// Error response for a failed payload read; a changed object also drops
/// its cached index and asks for a retry.
fn origin_failure(
    s: &Settings,
    cache: &mut EdgeCache,
    path: &str,
    e: &OriginError,
) -> (Response, bool) {
    let changed = matches!(e, OriginError::Changed(_));
    if changed {
        cache.forget(&index_key(path));
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    (respond::error(s, status, &e.to_string()), changed)
}

fn fail((resp, retry): (Response, bool)) -> Handled {
    if retry {
        Handled::Retry(Box::new(resp))
    } else {
        done(resp)
    }
}

/// Streams a built TS segment in chunks; the length is exact before the
/// first byte goes out.
pub fn stream_ts(s: &Settings, seg: &mut TsSegment, tag: &str, head: bool) -> Handled {
    let delivery = respond::segment(s, service::CT_TS, seg.len(), tag, b"ts", head);
    let Some((start, end)) = delivery.body else {
        return done(respond::without_payload(&delivery));
    };
    let resp = respond::to_response(&delivery.head);
    let mut body = resp.stream_to_client();
    let mut pos = 0u64;
    while let Some(chunk) = seg.next_chunk() {
        let (from, to) = (start.max(pos), end.min(pos + chunk.len() as u64));
        if from < to
            && body
                .write_all(&chunk[(from - pos) as usize..(to - pos) as usize])
                .is_err()
        {
            break;
        }
        pos += chunk.len() as u64;
        if pos >= end {
            break;
        }
    }
    let _ = body.finish();
    Handled::Streamed
}
