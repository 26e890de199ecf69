//! Applying edit lists (ISO/IEC 14496-12 §8.6.6) to the samples a track
//! serves, at index build time, so every protocol reads one edited track.
//!
//! An edit list that is a constant shift (one media edit that runs to the
//! end of the media, maybe after an empty edit) changes nothing here: it is
//! `presentation_offset`. Otherwise the index keeps only the samples the
//! edits present, and shifts the decode times of those after a cut back by
//! what was cut, so the track stays continuous (CMAF §7.5.13 wants one
//! continuous timeline per track; an output edit list cannot carry cuts).
//!
//! Where each boundary lands:
//! - **Start of the first edit.** Video can only start at a sync sample:
//!   when the edit starts after the GOP's first frame (ffmpeg's `-ss` with
//!   `-c copy`), it moves back to the sync sample at or before it, which is
//!   presented where the edit starts, and every other track moves with it
//!   (the start then shows up to a GOP that the edit hides, on one
//!   timeline; the alternative, composition times before 0, makes MSE drop
//!   that GOP at its append window and ffmpeg show it anyway). Other
//!   tracks start at the first sample at or after the (moved) start, as
//!   `timeline::first_presented` drops encoder priming.
//! - **End of the last edit** (when it ends at least two samples before the
//!   media does): video keeps every sample, in decode order, up to the last
//!   one presented before the end; the few reference frames after that
//!   carry presentation times past the end, where manifests stop. Other
//!   tracks keep the samples that start before the end.
//! - **Cuts** (between two media edits). Presentation times after a cut
//!   must follow those before it, so a cut in video can only fall between
//!   GOPs: the end of the earlier edit moves to the sync sample at or after
//!   it and the start of the later one to the sync sample at or before it
//!   (nothing the edits show is lost; at most a GOP on each side the edits
//!   hide is shown). The other tracks of the file cut at the same moved
//!   times (so audio stays in sync), each at its nearest sample boundary:
//!   frame-exact for audio.

use crate::model::{Sample, TrackKind};
use crate::mp4::elst::EditList;
use crate::mp4::moov::Track;
use crate::mp4::samples::TrackSamples;
use std::ops::Range;

use super::Result;

/// What a track's edit list does to its samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditPlan {
    /// Decode-order sample ranges kept, each with the decode-time shift
    /// subtracted from its samples. Empty: every sample, unshifted.
    pub keep: Vec<(Range<u32>, u64)>,
    /// The track's presentation offset after the leading samples are
    /// dropped.
    pub presentation_offset: i64,
    /// Presentation time (track timescale) where the last edit ends, when
    /// it ends before the media.
    pub presented_end: Option<i64>,
}

impl EditPlan {
    /// Every sample, shifted by the edit list: refused when the edit
    /// starts past the media's end (per `mdhd`), which would present none.
    fn identity(t: &Track) -> Result<EditPlan> {
        let start = t.edits.media.first().map_or(0, |e| e.start);
        if t.media_duration > 0 && start >= i64::try_from(t.media_duration).unwrap_or(i64::MAX) {
            return Err(presents_none(t));
        }
        Ok(EditPlan {
            keep: Vec::new(),
            presentation_offset: t.presentation_offset,
            presented_end: None,
        })
    }
}

/// Edits that start past the media: nothing would be served.
fn presents_none(t: &Track) -> super::IndexError {
    crate::mp4::Mp4Error::invalid(
        format!("{}/edts/elst", t.path),
        0,
        "edit list presents none of the track's samples",
    )
    .into()
}

/// Where a cut lands in the ref track, relative to where the edit list
/// put it, in the ref track's timescale: how much later the earlier edit
/// ends and how much earlier the later edit starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Snap {
    end_later: i64,
    start_earlier: i64,
}

/// Where the reference track's boundaries landed: how much earlier its
/// first edit starts (snapped to a keyframe), and its cuts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Landed {
    lead_earlier: i64,
    cuts: Vec<Snap>,
}

/// The plans of every track of a movie (same order as `tracks`).
pub fn plan_movie(tracks: &[Track]) -> Result<Vec<EditPlan>> {
    // The first video track whose edit list is more than a shift decides
    // where the boundaries of the others fall (see the module doc).
    let mut reference = None;
    for (i, t) in tracks.iter().enumerate() {
        if t.kind == TrackKind::Video && needs_plan(t)? {
            reference = Some(i);
            break;
        }
    }
    let mut plans: Vec<Option<EditPlan>> = vec![None; tracks.len()];
    let mut landed = None;
    if let Some(r) = reference {
        let (plan, l) = plan_track(&tracks[r], None, 1)?;
        plans[r] = Some(plan);
        landed = Some((l, tracks[r].timescale, tracks[r].edits.media.len()));
    }
    let mut out = Vec::with_capacity(tracks.len());
    for (t, p) in tracks.iter().zip(plans) {
        let plan = match (p, &landed) {
            (Some(p), _) => p,
            // Every track follows a moved start (or A/V would drift by
            // it); the cuts of a track with the same presentation (as
            // many media edits) follow the reference's.
            (None, Some((l, ts, n))) => {
                let follow = Landed {
                    lead_earlier: l.lead_earlier,
                    cuts: if *n == t.edits.media.len() {
                        l.cuts.clone()
                    } else {
                        Vec::new()
                    },
                };
                if follow == Landed::default() && !needs_plan(t)? {
                    EditPlan::identity(t)?
                } else {
                    plan_track(t, Some(&follow), *ts)?.0
                }
            }
            (None, None) if needs_plan(t)? => plan_track(t, None, 1)?.0,
            (None, None) => EditPlan::identity(t)?,
        };
        out.push(plan);
    }
    Ok(out)
}

/// Whether the edit list of `t` is more than a constant shift: cuts, an
/// end before the media's, or (video) a start after the first frame's
/// composition time, which moves back to the keyframe before it.
fn needs_plan(t: &Track) -> Result<bool> {
    if t.edits.has_cuts() || trimmed_end(t).is_some() {
        return Ok(true);
    }
    let Some(first) = t.edits.media.first() else {
        return Ok(false);
    };
    if t.kind != TrackKind::Video {
        return Ok(false);
    }
    let Some(s) = TrackSamples::new(t).next().transpose()? else {
        return Ok(false);
    };
    Ok(first.start.saturating_add(i64::from(t.cts_shift)) > s.cts())
}

/// The media end of the last edit when it ends at least two samples
/// before the media does. Encoders' edits end within one: AAC padding is
/// under a frame and the movie timescale (ms) rounds it down by less than
/// another tenth of one; a media duration the `mdhd` does not give
/// (fragmented writers) is taken as "runs to the end".
fn trimmed_end(t: &Track) -> Option<i64> {
    let end = t.edits.media.last()?.end()?;
    let media = i64::try_from(t.media_duration).ok()?;
    let per_sample = media / i64::try_from(t.sample_count().max(1)).ok()?;
    let margin = per_sample.max(1).saturating_mul(2);
    (media > 0 && end.saturating_add(margin) <= media).then_some(end)
}

/// One place a track can be cut: a sample (index, decode time) and the
/// time compared with edit times (composition time of a video sync
/// sample, decode time of an audio sample).
#[derive(Clone, Copy, Debug)]
struct Cand {
    idx: u32,
    time: i64,
    dts: u64,
}

/// For each target time, the last candidate at or before it and the first
/// at or after it (`None`: past the track's end).
struct Probe {
    before: Vec<Option<Cand>>,
    after: Vec<Option<Cand>>,
    /// Largest index of a sample composed before `last_end`, plus one.
    needed_end: u32,
    count: u32,
    end_dts: u64,
    /// Latest composition end of any sample.
    end_cts: i64,
}

fn probe(t: &Track, targets: &[i64], last_end: Option<i64>) -> Result<Probe> {
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_by_key(|&i| targets[i]);
    let mut p = Probe {
        before: vec![None; targets.len()],
        after: vec![None; targets.len()],
        needed_end: 0,
        count: 0,
        end_dts: 0,
        end_cts: i64::MIN,
    };
    let video = t.kind == TrackKind::Video;
    let (mut q, mut prev) = (0usize, None::<Cand>);
    for (idx, s) in (0u32..).zip(TrackSamples::new(t)) {
        let s: Sample = s?;
        p.count = idx + 1;
        p.end_dts = s.dts.saturating_add(u64::from(s.duration));
        p.end_cts = p.end_cts.max(s.cts().saturating_add(i64::from(s.duration)));
        if let Some(e) = last_end {
            if s.cts() < e {
                p.needed_end = idx + 1;
            }
        }
        if video && !s.sync {
            continue;
        }
        let c = Cand {
            idx,
            time: if video { s.cts() } else { s.dts as i64 },
            dts: s.dts,
        };
        while let Some(&slot) = order.get(q) {
            if targets[slot] > c.time {
                break;
            }
            p.after[slot] = Some(c);
            p.before[slot] = if targets[slot] == c.time {
                Some(c)
            } else {
                prev
            };
            q += 1;
        }
        prev = Some(c);
    }
    for &slot in &order[q..] {
        p.before[slot] = prev;
    }
    Ok(p)
}

/// The plan of one track, and where its boundaries landed (for the other
/// tracks to follow). `landed` (in timescale `snap_ts`) moves this
/// track's start and cuts to where the reference track's landed.
fn plan_track(t: &Track, landed: Option<&Landed>, snap_ts: u32) -> Result<(EditPlan, Landed)> {
    let no_snaps = Landed::default();
    let landed = landed.unwrap_or(&no_snaps);
    let snaps = &landed.cuts;
    let edits: &EditList = &t.edits;
    let video = t.kind == TrackKind::Video;
    // Edit times are composition times before a fragmented track's
    // offsets were made non-negative (`Movie::drop_empty_tracks`).
    let shift = i64::from(t.cts_shift);
    let conv = |v: i64| crate::timeline::rescale(v, snap_ts, u64::from(t.timescale));
    let first = edits
        .media
        .first()
        .map_or(0, |e| e.start)
        .saturating_add(shift);
    let mut targets = vec![first.saturating_sub(conv(landed.lead_earlier))];
    for (k, pair) in edits.media.windows(2).enumerate() {
        let s = snaps.get(k).copied().unwrap_or_default();
        let end = pair[0].end().unwrap_or(i64::MAX).saturating_add(shift);
        targets.push(end.saturating_add(conv(s.end_later)));
        targets.push(
            pair[1]
                .start
                .saturating_add(shift)
                .saturating_sub(conv(s.start_earlier)),
        );
    }
    let last_end = trimmed_end(t).map(|e| e.saturating_add(shift));
    if let Some(e) = last_end {
        targets.push(e);
    }
    let p = probe(t, &targets, last_end)?;
    let end_of_track = Cand {
        idx: p.count,
        time: i64::MAX,
        dts: p.end_dts,
    };
    let start_of_track = Cand {
        idx: 0,
        time: i64::MIN,
        dts: 0,
    };
    let after = |i: usize| p.after[i].unwrap_or(end_of_track);
    let before = |i: usize| p.before[i].unwrap_or(start_of_track);
    let nearest = |i: usize| {
        let (b, a) = (before(i), after(i));
        if targets[i].saturating_sub(b.time) < a.time.saturating_sub(targets[i]) {
            b
        } else {
            a
        }
    };
    // Video starts at the sync sample at or before the edit start, which
    // is then presented at the edit's start (what the edit hid of that
    // GOP is shown: the start moves back to the keyframe, like a cut's);
    // audio at the first sample at or after the (moved) start.
    let lead = if video { before(0) } else { after(0) };
    let start_time = match p.before[0] {
        Some(k) if video => k.time,
        _ => targets[0],
    };
    let lead_earlier = first.saturating_sub(start_time).max(0);
    let mut keep = Vec::new();
    let mut range_start = lead;
    let mut shift_dts = lead.dts;
    let mut landed_cuts = Vec::new();
    for k in 0..edits.media.len().saturating_sub(1) {
        let (ei, si) = (1 + 2 * k, 2 + 2 * k);
        let (a, b) = if video {
            (after(ei), before(si))
        } else {
            (nearest(ei), nearest(si))
        };
        landed_cuts.push(Snap {
            end_later: a.time.saturating_sub(targets[ei]).clamp(0, i64::MAX / 4),
            start_earlier: targets[si].saturating_sub(b.time).clamp(0, i64::MAX / 4),
        });
        if b.idx <= a.idx || a.idx < range_start.idx {
            // Both ends moved into one GOP (or past each other): no cut.
            continue;
        }
        keep.push((range_start.idx..a.idx, shift_dts));
        shift_dts = shift_dts.saturating_add(b.dts.saturating_sub(a.dts));
        range_start = b;
    }
    let end_idx = match last_end {
        Some(_) if video => p.needed_end,
        // Audio: the samples that start before the end.
        Some(_) => after(targets.len() - 1).idx,
        None => p.count,
    }
    .max(range_start.idx);
    keep.push((range_start.idx..end_idx, shift_dts));
    if p.count > 0 && (first >= p.end_cts || keep.iter().all(|(r, _)| r.is_empty())) {
        return Err(presents_none(t));
    }
    let presentation_offset = t
        .presentation_offset
        .saturating_sub(lead_earlier)
        .saturating_sub(lead.dts as i64);
    let presented_end = last_end.map(|e| {
        e.saturating_sub(shift_dts as i64)
            .saturating_sub(presentation_offset)
    });
    let plan = EditPlan {
        keep,
        presentation_offset,
        presented_end,
    };
    let landed = Landed {
        lead_earlier,
        cuts: landed_cuts,
    };
    Ok((plan, landed))
}

/// A track's samples as the plan keeps them: dropped samples skipped, the
/// others with their decode times shifted.
pub struct EditedSamples<'a> {
    inner: TrackSamples<'a>,
    keep: &'a [(Range<u32>, u64)],
    idx: u32,
    range: usize,
}

impl<'a> EditedSamples<'a> {
    pub fn new(t: &'a Track, plan: &'a EditPlan) -> Self {
        EditedSamples {
            inner: TrackSamples::new(t),
            keep: &plan.keep,
            idx: 0,
            range: 0,
        }
    }
}

impl Iterator for EditedSamples<'_> {
    type Item = std::result::Result<Sample, crate::mp4::Mp4Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let s = self.inner.next()?;
            let idx = self.idx;
            self.idx = self.idx.saturating_add(1);
            if self.keep.is_empty() {
                return Some(s);
            }
            let mut s = match s {
                Ok(s) => s,
                Err(e) => return Some(Err(e)),
            };
            while self.keep.get(self.range).is_some_and(|(r, _)| idx >= r.end) {
                self.range += 1;
            }
            let (r, shift) = self.keep.get(self.range)?;
            if idx < r.start {
                continue;
            }
            s.dts = s.dts.saturating_sub(*shift);
            return Some(Ok(s));
        }
    }
}

#[cfg(test)]
mod tests;
