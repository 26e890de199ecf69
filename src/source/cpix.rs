//! Where an encrypted request's keys come from when they are not derived
//! from the seed (sans-IO, read through [`crate::job::Job`]): a
//! [`KeyDoc`], either
//!
//! * the CPIX document of the asset at the origin (`key_source = cpix`):
//!   one object beside the asset ([`crate::crypto::cpix_path`]), read
//!   whole in one request with the origin's auth, like a filter file,
//!   capped at [`MAX_CPIX_BYTES`] (a larger one is 502); or
//! * the key provider's answer (`key_source = provider`): a `POST` of a
//!   CPIX request naming the asset and the derived key id
//!   ([`crate::crypto::provider`]), answered with a CPIX document that
//!   must hold that key id (else 502).
//!
//! Either is parsed once and cached in its compact form
//! ([`crate::crypto::cpix::encoding`], not the XML: a warm request does
//! not parse XML) in the index cache, so with the lifetime of an index
//! (`index_ttl`); the output-cache key names the document's digest
//! ([`crate::outputs::key`]), so a replaced document (new key or new
//! signalling) gives new outputs once its cached copy expires. The
//! provider's entry is keyed by provider URL, content id and key id: the
//! provider is asked once per asset and scheme while it is cached.
//!
//! Why 404 when the file is missing: with `key_source = cpix` the
//! encrypted rendition of an asset exists only when its keys do; like a
//! missing filter file, the resource asked for has no representation. It
//! is not 403 (no viewer is refused anything) nor 5xx (the deployment
//! works; one asset has no keys). The message names the object expected.

use super::{Cache, OriginError, ReadRequest, ReadResponse, SourceError};
use crate::crypto::cpix::{encoding, request, Cpix, CpixError, MAX_CPIX_BYTES};
use crate::crypto::provider::KeyProvider;
use crate::crypto::KeySetting;
use crate::service::ServeError;
use crate::url::StreamRequest;
use bytes::Bytes;
use std::sync::Arc;

/// The keys document one request needs.
#[derive(Clone, Debug)]
pub enum KeyDoc {
    /// The CPIX document at `path` at the origin.
    File { path: String },
    /// The key provider's answer for `content_id` and key id `kid`.
    Provider {
        provider: Arc<KeyProvider>,
        content_id: String,
        /// The `encryption=` option the key is for.
        scheme: String,
        /// The (first) key id asked for: the shared key's, or the first
        /// track type's ([`KeyProvider::requested`]).
        kid: [u8; 16],
        /// Every key id asked for, and their usage rules (none for a
        /// shared key).
        kids: Vec<[u8; 16]>,
        rules: Vec<crate::crypto::cpix::rules::UsageRule>,
    },
}

impl KeyDoc {
    /// The document `req` needs under `keys`, `None` when it needs none
    /// (not encrypted, or keys from the seed, or already read).
    pub fn of(req: &StreamRequest, keys: &KeySetting) -> Option<KeyDoc> {
        let scheme = req.options.encryption.as_deref()?;
        match keys {
            KeySetting::Cpix => Some(KeyDoc::File {
                path: crate::crypto::cpix_path(&req.asset),
            }),
            KeySetting::Provider(p) => {
                let (kids, rules) = p.requested(scheme, &req.asset);
                Some(KeyDoc::Provider {
                    kid: kids.first().copied().unwrap_or_default(),
                    kids,
                    rules,
                    provider: p.clone(),
                    content_id: crate::crypto::asset_id(&req.asset),
                    scheme: scheme.to_string(),
                })
            }
            _ => None,
        }
    }

    /// What errors call the document.
    pub fn name(&self) -> String {
        match self {
            KeyDoc::File { path } => path.clone(),
            KeyDoc::Provider { content_id, .. } => {
                format!("from the key provider for {content_id}")
            }
        }
    }

    /// Index-cache key of the parsed document (the encoding's version in
    /// it: another layout is another entry).
    pub fn cache_key(&self) -> String {
        let v = encoding::ENCODING_VERSION;
        match self {
            KeyDoc::File { path } => format!("cpix/e{v}/{path}"),
            KeyDoc::Provider {
                provider,
                content_id,
                kid,
                ..
            } => format!(
                "keys/e{v}/{}/{content_id}/{}",
                provider.url,
                crate::manifest::dash::uuid(kid)
            ),
        }
    }

    /// The read that fetches the document: the whole object (one byte
    /// more than the cap, so a larger one is told apart), or the `POST`
    /// of the CPIX request to the provider.
    pub fn read(&self) -> ReadRequest {
        match self {
            KeyDoc::File { path } => ReadRequest {
                path: path.to_string(),
                start: 0,
                end: MAX_CPIX_BYTES as u64 + 1,
                if_match: None,
                target: crate::source::ReadTarget::Origin,
            },
            KeyDoc::Provider {
                provider,
                content_id,
                scheme,
                kids,
                rules,
                ..
            } => {
                let body = request::document(&request::KeyRequest {
                    content_id,
                    kids,
                    scheme: cenc_scheme(scheme),
                    systems: &provider.systems,
                    rules,
                });
                super::keyprovider::read(provider.clone(), content_id, body)
            }
        }
    }

    /// The cached parsed document, if any (a bad entry is a miss, and so
    /// is a provider's entry without the key id asked for: the bytes come
    /// back from a platform cache, and `from_read` refused such answers).
    pub fn cached(&self, cache: &mut dyn Cache) -> Option<Cpix> {
        let doc = encoding::decode(&cache.get(&self.cache_key())?)?;
        match self {
            KeyDoc::Provider { kid, kids, .. }
                if std::iter::once(kid)
                    .chain(kids)
                    .any(|k| doc.key_by_id(k).is_none()) =>
            {
                None
            }
            _ => Some(doc),
        }
    }

    /// Caches a parsed document.
    pub fn store(&self, doc: &Cpix, cache: &mut dyn Cache) {
        cache.put(&self.cache_key(), Bytes::from(encoding::encode(doc)));
    }

    /// The document from the answer to [`KeyDoc::read`]: 404 naming the
    /// file when there is none, 502 when it is over the cap, not CPIX,
    /// or (from a provider) without the key id asked for; 501 for CPIX
    /// this packager does not support. Not cached here: the job caches it
    /// ([`KeyDoc::store`]) once it is usable.
    pub fn from_read(&self, result: Result<ReadResponse, OriginError>) -> Result<Cpix, ServeError> {
        let name = self.name();
        let resp = match (self, result) {
            (_, Ok(r)) => r,
            (KeyDoc::File { path }, Err(OriginError::NotFound(_))) => {
                return Err(SourceError::from(OriginError::NotFound(format!(
                    "CPIX document {path}"
                )))
                .into())
            }
            (_, Err(e)) => return Err(SourceError::from(e).into()),
        };
        if resp.total_size > MAX_CPIX_BYTES as u64 || resp.data.len() > MAX_CPIX_BYTES {
            return Err(SourceError::Media {
                path: format!("CPIX document {name}"),
                error: format!("larger than {MAX_CPIX_BYTES} bytes"),
            }
            .into());
        }
        let cpix_error = |error| ServeError::Cpix {
            path: name.clone(),
            error,
        };
        let asked = match self {
            KeyDoc::Provider { rules, .. } => rules.as_slice(),
            KeyDoc::File { .. } => &[],
        };
        let doc = crate::crypto::cpix::parse_with_rules(&resp.data, asked).map_err(cpix_error)?;
        if let KeyDoc::Provider { kid, kids, .. } = self {
            // Every key id asked for is in the answer.
            let missing = std::iter::once(kid)
                .chain(kids)
                .find(|k| doc.key_by_id(k).is_none());
            if let Some(k) = missing {
                return Err(cpix_error(CpixError::Invalid(format!(
                    "no ContentKey {} (the key id asked for)",
                    crate::manifest::dash::uuid(k)
                ))));
            }
        }
        Ok(doc)
    }
}

/// The CPIX `@commonEncryptionScheme` of an `encryption=` option: CENC's
/// four-character scheme, none for AES-128 whole-segment encryption.
fn cenc_scheme(option: &str) -> Option<&'static str> {
    match option {
        crate::service::CENC | crate::service::PIFF => Some("cenc"),
        "cbcs-aapl" => Some("cbcs"),
        _ => None,
    }
}

/// The version of the cached document `req` needs under `keys`, for an
/// output cache key: `None` when it is not cached (or none is needed).
pub fn cached_version(
    req: &StreamRequest,
    keys: &KeySetting,
    cache: &mut dyn Cache,
) -> Option<String> {
    Some(KeyDoc::of(req, keys)?.cached(cache)?.version)
}
