//! Building sub-resource URLs, relative to the manifest (i.e. to `{x}.ism/`).
//! Track names are written as given; they must already satisfy the name
//! grammar (`[A-Za-z0-9_.-]{1,64}`) or the URL will not parse back.

use super::{Format, TrackRef};
use std::fmt::Write as _;

fn push_format(url: &mut String, format: Format) {
    if let Some(f) = format.as_azure() {
        url.push_str(",format=");
        url.push_str(f);
    }
}

/// `,encryption={e}` after the format, the order Azure wrote: a child of
/// an encrypted manifest is encrypted too (and cached apart from the
/// clear one, since the option is part of the parsed request).
fn push_encryption(url: &mut String, encryption: Option<&str>) {
    if let Some(e) = encryption {
        url.push_str(",encryption=");
        url.push_str(e);
    }
}

/// The top-level manifest in `format`, e.g. `manifest(format=m3u8-cmaf).m3u8`.
/// The suffix helps players that sniff the type from the URL.
pub fn manifest_url(format: Format) -> String {
    let Some(f) = format.as_azure() else {
        return "manifest".to_string();
    };
    let suffix = if format.is_hls() {
        ".m3u8"
    } else if format.is_dash() {
        ".mpd"
    } else {
        ""
    };
    format!("manifest(format={f}){suffix}")
}

/// `QualityLevels({bitrate})/Manifest({name},format=…[,type=keyframes])`.
/// Only meaningful for HLS formats.
pub fn media_playlist_url(track: &TrackRef, format: Format, keyframes: bool) -> String {
    media_playlist_url_with(track, format, keyframes, None)
}

/// [`media_playlist_url`] with `encryption={e}` when `encryption` is set.
pub fn media_playlist_url_with(
    track: &TrackRef,
    format: Format,
    keyframes: bool,
    encryption: Option<&str>,
) -> String {
    let mut url = format!("QualityLevels({})/Manifest({}", track.bitrate, track.name);
    push_format(&mut url, format);
    push_encryption(&mut url, encryption);
    if keyframes {
        url.push_str(",type=keyframes");
    }
    url.push(')');
    if format.is_hls() {
        url.push_str(".m3u8");
    }
    url
}

/// Extension added to HLS and DASH segment URIs (see `grammar::parse_sub_resource`).
fn hls_suffix(format: Format, init: bool) -> &'static str {
    match format {
        Format::HlsCmaf | Format::DashCmaf | Format::DashCsf if init => ".mp4",
        Format::HlsCmaf | Format::DashCmaf | Format::DashCsf => ".m4s",
        Format::HlsTs | Format::HlsTsV3 => ".ts",
        _ => "",
    }
}

/// `QualityLevels({bitrate})/Fragments({name}=i,format=…)`.
pub fn init_url(track: &TrackRef, format: Format) -> String {
    init_url_with(track, format, None)
}

/// [`init_url`] with `encryption={e}` when `encryption` is set (an
/// encrypted title's init segment carries its protection boxes).
pub fn init_url_with(track: &TrackRef, format: Format, encryption: Option<&str>) -> String {
    let mut url = format!(
        "QualityLevels({})/Fragments({}=i",
        track.bitrate, track.name
    );
    push_format(&mut url, format);
    push_encryption(&mut url, encryption);
    url.push(')');
    url.push_str(hls_suffix(format, true));
    url
}

/// `QualityLevels({bitrate})/Fragments({name}={time},format=…)`.
pub fn fragment_url(track: &TrackRef, time: u64, format: Format) -> String {
    fragment_url_with(track, time, format, None)
}

/// [`fragment_url`] with `encryption={e}` when `encryption` is set.
pub fn fragment_url_with(
    track: &TrackRef,
    time: u64,
    format: Format,
    encryption: Option<&str>,
) -> String {
    let (mut url, after) = fragment_url_parts(track, format, encryption);
    let _ = write!(url, "{time}");
    url.push_str(&after);
    url
}

/// [`fragment_url_with`] cut at the time: what comes before it and what
/// comes after, so a playlist of many segments formats the URL's fixed
/// parts once.
pub fn fragment_url_parts(
    track: &TrackRef,
    format: Format,
    encryption: Option<&str>,
) -> (String, String) {
    let before = format!("QualityLevels({})/Fragments({}=", track.bitrate, track.name);
    let mut after = String::new();
    push_format(&mut after, format);
    push_encryption(&mut after, encryption);
    after.push(')');
    after.push_str(hls_suffix(format, false));
    (before, after)
}

/// A WebVTT text segment's URL: [`fragment_url`] with a `.vtt` suffix,
/// which players and ffmpeg (whose HLS demuxer checks that a segment's
/// extension fits its content) expect of WebVTT.
pub fn text_fragment_url(track: &TrackRef, time: u64, format: Format) -> String {
    let (mut url, after) = text_fragment_url_parts(track, format);
    let _ = write!(url, "{time}");
    url.push_str(&after);
    url
}

/// [`text_fragment_url`] cut at the time, as [`fragment_url_parts`] is
/// for media segments: a subtitle playlist of many segments formats the
/// fixed parts once.
pub fn text_fragment_url_parts(track: &TrackRef, format: Format) -> (String, String) {
    let before = format!("QualityLevels({})/Fragments({}=", track.bitrate, track.name);
    let mut after = String::new();
    push_format(&mut after, format);
    after.push_str(").vtt");
    (before, after)
}

/// The key URL of `encryption={e}`, relative to a media playlist (which
/// sits at `QualityLevels({bitrate})/Manifest(…)`): `Key(encryption={e})`.
/// Relative, with no leading `/` and no `..`, so it resolves under a
/// signed URL's token prefix (RFC 3986 §5.2) and inside the asset.
pub fn key_url(encryption: &str) -> String {
    format!("Key(encryption={encryption})")
}

/// [`key_url`] naming the key `kid` (32 lower-case hex digits), for an
/// asset whose tracks have different keys (CPIX usage rules): the key URL
/// is answered without the media, so it cannot tell a track's key from the
/// bitrate; it says which key it is. `None` is [`key_url`].
pub fn key_url_for(encryption: &str, kid: Option<&[u8; 16]>) -> String {
    match kid {
        None => key_url(encryption),
        Some(k) => {
            let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
            format!("Key(encryption={encryption},kid={hex})")
        }
    }
}

/// A media segment URL template with the protocol's placeholders: for DASH
/// (and HLS, which has none of its own) `QualityLevels($Bandwidth$)/
/// Fragments({name}=$Time$,format=…)` (ISO/IEC 23009-1 §5.3.9.4.4); for
/// Smooth `QualityLevels({bitrate})/Fragments({name}={start time})`
/// (MS-SSTR §2.2.2.2, the `StreamIndex@Url` pattern).
pub fn fragment_url_template(track_name: &str, format: Format) -> String {
    fragment_url_template_with(track_name, format, None)
}

/// [`fragment_url_template`] with `encryption={e}` when set.
pub fn fragment_url_template_with(
    track_name: &str,
    format: Format,
    encryption: Option<&str>,
) -> String {
    let mut url = if format.is_smooth() {
        format!("QualityLevels({{bitrate}})/Fragments({track_name}={{start time}}")
    } else {
        format!("QualityLevels($Bandwidth$)/Fragments({track_name}=$Time$")
    };
    push_format(&mut url, format);
    push_encryption(&mut url, encryption);
    url.push(')');
    url.push_str(hls_suffix(format, false));
    url
}

/// The DASH `SegmentTemplate@initialization` pattern:
/// `QualityLevels($Bandwidth$)/Fragments({name}=i,format=…)`.
pub fn init_url_template(track_name: &str, format: Format) -> String {
    init_url_template_with(track_name, format, None)
}

/// [`init_url_template`] with `encryption={e}` when set.
pub fn init_url_template_with(
    track_name: &str,
    format: Format,
    encryption: Option<&str>,
) -> String {
    let mut url = format!("QualityLevels($Bandwidth$)/Fragments({track_name}=i");
    push_format(&mut url, format);
    push_encryption(&mut url, encryption);
    url.push(')');
    url.push_str(hls_suffix(format, true));
    url
}

#[cfg(test)]
mod tests;
