//! Read planning: which origin reads serve a segment's source runs.
//!
//! A segment of a single-track file is one contiguous run: one read. In an
//! interleaved file a track's samples are split by the other tracks'
//! chunks; reading each run separately costs requests, reading one big
//! range costs bytes. Runs are merged across their smallest gaps while the
//! bytes read stay within [`MAX_OVERREAD`] of the payload, and further if
//! needed to respect the request budget.

use crate::mux::cmaf::ByteRun;
use bytes::Bytes;
use std::fmt;

/// Bytes read may exceed the payload by this fraction to save requests.
pub const MAX_OVERREAD: f64 = 0.2;

/// Reads covering `runs` (in any order), at most `max_reads` of them.
pub fn plan_reads(runs: &[ByteRun], max_reads: usize) -> Vec<ByteRun> {
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
    let payload: u64 = reads.iter().map(|r| r.len).sum();
    let budget = (payload as f64 * MAX_OVERREAD) as u64;
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
        let needed = count > max_reads.max(1);
        if !needed && spent + gap > budget {
            break;
        }
        spent += gap;
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

    #[test]
    fn contiguous_runs_are_one_read() {
        assert_eq!(plan_reads(&[run(0, 10), run(10, 5)], 8), vec![run(0, 15)]);
    }

    #[test]
    fn small_gaps_merge_within_the_overread_budget() {
        // Payload 3000, budget 600: the 100-byte gaps merge, the 5000 one not.
        let runs = [
            run(0, 1000),
            run(1100, 1000),
            run(2200, 500),
            run(7700, 500),
        ];
        assert_eq!(plan_reads(&runs, 32), vec![run(0, 2700), run(7700, 500)]);
    }

    #[test]
    fn request_budget_forces_merges() {
        let runs: Vec<ByteRun> = (0..100).map(|i| run(i * 10_000, 100)).collect();
        let reads = plan_reads(&runs, 24);
        assert_eq!(reads.len(), 24);
        let slices = assemble(
            &runs,
            &reads
                .iter()
                .map(|r| (*r, Bytes::from(vec![0u8; r.len as usize])))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert_eq!(slices.len(), 100);
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
