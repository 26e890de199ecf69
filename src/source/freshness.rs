//! Revalidating what the edge cached about a source object (issue 11,
//! "freshness without mixing").
//!
//! A media file's index and an `.ism` are cached for `index_ttl` (a day by
//! default); without a check, a replaced object would be noticed only when
//! a payload read's `If-Match` fails, and outputs already in the output
//! cache (whose keys name the old version) would be served until then. So
//! each version record ([`crate::outputs::tag_key`]) also says when the
//! version was last confirmed at the origin, and a record older than
//! `revalidate_after` seconds does not name an output: the request first
//! asks the origin for one byte of the object (RFC 9110 §14.2; the answer
//! carries the ETag, §8.8.3) and compares versions. The same version
//! renews the record (the cached index and outputs stay valid: one small
//! round trip per object per interval per cache); another version drops
//! the index and record ([`super::forget_source`]), so the request builds
//! the new index and every output key names the new version — old and new
//! outputs are never mixed. A failed check (timeout, 5xx) keeps serving
//! the cached version (stale-if-error, RFC 5861 §4); a 404 drops it.
//!
//! `.ism` files are small: a stale one is simply read again. A text
//! sidecar's record is checked the same way when a text segment is asked
//! for (its parsed cues are dropped with it on a new version); manifests do
//! not depend on a sidecar's content. With `now == 0` (a runtime without a clock or a cache
//! that outlives a request) or `max_age == 0`, nothing is ever stale.

use super::{forget_source, Cache, OriginError, ReadRequest, ReadResponse, SourceError};
use bytes::Bytes;

/// A version record: the object's version (ETag, or `size:{n}`) and when
/// the origin last confirmed it (unix seconds; `None` for records that are
/// never revalidated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub version: String,
    pub checked: Option<u64>,
}

impl Record {
    /// `version`, then `\n{checked}` when the record is revalidated.
    pub fn encode(version: &[u8], checked: u64) -> Bytes {
        let mut out = version.to_vec();
        out.extend_from_slice(format!("\n{checked}").as_bytes());
        Bytes::from(out)
    }

    pub fn decode(data: &[u8]) -> Record {
        let text = String::from_utf8_lossy(data);
        match text.rsplit_once('\n') {
            Some((version, t)) if t.parse::<u64>().is_ok() => Record {
                version: version.to_string(),
                checked: t.parse().ok(),
            },
            _ => Record {
                version: text.into_owned(),
                checked: None,
            },
        }
    }

    /// Whether the record may still name outputs at `now`.
    pub fn is_fresh(&self, clock: Clock) -> bool {
        match (self.checked, clock.active()) {
            (Some(checked), true) => clock.now <= checked.saturating_add(clock.max_age),
            _ => true,
        }
    }
}

/// The time and the interval records are judged by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// Unix seconds; 0 when the adapter has no clock.
    pub now: u64,
    /// Seconds a confirmed version stays fresh; 0: forever.
    pub max_age: u64,
}

impl Clock {
    fn active(self) -> bool {
        self.now > 0 && self.max_age > 0
    }
}

/// The version a read's answer names: its ETag, or its size when the
/// origin sends none (as [`super::version_tag`] records it).
pub fn version_of(resp: &ReadResponse) -> String {
    if resp.etag.is_empty() {
        format!("size:{}", resp.total_size)
    } else {
        resp.etag.clone()
    }
}

/// A version to confirm at the origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub path: String,
    pub version: String,
}

impl Check {
    /// One byte of the object, unconditional: the answer's ETag (or size)
    /// is compared with the record's.
    pub fn read(&self) -> ReadRequest {
        ReadRequest {
            path: self.path.clone(),
            start: 0,
            end: 1,
            if_match: None,
            target: crate::source::ReadTarget::Origin,
        }
    }

    /// Applies the origin's answer: renews the record, or forgets the
    /// object (a new version, or gone). Other failures keep the cached
    /// version (stale-if-error).
    pub fn settle(
        &self,
        result: Result<ReadResponse, OriginError>,
        cache: &mut dyn Cache,
        clock: Clock,
    ) -> Result<(), SourceError> {
        match result {
            Ok(resp) if version_of(&resp) == self.version => {
                cache.put(
                    &crate::outputs::tag_key(&self.path),
                    Record::encode(self.version.as_bytes(), clock.now),
                );
            }
            Ok(_) | Err(OriginError::NotFound(_)) => forget_source(&self.path, cache),
            Err(_) => {}
        }
        Ok(())
    }
}

/// The media files among `paths` whose version must be confirmed before
/// anything cached about them is used (their index, set summary or
/// outputs): their version record is stale. The record alone decides: the
/// index is not looked up, as on Fastly a lookup reads the whole
/// multi-megabyte blob, which the index load then reads again — and a
/// record may name a set summary ([`crate::summary`]) whose index was
/// evicted. (No record: nothing cached names a version yet, and the
/// record is written when the index loads.)
pub fn stale<'a>(
    paths: impl IntoIterator<Item = &'a String>,
    cache: &mut dyn Cache,
    clock: Clock,
) -> Vec<Check> {
    if !clock.active() {
        return Vec::new();
    }
    paths
        .into_iter()
        .filter_map(|p| {
            let record = Record::decode(&cache.get(&crate::outputs::tag_key(p))?);
            if record.is_fresh(clock) {
                return None;
            }
            Some(Check {
                path: p.clone(),
                version: record.version,
            })
        })
        .collect()
}

/// The key of the record saying when an `.ism` was last read.
pub fn ism_checked_key(path: &str) -> String {
    format!("ismchk/{path}")
}

/// Whether the cached `.ism` at `path` may be used: read less than
/// `max_age` ago (or no clock).
pub fn ism_fresh(path: &str, cache: &mut dyn Cache, clock: Clock) -> bool {
    if !clock.active() {
        return true;
    }
    cache
        .get(&ism_checked_key(path))
        .map(|b| Record::decode(&b))
        .is_some_and(|r| r.is_fresh(clock))
}

/// Notes that the `.ism` at `path` was just read.
pub fn ism_read_now(path: &str, cache: &mut dyn Cache, clock: Clock) {
    if clock.active() {
        cache.put(&ism_checked_key(path), Record::encode(b"ism", clock.now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemoryCache;

    const CLOCK: Clock = Clock {
        now: 1_000,
        max_age: 60,
    };

    fn resp(etag: &str) -> ReadResponse {
        ReadResponse {
            data: Bytes::from_static(b"x"),
            total_size: 99,
            etag: etag.into(),
        }
    }

    #[test]
    fn records_round_trip_and_age() {
        let r = Record::decode(&Record::encode(b"\"v1\"", 900));
        assert_eq!(r.version, "\"v1\"");
        assert_eq!(r.checked, Some(900));
        assert!(!r.is_fresh(CLOCK), "100 s old, 60 allowed");
        assert!(Record::decode(&Record::encode(b"\"v1\"", 950)).is_fresh(CLOCK));
        // Records without a time (sidecars, older records) never age.
        let legacy = Record::decode(b"\"v1\"");
        assert_eq!((legacy.version.as_str(), legacy.checked), ("\"v1\"", None));
        assert!(legacy.is_fresh(CLOCK));
        // No clock, or no interval: nothing is stale.
        assert!(r.is_fresh(Clock {
            now: 0,
            max_age: 60
        }));
        assert!(r.is_fresh(Clock {
            now: 5_000,
            max_age: 0
        }));
    }

    #[test]
    fn stale_lists_old_records_without_reading_indexes() {
        /// Counts the keys read.
        struct Counting(MemoryCache, Vec<String>);
        impl Cache for Counting {
            fn get(&mut self, key: &str) -> Option<Bytes> {
                self.1.push(key.to_string());
                self.0.get(key)
            }
            fn put(&mut self, key: &str, value: Bytes) {
                self.0.put(key, value)
            }
            fn forget(&mut self, key: &str) {
                self.0.forget(key)
            }
        }
        let mut cache = Counting(MemoryCache::default(), Vec::new());
        let paths: Vec<String> = ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
            .map(String::from)
            .into();
        // a: stale with an index; b: fresh; c: stale without an index; d: nothing.
        for (p, t) in [("a.mp4", 900), ("b.mp4", 990), ("c.mp4", 900)] {
            cache.put(&crate::outputs::tag_key(p), Record::encode(b"\"v1\"", t));
        }
        for p in ["a.mp4", "b.mp4"] {
            cache.put(&crate::source::index_key(p), Bytes::from_static(b"idx"));
        }
        let checks = stale(&paths, &mut cache, CLOCK);
        let check = |p: &str| Check {
            path: p.into(),
            version: "\"v1\"".into(),
        };
        assert_eq!(checks, vec![check("a.mp4"), check("c.mp4")]);
        assert_eq!(checks[0].read().end, 1);
        assert!(
            cache.1.iter().all(|k| k.starts_with("tag/")),
            "{:?}",
            cache.1
        );
        assert!(stale(&paths, &mut cache, Clock::default()).is_empty());
    }

    #[test]
    fn settle_renews_forgets_or_keeps() {
        let check = Check {
            path: "a.mp4".into(),
            version: "\"v1\"".into(),
        };
        let tag = crate::outputs::tag_key("a.mp4");
        let idx = crate::source::index_key("a.mp4");
        let setup = || {
            let mut c = MemoryCache::default();
            c.put(&tag, Record::encode(b"\"v1\"", 900));
            c.put(&idx, Bytes::from_static(b"idx"));
            c
        };
        // Same version: the record is renewed, the index kept.
        let mut c = setup();
        check.settle(Ok(resp("\"v1\"")), &mut c, CLOCK).unwrap();
        assert_eq!(Record::decode(&c.get(&tag).unwrap()).checked, Some(1_000));
        assert!(c.get(&idx).is_some());
        // A new version, or gone: both forgotten.
        for r in [
            Ok(resp("\"v2\"")),
            Err(OriginError::NotFound("a.mp4".into())),
        ] {
            let mut c = setup();
            check.settle(r, &mut c, CLOCK).unwrap();
            assert!(c.get(&idx).is_none() && c.get(&tag).is_none());
        }
        // The origin failing: keep serving what is cached.
        let mut c = setup();
        check
            .settle(Err(OriginError::Timeout("a.mp4".into())), &mut c, CLOCK)
            .unwrap();
        assert_eq!(Record::decode(&c.get(&tag).unwrap()).checked, Some(900));
        assert!(c.get(&idx).is_some());
        // Origins without ETags: the size is the version.
        let sized = Check {
            path: "a.mp4".into(),
            version: "size:99".into(),
        };
        let mut c = setup();
        sized.settle(Ok(resp("")), &mut c, CLOCK).unwrap();
        assert!(c.get(&idx).is_some());
    }

    #[test]
    fn ism_reads_are_dated() {
        let mut c = MemoryCache::default();
        assert!(!ism_fresh("x.ism", &mut c, CLOCK));
        assert!(ism_fresh("x.ism", &mut c, Clock::default()));
        ism_read_now("x.ism", &mut c, CLOCK);
        assert!(ism_fresh("x.ism", &mut c, CLOCK));
        let later = Clock {
            now: 1_061,
            max_age: 60,
        };
        assert!(!ism_fresh("x.ism", &mut c, later));
    }
}
