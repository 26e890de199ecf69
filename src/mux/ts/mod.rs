//! MPEG-TS segments for HLS (`m3u8-aapl`, `m3u8-aapl-v3`), per
//! ISO/IEC 13818-1 (Systems).
//!
//! Layout decisions, and why:
//! - **Self-contained segments with continuous counters.** Every segment
//!   starts with one PAT (PID 0) and one PMT ([`PMT_PID`], program 1) and
//!   nothing depends on the previous segment, so any segment can be built
//!   alone at the edge. Yet a demuxer reading segments back to back (VLC,
//!   GStreamer, ffmpeg's own HLS output) must see `continuity_counter`
//!   advance by one per payload packet on every PID across boundaries
//!   (§2.4.3.3), or it reports duplicate / lost packets. So: PAT and PMT
//!   take the segment's sequence number mod 16 (one packet each per
//!   segment), and every elementary PID starts at 0 and is made to carry a
//!   multiple of 16 payload packets per segment by spreading its last PES
//!   over up to 15 more packets (adaptation-field stuffing, §2.4.3.5, each
//!   packet keeping at least one payload byte). Segment N+1 then starts
//!   exactly where segment N's counters ended, with no discontinuity to
//!   flag, at a cost of at most 15 × 188 bytes per PID per segment.
//! - **Length known up front.** Each PES packet starts a TS packet
//!   (`payload_unit_start_indicator`) and its last TS packet is padded with
//!   adaptation-field stuffing (§2.4.3.5), never with 0xFF inside the PES;
//!   PES packets are never interleaved at packet level. A PES therefore
//!   occupies a number of packets that depends only on its length and on
//!   the size of its first adaptation field, and [`TsSegment::len`] is exact
//!   before the first byte is written, so the edge can send Content-Length
//!   and stream the body with [`TsSegment::next_chunk`].
//! - **Copies.** The builder only slices: an access unit is a list of
//!   `Bytes` pieces (start codes, AUD, parameter sets, NAL units, ADTS
//!   headers). Payload bytes are copied exactly once, into 188-byte packets,
//!   because TS interleaves a 4-byte header every 184 bytes and no slice of
//!   the source can be handed out as is. The whole segment never sits in
//!   one buffer; a chunk is at most [`DEFAULT_CHUNK_PACKETS`] packets.
//! - **Time.** Sample times (track timescale, presentation timeline) are
//!   converted with exact integer math, floored, and shifted by
//!   [`TS_TIME_OFFSET_90K`] so the DTS of leading B-frames is never negative;
//!   PTS/DTS/PCR wrap at 2^33 (§2.4.3.7). Every PES takes the PTS of its own
//!   first sample, so audio never drifts from video across segments.
//! - **PCR** rides on the video PID (the first track when there is no
//!   video), in the first packet of every PES on that PID, set to DTS −
//!   [`PCR_DELAY_90K`].
//! - **Order.** PES packets go out in DTS order (ties: track order), except
//!   that a segment's first video PES, when it is a keyframe, directly
//!   follows the PMT: a player (and an I-frame playlist byte range) can
//!   start decoding at byte 0.
//! - **Video** (H.264 0x1B, HEVC 0x24): one PES per access unit, stream_id
//!   0xE0, converted to Annex B by [`super::annexb`]; `random_access_indicator`
//!   on sync samples; `PES_packet_length` 0 when the AU exceeds 16 bits
//!   (allowed for video only, §2.4.3.7).
//! - **Audio**: consecutive frames are grouped into one PES of at most
//!   [`AUDIO_PES_MAX_DURATION_90K`] (90 ms, below the 100 ms PCR interval
//!   of §2.7.2 when audio carries the PCR), split at any gap. AAC (0x0F,
//!   stream_id 0xC0) gets ADTS headers from [`super::adts`]. AC-3 (0x81) and
//!   E-AC-3 (0x87) frames are already syncframes; like ffmpeg and ATSC A/52
//!   Annex A they use private_stream_1 (0xBD) and a registration descriptor
//!   ("AC-3" / "EAC3"). Every audio PES sets `random_access_indicator`
//!   (each frame is independently decodable), as ffmpeg does.
//!
//! One file per spec object: `packet` (the 188-byte packet and its
//! adaptation field, §2.4.3.2–5), `pes` (PES header and packet count,
//! §2.4.3.6–7), `psi` (PAT, PMT, descriptors, CRC, §2.4.4), `continuity`
//! (counters across segments, §2.4.3.3), `es` (samples into PES payloads:
//! Annex B video, ADTS / AC-3 audio) and `time` (the 90 kHz clock).

mod continuity;
mod es;
mod packet;
mod pes;
mod psi;
#[cfg(test)]
mod tests;
mod time;

use super::adts::AdtsError;
use super::annexb::NalError;
use super::MuxSample;
use crate::model::{Codec, FourCC, TrackInfo};
use bytes::{Bytes, BytesMut};
use continuity::round_continuity;
use es::track_pes;
use packet::Cursor;
use pes::{first_adaptation_len, packet_count, Pes};
use psi::{psi, validate_pids};
use std::fmt;
use std::ops::Range;

pub use time::ts_time_90k;

/// Every TS packet is 188 bytes (§2.4.3.2).
pub const TS_PACKET_LEN: usize = 188;
/// PAT + PMT at the start of every segment.
pub const PSI_LEN: u64 = 2 * TS_PACKET_LEN as u64;

/// Added to every 90 kHz time (10 s) so that decode times of frames that
/// precede the first presented frame stay positive.
pub const TS_TIME_OFFSET_90K: u64 = 900_000;
/// PCR lag behind the DTS of the PES that carries it (100 ms). In the
/// T-STD a PES's bytes arrive between its PCR and the next PCR, so the lag
/// must cover the DTS step between PCR-bearing PES packets (a video frame,
/// or one audio PES) for every access unit to be complete by its DTS.
pub const PCR_DELAY_90K: u64 = 9_000;
/// Longest stretch of audio frames grouped into one PES (90 ms).
pub const AUDIO_PES_MAX_DURATION_90K: u64 = 8_100;

/// PMT PID of the single program.
pub const PMT_PID: u16 = 0x1000;
/// Conventional PID for the video track.
pub const VIDEO_PID: u16 = 0x100;
/// Conventional PID of the first audio track (then 0x102, …).
pub const FIRST_AUDIO_PID: u16 = 0x101;
/// `program_number` of the single program, and `transport_stream_id`.
pub const PROGRAM_NUMBER: u16 = 1;

/// Packets per chunk from [`TsSegment::next_chunk`]: 348 × 188 = 65,424 bytes.
pub const DEFAULT_CHUNK_PACKETS: usize = 348;

/// Why a segment cannot be built. Every variant names the track (and
/// sample, where one is at fault) so a bad input can be found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MuxError {
    NoTracks,
    /// A PID outside 0x0010..=0x1FFE, equal to [`PMT_PID`], or used twice.
    InvalidPid {
        pid: u16,
        reason: &'static str,
    },
    /// No MPEG-TS mapping for this sample entry.
    UnsupportedCodec {
        track_id: u32,
        fourcc: FourCC,
    },
    InvalidTimescale {
        track_id: u32,
    },
    /// The time, plus [`TS_TIME_OFFSET_90K`], is negative or overflows.
    TimestampOutOfRange {
        track_id: u32,
        sample: usize,
        time: i64,
    },
    /// Samples must be in decoding order.
    DtsNotMonotonic {
        track_id: u32,
        sample: usize,
    },
    /// A picture cannot be presented before it is decoded.
    PtsBeforeDts {
        track_id: u32,
        sample: usize,
    },
    Nal {
        track_id: u32,
        sample: usize,
        source: NalError,
    },
    /// `sample` is `None` when the track's configuration is at fault.
    Adts {
        track_id: u32,
        sample: Option<usize>,
        source: AdtsError,
    },
    /// One audio frame does not fit into a PES packet.
    AudioFrameTooLarge {
        track_id: u32,
        sample: usize,
        size: usize,
    },
    /// An AC-3 / E-AC-3 sample that does not start with syncword 0x0B77.
    MissingSyncword {
        track_id: u32,
        sample: usize,
    },
    /// The PMT does not fit into one TS packet (too many tracks).
    PmtTooLarge {
        len: usize,
    },
}

impl fmt::Display for MuxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MuxError::*;
        match self {
            NoTracks => write!(f, "TS segment without tracks"),
            InvalidPid { pid, reason } => write!(f, "PID {pid:#x}: {reason}"),
            UnsupportedCodec { track_id, fourcc } => {
                write!(f, "track {track_id}: {fourcc} cannot be carried in MPEG-TS")
            }
            InvalidTimescale { track_id } => write!(f, "track {track_id}: timescale 0"),
            TimestampOutOfRange {
                track_id,
                sample,
                time,
            } => write!(
                f,
                "track {track_id} sample {sample}: time {time} out of MPEG-TS range"
            ),
            DtsNotMonotonic { track_id, sample } => {
                write!(f, "track {track_id} sample {sample}: decode time goes back")
            }
            PtsBeforeDts { track_id, sample } => {
                write!(f, "track {track_id} sample {sample}: pts before dts")
            }
            Nal {
                track_id,
                sample,
                source,
            } => {
                write!(f, "track {track_id} sample {sample}: {source}")
            }
            Adts {
                track_id,
                sample: Some(s),
                source,
            } => {
                write!(f, "track {track_id} sample {s}: {source}")
            }
            Adts {
                track_id,
                sample: None,
                source,
            } => write!(f, "track {track_id}: {source}"),
            AudioFrameTooLarge {
                track_id,
                sample,
                size,
            } => write!(
                f,
                "track {track_id} sample {sample}: audio frame of {size} bytes exceeds a PES"
            ),
            MissingSyncword { track_id, sample } => write!(
                f,
                "track {track_id} sample {sample}: AC-3 syncword 0x0B77 missing"
            ),
            PmtTooLarge { len } => write!(f, "PMT section of {len} bytes exceeds a TS packet"),
        }
    }
}

impl std::error::Error for MuxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MuxError::Nal { source, .. } => Some(source),
            MuxError::Adts { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The `stream_type` for a codec in the PMT (§2.4.4.9, Table 2-34; ATSC
/// A/52 Annex A for AC-3 0x81 and E-AC-3 0x87), or `None` if it has no
/// TS mapping here.
pub fn ts_stream_type(codec: &Codec) -> Option<u8> {
    crate::codec::Family::of_codec(codec).ts_stream_type()
}

/// One track of a segment: its description, its samples for this segment
/// in decoding order, and the PID to carry it on.
#[derive(Clone, Copy, Debug)]
pub struct TsTrack<'a> {
    pub info: &'a TrackInfo,
    pub samples: &'a [MuxSample],
    pub pid: u16,
}

/// Bytes from the start of a segment to the end of its first (key)frame
/// PES, computed from the index alone, for `EXT-X-BYTERANGE` in I-frame
/// playlists: PAT + PMT, then the keyframe PES as [`TsSegment`] lays it out
/// (PES header with PTS, plus DTS when `reordered`; first packet with PCR;
/// AUD and parameter sets inserted; 4-byte NAL lengths become 4-byte start
/// codes, so the payload keeps its size). Exact for H.264 samples without
/// in-band AUD or SPS — what ISO/IEC 14496-15 `avc1` tracks carry; if a
/// sample does carry them, the muxer skips the insertion and this range
/// runs a packet or two into the next frame, which players ignore as an
/// incomplete PES. `None` for codecs TS does not carry as video.
pub fn keyframe_prefix_len(info: &TrackInfo, sample_size: u32, reordered: bool) -> Option<u64> {
    let Codec::Avc(c) = &info.codec else {
        return None;
    };
    let params: usize = c.sps.iter().chain(&c.pps).map(|p| p.len() + 4).sum();
    let nal_growth = if c.nal_length_size == 4 { 0 } else { 4 };
    let header = if reordered { 19 } else { 14 };
    let len = header + 6 + params + nal_growth + sample_size as usize;
    Some(PSI_LEN + packet_count(len, first_adaptation_len(true, true)) * TS_PACKET_LEN as u64)
}

/// A planned MPEG-TS segment: exact length known, bytes produced on
/// demand. Owns its data (cheap `Bytes` clones), so it can be moved into
/// a streaming response.
#[derive(Clone, Debug)]
pub struct TsSegment {
    psi: [u8; 2 * TS_PACKET_LEN],
    pes: Vec<Pes>,
    len: u64,
    keyframes: Vec<Range<u64>>,
    cursor: Cursor,
}

impl TsSegment {
    /// Plans a segment from the tracks' samples. Cost is one pass over the
    /// NAL unit lengths of each video sample; no payload byte is copied.
    ///
    /// The PCR goes on the first video track, or on the first track when
    /// there is no video.
    ///
    /// `sequence` is the segment's number in its playlist: it sets the PAT
    /// and PMT continuity counters so consecutive segments continue them.
    pub fn new(tracks: &[TsTrack<'_>], sequence: u32) -> Result<Self, MuxError> {
        if tracks.is_empty() {
            return Err(MuxError::NoTracks);
        }
        validate_pids(tracks)?;
        let is_video = |t: &TsTrack<'_>| matches!(t.info.codec, Codec::Avc(_) | Codec::Hevc(_));
        let pcr_track = tracks.iter().position(is_video).unwrap_or(0);
        let psi = psi(tracks, tracks[pcr_track].pid, (sequence % 16) as u8)?;
        let mut pes = Vec::new();
        for (i, t) in tracks.iter().enumerate() {
            pes.extend(track_pes(t, i, i == pcr_track)?);
        }
        pes.sort_by_key(|p| (p.dts, p.track));
        if let Some(first_video) = pes.iter().position(|p| p.video) {
            if pes[first_video].random_access {
                pes[..=first_video].rotate_right(1);
            }
        }
        round_continuity(&mut pes, tracks.len());
        Ok(Self::assemble(psi, pes, tracks.len()))
    }

    fn assemble(psi: [u8; 2 * TS_PACKET_LEN], pes: Vec<Pes>, tracks: usize) -> Self {
        let mut offset = PSI_LEN;
        let mut keyframes = Vec::new();
        for p in &pes {
            let end = offset + p.packets * TS_PACKET_LEN as u64;
            if p.video && p.random_access {
                keyframes.push(offset..end);
            }
            offset = end;
        }
        TsSegment {
            psi,
            pes,
            len: offset,
            keyframes,
            cursor: Cursor::new(tracks),
        }
    }

    /// Exact length in bytes (for Content-Length).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Never true: a segment holds at least PAT and PMT.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn packet_count(&self) -> u64 {
        self.len / TS_PACKET_LEN as u64
    }

    /// Bytes not yet returned by [`TsSegment::next_chunk`].
    pub fn remaining(&self) -> u64 {
        self.len - self.cursor.packets * TS_PACKET_LEN as u64
    }

    /// Byte range of each video keyframe's PES (whole packets), for
    /// `EXT-X-BYTERANGE` in I-frame playlists. PAT/PMT are `0..PSI_LEN`;
    /// when the segment starts with a keyframe, its range starts at
    /// [`PSI_LEN`], so `0..end` is a self-contained range.
    pub fn keyframe_ranges(&self) -> &[Range<u64>] {
        &self.keyframes
    }

    /// The next ≤ 64 KB of the segment, or `None` at the end.
    pub fn next_chunk(&mut self) -> Option<Bytes> {
        self.next_chunk_max(DEFAULT_CHUNK_PACKETS)
    }

    /// The next chunk of at most `max_packets` packets (at least one).
    pub fn next_chunk_max(&mut self, max_packets: usize) -> Option<Bytes> {
        let left = self.remaining() / TS_PACKET_LEN as u64;
        let n = (max_packets.max(1) as u64).min(left);
        if n == 0 {
            return None;
        }
        let mut buf = BytesMut::with_capacity(n as usize * TS_PACKET_LEN);
        let mut cursor = std::mem::replace(&mut self.cursor, Cursor::new(0));
        for _ in 0..n {
            self.write_packet(&mut cursor, &mut buf);
        }
        self.cursor = cursor;
        Some(buf.freeze())
    }

    /// The whole segment in one buffer, independent of the streaming
    /// position. For tests and small outputs; the edge should stream.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len as usize);
        let mut cursor = Cursor::new(self.cursor.cc.len());
        while self.write_packet(&mut cursor, &mut out) {}
        out
    }
}

impl Iterator for TsSegment {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        self.next_chunk()
    }
}
