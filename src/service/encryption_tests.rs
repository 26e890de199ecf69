//! `encryption=cbc` end to end through the service: the playlists are
//! crawled as a player would (master → media playlists → key tag, key URL
//! and segments, every URI resolved relative to its playlist), and every
//! segment decrypts, with the announced key and IV, to the clear segment.

use super::*;
use crate::crypto::{KeySetting, KeySource};
use crate::source::{FileOrigin, MemoryCache};
use crate::url::{parse, Route};
use ::cbc::cipher::block_padding::Pkcs7;
use ::cbc::cipher::{BlockDecryptMut, KeyIvInit};
use std::path::{Path, PathBuf};

const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small")
}

/// Short segments: the small fixtures then have several.
fn seeded() -> Config {
    with_seed(SEED)
}

fn with_seed(seed: &str) -> Config {
    Config {
        segment_ms: 1000,
        keys: KeySetting::from_secret(|_| Some(seed.to_string())),
        ..Config::default()
    }
}

/// The output cache key of `url`, made as the edge makes it: asked
/// before (cold: none), then after the job has answered.
fn output_key(env: &mut Env, url: &str, cfg: &Config) -> String {
    use crate::job::{Job, Step};
    let mut job = Job::new(request(url), cfg.clone());
    if let Some(k) = job.output_key(&mut env.cache) {
        return k;
    }
    let mut results = Vec::new();
    loop {
        match job.step(&mut env.cache, results) {
            Step::Read(r) => results = crate::source::Origin::read(&mut env.origin, &r),
            Step::Answer(a) => {
                a.unwrap();
                break;
            }
        }
    }
    job.output_key(&mut env.cache).unwrap()
}

fn request(path: &str) -> StreamRequest {
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    match parse(p, q).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

struct Env {
    origin: FileOrigin,
    cache: MemoryCache,
    cfg: Config,
}

impl Env {
    fn new(cfg: Config) -> Env {
        Env {
            origin: FileOrigin::new(fixtures()),
            cache: MemoryCache::default(),
            cfg,
        }
    }

    fn serve(&mut self, path: &str) -> Result<Output, ServeError> {
        serve(&request(path), &mut self.origin, &mut self.cache, &self.cfg)
    }

    fn get(&mut self, path: &str) -> Vec<u8> {
        let out = self.serve(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let parts = materialize(&out, &mut self.origin, &self.cfg).unwrap();
        let body: Vec<u8> = parts.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(body.len() as u64, out.len(), "length up front: {path}");
        body
    }

    fn text(&mut self, path: &str) -> String {
        String::from_utf8(self.get(path)).unwrap()
    }

    fn status(&mut self, path: &str) -> u16 {
        match self.serve(path) {
            Ok(_) => 200,
            Err(e) => e.status(),
        }
    }
}

/// RFC 3986 §5.2 for the relative references our playlists write: a
/// reference without `/` replaces the last segment of `base`.
fn resolve(base: &str, uri: &str) -> String {
    assert!(!uri.starts_with('/') && !uri.contains("../"), "{uri}");
    let dir = &base[..base.rfind('/').unwrap() + 1];
    format!("{dir}{uri}")
}

fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.split(&format!("{name}=")).nth(1)?;
    Some(match rest.strip_prefix('"') {
        Some(q) => q.split('"').next().unwrap(),
        None => rest.split(',').next().unwrap(),
    })
}

fn decrypt(data: &[u8], key: &[u8], iv: &[u8; 16]) -> Vec<u8> {
    let key: [u8; 16] = key.try_into().unwrap();
    let mut buf = data.to_vec();
    ::cbc::Decryptor::<aes::Aes128>::new(&key.into(), iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .unwrap()
        .to_vec()
}

/// Crawls the encrypted title of `asset` in `format` and checks every
/// segment against its clear twin; returns the number of segments.
fn check_title(env: &mut Env, asset: &str, format: &str) -> usize {
    let master_url = format!("/{asset}/manifest(format={format},encryption=cbc).m3u8");
    let master = env.text(&master_url);
    assert!(!master.contains("#EXT-X-I-FRAME-STREAM-INF"), "{master}");
    let playlists: Vec<String> = master
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .chain(
            master
                .lines()
                .filter(|l| l.starts_with("#EXT-X-MEDIA:"))
                .filter_map(|l| attr(l, "URI").map(str::to_string)),
        )
        .collect();
    assert!(!playlists.is_empty());
    let mut segments = 0;
    for p in playlists {
        assert!(p.contains("encryption=cbc"), "{p}");
        let playlist_url = resolve(&master_url, &p);
        let playlist = env.text(&playlist_url);
        let mut sequence: u64 = playlist
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
            .unwrap()
            .parse()
            .unwrap();
        let mut key: Option<(Vec<u8>, Option<[u8; 16]>)> = None;
        for line in playlist.lines() {
            if let Some(tag) = line.strip_prefix("#EXT-X-KEY:") {
                assert_eq!(attr(tag, "METHOD"), Some("AES-128"));
                let key_url = resolve(&playlist_url, attr(tag, "URI").unwrap());
                let out = env.serve(&key_url).unwrap();
                assert_eq!(out.content_type(), "application/octet-stream");
                assert!(!out.is_immutable());
                let bytes = env.get(&key_url);
                assert_eq!(bytes.len(), 16);
                let iv = attr(tag, "IV").map(|h| {
                    let h = h.strip_prefix("0x").unwrap();
                    u128::from_str_radix(h, 16).unwrap().to_be_bytes()
                });
                key = Some((bytes, iv));
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (k, explicit) = key.as_ref().expect("a key tag before the first segment");
            // RFC 8216 §5.2: no IV attribute → the Media Sequence Number.
            let iv = explicit.unwrap_or_else(|| crate::crypto::sequence_iv(sequence));
            let url = resolve(&playlist_url, line);
            assert!(url.contains(",encryption=cbc)"), "{url}");
            let encrypted = env.get(&url);
            let clear = env.get(&url.replace(",encryption=cbc", ""));
            assert_eq!(encrypted.len() % 16, 0);
            assert_eq!(
                encrypted.len() as u64,
                crate::crypto::padded_len(clear.len() as u64)
            );
            assert_ne!(encrypted[..188], clear[..188]);
            assert!(
                decrypt(&encrypted, k, &iv) == clear,
                "{url}: does not decrypt to the clear segment with IV {iv:02x?}"
            );
            sequence += 1;
            segments += 1;
        }
    }
    segments
}

#[test]
fn every_encrypted_segment_decrypts_to_the_clear_one() {
    let mut env = Env::new(seeded());
    let mut total = 0;
    for asset in ["avc_bframes.mp4", "mixed_audio.mp4", "avc_gop40.mp4"] {
        for format in ["m3u8-aapl", "m3u8-aapl-v3"] {
            let n = check_title(&mut env, asset, format);
            assert!(n >= 2, "{asset} {format}: {n} segments");
            total += n;
        }
    }
    assert!(total > 10);
}

#[test]
fn the_key_is_the_assets_and_needs_no_origin_read() {
    let mut env = Env::new(seeded());
    let key = env.get("/abr/abr.ism/QualityLevels(1)/Key(encryption=cbc)");
    assert!(env.origin.log.is_empty(), "{:?}", env.origin.log);
    // Any rendition's key URL, and the query spelling, give the same key.
    assert_eq!(
        env.get("/abr/abr.ism/QualityLevels(2500080)/key(Encryption=CBC)"),
        key
    );
    assert_eq!(
        env.get("/abr/abr.ism/QualityLevels(1)/Key(encryption=cbc)?encryption=cbc"),
        key
    );
    let KeySetting::Ready(src) = &env.cfg.keys else {
        panic!()
    };
    assert!(matches!(src, KeySource::Seed(_)));
    let want = src.content_key(&crate::url::Asset::Ism {
        path: "abr/abr.ism".into(),
    });
    assert_eq!(key, want.key);
    assert_ne!(
        env.get("/abr/other.ism/QualityLevels(1)/Key(encryption=cbc)"),
        key
    );
    // Never stored: no output key, whatever the cache holds.
    let req = request("/abr/abr.ism/QualityLevels(1)/Key(encryption=cbc)");
    assert_eq!(crate::outputs::key(&req, &env.cfg, &mut env.cache), None);
}

#[test]
fn refusals() {
    let mut env = Env::new(seeded());
    let a = "/avc_bframes.mp4";
    // cbc is HLS TS only (Azure's rule).
    for m in [
        "manifest(format=m3u8-cmaf,encryption=cbc)",
        "manifest(format=mpd-time-cmaf,encryption=cbc)",
        "manifest(encryption=cbc)",
        "QualityLevels(1)/Manifest(video,format=m3u8-cmaf,encryption=cbc)",
    ] {
        let e = env.serve(&format!("{a}/{m}")).unwrap_err();
        assert_eq!(e.status(), 400, "{m}");
        assert!(e.to_string().contains("m3u8-aapl"), "{e}");
    }
    // piff is Smooth Streaming only (src/service/piff_tests.rs): 400
    // with another format, before any read.
    let err = env
        .serve(&format!(
            "{a}/manifest(format=mpd-time-cmaf,encryption=piff)"
        ))
        .unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("Smooth"), "{err}");
    // cbcs-aapl, like cenc, is CMAF only: 400 before any read.
    let err = env
        .serve(&format!(
            "{a}/manifest(format=m3u8-aapl,encryption=cbcs-aapl)"
        ))
        .unwrap_err();
    assert_eq!(err.status(), 400);
    // No origin read for any of these.
    assert!(env.origin.log.is_empty());
    // I-frame playlists are left out of encrypted titles.
    let master = env.serve(&format!("{a}/manifest(format=m3u8-aapl,encryption=cbc)"));
    let Ok(Output::Text { omitted, .. }) = master else {
        panic!()
    };
    assert!(omitted.iter().any(|o| o.starts_with("I-frame playlists")));
    assert_eq!(
        env.status(&format!(
            "{a}/QualityLevels(1)/Manifest(video,format=m3u8-aapl,type=keyframes,encryption=cbc)"
        )),
        501
    );
    // A key URL must say which encryption.
    assert!(parse("/x.mp4/QualityLevels(1)/Key()", None).is_err());
    let e = parse("/x.mp4/QualityLevels(1)/Key(format=m3u8-aapl)", None).unwrap_err();
    assert_eq!(e.http_status(), 400);
    assert!(parse("/x.mp4/QualityLevels(1)/Key(encryption=cbc).bin", None).is_err());
}

#[test]
fn without_a_seed_cbc_is_501_and_a_bad_seed_500() {
    let urls = [
        "/avc_bframes.mp4/manifest(format=m3u8-aapl,encryption=cbc)",
        "/avc_bframes.mp4/QualityLevels(1)/Key(encryption=cbc)",
    ];
    let mut env = Env::new(Config::default());
    for u in urls {
        let e = env.serve(u).unwrap_err();
        assert_eq!(
            (e.status(), e.to_string().as_str()),
            (501, "encryption=cbc needs encryption_key_seed")
        );
    }
    let mut bad = Env::new(Config {
        keys: KeySetting::from_secret(|_| Some("c2hvcnQ=".into())),
        ..Config::default()
    });
    for u in urls {
        let e = bad.serve(u).unwrap_err();
        assert_eq!(e.status(), 500, "{u}");
        assert!(!e.to_string().contains("c2hvcnQ"), "{e}");
    }
    // The service without a key source never sends an encrypted segment
    // clear.
    let mut env = Env::new(Config::default());
    let set = load_set(
        &request("/avc_bframes.mp4/manifest").asset,
        &mut env.origin,
        &mut env.cache,
        &Config::default(),
    )
    .unwrap();
    let seg = request(
        "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl,encryption=cbc)",
    );
    assert_eq!(answer(&set, &seg).unwrap_err().status(), 501);
}

#[test]
fn encrypted_segments_have_their_own_etag_cache_key_and_ranges() {
    let mut env = Env::new(seeded());
    let clear_url = "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl)";
    let enc_url =
        "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl,encryption=cbc)";
    let clear = env.serve(clear_url).unwrap();
    let enc = env.serve(enc_url).unwrap();
    let (cs, es) = (
        crate::outputs::Stored::of(&clear),
        crate::outputs::Stored::of(&enc),
    );
    assert_ne!(cs.etag, es.etag);
    assert!(es.immutable);
    let cfg = env.cfg.clone();
    let ck = output_key(&mut env, clear_url, &cfg);
    let ek = output_key(&mut env, enc_url, &cfg);
    assert_ne!(ck, ek);
    // Another seed: another key id in the cache key and the ETag.
    let other = with_seed("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=");
    let ok = output_key(&mut env, enc_url, &other);
    assert_ne!(ok, ek);
    let mut env2 = Env::new(other);
    let enc2 = env2.serve(enc_url).unwrap();
    assert_ne!(crate::outputs::Stored::of(&enc2).etag, es.etag);
    // Ranges over the encrypted body are slices of the whole body.
    let Output::TsBuilt { segment, .. } = enc else {
        panic!()
    };
    let whole = segment.to_vec();
    assert_eq!(whole.len() as u64, segment.len());
    for (a, b) in [
        (0, 16),
        (5, 200),
        (100, whole.len() as u64 - 3),
        (whole.len() as u64 - 16, whole.len() as u64),
    ] {
        let mut part = Vec::new();
        crate::deliver::write_ts(&mut segment.clone(), a, b, &mut part).unwrap();
        assert_eq!(part[..], whole[a as usize..b as usize], "{a}..{b}");
    }
    // Streamed chunk by chunk, the same bytes.
    let streamed: Vec<u8> = segment.clone().flatten().collect();
    assert_eq!(streamed, whole);
}

#[test]
fn piff_output_keys_name_the_key_id_and_the_licence_server() {
    let mut env = Env::new(seeded());
    let kid = env
        .cfg
        .keys
        .source()
        .unwrap()
        .content_key(&crate::url::Asset::Mp4 {
            path: "avc_bframes.mp4".into(),
        })
        .kid_hex();
    let la = |u: Option<&str>| Config {
        playready_la_url: u.map(str::to_string),
        ..seeded()
    };
    let m = "/avc_bframes.mp4/manifest(encryption=piff)";
    let a = output_key(&mut env, m, &la(Some("https://a.example/pr")));
    let b = output_key(&mut env, m, &la(Some("https://b.example/pr")));
    let none = output_key(&mut env, m, &la(None));
    assert!(a.contains(&format!("/kid:{kid}")), "{a}");
    assert!(a.contains("/la:https://a.example/pr"), "{a}");
    assert_ne!(a, b);
    assert_ne!(a, none);
    assert_ne!(
        a,
        output_key(&mut env, "/avc_bframes.mp4/manifest", &seeded())
    );
    // A fragment (answered through the job, as at the edge) names the key
    // id too, and not the licence server, which is not in its bytes.
    let f = "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,encryption=piff)";
    let fa = output_key(&mut env, f, &la(Some("https://a.example/pr")));
    assert!(fa.contains(&format!("/kid:{kid}")), "{fa}");
    assert_eq!(fa, output_key(&mut env, f, &la(None)));
}
