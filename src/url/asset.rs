//! The asset segment: `{name}.ism` (a SMIL server manifest), a bare media
//! file (`{name}.mp4` and the other [`MEDIA_EXTENSIONS`]) or an nginx-vod
//! `{prefix},{a},{b},{suffix}.urlset`, turned into origin object paths.
//!
//! Only media files are ever packaged: a bare asset, each urlset member
//! and (in [`crate::input::ism::resolve`]) each file an `.ism` lists must
//! end in a media extension. Without this a URL could make the packager
//! read any object of the bucket (`/,secrets.json,.urlset/manifest`) and
//! its error answers would tell what exists there.

use super::{Asset, UrlError, MAX_URLSET_MEMBERS};

/// The ISO BMFF file extensions packaged, matched ASCII case-insensitively:
/// MP4 (ISO/IEC 14496-14: `.mp4`, and Apple's `.m4v` / `.m4a`), QuickTime
/// `.mov` (the ancestor of ISO BMFF, read by the same box parser), Smooth
/// Streaming's fragmented `.ismv` / `.isma`, and CMAF tracks (ISO/IEC
/// 23000-19 Annex: `.cmfv` / `.cmfa`). Not `.m4s` (a media segment without
/// a `moov`, nothing to index) nor text tracks (`.ismt`, `.cmft`, not
/// packaged).
pub const MEDIA_EXTENSIONS: [&str; 8] = [
    ".mp4", ".m4v", ".m4a", ".mov", ".ismv", ".isma", ".cmfv", ".cmfa",
];

/// `true` when the file name (or object path) ends in one of
/// [`MEDIA_EXTENSIONS`] after a non-empty stem.
pub fn is_media_file(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    MEDIA_EXTENSIONS
        .iter()
        .any(|ext| strip_suffix_ci(base, ext).is_some())
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
pub(super) fn parse_asset(segments: &[String]) -> Result<Asset, UrlError> {
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
    if is_media_file(last) {
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
                _ if !is_media_file(&name) => Err(UrlError::NotMedia),
                _ => Ok(name),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
