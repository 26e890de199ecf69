//! `encryption=cenc` end to end through the service: every segment of the
//! HLS fMP4 and DASH titles, decrypted with the `senc` its `saio` points
//! at, equals the clear segment's payload bit for bit; the init segment
//! carries the protection boxes; the manifests signal them.

use crate::crypto::cenc::{ctr_apply, Subsample};
use crate::crypto::KeySetting;
use crate::service::{materialize, serve, Config, Output};
use crate::source::{FileOrigin, MemoryCache};
use crate::url::{parse, Route, StreamRequest};
use std::path::Path;

const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn cfg() -> Config {
    Config {
        segment_ms: 1000,
        keys: KeySetting::from_secret(|_| Some(SEED.to_string())),
        ..Config::default()
    }
}

fn request(path: &str) -> StreamRequest {
    match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

fn get(path: &str) -> Result<Vec<u8>, u16> {
    let cfg = cfg();
    let mut origin = FileOrigin::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small"));
    let mut cache = MemoryCache::default();
    let out: Output =
        serve(&request(path), &mut origin, &mut cache, &cfg).map_err(|e| e.status())?;
    let parts = materialize(&out, &mut origin, &cfg).map_err(|e| e.status())?;
    Ok(parts.iter().flat_map(|b| b.iter().copied()).collect())
}

/// Top-level boxes (or children) of `data`: (type, start, end).
fn boxes(data: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let typ: [u8; 4] = data[at + 4..at + 8].try_into().unwrap();
        out.push((typ, at, at + size));
        at += size;
    }
    out
}

fn child<'a>(data: &'a [u8], typ: &[u8; 4]) -> Option<(usize, &'a [u8])> {
    boxes(data)
        .into_iter()
        .find(|b| &b.0 == typ)
        .map(|(_, s, e)| (s, &data[s..e]))
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(d[at..at + 4].try_into().unwrap())
}

/// A `traf`'s `trun` (as this crate writes it: a data offset, sample
/// sizes): the sample sizes and the data offset from the `moof`.
fn trun_samples(traf: &[u8]) -> (Vec<usize>, usize) {
    let (_, trun) = child(traf, b"trun").unwrap();
    let count = u32_at(trun, 12) as usize;
    let flags = u32_at(trun, 8) & 0xff_ffff;
    let per = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|f| flags & **f != 0)
        .count()
        * 4;
    let first = 20 + if flags & 4 != 0 { 4 } else { 0 };
    let sizes = (0..count)
        .map(|i| u32_at(trun, first + i * per + 4) as usize)
        .collect();
    (sizes, u32_at(trun, 16) as usize)
}

/// The samples of a segment's `mdat`, decrypted per its `senc` (found
/// through `saio`, checked against `saiz`).
pub(crate) fn decrypt_segment(seg: &[u8], key: &[u8; 16]) -> (Vec<u8>, usize) {
    let (moof_at, moof) = child(seg, b"moof").unwrap();
    let (_, traf) = child(&moof[8..], b"traf").unwrap();
    let traf = &traf[8..];
    let (sizes, data_offset) = trun_samples(traf);
    let count = sizes.len();
    let (_, saiz) = child(traf, b"saiz").unwrap();
    let (_, saio) = child(traf, b"saio").unwrap();
    let (_, senc) = child(traf, b"senc").unwrap();
    assert_eq!(u32_at(saiz, 13) as usize, count);
    assert_eq!(u32_at(senc, 12) as usize, count);
    let subsamples = u32_at(senc, 8) & 2 != 0;
    // saio: relative to the moof, at the first IV.
    let info_at = moof_at + u32_at(saio, 16) as usize;
    assert_eq!(&seg[info_at - 16..info_at - 12], &senc[..4]);
    assert_eq!(&seg[info_at - 12..info_at - 8], b"senc");
    let mut at = info_at;
    let mut payload = seg[moof_at + data_offset..].to_vec();
    let mut p = 0;
    for (i, size) in sizes.iter().enumerate() {
        let start = at;
        let iv: [u8; 8] = seg[at..at + 8].try_into().unwrap();
        at += 8;
        let mut map = Vec::new();
        if subsamples {
            let n = u16::from_be_bytes(seg[at..at + 2].try_into().unwrap());
            at += 2;
            for _ in 0..n {
                map.push(Subsample {
                    clear: u16::from_be_bytes(seg[at..at + 2].try_into().unwrap()),
                    protected: u32_at(seg, at + 2),
                });
                at += 6;
            }
        }
        let default = saiz[12] as usize;
        let info_len = if default == 0 {
            saiz[17 + i] as usize
        } else {
            default
        };
        assert_eq!(at - start, info_len, "saiz of sample {i}");
        ctr_apply(key, &iv, &mut payload[p..p + size], &map).unwrap();
        p += size;
    }
    assert_eq!(p, payload.len());
    (payload, count)
}

pub(crate) fn clear_payload(seg: &[u8]) -> Vec<u8> {
    let (_, s, e) = boxes(seg).into_iter().find(|b| &b.0 == b"mdat").unwrap();
    seg[s + 8..e].to_vec()
}

fn key_of(asset: &str) -> [u8; 16] {
    cfg()
        .keys
        .source()
        .unwrap()
        .content_key(&request(&format!("/{asset}/manifest")).asset)
        .key
}

/// Every segment of every rendition of `asset`'s HLS fMP4 title decrypts
/// to the clear one; returns how many were checked.
fn check_hls(asset: &str) -> usize {
    let key = key_of(asset);
    let master = String::from_utf8(
        get(&format!(
            "/{asset}/manifest(format=m3u8-cmaf,encryption=cenc).m3u8"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    let uris: Vec<String> = master
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .chain(
            master
                .lines()
                .filter(|l| !l.starts_with("#EXT-X-SESSION-KEY:"))
                .filter_map(|l| {
                    l.split("URI=\"")
                        .nth(1)
                        .map(|r| r.split('"').next().unwrap().to_string())
                }),
        )
        .collect();
    for uri in uris {
        let playlist_url = format!("/{asset}/{uri}");
        let dir = &playlist_url[..playlist_url.rfind('/').unwrap() + 1];
        let playlist = String::from_utf8(get(&playlist_url).unwrap()).unwrap();
        let map_at = playlist.find("#EXT-X-MAP").unwrap();
        let key_at = playlist.find("#EXT-X-KEY:METHOD=SAMPLE-AES-CTR").unwrap();
        assert!(map_at < key_at, "{playlist}");
        assert!(playlist.contains("URI=\"Key(encryption=cenc)\",KEYFORMAT=\"identity\""));
        let key_bytes = get(&format!("{dir}Key(encryption=cenc)")).unwrap();
        assert_eq!(key_bytes, key);
        let map = playlist[map_at..].split('"').nth(1).unwrap();
        let init = get(&format!("{dir}{map}")).unwrap();
        check_init(&init);
        for seg in playlist
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let enc = get(&format!("{dir}{seg}")).unwrap();
            let clear = get(&format!("{dir}{}", seg.replace(",encryption=cenc", ""))).unwrap();
            assert_ne!(clear_payload(&enc), clear_payload(&clear));
            let (plain, _) = decrypt_segment(&enc, &key);
            assert_eq!(plain, clear_payload(&clear), "{seg}");
            checked += 1;
        }
    }
    checked
}

/// `encv`/`enca` with `sinf` (`frma`, `schm` cenc, `tenc`) and a common
/// `pssh` with the key id.
fn check_init(init: &[u8]) {
    let find = |pat: &[u8]| init.windows(pat.len()).position(|w| w == pat);
    let entry = find(b"encv").or_else(|| find(b"enca")).expect("encv/enca");
    let sinf = find(b"sinf").unwrap();
    assert!(sinf > entry);
    let schm = find(b"schm").unwrap();
    assert_eq!(&init[schm + 8..schm + 16], b"cenc\x00\x01\x00\x00");
    let tenc = find(b"tenc").unwrap();
    assert_eq!(&init[tenc + 10..tenc + 12], &[1, 8]);
    let pssh = find(b"pssh").unwrap();
    assert_eq!(init[pssh + 4], 1, "pssh version 1");
    assert_eq!(
        &init[pssh + 8..pssh + 24],
        &crate::mux::cenc::COMMON_SYSTEM_ID
    );
    assert_eq!(
        &init[pssh + 28..pssh + 44],
        &init[tenc + 12..tenc + 28],
        "kid"
    );
}

#[test]
fn hls_fmp4_segments_decrypt_to_the_clear_ones() {
    for asset in ["avc_bframes.mp4", "hevc.mp4", "mixed_audio.mp4"] {
        assert!(check_hls(asset) >= 2, "{asset}");
    }
}

#[test]
fn dash_signals_cenc_and_its_segments_decrypt() {
    let asset = "avc_bframes.mp4";
    let mpd = String::from_utf8(
        get(&format!(
            "/{asset}/manifest(format=mpd-time-cmaf,encryption=cenc).mpd"
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(mpd.contains("xmlns:cenc=\"urn:mpeg:cenc:2013\""), "{mpd}");
    assert!(mpd.contains(
        "schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cenc\" cenc:default_KID=\""
    ));
    assert!(mpd.contains("urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"));
    assert!(mpd.contains("<cenc:pssh>"));
    // Once per AdaptationSet, ahead of its Representations (dash.js 4 reads
    // it only there); the ClearKey element carries no pssh (dash.js hands
    // it to EME as `keyids` JSON).
    for set in mpd.split("<AdaptationSet ").skip(1) {
        let (head, reps) = set.split_once("<Representation ").unwrap();
        assert_eq!(head.matches("<ContentProtection ").count(), 3, "{head}");
        assert!(!reps.contains("ContentProtection"), "{set}");
        let clear_key = head.split("e2719d58").nth(1).unwrap();
        let clear_key = clear_key.split("</ContentProtection>").next().unwrap();
        assert!(clear_key.contains("<dashif:Laurl"), "{clear_key}");
        assert!(!clear_key.contains("pssh"), "{clear_key}");
    }
    assert!(mpd.contains("Fragments(video=$Time$,format=mpd-time-cmaf,encryption=cenc).m4s"));
    let key = key_of(asset);
    let seg = "QualityLevels(1)/Fragments(video=0,format=mpd-time-cmaf,encryption=cenc).m4s";
    let bitrate = mpd
        .split("bandwidth=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let seg = seg.replace("QualityLevels(1)", &format!("QualityLevels({bitrate})"));
    let enc = get(&format!("/{asset}/{seg}")).unwrap();
    let clear = get(&format!("/{asset}/{}", seg.replace(",encryption=cenc", ""))).unwrap();
    assert_eq!(decrypt_segment(&enc, &key).0, clear_payload(&clear));
}

#[test]
fn cenc_needs_a_cmaf_format_and_a_key_source() {
    let e = get("/avc_bframes.mp4/manifest(format=m3u8-aapl,encryption=cenc)").unwrap_err();
    assert_eq!(e, 400);
    let mut origin = FileOrigin::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small"));
    let r = serve(
        &request("/avc_bframes.mp4/manifest(format=mpd-time-cmaf,encryption=cenc)"),
        &mut origin,
        &mut MemoryCache::default(),
        &Config::default(),
    );
    assert_eq!(r.unwrap_err().status(), 501);
}

/// `cbcs`: the pattern and constant IV of an init segment's `tenc`
/// (version 1), checked against the `schm`.
fn cbcs_tenc(init: &[u8]) -> ((usize, usize), [u8; 16]) {
    let find = |pat: &[u8]| init.windows(pat.len()).position(|w| w == pat).unwrap();
    let schm = find(b"schm");
    assert_eq!(&init[schm + 8..schm + 16], b"cbcs\x00\x01\x00\x00");
    let tenc = find(b"tenc");
    assert_eq!(init[tenc + 4], 1, "tenc version 1");
    let pattern = init[tenc + 9];
    assert_eq!(
        &init[tenc + 10..tenc + 12],
        &[1, 0],
        "protected, no per-sample IV"
    );
    assert_eq!(init[tenc + 28], 16, "16-byte constant IV");
    let iv = init[tenc + 29..tenc + 45].try_into().unwrap();
    ((usize::from(pattern >> 4), usize::from(pattern & 15)), iv)
}

/// Decrypts one `cbcs` protected range in place with the `cbc` crate:
/// the pattern's encrypted blocks are one CBC chain from the IV.
fn cbcs_decrypt_range(key: &[u8; 16], iv: &[u8; 16], (c, s): (usize, usize), r: &mut [u8]) {
    use ::cbc::cipher::{BlockDecryptMut, KeyIvInit};
    let (c, s) = if c == 0 && s == 0 { (1, 0) } else { (c, s) };
    let picked: Vec<usize> = (0..r.len() / 16).filter(|b| b % (c + s) < c).collect();
    let mut dec = ::cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into());
    for b in picked {
        dec.decrypt_block_mut((&mut r[b * 16..b * 16 + 16]).into());
    }
}

/// The samples of a `cbcs` segment's `mdat`, decrypted per its `senc`
/// (subsamples, no IVs) or, without one (audio), whole blocks.
fn decrypt_cbcs_segment(seg: &[u8], init: &[u8], key: &[u8; 16]) -> Vec<u8> {
    decrypt_cbcs_segment_with(seg, init, key, true)
}

/// [`decrypt_cbcs_segment`]; `whole_blocks`: every protected range is a
/// multiple of 16 bytes (NAL video; AV1 `cbcs` ranges are whole tiles).
fn decrypt_cbcs_segment_with(
    seg: &[u8],
    init: &[u8],
    key: &[u8; 16],
    whole_blocks: bool,
) -> Vec<u8> {
    let (pattern, iv) = cbcs_tenc(init);
    let (moof_at, moof) = child(seg, b"moof").unwrap();
    let (_, traf) = child(&moof[8..], b"traf").unwrap();
    let traf = &traf[8..];
    let (sizes, data_offset) = trun_samples(traf);
    let mut payload = seg[moof_at + data_offset..].to_vec();
    let mut p = 0;
    match child(traf, b"senc") {
        None => {
            assert!(child(traf, b"saiz").is_none() && child(traf, b"saio").is_none());
            assert_eq!(pattern, (0, 0), "whole blocks without subsamples");
            for size in &sizes {
                cbcs_decrypt_range(key, &iv, pattern, &mut payload[p..p + size]);
                p += size;
            }
        }
        Some((_, _)) => {
            assert_eq!(pattern, (1, 9));
            let (_, saio) = child(traf, b"saio").unwrap();
            assert!(child(traf, b"saiz").is_some());
            let mut at = moof_at + u32_at(saio, 16) as usize;
            for size in &sizes {
                let n = u16::from_be_bytes(seg[at..at + 2].try_into().unwrap());
                at += 2;
                let mut q = p;
                for _ in 0..n {
                    let clear =
                        usize::from(u16::from_be_bytes(seg[at..at + 2].try_into().unwrap()));
                    let protected = u32_at(seg, at + 2) as usize;
                    if whole_blocks {
                        assert_eq!(protected % 16, 0, "whole blocks");
                    }
                    at += 6;
                    q += clear;
                    cbcs_decrypt_range(key, &iv, pattern, &mut payload[q..q + protected]);
                    q += protected;
                }
                assert_eq!(q - p, *size, "the map covers the sample");
                p += size;
            }
        }
    }
    assert_eq!(p, payload.len());
    payload
}

#[test]
fn cbcs_hls_and_dash_segments_decrypt_to_the_clear_ones() {
    for asset in ["avc_bframes.mp4", "hevc.mp4", "mixed_audio.mp4"] {
        let key = key_of(asset);
        let master = String::from_utf8(
            get(&format!(
                "/{asset}/manifest(format=m3u8-cmaf,encryption=cbcs-aapl).m3u8"
            ))
            .unwrap(),
        )
        .unwrap();
        let uris: Vec<String> = master
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(str::to_string)
            .chain(
                master
                    .lines()
                    .filter(|l| !l.starts_with("#EXT-X-SESSION-KEY:"))
                    .filter_map(|l| {
                        l.split("URI=\"")
                            .nth(1)
                            .map(|r| r.split('"').next().unwrap().to_string())
                    }),
            )
            .collect();
        let mut checked = 0;
        for uri in uris {
            let playlist_url = format!("/{asset}/{uri}");
            let dir = &playlist_url[..playlist_url.rfind('/').unwrap() + 1];
            let playlist = String::from_utf8(get(&playlist_url).unwrap()).unwrap();
            assert!(playlist.contains(
                "\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"Key(encryption=cbcs-aapl)\",KEYFORMAT=\"identity\"\n"
            ), "{playlist}");
            assert!(playlist.find("#EXT-X-MAP") < playlist.find("#EXT-X-KEY"));
            assert_eq!(
                get(&format!("{dir}Key(encryption=cbcs-aapl)")).unwrap(),
                key
            );
            let map = playlist[playlist.find("#EXT-X-MAP").unwrap()..]
                .split('"')
                .nth(1)
                .unwrap();
            let init = get(&format!("{dir}{map}")).unwrap();
            for seg in playlist
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
            {
                let enc = get(&format!("{dir}{seg}")).unwrap();
                let clear = get(&format!(
                    "{dir}{}",
                    seg.replace(",encryption=cbcs-aapl", "")
                ))
                .unwrap();
                assert_ne!(clear_payload(&enc), clear_payload(&clear));
                assert_eq!(
                    decrypt_cbcs_segment(&enc, &init, &key),
                    clear_payload(&clear),
                    "{seg}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 2, "{asset}");
    }
    // DASH: the same segments, signalled `cbcs`.
    let mpd = String::from_utf8(
        get("/avc_bframes.mp4/manifest(format=mpd-time-cmaf,encryption=cbcs-aapl).mpd").unwrap(),
    )
    .unwrap();
    assert!(mpd.contains(
        "schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"cbcs\" cenc:default_KID=\""
    ));
    assert!(
        mpd.contains(">License(encryption=cbcs-aapl)</dashif:Laurl>"),
        "{mpd}"
    );
    assert!(mpd.contains("Fragments(video=$Time$,format=mpd-time-cmaf,encryption=cbcs-aapl).m4s"));
}

#[test]
fn cbcs_licence_answers_the_key_and_ts_is_refused() {
    let e = get("/avc_bframes.mp4/manifest(format=m3u8-aapl,encryption=cbcs-aapl)").unwrap_err();
    assert_eq!(e, 400);
    let asset = "avc_bframes.mp4";
    let req = request(&format!("/{asset}/License(encryption=cbcs-aapl)"));
    let k = cfg().keys.source().unwrap().content_key(&req.asset);
    let body = format!(
        "{{\"kids\":[\"{}\"],\"type\":\"temporary\"}}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, k.kid)
    );
    let out = crate::service::licence_output(&req, &cfg().keys, body.as_bytes()).unwrap();
    let Output::Key { body, .. } = out else {
        panic!()
    };
    let k64 = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, k.key);
    assert!(String::from_utf8_lossy(&body).contains(&k64));
}

/// The AVC slice-header reader measures every slice of the fixtures (no
/// fallback to the fixed lead), and the headers are short.
#[test]
fn every_avc_fixture_slice_header_is_measured() {
    use crate::codec::avc_slice::{header_end, slice_header_len, ParamSets};
    use crate::model::Codec;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small");
    for asset in ["avc_bframes.mp4", "avc_gop40.mp4", "open_gop.mp4"] {
        let file = std::fs::read(root.join(asset)).unwrap();
        let mut origin = FileOrigin::new(&root);
        let req = request(&format!("/{asset}/manifest"));
        let set =
            crate::service::load_set(&req.asset, &mut origin, &mut MemoryCache::default(), &cfg())
                .unwrap();
        let t = set
            .tracks
            .iter()
            .find(|t| set.track_index(t).is_video())
            .unwrap();
        let idx = set.track_index(t);
        let Codec::Avc(c) = &idx.info.codec else {
            panic!("{asset}")
        };
        let ps = ParamSets::from_config(c);
        let l = usize::from(c.nal_length_size);
        let (mut slices, mut longest, mut cabac) = (0, 0, 0);
        for s in idx.samples(0..idx.sample_count()).unwrap() {
            let s = s.unwrap();
            let data = &file[s.offset as usize..s.offset as usize + s.size as usize];
            let mut at = 0;
            while at + l <= data.len() {
                let n = data[at..at + l]
                    .iter()
                    .fold(0usize, |a, &b| (a << 8) | usize::from(b));
                let nal = &data[at + l..at + l + n];
                if (1..=5).contains(&(nal[0] & 0x1f)) {
                    let h = slice_header_len(nal, &ps).unwrap_or_else(|| panic!("{asset}"));
                    // CABAC: the header's last byte ends in alignment
                    // ones (H.264 §7.3.4), so the bit count is exact.
                    let end = header_end(nal, &ps).unwrap();
                    if end.cabac {
                        let ones = (1u16 << end.after) - 1;
                        assert_eq!(u16::from(end.last) & ones, ones, "{asset}: {end:?}");
                        cabac += 1;
                    }
                    assert!(h >= 2 && h < nal.len(), "{asset}: {h} of {}", nal.len());
                    longest = longest.max(h);
                    slices += 1;
                }
                at += l + n;
            }
        }
        assert!(
            slices > 10 && longest <= 32,
            "{asset}: {slices} slices, {longest}"
        );
        assert!(cabac == 0 || cabac == slices);
        eprintln!("{asset}: {slices} slices ({cabac} CABAC), longest header {longest} B");
    }
}

/// The HEVC slice-segment-header reader measures every slice of
/// `hevc.mp4` (x265, I/P/B) — no fallback to the fixed lead — and each
/// length equals the one ffmpeg's `trace_headers` bitstream filter
/// reports (an independent parser: `slice_segment_header` bit positions
/// through `alignment_bit_equal_to_zero`, with the emulation prevention
/// bytes in those bytes added).
#[test]
fn every_hevc_fixture_slice_header_is_measured() {
    use crate::codec::hevc_slice::{slice_header_len, ParamSets};
    use crate::model::Codec;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small");
    let asset = "hevc.mp4";
    let file = std::fs::read(root.join(asset)).unwrap();
    let mut origin = FileOrigin::new(&root);
    let req = request(&format!("/{asset}/manifest"));
    let set =
        crate::service::load_set(&req.asset, &mut origin, &mut MemoryCache::default(), &cfg())
            .unwrap();
    let t = set
        .tracks
        .iter()
        .find(|t| set.track_index(t).is_video())
        .unwrap();
    let idx = set.track_index(t);
    let Codec::Hevc(c) = &idx.info.codec else {
        panic!("{asset}")
    };
    let ps = ParamSets::from_config(c);
    let l = usize::from(c.nal_length_size);
    let mut lengths = Vec::new();
    for s in idx.samples(0..idx.sample_count()).unwrap() {
        let s = s.unwrap();
        let data = &file[s.offset as usize..s.offset as usize + s.size as usize];
        let mut at = 0;
        while at + l <= data.len() {
            let n = data[at..at + l]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            let nal = &data[at + l..at + l + n];
            if (nal[0] >> 1) & 0x3f < 32 {
                let h = slice_header_len(nal, &ps).unwrap_or_else(|| panic!("{asset}"));
                assert!(h > 2 && h < nal.len(), "{h} of {}", nal.len());
                lengths.push(h);
            }
            at += l + n;
        }
    }
    eprintln!("{asset}: {lengths:?}");
    assert_eq!(lengths, HEVC_FIXTURE_HEADERS);
}

/// Slice segment header lengths of `hevc.mp4` in decode order, NAL header
/// and emulation prevention bytes included, from ffmpeg 5.1's
/// `-bsf:v trace_headers` (see `B_DOC.md` for the derivation).
const HEVC_FIXTURE_HEADERS: &[usize] = &[
    7, 11, 13, 11, 11, 11, 14, 12, 11, 14, 12, 11, 14, 12, 12, 11, 14, 12, 12, 11, 14, 13, 12, 12,
    11, 11, 12, 11, 11, 13, 14, 12, 12, 11, 14, 12, 12, 12, 14, 14, 14, 12, 11, 11, 14, 12, 12, 12,
];

/// `cbcs` of HEVC keeps each measured slice segment header clear: every
/// slice NAL unit of every `hevc.mp4` segment has one protected range,
/// which ends with the NAL unit and starts after its header, less than a
/// block after it (the remainder goes to the clear part) — never at the
/// 32-byte fixed lead these ~12-byte headers would get without the reader.
#[test]
fn cbcs_hevc_protected_ranges_start_after_the_measured_slice_header() {
    use crate::codec::hevc_slice::{slice_header_len, ParamSets};
    use crate::model::Codec;
    let asset = "hevc.mp4";
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small");
    let mut origin = FileOrigin::new(&root);
    let req = request(&format!("/{asset}/manifest"));
    let set =
        crate::service::load_set(&req.asset, &mut origin, &mut MemoryCache::default(), &cfg())
            .unwrap();
    let t = set
        .tracks
        .iter()
        .find(|t| set.track_index(t).is_video())
        .unwrap();
    let Codec::Hevc(c) = &set.track_index(t).info.codec else {
        panic!()
    };
    let ps = ParamSets::from_config(c);
    let l = usize::from(c.nal_length_size);
    let master = String::from_utf8(
        get(&format!(
            "/{asset}/manifest(format=m3u8-cmaf,encryption=cbcs-aapl).m3u8"
        ))
        .unwrap(),
    )
    .unwrap();
    let uri = master
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap();
    let playlist_url = format!("/{asset}/{uri}");
    let dir = &playlist_url[..playlist_url.rfind('/').unwrap() + 1];
    let playlist = String::from_utf8(get(&playlist_url).unwrap()).unwrap();
    let mut slices = 0;
    for seg in playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let enc = get(&format!("{dir}{seg}")).unwrap();
        let clear = clear_payload(
            &get(&format!(
                "{dir}{}",
                seg.replace(",encryption=cbcs-aapl", "")
            ))
            .unwrap(),
        );
        let (moof_at, moof) = child(&enc, b"moof").unwrap();
        let (_, traf) = child(&moof[8..], b"traf").unwrap();
        let traf = &traf[8..];
        let (sizes, _) = trun_samples(traf);
        let (_, saio) = child(traf, b"saio").unwrap();
        let mut at = moof_at + u32_at(saio, 16) as usize;
        let mut p = 0;
        for size in sizes {
            // The sample's protected ranges, as offsets in the payload.
            let n = u16::from_be_bytes(enc[at..at + 2].try_into().unwrap());
            at += 2;
            let (mut q, mut ranges) = (p, Vec::new());
            for _ in 0..n {
                q += usize::from(u16::from_be_bytes(enc[at..at + 2].try_into().unwrap()));
                let protected = u32_at(&enc, at + 2) as usize;
                if protected > 0 {
                    ranges.push((q, q + protected));
                }
                q += protected;
                at += 6;
            }
            let mut nal_at = p;
            while nal_at < p + size {
                let len = clear[nal_at..nal_at + l]
                    .iter()
                    .fold(0usize, |a, &b| (a << 8) | usize::from(b));
                let (start, end) = (nal_at + l, nal_at + l + len);
                if (clear[start] >> 1) & 0x3f < 32 {
                    let h = slice_header_len(&clear[start..end], &ps).unwrap();
                    let body = len - h;
                    let expected = (start + h + body % 16, end);
                    if body >= 16 {
                        assert!(
                            ranges.contains(&expected),
                            "{seg}: {expected:?} in {ranges:?}"
                        );
                        assert!(expected.0 - start < crate::crypto::cbcs::SLICE_CLEAR_LEAD);
                    }
                    slices += 1;
                }
                nal_at = end;
            }
            p += size;
        }
    }
    assert!(slices > 10, "{slices}");
}

/// The AV1 frame header reader finds the tiles of every frame of
/// `av1.mp4` (libaom, two tile columns, hidden alt-ref frames and
/// `show_existing_frame`) where ffmpeg's `trace_headers` bitstream filter
/// (an independent parser) puts them: the first tile's data of each
/// frame starts at the end of the tile group header (bit positions in
/// the trace) plus `TileSizeBytes`; the second ends the OBU.
#[test]
fn every_av1_fixture_tile_is_located() {
    use crate::codec::av1_frame::{av1c_of_sample_entry, Av1Parser, SequenceHeader};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small");
    let asset = "av1.mp4";
    let file = std::fs::read(root.join(asset)).unwrap();
    let mut origin = FileOrigin::new(&root);
    let req = request(&format!("/{asset}/manifest"));
    let set =
        crate::service::load_set(&req.asset, &mut origin, &mut MemoryCache::default(), &cfg())
            .unwrap();
    let t = set
        .tracks
        .iter()
        .find(|t| set.track_index(t).is_video())
        .unwrap();
    let idx = set.track_index(t);
    let av1c = av1c_of_sample_entry(&idx.info.sample_entry).unwrap();
    let mut p = Av1Parser::new(SequenceHeader::from_av1c(av1c).unwrap());
    let mut firsts = Vec::new();
    for s in idx.samples(0..idx.sample_count()).unwrap() {
        let s = s.unwrap();
        let data = &file[s.offset as usize..s.offset as usize + s.size as usize];
        let tiles = p.tiles(data).unwrap();
        assert_eq!(tiles.len() % 2, 0);
        for pair in tiles.chunks(2) {
            assert_eq!(pair[0].end, pair[1].start, "{pair:?}");
            assert!(pair[1].end <= data.len());
        }
        firsts.push(tiles.iter().step_by(2).map(|t| t.start).collect::<Vec<_>>());
    }
    assert_eq!(firsts, AV1_FIXTURE_FIRST_TILES);
}

/// The first tile's offset in each frame of each `av1.mp4` sample, from
/// `ffmpeg -bsf:v trace_headers` (see `B_DOC.md`).
const AV1_FIXTURE_FIRST_TILES: &[&[usize]] = &[
    &[31],
    &[23, 1062, 1616, 1864, 2050],
    &[],
    &[22],
    &[22],
    &[],
    &[22, 243],
    &[22],
    &[],
    &[22],
    &[22],
    &[],
    &[23, 376, 617],
    &[22],
    &[],
    &[22],
    &[22],
    &[],
    &[22, 253],
    &[22],
    &[],
    &[22],
    &[22],
    &[],
    &[23],
    &[25, 1073, 1695, 2068, 2303],
    &[],
    &[22],
    &[22],
    &[],
    &[22, 275],
    &[22],
    &[],
    &[22],
    &[22],
    &[],
    &[22, 357, 589],
    &[22],
    &[],
    &[22],
    &[22],
    &[],
    &[22, 294],
    &[22],
    &[],
    &[22],
    &[22],
    &[21],
];

/// `encryption=cenc` and `cbcs-aapl` of AV1: every DASH segment of
/// `av1.mp4` decrypts (through its `senc`) to the clear payload; `cenc`
/// protects whole blocks ending each tile, `cbcs` one subsample per tile.
#[test]
fn av1_segments_decrypt_to_the_clear_ones() {
    let asset = "av1.mp4";
    let key = key_of(asset);
    for scheme in ["cenc", "cbcs-aapl"] {
        let mpd = String::from_utf8(
            get(&format!(
                "/{asset}/manifest(format=mpd-time-cmaf,encryption={scheme}).mpd"
            ))
            .unwrap(),
        )
        .unwrap();
        assert!(mpd.contains("av01"), "{mpd}");
        let media = mpd
            .split("media=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let init = mpd
            .split("initialization=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let bw = mpd
            .split("bandwidth=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let init = get(&format!("/{asset}/{}", init.replace("$Bandwidth$", bw))).unwrap();
        let mut t = 0u64;
        let mut checked = 0;
        let attr = |s: &str, name: &str| -> Option<u64> {
            let v = s.split(&format!(" {name}=\"")).nth(1)?;
            v.split('"').next()?.parse().ok()
        };
        let durations: Vec<u64> = mpd
            .split("<S ")
            .skip(1)
            .flat_map(|s| {
                let d = attr(s, "d").unwrap();
                std::iter::repeat_n(d, attr(s, "r").unwrap_or(0) as usize + 1)
            })
            .collect();
        for d in durations {
            let seg = media
                .replace("$Bandwidth$", bw)
                .replace("$Time$", &t.to_string());
            t += d;
            let enc = get(&format!("/{asset}/{seg}")).unwrap();
            let clear = get(&format!(
                "/{asset}/{}",
                seg.replace(&format!(",encryption={scheme}"), "")
            ))
            .unwrap();
            let plain = if scheme == "cenc" {
                decrypt_segment(&enc, &key).0
            } else {
                decrypt_cbcs_segment_with(&enc, &init, &key, false)
            };
            assert_ne!(clear_payload(&enc), clear_payload(&clear));
            assert_eq!(plain, clear_payload(&clear), "{scheme} {seg}");
            checked += 1;
        }
        assert!(checked >= 2, "{mpd}");
    }
}

/// A development check against ffmpeg's `trace_headers` on any file:
/// `EDGEPACK_TRACE_FILE=/path/x.mp4 cargo test --lib trace_file --
/// --ignored --nocapture` prints the HEVC slice segment header lengths
/// (or the AV1 first-tile offsets) the readers find, in decode order, to
/// compare with the trace (see `B_DOC.md`).
#[test]
#[ignore]
fn trace_file() {
    use crate::codec::av1_frame::{av1c_of_sample_entry, Av1Parser, SequenceHeader};
    use crate::codec::hevc_slice::{slice_header_len, ParamSets};
    use crate::model::Codec;
    let path = std::path::PathBuf::from(std::env::var("EDGEPACK_TRACE_FILE").unwrap());
    let root = path.parent().unwrap();
    let asset = path.file_name().unwrap().to_str().unwrap();
    let file = std::fs::read(&path).unwrap();
    let mut origin = FileOrigin::new(root);
    let req = request(&format!("/{asset}/manifest"));
    let set =
        crate::service::load_set(&req.asset, &mut origin, &mut MemoryCache::default(), &cfg())
            .unwrap();
    let t = set
        .tracks
        .iter()
        .find(|t| set.track_index(t).is_video())
        .unwrap();
    let idx = set.track_index(t);
    let samples: Vec<&[u8]> = idx
        .samples(0..idx.sample_count())
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            &file[s.offset as usize..s.offset as usize + s.size as usize]
        })
        .collect();
    if let Codec::Hevc(c) = &idx.info.codec {
        let ps = ParamSets::from_config(c);
        let l = usize::from(c.nal_length_size);
        let mut out = Vec::new();
        for data in samples {
            let mut at = 0;
            while at + l <= data.len() {
                let n = data[at..at + l]
                    .iter()
                    .fold(0usize, |a, &b| (a << 8) | usize::from(b));
                let nal = &data[at + l..at + l + n];
                if (nal[0] >> 1) & 0x3f < 32 {
                    out.push(slice_header_len(nal, &ps));
                }
                at += l + n;
            }
        }
        println!("{out:?}");
    } else {
        let av1c = av1c_of_sample_entry(&idx.info.sample_entry).unwrap();
        let mut p = Av1Parser::new(SequenceHeader::from_av1c(av1c).unwrap());
        let out: Vec<_> = samples.iter().map(|d| p.tiles(d)).collect();
        println!("{out:?}");
    }
}
