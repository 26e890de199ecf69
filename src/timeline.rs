//! One timeline for a title: segment boundaries shared by every rendition
//! and every protocol.
//!
//! Boundaries are presentation times of keyframes of the reference video
//! track (the first video track of the set), picked so each segment is as
//! close as possible to the target duration. Every track is then cut at the
//! same boundaries: video renditions at their keyframe nearest the boundary,
//! audio at the sample boundary nearest it. Segment N therefore covers the
//! same media interval in HLS, DASH and Smooth, and in every rendition.
//!
//! Keyframe alignment rule: a boundary is only placed where *every* aligned
//! video rendition has a keyframe within half a frame of it, so switching
//! renditions at a segment boundary is always clean. A rendition that
//! matches fewer than half of the reference's keyframes was encoded with an
//! unrelated GOP structure; it is reported as unaligned, left out of the
//! boundary computation and must be left out of multi-rendition manifests
//! (it can still be served on its own).

use crate::index::{IndexError, Position, TrackIndex};

pub mod sap;
use std::fmt;
use std::ops::Range;

/// Default target segment duration.
pub const DEFAULT_TARGET_MS: u32 = 6000;
/// Units of every manifest time (HNS, as Azure and Smooth use).
pub const HNS: u64 = 10_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineError {
    Index(IndexError),
    NoTracks,
    /// The requested segment does not exist for this track.
    NoSuchSegment(String),
}

impl fmt::Display for TimelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimelineError::Index(e) => e.fmt(f),
            TimelineError::NoTracks => write!(f, "no audio or video track"),
            TimelineError::NoSuchSegment(w) => write!(f, "no such segment: {w}"),
        }
    }
}

impl std::error::Error for TimelineError {}

impl From<IndexError> for TimelineError {
    fn from(e: IndexError) -> Self {
        TimelineError::Index(e)
    }
}

pub type Result<T> = std::result::Result<T, TimelineError>;

/// Segment boundaries in presentation time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// Timescale of `starts` (the reference track's).
    pub timescale: u32,
    /// Start of every segment; `starts[0] == 0`.
    pub starts: Vec<i64>,
    /// Presentation end of the reference track, in `timescale`.
    pub end: i64,
    /// For each input track, whether it follows the shared boundaries.
    pub aligned: Vec<bool>,
}

/// One segment of one track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackSegment {
    /// Index on the shared timeline.
    pub number: u32,
    pub samples: Range<u32>,
    /// Presentation time of the first sample, track timescale.
    pub start: i64,
    /// Sum of the sample durations, track timescale.
    pub duration: u64,
    /// Payload bytes.
    pub payload: u64,
}

/// Converts `t` from timescale `from` to `to`, rounding to nearest.
pub fn rescale(t: i64, from: u32, to: u64) -> i64 {
    if from == 0 {
        return 0;
    }
    let v =
        (i128::from(t) * i128::from(to) * 2 + i128::from(from)).div_euclid(2 * i128::from(from));
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Nearest sync point of `t` to presentation time `pts`, and its distance.
fn nearest_sync(t: &TrackIndex, pts: i64) -> Option<(usize, u32, u64)> {
    let n = t.sync_count();
    if n == 0 {
        return None;
    }
    let (mut lo, mut hi) = (0usize, n);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        match t.sync_point(mid) {
            Some((_, p)) if p <= pts => lo = mid,
            _ => hi = mid,
        }
    }
    let mut best: Option<(usize, u32, u64)> = None;
    for i in [lo, lo + 1] {
        if let Some((s, p)) = t.sync_point(i) {
            let d = p.abs_diff(pts);
            if best.is_none_or(|b| d < b.2) {
                best = Some((i, s, d));
            }
        }
    }
    best
}

/// A typical frame duration of a video track, in its timescale.
fn frame_duration(t: &TrackIndex) -> u64 {
    (t.info.duration / u64::from(t.info.sample_count.max(1))).max(1)
}

/// First sample that is presented. Video keeps every sample (a leading
/// B-frame delay is expressed through composition offsets); audio drops the
/// samples an edit list skips (encoder priming), so its first segment starts
/// at presentation time 0 like the video's.
pub fn first_presented(t: &TrackIndex) -> Result<u32> {
    let po = t.info.presentation_offset;
    if t.is_video() || po <= 0 {
        return Ok(0);
    }
    // Priming is a few frames; bound the walk.
    let end = t.sample_count().min(64);
    for (i, s) in (0..end).zip(t.samples(0..end)?) {
        if s?.dts as i64 >= po {
            return Ok(i);
        }
    }
    Ok(0)
}

impl Timeline {
    /// Computes the boundaries for a set of tracks (one title).
    pub fn compute(tracks: &[&TrackIndex], target_ms: u32) -> Result<Timeline> {
        let target_ms = target_ms.max(500);
        let reference = tracks
            .iter()
            .position(|t| t.is_video() && t.sync_count() > 0);
        let Some(r) = reference else {
            let t = tracks.first().ok_or(TimelineError::NoTracks)?;
            return Ok(Self::regular(t, target_ms, tracks.len()));
        };
        let rt = tracks[r];
        let ts = rt.info.timescale;
        let tol = (frame_duration(rt) / 2).max(1);
        let ref_points: Vec<i64> = rt.sync_points().map(|(_, p)| p).collect();
        // Which renditions follow the reference's GOP structure.
        let mut aligned = vec![true; tracks.len()];
        let mut candidate_ok = vec![true; ref_points.len()];
        for (i, t) in tracks.iter().enumerate() {
            if i == r || !t.is_video() {
                continue;
            }
            let hits: Vec<bool> = ref_points
                .iter()
                .map(|&p| {
                    let pt = rescale(p, ts, u64::from(t.info.timescale));
                    let tol_t = rescale(tol as i64, ts, u64::from(t.info.timescale)).max(1) as u64;
                    nearest_sync(t, pt).is_some_and(|(_, _, d)| d <= tol_t)
                })
                .collect();
            let matched = hits.iter().filter(|&&h| h).count();
            if t.sync_count() == 0 || matched * 2 < ref_points.len() {
                aligned[i] = false;
                continue;
            }
            for (ok, hit) in candidate_ok.iter_mut().zip(hits) {
                *ok &= hit;
            }
        }
        let target = rescale(i64::from(target_ms), 1000, u64::from(ts));
        let mut starts = vec![0i64];
        // Latest usable keyframe not past the current goal.
        let mut best: Option<i64> = None;
        for (&p, ok) in ref_points.iter().zip(candidate_ok) {
            if !ok {
                continue;
            }
            loop {
                let prev = starts.last().copied().unwrap_or(0);
                let goal = prev + target;
                if p <= prev + tol as i64 {
                    break;
                }
                if p <= goal {
                    best = Some(p);
                    break;
                }
                // `p` overshoots the goal: cut at whichever of `best` and
                // `p` is nearer to it; after cutting at `best`, `p` is
                // weighed again against the next goal.
                match best.take() {
                    Some(b) if goal - b <= p - goal => starts.push(b),
                    _ => {
                        starts.push(p);
                        break;
                    }
                }
            }
        }
        // The last keyframe becomes a boundary only when the final segment
        // would otherwise exceed 1.5 targets.
        let end = presentation_end(rt);
        if let Some(b) = best {
            let prev = starts.last().copied().unwrap_or(0);
            if end - prev > target + target / 2 {
                starts.push(b);
            }
        }
        Ok(Timeline {
            timescale: ts,
            starts,
            end,
            aligned,
        })
    }

    /// Audio-only titles: boundaries every target duration.
    fn regular(t: &TrackIndex, target_ms: u32, n: usize) -> Timeline {
        let ts = t.info.timescale;
        let end = presentation_end(t);
        // Never more segments than samples: a file declaring absurd sample
        // durations (days per frame) must not cost a million boundaries.
        let per_sample = end / i64::from(t.sample_count().max(1));
        let step = rescale(i64::from(target_ms), 1000, u64::from(ts))
            .max(per_sample)
            .max(1);
        let mut starts = vec![0];
        let mut next = step;
        // A final piece shorter than a quarter of the target joins the one
        // before it.
        while next.saturating_add(step / 4) < end && starts.len() < 1_000_000 {
            starts.push(next);
            next = next.saturating_add(step);
        }
        Timeline {
            timescale: ts,
            starts,
            end,
            aligned: vec![true; n],
        }
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Segment whose boundary is nearest to `time_hns` (100 ns units), when
    /// that boundary is within half a segment of it.
    pub fn segment_at_hns(&self, time_hns: u64) -> Option<u32> {
        let t = rescale(
            i64::try_from(time_hns).ok()?,
            HNS as u32,
            u64::from(self.timescale),
        );
        let i = self.starts.partition_point(|&s| s <= t);
        let candidates = [i.checked_sub(1), (i < self.starts.len()).then_some(i)];
        let (n, d) = candidates
            .into_iter()
            .flatten()
            .map(|n| (n, self.starts[n].abs_diff(t)))
            .min_by_key(|&(_, d)| d)?;
        let seg_len = self.starts.get(n + 1).copied().unwrap_or(self.end) - self.starts[n];
        (d <= (seg_len / 2).unsigned_abs()).then_some(n as u32)
    }

    /// Where track `t` is cut for boundary `n` (`n == len()` is the end).
    fn cut(&self, t: &TrackIndex, n: usize) -> Result<u32> {
        if n == 0 {
            return first_presented(t);
        }
        let Some(&b) = self.starts.get(n) else {
            return Ok(t.sample_count());
        };
        let bt = rescale(b, self.timescale, u64::from(t.info.timescale));
        if t.is_video() && t.sync_count() > 0 {
            let (_, sample, _) = nearest_sync(t, bt).ok_or(TimelineError::NoTracks)?;
            return Ok(sample);
        }
        Ok(t.nearest_sample_start(bt.saturating_add(t.info.presentation_offset))?)
    }

    /// Segment `n` of track `t`, or `None` when the track has no samples in
    /// it (a track shorter than the title, or a GOP spanning two boundaries
    /// in an unaligned rendition).
    pub fn track_segment(&self, t: &TrackIndex, n: u32) -> Result<Option<TrackSegment>> {
        let n = n as usize;
        if n >= self.starts.len() {
            return Ok(None);
        }
        let a = self.boundary(t, n)?;
        let b = self.boundary(t, n + 1)?;
        Ok(segment_between(t, n, a, b))
    }

    /// Sample and position where track `t` is cut for boundary `n`.
    fn boundary(&self, t: &TrackIndex, n: usize) -> Result<(u32, Position)> {
        let i = self.cut(t, n)?;
        Ok((i, t.position(i)?))
    }

    /// Every non-empty segment of track `t`; each boundary is located once,
    /// and sizes come from positions, not from walking the samples.
    pub fn track_segments(&self, t: &TrackIndex) -> Result<Vec<TrackSegment>> {
        let mut out = Vec::with_capacity(self.starts.len());
        let mut a = self.boundary(t, 0)?;
        for n in 0..self.starts.len() {
            let b = self.boundary(t, n + 1)?;
            if let Some(s) = segment_between(t, n, a, b) {
                out.push(s);
            }
            a = b;
        }
        Ok(out)
    }
}

/// Presentation end of a track, in its timescale.
fn presentation_end(t: &TrackIndex) -> i64 {
    i64::try_from(t.info.duration)
        .unwrap_or(i64::MAX)
        .saturating_sub(t.info.presentation_offset)
}

/// The segment from cut `a` to cut `b` (sample, position), if not empty.
fn segment_between(
    t: &TrackIndex,
    n: usize,
    a: (u32, Position),
    b: (u32, Position),
) -> Option<TrackSegment> {
    let ((first, p0), (end, p1)) = (a, b);
    if first >= end {
        return None;
    }
    let po = t.info.presentation_offset;
    // Video segments start on a keyframe whose presentation time the sync
    // table holds; other tracks have no composition offsets.
    let start = match t.sync_pts(first) {
        Some(pts) => pts,
        None => i64::try_from(p0.dts).unwrap_or(i64::MAX).saturating_sub(po),
    };
    Some(TrackSegment {
        number: n as u32,
        samples: first..end,
        start,
        duration: p1.dts.saturating_sub(p0.dts),
        payload: p1.bytes.saturating_sub(p0.bytes),
    })
}

#[cfg(test)]
mod tests;
