//! Content keys: where they come from and the key of one asset.
//!
//! Today keys are derived from one secret seed, so a deployment needs no
//! key store: the key of an asset is the first 16 bytes of
//! HMAC-SHA256(seed, `"edgepack-aes128/1\n{asset}"`) (RFC 2104), and its key
//! id the first 16 bytes of HMAC-SHA256(seed, `"edgepack-kid/1\n{asset}"`),
//! where `{asset}` is [`asset_id`]: the asset's object path(s) after the
//! locator map, so the locator URL and the direct URL of one asset give one
//! key. The key id says which key a cached output or an ETag was made with
//! and reveals nothing of the key. Keys from a CPIX document (DASH-IF CPIX
//! 2.3) will be another [`KeySource`].

use crate::url::Asset;
use std::fmt;

/// The secret that holds the seed: base64 (either alphabet, padding
/// optional) of at least 16 bytes, e.g. `openssl rand -base64 32`.
pub const SEED_KEY: &str = "encryption_key_seed";

/// The first line of the message a content key is derived from.
const KEY_DOMAIN: &str = "edgepack-aes128/1";
/// The first line of the message a key id is derived from.
const KID_DOMAIN: &str = "edgepack-kid/1";

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

/// Where content keys come from: one variant now, a CPIX document later.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Keys derived from a secret seed (the module docs).
    Seed(Vec<u8>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Seed(_) => f.write_str("Seed(<redacted>)"),
        }
    }
}

impl KeySource {
    /// The content key of `asset`.
    pub fn content_key(&self, asset: &Asset) -> ContentKey {
        match self {
            KeySource::Seed(seed) => {
                let id = asset_id(asset);
                ContentKey {
                    kid: derive(seed, KID_DOMAIN, &id),
                    key: derive(seed, KEY_DOMAIN, &id),
                }
            }
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
    /// The configured secret is unusable (what is wrong with it).
    Invalid(&'static str),
}

/// The deployment's key source as configured: absent, unusable, or ready.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KeySetting {
    #[default]
    Unset,
    Invalid(&'static str),
    Ready(KeySource),
}

impl KeySetting {
    /// Reads [`SEED_KEY`] through the platform's secret lookup.
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
            KeySetting::Ready(s) => Ok(s),
        }
    }

    /// What is wrong with the setting, for the adapter's log (never key
    /// material).
    pub fn problem(&self) -> Option<String> {
        match self {
            KeySetting::Invalid(why) => Some(format!("{SEED_KEY} {why}")),
            _ => None,
        }
    }
}
