use super::*;
use crate::source::{FileOrigin, MemoryCache, Origin};
use crate::url::{parse, Route};
use std::path::Path;

fn request(path: &str) -> StreamRequest {
    match parse(path, None).unwrap_or_else(|e| panic!("{path}: {e}")) {
        Route::Stream(s) => s,
        r => panic!("{r:?}"),
    }
}

fn small() -> FileOrigin {
    FileOrigin::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small"))
}

/// Drives a job by hand, counting rounds and reads.
fn drive(path: &str, origin: &mut FileOrigin, cache: &mut MemoryCache) -> (Output, usize, usize) {
    let mut job = Job::new(request(path), Config::default());
    let (mut rounds, mut results) = (0, Vec::new());
    loop {
        match job.step(cache, results) {
            Step::Read(reads) => {
                rounds += 1;
                results = origin.read(&reads);
            }
            Step::Answer(a) => return (a.unwrap(), rounds, job.reads()),
        }
    }
}

/// A cold manifest costs rounds of reads (head probe; the moov at the end
/// needs one more); a warm one answers without any.
#[test]
fn cold_rounds_then_warm_from_cache() {
    let mut origin = small();
    let mut cache = MemoryCache::default();
    let (out, rounds, reads) = drive("/muxed_moov_end.mp4/master.m3u8", &mut origin, &mut cache);
    assert!(matches!(out, Output::Text { .. }));
    // The head probe holds this small file whole, moov included.
    assert_eq!(rounds, 1);
    assert_eq!(reads, origin.log.len());
    let (_, rounds, reads) = drive("/muxed_moov_end.mp4/manifest.mpd", &mut origin, &mut cache);
    assert_eq!((rounds, reads), (0, 0));
}

/// Every file of a set is probed in the same round.
#[test]
fn files_of_a_set_are_read_together() {
    let mut origin = small();
    let mut cache = MemoryCache::default();
    let (_, rounds, reads) = drive(
        "/,avc_bframes,aac,.mp4.urlset/manifest(format=m3u8-cmaf)",
        &mut origin,
        &mut cache,
    );
    assert_eq!(rounds, 1);
    assert_eq!(reads, 2);
}

/// A TS segment is answered built: its samples are one more round.
#[test]
fn ts_segments_come_back_built() {
    let mut origin = small();
    let mut cache = MemoryCache::default();
    let path = "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl)";
    let (out, _, _) = drive(path, &mut origin, &mut cache);
    let Output::TsBuilt { segment, tag } = out else {
        panic!("not a built TS segment");
    };
    assert!(!tag.is_empty());
    assert_eq!(segment.to_vec().len() as u64, segment.len());
    let (_, rounds, _) = drive(path, &mut origin, &mut cache);
    assert_eq!(rounds, 1, "warm: only the samples are read");
}

/// An origin whose object changes between reads: the job drops the index
/// and starts over once, then gives up with a 502.
#[test]
fn changed_objects_restart_once() {
    struct Flipping {
        inner: FileOrigin,
        flips: usize,
    }
    impl Origin for Flipping {
        fn read(&mut self, reqs: &[ReadRequest]) -> Vec<Result<ReadResponse, OriginError>> {
            self.inner
                .read(reqs)
                .into_iter()
                .zip(reqs)
                .map(|(r, q)| {
                    if q.if_match.is_some() && self.flips > 0 {
                        self.flips -= 1;
                        return Err(OriginError::Changed(q.path.clone()));
                    }
                    r
                })
                .collect()
        }
    }
    let path = "/avc_bframes.mp4/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl)";
    let mut cache = MemoryCache::default();
    let mut once = Flipping {
        inner: small(),
        flips: 1,
    };
    let job = Job::new(request(path), Config::default());
    assert!(matches!(
        run(job, &mut once, &mut cache),
        Ok(Output::TsBuilt { .. })
    ));
    let mut always = Flipping {
        inner: small(),
        flips: usize::MAX,
    };
    let mut cache = MemoryCache::default();
    let job = Job::new(request(path), Config::default());
    let err = run(job, &mut always, &mut cache).unwrap_err();
    assert_eq!(err.status(), 502);
    assert!(err.to_string().contains("kept changing"), "{err}");
}

/// Options not built yet are refused before any read.
#[test]
fn unsupported_options_cost_no_read() {
    let mut job = Job::new(
        request("/a.mp4/manifest(format=mpd-time-cmaf,encryption=cenc)"),
        Config::default(),
    );
    let mut cache = MemoryCache::default();
    match job.step(&mut cache, Vec::new()) {
        Step::Answer(Err(e)) => assert_eq!(e.status(), 501),
        s => panic!("{s:?}"),
    }
    assert_eq!(job.reads(), 0);
}

/// The per-request budget caps index reads and leaves the rest to the
/// payload.
#[test]
fn backend_budget() {
    let cfg = Config {
        max_backend_requests: 1,
        ..Config::default()
    };
    let mut cache = MemoryCache::default();
    let job = Job::new(
        request("/,avc_bframes,aac,.mp4.urlset/manifest(format=m3u8-cmaf)"),
        cfg,
    );
    let err = run(job, &mut small(), &mut cache).unwrap_err();
    assert!(
        err.to_string().contains("more than 1 origin requests"),
        "{err}"
    );
    let mut job = Job::new(request("/aac.mp4/manifest"), Config::default());
    job.reads = 30;
    assert_eq!(job.payload_budget(), 2);
}

/// Self-prefetch follows the media playlist: each media segment's job
/// names the next segment's URL time, the last names none, and
/// non-segments name nothing.
#[test]
fn next_fragment_times_follow_the_playlist() {
    let mut origin = small();
    let mut cache = MemoryCache::default();
    let cfg = Config {
        segment_ms: 1000,
        ..Config::default()
    };
    let mut answered = |req: StreamRequest| {
        let mut job = Job::new(req, cfg.clone());
        let mut results = Vec::new();
        loop {
            match job.step(&mut cache, results) {
                Step::Read(reads) => results = origin.read(&reads),
                Step::Answer(a) => return (job, a.unwrap()),
            }
        }
    };
    let base = "/muxed_moov_end.mp4/QualityLevels(1)";
    let (job, pl) = answered(request(&format!("{base}/Manifest(video,format=m3u8-cmaf)")));
    assert_eq!(job.next_fragment_time(), None);
    assert!(job.request().fragment_at(0).is_none());
    let Output::Text { body, .. } = pl else {
        panic!("a playlist")
    };
    let times: Vec<u64> = body
        .lines()
        .filter_map(|l| {
            l.split_once("Fragments(video=")?
                .1
                .split_once(',')?
                .0
                .parse()
                .ok()
        })
        .collect();
    assert!(times.len() > 2, "{body}");
    for (i, t) in times.iter().enumerate() {
        let req = request(&format!("{base}/Fragments(video={t},format=m3u8-cmaf)"));
        let (job, _) = answered(req.clone());
        assert_eq!(
            job.next_fragment_time(),
            times.get(i + 1).copied(),
            "after {t}"
        );
        if let Some(n) = job.next_fragment_time() {
            let next = req.fragment_at(n).unwrap();
            assert!(
                matches!(next.resource, crate::url::Resource::Fragment { time, .. } if time == n)
            );
            assert_eq!(next.options, req.options);
        }
    }
}
