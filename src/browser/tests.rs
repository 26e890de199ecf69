//! The session driven as JS drives it, with a directory as the bucket:
//! rounds of `request` → fetch the needed reads → `provide`/`fail`.

use super::*;
use crate::service::{materialize, serve};
use crate::source::{FileOrigin, Origin};
use crate::testutil::TempDir;
use std::path::{Path, PathBuf};

fn small() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small")
}

/// What JS does for one needed read: fetch it (here from a directory) and
/// provide the body, or report the failure with an HTTP status.
fn fetch(s: &mut Session, bucket: &mut FileOrigin, r: &ReadRequest) {
    match bucket.read(std::slice::from_ref(r)).remove(0) {
        Ok(resp) => s
            .provide(&r.path, r.start, resp.data, resp.total_size, &resp.etag)
            .unwrap(),
        Err(e) => s.fail(&r.path, r.start, e.status(), &e.to_string()),
    }
}

/// Runs the rounds; returns the response and how many rounds needed reads.
fn drive(s: &mut Session, bucket: &mut FileOrigin, path: &str) -> (Done, usize) {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    for round in 0..8 {
        match s.request(path, query) {
            Reply::Done(d) => return (d, round),
            Reply::Need(needs) => {
                assert!(!needs.is_empty());
                for r in &needs {
                    fetch(s, bucket, r);
                }
            }
        }
    }
    panic!("{path}: no answer after 8 rounds");
}

fn body(d: &Done) -> Vec<u8> {
    d.body.iter().flat_map(|b| b.iter().copied()).collect()
}

/// The same request answered directly over the directory (the native CLI).
fn direct(path: &str) -> Vec<u8> {
    let Ok(Route::Stream(req)) = url::parse(path, None) else {
        panic!("{path}");
    };
    let mut origin = FileOrigin::new(small());
    let cfg = Config::default();
    let out = serve(&req, &mut origin, &mut MemoryCache::default(), &cfg).unwrap();
    let parts = materialize(&out, &mut origin, &cfg).unwrap();
    parts.iter().flat_map(|b| b.iter().copied()).collect()
}

#[test]
fn manifests_and_segments_match_the_native_path() {
    let mut s = Session::new(0);
    let mut bucket = FileOrigin::new(small());
    let cases = [
        ("/avc_bframes.mp4/master.m3u8", crate::service::CT_HLS),
        (
            "/muxed_moov_end.mp4/manifest(format=mpd-time-cmaf)",
            crate::service::CT_DASH,
        ),
        ("/muxed_moov_end.mp4/manifest", crate::service::CT_SMOOTH),
        (
            "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=i,format=m3u8-cmaf)",
            crate::service::CT_MP4_VIDEO,
        ),
        (
            "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-cmaf)",
            crate::service::CT_MP4_VIDEO,
        ),
        (
            "/muxed_moov_end.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl-v3)",
            crate::service::CT_TS,
        ),
    ];
    for (path, ct) in cases {
        let (d, _) = drive(&mut s, &mut bucket, path);
        assert_eq!(
            (d.status, d.content_type),
            (200, ct),
            "{path}: {}",
            d.reason
        );
        assert_eq!(body(&d), direct(path), "{path}");
        assert_eq!(s.stored_bytes(), 0, "{path}: payload dropped once answered");
    }
}

#[test]
fn rounds_cold_and_warm() {
    let mut s = Session::new(0);
    let mut bucket = FileOrigin::new(small());
    // Faststart: one round (the head read holds the moov).
    let (d, rounds) = drive(&mut s, &mut bucket, "/avc_bframes.mp4/master.m3u8");
    assert_eq!((d.status, rounds), (200, 1));
    // The index, its version record and the set summary (`summary`).
    assert_eq!(s.cached_entries(), 3);
    // Warm: the index is cached, no reads.
    let (d, rounds) = drive(&mut s, &mut bucket, "/avc_bframes.mp4/manifest.mpd");
    assert_eq!((d.status, rounds), (200, 0));
    // A segment needs its payload: one round, with If-Match.
    let seg = "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-cmaf)";
    let Reply::Need(needs) = s.request(seg, None) else {
        panic!("segment without reads");
    };
    assert!(needs.iter().all(|r| r.if_match.is_some()), "{needs:?}");
    let (d, rounds) = drive(&mut s, &mut bucket, seg);
    assert_eq!((d.status, rounds), (200, 1));
    assert!(d.immutable);
}

#[test]
fn errors() {
    let mut s = Session::new(0);
    let mut bucket = FileOrigin::new(small());
    for (path, status) in [
        ("/a/../b.mp4/master.m3u8", 400),
        ("/avc_bframes.mp4/manifest(format=nope)", 400),
        ("/nope.mp4/master.m3u8", 404),
        ("/avc_bframes.mp4/manifest(encryption=cenc)", 501),
        (
            "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=999990000000,format=m3u8-cmaf)",
            404,
        ),
        ("/player", 404),
        ("/health", 200),
    ] {
        let (d, _) = drive(&mut s, &mut bucket, path);
        assert_eq!(d.status, status, "{path}: {}", d.reason);
        if status != 200 {
            assert_eq!(d.content_type, CT_ERROR);
            assert!(!d.reason.is_empty());
            assert_eq!(body(&d), format!("{}\n", d.reason).into_bytes());
        }
    }
    // Failures are not kept: once the file exists, it is found.
    assert_eq!(s.stored_bytes(), 0);
    let mut s = Session::new(0);
    s.fail("x.mp4", 0, 403, "Forbidden");
    let Reply::Done(d) = s.request("/x.mp4/master.m3u8", None) else {
        panic!("403 not reported");
    };
    assert_eq!(d.status, 502);
    assert!(d.reason.contains("check origin auth"), "{}", d.reason);
}

#[test]
fn a_416_to_the_first_read_is_an_empty_object() {
    // What a bucket answers to `Range: bytes=0-…` on a 0-byte object.
    let mut s = Session::new(0);
    s.fail("e.mp4", 0, 416, "Range Not Satisfiable");
    let Reply::Done(d) = s.request("/e.mp4/manifest", None) else {
        panic!("416 not reported");
    };
    assert_eq!((d.status, d.reason.as_str()), (502, "empty object: e.mp4"));
}

#[test]
fn covering_reads_are_sliced() {
    let data = std::fs::read(small().join("avc_bframes.mp4")).unwrap();
    let total = data.len() as u64;
    let mut s = Session::new(0);
    // The whole object (an origin that ignored Range): every read is a slice.
    s.provide("f.mp4", 0, Bytes::from(data), total, "\"e\"")
        .unwrap();
    let (d, rounds) = drive(
        &mut s,
        &mut FileOrigin::new("/nonexistent"),
        "/f.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-cmaf)",
    );
    assert_eq!((d.status, rounds), (200, 0), "{}", d.reason);
    assert_eq!(s.stored_bytes(), 0);
}

#[test]
fn provide_checks_its_numbers() {
    let mut s = Session::new(0);
    let b = Bytes::from_static(&[0; 10]);
    assert_eq!(
        s.provide("f.mp4", 5, b.clone(), 12, ""),
        Err(PutError::Inconsistent)
    );
    assert_eq!(
        s.provide("f.mp4", u64::MAX, b.clone(), u64::MAX, ""),
        Err(PutError::Inconsistent)
    );
    assert_eq!(s.provide("f.mp4", 2, b, 12, ""), Ok(()));
    assert_eq!(s.stored_bytes(), 10);
}

#[test]
fn a_replaced_object_is_reindexed() {
    let mut s = Session::new(0);
    let mut bucket = FileOrigin::new(small());
    let (d, _) = drive(&mut s, &mut bucket, "/avc_bframes.mp4/master.m3u8");
    assert_eq!(d.status, 200);
    let seg = "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-cmaf)";
    let Reply::Need(needs) = s.request(seg, None) else {
        panic!("no reads");
    };
    // The bucket answers 412: the object changed since it was indexed.
    for r in &needs {
        s.fail(&r.path, r.start, 412, "Precondition Failed");
    }
    // The index is dropped and rebuilt: the head is read again, unconditionally.
    let Reply::Need(again) = s.request(seg, None) else {
        panic!("412 not retried");
    };
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].start, again[0].if_match.as_ref()), (0, None));
    let (d, _) = drive(&mut s, &mut bucket, seg);
    assert_eq!(d.status, 200, "{}", d.reason);
    assert_eq!(body(&d), direct(seg));
}

#[test]
fn a_stale_piece_is_a_change() {
    let mut s = Session::new(0);
    let mut bucket = FileOrigin::new(small());
    let (d, _) = drive(&mut s, &mut bucket, "/avc_bframes.mp4/master.m3u8");
    assert_eq!(d.status, 200);
    let seg = "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-cmaf)";
    let Reply::Need(needs) = s.request(seg, None) else {
        panic!("no reads");
    };
    // Bytes of another version (a different ETag) never make a segment.
    for r in &needs {
        let resp = bucket.read(std::slice::from_ref(r)).remove(0).unwrap();
        s.provide(&r.path, r.start, resp.data, resp.total_size, "\"other\"")
            .unwrap();
    }
    assert!(matches!(s.request(seg, None), Reply::Need(_)));
    assert_eq!(s.stored_bytes(), 0, "the stale bytes are dropped");
}

#[test]
fn concurrent_requests_keep_each_others_bytes() {
    let mut s = Session::new(0);
    let mut bucket = FileOrigin::new(small());
    let (d, _) = drive(&mut s, &mut bucket, "/muxed_moov_end.mp4/master.m3u8");
    assert_eq!(d.status, 200);
    let a = "/muxed_moov_end.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-cmaf)";
    let b = "/muxed_moov_end.mp4/QualityLevels(1)/Fragments(audio=0,format=m3u8-cmaf)";
    let (Reply::Need(na), Reply::Need(nb)) = (s.request(a, None), s.request(b, None)) else {
        panic!("segments without reads");
    };
    for r in na.iter().chain(&nb) {
        fetch(&mut s, &mut bucket, r);
    }
    let (Reply::Done(da), Reply::Done(db)) = (s.request(a, None), s.request(b, None)) else {
        panic!("a second round was needed");
    };
    assert_eq!((da.status, db.status), (200, 200));
    assert_eq!(s.stored_bytes(), 0);
}

#[test]
fn segment_ms_is_clamped() {
    assert_eq!(Session::new(0).cfg.segment_ms, DEFAULT_TARGET_MS);
    assert_eq!(Session::new(5).cfg.segment_ms, 1000);
    assert_eq!(Session::new(u32::MAX).cfg.segment_ms, 30_000);
    assert_eq!(Session::new(4000).cfg.segment_ms, 4000);
}

#[test]
fn an_ism_read_in_an_earlier_round_is_dropped_too() {
    // The .ism is read (and cached) in round 2, which still needs the MP4
    // heads; its bytes must go when the request is answered in round 3.
    let dir = TempDir::new("browser");
    std::fs::create_dir_all(dir.join("t")).unwrap();
    for f in ["avc_bframes.mp4", "aac.mp4"] {
        std::fs::copy(small().join(f), dir.join("t").join(f)).unwrap();
    }
    let ism = r#"<?xml version="1.0" encoding="utf-8"?>
<smil xmlns="http://www.w3.org/2001/SMIL20/Language"><body><switch>
<video src="avc_bframes.mp4" systemBitrate="100000"><param name="trackName" value="video" valuetype="data"/></video>
<audio src="aac.mp4" systemBitrate="64000"><param name="trackName" value="audio" valuetype="data"/></audio>
</switch></body></smil>"#;
    std::fs::write(dir.join("t/t.ism"), ism).unwrap();
    let mut s = Session::new(0);
    let mut bucket = FileOrigin::new(dir.path());
    let (d, rounds) = drive(&mut s, &mut bucket, "/t/t.ism/manifest(format=m3u8-cmaf)");
    assert_eq!((d.status, rounds), (200, 2), "{}", d.reason);
    assert_eq!(s.stored_bytes(), 0);
    // The `.ism`, two indexes with their version records, the summary.
    assert_eq!(s.cached_entries(), 6);
}

/// A copy of `muxed_moov_end.mp4` whose moov lies beyond the head probe
/// (the mdat padded at its end, so no sample moves): a cold index of it
/// takes more than one round.
fn far_moov(dir: &Path) {
    let mut data = std::fs::read(small().join("muxed_moov_end.mp4")).unwrap();
    let (mdat_at, moov_at, pad) = (40, 82_569, 300_000usize);
    assert_eq!(&data[mdat_at + 4..mdat_at + 8], b"mdat");
    assert_eq!(&data[moov_at + 4..moov_at + 8], b"moov");
    let size = u32::from_be_bytes(data[mdat_at..mdat_at + 4].try_into().unwrap());
    data[mdat_at..mdat_at + 4].copy_from_slice(&(size + pad as u32).to_be_bytes());
    data.splice(moov_at..moov_at, std::iter::repeat_n(0, pad));
    std::fs::write(dir.join("far.mp4"), data).unwrap();
}

/// A request is one job stepped across calls, not re-run: the session asks
/// JS for exactly the reads the job asks for, round for round, and never
/// reads again what an earlier round fed it (those reads are made to fail
/// here once fed; a re-run would trip on them).
#[test]
fn a_request_takes_the_rounds_its_job_asks_for() {
    let dir = TempDir::new("browser-job");
    far_moov(&dir);
    std::fs::copy(small().join("aac.mp4"), dir.join("aac.mp4")).unwrap();
    let path = "/,far,aac,.mp4.urlset/manifest(format=m3u8-cmaf)";
    let mut s = Session::new(0);
    let mut bucket = FileOrigin::new(dir.path());

    // The job alone, over the same files.
    let Ok(Route::Stream(req)) = url::parse(path, None) else {
        panic!("{path}");
    };
    let mut job = Job::new(req, s.cfg.clone());
    let (mut cache, mut results, mut want) = (MemoryCache::default(), Vec::new(), Vec::new());
    let answer = loop {
        match job.step(&mut cache, results) {
            Step::Read(reads) => {
                results = bucket.read(&reads);
                want.push(reads);
            }
            Step::Answer(a) => break a.unwrap(),
        }
    };
    let Output::Text {
        body: want_body, ..
    } = answer
    else {
        panic!("not a manifest");
    };

    let (mut asked, mut fed) = (Vec::new(), Vec::<ReadRequest>::new());
    let done = loop {
        match s.request(path, None) {
            Reply::Done(d) => break d,
            Reply::Need(needs) => {
                assert!(asked.len() < 8, "{asked:?}");
                for r in &fed {
                    s.fail(&r.path, r.start, 503, "read already fed");
                }
                for r in &needs {
                    fetch(&mut s, &mut bucket, r);
                }
                fed.extend(needs.iter().cloned());
                asked.push(needs);
            }
        }
    };
    assert_eq!((done.status, done.reason.as_str()), (200, ""));
    assert!(want.len() >= 2, "{want:?}");
    assert_eq!(asked, want);
    assert_eq!(body(&done), want_body.into_bytes());
    assert_eq!(s.stored_bytes(), 0);
    // Two indexes, their version records, the set summary.
    assert_eq!(s.cached_entries(), 5);
}

/// A segment whose source changes while its payload is read starts over
/// from the new version once; a second change answers 502.
#[test]
fn a_segment_that_keeps_changing_is_a_502() {
    // A minute of video: a late segment's payload lies beyond the head read.
    let dir = TempDir::new("browser-412");
    let file = crate::testutil::synth_mp4(&[crate::testutil::SynthTrack::video(24 * 60, 24, 48)]);
    std::fs::write(dir.join("v.mp4"), file).unwrap();
    let mut s = Session::new(0);
    let mut bucket = FileOrigin::new(dir.path());
    let (d, _) = drive(&mut s, &mut bucket, "/v.mp4/master.m3u8");
    assert_eq!(d.status, 200, "{}", d.reason);
    let seg = "/v.mp4/QualityLevels(1)/Fragments(video=480000000,format=m3u8-cmaf)";
    let mut changes = 0;
    let done = loop {
        match s.request(seg, None) {
            Reply::Done(d) => break d,
            Reply::Need(needs) => {
                assert!(changes < 4);
                for r in &needs {
                    if r.if_match.is_some() {
                        s.fail(&r.path, r.start, 412, "Precondition Failed");
                    } else {
                        fetch(&mut s, &mut bucket, r);
                    }
                }
                changes += usize::from(needs.iter().any(|r| r.if_match.is_some()));
            }
        }
    };
    assert_eq!(done.status, 502, "{}", done.reason);
    assert!(done.reason.contains("kept changing"), "{}", done.reason);
    assert_eq!(changes, 2);
    assert_eq!(s.stored_bytes(), 0);
}
