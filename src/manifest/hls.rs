//! HLS playlists (RFC 8216, with the fMP4 rules of RFC 8216bis §4.3.2.5).
//!
//! The multivariant playlist lists one variant per video rendition, each
//! referring to an audio rendition group; BANDWIDTH is the peak and
//! AVERAGE-BANDWIDTH the mean segment bitrate measured from the real segment
//! sizes (§4.4.6.2), so players' ABR sees what it will download.

use crate::media_set::{MediaSet, SetTrack};
use crate::model::TrackKind;
use crate::mux::cmaf;
use crate::timeline::{rescale, TimelineError, TrackSegment, HNS};
use crate::url::{self, Format, TrackRef};
use std::fmt::Write;

/// Bits per second of each segment of a track, with its on-the-wire size.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rates {
    pub peak: u64,
    pub average: u64,
}

/// Measures the segments of `t` as written in CMAF.
pub fn cmaf_rates(set: &MediaSet, t: &SetTrack) -> Result<Rates, TimelineError> {
    let idx = set.track_index(t);
    let segs = set.segments(t)?;
    Ok(rates(&segs, idx.info.timescale, |s| {
        s.payload
            + cmaf::header_len(
                s.samples.end - s.samples.start,
                idx.has_cts || idx.is_video(),
                true,
            )
    }))
}

/// Peak and average bitrate of segments whose byte size is `size(seg)`.
pub fn rates(segs: &[TrackSegment], timescale: u32, size: impl Fn(&TrackSegment) -> u64) -> Rates {
    let (mut bytes, mut ticks, mut peak) = (0u64, 0u64, 0u64);
    for s in segs {
        let b = size(s);
        bytes += b;
        ticks += s.duration;
        // A very short final segment would overstate the peak; measure it
        // over at least one second.
        let d = s.duration.max(u64::from(timescale));
        peak = peak.max((u128::from(b) * 8 * u128::from(timescale) / u128::from(d.max(1))) as u64);
    }
    let average = if ticks > 0 {
        (u128::from(bytes) * 8 * u128::from(timescale) / u128::from(ticks)) as u64
    } else {
        0
    };
    Rates {
        peak: peak.max(average),
        average,
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

/// The multivariant (master) playlist for fMP4/CMAF segments.
pub fn multivariant(set: &MediaSet, format: Format) -> Result<String, TimelineError> {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let audio: Vec<&SetTrack> = set.of_kind(TrackKind::Audio).collect();
    let video: Vec<&SetTrack> = set.of_kind(TrackKind::Video).collect();
    // One rendition group per audio codec: a variant's CODECS must list
    // what every member of its group needs.
    let mut groups: Vec<(String, Vec<&SetTrack>)> = Vec::new();
    for a in &audio {
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
            let info = &set.track_index(a).info;
            let r = cmaf_rates(set, a)?;
            best.peak = best.peak.max(r.peak);
            best.average = best.average.max(r.average);
            let _ = write!(out, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio{gi}\"");
            if let Some(lang) = super::lang::bcp47(&a.language) {
                let _ = write!(out, ",LANGUAGE=\"{}\"", quoted(&lang));
            }
            let name =
                if members.len() > 1 && members[..mi].iter().any(|o| o.language == a.language) {
                    format!("{} {}", super::lang::display_name(&a.language), mi + 1)
                } else {
                    super::lang::display_name(&a.language)
                };
            let default = if mi == 0 { "YES" } else { "NO" };
            let _ = writeln!(
                out,
                ",NAME=\"{}\",DEFAULT={default},AUTOSELECT=YES,CHANNELS=\"{}\",URI=\"{}\"",
                quoted(&name),
                info.channels.max(1),
                url::media_playlist_url(&track_ref(a), format, false)
            );
        }
        group_rates.push(best);
    }
    if video.is_empty() {
        // Audio-only title: each audio rendition is a variant.
        for a in &audio {
            let info = &set.track_index(a).info;
            let r = cmaf_rates(set, a)?;
            let _ = write!(
                out,
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"\n{}\n",
                r.peak,
                r.average,
                quoted(&info.codec_string),
                url::media_playlist_url(&track_ref(a), format, false)
            );
        }
        return Ok(out);
    }
    for v in &video {
        let info = &set.track_index(v).info;
        let r = cmaf_rates(set, v)?;
        let group_list: Vec<Option<usize>> = if groups.is_empty() {
            vec![None]
        } else {
            (0..groups.len()).map(Some).collect()
        };
        for g in group_list {
            let (peak, avg, codecs, audio_attr) = match g {
                Some(g) => (
                    r.peak + group_rates[g].peak,
                    r.average + group_rates[g].average,
                    format!("{},{}", info.codec_string, groups[g].0),
                    format!(",AUDIO=\"audio{g}\""),
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
            if let Some((n, d)) = info.frame_rate() {
                let _ = write!(out, ",FRAME-RATE={:.3}", n as f64 / d as f64);
            }
            let _ = write!(
                out,
                "{audio_attr}\n{}\n",
                url::media_playlist_url(&track_ref(v), format, false)
            );
        }
    }
    Ok(out)
}

/// A track's media playlist with fMP4 segments.
pub fn media_playlist(
    set: &MediaSet,
    t: &SetTrack,
    format: Format,
) -> Result<String, TimelineError> {
    let info = &set.track_index(t).info;
    let segs = set.segments(t)?;
    let ts = f64::from(info.timescale);
    let target = segs
        .iter()
        .map(|s| (s.duration as f64 / ts).round() as u64)
        .max()
        .unwrap_or(1)
        .max(1);
    let tr = track_ref(t);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    );
    // Relative to the playlist, which sits at QualityLevels(b)/Manifest(…):
    // the last path segment is what differs.
    let init = url::init_url(&tr, format);
    let _ = writeln!(out, "#EXT-X-MAP:URI=\"{}\"", strip_quality_levels(&init));
    for s in &segs {
        let time = rescale(s.start, info.timescale, HNS).max(0) as u64;
        let uri = url::fragment_url(&tr, time, format);
        let _ = write!(
            out,
            "#EXTINF:{:.6},\n{}\n",
            s.duration as f64 / ts,
            strip_quality_levels(&uri)
        );
    }
    out.push_str("#EXT-X-ENDLIST\n");
    Ok(out)
}

/// `QualityLevels(b)/Fragments(…)` → `Fragments(…)`, the form relative to a
/// media playlist at `QualityLevels(b)/Manifest(…)`.
fn strip_quality_levels(u: &str) -> &str {
    u.split_once('/').map_or(u, |(_, rest)| rest)
}

#[cfg(test)]
mod tests;
