//! H.265 / HEVC (`hvc1`, `hev1`): ISO/IEC 14496-15 §8 carriage.
//!
//! MS-SSTR §2.2.2.5 defines no FourCC for HEVC, so Smooth leaves it out;
//! Apple devices play HEVC from fMP4 only, so MPEG-TS HLS leaves it out
//! too, although ISO/IEC 13818-1 has a stream type for it.

use crate::model::{Codec, TrackInfo};

pub use crate::mp4::codec::hevc_codec_string as codec_string;

/// Name in refusals.
pub const NAME: &str = "HEVC";

/// MPEG-TS `stream_type` 0x24: "HEVC video stream" (ISO/IEC 13818-1
/// Table 2-34).
pub const TS_STREAM_TYPE: u8 = 0x24;

/// PMT registration descriptor `format_identifier` (ISO/IEC 13818-1
/// §2.6.8), as ffmpeg writes it for HEVC.
pub const TS_REGISTRATION: &[u8; 4] = b"HEVC";

/// Whether the track is HEVC.
pub fn is(info: &TrackInfo) -> bool {
    matches!(info.codec, Codec::Hevc(_))
}
