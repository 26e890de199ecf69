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
/// Box types an MP4 may start with: the file-level boxes of ISO/IEC 14496-12
/// Table 1 that can come first (`ftyp` is required first by §4.3 but older
/// files and QuickTime movies start with `moov`, `mdat`, `free`, `skip`,
/// `wide` or `pnot`). Anything else (`<htm`, `hell`, random bytes) is not an
/// MP4, and saying so beats quoting its bytes back as a box type.
const FIRST_BOX_TYPES: &[&[u8; 4]] = &[
    b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"pdin",
    b"sidx", b"moof", b"meta",
];
/// Reason given for a `moof` before any `moov`: a fragment whose track
/// setup (ISO/IEC 14496-12 §8.8.1, the moov's `mvex`) has not been seen.
/// Fragmented files with their moov first are read by
/// [`super::fragments`].
pub const MOOF_FIRST_REASON: &str = "moof before the moov (a segment without its init)";

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
    if cursor == 0 {
        check_first_box(window, window_offset, file_size)?;
    }
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
            return Err(Mp4Error::unsupported("moof", cursor, MOOF_FIRST_REASON));
        }
        cursor += size;
    }
    Err(Mp4Error::unsupported(
        "",
        cursor,
        "too many top-level boxes before the moov",
    ))
}

/// Refuses a file whose first eight bytes cannot be an ISO BMFF box header
/// (ISO/IEC 14496-12 §4.2): too short, a size field of 2..=7, or a type no
/// MP4 starts with.
fn check_first_box(window: &[u8], window_offset: u64, file_size: u64) -> Result<()> {
    if file_size < 8 {
        return Err(Mp4Error::not_mp4());
    }
    let Some(head) = window.get(..8).filter(|_| window_offset == 0) else {
        return Ok(());
    };
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let typ = [head[4], head[5], head[6], head[7]];
    if (2..8).contains(&size) || !FIRST_BOX_TYPES.contains(&&typ) {
        return Err(Mp4Error::not_mp4());
    }
    Ok(())
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
    fn text_and_html_are_not_mp4_without_echoing_their_bytes() {
        for junk in [
            &b"<html><body>nope</body></html>\n"[..],
            b"hello, this is not a movie\n",
            b"\0\0\0\x04ftyp",
            b"abc",
        ] {
            let e = locate_moov(junk, 0, 0, junk.len() as u64).unwrap_err();
            assert_eq!(e.kind, crate::mp4::Mp4ErrorKind::NotMp4, "{junk:?}");
            let msg = e.to_string();
            assert_eq!(msg, "not an MP4 (ISO BMFF) file");
        }
        // A QuickTime movie starting with `wide` is still walked.
        let mut mov = bx(b"wide", 0);
        mov.extend(bx(b"moov", 10));
        assert!(locate_moov(&mov, 0, 0, mov.len() as u64).is_ok());
    }

    #[test]
    fn moof_before_moov_names_the_reason() {
        let mut file = bx(b"ftyp", 16);
        file.extend(bx(b"moof", 100));
        file.extend(bx(b"mdat", 100));
        let e = locate_moov(&file, 0, 0, file.len() as u64).unwrap_err();
        assert_eq!(e.kind, crate::mp4::Mp4ErrorKind::Unsupported);
        assert!(e.to_string().contains(MOOF_FIRST_REASON), "{e}");
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
