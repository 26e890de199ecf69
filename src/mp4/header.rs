//! Box headers and a child iterator bounded by the parent's payload.

use super::error::{Mp4Error, Result};
use crate::model::FourCC;
use bytes::Bytes;
use nom::number::complete::{be_u32, be_u64};
use nom::IResult;

/// A parsed box header (ISO/IEC 14496-12 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoxHeader {
    pub typ: FourCC,
    /// Absolute file offset of the first header byte.
    pub offset: u64,
    /// 8, 16 (largesize), +16 for `uuid`.
    pub header_len: u64,
    /// Total box size including the header; `None` for size 0 ("extends to
    /// the end of the file"), which only the last top-level box may use.
    pub size: Option<u64>,
}

impl BoxHeader {
    /// Largest header: 4 size + 4 type + 8 largesize + 16 uuid.
    pub const MAX_LEN: usize = 32;

    /// Offset one past the box end, if its size is known.
    pub fn end(&self) -> Option<u64> {
        self.size.map(|s| self.offset.saturating_add(s))
    }
}

fn raw_header(input: &[u8]) -> IResult<&[u8], (u64, [u8; 4], bool)> {
    let (input, size32) = be_u32(input)?;
    let (input, typ) = nom::bytes::complete::take(4usize)(input)?;
    let typ = [typ[0], typ[1], typ[2], typ[3]];
    if size32 == 1 {
        let (input, large) = be_u64(input)?;
        Ok((input, (large, typ, true)))
    } else {
        Ok((input, (u64::from(size32), typ, false)))
    }
}

/// Parses a box header at the start of `input`, which sits at file offset
/// `offset`. `Ok(None)` means `input` is too short to hold the header.
pub fn parse_header(input: &[u8], offset: u64, path: &str) -> Result<Option<BoxHeader>> {
    let Ok((rest, (size, typ, large))) = raw_header(input) else {
        return Ok(None);
    };
    let mut header_len: u64 = if large { 16 } else { 8 };
    if &typ == b"uuid" {
        if rest.len() < 16 {
            return Ok(None);
        }
        header_len += 16;
    }
    let size = match size {
        0 => None,
        s if s < header_len => {
            return Err(Mp4Error::invalid(
                path,
                offset,
                format!("box '{}' size {s} is smaller than its header", FourCC(typ)),
            ))
        }
        s => Some(s),
    };
    Ok(Some(BoxHeader {
        typ: FourCC(typ),
        offset,
        header_len,
        size,
    }))
}

/// A box with its payload as a zero-copy slice.
#[derive(Clone, Debug)]
pub struct Mp4Box {
    pub header: BoxHeader,
    /// Payload (after the header), a slice of the parent's buffer.
    pub payload: Bytes,
}

impl Mp4Box {
    /// Absolute file offset of the first payload byte.
    pub fn payload_offset(&self) -> u64 {
        self.header.offset + self.header.header_len
    }

    /// Iterates the child boxes of a container box.
    pub fn children(&self, path: &str) -> BoxIter {
        BoxIter::new(self.payload.clone(), self.payload_offset(), path)
    }
}

/// Iterates the boxes inside a buffer; a child can never extend past the end
/// of the buffer (the parent's payload), which is what keeps hostile sizes
/// from reading outside their parent.
pub struct BoxIter {
    data: Bytes,
    pos: usize,
    base: u64,
    path: String,
    failed: bool,
}

impl BoxIter {
    pub fn new(data: Bytes, base: u64, path: &str) -> Self {
        BoxIter {
            data,
            pos: 0,
            base,
            path: path.to_string(),
            failed: false,
        }
    }

    /// Finds the first child of type `typ`.
    pub fn find(self, typ: &[u8; 4]) -> Result<Option<Mp4Box>> {
        for b in self {
            let b = b?;
            if &b.header.typ.0 == typ {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }
}

impl Iterator for BoxIter {
    type Item = Result<Mp4Box>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.data.len() - self.pos;
        // ISO/IEC 14496-12 allows trailing zero padding in some containers
        // (e.g. after `udta`); fewer than 8 bytes cannot start a box.
        if rest < 8 {
            return None;
        }
        let offset = self.base + self.pos as u64;
        let header = match parse_header(&self.data[self.pos..], offset, &self.path) {
            Ok(Some(h)) => h,
            Ok(None) => {
                self.failed = true;
                return Some(Err(Mp4Error::truncated(
                    &self.path,
                    offset,
                    "box header cut short",
                )));
            }
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        let size = header.size.unwrap_or(rest as u64);
        if size > rest as u64 {
            self.failed = true;
            return Some(Err(Mp4Error::truncated(
                format!("{}/{}", self.path, header.typ),
                offset,
                format!("box size {size} exceeds the {rest} bytes left in its parent"),
            )));
        }
        // Both fit in usize: size <= rest, header_len <= size.
        let start = self.pos + header.header_len as usize;
        let end = self.pos + size as usize;
        self.pos = end;
        Some(Ok(Mp4Box {
            header,
            payload: self.data.slice(start..end),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_large_uuid_and_zero_sizes() {
        let h = parse_header(b"\0\0\0\x10free\0\0\0\0\0\0\0\0", 5, "")
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.typ, h.header_len, h.size),
            (FourCC(*b"free"), 8, Some(16))
        );
        let mut large = vec![0, 0, 0, 1];
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&(1u64 << 33).to_be_bytes());
        let h = parse_header(&large, 0, "").unwrap().unwrap();
        assert_eq!((h.header_len, h.size), (16, Some(1 << 33)));
        let mut uuid = vec![0, 0, 0, 40];
        uuid.extend_from_slice(b"uuid");
        uuid.extend_from_slice(&[7; 16]);
        let h = parse_header(&uuid, 0, "").unwrap().unwrap();
        assert_eq!(h.header_len, 24);
        let h = parse_header(b"\0\0\0\0mdat", 0, "").unwrap().unwrap();
        assert_eq!(h.size, None);
    }

    #[test]
    fn rejects_sizes_below_header_and_reports_short_input() {
        assert!(parse_header(b"\0\0\0\x04free", 0, "").is_err());
        assert!(parse_header(b"\0\0\0\x01mdat\0\0\0\0\0\0\0\x08", 0, "").is_err());
        assert_eq!(parse_header(b"\0\0\0", 0, "").unwrap(), None);
    }

    #[test]
    fn iterator_bounds_children_by_parent() {
        let data = Bytes::from_static(b"\0\0\0\x09abcdX\0\0\0\x20efgh");
        let mut it = BoxIter::new(data, 100, "moov");
        let first = it.next().unwrap().unwrap();
        assert_eq!(first.header.typ, FourCC(*b"abcd"));
        assert_eq!(&first.payload[..], b"X");
        assert_eq!(first.payload_offset(), 108);
        let err = it.next().unwrap().unwrap_err();
        assert_eq!(err.kind, crate::mp4::Mp4ErrorKind::Truncated);
        assert!(it.next().is_none());
    }
}
