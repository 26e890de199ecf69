//! Every per-codec fact in one place: for each codec family, how the
//! formats signal it (RFC 6381 codec string, MPEG-TS stream type and
//! descriptors, Smooth FourCC and `CodecPrivateData`, DASH and HLS channel
//! signalling), which formats carry it, and how refusals name it.
//!
//! The API is neutral: it reads [`crate::model::TrackInfo`] and returns
//! plain values, so muxers and manifest writers ask here instead of
//! matching on codecs themselves. One file per family holds its facts and
//! cites the spec they come from:
//!
//! * [`avc`] for H.264 (ISO/IEC 14496-15, RFC 6381 §3.3), and
//!   [`avc_slice`] for the length of its slice headers (H.264 §7.3.3),
//!   which `cbcs` encryption keeps clear
//! * [`hevc`] for H.265 (ISO/IEC 14496-15 §8, Annex E), and
//!   [`hevc_slice`] for the length of its slice segment headers (H.265
//!   §7.3.6.1), the same `cbcs` clear range; both slice readers count
//!   escaped NAL bytes with `nal_bits`
//! * [`aac`] for MPEG-4 AAC (ISO/IEC 14496-3, RFC 6381 §3.3)
//! * [`dolby`] for AC-3 and E-AC-3 (ETSI TS 102 366, ATSC A/52)
//! * [`dolby_vision`] for Dolby Vision configuration and signalling
//! * [`dts`] for DTS signalling (ETSI TS 102 114; the `ddts` parser is
//!   [`crate::mp4::dts`])
//! * [`av1`] for the colour description in AV1 and VP9 configuration
//!   records (AV1 §5.5, VP codec binding §2.2), and [`av1_frame`] for
//!   where an AV1 sample's tiles are (frame headers, AV1 §5.9), which
//!   Common Encryption protects (AV1 ISOBMFF §7)
//! * [`other`] for AV1, VP9, Opus, FLAC and the codecs only named in
//!   refusals
//!
//! The RFC 6381 string builders stay beside the configuration-record
//! parsers in [`crate::mp4::codec`] (they read the parsed records); each
//! family file re-exports its builder.

pub mod aac;
pub mod av1;
pub mod av1_frame;
pub mod avc;
pub mod avc_slice;
pub(crate) mod bits;
pub mod dolby;
pub mod dolby_vision;
pub mod dts;
pub mod hevc;
pub mod hevc_slice;
pub(crate) mod nal_bits;
pub mod other;
pub mod vui;

use crate::model::{Codec, TrackInfo};

/// A codec family: what decides how every output format signals a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Avc,
    Hevc,
    Av1,
    Vp9,
    Aac,
    Ac3,
    Ec3,
    Dts,
    Opus,
    Flac,
    /// Anything else (passed through, named in refusals).
    Other,
}

impl Family {
    /// The family of a decoded configuration; [`Codec::Other`] is
    /// [`Family::Other`] (see [`family`] for the sample entry's word).
    pub fn of_codec(codec: &Codec) -> Family {
        match codec {
            Codec::Avc(_) => Family::Avc,
            Codec::Hevc(_) => Family::Hevc,
            Codec::Aac(_) => Family::Aac,
            Codec::Ac3(_) => Family::Ac3,
            Codec::Ec3(_) => Family::Ec3,
            Codec::Other => Family::Other,
        }
    }

    /// MPEG-TS `stream_type` (ISO/IEC 13818-1 Table 2-34, ATSC A/52
    /// Annex A), `None` for families TS does not carry here.
    pub fn ts_stream_type(self) -> Option<u8> {
        match self {
            Family::Avc => Some(avc::TS_STREAM_TYPE),
            Family::Hevc => Some(hevc::TS_STREAM_TYPE),
            Family::Aac => Some(aac::TS_STREAM_TYPE),
            Family::Ac3 => Some(dolby::AC3_TS_STREAM_TYPE),
            Family::Ec3 => Some(dolby::EC3_TS_STREAM_TYPE),
            _ => None,
        }
    }

    /// `format_identifier` of the PMT registration descriptor (ISO/IEC
    /// 13818-1 §2.6.8) the family's elementary stream carries, if any.
    pub fn ts_registration(self) -> Option<&'static [u8; 4]> {
        match self {
            Family::Hevc => Some(hevc::TS_REGISTRATION),
            Family::Ac3 => Some(dolby::AC3_TS_REGISTRATION),
            Family::Ec3 => Some(dolby::EC3_TS_REGISTRATION),
            _ => None,
        }
    }

    /// Whether the family is audio (TS then signals the language with an
    /// ISO 639 descriptor, ISO/IEC 13818-1 §2.6.18).
    pub fn is_audio(self) -> bool {
        matches!(
            self,
            Family::Aac | Family::Ac3 | Family::Ec3 | Family::Dts | Family::Opus | Family::Flac
        )
    }
}

/// The family of a track: its decoded configuration, or for a sample entry
/// we pass through, what its type (or `esds` object type) says.
pub fn family(info: &TrackInfo) -> Family {
    match Family::of_codec(&info.codec) {
        Family::Other if dts::is_dts(info) => Family::Dts,
        Family::Other => other::family(info),
        f => f,
    }
}

/// The codec as refusals name it: common name, then the sample entry type,
/// or for `mp4a` (which says little) the codec string: "HEVC (hvc1)",
/// "FLAC (fLaC)", "DTS (mp4a.A9)"; "codec xxxx" when we do not know it.
pub fn label(info: &TrackInfo) -> String {
    let name = match family(info) {
        Family::Avc => avc::NAME,
        Family::Hevc => hevc::NAME,
        Family::Aac => aac::NAME,
        Family::Ac3 => dolby::AC3_NAME,
        Family::Ec3 => dolby::EC3_NAME,
        Family::Dts => dts::NAME,
        Family::Av1 | Family::Vp9 | Family::Opus | Family::Flac | Family::Other => {
            match other::name(info) {
                Some(n) => n,
                None => return format!("codec {}", info.fourcc),
            }
        }
    };
    let tag = if &info.fourcc.0 == b"mp4a" {
        info.codec_string.clone()
    } else {
        info.fourcc.to_string()
    };
    format!("{name} ({tag})")
}

/// MPEG-TS `stream_type` of the track (ISO/IEC 13818-1 Table 2-34).
pub fn ts_stream_type(info: &TrackInfo) -> Option<u8> {
    Family::of_codec(&info.codec).ts_stream_type()
}

/// Whether MPEG-TS HLS carries the track for Apple devices: TS has a
/// stream type for it and it is not HEVC, which Apple plays from fMP4
/// only (Apple HLS authoring specification).
pub fn hls_ts_capable(info: &TrackInfo) -> bool {
    ts_stream_type(info).is_some() && !hevc::is(info)
}

/// How a `QualityLevel` signals a track (MS-SSTR §2.2.2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmoothCodec {
    pub fourcc: &'static str,
    /// `CodecPrivateData`, before hex encoding.
    pub private_data: Vec<u8>,
    /// Audio only: a WAVE format tag (0 for video).
    pub audio_tag: u16,
    /// Audio only: block alignment in bytes (0 for video).
    pub packet_size: u32,
}

/// The Smooth signalling of a track, `None` when MS-SSTR §2.2.2.5 has no
/// FourCC for its codec.
pub fn smooth(info: &TrackInfo) -> Option<SmoothCodec> {
    match &info.codec {
        Codec::Avc(c) => Some(avc::smooth(c)),
        Codec::Aac(c) => Some(aac::smooth(c, info.channels)),
        Codec::Ec3(c) => Some(dolby::ec3_smooth(c)),
        Codec::Hevc(_) | Codec::Ac3(_) | Codec::Other => None,
    }
}

/// The Smooth FourCC of a track (MS-SSTR §2.2.2.5), `None` when Smooth
/// cannot carry it.
pub fn smooth_fourcc(info: &TrackInfo) -> Option<&'static str> {
    match &info.codec {
        Codec::Avc(_) => Some(avc::SMOOTH_FOURCC),
        Codec::Aac(c) => Some(aac::smooth_fourcc(c)),
        Codec::Ec3(_) => Some(dolby::EC3_SMOOTH_FOURCC),
        Codec::Hevc(_) | Codec::Ac3(_) | Codec::Other => None,
    }
}

/// `AudioChannelConfiguration` scheme of ISO/IEC 23009-1 §5.8.5.4: the
/// `channelConfiguration` of ISO/IEC 23003-3 Table 68 (which, up to 2, is
/// also the channel count).
pub const DASH_SCHEME_CHANNELS: &str = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";

/// DASH `AudioChannelConfiguration` (`schemeIdUri`, `value`) of an audio
/// track: the family's own scheme where DASH-IF IOP names one (Dolby, DTS),
/// else [`DASH_SCHEME_CHANNELS`] with the channel count.
pub fn dash_channels(info: &TrackInfo) -> (&'static str, String) {
    match &info.codec {
        Codec::Ac3(c) => dolby::dash_channels(c.acmod, c.lfeon),
        Codec::Ec3(c) => dolby::dash_channels(c.acmod, c.lfeon),
        _ if dts::is_dts(info) && dts::is_uhd(info) => dts::dash_uhd_channels(info),
        _ if family(info) == Family::Dts => dts::dash_channels(info.channels),
        _ => (DASH_SCHEME_CHANNELS, info.channels.max(1).to_string()),
    }
}

/// Every `AudioChannelConfiguration` element of an audio track (ISO/IEC
/// 23009-1 allows several): [`dash_channels`], and for DTS the same value
/// under the earlier DTS scheme too, so players that know only one of them
/// still read the channel count.
pub fn dash_channel_elements(info: &TrackInfo) -> Vec<(&'static str, String)> {
    let (scheme, value) = dash_channels(info);
    let mut out = vec![(scheme, value.clone())];
    if family(info) == Family::Dts && !dts::is_uhd(info) {
        out.push((dts::DASH_SCHEME_LEGACY, value));
    }
    out
}

/// HLS `EXT-X-MEDIA` `CHANNELS` (RFC 8216bis §4.4.6.1): the channel count,
/// at least 1; for E-AC-3 with Dolby Atmos (JOC), `"16/JOC"` — the
/// complexity index, then the coding identifier (Apple HLS authoring
/// specification, "Audio"), which is what makes Apple devices decode the
/// objects instead of the 5.1 bed.
pub fn hls_channels(info: &TrackInfo) -> String {
    match &info.codec {
        Codec::Ec3(c) => match c.joc_complexity {
            Some(n) => format!("{}/JOC", dolby::joc_objects(n)),
            None => info.channels.max(1).to_string(),
        },
        _ => info.channels.max(1).to_string(),
    }
}

/// DASH `SupplementalProperty` descriptors of an audio track beyond its
/// channel configuration: for E-AC-3 JOC the extension type and complexity
/// index (ETSI TS 103 420 Annex D.2, DASH-IF IOP v5 part 8 §5.3.3).
pub fn dash_audio_properties(info: &TrackInfo) -> Vec<(&'static str, String)> {
    match &info.codec {
        Codec::Ec3(c) => match c.joc_complexity {
            Some(n) => vec![
                (dolby::DASH_SCHEME_EXTENSION_TYPE, "JOC".to_string()),
                (
                    dolby::DASH_SCHEME_COMPLEXITY_INDEX,
                    dolby::joc_objects(n).to_string(),
                ),
            ],
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
