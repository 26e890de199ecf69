//! The neutral media model every muxer and manifest writer reads.
//!
//! The MP4 parser fills it in; nothing here knows about boxes, URLs or
//! platforms. Keeping manifests and muxers on this model (and not on parser
//! structs) is what lets HLS, DASH and Smooth share one description of a title.

use bytes::Bytes;
use std::fmt;

/// A four-character code (box type, sample entry type, handler type).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FourCC(pub [u8; 4]);

impl FourCC {
    pub const fn new(b: &[u8; 4]) -> Self {
        FourCC(*b)
    }
    pub fn as_str_lossy(&self) -> String {
        self.0
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '?'
                }
            })
            .collect()
    }
}

impl fmt::Debug for FourCC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_str_lossy())
    }
}

impl fmt::Display for FourCC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_str_lossy())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackKind {
    Video,
    Audio,
    Subtitle,
    Other,
}

/// Decoder configuration, decoded far enough for codec strings, TS headers
/// (ADTS, Annex-B parameter sets) and Smooth `CodecPrivateData`.
#[derive(Clone, Debug, PartialEq)]
pub enum Codec {
    Avc(AvcConfig),
    Hevc(HevcConfig),
    Aac(AacConfig),
    Ac3(Ac3Config),
    Ec3(Ec3Config),
    /// A sample entry we pass through but do not interpret.
    Other,
}

/// `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §5.3.3.1).
#[derive(Clone, Debug, PartialEq)]
pub struct AvcConfig {
    /// The whole record (payload of `avcC`).
    pub record: Bytes,
    pub profile: u8,
    pub compatibility: u8,
    pub level: u8,
    /// Bytes in each NAL unit length prefix (1, 2 or 4).
    pub nal_length_size: u8,
    pub sps: Vec<Bytes>,
    pub pps: Vec<Bytes>,
}

/// `HEVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §8.3.3.1).
#[derive(Clone, Debug, PartialEq)]
pub struct HevcConfig {
    pub record: Bytes,
    pub general_profile_space: u8,
    pub general_tier_flag: bool,
    pub general_profile_idc: u8,
    pub general_profile_compatibility_flags: u32,
    /// The 6 bytes of general constraint indicator flags.
    pub general_constraint_indicator_flags: [u8; 6],
    pub general_level_idc: u8,
    pub nal_length_size: u8,
    pub vps: Vec<Bytes>,
    pub sps: Vec<Bytes>,
    pub pps: Vec<Bytes>,
}

/// AAC `AudioSpecificConfig` (ISO/IEC 14496-3 §1.6.2.1) as found in `esds`.
#[derive(Clone, Debug, PartialEq)]
pub struct AacConfig {
    /// Raw AudioSpecificConfig bytes (Smooth `CodecPrivateData`, DASH).
    pub asc: Bytes,
    /// Object type to signal: 2 (LC), 5 (HE/SBR) or 29 (HEv2/PS), or the raw
    /// type for anything else.
    pub object_type: u8,
    /// Object type of the core coder (2 for HE-AAC), what ADTS carries.
    pub core_object_type: u8,
    pub sampling_frequency_index: u8,
    /// Core sampling rate in Hz (before SBR doubling).
    pub sample_rate: u32,
    pub channel_config: u8,
}

/// `AC3SpecificBox` (ETSI TS 102 366 Annex F.4).
#[derive(Clone, Debug, PartialEq)]
pub struct Ac3Config {
    pub dac3: Bytes,
    pub fscod: u8,
    pub bsid: u8,
    pub bsmod: u8,
    pub acmod: u8,
    pub lfeon: bool,
    pub bit_rate_code: u8,
}

/// `EC3SpecificBox` (ETSI TS 102 366 Annex F.6).
#[derive(Clone, Debug, PartialEq)]
pub struct Ec3Config {
    pub dec3: Bytes,
    /// Data rate in kbit/s.
    pub data_rate: u16,
    pub fscod: u8,
    pub acmod: u8,
    pub lfeon: bool,
    /// Dolby Atmos: the JOC complexity index (the most objects decoded at
    /// once) from the `dec3` extension (ETSI TS 103 420 §C.3.1), when
    /// `flag_ec3_extension_type_a` is set.
    pub joc_complexity: Option<u8>,
}

/// Colour code points of a video sample entry's `colr` box (ISO/IEC
/// 14496-12 §12.1.5) or, without a usable one, of its AVC/HEVC SPS VUI
/// (`codec::vui`), as ISO/IEC 23091-2 (ITU-T H.273) values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColourInfo {
    /// colour_primaries (1 BT.709, 9 BT.2020, …).
    pub primaries: u16,
    /// transfer_characteristics (1/6/14/15 SDR, 16 PQ, 18 HLG, …).
    pub transfer: u16,
    /// matrix_coefficients (1 BT.709, 9 BT.2020 non-constant, …).
    pub matrix: u16,
    /// `full_range_flag` of `nclx`; `None` for QuickTime `nclc`.
    pub full_range: Option<bool>,
}

/// The dynamic range a player must be able to render, as HLS `VIDEO-RANGE`
/// names it (RFC 8216bis §4.4.6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoRange {
    Sdr,
    /// SMPTE ST 2084 (transfer_characteristics 16).
    Pq,
    /// ARIB STD-B67 / BT.2100 HLG (transfer_characteristics 18).
    Hlg,
}

impl VideoRange {
    /// The HLS `VIDEO-RANGE` enumerated string.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoRange::Sdr => "SDR",
            VideoRange::Pq => "PQ",
            VideoRange::Hlg => "HLG",
        }
    }
}

impl ColourInfo {
    /// PQ for transfer 16, HLG for 18, SDR for every other code point
    /// (BT.709 1, BT.601 6, sRGB 13, BT.2020 14/15, unspecified 2 …), as
    /// RFC 8216bis §4.4.6.2 defines the values.
    pub fn video_range(&self) -> VideoRange {
        match self.transfer {
            16 => VideoRange::Pq,
            18 => VideoRange::Hlg,
            _ => VideoRange::Sdr,
        }
    }
}

/// Everything about one track that does not depend on individual samples.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackInfo {
    pub track_id: u32,
    pub kind: TrackKind,
    /// Media timescale (ticks per second) from `mdhd`.
    pub timescale: u32,
    /// Sum of sample durations, in `timescale`.
    pub duration: u64,
    /// ISO 639-2/T language code from `mdhd` ("und" when unset).
    pub language: String,
    pub handler: FourCC,
    /// Sample entry type (`avc1`, `hvc1`, `mp4a`, `ec-3`, …).
    pub fourcc: FourCC,
    /// The complete sample entry box (header included), copied byte for
    /// byte into init segments so decoder configuration is never re-encoded.
    pub sample_entry: Bytes,
    pub codec: Codec,
    /// RFC 6381 codec string.
    pub codec_string: String,
    pub width: u32,
    pub height: u32,
    /// Pixel aspect ratio (`pasp` hSpacing, vSpacing); (1, 1) when absent.
    pub par: (u32, u32),
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    /// Subtracted from a sample's composition time (dts + cts offset) to get
    /// its presentation time: the edit list's media_time minus any initial
    /// empty edit, in `timescale`.
    pub presentation_offset: i64,
    /// Presentation time where the edit list ends the track, when it ends
    /// before the media does (ISO/IEC 14496-12 §8.6.6): manifests and the
    /// last segment end there, not at the last sample's end.
    pub presented_end: Option<i64>,
    /// Average bitrate in bit/s (from `btrt` when present, else computed).
    pub avg_bitrate: u64,
    /// Peak bitrate in bit/s (from `btrt`; 0 when unknown).
    pub max_bitrate: u64,
    /// Number of samples.
    pub sample_count: u32,
    /// The video sample entry's `colr` (`nclx`/`nclc`), if any. Colour
    /// signalled only in the bitstream (AVC/HEVC VUI) is not read.
    pub colour: Option<ColourInfo>,
    /// DTS-UHD (`dtsx`): the speaker mask of its `udts` box.
    pub dts_uhd_mask: Option<u32>,
    /// The sample entry's Dolby Vision configuration (`dvcC`/`dvvC`/`dvwC`).
    pub dolby_vision: Option<DolbyVision>,
}

/// A Dolby Vision decoder configuration record (the fields signalling
/// needs; see [`crate::codec::dolby_vision`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DolbyVision {
    pub profile: u8,
    pub level: u8,
    /// RPU (dynamic metadata), enhancement layer, base layer present.
    pub rpu: bool,
    pub el: bool,
    pub bl: bool,
    /// `dv_bl_signal_compatibility_id`: what the base layer shows as
    /// without Dolby Vision (1 HDR10, 2 SDR, 4 HLG, 0 none).
    pub compatibility: u8,
}

impl TrackInfo {
    /// The HLS `VIDEO-RANGE` of a video track: from `colr`; without one,
    /// from the Dolby Vision configuration; else SDR.
    pub fn video_range(&self) -> VideoRange {
        match (self.colour, &self.dolby_vision) {
            (Some(c), _) => c.video_range(),
            (None, Some(dv)) => {
                crate::codec::dolby_vision::video_range(dv).unwrap_or(VideoRange::Sdr)
            }
            (None, None) => VideoRange::Sdr,
        }
    }

    /// Nominal frame rate as (numerator, denominator), for video.
    pub fn frame_rate(&self) -> Option<(u64, u64)> {
        if self.kind != TrackKind::Video || self.sample_count == 0 || self.duration == 0 {
            return None;
        }
        Some((
            u64::from(self.sample_count) * u64::from(self.timescale),
            self.duration,
        ))
    }
}

/// One sample as the source file stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sample {
    /// Absolute file offset of the payload.
    pub offset: u64,
    pub size: u32,
    /// Decode time in the track timescale.
    pub dts: u64,
    pub duration: u32,
    /// Composition offset (`ctts`), may be negative.
    pub cts_offset: i32,
    pub sync: bool,
}

impl Sample {
    /// Composition time in the track timescale.
    pub fn cts(&self) -> i64 {
        self.dts as i64 + i64::from(self.cts_offset)
    }
}
