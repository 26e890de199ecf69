//! The set summary: what the manifests of a title need from its samples,
//! computed once and cached, so a warm manifest that misses the output
//! cache is written without loading (or walking) the index blobs (issue 11,
//! "warm costs independent of title length").
//!
//! A manifest measures every segment of every track: its boundaries on the
//! shared timeline, its byte size (HLS `BANDWIDTH` is the peak segment
//! bitrate and `AVERAGE-BANDWIDTH` the average, RFC 8216bis §4.4.6.2; DASH
//! `SegmentTimeline` durations, ISO/IEC 23009-1 §5.3.9.6; Smooth chunk
//! durations, MS-SSTR §2.2.2.6), the first keyframe's size of each segment
//! for I-frame playlists (RFC 8216bis §4.4.6.3) and the SAP type of the
//! segment starts. For a 2 h title that is ~1 200 segments a track, found
//! among ~510 000 samples of a ~2.3 MB index. The summary holds just that,
//! plus each file's header-only index ([`MediaIndex::header_blob`]: codec,
//! size, language — what [`crate::media_set::MediaSet`] names), the shared
//! and own timelines and the set's tracks: tens of kilobytes.
//!
//! Two kinds of track are measured from more of their sample tables, and
//! their summaries carry that too (layout 2; layout 1 left their sets to
//! the indexes):
//! - a track with several sample descriptions sends each sync sample with
//!   its description's parameter sets in-band (ISO/IEC 14496-15 §5.4.2,
//!   §8.4.1; [`crate::index::TrackIndex::lead_bytes`]), which its segment
//!   sizes (HLS `BANDWIDTH`) and I-frame byte ranges count;
//! - the HLS variants of an interleaved fragmented file compare the first
//!   fragment offset of each segment of its fragment-level tracks, to see
//!   whether the audio shares the video's fragments and count them once
//!   (`manifest::hls` `shared_fragment_overhead`).
//!
//! Layout (varints, [`crate::index::varint`]; `str` is a length and bytes),
//! version [`SUMMARY_VERSION`]:
//! ```text
//! "EPSM" version:u32be index_version:u32be
//! files:n { path:str header_blob:bytes }
//! tracks:n { file track name:str bitrate language:str own:u8 [timeline] }
//! timeline
//! per track: sap:u8 rates: cmaf_peak cmaf_average ts_peak ts_average
//!     iframe_peak
//!   part, behind its length: segments:n { number±, first sample±,
//!     samples, start±, duration, payload }
//!     keys:u8 [length, per segment: size cts:u8]
//!     leads:u8 [per segment: lead first_lead]
//!     offsets:u8 [per segment with samples: offset±]
//!   runs, behind its length: n { has_t:u8 [t] d r }
//!   smooth runs, behind its length (0: the same as `runs`)
//! timeline = timescale target_ms end± aligned:n {u8} starts: first± runs:n
//!   { delta± repeat }
//! ```
//! (± zigzag; a segment's number, first sample and start are written
//! relative to the previous segment's end, so regular titles cost a few
//! bytes a segment.) `keys`: video tracks with sample tables (I-frame
//! playlists). `leads`: tracks with several sample descriptions only —
//! the in-band parameter set bytes of the segment and of its first
//! sample. `offsets`: fragment-level tracks only — the first sample's
//! byte offset, relative to the previous one's plus its segment's
//! payload (contiguous fragments cost a byte). A track with neither pays
//! a flag byte for each (two bytes more than layout 1); leads are read
//! back at most [`MAX_LEAD`].
//!
//! Each track's part (`per track` above) and its keys list are written
//! behind their lengths (layout 3), so a set is read from a summary
//! without reading its segments: a track's segments are decoded the first
//! time a manifest asks for them, its keys when an I-frame playlist does.
//! A media playlist names one track, so it decodes that one (one of the 2
//! of a 2 h title, one of the 8 of a typical ABR ladder), not all of them.
//!
//! `runs` (layout 4) is the track's DASH `SegmentTimeline` in HNS
//! ([`crate::timeline::hns`]), computed from its segments when the summary
//! is written: an MPD reads those (~900 runs for the AAC track of a 2 h
//! title, one for its video) and the SAP types, and no track's part. The
//! SAP type sits before the part for the same reason (`@startWithSAP`),
//! and so do the track's HLS bitrates (`rates`, what a multivariant
//! playlist writes), measured from every segment when the summary is
//! written: a warm multivariant playlist reads no track's part.
//! `smooth runs` are the Smooth fragments as runs
//! ([`crate::manifest::smooth::chunk_runs`]: no chaining, zero-length
//! fragments left out), written only when they differ from `runs`.
//!
//! It is cache data but read like input: every count is capped before it
//! drives a loop or an allocation, every index checked; anything wrong is
//! `None`, and the caller builds the set from the indexes as if nothing
//! were cached; a track's part that proves unreadable when first read is
//! the manifest's error ([`TimelineError::Summary`]), never a guess. Its
//! key ([`key`]) names the source versions, the index and
//! summary versions, the crate version (the timeline rules) and every
//! setting that changes the set: segment duration, fragment-table policy
//! and the `.ism`'s track selections.

use crate::index::varint::{get_i64, get_u64, put_i64, put_u64};
use crate::index::{MediaIndex, INDEX_VERSION};
use crate::manifest::hls::{self, Rates};
use crate::media_set::{MediaSet, Selection, SetTrack, SourceFile};
use crate::model::TrackKind;
use crate::service::Config;
use crate::source::freshness::{Clock, Record};
use crate::source::Cache;
use crate::timeline::hns::{self, HnsRun};
use crate::timeline::sap::SapType;
use crate::timeline::{Timeline, TimelineError, TrackSegment, MAX_TIMELINE_SEGMENTS};
use crate::url::Format;
use bytes::Bytes;
use std::sync::Arc;

/// Layout version of a summary; part of its key too.
/// 2: `leads` and `offsets` (sets with in-band parameter sets and
/// interleaved fragment-level tracks are summarized too).
/// 3: each track's part behind its length (read when first asked for).
/// 4: each track's SAP type before its part, its DASH timeline after it.
pub const SUMMARY_VERSION: u32 = 4;

const MAGIC: &[u8; 4] = b"EPSM";

/// Most files a summary may name (a urlset or `.ism` of more is built
/// from its indexes each time).
pub const MAX_FILES: usize = 64;

/// Most tracks a summary may hold (of the set, and of one file's index).
pub const MAX_TRACKS: usize = 256;

/// Longest path, name or language read back.
const MAX_STRING: usize = 4096;

/// Largest header-only index read back (sample entries with parameter
/// sets are at most a few kilobytes a track).
const MAX_HEADER_BLOB: usize = 1 << 20;

/// Largest in-band parameter set bytes read back for one segment or
/// sample: a 2 h title's segment holds a few keyframes of at most a few
/// kilobytes of parameter sets each; a wrapping sum must not reach a
/// BANDWIDTH.
pub const MAX_LEAD: u64 = u32::MAX as u64;

/// What the manifests measure from samples, for every track of a set:
/// each track's part of the summary, decoded when first asked for.
#[derive(Debug)]
pub struct Derived {
    tracks: Vec<Packed>,
}

/// One track's part of a summary, and what reading it needs.
#[derive(Debug)]
struct Packed {
    file: usize,
    track: usize,
    /// What the track's header-only index says: the lists it may carry.
    video: bool,
    fragment_level: bool,
    /// Read with the set: a DASH `@startWithSAP` needs it, not the
    /// segments.
    sap: SapType,
    /// Read with the set: what a multivariant playlist says of the track.
    rates: TrackRates,
    /// Segments and their lists.
    part: Lazy<TrackDerived>,
    /// The DASH `SegmentTimeline` of the segments (what an MPD reads).
    runs: Lazy<Vec<HnsRun>>,
    /// The Smooth fragment runs (what a client manifest reads); no bytes
    /// when they are the DASH runs (any track whose segments follow on
    /// from each other).
    smooth: Lazy<Vec<HnsRun>>,
}

/// Bytes of a summary (a slice, no copy) decoded the first time they are
/// asked for, and kept: a part a manifest does not use is never read.
#[derive(Debug)]
struct Lazy<T> {
    bytes: Bytes,
    /// `None` inside: the bytes are unreadable.
    decoded: std::sync::OnceLock<Option<T>>,
}

impl<T> Lazy<T> {
    fn new(bytes: Bytes) -> Lazy<T> {
        Lazy {
            bytes,
            decoded: std::sync::OnceLock::new(),
        }
    }

    /// The value `read` decodes (once), `None` when it fails or leaves
    /// bytes unread.
    fn get(&self, read: impl FnOnce(&mut Reader) -> Option<T>) -> Option<&T> {
        self.decoded
            .get_or_init(|| {
                let mut r = Reader {
                    b: self.bytes.clone(),
                    pos: 0,
                };
                read(&mut r).filter(|_| r.pos == r.b.len())
            })
            .as_ref()
    }
}

impl Derived {
    fn packed(&self, file: usize, track: usize) -> Option<&Packed> {
        self.tracks
            .iter()
            .find(|t| t.file == file && t.track == track)
    }

    /// The data of track `track` of file `file`: `Ok(None)` when the
    /// summary has no such track, an error when its part is unreadable.
    pub fn track(&self, file: usize, track: usize) -> Result<Option<&TrackDerived>, TimelineError> {
        let Some(p) = self.packed(file, track) else {
            return Ok(None);
        };
        p.part
            .get(|r| r.track(p.file, p.track, p.video, p.fragment_level))
            .map(Some)
            .ok_or(TimelineError::Summary { file, track })
    }

    /// The bitrates of the track's (unclipped) segments, `None` when the
    /// summary has no such track.
    pub fn rates(&self, file: usize, track: usize) -> Option<&TrackRates> {
        self.packed(file, track).map(|p| &p.rates)
    }

    /// The SAP type of the track's segment starts, `None` when the
    /// summary has no such track.
    pub fn sap(&self, file: usize, track: usize) -> Option<SapType> {
        self.packed(file, track).map(|p| p.sap)
    }

    /// The DASH `SegmentTimeline` of the track's (unclipped) segments:
    /// `Ok(None)` when the summary has no such track, an error when its
    /// runs are unreadable.
    pub fn runs(&self, file: usize, track: usize) -> Result<Option<&[HnsRun]>, TimelineError> {
        let Some(p) = self.packed(file, track) else {
            return Ok(None);
        };
        read_runs(&p.runs, file, track)
    }

    /// The Smooth fragment runs of the track's (unclipped) segments
    /// ([`crate::manifest::smooth::chunk_runs`]), as [`Derived::runs`].
    pub fn smooth_runs(
        &self,
        file: usize,
        track: usize,
    ) -> Result<Option<&[HnsRun]>, TimelineError> {
        let Some(p) = self.packed(file, track) else {
            return Ok(None);
        };
        if p.smooth.bytes.is_empty() {
            return self.runs(file, track);
        }
        read_runs(&p.smooth, file, track)
    }
}

/// A track's runs list, decoded on first use; unreadable bytes are the
/// track's summary error.
fn read_runs(
    runs: &Lazy<Vec<HnsRun>>,
    file: usize,
    track: usize,
) -> Result<Option<&[HnsRun]>, TimelineError> {
    runs.get(Reader::runs)
        .map(|r| Some(r.as_slice()))
        .ok_or(TimelineError::Summary { file, track })
}

/// What a multivariant playlist says of a track, measured from all its
/// segments ([`crate::manifest::hls::measure_rates`],
/// [`crate::manifest::hls::iframe_peak`]) when the summary is written: a
/// warm multivariant playlist then costs the same for a 2 h title as for
/// a clip.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackRates {
    /// fMP4 (CMAF) segments.
    pub cmaf: Rates,
    /// MPEG-TS segments (`m3u8-aapl`, `m3u8-aapl-v3`).
    pub ts: Rates,
    /// The highest I-frame bitrate of a video track with sample tables
    /// (0 for any other).
    pub iframe_peak: u64,
}

/// One track's segments (unclipped, on the timeline it is cut on) and
/// what an I-frame playlist and a DASH `@startWithSAP` need.
#[derive(Debug)]
pub struct TrackDerived {
    pub file: usize,
    pub track: usize,
    pub segments: Vec<TrackSegment>,
    /// Per segment (same order): the first sample's size and whether it
    /// has a composition offset. Video tracks with sample tables only
    /// (fragment-level tracks have no I-frame playlist); else empty.
    /// Only I-frame playlists ask, so they stay unread until one does.
    keys: Lazy<Vec<(u32, bool)>>,
    /// Per segment: the in-band parameter set bytes of the segment and of
    /// its first sample ([`crate::index::TrackIndex::lead_bytes`]). Tracks
    /// with several sample descriptions only; else empty (every lead 0).
    leads: Vec<Lead>,
    /// Per segment: the byte offset of its first sample (`None`: the
    /// segment has no sample). Fragment-level tracks only; else empty.
    offsets: Vec<Option<u64>>,
}

/// In-band parameter set bytes of one segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lead {
    /// Before every sync sample of the segment.
    pub segment: u64,
    /// Before its first sample (what its I-frame carries).
    pub first: u64,
}

impl TrackDerived {
    /// Position of segment `number` in [`TrackDerived::segments`]: where
    /// numbers follow on from the first (every track on the shared
    /// timeline) without a search, else by one.
    fn at(&self, number: u32) -> Option<usize> {
        let first = self.segments.first()?.number;
        let guess = number.checked_sub(first)? as usize;
        if self.segments.get(guess).is_some_and(|s| s.number == number) {
            return Some(guess);
        }
        self.segments
            .binary_search_by_key(&number, |s| s.number)
            .ok()
    }

    /// [`MediaSet::first_sample`] of segment `number` (`None` also when
    /// the list is unreadable).
    pub fn first_sample(&self, number: u32) -> Option<(u32, bool)> {
        let at = self.at(number)?;
        let n = self.segments.len();
        self.keys
            .get(|r| {
                // Without keys (not a video track with sample tables): an
                // empty list, as no segment has one.
                if r.b.is_empty() {
                    return Some(Vec::new());
                }
                (0..n)
                    .map(|_| Some((r.u32()?, r.flag()?)))
                    .collect::<Option<Vec<_>>>()
            })?
            .get(at)
            .copied()
    }

    /// The in-band parameter set bytes of segment `number`
    /// ([`MediaSet::lead_bytes`]): none for a track with one description
    /// (no lookup: a manifest asks for every segment of every track), and
    /// `None` for a segment of another track the summary does not list.
    pub fn lead(&self, number: u32) -> Option<Lead> {
        if self.leads.is_empty() {
            return Some(Lead::default());
        }
        self.leads.get(self.at(number)?).copied()
    }

    /// The byte offset of the first sample of segment `number`
    /// ([`MediaSet::first_offsets`]): `None` for a segment the summary
    /// does not list, `Some(None)` for one without samples.
    pub fn first_offset(&self, number: u32) -> Option<Option<u64>> {
        self.offsets.get(self.at(number)?).copied()
    }
}

/// The cache key of the summary of the set of `paths` at `versions`
/// (ETags or `size:{n}`, as the version records hold them), selected by
/// `sels` under `cfg`. `None` when it would be too long for a cache key.
pub fn key(
    paths: &[String],
    sels: &Option<Vec<Selection>>,
    versions: &[String],
    cfg: &Config,
) -> Option<String> {
    if paths.len() != versions.len() || paths.len() > MAX_FILES {
        return None;
    }
    // The selections (names, bitrates, languages of an `.ism`) are long:
    // their hash stands for them, next to the paths and versions in clear.
    let sels = crate::http::etag::of_body(format!("{sels:?}").as_bytes());
    let mut k = format!(
        "sum/v{SUMMARY_VERSION}/i{INDEX_VERSION}/{}/{}ms/{:?}/{sels}",
        env!("CARGO_PKG_VERSION"),
        cfg.segment_ms,
        cfg.fragment_tables,
    );
    for (p, v) in paths.iter().zip(versions) {
        k.push('/');
        k.push_str(p);
        k.push('=');
        k.push_str(v);
    }
    (k.len() <= crate::outputs::MAX_KEY_LEN).then_some(k)
}

/// The versions of `paths` their records name, when every record is
/// there and fresh ([`crate::source::freshness`]): what [`key`] needs
/// without loading an index.
pub fn cached_versions(
    paths: &[String],
    cache: &mut dyn Cache,
    clock: Clock,
) -> Option<Vec<String>> {
    paths
        .iter()
        .map(|p| {
            let record = Record::decode(&cache.get(&crate::outputs::tag_key(p))?);
            record.is_fresh(clock).then_some(record.version)
        })
        .collect()
}

/// The summary of `set`, a set just built from its indexes (no filter
/// view): every track's segments are located here, once.
pub fn encode(set: &MediaSet) -> Result<Vec<u8>, TimelineError> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&SUMMARY_VERSION.to_be_bytes());
    out.extend_from_slice(&INDEX_VERSION.to_be_bytes());
    put_u64(&mut out, set.files.len() as u64);
    for f in &set.files {
        put_bytes(&mut out, f.path.as_bytes());
        put_bytes(&mut out, &f.index.header_blob()?);
    }
    put_u64(&mut out, set.tracks.len() as u64);
    for (i, t) in set.tracks.iter().enumerate() {
        put_u64(&mut out, t.file as u64);
        put_u64(&mut out, t.track as u64);
        put_bytes(&mut out, t.name.as_bytes());
        put_u64(&mut out, t.bitrate);
        put_bytes(&mut out, t.language.as_bytes());
        match set.own_timelines.get(i).and_then(Option::as_ref) {
            Some(own) => {
                out.push(1);
                put_timeline(&mut out, own);
            }
            None => out.push(0),
        }
    }
    put_timeline(&mut out, &set.timeline);
    for t in &set.tracks {
        // Located once: the rates, the part and the runs all measure them.
        let idx = set.track_index(t);
        let segs = set.timeline_of(t).track_segments(idx)?;
        out.push(set.track_sap(t)? as u8);
        for format in [Format::HlsCmaf, Format::HlsTs] {
            let r = hls::measure_rates(set, t, &segs, format)?;
            put_u64(&mut out, r.peak);
            put_u64(&mut out, r.average);
        }
        let iframes = idx.is_video() && !idx.fragment_level;
        put_u64(
            &mut out,
            if iframes {
                hls::iframe_peak(set, t, &segs)?
            } else {
                0
            },
        );
        put_bytes(&mut out, &encode_track(set, t, &segs)?);
        let runs = hns::runs_of(&segs, idx.info.timescale);
        put_bytes(&mut out, &encode_runs(&runs));
        let smooth = crate::manifest::smooth::chunk_runs(&segs, idx.info.timescale);
        if smooth == runs {
            put_u64(&mut out, 0);
        } else {
            put_bytes(&mut out, &encode_runs(&smooth));
        }
    }
    Ok(out)
}

/// One track's part of the summary of `set`.
fn encode_track(
    set: &MediaSet,
    t: &SetTrack,
    segs: &[TrackSegment],
) -> Result<Vec<u8>, TimelineError> {
    let mut out = Vec::with_capacity(1024);
    let idx = set.track_index(t);
    put_u64(&mut out, segs.len() as u64);
    let mut prev: Option<&TrackSegment> = None;
    for s in segs {
        let (number, first, start) = expected(prev);
        put_i64(&mut out, i64::from(s.number) - number);
        put_i64(&mut out, i64::from(s.samples.start) - first);
        put_u64(
            &mut out,
            u64::from(s.samples.end.saturating_sub(s.samples.start)),
        );
        put_i64(&mut out, s.start.wrapping_sub(start));
        put_u64(&mut out, s.duration);
        put_u64(&mut out, s.payload);
        prev = Some(s);
    }
    let keys = idx.is_video() && !idx.fragment_level;
    out.push(u8::from(keys));
    if keys {
        let mut list = Vec::with_capacity(segs.len() * 4);
        for s in segs {
            let k = idx.sample(s.samples.start)?;
            put_u64(&mut list, u64::from(k.size));
            list.push(u8::from(k.cts_offset != 0));
        }
        put_bytes(&mut out, &list);
    }
    let leads = idx.has_in_band_parameter_sets();
    out.push(u8::from(leads));
    if leads {
        for s in segs {
            let first = s.samples.start;
            put_u64(&mut out, idx.lead_bytes(s.samples.clone()));
            put_u64(&mut out, idx.lead_bytes(first..first.saturating_add(1)));
        }
    }
    out.push(u8::from(idx.fragment_level));
    if idx.fragment_level {
        let mut prev = 0u64;
        for s in segs.iter().filter(|s| !s.samples.is_empty()) {
            let offset = idx.sample(s.samples.start)?.offset;
            put_i64(&mut out, offset.wrapping_sub(prev) as i64);
            prev = offset.wrapping_add(s.payload);
        }
    }
    Ok(out)
}

/// A track's runs (DASH or Smooth): `t` behind a flag, `d`, `r`.
fn encode_runs(runs: &[HnsRun]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + runs.len() * 6);
    put_u64(&mut out, runs.len() as u64);
    for run in runs {
        match run.t {
            Some(t) => {
                out.push(1);
                put_u64(&mut out, t);
            }
            None => out.push(0),
        }
        put_u64(&mut out, run.d);
        put_u64(&mut out, u64::from(run.r));
    }
    out
}

/// The number, first sample and start a segment has when it follows
/// `prev` without a gap (what the layout writes relative to).
fn expected(prev: Option<&TrackSegment>) -> (i64, i64, i64) {
    match prev {
        Some(p) => (
            i64::from(p.number) + 1,
            i64::from(p.samples.end),
            p.start.wrapping_add(p.duration as i64),
        ),
        None => (0, 0, 0),
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Segment starts as a first value and runs of equal deltas: a title cut
/// every 6 s is one run.
fn put_timeline(out: &mut Vec<u8>, t: &Timeline) {
    put_u64(out, u64::from(t.timescale));
    put_u64(out, u64::from(t.target_ms));
    put_i64(out, t.end);
    put_u64(out, t.aligned.len() as u64);
    out.extend(t.aligned.iter().map(|&a| u8::from(a)));
    put_u64(out, t.starts.len() as u64);
    let Some(&first) = t.starts.first() else {
        return;
    };
    put_i64(out, first);
    let mut runs: Vec<(i64, u64)> = Vec::new();
    for w in t.starts.windows(2) {
        let d = w[1].wrapping_sub(w[0]);
        match runs.last_mut() {
            Some((delta, n)) if *delta == d => *n += 1,
            _ => runs.push((d, 1)),
        }
    }
    put_u64(out, runs.len() as u64);
    for (d, n) in runs {
        put_i64(out, d);
        put_u64(out, n);
    }
}

/// Bounds-checked reader of a summary.
struct Reader {
    b: Bytes,
    pos: usize,
}

impl Reader {
    fn u(&mut self) -> Option<u64> {
        get_u64(&self.b, &mut self.pos)
    }
    fn i(&mut self) -> Option<i64> {
        get_i64(&self.b, &mut self.pos)
    }
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }
    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u()?).ok()
    }
    /// A count of at most `cap`.
    fn count(&mut self, cap: usize) -> Option<usize> {
        usize::try_from(self.u()?).ok().filter(|&n| n <= cap)
    }
    /// Length-prefixed bytes of at most `cap`, as a slice of the summary.
    fn bytes(&mut self, cap: usize) -> Option<Bytes> {
        let n = self.count(cap)?;
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len())?;
        let s = self.b.slice(self.pos..end);
        self.pos = end;
        Some(s)
    }
    /// Parameter set bytes of at most [`MAX_LEAD`].
    fn lead(&mut self) -> Option<u64> {
        self.u().filter(|&l| l <= MAX_LEAD)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes(MAX_STRING)?.to_vec()).ok()
    }
    fn flag(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn timeline(&mut self) -> Option<Timeline> {
        let timescale = self.u32()?;
        let target_ms = self.u32()?;
        let end = self.i()?;
        let n = self.count(MAX_TRACKS)?;
        let aligned = (0..n).map(|_| self.flag()).collect::<Option<Vec<_>>>()?;
        let count = self.count(MAX_TIMELINE_SEGMENTS)?;
        if timescale == 0 || count == 0 {
            return None;
        }
        let mut starts = Vec::with_capacity(count);
        starts.push(self.i()?);
        let runs = self.count(count)?;
        for _ in 0..runs {
            let (delta, repeat) = (self.i()?, self.count(count)?);
            if repeat > count - starts.len() {
                return None;
            }
            for _ in 0..repeat {
                let last = *starts.last()?;
                starts.push(last.checked_add(delta)?);
            }
        }
        (starts.len() == count).then_some(Timeline {
            timescale,
            starts,
            end,
            aligned,
            target_ms,
        })
    }

    /// A track's runs, as [`encode_runs`] writes them: a zero duration
    /// is not a segment, and more than [`MAX_TIMELINE_SEGMENTS`] segments
    /// in all (what a Smooth 2.0 manifest expands into one `<c>` each)
    /// are refused (unreadable).
    fn runs(&mut self) -> Option<Vec<HnsRun>> {
        let n = self.count(MAX_TIMELINE_SEGMENTS)?;
        let mut out = Vec::with_capacity(n);
        let mut segments = 0u64;
        for _ in 0..n {
            let t = match self.flag()? {
                true => Some(self.u()?),
                false => None,
            };
            let d = self.u().filter(|&d| d > 0)?;
            let r = self.u32()?;
            segments += u64::from(r) + 1;
            if segments > MAX_TIMELINE_SEGMENTS as u64 {
                return None;
            }
            out.push(HnsRun { t, d, r });
        }
        Some(out)
    }

    fn rates(&mut self) -> Option<Rates> {
        Some(Rates {
            peak: self.u()?,
            average: self.u()?,
        })
    }

    fn sap(&mut self) -> Option<SapType> {
        match self.u8()? {
            1 => Some(SapType::Closed),
            3 => Some(SapType::Open),
            _ => None,
        }
    }

    /// One track's data; `video` and `fragment_level` are what its
    /// header-only index says, which decide the lists it may carry.
    fn track(
        &mut self,
        file: usize,
        track: usize,
        video: bool,
        fragment_level: bool,
    ) -> Option<TrackDerived> {
        let n = self.count(MAX_TIMELINE_SEGMENTS)?;
        let mut segments: Vec<TrackSegment> = Vec::with_capacity(n);
        for _ in 0..n {
            let (number, first, start) = expected(segments.last());
            let number = u32::try_from(number.checked_add(self.i()?)?).ok()?;
            let first = u32::try_from(first.checked_add(self.i()?)?).ok()?;
            let end = first.checked_add(self.u32()?)?;
            let start = start.wrapping_add(self.i()?);
            if segments.last().is_some_and(|p| p.number >= number) {
                // Numbers must rise: segments are looked up by number.
                return None;
            }
            segments.push(TrackSegment {
                number,
                samples: first..end,
                start,
                duration: self.u()?,
                payload: self.u()?,
            });
        }
        let keys = if self.flag()? {
            if !video || fragment_level {
                return None;
            }
            // At least a byte and a flag a segment (read when asked for).
            let bytes = self.bytes(self.b.len())?;
            if bytes.len() < n.checked_mul(2)? {
                return None;
            }
            Lazy::new(bytes)
        } else {
            Lazy::new(Bytes::new())
        };
        // Several descriptions are packaged in-band for video only
        // (`mp4::descriptions`).
        let leads = if self.flag()? {
            if !video {
                return None;
            }
            (0..n)
                .map(|_| {
                    Some(Lead {
                        segment: self.lead()?,
                        first: self.lead()?,
                    })
                })
                .collect::<Option<Vec<_>>>()?
        } else {
            Vec::new()
        };
        let offsets = if self.flag()? {
            if !fragment_level {
                return None;
            }
            let mut prev = 0u64;
            let mut offsets = Vec::with_capacity(n);
            for s in &segments {
                if s.samples.is_empty() {
                    offsets.push(None);
                    continue;
                }
                let offset = prev.checked_add_signed(self.i()?)?;
                offsets.push(Some(offset));
                prev = offset.checked_add(s.payload)?;
            }
            offsets
        } else if fragment_level {
            return None;
        } else {
            Vec::new()
        };
        Some(TrackDerived {
            file,
            track,
            segments,
            keys,
            leads,
            offsets,
        })
    }
}

/// The media set a summary describes (no text tracks, captions or filter
/// view yet: the caller adds them as for a set built from indexes), or
/// `None` when the bytes are not a summary of this version.
pub fn decode(bytes: Bytes) -> Option<MediaSet> {
    let mut r = Reader { b: bytes, pos: 0 };
    let head = [
        &MAGIC[..],
        &SUMMARY_VERSION.to_be_bytes(),
        &INDEX_VERSION.to_be_bytes(),
    ]
    .concat();
    if r.b.get(..12)? != head.as_slice() {
        return None;
    }
    r.pos = 12;
    let n = r.count(MAX_FILES)?;
    let mut files = Vec::with_capacity(n);
    for _ in 0..n {
        let path = r.string()?;
        let index = MediaIndex::from_header_blob(r.bytes(MAX_HEADER_BLOB)?).ok()?;
        if index.tracks.len() > MAX_TRACKS {
            return None;
        }
        files.push(SourceFile { path, index });
    }
    let n = r.count(MAX_TRACKS)?;
    let mut tracks = Vec::with_capacity(n);
    let mut own_timelines = Vec::with_capacity(n);
    for _ in 0..n {
        let file = r.count(MAX_FILES)?;
        let track = r.count(MAX_TRACKS)?;
        let t = files.get(file)?.index.tracks.get(track)?;
        if !matches!(t.info.kind, TrackKind::Video | TrackKind::Audio) {
            return None;
        }
        tracks.push(SetTrack {
            file,
            track,
            name: r.string()?,
            bitrate: r.u()?,
            language: r.string()?,
        });
        own_timelines.push(match r.flag()? {
            true => Some(r.timeline()?),
            false => None,
        });
    }
    if tracks.is_empty() {
        return None;
    }
    let timeline = r.timeline()?;
    let mut derived = Vec::with_capacity(tracks.len());
    for t in &tracks {
        let idx = &files[t.file].index.tracks[t.track];
        derived.push(Packed {
            file: t.file,
            track: t.track,
            video: idx.is_video(),
            fragment_level: idx.fragment_level,
            sap: r.sap()?,
            rates: TrackRates {
                cmaf: r.rates()?,
                ts: r.rates()?,
                iframe_peak: r.u()?,
            },
            part: Lazy::new(r.bytes(r.b.len())?),
            runs: Lazy::new(r.bytes(r.b.len())?),
            smooth: Lazy::new(r.bytes(r.b.len())?),
        });
    }
    if r.pos != r.b.len() {
        return None;
    }
    Some(MediaSet::assembled(
        (files, tracks),
        (timeline, own_timelines),
        Some(Arc::new(Derived { tracks: derived })),
    ))
}

#[cfg(test)]
mod tests;
