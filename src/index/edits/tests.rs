use crate::index::TrackIndex;
use crate::testutil::{synth_index, synth_mp4, SynthTrack};
use crate::timeline::{presentation_end, Timeline};

/// 10 s of 24 fps video (timescale 12288, one frame 512) in closed GOPs
/// of `gop` (even) frames, I P B P B … P, with a one-frame B-frame delay
/// (media_time 512).
fn video(gop: u32) -> SynthTrack {
    let mut t = SynthTrack::video(240, 24, gop);
    for (i, s) in t.samples.iter_mut().enumerate() {
        if i as u32 % gop == gop - 1 {
            s.3 = 512;
        }
    }
    t
}

/// 10 s of 48 kHz AAC-like audio with 1024 ticks of priming.
fn audio() -> SynthTrack {
    SynthTrack::audio(470)
}

const FRAME: i64 = 512;
const VS: i64 = 12288;
const AS: i64 = 48000;

/// Presentation times of every sample of `t`, in decode order.
fn pts(t: &TrackIndex) -> Vec<i64> {
    t.samples(0..t.sample_count())
        .unwrap()
        .map(|s| t.pts(&s.unwrap()))
        .collect()
}

/// Presentation times sorted: the frames as shown.
fn shown(t: &TrackIndex) -> Vec<i64> {
    let mut p = pts(t);
    p.sort_unstable();
    p
}

#[test]
fn constant_shift_keeps_every_sample() {
    let idx = synth_index(&[video(48), audio()]);
    let (v, a) = (&idx.tracks[0], &idx.tracks[1]);
    assert_eq!((v.sample_count(), a.sample_count()), (240, 470));
    assert_eq!((v.info.presented_end, a.info.presented_end), (None, None));
    assert_eq!(v.info.presentation_offset, FRAME);
    assert_eq!(a.info.presentation_offset, 1024);
}

#[test]
fn a_cut_on_keyframes_drops_the_middle_and_closes_the_gap() {
    // Show 0–2 s, then 4–7 s: a 2 s cut, 5 s presented.
    let v = video(48).with_elst(&[(2000, FRAME), (3000, FRAME + 4 * VS)]);
    let a = audio().with_elst(&[(2000, 1024), (3000, 1024 + 4 * AS)]);
    let idx = synth_index(&[v, a]);
    let (v, a) = (&idx.tracks[0], &idx.tracks[1]);
    // Video: the two first GOPs (48 frames) and 4 s–7 s: 73 samples in
    // decode order (the last presented frame's reference, the 7 s P
    // frame, is kept too).
    assert_eq!(v.sample_count(), 48 + 73);
    assert_eq!(v.info.presented_end, Some(5 * VS));
    let shown = shown(v);
    // Frames every 512 ticks from 0 without a gap across the cut, the
    // 7 s anchor frame last (past the end, where manifests stop).
    let expect: Vec<i64> = (0..121).map(|i| i * FRAME).collect();
    assert_eq!(shown, expect);
    assert_eq!(shown[120], 5 * VS);
    // The keyframe after the cut is presented at 2 s.
    assert_eq!(v.sync_points().nth(1), Some((48, 2 * VS)));
    // Audio: priming dropped; 2 s and 3 s cut at the nearest frames.
    assert_eq!(a.info.presentation_offset, 0);
    let ap = pts(a);
    assert_eq!(ap[0], 0);
    assert!(ap.windows(2).all(|w| w[1] - w[0] == 1024), "continuous");
    let end = a.info.presented_end.unwrap();
    assert!((end - 5 * AS).abs() < 1024, "{end}");
    assert!((ap.len() as i64 * 1024 - 5 * AS).abs() <= 1024);
    // The timeline ends at the edit's end; its segments add up to it.
    let tl = Timeline::compute(&[v, a], 2000).unwrap();
    assert_eq!(tl.end, 5 * VS);
    for t in [v, a] {
        let segs = tl.track_segments(t).unwrap();
        let total: u64 = segs.iter().map(|s| s.duration).sum();
        let want = presentation_end(t) as u64;
        assert!(total.abs_diff(want) <= 1024, "{total} vs {want}");
        assert_eq!(
            segs.last().map(|s| s.start + s.duration as i64),
            Some(presentation_end(t))
        );
    }
}

#[test]
fn cuts_between_keyframes_move_out_to_them_and_audio_follows() {
    // 1 s GOPs; show 0–2.5 s and 5–8 s. Video ends the first edit at the
    // 3 s keyframe (never hiding what the edit shows); audio cuts at 3 s
    // too, so both resume together at 3 s presentation.
    let v = video(24).with_elst(&[(2500, FRAME), (3000, FRAME + 5 * VS)]);
    let a = audio().with_elst(&[(2500, 1024), (3000, 1024 + 5 * AS)]);
    let idx = synth_index(&[v, a]);
    let (v, a) = (&idx.tracks[0], &idx.tracks[1]);
    assert_eq!(v.sync_points().nth(3), Some((72, 3 * VS)));
    assert_eq!(v.info.presented_end, Some(6 * VS));
    let ap = pts(a);
    assert!(ap.windows(2).all(|w| w[1] - w[0] == 1024));
    // Audio sample at 3 s presentation is the one from 5 s of media: the
    // drop is 2 s (frame-rounded), the same as video's.
    let dropped = 470 - 1 - ap.len() as i64; // minus the priming frame
    let dropped_secs = (dropped * 1024) as f64 / AS as f64;
    let end = a.info.presented_end.unwrap();
    assert!((end - 6 * AS).abs() < 1024, "{end}");
    assert!(dropped_secs > 3.9, "{dropped_secs}");
}

#[test]
fn start_and_end_trims() {
    // Show 1.25 s–4.25 s: the start is mid-GOP, so video (and audio with
    // it) starts at the 0 s keyframe; the end is frame-exact.
    let v = video(48).with_elst(&[(3000, FRAME + VS + 6 * FRAME)]);
    let a = audio().with_elst(&[(3000, 1024 + 60000)]);
    let idx = synth_index(&[v, a]);
    let (v, a) = (&idx.tracks[0], &idx.tracks[1]);
    // The keyframe is presented at 0.
    assert_eq!(v.info.presentation_offset, FRAME);
    assert_eq!(v.sync_points().next(), Some((0, 0)));
    assert_eq!(v.info.presented_end, Some(3 * VS + VS + VS / 4));
    let shown = shown(v);
    assert_eq!(shown[0], 0);
    // Frames through 4.25 s (102), and the P frame at 4.25 s that the last
    // B-frame before it needs.
    assert_eq!(shown.len(), 103);
    // Audio follows: priming dropped, 0 to 4.25 s.
    assert_eq!(a.info.presentation_offset, 0);
    assert_eq!(a.info.presented_end, Some(4 * AS + AS / 4));
    let tl = Timeline::compute(&[v, a], 2000).unwrap();
    assert_eq!(tl.end, 4 * VS + VS / 4);
    let segs = tl.track_segments(v).unwrap();
    assert_eq!(segs[0].start, 0);
    let total: u64 = segs.iter().map(|s| s.duration).sum();
    assert_eq!(total, (4 * VS + VS / 4) as u64);
    let media_set = crate::media_set::MediaSet::all_tracks(
        vec![crate::media_set::SourceFile {
            path: "trim.mp4".into(),
            index: idx.clone(),
        }],
        2000,
    )
    .unwrap();
    assert_eq!(media_set.duration_secs(), 4.25);
}

#[test]
fn a_start_on_the_first_frame_changes_nothing() {
    // ffmpeg's B-frame delay edit: media_time is the first frame's
    // composition time; only the end is trimmed (at 9 s).
    let v = video(48).with_elst(&[(9000, FRAME)]);
    let idx = synth_index(&[v]);
    let v = &idx.tracks[0];
    assert_eq!(v.info.presentation_offset, FRAME);
    assert_eq!(v.info.presented_end, Some(9 * VS));
    assert_eq!(shown(v)[0], 0);
}

#[test]
fn tracks_without_an_edit_list_follow_a_moved_start() {
    // Video starts 1.25 s into its first GOP (moved back to the keyframe);
    // audio without an edit list is presented 1.25 s later with it, so
    // the two stay as in sync as the file had them.
    let v = video(48).with_elst(&[(8000, FRAME + VS + VS / 4)]);
    let mut a = audio();
    a.edit = None;
    let idx = synth_index(&[v, a]);
    let (v, a) = (&idx.tracks[0], &idx.tracks[1]);
    assert_eq!(v.info.presentation_offset, FRAME);
    assert_eq!(a.info.presentation_offset, -(AS + AS / 4));
    assert_eq!(a.sample_count(), 470);
}

#[test]
fn unsupported_edit_lists_are_refused_at_index_time() {
    let many: Vec<(u32, i64)> = (0..100).map(|i| (10, i * 1000)).collect();
    let file = synth_mp4(&[video(48).with_elst(&many)]);
    let e = crate::index::index_whole_file(&file, "e").unwrap_err();
    assert!(e.to_string().contains("limit is 64"), "{e}");
    let file = synth_mp4(&[video(48).with_elst(&[(1000, 5000), (1000, 0)])]);
    let e = crate::index::index_whole_file(&file, "e").unwrap_err();
    assert!(e.to_string().contains("goes back"), "{e}");
}

#[test]
fn edits_past_the_media_are_refused() {
    // The edit starts after the last sample: nothing to present.
    for tracks in [
        vec![audio().with_elst(&[(1000, 100 * AS)])],
        vec![
            video(48).with_elst(&[(1000, 100 * VS)]),
            audio().with_elst(&[(1000, 100 * AS)]),
        ],
    ] {
        let file = synth_mp4(&tracks);
        let e = crate::index::index_whole_file(&file, "e").unwrap_err();
        assert!(e.to_string().contains("presents none"), "{e}");
    }
}
