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
    // The position that comes with it is the sample's.
    for dts in (-5..t.info.duration as i64 + 5).step_by(97) {
        let (i, p) = t.nearest_sample_start_at(dts).unwrap();
        assert_eq!(p, t.position(i).unwrap(), "at {dts}");
    }
}

#[test]
fn truncated_file_is_an_error_naming_the_cut() {
    let file = fixture("muxed_moov_end.mp4");
    let Probe::Moov { offset, size } = locate_moov(&file, 0, 0, file.len() as u64).unwrap() else {
        panic!()
    };
    let moov = file.slice(offset as usize..(offset + size) as usize);
    let need = samples_from_tables(&file)
        .iter()
        .flatten()
        .map(|s| s.offset + u64::from(s.size))
        .max()
        .unwrap();
    assert!(build(moov.clone(), offset, need, "").is_ok());
    // Pretend the mdat lost its second half, or its last byte.
    for at in [offset / 2, need - 1] {
        let e = build(moov.clone(), offset, at, "").unwrap_err();
        assert_eq!(e, IndexError::Truncated { at, of: need });
        assert_eq!(
            e.to_string(),
            format!("media truncated at byte {at} of {need}")
        );
    }
}

/// The `co64` entries of the `n`-th track of a `synth_mp4` file.
fn co64_entries(file: &mut [u8], n: usize) -> &mut [u8] {
    let at = (0..file.len() - 4)
        .filter(|&i| &file[i..i + 4] == b"co64")
        .nth(n)
        .unwrap();
    let count = u32::from_be_bytes(file[at + 8..at + 12].try_into().unwrap()) as usize;
    &mut file[at + 12..at + 12 + count * 8]
}

fn swap_entries(entries: &mut [u8], a: usize, b: usize) {
    for k in 0..8 {
        entries.swap(a * 8 + k, b * 8 + k);
    }
}

fn set_entry(entries: &mut [u8], i: usize, v: u64) {
    entries[i * 8..i * 8 + 8].copy_from_slice(&v.to_be_bytes());
}

fn entry(entries: &[u8], i: usize) -> u64 {
    u64::from_be_bytes(entries[i * 8..i * 8 + 8].try_into().unwrap())
}

#[test]
fn overlapping_sample_data_is_invalid_media() {
    use crate::testutil::{synth_mp4, SynthTrack};
    let file = synth_mp4(&[SynthTrack::video(48, 24, 24), SynthTrack::audio(90)]).to_vec();
    assert!(index_whole_file(&Bytes::from(file.clone()), "").is_ok());
    let overlap = |f: Vec<u8>| match index_whole_file(&Bytes::from(f), "") {
        Err(IndexError::Mp4(e)) => {
            assert_eq!(e.kind, crate::mp4::Mp4ErrorKind::Invalid, "{e}");
            assert!(e.reason.contains("overlaps other sample data"), "{e}");
        }
        r => panic!("{r:?}"),
    };
    // A video chunk one byte into the one before it.
    let mut f = file.clone();
    let v = co64_entries(&mut f, 0);
    set_entry(v, 5, entry(v, 5) - 1);
    overlap(f);
    // An audio chunk pointing at video data (the tracks overlap).
    let mut f = file.clone();
    let first_video = entry(co64_entries(&mut f, 0), 0);
    set_entry(co64_entries(&mut f, 1), 40, first_video);
    overlap(f);
    // Every audio chunk at the same offset: repeated data.
    let mut f = file.clone();
    let a = co64_entries(&mut f, 1);
    let at = entry(a, 0);
    for i in 0..90 {
        set_entry(a, i, at);
    }
    overlap(f);
}

#[test]
fn chunks_out_of_file_order_are_valid_unless_they_overlap() {
    use crate::testutil::{synth_mp4, SynthTrack};
    // Samples i and i + 7 have the same size (1000 + i % 7): their chunks
    // can trade places.
    let file = synth_mp4(&[SynthTrack::video(48, 24, 24), SynthTrack::audio(90)]).to_vec();
    let mut f = file.clone();
    swap_entries(co64_entries(&mut f, 0), 3, 10);
    let idx = index_whole_file(&Bytes::from(f.clone()), "").unwrap();
    let whole = index_whole_file(&Bytes::from(file), "").unwrap();
    let (a, b) = (&idx.tracks[0], &whole.tracks[0]);
    assert_eq!(a.sample(3).unwrap().offset, b.sample(10).unwrap().offset);
    assert_eq!(a.sample(10).unwrap().offset, b.sample(3).unwrap().offset);
    // Out of order and overlapping: found by the sorted check.
    let v = co64_entries(&mut f, 0);
    set_entry(v, 20, entry(v, 21) - 1);
    match index_whole_file(&Bytes::from(f), "") {
        Err(IndexError::Mp4(e)) => assert!(e.reason.contains("overlaps"), "{e}"),
        r => panic!("{r:?}"),
    }
}

/// Renames a `synth_mp4` file's `stss` boxes so the parser skips them:
/// video without a sync sample table, every sample a sync sample
/// (ISO/IEC 14496-12 §8.6.2).
fn drop_stss(file: &mut [u8]) {
    for i in 0..file.len() - 4 {
        if &file[i..i + 4] == b"stss" {
            file[i..i + 4].copy_from_slice(b"skip");
        }
    }
}

#[test]
fn video_whose_every_sample_is_sync_has_no_sync_table() {
    use crate::testutil::{synth_mp4, SynthTrack};
    // Without stss, and with an stss listing every sample.
    let mut no_stss = synth_mp4(&[SynthTrack::video(480, 24, 24)]).to_vec();
    drop_stss(&mut no_stss);
    let every = synth_mp4(&[SynthTrack::video(480, 24, 1)]).to_vec();
    let some = index_whole_file(&synth_mp4(&[SynthTrack::video(480, 24, 24)]), "").unwrap();
    for file in [no_stss, every] {
        let idx = index_whole_file(&Bytes::from(file), "").unwrap();
        let t = &idx.tracks[0];
        assert!(t.all_sync());
        assert_eq!(t.sync_count(), 0);
        assert!(t.samples(0..480).unwrap().all(|s| s.unwrap().sync));
        // Its presentation times still come out of `sync_pts`.
        let s = t.sample(100).unwrap();
        assert_eq!(t.sync_pts(100), Some(t.pts(&s)));
        assert!(t.sync_points().next().is_none());
        // Smaller than the same track with 20 keyframes.
        assert!(idx.blob.len() < some.blob.len() + 64, "{}", idx.blob.len());
        // And the blob says so when read back.
        let again = MediaIndex::from_blob(idx.blob.clone()).unwrap();
        assert!(again.tracks[0].all_sync());
    }
    // An stss with an entry per sample that skips one is invalid.
    let mut bad = synth_mp4(&[SynthTrack::video(48, 24, 1)]).to_vec();
    let at = (0..bad.len() - 4)
        .find(|&i| &bad[i..i + 4] == b"stss")
        .unwrap();
    // The third entry (entries start 12 bytes after the type) says 2
    // again instead of 3.
    bad[at + 12 + 4 * 2..at + 12 + 4 * 3].copy_from_slice(&2u32.to_be_bytes());
    match index_whole_file(&Bytes::from(bad), "") {
        Err(IndexError::Mp4(e)) => assert!(e.reason.contains("does not list sample 3"), "{e}"),
        r => panic!("{r:?}"),
    }
}

#[test]
fn sample_count_caps_are_checked_before_the_walk() {
    use crate::error::{Cap, LimitError};
    use crate::testutil::{synth_mp4, SynthTrack};
    // One track whose stsz claims more samples than the cap, with an stts
    // to match: refused from the headers (the chunks could not hold them).
    let mut file = synth_mp4(&[SynthTrack::audio(10)]).to_vec();
    let n = MAX_TRACK_SAMPLES + 1;
    // Box type at `at`, version and flags at +4, then the fields.
    let stts = (0..file.len() - 4)
        .find(|&i| &file[i..i + 4] == b"stts")
        .unwrap();
    // The first (sample_count, delta) entry.
    file[stts + 12..stts + 16].copy_from_slice(&n.to_be_bytes());
    let stsz = (0..file.len() - 4)
        .find(|&i| &file[i..i + 4] == b"stsz")
        .unwrap();
    // A fixed sample size (so no table is needed), and the count.
    file[stsz + 8..stsz + 12].copy_from_slice(&1u32.to_be_bytes());
    file[stsz + 12..stsz + 16].copy_from_slice(&n.to_be_bytes());
    assert_eq!(
        index_whole_file(&Bytes::from(file), "").unwrap_err(),
        IndexError::Limit(LimitError::new(
            Cap::TrackSamples,
            u64::from(n),
            u64::from(MAX_TRACK_SAMPLES)
        ))
    );
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

/// The video entry's `colr` reaches the track through the blob (v5), and a
/// blob of the previous version is refused (the source then rebuilds it:
/// `source::IndexLoad::new` treats any `from_blob` error as a cache miss).
#[test]
fn colour_reaches_the_index_and_old_blobs_are_refused() {
    use crate::testutil::{synth_index, video_entry, SynthTrack};
    let entry = video_entry(&[(b"colr", b"nclx\0\x09\0\x12\0\x09\x80")]);
    let idx = synth_index(&[
        SynthTrack::video(50, 25, 25).with_entry(entry),
        SynthTrack::audio(50),
    ]);
    let c = idx.tracks[0].info.colour.unwrap();
    assert_eq!(
        (c.primaries, c.transfer, c.matrix, c.full_range),
        (9, 18, 9, Some(true))
    );
    assert_eq!(
        idx.tracks[0].info.video_range(),
        crate::model::VideoRange::Hlg
    );
    assert_eq!(idx.tracks[1].info.colour, None);
    let again = MediaIndex::from_blob(idx.blob.clone()).unwrap();
    assert_eq!(again.tracks[0].info, idx.tracks[0].info);
    assert_eq!(INDEX_VERSION, 11);
    let mut old = idx.blob.to_vec();
    old[4..8].copy_from_slice(&7u32.to_be_bytes());
    assert_eq!(
        MediaIndex::from_blob(Bytes::from(old)).unwrap_err(),
        IndexError::Version(7)
    );
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
    // The fuzzer's file is also cut short, which is refused now; its
    // tables are indexed as if the object were whole to test what it was
    // kept for.
    let file = regression("f1-timeout-huge-sample-durations.mp4");
    assert!(matches!(
        index_whole_file(&file, ""),
        Err(IndexError::Truncated { .. })
    ));
    let Probe::Moov { offset, size } = locate_moov(&file, 0, 0, file.len() as u64).unwrap() else {
        panic!()
    };
    let moov = file.slice(offset as usize..(offset + size) as usize);
    let idx = build(moov, offset, u64::MAX, "").unwrap();
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

/// More tracks than the merged walk scans linearly: the heap queue finds
/// the same overlaps.
#[test]
fn many_tracks_are_merged_too() {
    use crate::testutil::{synth_mp4, SynthTrack};
    let tracks: Vec<SynthTrack> = (0..12).map(|_| SynthTrack::audio(20)).collect();
    let file = synth_mp4(&tracks).to_vec();
    let idx = index_whole_file(&Bytes::from(file.clone()), "").unwrap();
    assert_eq!(idx.tracks.len(), 12);
    let mut f = file;
    let other = entry(co64_entries(&mut f, 2), 7);
    set_entry(co64_entries(&mut f, 10), 0, other);
    match index_whole_file(&Bytes::from(f), "") {
        Err(IndexError::Mp4(e)) => assert!(e.reason.contains("overlaps"), "{e}"),
        r => panic!("{r:?}"),
    }
}

#[test]
fn kept_switches_renumber_and_fold_dropped_ones() {
    use super::build::kept_switches;
    let sw = [(0, 0), (24, 1), (36, 2)];
    assert_eq!(kept_switches(&sw, &[]), sw.to_vec());
    // Samples 12.. kept: 24 → 12, 36 → 24.
    assert_eq!(
        kept_switches(&sw, &[(12..48, 0)]),
        vec![(0, 0), (12, 1), (24, 2)]
    );
    // Samples 30..40 kept: starts in description 1, 36 → 6.
    assert_eq!(kept_switches(&sw, &[(30..40, 0)]), vec![(0, 1), (6, 2)]);
    // A trimmed end drops the switches past it.
    assert_eq!(kept_switches(&sw, &[(0..30, 0)]), vec![(0, 0), (24, 1)]);
}
