//! `encryption=piff` through the service: the Smooth manifests carry the
//! PlayReady `ProtectionHeader` of the asset's key id and are otherwise
//! the clear ones (fragment URLs aside); every audio and video fragment,
//! decrypted with AES-128-CTR (the `ctr` crate, directly) under the IVs and
//! subsamples of its PIFF SampleEncryptionBox, is the clear fragment's
//! payload bit for bit, and its `saiz`/`saio` point at the same entries.

use crate::crypto::playready;
use crate::crypto::KeySetting;
use crate::service::{materialize, serve, Config, Output};
use crate::source::{FileOrigin, MemoryCache};
use crate::url::{parse, Route, StreamRequest};
use aes::Aes128;
use base64::Engine;
use ctr::cipher::{KeyIvInit, StreamCipher};
use std::path::Path;

const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const LA_URL: &str = "https://pr.example.com/rightsmanager.asmx?cfg=a&b=1";

fn cfg() -> Config {
    Config {
        segment_ms: 1000,
        keys: KeySetting::from_secret(|_| Some(SEED.to_string())),
        playready_la_url: Some(LA_URL.to_string()),
        ..Config::default()
    }
}

fn request(path: &str) -> StreamRequest {
    match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

fn get_with(path: &str, cfg: &Config) -> Result<Vec<u8>, (u16, String)> {
    let mut origin = FileOrigin::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small"));
    let mut cache = MemoryCache::default();
    let err = |e: crate::service::ServeError| (e.status(), e.to_string());
    let out: Output = serve(&request(path), &mut origin, &mut cache, cfg).map_err(err)?;
    let parts = materialize(&out, &mut origin, cfg).map_err(err)?;
    Ok(parts.iter().flat_map(|b| b.iter().copied()).collect())
}

fn get(path: &str) -> Vec<u8> {
    get_with(path, &cfg()).unwrap_or_else(|e| panic!("{path}: {e:?}"))
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(d[at..at + 4].try_into().unwrap())
}

/// Boxes of `data` from `from`: (type, start, end), absolute offsets.
fn boxes(data: &[u8], from: usize, to: usize) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = from;
    while at + 8 <= to {
        let size = u32_at(data, at) as usize;
        out.push((data[at + 4..at + 8].try_into().unwrap(), at, at + size));
        at += size;
    }
    out
}

fn find(data: &[u8], from: usize, to: usize, typ: &[u8; 4]) -> Vec<(usize, usize)> {
    boxes(data, from, to)
        .into_iter()
        .filter(|b| &b.0 == typ)
        .map(|b| (b.1, b.2))
        .collect()
}

/// The `traf` of a fragment's `moof` (and the `moof`'s start).
fn traf(frag: &[u8]) -> (usize, usize, usize) {
    let (moof, moof_end) = find(frag, 0, frag.len(), b"moof")[0];
    let (t, e) = find(frag, moof + 8, moof_end, b"traf")[0];
    (moof, t, e)
}

/// `trun` sample sizes and data offset.
fn trun(frag: &[u8]) -> (Vec<usize>, usize) {
    let (_, t, e) = traf(frag);
    let (r, _) = find(frag, t + 8, e, b"trun")[0];
    let flags = u32_at(frag, r + 8) & 0xff_ffff;
    let count = u32_at(frag, r + 12) as usize;
    let per = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|f| flags & **f != 0)
        .count()
        * 4;
    let first = r + 20 + if flags & 4 != 0 { 4 } else { 0 };
    let size_at = if flags & 0x100 != 0 { 4 } else { 0 };
    let sizes = (0..count)
        .map(|i| u32_at(frag, first + i * per + size_at) as usize)
        .collect();
    (sizes, u32_at(frag, r + 16) as usize)
}

fn mdat(frag: &[u8]) -> &[u8] {
    let (s, e) = find(frag, 0, frag.len(), b"mdat")[0];
    &frag[s + 8..e]
}

/// The fragment's payload decrypted per its PIFF SampleEncryptionBox
/// (`ctr` crate: 8-byte IV, 64-bit big-endian block counter from 0, the
/// protected ranges of a sample as one stream), after checking the box's
/// layout and that `saio`/`saiz` point at its entries.
fn decrypt(frag: &[u8], key: &[u8; 16]) -> Vec<u8> {
    type Ctr = ctr::Ctr64BE<Aes128>;
    let (moof, t, e) = traf(frag);
    let uuids: Vec<(usize, usize)> = find(frag, t + 8, e, b"uuid")
        .into_iter()
        .filter(|(s, _)| frag[s + 8..s + 24] == crate::mux::piff::SAMPLE_ENCRYPTION_UUID)
        .collect();
    assert_eq!(uuids.len(), 1, "one PIFF SampleEncryptionBox");
    assert!(find(frag, t + 8, e, b"senc").is_empty(), "no CENC senc");
    let (u, u_end) = uuids[0];
    let flags = u32_at(frag, u + 24);
    assert_eq!(flags >> 24, 0, "version 0");
    assert_eq!(flags & 1, 0, "no override of the track defaults");
    let subsamples = flags & 2 != 0;
    let (sizes, data_offset) = trun(frag);
    assert_eq!(u32_at(frag, u + 28) as usize, sizes.len(), "sample_count");
    let (saio, _) = find(frag, t + 8, e, b"saio")[0];
    assert_eq!(u32_at(frag, saio + 12), 1);
    assert_eq!(
        moof + u32_at(frag, saio + 16) as usize,
        u + 32,
        "saio at the entries"
    );
    let (saiz, _) = find(frag, t + 8, e, b"saiz")[0];
    assert_eq!(u32_at(frag, saiz + 13) as usize, sizes.len());
    let mut payload = frag[moof + data_offset..].to_vec();
    assert_eq!(payload, mdat(frag));
    let (mut at, mut p) = (u + 32, 0);
    for (i, size) in sizes.iter().enumerate() {
        let start = at;
        let mut counter = [0u8; 16];
        counter[..8].copy_from_slice(&frag[at..at + 8]);
        at += 8;
        let mut cipher = Ctr::new(key.into(), (&counter).into());
        let sample = &mut payload[p..p + size];
        if subsamples {
            let n = u16::from_be_bytes([frag[at], frag[at + 1]]) as usize;
            at += 2;
            let mut s = 0;
            for _ in 0..n {
                let clear = u16::from_be_bytes([frag[at], frag[at + 1]]) as usize;
                let protected = u32_at(frag, at + 2) as usize;
                at += 6;
                s += clear;
                cipher.apply_keystream(&mut sample[s..s + protected]);
                s += protected;
            }
            assert_eq!(s, *size, "subsamples cover sample {i}");
        } else {
            cipher.apply_keystream(sample);
        }
        let default = frag[saiz + 12] as usize;
        let info = if default == 0 {
            frag[saiz + 17 + i] as usize
        } else {
            default
        };
        assert_eq!(at - start, info, "saiz of sample {i}");
        p += size;
    }
    assert_eq!(at, u_end, "the entries fill the box");
    assert_eq!(p, payload.len());
    payload
}

fn key_of(asset: &str) -> crate::crypto::ContentKey {
    cfg()
        .keys
        .source()
        .unwrap()
        .content_key(&request(&format!("/{asset}/manifest")).asset)
}

/// `attr="value"` in `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    tag.split(&format!(" {name}=\""))
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
}

/// Every fragment URL of a Smooth 2.0 manifest (every `<c>` has `d`).
fn fragment_urls(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    for si in manifest.split("<StreamIndex").skip(1) {
        let head = si.split('>').next().unwrap();
        if attr(head, "Type") == "text" {
            continue;
        }
        let url = attr(head, "Url");
        let mut times = Vec::new();
        let mut t = 0u64;
        for c in si.split("<c ").skip(1) {
            let c = c.split("/>").next().unwrap();
            if c.contains(" t=\"") || c.starts_with("t=\"") {
                t = c
                    .split("t=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
            }
            times.push(t);
            t += attr(&format!(" {c}"), "d").parse::<u64>().unwrap();
        }
        for q in si.split("<QualityLevel").skip(1) {
            let br = attr(q.split('>').next().unwrap(), "Bitrate");
            for t in &times {
                out.push(
                    url.replace("{bitrate}", br)
                        .replace("{start time}", &t.to_string()),
                );
            }
        }
    }
    out
}

/// The PlayReady Header Object of a manifest, checked against `kid`.
fn check_protection(manifest: &str, kid: &[u8; 16], la_url: Option<&str>) {
    let p = manifest.find("<Protection>").expect("a Protection element");
    assert!(
        p < manifest.find("<StreamIndex").unwrap(),
        "Protection first"
    );
    let header = manifest[p..].split("<ProtectionHeader").nth(1).unwrap();
    assert_eq!(attr(header, "SystemID"), playready::SYSTEM_ID_GUID);
    let b64 = header.split('>').nth(1).unwrap().split('<').next().unwrap();
    let pro = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(pro, playready::header_object(kid, la_url));
    let units: Vec<u16> = pro[10..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let xml = String::from_utf16(&units).unwrap();
    let kid_b64 = xml
        .split("<KID>")
        .nth(1)
        .unwrap()
        .split("</KID>")
        .next()
        .unwrap();
    let guid = base64::engine::general_purpose::STANDARD
        .decode(kid_b64)
        .unwrap();
    assert_eq!(
        playready::guid_bytes(guid.as_slice().try_into().unwrap()),
        *kid
    );
    assert!(xml.contains("<ALGID>AESCTR</ALGID>"));
    match la_url {
        Some(u) => assert!(xml.contains(&format!("<LA_URL>{}</LA_URL>", u.replace('&', "&amp;")))),
        None => assert!(!xml.contains("LA_URL")),
    }
}

#[test]
fn smooth_manifests_carry_the_playready_header() {
    for asset in ["avc_bframes.mp4", "mixed_audio.mp4"] {
        let kid = key_of(asset).kid;
        for (opts, clear_opts) in [
            ("encryption=piff", ""),
            ("format=fmp4-v20,encryption=piff", "format=fmp4-v20"),
        ] {
            let m = String::from_utf8(get(&format!("/{asset}/manifest({opts})"))).unwrap();
            check_protection(&m, &kid, Some(LA_URL));
            let clear_path = if clear_opts.is_empty() {
                format!("/{asset}/manifest")
            } else {
                format!("/{asset}/manifest({clear_opts})")
            };
            let clear = String::from_utf8(get(&clear_path)).unwrap();
            // Otherwise the clear manifest, the fragment URLs asking for piff.
            let start = m.find(" <Protection>").unwrap();
            let end = m.find("</Protection>").unwrap() + "</Protection>\n".len();
            let stripped = format!("{}{}", &m[..start], &m[end..]).replace(",encryption=piff", "");
            assert_eq!(stripped, clear, "{asset} {opts}");
            assert!(m.contains(",encryption=piff)\""), "{m}");
        }
    }
    // No licence server configured: no LA_URL.
    let no_la = Config {
        playready_la_url: None,
        ..cfg()
    };
    let m = get_with("/avc_bframes.mp4/manifest(encryption=piff)", &no_la).unwrap();
    check_protection(
        std::str::from_utf8(&m).unwrap(),
        &key_of("avc_bframes.mp4").kid,
        None,
    );
}

#[test]
fn every_fragment_decrypts_to_the_clear_one() {
    let (mut video, mut audio) = (0, 0);
    for asset in ["avc_bframes.mp4", "mixed_audio.mp4"] {
        let key = key_of(asset).key;
        let m = String::from_utf8(get(&format!(
            "/{asset}/manifest(format=fmp4-v20,encryption=piff)"
        )))
        .unwrap();
        let urls = fragment_urls(&m);
        assert!(urls.len() >= 4, "{urls:?}");
        for u in &urls {
            assert!(u.contains(",encryption=piff)"), "{u}");
            let enc = get(&format!("/{asset}/{u}"));
            let clear = get(&format!("/{asset}/{}", u.replace(",encryption=piff", "")));
            assert_ne!(mdat(&enc), mdat(&clear), "{u}: encrypted");
            assert_eq!(trun(&enc).0, trun(&clear).0, "{u}: the same samples");
            assert_eq!(decrypt(&enc, &key), mdat(&clear), "{u}");
            // The clear fragment's tfxd is kept.
            let tfxd = crate::mux::smooth::TFXD_UUID;
            assert!(enc.windows(16).any(|w| w == tfxd));
            let (_, t, e) = traf(&enc);
            let flags = find(&enc, t + 8, e, b"uuid")
                .into_iter()
                .map(|(s, _)| (enc[s + 8..s + 24].to_vec(), u32_at(&enc, s + 24)))
                .find(|(u, _)| *u == crate::mux::piff::SAMPLE_ENCRYPTION_UUID)
                .unwrap()
                .1;
            if flags & 2 != 0 {
                video += 1;
            } else {
                audio += 1;
            }
        }
    }
    assert!(video >= 4 && audio >= 2, "{video} video, {audio} audio");
}

/// The same key and IVs (track, segment, sample) as the `cenc` CMAF
/// segments, over the same subsample map: a PIFF fragment's samples are
/// the CMAF segment's bytes, so no key/IV pair ever encrypts two
/// different plaintexts.
#[test]
fn piff_samples_are_the_cenc_segments_samples() {
    let asset = "avc_bframes.mp4";
    let m = String::from_utf8(get(&format!(
        "/{asset}/manifest(format=fmp4-v20,encryption=piff)"
    )))
    .unwrap();
    let urls = fragment_urls(&m);
    for u in urls.iter().take(3) {
        let piff = get(&format!("/{asset}/{u}"));
        let cmaf_url = u.replace("format=fmp4-v20,", "").replace(
            ",encryption=piff)",
            ",format=mpd-time-cmaf,encryption=cenc).m4s",
        );
        let cenc = get(&format!("/{asset}/{cmaf_url}"));
        assert_eq!(mdat(&piff), mdat(&cenc), "{u} / {cmaf_url}");
    }
}

#[test]
fn piff_refusals() {
    let err = |p: &str, cfg: &Config| get_with(p, cfg).unwrap_err();
    // Not Smooth: 400.
    for p in [
        "/avc_bframes.mp4/manifest(format=mpd-time-cmaf,encryption=piff)",
        "/avc_bframes.mp4/manifest(format=m3u8-aapl,encryption=piff).m3u8",
    ] {
        let (status, why) = err(p, &cfg());
        assert_eq!(status, 400, "{p}");
        assert!(why.contains("Smooth"), "{why}");
    }
    // The edge never hands out a PlayReady content key.
    let (status, why) = err(
        "/avc_bframes.mp4/QualityLevels(1)/Key(encryption=piff)",
        &cfg(),
    );
    assert_eq!(status, 400);
    assert!(why.contains("licence server"), "{why}");
    // Other schemes are not built for Smooth.
    let (status, _) = err("/avc_bframes.mp4/manifest(encryption=cenc)", &cfg());
    assert_eq!(status, 400);
    // No key source: 501, manifest and fragment alike.
    let none = Config {
        keys: KeySetting::Unset,
        ..cfg()
    };
    let (status, why) = err("/avc_bframes.mp4/manifest(encryption=piff)", &none);
    assert_eq!(status, 501);
    assert!(why.contains("encryption_key_seed"), "{why}");
}
