//! The browser adapter: the packager as a wasm-bindgen module
//! (`wasm32-unknown-unknown`) that a page or a service worker drives.
//!
//! It is sans-IO on the JS side too: Rust never fetches. A request runs the
//! same core as the edge ([`url::parse`] → [`service::serve`] →
//! [`service::materialize`]) over an origin that answers from the bytes JS
//! has provided. When reads are missing, the answer lists them; JS fetches
//! them from the bucket with HTTP `Range` (and `If-Match`), provides the
//! bodies and asks again, usually one to three rounds for a cold manifest
//! and one for a segment (`browser/edgepack-browser.js` runs the loop).
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

use crate::service::{self, Config, ServeError};
use crate::source::{index_key, MemoryCache, OriginError, ReadRequest, SourceError};
use crate::timeline::DEFAULT_TARGET_MS;
use crate::url::{self, Route, StreamRequest};
use bytes::Bytes;
pub use store::{PutError, MAX_PIECE_BYTES, MAX_STORE_BYTES};
use store::{Store, StoreOrigin};

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
}

/// Runs of the core per `request` call: each change of an object at the
/// origin costs one (a set has at most `MAX_URLSET_MEMBERS` files).
const MAX_ATTEMPTS: usize = url::MAX_URLSET_MEMBERS + 2;

/// How one run of the core ended.
enum Attempt {
    Need(Vec<ReadRequest>),
    Done(Done),
    /// This object changed at the origin since it was indexed.
    Changed(String),
}

/// Unanswered requests remembered (one JS gave up on never comes back:
/// this bounds their list; the store's byte cap bounds their bytes).
const MAX_PENDING: usize = 256;

/// A request answered with reads to make: what it was handed and which
/// pieces it used so far, released when it is answered.
struct Pending {
    /// Request path and query.
    key: String,
    reads: Vec<ReadRequest>,
    used: Vec<u64>,
}

/// One packager: configuration, index cache and fetched bytes.
pub struct Session {
    cfg: Config,
    cache: MemoryCache,
    store: Store,
    /// Requests not answered yet: what JS provides for them is kept when
    /// some other request completes.
    pending: Vec<Pending>,
    /// Objects found changed (and re-indexed) by requests not answered yet.
    replaced: Vec<String>,
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
            replaced: Vec::new(),
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
        // An object replaced at the origin between reads fails `If-Match`:
        // its index is forgotten and the request answered from the new
        // version (which first needs reads of its own), as the edge does. A
        // second change of the same object before any answer gives up.
        for _ in 0..MAX_ATTEMPTS {
            match self.attempt(&stream, &key) {
                Attempt::Need(needs) => return Reply::Need(needs),
                Attempt::Done(done) => return Reply::Done(done),
                Attempt::Changed(p) if self.replaced.contains(&p) => {
                    self.replaced.retain(|r| *r != p);
                    self.store.forget(&p);
                    self.settle(&key, Vec::new(), Vec::new());
                    break;
                }
                Attempt::Changed(p) => {
                    self.cache.0.remove(&index_key(&p));
                    self.store.forget(&p);
                    self.replaced.push(p);
                    let over = self.replaced.len().saturating_sub(MAX_PENDING);
                    self.replaced.drain(..over);
                }
            }
        }
        Reply::Done(Done::error(502, "origin object kept changing".into()))
    }

    /// One run of the core over the bytes at hand.
    fn attempt(&mut self, stream: &StreamRequest, key: &str) -> Attempt {
        let mut origin = StoreOrigin::new(&self.store);
        let result =
            service::serve(stream, &mut origin, &mut self.cache, &self.cfg).and_then(|out| {
                let body = service::materialize(&out, &mut origin, &self.cfg)?;
                Ok((out, body))
            });
        let StoreOrigin {
            asked,
            used,
            missing,
            ..
        } = origin;
        if !missing.is_empty() {
            self.wait(key, &missing, used);
            return Attempt::Need(missing);
        }
        let done = match result {
            Err(ServeError::Source(SourceError::Origin(OriginError::Changed(p)))) => {
                return Attempt::Changed(p)
            }
            Err(e) => Done::serve_error(&e),
            Ok((out, body)) => Done {
                status: 200,
                content_type: out.content_type(),
                body,
                reason: String::new(),
                immutable: out.is_immutable(),
            },
        };
        self.settle(key, asked, used);
        Attempt::Done(done)
    }

    /// The request is answered: drops what it fetched and read in any
    /// round, unless another request waiting still needs it.
    fn settle(&mut self, key: &str, mut asked: Vec<ReadRequest>, mut used: Vec<u64>) {
        if let Some(i) = self.pending.iter().position(|p| p.key == key) {
            let mine = self.pending.remove(i);
            asked.extend(mine.reads);
            used.extend(mine.used);
        }
        let keep_reads: Vec<ReadRequest> = self
            .pending
            .iter()
            .flat_map(|p| p.reads.iter().cloned())
            .collect();
        let keep_ids: Vec<u64> = self
            .pending
            .iter()
            .flat_map(|p| p.used.iter().copied())
            .collect();
        used.retain(|id| !keep_ids.contains(id));
        self.store.release(&used, &asked, &keep_reads);
        self.replaced
            .retain(|p| !asked.iter().any(|r| r.path == *p));
    }

    /// Remembers what a request waits for and what it has read so far.
    fn wait(&mut self, key: &str, reads: &[ReadRequest], used: Vec<u64>) {
        let i = match self.pending.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => {
                if self.pending.len() >= MAX_PENDING {
                    self.pending.remove(0);
                }
                self.pending.push(Pending {
                    key: key.to_string(),
                    reads: Vec::new(),
                    used: Vec::new(),
                });
                self.pending.len() - 1
            }
        };
        let p = &mut self.pending[i];
        for r in reads {
            if !p.reads.contains(r) {
                p.reads.push(r.clone());
            }
        }
        for id in used {
            if !p.used.contains(&id) {
                p.used.push(id);
            }
        }
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

    /// Entries in the index cache.
    pub fn cached_entries(&self) -> usize {
        self.cache.0.len()
    }
}
