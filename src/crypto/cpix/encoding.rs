//! The cached form of a parsed CPIX document: a compact binary encoding
//! of [`Cpix`], so a warm request decodes a few length-prefixed fields
//! instead of parsing XML again (65–146 µs per request before).
//!
//! Layout ([`ENCODING_VERSION`] 2: version 1 had one key and no rules),
//! integers big-endian:
//!
//! ```text
//! "EPCX" version:u8  kid[16] key[16]  doc_version:str16
//! systems:u8 { system_id[16] kid[16] pssh:opt32 content_protection:opt32
//!              hls_media:list hls_master:list smooth:opt32 }
//! others:u8 { kid[16] key[16] }
//! rules:u8 { kid[16] track_type:opt32
//!            video:u8 { opt64 min_pixels, max_pixels, min_fps, max_fps;
//!                       optbool hdr, wcg }
//!            audio:u8 { opt64 min_channels, max_channels }
//!            bitrate:u8 { opt64 min_bitrate, max_bitrate } }
//! str16  = len:u16 bytes          opt32 = 0:u8 | 1:u8 len:u32 bytes
//! list   = count:u16 { len:u32 bytes }
//! opt64  = 0:u8 | 1:u8 u64        optbool = 0:u8 | 1:u8 (false) | 2:u8 (true)
//! ```
//!
//! The bytes come back from a platform cache: [`decode`] checks every
//! length against what is left, caps every count ([`MAX_DRM_SYSTEMS`],
//! [`MAX_ELEMENTS`] lines, [`MAX_CONTENT_KEYS`], [`MAX_RULES`],
//! [`MAX_FILTERS`] per rule), checks UTF-8, checks that rules and systems
//! name a key, and refuses trailing bytes; a
//! bad entry is `None` (a miss: the document is read and parsed again),
//! never a panic.

use super::rules::{
    AudioFilter, BitrateFilter, UsageRule, VideoFilter, MAX_FILTERS, MAX_RULES, MAX_TRACK_TYPE,
};
use super::{Cpix, DrmSystem, MAX_CONTENT_KEYS, MAX_CPIX_BYTES, MAX_DRM_SYSTEMS, MAX_ELEMENTS};
use crate::crypto::ContentKey;

/// The version of the layout; bump it (and so the cache key,
/// [`crate::source::cpix`]) whenever the layout changes.
pub const ENCODING_VERSION: u8 = 2;
const MAGIC: &[u8; 4] = b"EPCX";
/// Largest entry decoded: the fields of a document of at most
/// [`MAX_CPIX_BYTES`], decoded from base64, are smaller than it.
const MAX_ENCODED: usize = 2 * MAX_CPIX_BYTES;

/// The cached form of `doc`.
pub fn encode(doc: &Cpix) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(MAGIC);
    out.push(ENCODING_VERSION);
    out.extend_from_slice(&doc.key.kid);
    out.extend_from_slice(&doc.key.key);
    str16(&mut out, &doc.version);
    // The parser keeps at most MAX_DRM_SYSTEMS (16).
    out.push(doc.systems.len().min(usize::from(u8::MAX)) as u8);
    for sys in doc.systems.iter().take(usize::from(u8::MAX)) {
        out.extend_from_slice(&sys.system_id);
        out.extend_from_slice(&sys.kid);
        opt32(&mut out, sys.pssh.as_deref());
        opt32(
            &mut out,
            sys.content_protection.as_deref().map(str::as_bytes),
        );
        list(&mut out, &sys.hls_media);
        list(&mut out, &sys.hls_master);
        opt32(&mut out, sys.smooth_header.as_deref().map(str::as_bytes));
    }
    // The parser keeps at most MAX_CONTENT_KEYS (64) keys, MAX_RULES (64)
    // rules of MAX_FILTERS (16) filters: each count fits a byte.
    let others = &doc.others[..doc.others.len().min(usize::from(u8::MAX))];
    out.push(others.len() as u8);
    for k in others {
        out.extend_from_slice(&k.kid);
        out.extend_from_slice(&k.key);
    }
    let rules = &doc.rules[..doc.rules.len().min(usize::from(u8::MAX))];
    out.push(rules.len() as u8);
    for r in rules {
        rule(&mut out, r);
    }
    out
}

fn rule(out: &mut Vec<u8>, r: &UsageRule) {
    out.extend_from_slice(&r.kid);
    opt32(out, r.intended_track_type.as_deref().map(str::as_bytes));
    let cap = |n: usize| n.min(usize::from(u8::MAX));
    out.push(cap(r.video.len()) as u8);
    for f in r.video.iter().take(cap(r.video.len())) {
        opt64(out, f.min_pixels);
        opt64(out, f.max_pixels);
        opt64(out, f.min_fps.map(u64::from));
        opt64(out, f.max_fps.map(u64::from));
        optbool(out, f.hdr);
        optbool(out, f.wcg);
    }
    out.push(cap(r.audio.len()) as u8);
    for f in r.audio.iter().take(cap(r.audio.len())) {
        opt64(out, f.min_channels.map(u64::from));
        opt64(out, f.max_channels.map(u64::from));
    }
    out.push(cap(r.bitrate.len()) as u8);
    for f in r.bitrate.iter().take(cap(r.bitrate.len())) {
        opt64(out, f.min_bitrate);
        opt64(out, f.max_bitrate);
    }
}

fn opt64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

fn optbool(out: &mut Vec<u8>, v: Option<bool>) {
    out.push(match v {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
}

fn str16(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

fn bytes32(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn opt32(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            bytes32(out, b);
        }
    }
}

fn list(out: &mut Vec<u8>, lines: &[String]) {
    let n = lines.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(n as u16).to_be_bytes());
    for l in &lines[..n] {
        bytes32(out, l.as_bytes());
    }
}

/// The document a cached entry holds, or `None` when the entry is not
/// one (another version, truncated, hostile).
pub fn decode(data: &[u8]) -> Option<Cpix> {
    if data.len() > MAX_ENCODED {
        return None;
    }
    let mut r = Reader { data };
    if r.take(4)? != MAGIC || r.u8()? != ENCODING_VERSION {
        return None;
    }
    let kid = r.array16()?;
    let key = r.array16()?;
    let n = usize::from(r.u16()?);
    let version = r.string(n)?;
    let systems_n = usize::from(r.u8()?);
    if systems_n > MAX_DRM_SYSTEMS {
        return None;
    }
    let mut systems = Vec::with_capacity(systems_n);
    for _ in 0..systems_n {
        let system_id = r.array16()?;
        let sys_kid = r.array16()?;
        let pssh = r.opt32()?.map(<[u8]>::to_vec);
        let content_protection = match r.opt32()? {
            Some(b) => Some(String::from_utf8(b.to_vec()).ok()?),
            None => None,
        };
        let hls_media = r.list()?;
        let hls_master = r.list()?;
        let smooth_header = match r.opt32()? {
            Some(b) => Some(String::from_utf8(b.to_vec()).ok()?),
            None => None,
        };
        systems.push(DrmSystem {
            system_id,
            kid: sys_kid,
            pssh,
            content_protection,
            hls_media,
            hls_master,
            smooth_header,
        });
    }
    let others_n = usize::from(r.u8()?);
    if others_n >= MAX_CONTENT_KEYS {
        return None;
    }
    let mut others = Vec::with_capacity(others_n);
    for _ in 0..others_n {
        let kid = r.array16()?;
        let key = r.array16()?;
        others.push(ContentKey { kid, key });
    }
    let rules_n = usize::from(r.u8()?);
    if rules_n > MAX_RULES {
        return None;
    }
    let mut rules = Vec::with_capacity(rules_n);
    for _ in 0..rules_n {
        rules.push(r.rule()?);
    }
    if !r.data.is_empty() {
        return None;
    }
    let doc = Cpix {
        key: ContentKey { kid, key },
        others,
        rules,
        systems,
        version,
    };
    // What the parser guarantees, so a forged entry cannot name a key
    // the document does not have.
    let known = |k: &[u8; 16]| doc.key_by_id(k).is_some();
    if !doc.rules.iter().all(|r| known(&r.kid)) || !doc.systems.iter().all(|s| known(&s.kid)) {
        return None;
    }
    Some(doc)
}

/// A cursor over the entry: every read checks what is left.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.data.len() {
            return None;
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        usize::try_from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok()
    }

    fn array16(&mut self) -> Option<[u8; 16]> {
        <[u8; 16]>::try_from(self.take(16)?).ok()
    }

    fn string(&mut self, n: usize) -> Option<String> {
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    fn opt32(&mut self) -> Option<Option<&'a [u8]>> {
        match self.u8()? {
            0 => Some(None),
            1 => {
                let n = self.u32()?;
                Some(Some(self.take(n)?))
            }
            _ => None,
        }
    }

    fn opt64(&mut self) -> Option<Option<u64>> {
        match self.u8()? {
            0 => Some(None),
            1 => {
                let b = self.array8()?;
                Some(Some(u64::from_be_bytes(b)))
            }
            _ => None,
        }
    }

    fn opt_u32(&mut self) -> Option<Option<u32>> {
        match self.opt64()? {
            None => Some(None),
            Some(v) => Some(Some(u32::try_from(v).ok()?)),
        }
    }

    fn optbool(&mut self) -> Option<Option<bool>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(false)),
            2 => Some(Some(true)),
            _ => None,
        }
    }

    fn array8(&mut self) -> Option<[u8; 8]> {
        <[u8; 8]>::try_from(self.take(8)?).ok()
    }

    /// A filter count, checked against the rule's cap.
    fn count(&mut self, total: &mut usize) -> Option<usize> {
        let n = usize::from(self.u8()?);
        *total += n;
        (*total <= MAX_FILTERS).then_some(n)
    }

    fn rule(&mut self) -> Option<UsageRule> {
        let kid = self.array16()?;
        let intended_track_type = match self.opt32()? {
            Some(b) if b.len() <= 4 * MAX_TRACK_TYPE => Some(String::from_utf8(b.to_vec()).ok()?),
            Some(_) => return None,
            None => None,
        };
        let mut total = 0;
        let n = self.count(&mut total)?;
        let mut video = Vec::with_capacity(n);
        for _ in 0..n {
            video.push(VideoFilter {
                min_pixels: self.opt64()?,
                max_pixels: self.opt64()?,
                min_fps: self.opt_u32()?,
                max_fps: self.opt_u32()?,
                hdr: self.optbool()?,
                wcg: self.optbool()?,
            });
        }
        let n = self.count(&mut total)?;
        let mut audio = Vec::with_capacity(n);
        for _ in 0..n {
            audio.push(AudioFilter {
                min_channels: self.opt_u32()?,
                max_channels: self.opt_u32()?,
            });
        }
        let n = self.count(&mut total)?;
        let mut bitrate = Vec::with_capacity(n);
        for _ in 0..n {
            bitrate.push(BitrateFilter {
                min_bitrate: self.opt64()?,
                max_bitrate: self.opt64()?,
            });
        }
        Some(UsageRule {
            kid,
            intended_track_type,
            video,
            audio,
            bitrate,
        })
    }

    fn list(&mut self) -> Option<Vec<String>> {
        let n = usize::from(self.u16()?);
        if n > MAX_ELEMENTS {
            return None;
        }
        // Each line costs at least its 4-byte length: a count larger than
        // what is left is refused before anything is allocated for it.
        if n.saturating_mul(4) > self.data.len() {
            return None;
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let len = self.u32()?;
            out.push(self.string(len)?);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Cpix {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cpix/abr.cpix.xml");
        super::super::parse(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn round_trips_every_field() {
        let doc = fixture();
        assert!(doc.systems.len() >= 3);
        assert!(doc.systems.iter().any(|s| !s.hls_media.is_empty()));
        let bytes = encode(&doc);
        assert_eq!(decode(&bytes), Some(doc));
        let empty = Cpix {
            key: ContentKey {
                kid: [1; 16],
                key: [2; 16],
            },
            others: Vec::new(),
            rules: Vec::new(),
            systems: Vec::new(),
            version: String::new(),
        };
        assert_eq!(decode(&encode(&empty)), Some(empty));
        let multi = multi_key();
        assert_eq!(multi.others.len(), 2);
        assert_eq!(multi.rules.len(), 3);
        assert_eq!(decode(&encode(&multi)), Some(multi));
    }

    /// A document with three keys and rules using every filter field.
    fn multi_key() -> Cpix {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/cpix/trackkeys.cpix.xml"
        );
        let mut doc = super::super::parse(&std::fs::read(path).unwrap()).unwrap();
        doc.rules[1].video.push(VideoFilter {
            min_pixels: Some(1),
            max_pixels: Some(u64::MAX),
            hdr: Some(true),
            wcg: Some(false),
            min_fps: Some(24),
            max_fps: Some(u32::MAX),
        });
        doc.rules[0].bitrate.push(BitrateFilter {
            min_bitrate: None,
            max_bitrate: Some(7),
        });
        doc
    }

    #[test]
    fn a_forged_rule_or_system_naming_no_key_is_a_miss() {
        let mut doc = multi_key();
        doc.rules[0].kid = [0xee; 16];
        assert_eq!(decode(&encode(&doc)), None);
        let mut doc = multi_key();
        if let Some(s) = doc.systems.first_mut() {
            s.kid = [0xee; 16];
            assert_eq!(decode(&encode(&doc)), None);
        }
    }

    #[test]
    fn hostile_bytes_are_a_miss_never_a_panic() {
        let bytes = encode(&fixture());
        // Every truncation, and trailing bytes.
        for n in 0..bytes.len() {
            assert_eq!(decode(&bytes[..n]), None, "truncated at {n}");
        }
        let multi = encode(&multi_key());
        for n in 0..multi.len() {
            assert_eq!(decode(&multi[..n]), None, "truncated at {n}");
        }
        for i in 0..multi.len() {
            let mut b = multi.clone();
            b[i] ^= 0xff;
            let _ = decode(&b);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        // Another layout version, the XML itself.
        let mut other = bytes.clone();
        other[4] = ENCODING_VERSION + 1;
        assert_eq!(decode(&other), None);
        assert_eq!(decode(b"<?xml version=\"1.0\"?><CPIX/>"), None);
        // Every byte flipped: no panic (most decode to None).
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xff;
            let _ = decode(&b);
        }
        // Counts and lengths larger than the entry.
        let mut huge = bytes[..4 + 1 + 32].to_vec();
        huge.extend_from_slice(&[0, 0, 255]);
        assert_eq!(decode(&huge), None, "255 systems");
        let mut lines = bytes[..4 + 1 + 32].to_vec();
        lines.extend_from_slice(&[0, 0, 1]);
        lines.extend_from_slice(&[0; 32]);
        lines.extend_from_slice(&[1, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(decode(&lines), None, "a 4 GB field");
        let mut list = bytes[..4 + 1 + 32].to_vec();
        list.extend_from_slice(&[0, 0, 1]);
        list.extend_from_slice(&[0; 32]);
        list.extend_from_slice(&[0, 0, 0xff, 0xff]);
        assert_eq!(decode(&list), None, "65535 lines in no bytes");
        assert_eq!(decode(&vec![0u8; MAX_ENCODED + 1]), None);
    }
}
