use super::*;
use crate::crypto::cenc::{nal_subsamples_with_lead, NalCodec};
use ::cbc::cipher::block_padding::NoPadding;
use ::cbc::cipher::BlockEncryptMut;

const KEY: [u8; 16] = *b"0123456789abcdef";
const IV: [u8; 16] = *b"fedcba9876543210";

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

/// The expected ciphertext of one protected range, computed with the
/// `cbc` crate directly: the pattern's encrypted blocks gathered in order
/// and encrypted as one CBC message from `iv` (the chain skips the clear
/// blocks), then put back; skipped blocks and a partial tail unchanged.
fn reference(range: &[u8], crypt: usize, skip: usize) -> Vec<u8> {
    let whole = range.len() / 16;
    let picked: Vec<usize> = (0..whole).filter(|b| b % (crypt + skip) < crypt).collect();
    let mut gathered: Vec<u8> = picked
        .iter()
        .flat_map(|&b| range[b * 16..b * 16 + 16].to_vec())
        .collect();
    let n = gathered.len();
    ::cbc::Encryptor::<Aes128>::new((&KEY).into(), (&IV).into())
        .encrypt_padded_mut::<NoPadding>(&mut gathered, n)
        .unwrap();
    let mut out = range.to_vec();
    for (i, &b) in picked.iter().enumerate() {
        out[b * 16..b * 16 + 16].copy_from_slice(&gathered[i * 16..i * 16 + 16]);
    }
    out
}

#[test]
fn video_pattern_is_1_9_cbc_restarting_at_each_subsample() {
    // Two subsamples: 25 whole blocks + 5 bytes, then 3 blocks.
    let mut sample = data(7 + 405 + 2 + 48);
    let plain = sample.clone();
    let map = [
        Subsample {
            clear: 7,
            protected: 405,
        },
        Subsample {
            clear: 2,
            protected: 48,
        },
    ];
    pattern_encrypt(&KEY, &IV, VIDEO_PATTERN, &mut sample, &map).unwrap();
    let mut want = plain[..7].to_vec();
    want.extend(reference(&plain[7..412], 1, 9));
    want.extend_from_slice(&plain[412..414]);
    want.extend(reference(&plain[414..], 1, 9));
    assert_eq!(sample, want);
    // Blocks 0, 10, 20 of the first range changed, block 1 and the
    // partial tail did not.
    assert_ne!(sample[7..23], plain[7..23]);
    assert_eq!(sample[23..39], plain[23..39]);
    assert_ne!(sample[167..183], plain[167..183]);
    assert_eq!(sample[407..412], plain[407..412]);
    // The second range starts its own chain from the IV: its first block
    // is AES(key, IV xor block), whatever came before.
    assert_eq!(sample[414..430], reference(&plain[414..430], 1, 0)[..]);
}

#[test]
fn whole_block_full_sample_leaves_only_the_partial_tail_clear() {
    let mut sample = data(100);
    let plain = sample.clone();
    pattern_encrypt(&KEY, &IV, WHOLE_BLOCKS, &mut sample, &[]).unwrap();
    assert_eq!(sample, reference(&plain, 1, 0));
    assert_eq!(sample[96..], plain[96..]);
    assert_ne!(sample[80..96], plain[80..96]);
}

#[test]
fn decrypting_with_the_cbc_crate_gives_the_sample_back() {
    use ::cbc::cipher::BlockDecryptMut;
    let mut sample = data(16 * 30);
    let plain = sample.clone();
    pattern_encrypt(&KEY, &IV, VIDEO_PATTERN, &mut sample, &[]).unwrap();
    // Blocks 0, 10, 20 form one CBC chain.
    let mut chain: Vec<u8> = [0, 10, 20]
        .iter()
        .flat_map(|b| sample[b * 16..b * 16 + 16].to_vec())
        .collect();
    ::cbc::Decryptor::<Aes128>::new((&KEY).into(), (&IV).into())
        .decrypt_padded_mut::<NoPadding>(&mut chain)
        .unwrap();
    for (i, b) in [0usize, 10, 20].iter().enumerate() {
        assert_eq!(chain[i * 16..i * 16 + 16], plain[b * 16..b * 16 + 16]);
    }
}

#[test]
fn a_map_that_misses_the_sample_is_refused() {
    let mut sample = data(40);
    let map = [Subsample {
        clear: 8,
        protected: 16,
    }];
    assert_eq!(
        pattern_encrypt(&KEY, &IV, VIDEO_PATTERN, &mut sample, &map),
        Err(CencError::MapMismatch {
            map: 24,
            sample: 40
        })
    );
}

#[test]
fn constant_iv_is_aes_of_the_label_per_key() {
    let iv = constant_iv(&KEY);
    let mut want = *b"edgepack cbcs iv";
    ::cbc::Encryptor::<Aes128>::new((&KEY).into(), (&[0u8; 16]).into())
        .encrypt_padded_mut::<NoPadding>(&mut want, 16)
        .unwrap();
    assert_eq!(iv, want);
    assert_ne!(constant_iv(&[1; 16]), iv);
}

fn nal(len_size: usize, body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u32).to_be_bytes()[4 - len_size..].to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn cbcs_map_keeps_the_slice_header_lead_clear_and_protects_whole_blocks() {
    // AVC: SPS (clear whole), an IDR slice of 1 + 200 bytes, a slice of
    // 20 bytes (shorter than the lead: clear whole).
    let mut sample = nal(4, &[0x67, 1, 2, 3]);
    let mut idr = vec![0x65];
    idr.extend(data(200));
    sample.extend(nal(4, &idr));
    let mut short = vec![0x41];
    short.extend(data(19));
    sample.extend(nal(4, &short));
    let map = nal_subsamples_with_lead(&sample, 4, NalCodec::Avc, &|_| SLICE_CLEAR_LEAD).unwrap();
    // 201 - 32 = 169 = 10 blocks + 9: clear 8 (SPS) + 4 + 32 + 9.
    assert_eq!(
        map,
        vec![
            Subsample {
                clear: 8 + 4 + 32 + 9,
                protected: 160
            },
            Subsample {
                clear: 24,
                protected: 0
            },
        ]
    );
    let covered: usize = map
        .iter()
        .map(|s| usize::from(s.clear) + s.protected as usize)
        .sum();
    assert_eq!(covered, sample.len());
    // HEVC: the same lead (it covers the 2-byte header).
    let mut slice = vec![0x26, 0x01];
    slice.extend(data(64));
    let hevc = nal(4, &slice);
    let map = nal_subsamples_with_lead(&hevc, 4, NalCodec::Hevc, &|_| SLICE_CLEAR_LEAD).unwrap();
    assert_eq!(
        map,
        vec![Subsample {
            clear: 4 + 32 + 2,
            protected: 32
        }]
    );
}
