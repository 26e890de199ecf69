//! Read planning: which origin reads serve a segment's source runs.
//!
//! A segment of a single-track file is one contiguous run: one read. In an
//! interleaved file a track's samples are split by the other tracks'
//! chunks; reading each run separately costs requests, reading one big
//! range costs bytes. At the edge a request is the expensive part (a round
//! trip to a bucket is tens of ms) and bytes are cheap, so runs are merged
//! across every gap that costs less to read than a request does
//! ([`ReadCost`]), within hard over-read caps, and further if needed to
//! respect the request budget ([`ReadLimits::max_reads`]).

use crate::mux::cmaf::ByteRun;
use bytes::Bytes;
use std::fmt;

/// The price of origin reads, from two settings (`origin_rtt_ms`,
/// `origin_bandwidth`): a request costs one round trip, a byte costs
/// `1 / bandwidth`. Reading a gap of `g` bytes instead of making another
/// request pays off when `g / bandwidth ≤ rtt`, i.e. when the gap is at
/// most [`ReadCost::merge_gap`] bytes.
///
/// Why (issue 11, measured against nginx-vod-module on the same origin): a
/// segment of a finely interleaved 2 h file took 30 origin reads under the
/// old fixed 20 % over-read rule and was 16–18× slower in wall time than
/// nginx-vod's single 65 KB read, because every read waits a round trip
/// while its few KB transfer in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadCost {
    /// Round trip of one origin request (first byte), milliseconds.
    pub rtt_ms: u32,
    /// Origin throughput of one read, bytes per second.
    pub bandwidth: u64,
}

/// Default round trip: 40 ms, a typical first-byte latency of an object
/// store (S3, Azure Blob) seen from a CDN POP in another metro (same-region
/// is 10–20 ms, cross-continent 80–150 ms); the "tens of ms".
pub const DEFAULT_RTT_MS: u32 = 40;
/// Default throughput of one read: 50 MB/s, what a single object-store GET
/// sustains to an edge POP (S3 documents ~85–90 MB/s per connection within
/// a region; an edge across a WAN gets less).
pub const DEFAULT_BANDWIDTH: u64 = 50_000_000;
/// Largest gap one merge may read, whatever the settings say: a slow
/// round trip and a fast link must not make one read cross megabytes of
/// other tracks (per-read over-read cap).
pub const MAX_MERGE_GAP: u64 = 8 << 20;
/// Largest total of gap bytes the cost rule may add to one segment's
/// reads (per-segment over-read cap). Streamed segments drop gap bytes as
/// they pass ([`crate::deliver::copy_runs`]), but TS, encrypted and
/// out-of-order segments hold their reads in memory, within
/// [`crate::service::ts::MAX_TS_READ_BYTES`] of span.
pub const MAX_SEGMENT_OVERREAD: u64 = 16 << 20;

impl Default for ReadCost {
    fn default() -> Self {
        ReadCost {
            rtt_ms: DEFAULT_RTT_MS,
            bandwidth: DEFAULT_BANDWIDTH,
        }
    }
}

impl ReadCost {
    /// Widest gap worth reading rather than making another request:
    /// `rtt × bandwidth` (2 MB with the defaults), at most
    /// [`MAX_MERGE_GAP`].
    pub fn merge_gap(&self) -> u64 {
        (u64::from(self.rtt_ms).saturating_mul(self.bandwidth) / 1000).min(MAX_MERGE_GAP)
    }

    /// Estimated time of `reads` reads moving `bytes` bytes, in µs (one
    /// round trip each, as if made one after another: the worst case, and
    /// what a budget of backend requests turns into under load).
    pub fn cost_us(&self, reads: usize, bytes: u64) -> u64 {
        let rtt = (reads as u64).saturating_mul(u64::from(self.rtt_ms) * 1000);
        let transfer = bytes.saturating_mul(1_000_000) / self.bandwidth.max(1);
        rtt.saturating_add(transfer)
    }
}

/// What a segment's reads are planned within: their price and the number
/// of origin requests left for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// Reads the segment may use (the platform's per-request budget minus
    /// the index reads already made); a hard cap that forces merges.
    pub max_reads: usize,
    pub cost: ReadCost,
}

impl ReadLimits {
    /// At most `max_reads` reads at the default price.
    pub fn reads(max_reads: usize) -> ReadLimits {
        ReadLimits {
            max_reads,
            cost: ReadCost::default(),
        }
    }
}

/// Reads covering `runs` (in any order): neighbours merge across every gap
/// of at most [`ReadCost::merge_gap`] bytes, smallest first, while the gap
/// bytes stay within [`MAX_SEGMENT_OVERREAD`]; then across the smallest
/// remaining gaps until at most `limits.max_reads` reads are left.
pub fn plan_reads(runs: &[ByteRun], limits: ReadLimits) -> Vec<ByteRun> {
    let mut sorted: Vec<ByteRun> = runs.iter().copied().filter(|r| r.len > 0).collect();
    sorted.sort_by_key(|r| r.offset);
    // Merge overlapping and touching runs.
    let mut reads: Vec<ByteRun> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match reads.last_mut() {
            Some(last) if r.offset <= last.end() => {
                last.len = last.len.max(r.end() - last.offset);
            }
            _ => reads.push(r),
        }
    }
    let merge_gap = limits.cost.merge_gap();
    // Gaps between neighbours, smallest first.
    let mut gaps: Vec<(u64, usize)> = reads
        .windows(2)
        .enumerate()
        .map(|(i, w)| (w[1].offset - w[0].end(), i))
        .collect();
    gaps.sort();
    let mut merged = vec![false; reads.len()];
    let mut spent = 0u64;
    let mut count = reads.len();
    for (gap, i) in gaps {
        let needed = count > limits.max_reads.max(1);
        let worth = gap <= merge_gap && spent.saturating_add(gap) <= MAX_SEGMENT_OVERREAD;
        if !needed && !worth {
            break;
        }
        spent = spent.saturating_add(gap);
        merged[i] = true;
        count -= 1;
    }
    let mut out: Vec<ByteRun> = Vec::with_capacity(count);
    for (i, r) in reads.into_iter().enumerate() {
        if i > 0 && merged[i - 1] {
            if let Some(last) = out.last_mut() {
                last.len = r.end() - last.offset;
                continue;
            }
        }
        out.push(r);
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssembleError(pub ByteRun);

impl fmt::Display for AssembleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bytes {}..{} were not read", self.0.offset, self.0.end())
    }
}

/// Resolves `runs` against the reads' data, as zero-copy slices in output
/// order.
pub fn assemble(runs: &[ByteRun], reads: &[(ByteRun, Bytes)]) -> Result<Vec<Bytes>, AssembleError> {
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        let (read, data) = reads
            .iter()
            .find(|(rd, data)| rd.offset <= r.offset && r.end() <= rd.offset + data.len() as u64)
            .ok_or(AssembleError(*r))?;
        let start = (r.offset - read.offset) as usize;
        out.push(data.slice(start..start + r.len as usize));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(offset: u64, len: u64) -> ByteRun {
        ByteRun { offset, len }
    }

    fn limits(max_reads: usize) -> ReadLimits {
        ReadLimits::reads(max_reads)
    }

    #[test]
    fn contiguous_runs_are_one_read() {
        assert_eq!(
            plan_reads(&[run(0, 10), run(10, 5)], limits(8)),
            vec![run(0, 15)]
        );
    }

    #[test]
    fn default_cost_merges_gaps_up_to_two_megabytes() {
        // 40 ms × 50 MB/s: a gap read in under one round trip.
        assert_eq!(ReadCost::default().merge_gap(), 2_000_000);
        let slow = ReadCost {
            rtt_ms: 10_000,
            bandwidth: 1 << 40,
        };
        assert_eq!(slow.merge_gap(), MAX_MERGE_GAP, "per-read cap");
        assert_eq!(ReadCost { rtt_ms: 0, ..slow }.merge_gap(), 0);
        // 30 reads of 2 KB cost 1.2 s of round trips; one read of 1 MB
        // costs 60 ms.
        let c = ReadCost::default();
        assert_eq!(c.cost_us(30, 60_000), 1_201_200);
        assert_eq!(c.cost_us(1, 1_000_000), 60_000);
    }

    #[test]
    fn interleaved_runs_spanning_under_a_megabyte_are_one_read() {
        // A video track's 60 chunks of 10 KB between audio chunks of 6 KB:
        // the old 20 % rule read most of them separately.
        let runs: Vec<ByteRun> = (0..60).map(|i| run(1000 + i * 16_000, 10_000)).collect();
        let reads = plan_reads(&runs, limits(30));
        assert_eq!(reads, vec![run(1000, 59 * 16_000 + 10_000)]);
    }

    #[test]
    fn runs_far_apart_stay_separate_reads() {
        // 10 MB apart: reading the gap costs 200 ms, a request 40 ms.
        let runs = [run(0, 1000), run(10_001_000, 1000), run(20_002_000, 500)];
        assert_eq!(plan_reads(&runs, limits(30)), runs.to_vec());
        // A gap just over rtt × bandwidth is not read; one at it is.
        let g = ReadCost::default().merge_gap();
        let runs = [run(0, 10), run(10 + g, 10), run(20 + 2 * g + 1, 10)];
        assert_eq!(
            plan_reads(&runs, limits(30)),
            vec![run(0, 20 + g), run(20 + 2 * g + 1, 10)]
        );
    }

    #[test]
    fn overread_caps_hold_whatever_the_settings() {
        // A setting that would merge anything: 1 s round trips on a fast
        // link. Gaps of 1.5 MB: the per-segment cap stops the merges once
        // they would add more than MAX_SEGMENT_OVERREAD.
        let cost = ReadCost {
            rtt_ms: 1000,
            bandwidth: 1 << 40,
        };
        let runs: Vec<ByteRun> = (0..40).map(|i| run(i * 1_600_000, 100_000)).collect();
        let reads = plan_reads(
            &runs,
            ReadLimits {
                max_reads: 64,
                cost,
            },
        );
        let payload: u64 = runs.iter().map(|r| r.len).sum();
        let read: u64 = reads.iter().map(|r| r.len).sum();
        assert!(read - payload <= MAX_SEGMENT_OVERREAD, "{read}");
        assert_eq!(
            reads.len(),
            40 - (MAX_SEGMENT_OVERREAD / 1_500_000) as usize
        );
        // Gaps over MAX_MERGE_GAP are never merged by the cost rule.
        let runs = [run(0, 10), run(MAX_MERGE_GAP + 11, 10)];
        assert_eq!(
            plan_reads(
                &runs,
                ReadLimits {
                    max_reads: 64,
                    cost
                }
            )
            .len(),
            2
        );
    }

    #[test]
    fn request_budget_forces_merges() {
        let runs: Vec<ByteRun> = (0..100).map(|i| run(i * 10_000_000, 100)).collect();
        let reads = plan_reads(&runs, limits(24));
        assert_eq!(reads.len(), 24);
        // Every run is inside a read (no bytes are allocated: the forced
        // merges span hundreds of MB).
        assert!(runs.iter().all(|r| reads
            .iter()
            .any(|d| d.offset <= r.offset && r.end() <= d.end())));
    }

    #[test]
    fn assemble_slices_without_copy_and_reports_holes() {
        let data = Bytes::from_static(b"0123456789");
        let reads = [(run(100, 10), data.clone())];
        let parts = assemble(&[run(102, 3), run(107, 2)], &reads).unwrap();
        assert_eq!(&parts[0][..], b"234");
        assert_eq!(parts[0].as_ptr(), data[2..].as_ptr());
        assert!(assemble(&[run(108, 5)], &reads).is_err());
    }
}
