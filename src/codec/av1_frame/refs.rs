//! The reference slots (AV1 bitstream §7.20, reference frame update
//! process) and what a frame header reads of them: frame sizes
//! (§5.9.7), order hints (§7.12.3, §5.9.22) and segmentation data.

use super::frame_header::FrameHeader;
use super::sequence_header::SequenceHeader;
use super::{Av1Error, Av1Parser, ALL_FRAMES, KEY_FRAME, NUM_REF_FRAMES, R, REFS_PER_FRAME};

/// What later frame headers read of a reference slot (§7.20).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct RefSlot {
    pub(super) valid: bool,
    pub(super) frame_type: u32,
    pub(super) order_hint: u32,
    pub(super) upscaled_width: u32,
    pub(super) frame_width: u32,
    pub(super) frame_height: u32,
    pub(super) render_width: u32,
    pub(super) render_height: u32,
    /// The segmentation `SEG_LVL_ALT_Q` data per segment (`None`: the
    /// feature off), which a frame loading its segmentation from this
    /// slot needs to know whether it is lossless (§5.9.12).
    pub(super) alt_q: [Option<i32>; 8],
}

impl Av1Parser {
    /// The reference frame update process (§7.20).
    pub(super) fn update_refs(&mut self, refresh: u32, slot: RefSlot) {
        for (i, r) in self.refs.iter_mut().enumerate() {
            if refresh >> i & 1 == 1 {
                *r = RefSlot {
                    valid: true,
                    ..slot
                };
            }
        }
    }

    /// `show_existing_frame`: a key frame shown again refreshes every
    /// slot with it (§7.21).
    pub(super) fn show_existing(&mut self, fh: &FrameHeader) {
        let slot = self.refs[fh.frame_to_show];
        if slot.frame_type == KEY_FRAME {
            self.update_refs(ALL_FRAMES, slot);
        }
        self.frame = None;
    }

    pub(super) fn slot(&self, i: usize) -> R<RefSlot> {
        let s = self.refs[i];
        if s.valid {
            Ok(s)
        } else {
            Err(Av1Error::Unsupported(
                "a reference to a frame before the segment",
            ))
        }
    }
}

pub(super) fn slot_of(refs: &[RefSlot; NUM_REF_FRAMES], idx: usize) -> R<RefSlot> {
    let s = refs[idx];
    if s.valid {
        Ok(s)
    } else {
        Err(Av1Error::Unsupported(
            "a reference to a frame before the segment",
        ))
    }
}

/// `get_relative_dist()` (§7.12.3 of the order hints).
fn relative_dist(seq: &SequenceHeader, a: u32, b: u32) -> i64 {
    if !seq.enable_order_hint {
        return 0;
    }
    let diff = i64::from(a) - i64::from(b);
    let m = 1i64 << (seq.order_hint_bits - 1);
    (diff & (m - 1)) - (diff & m)
}

/// `skipModeAllowed` of `skip_mode_params()` (§5.9.22) from the order
/// hints of the frame's seven references.
pub(super) fn skip_mode_allowed(
    seq: &SequenceHeader,
    order_hint: u32,
    hints: &[u32; REFS_PER_FRAME],
) -> bool {
    let (mut forward, mut backward): (Option<u32>, Option<u32>) = (None, None);
    for &h in hints {
        let d = relative_dist(seq, h, order_hint);
        if d < 0 {
            if forward.is_none_or(|fw| relative_dist(seq, h, fw) > 0) {
                forward = Some(h);
            }
        } else if d > 0 && backward.is_none_or(|bw| relative_dist(seq, h, bw) < 0) {
            backward = Some(h);
        }
    }
    let Some(fw) = forward else {
        return false;
    };
    if backward.is_some() {
        return true;
    }
    hints.iter().any(|&h| relative_dist(seq, h, fw) < 0)
}
