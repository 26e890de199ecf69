//! Text sidecars (`.vtt`; `.ttml`, `.xml`, `.dfxp` parsed by
//! [`crate::input::ttml`] into the same cues) from the origin: read whole in one request
//! (capped at [`MAX_VTT_BYTES`]; a larger object is refused, 502), parsed
//! once into a cue list and cached parsed ([`CueList::to_blob`]) under
//! [`cues_key`], with the version of the object it came from inside. Like
//! the `.ism`, the entry is found by path; the version is also recorded
//! under [`crate::outputs::tag_key`] with the time it was read, so a text
//! segment's output key names the sidecar's version, and the version is
//! confirmed at the origin every `revalidate_after` like a media file's
//! ([`super::freshness`]): a replaced sidecar drops its cues and gets new
//! output keys.

use super::freshness::{Clock, Record};
use super::{Cache, ReadRequest, ReadResponse, SourceError};
use crate::input::ism::{sidecar_format, SidecarFormat};
use crate::input::ttml;
use crate::input::webvtt::{self, CueList, CUE_BLOB_VERSION, MAX_VTT_BYTES};
use bytes::Bytes;

/// The read that fetches a sidecar: the whole object, one byte more than
/// the cap so a larger one is told apart.
pub fn text_read(path: &str) -> ReadRequest {
    ReadRequest {
        path: path.to_string(),
        start: 0,
        end: MAX_VTT_BYTES as u64 + 1,
        if_match: None,
        target: crate::source::ReadTarget::Origin,
    }
}

/// Cache key of a sidecar's parsed cues.
pub fn cues_key(path: &str) -> String {
    format!("cues/v{CUE_BLOB_VERSION}/{path}")
}

/// The cached cues of `path`; `None` when absent or unreadable, or when
/// their version record is gone (evicted on its own) or names another
/// version: the record is what [`super::freshness::stale`] revalidates, so
/// cues without one would serve unchecked for as long as they stay cached.
pub fn cached_cues(path: &str, cache: &mut dyn Cache) -> Option<CueList> {
    let blob = cache.get(&cues_key(path))?;
    let (version, cues) = CueList::from_blob(&blob)?;
    let record = Record::decode(&cache.get(&crate::outputs::tag_key(path))?);
    (record.version == version).then_some(cues)
}

/// Parses the answer to [`text_read`], caching the cues and the version.
pub fn cues_from_read(
    path: &str,
    resp: ReadResponse,
    cache: &mut dyn Cache,
    clock: Clock,
) -> Result<CueList, SourceError> {
    let bad = |error: String| SourceError::Text {
        path: path.to_string(),
        error,
    };
    if resp.total_size > MAX_VTT_BYTES as u64 || resp.data.len() > MAX_VTT_BYTES {
        return Err(bad(format!("larger than {MAX_VTT_BYTES} bytes")));
    }
    let cues = match sidecar_format(path) {
        Some(SidecarFormat::Ttml) => ttml::parse(&resp.data).map_err(|e| bad(e.to_string()))?,
        _ => webvtt::parse(&resp.data).map_err(|e| bad(e.to_string()))?,
    };
    let version = super::freshness::version_of(&resp);
    cache.put(&cues_key(path), Bytes::from(cues.to_blob(&version)));
    // Confirmed now: revalidated after `revalidate_after` like a media
    // file's record, so a replaced sidecar is noticed.
    cache.put(
        &crate::outputs::tag_key(path),
        Record::encode(version.as_bytes(), clock.now),
    );
    Ok(cues)
}
