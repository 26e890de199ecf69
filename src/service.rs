//! Request → output: the whole packaging decision for one request, free of
//! any platform. Adapters (Fastly, browser, tests) parse the URL with
//! [`crate::url`], call [`serve`] with their [`Origin`] and [`Cache`], and
//! deliver the [`Output`] — for segments, by reading the listed source runs.

use crate::crypto::{playready, ContentKey, KeySetting, KeySetupError, Scheme};
use crate::error::{Cap, LimitError};
use crate::filter::{Filter, FilterError};
use crate::index::{IndexError, MediaIndex};
use crate::input::ism::{self, IsmKind, ServerManifest};
use crate::manifest::{dash, hls, smooth};
use crate::media_set::{MediaSet, Selection, SetError, SetTrack, SourceFile};
use crate::model::TrackKind;
use crate::mux::cmaf::{self, ByteRun, FragmentOptions};
use crate::source::{load_indexes, load_ism, Cache, Origin, SourceError};
use crate::timeline::TrackSegment;
use crate::timeline::{TimelineError, DEFAULT_TARGET_MS};
use crate::url::{Asset, Format, Resource, StreamRequest, TrackRef};
use bytes::Bytes;
use std::fmt;

pub const CT_HLS: &str = "application/vnd.apple.mpegurl";
pub const CT_DASH: &str = "application/dash+xml";
pub const CT_SMOOTH: &str = "application/vnd.ms-sstr+xml";
pub const CT_MP4_VIDEO: &str = "video/mp4";
pub const CT_MP4_AUDIO: &str = "audio/mp4";
pub const CT_TS: &str = "video/mp2t";
/// The answer of a key URL: 16 raw bytes (RFC 8216 §5.2).
pub const CT_KEY: &str = "application/octet-stream";
/// The answer of the licence route: a JWK set (W3C EME §9.1.4).
pub const CT_LICENCE: &str = "application/json";

/// Most segment entries one manifest may list or measure, summed over the
/// tracks it covers (each track's timeline length), checked before any is
/// located. Locating an entry costs up to ~1.5 µs natively (an audio
/// boundary is a partial block decode: a 29 000-entry audio playlist took
/// 40–53 ms on the shared BENCHMARKS.md machine under load), and wasm
/// module code runs at about native speed (BENCHMARKS.md), so 20 000
/// entries stay within the 50 ms of CPU a request gets at the edge: 2 h of
/// 6 s segments in 16 renditions, or 16 h with one video and one audio
/// track.
pub const MAX_MANIFEST_SEGMENTS: u64 = 20_000;

/// Largest manifest body. The work is bounded by
/// [`MAX_MANIFEST_SEGMENTS`] already; this bounds the response (and the
/// heap that holds it): 8 MiB is ~60 000 HLS segment lines of the longest
/// track names, three times what the segment cap lets one playlist list.
pub const MAX_MANIFEST_BYTES: u64 = 8 << 20;

mod carry;
pub mod cenc;
pub mod moofs;
pub mod text;
pub mod track_keys;
pub mod ts;

#[derive(Clone, Debug)]
pub struct Config {
    /// Target segment duration.
    pub segment_ms: u32,
    /// Origin reads one segment may use; the edge lowers it by the index
    /// reads already made (Fastly allows 32 backend requests per client
    /// request).
    pub max_segment_reads: usize,
    /// The price of an origin read (settings `origin_rtt_ms`,
    /// `origin_bandwidth`): how far segment reads merge across other
    /// tracks' bytes ([`crate::plan::ReadCost`]).
    pub read_cost: crate::plan::ReadCost,
    /// Origin requests one client request may make in all (Fastly: 32);
    /// the index reads come out of it first.
    pub max_backend_requests: usize,
    /// Where content keys come from (`encryption=cbc`); `Debug` hides the
    /// key material.
    pub keys: KeySetting,
    /// Folder of account filters at the origin (setting
    /// `account_filters`, [`crate::source::filters`]).
    pub account_filters: String,
    /// The absolute URL the request came in on (`scheme://host/path`, no
    /// query), set by the adapter: an encrypted MPD's licence URL
    /// (`dashif:Laurl`) must be absolute, as players use it as is, and
    /// sits next to the MPD (token prefix included). `None`: relative.
    pub request_url: Option<String>,
    /// The time and the interval (setting `revalidate_after`) by which
    /// cached source versions are confirmed at the origin
    /// ([`crate::source::freshness`]); the adapter sets `now`, and without
    /// it nothing is revalidated.
    pub clock: crate::source::freshness::Clock,
    /// Captions in every title's video unless its `.ism` declares its own
    /// (setting `closed_captions`).
    pub closed_captions: Option<crate::input::captions::Captions>,
    /// The PlayReady licence server of `encryption=piff` (setting
    /// `playready_la_url`): the `LA_URL` of the Smooth manifest's
    /// PlayReady header. `None`: no `LA_URL`, the player is configured
    /// with one.
    pub playready_la_url: Option<String>,
    /// When a fragmented file is indexed from its `sidx`/`mfra` at
    /// fragment level (setting `fragment_index`,
    /// [`crate::mp4::fragtable`]).
    pub fragment_tables: crate::mp4::fragments::TablePolicy,
    /// Whether manifests are written from a cached set summary when there
    /// is one, and summaries stored (setting `set_summary`,
    /// [`crate::summary`]).
    pub set_summary: bool,
}

impl Config {
    /// What one segment's reads are planned within, before the index
    /// reads of a request take their share ([`crate::job::Job::payload_limits`]).
    pub fn read_limits(&self) -> crate::plan::ReadLimits {
        crate::plan::ReadLimits {
            max_reads: self.max_segment_reads,
            cost: self.read_cost,
        }
    }
}

/// Where account filters live unless `account_filters` says otherwise.
pub const DEFAULT_ACCOUNT_FILTERS: &str = "_filters";

impl Default for Config {
    fn default() -> Self {
        Config {
            segment_ms: DEFAULT_TARGET_MS,
            max_segment_reads: 30,
            read_cost: crate::plan::ReadCost::default(),
            max_backend_requests: 32,
            keys: KeySetting::Unset,
            account_filters: DEFAULT_ACCOUNT_FILTERS.to_string(),
            request_url: None,
            clock: crate::source::freshness::Clock::default(),
            closed_captions: None,
            playready_la_url: None,
            fragment_tables: crate::mp4::fragments::TablePolicy::OverBudget,
            set_summary: true,
        }
    }
}

/// What to send back.
#[derive(Clone, Debug)]
pub enum Output {
    /// A manifest or playlist. `omitted` names the renditions of the title
    /// this format leaves out and why (say, HEVC in MPEG-TS, an unaligned
    /// rendition in Smooth): adapters report them in an
    /// `Edgepack-Omitted` header and their log, so a title is never
    /// silently smaller than its source.
    Text {
        content_type: &'static str,
        body: String,
        omitted: Vec<String>,
    },
    /// Small generated bytes (init segments).
    Bytes {
        content_type: &'static str,
        body: Bytes,
    },
    /// A media segment: `header` then the source `runs` of `path`, whose
    /// reads must carry `If-Match: etag`.
    Segment {
        content_type: &'static str,
        header: Bytes,
        runs: Vec<ByteRun>,
        path: String,
        etag: String,
    },
    /// An MPEG-TS segment, built once its samples are read.
    Ts(ts::TsJob),
    /// An `encryption=cenc`/`cbcs-aapl` CMAF segment, built once its
    /// samples are read (as [`Output::Bytes`]).
    Cenc(Box<cenc::CencJob>),
    /// An MPEG-TS segment whose samples were read ([`crate::job::Job`]
    /// reads them): exact length, bytes produced chunk by chunk, clear or
    /// AES-128 encrypted ([`ts::TsBody`]). `tag` identifies the source
    /// bytes it was made from and, when encrypted, the key id (for its
    /// ETag).
    TsBuilt {
        segment: Box<ts::TsBody>,
        tag: String,
    },
    /// A content key (a key URL's answer: [`CT_KEY`]) or a ClearKey
    /// licence ([`CT_LICENCE`]): sent with `Cache-Control: private,
    /// no-store` ([`crate::http::for_private`]), never stored in an output
    /// cache ([`crate::outputs::key`] gives it no key).
    Key {
        body: Bytes,
        content_type: &'static str,
    },
}

impl Output {
    /// Body length, known before any payload is read.
    pub fn len(&self) -> u64 {
        match self {
            Output::Text { body, .. } => body.len() as u64,
            Output::Bytes { body, .. } => body.len() as u64,
            Output::Segment { header, runs, .. } => {
                header.len() as u64 + runs.iter().map(|r| r.len).sum::<u64>()
            }
            // Known once the payload is read (TsSegment::len).
            Output::Ts(_) | Output::Cenc(_) => 0,
            Output::TsBuilt { segment, .. } => segment.len(),
            Output::Key { body, .. } => body.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Output::Text { content_type, .. }
            | Output::Bytes { content_type, .. }
            | Output::Segment { content_type, .. } => content_type,
            Output::Ts(_) | Output::TsBuilt { .. } => CT_TS,
            Output::Cenc(_) => CT_MP4_VIDEO,
            Output::Key { content_type, .. } => content_type,
        }
    }

    /// Segments and init segments never change for a given source version;
    /// manifests may (a re-encode), so they get a shorter cache lifetime.
    /// A key is never cached at all.
    pub fn is_immutable(&self) -> bool {
        !matches!(self, Output::Text { .. } | Output::Key { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServeError {
    Source(SourceError),
    /// The request names something the title does not have.
    NotFound(String),
    /// A valid request for something not built yet.
    NotImplemented(String),
    BadRequest(String),
    /// The media cannot be packaged as asked.
    Media(String),
    /// The request would cost more than one of the caps on the work of a
    /// request allows (see [`crate::error`]).
    Limit(LimitError),
    /// The deployment's settings cannot serve this request (an unusable
    /// key seed); the reason quotes no secret.
    Config(String),
    /// A filter file is not a filter (502), or the view leaves nothing
    /// (400), or a playback modifier cannot be honoured (400).
    Filter(FilterError),
    /// Understood, but not given to this requester (a licence for a key
    /// id that is not the asset's).
    Forbidden(String),
    /// The asset's CPIX document (`path`) cannot be used: malformed (502)
    /// or asking for what is not supported (501).
    Cpix {
        path: String,
        error: crate::crypto::cpix::CpixError,
    },
}

impl ServeError {
    pub fn status(&self) -> u16 {
        match self {
            ServeError::Source(e) => e.status(),
            ServeError::NotFound(_) => 404,
            ServeError::NotImplemented(_) => 501,
            ServeError::BadRequest(_) => 400,
            ServeError::Media(_) => 502,
            ServeError::Limit(_) => LimitError::STATUS,
            ServeError::Config(_) => 500,
            ServeError::Filter(e) => e.status(),
            ServeError::Forbidden(_) => 403,
            ServeError::Cpix { error, .. } => error.status(),
        }
    }
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Source(e) => e.fmt(f),
            ServeError::NotFound(w)
            | ServeError::NotImplemented(w)
            | ServeError::BadRequest(w)
            | ServeError::Media(w)
            | ServeError::Config(w)
            | ServeError::Forbidden(w) => f.write_str(w),
            ServeError::Limit(e) => e.fmt(f),
            ServeError::Filter(e) => e.fmt(f),
            ServeError::Cpix { path, error } => write!(f, "CPIX document {path}: {error}"),
        }
    }
}

impl From<SourceError> for ServeError {
    fn from(e: SourceError) -> Self {
        ServeError::Source(e)
    }
}

impl From<LimitError> for ServeError {
    fn from(e: LimitError) -> Self {
        ServeError::Limit(e)
    }
}

impl From<IndexError> for ServeError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::Limit(l) => ServeError::Limit(l),
            e => ServeError::Media(e.to_string()),
        }
    }
}

impl From<TimelineError> for ServeError {
    fn from(e: TimelineError) -> Self {
        match e {
            TimelineError::Limit(l) => ServeError::Limit(l),
            TimelineError::Index(e) => e.into(),
            e => ServeError::Media(e.to_string()),
        }
    }
}

impl From<SetError> for ServeError {
    fn from(e: SetError) -> Self {
        match e {
            SetError::Timeline(e) => e.into(),
            e => ServeError::Media(e.to_string()),
        }
    }
}

/// The files and track selections an asset names; an `.ism` asset needs
/// its parsed server manifest.
pub(crate) fn selections(
    asset: &Asset,
    manifest: Option<&ServerManifest>,
) -> Result<(Vec<String>, Option<Vec<Selection>>), ServeError> {
    match asset {
        Asset::Mp4 { path } => Ok((vec![path.clone()], None)),
        Asset::UrlSet { paths } => Ok((paths.clone(), None)),
        Asset::Ism { path } => {
            let Some(manifest) = manifest else {
                return Err(ServeError::Media(format!("{path} was not read")));
            };
            let mut files: Vec<String> = Vec::new();
            let mut sels = Vec::new();
            for t in &manifest.tracks {
                let kind = match t.kind {
                    IsmKind::Video => TrackKind::Video,
                    IsmKind::Audio => TrackKind::Audio,
                    IsmKind::Text => continue,
                };
                let file = ism::resolve(path, &t.src).map_err(|e| {
                    ServeError::Source(SourceError::Ism {
                        path: path.clone(),
                        error: e.to_string(),
                    })
                })?;
                let fi = match files.iter().position(|f| *f == file) {
                    Some(i) => i,
                    None => {
                        files.push(file);
                        files.len() - 1
                    }
                };
                sels.push(Selection {
                    file: fi,
                    track_id: t.track_id,
                    kind: Some(kind),
                    name: t.track_name.clone(),
                    bitrate: t.system_bitrate,
                    language: t.language.clone(),
                });
            }
            if sels.is_empty() {
                return Err(ServeError::Media(format!("{path} lists no audio or video")));
            }
            Ok((files, Some(sels)))
        }
    }
}

/// The media set of loaded files: the `.ism`'s selections, or every track.
pub(crate) fn set_from(
    paths: Vec<String>,
    sels: Option<Vec<Selection>>,
    indexes: Vec<MediaIndex>,
    cfg: &Config,
) -> Result<MediaSet, ServeError> {
    let files: Vec<SourceFile> = paths
        .into_iter()
        .zip(indexes)
        .map(|(path, index)| SourceFile { path, index })
        .collect();
    Ok(match sels {
        Some(s) => MediaSet::build(files, s, cfg.segment_ms)?,
        None => MediaSet::all_tracks(files, cfg.segment_ms)?,
    })
}

/// Loads the media set of an asset through a blocking `origin`.
pub fn load_set(
    asset: &Asset,
    origin: &mut dyn Origin,
    cache: &mut dyn Cache,
    cfg: &Config,
) -> Result<MediaSet, ServeError> {
    let manifest = match asset {
        Asset::Ism { path } => Some(load_ism(path, origin, cache)?),
        _ => None,
    };
    let (paths, sels) = selections(asset, manifest.as_ref())?;
    let (indexes, _) = load_indexes(&paths, origin, cache)?;
    let mut set = set_from(paths, sels, indexes, cfg)?;
    text::add_embedded(&mut set);
    Ok(set)
}

/// AES-128 over whole MPEG-TS segments (RFC 8216 §4.3.2.4), as Azure's
/// `encryption=cbc` was.
pub const CBC: &str = "cbc";

/// Common Encryption `cenc` (ISO/IEC 23001-7, AES-128-CTR) of CMAF
/// samples, for DASH and HLS fMP4, as Azure's `encryption=cenc` was;
/// `encryption=cbcs-aapl` is its `cbcs` sibling ([`Scheme`]).
pub const CENC: &str = "cenc";

/// PIFF 1.1 sample encryption of Smooth Streaming fragments (`cenc`
/// samples, AES-128-CTR) with a PlayReady `ProtectionHeader`, as Azure's
/// `encryption=piff` was ([`crate::mux::piff`],
/// [`crate::crypto::playready`]).
pub const PIFF: &str = "piff";

/// Options that are valid but not built yet, or that this request or
/// deployment cannot honour: refused before any read.
pub(crate) fn check_options(req: &StreamRequest, cfg: &Config) -> Result<(), ServeError> {
    if let Some(e) = &req.options.encryption {
        if Scheme::from_option(e).is_some() {
            // Without a key source nothing of cenc/cbcs is served (501),
            // the same answer whatever the format.
            key_configured(&cfg.keys, e)?;
            let cmaf = matches!(
                req.options.format,
                Format::HlsCmaf | Format::DashCmaf | Format::DashCsf
            );
            if !cmaf && !matches!(req.resource, Resource::Key | Resource::Licence) {
                return Err(ServeError::BadRequest(format!(
                    "encryption={e} is Common Encryption of CMAF samples: it needs format=m3u8-cmaf, mpd-time-cmaf or mpd-time-csf"
                )));
            }
            return Ok(());
        }
        if e == PIFF {
            // PlayReady licences come from the customer's licence server:
            // the edge never hands out a PIFF content key.
            if matches!(req.resource, Resource::Key | Resource::Licence) {
                return Err(ServeError::BadRequest(
                    "encryption=piff keys are delivered by the PlayReady licence server (playready_la_url), not by a Key or License URL".into(),
                ));
            }
            // A CPIX document is read later, by the job (before, a
            // document-keyed piff request was refused here as unread).
            key_configured(&cfg.keys, e)?;
            if !req.options.format.is_smooth() {
                return Err(ServeError::BadRequest(
                    "encryption=piff is PIFF sample encryption of Smooth Streaming: it needs the Smooth manifest (no format, or format=fmp4-v20)".into(),
                ));
            }
            return Ok(());
        }
        if e != CBC {
            return Err(ServeError::NotImplemented(format!(
                "encryption={e} is not supported yet"
            )));
        }
        let ts = matches!(req.options.format, Format::HlsTs | Format::HlsTsV3);
        if !ts && req.resource != Resource::Key {
            return Err(ServeError::BadRequest(
                "encryption=cbc is AES-128 encryption of HLS MPEG-TS segments: it needs format=m3u8-aapl or m3u8-aapl-v3".into(),
            ));
        }
        if matches!(
            req.resource,
            Resource::MediaPlaylist {
                keyframes: true,
                ..
            }
        ) {
            return Err(ServeError::NotImplemented(ts::IFRAMES_OMITTED.into()));
        }
        key_configured(&cfg.keys, CBC)?;
    }
    Ok(())
}

/// Whether a key source is configured (a CPIX one is read later, by the
/// job, [`crate::source::cpix`]).
fn key_configured(keys: &KeySetting, scheme: &str) -> Result<(), ServeError> {
    match keys {
        KeySetting::Cpix | KeySetting::Provider(_) => Ok(()),
        _ => key_source(keys, scheme).map(|_| ()),
    }
}

/// Whether `req` is for a manifest or playlist that a filter or a playback
/// modifier changes. Segments ignore both: their URLs never carry them
/// (they are canonical, shared by filtered and unfiltered manifests), and
/// one that does is answered with the same bytes, without reading a filter.
pub(crate) fn has_view(req: &StreamRequest) -> bool {
    matches!(
        req.resource,
        Resource::Manifest | Resource::MediaPlaylist { .. }
    ) && (!req.options.filters.is_empty() || !req.options.modifiers.is_empty())
}

/// The view of `set` that `req`'s filters (already read and parsed, in
/// `filter=` order) and modifiers select ([`crate::filter::apply`]); the
/// set itself when `has_view` is false.
pub fn view(
    set: MediaSet,
    req: &StreamRequest,
    filters: &[Filter],
) -> Result<MediaSet, ServeError> {
    if !has_view(req) {
        return Ok(set);
    }
    let mut set =
        crate::filter::apply(set, filters, &req.options.modifiers).map_err(ServeError::Filter)?;
    set.child_options = child_options(&req.options);
    Ok(set)
}

/// `,filter=a;b,max_bitrate=…`: what a child manifest URL repeats.
fn child_options(o: &crate::url::Options) -> String {
    let mut s = String::new();
    if !o.filters.is_empty() {
        s.push_str(",filter=");
        s.push_str(&o.filters.join(";"));
    }
    s.push_str(&o.modifiers.url_options());
    s
}

/// The deployment's key source, or why there is none (501 when not
/// configured, 500 when unusable); never quotes the secret.
pub(crate) fn key_source<'a>(
    keys: &'a KeySetting,
    scheme: &str,
) -> Result<&'a crate::crypto::KeySource, ServeError> {
    keys.source().map_err(|e| match e {
        KeySetupError::Missing => ServeError::NotImplemented(format!(
            "encryption={scheme} needs {}",
            crate::crypto::SEED_KEY
        )),
        KeySetupError::Invalid(why) => {
            ServeError::Config(format!("{} {why}", crate::crypto::SEED_KEY))
        }
        KeySetupError::Unloaded => ServeError::Media(format!(
            "encryption={scheme}: the CPIX document was not read"
        )),
        KeySetupError::Misconfigured(why) => ServeError::Config(why.to_string()),
    })
}

/// The answer of a key URL (`…/Key(encryption=cbc)`): the asset's
/// 16-byte content key. It depends only on the asset's object paths and
/// the key source, so it is answered before (and without) any origin read.
/// When the asset's tracks have different keys (CPIX usage rules) the URL
/// names the key (`Key(encryption=…,kid=…)`, what the playlists write):
/// one of the asset's keys is answered, another id is 404, and a URL
/// without `kid=` is 400 (which key is not said).
pub fn key_output(req: &StreamRequest, keys: &KeySetting) -> Result<Output, ServeError> {
    let scheme = req.options.encryption.as_deref().unwrap_or(CBC);
    let source = key_source(keys, scheme)?;
    let key = match req.options.key_id {
        Some(kid) => source
            .all_keys(&req.asset)
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| ServeError::NotFound("no key of this asset has that kid".into()))?,
        None if source.multi_key() => {
            return Err(ServeError::BadRequest(
                "the tracks of this asset have different keys: the key URL needs kid=".into(),
            ))
        }
        None => source.content_key(&req.asset),
    };
    Ok(Output::Key {
        body: Bytes::copy_from_slice(&key.key),
        content_type: CT_KEY,
    })
}

/// The answer of the licence route (`License(encryption=cenc)` or
/// `License(encryption=cbcs-aapl)`, POST): the JWK set of the key ids
/// asked for that are the asset's (W3C EME §9.1.4). Like a key URL, it
/// needs no origin read. A request naming none of the asset's key ids is
/// 403: this licence server serves that asset's key and no other.
pub fn licence_output(
    req: &StreamRequest,
    keys: &KeySetting,
    body: &[u8],
) -> Result<Output, ServeError> {
    use crate::crypto::clearkey;
    let scheme = req.options.encryption.as_deref().unwrap_or(CENC);
    if Scheme::from_option(scheme).is_none() {
        return Err(ServeError::BadRequest(format!(
            "License(…) is the ClearKey licence of encryption=cenc or cbcs-aapl, not encryption={scheme}"
        )));
    }
    // The adapters refuse a larger body with 413 before reading it all;
    // the core checks again (every adapter, the same rule).
    let kids = clearkey::requested_kids(body).map_err(|e| ServeError::BadRequest(e.to_string()))?;
    // Every key id asked that is one of the asset's (all of a CPIX
    // document's keys: audio and video each ask theirs, or one request
    // asks both), in the order asked.
    let all = key_source(keys, scheme)?.all_keys(&req.asset);
    let mut answer: Vec<([u8; 16], [u8; 16])> = Vec::new();
    for kid in &kids {
        if let Some(k) = all.iter().find(|k| k.kid == *kid) {
            if !answer.iter().any(|(id, _)| id == kid) {
                answer.push((k.kid, k.key));
            }
        }
    }
    if answer.is_empty() {
        return Err(ServeError::Forbidden(
            "licence request: no key id of this asset".into(),
        ));
    }
    Ok(Output::Key {
        body: Bytes::from(clearkey::licence(&answer)),
        content_type: CT_LICENCE,
    })
}

/// The key of one track, its DRM systems' signalling and the scheme.
type TrackProtection<'a> = (ContentKey, &'a [crate::crypto::cpix::DrmSystem], Scheme);

/// Answers one stream request through a blocking `origin` (native CLI,
/// tests): [`crate::job::Job`] driven to the end.
pub fn serve(
    req: &StreamRequest,
    origin: &mut dyn Origin,
    cache: &mut dyn Cache,
    cfg: &Config,
) -> Result<Output, ServeError> {
    crate::job::run(
        crate::job::Job::new(req.clone(), cfg.clone()),
        origin,
        cache,
    )
}

/// The output for `req` from its loaded media set, with no key source
/// (an encrypted segment is then refused, never sent clear). TS segments
/// come back as [`Output::Ts`] jobs that still need their samples read.
pub fn answer(set: &MediaSet, req: &StreamRequest) -> Result<Output, ServeError> {
    answer_with(set, req, &KeySetting::Unset)
}

/// [`answer`] with the deployment's key source, for `encryption=cbc`.
pub fn answer_with(
    set: &MediaSet,
    req: &StreamRequest,
    keys: &KeySetting,
) -> Result<Output, ServeError> {
    answer_at(set, req, keys, None)
}

/// The licence URL of `encryption={e}` for a manifest requested at
/// `request_url` (absolute when known): `License(encryption={e})` next to
/// it.
pub fn licence_url(request_url: Option<&str>, encryption: &str) -> String {
    let dir = request_url
        .and_then(|u| u.rfind('/').map(|i| &u[..=i]))
        .unwrap_or("");
    format!("{dir}License(encryption={encryption})")
}

/// [`answer_with`] for a request that came in at `request_url`
/// ([`Config::request_url`]).
pub fn answer_at(
    set: &MediaSet,
    req: &StreamRequest,
    keys: &KeySetting,
    request_url: Option<&str>,
) -> Result<Output, ServeError> {
    answer_in(
        set,
        req,
        &Config {
            keys: keys.clone(),
            request_url: request_url.map(str::to_string),
            ..Config::default()
        },
    )
}

/// The answer to `req` under `cfg`'s keys, request URL and PlayReady
/// licence server: what the job ([`crate::job`]) calls.
pub fn answer_in(set: &MediaSet, req: &StreamRequest, cfg: &Config) -> Result<Output, ServeError> {
    answer_located(set, req, cfg, None)
}

/// [`answer_in`] for a request whose media segment is already
/// [`locate`]d (it is not located again).
pub fn answer_located(
    set: &MediaSet,
    req: &StreamRequest,
    cfg: &Config,
    located: Option<Located>,
) -> Result<Output, ServeError> {
    let keys = &cfg.keys;
    let request_url = cfg.request_url.as_deref();
    let format = req.options.format;
    let find = |r: &TrackRef| find_track(set, r);
    if req.resource == Resource::Key {
        return key_output(req, keys);
    }
    if let Some(out) = text::answer(set, req)? {
        return Ok(out);
    }
    if format.is_smooth() {
        let piff = match req.options.encryption.as_deref() {
            None => None,
            // Fails closed, as below.
            Some(PIFF) => {
                let source = key_source(keys, PIFF)?;
                if source.multi_key() {
                    // One ProtectionHeader per Smooth manifest (MS-SSTR
                    // §2.2.2.2): a key per track type is not offered.
                    return Err(ServeError::NotImplemented(
                        "encryption=piff with a key per track type (CPIX usage rules): a Smooth manifest carries one PlayReady header for one key".into(),
                    ));
                }
                Some(source.content_key(&req.asset))
            }
            Some(e) => {
                return Err(ServeError::BadRequest(format!(
                    "encryption={e} is not built for Smooth Streaming (encryption=piff is)"
                )))
            }
        };
        return serve_smooth(set, &req.resource, format, piff.map(|k| (k, cfg)), located);
    }
    if matches!(format, Format::HlsTs | Format::HlsTsV3) {
        return ts::serve(set, req, keys, located);
    }
    // Fails closed: without a key source an encrypted output is an
    // error, never the clear one.
    let protection = match req.options.encryption.as_deref() {
        Some(e) => match Scheme::from_option(e) {
            Some(scheme) => Some((key_source(keys, e)?, scheme)),
            None => {
                return Err(ServeError::NotImplemented(format!(
                    "encryption={e} is not built for CMAF"
                )))
            }
        },
        None => None,
    };
    let encryption = protection.map(|(_, s)| s.option());
    let laurl = licence_url(request_url, encryption.unwrap_or(CENC));
    // The key (and DRM signalling) of one track: the asset's one key, or
    // the one the CPIX usage rules give the track (issue 14).
    let key_of = |t: &SetTrack| -> Result<Option<TrackProtection<'_>>, ServeError> {
        match protection {
            None => Ok(None),
            Some((source, scheme)) => {
                let (key, drm) = track_keys::of_track(source, &req.asset, set, t)?;
                Ok(Some((key, drm, scheme)))
            }
        }
    };
    // A key URL names the key only when the tracks' keys differ.
    let url_kid = |k: &ContentKey| -> Option<[u8; 16]> {
        protection
            .filter(|(source, _)| source.multi_key())
            .map(|_| k.kid)
    };
    match &req.resource {
        Resource::Key => key_output(req, keys),
        Resource::Licence => Err(ServeError::Media(
            "licences are answered without the media".into(),
        )),
        Resource::Manifest => {
            check_manifest_work(set, &set.tracks)?;
            let track_keys = match protection {
                Some((source, _)) => Some(track_keys::of_set(source, &req.asset, set)?),
                None => None,
            };
            let drm = protection.map_or(&[][..], |(source, _)| source.drm_systems());
            match format {
                Format::HlsCmaf => text(
                    CT_HLS,
                    hls::multivariant_protected(
                        set,
                        format,
                        req.options.audio_only == Some(true),
                        encryption,
                        drm,
                        track_keys.as_ref(),
                    )?,
                    Vec::new(),
                ),
                _ => {
                    // The first track's key is the default; with several
                    // keys each AdaptationSet takes its tracks'.
                    let first = match (protection, set.tracks.first()) {
                        (Some(_), Some(t)) => key_of(t)?,
                        _ => None,
                    };
                    let protection = match (&first, protection) {
                        (Some((key, _, _)), Some((source, scheme))) => Some(dash::Protection {
                            scheme,
                            key,
                            laurl: &laurl,
                            drm: source.drm_systems_of(&key.kid),
                            keys: track_keys.as_ref(),
                        }),
                        _ => None,
                    };
                    text(
                        CT_DASH,
                        dash::mpd_with(set, format, protection)?,
                        Vec::new(),
                    )
                }
            }
        }
        Resource::MediaPlaylist { track, keyframes } => {
            if *keyframes {
                return Err(ServeError::NotImplemented(
                    "I-frame playlists need format=m3u8-aapl".into(),
                ));
            }
            let t = find(track)?;
            check_manifest_work(set, std::slice::from_ref(t))?;
            let keyed = key_of(t)?;
            let drm = keyed.as_ref().map_or(&[][..], |(_, d, _)| *d);
            let kid = keyed.as_ref().and_then(|(k, _, _)| url_kid(k));
            text(
                CT_HLS,
                hls::media_playlist_protected(set, t, format, encryption, drm, kid.as_ref())?,
                Vec::new(),
            )
        }
        Resource::Init { track } => {
            let t = find(track)?;
            let info = &set.track_index(t).info;
            let keyed = key_of(t)?;
            Ok(Output::Bytes {
                content_type: mp4_type(info.kind),
                body: cmaf::init_segment_with(info, keyed.as_ref().map(|(k, d, s)| (k, *s, *d))),
            })
        }
        Resource::Fragment { track, time } => {
            let t = find(track)?;
            let idx = set.track_index(t);
            let (n, seg) = segment_of(set, t, *time, located)?;
            if let Some((key, _, scheme)) = key_of(t)? {
                let p = (key, scheme);
                let ct = mp4_type(idx.info.kind);
                return Ok(Output::Cenc(Box::new(cenc::CencJob::new(
                    set, t, n, &seg, p, ct,
                )?)));
            }
            let (idx, src) = segment_source(set, t, &seg)?;
            let opts = FragmentOptions {
                sequence: n + 1,
                styp: true,
            };
            let frag = cmaf::fragment(idx, &src, opts)?;
            if !frag.zero_copy() {
                let ct = mp4_type(idx.info.kind);
                return Ok(Output::Cenc(Box::new(cenc::CencJob::clear(
                    set,
                    t,
                    (n, &seg),
                    frag,
                    false,
                    ct,
                )?)));
            }
            Ok(segment_output(set, t, cmaf::write_segment(frag, opts)?))
        }
    }
}

/// Smooth Streaming (MS-SSTR): client manifest and `moof`+`mdat`
/// fragments with `tfxd`, in 100 ns units; no init segment (the client
/// builds it from the manifest). With `piff` (`encryption=piff`: the
/// content key, and the config naming the PlayReady licence server) the
/// manifest carries the PlayReady `ProtectionHeader` and fragments are
/// PIFF-encrypted.
fn serve_smooth(
    set: &MediaSet,
    resource: &Resource,
    format: Format,
    piff: Option<(ContentKey, &Config)>,
    located: Option<Located>,
) -> Result<Output, ServeError> {
    match resource {
        Resource::Manifest => {
            carry::SMOOTH
                .title(set)
                .map_err(ServeError::NotImplemented)?;
            check_manifest_work(set, &set.tracks)?;
            let header = piff.as_ref().map(|(key, cfg)| {
                playready::header_object_base64(&key.kid, cfg.playready_la_url.as_deref())
            });
            let protection = header.as_deref().map(|header| smooth::Protection {
                system_id: playready::SYSTEM_ID_GUID,
                header,
                encryption: PIFF,
            });
            text(
                CT_SMOOTH,
                smooth::client_manifest_with(set, format, protection)?,
                smooth_omitted(set),
            )
        }
        Resource::Fragment { track, time } => {
            let t = find_track(set, track)?;
            carry::SMOOTH
                .track(&set.track_index(t).info)
                .map_err(ServeError::NotImplemented)?;
            if !set.is_aligned(t) {
                return Err(ServeError::NotFound(format!(
                    "{} is not offered in Smooth Streaming: its keyframes do not align with the other renditions'",
                    t.name
                )));
            }
            let (n, seg) = segment_of(set, t, *time, located)?;
            if let Some((key, _)) = piff {
                let ct = mp4_type(set.track_index(t).info.kind);
                return Ok(Output::Cenc(Box::new(cenc::CencJob::piff(
                    set, t, n, &seg, key, ct,
                )?)));
            }
            let (idx, src) = segment_source(set, t, &seg)?;
            let frag = crate::mux::smooth::track_fragment(idx, &src)?;
            if !frag.zero_copy() {
                let ct = mp4_type(idx.info.kind);
                return Ok(Output::Cenc(Box::new(cenc::CencJob::clear(
                    set,
                    t,
                    (n, &seg),
                    frag,
                    true,
                    ct,
                )?)));
            }
            let w = crate::mux::boxes::BoxWriter::with_capacity(frag.header_len() as usize);
            Ok(segment_output(set, t, frag.write(w)?))
        }
        Resource::Init { .. } => Err(ServeError::NotFound(
            "Smooth Streaming has no init segment".into(),
        )),
        Resource::MediaPlaylist { .. } => Err(ServeError::BadRequest(
            "media playlists are HLS only".into(),
        )),
        Resource::Key | Resource::Licence => Err(ServeError::Media(
            "keys and licences are answered without the media".into(),
        )),
    }
}

/// What a Smooth client manifest leaves out: codecs without a FourCC, and
/// renditions cut at their own keyframes (a StreamIndex shares one chunk
/// list).
fn smooth_omitted(set: &MediaSet) -> Vec<String> {
    let mut out = carry::SMOOTH.omitted(set);
    out.extend(
        set.unaligned()
            .map(|t| format!("{}@{}: keyframes do not align", t.name, t.bitrate)),
    );
    out
}

/// [`MAX_MANIFEST_SEGMENTS`] for a manifest covering `tracks`: the sum of
/// their timelines' lengths, known before a segment is located.
pub(crate) fn check_manifest_work(set: &MediaSet, tracks: &[SetTrack]) -> Result<(), ServeError> {
    let entries: u64 = tracks.iter().map(|t| set.timeline_of(t).len() as u64).sum();
    Ok(LimitError::check(
        Cap::ManifestSegments,
        entries,
        MAX_MANIFEST_SEGMENTS,
    )?)
}

/// A manifest as an output, within [`MAX_MANIFEST_BYTES`].
pub(crate) fn text(
    content_type: &'static str,
    body: String,
    omitted: Vec<String>,
) -> Result<Output, ServeError> {
    LimitError::check(Cap::ManifestBytes, body.len() as u64, MAX_MANIFEST_BYTES)?;
    Ok(Output::Text {
        content_type,
        body,
        omitted,
    })
}

/// The track a sub-resource URL names.
pub(crate) fn find_track<'a>(set: &'a MediaSet, r: &TrackRef) -> Result<&'a SetTrack, ServeError> {
    set.find(r).ok_or_else(|| {
        ServeError::NotFound(format!("no track {} at bitrate {}", r.name, r.bitrate))
    })
}

/// The segment of `t` a URL time (100 ns) names, with its number.
///
/// Only the times a manifest writes are accepted (issue 11, canonical
/// URLs): one output has one URL, so a cache in front of the packager
/// cannot be filled with copies of a segment under nearby times. Any other
/// time is 404 rather than a redirect: players only ever request times the
/// manifests listed, and a redirect would cost every stray request a round
/// trip. The times written are the segment's start in 100 ns (HLS, DASH
/// `$Time$`, rounded as [`crate::mux::smooth::fragment_time`]) — for Smooth, the start
/// of the first rendition of the StreamIndex, whose chunk list every
/// aligned rendition of the same name shares (MS-SSTR §2.2.2.6).
/// The URL time of the media segment after the one `req` asks for (same
/// track, same options), for self-prefetch: the edge packages it into its
/// output cache once the viewer has this one, so sequential playback finds
/// each next segment stored. `None` when `req` is not a media segment of
/// an audio or video track, or asks for the last one.
/// `t` is the track of the segment answered and `n` its number
/// ([`locate`]).
pub fn next_fragment_time(set: &MediaSet, t: &SetTrack, n: u32) -> Option<u64> {
    let idx = set.track_index(t);
    let next = set
        .timeline_of(t)
        .track_segment(idx, n.checked_add(1)?)
        .ok()??;
    Some(crate::mux::smooth::fragment_time(idx.info.timescale, &next).start)
}

/// A media segment a request names, located on its track's timeline.
#[derive(Clone, Debug)]
pub struct Located {
    pub track: SetTrack,
    pub number: u32,
    pub segment: TrackSegment,
}

/// The audio or video segment `req` names (`segment_at`), found once
/// per request: the answer muxes it and self-prefetch takes the next one
/// ([`next_fragment_time`]). `None` for anything else, and for a time
/// that names no segment (the answer then says why).
pub fn locate(set: &MediaSet, req: &StreamRequest) -> Option<Located> {
    let Resource::Fragment { track, time } = &req.resource else {
        return None;
    };
    let t = find_track(set, track).ok()?;
    let (number, segment) = segment_at(set, t, *time).ok()?;
    Some(Located {
        track: t.clone(),
        number,
        segment,
    })
}

/// [`segment_at`], unless `located` already found that segment of `t`.
pub(crate) fn segment_of(
    set: &MediaSet,
    t: &SetTrack,
    time: u64,
    located: Option<Located>,
) -> Result<(u32, TrackSegment), ServeError> {
    match located {
        Some(l) if l.track == *t => Ok((l.number, l.segment)),
        _ => segment_at(set, t, time),
    }
}

pub(crate) fn segment_at(
    set: &MediaSet,
    t: &SetTrack,
    time: u64,
) -> Result<(u32, TrackSegment), ServeError> {
    let missing = || ServeError::NotFound(format!("no segment of {} at time {time}", t.name));
    let timeline = set.timeline_of(t);
    let n = timeline.segment_at_hns(time).ok_or_else(missing)?;
    let seg = timeline
        .track_segment(set.track_index(t), n)?
        .ok_or_else(missing)?;
    let written = |t: &SetTrack, seg: &TrackSegment| {
        crate::mux::smooth::fragment_time(set.track_index(t).info.timescale, seg).start == time
    };
    let canonical = written(t, &seg)
        || (set.is_aligned(t)
            && set
                .of_kind(set.track_index(t).info.kind)
                .filter(|u| u.name == t.name && set.is_aligned(u))
                .any(|u| {
                    matches!(
                        set.timeline.track_segment(set.track_index(u), n),
                        Ok(Some(s)) if written(u, &s)
                    )
                }));
    if !canonical {
        return Err(missing());
    }
    Ok((n, seg))
}

/// What segment `seg` of `t` is muxed from ([`MediaSet::segment_source`]):
/// for a fragment-level track, the real samples read from its moofs.
pub(crate) fn segment_source<'a>(
    set: &'a MediaSet,
    t: &SetTrack,
    seg: &TrackSegment,
) -> Result<(&'a crate::index::TrackIndex, TrackSegment), ServeError> {
    set.segment_source(t, seg).ok_or_else(|| {
        ServeError::Media(format!(
            "{}: segment {} of a fragment-level track without its moofs",
            t.name, seg.number
        ))
    })
}

/// A fragment of `t` (CMAF or Smooth) as an output that reads its runs.
fn segment_output(set: &MediaSet, t: &SetTrack, seg: cmaf::MediaSegment) -> Output {
    let file = &set.files[t.file];
    Output::Segment {
        content_type: mp4_type(set.track_index(t).info.kind),
        header: seg.header,
        runs: seg.runs,
        path: file.path.clone(),
        etag: file.index.etag.clone(),
    }
}

fn mp4_type(kind: TrackKind) -> &'static str {
    match kind {
        TrackKind::Audio => CT_MP4_AUDIO,
        _ => CT_MP4_VIDEO,
    }
}

#[cfg(test)]
mod cpix_tests;
#[cfg(test)]
mod encryption_tests;
#[cfg(test)]
mod filter_tests;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod keyprovider_tests;
#[cfg(test)]
mod piff_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod trackkeys_tests;

/// A segment's body from the results of its planned reads (`plan`, from
/// [`crate::plan::plan_reads`]): `header`, then slices of the reads (no
/// copy). A short read is an origin fault, not a shorter segment.
pub fn segment_body(
    header: Bytes,
    runs: &[ByteRun],
    plan: &[ByteRun],
    path: &str,
    results: Vec<Result<crate::source::ReadResponse, crate::source::OriginError>>,
) -> Result<Vec<Bytes>, ServeError> {
    let mut reads = Vec::with_capacity(plan.len());
    for (r, res) in plan.iter().zip(results) {
        let res = res.map_err(SourceError::from)?;
        if (res.data.len() as u64) < r.len {
            return Err(ServeError::Source(SourceError::Origin(
                crate::source::OriginError::Bad(format!("short read of {path}")),
            )));
        }
        reads.push((*r, res.data));
    }
    let mut body = vec![header];
    body.extend(crate::plan::assemble(runs, &reads).map_err(|e| ServeError::Media(e.to_string()))?);
    Ok(body)
}

/// Reads a segment's runs (planned with [`crate::plan::plan_reads`]) and
/// returns the body as slices: what an adapter without host-side splicing
/// does.
pub fn materialize(
    out: &Output,
    origin: &mut dyn Origin,
    cfg: &Config,
) -> Result<Vec<Bytes>, ServeError> {
    match out {
        Output::Text { body, .. } => Ok(vec![Bytes::from(body.clone())]),
        Output::Bytes { body, .. } => Ok(vec![body.clone()]),
        Output::Segment {
            header,
            runs,
            path,
            etag,
            ..
        } => {
            let plan = crate::plan::plan_reads(runs, cfg.read_limits());
            let reqs = crate::source::payload_reads(path, etag, &plan);
            segment_body(header.clone(), runs, &plan, path, origin.read(&reqs))
        }
        Output::Ts(job) => {
            let reqs = job.reads(cfg.read_limits());
            let mut responses = Vec::with_capacity(reqs.len());
            for res in origin.read(&reqs) {
                responses.push(res.map_err(SourceError::from)?);
            }
            let body = job.build(&reqs, responses)?;
            Ok(vec![Bytes::from(body.to_vec())])
        }
        Output::TsBuilt { segment, .. } => Ok(vec![Bytes::from(segment.to_vec())]),
        Output::Cenc(job) => {
            let reqs = job.reads(cfg.read_limits());
            let mut responses = Vec::with_capacity(reqs.len());
            for res in origin.read(&reqs) {
                responses.push(res.map_err(SourceError::from)?);
            }
            materialize(&(*job.clone()).build(&reqs, responses)?, origin, cfg)
        }
        Output::Key { body, .. } => Ok(vec![body.clone()]),
    }
}
