use super::*;
use crate::job::{Job, Step};
use crate::service::{Output, ServeError};
use crate::source::{FileOrigin, MemoryCache, Origin};
use crate::testutil::{fixture_set, fixtures_dir, media_or_skip};
use crate::timeline::HNS;
use crate::url::{parse, Route};

/// A cache that lists the keys read.
#[derive(Default)]
struct Counting {
    inner: MemoryCache,
    got: Vec<String>,
}

impl Cache for Counting {
    fn get(&mut self, key: &str) -> Option<Bytes> {
        self.got.push(key.to_string());
        self.inner.get(key)
    }
    fn put(&mut self, key: &str, value: Bytes) {
        self.inner.put(key, value)
    }
    fn forget(&mut self, key: &str) {
        self.inner.forget(key)
    }
}

fn get_with(
    path: &str,
    origin: &mut FileOrigin,
    cache: &mut dyn Cache,
    cfg: Config,
) -> Result<Output, ServeError> {
    let req = match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    };
    let mut job = Job::new(req, cfg);
    let mut results = Vec::new();
    loop {
        match job.step(cache, results) {
            Step::Read(reads) => results = origin.read(&reads),
            Step::Answer(a) => return a,
        }
    }
}

/// A manifest's body, or its error, for comparing.
fn shown(out: &Result<Output, ServeError>) -> String {
    match out {
        Ok(Output::Text { body, omitted, .. }) => format!("{body}\n{omitted:?}"),
        Ok(o) => panic!("not a manifest: {o:?}"),
        Err(e) => format!("error {}: {e}", e.status()),
    }
}

/// The child playlists an HLS multivariant playlist names.
fn children(master: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in master.lines() {
        if !line.starts_with('#') && line.contains("Manifest(") {
            out.push(line.to_string());
        }
        if let Some((_, rest)) = line.split_once("URI=\"") {
            if let Some((uri, _)) = rest.split_once('"') {
                if uri.contains("Manifest(") {
                    out.push(uri.to_string());
                }
            }
        }
    }
    out
}

/// Every manifest of `base` (an asset URL under `root`) is the same from
/// the indexes and from the set summary, and the summary's answer reads
/// no index: HLS multivariant (fMP4 and TS), every media and I-frame
/// playlist they name, DASH, Smooth, and `extra` URLs (views).
fn same_from_summary(root: &std::path::Path, base: &str, extra: &[&str]) {
    same_from_summary_with(root, base, extra, Config::default());
}

/// [`same_from_summary`] under `cfg` (e.g. a fragment-table policy).
fn same_from_summary_with(root: &std::path::Path, base: &str, extra: &[&str], cfg: Config) {
    let get = |url: &str, origin: &mut FileOrigin, cache: &mut dyn Cache| {
        get_with(url, origin, cache, cfg.clone())
    };
    let mut origin = FileOrigin::new(root.to_path_buf());
    let mut urls: Vec<String> = [
        "manifest(format=m3u8-cmaf)",
        "manifest(format=m3u8-aapl)",
        "manifest(format=mpd-time-cmaf)",
        "Manifest",
    ]
    .iter()
    .chain(extra)
    .map(|m| format!("{base}/{m}"))
    .collect();
    // The media and I-frame playlists of every HLS multivariant playlist.
    let masters: Vec<String> = urls
        .iter()
        .filter(|u| u.contains("m3u8"))
        .cloned()
        .collect();
    for m in &masters {
        let cold = get(m, &mut origin, &mut MemoryCache::default());
        if let Ok(Output::Text { body, .. }) = &cold {
            for c in children(body) {
                let c = format!("{base}/{c}");
                if !urls.contains(&c) {
                    urls.push(c);
                }
            }
        }
    }
    assert!(urls.len() > 4, "{base}: {urls:?}");
    for url in &urls {
        // From the indexes alone: a cache that never holds a summary.
        let cold = get(url, &mut origin, &mut MemoryCache::default());
        let mut cache = Counting::default();
        let first = get(url, &mut origin, &mut cache);
        assert_eq!(shown(&first), shown(&cold), "{url}");
        assert!(
            cache.inner.0.keys().any(|k| k.starts_with("sum/")),
            "{url}: no summary stored"
        );
        cache.got.clear();
        let warm = get(url, &mut origin, &mut cache);
        assert_eq!(shown(&warm), shown(&cold), "{url} from the summary");
        assert!(
            !cache.got.iter().any(|k| k.starts_with("idx/")),
            "{url}: read {:?}",
            cache.got
        );
    }
}

#[test]
fn manifests_are_the_same_from_the_summary_small() {
    let root = fixtures_dir("small");
    for f in [
        "avc_bframes.mp4",
        "open_gop.mp4",
        "muxed_moov_end.mp4",
        "mixed_audio.mp4",
        "hevc.mp4",
        "frag.ismv",
        "dts51.mp4",
    ] {
        same_from_summary(&root, &format!("/{f}"), &[]);
    }
}

#[test]
fn manifests_are_the_same_from_the_summary_abr_and_views() {
    let Some(root) = media_or_skip("summary abr", "abr/abr.ism") else {
        return;
    };
    same_from_summary(
        &root,
        "/abr/abr.ism",
        &[
            "manifest(format=m3u8-cmaf,max_bitrate=1000000)",
            "manifest(format=mpd-time-cmaf,rendition_order=asc)",
        ],
    );
}

#[test]
fn manifests_are_the_same_from_the_summary_fragmented_and_edits() {
    let Some(root) = media_or_skip("summary frag", "frag/frag.ism") else {
        return;
    };
    for base in [
        "/frag/frag.ism",
        "/frag/muxed_cmaf.mp4",
        "/frag/muxed_sidx.mp4",
        "/edits/cut.mp4",
        "/edits/delay.mp4",
        "/multilang.mp4",
    ] {
        if root.join(&base[1..]).exists() {
            same_from_summary(&root, base, &[]);
        }
    }
}

/// Sets measured from more of their sample tables than segments and first
/// samples are summarized too (layout 2), and give the same bytes: a
/// track with several sample descriptions (its in-band parameter sets
/// count in every segment size and I-frame range: HLS fMP4, TS and TS v3
/// BANDWIDTH, I-frame playlists) and interleaved fragment-level tracks
/// (`fragment_index` always: the HLS variants compare the tracks'
/// fragment offsets to count shared fragments once).
#[test]
fn sets_measured_from_sample_tables_are_summarized() {
    let Some(root) = media_or_skip("summary stsd", "stsd/joined.mp4") else {
        return;
    };
    let ts = ["manifest(format=m3u8-aapl-v3)"];
    same_from_summary(&root, "/stsd/joined.mp4", &ts);
    let set = index_set(&root, "stsd/joined.mp4", &Config::default());
    assert!(
        set.files[0]
            .index
            .tracks
            .iter()
            .any(|t| t.has_in_band_parameter_sets()),
        "joined.mp4 has one description a track"
    );
    let Some(root) = media_or_skip("summary interleaved", "frag/muxed_sidx.mp4") else {
        return;
    };
    let mut interleaved = 0;
    for name in [
        "muxed_sidx.mp4",
        "muxed_kf.mp4",
        "muxed_cmaf.mp4",
        "muxed_dur.mp4",
        "muxed.ismv",
    ] {
        let path = format!("frag/{name}");
        if !root.join(&path).exists() {
            continue;
        }
        let cfg = tables_always();
        same_from_summary_with(&root, &format!("/{path}"), &ts, cfg.clone());
        let set = index_set(&root, &path, &cfg);
        let frag = set.files[0]
            .index
            .tracks
            .iter()
            .filter(|t| t.fragment_level);
        interleaved += usize::from(frag.count() >= 2);
    }
    assert!(interleaved > 0, "no interleaved fragment-level file");
}

/// Fragment tables used whenever a file has one (setting
/// `fragment_index`): an interleaved file's tracks are fragment-level.
fn tables_always() -> Config {
    Config {
        fragment_tables: crate::mp4::fragments::TablePolicy::Always,
        ..Config::default()
    }
}

/// The set of the file at `path` under `root` built from the index a
/// manifest request under `cfg` stores (its fragment-table policy).
fn index_set(root: &std::path::Path, path: &str, cfg: &Config) -> MediaSet {
    let mut origin = FileOrigin::new(root.to_path_buf());
    let mut cache = MemoryCache::default();
    let url = format!("/{path}/manifest(format=m3u8-cmaf)");
    get_with(&url, &mut origin, &mut cache, cfg.clone()).unwrap();
    let blob = cache
        .0
        .iter()
        .find(|(k, _)| k.starts_with("idx/"))
        .map(|(_, v)| v.clone())
        .unwrap();
    let index = MediaIndex::from_blob(blob).unwrap();
    MediaSet::all_tracks(
        vec![SourceFile {
            path: path.into(),
            index,
        }],
        cfg.segment_ms,
    )
    .unwrap()
}

/// What the manifests read of `set`'s samples is the same from its
/// summary: segments, SAP, first samples, lead bytes and first offsets.
fn assert_same_derived(set: &MediaSet, back: &MediaSet, what: &str) {
    assert_eq!(back.tracks, set.tracks, "{what}");
    for t in &set.tracks {
        let segs = set.segments(t).unwrap();
        assert_eq!(back.segments(t).unwrap(), segs, "{what}");
        assert_eq!(back.track_sap(t).unwrap(), set.track_sap(t).unwrap());
        assert_eq!(
            back.hns_runs(t).unwrap(),
            set.hns_runs(t).unwrap(),
            "{what}"
        );
        assert_eq!(
            back.smooth_runs(t).unwrap(),
            set.smooth_runs(t).unwrap(),
            "{what}"
        );
        let rates = back.summary_rates(t).expect("rates");
        for (r, format) in [(&rates.cmaf, Format::HlsCmaf), (&rates.ts, Format::HlsTs)] {
            assert_eq!(
                r,
                &hls::measure_rates(set, t, &segs, format).unwrap(),
                "{what} {format:?}"
            );
        }
        assert!(set.summary_rates(t).is_none(), "{what}");
        let idx = set.track_index(t);
        for s in segs.iter() {
            assert_eq!(
                back.lead_bytes(t, s).unwrap(),
                set.lead_bytes(t, s).unwrap(),
                "{what} {}",
                s.number
            );
            assert_eq!(
                back.first_lead_bytes(t, s).unwrap(),
                set.first_lead_bytes(t, s).unwrap(),
                "{what} {}",
                s.number
            );
            if idx.is_video() && !idx.fragment_level {
                assert_eq!(
                    back.first_sample(t, s).unwrap(),
                    set.first_sample(t, s).unwrap()
                );
            }
        }
        assert_eq!(
            back.first_offsets(t).unwrap(),
            set.first_offsets(t).unwrap(),
            "{what}"
        );
    }
}

/// Every manifest written straight from `set` (no request, no cache):
/// HLS multivariant, media and I-frame playlists in fMP4, TS and TS v3,
/// DASH and Smooth.
fn manifests_of(set: &MediaSet) -> Vec<String> {
    use crate::manifest::{dash, hls, smooth};
    use crate::url::Format;
    let mut out = Vec::new();
    for f in [Format::HlsCmaf, Format::HlsTs, Format::HlsTsV3] {
        out.push(format!("{:?}", hls::multivariant(set, f)));
        for t in &set.tracks {
            out.push(format!("{:?}", hls::media_playlist(set, t, f)));
        }
    }
    // The service refuses I-frame playlists of fragment-level tracks.
    let iframes = |t: &&SetTrack| {
        let idx = set.track_index(t);
        idx.is_video() && !idx.fragment_level
    };
    for t in set.tracks.iter().filter(iframes) {
        out.push(format!("{:?}", hls::iframe_playlist(set, t)));
    }
    out.push(format!("{:?}", dash::mpd(set, Format::DashCmaf)));
    out.push(format!(
        "{:?}",
        smooth::client_manifest(set, Format::Smooth)
    ));
    out
}

/// Two H.264 descriptions in one 20 s track (12 frames a GOP, switching
/// at frame 240), and an audio track: packaged in-band. The SPSs are long
/// (only their first bytes are read) so that the parameter sets move some
/// I-frame's byte range across a TS packet.
fn in_band_set() -> MediaSet {
    use crate::testutil::{avc_entry, synth_set, SynthTrack};
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
    let sps = |head: &[u8], len: usize| {
        let mut s = head.to_vec();
        s.resize(len, 0xaa);
        s
    };
    let small = avc_entry(
        b"avc1",
        (320, 180),
        &sps(&[0x67, 0x42, 0xc0, 0x1e], 90),
        PPS,
    );
    let large = avc_entry(
        b"avc1",
        (640, 360),
        &sps(&[0x67, 0x64, 0x00, 0x1f], 150),
        PPS,
    );
    let mut video = SynthTrack::video(480, 24, 12).with_entry(small);
    video.more_entries = vec![(240, large)];
    synth_set(&[video, SynthTrack::audio(938)], 2000)
}

#[test]
fn lead_bytes_round_trip() {
    let set = in_band_set();
    let t = &set.tracks[0];
    let segs = set.segments(t).unwrap();
    assert!(set.track_index(t).has_in_band_parameter_sets());
    assert!(segs.len() >= 4, "{segs:?}");
    // Every segment starts at a keyframe, sent with its parameter sets.
    assert!(segs.iter().all(|s| set.lead_bytes(t, s).unwrap() > 0));
    let bytes = encode(&set).unwrap();
    let back = decode(Bytes::from(bytes)).unwrap();
    assert!(back.track_index(&back.tracks[0]).is_header_only());
    let (want, got) = (manifests_of(&set), manifests_of(&back));
    for (w, g) in want.iter().zip(&got) {
        assert!(w.starts_with("Ok("), "{w}");
        assert_eq!(g, w);
    }
    assert_same_derived(&set, &back, "in-band");
    // Not a track's segment: an error, not a made-up 0.
    let stray = TrackSegment {
        number: 1000,
        ..segs[0].clone()
    };
    assert!(back.lead_bytes(t, &stray).is_err());
    assert!(back.first_lead_bytes(t, &stray).is_err());
    assert_eq!(
        set.lead_bytes(t, &stray).unwrap(),
        set.lead_bytes(t, &segs[0]).unwrap()
    );
}

#[test]
fn first_offsets_round_trip() {
    let Some(root) = media_or_skip("summary offsets", "frag/muxed_sidx.mp4") else {
        return;
    };
    let cfg = tables_always();
    let set = index_set(&root, "frag/muxed_sidx.mp4", &cfg);
    let frag: Vec<&SetTrack> = set
        .tracks
        .iter()
        .filter(|t| set.track_index(t).fragment_level)
        .collect();
    assert!(frag.len() >= 2, "{:?}", set.tracks);
    for t in &frag {
        assert!(set.first_offsets(t).unwrap().is_some(), "{t:?}");
    }
    let back = decode(Bytes::from(encode(&set).unwrap())).unwrap();
    assert_same_derived(&set, &back, "muxed_sidx.mp4");
    assert_eq!(manifests_of(&back), manifests_of(&set));
    // A clip keeps the offsets of its segments only, on both paths.
    let clip = crate::filter::Clip {
        first: 1,
        last: 2,
        start_hns: 0,
        end_hns: u64::MAX,
    };
    let (mut a, mut b) = (set.clone(), back.clone());
    a.clip = Some(clip);
    b.clip = Some(clip);
    for t in &frag {
        let offsets = a.first_offsets(t).unwrap();
        assert_eq!(offsets.as_ref().map(Vec::len), Some(2));
        assert_eq!(b.first_offsets(t).unwrap(), offsets);
    }
}

#[test]
fn manifests_are_the_same_from_the_summary_2h() {
    let Some(root) = media_or_skip("summary 2h", "long_2h.mp4") else {
        return;
    };
    same_from_summary(&root, "/long_2h.mp4", &[]);
}

fn summary_of(name: &str) -> (MediaSet, Vec<u8>) {
    let set = fixture_set(name, 2000);
    let bytes = encode(&set).unwrap();
    (set, bytes)
}

#[test]
fn round_trips() {
    for name in [
        "avc_bframes.mp4",
        "muxed_moov_end.mp4",
        "open_gop.mp4",
        "frag.ismv",
    ] {
        let (set, bytes) = summary_of(name);
        let back = decode(Bytes::from(bytes.clone())).expect(name);
        assert_eq!(back.tracks, set.tracks, "{name}");
        assert_eq!(back.timeline, set.timeline, "{name}");
        assert_eq!(back.own_timelines, set.own_timelines, "{name}");
        for t in &set.tracks {
            assert_eq!(back.segments(t).unwrap(), set.segments(t).unwrap());
            assert_eq!(back.track_sap(t).unwrap(), set.track_sap(t).unwrap());
            assert_eq!(
                back.hns_runs(t).unwrap(),
                set.hns_runs(t).unwrap(),
                "{name}"
            );
            let idx = back.track_index(t);
            assert!(idx.is_header_only(), "{name}");
            assert_eq!(idx.info, set.track_index(t).info);
            // A header-only index refuses sample lookups.
            assert!(idx.sample(0).is_err());
            assert!(idx.position(1).is_err());
        }
        // Re-encoding the decoded set is not possible (no samples): the
        // summary is made from indexes only.
        assert!(encode(&back).is_err(), "{name}");
    }
}

#[test]
fn a_2h_summary_is_small() {
    let Some(root) = media_or_skip("summary size", "long_2h.mp4") else {
        return;
    };
    let file = Bytes::from(std::fs::read(root.join("long_2h.mp4")).unwrap());
    let index = crate::index::index_whole_file(&file, "\"v\"").unwrap();
    let blob = index.blob.len();
    let set = MediaSet::all_tracks(
        vec![SourceFile {
            path: "long_2h.mp4".into(),
            index,
        }],
        crate::timeline::DEFAULT_TARGET_MS,
    )
    .unwrap();
    let bytes = encode(&set).unwrap();
    assert!(
        bytes.len() * 20 < blob,
        "summary {} B, index {blob} B",
        bytes.len()
    );
}

/// Cut short anywhere, or with any byte changed, a summary is refused or
/// read back as some set; never a panic, and manifests written from what
/// reads back answer or fail cleanly.
#[test]
fn hostile_bytes_never_panic() {
    let (_, bytes) = summary_of("muxed_moov_end.mp4");
    hostile(&bytes);
    // With leads (several descriptions) and first offsets (interleaved
    // fragment-level tracks).
    hostile(&encode(&in_band_set()).unwrap());
    if let Some(root) = media_or_skip("summary hostile", "frag/muxed_sidx.mp4") {
        let set = index_set(&root, "frag/muxed_sidx.mp4", &tables_always());
        hostile(&encode(&set).unwrap());
    }
}

/// Every truncation of `bytes` is refused; ~2 000 byte substitutions
/// decode to nothing or to a set whose manifests answer or fail cleanly.
fn hostile(bytes: &[u8]) {
    let bytes = bytes.to_vec();
    assert!(decode(Bytes::from(bytes.clone())).is_some());
    for n in 0..bytes.len() {
        assert!(decode(Bytes::copy_from_slice(&bytes[..n])).is_none(), "{n}");
    }
    let stride = (bytes.len() / 400).max(1);
    for at in (0..bytes.len()).step_by(stride) {
        for v in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[at] = v;
            if let Some(set) = decode(Bytes::from(b)) {
                let _ = crate::manifest::hls::multivariant(&set, crate::url::Format::HlsCmaf);
                let _ = crate::manifest::hls::multivariant(&set, crate::url::Format::HlsTs);
                let _ = crate::manifest::dash::mpd(&set, crate::url::Format::DashCmaf);
                let _ = crate::manifest::smooth::client_manifest(&set, crate::url::Format::Smooth);
                for t in &set.tracks {
                    let _ =
                        crate::manifest::hls::media_playlist(&set, t, crate::url::Format::HlsTs);
                    let _ = crate::manifest::hls::iframe_playlist(&set, t);
                }
            }
        }
    }
    // Hostile counts: a huge segment or file count is refused before any
    // allocation.
    let mut b = bytes[..12].to_vec();
    put_u64(&mut b, u64::MAX);
    assert!(decode(Bytes::from(b)).is_none());
    // Another version is not read.
    let mut b = bytes.clone();
    b[7] ^= 1;
    assert!(decode(Bytes::from(b)).is_none());
}

/// The key names what changes the set, and only records that are fresh
/// name versions.
#[test]
fn keys_name_versions_and_settings() {
    let paths = vec!["a.mp4".to_string()];
    let cfg = Config::default();
    let k = key(&paths, &None, &["\"v1\"".into()], &cfg).unwrap();
    assert_ne!(k, key(&paths, &None, &["\"v2\"".into()], &cfg).unwrap());
    let longer = Config {
        segment_ms: 4000,
        ..Config::default()
    };
    assert_ne!(k, key(&paths, &None, &["\"v1\"".into()], &longer).unwrap());
    let sels = Some(vec![Selection::default()]);
    assert_ne!(k, key(&paths, &sels, &["\"v1\"".into()], &cfg).unwrap());
    assert!(k.contains(&format!("/v{SUMMARY_VERSION}/i{INDEX_VERSION}/")));
    let mut cache = MemoryCache::default();
    assert_eq!(cached_versions(&paths, &mut cache, Clock::default()), None);
    cache.put(
        &crate::outputs::tag_key("a.mp4"),
        Record::encode(b"\"v1\"", 100),
    );
    let clock = Clock {
        now: 1000,
        max_age: 60,
    };
    assert_eq!(cached_versions(&paths, &mut cache, clock), None);
    assert_eq!(
        cached_versions(&paths, &mut cache, Clock::default()),
        Some(vec!["\"v1\"".to_string()])
    );
}

/// The bytes the summary of `set` holds for track `t`: its SAP type and
/// rates (read with the set), then its part and its DASH timeline runs,
/// each behind its length, and the empty length of Smooth runs that are
/// the DASH ones.
fn track_bytes(set: &MediaSet, t: &SetTrack) -> (Vec<u8>, Vec<u8>) {
    let idx = set.track_index(t);
    let segs = set.timeline_of(t).track_segments(idx).unwrap();
    let mut head = vec![set.track_sap(t).unwrap() as u8];
    for format in [Format::HlsCmaf, Format::HlsTs] {
        let r = crate::manifest::hls::measure_rates(set, t, &segs, format).unwrap();
        put_u64(&mut head, r.peak);
        put_u64(&mut head, r.average);
    }
    let iframes = idx.is_video() && !idx.fragment_level;
    put_u64(
        &mut head,
        if iframes {
            crate::manifest::hls::iframe_peak(set, t, &segs).unwrap()
        } else {
            0
        },
    );
    let mut out = Vec::new();
    put_bytes(&mut out, &encode_track(set, t, &segs).unwrap());
    let runs = hns::runs_of(&segs, idx.info.timescale);
    put_bytes(&mut out, &encode_runs(&runs));
    // Smooth runs: the DASH ones (no bytes) for these tracks.
    assert_eq!(
        crate::manifest::smooth::chunk_runs(&segs, idx.info.timescale),
        runs
    );
    put_u64(&mut out, 0);
    (head, out)
}

/// A track's part is read when a manifest first asks for it: the video's
/// media playlist reads the video's part only, an MPD reads the tracks'
/// timeline runs and no part, a multivariant playlist the rates and no
/// part, and an unreadable part is the error of the manifests that need
/// it (502), never a manifest made from the header-only index.
#[test]
fn track_parts_are_read_when_asked_for() {
    let (set, bytes) = summary_of("muxed_moov_end.mp4");
    let audio = set.tracks.last().unwrap().clone();
    assert!(!set.track_index(&audio).is_video());
    let (head, tail) = track_bytes(&set, &audio);
    let at = bytes.len() - tail.len();
    assert_eq!(&bytes[at..], &tail[..]);
    let head_at = at - head.len();
    assert_eq!(&bytes[head_at..at], &head[..]);
    let unreadable = TimelineError::Summary {
        file: audio.file,
        track: audio.track,
    };
    // The SAP type before the part: 1 or 3 are written, 2 is refused (as
    // any set-level field, the whole summary is then unread).
    let mut bad_sap = bytes.clone();
    assert!(matches!(bad_sap[head_at], 1 | 3));
    bad_sap[head_at] = 2;
    assert!(decode(Bytes::from(bad_sap)).is_none());
    // The part's last byte (the offsets flag: sample tables): 2 is no flag.
    let (part_len, runs_len) = {
        let mut pos = 0;
        let p = get_u64(&tail, &mut pos).unwrap() as usize;
        let start = pos;
        pos += p;
        let r = get_u64(&tail, &mut pos).unwrap() as usize;
        (start + p, r)
    };
    let mut bad_part = bytes.clone();
    assert_eq!(bad_part[at + part_len - 1], 0);
    bad_part[at + part_len - 1] = 2;
    let back = decode(Bytes::from(bad_part)).expect("parts are read when asked for");
    let video = &back.tracks[0];
    assert!(back.track_index(video).is_video());
    assert_eq!(
        crate::manifest::hls::media_playlist(&back, video, Format::HlsCmaf).unwrap(),
        crate::manifest::hls::media_playlist(&set, video, Format::HlsCmaf).unwrap()
    );
    assert_eq!(back.segments(&audio).unwrap_err(), unreadable);
    assert_eq!(
        back.track_sap(&audio).unwrap(),
        set.track_sap(&audio).unwrap()
    );
    assert_eq!(
        crate::manifest::dash::mpd(&back, Format::DashCmaf).unwrap(),
        crate::manifest::dash::mpd(&set, Format::DashCmaf).unwrap(),
        "an MPD reads no segment"
    );
    for format in [Format::HlsCmaf, Format::HlsTs] {
        assert_eq!(
            crate::manifest::hls::multivariant(&back, format).unwrap(),
            crate::manifest::hls::multivariant(&set, format).unwrap(),
            "a multivariant playlist reads no segment"
        );
    }
    assert_eq!(
        crate::manifest::hls::media_playlist(&back, &audio, Format::HlsCmaf).unwrap_err(),
        unreadable
    );
    assert_eq!(ServeError::from(unreadable.clone()).status(), 502);
    // The runs' last byte (the last run's `r`, a varint below 128; after
    // it only the Smooth runs' empty length) made a varint that goes on
    // past their end: the MPD and the Smooth manifest are the error, the
    // audio playlist is not.
    let mut bad_runs = bytes.clone();
    assert_eq!(bytes[bytes.len() - 1], 0);
    let last = bytes.len() - 2;
    assert!(runs_len > 0 && bad_runs[last] < 0x80);
    bad_runs[last] |= 0x80;
    let back = decode(Bytes::from(bad_runs)).unwrap();
    assert_eq!(
        crate::manifest::dash::mpd(&back, Format::DashCmaf).unwrap_err(),
        unreadable
    );
    assert_eq!(
        crate::manifest::smooth::client_manifest(&back, Format::Smooth).unwrap_err(),
        unreadable
    );
    assert_eq!(
        crate::manifest::hls::media_playlist(&back, &audio, Format::HlsCmaf).unwrap(),
        crate::manifest::hls::media_playlist(&set, &audio, Format::HlsCmaf).unwrap()
    );
}

/// The keys list (I-frame sizes) of a video part is read only when an
/// I-frame playlist asks: an unreadable one fails that playlist alone.
#[test]
fn keys_are_read_when_an_iframe_playlist_asks() {
    let (set, mut bytes) = summary_of("muxed_moov_end.mp4");
    let video = set.tracks[0].clone();
    assert!(set.track_index(&video).is_video());
    // Before the audio's SAP type and bytes: the video's runs, and before
    // them its part, which ends with its keys list, then the leads and
    // offsets flags (0: one description, sample tables).
    let (audio_head, audio_tail) = track_bytes(&set, set.tracks.last().unwrap());
    let (_, video_tail) = track_bytes(&set, &video);
    let video_at = bytes.len() - audio_tail.len() - audio_head.len() - video_tail.len();
    assert_eq!(
        &bytes[video_at..video_at + video_tail.len()],
        &video_tail[..]
    );
    let mut pos = 0;
    let part_len = get_u64(&video_tail, &mut pos).unwrap() as usize;
    let video_end = video_at + pos + part_len;
    assert_eq!(&bytes[video_end - 2..video_end], &[0, 0]);
    let last_flag = video_end - 3;
    assert!(bytes[last_flag] <= 1);
    bytes[last_flag] = 2;
    let back = decode(Bytes::from(bytes)).unwrap();
    assert_eq!(
        crate::manifest::hls::media_playlist(&back, &video, Format::HlsTs).unwrap(),
        crate::manifest::hls::media_playlist(&set, &video, Format::HlsTs).unwrap()
    );
    assert_eq!(
        crate::manifest::dash::mpd(&back, Format::DashCmaf).unwrap(),
        crate::manifest::dash::mpd(&set, Format::DashCmaf).unwrap()
    );
    assert!(crate::manifest::hls::iframe_playlist(&set, &video).is_ok());
    assert!(crate::manifest::hls::iframe_playlist(&back, &video).is_err());
}

/// Smooth runs that differ from the DASH ones (a track whose segments do
/// not follow on from each other) are read from their own bytes: the
/// client manifest lists them, the MPD keeps the DASH runs.
#[test]
fn smooth_runs_of_their_own_are_read() {
    let (set, bytes) = summary_of("muxed_moov_end.mp4");
    let audio = set.tracks.last().unwrap().clone();
    let dash = set.hns_runs(&audio).unwrap().into_owned();
    let fragments: u32 = dash.iter().map(|r| r.r + 1).sum();
    // One fragment, starting one second in.
    assert!(fragments > 1);
    let own = vec![hns::HnsRun {
        t: Some(HNS),
        d: 1_000_000,
        r: 0,
    }];
    let mut with_own = bytes[..bytes.len() - 1].to_vec();
    assert_eq!(bytes[bytes.len() - 1], 0);
    put_bytes(&mut with_own, &encode_runs(&own));
    let back = decode(Bytes::from(with_own)).unwrap();
    assert_eq!(&back.smooth_runs(&audio).unwrap()[..], &own[..]);
    assert_eq!(back.hns_runs(&audio).unwrap(), dash);
    let manifest = crate::manifest::smooth::client_manifest(&back, Format::Smooth).unwrap();
    let audio_index = manifest
        .split("<StreamIndex Type=\"audio\"")
        .nth(1)
        .unwrap();
    assert!(
        audio_index.contains("Chunks=\"1\" QualityLevels=\"1\""),
        "{manifest}"
    );
    assert!(
        manifest.contains(&format!("<c t=\"{HNS}\" d=\"1000000\"/>")),
        "{manifest}"
    );
    assert_eq!(
        crate::manifest::dash::mpd(&back, Format::DashCmaf).unwrap(),
        crate::manifest::dash::mpd(&set, Format::DashCmaf).unwrap()
    );
    // More fragments than a timeline may hold are unreadable (a Smooth
    // 2.0 manifest expands every run).
    let mut too_many = bytes[..bytes.len() - 1].to_vec();
    let huge = [hns::HnsRun {
        t: Some(0),
        d: 1,
        r: u32::MAX,
    }];
    put_bytes(&mut too_many, &encode_runs(&huge));
    let back = decode(Bytes::from(too_many)).unwrap();
    assert!(back.smooth_runs(&audio).is_err());
    assert!(crate::manifest::smooth::client_manifest(&back, Format::SmoothV20).is_err());
}
