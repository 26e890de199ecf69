//! `stsd` sample entries (ISO/IEC 14496-12 §8.5.2, §12.1.3, §12.2.3).
//!
//! We interpret just enough of each entry for manifests and TS/Smooth; the
//! entry itself is kept as the exact bytes of the file so init segments carry
//! the decoder configuration untouched.

use super::error::{Mp4Error, Result};
use super::header::{BoxIter, Mp4Box};
use super::{codec, colr, dts};
use crate::model::{Codec, ColourInfo, FourCC};
use bytes::Bytes;

/// What a sample entry tells us.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleEntry {
    pub fourcc: FourCC,
    /// The whole entry box, header included.
    pub raw: Bytes,
    pub codec: Codec,
    pub codec_string: String,
    pub width: u32,
    pub height: u32,
    pub par: (u32, u32),
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    /// (max, avg) bit/s from `btrt` or the `esds` decoder config, if any.
    pub bitrates: Option<(u64, u64)>,
    /// The entry does not tell the channel count and the first frame's
    /// header does: DTS in `mp4a` (ffmpeg) without a `ddts` box, whose
    /// `channelcount` is a placeholder 2 (see [`dts`]).
    pub channels_in_stream: bool,
    /// A visual entry's `colr` (§12.1.5), when `nclx` or `nclc`.
    pub colour: Option<ColourInfo>,
    /// DTS-UHD (`dtsx`/`dtsy`): the `udts` box's ChannelMask.
    pub dts_uhd_mask: Option<u32>,
    /// The Dolby Vision configuration (`dvcC`/`dvvC`/`dvwC`), if any.
    pub dolby_vision: Option<crate::model::DolbyVision>,
}

const VISUAL: &[&[u8; 4]] = &[
    b"avc1", b"avc3", b"hvc1", b"hev1", b"av01", b"vp09", b"vp08", b"encv", b"mp4v", b"dvh1",
    b"dvhe", b"dva1", b"dvav", b"dav1",
];
const AUDIO: &[&[u8; 4]] = &[
    b"mp4a", b"ac-3", b"ec-3", b"Opus", b"fLaC", b"enca", b"dtsc", b"dtsh", b"dtse", b"dtsl",
    b"ac-4", b".mp3", b"dtsx", b"dtsy",
];

/// Most sample entries one `stsd` may hold: real files have one, a few
/// joined ones two or three; more would only multiply the entries each
/// init segment and index carries.
pub const MAX_SAMPLE_ENTRIES: u32 = 16;

/// Parses every entry of an `stsd` payload (§8.5.2), in order: a track's
/// `stsc` names them by 1-based index. [`super::descriptions`] decides
/// whether the track can be packaged with them.
pub fn parse_stsd(stsd: &Mp4Box, path: &str) -> Result<Vec<SampleEntry>> {
    let p = &stsd.payload;
    if p.len() < 8 {
        return Err(Mp4Error::truncated(
            path,
            stsd.header.offset,
            "stsd cut short",
        ));
    }
    let count = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
    if count == 0 {
        return Err(Mp4Error::invalid(
            path,
            stsd.header.offset,
            "stsd has no sample entry",
        ));
    }
    let base = stsd.payload_offset() + 8;
    if count > MAX_SAMPLE_ENTRIES {
        return Err(Mp4Error::unsupported(
            path,
            base,
            format!("{count} sample descriptions (at most {MAX_SAMPLE_ENTRIES})"),
        ));
    }
    let mut out = Vec::with_capacity(count as usize);
    for entry in BoxIter::new(p.slice(8..), base, path).take(count as usize) {
        let entry = entry?;
        let start = (entry.header.offset - stsd.payload_offset()) as usize;
        let end = start + entry.header.header_len as usize + entry.payload.len();
        let raw = p.slice(start..end);
        out.push(parse_entry(
            &entry,
            raw,
            &format!("{path}/{}", entry.header.typ),
        )?);
    }
    if out.is_empty() {
        return Err(Mp4Error::truncated(path, base, "sample entry missing"));
    }
    Ok(out)
}

/// Parses a sample entry box stored on its own (as the index keeps it).
pub fn parse_sample_entry(raw: Bytes, path: &str) -> Result<SampleEntry> {
    let entry = BoxIter::new(raw.clone(), 0, path)
        .next()
        .ok_or_else(|| Mp4Error::truncated(path, 0, "sample entry missing"))??;
    parse_entry(&entry, raw, path)
}

/// A sample entry type as the first element of an RFC 6381 codec string,
/// for entries we pass through without a codec-specific string. Bytes
/// outside `[A-Za-z0-9 .-]` are percent-encoded (`%2C` for a comma): the
/// FourCC comes from the file, and copied raw a `,` would split an HLS
/// `CODECS` list (RFC 8216 §4.3.4.2), a `"` end its quoted string, and
/// control bytes reach a header. Every codec-specific string we build is
/// already inside the set.
pub fn codec_token(fourcc: FourCC) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(4);
    for b in fourcc.0 {
        if b.is_ascii_alphanumeric() || matches!(b, b' ' | b'.' | b'-') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn parse_entry(entry: &Mp4Box, raw: Bytes, path: &str) -> Result<SampleEntry> {
    let fourcc = entry.header.typ;
    let p = &entry.payload;
    let mut out = SampleEntry {
        fourcc,
        raw,
        codec: Codec::Other,
        codec_string: codec_token(fourcc),
        width: 0,
        height: 0,
        par: (1, 1),
        sample_rate: 0,
        channels: 0,
        bits_per_sample: 0,
        bitrates: None,
        channels_in_stream: false,
        colour: None,
        dts_uhd_mask: None,
        dolby_vision: None,
    };
    let children_at = if VISUAL.contains(&&fourcc.0) {
        // SampleEntry (8) + VisualSampleEntry fields (70), §12.1.3.2.
        if p.len() < 78 {
            return Err(Mp4Error::truncated(
                path,
                entry.header.offset,
                "visual sample entry cut short",
            ));
        }
        out.width = u32::from(be16(p, 24));
        out.height = u32::from(be16(p, 26));
        78
    } else if AUDIO.contains(&&fourcc.0) {
        // SampleEntry (8) + AudioSampleEntry fields (20), §12.2.3.2; QuickTime
        // sound description versions 1 and 2 append 16 / 36 bytes.
        if p.len() < 28 {
            return Err(Mp4Error::truncated(
                path,
                entry.header.offset,
                "audio sample entry cut short",
            ));
        }
        let version = be16(p, 8);
        out.channels = be16(p, 16);
        out.bits_per_sample = be16(p, 18);
        out.sample_rate = u32::from(be16(p, 24));
        match version {
            1 => 44,
            2 => 64,
            _ => 28,
        }
    } else {
        // Text, metadata and unknown entries pass through uninterpreted.
        return Ok(out);
    };
    if p.len() < children_at {
        return Err(Mp4Error::truncated(
            path,
            entry.header.offset,
            "sample entry cut short",
        ));
    }
    let base = entry.payload_offset() + children_at as u64;
    // QuickTime sound descriptions (v1/v2) keep `esds` inside a `wave`
    // atom (QTFF "Sound Sample Description Extensions"): look one level in.
    let mut children = Vec::new();
    for child in BoxIter::new(p.slice(children_at..), base, path) {
        let child = child?;
        if &child.header.typ.0 == b"wave" {
            for inner in child.children(path) {
                children.push(inner?);
            }
        } else {
            children.push(child);
        }
    }
    let (mut dts_esds, mut ddts_channels) = (false, None);
    let mut config_colour = None;
    for child in children {
        let off = child.header.offset;
        let b = &child.payload;
        match &child.header.typ.0 {
            b"avcC" => {
                let c = codec::parse_avcc(b, off)?;
                out.codec_string = codec::avc_codec_string(fourcc, &c);
                out.codec = Codec::Avc(c);
            }
            b"hvcC" => {
                let c = codec::parse_hvcc(b, off)?;
                out.codec_string = codec::hevc_codec_string(fourcc, &c);
                out.codec = Codec::Hevc(c);
            }
            b"av1C" => {
                if let Some(s) = codec::av1_codec_string(b) {
                    out.codec_string = s;
                }
                config_colour = crate::codec::av1::av1c_colour(b);
            }
            b"vpcC" => {
                if let Some(s) = codec::vp9_codec_string(b) {
                    out.codec_string = s;
                }
                config_colour = crate::codec::av1::vpcc_colour(b);
            }
            b"esds" => {
                let e = codec::parse_esds(b, off)?;
                dts_esds = dts::is_dts_object_type(e.object_type_indication);
                out.codec_string = codec::aac_codec_string(&e);
                if e.avg_bitrate > 0 {
                    out.bitrates = Some((u64::from(e.max_bitrate), u64::from(e.avg_bitrate)));
                }
                if let Some(aac) = e.aac {
                    if aac.channel_config > 0 && aac.channel_config < 8 {
                        out.channels = match aac.channel_config {
                            7 => 8,
                            c => u16::from(c),
                        };
                    }
                    if out.sample_rate == 0 {
                        out.sample_rate = aac.sample_rate;
                    }
                    out.codec = Codec::Aac(aac);
                }
            }
            b"dac3" => {
                let c = codec::parse_dac3(b, off)?;
                out.channels = codec::ac3_channels(c.acmod, c.lfeon);
                out.codec_string = "ac-3".into();
                out.codec = Codec::Ac3(c);
            }
            b"dec3" => {
                let c = codec::parse_dec3(b, off)?;
                out.channels = codec::ac3_channels(c.acmod, c.lfeon);
                out.codec_string = "ec-3".into();
                out.codec = Codec::Ec3(c);
            }
            // Only the channel count is read from it: a `ddts` cut short
            // leaves `channelcount` in place rather than failing the file
            // (and its other tracks) over a DTS track we pass through.
            // DTS-UHD (ETSI TS 103 491 Annex B): DecoderProfileCode(6)
            // FrameDurationCode(2) MaxPayloadCode(3) NumPresentationsCode(5)
            // ChannelMask(32); the mask names the speakers, its bits count
            // them. An empty or short box leaves `channelcount`.
            b"udts" if b.len() >= 6 => {
                let mask = u32::from_be_bytes([b[2], b[3], b[4], b[5]]);
                if mask != 0 {
                    out.dts_uhd_mask = Some(mask);
                    out.channels = mask.count_ones() as u16;
                }
            }
            b"ddts" => ddts_channels = dts::parse_ddts(b, off).ok().map(|d| d.channels()),
            b"btrt" if b.len() >= 12 => {
                let max = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                let avg = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
                out.bitrates = Some((u64::from(max), u64::from(avg)));
            }
            b"pasp" if b.len() >= 8 => {
                let h = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let v = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                if h > 0 && v > 0 {
                    out.par = (h, v);
                }
            }
            // The first coded `colr` wins; an ICC one before it is skipped
            // (§12.1.5.1 allows more than one).
            b"colr" if out.colour.is_none() => out.colour = colr::parse_colr(b),
            b"dvcC" | b"dvvC" | b"dvwC" if out.dolby_vision.is_none() => {
                out.dolby_vision = crate::codec::dolby_vision::parse_config(b);
            }
            b"dOps" => out.codec_string = "opus".into(),
            b"dfLa" => out.codec_string = "fLaC".into(),
            _ => {}
        }
    }
    // A Dolby-Vision-only entry (`dvh1`, profile 5…) is named by its DV
    // codec string, not by the HEVC/AVC/AV1 record inside it.
    if let Some(dv) = &out.dolby_vision {
        if crate::codec::dolby_vision::is_dv_entry(fourcc) {
            out.codec_string = crate::codec::dolby_vision::codec_string(fourcc, dv);
        }
    }
    match ddts_channels {
        Some(Some(c)) => out.channels = c,
        // A `ddts` that leaves the layout open: keep `channelcount`.
        Some(None) => {}
        None => out.channels_in_stream = dts_esds,
    }
    // No `colr`, or one that leaves the transfer unspecified (2): the SPS
    // VUI's colour description, where encoder-only colour settings land
    // (see `codec::vui`), or for AV1 and VP9 the configuration record's
    // (`codec::av1`).
    if out.colour.is_none_or(|c| c.transfer == UNSPECIFIED) {
        let bitstream = sps_colour(&out.codec).or(config_colour);
        if let Some(c) = bitstream.filter(|c| c.transfer != UNSPECIFIED) {
            out.colour = Some(c);
        }
    }
    Ok(out)
}

/// H.273 code point 2: "unspecified".
const UNSPECIFIED: u16 = 2;

/// The colour the first SPS of an AVC or HEVC configuration describes.
fn sps_colour(codec: &Codec) -> Option<ColourInfo> {
    match codec {
        Codec::Avc(c) => crate::codec::vui::avc_sps_colour(c.sps.first()?),
        Codec::Hevc(c) => crate::codec::vui::hevc_sps_colour(c.sps.first()?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mux::boxes::BoxWriter;

    #[test]
    fn unknown_fourccs_are_escaped_in_codec_strings() {
        assert_eq!(codec_token(FourCC(*b"raw ")), "raw ");
        assert_eq!(codec_token(FourCC(*b"ac-3")), "ac-3");
        assert_eq!(codec_token(FourCC(*b"a,\"\n")), "a%2C%22%0A");
        let mut w = BoxWriter::default();
        w.start(b"x,y\"").zeros(8).end();
        let e = parse_sample_entry(Bytes::from(w.buf), "t").unwrap();
        assert_eq!(e.codec_string, "x%2Cy%22");
    }

    const ESDS: &[u8] = &[
        0, 0, 0, 0, 0x03, 0x19, 0, 1, 0, 0x04, 0x11, 0x40, 0x15, 0, 0, 0, 0, 1, 0xf4, 0, 0, 1,
        0xf4, 0, 0x05, 0x02, 0x11, 0x90, 0x06, 0x01, 0x02,
    ];

    #[test]
    fn quicktime_v1_sound_description_with_wave() {
        let mut w = BoxWriter::default();
        // SampleEntry, version 1, 2 channels, 16 bit, 48 kHz, + 16 bytes v1.
        w.start(b"mp4a")
            .zeros(6)
            .u16(1)
            .u16(1)
            .zeros(6)
            .u16(2)
            .u16(16)
            .zeros(4)
            .u32(48000 << 16);
        w.zeros(16);
        w.start(b"wave");
        w.start(b"frma").bytes(b"mp4a").end();
        w.start(b"esds").bytes(ESDS).end();
        w.u32(8).u32(0);
        w.end().end();
        let e = parse_sample_entry(Bytes::from(w.buf), "stsd").unwrap();
        assert_eq!(e.codec_string, "mp4a.40.2");
        assert_eq!((e.channels, e.sample_rate), (2, 48000));
        assert!(matches!(e.codec, Codec::Aac(_)));
    }

    fn audio_entry(fourcc: &[u8; 4], children: &[(&[u8; 4], &[u8])]) -> Bytes {
        Bytes::from(crate::testutil::audio_entry(fourcc, children))
    }

    #[test]
    fn aac_channels_come_from_the_audio_specific_config() {
        // ffmpeg writes channelcount 2 for 5.1 AAC; the AudioSpecificConfig
        // (LC, 48 kHz, channelConfiguration 6) is the truth.
        let mut esds = ESDS.to_vec();
        esds[27] = 0xb0;
        let e = parse_sample_entry(audio_entry(b"mp4a", &[(b"esds", &esds)]), "stsd").unwrap();
        assert_eq!((e.codec_string.as_str(), e.channels), ("mp4a.40.2", 6));
        assert!(!e.channels_in_stream);
    }

    #[test]
    fn dts_channels_come_from_ddts_or_the_stream() {
        // `dtsc` with a `ddts` announcing 5.1 (C, L/R, Ls/Rs, LFE1).
        let mut ddts = vec![
            0, 0, 0xbb, 0x80, 0, 0x17, 0x06, 0x68, 0, 0x17, 0x06, 0x68, 24,
        ];
        ddts.extend_from_slice(&[0x43, 0x24, 0x3e, 0xe0, 0x00, 0x0f, 0x00]);
        let e = parse_sample_entry(audio_entry(b"dtsc", &[(b"ddts", &ddts)]), "stsd").unwrap();
        assert_eq!((e.codec_string.as_str(), e.channels), ("dtsc", 6));
        assert!(!e.channels_in_stream);
        // ffmpeg's `mp4a` + esds object type 0xA9, no `ddts`: channelcount
        // says 2 and only the first frame knows better.
        let esds = [
            0, 0, 0, 0, 0x03, 0x80, 0x80, 0x80, 0x1b, 0, 1, 0, 0x04, 0x80, 0x80, 0x80, 0x0d, 0xa9,
            0x15, 0, 0, 0, 0, 0x0b, 0xb8, 0, 0, 0x0b, 0xb8, 0, 0x06, 0x80, 0x80, 0x80, 0x01, 0x02,
        ];
        let e = parse_sample_entry(audio_entry(b"mp4a", &[(b"esds", &esds)]), "stsd").unwrap();
        assert_eq!((e.codec_string.as_str(), e.channels), ("mp4a.A9", 2));
        assert!(e.channels_in_stream);
    }

    /// DTS-UHD (`dtsx`): the `udts` ChannelMask gives the speakers; the
    /// entry's `channelcount` (2, a placeholder) does not.
    #[test]
    fn dts_uhd_channels_come_from_udts() {
        // Profile code 0, frame duration 1, payload 0, one presentation;
        // mask C, L, R, Ls, Rs, LFE1 (0x3F) = 5.1.
        let udts = [0x01, 0x00, 0x00, 0x00, 0x00, 0x3f, 0x00];
        let e = parse_sample_entry(audio_entry(b"dtsx", &[(b"udts", &udts)]), "stsd").unwrap();
        assert_eq!((e.codec_string.as_str(), e.channels), ("dtsx", 6));
        assert_eq!(e.dts_uhd_mask, Some(0x3f));
        // A short `udts` keeps channelcount.
        let e = parse_sample_entry(audio_entry(b"dtsx", &[(b"udts", &udts[..4])]), "stsd").unwrap();
        assert_eq!((e.channels, e.dts_uhd_mask), (2, None));
    }

    #[test]
    fn colr_and_dolby_vision_of_a_visual_entry() {
        let entry = |children: &[(&[u8; 4], &[u8])]| {
            parse_sample_entry(Bytes::from(crate::testutil::video_entry(children)), "stsd").unwrap()
        };
        let pq = b"nclx\0\x09\0\x10\0\x09\0";
        let e = entry(&[(b"colr", pq)]);
        let c = e.colour.unwrap();
        assert_eq!((c.primaries, c.transfer, c.matrix), (9, 16, 9));
        assert!(e.dolby_vision.is_none());
        assert_eq!(e.codec_string, "avc1.64001f");
        // An ICC `colr` first does not hide the coded one after it.
        let e = entry(&[(b"colr", b"prof\0\0\0\0"), (b"colr", pq)]);
        assert_eq!(e.colour.map(|c| c.transfer), Some(16));
        // A `colr` cut short is no colour, not a broken track.
        let e = entry(&[(b"colr", b"nclx\0\x09")]);
        assert_eq!(e.colour, None);
        // Profile 8 level 7, RPU + BL, compatibility 1 (HDR10).
        let dv = entry(&[(b"dvcC", &[1, 0, 0x10, 0x3d, 0x10])])
            .dolby_vision
            .unwrap();
        assert_eq!((dv.profile, dv.level, dv.compatibility), (8, 7, 1));
        assert!(dv.rpu && !dv.el && dv.bl);
        assert!(entry(&[(b"dvvC", &[1, 0, 0x14, 0x35, 0x40])])
            .dolby_vision
            .is_some());
        // Too short to name a profile: the base layer alone.
        assert!(entry(&[(b"dvcC", &[1, 0, 0x10])]).dolby_vision.is_none());
        assert_eq!(entry(&[]).colour, None);
    }

    /// libx264 given the colour only as encoder parameters
    /// (`transfer=smpte2084`): ffmpeg writes no `colr`, the SPS VUI has it.
    #[test]
    fn colour_falls_back_to_the_sps_vui() {
        let hex = concat!(
            "000000b26176633100000000000000010000000000000000000000000000000000400040004800000048000000000000",
            "0001154c61766335392e33372e313030206c696278323634000000000000000000000018ffff00000038617663430164",
            "000affe1001b6764000aacd94426c05a848804a0000003002000000601e244b2c001000668ebe3cb22c0fdf8f8000000",
            "001070617370000000010000000100000014627472740000000000008e8000008e80",
        );
        let raw: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let e = parse_sample_entry(Bytes::from(raw.clone()), "stsd").unwrap();
        let c = e.colour.unwrap();
        assert_eq!((c.primaries, c.transfer, c.matrix), (9, 16, 9));
        assert_eq!(c.video_range(), crate::model::VideoRange::Pq);
        // A `colr` wins over the VUI, unless it leaves the transfer
        // unspecified.
        let with_colr = |colr: &[u8]| {
            let mut w = BoxWriter::default();
            w.start(b"avc1")
                .bytes(&raw[8..])
                .start(b"colr")
                .bytes(colr)
                .end()
                .end();
            parse_sample_entry(Bytes::from(w.buf), "stsd")
                .unwrap()
                .colour
        };
        let hlg = with_colr(b"nclx\0\x09\0\x12\0\x09\0").unwrap();
        assert_eq!(hlg.transfer, 18);
        let unspecified = with_colr(b"nclx\0\x02\0\x02\0\x02\0").unwrap();
        assert_eq!(unspecified.transfer, 16);
    }

    #[test]
    fn unknown_entries_pass_through_and_short_ones_fail() {
        let mut w = BoxWriter::default();
        w.start(b"tx3g").zeros(40).end();
        let raw = Bytes::from(w.buf);
        let e = parse_sample_entry(raw.clone(), "stsd").unwrap();
        assert_eq!(e.codec, Codec::Other);
        assert_eq!(e.raw, raw);
        let mut w = BoxWriter::default();
        w.start(b"avc1").zeros(20).end();
        assert!(parse_sample_entry(Bytes::from(w.buf), "stsd").is_err());
    }
}
