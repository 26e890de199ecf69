//! Transport stream packets (§2.4.3.2 syntax, §2.4.3.3 semantics): the
//! 4-byte header with `payload_unit_start_indicator` and
//! `continuity_counter`, the adaptation field (§2.4.3.4, §2.4.3.5) with
//! `random_access_indicator`, PCR and stuffing, and the payload copied out
//! of a PES's pieces. Like shaka-packager's `ts_packet`.

use super::pes::Pes;
use super::time::PTS_MASK;
use super::{TsSegment, TS_PACKET_LEN};
use bytes::BufMut;

/// Payload room after the 4-byte packet header.
pub(super) const TS_PAYLOAD_LEN: usize = TS_PACKET_LEN - 4;

/// Where the packetizer is: packets emitted so far and, inside the
/// current PES, the packet index and the payload read position.
#[derive(Clone, Debug)]
pub(super) struct Cursor {
    pub(super) packets: u64,
    pes: usize,
    pes_packet: u64,
    written: usize,
    /// 0 is the PES header, `n` is `pieces[n - 1]`.
    piece: usize,
    offset: usize,
    pub(super) cc: Vec<u8>,
}

impl Cursor {
    pub(super) fn new(tracks: usize) -> Self {
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

impl TsSegment {
    /// Writes the packet at `cur`; false when the segment is complete.
    pub(super) fn write_packet<B: BufMut>(&self, cur: &mut Cursor, out: &mut B) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcr_bit_layout() {
        // ffmpeg's first PCR (0.7 s): base 63000, extension 0.
        assert_eq!(pcr_field(63_000), [0x00, 0x00, 0x7B, 0x0C, 0x7E, 0x00]);
        assert_eq!(pcr_field(PTS_MASK), [0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0x00]);
    }
}
