//! OBUs (AV1 bitstream §5.3): the header, the optional extension and
//! `obu_size`, which is how a sample (a temporal unit without its
//! temporal delimiter, AV1 ISOBMFF §2.4) is cut into syntax structures.

use super::{Av1Error, R};
use std::ops::Range;

pub(super) const OBU_SEQUENCE_HEADER: u32 = 1;
pub(super) const OBU_TEMPORAL_DELIMITER: u32 = 2;
pub(super) const OBU_FRAME_HEADER: u32 = 3;
pub(super) const OBU_TILE_GROUP: u32 = 4;
pub(super) const OBU_METADATA: u32 = 5;
pub(super) const OBU_FRAME: u32 = 6;
pub(super) const OBU_REDUNDANT_FRAME_HEADER: u32 = 7;
pub(super) const OBU_TILE_LIST: u32 = 8;
pub(super) const OBU_PADDING: u32 = 15;

/// `leb128()` (§4.10.5) at `data[*at..]`: at most 8 bytes, a value that
/// fits a u32 (an `obu_size` within a sample).
fn leb128(data: &[u8], at: &mut usize) -> R<usize> {
    let mut value = 0u64;
    for i in 0..8 {
        let b = *data.get(*at).ok_or(Av1Error::Truncated("obu_size"))?;
        *at += 1;
        value |= u64::from(b & 0x7f) << (i * 7);
        if b & 0x80 == 0 {
            return usize::try_from(value)
                .ok()
                .filter(|&v| v <= u32::MAX as usize)
                .ok_or(Av1Error::Malformed("obu_size"));
        }
    }
    Err(Av1Error::Malformed("obu_size"))
}

/// One OBU of a sample: its type and its payload's place.
#[derive(Clone, Debug)]
pub(super) struct Obu {
    pub(super) kind: u32,
    pub(super) temporal_id: u32,
    pub(super) spatial_id: u32,
    pub(super) payload: Range<usize>,
}

/// The OBUs of `data` (`obu_size` present, or the rest of the data).
pub(super) struct Obus<'a> {
    pub(super) data: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Obus<'a> {
    pub(super) fn new(data: &'a [u8]) -> Obus<'a> {
        Obus { data, at: 0 }
    }

    fn next_obu(&mut self) -> R<Obu> {
        let d = self.data;
        let h = d[self.at];
        if h & 0x80 != 0 {
            return Err(Av1Error::Malformed("obu_forbidden_bit"));
        }
        let kind = u32::from((h >> 3) & 15);
        let (extension, has_size) = (h & 4 != 0, h & 2 != 0);
        let mut at = self.at + 1;
        let (mut temporal_id, mut spatial_id) = (0, 0);
        if extension {
            let e = *d
                .get(at)
                .ok_or(Av1Error::Truncated("obu_extension_header"))?;
            temporal_id = u32::from(e >> 5);
            spatial_id = u32::from((e >> 3) & 3);
            at += 1;
        }
        let size = if has_size {
            leb128(d, &mut at)?
        } else {
            d.len().saturating_sub(at)
        };
        let end = at
            .checked_add(size)
            .filter(|&e| e <= d.len())
            .ok_or(Av1Error::Truncated("OBU"))?;
        self.at = end;
        Ok(Obu {
            kind,
            temporal_id,
            spatial_id,
            payload: at..end,
        })
    }
}

impl Iterator for Obus<'_> {
    type Item = R<Obu>;

    fn next(&mut self) -> Option<R<Obu>> {
        if self.at >= self.data.len() {
            return None;
        }
        let r = self.next_obu();
        if r.is_err() {
            self.at = self.data.len();
        }
        Some(r)
    }
}
