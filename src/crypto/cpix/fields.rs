//! The field readers and checks of a CPIX document ([`super::parse`]):
//! attributes (UUIDs, integers, booleans), base64 keys, and the checks
//! that keep what is copied into outputs harmless (whole `pssh` boxes,
//! well-formed XML fragments, HLS tags only).

use super::{invalid, CpixError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// An attribute's unescaped value, if present.
pub(super) fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, CpixError> {
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

/// An unsigned integer attribute (`xs:integer`, CPIX filters), if present.
pub(super) fn num_attr<T: std::str::FromStr>(
    e: &BytesStart<'_>,
    name: &str,
) -> Result<Option<T>, CpixError> {
    match attr(e, name)? {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("@{name} is not a non-negative integer"))),
    }
}

/// An `xs:boolean` attribute (`true`, `false`, `1`, `0`), if present.
pub(super) fn bool_attr(e: &BytesStart<'_>, name: &str) -> Result<Option<bool>, CpixError> {
    match attr(e, name)?.as_deref().map(str::trim) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(_) => Err(invalid(format!("@{name} is not a boolean"))),
    }
}

pub(super) fn uuid_attr(e: &BytesStart<'_>, name: &str, what: &str) -> Result<[u8; 16], CpixError> {
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
pub(super) fn decode16(text: &str) -> Option<[u8; 16]> {
    let compact: String = text.split_whitespace().collect();
    let bytes = STANDARD.decode(compact).ok()?;
    <[u8; 16]>::try_from(bytes.as_slice()).ok()
}

/// Whether `data` is one or more whole `pssh` boxes of `system`
/// (ISO/IEC 23001-7 §8.1.1: size, `pssh`, version and flags, SystemID).
pub(super) fn check_pssh(data: &[u8], system: &[u8; 16]) -> Result<(), &'static str> {
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
pub(super) fn check_fragment(xml: &str) -> Result<(), String> {
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
pub(super) fn hls_lines(data: &[u8]) -> Result<Vec<String>, &'static str> {
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
