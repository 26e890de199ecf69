//! HLS playlists (RFC 8216, with the fMP4 rules of RFC 8216bis §4.3.2.5).
//!
//! The multivariant playlist lists one variant per video rendition, each
//! referring to an audio rendition group; BANDWIDTH is the peak and
//! AVERAGE-BANDWIDTH the mean segment bitrate measured from the real segment
//! sizes (§4.4.6.2), so players' ABR sees what it will download.

use crate::index::TrackIndex;
use crate::media_set::{MediaSet, SetTrack};
use crate::model::{TrackKind, VideoRange};
use crate::mux::cmaf;
use crate::timeline::sap::SapType;
use crate::timeline::{rescale, TimelineError, TrackSegment, HNS};
use crate::url::{self, Format, TrackRef};
use std::fmt::Write;

pub mod captions;
mod keys;
pub mod subtitles;

/// Bits per second of each segment of a track, with its on-the-wire size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    pub peak: u64,
    pub average: u64,
}

/// Measures the segments of `t` as written in `format`: the set
/// summary's figures when it has them ([`MediaSet::summary_rates`]: a
/// warm multivariant playlist then reads no segment), else
/// [`measure_rates`].
pub fn track_rates(set: &MediaSet, t: &SetTrack, format: Format) -> Result<Rates, TimelineError> {
    if let Some(r) = set.summary_rates(t) {
        return Ok(match format {
            Format::HlsTs | Format::HlsTsV3 => r.ts.clone(),
            _ => r.cmaf.clone(),
        });
    }
    measure_rates(set, t, &set.segments(t)?, format)
}

/// [`track_rates`] measured from `segs`, `t`'s segments (what the set
/// summary holds, for `HlsCmaf` and `HlsTs`: the formats
/// [`segment_size`] tells apart).
pub fn measure_rates(
    set: &MediaSet,
    t: &SetTrack,
    segs: &[TrackSegment],
    format: Format,
) -> Result<Rates, TimelineError> {
    let idx = set.track_index(t);
    rates(segs, idx.info.timescale, |s| {
        Ok(segment_size(idx, s, set.lead_bytes(t, s)?, format))
    })
}

/// Bits a second added to a variant whose audio shares its video's
/// fragments ([`shared_fragment_overhead`]).
const VIDEO_HEADER_CUSHION: u64 = 16 * 8 * 120;

/// What an audio group adds to the rates of fragment-level video `v` when
/// every member's fragments are `v`'s (an interleaved file with a table
/// per track, ffmpeg's `global_sidx`): each fragment-level track's sizes
/// are whole fragments (moof + mdat of every track), so `v`'s already
/// count the audio's bytes, and the variant's real segments (video plus
/// audio of the same fragments) are bounded by `v`'s plus the audio
/// segments' own headers; adding the audio's fragment sizes again would
/// double the BANDWIDTH (RFC 8216bis §4.4.6.2 wants it not under the
/// peak, players pick renditions by it). `None` when the audio is cut on
/// other fragments than the video, segment for segment.
fn shared_fragment_overhead(
    set: &MediaSet,
    v: &SetTrack,
    members: &[&SetTrack],
    format: Format,
) -> Result<Option<Rates>, TimelineError> {
    let vi = set.track_index(v);
    if !vi.fragment_level {
        return Ok(None);
    }
    let Some(video) = set.first_offsets(v)? else {
        return Ok(None);
    };
    let mut best = Rates::default();
    for a in members {
        let ai = set.track_index(a);
        if a.file != v.file || !ai.fragment_level || set.first_offsets(a)?.as_ref() != Some(&video)
        {
            return Ok(None);
        }
        // The audio segments' headers grow with their real samples, which
        // only the moofs list: for AAC (1 024 samples a frame, at most
        // one frame per 1 024 ticks when the timescale is the sample rate,
        // as in every AAC track ffmpeg and packagers write) a segment
        // holds at most `duration / 1024 + 1`; other codecs: no bound, so
        // the group's own (doubled) rates stay.
        let crate::model::Codec::Aac(c) = &ai.info.codec else {
            return Ok(None);
        };
        if ai.info.timescale < c.sample_rate {
            return Ok(None);
        }
        let segs: Vec<TrackSegment> = set
            .segments(a)?
            .iter()
            .map(|s| {
                let n = u32::try_from(s.duration / 1024 + 1).unwrap_or(u32::MAX);
                TrackSegment {
                    samples: s.samples.start..s.samples.start.saturating_add(n),
                    ..s.clone()
                }
            })
            .collect();
        // AAC has one description (several are packaged in-band for
        // video only, `mp4::descriptions`): no lead bytes.
        let r = rates(&segs, ai.info.timescale, |s| {
            Ok(segment_size(ai, s, 0, format).saturating_sub(s.payload))
        })?;
        best.peak = best.peak.max(r.peak);
        best.average = best.average.max(r.average);
    }
    // The video's header bytes grow with its real frames, which its
    // pseudo-samples do not count (the source's moofs, inside the
    // fragment sizes, pay for most): 16 bytes of `trun` a frame at up to
    // 120 frames a second on top.
    best.peak = best.peak.saturating_add(VIDEO_HEADER_CUSHION);
    Ok(Some(best))
}

/// Bytes of a segment in `format`: exact for CMAF; for MPEG-TS (clear or
/// AES-128 encrypted) an upper estimate from the packetization rules of `mux::ts` (the exact size
/// depends on NAL units and in-band parameter sets, known only once the
/// payload is read). `lead`: the in-band parameter set bytes its sync
/// samples are sent with ([`MediaSet::lead_bytes`]; 0 for a track with
/// one description).
pub fn segment_size(idx: &TrackIndex, s: &TrackSegment, lead: u64, format: Format) -> u64 {
    let n = u64::from(s.samples.end - s.samples.start);
    match format {
        Format::HlsTs | Format::HlsTsV3 => {
            let per_sample = if idx.is_video() {
                // PES header with PTS+DTS, adaptation field with PCR, AUD.
                19 + 8 + 6
            } else {
                // ADTS header; PES headers are shared by ~4 frames.
                7 + 4
            };
            let params = match &idx.info.codec {
                crate::model::Codec::Avc(c) => {
                    c.sps.iter().chain(&c.pps).map(|p| p.len() as u64 + 4).sum()
                }
                _ => 0,
            };
            // A track with several descriptions sends each sync sample's
            // own parameter sets instead.
            let raw = (s.payload + n * per_sample + params * 2).saturating_add(lead);
            // Every PES starts a packet and pads its last one: count a whole
            // packet per PES so BANDWIDTH is never below the measured peak
            // (RFC 8216 §4.3.4.2). Video has one PES per frame, audio one
            // per ≤ 90 ms group. Up to 15 more packets pad the PID to whole
            // continuity cycles.
            let pes = if idx.is_video() {
                n
            } else {
                let ts = u64::from(idx.info.timescale.max(1));
                let group = (ts * crate::mux::ts::AUDIO_PES_MAX_DURATION_90K).div_ceil(90_000);
                s.duration.div_ceil(group.max(1)) + 1
            };
            // The PKCS#7 padding of `encryption=cbc` adds 1 to 16 bytes
            // (`crypto::padded_len`): counted always, so one estimate
            // bounds the clear and the encrypted segment.
            crate::mux::ts::PSI_LEN
                + (raw.div_ceil(184) + pes + 15) * 188
                + crate::crypto::BLOCK as u64
        }
        _ => (s.payload + cmaf::header_len(n as u32, idx.has_cts || idx.is_video(), true))
            .saturating_add(lead),
    }
}

/// Tracks MPEG-TS can carry for Apple devices: HEVC is fMP4-only there
/// (Apple HLS authoring spec), so TS formats leave HEVC renditions out.
pub fn ts_capable(info: &crate::model::TrackInfo) -> bool {
    crate::codec::hls_ts_capable(info)
}

/// Peak and average bitrate of segments whose byte size is `size(seg)`.
pub fn rates(
    segs: &[TrackSegment],
    timescale: u32,
    size: impl Fn(&TrackSegment) -> Result<u64, TimelineError>,
) -> Result<Rates, TimelineError> {
    let (mut bytes, mut ticks, mut peak) = (0u64, 0u64, 0u64);
    for s in segs {
        let b = size(s)?;
        bytes = bytes.saturating_add(b);
        ticks = ticks.saturating_add(s.duration);
        // A very short final segment would overstate the peak; measure it
        // over at least one second.
        let d = s.duration.max(u64::from(timescale));
        peak = peak.max(bits_per_second(b, timescale, d));
    }
    let average = if ticks > 0 {
        bits_per_second(bytes, timescale, ticks)
    } else {
        0
    };
    Ok(Rates {
        peak: peak.max(average),
        average,
    })
}

/// `bytes` over `ticks` of `timescale`, in bits per second, rounded up:
/// BANDWIDTH must not be below the real rate (RFC 8216 §4.3.4.2), and a
/// client measuring from the rounded EXTINF durations must not find it a
/// bit per second short.
fn bits_per_second(bytes: u64, timescale: u32, ticks: u64) -> u64 {
    let den = ticks.max(1);
    // In u64 when it fits (every real segment): 128-bit division is a
    // library call in wasm, and a master playlist measures every segment.
    match super::number::product(bytes, 8 * u64::from(timescale)) {
        Some(bits) => bits.div_ceil(den),
        None => {
            let v = (u128::from(bytes) * 8 * u128::from(timescale)).div_ceil(u128::from(den));
            u64::try_from(v).unwrap_or(u64::MAX)
        }
    }
}

fn track_ref(t: &SetTrack) -> TrackRef {
    TrackRef {
        bitrate: t.bitrate,
        name: t.name.clone(),
    }
}

/// Quoted-string attribute values must not contain `"` or line breaks
/// (RFC 8216 §4.2).
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\n' && *c != '\r')
        .collect()
}

/// `EXT-X-VERSION` per format: 7 for fMP4 (EXT-X-MAP in media playlists
/// without I-frames needs 6; 7 matches Azure), 4 for `m3u8-aapl`
/// (EXT-X-BYTERANGE in I-frame playlists), 3 for `m3u8-aapl-v3`.
fn version(format: Format) -> u8 {
    match format {
        Format::HlsTs => 4,
        Format::HlsTsV3 => 3,
        _ => 7,
    }
}

/// The `,VIDEO-RANGE=…` attribute of a video variant (RFC 8216bis
/// §4.4.6.2; also on `EXT-X-I-FRAME-STREAM-INF`, §4.4.6.3): PQ or HLG from
/// the sample entry's `colr`. Its absence means SDR, so an all-SDR title is
/// written as before; once any variant is PQ or HLG, every variant says its
/// range (`SDR` too), so no player has to infer one from a missing
/// attribute next to HDR variants. The attribute needs no higher
/// `EXT-X-VERSION` (it is not in §8's version list).
fn video_range_attr(info: &crate::model::TrackInfo, any_hdr: bool) -> String {
    let mut out = supplemental_codecs_attr(info);
    let range = info.video_range();
    if any_hdr || range != VideoRange::Sdr {
        let _ = write!(out, ",VIDEO-RANGE={}", range.as_str());
    }
    out
}

/// `,SUPPLEMENTAL-CODECS="dvh1.08.07/db1p"` (RFC 8216bis §4.4.6.2) for a
/// backward-compatible Dolby Vision track (see `codec::dolby_vision`):
/// a DV device takes the DV layer, every other device the base layer that
/// `CODECS` names. Written just before `VIDEO-RANGE`, on I-frame variants
/// too (§4.4.6.3 allows it there).
fn supplemental_codecs_attr(info: &crate::model::TrackInfo) -> String {
    info.dolby_vision
        .as_ref()
        .and_then(|dv| crate::codec::dolby_vision::hls_supplemental_codecs(info.fourcc, dv))
        .map_or_else(String::new, |s| {
            format!(",SUPPLEMENTAL-CODECS=\"{}\"", quoted(&s))
        })
}

/// `EXT-X-TARGETDURATION` (RFC 8216 §4.3.3.1): the longest segment,
/// rounded to whole seconds, at least 1.
pub(crate) fn target_duration(segs: &[TrackSegment], timescale: u32) -> u64 {
    longest_seconds(segs.iter().map(|s| s.duration), timescale)
}

/// The longest of `durations` in whole seconds (rounded), at least 1.
/// Rounding is monotonic, so the longest is found first and rounded once
/// (`round` is a library call in wasm).
fn longest_seconds(durations: impl Iterator<Item = u64>, timescale: u32) -> u64 {
    durations
        .max()
        .map_or(1, |d| (d as f64 / f64::from(timescale)).round() as u64)
        .max(1)
}

/// The multivariant (master) playlist. For fMP4 and `m3u8-aapl`, audio is a
/// rendition group; for `m3u8-aapl-v3`, each variant is muxed with the
/// default audio track. TS formats leave out tracks TS cannot carry.
pub fn multivariant(set: &MediaSet, format: Format) -> Result<String, TimelineError> {
    multivariant_with(set, format, false)
}

/// [`multivariant`], plus audio-only variants when `audio_only` (Azure's
/// `audio-only=true`; off by default since Apple's rules discourage them
/// next to video variants).
pub fn multivariant_with(
    set: &MediaSet,
    format: Format,
    audio_only: bool,
) -> Result<String, TimelineError> {
    multivariant_encrypted(set, format, audio_only, None)
}

/// [`multivariant_with`] for a title encrypted with `encryption={e}`:
/// every media playlist URL keeps the option, the key is announced with
/// `EXT-X-SESSION-KEY` (`keys::session_keys`), and no I-frame playlist
/// is listed (see [`media_playlist_with`] for why).
pub fn multivariant_encrypted(
    set: &MediaSet,
    format: Format,
    audio_only: bool,
    encryption: Option<&str>,
) -> Result<String, TimelineError> {
    multivariant_protected(set, format, audio_only, encryption, &[], None)
}

/// [`multivariant_encrypted`] with the master lines of DRM systems from
/// a CPIX document (`HLSSignalingData playlist="master"`).
pub fn multivariant_protected(
    set: &MediaSet,
    format: Format,
    audio_only: bool,
    encryption: Option<&str>,
    drm: &[crate::crypto::cpix::DrmSystem],
    keys: Option<&crate::crypto::TrackKeys<'_>>,
) -> Result<String, TimelineError> {
    let playlist_url = |t: &SetTrack| {
        with_view(
            set,
            url::media_playlist_url_with(&track_ref(t), format, false, encryption),
        )
    };
    let ts = matches!(format, Format::HlsTs | Format::HlsTsV3);
    let usable = |t: &&SetTrack| !ts || ts_capable(&set.track_index(t).info);
    let audio: Vec<&SetTrack> = set.of_kind(TrackKind::Audio).filter(usable).collect();
    let video: Vec<&SetTrack> = set.of_kind(TrackKind::Video).filter(usable).collect();
    // EXT-X-INDEPENDENT-SEGMENTS here covers every media playlist
    // (RFC 8216 §4.3.5.1): only when no video rendition has open GOPs.
    let independent = video
        .iter()
        .map(|v| set.track_sap(v))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .all(|s| *s == SapType::Closed);
    let any_hdr = video
        .iter()
        .any(|v| set.track_index(v).info.video_range() != VideoRange::Sdr);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:{}\n{}",
        version(format),
        if independent {
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
        } else {
            ""
        }
    );
    if let Some(e) = encryption {
        // The bitrate of a media playlist listed below (video first).
        if let Some(t) = video.first().or(audio.first()) {
            let bitrate = track_ref(t).bitrate;
            match keys.filter(|k| k.multi) {
                // One session key per key of the title (RFC 8216
                // §4.3.4.5 allows several), each with its own systems.
                Some(k) => {
                    for (key, drm) in k.distinct() {
                        out.push_str(&keys::session_keys_for(e, bitrate, drm, Some(&key.kid)));
                    }
                }
                None => out.push_str(&keys::session_keys(e, bitrate, drm)),
            }
        }
    }
    out.push_str(&subtitles::media_tags(set, format));
    let subs = subtitles::stream_attr(set);
    // Captions in the video: video variants only.
    let cc = if video.is_empty() {
        String::new()
    } else {
        out.push_str(&captions::media_tags(set, version(format)));
        captions::stream_attr(set, version(format))
    };
    if video.is_empty() {
        // Audio-only title: each audio rendition is a variant.
        for a in &audio {
            let info = &set.track_index(a).info;
            let r = track_rates(set, a, format)?;
            let _ = write!(
                out,
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"{subs}\n{}\n",
                r.peak,
                r.average,
                quoted(&info.codec_string),
                playlist_url(a)
            );
        }
        return Ok(out);
    }
    // Rendition groups, one per audio codec: a variant's CODECS must list
    // what every member of its group needs. `m3u8-aapl-v3` muxes the first
    // audio track into every variant instead.
    let mut groups: Vec<(String, Vec<&SetTrack>)> = Vec::new();
    let grouped: &[&SetTrack] = if format == Format::HlsTsV3 {
        &audio[..audio.len().min(1)]
    } else {
        &audio
    };
    for a in grouped {
        let codec = set.track_index(a).info.codec_string.clone();
        match groups.iter_mut().find(|g| g.0 == codec) {
            Some(g) => g.1.push(a),
            None => groups.push((codec, vec![a])),
        }
    }
    let mut group_rates = Vec::new();
    for (gi, (_, members)) in groups.iter().enumerate() {
        let mut best = Rates::default();
        for (mi, a) in members.iter().enumerate() {
            let r = track_rates(set, a, format)?;
            best.peak = best.peak.max(r.peak);
            best.average = best.average.max(r.average);
            if format != Format::HlsTsV3 {
                let uri = playlist_url(a);
                write_media(&mut out, set, a, (gi, mi, members), &uri);
            }
        }
        group_rates.push(best);
    }
    for v in &video {
        let info = &set.track_index(v).info;
        let r = track_rates(set, v, format)?;
        let group_list: Vec<Option<usize>> = if groups.is_empty() {
            vec![None]
        } else {
            (0..groups.len()).map(Some).collect()
        };
        for g in group_list {
            let added = match g {
                Some(g) => match shared_fragment_overhead(set, v, &groups[g].1, format)? {
                    Some(overhead) => overhead,
                    None => group_rates[g].clone(),
                },
                None => Rates::default(),
            };
            let (peak, avg, codecs, audio_attr) = match g {
                Some(g) => (
                    r.peak + added.peak,
                    r.average + added.average,
                    format!("{},{}", info.codec_string, groups[g].0),
                    if format == Format::HlsTsV3 {
                        String::new()
                    } else {
                        format!(",AUDIO=\"audio{g}\"")
                    },
                ),
                None => (r.peak, r.average, info.codec_string.clone(), String::new()),
            };
            let _ = write!(
                out,
                "#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={avg},CODECS=\"{}\",RESOLUTION={}x{}",
                quoted(&codecs),
                info.width,
                info.height
            );
            if let Some((n, d)) = set.track_index(v).frame_rate() {
                let _ = write!(out, ",FRAME-RATE={:.3}", n as f64 / d as f64);
            }
            out.push_str(&video_range_attr(info, any_hdr));
            let _ = write!(out, "{audio_attr}{subs}{cc}\n{}\n", playlist_url(v));
        }
    }
    // RFC 8216 §4.3.4.2: once one variant says NONE, every one does.
    let cc_none = captions::audio_only_attr(set);
    if audio_only && format != Format::HlsTsV3 {
        for (g, (codec, members)) in groups.iter().enumerate() {
            let _ = write!(
                out,
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\",AUDIO=\"audio{g}\"{subs}{cc_none}\n{}\n",
                group_rates[g].peak.max(1),
                group_rates[g].average.max(1),
                quoted(codec),
                playlist_url(members[0])
            );
        }
    }
    if format == Format::HlsTs && encryption.is_none() {
        // A fragment-level track's index knows its fragments, not its
        // keyframes' byte ranges: no I-frame playlist (see `service::ts`).
        for v in video.iter().filter(|v| !set.track_index(v).fragment_level) {
            let info = &set.track_index(v).info;
            let peak = match set.summary_rates(v) {
                Some(r) => r.iframe_peak,
                None => iframe_peak(set, v, &set.segments(v)?)?,
            };
            let _ = writeln!(
                out,
                "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={},CODECS=\"{}\",RESOLUTION={}x{}{},URI=\"{}\"",
                peak.max(1),
                quoted(&info.codec_string),
                info.width,
                info.height,
                video_range_attr(info, any_hdr),
                with_view(set, url::media_playlist_url(&track_ref(v), format, true))
            );
        }
    }
    Ok(out)
}

/// A media playlist URL with the options of the set's filtered view
/// (`filter=`, playback modifiers) added to its option list, so the
/// playlist gets the same view as the multivariant playlist.
fn with_view(set: &MediaSet, mut url: String) -> String {
    if let Some(at) = url.rfind(')') {
        url.insert_str(at, &set.child_options);
    }
    url
}

/// One I-frame of an I-frame playlist: the first keyframe of a segment.
struct IFrame {
    start: i64,
    duration: u64,
    bytes: u64,
    bitrate: u64,
}

/// The highest bitrate of `t`'s I-frames (the `EXT-X-I-FRAME-STREAM-INF`
/// BANDWIDTH, RFC 8216bis §4.4.6.3; 0 without I-frames), measured from
/// `segs`, its segments (the set summary holds it).
pub fn iframe_peak(
    set: &MediaSet,
    t: &SetTrack,
    segs: &[TrackSegment],
) -> Result<u64, TimelineError> {
    Ok(iframe_entries(set, t, segs)?
        .iter()
        .map(|e| e.bitrate)
        .max()
        .unwrap_or(0))
}

/// The I-frames of `segs`, segments of `t`.
fn iframe_entries(
    set: &MediaSet,
    t: &SetTrack,
    segs: &[TrackSegment],
) -> Result<Vec<IFrame>, TimelineError> {
    let idx = set.track_index(t);
    let ts = u64::from(idx.info.timescale).max(1);
    let mut out = Vec::with_capacity(segs.len());
    for s in segs {
        let (size, cts) = set.first_sample(t, s)?;
        // A track with several descriptions: the keyframe is sent with its
        // own description's parameter sets, counted as part of it.
        let lead = set.first_lead_bytes(t, s)?;
        let size = size.saturating_add(u32::try_from(lead).unwrap_or(u32::MAX));
        let Some(bytes) = crate::mux::ts::keyframe_prefix_len(&idx.info, size, cts) else {
            continue;
        };
        let den = s.duration.max(1);
        let bitrate = match super::number::product(bytes, 8 * ts) {
            Some(bits) => bits / den,
            None => u64::try_from(u128::from(bytes) * 8 * u128::from(ts) / u128::from(den))
                .unwrap_or(u64::MAX),
        };
        out.push(IFrame {
            start: s.start,
            duration: s.duration,
            bytes,
            bitrate,
        });
    }
    Ok(out)
}

/// The I-frame playlist of a video track for `m3u8-aapl` (RFC 8216
/// §4.3.3.6): one I-frame per segment, the segment's first keyframe, as a
/// byte range from the start of the TS segment (PAT/PMT included, so the
/// range decodes on its own).
pub fn iframe_playlist(set: &MediaSet, t: &SetTrack) -> Result<String, TimelineError> {
    let info = &set.track_index(t).info;
    let frames = iframe_entries(set, t, &set.segments(t)?)?;
    let target = longest_seconds(frames.iter().map(|f| f.duration), info.timescale);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-I-FRAMES-ONLY\n"
    );
    let tr = track_ref(t);
    let (before, after) = url::fragment_url_parts(&tr, Format::HlsTs, None);
    let before = strip_quality_levels(&before);
    out.reserve(frames.len() * (before.len() + after.len() + 64));
    // As in a media playlist: a duration's text is reused while it
    // repeats.
    let mut extinf = (None, String::new());
    for f in &frames {
        let time = rescale(f.start, info.timescale, HNS).max(0) as u64;
        if extinf.0 != Some(f.duration) {
            extinf.1.clear();
            super::number::seconds6(&mut extinf.1, f.duration, info.timescale);
            extinf.0 = Some(f.duration);
        }
        out.push_str("#EXTINF:");
        out.push_str(&extinf.1);
        out.push_str(",\n#EXT-X-BYTERANGE:");
        super::number::decimal(&mut out, f.bytes);
        out.push_str("@0\n");
        out.push_str(before);
        super::number::decimal(&mut out, time);
        out.push_str(&after);
        out.push('\n');
    }
    out.push_str("#EXT-X-ENDLIST\n");
    Ok(out)
}

/// One `EXT-X-MEDIA` audio rendition; the first of each group is the
/// group's single `DEFAULT=YES`.
fn write_media(
    out: &mut String,
    set: &MediaSet,
    a: &SetTrack,
    (gi, mi, members): (usize, usize, &[&SetTrack]),
    uri: &str,
) {
    let info = &set.track_index(a).info;
    let _ = write!(out, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio{gi}\"");
    if let Some(lang) = super::lang::bcp47(&a.language) {
        let _ = write!(out, ",LANGUAGE=\"{}\"", quoted(&lang));
    }
    let name = if members[..mi].iter().any(|o| o.language == a.language) {
        format!("{} {}", super::lang::display_name(&a.language), mi + 1)
    } else {
        super::lang::display_name(&a.language)
    };
    let default = if mi == 0 { "YES" } else { "NO" };
    let _ = writeln!(
        out,
        ",NAME=\"{}\",DEFAULT={default},AUTOSELECT=YES,CHANNELS=\"{}\",URI=\"{}\"",
        quoted(&name),
        crate::codec::hls_channels(info),
        uri
    );
}

/// A track's media playlist (for `m3u8-aapl-v3`, the video track's, whose
/// segments are muxed with the default audio).
pub fn media_playlist(
    set: &MediaSet,
    t: &SetTrack,
    format: Format,
) -> Result<String, TimelineError> {
    media_playlist_with(set, t, format, None)
}

/// [`media_playlist`], encrypted with `encryption={e}` when set (`cbc`:
/// AES-128 over each whole MPEG-TS segment, RFC 8216 §4.3.2.4): an
/// `EXT-X-KEY:METHOD=AES-128` whose URI is the asset's key URL
/// ([`url::key_url`], relative), and segment URLs that keep the option.
///
/// The IV rule (RFC 8216 §5.2): a key tag without `IV` makes each
/// segment's Media Sequence Number its IV, and the segment handler
/// encrypts segment `n` of the timeline with IV `n`
/// ([`crate::crypto::sequence_iv`]). The playlist starts at sequence 0 and
/// lists the track's non-empty segments, so the two agree for every
/// segment up to the first gap in the track's timeline numbers; from a
/// segment whose number differs from its sequence number on, each segment
/// gets its own key tag with an explicit `IV=0x{n}`, so the rule holds
/// for any track. I-frame playlists are not offered encrypted: their byte
/// ranges end inside a segment, short of the PKCS#7 padding a whole
/// segment's decryption ends on.
pub fn media_playlist_with(
    set: &MediaSet,
    t: &SetTrack,
    format: Format,
    encryption: Option<&str>,
) -> Result<String, TimelineError> {
    media_playlist_protected(set, t, format, encryption, &[], None)
}

/// [`media_playlist_with`] with the media lines of DRM systems from a
/// CPIX document (`HLSSignalingData playlist="media"`) after the identity
/// `EXT-X-KEY` (fMP4 only: the CPIX signalling is for sample encryption).
pub fn media_playlist_protected(
    set: &MediaSet,
    t: &SetTrack,
    format: Format,
    encryption: Option<&str>,
    drm: &[crate::crypto::cpix::DrmSystem],
    kid: Option<&[u8; 16]>,
) -> Result<String, TimelineError> {
    let info = &set.track_index(t).info;
    let segs = set.segments(t)?;
    let target = target_duration(&segs, info.timescale);
    let tr = track_ref(t);
    // Segments cut at open-GOP I-frames need the previous segment for
    // their leading pictures: not independent (RFC 8216 §4.3.3.7).
    let independent = set.track_sap(t)? == SapType::Closed;
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n{}",
        version(format),
        if independent {
            "#EXT-X-INDEPENDENT-SEGMENTS\n"
        } else {
            ""
        }
    );
    // Relative to the playlist, which sits at QualityLevels(b)/Manifest(…):
    // the last path segment is what differs.
    if format == Format::HlsCmaf {
        let init = url::init_url_with(&tr, format, encryption);
        let _ = writeln!(out, "#EXT-X-MAP:URI=\"{}\"", strip_quality_levels(&init));
        if let Some(e) = encryption {
            // Sample encryption: one key for the whole playlist, its IVs
            // in each sample's `senc` entry (no IV attribute), after the
            // EXT-X-MAP it applies to (RFC 8216 §4.3.2.4). KEYFORMAT
            // "identity" with a key URL is the ClearKey form HLS players
            // fetch the raw key from (Shaka Player's identity parser
            // takes the key id from the init segment's `tenc`).
            let _ = writeln!(
                out,
                "#EXT-X-KEY:METHOD={},URI=\"{}\",KEYFORMAT=\"identity\"",
                sample_method(e),
                quoted(&url::key_url_for(e, kid))
            );
            out.push_str(&keys::media_keys(e, drm));
        }
    }
    let key_uri = encryption
        .filter(|_| format != Format::HlsCmaf)
        .map(|e| url::key_url_for(e, kid));
    // Whether the key tag in effect carries an explicit IV.
    let mut explicit_iv = false;
    // 1 200 lines for a 2 h title: the URL's fixed parts are formatted
    // once, the numbers without `core::fmt` ([`super::number`]).
    let (before, after) = url::fragment_url_parts(&tr, format, encryption);
    let before = strip_quality_levels(&before);
    out.reserve(segs.len() * (before.len() + after.len() + 32));
    // Most segments last as long as the one before: its duration's text
    // is reused rather than formatted again.
    let mut extinf = (None, String::new());
    for (sequence, s) in segs.iter().enumerate() {
        if let Some(key) = &key_uri {
            let sequence = sequence as u64;
            if let Some(iv) = key_tag(sequence, s.number, explicit_iv) {
                write_key(&mut out, key, iv);
            }
            explicit_iv = u64::from(s.number) != sequence;
        }
        let time = rescale(s.start, info.timescale, HNS).max(0) as u64;
        if extinf.0 != Some(s.duration) {
            extinf.1.clear();
            super::number::seconds6(&mut extinf.1, s.duration, info.timescale);
            extinf.0 = Some(s.duration);
        }
        out.push_str("#EXTINF:");
        out.push_str(&extinf.1);
        out.push_str(",\n");
        out.push_str(before);
        super::number::decimal(&mut out, time);
        out.push_str(&after);
        out.push('\n');
    }
    out.push_str("#EXT-X-ENDLIST\n");
    Ok(out)
}

/// The key tag to write before the segment with Media Sequence Number
/// `sequence` and timeline number `number` (its IV, RFC 8216 §5.2), when
/// the tag in effect has an explicit IV or not (`explicit`): `None` to
/// write none (the tag in effect gives the right IV), `Some(None)` for a
/// tag without IV (the sequence number is the IV), `Some(Some(n))` for a
/// tag with `IV=n`.
fn key_tag(sequence: u64, number: u32, explicit: bool) -> Option<Option<u32>> {
    let own_iv = u64::from(number) != sequence;
    if own_iv {
        Some(Some(number))
    } else if sequence == 0 || explicit {
        Some(None)
    } else {
        None
    }
}

/// `#EXT-X-KEY:METHOD=AES-128,URI="{uri}"` (RFC 8216 §4.3.2.4), with
/// `IV=0x…` (32 hex digits, the big-endian segment number) when `iv`.
fn write_key(out: &mut String, uri: &str, iv: Option<u32>) {
    let _ = write!(out, "#EXT-X-KEY:METHOD=AES-128,URI=\"{}\"", quoted(uri));
    if let Some(n) = iv {
        let _ = write!(out, ",IV=0x{:032x}", u128::from(n));
    }
    out.push('\n');
}

/// The `METHOD` of a sample-encrypted playlist (RFC 8216 §4.3.2.4;
/// `SAMPLE-AES-CTR` is `cenc`, Apple's and Shaka's reading).
fn sample_method(encryption: &str) -> &'static str {
    if encryption == "cenc" {
        "SAMPLE-AES-CTR"
    } else {
        "SAMPLE-AES"
    }
}

/// `QualityLevels(b)/Fragments(…)` → `Fragments(…)`, the form relative to a
/// media playlist at `QualityLevels(b)/Manifest(…)`.
fn strip_quality_levels(u: &str) -> &str {
    u.split_once('/').map_or(u, |(_, rest)| rest)
}

#[cfg(test)]
mod tests;
