//! Azure Media Services streaming locators: player URLs of the form
//! `/{locator-guid}/{name}.ism/manifest(format=…)` name a *locator*, a
//! published handle on an asset, while the asset's blobs live in the
//! storage container `asset-{asset-guid}` (REFERENCES.md §6; Azure Media
//! Services v3, "Streaming Locators" and "Assets": an asset's container is
//! `asset-{assetId}` unless named otherwise, and each locator points at one
//! asset). A migrated library keeps its published links when the first
//! segment is mapped back to the container.
//!
//! The map is the `locators` setting, a JSON object
//! `{"<locator-guid>": "<asset-guid or container name>"}`: a GUID value
//! means the container `asset-{guid}` (lower-cased, as container names
//! are), any other value is the container (folder) name itself, one path
//! segment of `[A-Za-z0-9._-]{1,255}`. Keys are GUIDs, matched without
//! regard to case. Only what such an export holds is read: strings
//! without escapes, no nesting.
//!
//! With a map configured, a request whose first segment (after a token,
//! see [`crate::access`]) is a GUID is rewritten to the container, and an
//! unknown GUID is a 404; other first segments are left alone. The
//! rewrite happens before the request is parsed, so outputs are cached
//! by the asset, shared by all its locators.

use std::borrow::Cow;
use std::fmt;

/// Largest `locators` value read, bytes: about 13 000 entries. (A Fastly
/// Config Store value holds at most 8 000 characters, about 100 entries;
/// environment variables have no such limit.)
pub const MAX_LOCATORS_BYTES: usize = 1 << 20;
/// Most entries in the map.
pub const MAX_LOCATORS: usize = 20_000;
/// Longest container name (Azure's are 3 to 63; S3 folders may be longer).
pub const MAX_CONTAINER_LEN: usize = 255;

/// A GUID's 128 bits from its text form, 8-4-4-4-12 hex digits
/// (RFC 9562 §4), either case; `None` for anything else (braces, URNs,
/// missing dashes).
pub fn parse_guid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let d = (c as char).to_digit(16)?;
        v = (v << 4) | u128::from(d);
    }
    Some(v)
}

/// The lower-case text form of a GUID.
fn guid_text(v: u128) -> String {
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A container name is used as one object-path segment as is.
fn is_container_name(s: &str) -> bool {
    (1..=MAX_CONTAINER_LEN).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Why the `locators` setting was refused (the whole map is then empty:
/// every locator URL is a 404 rather than a guess).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocatorError {
    TooLarge,
    TooMany,
    /// JSON outside the subset read, at this byte.
    Syntax(usize),
    /// A key that is not a GUID (entry number, from 1).
    Key(usize),
    /// A value that is neither a GUID nor a container name.
    Value(usize),
    /// The same locator twice (entry number of the second).
    Duplicate(usize),
}

impl fmt::Display for LocatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocatorError::TooLarge => write!(f, "locators: over {MAX_LOCATORS_BYTES} bytes"),
            LocatorError::TooMany => write!(f, "locators: over {MAX_LOCATORS} entries"),
            LocatorError::Syntax(at) => {
                write!(f, "locators: not a JSON object of strings (byte {at})")
            }
            LocatorError::Key(n) => write!(f, "locators: key {n} is not a GUID"),
            LocatorError::Value(n) => write!(
                f,
                "locators: value {n} is neither a GUID nor a container name [A-Za-z0-9._-]"
            ),
            LocatorError::Duplicate(n) => write!(f, "locators: entry {n} repeats a locator"),
        }
    }
}

impl std::error::Error for LocatorError {}

/// The locator map, sorted by GUID.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Locators {
    map: Vec<(u128, String)>,
}

/// The request's first segment is a GUID the map does not hold: 404.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownLocator;

impl UnknownLocator {
    pub const STATUS: u16 = 404;
    pub const REASON: &'static str = "unknown locator";
}

impl Locators {
    /// Reads the `locators` setting (see the module docs).
    pub fn parse(json: &str) -> Result<Locators, LocatorError> {
        if json.len() > MAX_LOCATORS_BYTES {
            return Err(LocatorError::TooLarge);
        }
        let pairs = json_object(json.as_bytes())?;
        let mut map = Vec::with_capacity(pairs.len());
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            let n = i + 1;
            let key = parse_guid(k).ok_or(LocatorError::Key(n))?;
            let container = match parse_guid(v) {
                Some(asset) => format!("asset-{}", guid_text(asset)),
                None if is_container_name(v) => v.to_string(),
                None => return Err(LocatorError::Value(n)),
            };
            map.push((key, container, n));
        }
        map.sort_by_key(|e| e.0);
        if let Some(w) = map.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(LocatorError::Duplicate(w[0].2.max(w[1].2)));
        }
        Ok(Locators {
            map: map.into_iter().map(|(k, c, _)| (k, c)).collect(),
        })
    }

    /// The container of locator `guid`.
    pub fn get(&self, guid: u128) -> Option<&str> {
        self.map
            .binary_search_by_key(&guid, |e| e.0)
            .ok()
            .and_then(|i| self.map.get(i))
            .map(|e| e.1.as_str())
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// `path` (starting with `/`) with a locator GUID in its first segment
    /// replaced by its container; any other path unchanged. The segment is
    /// percent-decoded first, as the request grammar will, so an encoded
    /// GUID cannot slip past the map.
    pub fn rewrite<'a>(&self, path: &'a str) -> Result<Cow<'a, str>, UnknownLocator> {
        let Some(rest) = path.strip_prefix('/') else {
            return Ok(Cow::Borrowed(path));
        };
        let (first, tail) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        let Ok(decoded) = crate::url::decode_segment(first) else {
            return Ok(Cow::Borrowed(path));
        };
        let Some(guid) = parse_guid(&decoded) else {
            return Ok(Cow::Borrowed(path));
        };
        let container = self.get(guid).ok_or(UnknownLocator)?;
        Ok(Cow::Owned(format!("/{container}{tail}")))
    }
}

/// The pairs of a flat JSON object of strings (RFC 8259 §4, §7, without
/// escapes: no locator or container name needs one), at most
/// [`MAX_LOCATORS`] of them.
fn json_object(b: &[u8]) -> Result<Vec<(&str, &str)>, LocatorError> {
    let mut at = skip_ws(b, 0);
    if b.get(at) != Some(&b'{') {
        return Err(LocatorError::Syntax(at));
    }
    at = skip_ws(b, at + 1);
    let mut pairs = Vec::new();
    if b.get(at) == Some(&b'}') {
        return end(b, at + 1).map(|()| pairs);
    }
    loop {
        if pairs.len() == MAX_LOCATORS {
            return Err(LocatorError::TooMany);
        }
        let (key, next) = json_string(b, at)?;
        at = skip_ws(b, next);
        if b.get(at) != Some(&b':') {
            return Err(LocatorError::Syntax(at));
        }
        let (value, next) = json_string(b, skip_ws(b, at + 1))?;
        pairs.push((key, value));
        at = skip_ws(b, next);
        match b.get(at) {
            Some(b',') => at = skip_ws(b, at + 1),
            Some(b'}') => return end(b, at + 1).map(|()| pairs),
            _ => return Err(LocatorError::Syntax(at)),
        }
    }
}

/// Only whitespace after the object.
fn end(b: &[u8], at: usize) -> Result<(), LocatorError> {
    let at = skip_ws(b, at);
    if at == b.len() {
        Ok(())
    } else {
        Err(LocatorError::Syntax(at))
    }
}

fn skip_ws(b: &[u8], mut at: usize) -> usize {
    while matches!(b.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// A string starting at `at` (its `"`), and the offset after it.
fn json_string(b: &[u8], at: usize) -> Result<(&str, usize), LocatorError> {
    if b.get(at) != Some(&b'"') {
        return Err(LocatorError::Syntax(at));
    }
    let start = at + 1;
    let len = b
        .get(start..)
        .and_then(|s| s.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20))
        .ok_or(LocatorError::Syntax(b.len()))?;
    let close = start + len;
    if b.get(close) != Some(&b'"') {
        return Err(LocatorError::Syntax(close));
    }
    let s = b
        .get(start..close)
        .and_then(|s| std::str::from_utf8(s).ok())
        .ok_or(LocatorError::Syntax(start))?;
    Ok((s, close + 1))
}

#[cfg(test)]
mod tests;
