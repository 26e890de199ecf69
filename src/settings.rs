//! Deployment settings, read the same way on every runtime: each adapter
//! supplies a lookup over its platform's key-value configuration (the
//! Fastly Config Store `edgepack`, environment variables for wasi:http)
//! and one over its secrets (the Fastly Secret Store `edgepack_secrets`,
//! the same environment variables for wasi:http), and this module parses
//! and bounds the values once.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `origin_host` | (backend's) | `Host` header sent to the origin (S3: the bucket host) |
//! | `origin_prefix` | "" | path prefix of every object at the origin |
//! | `segment_ms` | 6000 | target segment duration (1000–30000) |
//! | `manifest_ttl` | 60 | `Cache-Control` max-age of manifests, seconds |
//! | `index_ttl` | 86400 | lifetime of cached indexes, seconds |
//! | `cors_origin` | `*` | origins allowed by CORS: `*`, a comma-separated list (the request's `Origin` echoed when listed), or "" (no CORS headers) |
//! | `origin_rtt_ms` | 40 | round trip of one origin request, ms (0–2000): with `origin_bandwidth`, how far segment reads merge across other tracks' bytes ([`crate::plan::ReadCost`]) |
//! | `origin_bandwidth` | 50 | throughput of one origin read, MB/s (1–10000) |
//! | `output_cache` | `on` | keep packaged outputs in the platform's cache (`off`: package every request) |
//! | `revalidate_after` | 60 | seconds a cached source version (index, `.ism`) is used before the origin confirms it ([`crate::source::freshness`]; 0: never) |
//! | `closed_captions` | none | CEA-608/708 captions every title's video carries, unless its `.ism` declares its own: `none`, or e.g. `CC1=en:English;SERVICE1=fr` ([`crate::input::captions`]); an invalid value is ignored |
//! | `prefetch` | `off` | after answering a media segment, package the next one of the same track into the output cache (`on`) |
//! | `token_required`, `locators`, `allowed_prefixes` (and the secret `token_keys`) | | signed URLs, Azure locators, allowed prefixes: see [`crate::access`] |
//! | `origin_auth` | `none` | how origin requests are signed: `azure-shared-key`, `azure-sas`, `s3`, `header` |
//! | `account_filters` | `_filters` | folder of account filters (`{name}.json`) at the origin, searched after the asset's `filters/` ([`crate::source::filters`]) |
//! | `encryption_key_seed` (secret) | none | base64 of ≥ 16 random bytes; the content keys of `encryption=` are derived from it per asset ([`crate::crypto`]); without it (and without `key_source = cpix`) `encryption=` is 501 |
//! | `key_source` | `seed` | `cpix`: each asset's key and DRM signalling come from the CPIX document beside it (`{asset without extension}.cpix.xml`, [`crate::crypto::cpix`]); `provider`: they are asked of the key provider at `key_provider_url` with a CPIX request ([`crate::crypto::provider`]); the seed is then not read |
//! | `key_provider_url` | none | `http(s)://host[:port]/path` of the key provider (`key_source = provider`); on Fastly requests go through the backend `key_provider` |
//! | `key_provider_auth` (secret) | none | the `Authorization` header value sent to the key provider (e.g. `Bearer …`) |
//! | `key_provider_systems` | none | DRM system ids (UUIDs, `,`-separated) whose signalling the key provider is asked for |
//! | `key_provider_track_keys` | `shared` | `audio-video`: the key provider is asked for an `AUDIO` and a `VIDEO` key (SPEKE v2.0 PRESET-AUDIO-1 + PRESET-VIDEO-1); `audio-sd-hd`: `AUDIO`, `SD` (≤ 1024×576 pixels) and `HD` keys (PRESET-VIDEO-2), each track encrypted with its type's key ([`crate::crypto::provider::TrackKeyPreset`]) |
//! | `playready_la_url` | none | PlayReady licence server of `encryption=piff`: the `LA_URL` of the Smooth manifest's PlayReady header (an `http(s)://` URL of at most 2048 bytes; anything else is ignored). Without it the header has no `LA_URL` and players must be configured with one |
//! | `set_summary` | `on` | cache a summary of each title's segments (sizes, boundaries, header data) so warm manifests are written without loading the indexes ([`crate::summary`]); `off`: every manifest from the indexes |
//! | `fragment_index` | `auto` | fragmented files with a `sidx` or `mfra`: `auto` indexes them per fragment (moofs read per segment) when walking their moofs would exceed the read budget, `table` whenever they have one ([`crate::mp4::fragtable`]); changing it needs the cached indexes purged |
//!
//! The settings and secrets each `origin_auth` scheme reads
//! (`azure_account`, `azure_key`, `azure_sas`, `s3_access_key_id`,
//! `s3_secret_access_key`, `s3_region`, `s3_session_token`,
//! `origin_header_name`, `origin_header_value`) are listed in
//! [`crate::auth`]. A secret is read only from the secret lookup.

use crate::access::Access;
use crate::auth::{AuthConfigError, OriginAuth};
use crate::crypto::KeySetting;
use crate::http::Policy;
use crate::plan::{self, ReadCost};
use crate::service::Config;
use crate::source::request::OriginRequests;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub origin_host: Option<String>,
    pub origin_prefix: String,
    pub segment_ms: u32,
    pub manifest_ttl: u32,
    pub index_ttl: u32,
    pub cors_origin: String,
    /// Store packaged outputs in the platform's cache ([`crate::outputs`]).
    pub output_cache: bool,
    /// Captions in every title's video, unless its `.ism` says otherwise
    /// (`closed_captions`; an invalid value is ignored).
    pub closed_captions: Option<crate::input::captions::Captions>,
    /// Seconds a cached source version is trusted before the origin
    /// confirms it ([`crate::source::freshness`]); 0: never revalidated.
    pub revalidate_after: u32,
    /// Self-prefetch: once a media segment is answered, package the next
    /// one of its track into the output cache (needs `output_cache`).
    pub prefetch: bool,
    /// The price of an origin read (`origin_rtt_ms`, `origin_bandwidth`),
    /// which plans segment reads ([`crate::plan::ReadCost`]).
    pub read_cost: ReadCost,
    /// Signed URLs, locators, allowed prefixes ([`crate::access`]); the
    /// token keys are secrets, added by the adapter
    /// ([`Access::load_secrets`]).
    pub access: Access,
    /// The origin credentials, or why they are unusable: then every
    /// request that would reach the origin is answered 500 rather than
    /// sent unsigned. `Debug` never shows a secret.
    pub origin_auth: Result<OriginAuth, AuthConfigError>,
    /// Where content keys come from: the secret `encryption_key_seed`,
    /// added by the adapter ([`Settings::load_key_seed`]). `Debug` never
    /// shows it.
    pub keys: KeySetting,
    /// `key_source = cpix` or `provider`: keys from each asset's CPIX
    /// document or from the key provider; `None` for the seed.
    pub configured_keys: Option<KeySetting>,
    /// Folder of account filters ([`crate::source::filters`]).
    pub account_filters: String,
    /// The PlayReady licence server of `encryption=piff`
    /// ([`Config::playready_la_url`]).
    pub playready_la_url: Option<String>,
    /// When fragmented files are indexed per fragment (`fragment_index`).
    pub fragment_tables: crate::mp4::fragments::TablePolicy,
    /// Manifests from a cached set summary (`set_summary`,
    /// [`crate::summary`]).
    pub set_summary: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_lookup(|_| None)
    }
}

impl Settings {
    /// Settings from `get(key)`, with no secrets (so no origin auth that
    /// needs one); see [`Settings::from_lookups`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Settings {
        Settings::from_lookups(get, |_| None)
    }

    /// Settings from `get(key)` and secrets from `secret(key)`; a missing
    /// or unparsable value takes its default, and numbers are clamped to
    /// what the packager supports. Origin auth settings are not defaulted:
    /// a missing or invalid one is kept as the error.
    pub fn from_lookups(
        get: impl Fn(&str) -> Option<String>,
        secret: impl Fn(&str) -> Option<String>,
    ) -> Settings {
        let num = |k: &str, d: u32| get(k).and_then(|v| v.trim().parse().ok()).unwrap_or(d);
        Settings {
            origin_host: get("origin_host").filter(|h| !h.is_empty()),
            origin_prefix: clean_prefix(&get("origin_prefix").unwrap_or_default()),
            segment_ms: num("segment_ms", crate::timeline::DEFAULT_TARGET_MS).clamp(1000, 30_000),
            manifest_ttl: num("manifest_ttl", 60),
            index_ttl: num("index_ttl", 86_400).max(1),
            cors_origin: get("cors_origin").unwrap_or_else(|| "*".to_string()),
            output_cache: !matches!(
                get("output_cache").as_deref().map(str::trim),
                Some("off" | "false" | "0" | "no")
            ),
            revalidate_after: num("revalidate_after", 60),
            closed_captions: get("closed_captions")
                .and_then(|v| crate::input::captions::parse(&v).ok()),
            prefetch: matches!(
                get("prefetch").as_deref().map(str::trim),
                Some("on" | "true" | "1" | "yes")
            ),
            read_cost: ReadCost {
                rtt_ms: num("origin_rtt_ms", plan::DEFAULT_RTT_MS).min(2000),
                bandwidth: u64::from(
                    num(
                        "origin_bandwidth",
                        (plan::DEFAULT_BANDWIDTH / 1_000_000) as u32,
                    )
                    .clamp(1, 10_000),
                ) * 1_000_000,
            },
            access: Access::from_config(&get),
            origin_auth: OriginAuth::from_lookup(&get, secret),
            keys: KeySetting::Unset,
            configured_keys: KeySetting::configured(
                get(crate::crypto::KEY_SOURCE_SETTING).as_deref(),
                &get,
            ),
            account_filters: match clean_prefix(&get("account_filters").unwrap_or_default()) {
                p if p.is_empty() => crate::service::DEFAULT_ACCOUNT_FILTERS.to_string(),
                p => p.trim_end_matches('/').to_string(),
            },
            playready_la_url: get("playready_la_url").and_then(|u| la_url(&u)),
            fragment_tables: match get("fragment_index").as_deref().map(str::trim) {
                Some("table") => crate::mp4::fragments::TablePolicy::Always,
                _ => crate::mp4::fragments::TablePolicy::OverBudget,
            },
            set_summary: !matches!(
                get("set_summary").as_deref().map(str::trim),
                Some("off" | "false" | "0" | "no")
            ),
        }
    }

    /// Reads the content key seed with the platform's secret lookup. An
    /// adapter whose secret reads cost something calls it only for
    /// requests that ask for encryption ([`wants_encryption`]).
    /// With `key_source = cpix` or `provider` no secret is read.
    pub fn load_key_seed(&mut self, secret: impl Fn(&str) -> Option<String>) {
        self.keys = match &self.configured_keys {
            // The provider's credentials, when configured.
            Some(KeySetting::Provider(p)) => match secret(crate::crypto::provider::AUTH_SECRET) {
                None => KeySetting::Provider(p.clone()),
                Some(v) => match (**p).clone().with_authorization(&v) {
                    Ok(p) => KeySetting::Provider(std::sync::Arc::new(p)),
                    Err(why) => KeySetting::Misconfigured(why),
                },
            },
            Some(k) => k.clone(),
            None => KeySetting::from_secret(secret),
        };
    }

    /// What is wrong with the secrets read so far, for the adapter's log
    /// (never key material).
    pub fn key_problem(&self) -> Option<String> {
        self.keys.problem()
    }

    /// The packaging configuration these settings select.
    pub fn service_config(&self) -> Config {
        Config {
            segment_ms: self.segment_ms,
            keys: self.keys.clone(),
            account_filters: self.account_filters.clone(),
            read_cost: self.read_cost,
            closed_captions: self.closed_captions.clone(),
            clock: crate::source::freshness::Clock {
                now: 0,
                max_age: u64::from(self.revalidate_after),
            },
            playready_la_url: self.playready_la_url.clone(),
            fragment_tables: self.fragment_tables,
            set_summary: self.set_summary,
            ..Config::default()
        }
    }

    /// The response policy (CORS, manifest lifetime).
    pub fn policy(&self) -> Policy {
        Policy {
            cors_origin: self.cors_origin.clone(),
            manifest_ttl: self.manifest_ttl,
            request_origin: None,
        }
    }

    /// How requests to the origin seen as `host` are built and signed, or
    /// why they cannot be ([`Settings::origin_auth`]).
    pub fn origin_requests(&self, host: &str) -> Result<OriginRequests, AuthConfigError> {
        Ok(OriginRequests {
            host: host.to_string(),
            prefix: self.origin_prefix.clone(),
            auth: self.origin_auth.clone()?,
        })
    }

    /// The origin path of `object`: `{prefix}{object}`.
    pub fn object_path(&self, object: &str) -> String {
        format!("{}{object}", self.origin_prefix)
    }
}

/// A usable PlayReady `LA_URL`: an absolute `http(s)` URL, printable
/// ASCII, at most [`crate::crypto::playready::MAX_LA_URL_LEN`] bytes.
fn la_url(v: &str) -> Option<String> {
    let v = v.trim();
    let lower = v.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && v.len() <= crate::crypto::playready::MAX_LA_URL_LEN
        && v.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| v.to_string())
}

/// Whether a request's path or query mentions `encryption=` (any case),
/// so that an adapter reads the key seed only for requests that may need
/// it. Over-inclusive on purpose: a false positive costs one secret read.
pub fn wants_encryption(path: &str, query: Option<&str>) -> bool {
    let has = |s: &str| s.to_ascii_lowercase().contains("encryption");
    has(path) || query.is_some_and(has)
}

/// "/media/" → "media/": objects are joined as `{prefix}{path}`; empty,
/// `.` and `..` segments are dropped so a prefix cannot climb out.
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

/// Percent-encodes an object path for a request line (RFC 3986 §2.3
/// unreserved characters and `/` stay as they are).
pub fn encode_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn playready_la_url_must_be_an_http_url() {
        let la = |v: &str| {
            let v = v.to_string();
            Settings::from_lookup(move |k| (k == "playready_la_url").then(|| v.clone()))
                .service_config()
                .playready_la_url
        };
        assert_eq!(Settings::default().playready_la_url, None);
        let u = "https://pr.example.com/rightsmanager.asmx?x=1&y=2";
        assert_eq!(la(u).as_deref(), Some(u));
        assert_eq!(la(&format!(" {u}\n")).as_deref(), Some(u));
        assert_eq!(la("HTTP://pr/").as_deref(), Some("HTTP://pr/"));
        for bad in [
            "",
            "pr.example.com/x",
            "ftp://x/",
            "https://a b/",
            "https://x/\u{e9}",
        ] {
            assert_eq!(la(bad), None, "{bad:?}");
        }
        assert_eq!(la(&format!("https://x/{}", "a".repeat(2048))), None);
    }

    #[test]
    fn defaults_and_bounds() {
        let s = Settings::default();
        assert_eq!(s.segment_ms, 6000);
        assert_eq!(s.cors_origin, "*");
        assert_eq!(s.origin_host, None);
        assert!(s.output_cache);
        assert!(!s.prefetch);
        assert_eq!(s.service_config().clock.max_age, 60);
        assert_eq!(s.account_filters, "_filters");
        assert_eq!(s.service_config().read_cost, ReadCost::default());
        let f = |v: &'static str| {
            Settings::from_lookup(move |k| (k == "account_filters").then(|| v.to_string()))
                .service_config()
                .account_filters
        };
        assert_eq!(f("/shared/filters/"), "shared/filters");
        assert_eq!(
            f("../.."),
            "_filters",
            "cannot climb out; empty is the default"
        );
        let m: HashMap<&str, &str> = [
            ("segment_ms", "50"),
            ("index_ttl", "0"),
            ("origin_prefix", "/../media//x/"),
            ("origin_host", ""),
            ("manifest_ttl", "junk"),
            ("output_cache", "off"),
            ("prefetch", "on"),
            ("origin_rtt_ms", "90000"),
            ("origin_bandwidth", "0"),
        ]
        .into();
        let s = Settings::from_lookup(|k| m.get(k).map(|v| v.to_string()));
        assert_eq!(s.segment_ms, 1000);
        assert_eq!(s.index_ttl, 1);
        assert_eq!(s.origin_prefix, "media/x/");
        assert_eq!(s.origin_host, None);
        assert_eq!(s.manifest_ttl, 60);
        assert!(!s.output_cache);
        assert!(s.prefetch);
        assert_eq!(
            s.read_cost,
            ReadCost {
                rtt_ms: 2000,
                bandwidth: 1_000_000
            }
        );
        assert_eq!(s.object_path("a b.mp4"), "media/x/a b.mp4");
    }

    #[test]
    fn origin_auth_reads_secrets_only_from_the_secret_lookup() {
        use crate::auth::{AuthConfigError, OriginAuth};
        let cfg = |k: &str| (k == "origin_auth").then(|| "header".to_string());
        let s = Settings::from_lookups(cfg, |k| {
            (k == "origin_header_value").then(|| "Bearer x".to_string())
        });
        assert_eq!(
            s.origin_auth,
            Ok(OriginAuth::Header {
                name: "authorization".into(),
                value: "Bearer x".into()
            })
        );
        let r = s.origin_requests("origin").unwrap();
        assert_eq!((r.host.as_str(), r.prefix.as_str()), ("origin", ""));
        // Without secrets the scheme is unusable, and says which key.
        let e = Settings::from_lookup(cfg).origin_requests("origin");
        assert_eq!(
            e,
            Err(AuthConfigError {
                key: "origin_header_value",
                problem: "missing"
            })
        );
        assert_eq!(Settings::default().origin_auth, Ok(OriginAuth::None));
    }

    #[test]
    fn key_seed_is_a_secret_read_on_demand() {
        use crate::crypto::KeySetting;
        let seed = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        // A configuration value is never taken for the seed.
        let mut s = Settings::from_lookups(
            |k| (k == "encryption_key_seed").then(|| seed.to_string()),
            |_| None,
        );
        assert_eq!(s.keys, KeySetting::Unset);
        s.load_key_seed(|k| (k == "encryption_key_seed").then(|| seed.to_string()));
        assert!(s.service_config().keys.source().is_ok());
        assert!(!format!("{s:?}").contains(seed));
        s.load_key_seed(|_| Some("short".into()));
        assert!(s.key_problem().is_some_and(|p| !p.contains("short")));
        assert!(wants_encryption(
            "/a.mp4/QualityLevels(1)/Key(Encryption=cbc)",
            None
        ));
        assert!(wants_encryption(
            "/a.mp4/master.m3u8",
            Some("encryption=cbc")
        ));
        assert!(!wants_encryption("/a.mp4/master.m3u8", Some("x=1")));
    }

    #[test]
    fn paths_are_percent_encoded() {
        assert_eq!(encode_path("a b/ü%.mp4"), "a%20b/%C3%BC%25.mp4");
        assert_eq!(encode_path("abr/abr.ism"), "abr/abr.ism");
    }
}
