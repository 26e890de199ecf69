//! Entity tags for what edgepack generates (RFC 9110 §8.8.3).
//!
//! A manifest or init segment is tagged by its bytes. A media segment's
//! bytes are not at hand when its headers go out, so it is tagged by what
//! determines them: the source object's ETag (which pins the payload) and
//! the generated header bytes (which pin which samples, in what layout).
//!
//! The tags only need to change when the bytes do, so a non-cryptographic
//! 64-bit digest is enough; MurmurHash3 (x64, 128-bit, its first half) reads
//! the bytes sixteen at a time. FNV-1a, used before, reads one byte per
//! dependent multiply: hashing a 2 h title's 82 KB media playlist took
//! longer in wasm than writing it, on every request that packages one.

/// Names how tags are made: part of every output cache key
/// ([`crate::outputs::key`]), so outputs stored under an older scheme are
/// not served beside new copies of the same bytes with other tags.
pub const SCHEME: &str = "e2";

/// MurmurHash3_x64_128 of `data` with `seed` (Austin Appleby's reference,
/// `MurmurHash3.cpp`): both 64-bit halves.
fn murmur3_x64_128(data: &[u8], seed: u32) -> (u64, u64) {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    // Little-endian word of up to 8 bytes (the tail's are zero-padded).
    fn word(b: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    }
    let mix1 = |k: u64| k.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    let mix2 = |k: u64| k.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
    let (mut h1, mut h2) = (u64::from(seed), u64::from(seed));
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        let (k1, k2) = b.split_at(8);
        h1 ^= mix1(word(k1));
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= mix2(word(k2));
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    if tail.len() > 8 {
        h2 ^= mix2(word(&tail[8..]));
    }
    if !tail.is_empty() {
        h1 ^= mix1(word(&tail[..tail.len().min(8)]));
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1, h2)
}

/// MurmurHash3's finalizer: every input bit reaches every output bit.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

fn tag(data: &[u8]) -> String {
    format!("\"{:016x}\"", murmur3_x64_128(data, 0).0)
}

/// Strong ETag of a generated body.
pub fn of_body(data: &[u8]) -> String {
    tag(data)
}

/// Strong ETag of a segment made from `source_etag`'s bytes under the
/// generated `header`.
pub fn of_segment(source_etag: &str, header: &[u8]) -> String {
    // The ETag's length first, so no other (ETag, header) pair has the
    // same bytes.
    let mut data = Vec::with_capacity(8 + source_etag.len() + header.len());
    data.extend_from_slice(&(source_etag.len() as u64).to_le_bytes());
    data.extend_from_slice(source_etag.as_bytes());
    data.extend_from_slice(header);
    tag(&data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values: the `mmh3` Python package (`mmh3.hash64(data, 0,
    /// signed=False)`), which wraps Appleby's C++ code.
    #[test]
    fn murmur3_matches_the_reference() {
        let cases: [(&[u8], u64, u64); 3] = [
            (b"", 0, 0),
            (b"hello", 0xcbd8_a7b3_41bd_9b02, 0x5b1e_906a_48ae_1d19),
            (
                b"The quick brown fox jumps over the lazy dog",
                0xe34b_bc7b_bc07_1b6c,
                0x7a43_3ca9_c49a_9347,
            ),
        ];
        for (data, h1, h2) in cases {
            assert_eq!(murmur3_x64_128(data, 0), (h1, h2), "{data:?}");
        }
        let bytes: Vec<u8> = (0..768).map(|i| i as u8).collect();
        assert_eq!(
            murmur3_x64_128(&bytes, 0),
            (0xcf92_6c30_03b9_26b6, 0xfa53_d9e5_e2f3_4638)
        );
    }

    #[test]
    fn every_byte_and_length_changes_the_tag() {
        let body: Vec<u8> = (0..100u32).map(|i| (i * 7) as u8).collect();
        let tag0 = of_body(&body);
        assert_eq!(tag0.len(), 18);
        assert!(tag0.starts_with('"') && tag0.ends_with('"'));
        for i in 0..body.len() {
            for bit in [0x01, 0x80] {
                let mut b = body.clone();
                b[i] ^= bit;
                assert_ne!(of_body(&b), tag0, "byte {i} bit {bit:#x}");
            }
        }
        assert_ne!(of_body(&body[..99]), tag0);
        let mut longer = body.clone();
        longer.push(0);
        assert_ne!(of_body(&longer), tag0, "a trailing zero byte counts");
    }

    #[test]
    fn a_segment_tag_names_its_source_and_header() {
        let t = of_segment("\"v1\"", b"moof");
        assert_eq!(t, of_segment("\"v1\"", b"moof"));
        assert_ne!(t, of_segment("\"v2\"", b"moof"));
        assert_ne!(t, of_segment("\"v1\"", b"moov"));
        // The split between ETag and header is part of what is tagged.
        assert_ne!(of_segment("ab", b"c"), of_segment("a", b"bc"));
    }
}
