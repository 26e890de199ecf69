//! Common Encryption of samples, `cenc` scheme (ISO/IEC 23001-7 §10.1):
//! AES-128-CTR over the protected bytes of each sample, clear and
//! protected ranges given by a subsample map (§7.2, `senc`), and the
//! per-sample IVs the segment's `senc` lists.
//!
//! The IV is 8 bytes (§9.1: `Per_Sample_IV_Size` 8): the counter block is
//! the IV followed by a 64-bit block counter starting at 0, incremented
//! for each 16-byte block (§10.1), which is RustCrypto's `Ctr64BE`. The
//! counter runs over the sample's protected bytes as one stream: the
//! protected ranges of a sample are concatenated (§10.1 and §9.5.2).

use aes::Aes128;
use ctr::cipher::{KeyIvInit, StreamCipher};
use std::fmt;

type Ctr = ctr::Ctr64BE<Aes128>;

/// `Per_Sample_IV_Size` of `cenc` here: 8 bytes.
pub const IV_SIZE: u8 = 8;

/// One `senc` subsample entry (§7.2.2): `clear` bytes, then `protected`
/// bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Subsample {
    pub clear: u16,
    pub protected: u32,
}

/// Why a sample cannot be encrypted as asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CencError {
    /// The subsample map covers other bytes than the sample's.
    MapMismatch { map: u64, sample: u64 },
    /// More subsamples than a `senc` entry can count (u16).
    TooManySubsamples(usize),
    /// More samples in one segment than the IV layout numbers (u16).
    TooManySamples(usize),
}

impl fmt::Display for CencError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CencError::MapMismatch { map, sample } => {
                write!(f, "subsample map of {map} bytes for a {sample}-byte sample")
            }
            CencError::TooManySubsamples(n) => write!(f, "{n} subsamples in one sample"),
            CencError::TooManySamples(n) => write!(f, "{n} samples in one encrypted segment"),
        }
    }
}

/// The IV of sample `sample` of segment `segment` of the track tagged
/// `track` (its position in the title). One key serves every track of an
/// asset, so IVs must differ across tracks as well as across samples
/// (§9.1: an IV is never reused with the same key): 16 bits of track, 32
/// of segment number, 16 of sample index, unique by construction. The
/// 64-bit block counter that follows in the counter block never carries
/// into them.
pub fn sample_iv(track: u16, segment: u32, sample: usize) -> Result<[u8; 8], CencError> {
    let sample = u16::try_from(sample).map_err(|_| CencError::TooManySamples(sample))?;
    let v = (u64::from(track) << 48) | (u64::from(segment) << 16) | u64::from(sample);
    Ok(v.to_be_bytes())
}

/// Applies AES-128-CTR to the protected ranges of `data` in place
/// (encryption and decryption are the same operation). An empty map
/// protects the whole sample (audio, §9.5.1).
pub fn ctr_apply(
    key: &[u8; 16],
    iv: &[u8; 8],
    data: &mut [u8],
    map: &[Subsample],
) -> Result<(), CencError> {
    let mut counter = [0u8; 16];
    counter[..8].copy_from_slice(iv);
    let mut cipher = Ctr::new(key.into(), (&counter).into());
    each_protected(data, map, |range| cipher.apply_keystream(range))
}

/// Calls `f` on each protected range of `data` under `map`, in order (the
/// whole sample when `map` is empty), once the map is checked to cover the
/// sample exactly: shared by every scheme, which differ only in what they
/// do to a range.
pub(crate) fn each_protected(
    data: &mut [u8],
    map: &[Subsample],
    mut f: impl FnMut(&mut [u8]),
) -> Result<(), CencError> {
    if map.is_empty() {
        f(data);
        return Ok(());
    }
    let covered: u64 = map
        .iter()
        .map(|s| u64::from(s.clear) + u64::from(s.protected))
        .sum();
    if covered != data.len() as u64 {
        return Err(CencError::MapMismatch {
            map: covered,
            sample: data.len() as u64,
        });
    }
    let mut at = 0usize;
    for s in map {
        at += usize::from(s.clear);
        let end = at + s.protected as usize;
        f(&mut data[at..end]);
        at = end;
    }
    Ok(())
}

/// The video coding whose NAL units a subsample map follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NalCodec {
    Avc,
    Hevc,
}

impl NalCodec {
    /// NAL unit header bytes (ISO/IEC 14496-10 §7.3.1: 1; ITU-T H.265
    /// §7.3.1.2: 2).
    fn header_len(self) -> usize {
        match self {
            NalCodec::Avc => 1,
            NalCodec::Hevc => 2,
        }
    }

    /// Whether a NAL unit starting with `first` carries slice data (VCL):
    /// AVC types 1–5, HEVC types 0–31.
    fn is_vcl(self, first: u8) -> bool {
        match self {
            NalCodec::Avc => (1..=5).contains(&(first & 0x1f)),
            NalCodec::Hevc => (first >> 1) & 0x3f < 32,
        }
    }
}

/// The subsample map of an AVC/HEVC sample of length-prefixed NAL units
/// (ISO/IEC 23001-7 §10.2 for `cenc` video; ISO/IEC 14496-15 §5.3.2 for
/// the layout): each NAL unit's length prefix and header stay clear, as do
/// non-VCL NAL units whole (parameter sets and SEI a decoder or a
/// player's parser reads before decryption); a slice's body is protected
/// in whole 16-byte blocks, its remainder left clear at the front, as
/// common packagers do (shaka-packager's subsample generator), which is
/// valid for `cenc` and keeps a `cbcs`-style block alignment. Bytes past a
/// NAL length that overruns the sample are left clear: the map always
/// covers the sample exactly, whatever the bytes.
pub fn nal_subsamples(
    data: &[u8],
    length_size: u8,
    codec: NalCodec,
) -> Result<Vec<Subsample>, CencError> {
    nal_subsamples_with_lead(data, length_size, codec, &|_| 0)
}

/// [`nal_subsamples`] with at least `lead(nal)` bytes of each slice NAL
/// unit `nal` (its header included, no length prefix) clear: `cbcs` keeps
/// the slice header clear (ISO/IEC 23001-7 §10.4.2; see
/// [`super::cbcs`]). A slice no longer than that is clear whole.
pub fn nal_subsamples_with_lead(
    data: &[u8],
    length_size: u8,
    codec: NalCodec,
    lead: &dyn Fn(&[u8]) -> usize,
) -> Result<Vec<Subsample>, CencError> {
    let l = usize::from(length_size);
    let mut out = Vec::new();
    let mut clear = 0usize;
    let mut at = 0usize;
    while at < data.len() {
        let rest = data.len() - at;
        let nal_len = if l == 0 || rest < l {
            None
        } else {
            Some(
                data[at..at + l]
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
            )
        };
        let Some(n) = nal_len.filter(|&n| n <= rest - l && n > 0) else {
            clear += rest;
            break;
        };
        let first = data[at + l];
        let vcl = codec.is_vcl(first);
        let head = if vcl {
            codec.header_len().max(lead(&data[at + l..at + l + n]))
        } else {
            0
        };
        if vcl && n > head {
            let body = n - head;
            let protected = body - body % 16;
            clear += l + head + body % 16;
            if protected > 0 {
                push(&mut out, clear, protected);
                clear = 0;
            }
        } else {
            clear += l + n;
        }
        at += l + n;
    }
    if clear > 0 {
        push(&mut out, clear, 0);
    }
    if out.len() > usize::from(u16::MAX) {
        return Err(CencError::TooManySubsamples(out.len()));
    }
    Ok(out)
}

/// The subsample map of a sample of `len` bytes whose protected data is
/// `tiles` (in order, not overlapping; AV1 `decode_tile()` ranges, AV1
/// ISOBMFF §7): everything else clear. `cbcs` (`pattern`): one subsample
/// per tile spanning the whole tile, even under 16 bytes (its partial
/// last block stays clear by the pattern rule); `cenc`: each tile's
/// complete 16-byte blocks, ending with the tile, its remainder in front
/// added to the clear bytes, and a tile under 16 bytes left clear.
pub fn range_subsamples(
    len: usize,
    tiles: &[std::ops::Range<usize>],
    pattern: bool,
) -> Result<Vec<Subsample>, CencError> {
    let mut out = Vec::new();
    let (mut clear, mut at) = (0usize, 0usize);
    for t in tiles {
        if t.start < at || t.end < t.start || t.end > len {
            return Err(CencError::MapMismatch {
                map: t.end as u64,
                sample: len as u64,
            });
        }
        clear += t.start - at;
        let size = t.end - t.start;
        let protected = if pattern { size } else { size - size % 16 };
        clear += size - protected;
        if protected > 0 || pattern {
            push(&mut out, clear, protected);
            clear = 0;
        }
        at = t.end;
    }
    clear += len - at;
    if clear > 0 {
        push(&mut out, clear, 0);
    }
    if out.len() > usize::from(u16::MAX) {
        return Err(CencError::TooManySubsamples(out.len()));
    }
    Ok(out)
}

/// Appends `clear` then `protected` bytes, splitting clear runs longer
/// than a u16 into entries of their own.
fn push(out: &mut Vec<Subsample>, mut clear: usize, protected: usize) {
    while clear > usize::from(u16::MAX) {
        out.push(Subsample {
            clear: u16::MAX,
            protected: 0,
        });
        clear -= usize::from(u16::MAX);
    }
    out.push(Subsample {
        clear: clear as u16,
        // A sample is at most MAX_SEGMENT_BYTES (48 MiB) long.
        protected: protected as u32,
    });
}
