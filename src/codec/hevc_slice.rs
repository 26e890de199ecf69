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
//!
//! The parameter sets are read in `param_sets` (with the reference
//! picture sets of `rps`, §7.3.7); this module reads the slice segment
//! header itself.

mod param_sets;
mod rps;

use super::nal_bits::{ceil_log2, NalBits as Bits};
pub use param_sets::ParamSets;
use param_sets::{Pps, Sps};
use rps::st_ref_pic_set;

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
/// `nuh_layer_id` of a NAL unit header (§7.3.1.2) is 0.
fn base_layer(nal: &[u8]) -> Option<()> {
    let layer = ((u32::from(*nal.first()?) & 1) << 5) | (u32::from(*nal.get(1)?) >> 3);
    (layer == 0).then_some(())
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
