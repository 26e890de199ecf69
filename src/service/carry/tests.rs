//! Smooth and MPEG-TS leave out what they cannot carry and refuse, naming
//! the codecs, a title that would lose its video or everything.

use super::*;
use crate::service::{load_set, serve, Config, Output, ServeError};
use crate::source::{FileOrigin, MemoryCache};
use crate::testutil::{audio_entry, synth_mp4, SynthTrack, TempDir};
use crate::url::{parse, Route, StreamRequest};
use std::path::Path;

fn request(path: &str) -> StreamRequest {
    match parse(path, None) {
        Ok(Route::Stream(s)) => s,
        r => panic!("{path}: {r:?}"),
    }
}

fn get(path: &str, origin: &mut FileOrigin) -> Result<Output, ServeError> {
    serve(
        &request(path),
        origin,
        &mut MemoryCache::default(),
        &Config::default(),
    )
}

fn refusal(path: &str, origin: &mut FileOrigin) -> (u16, String) {
    let e = get(path, origin).unwrap_err();
    (e.status(), e.to_string())
}

fn small() -> FileOrigin {
    FileOrigin::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small"))
}

/// A directory origin with Opus-only, FLAC-only and H.264 + Opus files.
fn opus_flac() -> (FileOrigin, TempDir) {
    let dir = TempDir::new("carry");
    let opus = || SynthTrack::audio(100).with_entry(audio_entry(b"Opus", &[(b"dOps", &[0; 11])]));
    let flac = SynthTrack::audio(100).with_entry(audio_entry(b"fLaC", &[(b"dfLa", &[0; 38])]));
    for (name, tracks) in [
        ("o.mp4", vec![opus()]),
        ("f.mp4", vec![flac]),
        ("vo.mp4", vec![SynthTrack::video(96, 24, 24), opus()]),
    ] {
        std::fs::write(dir.join(name), synth_mp4(&tracks)).unwrap();
    }
    (FileOrigin::new(dir.path()), dir)
}

#[test]
fn smooth_refuses_hevc_naming_it() {
    let mut origin = small();
    for p in ["/hevc.mp4/manifest", "/hevc.mp4/manifest(format=fmp4-v20)"] {
        let (status, reason) = refusal(p, &mut origin);
        assert_eq!(status, 501, "{p}: {reason}");
        assert!(
            reason.starts_with("Smooth Streaming cannot carry HEVC (hvc1)"),
            "{p}: {reason}"
        );
    }
    // Its fragments are refused the same way.
    let set = load_set(
        &request("/hevc.mp4/manifest").asset,
        &mut origin,
        &mut MemoryCache::default(),
        &Config::default(),
    )
    .unwrap();
    let t = &set.tracks[0];
    let p = format!(
        "/hevc.mp4/QualityLevels({})/Fragments({}=0)",
        t.bitrate, t.name
    );
    assert_eq!(refusal(&p, &mut origin).0, 501);
    // Next to H.264, the HEVC rendition is left out of the manifest.
    let Output::Text { body, .. } = get("/,avc_bframes,hevc,.mp4.urlset/manifest", &mut origin)
        .unwrap_or_else(|e| panic!("{e}"))
    else {
        panic!("not a manifest");
    };
    assert!(body.contains("FourCC=\"H264\""), "{body}");
    assert!(!body.contains("HVC1") && !body.contains("HEV1"), "{body}");
}

#[test]
fn refusals_name_the_codecs_of_the_title() {
    let (mut origin, _dir) = opus_flac();
    let urlset = "/,o,f,.mp4.urlset";
    // MPEG-TS used to blame HEVC and AV1 for an Opus/FLAC title.
    let (status, reason) = refusal(&format!("{urlset}/manifest(format=m3u8-aapl)"), &mut origin);
    assert_eq!(status, 501);
    assert_eq!(
        reason,
        "MPEG-TS cannot carry Opus (Opus), FLAC (fLaC); use format=m3u8-cmaf"
    );
    // Smooth used to answer 502 "no audio or video track".
    let (status, reason) = refusal(&format!("{urlset}/manifest"), &mut origin);
    assert_eq!(status, 501);
    assert!(
        reason.starts_with("Smooth Streaming cannot carry Opus (Opus), FLAC (fLaC)"),
        "{reason}"
    );
    // Video with Opus audio: Smooth serves the video, MPEG-TS refuses
    // rather than drop the audio.
    let Output::Text { body, .. } = get("/vo.mp4/manifest", &mut origin).unwrap() else {
        panic!("not a manifest");
    };
    assert!(body.contains("Type=\"video\"") && !body.contains("Type=\"audio\""));
    let (status, reason) = refusal("/vo.mp4/manifest(format=m3u8-aapl)", &mut origin);
    assert_eq!(status, 501);
    assert!(
        reason.starts_with("MPEG-TS cannot carry Opus (Opus);"),
        "{reason}"
    );
}

#[test]
fn codec_labels() {
    let idx =
        crate::index::index_whole_file(&crate::index::tests::fixture("dts51.mp4"), "").unwrap();
    assert_eq!(codec_label(&idx.tracks[0].info), "DTS (mp4a.A9)");
    let idx = crate::index::index_whole_file(&crate::index::tests::fixture("aac.mp4"), "").unwrap();
    assert_eq!(codec_label(&idx.tracks[0].info), "AAC (mp4a.40.2)");
    assert!(SMOOTH.track(&idx.tracks[0].info).is_ok());
}
