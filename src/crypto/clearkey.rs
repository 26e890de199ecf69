//! The ClearKey licence exchange (W3C Encrypted Media Extensions §9.1.4,
//! "License Request Format" and "License Format"): the request is a JSON
//! object `{"kids":["<base64url key id>",…],"type":"temporary"}`, the
//! answer a JSON Web Key set `{"keys":[{"kty":"oct","k":"<base64url
//! key>","kid":"<base64url key id>"}],"type":"temporary"}` (RFC 7517;
//! base64url without padding, RFC 7515 Appendix C).
//!
//! The request is read with a scanner for exactly that shape, not a
//! general JSON parser: the body is capped ([`MAX_REQUEST_BYTES`]), and so
//! is the number of key ids ([`MAX_KIDS`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::fmt;

/// Largest licence request body read (a request for [`MAX_KIDS`] ids is
/// under 2 KB).
pub const MAX_REQUEST_BYTES: usize = 8 << 10;
/// Most key ids one request may list.
pub const MAX_KIDS: usize = 64;

/// Why a licence request is refused (each a 400, but for [`TooLarge`]
/// 413).
///
/// [`TooLarge`]: LicenceError::TooLarge
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LicenceError {
    TooLarge(usize),
    /// Not the W3C request shape.
    Malformed(&'static str),
    TooManyKids,
}

impl fmt::Display for LicenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LicenceError::TooLarge(n) => write!(
                f,
                "licence request of {n} bytes; at most {MAX_REQUEST_BYTES}"
            ),
            LicenceError::Malformed(why) => write!(f, "licence request: {why}"),
            LicenceError::TooManyKids => {
                write!(f, "licence request: more than {MAX_KIDS} key ids")
            }
        }
    }
}

/// The key ids a licence request asks for, in order. Ids that are not 16
/// bytes of base64url are kept out (they name no key of ours); the
/// request must still have the `kids` array.
pub fn requested_kids(body: &[u8]) -> Result<Vec<[u8; 16]>, LicenceError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(LicenceError::TooLarge(body.len()));
    }
    let text = std::str::from_utf8(body).map_err(|_| LicenceError::Malformed("not UTF-8"))?;
    let at = text
        .find("\"kids\"")
        .ok_or(LicenceError::Malformed("no \"kids\""))?;
    let rest = text[at + 6..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or(LicenceError::Malformed("\"kids\" without a value"))?
        .trim_start();
    let rest = rest
        .strip_prefix('[')
        .ok_or(LicenceError::Malformed("\"kids\" is not an array"))?;
    let end = rest
        .find(']')
        .ok_or(LicenceError::Malformed("unterminated \"kids\""))?;
    let mut kids = Vec::new();
    let items = rest[..end]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty());
    for (n, item) in items.enumerate() {
        if n >= MAX_KIDS {
            return Err(LicenceError::TooManyKids);
        }
        let id = item
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .ok_or(LicenceError::Malformed("a key id is not a string"))?;
        // Some players pad; base64url proper has none (RFC 7515 §2).
        let id = id.trim_end_matches('=');
        if let Ok(bytes) = URL_SAFE_NO_PAD.decode(id) {
            if let Ok(kid) = <[u8; 16]>::try_from(bytes.as_slice()) {
                kids.push(kid);
            }
        }
    }
    Ok(kids)
}

/// The licence: a JWK set of `keys` (key id, key), `"type":"temporary"`.
pub fn licence(keys: &[([u8; 16], [u8; 16])]) -> String {
    let jwks: Vec<String> = keys
        .iter()
        .map(|(kid, key)| {
            format!(
                "{{\"kty\":\"oct\",\"k\":\"{}\",\"kid\":\"{}\"}}",
                URL_SAFE_NO_PAD.encode(key),
                URL_SAFE_NO_PAD.encode(kid)
            )
        })
        .collect();
    format!("{{\"keys\":[{}],\"type\":\"temporary\"}}", jwks.join(","))
}
