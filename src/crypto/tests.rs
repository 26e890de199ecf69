use super::*;
use crate::url::Asset;
use ::cbc::cipher::block_padding::Pkcs7;
use ::cbc::cipher::{BlockDecryptMut, KeyIvInit};
use aes::Aes128;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn arr(s: &str) -> [u8; 16] {
    hex(s).try_into().unwrap()
}

/// NIST SP 800-38A, F.2.1 CBC-AES128.Encrypt.
const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const IV: &str = "000102030405060708090a0b0c0d0e0f";
const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const CIPHER: &str = "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7";

fn encrypt_in(chunks: &[&[u8]], key: &[u8; 16], iv: &[u8; 16]) -> Vec<u8> {
    let mut s = CbcStream::new(key, iv);
    let mut out = Vec::new();
    for c in chunks {
        out.extend_from_slice(&s.update(c));
    }
    out.extend_from_slice(&s.finish());
    out
}

fn decrypt(data: &[u8], key: &[u8; 16], iv: &[u8; 16]) -> Vec<u8> {
    let mut buf = data.to_vec();
    ::cbc::Decryptor::<Aes128>::new(key.into(), iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .unwrap()
        .to_vec()
}

#[test]
fn nist_sp800_38a_f21_vector() {
    let plain = hex(PLAIN);
    let out = encrypt_in(&[&plain], &arr(KEY), &arr(IV));
    // The four blocks of F.2.1, then one block of padding (16 × 0x10).
    assert_eq!(out.len(), 80);
    assert_eq!(out[..64], hex(CIPHER)[..]);
    assert_eq!(decrypt(&out, &arr(KEY), &arr(IV)), plain);
}

#[test]
fn chunking_does_not_change_the_ciphertext() {
    let plain: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
    let (key, iv) = (arr(KEY), sequence_iv(42));
    let whole = encrypt_in(&[&plain], &key, &iv);
    for split in [1usize, 5, 15, 16, 17, 188, 999] {
        let chunks: Vec<&[u8]> = plain.chunks(split).collect();
        assert_eq!(encrypt_in(&chunks, &key, &iv), whole, "chunks of {split}");
    }
    assert_eq!(decrypt(&whole, &key, &iv), plain);
}

#[test]
fn pkcs7_length_is_known_up_front() {
    for n in [0usize, 1, 15, 16, 17, 31, 32, 188, 376] {
        let plain = vec![0xabu8; n];
        let out = encrypt_in(&[&plain], &arr(KEY), &arr(IV));
        assert_eq!(out.len() as u64, padded_len(n as u64), "{n}");
        assert!(out.len() > n && out.len() - n <= 16);
        assert_eq!(decrypt(&out, &arr(KEY), &arr(IV)), plain);
    }
}

#[test]
fn iv_is_the_big_endian_sequence_number() {
    assert_eq!(sequence_iv(0), [0u8; 16]);
    let mut want = [0u8; 16];
    want[14] = 0x01;
    want[15] = 0x02;
    assert_eq!(sequence_iv(0x102), want);
}

fn seeded() -> KeySource {
    let s = KeySetting::from_secret(|k| {
        (k == SEED_KEY).then(|| "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_string())
    });
    s.source().unwrap().clone()
}

#[test]
fn keys_are_per_asset_and_follow_the_documented_derivation() {
    use hmac::{Hmac, Mac};
    let src = seeded();
    let a = Asset::Ism {
        path: "abr/abr.ism".into(),
    };
    let k = src.content_key(&a);
    let seed: Vec<u8> = (0u8..32).collect();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&seed).unwrap();
    mac.update(b"edgepack-aes128/1\nabr/abr.ism");
    assert_eq!(k.key[..], mac.finalize().into_bytes()[..16]);
    assert_ne!(k.kid, k.key);
    // Same path, same key; another asset, another key.
    assert_eq!(src.content_key(&a.clone()), k);
    let b = Asset::Mp4 {
        path: "abr/abr_1.mp4".into(),
    };
    assert_ne!(src.content_key(&b).key, k.key);
    let set = Asset::UrlSet {
        paths: vec!["v/a.mp4".into(), "v/b.mp4".into()],
    };
    assert_eq!(asset_id(&set), "v/a.mp4,v/b.mp4");
    // Nothing secret in Debug.
    let shown = format!("{src:?} {k:?}");
    assert!(!shown.contains("AAEC") && shown.contains("redacted"));
    assert!(shown.contains(&k.kid_hex()));
}

#[test]
fn seed_setting_is_checked() {
    assert_eq!(KeySetting::from_secret(|_| None), KeySetting::Unset);
    assert_eq!(
        KeySetting::from_secret(|_| Some(" ".into())),
        KeySetting::Unset
    );
    let short = KeySetting::from_secret(|_| Some("AAECAw==".into()));
    assert_eq!(
        short.source(),
        Err(KeySetupError::Invalid("is shorter than 16 bytes"))
    );
    assert!(short.problem().unwrap().starts_with("encryption_key_seed"));
    let junk = KeySetting::from_secret(|_| Some("not base64!".into()));
    assert!(matches!(junk, KeySetting::Invalid(_)));
    assert!(junk.problem().is_some_and(|p| !p.contains("not base64!")));
}

mod cenc {
    use crate::crypto::cenc::*;
    use aes::cipher::{BlockEncrypt, KeyInit};

    const KEY: [u8; 16] = [
        0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f,
        0x3c,
    ];

    /// The keystream of block `n` of a sample: AES(key, IV ‖ n as u64 BE)
    /// (ISO/IEC 23001-7 §10.1), computed with the block cipher alone.
    fn keystream(iv: &[u8; 8], n: u64) -> [u8; 16] {
        let mut block = [0u8; 16];
        block[..8].copy_from_slice(iv);
        block[8..].copy_from_slice(&n.to_be_bytes());
        let mut b = block.into();
        aes::Aes128::new(&KEY.into()).encrypt_block(&mut b);
        b.into()
    }

    #[test]
    fn ctr_is_the_cenc_counter_block_over_protected_bytes_only() {
        let iv = [0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7];
        let plain: Vec<u8> = (0..100u8).collect();
        // Whole sample: block n uses counter n.
        let mut whole = plain.clone();
        ctr_apply(&KEY, &iv, &mut whole, &[]).unwrap();
        for (n, chunk) in whole.chunks(16).enumerate() {
            let ks = keystream(&iv, n as u64);
            for (i, b) in chunk.iter().enumerate() {
                assert_eq!(*b, plain[n * 16 + i] ^ ks[i]);
            }
        }
        // Subsamples: clear bytes untouched, the protected ranges one
        // stream (the second range continues the first's counter).
        let map = [
            Subsample {
                clear: 5,
                protected: 32,
            },
            Subsample {
                clear: 3,
                protected: 60,
            },
        ];
        let mut sub = plain.clone();
        ctr_apply(&KEY, &iv, &mut sub, &map).unwrap();
        assert_eq!(&sub[..5], &plain[..5]);
        assert_eq!(&sub[37..40], &plain[37..40]);
        let protected: Vec<u8> = plain[5..37].iter().chain(&plain[40..]).copied().collect();
        let mut expect = protected.clone();
        ctr_apply(&KEY, &iv, &mut expect, &[]).unwrap();
        let got: Vec<u8> = sub[5..37].iter().chain(&sub[40..]).copied().collect();
        assert_eq!(got, expect);
        // And back.
        ctr_apply(&KEY, &iv, &mut sub, &map).unwrap();
        assert_eq!(sub, plain);
        // A map that does not cover the sample is refused.
        assert!(ctr_apply(&KEY, &iv, &mut sub, &map[..1]).is_err());
    }

    #[test]
    fn ivs_differ_across_tracks_segments_and_samples() {
        let a = sample_iv(1, 2, 3).unwrap();
        assert_eq!(a, [0, 1, 0, 0, 0, 2, 0, 3]);
        assert_ne!(sample_iv(2, 2, 3).unwrap(), a);
        assert_ne!(sample_iv(1, 3, 3).unwrap(), a);
        assert!(sample_iv(1, 1, 70_000).is_err());
    }

    fn nal(len_size: usize, body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as u32).to_be_bytes()[4 - len_size..].to_vec();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn avc_map_keeps_headers_and_non_vcl_clear() {
        // SEI (6) of 10 bytes, then an IDR slice (5) of 1 + 40 bytes.
        let mut sample = nal(4, &[6; 10]);
        let mut idr = vec![0x65];
        idr.extend_from_slice(&[0xaa; 40]);
        sample.extend(nal(4, &idr));
        let map = nal_subsamples(&sample, 4, NalCodec::Avc).unwrap();
        // 14 clear (SEI) + 4 + 1 + 40 % 16 = 8 → 27 clear, 32 protected.
        assert_eq!(
            map,
            vec![Subsample {
                clear: 27,
                protected: 32
            }]
        );
        // A 2-byte length prefix, and a short slice entirely clear.
        let s = nal(2, &[0x41, 1, 2, 3]);
        assert_eq!(
            nal_subsamples(&s, 2, NalCodec::Avc).unwrap(),
            vec![Subsample {
                clear: 6,
                protected: 0
            }]
        );
    }

    #[test]
    fn hevc_map_has_two_byte_headers() {
        // VPS (32) clear; TRAIL_R (1) slice: header 2 bytes.
        let mut sample = nal(4, &[0x40, 0x01, 9, 9]);
        let mut slice = vec![0x02, 0x01];
        slice.extend_from_slice(&[0x55; 48]);
        sample.extend(nal(4, &slice));
        let map = nal_subsamples(&sample, 4, NalCodec::Hevc).unwrap();
        assert_eq!(
            map,
            vec![Subsample {
                clear: 8 + 6,
                protected: 48
            }]
        );
    }

    #[test]
    fn a_bad_nal_length_leaves_the_rest_clear_and_covers_the_sample() {
        let mut sample = nal(4, &[0x65; 33]);
        sample.extend_from_slice(&[0, 0, 0xff, 0xff, 1, 2, 3]);
        let map = nal_subsamples(&sample, 4, NalCodec::Avc).unwrap();
        let covered: usize = map
            .iter()
            .map(|s| usize::from(s.clear) + s.protected as usize)
            .sum();
        assert_eq!(covered, sample.len());
        assert_eq!(map.last().unwrap().protected, 0);
        // Huge clear runs split into u16 entries.
        let big = vec![0u8; 200_000];
        let map = nal_subsamples(&big, 0, NalCodec::Avc).unwrap();
        assert_eq!(map.len(), 4);
        assert_eq!(
            map.iter().map(|s| usize::from(s.clear)).sum::<usize>(),
            200_000
        );
    }
}

mod clearkey {
    use crate::crypto::clearkey::*;

    #[test]
    fn reads_the_w3c_request_and_writes_the_jwk_set() {
        let kid = [0x11u8; 16];
        let body = br#"{ "kids" : ["EREREREREREREREREREREQ", "short", "EREREREREREREREREREREQ=="], "type":"temporary"}"#;
        assert_eq!(requested_kids(body).unwrap(), vec![kid, kid]);
        assert_eq!(
            licence(&[(kid, [0x22; 16])]),
            r#"{"keys":[{"kty":"oct","k":"IiIiIiIiIiIiIiIiIiIiIg","kid":"EREREREREREREREREREREQ"}],"type":"temporary"}"#
        );
    }

    #[test]
    fn refuses_what_is_not_a_bounded_request() {
        assert!(requested_kids(b"{}").is_err());
        assert!(requested_kids(br#"{"kids":"x"}"#).is_err());
        assert!(requested_kids(br#"{"kids":[1]}"#).is_err());
        assert!(requested_kids(br#"{"kids":["a""#).is_err());
        let many = format!("{{\"kids\":[{}]}}", vec!["\"AA\""; MAX_KIDS + 1].join(","));
        assert_eq!(
            requested_kids(many.as_bytes()),
            Err(LicenceError::TooManyKids)
        );
        let big = vec![b' '; MAX_REQUEST_BYTES + 1];
        assert!(matches!(
            requested_kids(&big),
            Err(LicenceError::TooLarge(_))
        ));
        assert_eq!(
            requested_kids(br#"{"kids":[]}"#).unwrap(),
            Vec::<[u8; 16]>::new()
        );
    }
}

/// AV1 tile subsamples (AV1 ISOBMFF §7): `cenc` protects the complete
/// blocks that end each tile, a tile under 16 bytes stays clear; `cbcs`
/// has one subsample per tile covering it whole, even a short one; the
/// OBU headers, frame headers and whatever follows the last tile clear.
#[test]
fn av1_tile_subsamples_follow_the_binding() {
    use super::cenc::{range_subsamples, Subsample};
    let s = |clear: u16, protected: u32| Subsample { clear, protected };
    // 300-byte sample: tiles 20..120 (100 B), 120..130 (10 B), 140..290.
    let tiles = [20..120, 120..130, 140..290];
    assert_eq!(
        range_subsamples(300, &tiles, false).unwrap(),
        // 100 = 4 + 96; 10 clear; 150 = 6 + 144.
        vec![s(24, 96), s(10 + 10 + 6, 144), s(10, 0)]
    );
    assert_eq!(
        range_subsamples(300, &tiles, true).unwrap(),
        vec![s(20, 100), s(0, 10), s(10, 150), s(10, 0)]
    );
    // Maps cover the sample exactly.
    for pattern in [false, true] {
        let m = range_subsamples(300, &tiles, pattern).unwrap();
        let n: u64 = m
            .iter()
            .map(|x| u64::from(x.clear) + u64::from(x.protected))
            .sum();
        assert_eq!(n, 300);
    }
    // No tiles: all clear; overlapping or out-of-range tiles: refused.
    assert_eq!(range_subsamples(70_000, &[], false).unwrap().len(), 2);
    assert!(range_subsamples(100, &[10..50, 40..60], true).is_err());
    assert!(range_subsamples(100, std::slice::from_ref(&(10..150)), false).is_err());
}
