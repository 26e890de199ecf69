//! Filter files at the origin (sans-IO, read through [`crate::job::Job`]):
//! an asset filter `filters/{name}.json` in the asset's folder (beside the
//! `.ism`, or beside a bare `.mp4`), else an account filter
//! `{account_filters}/{name}.json` (setting `account_filters`, default
//! `_filters`, at the origin root). Both places are read at once, in one
//! round, and the asset filter wins when both exist.
//!
//! The bytes found are cached under [`filter_key`] like a server
//! manifest's (same lifetime, the index cache's `index_ttl`), and the
//! output-cache key names their digest ([`crate::outputs::key`]): a
//! replaced filter file gives new keys once its cached copy expires.

use super::{Cache, OriginError, ReadRequest, ReadResponse, SourceError};
use crate::filter::MAX_FILTER_BYTES;
use crate::url::Asset;
use bytes::Bytes;

/// The folder of an asset's objects ("" at the origin root).
fn asset_dir(asset: &Asset) -> &str {
    let path = match asset {
        Asset::Ism { path } | Asset::Mp4 { path } => path.as_str(),
        Asset::UrlSet { paths } => paths.first().map_or("", String::as_str),
    };
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

pub fn asset_filter_path(asset: &Asset, name: &str) -> String {
    match asset_dir(asset) {
        "" => format!("filters/{name}.json"),
        dir => format!("{dir}/filters/{name}.json"),
    }
}

pub fn account_filter_path(root: &str, name: &str) -> String {
    match root.trim_matches('/') {
        "" => format!("{name}.json"),
        root => format!("{root}/{name}.json"),
    }
}

/// Index-cache key of the filter file `name` resolves to for `asset`.
pub fn filter_key(asset: &Asset, name: &str) -> String {
    format!("flt/{}/{name}", asset_dir(asset))
}

fn read(path: String) -> ReadRequest {
    ReadRequest {
        path,
        start: 0,
        end: MAX_FILTER_BYTES + 1,
        if_match: None,
        target: crate::source::ReadTarget::Origin,
    }
}

/// The filter files of one request: cached ones at once, the others read.
#[derive(Debug)]
pub struct FilterLoad {
    names: Vec<String>,
    found: Vec<Option<Bytes>>,
    account_root: String,
}

impl FilterLoad {
    pub fn new(asset: &Asset, names: &[String], account_root: &str, cache: &mut dyn Cache) -> Self {
        FilterLoad {
            names: names.to_vec(),
            found: names
                .iter()
                .map(|n| cache.get(&filter_key(asset, n)))
                .collect(),
            account_root: account_root.to_string(),
        }
    }

    /// Two reads (asset, account) per filter not cached.
    pub fn pending(&self, asset: &Asset) -> Vec<ReadRequest> {
        self.names
            .iter()
            .zip(&self.found)
            .filter(|(_, f)| f.is_none())
            .flat_map(|(n, _)| {
                [
                    read(asset_filter_path(asset, n)),
                    read(account_filter_path(&self.account_root, n)),
                ]
            })
            .collect()
    }

    /// Takes the answers to [`FilterLoad::pending`], in order, and caches
    /// what they found. A filter found at neither place is 404 naming it.
    pub fn feed(
        &mut self,
        asset: &Asset,
        results: Vec<Result<ReadResponse, OriginError>>,
        cache: &mut dyn Cache,
    ) -> Result<(), SourceError> {
        let mut results = results.into_iter();
        for (name, slot) in self.names.iter().zip(self.found.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            let (Some(own), Some(account)) = (results.next(), results.next()) else {
                return Err(OriginError::Bad("missing filter read".into()).into());
            };
            let resp = match (own, account) {
                (Ok(r), _) => r,
                (Err(OriginError::NotFound(_)), Ok(r)) => r,
                (Err(OriginError::NotFound(_)), Err(OriginError::NotFound(_))) => {
                    return Err(OriginError::NotFound(format!(
                        "filter {name} ({} or {})",
                        asset_filter_path(asset, name),
                        account_filter_path(&self.account_root, name)
                    ))
                    .into());
                }
                (Err(OriginError::NotFound(_)), Err(e)) | (Err(e), _) => return Err(e.into()),
            };
            if resp.total_size > MAX_FILTER_BYTES {
                return Err(SourceError::Media {
                    path: format!("filter {name}"),
                    error: format!("larger than {MAX_FILTER_BYTES} bytes"),
                });
            }
            cache.put(&filter_key(asset, name), resp.data.clone());
            *slot = Some(resp.data);
        }
        Ok(())
    }

    /// Every filter's bytes, in `filter=` order, once all are known.
    pub fn finish(self) -> Option<Vec<(String, Bytes)>> {
        self.names
            .into_iter()
            .zip(self.found)
            .map(|(n, b)| b.map(|b| (n, b)))
            .collect()
    }
}
