use super::*;
use crate::url::testutil::{stream, track};
use crate::url::Resource;

#[test]
fn built_urls_match_azure() {
    let t = track(381048, "video");
    assert_eq!(
        media_playlist_url(&t, Format::HlsTs, false),
        "QualityLevels(381048)/Manifest(video,format=m3u8-aapl).m3u8"
    );
    assert_eq!(
        media_playlist_url(&t, Format::HlsTs, true),
        "QualityLevels(381048)/Manifest(video,format=m3u8-aapl,type=keyframes).m3u8"
    );
    assert_eq!(
        fragment_url(&t, 0, Format::HlsTs),
        "QualityLevels(381048)/Fragments(video=0,format=m3u8-aapl).ts"
    );
    assert_eq!(
        fragment_url(&t, 20_000_000, Format::Smooth),
        "QualityLevels(381048)/Fragments(video=20000000)"
    );
    assert_eq!(
        init_url(&t, Format::DashCsf),
        "QualityLevels(381048)/Fragments(video=i,format=mpd-time-csf).mp4"
    );
    assert_eq!(
        fragment_url_template("video", Format::DashCmaf),
        "QualityLevels($Bandwidth$)/Fragments(video=$Time$,format=mpd-time-cmaf).m4s"
    );
    assert_eq!(
        init_url_template("video", Format::DashCmaf),
        "QualityLevels($Bandwidth$)/Fragments(video=i,format=mpd-time-cmaf).mp4"
    );
    assert_eq!(
        fragment_url_template("video", Format::Smooth),
        "QualityLevels({bitrate})/Fragments(video={start time})"
    );
    assert_eq!(manifest_url(Format::Smooth), "manifest");
    assert_eq!(
        manifest_url(Format::HlsCmaf),
        "manifest(format=m3u8-cmaf).m3u8"
    );
    assert_eq!(
        manifest_url(Format::DashCsf),
        "manifest(format=mpd-time-csf).mpd"
    );
    assert_eq!(manifest_url(Format::SmoothV20), "manifest(format=fmp4-v20)");
}

#[test]
fn built_urls_parse_back() {
    let tracks = [
        track(0, "v"),
        track(381048, "video"),
        track(128041, "aac_eng_2_128041_2_1"),
        track(u64::MAX, &"x.y-z_".repeat(10)),
    ];
    let bases = ["/g/abr.ism/", "/d/f.mp4/", "/d/x,1,2,.mp4.urlset/"];
    for base in bases {
        for f in Format::ALL {
            let s = stream(&format!("{base}{}", manifest_url(f)));
            assert_eq!((s.resource, s.options.format), (Resource::Manifest, f));
            for t in &tracks {
                for time in [0, 1, 20_000_000, u64::MAX] {
                    let s = stream(&format!("{base}{}", fragment_url(t, time, f)));
                    let want = Resource::Fragment {
                        track: t.clone(),
                        time,
                    };
                    assert_eq!((s.resource, s.options.format), (want, f));
                }
                let s = stream(&format!("{base}{}", init_url(t, f)));
                let want = Resource::Init { track: t.clone() };
                assert_eq!((s.resource, s.options.format), (want, f));
                if f.is_hls() {
                    for keyframes in [false, true] {
                        let url = media_playlist_url(t, f, keyframes);
                        let s = stream(&format!("{base}{url}"));
                        let want = Resource::MediaPlaylist {
                            track: t.clone(),
                            keyframes,
                        };
                        assert_eq!((s.resource, s.options.format), (want, f));
                    }
                }
                // Templates, once the player fills them in.
                let filled = fragment_url_template(&t.name, f)
                    .replace("$Bandwidth$", &t.bitrate.to_string())
                    .replace("{bitrate}", &t.bitrate.to_string())
                    .replace("$Time$", "42")
                    .replace("{start time}", "42");
                let s = stream(&format!("{base}{filled}"));
                let want = Resource::Fragment {
                    track: t.clone(),
                    time: 42,
                };
                assert_eq!((s.resource, s.options.format), (want, f));
                let filled =
                    init_url_template(&t.name, f).replace("$Bandwidth$", &t.bitrate.to_string());
                let s = stream(&format!("{base}{filled}"));
                let want = Resource::Init { track: t.clone() };
                assert_eq!((s.resource, s.options.format), (want, f));
            }
        }
    }
}

#[test]
fn encrypted_links_keep_the_option_and_parse_back() {
    let t = track(381048, "video");
    let p = media_playlist_url_with(&t, Format::HlsTs, false, Some("cbc"));
    assert_eq!(
        p,
        "QualityLevels(381048)/Manifest(video,format=m3u8-aapl,encryption=cbc).m3u8"
    );
    let f = fragment_url_with(&t, 20_000_000, Format::HlsTsV3, Some("cbc"));
    assert_eq!(
        f,
        "QualityLevels(381048)/Fragments(video=20000000,format=m3u8-aapl-v3,encryption=cbc).ts"
    );
    assert_eq!(key_url("cbc"), "Key(encryption=cbc)");
    for u in [p, f, format!("QualityLevels(381048)/{}", key_url("cbc"))] {
        let s = stream(&format!("/x.ism/{u}"));
        assert_eq!(s.options.encryption.as_deref(), Some("cbc"), "{u}");
    }
    assert_eq!(
        stream(&format!("/x.ism/QualityLevels(1)/{}", key_url("cbc"))).resource,
        Resource::Key
    );
}

#[test]
fn text_fragment_urls_are_pinned_and_parse_back() {
    let t = track(1000, "textstream_eng");
    assert_eq!(
        text_fragment_url(&t, 20_000_000, Format::HlsCmaf),
        "QualityLevels(1000)/Fragments(textstream_eng=20000000,format=m3u8-cmaf).vtt"
    );
    assert_eq!(
        text_fragment_url(&t, 0, Format::HlsTsV3),
        "QualityLevels(1000)/Fragments(textstream_eng=0,format=m3u8-aapl-v3).vtt"
    );
    let (before, after) = text_fragment_url_parts(&t, Format::HlsTs);
    assert_eq!(
        (before.as_str(), after.as_str()),
        (
            "QualityLevels(1000)/Fragments(textstream_eng=",
            ",format=m3u8-aapl).vtt"
        )
    );
    for f in Format::ALL.into_iter().filter(|f| f.is_hls()) {
        for time in [0, 1, 20_000_000, u64::MAX] {
            let s = stream(&format!("/d/f.mp4/{}", text_fragment_url(&t, time, f)));
            let want = Resource::Fragment {
                track: t.clone(),
                time,
            };
            assert_eq!((s.resource, s.options.format), (want, f));
        }
    }
}
