//! Peak heap of one request through the platform-free core, measured with a
//! counting global allocator (native build): the closest observable proxy of
//! the wasm linear memory a request needs, which Viceroy does not report.
//! Figures in BENCHMARKS.md.
//!
//! ```text
//! cargo bench --bench heap
//! ```
//!
//! Each row runs `service::serve` once over a `FileOrigin` (the native
//! harness) and a cache that copies what it returns, as the edge's does, and
//! reports the largest number of heap bytes live at any moment
//! during the call, above what was live before it. Segment rows plan the
//! segment (what the edge does before streaming payload it splices or
//! copies in 64 KB pieces); they do not read the payload. Native pointers
//! are 8 bytes where wasm32's are 4, so vectors of pointer-sized fields
//! weigh up to twice what they do in the module.

use bytes::Bytes;
use edgepack::service::{self, Config, Output};
use edgepack::source::{Cache, FileOrigin, MemoryCache};
use edgepack::timeline::{rescale, HNS};
use edgepack::url::{Asset, Format, Options, Resource, StreamRequest, TrackRef};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Relaxed) + new - l.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns (its result, peak bytes above the live bytes before).
fn peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let out = f();
    (out, PEAK.load(Relaxed) - base)
}

/// The edge reads a cache hit out of a body into guest memory: a copy per
/// request, which `MemoryCache` (handing out shared `Bytes`) would hide.
#[derive(Default)]
struct CopyingCache(MemoryCache);

impl Cache for CopyingCache {
    fn get(&mut self, key: &str) -> Option<Bytes> {
        self.0.get(key).map(|b| Bytes::copy_from_slice(&b))
    }
    fn put(&mut self, key: &str, value: Bytes) {
        self.0.put(key, value)
    }
    fn forget(&mut self, key: &str) {
        self.0.forget(key)
    }
}

fn req(asset: Asset, resource: Resource, format: Format) -> StreamRequest {
    StreamRequest {
        asset,
        resource,
        options: Options {
            format,
            ..Options::default()
        },
    }
}

fn mb(b: usize) -> String {
    format!("{:.2} MB", b as f64 / 1_048_576.0)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // useful either way: this harness has no filters.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media");
    if !root.join("long_2h.mp4").is_file() {
        eprintln!("fixtures/media is incomplete: run `bash fixtures/generate.sh` first");
        std::process::exit(1);
    }
    let cfg = Config::default();
    let long = || Asset::Mp4 {
        path: "long_2h.mp4".into(),
    };
    let abr = || Asset::Ism {
        path: "abr/abr.ism".into(),
    };
    let serve = |r: &StreamRequest, cache: &mut CopyingCache| -> (Output, usize) {
        let mut o = FileOrigin::new(&root);
        let (out, p) = peak(|| service::serve(r, &mut o, cache, &cfg));
        (out.expect("serve"), p)
    };
    let mut rows: Vec<(String, usize, u64)> = Vec::new();

    // Cold: empty cache (probe, moov read, index build, manifest).
    let master = req(long(), Resource::Manifest, Format::HlsCmaf);
    let (out, p) = serve(&master, &mut CopyingCache::default());
    rows.push(("cold HLS master, 2 h".into(), p, out.len()));

    // Warm: the cache holds the index (as the edge cache would).
    let mut cache = CopyingCache::default();
    serve(&master, &mut cache);
    let (out, p) = serve(&master, &mut cache);
    rows.push(("warm HLS master, 2 h".into(), p, out.len()));
    let mpd = req(long(), Resource::Manifest, Format::DashCmaf);
    let (out, p) = serve(&mpd, &mut cache);
    rows.push(("warm DASH MPD, 2 h".into(), p, out.len()));
    let set = {
        let mut o = FileOrigin::new(&root);
        service::load_set(&long(), &mut o, &mut cache, &cfg).expect("set")
    };
    let video = set
        .tracks
        .iter()
        .find(|t| set.track_index(t).is_video())
        .expect("video");
    let track = TrackRef {
        bitrate: video.bitrate,
        name: video.name.clone(),
    };
    let playlist = req(
        long(),
        Resource::MediaPlaylist {
            track: track.clone(),
            keyframes: false,
        },
        Format::HlsCmaf,
    );
    let (out, p) = serve(&playlist, &mut cache);
    rows.push(("warm HLS media playlist, 2 h video".into(), p, out.len()));
    let n = set.timeline.len() / 2;
    let time = rescale(set.timeline.starts[n], set.timeline.timescale, HNS) as u64;
    let seg = req(long(), Resource::Fragment { track, time }, Format::HlsCmaf);
    let (out, p) = serve(&seg, &mut cache);
    rows.push(("warm 6 s segment plan, 2 h video".into(), p, out.len()));

    let abr_master = req(abr(), Resource::Manifest, Format::HlsCmaf);
    serve(&abr_master, &mut cache);
    let (out, p) = serve(&abr_master, &mut cache);
    rows.push(("warm HLS master, ABR .ism".into(), p, out.len()));
    let abr_set = {
        let mut o = FileOrigin::new(&root);
        service::load_set(&abr(), &mut o, &mut cache, &cfg).expect("abr set")
    };
    for (name, bitrate) in [("720p", 1_000_000), ("240p", 250_000)] {
        let n = abr_set.timeline.len() / 2;
        let time = rescale(abr_set.timeline.starts[n], abr_set.timeline.timescale, HNS) as u64;
        let track = TrackRef {
            bitrate,
            name: "video".into(),
        };
        let r = req(abr(), Resource::Fragment { track, time }, Format::HlsCmaf);
        let (out, p) = serve(&r, &mut cache);
        rows.push((format!("warm 6 s segment plan, ABR {name}"), p, out.len()));
    }
    let blob = cache
        .0
        .get(&edgepack::source::index_key("long_2h.mp4"))
        .map_or(0, |b| b.len());

    println!("peak heap per request (native, counting allocator; 2 h index blob {blob} B)");
    println!("| request | peak heap | response |");
    println!("|---|---|---|");
    for (name, p, len) in rows {
        println!("| {name} | {} | {len} B |", mb(p));
    }
}
