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

use crate::error::{Cap, LimitError};
use crate::index::{IndexError, Position, TrackIndex};

pub mod hns;
pub mod sap;
use std::fmt;
use std::ops::Range;

/// Default target segment duration.
pub const DEFAULT_TARGET_MS: u32 = 6000;
/// Units of every manifest time (HNS, as Azure and Smooth use).
pub const HNS: u64 = 10_000_000;

/// Most segments on one timeline. Each is a boundary every manifest
/// locates in every track (see `service::MAX_MANIFEST_SEGMENTS`, the cap
/// on a manifest's work, which this matches so a title of one track is
/// never cut into more segments than one manifest may list) and ~70 bytes
/// of an HLS media playlist; 20 000 segments are 33 h at the default 6 s
/// target, 5.5 h at the 1 s minimum. Tables declaring absurd durations
/// (days per sample) reach it instead of writing a 75 MB playlist.
/// Checked as boundaries are placed.
pub const MAX_TIMELINE_SEGMENTS: usize = 20_000;

/// Most keyframe lookups one title's alignment check may make: every
/// keyframe of the reference rendition is looked up (a binary search of
/// ~100 ns) in every other video rendition with keyframes. 250 000 are
/// ~25 ms; a 24 h title with 2 s GOPs in 6 renditions needs 216 000, a 2 h
/// one in 16 renditions 57 600. Renditions of a million keyframes each
/// (within the index caps of each file) would otherwise cost seconds.
/// Checked before any lookup.
pub const MAX_ALIGNMENT_PROBES: u64 = 250_000;

/// Most samples in one segment. A CMAF segment header spends 12–16 bytes
/// a sample in its `trun` and the muxers ~50 (CMAF) to ~200 (TS) bytes of
/// heap a sample while planning: 16 384 samples stay under 4 MB. 30 s (the
/// longest target) at 240 fps is 7 200; a title with one keyframe, whose
/// single segment holds every sample (the issue measured a 272 MB header),
/// is refused instead.
pub const MAX_SEGMENT_SAMPLES: u64 = 16_384;

/// Most payload bytes in one segment. CMAF and Smooth splice the payload
/// host-side, but MPEG-TS holds what it reads in the heap (128 MB a
/// request) while it rewrites it; 48 MiB is 6 s at 64 Mbit/s, beyond any
/// streaming rendition.
pub const MAX_SEGMENT_BYTES: u64 = 48 << 20;

/// A segment may hold at most this many target durations' worth of the
/// track's average bytes and average sample count (above
/// [`SEGMENT_BYTES_FLOOR`] and [`SEGMENT_SAMPLES_FLOOR`]). Keyframes far
/// apart make segments longer than the target, and one long GOP in a
/// title (or one keyframe for all of it) makes one segment the whole file:
/// a response the size of the title, which a player cannot use either.
pub const SEGMENT_RATE_FACTOR: u64 = 10;

/// Segments up to this size pass the bitrate check whatever their track's
/// average (a short clip with a single keyframe is one small segment).
pub const SEGMENT_BYTES_FLOOR: u64 = 4 << 20;

/// Segments of up to this many samples pass the sample-rate check
/// whatever their track's average.
pub const SEGMENT_SAMPLES_FLOOR: u64 = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineError {
    Index(IndexError),
    NoTracks,
    /// The requested segment does not exist for this track.
    NoSuchSegment(String),
    /// Over a cap on the work of one request (segments on the timeline,
    /// samples or bytes in one segment).
    Limit(LimitError),
    /// The cached set summary's part for track `track` of file `file`
    /// (indexes into the set's files and that file's tracks) is
    /// unreadable ([`crate::summary`]: parts are read when first asked for).
    Summary {
        file: usize,
        track: usize,
    },
}

impl fmt::Display for TimelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimelineError::Index(e) => e.fmt(f),
            TimelineError::NoTracks => write!(f, "no audio or video track"),
            TimelineError::NoSuchSegment(w) => write!(f, "no such segment: {w}"),
            TimelineError::Limit(e) => e.fmt(f),
            TimelineError::Summary { file, track } => write!(
                f,
                "the cached set summary of track {track} of file {file} is unreadable"
            ),
        }
    }
}

impl std::error::Error for TimelineError {}

impl From<IndexError> for TimelineError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::Limit(l) => TimelineError::Limit(l),
            e => TimelineError::Index(e),
        }
    }
}

impl From<LimitError> for TimelineError {
    fn from(e: LimitError) -> Self {
        TimelineError::Limit(e)
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
    /// The target segment duration the boundaries were placed for; the
    /// segment caps ([`SEGMENT_RATE_FACTOR`]) are relative to it.
    pub target_ms: u32,
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
    // The same expression in i64 when nothing overflows (every time of a
    // real title: a manifest rescales each segment boundary, and 128-bit
    // division is a library call, most of a long MPD's cost).
    // Whether it fits is judged by bit lengths, not `checked_mul`, which
    // in wasm is a 128-bit multiply (a library call): |t| < 2^a and
    // to < 2^b with a + b ≤ 61 keep |2·t·to| + from under 2^63.
    let from64 = i64::from(from);
    let bits = (u64::BITS - t.unsigned_abs().leading_zeros()) + (u64::BITS - to.leading_zeros());
    if bits <= 61 {
        return (t * to as i64 * 2 + from64).div_euclid(2 * from64);
    }
    // Saturating: past i128 the result clamps to i64's range all the same
    // (never an overflow, in debug or release builds).
    let v = i128::from(t)
        .saturating_mul(i128::from(to))
        .saturating_mul(2)
        .saturating_add(i128::from(from))
        .div_euclid(2 * i128::from(from));
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
            return Self::regular(t, target_ms, tracks.len());
        };
        let rt = tracks[r];
        let ts = rt.info.timescale;
        let tol = (frame_duration(rt) / 2).max(1);
        let others = tracks
            .iter()
            .enumerate()
            .filter(|&(i, t)| i != r && t.is_video() && t.sync_count() > 0)
            .count();
        LimitError::check(
            Cap::AlignmentProbes,
            (rt.sync_count() as u64).saturating_mul(others as u64),
            MAX_ALIGNMENT_PROBES,
        )?;
        let ref_points: Vec<i64> = rt.sync_points().map(|(_, p)| p).collect();
        // Which renditions follow the reference's GOP structure.
        let mut aligned = vec![true; tracks.len()];
        let mut candidate_ok = vec![true; ref_points.len()];
        for (i, t) in tracks.iter().enumerate() {
            // A rendition whose every sample is a keyframe can be cut at
            // any boundary (at its nearest sample, like audio).
            if i == r || !t.is_video() || t.all_sync() {
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
            check_count(starts.len())?;
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
        check_count(starts.len())?;
        Ok(Timeline {
            timescale: ts,
            starts,
            end,
            aligned,
            target_ms,
        })
    }

    /// Titles without keyframe-cut video (audio only, or video whose every
    /// sample is a keyframe): boundaries every target duration.
    fn regular(t: &TrackIndex, target_ms: u32, n: usize) -> Result<Timeline> {
        let ts = t.info.timescale;
        let end = presentation_end(t);
        // Never more segments than samples: a file declaring absurd sample
        // durations (days per frame) must not cost a million boundaries.
        let per_sample = end / i64::from(t.sample_count().max(1));
        let step = rescale(i64::from(target_ms), 1000, u64::from(ts))
            .max(per_sample)
            .max(1);
        // Refused before any boundary is placed when there would be too
        // many (the count is known from the step).
        let count = (end.max(0) / step).saturating_add(1);
        check_count(usize::try_from(count).unwrap_or(usize::MAX))?;
        let mut starts = vec![0];
        let mut next = step;
        // A final piece shorter than a quarter of the target joins the one
        // before it.
        while next.saturating_add(step / 4) < end {
            starts.push(next);
            next = next.saturating_add(step);
        }
        Ok(Timeline {
            timescale: ts,
            starts,
            end,
            aligned: vec![true; n],
            target_ms,
        })
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

    /// Where track `t` is cut for boundary `n` (`n == len()` is the end),
    /// with the cut's position when finding the cut gave it for free.
    fn cut(&self, t: &TrackIndex, n: usize) -> Result<(u32, Option<Position>)> {
        if n == 0 {
            return Ok((first_presented(t)?, None));
        }
        let Some(&b) = self.starts.get(n) else {
            return Ok((t.sample_count(), None));
        };
        let bt = rescale(b, self.timescale, u64::from(t.info.timescale));
        if t.is_video() && t.sync_count() > 0 {
            let (_, sample, _) = nearest_sync(t, bt).ok_or(TimelineError::NoTracks)?;
            return Ok((sample, None));
        }
        // The decode time presented at `bt`: plus the edit shift, minus
        // the composition offset (video cut at any sample, whose every
        // sample is a keyframe, keeps one constant offset in practice:
        // the first sample's).
        let cts = if t.is_video() {
            i64::from(t.sample(0)?.cts_offset)
        } else {
            0
        };
        let dts = bt
            .saturating_add(t.info.presentation_offset)
            .saturating_sub(cts);
        let (i, p) = t.nearest_sample_start_at(dts)?;
        Ok((i, Some(p)))
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
        let seg = segment_between(t, n, a, b);
        if let Some(s) = &seg {
            check_segment(t, s, self.target_ms)?;
        }
        Ok(seg)
    }

    /// Sample and position where track `t` is cut for boundary `n`.
    fn boundary(&self, t: &TrackIndex, n: usize) -> Result<(u32, Position)> {
        match self.cut(t, n)? {
            (i, Some(p)) => Ok((i, p)),
            (i, None) => Ok((i, t.position(i)?)),
        }
    }

    /// Every non-empty segment of track `t`; each boundary is located once,
    /// and sizes come from positions, not from walking the samples.
    pub fn track_segments(&self, t: &TrackIndex) -> Result<Vec<TrackSegment>> {
        let mut out = Vec::with_capacity(self.starts.len());
        let mut a = self.boundary(t, 0)?;
        for n in 0..self.starts.len() {
            let b = self.boundary(t, n + 1)?;
            if let Some(s) = segment_between(t, n, a, b) {
                check_segment(t, &s, self.target_ms)?;
                out.push(s);
            }
            a = b;
        }
        Ok(out)
    }
}

/// [`MAX_TIMELINE_SEGMENTS`].
fn check_count(n: usize) -> Result<()> {
    LimitError::check(
        Cap::TimelineSegments,
        n as u64,
        MAX_TIMELINE_SEGMENTS as u64,
    )?;
    Ok(())
}

/// The caps on one segment of `t` (cut for a `target_ms` timeline):
/// [`MAX_SEGMENT_SAMPLES`], [`MAX_SEGMENT_BYTES`], and
/// [`SEGMENT_RATE_FACTOR`] target durations of the track's average
/// sample count and bytes. Sizes come from the index (positions), so the
/// check costs nothing and precedes any muxing or reading; manifests make
/// it for every segment they list, so a title that has a segment over a
/// cap is refused as a whole rather than listed with a segment that fails.
pub fn check_segment(t: &TrackIndex, seg: &TrackSegment, target_ms: u32) -> Result<()> {
    let samples = u64::from(seg.samples.end.saturating_sub(seg.samples.start));
    LimitError::check(Cap::SegmentSamples, samples, MAX_SEGMENT_SAMPLES)?;
    LimitError::check(Cap::SegmentBytes, seg.payload, MAX_SEGMENT_BYTES)?;
    let info = &t.info;
    if info.duration == 0 {
        // No rate to compare with (every sample of zero duration): the
        // absolute caps above are what bounds the segment.
        return Ok(());
    }
    // The track's average per `SEGMENT_RATE_FACTOR` target durations.
    let window =
        u128::from(SEGMENT_RATE_FACTOR) * u128::from(target_ms) * u128::from(info.timescale);
    let per = |total: u64| {
        let v = u128::from(total) * window / (u128::from(info.duration) * 1000);
        u64::try_from(v).unwrap_or(u64::MAX)
    };
    let max_samples = per(u64::from(info.sample_count)).max(SEGMENT_SAMPLES_FLOOR);
    LimitError::check(Cap::SegmentSamplesForRate, samples, max_samples)?;
    let max_bytes = per(t.total_bytes).max(SEGMENT_BYTES_FLOOR);
    LimitError::check(Cap::SegmentBytesForRate, seg.payload, max_bytes)?;
    Ok(())
}

/// Presentation end of a track, in its timescale: where its edit list
/// ends it, else where its last sample ends.
pub fn presentation_end(t: &TrackIndex) -> i64 {
    if let Some(end) = t.info.presented_end {
        return end;
    }
    i64::try_from(t.info.duration)
        .unwrap_or(i64::MAX)
        .saturating_sub(t.info.presentation_offset)
}

/// The segment from cut `a` to cut `b` (sample, position), if not empty.
/// The samples of `t` from `first` on as segment `n`: a segment rebuilt
/// from the real samples of a fragment-level track's fragments
/// ([`crate::service::moofs`]), with the start and duration rules of any
/// other segment.
pub fn tail_segment(t: &TrackIndex, n: u32, first: u32) -> Result<Option<TrackSegment>> {
    span_segment(t, n, first, t.sample_count())
}

/// Segment `n` of `t` over its samples `first..end` (decode order): a
/// segment that starts or ends at a SAP inside a fragment
/// ([`crate::service::moofs`]).
pub fn span_segment(t: &TrackIndex, n: u32, first: u32, end: u32) -> Result<Option<TrackSegment>> {
    let end = end.min(t.sample_count());
    if first >= end {
        return Ok(None);
    }
    let Some(last) = end.checked_sub(1) else {
        return Ok(None);
    };
    // Not `position(end)`: that is the track's duration, and this track
    // starts where its fragments do, not at 0.
    let (p, s) = (t.position(last)?, t.sample(last)?);
    let b = crate::index::Position {
        dts: p.dts.saturating_add(u64::from(s.duration)),
        bytes: p.bytes.saturating_add(u64::from(s.size)),
    };
    Ok(segment_between(
        t,
        n as usize,
        (first, t.position(first)?),
        (end, b),
    ))
}

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
    let mut duration = p1.dts.saturating_sub(p0.dts);
    // A track whose edit list ends before its media: the samples that
    // finish decoding (or the audio frame that straddles the end) run past
    // it, but the segment ends where the edit does.
    if let (Some(e), true) = (t.info.presented_end, end == t.sample_count()) {
        let left = e.saturating_sub(start).max(1);
        duration = duration.min(left.unsigned_abs());
    }
    Some(TrackSegment {
        number: n as u32,
        samples: first..end,
        start,
        duration,
        payload: p1.bytes.saturating_sub(p0.bytes),
    })
}

#[cfg(test)]
mod tests;
