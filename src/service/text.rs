//! Text tracks (WebVTT and TTML sidecars an `.ism` lists, and the `tx3g`,
//! `wvtt` and `stpp` tracks of the media files of any asset) as requests:
//! which ones a title has, their HLS media playlists, and their segments.
//!
//! Everything but a segment is answered from the `.ism` and the media
//! indexes; a segment also needs cues: a sidecar's, which the job reads
//! (one whole-file read, capped, parsed once and cached:
//! [`crate::source::text`]), or an MP4 text track's samples in the
//! segment, which the index locates ([`EmbeddedSegment`]) and the job reads
//! in ranges like a TS segment's payload, decoded by [`crate::mp4::text`]
//! into the same cues. Text tracks are offered in HLS (WebVTT
//! segments, whatever the source) and DASH (WebVTT in fMP4,
//! [`crate::mux::wvtt`], for WebVTT sources; IMSC1 in fMP4,
//! [`crate::mux::stpp`], for TTML sources) and Smooth (TTML fragments,
//! [`crate::mux::smooth::text_fragment`], for both).

use super::{check_manifest_work, segment_at, text, Output, ServeError};
use crate::input::ism::{self, IsmKind, ServerManifest, SidecarFormat};
use crate::input::webvtt::CueList;
use crate::manifest::hls::subtitles;
use crate::media_set::{EmbeddedText, MediaSet, TextTrack};
use crate::model::TrackKind;
use crate::mp4::text::{SampleTime, TextFormat};
use crate::mux::smooth::FragmentTime;
use crate::mux::ByteRun;
use crate::source::SourceError;
use crate::timeline::rescale;
use crate::url::{Asset, Format, Resource, StreamRequest, TrackRef};
use bytes::Bytes;

/// Content type of a WebVTT segment (W3C WebVTT §7.1).
pub const CT_VTT: &str = "text/vtt";
/// Content type of a WebVTT-in-fMP4 init or media segment (RFC 4337).
pub const CT_MP4_TEXT: &str = "application/mp4";

/// The sidecar a text segment request (`Fragments({name}=…)` of a text
/// track) is made from: its version names the output
/// ([`crate::outputs::key`]) and is revalidated like a media file's
/// ([`crate::source::freshness`]). `None` for every other request.
pub(crate) fn sidecar_of(req: &StreamRequest, texts: &[TextTrack]) -> Option<String> {
    let crate::url::Resource::Fragment { track, .. } = &req.resource else {
        return None;
    };
    texts
        .iter()
        .find(|t| t.name == track.name)
        .map(|t| t.path.clone())
}

/// The text tracks of an asset: the `.ism`'s `<textstream>`s with a
/// `.vtt`, `.ttml`, `.xml` or `.dfxp` `src`, in document order (others, such as Azure's `.ismt`, are
/// skipped as before). Names come from the `.ism` alone, so they are the
/// same for every request: the `trackName`, or `textstream_{lang}`, with
/// `_{n}` added where it would repeat a name of the `.ism`.
pub(crate) fn text_tracks(
    asset: &Asset,
    manifest: Option<&ServerManifest>,
) -> Result<Vec<TextTrack>, ServeError> {
    let (Asset::Ism { path }, Some(manifest)) = (asset, manifest) else {
        return Ok(Vec::new());
    };
    let av_names: Vec<&str> = manifest
        .tracks
        .iter()
        .filter(|t| t.kind != IsmKind::Text)
        .filter_map(|t| t.track_name.as_deref())
        .collect();
    let mut out: Vec<TextTrack> = Vec::new();
    for t in &manifest.tracks {
        if t.kind != IsmKind::Text || !ism::is_sidecar_text(&t.src) {
            continue;
        }
        let file = ism::resolve_text(path, &t.src).map_err(|e| {
            ServeError::Source(SourceError::Ism {
                path: path.clone(),
                error: e.to_string(),
            })
        })?;
        let language = t.language.clone().unwrap_or_else(|| "und".into());
        let base = t
            .track_name
            .clone()
            .unwrap_or_else(|| format!("textstream_{}", name_part(&language)));
        let taken = |n: &str| av_names.contains(&n) || out.iter().any(|o| o.name == n);
        let mut name = base.clone();
        let mut n = 2;
        while taken(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        out.push(TextTrack {
            path: file,
            name,
            bitrate: t
                .system_bitrate
                .unwrap_or(TextTrack::DEFAULT_BITRATE)
                .max(1),
            language,
            role: t.role.unwrap_or_default(),
            sdh: t.sdh,
            format: ism::sidecar_format(&t.src).unwrap_or_default(),
            embedded: None,
            default: false,
        });
    }
    Ok(out)
}

/// Adds the text tracks of the set's MP4 files (kept by the index:
/// `tx3g`, `wvtt`, `stpp`) after the sidecars, for every asset kind. A
/// track repeated in several files of an `.ism` (the same subtitles muxed
/// into every rendition: same language, format, sample count and bytes)
/// is offered once. Names are `text_{lang}`, with `_{n}` added where the
/// name is taken (by an audio or video track or another text track).
pub(crate) fn add_embedded(set: &mut MediaSet) {
    let mut seen: Vec<(String, crate::model::FourCC, u32, u64)> = Vec::new();
    let mut found = Vec::new();
    for (f, file) in set.files.iter().enumerate() {
        for (i, t) in file.index.tracks.iter().enumerate() {
            if t.info.kind != TrackKind::Subtitle {
                continue;
            }
            let Some(format) = TextFormat::of_entry(t.info.fourcc, &t.info.sample_entry) else {
                continue;
            };
            let key = (
                t.info.language.clone(),
                t.info.fourcc,
                t.info.sample_count,
                t.total_bytes,
            );
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            found.push((file.path.clone(), t.info.language.clone(), f, i, format));
        }
    }
    for (path, language, file, track, format) in found {
        let base = format!("text_{}", name_part(&language));
        let taken = |n: &str, set: &MediaSet| {
            set.tracks.iter().any(|t| t.name == n) || set.texts.iter().any(|t| t.name == n)
        };
        let mut name = base.clone();
        let mut n = 2;
        while taken(&name, set) {
            name = format!("{base}_{n}");
            n += 1;
        }
        set.texts.push(TextTrack {
            path,
            name,
            bitrate: TextTrack::DEFAULT_BITRATE,
            language,
            role: ism::TextRole::default(),
            sdh: false,
            format: match format {
                TextFormat::Stpp => SidecarFormat::Ttml,
                TextFormat::Tx3g | TextFormat::Wvtt => SidecarFormat::WebVtt,
            },
            embedded: Some(EmbeddedText {
                file,
                track,
                format,
            }),
            default: false,
        });
    }
}

/// A language tag as a name part (`[A-Za-z0-9-]`, 16 characters).
fn name_part(lang: &str) -> String {
    lang.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(16)
        .collect()
}

/// The text track a request addresses, when it addresses one (an audio or
/// video track of the same name wins).
fn addressed<'a>(set: &'a MediaSet, req: &StreamRequest) -> Option<&'a TextTrack> {
    let r: &TrackRef = match &req.resource {
        Resource::MediaPlaylist { track, .. }
        | Resource::Init { track }
        | Resource::Fragment { track, .. } => track,
        Resource::Manifest | Resource::Key | Resource::Licence => return None,
    };
    if set.find(r).is_some() {
        return None;
    }
    set.find_text(r)
}

/// The answer to a request for a text track's playlist (or its refusal),
/// `None` when the request is not for a text track. A segment is answered
/// by [`segment_request`] and [`SegmentRequest::output`].
pub(crate) fn answer(set: &MediaSet, req: &StreamRequest) -> Result<Option<Output>, ServeError> {
    let Some(t) = addressed(set, req) else {
        return Ok(None);
    };
    let format = req.options.format;
    if !offered(format) {
        return Err(not_offered(t, format));
    }
    match &req.resource {
        Resource::Init { .. } if format.is_dash() => Ok(Some(Output::Bytes {
            content_type: CT_MP4_TEXT,
            body: match t.format {
                SidecarFormat::Ttml => crate::mux::stpp::init_segment(&t.language),
                SidecarFormat::WebVtt => crate::mux::wvtt::init_segment(&t.language),
            },
        })),
        Resource::MediaPlaylist { .. } if !format.is_hls() => Err(ServeError::BadRequest(
            "media playlists are HLS only".into(),
        )),
        Resource::MediaPlaylist {
            keyframes: false, ..
        } => {
            let reference = set
                .tracks
                .first()
                .ok_or(ServeError::Media("no tracks".into()))?;
            check_manifest_work(set, std::slice::from_ref(reference))?;
            let body = subtitles::playlist(set, t, format)?;
            Ok(Some(super::text(super::CT_HLS, body, Vec::new())?))
        }
        Resource::MediaPlaylist { .. } => Err(ServeError::NotFound(format!(
            "{} is a text track: it has no I-frame playlist",
            t.name
        ))),
        Resource::Init { .. } => Err(ServeError::NotFound(format!(
            "{} is a text track: it has no init segment in this format",
            t.name
        ))),
        _ => Err(ServeError::Media(format!(
            "the segment of {} needs its cues",
            t.name
        ))),
    }
}

/// Whether text tracks are offered in `format`: every format (HLS WebVTT,
/// DASH `wvtt`/`stpp`, Smooth TTML).
fn offered(format: Format) -> bool {
    format.is_hls() || format.is_dash() || format.is_smooth()
}

fn not_offered(t: &TextTrack, format: Format) -> ServeError {
    ServeError::NotImplemented(format!(
        "text track {} is not offered in {}",
        t.name,
        format.as_azure().unwrap_or("this format")
    ))
}

/// A text segment a request asks for, checked (its time must be a segment
/// start the playlist writes), before its cues are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRequest {
    /// Object path of the sidecar.
    pub path: String,
    pub from_ms: u64,
    /// `None` for the last segment, which ends at `end_ms`.
    pub to_ms: Option<u64>,
    /// Where the segment ends (the last one: where the title ends), for
    /// DASH, whose samples tile the segment exactly.
    pub end_ms: u64,
    /// Number on the timeline (`mfhd` sequence − 1).
    pub number: u32,
    pub format: Format,
    /// The sidecar's format: in DASH, a TTML track's segments are IMSC1
    /// (`stpp`), a WebVTT track's `wvtt`.
    pub source: SidecarFormat,
    /// The track's language (`xml:lang` of IMSC1 documents).
    pub language: String,
    /// Smooth: the fragment's place on the manifest timeline (its `<c>`,
    /// the reference track's).
    pub smooth_time: Option<FragmentTime>,
    /// An MP4 text track's samples in the segment (`None`: a sidecar).
    pub embedded: Option<EmbeddedSegment>,
}

/// Most bytes of MP4 text samples one segment reads (a segment's worth of
/// subtitles is a few hundred bytes; a TTML sample a few KB).
pub const MAX_SEGMENT_TEXT_BYTES: u64 = 1 << 20;

/// Samples a `wvtt` segment reads past either end of its range to find
/// the rest of a cue split over samples.
const WVTT_REACH: u32 = 16;

/// The samples of an MP4 text track that show in a segment, found in the
/// index: what to read and when each shows. Gap samples (an empty `tx3g`
/// sample, a lone `vtte`) are left out: they hold no cue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddedSegment {
    pub format: TextFormat,
    /// The file's version, so the reads are `If-Match`.
    pub etag: String,
    pub samples: Vec<(ByteRun, SampleTime)>,
}

/// The samples of `e` overlapping `[from_ms, to_ms)`: a binary search of
/// the index for the sample nearest `from_ms`, then a walk forward to
/// `to_ms`, at most [`crate::mux::wvtt::MAX_SEGMENT_CUES`] samples with
/// cues and [`MAX_SEGMENT_TEXT_BYTES`] bytes.
fn embedded_segment(
    set: &MediaSet,
    e: &EmbeddedText,
    from_ms: u64,
    to_ms: u64,
) -> Result<EmbeddedSegment, ServeError> {
    let file = set
        .files
        .get(e.file)
        .ok_or(ServeError::Media("text track file missing".into()))?;
    let t = file
        .index
        .tracks
        .get(e.track)
        .ok_or(ServeError::Media("text track missing".into()))?;
    let ts = t.info.timescale;
    let po = t.info.presentation_offset;
    let ms = |v: i64| rescale(v, ts, 1000).max(0) as u64;
    let media_offset_ms = rescale(po, ts, 1000);
    let from_dts =
        rescale(from_ms.min(i64::MAX as u64) as i64, 1000, u64::from(ts)).saturating_add(po);
    // The sample holding `from_ms` starts at or before the one nearest it.
    let mut first = t.nearest_sample_start(from_dts)?.saturating_sub(1);
    // A `wvtt` cue overlapping others is split over contiguous samples
    // (14496-30 §7.5): read up to WVTT_REACH samples on either side of
    // the segment while no `vtte` (no cue shows) intervenes, so a cue
    // crossing a boundary is whole, as a sidecar cue is, once
    // `join_pieces` has joined it.
    let reach = if e.format == TextFormat::Wvtt {
        WVTT_REACH
    } else {
        0
    };
    if reach > 0 {
        for i in (first.saturating_sub(reach)..first).rev() {
            if e.format.is_gap(t.sample(i)?.size) {
                break;
            }
            first = i;
        }
    }
    let (mut samples, mut bytes, mut after) = (Vec::new(), 0u64, 0);
    for s in t.samples(first..t.sample_count())? {
        let s = s?;
        let pts = t.pts(&s);
        let (start_ms, end_ms) = (ms(pts), ms(pts.saturating_add(i64::from(s.duration))));
        let gap = e.format.is_gap(s.size);
        if start_ms >= to_ms {
            after += 1;
            if gap || after > reach {
                break;
            }
        }
        if gap || end_ms <= start_ms || (end_ms <= from_ms && reach == 0) {
            continue;
        }
        bytes += u64::from(s.size);
        if samples.len() >= crate::mux::wvtt::MAX_SEGMENT_CUES || bytes > MAX_SEGMENT_TEXT_BYTES {
            return Err(ServeError::Media(format!(
                "{}: more than {} text samples or {MAX_SEGMENT_TEXT_BYTES} bytes in one segment",
                file.path,
                crate::mux::wvtt::MAX_SEGMENT_CUES
            )));
        }
        samples.push((
            ByteRun {
                offset: s.offset,
                len: u64::from(s.size),
            },
            SampleTime {
                start_ms,
                end_ms,
                media_offset_ms,
            },
        ));
    }
    Ok(EmbeddedSegment {
        format: e.format,
        etag: file.index.etag.clone(),
        samples,
    })
}

impl EmbeddedSegment {
    /// The cues of the samples, from the reads' bytes (`data`, one slice
    /// per sample in order): decoded, then pieces of one cue joined.
    pub fn cues(&self, path: &str, data: &[Bytes]) -> Result<CueList, ServeError> {
        let mut cues = Vec::new();
        for ((_, time), bytes) in self.samples.iter().zip(data) {
            crate::mp4::text::decode(self.format, bytes, *time, &mut cues).map_err(|e| {
                ServeError::Source(SourceError::Text {
                    path: path.to_string(),
                    error: e.to_string(),
                })
            })?;
            if cues.len() > crate::mux::wvtt::MAX_SEGMENT_CUES * 2 {
                return Err(ServeError::Media(format!(
                    "{path}: more than {} cues in one segment",
                    crate::mux::wvtt::MAX_SEGMENT_CUES
                )));
            }
        }
        Ok(CueList {
            cues: crate::mp4::text::join_pieces(cues),
        })
    }
}

/// The text segment `req` asks for, `None` when it asks for something else.
pub(crate) fn segment_request(
    set: &MediaSet,
    req: &StreamRequest,
) -> Result<Option<SegmentRequest>, ServeError> {
    let Resource::Fragment { time, .. } = &req.resource else {
        return Ok(None);
    };
    let Some(t) = addressed(set, req) else {
        return Ok(None);
    };
    let format = req.options.format;
    if !offered(format) {
        return Err(not_offered(t, format));
    }
    let reference = set
        .tracks
        .first()
        .ok_or(ServeError::Media("no tracks".into()))?;
    let (n, seg) = segment_at(set, reference, *time).map_err(|e| match e {
        ServeError::NotFound(_) => {
            ServeError::NotFound(format!("no segment of {} at time {time}", t.name))
        }
        e => e,
    })?;
    // The boundaries of the shared timeline, which the reference track's
    // segments follow; the first segment takes every cue from 0.
    let tl = &set.timeline;
    let ms = |v: i64| rescale(v, tl.timescale, 1000).max(0) as u64;
    let number = n;
    let n = n as usize;
    let from_ms = tl.starts.get(n).map_or(0, |&s| ms(s));
    let to_ms = tl.starts.get(n + 1).map(|&s| ms(s));
    let end_ms = to_ms.unwrap_or(ms(tl.end)).max(from_ms + 1);
    let first_from = if n == 0 && format.is_hls() {
        0
    } else {
        from_ms
    };
    let embedded = match &t.embedded {
        Some(e) => Some(embedded_segment(set, e, first_from, end_ms)?),
        None => None,
    };
    Ok(Some(SegmentRequest {
        path: t.path.clone(),
        // HLS: the first segment takes every cue from 0; DASH samples
        // start where the segment does.
        from_ms: first_from,
        to_ms,
        end_ms,
        number,
        format,
        source: t.format,
        language: t.language.clone(),
        smooth_time: format.is_smooth().then(|| {
            crate::mux::smooth::fragment_time(set.track_index(reference).info.timescale, &seg)
        }),
        embedded,
    }))
}

impl SegmentRequest {
    /// The segment, from the sidecar's cues: a WebVTT document (HLS) or
    /// WebVTT in fMP4 (DASH).
    pub fn output(&self, cues: &CueList) -> Result<Output, ServeError> {
        let too_many = || {
            ServeError::Media(format!(
                "{}: more than {} cues in one segment",
                self.path,
                crate::mux::wvtt::MAX_SEGMENT_CUES
            ))
        };
        if let Some(time) = self.smooth_time {
            // Smooth: a TTML document whatever the source, its times
            // relative to the fragment's start (see `stpp::document`).
            let lang = crate::manifest::lang::bcp47(&self.language).unwrap_or_default();
            let (from, to) = (self.from_ms, self.end_ms);
            let doc =
                crate::mux::stpp::document(cues, from, to, from, &lang).ok_or_else(too_many)?;
            let body = crate::mux::smooth::text_fragment(
                time,
                self.number.saturating_add(1),
                doc.as_bytes(),
            )
            .ok_or_else(|| ServeError::Media(format!("{}: fragment too large", self.path)))?;
            return Ok(Output::Bytes {
                content_type: CT_MP4_TEXT,
                body,
            });
        }
        if self.format.is_dash() {
            let sequence = self.number.saturating_add(1);
            let body = match self.source {
                SidecarFormat::Ttml => {
                    let lang = crate::manifest::lang::bcp47(&self.language).unwrap_or_default();
                    crate::mux::stpp::media_segment(
                        cues,
                        self.from_ms,
                        self.end_ms,
                        sequence,
                        &lang,
                    )
                }
                SidecarFormat::WebVtt => {
                    crate::mux::wvtt::media_segment(cues, self.from_ms, self.end_ms, sequence)
                }
            }
            .ok_or_else(|| {
                ServeError::Media(format!(
                    "{}: more than {} cues in one segment",
                    self.path,
                    crate::mux::wvtt::MAX_SEGMENT_CUES
                ))
            })?;
            return Ok(Output::Bytes {
                content_type: CT_MP4_TEXT,
                body,
            });
        }
        // The last segment ends where the title does: a cue after it could
        // never show, and the segment stays bounded like the others.
        let to = self.to_ms.unwrap_or(self.end_ms);
        let count = cues.overlapping(self.from_ms, Some(to)).count();
        if count > crate::mux::wvtt::MAX_SEGMENT_CUES {
            return Err(ServeError::Media(format!(
                "{}: more than {} cues in one segment",
                self.path,
                crate::mux::wvtt::MAX_SEGMENT_CUES
            )));
        }
        let body = subtitles::segment(cues, self.from_ms, Some(to), self.format);
        Ok(Output::Bytes {
            content_type: text::CT_VTT,
            body: Bytes::from(body),
        })
    }
}

#[cfg(test)]
mod mp4_tests;
#[cfg(test)]
mod tests;
