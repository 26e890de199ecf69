//! Codecs we pass through to CMAF but do not interpret: AV1 (`av01`, AV1
//! Codec ISOBMFF Binding §2), VP9 (`vp09`, VP Codec ISOBMFF Binding), Opus
//! (`Opus`, Encapsulation of Opus in ISOBMFF), FLAC (`fLaC`, FLAC in
//! ISOBMFF), and the codecs refusals only need to name.
//!
//! None of them has an MPEG-TS stream type we write or a Smooth FourCC
//! (MS-SSTR §2.2.2.5); DASH and HLS signal their channel count only.

use super::Family;
use crate::model::TrackInfo;

pub use crate::mp4::codec::{av1_codec_string, vp9_codec_string};

/// The family of a pass-through sample entry (DTS aside, see
/// [`super::dts::is_dts`]).
pub fn family(info: &TrackInfo) -> Family {
    match &info.fourcc.0 {
        b"av01" | b"dav1" => Family::Av1,
        b"vp09" => Family::Vp9,
        b"Opus" => Family::Opus,
        b"fLaC" => Family::Flac,
        _ => Family::Other,
    }
}

/// Name in refusals of a pass-through sample entry, `None` when we do not
/// know it. `mp4a` entries are told apart by `esds` object type (MP4RA:
/// 0x69 and 0x6B are MPEG-1/2 audio, i.e. MP3).
pub fn name(info: &TrackInfo) -> Option<&'static str> {
    Some(match &info.fourcc.0 {
        b"av01" | b"dav1" => "AV1",
        b"vp09" => "VP9",
        b"vp08" => "VP8",
        b"Opus" => "Opus",
        b"fLaC" => "FLAC",
        b"ac-4" => "AC-4",
        b".mp3" => "MP3",
        b"mp4v" => "MPEG-4 Visual",
        b"encv" | b"enca" => "encrypted media",
        b"mp4a" => match info.codec_string.as_str() {
            "mp4a.69" | "mp4a.6B" => "MP3",
            _ => "MPEG-4 audio",
        },
        _ => return None,
    })
}
