//! Where the tile data of an AV1 sample is, for Common Encryption (AV1
//! Codec ISO Media File Format Binding §7, "Common Encryption": OBU
//! headers, `obu_size`, temporal delimiters, sequence headers, frame
//! headers, metadata and padding stay clear; in Frame and Tile Group OBUs
//! only the `decode_tile()` bytes of each tile are protected).
//!
//! Finding the tiles needs the whole uncompressed frame header (AV1
//! bitstream spec §5.9, read with the sequence header of §5.5): the tile
//! info (§5.9.15) comes after the frame size, quantizer, segmentation and
//! loop filter fields, and the header's length depends on all of them —
//! and, through `frame_size_with_refs()` (§5.9.7), `skip_mode_params()`
//! (§5.9.22) and segmentation data loaded from a reference (§7.20), on
//! the reference frames. [`Av1Parser`] therefore walks the samples of a
//! segment in decode order from its first (a sync sample: a shown key
//! frame, AV1 ISOBMFF §2.4, which refreshes every reference) and keeps
//! what later headers read of the eight reference slots (§7.20, the
//! reference frame update process).
//!
//! Every count is bounded by its field width (tiles ≤ 64 × 64, §A.3), a
//! read past an OBU is [`Av1Error::Truncated`], and anything not
//! followed — scalable streams (`operating_point_idc[0]` ≠ 0),
//! `frame_refs_short_signaling`, tile list OBUs, a reference slot never
//! filled — is an error, so a segment answers 501/502 rather than a
//! wrong subsample map.
//!
//! The reader is cut along the spec's syntax sections: `obu` (§5.3, the
//! OBU framing), `sequence_header` (§5.5), `frame_header` (§5.9.2, with
//! `frame_size` for §5.9.5–§5.9.8), `tile_group` (`tile_info()` §5.9.15
//! and the tile group OBU §5.11) and `refs` (the reference slots, §7.20);
//! this module holds the descriptors (§4.10) and the per-sample walk.

mod frame_header;
mod frame_size;
mod obu;
mod refs;
mod sequence_header;
mod tile_group;

use super::bits::Bits;
use frame_header::FrameHeader;
use obu::*;
use refs::RefSlot;
use sequence_header::parse_sequence_header;
pub use sequence_header::{av1c_of_sample_entry, SequenceHeader};
use std::fmt;
use std::ops::Range;

const KEY_FRAME: u32 = 0;
const INTER_FRAME: u32 = 1;
const INTRA_ONLY_FRAME: u32 = 2;
const SWITCH_FRAME: u32 = 3;

const NUM_REF_FRAMES: usize = 8;
const REFS_PER_FRAME: usize = 7;
const PRIMARY_REF_NONE: u32 = 7;
const ALL_FRAMES: u32 = 255;
const SELECT: u32 = 2;
const MAX_TILE_WIDTH: u32 = 4096;
const MAX_TILE_AREA: u32 = 4096 * 2304;
const MAX_TILE_COLS: u32 = 64;
const MAX_TILE_ROWS: u32 = 64;
/// Tiles listed for one sample: one frame's most (64 × 64, §A.3); a
/// `senc` entry holds 41 subsamples anyway.
const MAX_SAMPLE_TILES: usize = 4096;
const SUPERRES_NUM: u32 = 8;
const SUPERRES_DENOM_MIN: u32 = 9;
const SUPERRES_DENOM_BITS: usize = 3;
/// Segmentation feature widths, signedness and limits (§5.9.14).
const SEG_FEATURE_BITS: [usize; 8] = [8, 6, 6, 6, 6, 3, 0, 0];
const SEG_FEATURE_SIGNED: [bool; 8] = [true, true, true, true, true, false, false, false];
const SEG_FEATURE_MAX: [i32; 8] = [255, 63, 63, 63, 63, 7, 0, 0];
/// Global motion (§5.9.24, §7.11.3.6 constants).
const GM_ABS_ALPHA_BITS: u32 = 12;
const GM_ABS_TRANS_ONLY_BITS: u32 = 9;
const GM_ABS_TRANS_BITS: u32 = 12;
const IDENTITY: u32 = 0;
const TRANSLATION: u32 = 1;
const ROTZOOM: u32 = 2;
const AFFINE: u32 = 3;

/// Why an AV1 sample's tiles cannot be located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Av1Error {
    /// A structure runs past its OBU or the sample.
    Truncated(&'static str),
    /// A value the spec forbids.
    Malformed(&'static str),
    /// A feature this reader does not follow.
    Unsupported(&'static str),
}

impl fmt::Display for Av1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Av1Error::Truncated(w) => write!(f, "AV1 {w} cut short"),
            Av1Error::Malformed(w) => write!(f, "malformed AV1 {w}"),
            Av1Error::Unsupported(w) => write!(f, "AV1 {w} is not supported"),
        }
    }
}

type R<T> = Result<T, Av1Error>;

/// Reads `n` bits of structure `what`.
fn f(r: &mut Bits<'_>, n: usize, what: &'static str) -> R<u32> {
    if n > 32 {
        return Err(Av1Error::Malformed(what));
    }
    r.read(n).ok_or(Av1Error::Truncated(what))
}

fn flag(r: &mut Bits<'_>, what: &'static str) -> R<bool> {
    Ok(f(r, 1, what)? == 1)
}

/// `su(n)` (§4.10.6).
fn su(r: &mut Bits<'_>, n: usize, what: &'static str) -> R<i32> {
    let v = f(r, n, what)? as i64;
    let sign = 1i64 << (n - 1);
    Ok(if v & sign != 0 { v - 2 * sign } else { v } as i32)
}

/// `ns(n)` (§4.10.7).
fn ns(r: &mut Bits<'_>, n: u32, what: &'static str) -> R<u32> {
    if n == 0 {
        return Err(Av1Error::Malformed(what));
    }
    let w = 32 - n.leading_zeros(); // FloorLog2(n) + 1
    let m = (1u64 << w) - u64::from(n);
    let v = u64::from(f(r, w as usize - 1, what)?);
    if v < m {
        return Ok(v as u32);
    }
    let extra = u64::from(f(r, 1, what)?);
    Ok(((v << 1) - m + extra) as u32)
}

/// `uvlc()` (§4.10.3).
fn uvlc(r: &mut Bits<'_>, what: &'static str) -> R<()> {
    let mut zeros = 0;
    while !flag(r, what)? {
        zeros += 1;
        if zeros >= 32 {
            return Err(Av1Error::Malformed(what));
        }
    }
    f(r, zeros, what).map(|_| ())
}

/// Walks the samples of an AV1 track in decode order and gives each
/// one's tile data ranges.
#[derive(Clone, Debug)]
pub struct Av1Parser {
    seq: Option<SequenceHeader>,
    refs: [RefSlot; NUM_REF_FRAMES],
    /// A frame header whose tiles are still to come (`SeenFrameHeader`).
    frame: Option<FrameHeader>,
}

impl Av1Parser {
    /// With the sequence header of the sample entry's `av1C`, if any (the
    /// samples may carry it too).
    pub fn new(seq: Option<SequenceHeader>) -> Av1Parser {
        Av1Parser {
            seq,
            refs: [RefSlot::default(); NUM_REF_FRAMES],
            frame: None,
        }
    }

    /// The byte ranges of `sample` holding `decode_tile()` data (each
    /// tile's own range, in order); every other byte stays clear.
    pub fn tiles(&mut self, sample: &[u8]) -> R<Vec<Range<usize>>> {
        // A sample is a temporal unit whose temporal delimiter was left
        // out (AV1 ISOBMFF §2.4): it starts with no frame header seen.
        self.frame = None;
        let mut out = Vec::new();
        for obu in Obus::new(sample) {
            let obu = obu?;
            let payload = &sample[obu.payload.clone()];
            match obu.kind {
                OBU_SEQUENCE_HEADER => self.seq = Some(parse_sequence_header(payload)?),
                OBU_TEMPORAL_DELIMITER => self.frame = None,
                OBU_FRAME_HEADER | OBU_REDUNDANT_FRAME_HEADER if self.frame.is_some() => {
                    // frame_header_copy(): the same header again.
                }
                OBU_FRAME_HEADER | OBU_REDUNDANT_FRAME_HEADER | OBU_FRAME => {
                    let r = &mut Bits::new(payload);
                    let header = self.frame_header(r, &obu)?;
                    if header.show_existing_frame {
                        if obu.kind == OBU_FRAME {
                            return Err(Av1Error::Malformed("frame OBU showing an existing frame"));
                        }
                        self.show_existing(&header);
                        continue;
                    }
                    self.frame = Some(header);
                    if obu.kind == OBU_FRAME {
                        // byte_alignment() then the tile group.
                        let at = r.position().div_ceil(8);
                        self.tile_group(sample, obu.payload.start + at..obu.payload.end, &mut out)?;
                    }
                }
                OBU_TILE_GROUP => self.tile_group(sample, obu.payload.clone(), &mut out)?,
                OBU_METADATA | OBU_PADDING => {}
                OBU_TILE_LIST => return Err(Av1Error::Unsupported("tile list OBU")),
                _ => {} // reserved: ignored (§6.2.2)
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
