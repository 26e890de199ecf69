//! A time range rounded out to whole segments of the shared timeline.
//!
//! Azure rounded a filter's `startTimestamp`/`endTimestamp` to the GOPs
//! around them; our segments start at keyframes, so the same rounding is:
//! first segment = the one containing the start, last = the last one that
//! starts before the end (a segment that merely starts *at* the end adds
//! nothing of the range). Numbers and times stay those of the unclipped
//! timeline.

use super::{FilterError, TimeRange};
use crate::timeline::{rescale, Timeline, HNS};

/// The segments `first..=last` of the shared timeline and the presentation
/// window they cover, in HNS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clip {
    pub first: u32,
    pub last: u32,
    pub start_hns: u64,
    pub end_hns: u64,
}

impl Clip {
    pub fn of(timeline: &Timeline, range: TimeRange) -> Result<Clip, FilterError> {
        let empty = || FilterError::Empty("the filters' time range leaves no segment".into());
        let n = timeline.starts.len();
        if n == 0 {
            return Err(empty());
        }
        // Start rounded down, end up: a range never loses the instant it
        // names to the timescale conversion.
        let to_ts = |hns: u64, up: bool| {
            let scaled = u128::from(hns) * u128::from(timeline.timescale);
            let t = scaled / u128::from(HNS) + u128::from(up && scaled % u128::from(HNS) != 0);
            i64::try_from(t).unwrap_or(i64::MAX)
        };
        let first = match range.start {
            Some(s) => {
                let t = to_ts(s, false);
                if t >= timeline.end {
                    return Err(empty());
                }
                timeline
                    .starts
                    .partition_point(|&b| b <= t)
                    .saturating_sub(1)
            }
            None => 0,
        };
        let last = match range.end {
            Some(e) => {
                let t = to_ts(e, true);
                let p = timeline.starts.partition_point(|&b| b < t);
                if p == 0 {
                    return Err(empty());
                }
                p - 1
            }
            None => n - 1,
        };
        if first > last {
            return Err(empty());
        }
        let hns = |t: i64| rescale(t, timeline.timescale, HNS).max(0) as u64;
        let end = timeline
            .starts
            .get(last + 1)
            .copied()
            .unwrap_or(timeline.end);
        Ok(Clip {
            first: first as u32,
            last: last as u32,
            start_hns: hns(timeline.starts[first]),
            end_hns: hns(end),
        })
    }

    pub fn contains(&self, number: u32) -> bool {
        (self.first..=self.last).contains(&number)
    }

    /// Whether a segment starting at `start_hns` (on a rendition's own
    /// timeline) falls in the window.
    pub fn covers(&self, start_hns: u64) -> bool {
        (self.start_hns..self.end_hns).contains(&start_hns)
    }

    pub fn duration_secs(&self) -> f64 {
        self.end_hns.saturating_sub(self.start_hns) as f64 / HNS as f64
    }
}
