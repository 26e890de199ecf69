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

use quick_xml::events::attributes::Attribute;
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
/// Most attributes on one element. A real `.ism` element has at most five
/// (`src`, `systemBitrate`, `systemLanguage`, `xmlns`…); the cap keeps the
/// per-element work constant (attributes are read in one pass, duplicates
/// found by sorting at most this many names), where quick-xml's own
/// duplicate check compares every attribute with every earlier one: ~95 000
/// attributes on one element cost 9 s of CPU.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most elements in one `.ism`. A real one has a few per track (the media
/// element and its `<param>`s), so [`MAX_TRACKS`] tracks need a few
/// hundred; the cap bounds a document of a million empty elements.
pub const MAX_ELEMENTS: usize = 4096;

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
    /// `<param name="role" value="subtitle|caption|forced|description"/>`
    /// on a `<textstream>`: what the text is for (see [`TextRole`]).
    pub role: Option<TextRole>,
    /// `<param name="accessibility" value="sdh"/>`: subtitles for the deaf
    /// and hard of hearing (dialogue plus music and sound).
    pub sdh: bool,
}

/// What a text track is for, from a `<textstream>`'s `role` param. Maps
/// to HLS `FORCED`/`CHARACTERISTICS` (RFC 8216 §4.3.4.1, Apple HLS
/// authoring spec) and DASH `Role` (ISO/IEC 23009-1 §5.8.5.5, DASH-IF IOP
/// `forced-subtitle`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TextRole {
    /// Translation of the dialogue (the default).
    #[default]
    Subtitle,
    /// Closed captions: dialogue and sounds, for viewers who cannot hear.
    Caption,
    /// Forced narrative: only foreign-language dialogue and on-screen text.
    Forced,
    /// Text description of the video, for viewers who cannot see it.
    Description,
}

impl TextRole {
    fn parse(v: &str) -> Option<TextRole> {
        Some(match v {
            "subtitle" => TextRole::Subtitle,
            "caption" => TextRole::Caption,
            "forced" | "forced-subtitle" => TextRole::Forced,
            "description" => TextRole::Description,
            _ => return None,
        })
    }
}

/// The parsed `.ism`: its media elements in document order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerManifest {
    pub tracks: Vec<IsmTrack>,
    /// CEA-608/708 captions in the video, as `<meta name="closedCaptions"
    /// content="…"/>` in `<head>` declares them ([`super::captions`]).
    pub captions: Option<super::captions::Captions>,
}

/// Why an `.ism` was rejected. `pos` is the byte offset in the document of
/// the element (or XML error) concerned.
#[derive(Clone, Debug)]
pub enum IsmError {
    /// Larger than [`MAX_ISM_BYTES`]. The size is kept for logs but never
    /// shown: the object may not be an `.ism` at all.
    TooLarge {
        len: usize,
    },
    Xml {
        pos: u64,
        source: quick_xml::Error,
    },
    /// The document does not start as a SMIL document (no `<smil>` root,
    /// or not XML before one). Shown without position or detail: an object
    /// that is not an `.ism` must not have its bytes or size quoted back
    /// (issue 13: errors leak nothing of non-media objects).
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
    /// An element with more than [`MAX_ATTRIBUTES`] attributes.
    TooManyAttributes {
        pos: u64,
    },
    /// More than [`MAX_ELEMENTS`] elements.
    TooManyElements {
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
            IsmError::TooLarge { .. } => {
                write!(f, ".ism is larger than {MAX_ISM_BYTES} bytes")
            }
            IsmError::Xml { pos, source } => write!(f, ".ism byte {pos}: {source}"),
            IsmError::NotSmil { .. } => f.write_str("not a server manifest (SMIL .ism)"),
            IsmError::Structure { pos, reason } => write!(f, ".ism byte {pos}: {reason}"),
            IsmError::TooManyTracks { pos } => {
                write!(f, ".ism byte {pos}: more than {MAX_TRACKS} tracks")
            }
            IsmError::TooManyAttributes { pos } => write!(
                f,
                ".ism byte {pos}: more than {MAX_ATTRIBUTES} attributes on one element"
            ),
            IsmError::TooManyElements { pos } => {
                write!(f, ".ism byte {pos}: more than {MAX_ELEMENTS} elements")
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
    let mut elements = 0usize;
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|source| {
            let pos = reader.error_position();
            // Before the root is known to be <smil>, an XML error would
            // quote an arbitrary object's bytes: say only what it is not.
            if state.seen_root {
                IsmError::Xml { pos, source }
            } else {
                IsmError::NotSmil { pos }
            }
        })?;
        if matches!(event, Event::Start(_) | Event::Empty(_)) {
            elements += 1;
            if elements > MAX_ELEMENTS {
                return Err(IsmError::TooManyElements { pos });
            }
        }
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
    captions: Option<super::captions::Captions>,
}

impl State {
    fn open(&mut self, e: &BytesStart<'_>, pos: u64, empty: bool) -> Result<(), IsmError> {
        let name = e.local_name();
        let name = name.as_ref();
        let depth = self.depth;
        if depth == 0 {
            self.root(name, pos)?;
        }
        // After the root check: an object that is not an `.ism` is
        // `NotSmil` whatever its first element holds, never an error that
        // quotes a position in it (fuzz finding F5).
        count_attributes(e, pos)?;
        // At depth 0 the element is `<smil>` now, which none of these is.
        if depth == 1 && name == b"body" && !empty {
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
        } else if name == b"meta" && !self.in_body() {
            self.meta(e, pos)?;
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

    /// The root element: the first, and `<smil>`.
    fn root(&mut self, name: &[u8], pos: u64) -> Result<(), IsmError> {
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
        Ok(())
    }

    /// A `<head>` `<meta>`: only `closedCaptions` is read (the `.ismc`
    /// pointer and others are ignored).
    fn meta(&mut self, e: &BytesStart<'_>, pos: u64) -> Result<(), IsmError> {
        let (mut name, mut content) = (None, None);
        for a in e.attributes().flatten() {
            let value = a.unescape_value().map(|v| v.into_owned()).ok();
            match a.key.local_name().as_ref() {
                b"name" => name = value,
                b"content" => content = value,
                _ => {}
            }
        }
        if name.as_deref() == Some("closedCaptions") {
            let content = content.unwrap_or_default();
            self.captions =
                Some(
                    super::captions::parse(&content).map_err(|_| IsmError::InvalidValue {
                        pos,
                        name: "closedCaptions",
                        value: content.chars().take(64).collect(),
                    })?,
                );
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
            captions: self.captions,
        })
    }
}

/// [`MAX_ATTRIBUTES`] for any element, counted without parsing values
/// (elements we ignore are not otherwise looked at).
fn count_attributes(e: &BytesStart<'_>, pos: u64) -> Result<(), IsmError> {
    let mut attrs = e.attributes();
    attrs.with_checks(false);
    if attrs.take(MAX_ATTRIBUTES + 1).count() > MAX_ATTRIBUTES {
        return Err(IsmError::TooManyAttributes { pos });
    }
    Ok(())
}

/// The attributes of an element we read, well-formed and unique (XML 1.0
/// §3.1, "Unique Att Spec"), in linear time: read in one pass with
/// quick-xml's quadratic duplicate check off, names sorted to find
/// duplicates. At most [`MAX_ATTRIBUTES`] (checked by
/// [`count_attributes`] when the element opened).
fn attributes<'a>(e: &'a BytesStart<'_>, pos: u64) -> Result<Vec<Attribute<'a>>, IsmError> {
    let mut it = e.attributes();
    it.with_checks(false);
    let mut out = Vec::new();
    for attr in it.take(MAX_ATTRIBUTES + 1) {
        out.push(attr.map_err(|err| IsmError::Xml {
            pos,
            source: err.into(),
        })?);
    }
    if out.len() > MAX_ATTRIBUTES {
        return Err(IsmError::TooManyAttributes { pos });
    }
    let mut names: Vec<&[u8]> = out.iter().map(|a| a.key.as_ref()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(IsmError::Structure {
            pos,
            reason: "an attribute appears twice on one element",
        });
    }
    Ok(out)
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
        role: None,
        sdh: false,
    };
    for attr in attributes(e, pos)? {
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
    for attr in attributes(e, pos)? {
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
        // Azure writes `role` and `accessibility` on audio too, with values
        // of its own ("main", ""): values not listed are ignored.
        b"role" => track.role = TextRole::parse(value).or(track.role),
        b"accessibility" => track.sdh |= value == "sdh",
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
/// leaves the `.ism`'s directory, and `src` must be a media file
/// ([`crate::url::MEDIA_EXTENSIONS`]), so an `.ism` cannot make the packager
/// read other objects. Called for the audio and video tracks packaged;
/// text sidecars go through [`resolve_text`], other text streams
/// (`.ismt`) are skipped before.
pub fn resolve(ism_path: &str, src: &str) -> Result<String, IsmError> {
    check_relative_path(ism_path).map_err(|reason| IsmError::InvalidPath {
        what: ".ism path",
        reason,
    })?;
    validate_src(src).map_err(|reason| IsmError::InvalidPath {
        what: "src",
        reason,
    })?;
    if !crate::url::is_media_file(src) {
        return Err(IsmError::InvalidPath {
            what: "src",
            reason: "is not a media file",
        });
    }
    Ok(match ism_path.rfind('/') {
        Some(slash) => format!("{}/{src}", &ism_path[..slash]),
        None => src.to_string(),
    })
}

/// [`resolve`] for a `<textstream>`'s sidecar: the same checks, but `src`
/// must be a text sidecar read so far ([`sidecar_format`]).
pub fn resolve_text(ism_path: &str, src: &str) -> Result<String, IsmError> {
    check_relative_path(ism_path).map_err(|reason| IsmError::InvalidPath {
        what: ".ism path",
        reason,
    })?;
    validate_src(src).map_err(|reason| IsmError::InvalidPath {
        what: "src",
        reason,
    })?;
    if !is_sidecar_text(src) {
        return Err(IsmError::InvalidPath {
            what: "src",
            reason: "is not a WebVTT or TTML file",
        });
    }
    Ok(match ism_path.rfind('/') {
        Some(slash) => format!("{}/{src}", &ism_path[..slash]),
        None => src.to_string(),
    })
}

/// The format of a text sidecar, from its extension.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SidecarFormat {
    /// `.vtt` (W3C WebVTT)
    #[default]
    WebVtt,
    /// `.ttml`, `.xml`, `.dfxp` (W3C TTML / IMSC1; DFXP is TTML1's old name)
    Ttml,
}

/// The sidecar format of a `<textstream>` `src` or an object path; `None`
/// for others (Azure's `.ismt` fragmented text), which are skipped.
pub fn sidecar_format(src: &str) -> Option<SidecarFormat> {
    let (_, ext) = src.rsplit_once('.')?;
    let is = |e: &str| ext.eq_ignore_ascii_case(e);
    if is("vtt") {
        Some(SidecarFormat::WebVtt)
    } else if is("ttml") || is("xml") || is("dfxp") {
        Some(SidecarFormat::Ttml)
    } else {
        None
    }
}

/// Whether a `<textstream>` `src` is a sidecar read as text (`.vtt`,
/// `.ttml`, `.xml`, `.dfxp`); others (Azure's `.ismt`) are skipped.
pub fn is_sidecar_text(src: &str) -> bool {
    sidecar_format(src).is_some()
}

#[cfg(test)]
mod tests;
