use super::*;
use crate::index::index_whole_file;
use crate::index::tests::fixture;
use crate::mp4::BoxIter;
use crate::testutil::{synth_index, SynthTrack, TempDir};
use crate::timeline::Timeline;
use bytes::Bytes;

/// What a Smooth fragment says, read back with the crate's box walker.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub top: Vec<[u8; 4]>,
    pub traf_children: Vec<[u8; 4]>,
    pub sequence: u32,
    pub tfhd_flags: u32,
    pub track_id: u32,
    pub default_flags: u32,
    pub trun_version: u8,
    pub trun_flags: u32,
    /// (duration, size, flags, composition offset)
    pub samples: Vec<(u32, u32, Option<u32>, i32)>,
    pub data_offset: usize,
    pub tfxd: Option<(u8, u64, u64)>,
    pub mdat_at: usize,
    pub mdat_len: usize,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}
fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

pub(crate) fn parse_fragment(seg: &[u8]) -> Parsed {
    let all = Bytes::copy_from_slice(seg);
    let mut p = Parsed::default();
    for b in BoxIter::new(all, 0, "") {
        let b = b.unwrap();
        p.top.push(b.header.typ.0);
        match &b.header.typ.0 {
            b"moof" => {
                let moof_at = b.header.offset as usize;
                let mfhd = b.children("moof").find(b"mfhd").unwrap().unwrap();
                p.sequence = be32(&mfhd.payload, 4);
                let traf = b.children("moof").find(b"traf").unwrap().unwrap();
                for c in traf.children("traf") {
                    let c = c.unwrap();
                    p.traf_children.push(c.header.typ.0);
                    let d = &c.payload;
                    match &c.header.typ.0 {
                        b"tfhd" => {
                            p.tfhd_flags = be32(d, 0) & 0xff_ffff;
                            p.track_id = be32(d, 4);
                            assert_eq!(p.tfhd_flags, 0x20, "only default-sample-flags");
                            p.default_flags = be32(d, 8);
                        }
                        b"trun" => {
                            p.trun_version = d[0];
                            p.trun_flags = be32(d, 0) & 0xff_ffff;
                            let n = be32(d, 4) as usize;
                            assert!(p.trun_flags & 1 != 0, "data offset present");
                            p.data_offset = moof_at + be32(d, 8) as usize;
                            let mut at = 12;
                            for _ in 0..n {
                                let dur = be32(d, at);
                                let size = be32(d, at + 4);
                                at += 8;
                                let mut flags = None;
                                if p.trun_flags & 0x400 != 0 {
                                    flags = Some(be32(d, at));
                                    at += 4;
                                }
                                let mut cts = 0;
                                if p.trun_flags & 0x800 != 0 {
                                    cts = be32(d, at) as i32;
                                    at += 4;
                                }
                                p.samples.push((dur, size, flags, cts));
                            }
                            assert_eq!(at, d.len(), "trun fully read");
                        }
                        b"uuid" => {
                            assert_eq!(c.header.header_len, 24);
                            let usertype = &seg[c.header.offset as usize + 8..][..16];
                            assert_eq!(usertype, &TFXD_UUID);
                            assert_eq!(d.len(), 20, "tfxd version 1 is 20 bytes");
                            p.tfxd = Some((d[0], be64(d, 4), be64(d, 12)));
                        }
                        other => panic!("unexpected traf child {}", String::from_utf8_lossy(other)),
                    }
                }
            }
            b"mdat" => {
                p.mdat_at = b.payload_offset() as usize;
                p.mdat_len = b.payload.len();
            }
            other => panic!("unexpected box {}", String::from_utf8_lossy(other)),
        }
    }
    p
}

/// Materializes a segment from the whole file (what the edge does with
/// range reads).
pub(crate) use crate::testutil::materialize;

/// Checks one fragment against the source samples; returns the parse.
fn check_fragment(t: &TrackIndex, seg: &TrackSegment, file: &Bytes) -> Parsed {
    let ms = fragment(t, seg).unwrap();
    let bytes = materialize(&ms, file);
    assert_eq!(bytes.len() as u64, ms.len(), "size known up front");
    let with_cts = t.has_cts || t.is_video();
    let n = seg.samples.end - seg.samples.start;
    assert_eq!(
        ms.header.len() as u64,
        header_len(n, t.is_video(), with_cts)
    );
    let p = parse_fragment(&bytes);
    assert_eq!(p.top, [*b"moof", *b"mdat"], "no styp, no init");
    assert_eq!(p.traf_children, [*b"tfhd", *b"trun", *b"uuid"]);
    assert_eq!(p.sequence, seg.number + 1);
    assert_eq!(p.track_id, t.info.track_id);
    assert_eq!(
        p.data_offset, p.mdat_at,
        "data offset points at the payload"
    );
    assert_eq!(p.samples.len() as u32, n);
    let (version, time, duration) = p.tfxd.unwrap();
    assert_eq!(version, 1);
    let ft = fragment_time(t.info.timescale, seg);
    assert_eq!((time, duration), (ft.start, ft.duration));
    let sum: u64 = p.samples.iter().map(|s| u64::from(s.0)).sum();
    assert_eq!(sum, duration, "trun durations add up to the tfxd duration");
    assert_eq!(p.trun_version == 1, p.samples.iter().any(|s| s.3 < 0));
    // Every sample decodes at its rescaled source time (no drift inside a
    // fragment) and is presented at its rescaled presentation time.
    let ts = t.info.timescale;
    let mut decode = time as i64;
    let mut shift = None;
    for (s, got) in t.samples(seg.samples.clone()).unwrap().zip(&p.samples) {
        let s = s.unwrap();
        let shift = *shift.get_or_insert(seg.start - s.dts as i64);
        assert_eq!(decode, rescale(s.dts as i64 + shift, ts, HNS));
        assert_eq!(decode + i64::from(got.3), rescale(t.pts(&s), ts, HNS));
        assert_eq!(got.1, s.size);
        if t.is_video() {
            let want = if s.sync { FLAGS_SYNC } else { FLAGS_NON_SYNC };
            assert_eq!(got.2, Some(want));
        } else {
            assert_eq!(got.2, None);
            assert_eq!(p.default_flags, FLAGS_SYNC);
        }
        decode += i64::from(got.0);
    }
    if t.is_video() {
        assert_eq!(p.samples[0].3, 0, "the keyframe is presented at t");
    }
    // Payload bytes are the source samples, in order.
    assert_eq!(p.mdat_len as u64, seg.payload);
    let first = t.sample(seg.samples.start).unwrap();
    assert_eq!(
        &bytes[p.mdat_at..p.mdat_at + 16],
        &file[first.offset as usize..first.offset as usize + 16]
    );
    p
}

#[test]
fn fixture_fragments_round_trip() {
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
            let segs = tl.track_segments(t).unwrap();
            assert!(segs.len() > 1, "{name}: several fragments");
            let mut prev_end = None;
            for seg in &segs {
                let p = check_fragment(t, seg, &file);
                let (_, time, duration) = p.tfxd.unwrap();
                if let Some(end) = prev_end {
                    assert_eq!(time, end, "{name}: fragments follow on");
                }
                prev_end = Some(time + duration);
            }
            // Nothing lost to rounding over the whole track.
            let last = segs.last().unwrap();
            assert_eq!(
                prev_end.unwrap() as i64,
                rescale(last.start + last.duration as i64, t.info.timescale, HNS)
            );
        }
    }
}

#[test]
fn bframes_give_negative_offsets_in_trun_version_1() {
    let file = fixture("avc_bframes.mp4");
    let idx = index_whole_file(&file, "").unwrap();
    let t = &idx.tracks[0];
    assert!(t.is_video() && t.has_cts);
    let tl = Timeline::compute(&[t], 2000).unwrap();
    let seg = tl.track_segment(t, 0).unwrap().unwrap();
    let p = check_fragment(t, &seg, &file);
    assert_eq!(p.trun_version, 1);
    assert!(p.samples.iter().any(|s| s.3 < 0));
}

#[test]
fn rounding_never_drifts_with_inexact_timescales() {
    // 24 fps in a 12288 Hz timescale (416 666.67 HNS per frame) and AAC
    // frames at 48 kHz (213 333.33 HNS): neither is a whole number of HNS.
    let idx = synth_index(&[SynthTrack::video(24 * 60, 24, 48), SynthTrack::audio(2800)]);
    let tracks: Vec<&TrackIndex> = idx.tracks.iter().collect();
    let tl = Timeline::compute(&tracks, 2000).unwrap();
    let file =
        crate::testutil::synth_mp4(&[SynthTrack::video(24 * 60, 24, 48), SynthTrack::audio(2800)]);
    for t in &tracks {
        let segs = tl.track_segments(t).unwrap();
        let mut next = 0u64;
        for seg in &segs {
            // check_fragment: every sample decodes at its rescaled source
            // time, so no error builds up inside a fragment.
            let p = check_fragment(t, seg, &file);
            let (_, time, duration) = p.tfxd.unwrap();
            assert_eq!(time, next, "fragments follow on from 0");
            next = time + duration;
            let durations: std::collections::BTreeSet<u32> =
                p.samples.iter().map(|s| s.0).collect();
            assert!(
                durations.len() > 1,
                "rounding alternates between neighbours"
            );
        }
        let last = segs.last().unwrap();
        let end = rescale(last.start + last.duration as i64, t.info.timescale, HNS);
        assert_eq!(next as i64, end, "none lost over the track");
    }
}

#[test]
fn audio_fragments_start_on_the_presentation_timeline() {
    // The priming edit of 1024 samples is dropped: the first audio fragment
    // starts at 0 like the video.
    let idx = synth_index(&[SynthTrack::video(240, 24, 48), SynthTrack::audio(300)]);
    let tracks: Vec<&TrackIndex> = idx.tracks.iter().collect();
    let tl = Timeline::compute(&tracks, 2000).unwrap();
    for t in &tracks {
        let seg = tl.track_segment(t, 0).unwrap().unwrap();
        assert_eq!(fragment_time(t.info.timescale, &seg).start, 0);
        let ms = fragment(t, &seg).unwrap();
        let file =
            crate::testutil::synth_mp4(&[SynthTrack::video(240, 24, 48), SynthTrack::audio(300)]);
        let p = parse_fragment(&materialize(&ms, &file));
        assert_eq!(p.tfxd.unwrap().1, 0);
        if !t.is_video() {
            assert_eq!(p.trun_version, 0);
            assert_eq!(p.trun_flags & 0x800, 0, "no composition offsets for audio");
        }
    }
}

#[test]
fn ffmpeg_decodes_fragments_behind_a_10mhz_header() {
    // What a Smooth client does: a track header with TimeScale 10 000 000
    // built from the manifest, followed by the fragments as served.
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
    let dir = TempDir::new("smooth");
    for t in &tracks {
        let mut info = t.info.clone();
        info.timescale = HNS as u32;
        let mut out = crate::mux::cmaf::init_segment(&info).to_vec();
        for seg in tl.track_segments(t).unwrap() {
            out.extend(materialize(&fragment(t, &seg).unwrap(), &file));
        }
        let path = dir.join(format!("smooth{}.mp4", t.info.track_id));
        std::fs::write(&path, &out).unwrap();
        let frames = crate::testutil::ffmpeg_frames(&path).unwrap();
        assert_eq!(
            frames as u32,
            t.sample_count() - crate::timeline::first_presented(t).unwrap()
        );
    }
}

#[test]
fn text_fragment_layout() {
    let time = FragmentTime {
        start: 60_000_000,
        duration: 20_000_000,
    };
    let doc = b"<tt xmlns=\"http://www.w3.org/ns/ttml\"/>";
    let f = text_fragment(time, 4, doc).unwrap();
    let moof_len = be32(&f, 0) as usize;
    assert_eq!(&f[4..8], b"moof");
    // mfhd sequence
    assert_eq!(&f[12..16], b"mfhd");
    assert_eq!(be32(&f, 20), 4);
    // traf: tfhd (default-sample-flags sync), trun of one sample, tfxd
    assert_eq!(&f[28..32], b"traf");
    assert_eq!(&f[36..40], b"tfhd");
    assert_eq!(be32(&f, 40), 0x20);
    assert_eq!(be32(&f, 48), crate::mux::fragment::FLAGS_SYNC);
    assert_eq!(&f[56..60], b"trun");
    assert_eq!(be32(&f, 60), 0x0301);
    assert_eq!(be32(&f, 64), 1);
    assert_eq!(be32(&f, 68) as usize, moof_len + 8, "data offset");
    assert_eq!(be32(&f, 72), 20_000_000, "duration in HNS");
    assert_eq!(be32(&f, 76) as usize, doc.len());
    assert_eq!(&f[84..88], b"uuid");
    assert_eq!(&f[88..104], TFXD_UUID);
    assert_eq!(be64(&f, 108), 60_000_000);
    assert_eq!(be64(&f, 116), 20_000_000);
    assert_eq!(124, moof_len);
    assert_eq!(&f[moof_len + 4..moof_len + 8], b"mdat");
    assert_eq!(&f[moof_len + 8..], doc);
}
