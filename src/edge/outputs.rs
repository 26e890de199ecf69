//! The output cache on Fastly (`cache::core` transactions): a packaged
//! manifest or segment is stored under the core's key
//! ([`crate::outputs::key`]) and served from the cache after that;
//! concurrent identical misses wait on the first one's insert (request
//! collapsing), so N simultaneous first viewers cost the origin one
//! packaging run. What a response says (Range, 304, validators) is still
//! decided by [`crate::http`] from the stored facts.

use super::cache::EdgeCache;
use super::config::Settings;
use super::origin::{self, FastlyOrigin};
use super::respond;
use super::{done, Handled};
use crate::deliver::{self, SegmentBody};
use crate::http;
use crate::outputs::Stored;
use crate::service::{self, Output};
use fastly::cache::core::{CacheKey, Found, Transaction};
use fastly::http::StatusCode;
use std::io::Write;
use std::time::{Duration, Instant};

/// What a lookup found.
pub enum Lookup {
    /// Stored: serve it.
    Hit(Found, Stored),
    /// Not stored, and this request is the one to store it (others asking
    /// meanwhile wait for it).
    Miss(Transaction),
    /// No cache answer (an error, or a stored value we cannot read).
    Off,
}

pub fn lookup(key: &str) -> Lookup {
    let Ok(tx) = Transaction::lookup(CacheKey::from(key.to_owned())).execute() else {
        return Lookup::Off;
    };
    if let Some(found) = tx.found() {
        if let Some(stored) = Stored::decode(&found.user_metadata()) {
            return Lookup::Hit(found, stored);
        }
    }
    if tx.must_insert_or_update() {
        Lookup::Miss(tx)
    } else {
        Lookup::Off
    }
}

/// Answers from a stored output: `state` goes to `x-edgepack-cache`.
pub fn respond(
    s: &Settings,
    found: &Found,
    stored: &Stored,
    head: bool,
    state: &str,
    t: respond::Timing,
) -> Handled {
    let len = found.known_length().unwrap_or(0);
    let d = http::for_body(
        &respond::request_head(s, head),
        &respond::policy(s),
        &stored.content_type,
        len,
        &stored.etag,
        stored.immutable,
    );
    let mut r = respond::to_response(&d.head);
    r.set_header("x-edgepack-cache", state);
    respond::server_timing(&mut r, state, t);
    if !stored.omitted.is_empty() {
        r.set_header("edgepack-omitted", stored.omitted.join("; "));
    }
    match (d.body, &d.text) {
        (Some((a, b)), _) if b > a => {
            let body = if (a, b) == (0, len) {
                found.to_stream()
            } else {
                found.to_stream_from_range(Some(a), Some(b - 1))
            };
            match body {
                Ok(body) => r.set_body(body),
                Err(_) => {
                    return done(respond::error(
                        s,
                        StatusCode::BAD_GATEWAY,
                        "cached output unreadable",
                    ))
                }
            }
        }
        (_, Some(t)) => r.set_body(t.as_str()),
        _ => {}
    }
    done(r)
}

/// Replaces whatever is stored under `key` with an empty entry that
/// [`lookup`] does not take for an output, for a second.
fn tombstone(key: &str) {
    let entry = fastly::cache::core::insert(CacheKey::from(key.to_owned()), Duration::from_secs(1))
        .known_length(0)
        .execute();
    if let Ok(body) = entry {
        let _ = body.finish();
    }
}

/// How long an output stays: manifests for their `Cache-Control`
/// lifetime; segments and init segments, whose keys name the source
/// version, as long as the index they were made from.
fn ttl(s: &Settings, stored: &Stored) -> Duration {
    let secs = if stored.immutable {
        s.index_ttl
    } else {
        s.manifest_ttl
    };
    Duration::from_secs(u64::from(secs.max(1)))
}

/// Packages `out` whole into the cache under `tx`, then answers the client
/// from the stored copy (so a Range or a 304 is served like a hit). A
/// failed origin read cancels the insert (waiters then package
/// themselves) and answers the error; nothing short is ever stored.
#[allow(clippy::too_many_arguments)]
pub fn store(
    s: &Settings,
    key: &str,
    tx: Transaction,
    out: Output,
    stored: Stored,
    origin: &mut FastlyOrigin,
    cache: &mut EdgeCache,
    cfg: &service::Config,
    surrogate: &str,
    head: bool,
    t0: Instant,
) -> Handled {
    match package(s, key, tx, out, &stored, origin, cache, cfg, surrogate) {
        Ok(found) => {
            let t = respond::Timing {
                start: t0,
                cache: cache.spent(),
            };
            respond(s, &found, &stored, head, "miss", t)
        }
        Err(h) => h,
    }
}

/// Packages `out` whole into the cache under `tx` (the storing half of
/// [`store`], also what a prefetch does): the stored copy, or the answer
/// to give instead (the insert cancelled or shadowed, never left short).
#[allow(clippy::too_many_arguments)]
pub fn package(
    s: &Settings,
    key: &str,
    tx: Transaction,
    mut out: Output,
    stored: &Stored,
    origin: &mut FastlyOrigin,
    cache: &mut EdgeCache,
    cfg: &service::Config,
    surrogate: &str,
) -> Result<Found, Handled> {
    let len = out.len();
    // Segment payload: every read checked before anything is stored.
    let segment = match &out {
        Output::Segment {
            header,
            runs,
            path,
            etag,
            ..
        } => {
            let plan = SegmentBody::plan(header, runs, path, etag, (0, len), cfg.read_limits());
            match origin::fetch(&plan, origin, path) {
                Ok(sources) => Some((plan, sources)),
                Err(e) => {
                    let _ = tx.cancel_insert_or_update();
                    return Err(origin::fail(origin::origin_failure(s, cache, path, &e)));
                }
            }
        }
        _ => None,
    };
    // The insert, the copy of an in-memory body into it and its finish
    // are cache calls (`Server-Timing` `cache`); a segment's payload write
    // waits on the origin and is not.
    let insert = cache.timed(|_| {
        tx.insert(ttl(s, stored))
            .known_length(len)
            .user_metadata(stored.encode())
            .surrogate_keys([surrogate])
            .execute_and_stream_back()
    });
    let Ok((mut writer, found)) = insert else {
        return Err(done(respond::error(
            s,
            StatusCode::BAD_GATEWAY,
            "output cache refused the insert",
        )));
    };
    let written = match (&mut out, segment) {
        (Output::Text { body, .. }, _) => {
            cache.timed(|_| writer.write_all(body.as_bytes()).is_ok())
        }
        (Output::Bytes { body, .. }, _) => cache.timed(|_| writer.write_all(body).is_ok()),
        (Output::Segment { .. }, Some((plan, sources))) => {
            origin::write_body(&plan, sources, &mut writer, false)
        }
        (Output::TsBuilt { segment, .. }, _) => {
            deliver::write_ts(segment, 0, len, &mut writer).is_ok()
        }
        _ => false,
    };
    if !written {
        // Dropped unfinished, then shadowed: an abandoned insert may stay
        // visible as an object whose body fails, so a short-lived empty
        // entry without metadata replaces it (read as "not stored").
        drop(writer);
        tombstone(key);
        return Err(done(respond::error(
            s,
            StatusCode::BAD_GATEWAY,
            "origin body ended early while packaging",
        )));
    }
    if cache.timed(|_| writer.finish()).is_err() {
        return Err(done(respond::error(
            s,
            StatusCode::BAD_GATEWAY,
            "output cache insert failed",
        )));
    }
    Ok(found)
}
