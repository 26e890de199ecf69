//! Colour description from the video usability information (VUI) of an
//! AVC or HEVC sequence parameter set.
//!
//! Why: encoders told the colour only through their own parameters (x264's
//! and x265's `colorprim`/`transfer`/`colormatrix`, which HDR10 and HLG
//! masters use) write it in the SPS VUI, and ffmpeg's MP4 muxer then writes
//! no `colr` box. Read from `colr` alone, a PQ or HLG title would be
//! signalled SDR (HLS `VIDEO-RANGE`, DASH CICP properties), which Apple
//! players reject or tone-map wrongly. ISO/IEC 14496-15 lets the sample
//! entry omit `colr`; the bitstream then is the authority.
//!
//! Only what precedes `colour_description` is walked: ITU-T H.264 §7.3.2.1.1
//! (`seq_parameter_set_data`) and §E.1.1, ITU-T H.265 §7.3.2.2.1
//! (`seq_parameter_set_rbsp`), §7.3.3 (`profile_tier_level`), §7.3.4
//! (`scaling_list_data`), §7.3.7 (`st_ref_pic_set`) and §E.2.1. Every count
//! read from the stream is capped at the spec's own limit before it drives
//! a loop; any violation or a cut-short SPS gives `None` (no colour
//! known, as without a `colr`), never an error that fails the track.

use super::bits::Bits;
use crate::model::ColourInfo;

/// The RBSP of a NAL unit payload (after its header): every `00 00 03`
/// loses its `03` (H.264 §7.4.1, H.265 §7.4.2).
fn rbsp(payload: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(payload.len());
    let mut zeros = 0;
    for &b in payload {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        data.push(b);
    }
    data
}

/// Exp-Golomb codes (§9.1 of both specs) over [`Bits`].
trait ExpGolomb {
    fn ue(&mut self) -> Option<u32>;
    /// `ue(v)` that must not exceed `max` (the spec's range for the
    /// syntax element).
    fn ue_max(&mut self, max: u32) -> Option<u32> {
        self.ue().filter(|&v| v <= max)
    }
    /// `se(v)`: only skipped here, its value never matters.
    fn se(&mut self) -> Option<()> {
        self.ue().map(|_| ())
    }
}

impl ExpGolomb for Bits<'_> {
    /// At most 31 leading zeros, so the value fits a u32.
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.read(zeros)?;
        Some(((1u64 << zeros) - 1 + u64::from(rest)).min(u64::from(u32::MAX)) as u32)
    }
}

/// The VUI's `colour_description` (H.264 §E.1.1 and H.265 §E.2.1 share
/// this prefix): `None` when the VUI or the description is absent.
fn vui_colour(r: &mut Bits<'_>) -> Option<ColourInfo> {
    if !r.flag()? {
        return None; // vui_parameters_present_flag
    }
    if r.flag()? {
        // aspect_ratio_info_present_flag; 255 is Extended_SAR.
        if r.read(8)? == 255 {
            r.skip(32)?;
        }
    }
    if r.flag()? {
        r.skip(1)?; // overscan_appropriate_flag
    }
    if !r.flag()? {
        return None; // video_signal_type_present_flag
    }
    r.skip(3)?; // video_format
    let full_range = r.flag()?;
    if !r.flag()? {
        return None; // colour_description_present_flag
    }
    let (primaries, transfer, matrix) = (r.read(8)?, r.read(8)?, r.read(8)?);
    // Reserved code points (H.273 Tables 2-4) mean a misparsed or broken
    // SPS, not a colour to signal.
    if primaries > 22 || transfer > 18 || matrix > 14 {
        return None;
    }
    Some(ColourInfo {
        primaries: primaries as u16,
        transfer: transfer as u16,
        matrix: matrix as u16,
        full_range: Some(full_range),
    })
}

/// AVC `scaling_list` (§7.3.2.1.1.1): only its length depends on values.
fn avc_scaling_list(r: &mut Bits<'_>, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let code = r.ue()?;
            // se(v) mapping (§9.1.1).
            let delta = if code % 2 == 1 {
                i64::from(code / 2 + 1)
            } else {
                -i64::from(code / 2)
            };
            next = (last + delta + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

/// The colour of an AVC SPS NAL unit (with its 1-byte header).
pub fn avc_sps_colour(nal: &[u8]) -> Option<ColourInfo> {
    let data = rbsp(nal.get(1..)?);
    let r = &mut Bits::new(&data);
    let profile = r.read(8)?;
    r.skip(16)?; // constraint flags, reserved, level_idc
    r.ue_max(31)?; // seq_parameter_set_id
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        let chroma = r.ue_max(3)?;
        if chroma == 3 {
            r.skip(1)?; // separate_colour_plane_flag
        }
        r.ue_max(6)?; // bit_depth_luma_minus8
        r.ue_max(6)?; // bit_depth_chroma_minus8
        r.skip(1)?; // qpprime_y_zero_transform_bypass_flag
        if r.flag()? {
            // seq_scaling_matrix_present_flag
            let lists = if chroma == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    avc_scaling_list(r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue_max(12)?; // log2_max_frame_num_minus4
    match r.ue_max(2)? {
        0 => {
            r.ue_max(12)?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.skip(1)?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let cycle = r.ue_max(255)?;
            for _ in 0..cycle {
                r.se()?; // offset_for_ref_frame
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.skip(1)?; // gaps_in_frame_num_value_allowed_flag
    r.ue()?; // pic_width_in_mbs_minus1
    r.ue()?; // pic_height_in_map_units_minus1
    if !r.flag()? {
        r.skip(1)?; // mb_adaptive_frame_field_flag
    }
    r.skip(1)?; // direct_8x8_inference_flag
    if r.flag()? {
        for _ in 0..4 {
            r.ue()?; // frame_crop_*_offset
        }
    }
    vui_colour(r)
}

/// HEVC `profile_tier_level(1, max_sub_layers_minus1)` (§7.3.3).
fn hevc_profile_tier_level(r: &mut Bits<'_>, max_sub_layers_minus1: usize) -> Option<()> {
    // general_profile_space .. general_level_idc: 2+1+5+32+4+43+1+8 bits.
    r.skip(96)?;
    let mut present = [(false, false); 7];
    for p in present.iter_mut().take(max_sub_layers_minus1) {
        *p = (r.flag()?, r.flag()?);
    }
    if max_sub_layers_minus1 > 0 {
        r.skip(2 * (8 - max_sub_layers_minus1))?; // reserved_zero_2bits
    }
    for &(profile, level) in present.iter().take(max_sub_layers_minus1) {
        if profile {
            r.skip(88)?;
        }
        if level {
            r.skip(8)?;
        }
    }
    Some(())
}

/// HEVC `scaling_list_data` (§7.3.4).
fn hevc_scaling_list_data(r: &mut Bits<'_>) -> Option<()> {
    for size_id in 0..4usize {
        let step = if size_id == 3 { 3 } else { 1 };
        for _ in (0..6).step_by(step) {
            if !r.flag()? {
                r.ue()?; // scaling_list_pred_matrix_id_delta
            } else {
                let coefs = 64.min(1 << (4 + (size_id << 1)));
                if size_id > 1 {
                    r.se()?; // scaling_list_dc_coef_minus8
                }
                for _ in 0..coefs {
                    r.se()?; // scaling_list_delta_coef
                }
            }
        }
    }
    Some(())
}

/// A short-term reference picture set's POC deltas (§7.4.8: DeltaPocS0,
/// negative, then DeltaPocS1, positive): a set predicted from an earlier
/// one has as many entries as that derivation keeps, so their values are
/// needed to know how many flags the next predicted set carries.
#[derive(Default)]
struct RefPicSet {
    negative: Vec<i32>,
    positive: Vec<i32>,
}

/// Most entries a set keeps here (§7.4.8 bounds them by
/// sps_max_dec_pic_buffering, at most 16 each way).
const MAX_RPS_PICS: usize = 16;

/// HEVC `st_ref_pic_set(idx)` (§7.3.7) as it appears in an SPS (`idx` <
/// num_short_term_ref_pic_sets, so a predicted set refers to `idx - 1`).
fn hevc_st_ref_pic_set(r: &mut Bits<'_>, sets: &[RefPicSet]) -> Option<RefPicSet> {
    let mut out = RefPicSet::default();
    if !sets.is_empty() && r.flag()? {
        // inter_ref_pic_set_prediction_flag: equations 7-61 and 7-62.
        let reference = sets.last()?;
        let sign = r.flag()?;
        let magnitude = r.ue_max(1 << 15)? as i32 + 1;
        let delta_rps = if sign { -magnitude } else { magnitude };
        let n = reference.negative.len() + reference.positive.len();
        let mut use_delta = Vec::with_capacity(n + 1);
        for _ in 0..=n {
            let used = r.flag()?;
            use_delta.push(used || r.flag()?);
        }
        let (neg, pos) = (&reference.negative, &reference.positive);
        for (j, &d) in pos.iter().enumerate().rev() {
            if d + delta_rps < 0 && use_delta[neg.len() + j] {
                out.negative.push(d + delta_rps);
            }
        }
        if delta_rps < 0 && use_delta[n] {
            out.negative.push(delta_rps);
        }
        for (j, &d) in neg.iter().enumerate() {
            if d + delta_rps < 0 && use_delta[j] {
                out.negative.push(d + delta_rps);
            }
        }
        for (j, &d) in neg.iter().enumerate().rev() {
            if d + delta_rps > 0 && use_delta[j] {
                out.positive.push(d + delta_rps);
            }
        }
        if delta_rps > 0 && use_delta[n] {
            out.positive.push(delta_rps);
        }
        for (j, &d) in pos.iter().enumerate() {
            if d + delta_rps > 0 && use_delta[neg.len() + j] {
                out.positive.push(d + delta_rps);
            }
        }
    } else {
        let negative = r.ue_max(MAX_RPS_PICS as u32)?;
        let positive = r.ue_max(MAX_RPS_PICS as u32)?;
        let mut poc = 0i32;
        for _ in 0..negative {
            poc -= r.ue_max(1 << 15)? as i32 + 1; // delta_poc_s0_minus1
            r.skip(1)?; // used_by_curr_pic_s0_flag
            out.negative.push(poc);
        }
        poc = 0;
        for _ in 0..positive {
            poc += r.ue_max(1 << 15)? as i32 + 1; // delta_poc_s1_minus1
            r.skip(1)?; // used_by_curr_pic_s1_flag
            out.positive.push(poc);
        }
    }
    (out.negative.len() <= MAX_RPS_PICS && out.positive.len() <= MAX_RPS_PICS).then_some(out)
}

/// The colour of an HEVC SPS NAL unit (with its 2-byte header).
pub fn hevc_sps_colour(nal: &[u8]) -> Option<ColourInfo> {
    let data = rbsp(nal.get(2..)?);
    let r = &mut Bits::new(&data);
    r.skip(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.read(3)? as usize;
    if max_sub_layers_minus1 > 6 {
        return None;
    }
    r.skip(1)?; // sps_temporal_id_nesting_flag
    hevc_profile_tier_level(r, max_sub_layers_minus1)?;
    r.ue_max(15)?; // sps_seq_parameter_set_id
    if r.ue_max(3)? == 3 {
        r.skip(1)?; // separate_colour_plane_flag
    }
    r.ue()?; // pic_width_in_luma_samples
    r.ue()?; // pic_height_in_luma_samples
    if r.flag()? {
        for _ in 0..4 {
            r.ue()?; // conf_win_*_offset
        }
    }
    r.ue_max(8)?; // bit_depth_luma_minus8
    r.ue_max(8)?; // bit_depth_chroma_minus8
    let log2_max_poc_lsb = r.ue_max(12)? as usize + 4;
    let all_layers = r.flag()?; // sps_sub_layer_ordering_info_present_flag
    let first = if all_layers { 0 } else { max_sub_layers_minus1 };
    for _ in first..=max_sub_layers_minus1 {
        r.ue()?; // sps_max_dec_pic_buffering_minus1
        r.ue()?; // sps_max_num_reorder_pics
        r.ue()?; // sps_max_latency_increase_plus1
    }
    for _ in 0..6 {
        // log2_min_luma_coding_block_size_minus3 ..
        // max_transform_hierarchy_depth_intra
        r.ue()?;
    }
    if r.flag()? && r.flag()? {
        // scaling_list_enabled_flag, sps_scaling_list_data_present_flag
        hevc_scaling_list_data(r)?;
    }
    r.skip(2)?; // amp_enabled_flag, sample_adaptive_offset_enabled_flag
    if r.flag()? {
        // pcm_enabled_flag
        r.skip(8)?; // pcm sample bit depths
        r.ue()?; // log2_min_pcm_luma_coding_block_size_minus3
        r.ue()?; // log2_diff_max_min_pcm_luma_coding_block_size
        r.skip(1)?; // pcm_loop_filter_disabled_flag
    }
    let count = r.ue_max(64)?;
    let mut sets: Vec<RefPicSet> = Vec::new();
    for _ in 0..count {
        let set = hevc_st_ref_pic_set(r, &sets)?;
        sets.push(set);
    }
    if r.flag()? {
        // long_term_ref_pics_present_flag
        let n = r.ue_max(32)?;
        for _ in 0..n {
            r.skip(log2_max_poc_lsb + 1)?; // lt_ref_pic_poc_lsb_sps, used flag
        }
    }
    r.skip(2)?; // sps_temporal_mvp_enabled_flag, strong_intra_smoothing
    vui_colour(r)
}

#[cfg(test)]
mod tests;
