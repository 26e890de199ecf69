//! A track's segments as a DASH `SegmentTimeline` in HNS: runs of
//! `S@t`, `S@d`, `S@r` (ISO/IEC 23009-1 §5.3.9.6), the 10 MHz timescale
//! Azure used.
//!
//! Why here and not in the MPD writer: the runs are computed once, when a
//! set summary is encoded (`summary`), and a warm MPD reads them back
//! instead of decoding every segment of every track and rescaling each
//! boundary: for a 2 h title that is ~2 400 segments and ~4 800 divisions
//! for ~900 `S` elements. Sets without a summary, and clipped views, have
//! them computed here from their segments, by the same rules.

use super::{rescale, TrackSegment, HNS};

/// One `S` element: `t` only where a segment does not follow on from the
/// previous one, `r` the repeats after the first (§5.3.9.6: `@r` is
/// zero-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HnsRun {
    pub t: Option<u64>,
    pub d: u64,
    pub r: u32,
}

/// The runs of `segs`, a track's segments in its `timescale`.
pub fn runs_of(segs: &[TrackSegment], timescale: u32) -> Vec<HnsRun> {
    runs(&times(segs, timescale))
}

/// Segment (start, duration) in HNS, chained so each `t + d` is the next
/// `t`: the next start is authoritative, so rounding never opens a gap or
/// an overlap between announced segments (a player would see a hole of
/// one HNS unit and stall or skip). Durations are at least 1: a zero
/// `S@d` is not a segment.
pub fn times(segs: &[TrackSegment], timescale: u32) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity(segs.len());
    // A segment usually starts where the previous one ended: its start is
    // that end, already rescaled (one division a segment, not two).
    let mut prev_end: Option<(i64, i64)> = None;
    for s in segs {
        let start = match prev_end {
            Some((ticks, hns)) if ticks == s.start => hns,
            _ => rescale(s.start, timescale, HNS),
        };
        let end_ticks = s
            .start
            .saturating_add(i64::try_from(s.duration).unwrap_or(i64::MAX));
        let end = rescale(end_ticks, timescale, HNS);
        prev_end = Some((end_ticks, end));
        let (start, end) = (start.max(0) as u64, end.max(0) as u64);
        out.push((start, end.saturating_sub(start).max(1)));
    }
    for i in 1..out.len() {
        let next = out[i].0;
        let prev = &mut out[i - 1];
        if next > prev.0 && next.abs_diff(prev.0.saturating_add(prev.1)) < HNS / 10 {
            prev.1 = next - prev.0;
        }
    }
    out
}

/// Run-length encodes (start, duration) pairs: contiguous segments of one
/// duration are one run.
pub fn runs(times: &[(u64, u64)]) -> Vec<HnsRun> {
    let mut out: Vec<HnsRun> = Vec::new();
    let mut expected = None;
    for &(t, d) in times {
        let contiguous = expected == Some(t);
        match out.last_mut() {
            Some(last) if contiguous && last.d == d && last.r < u32::MAX => last.r += 1,
            _ => out.push(HnsRun {
                t: (!contiguous).then_some(t),
                d,
                r: 0,
            }),
        }
        expected = Some(t.saturating_add(d));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: Option<u64>, d: u64, r: u32) -> HnsRun {
        HnsRun { t, d, r }
    }

    #[test]
    fn contiguous_equal_durations_are_one_run() {
        let t = runs(&[(0, 10), (10, 10), (20, 10), (30, 5), (40, 5)]);
        assert_eq!(
            t,
            vec![run(Some(0), 10, 2), run(None, 5, 0), run(Some(40), 5, 0)]
        );
    }

    fn seg(number: u32, start: i64, duration: u64) -> TrackSegment {
        TrackSegment {
            number,
            samples: 0..1,
            start,
            duration,
            payload: 1,
        }
    }

    /// AAC at 44.1 kHz: segment ends fall between HNS units; chaining
    /// keeps the announced timeline gapless.
    #[test]
    fn rounded_boundaries_chain() {
        let segs = [seg(0, 0, 264_192), seg(1, 264_192, 265_216)];
        let t = times(&segs, 44_100);
        assert_eq!(t[0].0 + t[0].1, t[1].0);
        assert_eq!(t[0], (0, 59_907_483));
    }

    #[test]
    fn durations_are_at_least_one() {
        let t = times(&[seg(0, 5, 0)], 1000);
        assert_eq!(t, vec![(50_000, 1)]);
    }
}
