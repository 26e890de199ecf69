//! Muxers: CMAF (fMP4), MPEG-TS and Smooth fragments over the shared timeline.

use bytes::Bytes;

/// One sample handed to a muxer that needs the payload bytes (TS).
///
/// Times are in the track timescale and already on the presentation
/// timeline: the first presented frame of the title has `pts == 0`; `dts`
/// can be negative for the first frames of a stream with B-frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MuxSample {
    pub dts: i64,
    pub pts: i64,
    pub duration: u32,
    pub sync: bool,
    /// The sample payload as stored in the MP4 (length-prefixed NAL units
    /// for AVC/HEVC, raw access units for audio); a slice of an origin read.
    pub data: Bytes,
}

/// A contiguous byte range of the source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRun {
    pub offset: u64,
    pub len: u64,
}

impl ByteRun {
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// A segment as generated header bytes plus source runs, in output order:
/// the payload is never copied, and the size is known before any payload
/// byte is read.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaSegment {
    pub header: Bytes,
    pub runs: Vec<ByteRun>,
}

impl MediaSegment {
    /// Total size in bytes.
    pub fn len(&self) -> u64 {
        self.header.len() as u64 + self.runs.iter().map(|r| r.len).sum::<u64>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub mod adts;
pub mod annexb;
pub mod boxes;
pub mod cenc;
pub mod cmaf;
pub mod fragment;
pub mod piff;
pub mod smooth;
pub mod stpp;
pub mod ts;
pub mod wvtt;
