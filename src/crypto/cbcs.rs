//! Common Encryption of samples, `cbcs` scheme (ISO/IEC 23001-7 §10.4):
//! AES-128-CBC pattern encryption under a constant IV, the one CMAF
//! encryption FairPlay, Widevine and PlayReady all read (Apple's HLS
//! `SAMPLE-AES` for fMP4).
//!
//! * **Pattern** (§9.6): in each protected range, `crypt_byte_block`
//!   16-byte blocks are encrypted, then `skip_byte_block` are left clear,
//!   repeated to the end of the range; a trailing partial block is left
//!   clear (§10.4.2). Video uses 1:9 (§10.4.1, CMAF §8.2.3). Tracks other
//!   than video use whole-block full-sample encryption (§9.7: no pattern,
//!   signalled 0:0, "skip_byte_block SHALL be 0"): every whole block of
//!   the sample is encrypted, the trailing partial block left clear.
//! * **Chaining** (§10.4.2, §9.5.2.5): CBC runs over the encrypted blocks
//!   of one protected range, carrying the chaining state across the
//!   skipped blocks, and restarts from the constant IV at the start of
//!   every subsample's protected range (and of every sample).
//! * **Constant IV** (§9.1, §8.2: `Per_Sample_IV_Size` 0 and a 16-byte
//!   `default_constant_IV` in `tenc`): one IV per key, derived here from
//!   the content key so it needs no setting of its own.
//!
//! Sizes are unchanged (no padding: only whole blocks are encrypted), so a
//! segment's length is the clear one's plus its `senc`.

use super::cenc::{CencError, Subsample};
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};

/// AES block size, bytes.
const BLOCK: usize = 16;

/// A `crypt_byte_block`:`skip_byte_block` pattern (§9.6; 4 bits each in
/// `tenc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub crypt: u8,
    pub skip: u8,
}

/// The video pattern: one block in ten (§10.4.1; CMAF §8.2.3).
pub const VIDEO_PATTERN: Pattern = Pattern { crypt: 1, skip: 9 };

/// Whole-block full-sample encryption (§9.7), the rule for tracks other
/// than video: signalled 0:0 in `tenc`.
pub const WHOLE_BLOCKS: Pattern = Pattern { crypt: 0, skip: 0 };

/// Bytes at the start of a slice NAL unit (its header included) left
/// clear when its slice header cannot be measured: the AVC and HEVC
/// slices [`crate::codec::avc_slice`] and [`crate::codec::hevc_slice`]
/// cannot read (an unknown parameter set id, slice groups, layers above
/// 0, screen content coding, a malformed header).
/// §10.4.2 keeps the slice header clear; 32 bytes cover the headers of
/// common encoders' slices (Apple's "MPEG-2 Stream Encryption Format for
/// HTTP Live Streaming" leaves the same 32 bytes of an H.264 slice
/// clear). A longer header would have its tail encrypted, which still
/// decrypts (the map is in `senc`) but is not what a hardware decoder
/// parsing headers in the clear expects. See `CBCS_DOC.md`.
pub const SLICE_CLEAR_LEAD: usize = 32;

/// The constant IV of `key` (§9.1, `default_constant_IV`): AES-128 of a
/// fixed label under the key. Public (it is in `tenc`), fixed per key as
/// `cbcs` intends, and different for every key without a setting.
pub fn constant_iv(key: &[u8; 16]) -> [u8; 16] {
    let mut block = GenericArray::clone_from_slice(b"edgepack cbcs iv");
    Aes128::new(key.into()).encrypt_block(&mut block);
    block.into()
}

/// Encrypts the protected ranges of `data` in place with AES-128-CBC under
/// `pattern`, the chain restarting from `iv` at each range. An empty map
/// protects the whole sample (§9.7, audio).
pub fn pattern_encrypt(
    key: &[u8; 16],
    iv: &[u8; 16],
    pattern: Pattern,
    data: &mut [u8],
    map: &[Subsample],
) -> Result<(), CencError> {
    super::cenc::each_protected(data, map, |range| encrypt_range(key, iv, pattern, range))
}

/// One protected range: the pattern over its whole blocks, one CBC chain
/// from `iv`; a partial last block stays clear.
fn encrypt_range(key: &[u8; 16], iv: &[u8; 16], pattern: Pattern, range: &mut [u8]) {
    let mut cipher = cbc::Encryptor::<Aes128>::new(key.into(), iv.into());
    let (crypt, skip) = if pattern.crypt == 0 && pattern.skip == 0 {
        (usize::MAX, 0)
    } else {
        (usize::from(pattern.crypt), usize::from(pattern.skip))
    };
    let mut blocks = range.chunks_exact_mut(BLOCK);
    loop {
        let mut n = 0;
        for b in blocks.by_ref().take(crypt) {
            cipher.encrypt_block_mut(GenericArray::from_mut_slice(b));
            n += 1;
        }
        if n < crypt || blocks.by_ref().take(skip).count() < skip {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
