//! The compact, cacheable per-track sample index.
//!
//! Built once from a `moov`, serialized to a versioned blob the edge stores
//! in its cache, and read back without decoding the samples: the blob is
//! used in place. Samples are grouped in blocks of [`BLOCK_LEN`]; a fixed
//! size block directory (first decode time, first offset, data position)
//! makes "the samples of segment N" a binary search plus one or two block
//! decodes, whatever the track length.
//!
//! A sample record is a flags byte plus only the fields that changed from
//! the previous sample of the block (duration, composition offset, a gap in
//! file offsets, size), as varints: ~3 bytes for audio, ~5 for video with
//! B-frames.

mod blob;
mod build;
pub mod edits;
pub mod varint;

use crate::model::{Sample, TrackInfo, TrackKind};
use crate::mp4::Mp4Error;
use bytes::Bytes;
use std::fmt;
use std::ops::Range;

pub use build::{
    build, build_fragment_level, build_fragmented, MAX_FILE_SAMPLES, MAX_INDEX_BYTES,
    MAX_TRACK_SAMPLES,
};

/// Bumped whenever the blob layout or its meaning changes; part of the edge
/// cache key so old entries are never misread. v3 adds the trailer of
/// channel counts read from the stream (DTS without `ddts`): v2 entries of
/// such files carry the sample entry's placeholder 2. v4 (same layout)
/// gives the track flags byte an "every sample is a sync sample" bit with an
/// empty sync table (v3 had an entry per sample for video without `stss`),
/// and no longer indexes files whose sample data runs past their end (v3
/// kept the whole samples of a truncated file). v5 (same layout) reads the
/// video entry's `colr` into the track (HDR `VIDEO-RANGE` and DASH CICP
/// descriptors): the version is in the cache keys of derived manifests
/// (`outputs::tag_key`, `outputs::key`), which under v4 were written
/// without them, and in the index key, so a v4 blob is refused and rebuilt.
/// v6 (same layout) falls back to the SPS VUI's colour when the entry has
/// no `colr` (or an unspecified one): v5 blobs of encoder-tagged HDR
/// titles say SDR. v7 applies edit lists with cuts and trims
/// (`index::edits`): the kept samples only, and a `presented_end` after
/// `presentation_offset`. v8 (same layout) reads AV1 and VP9 colour from
/// `av1C`/`vpcC` when the entry has no `colr` (`codec::av1`). v9 indexes
/// MP4 text tracks (`tx3g`, `wvtt`, `stpp` under a `text`, `sbtl` or
/// `subt` handler) as tracks of kind subtitle, and stores the language as
/// a length-prefixed string (a text track's `elng` BCP 47 tag does not fit
/// v8's three bytes). v10 adds the moov of a fragment-level index after
/// the ETag (`moov_len`, 0 for every other file) and the track flag 4 (a
/// sample stands for a fragment, `build_fragment_level`).
/// v11 indexes tracks with several sample descriptions (track flag 8: the
/// descriptions and where the samples switch between them follow the
/// entry, which is their in-band `avc3`/`hev1` form; v10 refused them).
pub const INDEX_VERSION: u32 = 11;
/// Samples per block.
pub const BLOCK_LEN: u32 = 128;
/// Bytes per block directory entry: first dts (8), first offset (8), data
/// position (4), payload bytes before the block (8).
const BLOCK_ENTRY: usize = 28;
/// Bytes per sync table entry: sample number (4), presentation minus decode
/// time (4), decode time (8), payload bytes before the sample (8). With
/// these a video segment's duration and size are two table lookups, not a
/// sample walk.
const SYNC_ENTRY: usize = 24;
/// Bytes per description switch: first sample (4), description (4).
const SWITCH_ENTRY: usize = 8;

/// (sample, pts, dts, bytes before) of a sync table entry.
fn sync_fields(e: &[u8]) -> (u32, i64, u64, u64) {
    let dts = be_u64(e, 8);
    let pts = (dts as i64).wrapping_add(i64::from(be_u32(e, 4) as i32));
    (be_u32(e, 0), pts, dts, be_u64(e, 16))
}

const F_SYNC: u8 = 1;
const F_DURATION: u8 = 2;
const F_CTS: u8 = 4;
const F_GAP: u8 = 8;
const F_SAME_SIZE: u8 = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexError {
    Mp4(Mp4Error),
    /// The blob does not decode: cache corruption or a bug, never user input.
    Corrupt(&'static str),
    /// Produced by another index version.
    Version(u32),
    /// A sample number or time outside the track.
    OutOfRange(String),
    /// Over one of the caps on the work a request may cause
    /// ([`MAX_TRACK_SAMPLES`], [`MAX_FILE_SAMPLES`], [`MAX_INDEX_BYTES`]).
    Limit(crate::error::LimitError),
    /// The sample tables need the file's bytes up to `of`, the object ends
    /// at `at`: an upload cut short, or tables pointing outside the file.
    /// Served, it would be a title silently shorter than its tables say.
    Truncated {
        at: u64,
        of: u64,
    },
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexError::Mp4(e) => e.fmt(f),
            IndexError::Corrupt(w) => write!(f, "corrupt index: {w}"),
            IndexError::Version(v) => write!(f, "index version {v}, expected {INDEX_VERSION}"),
            IndexError::OutOfRange(w) => write!(f, "out of range: {w}"),
            IndexError::Limit(e) => e.fmt(f),
            IndexError::Truncated { at, of } => write!(f, "media truncated at byte {at} of {of}"),
        }
    }
}

impl std::error::Error for IndexError {}

impl From<crate::error::LimitError> for IndexError {
    fn from(e: crate::error::LimitError) -> Self {
        IndexError::Limit(e)
    }
}

impl From<Mp4Error> for IndexError {
    fn from(e: Mp4Error) -> Self {
        IndexError::Mp4(e)
    }
}

pub type Result<T> = std::result::Result<T, IndexError>;

/// Where a sample starts: decode time and payload bytes before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub dts: u64,
    pub bytes: u64,
}

/// The index of one MP4 file, viewing a blob produced by [`build`].
#[derive(Clone, Debug)]
pub struct MediaIndex {
    pub file_size: u64,
    /// Origin ETag the index was built from ("" when the origin sent none).
    pub etag: String,
    pub tracks: Vec<TrackIndex>,
    /// The serialized form, for the cache.
    pub blob: Bytes,
    /// Where the trailer (channel counts read from the stream) starts.
    trailer_at: usize,
    /// The moov (its file offset and bytes) of a fragment-level index: its
    /// `trex` defaults and edit lists parse the moofs a segment reads.
    pub moov: Option<(u64, Bytes)>,
}

/// The start of a track's first sample, which the index wants because its
/// sample entry does not tell the channel count (see
/// [`crate::mp4::dts`]). Reading it costs one more origin read on a cold
/// index, for such tracks only; the answer is then cached with the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameProbe {
    pub track_id: u32,
    /// File offset of the first sample.
    pub offset: u64,
    /// Bytes wanted (at most the sample's size).
    pub len: u64,
}

/// One track's samples, decoded lazily from the blob.
#[derive(Clone, Debug)]
pub struct TrackIndex {
    pub info: TrackInfo,
    /// True when composition offsets differ from zero (B-frames).
    pub has_cts: bool,
    /// Each sample stands for a whole fragment (a fragment-level index):
    /// the real samples of a segment are read from its moofs.
    pub fragment_level: bool,
    /// A video track whose every sample is a sync sample (no `stss`,
    /// ISO/IEC 14496-12 §8.6.2): its sync table is empty instead of an
    /// entry per sample, and it can be cut at any sample.
    all_sync: bool,
    /// Payload bytes of the whole track.
    pub total_bytes: u64,
    /// The sample entry leaves the channel count to the stream.
    channels_in_stream: bool,
    /// The channel count read from the stream (the blob's trailer).
    stream_channels: Option<u16>,
    /// Several sample descriptions sent with in-band parameter sets.
    in_band: Option<InBand>,
    blocks: Bytes,
    sync: Bytes,
    data: Bytes,
}

/// A track with several sample descriptions ([`crate::mp4::descriptions`]):
/// each description's parameter sets as length-prefixed NAL units, and the
/// switch table ([`SWITCH_ENTRY`] bytes per switch, the first at sample 0).
#[derive(Clone, Debug)]
struct InBand {
    prefixes: Vec<Bytes>,
    switches: Bytes,
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

impl TrackIndex {
    /// Nominal frame rate ([`crate::model::TrackInfo::frame_rate`]);
    /// `None` for a fragment-level track, whose samples are fragments
    /// (its frames are only in the moofs): FRAME-RATE and `@frameRate` are
    /// optional, a wrong one is not (HLS §4.4.6.2: "SHOULD be included").
    pub fn frame_rate(&self) -> Option<(u64, u64)> {
        if self.fragment_level {
            return None;
        }
        self.info.frame_rate()
    }

    pub fn sample_count(&self) -> u32 {
        self.info.sample_count
    }

    /// True for a track with several sample descriptions, whose sync
    /// samples are sent with their own description's parameter sets
    /// ([`TrackIndex::param_prefix`]).
    pub fn has_in_band_parameter_sets(&self) -> bool {
        self.in_band.is_some()
    }

    /// The 0-based description sample `sample` uses (0 for a track with
    /// one description).
    pub fn description_of(&self, sample: u32) -> u32 {
        let Some(b) = &self.in_band else { return 0 };
        let n = b.switches.len() / SWITCH_ENTRY;
        // Last switch at or before `sample` (the table is sorted, the first
        // at 0: checked when the blob was read).
        let (mut lo, mut hi) = (0usize, n);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if be_u32(&b.switches, mid * SWITCH_ENTRY) <= sample {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        be_u32(&b.switches, lo * SWITCH_ENTRY + 4)
    }

    /// Bytes of in-band parameter sets the sync samples of `range` are
    /// sent with ([`TrackIndex::param_prefix`]): 0 for a track with one
    /// description.
    pub fn lead_bytes(&self, range: Range<u32>) -> u64 {
        let Some(b) = &self.in_band else { return 0 };
        let len = |i: u32| {
            b.prefixes
                .get(self.description_of(i) as usize)
                .map_or(0, |p| p.len() as u64)
        };
        if self.all_sync {
            return range.map(len).sum();
        }
        let n = self.sync_count();
        let entry = |k: usize| be_u32(&self.sync, k * SYNC_ENTRY);
        // First sync entry at or after `range.start` (the table is sorted).
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if entry(mid) < range.start {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo..n)
            .map(entry)
            .take_while(|&i| i < range.end)
            .map(len)
            .sum()
    }

    /// The bytes sent before sync sample `sample`'s own NAL units: its
    /// description's parameter sets, length-prefixed like the sample's NAL
    /// units (ISO/IEC 14496-15 §5.3.2), which an `avc3`/`hev1` track may
    /// carry in-band (§5.4.2, §8.4.1). `None` for other samples and for
    /// tracks with one description.
    pub fn param_prefix(&self, sample: u32, sync: bool) -> Option<Bytes> {
        let b = self.in_band.as_ref().filter(|_| sync)?;
        b.prefixes
            .get(self.description_of(sample) as usize)
            .cloned()
    }

    fn block(&self, b: u32) -> (u64, u64, usize) {
        let at = b as usize * BLOCK_ENTRY;
        let e = &self.blocks[at..at + BLOCK_ENTRY];
        (be_u64(e, 0), be_u64(e, 8), be_u32(e, 16) as usize)
    }

    fn block_cum(&self, b: u32) -> u64 {
        let at = b as usize * BLOCK_ENTRY;
        be_u64(&self.blocks[at..at + BLOCK_ENTRY], 20)
    }

    /// Decode time and payload bytes before sample `i` (`i == sample_count`
    /// gives the track's totals): one partial block decode, or a sync
    /// table lookup for a sync sample of a video track.
    pub fn position(&self, i: u32) -> Result<Position> {
        if i >= self.sample_count() {
            return Ok(Position {
                dts: self.info.duration,
                bytes: self.total_bytes,
            });
        }
        if let Some(p) = self.sync_position(i) {
            return Ok(p);
        }
        self.check_tables()?;
        let b = i / BLOCK_LEN;
        let (dts, _, _) = self.block(b);
        let mut pos = Position {
            dts,
            bytes: self.block_cum(b),
        };
        for s in self.samples(b * BLOCK_LEN..i)? {
            let s = s?;
            pos.dts = pos.dts.saturating_add(u64::from(s.duration));
            pos.bytes = pos.bytes.saturating_add(u64::from(s.size));
        }
        Ok(pos)
    }

    /// Presentation time of sample `sample` if it is a sync sample of a
    /// video track (from the sync table, or one sample decode for a track
    /// whose every sample is a sync sample).
    pub fn sync_pts(&self, sample: u32) -> Option<i64> {
        if self.all_sync {
            return self.sample(sample).ok().map(|s| self.pts(&s));
        }
        let e = self.sync_entry(sample)?;
        Some(sync_fields(e).1)
    }

    /// A video track whose every sample is a sync sample: it has no sync
    /// table ([`TrackIndex::sync_count`] is 0), and the timeline cuts it
    /// at whichever sample is nearest a boundary, like audio.
    pub fn all_sync(&self) -> bool {
        self.all_sync
    }

    /// [`TrackIndex::position`] of a sync sample, from the sync table.
    fn sync_position(&self, sample: u32) -> Option<Position> {
        let e = self.sync_entry(sample)?;
        Some(Position {
            dts: sync_fields(e).2,
            bytes: sync_fields(e).3,
        })
    }

    /// The sync table entry of `sample` (binary search by sample number).
    fn sync_entry(&self, sample: u32) -> Option<&[u8]> {
        let n = self.sync_count();
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let e = self.sync.get(mid * SYNC_ENTRY..(mid + 1) * SYNC_ENTRY)?;
            match be_u32(e, 0).cmp(&sample) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(e),
            }
        }
        None
    }

    fn block_count(&self) -> u32 {
        (self.blocks.len() / BLOCK_ENTRY) as u32
    }

    /// A track of a header-only index ([`MediaIndex::from_header_blob`]):
    /// it has samples but no table to find them in. Only a set summary's
    /// manifests use one ([`crate::summary`]), which read no sample.
    pub fn is_header_only(&self) -> bool {
        self.blocks.is_empty() && self.sample_count() > 0
    }

    /// The error of a sample lookup on a header-only track (before a
    /// block directory is indexed).
    fn check_tables(&self) -> Result<()> {
        if self.is_header_only() {
            return Err(IndexError::Corrupt("sample lookup in a header-only index"));
        }
        Ok(())
    }

    /// Samples `range` in decode order, decoding only the blocks it touches.
    pub fn samples(&self, range: Range<u32>) -> Result<SampleCursor<'_>> {
        self.check_tables()?;
        if range.start > range.end || range.end > self.sample_count() {
            return Err(IndexError::OutOfRange(format!(
                "samples {}..{} of a {}-sample track",
                range.start,
                range.end,
                self.sample_count()
            )));
        }
        let mut cursor = SampleCursor {
            track: self,
            next: range.start - range.start % BLOCK_LEN,
            end: range.end,
            pos: 0,
            prev: Sample::default(),
            prev_size: None,
        };
        while cursor.next < range.start {
            cursor.decode_one()?;
        }
        Ok(cursor)
    }

    /// One sample.
    pub fn sample(&self, i: u32) -> Result<Sample> {
        self.samples(i..i + 1)?
            .next()
            .ok_or(IndexError::Corrupt("sample missing"))?
    }

    /// Presentation time of a sample (composition time minus the edit shift).
    pub fn pts(&self, s: &Sample) -> i64 {
        s.cts() - self.info.presentation_offset
    }

    /// The sample whose decode start is nearest `dts` (ties go to the later
    /// one), or `sample_count()` when the end of the track is nearest. This
    /// is where a track is cut for a boundary at decode time `dts`.
    pub fn nearest_sample_start(&self, dts: i64) -> Result<u32> {
        Ok(self.nearest_sample_start_at(dts)?.0)
    }

    /// [`TrackIndex::nearest_sample_start`] and that sample's
    /// [`TrackIndex::position`], from the same partial block decode (a
    /// manifest locates every boundary of every track: decoding the block
    /// once, not twice, halves what that costs for audio).
    pub fn nearest_sample_start_at(&self, dts: i64) -> Result<(u32, Position)> {
        if dts <= 0 || self.block_count() == 0 {
            return Ok((0, self.position(0)?));
        }
        if dts as u64 >= self.info.duration {
            let n = self.sample_count();
            return Ok((n, self.position(n)?));
        }
        let dts = dts as u64;
        // Last block starting at or before `dts`.
        let (mut lo, mut hi) = (0u32, self.block_count());
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if self.block(mid).0 <= dts {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let first = lo * BLOCK_LEN;
        let last = (first + BLOCK_LEN).min(self.sample_count());
        let mut bytes = self.block_cum(lo);
        let mut best = (u64::MAX, last, Position { dts, bytes });
        for (i, s) in (first..last).zip(self.samples(first..last)?) {
            let s = s?;
            let d = s.dts.abs_diff(dts);
            if d <= best.0 {
                best = (d, i, Position { dts: s.dts, bytes });
            }
            let end = s.dts.saturating_add(u64::from(s.duration));
            bytes = bytes.saturating_add(u64::from(s.size));
            if end.abs_diff(dts) < best.0 {
                best = (end.abs_diff(dts), i + 1, Position { dts: end, bytes });
            }
            if s.dts > dts {
                break;
            }
        }
        if best.0 == u64::MAX {
            // No sample in the block (a corrupt directory): the plain
            // lookup says where `last` starts.
            return Ok((last, self.position(last)?));
        }
        Ok((best.1, best.2))
    }

    /// Sync samples with their presentation times (video tracks only; empty
    /// for audio and [`TrackIndex::all_sync`] video, where every sample is a
    /// sync sample).
    pub fn sync_points(&self) -> impl Iterator<Item = (u32, i64)> + '_ {
        self.sync.chunks_exact(SYNC_ENTRY).map(|e| {
            let (sample, pts, _, _) = sync_fields(e);
            (sample, pts)
        })
    }

    /// Composition offset (presentation minus decode time, track
    /// timescale) of each sync point, in decode order, from the sync table
    /// alone.
    pub fn sync_offsets(&self) -> impl Iterator<Item = (u32, i64)> + '_ {
        self.sync.chunks_exact(SYNC_ENTRY).map(|e| {
            let (sample, pts, dts, _) = sync_fields(e);
            (sample, pts.wrapping_sub(dts as i64))
        })
    }

    /// Entries of the sync table (0 for audio and all-sync video).
    pub fn sync_count(&self) -> usize {
        self.sync.len() / SYNC_ENTRY
    }

    /// The `i`-th sync point.
    pub fn sync_point(&self, i: usize) -> Option<(u32, i64)> {
        let e = self.sync.get(i * SYNC_ENTRY..(i + 1) * SYNC_ENTRY)?;
        let (sample, pts, _, _) = sync_fields(e);
        Some((sample, pts))
    }

    pub fn is_video(&self) -> bool {
        self.info.kind == TrackKind::Video
    }

    /// Bytes of payload in samples `range`.
    pub fn payload_size(&self, range: Range<u32>) -> Result<u64> {
        let mut total = 0u64;
        for s in self.samples(range)? {
            total += u64::from(s?.size);
        }
        Ok(total)
    }
}

/// Decodes samples forward from a block start.
pub struct SampleCursor<'a> {
    track: &'a TrackIndex,
    next: u32,
    end: u32,
    pos: usize,
    prev: Sample,
    prev_size: Option<u32>,
}

impl SampleCursor<'_> {
    fn decode_one(&mut self) -> Result<Sample> {
        let t = self.track;
        let i = self.next;
        if i.is_multiple_of(BLOCK_LEN) {
            let (dts, offset, pos) = t.block(i / BLOCK_LEN);
            self.pos = pos;
            self.prev = Sample {
                offset,
                size: 0,
                dts,
                duration: 0,
                cts_offset: 0,
                sync: false,
            };
            self.prev_size = None;
        } else {
            // A corrupt blob must not overflow (nor wrap into nonsense).
            let overflow = IndexError::Corrupt("sample times or offsets overflow");
            self.prev.dts = self
                .prev
                .dts
                .checked_add(u64::from(self.prev.duration))
                .ok_or(overflow.clone())?;
            self.prev.offset = self
                .prev
                .offset
                .checked_add(u64::from(self.prev.size))
                .ok_or(overflow)?;
        }
        let data = &t.data[..];
        let corrupt = IndexError::Corrupt("sample record cut short");
        let flags = *data.get(self.pos).ok_or(corrupt.clone())?;
        self.pos += 1;
        let mut s = self.prev;
        s.sync = flags & F_SYNC != 0;
        if flags & F_DURATION != 0 {
            let d = varint::get_u64(data, &mut self.pos).ok_or(corrupt.clone())?;
            s.duration = u32::try_from(d).map_err(|_| IndexError::Corrupt("duration"))?;
        }
        if flags & F_CTS != 0 {
            let c = varint::get_i64(data, &mut self.pos).ok_or(corrupt.clone())?;
            s.cts_offset = i32::try_from(c).map_err(|_| IndexError::Corrupt("cts"))?;
        }
        if flags & F_GAP != 0 {
            let g = varint::get_i64(data, &mut self.pos).ok_or(corrupt.clone())?;
            s.offset = s
                .offset
                .checked_add_signed(g)
                .ok_or(IndexError::Corrupt("offset"))?;
        }
        if flags & F_SAME_SIZE == 0 {
            let z = varint::get_u64(data, &mut self.pos).ok_or(corrupt)?;
            s.size = u32::try_from(z).map_err(|_| IndexError::Corrupt("size"))?;
        } else {
            s.size = self.prev_size.ok_or(IndexError::Corrupt("size"))?;
        }
        self.prev = s;
        self.prev_size = Some(s.size);
        self.next += 1;
        Ok(s)
    }
}

impl Iterator for SampleCursor<'_> {
    type Item = Result<Sample>;
    fn next(&mut self) -> Option<Result<Sample>> {
        if self.next >= self.end {
            return None;
        }
        let r = self.decode_one();
        if r.is_err() {
            self.end = self.next;
        }
        Some(r)
    }
}

impl MediaIndex {
    /// The first-sample reads this index still wants (see [`FrameProbe`]).
    pub fn frame_probes(&self) -> Vec<FrameProbe> {
        self.tracks
            .iter()
            // A fragment-level track's first "sample" starts with a moof.
            .filter(|t| t.channels_in_stream && t.stream_channels.is_none() && !t.fragment_level)
            .filter_map(|t| {
                let s = t.sample(0).ok()?;
                Some(FrameProbe {
                    track_id: t.info.track_id,
                    offset: s.offset,
                    len: u64::from(s.size).min(crate::mp4::dts::CORE_HEADER_LEN),
                })
            })
            .collect()
    }

    /// This index with what the first samples of its probed tracks say:
    /// `heads` are (track ID, the bytes a [`FrameProbe`] asked for). Heads
    /// that do not parse leave the sample entry's count in place.
    pub fn with_frame_heads(&self, heads: &[(u32, &[u8])]) -> Result<MediaIndex> {
        let mut counts: Vec<(u32, u16)> = self
            .tracks
            .iter()
            .filter_map(|t| Some((t.info.track_id, t.stream_channels?)))
            .collect();
        for &(id, head) in heads {
            let probed = self.track(id).is_some_and(|t| t.channels_in_stream);
            if let Some(c) = crate::mp4::dts::core_frame_channels(head).filter(|_| probed) {
                counts.retain(|e| e.0 != id);
                counts.push((id, c));
            }
        }
        if counts.is_empty() {
            return Ok(self.clone());
        }
        // A copy of the blob (not of media payload), once per cold index
        // of a file with such tracks.
        let mut blob = self
            .blob
            .get(..self.trailer_at)
            .ok_or(IndexError::Corrupt("trailer position"))?
            .to_vec();
        blob::put_trailer(&mut blob, &counts)?;
        MediaIndex::from_blob(Bytes::from(blob))
    }
}

/// Indexes a file held entirely in memory (tests, benchmarks, the native
/// CLI); the edge instead drives [`crate::mp4::walk::locate_moov`] with
/// range reads.
pub fn index_whole_file(file: &Bytes, etag: &str) -> Result<MediaIndex> {
    use crate::mp4::walk::{locate_moov, Probe};
    let size = file.len() as u64;
    let idx = match locate_moov(file, 0, 0, size)? {
        Probe::Moov { offset, size: len } => {
            let moov = file.slice(offset as usize..(offset + len) as usize);
            if crate::mp4::moov::has_mvex(&moov, offset) {
                let mut scan = crate::mp4::fragments::FragmentScan::new(offset + len, size);
                scan.feed(0, file)?;
                build_fragmented(moov, offset, size, etag, &scan.moofs)?
            } else {
                build(moov, offset, size, etag)?
            }
        }
        Probe::Need { .. } => {
            return Err(IndexError::Corrupt("whole file given but walk wants more"))
        }
    };
    let probes = idx.frame_probes();
    if probes.is_empty() {
        return Ok(idx);
    }
    let heads: Vec<(u32, &[u8])> = probes
        .iter()
        .filter_map(|p| {
            let at = usize::try_from(p.offset).ok()?;
            Some((p.track_id, file.get(at..at.checked_add(p.len as usize)?)?))
        })
        .collect();
    idx.with_frame_heads(&heads)
}

#[cfg(test)]
pub(crate) mod tests;
