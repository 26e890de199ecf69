use crate::job::{run, Job};
use crate::service::{Config, Output, ServeError};
use crate::source::{FileOrigin, MemoryCache};
use crate::testutil::TempDir;
use crate::url::{parse, Route, StreamRequest};
use std::path::Path;

const VTT: &str = "WEBVTT\r\n\r\n1\r\n00:00:00.500 --> 00:00:01.000\r\nfirst\r\n\r\n00:00:01.500 --> 00:00:02.500 line:0\r\nspans 2 s\r\n\r\n00:00:03.000 --> 00:00:09.000\r\nlast\r\n";

fn dir(tag: &str) -> TempDir {
    let d = TempDir::new(&format!("text-{tag}"));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small/muxed_moov_end.mp4");
    std::fs::copy(src, d.join("m.mp4")).unwrap();
    std::fs::write(d.join("s_eng.vtt"), VTT).unwrap();
    std::fs::write(d.join("bad.vtt"), "WEBVTT\n\n00:02.000 --> 00:01.000\nx\n").unwrap();
    let ism = r#"<smil><body><switch>
      <video src="m.mp4"/><audio src="m.mp4" systemLanguage="eng"/>
      <textstream src="s_eng.vtt" systemLanguage="eng"><param name="accessibility" value="sdh"/></textstream>
      <textstream src="s_eng.vtt" systemLanguage="eng"><param name="role" value="forced"/></textstream>
      <textstream src="bad.vtt" systemLanguage="deu"/>
      <textstream src="x.ismt" systemLanguage="eng"/>
    </switch></body></smil>"#;
    std::fs::write(d.join("t.ism"), ism).unwrap();
    d
}

fn request(path: &str) -> StreamRequest {
    match parse(path, None).unwrap() {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

fn serve(
    path: &str,
    origin: &mut FileOrigin,
    cache: &mut MemoryCache,
) -> Result<Output, ServeError> {
    run(
        Job::new(
            request(path),
            Config {
                segment_ms: 2000,
                ..Config::default()
            },
        ),
        origin,
        cache,
    )
}

fn body(out: Output) -> String {
    match out {
        Output::Text { body, .. } => body,
        Output::Bytes { body, content_type } => {
            assert_eq!(content_type, super::CT_VTT);
            String::from_utf8(body.to_vec()).unwrap()
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn text_tracks_end_to_end_through_the_job() {
    let d = dir("e2e");
    let mut origin = FileOrigin::new(d.path());
    let mut cache = MemoryCache::default();
    let master = body(serve("/t.ism/manifest(format=m3u8-cmaf)", &mut origin, &mut cache).unwrap());
    let subs: Vec<&str> = master
        .lines()
        .filter(|l| l.contains("TYPE=SUBTITLES"))
        .collect();
    assert_eq!(subs.len(), 3, "{master}");
    assert!(subs[0].contains("NAME=\"English (SDH)\"") && subs[0].contains("CHARACTERISTICS="));
    assert!(subs[0].contains("Manifest(textstream_eng,format=m3u8-cmaf)"));
    assert!(subs[1].contains("FORCED=YES") && subs[1].contains("Manifest(textstream_eng_2,"));
    assert!(subs[2].contains("LANGUAGE=\"de\""));
    assert!(master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
        .all(|l| l.ends_with(",SUBTITLES=\"subs\"")));
    // The manifests need no read of the sidecars.
    assert!(origin.log.iter().all(|r| !r.path.ends_with(".vtt")));

    let pl = body(
        serve(
            "/t.ism/QualityLevels(1000)/Manifest(textstream_eng,format=m3u8-cmaf)",
            &mut origin,
            &mut cache,
        )
        .unwrap(),
    );
    let extinf = |s: &str| {
        s.lines()
            .filter(|l| l.starts_with("#EXTINF"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let video_url = master
        .lines()
        .find(|l| l.starts_with("QualityLevels("))
        .unwrap();
    let video_pl = body(serve(&format!("/t.ism/{video_url}"), &mut origin, &mut cache).unwrap());
    assert_eq!(extinf(&pl), extinf(&video_pl));
    let segs: Vec<&str> = pl.lines().filter(|l| l.starts_with("Fragments(")).collect();
    assert!(segs.len() >= 2, "{pl}");
    let reads = origin.log.len();
    let mut all = Vec::new();
    for s in &segs {
        let b = body(
            serve(
                &format!("/t.ism/QualityLevels(1000)/{s}"),
                &mut origin,
                &mut cache,
            )
            .unwrap(),
        );
        assert!(
            b.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"),
            "{b}"
        );
        all.push(b);
    }
    // The sidecar is read once, then its parsed cues come from the cache.
    assert_eq!(
        origin.log[reads..]
            .iter()
            .filter(|r| r.path.ends_with(".vtt"))
            .count(),
        1
    );
    assert!(
        all[0].contains("1\n00:00:00.500 --> 00:00:01.000\nfirst\n"),
        "{}",
        all[0]
    );
    assert!(all[0].contains("00:00:01.500 --> 00:00:02.500 line:0\nspans 2 s\n"));
    assert!(
        all[1].contains("spans 2 s"),
        "a spanning cue is in both: {}",
        all[1]
    );
    assert!(!all[1].contains("first"));
    assert!(all.last().unwrap().contains("last"));
    // TS: the same cues, mapped to the TS clock's origin.
    let ts = body(
        serve(
            &format!(
                "/t.ism/QualityLevels(1000)/{}",
                segs[0].replace("m3u8-cmaf", "m3u8-aapl")
            ),
            &mut origin,
            &mut cache,
        )
        .unwrap(),
    );
    assert!(ts.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n"));
    assert_eq!(
        ts.lines().skip(2).collect::<Vec<_>>(),
        all[0].lines().skip(2).collect::<Vec<_>>()
    );
}

#[test]
fn text_refusals() {
    let d = dir("refuse");
    let mut origin = FileOrigin::new(d.path());
    let mut cache = MemoryCache::default();
    let status = |p: &str, o: &mut FileOrigin, c: &mut MemoryCache| {
        serve(p, o, c).map(|_| 200).unwrap_or_else(|e| e.status())
    };
    let q = "/t.ism/QualityLevels(1000)";
    assert_eq!(
        status(
            &format!("{q}/Fragments(textstream_eng=1,format=m3u8-cmaf).vtt"),
            &mut origin,
            &mut cache
        ),
        404
    );
    assert_eq!(
        status(
            &format!("{q}/Fragments(textstream_eng=i,format=m3u8-cmaf)"),
            &mut origin,
            &mut cache
        ),
        404
    );
    assert_eq!(
        status(
            &format!("{q}/Manifest(textstream_eng,format=m3u8-aapl,type=keyframes)"),
            &mut origin,
            &mut cache
        ),
        404
    );
    // Smooth (no format): a TTML fragment.
    assert_eq!(
        status(
            &format!("{q}/Fragments(textstream_eng=0)"),
            &mut origin,
            &mut cache
        ),
        200
    );
    let bad = serve(
        &format!("{q}/Fragments(textstream_deu=0,format=m3u8-cmaf).vtt"),
        &mut origin,
        &mut cache,
    )
    .unwrap_err();
    assert_eq!(bad.status(), 502);
    assert_eq!(
        bad.to_string(),
        "bad.vtt: WebVTT line 3: bad cue timing: ends before it starts"
    );
    // Over the size cap: 502 without parsing.
    std::fs::write(
        d.join("bad.vtt"),
        vec![b'\n'; crate::input::webvtt::MAX_VTT_BYTES + 1],
    )
    .unwrap();
    let big = serve(
        &format!("{q}/Fragments(textstream_deu=0,format=m3u8-cmaf).vtt"),
        &mut origin,
        &mut cache,
    )
    .unwrap_err();
    assert_eq!(big.status(), 502, "{big}");
    // Over the cues-per-segment cap: 502, in HLS as in DASH.
    let mut many = String::from("WEBVTT\n");
    for _ in 0..=crate::mux::wvtt::MAX_SEGMENT_CUES {
        many.push_str("\n00:00.100 --> 00:00.200\nx\n");
    }
    std::fs::write(d.join("bad.vtt"), many).unwrap();
    for f in ["m3u8-cmaf", "mpd-time-cmaf"] {
        let e = serve(
            &format!("{q}/Fragments(textstream_deu=0,format={f})"),
            &mut origin,
            &mut cache,
        )
        .unwrap_err();
        assert_eq!(
            (e.status(), e.to_string()),
            (
                502,
                "bad.vtt: more than 2000 cues in one segment".to_string()
            )
        );
    }
    // The Smooth manifest lists the text streams.
    let smooth = body(serve("/t.ism/manifest", &mut origin, &mut cache).unwrap());
    assert_eq!(smooth.matches("Type=\"text\"").count(), 3, "{smooth}");
}

#[test]
fn dash_text_adaptation_sets_and_wvtt_segments() {
    let d = dir("dash");
    let mut origin = FileOrigin::new(d.path());
    let mut cache = MemoryCache::default();
    let mpd = body(
        serve(
            "/t.ism/manifest(format=mpd-time-cmaf)",
            &mut origin,
            &mut cache,
        )
        .unwrap(),
    );
    let texts: Vec<&str> = mpd
        .split("<AdaptationSet")
        .filter(|a| a.contains("contentType=\"text\""))
        .collect();
    assert_eq!(texts.len(), 3, "{mpd}");
    assert!(
        texts[0].contains("lang=\"en\"") && texts[0].contains("AudioPurposeCS:2007\" value=\"2\"")
    );
    assert!(texts[0].contains("value=\"subtitle\"") && texts[0].contains("codecs=\"wvtt\""));
    assert!(texts[1].contains("value=\"forced-subtitle\""));
    // The same SegmentTimeline as the video's.
    let timeline = |a: &str| {
        a[a.find("<SegmentTimeline>").unwrap()..a.find("</SegmentTimeline>").unwrap()].to_string()
    };
    let video = mpd
        .split("<AdaptationSet")
        .find(|a| a.contains("contentType=\"video\""))
        .unwrap();
    assert_eq!(timeline(texts[0]), timeline(video));
    let q = "/t.ism/QualityLevels(1000)";
    let init = serve(
        &format!("{q}/Fragments(textstream_eng=i,format=mpd-time-cmaf)"),
        &mut origin,
        &mut cache,
    )
    .unwrap();
    match init {
        Output::Bytes { content_type, body } => {
            assert_eq!(content_type, super::CT_MP4_TEXT);
            assert!(body.windows(4).any(|w| w == b"wvtt"));
        }
        o => panic!("{o:?}"),
    }
    let seg = serve(
        &format!("{q}/Fragments(textstream_eng=0,format=mpd-time-cmaf)"),
        &mut origin,
        &mut cache,
    )
    .unwrap();
    match seg {
        Output::Bytes { content_type, body } => {
            assert_eq!(content_type, super::CT_MP4_TEXT);
            assert_eq!(&body[4..8], b"styp");
            assert!(body.windows(5).any(|w| w == b"first"));
        }
        o => panic!("{o:?}"),
    }
}

const TTML: &str = r#"<?xml version="1.0"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter" ttp:frameRate="25">
  <body><div begin="00:00:00:10">
    <p begin="0s" end="600ms">first<br/>line &amp; two</p>
    <p begin="1.1s" end="2.1s">spans 2 s</p>
  </div></body>
</tt>"#;

fn ttml_dir(tag: &str) -> TempDir {
    let d = dir(tag);
    std::fs::write(d.join("s_fra.ttml"), TTML).unwrap();
    std::fs::write(
        d.join("bad.dfxp"),
        "<tt><body><p begin=\"1\">x</p></body></tt>",
    )
    .unwrap();
    let ism = r#"<smil><body><switch>
      <video src="m.mp4"/><audio src="m.mp4" systemLanguage="eng"/>
      <textstream src="s_fra.ttml" systemLanguage="fra"><param name="role" value="caption"/></textstream>
      <textstream src="s_eng.vtt" systemLanguage="eng"/>
      <textstream src="bad.dfxp" systemLanguage="deu"/>
    </switch></body></smil>"#;
    std::fs::write(d.join("t.ism"), ism).unwrap();
    d
}

fn bytes(out: Output) -> bytes::Bytes {
    match out {
        Output::Bytes { content_type, body } => {
            assert_eq!(content_type, super::CT_MP4_TEXT);
            body
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn ttml_sidecar_in_hls_dash_stpp_and_smooth() {
    let d = ttml_dir("ttml");
    let mut origin = FileOrigin::new(d.path());
    let mut cache = MemoryCache::default();
    let q = "/t.ism/QualityLevels(1000)";
    // HLS: WebVTT from the TTML cues (div offset 10 frames = 400 ms).
    let vtt = body(
        serve(
            &format!("{q}/Fragments(textstream_fra=0,format=m3u8-cmaf).vtt"),
            &mut origin,
            &mut cache,
        )
        .unwrap(),
    );
    assert!(
        vtt.contains("00:00:00.400 --> 00:00:01.000\nfirst\nline &amp; two\n"),
        "{vtt}"
    );
    assert!(
        vtt.contains("00:00:01.500 --> 00:00:02.500\nspans 2 s"),
        "{vtt}"
    );
    // DASH: stpp for the TTML source, wvtt for the WebVTT one.
    let mpd = body(
        serve(
            "/t.ism/manifest(format=mpd-time-cmaf)",
            &mut origin,
            &mut cache,
        )
        .unwrap(),
    );
    let texts: Vec<&str> = mpd
        .split("<AdaptationSet")
        .filter(|a| a.contains("contentType=\"text\""))
        .collect();
    assert_eq!(texts.len(), 3, "{mpd}");
    assert!(texts[0].contains("codecs=\"stpp.ttml.im1t\"") && texts[0].contains("lang=\"fr\""));
    assert!(texts[0].contains("value=\"caption\""));
    assert!(texts[1].contains("codecs=\"wvtt\""));
    let init = bytes(
        serve(
            &format!("{q}/Fragments(textstream_fra=i,format=mpd-time-cmaf)"),
            &mut origin,
            &mut cache,
        )
        .unwrap(),
    );
    assert!(init.windows(4).any(|w| w == b"stpp") && init.windows(4).any(|w| w == b"sthd"));
    let seg = bytes(
        serve(
            &format!("{q}/Fragments(textstream_fra=0,format=mpd-time-cmaf)"),
            &mut origin,
            &mut cache,
        )
        .unwrap(),
    );
    assert_eq!(&seg[4..8], b"styp");
    let doc = String::from_utf8_lossy(&seg);
    assert!(
        doc.contains(r#"xml:lang="fr"><body><div><p begin="00:00:00.400" end="00:00:01.000">first<br/>line &amp; two</p>"#),
        "{doc}"
    );
    // Smooth: a text StreamIndex per track, TTML fragments for both kinds.
    let ism = body(serve("/t.ism/manifest", &mut origin, &mut cache).unwrap());
    assert!(ism.contains(r#"<StreamIndex Type="text" Subtype="CAPT" Name="textstream_fra" Language="fra" Chunks=""#), "{ism}");
    assert!(
        ism.contains(r#"Subtype="SUBT" Name="textstream_eng""#),
        "{ism}"
    );
    assert!(
        ism.contains(r#"FourCC="TTML" CodecPrivateData="""#),
        "{ism}"
    );
    for name in ["textstream_fra", "textstream_eng"] {
        let frag =
            bytes(serve(&format!("{q}/Fragments({name}=0)"), &mut origin, &mut cache).unwrap());
        assert_eq!(&frag[4..8], b"moof", "{name}");
        let text = String::from_utf8_lossy(&frag);
        assert!(
            text.contains("<tt xmlns=\"http://www.w3.org/ns/ttml\""),
            "{text}"
        );
        assert!(frag.windows(16).any(|w| w == crate::mux::smooth::TFXD_UUID));
    }
    // A bad time in a TTML sidecar: 502 naming the file and the offset.
    let bad = serve(
        &format!("{q}/Fragments(textstream_deu=0,format=m3u8-cmaf).vtt"),
        &mut origin,
        &mut cache,
    )
    .unwrap_err();
    assert_eq!(bad.status(), 502);
    assert!(
        bad.to_string().starts_with("bad.dfxp: TTML byte ")
            && bad.to_string().ends_with("bad begin time"),
        "{bad}"
    );
}

/// The first English text segment at clock `now` (`revalidate_after` 60 s).
fn english_vtt_at(now: u64, origin: &mut FileOrigin, cache: &mut MemoryCache) -> String {
    let cfg = Config {
        segment_ms: 2000,
        clock: crate::source::freshness::Clock { now, max_age: 60 },
        ..Config::default()
    };
    let req = request("/t.ism/QualityLevels(1000)/Fragments(textstream_eng=0,format=m3u8-cmaf)");
    body(run(Job::new(req, cfg), origin, cache).unwrap())
}

/// A text segment's sidecar is revalidated like a media file: its cues
/// serve until `revalidate_after` has passed, then one byte of it is read,
/// and a new version drops the cached cues (issue 11 item 4).
#[test]
fn a_replaced_sidecar_is_noticed_after_revalidate_after() {
    let d = dir("revalidate");
    let mut origin = FileOrigin::new(d.path());
    let mut cache = MemoryCache::default();
    let at = english_vtt_at;
    let first = at(1_000, &mut origin, &mut cache);
    assert!(first.contains("first"), "{first}");
    std::fs::write(d.join("s_eng.vtt"), VTT.replace("first", "replaced cue")).unwrap();
    let vtt_reads = |o: &FileOrigin| {
        o.log
            .iter()
            .filter(|r| r.path.ends_with("s_eng.vtt"))
            .count()
    };
    let before = vtt_reads(&origin);
    // Within the interval: the cached cues, no read of the sidecar.
    assert_eq!(at(1_030, &mut origin, &mut cache), first);
    assert_eq!(vtt_reads(&origin), before);
    // Past it: a one-byte check sees the new version, then the new cues.
    let now = at(1_100, &mut origin, &mut cache);
    assert!(now.contains("replaced cue"), "{now}");
    let reads: Vec<_> = origin.log[..]
        .iter()
        .filter(|r| r.path.ends_with("s_eng.vtt"))
        .skip(before)
        .map(|r| r.end - r.start)
        .collect();
    assert_eq!(reads.first(), Some(&1), "{reads:?}");
    assert_eq!(reads.len(), 2, "{reads:?}");
    // Confirmed again: the next request inside the interval reads nothing.
    let after = vtt_reads(&origin);
    assert_eq!(at(1_120, &mut origin, &mut cache), now);
    assert_eq!(vtt_reads(&origin), after);
}

/// Cached cues whose version record was evicted on its own (the cache
/// drops entries independently) are not served unchecked: with no record
/// nothing revalidates them, so the sidecar is read again rather than the
/// old cues served for as long as they stay cached.
#[test]
fn cues_without_their_version_record_are_read_again() {
    let d = dir("record-evicted");
    let mut origin = FileOrigin::new(d.path());
    let mut cache = MemoryCache::default();
    let at = english_vtt_at;
    let first = at(1_000, &mut origin, &mut cache);
    assert!(first.contains("first"), "{first}");
    std::fs::write(d.join("s_eng.vtt"), VTT.replace("first", "replaced cue")).unwrap();
    let path = origin
        .log
        .iter()
        .find(|r| r.path.ends_with("s_eng.vtt"))
        .map(|r| r.path.clone())
        .unwrap();
    crate::source::Cache::forget(&mut cache, &crate::outputs::tag_key(&path));
    let later = at(5_000, &mut origin, &mut cache);
    assert!(later.contains("replaced cue"), "{later}");
}
