//! H.264 / AVC (`avc1`, `avc3`): ISO/IEC 14496-15 §5 carriage.

use super::SmoothCodec;
use crate::model::AvcConfig;

pub use crate::mp4::codec::avc_codec_string as codec_string;

/// Name in refusals.
pub const NAME: &str = "H.264";

/// MPEG-TS `stream_type` 0x1B: "AVC video stream as defined in ITU-T
/// H.264 | ISO/IEC 14496-10" (ISO/IEC 13818-1 Table 2-34).
pub const TS_STREAM_TYPE: u8 = 0x1B;

/// Smooth FourCC (MS-SSTR §2.2.2.5).
pub const SMOOTH_FOURCC: &str = "H264";

/// Smooth signalling: `CodecPrivateData` is the SPS then the PPS, each
/// behind a 4-byte Annex-B start code (MS-SSTR §2.2.2.5, "H264").
pub fn smooth(c: &AvcConfig) -> SmoothCodec {
    let mut cpd = Vec::new();
    for nal in c.sps.iter().chain(&c.pps) {
        cpd.extend_from_slice(&[0, 0, 0, 1]);
        cpd.extend_from_slice(nal);
    }
    SmoothCodec {
        fourcc: SMOOTH_FOURCC,
        private_data: cpd,
        audio_tag: 0,
        packet_size: 0,
    }
}
