//! Settings from the Config Store `edgepack` (all optional).
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `origin_host` | (backend's) | `Host` header sent to the origin (S3: the bucket host) |
//! | `origin_prefix` | "" | path prefix of every object at the origin |
//! | `segment_ms` | 6000 | target segment duration |
//! | `manifest_ttl` | 60 | `Cache-Control` max-age of manifests, seconds |
//! | `index_ttl` | 86400 | lifetime of cached indexes, seconds |
//! | `cors_origin` | `*` | `Access-Control-Allow-Origin` ("" disables CORS) |

use crate::service::Config;
use fastly::ConfigStore;

pub const BACKEND: &str = "origin";
const STORE: &str = "edgepack";

#[derive(Clone, Debug)]
pub struct Settings {
    pub origin_host: Option<String>,
    pub origin_prefix: String,
    pub segment_ms: u32,
    pub manifest_ttl: u32,
    pub index_ttl: u32,
    pub cors_origin: String,
    /// The request's `If-None-Match`, for 304s (per request, like the rest).
    pub if_none_match: Option<String>,
    /// The request's `Range` (I-frame playlists and byte-range players).
    pub range: Option<String>,
}

impl Settings {
    pub fn load() -> Settings {
        let store = ConfigStore::try_open(STORE).ok();
        let get = |k: &str| store.as_ref().and_then(|s| s.try_get(k).ok().flatten());
        let num = |k: &str, d: u32| get(k).and_then(|v| v.trim().parse().ok()).unwrap_or(d);
        Settings {
            origin_host: get("origin_host").filter(|h| !h.is_empty()),
            origin_prefix: clean_prefix(&get("origin_prefix").unwrap_or_default()),
            segment_ms: num("segment_ms", crate::timeline::DEFAULT_TARGET_MS).clamp(1000, 30_000),
            manifest_ttl: num("manifest_ttl", 60),
            index_ttl: num("index_ttl", 86_400).max(1),
            cors_origin: get("cors_origin").unwrap_or_else(|| "*".to_string()),
            if_none_match: None,
            range: None,
        }
    }

    pub fn service_config(&self) -> Config {
        Config {
            segment_ms: self.segment_ms,
            ..Config::default()
        }
    }
}

/// "/media/" → "media/": objects are joined as `{prefix}{path}`.
fn clean_prefix(p: &str) -> String {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{}/", parts.join("/"))
    }
}
