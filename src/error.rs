//! Errors shared by the layers: the caps on the work one request may cause.
//!
//! A request at the edge gets about 50 ms of CPU and 128 MB of heap. A
//! small object in the bucket must not be able to spend more than that: an
//! MP4 whose tables claim millions of samples, a title cut into one huge
//! segment, a timeline of a million segments. Each cap is a named constant
//! next to the code it guards (its doc comment says why that value), and is
//! checked before the work it bounds is done. Going over one is a
//! [`LimitError`]: the layers carry it typed (`IndexError::Limit`,
//! `TimelineError::Limit`, `ServeError::Limit`), and it answers
//! [`LimitError::STATUS`] with its [`fmt::Display`] as the reason, never a
//! panic and never a silently shorter 200.

use std::fmt;

/// Which cap was hit; each names its constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cap {
    /// [`crate::index::MAX_TRACK_SAMPLES`]
    TrackSamples,
    /// [`crate::index::MAX_FILE_SAMPLES`]
    FileSamples,
    /// [`crate::index::MAX_INDEX_BYTES`]
    IndexBytes,
    /// [`crate::timeline::MAX_SEGMENT_SAMPLES`]
    SegmentSamples,
    /// [`crate::timeline::MAX_SEGMENT_BYTES`]
    SegmentBytes,
    /// [`crate::timeline::SEGMENT_RATE_FACTOR`] applied to the track's
    /// average sample rate.
    SegmentSamplesForRate,
    /// [`crate::timeline::SEGMENT_RATE_FACTOR`] applied to the track's
    /// average bitrate.
    SegmentBytesForRate,
    /// [`crate::service::ts::MAX_TS_READ_BYTES`]
    SegmentReadBytes,
    /// [`crate::timeline::MAX_TIMELINE_SEGMENTS`]
    TimelineSegments,
    /// [`crate::timeline::MAX_ALIGNMENT_PROBES`]
    AlignmentProbes,
    /// [`crate::service::MAX_MANIFEST_SEGMENTS`]
    ManifestSegments,
    /// [`crate::service::MAX_MANIFEST_BYTES`]
    ManifestBytes,
}

/// A request over one of the caps: `value` of what was counted (or the
/// first count found over the cap, for caps checked as work proceeds)
/// against `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitError {
    pub cap: Cap,
    pub value: u64,
    pub max: u64,
}

impl LimitError {
    /// HTTP status of a request over a cap: 502, the family of "the
    /// origin's media cannot be packaged" (the object is what is wrong, not
    /// the request; a replaced object may well pass), and not cacheable by
    /// default (RFC 9110 §15.6.3), so a cap raised by a deploy applies at
    /// once.
    pub const STATUS: u16 = 502;

    pub fn new(cap: Cap, value: u64, max: u64) -> Self {
        LimitError { cap, value, max }
    }

    /// `Err` when `value` is over `max`.
    pub fn check(cap: Cap, value: u64, max: u64) -> Result<(), LimitError> {
        if value > max {
            Err(LimitError::new(cap, value, max))
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (v, max) = (self.value, self.max);
        match self.cap {
            Cap::TrackSamples => write!(
                f,
                "a track of {v} samples is over the limit of {max} samples per track"
            ),
            Cap::FileSamples => write!(
                f,
                "a file of {v} samples is over the limit of {max} samples per file"
            ),
            Cap::IndexBytes => write!(
                f,
                "the index of this file needs {v} bytes, over the limit of {max}"
            ),
            Cap::SegmentSamples => write!(
                f,
                "a segment of {v} samples is over the limit of {max} samples per segment"
            ),
            Cap::SegmentBytes => write!(
                f,
                "a segment of {v} bytes is over the limit of {max} bytes per segment"
            ),
            Cap::SegmentSamplesForRate => write!(
                f,
                "a segment of {v} samples is over {max}, the track's average for {} target durations",
                crate::timeline::SEGMENT_RATE_FACTOR
            ),
            Cap::SegmentBytesForRate => write!(
                f,
                "a segment of {v} bytes is over {max}, the track's average bitrate for {} target durations",
                crate::timeline::SEGMENT_RATE_FACTOR
            ),
            Cap::SegmentReadBytes => write!(
                f,
                "a segment needing {v} bytes of reads is over the limit of {max}"
            ),
            Cap::TimelineSegments => write!(
                f,
                "a timeline of {v} segments is over the limit of {max} segments"
            ),
            Cap::AlignmentProbes => write!(
                f,
                "aligning the renditions needs {v} keyframe lookups, over the limit of {max}"
            ),
            Cap::ManifestSegments => write!(
                f,
                "a manifest of {v} segment entries is over the limit of {max}"
            ),
            Cap::ManifestBytes => write!(
                f,
                "a manifest of {v} bytes is over the limit of {max} bytes"
            ),
        }
    }
}

impl std::error::Error for LimitError {}
