//! Movie fragments (ISO/IEC 14496-12 §8.8): `mvex`/`trex` defaults, and
//! `moof` → per-track runs of samples (`traf`, `tfhd`, `tfdt`, `trun`).
//!
//! A [`Run`] keeps its `trun` entries as a slice of the moof (the moof
//! bytes are small; the fragment reader copies them out of its read window
//! so the window is freed) and is expanded sample by sample only when the
//! index is built, like the sample tables of a progressive file.

#[cfg(test)]
mod tests;

use super::error::{Mp4Error, Result};
use super::header::{BoxIter, Mp4Box};
use crate::model::Sample;
use bytes::Bytes;

/// Most `trun` boxes in one `moof` (all tracks). Real muxers write one per
/// track; some one per chunk of interleaving.
pub const MAX_RUNS_PER_MOOF: usize = 1024;

/// `uuid` of PIFF 1.1's SampleEncryptionBox (§5.3.2.1): an encrypted
/// Smooth Streaming (PlayReady) fragment.
const PIFF_SENC: [u8; 16] = [
    0xa2, 0x39, 0x4f, 0x52, 0x5a, 0x9b, 0x4f, 0x14, 0xa2, 0x44, 0x6c, 0x42, 0x7c, 0x64, 0x8d, 0xf4,
];
/// Reason given for encrypted fragments: their payload cannot be repackaged
/// (or re-encrypted) without the key.
pub const ENCRYPTED_REASON: &str = "encrypted input (senc / PIFF sample encryption)";

// tfhd flags (§8.8.7.1).
const TFHD_BASE_DATA_OFFSET: u32 = 0x1;
const TFHD_SDI: u32 = 0x2;
const TFHD_DURATION: u32 = 0x8;
const TFHD_SIZE: u32 = 0x10;
const TFHD_FLAGS: u32 = 0x20;
const TFHD_DURATION_IS_EMPTY: u32 = 0x1_0000;
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x2_0000;
// trun flags (§8.8.8.1).
pub const TRUN_DATA_OFFSET: u32 = 0x1;
pub const TRUN_FIRST_FLAGS: u32 = 0x4;
pub const TRUN_DURATION: u32 = 0x100;
pub const TRUN_SIZE: u32 = 0x200;
pub const TRUN_FLAGS: u32 = 0x400;
pub const TRUN_CTS: u32 = 0x800;
/// `sample_is_non_sync_sample` in the sample flags (§8.8.3.1).
pub const NON_SYNC: u32 = 0x1_0000;

/// A track's fragment defaults (`trex`, §8.8.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trex {
    pub track_id: u32,
    pub sample_description_index: u32,
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
}

/// Reads the `trex` boxes of an `mvex` (§8.8.1–8.8.3); `mehd` (the
/// fragment duration) is not needed: the duration is the sum of the
/// samples, as for a progressive file.
pub fn parse_mvex(mvex: &Mp4Box, path: &str) -> Result<Vec<Trex>> {
    let mut out = Vec::new();
    for child in mvex.children(path) {
        let c = child?;
        if &c.header.typ.0 != b"trex" {
            continue;
        }
        let tpath = format!("{path}/trex");
        let mut r = Reader::new(&c, &tpath);
        r.take(4)?; // version, flags
        let t = Trex {
            track_id: r.u32()?,
            sample_description_index: r.u32()?,
            duration: r.u32()?,
            size: r.u32()?,
            flags: r.u32()?,
        };
        // One per track at most (§8.8.3.1); the trak count caps them.
        if out.len() >= 64 {
            return Err(Mp4Error::unsupported(
                path,
                c.header.offset,
                "too many trex",
            ));
        }
        out.push(t);
    }
    Ok(out)
}

/// One `trun` with the defaults its samples inherit and the absolute file
/// offset of its first sample.
#[derive(Clone, Debug)]
pub struct Run {
    pub track_id: u32,
    /// The per-sample records, `count × width` bytes.
    entries: Bytes,
    pub count: u32,
    flags: u32,
    /// Absolute file offset of the first sample's data.
    pub data_offset: u64,
    /// `tfdt` of the track fragment, on its first run only.
    pub start_dts: Option<u64>,
    duration: u32,
    size: u32,
    sample_flags: u32,
    first_flags: Option<u32>,
}

impl Run {
    fn width(flags: u32) -> usize {
        [TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_CTS]
            .iter()
            .filter(|&&f| flags & f != 0)
            .count()
            * 4
    }

    /// Sample `i` (< `count`) with its decode time and data offset, which
    /// the caller tracks.
    #[inline]
    pub fn sample(&self, i: u32, dts: u64, offset: u64) -> Sample {
        let width = Run::width(self.flags);
        let mut at = i as usize * width;
        let mut field = |on: bool, default: u32| {
            if !on {
                return default;
            }
            let d = &self.entries[at..at + 4];
            at += 4;
            u32::from_be_bytes([d[0], d[1], d[2], d[3]])
        };
        let duration = field(self.flags & TRUN_DURATION != 0, self.duration);
        let size = field(self.flags & TRUN_SIZE != 0, self.size);
        let flags = field(self.flags & TRUN_FLAGS != 0, self.sample_flags);
        let flags = match (i, self.first_flags) {
            (0, Some(f)) => f,
            _ => flags,
        };
        // Version 0 declares the offset unsigned, version 1 signed; as for
        // `ctts`, encoders write negative values in version 0 too and
        // players read both signed, so both are read as i32.
        let cts_offset = field(self.flags & TRUN_CTS != 0, 0) as i32;
        Sample {
            offset,
            size,
            dts,
            duration,
            cts_offset,
            sync: flags & NON_SYNC == 0,
        }
    }

    /// Sum of the run's sample durations.
    pub fn duration(&self) -> u64 {
        (0..self.count)
            .map(|i| u64::from(self.sample(i, 0, 0).duration))
            .sum()
    }

    /// A run of one pseudo-sample standing for a whole fragment (a
    /// fragment-level index, see [`super::fragtable`]): it starts at
    /// `start_dts`, lasts `duration`, covers `size` bytes at `offset`.
    pub fn fragment(
        track_id: u32,
        start_dts: u64,
        duration: u32,
        offset: u64,
        size: u32,
        sync: bool,
    ) -> Run {
        let flags = if sync { 0 } else { NON_SYNC };
        Run {
            track_id,
            entries: Bytes::new(),
            count: 1,
            flags: 0,
            data_offset: offset,
            start_dts: Some(start_dts),
            duration,
            size,
            sample_flags: flags,
            first_flags: None,
        }
    }

    /// Bytes of sample data the run covers.
    pub fn data_len(&self) -> u64 {
        if self.flags & TRUN_SIZE == 0 {
            return u64::from(self.count) * u64::from(self.size);
        }
        (0..self.count)
            .map(|i| u64::from(self.sample(i, 0, 0).size))
            .sum()
    }
}

/// A bounded big-endian reader over one box's payload.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    path: &'a str,
    offset: u64,
}

impl<'a> Reader<'a> {
    fn new(b: &'a Mp4Box, path: &'a str) -> Self {
        Reader {
            data: &b.payload,
            pos: 0,
            path,
            offset: b.header.offset,
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(Mp4Error::truncated(self.path, self.offset, "box cut short"));
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }
}

/// Parses a complete `moof` box (header included) at file offset `offset`
/// into its runs, in file order. `trex` gives the defaults of every track
/// the moov announces; a `traf` of another track id is invalid.
pub fn parse_moof(moof: Bytes, offset: u64, trex: &[Trex]) -> Result<Vec<Run>> {
    let moof = BoxIter::new(moof, offset, "")
        .next()
        .ok_or_else(|| Mp4Error::truncated("moof", offset, "moof cut short"))??;
    let mut runs = Vec::new();
    // §8.8.7.1: without an explicit base, the first traf's base is the
    // moof's first byte and each later traf's base is the end of the data
    // of the traf before it.
    let mut prev_end: Option<u64> = None;
    let mut trafs = 0;
    for child in moof.children("moof") {
        let c = child?;
        match &c.header.typ.0 {
            b"traf" => {
                trafs += 1;
                let path = format!("moof@{offset}/traf[{trafs}]");
                let base = prev_end.unwrap_or(offset);
                let end = parse_traf(&c, &path, offset, base, trex, &mut runs)?;
                prev_end = Some(end);
            }
            b"uuid" => check_uuid(&moof, &c, "moof")?,
            _ => {}
        }
    }
    Ok(runs)
}

/// Refuses PIFF sample encryption; other `uuid` boxes (PIFF `tfxd`
/// `6d1d9b05-…` and `tfrf` `d4807ef2-…` timing hints of live archives) carry
/// nothing the index needs and are ignored.
fn check_uuid(parent: &Mp4Box, b: &Mp4Box, path: &str) -> Result<()> {
    if uuid_of(parent, b) == Some(PIFF_SENC) {
        return Err(Mp4Error::unsupported(
            path,
            b.header.offset,
            ENCRYPTED_REASON,
        ));
    }
    Ok(())
}

/// The extended type of `uuid` box `b`, a child of `parent`: the 16 bytes
/// before its payload (§4.2), which [`Mp4Box`] does not keep.
fn uuid_of(parent: &Mp4Box, b: &Mp4Box) -> Option<[u8; 16]> {
    let end = usize::try_from(b.payload_offset().checked_sub(parent.payload_offset())?).ok()?;
    let bytes = parent.payload.get(end.checked_sub(16)?..end)?;
    bytes.try_into().ok()
}

/// Parses one `traf`; appends its runs and returns the end of its data.
fn parse_traf(
    traf: &Mp4Box,
    path: &str,
    moof_offset: u64,
    base_if_implicit: u64,
    trex: &[Trex],
    runs: &mut Vec<Run>,
) -> Result<u64> {
    let mut tfhd = None;
    let mut tfdt = None;
    for child in traf.children(path) {
        let c = child?;
        match &c.header.typ.0 {
            b"tfhd" if tfhd.is_none() => tfhd = Some(c),
            b"tfdt" => tfdt = Some(c),
            b"senc" => {
                return Err(Mp4Error::unsupported(
                    format!("{path}/senc"),
                    c.header.offset,
                    ENCRYPTED_REASON,
                ))
            }
            b"uuid" => check_uuid(traf, &c, path)?,
            _ => {}
        }
    }
    let tfhd = tfhd.ok_or_else(|| Mp4Error::invalid(path, traf.header.offset, "missing tfhd"))?;
    let tpath = format!("{path}/tfhd");
    let mut r = Reader::new(&tfhd, &tpath);
    let vf = r.u32()?;
    let flags = vf & 0x00ff_ffff;
    let track_id = r.u32()?;
    let defaults = trex
        .iter()
        .find(|t| t.track_id == track_id)
        .copied()
        .ok_or_else(|| {
            Mp4Error::invalid(
                &tpath,
                tfhd.header.offset,
                format!("track fragment of track {track_id}, which has no trex"),
            )
        })?;
    let mut opt = |bit: u32| -> Result<Option<u32>> {
        if flags & bit != 0 {
            r.u32().map(Some)
        } else {
            Ok(None)
        }
    };
    // Fields in the order of §8.8.7.2, each present when its flag is set.
    let base = match (opt(TFHD_BASE_DATA_OFFSET)?, opt(TFHD_BASE_DATA_OFFSET)?) {
        (Some(hi), Some(lo)) => Some(u64::from(hi) << 32 | u64::from(lo)),
        _ => None,
    };
    let sdi = opt(TFHD_SDI)?.unwrap_or(defaults.sample_description_index);
    let duration = opt(TFHD_DURATION)?.unwrap_or(defaults.duration);
    let size = opt(TFHD_SIZE)?.unwrap_or(defaults.size);
    let sample_flags = opt(TFHD_FLAGS)?.unwrap_or(defaults.flags);
    let base = match base {
        Some(b) => b,
        None if flags & TFHD_DEFAULT_BASE_IS_MOOF != 0 => moof_offset,
        None => base_if_implicit,
    };
    if flags & TFHD_DURATION_IS_EMPTY != 0 {
        // An empty span of time with no samples (§8.8.7.1): nothing to
        // index; the next fragment's tfdt carries the time on.
        return Ok(base);
    }
    if sdi > 1 {
        return Err(Mp4Error::unsupported(
            &tpath,
            tfhd.header.offset,
            format!("fragment uses sample description {sdi}; one per track is supported"),
        ));
    }
    let start_dts = match tfdt {
        Some(b) => {
            let p = format!("{path}/tfdt");
            let mut r = Reader::new(&b, &p);
            let v = r.u32()? >> 24;
            Some(if v == 1 {
                r.u64()?
            } else {
                u64::from(r.u32()?)
            })
        }
        None => None,
    };
    let mut next = base;
    let mut first = true;
    for child in traf.children(path) {
        let c = child?;
        if &c.header.typ.0 != b"trun" {
            continue;
        }
        if runs.len() >= MAX_RUNS_PER_MOOF {
            return Err(Mp4Error::unsupported(
                path,
                c.header.offset,
                format!("more than {MAX_RUNS_PER_MOOF} trun boxes in one moof"),
            ));
        }
        let rpath = format!("{path}/trun");
        let mut r = Reader::new(&c, &rpath);
        let vf = r.u32()?;
        // The version only says how to read the composition offsets, which
        // are read signed either way (see `Run::sample`).
        let tr_flags = vf & 0x00ff_ffff;
        let count = r.u32()?;
        let data_offset = if tr_flags & TRUN_DATA_OFFSET != 0 {
            Some(r.u32()? as i32)
        } else {
            None
        };
        let first_flags = if tr_flags & TRUN_FIRST_FLAGS != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let width = Run::width(tr_flags) as u64;
        let need = u64::from(count) * width;
        if need > r.left() as u64 {
            return Err(Mp4Error::truncated(
                &rpath,
                c.header.offset,
                format!(
                    "{count} samples need {need} bytes, the trun has {}",
                    r.left()
                ),
            ));
        }
        let entries = r.take(need as usize)?;
        let start = match data_offset {
            Some(d) => base.checked_add_signed(i64::from(d)).ok_or_else(|| {
                Mp4Error::invalid(&rpath, c.header.offset, "data offset before the file")
            })?,
            // §8.8.8.3: without a data offset the run follows the previous
            // run of the traf, or starts at the base for the first one.
            None => next,
        };
        let run = Run {
            track_id,
            entries: c.payload.slice_ref(entries),
            count,
            flags: tr_flags,
            data_offset: start,
            start_dts: if first { start_dts } else { None },
            duration,
            size,
            sample_flags,
            first_flags,
        };
        next = start
            .checked_add(run.data_len())
            .ok_or_else(|| Mp4Error::invalid(&rpath, c.header.offset, "sample data past 2^64"))?;
        first = false;
        if count > 0 {
            runs.push(run);
        }
    }
    Ok(next)
}
