use super::*;
use crate::error::{Cap, LimitError};
use crate::index::index_whole_file;
use crate::index::tests::fixture;
use crate::testutil::{synth_index, SynthTrack};

fn check_cover(tl: &Timeline, t: &TrackIndex) -> Vec<TrackSegment> {
    let segs = tl.track_segments(t).unwrap();
    assert!(!segs.is_empty());
    let mut next = segs[0].samples.start;
    for s in &segs {
        assert_eq!(s.samples.start, next, "segments are contiguous");
        assert!(s.samples.end > s.samples.start, "no empty segment");
        assert!(s.duration > 0);
        next = s.samples.end;
    }
    assert_eq!(next, t.sample_count(), "segments reach the end");
    segs
}

#[test]
fn bframes_with_edit_list_start_at_zero_on_keyframes() {
    let idx = index_whole_file(&fixture("avc_bframes.mp4"), "").unwrap();
    let v = &idx.tracks[0];
    let tl = Timeline::compute(&[v], 2000).unwrap();
    // 4 s with a keyframe every second: boundaries at 0, 2 s.
    assert_eq!(tl.starts, vec![0, 2 * 12288]);
    let segs = check_cover(&tl, v);
    assert_eq!(segs[0].start, 0, "edit list maps the first frame to 0");
    for s in &segs {
        assert!(v.sample(s.samples.start).unwrap().sync);
        assert_eq!(s.start, tl.starts[s.number as usize]);
    }
}

#[test]
fn muxed_audio_follows_video_boundaries_within_a_frame() {
    let idx = index_whole_file(&fixture("muxed_moov_end.mp4"), "").unwrap();
    let tracks: Vec<&TrackIndex> = idx.tracks.iter().collect();
    let tl = Timeline::compute(&tracks, 2000).unwrap();
    let v = check_cover(&tl, tracks[0]);
    let a = check_cover(&tl, tracks[1]);
    assert_eq!(v.len(), a.len());
    // The priming frame is dropped: audio starts at 0 too.
    assert_eq!(a[0].start, 0);
    for (vs, as_) in v.iter().zip(&a) {
        let vt = rescale(vs.start, 12288, HNS);
        let at = rescale(as_.start, 48000, HNS);
        // Within half an AAC frame (1024 / 48000 s).
        assert!(vt.abs_diff(at) <= 107_000, "{vt} vs {at}");
    }
}

#[test]
fn audio_only_gets_regular_segments_and_a_short_last_one() {
    let idx = index_whole_file(&fixture("aac.mp4"), "").unwrap();
    let a = &idx.tracks[0];
    let tl = Timeline::compute(&[a], 1500).unwrap();
    let segs = check_cover(&tl, a);
    assert_eq!(segs.len(), 3);
    let last = segs.last().unwrap();
    assert!(last.duration < 48000 * 3 / 2);
}

#[test]
fn renditions_with_matching_keyframes_share_boundaries() {
    let a = synth_index(&[SynthTrack::video(24 * 26, 24, 48)]);
    let b = synth_index(&[SynthTrack::video(24 * 26, 24, 24)]);
    let (ta, tb) = (&a.tracks[0], &b.tracks[0]);
    let tl = Timeline::compute(&[ta, tb], 6000).unwrap();
    assert_eq!(tl.aligned, vec![true, true]);
    let expect: Vec<i64> = [0, 6, 12, 18].iter().map(|s| s * 24 * 512).collect();
    assert_eq!(tl.starts, expect);
    let sa = check_cover(&tl, ta);
    let sb = check_cover(&tl, tb);
    for (x, y) in sa.iter().zip(&sb) {
        assert_eq!(x.start, y.start);
        assert_eq!(x.samples, y.samples);
    }
}

#[test]
fn misaligned_rendition_is_detected_and_left_out() {
    let a = synth_index(&[SynthTrack::video(24 * 20, 24, 48)]);
    // Keyframes every 37 frames never line up with every 48.
    let b = synth_index(&[SynthTrack::video(24 * 20, 24, 37)]);
    let tl = Timeline::compute(&[&a.tracks[0], &b.tracks[0]], 6000).unwrap();
    assert_eq!(tl.aligned, vec![true, false]);
    assert_eq!(tl.starts[1], 6 * 24 * 512);
}

#[test]
fn long_gops_give_longer_segments_never_empty_ones() {
    // Keyframes every 10 s with a 4 s target.
    let a = synth_index(&[SynthTrack::video(24 * 35, 24, 240)]);
    let t = &a.tracks[0];
    let tl = Timeline::compute(&[t], 4000).unwrap();
    assert_eq!(tl.starts, vec![0, 10 * 12288, 20 * 12288, 30 * 12288]);
    check_cover(&tl, t);
}

#[test]
fn final_short_segment_is_merged_or_kept_deliberately() {
    // 13 s, keyframes every 2 s, target 6 s: boundaries 0, 6; the last
    // keyframe at 12 s would leave a 1 s segment, merged (7 s ≤ 1.5 × 6).
    let a = synth_index(&[SynthTrack::video(24 * 13, 24, 48)]);
    let tl = Timeline::compute(&[&a.tracks[0]], 6000).unwrap();
    assert_eq!(tl.starts, vec![0, 6 * 12288]);
    // 16 s: 0, 6, 12 and a 4 s final segment.
    let a = synth_index(&[SynthTrack::video(24 * 16, 24, 48)]);
    let tl = Timeline::compute(&[&a.tracks[0]], 6000).unwrap();
    assert_eq!(tl.starts, vec![0, 6 * 12288, 12 * 12288]);
    check_cover(&tl, &a.tracks[0]);
}

#[test]
fn audio_shorter_than_video_has_no_trailing_empty_segments() {
    let v = synth_index(&[
        SynthTrack::video(24 * 20, 24, 48),
        SynthTrack::audio(47 * 8),
    ]);
    let tracks: Vec<&TrackIndex> = v.tracks.iter().collect();
    let tl = Timeline::compute(&tracks, 6000).unwrap();
    let audio = tl.track_segments(tracks[1]).unwrap();
    assert_eq!(audio.len(), 2, "8 s of audio in 6 s segments");
    assert_eq!(audio.last().unwrap().samples.end, tracks[1].sample_count());
    assert!(tl.track_segment(tracks[1], 3).unwrap().is_none());
}

#[test]
fn segment_lookup_by_hns_time() {
    let a = synth_index(&[SynthTrack::video(24 * 26, 24, 48)]);
    let tl = Timeline::compute(&[&a.tracks[0]], 6000).unwrap();
    assert_eq!(tl.segment_at_hns(0), Some(0));
    assert_eq!(tl.segment_at_hns(60_000_000), Some(1));
    assert_eq!(tl.segment_at_hns(60_000_400), Some(1));
    assert_eq!(tl.segment_at_hns(179_999_999), Some(3));
    assert_eq!(
        tl.segment_at_hns(215_000_000),
        Some(3),
        "within the 8 s final segment"
    );
    assert_eq!(tl.segment_at_hns(10_000_000_000), None);
    assert_eq!(tl.segment_at_hns(u64::MAX), None);
}

/// Video whose every sample is a keyframe (no sync table in the index) is
/// cut like audio: every target duration, at the nearest sample; next to
/// a rendition with GOPs it follows that one's boundaries.
#[test]
fn all_sync_video_is_cut_anywhere() {
    let intra = synth_index(&[SynthTrack::video(24 * 20, 24, 1)]);
    let t = &intra.tracks[0];
    assert!(t.all_sync() && t.sync_count() == 0);
    let tl = Timeline::compute(&[t], 6000).unwrap();
    // 20 s: the last 2 s are over a quarter target, a segment of their own.
    assert_eq!(tl.starts, vec![0, 6 * 12288, 12 * 12288, 18 * 12288]);
    let segs = check_cover(&tl, t);
    assert_eq!(segs[1].samples, 6 * 24..12 * 24);
    assert_eq!(segs[1].start, 6 * 12288, "presentation time of the cut");
    let gop = synth_index(&[SynthTrack::video(24 * 20, 24, 48)]);
    let tl = Timeline::compute(&[&gop.tracks[0], t], 6000).unwrap();
    assert_eq!(tl.aligned, vec![true, true]);
    let (a, b) = (check_cover(&tl, &gop.tracks[0]), check_cover(&tl, t));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.samples, y.samples);
        assert_eq!(x.start, y.start);
    }
}

/// A title with one keyframe is one segment: within the caps for a short
/// clip, refused (typed) once it holds more than 10 targets' worth of the
/// track's average samples.
#[test]
fn one_huge_segment_is_over_a_cap() {
    let clip = synth_index(&[SynthTrack::video(24 * 20, 24, 24 * 20)]);
    let tl = Timeline::compute(&[&clip.tracks[0]], 6000).unwrap();
    assert_eq!(check_cover(&tl, &clip.tracks[0]).len(), 1);
    let long = synth_index(&[SynthTrack::video(24 * 80, 24, 24 * 80)]);
    let t = &long.tracks[0];
    let tl = Timeline::compute(&[t], 6000).unwrap();
    let want = LimitError::new(Cap::SegmentSamplesForRate, 24 * 80, 1440);
    assert_eq!(tl.track_segments(t), Err(TimelineError::Limit(want)));
    assert_eq!(tl.track_segment(t, 0), Err(TimelineError::Limit(want)));
    // The absolute caps come first.
    let seg = TrackSegment {
        number: 0,
        samples: 0..MAX_SEGMENT_SAMPLES as u32 + 1,
        start: 0,
        duration: 1,
        payload: 1,
    };
    assert_eq!(
        check_segment(t, &seg, 6000).unwrap_err().to_string(),
        format!(
            "a segment of {} samples is over the limit of {MAX_SEGMENT_SAMPLES} samples per segment",
            MAX_SEGMENT_SAMPLES + 1
        )
    );
    let seg = TrackSegment {
        samples: 0..1,
        payload: MAX_SEGMENT_BYTES + 1,
        ..seg
    };
    assert!(matches!(
        check_segment(t, &seg, 6000),
        Err(TimelineError::Limit(LimitError {
            cap: Cap::SegmentBytes,
            ..
        }))
    ));
}

/// Samples of a day each: the timeline would have a segment per sample;
/// over [`MAX_TIMELINE_SEGMENTS`] it is refused before boundaries are
/// placed.
#[test]
fn timelines_longer_than_the_cap_are_refused() {
    let n = MAX_TIMELINE_SEGMENTS as u32 + 10;
    let mut a = SynthTrack::audio(n);
    a.timescale = 1;
    a.edit = None;
    for s in &mut a.samples {
        s.0 = 86_400;
        s.1 = 1;
    }
    let idx = synth_index(&[a]);
    match Timeline::compute(&[&idx.tracks[0]], 6000) {
        Err(TimelineError::Limit(l)) => {
            assert_eq!(l.cap, Cap::TimelineSegments);
            assert_eq!(l.max, MAX_TIMELINE_SEGMENTS as u64);
        }
        r => panic!("{r:?}"),
    }
}

/// Five renditions of 63 000 keyframes each: checking their alignment
/// would be 252 000 lookups, refused before the first.
#[test]
fn alignment_work_is_capped() {
    let video = || {
        let mut v = SynthTrack::video(126_000, 24, 2);
        for s in &mut v.samples {
            s.1 = 1;
        }
        synth_index(&[v])
    };
    let files: Vec<_> = (0..5).map(|_| video()).collect();
    let tracks: Vec<&TrackIndex> = files.iter().map(|f| &f.tracks[0]).collect();
    assert_eq!(
        Timeline::compute(&tracks, 6000),
        Err(TimelineError::Limit(LimitError::new(
            Cap::AlignmentProbes,
            63_000 * 4,
            MAX_ALIGNMENT_PROBES
        )))
    );
    // Four are within the cap.
    assert!(Timeline::compute(&tracks[..4], 6000).is_ok());
}

/// The i64 fast path of `rescale` gives what the i128 expression gives,
/// for negative, small, large and overflowing inputs.
#[test]
fn rescale_fast_path_matches_the_wide_one() {
    fn wide(t: i64, from: u32, to: u64) -> i64 {
        let v = i128::from(t)
            .saturating_mul(i128::from(to))
            .saturating_mul(2)
            .saturating_add(i128::from(from))
            .div_euclid(2 * i128::from(from));
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
    let times = [
        0,
        1,
        -1,
        -7,
        1023,
        -1024,
        345_600_000,
        i64::from(u32::MAX),
        i64::MAX / 3,
        i64::MIN / 3,
        i64::MAX,
        i64::MIN,
    ];
    let scales = [1, 3, 1000, 44_100, 48_000, 90_000, 10_000_000, u32::MAX];
    let targets = [1, 1000, 90_000, HNS, u64::from(u32::MAX), u64::MAX];
    for &t in &times {
        for &from in &scales {
            for &to in &targets {
                assert_eq!(rescale(t, from, to), wide(t, from, to), "{t} {from} {to}");
            }
        }
    }
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = (x as i64) >> (x % 63);
        let from = ((x >> 17) as u32).max(1) >> (x % 31);
        let to = x.rotate_left(7) >> (x % 64);
        assert_eq!(
            rescale(t, from.max(1), to),
            wide(t, from.max(1), to),
            "{t} {from} {to}"
        );
    }
}
