//! The request grammar proper: [`parse`] answers the fixed routes, then
//! splits `{dir…}/{asset}/{sub-resource}` and reads the Azure sub-resource
//! grammar (`manifest(…)`, `QualityLevels(…)/Manifest(…)`,
//! `QualityLevels(…)/Fragments(…)`) and edgepack's key URL
//! (`QualityLevels(…)/Key(encryption=cbc)`). Assets, options and path
//! segments have their own modules.

use super::asset::parse_asset;
use super::error::clip;
use super::options::{parse_query, RawOptions};
use super::path::{decode_segment, is_valid_name};
use super::{
    Format, Resource, Route, StreamRequest, TrackRef, UrlError, MAX_PATH_LEN, MAX_SEGMENTS,
};

/// Parse a request path (starting with `/`) and its optional query string
/// (without the `?`).
pub fn parse(path: &str, query: Option<&str>) -> Result<Route, UrlError> {
    if let Some(fixed) = fixed_route(path) {
        return fixed;
    }
    let segments = stream_segments(path)?;
    let query = match query {
        Some(q) => parse_query(q)?,
        None => RawOptions::default(),
    };
    parse_stream(&segments, query).map(Route::Stream)
}

/// The fixed routes (`/health`, `/player`, `/player/assets/{file}`), or
/// `None` when `path` is not one of them (a stream path, or nothing).
/// Separate from [`parse`] so that access control can let these public
/// routes through before it asks for a token.
pub fn fixed_route(path: &str) -> Option<Result<Route, UrlError>> {
    let rest = path.strip_prefix('/')?;
    match rest {
        "health" => return Some(Ok(Route::Health)),
        "player" | "player/" => return Some(Ok(Route::PlayerPage)),
        _ => {}
    }
    let file = rest.strip_prefix("player/assets/")?;
    (!file.contains('/')).then(|| player_asset(file).map(Route::PlayerAsset))
}

/// The asset a stream path names, as the URL spells it: its decoded
/// segments up to and including the asset segment, joined by `/`, without
/// a leading slash (`/abr/abr.ism/manifest` → `abr/abr.ism`). Every
/// sub-resource URL of one asset gives the same answer, because it splits
/// the path with the very rule [`parse`] uses; a signed URL's scope
/// ([`crate::token`]) is this string.
pub fn asset_scope(path: &str) -> Result<String, UrlError> {
    let segments = stream_segments(path)?;
    let end = asset_end(&segments).ok_or(UrlError::NotFound)?;
    Ok(segments[..end].join("/"))
}

/// The decoded segments of a stream path, within the length caps.
fn stream_segments(path: &str) -> Result<Vec<String>, UrlError> {
    if path.len() > MAX_PATH_LEN {
        return Err(UrlError::Path("path too long"));
    }
    let rest = path
        .strip_prefix('/')
        .ok_or(UrlError::Path("path must start with '/'"))?;
    if rest.is_empty() {
        return Err(UrlError::NotFound);
    }
    if rest.split('/').nth(MAX_SEGMENTS).is_some() {
        return Err(UrlError::Path("too many path segments"));
    }
    rest.split('/').map(decode_segment).collect()
}

/// Where the asset segment ends: sub-resources are one segment
/// (`manifest…`) or two (`QualityLevels(…)/…`), and the asset is the
/// segment just before them, so directories may have any name, including
/// one ending in `.mp4`. `None` when nothing is left for the asset.
fn asset_end(segments: &[String]) -> Option<usize> {
    let n = segments.len();
    let sub_len = match n.checked_sub(2).and_then(|i| segments.get(i)) {
        Some(s) if starts_with_ci(s, "qualitylevels(") => 2,
        _ => 1,
    };
    n.checked_sub(sub_len).filter(|&i| i > 0)
}

fn player_asset(file: &str) -> Result<String, UrlError> {
    let ok = !file.starts_with('.') && is_valid_name(file);
    if ok {
        Ok(file.to_string())
    } else {
        Err(UrlError::InvalidName {
            what: "player asset",
            value: clip(file),
        })
    }
}

fn parse_stream(segments: &[String], query: RawOptions) -> Result<StreamRequest, UrlError> {
    let Some(asset_end) = asset_end(segments) else {
        return Err(UrlError::NotFound);
    };
    let asset = parse_asset(&segments[..asset_end])?;
    let (resource, path_opts) = match &segments[asset_end..] {
        [one] => parse_manifest_segment(one)?,
        [levels, sub] => parse_sub_resource(levels, sub)?,
        _ => return Err(UrlError::NotFound),
    };
    let merged = path_opts.merge(query)?;
    let options = merged.finish(&resource)?;
    Ok(StreamRequest {
        asset,
        resource,
        options,
    })
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// A segment of the form `name(args)suffix` or a bare `name`.
struct Call<'a> {
    name: &'a str,
    args: Option<&'a str>,
    suffix: &'a str,
}

fn split_call(seg: &str) -> Result<Call<'_>, UrlError> {
    if seg.chars().any(char::is_whitespace) {
        return Err(UrlError::Syntax("spaces are not allowed"));
    }
    const UNBALANCED: UrlError = UrlError::Syntax("unbalanced parentheses");
    let Some((name, after)) = seg.split_once('(') else {
        if seg.contains(')') {
            return Err(UNBALANCED);
        }
        return Ok(Call {
            name: seg,
            args: None,
            suffix: "",
        });
    };
    let (args, suffix) = after.split_once(')').ok_or(UNBALANCED)?;
    if name.contains(')') || args.contains('(') || suffix.contains(['(', ')']) {
        return Err(UNBALANCED);
    }
    Ok(Call {
        name,
        args: Some(args),
        suffix,
    })
}

/// The top-level manifest: `manifest`, `manifest(opts)[.m3u8|.mpd]`,
/// `manifest.m3u8`, `manifest.mpd`, `master.m3u8`. A `.m3u8` / `.mpd` suffix
/// picks HLS-CMAF / DASH-CMAF when no `format=` is given and is otherwise
/// ignored, as Azure ignored it.
fn parse_manifest_segment(seg: &str) -> Result<(Resource, RawOptions), UrlError> {
    let call = split_call(seg)?;
    let unknown = || UrlError::UnknownResource(clip(seg));
    let (base, suffix) = match call.args {
        Some(_) => (call.name, call.suffix),
        None => match call.name.rfind('.') {
            Some(dot) => call.name.split_at(dot),
            None => (call.name, ""),
        },
    };
    if call.name.eq_ignore_ascii_case("license") {
        // `License(encryption=…)`, options only (as `Key(…)`).
        let (Some(args), "") = (call.args, call.suffix) else {
            return Err(unknown());
        };
        let mut opts = RawOptions::default();
        opts.parse_items(args.split(','))?;
        return Ok((Resource::Licence, opts));
    }
    let known = base.eq_ignore_ascii_case("manifest") || (base == "master" && suffix == ".m3u8");
    if !known {
        return Err(unknown());
    }
    let mut opts = RawOptions::default();
    if let Some(args) = call.args {
        opts.parse_items(args.split(','))?;
    }
    opts.implied_format = match suffix {
        "" => None,
        ".m3u8" => Some(Format::HlsCmaf),
        ".mpd" => Some(Format::DashCmaf),
        _ => return Err(unknown()),
    };
    Ok((Resource::Manifest, opts))
}

/// `QualityLevels({bitrate})` followed by `Manifest({track},opts)[.m3u8]`,
/// `Fragments({track}={time|i},opts)` or `Key(opts)`.
fn parse_sub_resource(levels: &str, sub: &str) -> Result<(Resource, RawOptions), UrlError> {
    let lv = split_call(levels)?;
    let (true, Some(bitrate), "") = (
        lv.name.eq_ignore_ascii_case("qualitylevels"),
        lv.args,
        lv.suffix,
    ) else {
        return Err(UrlError::UnknownResource(clip(levels)));
    };
    let bitrate = parse_u64(bitrate, "bitrate")?;
    let call = split_call(sub)?;
    let unknown = || UrlError::UnknownResource(clip(sub));
    let args = call.args.ok_or_else(unknown)?;
    if call.name.eq_ignore_ascii_case("key") {
        return key_resource(args, call.suffix).ok_or_else(unknown)?;
    }
    let mut items = args.split(',');
    let first = items.next().unwrap_or_default();
    let mut opts = RawOptions::default();
    opts.parse_items(items)?;
    if call.name.eq_ignore_ascii_case("manifest") {
        if !matches!(call.suffix, "" | ".m3u8") {
            return Err(unknown());
        }
        let track = track_ref(bitrate, first)?;
        let keyframes = opts.keyframes.take().is_some();
        Ok((Resource::MediaPlaylist { track, keyframes }, opts))
    } else if call.name.eq_ignore_ascii_case("fragments") {
        // Our HLS playlists add a media extension so clients that insist on
        // one (ffmpeg's `allowed_segment_extensions`) accept the URIs.
        // `.vtt`: WebVTT text segments (`manifest::hls::subtitles`).
        if !matches!(call.suffix, "" | ".mp4" | ".m4s" | ".ts" | ".aac" | ".vtt") {
            return Err(unknown());
        }
        let (name, time) = first
            .split_once('=')
            .ok_or(UrlError::Syntax("fragments need {track}={time}"))?;
        let track = track_ref(bitrate, name)?;
        let resource = match time {
            "i" => Resource::Init { track },
            t => Resource::Fragment {
                track,
                time: parse_u64(t, "time")?,
            },
        };
        Ok((resource, opts))
    } else {
        Err(unknown())
    }
}

/// `Key(encryption=…)`: the content key of the asset, for HLS
/// `EXT-X-KEY` (RFC 8216 §4.3.2.4). Written relative to a media playlist,
/// so it sits under `QualityLevels({bitrate})/` like the playlist's
/// segments and carries a signed URL's token prefix with it; the bitrate
/// does not choose the key (one key per asset). Only options follow, and
/// `encryption=` must be one of them ([`RawOptions::finish`]). `None` when
/// a suffix follows the parentheses.
fn key_resource(args: &str, suffix: &str) -> Option<Result<(Resource, RawOptions), UrlError>> {
    if !suffix.is_empty() {
        return None;
    }
    let mut opts = RawOptions::default();
    Some(
        opts.parse_items(args.split(','))
            .map(|()| (Resource::Key, opts)),
    )
}

fn track_ref(bitrate: u64, name: &str) -> Result<TrackRef, UrlError> {
    if !is_valid_name(name) {
        return Err(UrlError::InvalidName {
            what: "track name",
            value: clip(name),
        });
    }
    Ok(TrackRef {
        bitrate,
        name: name.to_string(),
    })
}

/// Plain decimal digits only: `u64::from_str` would also take a leading `+`.
fn parse_u64(s: &str, what: &'static str) -> Result<u64, UrlError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::NotANumber(what));
    }
    s.parse().map_err(|_| UrlError::OutOfRange(what))
}

#[cfg(test)]
mod tests;
