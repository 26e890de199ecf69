//! The edge cache for indexes and server manifests (`fastly::cache::core`).

use super::config::Settings;
use crate::source::Cache;
use bytes::Bytes;
use fastly::cache::core::{insert, lookup, CacheKey};
use std::io::Write;
use std::time::Duration;

pub struct EdgeCache {
    ttl: Duration,
    prefix: String,
}

impl EdgeCache {
    pub fn new(s: &Settings) -> Self {
        EdgeCache {
            ttl: Duration::from_secs(u64::from(s.index_ttl)),
            // Different origin prefixes are different objects.
            prefix: s.origin_prefix.clone(),
        }
    }

    fn key(&self, key: &str) -> CacheKey {
        CacheKey::from(format!("edgepack/{}{key}", self.prefix))
    }
}

impl Cache for EdgeCache {
    fn get(&mut self, key: &str) -> Option<Bytes> {
        let found = lookup(self.key(key)).execute().ok()??;
        let mut body = found.to_stream().ok()?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut body, &mut bytes).ok()?;
        (!bytes.is_empty()).then(|| Bytes::from(bytes))
    }

    fn put(&mut self, key: &str, value: Bytes) {
        if let Ok(mut body) = insert(self.key(key), self.ttl)
            .known_length(value.len() as u64)
            .execute()
        {
            if body.write_all(&value).is_ok() {
                let _ = body.finish();
            }
        }
    }

    /// Drops an entry (an object changed at the origin).
    fn forget(&mut self, key: &str) {
        // Overwrite with an already-expired empty entry; the core cache has
        // no delete, and a zero-length value fails to parse as an index.
        if let Ok(mut body) = insert(self.key(key), Duration::from_secs(1))
            .known_length(0)
            .execute()
        {
            let _ = body.flush();
            let _ = body.finish();
        }
    }
}
