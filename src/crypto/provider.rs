//! A key provider (`key_source = provider`): a key server asked over HTTP
//! for an asset's keys with a CPIX request document, the way AWS SPEKE
//! v2.0 and DASH-IF CPIX 2.3 clients ask ([`super::cpix::request`]).
//!
//! The key ids asked for are derived, not stored: the first 16 bytes of
//! HMAC-SHA256(`key_provider_url`, `"edgepack-provider-kid/1\n{scheme}\n{asset}"`)
//! (RFC 2104), where `{asset}` is [`super::asset_id`]. So every edge of a
//! deployment asks the provider for the same key ids, and a provider that
//! generates a key per key id gives every edge the same key, without any
//! shared state between edges.
//!
//! With `key_provider_track_keys` ([`TrackKeyPreset`]) the provider is
//! asked for a key per track type, the way SPEKE v2.0 encryptors ask
//! with their encryption-contract presets: one `ContentKey` per type and a
//! `ContentKeyUsageRule` each (CPIX 2.3 §5.3.5) with the SPEKE
//! `intendedTrackType` name and its filter. Each type's key id is derived
//! like the shared one with the type added (`"…\n{scheme}\n{asset}\n{type}"`).

use super::cpix::rules::{AudioFilter, UsageRule, VideoFilter};
use std::fmt;

/// The setting naming the key provider's URL.
pub const URL_SETTING: &str = "key_provider_url";
/// The setting listing the DRM systems (UUIDs, `,`-separated) whose
/// signalling is asked for.
pub const SYSTEMS_SETTING: &str = "key_provider_systems";
/// The secret whose value is sent as the `Authorization` header of every
/// request to the provider (e.g. `Bearer …`), when set.
pub const AUTH_SECRET: &str = "key_provider_auth";
/// The platform backend (Fastly) requests to the provider go through.
pub const BACKEND: &str = "key_provider";
/// The setting choosing one key for all tracks or one per track type.
pub const TRACK_KEYS_SETTING: &str = "key_provider_track_keys";
/// The largest picture of SPEKE v2.0's SD video (PRESET-VIDEO-2..8: SD is
/// "<= 1024x576", HD "> 1024x576"), in pixels.
pub const SD_MAX_PIXELS: u64 = 1024 * 576;
/// Most DRM systems asked for.
const MAX_SYSTEMS: usize = 8;
/// The first line of the message a key id is derived from.
const KID_DOMAIN: &str = "edgepack-provider-kid/1";

/// A configured key provider: where it is and what it is asked for.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyProvider {
    /// The URL as configured (`http(s)://authority/path`).
    pub url: String,
    pub https: bool,
    /// `host[:port]`.
    pub authority: String,
    /// The request target, starting with `/`.
    pub path_and_query: String,
    /// DRM systems whose signalling is asked for.
    pub systems: Vec<[u8; 16]>,
    /// The `Authorization` header value (the secret [`AUTH_SECRET`]);
    /// never printed.
    pub authorization: Option<String>,
    /// One key for all tracks, or one per track type.
    pub track_keys: TrackKeyPreset,
}

/// `key_provider_track_keys`: which keys an asset is asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrackKeyPreset {
    /// `shared` (default): one key for every track (SPEKE `SHARED`).
    #[default]
    Shared,
    /// `audio-video`: SPEKE PRESET-AUDIO-1 + PRESET-VIDEO-1, keys `AUDIO`
    /// and `VIDEO`.
    AudioVideo,
    /// `audio-sd-hd`: PRESET-AUDIO-1 + PRESET-VIDEO-2, keys `AUDIO`, `SD`
    /// (at most 1024x576 pixels) and `HD` (more).
    AudioSdHd,
}

impl TrackKeyPreset {
    /// The setting's value; the error names the accepted ones.
    pub fn parse(v: Option<&str>) -> Result<TrackKeyPreset, &'static str> {
        match v.map(str::trim).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("shared") => Ok(TrackKeyPreset::Shared),
            Some("audio-video") => Ok(TrackKeyPreset::AudioVideo),
            Some("audio-sd-hd") => Ok(TrackKeyPreset::AudioSdHd),
            Some(_) => Err("key_provider_track_keys must be shared, audio-video or audio-sd-hd"),
        }
    }

    /// The track types asked for, each with its usage rule's filters
    /// (`kid` left zero: [`KeyProvider::requested`] fills it in); none for
    /// a shared key.
    pub fn rules(self) -> Vec<UsageRule> {
        let audio = UsageRule {
            intended_track_type: Some("AUDIO".into()),
            audio: vec![AudioFilter::default()],
            ..UsageRule::default()
        };
        let video = |name: &str, min: Option<u64>, max: Option<u64>| UsageRule {
            intended_track_type: Some(name.into()),
            video: vec![VideoFilter {
                min_pixels: min,
                max_pixels: max,
                ..VideoFilter::default()
            }],
            ..UsageRule::default()
        };
        match self {
            TrackKeyPreset::Shared => Vec::new(),
            TrackKeyPreset::AudioVideo => vec![audio, video("VIDEO", None, None)],
            TrackKeyPreset::AudioSdHd => vec![
                audio,
                video("SD", None, Some(SD_MAX_PIXELS)),
                video("HD", Some(SD_MAX_PIXELS + 1), None),
            ],
        }
    }
}

/// Never prints the URL's query (it may hold a token).
impl fmt::Debug for KeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyProvider({})", self.authority)
    }
}

impl KeyProvider {
    /// The provider at `url` asked for `systems` (UUIDs, `,`-separated);
    /// the error says what is wrong without quoting the URL.
    pub fn parse(url: &str, systems: Option<&str>) -> Result<KeyProvider, &'static str> {
        let url = url.trim();
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err("key_provider_url must be an http:// or https:// URL");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty()
            || authority.contains(['@', '?', '#'])
            || path.contains('#')
            || url.chars().any(|c| c.is_control() || c == ' ')
        {
            return Err("key_provider_url must be http(s)://host[:port]/path");
        }
        let mut list = Vec::new();
        for s in systems
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if list.len() >= MAX_SYSTEMS {
                return Err("key_provider_systems lists too many systems");
            }
            let id = super::cpix::parse_uuid(s)
                .ok_or("key_provider_systems must list system ids (UUIDs)")?;
            list.push(id);
        }
        Ok(KeyProvider {
            url: url.to_string(),
            https,
            authority: authority.to_string(),
            path_and_query: path.to_string(),
            systems: list,
            authorization: None,
            track_keys: TrackKeyPreset::Shared,
        })
    }

    /// Asking for a key per track type (`key_provider_track_keys`).
    pub fn with_track_keys(mut self, preset: TrackKeyPreset) -> KeyProvider {
        self.track_keys = preset;
        self
    }

    /// The key ids asked for `asset` under `scheme`, with their usage
    /// rules: the one shared key id ([`KeyProvider::kid`]) and no rule, or
    /// one per track type of the preset.
    pub fn requested(
        &self,
        scheme: &str,
        asset: &crate::url::Asset,
    ) -> (Vec<[u8; 16]>, Vec<UsageRule>) {
        let mut rules = self.track_keys.rules();
        if rules.is_empty() {
            return (vec![self.kid(scheme, asset)], rules);
        }
        let mut kids = Vec::with_capacity(rules.len());
        for r in &mut rules {
            let kind = r.intended_track_type.as_deref().unwrap_or("");
            r.kid = self.derive(&format!("{scheme}\n{}\n{kind}", super::asset_id(asset)));
            kids.push(r.kid);
        }
        (kids, rules)
    }

    /// With the secret [`AUTH_SECRET`] as the `Authorization` header; the
    /// error when it cannot be a header value (RFC 9110 §5.5: visible
    /// ASCII, spaces and tabs), without quoting it.
    pub fn with_authorization(mut self, value: &str) -> Result<KeyProvider, &'static str> {
        let value = value.trim();
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            return Err("key_provider_auth must be a header value (visible ASCII)");
        }
        self.authorization = Some(value.to_string());
        Ok(self)
    }

    /// The key id asked for `asset` under `scheme` (the module docs).
    pub fn kid(&self, scheme: &str, asset: &crate::url::Asset) -> [u8; 16] {
        self.derive(&format!("{scheme}\n{}", super::asset_id(asset)))
    }

    /// The first 16 bytes of HMAC-SHA256(url, `"{KID_DOMAIN}\n{what}"`).
    fn derive(&self, what: &str) -> [u8; 16] {
        let msg = format!("{KID_DOMAIN}\n{what}");
        let mac = crate::auth::hmac_sha256(self.url.as_bytes(), msg.as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&mac[..16]);
        out
    }
}
