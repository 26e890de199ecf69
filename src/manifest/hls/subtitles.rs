//! HLS subtitles: each text track is a `SUBTITLES` rendition (RFC 8216
//! §4.3.4.1) whose media playlist lists the segments of the shared
//! timeline, with the same times and durations as the reference video
//! playlist, each segment a WebVTT document (§3.5) holding the cues that
//! overlap it. A cue spanning a boundary is written in both segments, as
//! Apple's `mediasubtitlesegmenter` does; players drop the repeat (same
//! times, same text).
//!
//! Cue times are written as in the source (media time) and every segment
//! maps `LOCAL:00:00:00.000` to the time that media time 0 has in the
//! segments of the same format (`X-TIMESTAMP-MAP`, §3.5): 0 for fMP4,
//! whose presentation timeline starts at 0 (`mux::cmaf`), and
//! [`TS_TIME_OFFSET_90K`] for MPEG-TS, whose PTS are shifted by it
//! (`mux::ts::time`).

use super::{quoted, strip_quality_levels, version};
use crate::input::ism::TextRole;
use crate::input::webvtt::{self, CueList};
use crate::manifest::number;
use crate::media_set::{MediaSet, TextTrack};
use crate::mux::ts::TS_TIME_OFFSET_90K;
use crate::timeline::{rescale, TimelineError, HNS};
use crate::url::{self, Format, TrackRef};
use std::fmt::Write;

/// The one rendition group of text tracks.
pub const GROUP: &str = "subs";

/// HLS `CHARACTERISTICS` (Apple HLS authoring spec, "Accessibility"):
/// subtitles for the deaf and hard of hearing, and closed captions.
pub const SDH_CHARACTERISTICS: &str =
    "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound";
/// Text describing the video.
pub const DESCRIBES_VIDEO: &str = "public.accessibility.describes-video";

pub(crate) fn track_ref(t: &TextTrack) -> TrackRef {
    TrackRef {
        bitrate: t.bitrate,
        name: t.name.clone(),
    }
}

/// `,SUBTITLES="subs"` for each `EXT-X-STREAM-INF` when the title has
/// text tracks.
pub fn stream_attr(set: &MediaSet) -> String {
    if set.texts.is_empty() {
        String::new()
    } else {
        format!(",SUBTITLES=\"{GROUP}\"")
    }
}

/// The player-facing name of a text track: its language, and what it is
/// for when not plain subtitles.
fn display_name(t: &TextTrack) -> String {
    let mut name = crate::manifest::lang::display_name(&t.language);
    let what = match (t.role, t.sdh) {
        (TextRole::Forced, _) => Some("forced"),
        (_, true) => Some("SDH"),
        (TextRole::Caption, false) => Some("CC"),
        (TextRole::Description, false) => Some("description"),
        (TextRole::Subtitle, false) => None,
    };
    if let Some(w) = what {
        let _ = write!(name, " ({w})");
    }
    name
}

/// The `EXT-X-MEDIA:TYPE=SUBTITLES` tags of every text track, one per
/// line. None is `DEFAULT=YES` (subtitles stay off until chosen) unless
/// `default_subtitles_lang` made one the default; every
/// one is `AUTOSELECT=YES` (a player may pick it by language); forced
/// narrative is `FORCED=YES`; SDH and captions carry the accessibility
/// `CHARACTERISTICS`, descriptions theirs.
pub fn media_tags(set: &MediaSet, format: Format) -> String {
    let mut out = String::new();
    let mut names: Vec<String> = Vec::new();
    for t in &set.texts {
        let mut name = display_name(t);
        if names.contains(&name) {
            name = format!("{name} {}", names.len() + 1);
        }
        let _ = write!(
            out,
            "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{GROUP}\",NAME=\"{}\"",
            quoted(&name)
        );
        if let Some(lang) = crate::manifest::lang::bcp47(&t.language) {
            let _ = write!(out, ",LANGUAGE=\"{}\"", quoted(&lang));
        }
        out.push_str(if t.default {
            ",DEFAULT=YES,AUTOSELECT=YES"
        } else {
            ",DEFAULT=NO,AUTOSELECT=YES"
        });
        if t.role == TextRole::Forced {
            out.push_str(",FORCED=YES");
        }
        let characteristics = match t.role {
            _ if t.sdh || t.role == TextRole::Caption => Some(SDH_CHARACTERISTICS),
            TextRole::Description => Some(DESCRIBES_VIDEO),
            _ => None,
        };
        if let Some(c) = characteristics {
            let _ = write!(out, ",CHARACTERISTICS=\"{c}\"");
        }
        let uri = url::media_playlist_url(&track_ref(t), format, false);
        let _ = writeln!(out, ",URI=\"{uri}\"");
        names.push(name);
    }
    out
}

/// A text track's media playlist: the segments of the reference track
/// (the first video rendition), whose boundaries are the shared
/// timeline's, with the same `EXTINF` and URL times.
///
/// Written as the video and audio media playlists are (`super`'s
/// `media_playlist_protected`): as many lines as the video playlist (1 200
/// `EXTINF` for a 2 h title), so the URL's fixed parts are formatted once
/// ([`url::text_fragment_url_parts`]) and the numbers without `core::fmt`
/// (`crate::manifest::number`, byte-identical to `{:.6}` and `{}`).
pub fn playlist(set: &MediaSet, t: &TextTrack, format: Format) -> Result<String, TimelineError> {
    let reference = set.tracks.first().ok_or(TimelineError::NoTracks)?;
    let info = &set.track_index(reference).info;
    let segs = set.segments(reference)?;
    let target = super::target_duration(&segs, info.timescale);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n",
        version(format)
    );
    let (before, after) = url::text_fragment_url_parts(&track_ref(t), format);
    // Relative to the playlist at `QualityLevels(b)/Manifest(…)`.
    let before = strip_quality_levels(&before);
    out.reserve(segs.len() * (before.len() + after.len() + 32));
    for s in segs.iter() {
        let time = rescale(s.start, info.timescale, HNS).max(0) as u64;
        out.push_str("#EXTINF:");
        number::seconds6(&mut out, s.duration, info.timescale);
        out.push_str(",\n");
        out.push_str(before);
        number::decimal(&mut out, time);
        out.push_str(&after);
        out.push('\n');
    }
    out.push_str("#EXT-X-ENDLIST\n");
    Ok(out)
}

/// The `MPEGTS` value `LOCAL:00:00:00.000` maps to in `format`.
pub fn mpegts_origin(format: Format) -> u64 {
    match format {
        Format::HlsTs | Format::HlsTsV3 => TS_TIME_OFFSET_90K,
        _ => 0,
    }
}

/// One segment, `[from_ms, to_ms)` (`None`: every cue from `from_ms`),
/// as a WebVTT document.
pub fn segment(cues: &CueList, from_ms: u64, to_ms: Option<u64>, format: Format) -> String {
    let mut out = format!(
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{},LOCAL:00:00:00.000\n",
        mpegts_origin(format)
    );
    for c in cues.overlapping(from_ms, to_ms) {
        out.push('\n');
        if !c.id.is_empty() {
            out.push_str(&c.id);
            out.push('\n');
        }
        webvtt::write_timestamp(&mut out, c.start_ms);
        out.push_str(" --> ");
        webvtt::write_timestamp(&mut out, c.end_ms);
        if !c.settings.is_empty() {
            out.push(' ');
            out.push_str(&c.settings);
        }
        out.push('\n');
        if !c.text.is_empty() {
            out.push_str(&c.text);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests;
