//! WebVTT in ISO BMFF (ISO/IEC 14496-30 §7, "Storage of WebVTT"), as CMAF
//! text tracks for DASH (`codecs="wvtt"`): an init segment whose sample
//! entry is `wvtt` with its `vttC` configuration (the file header, here
//! just `WEBVTT`), and media segments whose samples tile the segment with
//! no gap and no overlap (§7.5): the segment is cut at every cue start and
//! end inside it, each piece a sample holding a `vttc` box per cue showing
//! throughout it (`iden`, `sttg`, `payl`), or an empty `vtte` when none is.
//! A cue spanning a segment boundary is split there, each segment holding
//! its part. Sample times are in milliseconds, the cue resolution.
//!
//! Generated whole (no source runs): the payload is the cue text, small.

use super::boxes::{BoxWriter, UNITY_MATRIX};
use crate::input::webvtt::{Cue, CueList};
use bytes::Bytes;

/// Timescale of the text track: WebVTT times are milliseconds.
pub const TIMESCALE: u32 = 1000;
/// The track's id in its init and media segments.
pub const TRACK_ID: u32 = 1;
/// Most cues one segment may hold (HLS and DASH): a DASH segment's
/// samples are found by looking up, for each of up to 2n+1 pieces, which
/// of the n cues show in it; 2 000 cues in one segment are far beyond any
/// real file (a film has about that many in all).
pub const MAX_SEGMENT_CUES: usize = 2000;

/// The init segment of a WebVTT track in `language` (ISO 639-2).
pub fn init_segment(language: &str) -> Bytes {
    // §7.3: handler 'text', null media header.
    text_init(language, b"text", b"nmhd", |w| {
        // §7.4: PlainTextSampleEntry 'wvtt' with the WebVTT configuration box.
        w.start(b"wvtt").zeros(6).u16(1);
        w.start(b"vttC").bytes(b"WEBVTT").end();
        w.end();
    })
}

/// The init segment of a text track (WebVTT here, TTML in
/// [`super::stpp`]): one track, timescale [`TIMESCALE`], the given handler
/// and media header, and the sample entry `entry` writes.
pub(super) fn text_init(
    language: &str,
    handler: &[u8; 4],
    media_header: &[u8; 4],
    entry: impl FnOnce(&mut BoxWriter),
) -> Bytes {
    let mut w = BoxWriter::with_capacity(640);
    w.start(b"ftyp").bytes(b"iso6").u32(0);
    for brand in [b"iso6", b"cmfc", b"dash"] {
        w.bytes(brand);
    }
    w.end();
    w.start(b"moov");
    w.start_full(b"mvhd", 0, 0)
        .u32(0)
        .u32(0)
        .u32(TIMESCALE)
        .u32(0);
    w.u32(0x0001_0000).u16(0x0100).zeros(10);
    for m in UNITY_MATRIX {
        w.u32(m);
    }
    w.zeros(24).u32(TRACK_ID + 1).end();
    w.start(b"trak");
    w.start_full(b"tkhd", 0, 3)
        .u32(0)
        .u32(0)
        .u32(TRACK_ID)
        .u32(0)
        .u32(0);
    w.zeros(8).u16(0).u16(0).u16(0).u16(0);
    for m in UNITY_MATRIX {
        w.u32(m);
    }
    w.u32(0).u32(0).end();
    w.start(b"mdia");
    w.start_full(b"mdhd", 0, 0)
        .u32(0)
        .u32(0)
        .u32(TIMESCALE)
        .u32(0);
    w.u16(super::cmaf::pack_language(language)).u16(0).end();
    w.start_full(b"hdlr", 0, 0).u32(0).bytes(handler).zeros(12);
    w.bytes(b"edgepack\0").end();
    w.start(b"minf");
    w.start_full(media_header, 0, 0).end();
    w.start(b"dinf").start_full(b"dref", 0, 0).u32(1);
    w.start_full(b"url ", 0, 1).end().end().end();
    w.start(b"stbl");
    w.start_full(b"stsd", 0, 0).u32(1);
    entry(&mut w);
    w.end(); // stsd
    w.start_full(b"stts", 0, 0).u32(0).end();
    w.start_full(b"stsc", 0, 0).u32(0).end();
    w.start_full(b"stsz", 0, 0).u32(0).u32(0).end();
    w.start_full(b"stco", 0, 0).u32(0).end();
    w.end().end().end().end(); // stbl, minf, mdia, trak
    w.start(b"mvex");
    w.start_full(b"trex", 0, 0)
        .u32(TRACK_ID)
        .u32(1)
        .u32(0)
        .u32(0)
        .u32(0)
        .end();
    w.end().end(); // mvex, moov
    Bytes::from(w.buf)
}

/// One sample: its duration and payload.
pub(super) struct Sample {
    pub duration: u32,
    pub data: Vec<u8>,
}

/// The `vttc` box of one cue (§7.5.2).
fn vttc(w: &mut BoxWriter, c: &Cue) {
    w.start(b"vttc");
    if !c.id.is_empty() {
        w.start(b"iden").bytes(c.id.as_bytes()).end();
    }
    if !c.settings.is_empty() {
        w.start(b"sttg").bytes(c.settings.as_bytes()).end();
    }
    w.start(b"payl").bytes(c.text.as_bytes()).end();
    w.end();
}

/// The samples tiling `[from, to)` ms; `None` when too many cues show in
/// it ([`MAX_SEGMENT_CUES`]).
fn samples(cues: &CueList, from: u64, to: u64) -> Option<Vec<Sample>> {
    let inside: Vec<&Cue> = cues.overlapping(from, Some(to)).collect();
    if inside.len() > MAX_SEGMENT_CUES {
        return None;
    }
    let mut cuts: Vec<u64> = vec![from, to];
    for c in &inside {
        cuts.extend(
            [c.start_ms, c.end_ms]
                .into_iter()
                .filter(|&t| t > from && t < to),
        );
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len());
    for win in cuts.windows(2) {
        let (a, b) = (win[0], win[1]);
        let mut w = BoxWriter::default();
        let mut any = false;
        for c in inside.iter().filter(|c| c.start_ms <= a && c.end_ms >= b) {
            vttc(&mut w, c);
            any = true;
        }
        if !any {
            w.start(b"vtte").end();
        }
        out.push(Sample {
            duration: u32::try_from(b - a).ok()?,
            data: w.buf,
        });
    }
    Some(out)
}

/// Media segment `sequence` (1-based) covering `[from, to)` ms: `styp`,
/// `moof` (`mfhd`, `traf` with `tfhd` default-base-is-moof, `tfdt` v1 and
/// a `trun` of durations and sizes), `mdat`. `None` over
/// [`MAX_SEGMENT_CUES`].
pub fn media_segment(cues: &CueList, from: u64, to: u64, sequence: u32) -> Option<Bytes> {
    let samples = samples(cues, from, to.max(from + 1))?;
    Some(segment_of(&samples, from, sequence))
}

/// Media segment `sequence` of `samples` (duration, payload) starting at
/// `from` ms; shared with [`super::stpp`].
pub(super) fn segment_of(samples: &[Sample], from: u64, sequence: u32) -> Bytes {
    let mut w =
        BoxWriter::with_capacity(256 + samples.iter().map(|s| s.data.len() + 8).sum::<usize>());
    w.start(b"styp").bytes(b"msdh").u32(0);
    for brand in [b"msdh", b"msix", b"cmfc"] {
        w.bytes(brand);
    }
    w.end();
    let moof_at = w.len();
    w.start(b"moof");
    w.start_full(b"mfhd", 0, 0).u32(sequence).end();
    w.start(b"traf");
    w.start_full(b"tfhd", 0, 0x02_0000).u32(TRACK_ID).end();
    w.start_full(b"tfdt", 1, 0).u64(from).end();
    // data-offset, sample-duration and sample-size present.
    w.start_full(b"trun", 0, 0x0301).u32(samples.len() as u32);
    let offset_at = w.len();
    w.u32(0);
    for s in samples {
        w.u32(s.duration).u32(s.data.len() as u32);
    }
    w.end().end().end(); // trun, traf, moof
    let moof_len = w.len() - moof_at;
    w.patch_u32(offset_at, (moof_len + 8) as u32);
    w.start(b"mdat");
    for s in samples {
        w.bytes(&s.data);
    }
    w.end();
    Bytes::from(w.buf)
}

#[cfg(test)]
mod tests;
