//! Dolby Vision: the decoder configuration record (`dvcC`, `dvvC`, `dvwC`;
//! "Dolby Vision streams within the ISO base media file format" v2.x,
//! reproduced in DASH-IF IOP Annex "Dolby Vision streams within ISO BMFF")
//! and how each output format names it.
//!
//! Two ways a file carries Dolby Vision, signalled differently:
//!
//! * **DV-only** sample entries (`dvh1`, `dvhe`, `dav1`, `dva1`, `dvav`;
//!   profile 5, or 8/10 without a compatible base layer): the track *is* a
//!   Dolby Vision stream, so its codec string is the DV one
//!   (`dvh1.05.06`) in HLS `CODECS` and DASH `@codecs`.
//! * **Backward-compatible** profiles 8.x / 9.x / 10.x in an `hvc1` /
//!   `hev1` / `avc1` / `av01` entry with a DV box: the base layer is an
//!   ordinary HDR10, SDR or HLG stream every player decodes, so its codec
//!   string stays in `CODECS`, and the DV layer is offered *beside* it:
//!   HLS `SUPPLEMENTAL-CODECS="dvh1.08.07/db1p"` (RFC 8216bis §4.4.6.2,
//!   the brand naming what the base layer is compatible with) and DASH
//!   `scte214:supplementalCodecs` / `scte214:supplementalProfiles` (SCTE
//!   214-1, DASH-IF IOP v5 part 7), which Shaka Player reads.

use crate::model::{DolbyVision, FourCC, VideoRange};

/// XML namespace of the SCTE 214-1 MPD extensions.
pub const SCTE214_NAMESPACE: &str = "urn:scte:dash:scte214-extensions";

/// Sample entry types that are Dolby Vision streams in their own right.
const DV_ENTRIES: &[&[u8; 4]] = &[b"dvh1", b"dvhe", b"dav1", b"dva1", b"dvav"];

/// Parses a `dvcC`/`dvvC`/`dvwC` payload. `None` when it is too short to
/// name a profile: the track is then packaged as its base layer alone,
/// which every player can still show, rather than refused.
pub fn parse_config(b: &[u8]) -> Option<DolbyVision> {
    if b.len() < 4 {
        return None;
    }
    let profile = b[2] >> 1;
    let level = ((b[2] & 1) << 5) | (b[3] >> 3);
    Some(DolbyVision {
        profile,
        level,
        rpu: b[3] & 0x04 != 0,
        el: b[3] & 0x02 != 0,
        bl: b[3] & 0x01 != 0,
        // dv_bl_signal_compatibility_id, the top nibble of byte 4 (records
        // of version 1.0 written before it existed leave it 0: "none").
        compatibility: b.get(4).map_or(0, |c| c >> 4),
    })
}

/// True for a Dolby-Vision-only sample entry (see the module docs).
pub fn is_dv_entry(fourcc: FourCC) -> bool {
    DV_ENTRIES.contains(&&fourcc.0)
}

/// The DV codec word for a sample entry: its own type when it is a DV
/// entry, else the DV entry matching its base layer (`hvc1` → `dvh1`,
/// `hev1` → `dvhe`, `avc1` → `dva1`, `avc3` → `dvav`, `av01` → `dav1`;
/// parameter sets out of band vs in band, as for the base types).
fn dv_word(fourcc: FourCC) -> &'static str {
    match &fourcc.0 {
        b"dvh1" | b"hvc1" => "dvh1",
        b"dvhe" | b"hev1" => "dvhe",
        b"dva1" | b"avc1" => "dva1",
        b"dvav" | b"avc3" => "dvav",
        _ => "dav1",
    }
}

/// The Dolby Vision codec string `word.PP.LL` (two-digit profile and level,
/// Dolby's "Dolby Vision profiles and levels" §2.2 codec parameter).
pub fn codec_string(fourcc: FourCC, dv: &DolbyVision) -> String {
    format!("{}.{:02}.{:02}", dv_word(fourcc), dv.profile, dv.level)
}

/// The compatibility brand of a backward-compatible base layer: `db1p`
/// (HDR10 / PQ), `db2g` (SDR), `db4h` (HLG). Other ids (0 none, 6 Blu-ray
/// HDR10 with EL) have no HLS brand.
pub fn compatibility_brand(dv: &DolbyVision) -> Option<&'static str> {
    match dv.compatibility {
        1 => Some("db1p"),
        2 => Some("db2g"),
        4 => Some("db4h"),
        _ => None,
    }
}

/// The video range a DV track shows on a display that does not run Dolby
/// Vision, for when the entry has no `colr`: profile 5 is PQ (IPTPQc2
/// decoded with Dolby Vision only; Apple signals it PQ), a compatible base
/// layer is what its brand says.
pub fn video_range(dv: &DolbyVision) -> Option<VideoRange> {
    match (dv.profile, dv.compatibility) {
        (5, _) => Some(VideoRange::Pq),
        (_, 1) | (_, 6) => Some(VideoRange::Pq),
        (_, 2) => Some(VideoRange::Sdr),
        (_, 4) => Some(VideoRange::Hlg),
        _ => None,
    }
}

/// The supplemental codec of a backward-compatible DV track, as
/// (`word.PP.LL`, brand): `None` for DV-only entries (their DV codec is the
/// main codec string) and for base layers without a brand.
pub fn supplemental(fourcc: FourCC, dv: &DolbyVision) -> Option<(String, &'static str)> {
    if is_dv_entry(fourcc) || !dv.bl {
        return None;
    }
    Some((codec_string(fourcc, dv), compatibility_brand(dv)?))
}

/// HLS `SUPPLEMENTAL-CODECS` value (RFC 8216bis §4.4.6.2): `dvh1.08.07/db1p`.
pub fn hls_supplemental_codecs(fourcc: FourCC, dv: &DolbyVision) -> Option<String> {
    supplemental(fourcc, dv).map(|(codec, brand)| format!("{codec}/{brand}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dv(profile: u8, level: u8, compatibility: u8) -> DolbyVision {
        DolbyVision {
            profile,
            level,
            rpu: true,
            el: false,
            bl: true,
            compatibility,
        }
    }

    #[test]
    fn record_fields() {
        // Profile 8, level 6, RPU + BL, compatibility 4 (HLG).
        let d = parse_config(&[1, 0, 0x10, 0x35, 0x40, 0, 0, 0]).unwrap();
        assert_eq!(d, dv(8, 6, 4));
        // Profile 10 level 13 (level bits straddle bytes 2 and 3).
        let d = parse_config(&[1, 0, 0x14, 0x6d, 0x10]).unwrap();
        assert_eq!((d.profile, d.level, d.compatibility), (10, 13, 1));
        assert!(parse_config(&[1, 0, 0x10]).is_none());
    }

    #[test]
    fn codec_strings_follow_the_base_entry() {
        let p8 = dv(8, 7, 1);
        for (entry, word) in [
            (b"hvc1", "dvh1"),
            (b"hev1", "dvhe"),
            (b"avc1", "dva1"),
            (b"avc3", "dvav"),
            (b"av01", "dav1"),
            (b"dvh1", "dvh1"),
            (b"dvhe", "dvhe"),
        ] {
            assert_eq!(codec_string(FourCC(*entry), &p8), format!("{word}.08.07"));
        }
        assert_eq!(
            hls_supplemental_codecs(FourCC(*b"hvc1"), &p8).as_deref(),
            Some("dvh1.08.07/db1p")
        );
        assert_eq!(
            hls_supplemental_codecs(FourCC(*b"av01"), &dv(10, 9, 4)).as_deref(),
            Some("dav1.10.09/db4h")
        );
        // DV-only entries and brandless base layers have no supplemental.
        assert_eq!(hls_supplemental_codecs(FourCC(*b"dvh1"), &p8), None);
        assert_eq!(
            hls_supplemental_codecs(FourCC(*b"hvc1"), &dv(8, 7, 0)),
            None
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(video_range(&dv(5, 6, 0)), Some(VideoRange::Pq));
        assert_eq!(video_range(&dv(8, 6, 1)), Some(VideoRange::Pq));
        assert_eq!(video_range(&dv(8, 6, 2)), Some(VideoRange::Sdr));
        assert_eq!(video_range(&dv(8, 6, 4)), Some(VideoRange::Hlg));
        assert_eq!(video_range(&dv(8, 6, 0)), None);
    }
}
