use super::*;
use crate::mp4::header::BoxIter;
use bytes::Bytes;

/// An `edts` box with `(segment_duration, media_time, rate)` entries.
fn edts(entries: &[(u32, i32, (i16, i16))], v1: bool) -> Mp4Box {
    let mut w = crate::mux::boxes::BoxWriter::default();
    w.start(b"edts")
        .start_full(b"elst", u8::from(v1), 0)
        .u32(entries.len() as u32);
    for &(d, t, (ri, rf)) in entries {
        if v1 {
            w.u64(u64::from(d)).u64(i64::from(t) as u64);
        } else {
            w.u32(d).i32(t);
        }
        w.u16(ri as u16).u16(rf as u16);
    }
    w.end().end();
    BoxIter::new(Bytes::from(w.buf), 0, "")
        .next()
        .unwrap()
        .unwrap()
}

const R1: (i16, i16) = (1, 0);

fn list(entries: &[(u32, i32)], v1: bool) -> Result<EditList> {
    let e: Vec<_> = entries.iter().map(|&(d, t)| (d, t, R1)).collect();
    parse_edts(&edts(&e, v1), "e", 1000, 12288)
}

#[test]
fn constant_shifts() {
    // B-frame delay: media_time 1024 (media timescale 12288).
    let l = list(&[(1000, 1024)], false).unwrap();
    assert_eq!(l.presentation_offset(), 1024);
    assert!(!l.has_cuts());
    assert_eq!(
        l.media,
        vec![MediaEdit {
            start: 1024,
            duration: Some(12288)
        }]
    );
    // Empty edit of 0.5 s (movie timescale 1000) then media_time 0: the
    // track starts 6144 ticks late.
    let l = list(&[(500, -1), (9000, 0)], true).unwrap();
    assert_eq!((l.delay, l.presentation_offset()), (6144, -6144));
    // Both.
    let l = list(&[(500, -1), (9000, 2048)], false).unwrap();
    assert_eq!(l.presentation_offset(), 2048 - 6144);
    // No elst: nothing.
    assert_eq!(EditList::default().presentation_offset(), 0);
    // A zero segment_duration runs to the end of the media (§8.6.6.3).
    let l = list(&[(0, 1024)], false).unwrap();
    assert_eq!(l.media[0].end(), None);
    // A trailing empty edit is ignored.
    let l = list(&[(1000, 0), (500, -1)], false).unwrap();
    assert_eq!(l.media.len(), 1);
}

#[test]
fn cuts_are_kept_in_order() {
    // 0–2 s, then 4 s on for 3 s: a cut of 2 s in the middle.
    let l = list(&[(2000, 0), (3000, 4 * 12288)], false).unwrap();
    assert!(l.has_cuts());
    assert_eq!(l.media[0].end(), Some(2 * 12288));
    assert_eq!(l.media[1].start, 4 * 12288);
    assert_eq!(l.media[1].duration, Some(3 * 12288));
}

#[test]
fn unsupported_shapes_are_refused() {
    let kind = |r: Result<EditList>| r.unwrap_err().kind;
    // Negative media_time other than -1 is invalid.
    assert_eq!(
        kind(list(&[(5, -7)], false)),
        crate::mp4::Mp4ErrorKind::Invalid
    );
    // A pause between media edits, a repeat, a dwell, a 2x rate.
    for r in [
        list(&[(1000, 0), (500, -1), (1000, 24576)], false),
        list(&[(1000, 12288), (1000, 0)], false),
        parse_edts(&edts(&[(1000, 0, (0, 0))], false), "e", 1000, 12288),
        parse_edts(&edts(&[(1000, 0, (2, 0))], false), "e", 1000, 12288),
    ] {
        assert_eq!(kind(r), crate::mp4::Mp4ErrorKind::Unsupported);
    }
    // Too many entries: refused naming the limit, before any is read.
    let many: Vec<_> = (0..=MAX_EDITS as i32).map(|i| (10, i * 10)).collect();
    let e = list(&many, false).unwrap_err();
    assert!(e.reason.contains("limit is 64"), "{e}");
    // A count beyond the box is truncated.
    let mut b = edts(&[(1, 1, R1)], false);
    b.payload = b.payload.slice(..b.payload.len() - 4);
    assert!(parse_edts(&b, "e", 1000, 12288).is_err());
}
