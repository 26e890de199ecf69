//! Self-prefetch (setting `prefetch = on`): once a viewer has media
//! segment N, the same invocation packages segment N + 1 of that track into
//! the output cache, after the response has gone out. A player fetching
//! segments in order then finds each next one stored, and the origin read
//! happens while the viewer is still playing segment N.
//!
//! Which segment is next comes from the core
//! ([`crate::job::Job::next_fragment_time`]); a cache hit knows it from
//! the stored record ([`crate::outputs::Stored::next`]) without loading an
//! index. The prefetch is an ordinary output-cache miss: it takes the
//! key's transaction, so a viewer asking for N + 1 meanwhile waits for it
//! instead of packaging it again, and a failed read cancels the insert
//! (nothing short is stored). It spends what is left of this client
//! request's backend budget (Fastly: 32), never more; an output already
//! stored, or being stored by another request, costs one lookup.

use super::cache::EdgeCache;
use super::config::Settings;
use super::origin::FastlyOrigin;
use super::outputs::{self, Lookup};
use crate::job::{Job, Step};
use crate::service::{self, Output};
use crate::url::StreamRequest;

/// The segment to prefetch, and the backend requests this client request
/// has already made.
pub struct Prefetch {
    pub request: StreamRequest,
    pub used: usize,
}

/// Packages `p.request` into the output cache unless it is stored already.
pub fn run(s: &mut Settings, p: Prefetch) {
    let mut cfg = s.service_config();
    cfg.clock.now = super::now_unix();
    cfg.max_backend_requests = cfg.max_backend_requests.saturating_sub(p.used);
    if cfg.max_backend_requests == 0 {
        return;
    }
    let mut cache = EdgeCache::new(s);
    let mut job = Job::new(p.request, cfg.clone());
    // The version records are there: the segment before was just made or
    // served from them.
    let Some(key) = job.output_key(&mut cache) else {
        return;
    };
    let Lookup::Miss(tx) = outputs::lookup(&key) else {
        return;
    };
    s.load_origin_auth();
    let s = &*s;
    let Ok(mut origin) = FastlyOrigin::new(s) else {
        let _ = tx.cancel_insert_or_update();
        return;
    };
    let surrogate = job.surrogate_key();
    let mut results = Vec::new();
    let out = loop {
        match job.step(&mut cache, results) {
            Step::Read(reads) => results = crate::source::Origin::read(&mut origin, &reads),
            Step::Answer(Ok(out)) => break out,
            Step::Answer(Err(_)) => {
                let _ = tx.cancel_insert_or_update();
                return;
            }
        }
    };
    // Unbuilt and key outputs are never stored (see `storable`).
    if matches!(out, Output::Ts(_) | Output::Cenc(_) | Output::Key { .. }) {
        let _ = tx.cancel_insert_or_update();
        return;
    }
    let stored = crate::outputs::Stored::of(&out).with_next(job.next_fragment_time());
    let budget = service::Config {
        max_segment_reads: job.payload_budget(),
        ..cfg
    };
    // A failure leaves nothing stored; the viewer's own request for the
    // segment then packages it (and reports the error).
    let _ = outputs::package(
        s,
        &key,
        tx,
        out,
        &stored,
        &mut origin,
        &mut cache,
        &budget,
        &surrogate,
    );
}
