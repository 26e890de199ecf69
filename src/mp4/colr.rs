//! `colr`, the colour information box (ISO/IEC 14496-12 §12.1.5), of a
//! visual sample entry.
//!
//! Only the coded colour types carry code points we signal: `nclx`
//! (colour_primaries, transfer_characteristics, matrix_coefficients as
//! ISO/IEC 23091-2 / ITU-T H.273 code points, then a `full_range_flag` bit)
//! and QuickTime's `nclc` (the same three u16, no range flag; QTFF "Color
//! parameter atom"). ICC profiles (`rICC`, `prof`) say nothing manifests
//! can carry and are ignored.

use crate::model::ColourInfo;

/// Parses a `colr` payload (the bytes after the box header). `None` for
/// ICC or unknown colour types and for a box too short for its type: a
/// damaged `colr` leaves a track SDR-signalled rather than failing it.
pub fn parse_colr(p: &[u8]) -> Option<ColourInfo> {
    let (typ, rest) = p.split_first_chunk::<4>()?;
    let full_range = match typ {
        b"nclx" => Some(rest.get(6)? & 0x80 != 0),
        b"nclc" => None,
        _ => return None,
    };
    let be16 = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes(*rest.get(at..)?.first_chunk::<2>()?))
    };
    Some(ColourInfo {
        primaries: be16(0)?,
        transfer: be16(2)?,
        matrix: be16(4)?,
        full_range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VideoRange;

    #[test]
    fn nclx_pq_with_full_range() {
        let c = parse_colr(b"nclx\0\x09\0\x10\0\x09\x80").unwrap();
        assert_eq!(
            c,
            ColourInfo {
                primaries: 9,
                transfer: 16,
                matrix: 9,
                full_range: Some(true)
            }
        );
        assert_eq!(c.video_range(), VideoRange::Pq);
        let c = parse_colr(b"nclx\0\x09\0\x12\0\x09\x00").unwrap();
        assert_eq!(
            (c.full_range, c.video_range()),
            (Some(false), VideoRange::Hlg)
        );
    }

    #[test]
    fn nclc_has_no_range_flag() {
        let c = parse_colr(b"nclc\0\x01\0\x01\0\x01").unwrap();
        assert_eq!((c.transfer, c.full_range), (1, None));
        assert_eq!(c.video_range(), VideoRange::Sdr);
    }

    #[test]
    fn short_and_unknown_boxes_are_none() {
        assert_eq!(parse_colr(b""), None);
        assert_eq!(parse_colr(b"ncl"), None);
        // nclx without its range byte, nclc without its matrix.
        assert_eq!(parse_colr(b"nclx\0\x09\0\x10\0\x09"), None);
        assert_eq!(parse_colr(b"nclc\0\x01\0\x01\0"), None);
        assert_eq!(parse_colr(b"rICC\0\x09\0\x10\0\x09\x80"), None);
        assert_eq!(parse_colr(b"prof\0\0\0\0\0\0\0"), None);
        assert_eq!(parse_colr(b"abcd\0\x09\0\x10\0\x09\x80"), None);
    }

    #[test]
    fn transfer_code_points_map_to_ranges() {
        for (t, r) in [
            (16, VideoRange::Pq),
            (18, VideoRange::Hlg),
            (1, VideoRange::Sdr),
            (6, VideoRange::Sdr),
            (13, VideoRange::Sdr),
            (14, VideoRange::Sdr),
            (15, VideoRange::Sdr),
            (2, VideoRange::Sdr),
        ] {
            let c = ColourInfo {
                primaries: 9,
                transfer: t,
                matrix: 9,
                full_range: None,
            };
            assert_eq!(c.video_range(), r, "{t}");
        }
    }
}
