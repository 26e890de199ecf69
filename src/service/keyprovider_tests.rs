//! `key_source = provider` through the job: the key provider is asked
//! with a CPIX request naming the asset and a derived key id (a read with
//! [`ReadTarget::KeyProvider`], never an adapter's own fetch), its answer
//! gives the key (key URL, licence, `tenc`), it is asked once while the
//! parsed answer is cached, and its failures are clear 502/504s.

use super::*;
use crate::crypto::provider::KeyProvider;
use crate::crypto::KeySetting;
use crate::source::{
    FileOrigin, MemoryCache, Origin, OriginError, ReadRequest, ReadResponse, ReadTarget,
};
use crate::testutil::TempDir;
use crate::url::{parse, Route};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::path::Path;
use std::sync::Arc;

const KEY: [u8; 16] = *b"provider-key-16b";
const ASSET: &str = "/v/avc_bframes.mp4";
const URL: &str = "http://keys.example:8099/speke/v2.0";

/// How the test key provider answers.
#[derive(Clone, Copy)]
enum Mode {
    /// A CPIX document with the key id asked for.
    Good,
    /// A CPIX document with another key id.
    OtherKid,
    /// This HTTP status.
    Status(u16),
    Timeout,
}

/// A file origin, plus a key provider that answers CPIX requests.
struct Env {
    files: FileOrigin,
    cache: MemoryCache,
    mode: Mode,
    /// The request documents the provider got.
    asked: Vec<String>,
    /// The origin folder, removed with the `Env`.
    _dir: TempDir,
}

impl Origin for Env {
    fn read(&mut self, reqs: &[ReadRequest]) -> Vec<Result<ReadResponse, OriginError>> {
        reqs.iter()
            .map(|r| match &r.target {
                ReadTarget::Origin => self.files.read(std::slice::from_ref(r)).remove(0),
                ReadTarget::KeyProvider { provider, body } => {
                    assert_eq!(provider.url, URL);
                    let doc = String::from_utf8(body.to_vec()).unwrap();
                    self.asked.push(doc.clone());
                    let kid = doc.split("kid=\"").nth(1).unwrap()[..36].to_string();
                    let answer = match self.mode {
                        Mode::Good => cpix_answer(&kid),
                        Mode::OtherKid => cpix_answer("00000000-0000-0000-0000-000000000001"),
                        Mode::Status(s) => {
                            return crate::source::keyprovider::answer(r, s, &b""[..])
                        }
                        Mode::Timeout => {
                            return Err(crate::source::keyprovider::unreachable(r, true, ""))
                        }
                    };
                    crate::source::keyprovider::answer(r, 200, answer.as_bytes())
                }
            })
            .collect()
    }
}

fn cpix_answer(kid: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" contentId="v/avc_bframes.mp4" version="2.3">
  <cpix:ContentKeyList>
    <cpix:ContentKey kid="{kid}" commonEncryptionScheme="cenc">
      <cpix:Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></cpix:Data>
    </cpix:ContentKey>
  </cpix:ContentKeyList>
</cpix:CPIX>"#,
        STANDARD.encode(KEY)
    )
}

/// The asset the tests ask for.
fn asset() -> crate::url::Asset {
    request(&format!("{ASSET}/manifest")).asset
}

fn provider() -> Arc<KeyProvider> {
    Arc::new(KeyProvider::parse(URL, None).unwrap())
}

fn cfg() -> Config {
    Config {
        segment_ms: 1000,
        keys: KeySetting::Provider(provider()),
        ..Config::default()
    }
}

fn request(path: &str) -> StreamRequest {
    match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

impl Env {
    fn new(name: &str, mode: Mode) -> Env {
        let dir = TempDir::new(&format!("kp-{name}"));
        let v = dir.join("v");
        std::fs::create_dir_all(&v).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small/avc_bframes.mp4"),
            v.join("avc_bframes.mp4"),
        )
        .unwrap();
        Env {
            files: FileOrigin::new(dir.path()),
            cache: MemoryCache::default(),
            mode,
            asked: Vec::new(),
            _dir: dir,
        }
    }

    fn serve(&mut self, path: &str) -> Result<Output, ServeError> {
        let job = crate::job::Job::new(request(path), cfg());
        let mut cache = std::mem::take(&mut self.cache);
        let out = crate::job::run(job, self, &mut cache);
        self.cache = cache;
        out
    }

    fn get(&mut self, path: &str) -> Vec<u8> {
        let out = self.serve(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let parts = materialize(&out, &mut self.files, &cfg()).unwrap();
        parts.iter().flat_map(|b| b.iter().copied()).collect()
    }
}

#[test]
fn the_provider_is_asked_once_with_a_cpix_request_and_its_key_is_used() {
    let mut env = Env::new("good", Mode::Good);
    let key = env.get(&format!("{ASSET}/QualityLevels(1)/Key(encryption=cenc)"));
    assert_eq!(key, KEY);
    let init = env.get(&format!(
        "{ASSET}/QualityLevels(1)/Fragments(video=i,format=mpd-time-cmaf,encryption=cenc)"
    ));
    let mpd = String::from_utf8(env.get(&format!(
        "{ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc)"
    )))
    .unwrap();
    // Asked once: the parsed answer is cached (not its XML).
    assert_eq!(env.asked.len(), 1, "{:?}", env.asked);
    let kid = provider().kid("cenc", &asset());
    let uuid = crate::manifest::dash::uuid(&kid);
    let doc = &env.asked[0];
    assert!(doc.contains("contentId=\"v/avc_bframes.mp4\""), "{doc}");
    assert!(
        doc.contains(&format!(
            "<cpix:ContentKey kid=\"{uuid}\" commonEncryptionScheme=\"cenc\"/>"
        )),
        "{doc}"
    );
    let at = init.windows(4).position(|w| w == b"tenc").unwrap();
    assert_eq!(&init[at + 12..at + 28], &kid);
    assert!(
        mpd.contains(&format!("cenc:default_KID=\"{uuid}\"")),
        "{mpd}"
    );
    let cached: Vec<_> = env
        .cache
        .0
        .keys()
        .filter(|k| k.starts_with("keys/"))
        .collect();
    assert_eq!(cached.len(), 1);
    let entry = env.cache.0[cached[0].as_str()].clone();
    assert!(entry.starts_with(b"EPCX"), "the compact form, not XML");
    // Another scheme: another key id, asked for separately.
    env.get(&format!("{ASSET}/QualityLevels(1)/Key(encryption=cbc)"));
    assert_eq!(env.asked.len(), 2);
    assert!(!env.asked[1].contains("commonEncryptionScheme"));
}

#[test]
fn the_licence_answers_the_providers_key() {
    let mut env = Env::new("licence", Mode::Good);
    let kid = provider().kid("cenc", &asset());
    let body = format!(
        "{{\"kids\":[\"{}\"],\"type\":\"temporary\"}}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(kid)
    );
    let job = crate::job::Job::new(request(&format!("{ASSET}/License(encryption=cenc)")), cfg())
        .with_body(bytes::Bytes::from(body));
    let mut cache = MemoryCache::default();
    let Output::Key { body, .. } = crate::job::run(job, &mut env, &mut cache).unwrap() else {
        panic!()
    };
    let jwk = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        jwk.contains(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(KEY)),
        "{jwk}"
    );
}

#[test]
fn provider_failures_are_502_or_504_with_a_reason_and_not_cached() {
    let key = format!("{ASSET}/QualityLevels(1)/Key(encryption=cenc)");
    let mut env = Env::new("other", Mode::OtherKid);
    let e = env.serve(&key).unwrap_err();
    assert_eq!(e.status(), 502);
    assert!(e.to_string().contains("the key id asked for"), "{e}");
    let _ = env.serve(&key);
    assert_eq!(env.asked.len(), 2, "a bad answer is not cached");
    let mut env = Env::new("403", Mode::Status(403));
    let e = env.serve(&key).unwrap_err();
    assert_eq!(e.status(), 502);
    assert!(e.to_string().contains("HTTP 403"), "{e}");
    let mut env = Env::new("500", Mode::Status(500));
    assert_eq!(env.serve(&key).unwrap_err().status(), 502);
    let mut env = Env::new("timeout", Mode::Timeout);
    let e = env.serve(&key).unwrap_err();
    assert_eq!(e.status(), 504);
    assert!(e.to_string().starts_with("key provider: timed out"), "{e}");
    // The clear asset does not ask.
    let mut env = Env::new("clear", Mode::Status(500));
    env.get(&format!("{ASSET}/manifest(format=mpd-time-cmaf)"));
    assert!(env.asked.is_empty());
}

#[test]
fn the_output_key_names_the_answers_version_once_cached() {
    let url = format!("{ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc)");
    let mut env = Env::new("okey", Mode::Good);
    let mut job = crate::job::Job::new(request(&url), cfg());
    assert_eq!(job.output_key(&mut env.cache), None, "cold: not known");
    let mut cache = std::mem::take(&mut env.cache);
    let mut results = Vec::new();
    loop {
        match job.step(&mut cache, results) {
            crate::job::Step::Read(r) => results = env.read(&r),
            crate::job::Step::Answer(a) => {
                a.unwrap();
                break;
            }
        }
    }
    let key = job.output_key(&mut cache).unwrap();
    // Warm, before any read: the same key.
    let mut warm = crate::job::Job::new(request(&url), cfg());
    assert_eq!(warm.output_key(&mut cache).as_deref(), Some(key.as_str()));
    let answer = cpix_answer(&crate::manifest::dash::uuid(
        &provider().kid("cenc", &asset()),
    ));
    assert!(
        key.contains(&format!(
            "/cpix:{}",
            crate::http::etag::of_body(answer.as_bytes())
        )),
        "{key}"
    );
}

#[test]
fn settings_choose_the_provider() {
    let get = |k: &str| match k {
        "key_provider_url" => Some(URL.to_string()),
        "key_provider_systems" => Some("edef8ba9-79d6-4ace-a3c8-27dcd51d21ed".to_string()),
        _ => None,
    };
    let Some(KeySetting::Provider(p)) = KeySetting::configured(Some("provider"), get) else {
        panic!()
    };
    assert_eq!(p.authority, "keys.example:8099");
    assert_eq!(p.path_and_query, "/speke/v2.0");
    assert_eq!(p.systems.len(), 1);
    assert_eq!(
        KeySetting::configured(Some("provider"), |_| None),
        Some(KeySetting::Misconfigured(
            "key_source = provider needs key_provider_url"
        ))
    );
    // The secret becomes the Authorization header; a bad one is refused
    // without quoting it; none is read for the seed.
    let mut st = crate::settings::Settings::from_lookup(|k| match k {
        "key_source" => Some("provider".to_string()),
        _ => get(k),
    });
    st.load_key_seed(|k| (k == "key_provider_auth").then(|| "Bearer t0k".to_string()));
    let KeySetting::Provider(p) = &st.keys else {
        panic!("{:?}", st.keys)
    };
    assert_eq!(p.authorization.as_deref(), Some("Bearer t0k"));
    assert!(!format!("{p:?}").contains("t0k"));
    st.load_key_seed(|k| (k == "key_provider_auth").then(|| "a\nb".to_string()));
    assert!(matches!(st.keys, KeySetting::Misconfigured(_)));
    let bad = |k: &str| (k == "key_provider_url").then(|| "ftp://x/y".to_string());
    let Some(KeySetting::Misconfigured(why)) = KeySetting::configured(Some("provider"), bad) else {
        panic!()
    };
    assert!(!why.contains("ftp://x"));
    // Misconfigured: 500 naming the setting, before any read.
    let cfg = Config {
        keys: KeySetting::configured(Some("provider"), |_| None).unwrap(),
        ..Config::default()
    };
    let mut env = Env::new("misconf", Mode::Good);
    let mut cache = MemoryCache::default();
    let e = crate::job::run(
        crate::job::Job::new(
            request(&format!("{ASSET}/QualityLevels(1)/Key(encryption=cenc)")),
            cfg,
        ),
        &mut env,
        &mut cache,
    )
    .unwrap_err();
    assert_eq!(e.status(), 500, "{e}");
    assert!(e.to_string().contains("key_provider_url"), "{e}");
    // A file origin never reads the asset as the provider's answer.
    let mut files = FileOrigin::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"));
    let r = crate::source::keyprovider::read(provider(), "small/avc_bframes.mp4", String::new());
    assert!(files.read(&[r]).remove(0).is_err());
}

#[test]
fn a_cached_answer_for_another_key_id_is_a_miss() {
    // The entry's key names the key id, but the bytes come back from a
    // platform cache: an entry holding another key is never used for it.
    let req = request(&format!(
        "{ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc)"
    ));
    let doc = crate::source::cpix::KeyDoc::of(&req, &KeySetting::Provider(provider())).unwrap();
    let mut cache = MemoryCache::default();
    let other = crate::manifest::dash::uuid(&[9; 16]);
    let mut parsed = crate::crypto::cpix::parse(cpix_answer(&other).as_bytes()).unwrap();
    doc.store(&parsed, &mut cache);
    assert!(doc.cached(&mut cache).is_none());
    parsed.key.kid = provider().kid("cenc", &asset());
    doc.store(&parsed, &mut cache);
    assert_eq!(
        doc.cached(&mut cache).map(|d| d.key.kid),
        Some(parsed.key.kid)
    );
}
