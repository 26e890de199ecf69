//! Building the index blob from a `moov`: the caps checked before the
//! samples are walked, one walk of every track's samples in file order
//! (which is where overlapping and missing sample data show), and the
//! per-track encoder.

use super::blob::{
    put_table, put_trailer, FLAG_ALL_SYNC, FLAG_CTS, FLAG_DESCRIPTIONS, FLAG_FRAGMENTS, MAGIC,
};
use super::edits::{plan_movie, EditPlan, EditedSamples};
use super::*;
use crate::error::{Cap, LimitError};
use crate::mp4::moof::parse_moof;
use crate::mp4::moov::{parse_moov, Movie, Track};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Most samples in one track. The cold index build walks every sample
/// once; see [`MAX_FILE_SAMPLES`] for the cost. 2 M is 23 h of 24 fps
/// video or 11.8 h of 48 kHz AAC (47 frames a second).
pub const MAX_TRACK_SAMPLES: u32 = 2_000_000;

/// Most samples in all the tracks of one file, checked from the table
/// headers before any sample is walked. The walk that builds the index
/// costs ~18 ns a sample (BENCHMARKS.md: 6.9 ms for the 510 300 samples
/// of the 2 h file natively, and 7.1–8.0 ms of wasm module code, before
/// the overlap check of the merged walk added about a third), so 2.5 M
/// samples are ~45 ms, about the 50 ms of CPU one request gets at the
/// edge. 2.5 M is 9.8 h of 24 fps video with its 48 kHz AAC audio.
pub const MAX_FILE_SAMPLES: u64 = 2_500_000;

/// Most bytes one file's index may take. The blob is in the heap of every
/// request that uses it (a cache hit is read into guest memory), next to
/// the moov while it is built (~9 bytes a sample), within the 128 MB a
/// request gets. Real titles need ~4.4 bytes a sample (11 MB at
/// [`MAX_FILE_SAMPLES`]); tables that make each sample expensive (a sync
/// table entry for every sample, offsets jumping back and forth) reach
/// the cap first. Checked from the table headers before the walk (at least
/// one byte a sample, the block directory and the sync table), and again
/// as the walk appends.
pub const MAX_INDEX_BYTES: usize = 24 << 20;

/// Most runs of contiguous sample data remembered when some track's
/// chunks are out of file order and overlaps must be found by sorting
/// (16 bytes each: 4 MiB). Every muxer we know writes chunks in file
/// order, which needs no memory at all.
const MAX_UNORDERED_RUNS: usize = 1 << 18;

/// Parses `moov` (the complete box, which starts at file offset
/// `moov_offset`) and serializes the index of every audio and video track.
///
/// `file_size` is the size of the whole object: sample data past it (a
/// file cut short, or tables pointing outside it) is
/// [`IndexError::Truncated`], and sample data claimed by two samples
/// (chunk offsets repeated or overlapping, which would let a small file
/// answer gigabytes) is invalid media. A video track without `stss`
/// (ISO/IEC 14496-12 §8.6.2: every sample is a sync sample) is stored with
/// a flag instead of a sync table entry per sample.
pub fn build(moov: Bytes, moov_offset: u64, file_size: u64, etag: &str) -> Result<MediaIndex> {
    build_fragmented(moov, moov_offset, file_size, etag, &[])
}

/// [`build`] for a fragmented file (ISO/IEC 14496-12 §8.8): `moofs` are the
/// file's complete `moof` boxes with their file offsets, in file order,
/// whose runs extend the tracks of the moov. A movie with `mvex` must be
/// given every moof of the file (the fragment reader finds them all or
/// fails): a missing one would be a silently short title.
pub fn build_fragmented(
    moov: Bytes,
    moov_offset: u64,
    file_size: u64,
    etag: &str,
    moofs: &[(u64, Bytes)],
) -> Result<MediaIndex> {
    let mut movie = parse_moov(moov, moov_offset)?;
    if let Some(trex) = movie.trex.clone() {
        attach(&mut movie, &trex, moofs, moov_offset)?;
    }
    check_tables(&movie.tracks)?;
    let plans = plan_movie(&movie.tracks)?;
    let encoders = walk(&movie.tracks, &plans, file_size, false)?;
    write_blob(&encoders, file_size, etag, None)
}

/// The index of a fragmented file at fragment granularity (see
/// [`crate::mp4::fragtable`]): each track gets one pseudo-sample per
/// fragment of its table (decode time = the fragment's presentation time
/// plus the edit shift, so its presentation time is the table's; duration
/// to the next fragment; the fragment's bytes; sync when it starts with a
/// SAP), and is flagged fragment-level so no muxer takes those for frames:
/// a segment's real samples come from its moofs, read when the segment is
/// asked for. The moov is kept in the blob to parse them. Tracks of an
/// interleaved file share each fragment's bytes (their pseudo-samples
/// overlap, so the overlap check is skipped; the moofs' real runs are
/// checked when a segment is built).
pub fn build_fragment_level(
    moov: Bytes,
    moov_offset: u64,
    file_size: u64,
    etag: &str,
    tables: &[crate::mp4::fragtable::TrackTable],
) -> Result<MediaIndex> {
    use crate::mp4::moof::Run;
    let mut movie = parse_moov(moov.clone(), moov_offset)?;
    let unsupported = |t: &Track, why: String| {
        IndexError::Mp4(crate::mp4::Mp4Error::unsupported(&t.path, 0, why))
    };
    for t in &mut movie.tracks {
        let Some(table) = tables.iter().find(|x| x.track_id == t.track_id) else {
            continue;
        };
        if t.tables.sample_count > 0 || t.edits.has_cuts() || t.edits.media.len() > 1 {
            return Err(unsupported(
                t,
                "a fragment table with samples or cuts in the moov".into(),
            ));
        }
        // Table times are presentation times after the edit list (ffmpeg's
        // sidx and tfra): decode time = time + the edit shift, so that the
        // pseudo-sample's presentation time is the table's. A table whose
        // first time is the first sample's composition time before the
        // edit list (the first moof says so) is taken as such.
        let po = u64::try_from(t.presentation_offset.max(0)).unwrap_or(0);
        let pre_edit = table
            .fragments
            .first()
            .zip(table.first_cts)
            .is_some_and(|(f, cts)| {
                // After the edit list it would be `cts - po` (0 when that is
                // negative: ffmpeg clamps AAC priming), so only a time of at
                // least `po` can tell.
                po > 0 && cts >= po && f.time == cts
            });
        let shift = if pre_edit { 0 } else { po };
        LimitError::check(
            Cap::TrackSamples,
            table.fragments.len() as u64,
            u64::from(MAX_TRACK_SAMPLES),
        )?;
        t.fragments.reserve(table.fragments.len());
        for f in &table.fragments {
            let dts = f.time.saturating_add(shift);
            let duration = f.duration;
            let (Ok(duration), Ok(size)) = (u32::try_from(duration), u32::try_from(f.size)) else {
                return Err(unsupported(
                    t,
                    format!("fragment at byte {} over 4 GB or 2^32 ticks", f.offset),
                ));
            };
            t.fragments.push(Run::fragment(
                t.track_id, dts, duration, f.offset, size, f.sync,
            ));
        }
    }
    movie.drop_empty_tracks()?;
    movie.check_has_samples(moov_offset)?;
    check_tables(&movie.tracks)?;
    let plans = plan_movie(&movie.tracks)?;
    let mut encoders = walk(&movie.tracks, &plans, file_size, true)?;
    for e in &mut encoders {
        e.fragment_level = true;
    }
    write_blob(&encoders, file_size, etag, Some((moov_offset, &moov)))
}

/// Serializes the encoded tracks; `moov` (with its offset) is kept for a
/// fragment-level index.
fn write_blob(
    encoders: &[TrackEncoder],
    file_size: u64,
    etag: &str,
    moov: Option<(u64, &Bytes)>,
) -> Result<MediaIndex> {
    let moov_len = moov.map_or(0, |(_, m)| m.len());
    let mut out = Vec::with_capacity(
        4096 + moov_len
            + encoders
                .iter()
                .map(TrackEncoder::table_bytes)
                .sum::<usize>(),
    );
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&INDEX_VERSION.to_be_bytes());
    out.extend_from_slice(&file_size.to_be_bytes());
    let etag = etag.as_bytes();
    let etag = &etag[..etag.len().min(1024)];
    out.extend_from_slice(&(etag.len() as u16).to_be_bytes());
    out.extend_from_slice(etag);
    let moov_len = u32::try_from(moov_len).map_err(|_| IndexError::Corrupt("moov too large"))?;
    out.extend_from_slice(&moov_len.to_be_bytes());
    if let Some((offset, m)) = moov {
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(m);
    }
    out.extend_from_slice(&(encoders.len() as u16).to_be_bytes());
    for e in encoders {
        e.write(&mut out)?;
    }
    put_trailer(&mut out, &[])?;
    MediaIndex::from_blob(Bytes::from(out))
}

/// Parses `moofs` into the movie's tracks, checking the sample counts as
/// the runs arrive (a hostile file of many moofs each claiming millions of
/// samples is refused before any sample is expanded).
fn attach(
    movie: &mut Movie,
    trex: &[crate::mp4::moof::Trex],
    moofs: &[(u64, Bytes)],
    moov_offset: u64,
) -> Result<()> {
    let mut samples = movie.tracks.iter().map(Track::sample_count).sum::<u64>();
    for (offset, moof) in moofs {
        let runs = parse_moof(moof.clone(), *offset, trex)?;
        samples += runs.iter().map(|r| u64::from(r.count)).sum::<u64>();
        LimitError::check(Cap::FileSamples, samples, MAX_FILE_SAMPLES)
            .map_err(IndexError::Limit)?;
        movie.append_runs(runs);
    }
    movie.drop_empty_tracks()?;
    movie.check_has_samples(moov_offset)?;
    Ok(())
}

/// Whether the index of `t` stores "every sample is a sync sample" as a
/// flag: a video track without `stss`, or with one entry per sample (the
/// walk checks they are 1..=n, §8.6.2).
fn all_sync(t: &Track) -> bool {
    t.kind == TrackKind::Video
        && t.fragments.is_empty()
        && t.tables
            .sync_entries()
            .is_none_or(|n| n == t.tables.sample_count)
}

/// Index bytes `t` needs at the least: a flags byte per sample, the block
/// directory and its sync table.
fn least_bytes(t: &Track) -> u64 {
    let n = t.sample_count();
    let sync = match (t.kind, all_sync(t)) {
        (TrackKind::Video, false) => u64::from(t.tables.sync_entries().unwrap_or(0)),
        _ => 0,
    };
    n + n.div_ceil(u64::from(BLOCK_LEN)) * BLOCK_ENTRY as u64 + sync * SYNC_ENTRY as u64
}

/// The caps that the table headers already decide, before any sample is
/// walked.
fn check_tables(tracks: &[Track]) -> Result<()> {
    let limit = |cap, v: u64, max: u64| LimitError::check(cap, v, max).map_err(IndexError::Limit);
    for t in tracks {
        check_descriptions(t)?;
        limit(
            Cap::TrackSamples,
            t.sample_count(),
            u64::from(MAX_TRACK_SAMPLES),
        )?;
    }
    let samples: u64 = tracks.iter().map(Track::sample_count).sum();
    limit(Cap::FileSamples, samples, MAX_FILE_SAMPLES)?;
    let bytes: u64 = tracks.iter().map(least_bytes).sum();
    limit(Cap::IndexBytes, bytes, MAX_INDEX_BYTES as u64)
}

/// Most description switches one track may have (8 bytes each in the
/// index): a track that alternates more often is not one title joined
/// from a few sources but noise.
pub const MAX_DESCRIPTION_SWITCHES: usize = 4096;

/// A track with several sample descriptions ([`crate::mp4::descriptions`])
/// is indexed sample for sample, so its switches (numbered in file
/// samples) stay true: an edit list that cuts samples out would renumber
/// them.
fn check_descriptions(t: &Track) -> Result<()> {
    let Some((_, switches)) = &t.descriptions else {
        return Ok(());
    };
    let refuse = |why: String| IndexError::Mp4(crate::mp4::Mp4Error::unsupported(&t.path, 0, why));
    if t.edits.has_cuts() {
        return Err(refuse(
            "edit lists with cuts on a track with several sample descriptions are not supported"
                .into(),
        ));
    }
    if switches.len() > MAX_DESCRIPTION_SWITCHES {
        return Err(refuse(format!(
            "{} sample description switches (at most {MAX_DESCRIPTION_SWITCHES})",
            switches.len()
        )));
    }
    Ok(())
}

/// `switches` (first sample, description; numbered in the file's samples)
/// renumbered in the samples `keep` keeps ([`EditPlan::keep`]; empty:
/// every sample): an edit list that drops the samples before a keyframe
/// (or after its end) shifts the index's sample numbers, and the
/// description of each kept sample must stay its own. Switches in dropped
/// samples fold into the description the next kept sample has.
pub(super) fn kept_switches(
    switches: &[(u32, u32)],
    keep: &[(Range<u32>, u64)],
) -> Vec<(u32, u32)> {
    if keep.is_empty() {
        return switches.to_vec();
    }
    let desc_at = |f: u32| match switches.partition_point(|s| s.0 <= f) {
        0 => 0,
        i => switches[i - 1].1,
    };
    let mut out: Vec<(u32, u32)> = Vec::new();
    let mut push = |at: u32, d: u32| {
        if out.last().is_none_or(|&(_, p)| p != d) {
            out.push((at, d));
        }
    };
    let mut base = 0u32;
    for (r, _) in keep {
        push(base, desc_at(r.start));
        let from = switches.partition_point(|s| s.0 <= r.start);
        for &(at, d) in switches[from..].iter().take_while(|s| s.0 < r.end) {
            push(base.saturating_add(at - r.start), d);
        }
        base = base.saturating_add(r.end.saturating_sub(r.start));
    }
    out
}

/// One track in the merged walk: its samples, the next one waiting, and
/// its encoder.
struct Lane<'a> {
    iter: EditedSamples<'a>,
    head: Option<Sample>,
    /// Offset of the track's latest sample with data: a zero-size sample
    /// waits at it, so it never holds its track back behind the others.
    last: u64,
    enc: TrackEncoder<'a>,
}

/// Lanes waiting with the file offset of their next sample, smallest
/// first. Files have a few tracks, where a scan of the keys beats a heap
/// (the 2 h fixture, interleaved frame by frame, switches track at nearly
/// every sample); a heap keeps 64 tracks (`MAX_TRACKS`) logarithmic.
enum Queue {
    Scan(Vec<u64>),
    Heap(BinaryHeap<Reverse<(u64, usize)>>),
}

/// Lanes up to which [`Queue::Scan`] is used.
const SCAN_LANES: usize = 8;

impl Queue {
    fn new(lanes: usize) -> Queue {
        if lanes <= SCAN_LANES {
            Queue::Scan(vec![u64::MAX; lanes])
        } else {
            Queue::Heap(BinaryHeap::with_capacity(lanes))
        }
    }

    fn put(&mut self, lane: usize, key: u64) {
        match self {
            // Keys are offsets within a file (`u64::MAX` marks an empty
            // slot); a saturated one is past every file's end anyway.
            Queue::Scan(keys) => keys[lane] = key.min(u64::MAX - 1),
            Queue::Heap(h) => h.push(Reverse((key, lane))),
        }
    }

    /// The waiting lane with the smallest key, removed, and the smallest
    /// key of those still waiting (`u64::MAX` when none).
    fn take(&mut self) -> Option<(usize, u64)> {
        match self {
            Queue::Scan(keys) => {
                let (mut best, mut second) = (None, u64::MAX);
                for (i, &k) in keys.iter().enumerate() {
                    if k == u64::MAX {
                        continue;
                    }
                    match best {
                        Some((_, b)) if k >= b => second = second.min(k),
                        Some((_, b)) => {
                            second = second.min(b);
                            best = Some((i, k));
                        }
                        None => best = Some((i, k)),
                    }
                }
                let (i, _) = best?;
                keys[i] = u64::MAX;
                Some((i, second))
            }
            Queue::Heap(h) => {
                let Reverse((_, i)) = h.pop()?;
                Some((i, h.peek().map_or(u64::MAX, |Reverse((k, _))| *k)))
            }
        }
    }
}

/// Walks every track's samples at once in file order (a merge of the
/// tracks, each in decode order), encoding each track and checking that no
/// two samples share a byte and that all of them lie inside the file. A
/// track runs on without touching the queue while its samples come before
/// every other track's next one (a chunk of an interleaved file, or all of
/// a file that stores its tracks one after the other).
fn walk<'a>(
    tracks: &'a [Track],
    plans: &'a [EditPlan],
    file_size: u64,
    shared_bytes: bool,
) -> Result<Vec<TrackEncoder<'a>>> {
    let mut lanes = Vec::with_capacity(tracks.len());
    let mut queue = Queue::new(tracks.len());
    for (i, (t, plan)) in tracks.iter().zip(plans).enumerate() {
        let mut iter = EditedSamples::new(t, plan);
        let head = iter.next().transpose()?;
        if let Some(s) = &head {
            queue.put(i, if s.size == 0 { 0 } else { s.offset });
        }
        lanes.push(Lane {
            iter,
            head,
            last: 0,
            enc: TrackEncoder::new(t, plan),
        });
    }
    // Data end of the samples taken so far (file order while `ordered`),
    // and the furthest byte any sample needs.
    let (mut data_end, mut needed) = (0u64, 0u64);
    let mut ordered = true;
    let mut index_bytes = 0usize;
    while let Some((i, others)) = queue.take() {
        let lane = &mut lanes[i];
        let mut next = lane.head.take();
        while let Some(s) = next {
            let end = s.offset.saturating_add(u64::from(s.size));
            needed = needed.max(end);
            if s.size > 0 {
                if s.offset < lane.last {
                    // Legal (§8.7.5 does not order chunks), but the merge
                    // no longer sees the file in order: sorted check below.
                    ordered = false;
                }
                if ordered && s.offset < data_end && !shared_bytes {
                    return Err(overlap(lane.enc.t, s.offset, data_end));
                }
                lane.last = s.offset;
                data_end = data_end.max(end);
            }
            index_bytes += lane.enc.push(s)?;
            LimitError::check(Cap::IndexBytes, index_bytes as u64, MAX_INDEX_BYTES as u64)
                .map_err(IndexError::Limit)?;
            next = match lane.iter.next().transpose()? {
                Some(n) => {
                    let key = if n.size == 0 { lane.last } else { n.offset };
                    if key <= others {
                        Some(n)
                    } else {
                        lane.head = Some(n);
                        queue.put(i, key);
                        None
                    }
                }
                None => None,
            };
        }
    }
    if needed > file_size {
        return Err(IndexError::Truncated {
            at: file_size,
            of: needed,
        });
    }
    if !ordered && !shared_bytes {
        check_unordered(tracks)?;
    }
    Ok(lanes.into_iter().map(|l| l.enc).collect())
}

fn overlap(t: &Track, offset: u64, data_end: u64) -> IndexError {
    IndexError::Mp4(crate::mp4::Mp4Error::invalid(
        &t.path,
        offset,
        format!(
            "sample data at byte {offset} overlaps other sample data (which runs to byte {data_end})"
        ),
    ))
}

/// Overlap check for files whose chunks are out of file order: the runs of
/// contiguous samples, sorted.
fn check_unordered(tracks: &[Track]) -> Result<()> {
    let mut runs: Vec<(u64, u64, usize)> = Vec::new();
    for (i, t) in tracks.iter().enumerate() {
        let mut run: Option<(u64, u64)> = None;
        for s in t.samples() {
            let s = s?;
            if s.size == 0 {
                continue;
            }
            let end = s.offset.saturating_add(u64::from(s.size));
            match &mut run {
                Some((_, e)) if *e == s.offset => *e = end,
                _ => {
                    if let Some((a, b)) = run.replace((s.offset, end)) {
                        runs.push((a, b, i));
                    }
                }
            }
            if runs.len() >= MAX_UNORDERED_RUNS {
                return Err(IndexError::Mp4(crate::mp4::Mp4Error::unsupported(
                    &t.path,
                    s.offset,
                    format!(
                        "sample data out of file order in more than {MAX_UNORDERED_RUNS} pieces"
                    ),
                )));
            }
        }
        runs.extend(run.map(|(a, b)| (a, b, i)));
    }
    runs.sort_unstable();
    for w in runs.windows(2) {
        let ((_, end, _), (start, _, i)) = (w[0], w[1]);
        if start < end {
            return Err(overlap(&tracks[i], start, end));
        }
    }
    Ok(())
}

/// One track's index as its samples arrive in decode order.
struct TrackEncoder<'a> {
    t: &'a Track,
    /// What the edit list keeps (presentation offset, end).
    plan: &'a EditPlan,
    all_sync: bool,
    data: Vec<u8>,
    blocks: Vec<u8>,
    sync: Vec<u8>,
    prev: Sample,
    prev_size: Option<u32>,
    count: u32,
    duration: u64,
    bytes: u64,
    /// Some sample has a composition offset (fragments have no `ctts`).
    cts: bool,
    /// Samples stand for whole fragments ([`build_fragment_level`]).
    fragment_level: bool,
    /// The description switches ([`Track::descriptions`]) numbered in
    /// the samples the edit plan keeps ([`kept_switches`]).
    switches: Vec<(u32, u32)>,
    /// The next description switch to check.
    next_switch: usize,
}

impl<'a> TrackEncoder<'a> {
    fn new(t: &'a Track, plan: &'a EditPlan) -> Self {
        let n = usize::try_from(t.sample_count()).unwrap_or(usize::MAX);
        TrackEncoder {
            t,
            plan,
            all_sync: all_sync(t),
            data: Vec::with_capacity(n.saturating_mul(4).min(MAX_INDEX_BYTES)),
            blocks: Vec::new(),
            sync: Vec::new(),
            prev: Sample::default(),
            prev_size: None,
            count: 0,
            duration: 0,
            bytes: 0,
            cts: false,
            fragment_level: false,
            switches: t
                .descriptions
                .as_ref()
                .map(|(_, s)| kept_switches(s, &plan.keep))
                .unwrap_or_default(),
            next_switch: 0,
        }
    }

    fn table_bytes(&self) -> usize {
        self.data.len() + self.blocks.len() + self.sync.len() + self.t.entry.raw.len() + 128
    }

    /// Appends sample `s`; returns the index bytes it took.
    #[inline]
    fn push(&mut self, s: Sample) -> Result<usize> {
        let before = self.data.len() + self.blocks.len() + self.sync.len();
        let t = self.t;
        if self.count.is_multiple_of(BLOCK_LEN) {
            self.blocks.extend_from_slice(&s.dts.to_be_bytes());
            self.blocks.extend_from_slice(&s.offset.to_be_bytes());
            let pos = u32::try_from(self.data.len())
                .map_err(|_| IndexError::Corrupt("index too large"))?;
            self.blocks.extend_from_slice(&pos.to_be_bytes());
            self.blocks.extend_from_slice(&self.bytes.to_be_bytes());
            self.prev = Sample {
                offset: s.offset,
                dts: s.dts,
                ..Sample::default()
            };
            self.prev_size = None;
        } else {
            self.prev.offset += u64::from(self.prev.size);
        }
        let prev = self.prev;
        let mut flags = 0u8;
        if s.sync {
            flags |= F_SYNC;
        }
        if s.duration != prev.duration {
            flags |= F_DURATION;
        }
        if s.cts_offset != prev.cts_offset {
            flags |= F_CTS;
        }
        if s.offset != prev.offset {
            flags |= F_GAP;
        }
        if self.prev_size == Some(s.size) {
            flags |= F_SAME_SIZE;
        }
        let data = &mut self.data;
        data.push(flags);
        if flags & F_DURATION != 0 {
            varint::put_u64(data, u64::from(s.duration));
        }
        if flags & F_CTS != 0 {
            varint::put_i64(data, i64::from(s.cts_offset));
        }
        if flags & F_GAP != 0 {
            varint::put_i64(data, s.offset.wrapping_sub(prev.offset) as i64);
        }
        if flags & F_SAME_SIZE == 0 {
            varint::put_u64(data, u64::from(s.size));
        }
        if t.descriptions.is_some() {
            while let Some(&(at, _)) = self.switches.get(self.next_switch) {
                if at > self.count {
                    break;
                }
                if at == self.count && at > 0 && !s.sync {
                    // The new description's parameter sets cannot apply to
                    // a picture that references the old ones' pictures.
                    return Err(IndexError::Mp4(crate::mp4::Mp4Error::invalid(
                        format!("{}/stsc", t.path),
                        0,
                        format!(
                            "the sample description changes at sample {}, which is not a sync sample",
                            at + 1
                        ),
                    )));
                }
                self.next_switch += 1;
            }
        }
        if self.all_sync && !s.sync {
            // One stss entry per sample that does not list every sample:
            // entries repeated or out of order (§8.6.2 wants them strictly
            // increasing).
            return Err(IndexError::Mp4(crate::mp4::Mp4Error::invalid(
                format!("{}/stss", t.path),
                0,
                format!(
                    "stss has an entry per sample but does not list sample {}",
                    self.count + 1
                ),
            )));
        }
        if t.kind == TrackKind::Video && s.sync && !self.all_sync {
            self.sync.extend_from_slice(&self.count.to_be_bytes());
            let shift = i64::from(s.cts_offset) - self.plan.presentation_offset;
            let shift = i32::try_from(shift).map_err(|_| {
                IndexError::Mp4(crate::mp4::Mp4Error::unsupported(
                    &t.path,
                    0,
                    "edit list shift out of range",
                ))
            })?;
            self.sync.extend_from_slice(&shift.to_be_bytes());
            self.sync.extend_from_slice(&s.dts.to_be_bytes());
            self.sync.extend_from_slice(&self.bytes.to_be_bytes());
        }
        self.cts |= s.cts_offset != 0;
        self.prev = s;
        self.prev_size = Some(s.size);
        self.count += 1;
        self.duration += u64::from(s.duration);
        self.bytes += u64::from(s.size);
        Ok(self.data.len() + self.blocks.len() + self.sync.len() - before)
    }

    /// Serializes the track (layout in `blob.rs`).
    fn write(&self, out: &mut Vec<u8>) -> Result<()> {
        let t = self.t;
        let (duration, bytes) = (self.duration, self.bytes);
        let avg = if duration > 0 {
            let v = u128::from(bytes) * 8 * u128::from(t.timescale) / u128::from(duration);
            u64::try_from(v).unwrap_or(u64::MAX)
        } else {
            0
        };
        let (max_bitrate, _) = t.entry.bitrates.unwrap_or((0, 0));
        out.extend_from_slice(&t.track_id.to_be_bytes());
        out.push(match t.kind {
            TrackKind::Video => 0,
            TrackKind::Audio => 1,
            TrackKind::Subtitle => 2,
            TrackKind::Other => 3,
        });
        let mut flags = 0;
        if t.tables.has_composition_offsets() || self.cts {
            flags |= FLAG_CTS;
        }
        if self.all_sync {
            flags |= FLAG_ALL_SYNC;
        }
        if self.fragment_level {
            flags |= FLAG_FRAGMENTS;
        }
        if t.descriptions.is_some() {
            flags |= FLAG_DESCRIPTIONS;
        }
        out.push(flags);
        out.extend_from_slice(&t.timescale.to_be_bytes());
        out.extend_from_slice(&duration.to_be_bytes());
        // ISO 639-2 from `mdhd`, or a text track's BCP 47 `elng` tag
        // (at most 35 bytes, `moov::extended_language`).
        let lang = t.language.as_bytes();
        let lang = if (2..=35).contains(&lang.len()) {
            lang
        } else {
            b"und"
        };
        out.push(lang.len() as u8);
        out.extend_from_slice(lang);
        out.extend_from_slice(&t.handler.0);
        out.extend_from_slice(&self.plan.presentation_offset.to_be_bytes());
        let end = self.plan.presented_end.unwrap_or(i64::MIN);
        out.extend_from_slice(&end.to_be_bytes());
        out.extend_from_slice(&avg.to_be_bytes());
        out.extend_from_slice(&max_bitrate.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&bytes.to_be_bytes());
        put_table(out, &t.entry.raw, 1)?;
        if let Some((d, _)) = &t.descriptions {
            // At most `MAX_SAMPLE_ENTRIES` (16).
            out.push(d.entries.len() as u8);
            for e in &d.entries {
                put_table(out, &e.raw, 1)?;
            }
            let mut table = Vec::with_capacity(self.switches.len() * 8);
            for (at, desc) in &self.switches {
                table.extend_from_slice(&at.to_be_bytes());
                table.extend_from_slice(&desc.to_be_bytes());
            }
            put_table(out, &table, SWITCH_ENTRY)?;
        }
        put_table(out, &self.blocks, BLOCK_ENTRY)?;
        put_table(out, &self.sync, SYNC_ENTRY)?;
        put_table(out, &self.data, 1)?;
        Ok(())
    }
}
