use super::*;
use crate::job::{self, Job};
use crate::source::{FileOrigin, MemoryCache};
use crate::url::{parse, Route};

fn request(path: &str) -> StreamRequest {
    match parse(path, None) {
        Ok(Route::Stream(s)) => s,
        other => panic!("{path}: {other:?}"),
    }
}

const FILE: &str = "avc_gop40.mp4";

#[test]
fn no_key_until_the_sources_are_known_then_one_per_output() {
    let mut cache = MemoryCache::default();
    let cfg = Config::default();
    let manifest = request(&format!("/{FILE}/master.m3u8"));
    let mut job = Job::new(manifest.clone(), cfg.clone());
    assert_eq!(
        job.output_key(&mut cache),
        None,
        "cold: no version record yet"
    );
    let mut origin = FileOrigin::new("fixtures/small");
    job::run(job, &mut origin, &mut cache).unwrap();
    let key = Job::new(manifest.clone(), cfg.clone())
        .output_key(&mut cache)
        .expect("warm: a key");
    assert!(key.starts_with("out/") && key.contains(FILE), "{key}");
    // Another output of the same file, and other settings: other keys.
    let playlist = request(&format!("/{FILE}/manifest.mpd"));
    let other = Job::new(playlist, cfg.clone())
        .output_key(&mut cache)
        .unwrap();
    assert_ne!(key, other);
    let longer = Config {
        segment_ms: 4000,
        ..cfg.clone()
    };
    assert_ne!(
        Job::new(manifest.clone(), longer).output_key(&mut cache),
        Some(key.clone())
    );
    // A new version of the object: a new key (and none until re-indexed).
    crate::source::forget_source(FILE, &mut cache);
    assert_eq!(
        Job::new(manifest.clone(), cfg.clone()).output_key(&mut cache),
        None
    );
    cache.put(&tag_key(FILE), Bytes::from_static(b"\"v2\""));
    let v2 = Job::new(manifest, cfg).output_key(&mut cache).unwrap();
    assert_ne!(v2, key);
    assert!(v2.ends_with("/\"v2\""), "{v2}");
}

#[test]
fn evicted_version_records_are_written_again() {
    let mut cache = MemoryCache::default();
    let cfg = Config::default();
    let req = request(&format!("/{FILE}/master.m3u8"));
    let mut origin = FileOrigin::new("fixtures/small");
    job::run(Job::new(req.clone(), cfg.clone()), &mut origin, &mut cache).unwrap();
    cache.forget(&tag_key(FILE));
    let mut job = Job::new(req.clone(), cfg.clone());
    assert_eq!(job.output_key(&mut cache), None);
    let reads = origin.log.len();
    job::run(job, &mut origin, &mut cache).unwrap();
    assert_eq!(origin.log.len(), reads, "the index came from the cache");
    assert!(Job::new(req, cfg).output_key(&mut cache).is_some());
}

#[test]
fn stored_facts_round_trip() {
    let s = Stored {
        content_type: "application/vnd.apple.mpegurl".into(),
        etag: "\"0123456789abcdef\"".into(),
        immutable: false,
        omitted: vec!["hev1 in TS".into(), "two\nlines".into()],
        next: None,
    };
    let back = Stored::decode(&s.encode()).unwrap();
    assert_eq!(
        back.omitted,
        vec!["hev1 in TS".to_string(), "two lines".to_string()]
    );
    assert_eq!(
        (back.content_type, back.etag, back.immutable),
        (s.content_type, s.etag, false)
    );
    assert_eq!(back.next, None);
    // A segment's record names the next segment's time (self-prefetch).
    let seg = Stored {
        content_type: "video/mp4".into(),
        etag: "\"e\"".into(),
        immutable: true,
        omitted: Vec::new(),
        next: Some(120_000_000),
    };
    assert_eq!(Stored::decode(&seg.encode()), Some(seg));
    assert_eq!(Stored::decode(b"a\nb\nimmutable next=x"), None);
    assert_eq!(Stored::decode(b"a\nb\nsometimes"), None);
    assert_eq!(Stored::decode(b""), None);
}

#[test]
fn surrogate_keys_are_one_token_per_asset() {
    let a = request("/abr/abr.ism/manifest(format=m3u8-cmaf)");
    assert_eq!(surrogate_key(&a.asset), "edgepack/abr/abr.ism");
    let b = request("/dir/a%20b.mp4/master.m3u8");
    assert!(!surrogate_key(&b.asset).contains(' '));
}
