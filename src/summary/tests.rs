use super::*;
use crate::job::{Job, Step};
use crate::service::{Output, ServeError};
use crate::source::{FileOrigin, MemoryCache, Origin};
use crate::testutil::{fixture_set, fixtures_dir, media_or_skip};
use crate::url::{parse, Route};

/// A cache that lists the keys read.
#[derive(Default)]
struct Counting {
    inner: MemoryCache,
    got: Vec<String>,
}

impl Cache for Counting {
    fn get(&mut self, key: &str) -> Option<Bytes> {
        self.got.push(key.to_string());
        self.inner.get(key)
    }
    fn put(&mut self, key: &str, value: Bytes) {
        self.inner.put(key, value)
    }
    fn forget(&mut self, key: &str) {
        self.inner.forget(key)
    }
}

fn get(path: &str, origin: &mut FileOrigin, cache: &mut dyn Cache) -> Result<Output, ServeError> {
    get_with(path, origin, cache, Config::default())
}

fn get_with(
    path: &str,
    origin: &mut FileOrigin,
    cache: &mut dyn Cache,
    cfg: Config,
) -> Result<Output, ServeError> {
    let req = match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    };
    let mut job = Job::new(req, cfg);
    let mut results = Vec::new();
    loop {
        match job.step(cache, results) {
            Step::Read(reads) => results = origin.read(&reads),
            Step::Answer(a) => return a,
        }
    }
}

/// A manifest's body, or its error, for comparing.
fn shown(out: &Result<Output, ServeError>) -> String {
    match out {
        Ok(Output::Text { body, omitted, .. }) => format!("{body}\n{omitted:?}"),
        Ok(o) => panic!("not a manifest: {o:?}"),
        Err(e) => format!("error {}: {e}", e.status()),
    }
}

/// The child playlists an HLS multivariant playlist names.
fn children(master: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in master.lines() {
        if !line.starts_with('#') && line.contains("Manifest(") {
            out.push(line.to_string());
        }
        if let Some((_, rest)) = line.split_once("URI=\"") {
            if let Some((uri, _)) = rest.split_once('"') {
                if uri.contains("Manifest(") {
                    out.push(uri.to_string());
                }
            }
        }
    }
    out
}

/// Every manifest of `base` (an asset URL under `root`) is the same from
/// the indexes and from the set summary, and the summary's answer reads
/// no index: HLS multivariant (fMP4 and TS), every media and I-frame
/// playlist they name, DASH, Smooth, and `extra` URLs (views).
fn same_from_summary(root: &std::path::Path, base: &str, extra: &[&str]) {
    let mut origin = FileOrigin::new(root.to_path_buf());
    let mut urls: Vec<String> = [
        "manifest(format=m3u8-cmaf)",
        "manifest(format=m3u8-aapl)",
        "manifest(format=mpd-time-cmaf)",
        "Manifest",
    ]
    .iter()
    .chain(extra)
    .map(|m| format!("{base}/{m}"))
    .collect();
    for i in 0..2 {
        let cold = get(&urls[i], &mut origin, &mut MemoryCache::default());
        if let Ok(Output::Text { body, .. }) = &cold {
            urls.extend(children(body).iter().map(|c| format!("{base}/{c}")));
        }
    }
    assert!(urls.len() > 4, "{base}: {urls:?}");
    for url in &urls {
        // From the indexes alone: a cache that never holds a summary.
        let cold = get(url, &mut origin, &mut MemoryCache::default());
        let mut cache = Counting::default();
        let first = get(url, &mut origin, &mut cache);
        assert_eq!(shown(&first), shown(&cold), "{url}");
        assert!(
            cache.inner.0.keys().any(|k| k.starts_with("sum/")),
            "{url}: no summary stored"
        );
        cache.got.clear();
        let warm = get(url, &mut origin, &mut cache);
        assert_eq!(shown(&warm), shown(&cold), "{url} from the summary");
        assert!(
            !cache.got.iter().any(|k| k.starts_with("idx/")),
            "{url}: read {:?}",
            cache.got
        );
    }
}

#[test]
fn manifests_are_the_same_from_the_summary_small() {
    let root = fixtures_dir("small");
    for f in [
        "avc_bframes.mp4",
        "open_gop.mp4",
        "muxed_moov_end.mp4",
        "mixed_audio.mp4",
        "hevc.mp4",
        "frag.ismv",
        "dts51.mp4",
    ] {
        same_from_summary(&root, &format!("/{f}"), &[]);
    }
}

#[test]
fn manifests_are_the_same_from_the_summary_abr_and_views() {
    let Some(root) = media_or_skip("summary abr", "abr/abr.ism") else {
        return;
    };
    same_from_summary(
        &root,
        "/abr/abr.ism",
        &[
            "manifest(format=m3u8-cmaf,max_bitrate=1000000)",
            "manifest(format=mpd-time-cmaf,rendition_order=asc)",
        ],
    );
}

#[test]
fn manifests_are_the_same_from_the_summary_fragmented_and_edits() {
    let Some(root) = media_or_skip("summary frag", "frag/frag.ism") else {
        return;
    };
    for base in [
        "/frag/frag.ism",
        "/frag/muxed_cmaf.mp4",
        "/frag/muxed_sidx.mp4",
        "/edits/cut.mp4",
        "/edits/delay.mp4",
        "/multilang.mp4",
    ] {
        if root.join(&base[1..]).exists() {
            same_from_summary(&root, base, &[]);
        }
    }
}

/// Sets measured from sample tables a summary does not carry (several
/// sample descriptions; interleaved fragment-level tracks) are never
/// summarized, so every request writes the same bytes from the indexes.
#[test]
fn sets_measured_from_sample_tables_are_not_summarized() {
    let Some(root) = media_or_skip("summary stsd", "stsd/joined.mp4") else {
        return;
    };
    let table = Config {
        fragment_tables: crate::mp4::fragments::TablePolicy::Always,
        ..Config::default()
    };
    for (base, cfg) in [
        ("/stsd/joined.mp4", Config::default()),
        ("/frag/muxed_sidx.mp4", table),
    ] {
        if !root.join(&base[1..]).exists() {
            continue;
        }
        let mut origin = FileOrigin::new(root.clone());
        let mut cache = Counting::default();
        for m in [
            "manifest(format=m3u8-cmaf)",
            "manifest(format=mpd-time-cmaf)",
        ] {
            let url = format!("{base}/{m}");
            let first = get_with(&url, &mut origin, &mut cache, cfg.clone());
            assert!(first.is_ok(), "{url}: {}", shown(&first));
            let again = get_with(&url, &mut origin, &mut cache, cfg.clone());
            assert_eq!(shown(&again), shown(&first), "{url}");
        }
        assert!(
            !cache.inner.0.keys().any(|k| k.starts_with("sum/")),
            "{base}: a summary was stored"
        );
    }
}

#[test]
fn manifests_are_the_same_from_the_summary_2h() {
    let Some(root) = media_or_skip("summary 2h", "long_2h.mp4") else {
        return;
    };
    same_from_summary(&root, "/long_2h.mp4", &[]);
}

fn summary_of(name: &str) -> (MediaSet, Vec<u8>) {
    let set = fixture_set(name, 2000);
    let bytes = encode(&set).unwrap();
    (set, bytes)
}

#[test]
fn round_trips() {
    for name in [
        "avc_bframes.mp4",
        "muxed_moov_end.mp4",
        "open_gop.mp4",
        "frag.ismv",
    ] {
        let (set, bytes) = summary_of(name);
        let back = decode(Bytes::from(bytes.clone())).expect(name);
        assert_eq!(back.tracks, set.tracks, "{name}");
        assert_eq!(back.timeline, set.timeline, "{name}");
        assert_eq!(back.own_timelines, set.own_timelines, "{name}");
        for t in &set.tracks {
            assert_eq!(back.segments(t).unwrap(), set.segments(t).unwrap());
            assert_eq!(back.track_sap(t).unwrap(), set.track_sap(t).unwrap());
            let idx = back.track_index(t);
            assert!(idx.is_header_only(), "{name}");
            assert_eq!(idx.info, set.track_index(t).info);
            // A header-only index refuses sample lookups.
            assert!(idx.sample(0).is_err());
            assert!(idx.position(1).is_err());
        }
        // Re-encoding the decoded set is not possible (no samples): the
        // summary is made from indexes only.
        assert!(encode(&back).is_err(), "{name}");
    }
}

#[test]
fn a_2h_summary_is_small() {
    let Some(root) = media_or_skip("summary size", "long_2h.mp4") else {
        return;
    };
    let file = Bytes::from(std::fs::read(root.join("long_2h.mp4")).unwrap());
    let index = crate::index::index_whole_file(&file, "\"v\"").unwrap();
    let blob = index.blob.len();
    let set = MediaSet::all_tracks(
        vec![SourceFile {
            path: "long_2h.mp4".into(),
            index,
        }],
        crate::timeline::DEFAULT_TARGET_MS,
    )
    .unwrap();
    let bytes = encode(&set).unwrap();
    assert!(
        bytes.len() * 20 < blob,
        "summary {} B, index {blob} B",
        bytes.len()
    );
}

/// Cut short anywhere, or with any byte changed, a summary is refused or
/// read back as some set; never a panic, and manifests written from what
/// reads back answer or fail cleanly.
#[test]
fn hostile_bytes_never_panic() {
    let (_, bytes) = summary_of("muxed_moov_end.mp4");
    for n in 0..bytes.len() {
        assert!(decode(Bytes::copy_from_slice(&bytes[..n])).is_none(), "{n}");
    }
    let stride = (bytes.len() / 400).max(1);
    for at in (0..bytes.len()).step_by(stride) {
        for v in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[at] = v;
            if let Some(set) = decode(Bytes::from(b)) {
                let _ = crate::manifest::hls::multivariant(&set, crate::url::Format::HlsCmaf);
                let _ = crate::manifest::dash::mpd(&set, crate::url::Format::DashCmaf);
                let _ = crate::manifest::smooth::client_manifest(&set, crate::url::Format::Smooth);
                for t in &set.tracks {
                    let _ =
                        crate::manifest::hls::media_playlist(&set, t, crate::url::Format::HlsTs);
                    let _ = crate::manifest::hls::iframe_playlist(&set, t);
                }
            }
        }
    }
    // Hostile counts: a huge segment or file count is refused before any
    // allocation.
    let mut b = bytes[..12].to_vec();
    put_u64(&mut b, u64::MAX);
    assert!(decode(Bytes::from(b)).is_none());
    // Another version is not read.
    let mut b = bytes.clone();
    b[7] ^= 1;
    assert!(decode(Bytes::from(b)).is_none());
}

/// The key names what changes the set, and only records that are fresh
/// name versions.
#[test]
fn keys_name_versions_and_settings() {
    let paths = vec!["a.mp4".to_string()];
    let cfg = Config::default();
    let k = key(&paths, &None, &["\"v1\"".into()], &cfg).unwrap();
    assert_ne!(k, key(&paths, &None, &["\"v2\"".into()], &cfg).unwrap());
    let longer = Config {
        segment_ms: 4000,
        ..Config::default()
    };
    assert_ne!(k, key(&paths, &None, &["\"v1\"".into()], &longer).unwrap());
    let sels = Some(vec![Selection::default()]);
    assert_ne!(k, key(&paths, &sels, &["\"v1\"".into()], &cfg).unwrap());
    assert!(k.contains(&format!("/v{SUMMARY_VERSION}/i{INDEX_VERSION}/")));
    let mut cache = MemoryCache::default();
    assert_eq!(cached_versions(&paths, &mut cache, Clock::default()), None);
    cache.put(
        &crate::outputs::tag_key("a.mp4"),
        Record::encode(b"\"v1\"", 100),
    );
    let clock = Clock {
        now: 1000,
        max_age: 60,
    };
    assert_eq!(cached_versions(&paths, &mut cache, clock), None);
    assert_eq!(
        cached_versions(&paths, &mut cache, Clock::default()),
        Some(vec!["\"v1\"".to_string()])
    );
}
