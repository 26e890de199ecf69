//! PES packets (§2.4.3.6 syntax, §2.4.3.7 semantics): the header with its
//! PTS / DTS fields, and the number of TS packets a PES occupies once
//! packetized, which is what makes a segment's length known up front. Like
//! shaka-packager's `pes_packet`.

use super::packet::TS_PAYLOAD_LEN;
use super::time::PTS_MASK;
use super::PCR_DELAY_90K;
use bytes::Bytes;

const PES_HEADER_MAX: usize = 19;

/// One PES packet, ready to packetize: header bytes plus payload pieces.
#[derive(Clone, Debug)]
pub(super) struct Pes {
    pub(super) pid: u16,
    /// Index of the track (continuity counter slot).
    pub(super) track: usize,
    pub(super) header: [u8; PES_HEADER_MAX],
    pub(super) header_len: usize,
    pub(super) pieces: Vec<Bytes>,
    /// Header plus payload bytes.
    pub(super) len: usize,
    /// PCR base (unwrapped) for the first packet.
    pub(super) pcr: Option<u64>,
    pub(super) random_access: bool,
    pub(super) video: bool,
    /// Decode time (unwrapped 90 kHz), for ordering.
    pub(super) dts: u64,
    pub(super) packets: u64,
}

/// What every PES of one track shares.
#[derive(Clone, Copy, Debug)]
pub(super) struct PesTrack {
    pub(super) pid: u16,
    /// Index of the track (continuity counter slot).
    pub(super) index: usize,
    pub(super) stream_id: u8,
    /// This track carries the program's PCR.
    pub(super) pcr: bool,
    pub(super) video: bool,
}

impl Pes {
    pub(super) fn new(
        t: PesTrack,
        pts: u64,
        dts: u64,
        pieces: Vec<Bytes>,
        random_access: bool,
    ) -> Pes {
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

    pub(super) fn first_adaptation_len(&self) -> usize {
        first_adaptation_len(self.pcr.is_some(), self.random_access)
    }
}

/// Bytes of the first packet's adaptation field before stuffing:
/// length + flags, plus 6 for a PCR (§2.4.3.4).
pub(super) fn first_adaptation_len(pcr: bool, random_access: bool) -> usize {
    match (pcr, random_access) {
        (true, _) => 8,
        (false, true) => 2,
        (false, false) => 0,
    }
}

/// TS packets for a PES of `len` bytes whose first packet carries `af`
/// bytes of adaptation field; the last packet is stuffed, so this is
/// exact.
pub(super) fn packet_count(len: usize, af: usize) -> u64 {
    let first = TS_PAYLOAD_LEN - af;
    let rest = len.saturating_sub(first).div_ceil(TS_PAYLOAD_LEN);
    1 + rest as u64
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mux::ts::tests::{demux, parse_timestamp};
    use crate::mux::ts::{TsSegment, PSI_LEN};

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
    fn pes_header_encoding() {
        let (h, len) = pes_header(0xE0, 900_000, Some(892_500), 70_000);
        assert_eq!(len, 19);
        assert_eq!(&h[..9], &[0, 0, 1, 0xE0, 0, 0, 0x84, 0xC0, 10]);
        let (h, len) = pes_header(0xC0, 900_000, None, 100);
        assert_eq!(len, 14);
        assert_eq!(&h[..9], &[0, 0, 1, 0xC0, 0, 108, 0x84, 0x80, 5]);
        assert_eq!(parse_timestamp(&h[9..14], 0b0010), 900_000);
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
}
