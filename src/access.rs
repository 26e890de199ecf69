//! Who may ask for what, decided before and just after a request is
//! parsed, the same way on every runtime ([`crate::entry`] calls it):
//!
//! 1. a signed-URL token in the first segment is verified, or asked for
//!    ([`crate::token`]);
//! 2. an Azure locator GUID is mapped to its container
//!    ([`crate::locator`]);
//! 3. once the request grammar has named the asset, its object paths
//!    must lie under an allowed prefix.
//!
//! Media-only packaging (a bare asset, urlset members and `.ism` members
//! must be media files inside the asset's folder) is the request
//! grammar's and `.ism` resolution's own rule, since it holds everywhere,
//! the browser too ([`crate::url::MEDIA_EXTENSIONS`]).
//!
//! | key | store | default | meaning |
//! |---|---|---|---|
//! | `token_required` | config | `off` | `on`: a stream request without a token is a 403 (a present token is always checked) |
//! | `token_keys` | secret | none | `kid:base64key,kid2:base64key`; several at once for rotation |
//! | `locators` | config | none | JSON `{"<locator-guid>": "<asset-guid or container>"}` |
//! | `allowed_prefixes` | config | "" (all) | comma-separated object-path prefixes; any other asset is a 404 |
//!
//! Secrets are looked up apart from the configuration: Fastly's Secret
//! Store `edgepack_secrets`, `EDGEPACK_TOKEN_KEYS` for wasi:http.
//!
//! The public routes (`/health`, the demo player) need no token.

use crate::locator::{Locators, UnknownLocator};
use crate::source::OriginError;
use crate::token::{self, Keys, TokenError};
use crate::url::{self, Asset};
use std::borrow::Cow;

/// The access settings of a deployment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// A stream request without a token is refused.
    pub token_required: bool,
    /// Token signing keys, by id (`Debug` shows ids only).
    pub keys: Keys,
    /// The Azure locator map; `None` when not configured (GUID first
    /// segments are then ordinary folder names).
    pub locators: Option<Locators>,
    /// Object-path prefixes packaged; empty: all.
    pub allowed_prefixes: Vec<String>,
    /// What was wrong with the settings, for the adapter's log: never key
    /// material. A bad setting fails closed (see each).
    pub problems: Vec<String>,
}

/// A refusal: status and a one-line reason that quotes no token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub status: u16,
    pub reason: String,
}

impl From<TokenError> for Denied {
    fn from(e: TokenError) -> Self {
        Denied {
            status: TokenError::STATUS,
            reason: e.reason().to_string(),
        }
    }
}

impl From<UnknownLocator> for Denied {
    fn from(_: UnknownLocator) -> Self {
        Denied {
            status: UnknownLocator::STATUS,
            reason: UnknownLocator::REASON.to_string(),
        }
    }
}

/// A request let through [`Access::admit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted<'a> {
    /// The path to parse: the token removed, a locator mapped.
    pub path: Cow<'a, str>,
    /// It carried a (valid) token.
    pub signed: bool,
}

impl Access {
    /// Every access setting: configuration from `get`, secrets from
    /// `secret`.
    pub fn from_lookups(
        get: impl Fn(&str) -> Option<String>,
        secret: impl Fn(&str) -> Option<String>,
    ) -> Access {
        let mut a = Access::from_config(get);
        a.load_secrets(secret);
        a
    }

    /// The settings from the configuration alone (no keys yet: see
    /// [`Access::load_secrets`]).
    pub fn from_config(get: impl Fn(&str) -> Option<String>) -> Access {
        let mut problems = Vec::new();
        let token_required = match get("token_required").as_deref().map(str::trim) {
            None | Some("" | "off" | "false" | "0" | "no") => false,
            Some("on" | "true" | "1" | "yes") => true,
            Some(_) => {
                problems.push("token_required: not on/off; taken as on".to_string());
                true
            }
        };
        let locators = get("locators").filter(|v| !v.trim().is_empty()).map(|v| {
            Locators::parse(&v).unwrap_or_else(|e| {
                // Fail closed: no locator resolves.
                problems.push(format!("{e}; no locator resolves"));
                Locators::default()
            })
        });
        let allowed_prefixes = get("allowed_prefixes")
            .unwrap_or_default()
            .split(',')
            .map(|p| p.trim().trim_start_matches('/'))
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        Access {
            token_required,
            keys: Keys::default(),
            locators,
            allowed_prefixes,
            problems,
        }
    }

    /// Reads the token keys (`token_keys`) with the platform's secret
    /// lookup.
    pub fn load_secrets(&mut self, secret: impl Fn(&str) -> Option<String>) {
        let (keys, problems) = Keys::parse(&secret("token_keys").unwrap_or_default());
        self.keys = keys;
        self.problems.extend(problems);
    }

    /// Steps 1 and 2 for a stream request's `path`, at Unix time `now`:
    /// the token (when present, or required) and the locator. The token's
    /// scope is taken from the path as the client wrote it, the locator
    /// GUID included: that is the URL a site signs.
    pub fn admit<'a>(&self, path: &'a str, now: u64) -> Result<Admitted<'a>, Denied> {
        let (tok, rest) = token::split(path);
        match tok {
            Some(t) => {
                // Checked before the scope: a malformed token is that,
                // whatever follows it.
                token::parse(t)?;
                let scope = url::asset_scope(rest).map_err(|e| Denied {
                    status: e.http_status(),
                    reason: e.to_string(),
                })?;
                token::verify(t, &scope, &self.keys, now)?;
            }
            None if self.token_required => return Err(TokenError::Required.into()),
            None => {}
        }
        let path = match &self.locators {
            Some(map) => map.rewrite(rest)?,
            None => Cow::Borrowed(rest),
        };
        Ok(Admitted {
            path,
            signed: tok.is_some(),
        })
    }

    /// Step 3: every object the asset names lies under an allowed prefix.
    /// A refusal is the very answer a missing object gets (404, "{path}
    /// not found at origin"), so it tells nothing about what exists
    /// outside the prefixes. Prefixes are plain string prefixes of object
    /// paths (as S3's are): end one with `/` to mean a folder.
    pub fn allows(&self, asset: &Asset) -> Result<(), Denied> {
        if self.allowed_prefixes.is_empty() {
            return Ok(());
        }
        let paths: &[String] = match asset {
            Asset::Ism { path } | Asset::Mp4 { path } => std::slice::from_ref(path),
            Asset::UrlSet { paths } => paths,
        };
        let outside = paths.iter().find(|p| {
            !self
                .allowed_prefixes
                .iter()
                .any(|prefix| p.starts_with(prefix.as_str()))
        });
        match outside {
            None => Ok(()),
            Some(p) => {
                let missing = OriginError::NotFound(p.clone());
                Err(Denied {
                    status: missing.status(),
                    reason: missing.to_string(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
