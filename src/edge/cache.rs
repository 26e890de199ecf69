//! The edge cache for indexes and server manifests (`fastly::cache::core`).
//!
//! Small entries read once are remembered for the rest of the request: a
//! source's version record is asked for by the output key, the revalidation
//! check and the set summary's key in turn, and on Fastly every lookup is a
//! round of host calls. The request's own writes update what it remembers,
//! so it sees its cache as it left it (another request's write in between
//! is seen by the next request, as it would be a moment later anyway).
//!
//! It also counts the time the request spends in the platform's cache
//! calls (`Server-Timing` `cache`): what is left of the module's time is
//! its own code, the figure the warm-manifest budget is about.

use super::config::Settings;
use crate::source::Cache;
use bytes::Bytes;
use fastly::cache::core::{insert, lookup, CacheKey};
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// Largest entry remembered within a request (version records, `.ism`
/// check records, CPIX: not index blobs or summaries, read once).
const REMEMBER_MAX: usize = 1024;

pub struct EdgeCache {
    ttl: Duration,
    prefix: String,
    /// Time spent in cache calls so far (lookups, reads, inserts).
    spent: Duration,
    /// Small entries read or written by this request (`None`: absent).
    remembered: HashMap<String, Option<Bytes>>,
}

impl EdgeCache {
    pub fn new(s: &Settings) -> Self {
        EdgeCache {
            ttl: Duration::from_secs(u64::from(s.index_ttl)),
            // Different origin prefixes are different objects.
            prefix: s.origin_prefix.clone(),
            spent: Duration::ZERO,
            remembered: HashMap::new(),
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

/// Largest buffer a read sizes up front from an entry's known length
/// (an index blob of a long title is a few megabytes; a larger entry is
/// still read whole, growing past this).
const PRESIZE_MAX: usize = 16 << 20;

impl Cache for EdgeCache {
    fn get(&mut self, key: &str) -> Option<Bytes> {
        if let Some(v) = self.remembered.get(key) {
            return v.clone();
        }
        // `Err`: the lookup or the read failed (not remembered: a later
        // read in this request asks again); `Ok(None)`: absent or empty.
        let value = self.timed(|c| -> Result<Option<Bytes>, ()> {
            let Some(found) = lookup(c.key(key)).execute().map_err(|_| ())? else {
                return Ok(None);
            };
            // Sized from the entry's known length (our own values: the
            // inserts declare it), so the body is read in a few host calls
            // into one buffer, not grown from empty by doubling.
            let presize = found
                .known_length()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0)
                .min(PRESIZE_MAX);
            let mut body = found.to_stream().map_err(|_| ())?;
            let mut bytes = Vec::with_capacity(presize);
            std::io::Read::read_to_end(&mut body, &mut bytes).map_err(|_| ())?;
            Ok((!bytes.is_empty()).then(|| Bytes::from(bytes)))
        });
        let value = value.ok()?;
        if value.as_ref().is_none_or(|v| v.len() <= REMEMBER_MAX) {
            self.remembered.insert(key.to_string(), value.clone());
        }
        value
    }

    fn put(&mut self, key: &str, value: Bytes) {
        let stored = self.timed(|c| {
            let Ok(mut body) = insert(c.key(key), c.ttl)
                .known_length(value.len() as u64)
                .execute()
            else {
                return false;
            };
            body.write_all(&value).is_ok() && body.finish().is_ok()
        });
        // Remembered as a read would find it (empty reads as absent); a
        // failed insert leaves the platform's answer to the next read.
        if stored && value.len() <= REMEMBER_MAX {
            let found = (!value.is_empty()).then(|| value.clone());
            self.remembered.insert(key.to_string(), found);
        } else {
            self.remembered.remove(key);
        }
    }

    /// Drops an entry (an object changed at the origin).
    fn forget(&mut self, key: &str) {
        // Overwrite with an already-expired empty entry; the core cache has
        // no delete, and a zero-length value fails to parse as an index.
        self.remembered.insert(key.to_string(), None);
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
