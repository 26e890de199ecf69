//! Short-term reference picture sets (H.265 §7.3.7, §7.4.8): an SPS
//! lists them and a slice header may code its own, predicted from the
//! SPS's (inter-RPS prediction, eq. 7-61 to 7-64); their sizes decide
//! the header's later fields (`NumPicTotalCurr`).

use super::Bits;
use super::{MAX_DELTA_POC, MAX_RPS_PICS};

/// A short-term reference picture set (§7.4.8): POC deltas and whether
/// each is used by the current picture, negative then positive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Rps {
    pub(super) negative: Vec<(i32, bool)>,
    pub(super) positive: Vec<(i32, bool)>,
}

impl Rps {
    /// `NumDeltaPocs`.
    fn len(&self) -> usize {
        self.negative.len() + self.positive.len()
    }

    /// Pictures of the set used by the current picture (part of
    /// `NumPicTotalCurr`, eq. 7-55).
    pub(super) fn used(&self) -> u32 {
        self.negative
            .iter()
            .chain(&self.positive)
            .filter(|p| p.1)
            .count() as u32
    }
}

/// `st_ref_pic_set(idx)` (§7.3.7) with `sets` the SPS's sets before it
/// (`idx` = `sets.len()`; in a slice header `idx` is
/// `num_short_term_ref_pic_sets` and `delta_idx_minus1` is read), and its
/// derivation (eq. 7-61 to 7-64).
pub(super) fn st_ref_pic_set(r: &mut Bits<'_>, sets: &[Rps], in_slice: bool) -> Option<Rps> {
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
