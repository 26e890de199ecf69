//! The request grammar: a request path (and query string) → a typed [`Route`].
//!
//! edgepack answers the URL shapes players and CMS integrations already use,
//! so existing links keep working when an origin moves to the edge:
//!
//! * **Azure Media Services** (REFERENCES.md §1), the compatibility target:
//!   `/{dir}/{name}.ism/manifest(format=m3u8-cmaf).m3u8`,
//!   `…/QualityLevels(381048)/Manifest(video,format=m3u8-aapl)`,
//!   `…/QualityLevels(2500080)/Fragments(video=0,format=m3u8-aapl)`.
//! * **nginx-vod-module** (REFERENCES.md §2): `/{dir}/{file}.mp4/master.m3u8`,
//!   `manifest.mpd`, and multi-file sets `/{dir}/{prefix},{a},{b},{suffix}.urlset/…`.
//!
//! The asset prefix grammar is the same for all three asset kinds: whatever
//! follows `{x}.ism/`, `{x}.mp4/` or `{x}.urlset/` is parsed identically, so a
//! bare MP4 gets Azure-style sub-resources and an `.ism` gets the nginx-vod
//! aliases.
//!
//! Liberal where Azure was (the words `manifest`, `QualityLevels`,
//! `Fragments`, option keys and option values are ASCII case-insensitive; a
//! `.m3u8` / `.mpd` suffix after `manifest(…)` is accepted), strict elsewhere
//! (no whitespace, no unknown options, no unbalanced parentheses, numbers are
//! plain decimal digits).
//!
//! ## Query string
//! Azure never read the query string, but Unified Origin users write
//! `?filter=…` and it costs nothing to accept. The keys `format`, `filter`,
//! `encryption` and `audio-only` are read from the query with the same value
//! grammar as inside the parentheses; every other key is ignored, because
//! CDNs and players add their own (tokens, cache busters). The same option in
//! both places must agree, else the request is rejected rather than silently
//! picking one. Callers must therefore keep the query in the cache key.
//!
//! ## Object paths
//! Every path segment is percent-decoded on its own and must then be a safe
//! object-name component: valid UTF-8, no control characters, no `\`, no `%`
//! (a double-encoded `%252e%252e` would otherwise become `..` at an origin
//! that decodes again), no `?` / `#`, no encoded `/`, and never `.`, `..` or
//! empty. An object path is the decoded segments joined by `/`, relative to
//! the origin root, with no leading slash, so it can never name anything
//! outside the origin root. The origin adapter must still percent-encode it
//! when it builds the backend URL (spaces and non-ASCII are allowed).

use std::fmt;

/// Longest accepted request path, in bytes (before decoding).
pub const MAX_PATH_LEN: usize = 2048;
/// Longest accepted query string, in bytes.
pub const MAX_QUERY_LEN: usize = 2048;
/// Most path segments in a request, resource segments included.
pub const MAX_SEGMENTS: usize = 32;
/// Most files in one `.urlset`.
pub const MAX_URLSET_MEMBERS: usize = 16;
/// Most named filters in `filter=a;b;c` (Azure allowed three, intersected).
pub const MAX_FILTERS: usize = 3;
/// Longest track, filter or player asset name.
pub const MAX_NAME_LEN: usize = 64;

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/health`. The method is the caller's business (GET/HEAD).
    Health,
    /// `/player` and `/player/`.
    PlayerPage,
    /// `/player/assets/{file}`; the file name matches `[A-Za-z0-9._-]+` and
    /// does not start with `.`.
    PlayerAsset(String),
    /// A manifest, playlist or segment of an asset.
    Stream(StreamRequest),
}

/// A request for something derived from media stored at the origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamRequest {
    pub asset: Asset,
    pub resource: Resource,
    pub options: Options,
}

/// The origin objects a stream request is built from. Paths are relative to
/// the origin root, decoded, without a leading slash (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asset {
    /// `{dir}/{name}.ism` — a SMIL server manifest listing the MP4s
    /// (e.g. `"abr/abr.ism"`).
    Ism { path: String },
    /// A bare MP4: `"dir/file.mp4"`; also `.ismv`/`.isma` (Smooth
    /// Streaming's fragmented MP4s), so that an existing one is answered
    /// with why it cannot be served rather than a 404.
    Mp4 { path: String },
    /// nginx-vod urlset `/{dir}/{prefix},{a},{b},{suffix}.urlset/…` expanded
    /// to `dir/{prefix}{a}{suffix}`, `dir/{prefix}{b}{suffix}`; 1 to
    /// [`MAX_URLSET_MEMBERS`] paths, in request order.
    UrlSet { paths: Vec<String> },
}

/// What is asked of the asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// The top-level manifest (Smooth client manifest, HLS multivariant
    /// playlist or DASH MPD, per [`Options::format`]).
    Manifest,
    /// `QualityLevels({bitrate})/Manifest({track},format=…[,type=keyframes])`,
    /// an HLS media playlist (I-frame playlist when `keyframes`).
    MediaPlaylist { track: TrackRef, keyframes: bool },
    /// `QualityLevels({bitrate})/Fragments({track}=i,format=…)`.
    Init { track: TrackRef },
    /// `QualityLevels({bitrate})/Fragments({track}={time},format=…)`, time in
    /// 100 ns units (the 10 MHz timescale every Azure manifest uses).
    Fragment { track: TrackRef, time: u64 },
}

/// A track as sub-resource URLs address it: Azure used the `.ism` `trackName`
/// plus `systemBitrate`, so both are part of the address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackRef {
    pub bitrate: u64,
    /// `[A-Za-z0-9_.-]`, 1 to [`MAX_NAME_LEN`] characters.
    pub name: String,
}

/// Output format, named after Azure's `format=` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// `m3u8-cmaf`: HLS with fMP4/CMAF segments.
    HlsCmaf,
    /// `mpd-time-cmaf`: DASH with CMAF segments.
    DashCmaf,
    /// `mpd-time-csf`: DASH ISO-FF live profile.
    DashCsf,
    /// `m3u8-aapl`: HLS v4 with MPEG-TS segments.
    HlsTs,
    /// `m3u8-aapl-v3`: HLS v3, MPEG-TS, muxed.
    HlsTsV3,
    /// No `format=`: Smooth Streaming 2.2.
    #[default]
    Smooth,
    /// `fmp4-v20`: Smooth Streaming 2.0 (no `r` repeats).
    SmoothV20,
}

impl Format {
    /// Every format, for tests and exhaustive tables.
    pub const ALL: [Format; 7] = [
        Format::HlsCmaf,
        Format::DashCmaf,
        Format::DashCsf,
        Format::HlsTs,
        Format::HlsTsV3,
        Format::Smooth,
        Format::SmoothV20,
    ];

    /// The `format=` value Azure used, `None` for Smooth 2.2 which had none.
    pub fn as_azure(&self) -> Option<&'static str> {
        match self {
            Format::HlsCmaf => Some("m3u8-cmaf"),
            Format::DashCmaf => Some("mpd-time-cmaf"),
            Format::DashCsf => Some("mpd-time-csf"),
            Format::HlsTs => Some("m3u8-aapl"),
            Format::HlsTsV3 => Some("m3u8-aapl-v3"),
            Format::Smooth => None,
            Format::SmoothV20 => Some("fmp4-v20"),
        }
    }

    /// Inverse of [`Format::as_azure`], ASCII case-insensitive.
    pub fn from_azure(value: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| {
            f.as_azure()
                .is_some_and(|name| name.eq_ignore_ascii_case(value))
        })
    }

    pub fn is_hls(&self) -> bool {
        matches!(self, Format::HlsCmaf | Format::HlsTs | Format::HlsTsV3)
    }

    pub fn is_dash(&self) -> bool {
        matches!(self, Format::DashCmaf | Format::DashCsf)
    }

    pub fn is_smooth(&self) -> bool {
        matches!(self, Format::Smooth | Format::SmoothV20)
    }
}

/// Options from the parenthesised list and the query string, merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    /// `filter=a;b;c`: up to [`MAX_FILTERS`] filter names, to be intersected.
    pub filters: Vec<String>,
    /// `encryption=cbc|cenc|cbcs-aapl|piff`, lower-cased. Parsed so the
    /// caller can answer 501 rather than 400.
    pub encryption: Option<String>,
    /// `audio-only=true|false`.
    pub audio_only: Option<bool>,
}

/// The `encryption=` values Azure accepted (REFERENCES.md §1).
const ENCRYPTIONS: [&str; 4] = ["cbc", "cenc", "cbcs-aapl", "piff"];

/// Why a request was rejected. `Display` is a short reason meant for the
/// body of an HTTP 400 (404 for [`UrlError::NotFound`]); any echoed input is
/// clipped and escaped, but the body should still be sent as `text/plain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// No route matches this path.
    NotFound,
    /// The path is malformed or unsafe (the reason is fixed text).
    Path(&'static str),
    /// The resource part is malformed (the reason is fixed text).
    Syntax(&'static str),
    /// A sub-resource this grammar does not know.
    UnknownResource(String),
    UnknownFormat(String),
    UnknownOption(String),
    /// A known option with a value outside its grammar.
    InvalidOption {
        option: &'static str,
        value: String,
    },
    DuplicateOption(&'static str),
    /// The path and the query string give different values.
    ConflictingOption(&'static str),
    /// An option that is valid only on another kind of resource.
    MisplacedOption(&'static str),
    /// A track, filter or player asset name outside `[A-Za-z0-9_.-]{1,64}`.
    InvalidName {
        what: &'static str,
        value: String,
    },
    NotANumber(&'static str),
    OutOfRange(&'static str),
    /// A media playlist was asked for in a non-HLS format.
    NotHls,
}

impl UrlError {
    /// The HTTP status this rejection maps to.
    pub fn http_status(&self) -> u16 {
        match self {
            UrlError::NotFound => 404,
            _ => 400,
        }
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::NotFound => write!(f, "not found"),
            UrlError::Path(reason) | UrlError::Syntax(reason) => write!(f, "{reason}"),
            UrlError::UnknownResource(v) => {
                write!(f, "unknown resource '{}'", v.escape_debug())
            }
            UrlError::UnknownFormat(v) => write!(f, "unknown format '{}'", v.escape_debug()),
            UrlError::UnknownOption(v) => write!(f, "unknown option '{}'", v.escape_debug()),
            UrlError::InvalidOption { option, value } => {
                write!(f, "invalid {option} '{}'", value.escape_debug())
            }
            UrlError::DuplicateOption(o) => write!(f, "option '{o}' given twice"),
            UrlError::ConflictingOption(o) => {
                write!(f, "option '{o}' differs between path and query")
            }
            UrlError::MisplacedOption(o) => {
                write!(f, "option '{o}' is only valid for media playlists")
            }
            UrlError::InvalidName { what, value } => {
                write!(f, "invalid {what} '{}'", value.escape_debug())
            }
            UrlError::NotANumber(what) => write!(f, "{what} is not a number"),
            UrlError::OutOfRange(what) => write!(f, "{what} is out of range"),
            UrlError::NotHls => write!(f, "media playlists need an HLS format"),
        }
    }
}

impl std::error::Error for UrlError {}

/// Keep echoed input short: error bodies should not mirror megabytes back.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// Parse a request path (starting with `/`) and its optional query string
/// (without the `?`).
pub fn parse(path: &str, query: Option<&str>) -> Result<Route, UrlError> {
    if path.len() > MAX_PATH_LEN {
        return Err(UrlError::Path("path too long"));
    }
    let rest = path
        .strip_prefix('/')
        .ok_or(UrlError::Path("path must start with '/'"))?;
    match rest {
        "health" => return Ok(Route::Health),
        "player" | "player/" => return Ok(Route::PlayerPage),
        _ => {}
    }
    if let Some(file) = rest.strip_prefix("player/assets/") {
        if !file.contains('/') {
            return player_asset(file).map(Route::PlayerAsset);
        }
    }
    if rest.is_empty() {
        return Err(UrlError::NotFound);
    }
    if rest.split('/').nth(MAX_SEGMENTS).is_some() {
        return Err(UrlError::Path("too many path segments"));
    }
    let segments = rest
        .split('/')
        .map(decode_segment)
        .collect::<Result<Vec<_>, _>>()?;
    let query = match query {
        Some(q) => parse_query(q)?,
        None => RawOptions::default(),
    };
    parse_stream(&segments, query).map(Route::Stream)
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

/// `[A-Za-z0-9_.-]{1,64}`: the track, filter and asset names that may appear
/// unescaped in URLs we build and in the parenthesised grammar without
/// ambiguity. Public so `.ism` parsing and name generation apply the same rule.
pub fn is_valid_name(s: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decode one path segment (RFC 3986 §2.1) and check that the result
/// is a safe object-name component (see the module docs for why each
/// character is refused).
fn decode_segment(raw: &str) -> Result<String, UrlError> {
    let decoded = percent_decode(raw)?;
    match decoded.as_str() {
        "" => Err(UrlError::Path("empty path segment")),
        "." | ".." => Err(UrlError::Path("path escapes origin")),
        _ => Ok(decoded),
    }
}

fn percent_decode(raw: &str) -> Result<String, UrlError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_val);
            let lo = bytes.get(i + 2).copied().and_then(hex_val);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(UrlError::Path("invalid percent-encoding"));
            };
            match (hi << 4) | lo {
                b'/' => return Err(UrlError::Path("encoded slash in path")),
                b'%' => return Err(UrlError::Path("double-encoded path")),
                v => out.push(v),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let s = String::from_utf8(out).map_err(|_| UrlError::Path("path is not valid UTF-8"))?;
    for c in s.chars() {
        match c {
            '\0' => return Err(UrlError::Path("NUL in path")),
            '\\' => return Err(UrlError::Path("backslash in path")),
            '?' | '#' => return Err(UrlError::Path("encoded '?' or '#' in path")),
            c if c.is_control() => return Err(UrlError::Path("control character in path")),
            _ => {}
        }
    }
    Ok(s)
}

fn parse_stream(segments: &[String], query: RawOptions) -> Result<StreamRequest, UrlError> {
    let n = segments.len();
    // Sub-resources are one segment (`manifest…`) or two
    // (`QualityLevels(…)/…`); the asset is the segment just before them, so
    // directories may have any name, including one ending in `.mp4`.
    let sub_len = match n.checked_sub(2).and_then(|i| segments.get(i)) {
        Some(s) if starts_with_ci(s, "qualitylevels(") => 2,
        _ => 1,
    };
    let asset_end = n.checked_sub(sub_len).filter(|&i| i > 0);
    let Some(asset_end) = asset_end else {
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

/// `s` without `suffix`, compared ASCII case-insensitively; `None` unless
/// something is left.
fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len()).filter(|&c| c > 0)?;
    let (stem, tail) = (s.get(..cut)?, s.get(cut..)?);
    tail.eq_ignore_ascii_case(suffix).then_some(stem)
}

/// `segments` ends with the asset segment; everything before it is the
/// directory. Extensions are matched ASCII case-insensitively (`.ISM` files
/// exist); the object path keeps the case it was requested with.
fn parse_asset(segments: &[String]) -> Result<Asset, UrlError> {
    let Some((last, dirs)) = segments.split_last() else {
        return Err(UrlError::NotFound);
    };
    let join = |name: &str| {
        let mut path = dirs.join("/");
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(name);
        path
    };
    if strip_suffix_ci(last, ".ism").is_some() {
        return Ok(Asset::Ism { path: join(last) });
    }
    if [".mp4", ".ismv", ".isma"]
        .iter()
        .any(|ext| strip_suffix_ci(last, ext).is_some())
    {
        return Ok(Asset::Mp4 { path: join(last) });
    }
    if let Some(stem) = strip_suffix_ci(last, ".urlset") {
        let paths = expand_urlset(stem)?.iter().map(|n| join(n)).collect();
        return Ok(Asset::UrlSet { paths });
    }
    Err(UrlError::NotFound)
}

/// nginx-vod `{prefix},{a},{b},…,{suffix}`. The whole set lives in one
/// segment (members cannot contain `/`); members may be empty as long as the
/// expanded name is a valid segment.
fn expand_urlset(stem: &str) -> Result<Vec<String>, UrlError> {
    let parts: Vec<&str> = stem.split(',').take(MAX_URLSET_MEMBERS + 3).collect();
    let [prefix, members @ .., suffix] = parts.as_slice() else {
        return Err(UrlError::Syntax("urlset needs prefix,member,…,suffix"));
    };
    if members.is_empty() {
        return Err(UrlError::Syntax("urlset needs prefix,member,…,suffix"));
    }
    if members.len() > MAX_URLSET_MEMBERS {
        return Err(UrlError::Syntax("urlset has more than 16 members"));
    }
    members
        .iter()
        .map(|m| {
            let name = format!("{prefix}{m}{suffix}");
            match name.as_str() {
                "" => Err(UrlError::Syntax("empty urlset member")),
                "." | ".." => Err(UrlError::Path("path escapes origin")),
                _ => Ok(name),
            }
        })
        .collect()
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

/// `QualityLevels({bitrate})` followed by `Manifest({track},opts)[.m3u8]` or
/// `Fragments({track}={time|i},opts)`.
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
        if !matches!(call.suffix, "" | ".mp4" | ".m4s" | ".ts" | ".aac") {
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

/// Options as written in one place (path or query), before defaults.
#[derive(Default)]
struct RawOptions {
    format: Option<Format>,
    filters: Option<Vec<String>>,
    encryption: Option<String>,
    audio_only: Option<bool>,
    /// `type=keyframes`; consumed by media playlists, an error anywhere else.
    keyframes: Option<bool>,
    /// From a `.m3u8` / `.mpd` suffix or alias: used only without `format=`.
    implied_format: Option<Format>,
}

/// Option keys honoured in the query string; any other key is ignored.
const QUERY_KEYS: [&str; 4] = ["format", "filter", "encryption", "audio-only"];

fn put_once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), UrlError> {
    if slot.is_some() {
        return Err(UrlError::DuplicateOption(name));
    }
    *slot = Some(value);
    Ok(())
}

fn merge_one<T: PartialEq>(
    path: Option<T>,
    query: Option<T>,
    name: &'static str,
) -> Result<Option<T>, UrlError> {
    match (path, query) {
        (Some(p), Some(q)) if p != q => Err(UrlError::ConflictingOption(name)),
        (p, q) => Ok(p.or(q)),
    }
}

impl RawOptions {
    /// Comma-separated `key=value` items from inside the parentheses.
    fn parse_items<'a>(&mut self, items: impl Iterator<Item = &'a str>) -> Result<(), UrlError> {
        for item in items {
            if item.is_empty() {
                return Err(UrlError::Syntax("empty option"));
            }
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| UrlError::UnknownOption(clip(item)))?;
            if !self.set(key, value)? {
                return Err(UrlError::UnknownOption(clip(key)));
            }
        }
        Ok(())
    }

    /// Set one option; `Ok(false)` when the key is not an option at all.
    fn set(&mut self, key: &str, value: &str) -> Result<bool, UrlError> {
        let invalid = |option| UrlError::InvalidOption {
            option,
            value: clip(value),
        };
        if key.eq_ignore_ascii_case("format") {
            let f =
                Format::from_azure(value).ok_or_else(|| UrlError::UnknownFormat(clip(value)))?;
            put_once(&mut self.format, f, "format")?;
        } else if key.eq_ignore_ascii_case("filter") {
            put_once(&mut self.filters, parse_filters(value)?, "filter")?;
        } else if key.eq_ignore_ascii_case("encryption") {
            let e = ENCRYPTIONS
                .into_iter()
                .find(|e| e.eq_ignore_ascii_case(value))
                .ok_or_else(|| invalid("encryption"))?;
            put_once(&mut self.encryption, e.to_string(), "encryption")?;
        } else if key.eq_ignore_ascii_case("audio-only") {
            let b = if value.eq_ignore_ascii_case("true") {
                true
            } else if value.eq_ignore_ascii_case("false") {
                false
            } else {
                return Err(invalid("audio-only"));
            };
            put_once(&mut self.audio_only, b, "audio-only")?;
        } else if key.eq_ignore_ascii_case("type") {
            if !value.eq_ignore_ascii_case("keyframes") {
                return Err(invalid("type"));
            }
            put_once(&mut self.keyframes, true, "type")?;
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// Path options combined with query options; they must agree.
    fn merge(self, query: RawOptions) -> Result<RawOptions, UrlError> {
        Ok(RawOptions {
            format: merge_one(self.format, query.format, "format")?,
            filters: merge_one(self.filters, query.filters, "filter")?,
            encryption: merge_one(self.encryption, query.encryption, "encryption")?,
            audio_only: merge_one(self.audio_only, query.audio_only, "audio-only")?,
            keyframes: self.keyframes,
            implied_format: self.implied_format,
        })
    }

    fn finish(self, resource: &Resource) -> Result<Options, UrlError> {
        if self.keyframes.is_some() {
            return Err(UrlError::MisplacedOption("type"));
        }
        let format = self.format.or(self.implied_format).unwrap_or_default();
        if matches!(resource, Resource::MediaPlaylist { .. }) && !format.is_hls() {
            return Err(UrlError::NotHls);
        }
        Ok(Options {
            format,
            filters: self.filters.unwrap_or_default(),
            encryption: self.encryption,
            audio_only: self.audio_only,
        })
    }
}

/// `a;b;c`: 1 to [`MAX_FILTERS`] names.
fn parse_filters(value: &str) -> Result<Vec<String>, UrlError> {
    let mut filters = Vec::new();
    for name in value.split(';') {
        if filters.len() == MAX_FILTERS {
            return Err(UrlError::Syntax("more than 3 filters"));
        }
        if !is_valid_name(name) {
            return Err(UrlError::InvalidName {
                what: "filter name",
                value: clip(name),
            });
        }
        filters.push(name.to_string());
    }
    Ok(filters)
}

fn parse_query(query: &str) -> Result<RawOptions, UrlError> {
    if query.len() > MAX_QUERY_LEN {
        return Err(UrlError::Syntax("query string too long"));
    }
    let mut opts = RawOptions::default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !QUERY_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        let value = percent_decode(value)
            .map_err(|_| UrlError::Syntax("invalid percent-encoding in query"))?;
        opts.set(key, &value)?;
    }
    Ok(opts)
}

// ---------------------------------------------------------------------------
// Building sub-resource URLs, relative to the manifest (i.e. to `{x}.ism/`).
// Track names are written as given; they must already satisfy the name
// grammar (`[A-Za-z0-9_.-]{1,64}`) or the URL will not parse back.

fn push_format(url: &mut String, format: Format) {
    if let Some(f) = format.as_azure() {
        url.push_str(",format=");
        url.push_str(f);
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
    let mut url = format!("QualityLevels({})/Manifest({}", track.bitrate, track.name);
    push_format(&mut url, format);
    if keyframes {
        url.push_str(",type=keyframes");
    }
    url.push(')');
    if format.is_hls() {
        url.push_str(".m3u8");
    }
    url
}

/// Extension added to HLS and DASH segment URIs (see `parse_sub_resource`).
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
    let mut url = format!(
        "QualityLevels({})/Fragments({}=i",
        track.bitrate, track.name
    );
    push_format(&mut url, format);
    url.push(')');
    url.push_str(hls_suffix(format, true));
    url
}

/// `QualityLevels({bitrate})/Fragments({name}={time},format=…)`.
pub fn fragment_url(track: &TrackRef, time: u64, format: Format) -> String {
    let mut url = format!(
        "QualityLevels({})/Fragments({}={time}",
        track.bitrate, track.name
    );
    push_format(&mut url, format);
    url.push(')');
    url.push_str(hls_suffix(format, false));
    url
}

/// A media segment URL template with the protocol's placeholders: for DASH
/// (and HLS, which has none of its own) `QualityLevels($Bandwidth$)/
/// Fragments({name}=$Time$,format=…)` (ISO/IEC 23009-1 §5.3.9.4.4); for
/// Smooth `QualityLevels({bitrate})/Fragments({name}={start time})`
/// (MS-SSTR §2.2.2.2, the `StreamIndex@Url` pattern).
pub fn fragment_url_template(track_name: &str, format: Format) -> String {
    let mut url = if format.is_smooth() {
        format!("QualityLevels({{bitrate}})/Fragments({track_name}={{start time}}")
    } else {
        format!("QualityLevels($Bandwidth$)/Fragments({track_name}=$Time$")
    };
    push_format(&mut url, format);
    url.push(')');
    url.push_str(hls_suffix(format, false));
    url
}

/// The DASH `SegmentTemplate@initialization` pattern:
/// `QualityLevels($Bandwidth$)/Fragments({name}=i,format=…)`.
pub fn init_url_template(track_name: &str, format: Format) -> String {
    let mut url = format!("QualityLevels($Bandwidth$)/Fragments({track_name}=i");
    push_format(&mut url, format);
    url.push(')');
    url.push_str(hls_suffix(format, true));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(path: &str) -> StreamRequest {
        stream_q(path, None)
    }

    fn stream_q(path: &str, query: Option<&str>) -> StreamRequest {
        match parse(path, query) {
            Ok(Route::Stream(s)) => s,
            other => panic!("{path}: expected a stream, got {other:?}"),
        }
    }

    fn err(path: &str) -> UrlError {
        err_q(path, None)
    }

    fn err_q(path: &str, query: Option<&str>) -> UrlError {
        match parse(path, query) {
            Err(e) => e,
            Ok(r) => panic!("{path}: expected an error, got {r:?}"),
        }
    }

    fn track(bitrate: u64, name: &str) -> TrackRef {
        TrackRef {
            bitrate,
            name: name.to_string(),
        }
    }

    fn ism(path: &str) -> Asset {
        Asset::Ism {
            path: path.to_string(),
        }
    }

    // --- fixed routes -----------------------------------------------------

    #[test]
    fn fixed_routes() {
        assert_eq!(parse("/health", None), Ok(Route::Health));
        assert_eq!(parse("/health", Some("x=1")), Ok(Route::Health));
        assert_eq!(parse("/player", None), Ok(Route::PlayerPage));
        assert_eq!(parse("/player/", None), Ok(Route::PlayerPage));
        assert!(parse("/health/", None).is_err());
        assert!(parse("/HEALTH", None).is_err());
        assert_eq!(
            parse("/player/assets/app-1.2_min.js", None),
            Ok(Route::PlayerAsset("app-1.2_min.js".into()))
        );
    }

    #[test]
    fn player_asset_names_are_strict() {
        for bad in [
            "/player/assets/",
            "/player/assets/..",
            "/player/assets/.hidden",
            "/player/assets/%2e%2e",
            "/player/assets/a%20b.js",
            "/player/assets/a$b",
        ] {
            assert!(
                matches!(err(bad), UrlError::InvalidName { .. }),
                "{bad}: {:?}",
                parse(bad, None)
            );
        }
        // More than one segment after assets/ is not a player asset.
        assert_eq!(err("/player/assets/a/b.js"), UrlError::NotFound);
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for p in [
            "/",
            "/favicon.ico",
            "/healthz",
            "/a/b/c",
            "/x.ism",
            "/x.mp4",
        ] {
            assert_eq!(err(p), UrlError::NotFound, "{p}");
            assert_eq!(err(p).http_status(), 404);
        }
    }

    // --- top-level manifests ----------------------------------------------

    #[test]
    fn azure_manifest_formats() {
        let cases = [
            ("manifest", Format::Smooth),
            ("Manifest", Format::Smooth),
            ("MANIFEST", Format::Smooth),
            ("manifest(format=fmp4-v20)", Format::SmoothV20),
            ("manifest(format=m3u8-aapl)", Format::HlsTs),
            ("manifest(format=m3u8-aapl).m3u8", Format::HlsTs),
            ("manifest(format=m3u8-aapl-v3)", Format::HlsTsV3),
            ("manifest(format=m3u8-cmaf)", Format::HlsCmaf),
            ("manifest(format=m3u8-cmaf).m3u8", Format::HlsCmaf),
            ("Manifest(format=M3U8-CMAF)", Format::HlsCmaf),
            ("manifest(format=mpd-time-csf)", Format::DashCsf),
            ("manifest(format=mpd-time-csf).mpd", Format::DashCsf),
            ("manifest(format=mpd-time-cmaf)", Format::DashCmaf),
            ("manifest(format=mpd-time-cmaf).mpd", Format::DashCmaf),
            // The suffix is ignored when a format is given, as Azure did.
            ("manifest(format=mpd-time-cmaf).m3u8", Format::DashCmaf),
            // nginx-vod aliases and their obvious siblings.
            ("master.m3u8", Format::HlsCmaf),
            ("manifest.mpd", Format::DashCmaf),
            ("manifest.m3u8", Format::HlsCmaf),
            ("manifest(filter=f1).mpd", Format::DashCmaf),
        ];
        for (resource, format) in cases {
            let path = format!("/0a1b-guid/abr/abr.ism/{resource}");
            let s = stream(&path);
            assert_eq!(s.asset, ism("0a1b-guid/abr/abr.ism"), "{path}");
            assert_eq!(s.resource, Resource::Manifest, "{path}");
            assert_eq!(s.options.format, format, "{path}");
        }
    }

    #[test]
    fn manifest_options() {
        let s = stream(
            "/a/b.ism/manifest(format=m3u8-aapl,filter=f1;f_2;f.3,encryption=CBCS-AAPL,audio-only=false)",
        );
        assert_eq!(s.options.format, Format::HlsTs);
        assert_eq!(s.options.filters, ["f1", "f_2", "f.3"]);
        assert_eq!(s.options.encryption.as_deref(), Some("cbcs-aapl"));
        assert_eq!(s.options.audio_only, Some(false));
        for e in ENCRYPTIONS {
            let s = stream(&format!("/b.ism/manifest(encryption={e})"));
            assert_eq!(s.options.encryption.as_deref(), Some(e));
        }
        let s = stream("/b.ism/manifest(audio-only=TRUE,format=m3u8-cmaf)");
        assert_eq!(s.options.audio_only, Some(true));
        assert_eq!(stream("/b.ism/manifest").options, Options::default());
    }

    #[test]
    fn manifest_rejections() {
        let cases: [(&str, UrlError); 16] = [
            (
                "/a.ism/manifest(format=m3u8-foo)",
                UrlError::UnknownFormat("m3u8-foo".into()),
            ),
            (
                "/a.ism/manifest(format=)",
                UrlError::UnknownFormat("".into()),
            ),
            ("/a.ism/manifest()", UrlError::Syntax("empty option")),
            (
                "/a.ism/manifest(format=m3u8-cmaf,)",
                UrlError::Syntax("empty option"),
            ),
            (
                "/a.ism/manifest(format=m3u8-cmaf,format=m3u8-aapl)",
                UrlError::DuplicateOption("format"),
            ),
            (
                "/a.ism/manifest(bogus=1)",
                UrlError::UnknownOption("bogus".into()),
            ),
            (
                "/a.ism/manifest(m3u8-cmaf)",
                UrlError::UnknownOption("m3u8-cmaf".into()),
            ),
            (
                "/a.ism/manifest(format=m3u8-cmaf",
                UrlError::Syntax("unbalanced parentheses"),
            ),
            (
                "/a.ism/manifest(format=m3u8-cmaf))",
                UrlError::Syntax("unbalanced parentheses"),
            ),
            (
                "/a.ism/manifest((format=m3u8-cmaf)",
                UrlError::Syntax("unbalanced parentheses"),
            ),
            (
                "/a.ism/manifest)format=m3u8-cmaf(",
                UrlError::Syntax("unbalanced parentheses"),
            ),
            (
                "/a.ism/manifest(format=m3u8-cmaf)(x)",
                UrlError::Syntax("unbalanced parentheses"),
            ),
            (
                "/a.ism/manifest(format=%20m3u8-cmaf)",
                UrlError::Syntax("spaces are not allowed"),
            ),
            (
                "/a.ism/manifest(encryption=rot13)",
                UrlError::InvalidOption {
                    option: "encryption",
                    value: "rot13".into(),
                },
            ),
            (
                "/a.ism/manifest(audio-only=yes)",
                UrlError::InvalidOption {
                    option: "audio-only",
                    value: "yes".into(),
                },
            ),
            (
                "/a.ism/manifest(format=m3u8-aapl,type=keyframes)",
                UrlError::MisplacedOption("type"),
            ),
        ];
        for (path, want) in cases {
            assert_eq!(err(path), want, "{path}");
            assert_eq!(want.http_status(), 400);
        }
        for path in [
            "/a.ism/manifest.json",
            "/a.ism/master.mpd",
            "/a.ism/Master.m3u8",
            "/a.ism/manifest(format=m3u8-cmaf).ts",
            "/a.ism/index.m3u8",
            "/a.ism/manifests",
            "/a.ism/.m3u8",
            "/a.ism/master(format=m3u8-cmaf)",
            "/a.ism/foo(bogus=1)",
        ] {
            assert!(
                matches!(err(path), UrlError::UnknownResource(_)),
                "{path}: {:?}",
                parse(path, None)
            );
        }
    }

    #[test]
    fn filters() {
        assert_eq!(
            err("/a.ism/manifest(filter=a;b;c;d)"),
            UrlError::Syntax("more than 3 filters")
        );
        for bad in [
            "filter=",
            "filter=a;;b",
            "filter=a;",
            "filter=a:b",
            "filter=a$",
        ] {
            let path = format!("/a.ism/manifest({bad})");
            assert!(
                matches!(
                    err(&path),
                    UrlError::InvalidName {
                        what: "filter name",
                        ..
                    }
                ),
                "{path}"
            );
        }
        let long = "f".repeat(MAX_NAME_LEN + 1);
        assert!(matches!(
            err(&format!("/a.ism/manifest(filter={long})")),
            UrlError::InvalidName { .. }
        ));
    }

    // --- sub-resources ----------------------------------------------------

    #[test]
    fn media_playlists() {
        let s = stream("/g/abr.ism/QualityLevels(381048)/Manifest(video,format=m3u8-aapl)");
        assert_eq!(
            s.resource,
            Resource::MediaPlaylist {
                track: track(381048, "video"),
                keyframes: false
            }
        );
        assert_eq!(s.options.format, Format::HlsTs);
        let s = stream(
            "/g/abr.ism/qualitylevels(128041)/manifest(aac_eng_2_128041_2_1,format=m3u8-cmaf).m3u8",
        );
        assert_eq!(
            s.resource,
            Resource::MediaPlaylist {
                track: track(128041, "aac_eng_2_128041_2_1"),
                keyframes: false
            }
        );
        let s = stream(
            "/g/abr.ism/QualityLevels(381048)/Manifest(video,format=m3u8-aapl,type=keyframes)",
        );
        assert_eq!(
            s.resource,
            Resource::MediaPlaylist {
                track: track(381048, "video"),
                keyframes: true
            }
        );
        // Format from the query string.
        let s = stream_q(
            "/g/abr.ism/QualityLevels(1)/Manifest(video)",
            Some("format=m3u8-cmaf"),
        );
        assert_eq!(s.options.format, Format::HlsCmaf);
    }

    #[test]
    fn media_playlist_rejections() {
        let p = "/a.ism/QualityLevels(1)/Manifest(video)";
        assert_eq!(err(p), UrlError::NotHls);
        let p = "/a.ism/QualityLevels(1)/Manifest(video,format=mpd-time-cmaf)";
        assert_eq!(err(p), UrlError::NotHls);
        let p = "/a.ism/QualityLevels(1)/Manifest(video,format=m3u8-aapl,type=all)";
        assert!(matches!(
            err(p),
            UrlError::InvalidOption { option: "type", .. }
        ));
        let p = "/a.ism/QualityLevels(1)/Manifest(,format=m3u8-aapl)";
        assert!(matches!(err(p), UrlError::InvalidName { .. }));
        let p = "/a.ism/QualityLevels(1)/Manifest(format=m3u8-aapl)";
        assert!(matches!(err(p), UrlError::InvalidName { .. }));
        let p = "/a.ism/QualityLevels(1)/Manifest(video,format=m3u8-aapl).mpd";
        assert!(matches!(err(p), UrlError::UnknownResource(_)));
        let p = "/a.ism/QualityLevels(1)/Manifest";
        assert!(matches!(err(p), UrlError::UnknownResource(_)));
    }

    #[test]
    fn fragments_and_init() {
        let s = stream("/g/abr.ism/QualityLevels(2500080)/Fragments(video=0,format=m3u8-aapl)");
        assert_eq!(
            s.resource,
            Resource::Fragment {
                track: track(2500080, "video"),
                time: 0
            }
        );
        assert_eq!(s.options.format, Format::HlsTs);
        let s = stream("/g/abr.ism/QualityLevels(2500080)/Fragments(video=i,format=mpd-time-csf)");
        assert_eq!(
            s.resource,
            Resource::Init {
                track: track(2500080, "video")
            }
        );
        assert_eq!(s.options.format, Format::DashCsf);
        // Smooth: no format.
        let s = stream("/g/abr.ism/QualityLevels(128000)/Fragments(audio_eng=20000000)");
        assert_eq!(
            s.resource,
            Resource::Fragment {
                track: track(128000, "audio_eng"),
                time: 20_000_000
            }
        );
        assert_eq!(s.options.format, Format::Smooth);
        let s = stream(&format!(
            "/a.ism/QualityLevels({})/FRAGMENTS(v={})",
            u64::MAX,
            u64::MAX
        ));
        assert_eq!(
            s.resource,
            Resource::Fragment {
                track: track(u64::MAX, "v"),
                time: u64::MAX
            }
        );
    }

    #[test]
    fn number_rejections() {
        let cases = [
            ("Fragments(v=abc)", UrlError::NotANumber("time")),
            ("Fragments(v=)", UrlError::NotANumber("time")),
            ("Fragments(v=+5)", UrlError::NotANumber("time")),
            ("Fragments(v=-5)", UrlError::NotANumber("time")),
            ("Fragments(v=1e9)", UrlError::NotANumber("time")),
            ("Fragments(v=0x10)", UrlError::NotANumber("time")),
            ("Fragments(v=I)", UrlError::NotANumber("time")),
            (
                "Fragments(v=18446744073709551616)",
                UrlError::OutOfRange("time"),
            ),
            (
                "Fragments(v=99999999999999999999999999999999999999)",
                UrlError::OutOfRange("time"),
            ),
            (
                "Fragments(v)",
                UrlError::Syntax("fragments need {track}={time}"),
            ),
            (
                "Fragments()",
                UrlError::Syntax("fragments need {track}={time}"),
            ),
        ];
        for (sub, want) in cases {
            let path = format!("/a.ism/QualityLevels(1)/{sub}");
            assert_eq!(err(&path), want, "{path}");
        }
        let cases = [
            ("QualityLevels()", UrlError::NotANumber("bitrate")),
            ("QualityLevels(abc)", UrlError::NotANumber("bitrate")),
            (
                "QualityLevels($Bandwidth$)",
                UrlError::NotANumber("bitrate"),
            ),
            (
                "QualityLevels(18446744073709551616)",
                UrlError::OutOfRange("bitrate"),
            ),
        ];
        for (levels, want) in cases {
            let path = format!("/a.ism/{levels}/Fragments(v=0)");
            assert_eq!(err(&path), want, "{path}");
        }
    }

    #[test]
    fn sub_resource_rejections() {
        for path in [
            "/a.ism/QualityLevels(1)/Fragment(v=0)",
            "/a.ism/QualityLevels(1)/Fragments",
            "/a.ism/QualityLevels(1)/KeyFrames(v=0)",
            "/a.ism/QualityLevels(1).x/Fragments(v=0)",
            "/a.ism/QualityLevels(1)x/Fragments(v=0)",
        ] {
            assert!(
                matches!(err(path), UrlError::UnknownResource(_)),
                "{path}: {:?}",
                parse(path, None)
            );
        }
        assert_eq!(
            err("/a.ism/QualityLevels(1/Fragments(v=0)"),
            UrlError::Syntax("unbalanced parentheses")
        );
        assert_eq!(
            err("/a.ism/QualityLevels(1)/Fragments(v=0"),
            UrlError::Syntax("unbalanced parentheses")
        );
        assert_eq!(
            err("/a.ism/QualityLevels(1)/Fragments(v=(0))"),
            UrlError::Syntax("unbalanced parentheses")
        );
        assert_eq!(
            err("/a.ism/QualityLevels(1)/Fragments(v=0,%20format=m3u8-aapl)"),
            UrlError::Syntax("spaces are not allowed")
        );
        assert!(matches!(
            err("/a.ism/QualityLevels(1)/Fragments(v=0,format=m3u8-aapl,type=keyframes)"),
            UrlError::MisplacedOption("type")
        ));
        // A resource without an asset in front of it.
        assert_eq!(err("/QualityLevels(1)/Fragments(v=0)"), UrlError::NotFound);
        assert_eq!(err("/manifest"), UrlError::NotFound);
        // Track names.
        for name in ["vid eo", "vid/eo", "vidéo", "v,w", "v$", ""] {
            let path = format!("/a.ism/QualityLevels(1)/Fragments({name}=0)");
            assert!(parse(&path, None).is_err(), "{path}");
        }
        let long = "v".repeat(MAX_NAME_LEN);
        let path = format!("/a.ism/QualityLevels(1)/Fragments({long}=0)");
        assert!(parse(&path, None).is_ok());
        let path = format!("/a.ism/QualityLevels(1)/Fragments({long}v=0)");
        assert!(matches!(
            err(&path),
            UrlError::InvalidName {
                what: "track name",
                ..
            }
        ));
    }

    #[test]
    fn percent_encoded_resource_is_decoded() {
        let s = stream("/a.ism/QualityLevels%28100%29/Fragments%28v%3D5%2Cformat%3Dm3u8-cmaf%29");
        assert_eq!(
            s.resource,
            Resource::Fragment {
                track: track(100, "v"),
                time: 5
            }
        );
        assert_eq!(s.options.format, Format::HlsCmaf);
    }

    // --- assets -----------------------------------------------------------

    #[test]
    fn same_grammar_for_every_asset_kind() {
        let subs = [
            "manifest(format=m3u8-cmaf).m3u8",
            "master.m3u8",
            "QualityLevels(1)/Manifest(v,format=m3u8-cmaf)",
            "QualityLevels(1)/Fragments(v=i,format=mpd-time-cmaf)",
            "QualityLevels(1)/Fragments(v=10,format=mpd-time-cmaf)",
        ];
        for sub in subs {
            let a = stream(&format!("/d/x.ism/{sub}"));
            let b = stream(&format!("/d/x.mp4/{sub}"));
            let c = stream(&format!("/d/x,1,2,.mp4.urlset/{sub}"));
            assert_eq!(a.asset, ism("d/x.ism"));
            assert_eq!(
                b.asset,
                Asset::Mp4 {
                    path: "d/x.mp4".into()
                }
            );
            assert_eq!(
                c.asset,
                Asset::UrlSet {
                    paths: vec!["d/x1.mp4".into(), "d/x2.mp4".into()]
                }
            );
            assert_eq!((&a.resource, &a.options), (&b.resource, &b.options));
            assert_eq!((&a.resource, &a.options), (&c.resource, &c.options));
        }
    }

    #[test]
    fn asset_paths() {
        assert_eq!(
            stream("/x.mp4/manifest").asset,
            Asset::Mp4 {
                path: "x.mp4".into()
            }
        );
        assert_eq!(
            stream("/a/b/c/Movie.MP4/manifest.mpd").asset,
            Asset::Mp4 {
                path: "a/b/c/Movie.MP4".into()
            }
        );
        assert_eq!(stream("/A.ISM/Manifest").asset, ism("A.ISM"));
        // A directory may have an asset-like name; the segment just before
        // the resource is the asset.
        assert_eq!(
            stream("/old.mp4/x.ism/manifest").asset,
            ism("old.mp4/x.ism")
        );
        // Decoded, non-ASCII and spaces survive into the object path.
        assert_eq!(
            stream("/my%20films/%C3%A9t%C3%A9.mp4/master.m3u8").asset,
            Asset::Mp4 {
                path: "my films/été.mp4".into()
            }
        );
        assert_eq!(
            stream("/日本/動画.mp4/master.m3u8").asset,
            Asset::Mp4 {
                path: "日本/動画.mp4".into()
            }
        );
        assert_eq!(
            stream("/d/x.ismv/manifest").asset,
            Asset::Mp4 {
                path: "d/x.ismv".into()
            }
        );
        assert_eq!(
            stream("/x.ISMA/manifest").asset,
            Asset::Mp4 {
                path: "x.ISMA".into()
            }
        );
        assert_eq!(err("/x.mov/manifest"), UrlError::NotFound);
        assert_eq!(err("/.mp4/manifest"), UrlError::NotFound);
        assert_eq!(err("/d/x.mp4/a/manifest"), UrlError::NotFound);
    }

    #[test]
    fn urlsets() {
        let s = stream("/vod/movie_,360,720,1080,.mp4.urlset/master.m3u8");
        assert_eq!(
            s.asset,
            Asset::UrlSet {
                paths: vec![
                    "vod/movie_360.mp4".into(),
                    "vod/movie_720.mp4".into(),
                    "vod/movie_1080.mp4".into()
                ]
            }
        );
        // Empty prefix / suffix / member.
        let s = stream("/,a.mp4,b.mp4,.urlset/manifest.mpd");
        assert_eq!(
            s.asset,
            Asset::UrlSet {
                paths: vec!["a.mp4".into(), "b.mp4".into()]
            }
        );
        let s = stream("/v/x,,-hd,.mp4.urlset/manifest");
        assert_eq!(
            s.asset,
            Asset::UrlSet {
                paths: vec!["v/x.mp4".into(), "v/x-hd.mp4".into()]
            }
        );
        // One member.
        let s = stream("/v/x,a,.mp4.urlset/manifest");
        assert_eq!(
            s.asset,
            Asset::UrlSet {
                paths: vec!["v/xa.mp4".into()]
            }
        );
        // 16 members fine, 17 not.
        let members: Vec<String> = (0..16).map(|i| i.to_string()).collect();
        let p = format!("/v/x,{},.mp4.urlset/manifest", members.join(","));
        assert!(matches!(stream(&p).asset, Asset::UrlSet { paths } if paths.len() == 16));
        let members: Vec<String> = (0..17).map(|i| i.to_string()).collect();
        let p = format!("/v/x,{},.mp4.urlset/manifest", members.join(","));
        assert_eq!(err(&p), UrlError::Syntax("urlset has more than 16 members"));
        // Too few parts, empty names, dot names.
        for p in ["/v/x.urlset/manifest", "/v/x,.mp4.urlset/manifest"] {
            assert_eq!(
                err(p),
                UrlError::Syntax("urlset needs prefix,member,…,suffix"),
                "{p}"
            );
        }
        assert_eq!(
            err("/v/,,,.urlset/manifest"),
            UrlError::Syntax("empty urlset member")
        );
        assert_eq!(
            err("/v/.,.,.urlset/manifest"),
            UrlError::Path("path escapes origin")
        );
        assert_eq!(
            err("/v/,..,.urlset/manifest"),
            UrlError::Path("path escapes origin")
        );
        // Members cannot reach into other directories.
        assert!(parse("/v/,a/b.mp4,.urlset/manifest", None).is_err());
        assert_eq!(
            err("/v/,a%2Fb.mp4,.urlset/manifest"),
            UrlError::Path("encoded slash in path")
        );
        // Hundreds of commas do not allocate hundreds of members.
        let p = format!("/v/x{}.urlset/manifest", ",".repeat(1500));
        assert!(parse(&p, None).is_err());
    }

    // --- hostile paths ------------------------------------------------------

    #[test]
    fn traversal_in_every_encoding() {
        let escapes = [
            "/../x.mp4/manifest",
            "/a/../../x.mp4/manifest",
            "/a/./x.mp4/manifest",
            "/%2e%2e/x.mp4/manifest",
            "/%2E%2E/x.mp4/manifest",
            "/.%2e/x.mp4/manifest",
            "/%2e./x.mp4/manifest",
            "/%2e/x.mp4/manifest",
            "/a/x.mp4/../manifest",
        ];
        for p in escapes {
            assert_eq!(err(p), UrlError::Path("path escapes origin"), "{p}");
        }
        let cases = [
            ("/%2e%2e%2fx.mp4/manifest", "encoded slash in path"),
            ("/a%2F..%2Fb/x.mp4/manifest", "encoded slash in path"),
            ("/a%2f/x.mp4/manifest", "encoded slash in path"),
            ("/%252e%252e/x.mp4/manifest", "double-encoded path"),
            ("/%25/x.mp4/manifest", "double-encoded path"),
            ("/..%5c..%5cx.mp4/manifest", "backslash in path"),
            ("/..\\x.mp4/manifest", "backslash in path"),
            ("/a%00/x.mp4/manifest", "NUL in path"),
            ("/a\0/x.mp4/manifest", "NUL in path"),
            (
                "/a%0d%0aSet-Cookie:x/x.mp4/manifest",
                "control character in path",
            ),
            ("/a%7f/x.mp4/manifest", "control character in path"),
            ("/a%c2%85/x.mp4/manifest", "control character in path"),
            ("/a%3f/x.mp4/manifest", "encoded '?' or '#' in path"),
            ("/a%23/x.mp4/manifest", "encoded '?' or '#' in path"),
            ("/%c0%ae%c0%ae/x.mp4/manifest", "path is not valid UTF-8"),
            ("/%ff/x.mp4/manifest", "path is not valid UTF-8"),
            ("/%e2%82/x.mp4/manifest", "path is not valid UTF-8"),
            ("/%/x.mp4/manifest", "invalid percent-encoding"),
            ("/%2/x.mp4/manifest", "invalid percent-encoding"),
            ("/%zz/x.mp4/manifest", "invalid percent-encoding"),
            ("/%%32%65/x.mp4/manifest", "invalid percent-encoding"),
            ("//x.mp4/manifest", "empty path segment"),
            ("/a//x.mp4/manifest", "empty path segment"),
            ("/a/x.mp4//manifest", "empty path segment"),
            ("/a/x.mp4/manifest/", "empty path segment"),
            ("x.mp4/manifest", "path must start with '/'"),
            ("", "path must start with '/'"),
        ];
        for (p, reason) in cases {
            assert_eq!(err(p), UrlError::Path(reason), "{p}");
            assert_eq!(err(p).to_string(), reason);
        }
    }

    #[test]
    fn object_paths_never_escape() {
        // Whatever is accepted: no leading slash, no dot or empty segments,
        // no backslash or percent sign.
        let inputs = [
            "/a/b.mp4/manifest",
            "/%E2%80%AE/b.mp4/manifest",
            "/\u{FF0E}\u{FF0E}/b.mp4/manifest",
            "/...//b.mp4/manifest",
            "/.../b.mp4/manifest",
            "/..a/b.mp4/manifest",
            "/a../b.mp4/manifest",
            "/v/,...,.urlset/manifest",
        ];
        for p in inputs {
            let paths = match parse(p, None) {
                Ok(Route::Stream(s)) => match s.asset {
                    Asset::Ism { path } | Asset::Mp4 { path } => vec![path],
                    Asset::UrlSet { paths } => paths,
                },
                _ => continue,
            };
            for path in paths {
                assert!(!path.starts_with('/'), "{p} -> {path}");
                assert!(!path.contains(['\\', '%']), "{p} -> {path}");
                for seg in path.split('/') {
                    assert!(!matches!(seg, "" | "." | ".."), "{p} -> {path}");
                }
            }
        }
    }

    #[test]
    fn length_and_segment_limits() {
        let long = format!("/{}/x.mp4/manifest", "a".repeat(10_000));
        assert_eq!(err(&long), UrlError::Path("path too long"));
        let just = format!("/{}/x.mp4/manifest", "a".repeat(MAX_PATH_LEN - 16));
        assert_eq!(just.len(), MAX_PATH_LEN);
        assert!(parse(&just, None).is_ok());
        let deep = format!("{}/x.mp4/manifest", "/a".repeat(MAX_SEGMENTS - 2));
        assert!(parse(&deep, None).is_ok(), "{deep}");
        let deeper = format!("{}/x.mp4/manifest", "/a".repeat(MAX_SEGMENTS - 1));
        assert_eq!(err(&deeper), UrlError::Path("too many path segments"));
        let slashes = "/".repeat(2000);
        assert!(parse(&slashes, None).is_err());
        let parens = format!("/a.ism/manifest{}", "(".repeat(1000));
        assert_eq!(err(&parens), UrlError::Syntax("unbalanced parentheses"));
        let q = format!("format={}", "x".repeat(MAX_QUERY_LEN));
        assert_eq!(
            err_q("/a.ism/manifest", Some(&q)),
            UrlError::Syntax("query string too long")
        );
    }

    #[test]
    fn error_messages_are_short_and_escaped() {
        let junk = "\u{1b}[31m".to_string() + &"x".repeat(5000);
        let e = err(&format!("/a.ism/manifest(format={junk})"));
        let msg = e.to_string();
        assert!(msg.len() < 100, "{msg}");
        assert!(!msg.contains('\u{1b}'), "{msg}");
        assert_eq!(
            err("/a.ism/manifest(format=m3u8-foo)").to_string(),
            "unknown format 'm3u8-foo'"
        );
        assert_eq!(
            err("/a.ism/QualityLevels(1)/Fragments(v=x)").to_string(),
            "time is not a number"
        );
        assert_eq!(err("/../a.ism/manifest").to_string(), "path escapes origin");
    }

    // --- query string -------------------------------------------------------

    #[test]
    fn query_options() {
        let s = stream_q(
            "/a.ism/manifest",
            Some("format=m3u8-cmaf&filter=f1%3Bf2&token=abc&t=%ff&audio-only=true"),
        );
        assert_eq!(s.options.format, Format::HlsCmaf);
        assert_eq!(s.options.filters, ["f1", "f2"]);
        assert_eq!(s.options.audio_only, Some(true));
        // Agreeing duplicates between path and query are fine.
        let s = stream_q(
            "/a.ism/manifest(format=mpd-time-cmaf)",
            Some("FORMAT=mpd-time-cmaf"),
        );
        assert_eq!(s.options.format, Format::DashCmaf);
        // Explicit query format beats an alias's implied format.
        let s = stream_q("/a.mp4/manifest.mpd", Some("format=mpd-time-csf"));
        assert_eq!(s.options.format, Format::DashCsf);
        let s = stream_q("/a.mp4/manifest", Some(""));
        assert_eq!(s.options, Options::default());
        let s = stream_q("/a.mp4/manifest", Some("&&=&x&x=%zz&"));
        assert_eq!(s.options, Options::default());
        // A known key without a value is an error, not a default.
        assert_eq!(
            err_q("/a.mp4/manifest", Some("format")),
            UrlError::UnknownFormat("".into())
        );
    }

    #[test]
    fn query_rejections() {
        let cases = [
            (
                "/a.ism/manifest(format=m3u8-cmaf)",
                "format=mpd-time-cmaf",
                UrlError::ConflictingOption("format"),
            ),
            (
                "/a.ism/manifest(filter=a)",
                "filter=b",
                UrlError::ConflictingOption("filter"),
            ),
            (
                "/a.ism/manifest",
                "format=m3u8-cmaf&format=m3u8-cmaf",
                UrlError::DuplicateOption("format"),
            ),
            (
                "/a.ism/manifest",
                "format=nope",
                UrlError::UnknownFormat("nope".into()),
            ),
            (
                "/a.ism/manifest",
                "format=%zz",
                UrlError::Syntax("invalid percent-encoding in query"),
            ),
            (
                "/a.ism/manifest",
                "filter=a%00",
                UrlError::Syntax("invalid percent-encoding in query"),
            ),
        ];
        for (path, q, want) in cases {
            assert_eq!(err_q(path, Some(q)), want, "{path}?{q}");
        }
        // `type` is only honoured in the path.
        let s = stream_q("/a.ism/manifest", Some("type=keyframes"));
        assert_eq!(s.resource, Resource::Manifest);
    }

    // --- builders -----------------------------------------------------------

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            match f.as_azure() {
                Some(name) => {
                    assert_eq!(Format::from_azure(name), Some(f));
                    assert_eq!(Format::from_azure(&name.to_uppercase()), Some(f));
                }
                None => assert_eq!(f, Format::Smooth),
            }
            let kinds = [f.is_hls(), f.is_dash(), f.is_smooth()];
            assert_eq!(kinds.iter().filter(|&&k| k).count(), 1, "{f:?}");
        }
        assert_eq!(Format::from_azure(""), None);
    }

    #[test]
    fn built_urls_match_azure() {
        let t = track(381048, "video");
        assert_eq!(
            media_playlist_url(&t, Format::HlsTs, false),
            "QualityLevels(381048)/Manifest(video,format=m3u8-aapl).m3u8"
        );
        assert_eq!(
            media_playlist_url(&t, Format::HlsTs, true),
            "QualityLevels(381048)/Manifest(video,format=m3u8-aapl,type=keyframes).m3u8"
        );
        assert_eq!(
            fragment_url(&t, 0, Format::HlsTs),
            "QualityLevels(381048)/Fragments(video=0,format=m3u8-aapl).ts"
        );
        assert_eq!(
            fragment_url(&t, 20_000_000, Format::Smooth),
            "QualityLevels(381048)/Fragments(video=20000000)"
        );
        assert_eq!(
            init_url(&t, Format::DashCsf),
            "QualityLevels(381048)/Fragments(video=i,format=mpd-time-csf).mp4"
        );
        assert_eq!(
            fragment_url_template("video", Format::DashCmaf),
            "QualityLevels($Bandwidth$)/Fragments(video=$Time$,format=mpd-time-cmaf).m4s"
        );
        assert_eq!(
            init_url_template("video", Format::DashCmaf),
            "QualityLevels($Bandwidth$)/Fragments(video=i,format=mpd-time-cmaf).mp4"
        );
        assert_eq!(
            fragment_url_template("video", Format::Smooth),
            "QualityLevels({bitrate})/Fragments(video={start time})"
        );
        assert_eq!(manifest_url(Format::Smooth), "manifest");
        assert_eq!(
            manifest_url(Format::HlsCmaf),
            "manifest(format=m3u8-cmaf).m3u8"
        );
        assert_eq!(
            manifest_url(Format::DashCsf),
            "manifest(format=mpd-time-csf).mpd"
        );
        assert_eq!(manifest_url(Format::SmoothV20), "manifest(format=fmp4-v20)");
    }

    #[test]
    fn built_urls_parse_back() {
        let tracks = [
            track(0, "v"),
            track(381048, "video"),
            track(128041, "aac_eng_2_128041_2_1"),
            track(u64::MAX, &"x.y-z_".repeat(10)),
        ];
        let bases = ["/g/abr.ism/", "/d/f.mp4/", "/d/x,1,2,.mp4.urlset/"];
        for base in bases {
            for f in Format::ALL {
                let s = stream(&format!("{base}{}", manifest_url(f)));
                assert_eq!((s.resource, s.options.format), (Resource::Manifest, f));
                for t in &tracks {
                    for time in [0, 1, 20_000_000, u64::MAX] {
                        let s = stream(&format!("{base}{}", fragment_url(t, time, f)));
                        let want = Resource::Fragment {
                            track: t.clone(),
                            time,
                        };
                        assert_eq!((s.resource, s.options.format), (want, f));
                    }
                    let s = stream(&format!("{base}{}", init_url(t, f)));
                    let want = Resource::Init { track: t.clone() };
                    assert_eq!((s.resource, s.options.format), (want, f));
                    if f.is_hls() {
                        for keyframes in [false, true] {
                            let url = media_playlist_url(t, f, keyframes);
                            let s = stream(&format!("{base}{url}"));
                            let want = Resource::MediaPlaylist {
                                track: t.clone(),
                                keyframes,
                            };
                            assert_eq!((s.resource, s.options.format), (want, f));
                        }
                    }
                    // Templates, once the player fills them in.
                    let filled = fragment_url_template(&t.name, f)
                        .replace("$Bandwidth$", &t.bitrate.to_string())
                        .replace("{bitrate}", &t.bitrate.to_string())
                        .replace("$Time$", "42")
                        .replace("{start time}", "42");
                    let s = stream(&format!("{base}{filled}"));
                    let want = Resource::Fragment {
                        track: t.clone(),
                        time: 42,
                    };
                    assert_eq!((s.resource, s.options.format), (want, f));
                    let filled = init_url_template(&t.name, f)
                        .replace("$Bandwidth$", &t.bitrate.to_string());
                    let s = stream(&format!("{base}{filled}"));
                    let want = Resource::Init { track: t.clone() };
                    assert_eq!((s.resource, s.options.format), (want, f));
                }
            }
        }
    }

    /// Cheap deterministic fuzz: mutated valid URLs never panic, and any
    /// accepted object path stays inside the origin.
    #[test]
    fn mutations_never_panic() {
        let seeds = [
            "/g/abr.ism/QualityLevels(381048)/Manifest(video,format=m3u8-aapl,type=keyframes)",
            "/d/x,1,2,.mp4.urlset/QualityLevels(1)/Fragments(v=10,format=mpd-time-cmaf)",
            "/a%20b/c.mp4/manifest(format=m3u8-cmaf,filter=a;b).m3u8",
        ];
        let alphabet = [
            "(", ")", "/", "%", "%2e", "%2f", ".", "..", ",", "=", ";", "é", "\0", " ", "9", "%c3",
            "i",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for seed in seeds {
            for _ in 0..2000 {
                let mut s = seed.to_string();
                for _ in 0..(next() % 4 + 1) {
                    let mut at = (next() as usize) % (s.len() + 1);
                    while !s.is_char_boundary(at) {
                        at -= 1;
                    }
                    let piece = alphabet[(next() as usize) % alphabet.len()];
                    if next() % 3 == 0 {
                        let mut end = (at + 1).min(s.len());
                        while !s.is_char_boundary(end) {
                            end += 1;
                        }
                        s.replace_range(at..end, "");
                    } else {
                        s.insert_str(at, piece);
                    }
                }
                if let Ok(Route::Stream(r)) = parse(&s, Some(&s)) {
                    let paths = match r.asset {
                        Asset::Ism { path } | Asset::Mp4 { path } => vec![path],
                        Asset::UrlSet { paths } => paths,
                    };
                    for p in paths {
                        assert!(!p.starts_with('/') && !p.contains('%'), "{s}");
                        assert!(p.split('/').all(|x| !matches!(x, "" | "." | "..")), "{s}");
                    }
                }
            }
        }
    }
}
