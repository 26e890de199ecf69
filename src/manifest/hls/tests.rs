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
