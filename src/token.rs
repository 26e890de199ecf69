//! Signed viewer URLs: a token in the first path segment that lets one
//! viewer play one asset until a time.
//!
//! ```text
//! /tk.{kid}.{exp}.{sig}/abr/abr.ism/manifest(format=m3u8-cmaf)
//! ```
//!
//! * `kid`: which key signed it, `[A-Za-z0-9_-]{1,32}`; several keys may be
//!   valid at once, so keys rotate without breaking live links.
//! * `exp`: expiry, Unix seconds, 1 to 10 decimal digits; the token is
//!   refused from that second on (as JWT's `exp`, RFC 7519 §4.1.4).
//! * `sig`: base64url without padding (RFC 4648 §5) of
//!   HMAC-SHA256(key, `"edgepack-token/1\n{kid}\n{exp}\n{scope}"`)
//!   (RFC 2104, FIPS 180-4), always 43 characters. `exp` is signed as the
//!   URL writes it.
//! * `scope`: the asset, as the URL names it ([`crate::url::asset_scope`]):
//!   the percent-decoded segments after the token up to and including the
//!   asset segment, joined by `/` (`abr/abr.ism`, `vod/x.mp4`,
//!   `vod/x_,360,720,.mp4.urlset`, and for an Azure locator URL the locator
//!   GUID as written, not the container it maps to).
//!
//! The token is a path segment, not a query parameter, so that the
//! relative URLs every manifest writes (media playlists, segments, DASH
//! templates, Smooth fragments) resolve under it (RFC 3986 §5.2) and carry
//! it without rewriting any manifest; and one token covers the manifest
//! and every child of its asset, whatever the format or options. The
//! versioned first line keeps these MACs apart from any other use of the
//! same key.
//!
//! The token never reaches an error body or a log: refusals are the fixed
//! reasons of [`TokenError`], and the path handed on is what follows the
//! token.

use crate::url::{self, Route};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// What a token segment starts with. A first path segment starting with
/// `tk.` is always read as a token: no origin folder may be named so.
pub const PREFIX: &str = "tk.";
/// The first line of the signed message: the scheme and its version.
pub const DOMAIN: &str = "edgepack-token/1";
/// Longest key id.
pub const MAX_KID_LEN: usize = 32;
/// Most digits of `exp` (up to the year 2286).
pub const MAX_EXP_DIGITS: usize = 10;
/// Length of `sig`: 32 bytes in unpadded base64.
pub const SIG_LEN: usize = 43;
/// Shortest key accepted. RFC 2104 §3 discourages keys shorter than the
/// hash output (32 bytes for SHA-256); half of it is the floor here, and
/// 32 random bytes are what `openssl rand -base64 32` gives.
pub const MIN_KEY_BYTES: usize = 16;
/// Longest key accepted (longer keys are hashed first, RFC 2104 §3, so
/// they add nothing).
pub const MAX_KEY_BYTES: usize = 256;
/// Most keys in `token_keys`.
pub const MAX_KEYS: usize = 16;

/// Why a request's token was refused: each is a 403 with its fixed
/// [`TokenError::reason`], which never quotes the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// No token, and the deployment requires one.
    Required,
    /// A genuine token past its `exp`.
    Expired,
    /// The signature does not match: tampered, or made for another asset.
    NotValid,
    /// `kid` names no configured key (never configured, or rotated out).
    UnknownKey,
    /// Not `tk.{kid}.{exp}.{sig}` in the grammar above.
    Malformed,
}

impl TokenError {
    /// Every refusal is 403 Forbidden (RFC 9110 §15.5.4): the request is
    /// understood and its credentials are not accepted.
    pub const STATUS: u16 = 403;

    pub fn reason(self) -> &'static str {
        match self {
            TokenError::Required => "token required",
            TokenError::Expired => "token expired",
            TokenError::NotValid => "token not valid",
            TokenError::UnknownKey => "unknown token key",
            TokenError::Malformed => "malformed token",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for TokenError {}

/// `path` split into its token segment (without the slashes) and the path
/// that follows it (starting with `/`), or `(None, path)` when its first
/// segment is not a token.
pub fn split(path: &str) -> (Option<&str>, &str) {
    let Some(rest) = path.strip_prefix('/') else {
        return (None, path);
    };
    if !rest.starts_with(PREFIX) {
        return (None, path);
    }
    match rest.find('/') {
        Some(slash) => (Some(&rest[..slash]), &rest[slash..]),
        None => (Some(rest), "/"),
    }
}

/// A token's fields, checked against the grammar; the signature is not
/// verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub kid: &'a str,
    /// As written in the URL (what is signed).
    pub exp_text: &'a str,
    pub exp: u64,
    sig: [u8; 32],
}

/// `[A-Za-z0-9_-]{1,32}`: URL-safe without encoding, and free of `.`, the
/// token's field separator.
pub fn is_valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// Reads a token segment (`tk.{kid}.{exp}.{sig}`).
pub fn parse(segment: &str) -> Result<Token<'_>, TokenError> {
    let body = segment.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let mut fields = body.split('.');
    let (Some(kid), Some(exp_text), Some(sig), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(TokenError::Malformed);
    };
    let exp_ok = (1..=MAX_EXP_DIGITS).contains(&exp_text.len())
        && exp_text.bytes().all(|b| b.is_ascii_digit());
    if !is_valid_kid(kid) || !exp_ok || sig.len() != SIG_LEN {
        return Err(TokenError::Malformed);
    }
    let exp = exp_text.parse().map_err(|_| TokenError::Malformed)?;
    // The decoder refuses non-zero trailing bits, so each signature has
    // exactly one spelling.
    let raw = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| TokenError::Malformed)?;
    let sig = raw.try_into().map_err(|_| TokenError::Malformed)?;
    Ok(Token {
        kid,
        exp_text,
        exp,
        sig,
    })
}

/// The MAC of one token, keyed and fed the signed message. `None` only if
/// the key were refused, which HMAC never does (it takes keys of any
/// length, RFC 2104 §2).
fn mac(key: &[u8], kid: &str, exp_text: &str, scope: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    for part in [DOMAIN, "\n", kid, "\n", exp_text, "\n", scope] {
        mac.update(part.as_bytes());
    }
    Some(mac)
}

/// `sig` for these fields: base64url, unpadded.
pub fn signature(key: &[u8], kid: &str, exp: u64, scope: &str) -> Option<String> {
    let tag = mac(key, kid, &exp.to_string(), scope)?
        .finalize()
        .into_bytes();
    Some(URL_SAFE_NO_PAD.encode(tag))
}

/// Checks the token segment `segment` for a request whose asset is
/// `scope`, at Unix time `now`. The signature is checked before the
/// expiry, so "expired" is only ever said of a genuine token, and with
/// `hmac`'s constant-time comparison (`verify_slice`), so timing tells
/// nothing about how much of a forged signature was right.
pub fn verify(segment: &str, scope: &str, keys: &Keys, now: u64) -> Result<(), TokenError> {
    let t = parse(segment)?;
    let key = keys.get(t.kid).ok_or(TokenError::UnknownKey)?;
    mac(key, t.kid, t.exp_text, scope)
        .ok_or(TokenError::NotValid)?
        .verify_slice(&t.sig)
        .map_err(|_| TokenError::NotValid)?;
    if now >= t.exp {
        return Err(TokenError::Expired);
    }
    Ok(())
}

/// The signing keys, by id. `Debug` shows the ids only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Keys(Vec<(String, Vec<u8>)>);

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(kid, _)| kid))
            .finish()
    }
}

/// Standard base64 (RFC 4648 §4) with or without padding: what
/// `openssl rand -base64 32` and most secret managers give.
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// The URL-safe alphabet (RFC 4648 §5), also accepted.
const KEY_BASE64_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A key from its base64 text (either alphabet, padding optional), within
/// [`MIN_KEY_BYTES`]..=[`MAX_KEY_BYTES`].
pub fn decode_key(text: &str) -> Result<Vec<u8>, &'static str> {
    let key = KEY_BASE64
        .decode(text)
        .or_else(|_| KEY_BASE64_URL.decode(text))
        .map_err(|_| "is not base64")?;
    if key.len() < MIN_KEY_BYTES {
        return Err("is shorter than 16 bytes");
    }
    if key.len() > MAX_KEY_BYTES {
        return Err("is longer than 256 bytes");
    }
    Ok(key)
}

impl Keys {
    /// Reads `kid1:base64key,kid2:base64key` (whitespace around entries
    /// ignored). A bad entry is left out and described in the problems
    /// returned (which name the key id, never key material); the others
    /// stay usable, so a typo in a new key does not stop playback with the
    /// current one.
    pub fn parse(spec: &str) -> (Keys, Vec<String>) {
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        let mut problems = Vec::new();
        let entries = spec.split(',').map(str::trim).filter(|e| !e.is_empty());
        for (i, entry) in entries.enumerate() {
            let n = i + 1;
            if keys.len() == MAX_KEYS {
                problems.push(format!(
                    "token_keys: more than {MAX_KEYS} keys, the rest ignored"
                ));
                break;
            }
            let Some((kid, text)) = entry.split_once(':') else {
                problems.push(format!("token_keys entry {n}: not kid:base64key"));
                continue;
            };
            let kid = kid.trim();
            if !is_valid_kid(kid) {
                problems.push(format!(
                    "token_keys entry {n}: key id is not [A-Za-z0-9_-]{{1,32}}"
                ));
                continue;
            }
            if keys.iter().any(|(k, _)| k == kid) {
                problems.push(format!(
                    "token_keys: key id '{kid}' given twice, first kept"
                ));
                continue;
            }
            match decode_key(text.trim()) {
                Ok(key) => keys.push((kid.to_string(), key)),
                Err(why) => problems.push(format!("token_keys: key '{kid}' {why}")),
            }
        }
        (Keys(keys), problems)
    }

    pub fn get(&self, kid: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, key)| key.as_slice())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why [`mint`] could not sign a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MintError {
    Kid,
    Key(&'static str),
    /// `exp` does not fit in [`MAX_EXP_DIGITS`] digits.
    Expiry,
    /// The path already starts with a token.
    AlreadySigned,
    /// The path is not a stream URL edgepack answers (the reason).
    NotAStream(String),
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MintError::Kid => write!(f, "key id must be [A-Za-z0-9_-]{{1,32}}"),
            MintError::Key(why) => write!(f, "key {why}"),
            MintError::Expiry => write!(f, "expiry must be at most {MAX_EXP_DIGITS} digits"),
            MintError::AlreadySigned => write!(f, "the path already carries a token"),
            MintError::NotAStream(why) => write!(f, "not a stream URL: {why}"),
        }
    }
}

impl std::error::Error for MintError {}

/// Signs `url_path` (a path starting with `/`, query kept) for key `kid`
/// until `exp` (Unix seconds): `/tk.{kid}.{exp}.{sig}{url_path}`. The path
/// must be one edgepack answers as a stream (a manifest or any child of
/// the asset), which is what fixes the scope; any child URL of the same
/// asset then verifies with the same token.
pub fn mint(kid: &str, key: &[u8], exp: u64, url_path: &str) -> Result<String, MintError> {
    if !is_valid_kid(kid) {
        return Err(MintError::Kid);
    }
    if key.len() < MIN_KEY_BYTES {
        return Err(MintError::Key("is shorter than 16 bytes"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(MintError::Key("is longer than 256 bytes"));
    }
    if exp.to_string().len() > MAX_EXP_DIGITS {
        return Err(MintError::Expiry);
    }
    let (path, query) = match url_path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (url_path, None),
    };
    if split(path).0.is_some() {
        return Err(MintError::AlreadySigned);
    }
    match url::parse(path, query) {
        Ok(Route::Stream(_)) => {}
        Ok(_) => return Err(MintError::NotAStream("a fixed route".into())),
        Err(e) => return Err(MintError::NotAStream(e.to_string())),
    }
    let scope = url::asset_scope(path).map_err(|e| MintError::NotAStream(e.to_string()))?;
    let sig = signature(key, kid, exp, &scope).ok_or(MintError::Key("is refused by HMAC"))?;
    Ok(format!("/{PREFIX}{kid}.{exp}.{sig}{url_path}"))
}

#[cfg(test)]
mod tests;
