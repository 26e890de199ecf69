//! Top-level walk: find the `moov` with as few range reads as possible.
//!
//! Sans-IO: [`locate_moov`] looks at whatever window of the file the caller
//! has and answers either "the moov is at X..Y" or "give me bytes X..Y next".
//! Following top-level box sizes means a moov at the end of a 4 GB file costs
//! one read for the head and one for the tail, never a scan of the mdat.

use super::error::{Mp4Error, Result};
use super::header::parse_header;

/// Size of the first read of a file: enough for `ftyp` plus a typical
/// faststart `moov` of a short title in one go.
pub const HEAD_PROBE_LEN: u64 = 256 * 1024;
/// A tail at most this long is fetched whole when the walk lands in it, so a
/// moov at the end arrives in the same read as its header.
pub const TAIL_READ_LEN: u64 = 16 * 1024 * 1024;
/// Largest `moov` we accept. A 3-hour title with several tracks has a moov of
/// a few MB; beyond this the index would not fit the edge's heap budget.
pub const MAX_MOOV_LEN: u64 = 96 * 1024 * 1024;
/// Top-level boxes walked before giving up (hostile files full of tiny boxes).
const MAX_TOP_LEVEL_BOXES: usize = 4096;

/// Where the walk stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The moov box occupies `offset .. offset + size`.
    Moov { offset: u64, size: u64 },
    /// The walk needs the file's bytes at `offset .. offset + len` next; it
    /// will resume at `offset`.
    Need { offset: u64, len: u64 },
}

/// Walks top-level boxes starting at `cursor`, using `window` (the file's
/// bytes starting at `window_offset`), in a file of `file_size` bytes.
pub fn locate_moov(
    window: &[u8],
    window_offset: u64,
    cursor: u64,
    file_size: u64,
) -> Result<Probe> {
    let mut cursor = cursor;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        if cursor >= file_size {
            return Err(Mp4Error::invalid("", file_size, "no moov box in the file"));
        }
        let header = cursor
            .checked_sub(window_offset)
            .and_then(|rel| usize::try_from(rel).ok())
            .filter(|&rel| rel < window.len())
            .map(|rel| parse_header(&window[rel..], cursor, ""))
            .transpose()?
            .flatten();
        let Some(header) = header else {
            return Ok(need_from(cursor, file_size));
        };
        let size = match header.size {
            Some(s) => s,
            None => file_size - cursor,
        };
        if cursor.saturating_add(size) > file_size {
            return Err(Mp4Error::truncated(
                header.typ.to_string(),
                cursor,
                format!(
                    "top-level box of {size} bytes runs past the end of a {file_size}-byte file"
                ),
            ));
        }
        if &header.typ.0 == b"moov" {
            if size > MAX_MOOV_LEN {
                return Err(Mp4Error::unsupported(
                    "moov",
                    cursor,
                    format!("moov of {size} bytes exceeds the {MAX_MOOV_LEN}-byte limit"),
                ));
            }
            return Ok(Probe::Moov {
                offset: cursor,
                size,
            });
        }
        if &header.typ.0 == b"moof" {
            return Err(Mp4Error::unsupported(
                "moof",
                cursor,
                "fragmented MP4 input without a moov is not supported",
            ));
        }
        cursor += size;
    }
    Err(Mp4Error::unsupported(
        "",
        cursor,
        "too many top-level boxes before the moov",
    ))
}

fn need_from(cursor: u64, file_size: u64) -> Probe {
    let rest = file_size - cursor;
    let len = if rest <= TAIL_READ_LEN {
        rest
    } else {
        HEAD_PROBE_LEN.min(rest)
    };
    Probe::Need {
        offset: cursor,
        len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(typ: &[u8; 4], payload_len: usize) -> Vec<u8> {
        let mut v = ((payload_len + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(typ);
        v.resize(payload_len + 8, 0);
        v
    }

    #[test]
    fn faststart_found_in_first_window() {
        let mut file = bx(b"ftyp", 16);
        file.extend(bx(b"moov", 100));
        file.extend(bx(b"mdat", 1000));
        let p = locate_moov(&file, 0, 0, file.len() as u64).unwrap();
        assert_eq!(
            p,
            Probe::Moov {
                offset: 24,
                size: 108
            }
        );
    }

    #[test]
    fn moov_at_end_asks_for_the_tail_then_finds_it() {
        let mut file = bx(b"ftyp", 16);
        file.extend(bx(b"mdat", 1_000_000));
        file.extend(bx(b"moov", 500));
        let size = file.len() as u64;
        let head = &file[..4096];
        let p = locate_moov(head, 0, 0, size).unwrap();
        let Probe::Need { offset, len } = p else {
            panic!("{p:?}")
        };
        assert_eq!((offset, len), (1_000_032, 508));
        let tail = &file[offset as usize..];
        let p = locate_moov(tail, offset, offset, size).unwrap();
        assert_eq!(p, Probe::Moov { offset, size: 508 });
    }

    #[test]
    fn hostile_sizes_are_errors() {
        let mut file = bx(b"ftyp", 16);
        file.extend_from_slice(&u32::MAX.to_be_bytes());
        file.extend_from_slice(b"mdat");
        assert!(locate_moov(&file, 0, 0, file.len() as u64).is_err());
        let file = bx(b"free", 8);
        assert!(locate_moov(&file, 0, 0, file.len() as u64).is_err());
    }
}
