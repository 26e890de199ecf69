//! Smooth Streaming fragments (MS-SSTR §2.2.4 "Fragment Response").
//!
//! A fragment is `moof` + `mdat`: no `styp`, and no init segment exists at
//! all. `moof` holds `mfhd` and one `traf` with `tfhd`, `trun` and the
//! `tfxd` box (§2.2.4.4). As in [`super::cmaf`], the output is generated
//! header bytes plus runs of the source file, so the payload is never
//! copied and the size is known before any payload byte is read.
//!
//! **Time.** A Smooth client builds its own track header from the client
//! manifest, whose `TimeScale` is 10 000 000 (§2.2.2.1), and takes the
//! fragment's decode start from the manifest's `<c t>` (dash.js and Shaka
//! both synthesize `tfdt` from it; `tfxd` is informative for on-demand,
//! §2.2.4.4). Every time written here is therefore in 100 ns units (HNS):
//! - the first sample decodes at [`FragmentTime::start`], the rescaled
//!   presentation time of the segment's first sample (the `<c t>`);
//! - sample durations are differences of rescaled per-sample boundaries
//!   (decode time in the track timescale, shifted by the same amount as the
//!   first sample), so rounding never accumulates: the durations of a
//!   fragment sum to exactly [`FragmentTime::duration`] and the boundary
//!   of sample *i* is the rescaled source time of sample *i*;
//! - composition offsets are rescaled presentation time minus that
//!   boundary. The edit list's shift is folded in (the same rule as
//!   [`super::cmaf::decode_shift`]), so the first (key)frame of a fragment
//!   is presented exactly at `t`, in step with the audio, and B-frames get
//!   negative offsets, written with `trun` version 1 (ISO/IEC 14496-12
//!   §8.8.8). The players we test (dash.js' MSS module and Shaka 4 re-write
//!   fragments with codem-isoboxer, which reads version 1 offsets as
//!   signed; MSE accepts them). Version 0 is written when no offset is
//!   negative (audio, streams without B-frames).
//!
//! **Boxes.** `tfhd` carries `default-sample-flags` only (flags 0x20), as
//! IIS and nginx-vod-module wrote it: sync for audio, non-sync for video,
//! whose `trun` then lists per-sample flags. No `default-base-is-moof`: the
//! data offset is relative to the `moof` because this is its first `traf`
//! (§8.8.7.1), which legacy Smooth clients also understand.

use super::boxes::BoxWriter;
use super::fragment::{
    SampleFields, Tfhd, TrackFragment, Trun, TrunSample, FLAGS_NON_SYNC, FLAGS_SYNC,
};
use super::MediaSegment;
use crate::index::{IndexError, TrackIndex};
use crate::model::TrackKind;
use crate::timeline::{rescale, TrackSegment, HNS};

/// User type of the `tfxd` box (MS-SSTR §2.2.4.4).
pub const TFXD_UUID: [u8; 16] = [
    0x6d, 0x1d, 0x9b, 0x05, 0x42, 0xd5, 0x44, 0xe6, 0x80, 0xe2, 0x14, 0x1d, 0xaf, 0xf7, 0x57, 0xb2,
];

/// A fragment's place on the manifest timeline, in HNS: its `<c t d>` and
/// its `tfxd` (MS-SSTR §2.2.2.6, §2.2.4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentTime {
    pub start: u64,
    pub duration: u64,
}

impl FragmentTime {
    pub fn end(&self) -> u64 {
        self.start + self.duration
    }
}

fn to_hns(t: i64, timescale: u32) -> i64 {
    rescale(t, timescale, HNS)
}

/// Where segment `seg` of a track with `timescale` sits on the manifest
/// timeline. The client manifest and [`fragment`] both use this, so a
/// fragment's `tfxd` always equals its `<c>` entry. Times before 0 (an edit
/// list that cuts into the first frame) are clamped to 0.
pub fn fragment_time(timescale: u32, seg: &TrackSegment) -> FragmentTime {
    let start = to_hns(seg.start, timescale).max(0);
    let dur = i64::try_from(seg.duration).unwrap_or(i64::MAX);
    let end = to_hns(seg.start.saturating_add(dur), timescale).max(start);
    FragmentTime {
        start: start as u64,
        duration: (end - start) as u64,
    }
}

/// Bytes [`fragment`] writes before the payload: `moof` (8) with `mfhd`
/// (16), `traf` (8), `tfhd` (20), `trun` (20 + 8 per sample, +4 with
/// per-sample flags (video), +4 with composition offsets) and `tfxd` (44),
/// then the `mdat` header (8).
pub fn header_len(samples: u32, video: bool, with_cts: bool) -> u64 {
    let per = 8 + 4 * u64::from(video) + 4 * u64::from(with_cts);
    124 + u64::from(samples) * per
}

/// A sample's times, in HNS.
struct Entry {
    /// Decode time on the manifest timeline.
    decode: i64,
    size: u32,
    sync: bool,
    /// Presentation time on the manifest timeline.
    pts: i64,
}

/// Builds the Smooth fragment for segment `seg` of `track` as header bytes
/// plus source runs. `mfhd` carries `seg.number + 1`.
pub fn fragment(track: &TrackIndex, seg: &TrackSegment) -> Result<MediaSegment, IndexError> {
    let frag = track_fragment(track, seg)?;
    let w = BoxWriter::with_capacity(frag.header_len() as usize);
    frag.write(w)
}

/// The track fragment of [`fragment`] before it is written: its `trun`,
/// `tfxd` and source runs (`encryption=piff` adds its boxes, see
/// [`super::piff`]).
pub fn track_fragment(track: &TrackIndex, seg: &TrackSegment) -> Result<TrackFragment, IndexError> {
    let info = &track.info;
    let ts = info.timescale;
    let time = fragment_time(ts, seg);
    let (start, end) = (time.start as i64, time.end() as i64);
    let video = info.kind == TrackKind::Video;
    let with_cts = track.has_cts || video;
    let mut frag = TrackFragment {
        sequence: seg.number.saturating_add(1),
        tfhd: Tfhd {
            track_id: info.track_id,
            default_sample_flags: Some(if video { FLAGS_NON_SYNC } else { FLAGS_SYNC }),
            ..Tfhd::default()
        },
        // No tfdt: clients take the decode time from the manifest.
        base_media_decode_time: None,
        trun: Trun {
            fields: SampleFields {
                duration: true,
                size: true,
                flags: video,
                composition_offset: with_cts,
            },
            first_sample_flags: None,
            samples: Vec::with_capacity(seg.samples.len()),
        },
        traf_boxes: vec![tfxd(time)],
        runs: Vec::new(),
        inserts: Vec::new(),
    };
    // Checks the range against the track before it sizes anything.
    let samples = track.samples(seg.samples.clone())?;
    let mut entries: Vec<Entry> = Vec::with_capacity(seg.samples.len());
    // Source decode time + shift = manifest decode time (track timescale):
    // the first sample decodes at the segment's start.
    let mut shift = None;
    let mut leads = Vec::new();
    for (i, s) in (seg.samples.start..).zip(samples) {
        let s = s?;
        // In-band parameter sets of a track with several descriptions,
        // as in CMAF (`super::cmaf::fragment`).
        let lead = track.param_prefix(i, s.sync);
        let size = super::cmaf::lead_size(s.size, lead.as_ref())?;
        if let Some(l) = lead {
            leads.push((entries.len(), l));
        }
        let dts = i64::try_from(s.dts).map_err(|_| {
            IndexError::OutOfRange(format!("decode time {} of track {}", s.dts, info.track_id))
        })?;
        let shift = *shift.get_or_insert(seg.start.saturating_sub(dts));
        entries.push(Entry {
            decode: to_hns(dts.saturating_add(shift), ts).clamp(start, end),
            size,
            sync: s.sync,
            pts: to_hns(track.pts(&s), ts),
        });
        frag.push_payload(s.offset, s.size);
    }
    frag.inserts = leads;
    // A duration is the distance to the next sample's boundary, so the
    // durations add up to the fragment's exactly.
    for (i, e) in entries.iter().enumerate() {
        let next = entries.get(i + 1).map_or(end, |n| n.decode);
        let duration = u32::try_from(next - e.decode).map_err(|_| {
            IndexError::OutOfRange(format!(
                "sample duration of {} HNS in track {}",
                next - e.decode,
                info.track_id
            ))
        })?;
        let cts = i32::try_from(e.pts.saturating_sub(e.decode)).map_err(|_| {
            IndexError::OutOfRange(format!(
                "composition offset of {} HNS in track {}",
                e.pts.saturating_sub(e.decode),
                info.track_id
            ))
        })?;
        // The offset is kept even when the trun does not list offsets: a
        // negative one (audio whose first samples are clamped to a start of
        // 0 by a long edit) selects trun version 1, as Smooth output always
        // had; harmless, since version only changes how offsets are read.
        frag.trun.samples.push(TrunSample {
            duration,
            size: e.size,
            flags: if e.sync { FLAGS_SYNC } else { FLAGS_NON_SYNC },
            composition_offset: cts,
        });
    }
    Ok(frag)
}

/// A text fragment (MS-SSTR §2.2.4, a `StreamIndex Type="text"` with
/// FourCC `TTML`): `moof` (`mfhd`, `traf` with `tfhd`, a one-sample `trun`
/// and `tfxd`) and an `mdat` holding `doc`, one TTML document covering the
/// fragment, its times relative to the fragment's start
/// ([`super::stpp::document`]). Generated whole: the document is small.
pub fn text_fragment(time: FragmentTime, sequence: u32, doc: &[u8]) -> Option<bytes::Bytes> {
    let duration = u32::try_from(time.duration).ok()?;
    let size = u32::try_from(doc.len()).ok()?;
    let mut w = BoxWriter::with_capacity(160 + doc.len());
    w.start(b"moof");
    w.start_full(b"mfhd", 0, 0).u32(sequence).end();
    w.start(b"traf");
    // default-sample-flags: every text sample is a sync sample.
    w.start_full(b"tfhd", 0, 0x20)
        .u32(super::wvtt::TRACK_ID)
        .u32(FLAGS_SYNC)
        .end();
    // data-offset, sample-duration and sample-size present.
    w.start_full(b"trun", 0, 0x0301).u32(1);
    let offset_at = w.len();
    w.u32(0).u32(duration).u32(size).end();
    w.bytes(&tfxd(time));
    w.end().end(); // traf, moof
    let moof_len = w.len();
    w.patch_u32(offset_at, (moof_len + 8) as u32);
    w.start(b"mdat").bytes(doc).end();
    Some(bytes::Bytes::from(w.buf))
}

/// The `tfxd` box, version 1: 64-bit absolute time and duration in HNS
/// (MS-SSTR §2.2.4.4).
fn tfxd(time: FragmentTime) -> Vec<u8> {
    let mut w = BoxWriter::with_capacity(44);
    w.start(b"uuid")
        .bytes(&TFXD_UUID)
        .u32(0x0100_0000)
        .u64(time.start)
        .u64(time.duration)
        .end();
    w.buf
}

#[cfg(test)]
pub(crate) mod tests;
