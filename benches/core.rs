//! Criterion benchmarks of the platform-free core (native code; the wasm
//! build is measured by `scripts/bench/wasm.sh`). Figures and the machine
//! they were taken on: BENCHMARKS.md.
//!
//! ```text
//! bash fixtures/generate.sh          # fixtures/media (long_2h.mp4, abr/)
//! cargo bench --bench core           # all, about 2 minutes
//! cargo bench --bench core -- index  # a group
//! cargo bench --bench core -- codec  # the AV1/HEVC encryption maps
//! ```
//!
//! Besides timings it prints the index sizes (bytes/sample per track, from
//! the documented blob layout) and the sizes of what it times.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use edgepack::index::{self, MediaIndex, TrackIndex, INDEX_VERSION};
use edgepack::input::ism::{SidecarFormat, TextRole};
use edgepack::manifest::{dash, hls, smooth};
use edgepack::media_set::{MediaSet, SourceFile, TextTrack};
use edgepack::mp4::walk::{locate_moov, Probe};
use edgepack::mux::cmaf::{self, FragmentOptions};
use edgepack::mux::ts::{TsSegment, TsTrack, FIRST_AUDIO_PID, VIDEO_PID};
use edgepack::mux::MuxSample;
use edgepack::service::{self, Config};
use edgepack::source::{Cache, FileOrigin, MemoryCache};
use edgepack::summary;
use edgepack::timeline::{rescale, Timeline, TrackSegment, HNS};
use edgepack::url::{Asset, Format, Options, Resource, StreamRequest, TrackRef};
use std::path::{Path, PathBuf};
use std::time::Duration;

const LONG: &str = "long_2h.mp4";
const ABR_ISM: &str = "abr/abr.ism";
const ABR_720: &str = "abr/video_720.mp4";
const ABR_AUDIO: &str = "abr/audio_eng.mp4";

fn media() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media");
    assert!(
        dir.join(LONG).is_file() && dir.join(ABR_720).is_file(),
        "fixtures/media is incomplete: run `bash fixtures/generate.sh` first"
    );
    dir
}

fn read(path: &str) -> Bytes {
    Bytes::from(std::fs::read(media().join(path)).expect("read fixture"))
}

/// The moov of a whole file and its offset.
fn moov_of(file: &Bytes) -> (Bytes, u64) {
    match locate_moov(file, 0, 0, file.len() as u64).expect("walk") {
        Probe::Moov { offset, size } => (
            file.slice(offset as usize..(offset + size) as usize),
            offset,
        ),
        Probe::Need { .. } => panic!("whole file given"),
    }
}

fn index_of(path: &str) -> (Bytes, MediaIndex) {
    let file = read(path);
    let idx = index::index_whole_file(&file, "\"bench\"").expect("index");
    (file, idx)
}

/// A cache that never has a set summary: warm requests from the indexes.
struct NoSummary(MemoryCache);

impl Cache for NoSummary {
    fn get(&mut self, key: &str) -> Option<Bytes> {
        if key.starts_with("sum/") {
            return None;
        }
        self.0.get(key)
    }
    fn put(&mut self, key: &str, value: Bytes) {
        self.0.put(key, value)
    }
    fn forget(&mut self, key: &str) {
        self.0.forget(key)
    }
}

fn set_of(files: Vec<(&str, MediaIndex)>) -> MediaSet {
    let files = files
        .into_iter()
        .map(|(p, index)| SourceFile {
            path: p.to_string(),
            index,
        })
        .collect();
    MediaSet::all_tracks(files, 6000).expect("media set")
}

/// Serialized bytes of each track's tables, read from the blob layout that
/// `src/index/blob.rs` documents (the sizes are private to the crate).
/// Knows versions 1 to 5 (v3 adds a trailer after the tracks, v4 a track flag, v5
/// only reads `colr` from the stored entry); `None`
/// for any other.
fn per_track_bytes(blob: &[u8]) -> Option<Vec<(u32, usize, usize)>> {
    let u16_at = |at: usize| Some(u16::from_be_bytes(blob.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_be_bytes(blob.get(at..at + 4)?.try_into().ok()?));
    if blob.get(..4)? != b"EPIX" || u32_at(4)? != INDEX_VERSION {
        return None;
    }
    // (bytes after sample_count, block entry, sync entry) per version.
    let (after_count, block, sync) = match INDEX_VERSION {
        1 => (0, 20, 12),
        2..=5 => (8, 28, 24),
        _ => return None,
    };
    let mut at = 16 + 2 + usize::from(u16_at(16)?);
    let tracks = u16_at(at)?;
    at += 2;
    let mut out = Vec::new();
    for _ in 0..tracks {
        let start = at;
        let id = u32_at(at)?;
        // id, kind, flags, timescale, duration, language, handler,
        // presentation_offset, avg and max bitrate, sample_count.
        at += 4 + 1 + 1 + 4 + 8 + 3 + 4 + 8 + 8 + 8;
        let samples = u32_at(at)? as usize;
        at += 4 + after_count;
        for unit in [1usize, block, sync, 1] {
            at += 4 + u32_at(at)? as usize * unit;
        }
        out.push((id, samples, at - start));
    }
    Some(out)
}

fn report_index(name: &str, moov: &Bytes, idx: &MediaIndex) {
    let samples: u64 = idx.tracks.iter().map(|t| u64::from(t.sample_count())).sum();
    println!(
        "{name}: moov {} B, index blob {} B for {samples} samples = {:.2} B/sample (moov {:.2} B/sample)",
        moov.len(),
        idx.blob.len(),
        idx.blob.len() as f64 / samples as f64,
        moov.len() as f64 / samples as f64,
    );
    for (id, n, bytes) in per_track_bytes(&idx.blob).unwrap_or_default() {
        let kind = idx
            .track(id)
            .map(|t| format!("{:?}", t.info.kind))
            .unwrap_or_default();
        println!(
            "  track {id} ({kind}): {n} samples, {bytes} B serialized = {:.2} B/sample",
            bytes as f64 / n as f64
        );
    }
}

fn bench_index(c: &mut Criterion) {
    let file = read(LONG);
    let (moov, offset) = moov_of(&file);
    let size = file.len() as u64;
    let idx = index::build(moov.clone(), offset, size, "\"bench\"").expect("build");
    report_index(LONG, &moov, &idx);
    let mut g = c.benchmark_group("index");
    g.sample_size(10);
    g.bench_function("build long_2h (moov -> blob)", |b| {
        b.iter(|| index::build(black_box(moov.clone()), offset, size, "\"bench\"").unwrap())
    });
    g.bench_function("from_blob long_2h (warm cache)", |b| {
        b.iter(|| MediaIndex::from_blob(black_box(idx.blob.clone())).unwrap())
    });
    g.finish();
}

fn bench_timeline(c: &mut Criterion) {
    let (_, idx) = index_of(LONG);
    let tracks: Vec<&TrackIndex> = idx.tracks.iter().collect();
    let tl = Timeline::compute(&tracks, 6000).unwrap();
    let video = idx.tracks.iter().find(|t| t.is_video()).unwrap();
    println!(
        "{LONG}: {} segments; video {} samples, {} keyframes",
        tl.len(),
        video.sample_count(),
        video.sync_count()
    );
    let mut g = c.benchmark_group("timeline");
    g.bench_function("compute long_2h (boundaries)", |b| {
        b.iter(|| Timeline::compute(black_box(&tracks), 6000).unwrap())
    });
    g.bench_function("track_segments long_2h video (all 1200)", |b| {
        b.iter(|| tl.track_segments(black_box(video)).unwrap())
    });
    g.finish();
}

fn middle_segment(idx: &MediaIndex, video: bool) -> (usize, TrackSegment) {
    let tracks: Vec<&TrackIndex> = idx.tracks.iter().collect();
    let tl = Timeline::compute(&tracks, 6000).unwrap();
    let i = idx
        .tracks
        .iter()
        .position(|t| t.is_video() == video)
        .unwrap();
    let n = (tl.len() / 2) as u32;
    (i, tl.track_segment(&idx.tracks[i], n).unwrap().unwrap())
}

/// The segment request for `track` at the start of segment `n`.
fn fragment_request(asset: Asset, set: &MediaSet, track: TrackRef, n: usize) -> StreamRequest {
    let time = rescale(set.timeline.starts[n], set.timeline.timescale, HNS) as u64;
    StreamRequest {
        asset,
        resource: Resource::Fragment { track, time },
        options: Options {
            format: Format::HlsCmaf,
            ..Options::default()
        },
    }
}

fn bench_segments(c: &mut Criterion) {
    let opts = FragmentOptions {
        sequence: 1,
        styp: true,
    };
    let (_, long) = index_of(LONG);
    let (_, v720) = index_of(ABR_720);
    let mut g = c.benchmark_group("cmaf_segment");
    for (name, idx, video) in [
        ("long_2h video", &long, true),
        ("long_2h audio", &long, false),
        ("video_720", &v720, true),
    ] {
        let (i, seg) = middle_segment(idx, video);
        let t = &idx.tracks[i];
        let ms = cmaf::media_segment(t, &seg, opts).unwrap();
        println!(
            "{name}: 6 s segment {}: {} samples, header {} B, payload {} B in {} run(s)",
            seg.number,
            seg.samples.len(),
            ms.header.len(),
            seg.payload,
            ms.runs.len()
        );
        g.bench_function(format!("media_segment {name}"), |b| {
            b.iter(|| cmaf::media_segment(black_box(t), black_box(&seg), opts).unwrap())
        });
    }
    g.finish();

    // Whole requests over the native harness, index and .ism in a warm cache.
    let root = media();
    let cfg = Config::default();
    let mut cache = MemoryCache::default();
    let mut origin = FileOrigin::new(&root);
    let abr = Asset::Ism {
        path: ABR_ISM.into(),
    };
    let set = service::load_set(&abr, &mut origin, &mut cache, &cfg).unwrap();
    let v720 = TrackRef {
        bitrate: 1_000_000,
        name: "video".into(),
    };
    let abr_req = fragment_request(abr, &set, v720, set.timeline.len() / 2);
    let long_asset = Asset::Mp4 { path: LONG.into() };
    let set = service::load_set(&long_asset, &mut origin, &mut cache, &cfg).unwrap();
    let video = set
        .tracks
        .iter()
        .find(|t| set.track_index(t).is_video())
        .unwrap();
    let tr = TrackRef {
        bitrate: video.bitrate,
        name: video.name.clone(),
    };
    let long_req = fragment_request(long_asset, &set, tr, set.timeline.len() / 2);

    let reqs = [("abr 720p", &abr_req), ("long_2h video", &long_req)];
    let mut g = c.benchmark_group("serve_warm_segment");
    for (name, req) in reqs {
        let out = service::serve(req, &mut origin, &mut cache, &cfg).unwrap();
        println!("{name}: segment {} B", out.len());
        g.bench_function(format!("plan {name} (serve)"), |b| {
            b.iter(|| {
                let mut o = FileOrigin::new(&root);
                service::serve(black_box(req), &mut o, &mut cache, &cfg).unwrap()
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("serve_warm_segment_read");
    for (name, req) in reqs {
        let len = service::serve(req, &mut origin, &mut cache, &cfg)
            .unwrap()
            .len();
        g.throughput(Throughput::Bytes(len));
        g.bench_function(format!("{name} (serve + materialize)"), |b| {
            b.iter(|| {
                let mut o = FileOrigin::new(&root);
                let out = service::serve(black_box(req), &mut o, &mut cache, &cfg).unwrap();
                service::materialize(&out, &mut o, &cfg).unwrap()
            })
        });
    }
    g.finish();
}

/// An English WebVTT sidecar as `.ism` `<textstream>` or a `.vtt` in the
/// asset directory make it (`service::text`).
fn vtt_sidecar() -> TextTrack {
    TextTrack {
        path: "long_2h.vtt".into(),
        name: "textstream_eng".into(),
        bitrate: TextTrack::DEFAULT_BITRATE,
        language: "eng".into(),
        role: TextRole::Subtitle,
        sdh: false,
        format: SidecarFormat::WebVtt,
        embedded: None,
        default: false,
    }
}

fn bench_manifests(c: &mut Criterion) {
    let (_, long) = index_of(LONG);
    let long = set_of(vec![(LONG, long)]);
    let abr: Vec<(&str, MediaIndex)> = [
        "abr/video_720.mp4",
        "abr/video_360.mp4",
        "abr/video_240.mp4",
        ABR_AUDIO,
    ]
    .into_iter()
    .map(|p| (p, index_of(p).1))
    .collect();
    let abr = set_of(abr);
    let mut g = c.benchmark_group("manifest");
    for (name, set) in [("long_2h", &long), ("abr", &abr)] {
        let video = set
            .tracks
            .iter()
            .find(|t| set.track_index(t).is_video())
            .unwrap();
        let sizes = (
            hls::multivariant(set, Format::HlsCmaf).unwrap().len(),
            hls::media_playlist(set, video, Format::HlsCmaf)
                .unwrap()
                .len(),
            dash::mpd(set, Format::DashCmaf).unwrap().len(),
        );
        println!(
            "{name}: HLS multivariant {} B, video media playlist {} B, MPD {} B",
            sizes.0, sizes.1, sizes.2
        );
        g.bench_function(format!("hls multivariant {name}"), |b| {
            b.iter(|| hls::multivariant(black_box(set), Format::HlsCmaf).unwrap())
        });
        g.bench_function(format!("hls media playlist {name} video"), |b| {
            b.iter(|| hls::media_playlist(black_box(set), video, Format::HlsCmaf).unwrap())
        });
        g.bench_function(format!("dash mpd {name}"), |b| {
            b.iter(|| dash::mpd(black_box(set), Format::DashCmaf).unwrap())
        });
        // A WebVTT sidecar's media playlist: the video's segments, with
        // `.vtt` URLs (nothing of the sidecar is read to write it).
        let text = vtt_sidecar();
        println!(
            "{name}: subtitle media playlist {} B",
            hls::subtitles::playlist(set, &text, Format::HlsCmaf)
                .unwrap()
                .len()
        );
        g.bench_function(format!("hls subtitle playlist {name} (vtt sidecar)"), |b| {
            b.iter(|| hls::subtitles::playlist(black_box(set), &text, Format::HlsCmaf).unwrap())
        });
    }
    g.finish();

    // The same manifests written from the set summary (`edgepack::summary`),
    // as a warm request does: decoding it (header-only indexes, timelines;
    // each track's segments when the writer first asks for them) and
    // writing.
    let mut g = c.benchmark_group("manifest_from_summary");
    for (name, set) in [("long_2h", &long), ("abr", &abr)] {
        let bytes = Bytes::from(summary::encode(set).expect("summary"));
        println!("{name}: set summary {} B", bytes.len());
        let from = summary::decode(bytes.clone()).expect("decodes");
        let video = from
            .tracks
            .iter()
            .position(|t| from.track_index(t).is_video())
            .unwrap();
        let decoded = || summary::decode(black_box(bytes.clone())).unwrap();
        g.bench_function(
            format!("decode summary {name} (files, tracks, timelines)"),
            |b| b.iter(decoded),
        );
        g.bench_function(format!("hls multivariant {name} from the summary"), |b| {
            b.iter(|| hls::multivariant(&decoded(), Format::HlsCmaf).unwrap())
        });
        g.bench_function(
            format!("hls media playlist {name} video from the summary"),
            |b| {
                b.iter(|| {
                    let set = decoded();
                    hls::media_playlist(&set, &set.tracks[video], Format::HlsCmaf).unwrap()
                })
            },
        );
        g.bench_function(format!("dash mpd {name} from the summary"), |b| {
            b.iter(|| dash::mpd(&decoded(), Format::DashCmaf).unwrap())
        });
        g.bench_function(format!("smooth manifest {name} from the summary"), |b| {
            b.iter(|| smooth::client_manifest(&decoded(), Format::Smooth).unwrap())
        });
        g.bench_function(
            format!("hls ts multivariant {name} from the summary"),
            |b| b.iter(|| hls::multivariant(&decoded(), Format::HlsTs).unwrap()),
        );
        g.bench_function(
            format!("hls i-frame playlist {name} video from the summary"),
            |b| {
                b.iter(|| {
                    let set = decoded();
                    hls::iframe_playlist(&set, &set.tracks[video]).unwrap()
                })
            },
        );
    }
    g.finish();

    // Whole manifest requests: cold (empty cache: head probe, moov read,
    // index build), warm from the indexes (index from the cache, set,
    // timeline, manifest; the summary refused) and warm from the summary.
    let root = media();
    let cfg = Config::default();
    let req = |asset: Asset, format| StreamRequest {
        asset,
        resource: Resource::Manifest,
        options: Options {
            format,
            ..Options::default()
        },
    };
    let long_hls = req(Asset::Mp4 { path: LONG.into() }, Format::HlsCmaf);
    let long_mpd = req(Asset::Mp4 { path: LONG.into() }, Format::DashCmaf);
    let abr_hls = req(
        Asset::Ism {
            path: ABR_ISM.into(),
        },
        Format::HlsCmaf,
    );
    let mut g = c.benchmark_group("serve_manifest");
    g.sample_size(10);
    g.bench_function("cold hls multivariant long_2h", |b| {
        b.iter(|| {
            let mut o = FileOrigin::new(&root);
            let mut cache = MemoryCache::default();
            service::serve(black_box(&long_hls), &mut o, &mut cache, &cfg).unwrap()
        })
    });
    let long_video = StreamRequest {
        resource: Resource::MediaPlaylist {
            track: TrackRef {
                name: "video".into(),
                bitrate: long.tracks[0].bitrate,
            },
            keyframes: false,
        },
        ..long_hls.clone()
    };
    let long_smooth = req(Asset::Mp4 { path: LONG.into() }, Format::Smooth);
    let mut cache = MemoryCache::default();
    let mut no_summary = NoSummary(MemoryCache::default());
    for (name, r) in [
        ("hls multivariant long_2h", &long_hls),
        ("dash mpd long_2h", &long_mpd),
        ("hls media playlist long_2h video", &long_video),
        ("smooth manifest long_2h", &long_smooth),
        ("hls multivariant abr", &abr_hls),
    ] {
        service::serve(r, &mut FileOrigin::new(&root), &mut no_summary, &cfg).unwrap();
        g.bench_function(format!("warm {name} (from indexes)"), |b| {
            b.iter(|| {
                let mut o = FileOrigin::new(&root);
                service::serve(black_box(r), &mut o, &mut no_summary, &cfg).unwrap()
            })
        });
        service::serve(r, &mut FileOrigin::new(&root), &mut cache, &cfg).unwrap();
        g.bench_function(format!("warm {name} (from the summary)"), |b| {
            b.iter(|| {
                let mut o = FileOrigin::new(&root);
                service::serve(black_box(r), &mut o, &mut cache, &cfg).unwrap()
            })
        });
    }
    g.finish();
}

/// The samples of `seg` with their payload, as a TS muxer takes them.
fn mux_samples(file: &Bytes, t: &TrackIndex, seg: &TrackSegment) -> Vec<MuxSample> {
    let po = t.info.presentation_offset;
    t.samples(seg.samples.clone())
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            let at = s.offset as usize;
            MuxSample {
                dts: s.dts as i64 - po,
                pts: t.pts(&s),
                duration: s.duration,
                sync: s.sync,
                data: file.slice(at..at + s.size as usize),
            }
        })
        .collect()
}

fn bench_ts(c: &mut Criterion) {
    let (vfile, vidx) = index_of(ABR_720);
    let (afile, aidx) = index_of(ABR_AUDIO);
    let set = set_of(vec![(ABR_720, vidx.clone()), (ABR_AUDIO, aidx.clone())]);
    let n = (set.timeline.len() / 2) as u32;
    let (vt, at) = (&vidx.tracks[0], &aidx.tracks[0]);
    let vseg = set.timeline.track_segment(vt, n).unwrap().unwrap();
    let aseg = set.timeline.track_segment(at, n).unwrap().unwrap();
    let vs = mux_samples(&vfile, vt, &vseg);
    let aus = mux_samples(&afile, at, &aseg);
    let tracks = [
        TsTrack {
            info: &vt.info,
            samples: &vs,
            pid: VIDEO_PID,
        },
        TsTrack {
            info: &at.info,
            samples: &aus,
            pid: FIRST_AUDIO_PID,
        },
    ];
    let ts_len = TsSegment::new(&tracks, 0).unwrap().len();
    let opts = FragmentOptions {
        sequence: n + 1,
        styp: true,
    };
    let fmp4 = cmaf::media_segment(vt, &vseg, opts).unwrap();
    println!(
        "video_720 + audio segment {n}: TS {ts_len} B (video payload {} B, audio {} B); fMP4 video {} B",
        vseg.payload,
        aseg.payload,
        fmp4.len()
    );
    let mut g = c.benchmark_group("ts_vs_fmp4");
    g.throughput(Throughput::Bytes(ts_len));
    g.bench_function("ts 720p+audio 6 s (plan + stream 64 KB chunks)", |b| {
        b.iter(|| {
            let ts = TsSegment::new(black_box(&tracks), 0).unwrap();
            ts.map(|c| c.len()).sum::<usize>()
        })
    });
    g.bench_function("ts 720p+audio 6 s (plan only)", |b| {
        b.iter(|| TsSegment::new(black_box(&tracks), 0).unwrap().len())
    });
    g.throughput(Throughput::Bytes(fmp4.len()));
    g.bench_function("fmp4 720p 6 s (header + runs, no copy)", |b| {
        b.iter(|| cmaf::media_segment(black_box(vt), &vseg, opts).unwrap())
    });
    // What an adapter without host-side splicing pays: header + one copy
    // of the payload into a contiguous body.
    g.bench_function("fmp4 720p 6 s (header + payload copied)", |b| {
        b.iter(|| {
            let ms = cmaf::media_segment(black_box(vt), &vseg, opts).unwrap();
            let mut body = Vec::with_capacity(ms.len() as usize);
            body.extend_from_slice(&ms.header);
            for r in &ms.runs {
                body.extend_from_slice(&vfile[r.offset as usize..r.end() as usize]);
            }
            body
        })
    });
    g.finish();
}

/// The cipher paths of `encryption=` natively: each over a 1 MiB buffer
/// (throughput), and a warm encrypted 720p 6 s segment of `abr.ism` per
/// scheme through the whole request (serve + materialize, index cached).
fn bench_encryption(c: &mut Criterion) {
    use edgepack::crypto::cbcs::{self, Pattern};
    use edgepack::crypto::cenc::{ctr_apply, Subsample};
    use edgepack::crypto::{CbcStream, KeySetting};
    let key = [7u8; 16];
    let plain: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 31) as u8).collect();
    let mut buf = plain.clone();
    // One slice-like subsample per 64 KiB: 32 clear, the rest protected.
    let map: Vec<Subsample> = (0..16)
        .map(|_| Subsample {
            clear: 32,
            protected: (1 << 16) - 32,
        })
        .collect();
    let mut g = c.benchmark_group("cipher_1MiB");
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("cenc ctr (subsamples)", |b| {
        b.iter(|| ctr_apply(&key, &[1; 8], black_box(&mut buf), &map).unwrap())
    });
    g.bench_function("cbcs 1:9 pattern (subsamples)", |b| {
        b.iter(|| {
            let p = cbcs::VIDEO_PATTERN;
            cbcs::pattern_encrypt(&key, &[2; 16], p, black_box(&mut buf), &map).unwrap()
        })
    });
    g.bench_function("cbcs whole blocks (audio)", |b| {
        let p = Pattern { crypt: 0, skip: 0 };
        b.iter(|| cbcs::pattern_encrypt(&key, &[2; 16], p, black_box(&mut buf), &[]).unwrap())
    });
    g.bench_function("cbc whole segment (AES-128, PKCS#7)", |b| {
        b.iter(|| {
            let mut s = CbcStream::new(&key, &[3; 16]);
            let n = s.update(black_box(&plain)).len();
            n + s.finish().len()
        })
    });
    g.finish();

    let root = media();
    let cfg = Config {
        keys: KeySetting::from_secret(|_| {
            Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into())
        }),
        ..Config::default()
    };
    let mut cache = MemoryCache::default();
    let mut origin = FileOrigin::new(&root);
    let abr = Asset::Ism {
        path: ABR_ISM.into(),
    };
    let set = service::load_set(&abr, &mut origin, &mut cache, &cfg).unwrap();
    let v720 = TrackRef {
        bitrate: 1_000_000,
        name: "video".into(),
    };
    let clear = fragment_request(abr, &set, v720, set.timeline.len() / 2);
    let mut g = c.benchmark_group("serve_warm_encrypted_segment");
    for scheme in [None, Some("cenc"), Some("cbcs-aapl")] {
        let mut req = clear.clone();
        req.options.encryption = scheme.map(str::to_string);
        let out = service::serve(&req, &mut origin, &mut cache, &cfg).unwrap();
        let len = service::materialize(&out, &mut origin, &cfg)
            .unwrap()
            .iter()
            .map(|b| b.len() as u64)
            .sum::<u64>();
        println!("abr 720p {}: segment {len} B", scheme.unwrap_or("clear"));
        g.throughput(Throughput::Bytes(len));
        g.bench_function(
            format!(
                "abr 720p 6 s {} (serve + materialize)",
                scheme.unwrap_or("clear")
            ),
            |b| {
                b.iter(|| {
                    let mut o = FileOrigin::new(&root);
                    let out = service::serve(black_box(&req), &mut o, &mut cache, &cfg).unwrap();
                    service::materialize(&out, &mut o, &cfg).unwrap()
                })
            },
        );
    }
    g.finish();
}

/// The committed small fixtures (`fixtures/small`), which the codec
/// encryption benchmarks use (no `fixtures/generate.sh` needed).
fn small() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/small")
}

/// The samples of track 0 of `file`, in decode order.
fn track0_samples(file: &Bytes, idx: &MediaIndex) -> Vec<Bytes> {
    let t = &idx.tracks[0];
    t.samples(0..t.sample_count())
        .unwrap()
        .map(|s| {
            let s = s.unwrap();
            file.slice(s.offset as usize..(s.offset + u64::from(s.size)) as usize)
        })
        .collect()
}

/// What `encryption=` costs on top of the cipher for codecs whose
/// subsample map needs the bitstream read (issue 14): measuring every
/// H.265 slice segment header of `hevc.mp4` (`cbcs`, from the `hvcC`
/// SPS/PPS) and locating the tiles of every `av1.mp4` sample (frame
/// headers and tile groups, from the key frame on); then a warm
/// encrypted segment of each through the whole request, as
/// `serve_warm_encrypted_segment` does for AVC.
fn bench_codec_encryption(c: &mut Criterion) {
    use edgepack::codec::av1_frame::{av1c_of_sample_entry, Av1Parser, SequenceHeader};
    use edgepack::codec::hevc_slice::{slice_header_len, ParamSets};
    use edgepack::crypto::KeySetting;
    use edgepack::model::Codec;
    let root = small();
    let open = |name: &str| {
        let file = Bytes::from(std::fs::read(root.join(name)).expect("read fixture"));
        let idx = index::index_whole_file(&file, "\"bench\"").expect("index");
        (file, idx)
    };
    let mut g = c.benchmark_group("codec_encryption_maps");

    let (hevc, hidx) = open("hevc.mp4");
    let Codec::Hevc(cfg) = &hidx.tracks[0].info.codec else {
        panic!("hevc.mp4 track 0 is HEVC")
    };
    let ps = ParamSets::from_config(cfg);
    let len_size = usize::from(cfg.nal_length_size);
    let mut slices: Vec<Bytes> = Vec::new();
    for s in track0_samples(&hevc, &hidx) {
        let mut at = 0;
        while at + len_size <= s.len() {
            let n = s[at..at + len_size]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            let nal = s.slice(at + len_size..(at + len_size + n).min(s.len()));
            at += len_size + n;
            // VCL NAL units (nal_unit_type < 32, H.265 Table 7-1).
            if nal.first().is_some_and(|b| (b >> 1) & 0x3f < 32) {
                slices.push(nal);
            }
        }
    }
    let measured = slices
        .iter()
        .filter(|n| slice_header_len(n, &ps).is_some())
        .count();
    println!(
        "hevc.mp4: {} slice NAL units, {measured} measured",
        slices.len()
    );
    g.throughput(Throughput::Elements(slices.len() as u64));
    g.bench_function("hevc.mp4 slice segment header (per slice)", |b| {
        b.iter(|| {
            slices
                .iter()
                .map(|n| slice_header_len(black_box(n), &ps).unwrap_or(0))
                .sum::<usize>()
        })
    });

    let (av1, aidx) = open("av1.mp4");
    let seq = av1c_of_sample_entry(&aidx.tracks[0].info.sample_entry)
        .and_then(|b| SequenceHeader::from_av1c(b).unwrap());
    let samples = track0_samples(&av1, &aidx);
    let tiles: usize = {
        let mut p = Av1Parser::new(seq.clone());
        samples.iter().map(|s| p.tiles(s).unwrap().len()).sum()
    };
    println!("av1.mp4: {} samples, {tiles} tiles", samples.len());
    g.throughput(Throughput::Elements(samples.len() as u64));
    g.bench_function("av1.mp4 tile map (per sample)", |b| {
        b.iter(|| {
            let mut p = Av1Parser::new(seq.clone());
            samples
                .iter()
                .map(|s| p.tiles(black_box(s)).unwrap().len())
                .sum::<usize>()
        })
    });
    g.finish();

    let cfg = Config {
        keys: KeySetting::from_secret(|_| {
            Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into())
        }),
        ..Config::default()
    };
    let mut cache = MemoryCache::default();
    let mut origin = FileOrigin::new(&root);
    let mut g = c.benchmark_group("serve_warm_encrypted_codec_segment");
    for name in ["hevc.mp4", "av1.mp4"] {
        let asset = Asset::Mp4 { path: name.into() };
        let set = service::load_set(&asset, &mut origin, &mut cache, &cfg).unwrap();
        let video = set
            .tracks
            .iter()
            .find(|t| set.files[t.file].index.tracks[t.track].is_video())
            .unwrap();
        let track = TrackRef {
            bitrate: video.bitrate,
            name: video.name.clone(),
        };
        let clear = fragment_request(asset, &set, track, set.timeline.len() / 2);
        for scheme in [None, Some("cenc"), Some("cbcs-aapl")] {
            let mut req = clear.clone();
            req.options.encryption = scheme.map(str::to_string);
            let out = service::serve(&req, &mut origin, &mut cache, &cfg).unwrap();
            let parts = service::materialize(&out, &mut origin, &cfg).unwrap();
            let len = parts.iter().map(|b| b.len() as u64).sum::<u64>();
            let scheme = scheme.unwrap_or("clear");
            println!("{name} {scheme}: segment {len} B");
            g.throughput(Throughput::Bytes(len));
            g.bench_function(format!("{name} {scheme} (serve + materialize)"), |b| {
                b.iter(|| {
                    let mut o = FileOrigin::new(&root);
                    let out = service::serve(black_box(&req), &mut o, &mut cache, &cfg).unwrap();
                    service::materialize(&out, &mut o, &cfg).unwrap()
                })
            });
        }
    }
    g.finish();
}

/// Parsing the asset's CPIX document (`key_source = cpix`, or a key
/// provider's answer), once per cache fill, and decoding its cached
/// compact form, which every warm encrypted request does: the committed fixture
/// (one key, Widevine, PlayReady with ContentProtectionData, FairPlay).
fn bench_cpix(c: &mut Criterion) {
    let xml = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cpix/abr.cpix.xml"),
    )
    .unwrap();
    let mut g = c.benchmark_group("cpix");
    g.throughput(Throughput::Bytes(xml.len() as u64));
    g.bench_function("cpix_parse", |b| {
        b.iter(|| edgepack::crypto::cpix::parse(black_box(&xml)).unwrap())
    });
    // What a warm request does now: decode the cached compact form.
    let doc = edgepack::crypto::cpix::parse(&xml).unwrap();
    let cached = edgepack::crypto::cpix::encoding::encode(&doc);
    g.bench_function("cpix_decode_cached", |b| {
        b.iter(|| edgepack::crypto::cpix::encoding::decode(black_box(&cached)).unwrap())
    });
    // A key per track type (three keys, usage rules): the parse, the
    // cached decode, and what each track's key costs (rule matching).
    let xml = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cpix/trackkeys.cpix.xml"),
    )
    .unwrap();
    g.bench_function("cpix_trackkeys_parse", |b| {
        b.iter(|| edgepack::crypto::cpix::parse(black_box(&xml)).unwrap())
    });
    let doc = edgepack::crypto::cpix::parse(&xml).unwrap();
    let cached = edgepack::crypto::cpix::encoding::encode(&doc);
    g.bench_function("cpix_trackkeys_decode_cached", |b| {
        b.iter(|| edgepack::crypto::cpix::encoding::decode(black_box(&cached)).unwrap())
    });
    use edgepack::crypto::cpix::rules::{TrackTraits, TraitKind};
    let hd = TrackTraits {
        kind: TraitKind::Video,
        pixels: 1280 * 720,
        fps: Some(24.0),
        bitrate: 1_000_000,
        ..TrackTraits::default()
    };
    g.bench_function("cpix_key_for_track", |b| {
        b.iter(|| doc.key_for(black_box(&hd), "track").unwrap().kid)
    });
    g.finish();
}

criterion_group! {
    name = core;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .without_plots();
    targets = bench_index, bench_timeline, bench_segments, bench_manifests, bench_ts, bench_encryption, bench_codec_encryption, bench_cpix
}
criterion_main!(core);
