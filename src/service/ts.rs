//! MPEG-TS segments: unlike CMAF, TS rewrites the payload (Annex B, ADTS,
//! 188-byte packets), so the samples are read first and the segment is
//! built from them. A [`TsJob`] lists the reads; [`TsJob::build`] turns the
//! bytes into a [`TsSegment`] whose length is known before streaming.

use super::ServeError;
use crate::media_set::{MediaSet, SetTrack};
use crate::model::TrackInfo;
use crate::mux::cmaf::ByteRun;
use crate::mux::ts::{TsSegment, TsTrack, FIRST_AUDIO_PID, VIDEO_PID};
use crate::mux::MuxSample;
use crate::plan;
use crate::source::{ReadRequest, ReadResponse, SourceError};
use bytes::Bytes;

/// Most bytes the reads of one MPEG-TS segment may cover. TS rewrites the
/// payload, so what it reads sits in the heap (128 MB a request) until the
/// segment is built; the reads of one track's samples are merged across
/// the gaps between them (`plan::plan_reads`), so they cover at most the
/// span from the first sample to the end of the last, which is what is
/// counted, per track, before anything is read. 64 MiB leaves room for a
/// [`crate::timeline::MAX_SEGMENT_BYTES`] segment of a file that
/// interleaves its tracks.
pub const MAX_TS_READ_BYTES: u64 = 64 << 20;

/// One sample to fetch: its timing on the presentation timeline and where
/// its bytes are.
#[derive(Clone, Debug)]
struct Pending {
    dts: i64,
    pts: i64,
    duration: u32,
    sync: bool,
    run: ByteRun,
}

#[derive(Clone, Debug)]
struct Part {
    path: String,
    etag: String,
    info: TrackInfo,
    pid: u16,
    samples: Vec<Pending>,
}

impl Part {
    /// Bytes from the first sample to the end of the last: what reads of
    /// them cover at most.
    fn span(&self) -> u64 {
        let start = self.samples.iter().map(|s| s.run.offset).min();
        let end = self.samples.iter().map(|s| s.run.end()).max();
        match (start, end) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        }
    }
}

/// A TS segment waiting for its payload.
#[derive(Clone, Debug)]
pub struct TsJob {
    parts: Vec<Part>,
    /// Segment number: the PAT/PMT continuity counters continue from it.
    sequence: u32,
}

impl TsJob {
    /// Segment `n` of `tracks` (video first, then audio), muxed into one TS.
    /// `None` when none of the tracks has samples in that segment.
    pub fn new(set: &MediaSet, tracks: &[&SetTrack], n: u32) -> Result<Option<TsJob>, ServeError> {
        let mut parts = Vec::new();
        let mut audio_pid = FIRST_AUDIO_PID;
        // Muxed tracks (v3: video + audio) are cut where the first track's
        // segment is, even when that rendition has a timeline of its own.
        let Some(first) = tracks.first() else {
            return Ok(None);
        };
        let timeline = set.timeline_of(first);
        for t in tracks {
            let idx = set.track_index(t);
            let Some(seg) = timeline.track_segment(idx, n)? else {
                continue;
            };
            let shift = idx.info.presentation_offset;
            let pid = if idx.is_video() {
                VIDEO_PID
            } else {
                audio_pid += 1;
                audio_pid - 1
            };
            let mut samples = Vec::with_capacity((seg.samples.end - seg.samples.start) as usize);
            for s in idx.samples(seg.samples.clone())? {
                let s = s?;
                // Presentation timeline: both times minus the edit shift;
                // leading B-frames get a negative DTS, which the TS muxer's
                // fixed offset absorbs.
                samples.push(Pending {
                    dts: s.dts as i64 - shift,
                    pts: s.cts() - shift,
                    duration: s.duration,
                    sync: s.sync,
                    run: ByteRun {
                        offset: s.offset,
                        len: u64::from(s.size),
                    },
                });
            }
            let file = &set.files[t.file];
            parts.push(Part {
                path: file.path.clone(),
                etag: file.index.etag.clone(),
                info: idx.info.clone(),
                pid,
                samples,
            });
        }
        let span: u64 = parts.iter().map(Part::span).sum();
        crate::error::LimitError::check(
            crate::error::Cap::SegmentReadBytes,
            span,
            MAX_TS_READ_BYTES,
        )?;
        Ok((!parts.is_empty()).then_some(TsJob { parts, sequence: n }))
    }

    /// The origin reads that fetch every sample: planned per file, at most
    /// `max_reads` in all.
    pub fn reads(&self, max_reads: usize) -> Vec<ReadRequest> {
        let per_part = (max_reads / self.parts.len().max(1)).max(1);
        let mut out = Vec::new();
        for p in &self.parts {
            let runs: Vec<ByteRun> = p.samples.iter().map(|s| s.run).collect();
            let plan = plan::plan_reads(&runs, per_part);
            out.extend(crate::source::payload_reads(&p.path, &p.etag, &plan));
        }
        out
    }

    /// Builds the segment from the responses to [`TsJob::reads`] (same
    /// order). Sample payloads are slices of the responses.
    pub fn build(
        &self,
        reqs: &[ReadRequest],
        responses: Vec<ReadResponse>,
    ) -> Result<TsSegment, ServeError> {
        let mut samples: Vec<Vec<MuxSample>> = Vec::with_capacity(self.parts.len());
        for p in &self.parts {
            let reads: Vec<(ByteRun, Bytes)> = reqs
                .iter()
                .zip(&responses)
                .filter(|(q, _)| q.path == p.path)
                .map(|(q, r)| {
                    (
                        ByteRun {
                            offset: q.start,
                            len: q.end - q.start,
                        },
                        r.data.clone(),
                    )
                })
                .collect();
            let runs: Vec<ByteRun> = p.samples.iter().map(|s| s.run).collect();
            let data = plan::assemble(&runs, &reads).map_err(|e| {
                ServeError::Source(SourceError::Origin(crate::source::OriginError::Bad(
                    format!("{}: {e}", p.path),
                )))
            })?;
            samples.push(
                p.samples
                    .iter()
                    .zip(data)
                    .map(|(s, data)| MuxSample {
                        dts: s.dts,
                        pts: s.pts,
                        duration: s.duration,
                        sync: s.sync,
                        data,
                    })
                    .collect(),
            );
        }
        let tracks: Vec<TsTrack<'_>> = self
            .parts
            .iter()
            .zip(&samples)
            .map(|(p, s)| TsTrack {
                info: &p.info,
                samples: s,
                pid: p.pid,
            })
            .collect();
        TsSegment::new(&tracks, self.sequence).map_err(|e| ServeError::Media(e.to_string()))
    }
}
