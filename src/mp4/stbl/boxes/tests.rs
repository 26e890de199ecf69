//! Round trips (BoxWriter → nom parser) and hostile bodies for each parser.

use super::*;
use crate::mux::boxes::BoxWriter;

/// Writes a full box with `body` and returns its payload (after the 8-byte
/// box header, so starting at version/flags).
fn payload(typ: &[u8; 4], version: u8, body: &dyn Fn(&mut BoxWriter)) -> Vec<u8> {
    let mut w = BoxWriter::default();
    w.start_full(typ, version, 0);
    body(&mut w);
    w.end();
    w.buf[8..].to_vec()
}

fn err<T: std::fmt::Debug>(r: BodyResult<'_, T>) -> BodyError {
    body_error(r.unwrap_err())
}

#[test]
fn full_box_reads_version_and_flags() {
    assert_eq!(
        full_box(&[1, 0x12, 0x34, 0x56, 9]),
        Ok((&[9u8][..], (1, 0x12_3456)))
    );
    assert_eq!(err(full_box(&[0, 0, 0])), BodyError::Short);
}

#[test]
fn counted_tables_round_trip() {
    type Parser = for<'a> fn(&'a [u8]) -> BodyResult<'a, Counted<'a>>;
    let cases: [(&[u8; 4], Parser, usize); 6] = [
        (b"stts", stts, 8),
        (b"ctts", ctts, 8),
        (b"stss", stss, 4),
        (b"stsc", stsc, 12),
        (b"stco", stco, 4),
        (b"co64", co64, 8),
    ];
    for (typ, parse, width) in cases {
        let entries: Vec<u8> = (0..3 * width as u8).collect();
        let p = payload(typ, 1, &|w| {
            w.u32(3).bytes(&entries);
        });
        let (rest, c) = parse(&p).unwrap();
        assert!(rest.is_empty(), "{typ:?}");
        assert_eq!(c.count, 3);
        assert_eq!(c.entries, &entries[..]);
        // The entries are a view into the input, not a copy.
        assert_eq!(c.entries.as_ptr(), p[8..].as_ptr());
        // Trailing bytes past the entries are left unparsed.
        let mut long = p.clone();
        long.push(0xaa);
        assert_eq!(parse(&long).unwrap().0, &[0xaa]);
    }
}

#[test]
fn counted_tables_reject_truncated_and_over_count() {
    for cut in 0..8 {
        let p = payload(b"stts", 0, &|w| {
            w.u32(0);
        });
        assert_eq!(err(stts(&p[..cut])), BodyError::Short, "cut at {cut}");
    }
    // One entry missing its last byte.
    let p = payload(b"stsc", 0, &|w| {
        w.u32(1).u32(1).u32(1).u8(0).u8(0).u8(0);
    });
    assert_eq!(
        err(stsc(&p)),
        BodyError::Entries {
            count: 1,
            need: 12,
            have: 11
        }
    );
    // A count of 2^32-1 is checked against the bytes, never looped over.
    let p = payload(b"co64", 0, &|w| {
        w.u32(u32::MAX).u64(7);
    });
    assert_eq!(
        err(co64(&p)),
        BodyError::Entries {
            count: u32::MAX,
            need: u64::from(u32::MAX) * 8,
            have: 8
        }
    );
}

#[test]
fn stsz_fixed_and_table() {
    let p = payload(b"stsz", 0, &|w| {
        w.u32(77).u32(5);
    });
    let (_, z) = stsz(&p).unwrap();
    assert_eq!((z.sample_size, z.sample_count, z.entries), (77, 5, &[][..]));
    let p = payload(b"stsz", 0, &|w| {
        w.u32(0).u32(2).u32(100).u32(200);
    });
    let (rest, z) = stsz(&p).unwrap();
    assert!(rest.is_empty());
    assert_eq!((z.sample_size, z.sample_count), (0, 2));
    assert_eq!(z.entries, &[0, 0, 0, 100, 0, 0, 0, 200]);
}

#[test]
fn stsz_rejects_truncated_and_over_count() {
    let p = payload(b"stsz", 0, &|w| {
        w.u32(9).u32(1);
    });
    assert_eq!(err(stsz(&p[..11])), BodyError::Short);
    let p = payload(b"stsz", 0, &|w| {
        w.u32(0).u32(1_000_000).u32(1);
    });
    assert_eq!(
        err(stsz(&p)),
        BodyError::Entries {
            count: 1_000_000,
            need: 4_000_000,
            have: 4
        }
    );
}

#[test]
fn stz2_field_sizes_round_trip() {
    for (bits, count, bytes) in [(4u8, 5u32, 3usize), (8, 5, 5), (16, 5, 10), (4, 0, 0)] {
        let data: Vec<u8> = (1..=bytes as u8).collect();
        let p = payload(b"stz2", 0, &|w| {
            w.u8(0).u8(0).u8(0).u8(bits).u32(count).bytes(&data);
        });
        let (rest, z) = stz2(&p).unwrap();
        assert!(rest.is_empty(), "{bits}-bit");
        assert_eq!((z.field_size, z.sample_count), (bits, count));
        assert_eq!(z.entries, &data[..]);
    }
}

#[test]
fn stz2_rejects_bad_field_size_truncated_and_over_count() {
    let p = payload(b"stz2", 0, &|w| {
        w.u8(0).u8(0).u8(0).u8(12).u32(1).u16(5);
    });
    assert_eq!(err(stz2(&p)), BodyError::FieldSize(12));
    // Cut inside the fixed fields: short, even when the field size is bad.
    assert_eq!(err(stz2(&p[..11])), BodyError::Short);
    let p = payload(b"stz2", 0, &|w| {
        w.u8(0).u8(0).u8(0).u8(4).u32(5).u8(0x12).u8(0x34);
    });
    assert_eq!(
        err(stz2(&p)),
        BodyError::Entries {
            count: 5,
            need: 3,
            have: 2
        }
    );
}

/// The box boundary in `stbl.rs` keeps the kinds and reasons callers see.
#[test]
fn errors_map_to_mp4_errors_with_path_and_offset() {
    use crate::mp4::stbl::SampleTables;
    use crate::mp4::{BoxIter, Mp4ErrorKind};
    let parse = |child: &dyn Fn(&mut BoxWriter)| {
        let mut w = BoxWriter::default();
        w.start(b"stbl");
        child(&mut w);
        w.end();
        let b = BoxIter::new(bytes::Bytes::from(w.buf), 100, "")
            .next()
            .unwrap()
            .unwrap();
        let e = SampleTables::parse(&b, "stbl").unwrap_err();
        (e.kind, e.path, e.offset, e.reason)
    };
    let t = Mp4ErrorKind::Truncated;
    let at = |s: &str| format!("stbl/{s}");
    assert_eq!(
        parse(&|w| {
            w.start(b"stts").u8(0).u8(0).u8(0).u8(0).u8(0).end();
        }),
        (t, at("stts"), 108, "table header cut short".into())
    );
    assert_eq!(
        parse(&|w| {
            w.start_full(b"stco", 0, 0).u32(3).u32(1).end();
        }),
        (
            t,
            at("stco"),
            108,
            "3 entries need 12 bytes, the box has 4".into()
        )
    );
    assert_eq!(
        parse(&|w| {
            w.start_full(b"stsz", 0, 0).u32(5).end();
        }),
        (t, at("stsz"), 108, "stsz cut short".into())
    );
    assert_eq!(
        parse(&|w| {
            w.start_full(b"stz2", 0, 0).u32(3).end();
        }),
        (t, at("stz2"), 108, "stz2 cut short".into())
    );
    assert_eq!(
        parse(&|w| {
            w.start_full(b"stz2", 0, 0).u32(7).u32(1).end();
        }),
        (
            Mp4ErrorKind::Invalid,
            at("stz2"),
            108,
            "stz2 field size must be 4, 8 or 16".into()
        )
    );
    assert_eq!(
        parse(&|w| {
            w.start_full(b"stz2", 0, 0).u32(8).u32(2).u8(1).end();
        }),
        (t, at("stz2"), 108, "stz2 entries cut short".into())
    );
}
