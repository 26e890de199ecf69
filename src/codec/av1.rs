//! AV1 and VP9 colour descriptions from their configuration records, for
//! titles whose sample entry has no `colr` box.
//!
//! Why: as for AVC/HEVC (see [`super::vui`]), the bitstream is the
//! authority on colour when the sample entry says nothing (the AV1 ISOBMFF
//! binding §2.3.4 and the VP codec binding §2.2 make `colr` optional). An
//! AV1 HDR10 or HLG title muxed without `colr` would otherwise be signalled
//! SDR (HLS `VIDEO-RANGE`, DASH CICP properties).
//!
//! - **AV1**: `av1C` (AV1 ISOBMFF binding §2.3.3) ends with `configOBUs`,
//!   whose first OBU is the sequence header. Its `color_config` (AV1
//!   bitstream spec §5.5.2) sits after the operating points and coding
//!   tool flags (§5.5.1), all of which are walked with every count capped
//!   by its field width. Anything cut short or malformed is `None`.
//! - **VP9**: `vpcC` version 1 (VP codec ISOBMFF binding §2.2) carries the
//!   three code points and the range flag directly.

use super::bits::Bits;
use crate::model::ColourInfo;

/// `OBU_SEQUENCE_HEADER` (AV1 §6.2.2).
const OBU_SEQUENCE_HEADER: u32 = 1;
/// Length of `av1C` before `configOBUs` (marker/version, profile/level,
/// tier/bit depth/chroma, initial presentation delay).
const AV1C_HEADER: usize = 4;

/// The colour the sequence header in an `av1C` payload (the box body)
/// describes, when it describes one (`color_description_present_flag`).
pub fn av1c_colour(av1c: &[u8]) -> Option<ColourInfo> {
    let obus = av1c.get(AV1C_HEADER..)?;
    let r = &mut Bits::new(obus);
    // obu_header (§5.3.2): forbidden bit, type, extension, has_size, reserved.
    if r.flag()? {
        return None;
    }
    let obu_type = r.read(4)?;
    let extension = r.flag()?;
    let has_size = r.flag()?;
    r.skip(1)?;
    if obu_type != OBU_SEQUENCE_HEADER {
        return None;
    }
    if extension {
        r.skip(8)?;
    }
    if has_size {
        leb128(r)?;
    }
    sequence_header_colour(r)
}

/// `leb128()` (§4.10.5): at most 8 bytes.
fn leb128(r: &mut Bits<'_>) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..8 {
        let byte = r.read(8)?;
        value |= u64::from(byte & 0x7f) << (i * 7);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// `uvlc()` (§4.10.3): a value of up to 32 bits after as many zeros.
fn uvlc(r: &mut Bits<'_>) -> Option<()> {
    let mut zeros = 0;
    while !r.flag()? {
        zeros += 1;
        if zeros > 32 {
            return None;
        }
    }
    if zeros < 32 {
        r.skip(zeros)?;
    }
    Some(())
}

/// `sequence_header_obu()` (§5.5.1) up to `color_config()` (§5.5.2).
fn sequence_header_colour(r: &mut Bits<'_>) -> Option<ColourInfo> {
    let profile = r.read(3)?;
    r.skip(1)?; // still_picture
    let reduced = r.flag()?; // reduced_still_picture_header
    if reduced {
        r.skip(5)?; // seq_level_idx[0]
    } else {
        let mut decoder_model = false;
        let mut buffer_delay_len = 0;
        if r.flag()? {
            // timing_info (§5.5.3)
            r.skip(64)?; // num_units_in_display_tick, time_scale
            if r.flag()? {
                uvlc(r)?; // num_ticks_per_picture_minus_1
            }
            decoder_model = r.flag()?;
            if decoder_model {
                // decoder_model_info (§5.5.4)
                buffer_delay_len = r.read(5)? as usize + 1;
                r.skip(32 + 5 + 5)?;
            }
        }
        let initial_display_delay = r.flag()?;
        let points = r.read(5)? + 1; // ≤ 32 by the field width
        for _ in 0..points {
            r.skip(12)?; // operating_point_idc
            if r.read(5)? > 7 {
                r.skip(1)?; // seq_tier
            }
            if decoder_model && r.flag()? {
                // operating_parameters_info (§5.5.5)
                r.skip(2 * buffer_delay_len + 1)?;
            }
            if initial_display_delay && r.flag()? {
                r.skip(4)?;
            }
        }
    }
    let width_bits = r.read(4)? as usize + 1;
    let height_bits = r.read(4)? as usize + 1;
    r.skip(width_bits + height_bits)?; // max_frame_{width,height}_minus_1
    if !reduced && r.flag()? {
        // frame_id_numbers_present_flag
        r.skip(4 + 3)?;
    }
    r.skip(3)?; // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if !reduced {
        r.skip(4)?; // interintra, masked compound, warped motion, dual filter
        let order_hint = r.flag()?;
        if order_hint {
            r.skip(2)?; // enable_jnt_comp, enable_ref_frame_mvs
        }
        let force_screen_content = if r.flag()? {
            true // seq_choose_screen_content_tools: SELECT (> 0)
        } else {
            r.flag()?
        };
        if force_screen_content && !r.flag()? {
            r.skip(1)?; // seq_force_integer_mv
        }
        if order_hint {
            r.skip(3)?; // order_hint_bits_minus_1
        }
    }
    r.skip(3)?; // enable_superres, enable_cdef, enable_restoration
    color_config(r, profile)
}

/// `color_config()` (§5.5.2) up to the colour description and range.
fn color_config(r: &mut Bits<'_>, profile: u32) -> Option<ColourInfo> {
    let high_bitdepth = r.flag()?;
    if profile == 2 && high_bitdepth {
        r.skip(1)?; // twelve_bit
    }
    let mono = if profile == 1 { false } else { r.flag()? };
    if !r.flag()? {
        return None; // color_description_present_flag
    }
    let primaries = r.read(8)? as u16;
    let transfer = r.read(8)? as u16;
    let matrix = r.read(8)? as u16;
    // sRGB 4:4:4 (CP_BT_709, TC_SRGB, MC_IDENTITY) implies full range.
    let full_range = if !mono && primaries == 1 && transfer == 13 && matrix == 0 {
        true
    } else {
        r.flag()?
    };
    Some(ColourInfo {
        primaries,
        transfer,
        matrix,
        full_range: Some(full_range),
    })
}

/// The colour a `vpcC` payload (the full box body, version and flags
/// first) gives. Version 0 (the draft binding) has other fields there,
/// so only version 1 is read.
pub fn vpcc_colour(vpcc: &[u8]) -> Option<ColourInfo> {
    if *vpcc.first()? != 1 {
        return None;
    }
    let depth_chroma_range = *vpcc.get(6)?;
    Some(ColourInfo {
        primaries: u16::from(*vpcc.get(7)?),
        transfer: u16::from(*vpcc.get(8)?),
        matrix: u16::from(*vpcc.get(9)?),
        full_range: Some(depth_chroma_range & 1 == 1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MSB-first bit writer for building sequence headers.
    #[derive(Default)]
    struct W {
        bytes: Vec<u8>,
        bit: usize,
    }

    impl W {
        fn put(&mut self, n: usize, v: u64) -> &mut Self {
            for i in (0..n).rev() {
                if self.bit.is_multiple_of(8) {
                    self.bytes.push(0);
                }
                if (v >> i) & 1 == 1 {
                    let last = self.bytes.len() - 1;
                    self.bytes[last] |= 0x80 >> (self.bit % 8);
                }
                self.bit += 1;
            }
            self
        }
    }

    /// A sequence header OBU (with size) in an `av1C`: profile 0, one
    /// operating point, 1920x1080, order hints on, and the given colour
    /// (`None`: no colour description). `timing` adds timing and
    /// decoder-model info, as SVT-AV1 writes with its options on.
    fn av1c(colour: Option<(u8, u8, u8)>, timing: bool, profile: u64) -> Vec<u8> {
        let mut w = W::default();
        w.put(3, profile).put(1, 0).put(1, 0); // profile, still, reduced
        w.put(1, u64::from(timing));
        if timing {
            w.put(32, 1001).put(32, 60000).put(1, 1).put(3, 0b010); // uvlc 1
            w.put(1, 1); // decoder_model_info_present
            w.put(5, 9).put(32, 1001).put(5, 9).put(5, 9);
        }
        w.put(1, 1); // initial_display_delay_present
        w.put(5, 1); // two operating points
        for level in [8u64, 4] {
            w.put(12, 0x101).put(5, level);
            if level > 7 {
                w.put(1, 1);
            }
            if timing {
                w.put(1, 1).put(10, 5).put(10, 5).put(1, 0);
            }
            w.put(1, 1).put(4, 9);
        }
        w.put(4, 10).put(4, 10).put(11, 1919).put(11, 1079);
        w.put(1, 1).put(4, 2).put(3, 1); // frame ids
        w.put(3, 0b011);
        w.put(4, 0b1111);
        w.put(1, 1).put(2, 0b11); // order hint
        w.put(1, 0).put(1, 1); // screen content forced 1
        w.put(1, 0).put(1, 0); // integer mv chosen, forced 0
        w.put(3, 6); // order_hint_bits_minus_1
        w.put(3, 0b011);
        w.put(1, 1); // high_bitdepth
        if profile == 2 {
            w.put(1, 0);
        }
        if profile != 1 {
            w.put(1, 0); // mono_chrome
        }
        match colour {
            Some((p, t, m)) => {
                w.put(1, 1)
                    .put(8, p.into())
                    .put(8, t.into())
                    .put(8, m.into());
                w.put(1, 0); // color_range
            }
            None => {
                w.put(1, 0).put(1, 0);
            }
        }
        w.put(2, 0).put(1, 0).put(1, 1); // subsampling, position, film grain
        let body = w.bytes;
        let mut out = vec![0x81, 0x08, 0x0c, 0x00];
        out.push(0b0000_1010); // type 1, has_size
        out.push(body.len() as u8);
        out.extend(body);
        out
    }

    #[test]
    fn reads_hdr10_and_hlg_from_the_sequence_header() {
        for timing in [false, true] {
            for profile in [0, 1, 2] {
                let c = av1c_colour(&av1c(Some((9, 16, 9)), timing, profile)).unwrap();
                assert_eq!((c.primaries, c.transfer, c.matrix), (9, 16, 9));
                assert_eq!(c.full_range, Some(false));
                let c = av1c_colour(&av1c(Some((9, 18, 9)), timing, profile)).unwrap();
                assert_eq!(c.transfer, 18);
            }
        }
    }

    #[test]
    fn no_description_short_or_other_obus_give_none() {
        assert_eq!(av1c_colour(&av1c(None, true, 0)), None);
        let full = av1c(Some((9, 16, 9)), true, 0);
        for cut in 0..full.len() - 1 {
            assert_eq!(av1c_colour(&full[..cut]), None, "cut at {cut}");
        }
        let mut other = full.clone();
        other[4] = 0b0001_0010; // OBU_TEMPORAL_DELIMITER
        assert_eq!(av1c_colour(&other), None);
        let mut forbidden = full;
        forbidden[4] |= 0x80;
        assert_eq!(av1c_colour(&forbidden), None);
        // An av1C without configOBUs (allowed by §2.3.3).
        assert_eq!(av1c_colour(&[0x81, 0x08, 0x0c, 0x00]), None);
    }

    #[test]
    fn vpcc_version_1_only() {
        let v1 = [1, 0, 0, 0, 2, 31, 0b1010_0100, 9, 16, 9, 0, 0];
        let c = vpcc_colour(&v1).unwrap();
        assert_eq!((c.primaries, c.transfer, c.matrix), (9, 16, 9));
        assert_eq!(c.full_range, Some(false));
        assert_eq!(vpcc_colour(&[0, 0, 0, 0, 2, 31, 0xa4, 9, 16, 9]), None);
        assert_eq!(vpcc_colour(&v1[..9]), None);
    }
}
