//! The segment index box `sidx` (ISO/IEC 14496-12 §8.16.3): for one track
//! (`reference_ID`), the byte size, duration and stream access point of
//! each subsegment, in file order from the first byte after the box plus
//! `first_offset`. A reference of type 1 points at another `sidx` (a
//! hierarchy, §8.16.3.1); it is followed when the child box is within the
//! bytes at hand, at most [`MAX_DEPTH`] levels deep.

use super::error::{Mp4Error, Result};
use super::header::parse_header;

/// Most references in all the `sidx` boxes of one file (checked before
/// any is expanded): one per fragment, so as many as the fragment cap.
pub const MAX_REFERENCES: usize = super::fragments::MAX_FRAGMENTS;
/// Deepest `sidx` hierarchy followed (DASH-IF on-demand files use 1–2).
pub const MAX_DEPTH: usize = 4;

/// One media subsegment a `sidx` lists (reference type 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subsegment {
    /// Presentation time of its earliest sample, track timescale.
    pub time: u64,
    pub duration: u64,
    /// File offset and byte size of the subsegment (moof + mdat…).
    pub offset: u64,
    pub size: u64,
    /// Starts with a stream access point of type 1 or 2 (closed GOP), or
    /// of unknown type 0 (ffmpeg writes `starts_with_SAP` = 1, type 0).
    pub sap: bool,
    /// When it does not start with one: `SAP_delta_time` of the type 1 or
    /// 2 SAP inside it (§8.16.3.3: its presentation time minus `time`),
    /// where a segment can start mid-fragment (`fragtable::from_sidx`).
    /// `None` with `sap` false: no usable SAP (none, unknown, or open GOP
    /// types 3–6), so the subsegment continues the segment before it.
    pub rap: Option<u64>,
}

/// A parsed `sidx`: its track and timescale and its media subsegments
/// (type-1 references already expanded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sidx {
    pub reference_id: u32,
    pub timescale: u32,
    pub subsegments: Vec<Subsegment>,
}

/// Parses the `sidx` box that starts at `data[at - data_at..]` (file
/// offset `at`); `data` holds the bytes from file offset `data_at`. A
/// type-1 reference whose child `sidx` is not inside `data` gives `None`
/// (the caller falls back to walking the moofs), as does a hierarchy
/// deeper than [`MAX_DEPTH`].
pub fn parse(data: &[u8], data_at: u64, at: u64) -> Result<Option<Sidx>> {
    let mut out = Vec::new();
    let Some((id, ts)) = parse_into(data, data_at, at, None, 0, &mut out)? else {
        return Ok(None);
    };
    Ok(Some(Sidx {
        reference_id: id,
        timescale: ts,
        subsegments: out,
    }))
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}

/// One box of the hierarchy; `start` is the earliest presentation time its
/// parent reference gave (children restate it; the parent's is kept so
/// the times of one track add up).
fn parse_into(
    data: &[u8],
    data_at: u64,
    at: u64,
    start: Option<u64>,
    depth: usize,
    out: &mut Vec<Subsegment>,
) -> Result<Option<(u32, u32)>> {
    let path = "sidx";
    let Some(rel) = at
        .checked_sub(data_at)
        .and_then(|r| usize::try_from(r).ok())
        .filter(|&r| r < data.len())
    else {
        return Ok(None);
    };
    let Some(h) = parse_header(&data[rel..], at, path)? else {
        return Ok(None);
    };
    if &h.typ.0 != b"sidx" {
        return Err(Mp4Error::invalid(
            path,
            at,
            "sidx reference does not point at a sidx",
        ));
    }
    let Some(size) = h.size else {
        return Err(Mp4Error::invalid(path, at, "sidx without a size"));
    };
    let Some(b) = usize::try_from(size)
        .ok()
        .and_then(|s| data.get(rel..rel.checked_add(s)?))
    else {
        return Ok(None);
    };
    let p = &b[h.header_len as usize..];
    let short = || Mp4Error::truncated(path, at, "sidx cut short");
    if p.len() < 12 {
        return Err(short());
    }
    let v1 = p[0] == 1;
    let (id, timescale) = (be32(p, 4), be32(p, 8));
    let fixed = if v1 { 32 } else { 24 };
    if p.len() < fixed {
        return Err(short());
    }
    let (ept, first_offset, q) = if v1 {
        (be64(p, 12), be64(p, 20), 28)
    } else {
        (u64::from(be32(p, 12)), u64::from(be32(p, 16)), 20)
    };
    let count = usize::from(u16::from_be_bytes([p[q + 2], p[q + 3]]));
    let refs = &p[q + 4..];
    if count.saturating_mul(12) > refs.len() {
        return Err(Mp4Error::truncated(
            path,
            at,
            format!(
                "{count} references need {} bytes, the sidx has {}",
                count * 12,
                refs.len()
            ),
        ));
    }
    if out.len().saturating_add(count) > MAX_REFERENCES {
        return Err(Mp4Error::unsupported(
            path,
            at,
            format!("more than {MAX_REFERENCES} sidx references"),
        ));
    }
    if timescale == 0 {
        return Err(Mp4Error::invalid(path, at, "sidx timescale 0"));
    }
    // §8.16.3.3: offsets are from the first byte after this box.
    let mut offset = h
        .offset
        .checked_add(size)
        .and_then(|e| e.checked_add(first_offset))
        .ok_or_else(|| Mp4Error::invalid(path, at, "sidx offsets past 2^64"))?;
    let mut time = start.unwrap_or(ept);
    for i in 0..count {
        let r = &refs[i * 12..i * 12 + 12];
        let word = be32(r, 0);
        let (hier, size) = (word >> 31 == 1, u64::from(word & 0x7fff_ffff));
        let duration = u64::from(be32(r, 4));
        let sap_word = be32(r, 8);
        let sap_type = (sap_word >> 28) & 7;
        let sap = sap_word >> 31 == 1 && matches!(sap_type, 0..=2);
        let rap = (sap_word >> 31 == 0 && matches!(sap_type, 1 | 2))
            .then_some(u64::from(sap_word & 0x0fff_ffff))
            .filter(|&d| d < duration);
        if hier {
            if depth + 1 >= MAX_DEPTH {
                return Ok(None);
            }
            if parse_into(data, data_at, offset, Some(time), depth + 1, out)?.is_none() {
                return Ok(None);
            }
        } else {
            out.push(Subsegment {
                time,
                duration,
                offset,
                size,
                sap,
                rap,
            });
        }
        offset = offset.saturating_add(size);
        time = time.saturating_add(duration);
    }
    Ok(Some((id, timescale)))
}

#[cfg(test)]
pub(crate) mod tests;
