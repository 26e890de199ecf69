//! Tracks with several sample descriptions (ISO/IEC 14496-12 §8.5.2: a
//! `stsd` may hold several entries, and `stsc` says per chunk which one its
//! samples use, §8.7.4).
//!
//! CMAF wants one sample entry per track (ISO/IEC 23000-19 §7.3.2.1), and
//! an HLS or DASH rendition has one init segment. A track whose entries
//! are byte-identical (ffmpeg and concatenation tools write duplicates) is
//! one description. A video track whose entries are of one codec family
//! (`avc1`/`avc3`, or `hvc1`/`hev1`) but carry different decoder
//! configurations (SPS/PPS, size, profile, level) is packaged with
//! *in-band* parameter sets: the init segment's entry becomes `avc3`
//! (ISO/IEC 14496-15 §5.4.2) or `hev1` (§8.4.1), which let parameter sets
//! travel in the samples, and every sync sample is sent with its own
//! description's parameter sets before its NAL units
//! ([`crate::index::TrackIndex::param_prefix`]). Anything else (audio
//! entries that differ, mixed codecs, text) is refused with the difference
//! named.

use super::error::{Mp4Error, Result};
use super::stsd::{parse_sample_entry, SampleEntry};
use crate::model::Codec;
use bytes::Bytes;

/// Several distinct descriptions of one track, packaged in-band.
#[derive(Clone, Debug, PartialEq)]
pub struct Descriptions {
    /// The distinct entries (duplicates merged), in `stsd` order.
    pub entries: Vec<SampleEntry>,
    /// For each `stsd` entry (0-based), its index in `entries`.
    pub map: Vec<u8>,
}

/// The entry a track is packaged with, and its distinct descriptions when
/// it has more than one.
pub fn combine(
    all: Vec<SampleEntry>,
    path: &str,
    offset: u64,
) -> Result<(SampleEntry, Option<Descriptions>)> {
    let mut entries: Vec<SampleEntry> = Vec::new();
    let mut map = Vec::with_capacity(all.len());
    for e in all {
        let at = match entries.iter().position(|d| d.raw == e.raw) {
            Some(i) => i,
            None => {
                entries.push(e);
                entries.len() - 1
            }
        };
        // At most `MAX_SAMPLE_ENTRIES` (16) entries: fits a byte.
        map.push(at as u8);
    }
    let Some(first) = entries.first().cloned() else {
        return Err(Mp4Error::invalid(path, offset, "stsd has no sample entry"));
    };
    if entries.len() == 1 {
        return Ok((first, None));
    }
    let refuse = |why: String| Mp4Error::unsupported(path, offset, why);
    let family = |e: &SampleEntry| match (&e.fourcc.0, &e.codec) {
        (b"avc1" | b"avc3", Codec::Avc(c)) => Some((b"avc3", c.nal_length_size)),
        (b"hvc1" | b"hev1", Codec::Hevc(c)) => Some((b"hev1", c.nal_length_size)),
        _ => None,
    };
    for e in &entries[1..] {
        if family(e).is_none() || family(e) != family(&first) {
            return Err(refuse(differ(&first, e)));
        }
    }
    let Some((fourcc, _)) = family(&first) else {
        return Err(refuse(differ(&first, &entries[1])));
    };
    let entry = in_band_entry(&entries, fourcc, path)?;
    Ok((entry, Some(Descriptions { entries, map })))
}

/// "audio sample descriptions differ: mp4a 44100 Hz 2 ch vs mp4a 48000 Hz
/// 2 ch": what a 501 says about two descriptions we cannot package as one.
fn differ(a: &SampleEntry, b: &SampleEntry) -> String {
    let say = |e: &SampleEntry| {
        if e.sample_rate > 0 {
            format!("{} {} Hz {} ch", e.codec_string, e.sample_rate, e.channels)
        } else if e.width > 0 {
            format!("{} {}x{}", e.codec_string, e.width, e.height)
        } else {
            e.codec_string.clone()
        }
    };
    let what = if a.sample_rate > 0 && b.sample_rate > 0 {
        "audio sample descriptions"
    } else {
        "sample descriptions"
    };
    format!(
        "{what} differ: {} vs {} (only AVC or HEVC video descriptions of one family can change mid-track)",
        say(a),
        say(b)
    )
}

/// The first description as an `avc3`/`hev1` entry whose size is the
/// largest of the descriptions' (players size their buffers from it) and
/// whose configuration record names the highest profile and level (the
/// codec string, ISO/IEC 14496-15 Annex E, is derived from it).
fn in_band_entry(entries: &[SampleEntry], fourcc: &[u8; 4], path: &str) -> Result<SampleEntry> {
    let first = &entries[0];
    let mut raw = first.raw.to_vec();
    // Box header (8, or 16 with a 64-bit `largesize`, §4.2), SampleEntry
    // (8), VisualSampleEntry up to width (16): width at header + 24,
    // height at header + 26 (§12.1.3.2); `parse_entry` checked the entry
    // is long enough.
    let header = if raw.get(..4) == Some(&[0, 0, 0, 1][..]) {
        16
    } else {
        8
    };
    let width = entries.iter().map(|e| e.width).max().unwrap_or(0);
    let height = entries.iter().map(|e| e.height).max().unwrap_or(0);
    if raw.len() < header + 78 {
        return Err(Mp4Error::truncated(
            path,
            0,
            "visual sample entry cut short",
        ));
    }
    raw[4..8].copy_from_slice(fourcc);
    raw[header + 24..header + 26].copy_from_slice(&(width.min(0xffff) as u16).to_be_bytes());
    raw[header + 26..header + 28].copy_from_slice(&(height.min(0xffff) as u16).to_be_bytes());
    if let Some((at, len)) = config_record(&raw, header) {
        // (profile bytes from the highest profile, level the highest).
        match &first.codec {
            Codec::Avc(_) => {
                let avc = |e: &SampleEntry| match &e.codec {
                    Codec::Avc(c) => (c.profile, c.compatibility, c.level),
                    _ => (0, 0, 0),
                };
                let top = entries.iter().map(avc).max().unwrap_or_default();
                let level = entries.iter().map(|e| avc(e).2).max().unwrap_or(0);
                if raw.len() > at + 3 {
                    raw[at + 1] = top.0;
                    raw[at + 2] = top.1;
                    raw[at + 3] = level;
                }
            }
            Codec::Hevc(_) => {
                let top = entries
                    .iter()
                    .filter_map(|e| match &e.codec {
                        Codec::Hevc(c) => Some((c.general_profile_idc, c.record.clone())),
                        _ => None,
                    })
                    .max_by_key(|(p, _)| *p);
                let level = entries
                    .iter()
                    .filter_map(|e| match &e.codec {
                        Codec::Hevc(c) => Some(c.general_level_idc),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0);
                if let Some((_, rec)) = top.filter(|(_, r)| r.len() > 12 && raw.len() > at + 12) {
                    raw[at + 1..at + 12].copy_from_slice(&rec[1..12]);
                    raw[at + 12] = level;
                }
                clear_array_completeness(&mut raw[at..at + len]);
            }
            _ => {}
        }
    }
    parse_sample_entry(Bytes::from(raw), path)
}

/// Sets `array_completeness` to 0 in every array of the `hvcC` record
/// `rec`: an `hev1` entry's parameter sets may also be in the stream
/// (ISO/IEC 14496-15 §8.3.3.1.2; §8.4.1.1.2 makes 0 the `hev1` default),
/// and ours are, at every sync sample; an `hvc1` source's 1 would tell a
/// decoder there are none. Stops at the first array the record cuts short
/// (each step moves on at least two bytes, so the walk is bounded by it).
fn clear_array_completeness(rec: &mut [u8]) {
    let Some(&arrays) = rec.get(22) else { return };
    let mut at = 23usize;
    for _ in 0..arrays {
        let Some(b) = rec.get_mut(at) else { return };
        *b &= 0x7f;
        let Some(k) = rec.get(at + 1..at + 3) else {
            return;
        };
        let nalus = u16::from_be_bytes([k[0], k[1]]);
        at += 3;
        for _ in 0..nalus {
            let Some(l) = rec.get(at..at + 2) else { return };
            at += 2 + usize::from(u16::from_be_bytes([l[0], l[1]]));
        }
    }
}

/// Where the payload of the entry's `avcC`/`hvcC` starts in `raw` (whose
/// box header is `header` bytes long), and its length.
fn config_record(raw: &[u8], header: usize) -> Option<(usize, usize)> {
    let mut at = header + 78;
    while at + 8 <= raw.len() {
        let size = u32::from_be_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
        // Checked: on wasm32 `at + size` could wrap back into the entry
        // and walk it forever.
        let size = usize::try_from(size).ok()?;
        if size < 8 || at.checked_add(size)? > raw.len() {
            return None;
        }
        if &raw[at + 4..at + 8] == b"avcC" || &raw[at + 4..at + 8] == b"hvcC" {
            return Some((at + 8, size - 8));
        }
        at += size;
    }
    None
}

/// A description's parameter sets as the NAL units of a sample: each
/// prefixed with its length in `nal_length_size` bytes (ISO/IEC 14496-15
/// §5.3.2), VPS then SPS then PPS (the order §7.4.2.4.4 of H.265 and
/// §7.4.1.2.3 of H.264 want before the first slice).
pub fn parameter_set_prefix(entry: &SampleEntry) -> Option<Bytes> {
    let (l, sets): (u8, Vec<&Bytes>) = match &entry.codec {
        Codec::Avc(c) => (c.nal_length_size, c.sps.iter().chain(&c.pps).collect()),
        Codec::Hevc(c) => (
            c.nal_length_size,
            c.vps.iter().chain(&c.sps).chain(&c.pps).collect(),
        ),
        _ => return None,
    };
    let mut out = Vec::new();
    for ps in sets {
        let len = ps.len() as u64;
        if l == 0 || l > 4 || len >= 1u64 << (8 * u32::from(l)) {
            return None;
        }
        out.extend_from_slice(&len.to_be_bytes()[8 - usize::from(l)..]);
        out.extend_from_slice(ps);
    }
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests;
