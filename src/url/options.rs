//! Options: `format=`, `filter=`, `encryption=` and `audio-only=` (plus
//! `type=keyframes`, for media playlists only), read with one value grammar
//! from the parenthesised list and from the query string, then merged (the
//! rules are in the module docs of `url`, "Query string").

use super::error::clip;
use super::path::{is_valid_name, percent_decode};
use super::{Resource, UrlError, MAX_FILTERS, MAX_QUERY_LEN};
use crate::filter::modifiers::{SetError as ModifierError, KEYS as MODIFIER_KEYS};
pub use crate::filter::Modifiers;

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
    /// Playback modifiers (`max_resolution=` …), applied as a filter.
    /// Boxed: rarely set, and they would double the size of every request.
    pub modifiers: Box<Modifiers>,
    /// `kid=` (32 hex digits), on a key URL only: which of the asset's
    /// keys, when its tracks have different keys (CPIX usage rules).
    pub key_id: Option<[u8; 16]>,
}

/// The `encryption=` values Azure accepted (REFERENCES.md §1).
const ENCRYPTIONS: [&str; 4] = ["cbc", "cenc", "cbcs-aapl", "piff"];

/// Options as written in one place (path or query), before defaults.
#[derive(Default)]
pub(super) struct RawOptions {
    format: Option<Format>,
    filters: Option<Vec<String>>,
    encryption: Option<String>,
    audio_only: Option<bool>,
    modifiers: Modifiers,
    key_id: Option<[u8; 16]>,
    /// `type=keyframes`; consumed by media playlists, an error anywhere else.
    pub(super) keyframes: Option<bool>,
    /// From a `.m3u8` / `.mpd` suffix or alias: used only without `format=`.
    pub(super) implied_format: Option<Format>,
}

/// Option keys honoured in the query string (and the playback modifiers,
/// [`MODIFIER_KEYS`]); any other key is ignored.
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
    pub(super) fn parse_items<'a>(
        &mut self,
        items: impl Iterator<Item = &'a str>,
    ) -> Result<(), UrlError> {
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
        } else if key.eq_ignore_ascii_case("kid") {
            let kid = crate::crypto::cpix::parse_uuid(value)
                .filter(|_| value.len() == 32)
                .ok_or_else(|| invalid("kid"))?;
            put_once(&mut self.key_id, kid, "kid")?;
        } else if key.eq_ignore_ascii_case("type") {
            if !value.eq_ignore_ascii_case("keyframes") {
                return Err(invalid("type"));
            }
            put_once(&mut self.keyframes, true, "type")?;
        } else {
            return self.modifiers.set(key, value).map_err(|e| match e {
                ModifierError::Invalid(option) => invalid(option),
                ModifierError::Duplicate(option) => UrlError::DuplicateOption(option),
            });
        }
        Ok(true)
    }

    /// Path options combined with query options; they must agree.
    pub(super) fn merge(self, query: RawOptions) -> Result<RawOptions, UrlError> {
        Ok(RawOptions {
            format: merge_one(self.format, query.format, "format")?,
            filters: merge_one(self.filters, query.filters, "filter")?,
            encryption: merge_one(self.encryption, query.encryption, "encryption")?,
            audio_only: merge_one(self.audio_only, query.audio_only, "audio-only")?,
            modifiers: self
                .modifiers
                .merge(query.modifiers)
                .map_err(UrlError::ConflictingOption)?,
            key_id: merge_one(self.key_id, query.key_id, "kid")?,
            keyframes: self.keyframes,
            implied_format: self.implied_format,
        })
    }

    pub(super) fn finish(self, resource: &Resource) -> Result<Options, UrlError> {
        if self.keyframes.is_some() {
            return Err(UrlError::MisplacedOption("type"));
        }
        let format = self.format.or(self.implied_format).unwrap_or_default();
        if matches!(resource, Resource::MediaPlaylist { .. }) && !format.is_hls() {
            return Err(UrlError::NotHls);
        }
        if matches!(resource, Resource::Key | Resource::Licence) && self.encryption.is_none() {
            return Err(UrlError::KeyWithoutEncryption);
        }
        if self.key_id.is_some() && *resource != Resource::Key {
            return Err(UrlError::MisplacedOption("kid"));
        }
        Ok(Options {
            format,
            filters: self.filters.unwrap_or_default(),
            encryption: self.encryption,
            audio_only: self.audio_only,
            modifiers: Box::new(self.modifiers),
            key_id: self.key_id,
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

pub(super) fn parse_query(query: &str) -> Result<RawOptions, UrlError> {
    if query.len() > MAX_QUERY_LEN {
        return Err(UrlError::Syntax("query string too long"));
    }
    let mut opts = RawOptions::default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !QUERY_KEYS
            .iter()
            .chain(&MODIFIER_KEYS)
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            continue;
        }
        let value = percent_decode(value)
            .map_err(|_| UrlError::Syntax("invalid percent-encoding in query"))?;
        opts.set(key, &value)?;
    }
    Ok(opts)
}

#[cfg(test)]
mod tests;
