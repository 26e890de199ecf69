use super::*;
use crate::crypto::cenc::Subsample;
use crate::mux::boxes::BoxWriter;

fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(d[at..at + 4].try_into().unwrap())
}

fn aux() -> Vec<SampleAux> {
    vec![
        SampleAux {
            iv: Some([1; 8]),
            subsamples: vec![
                Subsample {
                    clear: 5,
                    protected: 32,
                },
                Subsample {
                    clear: 7,
                    protected: 0,
                },
            ],
        },
        SampleAux {
            iv: Some([2; 8]),
            subsamples: vec![Subsample {
                clear: 4,
                protected: 16,
            }],
        },
    ]
}

fn fragment(samples: usize) -> TrackFragment {
    let mut frag = TrackFragment::default();
    for _ in 0..samples {
        frag.trun.samples.push(Default::default());
    }
    // A box before (Smooth's tfxd) that the offsets must count.
    frag.traf_boxes
        .push(vec![0, 0, 0, 12, b'f', b'r', b'e', b'e', 0, 0, 0, 0]);
    frag
}

#[test]
fn video_box_layout_is_piff_1_1() {
    let mut frag = fragment(2);
    let before = frag.moof_len();
    add_sample_encryption(&mut frag, &aux(), true).unwrap();
    assert_eq!(frag.traf_boxes.len(), 4, "tfxd, uuid, saiz, saio");
    let u = &frag.traf_boxes[1];
    assert_eq!(be32(u, 0) as usize, u.len());
    assert_eq!(&u[4..8], b"uuid");
    assert_eq!(&u[8..24], &SAMPLE_ENCRYPTION_UUID);
    assert_eq!(
        &u[8..24],
        &[
            0xa2, 0x39, 0x4f, 0x52, 0x5a, 0x9b, 0x4f, 0x14, 0xa2, 0x44, 0x6c, 0x42, 0x7c, 0x64,
            0x8d, 0xf4
        ]
    );
    assert_eq!(be32(u, 24), 2, "version 0, flags 0x2: subsamples");
    assert_eq!(be32(u, 28), 2, "sample_count");
    // Sample 0: IV, 2 subsamples; sample 1: IV, 1 subsample.
    assert_eq!(&u[32..40], &[1; 8]);
    assert_eq!(&u[40..42], &[0, 2]);
    assert_eq!(&u[42..54], &[0, 5, 0, 0, 0, 32, 0, 7, 0, 0, 0, 0]);
    assert_eq!(&u[54..62], &[2; 8]);
    assert_eq!(&u[62..70], &[0, 1, 0, 4, 0, 0, 0, 16]);
    assert_eq!(u.len(), 70);
    // saiz: per-sample sizes 22 and 16; saio: at the first IV, from the moof.
    let saiz = &frag.traf_boxes[2];
    assert_eq!(&saiz[4..8], b"saiz");
    assert_eq!(saiz[12], 0);
    assert_eq!(be32(saiz, 13), 2);
    assert_eq!(&saiz[17..19], &[22, 16]);
    let saio = &frag.traf_boxes[3];
    assert_eq!(&saio[4..8], b"saio");
    assert_eq!(be32(saio, 12), 1);
    assert_eq!(u64::from(be32(saio, 16)), before + 32);
    // The entries are byte for byte the CENC senc's.
    let mut cmaf = fragment(2);
    crate::mux::cenc::add_aux(&mut cmaf, &aux(), true).unwrap();
    let senc = cmaf.traf_boxes.last().unwrap();
    assert_eq!(&senc[4..8], b"senc");
    assert_eq!(&senc[12..], &u[28..]);
}

#[test]
fn audio_has_no_subsamples_and_a_default_size() {
    let mut frag = fragment(3);
    let whole: Vec<SampleAux> = (0..3u8)
        .map(|i| SampleAux {
            iv: Some([i; 8]),
            subsamples: Vec::new(),
        })
        .collect();
    add_sample_encryption(&mut frag, &whole, false).unwrap();
    let u = &frag.traf_boxes[1];
    assert_eq!(be32(u, 24), 0, "flags 0: no subsamples");
    assert_eq!(be32(u, 28), 3);
    assert_eq!(u.len(), 32 + 3 * 8);
    assert_eq!(&u[48..56], &[2; 8]);
    let saiz = &frag.traf_boxes[2];
    assert_eq!(saiz[12], 8, "default_sample_info_size");
    assert_eq!(saiz.len(), 17);
}

#[test]
fn the_written_moof_holds_the_boxes_where_saio_says() {
    let mut frag = fragment(2);
    frag.push_payload(0, 100);
    add_sample_encryption(&mut frag, &aux(), true).unwrap();
    let seg = frag.write(BoxWriter::with_capacity(256)).unwrap();
    let h = &seg.header;
    let t = h.windows(4).position(|w| w == b"saio").unwrap() - 4;
    let at = be32(h, t + 16) as usize;
    assert_eq!(&h[at - 28..at - 24], b"uuid");
    assert_eq!(&h[at..at + 8], &[1; 8]);
}

#[test]
fn too_many_subsamples_is_an_error() {
    let mut frag = fragment(1);
    let big = vec![SampleAux {
        iv: Some([0; 8]),
        subsamples: vec![Subsample::default(); 42],
    }];
    assert_eq!(
        add_sample_encryption(&mut frag, &big, true),
        Err(8 + 2 + 6 * 42)
    );
}
