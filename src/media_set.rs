//! The media set: the tracks of one title, from one or more MP4 files, with
//! the names and bitrates URLs address them by, and their shared timeline.
//!
//! Every output format reads this model (after nginx-vod-module's media
//! set); none reads the parser's structures.

use crate::filter::Clip;
use crate::index::{MediaIndex, TrackIndex};
use crate::model::TrackKind;
use crate::timeline::hns::HnsRun;
use crate::timeline::sap::{self, SapType};
use crate::timeline::{rescale, Timeline, TimelineError, TrackSegment, HNS};
use crate::url::TrackRef;
use std::borrow::Cow;
use std::fmt;

/// One source MP4 and its index.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Object path at the origin.
    pub path: String,
    pub index: MediaIndex,
}

/// A track chosen for the set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetTrack {
    /// Index into [`MediaSet::files`].
    pub file: usize,
    /// Index into that file's `tracks`.
    pub track: usize,
    /// Name in sub-resource URLs (`.ism` trackName or generated).
    pub name: String,
    /// Bitrate in sub-resource URLs (`.ism` systemBitrate or the measured
    /// average); also DASH `@bandwidth`.
    pub bitrate: u64,
    /// ISO 639-2 (or BCP 47 from an .ism) language.
    pub language: String,
}

/// A text track: a sidecar (`.vtt`, `.ttml`) an `.ism` `<textstream>` lists,
/// or a text track of one of the set's MP4 files (`tx3g`, `wvtt`, `stpp`;
/// [`TextTrack::embedded`]), cut on the shared timeline like every aligned
/// track. Everything here comes from the `.ism` and the indexes (no read of
/// a sidecar or of a text sample), so manifests and output keys never need
/// the cues; only a text segment reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextTrack {
    /// Object path of the sidecar (or of the MP4 file holding the track)
    /// at the origin.
    pub path: String,
    /// Name in sub-resource URLs: the `trackName`, or `textstream_{lang}`
    /// (Azure's own naming), made unique.
    pub name: String,
    /// `systemBitrate`, or 1000: only part of the URL.
    pub bitrate: u64,
    /// `systemLanguage` as written, `und` when absent.
    pub language: String,
    pub role: crate::input::ism::TextRole,
    /// Subtitles for the deaf and hard of hearing.
    pub sdh: bool,
    /// The sidecar's format: TTML sources are offered as IMSC1 (`stpp`)
    /// in DASH, WebVTT sources as `wvtt`. An MP4 text track counts as
    /// TTML when it is `stpp`, as WebVTT when `tx3g` or `wvtt`.
    pub format: crate::input::ism::SidecarFormat,
    /// `Some` for a text track of an MP4 file of the set (`path` is then
    /// that file's): its samples are read from the file by the index.
    pub embedded: Option<EmbeddedText>,
    /// The default text track (`default_subtitles_lang`): HLS
    /// `DEFAULT=YES`, DASH `Role` `main`.
    pub default: bool,
}

/// Where an MP4 text track is: a track of a file of the set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmbeddedText {
    /// Index into [`MediaSet::files`].
    pub file: usize,
    /// Index into that file's `tracks`.
    pub track: usize,
    pub format: crate::mp4::text::TextFormat,
}

impl TextTrack {
    /// The bitrate a text track gets in URLs when the `.ism` gives none.
    pub const DEFAULT_BITRATE: u64 = 1000;
}

/// Which track of which file to take (from an `.ism` element, or "all").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub file: usize,
    pub track_id: Option<u32>,
    pub kind: Option<TrackKind>,
    pub name: Option<String>,
    pub bitrate: Option<u64>,
    pub language: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetError {
    /// An `.ism` names a track the file does not have.
    MissingTrack {
        path: String,
        what: String,
    },
    Timeline(TimelineError),
    Empty,
}

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::MissingTrack { path, what } => write!(f, "{path} has no {what}"),
            SetError::Timeline(e) => e.fmt(f),
            SetError::Empty => write!(f, "no audio or video track to package"),
        }
    }
}

impl std::error::Error for SetError {}

impl From<TimelineError> for SetError {
    fn from(e: TimelineError) -> Self {
        SetError::Timeline(e)
    }
}

#[derive(Clone, Debug)]
pub struct MediaSet {
    pub files: Vec<SourceFile>,
    pub tracks: Vec<SetTrack>,
    /// The shared timeline every aligned track follows.
    pub timeline: Timeline,
    /// Per track (same order as `tracks`): `Some` for a video rendition
    /// whose keyframes do not align with the reference (see `timeline`),
    /// cut on a timeline of its own keyframes instead. HLS and DASH serve
    /// such renditions (HLS variants need not align; DASH puts each in an
    /// AdaptationSet of its own); Smooth Streaming, whose chunks are shared
    /// by every QualityLevel of a StreamIndex, leaves them out and says so.
    pub own_timelines: Vec<Option<Timeline>>,
    /// A filter's time range as whole segments ([`crate::filter`]): the
    /// manifests list only these, with their unclipped numbers and times.
    pub clip: Option<Clip>,
    /// Options a child manifest URL (an HLS media playlist) repeats so it
    /// gets the same view, e.g. `,filter=a;b,max_bitrate=3000000`.
    pub child_options: String,
    /// Text tracks (sidecars), on the shared timeline.
    pub texts: Vec<TextTrack>,
    /// CEA-608/708 captions the video carries, as declared (the `.ism`,
    /// else the setting `closed_captions`); `None`: not declared.
    pub captions: Option<crate::input::captions::Captions>,
    /// Segments of fragment-level tracks with their real samples, read from
    /// their moofs for this request ([`crate::service::moofs`]).
    pub expanded: Vec<Expanded>,
    /// What manifests measure from samples, when this set was read from a
    /// cached set summary ([`crate::summary`]): its files' indexes are then
    /// header-only, and [`MediaSet::segments`], [`MediaSet::track_sap`],
    /// [`MediaSet::first_sample`], [`MediaSet::lead_bytes`],
    /// [`MediaSet::first_lead_bytes`] and [`MediaSet::first_offsets`]
    /// answer from here.
    pub derived: Option<std::sync::Arc<crate::summary::Derived>>,
}

/// One segment of a fragment-level track (see
/// [`crate::index::build_fragment_level`]) with the real samples of its
/// fragments: an index of just those, and the segment over all of them.
#[derive(Clone, Debug)]
pub struct Expanded {
    pub file: usize,
    pub track: usize,
    pub segment: TrackSegment,
    pub index: TrackIndex,
}

impl MediaSet {
    /// Every audio and video track of every file.
    pub fn all_tracks(files: Vec<SourceFile>, target_ms: u32) -> Result<MediaSet, SetError> {
        let selections = (0..files.len())
            .flat_map(|f| {
                files[f].index.tracks.iter().map(move |t| Selection {
                    file: f,
                    track_id: Some(t.info.track_id),
                    ..Selection::default()
                })
            })
            .collect();
        Self::build(files, selections, target_ms)
    }

    /// The tracks `selections` name, in that order.
    pub fn build(
        files: Vec<SourceFile>,
        selections: Vec<Selection>,
        target_ms: u32,
    ) -> Result<MediaSet, SetError> {
        let mut tracks = Vec::new();
        for sel in &selections {
            let Some(file) = files.get(sel.file) else {
                return Err(SetError::Empty);
            };
            let found = file.index.tracks.iter().position(|t| {
                sel.track_id.is_none_or(|id| t.info.track_id == id)
                    && sel.kind.is_none_or(|k| t.info.kind == k)
            });
            let Some(track) = found else {
                let what = match sel.track_id {
                    Some(id) => format!("track {id}"),
                    None => {
                        format!("{:?} track", sel.kind.unwrap_or(TrackKind::Other)).to_lowercase()
                    }
                };
                return Err(SetError::MissingTrack {
                    path: file.path.clone(),
                    what,
                });
            };
            let t = &file.index.tracks[track];
            if !matches!(t.info.kind, TrackKind::Video | TrackKind::Audio) {
                continue;
            }
            tracks.push(SetTrack {
                file: sel.file,
                track,
                name: sel.name.clone().unwrap_or_default(),
                bitrate: sel.bitrate.unwrap_or(t.info.avg_bitrate).max(1),
                language: sel
                    .language
                    .clone()
                    .unwrap_or_else(|| t.info.language.clone()),
            });
        }
        if tracks.is_empty() {
            return Err(SetError::Empty);
        }
        name_tracks(&files, &mut tracks);
        // Video first so the reference track is the first video rendition.
        let order: Vec<usize> = (0..tracks.len())
            .filter(|&i| files[tracks[i].file].index.tracks[tracks[i].track].is_video())
            .chain(
                (0..tracks.len())
                    .filter(|&i| !files[tracks[i].file].index.tracks[tracks[i].track].is_video()),
            )
            .collect();
        let tracks: Vec<SetTrack> = order.into_iter().map(|i| tracks[i].clone()).collect();
        let indexes: Vec<&TrackIndex> = tracks
            .iter()
            .map(|t| &files[t.file].index.tracks[t.track])
            .collect();
        let timeline = Timeline::compute(&indexes, target_ms)?;
        let own_timelines = indexes
            .iter()
            .zip(&timeline.aligned)
            .map(|(idx, ok)| match ok {
                true => Ok(None),
                false => Timeline::compute(&[idx], target_ms).map(Some),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let aligned = vec![true; tracks.len()];
        Ok(MediaSet::assembled(
            (files, tracks),
            (
                Timeline {
                    aligned,
                    ..timeline
                },
                own_timelines,
            ),
            None,
        ))
    }

    /// A set of `files` and their selected `tracks` on `timeline`s, in
    /// its unfiltered view (no clip, texts, captions or child options):
    /// what [`MediaSet::build`] computes, and what a cached set summary
    /// decodes to (with its `derived` data).
    pub(crate) fn assembled(
        (files, tracks): (Vec<SourceFile>, Vec<SetTrack>),
        (timeline, own_timelines): (Timeline, Vec<Option<Timeline>>),
        derived: Option<std::sync::Arc<crate::summary::Derived>>,
    ) -> MediaSet {
        MediaSet {
            files,
            tracks,
            timeline,
            own_timelines,
            clip: None,
            child_options: String::new(),
            texts: Vec::new(),
            captions: None,
            expanded: Vec::new(),
            derived,
        }
    }

    /// Keeps the tracks `order` lists (indexes into `tracks`), in that
    /// order: the track subset and rendition order of a filtered view.
    /// Timelines are untouched, so segments keep their numbers and times.
    pub fn view_tracks(&mut self, order: &[usize]) {
        let pick = |i: &usize| (self.tracks[*i].clone(), self.own_timelines[*i].clone());
        let (tracks, own): (Vec<_>, Vec<_>) = order.iter().map(pick).unzip();
        self.tracks = tracks;
        self.own_timelines = own;
    }

    /// The timeline `t` is cut on: its own when it is unaligned.
    pub fn timeline_of(&self, t: &SetTrack) -> &Timeline {
        self.tracks
            .iter()
            .position(|o| o == t)
            .and_then(|i| self.own_timelines.get(i))
            .and_then(Option::as_ref)
            .unwrap_or(&self.timeline)
    }

    /// Whether `t` follows the shared timeline.
    pub fn is_aligned(&self, t: &SetTrack) -> bool {
        std::ptr::eq(self.timeline_of(t), &self.timeline)
    }

    /// Names of the renditions cut on a timeline of their own.
    pub fn unaligned(&self) -> impl Iterator<Item = &SetTrack> + '_ {
        self.tracks.iter().filter(|t| !self.is_aligned(t))
    }

    pub fn track_index(&self, t: &SetTrack) -> &TrackIndex {
        &self.files[t.file].index.tracks[t.track]
    }

    /// What segment `seg` of `t` is muxed from: the track's index and the
    /// segment, or for a fragment-level track the real samples its moofs
    /// gave ([`MediaSet::expanded`]). `None` when those were not read: a
    /// muxer must never take a fragment's pseudo-sample for a frame.
    pub fn segment_source(
        &self,
        t: &SetTrack,
        seg: &TrackSegment,
    ) -> Option<(&TrackIndex, TrackSegment)> {
        let idx = self.track_index(t);
        if !idx.fragment_level {
            return Some((idx, seg.clone()));
        }
        self.expanded
            .iter()
            .find(|e| e.file == t.file && e.track == t.track && e.segment.number == seg.number)
            .map(|e| (&e.index, e.segment.clone()))
    }

    /// The track a sub-resource URL addresses: name and bitrate must match;
    /// a name alone is accepted when it is unique (players that rewrite the
    /// bitrate, e.g. after a CDN's normalisation, still work).
    pub fn find(&self, r: &TrackRef) -> Option<&SetTrack> {
        let mut by_name = self.tracks.iter().filter(|t| t.name == r.name);
        let exact = self
            .tracks
            .iter()
            .find(|t| t.name == r.name && t.bitrate == r.bitrate);
        exact.or_else(|| {
            let first = by_name.next()?;
            by_name.next().is_none().then_some(first)
        })
    }

    /// The text track a sub-resource URL addresses (the rule of
    /// [`MediaSet::find`]).
    pub fn find_text(&self, r: &TrackRef) -> Option<&TextTrack> {
        let mut by_name = self.texts.iter().filter(|t| t.name == r.name);
        let exact = self
            .texts
            .iter()
            .find(|t| t.name == r.name && t.bitrate == r.bitrate);
        exact.or_else(|| {
            let first = by_name.next()?;
            by_name.next().is_none().then_some(first)
        })
    }

    pub fn of_kind(&self, kind: TrackKind) -> impl Iterator<Item = &SetTrack> + '_ {
        self.tracks
            .iter()
            .filter(move |t| self.track_index(t).info.kind == kind)
    }

    /// Every segment of a track on its timeline.
    /// Within a filter's clip, only the clip's: by number on the shared
    /// timeline, by start time on a rendition's own.
    /// Borrowed from the summary when the set came from one and no clip
    /// applies (a warm manifest measures every track's segments several
    /// times: no copy each time).
    pub fn segments(
        &self,
        t: &SetTrack,
    ) -> Result<std::borrow::Cow<'_, [TrackSegment]>, TimelineError> {
        let mut segs = match self.derived_of(t)? {
            Some(d) if self.clip.is_none() => return Ok(std::borrow::Cow::Borrowed(&d.segments)),
            Some(d) => d.segments.clone(),
            None => self.timeline_of(t).track_segments(self.track_index(t))?,
        };
        if let Some(clip) = &self.clip {
            if self.is_aligned(t) {
                segs.retain(|s| clip.contains(s.number));
            } else {
                let ts = self.track_index(t).info.timescale;
                segs.retain(|s| clip.covers(rescale(s.start, ts, HNS).max(0) as u64));
            }
        }
        Ok(std::borrow::Cow::Owned(segs))
    }

    /// `t`'s [`MediaSet::segments`] as a DASH `SegmentTimeline` in HNS
    /// ([`crate::timeline::hns`]): the summary's, computed when it was
    /// encoded, when the set came from one and no clip applies (a warm
    /// MPD then decodes no segment), else from the segments.
    pub fn hns_runs(&self, t: &SetTrack) -> Result<Cow<'_, [HnsRun]>, TimelineError> {
        self.runs(
            t,
            |d| d.runs(t.file, t.track),
            crate::timeline::hns::runs_of,
        )
    }

    /// `t`'s [`MediaSet::segments`] as Smooth fragment runs
    /// ([`crate::manifest::smooth::chunk_runs`]): the summary's when the
    /// set came from one and no clip applies, else from the segments.
    pub fn smooth_runs(&self, t: &SetTrack) -> Result<Cow<'_, [HnsRun]>, TimelineError> {
        self.runs(
            t,
            |d| d.smooth_runs(t.file, t.track),
            crate::manifest::smooth::chunk_runs,
        )
    }

    /// Runs of `t`: `stored` in the summary (unclipped sets), else
    /// `compute`d from its segments in its timescale.
    fn runs<'a>(
        &'a self,
        t: &SetTrack,
        stored: impl FnOnce(&'a crate::summary::Derived) -> Result<Option<&'a [HnsRun]>, TimelineError>,
        compute: fn(&[TrackSegment], u32) -> Vec<HnsRun>,
    ) -> Result<Cow<'a, [HnsRun]>, TimelineError> {
        if let (None, Some(d)) = (&self.clip, &self.derived) {
            if let Some(runs) = stored(d)? {
                return Ok(Cow::Borrowed(runs));
            }
        }
        let ts = self.track_index(t).info.timescale;
        Ok(Cow::Owned(compute(&self.segments(t)?, ts)))
    }

    /// The bitrates the set summary measured for `t` (HLS `BANDWIDTH` and
    /// `AVERAGE-BANDWIDTH` in fMP4 and TS, its I-frames' peak), when the
    /// set came from one and no clip applies (a clip has rates of its
    /// own).
    pub fn summary_rates(&self, t: &SetTrack) -> Option<&crate::summary::TrackRates> {
        if self.clip.is_some() {
            return None;
        }
        self.derived.as_ref()?.rates(t.file, t.track)
    }

    /// The summary's data of `t`, when the set was read from one (an
    /// error when its part of the summary is unreadable: the index is
    /// header-only then, and cannot stand in).
    fn derived_of(
        &self,
        t: &SetTrack,
    ) -> Result<Option<&crate::summary::TrackDerived>, TimelineError> {
        match &self.derived {
            Some(d) => d.track(t.file, t.track),
            None => Ok(None),
        }
    }

    /// SAP type of `t`'s segment starts ([`sap::track_sap`], from the
    /// sync table, or the summary's).
    pub fn track_sap(&self, t: &SetTrack) -> Result<SapType, TimelineError> {
        match self.derived.as_ref().and_then(|d| d.sap(t.file, t.track)) {
            Some(sap) => Ok(sap),
            None => Ok(sap::track_sap(self.track_index(t))?),
        }
    }

    /// Size of the first sample of segment `seg` of `t`, and whether it
    /// has a composition offset: what an I-frame playlist entry measures
    /// (RFC 8216 §4.3.3.6).
    pub fn first_sample(
        &self,
        t: &SetTrack,
        seg: &TrackSegment,
    ) -> Result<(u32, bool), TimelineError> {
        if let Some(d) = self.derived_of(t)? {
            return d.first_sample(seg.number).ok_or_else(|| {
                TimelineError::NoSuchSegment(format!("{} in the set summary", seg.number))
            });
        }
        let key = self.track_index(t).sample(seg.samples.start)?;
        Ok((key.size, key.cts_offset != 0))
    }

    /// Bytes of in-band parameter sets segment `seg` of `t` is sent with
    /// ([`TrackIndex::lead_bytes`]: a track with several sample
    /// descriptions sends each sync sample with its description's
    /// parameter sets, ISO/IEC 14496-15 §5.4.2, §8.4.1), from the index or
    /// the summary: 0 for a track with one description.
    pub fn lead_bytes(&self, t: &SetTrack, seg: &TrackSegment) -> Result<u64, TimelineError> {
        match self.derived_of(t)? {
            Some(d) => Ok(summary_lead(d, seg)?.segment),
            None => Ok(self.track_index(t).lead_bytes(seg.samples.clone())),
        }
    }

    /// [`MediaSet::lead_bytes`] of the first sample of `seg` alone: what
    /// its I-frame carries before the keyframe's NAL units.
    pub fn first_lead_bytes(&self, t: &SetTrack, seg: &TrackSegment) -> Result<u64, TimelineError> {
        match self.derived_of(t)? {
            Some(d) => Ok(summary_lead(d, seg)?.first),
            None => {
                let first = seg.samples.start;
                Ok(self
                    .track_index(t)
                    .lead_bytes(first..first.saturating_add(1)))
            }
        }
    }

    /// The file offset of the first sample of each of `t`'s
    /// [`MediaSet::segments`], from the index or the summary: what tells
    /// whether two fragment-level tracks of one file are cut on the same
    /// fragments (`manifest::hls`). `None` when a segment has no sample or
    /// the index cannot tell, and for a track that is not fragment-level
    /// (a summary carries the offsets of fragment-level tracks only).
    pub fn first_offsets(&self, t: &SetTrack) -> Result<Option<Vec<u64>>, TimelineError> {
        let idx = self.track_index(t);
        if !idx.fragment_level {
            return Ok(None);
        }
        let segs = self.segments(t)?;
        if let Some(d) = self.derived_of(t)? {
            let found = segs
                .iter()
                .map(|s| {
                    d.first_offset(s.number).ok_or_else(|| {
                        TimelineError::NoSuchSegment(format!("{} in the set summary", s.number))
                    })
                })
                .collect::<Result<Vec<Option<u64>>, _>>()?;
            return Ok(found.into_iter().collect());
        }
        let mut out = Vec::with_capacity(segs.len());
        for s in segs.iter() {
            match idx.samples(s.samples.clone()).map(|mut i| i.next()) {
                Ok(Some(Ok(first))) => out.push(first.offset),
                _ => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// Duration of the title in seconds: its longest track's presentation.
    pub fn duration_secs(&self) -> f64 {
        if let Some(clip) = &self.clip {
            return clip.duration_secs();
        }
        self.tracks
            .iter()
            .map(|t| {
                // Where the edit list ends the track (after a delay, a
                // start trim, an end trim or cuts), not the media's length.
                let i = self.track_index(t);
                let end = crate::timeline::presentation_end(i).max(0);
                end as f64 / f64::from(i.info.timescale)
            })
            .fold(0.0, f64::max)
    }
}

/// The summary's leads of `seg` (a segment of the track `d` describes).
fn summary_lead(
    d: &crate::summary::TrackDerived,
    seg: &TrackSegment,
) -> Result<crate::summary::Lead, TimelineError> {
    d.lead(seg.number)
        .ok_or_else(|| TimelineError::NoSuchSegment(format!("{} in the set summary", seg.number)))
}

/// Gives unnamed tracks a name ("video", "audio", or "audio_{lang}" when a
/// title has several audio tracks) and makes (name, bitrate) unique.
fn name_tracks(files: &[SourceFile], tracks: &mut [SetTrack]) {
    let kind = |t: &SetTrack| files[t.file].index.tracks[t.track].info.kind;
    let audio_count = tracks
        .iter()
        .filter(|t| kind(t) == TrackKind::Audio)
        .count();
    for t in tracks.iter_mut() {
        if !t.name.is_empty() {
            continue;
        }
        t.name = match kind(t) {
            TrackKind::Video => "video".to_string(),
            _ if audio_count > 1 => format!("audio_{}", sanitize(&t.language)),
            _ => "audio".to_string(),
        };
    }
    for i in 0..tracks.len() {
        let clash = tracks[..i].iter().any(|o| {
            o.name == tracks[i].name
                && (o.bitrate == tracks[i].bitrate || kind(o) != kind(&tracks[i]))
        });
        if clash {
            let id = files[tracks[i].file].index.tracks[tracks[i].track]
                .info
                .track_id;
            tracks[i].name = format!("{}_{}_{}", tracks[i].name, tracks[i].file, id);
        }
    }
}

fn sanitize(s: &str) -> String {
    let s: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(16)
        .collect();
    if s.is_empty() {
        "und".into()
    } else {
        s
    }
}
