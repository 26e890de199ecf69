use super::*;
use crate::input::webvtt::parse;
use crate::testutil::{boxes, child};

const DOC: &str =
    "WEBVTT\n\nc1\n00:01.000 --> 00:03.000 align:start\none\n\n00:02.000 --> 00:07.000\ntwo\n";

#[test]
fn samples_tile_the_segment_and_split_spanning_cues() {
    let cues = parse(DOC.as_bytes()).unwrap();
    let seg = media_segment(&cues, 0, 6000, 1).unwrap();
    let top = boxes(&seg);
    assert_eq!(
        top.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        ["styp", "moof", "mdat"]
    );
    let traf = child(child(&seg, "moof"), "traf");
    let tfdt = child(traf, "tfdt");
    assert_eq!(u64::from_be_bytes(tfdt[4..12].try_into().unwrap()), 0);
    let trun = child(traf, "trun");
    let n = u32::from_be_bytes(trun[4..8].try_into().unwrap()) as usize;
    let offset = u32::from_be_bytes(trun[8..12].try_into().unwrap()) as usize;
    let entries: Vec<(u32, u32)> = (0..n)
        .map(|i| {
            let e = &trun[12 + i * 8..20 + i * 8];
            (
                u32::from_be_bytes(e[..4].try_into().unwrap()),
                u32::from_be_bytes(e[4..].try_into().unwrap()),
            )
        })
        .collect();
    // Pieces: [0,1) empty, [1,2) one, [2,3) one+two, [3,6) two.
    assert_eq!(
        entries.iter().map(|e| e.0).collect::<Vec<_>>(),
        [1000, 1000, 1000, 3000]
    );
    // The data offset points at the first sample, from the moof's start.
    let moof_start = 8 + top[0].1.len();
    let mut at = moof_start + offset;
    let mut kinds = Vec::new();
    for (_, size) in &entries {
        let sample = &seg[at..at + *size as usize];
        kinds.push(
            boxes(sample)
                .iter()
                .map(|(t, _)| t.clone())
                .collect::<Vec<_>>()
                .join("+"),
        );
        at += *size as usize;
    }
    assert_eq!(at, seg.len());
    assert_eq!(kinds, ["vtte", "vttc", "vttc+vttc", "vttc"]);
    let first_cue = &seg[moof_start + offset + entries[0].1 as usize..];
    let vttc = child(&first_cue[..entries[1].1 as usize], "vttc");
    assert_eq!(child(vttc, "iden"), b"c1");
    assert_eq!(child(vttc, "sttg"), b"align:start");
    assert_eq!(child(vttc, "payl"), b"one");
    // The next segment holds the rest of "two": [6,7) two, [7,12) empty.
    let next = media_segment(&cues, 6000, 12000, 2).unwrap();
    let trun = child(child(child(&next, "moof"), "traf"), "trun");
    assert_eq!(u32::from_be_bytes(trun[4..8].try_into().unwrap()), 2);
    assert_eq!(&trun[12..16], 1000u32.to_be_bytes());
}

#[test]
fn init_has_wvtt_sample_entry() {
    let init = init_segment("eng");
    let moov = child(&init, "moov");
    let mdia = child(child(moov, "trak"), "mdia");
    assert_eq!(&child(mdia, "hdlr")[8..12], b"text");
    let stsd = child(child(child(mdia, "minf"), "stbl"), "stsd");
    let entries = boxes(&stsd[8..]);
    assert_eq!(entries[0].0, "wvtt");
    assert_eq!(child(&entries[0].1[8..], "vttC"), b"WEBVTT");
}

#[test]
fn too_many_cues_in_one_segment_is_refused() {
    let mut doc = String::from("WEBVTT\n");
    for i in 0..=MAX_SEGMENT_CUES {
        doc.push_str(&format!("\n00:00.{:03} --> 00:05.000\nx\n", i % 1000));
    }
    let cues = parse(doc.as_bytes()).unwrap();
    assert!(media_segment(&cues, 0, 6000, 1).is_none());
}
