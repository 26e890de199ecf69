//! The SPS and PPS fields a slice segment header's layout depends on
//! (H.265 §7.3.2.2.1, §7.3.2.3.1, §7.3.2.3.2), read from the `hvcC`
//! arrays of the sample entry.

use super::rps::{st_ref_pic_set, Rps};
use super::*;
use crate::model::HevcConfig;

/// What a slice segment header's layout needs from its SPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Sps {
    pub(super) id: u32,
    pub(super) separate_colour_plane: bool,
    pub(super) chroma_array_type: u32,
    /// `PicSizeInCtbsY` (eq. 7-19).
    pub(super) pic_size_in_ctbs: u32,
    pub(super) log2_max_poc_lsb: u32,
    pub(super) st_rps: Vec<Rps>,
    pub(super) long_term: bool,
    /// `used_by_curr_pic_lt_sps_flag` of each SPS long-term picture.
    pub(super) lt_used: Vec<bool>,
    pub(super) temporal_mvp: bool,
    pub(super) sao: bool,
}

/// What a slice segment header's layout needs from its PPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pps {
    pub(super) id: u32,
    /// Index in [`ParamSets::sps`].
    pub(super) sps: usize,
    pub(super) dependent_slice_segments: bool,
    pub(super) output_flag_present: bool,
    pub(super) num_extra_slice_header_bits: u32,
    pub(super) cabac_init_present: bool,
    /// `num_ref_idx_l{0,1}_default_active_minus1`.
    pub(super) num_ref_idx_default_minus1: [u32; 2],
    pub(super) slice_chroma_qp_offsets_present: bool,
    pub(super) weighted_pred: bool,
    pub(super) weighted_bipred: bool,
    /// `tiles_enabled_flag || entropy_coding_sync_enabled_flag`: entry
    /// points are listed.
    pub(super) entry_points: bool,
    pub(super) loop_filter_across_slices: bool,
    pub(super) deblocking_override_enabled: bool,
    pub(super) deblocking_disabled: bool,
    pub(super) lists_modification_present: bool,
    pub(super) header_extension_present: bool,
    pub(super) chroma_qp_offset_list: bool,
}

/// The parameter sets of a track, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamSets {
    pub(super) sps: Vec<Sps>,
    pub(super) pps: Vec<Pps>,
}

impl ParamSets {
    /// The SPS and PPS of `c` that this reader understands.
    pub fn from_config(c: &HevcConfig) -> ParamSets {
        let sps: Vec<Sps> = c
            .sps
            .iter()
            .take(MAX_SPS)
            .filter_map(|s| parse_sps(s))
            .collect();
        let pps = c
            .pps
            .iter()
            .take(MAX_PPS)
            .filter_map(|p| parse_pps(p, &sps))
            .collect();
        ParamSets { sps, pps }
    }

    /// Whether no slice can be measured (no usable PPS).
    pub fn is_empty(&self) -> bool {
        self.pps.is_empty()
    }
}

/// `profile_tier_level(1, max_sub_layers_minus1)` (§7.3.3): skipped, but
/// screen content profiles (general or compatible) are refused.
fn profile_tier_level(r: &mut Bits<'_>, max_sub_layers_minus1: u32) -> Option<()> {
    r.bits(3)?; // general_profile_space, general_tier_flag
    let profile = r.bits(5)?;
    let compatible = r.bits(32)?;
    let scc = SCC_PROFILES
        .iter()
        .any(|&p| profile == p || compatible & (1 << (31 - p)) != 0);
    if scc {
        return None;
    }
    r.bits(32)?;
    r.bits(16)?; // the rest of the 48 constraint and reserved bits
    r.bits(8)?; // general_level_idc
    let mut present = [(false, false); 7];
    for p in present.iter_mut().take(max_sub_layers_minus1 as usize) {
        *p = (r.flag()?, r.flag()?);
    }
    if max_sub_layers_minus1 > 0 {
        r.bits(2 * (8 - max_sub_layers_minus1))?; // reserved_zero_2bits
    }
    for &(profile, level) in present.iter().take(max_sub_layers_minus1 as usize) {
        if profile {
            r.bits(32)?;
            r.bits(32)?;
            r.bits(24)?; // 88 bits of sub-layer profile
        }
        if level {
            r.bits(8)?;
        }
    }
    Some(())
}

/// `scaling_list_data()` (§7.3.4): skipped.
fn skip_scaling_list_data(r: &mut Bits<'_>) -> Option<()> {
    for size_id in 0..4u32 {
        let step = if size_id == 3 { 3 } else { 1 };
        for _ in (0..6).step_by(step) {
            if !r.flag()? {
                r.ue()?; // scaling_list_pred_matrix_id_delta
            } else {
                let coefs = 64.min(1u32 << (4 + (size_id << 1)));
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

/// `seq_parameter_set_rbsp()` (§7.3.2.2.1) up to
/// `sps_temporal_mvp_enabled_flag`.
pub(super) fn parse_sps(nal: &[u8]) -> Option<Sps> {
    base_layer(nal)?;
    let mut r = Bits::new(nal, 2);
    r.bits(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)?;
    if max_sub_layers_minus1 > 6 {
        return None;
    }
    r.flag()?; // sps_temporal_id_nesting_flag
    profile_tier_level(&mut r, max_sub_layers_minus1)?;
    let id = r.ue_max(MAX_SPS as u32 - 1)?;
    let chroma_format_idc = r.ue_max(3)?;
    let separate_colour_plane = chroma_format_idc == 3 && r.flag()?;
    let width = r.ue()?;
    let height = r.ue()?;
    if r.flag()? {
        for _ in 0..4 {
            r.ue()?; // conf_win_*_offset
        }
    }
    r.ue_max(8)?; // bit_depth_luma_minus8
    r.ue_max(8)?; // bit_depth_chroma_minus8
    let log2_max_poc_lsb = r.ue_max(MAX_POC_LSB_MINUS4)? + 4;
    let all_layers = r.flag()?; // sps_sub_layer_ordering_info_present_flag
    let first = if all_layers { 0 } else { max_sub_layers_minus1 };
    for _ in first..=max_sub_layers_minus1 {
        r.ue_max(MAX_RPS_PICS as u32 - 1)?; // sps_max_dec_pic_buffering_minus1
        r.ue()?; // sps_max_num_reorder_pics
        r.ue()?; // sps_max_latency_increase_plus1
    }
    let min_cb = r.ue_max(3)? + 3; // MinCbLog2SizeY
    let ctb = min_cb + r.ue_max(3)?; // CtbLog2SizeY
    if ctb > 6 {
        return None;
    }
    for _ in 0..4 {
        // log2_min_luma_transform_block_size_minus2 ..
        // max_transform_hierarchy_depth_intra
        r.ue()?;
    }
    if r.flag()? && r.flag()? {
        // scaling_list_enabled_flag, sps_scaling_list_data_present_flag
        skip_scaling_list_data(&mut r)?;
    }
    r.flag()?; // amp_enabled_flag
    let sao = r.flag()?;
    if r.flag()? {
        // pcm_enabled_flag
        r.bits(8)?; // pcm sample bit depths
        r.ue()?; // log2_min_pcm_luma_coding_block_size_minus3
        r.ue()?; // log2_diff_max_min_pcm_luma_coding_block_size
        r.flag()?; // pcm_loop_filter_disabled_flag
    }
    let count = r.ue_max(MAX_ST_RPS)?;
    let mut st_rps: Vec<Rps> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let set = st_ref_pic_set(&mut r, &st_rps, false)?;
        st_rps.push(set);
    }
    let long_term = r.flag()?;
    let mut lt_used = Vec::new();
    if long_term {
        for _ in 0..r.ue_max(MAX_LT_SPS)? {
            r.bits(log2_max_poc_lsb)?; // lt_ref_pic_poc_lsb_sps
            lt_used.push(r.flag()?);
        }
    }
    let temporal_mvp = r.flag()?;
    // PicWidthInCtbsY × PicHeightInCtbsY (eq. 7-15 to 7-19); a picture
    // that does not fit a u32 of CTBs is no picture.
    let ctbs = |n: u32| u64::from(n).div_ceil(1 << ctb);
    let pic_size_in_ctbs = u32::try_from(ctbs(width) * ctbs(height))
        .ok()
        .filter(|&n| n > 0)?;
    Some(Sps {
        id,
        separate_colour_plane,
        chroma_array_type: if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        },
        pic_size_in_ctbs,
        log2_max_poc_lsb,
        st_rps,
        long_term,
        lt_used,
        temporal_mvp,
        sao,
    })
}

/// `pic_parameter_set_rbsp()` (§7.3.2.3.1) up to the range extension's
/// `chroma_qp_offset_list_enabled_flag` (§7.3.2.3.2).
pub(super) fn parse_pps(nal: &[u8], sps: &[Sps]) -> Option<Pps> {
    base_layer(nal)?;
    let mut r = Bits::new(nal, 2);
    let id = r.ue_max(MAX_PPS as u32 - 1)?;
    let sps_id = r.ue_max(MAX_SPS as u32 - 1)?;
    let sps = sps.iter().position(|s| s.id == sps_id)?;
    let dependent_slice_segments = r.flag()?;
    let output_flag_present = r.flag()?;
    let num_extra_slice_header_bits = r.bits(3)?;
    r.flag()?; // sign_data_hiding_enabled_flag
    let cabac_init_present = r.flag()?;
    let num_ref_idx_default_minus1 = [r.ue_max(MAX_REF_IDX_MINUS1)?, r.ue_max(MAX_REF_IDX_MINUS1)?];
    r.se()?; // init_qp_minus26
    r.flag()?; // constrained_intra_pred_flag
    let transform_skip = r.flag()?;
    if r.flag()? {
        r.ue()?; // cu_qp_delta_enabled_flag: diff_cu_qp_delta_depth
    }
    r.se()?; // pps_cb_qp_offset
    r.se()?; // pps_cr_qp_offset
    let slice_chroma_qp_offsets_present = r.flag()?;
    let weighted_pred = r.flag()?;
    let weighted_bipred = r.flag()?;
    r.flag()?; // transquant_bypass_enabled_flag
    let tiles = r.flag()?;
    let sync = r.flag()?;
    if tiles {
        let columns = r.ue_max(MAX_TILES_MINUS1)?;
        let rows = r.ue_max(MAX_TILES_MINUS1)?;
        if !r.flag()? {
            // !uniform_spacing_flag
            for _ in 0..columns + rows {
                r.ue()?; // column_width_minus1, row_height_minus1
            }
        }
        r.flag()?; // loop_filter_across_tiles_enabled_flag
    }
    let loop_filter_across_slices = r.flag()?;
    let (mut deblocking_override_enabled, mut deblocking_disabled) = (false, false);
    if r.flag()? {
        // deblocking_filter_control_present_flag
        deblocking_override_enabled = r.flag()?;
        deblocking_disabled = r.flag()?;
        if !deblocking_disabled {
            r.se()?; // pps_beta_offset_div2
            r.se()?; // pps_tc_offset_div2
        }
    }
    if r.flag()? {
        skip_scaling_list_data(&mut r)?;
    }
    let lists_modification_present = r.flag()?;
    r.ue()?; // log2_parallel_merge_level_minus2
    let header_extension_present = r.flag()?;
    let mut chroma_qp_offset_list = false;
    if r.flag()? {
        // pps_extension_present_flag: range, multilayer, 3D, SCC, 4 bits.
        let range = r.flag()?;
        r.bits(2)?;
        if r.flag()? {
            return None; // pps_scc_extension_flag
        }
        r.bits(4)?;
        if range {
            if transform_skip {
                r.ue()?; // log2_max_transform_skip_block_size_minus2
            }
            r.flag()?; // cross_component_prediction_enabled_flag
            chroma_qp_offset_list = r.flag()?;
        }
    }
    Some(Pps {
        id,
        sps,
        dependent_slice_segments,
        output_flag_present,
        num_extra_slice_header_bits,
        cabac_init_present,
        num_ref_idx_default_minus1,
        slice_chroma_qp_offsets_present,
        weighted_pred,
        weighted_bipred,
        entry_points: tiles || sync,
        loop_filter_across_slices,
        deblocking_override_enabled,
        deblocking_disabled,
        lists_modification_present,
        header_extension_present,
        chroma_qp_offset_list,
    })
}
