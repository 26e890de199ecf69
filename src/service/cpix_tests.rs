//! `key_source = cpix` through the job: the CPIX document beside the
//! asset gives the key (key URL, licence, `tenc`) and the DRM signalling
//! of the MPD, the init segment and the HLS playlists; a missing, invalid
//! or unsupported document is a clear error; the output key names the
//! document's version.

use super::*;
use crate::crypto::KeySetting;
use crate::source::{FileOrigin, MemoryCache};
use crate::testutil::TempDir;
use crate::url::{parse, Route};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::path::{Path, PathBuf};

const KID: &str = "5b1a2c3d4e5f4a6b9c7d8e9f0a1b2c3d";
const KEY: &str = "3a7f1c9e5b2d4f6a8c0e1b3d5f7a9c2e";
const ASSET: &str = "/v/avc_bframes.mp4";

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A string field of `fixtures/cpix/pssh.json` (one field per line).
fn fixture_json(field: &str) -> String {
    let text = std::fs::read_to_string(repo("fixtures/cpix/pssh.json")).unwrap();
    let head = format!("\"{field}\": \"");
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&head))
        .unwrap();
    let v = line[head.len()..].trim_end_matches(',');
    v[..v.len() - 1].replace("\\\"", "\"")
}

/// An origin folder `v/` with the small AVC fixture and `cpix` (a
/// fixture's name) as its CPIX document, if any.
/// The folder goes when the returned guard is dropped.
fn origin(name: &str, cpix: Option<&str>) -> (FileOrigin, TempDir) {
    let dir = TempDir::new(&format!("cpix-{name}"));
    let v = dir.join("v");
    std::fs::create_dir_all(&v).unwrap();
    std::fs::copy(
        repo("fixtures/small/avc_bframes.mp4"),
        v.join("avc_bframes.mp4"),
    )
    .unwrap();
    if let Some(c) = cpix {
        std::fs::copy(
            repo(&format!("fixtures/cpix/{c}")),
            v.join("avc_bframes.cpix.xml"),
        )
        .unwrap();
    }
    (FileOrigin::new(dir.path()), dir)
}

fn cfg() -> Config {
    Config {
        segment_ms: 1000,
        keys: KeySetting::Cpix,
        ..Config::default()
    }
}

fn request(path: &str) -> StreamRequest {
    match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

struct Env {
    origin: FileOrigin,
    cache: MemoryCache,
    /// The origin folder, removed with the `Env`.
    _dir: TempDir,
}

impl Env {
    fn new(name: &str, cpix: Option<&str>) -> Env {
        let (origin, dir) = origin(name, cpix);
        Env {
            origin,
            cache: MemoryCache::default(),
            _dir: dir,
        }
    }

    fn serve(&mut self, path: &str) -> Result<Output, ServeError> {
        serve(&request(path), &mut self.origin, &mut self.cache, &cfg())
    }

    fn get(&mut self, path: &str) -> Vec<u8> {
        let out = self.serve(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let parts = materialize(&out, &mut self.origin, &cfg()).unwrap();
        parts.iter().flat_map(|b| b.iter().copied()).collect()
    }

    fn text(&mut self, path: &str) -> String {
        String::from_utf8(self.get(path)).unwrap()
    }

    fn cpix_reads(&self) -> usize {
        self.origin
            .log
            .iter()
            .filter(|r| r.path.ends_with(".cpix.xml"))
            .count()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_key_is_the_documents() {
    let mut env = Env::new("key", Some("abr.cpix.xml"));
    let key = env.get(&format!("{ASSET}/QualityLevels(1)/Key(encryption=cenc)"));
    assert_eq!(hex(&key), KEY);
    // Read once, then cached.
    let init = env.get(&format!(
        "{ASSET}/QualityLevels(1)/Fragments(video=i,format=mpd-time-cmaf,encryption=cenc)"
    ));
    assert_eq!(env.cpix_reads(), 1);
    let at = init.windows(4).position(|w| w == b"tenc").unwrap();
    assert_eq!(hex(&init[at + 12..at + 28]), KID);
    let body = format!(
        "{{\"kids\":[\"{}\"],\"type\":\"temporary\"}}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(crate::crypto::cpix::parse_uuid(KID).unwrap())
    );
    let job = crate::job::Job::new(request(&format!("{ASSET}/License(encryption=cenc)")), cfg())
        .with_body(bytes::Bytes::from(body));
    let Output::Key { body, .. } = crate::job::run(job, &mut env.origin, &mut env.cache).unwrap()
    else {
        panic!()
    };
    let jwk = String::from_utf8(body.to_vec()).unwrap();
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(crate::crypto::cpix::parse_uuid(KEY).unwrap());
    assert!(jwk.contains(&k), "{jwk}");
}

#[test]
fn the_init_segment_carries_every_systems_pssh() {
    let mut env = Env::new("init", Some("abr.cpix.xml"));
    let init = env.get(&format!(
        "{ASSET}/QualityLevels(1)/Fragments(video=i,format=mpd-time-cmaf,encryption=cbcs-aapl)"
    ));
    let wv = STANDARD.decode(fixture_json("widevine")).unwrap();
    let pr = STANDARD.decode(fixture_json("playready")).unwrap();
    let common = crate::mux::cenc::pssh_common(&crate::crypto::cpix::parse_uuid(KID).unwrap());
    let all = [common, wv, pr].concat();
    // In the moov, after mvex: the common one, then the document's order.
    let at = init.windows(all.len()).position(|w| w == &all[..]);
    assert!(at.is_some(), "the three pssh boxes in order");
    assert_eq!(
        at.unwrap() + all.len(),
        init.len(),
        "at the end of the moov"
    );
    let moov = init.windows(4).position(|w| w == b"moov").unwrap() - 4;
    let size = u32::from_be_bytes(init[moov..moov + 4].try_into().unwrap()) as usize;
    assert_eq!(moov + size, init.len(), "moov size covers them");
}

#[test]
fn the_mpd_signals_each_system() {
    let mut env = Env::new("mpd", Some("abr.cpix.xml"));
    let mpd = env.text(&format!(
        "{ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc)"
    ));
    let kid = crate::manifest::dash::uuid(&crate::crypto::cpix::parse_uuid(KID).unwrap());
    assert!(
        mpd.contains(&format!("cenc:default_KID=\"{kid}\"")),
        "{mpd}"
    );
    // ClearKey as before, first of the systems.
    let ck = mpd
        .find("urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e")
        .unwrap();
    let wv = mpd
        .find("urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed")
        .unwrap();
    let pr = mpd
        .find("urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95")
        .unwrap();
    assert!(ck < wv && wv < pr, "{mpd}");
    assert!(mpd.contains(&format!(
        "<cenc:pssh>{}</cenc:pssh>",
        fixture_json("widevine")
    )));
    // PlayReady: its ContentProtectionData verbatim inside the element.
    let pro = fixture_json("playreadyPro");
    assert!(
        mpd.contains(&format!(
            "<mspr:pro xmlns:mspr=\"urn:microsoft:playready\">{pro}</mspr:pro>"
        )),
        "{mpd}"
    );
    // FairPlay is HLS only.
    assert!(!mpd.contains("94ce86fb"), "{mpd}");
    // Still well-formed.
    let mut r = quick_xml::Reader::from_str(&mpd);
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("{e}: {mpd}"),
        }
    }
}

#[test]
fn hls_has_session_keys_and_the_systems_lines() {
    let mut env = Env::new("hls", Some("abr.cpix.xml"));
    let master = env.text(&format!(
        "{ASSET}/manifest(format=m3u8-cmaf,encryption=cbcs-aapl)"
    ));
    let session: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-SESSION-KEY:"))
        .collect();
    assert_eq!(session.len(), 2, "{master}");
    assert!(
        session[0].starts_with("#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"QualityLevels(")
            && session[0].ends_with("/Key(encryption=cbcs-aapl)\",KEYFORMAT=\"identity\""),
        "{master}"
    );
    assert_eq!(session[1], fixture_json("fairplayMaster"));
    let pl_uri = master
        .lines()
        .find(|l| l.starts_with("QualityLevels("))
        .unwrap();
    let pl = env.text(&format!("{ASSET}/{pl_uri}"));
    let keys: Vec<&str> = pl
        .lines()
        .filter(|l| l.starts_with("#EXT-X-KEY:"))
        .collect();
    assert_eq!(keys.len(), 2, "{pl}");
    assert!(keys[0].contains("KEYFORMAT=\"identity\""));
    assert_eq!(keys[1], fixture_json("fairplayMedia"));
    // The session key's URI resolves to the media playlists' key URI.
    let uri = session[0].split('"').nth(1).unwrap();
    assert_eq!(hex(&env.get(&format!("{ASSET}/{uri}"))), KEY);
    // With cenc (SAMPLE-AES-CTR), FairPlay's SAMPLE-AES lines are left out.
    let master = env.text(&format!(
        "{ASSET}/manifest(format=m3u8-cmaf,encryption=cenc)"
    ));
    assert!(
        master.contains("#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES-CTR,"),
        "{master}"
    );
    assert!(!master.contains("skd://"), "{master}");
}

#[test]
fn missing_invalid_and_unsupported_documents() {
    let mpd = format!("{ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc)");
    let mut env = Env::new("missing", None);
    let e = env.serve(&mpd).unwrap_err();
    assert_eq!(e.status(), 404);
    assert_eq!(
        e.to_string(),
        "CPIX document v/avc_bframes.cpix.xml not found at origin"
    );
    // The clear title does not need it.
    env.get(&format!("{ASSET}/manifest(format=mpd-time-cmaf)"));
    let mut env = Env::new("invalid", Some("invalid.cpix.xml"));
    let e = env.serve(&mpd).unwrap_err();
    assert_eq!(e.status(), 502);
    assert!(
        e.to_string()
            .starts_with("CPIX document v/avc_bframes.cpix.xml: a ContentKey's PlainValue"),
        "{e}"
    );
    // Not cached: read again (it may have been fixed).
    let _ = env.serve(&mpd);
    assert_eq!(env.cpix_reads(), 2);
    let mut env = Env::new("encrypted", Some("encrypted.cpix.xml"));
    let e = env
        .serve(&format!("{ASSET}/QualityLevels(1)/Key(encryption=cbc)"))
        .unwrap_err();
    assert_eq!(e.status(), 501);
    assert!(e.to_string().contains("EncryptedValue"), "{e}");
    assert!(!e.to_string().contains(KEY));
}

#[test]
fn the_output_key_names_the_documents_version() {
    use crate::job::{Job, Step};
    let url = format!("{ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc)");
    let key_of = |env: &mut Env| {
        let mut job = Job::new(request(&url), cfg());
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
    };
    let mut env = Env::new("okey", Some("abr.cpix.xml"));
    let first = key_of(&mut env);
    let fixture = std::fs::read(repo("fixtures/cpix/abr.cpix.xml")).unwrap();
    assert!(
        first.contains(&format!("/cpix:{}", crate::http::etag::of_body(&fixture))),
        "{first}"
    );
    // Warm, before any read: the same key.
    let mut job = Job::new(request(&url), cfg());
    assert_eq!(
        job.output_key(&mut env.cache).as_deref(),
        Some(first.as_str())
    );
    // A replaced document (once its cached copy is gone): another key.
    let other = String::from_utf8(fixture)
        .unwrap()
        .replace("contentId=\"abr\"", "contentId=\"x\"");
    std::fs::write(env.origin.root.join("v/avc_bframes.cpix.xml"), other).unwrap();
    env.cache = MemoryCache::default();
    assert_ne!(key_of(&mut env), first);
}
