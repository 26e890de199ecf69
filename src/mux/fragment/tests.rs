use super::*;
use crate::mp4::BoxIter;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}
fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// A fragment read back from bytes with the crate's box walker: the model
/// (runs left empty), the `trun` version, the top-level boxes, where the
/// data offset points and where the `mdat` payload is.
#[derive(Debug, Default)]
struct Parsed {
    frag: TrackFragment,
    top: Vec<[u8; 4]>,
    tfhd_flags: u32,
    trun_flags: u32,
    trun_version: u8,
    data_offset: usize,
    mdat_payload: std::ops::Range<usize>,
}

/// The inverse of [`TrackFragment::write`]: every field is decoded as the
/// flags say (§8.8.7, §8.8.8), and every byte of each box is consumed.
fn parse(seg: &[u8]) -> Parsed {
    let mut p = Parsed::default();
    for b in BoxIter::new(Bytes::copy_from_slice(seg), 0, "") {
        let b = b.unwrap();
        p.top.push(b.header.typ.0);
        match &b.header.typ.0 {
            b"moof" => {
                let moof_at = b.header.offset as usize;
                let kids: Vec<_> = b.children("moof").map(|c| c.unwrap()).collect();
                assert_eq!(kids.len(), 2, "mfhd + one traf");
                assert_eq!(&kids[0].header.typ.0, b"mfhd");
                p.frag.sequence = be32(&kids[0].payload, 4);
                assert_eq!(&kids[1].header.typ.0, b"traf");
                for c in kids[1].children("traf") {
                    let c = c.unwrap();
                    let d = &c.payload;
                    match &c.header.typ.0 {
                        b"tfhd" => p.tfhd_flags = parse_tfhd(d, &mut p.frag.tfhd),
                        b"tfdt" => {
                            assert_eq!((d[0], d.len()), (1, 12), "tfdt v1");
                            p.frag.base_media_decode_time = Some(be64(d, 4));
                        }
                        b"trun" => {
                            p.trun_version = d[0];
                            p.trun_flags = be32(d, 0) & 0xff_ffff;
                            let (trun, offset) = parse_trun(d);
                            p.frag.trun = trun;
                            p.data_offset = moof_at + offset;
                        }
                        _ => {
                            let at = c.header.offset as usize;
                            let end = c.payload_offset() as usize + d.len();
                            p.frag.traf_boxes.push(seg[at..end].to_vec());
                        }
                    }
                }
            }
            b"mdat" => {
                let at = b.payload_offset() as usize;
                p.mdat_payload = at..at + b.payload.len();
            }
            _ => {}
        }
    }
    p
}

fn parse_tfhd(d: &[u8], t: &mut Tfhd) -> u32 {
    let flags = be32(d, 0) & 0xff_ffff;
    assert_eq!(d[0], 0, "tfhd version 0");
    t.track_id = be32(d, 4);
    let mut at = 8;
    assert_eq!(flags & TFHD_BASE_DATA_OFFSET_PRESENT, 0);
    let mut field = |flag: u32| {
        (flags & flag != 0).then(|| {
            at += 4;
            be32(d, at - 4)
        })
    };
    t.sample_description_index = field(TFHD_SAMPLE_DESCRIPTION_INDEX_PRESENT);
    t.default_sample_duration = field(TFHD_DEFAULT_SAMPLE_DURATION_PRESENT);
    t.default_sample_size = field(TFHD_DEFAULT_SAMPLE_SIZE_PRESENT);
    t.default_sample_flags = field(TFHD_DEFAULT_SAMPLE_FLAGS_PRESENT);
    assert_eq!(at, d.len(), "tfhd fully read");
    t.duration_is_empty = flags & TFHD_DURATION_IS_EMPTY != 0;
    t.default_base_is_moof = flags & TFHD_DEFAULT_BASE_IS_MOOF != 0;
    flags
}

/// The `trun` and its data offset.
fn parse_trun(d: &[u8]) -> (Trun, usize) {
    let version = d[0];
    let flags = be32(d, 0) & 0xff_ffff;
    assert!(flags & TRUN_DATA_OFFSET_PRESENT != 0);
    let n = be32(d, 4) as usize;
    let offset = be32(d, 8) as usize;
    let mut at = 12;
    let mut next = || {
        at += 4;
        be32(d, at - 4)
    };
    let mut t = Trun {
        fields: SampleFields {
            duration: flags & TRUN_SAMPLE_DURATION_PRESENT != 0,
            size: flags & TRUN_SAMPLE_SIZE_PRESENT != 0,
            flags: flags & TRUN_SAMPLE_FLAGS_PRESENT != 0,
            composition_offset: flags & TRUN_SAMPLE_COMPOSITION_TIME_OFFSETS_PRESENT != 0,
        },
        first_sample_flags: None,
        samples: vec![],
    };
    if flags & TRUN_FIRST_SAMPLE_FLAGS_PRESENT != 0 {
        t.first_sample_flags = Some(next());
    }
    for _ in 0..n {
        let mut s = TrunSample::default();
        if t.fields.duration {
            s.duration = next();
        }
        if t.fields.size {
            s.size = next();
        }
        if t.fields.flags {
            s.flags = next();
        }
        if t.fields.composition_offset {
            let v = next();
            // Version 0 offsets are unsigned (§8.8.8.2).
            assert!(version == 1 || v <= i32::MAX as u32, "v0 offset fits");
            s.composition_offset = v as i32;
        }
        t.samples.push(s);
    }
    assert_eq!(at, d.len(), "trun fully read");
    (t, offset)
}

/// A source file whose byte `i` is `i as u8`, and the segment's bytes
/// materialized from it.
fn source() -> Bytes {
    Bytes::from((0..4096u32).map(|i| i as u8).collect::<Vec<u8>>())
}

/// Writes `frag` after `prefix`, checks what every fragment must satisfy,
/// and returns the segment's bytes and their parse.
fn write_and_parse(frag: &TrackFragment, prefix: BoxWriter) -> (Vec<u8>, Parsed) {
    let prefix_len = prefix.len();
    let ms = frag.clone().write(prefix).unwrap();
    assert_eq!(
        ms.header.len() as u64,
        prefix_len as u64 + frag.header_len(),
        "header_len is the written length"
    );
    assert_eq!(ms.runs, frag.runs, "runs handed through in order");
    let bytes = crate::testutil::materialize(&ms, &source());
    let p = parse(&bytes);
    assert_eq!(
        p.data_offset, p.mdat_payload.start,
        "data offset -> payload"
    );
    assert_eq!(p.mdat_payload.end, bytes.len(), "mdat runs to the end");
    assert_eq!(p.mdat_payload.len() as u64, frag.payload_len());
    (bytes, p)
}

fn samples(offsets: &[i32]) -> Vec<TrunSample> {
    offsets
        .iter()
        .enumerate()
        .map(|(i, &cts)| TrunSample {
            duration: 1000 + i as u32,
            size: 100 + i as u32,
            flags: if i == 0 { FLAGS_SYNC } else { FLAGS_NON_SYNC },
            composition_offset: cts,
        })
        .collect()
}

/// The shape CMAF media segments use.
fn cmaf_like(offsets: &[i32]) -> TrackFragment {
    let mut f = TrackFragment {
        sequence: 7,
        tfhd: Tfhd {
            track_id: 2,
            default_base_is_moof: true,
            ..Tfhd::default()
        },
        base_media_decode_time: Some(0x1_0000_0002),
        trun: Trun {
            fields: SampleFields::all(true),
            ..Trun::default()
        },
        ..TrackFragment::default()
    };
    let mut at = 64;
    for s in samples(offsets) {
        f.push_sample(s, at);
        at += u64::from(s.size) + 3; // not contiguous: one run each
    }
    f
}

/// Compares everything but the runs, which the parse cannot see.
fn assert_same_model(got: &TrackFragment, want: &TrackFragment) {
    let mut want = want.clone();
    want.runs.clear();
    assert_eq!(got, &want);
}

#[test]
fn cmaf_shape_round_trips_after_a_prefix() {
    let frag = cmaf_like(&[0, 2000, 500, 1000]);
    assert_eq!(frag.runs.len(), 4);
    let mut prefix = BoxWriter::default();
    prefix.start(b"styp").bytes(b"msdh").u32(0).end();
    let (bytes, p) = write_and_parse(&frag, prefix);
    assert_eq!(p.top, [*b"styp", *b"moof", *b"mdat"]);
    assert_same_model(&p.frag, &frag);
    assert_eq!(p.tfhd_flags, 0x02_0000);
    assert_eq!(p.trun_flags, 0x0f01);
    assert_eq!(p.trun_version, 0, "no negative offset");
    // The payload is the runs, in order.
    let src = source();
    let mut at = p.mdat_payload.start;
    for r in &frag.runs {
        let len = r.len as usize;
        assert_eq!(
            &bytes[at..at + len],
            &src[r.offset as usize..r.end() as usize]
        );
        at += len;
    }
    assert_eq!(at, bytes.len());
}

#[test]
fn cmaf_header_len_is_the_written_length() {
    for with_cts in [false, true] {
        for n in [0u32, 1, 5, 300] {
            let mut frag = cmaf_like(&vec![0; n as usize]);
            frag.trun.fields = SampleFields::all(with_cts);
            assert_eq!(
                frag.header_len(),
                crate::mux::cmaf::header_len(n, with_cts, false)
            );
        }
    }
}

#[test]
fn negative_offsets_select_trun_version_1() {
    let frag = cmaf_like(&[0, -1000, 3000, -2]);
    let (_, p) = write_and_parse(&frag, BoxWriter::default());
    assert_eq!(p.trun_version, 1);
    assert_same_model(&p.frag, &frag);
    assert_eq!(p.frag.trun.samples[1].composition_offset, -1000);

    // Without offsets in the trun, the samples' offsets still choose the
    // version (Smooth relies on it to keep its output); 0 gives version 0.
    let mut unwritten = frag.clone();
    unwritten.trun.fields.composition_offset = false;
    let (_, p) = write_and_parse(&unwritten, BoxWriter::default());
    assert_eq!(p.trun_version, 1);
    for s in &mut unwritten.trun.samples {
        s.composition_offset = 0;
    }
    let (_, p) = write_and_parse(&unwritten, BoxWriter::default());
    assert_eq!(p.trun_version, 0);
    assert_eq!(p.trun_flags, 0x0701);
    assert_same_model(&p.frag, &unwritten);
}

#[test]
fn smooth_shape_with_a_traf_box_round_trips() {
    let mut tfxd = BoxWriter::default();
    tfxd.start(b"uuid").bytes(&[0xab; 16]).u32(0x0100_0000);
    tfxd.u64(10_000_000).u64(20_000_000).end();
    for video in [false, true] {
        let mut frag = TrackFragment {
            sequence: 1,
            tfhd: Tfhd {
                track_id: 1,
                default_sample_flags: Some(FLAGS_SYNC),
                ..Tfhd::default()
            },
            trun: Trun {
                fields: SampleFields {
                    duration: true,
                    size: true,
                    flags: video,
                    composition_offset: video,
                },
                ..Trun::default()
            },
            traf_boxes: vec![tfxd.buf.clone()],
            ..TrackFragment::default()
        };
        let mut at = 0;
        for mut s in samples(&[0, 400, -200]) {
            if !video {
                s.flags = 0;
                s.composition_offset = 0;
            }
            frag.push_sample(s, at);
            at += u64::from(s.size);
        }
        assert_eq!(frag.runs.len(), 1, "contiguous samples share a run");
        assert_eq!(frag.runs[0].len, 303);
        let (_, p) = write_and_parse(&frag, BoxWriter::default());
        assert_eq!(p.top, [*b"moof", *b"mdat"]);
        assert_same_model(&p.frag, &frag);
        assert_eq!(p.tfhd_flags, TFHD_DEFAULT_SAMPLE_FLAGS_PRESENT);
        let (flags, version) = if video { (0x0f01, 1) } else { (0x0301, 0) };
        assert_eq!((p.trun_flags, p.trun_version), (flags, version));
        assert!(p.frag.base_media_decode_time.is_none(), "no tfdt");
    }
}

#[test]
fn every_tfhd_default_and_first_sample_flags_round_trip() {
    let mut frag = TrackFragment {
        sequence: u32::MAX,
        tfhd: Tfhd {
            track_id: 9,
            sample_description_index: Some(1),
            default_sample_duration: Some(1024),
            default_sample_size: Some(371),
            default_sample_flags: Some(FLAGS_NON_SYNC),
            duration_is_empty: true,
            default_base_is_moof: true,
        },
        base_media_decode_time: Some(0),
        trun: Trun {
            fields: SampleFields {
                size: true,
                ..SampleFields::default()
            },
            first_sample_flags: Some(FLAGS_SYNC),
            samples: vec![],
        },
        ..TrackFragment::default()
    };
    for size in [371, 12, 0] {
        frag.push_sample(
            TrunSample {
                size,
                ..TrunSample::default()
            },
            1000,
        );
    }
    let (_, p) = write_and_parse(&frag, BoxWriter::default());
    assert_same_model(&p.frag, &frag);
    assert_eq!(p.tfhd_flags, 0x03_003a);
    assert_eq!(p.trun_flags, 0x0205);
}

#[test]
fn an_empty_fragment_still_points_at_its_mdat() {
    let mut frag = cmaf_like(&[]);
    frag.tfhd.duration_is_empty = true;
    let (_, p) = write_and_parse(&frag, BoxWriter::default());
    assert!(p.frag.trun.samples.is_empty());
    assert!(p.mdat_payload.is_empty());
}

#[test]
fn mdat_past_4gb_uses_a_largesize_header() {
    let mut frag = cmaf_like(&[0]);
    frag.runs = vec![
        ByteRun {
            offset: 0,
            len: u64::from(u32::MAX),
        },
        ByteRun {
            offset: 1 << 33,
            len: 10,
        },
    ];
    let payload = u64::from(u32::MAX) + 10;
    assert_eq!(frag.mdat_header_len(), 16);
    let ms = frag.clone().write(BoxWriter::default()).unwrap();
    let h = &ms.header;
    assert_eq!(h.len() as u64, frag.header_len());
    let mdat = &h[h.len() - 16..];
    assert_eq!(be32(mdat, 0), 1, "size 1: largesize follows");
    assert_eq!(&mdat[4..8], b"mdat");
    assert_eq!(be64(mdat, 8), payload + 16);
    // The data offset is moof-relative and skips the 16-byte header.
    let moof = BoxIter::new(h.clone(), 0, "").next().unwrap().unwrap();
    let traf = moof.children("moof").find(b"traf").unwrap().unwrap();
    let trun = traf.children("traf").find(b"trun").unwrap().unwrap();
    assert_eq!(u64::from(be32(&trun.payload, 8)), frag.moof_len() + 16);
    assert_eq!(ms.len(), h.len() as u64 + payload);
}
