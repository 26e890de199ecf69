//! A fragmented file's fragments listed from a table the file already
//! carries — `sidx` (§8.16.3) or `mfra`/`tfra` (§8.8.10) — so a long
//! title is indexed without reading its moofs: the index keeps one
//! pseudo-sample per fragment (`index::build_fragment_level`) and a
//! segment's moofs are read when the segment is asked for
//! (`service::moofs`).

use super::error::{Mp4Error, Result};
use super::mfra::Tfra;
use super::moof::Run;
use super::sidx::Sidx;

/// One fragment of one track: where its bytes are and when it plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// Presentation time of its earliest sample after the edit list (what
    /// ffmpeg writes in `sidx` and `tfra`), track timescale.
    pub time: u64,
    pub duration: u64,
    /// File offset of the fragment's first box (a `moof`, or a `styp`
    /// before it) and its bytes up to the next fragment.
    pub offset: u64,
    pub size: u64,
    /// Starts with a stream access point.
    pub sync: bool,
}

/// One track's fragments, in time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackTable {
    pub track_id: u32,
    pub fragments: Vec<Fragment>,
    /// Composition time (decode time plus first composition offset) of
    /// the first sample, from the first fragment's moof: it tells whether
    /// the table's times are presentation times after the edit list (what
    /// ffmpeg writes, clamped at 0 for AAC priming) or composition times
    /// before it (`index::build_fragment_level`).
    pub first_cts: Option<u64>,
}

/// A track of the moov the table must cover: its id and timescale.
#[derive(Clone, Copy, Debug)]
pub struct TrackKey {
    pub track_id: u32,
    pub timescale: u32,
}

/// The tables from the `sidx` boxes: one per track (`reference_ID`), in the
/// track's timescale. `None` when they do not cover every track (a
/// single `sidx` for a muxed file, say): the moofs are walked instead.
pub fn from_sidx(sidxs: &[Sidx], tracks: &[TrackKey]) -> Option<Vec<TrackTable>> {
    tracks
        .iter()
        .map(|k| {
            let s = sidxs.iter().find(|s| s.reference_id == k.track_id)?;
            if s.timescale != k.timescale || s.subsegments.is_empty() {
                return None;
            }
            let mut fragments = Vec::with_capacity(s.subsegments.len());
            for r in &s.subsegments {
                fragments.extend_from_slice(&split_at_sap(r));
            }
            Some(TrackTable {
                track_id: k.track_id,
                fragments,
                first_cts: None,
            })
        })
        .collect()
}

/// The fragments of subsegment `r`: itself, or, when a SAP lies inside it
/// (`starts_with_SAP` 0 with a type 1/2 `SAP_delta_time`, §8.16.3.3), the
/// part before the SAP (not sync: it ends the segment before) and the part
/// from it (sync: a segment may start there). Both keep the subsegment's
/// offset, which is where its moof is (`service::moofs` reads it once for
/// both and takes each part's samples by time); its bytes are shared
/// between them in proportion to their durations, so the track's total
/// and its bitrates stay those of the file.
fn split_at_sap(r: &super::sidx::Subsegment) -> Vec<Fragment> {
    let whole = Fragment {
        time: r.time,
        duration: r.duration,
        offset: r.offset,
        size: r.size,
        sync: r.sap,
    };
    match r.rap {
        Some(0) => vec![Fragment {
            sync: true,
            ..whole
        }],
        Some(d) if !r.sap && d < r.duration => {
            let head = u64::try_from(u128::from(r.size) * u128::from(d) / u128::from(r.duration))
                .unwrap_or(r.size)
                .clamp(1, r.size.saturating_sub(1).max(1));
            vec![
                Fragment {
                    duration: d,
                    size: head,
                    sync: false,
                    ..whole
                },
                Fragment {
                    time: r.time.saturating_add(d),
                    duration: r.duration - d,
                    size: r.size.saturating_sub(head),
                    sync: true,
                    ..whole
                },
            ]
        }
        _ => vec![whole],
    }
}

/// Moof offsets whose moof must be read to finish a table built from
/// `tfras`: the last fragment of each track, whose duration no `tfra`
/// says.
pub fn last_moofs(tfras: &[Tfra]) -> Vec<u64> {
    let mut out: Vec<u64> = tfras
        .iter()
        .filter_map(|t| t.entries.last().map(|e| e.moof_offset))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The tables from the `tfra` boxes: each entry that points at the first
/// sample of a moof is a fragment (§8.8.10: a sync sample), which runs to
/// the next moof any table lists, or to `data_end` (the `mfra`). The last
/// fragment's duration comes from its moof (`moofs`: the runs of moofs by
/// offset, those [`last_moofs`] named among them). `None` when an entry
/// points inside a moof or a track has no table.
pub fn from_tfra(
    tfras: &[Tfra],
    tracks: &[TrackKey],
    moofs: &[(u64, Vec<Run>)],
    data_end: u64,
) -> Result<Option<Vec<TrackTable>>> {
    let mut all: Vec<u64> = tfras
        .iter()
        .flat_map(|t| t.entries.iter().map(|e| e.moof_offset))
        .collect();
    all.sort_unstable();
    all.dedup();
    let mut out = Vec::with_capacity(tracks.len());
    for k in tracks {
        let Some(t) = tfras.iter().find(|t| t.track_id == k.track_id) else {
            return Ok(None);
        };
        if t.entries.iter().any(|e| e.trun != 1 || e.sample != 1) {
            return Ok(None);
        }
        if t.entries.len() > super::fragments::MAX_FRAGMENTS {
            return Err(Mp4Error::unsupported(
                "mfra/tfra",
                data_end,
                format!(
                    "track {} lists more than {} fragments",
                    k.track_id,
                    super::fragments::MAX_FRAGMENTS
                ),
            ));
        }
        let mut fragments: Vec<Fragment> = Vec::with_capacity(t.entries.len());
        for e in &t.entries {
            if fragments.last().is_some_and(|f| f.offset == e.moof_offset) {
                continue;
            }
            if fragments
                .last()
                .is_some_and(|f| f.offset > e.moof_offset || f.time > e.time)
            {
                return Err(Mp4Error::invalid(
                    "mfra/tfra",
                    e.moof_offset,
                    "tfra entries out of order",
                ));
            }
            let next = all.partition_point(|&o| o <= e.moof_offset);
            let end = all.get(next).copied().unwrap_or(data_end);
            if let Some(f) = fragments.last_mut() {
                f.duration = e.time - f.time;
            }
            fragments.push(Fragment {
                time: e.time,
                duration: 0,
                offset: e.moof_offset,
                size: end.saturating_sub(e.moof_offset),
                sync: true,
            });
        }
        let Some(f) = fragments.last_mut() else {
            return Ok(None);
        };
        let last = moofs.iter().find(|(at, _)| *at == f.offset);
        let runs = last.into_iter().flat_map(|(_, r)| r);
        let duration: u64 = runs
            .filter(|r| r.track_id == k.track_id)
            .map(Run::duration)
            .sum();
        if duration == 0 {
            return Ok(None);
        }
        f.duration = duration;
        out.push(TrackTable {
            track_id: k.track_id,
            fragments,
            first_cts: None,
        });
    }
    Ok(Some(out))
}

/// Origin reads the moof walk of [`super::fragments::FragmentScan`] would
/// take over fragments at `offsets` (sorted), planned as it plans them
/// with an mfra: neighbours up to [`super::fragments::MAX_GAP`] apart
/// share a read of up to [`super::fragments::WINDOW_LEN`].
pub fn walk_reads(offsets: &[u64]) -> usize {
    use super::fragments::{MAX_GAP, MOOF_READ_LEN, WINDOW_LEN};
    let mut reads = 0;
    let mut i = 0;
    while i < offsets.len() {
        let start = offsets[i];
        let mut end = start.saturating_add(MOOF_READ_LEN);
        i += 1;
        while let Some(&h) = offsets.get(i) {
            let reach = h.saturating_add(MOOF_READ_LEN);
            if h.saturating_sub(end) > MAX_GAP || reach - start > WINDOW_LEN {
                break;
            }
            end = end.max(reach);
            i += 1;
        }
        reads += 1;
    }
    reads
}

#[cfg(test)]
mod tests;

/// Sets each table's [`TrackTable::first_cts`] from `moofs` (runs by moof
/// offset): the moof inside its first fragment's bytes.
pub fn set_first_cts(tables: &mut [TrackTable], moofs: &[(u64, Vec<Run>)]) {
    for t in tables {
        let Some(f) = t.fragments.first() else {
            continue;
        };
        let inside = |at: u64| at >= f.offset && at - f.offset < f.size.max(1);
        let run = moofs
            .iter()
            .filter(|(at, _)| inside(*at))
            .flat_map(|(_, r)| r)
            .find(|r| r.track_id == t.track_id && r.count > 0);
        t.first_cts = run.and_then(|r| {
            let dts = r.start_dts?;
            let s = r.sample(0, dts, r.data_offset);
            dts.checked_add_signed(i64::from(s.cts_offset))
        });
    }
}
