//! The browser adapter: the packager as a wasm-bindgen module
//! (`wasm32-unknown-unknown`) that a page or a service worker drives.
//!
//! It is sans-IO on the JS side too: Rust never fetches. Each request is a
//! [`Job`], the core's request job that the edge drives too ([`url::parse`]
//! → [`Job::step`]), kept across calls until it is answered: a call feeds
//! the job the results of the reads its last step listed, answered from the
//! bytes JS has provided, and steps it until it answers or asks for reads
//! JS has not provided yet. Those are returned for JS to fetch from the
//! bucket with HTTP `Range` (and `If-Match`); it provides the bodies (or
//! reports failures) and asks again (`browser/edgepack-browser.js` runs the
//! loop). A request is never run again from the start to simulate a
//! round: it takes the rounds its job asks for, usually one to three for a
//! cold manifest, none for a warm one, and one for a segment, whose
//! payload reads (planned from the runs the job answers) the session makes
//! as one more round of the same request. An object found changed at the
//! origin (a 412, or bytes of another ETag) is dropped from what JS
//! provided and the job starts over from the new version, once.
//!
//! Parsed indexes and `.ism` files stay in a [`MemoryCache`] for the life of
//! the packager; fetched payload is dropped once the request that read it is
//! answered, so memory stays bounded by what requests in flight need.
//!
//! [`Session`] is the logic, platform-free and tested natively; the
//! `bindings` module wraps it for JS (wasm32-unknown-unknown only).

mod store;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod bindings;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use bindings::{Answer, Packager};

#[cfg(test)]
mod tests;

use crate::job::{Job, Step};
use crate::mux::cmaf::ByteRun;
use crate::plan;
use crate::service::{Config, Output, ServeError};
use crate::source::{self, MemoryCache, OriginError, ReadRequest, ReadResponse, SourceError};
use crate::timeline::DEFAULT_TARGET_MS;
use crate::url::{self, Route};
use bytes::Bytes;
use store::Store;
pub use store::{PutError, MAX_PIECE_BYTES, MAX_STORE_BYTES};

/// Error bodies, as at the edge.
pub const CT_ERROR: &str = "text/plain; charset=utf-8";

/// What one call of [`Session::request`] comes to.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Fetch these reads, [`Session::provide`] them, and ask again.
    Need(Vec<ReadRequest>),
    /// The response: a status (200 or an error's), its body as slices.
    Done(Done),
}

#[derive(Clone, Debug)]
pub struct Done {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<Bytes>,
    /// The error's one-line reason; empty on success.
    pub reason: String,
    /// Segments and init segments never change for a source version.
    pub immutable: bool,
}

impl Done {
    fn error(status: u16, reason: String) -> Done {
        Done {
            status,
            content_type: CT_ERROR,
            body: vec![Bytes::from(format!("{reason}\n"))],
            reason,
            immutable: false,
        }
    }

    fn serve_error(e: &ServeError) -> Done {
        Done::error(e.status(), e.to_string())
    }

    fn ok(content_type: &'static str, body: Vec<Bytes>, immutable: bool) -> Done {
        Done {
            status: 200,
            content_type,
            body,
            reason: String::new(),
            immutable,
        }
    }
}

/// Unanswered requests remembered (one JS gave up on never comes back:
/// this bounds their list; the store's byte cap bounds their bytes).
const MAX_PENDING: usize = 256;

/// A request waiting for reads: its job, what the job waits for, and what
/// it has read so far (released when it is answered).
struct Pending {
    /// Request path and query.
    key: String,
    job: Job,
    wait: Wait,
    /// Every read fed to this request, all rounds.
    asked: Vec<ReadRequest>,
    /// The store entries those reads were answered from.
    used: Vec<u64>,
}

impl Pending {
    /// The job's answer: a response, or a segment whose payload is one
    /// more round.
    fn deliver(&mut self, out: Output) -> Round {
        let (content_type, immutable) = (out.content_type(), out.is_immutable());
        let body = match out {
            Output::Text { body, .. } => vec![Bytes::from(body)],
            Output::Bytes { body, .. } => vec![body],
            // Chunk by chunk, as the edge streams it.
            Output::TsBuilt { segment, .. } => segment.collect(),
            // The browser has no key source (its sessions answer
            // `encryption=` with 501), so no key ever gets here.
            Output::Key { body, .. } => vec![body],
            Output::Ts(_) | Output::Cenc(_) => {
                return Round::Done(Done::error(500, "TS segment answered unbuilt".into()))
            }
            Output::Segment {
                header,
                runs,
                path,
                etag,
                ..
            } => {
                let plan = plan::plan_reads(&runs, self.job.payload_limits());
                let reads = source::payload_reads(&path, &etag, &plan);
                self.wait = Wait::Payload(Payload {
                    content_type,
                    header,
                    runs,
                    plan,
                    reads,
                    path,
                });
                return Round::Next;
            }
        };
        Round::Done(Done::ok(content_type, body, immutable))
    }
}

/// What a request's next round feeds.
enum Wait {
    /// The reads of the job's last [`Step::Read`] (none for a job not
    /// stepped yet, or started over).
    Job(Vec<ReadRequest>),
    /// The payload of the segment the job answered.
    Payload(Payload),
}

impl Wait {
    fn reads(&self) -> &[ReadRequest] {
        match self {
            Wait::Job(reads) => reads,
            Wait::Payload(p) => &p.reads,
        }
    }
}

/// A CMAF or Smooth segment whose source runs are still to be read.
struct Payload {
    content_type: &'static str,
    header: Bytes,
    runs: Vec<ByteRun>,
    /// The ranges read, as planned from `runs`, and their reads.
    plan: Vec<ByteRun>,
    reads: Vec<ReadRequest>,
    path: String,
}

impl Payload {
    /// The segment: its header, then slices of the reads (no copy).
    fn body(
        self,
        results: Vec<Result<ReadResponse, OriginError>>,
    ) -> Result<Vec<Bytes>, ServeError> {
        crate::service::segment_body(self.header, &self.runs, &self.plan, &self.path, results)
    }
}

/// Where one round left a request.
enum Round {
    /// Go on: the job asked for reads the store may already hold.
    Next,
    Need(Vec<ReadRequest>),
    Done(Done),
}

/// One packager: configuration, index cache and fetched bytes.
pub struct Session {
    cfg: Config,
    cache: MemoryCache,
    store: Store,
    /// Requests not answered yet, oldest first: what JS provides for them
    /// is kept when some other request completes.
    pending: Vec<Pending>,
}

impl Session {
    /// `segment_ms` outside 1000–30000 is clamped (as the edge's setting
    /// is); 0 means the default (6 s).
    pub fn new(segment_ms: u32) -> Session {
        let segment_ms = match segment_ms {
            0 => DEFAULT_TARGET_MS,
            ms => ms.clamp(1000, 30_000),
        };
        Session {
            cfg: Config {
                segment_ms,
                ..Config::default()
            },
            cache: MemoryCache::default(),
            store: Store::default(),
            pending: Vec::new(),
        }
    }

    /// Answers `path` (with its query string, without the `?`), or lists the
    /// reads it still needs.
    pub fn request(&mut self, path: &str, query: Option<&str>) -> Reply {
        let stream = match url::parse(path, query) {
            Ok(Route::Stream(s)) => s,
            Ok(Route::Health) => {
                return Reply::Done(Done {
                    status: 200,
                    content_type: "text/plain",
                    body: vec![Bytes::from_static(b"ok\n")],
                    reason: String::new(),
                    immutable: false,
                })
            }
            Ok(Route::PlayerPage | Route::PlayerAsset(_)) => {
                return Reply::Done(Done::error(
                    404,
                    "the player page is served by the edge only".into(),
                ))
            }
            Err(e) => return Reply::Done(Done::error(e.http_status(), e.to_string())),
        };
        let key = match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        let mut p = match self.pending.iter().position(|p| p.key == key) {
            Some(i) => self.pending.remove(i),
            None => Pending {
                key,
                job: Job::new(stream, self.cfg.clone()),
                wait: Wait::Job(Vec::new()),
                asked: Vec::new(),
                used: Vec::new(),
            },
        };
        // Rounds end when the store lacks a read (JS fetches it) or the
        // job answers; the job bounds its own restarts, so this ends.
        loop {
            match self.round(&mut p) {
                Round::Next => {}
                Round::Need(needs) => {
                    self.wait(p);
                    return Reply::Need(needs);
                }
                Round::Done(done) => {
                    self.settle(p);
                    return Reply::Done(done);
                }
            }
        }
    }

    /// Feeds the request what it waits for, if the store holds all of it.
    fn round(&mut self, p: &mut Pending) -> Round {
        let reads = p.wait.reads();
        let found: Vec<_> = reads.iter().map(|r| self.store.read(r)).collect();
        let missing: Vec<ReadRequest> = reads
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(r, _)| r.clone())
            .collect();
        if !missing.is_empty() {
            return Round::Need(missing);
        }
        p.asked.extend_from_slice(reads);
        let mut results = Vec::with_capacity(found.len());
        for (id, res) in found.into_iter().flatten() {
            p.used.push(id);
            // The object changed at the origin: nothing held of it is any
            // use now (the job starts over from the new version, which
            // JS fetches afresh).
            if let Err(OriginError::Changed(path)) = &res {
                self.store.forget(path);
            }
            results.push(res);
        }
        match std::mem::replace(&mut p.wait, Wait::Job(Vec::new())) {
            Wait::Job(_) => match p.job.step(&mut self.cache, results) {
                Step::Read(reads) => {
                    p.wait = Wait::Job(reads);
                    Round::Next
                }
                Step::Answer(Err(e)) => Round::Done(Done::serve_error(&e)),
                Step::Answer(Ok(out)) => p.deliver(out),
            },
            Wait::Payload(payload) => {
                let content_type = payload.content_type;
                match payload.body(results) {
                    Ok(body) => Round::Done(Done::ok(content_type, body, true)),
                    // Changed since it was indexed: the index is dropped and
                    // the job starts over (`wait` is a fresh start), once.
                    Err(ServeError::Source(SourceError::Origin(OriginError::Changed(path)))) => {
                        if p.job.source_changed(&path, &mut self.cache) {
                            Round::Next
                        } else {
                            Round::Done(Done::serve_error(&ServeError::Source(
                                SourceError::Origin(OriginError::Bad(format!(
                                    "{path} kept changing at the origin"
                                ))),
                            )))
                        }
                    }
                    Err(e) => Round::Done(Done::serve_error(&e)),
                }
            }
        }
    }

    /// The request is answered: drops what it fetched and read in any
    /// round, unless a request still waiting needs it.
    fn settle(&mut self, p: Pending) {
        let keep: Vec<ReadRequest> = self
            .pending
            .iter()
            .flat_map(|q| q.wait.reads().iter().cloned())
            .collect();
        self.store.release(&p.used, &p.asked, &keep);
    }

    /// Remembers a request until JS has fetched what it waits for.
    fn wait(&mut self, p: Pending) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push(p);
    }

    /// Hands over a fetched body: bytes `start..start + data.len()` of
    /// `path`, an object of `total_size` bytes with ETag `etag` ("" when the
    /// origin sent none or CORS hid it).
    pub fn provide(
        &mut self,
        path: &str,
        start: u64,
        data: Bytes,
        total_size: u64,
        etag: &str,
    ) -> Result<(), PutError> {
        self.store.put(path, start, data, total_size, etag)
    }

    /// Reports that the read of `path` at `start` failed with HTTP `status`
    /// (0: a network failure); the next request answers with the matching
    /// error, as the edge would.
    pub fn fail(&mut self, path: &str, start: u64, status: u16, reason: &str) {
        let p = path.to_string();
        let error = match status {
            404 | 410 => OriginError::NotFound(p),
            401 | 403 => OriginError::Forbidden(p),
            412 => OriginError::Changed(p),
            408 | 504 => OriginError::Timeout(p),
            // A range from byte 0 is unsatisfiable only on an empty object.
            416 if start == 0 => OriginError::Empty(p),
            0 => OriginError::Bad(format!("{path}: {reason}")),
            s => OriginError::Bad(format!("{path}: origin answered {s} {reason}")),
        };
        self.store.fail(path, start, error);
    }

    /// Drops the cached indexes and server manifests (after re-encoding a
    /// title in place, say; a changed ETag is noticed anyway).
    pub fn clear_cache(&mut self) {
        self.cache.0.clear();
    }

    /// Fetched payload bytes currently held.
    pub fn stored_bytes(&self) -> u64 {
        self.store.bytes()
    }

    /// Entries in the index cache (indexes, `.ism` files, version
    /// records, set summaries).
    pub fn cached_entries(&self) -> usize {
        self.cache.0.len()
    }
}
