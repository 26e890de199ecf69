//! CMAF (ISO/IEC 23000-19) init and media segments.
//!
//! A media segment is generated header bytes (`styp`, `moof`, the `mdat`
//! header) followed by runs of the source file copied verbatim: the payload
//! never passes through a new buffer here, and the segment's exact size is
//! known from the index before any payload byte is read.

use super::boxes::{BoxWriter, UNITY_MATRIX};
use super::fragment::{SampleFields, Tfhd, TrackFragment, Trun, TrunSample};
use crate::index::{IndexError, TrackIndex};
use crate::model::{TrackInfo, TrackKind};
use crate::timeline::sap::IS_LEADING_UNDECODABLE;
use crate::timeline::TrackSegment;
use bytes::Bytes;

// Their home is now `mux` and `mux::fragment`; these paths stay for callers.
pub(crate) use super::fragment::{FLAGS_NON_SYNC, FLAGS_SYNC};
pub use super::{ByteRun, MediaSegment};

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

/// Packs an ISO-639-2/T code into 15 bits (§8.4.2.3); `und` otherwise.
pub(crate) fn pack_language(lang: &str) -> u16 {
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
    init_segment_with(t, None)
}

/// How an init segment is protected: the key, the scheme, and the DRM
/// systems (from a CPIX document) whose `pssh` boxes it carries.
pub type InitProtection<'a> = (
    &'a crate::crypto::ContentKey,
    crate::crypto::Scheme,
    &'a [crate::crypto::cpix::DrmSystem],
);

/// [`init_segment`], protected with `key` under its scheme when given:
/// the sample entry becomes `encv`/`enca` with a `sinf`, and the `moov`
/// carries the common-format `pssh` (see [`super::cenc`]), then each DRM
/// system's `pssh` boxes as the CPIX document gives them (ISO/IEC 23001-7
/// §8.1: one per system, in the `moov`).
pub fn init_segment_with(t: &TrackInfo, protection: Option<InitProtection<'_>>) -> Bytes {
    let key = protection.map(|p| p.0);
    let entry = match protection {
        Some((k, scheme, _)) => {
            super::cenc::protected_entry(&t.sample_entry, k, scheme, t.kind == TrackKind::Audio)
        }
        None => t.sample_entry.to_vec(),
    };
    let mut w = BoxWriter::with_capacity(1024 + entry.len());
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
    w.start_full(b"stsd", 0, 0).u32(1).bytes(&entry).end();
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
    w.end(); // mvex
    if let Some(k) = key {
        w.bytes(&super::cenc::pssh_common(&k.kid));
    }
    for sys in protection.map_or(&[][..], |p| p.2) {
        if let Some(pssh) = &sys.pssh {
            w.bytes(pssh);
        }
    }
    w.end(); // moov
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
    u64::from(styp) * STYP_LEN + 88 + u64::from(samples) * per + 8
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
    write_segment(fragment(track, seg, opts)?, opts)
}

/// Writes `frag` as a segment (`styp` first when `opts` say so).
pub fn write_segment(
    frag: TrackFragment,
    opts: FragmentOptions,
) -> Result<MediaSegment, IndexError> {
    let styp_len = if opts.styp { STYP_LEN } else { 0 };
    let mut w = BoxWriter::with_capacity((styp_len + frag.header_len()) as usize);
    if opts.styp {
        write_styp(&mut w);
    }
    frag.write(w)
}

/// The track fragment of segment `seg` of `track`: its `trun` and source
/// runs, before any box is written (encryption adds its own, see
/// [`super::cenc`]).
pub fn fragment(
    track: &TrackIndex,
    seg: &TrackSegment,
    opts: FragmentOptions,
) -> Result<TrackFragment, IndexError> {
    let info = &track.info;
    let count = seg.samples.end - seg.samples.start;
    let shift = decode_shift(info);
    let cts_shift = if info.kind == TrackKind::Video {
        info.presentation_offset
    } else {
        0
    };
    let with_cts = track.has_cts || info.kind == TrackKind::Video;
    let mut frag = TrackFragment {
        sequence: opts.sequence,
        tfhd: Tfhd {
            track_id: info.track_id,
            // CMAF §7.5.16.
            default_base_is_moof: true,
            ..Tfhd::default()
        },
        trun: Trun {
            fields: SampleFields::all(with_cts),
            first_sample_flags: None,
            samples: Vec::with_capacity(count as usize),
        },
        ..TrackFragment::default()
    };
    let mut base = None;
    // Composition time of the latest sync sample: a non-sync sample after
    // it in decode order but presented before it is a leading picture of
    // an open GOP (see `timeline::sap`), flagged so a player starting here
    // knows it cannot be decoded.
    let mut key_cts: Option<i64> = None;
    for (i, s) in (seg.samples.start..).zip(track.samples(seg.samples.clone())?) {
        let s = s?;
        base.get_or_insert((s.dts as i64).saturating_sub(shift));
        // A track with several descriptions: the sync sample's own
        // parameter sets go in-band before it (`avc3`/`hev1`).
        let lead = track.param_prefix(i, s.sync);
        let size = lead_size(s.size, lead.as_ref())?;
        let cts = i64::from(s.cts_offset).saturating_sub(cts_shift);
        let cts =
            i32::try_from(cts).map_err(|_| IndexError::Corrupt("composition offset overflow"))?;
        let flags = if s.sync {
            key_cts = Some(s.cts());
            FLAGS_SYNC
        } else if key_cts.is_some_and(|k| s.cts() < k) {
            FLAGS_NON_SYNC | IS_LEADING_UNDECODABLE
        } else {
            FLAGS_NON_SYNC
        };
        let sample = TrunSample {
            duration: s.duration,
            size,
            flags,
            composition_offset: cts,
        };
        frag.push_sample_with_lead(sample, s.offset, lead);
    }
    let base = u64::try_from(base.unwrap_or(0).max(0)).unwrap_or(0);
    frag.base_media_decode_time = Some(base);
    Ok(frag)
}

/// A sample's size with the generated bytes that lead it.
pub fn lead_size(size: u32, lead: Option<&Bytes>) -> Result<u32, IndexError> {
    let extra = lead.map_or(0, Bytes::len);
    u32::try_from(extra)
        .ok()
        .and_then(|e| size.checked_add(e))
        .ok_or(IndexError::Corrupt("sample size overflow"))
}

/// Size of the `styp` [`write_styp`] writes.
const STYP_LEN: u64 = 28;

/// `styp` of a CMAF media segment (CMAF §7.3.1; DASH `msdh`/`msix`).
fn write_styp(w: &mut BoxWriter) {
    w.start(b"styp")
        .bytes(b"msdh")
        .u32(0)
        .bytes(b"msdh")
        .bytes(b"msix")
        .bytes(b"cmfs")
        .end();
}

#[cfg(test)]
mod tests;
