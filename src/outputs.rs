//! The output cache's vocabulary, shared by every adapter that has a cache
//! for whole responses (Fastly's `cache::core`): what key an output is
//! stored under, what is stored beside its bytes, and which surrogate key
//! purges it.
//!
//! A key holds everything that changes an output's bytes and nothing else:
//! the parsed request (so equivalent spellings of a URL share one entry),
//! the settings that shape outputs, the index format and crate version, and
//! the version of every source object — the `.ism`'s bytes and each media
//! file's ETag. Those versions are read from small records in the index
//! cache ([`tag_key`]), written when an index is built, so a warm request
//! finds its output without loading any index; a replaced object gets a
//! new index, a new record and so new keys: outputs of two versions are
//! never mixed. When a record is missing (a cold edge) there is no key yet:
//! the request packages and stores its output under the key its freshly
//! written records give.

use crate::http::etag;
use crate::index::INDEX_VERSION;
use crate::service::{self, Config, Output};
use crate::source::{self, Cache};
use crate::url::{Asset, Resource, StreamRequest};
use bytes::Bytes;

/// Longest key stored (Fastly allows 4 KB): a longer request is packaged
/// every time rather than cached under a truncated, ambiguous key.
pub const MAX_KEY_LEN: usize = 4000;

/// The index-cache key of `path`'s version record (its ETag, or its size
/// when the origin sends none).
pub fn tag_key(path: &str) -> String {
    format!("tag/v{INDEX_VERSION}/{path}")
}

/// The surrogate key of every response made from `asset`: one purge
/// (`POST /service/{id}/purge/{key}`) drops its manifests and segments.
pub fn surrogate_key(asset: &Asset) -> String {
    let path = match asset {
        Asset::Ism { path } | Asset::Mp4 { path } => path.as_str(),
        // A urlset's members share a folder: purge by the first member.
        Asset::UrlSet { paths } => paths.first().map_or("", String::as_str),
    };
    // Surrogate keys are space-separated tokens: keep them one token.
    let token: String = path
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(256)
        .collect();
    format!("edgepack/{token}")
}

/// The key `req`'s output is stored under, or `None` while a source's
/// version is unknown (its index not built yet). A key URL's answer is
/// never stored (`None`); an encrypted output's key names the content
/// key's id, so a new key seed never meets outputs of the old one, or with
/// `key_source = cpix` the digest of the asset's CPIX document (its key id
/// and DRM signalling).
pub fn key(req: &StreamRequest, cfg: &Config, cache: &mut dyn Cache) -> Option<String> {
    if matches!(req.resource, Resource::Key | Resource::Licence) {
        return None;
    }
    let mut key = format!(
        "out/{}/v{INDEX_VERSION}/{}/{}/{}ms/{:?}",
        env!("CARGO_PKG_VERSION"),
        crate::http::etag::SCHEME,
        surrogate_key(&req.asset),
        cfg.segment_ms,
        req
    );
    if let Some(cc) = &cfg.closed_captions {
        // The setting changes manifests (an `.ism` declaration is in its
        // bytes, named below).
        key.push_str(&format!("/cc:{cc}"));
    }
    if req.options.encryption.is_some() {
        match &cfg.keys {
            // Not read yet by this request: the cached document's digest
            // (the key id and the signalling are in it).
            k @ (crate::crypto::KeySetting::Cpix | crate::crypto::KeySetting::Provider(_)) => {
                key.push_str("/cpix:");
                key.push_str(&source::cpix::cached_version(req, k, cache)?);
            }
            keys => {
                let source = keys.source().ok()?;
                if let Some(v) = source.version() {
                    key.push_str("/cpix:");
                    key.push_str(v);
                } else {
                    key.push_str("/kid:");
                    key.push_str(&source.content_key(&req.asset).kid_hex());
                }
            }
        }
        if req.resource == Resource::Manifest {
            // An encrypted MPD names its absolute licence URL: one copy
            // per URL it was asked at.
            key.push_str("/at:");
            key.push_str(cfg.request_url.as_deref().unwrap_or(""));
            // A PIFF Smooth manifest names the PlayReady licence server.
            if req.options.encryption.as_deref() == Some(service::PIFF) {
                key.push_str("/la:");
                key.push_str(cfg.playready_la_url.as_deref().unwrap_or(""));
            }
        }
    }
    let manifest = match &req.asset {
        Asset::Ism { path } => {
            if !source::freshness::ism_fresh(path, cache, cfg.clock) {
                return None;
            }
            let bytes = cache.get(&source::ism_key(path))?;
            key.push_str(&format!("/ism:{}", etag::of_body(&bytes)));
            Some(source::cached_ism(path, cache)?.ok()?)
        }
        _ => None,
    };
    let (mut paths, _) = service::selections(&req.asset, manifest.as_ref()).ok()?;
    if service::has_view(req) {
        // A replaced filter file changes the bytes of every manifest it
        // filters: name the version (digest) of each, as of the `.ism`.
        for name in &req.options.filters {
            let bytes = cache.get(&source::filters::filter_key(&req.asset, name))?;
            key.push_str(&format!("/flt:{}", etag::of_body(&bytes)));
        }
        key.push_str(&format!("/af:{}", cfg.account_filters));
    }
    if let Resource::Fragment { .. } = &req.resource {
        // A text segment is made from its sidecar too: name its version.
        let texts = service::text::text_tracks(&req.asset, manifest.as_ref()).ok()?;
        paths.extend(service::text::sidecar_of(req, &texts));
    }
    for p in &paths {
        // A version not confirmed at the origin for `revalidate_after`
        // names no output: the request checks it first.
        let record = source::freshness::Record::decode(&cache.get(&tag_key(p))?);
        if !record.is_fresh(cfg.clock) {
            return None;
        }
        key.push('/');
        key.push_str(&record.version);
    }
    (key.len() <= MAX_KEY_LEN).then_some(key)
}

/// What is stored beside an output's bytes: enough to answer any request
/// for it (Range, If-None-Match) without packaging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub content_type: String,
    /// The response's ETag.
    pub etag: String,
    /// Segments and init segments; manifests are not.
    pub immutable: bool,
    /// Renditions the manifest leaves out (the `Edgepack-Omitted` header).
    pub omitted: Vec<String>,
    /// For a media segment: the URL time of the next segment of its track
    /// ([`crate::job::Job::next_fragment_time`]), so a cache hit knows what
    /// to prefetch without loading an index.
    pub next: Option<u64>,
}

impl Stored {
    /// The stored facts of an output whose bytes are `body` (for segments,
    /// the ETag comes from the source version, not the bytes).
    pub fn of(out: &Output) -> Stored {
        let (etag, omitted) = match out {
            Output::Text { body, omitted, .. } => (etag::of_body(body.as_bytes()), omitted.clone()),
            Output::Bytes { body, .. } => (etag::of_body(body), Vec::new()),
            Output::Segment { header, etag, .. } => (etag::of_segment(etag, header), Vec::new()),
            Output::TsBuilt { tag, .. } => (etag::of_segment(tag, b"ts"), Vec::new()),
            Output::Ts(_) | Output::Cenc(_) | Output::Key { .. } => (String::new(), Vec::new()),
        };
        Stored {
            content_type: out.content_type().to_string(),
            etag,
            immutable: out.is_immutable(),
            omitted,
            next: None,
        }
    }

    /// [`Stored::of`] with the next segment's URL time.
    pub fn with_next(mut self, next: Option<u64>) -> Stored {
        self.next = next;
        self
    }

    /// Lines: content type, ETag, `immutable` or `manifest` (followed by
    /// ` next={time}` when the next segment is known), then the omitted
    /// renditions.
    pub fn encode(&self) -> Bytes {
        let mut s = format!(
            "{}\n{}\n{}",
            self.content_type,
            self.etag,
            if self.immutable {
                "immutable"
            } else {
                "manifest"
            }
        );
        if let Some(t) = self.next {
            s.push_str(&format!(" next={t}"));
        }
        for o in &self.omitted {
            s.push('\n');
            s.push_str(&o.replace('\n', " "));
        }
        Bytes::from(s)
    }

    pub fn decode(data: &[u8]) -> Option<Stored> {
        let text = std::str::from_utf8(data).ok()?;
        let mut lines = text.split('\n');
        let content_type = lines.next()?.to_string();
        let etag = lines.next()?.to_string();
        let third = lines.next()?;
        let (kind, next) = match third.split_once(" next=") {
            Some((kind, t)) => (kind, Some(t.parse().ok()?)),
            None => (third, None),
        };
        let immutable = match kind {
            "immutable" => true,
            "manifest" => false,
            _ => return None,
        };
        Some(Stored {
            content_type,
            etag,
            immutable,
            omitted: lines.map(str::to_string).collect(),
            next,
        })
    }
}

#[cfg(test)]
mod tests;
