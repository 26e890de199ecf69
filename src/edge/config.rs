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
    /// The Config Store settings. Origin credentials are not read here:
    /// a request answered from the output cache never reaches the origin,
    /// so it should not pay for a Secret Store read and decryption; the
    /// adapter calls [`Settings::load_origin_auth`] before its first
    /// origin request.
    pub fn load() -> Settings {
        let store = ConfigStore::try_open(STORE).ok();
        Settings {
            deploy: crate::settings::Settings::from_lookups(
                |k| store.as_ref().and_then(|s| s.try_get(k).ok().flatten()),
                |_| None,
            ),
            if_none_match: None,
            range: None,
            origin: None,
        }
    }
}

impl Settings {
    /// Reads the origin credentials the configured `origin_auth` scheme
    /// needs (Config Store for the scheme and public parts, Secret Store
    /// for the secrets).
    pub fn load_origin_auth(&mut self) {
        let store = ConfigStore::try_open(STORE).ok();
        self.deploy.origin_auth = crate::auth::OriginAuth::from_lookup(
            |k| store.as_ref().and_then(|s| s.try_get(k).ok().flatten()),
            secret,
        );
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
