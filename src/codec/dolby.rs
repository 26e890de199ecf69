//! Dolby AC-3 (`ac-3`) and E-AC-3 (`ec-3`): ETSI TS 102 366 (Annex F for
//! the `dac3`/`dec3` boxes), ATSC A/52.

use super::SmoothCodec;
use crate::model::Ec3Config;

pub use crate::mp4::codec::ac3_channels;

/// Names in refusals.
pub const AC3_NAME: &str = "AC-3";
pub const EC3_NAME: &str = "E-AC-3";

/// MPEG-TS `stream_type` of AC-3, 0x81 (ATSC A/52 Annex A.2, "user
/// private" in ISO/IEC 13818-1 Table 2-34).
pub const AC3_TS_STREAM_TYPE: u8 = 0x81;
/// MPEG-TS `stream_type` of E-AC-3, 0x87 (ATSC A/52 Annex G.2).
pub const EC3_TS_STREAM_TYPE: u8 = 0x87;
/// PMT registration descriptor `format_identifier`s (ATSC A/52 Annex A.3,
/// G.3).
pub const AC3_TS_REGISTRATION: &[u8; 4] = b"AC-3";
pub const EC3_TS_REGISTRATION: &[u8; 4] = b"EAC3";

/// DASH `AudioChannelConfiguration` scheme for Dolby (DASH-IF IOP, audio
/// chapter, "Dolby"; ETSI TS 102 366 Annex I): the value is a 16-bit channel mask in hex.
pub const DASH_SCHEME: &str = "tag:dolby.com,2014:dash:audio_channel_configuration:2011";

/// DASH descriptor schemes of E-AC-3 with JOC (Dolby Atmos), ETSI TS 103
/// 420 Annex D.2: the extension type (value `JOC`) and the complexity index.
pub const DASH_SCHEME_EXTENSION_TYPE: &str = "tag:dolby.com,2018:dash:EC3_ExtensionType:2018";
pub const DASH_SCHEME_COMPLEXITY_INDEX: &str =
    "tag:dolby.com,2018:dash:EC3_ExtensionComplexityIndex:2018";

/// The object count to signal for a JOC complexity index: the index
/// itself, or 16 (the value Apple and Dolby use for streaming Atmos) when
/// the file leaves it 0, so a player never reads "0 channels".
pub fn joc_objects(complexity_index: u8) -> u8 {
    if complexity_index == 0 {
        16
    } else {
        complexity_index
    }
}

/// Smooth FourCC of E-AC-3 (MS-SSTR §2.2.2.5). AC-3 has none.
pub const EC3_SMOOTH_FOURCC: &str = "EC-3";
/// Smooth `AudioTag` of E-AC-3: `WAVE_FORMAT_EXTENSIBLE`; CodecPrivateData
/// then carries the WAVEFORMATEXTENSIBLE fields after `cbSize`.
pub const SMOOTH_AUDIO_TAG_EXTENSIBLE: u16 = 0xFFFE;
/// `KSDATAFORMAT_SUBTYPE_IEC61937_DOLBY_DIGITAL_PLUS`
/// ({A7FB87AF-2D02-42FB-A4D4-05CD93843BDD}) as a little-endian GUID.
const GUID_DOLBY_DIGITAL_PLUS: [u8; 16] = [
    0xAF, 0x87, 0xFB, 0xA7, 0x02, 0x2D, 0xFB, 0x42, 0xA4, 0xD4, 0x05, 0xCD, 0x93, 0x84, 0x3B, 0xDD,
];
/// Samples per E-AC-3 syncframe (6 blocks of 256), WAVEFORMATEXTENSIBLE's
/// `wSamplesPerBlock`.
const EC3_SAMPLES_PER_BLOCK: u16 = 1536;

/// Dolby channel mask for `acmod` + LFE (ETSI TS 102 366 Table I.1.1 order).
pub fn dolby_channel_mask(acmod: u8, lfe: bool) -> u16 {
    let base: u16 = match acmod {
        1 => 0x4000,
        3 => 0xE000,
        4 => 0xA080,
        5 => 0xE080,
        6 => 0xB800,
        7 => 0xF800,
        _ => 0xA000,
    };
    base | u16::from(lfe)
}

/// DASH `AudioChannelConfiguration` (scheme, value) of an AC-3 or E-AC-3
/// stream: [`DASH_SCHEME`] with the channel mask as 4 upper-case hex digits.
pub fn dash_channels(acmod: u8, lfe: bool) -> (&'static str, String) {
    (
        DASH_SCHEME,
        format!("{:04X}", dolby_channel_mask(acmod, lfe)),
    )
}

/// WAVEFORMATEXTENSIBLE `dwChannelMask` for a Dolby `acmod` + LFE (ETSI TS
/// 102 366 Table 4.3; surrounds on the back pair, as Bento4 and the
/// manifests in the field have it).
pub fn wave_channel_mask(acmod: u8, lfe: bool) -> u32 {
    const FL: u32 = 0x1;
    const FR: u32 = 0x2;
    const FC: u32 = 0x4;
    const LFE: u32 = 0x8;
    const BL: u32 = 0x10;
    const BR: u32 = 0x20;
    const BC: u32 = 0x100;
    let base = match acmod {
        1 => FC,
        3 => FL | FC | FR,
        4 => FL | FR | BC,
        5 => FL | FC | FR | BC,
        6 => FL | FR | BL | BR,
        7 => FL | FC | FR | BL | BR,
        _ => FL | FR,
    };
    base | if lfe { LFE } else { 0 }
}

/// Smooth signalling of E-AC-3 (MS-SSTR §2.2.2.5): `CodecPrivateData` is
/// the WAVEFORMATEXTENSIBLE tail after `cbSize` (`wSamplesPerBlock`,
/// `dwChannelMask`, `SubFormat`, all little-endian) then the `dec3`
/// payload (ETSI TS 102 366 §F.6); `PacketSize` is 4 × kbit/s.
pub fn ec3_smooth(c: &Ec3Config) -> SmoothCodec {
    let mut b = Vec::with_capacity(22 + c.dec3.len());
    b.extend_from_slice(&EC3_SAMPLES_PER_BLOCK.to_le_bytes());
    b.extend_from_slice(&wave_channel_mask(c.acmod, c.lfeon).to_le_bytes());
    b.extend_from_slice(&GUID_DOLBY_DIGITAL_PLUS);
    b.extend_from_slice(&c.dec3);
    SmoothCodec {
        fourcc: EC3_SMOOTH_FOURCC,
        private_data: b,
        audio_tag: SMOOTH_AUDIO_TAG_EXTENSIBLE,
        packet_size: 4 * u32::from(c.data_rate),
    }
}
