use super::*;
use crate::url::testutil::{err, err_q, stream, stream_q};
use crate::url::MAX_NAME_LEN;

// --- options in the path ----------------------------------------------

#[test]
fn manifest_options() {
    let s = stream(
        "/a/b.ism/manifest(format=m3u8-aapl,filter=f1;f_2;f.3,encryption=CBCS-AAPL,audio-only=false)",
    );
    assert_eq!(s.options.format, Format::HlsTs);
    assert_eq!(s.options.filters, ["f1", "f_2", "f.3"]);
    assert_eq!(s.options.encryption.as_deref(), Some("cbcs-aapl"));
    assert_eq!(s.options.audio_only, Some(false));
    for e in ENCRYPTIONS {
        let s = stream(&format!("/b.ism/manifest(encryption={e})"));
        assert_eq!(s.options.encryption.as_deref(), Some(e));
    }
    let s = stream("/b.ism/manifest(audio-only=TRUE,format=m3u8-cmaf)");
    assert_eq!(s.options.audio_only, Some(true));
    assert_eq!(stream("/b.ism/manifest").options, Options::default());
}

#[test]
fn filters() {
    assert_eq!(
        err("/a.ism/manifest(filter=a;b;c;d)"),
        UrlError::Syntax("more than 3 filters")
    );
    for bad in [
        "filter=",
        "filter=a;;b",
        "filter=a;",
        "filter=a:b",
        "filter=a$",
    ] {
        let path = format!("/a.ism/manifest({bad})");
        assert!(
            matches!(
                err(&path),
                UrlError::InvalidName {
                    what: "filter name",
                    ..
                }
            ),
            "{path}"
        );
    }
    let long = "f".repeat(MAX_NAME_LEN + 1);
    assert!(matches!(
        err(&format!("/a.ism/manifest(filter={long})")),
        UrlError::InvalidName { .. }
    ));
}

// --- query string -------------------------------------------------------

#[test]
fn query_options() {
    let s = stream_q(
        "/a.ism/manifest",
        Some("format=m3u8-cmaf&filter=f1%3Bf2&token=abc&t=%ff&audio-only=true"),
    );
    assert_eq!(s.options.format, Format::HlsCmaf);
    assert_eq!(s.options.filters, ["f1", "f2"]);
    assert_eq!(s.options.audio_only, Some(true));
    // Agreeing duplicates between path and query are fine.
    let s = stream_q(
        "/a.ism/manifest(format=mpd-time-cmaf)",
        Some("FORMAT=mpd-time-cmaf"),
    );
    assert_eq!(s.options.format, Format::DashCmaf);
    // Explicit query format beats an alias's implied format.
    let s = stream_q("/a.mp4/manifest.mpd", Some("format=mpd-time-csf"));
    assert_eq!(s.options.format, Format::DashCsf);
    let s = stream_q("/a.mp4/manifest", Some(""));
    assert_eq!(s.options, Options::default());
    let s = stream_q("/a.mp4/manifest", Some("&&=&x&x=%zz&"));
    assert_eq!(s.options, Options::default());
    // A known key without a value is an error, not a default.
    assert_eq!(
        err_q("/a.mp4/manifest", Some("format")),
        UrlError::UnknownFormat("".into())
    );
}

#[test]
fn query_rejections() {
    let cases = [
        (
            "/a.ism/manifest(format=m3u8-cmaf)",
            "format=mpd-time-cmaf",
            UrlError::ConflictingOption("format"),
        ),
        (
            "/a.ism/manifest(filter=a)",
            "filter=b",
            UrlError::ConflictingOption("filter"),
        ),
        (
            "/a.ism/manifest",
            "format=m3u8-cmaf&format=m3u8-cmaf",
            UrlError::DuplicateOption("format"),
        ),
        (
            "/a.ism/manifest",
            "format=nope",
            UrlError::UnknownFormat("nope".into()),
        ),
        (
            "/a.ism/manifest",
            "format=%zz",
            UrlError::Syntax("invalid percent-encoding in query"),
        ),
        (
            "/a.ism/manifest",
            "filter=a%00",
            UrlError::Syntax("invalid percent-encoding in query"),
        ),
    ];
    for (path, q, want) in cases {
        assert_eq!(err_q(path, Some(q)), want, "{path}?{q}");
    }
    // `type` is only honoured in the path.
    let s = stream_q("/a.ism/manifest", Some("type=keyframes"));
    assert_eq!(s.resource, Resource::Manifest);
}

// --- format names -------------------------------------------------------

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        match f.as_azure() {
            Some(name) => {
                assert_eq!(Format::from_azure(name), Some(f));
                assert_eq!(Format::from_azure(&name.to_uppercase()), Some(f));
            }
            None => assert_eq!(f, Format::Smooth),
        }
        let kinds = [f.is_hls(), f.is_dash(), f.is_smooth()];
        assert_eq!(kinds.iter().filter(|&&k| k).count(), 1, "{f:?}");
    }
    assert_eq!(Format::from_azure(""), None);
}

// --- playback modifiers -------------------------------------------------

#[test]
fn modifiers_in_path_and_query() {
    let s = stream_q(
        "/a.ism/manifest(format=m3u8-cmaf,max_bitrate=3000000)",
        Some("MAX_RESOLUTION=720p&rendition_order=desc&default_audio_lang=fr&token=x"),
    );
    let m = &s.options.modifiers;
    assert_eq!(m.max_bitrate, Some(3_000_000));
    assert_eq!(m.max_resolution.map(|r| r.height), Some(720));
    assert_eq!(m.default_audio_lang.as_deref(), Some("fr"));
    assert!(matches!(
        err_q("/a.ism/manifest", Some("max_resolution=huge")),
        UrlError::InvalidOption {
            option: "max_resolution",
            ..
        }
    ));
    assert_eq!(
        err_q("/a.ism/manifest(min_bitrate=1)", Some("min_bitrate=2")),
        UrlError::ConflictingOption("min_bitrate")
    );
    assert_eq!(
        err("/a.ism/manifest(min_bitrate=1,min_bitrate=1)"),
        UrlError::DuplicateOption("min_bitrate")
    );
    // Options of one request differ when a modifier does (the output key
    // is made from them).
    assert_ne!(
        stream_q("/a.ism/manifest", Some("max_bitrate=1")).options,
        stream("/a.ism/manifest").options
    );
}
