//! DTS signalling (ETSI TS 102 114; sample entries `dtsc`/`dtsh`/`dtse`/
//! `dtsl` of Annex E, or `mp4a` with an `esds` object type 0xA9..0xAC as
//! registered with the MP4RA). How many channels a stream has is read by
//! [`crate::mp4::dts`] (the `ddts` box or the core frame header).
//!
//! No format here but CMAF carries DTS: ISO/IEC 13818-1 has no stream type
//! we write for it and MS-SSTR §2.2.2.5 no FourCC.

use crate::model::TrackInfo;

/// Name in refusals.
pub const NAME: &str = "DTS";

/// DASH `AudioChannelConfiguration` scheme for DTS (DASH-IF IOP, audio
/// chapter, "DTS"; listed in the DASH-IF audio source metadata
/// identifiers): the value is the channel count.
pub const DASH_SCHEME: &str = "tag:dts.com,2014:dash:audio_channel_configuration:2012";

/// The earlier DTS scheme, which players read (Shaka Player 4 knows only
/// this one; ExoPlayer both): written as a second element with the same
/// value.
pub const DASH_SCHEME_LEGACY: &str = "urn:dts:dash:audio_channel_configuration:2012";

/// DASH `AudioChannelConfiguration` scheme for DTS-UHD / DTS:X (ETSI TS
/// 103 491 Annex B, DASH-IF IOP audio chapter): the value is the `udts`
/// ChannelMask as 8 upper-case hex digits.
pub const DASH_SCHEME_UHD: &str = "tag:dts.com,2018:uhd:audio_channel_configuration";

/// Sample entry types of ETSI TS 102 114 Annex E, and DTS-UHD's `dtsx`
/// (profile 2) and `dtsy` (profile 3) of ETSI TS 103 491 Annex B.
const SAMPLE_ENTRIES: [&[u8; 4]; 6] = [b"dtsc", b"dtsh", b"dtse", b"dtsl", b"dtsx", b"dtsy"];
/// RFC 6381 strings of `mp4a` entries whose `esds` object type is DTS
/// (MP4RA: 0xA9 core, 0xAA HD HRA, 0xAB HD MA, 0xAC Express).
const MP4A_STRINGS: [&str; 4] = ["mp4a.A9", "mp4a.AA", "mp4a.AB", "mp4a.AC"];

/// Whether a track we pass through is DTS.
pub fn is_dts(info: &TrackInfo) -> bool {
    SAMPLE_ENTRIES.contains(&&info.fourcc.0)
        || (&info.fourcc.0 == b"mp4a" && MP4A_STRINGS.contains(&info.codec_string.as_str()))
}

/// DASH `AudioChannelConfiguration` (scheme, value) of a DTS stream:
/// [`DASH_SCHEME`] with the channel count.
pub fn dash_channels(channels: u16) -> (&'static str, String) {
    (DASH_SCHEME, channels.max(1).to_string())
}

/// Whether a DTS track is DTS-UHD (`dtsx`/`dtsy`), signalled by speaker
/// mask under [`DASH_SCHEME_UHD`] rather than by count.
pub fn is_uhd(info: &TrackInfo) -> bool {
    matches!(&info.fourcc.0, b"dtsx" | b"dtsy")
}

/// DASH `AudioChannelConfiguration` of a DTS-UHD stream: the `udts`
/// ChannelMask, or (no mask) the channel count under the DTS scheme.
pub fn dash_uhd_channels(info: &TrackInfo) -> (&'static str, String) {
    match info.dts_uhd_mask {
        Some(mask) => (DASH_SCHEME_UHD, format!("{mask:08X}")),
        None => dash_channels(info.channels),
    }
}
