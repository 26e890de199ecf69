//! The sequence header (AV1 bitstream §5.5), from the `av1C` box of the
//! sample entry or from a sequence header OBU in a sample: the fields
//! every frame header reads.

use super::obu::{Obus, OBU_SEQUENCE_HEADER};
use super::{f, flag, uvlc, Av1Error, Bits, R, SELECT};

/// The body of the `av1C` box of an `av01` sample entry (the whole box,
/// header included: [`crate::model::TrackInfo::sample_entry`]), found
/// among the children after the VisualSampleEntry fields (ISO/IEC
/// 14496-12 §12.1.3: 8 + 78 bytes).
pub fn av1c_of_sample_entry(entry: &[u8]) -> Option<&[u8]> {
    let mut at = 8 + 78;
    while at + 8 <= entry.len() {
        let size = u32::from_be_bytes(entry[at..at + 4].try_into().ok()?) as usize;
        // Checked: on wasm32 a size near 4 GiB would wrap `at + size`
        // back inside the entry (a slice panic, or a walk in a circle).
        let end = at
            .checked_add(size)
            .filter(|&e| size >= 8 && e <= entry.len())?;
        if &entry[at + 4..at + 8] == b"av1C" {
            return Some(&entry[at + 8..end]);
        }
        at = end;
    }
    None
}

/// What frame headers read of a sequence header (§5.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SequenceHeader {
    pub(super) reduced_still_picture_header: bool,
    pub(super) decoder_model_info_present: bool,
    pub(super) equal_picture_interval: bool,
    pub(super) buffer_removal_time_length: usize,
    pub(super) frame_presentation_time_length: usize,
    /// `operating_point_idc` and `decoder_model_present_for_this_op`.
    pub(super) operating_points: Vec<(u32, bool)>,
    pub(super) frame_width_bits: usize,
    pub(super) frame_height_bits: usize,
    pub(super) max_frame_width: u32,
    pub(super) max_frame_height: u32,
    pub(super) frame_id_numbers_present: bool,
    pub(super) delta_frame_id_length: usize,
    pub(super) frame_id_length: usize,
    pub(super) use_128x128_superblock: bool,
    pub(super) enable_warped_motion: bool,
    pub(super) enable_order_hint: bool,
    pub(super) enable_ref_frame_mvs: bool,
    pub(super) seq_force_screen_content_tools: u32,
    pub(super) seq_force_integer_mv: u32,
    pub(super) order_hint_bits: usize,
    pub(super) enable_superres: bool,
    pub(super) enable_cdef: bool,
    pub(super) enable_restoration: bool,
    pub(super) mono_chrome: bool,
    pub(super) subsampling_x: bool,
    pub(super) subsampling_y: bool,
    pub(super) separate_uv_delta_q: bool,
    pub(super) film_grain_params_present: bool,
}

impl SequenceHeader {
    /// The sequence header OBU among the `configOBUs` of an `av1C` box
    /// body (AV1 ISOBMFF §2.3.3), if there is one.
    pub fn from_av1c(av1c: &[u8]) -> R<Option<SequenceHeader>> {
        let obus = av1c.get(4..).unwrap_or_default();
        let mut seq = None;
        for obu in Obus::new(obus) {
            let obu = obu?;
            if obu.kind == OBU_SEQUENCE_HEADER {
                seq = Some(parse_sequence_header(&obus[obu.payload])?);
            }
        }
        Ok(seq)
    }

    pub(super) fn num_planes(&self) -> u32 {
        if self.mono_chrome {
            1
        } else {
            3
        }
    }
}

/// `sequence_header_obu()` (§5.5.1).
pub(super) fn parse_sequence_header(payload: &[u8]) -> R<SequenceHeader> {
    const W: &str = "sequence header";
    let r = &mut Bits::new(payload);
    let mut s = SequenceHeader::default();
    let profile = f(r, 3, W)?;
    if profile > 2 {
        return Err(Av1Error::Malformed(W));
    }
    flag(r, W)?; // still_picture
    s.reduced_still_picture_header = flag(r, W)?;
    if s.reduced_still_picture_header {
        f(r, 5, W)?; // seq_level_idx[0]
        s.operating_points.push((0, false));
    } else {
        let mut buffer_delay_length = 0;
        if flag(r, W)? {
            // timing_info() (§5.5.3)
            f(r, 32, W)?;
            f(r, 32, W)?;
            s.equal_picture_interval = flag(r, W)?;
            if s.equal_picture_interval {
                uvlc(r, W)?;
            }
            s.decoder_model_info_present = flag(r, W)?;
            if s.decoder_model_info_present {
                // decoder_model_info() (§5.5.4)
                buffer_delay_length = f(r, 5, W)? as usize + 1;
                f(r, 32, W)?;
                s.buffer_removal_time_length = f(r, 5, W)? as usize + 1;
                s.frame_presentation_time_length = f(r, 5, W)? as usize + 1;
            }
        }
        let initial_display_delay = flag(r, W)?;
        let count = f(r, 5, W)? + 1;
        for _ in 0..count {
            let idc = f(r, 12, W)?;
            if f(r, 5, W)? > 7 {
                flag(r, W)?; // seq_tier
            }
            let mut model = false;
            if s.decoder_model_info_present {
                model = flag(r, W)?;
                if model {
                    f(r, buffer_delay_length, W)?;
                    f(r, buffer_delay_length, W)?;
                    flag(r, W)?;
                }
            }
            if initial_display_delay && flag(r, W)? {
                f(r, 4, W)?;
            }
            s.operating_points.push((idc, model));
        }
    }
    if s.operating_points[0].0 != 0 {
        return Err(Av1Error::Unsupported(
            "scalable stream (operating_point_idc)",
        ));
    }
    s.frame_width_bits = f(r, 4, W)? as usize + 1;
    s.frame_height_bits = f(r, 4, W)? as usize + 1;
    s.max_frame_width = f(r, s.frame_width_bits, W)? + 1;
    s.max_frame_height = f(r, s.frame_height_bits, W)? + 1;
    if !s.reduced_still_picture_header {
        s.frame_id_numbers_present = flag(r, W)?;
    }
    if s.frame_id_numbers_present {
        let delta = f(r, 4, W)? as usize + 2;
        let additional = f(r, 3, W)? as usize + 1;
        s.delta_frame_id_length = delta;
        s.frame_id_length = additional + delta;
    }
    s.use_128x128_superblock = flag(r, W)?;
    f(r, 2, W)?; // enable_filter_intra, enable_intra_edge_filter
    s.seq_force_screen_content_tools = SELECT;
    s.seq_force_integer_mv = SELECT;
    if !s.reduced_still_picture_header {
        f(r, 2, W)?; // enable_interintra_compound, enable_masked_compound
        s.enable_warped_motion = flag(r, W)?;
        flag(r, W)?; // enable_dual_filter
        s.enable_order_hint = flag(r, W)?;
        if s.enable_order_hint {
            flag(r, W)?; // enable_jnt_comp
            s.enable_ref_frame_mvs = flag(r, W)?;
        }
        if !flag(r, W)? {
            // !seq_choose_screen_content_tools
            s.seq_force_screen_content_tools = f(r, 1, W)?;
        }
        if s.seq_force_screen_content_tools > 0 && !flag(r, W)? {
            // !seq_choose_integer_mv
            s.seq_force_integer_mv = f(r, 1, W)?;
        }
        if s.enable_order_hint {
            s.order_hint_bits = f(r, 3, W)? as usize + 1;
        }
    }
    s.enable_superres = flag(r, W)?;
    s.enable_cdef = flag(r, W)?;
    s.enable_restoration = flag(r, W)?;
    // color_config() (§5.5.2)
    let high_bitdepth = flag(r, W)?;
    let twelve_bit = profile == 2 && high_bitdepth && flag(r, W)?;
    s.mono_chrome = profile != 1 && flag(r, W)?;
    let (mut cp, mut tc, mut mc) = (2, 2, 2);
    if flag(r, W)? {
        cp = f(r, 8, W)?;
        tc = f(r, 8, W)?;
        mc = f(r, 8, W)?;
    }
    if s.mono_chrome {
        flag(r, W)?; // color_range
        s.subsampling_x = true;
        s.subsampling_y = true;
    } else {
        if cp == 1 && tc == 13 && mc == 0 {
            // sRGB: full range 4:4:4, nothing coded.
        } else {
            flag(r, W)?; // color_range
            match profile {
                0 => (s.subsampling_x, s.subsampling_y) = (true, true),
                1 => {}
                _ if twelve_bit => {
                    s.subsampling_x = flag(r, W)?;
                    s.subsampling_y = s.subsampling_x && flag(r, W)?;
                }
                _ => s.subsampling_x = true,
            }
            if s.subsampling_x && s.subsampling_y {
                f(r, 2, W)?; // chroma_sample_position
            }
        }
        s.separate_uv_delta_q = flag(r, W)?;
    }
    s.film_grain_params_present = flag(r, W)?;
    Ok(s)
}
