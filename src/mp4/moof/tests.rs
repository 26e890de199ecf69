use super::*;
use crate::mp4::Mp4ErrorKind;
use crate::mux::boxes::BoxWriter;

const TREX: Trex = Trex {
    track_id: 1,
    sample_description_index: 1,
    duration: 10,
    size: 7,
    flags: NON_SYNC,
};

/// What a test trun holds per sample.
#[derive(Clone, Copy)]
struct S {
    duration: u32,
    size: u32,
    flags: u32,
    cts: i32,
}

fn samples(n: u32) -> Vec<S> {
    (0..n)
        .map(|i| S {
            duration: 100 + i,
            size: 1000 + i,
            flags: if i == 2 { 0 } else { NON_SYNC },
            cts: i as i32 * 3 - 4,
        })
        .collect()
}

/// Writes a trun with `flags` (version `v`) for `s`.
fn trun(w: &mut BoxWriter, v: u8, flags: u32, data_offset: i32, first: u32, s: &[S]) {
    w.start_full(b"trun", v, flags).u32(s.len() as u32);
    if flags & TRUN_DATA_OFFSET != 0 {
        w.i32(data_offset);
    }
    if flags & TRUN_FIRST_FLAGS != 0 {
        w.u32(first);
    }
    for x in s {
        if flags & TRUN_DURATION != 0 {
            w.u32(x.duration);
        }
        if flags & TRUN_SIZE != 0 {
            w.u32(x.size);
        }
        if flags & TRUN_FLAGS != 0 {
            w.u32(x.flags);
        }
        if flags & TRUN_CTS != 0 {
            w.i32(x.cts);
        }
    }
    w.end();
}

/// A moof with one traf of track 1 (tfhd flags `tf`, fields in order) and
/// one trun.
fn moof(tf: u32, tfhd_fields: &[u32], tfdt: Option<u64>, body: impl Fn(&mut BoxWriter)) -> Bytes {
    let mut w = BoxWriter::default();
    w.start(b"moof");
    w.start_full(b"mfhd", 0, 0).u32(1).end();
    w.start(b"traf");
    w.start_full(b"tfhd", 0, tf).u32(1);
    for &f in tfhd_fields {
        w.u32(f);
    }
    w.end();
    if let Some(t) = tfdt {
        w.start_full(b"tfdt", 1, 0).u64(t).end();
    }
    body(&mut w);
    w.end().end();
    Bytes::from(w.buf)
}

fn expand(r: &Run, dts: u64) -> Vec<Sample> {
    let mut off = r.data_offset;
    let mut t = dts;
    (0..r.count)
        .map(|i| {
            let s = r.sample(i, t, off);
            off += u64::from(s.size);
            t += u64::from(s.duration);
            s
        })
        .collect()
}

#[test]
fn every_trun_flag_combination_round_trips() {
    let all = [TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_CTS];
    let src = samples(5);
    for mask in 0..16u32 {
        for extra in [
            0,
            TRUN_DATA_OFFSET,
            TRUN_FIRST_FLAGS,
            TRUN_DATA_OFFSET | TRUN_FIRST_FLAGS,
        ] {
            for v in [0u8, 1] {
                let flags = all
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .fold(extra, |f, (_, b)| f | b);
                let m = moof(0, &[], Some(500), |w| trun(w, v, flags, 64, 0, &src));
                let runs = parse_moof(m, 1000, &[TREX]).unwrap();
                assert_eq!(runs.len(), 1);
                let got = expand(&runs[0], 500);
                let base = if flags & TRUN_DATA_OFFSET != 0 {
                    1064
                } else {
                    1000
                };
                assert_eq!(runs[0].start_dts, Some(500));
                let (mut off, mut dts) = (base, 500);
                for (i, (g, x)) in got.iter().zip(&src).enumerate() {
                    let dur = if flags & TRUN_DURATION != 0 {
                        x.duration
                    } else {
                        10
                    };
                    let size = if flags & TRUN_SIZE != 0 { x.size } else { 7 };
                    let sflags = match (i, flags & TRUN_FIRST_FLAGS != 0) {
                        (0, true) => 0,
                        _ if flags & TRUN_FLAGS != 0 => x.flags,
                        _ => NON_SYNC,
                    };
                    let cts = if flags & TRUN_CTS != 0 { x.cts } else { 0 };
                    let want = Sample {
                        offset: off,
                        size,
                        dts,
                        duration: dur,
                        cts_offset: cts,
                        sync: sflags & NON_SYNC == 0,
                    };
                    assert_eq!(*g, want, "flags {flags:#x} v{v} sample {i}");
                    off += u64::from(size);
                    dts += u64::from(dur);
                }
            }
        }
    }
}

#[test]
fn tfhd_defaults_override_trex() {
    let tf = TFHD_SDI | TFHD_DURATION | TFHD_SIZE | TFHD_FLAGS;
    let m = moof(tf, &[1, 33, 44, 0], None, |w| {
        trun(w, 0, 0, 0, 0, &samples(2))
    });
    let runs = parse_moof(m, 0, &[TREX]).unwrap();
    let s = expand(&runs[0], 0);
    assert_eq!((s[1].duration, s[1].size, s[1].sync), (33, 44, true));
    assert_eq!(s[1].offset, 44);
    // A second sample description is refused; duration-is-empty has no
    // samples.
    let m = moof(TFHD_SDI, &[2], None, |w| trun(w, 0, 0, 0, 0, &samples(2)));
    let e = parse_moof(m, 0, &[TREX]).unwrap_err();
    assert_eq!(e.kind, Mp4ErrorKind::Unsupported);
    let m = moof(TFHD_DURATION_IS_EMPTY, &[], None, |w| {
        trun(w, 0, 0, 0, 0, &samples(2))
    });
    assert!(parse_moof(m, 0, &[TREX]).unwrap().is_empty());
}

/// §8.8.7.1: explicit base; default-base-is-moof; otherwise the first traf
/// starts at the moof and each later one where the previous traf's data
/// ends; a run without data offset follows the previous run.
#[test]
fn base_offset_rules() {
    let two = Trex {
        track_id: 2,
        ..TREX
    };
    let build = |tf2: u32, base: Option<u64>| {
        let mut w = BoxWriter::default();
        w.start(b"moof");
        w.start(b"traf");
        w.start_full(b"tfhd", 0, 0).u32(1).end();
        // 3 samples of 7 bytes at moof + 100, then 2 more right after.
        trun(&mut w, 0, TRUN_DATA_OFFSET, 100, 0, &samples(3));
        trun(&mut w, 0, 0, 0, 0, &samples(2));
        w.end();
        w.start(b"traf");
        w.start_full(b"tfhd", 0, tf2).u32(2);
        if let Some(b) = base {
            w.u64(b);
        }
        w.end();
        trun(&mut w, 0, TRUN_DATA_OFFSET, 8, 0, &samples(1));
        w.end();
        w.end();
        parse_moof(Bytes::from(w.buf), 5000, &[TREX, two]).unwrap()
    };
    let runs = build(0, None);
    assert_eq!(runs[0].data_offset, 5100);
    assert_eq!(runs[1].data_offset, 5100 + 21);
    // Later traf: base = end of the previous traf's data (5135).
    assert_eq!(runs[2].data_offset, 5135 + 8);
    let runs = build(TFHD_DEFAULT_BASE_IS_MOOF, None);
    assert_eq!(runs[2].data_offset, 5008);
    let runs = build(TFHD_BASE_DATA_OFFSET, Some(1 << 33));
    assert_eq!(runs[2].data_offset, (1 << 33) + 8);
}

#[test]
fn hostile_moofs_are_errors() {
    // A sample count far beyond the trun's bytes: refused before any loop.
    let m = moof(0, &[], None, |w| {
        w.start_full(b"trun", 0, TRUN_SIZE)
            .u32(u32::MAX)
            .u32(5)
            .end();
    });
    let e = parse_moof(m, 0, &[TREX]).unwrap_err();
    assert_eq!(e.kind, Mp4ErrorKind::Truncated, "{e}");
    // A data offset before the file.
    let m = moof(0, &[], None, |w| {
        trun(w, 0, TRUN_DATA_OFFSET, -100, 0, &samples(1))
    });
    assert!(parse_moof(m, 10, &[TREX]).is_err());
    // A traf of a track the moov has no trex for; a tfhd cut short.
    let m = moof(0, &[], None, |w| trun(w, 0, 0, 0, 0, &samples(1)));
    assert!(parse_moof(
        m,
        0,
        &[Trex {
            track_id: 9,
            ..TREX
        }]
    )
    .is_err());
    let m = moof(TFHD_BASE_DATA_OFFSET, &[1], None, |_| {});
    assert_eq!(
        parse_moof(m, 0, &[TREX]).unwrap_err().kind,
        Mp4ErrorKind::Truncated
    );
    // Encrypted: senc, or PIFF's sample encryption uuid; PIFF tfxd/tfrf
    // are ignored.
    let m = moof(0, &[], None, |w| {
        w.start_full(b"senc", 0, 0).u32(0).end();
    });
    let e = parse_moof(m, 0, &[TREX]).unwrap_err();
    assert!(e.to_string().contains(ENCRYPTED_REASON), "{e}");
    let uuid = |id: [u8; 16]| {
        moof(0, &[], None, move |w| {
            w.start(b"uuid").bytes(&id).u32(0).end();
            trun(w, 0, 0, 0, 0, &samples(1));
        })
    };
    assert!(parse_moof(uuid(PIFF_SENC), 0, &[TREX]).is_err());
    let tfxd = [
        0x6d, 0x1d, 0x9b, 0x05, 0x42, 0xd5, 0x44, 0xe6, 0x80, 0xe2, 0x14, 0x1d, 0xaf, 0xf7, 0x57,
        0xb2,
    ];
    assert_eq!(parse_moof(uuid(tfxd), 0, &[TREX]).unwrap().len(), 1);
    // Cut short anywhere: an error, never a panic.
    let full = moof(TFHD_DURATION, &[5], Some(1), |w| {
        trun(w, 1, 0xf05, 8, 0, &samples(4))
    });
    for cut in 8..full.len() {
        let mut b = full[..cut].to_vec();
        b[..4].copy_from_slice(&(cut as u32).to_be_bytes());
        let _ = parse_moof(Bytes::from(b), 0, &[TREX]);
    }
}

#[test]
fn mvex_trex_defaults() {
    let mut w = BoxWriter::default();
    w.start(b"mvex");
    w.start_full(b"mehd", 0, 0).u32(1000).end();
    w.start_full(b"trex", 0, 0)
        .u32(3)
        .u32(1)
        .u32(1024)
        .u32(0)
        .u32(NON_SYNC)
        .end();
    w.end();
    let b = crate::mp4::BoxIter::new(Bytes::from(w.buf), 0, "")
        .next()
        .unwrap()
        .unwrap();
    let t = parse_mvex(&b, "mvex").unwrap();
    assert_eq!(
        t,
        vec![Trex {
            track_id: 3,
            sample_description_index: 1,
            duration: 1024,
            size: 0,
            flags: NON_SYNC
        }]
    );
}
