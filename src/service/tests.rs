use super::*;
use crate::source::{FileOrigin, MemoryCache};
use crate::testutil::TempDir;
use crate::url::{parse, Route};
use std::path::{Path, PathBuf};

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir)
}

fn request(path: &str) -> StreamRequest {
    match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

fn get(
    path: &str,
    origin: &mut FileOrigin,
    cache: &mut MemoryCache,
) -> Result<Vec<u8>, ServeError> {
    get_with(path, origin, cache, &Config::default())
}

fn get_with(
    path: &str,
    origin: &mut FileOrigin,
    cache: &mut MemoryCache,
    cfg: &Config,
) -> Result<Vec<u8>, ServeError> {
    let out = serve(&request(path), origin, cache, cfg)?;
    let parts = materialize(&out, origin, cfg)?;
    let body: Vec<u8> = parts.iter().flat_map(|b| b.iter().copied()).collect();
    if !matches!(out, Output::Ts(_)) {
        assert_eq!(
            body.len() as u64,
            out.len(),
            "length known up front for {path}"
        );
    }
    Ok(body)
}

#[test]
fn cold_and_warm_manifest_reads() {
    let mut origin = FileOrigin::new(fixtures("small"));
    let mut cache = MemoryCache::default();
    // Faststart file: one head read covers the moov.
    get("/avc_bframes.mp4/master.m3u8", &mut origin, &mut cache).unwrap();
    assert_eq!(origin.log.len(), 1);
    // Moov at the end: head + tail.
    origin.log.clear();
    get("/muxed_moov_end.mp4/manifest.mpd", &mut origin, &mut cache).unwrap();
    assert!(origin.log.len() <= 2, "{:?}", origin.log);
    if let Some(media) = crate::testutil::media_or_skip(
        "cold_and_warm_manifest_reads (4 MB moov-at-end file)",
        "muxed_moov_end.mp4",
    ) {
        // 4 MB file: the head read cannot hold it, the second read is the
        // tail with the moov.
        let mut big = FileOrigin::new(media);
        get(
            "/muxed_moov_end.mp4/manifest.mpd",
            &mut big,
            &mut MemoryCache::default(),
        )
        .unwrap();
        assert_eq!(big.log.len(), 2, "{:?}", big.log);
    }
    // Warm: nothing from the origin.
    origin.log.clear();
    get("/muxed_moov_end.mp4/master.m3u8", &mut origin, &mut cache).unwrap();
    assert!(origin.log.is_empty());
}

#[test]
fn warm_segment_of_single_track_file_is_one_read() {
    let mut origin = FileOrigin::new(fixtures("small"));
    let mut cache = MemoryCache::default();
    get("/avc_bframes.mp4/master.m3u8", &mut origin, &mut cache).unwrap();
    origin.log.clear();
    let seg = get(
        "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-cmaf)",
        &mut origin,
        &mut cache,
    )
    .unwrap();
    assert_eq!(origin.log.len(), 1);
    assert!(
        origin.log[0].if_match.is_some(),
        "payload reads are conditional"
    );
    assert_eq!(&seg[4..8], b"styp");
}

#[test]
fn interleaved_segment_is_one_read() {
    // This fixture interleaves every frame: a 6 s audio segment has ~95
    // runs between video frames, all within a few hundred KB. A round trip
    // costs more than reading the video in between (`plan::ReadCost`), so
    // each segment is one read of its runs' span.
    let mut origin = FileOrigin::new(fixtures("small"));
    let mut cache = MemoryCache::default();
    get("/muxed_moov_end.mp4/master.m3u8", &mut origin, &mut cache).unwrap();
    for track in ["audio=0", "video=0"] {
        origin.log.clear();
        let path =
            format!("/muxed_moov_end.mp4/QualityLevels(1)/Fragments({track},format=m3u8-cmaf)");
        let seg = get(&path, &mut origin, &mut cache).unwrap();
        assert_eq!(origin.log.len(), 1, "{track}: {:?}", origin.log);
        let read = origin.log[0].end - origin.log[0].start;
        assert!(read >= seg.len() as u64 - 2048, "{track}: read {read}");
        assert!(read < 1 << 20, "{track}: read {read}");
    }
}

#[test]
fn muxed_ts_segment_reads_its_file_once() {
    // HLS v3 muxes the audio into the video's TS segments: both tracks'
    // samples come from one interleaved file and are planned together, so
    // no span is read twice.
    let mut origin = FileOrigin::new(fixtures("small"));
    let mut cache = MemoryCache::default();
    get(
        "/muxed_moov_end.mp4/manifest(format=m3u8-aapl-v3)",
        &mut origin,
        &mut cache,
    )
    .unwrap();
    origin.log.clear();
    let seg = get(
        "/muxed_moov_end.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl-v3)",
        &mut origin,
        &mut cache,
    )
    .unwrap();
    assert_eq!(seg[0], 0x47, "a TS packet");
    assert_eq!(origin.log.len(), 1, "{:?}", origin.log);
}

#[test]
fn errors_map_to_statuses() {
    let mut origin = FileOrigin::new(fixtures("small"));
    let mut cache = MemoryCache::default();
    let status =
        |p: &str, o: &mut FileOrigin, c: &mut MemoryCache| get(p, o, c).unwrap_err().status();
    assert_eq!(
        status("/nope.mp4/master.m3u8", &mut origin, &mut cache),
        404
    );
    assert_eq!(
        status(
            "/aac.mp4/QualityLevels(1)/Fragments(nosuch=0,format=m3u8-cmaf)",
            &mut origin,
            &mut cache
        ),
        404
    );
    assert_eq!(
        status(
            "/aac.mp4/QualityLevels(1)/Fragments(audio=999990000000,format=m3u8-cmaf)",
            &mut origin,
            &mut cache
        ),
        404
    );
    assert_eq!(
        status(
            "/aac.mp4/manifest(format=mpd-time-cmaf,encryption=cenc)",
            &mut origin,
            &mut cache
        ),
        501
    );
    // Not an MP4 at all.
    let dir = TempDir::new("bad");
    std::fs::write(dir.join("junk.mp4"), vec![0x41u8; 5000]).unwrap();
    let full = std::fs::read(fixtures("small").join("avc_bframes.mp4")).unwrap();
    std::fs::write(dir.join("cut.mp4"), &full[..full.len() / 3]).unwrap();
    let mut bad = FileOrigin::new(dir.path());
    assert_eq!(status("/junk.mp4/master.m3u8", &mut bad, &mut cache), 502);
    // The moov is at the front, so a cut file still has whole tables; the
    // samples they list past the end are missing, and serving the rest
    // would be a silently shorter title.
    let cut = get("/cut.mp4/master.m3u8", &mut bad, &mut cache).unwrap_err();
    assert_eq!(cut.status(), 502);
    let want = format!(
        "cut.mp4: media truncated at byte {} of {}",
        full.len() / 3,
        full.len()
    );
    assert_eq!(cut.to_string(), want);
}

/// Every URL of a title, by walking the manifests the way a player does.
fn crawl(
    asset: &str,
    format: Format,
    origin: &mut FileOrigin,
    cache: &mut MemoryCache,
) -> Vec<(String, Vec<u8>)> {
    let set = load_set(
        &request(&format!("/{asset}/manifest.mpd")).asset,
        origin,
        cache,
        &Config::default(),
    )
    .unwrap();
    let mut urls = vec![crate::url::manifest_url(format)
        .split(".m3u8")
        .next()
        .unwrap()
        .split(".mpd")
        .next()
        .unwrap()
        .to_string()];
    for t in &set.tracks {
        let r = crate::url::TrackRef {
            bitrate: t.bitrate,
            name: t.name.clone(),
        };
        if format.is_hls() {
            urls.push(crate::url::media_playlist_url(&r, format, false));
        }
        if !matches!(format, Format::HlsTs | Format::HlsTsV3) && !format.is_smooth() {
            urls.push(crate::url::init_url(&r, format));
        }
        for s in set.segments(t).unwrap().iter() {
            let ts = set.track_index(t).info.timescale;
            let time = crate::timeline::rescale(s.start, ts, crate::timeline::HNS) as u64;
            urls.push(crate::url::fragment_url(&r, time, format));
        }
    }
    urls.into_iter()
        .map(|u| {
            let body =
                get(&format!("/{asset}/{u}"), origin, cache).unwrap_or_else(|e| panic!("{u}: {e}"));
            (u, body)
        })
        .collect()
}

fn ffmpeg_ok(args: &[&str]) -> Result<(), String> {
    let o = std::process::Command::new("ffmpeg")
        .args(["-v", "error"])
        .args(args)
        .args(["-f", "null", "-"])
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    if o.status.success() && err.trim().is_empty() {
        Ok(())
    } else {
        Err(err)
    }
}

#[test]
fn hls_and_dash_written_to_disk_decode_with_ffmpeg() {
    if std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_err()
    {
        eprintln!("ffmpeg missing: skipped");
        return;
    }
    let mut cases = vec![
        ("small", "muxed_moov_end.mp4"),
        ("small", "avc_bframes.mp4"),
        ("small", "aac.mp4"),
    ];
    if crate::testutil::media_or_skip(
        "hls_and_dash_written_to_disk_decode_with_ffmpeg (ABR set)",
        "abr/abr.ism",
    )
    .is_some()
    {
        cases.push(("media", "abr/abr.ism"));
        cases.push(("media", "multilang.mp4"));
    }
    for (root, asset) in cases {
        let mut origin = FileOrigin::new(fixtures(root));
        let mut cache = MemoryCache::default();
        for format in [
            Format::HlsCmaf,
            Format::DashCmaf,
            Format::HlsTs,
            Format::HlsTsV3,
        ] {
            let dir = TempDir::new(&format!("out-{}-{format:?}", asset.replace('/', "_")));
            for (url, body) in crawl(asset, format, &mut origin, &mut cache) {
                let path = dir.join(&url);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, body).unwrap();
            }
            let manifest = dir.join(
                crate::url::manifest_url(format)
                    .split(".m3u8")
                    .next()
                    .unwrap()
                    .split(".mpd")
                    .next()
                    .unwrap(),
            );
            let m = manifest.to_str().unwrap();
            // Our URIs carry .m4s/.mp4 extensions, so ffmpeg's extension
            // checks pass without `-allowed_extensions ALL`.
            ffmpeg_ok(&["-i", m, "-map", "0"])
                .unwrap_or_else(|e| panic!("{asset} {format:?}: {e}"));
        }
    }
}

#[test]
fn iframe_playlist_ranges_end_exactly_at_the_keyframe() {
    let mut origin = FileOrigin::new(fixtures("small"));
    let mut cache = MemoryCache::default();
    let cfg = Config::default();
    let master = String::from_utf8(
        get(
            "/avc_bframes.mp4/manifest(format=m3u8-aapl)",
            &mut origin,
            &mut cache,
        )
        .unwrap(),
    )
    .unwrap();
    let line = master
        .lines()
        .find(|l| l.starts_with("#EXT-X-I-FRAME-STREAM-INF"))
        .expect("I-frame stream listed");
    let uri = line.split("URI=\"").nth(1).unwrap().trim_end_matches('"');
    let playlist = String::from_utf8(
        get(&format!("/avc_bframes.mp4/{uri}"), &mut origin, &mut cache).unwrap(),
    )
    .unwrap();
    assert!(playlist.contains("#EXT-X-I-FRAMES-ONLY"));
    let lines: Vec<&str> = playlist.lines().collect();
    let mut checked = 0;
    for (i, l) in lines.iter().enumerate() {
        let Some(range) = l.strip_prefix("#EXT-X-BYTERANGE:") else {
            continue;
        };
        let len: u64 = range.split('@').next().unwrap().parse().unwrap();
        let seg_path = format!("/avc_bframes.mp4/QualityLevels(1)/{}", lines[i + 1]);
        let Output::TsBuilt { segment: seg, .. } =
            serve(&request(&seg_path), &mut origin, &mut cache, &cfg).unwrap()
        else {
            panic!()
        };
        assert_eq!(seg.segment().keyframe_ranges()[0].end, len, "{seg_path}");
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn smooth_manifest_and_every_fragment_resolve() {
    let mut origin = FileOrigin::new(fixtures("small"));
    let mut cache = MemoryCache::default();
    for format in [Format::Smooth, Format::SmoothV20] {
        for asset in ["muxed_moov_end.mp4", "aac.mp4"] {
            let pages = crawl(asset, format, &mut origin, &mut cache);
            let manifest = String::from_utf8(pages[0].1.clone()).unwrap();
            assert!(manifest.contains("<SmoothStreamingMedia"), "{manifest}");
            for (url, body) in &pages[1..] {
                assert_eq!(&body[4..8], b"moof", "{url}");
            }
        }
    }
    let err = get(
        "/aac.mp4/QualityLevels(1)/Fragments(audio=i)",
        &mut origin,
        &mut cache,
    )
    .unwrap_err();
    assert_eq!(err.status(), 404);
}

/// First PTS (90 kHz) of each PID in a TS segment.
fn first_pts(ts: &[u8]) -> std::collections::BTreeMap<u16, u64> {
    let mut out = std::collections::BTreeMap::new();
    for p in ts.chunks_exact(188) {
        let pid = u16::from(p[1] & 0x1f) << 8 | u16::from(p[2]);
        if p[1] & 0x40 == 0 || pid == 0 || pid == 0x1000 || out.contains_key(&pid) {
            continue;
        }
        let mut at = 4;
        if p[3] & 0x20 != 0 {
            at += 1 + usize::from(p[4]);
        }
        let pes = &p[at..];
        assert_eq!(&pes[..3], &[0, 0, 1]);
        let b = &pes[9..14];
        let pts = (u64::from(b[0] >> 1) & 7) << 30
            | u64::from(b[1]) << 22
            | (u64::from(b[2]) >> 1) << 15
            | u64::from(b[3]) << 7
            | u64::from(b[4]) >> 1;
        out.insert(pid, pts);
    }
    out
}

/// The 30 s generated file at the default 6 s target when it is there,
/// and always the committed 4 s one at 1 s (its keyframes are 1 s apart),
/// so both have several segments.
#[test]
fn ts_audio_and_video_start_together_in_every_segment() {
    let one_second = Config {
        segment_ms: 1000,
        ..Config::default()
    };
    ts_starts_together(fixtures("small"), &one_second);
    if let Some(media) = crate::testutil::media_or_skip(
        "ts_audio_and_video_start_together_in_every_segment (30 s file)",
        "muxed_moov_end.mp4",
    ) {
        ts_starts_together(media, &Config::default());
    }
}

fn ts_starts_together(root: PathBuf, cfg: &Config) {
    let mut origin = FileOrigin::new(root);
    let mut cache = MemoryCache::default();
    let set = load_set(
        &request("/muxed_moov_end.mp4/manifest.mpd").asset,
        &mut origin,
        &mut cache,
        cfg,
    )
    .unwrap();
    let video = set.tracks.iter().find(|t| t.name == "video").unwrap();
    let audio = set.tracks.iter().find(|t| t.name == "audio").unwrap();
    let vts = set.track_index(video).info.timescale;
    let frame_90k = 90_000 * set.track_index(video).info.duration
        / u64::from(set.track_index(video).info.sample_count)
        / u64::from(vts);
    let segs = set.segments(video).unwrap();
    let audio_segs = set.segments(audio).unwrap();
    let ats = set.track_index(audio).info.timescale;
    assert!(segs.len() > 1);
    assert_eq!(segs.len(), audio_segs.len());
    for (s, sa) in segs.iter().zip(audio_segs.iter()) {
        let time = crate::timeline::rescale(s.start, vts, crate::timeline::HNS) as u64;
        // The audio playlist lists the audio segment's own start.
        let atime = crate::timeline::rescale(sa.start, ats, crate::timeline::HNS).max(0) as u64;
        // Muxed (v3): one TS with both.
        let muxed = get_with(
            &format!(
                "/muxed_moov_end.mp4/QualityLevels(1)/Fragments(video={time},format=m3u8-aapl-v3)"
            ),
            &mut origin,
            &mut cache,
            cfg,
        )
        .unwrap();
        let pts = first_pts(&muxed);
        let (v, a) = (pts[&0x100], pts[&0x101]);
        assert!(
            v.abs_diff(a) <= frame_90k,
            "segment at {time}: video {v} audio {a}"
        );
        // Separate (v4): video TS and audio TS of the same segment.
        let v4 = first_pts(
            &get_with(
                &format!(
                    "/muxed_moov_end.mp4/QualityLevels(1)/Fragments(video={time},format=m3u8-aapl)"
                ),
                &mut origin,
                &mut cache,
                cfg,
            )
            .unwrap(),
        )[&0x100];
        let a4 = first_pts(&get_with(&format!("/muxed_moov_end.mp4/QualityLevels({})/Fragments(audio={atime},format=m3u8-aapl)", audio.bitrate), &mut origin, &mut cache, cfg).unwrap())[&0x101];
        assert!(
            v4.abs_diff(a4) <= frame_90k,
            "separate segment at {time}: video {v4} audio {a4}"
        );
        // And both equal the manifest's segment start (+ the 10 s TS offset).
        let expect =
            900_000 + u64::try_from(crate::timeline::rescale(s.start, vts, 90_000)).unwrap();
        assert!(v4.abs_diff(expect) <= 1, "{v4} vs {expect}");
    }
}

/// Renditions a format leaves out are named, with the reason, on the
/// manifest (the edge turns this into a header and a log line): an
/// unaligned rendition in Smooth, HEVC in MPEG-TS. HLS fMP4 serves both.
#[test]
fn omitted_renditions_are_named() {
    let mut origin = FileOrigin::new(fixtures("small"));
    let mut cache = MemoryCache::default();
    let cfg = Config::default();
    let omitted = |path: &str, origin: &mut FileOrigin, cache: &mut MemoryCache| match serve(
        &request(path),
        origin,
        cache,
        &cfg,
    )
    .unwrap()
    {
        Output::Text { omitted, .. } => omitted,
        o => panic!("{o:?}"),
    };
    let set = "/,avc_bframes,avc_gop40,.mp4.urlset";
    let smooth = omitted(&format!("{set}/manifest"), &mut origin, &mut cache);
    assert_eq!(smooth.len(), 1, "{smooth:?}");
    assert!(smooth[0].contains("keyframes do not align"), "{smooth:?}");
    let hls = omitted(
        &format!("{set}/manifest(format=m3u8-cmaf)"),
        &mut origin,
        &mut cache,
    );
    assert!(hls.is_empty());
    let ts = omitted(
        "/,avc_bframes,hevc,.mp4.urlset/manifest(format=m3u8-aapl)",
        &mut origin,
        &mut cache,
    );
    assert!(
        ts.len() == 1 && ts[0].contains("MPEG-TS cannot carry HEVC"),
        "{ts:?}"
    );
}

/// The TS size estimate behind BANDWIDTH is never below a real segment
/// (RFC 8216 §4.3.4.2: BANDWIDTH ≥ every segment's bitrate).
#[test]
fn ts_size_estimate_is_an_upper_bound() {
    let mut origin = FileOrigin::new(fixtures("small"));
    let mut cache = MemoryCache::default();
    let cfg = Config {
        segment_ms: 1000,
        ..Config::default()
    };
    for name in ["avc_bframes.mp4", "aac.mp4", "muxed_moov_end.mp4"] {
        let set = load_set(
            &request(&format!("/{name}/manifest.mpd")).asset,
            &mut origin,
            &mut cache,
            &cfg,
        )
        .unwrap();
        for t in &set.tracks {
            let idx = set.track_index(t);
            for s in set.segments(t).unwrap().iter() {
                let time =
                    crate::timeline::rescale(s.start, idx.info.timescale, crate::timeline::HNS);
                let path = format!(
                    "/{name}/QualityLevels({})/Fragments({}={time},format=m3u8-aapl)",
                    t.bitrate, t.name
                );
                let Output::TsBuilt { segment, .. } =
                    serve(&request(&path), &mut origin, &mut cache, &cfg).unwrap()
                else {
                    panic!("{path}")
                };
                let lead = set.lead_bytes(t, s).unwrap();
                let estimate = hls::segment_size(idx, s, lead, Format::HlsTs);
                assert!(
                    estimate >= segment.len(),
                    "{path}: estimate {estimate} < {}",
                    segment.len()
                );
            }
        }
    }
}

/// One output, one URL (issue 11): every segment time the manifests write
/// answers, and a time next to it — still within the same segment, which
/// the packager used to round to — is 404 in every protocol.
#[test]
fn only_the_written_segment_times_answer() {
    let mut origin = FileOrigin::new(fixtures("small"));
    let mut cache = MemoryCache::default();
    let asset = "avc_bframes.mp4";
    for format in [
        Format::HlsCmaf,
        Format::HlsTs,
        Format::DashCmaf,
        Format::Smooth,
    ] {
        let mut fragments = 0;
        for (url, _) in crawl(asset, format, &mut origin, &mut cache) {
            let Some((head, rest)) = url.split_once("Fragments(") else {
                continue;
            };
            let Some((track, rest)) = rest.split_once('=') else {
                continue;
            };
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let Ok(time) = digits.parse::<u64>() else {
                continue; // `=i`: the init segment
            };
            fragments += 1;
            let tail = &rest[digits.len()..];
            for near in [time + 1, time + 10_000]
                .into_iter()
                .chain(time.checked_sub(1))
            {
                let moved = format!("/{asset}/{head}Fragments({track}={near}{tail}");
                match get(&moved, &mut origin, &mut cache) {
                    Err(e) => assert_eq!(e.status(), 404, "{moved}: {e}"),
                    Ok(_) => panic!("{moved} answered: not a written time"),
                }
            }
        }
        assert!(fragments > 0, "{format:?}: no fragment URLs crawled");
    }
}
