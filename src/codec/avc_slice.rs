//! The length of an H.264 slice header (ITU-T H.264 §7.3.3), so that
//! `cbcs` sample encryption can start its protected range in the slice
//! data (ISO/IEC 23001-7 §10.4.2: the slice header stays clear), read
//! with the SPS and PPS of the sample entry's `avcC` (§7.3.2.1.1,
//! §7.3.2.2).
//!
//! Only what the slice header's layout depends on is parsed. Anything
//! this reader does not follow (slice groups, SVC/MVC NAL units, an
//! unknown parameter set id, a truncated or malformed header) gives
//! `None`, and the caller falls back to a fixed clear lead: the answer
//! only decides where encryption starts, never whether the sample
//! decrypts (the subsample map is written in `senc`).

use super::nal_bits::NalBits as Bits;
use crate::model::AvcConfig;

/// Parameter sets an `avcC` may carry (§5.3.3.1.2 of ISO/IEC 14496-15:
/// 5-bit SPS count, 8-bit PPS count); more are ignored.
const MAX_SPS: usize = 32;
const MAX_PPS: usize = 256;
/// Loop bounds from H.264 (§7.4.2.1.1, §7.4.3.1, §7.4.3.3).
const MAX_POC_CYCLE: u32 = 255;
const MAX_REF_IDX: u32 = 31;
const MAX_LIST_OPS: usize = 64;

/// What a slice header's layout needs from its SPS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sps {
    id: u32,
    separate_colour_plane: bool,
    chroma_array_type: u32,
    log2_max_frame_num: u32,
    poc_type: u32,
    log2_max_poc_lsb: u32,
    delta_pic_order_always_zero: bool,
    frame_mbs_only: bool,
}

/// What a slice header's layout needs from its PPS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pps {
    id: u32,
    sps: Sps,
    cabac: bool,
    bottom_field_pic_order: bool,
    num_ref_idx_l0_default: u32,
    num_ref_idx_l1_default: u32,
    weighted_pred: bool,
    weighted_bipred_idc: u32,
    deblocking_filter_control: bool,
    redundant_pic_cnt: bool,
}

/// The parameter sets of a track, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamSets {
    pps: Vec<Pps>,
}

impl ParamSets {
    /// The SPS and PPS of `c` that this reader understands.
    pub fn from_config(c: &AvcConfig) -> ParamSets {
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
        ParamSets { pps }
    }
}

/// `scaling_list()` (§7.3.2.1.1.1): skipped.
fn skip_scaling_list(r: &mut Bits<'_>, size: u32) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let v = i64::from(r.ue()?);
            let delta = if v % 2 == 1 { (v + 1) / 2 } else { -(v / 2) };
            next = (last + delta + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

/// `seq_parameter_set_rbsp()` up to `frame_mbs_only_flag` (§7.3.2.1.1).
fn parse_sps(nal: &[u8]) -> Option<Sps> {
    let mut r = Bits::new(nal, 1);
    let profile = r.bits(8)?;
    r.bits(16)?; // constraint flags, level_idc
    let id = r.ue()?;
    let (mut chroma_format_idc, mut separate_colour_plane) = (1, false);
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag()?;
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.flag()?; // qpprime_y_zero_transform_bypass_flag
        if r.flag()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    let log2_max_frame_num = r.ue()?.checked_add(4).filter(|&v| v <= 16)?;
    let poc_type = r.ue()?;
    let (mut log2_max_poc_lsb, mut delta_pic_order_always_zero) = (0, false);
    match poc_type {
        0 => log2_max_poc_lsb = r.ue()?.checked_add(4).filter(|&v| v <= 16)?,
        1 => {
            delta_pic_order_always_zero = r.flag()?;
            r.se()?;
            r.se()?;
            let cycle = r.ue()?;
            if cycle > MAX_POC_CYCLE {
                return None;
            }
            for _ in 0..cycle {
                r.se()?;
            }
        }
        2 => {}
        _ => return None,
    }
    r.ue()?; // max_num_ref_frames
    r.flag()?; // gaps_in_frame_num_value_allowed_flag
    r.ue()?; // pic_width_in_mbs_minus1
    r.ue()?; // pic_height_in_map_units_minus1
    let frame_mbs_only = r.flag()?;
    Some(Sps {
        id,
        separate_colour_plane,
        chroma_array_type: if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        },
        log2_max_frame_num,
        poc_type,
        log2_max_poc_lsb,
        delta_pic_order_always_zero,
        frame_mbs_only,
    })
}

/// `pic_parameter_set_rbsp()` up to `redundant_pic_cnt_present_flag`
/// (§7.3.2.2); slice groups are not followed.
fn parse_pps(nal: &[u8], sps: &[Sps]) -> Option<Pps> {
    let mut r = Bits::new(nal, 1);
    let id = r.ue()?;
    let sps_id = r.ue()?;
    let sps = *sps.iter().find(|s| s.id == sps_id)?;
    let cabac = r.flag()?;
    let bottom_field_pic_order = r.flag()?;
    if r.ue()? != 0 {
        return None; // num_slice_groups_minus1: FMO (Baseline/Extended only)
    }
    let num_ref_idx_l0_default = r.ue()?.checked_add(1)?;
    let num_ref_idx_l1_default = r.ue()?.checked_add(1)?;
    let weighted_pred = r.flag()?;
    let weighted_bipred_idc = r.bits(2)?;
    r.se()?; // pic_init_qp_minus26
    r.se()?; // pic_init_qs_minus26
    r.se()?; // chroma_qp_index_offset
    let deblocking_filter_control = r.flag()?;
    r.flag()?; // constrained_intra_pred_flag
    let redundant_pic_cnt = r.flag()?;
    Some(Pps {
        id,
        sps,
        cabac,
        bottom_field_pic_order,
        num_ref_idx_l0_default,
        num_ref_idx_l1_default,
        weighted_pred,
        weighted_bipred_idc,
        deblocking_filter_control,
        redundant_pic_cnt,
    })
}

/// `ref_pic_list_modification()` of one list (§7.3.3.1).
fn skip_list_modification(r: &mut Bits<'_>) -> Option<()> {
    if !r.flag()? {
        return Some(());
    }
    for _ in 0..MAX_LIST_OPS {
        match r.ue()? {
            0..=2 => {
                r.ue()?;
            }
            3 => return Some(()),
            _ => return None,
        }
    }
    None
}

/// `pred_weight_table()` (§7.3.3.2).
fn skip_pred_weight_table(r: &mut Bits<'_>, chroma: bool, lists: [u32; 2]) -> Option<()> {
    r.ue()?; // luma_log2_weight_denom
    if chroma {
        r.ue()?;
    }
    for n in lists {
        for _ in 0..n {
            if r.flag()? {
                r.se()?;
                r.se()?;
            }
            if chroma && r.flag()? {
                for _ in 0..4 {
                    r.se()?;
                }
            }
        }
    }
    Some(())
}

/// `dec_ref_pic_marking()` (§7.3.3.3).
fn skip_dec_ref_pic_marking(r: &mut Bits<'_>, idr: bool) -> Option<()> {
    if idr {
        r.bits(2)?;
        return Some(());
    }
    if !r.flag()? {
        return Some(());
    }
    for _ in 0..MAX_LIST_OPS {
        let op = r.ue()?;
        if op == 0 {
            return Some(());
        }
        if op > 6 {
            return None;
        }
        if matches!(op, 1 | 3) {
            r.ue()?;
        }
        if op == 2 {
            r.ue()?;
        }
        if matches!(op, 3 | 6) {
            r.ue()?;
        }
        if op == 4 {
            r.ue()?;
        }
    }
    None
}

/// The bytes of the slice NAL unit `nal` (header byte first, no length
/// prefix) up to the end of its slice header (§7.3.3), the byte holding
/// its last bit included; `None` when it cannot be read here.
pub fn slice_header_len(nal: &[u8], ps: &ParamSets) -> Option<usize> {
    header_end(nal, ps).map(|e| e.bytes)
}

/// Where a slice header ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderEnd {
    /// NAL bytes up to the end of the header (a partly used byte counts).
    pub bytes: usize,
    /// The last of those bytes, and how many of its low bits follow the
    /// header: with CABAC they are `cabac_alignment_one_bit`s, all 1
    /// (§7.3.4), which tests check the reader against.
    pub last: u8,
    pub after: u8,
    pub cabac: bool,
}

/// [`slice_header_len`] with the bits that follow the header.
pub fn header_end(nal: &[u8], ps: &ParamSets) -> Option<HeaderEnd> {
    let first = *nal.first()?;
    let nal_ref_idc = (first >> 5) & 3;
    let nal_type = first & 0x1f;
    if !(1..=5).contains(&nal_type) {
        return None;
    }
    let idr = nal_type == 5;
    let mut r = Bits::new(nal, 1);
    r.ue()?; // first_mb_in_slice
    let slice_type = r.ue()? % 5; // 0 P, 1 B, 2 I, 3 SP, 4 SI
    let pps_id = r.ue()?;
    let pps = ps.pps.iter().find(|p| p.id == pps_id)?;
    let sps = &pps.sps;
    if sps.separate_colour_plane {
        r.bits(2)?;
    }
    r.bits(sps.log2_max_frame_num)?;
    let mut field = false;
    if !sps.frame_mbs_only {
        field = r.flag()?;
        if field {
            r.flag()?;
        }
    }
    if idr {
        r.ue()?;
    }
    if sps.poc_type == 0 {
        r.bits(sps.log2_max_poc_lsb)?;
        if pps.bottom_field_pic_order && !field {
            r.se()?;
        }
    }
    if sps.poc_type == 1 && !sps.delta_pic_order_always_zero {
        r.se()?;
        if pps.bottom_field_pic_order && !field {
            r.se()?;
        }
    }
    if pps.redundant_pic_cnt {
        r.ue()?;
    }
    let (p, b, sp) = (slice_type == 0, slice_type == 1, slice_type == 3);
    if b {
        r.flag()?; // direct_spatial_mv_pred_flag
    }
    let (mut l0, mut l1) = (pps.num_ref_idx_l0_default, pps.num_ref_idx_l1_default);
    if p || sp || b {
        if r.flag()? {
            l0 = r.ue()?.checked_add(1)?;
            if b {
                l1 = r.ue()?.checked_add(1)?;
            }
        }
        if l0 > MAX_REF_IDX + 1 || l1 > MAX_REF_IDX + 1 {
            return None;
        }
        skip_list_modification(&mut r)?;
        if b {
            skip_list_modification(&mut r)?;
        }
    }
    if (pps.weighted_pred && (p || sp)) || (pps.weighted_bipred_idc == 1 && b) {
        let lists = [l0, if b { l1 } else { 0 }];
        skip_pred_weight_table(&mut r, sps.chroma_array_type != 0, lists)?;
    }
    if nal_ref_idc != 0 {
        skip_dec_ref_pic_marking(&mut r, idr)?;
    }
    if pps.cabac && slice_type != 2 && slice_type != 4 {
        r.ue()?; // cabac_init_idc
    }
    r.se()?; // slice_qp_delta
    if sp || slice_type == 4 {
        if sp {
            r.flag()?;
        }
        r.se()?;
    }
    if pps.deblocking_filter_control && r.ue()? != 1 {
        r.se()?;
        r.se()?;
    }
    let (last, after) = r.current();
    Some(HeaderEnd {
        bytes: r.consumed(),
        last,
        after,
        cabac: pps.cabac,
    })
}

#[cfg(test)]
mod tests;
