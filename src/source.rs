//! Loading what a request needs from the origin, through traits the
//! adapters implement: [`Origin`] (range reads, several at once) and
//! [`Cache`] (the edge cache). The logic here decides *what* to read; the
//! adapters only move bytes, so it is tested natively with a file origin.

use crate::index::{self, FrameProbe, MediaIndex, INDEX_VERSION};
use crate::input::ism::{self, ServerManifest};
use crate::mp4::fragments::{FragmentScan, Next, TablePolicy, Tables};
use crate::mp4::walk::{locate_moov, Probe, HEAD_PROBE_LEN};
use crate::mp4::Mp4Error;
use bytes::Bytes;
use std::borrow::Cow;
use std::fmt;

pub mod cpix;
pub mod filters;
pub mod freshness;
pub mod keyprovider;
pub mod request;
pub mod response;
pub mod text;

/// Largest `.ism` read (the parser's own cap).
pub const MAX_ISM_LEN: u64 = ism::MAX_ISM_BYTES as u64;
/// Reads an index may take: head, tail, moov, and slack for files with
/// several boxes between the mdat and the moov.
const MAX_INDEX_READS: usize = 6;
/// Widest read of first frames (see [`FrameProbe`]): they sit at the start
/// of the mdat, close together; a probe further away is given up (the
/// sample entry's channel count stays) rather than costing another read.
const MAX_FRAME_PROBE_SPAN: u64 = 1024 * 1024;

/// One origin read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRequest {
    /// Object path relative to the origin root.
    pub path: String,
    /// Byte range `start..end` (end exclusive).
    pub start: u64,
    pub end: u64,
    /// The ETag the object must still have, so reads of one object never
    /// mix versions: sent as `If-Match` when it is strong
    /// ([`ReadRequest::if_match_header`]), and compared with the answer's
    /// ETag in every case ([`response::check`]).
    pub if_match: Option<String>,
    /// Where the read goes: the origin (a ranged `GET` of `path`), or the
    /// key provider (a `POST` of a CPIX request, [`ReadTarget::KeyProvider`]).
    pub target: ReadTarget,
}

/// Whom a [`ReadRequest`] asks. The job decides every outgoing request,
/// the key provider's included, so the adapters stay byte movers: they
/// only pick the backend and the method from this.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ReadTarget {
    /// The origin: a `GET` of `path`, ranged `start..end`.
    #[default]
    Origin,
    /// The key provider `provider` (`key_provider_url`): a `POST` of
    /// `body`, a CPIX request document (`Content-Type: application/xml`,
    /// SPEKE v2.0 / DASH-IF CPIX 2.3 §4), whose answer is read whole up to
    /// `end` bytes ([`crate::source::keyprovider::answer`] decides what a
    /// status means); `path` names the request in errors (the asset).
    KeyProvider {
        provider: std::sync::Arc<crate::crypto::provider::KeyProvider>,
        body: Bytes,
    },
}

impl ReadRequest {
    /// The `If-Match` to send: only a strong ETag. RFC 9110 §13.1.1 makes
    /// `If-Match` compare strongly, so a weak one (`W/"…"`) would never
    /// match and every conditional read would fail with 412; the answer's
    /// ETag is compared instead ([`response::check`]).
    pub fn if_match_header(&self) -> Option<&str> {
        // Strong entity-tags only: not `W/"…"`, and not a version derived
        // from size and date ([`response::Head::version`]).
        self.if_match.as_deref().filter(|t| t.starts_with('"'))
    }
}

/// What a read returned.
#[derive(Clone, Debug)]
pub struct ReadResponse {
    pub data: Bytes,
    /// Size of the whole object (from `Content-Range`).
    pub total_size: u64,
    /// ETag, "" when the origin sent none.
    pub etag: String,
}

/// Why a read failed; mapped to HTTP statuses by [`OriginError::status`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginError {
    NotFound(String),
    /// 401/403: the origin refused our credentials (or had none, or its
    /// policy refuses them this object). Carries the object path only:
    /// never a query, which may hold a SAS.
    Forbidden(String),
    /// The object changed between reads (`If-Match` failed).
    Changed(String),
    Timeout(String),
    /// The object has no bytes: a 0-byte object, or an origin answering
    /// 416 to a `bytes=0-…` range (RFC 9110 §14.1.1: a range starting at 0
    /// is unsatisfiable only when the representation is empty).
    Empty(String),
    /// A status or a body we cannot use (5xx, short body, bad range).
    Bad(String),
    /// The key provider failed (down, 4xx, 5xx, an answer too large):
    /// 502, or 504 when it timed out.
    KeyProvider {
        timeout: bool,
        why: String,
    },
}

impl OriginError {
    pub fn status(&self) -> u16 {
        match self {
            OriginError::NotFound(_) => 404,
            OriginError::Timeout(_) => 504,
            OriginError::KeyProvider { timeout: true, .. } => 504,
            _ => 502,
        }
    }
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginError::NotFound(p) => write!(f, "{p} not found at origin"),
            OriginError::Forbidden(p) => {
                write!(f, "origin refused credentials for {p} (check origin auth)")
            }
            OriginError::Changed(p) => write!(f, "{p} changed at origin while being read"),
            OriginError::Timeout(p) => write!(f, "origin timed out reading {p}"),
            OriginError::Empty(p) => write!(f, "empty object: {p}"),
            OriginError::Bad(w) => write!(f, "bad origin response: {w}"),
            OriginError::KeyProvider { why, .. } => write!(f, "key provider: {why}"),
        }
    }
}

/// Reads of `ranges` of `path`, conditional on `etag` (when the origin gave
/// one) so a segment is never built from two versions of an object.
pub fn payload_reads(
    path: &str,
    etag: &str,
    ranges: &[crate::mux::cmaf::ByteRun],
) -> Vec<ReadRequest> {
    ranges
        .iter()
        .map(|r| ReadRequest {
            path: path.to_string(),
            start: r.offset,
            end: r.end(),
            if_match: (!etag.is_empty()).then(|| etag.to_string()),
            target: crate::source::ReadTarget::Origin,
        })
        .collect()
}

/// The origin: performs a batch of reads, concurrently where it can.
pub trait Origin {
    fn read(&mut self, reqs: &[ReadRequest]) -> Vec<Result<ReadResponse, OriginError>>;
}

/// A key-value cache for parsed indexes and server manifests.
pub trait Cache {
    fn get(&mut self, key: &str) -> Option<Bytes>;
    fn put(&mut self, key: &str, value: Bytes);
    /// Drops an entry (an index whose object changed at the origin).
    fn forget(&mut self, key: &str);
}

/// A cache that keeps nothing.
pub struct NoCache;

impl Cache for NoCache {
    fn get(&mut self, _: &str) -> Option<Bytes> {
        None
    }
    fn put(&mut self, _: &str, _: Bytes) {}
    fn forget(&mut self, _: &str) {}
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceError {
    Origin(OriginError),
    /// The object is not a usable MP4 (502: the origin's content is bad).
    Media {
        path: String,
        error: String,
    },
    /// An MP4 feature we do not handle (501).
    Unsupported {
        path: String,
        error: String,
    },
    Ism {
        path: String,
        error: String,
    },
    /// A text sidecar (`.vtt`, `.ttml`…) that is not usable WebVTT or TTML (502).
    Text {
        path: String,
        error: String,
    },
}

impl SourceError {
    pub fn status(&self) -> u16 {
        match self {
            SourceError::Origin(e) => e.status(),
            SourceError::Unsupported { .. } => 501,
            _ => 502,
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Origin(e) => e.fmt(f),
            SourceError::Media { path, error } | SourceError::Unsupported { path, error } => {
                write!(f, "{path}: {error}")
            }
            SourceError::Ism { path, error } | SourceError::Text { path, error } => {
                write!(f, "{path}: {error}")
            }
        }
    }
}

impl From<OriginError> for SourceError {
    fn from(e: OriginError) -> Self {
        SourceError::Origin(e)
    }
}

/// Cache key of a file's index: path + index format version. The ETag the
/// index was built from is stored inside it and every later payload read
/// is conditional on it, so a replaced object fails loudly (and the stale
/// entry is dropped) instead of mixing versions.
pub fn index_key(path: &str) -> String {
    format!("idx/v{INDEX_VERSION}/{path}")
}

/// What identifies the version of the object an index was built from: its
/// ETag, or its size when the origin sends none. Stored under
/// [`crate::outputs::tag_key`] so output-cache keys can name it without
/// loading the index.
pub fn version_tag(idx: &MediaIndex) -> Bytes {
    if idx.etag.is_empty() {
        Bytes::from(format!("size:{}", idx.file_size))
    } else {
        Bytes::from(idx.etag.clone())
    }
}

/// Drops what is cached about `path` (it changed at the origin): its index
/// (a text sidecar's parsed cues) and its version record, so no output key
/// names the old version again.
pub fn forget_source(path: &str, cache: &mut dyn Cache) {
    if crate::input::ism::is_sidecar_text(path) {
        cache.forget(&text::cues_key(path));
    } else {
        cache.forget(&index_key(path));
    }
    cache.forget(&crate::outputs::tag_key(path));
}

pub fn ism_key(path: &str) -> String {
    format!("ism/{path}")
}

fn media_error(path: &str, e: index::IndexError) -> SourceError {
    match e {
        index::IndexError::Mp4(Mp4Error {
            kind: crate::mp4::Mp4ErrorKind::Unsupported,
            ..
        }) => SourceError::Unsupported {
            path: path.to_string(),
            error: e.to_string(),
        },
        e => SourceError::Media {
            path: path.to_string(),
            error: e.to_string(),
        },
    }
}

/// Where one file's index build stands. No state asks for a byte an
/// earlier read of the same load returned (issue 11: a cold request used
/// to read the 256 KB head and then the whole moov again): a box header
/// cut by a window's end is kept (the `carry` of [`Probing::Reading`]), a moov cut
/// by it is completed ([`Probing::MoovRest`]), and first frames cut by it
/// are joined ([`probe_bytes`]).
enum Probing {
    /// Waiting for the read of `start..end`; the walk resumes at `cursor`.
    Reading {
        cursor: u64,
        start: u64,
        end: u64,
        /// The bytes `cursor..start`, held from the previous window: the
        /// first bytes of a box header that window cut (shorter than
        /// [`MAX_BOX_HEADER`]).
        carry: Bytes,
    },
    /// The moov at `offset..end` starts in a window already read: only
    /// the rest, after `prefix` (its first bytes, copied out of that
    /// window), is read, then the two are joined.
    MoovRest {
        offset: u64,
        prefix: Bytes,
        end: u64,
    },
    /// The index is built and waits for the read of `start..end`, which
    /// holds the first frames `probes` ask for; `held` are the first
    /// bytes of a probe cut by a window's end, so the read starts after
    /// them.
    Frames {
        idx: MediaIndex,
        probes: Vec<FrameProbe>,
        held: Option<(u64, Bytes)>,
        start: u64,
        end: u64,
    },
    /// The moov announces fragments: the scan for its moofs goes on.
    Fragments {
        moov: Bytes,
        moov_offset: u64,
        scan: Box<FragmentScan>,
    },
    Done(MediaIndex),
}

/// Longest box header (ISO/IEC 14496-12 §4.2): 64-bit `largesize` and a
/// `uuid` extended type. A header cut by a window's end is shorter.
const MAX_BOX_HEADER: usize = 32;

struct FileProbe {
    path: String,
    state: Probing,
    etag: Option<String>,
    size: Option<u64>,
    reads: usize,
    /// The head read (at most [`HEAD_PROBE_LEN`] bytes), kept while the
    /// walk goes on: it usually holds the first frames [`FrameProbe`]s
    /// want. Later windows are not kept (a tail can be 16 MB).
    head: Option<Bytes>,
    /// When a fragmented file is indexed from its `sidx`/`mfra`.
    tables: TablePolicy,
}

/// The bytes `p` asks for, if `windows` hold them: a slice of one window,
/// or, for a probe cut by a window's end and completed by the window that
/// starts there, the two parts joined (a copy of at most
/// [`crate::mp4::dts::CORE_HEADER_LEN`] bytes, rather than a read).
fn probe_bytes<'a>(windows: &'a [(u64, Bytes)], p: &FrameProbe) -> Option<Cow<'a, [u8]>> {
    let p_end = p.offset.checked_add(p.len)?;
    let inside = windows.iter().find_map(|(at, data)| {
        let from = usize::try_from(p.offset.checked_sub(*at)?).ok()?;
        data.get(from..from.checked_add(usize::try_from(p.len).ok()?)?)
    });
    if let Some(b) = inside {
        return Some(Cow::Borrowed(b));
    }
    let (at, first) = windows
        .iter()
        .find(|(at, d)| *at <= p.offset && p.offset < at + d.len() as u64)?;
    let cut = at + first.len() as u64;
    let (_, second) = windows.iter().find(|(a, _)| *a == cut)?;
    let mut joined = first.get(usize::try_from(p.offset - at).ok()?..)?.to_vec();
    joined.extend_from_slice(second.get(..usize::try_from(p_end - cut).ok()?)?);
    Some(Cow::Owned(joined))
}

impl FileProbe {
    fn request(&self) -> Option<ReadRequest> {
        let range = match self.state {
            Probing::Reading { start, end, .. } | Probing::Frames { start, end, .. } => {
                (start, end)
            }
            Probing::MoovRest {
                offset,
                ref prefix,
                end,
            } => (offset + prefix.len() as u64, end),
            Probing::Fragments { ref scan, .. } => match scan.next() {
                Next::Read { offset, len } => (offset, offset + len),
                Next::Done => return None,
            },
            Probing::Done(_) => return None,
        };
        Some(ReadRequest {
            path: self.path.clone(),
            start: range.0,
            end: range.1,
            if_match: self.etag.clone(),
            target: crate::source::ReadTarget::Origin,
        })
    }

    fn feed(&mut self, resp: ReadResponse) -> Result<(), SourceError> {
        self.reads += 1;
        self.etag.get_or_insert(resp.etag.clone());
        let size = *self.size.get_or_insert(resp.total_size);
        if size == 0 {
            return Err(OriginError::Empty(self.path.clone()).into());
        }
        match &self.state {
            Probing::Reading {
                cursor,
                start,
                carry,
                ..
            } => {
                let (cursor, start, carry) = (*cursor, *start, carry.clone());
                self.walk(resp.data, cursor, start, carry, size)
            }
            Probing::MoovRest {
                offset,
                prefix,
                end,
            } => {
                let (offset, end) = (*offset, *end);
                let rest = (end - offset) as usize - prefix.len();
                let Some(tail) = resp.data.get(..rest) else {
                    return Err(OriginError::Bad(format!("short read of {}", self.path)).into());
                };
                // The moov's two parts joined: a copy of moov bytes (at
                // most MAX_MOOV_LEN), never of media payload.
                let mut moov = Vec::with_capacity(prefix.len() + rest);
                moov.extend_from_slice(prefix);
                moov.extend_from_slice(tail);
                let moov = Bytes::from(moov);
                self.moov(moov.clone(), offset, size, (offset, moov))
            }
            Probing::Frames {
                idx,
                probes,
                held,
                start,
                ..
            } => {
                let mut windows = vec![(*start, resp.data)];
                windows.extend(held.clone());
                let idx = with_frames(&self.path, &windows, idx, probes)?;
                self.done(idx);
                Ok(())
            }
            Probing::Fragments { scan, .. } => {
                let at = match scan.next() {
                    Next::Read { offset, .. } => offset,
                    Next::Done => 0,
                };
                self.fragments(at, resp.data)
            }
            Probing::Done(_) => Ok(()),
        }
    }

    /// One step of the walk to the moov, with the bytes `data` at `start`
    /// (and `carry`, the bytes `cursor..start` a previous window held).
    fn walk(
        &mut self,
        data: Bytes,
        cursor: u64,
        start: u64,
        carry: Bytes,
        size: u64,
    ) -> Result<(), SourceError> {
        let mp4 = |e: Mp4Error| media_error(&self.path, e.into());
        if start == 0 {
            self.head = Some(data.clone());
        }
        let mut cursor = cursor;
        if !carry.is_empty() {
            // The header cut by the last window's end, completed by this
            // one's first bytes (a copy of a few header bytes).
            let mut joined = carry.to_vec();
            joined.extend_from_slice(&data[..data.len().min(MAX_BOX_HEADER)]);
            let from = cursor;
            match locate_moov(&joined, from, cursor, size).map_err(mp4)? {
                Probe::Moov { offset, size: len } if offset < start => {
                    // A moov whose header the carry holds: its first bytes
                    // are the rest of the carry and this window.
                    let mut prefix = joined[(offset - from) as usize..carry.len()].to_vec();
                    let want = (offset + len).saturating_sub(start);
                    prefix.extend_from_slice(&data[..data.len().min(want as usize)]);
                    return self.moov_from(offset, len, Bytes::from(prefix), size, (start, data));
                }
                Probe::Moov { offset, .. } | Probe::Need { offset, .. } => cursor = offset,
            }
            if cursor < start {
                return Err(mp4(Mp4Error::truncated(
                    "",
                    cursor,
                    "box header runs past the end of the file",
                )));
            }
        }
        match locate_moov(&data, start, cursor, size).map_err(mp4)? {
            Probe::Moov { offset, size: len } => {
                let at = (offset - start) as usize;
                if offset + len <= start + data.len() as u64 {
                    let moov = data.slice(at..at + len as usize);
                    return self.moov(moov, offset, size, (start, data));
                }
                // Cut by the window's end: its first bytes are copied (moov
                // bytes), so the window need not be held, and only the rest
                // is read.
                let prefix = Bytes::copy_from_slice(&data[at..]);
                self.state = Probing::MoovRest {
                    offset,
                    prefix,
                    end: offset + len,
                };
            }
            Probe::Need { offset, len } => {
                let window_end = start + data.len() as u64;
                let end = offset + len;
                self.state = if offset < window_end {
                    // A header cut by the window's end: its first bytes are
                    // kept and the read starts after them.
                    if end <= window_end {
                        return Err(mp4(Mp4Error::truncated(
                            "",
                            offset,
                            "box header runs past the end of the file",
                        )));
                    }
                    Probing::Reading {
                        cursor: offset,
                        start: window_end,
                        end,
                        carry: Bytes::copy_from_slice(&data[(offset - start) as usize..]),
                    }
                } else {
                    Probing::Reading {
                        cursor: offset,
                        start: offset,
                        end,
                        carry: Bytes::new(),
                    }
                };
            }
        }
        self.within_budget()
    }

    fn within_budget(&self) -> Result<(), SourceError> {
        if self.reads >= MAX_INDEX_READS {
            return Err(SourceError::Unsupported {
                path: self.path.clone(),
                error: "moov not found within the read budget".into(),
            });
        }
        Ok(())
    }

    /// The moov at `offset..offset + len`, of which `prefix` (joined from
    /// held bytes) is the start: built when whole (`window`, the last
    /// read, may hold first frames or moofs after it), else the rest is
    /// read.
    fn moov_from(
        &mut self,
        offset: u64,
        len: u64,
        prefix: Bytes,
        size: u64,
        window: (u64, Bytes),
    ) -> Result<(), SourceError> {
        if prefix.len() as u64 >= len {
            let moov = prefix.slice(..len as usize);
            return self.moov(moov, offset, size, window);
        }
        self.state = Probing::MoovRest {
            offset,
            prefix,
            end: offset + len,
        };
        self.within_budget()
    }

    /// The whole moov is held: the index is built from it, or the scan for
    /// moofs starts (with `window`, the bytes that held it, which may hold
    /// moofs after it).
    fn moov(
        &mut self,
        moov: Bytes,
        offset: u64,
        size: u64,
        window: (u64, Bytes),
    ) -> Result<(), SourceError> {
        let len = moov.len() as u64;
        if crate::mp4::moov::has_mvex(&moov, offset) {
            let keys = crate::mp4::moov::parse_moov(moov.clone(), offset)
                .map(|m| {
                    m.tracks
                        .iter()
                        .map(|t| crate::mp4::fragtable::TrackKey {
                            track_id: t.track_id,
                            timescale: t.timescale,
                        })
                        .collect()
                })
                .unwrap_or_default();
            self.state = Probing::Fragments {
                // A copy of the moov (not of media payload): the window
                // holding it may be a 16 MB tail.
                moov: Bytes::copy_from_slice(&moov),
                moov_offset: offset,
                scan: Box::new(FragmentScan::with_tables(
                    offset + len,
                    size,
                    self.tables,
                    keys,
                )),
            };
            return self.fragments(window.0, window.1);
        }
        let etag = self.etag.clone().unwrap_or_default();
        let idx =
            index::build(moov, offset, size, &etag).map_err(|e| media_error(&self.path, e))?;
        self.built(idx, window)
    }

    /// One step of the search for moofs with the window `data` at `at`
    /// (read for it, or the one that held the moov); builds the index when
    /// every moof is found.
    fn fragments(&mut self, at: u64, data: Bytes) -> Result<(), SourceError> {
        let Probing::Fragments {
            moov,
            moov_offset,
            scan,
        } = &mut self.state
        else {
            return Ok(());
        };
        scan.feed(at, &data)
            .map_err(|e| media_error(&self.path, e.into()))?;
        if scan.next() != Next::Done {
            return Ok(());
        }
        let etag = self.etag.clone().unwrap_or_default();
        let size = self.size.unwrap_or_default();
        let idx = match scan.tables() {
            Some(tables) => table_index(moov, *moov_offset, size, &etag, tables, &scan.moofs),
            None => index::build_fragmented(moov.clone(), *moov_offset, size, &etag, &scan.moofs),
        }
        .map_err(|e| media_error(&self.path, e))?;
        self.built(idx, (at, data))
    }

    /// The index is built: done, unless first frames are still wanted
    /// that the reads so far do not hold; those cost one more read, which
    /// starts after any of their bytes already held. `window` is the read
    /// that held the moov.
    fn built(&mut self, idx: MediaIndex, window: (u64, Bytes)) -> Result<(), SourceError> {
        let mut windows = vec![window];
        windows.extend(self.head.take().map(|h| (0, h)));
        let (have, mut missing): (Vec<FrameProbe>, Vec<FrameProbe>) = idx
            .frame_probes()
            .into_iter()
            .partition(|p| probe_bytes(&windows, p).is_some());
        let idx = with_frames(&self.path, &windows, &idx, &have)?;
        let Some(first) = missing.iter().map(|p| p.offset).min() else {
            self.done(idx);
            return Ok(());
        };
        missing.retain(|p| p.offset.saturating_add(p.len) <= first + MAX_FRAME_PROBE_SPAN);
        let end = missing
            .iter()
            .map(|p| p.offset + p.len)
            .max()
            .unwrap_or(first);
        // The first probe may be cut by a held window's end (the others
        // are further on): its held bytes are kept, the read starts after.
        let held = windows.iter().find_map(|(at, d)| {
            let from = usize::try_from(first.checked_sub(*at)?).ok()?;
            Some((first, Bytes::copy_from_slice(d.get(from..)?)))
        });
        let held = held.filter(|(_, b)| !b.is_empty());
        let start = held.as_ref().map_or(first, |(at, b)| at + b.len() as u64);
        self.state = Probing::Frames {
            idx,
            probes: missing,
            held,
            start,
            end: end.max(start),
        };
        Ok(())
    }

    fn done(&mut self, idx: MediaIndex) {
        self.state = Probing::Done(idx);
        self.head = None;
    }
}

/// The fragment-level index of a fragmented file from the table its scan
/// settled on (`moofs`: each track's last moof, for a `tfra` table).
fn table_index(
    moov: &Bytes,
    moov_offset: u64,
    size: u64,
    etag: &str,
    tables: Tables,
    moofs: &[(u64, Bytes)],
) -> Result<MediaIndex, index::IndexError> {
    use crate::mp4::fragtable;
    let movie = crate::mp4::moov::parse_moov(moov.clone(), moov_offset)?;
    let keys: Vec<fragtable::TrackKey> = movie
        .tracks
        .iter()
        .map(|t| fragtable::TrackKey {
            track_id: t.track_id,
            timescale: t.timescale,
        })
        .collect();
    let unusable = |why: &str| {
        index::IndexError::Mp4(Mp4Error::unsupported("mfra", moov_offset, why.to_string()))
    };
    let trex = movie.trex.clone().unwrap_or_default();
    let mut runs = Vec::with_capacity(moofs.len());
    for (at, moof) in moofs {
        runs.push((*at, crate::mp4::moof::parse_moof(moof.clone(), *at, &trex)?));
    }
    let mut tables = match tables {
        Tables::Sidx(t) => t.to_vec(),
        Tables::Tfra { tfras, data_end } => fragtable::from_tfra(tfras, &keys, &runs, data_end)?
            .ok_or_else(|| unusable("the tfra boxes do not list every track's fragments"))?,
    };
    fragtable::set_first_cts(&mut tables, &runs);
    index::build_fragment_level(moov.clone(), moov_offset, size, etag, &tables)
}

/// `idx` with the first frames `probes` asked for, taken from `windows`.
fn with_frames(
    path: &str,
    windows: &[(u64, Bytes)],
    idx: &MediaIndex,
    probes: &[FrameProbe],
) -> Result<MediaIndex, SourceError> {
    if probes.is_empty() {
        return Ok(idx.clone());
    }
    let found: Vec<(u32, Cow<[u8]>)> = probes
        .iter()
        .filter_map(|p| Some((p.track_id, probe_bytes(windows, p)?)))
        .collect();
    let heads: Vec<(u32, &[u8])> = found.iter().map(|(id, b)| (*id, &b[..])).collect();
    idx.with_frame_heads(&heads)
        .map_err(|e| media_error(path, e))
}

/// The indexes of a set of files, loaded as a sans-IO step machine: cache
/// first, then range reads for every unfinished file at once, round after
/// round (head probe, then the moov where the head did not hold it, then
/// the moofs of a fragmented file ([`FragmentScan`]), then first frames
/// where a codec needs them). [`IndexLoad::pending`] says what
/// to read, [`IndexLoad::feed`] takes the answers.
pub struct IndexLoad {
    probes: Vec<FileProbe>,
    /// Origin reads made so far.
    pub reads: usize,
}

impl IndexLoad {
    pub fn new(paths: &[String], cache: &mut dyn Cache) -> IndexLoad {
        let probes = paths
            .iter()
            .map(|p| {
                let cached = cache
                    .get(&index_key(p))
                    .and_then(|b| MediaIndex::from_blob(b).ok());
                FileProbe {
                    path: p.clone(),
                    state: match cached {
                        Some(idx) => Probing::Done(idx),
                        None => Probing::Reading {
                            cursor: 0,
                            start: 0,
                            end: HEAD_PROBE_LEN,
                            carry: Bytes::new(),
                        },
                    },
                    etag: None,
                    size: None,
                    reads: 0,
                    head: None,
                    tables: TablePolicy::default(),
                }
            })
            .collect();
        IndexLoad { probes, reads: 0 }
    }

    /// Indexes fragmented files from their `sidx`/`mfra` as `policy` says
    /// (setting `fragment_index`).
    pub fn with_tables(mut self, policy: TablePolicy) -> IndexLoad {
        for p in &mut self.probes {
            p.tables = policy;
        }
        self
    }

    /// The reads still needed, one per unfinished file; empty when every
    /// index is loaded.
    pub fn pending(&self) -> Vec<ReadRequest> {
        self.probes.iter().filter_map(FileProbe::request).collect()
    }

    /// Takes the results of the reads [`IndexLoad::pending`] listed, in
    /// that order; built indexes go to `cache`.
    pub fn feed(
        &mut self,
        results: Vec<Result<ReadResponse, OriginError>>,
        cache: &mut dyn Cache,
    ) -> Result<(), SourceError> {
        let waiting: Vec<usize> = (0..self.probes.len())
            .filter(|&i| self.probes[i].request().is_some())
            .collect();
        if results.len() != waiting.len() {
            return Err(OriginError::Bad("missing read results".into()).into());
        }
        self.reads += results.len();
        for (i, res) in waiting.into_iter().zip(results) {
            let probe = &mut self.probes[i];
            probe.feed(res?)?;
            if let Probing::Done(idx) = &probe.state {
                cache.put(&index_key(&probe.path), idx.blob.clone());
            }
        }
        Ok(())
    }

    /// The indexes, in the order of the paths given to [`IndexLoad::new`];
    /// `None` while reads are pending.
    pub fn finish(self) -> Option<Vec<MediaIndex>> {
        self.probes
            .into_iter()
            .map(|p| match p.state {
                Probing::Done(idx) => Some(idx),
                Probing::Reading { .. }
                | Probing::MoovRest { .. }
                | Probing::Frames { .. }
                | Probing::Fragments { .. } => None,
            })
            .collect()
    }
}

/// Loads the indexes of `paths` through a blocking `origin` (the native
/// CLI, tests): [`IndexLoad`] driven to the end. Returns them in `paths`
/// order and the number of origin reads made.
pub fn load_indexes(
    paths: &[String],
    origin: &mut dyn Origin,
    cache: &mut dyn Cache,
) -> Result<(Vec<MediaIndex>, usize), SourceError> {
    let mut load = IndexLoad::new(paths, cache);
    loop {
        let reqs = load.pending();
        if reqs.is_empty() {
            break;
        }
        let results = origin.read(&reqs);
        load.feed(results, cache)?;
    }
    let reads = load.reads;
    let out = load
        .finish()
        .ok_or_else(|| OriginError::Bad("index load ended early".into()))?;
    Ok((out, reads))
}

/// The read that fetches a server manifest (its whole size, capped).
pub fn ism_read(path: &str) -> ReadRequest {
    ReadRequest {
        path: path.to_string(),
        start: 0,
        end: MAX_ISM_LEN + 1,
        if_match: None,
        target: crate::source::ReadTarget::Origin,
    }
}

/// A cached server manifest, parsed; `None` when not cached.
pub fn cached_ism(
    path: &str,
    cache: &mut dyn Cache,
) -> Option<Result<ServerManifest, SourceError>> {
    let bytes = cache.get(&ism_key(path))?;
    Some(parse_ism(path, &bytes))
}

/// Parses the answer to [`ism_read`] and caches its bytes.
pub fn ism_from_read(
    path: &str,
    resp: ReadResponse,
    cache: &mut dyn Cache,
) -> Result<ServerManifest, SourceError> {
    if resp.total_size > MAX_ISM_LEN {
        return Err(SourceError::Ism {
            path: path.into(),
            error: format!("server manifest larger than {MAX_ISM_LEN} bytes"),
        });
    }
    cache.put(&ism_key(path), resp.data.clone());
    parse_ism(path, &resp.data)
}

fn parse_ism(path: &str, bytes: &[u8]) -> Result<ServerManifest, SourceError> {
    ism::parse(bytes).map_err(|e| SourceError::Ism {
        path: path.into(),
        error: e.to_string(),
    })
}

/// Loads and parses an `.ism` (cache first) through a blocking `origin`.
pub fn load_ism(
    path: &str,
    origin: &mut dyn Origin,
    cache: &mut dyn Cache,
) -> Result<ServerManifest, SourceError> {
    if let Some(m) = cached_ism(path, cache) {
        return m;
    }
    let req = ism_read(path);
    let resp = origin
        .read(std::slice::from_ref(&req))
        .pop()
        .ok_or_else(|| OriginError::Bad("no response".into()))??;
    ism_from_read(path, resp, cache)
}

/// An origin over a local directory (native tools, tests, benchmarks).
/// It records every read so tests can count them.
#[cfg(not(target_arch = "wasm32"))]
pub struct FileOrigin {
    pub root: std::path::PathBuf,
    pub log: Vec<ReadRequest>,
}

#[cfg(not(target_arch = "wasm32"))]
impl FileOrigin {
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        FileOrigin {
            root: root.into(),
            log: Vec::new(),
        }
    }

    fn read_one(&self, r: &ReadRequest) -> Result<ReadResponse, OriginError> {
        use std::io::{Read, Seek, SeekFrom};
        if let ReadTarget::KeyProvider { .. } = r.target {
            // Files only: never read the asset as if it were the answer.
            return Err(keyprovider::unreachable(
                r,
                false,
                "a file origin has no key provider",
            ));
        }
        let path = self.root.join(&r.path);
        let mut f =
            std::fs::File::open(&path).map_err(|_| OriginError::NotFound(r.path.clone()))?;
        let meta = f.metadata().map_err(|e| OriginError::Bad(e.to_string()))?;
        let size = meta.len();
        if size == 0 {
            // What an HTTP origin's 416 to `bytes=0-…` means.
            return Err(OriginError::Empty(r.path.clone()));
        }
        // A weak ETag from size + mtime, like many static servers.
        let mtime = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let etag = format!("\"{size:x}-{mtime:x}\"");
        if r.if_match.as_ref().is_some_and(|m| *m != etag) {
            return Err(OriginError::Changed(r.path.clone()));
        }
        if r.start >= size {
            return Err(OriginError::Bad(format!(
                "range {}- beyond {size}",
                r.start
            )));
        }
        let end = r.end.min(size);
        let mut data = vec![0u8; (end - r.start) as usize];
        f.seek(SeekFrom::Start(r.start))
            .and_then(|_| f.read_exact(&mut data))
            .map_err(|e| OriginError::Bad(e.to_string()))?;
        Ok(ReadResponse {
            data: Bytes::from(data),
            total_size: size,
            etag,
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Origin for FileOrigin {
    fn read(&mut self, reqs: &[ReadRequest]) -> Vec<Result<ReadResponse, OriginError>> {
        self.log.extend(reqs.iter().cloned());
        reqs.iter().map(|r| self.read_one(r)).collect()
    }
}

/// A cache in a hash map (native tools, tests).
#[derive(Default)]
pub struct MemoryCache(pub std::collections::HashMap<String, Bytes>);

impl Cache for MemoryCache {
    fn get(&mut self, key: &str) -> Option<Bytes> {
        self.0.get(key).cloned()
    }
    fn put(&mut self, key: &str, value: Bytes) {
        self.0.insert(key.to_string(), value);
    }
    fn forget(&mut self, key: &str) {
        self.0.remove(key);
    }
}

#[cfg(test)]
mod tests;
