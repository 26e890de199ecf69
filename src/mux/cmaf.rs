//! CMAF (ISO/IEC 23000-19) init and media segments.
//!
//! A media segment is generated header bytes (`styp`, `moof`, the `mdat`
//! header) followed by runs of the source file copied verbatim: the payload
//! never passes through a new buffer here, and the segment's exact size is
//! known from the index before any payload byte is read.

use super::boxes::{BoxWriter, UNITY_MATRIX};
use crate::index::{IndexError, TrackIndex};
use crate::model::{TrackInfo, TrackKind};
use crate::timeline::sap::IS_LEADING_UNDECODABLE;
use crate::timeline::TrackSegment;
use bytes::Bytes;

/// A contiguous byte range of the source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRun {
    pub offset: u64,
    pub len: u64,
}

impl ByteRun {
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// A media segment as header bytes plus source runs, in output order.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaSegment {
    pub header: Bytes,
    pub runs: Vec<ByteRun>,
}

impl MediaSegment {
    /// Total size in bytes.
    pub fn len(&self) -> u64 {
        self.header.len() as u64 + self.runs.iter().map(|r| r.len).sum::<u64>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `sample_depends_on = 2` (an I-frame / audio frame), §8.8.3.1.
pub(crate) const FLAGS_SYNC: u32 = 0x0200_0000;
/// `sample_depends_on = 1`, `sample_is_non_sync_sample = 1`.
pub(crate) const FLAGS_NON_SYNC: u32 = 0x0101_0000;

/// How a track's timestamps map onto the output (see `timeline`): video
/// keeps its decode times and folds the edit shift into the composition
/// offsets (which may go negative, trun version 1); other tracks shift their
/// decode times by the edit (their skipped leading samples are dropped).
pub fn decode_shift(t: &TrackInfo) -> i64 {
    if t.kind == TrackKind::Video {
        0
    } else {
        t.presentation_offset
    }
}

/// Packs an ISO-639-2/T code into 15 bits (§8.4.2.3).
fn pack_language(lang: &str) -> u16 {
    let b = lang.as_bytes();
    if b.len() != 3 || !b.iter().all(|c| c.is_ascii_lowercase()) {
        return pack_language("und");
    }
    b.iter()
        .fold(0u16, |acc, &c| (acc << 5) | u16::from(c - 0x60))
}

/// The CMAF header (init segment) of a track: `ftyp` + `moov` with empty
/// sample tables and `mvex`, carrying the source sample entry unchanged.
pub fn init_segment(t: &TrackInfo) -> Bytes {
    let mut w = BoxWriter::with_capacity(1024 + t.sample_entry.len());
    w.start(b"ftyp").bytes(b"cmfc").u32(0);
    for brand in [b"iso6", b"cmfc", b"mp41", b"dash"] {
        w.bytes(brand);
    }
    w.end();
    w.start(b"moov");
    w.start_full(b"mvhd", 0, 0)
        .u32(0)
        .u32(0)
        .u32(t.timescale)
        .u32(0);
    w.u32(0x0001_0000).u16(0x0100).zeros(10);
    for m in UNITY_MATRIX {
        w.u32(m);
    }
    w.zeros(24).u32(t.track_id.wrapping_add(1)).end();
    w.start(b"trak");
    w.start_full(b"tkhd", 0, 3)
        .u32(0)
        .u32(0)
        .u32(t.track_id)
        .u32(0)
        .u32(0);
    w.zeros(8).u16(0).u16(0);
    w.u16(if t.kind == TrackKind::Audio {
        0x0100
    } else {
        0
    })
    .u16(0);
    for m in UNITY_MATRIX {
        w.u32(m);
    }
    let (dw, dh) = display_size(t);
    w.u32(dw << 16).u32(dh << 16).end();
    w.start(b"mdia");
    w.start_full(b"mdhd", 0, 0)
        .u32(0)
        .u32(0)
        .u32(t.timescale)
        .u32(0);
    w.u16(pack_language(&t.language)).u16(0).end();
    w.start_full(b"hdlr", 0, 0)
        .u32(0)
        .bytes(&t.handler.0)
        .zeros(12);
    w.bytes(b"edgepack\0").end();
    w.start(b"minf");
    match t.kind {
        TrackKind::Video => {
            w.start_full(b"vmhd", 0, 1).zeros(8).end();
        }
        TrackKind::Audio => {
            w.start_full(b"smhd", 0, 0).zeros(4).end();
        }
        _ => {
            w.start_full(b"nmhd", 0, 0).end();
        }
    }
    w.start(b"dinf").start_full(b"dref", 0, 0).u32(1);
    w.start_full(b"url ", 0, 1).end().end().end();
    w.start(b"stbl");
    w.start_full(b"stsd", 0, 0)
        .u32(1)
        .bytes(&t.sample_entry)
        .end();
    w.start_full(b"stts", 0, 0).u32(0).end();
    w.start_full(b"stsc", 0, 0).u32(0).end();
    w.start_full(b"stsz", 0, 0).u32(0).u32(0).end();
    w.start_full(b"stco", 0, 0).u32(0).end();
    w.end().end().end().end(); // stbl, minf, mdia, trak
    w.start(b"mvex");
    w.start_full(b"trex", 0, 0)
        .u32(t.track_id)
        .u32(1)
        .u32(0)
        .u32(0)
        .u32(0)
        .end();
    w.end().end(); // mvex, moov
    Bytes::from(w.buf)
}

/// Display size: coded size stretched by the pixel aspect ratio.
pub fn display_size(t: &TrackInfo) -> (u32, u32) {
    let (h, v) = t.par;
    if h == v || v == 0 {
        return (t.width, t.height);
    }
    (
        (u64::from(t.width) * u64::from(h) / u64::from(v)) as u32,
        t.height,
    )
}

/// Bytes [`media_segment`] writes before the payload, for a segment of
/// `samples` samples: `styp` (28), `moof` with `mfhd`, `traf`, `tfhd`,
/// `tfdt` v1 and `trun` (88 + 12 or 16 per sample), `mdat` header (8; 16
/// past 4 GB, which no segment reaches).
pub fn header_len(samples: u32, with_cts: bool, styp: bool) -> u64 {
    let per = if with_cts { 16 } else { 12 };
    u64::from(styp) * 28 + 88 + u64::from(samples) * per + 8
}

/// Options for writing a media segment.
#[derive(Clone, Copy, Debug)]
pub struct FragmentOptions {
    /// `mfhd` sequence number (1-based).
    pub sequence: u32,
    /// Write a `styp` (CMAF/DASH segments) or not (Smooth fragments).
    pub styp: bool,
}

/// Builds segment `seg` of `track` as header + source runs.
pub fn media_segment(
    track: &TrackIndex,
    seg: &TrackSegment,
    opts: FragmentOptions,
) -> Result<MediaSegment, IndexError> {
    let info = &track.info;
    let count = seg.samples.end - seg.samples.start;
    let shift = decode_shift(info);
    let cts_shift = if info.kind == TrackKind::Video {
        info.presentation_offset
    } else {
        0
    };
    let mut w = BoxWriter::with_capacity(256 + count as usize * 16);
    if opts.styp {
        w.start(b"styp")
            .bytes(b"msdh")
            .u32(0)
            .bytes(b"msdh")
            .bytes(b"msix")
            .bytes(b"cmfs")
            .end();
    }
    let moof_at = w.len();
    w.start(b"moof");
    w.start_full(b"mfhd", 0, 0).u32(opts.sequence).end();
    w.start(b"traf");
    // default-base-is-moof (CMAF §7.5.16).
    w.start_full(b"tfhd", 0, 0x02_0000).u32(info.track_id).end();
    let mut runs: Vec<ByteRun> = Vec::new();
    let mut entries = Vec::with_capacity(count as usize);
    let mut negative = false;
    let mut base = None;
    // Composition time of the latest sync sample: a non-sync sample after
    // it in decode order but presented before it is a leading picture of
    // an open GOP (see `timeline::sap`), flagged so a player starting here
    // knows it cannot be decoded.
    let mut key_cts: Option<i64> = None;
    for s in track.samples(seg.samples.clone())? {
        let s = s?;
        base.get_or_insert((s.dts as i64).saturating_sub(shift));
        let cts = i64::from(s.cts_offset).saturating_sub(cts_shift);
        let cts =
            i32::try_from(cts).map_err(|_| IndexError::Corrupt("composition offset overflow"))?;
        negative |= cts < 0;
        let sample_flags = if s.sync {
            key_cts = Some(s.cts());
            FLAGS_SYNC
        } else if key_cts.is_some_and(|k| s.cts() < k) {
            FLAGS_NON_SYNC | IS_LEADING_UNDECODABLE
        } else {
            FLAGS_NON_SYNC
        };
        entries.push((s.duration, s.size, sample_flags, cts));
        match runs.last_mut() {
            Some(r) if r.end() == s.offset => r.len += u64::from(s.size),
            _ => runs.push(ByteRun {
                offset: s.offset,
                len: u64::from(s.size),
            }),
        }
    }
    let base = u64::try_from(base.unwrap_or(0).max(0)).unwrap_or(0);
    w.start_full(b"tfdt", 1, 0).u64(base).end();
    let with_cts = track.has_cts || info.kind == TrackKind::Video;
    let flags = 0x0001 | 0x0100 | 0x0200 | 0x0400 | if with_cts { 0x0800 } else { 0 };
    w.start_full(b"trun", u8::from(negative), flags).u32(count);
    let data_offset_at = w.len();
    w.i32(0);
    for (duration, size, sample_flags, cts) in entries {
        w.u32(duration).u32(size).u32(sample_flags);
        if with_cts {
            w.i32(cts);
        }
    }
    w.end().end().end(); // trun, traf, moof
    finish_fragment(w, moof_at, data_offset_at, runs)
}

/// Closes a fragment: patches the `trun` data offset (relative to the
/// `moof` at `moof_at`) and appends the `mdat` header for `runs`.
pub(crate) fn finish_fragment(
    mut w: BoxWriter,
    moof_at: usize,
    data_offset_at: usize,
    runs: Vec<ByteRun>,
) -> Result<MediaSegment, IndexError> {
    let moof_len = w.len() - moof_at;
    let payload: u64 = runs.iter().map(|r| r.len).sum();
    let mdat_header = if payload + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    };
    let data_offset =
        u32::try_from(moof_len + mdat_header).map_err(|_| IndexError::Corrupt("moof too large"))?;
    w.patch_u32(data_offset_at, data_offset);
    if mdat_header == 16 {
        w.u32(1).bytes(b"mdat").u64(payload + 16);
    } else {
        w.u32((payload + 8) as u32).bytes(b"mdat");
    }
    Ok(MediaSegment {
        header: Bytes::from(w.buf),
        runs,
    })
}

#[cfg(test)]
mod tests;
