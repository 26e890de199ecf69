//! wasi:http responses from the platform-free decisions of
//! [`crate::http`]: a status and headers copied into an
//! `outgoing-response`, and a body sink that writes in the sizes the host
//! accepts.

use crate::http::ResponseHead;
use std::io;
use wasip2::clocks::monotonic_clock;
use wasip2::http::types::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};
use wasip2::io::poll;
use wasip2::io::streams::{OutputStream, StreamError};

/// Longest wait for the client to take more of the body before the
/// response is abandoned. jco serves one request at a time and never tells
/// the component that a client went away (its response stream just stops
/// draining), so without this one client closing early (ffprobe does, after
/// a few packets) would stop the whole server. Players read segments
/// promptly; a few seconds without progress on loopback is a dead client.
const STALL_NS: u64 = 3_000_000_000;

/// The response body being written. Dropping it without [`Sink::finish`]
/// leaves the body unfinished, which wasi:http hosts report to the client
/// as a broken transfer (never a clean end of a truncated body).
pub struct Sink {
    // Field order is drop order: the stream is a child of the body.
    stream: Option<OutputStream>,
    body: Option<OutgoingBody>,
}

/// Sends `head` and returns the body to write, or `None` when the host
/// refused the response (nothing more can be sent then).
pub fn start(out: ResponseOutparam, head: &ResponseHead) -> Option<Sink> {
    let list: Vec<(String, Vec<u8>)> = head
        .headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect();
    // Every header is ours (names are constants, values sanitised by the
    // core), so this only fails on a host that forbids one of them: send
    // the status without headers rather than nothing.
    let fields = Fields::from_list(&list).unwrap_or_else(|_| Fields::new());
    let resp = OutgoingResponse::new(fields);
    let _ = resp.set_status_code(head.status);
    let body = resp.body().ok()?;
    ResponseOutparam::set(out, Ok(resp));
    let stream = body.write().ok()?;
    Some(Sink {
        stream: Some(stream),
        body: Some(body),
    })
}

/// Sends a whole response whose body is in memory.
pub fn send(out: ResponseOutparam, head: &ResponseHead, body: &[u8]) {
    if let Some(mut sink) = start(out, head) {
        if io::Write::write_all(&mut sink, body).is_ok() {
            sink.finish();
        }
    }
}

impl Drop for Sink {
    /// An unfinished body is abandoned, not dropped: wasi:http says a
    /// dropped `outgoing-body` is corrupt, but jco's preview2-shim then
    /// disposes the body's stream twice and its whole server exits. Left
    /// alone, the body is never finished: wasmtime drops it with the
    /// instance (an error to the client), jco ends the response short of
    /// its Content-Length and closes the connection. One small handle per
    /// aborted response stays in the instance's resource table.
    fn drop(&mut self) {
        drop(self.stream.take());
        if let Some(body) = self.body.take() {
            std::mem::forget(body);
        }
    }
}

impl Sink {
    /// Ends the body normally.
    pub fn finish(mut self) {
        let flushed = self
            .stream
            .as_ref()
            .is_some_and(|s| s.blocking_flush().is_ok());
        drop(self.stream.take());
        if let (true, Some(body)) = (flushed, self.body.take()) {
            let _ = OutgoingBody::finish(body, None);
        }
    }

    fn stream(&self) -> io::Result<&OutputStream> {
        self.stream
            .as_ref()
            .ok_or_else(|| io::Error::other("response body closed"))
    }
}

fn stream_error(e: StreamError) -> io::Error {
    match e {
        StreamError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "client went away"),
        StreamError::LastOperationFailed(e) => io::Error::other(e.to_debug_string()),
    }
}

impl io::Write for Sink {
    /// Writes as much as the host accepts now (`check-write`), waiting for
    /// room when it accepts nothing.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let out = self.stream()?;
        loop {
            let room = out.check_write().map_err(stream_error)?;
            if room == 0 {
                let ready = out.subscribe();
                let timer = monotonic_clock::subscribe_duration(STALL_NS);
                if poll::poll(&[&ready, &timer]).contains(&1) && !ready.ready() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client stopped reading",
                    ));
                }
                continue;
            }
            let n = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            out.write(&buf[..n]).map_err(stream_error)?;
            return Ok(n);
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream()?.blocking_flush().map_err(stream_error)
    }
}
