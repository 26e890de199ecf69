use super::*;
use crate::service::{materialize, serve, Config};
use crate::source::{FileOrigin, MemoryCache};
use crate::url::Format;
use std::collections::HashMap;
use std::path::Path;

const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const LOC: &str = "6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
const NOW: u64 = 1_700_000_000;
const EXP: u64 = NOW + 3600;

fn answer(e: Entry) -> (u16, String) {
    match e {
        Entry::Answer(h, b) => (h.status, b),
        other => panic!("not an answer: {other:?}"),
    }
}

fn get(path: &str, a: &Access) -> Entry {
    entry("GET", path, None, &Policy::default(), a, NOW)
}

fn stream(path: &str, a: &Access) -> StreamRequest {
    match get(path, a) {
        Entry::Stream(s) => s,
        other => panic!("{path}: {other:?}"),
    }
}

/// Token required, one key, `abr` reachable through a locator too.
fn guarded(extra: &[(&str, &str)]) -> Access {
    let locators = format!(r#"{{"{LOC}":"abr"}}"#);
    let mut config: HashMap<&str, &str> =
        [("token_required", "on"), ("locators", locators.as_str())].into();
    config.extend(extra.iter().copied());
    Access::from_lookups(
        |k| config.get(k).map(|v| v.to_string()),
        |k| (k == "token_keys").then(|| format!("k1:{KEY_B64}")),
    )
}

fn sign(path: &str) -> String {
    let key: Vec<u8> = (0u8..32).collect();
    crate::token::mint("k1", &key, EXP, path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn methods_and_routes() {
    let p = Policy::default();
    let a = Access::default();
    assert_eq!(answer(entry("OPTIONS", "/x", None, &p, &a, NOW)).0, 204);
    assert_eq!(answer(entry("POST", "/health", None, &p, &a, NOW)).0, 405);
    assert_eq!(answer(get("/health", &a)), (200, "ok\n".into()));
    assert_eq!(
        answer(entry("HEAD", "/health", None, &p, &a, NOW)),
        (200, String::new())
    );
    assert!(matches!(get("/player", &a), Entry::Proxy(p) if p == "_player/index.html"));
    assert!(matches!(
        get("/abr/abr.ism/manifest(format=m3u8-cmaf)", &a),
        Entry::Stream(_)
    ));
    let (status, body) = answer(get("/nothing-here", &a));
    assert!(status >= 400 && body.ends_with('\n'), "{status} {body}");
    assert_eq!(answer(get("/player/assets/.x", &a)).0, 400);
}

/// With tokens required the public routes stay public, a preflight needs
/// none, and every stream refusal is a 403 with its reason, which never
/// quotes the token.
#[test]
fn tokens_through_entry() {
    let a = guarded(&[]);
    let p = Policy::default();
    assert_eq!(answer(get("/health", &a)).0, 200);
    assert!(matches!(get("/player/assets/app.js", &a), Entry::Proxy(_)));
    assert_eq!(
        answer(entry("OPTIONS", "/abr/abr.ism/manifest", None, &p, &a, NOW)).0,
        204
    );
    let good = sign("/abr/abr.ism/manifest(format=m3u8-cmaf)");
    let s = stream(&good, &a);
    assert_eq!(
        s.asset,
        crate::url::Asset::Ism {
            path: "abr/abr.ism".into()
        }
    );
    // The query (options) is outside the scope.
    assert!(matches!(
        entry("GET", &good, Some("format=m3u8-cmaf"), &p, &a, NOW),
        Entry::Stream(_)
    ));
    let other = good.replace("/abr/abr.ism/", "/abr/x.ism/");
    let unknown = good.replacen("tk.k1.", "tk.k2.", 1);
    let malformed = good.replacen("tk.k1.", "tk.k1..", 1);
    for (path, now, reason) in [
        ("/abr/abr.ism/manifest", NOW, "token required"),
        ("/nothing-here", NOW, "token required"),
        (good.as_str(), EXP, "token expired"),
        (good.as_str(), EXP + 1, "token expired"),
        (other.as_str(), NOW, "token not valid"),
        (unknown.as_str(), NOW, "unknown token key"),
        (malformed.as_str(), NOW, "malformed token"),
    ] {
        for method in ["GET", "HEAD"] {
            let e = entry(method, path, None, &p, &a, now);
            let Entry::Answer(h, body) = e else {
                panic!("{path}: {e:?}")
            };
            assert_eq!(h.status, 403, "{path}");
            assert_eq!(h.get("cache-control"), Some("no-store"));
            assert_eq!(h.get("x-content-type-options"), Some("nosniff"));
            let want = if method == "GET" {
                format!("{reason}\n")
            } else {
                String::new()
            };
            assert_eq!(body, want, "{path}");
            assert!(h.headers.iter().all(|(_, v)| !v.contains("tk.")));
        }
    }
    // A token on a public route is not a route.
    let t = crate::token::split(&good).0.unwrap_or_default();
    assert_eq!(answer(get(&format!("/{t}/health"), &a)).0, 404);
    assert_eq!(answer(get(&format!("/{t}/player"), &a)).0, 404);
    // A grammar error after a good token is the grammar's answer, without
    // the token.
    let (status, body) = answer(get(&format!("/{t}/abr/abr.ism/manifest(format=nope)"), &a));
    assert_eq!(status, 400);
    assert!(!body.contains("tk."), "{body}");
}

/// Asset A's token does not open asset B, in any position.
#[test]
fn token_of_one_asset_on_another() {
    let a = guarded(&[]);
    let good = sign("/abr/abr.ism/manifest");
    let t = crate::token::split(&good).0.unwrap_or_default();
    for b in [
        "/multilang/multilang.ism/manifest",
        "/abr/video_720.mp4/manifest",
        "/abr/,video_720,video_360,.mp4.urlset/manifest",
        "/abr.ism/manifest",
        "/x/abr/abr.ism/manifest",
    ] {
        let (status, body) = answer(get(&format!("/{t}{b}"), &a));
        assert_eq!((status, body.as_str()), (403, "token not valid\n"), "{b}");
    }
}

#[test]
fn locators_through_entry() {
    let a = guarded(&[]);
    let url = format!("/{LOC}/abr.ism/manifest(format=mpd-time-cmaf)");
    let s = stream(&sign(&url), &a);
    assert_eq!(
        s.asset,
        crate::url::Asset::Ism {
            path: "abr/abr.ism".into()
        }
    );
    let miss = sign("/00000000-0000-0000-0000-000000000000/abr.ism/manifest");
    assert_eq!(answer(get(&miss, &a)), (404, "unknown locator\n".into()));
    // The token names the locator, not the container it maps to.
    let direct = sign("/abr/abr.ism/manifest");
    let t = crate::token::split(&direct).0.unwrap_or_default();
    let (status, _) = answer(get(&format!("/{t}/{LOC}/abr.ism/manifest"), &a));
    assert_eq!(status, 403);
}

/// Outside the allowed prefixes, a request gets exactly what a missing
/// object gets: existence does not leak.
#[test]
fn prefixes_answer_as_missing_objects() {
    let a = guarded(&[("allowed_prefixes", "abr/")]);
    assert!(matches!(
        get(&sign("/abr/abr.ism/manifest"), &a),
        Entry::Stream(_)
    ));
    let outside = "/multilang/multilang.ism/manifest";
    let refused = answer(get(&sign(outside), &a));
    let open = Access::default();
    let req = stream("/nothing/multilang.ism/manifest", &open);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media");
    let mut origin = FileOrigin::new(root);
    let missing = serve(
        &req,
        &mut origin,
        &mut MemoryCache::default(),
        &Config::default(),
    )
    .err()
    .map(|e| {
        (
            e.status(),
            format!("{e}\n").replace("nothing/", "multilang/"),
        )
    });
    assert_eq!(Some(refused), missing);
    // Urlset members and bare files alike.
    let set = sign("/abr/,video_720,video_360,.mp4.urlset/manifest");
    assert!(matches!(get(&set, &a), Entry::Stream(_)));
    assert_eq!(answer(get(&sign("/multilang.mp4/manifest"), &a)).0, 404);
}

/// Non-media objects are never packaged: not as a bare asset, not as a
/// urlset member (`.ism` members: `input::ism::resolve`).
#[test]
fn media_only() {
    let a = Access::default();
    assert_eq!(
        answer(get("/abr/,secret.json,.urlset/manifest", &a)),
        (400, "urlset members must be media files\n".into())
    );
    assert_eq!(answer(get("/abr/abr.ism.bak/manifest", &a)).0, 404);
    assert_eq!(answer(get("/abr/notes.txt/manifest", &a)).0, 404);
    assert!(matches!(
        get("/abr/video_720.mp4/manifest", &a),
        Entry::Stream(_)
    ));
}

/// The URLs a manifest names: HLS URI lines and `URI="…"` attributes,
/// DASH `SegmentTemplate` patterns and `BaseURL`s, Smooth `Url` patterns,
/// with template variables filled in.
fn child_refs(body: &str, hls: bool) -> Vec<String> {
    let mut out = Vec::new();
    for line in body.lines().map(str::trim) {
        if hls && !line.is_empty() && !line.starts_with('#') {
            out.push(line.to_string());
        }
        for (open, close) in [
            ("URI=\"", "\""),
            (" media=\"", "\""),
            ("initialization=\"", "\""),
            (" Url=\"", "\""),
            ("<BaseURL>", "</BaseURL>"),
        ] {
            let mut rest = line;
            while let Some(i) = rest.find(open) {
                let after = &rest[i + open.len()..];
                let end = after.find(close).expect("closed");
                out.push(after[..end].replace("&amp;", "&"));
                rest = &after[end..];
            }
        }
    }
    out.iter()
        .map(|r| {
            r.replace("$Bandwidth$", "500000")
                .replace("$Time$", "0")
                .replace("$Number$", "1")
                .replace("$RepresentationID$", "video")
                .replace("{bitrate}", "500000")
                .replace("{start time}", "0")
        })
        .collect()
}

/// RFC 3986 §5.2 for the references a manifest may hold: a
/// relative-path reference, resolved against the manifest's folder. Every
/// other kind (absolute path, network path, scheme, dot segments) would
/// drop or escape the token, so it fails the test.
fn resolve(base: &str, reference: &str) -> Result<String, String> {
    let path_part = reference.split(['?', '#']).next().unwrap_or_default();
    let first = path_part.split('/').next().unwrap_or_default();
    if reference.is_empty() {
        return Err(format!("empty reference in {base}"));
    }
    if reference.starts_with('/') {
        return Err(format!("{reference} is not relative"));
    }
    if first.contains(':') {
        return Err(format!("{reference} has a scheme"));
    }
    if path_part.split('/').any(|s| s == "." || s == "..") {
        return Err(format!("{reference} has dot segments"));
    }
    let slash = base.rfind('/').ok_or("relative base")?;
    Ok(format!("{}{reference}", &base[..=slash]))
}

/// A configuration with a key seed, so `encryption=cbc` manifests answer.
fn keyed() -> Config {
    Config {
        keys: crate::crypto::KeySetting::from_secret(|_| Some(KEY_B64.to_string())),
        ..Config::default()
    }
}

fn body_of(req: &StreamRequest, origin: &mut FileOrigin, cache: &mut MemoryCache) -> String {
    let cfg = keyed();
    let out = serve(req, origin, cache, &cfg).unwrap_or_else(|e| panic!("{req:?}: {e}"));
    let parts = materialize(&out, origin, &cfg).unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(parts.concat()).expect("text manifest")
}

/// Resolves every child of the manifest at `url` (a signed path), checks
/// it keeps the token and is let through for the same asset, and walks
/// into HLS media playlists. Returns the number of children checked.
fn walk(
    url: &str,
    a: &Access,
    origin: &mut FileOrigin,
    cache: &mut MemoryCache,
    depth: u32,
) -> usize {
    let token = crate::token::split(url).0.expect("signed");
    let req = stream(url, a);
    let body = body_of(&req, origin, cache);
    let hls = body.starts_with("#EXTM3U");
    let refs = child_refs(&body, hls);
    assert!(!refs.is_empty(), "{url} names no children:\n{body}");
    let mut checked = 0;
    for r in refs {
        let child = resolve(url, &r).unwrap_or_else(|e| panic!("{e}"));
        assert!(child.starts_with(&format!("/{token}/")), "{child}");
        let (path, query) = match child.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (child.as_str(), None),
        };
        let e = entry("GET", path, query, &Policy::default(), a, NOW);
        let Entry::Stream(c) = e else {
            panic!("{child} (from {url}): {e:?}")
        };
        assert_eq!(c.asset, req.asset, "{child}");
        checked += 1;
        let playlist = matches!(c.resource, crate::url::Resource::MediaPlaylist { .. });
        if playlist && depth == 0 {
            checked += walk(&child, a, origin, cache, 1);
        }
    }
    checked
}

/// Every child URL of a signed manifest (HLS multivariant → media
/// playlists → init and media segments; DASH templates; Smooth fragment
/// patterns) is relative, keeps the token, and verifies for the same
/// asset; also when the manifest is addressed by an Azure locator.
#[test]
fn children_of_signed_manifests_carry_the_token() {
    let a = guarded(&[("allowed_prefixes", "abr/")]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media");
    let mut origin = FileOrigin::new(root);
    let mut cache = MemoryCache::default();
    for format in [
        Format::HlsCmaf,
        Format::HlsTs,
        Format::DashCmaf,
        Format::DashCsf,
        Format::Smooth,
    ] {
        let manifest = crate::url::manifest_url(format);
        for asset in ["abr/abr.ism".to_string(), format!("{LOC}/abr.ism")] {
            let url = sign(&format!("/{asset}/{manifest}"));
            let n = walk(&url, &a, &mut origin, &mut cache, 0);
            assert!(n >= 2, "{url}: {n}");
        }
    }
    // Encrypted: the key URLs of the media playlists too.
    for asset in ["abr/abr.ism".to_string(), format!("{LOC}/abr.ism")] {
        let url = sign(&format!(
            "/{asset}/manifest(format=m3u8-aapl,encryption=cbc).m3u8"
        ));
        let n = walk(&url, &a, &mut origin, &mut cache, 0);
        assert!(n >= 4, "{url}: {n}");
    }
}

/// A key URL is a stream request like any other: without a token it is
/// refused when tokens are required, with the manifest's token it is let
/// through, and a locator URL names the very asset (so the same key) as
/// the direct URL.
#[test]
fn key_urls_are_guarded_and_keyed_by_asset() {
    let a = guarded(&[]);
    let direct = "/abr/abr.ism/QualityLevels(1)/Key(encryption=cbc)";
    assert_eq!(answer(get(direct, &a)).0, 403);
    let by_locator = format!("/{LOC}/abr.ism/QualityLevels(1)/Key(encryption=cbc)");
    assert_eq!(answer(get(&by_locator, &a)).0, 403);
    let s1 = stream(&sign(direct), &a);
    let s2 = stream(&sign(&by_locator), &a);
    assert_eq!(s1.resource, crate::url::Resource::Key);
    let cfg = keyed();
    let k1 = crate::service::key_output(&s1, &cfg.keys).unwrap();
    let k2 = crate::service::key_output(&s2, &cfg.keys).unwrap();
    let (
        crate::service::Output::Key { body: b1, .. },
        crate::service::Output::Key { body: b2, .. },
    ) = (k1, k2)
    else {
        panic!()
    };
    assert_eq!((b1.len(), &b1), (16, &b2));
    // A token of another asset does not open this key.
    let other = sign("/abr/other.ism/manifest");
    let t = crate::token::split(&other).0.unwrap_or_default();
    assert_eq!(answer(get(&format!("/{t}{direct}"), &a)).0, 403);
}

#[test]
fn resolve_refuses_references_that_drop_the_token() {
    let base = "/tk.k.1.s/a/x.ism/manifest";
    assert_eq!(
        resolve(base, "QualityLevels(1)/Manifest(v)").as_deref(),
        Ok("/tk.k.1.s/a/x.ism/QualityLevels(1)/Manifest(v)")
    );
    for bad in [
        "/x.ism/manifest",
        "//host/x",
        "https://host/x",
        "../x.ism/manifest",
        "QualityLevels(1)/../../x",
        "./x",
        "",
    ] {
        assert!(resolve(base, bad).is_err(), "{bad}");
    }
}
