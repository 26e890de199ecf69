//! MPEG-4 AAC (`mp4a` with an AudioSpecificConfig, ISO/IEC 14496-3).

use super::SmoothCodec;
use crate::model::AacConfig;

pub use crate::mp4::codec::aac_codec_string as codec_string;

/// Name in refusals.
pub const NAME: &str = "AAC";

/// MPEG-TS `stream_type` 0x0F: "ISO/IEC 13818-7 Audio with ADTS transport
/// syntax" (ISO/IEC 13818-1 Table 2-34).
pub const TS_STREAM_TYPE: u8 = 0x0F;

/// Smooth `AudioTag` of AAC: `WAVE_FORMAT_RAW_AAC1` (MS-SSTR §2.2.2.5).
pub const SMOOTH_AUDIO_TAG: u16 = 0x00FF;

/// Smooth FourCC (MS-SSTR §2.2.2.5): `AACH` for HE-AAC v1/v2 (object type
/// 5 or 29), `AACL` otherwise.
pub fn smooth_fourcc(c: &AacConfig) -> &'static str {
    if matches!(c.object_type, 5 | 29) {
        "AACH"
    } else {
        "AACL"
    }
}

/// Smooth signalling: `CodecPrivateData` is the AudioSpecificConfig,
/// `PacketSize` 2 bytes per channel (MS-SSTR §2.2.2.5).
pub fn smooth(c: &AacConfig, channels: u16) -> SmoothCodec {
    SmoothCodec {
        fourcc: smooth_fourcc(c),
        private_data: c.asc.to_vec(),
        audio_tag: SMOOTH_AUDIO_TAG,
        packet_size: 2 * u32::from(channels.max(1)),
    }
}
