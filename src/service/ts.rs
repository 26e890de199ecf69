//! The MPEG-TS formats (`m3u8-aapl`, `m3u8-aapl-v3`), clear or with
//! `encryption=cbc`. Unlike CMAF, TS rewrites the payload (Annex B, ADTS,
//! 188-byte packets), so the samples are read first and the segment is
//! built from them. A [`TsJob`] lists the reads; [`TsJob::build`] turns the
//! bytes into a [`TsBody`] whose length is known before streaming.
//!
//! `encryption=cbc` is HLS `METHOD=AES-128` (RFC 8216 §4.3.2.4): the whole
//! segment encrypted with AES-128-CBC and PKCS#7 padding (RFC 5652 §6.3),
//! under the asset's content key, with the IV the playlist announces — the
//! segment's number on the track's timeline, which is its Media Sequence
//! Number or an explicit `IV` ([`hls::media_playlist_with`]).

use super::{carry, check_manifest_work, find_track, text, Output, ServeError, CBC, CT_HLS};
use crate::crypto::{self, CbcStream, ContentKey, KeySetting};
use crate::manifest::hls;
use crate::media_set::{MediaSet, SetTrack};
use crate::model::{TrackInfo, TrackKind};
use crate::mux::cmaf::ByteRun;
use crate::mux::ts::{TsSegment, TsTrack, FIRST_AUDIO_PID, VIDEO_PID};
use crate::mux::MuxSample;
use crate::plan;
use crate::source::{ReadRequest, ReadResponse, SourceError};
use crate::url::{Format, Resource, StreamRequest, TrackRef};
use bytes::Bytes;
use std::fmt;

/// Why a fragment-level track (a long fragmented title indexed from its
/// `sidx`/`mfra`, [`crate::mp4::fragtable`]) has no I-frame playlist.
pub const IFRAMES_FRAGMENT_LEVEL: &str = "I-frame playlists: not offered for a fragmented title indexed per fragment (its keyframes' byte ranges are in moofs not read for the manifest)";

/// Why an encrypted title's multivariant playlist lists no I-frame
/// playlist (the `Edgepack-Omitted` header).
pub const IFRAMES_OMITTED: &str = "I-frame playlists: not offered with encryption=cbc (an I-frame byte range ends inside an AES-128 segment, short of its padding)";

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
    /// A sync sample's own description's parameter sets, when the track
    /// has several ([`crate::index::TrackIndex::param_prefix`]): the
    /// Annex B conversion then sends them and not the first
    /// description's ([`crate::mux::annexb::AnnexBConfig::convert`] keeps
    /// an access unit's own SPS).
    lead: Option<Bytes>,
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
    /// Segment number: the PAT/PMT continuity counters continue from it,
    /// and an encrypted segment's IV is made from it.
    sequence: u32,
    /// The content key, when the segment is to be encrypted.
    key: Option<ContentKey>,
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
            let Some(seg) = timeline.track_segment(set.track_index(t), n)? else {
                continue;
            };
            let (idx, seg) = super::segment_source(set, t, &seg)?;
            let shift = idx.info.presentation_offset;
            let pid = if idx.is_video() {
                VIDEO_PID
            } else {
                audio_pid += 1;
                audio_pid - 1
            };
            let mut samples = Vec::with_capacity((seg.samples.end - seg.samples.start) as usize);
            for (i, s) in (seg.samples.start..).zip(idx.samples(seg.samples.clone())?) {
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
                    lead: idx.param_prefix(i, s.sync),
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
        Ok((!parts.is_empty()).then_some(TsJob {
            parts,
            sequence: n,
            key: None,
        }))
    }

    /// The same segment, encrypted with `key` (AES-128-CBC, IV from the
    /// segment number, RFC 8216 §5.2).
    pub fn encrypted(mut self, key: ContentKey) -> TsJob {
        self.key = Some(key);
        self
    }

    /// The segment's number on its track's timeline.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// The origin reads that fetch every sample: planned per file, at most
    /// `limits.max_reads` in all. Tracks of one file (video and the audio
    /// muxed into it, `m3u8-aapl-v3`) are planned together: their samples
    /// interleave, so per track the cost model would read the same span
    /// twice.
    pub fn reads(&self, limits: plan::ReadLimits) -> Vec<ReadRequest> {
        let mut files: Vec<(&str, &str, Vec<ByteRun>)> = Vec::new();
        for p in &self.parts {
            let runs = p.samples.iter().map(|s| s.run);
            match files.iter_mut().find(|f| f.0 == p.path) {
                Some(f) => f.2.extend(runs),
                None => files.push((&p.path, &p.etag, runs.collect())),
            }
        }
        let per_file = plan::ReadLimits {
            max_reads: (limits.max_reads / files.len().max(1)).max(1),
            ..limits
        };
        let mut out = Vec::new();
        for (path, etag, runs) in files {
            let plan = plan::plan_reads(&runs, per_file);
            out.extend(crate::source::payload_reads(path, etag, &plan));
        }
        out
    }

    /// Builds the segment from the responses to [`TsJob::reads`] (same
    /// order). Sample payloads are slices of the responses.
    pub fn build(
        &self,
        reqs: &[ReadRequest],
        responses: Vec<ReadResponse>,
    ) -> Result<TsBody, ServeError> {
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
                        data: match &s.lead {
                            // A sync sample with its parameter sets: one
                            // copy of it (the muxer splits it into NAL
                            // units either way).
                            Some(lead) => {
                                let mut v = Vec::with_capacity(lead.len() + data.len());
                                v.extend_from_slice(lead);
                                v.extend_from_slice(&data);
                                Bytes::from(v)
                            }
                            None => data,
                        },
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
        let segment =
            TsSegment::new(&tracks, self.sequence).map_err(|e| ServeError::Media(e.to_string()))?;
        Ok(match &self.key {
            None => TsBody::clear(segment),
            Some(key) => TsBody::encrypted(
                segment,
                key.clone(),
                crypto::sequence_iv(u64::from(self.sequence)),
            ),
        })
    }
}

/// A built TS segment as it is sent: clear, or encrypted whole with
/// AES-128-CBC (RFC 8216 §4.3.2.4). Either way the length is exact before
/// the first byte ([`crypto::padded_len`] of the segment's) and the bytes
/// are produced chunk by chunk as the muxer writes them, so a Range is
/// served by producing the body up to its end.
#[derive(Clone)]
pub struct TsBody {
    segment: TsSegment,
    /// Key and IV, kept to start over in [`TsBody::to_vec`].
    cipher: Option<(ContentKey, [u8; crypto::BLOCK])>,
    /// The encryption in progress; `None` once its last block is out.
    stream: Option<CbcStream>,
}

/// Shows the key id only.
impl fmt::Debug for TsBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsBody")
            .field("len", &self.len())
            .field("key", &self.cipher.as_ref().map(|(k, _)| k))
            .finish()
    }
}

impl TsBody {
    pub fn clear(segment: TsSegment) -> TsBody {
        TsBody {
            segment,
            cipher: None,
            stream: None,
        }
    }

    pub fn encrypted(segment: TsSegment, key: ContentKey, iv: [u8; crypto::BLOCK]) -> TsBody {
        TsBody {
            stream: Some(CbcStream::new(&key.key, &iv)),
            cipher: Some((key, iv)),
            segment,
        }
    }

    /// Exact length in bytes (for Content-Length).
    pub fn len(&self) -> u64 {
        match self.cipher {
            None => self.segment.len(),
            Some(_) => crypto::padded_len(self.segment.len()),
        }
    }

    /// Never true: a segment holds at least PAT and PMT.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The clear segment (its layout: keyframe ranges, packet count).
    pub fn segment(&self) -> &TsSegment {
        &self.segment
    }

    /// The key id, when encrypted: it names the key in the segment's ETag.
    pub fn key_id(&self) -> Option<String> {
        self.cipher.as_ref().map(|(k, _)| k.kid_hex())
    }

    /// The next chunk of the body (≤ 64 KB + a block), or `None` at the
    /// end.
    pub fn next_chunk(&mut self) -> Option<Bytes> {
        if self.cipher.is_none() {
            return self.segment.next_chunk();
        }
        loop {
            match self.segment.next_chunk() {
                Some(plain) => {
                    let stream = self.stream.as_mut()?;
                    let ct = stream.update(&plain);
                    if !ct.is_empty() {
                        return Some(ct);
                    }
                }
                None => return self.stream.take().map(CbcStream::finish),
            }
        }
    }

    /// The whole body in one buffer, independent of the streaming
    /// position. For tests and small outputs; the edge streams.
    pub fn to_vec(&self) -> Vec<u8> {
        let plain = self.segment.to_vec();
        match &self.cipher {
            None => plain,
            Some((key, iv)) => {
                let mut s = CbcStream::new(&key.key, iv);
                let mut out = s.update(&plain).to_vec();
                out.extend_from_slice(&s.finish());
                out
            }
        }
    }
}

impl Iterator for TsBody {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        self.next_chunk()
    }
}

/// The MPEG-TS formats: multivariant and media playlists, I-frame
/// playlists (clear titles only), and segments as [`Output::Ts`] jobs
/// that still need their samples read; encrypted with the asset's key
/// under `encryption=cbc`, which `keys` must then provide.
/// The tracks a TS segment of `t` muxes: `t`, and for a v3 video variant
/// the default (first) audio track.
pub(super) fn segment_tracks<'a>(
    set: &'a MediaSet,
    t: &'a SetTrack,
    format: Format,
) -> Vec<&'a SetTrack> {
    let mut tracks = vec![t];
    if format == Format::HlsTsV3 && set.track_index(t).is_video() {
        if let Some(a) = set
            .of_kind(TrackKind::Audio)
            .find(|a| hls::ts_capable(&set.track_index(a).info))
        {
            tracks.push(a);
        }
    }
    tracks
}

pub(super) fn serve(
    set: &MediaSet,
    req: &StreamRequest,
    keys: &KeySetting,
    located: Option<super::Located>,
) -> Result<Output, ServeError> {
    let format = req.options.format;
    let encryption = req.options.encryption.as_deref();
    if encryption.is_some_and(|e| e != CBC) {
        return Err(ServeError::NotImplemented(
            "only encryption=cbc is built for MPEG-TS".into(),
        ));
    }
    // A key per track type (CPIX usage rules): each media playlist of
    // `m3u8-aapl` is one track, so its segments take that track's key and
    // its key URL names it. `m3u8-aapl-v3` muxes audio into the video
    // segments, one AES-128 ciphertext (RFC 8216 §4.3.2.4) that cannot
    // carry two keys: refused.
    let multi = match encryption {
        Some(_) => keys.source().ok().filter(|s| s.multi_key()),
        None => None,
    };
    if multi.is_some() && format == Format::HlsTsV3 {
        return Err(ServeError::NotImplemented(
            "encryption=cbc with a key per track type (CPIX usage rules) needs format=m3u8-aapl: m3u8-aapl-v3 muxes audio and video under one key".into(),
        ));
    }
    let track_key = |t: &SetTrack| -> Result<Option<ContentKey>, ServeError> {
        match multi {
            Some(source) => {
                super::track_keys::of_track(source, &req.asset, set, t).map(|(k, _)| Some(k))
            }
            None => Ok(None),
        }
    };
    let find = |r: &TrackRef| -> Result<&SetTrack, ServeError> {
        let t = find_track(set, r)?;
        carry::TS
            .track(&set.track_index(t).info)
            .map_err(ServeError::NotImplemented)?;
        Ok(t)
    };
    match &req.resource {
        Resource::Manifest => {
            // A title whose video (or audio) TS cannot carry is refused
            // rather than silently served without it.
            carry::TS.title(set).map_err(ServeError::NotImplemented)?;
            check_manifest_work(set, &set.tracks)?;
            let audio_only = req.options.audio_only == Some(true);
            let mut omitted = carry::TS.omitted(set);
            let has_iframes =
                format == Format::HlsTs && set.of_kind(TrackKind::Video).next().is_some();
            if has_iframes
                && set
                    .of_kind(TrackKind::Video)
                    .any(|v| set.track_index(v).fragment_level)
            {
                omitted.push(IFRAMES_FRAGMENT_LEVEL.to_string());
            }
            if encryption.is_some() && has_iframes {
                omitted.push(IFRAMES_OMITTED.to_string());
            }
            let body = match multi {
                Some(source) => {
                    let keys = super::track_keys::of_set(source, &req.asset, set)?;
                    hls::multivariant_protected(
                        set,
                        format,
                        audio_only,
                        encryption,
                        &[],
                        Some(&keys),
                    )?
                }
                None => hls::multivariant_encrypted(set, format, audio_only, encryption)?,
            };
            text(CT_HLS, body, omitted)
        }
        Resource::MediaPlaylist { track, keyframes } => {
            let t = find(track)?;
            check_manifest_work(set, std::slice::from_ref(t))?;
            let body = match (*keyframes, format) {
                (false, _) => match track_key(t)? {
                    Some(k) => hls::media_playlist_protected(
                        set,
                        t,
                        format,
                        encryption,
                        &[],
                        Some(&k.kid),
                    )?,
                    None => hls::media_playlist_with(set, t, format, encryption)?,
                },
                (true, _) if encryption.is_some() => {
                    return Err(ServeError::NotImplemented(IFRAMES_OMITTED.into()))
                }
                (true, Format::HlsTs) if set.track_index(t).fragment_level => {
                    return Err(ServeError::NotImplemented(IFRAMES_FRAGMENT_LEVEL.into()))
                }
                (true, Format::HlsTs) if set.track_index(t).is_video() => {
                    hls::iframe_playlist(set, t)?
                }
                (true, _) => {
                    return Err(ServeError::BadRequest(
                        "type=keyframes needs a video track and format=m3u8-aapl".into(),
                    ))
                }
            };
            text(CT_HLS, body, Vec::new())
        }
        Resource::Init { .. } => Err(ServeError::NotFound(
            "MPEG-TS segments have no init segment".into(),
        )),
        Resource::Key => super::key_output(req, keys),
        Resource::Licence => Err(ServeError::Media(
            "licences are answered without the media".into(),
        )),
        Resource::Fragment { track, time } => {
            let t = find(track)?;
            let (n, _) = super::segment_of(set, t, *time, located)?;
            let tracks = segment_tracks(set, t, format);
            let job = TsJob::new(set, &tracks, n)?.ok_or_else(|| {
                ServeError::NotFound(format!("no segment of {} at time {time}", t.name))
            })?;
            // Fails closed: an encrypted segment without a key is an
            // error, never the clear segment.
            let job = match (encryption, track_key(t)?) {
                (Some(_), Some(key)) => job.encrypted(key),
                (Some(_), None) => {
                    job.encrypted(super::key_source(keys, CBC)?.content_key(&req.asset))
                }
                (None, _) => job,
            };
            Ok(Output::Ts(job))
        }
    }
}
