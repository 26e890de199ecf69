//! Entity tags for what edgepack generates (RFC 9110 §8.8.3).
//!
//! A manifest or init segment is tagged by its bytes. A media segment's
//! bytes are not at hand when its headers go out, so it is tagged by what
//! determines them: the source object's ETag (which pins the payload) and
//! the generated header bytes (which pin which samples, in what layout).
//! FNV-1a is enough: the tags only need to change when the bytes do.

const FNV_SEED: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x100_0000_01b3;

fn fnv(data: &[u8], seed: u64) -> u64 {
    data.iter()
        .fold(seed, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// Strong ETag of a generated body.
pub fn of_body(data: &[u8]) -> String {
    format!("\"{:016x}\"", fnv(data, FNV_SEED))
}

/// Strong ETag of a segment made from `source_etag`'s bytes under the
/// generated `header`.
pub fn of_segment(source_etag: &str, header: &[u8]) -> String {
    format!(
        "\"{:016x}\"",
        fnv(header, fnv(source_etag.as_bytes(), FNV_SEED))
    )
}
