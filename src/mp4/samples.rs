//! A track's samples in decode order: those of the moov's sample tables,
//! then those of its movie fragments' runs (ISO/IEC 14496-12 §8.8: a
//! fragment extends the track the moov started).

use super::error::{Mp4Error, Result};
use super::moov::Track;
use super::stbl::SampleIter;
use crate::model::Sample;

/// Joins the moov tables and the fragment runs; fails (once) like
/// [`SampleIter`].
pub struct TrackSamples<'a> {
    t: &'a Track,
    tables: SampleIter<'a>,
    in_tables: bool,
    /// Decode time of the next sample.
    dts: u64,
    run: usize,
    in_run: u32,
    offset: u64,
    failed: bool,
}

impl<'a> TrackSamples<'a> {
    pub fn new(t: &'a Track) -> Self {
        TrackSamples {
            t,
            tables: t.tables.samples(&t.path),
            in_tables: true,
            dts: 0,
            run: 0,
            in_run: 0,
            offset: 0,
            failed: false,
        }
    }

    fn next_fragment_sample(&mut self) -> Option<Result<Sample>> {
        let run = loop {
            let run = self.t.fragments.get(self.run)?;
            if self.in_run < run.count {
                break run;
            }
            self.run += 1;
            self.in_run = 0;
        };
        if self.in_run == 0 {
            self.offset = run.data_offset;
            // `tfdt` (§8.8.12) gives the fragment's decode time. The index
            // keeps durations, not times, so a fragment must start where
            // the previous one ended: the first fragment of a track with
            // no moov samples starts the timeline at its tfdt, later ones
            // are checked against the sum of the durations.
            if let Some(start) = run.start_dts {
                let first = self.run == 0 && self.t.tables.sample_count == 0;
                if first {
                    self.dts = start;
                } else if start != self.dts && !tolerable(start, self.dts) {
                    self.failed = true;
                    return Some(Err(Mp4Error::unsupported(
                        format!("{}/tfdt", self.t.path),
                        0,
                        format!(
                            "fragment starts at decode time {start}, the previous one ended at {}: gaps in fragmented tracks are not supported",
                            self.dts
                        ),
                    )));
                }
            }
        }
        let mut s = run.sample(self.in_run, self.dts, self.offset);
        s.cts_offset = s.cts_offset.saturating_add(self.t.cts_shift);
        self.in_run += 1;
        self.offset = self.offset.saturating_add(u64::from(s.size));
        self.dts = self.dts.saturating_add(u64::from(s.duration));
        Some(Ok(s))
    }
}

/// Muxers that round each fragment's time independently (ffmpeg's ISMV
/// writer from 100 ns `tfxd` times) leave tfdt a tick or two off the sum of
/// the durations; the durations are what the index serves.
fn tolerable(a: u64, b: u64) -> bool {
    a.abs_diff(b) <= 2
}

impl Iterator for TrackSamples<'_> {
    type Item = Result<Sample>;

    #[inline(always)]
    fn next(&mut self) -> Option<Result<Sample>> {
        if self.failed {
            return None;
        }
        if self.in_tables {
            match self.tables.next() {
                Some(Ok(mut s)) => {
                    self.dts = s.dts.saturating_add(u64::from(s.duration));
                    s.cts_offset = s.cts_offset.saturating_add(self.t.cts_shift);
                    return Some(Ok(s));
                }
                Some(Err(e)) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                None => self.in_tables = false,
            }
        }
        self.next_fragment_sample()
    }
}
