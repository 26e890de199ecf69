//! Smooth Streaming client manifest (MS-SSTR §2.2.2), written from the media
//! set with quick-xml.
//!
//! `manifest` is Smooth 2.2 (`MajorVersion="2" MinorVersion="2"`, runs of
//! equal fragments folded with `r`); `manifest(format=fmp4-v20)` is Smooth
//! 2.0 (`MinorVersion="0"`, every fragment listed, no `r`). Times are in
//! HNS (`TimeScale="10000000"`).
//!
//! One `StreamIndex` (§2.2.2.3) per track name and type: the video
//! renditions (all named `video` unless the `.ism` says otherwise) share one
//! StreamIndex and one fragment list, because they share the timeline's
//! boundaries; each audio name gets its own. A StreamIndex's `<c>` entries
//! are the [`fragment_time`]s of its first track, the very values that
//! track's fragments carry in `tfxd`, so they follow the real segment
//! times. `t` is written on the first `<c>` and wherever a fragment does not
//! start where the previous one ended (§2.2.2.6 allows both codings).
//!
//! Codec signalling (§2.2.2.5), as IIS, Azure Media Services, Bento4,
//! nginx-vod-module and ffmpeg wrote it:
//!
//! | codec | FourCC | CodecPrivateData | AudioTag | PacketSize |
//! |---|---|---|---|---|
//! | H.264 (`avc1`/`avc3`) | `H264` | `00000001` SPS … `00000001` PPS … | | |
//! | AAC-LC | `AACL` | AudioSpecificConfig | 255 | 2 × channels |
//! | HE-AAC v1/v2 | `AACH` | AudioSpecificConfig | 255 | 2 × channels |
//! | E-AC-3 | `EC-3` | WAVEFORMATEXTENSIBLE tail + `dec3` payload | 65534 | 4 × kbit/s |
//!
//! Text tracks (WebVTT or TTML sidecars) get a `StreamIndex Type="text"`
//! each (`text_stream_index`), after the audio and video ones: `Subtype`
//! `CAPT` for captions, `SUBT` otherwise (§2.2.2.3), one `QualityLevel`
//! with FourCC `TTML` and empty CodecPrivateData, and the `<c>` list of
//! the reference track (the first video rendition), whose fragment times
//! the text fragments ([`crate::mux::smooth::text_fragment`]) carry.
//! Clients that do not play text skip these streams.
//!
//! Tracks Smooth has no signalling for are left out ([`carries`]), and the
//! service refuses a title left without video or without anything. That
//! includes HEVC: MS-SSTR §2.2.2.5 defines no FourCC for it, and the
//! `HVC1`/`HEV1` some packagers invent crash GStreamer's Smooth demuxer
//! and cannot be opened by VLC; AC-3, AV1, VP9, Opus, FLAC and DTS have no
//! FourCC either. dash.js' MSS module and Shaka 4 only play H264 and AAC;
//! E-AC-3 is for native clients.

use crate::input::ism::TextRole;
use crate::media_set::{MediaSet, SetTrack, TextTrack};
use crate::model::{Codec, TrackInfo, TrackKind};
use crate::mux::cmaf::display_size;
use crate::mux::smooth::fragment_time;
use crate::timeline::hns::HnsRun;
use crate::timeline::{TimelineError, TrackSegment, HNS, MAX_TIMELINE_SEGMENTS};
use crate::url::{self, Format};
use quick_xml::events::{BytesDecl, Event};
use quick_xml::Writer;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

/// `AudioTag` of AAC: `WAVE_FORMAT_RAW_AAC1`.
pub const AUDIO_TAG_AAC: u16 = crate::codec::aac::SMOOTH_AUDIO_TAG;
/// `AudioTag` of E-AC-3: `WAVE_FORMAT_EXTENSIBLE`; CodecPrivateData then
/// carries the WAVEFORMATEXTENSIBLE fields after `cbSize`.
pub const AUDIO_TAG_EXTENSIBLE: u16 = crate::codec::dolby::SMOOTH_AUDIO_TAG_EXTENSIBLE;

/// How a track is described in a `QualityLevel` (MS-SSTR §2.2.2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QualityCodec {
    pub fourcc: String,
    /// Upper-case hex.
    pub codec_private_data: String,
    /// Audio only: a WAVE format tag.
    pub audio_tag: u16,
    /// Audio only: block alignment in bytes.
    pub packet_size: u32,
}

fn hex_into(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
}

/// The `QualityLevel` codec attributes of a track, or `None` when Smooth
/// cannot describe its codec.
pub fn quality_codec(info: &TrackInfo) -> Option<QualityCodec> {
    let c = crate::codec::smooth(info)?;
    let mut codec_private_data = String::with_capacity(2 * c.private_data.len());
    hex_into(&mut codec_private_data, &c.private_data);
    Some(QualityCodec {
        fourcc: c.fourcc.into(),
        codec_private_data,
        audio_tag: c.audio_tag,
        packet_size: c.packet_size,
    })
}

/// Whether Smooth Streaming can carry the track (it has a FourCC in
/// MS-SSTR §2.2.2.5).
pub fn carries(info: &TrackInfo) -> bool {
    crate::codec::smooth_fourcc(info).is_some()
}

/// One `<c>` entry (§2.2.2.6); `r` counts the fragments of the run,
/// itself included ("one-based").
#[derive(Clone, Debug, PartialEq, Eq)]
struct Chunk {
    t: Option<u64>,
    d: u64,
    r: u32,
}

/// The `<c>` entries of fragment runs `runs` (§2.2.2.6 `r` counts the
/// fragments of a run, itself included): one a run when `repeats`, else
/// one a fragment (Smooth 2.0), `t` on a run's first only. The runs'
/// fragments are capped ([`crate::timeline::MAX_TIMELINE_SEGMENTS`]
/// whether computed or read from a summary), which bounds the expansion.
fn chunks(runs: &[HnsRun], repeats: bool) -> Vec<Chunk> {
    if repeats {
        return runs
            .iter()
            .map(|run| Chunk {
                t: run.t,
                d: run.d,
                r: run.r.saturating_add(1),
            })
            .collect();
    }
    let mut out = Vec::with_capacity(fragments(runs).min(MAX_TIMELINE_SEGMENTS as u64) as usize);
    for run in runs {
        out.push(Chunk {
            t: run.t,
            d: run.d,
            r: 1,
        });
        out.extend((0..run.r).map(|_| Chunk {
            t: None,
            d: run.d,
            r: 1,
        }));
    }
    out
}

/// How many fragments `runs` lists.
fn fragments(runs: &[HnsRun]) -> u64 {
    runs.iter().map(|r| u64::from(r.r) + 1).sum()
}

/// Where the last fragment of `runs` ends (`None`: no fragment).
fn end_of(runs: &[HnsRun]) -> Option<u64> {
    let mut end = None;
    for run in runs {
        let start = run.t.or(end)?;
        end = Some(start.saturating_add(run.d.saturating_mul(u64::from(run.r) + 1)));
    }
    end
}

/// The fragments of a track's `segs` (in its `timescale`) as the manifest
/// lists them, in runs: each fragment's [`fragment_time`] (what its `tfxd`
/// carries), zero-length ones, which no client can play, left out.
/// Computed once for a set summary ([`MediaSet::smooth_runs`]).
pub fn chunk_runs(segs: &[TrackSegment], timescale: u32) -> Vec<HnsRun> {
    let times: Vec<(u64, u64)> = segs
        .iter()
        .map(|s| fragment_time(timescale, s))
        .filter(|f| f.duration > 0)
        .map(|f| (f.start, f.duration))
        .collect();
    crate::timeline::hns::runs(&times)
}

/// A StreamIndex: tracks of one type and name.
struct Stream<'a> {
    kind: TrackKind,
    name: &'a str,
    tracks: Vec<(&'a SetTrack, QualityCodec)>,
    /// Its fragment runs ([`chunk_runs`]).
    times: Cow<'a, [HnsRun]>,
}

/// The client manifest: Smooth 2.0 for `Format::SmoothV20`, Smooth 2.2 for
/// anything else.
pub fn client_manifest(set: &MediaSet, format: Format) -> Result<String, TimelineError> {
    client_manifest_with(set, format, None)
}

/// A `Protection` element (MS-SSTR §2.2.2.2): one `ProtectionHeader` of
/// a DRM system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protection<'a> {
    /// `SystemID`, the GUID text (PlayReady:
    /// [`crate::crypto::playready::SYSTEM_ID_GUID`]).
    pub system_id: &'a str,
    /// The header's content: for PlayReady, base64 of the PlayReady Header
    /// Object ([`crate::crypto::playready::header_object_base64`]).
    pub header: &'a str,
    /// The `encryption=` value the audio and video fragment URLs carry
    /// (`piff`), so the fragments a client fetches are the protected ones.
    /// Text fragments stay clear (as Azure served them).
    pub encryption: &'a str,
}

/// [`client_manifest`] of protected content (`encryption=piff`): the
/// `Protection` element comes first in `SmoothStreamingMedia`, before the
/// StreamIndexes (MS-SSTR §2.2.2.1 syntax: `ProtectionElement?
/// StreamElement+`).
pub fn client_manifest_with(
    set: &MediaSet,
    format: Format,
    protection: Option<Protection<'_>>,
) -> Result<String, TimelineError> {
    let format = if format == Format::SmoothV20 {
        format
    } else {
        Format::Smooth
    };
    let mut streams: Vec<Stream<'_>> = Vec::new();
    for t in &set.tracks {
        let info = &set.track_index(t).info;
        let Some(codec) = quality_codec(info) else {
            continue;
        };
        // Every QualityLevel of a StreamIndex shares its chunk list
        // (MS-SSTR §2.2.2.6): a rendition cut at its own keyframes cannot
        // join one (the service reports it as left out).
        if !set.is_aligned(t) {
            continue;
        }
        match streams
            .iter_mut()
            .find(|s| s.kind == info.kind && s.name == t.name)
        {
            Some(s) => s.tracks.push((t, codec)),
            None => streams.push(Stream {
                kind: info.kind,
                name: &t.name,
                tracks: vec![(t, codec)],
                times: set.smooth_runs(t)?,
            }),
        }
    }
    streams.retain(|s| !s.times.is_empty());
    if streams.is_empty() {
        return Err(TimelineError::NoTracks);
    }
    let end = streams
        .iter()
        .filter_map(|s| end_of(&s.times))
        .max()
        .unwrap_or(0);
    // Clipped by a filter: the clip's length, its fragments keeping their
    // unclipped `t` (MS-SSTR §2.2.2.1 Duration is the presentation's).
    let start = match set.clip {
        Some(_) => streams
            .iter()
            .filter_map(|s| s.times.first().and_then(|f| f.t))
            .min()
            .unwrap_or(0),
        None => 0,
    };
    let duration = end.saturating_sub(start);
    // Text follows the shared timeline: the reference track's fragments.
    let text_times = match set.tracks.first() {
        Some(t) if !set.texts.is_empty() => set.smooth_runs(t)?,
        _ => Cow::Borrowed(&[][..]),
    };
    let minor = if format == Format::SmoothV20 {
        "0"
    } else {
        "2"
    };
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 1);
    let write = |w: &mut Writer<Vec<u8>>| -> io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        w.create_element("SmoothStreamingMedia")
            .with_attributes([
                ("MajorVersion", "2"),
                ("MinorVersion", minor),
                ("TimeScale", HNS.to_string().as_str()),
                ("Duration", duration.to_string().as_str()),
            ])
            .write_inner_content(|w| {
                if let Some(p) = protection {
                    w.create_element("Protection").write_inner_content(|w| {
                        w.create_element("ProtectionHeader")
                            .with_attribute(("SystemID", p.system_id))
                            .write_text_content(quick_xml::events::BytesText::new(p.header))?;
                        Ok(())
                    })?;
                }
                for s in &streams {
                    stream_index(w, set, format, s, protection.map(|p| p.encryption))?;
                }
                if !text_times.is_empty() {
                    for t in &set.texts {
                        text_stream_index(w, format, t, &text_times)?;
                    }
                }
                Ok(())
            })?;
        Ok(())
    };
    write(&mut w).map_err(|_| TimelineError::NoTracks)?;
    // Valid UTF-8 (written from `&str`s): taken as is, without the copy
    // and the per-chunk scan of a lossy conversion.
    Ok(String::from_utf8(w.into_inner())
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Writes one `StreamIndex` (§2.2.2.3) with its `QualityLevel`s and `<c>`s.
fn stream_index(
    w: &mut Writer<Vec<u8>>,
    set: &MediaSet,
    format: Format,
    s: &Stream<'_>,
    encryption: Option<&str>,
) -> io::Result<()> {
    let video = s.kind == TrackKind::Video;
    let entries = chunks(&s.times, format != Format::SmoothV20);
    let count = fragments(&s.times).to_string();
    let levels = s.tracks.len().to_string();
    let url = url::fragment_url_template_with(s.name, format, encryption);
    let mut el = w.create_element("StreamIndex").with_attributes([
        ("Type", if video { "video" } else { "audio" }),
        ("Name", s.name),
    ]);
    let lang = s.tracks.first().map_or("", |t| t.0.language.as_str());
    if !video && !lang.is_empty() && lang != "und" {
        el = el.with_attribute(("Language", lang));
    }
    el = el.with_attributes([
        ("Chunks", count.as_str()),
        ("QualityLevels", levels.as_str()),
        ("Url", url.as_str()),
    ]);
    // §2.2.2.3: the size attributes appear on video streams only.
    let largest = s
        .tracks
        .iter()
        .map(|t| &set.track_index(t.0).info)
        .max_by_key(|i| u64::from(i.width) * u64::from(i.height));
    let sizes = largest.map(|i| {
        let (dw, dh) = display_size(i);
        let max_w = s.tracks.iter().map(|t| set.track_index(t.0).info.width);
        let max_h = s.tracks.iter().map(|t| set.track_index(t.0).info.height);
        [
            max_w.max().unwrap_or(0).to_string(),
            max_h.max().unwrap_or(0).to_string(),
            dw.to_string(),
            dh.to_string(),
        ]
    });
    if let (true, Some([mw, mh, dw, dh])) = (video, &sizes) {
        el = el.with_attributes([
            ("MaxWidth", mw.as_str()),
            ("MaxHeight", mh.as_str()),
            ("DisplayWidth", dw.as_str()),
            ("DisplayHeight", dh.as_str()),
        ]);
    }
    el.write_inner_content(|w| {
        for (i, (t, codec)) in s.tracks.iter().enumerate() {
            quality_level(w, &set.track_index(t).info, t, i, codec)?;
        }
        write_chunks(w, &entries)
    })?;
    Ok(())
}

/// Writes the `StreamIndex` of a text track (§2.2.2.3, `Type="text"`): TTML
/// fragments on the reference track's fragment list `times`.
fn text_stream_index(
    w: &mut Writer<Vec<u8>>,
    format: Format,
    t: &TextTrack,
    times: &[HnsRun],
) -> io::Result<()> {
    let entries = chunks(times, format != Format::SmoothV20);
    let count = fragments(times).to_string();
    let url = url::fragment_url_template(&t.name, format);
    let subtype = match t.role {
        TextRole::Caption => "CAPT",
        _ => "SUBT",
    };
    let mut el = w.create_element("StreamIndex").with_attributes([
        ("Type", "text"),
        ("Subtype", subtype),
        ("Name", t.name.as_str()),
    ]);
    if !t.language.is_empty() && t.language != "und" {
        el = el.with_attribute(("Language", t.language.as_str()));
    }
    el.with_attributes([
        ("Chunks", count.as_str()),
        ("QualityLevels", "1"),
        ("Url", url.as_str()),
    ])
    .write_inner_content(|w| {
        let bitrate = t.bitrate.to_string();
        w.create_element("QualityLevel")
            .with_attributes([
                ("Index", "0"),
                ("Bitrate", bitrate.as_str()),
                ("FourCC", "TTML"),
                ("CodecPrivateData", ""),
            ])
            .write_empty()?;
        write_chunks(w, &entries)
    })?;
    Ok(())
}

/// Writes the `<c>` entries (§2.2.2.6).
fn write_chunks(w: &mut Writer<Vec<u8>>, entries: &[Chunk]) -> io::Result<()> {
    super::runs::write(
        w,
        "c",
        entries.iter().map(|c| (c.t, c.d, (c.r > 1).then_some(c.r))),
    )
}

/// Writes one `QualityLevel` (§2.2.2.5).
fn quality_level(
    w: &mut Writer<Vec<u8>>,
    info: &TrackInfo,
    t: &SetTrack,
    index: usize,
    codec: &QualityCodec,
) -> io::Result<()> {
    let (index, bitrate) = (index.to_string(), t.bitrate.to_string());
    let mut el = w.create_element("QualityLevel").with_attributes([
        ("Index", index.as_str()),
        ("Bitrate", bitrate.as_str()),
        ("FourCC", codec.fourcc.as_str()),
    ]);
    let nal_length = match &info.codec {
        Codec::Avc(c) => c.nal_length_size,
        Codec::Hevc(c) => c.nal_length_size,
        _ => 4,
    };
    let a = [
        info.width.to_string(),
        info.height.to_string(),
        info.sample_rate.to_string(),
        info.channels.max(1).to_string(),
        codec.packet_size.to_string(),
        codec.audio_tag.to_string(),
        nal_length.to_string(),
    ];
    if info.kind == TrackKind::Video {
        el = el.with_attributes([("MaxWidth", a[0].as_str()), ("MaxHeight", a[1].as_str())]);
        el = el.with_attribute(("CodecPrivateData", codec.codec_private_data.as_str()));
        // Default 4 (§2.2.2.5); samples are passed through, so a shorter
        // length prefix must be announced.
        if nal_length != 4 {
            el = el.with_attribute(("NALUnitLengthField", a[6].as_str()));
        }
    } else {
        el = el.with_attributes([
            ("SamplingRate", a[2].as_str()),
            ("Channels", a[3].as_str()),
            ("BitsPerSample", "16"),
            ("PacketSize", a[4].as_str()),
            ("AudioTag", a[5].as_str()),
            ("CodecPrivateData", codec.codec_private_data.as_str()),
        ]);
    }
    el.write_empty()?;
    Ok(())
}

#[cfg(test)]
mod tests;
