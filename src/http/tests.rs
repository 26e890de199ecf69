use super::conditional::{matches, none_match, same_version};
use super::range::{ask, RangeAsk};
use super::*;

#[test]
fn single_ranges() {
    let r = |h: &str| ask(Some(h), 1000);
    assert_eq!(ask(None, 1000), RangeAsk::Whole);
    assert_eq!(r("bytes=0-99"), RangeAsk::Part(0, 100));
    assert_eq!(r("bytes=900-"), RangeAsk::Part(900, 1000));
    assert_eq!(r("bytes=-100"), RangeAsk::Part(900, 1000));
    assert_eq!(r("bytes=-5000"), RangeAsk::Part(0, 1000));
    assert_eq!(r("bytes=500-99999"), RangeAsk::Part(500, 1000));
    assert_eq!(r("BYTES=1-1"), RangeAsk::Part(1, 2));
    assert_eq!(
        r("bytes=0-99999999999999999999999"),
        RangeAsk::Part(0, 1000)
    );
}

/// RFC 9110 §14.2: a Range the server does not understand or that is
/// invalid is ignored (whole body, 200), not refused.
#[test]
fn invalid_ranges_are_ignored() {
    for h in [
        "bytes=5-3",
        "bytes=abc",
        "bytes=1-x",
        "bytes=-",
        "bytes=--5",
        "items=0-5",
        "bytes 0-5",
        "bytes=0-1,4-5",
        "bytes=+1-5",
        "",
    ] {
        assert_eq!(ask(Some(h), 1000), RangeAsk::Whole, "{h:?}");
    }
}

/// Only a valid range that selects nothing is unsatisfiable (§15.5.17).
#[test]
fn unsatisfiable_ranges() {
    assert_eq!(ask(Some("bytes=1000-"), 1000), RangeAsk::Unsatisfiable);
    assert_eq!(ask(Some("bytes=5000-6000"), 1000), RangeAsk::Unsatisfiable);
    assert_eq!(ask(Some("bytes=-0"), 1000), RangeAsk::Unsatisfiable);
    assert_eq!(ask(Some("bytes=0-"), 0), RangeAsk::Unsatisfiable);
    assert_eq!(ask(Some("bytes=-10"), 0), RangeAsk::Unsatisfiable);
}

#[test]
fn entity_tag_comparison() {
    // Weak comparison for If-None-Match (§8.8.3.2).
    assert!(none_match("\"a\"", "\"a\""));
    assert!(none_match("W/\"a\"", "\"a\""));
    assert!(none_match("\"x\", W/\"a\"", "W/\"a\""));
    assert!(none_match("*", "\"a\""));
    assert!(!none_match("\"b\"", "\"a\""));
    assert!(!none_match("a", "\"a\""), "unquoted is malformed");
    // Strong comparison for If-Match.
    assert!(matches("\"a\"", "\"a\""));
    assert!(matches("*", "W/\"a\""));
    assert!(!matches("W/\"a\"", "\"a\""));
    assert!(!matches("\"a\"", "W/\"a\""));
    assert!(!matches("\"b\", \"c\"", "\"a\""));
    // Re-reading an object: weak tags still identify a version.
    assert!(same_version("W/\"a\"", "\"a\""));
    assert!(!same_version("W/\"a\"", "W/\"b\""));
}

fn req(range: Option<&str>, inm: Option<&str>, head: bool) -> RequestHead {
    RequestHead {
        head,
        range: range.map(str::to_string),
        if_none_match: inm.map(str::to_string),
    }
}

#[test]
fn whole_partial_not_modified_and_head() {
    let p = Policy::default();
    let d = for_body(
        &req(None, None, false),
        &p,
        "video/mp4",
        1000,
        "\"t\"",
        true,
    );
    assert_eq!(d.head.status, 200);
    assert_eq!(d.body, Some((0, 1000)));
    assert_eq!(d.head.get("content-length"), Some("1000"));
    assert_eq!(d.head.get("cache-control"), Some(IMMUTABLE));
    assert_eq!(d.head.get("etag"), Some("\"t\""));
    assert_eq!(d.head.get("accept-ranges"), Some("bytes"));
    assert_eq!(d.head.get("access-control-allow-origin"), Some("*"));
    assert!(d
        .head
        .get("access-control-expose-headers")
        .is_some_and(|v| v.contains("Content-Range")));

    let d = for_body(
        &req(Some("bytes=10-19"), None, false),
        &p,
        "video/mp4",
        1000,
        "\"t\"",
        true,
    );
    assert_eq!(d.head.status, 206);
    assert_eq!(d.body, Some((10, 20)));
    assert_eq!(d.head.get("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(d.head.get("content-length"), Some("10"));

    // Invalid range: ignored, whole body.
    let d = for_body(
        &req(Some("bytes=9-3"), None, false),
        &p,
        "video/mp4",
        1000,
        "\"t\"",
        true,
    );
    assert_eq!((d.head.status, d.body), (200, Some((0, 1000))));

    let d = for_body(
        &req(Some("bytes=2000-"), None, false),
        &p,
        "video/mp4",
        1000,
        "\"t\"",
        true,
    );
    assert_eq!((d.head.status, d.body), (416, None));
    assert_eq!(d.head.get("content-range"), Some("bytes */1000"));
    assert_eq!(d.head.get("cache-control"), Some("no-store"));

    // If-None-Match wins over Range (§13.2.2).
    let d = for_body(
        &req(Some("bytes=0-1"), Some("W/\"t\""), false),
        &p,
        "application/dash+xml",
        1000,
        "\"t\"",
        false,
    );
    assert_eq!((d.head.status, d.body), (304, None));
    assert_eq!(d.head.get("cache-control"), Some("public, max-age=60"));
    assert_eq!(d.head.get("content-type"), None);

    let d = for_body(&req(None, None, true), &p, "video/mp4", 1000, "\"t\"", true);
    assert_eq!((d.head.status, d.body), (200, None));
    assert_eq!(d.head.get("content-length"), Some("1000"));
}

#[test]
fn cors_policy() {
    let none = Policy {
        cors_origin: String::new(),
        ..Policy::default()
    };
    let d = for_generated(&RequestHead::default(), &none, "text/plain", b"x", false);
    assert!(d.head.get("access-control-allow-origin").is_none());
    assert!(d.head.get("vary").is_none());
    assert_eq!(preflight_head(&none).headers, vec![nosniff()]);
    let one = Policy {
        cors_origin: "https://player.example".into(),
        ..Policy::default()
    }
    .for_request_origin(Some("https://player.example"));
    let pf = preflight_head(&one);
    assert_eq!(pf.status, 204);
    assert_eq!(pf.get("vary"), Some("Origin"));
    assert_eq!(
        pf.get("access-control-allow-origin"),
        Some("https://player.example")
    );
    assert!(pf
        .get("access-control-allow-headers")
        .is_some_and(|v| v.contains("Range")));
    // `*` is the same for everyone: no Vary.
    let any = Policy::default().for_request_origin(Some("https://x.example"));
    let h = ResponseHead::new(200, &any);
    assert_eq!(h.get("access-control-allow-origin"), Some("*"));
    assert!(h.get("vary").is_none());
}

fn listed(origin: Option<&str>) -> Policy {
    Policy {
        cors_origin: " https://a.example/ ,https://B.example:8443,null".into(),
        ..Policy::default()
    }
    .for_request_origin(origin)
}

/// An allow-list echoes a listed Origin (as the request spelled it,
/// matched case-insensitively), sends no ACAO otherwise, and always
/// `Vary: Origin`, on every kind of answer.
#[test]
fn cors_allow_list() {
    for (origin, echo) in [
        (Some("https://a.example"), Some("https://a.example")),
        (
            Some("https://b.example:8443"),
            Some("https://b.example:8443"),
        ),
        (Some("HTTPS://A.EXAMPLE"), Some("HTTPS://A.EXAMPLE")),
        (Some("https://a.example:443"), None),
        (Some("https://b.example"), None),
        (Some("http://a.example"), None),
        (Some("https://a.example.evil"), None),
        (Some("https://evil.example"), None),
        (Some("null"), None),
        (Some("https://a.example, https://evil"), None),
        (
            Some(
                "https://a.example
x: y",
            ),
            None,
        ),
        (None, None),
    ] {
        let p = listed(origin);
        let heads = [
            ResponseHead::new(200, &p),
            preflight_head(&p),
            error_head(&p, 403, "token required").0,
            for_generated(&RequestHead::default(), &p, "text/plain", b"x", false).head,
            for_body(&RequestHead::default(), &p, "video/mp4", 9, "\"t\"", true).head,
        ];
        for h in heads {
            assert_eq!(h.get("access-control-allow-origin"), echo, "{origin:?}");
            assert_eq!(h.get("vary"), Some("Origin"), "{origin:?}");
            assert_eq!(
                h.get("access-control-expose-headers").is_some(),
                echo.is_some()
            );
            assert_eq!(h.status == 204 && echo.is_some(), {
                h.get("access-control-allow-methods").is_some()
            });
        }
    }
    // A `*` anywhere in the list means any origin.
    let p = Policy {
        cors_origin: "https://a.example, *".into(),
        ..Policy::default()
    }
    .for_request_origin(Some("https://z.example"));
    assert_eq!(
        ResponseHead::new(200, &p).get("access-control-allow-origin"),
        Some("*")
    );
    // Only commas and spaces: CORS off.
    assert_eq!(
        cors::allow(" , ", Some("https://a.example")),
        cors::Allow::Off
    );
}

fn nosniff() -> (&'static str, String) {
    (NOSNIFF.0, NOSNIFF.1.to_string())
}

/// `X-Content-Type-Options: nosniff` on every head the core builds.
#[test]
fn nosniff_everywhere() {
    for p in [
        Policy::default(),
        listed(None),
        listed(Some("https://a.example")),
    ] {
        let req = RequestHead::default();
        let ranged = RequestHead {
            range: Some("bytes=5000-".into()),
            ..RequestHead::default()
        };
        let revalidate = RequestHead {
            if_none_match: Some("*".into()),
            ..RequestHead::default()
        };
        let heads = [
            ResponseHead::new(200, &p),
            preflight_head(&p),
            error_head(&p, 404, "not found").0,
            for_generated(&req, &p, "application/vnd.apple.mpegurl", b"#", false).head,
            for_body(&req, &p, "video/mp4", 9, "\"t\"", true).head,
            for_body(&ranged, &p, "video/mp4", 9, "\"t\"", true).head,
            for_body(&revalidate, &p, "video/mp4", 9, "\"t\"", true).head,
        ];
        for h in heads {
            assert_eq!(h.get("x-content-type-options"), Some("nosniff"), "{h:?}");
            let n = h
                .headers
                .iter()
                .filter(|(n, _)| *n == "x-content-type-options")
                .count();
            assert_eq!(n, 1);
        }
    }
}

#[test]
fn errors_are_short_and_uncached() {
    let (h, body) = error_head(&Policy::default(), 502, "origin refused");
    assert_eq!(h.status, 502);
    assert_eq!(body, "origin refused\n");
    assert_eq!(h.get("cache-control"), Some("no-store"));
    assert_eq!(h.get("content-length"), Some("15"));
}

#[test]
fn etags_follow_bytes() {
    assert_eq!(etag::of_body(b"abc"), etag::of_body(b"abc"));
    assert_ne!(etag::of_body(b"abc"), etag::of_body(b"abd"));
    assert_ne!(
        etag::of_segment("\"v1\"", b"h"),
        etag::of_segment("\"v2\"", b"h")
    );
    assert!(etag::of_body(b"").starts_with('"'));
}

#[test]
fn private_bodies_are_never_cached_or_validated() {
    let p = Policy::default();
    let req = RequestHead {
        head: false,
        range: Some("bytes=0-3".into()),
        if_none_match: Some("*".into()),
    };
    let d = for_private(&req, &p, "application/octet-stream", 16);
    // No 304 (no validator to match) and no 206: the whole key.
    assert_eq!((d.head.status, d.body), (200, Some((0, 16))));
    assert_eq!(d.head.get("cache-control"), Some("private, no-store"));
    assert_eq!(d.head.get("content-length"), Some("16"));
    assert_eq!(d.head.get("etag"), None);
    assert_eq!(d.head.get("accept-ranges"), None);
    assert_eq!(d.head.get("x-content-type-options"), Some("nosniff"));
    let head = RequestHead {
        head: true,
        ..RequestHead::default()
    };
    assert_eq!(
        for_private(&head, &p, "application/octet-stream", 16).body,
        None
    );
}

#[test]
fn server_timing_names_state_total_and_cache_in_milliseconds() {
    use std::time::Duration;
    assert_eq!(
        super::server_timing("hit", Duration::from_micros(41), Duration::from_micros(30)),
        "edgepack;desc=\"hit\";dur=0.041, cache;dur=0.030"
    );
    assert_eq!(
        super::server_timing("packaged", Duration::from_millis(1234), Duration::ZERO),
        "edgepack;desc=\"packaged\";dur=1234.000, cache;dur=0.000"
    );
}
