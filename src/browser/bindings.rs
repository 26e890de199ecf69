//! The JS surface (wasm-bindgen): [`Packager`] and [`Answer`].
//!
//! Offsets and sizes cross as `f64` (JS numbers, exact below 2^53) rather
//! than `u64`, which wasm-bindgen would turn into `BigInt`.

use super::{Done, PutError, Reply, Session};
use crate::source::ReadRequest;
use bytes::Bytes;
use wasm_bindgen::prelude::*;

/// Largest integer a JS number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A non-negative integral JS number as `u64`.
fn offset(v: f64, what: &str) -> Result<u64, JsError> {
    if (0.0..=MAX_SAFE).contains(&v) && v.fract() == 0.0 {
        Ok(v as u64)
    } else {
        Err(JsError::new(&format!(
            "{what} must be an integer ≥ 0, not {v}"
        )))
    }
}

/// The packager: holds the index cache and the bytes provided so far.
#[wasm_bindgen]
pub struct Packager {
    session: Session,
}

#[wasm_bindgen]
impl Packager {
    /// `segment_ms`: target segment duration (1000–30000; 0 = 6000).
    #[wasm_bindgen(constructor)]
    pub fn new(segment_ms: u32) -> Packager {
        Packager {
            session: Session::new(segment_ms),
        }
    }

    /// Answers a request path (`/abr/abr.ism/manifest(format=m3u8-cmaf)`)
    /// and its query string without the `?`. `status` 0 means reads are
    /// needed first: fetch them, `provide` each and call this again.
    pub fn request(&mut self, path: &str, query: Option<String>) -> Answer {
        match self.session.request(path, query.as_deref()) {
            Reply::Need(needs) => Answer { done: None, needs },
            Reply::Done(done) => Answer {
                done: Some(done),
                needs: Vec::new(),
            },
        }
    }

    /// Hands over the body of a read: bytes `start..start + data.length` of
    /// `path`, an object of `total_size` bytes (from `Content-Range`) whose
    /// ETag is `etag` ("" if none). Throws on inconsistent numbers or a body
    /// over 64 MiB.
    pub fn provide(
        &mut self,
        path: &str,
        start: f64,
        data: Vec<u8>,
        total_size: f64,
        etag: &str,
    ) -> Result<(), JsError> {
        let start = offset(start, "start")?;
        let total = offset(total_size, "total_size")?;
        // The Vec was copied in from JS once; Bytes takes it over without
        // another copy and later reads are slices of it.
        self.session
            .provide(path, start, Bytes::from(data), total, etag)
            .map_err(|e| match e {
                PutError::Inconsistent => JsError::new("start + data.length is beyond total_size"),
                PutError::TooLarge => JsError::new("a read body over 64 MiB is refused"),
            })
    }

    /// Reports a failed read: its HTTP status (404, 403, 412, 5xx …; 0 for
    /// a network error) and a short reason. The next `request` answers with
    /// the matching error status.
    pub fn fail(
        &mut self,
        path: &str,
        start: f64,
        status: u16,
        reason: &str,
    ) -> Result<(), JsError> {
        let start = offset(start, "start")?;
        self.session.fail(path, start, status, reason);
        Ok(())
    }

    /// Drops the cached indexes and `.ism` files.
    pub fn clear_cache(&mut self) {
        self.session.clear_cache();
    }

    /// Fetched payload bytes held (dropped as requests complete).
    #[wasm_bindgen(getter)]
    pub fn stored_bytes(&self) -> f64 {
        self.session.stored_bytes() as f64
    }

    /// Indexes and `.ism` files cached.
    #[wasm_bindgen(getter)]
    pub fn cached_entries(&self) -> u32 {
        u32::try_from(self.session.cached_entries()).unwrap_or(u32::MAX)
    }
}

/// The outcome of [`Packager::request`]: a response (`status` ≠ 0) or the
/// reads still needed (`status` 0, `need_count` > 0).
#[wasm_bindgen]
pub struct Answer {
    done: Option<Done>,
    needs: Vec<ReadRequest>,
}

#[wasm_bindgen]
impl Answer {
    /// 0 while reads are needed, else the HTTP status.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> u16 {
        self.done.as_ref().map_or(0, |d| d.status)
    }

    #[wasm_bindgen(getter)]
    pub fn content_type(&self) -> String {
        self.done
            .as_ref()
            .map_or_else(String::new, |d| d.content_type.to_string())
    }

    /// The response body. Each access copies it out (once into one buffer,
    /// once into JS memory): read it once.
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> Vec<u8> {
        let Some(d) = &self.done else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(d.body.iter().map(Bytes::len).sum());
        for part in &d.body {
            out.extend_from_slice(part);
        }
        out
    }

    /// The error's one-line reason ("" on success).
    #[wasm_bindgen(getter)]
    pub fn reason(&self) -> String {
        self.done
            .as_ref()
            .map_or_else(String::new, |d| d.reason.clone())
    }

    /// True for segments and init segments (cacheable for good).
    #[wasm_bindgen(getter)]
    pub fn immutable(&self) -> bool {
        self.done.as_ref().is_some_and(|d| d.immutable)
    }

    #[wasm_bindgen(getter)]
    pub fn need_count(&self) -> u32 {
        u32::try_from(self.needs.len()).unwrap_or(u32::MAX)
    }

    /// Object path of needed read `i` (relative to the bucket root); ""
    /// when `i` is out of range.
    pub fn need_path(&self, i: u32) -> String {
        self.need(i).map_or_else(String::new, |r| r.path.clone())
    }

    /// First byte of needed read `i`.
    pub fn need_start(&self, i: u32) -> f64 {
        self.need(i).map_or(0.0, |r| r.start as f64)
    }

    /// End (exclusive) of needed read `i`; may lie past the object's end
    /// (ask for `bytes=start-(end-1)` and take what comes).
    pub fn need_end(&self, i: u32) -> f64 {
        self.need(i).map_or(0.0, |r| r.end as f64)
    }

    /// The ETag read `i` must match (send as `If-Match`), if any.
    pub fn need_if_match(&self, i: u32) -> Option<String> {
        self.need(i)
            .and_then(|r| r.if_match_header().map(str::to_string))
    }
}

impl Answer {
    fn need(&self, i: u32) -> Option<&ReadRequest> {
        self.needs.get(usize::try_from(i).ok()?)
    }
}
