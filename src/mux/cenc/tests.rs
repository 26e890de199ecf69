use super::*;
use crate::crypto::cenc::Subsample;

const KID: [u8; 16] = [7; 16];

fn key() -> ContentKey {
    ContentKey {
        kid: KID,
        key: [9; 16],
    }
}

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
    let p = protected_entry(entry, &key(), Scheme::Cenc, true);
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
    let v = protected_entry(b"\0\0\0\x08avc1", &key(), Scheme::Cenc, false);
    assert_eq!(&v[4..8], b"encv");
}

#[test]
fn saio_points_at_the_first_iv_in_senc() {
    let mut frag = TrackFragment::default();
    frag.trun.samples.push(Default::default());
    frag.trun.samples.push(Default::default());
    let aux = vec![
        SampleAux {
            iv: Some([1; 8]),
            subsamples: vec![Subsample {
                clear: 5,
                protected: 16,
            }],
        },
        SampleAux {
            iv: Some([2; 8]),
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

#[test]
fn cbcs_entry_has_schm_cbcs_and_tenc_v1_with_pattern_and_constant_iv() {
    let k = key();
    let iv = crate::crypto::cbcs::constant_iv(&k.key);
    let v = protected_entry(b"\0\0\0\x08avc1", &k, Scheme::Cbcs, false);
    assert_eq!(&v[4..8], b"encv");
    assert_eq!(&v[12..16], b"sinf");
    assert_eq!(&v[16..28], b"\0\0\0\x0cfrmaavc1");
    assert_eq!(&v[40..48], b"cbcs\0\x01\0\0");
    assert_eq!(&v[52..56], b"schi");
    // tenc: size 49 = 12 + 4 + 16 + 1 + 16.
    assert_eq!(&v[56..60], &[0, 0, 0, 49]);
    assert_eq!(&v[60..64], b"tenc");
    assert_eq!(&v[64..68], &[1, 0, 0, 0], "version 1, flags 0");
    // reserved, crypt 1 : skip 9, isProtected, Per_Sample_IV_Size 0.
    assert_eq!(&v[68..72], &[0, 0x19, 1, 0]);
    assert_eq!(&v[72..88], &KID);
    assert_eq!(v[88], 16, "default_constant_IV_size");
    assert_eq!(&v[89..105], &iv);
    assert_eq!(v.len(), 105);
    // Audio: whole-block full-sample encryption, pattern 0:0.
    let a = protected_entry(b"\0\0\0\x08mp4a", &k, Scheme::Cbcs, true);
    assert_eq!(&a[4..8], b"enca");
    assert_eq!(&a[68..72], &[0, 0, 1, 0]);
    assert_eq!(&a[89..105], &iv, "one constant IV per key");
}

#[test]
fn cbcs_senc_lists_subsamples_without_ivs() {
    let mut frag = TrackFragment::default();
    frag.trun.samples.push(Default::default());
    frag.trun.samples.push(Default::default());
    let one = |clear, protected| SampleAux {
        iv: None,
        subsamples: vec![Subsample { clear, protected }],
    };
    add_aux(&mut frag, &[one(37, 160), one(40, 320)], true).unwrap();
    let seg = frag.write(BoxWriter::default()).unwrap();
    let h = &seg.header;
    let find = |pat: &[u8]| h.windows(4).position(|w| w == pat).unwrap() - 4;
    let (saiz, saio, senc) = (find(b"saiz"), find(b"saio"), find(b"senc"));
    // saiz: one default size of 2 + 6 (no IV), two samples.
    assert_eq!(&h[saiz + 12..saiz + 17], &[8, 0, 0, 0, 2]);
    let off = u32::from_be_bytes(h[saio + 16..saio + 20].try_into().unwrap()) as usize;
    assert_eq!(off, senc + 16);
    assert_eq!(&h[senc + 8..senc + 16], &[0, 0, 0, 2, 0, 0, 0, 2]);
    assert_eq!(
        &h[off..off + 16],
        &[0, 1, 0, 37, 0, 0, 0, 160, 0, 1, 0, 40, 0, 0, 1, 64]
    );
}

#[test]
fn cbcs_audio_has_no_sample_auxiliary_information() {
    let mut frag = TrackFragment::default();
    frag.trun.samples.push(Default::default());
    let aux = [SampleAux {
        iv: None,
        subsamples: Vec::new(),
    }];
    add_aux(&mut frag, &aux, false).unwrap();
    assert!(frag.traf_boxes.is_empty());
}
