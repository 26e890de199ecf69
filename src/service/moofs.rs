//! The moofs of a segment of a fragment-level track (a fragmented title
//! indexed from its `sidx`/`mfra`, [`crate::mp4::fragtable`]): the index
//! knows each fragment's byte range, time and SAP but not its samples, so
//! a segment request reads the `moof` of each fragment it covers (the
//! first [`MOOF_READ_LEN`] bytes of the fragment, extended when the moof
//! is bigger), parses them with the moov's `trex` defaults and edit list
//! (the moov is in the index), and muxes the segment from those real
//! samples with the muxer any other segment uses: the mdat payload stays
//! source byte runs. A moof that disagrees with the table (another time,
//! sample data outside the fragment, no moof where the table says) is 502
//! with the reason, never different content.

use super::{find_track, segment_at, ServeError};
use crate::media_set::{Expanded, MediaSet};
use crate::mp4::fragments::{MAX_MOOF_LEN, MOOF_READ_LEN};
use crate::mp4::header::parse_header;
use crate::mux::ByteRun;
use crate::plan::{self, ReadLimits};
use crate::source::{self, ReadRequest, ReadResponse, SourceError};
use crate::timeline::TrackSegment;
use crate::url::{Format, Resource, StreamRequest};
use bytes::Bytes;

/// Read rounds one segment's moofs may take: the fragments' heads, then
/// the rest of moofs bigger than the first read (or after a `styp`,
/// `sidx`, `prft`, `emsg` before them).
const MAX_ROUNDS: usize = 3;
/// Boxes stepped over before a fragment's moof.
const MAX_LEADING_BOXES: usize = 16;

/// One fragment-level track's segment waiting for its moofs.
struct Need {
    file: usize,
    track: usize,
    /// The segment as the index (and so the manifests) has it.
    segment: TrackSegment,
    /// Its fragments' byte ranges, in file order.
    frags: Vec<ByteRun>,
    /// The first fragment starts with a SAP (a sync pseudo-sample).
    sync: bool,
}

/// Where the search for one fragment's moof stands.
#[derive(Clone, Debug)]
enum Probe {
    /// The bytes `run` are to be read; the box walk resumes at its start.
    Read(ByteRun),
    /// The moof at this offset, complete.
    Found(u64, Bytes),
}

/// One distinct fragment (interleaved tracks share theirs).
struct Frag {
    file: usize,
    range: ByteRun,
    probe: Probe,
    /// Boxes stepped over so far.
    skipped: usize,
}

/// The moof reads of one segment request.
pub struct MoofJob {
    needs: Vec<Need>,
    frags: Vec<Frag>,
    /// The reads of the current round: per file, the runs wanted and the
    /// planned reads (in the order of [`MoofJob::reads`]).
    round: Vec<(usize, Vec<ByteRun>, Vec<ByteRun>)>,
    rounds: usize,
    /// Every read of every round with its bytes: small fragments are read
    /// whole with their moofs, and the segment's payload reads are
    /// answered from these ([`Held`]).
    held: Vec<Held>,
}

/// Bytes of a source file already read (a moof round's read): a later
/// read inside them is answered from them, a slice, not read again
/// ([`crate::job::Job`]).
#[derive(Clone, Debug)]
pub struct Held {
    pub path: String,
    pub offset: u64,
    pub response: ReadResponse,
}

impl Held {
    /// The answer to `req` from these bytes, when they hold all of it.
    pub fn answer(&self, req: &ReadRequest) -> Option<ReadResponse> {
        let end = self.offset.checked_add(self.response.data.len() as u64)?;
        // Only a GET of the origin: a key provider's POST names the asset
        // in `path` and is never a slice of its bytes.
        let origin = matches!(req.target, crate::source::ReadTarget::Origin);
        if !origin
            || req.path != self.path
            || req.start < self.offset
            || req.end > end
            || req.start > req.end
        {
            return None;
        }
        let etag_ok = req
            .if_match
            .as_deref()
            .is_none_or(|e| e == self.response.etag || self.response.etag.is_empty());
        if !etag_ok {
            return None;
        }
        let (a, b) = (
            (req.start - self.offset) as usize,
            (req.end - self.offset) as usize,
        );
        Some(ReadResponse {
            data: self.response.data.slice(a..b),
            ..self.response.clone()
        })
    }

    /// The bytes `run` of `path`, when these hold all of them.
    pub fn slice(&self, path: &str, run: ByteRun) -> Option<Bytes> {
        let end = self.offset.checked_add(self.response.data.len() as u64)?;
        if path != self.path || run.offset < self.offset || run.end() > end {
            return None;
        }
        let a = (run.offset - self.offset) as usize;
        Some(self.response.data.slice(a..a + run.len as usize))
    }
}

impl MoofJob {
    /// The moofs segment request `req` needs, or `None` when it is not a
    /// media segment of a fragment-level track.
    pub fn new(set: &MediaSet, req: &StreamRequest) -> Option<MoofJob> {
        let Resource::Fragment { track, time } = &req.resource else {
            return None;
        };
        if !set
            .files
            .iter()
            .any(|f| f.index.tracks.iter().any(|t| t.fragment_level))
        {
            return None;
        }
        let t = find_track(set, track).ok()?;
        let (n, _) = segment_at(set, t, *time).ok()?;
        let format = req.options.format;
        let tracks = if matches!(format, Format::HlsTs | Format::HlsTsV3) {
            super::ts::segment_tracks(set, t, format)
        } else {
            vec![t]
        };
        // A TS segment cuts every muxed track where the first one is.
        let timeline = set.timeline_of(tracks.first()?);
        let mut needs = Vec::new();
        for u in tracks {
            let idx = set.track_index(u);
            if !idx.fragment_level {
                continue;
            }
            let Ok(Some(segment)) = timeline.track_segment(idx, n) else {
                continue;
            };
            // A fragment split at a SAP inside it is two pseudo-samples at
            // its offset (`fragtable::split_at_sap`), one of which may
            // belong to the neighbouring segment: both are looked at so
            // the whole fragment is read.
            let (a, b) = (segment.samples.start, segment.samples.end);
            let around = a.saturating_sub(1)..b.saturating_add(1).min(idx.sample_count());
            let mut frags: Vec<ByteRun> = Vec::new();
            let mut before: Option<ByteRun> = None;
            let mut sync = false;
            for (i, s) in (around.start..).zip(idx.samples(around).ok()?) {
                let s = s.ok()?;
                let run = ByteRun {
                    offset: s.offset,
                    len: u64::from(s.size),
                };
                if i < a {
                    before = Some(run);
                    continue;
                }
                sync |= i == a && s.sync;
                match frags.last_mut() {
                    Some(f) if f.offset == run.offset => f.len += run.len,
                    Some(_) if i < b => frags.push(run),
                    None => match before.filter(|p| p.offset == run.offset) {
                        Some(p) => frags.push(ByteRun {
                            offset: run.offset,
                            len: p.len + run.len,
                        }),
                        None => frags.push(run),
                    },
                    Some(_) => {}
                }
            }
            needs.push(Need {
                file: u.file,
                track: u.track,
                segment,
                frags,
                sync,
            });
        }
        if needs.is_empty() {
            return None;
        }
        let mut frags: Vec<Frag> = Vec::new();
        for need in &needs {
            for r in &need.frags {
                if frags.iter().any(|f| f.file == need.file && f.range == *r) {
                    continue;
                }
                frags.push(Frag {
                    file: need.file,
                    range: *r,
                    probe: Probe::Read(ByteRun {
                        offset: r.offset,
                        len: r.len.min(MOOF_READ_LEN),
                    }),
                    skipped: 0,
                });
            }
        }
        Some(MoofJob {
            needs,
            frags,
            round: Vec::new(),
            rounds: 0,
            held: Vec::new(),
        })
    }

    /// The reads of the next round within `limits` (all files), or `None`
    /// when every moof is held.
    pub fn reads(
        &mut self,
        set: &MediaSet,
        limits: ReadLimits,
    ) -> Result<Option<Vec<ReadRequest>>, ServeError> {
        let mut files: Vec<usize> = self
            .frags
            .iter()
            .filter(|f| matches!(f.probe, Probe::Read(_)))
            .map(|f| f.file)
            .collect();
        files.sort_unstable();
        files.dedup();
        if files.is_empty() {
            self.round.clear();
            return Ok(None);
        }
        self.rounds += 1;
        if self.rounds > MAX_ROUNDS {
            return Err(media(set, files[0], "moofs not found within 3 read rounds"));
        }
        let share = (limits.max_reads / files.len()).max(1);
        let mut out = Vec::new();
        self.round.clear();
        for file in files {
            let runs: Vec<ByteRun> = self
                .frags
                .iter()
                .filter(|f| f.file == file)
                .filter_map(|f| match f.probe {
                    Probe::Read(r) => Some(r),
                    Probe::Found(..) => None,
                })
                .collect();
            let plan = plan::plan_reads(
                &runs,
                ReadLimits {
                    max_reads: share,
                    ..limits
                },
            );
            let f = &set.files[file];
            out.extend(source::payload_reads(&f.path, &f.index.etag, &plan));
            self.round.push((file, runs, plan));
        }
        if out.len() > limits.max_reads {
            return Err(ServeError::Source(SourceError::Origin(
                crate::source::OriginError::Bad(format!(
                    "a segment's moofs need {} origin reads, {} are left",
                    out.len(),
                    limits.max_reads
                )),
            )));
        }
        Ok(Some(out))
    }

    /// Takes the answers to the round's [`MoofJob::reads`], in order.
    pub fn feed(&mut self, set: &MediaSet, results: Vec<ReadResponse>) -> Result<(), ServeError> {
        let mut results = results.into_iter();
        for (file, runs, plan) in std::mem::take(&mut self.round) {
            let mut reads = Vec::with_capacity(plan.len());
            for r in &plan {
                let response = results
                    .next()
                    .ok_or_else(|| media(set, file, "missing read results"))?;
                let data = response.data.clone();
                if (data.len() as u64) < r.len {
                    return Err(media(set, file, "short read"));
                }
                self.held.push(Held {
                    path: set.files[file].path.clone(),
                    offset: r.offset,
                    response,
                });
                reads.push((*r, data));
            }
            let bodies =
                plan::assemble(&runs, &reads).map_err(|e| ServeError::Media(e.to_string()))?;
            for (run, body) in runs.iter().zip(bodies) {
                let Some(frag) = self
                    .frags
                    .iter_mut()
                    .find(|f| f.file == file && matches!(f.probe, Probe::Read(r) if r == *run))
                else {
                    continue;
                };
                frag.step(*run, body)
                    .map_err(|why| media(set, file, &why))?;
            }
        }
        Ok(())
    }

    /// The segments with their real samples, once every moof is held:
    /// each checked against what the index says of it.
    pub fn finish(self, set: &MediaSet) -> Result<(Vec<Expanded>, Vec<Held>), ServeError> {
        let mut out = Vec::with_capacity(self.needs.len());
        for need in &self.needs {
            let mut moofs: Vec<(u64, Bytes)> = Vec::with_capacity(need.frags.len());
            for r in &need.frags {
                let frag = self
                    .frags
                    .iter()
                    .find(|f| f.file == need.file && f.range == *r);
                let Some(Frag {
                    probe: Probe::Found(at, moof),
                    ..
                }) = frag
                else {
                    return Err(media(set, need.file, "a fragment's moof was not read"));
                };
                if !moofs.iter().any(|(o, _)| o == at) {
                    moofs.push((*at, moof.clone()));
                }
            }
            out.push(expand(set, need, &moofs)?);
        }
        Ok((out, self.held))
    }
}

impl Frag {
    /// Walks the boxes of the fragment from `run`'s start with `data` (its
    /// bytes): the moof is taken when whole, else the rest is asked for.
    fn step(&mut self, run: ByteRun, data: Bytes) -> Result<(), String> {
        let end = self.range.end();
        let mut at = run.offset;
        loop {
            if at >= end {
                return Err(format!(
                    "no moof in the fragment at byte {} the index lists",
                    self.range.offset
                ));
            }
            let rel = (at - run.offset) as usize;
            let header = match data.get(rel..) {
                Some(rest) => parse_header(rest, at, "").map_err(|e| e.to_string())?,
                None => None,
            };
            let Some(h) = header else {
                self.probe = Probe::Read(ByteRun {
                    offset: at,
                    len: MOOF_READ_LEN.min(end - at),
                });
                return Ok(());
            };
            let size = h.size.unwrap_or(end - at);
            match &h.typ.0 {
                b"moof" => {
                    if size > MAX_MOOF_LEN || at.saturating_add(size) > end {
                        return Err(format!(
                            "moof of {size} bytes at byte {at} does not fit its fragment"
                        ));
                    }
                    match data.get(rel..rel + size as usize) {
                        Some(moof) => self.probe = Probe::Found(at, data.slice_ref(moof)),
                        None => {
                            self.probe = Probe::Read(ByteRun {
                                offset: at,
                                len: size,
                            })
                        }
                    }
                    return Ok(());
                }
                b"mdat" | b"moov" | b"mfra" => {
                    return Err(format!(
                        "the fragment at byte {} the index lists has a {} before its moof",
                        self.range.offset, h.typ
                    ))
                }
                _ => {
                    self.skipped += 1;
                    if self.skipped > MAX_LEADING_BOXES {
                        return Err(format!(
                            "more than {MAX_LEADING_BOXES} boxes before the moof at byte {}",
                            self.range.offset
                        ));
                    }
                    at = at.saturating_add(size);
                }
            }
        }
    }
}

/// A 502 naming the file.
fn media(set: &MediaSet, file: usize, why: &str) -> ServeError {
    ServeError::Source(SourceError::Media {
        path: set.files[file].path.clone(),
        error: why.to_string(),
    })
}

/// Ticks a moof's time may differ from the table's: muxers that round
/// each fragment's time (ffmpeg's ISMV) are a tick or two off, as the
/// sample-level index allows between fragments.
const TIME_SLACK: u64 = 2;

/// The real samples of `need`'s fragments (`moofs`, in file order) as an
/// index of their own, and the segment over all of them, after checking
/// they are the fragments the index listed.
fn expand(set: &MediaSet, need: &Need, moofs: &[(u64, Bytes)]) -> Result<Expanded, ServeError> {
    let file = &set.files[need.file];
    let pseudo = &file.index.tracks[need.track];
    let bad = |why: String| media(set, need.file, &why);
    let Some((moov_offset, moov)) = &file.index.moov else {
        return Err(bad("fragment-level index without its moov".into()));
    };
    let sub = crate::index::build_fragmented(
        moov.clone(),
        *moov_offset,
        file.index.file_size,
        &file.index.etag,
        moofs,
    )
    .map_err(|e| bad(format!("moofs of segment {}: {e}", need.segment.number)))?;
    let id = pseudo.info.track_id;
    let first = moofs.first().map_or(0, |m| m.0);
    let real = sub
        .track(id)
        .ok_or_else(|| bad(format!("moof at byte {first} has no samples of track {id}")))?;
    let want = &need.segment;
    // Samples presented before the segment lead the first fragment: AAC
    // priming the edit list skips (the index's first pseudo-sample starts
    // where the edit does; a sample-level index cuts audio there too).
    // Video starts at its first SAP from the segment's time on: the
    // samples before it (a fragment split at a SAP inside it,
    // `fragtable::split_at_sap`) end the segment before, which stops at
    // the first SAP from its end time on.
    let slack = TIME_SLACK as i64;
    let end_time = want
        .start
        .saturating_add(i64::try_from(want.duration).unwrap_or(i64::MAX));
    let mut lead = None;
    let mut cut = real.sample_count();
    for (i, s) in (0u32..).zip(
        real.samples(0..real.sample_count())
            .map_err(|e| ServeError::Media(e.to_string()))?,
    ) {
        let s = s.map_err(|e| ServeError::Media(e.to_string()))?;
        let pts = real.pts(&s);
        if lead.is_none() && pts >= want.start.saturating_sub(slack) {
            if real.is_video() && need.sync && !s.sync {
                return Err(bad(format!(
                    "moof at byte {first}: the fragment table says track {id} has a SAP at {}, its sample there is not a sync sample",
                    want.start
                )));
            }
            lead = Some(i);
        } else if lead.is_some()
            && real.is_video()
            && s.sync
            && pts >= end_time.saturating_sub(slack)
        {
            cut = i;
            break;
        }
    }
    let lead = lead.unwrap_or(real.sample_count());
    let segment = crate::timeline::span_segment(real, need.segment.number, lead, cut)
        .map_err(|e| ServeError::Media(e.to_string()))?
        .ok_or_else(|| bad(format!("moof at byte {first} has no samples of track {id}")))?;
    let mut segment = segment;
    // The last segment ends where the edit list ends the track, as the
    // index's does (`timeline::segment_between`).
    if let (Some(e), true) = (
        pseudo.info.presented_end,
        want.samples.end == pseudo.sample_count(),
    ) {
        let left = e.saturating_sub(segment.start).max(1);
        segment.duration = segment.duration.min(left.unsigned_abs());
    }
    if segment.start.abs_diff(want.start) > TIME_SLACK {
        return Err(bad(format!(
            "moof at byte {first}: track {id} starts at {}, the fragment table says {}",
            segment.start, want.start
        )));
    }
    let mut slack = TIME_SLACK * need.frags.len() as u64;
    if want.samples.end == pseudo.sample_count() {
        // A table's last duration runs to the presentation end (ffmpeg's
        // sidx), the samples' to the decode end: B-frames make them a few
        // frames apart.
        let samples = u64::from(segment.samples.end.max(1));
        slack += 4 * segment.duration / samples;
    }
    if segment.duration.abs_diff(want.duration) > slack {
        return Err(bad(format!(
            "moofs from byte {first}: track {id} lasts {} ticks, the fragment table says {}",
            segment.duration, want.duration
        )));
    }
    let mut runs = need.frags.clone();
    runs.sort_by_key(|r| r.offset);
    for (i, s) in real
        .samples(segment.samples.clone())
        .map_err(|e| ServeError::Media(e.to_string()))?
        .enumerate()
    {
        let s = s.map_err(|e| ServeError::Media(e.to_string()))?;
        if i == 0 && need.sync && !s.sync {
            return Err(bad(format!(
                "moof at byte {first}: the fragment table says it starts with a SAP, its first sample is not a sync sample"
            )));
        }
        let end = s.offset.saturating_add(u64::from(s.size));
        let k = runs.partition_point(|r| r.offset <= s.offset);
        let inside = k > 0 && end <= runs[k - 1].end();
        if !inside {
            return Err(bad(format!(
                "moof at byte {first}: sample data at byte {} lies outside the fragments the table lists",
                s.offset
            )));
        }
    }
    Ok(Expanded {
        file: need.file,
        track: need.track,
        segment,
        index: real.clone(),
    })
}

#[cfg(test)]
mod tests;
