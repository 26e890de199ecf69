//! A CPIX document (DASH-IF "Content Protection Information Exchange
//! Format", version 2.3): the content key of an asset and the signalling
//! of each DRM system that licenses it, as a key provider writes them.
//!
//! What is read (element names by local name, any namespace prefix, as
//! key servers write `cpix:`, `pskc:` or default namespaces):
//!
//! * `ContentKeyList/ContentKey` (§5.3.3): `@kid` (a UUID) and
//!   `Data/Secret/PlainValue`, the base64 of the 16-byte key (PSKC, RFC
//!   6030 §4.2). An `EncryptedValue` (a key encrypted for a recipient,
//!   CPIX §5.3.2 `DeliveryDataList`) is refused (501): no document key is
//!   configured here. Exactly one content key is supported: every track of
//!   the asset is encrypted with it. A document with more (key per track
//!   type, `ContentKeyUsageRuleList`, or key periods) is refused (501).
//! * `DRMSystemList/DRMSystem` (§5.3.6): `@systemId`, `@kid` (must be the
//!   content key's), `PSSH` (base64 of whole `pssh` boxes, ISO/IEC 23001-7
//!   §8.1), `ContentProtectionData` (base64 of the well-formed standalone
//!   XML to be added to the DASH `ContentProtection` element of the
//!   system), `HLSSignalingData` with `@playlist="media"` (base64 of the
//!   `#EXT-X-KEY` line(s) of media playlists) or `"master"` (of the
//!   `#EXT-X-SESSION-KEY` lines of the master playlist), and
//!   `SmoothStreamingProtectionHeaderData` (the Smooth `ProtectionHeader`
//!   content, kept for the Smooth `piff` output).
//!
//! Bounds: the document at most [`MAX_CPIX_BYTES`], at most
//! [`MAX_ELEMENTS`] elements and [`MAX_DRM_SYSTEMS`] systems. The key is
//! never in an error or `Debug` output ([`ContentKey`]'s `Debug` shows the
//! id only).

use super::ContentKey;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::fmt;

/// Largest CPIX document read (a document with one key and a few systems
/// is a few KB; PlayReady headers are the largest part).
pub const MAX_CPIX_BYTES: usize = 256 << 10;
/// Most elements read before the document is refused.
pub const MAX_ELEMENTS: usize = 4096;
/// Most `ContentKey` elements read (one is used).
pub const MAX_CONTENT_KEYS: usize = 64;
/// Most `DRMSystem` elements kept.
pub const MAX_DRM_SYSTEMS: usize = 16;

/// The FairPlay system id (`94ce86fb-07ff-4f43-adb8-93d2fa968ca2`).
pub const FAIRPLAY: [u8; 16] = [
    0x94, 0xce, 0x86, 0xfb, 0x07, 0xff, 0x4f, 0x43, 0xad, 0xb8, 0x93, 0xd2, 0xfa, 0x96, 0x8c, 0xa2,
];

/// Why a CPIX document cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpixError {
    /// Not a CPIX document, or a malformed one (502 at the edge).
    Invalid(String),
    /// Valid CPIX that this packager does not support (501).
    Unsupported(String),
}

impl CpixError {
    pub fn status(&self) -> u16 {
        match self {
            CpixError::Invalid(_) => 502,
            CpixError::Unsupported(_) => 501,
        }
    }
}

impl fmt::Display for CpixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpixError::Invalid(why) | CpixError::Unsupported(why) => f.write_str(why),
        }
    }
}

fn invalid(why: impl Into<String>) -> CpixError {
    CpixError::Invalid(why.into())
}

/// The signalling of one DRM system for the content key (CPIX §5.3.6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrmSystem {
    pub system_id: [u8; 16],
    /// Whole `pssh` boxes, checked to be `pssh` boxes of this system.
    pub pssh: Option<Vec<u8>>,
    /// The XML put inside (or, when it is one, as) the system's DASH
    /// `ContentProtection` element, checked to be well-formed.
    pub content_protection: Option<String>,
    /// `HLSSignalingData playlist="media"`: lines for media playlists.
    pub hls_media: Vec<String>,
    /// `HLSSignalingData playlist="master"`: lines for the master.
    pub hls_master: Vec<String>,
    /// `SmoothStreamingProtectionHeaderData`, as written (the base64
    /// content of a Smooth `ProtectionHeader`, MS-SSTR §2.2.2.2).
    pub smooth_header: Option<String>,
}

/// A parsed CPIX document: the one content key and the DRM systems'
/// signalling for it, in document order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpix {
    pub key: ContentKey,
    pub systems: Vec<DrmSystem>,
    /// The version of the document the outputs are made from (a digest of
    /// its bytes): output cache keys name it.
    pub version: String,
}

/// Which element's text is being gathered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    PlainValue,
    Pssh,
    ContentProtectionData,
    HlsMedia,
    HlsMaster,
    Smooth,
}

/// A `DRMSystem` being read, with its `@kid`.
struct OpenSystem {
    system: DrmSystem,
    kid: [u8; 16],
}

#[derive(Default)]
struct State {
    /// Content keys seen: id and key (if a plain value was read).
    keys: Vec<([u8; 16], Option<[u8; 16]>)>,
    systems: Vec<([u8; 16], DrmSystem)>,
    open_system: Option<OpenSystem>,
    in_content_key: bool,
    field: Option<Field>,
    text: String,
    root_seen: bool,
}

/// Parses a CPIX document.
pub fn parse(xml: &[u8]) -> Result<Cpix, CpixError> {
    if xml.len() > MAX_CPIX_BYTES {
        return Err(invalid(format!("larger than {MAX_CPIX_BYTES} bytes")));
    }
    let mut reader = Reader::from_reader(xml);
    let mut st = State::default();
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| {
            invalid(format!(
                "not well-formed XML at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        if matches!(event, Event::Start(_) | Event::Empty(_)) {
            elements += 1;
            if elements > MAX_ELEMENTS {
                return Err(invalid(format!("more than {MAX_ELEMENTS} elements")));
            }
        }
        match event {
            Event::Start(e) => st.open(&e, false)?,
            Event::Empty(e) => st.open(&e, true)?,
            Event::End(e) => st.close(e.local_name().as_ref())?,
            Event::Text(t) if st.field.is_some() => {
                // The error is not quoted: the text may be a key.
                let t = t
                    .unescape()
                    .map_err(|_| invalid("an element's text has a bad character reference"))?;
                st.text.push_str(&t);
            }
            Event::CData(t) if st.field.is_some() => {
                st.text.push_str(&String::from_utf8_lossy(&t));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    st.finish(etag_of(xml))
}

fn etag_of(xml: &[u8]) -> String {
    crate::http::etag::of_body(xml)
}

impl State {
    fn open(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), CpixError> {
        let name = e.local_name();
        let name = name.as_ref();
        if !self.root_seen {
            if name != b"CPIX" {
                return Err(invalid("the root element is not CPIX"));
            }
            self.root_seen = true;
            return Ok(());
        }
        match name {
            b"ContentKey" => {
                if self.keys.len() >= MAX_CONTENT_KEYS {
                    return Err(CpixError::Unsupported(format!(
                        "more than {MAX_CONTENT_KEYS} ContentKeys: one key for every track is supported"
                    )));
                }
                let kid = uuid_attr(e, "kid", "ContentKey@kid")?;
                self.keys.push((kid, None));
                self.in_content_key = !empty;
            }
            b"EncryptedValue" if self.in_content_key => {
                return Err(CpixError::Unsupported(
                    "the ContentKey is an EncryptedValue: only PlainValue keys are supported (no document key is configured)".into(),
                ));
            }
            b"PlainValue" if self.in_content_key && !empty => self.start(Field::PlainValue),
            b"DRMSystem" => {
                if self.systems.len() >= MAX_DRM_SYSTEMS {
                    return Err(invalid(format!("more than {MAX_DRM_SYSTEMS} DRMSystems")));
                }
                let system = DrmSystem {
                    system_id: uuid_attr(e, "systemId", "DRMSystem@systemId")?,
                    ..DrmSystem::default()
                };
                let kid = uuid_attr(e, "kid", "DRMSystem@kid")?;
                let open = OpenSystem { system, kid };
                if empty {
                    self.systems.push((open.kid, open.system));
                } else {
                    self.open_system = Some(open);
                }
            }
            b"PSSH" if !empty && self.open_system.is_some() => self.start(Field::Pssh),
            b"ContentProtectionData" if !empty && self.open_system.is_some() => {
                self.start(Field::ContentProtectionData)
            }
            b"SmoothStreamingProtectionHeaderData" if !empty && self.open_system.is_some() => {
                self.start(Field::Smooth)
            }
            b"HLSSignalingData" if !empty && self.open_system.is_some() => {
                let playlist = attr(e, "playlist")?;
                // CPIX 2.3 §5.3.6: without @playlist, the data is for
                // media playlists.
                match playlist.as_deref() {
                    None | Some("media") => self.start(Field::HlsMedia),
                    Some("master") => self.start(Field::HlsMaster),
                    Some(other) => {
                        return Err(invalid(format!(
                            "HLSSignalingData@playlist is {other:?}, not media or master"
                        )))
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn start(&mut self, field: Field) {
        self.field = Some(field);
        self.text.clear();
    }

    fn close(&mut self, name: &[u8]) -> Result<(), CpixError> {
        match name {
            b"ContentKey" => self.in_content_key = false,
            b"DRMSystem" => {
                if let Some(open) = self.open_system.take() {
                    self.systems.push((open.kid, open.system));
                }
            }
            _ => {}
        }
        let Some(field) = self.field.take() else {
            return Ok(());
        };
        let text = std::mem::take(&mut self.text);
        let text = text.trim();
        if field == Field::PlainValue {
            let key = decode16(text).ok_or_else(|| {
                invalid("a ContentKey's PlainValue is not the base64 of 16 bytes")
            })?;
            if let Some(last) = self.keys.last_mut() {
                last.1 = Some(key);
            }
            return Ok(());
        }
        let Some(open) = self.open_system.as_mut() else {
            return Ok(());
        };
        let sys = &mut open.system;
        let what = |el: &str| {
            format!(
                "DRMSystem {}: {el}",
                crate::manifest::dash::uuid(&sys.system_id)
            )
        };
        let bytes = STANDARD
            .decode(text.split_whitespace().collect::<String>())
            .map_err(|_| invalid(format!("{} is not base64", what("its data"))))?;
        match field {
            Field::PlainValue => {}
            Field::Pssh => {
                check_pssh(&bytes, &sys.system_id)
                    .map_err(|why| invalid(format!("{}: {why}", what("PSSH"))))?;
                sys.pssh = Some(bytes);
            }
            Field::ContentProtectionData => {
                let xml = String::from_utf8(bytes)
                    .map_err(|_| invalid(what("ContentProtectionData is not UTF-8")))?;
                check_fragment(&xml)
                    .map_err(|why| invalid(format!("{}: {why}", what("ContentProtectionData"))))?;
                sys.content_protection = Some(xml.trim().to_string());
            }
            Field::HlsMedia | Field::HlsMaster => {
                let lines = hls_lines(&bytes)
                    .map_err(|why| invalid(format!("{}: {why}", what("HLSSignalingData"))))?;
                if field == Field::HlsMedia {
                    sys.hls_media.extend(lines);
                } else {
                    sys.hls_master.extend(lines);
                }
            }
            Field::Smooth => sys.smooth_header = Some(STANDARD.encode(&bytes)),
        }
        Ok(())
    }

    fn finish(self, version: String) -> Result<Cpix, CpixError> {
        if !self.root_seen {
            return Err(invalid("no CPIX element"));
        }
        let (kid, key) = match self.keys.as_slice() {
            [] => return Err(invalid("no ContentKey")),
            [one] => *one,
            _ => {
                return Err(CpixError::Unsupported(format!(
                    "{} ContentKeys: one key for every track is supported",
                    self.keys.len()
                )))
            }
        };
        let key = key.ok_or_else(|| {
            CpixError::Unsupported(
                "the ContentKey has no PlainValue: keys are not generated here".into(),
            )
        })?;
        let mut systems = Vec::with_capacity(self.systems.len());
        for (sys_kid, sys) in self.systems {
            if sys_kid != kid {
                return Err(invalid(format!(
                    "DRMSystem {} is for key {}, not the ContentKey's",
                    crate::manifest::dash::uuid(&sys.system_id),
                    crate::manifest::dash::uuid(&sys_kid)
                )));
            }
            systems.push(sys);
        }
        Ok(Cpix {
            key: ContentKey { kid, key },
            systems,
            version,
        })
    }
}

/// An attribute's unescaped value, if present.
fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, CpixError> {
    for a in e.attributes() {
        let a = a.map_err(|e| invalid(format!("bad attribute: {e}")))?;
        if a.key.local_name().as_ref() == name.as_bytes() {
            let v = a
                .unescape_value()
                .map_err(|e| invalid(format!("bad attribute: {e}")))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn uuid_attr(e: &BytesStart<'_>, name: &str, what: &str) -> Result<[u8; 16], CpixError> {
    let v = attr(e, name)?.ok_or_else(|| invalid(format!("{what} is missing")))?;
    parse_uuid(&v).ok_or_else(|| invalid(format!("{what} is not a UUID")))
}

/// A UUID (RFC 4122, 8-4-4-4-12 hex digits; plain 32 digits accepted).
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.trim().bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// 16 bytes from base64 (standard alphabet, whitespace ignored).
fn decode16(text: &str) -> Option<[u8; 16]> {
    let compact: String = text.split_whitespace().collect();
    let bytes = STANDARD.decode(compact).ok()?;
    <[u8; 16]>::try_from(bytes.as_slice()).ok()
}

/// Whether `data` is one or more whole `pssh` boxes of `system`
/// (ISO/IEC 23001-7 §8.1.1: size, `pssh`, version and flags, SystemID).
fn check_pssh(data: &[u8], system: &[u8; 16]) -> Result<(), &'static str> {
    if data.is_empty() {
        return Err("empty");
    }
    let mut at = 0usize;
    while at < data.len() {
        let rest = &data[at..];
        if rest.len() < 32 {
            return Err("a truncated pssh box");
        }
        let size = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if size < 32 || size > rest.len() {
            return Err("a pssh box size that does not fit");
        }
        if &rest[4..8] != b"pssh" {
            return Err("not a pssh box");
        }
        if rest[8] > 1 {
            return Err("a pssh box of an unknown version");
        }
        if &rest[12..28] != system {
            return Err("a pssh box of another system");
        }
        at += size;
    }
    Ok(())
}

/// Whether `xml` is a well-formed XML fragment (balanced elements, no
/// declaration needed), so that inserting it keeps the MPD well-formed.
fn check_fragment(xml: &str) -> Result<(), String> {
    let mut reader = Reader::from_str(xml);
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "an unopened end tag".to_string())?
            }
            Ok(Event::Eof) => break,
            Ok(Event::Decl(_) | Event::DocType(_)) => {
                return Err("a declaration inside a fragment".into())
            }
            Ok(_) => {}
            Err(e) => return Err(format!("not well-formed XML: {e}")),
        }
    }
    if depth != 0 {
        return Err("an unclosed element".into());
    }
    Ok(())
}

/// The playlist lines of `HLSSignalingData`: UTF-8, each non-empty line
/// a tag (`#…`) without control characters, so nothing but tags can be
/// added to a playlist.
fn hls_lines(data: &[u8]) -> Result<Vec<String>, &'static str> {
    let text = std::str::from_utf8(data).map_err(|_| "not UTF-8")?;
    let mut lines = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !line.starts_with("#EXT") {
            return Err("a line that is not an #EXT tag");
        }
        if line.chars().any(char::is_control) {
            return Err("a control character in a tag");
        }
        lines.push(line.to_string());
    }
    if lines.is_empty() {
        return Err("no tag");
    }
    Ok(lines)
}

/// Whether a `ContentProtectionData` fragment is a whole DASH
/// `ContentProtection` element (its first element is one), to be written
/// as is, rather than the content of the system's element (CPIX 2.3
/// §5.3.6 allows either reading; key providers write both).
pub fn is_whole_element(fragment: &str) -> bool {
    let mut reader = Reader::from_str(fragment);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return e.local_name().as_ref() == b"ContentProtection"
            }
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

pub mod encoding;
pub mod request;

#[cfg(test)]
mod tests;
