//! The edge cache for indexes and server manifests (`fastly::cache::core`).
//!
//! It also counts the time the request spends in the platform's cache
//! calls (`Server-Timing` `cache`): what is left of the module's time is
//! its own code, the figure the warm-manifest budget is about.

use super::config::Settings;
use crate::source::Cache;
use bytes::Bytes;
use fastly::cache::core::{insert, lookup, CacheKey};
use std::io::Write;
use std::time::{Duration, Instant};

pub struct EdgeCache {
    ttl: Duration,
    prefix: String,
    /// Time spent in cache calls so far (lookups, reads, inserts).
    spent: Duration,
}

impl EdgeCache {
    pub fn new(s: &Settings) -> Self {
        EdgeCache {
            ttl: Duration::from_secs(u64::from(s.index_ttl)),
            // Different origin prefixes are different objects.
            prefix: s.origin_prefix.clone(),
            spent: Duration::ZERO,
        }
    }

    /// Runs `f`, a cache call, counting its time as the cache's.
    pub fn timed<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let t = Instant::now();
        let out = f(self);
        self.spent += t.elapsed();
        out
    }

    /// Time spent in cache calls so far.
    pub fn spent(&self) -> Duration {
        self.spent
    }

    fn key(&self, key: &str) -> CacheKey {
        CacheKey::from(format!("edgepack/{}{key}", self.prefix))
    }
}

impl Cache for EdgeCache {
    fn get(&mut self, key: &str) -> Option<Bytes> {
        self.timed(|c| {
            let found = lookup(c.key(key)).execute().ok()??;
            let mut body = found.to_stream().ok()?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut body, &mut bytes).ok()?;
            (!bytes.is_empty()).then(|| Bytes::from(bytes))
        })
    }

    fn put(&mut self, key: &str, value: Bytes) {
        self.timed(|c| {
            if let Ok(mut body) = insert(c.key(key), c.ttl)
                .known_length(value.len() as u64)
                .execute()
            {
                if body.write_all(&value).is_ok() {
                    let _ = body.finish();
                }
            }
        })
    }

    /// Drops an entry (an object changed at the origin).
    fn forget(&mut self, key: &str) {
        // Overwrite with an already-expired empty entry; the core cache has
        // no delete, and a zero-length value fails to parse as an index.
        self.timed(|c| {
            if let Ok(mut body) = insert(c.key(key), Duration::from_secs(1))
                .known_length(0)
                .execute()
            {
                let _ = body.flush();
                let _ = body.finish();
            }
        })
    }
}
