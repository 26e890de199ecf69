//! Path hygiene: percent-decoding (path segments and query values), the
//! checks that keep an object path inside the origin root (the rules and
//! their reasons are in the module docs of `url`, "Object paths"), and the
//! name grammar shared by track, filter and player asset names.

use super::{UrlError, MAX_NAME_LEN};

/// `[A-Za-z0-9_.-]{1,64}`: the track, filter and asset names that may appear
/// unescaped in URLs we build and in the parenthesised grammar without
/// ambiguity. Public so `.ism` parsing and name generation apply the same rule.
pub fn is_valid_name(s: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decode one path segment (RFC 3986 §2.1) and check that the result
/// is a safe object-name component (see the module docs for why each
/// character is refused).
pub(crate) fn decode_segment(raw: &str) -> Result<String, UrlError> {
    let decoded = percent_decode(raw)?;
    match decoded.as_str() {
        "" => Err(UrlError::Path("empty path segment")),
        "." | ".." => Err(UrlError::Path("path escapes origin")),
        _ => Ok(decoded),
    }
}

pub(super) fn percent_decode(raw: &str) -> Result<String, UrlError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_val);
            let lo = bytes.get(i + 2).copied().and_then(hex_val);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(UrlError::Path("invalid percent-encoding"));
            };
            match (hi << 4) | lo {
                b'/' => return Err(UrlError::Path("encoded slash in path")),
                b'%' => return Err(UrlError::Path("double-encoded path")),
                v => out.push(v),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let s = String::from_utf8(out).map_err(|_| UrlError::Path("path is not valid UTF-8"))?;
    for c in s.chars() {
        match c {
            '\0' => return Err(UrlError::Path("NUL in path")),
            '\\' => return Err(UrlError::Path("backslash in path")),
            '?' | '#' => return Err(UrlError::Path("encoded '?' or '#' in path")),
            c if c.is_control() => return Err(UrlError::Path("control character in path")),
            _ => {}
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests;
