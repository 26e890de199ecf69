//! Test helpers: synthetic MP4s with chosen sample tables.

use crate::index::MediaIndex;
use crate::mux::boxes::BoxWriter;
use bytes::Bytes;

/// A track to synthesize.
pub struct SynthTrack {
    pub video: bool,
    pub timescale: u32,
    /// (duration, size, sync, cts_offset) per sample.
    pub samples: Vec<(u32, u32, bool, i32)>,
    /// Edit list media_time (None: no edit list).
    pub edit: Option<i64>,
    /// A sample entry box to use instead of the default `avc1`/`mp4a`.
    pub entry: Option<Vec<u8>>,
    /// A whole edit list, (segment_duration in the movie timescale 1000,
    /// media_time), written instead of `edit` when not empty.
    pub elst: Vec<(u32, i64)>,
    /// Handler type instead of `vide`/`soun` (text tracks).
    pub handler: Option<[u8; 4]>,
    /// Sample payloads (sizes must match `samples`); empty: zero-filled.
    pub payloads: Vec<Vec<u8>>,
    /// `mdhd` packed language (ISO 639-2/T, §8.4.2.3); `eng` by default.
    pub language: u16,
    /// More `stsd` entries, each with the sample where `stsc` switches to
    /// it (several sample descriptions, `mp4::descriptions`).
    pub more_entries: Vec<(u32, Vec<u8>)>,
}

impl SynthTrack {
    /// Video at `fps` with a keyframe every `gop` frames, B-frame style
    /// composition offsets and an edit of one frame.
    pub fn video(frames: u32, fps: u32, gop: u32) -> Self {
        let ts = fps * 512;
        let samples = (0..frames)
            .map(|i| {
                let cts = match i % gop {
                    0 => 512,
                    k if k % 2 == 1 => 1024,
                    _ => 0,
                };
                (512, 1000 + i % 7, i % gop == 0, cts)
            })
            .collect();
        SynthTrack {
            video: true,
            timescale: ts,
            samples,
            edit: Some(512),
            entry: None,
            elst: Vec::new(),
            handler: None,
            payloads: Vec::new(),
            language: 0x15c7,
            more_entries: Vec::new(),
        }
    }

    /// AAC-like audio: 1024-sample frames at 48 kHz with a priming edit.
    pub fn audio(frames: u32) -> Self {
        SynthTrack {
            video: false,
            timescale: 48000,
            samples: (0..frames).map(|i| (1024, 300 + i % 5, true, 0)).collect(),
            edit: Some(1024),
            entry: None,
            elst: Vec::new(),
            handler: None,
            payloads: Vec::new(),
            language: 0x15c7,
            more_entries: Vec::new(),
        }
    }

    /// A text track (handler `handler`, sample entry `entry`) at timescale
    /// 1000 whose samples are `(duration, payload)`.
    pub fn text(handler: &[u8; 4], entry: Vec<u8>, samples: Vec<(u32, Vec<u8>)>) -> Self {
        SynthTrack {
            video: false,
            timescale: 1000,
            samples: samples
                .iter()
                .map(|(d, p)| (*d, p.len() as u32, true, 0))
                .collect(),
            edit: None,
            entry: Some(entry),
            elst: Vec::new(),
            handler: Some(*handler),
            payloads: samples.into_iter().map(|(_, p)| p).collect(),
            language: 0x15c7,
            more_entries: Vec::new(),
        }
    }

    /// This track with the packed `mdhd` language `code`.
    pub fn with_language(mut self, code: &str) -> Self {
        let b = code.as_bytes();
        self.language = b
            .iter()
            .take(3)
            .fold(0u16, |v, c| (v << 5) | u16::from(c - 0x60));
        self
    }

    /// This track with the edit list `elst` (see [`SynthTrack::elst`]).
    pub fn with_elst(mut self, elst: &[(u32, i64)]) -> Self {
        self.elst = elst.to_vec();
        self
    }

    /// This track with `entry` as its sample entry.
    pub fn with_entry(mut self, entry: Vec<u8>) -> Self {
        self.entry = Some(entry);
        self
    }
}

/// An audio sample entry box `fourcc` with `channelcount` 2 and 48 kHz (as
/// ffmpeg writes whatever the stream carries) around `children` (type,
/// payload).
pub fn audio_entry(fourcc: &[u8; 4], children: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut w = BoxWriter::default();
    w.start(fourcc)
        .zeros(6)
        .u16(1)
        .zeros(8)
        .u16(2)
        .u16(16)
        .zeros(4)
        .u32(48000 << 16);
    for (typ, payload) in children {
        w.start(typ).bytes(payload).end();
    }
    w.end();
    w.buf
}

/// The default 160x90 `avc1` entry with `children` (type, payload) after
/// its `avcC`: `colr`, `dvcC`, … .
pub fn video_entry(children: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut w = BoxWriter::default();
    sample_entry_open(&mut w);
    for (typ, payload) in children {
        w.start(typ).bytes(payload).end();
    }
    w.end();
    w.buf
}

/// A one-file media set of synthetic tracks.
pub fn synth_set(tracks: &[SynthTrack], target_ms: u32) -> crate::media_set::MediaSet {
    let file = crate::media_set::SourceFile {
        path: "synth.mp4".into(),
        index: synth_index(tracks),
    };
    crate::media_set::MediaSet::all_tracks(vec![file], target_ms).unwrap()
}

const AVC1_ENTRY: &[u8] = &[
    0, 0, 0, 0, 0, 0, 0, 1, // SampleEntry
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // pre_defined/reserved
    0, 160, 0, 90, 0, 0x48, 0, 0, 0, 0x48, 0, 0, 0, 0, 0, 0, 0, 1, // size, res, frame_count
];

/// A `fourcc` video entry of `width`x`height` whose `avcC` holds
/// `sps`/`pps` (profile, compatibility and level from the SPS), NAL
/// length size 4.
pub fn avc_entry(fourcc: &[u8; 4], (width, height): (u16, u16), sps: &[u8], pps: &[u8]) -> Vec<u8> {
    let mut w = BoxWriter::default();
    w.start(fourcc)
        .zeros(6)
        .u16(1)
        .zeros(16)
        .u16(width)
        .u16(height)
        .bytes(&[0, 0x48, 0, 0, 0, 0x48, 0, 0, 0, 0, 0, 0, 0, 1])
        .zeros(32)
        .u16(0x18)
        .u16(0xffff);
    w.start(b"avcC")
        .bytes(&[1, sps[1], sps[2], sps[3], 0xff, 0xe1])
        .u16(sps.len() as u16)
        .bytes(sps)
        .u8(1)
        .u16(pps.len() as u16)
        .bytes(pps)
        .end();
    w.end();
    w.buf
}

/// Opens the default `avc1` entry and writes its `avcC`.
fn sample_entry_open(w: &mut BoxWriter) {
    w.start(b"avc1")
        .bytes(AVC1_ENTRY)
        .zeros(32)
        .u16(0x18)
        .u16(0xffff);
    w.start(b"avcC").bytes(&[
        1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 2, 0x67, 0x64, 1, 0, 2, 0x68, 0xee,
    ]);
    w.end();
}

fn sample_entry(w: &mut BoxWriter, video: bool) {
    if video {
        sample_entry_open(w);
        w.end();
    } else {
        w.start(b"mp4a")
            .zeros(6)
            .u16(1)
            .zeros(8)
            .u16(2)
            .u16(16)
            .zeros(4)
            .u32(48000 << 16);
        w.start_full(b"esds", 0, 0).bytes(&[
            0x03, 0x19, 0, 1, 0, 0x04, 0x11, 0x40, 0x15, 0, 0, 0, 0, 1, 0xf4, 0, 0, 1, 0xf4, 0,
            0x05, 0x02, 0x11, 0x90, 0x06, 0x01, 0x02,
        ]);
        w.end().end();
    }
}

/// Writes `ftyp` + `moov` + `mdat` with the given tracks, samples laid out
/// track after track (one chunk per sample).
pub fn synth_mp4(tracks: &[SynthTrack]) -> Bytes {
    // The mdat starts after a moov whose size we learn by writing it once.
    let mut w = BoxWriter::default();
    w.start(b"ftyp").bytes(b"isom").u32(0).bytes(b"isom").end();
    let moov_len = write_moov(tracks, 0).len();
    let mdat_start = (w.len() + moov_len) as u64 + 8;
    let moov = write_moov(tracks, mdat_start);
    w.bytes(&moov);
    let payload: u64 = tracks
        .iter()
        .flat_map(|t| t.samples.iter())
        .map(|s| u64::from(s.1))
        .sum();
    w.u32((payload + 8) as u32).bytes(b"mdat");
    for t in tracks {
        for (i, s) in t.samples.iter().enumerate() {
            if let Some(p) = t.payloads.get(i) {
                w.bytes(p);
                continue;
            }
            w.zeros(s.1 as usize);
            let at = w.len() - s.1 as usize;
            if s.1 > 0 {
                w.buf[at] = i as u8;
            }
        }
    }
    Bytes::from(w.buf)
}

fn write_moov(tracks: &[SynthTrack], mdat_start: u64) -> Vec<u8> {
    let mut w = BoxWriter::default();
    w.start(b"moov");
    w.start_full(b"mvhd", 0, 0)
        .u32(0)
        .u32(0)
        .u32(1000)
        .u32(0)
        .zeros(80)
        .end();
    let mut offset = mdat_start;
    for (n, t) in tracks.iter().enumerate() {
        w.start(b"trak");
        w.start_full(b"tkhd", 0, 3)
            .u32(0)
            .u32(0)
            .u32(n as u32 + 1)
            .zeros(60)
            .u32(160 << 16)
            .u32(90 << 16)
            .end();
        if !t.elst.is_empty() {
            w.start(b"edts")
                .start_full(b"elst", 0, 0)
                .u32(t.elst.len() as u32);
            for &(d, mt) in &t.elst {
                w.u32(d).u32(mt as u32).u32(0x10000);
            }
            w.end().end();
        } else if let Some(mt) = t.edit {
            w.start(b"edts")
                .start_full(b"elst", 0, 0)
                .u32(1)
                .u32(0)
                .u32(mt as u32)
                .u32(0x10000)
                .end()
                .end();
        }
        w.start(b"mdia");
        w.start_full(b"mdhd", 0, 0)
            .u32(0)
            .u32(0)
            .u32(t.timescale)
            .u32(
                t.samples
                    .iter()
                    .map(|s| u64::from(s.0))
                    .sum::<u64>()
                    .min(0xFFFF_FFFE) as u32,
            )
            .u16(t.language)
            .u16(0)
            .end();
        let handler = t
            .handler
            .unwrap_or(if t.video { *b"vide" } else { *b"soun" });
        w.start_full(b"hdlr", 0, 0)
            .u32(0)
            .bytes(&handler)
            .zeros(13)
            .end();
        w.start(b"minf").start(b"stbl");
        w.start_full(b"stsd", 0, 0)
            .u32(1 + t.more_entries.len() as u32);
        match &t.entry {
            Some(e) => {
                w.bytes(e);
            }
            None => sample_entry(&mut w, t.video),
        }
        for (_, e) in &t.more_entries {
            w.bytes(e);
        }
        w.end();
        w.start_full(b"stts", 0, 0).u32(t.samples.len() as u32);
        for s in &t.samples {
            w.u32(1).u32(s.0);
        }
        w.end();
        if t.samples.iter().any(|s| s.3 != 0) {
            w.start_full(b"ctts", 1, 0).u32(t.samples.len() as u32);
            for s in &t.samples {
                w.u32(1).i32(s.3);
            }
            w.end();
        }
        if t.video {
            let syncs: Vec<u32> = (0..t.samples.len())
                .filter(|&i| t.samples[i].2)
                .map(|i| i as u32 + 1)
                .collect();
            w.start_full(b"stss", 0, 0).u32(syncs.len() as u32);
            for s in syncs {
                w.u32(s);
            }
            w.end();
        }
        w.start_full(b"stsz", 0, 0)
            .u32(0)
            .u32(t.samples.len() as u32);
        for s in &t.samples {
            w.u32(s.1);
        }
        w.end();
        // One chunk per sample: a switch at sample i is chunk i + 1.
        w.start_full(b"stsc", 0, 0)
            .u32(1 + t.more_entries.len() as u32)
            .u32(1)
            .u32(1)
            .u32(1);
        for (k, (at, _)) in t.more_entries.iter().enumerate() {
            w.u32(at + 1).u32(1).u32(k as u32 + 2);
        }
        w.end();
        w.start_full(b"co64", 0, 0).u32(t.samples.len() as u32);
        for s in &t.samples {
            w.u64(offset);
            offset += u64::from(s.1);
        }
        w.end();
        w.end().end().end().end(); // stbl minf mdia trak
    }
    w.end();
    w.buf
}

/// Indexes a synthetic file.
pub fn synth_index(tracks: &[SynthTrack]) -> MediaIndex {
    let f = synth_mp4(tracks);
    crate::index::index_whole_file(&f, "synth").unwrap_or_else(|e| panic!("{e}"))
}

/// Every audio and video track of a committed small fixture as a media set.
pub fn fixture_set(name: &str, target_ms: u32) -> crate::media_set::MediaSet {
    let idx = crate::index::index_whole_file(&crate::index::tests::fixture(name), "").unwrap();
    let file = crate::media_set::SourceFile {
        path: name.into(),
        index: idx,
    };
    crate::media_set::MediaSet::all_tracks(vec![file], target_ms).unwrap()
}

/// A segment's bytes, its runs read from the whole file (what an adapter
/// does with range reads).
pub fn materialize(seg: &crate::mux::cmaf::MediaSegment, file: &Bytes) -> Vec<u8> {
    let mut out = seg.header.to_vec();
    for r in &seg.runs {
        out.extend_from_slice(&file[r.offset as usize..r.end() as usize]);
    }
    out
}

/// Decodes `path` with `ffmpeg -v error`, asserting silence, and returns the
/// number of frames decoded; `None` when ffmpeg is not installed.
pub fn ffmpeg_frames(path: &std::path::Path) -> Option<u32> {
    let o = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "framemd5", "-"])
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.trim().is_empty(),
        "{}: {err}",
        path.display()
    );
    Some(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count() as u32,
    )
}

/// A media set of several `fixtures/small` files (a urlset), every track of
/// each, in file order.
pub fn fixture_files_set(names: &[&str], target_ms: u32) -> crate::media_set::MediaSet {
    let files = names
        .iter()
        .map(|name| crate::media_set::SourceFile {
            path: (*name).into(),
            index: crate::index::index_whole_file(&crate::index::tests::fixture(name), "").unwrap(),
        })
        .collect();
    crate::media_set::MediaSet::all_tracks(files, target_ms).unwrap()
}

/// `fixtures/{dir}` in the source tree.
pub fn fixtures_dir(dir: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir)
}

/// `fixtures/media` when `needs` (a path inside it) was generated by
/// `fixtures/generate.sh`; otherwise `None`, after printing why the caller
/// skips. A fresh clone has no `fixtures/media`, and `cargo test` must pass
/// there before any setup step; under `CI=true` (where `scripts/setup.sh`
/// generated it) a missing file fails the test instead of hiding it.
pub fn media_or_skip(test: &str, needs: &str) -> Option<std::path::PathBuf> {
    let root = fixtures_dir("media");
    if root.join(needs).exists() {
        return Some(root);
    }
    let why = format!("{test}: fixtures/media/{needs} is missing (run fixtures/generate.sh)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}; CI=true requires the generated media");
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of a
    // passing test, and a skip should be seen.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{why}: skipped");
    None
}

/// A fresh directory `{temp}/edgepack-{tag}-{pid}-{n}` (`n` counts the
/// directories this process made, so tests running at once never share
/// one), removed with everything in it when dropped, also when the test
/// panics (tests unwind whatever the profile's `panic`), so `cargo test`
/// leaves nothing in the temp directory. Keep it alive as long as
/// anything (a `FileOrigin`, a child process) still uses the path: bind
/// it to a name (`_dir`), never to `_`, which drops it at once.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("edgepack-{tag}-{}-{n}", std::process::id()));
        // Left by an earlier process with the same pid that was killed.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Peak heap of the current thread, for tests that bound a request's
/// memory: a counting global allocator (as `benches/heap.rs`) whose counts
/// are per thread, so tests running at once on other threads do not mix
/// in. Memory freed on another thread than the one that allocated it skews
/// both threads' counts; the requests measured here run on one.
mod heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(delta: isize) {
        let _ = LIVE.try_with(|live| {
            let now = live.get().wrapping_add(delta);
            live.set(now);
            let _ = PEAK.try_with(|peak| {
                if now > peak.get() {
                    peak.set(now);
                }
            });
        });
    }

    struct Counting;

    // SAFETY: every call is forwarded to `System` unchanged; the counters
    // are const-initialised thread locals without destructors, so updating
    // them never allocates nor touches a torn-down thread local.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let p = System.alloc(l);
            if !p.is_null() {
                add(l.size() as isize);
            }
            p
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            let p = System.alloc_zeroed(l);
            if !p.is_null() {
                add(l.size() as isize);
            }
            p
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            System.dealloc(p, l);
            add(-(l.size() as isize));
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            let q = System.realloc(p, l, new);
            if !q.is_null() {
                add(new as isize - l.size() as isize);
            }
            q
        }
    }

    #[global_allocator]
    static ALLOC: Counting = Counting;

    /// Runs `f`; returns its result and the most heap bytes this thread
    /// had live during it above what it had before.
    pub fn peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let base = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(base));
        let out = f();
        let top = PEAK.with(Cell::get);
        (out, usize::try_from(top - base).unwrap_or(0))
    }
}

pub use heap::peak as heap_peak;

/// (type, payload) of the boxes in `b`.
pub fn boxes(b: &[u8]) -> Vec<(String, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= b.len() {
        let size = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        assert!(size >= 8 && at + size <= b.len(), "box at {at}");
        out.push((
            String::from_utf8_lossy(&b[at + 4..at + 8]).into_owned(),
            &b[at + 8..at + size],
        ));
        at += size;
    }
    assert_eq!(at, b.len());
    out
}

pub fn child<'a>(b: &'a [u8], typ: &str) -> &'a [u8] {
    boxes(b)
        .into_iter()
        .find(|(t, _)| t == typ)
        .unwrap_or_else(|| panic!("no {typ}"))
        .1
}

#[test]
fn temp_dirs_are_unique_and_removed_on_drop_and_on_panic() {
    let a = TempDir::new("testutil");
    let b = TempDir::new("testutil");
    assert_ne!(a.path(), b.path());
    std::fs::create_dir_all(a.join("x/y")).unwrap();
    std::fs::write(a.join("x/y/z"), b"z").unwrap();
    let (pa, pb) = (a.to_path_buf(), b.to_path_buf());
    drop(a);
    assert!(!pa.exists() && pb.is_dir());
    let panicked = std::panic::catch_unwind(move || {
        let _keep = b;
        panic!("a failing test");
    });
    assert!(panicked.is_err() && !pb.exists());
}
