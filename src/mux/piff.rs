//! PIFF 1.1 sample encryption in Smooth Streaming fragments
//! (`encryption=piff`, as Azure Media Services served PlayReady Smooth).
//!
//! The cipher is Common Encryption's `cenc` (AES-128-CTR, 8-byte
//! per-sample IVs, the same subsample map: [`crate::crypto::cenc`]); only
//! the box that carries the IVs differs. In the `traf`, after `tfxd`:
//!
//! * the PIFF SampleEncryptionBox (PIFF 1.1 §5.3.2.1): a `uuid` box of
//!   user type `a2394f52-5a9b-4f14-a244-6c427c648df4`, then a FullBox-like
//!   version 0 and flags (0x2: subsample entries present, video), no
//!   override of the track's `AlgorithmID`/IV size/KID (flag 0x1 unset),
//!   `sample_count` and per sample the 8-byte IV and, for video, the
//!   subsample map: byte for byte the entries of a CENC `senc`;
//! * `saiz` and `saio` (ISO/IEC 14496-12 §8.7.8, §8.7.9) pointing into
//!   that box's entries, as nginx-vod-module writes PIFF: a reader that
//!   knows only CENC (ffmpeg's mov demuxer, with the `tenc` of an init
//!   made for it) finds each sample's IV and subsamples through them, and
//!   a PIFF reader (Silverlight, PlayReady clients, dash.js' MSS module,
//!   which renames the box `senc`) reads the `uuid` box. No separate
//!   `senc` is written: the information exists once, and a client that
//!   sees both a `senc` and the `uuid` box has to pick one (ffmpeg reads
//!   only `senc`, dash.js would then hold two).
//!
//! Smooth has no init segment (the client builds the track from the
//! manifest's `ProtectionHeader`, MS-SSTR §2.2.2.2), so the PIFF
//! TrackEncryptionBox (`8974dbce-…`, the moov-side `tenc`) is never
//! written here.

use super::boxes::BoxWriter;
use super::cenc::{aux_len, saio_box, saiz_box, senc_flags, write_entries, SampleAux};
use super::fragment::TrackFragment;

/// User type of PIFF's SampleEncryptionBox (PIFF 1.1 §5.3.2.1).
pub const SAMPLE_ENCRYPTION_UUID: [u8; 16] = [
    0xa2, 0x39, 0x4f, 0x52, 0x5a, 0x9b, 0x4f, 0x14, 0xa2, 0x44, 0x6c, 0x42, 0x7c, 0x64, 0x8d, 0xf4,
];

/// User type of PIFF's TrackEncryptionBox (PIFF 1.1 §5.3.1), for readers
/// and tests: Smooth outputs have no `moov` to put it in.
pub const TRACK_ENCRYPTION_UUID: [u8; 16] = [
    0x89, 0x74, 0xdb, 0xce, 0x7b, 0xe7, 0x4c, 0x51, 0x84, 0xf9, 0x71, 0x48, 0xf9, 0x88, 0x25, 0x54,
];

/// Bytes before the first entry: box header (8), user type (16),
/// version/flags (4), `sample_count` (4).
const HEADER_LEN: u64 = 32;

/// Adds the PIFF SampleEncryptionBox for `aux` (one per sample, in
/// order; IVs required), then `saiz` and `saio`, to `frag`'s `traf`.
/// `with_subsamples` for video. The offset in `saio` is computed from the
/// `moof` layout the fragment writer produces: these boxes come last in
/// the `traf`, which is the `moof`'s only one (Smooth's `tfhd` has no base
/// offset, so the `moof` is the base, §8.8.7.1).
/// `Err` with the size when a sample's entry is over the 255 bytes a
/// `saiz` entry can give (more than 41 subsamples).
pub fn add_sample_encryption(
    frag: &mut TrackFragment,
    aux: &[SampleAux],
    with_subsamples: bool,
) -> Result<(), usize> {
    let entries_at = frag.moof_len() + HEADER_LEN;
    let mut uuid = BoxWriter::with_capacity(HEADER_LEN as usize + aux_len(aux, with_subsamples));
    uuid.start(b"uuid")
        .bytes(&SAMPLE_ENCRYPTION_UUID)
        .u32(senc_flags(with_subsamples));
    write_entries(&mut uuid, aux, with_subsamples);
    uuid.end();
    let saiz = saiz_box(aux, with_subsamples)?;
    frag.traf_boxes.push(uuid.buf);
    if let Some(saiz) = saiz {
        frag.traf_boxes.push(saiz);
        frag.traf_boxes.push(saio_box(entries_at));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
