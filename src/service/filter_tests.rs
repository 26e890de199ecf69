//! `filter=` and playback modifiers end to end through the job, over the
//! `abr` fixture with filter files beside it (asset) and at the root
//! (account).

use super::*;
use crate::source::{FileOrigin, MemoryCache};
use crate::testutil::{media_or_skip, TempDir};
use crate::url::{parse, Route};

fn request(path: &str) -> StreamRequest {
    match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

const CLIP: &str = r#"{"name":"clip","properties":{"presentationTimeRange":
    {"startTimestamp":7000,"endTimestamp":17000,"timescale":1000}}}"#;
const LOW: &str = r#"{"tracks":[
    {"trackSelections":[{"property":"Type","operation":"Equal","value":"audio"}]},
    {"trackSelections":[{"property":"Type","operation":"Equal","value":"Video"},
                        {"property":"Bitrate","operation":"Equal","value":"0-600000"}]}]}"#;

/// A temp origin: `abr/` (links to the fixture) with `abr/filters/`, and
/// `_filters/` at the root.
/// The folder goes when the returned guard is dropped.
fn origin(test: &str) -> Option<(FileOrigin, TempDir)> {
    let media = media_or_skip(test, "abr/abr.ism")?;
    let root = TempDir::new(&format!("filter-{test}"));
    std::fs::create_dir_all(root.join("abr/filters")).unwrap();
    std::fs::create_dir_all(root.join("_filters")).unwrap();
    for f in std::fs::read_dir(media.join("abr")).unwrap() {
        let f = f.unwrap();
        std::os::unix::fs::symlink(f.path(), root.join("abr").join(f.file_name())).unwrap();
    }
    std::fs::write(root.join("abr/filters/clip.json"), CLIP).unwrap();
    std::fs::write(root.join("abr/filters/bad.json"), "{\"tracks\": 5}").unwrap();
    std::fs::write(root.join("_filters/low.json"), LOW).unwrap();
    // Shadowed by the asset filter of the same name.
    std::fs::write(root.join("_filters/clip.json"), "not json").unwrap();
    Some((FileOrigin::new(root.path()), root))
}

fn text(
    path: &str,
    origin: &mut FileOrigin,
    cache: &mut MemoryCache,
) -> Result<String, ServeError> {
    match serve(&request(path), origin, cache, &Config::default())? {
        Output::Text { body, .. } => Ok(body),
        o => panic!("{path}: {o:?}"),
    }
}

/// The `Fragments(name=TIME` times of a playlist or MPD-less list.
fn times(body: &str) -> Vec<u64> {
    body.lines()
        .filter_map(|l| l.split_once("=")?.1.split([',', ')']).next()?.parse().ok())
        .filter(|_| true)
        .collect()
}

#[test]
fn a_clip_lists_whole_segments_of_the_unclipped_playlist() {
    let Some((mut o, _dir)) = origin("clip") else {
        return;
    };
    let mut cache = MemoryCache::default();
    let base = "/abr/abr.ism/QualityLevels(1000000)/Manifest(video,format=m3u8-cmaf";
    let full = text(&format!("{base}).m3u8"), &mut o, &mut cache).unwrap();
    let clipped = text(&format!("{base},filter=clip).m3u8"), &mut o, &mut cache).unwrap();
    let all: Vec<&str> = full
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("Fragments("))
        .collect();
    let some: Vec<&str> = clipped
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("Fragments("))
        .collect();
    assert!(!some.is_empty() && some.len() < all.len());
    let at = all.iter().position(|l| *l == some[0]).expect("same URLs");
    assert_eq!(
        &all[at..at + some.len()],
        &some[..],
        "a run of the same URLs"
    );
    let t = times(&all.join("\n"));
    let (first, last) = (t[at], t[at + some.len() - 1]);
    assert!(first <= 70_000_000 && t[at + 1] > 70_000_000, "{t:?}");
    assert!(last < 170_000_000 && t.get(at + some.len()).is_none_or(|&n| n >= 170_000_000));
    assert!(clipped.ends_with("#EXT-X-ENDLIST\n"));

    // The multivariant playlist passes the filter on to its playlists.
    let master = text(
        "/abr/abr.ism/manifest(format=m3u8-cmaf,filter=clip).m3u8",
        &mut o,
        &mut cache,
    )
    .unwrap();
    assert!(
        master.contains("Manifest(video,format=m3u8-cmaf,filter=clip).m3u8"),
        "{master}"
    );

    // DASH: the clip's duration and a presentation time offset.
    let mpd = text(
        "/abr/abr.ism/manifest(format=mpd-time-cmaf,filter=clip)",
        &mut o,
        &mut cache,
    )
    .unwrap();
    assert!(
        mpd.contains(&format!("presentationTimeOffset=\"{first}\"")),
        "{mpd}"
    );
    assert!(!mpd.contains("mediaPresentationDuration=\"PT30"), "{mpd}");

    // Smooth: fragments keep their times; Duration is the clip's.
    let ism = text("/abr/abr.ism/manifest(filter=clip)", &mut o, &mut cache).unwrap();
    assert!(ism.contains(&format!("t=\"{first}\"")), "{ism}");
    let full_ism = text("/abr/abr.ism/manifest", &mut o, &mut cache).unwrap();
    assert_ne!(ism, full_ism);

    // A segment URL carrying the filter: the same bytes, no filter read.
    let seg = |p: &str, o: &mut FileOrigin, c: &mut MemoryCache| {
        let out = serve(&request(p), o, c, &Config::default()).unwrap();
        materialize(&out, o, &Config::default()).unwrap().concat()
    };
    let frag =
        format!("/abr/abr.ism/QualityLevels(1000000)/Fragments(video={first},format=m3u8-cmaf");
    let plain = seg(&format!("{frag}).m4s"), &mut o, &mut cache);
    let reads = o.log.len();
    let filtered = seg(&format!("{frag},filter=nosuch).m4s"), &mut o, &mut cache);
    assert_eq!(plain, filtered);
    assert!(o.log[reads..].iter().all(|r| !r.path.ends_with(".json")));
}

#[test]
fn selections_account_filters_and_errors() {
    let Some((mut o, _dir)) = origin("sel") else {
        return;
    };
    let mut cache = MemoryCache::default();
    let master = text(
        "/abr/abr.ism/manifest(format=m3u8-cmaf,filter=low)",
        &mut o,
        &mut cache,
    )
    .unwrap();
    assert!(master.contains("QualityLevels(500000)") && master.contains("QualityLevels(250000)"));
    assert!(!master.contains("QualityLevels(1000000)"), "{master}");
    assert!(master.contains("aac_eng_2_128"));
    // Both filters at once: the clip's range and the selection.
    let both = text(
        "/abr/abr.ism/manifest(format=mpd-time-cmaf,filter=clip;low)",
        &mut o,
        &mut cache,
    )
    .unwrap();
    assert!(both.contains("presentationTimeOffset") && !both.contains("bandwidth=\"1000000\""));
    // Modifiers in the query string.
    let req = request("/abr/abr.ism/manifest(format=m3u8-cmaf)");
    let mut q = req.clone();
    q.options.modifiers.set("max_resolution", "360p").unwrap();
    let Output::Text { body, .. } = serve(&q, &mut o, &mut cache, &Config::default()).unwrap()
    else {
        panic!()
    };
    assert!(!body.contains("QualityLevels(1000000)") && body.contains("max_resolution=360p"));

    let err = |p: &str, o: &mut FileOrigin, c: &mut MemoryCache| {
        let e = serve(&request(p), o, c, &Config::default()).unwrap_err();
        (e.status(), e.to_string())
    };
    let (s, why) = err("/abr/abr.ism/manifest(filter=nosuch)", &mut o, &mut cache);
    assert_eq!(s, 404);
    assert!(why.contains("filter nosuch"), "{why}");
    let (s, why) = err("/abr/abr.ism/manifest(filter=bad)", &mut o, &mut cache);
    assert_eq!(s, 502);
    assert!(why.contains("filter bad: tracks is not an array"), "{why}");
    let mut q = req.clone();
    q.options.modifiers.set("min_bitrate", "5000000").unwrap();
    assert_eq!(
        serve(&q, &mut o, &mut cache, &Config::default())
            .unwrap_err()
            .status(),
        400
    );
}

/// Filters are cached like the `.ism`, and the output key names their
/// digest: a replaced filter gives a new key.
#[test]
fn filters_are_cached_and_keyed() {
    let Some((mut o, _dir)) = origin("key") else {
        return;
    };
    let mut cache = MemoryCache::default();
    let req = request("/abr/abr.ism/manifest(format=m3u8-cmaf,filter=clip;low)");
    let cfg = Config::default();
    let mut job = crate::job::Job::new(req.clone(), cfg.clone());
    assert_eq!(job.output_key(&mut cache), None, "cold");
    // Cold: the filter files (both places) and the `.ism` in one round,
    // then the indexes.
    let mut results = Vec::new();
    let mut rounds = Vec::new();
    loop {
        match job.step(&mut cache, results) {
            crate::job::Step::Read(reads) => {
                rounds.push(reads.iter().map(|r| r.path.clone()).collect::<Vec<_>>());
                results = crate::source::Origin::read(&mut o, &reads);
            }
            crate::job::Step::Answer(a) => {
                a.unwrap();
                break;
            }
        }
    }
    assert_eq!(
        rounds[0],
        [
            "abr/filters/clip.json",
            "_filters/clip.json",
            "abr/filters/low.json",
            "_filters/low.json",
            "abr/abr.ism"
        ]
    );
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    let reads = o.log.len();
    let mut job = crate::job::Job::new(req.clone(), cfg.clone());
    let key = job.output_key(&mut cache).expect("warm key");
    assert!(key.contains("/flt:"), "{key}");
    crate::job::run(job, &mut o, &mut cache).unwrap();
    assert_eq!(o.log.len(), reads, "warm: no read at all");
    cache.put(
        &crate::source::filters::filter_key(&req.asset, "clip"),
        bytes::Bytes::from_static(b"{}"),
    );
    let mut job = crate::job::Job::new(req, cfg);
    assert_ne!(job.output_key(&mut cache), Some(key));
}
