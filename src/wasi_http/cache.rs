//! The index cache of the wasi:http build: memory of this component
//! instance. The wasi:http standard has no cache API, so entries live as
//! long as the host keeps the instance (jco serves every request from one
//! instance; `wasmtime serve` makes one per request, so there nothing is
//! kept and every request reads its indexes). Bounded in bytes, oldest
//! entry evicted first, each entry dropped after `index_ttl`.

use crate::source::Cache;
use bytes::Bytes;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Bytes of cached indexes and server manifests an instance keeps: a
/// quarter of the 128 MB heap the edge budget allows, so a request's own
/// work always has room.
const MAX_CACHED_BYTES: usize = 32 * 1024 * 1024;

#[derive(Default)]
struct Store {
    /// Value, when stored, and its insertion number.
    entries: HashMap<String, (Bytes, Instant, u64)>,
    /// Insertion order, for eviction; an item whose number no longer
    /// matches its entry is stale (removed or stored again since).
    order: VecDeque<(u64, String)>,
    bytes: usize,
    next: u64,
}

thread_local! {
    static STORE: RefCell<Store> = RefCell::new(Store::default());
}

/// A handle on the instance's cache with this request's TTL.
pub struct InstanceCache {
    ttl: Duration,
    prefix: String,
}

impl InstanceCache {
    pub fn new(ttl_secs: u32, prefix: &str) -> InstanceCache {
        InstanceCache {
            ttl: Duration::from_secs(u64::from(ttl_secs)),
            // Different origin prefixes are different objects.
            prefix: prefix.to_string(),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl Store {
    fn remove(&mut self, key: &str) {
        if let Some((v, _, _)) = self.entries.remove(key) {
            self.bytes -= v.len();
        }
    }
}

impl Cache for InstanceCache {
    fn get(&mut self, key: &str) -> Option<Bytes> {
        let key = self.key(key);
        STORE.with_borrow_mut(|s| {
            let (value, at, _) = s.entries.get(&key)?;
            if at.elapsed() < self.ttl {
                return Some(value.clone());
            }
            s.remove(&key);
            None
        })
    }

    fn put(&mut self, key: &str, value: Bytes) {
        if value.len() > MAX_CACHED_BYTES / 4 {
            return;
        }
        let key = self.key(key);
        STORE.with_borrow_mut(|s| {
            s.remove(&key);
            while s.bytes + value.len() > MAX_CACHED_BYTES {
                match s.order.pop_front() {
                    Some((n, old)) if s.entries.get(&old).is_some_and(|e| e.2 == n) => {
                        s.remove(&old)
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            s.next += 1;
            let n = s.next;
            s.bytes += value.len();
            s.order.push_back((n, key.clone()));
            s.entries.insert(key, (value, Instant::now(), n));
            // Stale items pile up in `order` when keys are stored again;
            // compact it.
            if s.order.len() > 2 * s.entries.len() + 64 {
                let entries = &s.entries;
                s.order
                    .retain(|(n, k)| entries.get(k).is_some_and(|e| e.2 == *n));
            }
        });
    }

    fn forget(&mut self, key: &str) {
        let key = self.key(key);
        STORE.with_borrow_mut(|s| s.remove(&key));
    }
}
