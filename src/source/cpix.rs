//! The CPIX document of an asset at the origin (sans-IO, read through
//! [`crate::job::Job`] when `key_source = cpix`): one object beside the
//! asset ([`crate::crypto::cpix_path`]), read whole in one request with the
//! origin's auth, like a filter file, capped at
//! [`MAX_CPIX_BYTES`](crate::crypto::cpix::MAX_CPIX_BYTES) (a larger one is
//! 502).
//!
//! The bytes are cached under [`cpix_key`] (the index cache, so the
//! lifetime of an index: `index_ttl`) and parsed on each use (a few KB);
//! the output-cache key names their digest ([`crate::outputs::key`]), so a
//! replaced document (new key or new signalling) gives new outputs once
//! its cached copy expires.
//!
//! Why 404 when the document is missing: with `key_source = cpix` the
//! encrypted rendition of an asset exists only when its keys do; like a
//! missing filter file, the resource asked for has no representation. It
//! is not 403 (no viewer is refused anything) nor 5xx (the deployment
//! works; one asset has no keys). The message names the object expected.

use super::{Cache, OriginError, ReadRequest, ReadResponse, SourceError};
use crate::crypto::cpix::MAX_CPIX_BYTES;
use bytes::Bytes;

/// Index-cache key of the CPIX document at `path`.
pub fn cpix_key(path: &str) -> String {
    format!("cpix/{path}")
}

/// The read that fetches the document: the whole object, one byte more
/// than the cap so a larger one is told apart.
pub fn cpix_read(path: &str) -> ReadRequest {
    ReadRequest {
        path: path.to_string(),
        start: 0,
        end: MAX_CPIX_BYTES as u64 + 1,
        if_match: None,
    }
}

/// The cached bytes of the document at `path`.
pub fn cached(path: &str, cache: &mut dyn Cache) -> Option<Bytes> {
    cache.get(&cpix_key(path))
}

/// The bytes of the answer to [`cpix_read`]: 404 naming the document
/// when there is none, 502 when it is over the cap. Not cached here: the
/// job caches it once parsed ([`store`]), so a bad document is read
/// again next time rather than kept.
pub fn from_read(
    path: &str,
    result: Result<ReadResponse, OriginError>,
) -> Result<Bytes, SourceError> {
    let resp = match result {
        Ok(r) => r,
        Err(OriginError::NotFound(_)) => {
            return Err(OriginError::NotFound(format!("CPIX document {path}")).into())
        }
        Err(e) => return Err(e.into()),
    };
    if resp.total_size > MAX_CPIX_BYTES as u64 || resp.data.len() > MAX_CPIX_BYTES {
        return Err(SourceError::Media {
            path: format!("CPIX document {path}"),
            error: format!("larger than {MAX_CPIX_BYTES} bytes"),
        });
    }
    Ok(resp.data)
}

/// Caches a parsed document's bytes.
pub fn store(path: &str, bytes: Bytes, cache: &mut dyn Cache) {
    cache.put(&cpix_key(path), bytes);
}

/// The version of the cached document of `path` for an output cache key,
/// `None` when not cached (the digest [`crate::crypto::cpix::Cpix`]'s
/// `version` holds).
pub fn cached_version(path: &str, cache: &mut dyn Cache) -> Option<String> {
    let bytes = cache.get(&cpix_key(path))?;
    Some(crate::http::etag::of_body(&bytes))
}
