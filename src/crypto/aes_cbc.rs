//! AES-128-CBC with PKCS#7 padding, chunk by chunk (NIST SP 800-38A §6.2
//! for CBC; RFC 5652 §6.3 for the padding): what HLS `METHOD=AES-128`
//! applies to a whole media segment (RFC 8216 §4.3.2.4).

use aes::Aes128;
use bytes::Bytes;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};

/// The AES block size, bytes.
pub const BLOCK: usize = 16;

type Encryptor = cbc::Encryptor<Aes128>;

/// Length of the ciphertext of `n` bytes: PKCS#7 always pads, 1 to 16
/// bytes, to a whole number of blocks (RFC 5652 §6.3), so the length is
/// known before the first byte is encrypted.
pub fn padded_len(n: u64) -> u64 {
    (n / BLOCK as u64 + 1) * BLOCK as u64
}

/// The IV of a segment whose key tag has no `IV` attribute: its Media
/// Sequence Number as a 128-bit big-endian integer (RFC 8216 §5.2).
pub fn sequence_iv(sequence: u64) -> [u8; BLOCK] {
    u128::from(sequence).to_be_bytes()
}

/// An AES-128-CBC encryption in progress over a body that arrives in
/// chunks of any length. Each call returns the ciphertext of the whole
/// blocks available so far (the chaining state carries over); the last
/// partial block waits for [`CbcStream::finish`], which pads it.
#[derive(Clone)]
pub struct CbcStream {
    cipher: Encryptor,
    /// Plaintext not yet encrypted: always shorter than a block.
    tail: Vec<u8>,
}

/// Shows nothing of the key or the state.
impl std::fmt::Debug for CbcStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CbcStream(AES-128)")
    }
}

impl CbcStream {
    pub fn new(key: &[u8; BLOCK], iv: &[u8; BLOCK]) -> CbcStream {
        CbcStream {
            cipher: Encryptor::new(key.into(), iv.into()),
            tail: Vec::with_capacity(BLOCK),
        }
    }

    /// The ciphertext of the whole blocks `plain` completes (possibly
    /// empty). The plaintext is copied once, into the buffer encrypted in
    /// place: the chunk it comes in is shared and immutable.
    pub fn update(&mut self, plain: &[u8]) -> Bytes {
        let total = self.tail.len() + plain.len();
        let whole = total - total % BLOCK;
        if whole == 0 {
            self.tail.extend_from_slice(plain);
            return Bytes::new();
        }
        let mut buf = Vec::with_capacity(whole);
        buf.extend_from_slice(&self.tail);
        let used = whole - self.tail.len();
        buf.extend_from_slice(&plain[..used]);
        self.tail.clear();
        self.tail.extend_from_slice(&plain[used..]);
        for block in buf.chunks_exact_mut(BLOCK) {
            self.cipher.encrypt_block_mut(block.into());
        }
        Bytes::from(buf)
    }

    /// The last block: the remaining plaintext with its PKCS#7 padding,
    /// encrypted (always [`BLOCK`] bytes).
    pub fn finish(self) -> Bytes {
        let mut block = [0u8; BLOCK];
        let n = self.tail.len();
        block[..n].copy_from_slice(&self.tail);
        // `tail` is shorter than a block, so the padded message fits the
        // buffer and this cannot fail; an empty answer would be caught by
        // the length checks of every adapter.
        match self.cipher.encrypt_padded_mut::<Pkcs7>(&mut block, n) {
            Ok(ct) => Bytes::copy_from_slice(ct),
            Err(_) => Bytes::new(),
        }
    }
}
