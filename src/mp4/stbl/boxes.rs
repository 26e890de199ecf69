//! nom parsers for the bodies of the sample-table boxes (ISO/IEC 14496-12
//! §8.6.1–8.7.5), one per FourCC.
//!
//! They parse only the structure: the full-box header, the fixed fields and
//! the entry count, then take exactly the bytes the entries need, after
//! checking that count against what the box holds. The entries come back as
//! a sub-slice of the payload, which the caller turns into a `Bytes` view of
//! the moov; nothing here loops over entries or allocates.

use nom::bytes::complete::take;
use nom::error::{ErrorKind, ParseError};
use nom::number::complete::{be_u24, be_u32, be_u8};
use nom::IResult;

/// Why a box body did not parse; mapped to an `Mp4Error` (with the box
/// path and offset) at the box boundary in `stbl.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BodyError {
    /// The body ends inside its fixed fields (full-box header, count).
    Short,
    /// `count` entries need `need` bytes; only `have` follow the count.
    Entries { count: u32, need: u64, have: u64 },
    /// `stz2` field_size other than 4, 8 or 16.
    FieldSize(u8),
}

impl<I> ParseError<I> for BodyError {
    fn from_error_kind(_: I, _: ErrorKind) -> Self {
        // The parsers are `complete`: the only way a primitive fails is by
        // running out of input.
        BodyError::Short
    }
    fn append(_: I, _: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(super) type BodyResult<'a, T> = IResult<&'a [u8], T, BodyError>;

/// Unwraps a nom error into the body error it carries.
pub(super) fn body_error(e: nom::Err<BodyError>) -> BodyError {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => BodyError::Short,
    }
}

/// An entry count and the bytes of exactly that many entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Counted<'a> {
    pub count: u32,
    pub entries: &'a [u8],
}

/// `stsz` (§8.7.3.2): one size for every sample, or a table of sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stsz<'a> {
    /// Non-zero when every sample has this size (then `entries` is empty).
    pub sample_size: u32,
    pub sample_count: u32,
    pub entries: &'a [u8],
}

/// `stz2` (§8.7.3.3): sizes packed in 4, 8 or 16-bit fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stz2<'a> {
    pub field_size: u8,
    pub sample_count: u32,
    pub entries: &'a [u8],
}

/// The full-box header (§4.2): version and 24-bit flags. The sample tables
/// read every version alike (ctts v0 and v1 are both read signed), so the
/// callers only step over it.
pub(super) fn full_box(input: &[u8]) -> BodyResult<'_, (u8, u32)> {
    let (input, version) = be_u8(input)?;
    let (input, flags) = be_u24(input)?;
    Ok((input, (version, flags)))
}

/// Takes the `need` bytes of `count` entries, failing (without
/// backtracking) when the input holds fewer; checked before any loop.
fn entries(input: &[u8], count: u32, need: u64) -> BodyResult<'_, &[u8]> {
    let have = input.len() as u64;
    if need > have {
        return Err(nom::Err::Failure(BodyError::Entries { count, need, have }));
    }
    // need <= have, so it fits in usize.
    take(need as usize)(input)
}

/// A full box whose body is an entry count and `width`-byte entries.
fn counted(width: u8) -> impl Fn(&[u8]) -> BodyResult<'_, Counted<'_>> {
    move |input| {
        let (input, _) = full_box(input)?;
        let (input, count) = be_u32(input)?;
        let need = u64::from(count) * u64::from(width);
        let (input, entries) = entries(input, count, need)?;
        Ok((input, Counted { count, entries }))
    }
}

/// `stts` (§8.6.1.2): (sample_count, sample_delta) pairs.
pub(super) fn stts(input: &[u8]) -> BodyResult<'_, Counted<'_>> {
    counted(8)(input)
}

/// `ctts` (§8.6.1.3), versions 0 and 1: (sample_count, sample_offset) pairs.
pub(super) fn ctts(input: &[u8]) -> BodyResult<'_, Counted<'_>> {
    counted(8)(input)
}

/// `stss` (§8.6.2): 1-based sync sample numbers.
pub(super) fn stss(input: &[u8]) -> BodyResult<'_, Counted<'_>> {
    counted(4)(input)
}

/// `stsc` (§8.7.4): (first_chunk, samples_per_chunk, description_index).
pub(super) fn stsc(input: &[u8]) -> BodyResult<'_, Counted<'_>> {
    counted(12)(input)
}

/// `stco` (§8.7.5): 32-bit chunk offsets.
pub(super) fn stco(input: &[u8]) -> BodyResult<'_, Counted<'_>> {
    counted(4)(input)
}

/// `co64` (§8.7.5): 64-bit chunk offsets.
pub(super) fn co64(input: &[u8]) -> BodyResult<'_, Counted<'_>> {
    counted(8)(input)
}

pub(super) fn stsz(input: &[u8]) -> BodyResult<'_, Stsz<'_>> {
    let (input, _) = full_box(input)?;
    let (input, sample_size) = be_u32(input)?;
    let (input, sample_count) = be_u32(input)?;
    let need = if sample_size == 0 {
        u64::from(sample_count) * 4
    } else {
        0
    };
    let (input, entries) = entries(input, sample_count, need)?;
    Ok((
        input,
        Stsz {
            sample_size,
            sample_count,
            entries,
        },
    ))
}

pub(super) fn stz2(input: &[u8]) -> BodyResult<'_, Stz2<'_>> {
    let (input, _) = full_box(input)?;
    let (input, _reserved) = take(3usize)(input)?;
    let (input, field_size) = be_u8(input)?;
    let (input, sample_count) = be_u32(input)?;
    if !matches!(field_size, 4 | 8 | 16) {
        return Err(nom::Err::Failure(BodyError::FieldSize(field_size)));
    }
    let need = (u64::from(sample_count) * u64::from(field_size)).div_ceil(8);
    let (input, entries) = entries(input, sample_count, need)?;
    Ok((
        input,
        Stz2 {
            field_size,
            sample_count,
            entries,
        },
    ))
}

#[cfg(test)]
mod tests;
