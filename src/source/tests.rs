//! Index loading over a directory origin: first-frame probes, and how bad
//! objects (empty, not an MP4, fragmented) are reported through `serve`.

use super::*;
use crate::mux::boxes::BoxWriter;
use crate::service::{serve, Config, ServeError};
use crate::testutil::{audio_entry, synth_mp4, SynthTrack, TempDir};
use crate::url::{parse, Route};

/// The first core frame header of ffmpeg's `-c:a dca` 5.1 (AMODE 9, LFF 2).
const DTS_51_FRAME: [u8; 11] = [
    0x7f, 0xfe, 0x80, 0x01, 0xfc, 0x3c, 0x3f, 0xf2, 0x75, 0xe0, 0x05,
];

/// `esds` with object type 0xA9 (DTS) and no DecoderSpecificInfo, as
/// ffmpeg's mp4 muxer writes it.
const ESDS_DTS: [u8; 36] = [
    0, 0, 0, 0, 0x03, 0x80, 0x80, 0x80, 0x1b, 0, 1, 0, 0x04, 0x80, 0x80, 0x80, 0x0d, 0xa9, 0x15, 0,
    0, 0, 0, 0x0b, 0xb8, 0, 0, 0x0b, 0xb8, 0, 0x06, 0x80, 0x80, 0x80, 0x01, 0x02,
];

/// A directory origin holding `files`.
/// The directory goes when the returned guard is dropped.
fn origin_with(files: &[(&str, &[u8])]) -> (FileOrigin, TempDir) {
    let dir = TempDir::new("source");
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    (FileOrigin::new(dir.path()), dir)
}

/// Video and DTS audio (`mp4a` + esds 0xA9, channelcount 2) whose first
/// frame is a 5.1 core frame when `patch`; faststart, samples laid out
/// track after track (video first unless `audio_first`). Video frames of
/// `video_size` bytes decide how far into the file the audio starts.
fn dts_file(video_size: u32, patch: bool, audio_first: bool) -> Vec<u8> {
    let mut video = SynthTrack::video(96, 24, 24);
    for s in &mut video.samples {
        s.1 = video_size;
    }
    let entry = audio_entry(b"mp4a", &[(b"esds", &ESDS_DTS)]);
    let audio = SynthTrack::audio(100).with_entry(entry);
    let tracks = if audio_first {
        [audio, video]
    } else {
        [video, audio]
    };
    let mut file = synth_mp4(&tracks).to_vec();
    if patch {
        let idx = index::index_whole_file(&Bytes::from(file.clone()), "").unwrap();
        let at = dts_track(&idx).sample(0).unwrap().offset as usize;
        file[at..at + DTS_51_FRAME.len()].copy_from_slice(&DTS_51_FRAME);
    }
    file
}

fn dts_track(idx: &MediaIndex) -> &index::TrackIndex {
    let audio = idx.tracks.iter().find(|t| !t.is_video());
    audio.unwrap_or_else(|| panic!("no audio track"))
}

/// `file` (faststart) with its moov moved after the mdat, chunk offsets
/// (`co64`) moved with the data.
fn moov_to_end(file: &[u8]) -> Vec<u8> {
    let Ok(Probe::Moov { offset, size }) = locate_moov(file, 0, 0, file.len() as u64) else {
        panic!("no moov");
    };
    let (at, len) = (offset as usize, size as usize);
    let mut moov = file[at..at + len].to_vec();
    let mut i = 0;
    while let Some(p) = moov[i..].windows(4).position(|w| w == b"co64") {
        let p = i + p;
        let count = u32::from_be_bytes(moov[p + 8..p + 12].try_into().unwrap()) as usize;
        for k in 0..count {
            let e = p + 12 + 8 * k;
            let v = u64::from_be_bytes(moov[e..e + 8].try_into().unwrap()) - len as u64;
            moov[e..e + 8].copy_from_slice(&v.to_be_bytes());
        }
        i = p + 4;
    }
    let mut out = file[..at].to_vec();
    out.extend_from_slice(&file[at + len..]);
    out.extend_from_slice(&moov);
    out
}

#[test]
fn dts_channels_come_from_the_first_frame_and_are_cached() {
    // Small file: the head read holds the first frame, no extra read.
    let (mut origin, _dir) = origin_with(&[("d.mp4", &dts_file(1000, true, false))]);
    let mut cache = MemoryCache::default();
    let (idx, reads) = load_indexes(&["d.mp4".into()], &mut origin, &mut cache).unwrap();
    assert_eq!(reads, 1);
    let audio = &dts_track(&idx[0]).info;
    assert_eq!(
        (audio.codec_string.as_str(), audio.channels),
        ("mp4a.A9", 6)
    );
    // Warm: the count comes back with the cached index.
    let (idx, reads) = load_indexes(&["d.mp4".into()], &mut origin, &mut cache).unwrap();
    assert_eq!((reads, dts_track(&idx[0]).info.channels), (0, 6));
    // Moov at the end of a file larger than the head read: the first frame
    // comes from the head read, kept while the walk fetched the tail.
    let big = moov_to_end(&dts_file(4000, true, true));
    assert!(big.len() as u64 > HEAD_PROBE_LEN);
    let (mut origin, _dir2) = origin_with(&[("end.mp4", &big)]);
    let (idx, reads) = load_indexes(
        &["end.mp4".into()],
        &mut origin,
        &mut MemoryCache::default(),
    )
    .unwrap();
    assert_eq!(reads, 2, "{:?}", origin.log);
    assert_eq!(dts_track(&idx[0]).info.channels, 6);
}

#[test]
fn a_first_frame_beyond_the_reads_so_far_costs_one_more_read() {
    // 96 video frames of 4000 bytes put the audio's first frame past the
    // 256 KB head read: one read of just its header follows.
    let file = dts_file(4000, true, false);
    let (mut origin, _dir) = origin_with(&[("d.mp4", &file)]);
    let (idx, reads) =
        load_indexes(&["d.mp4".into()], &mut origin, &mut MemoryCache::default()).unwrap();
    assert_eq!(reads, 2, "{:?}", origin.log);
    let frame = &origin.log[1];
    let first = dts_track(&idx[0]).sample(0).unwrap().offset;
    assert_eq!((frame.start, frame.end), (first, first + 11));
    assert!(
        frame.if_match.is_some(),
        "conditional on the indexed version"
    );
    assert_eq!(dts_track(&idx[0]).info.channels, 6);
    // A first sample that is not a DTS core frame keeps the entry's count.
    let (mut origin, _dir2) = origin_with(&[("n.mp4", &dts_file(4000, false, false))]);
    let (idx, _) =
        load_indexes(&["n.mp4".into()], &mut origin, &mut MemoryCache::default()).unwrap();
    assert_eq!(dts_track(&idx[0]).info.channels, 2);
}

#[test]
fn dts_5_1_is_announced_as_6_channels() {
    let (mut origin, _dir) = origin_with(&[("d.mp4", &dts_file(1000, true, false))]);
    let mut cache = MemoryCache::default();
    let hls = get("/d.mp4/manifest(format=m3u8-cmaf)", &mut origin, &mut cache).unwrap();
    assert!(hls.contains("CHANNELS=\"6\""), "{hls}");
    let mpd = get(
        "/d.mp4/manifest(format=mpd-time-cmaf)",
        &mut origin,
        &mut cache,
    )
    .unwrap();
    assert!(
        mpd.contains("tag:dts.com,2014:dash:audio_channel_configuration:2012\" value=\"6\""),
        "{mpd}"
    );
    // ffmpeg's own output (fixtures/small/dts51.mp4, `-c:a dca` 5.1).
    let small = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small");
    let mut origin = FileOrigin::new(small);
    let mpd = get(
        "/dts51.mp4/manifest(format=mpd-time-cmaf)",
        &mut origin,
        &mut cache,
    )
    .unwrap();
    assert!(mpd.contains("codecs=\"mp4a.A9\""), "{mpd}");
    assert!(
        mpd.contains("tag:dts.com,2014:dash:audio_channel_configuration:2012\" value=\"6\""),
        "{mpd}"
    );
}

/// A manifest's text, or the error.
fn get(path: &str, origin: &mut FileOrigin, cache: &mut MemoryCache) -> Result<String, ServeError> {
    let Ok(Route::Stream(req)) = parse(path, None) else {
        panic!("{path}");
    };
    match serve(&req, origin, cache, &Config::default())? {
        crate::service::Output::Text { body, .. } => Ok(body),
        o => panic!("{path}: {o:?}"),
    }
}

/// `file` with an `mvex` (and `trex`) added to its moov, as fragmented
/// writers (ISMV, `-movflags frag_keyframe`) leave it.
fn with_mvex(file: &[u8]) -> Vec<u8> {
    let Ok(Probe::Moov { offset, size }) = locate_moov(file, 0, 0, file.len() as u64) else {
        panic!("no moov");
    };
    let (at, len) = (offset as usize, size as usize);
    let mut mvex = BoxWriter::default();
    mvex.start(b"mvex")
        .start_full(b"trex", 0, 0)
        .u32(1)
        .u32(1)
        .u32(0)
        .u32(0)
        .u32(0)
        .end()
        .end();
    let mut out = file[..at].to_vec();
    out.extend_from_slice(&((len + mvex.buf.len()) as u32).to_be_bytes());
    out.extend_from_slice(&file[at + 4..at + len]);
    out.extend_from_slice(&mvex.buf);
    out.extend_from_slice(&file[at + len..]);
    out
}

#[test]
fn bad_objects_are_named_without_echoing_them() {
    let plain = synth_mp4(&[SynthTrack::video(48, 24, 24)]);
    let ism =
        r#"<smil><body><switch><video src="x.ismv" systemBitrate="1"/></switch></body></smil>"#;
    let missing =
        r#"<smil><body><switch><video src="y.ismv" systemBitrate="1"/></switch></body></smil>"#;
    let (mut origin, _dir) = origin_with(&[
        ("e.mp4", b""),
        ("page.mp4", b"<html><body>404</body></html>\n"),
        ("text.mp4", b"hello, this is not a movie\n"),
        ("x.ismv", &with_mvex(&plain)),
        ("frag.mp4", &with_mvex(&plain)),
        ("x.ism", ism.as_bytes()),
        ("missing.ism", missing.as_bytes()),
    ]);
    let mut cache = MemoryCache::default();
    let mut err = |p: &str| {
        let e = get(p, &mut origin, &mut cache).unwrap_err();
        (e.status(), e.to_string())
    };
    // A 0-byte object (an HTTP origin answers 416 to `bytes=0-…`).
    assert_eq!(err("/e.mp4/manifest"), (502, "empty object: e.mp4".into()));
    // Not an MP4: said so, the bytes never quoted as a box type.
    for name in ["page", "text"] {
        let (status, reason) = err(&format!("/{name}.mp4/manifest(format=m3u8-cmaf)"));
        assert_eq!(status, 502);
        assert_eq!(reason, format!("{name}.mp4: not an MP4 (ISO BMFF) file"));
    }
    // A moov with an mvex and every sample in its own tables (no moof
    // follows): served from the moov, as an .ismv, through an .ism and as
    // an .mp4; a missing .ismv is a plain 404.
    for p in [
        "/x.ismv/manifest",
        "/x.ismv/manifest(format=m3u8-cmaf)",
        "/x.ism/manifest",
        "/frag.mp4/manifest(format=mpd-time-cmaf)",
    ] {
        assert!(get(p, &mut origin, &mut cache).is_ok(), "{p}");
    }
    let mut err = |p: &str| {
        let e = get(p, &mut origin, &mut cache).unwrap_err();
        (e.status(), e.to_string())
    };
    assert_eq!(err("/nothere.ismv/manifest").0, 404);
    assert_eq!(err("/missing.ism/manifest").0, 404);
}

/// `file` with a `free` box of `n` bytes (n ≥ 8) inserted at byte `at` (a
/// top-level box boundary), chunk offsets (`co64`) past `at` moved with
/// the data.
fn insert_free(file: &[u8], at: usize, n: usize) -> Vec<u8> {
    let mut out = file[..at].to_vec();
    out.extend_from_slice(&(n as u32).to_be_bytes());
    out.extend_from_slice(b"free");
    out.resize(at + n, 0);
    out.extend_from_slice(&file[at..]);
    let Ok(Probe::Moov { offset, size }) = locate_moov(&out, 0, 0, out.len() as u64) else {
        panic!("no moov");
    };
    let moov = offset as usize..(offset + size) as usize;
    let mut i = moov.start;
    while let Some(p) = out[i..moov.end].windows(4).position(|w| w == b"co64") {
        let p = i + p;
        let count = u32::from_be_bytes(out[p + 8..p + 12].try_into().unwrap()) as usize;
        for k in 0..count {
            let e = p + 12 + 8 * k;
            let v = u64::from_be_bytes(out[e..e + 8].try_into().unwrap());
            if v >= at as u64 {
                out[e..e + 8].copy_from_slice(&(v + n as u64).to_be_bytes());
            }
        }
        i = p + 4;
    }
    out
}

/// Loads `name` cold from `files`; returns the reads made and checks that
/// no byte was read twice: (reads, bytes read).
fn cold_load(files: &[(&str, &[u8])], name: &str) -> (Vec<MediaIndex>, usize, u64) {
    let (mut origin, _dir) = origin_with(files);
    let size = files.iter().find(|f| f.0 == name).unwrap().1.len() as u64;
    let got = load_indexes(&[name.into()], &mut origin, &mut MemoryCache::default());
    let (idx, reads) = got.unwrap();
    let mut ranges: Vec<(u64, u64)> = origin
        .log
        .iter()
        .map(|r| (r.start, r.end.min(size)))
        .collect();
    assert_eq!(reads, ranges.len());
    ranges.sort();
    for w in ranges.windows(2) {
        assert!(
            w[0].1 <= w[1].0,
            "{name}: bytes read twice: {:?}",
            origin.log
        );
    }
    let bytes = ranges.iter().map(|(a, b)| b - a).sum();
    (idx, reads, bytes)
}

/// Where read `i` of a cold load of `file` starts.
fn origin_start(file: &[u8], name: &str, i: usize) -> u64 {
    let (mut origin, _dir) = origin_with(&[(name, file)]);
    let got = load_indexes(&[name.into()], &mut origin, &mut MemoryCache::default());
    assert!(got.is_ok());
    origin.log[i].start
}

/// (offset, size) of the moov of `file`.
fn moov_of(file: &[u8]) -> (u64, u64) {
    match locate_moov(file, 0, 0, file.len() as u64) {
        Ok(Probe::Moov { offset, size }) => (offset, size),
        p => panic!("{p:?}"),
    }
}

#[test]
fn a_moov_inside_the_head_read_is_not_read_again() {
    let file = dts_file(1000, true, false);
    let (idx, reads, bytes) = cold_load(&[("a.mp4", &file)], "a.mp4");
    assert_eq!((reads, bytes), (1, (file.len() as u64).min(HEAD_PROBE_LEN)));
    assert_eq!(dts_track(&idx[0]).info.channels, 6);
}

#[test]
fn a_moov_cut_by_the_head_read_costs_only_its_rest() {
    // A `free` box before the moov puts its start 100 bytes before the
    // head read's end: the second read is the moov's rest, not all of it.
    let plain = dts_file(1000, true, false);
    let (at, len) = moov_of(&plain);
    let n = (HEAD_PROBE_LEN - 100 - at) as usize;
    let file = insert_free(&plain, at as usize, n);
    let (moov_at, _) = moov_of(&file);
    assert_eq!(moov_at, HEAD_PROBE_LEN - 100);
    let (idx, reads, bytes) = cold_load(&[("s.mp4", &file)], "s.mp4");
    // Head, the moov's rest, and the audio's first frame header (11
    // bytes), which the free box pushed past the moov.
    assert_eq!(reads, 3);
    assert_eq!(bytes, moov_at + len + 11);
    // The same index as from the whole file.
    let whole = index::index_whole_file(&Bytes::from(file.clone()), "").unwrap();
    assert_eq!(idx[0].tracks.len(), whole.tracks.len());
    assert_eq!(dts_track(&idx[0]).info.channels, 6);
    let first = dts_track(&whole).sample(0).unwrap();
    assert_eq!(dts_track(&idx[0]).sample(0).unwrap(), first);
    // A moov whose header is cut (4 of its 8 bytes in the head read): the
    // 4 held bytes are not read again either. The walk then reads the
    // rest of this small file (at most a 16 MB tail) in one go, which also
    // holds the first frame.
    let n = (HEAD_PROBE_LEN - 4 - at) as usize;
    let file = insert_free(&plain, at as usize, n);
    let (idx, reads, bytes) = cold_load(&[("h.mp4", &file)], "h.mp4");
    assert_eq!((reads, bytes), (2, file.len() as u64));
    assert_eq!(origin_start(&file, "h.mp4", 1), HEAD_PROBE_LEN);
    assert_eq!(dts_track(&idx[0]).info.channels, 6);
}

#[test]
fn a_moov_at_the_end_is_read_once_and_first_frames_cut_by_a_window_are_joined() {
    // Moov after the mdat: the head, then the tail (the moov alone).
    let big = moov_to_end(&dts_file(4000, true, true));
    let (_, len) = moov_of(&big);
    let (idx, reads, bytes) = cold_load(&[("end.mp4", &big)], "end.mp4");
    assert_eq!((reads, bytes), (2, HEAD_PROBE_LEN + len));
    assert_eq!(dts_track(&idx[0]).info.channels, 6);
    // The audio's first frame cut by the head read's end (5 of its 11
    // bytes held): the frame read fetches only the other 6.
    let plain = dts_file(1000, true, false);
    let (at, len) = moov_of(&plain);
    let idx = index::index_whole_file(&Bytes::from(plain.clone()), "").unwrap();
    let first = dts_track(&idx).sample(0).unwrap().offset;
    let n = (HEAD_PROBE_LEN - 5 - first) as usize;
    let file = insert_free(&plain, (at + len) as usize, n);
    let (idx, reads, bytes) = cold_load(&[("f.mp4", &file)], "f.mp4");
    assert_eq!((reads, bytes), (2, HEAD_PROBE_LEN + 6));
    assert_eq!(dts_track(&idx[0]).info.channels, 6);
}
