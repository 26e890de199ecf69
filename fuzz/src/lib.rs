//! The checks the fuzz targets run, shared by the libFuzzer targets
//! (`fuzz_targets/`, nightly) and the stable driver (`src/bin/drive.rs`).
//!
//! Contract under test: whatever bytes the origin returns, parsing,
//! indexing, the timeline, every CMAF segment, the TS muxer and every
//! manifest either succeed or return an error; none panics. Besides "no
//! panic", a few promises the edge relies on are asserted, because a
//! violation there is a wrong `Content-Length` or a bitrate in a manifest
//! that does not match what is served:
//! - the index blob reads back (`MediaIndex::from_blob`) with the same tracks;
//! - a CMAF segment's (and a Smooth fragment's) header is exactly
//!   `header_len` bytes and its runs carry exactly the segment's payload;
//! - a TS segment's `len()` is the number of bytes it writes.
//!
//! The text parsers (`.ism`, URLs, headers, access settings) have their
//! checks in [`text`]: [`ism`], [`url`], [`http`], [`locator`], and those
//! of sidecars, request bodies and key documents: [`webvtt`], [`filter`],
//! [`licence`], [`cpix`]; the codec readers that place Common
//! Encryption's protected ranges have theirs in [`codec`]: [`av1_frame`],
//! [`hevc_slice`].

use bytes::Bytes;
use edgepack::index::{self, MediaIndex, TrackIndex};
use edgepack::manifest::{dash, hls, smooth};
use edgepack::media_set::{MediaSet, SourceFile};
use edgepack::mux::cmaf::{self, FragmentOptions};
use edgepack::mux::smooth as smooth_mux;
use edgepack::mux::ts::{TsSegment, TsTrack, FIRST_AUDIO_PID, VIDEO_PID};
use edgepack::mux::MuxSample;
use edgepack::timeline::{Timeline, TrackSegment};
use edgepack::url::Format;

pub mod codec;
pub mod text;
pub use codec::{av1_frame, hevc_slice};
pub use text::{cpix, filter, http, ism, licence, locator, url, webvtt};

/// Segments per track muxed to TS (TS copies payload, so it is the costly
/// step; a few segments cover its code paths).
const TS_SEGMENTS: usize = 4;
/// Segments per track written as CMAF; a hostile file can declare a title
/// of a million segments, and every one costs a block decode.
const CMAF_SEGMENTS: usize = 4096;

/// Finding F1 (BENCHMARKS.md, FUZZING): a track with huge sample durations
/// used to get up to a million mostly empty segments, and listing them took
/// seconds. Fixed by bounding the timeline by the sample count; asserted
/// here so it stays fixed.
fn assert_bounded(idx: &MediaIndex) {
    for t in &idx.tracks {
        if let Ok(tl) = Timeline::compute(&[t], 6000) {
            assert!(
                tl.len() <= t.sample_count() as usize + 1,
                "{} segments for {} samples (F1)",
                tl.len(),
                t.sample_count()
            );
        }
    }
}

/// bytes → index → timeline → CMAF, Smooth and TS segments → HLS, DASH and
/// Smooth manifests.
pub fn parse_index_segment(data: &[u8]) {
    let file = Bytes::copy_from_slice(data);
    let Ok(idx) = index::index_whole_file(&file, "\"fuzz\"") else {
        return;
    };
    assert_bounded(&idx);
    let back = MediaIndex::from_blob(idx.blob.clone()).expect("a built index reads back");
    assert_eq!(back.tracks.len(), idx.tracks.len(), "tracks read back");
    for (a, b) in idx.tracks.iter().zip(&back.tracks) {
        assert_eq!(a.info, b.info, "track info read back");
    }
    for t in &idx.tracks {
        let _ = cmaf::init_segment(&t.info);
        let Ok(tl) = Timeline::compute(&[t], 6000) else {
            continue;
        };
        let Ok(segs) = tl.track_segments(t) else {
            continue;
        };
        for seg in segs.iter().take(CMAF_SEGMENTS) {
            check_cmaf(t, seg);
        }
        for seg in segs.iter().take(TS_SEGMENTS) {
            check_ts(&file, t, seg);
        }
    }
    manifests(idx);
}

fn check_cmaf(t: &TrackIndex, seg: &TrackSegment) {
    let opts = FragmentOptions {
        sequence: seg.number.wrapping_add(1),
        styp: true,
    };
    let Ok(ms) = cmaf::media_segment(t, seg, opts) else {
        return;
    };
    let n = seg.samples.end - seg.samples.start;
    let with_cts = t.has_cts || t.is_video();
    let payload: u64 = ms.runs.iter().map(|r| r.len).sum();
    assert_eq!(
        payload, seg.payload,
        "segment runs carry the segment payload"
    );
    // A > 4 GB mdat takes a 16-byte header; header_len assumes 8.
    let big = u64::from(payload + 8 > u64::from(u32::MAX)) * 8;
    assert_eq!(
        ms.header.len() as u64,
        cmaf::header_len(n, with_cts, true) + big,
        "CMAF header length is what header_len announces ({n} samples)"
    );
    let Ok(f) = smooth_mux::fragment(t, seg) else {
        return;
    };
    let payload: u64 = f.runs.iter().map(|r| r.len).sum();
    assert_eq!(
        payload, seg.payload,
        "Smooth fragment carries the segment payload"
    );
    assert_eq!(
        f.header.len() as u64,
        smooth_mux::header_len(n, t.is_video(), with_cts) + big,
        "Smooth header length is what header_len announces ({n} samples)"
    );
}

/// The samples of `seg` as a muxer sees them, on the presentation timeline.
fn mux_samples(file: &Bytes, t: &TrackIndex, seg: &TrackSegment) -> Option<Vec<MuxSample>> {
    let po = t.info.presentation_offset;
    let mut out = Vec::new();
    for s in t.samples(seg.samples.clone()).ok()? {
        let s = s.ok()?;
        let start = usize::try_from(s.offset).ok()?;
        let end = start.checked_add(s.size as usize)?;
        if end > file.len() {
            return None;
        }
        let dts = i64::try_from(s.dts).ok()?.checked_sub(po)?;
        let pts = dts.checked_add(i64::from(s.cts_offset))?;
        out.push(MuxSample {
            dts,
            pts,
            duration: s.duration,
            sync: s.sync,
            data: file.slice(start..end),
        });
    }
    Some(out)
}

fn check_ts(file: &Bytes, t: &TrackIndex, seg: &TrackSegment) {
    let Some(samples) = mux_samples(file, t, seg) else {
        return;
    };
    let pid = if t.is_video() {
        VIDEO_PID
    } else {
        FIRST_AUDIO_PID
    };
    let track = TsTrack {
        info: &t.info,
        samples: &samples,
        pid,
    };
    let Ok(ts) = TsSegment::new(&[track], 0) else {
        return;
    };
    let whole = ts.to_vec();
    assert_eq!(whole.len() as u64, ts.len(), "TS len() is exact");
    let streamed: u64 = ts.map(|c| c.len() as u64).sum();
    assert_eq!(streamed, whole.len() as u64, "TS chunks add up to len()");
}

fn manifests(idx: MediaIndex) {
    let files = vec![SourceFile {
        path: "fuzz/input.mp4".into(),
        index: idx,
    }];
    let Ok(set) = MediaSet::all_tracks(files, 6000) else {
        return;
    };
    let _ = hls::multivariant(&set, Format::HlsCmaf);
    for t in &set.tracks {
        let _ = hls::media_playlist(&set, t, Format::HlsCmaf);
    }
    let _ = dash::mpd(&set, Format::DashCmaf);
    let _ = dash::mpd(&set, Format::DashCsf);
    let _ = smooth::client_manifest(&set, Format::Smooth);
    let _ = smooth::client_manifest(&set, Format::SmoothV20);
}

/// A cached index blob (corrupted cache entry, or a bug): reading it and
/// walking its samples must not panic.
pub fn index_blob(data: &[u8]) {
    let Ok(idx) = MediaIndex::from_blob(Bytes::copy_from_slice(data)) else {
        return;
    };
    for t in &idx.tracks {
        let n = t.sample_count();
        if let Ok(c) = t.samples(0..n.min(100_000)) {
            for s in c {
                if s.is_err() {
                    break;
                }
            }
        }
        let _ = t.nearest_sample_start(i64::from(n) * 512);
        let _ = t.sync_points().count();
        if let Ok(tl) = Timeline::compute(&[t], 6000) {
            if let Ok(segs) = tl.track_segments(t) {
                for seg in segs.iter().take(64) {
                    let opts = FragmentOptions {
                        sequence: 1,
                        styp: true,
                    };
                    let _ = cmaf::media_segment(t, seg, opts);
                }
            }
        }
    }
    manifests(idx);
}
