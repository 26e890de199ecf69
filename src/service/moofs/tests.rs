//! Segments of fragment-level tracks against the same file indexed from
//! all its moofs: every URL the manifests list answers; video segments are
//! byte for byte the same (their boundaries are the same keyframes), and
//! audio, cut at its own fragment boundaries, carries the same samples in
//! all.

use super::*;
use crate::job::{run, Job};
use crate::mp4::fragments::TablePolicy;
use crate::service::{materialize, Config};
use crate::source::{FileOrigin, MemoryCache, Origin, ReadResponse};
use crate::testutil::TempDir;
use crate::url::{parse, Route};

fn request(path: &str) -> StreamRequest {
    match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

fn cfg(tables: TablePolicy) -> Config {
    Config {
        fragment_tables: tables,
        ..Config::default()
    }
}

/// The body `path` answers, and the origin reads it took.
fn get(
    path: &str,
    origin: &mut FileOrigin,
    cache: &mut MemoryCache,
    cfg: &Config,
) -> Result<(Vec<bytes::Bytes>, usize), ServeError> {
    let before = origin.log.len();
    let out = run(Job::new(request(path), cfg.clone()), origin, cache)?;
    let body = materialize(&out, origin, cfg)?;
    Ok((body, origin.log.len() - before))
}

fn text(body: &[bytes::Bytes]) -> String {
    String::from_utf8(body.concat()).unwrap()
}

/// The URIs of an HLS playlist's segments (or variants).
fn uris(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn frag_root() -> Option<std::path::PathBuf> {
    crate::testutil::media_or_skip("moofs", "frag/muxed_sidx.mp4").map(|r| r.join("frag"))
}

/// HLS fMP4 and TS: every segment of the fragment-level index answers; a
/// video segment is the full index's, byte for byte; the audio segments
/// together carry the same samples.
#[test]
fn segments_match_the_full_index() {
    let Some(root) = frag_root() else { return };
    for name in [
        "muxed_sidx.mp4",
        "muxed_kf.mp4",
        "muxed_cmaf.mp4",
        "video_360_kf.mp4",
        "video_360_sidx.mp4",
        // SAPs inside fragments (sidx SAP_delta_time): segments start there.
        "video_360_sap.mp4",
    ] {
        if !root.join(name).exists() {
            // Added to fixtures/generate.sh with this test.
            let _ = crate::testutil::media_or_skip("moofs", &format!("frag/{name}"));
            continue;
        }
        for format in ["m3u8-cmaf", "m3u8-aapl"] {
            let table = cfg(TablePolicy::Always);
            let full = cfg(TablePolicy::OverBudget);
            let mut origin = FileOrigin::new(&root);
            let (mut tc, mut fc) = (MemoryCache::default(), MemoryCache::default());
            let master = format!("/{name}/manifest(format={format})");
            let (body, reads) = get(&master, &mut origin, &mut tc, &table).unwrap();
            let master_text = text(&body);
            // The head read holds moov and sidx; an mfra costs the tail and
            // the last moof.
            let want = if name.ends_with("sidx.mp4") || name.ends_with("sap.mp4") {
                1
            } else {
                3
            };
            assert_eq!(reads, want, "{name}: cold manifest reads");
            assert!(!master_text.contains("I-FRAME"), "{master_text}");
            let idx =
                tc.0.keys()
                    .find(|k| k.starts_with("idx/"))
                    .cloned()
                    .unwrap();
            let idx = crate::index::MediaIndex::from_blob(tc.0[&idx].clone()).unwrap();
            assert!(idx.tracks.iter().all(|t| t.fragment_level), "{name}");
            let mut variants = uris(&master_text);
            variants.extend(
                master_text
                    .lines()
                    .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO"))
                    .filter_map(|l| Some(l.split("URI=\"").nth(1)?.split('"').next()?.to_string())),
            );
            for variant in variants {
                let dir = variant.rsplit_once('/').map_or("", |(d, _)| d);
                if variant.contains("audio") {
                    // Audio is cut at its own fragment boundaries: the
                    // segments differ, the samples they carry in all do not.
                    let mut payload = Vec::new();
                    for (c, cache) in [(&table, &mut tc), (&full, &mut fc)] {
                        let (pl, _) = get(&format!("/{name}/{variant}"), &mut origin, cache, c)
                            .unwrap_or_else(|e| panic!("{name} {variant}: {e}"));
                        let mut all = Vec::new();
                        for seg in uris(&text(&pl)) {
                            let url = format!("/{name}/{dir}/{seg}");
                            let (a, reads) = get(&url, &mut origin, cache, c)
                                .unwrap_or_else(|e| panic!("{url}: {e}"));
                            assert!(reads <= 4, "{url}: {reads} reads");
                            if format == "m3u8-cmaf" {
                                all.extend(a[1..].concat());
                            }
                        }
                        payload.push(all);
                    }
                    let first = payload[0].iter().zip(&payload[1]).position(|(a, b)| a != b);
                    assert!(
                        payload[0] == payload[1],
                        "{name} {variant}: audio samples differ: {} / {} bytes, first at {first:?}",
                        payload[0].len(),
                        payload[1].len()
                    );
                    continue;
                }
                let (pl, _) = get(&format!("/{name}/{variant}"), &mut origin, &mut tc, &table)
                    .unwrap_or_else(|e| panic!("{name} {variant}: {e}"));
                let mut n = 0;
                for seg in uris(&text(&pl)) {
                    let url = format!("/{name}/{dir}/{seg}");
                    let (a, reads) = get(&url, &mut origin, &mut tc, &table)
                        .unwrap_or_else(|e| panic!("{url}: {e}"));
                    assert!(reads <= 4, "{url}: {reads} reads");
                    let (b, _) = get(&url, &mut origin, &mut fc, &full)
                        .unwrap_or_else(|e| panic!("full {url}: {e}"));
                    assert!(a.concat() == b.concat(), "{url} differs");
                    n += 1;
                }
                assert!(n > 0, "{name} {variant}: no segments");
            }
        }
    }
}

/// DASH and Smooth of a fragment-level title: every DASH segment (the
/// HLS fMP4 segments under their own URLs) and the first Smooth fragment.
#[test]
fn dash_and_smooth_segments_resolve() {
    let Some(root) = frag_root() else { return };
    let table = cfg(TablePolicy::Always);
    let mut origin = FileOrigin::new(&root);
    let mut cache = MemoryCache::default();
    let asset = "/muxed_kf.mp4";
    let (body, _) = get(
        &format!("{asset}/manifest(format=mpd-time-cmaf)"),
        &mut origin,
        &mut cache,
        &table,
    )
    .unwrap();
    let mpd = text(&body);
    assert!(mpd.contains("SegmentTimeline"), "{mpd}");
    // Each AdaptationSet's template, and the times of its timeline.
    let mut n = 0;
    for set in mpd.split("<AdaptationSet").skip(1) {
        let media = set
            .split("media=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let id = set
            .split("<Representation id=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let bw = set
            .split("bandwidth=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let mut t = 0u64;
        for s in set.split("<S ").skip(1) {
            let attr = |k: &str| {
                s.split(&format!("{k}=\""))
                    .nth(1)?
                    .split('"')
                    .next()?
                    .parse::<u64>()
                    .ok()
            };
            t = attr("t").unwrap_or(t);
            for _ in 0..=attr("r").unwrap_or(0) {
                let url = media
                    .replace("$RepresentationID$", id)
                    .replace("$Bandwidth$", bw)
                    .replace("$Time$", &t.to_string());
                get(&format!("{asset}/{url}"), &mut origin, &mut cache, &table)
                    .unwrap_or_else(|e| panic!("{url}: {e}"));
                t += attr("d").unwrap();
                n += 1;
            }
        }
    }
    assert!(n >= 10, "{n} DASH segments");
    let (seg, _) = get(
        &format!("{asset}/QualityLevels(1)/Fragments(video=0)"),
        &mut origin,
        &mut cache,
        &table,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(seg.concat().len() > 1000);
}

/// A moof that disagrees with the table is a 502 naming it, never other
/// content: the origin answers the first fragment's moof with another's.
#[test]
fn a_moof_that_disagrees_with_the_table_is_502() {
    let Some(root) = frag_root() else { return };
    struct Swap(FileOrigin);
    impl Origin for Swap {
        fn read(
            &mut self,
            reqs: &[ReadRequest],
        ) -> Vec<Result<ReadResponse, crate::source::OriginError>> {
            // Reads at the first moof (1789) come from the second (280285).
            let moved: Vec<ReadRequest> = reqs
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    if r.start == 1789 {
                        r.end = 280285 + (r.end - r.start);
                        r.start = 280285;
                    }
                    r
                })
                .collect();
            self.0.read(&moved)
        }
    }
    let table = cfg(TablePolicy::Always);
    let mut origin = Swap(FileOrigin::new(&root));
    let mut cache = MemoryCache::default();
    let out = run(
        Job::new(
            request("/muxed_sidx.mp4/manifest(format=m3u8-cmaf)"),
            table.clone(),
        ),
        &mut origin,
        &mut cache,
    );
    assert!(out.is_ok());
    let err = run(
        Job::new(
            request("/muxed_sidx.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-cmaf)"),
            table,
        ),
        &mut origin,
        &mut cache,
    )
    .unwrap_err();
    assert_eq!(err.status(), 502, "{err}");
    assert!(err.to_string().starts_with("muxed_sidx.mp4: "), "{err}");
}

/// A file without a table (muxed_kf.mp4 without its mfra) keeps the moof
/// walk under the `table` policy; one with an mfra is fragment-level, and
/// the default policy keeps a small file's walk.
#[test]
fn the_policy_and_files_without_a_table() {
    let Some(root) = frag_root() else { return };
    let dir = TempDir::new("moofs");
    let file = std::fs::read(root.join("muxed_kf.mp4")).unwrap();
    let mfra = u32::from_be_bytes(file[file.len() - 4..].try_into().unwrap()) as usize;
    std::fs::write(dir.join("nomfra.mp4"), &file[..file.len() - mfra]).unwrap();
    std::fs::write(dir.join("kf.mp4"), &file).unwrap();
    let levels = |name: &str, c: &Config| {
        let mut origin = FileOrigin::new(dir.path());
        let mut cache = MemoryCache::default();
        get(
            &format!("/{name}/manifest(format=m3u8-cmaf)"),
            &mut origin,
            &mut cache,
            c,
        )
        .unwrap();
        let key = cache
            .0
            .keys()
            .find(|k| k.starts_with("idx/"))
            .cloned()
            .unwrap();
        let idx = crate::index::MediaIndex::from_blob(cache.0[&key].clone()).unwrap();
        (
            idx.tracks
                .iter()
                .map(|t| t.fragment_level)
                .collect::<Vec<_>>(),
            idx.moov.is_some(),
        )
    };
    let table = cfg(TablePolicy::Always);
    assert_eq!(levels("nomfra.mp4", &table), (vec![false, false], false));
    assert_eq!(levels("kf.mp4", &table), (vec![true, true], true));
    assert_eq!(
        levels("kf.mp4", &Config::default()),
        (vec![false, false], false)
    );
}

/// Opt-in measurement (`EDGEPACK_FRAG_LONG_DIR` = a directory holding
/// fragmented copies of `long_2h.mp4`, see FRAGLONG_DOC.md): cold manifest
/// and segment reads per layout and policy.
#[test]
fn long_title_reads() {
    let Ok(dir) = std::env::var("EDGEPACK_FRAG_LONG_DIR") else {
        return;
    };
    for name in ["long_sidx.mp4", "long_kf.mp4", "long_nomfra.mp4"] {
        for (label, policy) in [
            ("auto", TablePolicy::OverBudget),
            ("table", TablePolicy::Always),
        ] {
            let c = cfg(policy);
            let mut origin = FileOrigin::new(&dir);
            let mut cache = MemoryCache::default();
            let t0 = std::time::Instant::now();
            let res = get(
                &format!("/{name}/manifest(format=m3u8-cmaf)"),
                &mut origin,
                &mut cache,
                &c,
            );
            let ms = t0.elapsed().as_millis();
            let bytes: u64 = origin.log.iter().map(|r| r.end - r.start).sum();
            let (reads, status) = match &res {
                Ok((_, reads)) => (*reads, "200".to_string()),
                Err(e) => (origin.log.len(), format!("{} {e}", e.status())),
            };
            eprintln!("{name} [{label}]: cold manifest {reads} reads, {bytes} bytes asked, {ms} ms: {status}");
            if res.is_err() {
                continue;
            }
            let (pl, _) = get(
                &format!("/{name}/QualityLevels(1)/Manifest(video,format=m3u8-cmaf)"),
                &mut origin,
                &mut cache,
                &c,
            )
            .unwrap();
            let segs = uris(&text(&pl));
            let mid = &segs[segs.len() / 2];
            let before = origin.log.len();
            let (body, reads) = get(
                &format!("/{name}/QualityLevels(1)/{mid}"),
                &mut origin,
                &mut cache,
                &c,
            )
            .unwrap();
            let asked: u64 = origin.log[before..].iter().map(|r| r.end - r.start).sum();
            eprintln!(
                "{name} [{label}]: warm segment {mid}: {reads} reads, {asked} bytes asked, {} bytes out",
                body.concat().len()
            );
        }
    }
}

/// `video_360_sap.mp4` (fragments every 0.75 s, keyframes every 2 s, the
/// sidx's SAP fields true): the ten subsegments with a keyframe inside are
/// split there, so every keyframe is a sync pseudo-sample and segments
/// start at them (byte for byte the walked index's segments:
/// `segments_match_the_full_index`). The same file with ffmpeg's own SAP
/// fields (every subsegment "starts with a SAP" of type 0) is 502 naming
/// the fragment whose first sample is not one.
#[test]
fn segments_start_at_saps_inside_fragments() {
    let Some(root) = frag_root() else { return };
    if !root.join("video_360_sap.mp4").exists() {
        let _ = crate::testutil::media_or_skip("moofs", "frag/video_360_sap.mp4");
        return;
    }
    let dir = TempDir::new("saps");
    let mut file = std::fs::read(root.join("video_360_sap.mp4")).unwrap();
    std::fs::write(dir.join("sap.mp4"), &file).unwrap();
    let at = file.windows(4).position(|w| w == b"sidx").unwrap() - 4;
    let refs = if file[at + 8] == 1 { at + 40 } else { at + 32 };
    let count = u16::from_be_bytes([file[refs - 2], file[refs - 1]]) as usize;
    assert_eq!(count, 40);
    for i in 0..count {
        let w = refs + 12 * i + 8;
        file[w..w + 4].copy_from_slice(&0x8000_0000u32.to_be_bytes());
    }
    std::fs::write(dir.join("ffmpeg.mp4"), &file).unwrap();
    let table = cfg(TablePolicy::Always);
    let mut origin = FileOrigin::new(dir.path());
    let mut cache = MemoryCache::default();
    let (pl, _) = get(
        "/sap.mp4/manifest(format=m3u8-cmaf)",
        &mut origin,
        &mut cache,
        &table,
    )
    .unwrap();
    let key = cache.0.keys().find(|k| k.starts_with("idx/")).cloned();
    let idx = crate::index::MediaIndex::from_blob(cache.0[&key.unwrap()].clone()).unwrap();
    let t = &idx.tracks[0];
    assert!(t.fragment_level);
    let sync = t
        .samples(0..t.sample_count())
        .unwrap()
        .filter(|s| s.as_ref().unwrap().sync)
        .count();
    assert_eq!((t.sample_count(), sync), (50, 15));
    // Its pseudo-samples are fragments: no frame rate from their count.
    assert!(!text(&pl).contains("FRAME-RATE"), "{}", text(&pl));
    let variant = uris(&text(&pl)).remove(0);
    let dir_of = variant.rsplit_once('/').map_or("", |(d, _)| d).to_string();
    let (media, _) = get(
        &format!("/sap.mp4/{variant}"),
        &mut origin,
        &mut cache,
        &table,
    )
    .unwrap();
    let segs = uris(&text(&media));
    assert!(segs.len() >= 4, "{segs:?}");
    // A segment costs its moof round only: its fragments (< 64 KB) are
    // read whole with their moofs, and its payload is sent from those
    // bytes (`Held`), not read again.
    for seg in &segs {
        let url = format!("/sap.mp4/{dir_of}/{seg}");
        let before = origin.log.len();
        let (_, reads) = get(&url, &mut origin, &mut cache, &table).unwrap();
        assert_eq!(reads, 1, "{url}: {:?}", &origin.log[before..]);
        // TS reads its samples through the job: answered from them too.
        let ts = url.replace("m3u8-cmaf", "m3u8-aapl").replace(".m4s", ".ts");
        let (body, reads) = get(&ts, &mut origin, &mut cache, &table).unwrap();
        assert_eq!(reads, 1, "{ts}");
        assert_eq!(body.concat()[0], 0x47, "{ts}");
    }
    // 3 s segments: 6 s ones happen to start at keyframes in both.
    let table = Config {
        segment_ms: 3000,
        ..table
    };
    let mut cache = MemoryCache::default();
    let (media, _) = get(
        &format!("/ffmpeg.mp4/{variant}"),
        &mut origin,
        &mut cache,
        &table,
    )
    .unwrap();
    let errors: Vec<ServeError> = uris(&text(&media))
        .iter()
        .filter_map(|seg| {
            let url = format!("/ffmpeg.mp4/{dir_of}/{seg}");
            get(&url, &mut origin, &mut cache, &table).err()
        })
        .collect();
    assert!(errors
        .iter()
        .all(|e| matches!(e, ServeError::Source(SourceError::Media { .. }))));
    assert!(
        errors.iter().any(|e| e
            .to_string()
            .contains("its sample there is not a sync sample")),
        "{errors:?}"
    );
}

/// An interleaved file with a sidx per track (`muxed_sidx.mp4`): each
/// track's fragments are the whole moof + mdat, so the variant's
/// BANDWIDTH counts them once, not once per track: at least the real
/// peak (video plus audio segment bytes over the segment's duration) and
/// within 1.5× of it, in HLS fMP4 and TS.
#[test]
fn interleaved_bandwidth_counts_each_fragment_once() {
    let Some(root) = frag_root() else { return };
    let table = cfg(TablePolicy::Always);
    for format in ["m3u8-cmaf", "m3u8-aapl"] {
        let mut origin = FileOrigin::new(&root);
        let mut cache = MemoryCache::default();
        let mut fetch = |p: &str| {
            get(
                &format!("/muxed_sidx.mp4/{p}"),
                &mut origin,
                &mut cache,
                &table,
            )
        };
        let (master, _) = fetch(&format!("manifest(format={format})")).unwrap();
        let master = text(&master);
        let bandwidth: f64 = master
            .split("BANDWIDTH=")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        let video = uris(&master).remove(0);
        let audio = master
            .lines()
            .find(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO"))
            .and_then(|l| Some(l.split("URI=\"").nth(1)?.split('"').next()?.to_string()))
            .unwrap();
        let mut sizes = |list: &str| {
            let dir = list.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            let (pl, _) = fetch(list).unwrap();
            let pl = text(&pl);
            let durations: Vec<f64> = pl
                .lines()
                .filter_map(|l| l.strip_prefix("#EXTINF:"))
                .map(|l| l.trim_end_matches(',').parse().unwrap())
                .collect();
            let bytes: Vec<usize> = uris(&pl)
                .iter()
                .map(|s| fetch(&format!("{dir}/{s}")).unwrap().0.concat().len())
                .collect();
            (durations, bytes)
        };
        let (vd, vb) = sizes(&video);
        let (_, ab) = sizes(&audio);
        assert_eq!(vb.len(), ab.len());
        let peak = (0..vb.len())
            .map(|i| (vb[i] + ab[i]) as f64 * 8.0 / vd[i].max(1.0))
            .fold(0.0, f64::max);
        eprintln!("muxed_sidx.mp4 {format}: BANDWIDTH {bandwidth}, real peak {peak:.0}");
        assert!(
            bandwidth >= peak && bandwidth <= 1.5 * peak,
            "{format}: BANDWIDTH {bandwidth}, real peak {peak}"
        );
    }
}

#[test]
fn held_bytes_answer_origin_reads_only() {
    let held = Held {
        path: "a.mp4".into(),
        offset: 100,
        response: ReadResponse {
            data: bytes::Bytes::from(vec![7u8; 50]),
            total_size: 1000,
            etag: "\"v1\"".into(),
        },
    };
    let origin = ReadRequest {
        path: "a.mp4".into(),
        start: 110,
        end: 120,
        if_match: Some("\"v1\"".into()),
        target: crate::source::ReadTarget::Origin,
    };
    assert_eq!(held.answer(&origin).unwrap().data.len(), 10);
    // Outside the held bytes, another version: not from them.
    let past = ReadRequest {
        end: 151,
        ..origin.clone()
    };
    assert!(held.answer(&past).is_none());
    let other = ReadRequest {
        if_match: Some("\"v2\"".into()),
        ..origin.clone()
    };
    assert!(held.answer(&other).is_none());
    // A key provider's POST named like the file is never a slice of it.
    let p = crate::crypto::provider::KeyProvider::parse("http://k.example/", None).unwrap();
    let mut post = crate::source::keyprovider::read(std::sync::Arc::new(p), "a.mp4", "<x/>".into());
    post.start = 110;
    post.end = 120;
    assert!(held.answer(&post).is_none());
}
