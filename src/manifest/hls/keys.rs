//! Key signalling in HLS playlists beyond the media playlist's own
//! `EXT-X-KEY` ([`super::media_playlist_with`]):
//!
//! * `EXT-X-SESSION-KEY` in the multivariant playlist (RFC 8216
//!   §4.3.4.5), so a client can preload the key before the first media
//!   playlist: the same METHOD, URI and KEYFORMAT as the media playlists'
//!   `EXT-X-KEY` (which the RFC requires of a session key with that URI),
//!   no IV (the IV stays a media-playlist matter);
//! * the DRM systems' lines from a CPIX document (`HLSSignalingData`, CPIX
//!   2.3 §5.3.6): `playlist="master"` lines (their `EXT-X-SESSION-KEY`s)
//!   in the multivariant playlist, `playlist="media"` lines (their
//!   `EXT-X-KEY`s, e.g. FairPlay's `skd://` with
//!   `KEYFORMAT="com.apple.streamingkeydelivery"`) in each media playlist,
//!   as given (checked to be tags when the document was parsed). A key
//!   tag whose METHOD is not the output's (a FairPlay `SAMPLE-AES` line
//!   of a document also used for `encryption=cenc`, `SAMPLE-AES-CTR`) is
//!   left out: every key tag of a segment must decrypt it (RFC 8216
//!   §4.3.2.4), and one with another method cannot.

use crate::crypto::cpix::DrmSystem;
use crate::url;
use std::fmt::Write;

/// The `EXT-X-SESSION-KEY` of the edge's own key for `encryption={e}`,
/// then the CPIX systems' master lines. The key URL sits under
/// `QualityLevels({bitrate})/` (the URL grammar's place for it, one key
/// per asset whatever the bitrate): `bitrate` is that of a listed media
/// playlist, so the URI resolves to that playlist's key URI.
pub fn session_keys(encryption: &str, bitrate: u64, drm: &[DrmSystem]) -> String {
    session_keys_for(encryption, bitrate, drm, None)
}

/// [`session_keys`] of the key `kid` of an asset whose tracks have
/// different keys (its key URL names the key, [`url::key_url_for`]).
pub fn session_keys_for(
    encryption: &str,
    bitrate: u64,
    drm: &[DrmSystem],
    kid: Option<&[u8; 16]>,
) -> String {
    let mut out = String::new();
    let uri = format!(
        "QualityLevels({bitrate})/{}",
        url::key_url_for(encryption, kid)
    );
    if encryption == crate::service::CBC {
        let _ = writeln!(out, "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"{uri}\"");
    } else {
        let _ = writeln!(
            out,
            "#EXT-X-SESSION-KEY:METHOD={},URI=\"{uri}\",KEYFORMAT=\"identity\"",
            super::sample_method(encryption)
        );
    }
    let method = method_of(encryption);
    for line in drm.iter().flat_map(|s| &s.hls_master) {
        if fits(line, method) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The CPIX systems' media-playlist lines for `encryption={e}`.
pub fn media_keys(encryption: &str, drm: &[DrmSystem]) -> String {
    let method = method_of(encryption);
    let mut out = String::new();
    for line in drm.iter().flat_map(|s| &s.hls_media) {
        if fits(line, method) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn method_of(encryption: &str) -> &'static str {
    if encryption == crate::service::CBC {
        "AES-128"
    } else {
        super::sample_method(encryption)
    }
}

/// Whether `line` may stand beside our key tag: not a key tag, or one
/// with our METHOD.
fn fits(line: &str, method: &str) -> bool {
    let is_key = line.starts_with("#EXT-X-KEY:") || line.starts_with("#EXT-X-SESSION-KEY:");
    if !is_key {
        return true;
    }
    let attrs = line.split_once(':').map_or("", |(_, a)| a);
    attrs
        .split(',')
        .filter_map(|a| a.trim().strip_prefix("METHOD="))
        .any(|m| m == method)
}
