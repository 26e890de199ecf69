//! The Azure / IIS server manifest (`.ism`), a SMIL 2.0 document listing the
//! MP4 files of one title and the tracks to take from each.
//!
//! Layout (REFERENCES.md §1; W3C SMIL 2.0 §7 "Media Object Modules"):
//!
//! ```xml
//! <smil xmlns="http://www.w3.org/2001/SMIL20/Language">
//!   <head><meta name="clientManifestRelativePath" content="x.ismc"/></head>
//!   <body><switch>
//!     <video src="x_1000.mp4" systemBitrate="1000000">
//!       <param name="trackID" value="1" valuetype="data"/>
//!       <param name="trackName" value="video" valuetype="data"/>
//!     </video>
//!     <audio src="x_aac.mp4" systemBitrate="128000" systemLanguage="eng"/>
//!     <textstream src="x_eng.ismt"/>
//!   </switch></body>
//! </smil>
//! ```
//!
//! Only what packaging needs is kept: kind, file, bitrate, track id, track
//! name, language. `<meta>` (the `.ismc` pointer is a cache we regenerate),
//! unknown elements and unknown `<param>` names are ignored, so manifests
//! from other encoders (Unified Streaming, Wowza) still load. Namespaces are
//! optional: elements and attributes are matched by local name.
//!
//! The document comes from the origin, so it is treated as hostile: size and
//! track count are capped, every value is checked, and `src` must stay inside
//! the `.ism`'s directory. quick-xml does not expand DTD entities, so entity
//! bombs are not a concern.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::fmt;

/// Largest accepted `.ism`. Real ones are a few kilobytes.
pub const MAX_ISM_BYTES: usize = 1 << 20;
/// Most media elements in one `.ism`.
pub const MAX_TRACKS: usize = 64;
/// Deepest element nesting; a real `.ism` is 5 deep.
const MAX_DEPTH: usize = 32;
/// Longest `src` value.
const MAX_SRC_LEN: usize = 1024;
/// Longest language tag (BCP 47 tags in practice stay far below this).
const MAX_LANGUAGE_LEN: usize = 35;

/// Which SMIL media element a track came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IsmKind {
    /// `<video>`
    Video,
    /// `<audio>`
    Audio,
    /// `<textstream>`
    Text,
}

impl IsmKind {
    fn from_element(local_name: &[u8]) -> Option<IsmKind> {
        match local_name {
            b"video" => Some(IsmKind::Video),
            b"audio" => Some(IsmKind::Audio),
            b"textstream" => Some(IsmKind::Text),
            _ => None,
        }
    }

    fn element(self) -> &'static str {
        match self {
            IsmKind::Video => "video",
            IsmKind::Audio => "audio",
            IsmKind::Text => "textstream",
        }
    }
}

/// One media element of the `.ism`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsmTrack {
    pub kind: IsmKind,
    /// File (or relative path) next to the `.ism`; checked by
    /// [`validate_src`] and joined with [`resolve`].
    pub src: String,
    /// `systemBitrate`, bits per second; part of Azure's sub-resource URLs.
    pub system_bitrate: Option<u64>,
    /// `trackID` of the track inside `src` (ISO/IEC 14496-12 `tkhd`, ≥ 1).
    pub track_id: Option<u32>,
    /// `trackName`, the name Azure URLs address the track by; satisfies
    /// [`crate::url::is_valid_name`].
    pub track_name: Option<String>,
    /// `systemLanguage`, attribute or param (ISO 639-2 / BCP 47 as written).
    pub language: Option<String>,
}

/// The parsed `.ism`: its media elements in document order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerManifest {
    pub tracks: Vec<IsmTrack>,
}

/// Why an `.ism` was rejected. `pos` is the byte offset in the document of
/// the element (or XML error) concerned.
#[derive(Clone, Debug)]
pub enum IsmError {
    TooLarge {
        len: usize,
    },
    Xml {
        pos: u64,
        source: quick_xml::Error,
    },
    /// The root element is not `<smil>`, or there is none.
    NotSmil {
        pos: u64,
    },
    /// Structure the format does not allow (fixed reason).
    Structure {
        pos: u64,
        reason: &'static str,
    },
    TooManyTracks {
        pos: u64,
    },
    MissingSrc {
        pos: u64,
        element: &'static str,
    },
    InvalidSrc {
        pos: u64,
        reason: &'static str,
    },
    /// An attribute or param value outside its grammar.
    InvalidValue {
        pos: u64,
        name: &'static str,
        value: String,
    },
    NoTracks,
    /// [`resolve`] was given an unusable `.ism` object path or `src`.
    InvalidPath {
        what: &'static str,
        reason: &'static str,
    },
}

impl fmt::Display for IsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsmError::TooLarge { len } => {
                write!(f, ".ism is {len} bytes, more than {MAX_ISM_BYTES}")
            }
            IsmError::Xml { pos, source } => write!(f, ".ism byte {pos}: {source}"),
            IsmError::NotSmil { pos } => write!(f, ".ism byte {pos}: root element is not <smil>"),
            IsmError::Structure { pos, reason } => write!(f, ".ism byte {pos}: {reason}"),
            IsmError::TooManyTracks { pos } => {
                write!(f, ".ism byte {pos}: more than {MAX_TRACKS} tracks")
            }
            IsmError::MissingSrc { pos, element } => {
                write!(f, ".ism byte {pos}: <{element}> has no src")
            }
            IsmError::InvalidSrc { pos, reason } => write!(f, ".ism byte {pos}: src {reason}"),
            IsmError::InvalidValue { pos, name, value } => {
                let shown: String = value.chars().take(40).collect();
                write!(
                    f,
                    ".ism byte {pos}: invalid {name} '{}'",
                    shown.escape_debug()
                )
            }
            IsmError::NoTracks => write!(f, ".ism lists no tracks"),
            IsmError::InvalidPath { what, reason } => write!(f, "{what} {reason}"),
        }
    }
}

impl std::error::Error for IsmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IsmError::Xml { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Parse an `.ism` document.
pub fn parse(xml: &[u8]) -> Result<ServerManifest, IsmError> {
    if xml.len() > MAX_ISM_BYTES {
        return Err(IsmError::TooLarge { len: xml.len() });
    }
    let mut reader = Reader::from_reader(xml);
    // Whitespace stays a separate text event, so the position before an
    // element event is exactly its `<`.
    reader.config_mut().trim_text(false);
    let mut state = State::default();
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|source| IsmError::Xml {
            pos: reader.error_position(),
            source,
        })?;
        match event {
            Event::Start(e) => state.open(&e, pos, false)?,
            Event::Empty(e) => state.open(&e, pos, true)?,
            Event::End(_) => state.close()?,
            Event::Eof => break,
            // Declaration, comments, text, CDATA, PIs, DOCTYPE: nothing for us.
            _ => {}
        }
    }
    state.finish(reader.buffer_position())
}

/// The parser's position in the element tree.
#[derive(Default)]
struct State {
    depth: usize,
    seen_root: bool,
    /// Depth of the `<body>` element while inside it.
    body_depth: Option<usize>,
    /// The media element being read and its depth.
    open_track: Option<(IsmTrack, usize, u64)>,
    tracks: Vec<IsmTrack>,
}

impl State {
    fn open(&mut self, e: &BytesStart<'_>, pos: u64, empty: bool) -> Result<(), IsmError> {
        let name = e.local_name();
        let name = name.as_ref();
        let depth = self.depth;
        if depth == 0 {
            if self.seen_root {
                return Err(IsmError::Structure {
                    pos,
                    reason: "more than one root element",
                });
            }
            if name != b"smil" {
                return Err(IsmError::NotSmil { pos });
            }
            self.seen_root = true;
        } else if depth == 1 && name == b"body" && !empty {
            self.body_depth = Some(depth);
        } else if let Some(kind) = IsmKind::from_element(name).filter(|_| self.in_body()) {
            if self.open_track.is_some() {
                return Err(IsmError::Structure {
                    pos,
                    reason: "media element inside a media element",
                });
            }
            let track = track_from_attributes(kind, e, pos)?;
            if empty {
                self.push(track, pos)?;
            } else {
                self.open_track = Some((track, depth, pos));
            }
        } else if name == b"param" {
            if let Some((track, track_depth, _)) = &mut self.open_track {
                if depth == *track_depth + 1 {
                    apply_param(track, e, pos)?;
                }
            }
        }
        if !empty {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(IsmError::Structure {
                    pos,
                    reason: "elements nested too deeply",
                });
            }
        }
        Ok(())
    }

    fn in_body(&self) -> bool {
        self.body_depth.is_some()
    }

    /// An end tag; quick-xml has already checked it matches its start tag.
    fn close(&mut self) -> Result<(), IsmError> {
        self.depth = self.depth.saturating_sub(1);
        if let Some((_, track_depth, _)) = &self.open_track {
            if *track_depth == self.depth {
                if let Some((track, _, pos)) = self.open_track.take() {
                    self.push(track, pos)?;
                }
            }
        }
        if self.body_depth == Some(self.depth) {
            self.body_depth = None;
        }
        Ok(())
    }

    fn push(&mut self, track: IsmTrack, pos: u64) -> Result<(), IsmError> {
        if track.src.is_empty() {
            return Err(IsmError::MissingSrc {
                pos,
                element: track.kind.element(),
            });
        }
        validate_src(&track.src).map_err(|reason| IsmError::InvalidSrc { pos, reason })?;
        if self.tracks.len() >= MAX_TRACKS {
            return Err(IsmError::TooManyTracks { pos });
        }
        self.tracks.push(track);
        Ok(())
    }

    fn finish(self, end: u64) -> Result<ServerManifest, IsmError> {
        if !self.seen_root {
            return Err(IsmError::NotSmil { pos: end });
        }
        if self.depth != 0 {
            return Err(IsmError::Structure {
                pos: end,
                reason: "document ends inside an element",
            });
        }
        if self.tracks.is_empty() {
            return Err(IsmError::NoTracks);
        }
        Ok(ServerManifest {
            tracks: self.tracks,
        })
    }
}

/// The attributes a media element may carry. An absent `src` is recorded as
/// empty and reported when the element closes (after its params).
fn track_from_attributes(
    kind: IsmKind,
    e: &BytesStart<'_>,
    pos: u64,
) -> Result<IsmTrack, IsmError> {
    let mut track = IsmTrack {
        kind,
        src: String::new(),
        system_bitrate: None,
        track_id: None,
        track_name: None,
        language: None,
    };
    for attr in e.attributes() {
        let attr = attr.map_err(|err| IsmError::Xml {
            pos,
            source: err.into(),
        })?;
        let value = attr
            .unescape_value()
            .map_err(|source| IsmError::Xml { pos, source })?;
        let key = attr.key.local_name();
        if key.as_ref() == b"src" {
            track.src = value.into_owned();
        } else {
            set_field(&mut track, key.as_ref(), &value, pos)?;
        }
    }
    Ok(track)
}

/// `<param name=… value=…/>`: the known names override the element's
/// attributes (document order, so a later param wins); others are ignored.
fn apply_param(track: &mut IsmTrack, e: &BytesStart<'_>, pos: u64) -> Result<(), IsmError> {
    let mut name = None;
    let mut value = None;
    for attr in e.attributes() {
        let attr = attr.map_err(|err| IsmError::Xml {
            pos,
            source: err.into(),
        })?;
        let v = attr
            .unescape_value()
            .map_err(|source| IsmError::Xml { pos, source })?;
        match attr.key.local_name().as_ref() {
            b"name" => name = Some(v),
            b"value" => value = Some(v),
            _ => {}
        }
    }
    let Some(name) = name else {
        return Ok(());
    };
    match value {
        Some(value) => set_field(track, name.as_bytes(), &value, pos),
        None if is_known_field(name.as_bytes()) => Err(IsmError::InvalidValue {
            pos,
            name: "param",
            value: name.into_owned(),
        }),
        None => Ok(()),
    }
}

fn is_known_field(name: &[u8]) -> bool {
    matches!(
        name,
        b"systemBitrate" | b"trackID" | b"trackName" | b"systemLanguage"
    )
}

/// Set one of the typed fields from an attribute or param; unknown names
/// are ignored.
fn set_field(track: &mut IsmTrack, name: &[u8], value: &str, pos: u64) -> Result<(), IsmError> {
    let invalid = |name: &'static str| IsmError::InvalidValue {
        pos,
        name,
        value: value.to_string(),
    };
    match name {
        b"systemBitrate" => {
            track.system_bitrate =
                Some(parse_decimal(value).ok_or_else(|| invalid("systemBitrate"))?);
        }
        b"trackID" => {
            // ISO/IEC 14496-12 §8.3.2: track_ID 0 is not allowed.
            let id = parse_decimal(value)
                .and_then(|v| u32::try_from(v).ok())
                .filter(|&v| v != 0)
                .ok_or_else(|| invalid("trackID"))?;
            track.track_id = Some(id);
        }
        b"trackName" => {
            if !crate::url::is_valid_name(value) {
                return Err(invalid("trackName"));
            }
            track.track_name = Some(value.to_string());
        }
        b"systemLanguage" => {
            let ok = (1..=MAX_LANGUAGE_LEN).contains(&value.len())
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                return Err(invalid("systemLanguage"));
            }
            track.language = Some(value.to_string());
        }
        _ => {}
    }
    Ok(())
}

/// Plain decimal digits (no sign, no spaces) that fit in a `u64`.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Check that `src` names a file at or below the `.ism`'s directory: a
/// relative path without scheme, leading `/`, `\`, `.`/`..` or empty
/// segments, control characters, or `%`/`?`/`#` (we take `src` literally as
/// an object name, and an origin that percent-decodes could otherwise be
/// steered elsewhere). The error completes the sentence "src …".
pub fn validate_src(src: &str) -> Result<(), &'static str> {
    check_relative_path(src)
}

fn check_relative_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.len() > MAX_SRC_LEN {
        return Err("is too long");
    }
    if path.contains(':') {
        return Err("must not contain ':' (no scheme)");
    }
    if path.starts_with('/') {
        return Err("must be relative");
    }
    let bad_char = |c: char| matches!(c, '\\' | '%' | '?' | '#') || c.is_control();
    if path.chars().any(bad_char) {
        return Err("contains a character not allowed in a file name");
    }
    if path.split('/').any(|seg| matches!(seg, "" | "." | "..")) {
        return Err("has an empty, '.' or '..' segment");
    }
    Ok(())
}

/// Join the directory of the `.ism` object path with a track's `src`, giving
/// the MP4's object path (relative to the origin root, like
/// [`crate::url::Asset`] paths). Both inputs are checked, so the result never
/// leaves the `.ism`'s directory.
pub fn resolve(ism_path: &str, src: &str) -> Result<String, IsmError> {
    check_relative_path(ism_path).map_err(|reason| IsmError::InvalidPath {
        what: ".ism path",
        reason,
    })?;
    validate_src(src).map_err(|reason| IsmError::InvalidPath {
        what: "src",
        reason,
    })?;
    Ok(match ism_path.rfind('/') {
        Some(slash) => format!("{}/{src}", &ism_path[..slash]),
        None => src.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Modelled on Azure Media Encoder Standard output: three video
    /// bitrates, two audio languages (one via attribute, one via param), a
    /// text stream, `<meta>` in the head.
    const AZURE_ISM: &str = r#"<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<smil xmlns="http://www.w3.org/2001/SMIL20/Language">
  <head>
    <meta name="formats" content="mp4" />
    <meta name="clientManifestRelativePath" content="BigBuckBunny.ismc" />
  </head>
  <body>
    <switch>
      <video src="BigBuckBunny_3400.mp4" systemBitrate="3400000">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="video" valuetype="data" />
      </video>
      <video src="BigBuckBunny_2250.mp4" systemBitrate="2250000">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="video" valuetype="data" />
      </video>
      <video src="BigBuckBunny_1000.mp4" systemBitrate="1000000">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="video" valuetype="data" />
      </video>
      <audio src="BigBuckBunny_AAC_eng_ch2_128kbps.mp4" systemBitrate="128041" systemLanguage="eng">
        <param name="trackID" value="2" valuetype="data" />
        <param name="trackName" value="aac_eng_2_128041_2_1" valuetype="data" />
        <param name="accessibility" value="" valuetype="data" />
      </audio>
      <audio src="BigBuckBunny_AAC_spa_ch2_128kbps.mp4" systemBitrate="128041">
        <param name="systemLanguage" value="spa" valuetype="data" />
        <param name="trackID" value="2" valuetype="data" />
        <param name="trackName" value="aac_spa_2_128041_2_1" valuetype="data" />
        <param name="role" value="main" valuetype="data" />
      </audio>
      <textstream src="BigBuckBunny_eng.ismt" systemBitrate="1000" systemLanguage="eng">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="textstream_eng" valuetype="data" />
      </textstream>
    </switch>
  </body>
</smil>
"#;

    fn err(xml: &str) -> IsmError {
        match parse(xml.as_bytes()) {
            Err(e) => e,
            Ok(m) => panic!("expected an error, got {m:?}\n{xml}"),
        }
    }

    /// A minimal document around `body` (the contents of `<switch>`).
    fn doc(body: &str) -> String {
        format!("<smil><body><switch>{body}</switch></body></smil>")
    }

    #[test]
    fn azure_manifest() {
        let m = parse(AZURE_ISM.as_bytes()).expect("valid .ism");
        assert_eq!(m.tracks.len(), 6);
        let videos: Vec<_> = m
            .tracks
            .iter()
            .filter(|t| t.kind == IsmKind::Video)
            .map(|t| (t.src.as_str(), t.system_bitrate))
            .collect();
        assert_eq!(
            videos,
            [
                ("BigBuckBunny_3400.mp4", Some(3_400_000)),
                ("BigBuckBunny_2250.mp4", Some(2_250_000)),
                ("BigBuckBunny_1000.mp4", Some(1_000_000)),
            ]
        );
        assert!(m.tracks[..3].iter().all(|t| t.track_id == Some(1)
            && t.track_name.as_deref() == Some("video")
            && t.language.is_none()));
        assert_eq!(
            m.tracks[3],
            IsmTrack {
                kind: IsmKind::Audio,
                src: "BigBuckBunny_AAC_eng_ch2_128kbps.mp4".into(),
                system_bitrate: Some(128_041),
                track_id: Some(2),
                track_name: Some("aac_eng_2_128041_2_1".into()),
                language: Some("eng".into()),
            }
        );
        assert_eq!(m.tracks[4].language.as_deref(), Some("spa"));
        assert_eq!(
            m.tracks[4].track_name.as_deref(),
            Some("aac_spa_2_128041_2_1")
        );
        assert_eq!(
            m.tracks[5],
            IsmTrack {
                kind: IsmKind::Text,
                src: "BigBuckBunny_eng.ismt".into(),
                system_bitrate: Some(1000),
                track_id: Some(1),
                track_name: Some("textstream_eng".into()),
                language: Some("eng".into()),
            }
        );
    }

    #[test]
    fn namespaces_optional_and_prefixes_ignored() {
        let plain = doc(r#"<video src="a.mp4" systemBitrate="1"/>"#);
        let prefixed = r#"<s:smil xmlns:s="http://www.w3.org/2001/SMIL20/Language"><s:body><s:switch><s:video s:src="a.mp4" systemBitrate="1"/></s:switch></s:body></s:smil>"#;
        let a = parse(plain.as_bytes()).expect("plain");
        let b = parse(prefixed.as_bytes()).expect("prefixed");
        assert_eq!(a, b);
        assert_eq!(a.tracks[0].src, "a.mp4");
    }

    #[test]
    fn params_override_attributes() {
        let xml = doc(
            r#"<audio src="a.mp4" systemBitrate="1" systemLanguage="eng" trackName="x">
                 <param name="systemBitrate" value="2"/>
                 <param name="systemLanguage" value="fra"/>
                 <param name="trackName" value="y"/>
                 <param name="trackName" value="z"/>
                 <param name="unknown" value="whatever"/>
                 <param name="noValue"/>
                 <param value="noName"/>
               </audio>"#,
        );
        let t = &parse(xml.as_bytes()).expect("valid").tracks[0];
        assert_eq!(t.system_bitrate, Some(2));
        assert_eq!(t.language.as_deref(), Some("fra"));
        assert_eq!(t.track_name.as_deref(), Some("z"));
    }

    #[test]
    fn ignores_meta_unknown_elements_comments_and_nested_params() {
        let xml = r#"<?xml version="1.0"?>
<!DOCTYPE smil>
<!-- generated -->
<smil>
  <head><meta name="x" content="y"/><video src="../../head-is-ignored.mp4"/></head>
  <body>
    <par><switch>
      <ref src="not-a-track.mp4"/>
      <video src="v.mp4"><extra><param name="trackID" value="0"/></extra><![CDATA[ junk ]]></video>
    </switch></par>
  </body>
  <video src="after-body-is-ignored.mp4"/>
</smil>"#;
        let m = parse(xml.as_bytes()).expect("valid");
        assert_eq!(m.tracks.len(), 1);
        assert_eq!(m.tracks[0].src, "v.mp4");
        assert_eq!(m.tracks[0].track_id, None);
    }

    #[test]
    fn entities_are_unescaped() {
        let xml = doc(r#"<video src="a&amp;b.mp4"/>"#);
        assert_eq!(
            parse(xml.as_bytes()).expect("valid").tracks[0].src,
            "a&b.mp4"
        );
        let xml = doc(r#"<video src="a&#x2F;..&#x2F;b.mp4"/>"#);
        assert!(matches!(err(&xml), IsmError::InvalidSrc { .. }));
        let xml = doc(r#"<video src="&unknown;.mp4"/>"#);
        assert!(matches!(err(&xml), IsmError::Xml { .. }));
    }

    #[test]
    fn malformed_xml() {
        let cases = [
            "<smil><body><switch><video src=\"a.mp4\"></switch></body></smil>",
            "<smil><body><switch><video src=\"a.mp4\"/></body></smil>",
            "<smil><body><switch><video src=\"a.mp4\" src=\"b.mp4\"/></switch></body></smil>",
            "<smil><body><switch><video src=a.mp4/></switch></body></smil>",
            "<smil><body><switch><video src=\"a.mp4/></switch></body></smil>",
            "<smil><body><switch><video src=\"a.mp4\"/></switch></body></smil></smil>",
            "<smil><body><switch><video src=\"a.mp4\"/></switch></body>",
            "<smil><body><switch><video src=\"a.mp4\"/></switch></body></smil><smil/>",
            "<smil><body><switch><video src=\"a.mp4\"/></switch></body></smil",
            "<smil><body><switch><video src=\"a.mp4\"/><",
        ];
        for xml in cases {
            let e = err(xml);
            assert!(
                matches!(e, IsmError::Xml { .. } | IsmError::Structure { .. }),
                "{xml}: {e:?}"
            );
            assert!(e.to_string().starts_with(".ism byte "), "{e}");
        }
        for xml in ["", "   ", "not xml at all", "<?xml version=\"1.0\"?>"] {
            assert!(parse(xml.as_bytes()).is_err(), "{xml:?}");
        }
        assert!(parse(b"<smil>\xff\xfe</smil>").is_err());
        assert!(parse(b"<smil><body><video src=\"\xff.mp4\"/></body></smil>").is_err());
    }

    #[test]
    fn error_positions_point_at_the_element() {
        let xml = doc(r#"<video src="a.mp4"/><audio systemBitrate="1"/>"#);
        let at = xml.find("<audio").expect("present") as u64;
        match err(&xml) {
            IsmError::MissingSrc { pos, element } => {
                assert_eq!((pos, element), (at, "audio"));
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(
            err(&xml).to_string(),
            format!(".ism byte {at}: <audio> has no src")
        );
        let xml = doc(r#"<video src="a.mp4" systemBitrate="fast"/>"#);
        let at = xml.find("<video").expect("present") as u64;
        assert!(matches!(
            err(&xml),
            IsmError::InvalidValue { pos, name: "systemBitrate", .. } if pos == at
        ));
    }

    #[test]
    fn structure_errors() {
        assert!(matches!(err("<html/>"), IsmError::NotSmil { pos: 0 }));
        assert!(matches!(
            err("<?xml version=\"1.0\"?>\n<SMIL></SMIL>"),
            IsmError::NotSmil { pos: 22 }
        ));
        assert!(matches!(err("<smil/>"), IsmError::NoTracks));
        assert!(matches!(
            err("<smil><body><switch/></body></smil>"),
            IsmError::NoTracks
        ));
        assert!(matches!(
            err(&doc(r#"<video src="a.mp4"><audio src="b.mp4"/></video>"#)),
            IsmError::Structure { .. }
        ));
        let deep = format!(
            "<smil><body>{}{}</body></smil>",
            "<x>".repeat(100),
            "</x>".repeat(100)
        );
        assert!(matches!(err(&deep), IsmError::Structure { .. }));
    }

    #[test]
    fn missing_src() {
        for body in [
            "<video/>",
            "<video systemBitrate=\"1\"><param name=\"trackID\" value=\"1\"/></video>",
            "<textstream src=\"\"/>",
        ] {
            assert!(
                matches!(err(&doc(body)), IsmError::MissingSrc { .. }),
                "{body}"
            );
        }
    }

    #[test]
    fn hostile_src() {
        for src in [
            "../secret.mp4",
            "a/../../b.mp4",
            "./a.mp4",
            "a//b.mp4",
            "a/",
            "/etc/passwd",
            "//evil.example/x.mp4",
            "http://evil.example/x.mp4",
            "file:///etc/passwd",
            "C:\\media\\x.mp4",
            "..\\x.mp4",
            "a%2F..%2Fb.mp4",
            "a.mp4?x=1",
            "a.mp4#frag",
            "a&#10;b.mp4",
            "a&#0;b.mp4",
            "..",
            ".",
        ] {
            let xml = doc(&format!(r#"<video src="{src}"/>"#));
            assert!(
                matches!(
                    parse(xml.as_bytes()),
                    Err(IsmError::InvalidSrc { .. } | IsmError::Xml { .. })
                ),
                "{src}: {:?}",
                parse(xml.as_bytes())
            );
        }
        let long = "a".repeat(MAX_SRC_LEN + 1);
        assert!(matches!(
            err(&doc(&format!(r#"<video src="{long}"/>"#))),
            IsmError::InvalidSrc { .. }
        ));
        // Allowed: sub-directories, spaces, unicode.
        let xml = doc(r#"<video src="sub dir/vidéo 1.mp4"/>"#);
        assert_eq!(
            parse(xml.as_bytes()).expect("valid").tracks[0].src,
            "sub dir/vidéo 1.mp4"
        );
    }

    #[test]
    fn invalid_values() {
        let cases = [
            (r#"systemBitrate="""#, "systemBitrate"),
            (r#"systemBitrate="-1""#, "systemBitrate"),
            (r#"systemBitrate="+1""#, "systemBitrate"),
            (r#"systemBitrate=" 1""#, "systemBitrate"),
            (r#"systemBitrate="18446744073709551616""#, "systemBitrate"),
            (r#"trackID="0""#, "trackID"),
            (r#"trackID="4294967296""#, "trackID"),
            (r#"trackID="x""#, "trackID"),
            (r#"trackName="has space""#, "trackName"),
            (r#"trackName="a,b""#, "trackName"),
            (r#"trackName="""#, "trackName"),
            (r#"systemLanguage="""#, "systemLanguage"),
            (r#"systemLanguage="en_US""#, "systemLanguage"),
        ];
        for (attr, want) in cases {
            let xml = doc(&format!(r#"<video src="a.mp4" {attr}/>"#));
            assert!(
                matches!(err(&xml), IsmError::InvalidValue { name, .. } if name == want),
                "{attr}"
            );
            // The same through a param.
            let (name, value) = attr.split_once('=').expect("attr");
            let xml = doc(&format!(
                r#"<video src="a.mp4"><param name="{name}" value={value}/></video>"#
            ));
            assert!(
                matches!(err(&xml), IsmError::InvalidValue { name, .. } if name == want),
                "param {attr}"
            );
        }
        let xml = doc(
            r#"<video src="a.mp4" trackID="4294967295" systemBitrate="18446744073709551615"/>"#,
        );
        let t = &parse(xml.as_bytes()).expect("valid").tracks[0];
        assert_eq!(
            (t.track_id, t.system_bitrate),
            (Some(u32::MAX), Some(u64::MAX))
        );
        let xml = doc(r#"<video src="a.mp4"><param name="trackID"/></video>"#);
        assert!(matches!(
            err(&xml),
            IsmError::InvalidValue { name: "param", .. }
        ));
    }

    #[test]
    fn caps() {
        let one = r#"<video src="a.mp4"/>"#;
        let ok = doc(&one.repeat(MAX_TRACKS));
        assert_eq!(
            parse(ok.as_bytes()).expect("valid").tracks.len(),
            MAX_TRACKS
        );
        let too_many = doc(&one.repeat(MAX_TRACKS + 1));
        let at = (too_many.len() - "</switch></body></smil>".len() - one.len()) as u64;
        assert!(matches!(err(&too_many), IsmError::TooManyTracks { pos } if pos == at));
        let mut huge = doc(one).into_bytes();
        huge.resize(MAX_ISM_BYTES + 1, b' ');
        assert!(matches!(parse(&huge), Err(IsmError::TooLarge { .. })));
        // Exactly the cap, padded with whitespace, still parses.
        huge.truncate(MAX_ISM_BYTES);
        assert!(parse(&huge).is_ok());
    }

    #[test]
    fn resolve_joins_directory() {
        assert_eq!(
            resolve("abr/abr.ism", "video_720.mp4").ok().as_deref(),
            Some("abr/video_720.mp4")
        );
        assert_eq!(
            resolve("a/b/c.ism", "d/e.mp4").ok().as_deref(),
            Some("a/b/d/e.mp4")
        );
        assert_eq!(resolve("c.ism", "e.mp4").ok().as_deref(), Some("e.mp4"));
        for (ism, src) in [
            ("abr/abr.ism", "../x.mp4"),
            ("abr/abr.ism", "/x.mp4"),
            ("abr/abr.ism", "http://x/y.mp4"),
            ("abr/abr.ism", ""),
            ("/abr/abr.ism", "x.mp4"),
            ("../abr.ism", "x.mp4"),
            ("a//abr.ism", "x.mp4"),
            ("", "x.mp4"),
        ] {
            assert!(
                matches!(resolve(ism, src), Err(IsmError::InvalidPath { .. })),
                "{ism} + {src}"
            );
        }
        assert_eq!(
            resolve("abr/abr.ism", "../x.mp4")
                .err()
                .map(|e| e.to_string()),
            Some("src has an empty, '.' or '..' segment".to_string())
        );
    }

    #[test]
    fn resolve_agrees_with_url_asset_paths() {
        let route = crate::url::parse("/vod/abr/abr.ism/manifest", None);
        let Ok(crate::url::Route::Stream(req)) = route else {
            panic!("{route:?}");
        };
        let crate::url::Asset::Ism { path } = req.asset else {
            panic!("{:?}", req.asset);
        };
        let m = parse(AZURE_ISM.as_bytes()).expect("valid");
        let mp4 = resolve(&path, &m.tracks[0].src).expect("resolves");
        assert_eq!(mp4, "vod/abr/BigBuckBunny_3400.mp4");
    }

    /// Truncating a valid document anywhere, or flipping bytes, never panics.
    #[test]
    fn truncations_and_corruptions_never_panic() {
        let bytes = AZURE_ISM.as_bytes();
        for end in 0..bytes.len() {
            let _ = parse(&bytes[..end]);
        }
        let mut state: u32 = 0x1234_5678;
        for _ in 0..2000 {
            let mut b = bytes.to_vec();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let at = state as usize % b.len();
                b[at] = (state >> 8) as u8;
            }
            if let Ok(m) = parse(&b) {
                assert!(m.tracks.iter().all(|t| validate_src(&t.src).is_ok()));
            }
        }
    }
}
