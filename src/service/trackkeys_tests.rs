//! A key per track type (issue 14) through the job: a CPIX document with
//! an audio key and SD/HD video keys (`fixtures/cpix/trackkeys.cpix.xml`)
//! beside a muxed asset gives its audio and video tracks their own keys in
//! init segments, media segments, the MPD (one AdaptationSet per key), the
//! HLS key tags (the key URL names the key) and the licence; outputs that
//! cannot carry two keys are 501, a track no rule covers is 501.

use super::*;
use crate::crypto::KeySetting;
use crate::source::{FileOrigin, MemoryCache};
use crate::testutil::TempDir;
use crate::url::{parse, Route};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::path::{Path, PathBuf};

const AUDIO: &str = "a0a1a2a3b4b54c6c8d7de8e9f0f1f2f3";
const AUDIO_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const SD: &str = "5d5d5d5d111142228333444455556666";
const SD_KEY: &str = "11223344556677889900aabbccddeeff";
const HD: &str = "4d4d4d4d777748889999aaaabbbbcccc";
const HD_KEY: &str = "ffeeddccbbaa00998877665544332211";
const ASSET: &str = "/t/muxed_moov_end.mp4";

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn key16(hex: &str) -> [u8; 16] {
    crate::crypto::cpix::parse_uuid(hex).unwrap()
}

/// An origin folder `t/` with the muxed fixture and `cpix` beside it.
/// The folder goes when the returned guard is dropped.
fn origin(name: &str, cpix: &str) -> (FileOrigin, TempDir) {
    let dir = TempDir::new(&format!("trackkeys-{name}"));
    let t = dir.join("t");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::copy(
        repo("fixtures/small/muxed_moov_end.mp4"),
        t.join("muxed_moov_end.mp4"),
    )
    .unwrap();
    std::fs::write(t.join("muxed_moov_end.cpix.xml"), cpix).unwrap();
    (FileOrigin::new(dir.path()), dir)
}

fn cfg() -> Config {
    Config {
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
    fn new(name: &str) -> Env {
        Env::with(
            name,
            &std::fs::read_to_string(repo("fixtures/cpix/trackkeys.cpix.xml")).unwrap(),
        )
    }

    fn with(name: &str, cpix: &str) -> Env {
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

    fn status(&mut self, path: &str) -> u16 {
        match self.serve(path) {
            Ok(out) => match materialize(&out, &mut self.origin, &cfg()) {
                Ok(_) => 200,
                Err(e) => e.status(),
            },
            Err(e) => e.status(),
        }
    }

    fn licence(&mut self, kids: &[&str]) -> Result<String, ServeError> {
        let list: Vec<String> = kids
            .iter()
            .map(|k| format!("\"{}\"", URL_SAFE_NO_PAD.encode(key16(k))))
            .collect();
        let body = format!("{{\"kids\":[{}],\"type\":\"temporary\"}}", list.join(","));
        let job =
            crate::job::Job::new(request(&format!("{ASSET}/License(encryption=cenc)")), cfg())
                .with_body(bytes::Bytes::from(body));
        match crate::job::run(job, &mut self.origin, &mut self.cache)? {
            Output::Key { body, .. } => Ok(String::from_utf8(body.to_vec()).unwrap()),
            o => panic!("{o:?}"),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn tenc_kid(init: &[u8]) -> String {
    let at = init.windows(4).position(|w| w == b"tenc").unwrap();
    hex(&init[at + 12..at + 28])
}

/// The video key id of the fixture's video (SD or HD by its size).
fn video_kid(env: &mut Env) -> &'static str {
    let init = env.get(&format!(
        "{ASSET}/QualityLevels(1)/Fragments(video=i,format=mpd-time-cmaf,encryption=cenc)"
    ));
    let kid = tenc_kid(&init);
    assert!(kid == SD || kid == HD, "{kid}");
    if kid == SD {
        SD
    } else {
        HD
    }
}

#[test]
fn audio_and_video_init_segments_name_their_own_keys() {
    let mut env = Env::new("init");
    for scheme in ["cenc", "cbcs-aapl"] {
        let a = env.get(&format!(
            "{ASSET}/QualityLevels(1)/Fragments(audio=i,format=mpd-time-cmaf,encryption={scheme})"
        ));
        assert_eq!(tenc_kid(&a), AUDIO, "{scheme}");
    }
    assert_ne!(video_kid(&mut env), AUDIO);
}

#[test]
fn each_track_is_encrypted_with_its_key() {
    use super::cenc::tests::{clear_payload, decrypt_segment};
    let mut env = Env::new("segments");
    let video = video_kid(&mut env);
    let video_key = if video == SD { SD_KEY } else { HD_KEY };
    for (track, key, other) in [
        ("audio", AUDIO_KEY, video_key),
        ("video", video_key, AUDIO_KEY),
    ] {
        let enc = env.get(&format!(
            "{ASSET}/QualityLevels(1)/Fragments({track}=0,format=mpd-time-cmaf,encryption=cenc)"
        ));
        let clear = env.get(&format!(
            "{ASSET}/QualityLevels(1)/Fragments({track}=0,format=mpd-time-cmaf)"
        ));
        let want = clear_payload(&clear);
        assert_eq!(decrypt_segment(&enc, &key16(key)).0, want, "{track}");
        assert_ne!(decrypt_segment(&enc, &key16(other)).0, want, "{track}");
    }
}

#[test]
fn the_mpd_has_one_adaptation_set_per_key_with_its_signalling() {
    let mut env = Env::new("mpd");
    let video = video_kid(&mut env);
    let mpd = env.text(&format!(
        "{ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc)"
    ));
    let uuid = |k: &str| crate::manifest::dash::uuid(&key16(k));
    let sets: Vec<&str> = mpd.split("<AdaptationSet").skip(1).collect();
    assert_eq!(sets.len(), 2, "{mpd}");
    for s in &sets {
        let kid = if s.contains("contentType=\"audio\"") {
            AUDIO
        } else {
            video
        };
        // Every default_KID of the set (the scheme's, and any a system
        // repeats) is its key's.
        for v in s.split("cenc:default_KID=\"").skip(1) {
            assert_eq!(&v[..36], uuid(kid), "{s}");
        }
        assert!(
            s.contains(&format!("cenc:default_KID=\"{}\"", uuid(kid))),
            "{s}"
        );
        // The set's Widevine pssh is its key's (the fixture's pssh data
        // is the key id after 0x12 0x10).
        let wv = s
            .split("urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed")
            .nth(1)
            .unwrap();
        let b64 = wv.split("<cenc:pssh>").nth(1).unwrap();
        let pssh = base64::engine::general_purpose::STANDARD
            .decode(b64.split('<').next().unwrap())
            .unwrap();
        assert_eq!(hex(&pssh[pssh.len() - 16..]), kid, "{s}");
        assert_eq!(s.matches("urn:uuid:edef8ba9").count(), 1, "{s}");
    }
}

#[test]
fn hls_key_tags_name_each_tracks_key() {
    let mut env = Env::new("hls");
    let video = video_kid(&mut env);
    let master = env.text(&format!(
        "{ASSET}/manifest(format=m3u8-cmaf,encryption=cbcs-aapl)"
    ));
    let session: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-SESSION-KEY:"))
        .collect();
    assert_eq!(session.len(), 2, "{master}");
    for kid in [video, AUDIO] {
        assert!(
            session
                .iter()
                .any(|l| l.contains(&format!("/Key(encryption=cbcs-aapl,kid={kid})\""))),
            "{master}"
        );
    }
    for (track, kid) in [("audio", AUDIO), ("video", video)] {
        let p = env.text(&format!(
            "{ASSET}/QualityLevels(1)/Manifest({track},format=m3u8-cmaf,encryption=cbcs-aapl)"
        ));
        let keys: Vec<&str> = p.lines().filter(|l| l.starts_with("#EXT-X-KEY:")).collect();
        assert_eq!(keys.len(), 1, "{p}");
        assert!(
            keys[0].contains(&format!("URI=\"Key(encryption=cbcs-aapl,kid={kid})\"")),
            "{p}"
        );
    }
}

#[test]
fn key_urls_name_the_key_and_the_licence_answers_every_key_asked() {
    let mut env = Env::new("keys");
    for (kid, key) in [(AUDIO, AUDIO_KEY), (SD, SD_KEY), (HD, HD_KEY)] {
        let got = env.get(&format!(
            "{ASSET}/QualityLevels(1)/Key(encryption=cenc,kid={kid})"
        ));
        assert_eq!(hex(&got), key);
    }
    // Which key, if the URL does not say: 400; a kid of no key: 404.
    assert_eq!(
        env.status(&format!("{ASSET}/QualityLevels(1)/Key(encryption=cenc)")),
        400
    );
    assert_eq!(
        env.status(&format!(
            "{ASSET}/QualityLevels(1)/Key(encryption=cenc,kid={})",
            "0".repeat(32)
        )),
        404
    );
    let jwk = env
        .licence(&[AUDIO, HD, "00000000000000000000000000000001"])
        .unwrap();
    for (kid, key) in [(AUDIO, AUDIO_KEY), (HD, HD_KEY)] {
        assert!(jwk.contains(&URL_SAFE_NO_PAD.encode(key16(kid))), "{jwk}");
        assert!(jwk.contains(&URL_SAFE_NO_PAD.encode(key16(key))), "{jwk}");
    }
    assert!(
        !jwk.contains(&URL_SAFE_NO_PAD.encode(key16(SD_KEY))),
        "{jwk}"
    );
    let e = env
        .licence(&["00000000000000000000000000000001"])
        .unwrap_err();
    assert_eq!(e.status(), 403);
}

#[test]
fn outputs_with_one_key_for_all_tracks_are_501() {
    let mut env = Env::new("refused");
    assert_eq!(
        env.status(&format!("{ASSET}/manifest(encryption=piff)")),
        501
    );
    // m3u8-aapl-v3 muxes audio into the video segments: one key only.
    assert_eq!(
        env.status(&format!(
            "{ASSET}/manifest(format=m3u8-aapl-v3,encryption=cbc)"
        )),
        501
    );
    assert_eq!(
        env.status(&format!(
            "{ASSET}/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl-v3,encryption=cbc)"
        )),
        501
    );
}

/// AES-128-CBC with PKCS#7 (RFC 8216 §4.3.2.4), `None` when the padding
/// is not (a wrong key).
fn cbc_decrypt(data: &[u8], key: &[u8; 16], iv: &[u8; 16]) -> Option<Vec<u8>> {
    use ::cbc::cipher::block_padding::Pkcs7;
    use ::cbc::cipher::{BlockDecryptMut, KeyIvInit};
    let mut buf = data.to_vec();
    ::cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .ok()
        .map(<[u8]>::to_vec)
}

/// `m3u8-aapl` (one track per media playlist): each playlist's AES-128
/// key URL names its track's key, and its TS segments decrypt with it.
#[test]
fn ts_aes128_segments_take_their_tracks_key() {
    let mut env = Env::new("ts");
    let video = video_kid(&mut env);
    let video_key = if video == SD { SD_KEY } else { HD_KEY };
    let master = env.text(&format!(
        "{ASSET}/manifest(format=m3u8-aapl,encryption=cbc)"
    ));
    let session: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-SESSION-KEY:METHOD=AES-128"))
        .collect();
    assert_eq!(session.len(), 2, "{master}");
    for (track, kid, key, other) in [
        ("audio", AUDIO, AUDIO_KEY, video_key),
        ("video", video, video_key, AUDIO_KEY),
    ] {
        let p = env.text(&format!(
            "{ASSET}/QualityLevels(1)/Manifest({track},format=m3u8-aapl,encryption=cbc)"
        ));
        assert!(
            p.contains(&format!(
                "#EXT-X-KEY:METHOD=AES-128,URI=\"Key(encryption=cbc,kid={kid})\""
            )),
            "{p}"
        );
        let enc = env.get(&format!(
            "{ASSET}/QualityLevels(1)/Fragments({track}=0,format=m3u8-aapl,encryption=cbc)"
        ));
        let clear = env.get(&format!(
            "{ASSET}/QualityLevels(1)/Fragments({track}=0,format=m3u8-aapl)"
        ));
        let iv = crate::crypto::sequence_iv(0);
        assert_eq!(
            cbc_decrypt(&enc, &key16(key), &iv).as_deref(),
            Some(&clear[..]),
            "{track}"
        );
        assert_ne!(
            cbc_decrypt(&enc, &key16(other), &iv).as_deref(),
            Some(&clear[..]),
            "{track}"
        );
    }
}

#[test]
fn a_track_no_rule_covers_is_501_never_clear() {
    let doc = std::fs::read_to_string(repo("fixtures/cpix/trackkeys.cpix.xml")).unwrap();
    // Only the audio rule and a video rule for 8K: the video has no key.
    let only_audio = doc
        .replace(
            r#"<cpix:VideoFilter maxPixels="589824"/>"#,
            r#"<cpix:VideoFilter minPixels="33000000"/>"#,
        )
        .replace(
            r#"<cpix:VideoFilter minPixels="589825"/>"#,
            r#"<cpix:VideoFilter minPixels="34000000"/>"#,
        );
    let mut env = Env::with("norule", &only_audio);
    for path in [
        format!("{ASSET}/QualityLevels(1)/Fragments(video=i,format=mpd-time-cmaf,encryption=cenc)"),
        format!("{ASSET}/QualityLevels(1)/Fragments(video=0,format=mpd-time-cmaf,encryption=cenc)"),
        format!("{ASSET}/manifest(format=mpd-time-cmaf,encryption=cenc)"),
        format!("{ASSET}/manifest(format=m3u8-cmaf,encryption=cenc)"),
    ] {
        let e = env.serve(&path).unwrap_err();
        assert_eq!(e.status(), 501, "{path}: {e}");
        assert!(
            e.to_string().contains("matches no ContentKeyUsageRule"),
            "{e}"
        );
    }
    // The audio still has its key.
    let a = env.get(&format!(
        "{ASSET}/QualityLevels(1)/Fragments(audio=i,format=mpd-time-cmaf,encryption=cenc)"
    ));
    assert_eq!(tenc_kid(&a), AUDIO);
    // Overlapping rules of two keys: an invalid document, 502.
    let overlap = doc.replace(r#"minPixels="589825""#, r#"minPixels="1""#);
    let mut env = Env::with("overlap", &overlap);
    let e = env
        .serve(&format!(
            "{ASSET}/QualityLevels(1)/Fragments(video=i,format=mpd-time-cmaf,encryption=cenc)"
        ))
        .unwrap_err();
    assert_eq!(e.status(), 502, "{e}");
}

#[test]
fn a_one_key_document_keeps_piff_and_its_key_url() {
    let one = std::fs::read_to_string(repo("fixtures/cpix/abr.cpix.xml")).unwrap();
    let mut env = Env::with("onekey", &one);
    // PIFF Smooth with a CPIX key (the job reads the document first).
    let m = env.text(&format!("{ASSET}/manifest(encryption=piff)"));
    assert!(m.contains("<ProtectionHeader"), "{m}");
    let p = env.text(&format!(
        "{ASSET}/QualityLevels(1)/Manifest(video,format=m3u8-cmaf,encryption=cenc)"
    ));
    assert!(p.contains("URI=\"Key(encryption=cenc)\""), "{p}");
    let key = env.get(&format!("{ASSET}/QualityLevels(1)/Key(encryption=cenc)"));
    assert_eq!(hex(&key), "3a7f1c9e5b2d4f6a8c0e1b3d5f7a9c2e");
}

/// A key provider asked for a key per track type (`key_provider_track_keys
/// = audio-sd-hd`) that answers every key asked, echoing no rules.
struct Provider {
    files: FileOrigin,
    asked: Vec<String>,
}

impl crate::source::Origin for Provider {
    fn read(
        &mut self,
        reqs: &[crate::source::ReadRequest],
    ) -> Vec<Result<crate::source::ReadResponse, crate::source::OriginError>> {
        use crate::source::ReadTarget;
        reqs.iter()
            .map(|r| match &r.target {
                ReadTarget::Origin => self.files.read(std::slice::from_ref(r)).remove(0),
                ReadTarget::KeyProvider { body, .. } => {
                    let doc = String::from_utf8(body.to_vec()).unwrap();
                    self.asked.push(doc.clone());
                    // Each key is its id reversed; the rules are dropped.
                    let mut answer = String::new();
                    for part in doc.split("<cpix:ContentKey kid=\"").skip(1) {
                        let kid = &part[..36];
                        let mut key = key16(&kid.replace('-', ""));
                        key.reverse();
                        answer.push_str(&format!(
                            r#"<cpix:ContentKey kid="{kid}"><cpix:Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>"#,
                            base64::engine::general_purpose::STANDARD.encode(key)
                        ));
                    }
                    let answer = format!(
                        r#"<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"><cpix:ContentKeyList>{answer}</cpix:ContentKeyList></cpix:CPIX>"#
                    );
                    crate::source::keyprovider::answer(r, 200, answer.as_bytes())
                }
            })
            .collect()
    }
}

#[test]
fn a_key_provider_is_asked_for_a_key_per_track_type() {
    use crate::crypto::provider::TrackKeyPreset;
    let get = |k: &str| match k {
        "key_provider_url" => Some("http://keys.example/speke/v2.0".to_string()),
        "key_provider_track_keys" => Some("audio-sd-hd".to_string()),
        _ => None,
    };
    let Some(KeySetting::Provider(p)) = KeySetting::configured(Some("provider"), get) else {
        panic!()
    };
    assert_eq!(p.track_keys, TrackKeyPreset::AudioSdHd);
    let cfg = Config {
        keys: KeySetting::Provider(p.clone()),
        ..Config::default()
    };
    let (files, _dir) = origin("provider", "<unused/>");
    let mut origin = Provider {
        files,
        asked: Vec::new(),
    };
    let mut cache = MemoryCache::default();
    let init = |track: &str, origin: &mut Provider, cache: &mut MemoryCache| {
        let path = format!(
            "{ASSET}/QualityLevels(1)/Fragments({track}=i,format=mpd-time-cmaf,encryption=cenc)"
        );
        let out = serve(&request(&path), origin, cache, &cfg).unwrap();
        let parts = materialize(&out, origin, &cfg).unwrap();
        tenc_kid(&parts.concat())
    };
    let (kids, rules) = p.requested("cenc", &request(&format!("{ASSET}/manifest")).asset);
    let audio = init("audio", &mut origin, &mut cache);
    let video = init("video", &mut origin, &mut cache);
    assert_eq!(audio, hex(&kids[0]));
    assert!(video == hex(&kids[1]) || video == hex(&kids[2]), "{video}");
    assert_eq!(rules[0].intended_track_type.as_deref(), Some("AUDIO"));
    // Asked once (then cached), with the three keys and their rules.
    assert_eq!(origin.asked.len(), 1);
    let doc = &origin.asked[0];
    assert_eq!(doc.matches("<cpix:ContentKey kid=").count(), 3, "{doc}");
    for t in ["AUDIO", "SD", "HD"] {
        assert!(doc.contains(&format!("intendedTrackType=\"{t}\"")), "{doc}");
    }
    // A bad setting is a configuration error naming the values.
    let bad = |k: &str| match k {
        "key_provider_url" => Some("http://keys.example/".to_string()),
        "key_provider_track_keys" => Some("uhd".to_string()),
        _ => None,
    };
    assert!(matches!(
        KeySetting::configured(Some("provider"), bad),
        Some(KeySetting::Misconfigured(why)) if why.contains("audio-sd-hd")
    ));
}
