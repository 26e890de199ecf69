//! Settings from the Config Store `edgepack` and secrets from the Secret
//! Store `edgepack_secrets` (all optional; the keys and their defaults are
//! in [`crate::settings`] and [`crate::auth`]), plus the request headers
//! the response depends on.

use fastly::{ConfigStore, SecretStore};
use std::ops::Deref;

pub const BACKEND: &str = "origin";
const STORE: &str = "edgepack";
/// Origin credentials (`azure_key`, `s3_secret_access_key`, …): a Secret
/// Store, so they are encrypted at rest and never shown in the Fastly UI
/// the way Config Store values are.
const SECRETS: &str = "edgepack_secrets";

#[derive(Clone, Debug)]
pub struct Settings {
    pub deploy: crate::settings::Settings,
    /// The request's `If-None-Match`, for 304s (per request, like the rest).
    pub if_none_match: Option<String>,
    /// The request's `Range` (I-frame playlists and byte-range players).
    pub range: Option<String>,
    /// The request's `Origin`, for a CORS allow-list.
    pub origin: Option<String>,
}

impl Settings {
    pub fn load() -> Settings {
        let store = ConfigStore::try_open(STORE).ok();
        Settings {
            deploy: crate::settings::Settings::from_lookups(
                |k| store.as_ref().and_then(|s| s.try_get(k).ok().flatten()),
                secret,
            ),
            if_none_match: None,
            range: None,
            origin: None,
        }
    }
}

/// A secret's text from the Secret Store [`SECRETS`]; `None` when the
/// store or the secret is absent or unreadable (a scheme that needs one
/// reports the missing key). The fallible calls: the SDK's `get` and
/// `plaintext` panic on a lookup or decryption failure.
pub fn secret(key: &str) -> Option<String> {
    let store = SecretStore::open(SECRETS).ok()?;
    let found = store.try_get(key).ok()??;
    String::from_utf8(found.try_plaintext().ok()?.to_vec()).ok()
}

impl Deref for Settings {
    type Target = crate::settings::Settings;

    fn deref(&self) -> &Self::Target {
        &self.deploy
    }
}
