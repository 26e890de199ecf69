use super::*;
use crate::crypto::cenc::Subsample;

const KID: [u8; 16] = [7; 16];

#[test]
fn pssh_is_the_common_format_v1_with_the_kid() {
    let b = pssh_common(&KID);
    assert_eq!(b.len(), 52);
    assert_eq!(&b[..8], b"\0\0\0\x34pssh");
    assert_eq!(&b[8..12], &[1, 0, 0, 0]);
    assert_eq!(&b[12..28], &COMMON_SYSTEM_ID);
    assert_eq!(&b[28..32], &[0, 0, 0, 1]);
    assert_eq!(&b[32..48], &KID);
    assert_eq!(&b[48..52], &[0, 0, 0, 0]);
}

#[test]
fn protected_entry_wraps_the_original_in_sinf() {
    // A minimal `mp4a` entry: header + 4 bytes of body.
    let entry = b"\0\0\0\x0cmp4a\x01\x02\x03\x04";
    let p = protected_entry(entry, &KID);
    assert_eq!(
        u32::from_be_bytes(p[..4].try_into().unwrap()) as usize,
        p.len()
    );
    assert_eq!(&p[4..8], b"enca");
    assert_eq!(&p[8..12], &[1, 2, 3, 4]);
    assert_eq!(&p[16..20], b"sinf");
    assert_eq!(&p[20..32], b"\0\0\0\x0cfrmamp4a");
    assert_eq!(&p[36..40], b"schm");
    assert_eq!(&p[44..52], b"cenc\0\x01\0\0");
    assert_eq!(&p[56..60], b"schi");
    assert_eq!(&p[64..68], b"tenc");
    assert_eq!(&p[68..76], &[0, 0, 0, 0, 0, 0, 1, 8]);
    assert_eq!(&p[76..92], &KID);
    assert_eq!(p.len(), 92);
    let v = protected_entry(b"\0\0\0\x08avc1", &KID);
    assert_eq!(&v[4..8], b"encv");
}

#[test]
fn saio_points_at_the_first_iv_in_senc() {
    let mut frag = TrackFragment::default();
    frag.trun.samples.push(Default::default());
    frag.trun.samples.push(Default::default());
    let aux = vec![
        SampleAux {
            iv: [1; 8],
            subsamples: vec![Subsample {
                clear: 5,
                protected: 16,
            }],
        },
        SampleAux {
            iv: [2; 8],
            subsamples: vec![
                Subsample {
                    clear: 5,
                    protected: 16,
                },
                Subsample {
                    clear: 3,
                    protected: 0,
                },
            ],
        },
    ];
    add_aux(&mut frag, &aux, true).unwrap();
    let seg = frag.write(BoxWriter::default()).unwrap();
    let h = &seg.header;
    let find = |pat: &[u8]| h.windows(4).position(|w| w == pat).unwrap() - 4;
    let (saiz, saio, senc) = (find(b"saiz"), find(b"saio"), find(b"senc"));
    assert!(saiz < saio && saio < senc);
    // saiz: default 0, two entries of 8 + 2 + 6 and 8 + 2 + 12.
    assert_eq!(&h[saiz + 12..saiz + 19], &[0, 0, 0, 0, 2, 16, 22]);
    let off = u32::from_be_bytes(h[saio + 16..saio + 20].try_into().unwrap()) as usize;
    assert_eq!(off, senc + 16, "relative to the moof, which starts at 0");
    assert_eq!(&h[off..off + 8], &[1; 8]);
    assert_eq!(&h[senc + 8..senc + 12], &[0, 0, 0, 2], "flags: subsamples");
}
