//! The checks for the codec bitstream readers that decide which bytes of
//! a sample Common Encryption protects: the AV1 frame header and tile
//! group reader (`codec::av1_frame`, AV1-ISOBMFF §7) and the H.265 slice
//! segment header measure (`codec::hevc_slice`, ISO/IEC 23001-7 §10.4.2).
//! Their input is the origin's: a sample entry's configuration record and
//! the samples. Besides "no panic", each asserts what the encrypter
//! relies on: ranges inside the sample, in order, bounded in number.
//!
//! Input framing (both targets): a big-endian `u16` length, that many
//! bytes of configuration record (`av1C` or `hvcC` body), then the
//! samples. [`av1_frame`] cuts the rest into samples each prefixed by a
//! big-endian `u32` length (the last one takes what is left);
//! [`hevc_slice`] reads the rest as one sample of NAL units with 4-byte
//! lengths, as ISO/IEC 14496-15 stores them. [`frame`] writes this
//! framing (for the seeds).

use bytes::Bytes;
use edgepack::codec::av1_frame::{Av1Parser, SequenceHeader};
use edgepack::codec::hevc_slice::{self, ParamSets};
use edgepack::mp4::codec::parse_hvcc;

/// Samples walked per input: a segment's worth at most; the mutator can
/// make thousands of one-byte samples.
const MAX_SAMPLES: usize = 256;
/// NAL units measured per input.
const MAX_NALS: usize = 1024;
/// Tile ranges per sample the parser may return (64 × 64 tiles, AV1
/// §A.3; `av1_frame`'s own cap).
const MAX_SAMPLE_TILES: usize = 4096;

/// The configuration record and the rest of `data`.
fn split_config(data: &[u8]) -> (&[u8], &[u8]) {
    let Some(len) = data.get(..2) else {
        return (&[], data);
    };
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let rest = &data[2..];
    let cut = len.min(rest.len());
    rest.split_at(cut)
}

/// The inverse of the split: `config` then `samples`, each `u32`-prefixed.
pub fn frame(config: &[u8], samples: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(config.len().min(0xFFFF) as u16).to_be_bytes());
    out.extend_from_slice(&config[..config.len().min(0xFFFF)]);
    for s in samples {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s);
    }
    out
}

/// `av1C` body + samples → [`SequenceHeader::from_av1c`] →
/// [`Av1Parser::tiles`] on each sample in turn (after an error too: the
/// parser's state must stay safe). Every tile range lies inside its
/// sample, the ranges are in order without overlap, and a sample has at
/// most 4096 of them.
pub fn av1_frame(data: &[u8]) {
    let (av1c, mut rest) = split_config(data);
    let seq: Option<SequenceHeader> = SequenceHeader::from_av1c(av1c).unwrap_or_default();
    let mut parser = Av1Parser::new(seq);
    for _ in 0..MAX_SAMPLES {
        if rest.is_empty() {
            break;
        }
        let sample = match rest.get(..4) {
            Some(n) => {
                let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize;
                let body = &rest[4..];
                let n = n.min(body.len());
                rest = &body[n..];
                &body[..n]
            }
            None => std::mem::take(&mut rest),
        };
        let Ok(tiles) = parser.tiles(sample) else {
            continue;
        };
        assert!(tiles.len() <= MAX_SAMPLE_TILES, "{} tiles", tiles.len());
        let mut end = 0;
        for t in &tiles {
            assert!(
                t.start >= end && t.start <= t.end && t.end <= sample.len(),
                "tile {t:?} after {end} in a {}-byte sample",
                sample.len()
            );
            end = t.end;
        }
    }
}

/// `hvcC` body + a sample → [`parse_hvcc`] → [`ParamSets::from_config`]
/// → [`hevc_slice::slice_header_len`] of each NAL unit: a measured header
/// ends inside its NAL unit (the encrypter splits the NAL there).
pub fn hevc_slice(data: &[u8]) {
    let (hvcc, mut rest) = split_config(data);
    let Ok(config) = parse_hvcc(&Bytes::copy_from_slice(hvcc), 0) else {
        return;
    };
    let ps = ParamSets::from_config(&config);
    for _ in 0..MAX_NALS {
        let Some(n) = rest.get(..4) else {
            break;
        };
        let n = (u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize).min(rest.len() - 4);
        let nal = &rest[4..4 + n];
        rest = &rest[4 + n..];
        if let Some(len) = hevc_slice::slice_header_len(nal, &ps) {
            assert!(
                len <= nal.len(),
                "header of {len} bytes in a {}-byte NAL unit",
                nal.len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The samples of a framed AV1 input.
    fn av1_samples(data: &[u8]) -> (&[u8], Vec<&[u8]>) {
        let (av1c, mut rest) = split_config(data);
        let mut out = Vec::new();
        while rest.len() >= 4 {
            let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            out.push(&rest[4..4 + n]);
            rest = &rest[4 + n..];
        }
        (av1c, out)
    }

    /// The committed seeds reach what the targets are for: the samples of
    /// the key frame's run read and most have tiles, and the HEVC seeds' slices are
    /// measured (a seed that failed early would leave the fuzzer at the
    /// first error path).
    #[test]
    fn seeds_reach_tiles_and_slice_headers() {
        let seed = std::fs::read("seeds/av1_frame/s2-0+12.av1").expect("run `drive codec-seeds`");
        let (av1c, samples) = av1_samples(&seed);
        let seq = SequenceHeader::from_av1c(av1c).expect("av1C");
        assert!(seq.is_some(), "the av1C carries a sequence header");
        let mut parser = Av1Parser::new(seq);
        assert_eq!(samples.len(), 12);
        let mut tiled = 0;
        for s in samples {
            // A sample showing an existing frame has no tiles.
            tiled += usize::from(!parser.tiles(s).expect("a fixture sample reads").is_empty());
        }
        assert!(tiled >= 6, "{tiled} of 12 fixture samples have tiles");
        let seed = std::fs::read("seeds/hevc_slice/s0.hevc").expect("run `drive codec-seeds`");
        let (hvcc, mut rest) = split_config(&seed);
        let ps =
            ParamSets::from_config(&parse_hvcc(&Bytes::copy_from_slice(hvcc), 0).expect("hvcC"));
        let mut measured = 0;
        while rest.len() >= 4 {
            let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            measured += usize::from(hevc_slice::slice_header_len(&rest[4..4 + n], &ps).is_some());
            rest = &rest[4 + n..];
        }
        assert!(measured > 0, "a slice of the fixture is measured");
    }
}
