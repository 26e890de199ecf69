//! The movie fragment random access box (ISO/IEC 14496-12 §8.8.9–8.8.11):
//! `mfro`, the last 16 bytes of the file, gives the size of the `mfra` that
//! ends there; its `tfra` boxes list the offsets of the `moof` boxes. Read
//! first, they let the fragment reader plan its reads instead of following
//! box sizes from one fragment to the next.

use super::error::{Mp4Error, Result};
use super::header::BoxIter;
use bytes::Bytes;

/// Length of `mfro` (§8.8.11: full box header + u32 size).
pub const MFRO_LEN: u64 = 16;
/// Most `tfra` entries read (all tracks); more fragments than the reader
/// may visit anyway ([`super::fragments::MAX_FRAGMENTS`]).
const MAX_TFRA_ENTRIES: u64 = 1 << 20;

/// The size of the `mfra` the file ends with, from its last 16 bytes, or
/// `None` when they are not an `mfro` (no random access box).
pub fn mfra_size(tail16: &[u8]) -> Option<u64> {
    let t: &[u8; 16] = tail16.try_into().ok()?;
    if u32::from_be_bytes([t[0], t[1], t[2], t[3]]) != 16 || &t[4..8] != b"mfro" {
        return None;
    }
    Some(u64::from(u32::from_be_bytes([t[12], t[13], t[14], t[15]])))
}

/// The distinct `moof` offsets every `tfra` of `mfra` (the complete box at
/// file offset `offset`) lists, sorted.
pub fn moof_offsets(mfra: Bytes, offset: u64) -> Result<Vec<u64>> {
    let mfra = BoxIter::new(mfra, offset, "")
        .next()
        .ok_or_else(|| Mp4Error::truncated("mfra", offset, "mfra cut short"))??;
    if &mfra.header.typ.0 != b"mfra" {
        return Err(Mp4Error::invalid(
            "mfra",
            offset,
            "mfro does not point at an mfra",
        ));
    }
    let mut out = Vec::new();
    for child in mfra.children("mfra") {
        let c = child?;
        if &c.header.typ.0 != b"tfra" {
            continue;
        }
        let p = &c.payload;
        let short = || Mp4Error::truncated("mfra/tfra", c.header.offset, "tfra cut short");
        let head = p.get(..16).ok_or_else(short)?;
        let v1 = head[0] == 1;
        let lens = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
        let count = u64::from(u32::from_be_bytes([head[12], head[13], head[14], head[15]]));
        // length_size_of_traf_num, _trun_num, _sample_num: 2 bits each,
        // the field is that + 1 bytes.
        let tail: u64 = (0..3).map(|i| u64::from((lens >> (2 * i)) & 3) + 1).sum();
        let width = if v1 { 16 } else { 8 } + tail;
        let left = (p.len() - 16) as u64;
        if count > MAX_TFRA_ENTRIES || count.saturating_mul(width) > left {
            return Err(Mp4Error::truncated(
                "mfra/tfra",
                c.header.offset,
                format!("{count} entries of {width} bytes, the tfra has {left}"),
            ));
        }
        // Both fit: checked against the payload just above.
        let (count, width) = (count as usize, width as usize);
        for i in 0..count {
            let at = 16 + i * width + if v1 { 8 } else { 4 };
            let b = &p[at..];
            let off = if v1 {
                u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            } else {
                u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            };
            out.push(off);
        }
        if out.len() as u64 > MAX_TFRA_ENTRIES {
            return Err(Mp4Error::unsupported(
                "mfra",
                offset,
                "too many tfra entries",
            ));
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
