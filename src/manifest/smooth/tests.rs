use super::*;
use crate::index::index_whole_file;
use crate::index::tests::fixture;
use crate::media_set::{Selection, SourceFile};
use crate::model::AvcConfig;
use crate::mux::smooth::{fragment, tests::materialize, tests::parse_fragment};
use crate::url::{parse, Resource, Route};
use bytes::Bytes;
use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::BTreeMap;

/// A parsed XML element.
#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<El>,
}

impl El {
    fn attr(&self, k: &str) -> &str {
        self.attrs
            .get(k)
            .unwrap_or_else(|| panic!("{} has no {k}", self.name))
    }
    fn num(&self, k: &str) -> u64 {
        self.attr(k).parse().unwrap()
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> El {
    El {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.unescape_value().unwrap().into_owned(),
                )
            })
            .collect(),
        children: vec![],
    }
}

/// Parses the manifest back into a tree (the root element).
fn parse_xml(xml: &str) -> El {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![El::default()];
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => stack.last_mut().unwrap().children.push(element(&e)),
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut doc = stack.pop().unwrap();
    assert_eq!(doc.children.len(), 1);
    doc.children.pop().unwrap()
}

/// The fragments a StreamIndex announces: (t, d) for each, `r` expanded
/// the MS-SSTR way (the count of fragments in the run).
fn expand(si: &El) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = vec![];
    for c in si.all("c") {
        let d = c.num("d");
        let r = c.attrs.get("r").map_or(1, |r| r.parse::<u64>().unwrap());
        assert!(r >= 1);
        for k in 0..r {
            // An explicit t belongs to the first fragment of the run.
            let t = match (k, c.attrs.get("t"), out.last()) {
                (0, Some(t), _) => t.parse().unwrap(),
                (_, _, Some(&(pt, pd))) => pt + pd,
                _ => panic!("first c without t"),
            };
            out.push((t, d));
        }
    }
    out
}

fn muxed_set() -> MediaSet {
    crate::testutil::fixture_set("muxed_moov_end.mp4", 2000)
}

/// Two video renditions (the same file twice, at two bitrates) and audio.
fn abr_set() -> MediaSet {
    let idx = index_whole_file(&fixture("muxed_moov_end.mp4"), "").unwrap();
    let files = vec![
        SourceFile {
            path: "v1.mp4".into(),
            index: idx.clone(),
        },
        SourceFile {
            path: "v2.mp4".into(),
            index: idx,
        },
    ];
    let sel = |file, kind, name: &str, bitrate| Selection {
        file,
        kind: Some(kind),
        name: Some(name.into()),
        bitrate: Some(bitrate),
        language: Some("eng".into()),
        ..Selection::default()
    };
    MediaSet::build(
        files,
        vec![
            sel(0, TrackKind::Video, "video", 300_000),
            sel(1, TrackKind::Video, "video", 600_000),
            sel(0, TrackKind::Audio, "audio_eng", 128_000),
        ],
        2000,
    )
    .unwrap()
}

#[test]
fn manifest_structure_and_timeline() {
    let set = abr_set();
    let xml = client_manifest(&set, Format::Smooth).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
    let root = parse_xml(&xml);
    assert_eq!(root.name, "SmoothStreamingMedia");
    assert_eq!(root.attr("MajorVersion"), "2");
    assert_eq!(root.attr("MinorVersion"), "2");
    assert_eq!(root.num("TimeScale"), 10_000_000);
    let duration = root.num("Duration");
    let sis: Vec<&El> = root.all("StreamIndex").collect();
    assert_eq!(sis.len(), 2, "one StreamIndex for both video renditions");
    let video = sis[0];
    assert_eq!(video.attr("Type"), "video");
    assert_eq!(video.attr("Name"), "video");
    assert_eq!(
        video.attr("Url"),
        "QualityLevels({bitrate})/Fragments(video={start time})"
    );
    assert_eq!(video.num("QualityLevels"), 2);
    let levels: Vec<&El> = video.all("QualityLevel").collect();
    assert_eq!(levels.len(), 2);
    assert_eq!(levels[0].attr("Index"), "0");
    assert_eq!(levels[1].attr("Index"), "1");
    assert_eq!(levels[0].num("Bitrate"), 300_000);
    assert_eq!(levels[1].num("Bitrate"), 600_000);
    for l in &levels {
        assert_eq!(l.attr("FourCC"), "H264");
        assert_eq!(l.num("MaxWidth"), 160);
        assert_eq!(l.num("MaxHeight"), 90);
        assert!(l.attr("CodecPrivateData").starts_with("0000000167"));
        assert!(!l.attrs.contains_key("NALUnitLengthField"));
    }
    assert_eq!(video.num("MaxWidth"), 160);
    assert_eq!(video.num("DisplayHeight"), 90);
    assert!(!video.attrs.contains_key("Language"));
    let audio = sis[1];
    assert_eq!(audio.attr("Type"), "audio");
    assert_eq!(audio.attr("Name"), "audio_eng");
    assert_eq!(audio.attr("Language"), "eng");
    assert!(!audio.attrs.contains_key("MaxWidth"));
    let a = audio.all("QualityLevel").next().unwrap();
    assert_eq!(a.attr("FourCC"), "AACL");
    assert_eq!(a.num("AudioTag"), 255);
    assert_eq!(a.num("BitsPerSample"), 16);
    assert_eq!(a.num("PacketSize"), 4);
    assert_eq!(a.num("Channels"), 2);
    assert!(a.num("SamplingRate") > 0);
    let info = &set.track_index(&set.tracks[2]).info;
    let Codec::Aac(aac) = &info.codec else {
        panic!()
    };
    let mut asc = String::new();
    hex_into(&mut asc, &aac.asc);
    assert_eq!(a.attr("CodecPrivateData"), asc);

    let mut max_end = 0;
    for si in &sis {
        assert!(
            si.all("c").next().unwrap().attrs.contains_key("t"),
            "t on the first c"
        );
        let frags = expand(si);
        assert_eq!(si.num("Chunks"), frags.len() as u64);
        assert!(frags.len() > 1);
        for w in frags.windows(2) {
            assert_eq!(w[0].0 + w[0].1, w[1].0, "t + d is the next t");
        }
        let (t0, _) = frags[0];
        let sum: u64 = frags.iter().map(|f| f.1).sum();
        max_end = max_end.max(t0 + sum);
    }
    assert_eq!(
        max_end, duration,
        "Duration is the end of the longest stream"
    );
    let c = sis[0].all("c").next().unwrap();
    assert_eq!(c.num("r"), 2, "equal video fragments folded: {xml}");
    assert!((duration as f64 / 1e7 - set.duration_secs()).abs() < 0.05);
}

#[test]
fn every_url_resolves_to_a_fragment_of_the_same_time() {
    let set = abr_set();
    let root = parse_xml(&client_manifest(&set, Format::Smooth).unwrap());
    for si in root.all("StreamIndex") {
        for l in si.all("QualityLevel") {
            for (t, _) in expand(si) {
                let uri = si
                    .attr("Url")
                    .replace("{bitrate}", l.attr("Bitrate"))
                    .replace("{start time}", &t.to_string());
                let route = parse(&format!("/a/t.ism/{uri}"), None).unwrap();
                let Route::Stream(s) = route else {
                    panic!("{uri}")
                };
                let Resource::Fragment { track, time } = s.resource else {
                    panic!("{uri}")
                };
                assert_eq!(time, t);
                assert_eq!(s.options.format, Format::Smooth);
                let st = set.find(&track).unwrap();
                assert_eq!(st.bitrate, l.num("Bitrate"));
                assert!(set.timeline.segment_at_hns(time).is_some());
            }
        }
    }
}

#[test]
fn v20_lists_every_fragment_without_r() {
    let set = abr_set();
    let xml = client_manifest(&set, Format::SmoothV20).unwrap();
    let root = parse_xml(&xml);
    assert_eq!(root.attr("MajorVersion"), "2");
    assert_eq!(root.attr("MinorVersion"), "0");
    let v22 = parse_xml(&client_manifest(&set, Format::Smooth).unwrap());
    for (si, si22) in root.all("StreamIndex").zip(v22.all("StreamIndex")) {
        assert!(si.all("c").all(|c| !c.attrs.contains_key("r")));
        assert_eq!(si.num("Chunks"), si.all("c").count() as u64);
        assert!(si.all("c").next().unwrap().attrs.contains_key("t"));
        assert_eq!(expand(si), expand(si22), "same fragments either way");
        assert!(
            si.attr("Url").contains(",format=fmp4-v20)"),
            "{}",
            si.attr("Url")
        );
    }
}

#[test]
fn fragments_match_their_c_entries() {
    // The round trip a Smooth client makes: every <c> of every
    // StreamIndex, fetched for the StreamIndex's first QualityLevel, is a
    // fragment whose tfxd carries that same t and d, and whose trun
    // durations add up to d.
    for name in ["muxed_moov_end.mp4", "avc_bframes.mp4", "aac.mp4"] {
        let file = fixture(name);
        let idx = index_whole_file(&file, "").unwrap();
        let set = MediaSet::all_tracks(
            vec![SourceFile {
                path: name.into(),
                index: idx,
            }],
            1000,
        )
        .unwrap();
        let root = parse_xml(&client_manifest(&set, Format::Smooth).unwrap());
        for si in root.all("StreamIndex") {
            let first = si.all("QualityLevel").next().unwrap();
            let track = crate::url::TrackRef {
                name: si.attr("Name").into(),
                bitrate: first.num("Bitrate"),
            };
            let st = set.find(&track).unwrap();
            let idx = set.track_index(st);
            let frags = expand(si);
            assert!(frags.len() > 1, "{name}");
            for (t, d) in frags {
                let n = set.timeline.segment_at_hns(t).unwrap();
                let seg = set.timeline.track_segment(idx, n).unwrap().unwrap();
                let bytes = materialize(&fragment(idx, &seg).unwrap(), &file);
                let p = parse_fragment(&bytes);
                let (_, ft, fd) = p.tfxd.unwrap();
                assert_eq!((ft, fd), (t, d), "{name}: tfxd of segment {n}");
                let sum: u64 = p.samples.iter().map(|s| u64::from(s.0)).sum();
                assert_eq!(sum, d);
            }
        }
    }
}

#[test]
fn codec_private_data_for_known_parameter_sets() {
    let set = muxed_set();
    let mut info = set.track_index(&set.tracks[0]).info.clone();
    info.codec = Codec::Avc(AvcConfig {
        record: Bytes::new(),
        profile: 0x4d,
        compatibility: 0x40,
        level: 0x1f,
        nal_length_size: 4,
        sps: vec![Bytes::from_static(&[0x67, 0x4d, 0x40, 0x1f, 0x8d, 0x94])],
        pps: vec![Bytes::from_static(&[0x68, 0xe9, 0x09, 0x35, 0x20])],
    });
    let q = quality_codec(&info).unwrap();
    assert_eq!(q.fourcc, "H264");
    assert_eq!(
        q.codec_private_data,
        "00000001674D401F8D940000000168E9093520"
    );
}

#[test]
fn ec3_signalled_like_the_manifests_in_the_field() {
    // dec3 of 192 kbit/s 5.1 E-AC-3; the expected value is what deployed
    // Smooth manifests carry for such a stream.
    let dec3 = Bytes::from_static(&[0x06, 0x00, 0x20, 0x0F, 0x00]);
    let set = muxed_set();
    let mut info = set.track_index(&set.tracks[1]).info.clone();
    info.codec = Codec::Ec3(crate::mp4::codec::parse_dec3(&dec3, 0).unwrap());
    let q = quality_codec(&info).unwrap();
    assert_eq!(q.fourcc, "EC-3");
    assert_eq!(
        q.codec_private_data,
        "00063F000000AF87FBA7022DFB42A4D405CD93843BDD0600200F00"
    );
    assert_eq!(q.audio_tag, 65534);
    assert_eq!(q.packet_size, 768);
    assert_eq!(crate::codec::dolby::wave_channel_mask(2, false), 0x3);
}

#[test]
fn hevc_and_unsupported_codecs_are_left_out() {
    // MS-SSTR has no HEVC FourCC: the track is not described (it used to
    // be offered as `HVC1`, which GStreamer and VLC cannot open).
    let idx = index_whole_file(&fixture("hevc.mp4"), "").unwrap();
    let info = &idx.tracks[0].info;
    assert!(matches!(info.codec, Codec::Hevc(_)));
    assert!(quality_codec(info).is_none() && !carries(info));
    let mut other = info.clone();
    other.codec = Codec::Other;
    assert!(quality_codec(&other).is_none());
    // A title with HEVC and H.264 video lists the H.264 only.
    let files = ["hevc.mp4", "avc_bframes.mp4"]
        .iter()
        .map(|n| SourceFile {
            path: (*n).into(),
            index: index_whole_file(&fixture(n), "").unwrap(),
        })
        .collect();
    let set = MediaSet::all_tracks(files, 1000).unwrap();
    let xml = client_manifest(&set, Format::Smooth).unwrap();
    let root = parse_xml(&xml);
    let fourccs: Vec<String> = root
        .all("StreamIndex")
        .flat_map(|si| si.all("QualityLevel"))
        .map(|q| q.attr("FourCC").to_string())
        .collect();
    assert_eq!(fourccs, ["H264"], "{xml}");
}

#[test]
fn c_entries_fold_runs_and_mark_gaps() {
    let times = crate::timeline::hns::runs(&[(0, 10), (10, 10), (20, 10), (30, 5), (40, 5)]);
    assert_eq!(fragments(&times), 5);
    assert_eq!(end_of(&times), Some(45));
    assert_eq!(
        chunks(&times, true),
        vec![
            Chunk {
                t: Some(0),
                d: 10,
                r: 3
            },
            Chunk {
                t: None,
                d: 5,
                r: 1
            },
            Chunk {
                t: Some(40),
                d: 5,
                r: 1
            },
        ]
    );
    let flat = chunks(&times, false);
    assert_eq!(flat.len(), 5);
    assert!(flat.iter().all(|c| c.r == 1));
    assert_eq!(flat[0].t, Some(0));
    assert_eq!(flat[1].t, None);
    assert_eq!(flat[4].t, Some(40));
}

/// A rendition cut at its own keyframes cannot share a StreamIndex's chunk
/// list: the client manifest leaves it out (HLS and DASH serve it).
#[test]
fn unaligned_rendition_is_left_out() {
    let set = crate::testutil::fixture_files_set(&["avc_bframes.mp4", "avc_gop40.mp4"], 2000);
    let m = client_manifest(&set, Format::Smooth).unwrap();
    assert_eq!(m.matches("<QualityLevel ").count(), 1, "{m}");
}
