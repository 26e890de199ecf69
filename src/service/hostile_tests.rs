//! The hostile inputs of `fixtures/hostile/` (written by
//! `fixtures/hostile.py`) through the whole core, every output format: a
//! manifest, the HLS media playlist and a segment of each. Each answers a
//! clear error (status and reason) or a correct bounded answer, and no
//! request holds more than [`HEAP_BUDGET`] of heap at any moment (counted
//! per thread by `testutil::heap_peak`). Work is bounded by the caps, not
//! by timing; nothing here measures time.

use super::*;
use crate::error::{Cap, LimitError};
use crate::source::{FileOrigin, MemoryCache};
use crate::testutil::{fixtures_dir, heap_peak};
use crate::timeline::{rescale, HNS};
use crate::url::{parse, Route, TrackRef};

/// Heap one request for a hostile object may hold natively (the edge gives
/// a request 128 MB).
const HEAP_BUDGET: usize = 32 << 20;

fn request(path: &str) -> StreamRequest {
    match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

/// One request through `serve` and `materialize` (segments read their
/// runs), from a cold cache: the body, or the error, and the peak heap.
fn get(path: &str) -> (Result<Vec<u8>, ServeError>, usize) {
    heap_peak(|| {
        let mut origin = FileOrigin::new(fixtures_dir("hostile"));
        let mut cache = MemoryCache::default();
        let cfg = Config::default();
        let out = serve(&request(path), &mut origin, &mut cache, &cfg)?;
        let parts = materialize(&out, &mut origin, &cfg)?;
        Ok(parts.iter().flat_map(|b| b.iter().copied()).collect())
    })
}

/// Every kind of request a player makes, in every format, for a track
/// named `name` at `bitrate` and a segment at `time` (100 ns).
fn urls(asset: &str, name: &str, bitrate: u64, time: u64) -> Vec<String> {
    let r = TrackRef {
        bitrate,
        name: name.into(),
    };
    let mut out = Vec::new();
    for format in Format::ALL {
        out.push(crate::url::manifest_url(format));
        if format.is_hls() {
            out.push(crate::url::media_playlist_url(&r, format, false));
        }
        out.push(crate::url::fragment_url(&r, time, format));
    }
    out.into_iter().map(|u| format!("/{asset}/{u}")).collect()
}

/// Every URL of `asset` fails with `status` and a reason `check` accepts,
/// within the heap budget.
fn refused(asset: &str, status: u16, check: impl Fn(&ServeError) -> bool) {
    for url in urls(asset, "video", 1, 0) {
        let (res, heap) = get(&url);
        let e = match res {
            Err(e) => e,
            Ok(b) => panic!("{url}: answered {} bytes", b.len()),
        };
        eprintln!("{url}: {} {e} ({heap} bytes of heap)", e.status());
        assert_eq!(e.status(), status, "{url}: {e}");
        assert!(check(&e), "{url}: {e}");
        assert!(heap < HEAP_BUDGET, "{url}: {heap} bytes of heap");
    }
}

fn limit(e: &ServeError, cap: Cap) -> bool {
    matches!(e, ServeError::Limit(l) if l.cap == cap)
}

#[test]
fn repeated_chunk_offsets_are_invalid_media() {
    for asset in ["repeated_offsets_video.mp4", "repeated_offsets_audio.mp4"] {
        refused(asset, 502, |e| {
            e.to_string()
                .starts_with(&format!("{asset}: invalid MP4: sample data at byte "))
                && e.to_string().contains("overlaps other sample data")
        });
    }
}

#[test]
fn sixteen_million_samples_without_stss_are_refused_before_the_walk() {
    let want = LimitError::new(
        Cap::TrackSamples,
        16_000_000,
        u64::from(crate::index::MAX_TRACK_SAMPLES),
    );
    refused("no_stss_16m.mp4", 502, |e| {
        e.to_string() == format!("no_stss_16m.mp4: {want}")
    });
}

#[test]
fn absurd_sample_counts_are_refused_before_the_walk() {
    let want = LimitError::new(Cap::FileSamples, 3_800_000, crate::index::MAX_FILE_SAMPLES);
    refused("absurd_counts.mp4", 502, |e| {
        e.to_string() == format!("absurd_counts.mp4: {want}")
    });
}

#[test]
fn absurd_durations_do_not_make_a_huge_timeline() {
    // 40 000 one-hour samples: a one-hour step, 40 001 boundaries.
    refused("absurd_durations.mp4", LimitError::STATUS, |e| {
        matches!(e, ServeError::Limit(l) if *l == LimitError::new(
            Cap::TimelineSegments,
            40_001,
            crate::timeline::MAX_TIMELINE_SEGMENTS as u64,
        ))
    });
}

#[test]
fn one_keyframe_for_the_whole_title_is_refused_not_one_huge_segment() {
    // 10 000 samples at 24 fps in one segment; 10 targets of 6 s of the
    // track's average are 1 440.
    refused("one_keyframe.mp4", LimitError::STATUS, |e| {
        limit(e, Cap::SegmentSamplesForRate)
            && e.to_string()
                .starts_with("a segment of 10000 samples is over 1440")
    });
}

#[test]
fn truncated_files_and_tables_past_the_end_are_502_naming_the_cut() {
    let whole = std::fs::metadata(fixtures_dir("hostile").join("faststart.mp4"))
        .unwrap()
        .len();
    for (asset, of) in [
        ("truncated_faststart.mp4", Some(whole)),
        ("chunk_past_end.mp4", None),
    ] {
        let at = std::fs::metadata(fixtures_dir("hostile").join(asset))
            .unwrap()
            .len();
        refused(asset, 502, |e| {
            let prefix = format!("{asset}: media truncated at byte {at} of ");
            let Some(rest) = e.to_string().strip_prefix(&prefix).map(str::to_owned) else {
                return false;
            };
            let need: u64 = rest.parse().unwrap_or(0);
            need > at && of.is_none_or(|of| need == of)
        });
    }
    // The whole file is served.
    let (res, _) = get("/faststart.mp4/manifest(format=m3u8-cmaf)");
    assert!(res.is_ok(), "{res:?}");
}

#[test]
fn ism_with_95k_attributes_or_20k_elements_is_refused() {
    for (asset, reason) in [
        ("attributes.ism", "more than 64 attributes on one element"),
        ("elements.ism", "more than 4096 elements"),
    ] {
        let (res, heap) = get(&format!("/{asset}/manifest(format=m3u8-cmaf)"));
        let e = res.unwrap_err();
        assert_eq!(e.status(), 502, "{e}");
        assert!(e.to_string().contains(reason), "{e}");
        assert!(heap < HEAP_BUDGET, "{asset}: {heap} bytes of heap");
    }
}

/// A video track without `stss` (every sample a keyframe) is valid: every
/// format answers, the index stores no sync table, and the timeline cuts it
/// every 6 s like audio.
#[test]
fn video_without_stss_is_a_bounded_answer() {
    let asset = "no_stss_long.mp4";
    let mut origin = FileOrigin::new(fixtures_dir("hostile"));
    let mut cache = MemoryCache::default();
    let set = load_set(
        &request(&format!("/{asset}/manifest.mpd")).asset,
        &mut origin,
        &mut cache,
        &Config::default(),
    )
    .unwrap();
    let t = &set.tracks[0];
    let idx = set.track_index(t);
    assert!(idx.all_sync());
    assert_eq!(idx.sync_count(), 0);
    assert_eq!(idx.sample_count(), 12_000);
    // A flags byte a sample (every field repeats) plus the block
    // directory: no 24-byte keyframe entry a sample.
    let blob = set.files[0].index.blob.len();
    assert!(blob < 12_000 * 2, "{blob} bytes of index");
    let segs = set.segments(t).unwrap();
    assert_eq!(segs.len(), 84, "500 s in 6 s segments");
    assert!(segs.iter().all(|s| s.samples.end - s.samples.start <= 144));
    let ts = idx.info.timescale;
    let time = rescale(segs[3].start, ts, HNS) as u64;
    for url in urls(asset, &t.name, t.bitrate, time) {
        let (res, heap) = get(&url);
        let body = res.unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(!body.is_empty(), "{url}");
        assert!(heap < HEAP_BUDGET, "{url}: {heap} bytes of heap");
        if url.contains("Fragments") && !url.contains("m3u8-aapl") {
            // 144 samples of 5 bytes behind a moof.
            assert!(body.len() < 4096, "{url}: {} bytes", body.len());
        }
    }
}

/// A sample entry type outside `[A-Za-z0-9 .-]` is percent-encoded in
/// every manifest; formats that cannot carry the track refuse it by name.
#[test]
fn unknown_fourcc_never_reaches_a_manifest_raw() {
    let raw = "a,b\"";
    for format in Format::ALL {
        let url = format!("/bad_fourcc.mp4/{}", crate::url::manifest_url(format));
        let (res, _) = get(&url);
        match res {
            Ok(body) => {
                let body = String::from_utf8(body).unwrap();
                assert!(!body.contains(raw), "{url}: {body}");
                if format.is_hls() || format.is_dash() {
                    assert!(body.contains("a%2Cb%22"), "{url}: {body}");
                }
                if format == Format::HlsCmaf {
                    assert!(body.contains("CODECS=\"a%2Cb%22,mp4a.40.2\""), "{body}");
                }
            }
            Err(e) => assert_eq!(e.status(), 501, "{url}: {e}"),
        }
    }
}

/// Two audio files of 15 000 six-second samples: each timeline is within
/// its cap, but a manifest listing both would hold 30 000 entries, over
/// [`MAX_MANIFEST_SEGMENTS`]; refused before any is located. A media
/// playlist of one of them is within the cap and answers.
#[test]
fn manifests_over_the_segment_cap_are_refused_before_writing() {
    use crate::media_set::{MediaSet, SourceFile};
    use crate::testutil::{synth_index, SynthTrack};
    let track = || {
        let mut a = SynthTrack::audio(15_000);
        a.edit = None;
        for s in &mut a.samples {
            s.0 = 6 * 48_000;
            s.1 = 1;
        }
        a
    };
    let files = (0..2)
        .map(|i| SourceFile {
            path: format!("{i}.mp4"),
            index: synth_index(&[track()]),
        })
        .collect();
    let set = MediaSet::all_tracks(files, 6000).unwrap();
    for format in Format::ALL {
        let req = request(&format!("/x.mp4/{}", crate::url::manifest_url(format)));
        let (res, heap) = heap_peak(|| answer(&set, &req));
        assert_eq!(
            res.unwrap_err(),
            ServeError::Limit(LimitError::new(
                Cap::ManifestSegments,
                2 * 15_000,
                MAX_MANIFEST_SEGMENTS
            )),
            "{format:?}"
        );
        assert!(heap < 1 << 20, "{format:?}: {heap} bytes of heap");
    }
    let t = &set.tracks[0];
    let r = TrackRef {
        bitrate: t.bitrate,
        name: t.name.clone(),
    };
    let url = crate::url::media_playlist_url(&r, Format::HlsCmaf, false);
    let (res, heap) = heap_peak(|| answer(&set, &request(&format!("/x.mp4/{url}"))));
    let Ok(Output::Text { body, .. }) = res else {
        panic!("{res:?}")
    };
    assert_eq!(body.matches("#EXTINF").count(), 15_000);
    assert!(heap < HEAP_BUDGET, "{heap} bytes of heap");
}

#[test]
fn manifest_bodies_over_the_byte_cap_are_refused() {
    let big = "#".repeat(MAX_MANIFEST_BYTES as usize + 1);
    assert_eq!(
        text(CT_HLS, big, Vec::new()).unwrap_err(),
        ServeError::Limit(LimitError::new(
            Cap::ManifestBytes,
            MAX_MANIFEST_BYTES + 1,
            MAX_MANIFEST_BYTES
        ))
    );
    assert_eq!(
        ServeError::Limit(LimitError::new(Cap::ManifestBytes, 2, 1)).status(),
        502
    );
}

/// An MPEG-TS segment reads its samples into the heap: samples spread over
/// more than [`ts::MAX_TS_READ_BYTES`] of the file are refused before any
/// read is planned. (The index is built as if the object were that large.)
#[test]
fn ts_segments_never_read_more_than_the_cap() {
    use crate::media_set::{MediaSet, SourceFile};
    use crate::mp4::walk::{locate_moov, Probe};
    use crate::testutil::{synth_mp4, SynthTrack};
    let mut audio = SynthTrack::audio(20);
    audio.edit = None;
    let mut file = synth_mp4(&[audio]).to_vec();
    let at = (0..file.len() - 4)
        .find(|&i| &file[i..i + 4] == b"co64")
        .unwrap();
    // 20 chunks 4 MiB apart: 76 MiB from the first sample to the last.
    for i in 0..20u64 {
        let e = at + 12 + 8 * i as usize;
        file[e..e + 8].copy_from_slice(&(1000 + (i << 22)).to_be_bytes());
    }
    let Probe::Moov { offset, size } = locate_moov(&file, 0, 0, file.len() as u64).unwrap() else {
        panic!()
    };
    let moov = bytes::Bytes::from(file).slice(offset as usize..(offset + size) as usize);
    let index = crate::index::build(moov, offset, 1 << 40, "").unwrap();
    let set = MediaSet::all_tracks(
        vec![SourceFile {
            path: "a.mp4".into(),
            index,
        }],
        6000,
    )
    .unwrap();
    let t = &set.tracks[0];
    let url = format!(
        "/a.mp4/QualityLevels({})/Fragments({}=0,format=m3u8-aapl)",
        t.bitrate, t.name
    );
    match answer(&set, &request(&url)) {
        Err(ServeError::Limit(l)) => {
            assert_eq!(l.cap, Cap::SegmentReadBytes);
            assert_eq!(
                l.value,
                (19 << 22) + u64::from(set.track_index(t).sample(19).unwrap().size)
            );
            assert_eq!(l.max, ts::MAX_TS_READ_BYTES);
        }
        r => panic!("{r:?}"),
    }
    // CMAF splices the same runs host-side: served.
    let url = url.replace("m3u8-aapl", "m3u8-cmaf");
    assert!(answer(&set, &request(&url)).is_ok());
}

/// Hostile fragmented files (fixtures/hostile.py `frag_*`): each a clear
/// status and reason in every format, within the heap budget.
#[test]
fn hostile_fragmented_files_are_refused_with_their_reason() {
    for (asset, status, reason) in [
        (
            "frag_trun_count.mp4",
            502,
            "4294967295 samples need 17179869180 bytes",
        ),
        ("frag_data_past_end.mp4", 502, "media truncated at byte"),
        ("frag_box_past_end.mp4", 502, "runs past the end"),
        ("frag_tiny_box.mp4", 502, "smaller than its header"),
        ("frag_encrypted.mp4", 501, "encrypted input"),
    ] {
        refused(asset, status, |e| e.to_string().contains(reason));
    }
}
