//! The bytes JS has fetched, and the failures it reported.
//!
//! JS fetches each read a request's job asks for (HTTP `Range`) and hands
//! the body over once; reads are answered by slicing a stored piece that
//! covers them (`Bytes::slice`, no copy). A read nothing covers is not
//! answered: the session returns it to JS to fetch.

use crate::source::{OriginError, ReadRequest, ReadResponse};
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
    /// covering piece), except those provided for or answering the reads in
    /// `keep` (other requests' that are still waiting).
    pub fn release(&mut self, used: &[u64], asked: &[ReadRequest], keep: &[ReadRequest]) {
        let kept: Vec<u64> = keep
            .iter()
            .filter_map(|r| self.read(r).map(|(id, _)| id))
            .collect();
        let at = |reads: &[ReadRequest], path: &str, start: u64| {
            reads.iter().any(|r| r.path == path && r.start == start)
        };
        let drop = |id: u64, path: &str, start: u64| {
            (used.contains(&id) || at(asked, path, start))
                && !at(keep, path, start)
                && !kept.contains(&id)
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

    /// The answer to `r` and the entry it comes from: a recorded failure,
    /// a slice of a piece that covers it, or `Changed` when that piece is
    /// of another version than `r` must match. `None`: JS has to fetch it.
    pub fn read(&self, r: &ReadRequest) -> Option<(u64, Result<ReadResponse, OriginError>)> {
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
