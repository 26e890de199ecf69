//! One request, as a sans-IO job that every adapter drives with the same
//! loop (after nginx-vod-module's `VOD_AGAIN`): the job says which byte
//! ranges it needs, the adapter reads them (concurrently, with `Range` and
//! `If-Match`) and hands the results back, until the job answers.
//!
//! ```text
//! let mut job = Job::new(request, config);
//! let mut results = Vec::new();
//! let output = loop {
//!     match job.step(&mut cache, results) {
//!         Step::Read(reads) => results = adapter_reads(&reads),
//!         Step::Answer(answer) => break answer,
//!     }
//! };
//! ```
//!
//! What used to be written once per adapter lives here, once: the order of
//! reads (with `key_source = cpix`, an encrypted request's CPIX document
//! first, with `key_source = provider` the key provider's answer to a
//! CPIX request, [`crate::source::cpix`]; a filtered manifest's filter files, both
//! places of each at once and with the server manifest,
//! [`crate::source::filters`]; then every file's index at once, then the
//! moofs of a segment of a fragment-level track
//! ([`crate::service::moofs`]), then the samples a TS segment needs), the read
//! budget per client request, and what happens when an object changes at the origin between reads (its
//! cached index is dropped and the request starts over from the new
//! version, once). CMAF and Smooth segments answer with source byte runs
//! that the adapter splices or streams itself; the job never holds their
//! payload.

use crate::filter::Filter;
use crate::index::MediaIndex;
use crate::input::ism::ServerManifest;
use crate::media_set::{MediaSet, TextTrack};
use crate::service::text::SegmentRequest;
use crate::service::{
    self,
    moofs::{Held, MoofJob},
    ts::TsJob,
    Config, Output, ServeError,
};
use crate::source::filters::FilterLoad;
use crate::source::freshness;
use crate::source::{self, Cache, IndexLoad, OriginError, ReadRequest, ReadResponse, SourceError};
use crate::summary;
use crate::url::{Asset, StreamRequest};

/// How often a request starts over because an object changed under it.
const MAX_RESTARTS: u8 = 1;

/// What the job wants next.
#[derive(Debug)]
pub enum Step {
    /// Read these ranges (concurrently where the platform can) and pass
    /// the results, in this order, to the next [`Job::step`].
    Read(Vec<ReadRequest>),
    /// The answer; the job is finished.
    Answer(Result<Output, ServeError>),
}

enum Stage {
    Start,
    /// Waiting for filter files (`filter=`, manifests only) and, in the
    /// same round, the `.ism` when it is not cached.
    Filters {
        load: FilterLoad,
        ism: Option<String>,
    },
    /// Waiting for one byte of each cached media file whose version is
    /// due for a check ([`crate::source::freshness`]).
    Revalidate {
        paths: Vec<String>,
        sels: Option<Vec<crate::media_set::Selection>>,
        texts: Vec<TextTrack>,
        checks: Vec<freshness::Check>,
    },
    /// Waiting for the asset's CPIX document (`key_source = cpix`) or
    /// the key provider's answer (`key_source = provider`).
    Cpix {
        doc: source::cpix::KeyDoc,
    },
    /// Waiting for the `.ism`.
    Ism {
        path: String,
    },
    /// Waiting for index reads.
    Indexes {
        paths: Vec<String>,
        sels: Option<Vec<crate::media_set::Selection>>,
        texts: Vec<TextTrack>,
        load: IndexLoad,
    },
    /// Waiting for a text sidecar (a text segment's cues).
    Text {
        seg: SegmentRequest,
    },
    /// Waiting for the samples of an MP4 text track's segment.
    TextSamples {
        seg: Box<SegmentRequest>,
        reads: Vec<ReadRequest>,
    },
    /// Waiting for the moofs of a segment of fragment-level tracks.
    Moofs {
        set: Box<MediaSet>,
        job: MoofJob,
    },
    /// Waiting for the samples of a TS segment.
    Samples {
        job: TsJob,
        reads: Vec<ReadRequest>,
    },
    /// Waiting for the samples of an `encryption=cenc`/`cbcs-aapl` CMAF
    /// segment.
    CencSamples {
        job: Box<crate::service::cenc::CencJob>,
        reads: Vec<ReadRequest>,
    },
    Finished,
}

/// One stream request in progress.
pub struct Job {
    req: StreamRequest,
    cfg: Config,
    stage: Stage,
    /// Origin reads asked for so far (all rounds, all attempts).
    reads: usize,
    restarts: u8,
    /// The output key was asked for and could not be made (a version
    /// record missing): write the records once the indexes are loaded.
    record_versions: bool,
    /// The `filter=` filters, parsed, once read (kept across a restart).
    filters: Option<Vec<Filter>>,
    /// The request body: a licence request (`Resource::Licence`), read by
    /// the adapter up to [`crate::crypto::clearkey::MAX_REQUEST_BYTES`].
    body: Option<bytes::Bytes>,
    /// The URL time of the next media segment of the same track, once a
    /// media segment is answered ([`service::next_fragment_time`]).
    next: Option<u64>,
    /// The captions the title declares (its `.ism`, else the setting).
    captions: Option<crate::input::captions::Captions>,
    /// Source bytes a segment's moof round read ([`service::moofs::Held`]):
    /// its payload reads inside them are answered from them.
    held: Vec<Held>,
    /// The reads of the last [`Step::Read`] answered from `held` (`Some`,
    /// by position); the origin answers the others, in order.
    pending: Vec<Option<ReadResponse>>,
    /// The media segment the request names, once located.
    located: Option<service::Located>,
}

impl Job {
    pub fn new(req: StreamRequest, cfg: Config) -> Job {
        Job {
            req,
            cfg,
            stage: Stage::Start,
            reads: 0,
            restarts: 0,
            record_versions: false,
            filters: None,
            body: None,
            next: None,
            captions: None,
            held: Vec::new(),
            pending: Vec::new(),
            located: None,
        }
    }

    /// The request's body (a ClearKey licence request), for
    /// `Resource::Licence`, the one resource answered to a POST.
    pub fn with_body(mut self, body: bytes::Bytes) -> Job {
        self.body = Some(body);
        self
    }

    /// The key this request's output is cached under
    /// ([`crate::outputs::key`]), from cached records only (no origin
    /// read, no index load). `None` on a cold edge; asked again after the
    /// answer, it is there.
    pub fn output_key(&mut self, cache: &mut dyn Cache) -> Option<String> {
        let key = crate::outputs::key(&self.req, &self.cfg, cache);
        self.record_versions |= key.is_none();
        key
    }

    /// The request this job answers.
    pub fn request(&self) -> &StreamRequest {
        &self.req
    }

    /// The URL time of the media segment after the one answered (same
    /// track and options), known once a media segment is answered: what
    /// the edge prefetches, and stores beside the output so a cache hit
    /// knows it too ([`crate::outputs::Stored::next`]).
    pub fn next_fragment_time(&self) -> Option<u64> {
        self.next
    }

    /// The surrogate key of the request's asset (for purging one title).
    pub fn surrogate_key(&self) -> String {
        crate::outputs::surrogate_key(&self.req.asset)
    }

    /// Origin reads this request has asked for.
    pub fn reads(&self) -> usize {
        self.reads
    }

    /// Reads a segment's payload may still use: the configured cap, within
    /// what the platform's per-request budget leaves (at least one).
    pub fn payload_budget(&self) -> usize {
        let left = self.cfg.max_backend_requests.saturating_sub(self.reads);
        self.cfg.max_segment_reads.min(left).max(1)
    }

    /// What a segment's payload reads are planned within: the
    /// [`Job::payload_budget`] at the configured price.
    pub fn payload_limits(&self) -> crate::plan::ReadLimits {
        crate::plan::ReadLimits {
            max_reads: self.payload_budget(),
            cost: self.cfg.read_cost,
        }
    }

    /// Advances the job with the results of the reads the previous step
    /// asked for (empty on the first call).
    pub fn step(
        &mut self,
        cache: &mut dyn Cache,
        results: Vec<Result<ReadResponse, OriginError>>,
    ) -> Step {
        let mut results = Some(results);
        loop {
            let fed = self.with_held(results.take().unwrap_or_default());
            match self.advance(cache, fed) {
                Ok(Some(Step::Read(reads))) => {
                    let reads = self.answer_held(reads);
                    if reads.is_empty() {
                        results = Some(Vec::new());
                        continue;
                    }
                    self.reads += reads.len();
                    return Step::Read(reads);
                }
                Ok(Some(step)) => return step,
                Ok(None) => continue,
                Err(ServeError::Source(SourceError::Origin(OriginError::Changed(path)))) => {
                    if !self.source_changed(&path, cache) {
                        return self.finish(Err(ServeError::Source(SourceError::Origin(
                            OriginError::Bad(format!("{path} kept changing at the origin")),
                        ))));
                    }
                }
                Err(e) => return self.finish(Err(e)),
            }
        }
    }

    /// The reads of `reads` the bytes in hand do not hold (those they do
    /// are kept in `pending`, answered by [`Job::with_held`]): a segment's
    /// payload inside its moof reads is not read twice.
    fn answer_held(&mut self, reads: Vec<ReadRequest>) -> Vec<ReadRequest> {
        self.pending.clear();
        if self.held.is_empty() {
            return reads;
        }
        let mut rest = Vec::with_capacity(reads.len());
        for r in reads {
            let got = self.held.iter().find_map(|h| h.answer(&r));
            if got.is_none() {
                rest.push(r);
            }
            self.pending.push(got);
        }
        if self.pending.iter().all(Option::is_none) {
            self.pending.clear();
        }
        rest
    }

    /// `results` (the origin's answers to the reads [`Job::answer_held`]
    /// left) with the held answers put back in their places.
    fn with_held(
        &mut self,
        results: Vec<Result<ReadResponse, OriginError>>,
    ) -> Vec<Result<ReadResponse, OriginError>> {
        if self.pending.is_empty() {
            return results;
        }
        let mut results = results.into_iter();
        let mut out = Vec::with_capacity(self.pending.len());
        for p in std::mem::take(&mut self.pending) {
            match p {
                Some(held) => out.push(Ok(held)),
                None => out.extend(results.next()),
            }
        }
        out.extend(results);
        out
    }

    /// An object changed at the origin (an `If-Match` read failed, here or
    /// while the adapter streamed a segment): its cached index is dropped
    /// and the request starts over, once. False when it already did; the
    /// adapter then answers 502.
    pub fn source_changed(&mut self, path: &str, cache: &mut dyn Cache) -> bool {
        source::forget_source(path, cache);
        self.restart()
    }

    /// Starts over (the changed object's index is already dropped), once.
    pub fn restart(&mut self) -> bool {
        if self.restarts >= MAX_RESTARTS {
            return false;
        }
        self.restarts += 1;
        self.stage = Stage::Start;
        // Bytes of the version that changed.
        self.held.clear();
        self.pending.clear();
        true
    }

    fn finish(&mut self, answer: Result<Output, ServeError>) -> Step {
        self.stage = Stage::Finished;
        Step::Answer(answer)
    }

    /// One transition: `Some(step)` to return to the adapter, `None` to
    /// go on at once (the next stage needs no read: cache hits).
    fn advance(
        &mut self,
        cache: &mut dyn Cache,
        results: Vec<Result<ReadResponse, OriginError>>,
    ) -> Result<Option<Step>, ServeError> {
        match std::mem::replace(&mut self.stage, Stage::Finished) {
            Stage::Start => {
                service::check_options(&self.req, &self.cfg)?;
                if let Some(doc) = source::cpix::KeyDoc::of(&self.req, &self.cfg.keys) {
                    // Everything encrypted needs the key first (key and
                    // licence routes included): the document alone, in
                    // its own round (the CPIX file, or the key
                    // provider's answer).
                    match doc.cached(cache) {
                        Some(parsed) => self.use_cpix(parsed),
                        None => {
                            let read = doc.read();
                            self.stage = Stage::Cpix { doc };
                            return Ok(Some(Step::Read(vec![read])));
                        }
                    }
                }
                if self.req.resource == crate::url::Resource::Key {
                    // A key depends on the asset's paths and the key
                    // source only: no origin read.
                    let key = service::key_output(&self.req, &self.cfg.keys);
                    return Ok(Some(self.finish(key)));
                }
                if self.req.resource == crate::url::Resource::Licence {
                    // Likewise a licence (and the request body).
                    let body = self.body.take().unwrap_or_default();
                    let licence = service::licence_output(&self.req, &self.cfg.keys, &body);
                    return Ok(Some(self.finish(licence)));
                }
                if self.filters.is_none() && service::has_view(&self.req) {
                    let load = FilterLoad::new(
                        &self.req.asset,
                        &self.req.options.filters,
                        &self.cfg.account_filters,
                        cache,
                    );
                    let mut pending = load.pending(&self.req.asset);
                    if !pending.is_empty() {
                        // The `.ism` does not depend on the filters: read
                        // it in the same round.
                        let ism = match &self.req.asset {
                            Asset::Ism { path } if self.cached_ism(path, cache).is_none() => {
                                pending.push(source::ism_read(path));
                                Some(path.clone())
                            }
                            _ => None,
                        };
                        self.stage = Stage::Filters { load, ism };
                        return Ok(Some(Step::Read(pending)));
                    }
                    self.filters = Some(parse_filters(load)?);
                }
                self.start_asset(cache)
            }
            Stage::Filters { mut load, ism } => {
                let mut results = results;
                let ism_result = ism.map(|path| (path, results.pop()));
                load.feed(&self.req.asset, results, cache)?;
                self.filters = Some(parse_filters(load)?);
                match ism_result {
                    Some((path, resp)) => {
                        let resp = one(resp.into_iter().collect())?;
                        let manifest = source::ism_from_read(&path, resp, cache)?;
                        freshness::ism_read_now(&path, cache, self.cfg.clock);
                        self.with_manifest(Some(&manifest), cache)
                    }
                    None => self.start_asset(cache),
                }
            }
            Stage::Cpix { doc } => {
                let result = results
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| Err(OriginError::Bad("no response".into())));
                let parsed = doc.from_read(result)?;
                doc.store(&parsed, cache);
                self.use_cpix(parsed);
                self.stage = Stage::Start;
                Ok(None)
            }
            Stage::Ism { path } => {
                let resp = one(results)?;
                let manifest = source::ism_from_read(&path, resp, cache)?;
                freshness::ism_read_now(&path, cache, self.cfg.clock);
                self.with_manifest(Some(&manifest), cache)
            }
            Stage::Revalidate {
                paths,
                sels,
                texts,
                checks,
            } => {
                if results.len() != checks.len() {
                    return Err(
                        SourceError::from(OriginError::Bad("missing read results".into())).into(),
                    );
                }
                for (check, result) in checks.iter().zip(results) {
                    check.settle(result, cache, self.cfg.clock)?;
                }
                self.load(paths, sels, texts, cache)
            }
            Stage::Indexes {
                paths,
                sels,
                texts,
                mut load,
            } => {
                load.feed(results, cache)?;
                self.indexes(paths, sels, texts, load, cache)
            }
            Stage::Text { seg } => {
                let resp = one(results)?;
                let cues = source::text::cues_from_read(&seg.path, resp, cache, self.cfg.clock)?;
                Ok(Some(self.finish(seg.output(&cues))))
            }
            Stage::TextSamples { seg, reads } => {
                let responses = results
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(SourceError::from)?;
                Ok(Some(
                    self.finish(text_samples_output(&seg, &reads, responses)),
                ))
            }
            Stage::Moofs { set, job } => {
                let responses = results
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(SourceError::from)?;
                self.moofs(set, job, responses)
            }
            Stage::Samples { job, reads } => {
                let responses = results
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(SourceError::from)?;
                let mut tag: String = reads
                    .iter()
                    .map(|r| {
                        format!(
                            "{}{}-{}",
                            r.if_match.as_deref().unwrap_or(""),
                            r.start,
                            r.end
                        )
                    })
                    .collect();
                let segment = job.build(&reads, responses)?;
                if let Some(kid) = segment.key_id() {
                    // Not the clear segment's ETag, and another one when
                    // the key changes.
                    tag.push_str("/aes-128-cbc/");
                    tag.push_str(&kid);
                }
                Ok(Some(self.finish(Ok(Output::TsBuilt {
                    segment: Box::new(segment),
                    tag,
                }))))
            }
            Stage::CencSamples { job, reads } => {
                let responses = results
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(SourceError::from)?;
                let out = job.build(&reads, responses)?;
                Ok(Some(self.finish(Ok(out))))
            }
            Stage::Finished => Ok(Some(Step::Answer(Err(ServeError::Media(
                "request already answered".into(),
            ))))),
        }
    }

    /// Makes a parsed CPIX document this request's key source (kept
    /// across a restart).
    fn use_cpix(&mut self, doc: crate::crypto::cpix::Cpix) {
        self.cfg.keys = crate::crypto::KeySetting::Ready(crate::crypto::KeySource::Cpix(
            std::sync::Arc::new(doc),
        ));
    }

    /// Reads (or finds cached) the `.ism`, then the indexes.
    fn start_asset(&mut self, cache: &mut dyn Cache) -> Result<Option<Step>, ServeError> {
        match &self.req.asset {
            Asset::Ism { path } => match self.cached_ism(path, cache) {
                Some(manifest) => self.with_manifest(Some(&manifest?), cache),
                None => {
                    let read = source::ism_read(path);
                    self.stage = Stage::Ism { path: path.clone() };
                    Ok(Some(Step::Read(vec![read])))
                }
            },
            _ => self.with_manifest(None, cache),
        }
    }

    fn with_manifest(
        &mut self,
        manifest: Option<&ServerManifest>,
        cache: &mut dyn Cache,
    ) -> Result<Option<Step>, ServeError> {
        self.captions = manifest
            .and_then(|m| m.captions.clone())
            .or_else(|| self.cfg.closed_captions.clone());
        let (paths, sels) = service::selections(&self.req.asset, manifest)?;
        let texts = service::text::text_tracks(&self.req.asset, manifest)?;
        // Cached indexes whose version is due for a check, and the
        // sidecar of a text segment: one byte of each, read together,
        // before any is used.
        let sidecar = service::text::sidecar_of(&self.req, &texts);
        let checks = freshness::stale(paths.iter().chain(&sidecar), cache, self.cfg.clock);
        if !checks.is_empty() && self.reads + checks.len() <= self.cfg.max_backend_requests {
            let reads = checks.iter().map(freshness::Check::read).collect();
            self.stage = Stage::Revalidate {
                paths,
                sels,
                texts,
                checks,
            };
            return Ok(Some(Step::Read(reads)));
        }
        self.load(paths, sels, texts, cache)
    }

    /// A manifest from the cached set summary when there is one
    /// ([`crate::summary`]: no index is loaded), else the indexes.
    fn load(
        &mut self,
        paths: Vec<String>,
        sels: Option<Vec<crate::media_set::Selection>>,
        texts: Vec<TextTrack>,
        cache: &mut dyn Cache,
    ) -> Result<Option<Step>, ServeError> {
        if let Some(set) = self.summarized(&paths, &sels, cache) {
            return self.with_set(set, texts, cache);
        }
        let load = IndexLoad::new(&paths, cache).with_tables(self.cfg.fragment_tables);
        self.indexes(paths, sels, texts, load, cache)
    }

    /// Whether the request is for a manifest or playlist: what a set
    /// summary can answer (segments need the sample tables).
    fn wants_summary(&self) -> bool {
        self.cfg.set_summary
            && matches!(
                self.req.resource,
                crate::url::Resource::Manifest | crate::url::Resource::MediaPlaylist { .. }
            )
    }

    /// The media set from the cached summary of `paths` at the versions
    /// their records name, when there is one and it reads back.
    fn summarized(
        &self,
        paths: &[String],
        sels: &Option<Vec<crate::media_set::Selection>>,
        cache: &mut dyn Cache,
    ) -> Option<MediaSet> {
        if !self.wants_summary() {
            return None;
        }
        let versions = summary::cached_versions(paths, cache, self.cfg.clock)?;
        let key = summary::key(paths, sels, &versions, &self.cfg)?;
        summary::decode(cache.get(&key)?)
    }

    /// Stores the summary of `set`, just built from `indexes`' versions,
    /// for the next manifest (and the version records its key is found
    /// by, when missing). A set whose summary cannot be made (a key too
    /// long, an index error while locating its segments) is simply not
    /// stored: the next request builds it again.
    fn store_summary(
        &self,
        paths: &[String],
        sels: &Option<Vec<crate::media_set::Selection>>,
        versions: &[String],
        set: &MediaSet,
        cache: &mut dyn Cache,
    ) {
        let Some(key) = summary::key(paths, sels, versions, &self.cfg) else {
            return;
        };
        let Ok(bytes) = summary::encode(set) else {
            return;
        };
        for (p, v) in paths.iter().zip(versions) {
            let tag = crate::outputs::tag_key(p);
            if cache.get(&tag).is_none() {
                cache.put(
                    &tag,
                    freshness::Record::encode(v.as_bytes(), self.cfg.clock.now),
                );
            }
        }
        cache.put(&key, bytes::Bytes::from(bytes));
    }

    /// The cached `.ism` at `path`, unless it is due to be read again
    /// ([`freshness::ism_fresh`]).
    fn cached_ism(
        &self,
        path: &str,
        cache: &mut dyn Cache,
    ) -> Option<Result<ServerManifest, SourceError>> {
        if !freshness::ism_fresh(path, cache, self.cfg.clock) {
            return None;
        }
        source::cached_ism(path, cache)
    }

    /// Reads more index bytes, or builds the media set and answers.
    fn indexes(
        &mut self,
        paths: Vec<String>,
        sels: Option<Vec<crate::media_set::Selection>>,
        texts: Vec<TextTrack>,
        load: IndexLoad,
        cache: &mut dyn Cache,
    ) -> Result<Option<Step>, ServeError> {
        let pending = load.pending();
        if !pending.is_empty() {
            if self.reads + pending.len() > self.cfg.max_backend_requests {
                return Err(ServeError::Source(SourceError::Origin(OriginError::Bad(
                    format!(
                        "reading {} files needs more than {} origin requests",
                        paths.len(),
                        self.cfg.max_backend_requests
                    ),
                ))));
            }
            self.stage = Stage::Indexes {
                paths,
                sels,
                texts,
                load,
            };
            return Ok(Some(Step::Read(pending)));
        }
        let indexes: Vec<MediaIndex> = load
            .finish()
            .ok_or_else(|| ServeError::Media("index load ended early".into()))?;
        if std::mem::take(&mut self.record_versions) {
            // The adapter wanted an output key and a version record was
            // missing (a cold or evicted index): write them all, so the
            // output gets a key. Adapters without an output cache never
            // ask, and their caches hold indexes only.
            for (p, idx) in paths.iter().zip(&indexes) {
                let record =
                    freshness::Record::encode(&source::version_tag(idx), self.cfg.clock.now);
                cache.put(&crate::outputs::tag_key(p), record);
            }
        }
        let versions: Vec<String> = indexes
            .iter()
            .map(|i| String::from_utf8_lossy(&source::version_tag(i)).into_owned())
            .collect();
        let set = service::set_from(paths.clone(), sels.clone(), indexes, &self.cfg)?;
        if self.wants_summary() {
            self.store_summary(&paths, &sels, &versions, &set, cache);
        }
        self.with_set(set, texts, cache)
    }

    /// Answers from the media set (built from indexes or read from a
    /// summary): adds the text tracks and captions, then a text segment's
    /// reads, or the filter view and the answer.
    fn with_set(
        &mut self,
        mut set: MediaSet,
        texts: Vec<TextTrack>,
        cache: &mut dyn Cache,
    ) -> Result<Option<Step>, ServeError> {
        set.texts = texts;
        set.captions = self.captions.clone();
        service::text::add_embedded(&mut set);
        if let Some(seg) = service::text::segment_request(&set, &self.req)? {
            if let Some(e) = &seg.embedded {
                // An MP4 text track: the segment's samples, ranged reads of
                // the file within the payload budget (none when no cue
                // shows in the segment).
                if e.samples.is_empty() {
                    return Ok(Some(self.finish(seg.output(&Default::default()))));
                }
                let runs: Vec<_> = e.samples.iter().map(|(r, _)| *r).collect();
                let plan = crate::plan::plan_reads(&runs, self.payload_limits());
                let reads = source::payload_reads(&seg.path, &e.etag, &plan);
                if self.reads + reads.len() > self.cfg.max_backend_requests {
                    return Err(ServeError::Source(SourceError::Origin(OriginError::Bad(
                        format!(
                            "reading the text samples of {} needs more origin requests than allowed",
                            seg.path
                        ),
                    ))));
                }
                self.stage = Stage::TextSamples {
                    seg: Box::new(seg),
                    reads: reads.clone(),
                };
                return Ok(Some(Step::Read(reads)));
            }
            if let Some(cues) = source::text::cached_cues(&seg.path, cache) {
                return Ok(Some(self.finish(seg.output(&cues))));
            }
            if self.reads >= self.cfg.max_backend_requests {
                return Err(ServeError::Source(SourceError::Origin(OriginError::Bad(
                    format!(
                        "reading {} needs one more origin request than allowed",
                        seg.path
                    ),
                ))));
            }
            let read = source::text::text_read(&seg.path);
            self.stage = Stage::Text { seg };
            return Ok(Some(Step::Read(vec![read])));
        }
        // Filters shape manifests only: text segments above, like media
        // segments, are the same bytes with or without them.
        let set = service::view(set, &self.req, self.filters.as_deref().unwrap_or_default())?;
        // The segment a media segment request names, located once: the
        // answer muxes it and self-prefetch takes the one after it.
        self.located = service::locate(&set, &self.req);
        self.next = self
            .located
            .as_ref()
            .and_then(|l| service::next_fragment_time(&set, &l.track, l.number));
        if let Some(job) = MoofJob::new(&set, &self.req) {
            return self.moofs(Box::new(set), job, Vec::new());
        }
        self.answer(&set)
    }

    /// Reads the moofs of a segment of fragment-level tracks, round by
    /// round, then answers with their real samples.
    fn moofs(
        &mut self,
        mut set: Box<MediaSet>,
        mut job: MoofJob,
        results: Vec<ReadResponse>,
    ) -> Result<Option<Step>, ServeError> {
        if !results.is_empty() {
            job.feed(&set, results)?;
        }
        match job.reads(&set, self.payload_limits())? {
            Some(reads) => {
                self.stage = Stage::Moofs { set, job };
                Ok(Some(Step::Read(reads)))
            }
            None => {
                let (expanded, held) = job.finish(&set)?;
                set.expanded = expanded;
                self.held = held;
                self.answer(&set)
            }
        }
    }

    /// The answer from the media set: a manifest, or a segment (whose
    /// payload TS and CENC segments still read).
    fn answer(&mut self, set: &MediaSet) -> Result<Option<Step>, ServeError> {
        match service::answer_located(set, &self.req, &self.cfg, self.located.take())? {
            Output::Ts(job) => {
                let reads = job.reads(self.payload_limits());
                self.stage = Stage::Samples {
                    job,
                    reads: reads.clone(),
                };
                Ok(Some(Step::Read(reads)))
            }
            Output::Cenc(job) => {
                let reads = job.reads(self.payload_limits());
                self.stage = Stage::CencSamples {
                    job,
                    reads: reads.clone(),
                };
                Ok(Some(Step::Read(reads)))
            }
            Output::Segment {
                content_type,
                header,
                runs,
                path,
                etag,
            } => {
                // A segment whose payload the moof round read whole (small
                // fragments) is sent from those bytes: one copy, no read.
                let held = &self.held;
                let slices: Option<Vec<bytes::Bytes>> = runs
                    .iter()
                    .map(|r| held.iter().find_map(|h| h.slice(&path, *r)))
                    .collect();
                let out = match slices {
                    Some(slices) if !held.is_empty() => {
                        let len = header.len() + slices.iter().map(|b| b.len()).sum::<usize>();
                        let mut body = Vec::with_capacity(len);
                        body.extend_from_slice(&header);
                        for s in &slices {
                            body.extend_from_slice(s);
                        }
                        Output::Bytes {
                            content_type,
                            body: bytes::Bytes::from(body),
                        }
                    }
                    _ => Output::Segment {
                        content_type,
                        header,
                        runs,
                        path,
                        etag,
                    },
                };
                Ok(Some(self.finish(Ok(out))))
            }
            out => Ok(Some(self.finish(Ok(out)))),
        }
    }
}

/// An MP4 text track's segment from the responses to its sample reads
/// (same order as `reads`): each sample a slice of a response.
fn text_samples_output(
    seg: &SegmentRequest,
    reads: &[ReadRequest],
    responses: Vec<ReadResponse>,
) -> Result<Output, ServeError> {
    let Some(e) = &seg.embedded else {
        return Err(ServeError::Media("text samples of a sidecar".into()));
    };
    let got: Vec<(crate::mux::ByteRun, bytes::Bytes)> = reads
        .iter()
        .zip(responses)
        .map(|(q, r)| {
            let run = crate::mux::ByteRun {
                offset: q.start,
                len: q.end - q.start,
            };
            (run, r.data)
        })
        .collect();
    let runs: Vec<_> = e.samples.iter().map(|(r, _)| *r).collect();
    let data = crate::plan::assemble(&runs, &got).map_err(|err| {
        ServeError::Source(SourceError::Origin(OriginError::Bad(format!(
            "{}: {err}",
            seg.path
        ))))
    })?;
    let cues = e.cues(&seg.path, &data)?;
    seg.output(&cues)
}

/// The filters a load found, parsed (502 naming the filter when one is
/// not a filter).
fn parse_filters(load: FilterLoad) -> Result<Vec<Filter>, ServeError> {
    let files = load
        .finish()
        .ok_or_else(|| ServeError::Media("filter load ended early".into()))?;
    files
        .iter()
        .map(|(name, bytes)| crate::filter::azure::parse(name, bytes).map_err(ServeError::Filter))
        .collect()
}

/// The single result a one-read round expects.
fn one(results: Vec<Result<ReadResponse, OriginError>>) -> Result<ReadResponse, ServeError> {
    let r = results
        .into_iter()
        .next()
        .ok_or_else(|| OriginError::Bad("no response".into()))
        .map_err(SourceError::from)?;
    Ok(r.map_err(SourceError::from)?)
}

/// Drives `job` to its answer through a blocking `origin` (native CLI,
/// tests, benchmarks).
pub fn run(
    mut job: Job,
    origin: &mut dyn source::Origin,
    cache: &mut dyn Cache,
) -> Result<Output, ServeError> {
    let mut results = Vec::new();
    loop {
        match job.step(cache, results) {
            Step::Read(reads) => results = origin.read(&reads),
            Step::Answer(a) => return a,
        }
    }
}

#[cfg(test)]
mod tests;
