use super::*;
use crate::url::parse;
use crate::url::testutil::{err, ism, stream};

#[test]
fn same_grammar_for_every_asset_kind() {
    let subs = [
        "manifest(format=m3u8-cmaf).m3u8",
        "master.m3u8",
        "QualityLevels(1)/Manifest(v,format=m3u8-cmaf)",
        "QualityLevels(1)/Fragments(v=i,format=mpd-time-cmaf)",
        "QualityLevels(1)/Fragments(v=10,format=mpd-time-cmaf)",
    ];
    for sub in subs {
        let a = stream(&format!("/d/x.ism/{sub}"));
        let b = stream(&format!("/d/x.mp4/{sub}"));
        let c = stream(&format!("/d/x,1,2,.mp4.urlset/{sub}"));
        assert_eq!(a.asset, ism("d/x.ism"));
        assert_eq!(
            b.asset,
            Asset::Mp4 {
                path: "d/x.mp4".into()
            }
        );
        assert_eq!(
            c.asset,
            Asset::UrlSet {
                paths: vec!["d/x1.mp4".into(), "d/x2.mp4".into()]
            }
        );
        assert_eq!((&a.resource, &a.options), (&b.resource, &b.options));
        assert_eq!((&a.resource, &a.options), (&c.resource, &c.options));
    }
}

#[test]
fn asset_paths() {
    assert_eq!(
        stream("/x.mp4/manifest").asset,
        Asset::Mp4 {
            path: "x.mp4".into()
        }
    );
    assert_eq!(
        stream("/a/b/c/Movie.MP4/manifest.mpd").asset,
        Asset::Mp4 {
            path: "a/b/c/Movie.MP4".into()
        }
    );
    assert_eq!(stream("/A.ISM/Manifest").asset, ism("A.ISM"));
    // A directory may have an asset-like name; the segment just before
    // the resource is the asset.
    assert_eq!(
        stream("/old.mp4/x.ism/manifest").asset,
        ism("old.mp4/x.ism")
    );
    // Decoded, non-ASCII and spaces survive into the object path.
    assert_eq!(
        stream("/my%20films/%C3%A9t%C3%A9.mp4/master.m3u8").asset,
        Asset::Mp4 {
            path: "my films/été.mp4".into()
        }
    );
    assert_eq!(
        stream("/日本/動画.mp4/master.m3u8").asset,
        Asset::Mp4 {
            path: "日本/動画.mp4".into()
        }
    );
    assert_eq!(
        stream("/d/x.ismv/manifest").asset,
        Asset::Mp4 {
            path: "d/x.ismv".into()
        }
    );
    assert_eq!(
        stream("/x.ISMA/manifest").asset,
        Asset::Mp4 {
            path: "x.ISMA".into()
        }
    );
    assert_eq!(
        stream("/x.mov/manifest").asset,
        Asset::Mp4 {
            path: "x.mov".into()
        }
    );
    assert_eq!(err("/.mp4/manifest"), UrlError::NotFound);
    assert_eq!(err("/d/x.mp4/a/manifest"), UrlError::NotFound);
}

#[test]
fn urlsets() {
    let s = stream("/vod/movie_,360,720,1080,.mp4.urlset/master.m3u8");
    assert_eq!(
        s.asset,
        Asset::UrlSet {
            paths: vec![
                "vod/movie_360.mp4".into(),
                "vod/movie_720.mp4".into(),
                "vod/movie_1080.mp4".into()
            ]
        }
    );
    // Empty prefix / suffix / member.
    let s = stream("/,a.mp4,b.mp4,.urlset/manifest.mpd");
    assert_eq!(
        s.asset,
        Asset::UrlSet {
            paths: vec!["a.mp4".into(), "b.mp4".into()]
        }
    );
    let s = stream("/v/x,,-hd,.mp4.urlset/manifest");
    assert_eq!(
        s.asset,
        Asset::UrlSet {
            paths: vec!["v/x.mp4".into(), "v/x-hd.mp4".into()]
        }
    );
    // One member.
    let s = stream("/v/x,a,.mp4.urlset/manifest");
    assert_eq!(
        s.asset,
        Asset::UrlSet {
            paths: vec!["v/xa.mp4".into()]
        }
    );
    // 16 members fine, 17 not.
    let members: Vec<String> = (0..16).map(|i| i.to_string()).collect();
    let p = format!("/v/x,{},.mp4.urlset/manifest", members.join(","));
    assert!(matches!(stream(&p).asset, Asset::UrlSet { paths } if paths.len() == 16));
    let members: Vec<String> = (0..17).map(|i| i.to_string()).collect();
    let p = format!("/v/x,{},.mp4.urlset/manifest", members.join(","));
    assert_eq!(err(&p), UrlError::Syntax("urlset has more than 16 members"));
    // Too few parts, empty names, dot names.
    for p in ["/v/x.urlset/manifest", "/v/x,.mp4.urlset/manifest"] {
        assert_eq!(
            err(p),
            UrlError::Syntax("urlset needs prefix,member,…,suffix"),
            "{p}"
        );
    }
    assert_eq!(
        err("/v/,,,.urlset/manifest"),
        UrlError::Syntax("empty urlset member")
    );
    assert_eq!(
        err("/v/.,.,.urlset/manifest"),
        UrlError::Path("path escapes origin")
    );
    assert_eq!(
        err("/v/,..,.urlset/manifest"),
        UrlError::Path("path escapes origin")
    );
    // Members cannot reach into other directories.
    assert!(parse("/v/,a/b.mp4,.urlset/manifest", None).is_err());
    assert_eq!(
        err("/v/,a%2Fb.mp4,.urlset/manifest"),
        UrlError::Path("encoded slash in path")
    );
    // Hundreds of commas do not allocate hundreds of members.
    let p = format!("/v/x{}.urlset/manifest", ",".repeat(1500));
    assert!(parse(&p, None).is_err());
}

/// Only media files are packaged: a bare asset and every urlset member
/// need a media extension; anything else is not an asset (404) or a
/// refused urlset (400, without echoing the name).
#[test]
fn media_extensions_only() {
    for ext in MEDIA_EXTENSIONS {
        let p = format!("/d/x{}/manifest", ext.to_ascii_uppercase());
        assert!(matches!(stream(&p).asset, Asset::Mp4 { .. }), "{p}");
        let p = format!("/d/x,a,b,{ext}.urlset/manifest");
        assert!(matches!(stream(&p).asset, Asset::UrlSet { .. }), "{p}");
    }
    for p in [
        "/d/x.json/manifest",
        "/d/x.m4s/manifest",
        "/d/x.ismc/manifest",
        "/d/x.mp4.txt/manifest",
        "/d/x.ismt/manifest",
        "/d/x/manifest",
    ] {
        assert_eq!(err(p), UrlError::NotFound, "{p}");
    }
    for p in [
        "/d/,secrets.json,.urlset/manifest",
        "/d/x,1,2,.urlset/manifest",
        "/d/,a.mp4,b.ism,.urlset/manifest",
        "/d/,a.mp4,.mp4.bak,.urlset/manifest",
    ] {
        assert_eq!(err(p), UrlError::NotMedia, "{p}");
        assert_eq!(UrlError::NotMedia.http_status(), 400);
        assert!(!UrlError::NotMedia.to_string().contains("secrets"));
    }
    assert!(is_media_file("a/b/c.CMFV"));
    assert!(!is_media_file("a/b/.mp4"));
    assert!(!is_media_file("a.mp4/b"));
}

/// A urlset member stays in the urlset's folder: it cannot hold a `/`
/// (raw or encoded), be `.`/`..`, or climb with `..` once the prefix and
/// suffix are added.
#[test]
fn urlset_members_stay_in_their_folder() {
    for p in [
        "/v/,../x.mp4,.urlset/manifest",
        "/v/..,/x.mp4,.urlset/manifest",
        "/v/,%2e%2e%2fx.mp4,.urlset/manifest",
        "/v/,..%2Fx.mp4,.urlset/manifest",
        "/v/,..%5Cx.mp4,.urlset/manifest",
        "/v/,%2Fetc%2Fx.mp4,.urlset/manifest",
        "/v/.,.,.urlset/manifest",
    ] {
        assert!(parse(p, None).is_err(), "{p}");
    }
    // `..` inside a member name is just part of a file name.
    let s = stream("/v/x,..a,.mp4.urlset/manifest");
    assert_eq!(
        s.asset,
        Asset::UrlSet {
            paths: vec!["v/x..a.mp4".into()]
        }
    );
}
