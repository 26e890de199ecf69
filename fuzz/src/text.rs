//! The checks for the parsers that read text from outside: the `.ism`
//! (origin), the request URL (client), the request and origin-answer
//! headers (client and origin), and the access settings (operator).
//! Besides "no panic", each asserts a promise stated in the crate's docs.

use edgepack::access::Access;
use edgepack::entry::{self, Entry};
use edgepack::http::{conditional, etag, range, Policy};
use edgepack::input::ism::{self, IsmError};
use edgepack::locator::Locators;
use edgepack::source::response::{self, Head};
use edgepack::source::ReadRequest;
use edgepack::token::{self, Keys};
use edgepack::url::{self, Format, Resource, Route, StreamRequest};
use std::sync::OnceLock;

/// The fixed clock of the `url` target (tokens in the seeds expire later).
pub const NOW: u64 = 1_700_000_000;
/// The token key of the `url` target: `k1`, bytes 0..32.
pub const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// A locator GUID the `url` target maps to the container `abr`.
pub const LOCATOR: &str = "6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
/// One that maps to an asset GUID (`asset-…` container).
pub const LOCATOR_ASSET: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";

/// `.ism` bytes → [`ism::parse`] → [`ism::resolve`] of every member. A
/// document that never names `smil` cannot be an `.ism`, and its error
/// must quote nothing of it: no digit at all (issue 13; the rule of
/// `src/input/ism/tests.rs::non_ism_objects_are_not_quoted`). A resolved
/// member stays in the `.ism`'s folder and is a media file.
pub fn ism(data: &[u8]) {
    let parsed = ism::parse(data);
    let names_smil = data.windows(4).any(|w| w.eq_ignore_ascii_case(b"smil"));
    match parsed {
        Err(e) => {
            let shown = e.to_string();
            if matches!(e, IsmError::NotSmil { .. } | IsmError::TooLarge { .. }) || !names_smil {
                assert!(
                    !shown.chars().any(|c| c.is_ascii_digit()),
                    "a non-.ism error quotes digits: {shown}"
                );
            }
        }
        Ok(m) => {
            assert!(names_smil, "an .ism without a smil root was accepted");
            assert!(!m.tracks.is_empty(), "an accepted .ism has tracks");
            assert!(m.tracks.len() <= ism::MAX_TRACKS, "track cap");
            for t in &m.tracks {
                assert!(
                    ism::validate_src(&t.src).is_ok(),
                    "src validated: {}",
                    t.src
                );
                for dir in ["a.ism", "vod/x/a.ism"] {
                    if let Ok(p) = ism::resolve(dir, &t.src) {
                        let folder = &dir[..dir.rfind('/').map_or(0, |i| i + 1)];
                        assert!(p.starts_with(folder), "{p} left {folder}");
                        assert!(url::is_media_file(&p), "{p} is not media");
                    }
                }
            }
        }
    }
}

/// The two deployments a URL is tried against: everything open, and one
/// with token keys, a locator map and allowed prefixes.
fn accesses() -> &'static [Access; 2] {
    static A: OnceLock<[Access; 2]> = OnceLock::new();
    A.get_or_init(|| {
        let locators = format!(r#"{{"{LOCATOR}":"abr","{LOCATOR_ASSET}":"{LOCATOR_ASSET}"}}"#);
        let guarded = Access::from_lookups(
            |k| match k {
                "locators" => Some(locators.clone()),
                "allowed_prefixes" => Some("abr/,asset-,vod/,g/,d/".into()),
                _ => None,
            },
            |k| (k == "token_keys").then(|| format!("k1:{KEY_B64},k2:{KEY_B64}")),
        );
        assert!(guarded.problems.is_empty(), "{:?}", guarded.problems);
        [Access::default(), guarded]
    })
}

/// `path?query` (lossy UTF-8; no `?`: no query) → [`url::parse`] and
/// [`entry::entry`] under both deployments. A `Stream` is only ever the
/// grammar's own reading of the admitted path; every error body is one
/// line; and the links a manifest would write for the request's track
/// and format parse back to the same resource.
pub fn url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (path, query) = match text.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (text.as_ref(), None),
    };
    let _ = url::parse(path, query);
    let policy = Policy::default();
    for access in accesses() {
        for method in ["GET", "HEAD"] {
            match entry::entry(method, path, query, &policy, access, NOW) {
                Entry::Answer(h, body) => {
                    if h.status >= 400 && method == "GET" {
                        assert!(
                            body.ends_with('\n') && body.matches('\n').count() == 1,
                            "error body is not one line: {body:?}"
                        );
                        assert!(!body.contains('\r'), "CR in an error body: {body:?}");
                    }
                }
                Entry::Proxy(p) => assert!(
                    p.split('/').all(|s| !s.is_empty() && !s.starts_with('.')),
                    "proxy path {p}"
                ),
                Entry::Stream(s) => {
                    let admitted = access.admit(path, NOW).expect("a stream was admitted");
                    let again = url::parse(&admitted.path, query);
                    assert_eq!(
                        again,
                        Ok(Route::Stream(s.clone())),
                        "stream is the grammar's"
                    );
                    links_parse_back(&s);
                }
            }
        }
    }
}

fn links_parse_back(s: &StreamRequest) {
    let f = s.options.format;
    let same = |link: String, want: &Resource| {
        for base in ["/g/abr.ism/", "/d/f.mp4/", "/d/x,1,2,.mp4.urlset/"] {
            let u = format!("{base}{link}");
            match url::parse(&u, None) {
                Ok(Route::Stream(back)) => {
                    assert_eq!(&back.resource, want, "{u}");
                    assert_eq!(back.options.format, f, "{u}");
                }
                other => panic!("{u} does not parse back: {other:?}"),
            }
        }
    };
    let want = Resource::Manifest;
    same(url::manifest_url(f), &want);
    let track = match &s.resource {
        // A key or licence URL names no track and links to nothing.
        Resource::Manifest | Resource::Key | Resource::Licence => return,
        Resource::MediaPlaylist { track, .. }
        | Resource::Init { track }
        | Resource::Fragment { track, .. } => track,
    };
    let init = Resource::Init {
        track: track.clone(),
    };
    same(url::init_url(track, f), &init);
    let time = match s.resource {
        Resource::Fragment { time, .. } => time,
        _ => 0,
    };
    let frag = Resource::Fragment {
        track: track.clone(),
        time,
    };
    same(url::fragment_url(track, time, f), &frag);
    if f.is_hls() {
        for keyframes in [false, true] {
            let pl = Resource::MediaPlaylist {
                track: track.clone(),
                keyframes,
            };
            same(url::media_playlist_url(track, f, keyframes), &pl);
        }
    }
    // Every format's links for this track, not only the requested one.
    for g in Format::ALL {
        let u = format!("/g/abr.ism/{}", url::fragment_url(track, time, g));
        assert!(url::parse(&u, None).is_ok(), "{u}");
    }
}

/// Line `i` of `lines`, `None` when there are fewer.
fn line<'a>(lines: &[&'a str], i: usize) -> Option<&'a str> {
    lines.get(i).copied()
}

fn number(s: Option<&str>) -> Option<u64> {
    s.and_then(|v| v.trim().parse().ok())
}

/// Request and origin headers, one value per line (lossy UTF-8; a missing
/// line is an absent header):
///
/// ```text
/// 0 Range            1 representation length   2 If-None-Match / If-Match
/// 3 ETag             4 origin status            5 Content-Range
/// 6 Content-Length   7 origin ETag              8 Last-Modified
/// 9 read start      10 read end                11 read If-Match
/// 12 body length
/// ```
///
/// Asserts: a `Range` part lies inside the representation and is not
/// empty; a tag in an `If-None-Match`/`If-Match` list matches; an origin
/// answer that is accepted and read gives exactly the bytes asked for
/// (cut to the object), from the right offset of the body.
pub fn http(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    request_headers(&lines);
    origin_answer(&lines);
}

fn request_headers(lines: &[&str]) {
    let len = number(line(lines, 1)).unwrap_or(1000);
    let header = line(lines, 0);
    match range::ask(header, len) {
        range::RangeAsk::Part(s, e) => {
            assert!(s < e && e <= len, "{header:?} on {len}: {s}..{e}");
            let cr = range::content_range(s, e, len);
            assert!(cr.starts_with("bytes "), "{cr}");
        }
        range::RangeAsk::Whole => {}
        range::RangeAsk::Unsatisfiable => {
            assert!(header.is_some(), "no Range is never unsatisfiable");
        }
    }
    assert_eq!(range::ask(None, len), range::RangeAsk::Whole);
    let list = line(lines, 2).unwrap_or("");
    let tag = line(lines, 3).unwrap_or("");
    let _ = conditional::none_match(list, tag);
    let _ = conditional::matches(list, tag);
    assert_eq!(
        conditional::same_version(list, tag),
        conditional::same_version(tag, list),
        "same_version is symmetric"
    );
    assert!(
        conditional::same_version(tag, tag),
        "a tag is its own version"
    );
    // Tags as edgepack writes them, appended to an arbitrary list.
    let mine = etag::of_body(list.as_bytes());
    let seg = etag::of_segment(tag, list.as_bytes());
    for t in [&mine, &seg] {
        assert_eq!(t.len(), 18, "{t}");
        let listed = format!("{list}, {t}");
        assert!(conditional::none_match(&listed, t), "{listed:?} lists {t}");
        assert!(conditional::matches(&listed, t), "{listed:?} lists {t}");
        let weak = format!("{list},W/{t}");
        assert!(
            conditional::none_match(&weak, t),
            "{weak:?} weakly lists {t}"
        );
        assert!(conditional::same_version(&format!("W/{t}"), t));
    }
}

fn origin_answer(lines: &[&str]) {
    let status = number(line(lines, 4)).unwrap_or(206).min(999) as u16;
    let h = Head {
        status,
        content_range: line(lines, 5),
        content_length: number(line(lines, 6)),
        etag: line(lines, 7),
        last_modified: line(lines, 8),
    };
    let r = ReadRequest {
        path: "a.mp4".into(),
        start: number(line(lines, 9)).unwrap_or(0),
        end: number(line(lines, 10)).unwrap_or(100),
        if_match: line(lines, 11).map(str::to_string),
        target: edgepack::source::ReadTarget::Origin,
    };
    let _ = r.if_match_header();
    let _ = h.version(h.content_length);
    let Ok(acc) = response::check(&r, &h) else {
        return;
    };
    if status == 206 {
        assert_eq!(acc.first, r.start, "a 206 starts where asked");
        // RFC 9110 §14.4: first-pos <= last-pos < complete-length, or the
        // Content-Range is invalid and its content must not be used.
        let cr = h.content_range.unwrap_or_default();
        let spec = cr.strip_prefix("bytes ").unwrap_or_default();
        let (range, total) = spec.split_once('/').unwrap_or_default();
        let (first, last) = range.split_once('-').unwrap_or_default();
        let (first, last, total) = (
            first.parse::<u64>(),
            last.parse::<u64>(),
            total.parse::<u64>(),
        );
        assert!(
            matches!((&first, &last, &total), (Ok(f), Ok(l), Ok(t)) if f <= l && l < t),
            "accepted an invalid Content-Range {cr:?}"
        );
        assert_eq!(acc.total, total.ok(), "a 206 says the total");
    }
    // The body the origin sent: as long as line 12 says (capped), else
    // what the read needs; byte i is i's low byte, so offsets show.
    let need = acc.body_limit(&r).min(1 << 16);
    let n = number(line(lines, 12)).unwrap_or(need).min(1 << 16);
    let body: Vec<u8> = (0..n).map(|i| (i + acc.first) as u8).collect();
    let Ok(read) = response::read_body(&r, &acc, &body[..]) else {
        return;
    };
    assert!(
        read.len() as u64 <= acc.body_limit(&r),
        "read past the limit"
    );
    let Ok(resp) = response::finish(&r, &acc, "\"v\"", read.clone()) else {
        return;
    };
    let want = r.end.min(resp.total_size).saturating_sub(r.start);
    assert_eq!(resp.data.len() as u64, want, "data is the requested length");
    if let Some(&b) = resp.data.first() {
        assert_eq!(b, r.start as u8, "data starts at the requested offset");
        assert!(r.start < resp.total_size, "data from outside the object");
    }
}

/// Access settings: line 1 → [`Locators::parse`], line 2 →
/// [`Keys::parse`], line 3 → [`token::parse`] and [`token::split`]. The
/// problems of a key list never quote key material; a locator map holds
/// at most its cap and rewrites only a leading GUID segment.
pub fn locator(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let (json, keys, tok) = (
        lines.next().unwrap_or(""),
        lines.next().unwrap_or(""),
        lines.next().unwrap_or(""),
    );
    if let Ok(map) = Locators::parse(json) {
        assert!(map.len() <= edgepack::locator::MAX_LOCATORS);
        for p in ["/abr/x.ism/manifest", "relative", "/"] {
            assert_eq!(map.rewrite(p).ok().as_deref(), Some(p), "{p} rewritten");
        }
        let _ = map.rewrite(tok);
    }
    let (k, problems) = Keys::parse(keys);
    // A problem may name key ids and says why in fixed words; only text
    // that could be key material (16+ base64 characters) that is not also
    // (part of) an id written in the list counts.
    let ids: Vec<&str> = keys
        .split(',')
        .map(|e| e.split_once(':').map_or(e, |(id, _)| id))
        .collect();
    for p in &problems {
        for entry in keys.split(',') {
            if let Some((_, secret)) = entry.split_once(':') {
                let secret = secret.trim();
                let b64 = |c: u8| c.is_ascii_alphanumeric() || b"+/=_-".contains(&c);
                if secret.len() >= 16
                    && secret.bytes().all(b64)
                    && !ids.iter().any(|id| id.contains(secret))
                {
                    assert!(!p.contains(secret), "problem quotes a key: {p}");
                }
            }
        }
    }
    let _ = format!("{k:?}");
    if let Ok(t) = token::parse(tok) {
        assert!(token::is_valid_kid(t.kid), "{}", t.kid);
        assert!(t.exp_text.bytes().all(|b| b.is_ascii_digit()));
        let _ = token::verify(tok, "abr/a.ism", &k, NOW);
    }
    let (seg, rest) = token::split(tok);
    if let Some(seg) = seg {
        assert!(
            seg.starts_with(token::PREFIX) && !seg.contains('/'),
            "{seg}"
        );
        assert!(rest.starts_with('/'), "{rest}");
    }
}

/// WebVTT sidecar bytes (origin) → [`webvtt::parse`]. An accepted file
/// keeps every cap the segmenter relies on (cue count, cue text, ids and
/// settings, times), each cue ends no earlier than it starts, its text has
/// neither an empty line nor `-->` (either would end the cue early in the
/// segments written from it), and the cache record reads back unchanged.
pub fn webvtt(data: &[u8]) {
    use edgepack::input::webvtt::{self, CueList};
    let Ok(list) = webvtt::parse(data) else {
        return;
    };
    assert!(data.len() <= webvtt::MAX_VTT_BYTES, "size cap");
    assert!(list.cues.len() <= webvtt::MAX_CUES, "cue cap");
    for c in &list.cues {
        assert!(c.start_ms <= c.end_ms, "cue ends before it starts");
        assert!(c.text.len() <= webvtt::MAX_CUE_TEXT, "cue text cap");
        assert!(c.id.len() <= webvtt::MAX_CUE_LINE, "cue id cap");
        assert!(c.settings.len() <= webvtt::MAX_CUE_LINE, "settings cap");
        assert!(!c.text.contains("-->"), "--> in cue text");
        assert!(
            !c.text.split('\n').any(str::is_empty) || c.text.is_empty(),
            "an empty line inside cue text: {:?}",
            c.text
        );
        let mut shown = String::new();
        webvtt::write_timestamp(&mut shown, c.start_ms);
        assert_eq!(webvtt::timestamp(&shown), Some(c.start_ms), "{shown}");
    }
    let blob = list.to_blob("v1");
    let back: Option<(String, CueList)> = CueList::from_blob(&blob);
    assert_eq!(
        back,
        Some(("v1".to_string(), list)),
        "cue record reads back"
    );
}

/// Filter JSON (origin: an asset's or the account's `filters/*.json`) →
/// [`filter::azure::parse`]: an error is a 502 (the origin's content is
/// bad), and an accepted filter keeps the
/// selection, condition and value caps and an ordered time range.
pub fn filter(data: &[u8]) {
    use edgepack::filter::{self, azure, Value};
    match azure::parse("fuzz", data) {
        Err(e) => {
            // The file's own fault: 502, as the origin's content is bad.
            assert_eq!(e.status(), 502, "filter error: {e}");
        }
        Ok(f) => {
            assert!(data.len() as u64 <= filter::MAX_FILTER_BYTES, "size cap");
            assert!(
                f.selections.len() <= filter::MAX_SELECTIONS,
                "selection cap"
            );
            for sel in &f.selections {
                assert!(sel.len() <= filter::MAX_CONDITIONS, "condition cap");
                for c in sel {
                    match &c.value {
                        Value::Text(t) => assert!(t.len() <= filter::MAX_VALUE_LEN, "value cap"),
                        Value::Bitrate(lo, hi) => assert!(lo <= hi, "bitrate range {lo}-{hi}"),
                        Value::Kind(_) => {}
                    }
                }
            }
            if let (Some(a), Some(b)) = (f.range.start, f.range.end) {
                assert!(a <= b, "time range {a}..{b}");
            }
        }
    }
}

/// A ClearKey licence request body (viewer) →
/// [`crypto::clearkey::requested_kids`]: bounded (size, key id count), and
/// a licence written for the ids it returns is JSON naming each of them.
pub fn licence(data: &[u8]) {
    use edgepack::crypto::clearkey;
    let Ok(kids) = clearkey::requested_kids(data) else {
        return;
    };
    assert!(data.len() <= clearkey::MAX_REQUEST_BYTES, "size cap");
    assert!(kids.len() <= clearkey::MAX_KIDS, "key id cap");
    let keys: Vec<([u8; 16], [u8; 16])> = kids.iter().map(|k| (*k, [7; 16])).collect();
    let answer = clearkey::licence(&keys);
    assert!(answer.starts_with("{\"keys\":["), "{answer}");
    assert_eq!(
        answer.matches("\"kty\":\"oct\"").count(),
        kids.len(),
        "{answer}"
    );
}

/// A CPIX document (origin) → [`crypto::cpix::parse`]: bounded; an
/// accepted document has its one key, at most `MAX_DRM_SYSTEMS` systems
/// whose PSSH data are `pssh` boxes and whose HLS lines are single tags
/// (nothing else can reach a playlist); the error is a 501 or 502; neither
/// the error nor `Debug` shows the key. The same bytes as a cached entry
/// ([`crypto::cpix::encoding::decode`]) never panic, and an accepted
/// document's cached form decodes to it.
pub fn cpix(data: &[u8]) {
    use edgepack::crypto::cpix;
    let key_hex = |k: &[u8; 16]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let _ = cpix::encoding::decode(data);
    match cpix::parse(data) {
        Ok(c) => {
            let cached = cpix::encoding::encode(&c);
            assert_eq!(
                cpix::encoding::decode(&cached).as_ref(),
                Some(&c),
                "cache round trip"
            );
            assert!(data.len() <= cpix::MAX_CPIX_BYTES, "size cap");
            assert!(c.systems.len() <= cpix::MAX_DRM_SYSTEMS, "system cap");
            assert!(c.keys().count() <= cpix::MAX_CONTENT_KEYS, "key cap");
            assert!(c.rules.len() <= cpix::rules::MAX_RULES, "rule cap");
            for r in &c.rules {
                assert!(r.filter_count() <= cpix::rules::MAX_FILTERS, "filter cap");
                assert!(c.key_by_id(&r.kid).is_some(), "a rule names a key");
            }
            for s in &c.systems {
                assert!(c.key_by_id(&s.kid).is_some(), "a system names a key");
            }
            for s in &c.systems {
                if let Some(p) = &s.pssh {
                    assert!(p.len() >= 32 && &p[4..8] == b"pssh", "pssh boxes");
                }
                for l in s.hls_media.iter().chain(&s.hls_master) {
                    assert!(l.starts_with("#EXT") && !l.contains(['\n', '\r']), "{l:?}");
                }
                if let Some(x) = &s.content_protection {
                    let _ = cpix::is_whole_element(x);
                }
            }
            let debug = format!("{c:?}");
            for k in c.keys().filter(|k| c.keys().all(|o| o.kid != k.key)) {
                assert!(!debug.contains(&key_hex(&k.key)), "key in Debug");
            }
        }
        Err(e) => {
            assert!(matches!(e.status(), 501 | 502), "{e:?}");
            let _ = e.to_string();
        }
    }
}
