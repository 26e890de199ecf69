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
//!   configured here. Several keys need a `ContentKeyUsageRuleList`
//!   (§5.3.5) saying which key encrypts which track ([`rules`]: video,
//!   audio and bitrate filters); a `KeyPeriodFilter` (key rotation), a
//!   `LabelFilter` or an unknown filter is refused (501). One key without
//!   rules encrypts every track, as before.
//! * `DRMSystemList/DRMSystem` (§5.3.6): `@systemId`, `@kid` (must be one
//!   of the content keys'), `PSSH` (base64 of whole `pssh` boxes, ISO/IEC 23001-7
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
/// Most `ContentKey` elements read.
pub const MAX_CONTENT_KEYS: usize = 64;
/// Most `DRMSystem` elements kept (all keys together).
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
    /// The content key this signalling is for (`DRMSystem@kid`).
    pub kid: [u8; 16],
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

/// A parsed CPIX document: its content keys, the usage rules mapping
/// them to tracks, and the DRM systems' signalling of each key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpix {
    /// The first content key (the only one of most documents).
    pub key: ContentKey,
    /// The other content keys, in document order.
    pub others: Vec<ContentKey>,
    /// `ContentKeyUsageRule`s, in document order (empty: `key` encrypts
    /// every track).
    pub rules: Vec<rules::UsageRule>,
    /// The DRM systems, grouped by key in key order (document order
    /// within a key), so [`Cpix::systems_of`] is a slice.
    pub systems: Vec<DrmSystem>,
    /// The version of the document the outputs are made from (a digest of
    /// its bytes): output cache keys name it.
    pub version: String,
}

impl Cpix {
    /// Every content key, the first one first.
    pub fn keys(&self) -> impl Iterator<Item = &ContentKey> + '_ {
        std::iter::once(&self.key).chain(&self.others)
    }

    /// The key whose id is `kid`.
    pub fn key_by_id(&self, kid: &[u8; 16]) -> Option<&ContentKey> {
        self.keys().find(|k| &k.kid == kid)
    }

    /// Whether tracks may have different keys.
    pub fn multi_key(&self) -> bool {
        !self.others.is_empty()
    }

    /// The key of a track with `traits` (`what` names it in errors): the
    /// one key without rules, else the one the rules give ([`rules`]).
    pub fn key_for(
        &self,
        traits: &rules::TrackTraits,
        what: &str,
    ) -> Result<&ContentKey, CpixError> {
        if self.rules.is_empty() {
            return Ok(&self.key);
        }
        let kid = rules::key_of(&self.rules, traits, what)?;
        // Every rule's kid was checked to be a key's when parsed.
        self.key_by_id(&kid)
            .ok_or_else(|| invalid("a ContentKeyUsageRule names no ContentKey"))
    }

    /// The DRM systems' signalling of key `kid`.
    pub fn systems_of(&self, kid: &[u8; 16]) -> &[DrmSystem] {
        let start = self.systems.iter().position(|s| &s.kid == kid);
        match start {
            None => &[],
            Some(a) => {
                let n = self.systems[a..]
                    .iter()
                    .take_while(|s| &s.kid == kid)
                    .count();
                &self.systems[a..a + n]
            }
        }
    }
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
    rules: Vec<rules::UsageRule>,
    open_rule: Option<rules::UsageRule>,
    in_content_key: bool,
    field: Option<Field>,
    text: String,
    root_seen: bool,
}

/// Parses a CPIX document.
pub fn parse(xml: &[u8]) -> Result<Cpix, CpixError> {
    parse_with_rules(xml, &[])
}

/// [`parse`] of a key provider's answer to a request that carried usage
/// rules (`asked`): an answer without a `ContentKeyUsageRuleList` keeps
/// the rules asked (SPEKE v2.0 providers echo them; one that drops them
/// still answered the contract it was asked).
pub fn parse_with_rules(xml: &[u8], asked: &[rules::UsageRule]) -> Result<Cpix, CpixError> {
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
    if st.rules.is_empty() {
        st.rules = asked.to_vec();
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
        if self.open_rule.is_some() {
            return self.filter(e, name);
        }
        match name {
            b"ContentKeyUsageRule" => {
                if self.rules.len() >= rules::MAX_RULES {
                    return Err(CpixError::Unsupported(format!(
                        "more than {} ContentKeyUsageRules",
                        rules::MAX_RULES
                    )));
                }
                let rule = rules::UsageRule {
                    kid: uuid_attr(e, "kid", "ContentKeyUsageRule@kid")?,
                    intended_track_type: attr(e, "intendedTrackType")?
                        .map(|t| t.chars().take(rules::MAX_TRACK_TYPE).collect()),
                    ..rules::UsageRule::default()
                };
                if empty {
                    self.rules.push(rule);
                } else {
                    self.open_rule = Some(rule);
                }
            }
            b"ContentKey" => {
                if self.keys.len() >= MAX_CONTENT_KEYS {
                    return Err(CpixError::Unsupported(format!(
                        "more than {MAX_CONTENT_KEYS} ContentKeys"
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

    /// A filter element inside a `ContentKeyUsageRule` (CPIX 2.3
    /// §5.3.5.2); anything but a video, audio or bitrate filter makes the
    /// rule unusable (501).
    fn filter(&mut self, e: &BytesStart<'_>, name: &[u8]) -> Result<(), CpixError> {
        let Some(rule) = self.open_rule.as_mut() else {
            return Ok(());
        };
        if rule.filter_count() >= rules::MAX_FILTERS {
            return Err(CpixError::Unsupported(format!(
                "a ContentKeyUsageRule with more than {} filters",
                rules::MAX_FILTERS
            )));
        }
        match name {
            b"VideoFilter" => rule.video.push(rules::VideoFilter {
                min_pixels: num_attr(e, "minPixels")?,
                max_pixels: num_attr(e, "maxPixels")?,
                hdr: bool_attr(e, "hdr")?,
                wcg: bool_attr(e, "wcg")?,
                min_fps: num_attr(e, "minFps")?,
                max_fps: num_attr(e, "maxFps")?,
            }),
            b"AudioFilter" => rule.audio.push(rules::AudioFilter {
                min_channels: num_attr(e, "minChannels")?,
                max_channels: num_attr(e, "maxChannels")?,
            }),
            b"BitrateFilter" => rule.bitrate.push(rules::BitrateFilter {
                min_bitrate: num_attr(e, "minBitrate")?,
                max_bitrate: num_attr(e, "maxBitrate")?,
            }),
            b"KeyPeriodFilter" => {
                return Err(CpixError::Unsupported(
                    "a KeyPeriodFilter: key rotation is not supported".into(),
                ))
            }
            b"LabelFilter" => {
                return Err(CpixError::Unsupported(
                    "a LabelFilter: no labels are agreed with this packager".into(),
                ))
            }
            other => {
                return Err(CpixError::Unsupported(format!(
                    "an unknown usage rule filter {:?} makes the rule unusable",
                    String::from_utf8_lossy(&other[..other.len().min(64)])
                )))
            }
        }
        // A filter has no children; its end tag is ignored by `close`.
        Ok(())
    }

    fn start(&mut self, field: Field) {
        self.field = Some(field);
        self.text.clear();
    }

    fn close(&mut self, name: &[u8]) -> Result<(), CpixError> {
        match name {
            b"ContentKeyUsageRule" => {
                if let Some(rule) = self.open_rule.take() {
                    self.rules.push(rule);
                }
            }
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
        if self.keys.is_empty() {
            return Err(invalid("no ContentKey"));
        }
        let mut keys = Vec::with_capacity(self.keys.len());
        for (kid, key) in &self.keys {
            let key = key.ok_or_else(|| {
                CpixError::Unsupported(format!(
                    "ContentKey {} has no PlainValue: keys are not generated here",
                    crate::manifest::dash::uuid(kid)
                ))
            })?;
            if keys.iter().any(|k: &ContentKey| k.kid == *kid) {
                return Err(invalid(format!(
                    "two ContentKeys with kid {}",
                    crate::manifest::dash::uuid(kid)
                )));
            }
            keys.push(ContentKey { kid: *kid, key });
        }
        let known = |kid: &[u8; 16]| keys.iter().any(|k| &k.kid == kid);
        if keys.len() > 1 && self.rules.is_empty() {
            return Err(CpixError::Unsupported(format!(
                "{} ContentKeys and no ContentKeyUsageRule saying which track each encrypts",
                keys.len()
            )));
        }
        for r in &self.rules {
            if !known(&r.kid) {
                return Err(invalid(format!(
                    "a ContentKeyUsageRule is for key {}, not a ContentKey's",
                    crate::manifest::dash::uuid(&r.kid)
                )));
            }
        }
        let mut systems = Vec::with_capacity(self.systems.len());
        for (sys_kid, mut sys) in self.systems {
            if !known(&sys_kid) {
                return Err(invalid(format!(
                    "DRMSystem {} is for key {}, not {}",
                    crate::manifest::dash::uuid(&sys.system_id),
                    crate::manifest::dash::uuid(&sys_kid),
                    if keys.len() == 1 {
                        "the ContentKey's"
                    } else {
                        "one of the ContentKeys'"
                    }
                )));
            }
            sys.kid = sys_kid;
            systems.push(sys);
        }
        // Grouped by key (a stable sort: document order within a key), so
        // one key's systems are one slice.
        systems.sort_by_key(|s| keys.iter().position(|k| k.kid == s.kid));
        let mut keys = keys.into_iter();
        let Some(key) = keys.next() else {
            return Err(invalid("no ContentKey"));
        };
        Ok(Cpix {
            key,
            others: keys.collect(),
            rules: self.rules,
            systems,
            version,
        })
    }
}

mod fields;
use fields::{
    attr, bool_attr, check_fragment, check_pssh, decode16, hls_lines, num_attr, uuid_attr,
};
pub use fields::{is_whole_element, parse_uuid};

pub mod encoding;
pub mod request;
pub mod rules;

#[cfg(test)]
mod tests;
