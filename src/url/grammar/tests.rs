use super::*;
use crate::url::testutil::{err, err_q, ism, stream, stream_q, track};
use crate::url::{MAX_NAME_LEN, MAX_QUERY_LEN};

// --- fixed routes -----------------------------------------------------

#[test]
fn fixed_routes() {
    assert_eq!(parse("/health", None), Ok(Route::Health));
    assert_eq!(parse("/health", Some("x=1")), Ok(Route::Health));
    assert_eq!(parse("/player", None), Ok(Route::PlayerPage));
    assert_eq!(parse("/player/", None), Ok(Route::PlayerPage));
    assert!(parse("/health/", None).is_err());
    assert!(parse("/HEALTH", None).is_err());
    assert_eq!(
        parse("/player/assets/app-1.2_min.js", None),
        Ok(Route::PlayerAsset("app-1.2_min.js".into()))
    );
}

#[test]
fn player_asset_names_are_strict() {
    for bad in [
        "/player/assets/",
        "/player/assets/..",
        "/player/assets/.hidden",
        "/player/assets/%2e%2e",
        "/player/assets/a%20b.js",
        "/player/assets/a$b",
    ] {
        assert!(
            matches!(err(bad), UrlError::InvalidName { .. }),
            "{bad}: {:?}",
            parse(bad, None)
        );
    }
    // More than one segment after assets/ is not a player asset.
    assert_eq!(err("/player/assets/a/b.js"), UrlError::NotFound);
}

#[test]
fn unknown_paths_are_not_found() {
    for p in [
        "/",
        "/favicon.ico",
        "/healthz",
        "/a/b/c",
        "/x.ism",
        "/x.mp4",
    ] {
        assert_eq!(err(p), UrlError::NotFound, "{p}");
        assert_eq!(err(p).http_status(), 404);
    }
}

// --- top-level manifests ----------------------------------------------

#[test]
fn azure_manifest_formats() {
    let cases = [
        ("manifest", Format::Smooth),
        ("Manifest", Format::Smooth),
        ("MANIFEST", Format::Smooth),
        ("manifest(format=fmp4-v20)", Format::SmoothV20),
        ("manifest(format=m3u8-aapl)", Format::HlsTs),
        ("manifest(format=m3u8-aapl).m3u8", Format::HlsTs),
        ("manifest(format=m3u8-aapl-v3)", Format::HlsTsV3),
        ("manifest(format=m3u8-cmaf)", Format::HlsCmaf),
        ("manifest(format=m3u8-cmaf).m3u8", Format::HlsCmaf),
        ("Manifest(format=M3U8-CMAF)", Format::HlsCmaf),
        ("manifest(format=mpd-time-csf)", Format::DashCsf),
        ("manifest(format=mpd-time-csf).mpd", Format::DashCsf),
        ("manifest(format=mpd-time-cmaf)", Format::DashCmaf),
        ("manifest(format=mpd-time-cmaf).mpd", Format::DashCmaf),
        // The suffix is ignored when a format is given, as Azure did.
        ("manifest(format=mpd-time-cmaf).m3u8", Format::DashCmaf),
        // nginx-vod aliases and their obvious siblings.
        ("master.m3u8", Format::HlsCmaf),
        ("manifest.mpd", Format::DashCmaf),
        ("manifest.m3u8", Format::HlsCmaf),
        ("manifest(filter=f1).mpd", Format::DashCmaf),
    ];
    for (resource, format) in cases {
        let path = format!("/0a1b-guid/abr/abr.ism/{resource}");
        let s = stream(&path);
        assert_eq!(s.asset, ism("0a1b-guid/abr/abr.ism"), "{path}");
        assert_eq!(s.resource, Resource::Manifest, "{path}");
        assert_eq!(s.options.format, format, "{path}");
    }
}

#[test]
fn manifest_rejections() {
    let cases: [(&str, UrlError); 16] = [
        (
            "/a.ism/manifest(format=m3u8-foo)",
            UrlError::UnknownFormat("m3u8-foo".into()),
        ),
        (
            "/a.ism/manifest(format=)",
            UrlError::UnknownFormat("".into()),
        ),
        ("/a.ism/manifest()", UrlError::Syntax("empty option")),
        (
            "/a.ism/manifest(format=m3u8-cmaf,)",
            UrlError::Syntax("empty option"),
        ),
        (
            "/a.ism/manifest(format=m3u8-cmaf,format=m3u8-aapl)",
            UrlError::DuplicateOption("format"),
        ),
        (
            "/a.ism/manifest(bogus=1)",
            UrlError::UnknownOption("bogus".into()),
        ),
        (
            "/a.ism/manifest(m3u8-cmaf)",
            UrlError::UnknownOption("m3u8-cmaf".into()),
        ),
        (
            "/a.ism/manifest(format=m3u8-cmaf",
            UrlError::Syntax("unbalanced parentheses"),
        ),
        (
            "/a.ism/manifest(format=m3u8-cmaf))",
            UrlError::Syntax("unbalanced parentheses"),
        ),
        (
            "/a.ism/manifest((format=m3u8-cmaf)",
            UrlError::Syntax("unbalanced parentheses"),
        ),
        (
            "/a.ism/manifest)format=m3u8-cmaf(",
            UrlError::Syntax("unbalanced parentheses"),
        ),
        (
            "/a.ism/manifest(format=m3u8-cmaf)(x)",
            UrlError::Syntax("unbalanced parentheses"),
        ),
        (
            "/a.ism/manifest(format=%20m3u8-cmaf)",
            UrlError::Syntax("spaces are not allowed"),
        ),
        (
            "/a.ism/manifest(encryption=rot13)",
            UrlError::InvalidOption {
                option: "encryption",
                value: "rot13".into(),
            },
        ),
        (
            "/a.ism/manifest(audio-only=yes)",
            UrlError::InvalidOption {
                option: "audio-only",
                value: "yes".into(),
            },
        ),
        (
            "/a.ism/manifest(format=m3u8-aapl,type=keyframes)",
            UrlError::MisplacedOption("type"),
        ),
    ];
    for (path, want) in cases {
        assert_eq!(err(path), want, "{path}");
        assert_eq!(want.http_status(), 400);
    }
    for path in [
        "/a.ism/manifest.json",
        "/a.ism/master.mpd",
        "/a.ism/Master.m3u8",
        "/a.ism/manifest(format=m3u8-cmaf).ts",
        "/a.ism/index.m3u8",
        "/a.ism/manifests",
        "/a.ism/.m3u8",
        "/a.ism/master(format=m3u8-cmaf)",
        "/a.ism/foo(bogus=1)",
    ] {
        assert!(
            matches!(err(path), UrlError::UnknownResource(_)),
            "{path}: {:?}",
            parse(path, None)
        );
    }
}

// --- sub-resources ----------------------------------------------------

#[test]
fn media_playlists() {
    let s = stream("/g/abr.ism/QualityLevels(381048)/Manifest(video,format=m3u8-aapl)");
    assert_eq!(
        s.resource,
        Resource::MediaPlaylist {
            track: track(381048, "video"),
            keyframes: false
        }
    );
    assert_eq!(s.options.format, Format::HlsTs);
    let s = stream(
        "/g/abr.ism/qualitylevels(128041)/manifest(aac_eng_2_128041_2_1,format=m3u8-cmaf).m3u8",
    );
    assert_eq!(
        s.resource,
        Resource::MediaPlaylist {
            track: track(128041, "aac_eng_2_128041_2_1"),
            keyframes: false
        }
    );
    let s =
        stream("/g/abr.ism/QualityLevels(381048)/Manifest(video,format=m3u8-aapl,type=keyframes)");
    assert_eq!(
        s.resource,
        Resource::MediaPlaylist {
            track: track(381048, "video"),
            keyframes: true
        }
    );
    // Format from the query string.
    let s = stream_q(
        "/g/abr.ism/QualityLevels(1)/Manifest(video)",
        Some("format=m3u8-cmaf"),
    );
    assert_eq!(s.options.format, Format::HlsCmaf);
}

#[test]
fn media_playlist_rejections() {
    let p = "/a.ism/QualityLevels(1)/Manifest(video)";
    assert_eq!(err(p), UrlError::NotHls);
    let p = "/a.ism/QualityLevels(1)/Manifest(video,format=mpd-time-cmaf)";
    assert_eq!(err(p), UrlError::NotHls);
    let p = "/a.ism/QualityLevels(1)/Manifest(video,format=m3u8-aapl,type=all)";
    assert!(matches!(
        err(p),
        UrlError::InvalidOption { option: "type", .. }
    ));
    let p = "/a.ism/QualityLevels(1)/Manifest(,format=m3u8-aapl)";
    assert!(matches!(err(p), UrlError::InvalidName { .. }));
    let p = "/a.ism/QualityLevels(1)/Manifest(format=m3u8-aapl)";
    assert!(matches!(err(p), UrlError::InvalidName { .. }));
    let p = "/a.ism/QualityLevels(1)/Manifest(video,format=m3u8-aapl).mpd";
    assert!(matches!(err(p), UrlError::UnknownResource(_)));
    let p = "/a.ism/QualityLevels(1)/Manifest";
    assert!(matches!(err(p), UrlError::UnknownResource(_)));
}

#[test]
fn fragments_and_init() {
    let s = stream("/g/abr.ism/QualityLevels(2500080)/Fragments(video=0,format=m3u8-aapl)");
    assert_eq!(
        s.resource,
        Resource::Fragment {
            track: track(2500080, "video"),
            time: 0
        }
    );
    assert_eq!(s.options.format, Format::HlsTs);
    let s = stream("/g/abr.ism/QualityLevels(2500080)/Fragments(video=i,format=mpd-time-csf)");
    assert_eq!(
        s.resource,
        Resource::Init {
            track: track(2500080, "video")
        }
    );
    assert_eq!(s.options.format, Format::DashCsf);
    // Smooth: no format.
    let s = stream("/g/abr.ism/QualityLevels(128000)/Fragments(audio_eng=20000000)");
    assert_eq!(
        s.resource,
        Resource::Fragment {
            track: track(128000, "audio_eng"),
            time: 20_000_000
        }
    );
    assert_eq!(s.options.format, Format::Smooth);
    let s = stream(&format!(
        "/a.ism/QualityLevels({})/FRAGMENTS(v={})",
        u64::MAX,
        u64::MAX
    ));
    assert_eq!(
        s.resource,
        Resource::Fragment {
            track: track(u64::MAX, "v"),
            time: u64::MAX
        }
    );
}

#[test]
fn number_rejections() {
    let cases = [
        ("Fragments(v=abc)", UrlError::NotANumber("time")),
        ("Fragments(v=)", UrlError::NotANumber("time")),
        ("Fragments(v=+5)", UrlError::NotANumber("time")),
        ("Fragments(v=-5)", UrlError::NotANumber("time")),
        ("Fragments(v=1e9)", UrlError::NotANumber("time")),
        ("Fragments(v=0x10)", UrlError::NotANumber("time")),
        ("Fragments(v=I)", UrlError::NotANumber("time")),
        (
            "Fragments(v=18446744073709551616)",
            UrlError::OutOfRange("time"),
        ),
        (
            "Fragments(v=99999999999999999999999999999999999999)",
            UrlError::OutOfRange("time"),
        ),
        (
            "Fragments(v)",
            UrlError::Syntax("fragments need {track}={time}"),
        ),
        (
            "Fragments()",
            UrlError::Syntax("fragments need {track}={time}"),
        ),
    ];
    for (sub, want) in cases {
        let path = format!("/a.ism/QualityLevels(1)/{sub}");
        assert_eq!(err(&path), want, "{path}");
    }
    let cases = [
        ("QualityLevels()", UrlError::NotANumber("bitrate")),
        ("QualityLevels(abc)", UrlError::NotANumber("bitrate")),
        (
            "QualityLevels($Bandwidth$)",
            UrlError::NotANumber("bitrate"),
        ),
        (
            "QualityLevels(18446744073709551616)",
            UrlError::OutOfRange("bitrate"),
        ),
    ];
    for (levels, want) in cases {
        let path = format!("/a.ism/{levels}/Fragments(v=0)");
        assert_eq!(err(&path), want, "{path}");
    }
}

#[test]
fn sub_resource_rejections() {
    for path in [
        "/a.ism/QualityLevels(1)/Fragment(v=0)",
        "/a.ism/QualityLevels(1)/Fragments",
        "/a.ism/QualityLevels(1)/KeyFrames(v=0)",
        "/a.ism/QualityLevels(1).x/Fragments(v=0)",
        "/a.ism/QualityLevels(1)x/Fragments(v=0)",
    ] {
        assert!(
            matches!(err(path), UrlError::UnknownResource(_)),
            "{path}: {:?}",
            parse(path, None)
        );
    }
    assert_eq!(
        err("/a.ism/QualityLevels(1/Fragments(v=0)"),
        UrlError::Syntax("unbalanced parentheses")
    );
    assert_eq!(
        err("/a.ism/QualityLevels(1)/Fragments(v=0"),
        UrlError::Syntax("unbalanced parentheses")
    );
    assert_eq!(
        err("/a.ism/QualityLevels(1)/Fragments(v=(0))"),
        UrlError::Syntax("unbalanced parentheses")
    );
    assert_eq!(
        err("/a.ism/QualityLevels(1)/Fragments(v=0,%20format=m3u8-aapl)"),
        UrlError::Syntax("spaces are not allowed")
    );
    assert!(matches!(
        err("/a.ism/QualityLevels(1)/Fragments(v=0,format=m3u8-aapl,type=keyframes)"),
        UrlError::MisplacedOption("type")
    ));
    // A resource without an asset in front of it.
    assert_eq!(err("/QualityLevels(1)/Fragments(v=0)"), UrlError::NotFound);
    assert_eq!(err("/manifest"), UrlError::NotFound);
    // Track names.
    for name in ["vid eo", "vid/eo", "vidéo", "v,w", "v$", ""] {
        let path = format!("/a.ism/QualityLevels(1)/Fragments({name}=0)");
        assert!(parse(&path, None).is_err(), "{path}");
    }
    let long = "v".repeat(MAX_NAME_LEN);
    let path = format!("/a.ism/QualityLevels(1)/Fragments({long}=0)");
    assert!(parse(&path, None).is_ok());
    let path = format!("/a.ism/QualityLevels(1)/Fragments({long}v=0)");
    assert!(matches!(
        err(&path),
        UrlError::InvalidName {
            what: "track name",
            ..
        }
    ));
}

#[test]
fn percent_encoded_resource_is_decoded() {
    let s = stream("/a.ism/QualityLevels%28100%29/Fragments%28v%3D5%2Cformat%3Dm3u8-cmaf%29");
    assert_eq!(
        s.resource,
        Resource::Fragment {
            track: track(100, "v"),
            time: 5
        }
    );
    assert_eq!(s.options.format, Format::HlsCmaf);
}

// --- limits and error messages ----------------------------------------

#[test]
fn length_and_segment_limits() {
    let long = format!("/{}/x.mp4/manifest", "a".repeat(10_000));
    assert_eq!(err(&long), UrlError::Path("path too long"));
    let just = format!("/{}/x.mp4/manifest", "a".repeat(MAX_PATH_LEN - 16));
    assert_eq!(just.len(), MAX_PATH_LEN);
    assert!(parse(&just, None).is_ok());
    let deep = format!("{}/x.mp4/manifest", "/a".repeat(MAX_SEGMENTS - 2));
    assert!(parse(&deep, None).is_ok(), "{deep}");
    let deeper = format!("{}/x.mp4/manifest", "/a".repeat(MAX_SEGMENTS - 1));
    assert_eq!(err(&deeper), UrlError::Path("too many path segments"));
    let slashes = "/".repeat(2000);
    assert!(parse(&slashes, None).is_err());
    let parens = format!("/a.ism/manifest{}", "(".repeat(1000));
    assert_eq!(err(&parens), UrlError::Syntax("unbalanced parentheses"));
    let q = format!("format={}", "x".repeat(MAX_QUERY_LEN));
    assert_eq!(
        err_q("/a.ism/manifest", Some(&q)),
        UrlError::Syntax("query string too long")
    );
}

#[test]
fn error_messages_are_short_and_escaped() {
    let junk = "\u{1b}[31m".to_string() + &"x".repeat(5000);
    let e = err(&format!("/a.ism/manifest(format={junk})"));
    let msg = e.to_string();
    assert!(msg.len() < 100, "{msg}");
    assert!(!msg.contains('\u{1b}'), "{msg}");
    assert_eq!(
        err("/a.ism/manifest(format=m3u8-foo)").to_string(),
        "unknown format 'm3u8-foo'"
    );
    assert_eq!(
        err("/a.ism/QualityLevels(1)/Fragments(v=x)").to_string(),
        "time is not a number"
    );
    assert_eq!(err("/../a.ism/manifest").to_string(), "path escapes origin");
}

// --- key URLs (encryption=cbc) ----------------------------------------

#[test]
fn key_urls() {
    let s = stream("/abr/abr.ism/QualityLevels(381048)/Key(encryption=cbc)");
    assert_eq!(s.asset, ism("abr/abr.ism"));
    assert_eq!(s.resource, Resource::Key);
    assert_eq!(s.options.encryption.as_deref(), Some("cbc"));
    // Case-insensitive like the rest; the query may say it too.
    let q = stream_q(
        "/abr/abr.ism/qualitylevels(1)/KEY(ENCRYPTION=CBC)",
        Some("encryption=cbc"),
    );
    assert_eq!(
        (q.resource, q.options.encryption),
        (Resource::Key, s.options.encryption)
    );
    // The option is required, and nothing but options goes inside.
    assert_eq!(
        err("/abr/abr.ism/QualityLevels(1)/Key(format=m3u8-aapl)"),
        UrlError::KeyWithoutEncryption
    );
    for bad in [
        "/abr/abr.ism/QualityLevels(1)/Key",
        "/abr/abr.ism/QualityLevels(1)/Key()",
        "/abr/abr.ism/QualityLevels(1)/Key(video)",
        "/abr/abr.ism/QualityLevels(1)/Key(encryption=cbc).key",
        "/abr/abr.ism/QualityLevels(1)/Key(encryption=aes)",
        "/abr/abr.ism/QualityLevels(1)/Key(encryption=cbc,type=keyframes)",
        "/abr/abr.ism/Key(encryption=cbc)",
    ] {
        assert_eq!(err(bad).http_status(), 400, "{bad}: {:?}", parse(bad, None));
    }
    // Its asset (a signed URL's scope) is the asset of the playlist it is
    // written next to.
    assert_eq!(
        asset_scope("/abr/abr.ism/QualityLevels(1)/Key(encryption=cbc)"),
        asset_scope(
            "/abr/abr.ism/QualityLevels(1)/Manifest(video,format=m3u8-aapl,encryption=cbc)"
        )
    );
}

#[test]
fn encryption_is_part_of_the_request() {
    let clear = stream("/a.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl).ts");
    let enc =
        stream("/a.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl,encryption=cbc).ts");
    assert_eq!(enc.options.encryption.as_deref(), Some("cbc"));
    assert_ne!(clear, enc);
    assert_eq!(clear.resource, enc.resource);
}

/// `kid=` names one of the asset's keys on a key URL (tracks with
/// different keys, CPIX usage rules); anywhere else it is misplaced.
#[test]
fn key_urls_may_name_the_key_id() {
    let s =
        stream("/a.ism/QualityLevels(1)/Key(encryption=cenc,kid=A0a1a2a3b4b54c6c8d7de8e9f0f1f2f3)");
    assert_eq!(s.resource, Resource::Key);
    assert_eq!(
        s.options.key_id,
        crate::crypto::cpix::parse_uuid("a0a1a2a3b4b54c6c8d7de8e9f0f1f2f3")
    );
    assert_eq!(
        stream("/a.ism/QualityLevels(1)/Key(encryption=cenc)")
            .options
            .key_id,
        None
    );
    assert_eq!(
        err("/a.ism/manifest(format=mpd-time-cmaf,encryption=cenc,kid=a0a1a2a3b4b54c6c8d7de8e9f0f1f2f3)"),
        UrlError::MisplacedOption("kid")
    );
    for bad in [
        "a0a1",
        "a0a1a2a3-b4b5-4c6c-8d7d-e8e9f0f1f2f3",
        "zza1a2a3b4b54c6c8d7de8e9f0f1f2f3",
    ] {
        assert!(
            matches!(
                err(&format!(
                    "/a.ism/QualityLevels(1)/Key(encryption=cenc,kid={bad})"
                )),
                UrlError::InvalidOption { option: "kid", .. }
            ),
            "{bad}"
        );
    }
}
