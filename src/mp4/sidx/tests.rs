use super::*;

/// A `sidx` box (§8.16.3.2): `refs` are (reference_type, size, duration,
/// starts_with_SAP, SAP_type).
pub(crate) fn sidx(
    v1: bool,
    id: u32,
    ts: u32,
    ept: u64,
    first: u64,
    refs: &[(u8, u32, u32, bool, u8)],
) -> Vec<u8> {
    let mut p = vec![u8::from(v1), 0, 0, 0];
    p.extend(id.to_be_bytes());
    p.extend(ts.to_be_bytes());
    if v1 {
        p.extend(ept.to_be_bytes());
        p.extend(first.to_be_bytes());
    } else {
        p.extend((ept as u32).to_be_bytes());
        p.extend((first as u32).to_be_bytes());
    }
    p.extend([0, 0]);
    p.extend((refs.len() as u16).to_be_bytes());
    for &(t, size, dur, sap, kind) in refs {
        p.extend((u32::from(t) << 31 | size).to_be_bytes());
        p.extend(dur.to_be_bytes());
        p.extend((u32::from(sap) << 31 | u32::from(kind) << 28).to_be_bytes());
    }
    let mut b = ((p.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend(b"sidx");
    b.extend(p);
    b
}

#[test]
fn versions_0_and_1_list_subsegments_from_the_box_end() {
    for v1 in [false, true] {
        let b = sidx(
            v1,
            2,
            48000,
            1000,
            16,
            &[(0, 100, 96000, true, 1), (0, 200, 95000, false, 0)],
        );
        let s = parse(&b, 50, 50).unwrap().unwrap();
        assert_eq!((s.reference_id, s.timescale), (2, 48000));
        let end = 50 + b.len() as u64 + 16;
        assert_eq!(
            s.subsegments,
            vec![
                Subsegment {
                    time: 1000,
                    duration: 96000,
                    offset: end,
                    size: 100,
                    sap: true,
                    rap: None
                },
                Subsegment {
                    time: 97000,
                    duration: 95000,
                    offset: end + 100,
                    size: 200,
                    sap: false,
                    rap: None
                },
            ]
        );
    }
}

/// SAP types 1 and 2 (closed GOP) and 0 (unknown, ffmpeg's) start a
/// fragment at a sync sample; 3 (open GOP) and above do not.
#[test]
fn sap_types() {
    let refs: Vec<_> = (0..7).map(|k| (0, 10, 1, true, k)).collect();
    let s = parse(&sidx(false, 1, 1000, 0, 0, &refs), 0, 0)
        .unwrap()
        .unwrap();
    let saps: Vec<bool> = s.subsegments.iter().map(|r| r.sap).collect();
    assert_eq!(saps, [true, true, true, false, false, false, false]);
}

/// A type-1 reference points at a child sidx (DASH-IF on-demand: a root
/// index of per-segment indexes); its subsegments replace it, timed from
/// the parent's reference.
#[test]
fn hierarchical_references_are_followed_within_the_window() {
    let child_a = sidx(
        false,
        1,
        1000,
        0,
        0,
        &[(0, 40, 500, true, 1), (0, 60, 500, false, 0)],
    );
    let child_b = sidx(false, 1, 1000, 0, 0, &[(0, 70, 1000, true, 1)]);
    // Root, then child A and its media, then child B and its media.
    let a_span = child_a.len() as u32 + 100;
    let b_span = child_b.len() as u32 + 70;
    let root = sidx(
        false,
        1,
        1000,
        5000,
        0,
        &[(1, a_span, 1000, true, 1), (1, b_span, 1000, true, 1)],
    );
    let mut file = root.clone();
    file.extend(&child_a);
    file.extend(vec![0u8; 100]);
    file.extend(&child_b);
    file.extend(vec![0u8; 70]);
    let s = parse(&file, 0, 0).unwrap().unwrap();
    let a_media = (root.len() + child_a.len()) as u64;
    let b_media = a_media + 100 + child_b.len() as u64;
    assert_eq!(
        s.subsegments,
        vec![
            Subsegment {
                time: 5000,
                duration: 500,
                offset: a_media,
                size: 40,
                sap: true,
                rap: None
            },
            Subsegment {
                time: 5500,
                duration: 500,
                offset: a_media + 40,
                size: 60,
                sap: false,
                rap: None
            },
            Subsegment {
                time: 6000,
                duration: 1000,
                offset: b_media,
                size: 70,
                sap: true,
                rap: None
            },
        ]
    );
    // A child outside the bytes at hand: no table (the moofs are walked).
    assert_eq!(parse(&file[..root.len() + 10], 0, 0).unwrap(), None);
}

#[test]
fn hierarchies_deeper_than_the_cap_are_not_followed() {
    // Each level's single reference points at the next box.
    let mut boxes: Vec<Vec<u8>> = vec![sidx(false, 1, 1000, 0, 0, &[(0, 0, 10, true, 1)])];
    for _ in 0..MAX_DEPTH {
        let next = boxes.last().unwrap();
        let span: usize = boxes.iter().map(Vec::len).sum();
        let _ = next;
        boxes.push(sidx(false, 1, 1000, 0, 0, &[(1, span as u32, 10, true, 1)]));
    }
    boxes.reverse();
    let file = boxes.concat();
    assert_eq!(parse(&file, 0, 0).unwrap(), None);
}

#[test]
fn hostile_counts_and_boxes_are_errors() {
    // 65 535 references claimed, none present: refused before any loop.
    let mut b = sidx(false, 1, 1000, 0, 0, &[]);
    let at = b.len() - 2;
    b[at..].copy_from_slice(&u16::MAX.to_be_bytes());
    let e = parse(&b, 0, 0).unwrap_err();
    assert!(e.to_string().contains("65535 references"), "{e}");
    // Cut short, timescale 0, not a sidx.
    let b = sidx(true, 1, 1000, 0, 0, &[]);
    let mut short = b[..20].to_vec();
    short[..4].copy_from_slice(&20u32.to_be_bytes());
    assert!(parse(&short, 0, 0).is_err());
    assert!(parse(&sidx(false, 1, 0, 0, 0, &[]), 0, 0).is_err());
    let mut free = sidx(false, 1, 1000, 0, 0, &[]);
    free[4..8].copy_from_slice(b"free");
    assert!(parse(&free, 0, 0).is_err());
    // A box that does not fit the bytes at hand: not usable, not an error.
    let b = sidx(false, 1, 1000, 0, 0, &[(0, 1, 1, true, 1)]);
    assert_eq!(parse(&b[..b.len() - 1], 0, 0).unwrap(), None);
}

/// §8.16.3.3: `starts_with_SAP` 0 with a type 1/2 SAP gives its
/// `SAP_delta_time`; open-GOP types, unknown type 0 and a delta past the
/// subsegment give none.
#[test]
fn a_sap_inside_a_subsegment_gives_its_delta() {
    let refs = [
        (0, 100, 1000, false, 1),
        (0, 100, 1000, false, 2),
        (0, 100, 1000, false, 3),
        (0, 100, 1000, false, 0),
        (0, 100, 1000, false, 1),
        (0, 100, 1000, true, 1),
    ];
    let mut b = sidx(false, 1, 1000, 0, 0, &refs);
    for (i, delta) in [400u32, 250, 300, 0, 1000, 0].into_iter().enumerate() {
        let at = 8 + 24 + 12 * i + 8;
        let word = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) | delta;
        b[at..at + 4].copy_from_slice(&word.to_be_bytes());
    }
    let s = parse(&b, 0, 0).unwrap().unwrap();
    let got: Vec<(bool, Option<u64>)> = s.subsegments.iter().map(|r| (r.sap, r.rap)).collect();
    assert_eq!(
        got,
        [
            (false, Some(400)),
            (false, Some(250)),
            (false, None),
            (false, None),
            (false, None),
            (true, None)
        ]
    );
}
