//! The boxes of Common Encryption (ISO/IEC 23001-7) in CMAF outputs, for
//! the `cenc` and `cbcs` schemes ([`Scheme`]):
//!
//! * init segment: the sample entry renamed `encv`/`enca` with a `sinf`
//!   (ISO/IEC 14496-12 §8.12: `frma` original format, `schm` `cenc` or
//!   `cbcs`, version 0x00010000, `schi` holding the `tenc` of ISO/IEC
//!   23001-7 §8.2: version 0 with 8-byte per-sample IVs for `cenc`,
//!   version 1 with the pattern and a 16-byte constant IV for `cbcs`),
//!   and a `pssh` of the W3C common system (`1077efec-…`, version 1 with
//!   the key id: W3C "Common PSSH Box Format"), which ClearKey players
//!   read the key id from;
//! * media segment: in the `traf`, `saiz` and `saio` (§8.7.8, §8.7.9: the
//!   sample auxiliary information, i.e. each sample's IV and subsample
//!   map) and the `senc` holding it (ISO/IEC 23001-7 §7.2), whose
//!   per-sample data `saio` points at, relative to the `moof` (CMAF
//!   §7.5.16: `default-base-is-moof`; §8.7.9.1: offsets follow the
//!   `tfhd`'s base), as players (Shaka, dash.js via the browser's MSE,
//!   ffmpeg) expect. `cbcs` entries have no IV (the constant IV is in
//!   `tenc`); for `cbcs` audio (no IV, no subsamples) every entry is
//!   empty and the three boxes are left out.

use super::boxes::BoxWriter;
use super::fragment::TrackFragment;
use crate::crypto::cbcs::{self, Pattern};
use crate::crypto::cenc::{Subsample, IV_SIZE};
use crate::crypto::{ContentKey, Scheme};

/// The W3C common PSSH system id (W3C EME "Common PSSH Box Format",
/// `1077efec-c0b2-4d02-ace3-3c1e52e2fb4b`).
pub const COMMON_SYSTEM_ID: [u8; 16] = [
    0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b,
];

/// `senc` flag: entries list subsamples (ISO/IEC 23001-7 §7.2.1).
pub const SENC_USE_SUBSAMPLES: u32 = 0x2;

/// A sample entry (a whole box, header included) of an `audio` or video
/// track made protected under `key` with `scheme`: its type becomes
/// `enca` or `encv` and a `sinf` naming the original type is appended to
/// its children (ISO/IEC 14496-12 §8.12.1). An entry too short to have a
/// type is returned unchanged.
pub fn protected_entry(entry: &[u8], key: &ContentKey, scheme: Scheme, audio: bool) -> Vec<u8> {
    if entry.len() < 8 {
        return entry.to_vec();
    }
    let mut original = [0u8; 4];
    original.copy_from_slice(&entry[4..8]);
    let mut w = BoxWriter::with_capacity(entry.len() + 100);
    let encrypted: &[u8; 4] = if audio { b"enca" } else { b"encv" };
    w.start(encrypted).bytes(&entry[8..]);
    w.start(b"sinf");
    w.start(b"frma").bytes(&original).end();
    w.start_full(b"schm", 0, 0)
        .bytes(scheme.fourcc().as_bytes())
        .u32(0x0001_0000)
        .end();
    w.start(b"schi");
    match scheme {
        Scheme::Cenc => write_tenc(&mut w, &key.kid),
        Scheme::Cbcs => write_tenc_cbcs(&mut w, key, cbcs_pattern(audio)),
    }
    w.end().end().end(); // schi, sinf, entry
    w.buf
}

/// The `cbcs` pattern of a track: 1:9 for video, whole blocks otherwise
/// (ISO/IEC 23001-7 §10.4.1, §9.7).
pub fn cbcs_pattern(audio: bool) -> Pattern {
    if audio {
        cbcs::WHOLE_BLOCKS
    } else {
        cbcs::VIDEO_PATTERN
    }
}

/// `tenc` version 0 (ISO/IEC 23001-7 §8.2.2): protected, 8-byte
/// per-sample IVs, the default key id.
fn write_tenc(w: &mut BoxWriter, kid: &[u8; 16]) {
    w.start_full(b"tenc", 0, 0)
        .u8(0)
        .u8(0)
        .u8(1)
        .u8(IV_SIZE)
        .bytes(kid)
        .end();
}

/// `tenc` version 1 for `cbcs` (ISO/IEC 23001-7 §8.2.2): the pattern,
/// protected, `Per_Sample_IV_Size` 0, the default key id, then the
/// 16-byte constant IV.
fn write_tenc_cbcs(w: &mut BoxWriter, key: &ContentKey, pattern: Pattern) {
    w.start_full(b"tenc", 1, 0)
        .u8(0)
        .u8((pattern.crypt << 4) | (pattern.skip & 0x0f))
        .u8(1)
        .u8(0)
        .bytes(&key.kid)
        .u8(16)
        .bytes(&cbcs::constant_iv(&key.key))
        .end();
}

/// The common-system `pssh` (version 1, one key id, no data).
pub fn pssh_common(kid: &[u8; 16]) -> Vec<u8> {
    let mut w = BoxWriter::with_capacity(52);
    w.start_full(b"pssh", 1, 0)
        .bytes(&COMMON_SYSTEM_ID)
        .u32(1)
        .bytes(kid)
        .u32(0)
        .end();
    w.buf
}

/// One sample's auxiliary information: its IV (none under a constant IV,
/// `cbcs`) and subsample map (empty: the whole sample is protected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleAux {
    pub iv: Option<[u8; 8]>,
    pub subsamples: Vec<Subsample>,
}

impl SampleAux {
    /// Bytes in `senc` (and the `saiz` entry).
    fn len(&self, with_subsamples: bool) -> usize {
        self.iv.map_or(0, |_| usize::from(IV_SIZE))
            + if with_subsamples {
                2 + 6 * self.subsamples.len()
            } else {
                0
            }
    }
}

/// Adds `saiz`, `saio` and `senc` to `frag`'s `traf` (after its `trun`),
/// for `aux` (one per sample, in order). `with_subsamples` for video.
/// The `saio` offset is computed from the `moof` layout the fragment
/// writer produces: the extra boxes come last in the `traf`, which is last
/// in the `moof`.
/// `Err` with the size when a sample's entry is over the 255 bytes a
/// `saiz` entry can give (more than 41 subsamples).
pub fn add_aux(
    frag: &mut TrackFragment,
    aux: &[SampleAux],
    with_subsamples: bool,
) -> Result<(), usize> {
    let Some(saiz) = saiz_box(aux, with_subsamples)? else {
        // Constant IV and no subsamples (`cbcs` audio): the sample
        // auxiliary information is empty and is omitted, `tenc` says it
        // all (ISO/IEC 23001-7 §7.1, as shaka-packager reads it; Chromium
        // and ffmpeg then take the constant IV of `tenc`).
        return Ok(());
    };
    let senc_at = frag.moof_len() + saiz.len() as u64 + SAIO_LEN;
    // senc header (8), version/flags (4), sample_count (4).
    let saio = saio_box(senc_at + 16);
    let mut senc = BoxWriter::with_capacity(16 + aux_len(aux, with_subsamples));
    senc.start_full(b"senc", 0, senc_flags(with_subsamples));
    write_entries(&mut senc, aux, with_subsamples);
    senc.end();
    frag.traf_boxes.push(saiz);
    frag.traf_boxes.push(saio);
    frag.traf_boxes.push(senc.buf);
    Ok(())
}

/// Size of the `saio` [`saio_box`] writes.
pub(crate) const SAIO_LEN: u64 = 20;

/// The `senc` flags (ISO/IEC 23001-7 §7.2.1; the same bit in PIFF 1.1
/// §5.3.2.1).
pub(crate) fn senc_flags(with_subsamples: bool) -> u32 {
    if with_subsamples {
        SENC_USE_SUBSAMPLES
    } else {
        0
    }
}

/// Bytes of every sample's auxiliary information.
pub(crate) fn aux_len(aux: &[SampleAux], with_subsamples: bool) -> usize {
    aux.iter().map(|a| a.len(with_subsamples)).sum()
}

/// The `saiz` box (ISO/IEC 14496-12 §8.7.8) of `aux`, `None` when every
/// entry is empty; `Err` with the size of an entry over 255 bytes.
pub(crate) fn saiz_box(aux: &[SampleAux], with_subsamples: bool) -> Result<Option<Vec<u8>>, usize> {
    let sizes: Vec<usize> = aux.iter().map(|a| a.len(with_subsamples)).collect();
    if sizes.iter().all(|&s| s == 0) {
        return Ok(None);
    }
    if let Some(&big) = sizes.iter().find(|&&s| s > 255) {
        return Err(big);
    }
    let uniform = sizes.windows(2).all(|w| w[0] == w[1]);
    let default = match (uniform, sizes.first()) {
        (true, Some(&s)) => s as u8,
        _ => 0,
    };
    let mut saiz = BoxWriter::with_capacity(17 + sizes.len());
    saiz.start_full(b"saiz", 0, 0)
        .u8(default)
        .u32(aux.len() as u32);
    if default == 0 {
        for s in &sizes {
            saiz.u8(*s as u8);
        }
    }
    saiz.end();
    Ok(Some(saiz.buf))
}

/// The `saio` box (§8.7.9): one offset, of the first sample's auxiliary
/// information, relative to the `moof` (the `traf`'s base).
pub(crate) fn saio_box(offset: u64) -> Vec<u8> {
    let mut saio = BoxWriter::with_capacity(SAIO_LEN as usize);
    // A segment is at most MAX_SEGMENT_BYTES: its moof is far under 4 GB.
    saio.start_full(b"saio", 0, 0)
        .u32(1)
        .u32(offset as u32)
        .end();
    saio.buf
}

/// `sample_count` and the per-sample entries of a `senc` (or of PIFF's
/// SampleEncryptionBox, whose entries are the same, PIFF 1.1 §5.3.2.1).
pub(crate) fn write_entries(w: &mut BoxWriter, aux: &[SampleAux], with_subsamples: bool) {
    w.u32(aux.len() as u32);
    for a in aux {
        if let Some(iv) = &a.iv {
            w.bytes(iv);
        }
        if with_subsamples {
            w.u16(a.subsamples.len() as u16);
            for s in &a.subsamples {
                w.u16(s.clear).u32(s.protected);
            }
        }
    }
}

#[cfg(test)]
mod tests;
