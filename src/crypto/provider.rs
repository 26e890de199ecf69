//! A key provider (`key_source = provider`): a key server asked over HTTP
//! for an asset's keys with a CPIX request document, the way AWS SPEKE
//! v2.0 and DASH-IF CPIX 2.3 clients ask ([`super::cpix::request`]).
//!
//! The key ids asked for are derived, not stored: the first 16 bytes of
//! HMAC-SHA256(`key_provider_url`, `"edgepack-provider-kid/1\n{scheme}\n{asset}"`)
//! (RFC 2104), where `{asset}` is [`super::asset_id`]. So every edge of a
//! deployment asks the provider for the same key ids, and a provider that
//! generates a key per key id gives every edge the same key, without any
//! shared state between edges.

use std::fmt;

/// The setting naming the key provider's URL.
pub const URL_SETTING: &str = "key_provider_url";
/// The setting listing the DRM systems (UUIDs, `,`-separated) whose
/// signalling is asked for.
pub const SYSTEMS_SETTING: &str = "key_provider_systems";
/// The secret whose value is sent as the `Authorization` header of every
/// request to the provider (e.g. `Bearer …`), when set.
pub const AUTH_SECRET: &str = "key_provider_auth";
/// The platform backend (Fastly) requests to the provider go through.
pub const BACKEND: &str = "key_provider";
/// Most DRM systems asked for.
const MAX_SYSTEMS: usize = 8;
/// The first line of the message a key id is derived from.
const KID_DOMAIN: &str = "edgepack-provider-kid/1";

/// A configured key provider: where it is and what it is asked for.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyProvider {
    /// The URL as configured (`http(s)://authority/path`).
    pub url: String,
    pub https: bool,
    /// `host[:port]`.
    pub authority: String,
    /// The request target, starting with `/`.
    pub path_and_query: String,
    /// DRM systems whose signalling is asked for.
    pub systems: Vec<[u8; 16]>,
    /// The `Authorization` header value (the secret [`AUTH_SECRET`]);
    /// never printed.
    pub authorization: Option<String>,
}

/// Never prints the URL's query (it may hold a token).
impl fmt::Debug for KeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyProvider({})", self.authority)
    }
}

impl KeyProvider {
    /// The provider at `url` asked for `systems` (UUIDs, `,`-separated);
    /// the error says what is wrong without quoting the URL.
    pub fn parse(url: &str, systems: Option<&str>) -> Result<KeyProvider, &'static str> {
        let url = url.trim();
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err("key_provider_url must be an http:// or https:// URL");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty()
            || authority.contains(['@', '?', '#'])
            || path.contains('#')
            || url.chars().any(|c| c.is_control() || c == ' ')
        {
            return Err("key_provider_url must be http(s)://host[:port]/path");
        }
        let mut list = Vec::new();
        for s in systems
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if list.len() >= MAX_SYSTEMS {
                return Err("key_provider_systems lists too many systems");
            }
            let id = super::cpix::parse_uuid(s)
                .ok_or("key_provider_systems must list system ids (UUIDs)")?;
            list.push(id);
        }
        Ok(KeyProvider {
            url: url.to_string(),
            https,
            authority: authority.to_string(),
            path_and_query: path.to_string(),
            systems: list,
            authorization: None,
        })
    }

    /// With the secret [`AUTH_SECRET`] as the `Authorization` header; the
    /// error when it cannot be a header value (RFC 9110 §5.5: visible
    /// ASCII, spaces and tabs), without quoting it.
    pub fn with_authorization(mut self, value: &str) -> Result<KeyProvider, &'static str> {
        let value = value.trim();
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            return Err("key_provider_auth must be a header value (visible ASCII)");
        }
        self.authorization = Some(value.to_string());
        Ok(self)
    }

    /// The key id asked for `asset` under `scheme` (the module docs).
    pub fn kid(&self, scheme: &str, asset: &crate::url::Asset) -> [u8; 16] {
        let msg = format!("{KID_DOMAIN}\n{scheme}\n{}", super::asset_id(asset));
        let mac = crate::auth::hmac_sha256(self.url.as_bytes(), msg.as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&mac[..16]);
        out
    }
}
