use super::*;
use crate::url::testutil::err;
use crate::url::{parse, Asset, Route};

// --- hostile paths ------------------------------------------------------

#[test]
fn traversal_in_every_encoding() {
    let escapes = [
        "/../x.mp4/manifest",
        "/a/../../x.mp4/manifest",
        "/a/./x.mp4/manifest",
        "/%2e%2e/x.mp4/manifest",
        "/%2E%2E/x.mp4/manifest",
        "/.%2e/x.mp4/manifest",
        "/%2e./x.mp4/manifest",
        "/%2e/x.mp4/manifest",
        "/a/x.mp4/../manifest",
    ];
    for p in escapes {
        assert_eq!(err(p), UrlError::Path("path escapes origin"), "{p}");
    }
    let cases = [
        ("/%2e%2e%2fx.mp4/manifest", "encoded slash in path"),
        ("/a%2F..%2Fb/x.mp4/manifest", "encoded slash in path"),
        ("/a%2f/x.mp4/manifest", "encoded slash in path"),
        ("/%252e%252e/x.mp4/manifest", "double-encoded path"),
        ("/%25/x.mp4/manifest", "double-encoded path"),
        ("/..%5c..%5cx.mp4/manifest", "backslash in path"),
        ("/..\\x.mp4/manifest", "backslash in path"),
        ("/a%00/x.mp4/manifest", "NUL in path"),
        ("/a\0/x.mp4/manifest", "NUL in path"),
        (
            "/a%0d%0aSet-Cookie:x/x.mp4/manifest",
            "control character in path",
        ),
        ("/a%7f/x.mp4/manifest", "control character in path"),
        ("/a%c2%85/x.mp4/manifest", "control character in path"),
        ("/a%3f/x.mp4/manifest", "encoded '?' or '#' in path"),
        ("/a%23/x.mp4/manifest", "encoded '?' or '#' in path"),
        ("/%c0%ae%c0%ae/x.mp4/manifest", "path is not valid UTF-8"),
        ("/%ff/x.mp4/manifest", "path is not valid UTF-8"),
        ("/%e2%82/x.mp4/manifest", "path is not valid UTF-8"),
        ("/%/x.mp4/manifest", "invalid percent-encoding"),
        ("/%2/x.mp4/manifest", "invalid percent-encoding"),
        ("/%zz/x.mp4/manifest", "invalid percent-encoding"),
        ("/%%32%65/x.mp4/manifest", "invalid percent-encoding"),
        ("//x.mp4/manifest", "empty path segment"),
        ("/a//x.mp4/manifest", "empty path segment"),
        ("/a/x.mp4//manifest", "empty path segment"),
        ("/a/x.mp4/manifest/", "empty path segment"),
        ("x.mp4/manifest", "path must start with '/'"),
        ("", "path must start with '/'"),
    ];
    for (p, reason) in cases {
        assert_eq!(err(p), UrlError::Path(reason), "{p}");
        assert_eq!(err(p).to_string(), reason);
    }
}

#[test]
fn object_paths_never_escape() {
    // Whatever is accepted: no leading slash, no dot or empty segments,
    // no backslash or percent sign.
    let inputs = [
        "/a/b.mp4/manifest",
        "/%E2%80%AE/b.mp4/manifest",
        "/\u{FF0E}\u{FF0E}/b.mp4/manifest",
        "/...//b.mp4/manifest",
        "/.../b.mp4/manifest",
        "/..a/b.mp4/manifest",
        "/a../b.mp4/manifest",
        "/v/,...,.urlset/manifest",
    ];
    for p in inputs {
        let paths = match parse(p, None) {
            Ok(Route::Stream(s)) => match s.asset {
                Asset::Ism { path } | Asset::Mp4 { path } => vec![path],
                Asset::UrlSet { paths } => paths,
            },
            _ => continue,
        };
        for path in paths {
            assert!(!path.starts_with('/'), "{p} -> {path}");
            assert!(!path.contains(['\\', '%']), "{p} -> {path}");
            for seg in path.split('/') {
                assert!(!matches!(seg, "" | "." | ".."), "{p} -> {path}");
            }
        }
    }
}

/// Cheap deterministic fuzz: mutated valid URLs never panic, and any
/// accepted object path stays inside the origin.
#[test]
fn mutations_never_panic() {
    let seeds = [
        "/g/abr.ism/QualityLevels(381048)/Manifest(video,format=m3u8-aapl,type=keyframes)",
        "/d/x,1,2,.mp4.urlset/QualityLevels(1)/Fragments(v=10,format=mpd-time-cmaf)",
        "/a%20b/c.mp4/manifest(format=m3u8-cmaf,filter=a;b).m3u8",
    ];
    let alphabet = [
        "(", ")", "/", "%", "%2e", "%2f", ".", "..", ",", "=", ";", "é", "\0", " ", "9", "%c3", "i",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for seed in seeds {
        for _ in 0..2000 {
            let mut s = seed.to_string();
            for _ in 0..(next() % 4 + 1) {
                let mut at = (next() as usize) % (s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                let piece = alphabet[(next() as usize) % alphabet.len()];
                if next() % 3 == 0 {
                    let mut end = (at + 1).min(s.len());
                    while !s.is_char_boundary(end) {
                        end += 1;
                    }
                    s.replace_range(at..end, "");
                } else {
                    s.insert_str(at, piece);
                }
            }
            if let Ok(Route::Stream(r)) = parse(&s, Some(&s)) {
                let paths = match r.asset {
                    Asset::Ism { path } | Asset::Mp4 { path } => vec![path],
                    Asset::UrlSet { paths } => paths,
                };
                for p in paths {
                    assert!(!p.starts_with('/') && !p.contains('%'), "{s}");
                    assert!(p.split('/').all(|x| !matches!(x, "" | "." | "..")), "{s}");
                }
            }
        }
    }
}
