//! The uncompressed frame header (AV1 bitstream §5.9): read whole,
//! because the tile info sits after fields whose lengths depend on the
//! sequence header and the reference slots.

use super::frame_size::{frame_size, render_size, superres_params, FrameSize};
use super::obu::Obu;
use super::refs::{skip_mode_allowed, slot_of, RefSlot};
use super::tile_group::tile_info;
use super::*;

/// The parts of a frame header that decide the tile layout and the
/// reference update.
#[derive(Clone, Debug, Default)]
pub(super) struct FrameHeader {
    pub(super) show_existing_frame: bool,
    pub(super) frame_to_show: usize,
    pub(super) slot: RefSlot,
    pub(super) refresh_frame_flags: u32,
    /// The reference slots as this header leaves them before the
    /// update (a shown key frame invalidates them all; error resilient
    /// frames may reset some, §5.9.2).
    pub(super) refs: [RefSlot; NUM_REF_FRAMES],
    pub(super) tile_cols_log2: u32,
    pub(super) tile_rows_log2: u32,
    pub(super) num_tiles: u32,
    pub(super) tile_size_bytes: usize,
}

impl Av1Parser {
    /// `uncompressed_header()` (§5.9.2).
    pub(super) fn frame_header(&self, r: &mut Bits<'_>, obu: &Obu) -> R<FrameHeader> {
        const W: &str = "frame header";
        let seq = self
            .seq
            .as_ref()
            .ok_or(Av1Error::Malformed("frame before any sequence header"))?;
        let mut fh = FrameHeader::default();
        let (frame_type, show_frame, showable_frame, error_resilient);
        if seq.reduced_still_picture_header {
            (frame_type, show_frame, showable_frame, error_resilient) =
                (KEY_FRAME, true, false, true);
        } else {
            if flag(r, W)? {
                // show_existing_frame
                fh.show_existing_frame = true;
                fh.frame_to_show = f(r, 3, W)? as usize;
                if seq.decoder_model_info_present && !seq.equal_picture_interval {
                    f(r, seq.frame_presentation_time_length, W)?;
                }
                if seq.frame_id_numbers_present {
                    f(r, seq.frame_id_length, W)?;
                }
                self.slot(fh.frame_to_show)?;
                return Ok(fh);
            }
            frame_type = f(r, 2, W)?;
            show_frame = flag(r, W)?;
            if show_frame && seq.decoder_model_info_present && !seq.equal_picture_interval {
                f(r, seq.frame_presentation_time_length, W)?; // temporal_point_info
            }
            showable_frame = if show_frame {
                frame_type != KEY_FRAME
            } else {
                flag(r, W)?
            };
            error_resilient =
                if frame_type == SWITCH_FRAME || (frame_type == KEY_FRAME && show_frame) {
                    true
                } else {
                    flag(r, W)?
                };
        }
        let mut refs = self.refs;
        if frame_type == KEY_FRAME && show_frame {
            for s in refs.iter_mut() {
                s.valid = false;
                s.order_hint = 0;
            }
        }
        let intra = frame_type == INTRA_ONLY_FRAME || frame_type == KEY_FRAME;
        let disable_cdf_update = flag(r, W)?;
        let screen_content = if seq.seq_force_screen_content_tools == SELECT {
            flag(r, W)?
        } else {
            seq.seq_force_screen_content_tools == 1
        };
        let mut force_integer_mv = false;
        if screen_content {
            force_integer_mv = if seq.seq_force_integer_mv == SELECT {
                flag(r, W)?
            } else {
                seq.seq_force_integer_mv == 1
            };
        }
        if intra {
            force_integer_mv = true;
        }
        if seq.frame_id_numbers_present {
            f(r, seq.frame_id_length, W)?; // current_frame_id
        }
        let frame_size_override = if frame_type == SWITCH_FRAME {
            true
        } else if seq.reduced_still_picture_header {
            false
        } else {
            flag(r, W)?
        };
        let order_hint = f(r, seq.order_hint_bits, W)?;
        let primary_ref_frame = if intra || error_resilient {
            PRIMARY_REF_NONE
        } else {
            f(r, 3, W)?
        };
        if seq.decoder_model_info_present && flag(r, W)? {
            // buffer_removal_time_present_flag
            for &(idc, model) in &seq.operating_points {
                let in_temporal = idc >> obu.temporal_id & 1 == 1;
                let in_spatial = idc >> (obu.spatial_id + 8) & 1 == 1;
                if model && (idc == 0 || (in_temporal && in_spatial)) {
                    f(r, seq.buffer_removal_time_length, W)?;
                }
            }
        }
        let refresh = if frame_type == SWITCH_FRAME || (frame_type == KEY_FRAME && show_frame) {
            ALL_FRAMES
        } else {
            f(r, 8, W)?
        };
        if (!intra || refresh != ALL_FRAMES) && error_resilient && seq.enable_order_hint {
            for s in refs.iter_mut() {
                let hint = f(r, seq.order_hint_bits, W)?;
                if hint != s.order_hint || !s.valid {
                    *s = RefSlot {
                        order_hint: hint,
                        ..RefSlot::default()
                    };
                }
            }
        }
        let mut size = FrameSize::default();
        let mut allow_intrabc = false;
        let mut ref_frame_idx = [0usize; REFS_PER_FRAME];
        let mut allow_high_precision_mv = false;
        if intra {
            size = frame_size(r, seq, frame_size_override)?;
            render_size(r, &mut size)?;
            if screen_content && size.upscaled_width == size.frame_width {
                allow_intrabc = flag(r, W)?;
            }
        } else {
            if seq.enable_order_hint && flag(r, W)? {
                return Err(Av1Error::Unsupported("frame_refs_short_signaling"));
            }
            for idx in ref_frame_idx.iter_mut() {
                *idx = f(r, 3, W)? as usize;
                if seq.frame_id_numbers_present {
                    f(r, seq.delta_frame_id_length, W)?;
                }
            }
            let mut found = false;
            if frame_size_override && !error_resilient {
                // frame_size_with_refs() (§5.9.7)
                for &idx in &ref_frame_idx {
                    if flag(r, W)? {
                        let s = slot_of(&refs, idx)?;
                        size.upscaled_width = s.upscaled_width;
                        size.frame_width = s.upscaled_width;
                        size.frame_height = s.frame_height;
                        size.render_width = s.render_width;
                        size.render_height = s.render_height;
                        superres_params(r, seq, &mut size)?;
                        found = true;
                        break;
                    }
                }
            }
            if !found {
                size = frame_size(r, seq, frame_size_override)?;
                render_size(r, &mut size)?;
            }
            allow_high_precision_mv = !force_integer_mv && flag(r, W)?;
            if !flag(r, W)? {
                f(r, 2, W)?; // interpolation_filter
            }
            flag(r, W)?; // is_motion_mode_switchable
            if !error_resilient && seq.enable_ref_frame_mvs {
                flag(r, W)?; // use_ref_frame_mvs
            }
        }
        if !(seq.reduced_still_picture_header || disable_cdf_update) {
            flag(r, W)?; // disable_frame_end_update_cdf
        }
        // tile_info() (§5.9.15)
        let tiles = tile_info(r, seq, &size)?;
        // quantization_params() (§5.9.12)
        let base_q_idx = f(r, 8, W)?;
        let mut deltas_zero = read_delta_q(r)? == 0;
        if seq.num_planes() > 1 {
            let diff_uv_delta = seq.separate_uv_delta_q && flag(r, W)?;
            deltas_zero &= read_delta_q(r)? == 0;
            deltas_zero &= read_delta_q(r)? == 0;
            if diff_uv_delta {
                deltas_zero &= read_delta_q(r)? == 0;
                deltas_zero &= read_delta_q(r)? == 0;
            }
        }
        if flag(r, W)? {
            // using_qmatrix
            f(r, 8, W)?;
            if seq.separate_uv_delta_q {
                f(r, 4, W)?;
            }
        }
        // segmentation_params() (§5.9.14)
        let mut alt_q = [None; 8];
        let segmentation = flag(r, W)?;
        if segmentation {
            let update_data = if primary_ref_frame == PRIMARY_REF_NONE {
                true
            } else {
                if flag(r, W)? {
                    flag(r, W)?; // segmentation_temporal_update
                }
                flag(r, W)?
            };
            if update_data {
                for q in alt_q.iter_mut() {
                    for j in 0..8 {
                        if !flag(r, W)? {
                            continue;
                        }
                        let bits = SEG_FEATURE_BITS[j];
                        let v = if SEG_FEATURE_SIGNED[j] {
                            su(r, bits + 1, W)?.clamp(-SEG_FEATURE_MAX[j], SEG_FEATURE_MAX[j])
                        } else {
                            (f(r, bits, W)? as i32).min(SEG_FEATURE_MAX[j])
                        };
                        if j == 0 {
                            *q = Some(v);
                        }
                    }
                }
            } else {
                let idx = ref_frame_idx[primary_ref_frame as usize];
                alt_q = slot_of(&refs, idx)?.alt_q;
            }
        }
        // delta_q_params(), delta_lf_params() (§5.9.17, §5.9.18)
        let mut delta_q_present = false;
        if base_q_idx > 0 {
            delta_q_present = flag(r, W)?;
        }
        if delta_q_present {
            f(r, 2, W)?;
            if !allow_intrabc && flag(r, W)? {
                f(r, 3, W)?; // delta_lf_res, delta_lf_multi
            }
        }
        // CodedLossless (§5.9.2): every segment's qindex 0, no deltas.
        let coded_lossless = deltas_zero
            && (0..8).all(|s| {
                let q = match alt_q[s] {
                    Some(d) if segmentation => (base_q_idx as i32 + d).clamp(0, 255),
                    _ => base_q_idx as i32,
                };
                q == 0
            });
        let all_lossless = coded_lossless && size.frame_width == size.upscaled_width;
        // loop_filter_params() (§5.9.11)
        if !(coded_lossless || allow_intrabc) {
            let l0 = f(r, 6, W)?;
            let l1 = f(r, 6, W)?;
            if seq.num_planes() > 1 && (l0 != 0 || l1 != 0) {
                f(r, 12, W)?;
            }
            f(r, 3, W)?; // loop_filter_sharpness
            if flag(r, W)? && flag(r, W)? {
                // delta enabled and updated: 8 ref deltas, 2 mode deltas.
                for _ in 0..10 {
                    if flag(r, W)? {
                        f(r, 7, W)?;
                    }
                }
            }
        }
        // cdef_params() (§5.9.19)
        if !(coded_lossless || allow_intrabc) && seq.enable_cdef {
            f(r, 2, W)?; // cdef_damping_minus_3
            let bits = f(r, 2, W)?;
            let per = if seq.num_planes() > 1 { 12 } else { 6 };
            for _ in 0..1u32 << bits {
                f(r, per, W)?;
            }
        }
        // lr_params() (§5.9.20)
        if !(all_lossless || allow_intrabc) && seq.enable_restoration {
            let (mut uses_lr, mut uses_chroma_lr) = (false, false);
            for i in 0..seq.num_planes() {
                if f(r, 2, W)? != 0 {
                    uses_lr = true;
                    uses_chroma_lr |= i > 0;
                }
            }
            if uses_lr {
                // lr_unit_shift, then lr_unit_extra_shift with 64×64
                // superblocks when the shift is set.
                if flag(r, W)? && !seq.use_128x128_superblock {
                    flag(r, W)?;
                }
                if seq.subsampling_x && seq.subsampling_y && uses_chroma_lr {
                    flag(r, W)?;
                }
            }
        }
        // read_tx_mode() (§5.9.21)
        if !coded_lossless {
            flag(r, W)?;
        }
        // frame_reference_mode() (§5.9.23)
        let reference_select = !intra && flag(r, W)?;
        // skip_mode_params() (§5.9.22)
        if !intra && reference_select && seq.enable_order_hint {
            let mut hints = [0u32; REFS_PER_FRAME];
            for (h, &idx) in hints.iter_mut().zip(&ref_frame_idx) {
                *h = slot_of(&refs, idx)?.order_hint;
            }
            if skip_mode_allowed(seq, order_hint, &hints) {
                flag(r, W)?; // skip_mode_present
            }
        }
        if !(intra || error_resilient || !seq.enable_warped_motion) {
            flag(r, W)?; // allow_warped_motion
        }
        flag(r, W)?; // reduced_tx_set
                     // global_motion_params() (§5.9.24)
        if !intra {
            for _ in 0..REFS_PER_FRAME {
                let kind = if !flag(r, W)? {
                    IDENTITY
                } else if flag(r, W)? {
                    ROTZOOM
                } else if flag(r, W)? {
                    TRANSLATION
                } else {
                    AFFINE
                };
                if kind >= ROTZOOM {
                    let n = if kind == AFFINE { 4 } else { 2 };
                    for _ in 0..n {
                        decode_subexp(r, 2 * (1 << GM_ABS_ALPHA_BITS) + 1)?;
                    }
                }
                if kind >= TRANSLATION {
                    let abs_bits = if kind == TRANSLATION {
                        GM_ABS_TRANS_ONLY_BITS - u32::from(!allow_high_precision_mv)
                    } else {
                        GM_ABS_TRANS_BITS
                    };
                    for _ in 0..2 {
                        decode_subexp(r, 2 * (1 << abs_bits) + 1)?;
                    }
                }
            }
        }
        // film_grain_params() (§5.9.30)
        if seq.film_grain_params_present && (show_frame || showable_frame) && flag(r, W)? {
            film_grain_params(r, seq, frame_type)?;
        }
        fh.slot = RefSlot {
            valid: true,
            frame_type,
            order_hint,
            upscaled_width: size.upscaled_width,
            frame_width: size.frame_width,
            frame_height: size.frame_height,
            render_width: size.render_width,
            render_height: size.render_height,
            alt_q: if segmentation { alt_q } else { [None; 8] },
        };
        fh.refresh_frame_flags = refresh;
        fh.tile_cols_log2 = tiles.cols_log2;
        fh.tile_rows_log2 = tiles.rows_log2;
        fh.num_tiles = tiles.cols * tiles.rows;
        fh.tile_size_bytes = tiles.size_bytes;
        fh.refs = refs;
        Ok(fh)
    }
}

/// `read_delta_q()` (§5.9.13): the delta, 0 when not coded.
fn read_delta_q(r: &mut Bits<'_>) -> R<i32> {
    if flag(r, "delta_q")? {
        su(r, 7, "delta_q")
    } else {
        Ok(0)
    }
}

/// `decode_subexp(numSyms)` (§5.9.28): only its length matters.
fn decode_subexp(r: &mut Bits<'_>, num_syms: u32) -> R<()> {
    const W: &str = "global motion";
    let (mut i, mut mk, k) = (0u32, 0u32, 3u32);
    loop {
        let b2 = if i > 0 { k + i - 1 } else { k };
        if b2 >= 31 {
            return Err(Av1Error::Malformed(W));
        }
        let a = 1u32 << b2;
        if num_syms <= mk + 3 * a {
            ns(r, num_syms - mk, W)?;
            return Ok(());
        }
        if flag(r, W)? {
            i += 1;
            mk += a;
        } else {
            f(r, b2 as usize, W)?;
            return Ok(());
        }
    }
}

/// `film_grain_params()` (§5.9.30) after `apply_grain` = 1.
fn film_grain_params(r: &mut Bits<'_>, seq: &SequenceHeader, frame_type: u32) -> R<()> {
    const W: &str = "film grain";
    f(r, 16, W)?; // grain_seed
    let update_grain = frame_type != INTER_FRAME || flag(r, W)?;
    if !update_grain {
        f(r, 3, W)?; // film_grain_params_ref_idx
        return Ok(());
    }
    let num_y = f(r, 4, W)?;
    for _ in 0..num_y {
        f(r, 16, W)?; // point_y_value, point_y_scaling
    }
    let from_luma = !seq.mono_chrome && flag(r, W)?;
    let (mut num_cb, mut num_cr) = (0, 0);
    if !(seq.mono_chrome || from_luma || (seq.subsampling_x && seq.subsampling_y && num_y == 0)) {
        num_cb = f(r, 4, W)?;
        for _ in 0..num_cb {
            f(r, 16, W)?;
        }
        num_cr = f(r, 4, W)?;
        for _ in 0..num_cr {
            f(r, 16, W)?;
        }
    }
    f(r, 2, W)?; // grain_scaling_minus_8
    let lag = f(r, 2, W)?;
    let luma = 2 * lag * (lag + 1);
    let chroma = if num_y > 0 { luma + 1 } else { luma };
    if num_y > 0 {
        for _ in 0..luma {
            f(r, 8, W)?;
        }
    }
    for n in [num_cb, num_cr] {
        if from_luma || n > 0 {
            for _ in 0..chroma {
                f(r, 8, W)?;
            }
        }
    }
    f(r, 4, W)?; // ar_coeff_shift_minus_6, grain_scale_shift
    for n in [num_cb, num_cr] {
        if n > 0 {
            f(r, 25, W)?; // mult, luma_mult, offset
        }
    }
    f(r, 2, W)?; // overlap_flag, clip_to_restricted_range
    Ok(())
}
