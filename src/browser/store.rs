//! The bytes JS has fetched, and an [`Origin`] that answers from them.
//!
//! JS fetches each read the core asks for (HTTP `Range`) and hands the
//! body over once; reads are answered by slicing a stored piece that covers
//! them (`Bytes::slice`, no copy). A read nothing covers is recorded as
//! *missing* and fails, which ends the current attempt; the session then
//! returns the missing reads to JS instead of an error.

use crate::source::{Origin, OriginError, ReadRequest, ReadResponse};
use bytes::Bytes;
use std::collections::VecDeque;

/// Largest piece accepted from JS (the edge refuses larger bodies too: an
/// origin that ignores `Range` would otherwise hand over a whole title).
pub const MAX_PIECE_BYTES: u64 = 64 * 1024 * 1024;
/// Payload kept at once. Pieces are dropped when the request that read them
/// completes; this cap only bounds pieces no request came back for.
pub const MAX_STORE_BYTES: u64 = 128 * 1024 * 1024;

/// One body JS fetched: `data` is bytes `start..start + data.len()` of
/// `path`.
#[derive(Clone, Debug)]
struct Piece {
    id: u64,
    path: String,
    start: u64,
    data: Bytes,
    total_size: u64,
    etag: String,
}

impl Piece {
    fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }

    /// The part of `r` this piece holds, if it holds all of it. A read past
    /// the end of the object is cut at the end, as an HTTP range is.
    fn slice(&self, r: &ReadRequest) -> Option<Bytes> {
        if r.path != self.path || r.start < self.start || r.start >= self.total_size {
            return None;
        }
        let end = r.end.min(self.total_size);
        if end > self.end() || end < r.start {
            return None;
        }
        let from = usize::try_from(r.start - self.start).ok()?;
        let to = usize::try_from(end - self.start).ok()?;
        Some(self.data.slice(from..to))
    }
}

/// A read JS could not complete (HTTP status or network failure).
#[derive(Clone, Debug)]
struct Failure {
    id: u64,
    path: String,
    start: u64,
    error: OriginError,
}

/// Why [`Store::put`] refused a piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutError {
    /// `start + len` is beyond `total_size`.
    Inconsistent,
    TooLarge,
}

#[derive(Default)]
pub struct Store {
    pieces: VecDeque<Piece>,
    failures: Vec<Failure>,
    bytes: u64,
    next_id: u64,
}

impl Store {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Stores a fetched body; drops the oldest pieces beyond
    /// [`MAX_STORE_BYTES`].
    pub fn put(
        &mut self,
        path: &str,
        start: u64,
        data: Bytes,
        total_size: u64,
        etag: &str,
    ) -> Result<(), PutError> {
        let len = data.len() as u64;
        if len > MAX_PIECE_BYTES {
            return Err(PutError::TooLarge);
        }
        if start.checked_add(len).is_none_or(|end| end > total_size) {
            return Err(PutError::Inconsistent);
        }
        // A newer answer for the same read replaces an older failure.
        self.failures
            .retain(|f| !(f.path == path && f.start == start));
        while self.bytes + len > MAX_STORE_BYTES {
            match self.pieces.pop_front() {
                Some(p) => self.bytes -= p.data.len() as u64,
                None => break,
            }
        }
        let id = self.id();
        self.bytes += len;
        self.pieces.push_back(Piece {
            id,
            path: path.to_string(),
            start,
            data,
            total_size,
            etag: etag.to_string(),
        });
        Ok(())
    }

    /// Records that the read of `path` at `start` failed.
    pub fn fail(&mut self, path: &str, start: u64, error: OriginError) {
        self.failures
            .retain(|f| !(f.path == path && f.start == start));
        let id = self.id();
        self.failures.push(Failure {
            id,
            path: path.to_string(),
            start,
            error,
        });
    }

    /// Drops what an answered request read: the pieces and failures it
    /// used, and those provided for its reads (one it answered from another
    /// covering piece), except those provided for reads in `keep` (other
    /// requests' that are still waiting).
    pub fn release(&mut self, used: &[u64], asked: &[ReadRequest], keep: &[ReadRequest]) {
        let at = |reads: &[ReadRequest], path: &str, start: u64| {
            reads.iter().any(|r| r.path == path && r.start == start)
        };
        let drop = |id: u64, path: &str, start: u64| {
            (used.contains(&id) || at(asked, path, start)) && !at(keep, path, start)
        };
        let mut freed = 0;
        self.pieces.retain(|p| {
            let keep = !drop(p.id, &p.path, p.start);
            if !keep {
                freed += p.data.len() as u64;
            }
            keep
        });
        self.bytes -= freed;
        self.failures.retain(|f| !drop(f.id, &f.path, f.start));
    }

    /// Drops everything about `path` (it changed at the origin).
    pub fn forget(&mut self, path: &str) {
        let mut freed = 0;
        self.pieces.retain(|p| {
            let keep = p.path != path;
            if !keep {
                freed += p.data.len() as u64;
            }
            keep
        });
        self.bytes -= freed;
        self.failures.retain(|f| f.path != path);
    }

    /// Payload bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn read_one(&self, r: &ReadRequest) -> Option<(u64, Result<ReadResponse, OriginError>)> {
        if let Some(f) = self
            .failures
            .iter()
            .rev()
            .find(|f| f.path == r.path && f.start == r.start)
        {
            return Some((f.id, Err(f.error.clone())));
        }
        // Newest first: after a change at the origin the fresh bytes win.
        self.pieces.iter().rev().find_map(|p| {
            let data = p.slice(r)?;
            let stale = matches!(&r.if_match, Some(want) if !p.etag.is_empty() && *want != p.etag);
            let res = if stale {
                Err(OriginError::Changed(r.path.clone()))
            } else {
                Ok(ReadResponse {
                    data,
                    total_size: p.total_size,
                    etag: p.etag.clone(),
                })
            };
            Some((p.id, res))
        })
    }
}

/// An [`Origin`] over a [`Store`] for one attempt: what it asked for and
/// read (to release once the request is answered) and what it lacked (for
/// JS to fetch).
pub struct StoreOrigin<'a> {
    store: &'a Store,
    pub asked: Vec<ReadRequest>,
    pub used: Vec<u64>,
    pub missing: Vec<ReadRequest>,
}

impl<'a> StoreOrigin<'a> {
    pub fn new(store: &'a Store) -> Self {
        StoreOrigin {
            store,
            asked: Vec::new(),
            used: Vec::new(),
            missing: Vec::new(),
        }
    }
}

impl Origin for StoreOrigin<'_> {
    fn read(&mut self, reqs: &[ReadRequest]) -> Vec<Result<ReadResponse, OriginError>> {
        self.asked.extend_from_slice(reqs);
        reqs.iter()
            .map(|r| match self.store.read_one(r) {
                Some((id, res)) => {
                    self.used.push(id);
                    res
                }
                None => {
                    if !self.missing.contains(r) {
                        self.missing.push(r.clone());
                    }
                    // Ends this attempt; the caller sees `missing` and asks
                    // JS for the bytes instead of reporting this.
                    Err(OriginError::Bad(format!("{} not fetched yet", r.path)))
                }
            })
            .collect()
    }
}
