//! Settings from the Config Store `edgepack` (all optional; the keys and
//! their defaults are in [`crate::settings`]), plus the request headers the
//! response depends on.

use fastly::ConfigStore;
use std::ops::Deref;

pub const BACKEND: &str = "origin";
const STORE: &str = "edgepack";

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
            deploy: crate::settings::Settings::from_lookup(|k| {
                store.as_ref().and_then(|s| s.try_get(k).ok().flatten())
            }),
            if_none_match: None,
            range: None,
            origin: None,
        }
    }
}

impl Deref for Settings {
    type Target = crate::settings::Settings;

    fn deref(&self) -> &Self::Target {
        &self.deploy
    }
}
