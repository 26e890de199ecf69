//! Content keys: where they come from and the key of one asset.
//!
//! Today keys are derived from one secret seed, so a deployment needs no
//! key store: the key of an asset is the first 16 bytes of
//! HMAC-SHA256(seed, `"edgepack-aes128/1\n{asset}"`) (RFC 2104), and its key
//! id the first 16 bytes of HMAC-SHA256(seed, `"edgepack-kid/1\n{asset}"`),
//! where `{asset}` is [`asset_id`]: the asset's object path(s) after the
//! locator map, so the locator URL and the direct URL of one asset give one
//! key. The key id says which key a cached output or an ETag was made with
//! and reveals nothing of the key.
//!
//! With the setting `key_source = cpix` ([`KeySetting::Cpix`]) the key of
//! an asset is instead the one of the CPIX document beside it (DASH-IF CPIX
//! 2.3, [`super::cpix`], found at [`cpix_path`]), read through the job like
//! a filter file; the job then answers with [`KeySource::Cpix`]. With
//! `key_source = provider` ([`KeySetting::Provider`]) the document is the
//! key provider's answer to a CPIX request ([`super::provider`]), asked
//! through the job too, and used the same way.

use super::cpix::rules::TrackTraits;
use super::cpix::{Cpix, DrmSystem};
use crate::url::Asset;
use std::fmt;
use std::sync::Arc;

/// The secret that holds the seed: base64 (either alphabet, padding
/// optional) of at least 16 bytes, e.g. `openssl rand -base64 32`.
pub const SEED_KEY: &str = "encryption_key_seed";

/// The first line of the message a content key is derived from.
const KEY_DOMAIN: &str = "edgepack-aes128/1";
/// The first line of the message a key id is derived from.
const KID_DOMAIN: &str = "edgepack-kid/1";

/// The setting that chooses where keys come from: `seed` (default),
/// `cpix` or `provider`.
pub const KEY_SOURCE_SETTING: &str = "key_source";

/// Where the CPIX document of `asset` is: beside it, its path without the
/// extension plus `.cpix.xml` (`a/b.ism` → `a/b.cpix.xml`, `a/c.mp4` →
/// `a/c.cpix.xml`); for a `.urlset`, beside its first member.
pub fn cpix_path(asset: &Asset) -> String {
    let path = match asset {
        Asset::Ism { path } | Asset::Mp4 { path } => path.as_str(),
        Asset::UrlSet { paths } => paths.first().map_or("", String::as_str),
    };
    let stem = match path.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => stem,
        _ => path,
    };
    format!("{stem}.cpix.xml")
}

/// What names an asset for key derivation: its object path, or a
/// `.urlset`'s member paths joined by `,`.
pub fn asset_id(asset: &Asset) -> String {
    match asset {
        Asset::Ism { path } | Asset::Mp4 { path } => path.clone(),
        Asset::UrlSet { paths } => paths.join(","),
    }
}

/// A 16-byte AES-128 content key and its key id. `Debug` shows the id
/// only.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey {
    pub kid: [u8; 16],
    pub key: [u8; 16],
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentKey(kid {})", self.kid_hex())
    }
}

impl ContentKey {
    /// The key id in lower-case hex (32 digits).
    pub fn kid_hex(&self) -> String {
        self.kid.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where the content key of one request comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Keys derived from a secret seed (the module docs).
    Seed(Vec<u8>),
    /// The asset's CPIX document, read and parsed: its key (or its keys
    /// and the usage rules saying which track has which), and the DRM
    /// systems' signalling of each key (and, for Smooth, each system's
    /// `SmoothStreamingProtectionHeaderData`).
    Cpix(Arc<Cpix>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Seed(_) => f.write_str("Seed(<redacted>)"),
            KeySource::Cpix(c) => write!(
                f,
                "Cpix(kid {}, {} systems)",
                c.key.kid_hex(),
                c.systems.len()
            ),
        }
    }
}

impl KeySource {
    /// The content key of `asset`: its only key, or, when its tracks have
    /// different keys ([`KeySource::multi_key`]), the document's first;
    /// tracks take theirs with [`KeySource::track_key`].
    pub fn content_key(&self, asset: &Asset) -> ContentKey {
        match self {
            KeySource::Seed(seed) => {
                let id = asset_id(asset);
                ContentKey {
                    kid: derive(seed, KID_DOMAIN, &id),
                    key: derive(seed, KEY_DOMAIN, &id),
                }
            }
            // The document was found by the asset's path: its key is the
            // asset's.
            KeySource::Cpix(c) => c.key.clone(),
        }
    }

    /// Whether tracks of one asset may have different keys: a CPIX
    /// document with several keys (and usage rules saying whose is whose).
    /// A seed and a one-key document give every track the same key.
    pub fn multi_key(&self) -> bool {
        matches!(self, KeySource::Cpix(c) if c.multi_key())
    }

    /// The key of a track of `asset` with `traits` (`what` names it in
    /// errors): [`KeySource::content_key`] unless the CPIX document maps
    /// keys to tracks with usage rules ([`super::cpix::rules`]).
    pub fn track_key(
        &self,
        asset: &Asset,
        traits: &TrackTraits,
        what: &str,
    ) -> Result<ContentKey, super::cpix::CpixError> {
        match self {
            KeySource::Seed(_) => Ok(self.content_key(asset)),
            KeySource::Cpix(c) => c.key_for(traits, what).cloned(),
        }
    }

    /// Every key of `asset`, the first one first: what its licence
    /// answers and a key URL may name.
    pub fn all_keys(&self, asset: &Asset) -> Vec<ContentKey> {
        match self {
            KeySource::Seed(_) => vec![self.content_key(asset)],
            KeySource::Cpix(c) => c.keys().cloned().collect(),
        }
    }

    /// The DRM systems to signal besides ClearKey (none for a seed): all
    /// of them, every key's.
    pub fn drm_systems(&self) -> &[DrmSystem] {
        match self {
            KeySource::Seed(_) => &[],
            KeySource::Cpix(c) => &c.systems,
        }
    }

    /// The DRM systems' signalling of the key `kid`.
    pub fn drm_systems_of(&self, kid: &[u8; 16]) -> &[DrmSystem] {
        match self {
            KeySource::Seed(_) => &[],
            // A one-key document's systems are all its key's.
            KeySource::Cpix(c) if !c.multi_key() => &c.systems,
            KeySource::Cpix(c) => c.systems_of(kid),
        }
    }

    /// What, besides the key id, names the keys' version in an output
    /// cache key: the CPIX document's digest (its signalling is in the
    /// outputs too).
    pub fn version(&self) -> Option<&str> {
        match self {
            KeySource::Seed(_) => None,
            KeySource::Cpix(c) => Some(&c.version),
        }
    }
}

/// The first 16 bytes of HMAC-SHA256(`seed`, `"{domain}\n{id}"`), with
/// the HMAC the origin signers use ([`crate::auth::hmac_sha256`]).
fn derive(seed: &[u8], domain: &str, id: &str) -> [u8; 16] {
    let mac = crate::auth::hmac_sha256(seed, format!("{domain}\n{id}").as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&mac[..16]);
    out
}

/// Why no key can be had: each is answered without quoting any secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySetupError {
    /// No key source is configured.
    Missing,
    /// Keys come from the asset's CPIX document, not read yet (the job
    /// reads it before anything needs the key).
    Unloaded,
    /// The configured secret is unusable (what is wrong with it).
    Invalid(&'static str),
    /// A key setting other than the secret is unusable (the whole reason).
    Misconfigured(&'static str),
}

/// The deployment's key source as configured: absent, unusable, or ready.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KeySetting {
    #[default]
    Unset,
    Invalid(&'static str),
    /// `key_source = cpix`: each asset's key is in its CPIX document,
    /// which the job reads ([`cpix_path`]) and turns into
    /// [`KeySetting::Ready`] with a [`KeySource::Cpix`].
    Cpix,
    /// `key_source = provider`: each asset's keys are asked of the key
    /// provider ([`super::provider`]), which the job does, turning this
    /// into [`KeySetting::Ready`] with a [`KeySource::Cpix`] of the answer.
    Provider(Arc<super::provider::KeyProvider>),
    /// `key_source = provider` with an unusable `key_provider_url` or
    /// `key_provider_systems` (the reason, never the URL).
    Misconfigured(&'static str),
    Ready(KeySource),
}

impl KeySetting {
    /// Reads [`SEED_KEY`] through the platform's secret lookup.
    /// The setting `key_source` selects: `cpix`, else the seed secret
    /// ([`KeySetting::from_secret`]; the seed is not read for `cpix`).
    pub fn from_settings(
        key_source: Option<&str>,
        secret: impl Fn(&str) -> Option<String>,
    ) -> KeySetting {
        match KeySetting::configured(key_source, |_| None) {
            Some(k) => k,
            None => KeySetting::from_secret(secret),
        }
    }

    /// The setting `key_source` chooses when it needs no secret: `cpix`,
    /// or `provider` with `key_provider_url` and `key_provider_systems`
    /// read through `get`; `None` for the seed.
    pub fn configured(
        key_source: Option<&str>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Option<KeySetting> {
        use super::provider::{
            KeyProvider, TrackKeyPreset, SYSTEMS_SETTING, TRACK_KEYS_SETTING, URL_SETTING,
        };
        match key_source.map(str::trim) {
            Some(s) if s.eq_ignore_ascii_case("cpix") => Some(KeySetting::Cpix),
            Some(s) if s.eq_ignore_ascii_case("provider") => Some(match get(URL_SETTING) {
                None => KeySetting::Misconfigured("key_source = provider needs key_provider_url"),
                Some(url) => match KeyProvider::parse(&url, get(SYSTEMS_SETTING).as_deref())
                    .and_then(|p| {
                        TrackKeyPreset::parse(get(TRACK_KEYS_SETTING).as_deref())
                            .map(|t| p.with_track_keys(t))
                    }) {
                    Ok(p) => KeySetting::Provider(Arc::new(p)),
                    Err(why) => KeySetting::Misconfigured(why),
                },
            }),
            _ => None,
        }
    }

    pub fn from_secret(secret: impl Fn(&str) -> Option<String>) -> KeySetting {
        match secret(SEED_KEY) {
            None => KeySetting::Unset,
            Some(v) if v.trim().is_empty() => KeySetting::Unset,
            Some(v) => match crate::token::decode_key(v.trim()) {
                Ok(seed) => KeySetting::Ready(KeySource::Seed(seed)),
                Err(why) => KeySetting::Invalid(why),
            },
        }
    }

    pub fn source(&self) -> Result<&KeySource, KeySetupError> {
        match self {
            KeySetting::Unset => Err(KeySetupError::Missing),
            KeySetting::Invalid(why) => Err(KeySetupError::Invalid(why)),
            KeySetting::Cpix | KeySetting::Provider(_) => Err(KeySetupError::Unloaded),
            KeySetting::Misconfigured(why) => Err(KeySetupError::Misconfigured(why)),
            KeySetting::Ready(s) => Ok(s),
        }
    }

    /// What is wrong with the setting, for the adapter's log (never key
    /// material).
    pub fn problem(&self) -> Option<String> {
        match self {
            KeySetting::Invalid(why) => Some(format!("{SEED_KEY} {why}")),
            KeySetting::Misconfigured(why) => Some((*why).to_string()),
            _ => None,
        }
    }
}
