//! The length of an H.265 slice segment header (ITU-T H.265 §7.3.6.1,
//! through its `byte_alignment()`), so that `cbcs` sample encryption can
//! start its protected range in the slice segment data (ISO/IEC 23001-7
//! §10.4.2: the slice header stays clear), read with the SPS and PPS of
//! the sample entry's `hvcC` (§7.3.2.2, §7.3.2.3).
//!
//! Only what the header's layout depends on is parsed: from the SPS the
//! picture size in CTBs (`slice_segment_address`), the POC LSB width, the
//! short-term reference picture sets (§7.3.7, with inter-RPS prediction,
//! eq. 7-61/7-62: the slice header's own set and its `NumPicTotalCurr`
//! depend on them), long-term pictures, TMVP and SAO; from the PPS every
//! flag the header tests, up to the range extension's
//! `chroma_qp_offset_list_enabled_flag`. The VPS is not needed (§7.3.6.1
//! reads none of it for the base layer).
//!
//! Anything this reader does not follow gives `None` and the caller falls
//! back to a fixed clear lead: NAL units of layers above 0 (their headers
//! have multi-layer fields, Annex F), screen content coding (profiles 9
//! and 11: `use_integer_mv_flag`, ACT QP offsets, the current picture as
//! a reference — none reachable without the SPS VUI), an unknown
//! parameter set id, a value out of its range, a truncated header, or an
//! alignment that is not `1 0…0` (which a misread would show). The answer
//! only decides where encryption starts, never whether the sample
//! decrypts (the subsample map is written in `senc`).

use super::nal_bits::{ceil_log2, NalBits as Bits};
use crate::model::HevcConfig;

/// Parameter sets an `hvcC` array may carry that are looked at; H.265
/// allows 16 SPS ids and 64 PPS ids (§7.4.3.2.1, §7.4.3.3.1).
const MAX_SPS: usize = 16;
const MAX_PPS: usize = 64;
/// Entries of one short-term RPS: `sps_max_dec_pic_buffering_minus1` is
/// below `MaxDpbSize` ≤ 16 (§A.4.2), and bounds both halves (§7.4.8).
const MAX_RPS_PICS: usize = 16;
/// `num_short_term_ref_pic_sets` ≤ 64, `num_long_term_ref_pics_sps` ≤ 32
/// (§7.4.3.2.1).
const MAX_ST_RPS: u32 = 64;
const MAX_LT_SPS: u32 = 32;
/// `delta_poc_s0_minus1`, `abs_delta_rps_minus1`: 0..2^15 − 1 (§7.4.8).
const MAX_DELTA_POC: u32 = (1 << 15) - 1;
/// `num_ref_idx_lX_active_minus1`, `num_ref_idx_lX_default_active_minus1`:
/// 0..14 (§7.4.7.1, §7.4.3.3.1).
const MAX_REF_IDX_MINUS1: u32 = 14;
/// Tile columns and rows: level 6.2 allows 20 × 22 (Table A.8); a wider
/// bound still caps the loops.
const MAX_TILES_MINUS1: u32 = 255;
/// `slice_segment_header_extension_length`: 0..256 (§7.4.7.1).
const MAX_HEADER_EXTENSION: u32 = 256;
/// `log2_max_pic_order_cnt_lsb_minus4` ≤ 12 (§7.4.3.2.1).
const MAX_POC_LSB_MINUS4: u32 = 12;
/// Profiles whose slice headers have screen content coding fields
/// (general_profile_idc 9 and 11, §A.3.7, §A.3.8).
const SCC_PROFILES: [u32; 2] = [9, 11];

/// A short-term reference picture set (§7.4.8): POC deltas and whether
/// each is used by the current picture, negative then positive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Rps {
    negative: Vec<(i32, bool)>,
    positive: Vec<(i32, bool)>,
}

impl Rps {
    /// `NumDeltaPocs`.
    fn len(&self) -> usize {
        self.negative.len() + self.positive.len()
    }

    /// Pictures of the set used by the current picture (part of
    /// `NumPicTotalCurr`, eq. 7-55).
    fn used(&self) -> u32 {
        self.negative
            .iter()
            .chain(&self.positive)
            .filter(|p| p.1)
            .count() as u32
    }
}

/// What a slice segment header's layout needs from its SPS.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sps {
    id: u32,
    separate_colour_plane: bool,
    chroma_array_type: u32,
    /// `PicSizeInCtbsY` (eq. 7-19).
    pic_size_in_ctbs: u32,
    log2_max_poc_lsb: u32,
    st_rps: Vec<Rps>,
    long_term: bool,
    /// `used_by_curr_pic_lt_sps_flag` of each SPS long-term picture.
    lt_used: Vec<bool>,
    temporal_mvp: bool,
    sao: bool,
}

/// What a slice segment header's layout needs from its PPS.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pps {
    id: u32,
    /// Index in [`ParamSets::sps`].
    sps: usize,
    dependent_slice_segments: bool,
    output_flag_present: bool,
    num_extra_slice_header_bits: u32,
    cabac_init_present: bool,
    /// `num_ref_idx_l{0,1}_default_active_minus1`.
    num_ref_idx_default_minus1: [u32; 2],
    slice_chroma_qp_offsets_present: bool,
    weighted_pred: bool,
    weighted_bipred: bool,
    /// `tiles_enabled_flag || entropy_coding_sync_enabled_flag`: entry
    /// points are listed.
    entry_points: bool,
    loop_filter_across_slices: bool,
    deblocking_override_enabled: bool,
    deblocking_disabled: bool,
    lists_modification_present: bool,
    header_extension_present: bool,
    chroma_qp_offset_list: bool,
}

/// The parameter sets of a track, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamSets {
    sps: Vec<Sps>,
    pps: Vec<Pps>,
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

/// `nuh_layer_id` of a NAL unit header (§7.3.1.2) is 0.
fn base_layer(nal: &[u8]) -> Option<()> {
    let layer = ((u32::from(*nal.first()?) & 1) << 5) | (u32::from(*nal.get(1)?) >> 3);
    (layer == 0).then_some(())
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

/// `st_ref_pic_set(idx)` (§7.3.7) with `sets` the SPS's sets before it
/// (`idx` = `sets.len()`; in a slice header `idx` is
/// `num_short_term_ref_pic_sets` and `delta_idx_minus1` is read), and its
/// derivation (eq. 7-61 to 7-64).
fn st_ref_pic_set(r: &mut Bits<'_>, sets: &[Rps], in_slice: bool) -> Option<Rps> {
    let mut out = Rps::default();
    if !sets.is_empty() && r.flag()? {
        // inter_ref_pic_set_prediction_flag
        let delta_idx = if in_slice {
            r.ue_max(sets.len() as u32 - 1)? as usize + 1
        } else {
            1
        };
        let reference = sets.get(sets.len() - delta_idx)?;
        let sign = r.flag()?;
        let magnitude = r.ue_max(MAX_DELTA_POC)? as i32 + 1;
        let delta_rps = if sign { -magnitude } else { magnitude };
        let n = reference.len();
        // (used_by_curr_pic_flag, use_delta_flag) for j in 0..=n; an
        // absent use_delta_flag is 1.
        let mut flags = Vec::with_capacity(n + 1);
        for _ in 0..=n {
            let used = r.flag()?;
            let use_delta = used || r.flag()?;
            flags.push((used, use_delta));
        }
        let (neg, pos) = (&reference.negative, &reference.positive);
        let k = neg.len();
        // eq. 7-61
        for (j, &(d, _)) in pos.iter().enumerate().rev() {
            let (used, keep) = flags[k + j];
            if d + delta_rps < 0 && keep {
                out.negative.push((d + delta_rps, used));
            }
        }
        if delta_rps < 0 && flags[n].1 {
            out.negative.push((delta_rps, flags[n].0));
        }
        for (j, &(d, _)) in neg.iter().enumerate() {
            let (used, keep) = flags[j];
            if d + delta_rps < 0 && keep {
                out.negative.push((d + delta_rps, used));
            }
        }
        // eq. 7-62
        for (j, &(d, _)) in neg.iter().enumerate().rev() {
            let (used, keep) = flags[j];
            if d + delta_rps > 0 && keep {
                out.positive.push((d + delta_rps, used));
            }
        }
        if delta_rps > 0 && flags[n].1 {
            out.positive.push((delta_rps, flags[n].0));
        }
        for (j, &(d, _)) in pos.iter().enumerate() {
            let (used, keep) = flags[k + j];
            if d + delta_rps > 0 && keep {
                out.positive.push((d + delta_rps, used));
            }
        }
    } else {
        let negative = r.ue_max(MAX_RPS_PICS as u32)?;
        let positive = r.ue_max(MAX_RPS_PICS as u32)?;
        // eq. 7-63, 7-64 (values kept only to predict later sets).
        let mut poc = 0i32;
        for _ in 0..negative {
            poc -= r.ue_max(MAX_DELTA_POC)? as i32 + 1;
            out.negative.push((poc, r.flag()?));
        }
        poc = 0;
        for _ in 0..positive {
            poc += r.ue_max(MAX_DELTA_POC)? as i32 + 1;
            out.positive.push((poc, r.flag()?));
        }
    }
    (out.len() <= MAX_RPS_PICS).then_some(out)
}

/// `seq_parameter_set_rbsp()` (§7.3.2.2.1) up to
/// `sps_temporal_mvp_enabled_flag`.
fn parse_sps(nal: &[u8]) -> Option<Sps> {
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
fn parse_pps(nal: &[u8], sps: &[Sps]) -> Option<Pps> {
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

/// `pred_weight_table()` (§7.3.6.3) for lists of `refs` entries (the
/// second 0 for P slices). Without screen content coding no reference
/// has the current picture's POC, so every flag is present.
fn skip_pred_weight_table(r: &mut Bits<'_>, chroma: bool, refs: [u32; 2]) -> Option<()> {
    r.ue_max(7)?; // luma_log2_weight_denom
    if chroma {
        r.se()?; // delta_chroma_log2_weight_denom
    }
    for n in refs {
        let mut luma = [false; MAX_REF_IDX_MINUS1 as usize + 1];
        let mut chroma_w = [false; MAX_REF_IDX_MINUS1 as usize + 1];
        for f in luma.iter_mut().take(n as usize) {
            *f = r.flag()?;
        }
        if chroma {
            for f in chroma_w.iter_mut().take(n as usize) {
                *f = r.flag()?;
            }
        }
        for i in 0..n as usize {
            if luma[i] {
                r.se()?; // delta_luma_weight
                r.se()?; // luma_offset
            }
            if chroma_w[i] {
                for _ in 0..4 {
                    r.se()?; // delta_chroma_weight, delta_chroma_offset
                }
            }
        }
    }
    Some(())
}

/// The bytes of the slice segment NAL unit `nal` (its 2-byte header
/// first, no length prefix) up to the end of its slice segment header,
/// `byte_alignment()` included (§7.3.6.1), counted in the NAL as stored
/// (emulation prevention bytes included); `None` when it cannot be read
/// here.
pub fn slice_header_len(nal: &[u8], ps: &ParamSets) -> Option<usize> {
    base_layer(nal)?;
    let nal_type = u32::from(*nal.first()? >> 1) & 0x3f;
    // VCL types with a slice header: TRAIL..RASL (0–9), BLA..CRA (16–21);
    // the reserved ones (10–15, 22–31) are not followed.
    if !matches!(nal_type, 0..=9 | 16..=21) {
        return None;
    }
    let idr = matches!(nal_type, 19 | 20);
    let mut r = Bits::new(nal, 2);
    let first_slice_segment = r.flag()?;
    if nal_type >= 16 {
        r.flag()?; // no_output_of_prior_pics_flag
    }
    let pps_id = r.ue_max(MAX_PPS as u32 - 1)?;
    let pps = ps.pps.iter().find(|p| p.id == pps_id)?;
    let sps = ps.sps.get(pps.sps)?;
    let mut dependent = false;
    if !first_slice_segment {
        if pps.dependent_slice_segments {
            dependent = r.flag()?;
        }
        let address = r.bits(ceil_log2(sps.pic_size_in_ctbs))?;
        if address >= sps.pic_size_in_ctbs {
            return None;
        }
    }
    if !dependent {
        independent_fields(&mut r, idr, pps, sps)?;
    }
    if pps.entry_points {
        let offsets = r.ue_max(sps.pic_size_in_ctbs)?;
        if offsets > 0 {
            let len = r.ue_max(31)? + 1; // offset_len_minus1
            for _ in 0..offsets {
                r.bits(len)?; // entry_point_offset_minus1
            }
        }
    }
    if pps.header_extension_present {
        for _ in 0..r.ue_max(MAX_HEADER_EXTENSION)? {
            r.bits(8)?; // slice_segment_header_extension_data_byte
        }
    }
    // byte_alignment() (§7.3.2.12): a one, then zeros to the byte end.
    if r.bit()? != 1 {
        return None;
    }
    let (_, left) = r.current();
    if r.bits(u32::from(left))? != 0 {
        return None;
    }
    Some(r.consumed())
}

/// The fields of an independent slice segment's header (§7.3.6.1, from
/// `slice_reserved_flag` to `slice_loop_filter_across_slices_enabled_flag`).
fn independent_fields(r: &mut Bits<'_>, idr: bool, pps: &Pps, sps: &Sps) -> Option<()> {
    r.bits(pps.num_extra_slice_header_bits)?; // slice_reserved_flag[i]
    let slice_type = r.ue_max(2)?; // 0 B, 1 P, 2 I
    let (b, p) = (slice_type == 0, slice_type == 1);
    if pps.output_flag_present {
        r.flag()?; // pic_output_flag
    }
    if sps.separate_colour_plane {
        r.bits(2)?; // colour_plane_id
    }
    let mut total_curr = 0u32; // NumPicTotalCurr (eq. 7-55)
    let mut temporal_mvp = false;
    if !idr {
        r.bits(sps.log2_max_poc_lsb)?; // slice_pic_order_cnt_lsb
        let n_sets = sps.st_rps.len() as u32;
        if !r.flag()? {
            // short_term_ref_pic_set_sps_flag 0: the set is here.
            total_curr += st_ref_pic_set(r, &sps.st_rps, true)?.used();
        } else {
            let idx = if n_sets > 1 {
                r.bits(ceil_log2(n_sets))?
            } else {
                0
            };
            total_curr += sps.st_rps.get(idx as usize)?.used();
        }
        if sps.long_term {
            let lt_sps = sps.lt_used.len() as u32;
            let from_sps = if lt_sps > 0 { r.ue_max(lt_sps)? } else { 0 };
            let here = r.ue_max(MAX_RPS_PICS as u32)?; // num_long_term_pics
            for i in 0..from_sps + here {
                if i < from_sps {
                    let idx = if lt_sps > 1 {
                        r.bits(ceil_log2(lt_sps))? // lt_idx_sps
                    } else {
                        0
                    };
                    if *sps.lt_used.get(idx as usize)? {
                        total_curr += 1;
                    }
                } else {
                    r.bits(sps.log2_max_poc_lsb)?; // poc_lsb_lt
                    if r.flag()? {
                        total_curr += 1; // used_by_curr_pic_lt_flag
                    }
                }
                if r.flag()? {
                    r.ue()?; // delta_poc_msb_cycle_lt
                }
            }
        }
        if sps.temporal_mvp {
            temporal_mvp = r.flag()?;
        }
    }
    let (mut sao_luma, mut sao_chroma) = (false, false);
    if sps.sao {
        sao_luma = r.flag()?;
        if sps.chroma_array_type != 0 {
            sao_chroma = r.flag()?;
        }
    }
    if p || b {
        let [mut l0, mut l1] = pps.num_ref_idx_default_minus1;
        if r.flag()? {
            // num_ref_idx_active_override_flag
            l0 = r.ue_max(MAX_REF_IDX_MINUS1)?;
            if b {
                l1 = r.ue_max(MAX_REF_IDX_MINUS1)?;
            }
        }
        if pps.lists_modification_present && total_curr > 1 {
            // ref_pic_lists_modification() (§7.3.6.2)
            let width = ceil_log2(total_curr);
            for &n in [l0, l1].iter().take(if b { 2 } else { 1 }) {
                if r.flag()? {
                    for _ in 0..=n {
                        r.bits(width)?; // list_entry_lX
                    }
                }
            }
        }
        if b {
            r.flag()?; // mvd_l1_zero_flag
        }
        if pps.cabac_init_present {
            r.flag()?; // cabac_init_flag
        }
        if temporal_mvp {
            let from_l0 = if b { r.flag()? } else { true };
            if (from_l0 && l0 > 0) || (!from_l0 && l1 > 0) {
                r.ue_max(MAX_REF_IDX_MINUS1)?; // collocated_ref_idx
            }
        }
        if (pps.weighted_pred && p) || (pps.weighted_bipred && b) {
            let refs = [l0 + 1, if b { l1 + 1 } else { 0 }];
            skip_pred_weight_table(r, sps.chroma_array_type != 0, refs)?;
        }
        r.ue_max(4)?; // five_minus_max_num_merge_cand
    }
    r.se()?; // slice_qp_delta
    if pps.slice_chroma_qp_offsets_present {
        r.se()?; // slice_cb_qp_offset
        r.se()?; // slice_cr_qp_offset
    }
    if pps.chroma_qp_offset_list {
        r.flag()?; // cu_chroma_qp_offset_enabled_flag
    }
    let mut deblocking_disabled = pps.deblocking_disabled;
    if pps.deblocking_override_enabled && r.flag()? {
        // deblocking_filter_override_flag
        deblocking_disabled = r.flag()?;
        if !deblocking_disabled {
            r.se()?; // slice_beta_offset_div2
            r.se()?; // slice_tc_offset_div2
        }
    }
    if pps.loop_filter_across_slices && (sao_luma || sao_chroma || !deblocking_disabled) {
        r.flag()?; // slice_loop_filter_across_slices_enabled_flag
    }
    Some(())
}

#[cfg(test)]
mod tests;
