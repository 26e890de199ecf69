//! The movie fragment random access box (ISO/IEC 14496-12 §8.8.9–8.8.11):
//! `mfro`, the last 16 bytes of the file, gives the size of the `mfra` that
//! ends there; its `tfra` boxes list the offsets of the `moof` boxes. Read
//! first, they let the fragment reader plan its reads instead of following
//! box sizes from one fragment to the next, or list a long title's
//! fragments without reading them ([`tfra_tables`], `fragtable`).

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
    let mut out: Vec<u64> = tfra_tables(mfra, offset)?
        .into_iter()
        .flat_map(|t| t.entries.into_iter().map(|e| e.moof_offset))
        .collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// One `tfra` entry (§8.8.10): a random access point of a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TfraEntry {
    /// Presentation time of the sync sample, track timescale.
    pub time: u64,
    pub moof_offset: u64,
    /// 1-based `traf`, `trun` and sample numbers within that moof.
    pub traf: u32,
    pub trun: u32,
    pub sample: u32,
}

/// One track's `tfra`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tfra {
    pub track_id: u32,
    pub entries: Vec<TfraEntry>,
}

/// Reads a big-endian unsigned field of `n` (1–8) bytes.
fn be_n(b: &[u8], n: usize) -> u64 {
    b[..n].iter().fold(0u64, |a, &x| (a << 8) | u64::from(x))
}

/// Every `tfra` of `mfra` (the complete box at file offset `offset`), its
/// entries in file order as written. Entry counts are checked against the
/// box's bytes and `MAX_TFRA_ENTRIES` before any is read.
pub fn tfra_tables(mfra: Bytes, offset: u64) -> Result<Vec<Tfra>> {
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
    let mut out: Vec<Tfra> = Vec::new();
    let mut total = 0u64;
    for child in mfra.children("mfra") {
        let c = child?;
        if &c.header.typ.0 != b"tfra" {
            continue;
        }
        let p = &c.payload;
        let short = || Mp4Error::truncated("mfra/tfra", c.header.offset, "tfra cut short");
        let head = p.get(..16).ok_or_else(short)?;
        let v1 = head[0] == 1;
        let track_id = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let lens = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
        let count = u64::from(u32::from_be_bytes([head[12], head[13], head[14], head[15]]));
        // length_size_of_traf_num, _trun_num, _sample_num: 2 bits each,
        // the field is that + 1 bytes.
        let widths: [usize; 3] = [4, 2, 0].map(|s| ((lens >> s) & 3) as usize + 1);
        let tail: u64 = widths.iter().map(|&w| w as u64).sum();
        let width = if v1 { 16 } else { 8 } + tail;
        let left = (p.len() - 16) as u64;
        total = total.saturating_add(count);
        if total > MAX_TFRA_ENTRIES || count.saturating_mul(width) > left {
            return Err(Mp4Error::truncated(
                "mfra/tfra",
                c.header.offset,
                format!("{count} entries of {width} bytes, the tfra has {left}"),
            ));
        }
        // Both fit: checked against the payload just above.
        let (count, width) = (count as usize, width as usize);
        let mut entries = Vec::with_capacity(count);
        for i in 0..count {
            let b = &p[16 + i * width..16 + (i + 1) * width];
            let (time, moof_offset, mut at) = if v1 {
                (be_n(b, 8), be_n(&b[8..], 8), 16)
            } else {
                (be_n(b, 4), be_n(&b[4..], 4), 8)
            };
            let mut num = |w: usize| {
                let v = be_n(&b[at..], w) as u32;
                at += w;
                v
            };
            let (traf, trun, sample) = (num(widths[0]), num(widths[1]), num(widths[2]));
            entries.push(TfraEntry {
                time,
                moof_offset,
                traf,
                trun,
                sample,
            });
        }
        out.push(Tfra { track_id, entries });
    }
    Ok(out)
}
