use super::*;
use crate::mp4::moov::parse_moov;
use crate::mp4::walk::{locate_moov, Probe};

pub(crate) fn fixture(name: &str) -> Bytes {
    let path = format!("{}/fixtures/small/{name}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn samples_from_tables(file: &Bytes) -> Vec<Vec<Sample>> {
    let Probe::Moov { offset, size } = locate_moov(file, 0, 0, file.len() as u64).unwrap() else {
        panic!()
    };
    let movie = parse_moov(
        file.slice(offset as usize..(offset + size) as usize),
        offset,
    )
    .unwrap();
    movie
        .tracks
        .iter()
        .map(|t| t.tables.samples("t").map(|s| s.unwrap()).collect())
        .collect()
}

#[test]
fn index_reproduces_every_sample_of_every_fixture() {
    for name in [
        "avc_bframes.mp4",
        "aac.mp4",
        "muxed_moov_end.mp4",
        "hevc.mp4",
    ] {
        let file = fixture(name);
        let idx = index_whole_file(&file, "\"e1\"").unwrap();
        let again = MediaIndex::from_blob(idx.blob.clone()).unwrap();
        assert_eq!(again.etag, "\"e1\"");
        let expected = samples_from_tables(&file);
        assert_eq!(idx.tracks.len(), expected.len(), "{name}");
        for (t, exp) in again.tracks.iter().zip(&expected) {
            let got: Vec<Sample> = t
                .samples(0..t.sample_count())
                .unwrap()
                .map(|s| s.unwrap())
                .collect();
            assert_eq!(&got, exp, "{name} track {}", t.info.track_id);
            // Random access into the middle agrees with the full walk.
            let mid = t.sample_count() / 2;
            assert_eq!(t.sample(mid).unwrap(), exp[mid as usize]);
            let per_sample =
                (t.blocks.len() + t.sync.len() + t.data.len()) as f64 / f64::from(t.sample_count());
            assert!(per_sample <= 8.0, "{name}: {per_sample} bytes/sample");
        }
    }
}

#[test]
fn track_info_from_fixtures() {
    let idx = index_whole_file(&fixture("muxed_moov_end.mp4"), "").unwrap();
    let v = idx.tracks.iter().find(|t| t.is_video()).unwrap();
    let a = idx.tracks.iter().find(|t| !t.is_video()).unwrap();
    assert!(
        v.info.codec_string.starts_with("avc1.64"),
        "{}",
        v.info.codec_string
    );
    assert_eq!((v.info.width, v.info.height), (160, 90));
    assert!(v.has_cts);
    assert!(v.info.presentation_offset > 0, "B-frames need an edit");
    assert_eq!(a.info.codec_string, "mp4a.40.2");
    assert_eq!(a.info.sample_rate, 48000);
    assert_eq!(a.info.channels, 2);
    // First presented video frame is at 0.
    let first_pts = v.sync_points().next().unwrap().1;
    assert_eq!(first_pts, 0);
    let hevc = index_whole_file(&fixture("hevc.mp4"), "").unwrap();
    assert!(
        hevc.tracks[0].info.codec_string.starts_with("hvc1.1.6.L"),
        "{}",
        hevc.tracks[0].info.codec_string
    );
}

#[test]
fn nearest_sample_start_cuts_at_sample_boundaries() {
    let idx = index_whole_file(&fixture("aac.mp4"), "").unwrap();
    let t = &idx.tracks[0];
    let s10 = t.sample(10).unwrap();
    assert_eq!(t.nearest_sample_start(s10.dts as i64).unwrap(), 10);
    assert_eq!(t.nearest_sample_start(s10.dts as i64 + 400).unwrap(), 10);
    assert_eq!(t.nearest_sample_start(s10.dts as i64 + 600).unwrap(), 11);
    assert_eq!(t.nearest_sample_start(-5).unwrap(), 0);
    assert_eq!(t.nearest_sample_start(i64::MAX).unwrap(), t.sample_count());
}

#[test]
fn truncated_file_keeps_whole_samples_only() {
    let file = fixture("muxed_moov_end.mp4");
    let Probe::Moov { offset, size } = locate_moov(&file, 0, 0, file.len() as u64).unwrap() else {
        panic!()
    };
    let moov = file.slice(offset as usize..(offset + size) as usize);
    // Pretend the mdat lost its second half.
    let full = build(moov.clone(), offset, file.len() as u64, "").unwrap();
    let cut = build(moov, offset, offset / 2, "").unwrap();
    for (a, b) in full.tracks.iter().zip(&cut.tracks) {
        assert!(b.sample_count() < a.sample_count());
        let last = b.sample(b.sample_count() - 1).unwrap();
        assert!(last.offset + u64::from(last.size) <= offset / 2);
    }
}

#[test]
fn corrupt_blobs_are_errors_not_panics() {
    let idx = index_whole_file(&fixture("avc_bframes.mp4"), "x").unwrap();
    let blob = idx.blob.to_vec();
    for cut in [0, 3, 8, 20, blob.len() / 2, blob.len() - 1] {
        assert!(MediaIndex::from_blob(Bytes::copy_from_slice(&blob[..cut])).is_err());
    }
    let mut wrong = blob.clone();
    wrong[7] = 99;
    assert!(matches!(
        MediaIndex::from_blob(Bytes::from(wrong)),
        Err(IndexError::Version(_))
    ));
    // Flipping bytes anywhere never panics.
    for i in (0..blob.len()).step_by(7) {
        let mut b = blob.clone();
        b[i] ^= 0xa5;
        if let Ok(ix) = MediaIndex::from_blob(Bytes::from(b)) {
            for t in &ix.tracks {
                if let Ok(c) = t.samples(0..t.sample_count()) {
                    for s in c {
                        let _ = s;
                    }
                }
            }
        }
    }
}

fn regression(name: &str) -> Bytes {
    let path = format!("{}/fuzz/regressions/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut b = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // The blob regressions were found at index v2; v3 only appends the
    // trailer (here empty), so the same tracks still reach the readers.
    if b.get(..8) == Some(&b"EPIX\0\0\0\x02"[..]) {
        b[4..8].copy_from_slice(&INDEX_VERSION.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
    }
    Bytes::from(b)
}

#[test]
fn fuzz_f1_absurd_durations_stay_cheap() {
    // 74 AAC samples declaring ~76 days: boundaries are bounded by samples.
    let idx = index_whole_file(&regression("f1-timeout-huge-sample-durations.mp4"), "").unwrap();
    let t = &idx.tracks[0];
    let tl = crate::timeline::Timeline::compute(&[t], 6000).unwrap();
    assert!(
        tl.len() <= t.sample_count() as usize,
        "{} boundaries",
        tl.len()
    );
    let segs = tl.track_segments(t).unwrap();
    let total: u32 = segs.iter().map(|s| s.samples.end - s.samples.start).sum();
    let skipped = crate::timeline::first_presented(t).unwrap();
    assert_eq!(total, t.sample_count() - skipped);
}

#[test]
fn fuzz_f2_f4_corrupt_blobs_are_errors_or_clamped() {
    // Index blobs (as a corrupted cache would hand back) with times and
    // sizes near the integer limits: errors or clamped values, never a
    // panic, even with overflow checks on (debug test builds).
    for name in [
        "f2-index-blob-dts-overflow.bin",
        "f4-cmaf-base-dts-overflow.bin",
        "f4-cmaf-cts-overflow.bin",
        "f4-dash-time-overflow.bin",
        "f4-hls-rates-bytes-overflow.bin",
        "f4-hls-rates-ticks-overflow.bin",
        "f4-index-nearest-sample-overflow.bin",
    ] {
        let Ok(idx) = MediaIndex::from_blob(regression(name)) else {
            continue;
        };
        for t in &idx.tracks {
            if let Ok(c) = t.samples(0..t.sample_count()) {
                for s in c {
                    let _ = s;
                }
            }
            if let Ok(tl) = crate::timeline::Timeline::compute(&[t], 6000) {
                for seg in tl.track_segments(t).unwrap_or_default().iter().take(64) {
                    let opts = crate::mux::cmaf::FragmentOptions {
                        sequence: 1,
                        styp: true,
                    };
                    let _ = crate::mux::cmaf::media_segment(t, seg, opts);
                }
            }
        }
        let file = crate::media_set::SourceFile {
            path: name.into(),
            index: idx,
        };
        if let Ok(set) = crate::media_set::MediaSet::all_tracks(vec![file], 6000) {
            let _ = crate::manifest::hls::multivariant(&set, crate::url::Format::HlsCmaf);
            let _ = crate::manifest::dash::mpd(&set, crate::url::Format::DashCmaf);
        }
    }
}
