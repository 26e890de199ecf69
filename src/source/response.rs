//! What an origin's answer to one range read means, decided once for every
//! adapter: the status and framing headers of the response are checked
//! here, and the adapter only moves the body.
//!
//! A range read is `GET` with `Range: bytes=a-b` and, for payload, an
//! `If-Match` on the ETag the index was built from (RFC 9110 §13.1.1), so
//! the statuses that matter are 206 (§15.3.7), 200 (the origin ignored
//! `Range`, §14.2), 412 (the object changed), 416 (§15.5.17) and the usual
//! failures.

use super::{OriginError, ReadRequest, ReadResponse};
use bytes::Bytes;
use std::io::Read;

/// A read whose body is larger than this is refused rather than buffered
/// (an origin that ignores `Range` would otherwise send a whole title into
/// a 128 MB heap).
pub const MAX_BUFFERED_READ: u64 = 64 * 1024 * 1024;

/// The parts of an origin response the decision needs, copied out of the
/// platform's response type (header values read lossily: a non-UTF-8
/// value is treated as absent, never a trap).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head<'a> {
    pub status: u16,
    pub content_range: Option<&'a str>,
    pub content_length: Option<u64>,
    pub etag: Option<&'a str>,
    /// `Last-Modified` (RFC 9110 §8.8.2): with the size, what tells two
    /// versions apart when the origin sends no ETag.
    pub last_modified: Option<&'a str>,
}

/// Marks a version that is not an entity tag ([`Head::version`]): it is
/// compared with each answer, never sent as `If-Match`.
pub const DERIVED_VERSION: char = '~';

impl Head<'_> {
    /// What identifies the version of the object this answer comes from:
    /// its ETag; without one (plain static servers, some S3-compatible
    /// stores behind proxies) the object's size and `Last-Modified`,
    /// marked with [`DERIVED_VERSION`]. Without any, `None`: nothing can be
    /// compared. A replaced object then still changes size or date in
    /// practice, and a truncated re-upload always changes size, so a
    /// segment is never built from two versions unnoticed (issue 12).
    pub fn version(&self, total: Option<u64>) -> Option<String> {
        if let Some(tag) = self.etag.filter(|t| !t.is_empty()) {
            return Some(tag.to_string());
        }
        match (total, self.last_modified.map(str::trim)) {
            (None, None) => None,
            (t, lm) => Some(format!(
                "{DERIVED_VERSION}size={};modified={}",
                t.map_or_else(|| "?".to_string(), |t| t.to_string()),
                lm.unwrap_or("")
            )),
        }
    }
}

/// An answer that carries the bytes asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Offset of the body's first byte in the object.
    pub first: u64,
    /// Size of the whole object, when the response says it (a 200 without
    /// `Content-Length` does not).
    pub total: Option<u64>,
    /// The body is exactly the requested range (a 206 of the right
    /// length): it can be spliced or streamed straight through.
    pub exact: bool,
}

impl Accepted {
    /// Bytes of the body worth reading: up to the end of the requested
    /// range (a 200's body past it is never read).
    pub fn body_limit(&self, r: &ReadRequest) -> u64 {
        r.end.saturating_sub(self.first)
    }
}

/// Checks a response's status and framing against the read it answers. A
/// body of another version of the object than the read requires (its ETag
/// differs; the only check when the required ETag is weak, since no
/// `If-Match` was sent, and a guard against origins that ignore
/// `If-Match`) is [`OriginError::Changed`]. A 206 must carry a valid
/// `Content-Range` (RFC 9110 §14.4: first-pos ≤ last-pos < complete-length)
/// starting at the read's first byte, else it is [`OriginError::Bad`].
pub fn check(r: &ReadRequest, h: &Head) -> Result<Accepted, OriginError> {
    let acc = check_framing(r, h)?;
    // Like with like: an ETag with the answer's ETag (an answer without
    // one has nothing to compare), a derived version with the answer's.
    let got = match r.if_match.as_deref() {
        Some(want) if want.starts_with(DERIVED_VERSION) => h.version(acc.total),
        Some(_) => h.etag.map(str::to_string),
        None => None,
    };
    if let (Some(want), Some(got)) = (r.if_match.as_deref(), got) {
        if want != got {
            return Err(OriginError::Changed(r.path.to_string()));
        }
    }
    Ok(acc)
}

/// The status and framing half of [`check`].
fn check_framing(r: &ReadRequest, h: &Head) -> Result<Accepted, OriginError> {
    let path = &r.path;
    match h.status {
        206 => {
            // Content-Range: bytes first-last/total (RFC 9110 §14.4).
            let cr = h.content_range.unwrap_or_default();
            let spec = cr.strip_prefix("bytes ").unwrap_or_default();
            let (range, total) = spec.split_once('/').unwrap_or_default();
            let (first, last) = range.split_once('-').unwrap_or_default();
            let num = |v: &str| v.parse::<u64>().ok();
            match (num(first), num(last), num(total)) {
                // §14.4: a range-resp with last-pos < first-pos or a
                // complete-length <= last-pos is invalid and its content
                // must not be used; before fuzz finding F6 only first-pos
                // and the total were read, so `bytes 10-19/5` was accepted
                // as a 5-byte object answering a read from byte 10.
                (Some(f), Some(l), Some(t)) if f == r.start && f <= l && l < t => Ok(Accepted {
                    first: f,
                    total: Some(t),
                    exact: h.content_length == Some(r.end.min(t).saturating_sub(r.start)),
                }),
                _ => Err(OriginError::Bad(format!(
                    "{path}: unusable Content-Range '{cr}'"
                ))),
            }
        }
        200 => {
            if h.content_length.is_some_and(|len| len > MAX_BUFFERED_READ)
                && r.end > MAX_BUFFERED_READ
            {
                return Err(OriginError::Bad(format!(
                    "{path}: origin ignored Range on a {}-byte object",
                    h.content_length.unwrap_or_default()
                )));
            }
            Ok(Accepted {
                first: 0,
                total: h.content_length,
                exact: false,
            })
        }
        404 | 410 => Err(OriginError::NotFound(path.to_string())),
        401 | 403 => Err(OriginError::Forbidden(path.to_string())),
        412 => Err(OriginError::Changed(path.to_string())),
        // A range from byte 0 is unsatisfiable only on an empty object.
        416 if r.start == 0 => Err(OriginError::Empty(path.to_string())),
        416 => Err(OriginError::Bad(format!(
            "{path}: range {}-{} not satisfiable",
            r.start, r.end
        ))),
        504 => Err(OriginError::Timeout(path.to_string())),
        s => Err(OriginError::Bad(format!("{path}: origin answered {s}"))),
    }
}

/// Reads what is needed of an accepted body: never more than
/// [`Accepted::body_limit`] (a 200 with a whole title is cut off, not
/// buffered), and an early end of the body is an error, never a shorter
/// read.
pub fn read_body(r: &ReadRequest, acc: &Accepted, body: impl Read) -> Result<Bytes, OriginError> {
    let limit = acc.body_limit(r);
    if limit > MAX_BUFFERED_READ {
        return Err(OriginError::Bad(format!(
            "{}: read of {limit} bytes is too large",
            r.path
        )));
    }
    let mut buf = Vec::with_capacity(limit.min(1 << 20) as usize);
    body.take(limit)
        .read_to_end(&mut buf)
        .map_err(|e| OriginError::Bad(format!("{}: short body ({e})", r.path)))?;
    Ok(Bytes::from(buf))
}

/// The [`ReadResponse`] for `r` from an accepted head and (the needed part
/// of) its body: the requested range cut out of a 200, and a body shorter
/// than the range (within the object) refused.
pub fn finish(
    r: &ReadRequest,
    acc: &Accepted,
    etag: &str,
    body: Bytes,
) -> Result<ReadResponse, OriginError> {
    let total = match acc.total {
        Some(t) => t,
        // A 200 without Content-Length: the body read so far is all we
        // know; it holds the range or the object ends inside it.
        None => body.len() as u64,
    };
    let want_end = r.end.min(total);
    let data = if acc.first == r.start {
        body
    } else {
        // A 200 with the whole object: keep the requested part.
        let s = usize::try_from(r.start - acc.first.min(r.start))
            .unwrap_or(usize::MAX)
            .min(body.len());
        body.slice(s..)
    };
    let want = want_end.saturating_sub(r.start);
    if (data.len() as u64) < want {
        return Err(OriginError::Bad(format!(
            "{}: short body ({} of {want} bytes)",
            r.path,
            data.len()
        )));
    }
    Ok(ReadResponse {
        data: data.slice(..want as usize),
        total_size: total,
        etag: etag.to_string(),
    })
}

/// [`check`], [`read_body`] and [`finish`] in one, for adapters that read
/// a response into memory.
pub fn into_read(r: &ReadRequest, h: &Head, body: impl Read) -> Result<ReadResponse, OriginError> {
    let acc = check(r, h)?;
    let data = read_body(r, &acc, body)?;
    let version = h.version(acc.total).unwrap_or_default();
    finish(r, &acc, &version, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(start: u64, end: u64) -> ReadRequest {
        ReadRequest {
            path: "a.mp4".into(),
            start,
            end,
            if_match: None,
            target: crate::source::ReadTarget::Origin,
        }
    }

    #[test]
    fn partial_content_of_the_right_length_is_exact() {
        let h = Head {
            status: 206,
            content_range: Some("bytes 10-19/100"),
            content_length: Some(10),
            etag: Some("\"x\""),
            last_modified: None,
        };
        let acc = check(&req(10, 20), &h).unwrap();
        assert_eq!(
            acc,
            Accepted {
                first: 10,
                total: Some(100),
                exact: true
            }
        );
        let r = into_read(&req(10, 20), &h, &[7u8; 10][..]).unwrap();
        assert_eq!(
            (r.data.len(), r.total_size, r.etag.as_str()),
            (10, 100, "\"x\"")
        );
    }

    /// Fuzz finding F6 (BENCHMARKS.md, Fuzzing): a `Content-Range` that
    /// RFC 9110 §14.4 calls invalid (last-pos missing or below first-pos,
    /// complete-length not above last-pos) is refused, not read as a
    /// shorter object. Inputs in `fuzz/regressions/f6-http-*`.
    #[test]
    fn fuzz_f6_an_invalid_content_range_is_refused() {
        for cr in [
            "bytes 10-19/5",
            "bytes 10-19/19",
            "bytes 10-9/100",
            "bytes 10-/100",
            "bytes 10-1x/100",
            "bytes 10/100",
        ] {
            let h = Head {
                status: 206,
                content_range: Some(cr),
                content_length: Some(10),
                ..Head::default()
            };
            assert!(
                matches!(check(&req(10, 20), &h), Err(OriginError::Bad(_))),
                "{cr}"
            );
        }
        let h = Head {
            status: 206,
            content_range: Some("bytes 10-10/11"),
            content_length: Some(1),
            ..Head::default()
        };
        let r = into_read(&req(10, 20), &h, &[5u8][..]).expect("the last byte");
        assert_eq!((r.data.len(), r.total_size), (1, 11));
    }

    #[test]
    fn a_range_past_the_end_is_cut_to_the_object() {
        let h = Head {
            status: 206,
            content_range: Some("bytes 90-99/100"),
            content_length: Some(10),
            etag: None,
            last_modified: None,
        };
        let r = into_read(&req(90, 200), &h, &[1u8; 10][..]).unwrap();
        assert_eq!(r.data.len(), 10);
        assert!(check(&req(90, 200), &h).unwrap().exact);
    }

    #[test]
    fn a_wrong_content_range_is_refused() {
        for cr in [
            None,
            Some("bytes 0-9/100"),
            Some("bytes */100"),
            Some("nonsense"),
        ] {
            let h = Head {
                status: 206,
                content_range: cr,
                content_length: Some(10),
                etag: None,
                last_modified: None,
            };
            assert!(
                matches!(check(&req(10, 20), &h), Err(OriginError::Bad(_))),
                "{cr:?}"
            );
        }
    }

    #[test]
    fn a_200_is_cut_and_read_only_as_far_as_needed() {
        let h = Head {
            status: 200,
            content_range: None,
            content_length: None,
            etag: None,
            last_modified: None,
        };
        let whole: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let acc = check(&req(100, 110), &h).unwrap();
        assert_eq!(acc.body_limit(&req(100, 110)), 110);
        let r = into_read(&req(100, 110), &h, &whole[..]).unwrap();
        assert_eq!(&r.data[..], &whole[100..110]);
        // Read only up to the range's end: the total is unknown, so it is
        // what was read.
        assert_eq!(r.total_size, 110);
    }

    #[test]
    fn a_huge_200_for_a_small_range_is_read_partly_not_refused() {
        let h = Head {
            status: 200,
            content_length: Some(10 * MAX_BUFFERED_READ),
            ..Head::default()
        };
        assert!(check(&req(0, 1000), &h).is_ok());
        assert!(check(&req(0, MAX_BUFFERED_READ + 1), &h).is_err());
    }

    /// Without ETags (issue 12): the version is the size and
    /// `Last-Modified`, compared on every read and never sent as
    /// `If-Match`; a replaced or truncated object is a change.
    #[test]
    fn without_an_etag_size_and_date_identify_the_version() {
        let h = |range, lm| Head {
            status: 206,
            content_range: Some(range),
            content_length: Some(10),
            etag: None,
            last_modified: lm,
        };
        let lm1 = Some("Tue, 01 Dec 2026 10:00:00 GMT");
        let lm2 = Some("Tue, 01 Dec 2026 11:00:00 GMT");
        let first = h("bytes 0-9/100", lm1);
        let v1 = first.version(Some(100)).expect("a version");
        assert!(v1.starts_with(DERIVED_VERSION), "{v1}");
        let built = into_read(&req(0, 10), &first, &[0u8; 10][..]).expect("read");
        assert_eq!(built.etag, v1, "the index keeps the derived version");
        let mut r = req(10, 20);
        r.if_match = Some(v1.clone());
        assert_eq!(r.if_match_header(), None, "never sent as If-Match");
        assert!(check(&r, &h("bytes 10-19/100", lm1)).is_ok());
        for (changed, what) in [
            (h("bytes 10-19/100", lm2), "re-uploaded, same size"),
            (h("bytes 10-19/60", lm1), "truncated, same date"),
            (h("bytes 10-19/100", None), "date gone"),
        ] {
            assert_eq!(
                check(&r, &changed),
                Err(OriginError::Changed("a.mp4".into())),
                "{what}"
            );
        }
        // An answer that now has an ETag is another version too.
        let mut tagged = h("bytes 10-19/100", lm1);
        tagged.etag = Some("\"e\"");
        assert!(check(&r, &tagged).is_err());
        // Nothing at all to go by: no version, nothing compared.
        let bare = Head {
            status: 200,
            content_range: None,
            content_length: None,
            etag: None,
            last_modified: None,
        };
        assert_eq!(bare.version(None), None);
    }

    #[test]
    fn another_version_of_the_object_is_a_change() {
        let mut r = req(0, 10);
        r.if_match = Some("W/\"v1\"".into());
        assert_eq!(
            r.if_match_header(),
            None,
            "a weak ETag is never sent as If-Match"
        );
        let h = |etag| Head {
            status: 206,
            content_range: Some("bytes 0-9/100"),
            content_length: Some(10),
            etag,
            last_modified: None,
        };
        assert!(check(&r, &h(Some("W/\"v1\""))).is_ok());
        assert_eq!(
            check(&r, &h(Some("W/\"v2\""))),
            Err(OriginError::Changed("a.mp4".into()))
        );
        // No ETag in the answer: nothing to compare (the size still is).
        assert!(check(&r, &h(None)).is_ok());
        r.if_match = Some("\"v1\"".into());
        assert_eq!(r.if_match_header(), Some("\"v1\""));
        assert_eq!(
            check(&r, &h(Some("\"v2\""))),
            Err(OriginError::Changed("a.mp4".into()))
        );
    }

    #[test]
    fn short_bodies_are_errors() {
        let h = Head {
            status: 206,
            content_range: Some("bytes 0-99/1000"),
            content_length: Some(100),
            etag: None,
            last_modified: None,
        };
        assert!(matches!(
            into_read(&req(0, 100), &h, &[0u8; 50][..]),
            Err(OriginError::Bad(_))
        ));
    }

    #[test]
    fn statuses_map_to_origin_errors() {
        let cases = [
            (404, 10, OriginError::NotFound("a.mp4".into())),
            (410, 10, OriginError::NotFound("a.mp4".into())),
            (403, 10, OriginError::Forbidden("a.mp4".into())),
            (401, 10, OriginError::Forbidden("a.mp4".into())),
            (412, 10, OriginError::Changed("a.mp4".into())),
            (416, 0, OriginError::Empty("a.mp4".into())),
            (504, 10, OriginError::Timeout("a.mp4".into())),
        ];
        for (status, start, want) in cases {
            let h = Head {
                status,
                ..Head::default()
            };
            assert_eq!(check(&req(start, start + 10), &h), Err(want), "{status}");
        }
        for status in [416, 500, 503, 302] {
            let h = Head {
                status,
                ..Head::default()
            };
            assert!(matches!(check(&req(10, 20), &h), Err(OriginError::Bad(_))));
        }
    }
}
