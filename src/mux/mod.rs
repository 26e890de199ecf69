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

pub mod adts;
pub mod annexb;
pub mod boxes;
pub mod cmaf;
pub mod smooth;
pub mod ts;
