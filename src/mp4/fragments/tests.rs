use super::*;
use crate::index::{index_whole_file, MediaIndex};
use crate::testutil::TempDir;

fn fixture(name: &str) -> Bytes {
    crate::index::tests::fixture(name)
}

fn all_samples(idx: &MediaIndex) -> Vec<Vec<crate::model::Sample>> {
    idx.tracks
        .iter()
        .map(|t| {
            t.samples(0..t.sample_count())
                .unwrap()
                .map(|s| s.unwrap())
                .collect()
        })
        .collect()
}

/// `-c copy` keeps the samples: the fragmented copies index to the same
/// tracks, times, sizes and sync points as the progressive original, only
/// the offsets differ (the payload bytes are the same).
#[test]
fn fragmented_copies_index_like_the_original() {
    let orig_file = fixture("muxed_moov_end.mp4");
    let orig = index_whole_file(&orig_file, "").unwrap();
    // ffmpeg's ISMV writer uses a 10 MHz timescale and drops the edit
    // lists: same samples, other times.
    for (name, same_edits) in [("frag_dur.mp4", true), ("frag.ismv", false)] {
        let file = fixture(name);
        let idx = index_whole_file(&file, "").unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(idx.tracks.len(), orig.tracks.len(), "{name}");
        for (a, b) in idx.tracks.iter().zip(&orig.tracks) {
            let (ia, ib) = (&a.info, &b.info);
            assert_eq!(ia.kind, ib.kind, "{name}");
            // Within a millisecond: 10 MHz ticks round AAC frame times.
            let (da, db) = (
                u128::from(ia.duration) * u128::from(ib.timescale),
                u128::from(ib.duration) * u128::from(ia.timescale),
            );
            let ms = u128::from(ia.timescale) * u128::from(ib.timescale) / 1000;
            assert!(da.abs_diff(db) <= ms, "{name} track {}", ia.track_id);
            if same_edits {
                assert_eq!(ia.timescale, ib.timescale, "{name}");
                assert_eq!(ia.presentation_offset, ib.presentation_offset, "{name}");
            }
            // The sample entries differ only in `btrt` (recomputed by
            // ffmpeg when it remuxes; absent from ISMV).
            assert_eq!(ia.codec_string, ib.codec_string, "{name}");
            assert_eq!(a.has_cts, b.has_cts, "{name}");
            assert_eq!(a.total_bytes, b.total_bytes, "{name}");
        }
        for (ta, tb) in all_samples(&idx).iter().zip(all_samples(&orig)) {
            assert_eq!(ta.len(), tb.len(), "{name}");
            for (i, (a, b)) in ta.iter().zip(&tb).enumerate() {
                assert_eq!((a.size, a.sync), (b.size, b.sync), "{name} sample {i}");
                if same_edits {
                    assert_eq!(
                        (a.dts, a.duration, a.cts_offset),
                        (b.dts, b.duration, b.cts_offset),
                        "{name} sample {i}"
                    );
                }
                let (pa, pb) = (a.offset as usize, b.offset as usize);
                assert_eq!(
                    file[pa..pa + a.size as usize],
                    orig_file[pb..pb + b.size as usize],
                    "{name} sample {i} payload"
                );
            }
        }
    }
}

/// Reads a cold index of each fragmented layout costs, through the same
/// step machine the edge drives (a directory origin counts them).
fn cold_reads(
    root: &std::path::Path,
    name: &str,
) -> std::result::Result<(usize, MediaIndex), String> {
    use crate::source::{load_indexes, FileOrigin, MemoryCache};
    let mut origin = FileOrigin::new(root);
    let (mut idx, reads) = load_indexes(&[name.into()], &mut origin, &mut MemoryCache::default())
        .map_err(|e| e.to_string())?;
    Ok((reads, idx.remove(0)))
}

fn media_frag() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media/frag");
    dir.join("muxed_kf.mp4").exists().then_some(dir)
}

#[test]
fn cold_reads_per_layout() {
    let Some(dir) = media_frag() else {
        eprintln!("skipped: fixtures/media/frag missing (fixtures/generate.sh)");
        return;
    };
    let (_, orig) = cold_reads(dir.parent().unwrap(), "muxed_moov_end.mp4").unwrap();
    for name in [
        "muxed_kf.mp4",
        "muxed_cmaf.mp4",
        "muxed_sidx.mp4",
        "muxed_dur.mp4",
        "muxed_empty.mp4",
        "muxed.ismv",
        "video_360_kf.mp4",
        "video_360.ismv",
        "audio_eng.isma",
    ] {
        let (reads, idx) = cold_reads(&dir, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!("{name}: {reads} reads");
        // Head (with the moov and the first fragments), then 4 MB files
        // in one window.
        assert!(reads <= 3, "{name}: {reads} reads");
        if name.starts_with("muxed") {
            let counts = |i: &MediaIndex| {
                i.tracks
                    .iter()
                    .map(|t| t.sample_count())
                    .collect::<Vec<_>>()
            };
            assert_eq!(counts(&idx), counts(&orig), "{name}");
        }
    }
}

/// A 2-hour title fragmented at every keyframe (3600 fragments, 70 MB):
/// the mfra sizes the windows; the reads are counted.
#[test]
fn long_fragmented_title_within_the_read_budget() {
    let Some(dir) = media_frag() else {
        return;
    };
    let long = dir.parent().unwrap().join("long_2h.mp4");
    let work = TempDir::new("frag-long");
    let out = work.join("long_kf.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&long)
        .args([
            "-map",
            "0",
            "-c",
            "copy",
            "-movflags",
            "frag_keyframe+delay_moov",
        ])
        .arg(&out)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: ffmpeg or long_2h.mp4 missing");
        return;
    }
    let t0 = std::time::Instant::now();
    let (reads, idx) = cold_reads(&work, "long_kf.mp4").unwrap();
    let ms = t0.elapsed().as_millis();
    let samples: u32 = idx.tracks.iter().map(|t| t.sample_count()).sum();
    eprintln!("long_kf.mp4: {reads} reads, {samples} samples, {ms} ms");
    assert_eq!(samples, 172_800 + 337_500);
    assert!(reads <= 2 + MAX_FRAGMENT_READS, "{reads}");
}

/// A file described by its boxes' bytes at their offsets (the rest zero),
/// so layouts of hundreds of MB cost nothing to build.
struct Virtual {
    size: u64,
    pieces: Vec<(u64, Vec<u8>)>,
    moov_end: u64,
}

impl Virtual {
    fn window(&self, offset: u64, len: u64) -> Vec<u8> {
        let mut out = vec![0u8; len as usize];
        for (at, bytes) in &self.pieces {
            let (a, b) = (*at, *at + bytes.len() as u64);
            let (lo, hi) = (a.max(offset), b.min(offset + len));
            if lo < hi {
                out[(lo - offset) as usize..(hi - offset) as usize]
                    .copy_from_slice(&bytes[(lo - a) as usize..(hi - a) as usize]);
            }
        }
        out
    }
}

fn header(size: u64, typ: &[u8; 4]) -> Vec<u8> {
    let mut v = (size as u32).to_be_bytes().to_vec();
    v.extend_from_slice(typ);
    v
}

/// ftyp + moov (1000 bytes), then `n` fragments of a `moof_len` moof and an
/// `mdat_len` mdat, then an mfra listing them when `mfra`.
fn layout(n: usize, moof_len: u64, mdat_len: u64, mfra: bool) -> Virtual {
    let mut pieces = vec![(0, header(1000, b"moov"))];
    let mut at = 1000;
    let mut moofs = Vec::new();
    for _ in 0..n {
        moofs.push(at);
        pieces.push((at, header(moof_len, b"moof")));
        at += moof_len;
        pieces.push((at, header(mdat_len, b"mdat")));
        at += mdat_len;
    }
    if mfra {
        let mut w = crate::mux::boxes::BoxWriter::default();
        w.start(b"mfra");
        w.start_full(b"tfra", 1, 0).u32(1).u32(0).u32(n as u32);
        for (i, m) in moofs.iter().enumerate() {
            w.u64(i as u64).u64(*m).u8(1).u8(1).u8(1);
        }
        w.end();
        let len = w.len() as u32 + 16;
        w.start_full(b"mfro", 0, 0).u32(len).end();
        w.end();
        let bytes = w.buf;
        pieces.push((at, bytes.clone()));
        at += bytes.len() as u64;
    }
    Virtual {
        size: at,
        pieces,
        moov_end: 1000,
    }
}

/// Drives a scan over `v` from the end of its moov; returns its moofs and
/// the reads made, or the error.
fn scan(v: &Virtual) -> Result<(usize, usize)> {
    let mut s = FragmentScan::new(v.moov_end, v.size);
    let mut guard = 0;
    while let Next::Read { offset, len } = s.next() {
        s.feed(offset, &v.window(offset, len))?;
        guard += 1;
        assert!(guard < 1000, "the scan does not converge");
    }
    Ok((s.moofs.len(), s.reads))
}

#[test]
fn small_fragments_are_read_in_few_windows() {
    // 400 fragments of 20 KB (8 MB): one window.
    assert_eq!(scan(&layout(400, 500, 20_000, false)).unwrap(), (400, 1));
    // 4000 of them (80 MB) without mfra: 8 MB windows.
    let (n, reads) = scan(&layout(4000, 500, 20_000, false)).unwrap();
    assert_eq!(n, 4000);
    assert!(reads <= 12, "{reads}");
    // With mfra: the tail, then windows planned from the moof offsets.
    let (n, reads) = scan(&layout(4000, 500, 20_000, true)).unwrap();
    assert_eq!(n, 4000);
    assert!(reads <= 12, "{reads}");
}

#[test]
fn big_fragments_cost_one_small_read_each() {
    // 20 fragments of 6 MB: the first window, then a read per moof.
    let v = layout(20, 2000, 6 << 20, false);
    let mut s = FragmentScan::new(v.moov_end, v.size);
    let mut lens = Vec::new();
    while let Next::Read { offset, len } = s.next() {
        lens.push(len);
        s.feed(offset, &v.window(offset, len)).unwrap();
    }
    assert_eq!(s.moofs.len(), 20);
    assert!(lens[2..].iter().all(|&l| l <= MOOF_READ_LEN), "{lens:?}");
    // A moof bigger than the read: extended by one more read.
    let (n, _) = scan(&layout(3, 200_000, 6 << 20, false)).unwrap();
    assert_eq!(n, 3);
}

#[test]
fn over_budget_is_refused_with_the_count() {
    let e = scan(&layout(60, 2000, 6 << 20, true)).unwrap_err();
    assert_eq!(e.kind, crate::mp4::Mp4ErrorKind::Unsupported);
    let msg = e.to_string();
    assert!(msg.contains("more than 24 origin reads"), "{msg}");
    assert!(msg.contains("of 60"), "{msg}");
}

#[test]
fn hostile_layouts_are_errors() {
    // A box running past the end of the file.
    let mut v = layout(3, 500, 1000, false);
    v.pieces.push((v.size, header(1 << 30, b"moof")));
    v.size += 100;
    assert_eq!(
        scan(&v).unwrap_err().kind,
        crate::mp4::Mp4ErrorKind::Truncated
    );
    // A box smaller than its header (a zero-size loop would need size < 8).
    let mut v = layout(3, 500, 1000, false);
    v.pieces.push((v.size, header(4, b"moof")));
    v.size += 100;
    assert!(scan(&v).is_err());
    // An mfro pointing before the moov.
    let mut v = layout(2000, 500, 20_000, true);
    let last = v.pieces.last_mut().unwrap();
    let n = last.1.len();
    last.1[n - 4..].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(scan(&v).is_err());
    // A second moov.
    let mut v = layout(3, 500, 1000, false);
    v.pieces.push((v.size, header(100, b"moov")));
    v.size += 100;
    assert!(scan(&v).is_err());
}

/// A file whose moofs are too far apart for the walk's budget (30
/// fragments 5 MB apart, sparse: only the head is built) is indexed from
/// its sidx under the default policy; one that fits keeps the walk.
#[test]
fn a_sidx_replaces_the_walk_when_it_would_exceed_the_budget() {
    use crate::mp4::fragtable::TrackKey;
    use crate::mp4::sidx::tests::sidx;
    let keys = vec![TrackKey {
        track_id: 1,
        timescale: 1000,
    }];
    for (fragments, table) in [(30u32, true), (3, false)] {
        let refs: Vec<_> = (0..fragments)
            .map(|_| (0u8, 5u32 << 20, 2000u32, true, 1u8))
            .collect();
        let mut head = sidx(false, 1, 1000, 0, 0, &refs);
        // The first fragment's moof (its size is all the scan reads of it).
        head.extend(16u32.to_be_bytes());
        head.extend(b"moof");
        head.extend([0u8; 8]);
        let size = head.len() as u64 - 16 + u64::from(fragments) * (5 << 20);
        let mut scan = FragmentScan::with_tables(0, size, TablePolicy::OverBudget, keys.clone());
        scan.feed(0, &head).unwrap();
        match scan.tables() {
            Some(Tables::Sidx(t)) => {
                assert!(table, "{fragments} fragments: table");
                assert_eq!(t[0].fragments.len(), fragments as usize);
                assert_eq!(scan.next(), Next::Done, "the head held the first moof");
                assert_eq!(scan.moofs.len(), 1);
            }
            Some(Tables::Tfra { .. }) => panic!("tfra"),
            None => {
                assert!(!table, "{fragments} fragments: walk");
                assert_ne!(scan.next(), Next::Done);
            }
        }
    }
}
