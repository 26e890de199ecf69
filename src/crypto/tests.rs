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
