use super::*;
use crate::index::index_whole_file;
use crate::index::tests::fixture;
use crate::mp4::BoxIter;
use crate::testutil::TempDir;
use crate::timeline::Timeline;

/// What a media segment says, read back with the crate's box walker.
struct Parsed {
    sequence: u32,
    base: u64,
    version: u8,
    samples: Vec<(u32, u32, u32, i32)>,
    data_offset: usize,
    mdat_payload: usize,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn parse_fragment(seg: &[u8]) -> Parsed {
    let all = Bytes::copy_from_slice(seg);
    let mut p = Parsed {
        sequence: 0,
        base: 0,
        version: 0,
        samples: vec![],
        data_offset: 0,
        mdat_payload: 0,
    };
    let mut moof_at;
    for b in BoxIter::new(all, 0, "") {
        let b = b.unwrap();
        match &b.header.typ.0 {
            b"moof" => {
                moof_at = b.header.offset as usize;
                let mfhd = b.children("moof").find(b"mfhd").unwrap().unwrap();
                p.sequence = be32(&mfhd.payload, 4);
                let traf = b.children("moof").find(b"traf").unwrap().unwrap();
                let tfdt = traf.children("traf").find(b"tfdt").unwrap().unwrap();
                assert_eq!(tfdt.payload[0], 1);
                p.base = u64::from_be_bytes(tfdt.payload[4..12].try_into().unwrap());
                let trun = traf.children("traf").find(b"trun").unwrap().unwrap();
                let t = &trun.payload;
                p.version = t[0];
                let flags = be32(t, 0) & 0xffffff;
                let n = be32(t, 4) as usize;
                p.data_offset = moof_at + be32(t, 8) as usize;
                let per = if flags & 0x800 != 0 { 16 } else { 12 };
                for i in 0..n {
                    let at = 12 + i * per;
                    let cts = if per == 16 {
                        be32(t, at + 12) as i32
                    } else {
                        0
                    };
                    p.samples
                        .push((be32(t, at), be32(t, at + 4), be32(t, at + 8), cts));
                }
            }
            b"mdat" => {
                assert_eq!(
                    b.payload_offset() as usize,
                    p.data_offset,
                    "trun data offset points at mdat payload"
                );
                p.mdat_payload = b.payload.len();
            }
            _ => {}
        }
    }
    p
}

/// Materializes a segment from the whole file (what the edge does with
/// range reads).
use crate::testutil::materialize;

#[test]
fn segments_round_trip_with_expected_samples_and_times() {
    let file = fixture("muxed_moov_end.mp4");
    let idx = index_whole_file(&file, "").unwrap();
    let tracks: Vec<&TrackIndex> = idx.tracks.iter().collect();
    let tl = Timeline::compute(&tracks, 2000).unwrap();
    for t in &tracks {
        for seg in tl.track_segments(t).unwrap() {
            let ms = media_segment(
                t,
                &seg,
                FragmentOptions {
                    sequence: seg.number + 1,
                    styp: true,
                },
            )
            .unwrap();
            let bytes = materialize(&ms, &file);
            assert_eq!(bytes.len() as u64, ms.len(), "size known up front");
            let p = parse_fragment(&bytes);
            assert_eq!(p.sequence, seg.number + 1);
            assert_eq!(p.samples.len() as u32, seg.samples.end - seg.samples.start);
            let total: u64 = p.samples.iter().map(|s| u64::from(s.1)).sum();
            assert_eq!(total, p.mdat_payload as u64);
            assert_eq!(total, seg.payload);
            let dur: u64 = p.samples.iter().map(|s| u64::from(s.0)).sum();
            assert_eq!(dur, seg.duration);
            if t.is_video() {
                // Presentation time of the first (key)frame = segment start.
                assert_eq!(p.base as i64 + i64::from(p.samples[0].3), seg.start);
                assert_eq!(p.samples[0].2, FLAGS_SYNC);
                if seg.number == 0 {
                    assert_eq!(p.version, 1, "edit shift makes some offsets negative");
                }
            } else {
                assert_eq!(p.base as i64, seg.start);
            }
            // Payload bytes are the source samples, in order.
            let first = t.sample(seg.samples.start).unwrap();
            let at = bytes.len() - p.mdat_payload;
            assert_eq!(
                &bytes[at..at + 16],
                &file[first.offset as usize..first.offset as usize + 16]
            );
        }
    }
}

#[test]
fn init_segment_carries_the_sample_entry_and_parses_back() {
    let file = fixture("muxed_moov_end.mp4");
    let idx = index_whole_file(&file, "").unwrap();
    for t in &idx.tracks {
        let init = init_segment(&t.info);
        let mut walk = BoxIter::new(init.clone(), 0, "");
        assert_eq!(&walk.next().unwrap().unwrap().header.typ.0, b"ftyp");
        let moov = walk.next().unwrap().unwrap();
        let movie = crate::mp4::moov::parse_moov(
            init.slice(moov.header.offset as usize..),
            moov.header.offset,
        );
        // Empty sample tables and an mvex: a fragmented movie whose track
        // has no samples until its fragments are appended.
        let movie = movie.unwrap();
        assert_eq!(movie.tracks.len(), 1);
        assert_eq!(movie.tracks[0].sample_count(), 0);
        assert!(movie.trex.is_some());
        assert!(movie.check_has_samples(0).is_err());
        let pos = init
            .windows(t.info.sample_entry.len())
            .position(|w| w == &t.info.sample_entry[..]);
        assert!(pos.is_some(), "sample entry copied byte for byte");
    }
}

#[test]
fn ffmpeg_decodes_init_plus_segments() {
    if std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_err()
    {
        eprintln!("ffmpeg missing: skipped");
        return;
    }
    let file = fixture("muxed_moov_end.mp4");
    let idx = index_whole_file(&file, "").unwrap();
    let tracks: Vec<&TrackIndex> = idx.tracks.iter().collect();
    let tl = Timeline::compute(&tracks, 2000).unwrap();
    let dir = TempDir::new("cmaf");
    for t in &tracks {
        let mut out = init_segment(&t.info).to_vec();
        for seg in tl.track_segments(t).unwrap() {
            let ms = media_segment(
                t,
                &seg,
                FragmentOptions {
                    sequence: seg.number + 1,
                    styp: true,
                },
            )
            .unwrap();
            out.extend(materialize(&ms, &file));
        }
        let path = dir.join(format!("track{}.mp4", t.info.track_id));
        std::fs::write(&path, &out).unwrap();
        let frames = crate::testutil::ffmpeg_frames(&path).unwrap();
        assert_eq!(
            frames as u32,
            t.sample_count() - crate::timeline::first_presented(t).unwrap()
        );
    }
}

/// Open GOPs: the leading B-frames after a recovery-point I-frame are
/// flagged `is_leading = 1` (not decodable from this segment alone); closed
/// GOPs have no such flags.
#[test]
fn open_gop_leading_samples_are_flagged() {
    for (name, open) in [("open_gop.mp4", true), ("avc_bframes.mp4", false)] {
        let file = fixture(name);
        let idx = index_whole_file(&file, "").unwrap();
        let t = &idx.tracks[0];
        let tl = Timeline::compute(&[t], 1000).unwrap();
        let segs = tl.track_segments(t).unwrap();
        assert!(segs.len() >= 3, "{name}");
        let mut flagged = 0;
        for seg in &segs {
            let ms = media_segment(
                t,
                seg,
                FragmentOptions {
                    sequence: seg.number + 1,
                    styp: true,
                },
            )
            .unwrap();
            let p = parse_fragment(&materialize(&ms, &file));
            let key_pts = p.samples[0].3;
            // Decode time relative to the first sample.
            let mut pts = 0i64;
            for (i, s) in p.samples.iter().enumerate() {
                let leading = s.2 & IS_LEADING_UNDECODABLE != 0;
                if i > 0 {
                    pts += i64::from(p.samples[i - 1].0);
                }
                let presented_before = pts + i64::from(s.3) < i64::from(key_pts);
                assert_eq!(
                    leading, presented_before,
                    "{name} seg {} sample {i}",
                    seg.number
                );
                flagged += usize::from(leading);
            }
        }
        assert_eq!(flagged > 0, open, "{name}: {flagged} leading samples");
    }
}

/// `header_len` sizes segments in playlists before any is written: it must
/// equal the header `media_segment` writes, for every fixture segment.
#[test]
fn header_len_is_the_written_header_length() {
    for name in [
        "muxed_moov_end.mp4",
        "avc_bframes.mp4",
        "aac.mp4",
        "hevc.mp4",
    ] {
        let file = fixture(name);
        let idx = index_whole_file(&file, "").unwrap();
        let tracks: Vec<&TrackIndex> = idx.tracks.iter().collect();
        let tl = Timeline::compute(&tracks, 1000).unwrap();
        for t in &tracks {
            let with_cts = t.has_cts || t.is_video();
            for seg in tl.track_segments(t).unwrap() {
                let n = seg.samples.end - seg.samples.start;
                for styp in [false, true] {
                    let opts = FragmentOptions {
                        sequence: seg.number + 1,
                        styp,
                    };
                    let ms = media_segment(t, &seg, opts).unwrap();
                    assert_eq!(
                        ms.header.len() as u64,
                        header_len(n, with_cts, styp),
                        "{name} track {} seg {}",
                        t.info.track_id,
                        seg.number
                    );
                }
            }
        }
    }
}
