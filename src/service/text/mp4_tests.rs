//! MP4 text tracks (`tx3g`, `wvtt`, `stpp`) of a synthetic file, through
//! the job: indexed, listed in every protocol, their segments read from
//! the file's samples.

use crate::index::MediaIndex;
use crate::job::{run, Job};
use crate::model::TrackKind;
use crate::mux::boxes::BoxWriter;
use crate::service::{Config, Output, ServeError};
use crate::source::{FileOrigin, MemoryCache};
use crate::testutil::{synth_mp4, SynthTrack, TempDir};
use crate::url::{parse, Route};

fn bx(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut w = BoxWriter::default();
    w.start(typ).bytes(payload).end();
    w.buf
}

/// A `tx3g` sample: u16 length + text (TS 26.245 §5.17).
fn tx3g(text: &str) -> Vec<u8> {
    let mut v = (text.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(text.as_bytes());
    v
}

fn vttc(text: &str) -> Vec<u8> {
    bx(b"vttc", &bx(b"payl", text.as_bytes()))
}

fn ttml(begin: &str, end: &str, text: &str) -> Vec<u8> {
    format!(
        r#"<tt xmlns="http://www.w3.org/ns/ttml" xml:lang="de"><body><div><p begin="{begin}" end="{end}">{text}</p></div></body></tt>"#
    )
    .into_bytes()
}

/// SampleEntry fields (6 reserved bytes, data_reference_index 1).
const SE: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 1];

fn entry(typ: &[u8; 4], rest: &[u8]) -> Vec<u8> {
    let mut p = SE.to_vec();
    p.extend_from_slice(rest);
    bx(typ, &p)
}

/// 10 s of video (2 s GOPs) and audio, and three text tracks: `tx3g`
/// English (cues 0.5–1.5 s, 1.5–3.0 s spanning the 2 s boundary, a gap,
/// 6–7 s), `wvtt` French (one cue split over two samples by an
/// overlapping one), `stpp` German (one document per cue).
fn file() -> bytes::Bytes {
    let tx3g_entry = entry(b"tx3g", &[0; 30]);
    let wvtt_entry = entry(b"wvtt", &bx(b"vttC", b"WEBVTT"));
    let stpp_entry = entry(b"stpp", b"http://www.w3.org/ns/ttml\0\0\0");
    let eng = SynthTrack::text(
        b"sbtl",
        tx3g_entry,
        vec![
            (500, tx3g("")),
            (1000, tx3g("one & <two>")),
            (1500, tx3g("spans 2 s")),
            (3000, vec![0, 0]),
            (1000, tx3g("six")),
        ],
    );
    let fra = SynthTrack::text(
        b"text",
        wvtt_entry,
        vec![
            (1000, bx(b"vtte", &[])),
            (1000, vttc("long")),
            (1000, [vttc("long"), vttc("short")].concat()),
            (1000, vttc("long")),
        ],
    )
    .with_language("fra");
    let deu = SynthTrack::text(
        b"subt",
        stpp_entry,
        vec![
            (4000, ttml("0s", "4s", "nothing")),
            (2000, ttml("4.5s", "5.5s", "vier")),
        ],
    )
    .with_language("deu");
    synth_mp4(&[
        SynthTrack::video(240, 24, 48),
        SynthTrack::audio(469),
        eng,
        fra,
        deu,
    ])
}

fn dir(tag: &str) -> TempDir {
    let d = TempDir::new(&format!("mp4text-{tag}"));
    std::fs::write(d.join("t.mp4"), file()).unwrap();
    d
}

fn serve(path: &str, origin: &mut FileOrigin) -> Result<Output, ServeError> {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let Route::Stream(req) = parse(path, query).unwrap() else {
        panic!("{path}")
    };
    let cfg = Config {
        segment_ms: 2000,
        ..Config::default()
    };
    run(Job::new(req, cfg), origin, &mut MemoryCache::default())
}

fn text(out: Output) -> String {
    match out {
        Output::Text { body, .. } => body,
        Output::Bytes { body, .. } => String::from_utf8_lossy(&body).into_owned(),
        o => panic!("{o:?}"),
    }
}

#[test]
fn text_tracks_are_indexed_and_round_trip() {
    let idx = crate::index::index_whole_file(&file(), "e").unwrap();
    let kinds: Vec<_> = idx.tracks.iter().map(|t| t.info.kind).collect();
    assert_eq!(
        kinds,
        [
            TrackKind::Video,
            TrackKind::Audio,
            TrackKind::Subtitle,
            TrackKind::Subtitle,
            TrackKind::Subtitle
        ]
    );
    let t: Vec<_> = idx.tracks[2..]
        .iter()
        .map(|t| (t.info.fourcc.to_string(), t.info.language.clone()))
        .collect();
    assert_eq!(
        t,
        [
            ("tx3g".to_string(), "eng".to_string()),
            ("wvtt".into(), "fra".into()),
            ("stpp".into(), "deu".into())
        ]
    );
    let back = MediaIndex::from_blob(idx.blob.clone()).unwrap();
    assert_eq!(back.tracks.len(), 5);
    assert_eq!(back.tracks[2].info.sample_count, 5);
    // The media set plays audio and video only.
    let set = crate::testutil::synth_set(&[SynthTrack::video(240, 24, 48)], 2000);
    assert!(set.texts.is_empty());
}

#[test]
fn hls_lists_and_segments_mp4_text() {
    let d = dir("hls");
    let mut o = FileOrigin::new(d.path());
    let master = text(serve("/t.mp4/manifest(format=m3u8-cmaf)", &mut o).unwrap());
    let subs: Vec<&str> = master
        .lines()
        .filter(|l| l.contains("TYPE=SUBTITLES"))
        .collect();
    assert_eq!(subs.len(), 3, "{master}");
    assert!(subs[0].contains("LANGUAGE=\"en\"") && subs[0].contains("Manifest(text_eng,"));
    assert!(subs[1].contains("LANGUAGE=\"fr\"") && subs[2].contains("LANGUAGE=\"de\""));
    assert!(subs.iter().all(|s| s.contains("DEFAULT=NO")));
    let q = "/t.mp4/QualityLevels(1000)";
    let pl = text(serve(&format!("{q}/Manifest(text_eng,format=m3u8-cmaf)"), &mut o).unwrap());
    let segs: Vec<&str> = pl.lines().filter(|l| l.starts_with("Fragments(")).collect();
    assert_eq!(segs.len(), 5, "{pl}");
    let seg = |s: &str, o: &mut FileOrigin| text(serve(&format!("{q}/{s}"), o).unwrap());
    let s0 = seg(segs[0], &mut o);
    assert!(
        s0.contains("00:00:00.500 --> 00:00:01.500\none &amp; &lt;two&gt;\n"),
        "{s0}"
    );
    assert!(s0.contains("00:00:01.500 --> 00:00:03.000\nspans 2 s\n"));
    let s1 = seg(segs[1], &mut o);
    assert!(s1.contains("spans 2 s") && !s1.contains("two"), "{s1}");
    // The gap sample (3–6 s) is no cue; 6–7 s is in the fourth segment.
    let s2 = seg(segs[2], &mut o);
    assert!(!s2.contains("-->"), "{s2}");
    assert!(seg(segs[3], &mut o).contains("00:00:06.000 --> 00:00:07.000\nsix\n"));
    // wvtt: the cue split by an overlapping one is whole again.
    // wvtt: the cue split by an overlapping one is whole again, in both
    // segments it shows in.
    let f = seg(&segs[0].replace("text_eng", "text_fra"), &mut o);
    assert!(f.contains("00:00:01.000 --> 00:00:04.000\nlong\n"), "{f}");
    assert!(!f.contains("short"), "{f}");
    let f = seg(&segs[1].replace("text_eng", "text_fra"), &mut o);
    assert!(f.contains("00:00:01.000 --> 00:00:04.000\nlong\n"), "{f}");
    assert!(f.contains("00:00:02.000 --> 00:00:03.000\nshort\n"), "{f}");
    // stpp: the document's cue, clipped to its sample.
    let g = seg(&segs[2].replace("text_eng", "text_deu"), &mut o);
    assert!(g.contains("00:00:04.500 --> 00:00:05.500\nvier\n"), "{g}");
}

#[test]
fn dash_and_smooth_offer_mp4_text() {
    let d = dir("dash");
    let mut o = FileOrigin::new(d.path());
    let mpd = text(serve("/t.mp4/manifest(format=mpd-time-cmaf)", &mut o).unwrap());
    let sets: Vec<&str> = mpd
        .split("<AdaptationSet")
        .filter(|a| a.contains("contentType=\"text\""))
        .collect();
    assert_eq!(sets.len(), 3, "{mpd}");
    assert!(sets[0].contains("codecs=\"wvtt\"") && sets[0].contains("lang=\"en\""));
    assert!(sets[1].contains("codecs=\"wvtt\""));
    assert!(sets[2].contains("codecs=\"stpp.ttml.im1t\""));
    let q = "/t.mp4/QualityLevels(1000)";
    let init = text(
        serve(
            &format!("{q}/Fragments(text_deu=i,format=mpd-time-cmaf)"),
            &mut o,
        )
        .unwrap(),
    );
    assert!(init.contains("stpp"));
    let seg = text(
        serve(
            &format!("{q}/Fragments(text_eng=0,format=mpd-time-cmaf)"),
            &mut o,
        )
        .unwrap(),
    );
    assert!(seg.contains("vttc") && seg.contains("spans 2 s"), "{seg}");
    let smooth = text(serve("/t.mp4/manifest", &mut o).unwrap());
    assert_eq!(smooth.matches("Type=\"text\"").count(), 3, "{smooth}");
    let frag = text(serve(&format!("{q}/Fragments(text_eng=0)"), &mut o).unwrap());
    assert!(frag.contains("<tt") && frag.contains("spans 2 s"), "{frag}");
}

#[test]
fn default_subtitles_lang() {
    let d = dir("default");
    let mut o = FileOrigin::new(d.path());
    let master = text(
        serve(
            "/t.mp4/manifest(format=m3u8-cmaf)?default_subtitles_lang=fr",
            &mut o,
        )
        .unwrap(),
    );
    let subs: Vec<&str> = master
        .lines()
        .filter(|l| l.contains("TYPE=SUBTITLES"))
        .collect();
    assert!(
        subs[0].contains("LANGUAGE=\"fr\"") && subs[0].contains("DEFAULT=YES,AUTOSELECT=YES"),
        "{master}"
    );
    assert!(subs[1..].iter().all(|s| s.contains("DEFAULT=NO")));
    let mpd = text(
        serve(
            "/t.mp4/manifest(format=mpd-time-cmaf)?default_subtitles_lang=de",
            &mut o,
        )
        .unwrap(),
    );
    let sets: Vec<&str> = mpd
        .split("<AdaptationSet")
        .filter(|a| a.contains("contentType=\"text\""))
        .collect();
    assert!(sets[0].contains("lang=\"de\"") && sets[0].contains("value=\"main\""));
    assert!(sets[1..].iter().all(|s| !s.contains("value=\"main\"")));
    let e = serve(
        "/t.mp4/manifest(format=m3u8-cmaf)?default_subtitles_lang=it",
        &mut o,
    )
    .unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
}

#[test]
fn hostile_text_sample_is_a_502() {
    let d = TempDir::new("mp4text-bad");
    let bad = SynthTrack::text(
        b"sbtl",
        entry(b"tx3g", &[0; 30]),
        vec![(2000, vec![0xFF, 0xFF, b'x'])],
    );
    let f = synth_mp4(&[SynthTrack::video(240, 24, 48), bad]);
    std::fs::write(d.join("t.mp4"), f).unwrap();
    let mut o = FileOrigin::new(d.path());
    let e = serve(
        "/t.mp4/QualityLevels(1000)/Fragments(text_eng=0,format=m3u8-cmaf)",
        &mut o,
    )
    .unwrap_err();
    assert_eq!(e.status(), 502, "{e}");
    assert!(e.to_string().contains("cut short"), "{e}");
}

#[test]
fn urlset_offers_a_repeated_text_track_once() {
    let d = dir("urlset");
    std::fs::copy(d.join("t.mp4"), d.join("u.mp4")).unwrap();
    let mut o = FileOrigin::new(d.path());
    let master = text(serve("/,t,u,.mp4.urlset/manifest(format=m3u8-cmaf)", &mut o).unwrap());
    let names: Vec<&str> = master
        .lines()
        .filter(|l| l.contains("TYPE=SUBTITLES"))
        .filter_map(|l| l.split("Manifest(").nth(1)?.split(',').next())
        .collect();
    assert_eq!(names, ["text_eng", "text_fra", "text_deu"], "{master}");
}

/// What a text segment of the mov_text fixture costs: origin reads and
/// bytes beyond the index's, cold and warm (the index cached).
#[test]
fn movtext_segment_reads() {
    let Some(media) =
        crate::testutil::media_or_skip("movtext_segment_reads", "mp4text/movtext.mp4")
    else {
        return;
    };
    let mut o = FileOrigin::new(&media);
    let mut cache = MemoryCache::default();
    let cfg = Config::default();
    let path = "/mp4text/movtext.mp4/QualityLevels(1000)/Fragments(text_eng=0,format=m3u8-cmaf)";
    let Route::Stream(req) = parse(path, None).unwrap() else {
        panic!()
    };
    let cold = run(Job::new(req.clone(), cfg.clone()), &mut o, &mut cache).unwrap();
    let cold_reads = o.log.len();
    o.log.clear();
    let warm = run(Job::new(req, cfg), &mut o, &mut cache).unwrap();
    let bytes: u64 = o.log.iter().map(|r| r.end - r.start).sum();
    println!(
        "movtext.mp4 text segment 0: cold {cold_reads} origin reads, warm {} reads of {bytes} bytes",
        o.log.len()
    );
    assert_eq!(text(cold), text(warm));
    // Two cues and their gap samples, interleaved with 6 s of A/V: the
    // planner merges them within its over-read cap; the index is cached.
    assert!((1..=3).contains(&o.log.len()), "{:?}", o.log);
    assert!(bytes <= 4 << 20, "{bytes}");
}

#[test]
fn undecoded_text_entries_are_skipped_not_refused() {
    let qt_text = SynthTrack::text(b"text", entry(b"text", &[0; 40]), vec![(1000, tx3g("x"))]);
    let other_xml = SynthTrack::text(
        b"subt",
        entry(b"stpp", b"urn:not-ttml\0\0\0"),
        vec![(1000, b"<x/>".to_vec())],
    );
    let f = synth_mp4(&[SynthTrack::video(48, 24, 48), qt_text, other_xml]);
    let idx = crate::index::index_whole_file(&f, "e").unwrap();
    assert_eq!(idx.tracks.len(), 1);
    // A file with text only has nothing to play.
    let only = synth_mp4(&[SynthTrack::text(
        b"sbtl",
        entry(b"tx3g", &[0; 30]),
        vec![(1000, tx3g("x"))],
    )]);
    assert!(crate::index::index_whole_file(&only, "e").is_err());
}
