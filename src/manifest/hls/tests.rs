use super::*;
use crate::url::{parse, Resource, Route};

fn muxed_set() -> MediaSet {
    crate::testutil::fixture_set("muxed_moov_end.mp4", 2000)
}

/// Resolves a playlist-relative URI against `base` (a path ending in `/`)
/// and parses it with the request grammar.
fn resolve(base: &str, uri: &str) -> Resource {
    match parse(&format!("{base}{uri}"), None).unwrap() {
        Route::Stream(s) => s.resource,
        r => panic!("{r:?}"),
    }
}

#[test]
fn multivariant_lists_variants_with_audio_group_and_one_default() {
    let set = muxed_set();
    let m = multivariant(&set, Format::HlsCmaf).unwrap();
    assert!(m.starts_with("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"));
    assert_eq!(m.matches("DEFAULT=YES").count(), 1);
    let inf = m
        .lines()
        .find(|l| l.starts_with("#EXT-X-STREAM-INF"))
        .unwrap();
    assert!(inf.contains("CODECS=\"avc1.64"), "{inf}");
    assert!(inf.contains(",mp4a.40.2\""), "{inf}");
    assert!(inf.contains("RESOLUTION=160x90"));
    assert!(inf.contains("FRAME-RATE=24.000"));
    assert!(inf.contains("AUDIO=\"audio0\""));
    let bw: u64 = inf
        .split("BANDWIDTH=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let avg: u64 = inf
        .split("AVERAGE-BANDWIDTH=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(bw >= avg && avg > 0);
    // Every URI is something the grammar answers.
    for uri in m.lines().filter(|l| !l.starts_with('#')) {
        assert!(matches!(
            resolve("/m.mp4/", uri),
            Resource::MediaPlaylist { .. }
        ));
    }
}

#[test]
fn media_playlist_durations_and_target() {
    let set = muxed_set();
    for t in &set.tracks {
        let p = media_playlist(&set, t, Format::HlsCmaf).unwrap();
        let target: u64 = p
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
            .unwrap()
            .parse()
            .unwrap();
        let durations: Vec<f64> = p
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|l| l.trim_end_matches(',').parse().unwrap())
            .collect();
        assert!(durations.iter().all(|d| d.round() as u64 <= target));
        let total: f64 = durations.iter().sum();
        assert!((total - 4.0).abs() < 0.05, "{total}");
        assert!(p.contains("#EXT-X-MAP:URI=\"Fragments("));
        assert!(p.ends_with("#EXT-X-ENDLIST\n"));
        for uri in p.lines().filter(|l| l.starts_with("Fragments(")) {
            assert!(matches!(
                resolve("/m.mp4/QualityLevels(1)/", uri),
                Resource::Fragment { .. }
            ));
        }
    }
}

#[test]
fn audio_only_variant_only_when_asked() {
    let set = muxed_set();
    let plain = multivariant(&set, Format::HlsCmaf).unwrap();
    let with = multivariant_with(&set, Format::HlsCmaf, true).unwrap();
    assert_eq!(plain.matches("#EXT-X-STREAM-INF").count(), 1);
    assert_eq!(with.matches("#EXT-X-STREAM-INF").count(), 2);
    let last = with
        .lines()
        .rfind(|l| l.starts_with("#EXT-X-STREAM-INF"))
        .unwrap();
    assert!(
        last.contains("CODECS=\"mp4a.40.2\"") && !last.contains("RESOLUTION"),
        "{last}"
    );
}

/// One audio group per codec (AAC, AC-3, E-AC-3), each with one default,
/// and the video variant listed once per group with both codecs.
#[test]
fn one_audio_group_per_codec() {
    let set = crate::testutil::fixture_set("mixed_audio.mp4", 2000);
    for format in [Format::HlsCmaf, Format::HlsTs] {
        let m = multivariant(&set, format).unwrap();
        let media: Vec<&str> = m
            .lines()
            .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO"))
            .collect();
        assert_eq!(media.len(), 3, "{m}");
        let groups: std::collections::BTreeSet<&str> = media
            .iter()
            .map(|l| {
                l.split("GROUP-ID=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(groups.len(), 3, "{m}");
        assert_eq!(m.matches("DEFAULT=YES").count(), 3);
        let variants: Vec<&str> = m
            .lines()
            .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
            .collect();
        assert_eq!(variants.len(), 3, "{m}");
        for codec in ["mp4a.40.2", "ac-3", "ec-3"] {
            let v: Vec<&&str> = variants
                .iter()
                .filter(|v| v.contains(&format!(",{codec}\"")))
                .collect();
            assert_eq!(v.len(), 1, "{codec}: {m}");
        }
    }
}

/// Open-GOP renditions are not announced as independent segments, in the
/// media playlist or in the multivariant playlist; closed ones are.
#[test]
fn independent_segments_only_for_closed_gops() {
    for (name, closed) in [("open_gop.mp4", false), ("avc_bframes.mp4", true)] {
        let set = crate::testutil::fixture_set(name, 1000);
        for format in [Format::HlsCmaf, Format::HlsTs] {
            let m = multivariant(&set, format).unwrap();
            assert_eq!(m.contains("#EXT-X-INDEPENDENT-SEGMENTS"), closed, "{name}");
            let p = media_playlist(&set, &set.tracks[0], format).unwrap();
            assert_eq!(p.contains("#EXT-X-INDEPENDENT-SEGMENTS"), closed, "{name}");
        }
    }
}

/// A rendition whose keyframes do not align with the reference is served
/// as a variant of its own, cut at its own keyframes, not dropped.
#[test]
fn unaligned_rendition_is_a_variant_with_its_own_segments() {
    let set = crate::testutil::fixture_files_set(&["avc_bframes.mp4", "avc_gop40.mp4"], 2000);
    assert_eq!(set.tracks.len(), 2);
    assert!(set.is_aligned(&set.tracks[0]));
    assert!(!set.is_aligned(&set.tracks[1]));
    let m = multivariant(&set, Format::HlsCmaf).unwrap();
    assert_eq!(m.matches("#EXT-X-STREAM-INF").count(), 2, "{m}");
    let p = media_playlist(&set, &set.tracks[1], Format::HlsCmaf).unwrap();
    let total: f64 = p
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|l| l.trim_end_matches(',').parse::<f64>().unwrap())
        .sum();
    assert!((total - 4.0).abs() < 0.05, "{p}");
    // Every segment starts on one of the rendition's own keyframes.
    let idx = set.track_index(&set.tracks[1]);
    for s in set.segments(&set.tracks[1]).unwrap().iter() {
        assert!(idx.sync_pts(s.samples.start).is_some(), "{s:?}");
    }
}

/// Rates round up, so BANDWIDTH is never a bit per second below the real
/// peak (a strict checker measuring the EXTINF durations found 1162144 vs
/// 1162145 when they were truncated).
#[test]
fn rates_round_up() {
    let seg = |n: u32| TrackSegment {
        number: n,
        samples: 0..1,
        start: i64::from(n) * 3000,
        duration: 3000,
        payload: 0,
    };
    // 1000 bytes over 3 s: 2666.67 bit/s.
    let r = rates(&[seg(0), seg(1)], 1000, |_| Ok(1000)).unwrap();
    assert_eq!((r.peak, r.average), (2667, 2667));
}

#[test]
fn key_tags_follow_the_media_sequence_until_a_gap() {
    let tags = |numbers: &[u32]| {
        let mut explicit = false;
        numbers
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let t = key_tag(i as u64, n, explicit);
                explicit = u64::from(n) != i as u64;
                t
            })
            .collect::<Vec<_>>()
    };
    // Contiguous from 0: one tag, no IV (the sequence number is the IV).
    assert_eq!(tags(&[0, 1, 2]), [Some(None), None, None]);
    // A gap: from there on every segment names its own IV.
    assert_eq!(
        tags(&[0, 1, 3, 4]),
        [Some(None), None, Some(Some(3)), Some(Some(4))]
    );
    assert_eq!(tags(&[2, 3]), [Some(Some(2)), Some(Some(3))]);
}

#[test]
fn encrypted_playlists_keep_the_option_and_announce_the_key() {
    let set = muxed_set();
    let m = multivariant_encrypted(&set, Format::HlsTs, false, Some("cbc")).unwrap();
    assert!(!m.contains("I-FRAME"), "{m}");
    let base = "/muxed_moov_end.mp4/";
    let mut playlists = 0;
    for uri in m
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .chain(
            m.lines()
                .filter(|l| !l.starts_with("#EXT-X-SESSION-KEY:"))
                .filter_map(|l| {
                    l.split("URI=\"")
                        .nth(1)
                        .map(|u| u.trim_end_matches('"').to_string())
                }),
        )
    {
        assert!(uri.contains(",encryption=cbc)"), "{uri}");
        assert!(matches!(
            resolve(base, &uri),
            Resource::MediaPlaylist { .. }
        ));
        playlists += 1;
    }
    assert!(playlists >= 2);
    // RFC 8216 §4.3.4.5: the key announced once in the master, at a URI
    // that is a key URL under a listed variant's QualityLevels.
    let session: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("#EXT-X-SESSION-KEY:"))
        .collect();
    assert_eq!(session.len(), 1, "{m}");
    let uri = session[0]
        .strip_prefix("#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"")
        .and_then(|u| u.strip_suffix('"'))
        .unwrap();
    assert_eq!(resolve(base, uri), Resource::Key);
    let levels = &uri[..uri.find('/').unwrap()];
    assert!(m.contains(&format!("\n{levels}/Manifest(")), "{m}");
    // A clear master has none.
    let clear = multivariant_with(&set, Format::HlsTs, false).unwrap();
    assert!(!clear.contains("SESSION-KEY"), "{clear}");
    let t = set.of_kind(TrackKind::Video).next().unwrap();
    let p = media_playlist_with(&set, t, Format::HlsTs, Some("cbc")).unwrap();
    let key_line = "#EXT-X-KEY:METHOD=AES-128,URI=\"Key(encryption=cbc)\"";
    assert_eq!(p.matches("#EXT-X-KEY").count(), 1, "{p}");
    let lines: Vec<&str> = p.lines().collect();
    let at = lines.iter().position(|l| *l == key_line).unwrap();
    assert!(
        lines[at + 1].starts_with("#EXTINF"),
        "key tag before the first segment"
    );
    let pl = format!("{base}QualityLevels({})/", t.bitrate);
    assert_eq!(resolve(&pl, "Key(encryption=cbc)"), Resource::Key);
    for l in lines.iter().filter(|l| l.starts_with("Fragments(")) {
        assert!(l.contains(",format=m3u8-aapl,encryption=cbc)"), "{l}");
        assert!(matches!(resolve(&pl, l), Resource::Fragment { .. }));
    }
    // The clear playlist has no key tag and clear segment URLs.
    let clear = media_playlist(&set, t, Format::HlsTs).unwrap();
    assert!(!clear.contains("EXT-X-KEY") && !clear.contains("encryption"));
}

/// A 2 s title of one video track whose entry carries `colr` payload
/// `colr` (none when empty), plus AAC.
fn colour_set(colr: &[u8]) -> MediaSet {
    use crate::testutil::{synth_set, video_entry, SynthTrack};
    let children: Vec<(&[u8; 4], &[u8])> = if colr.is_empty() {
        Vec::new()
    } else {
        vec![(b"colr", colr)]
    };
    synth_set(
        &[
            SynthTrack::video(50, 25, 25).with_entry(video_entry(&children)),
            SynthTrack::audio(94),
        ],
        2000,
    )
}

const COLR_PQ: &[u8] = b"nclx\0\x09\0\x10\0\x09\0";
const COLR_HLG: &[u8] = b"nclx\0\x09\0\x12\0\x09\0";

/// VIDEO-RANGE (RFC 8216bis §4.4.6.2/§4.4.6.3) on every video variant and
/// I-frame variant: PQ for transfer 16, HLG for 18; nothing for SDR or no
/// `colr`; EXT-X-VERSION unchanged.
#[test]
fn video_range_from_colr() {
    for (colr, want) in [
        (COLR_PQ, Some("PQ")),
        (COLR_HLG, Some("HLG")),
        (&b"nclx\0\x01\0\x01\0\x01\0"[..], None),
        (&b"nclc\0\x09\0\x0e\0\x09"[..], None),
        (&b""[..], None),
    ] {
        let set = colour_set(colr);
        for format in [Format::HlsCmaf, Format::HlsTs, Format::HlsTsV3] {
            let m = multivariant(&set, format).unwrap();
            assert!(m.contains(&format!("#EXT-X-VERSION:{}\n", version(format))));
            let infs: Vec<&str> = m
                .lines()
                .filter(|l| l.starts_with("#EXT-X-STREAM-INF") || l.starts_with("#EXT-X-I-FRAME"))
                .collect();
            assert_eq!(
                infs.len(),
                if format == Format::HlsTs { 2 } else { 1 },
                "{m}"
            );
            for inf in infs {
                match want {
                    Some(r) => {
                        assert_eq!(inf.matches("VIDEO-RANGE=").count(), 1, "{inf}");
                        assert!(inf.contains(&format!(",VIDEO-RANGE={r}")), "{inf}");
                    }
                    None => assert!(!inf.contains("VIDEO-RANGE"), "{inf}"),
                }
            }
        }
    }
}

/// Next to an HDR variant, an SDR one says `VIDEO-RANGE=SDR` explicitly.
#[test]
fn mixed_ranges_label_every_variant() {
    use crate::media_set::{MediaSet, SourceFile};
    let files = [COLR_PQ, b""]
        .iter()
        .enumerate()
        .map(|(i, colr)| SourceFile {
            path: format!("v{i}.mp4"),
            index: colour_set(colr).files[0].index.clone(),
        })
        .collect();
    let set = MediaSet::all_tracks(files, 2000).unwrap();
    let m = multivariant(&set, Format::HlsCmaf).unwrap();
    let infs: Vec<&str> = m
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
        .collect();
    assert!(infs.len() >= 2, "{m}");
    assert!(infs.iter().any(|l| l.contains(",VIDEO-RANGE=PQ")), "{m}");
    assert!(infs.iter().any(|l| l.contains(",VIDEO-RANGE=SDR")), "{m}");
    assert!(infs.iter().all(|l| l.contains(",VIDEO-RANGE=")), "{m}");
}
