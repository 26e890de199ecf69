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

use super::adts::{AdtsError, AdtsHeader, ADTS_HEADER_LEN};
use super::annexb::{AnnexBConfig, NalError};
use super::MuxSample;
use crate::model::{Codec, FourCC, TrackInfo};
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;
use std::ops::Range;

/// Every TS packet is 188 bytes (§2.4.3.2).
pub const TS_PACKET_LEN: usize = 188;
/// Payload room after the 4-byte packet header.
const TS_PAYLOAD_LEN: usize = TS_PACKET_LEN - 4;
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

const PTS_MASK: u64 = (1 << 33) - 1;
const PES_HEADER_MAX: usize = 19;
/// Largest audio PES payload: `PES_packet_length` (16 bits) also counts
/// the 3 flag bytes and the 5-byte PTS.
const AUDIO_PES_MAX_PAYLOAD: usize = 0xFFFF - 8;

const STREAM_ID_VIDEO: u8 = 0xE0;
const STREAM_ID_AUDIO: u8 = 0xC0;
const STREAM_ID_PRIVATE_1: u8 = 0xBD;

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
    match codec {
        Codec::Avc(_) => Some(0x1B),
        Codec::Hevc(_) => Some(0x24),
        Codec::Aac(_) => Some(0x0F),
        Codec::Ac3(_) => Some(0x81),
        Codec::Ec3(_) => Some(0x87),
        Codec::Other => None,
    }
}

/// Converts a track time to the 90 kHz TS clock, floored, plus
/// [`TS_TIME_OFFSET_90K`], before the 2^33 wrap. `None` if negative.
///
/// WebVTT sidecars for TS renditions map `LOCAL:00:00:00.000` to
/// `MPEGTS:` this value of time 0, i.e. [`TS_TIME_OFFSET_90K`].
pub fn ts_time_90k(time: i64, timescale: u32) -> Option<u64> {
    if timescale == 0 {
        return None;
    }
    let scaled = (i128::from(time) * 90_000).div_euclid(i128::from(timescale));
    u64::try_from(scaled + i128::from(TS_TIME_OFFSET_90K)).ok()
}

/// One track of a segment: its description, its samples for this segment
/// in decoding order, and the PID to carry it on.
#[derive(Clone, Copy, Debug)]
pub struct TsTrack<'a> {
    pub info: &'a TrackInfo,
    pub samples: &'a [MuxSample],
    pub pid: u16,
}

/// One PES packet, ready to packetize: header bytes plus payload pieces.
#[derive(Clone, Debug)]
struct Pes {
    pid: u16,
    /// Index of the track (continuity counter slot).
    track: usize,
    header: [u8; PES_HEADER_MAX],
    header_len: usize,
    pieces: Vec<Bytes>,
    /// Header plus payload bytes.
    len: usize,
    /// PCR base (unwrapped) for the first packet.
    pcr: Option<u64>,
    random_access: bool,
    video: bool,
    /// Decode time (unwrapped 90 kHz), for ordering.
    dts: u64,
    packets: u64,
}

/// What every PES of one track shares.
#[derive(Clone, Copy, Debug)]
struct PesTrack {
    pid: u16,
    /// Index of the track (continuity counter slot).
    index: usize,
    stream_id: u8,
    /// This track carries the program's PCR.
    pcr: bool,
    video: bool,
}

impl Pes {
    fn new(t: PesTrack, pts: u64, dts: u64, pieces: Vec<Bytes>, random_access: bool) -> Pes {
        let payload_len: usize = pieces.iter().map(Bytes::len).sum();
        let dts_field = (dts != pts).then_some(dts);
        let (header, header_len) = pes_header(t.stream_id, pts, dts_field, payload_len);
        let pcr = t.pcr.then(|| dts.saturating_sub(PCR_DELAY_90K));
        let len = header_len + payload_len;
        let af = first_adaptation_len(pcr.is_some(), random_access);
        Pes {
            pid: t.pid,
            track: t.index,
            header,
            header_len,
            pieces,
            len,
            pcr,
            random_access,
            video: t.video,
            dts,
            packets: packet_count(len, af),
        }
    }

    fn first_adaptation_len(&self) -> usize {
        first_adaptation_len(self.pcr.is_some(), self.random_access)
    }
}

/// Bytes of the first packet's adaptation field before stuffing:
/// length + flags, plus 6 for a PCR (§2.4.3.4).
fn first_adaptation_len(pcr: bool, random_access: bool) -> usize {
    match (pcr, random_access) {
        (true, _) => 8,
        (false, true) => 2,
        (false, false) => 0,
    }
}

/// TS packets for a PES of `len` bytes whose first packet carries `af`
/// bytes of adaptation field; the last packet is stuffed, so this is
/// exact.
fn packet_count(len: usize, af: usize) -> u64 {
    let first = TS_PAYLOAD_LEN - af;
    let rest = len.saturating_sub(first).div_ceil(TS_PAYLOAD_LEN);
    1 + rest as u64
}

/// Makes every track's payload packet count a multiple of 16, so its
/// continuity counter ends each segment where the next segment (which
/// starts at 0) picks it up (§2.4.3.3). The missing packets are added to the
/// track's last PES packets, newest first, each PES taking at most one
/// extra packet per spare payload byte (a packet with payload must carry
/// at least one byte, and the first keeps the whole PES header). The segment's leading keyframe PES is left alone so
/// its byte range (I-frame playlists) stays what the index predicts. If a
/// track has too few bytes to spread (a handful of tiny PES), its counter
/// simply runs on from where it ends; that is only possible for
/// degenerate inputs.
fn round_continuity(pes: &mut [Pes], tracks: usize) {
    for track in 0..tracks {
        let total: u64 = pes
            .iter()
            .filter(|p| p.track == track)
            .map(|p| p.packets)
            .sum();
        let mut missing = (16 - total % 16) % 16;
        for (i, p) in pes.iter_mut().enumerate().rev() {
            if missing == 0 {
                break;
            }
            if p.track != track || (i == 0 && p.video && p.random_access) {
                continue;
            }
            let spare = (p.len as u64).saturating_sub(p.packets + p.header_len as u64);
            let add = spare.min(missing);
            p.packets += add;
            missing -= add;
        }
    }
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

/// A 5-byte PTS or DTS field (§2.4.3.7): 4-bit prefix, then the 33-bit
/// value as 3 + 15 + 15 bits, each group followed by a marker bit.
fn timestamp_field(prefix: u8, ts: u64) -> [u8; 5] {
    let ts = ts & PTS_MASK;
    [
        (prefix << 4) | (((ts >> 30) as u8 & 0x07) << 1) | 1,
        (ts >> 22) as u8,
        (((ts >> 15) as u8 & 0x7F) << 1) | 1,
        (ts >> 7) as u8,
        ((ts as u8 & 0x7F) << 1) | 1,
    ]
}

/// `program_clock_reference` (§2.4.3.5): 33-bit base, 6 reserved bits,
/// 9-bit extension (0: PCR is on 90 kHz boundaries).
fn pcr_field(base: u64) -> [u8; 6] {
    let b = base & PTS_MASK;
    [
        (b >> 25) as u8,
        (b >> 17) as u8,
        (b >> 9) as u8,
        (b >> 1) as u8,
        ((b as u8 & 1) << 7) | 0x7E,
        0,
    ]
}

/// PES header (§2.4.3.6): start code prefix, stream_id, PES_packet_length,
/// '10' + data_alignment_indicator (every PES starts with an AUD or a
/// syncword), PTS_DTS_flags, header length, PTS [, DTS].
fn pes_header(
    stream_id: u8,
    pts: u64,
    dts: Option<u64>,
    payload_len: usize,
) -> ([u8; PES_HEADER_MAX], usize) {
    let mut h = [0u8; PES_HEADER_MAX];
    let data_len = if dts.is_some() { 10 } else { 5 };
    // 0 = unbounded, legal only for video; audio PES are sized to fit.
    let packet_len = u16::try_from(3 + data_len + payload_len).unwrap_or(0);
    h[..4].copy_from_slice(&[0, 0, 1, stream_id]);
    h[4..6].copy_from_slice(&packet_len.to_be_bytes());
    h[6] = 0x84;
    h[8] = data_len as u8;
    match dts {
        None => {
            h[7] = 0x80;
            h[9..14].copy_from_slice(&timestamp_field(0b0010, pts));
        }
        Some(dts) => {
            h[7] = 0xC0;
            h[9..14].copy_from_slice(&timestamp_field(0b0011, pts));
            h[14..19].copy_from_slice(&timestamp_field(0b0001, dts));
        }
    }
    (h, 9 + data_len)
}

/// MPEG-2 CRC-32 of PSI sections (§2.4.4, Annex A): polynomial 0x04C11DB7,
/// initial value all ones, no reflection, no final XOR.
fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A long-form PSI section: header (section_syntax_indicator 1, version 0,
/// current_next 1, section 0 of 0), `body`, CRC-32.
fn psi_section(table_id: u8, id: u16, body: &[u8]) -> Vec<u8> {
    let section_length = 5 + body.len() + 4;
    let mut s = Vec::with_capacity(3 + section_length);
    s.push(table_id);
    s.push(0xB0 | ((section_length >> 8) as u8 & 0x0F));
    s.push(section_length as u8);
    s.extend_from_slice(&id.to_be_bytes());
    s.extend_from_slice(&[0xC1, 0x00, 0x00]);
    s.extend_from_slice(body);
    let crc = crc32_mpeg2(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

/// One TS packet holding a whole PSI section: pointer_field 0, then 0xFF
/// filler after the section (§2.4.4.1 allows stuffing bytes there).
fn psi_packet(pid: u16, section: &[u8], cc: u8) -> Result<[u8; TS_PACKET_LEN], MuxError> {
    if section.len() > TS_PAYLOAD_LEN - 1 {
        return Err(MuxError::PmtTooLarge { len: section.len() });
    }
    let mut p = [0xFFu8; TS_PACKET_LEN];
    p[..5].copy_from_slice(&[
        0x47,
        0x40 | (pid >> 8) as u8,
        pid as u8,
        0x10 | (cc & 0x0F),
        0x00,
    ]);
    p[5..5 + section.len()].copy_from_slice(section);
    Ok(p)
}

/// PAT (§2.4.4.3) and PMT (§2.4.4.8) packets, with continuity counter `cc`.
fn psi(tracks: &[TsTrack<'_>], pcr_pid: u16, cc: u8) -> Result<[u8; 2 * TS_PACKET_LEN], MuxError> {
    let mut pat = Vec::new();
    pat.extend_from_slice(&PROGRAM_NUMBER.to_be_bytes());
    pat.extend_from_slice(&(0xE000 | PMT_PID).to_be_bytes());

    let mut pmt = Vec::new();
    pmt.extend_from_slice(&(0xE000 | pcr_pid).to_be_bytes());
    pmt.extend_from_slice(&[0xF0, 0x00]); // no program descriptors
    for t in tracks {
        let stream_type = ts_stream_type(&t.info.codec).ok_or(MuxError::UnsupportedCodec {
            track_id: t.info.track_id,
            fourcc: t.info.fourcc,
        })?;
        let descriptors = es_descriptors(t.info);
        pmt.push(stream_type);
        pmt.extend_from_slice(&(0xE000 | t.pid).to_be_bytes());
        pmt.extend_from_slice(&(0xF000 | descriptors.len() as u16).to_be_bytes());
        pmt.extend_from_slice(&descriptors);
    }
    let mut out = [0u8; 2 * TS_PACKET_LEN];
    out[..TS_PACKET_LEN].copy_from_slice(&psi_packet(
        0,
        &psi_section(0x00, PROGRAM_NUMBER, &pat),
        cc,
    )?);
    out[TS_PACKET_LEN..].copy_from_slice(&psi_packet(
        PMT_PID,
        &psi_section(0x02, PROGRAM_NUMBER, &pmt),
        cc,
    )?);
    Ok(out)
}

/// ES descriptors: registration_descriptor (§2.6.8) for the formats ffmpeg
/// registers (AC-3, E-AC-3, HEVC) and ISO_639_language_descriptor
/// (§2.6.18) for audio with a known language.
fn es_descriptors(info: &TrackInfo) -> Vec<u8> {
    let mut d = Vec::new();
    let registration: Option<&[u8; 4]> = match info.codec {
        Codec::Ac3(_) => Some(b"AC-3"),
        Codec::Ec3(_) => Some(b"EAC3"),
        Codec::Hevc(_) => Some(b"HEVC"),
        _ => None,
    };
    if let Some(id) = registration {
        d.extend_from_slice(&[0x05, 4]);
        d.extend_from_slice(id);
    }
    let lang = info.language.as_bytes();
    let is_audio = matches!(info.codec, Codec::Aac(_) | Codec::Ac3(_) | Codec::Ec3(_));
    if is_audio && lang.len() == 3 && lang.iter().all(u8::is_ascii_lowercase) && lang != b"und" {
        d.extend_from_slice(&[0x0A, 4, lang[0], lang[1], lang[2], 0]);
    }
    d
}

fn validate_pids(tracks: &[TsTrack<'_>]) -> Result<(), MuxError> {
    for (i, t) in tracks.iter().enumerate() {
        let reason = if !(0x0010..=0x1FFE).contains(&t.pid) {
            "reserved or out of range"
        } else if t.pid == PMT_PID {
            "used by the PMT"
        } else if tracks[..i].iter().any(|o| o.pid == t.pid) {
            "used by two tracks"
        } else {
            continue;
        };
        return Err(MuxError::InvalidPid { pid: t.pid, reason });
    }
    Ok(())
}

/// Converts one track's times, checking decode order.
struct Clock<'a> {
    track: &'a TsTrack<'a>,
}

impl Clock<'_> {
    fn at(&self, time: i64, sample: usize) -> Result<u64, MuxError> {
        ts_time_90k(time, self.track.info.timescale).ok_or(MuxError::TimestampOutOfRange {
            track_id: self.track.info.track_id,
            sample,
            time,
        })
    }

    fn check_order(&self, prev: Option<i64>, time: i64, sample: usize) -> Result<(), MuxError> {
        match prev {
            Some(p) if time < p => Err(MuxError::DtsNotMonotonic {
                track_id: self.track.info.track_id,
                sample,
            }),
            _ => Ok(()),
        }
    }
}

/// One PES per access unit.
fn video_pes(t: &TsTrack<'_>, pt: PesTrack, cfg: &AnnexBConfig) -> Result<Vec<Pes>, MuxError> {
    let clock = Clock { track: t };
    let track_id = t.info.track_id;
    let mut out = Vec::with_capacity(t.samples.len());
    let mut prev = None;
    for (i, s) in t.samples.iter().enumerate() {
        clock.check_order(prev, s.dts, i)?;
        prev = Some(s.dts);
        if s.pts < s.dts {
            return Err(MuxError::PtsBeforeDts {
                track_id,
                sample: i,
            });
        }
        let (dts, pts) = (clock.at(s.dts, i)?, clock.at(s.pts, i)?);
        let mut pieces = Vec::new();
        cfg.convert(&s.data, s.sync, &mut pieces)
            .map_err(|source| MuxError::Nal {
                track_id,
                sample: i,
                source,
            })?;
        out.push(Pes::new(pt, pts, dts, pieces, s.sync));
    }
    Ok(out)
}

enum AudioFraming {
    Adts(AdtsHeader),
    /// AC-3 / E-AC-3: samples are syncframes already.
    Syncframe,
}

/// Frames grouped into PES packets of at most 90 ms, each PES stamped with
/// the PTS of its own first frame.
fn audio_pes(t: &TsTrack<'_>, pt: PesTrack, framing: AudioFraming) -> Result<Vec<Pes>, MuxError> {
    let clock = Clock { track: t };
    let headers = audio_frame_headers(t, &clock, &framing)?;
    let overhead = match framing {
        AudioFraming::Adts(_) => ADTS_HEADER_LEN,
        AudioFraming::Syncframe => 0,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.samples.len() {
        let start = clock.at(t.samples[i].pts, i)?;
        let end = pes_group_end(t, &clock, i, start, overhead)?;
        let mut pieces = Vec::with_capacity(2 * (end - i));
        for (k, s) in t.samples.iter().enumerate().take(end).skip(i) {
            if overhead > 0 {
                pieces.push(headers.slice(k * overhead..(k + 1) * overhead));
            }
            pieces.push(s.data.clone());
        }
        out.push(Pes::new(pt, start, start, pieces, true));
        i = end;
    }
    Ok(out)
}

/// Checks every frame and returns the ADTS headers of all frames in one
/// buffer (one allocation per track, sliced per frame); empty for AC-3.
fn audio_frame_headers(
    t: &TsTrack<'_>,
    clock: &Clock<'_>,
    framing: &AudioFraming,
) -> Result<Bytes, MuxError> {
    let track_id = t.info.track_id;
    let capacity = match framing {
        AudioFraming::Adts(_) => ADTS_HEADER_LEN * t.samples.len(),
        AudioFraming::Syncframe => 0,
    };
    let mut headers = BytesMut::with_capacity(capacity);
    let mut prev = None;
    for (i, s) in t.samples.iter().enumerate() {
        clock.check_order(prev, s.pts, i)?;
        prev = Some(s.pts);
        if s.data.len() + ADTS_HEADER_LEN > AUDIO_PES_MAX_PAYLOAD {
            return Err(MuxError::AudioFrameTooLarge {
                track_id,
                sample: i,
                size: s.data.len(),
            });
        }
        match framing {
            AudioFraming::Adts(h) => {
                let header = h.encode(s.data.len()).map_err(|source| MuxError::Adts {
                    track_id,
                    sample: Some(i),
                    source,
                })?;
                headers.put_slice(&header);
            }
            AudioFraming::Syncframe if !s.data.starts_with(&[0x0B, 0x77]) => {
                return Err(MuxError::MissingSyncword {
                    track_id,
                    sample: i,
                });
            }
            AudioFraming::Syncframe => {}
        }
    }
    Ok(headers.freeze())
}

/// One past the last frame of the PES that starts at frame `first` (at
/// `start` on the 90 kHz clock). A PES ends before a frame that would make
/// it span more than [`AUDIO_PES_MAX_DURATION_90K`] or overflow
/// `PES_packet_length`, and at any gap, because the decoder derives the
/// times of later frames in a PES from the first one.
fn pes_group_end(
    t: &TsTrack<'_>,
    clock: &Clock<'_>,
    first: usize,
    start: u64,
    overhead: usize,
) -> Result<usize, MuxError> {
    let frame_end = |k: usize, s: &MuxSample| {
        s.pts
            .checked_add(i64::from(s.duration))
            .ok_or(MuxError::TimestampOutOfRange {
                track_id: t.info.track_id,
                sample: k,
                time: s.pts,
            })
    };
    let mut bytes = overhead + t.samples[first].data.len();
    let mut prev_end = frame_end(first, &t.samples[first])?;
    for (k, s) in t.samples.iter().enumerate().skip(first + 1) {
        let end = frame_end(k, s)?;
        let span = clock.at(end, k)?.saturating_sub(start);
        bytes += overhead + s.data.len();
        if s.pts != prev_end || span > AUDIO_PES_MAX_DURATION_90K || bytes > AUDIO_PES_MAX_PAYLOAD {
            return Ok(k);
        }
        prev_end = end;
    }
    Ok(t.samples.len())
}

fn track_pes(t: &TsTrack<'_>, index: usize, pcr: bool) -> Result<Vec<Pes>, MuxError> {
    let track_id = t.info.track_id;
    if t.info.timescale == 0 {
        return Err(MuxError::InvalidTimescale { track_id });
    }
    let unsupported = MuxError::UnsupportedCodec {
        track_id,
        fourcc: t.info.fourcc,
    };
    let pes_track = |stream_id, video| PesTrack {
        pid: t.pid,
        index,
        stream_id,
        pcr,
        video,
    };
    match &t.info.codec {
        Codec::Avc(_) | Codec::Hevc(_) => {
            let cfg = AnnexBConfig::from_codec(&t.info.codec).ok_or(unsupported)?;
            video_pes(t, pes_track(STREAM_ID_VIDEO, true), &cfg)
        }
        Codec::Aac(cfg) => {
            let h = AdtsHeader::from_config(cfg).map_err(|source| MuxError::Adts {
                track_id,
                sample: None,
                source,
            })?;
            audio_pes(t, pes_track(STREAM_ID_AUDIO, false), AudioFraming::Adts(h))
        }
        Codec::Ac3(_) | Codec::Ec3(_) => audio_pes(
            t,
            pes_track(STREAM_ID_PRIVATE_1, false),
            AudioFraming::Syncframe,
        ),
        Codec::Other => Err(unsupported),
    }
}

/// Where the packetizer is: packets emitted so far and, inside the
/// current PES, the packet index and the payload read position.
#[derive(Clone, Debug)]
struct Cursor {
    packets: u64,
    pes: usize,
    pes_packet: u64,
    written: usize,
    /// 0 is the PES header, `n` is `pieces[n - 1]`.
    piece: usize,
    offset: usize,
    cc: Vec<u8>,
}

impl Cursor {
    fn new(tracks: usize) -> Self {
        Cursor {
            packets: 0,
            pes: 0,
            pes_packet: 0,
            written: 0,
            piece: 0,
            offset: 0,
            cc: vec![0; tracks],
        }
    }
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

    /// Writes the packet at `cur`; false when the segment is complete.
    fn write_packet<B: BufMut>(&self, cur: &mut Cursor, out: &mut B) -> bool {
        if cur.packets < 2 {
            let start = cur.packets as usize * TS_PACKET_LEN;
            out.put_slice(&self.psi[start..start + TS_PACKET_LEN]);
            cur.packets += 1;
            return true;
        }
        let Some(pes) = self.pes.get(cur.pes) else {
            return false;
        };
        let first = cur.pes_packet == 0;
        let af_base = if first { pes.first_adaptation_len() } else { 0 };
        // A PES spread over extra packets (see `round_continuity`) leaves one
        // byte for each packet still to come; otherwise packets are full.
        let left = (pes.len - cur.written) as u64;
        let after = pes.packets - cur.pes_packet - 1;
        let payload = (left.saturating_sub(after).max(1) as usize).min(TS_PAYLOAD_LEN - af_base);
        let af_len = TS_PAYLOAD_LEN - payload; // adaptation field incl. stuffing
        let cc = cur.cc.get_mut(pes.track).map_or(0, |c| {
            let v = *c;
            *c = (v + 1) & 0x0F;
            v
        });
        out.put_u8(0x47);
        out.put_u8((u8::from(first) << 6) | ((pes.pid >> 8) as u8 & 0x1F));
        out.put_u8(pes.pid as u8);
        out.put_u8(if af_len > 0 { 0x30 } else { 0x10 } | cc);
        if af_len > 0 {
            // adaptation_field_length counts the bytes after itself;
            // a single stuffing byte is a zero-length field (§2.4.3.5).
            out.put_u8((af_len - 1) as u8);
            if af_len > 1 {
                let mut flags = 0;
                if first && pes.random_access {
                    flags |= 0x40;
                }
                let pcr = pes.pcr.filter(|_| first);
                if pcr.is_some() {
                    flags |= 0x10;
                }
                out.put_u8(flags);
                let mut used = 2;
                if let Some(pcr) = pcr {
                    out.put_slice(&pcr_field(pcr));
                    used += 6;
                }
                out.put_bytes(0xFF, af_len - used);
            }
        }
        self.copy_payload(pes, cur, payload, out);
        cur.written += payload;
        cur.packets += 1;
        cur.pes_packet += 1;
        if cur.pes_packet == pes.packets {
            debug_assert_eq!(cur.written, pes.len);
            cur.pes += 1;
            cur.pes_packet = 0;
            cur.written = 0;
            cur.piece = 0;
            cur.offset = 0;
        }
        true
    }

    fn copy_payload<B: BufMut>(&self, pes: &Pes, cur: &mut Cursor, mut n: usize, out: &mut B) {
        while n > 0 {
            let src: &[u8] = match cur.piece {
                0 => &pes.header[..pes.header_len],
                k => match pes.pieces.get(k - 1) {
                    Some(p) => p,
                    None => return,
                },
            };
            let take = (src.len() - cur.offset).min(n);
            out.put_slice(&src[cur.offset..cur.offset + take]);
            cur.offset += take;
            n -= take;
            if cur.offset == src.len() {
                cur.piece += 1;
                cur.offset = 0;
            }
        }
    }
}

impl Iterator for TsSegment {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        self.next_chunk()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AacConfig, Ac3Config, AvcConfig, HevcConfig, TrackKind};
    use crate::mux::adts::split_adts;
    use crate::mux::annexb::split_annexb;
    use std::collections::HashMap;

    const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x0D, 0xAC];
    const PPS: &[u8] = &[0x68, 0xEB, 0xE3];

    pub(super) fn track(id: u32, codec: Codec, timescale: u32) -> TrackInfo {
        let video = matches!(codec, Codec::Avc(_) | Codec::Hevc(_));
        TrackInfo {
            track_id: id,
            kind: if video {
                TrackKind::Video
            } else {
                TrackKind::Audio
            },
            timescale,
            duration: 0,
            language: "und".into(),
            handler: FourCC::new(if video { b"vide" } else { b"soun" }),
            fourcc: FourCC::new(b"test"),
            sample_entry: Bytes::new(),
            codec,
            codec_string: String::new(),
            width: 0,
            height: 0,
            par: (1, 1),
            sample_rate: 0,
            channels: 0,
            bits_per_sample: 0,
            presentation_offset: 0,
            avg_bitrate: 0,
            max_bitrate: 0,
            sample_count: 0,
        }
    }

    pub(super) fn avc(sps: &[u8], pps: &[u8]) -> Codec {
        Codec::Avc(AvcConfig {
            record: Bytes::new(),
            profile: sps.get(1).copied().unwrap_or(0),
            compatibility: sps.get(2).copied().unwrap_or(0),
            level: sps.get(3).copied().unwrap_or(0),
            nal_length_size: 4,
            sps: vec![Bytes::copy_from_slice(sps)],
            pps: vec![Bytes::copy_from_slice(pps)],
        })
    }

    pub(super) fn aac(profile_object_type: u8, sfi: u8, rate: u32, ch: u8) -> Codec {
        Codec::Aac(AacConfig {
            asc: Bytes::new(),
            object_type: profile_object_type,
            core_object_type: profile_object_type,
            sampling_frequency_index: sfi,
            sample_rate: rate,
            channel_config: ch,
        })
    }

    fn ac3() -> Codec {
        Codec::Ac3(Ac3Config {
            dac3: Bytes::new(),
            fscod: 0,
            bsid: 8,
            bsmod: 0,
            acmod: 2,
            lfeon: false,
            bit_rate_code: 10,
        })
    }

    /// Length-prefixed (4 bytes) sample from NAL units.
    fn sample_of(nals: &[&[u8]]) -> Bytes {
        let mut v = Vec::new();
        for n in nals {
            v.extend_from_slice(&(n.len() as u32).to_be_bytes());
            v.extend_from_slice(n);
        }
        Bytes::from(v)
    }

    fn video_sample(dts: i64, pts: i64, sync: bool, size: usize) -> MuxSample {
        let mut slice = vec![if sync { 0x65 } else { 0x41 }; size.max(1)];
        slice[1..]
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i % 251) as u8 | 1);
        MuxSample {
            dts,
            pts,
            duration: 512,
            sync,
            data: sample_of(&[&slice]),
        }
    }

    fn audio_sample(pts: i64, duration: u32, data: Bytes) -> MuxSample {
        MuxSample {
            dts: pts,
            pts,
            duration,
            sync: true,
            data,
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[derive(Debug, Default, Clone)]
    pub(super) struct PesOut {
        pub stream_id: u8,
        pub pts: Option<u64>,
        pub dts: Option<u64>,
        pub pcr: Option<u64>,
        pub random_access: bool,
        pub payload: Vec<u8>,
        /// Byte offset of the PES's first packet.
        pub offset: usize,
        raw: Vec<u8>,
    }

    #[derive(Debug, Default)]
    pub(super) struct Demux {
        pub pids: Vec<u16>,
        pub cc: HashMap<u16, Vec<u8>>,
        pub pes: HashMap<u16, Vec<PesOut>>,
        pub pat: Vec<u8>,
        pub pmt: Vec<u8>,
    }

    fn parse_timestamp(b: &[u8], prefix: u8) -> u64 {
        assert_eq!(b[0] >> 4, prefix);
        assert!(
            b[0] & 1 == 1 && b[2] & 1 == 1 && b[4] & 1 == 1,
            "marker bits"
        );
        (u64::from((b[0] >> 1) & 0x07) << 30)
            | (u64::from(u16::from_be_bytes([b[1], b[2]]) >> 1) << 15)
            | u64::from(u16::from_be_bytes([b[3], b[4]]) >> 1)
    }

    /// A strict TS reader: checks packet structure and stuffing, splits
    /// PSI and PES, parses PES headers.
    pub(super) fn demux(ts: &[u8]) -> Demux {
        assert_eq!(ts.len() % TS_PACKET_LEN, 0);
        let mut d = Demux::default();
        for (n, p) in ts.chunks(TS_PACKET_LEN).enumerate() {
            assert_eq!(p[0], 0x47, "sync byte of packet {n}");
            let pusi = p[1] & 0x40 != 0;
            let pid = u16::from(p[1] & 0x1F) << 8 | u16::from(p[2]);
            let afc = (p[3] >> 4) & 0x03;
            assert!(afc == 1 || afc == 3, "every packet carries payload");
            d.pids.push(pid);
            d.cc.entry(pid).or_default().push(p[3] & 0x0F);
            let (mut pcr, mut rai, mut off) = (None, false, 4);
            if afc == 3 {
                let len = usize::from(p[4]);
                assert!(len <= 182, "adaptation field leaves payload");
                if len > 0 {
                    let flags = p[5];
                    rai = flags & 0x40 != 0;
                    let mut used = 1;
                    if flags & 0x10 != 0 {
                        let b = &p[6..12];
                        assert_eq!(b[4] & 0x7E, 0x7E, "PCR reserved bits");
                        pcr = Some(
                            (u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])) << 1)
                                | u64::from(b[4] >> 7),
                        );
                        used += 6;
                    }
                    assert!(p[5 + used..5 + len].iter().all(|&b| b == 0xFF), "stuffing");
                }
                off = 5 + len;
            }
            let payload = &p[off..];
            if pid == 0 || pid == PMT_PID {
                assert!(pusi);
                assert_eq!(payload[0], 0, "pointer_field");
                let len = 3 + (usize::from(payload[2] & 0x0F) << 8 | usize::from(payload[3]));
                let section = payload[1..1 + len].to_vec();
                assert_eq!(
                    crc32_mpeg2(&section),
                    0,
                    "CRC of a section with its CRC is 0"
                );
                assert!(payload[1 + len..].iter().all(|&b| b == 0xFF));
                if pid == 0 {
                    d.pat = section
                } else {
                    d.pmt = section
                }
                continue;
            }
            let list = d.pes.entry(pid).or_default();
            if pusi {
                list.push(PesOut {
                    pcr,
                    random_access: rai,
                    offset: n * TS_PACKET_LEN,
                    ..Default::default()
                });
            } else {
                assert!(pcr.is_none() && !rai, "flags only on a PES's first packet");
            }
            list.last_mut()
                .expect("PES starts with PUSI")
                .raw
                .extend_from_slice(payload);
        }
        for p in d.pes.values_mut().flatten() {
            let r = std::mem::take(&mut p.raw);
            assert_eq!(&r[..3], &[0, 0, 1]);
            p.stream_id = r[3];
            let declared = usize::from(u16::from_be_bytes([r[4], r[5]]));
            if declared != 0 {
                assert_eq!(declared, r.len() - 6, "PES_packet_length");
            }
            assert_eq!(r[6], 0x84);
            let header_end = 9 + usize::from(r[8]);
            match r[7] {
                0x80 => p.pts = Some(parse_timestamp(&r[9..14], 0b0010)),
                0xC0 => {
                    p.pts = Some(parse_timestamp(&r[9..14], 0b0011));
                    p.dts = Some(parse_timestamp(&r[14..19], 0b0001));
                }
                f => panic!("PTS_DTS_flags {f:#x}"),
            }
            p.payload = r[header_end..].to_vec();
        }
        d
    }

    fn seg(tracks: &[TsTrack<'_>]) -> TsSegment {
        TsSegment::new(tracks, 0).unwrap()
    }

    #[test]
    fn timestamp_bit_layout() {
        // ffmpeg's PTS for 1.4 s (126000), PTS-only prefix '0010'.
        assert_eq!(
            timestamp_field(0b0010, 126_000),
            [0x21, 0x00, 0x07, 0xD8, 0x61]
        );
        assert_eq!(
            timestamp_field(0b0011, PTS_MASK),
            [0x3F, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(timestamp_field(0b0001, 0), [0x11, 0x00, 0x01, 0x00, 0x01]);
        assert_eq!(
            timestamp_field(0b0010, (1 << 33) + 5),
            timestamp_field(0b0010, 5)
        );
        for v in [1u64, 0x1_2345_6789, 1 << 32, (1 << 30) - 1, 1 << 15] {
            assert_eq!(parse_timestamp(&timestamp_field(0b0011, v), 0b0011), v);
        }
    }

    #[test]
    fn pcr_bit_layout() {
        // ffmpeg's first PCR (0.7 s): base 63000, extension 0.
        assert_eq!(pcr_field(63_000), [0x00, 0x00, 0x7B, 0x0C, 0x7E, 0x00]);
        assert_eq!(pcr_field(PTS_MASK), [0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0x00]);
    }

    #[test]
    fn pes_header_encoding() {
        let (h, len) = pes_header(0xE0, 900_000, Some(892_500), 70_000);
        assert_eq!(len, 19);
        assert_eq!(&h[..9], &[0, 0, 1, 0xE0, 0, 0, 0x84, 0xC0, 10]);
        let (h, len) = pes_header(0xC0, 900_000, None, 100);
        assert_eq!(len, 14);
        assert_eq!(&h[..9], &[0, 0, 1, 0xC0, 0, 108, 0x84, 0x80, 5]);
        assert_eq!(parse_timestamp(&h[9..14], 0b0010), 900_000);
    }

    #[test]
    fn time_conversion_is_exact() {
        assert_eq!(ts_time_90k(0, 12_288), Some(TS_TIME_OFFSET_90K));
        assert_eq!(ts_time_90k(512, 12_288), Some(TS_TIME_OFFSET_90K + 3_750));
        assert_eq!(ts_time_90k(-1024, 12_288), Some(TS_TIME_OFFSET_90K - 7_500));
        assert_eq!(ts_time_90k(1001, 30_000), Some(TS_TIME_OFFSET_90K + 3_003));
        // 1024/44100 s = 2089.79… ticks, floored; frame 1000 is not 1000 × 2089.
        assert_eq!(ts_time_90k(1024, 44_100), Some(TS_TIME_OFFSET_90K + 2_089));
        assert_eq!(
            ts_time_90k(1_024_000, 44_100),
            Some(TS_TIME_OFFSET_90K + 2_089_795)
        );
        // 30 h at 10 MHz: no overflow thanks to the 128-bit intermediate.
        assert_eq!(
            ts_time_90k(1_080_000_000_000, 10_000_000),
            Some(TS_TIME_OFFSET_90K + 9_720_000_000)
        );
        assert_eq!(ts_time_90k(-10 * 48_000 - 1, 48_000), None);
        assert_eq!(ts_time_90k(1, 0), None);
    }

    #[test]
    fn psi_matches_ffmpeg() {
        // PAT/PMT bytes ffmpeg 5.1 wrote for one stream on PID 0x100.
        let cases: [(Codec, &str); 4] = [
            (
                aac(2, 3, 48_000, 2),
                "0002b0120001c10000e100f0000fe100f000b69bc0d9",
            ),
            (
                ac3(),
                "0002b0180001c10000e100f00081e100f006050441432d33d3017de3",
            ),
            (
                Codec::Ec3(crate::model::Ec3Config {
                    dec3: Bytes::new(),
                    data_rate: 192,
                    fscod: 0,
                    acmod: 2,
                    lfeon: false,
                    atmos: false,
                }),
                "0002b0180001c10000e100f00087e100f006050445414333be57e57c",
            ),
            (
                avc(SPS, PPS),
                "0002b0120001c10000e100f0001be100f00015bd4d56",
            ),
        ];
        for (codec, pmt) in cases {
            let info = track(1, codec, 90_000);
            let s = seg(&[TsTrack {
                info: &info,
                samples: &[],
                pid: 0x100,
            }]);
            let out = s.to_vec();
            assert_eq!(out.len(), PSI_LEN as usize);
            let mut pat = hex("47400010");
            pat.extend(hex("0000b00d0001c100000001f0002ab104b2"));
            pat.resize(188, 0xFF);
            assert_eq!(&out[..188], &pat[..]);
            let mut want = hex("47500010");
            want.extend(hex(pmt));
            want.resize(188, 0xFF);
            assert_eq!(&out[188..], &want[..]);
        }
    }

    #[test]
    fn hevc_pmt_registration_and_aud() {
        let info = track(
            1,
            Codec::Hevc(HevcConfig {
                record: Bytes::new(),
                general_profile_space: 0,
                general_tier_flag: false,
                general_profile_idc: 1,
                general_profile_compatibility_flags: 0,
                general_constraint_indicator_flags: [0; 6],
                general_level_idc: 93,
                nal_length_size: 4,
                vps: vec![Bytes::from_static(&[0x40, 0x01, 0x0C])],
                sps: vec![Bytes::from_static(&[0x42, 0x01, 0x01])],
                pps: vec![Bytes::from_static(&[0x44, 0x01, 0xC1])],
            }),
            90_000,
        );
        let samples = [MuxSample {
            dts: 0,
            pts: 0,
            duration: 3000,
            sync: true,
            data: sample_of(&[&[0x26, 0x01, 0xAF]]),
        }];
        let d = demux(
            &seg(&[TsTrack {
                info: &info,
                samples: &samples,
                pid: 0x100,
            }])
            .to_vec(),
        );
        assert_eq!(
            hex("02b0180001c10000e100f00024e100f006050448455643cb9e0052"),
            d.pmt
        );
        let nals: Vec<Vec<u8>> = split_annexb(&d.pes[&0x100][0].payload)
            .iter()
            .map(|n| n.to_vec())
            .collect();
        assert_eq!(
            nals,
            vec![
                vec![0x46, 0x01, 0x50],
                vec![0x40, 0x01, 0x0C],
                vec![0x42, 0x01, 0x01],
                vec![0x44, 0x01, 0xC1],
                vec![0x26, 0x01, 0xAF]
            ]
        );
    }

    #[test]
    fn language_descriptor_for_audio() {
        let mut info = track(2, aac(2, 3, 48_000, 2), 48_000);
        info.language = "eng".into();
        let d = demux(
            &seg(&[TsTrack {
                info: &info,
                samples: &[],
                pid: 0x101,
            }])
            .to_vec(),
        );
        let es = &d.pmt[12..d.pmt.len() - 4];
        assert_eq!(
            es,
            &[0x0F, 0xE1, 0x01, 0xF0, 6, 0x0A, 4, b'e', b'n', b'g', 0][..]
        );
    }

    /// Every PES length against the writer: all packet counts are exact,
    /// all packets are well formed, the PES comes back intact.
    #[test]
    fn packet_count_matches_writer() {
        for (pcr, rai) in [(false, false), (false, true), (true, true), (true, false)] {
            for payload in (0..800).chain([65_000, 65_600, 200_001]) {
                let pt = PesTrack {
                    pid: 0x100,
                    index: 0,
                    stream_id: 0xE0,
                    pcr,
                    video: true,
                };
                let piece = Bytes::from((0..payload).map(|i| (i % 253) as u8).collect::<Vec<_>>());
                let pes = Pes::new(pt, 900_000, 900_000, vec![piece.clone()], rai);
                let expected_packets = pes.packets;
                let s = TsSegment::assemble([0x47; 376], vec![pes], 1);
                let out = s.to_vec();
                assert_eq!(out.len() as u64, s.len());
                assert_eq!(s.len(), PSI_LEN + expected_packets * 188);
                let d = demux(&out[376..]);
                let got = &d.pes[&0x100];
                assert_eq!(got.len(), 1);
                assert_eq!(got[0].payload, piece);
                assert_eq!(got[0].random_access, rai);
                assert_eq!(got[0].pcr, pcr.then_some(900_000 - PCR_DELAY_90K));
            }
        }
    }

    #[test]
    fn b_frame_timing_and_parameter_sets() {
        let info = track(1, avc(SPS, PPS), 12_288);
        // Decode order of an IBBP-style GOP as ffmpeg writes it in MP4.
        let times = [
            (-1024, 0, true),
            (-512, 1536, false),
            (0, 512, false),
            (512, 1024, false),
            (1024, 3072, false),
        ];
        let samples: Vec<_> = times
            .iter()
            .map(|&(d, p, k)| video_sample(d, p, k, 300))
            .collect();
        let s = seg(&[TsTrack {
            info: &info,
            samples: &samples,
            pid: VIDEO_PID,
        }]);
        let d = demux(&s.to_vec());
        let pes = &d.pes[&VIDEO_PID];
        assert_eq!(pes.len(), 5);
        for (p, &(dts, pts, key)) in pes.iter().zip(&times) {
            let (dts, pts) = (
                ts_time_90k(dts, 12_288).unwrap(),
                ts_time_90k(pts, 12_288).unwrap(),
            );
            assert_eq!(p.stream_id, 0xE0);
            assert_eq!(p.pts, Some(pts));
            assert_eq!(p.dts, (dts != pts).then_some(dts));
            assert_eq!(p.pcr, Some(dts - PCR_DELAY_90K));
            assert_eq!(p.random_access, key);
            let nals = split_annexb(&p.payload);
            assert_eq!(nals[0], &[0x09, 0xF0]);
            if key {
                assert_eq!(&nals[1..3], &[SPS, PPS]);
            } else {
                assert_eq!(nals.len(), 2);
            }
        }
        assert_eq!(pes[0].dts, Some(TS_TIME_OFFSET_90K - 7_500));
        assert_eq!(s.keyframe_ranges().len(), 1);
        assert_eq!(s.keyframe_ranges()[0], PSI_LEN..pes[1].offset as u64);
    }

    /// Consecutive segments read back to back (as VLC and GStreamer do)
    /// continue every PID's counter with no jump (§2.4.3.3): PAT/PMT by the
    /// sequence number, elementary PIDs by whole counter cycles. Segment
    /// sizes vary so the padding is exercised at every residue.
    #[test]
    fn continuity_counters_run_across_segments() {
        let v = track(1, avc(SPS, PPS), 90_000);
        let a = track(2, aac(2, 3, 48_000, 2), 48_000);
        let mut stream = Vec::new();
        for n in 0..20u32 {
            let base = i64::from(n) * 12 * 3750;
            let vs: Vec<_> = (0..12)
                .map(|i| {
                    video_sample(
                        base + i * 3750,
                        base + i * 3750,
                        i == 0,
                        150 + 211 * (n as usize + i as usize),
                    )
                })
                .collect();
            let aus: Vec<_> = (0..(3 + n as i64))
                .map(|i| {
                    audio_sample(
                        base / 90 * 48 + i * 1024,
                        1024,
                        Bytes::from(vec![0x21; 20 + 37 * n as usize]),
                    )
                })
                .collect();
            let s = TsSegment::new(
                &[
                    TsTrack {
                        info: &v,
                        samples: &vs,
                        pid: VIDEO_PID,
                    },
                    TsTrack {
                        info: &a,
                        samples: &aus,
                        pid: FIRST_AUDIO_PID,
                    },
                ],
                n,
            )
            .unwrap();
            let bytes = s.to_vec();
            assert_eq!(bytes.len() as u64, s.len());
            // Each segment alone still demuxes to the same access units.
            let d = demux(&bytes);
            assert_eq!(d.pes[&VIDEO_PID].len(), 12);
            stream.extend_from_slice(&bytes);
        }
        let d = demux(&stream);
        for pid in [0, PMT_PID, VIDEO_PID, FIRST_AUDIO_PID] {
            let cc = &d.cc[&pid];
            for (i, w) in cc.windows(2).enumerate() {
                assert_eq!(w[1], (w[0] + 1) & 0x0F, "pid {pid:#x} packet {i}");
            }
        }
    }

    #[test]
    fn continuity_counters_and_chunks() {
        let v = track(1, avc(SPS, PPS), 90_000);
        let a = track(2, aac(2, 3, 48_000, 2), 48_000);
        let vs: Vec<_> = (0..30)
            .map(|i| video_sample(i * 3750, i * 3750, i % 10 == 0, 2000 + 97 * i as usize))
            .collect();
        let aus: Vec<_> = (0..60)
            .map(|i| audio_sample(i * 1024, 1024, Bytes::from(vec![0x21; 300 + i as usize])))
            .collect();
        let tracks = [
            TsTrack {
                info: &v,
                samples: &vs,
                pid: VIDEO_PID,
            },
            TsTrack {
                info: &a,
                samples: &aus,
                pid: FIRST_AUDIO_PID,
            },
        ];
        let mut s = seg(&tracks);
        let whole = s.to_vec();
        assert_eq!(whole.len() as u64, s.len());
        let d = demux(&whole);
        assert_eq!(d.cc[&0], vec![0]);
        assert_eq!(d.cc[&PMT_PID], vec![0]);
        for pid in [VIDEO_PID, FIRST_AUDIO_PID] {
            let cc = &d.cc[&pid];
            assert!(cc.len() > 16);
            assert_eq!(cc.len() % 16, 0, "pid {pid:#x}: whole counter cycles");
            assert!(
                cc.iter()
                    .enumerate()
                    .all(|(i, &c)| usize::from(c) == i % 16),
                "pid {pid:#x}"
            );
        }
        assert_eq!(d.pes[&VIDEO_PID].len(), 30);
        assert_eq!(s.keyframe_ranges().len(), 3);

        let mut streamed = Vec::new();
        while let Some(chunk) = s.next_chunk_max(7) {
            assert!(chunk.len() <= 7 * 188 && chunk.len() % 188 == 0);
            streamed.extend_from_slice(&chunk);
            assert_eq!(s.remaining(), s.len() - streamed.len() as u64);
        }
        assert_eq!(streamed, whole);
        assert_eq!(s.next_chunk(), None);

        let chunks: Vec<Bytes> = seg(&tracks).collect();
        assert!(chunks
            .iter()
            .all(|c| c.len() <= DEFAULT_CHUNK_PACKETS * 188));
        assert_eq!(chunks.concat(), whole);
    }

    #[test]
    fn aac_frames_grouped_with_own_pts() {
        let info = track(2, aac(2, 4, 44_100, 2), 44_100);
        let mut frames: Vec<_> = (0..20)
            .map(|i| audio_sample(i * 1024, 1024, Bytes::from(vec![i as u8; 200 + i as usize])))
            .collect();
        // A gap: frame 10 starts one frame late.
        for f in &mut frames[10..] {
            f.pts += 1024;
            f.dts = f.pts;
        }
        let s = seg(&[TsTrack {
            info: &info,
            samples: &frames,
            pid: FIRST_AUDIO_PID,
        }]);
        let d = demux(&s.to_vec());
        let pes = &d.pes[&FIRST_AUDIO_PID];
        // 4 frames = 92.9 ms > 90 ms at 44.1 kHz, so 3 per PES; the gap
        // forces a new PES at frame 10: [0..3][3..6][6..9][9][10..13]…
        let starts = [0usize, 3, 6, 9, 10, 13, 16, 19];
        assert_eq!(pes.len(), starts.len());
        let mut next = 0;
        for (p, &first) in pes.iter().zip(&starts) {
            assert_eq!(p.stream_id, 0xC0);
            assert!(p.random_access);
            assert_eq!(
                p.pcr,
                p.pts.map(|t| t - PCR_DELAY_90K),
                "audio-only: PCR on audio"
            );
            assert_eq!(p.pts, ts_time_90k(frames[first].pts, 44_100));
            for raw in split_adts(&p.payload).unwrap() {
                assert_eq!(raw, &frames[next].data[..]);
                next += 1;
            }
        }
        assert_eq!(next, 20);
        assert!(s.keyframe_ranges().is_empty());
    }

    #[test]
    fn ac3_uses_private_stream_1() {
        let info = track(2, ac3(), 48_000);
        let frame = Bytes::from([&[0x0B, 0x77][..], &[0x55; 766]].concat());
        let frames: Vec<_> = (0..5)
            .map(|i| audio_sample(i * 1536, 1536, frame.clone()))
            .collect();
        let d = demux(
            &seg(&[TsTrack {
                info: &info,
                samples: &frames,
                pid: 0x101,
            }])
            .to_vec(),
        );
        let pes = &d.pes[&0x101];
        // 32 ms frames: two per PES (96 ms > 90 ms).
        assert_eq!(pes.len(), 3);
        assert!(pes.iter().all(|p| p.stream_id == 0xBD));
        assert_eq!(pes[1].payload, [frame.clone(), frame.clone()].concat());

        let bad = [audio_sample(0, 1536, Bytes::from_static(&[0x77, 0x0B]))];
        assert_eq!(
            TsSegment::new(
                &[TsTrack {
                    info: &info,
                    samples: &bad,
                    pid: 0x101
                }],
                0
            )
            .err(),
            Some(MuxError::MissingSyncword {
                track_id: 2,
                sample: 0
            })
        );
    }

    #[test]
    fn keyframe_follows_psi_and_pcr_on_video() {
        let v = track(1, avc(SPS, PPS), 90_000);
        let a = track(2, aac(2, 3, 48_000, 2), 48_000);
        let vs = [
            video_sample(3000, 3000, true, 500),
            video_sample(6750, 6750, false, 500),
        ];
        // Audio starts earlier than the keyframe's DTS.
        let aus = [audio_sample(0, 1024, Bytes::from_static(&[1; 50]))];
        let s = seg(&[
            TsTrack {
                info: &a,
                samples: &aus,
                pid: 0x101,
            },
            TsTrack {
                info: &v,
                samples: &vs,
                pid: 0x100,
            },
        ]);
        let d = demux(&s.to_vec());
        assert_eq!(d.pids[2], 0x100, "keyframe right after PAT/PMT");
        assert_eq!(d.pmt[8..10], [0xE1, 0x00], "PCR_PID is the video PID");
        assert_eq!(d.pes[&0x101][0].pcr, None);
        let key = &d.pes[&0x100][0];
        assert_eq!(
            (key.pts, key.dts),
            (ts_time_90k(3000, 90_000), None),
            "no DTS when equal to PTS"
        );
        assert_eq!(s.keyframe_ranges()[0].start, PSI_LEN);
        assert_eq!(s.keyframe_ranges()[0].end, d.pes[&0x101][0].offset as u64);
    }

    #[test]
    fn timestamps_wrap_at_33_bits() {
        let info = track(1, avc(SPS, PPS), 90_000);
        let t = (1i64 << 33) - TS_TIME_OFFSET_90K as i64 + 10;
        let samples = [video_sample(t, t, true, 100)];
        let d = demux(
            &seg(&[TsTrack {
                info: &info,
                samples: &samples,
                pid: 0x100,
            }])
            .to_vec(),
        );
        let p = &d.pes[&0x100][0];
        assert_eq!(p.pts, Some(10));
        assert_eq!(p.pcr, Some((10 + (1 << 33) - PCR_DELAY_90K) & PTS_MASK));
    }

    #[test]
    fn large_access_units() {
        let info = track(1, avc(SPS, PPS), 90_000);
        let samples = [video_sample(0, 0, true, 100_000)];
        let out = seg(&[TsTrack {
            info: &info,
            samples: &samples,
            pid: 0x100,
        }])
        .to_vec();
        assert_eq!(
            &out[376 + 12..376 + 18],
            &[0, 0, 1, 0xE0, 0, 0],
            "unbounded video PES"
        );
        let a = track(2, aac(2, 3, 48_000, 2), 48_000);
        let big = [audio_sample(0, 1024, Bytes::from(vec![0; 9000]))];
        assert!(matches!(
            TsSegment::new(
                &[TsTrack {
                    info: &a,
                    samples: &big,
                    pid: 0x101
                }],
                0
            ),
            Err(MuxError::Adts {
                track_id: 2,
                sample: Some(0),
                source: AdtsError::FrameTooLarge { .. }
            })
        ));
    }

    #[test]
    fn rejects_bad_input() {
        let v = track(1, avc(SPS, PPS), 90_000);
        let ok = [video_sample(0, 0, true, 10)];
        let t = |info, samples, pid| TsTrack { info, samples, pid };
        let err = |tracks: &[TsTrack<'_>]| TsSegment::new(tracks, 0).err();
        assert_eq!(err(&[]), Some(MuxError::NoTracks));
        for pid in [0x0F, 0x1FFF, PMT_PID] {
            assert!(matches!(
                err(&[t(&v, &ok, pid)]),
                Some(MuxError::InvalidPid { .. })
            ));
        }
        assert!(matches!(
            err(&[t(&v, &ok, 0x100), t(&v, &ok, 0x100)]),
            Some(MuxError::InvalidPid { pid: 0x100, .. })
        ));
        let other = track(3, Codec::Other, 1000);
        assert!(matches!(
            err(&[t(&other, &[], 0x100)]),
            Some(MuxError::UnsupportedCodec { track_id: 3, .. })
        ));
        let zero = track(4, avc(SPS, PPS), 0);
        assert_eq!(
            err(&[t(&zero, &ok, 0x100)]),
            Some(MuxError::InvalidTimescale { track_id: 4 })
        );
        let back = [
            video_sample(100, 100, true, 10),
            video_sample(50, 200, false, 10),
        ];
        assert_eq!(
            err(&[t(&v, &back, 0x100)]),
            Some(MuxError::DtsNotMonotonic {
                track_id: 1,
                sample: 1
            })
        );
        let early = [video_sample(100, 99, true, 10)];
        assert_eq!(
            err(&[t(&v, &early, 0x100)]),
            Some(MuxError::PtsBeforeDts {
                track_id: 1,
                sample: 0
            })
        );
        let neg = [video_sample(-900_001, 0, true, 10)];
        assert!(matches!(
            err(&[t(&v, &neg, 0x100)]),
            Some(MuxError::TimestampOutOfRange { sample: 0, .. })
        ));
        let trunc = [MuxSample {
            data: Bytes::from_static(&[0, 0, 0, 9, 0x65]),
            ..video_sample(0, 0, true, 1)
        }];
        assert!(matches!(
            err(&[t(&v, &trunc, 0x100)]),
            Some(MuxError::Nal {
                track_id: 1,
                sample: 0,
                ..
            })
        ));
        let mono0 = track(5, aac(2, 3, 48_000, 0), 48_000);
        assert!(matches!(
            err(&[t(&mono0, &[], 0x101)]),
            Some(MuxError::Adts {
                track_id: 5,
                sample: None,
                ..
            })
        ));
        // 16 audio tracks with language descriptors: 192-byte PMT section.
        let mut langs: Vec<TrackInfo> = (0..16)
            .map(|i| track(i, aac(2, 3, 48_000, 2), 48_000))
            .collect();
        langs.iter_mut().for_each(|i| i.language = "eng".into());
        let tracks: Vec<_> = langs
            .iter()
            .enumerate()
            .map(|(i, info)| t(info, &[], 0x101 + i as u16))
            .collect();
        assert!(matches!(err(&tracks), Some(MuxError::PmtTooLarge { .. })));
        let e = MuxError::Nal {
            track_id: 1,
            sample: 2,
            source: NalError::UnsupportedLengthSize { size: 3 },
        };
        assert!(e.to_string().contains("track 1 sample 2"));
        assert!(std::error::Error::source(&e).is_some());
    }

    /// ffmpeg-encoded H.264 (with B-frames) and AAC, muxed into two 2 s
    /// segments (muxed, as `m3u8-aapl-v3`) and one video-only/audio-only
    /// pair (as `m3u8-aapl`), then decoded by ffmpeg and ffprobe.
    mod ffmpeg {
        use super::*;
        use std::path::Path;
        use std::process::Command;

        const FPS_TIMESCALE: u32 = 12_288;

        fn available() -> bool {
            let ok = |name: &str, arg: &str| {
                Command::new(name)
                    .arg(arg)
                    .output()
                    .map(|o| {
                        (
                            o.status.success(),
                            String::from_utf8_lossy(&o.stdout).into_owned(),
                        )
                    })
                    .ok()
            };
            matches!(ok("ffprobe", "-version"), Some((true, _)))
                && matches!(ok("ffmpeg", "-encoders"), Some((true, e)) if e.contains("libx264"))
        }

        /// Runs a tool, asserting success and an empty stderr; returns stdout.
        /// `cmd` is split on whitespace (no argument here has a space).
        fn run(dir: &Path, cmd: &str) -> String {
            let args: Vec<&str> = cmd.split_whitespace().collect();
            let out = Command::new(args[0])
                .args(&args[1..])
                .current_dir(dir)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.trim().is_empty(),
                "{args:?}: {stderr}"
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }

        /// `-of compact=p=0` lines as key → value maps.
        fn compact(out: &str) -> Rows {
            out.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    l.split('|')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                })
                .collect()
        }

        fn num(m: &HashMap<String, String>, k: &str) -> i64 {
            m[k].parse().unwrap_or_else(|_| panic!("{k}={}", m[k]))
        }

        /// ffprobe rows: `key=value` maps.
        type Rows = Vec<HashMap<String, String>>;

        struct Source {
            video: Vec<MuxSample>,
            avc: Codec,
            audio: Vec<MuxSample>,
            aac: Codec,
        }

        const ENCODE_VIDEO: &str = "ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=24 \
            -t 4 -c:v libx264 -bf 2 -g 24 -sc_threshold 0 -pix_fmt yuv420p v.mp4";
        const TO_ANNEXB: &str = "ffmpeg -v error -y -i v.mp4 -c:v copy \
            -bsf:v h264_mp4toannexb,h264_metadata=aud=insert -f h264 v.h264";
        const ENCODE_AUDIO: &str = "ffmpeg -v error -y -f lavfi -i sine=f=440:sample_rate=48000 \
            -t 4 -c:a aac -f adts a.aac";
        const PROBE_VIDEO: &str =
            "ffprobe -v error -select_streams v:0 -of compact=p=0 -show_entries";

        fn encode(dir: &Path) -> Source {
            run(dir, ENCODE_VIDEO);
            run(dir, TO_ANNEXB);
            run(dir, ENCODE_AUDIO);
            let tb = run(dir, &format!("{PROBE_VIDEO} stream=time_base v.mp4"));
            assert_eq!(tb.trim(), format!("time_base=1/{FPS_TIMESCALE}"));
            // MP4 packet times (decode order): pts starts at 0, dts < 0.
            let timing = compact(&run(
                dir,
                &format!("{PROBE_VIDEO} packet=pts,dts,duration,flags v.mp4"),
            ));

            let h264 = std::fs::read(dir.join("v.h264")).unwrap();
            let (mut sps, mut pps, mut units) = (None, None, Vec::<Vec<&[u8]>>::new());
            for nal in split_annexb(&h264) {
                match nal[0] & 0x1F {
                    9 => units.push(Vec::new()),
                    7 => sps = sps.or(Some(nal)),
                    8 => pps = pps.or(Some(nal)),
                    _ => units.last_mut().expect("AU starts with an AUD").push(nal),
                }
            }
            assert_eq!(units.len(), timing.len());
            let video = units
                .iter()
                .zip(&timing)
                .map(|(nals, t)| MuxSample {
                    dts: num(t, "dts"),
                    pts: num(t, "pts"),
                    duration: num(t, "duration") as u32,
                    sync: t["flags"].starts_with('K'),
                    data: sample_of(nals),
                })
                .collect();

            let adts = std::fs::read(dir.join("a.aac")).unwrap();
            let (h, _) = AdtsHeader::parse(&adts).unwrap();
            let audio = split_adts(&adts)
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, f)| audio_sample(i as i64 * 1024, 1024, Bytes::copy_from_slice(f)))
                .collect();
            Source {
                video,
                avc: avc(sps.unwrap(), pps.unwrap()),
                audio,
                aac: aac(
                    h.profile + 1,
                    h.sampling_frequency_index,
                    48_000,
                    h.channel_config,
                ),
            }
        }

        /// Writes a segment the way the edge streams it, chunk by chunk.
        fn write(dir: &Path, name: &str, mut s: TsSegment) -> u64 {
            let len = s.len();
            let mut file = Vec::new();
            for chunk in s.by_ref() {
                file.extend_from_slice(&chunk);
            }
            assert_eq!(file.len() as u64, len, "{name}: Content-Length");
            std::fs::write(dir.join(name), &file).unwrap();
            len
        }

        /// (codec, frames decoded, packets) per stream, and packets.
        fn probe(dir: &Path, name: &str) -> (Vec<(String, i64, i64)>, Rows) {
            let out = run(dir, &format!("ffmpeg -v error -i {name} -f null -"));
            assert!(out.trim().is_empty());
            let mut seen = std::collections::HashSet::new();
            let streams = compact(&run(
                dir,
                &format!(
                    "ffprobe -v error -count_frames -count_packets -of compact=p=0 -show_entries \
                     stream=index,codec_name,nb_read_frames,nb_read_packets {name}"
                ),
            ))
            .iter()
            // TS streams are listed under their program too.
            .filter(|m| seen.insert(m["index"].clone()))
            .map(|m| {
                let n = |k| num(m, k);
                (
                    m["codec_name"].clone(),
                    n("nb_read_frames"),
                    n("nb_read_packets"),
                )
            })
            .collect();
            let packets = compact(&run(
                dir,
                &format!(
                    "ffprobe -v error -of compact=p=0 -show_entries \
                     packet=codec_type,pts,dts,flags {name}"
                ),
            ));
            println!("{name}: {streams:?}");
            (streams, packets)
        }

        fn expect_times(
            packets: &[HashMap<String, String>],
            kind: &str,
            samples: &[MuxSample],
            timescale: u32,
        ) {
            let got: Vec<(i64, i64, bool)> = packets
                .iter()
                .filter(|p| p["codec_type"] == kind)
                .map(|p| (num(p, "pts"), num(p, "dts"), p["flags"].starts_with('K')))
                .collect();
            let want: Vec<(i64, i64, bool)> = samples
                .iter()
                .map(|s| {
                    let t = |v| ts_time_90k(v, timescale).unwrap() as i64;
                    (t(s.pts), t(s.dts), s.sync)
                })
                .collect();
            assert_eq!(got, want, "{kind} packet times");
        }

        #[test]
        fn ffmpeg_decodes_segments() {
            if !available() {
                println!(
                    "NOTICE: ffmpeg/ffprobe with libx264 not found; skipping the ffmpeg TS test"
                );
                return;
            }
            let dir = std::env::temp_dir().join(format!("edgepack-ts-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let src = encode(&dir);
            assert_eq!(src.video.len(), 96);
            assert!(
                src.video[1].dts < 0 && src.video[1].pts > src.video[2].pts,
                "B-frames"
            );

            let vinfo = track(1, src.avc.clone(), FPS_TIMESCALE);
            let ainfo = track(2, src.aac.clone(), 48_000);
            let boundary = |k: i64| {
                let v = src
                    .video
                    .iter()
                    .position(|s| s.sync && s.pts >= k * 2 * i64::from(FPS_TIMESCALE));
                let a = src.audio.iter().position(|s| s.pts >= k * 96_000);
                (v.unwrap_or(src.video.len()), a.unwrap_or(src.audio.len()))
            };
            let mut playlist = String::from(
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n",
            );
            for k in 0..2 {
                let ((v0, a0), (v1, a1)) = (boundary(k), boundary(k + 1));
                let (vs, aus) = (&src.video[v0..v1], &src.audio[a0..a1]);
                let name = format!("seg{k}.ts");
                let s = TsSegment::new(
                    &[
                        TsTrack {
                            info: &vinfo,
                            samples: vs,
                            pid: VIDEO_PID,
                        },
                        TsTrack {
                            info: &ainfo,
                            samples: aus,
                            pid: FIRST_AUDIO_PID,
                        },
                    ],
                    0,
                )
                .unwrap();
                let ranges = s.keyframe_ranges().to_vec();
                write(&dir, &name, s);
                playlist += &format!("#EXTINF:2.000,\n{name}\n");
                let (streams, packets) = probe(&dir, &name);
                assert_eq!(
                    streams,
                    vec![
                        ("h264".into(), 48, 48),
                        ("aac".into(), aus.len() as i64, aus.len() as i64)
                    ]
                );
                expect_times(&packets, "video", vs, FPS_TIMESCALE);
                expect_times(&packets, "audio", aus, 48_000);
                assert_eq!(ranges.len(), 2);
                assert_eq!(ranges[0].start, PSI_LEN);

                if k == 0 {
                    // m3u8-aapl (v4): video and audio in separate TS files.
                    let v = TsSegment::new(
                        &[TsTrack {
                            info: &vinfo,
                            samples: vs,
                            pid: VIDEO_PID,
                        }],
                        0,
                    )
                    .unwrap();
                    write(&dir, "v0.ts", v);
                    let (streams, packets) = probe(&dir, "v0.ts");
                    assert_eq!(streams, vec![("h264".into(), 48, 48)]);
                    expect_times(&packets, "video", vs, FPS_TIMESCALE);
                    let a = TsSegment::new(
                        &[TsTrack {
                            info: &ainfo,
                            samples: aus,
                            pid: FIRST_AUDIO_PID,
                        }],
                        0,
                    )
                    .unwrap();
                    write(&dir, "a0.ts", a);
                    let (streams, packets) = probe(&dir, "a0.ts");
                    assert_eq!(
                        streams,
                        vec![("aac".into(), aus.len() as i64, aus.len() as i64)]
                    );
                    expect_times(&packets, "audio", aus, 48_000);
                }
            }
            playlist += "#EXT-X-ENDLIST\n";
            std::fs::write(dir.join("index.m3u8"), playlist).unwrap();
            // Both segments through ffmpeg's HLS demuxer: every frame, on one
            // continuous 24 fps grid from 10 s.
            let (streams, packets) = probe(&dir, "index.m3u8");
            assert_eq!(streams[0], ("h264".into(), 96, 96));
            // Audio frames starting before 4 s (the encoder's last one is past it).
            assert_eq!(streams[1].1, boundary(2).1 as i64);
            let mut pts: Vec<i64> = packets
                .iter()
                .filter(|p| p["codec_type"] == "video")
                .map(|p| num(p, "pts"))
                .collect();
            pts.sort_unstable();
            let grid: Vec<i64> = (0..96)
                .map(|i| TS_TIME_OFFSET_90K as i64 + i * 3750)
                .collect();
            assert_eq!(pts, grid);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
