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
//! `encryption` and `audio-only`, and the playback modifiers
//! (`max_resolution`, `min_resolution`, `max_bitrate`, `min_bitrate`,
//! `rendition_order`, `default_audio_lang`, `default_subtitles_lang`,
//! [`crate::filter::modifiers`]; also accepted inside the parentheses) are
//! read from the query with the same value grammar as inside the
//! parentheses; every other key is ignored, because
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
//!
//! ## Before parsing
//! A signed-URL token (`/tk.{kid}.{exp}.{sig}/…`, [`crate::token`]) and an
//! Azure locator GUID in the first segment ([`crate::locator`]) are dealt
//! with by [`crate::access`] before [`parse`] sees the path; the token's
//! scope is [`asset_scope`] of the path that follows it.
//!
//! ## Files
//! * `grammar`: [`parse`], the fixed routes and the sub-resource grammar
//!   (`manifest(…)`, `QualityLevels(…)/Manifest(…)`, `…/Fragments(…)`,
//!   `…/Key(…)`),
//!   and [`asset_scope`], the asset part of a path (a signed URL's scope);
//! * `asset`: the asset segment (`.ism`, `.mp4`, `.urlset`) → [`Asset`],
//!   and the media extensions a packaged file must have
//!   ([`MEDIA_EXTENSIONS`]);
//! * `options`: [`Format`], [`Options`] and the option grammar shared by the
//!   parentheses and the query string;
//! * `path`: percent-decoding, path hygiene and the name grammar;
//! * `error`: [`UrlError`] and its HTTP status;
//! * `links`: the URLs the manifests write, which [`parse`] reads back.

mod asset;
mod error;
mod grammar;
mod links;
mod options;
mod path;
#[cfg(test)]
mod testutil;

pub use asset::{is_media_file, MEDIA_EXTENSIONS};
pub use error::UrlError;
pub use grammar::{asset_scope, fixed_route, parse};
pub use links::{
    fragment_url, fragment_url_parts, fragment_url_template, fragment_url_template_with,
    fragment_url_with, init_url, init_url_template, init_url_template_with, init_url_with, key_url,
    key_url_for, manifest_url, media_playlist_url, media_playlist_url_with, text_fragment_url,
    text_fragment_url_parts,
};
pub use options::{Format, Options};
pub(crate) use path::decode_segment;
pub use path::is_valid_name;

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

impl StreamRequest {
    /// The same media segment request at another URL time (same asset,
    /// track and options): how the edge names the segment it prefetches.
    /// `None` for anything but a media segment.
    pub fn fragment_at(&self, time: u64) -> Option<StreamRequest> {
        let Resource::Fragment { track, .. } = &self.resource else {
            return None;
        };
        Some(StreamRequest {
            resource: Resource::Fragment {
                track: track.clone(),
                time,
            },
            ..self.clone()
        })
    }
}

/// The origin objects a stream request is built from. Paths are relative to
/// the origin root, decoded, without a leading slash (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asset {
    /// `{dir}/{name}.ism` — a SMIL server manifest listing the MP4s
    /// (e.g. `"abr/abr.ism"`).
    Ism { path: String },
    /// A bare media file: `"dir/file.mp4"`, or any other of
    /// [`MEDIA_EXTENSIONS`] (`.ismv`/`.isma`, Smooth Streaming's fragmented
    /// MP4s, included so that an existing one is answered with why it
    /// cannot be served rather than a 404).
    Mp4 { path: String },
    /// nginx-vod urlset `/{dir}/{prefix},{a},{b},{suffix}.urlset/…` expanded
    /// to `dir/{prefix}{a}{suffix}`, `dir/{prefix}{b}{suffix}`; 1 to
    /// [`MAX_URLSET_MEMBERS`] paths, in request order, each a media file
    /// in the urlset's own folder (a member is part of one segment, so it
    /// cannot hold a `/`).
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
    /// `QualityLevels({bitrate})/Key(encryption=cbc)`: the asset's content
    /// key (16 raw bytes) for HLS `EXT-X-KEY` (RFC 8216 §4.3.2.4). The
    /// bitrate only places the URL next to a media playlist; the key is
    /// the asset's, and [`Options::encryption`] is always set.
    Key,
    /// `License(encryption=cenc|cbcs-aapl)` next to the manifest: the ClearKey
    /// licence server of the asset (W3C EME §9.1.4), the only resource
    /// answered to a POST (its body, the licence request, is passed to the
    /// job: [`crate::job::Job::with_body`]); [`Options::encryption`] is
    /// always set.
    Licence,
}

/// A track as sub-resource URLs address it: Azure used the `.ism` `trackName`
/// plus `systemBitrate`, so both are part of the address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackRef {
    pub bitrate: u64,
    /// `[A-Za-z0-9_.-]`, 1 to [`MAX_NAME_LEN`] characters.
    pub name: String,
}
