//! The key provider's answer, decided once for every adapter: the
//! adapter sends the [`ReadTarget::KeyProvider`] `POST` to its platform's
//! backend and hands the status and body here, or maps a failure to send
//! with [`unreachable()`].
//!
//! What a status means (SPEKE v2.0 answers 200 with the CPIX document):
//! 2xx is the document, read whole up to the request's `end` (the CPIX
//! cap plus one, so a larger answer is told apart and refused); 4xx is
//! 502 naming the status (the provider refused this edge's request: a
//! configuration problem of the deployment, not the viewer's), 5xx and an
//! unreachable provider 502, a timeout 504.

use super::{OriginError, ReadRequest, ReadResponse, ReadTarget};
use crate::crypto::cpix::MAX_CPIX_BYTES;
use crate::crypto::provider::KeyProvider;
use bytes::Bytes;
use std::io::Read;
use std::sync::Arc;

/// The `Content-Type` of the request document.
pub const CONTENT_TYPE: &str = "application/xml";

/// The read that asks the key provider with the CPIX request `body`;
/// `content_id` names it in errors.
pub fn read(provider: Arc<KeyProvider>, content_id: &str, body: String) -> ReadRequest {
    ReadRequest {
        path: content_id.to_string(),
        start: 0,
        end: MAX_CPIX_BYTES as u64 + 1,
        if_match: None,
        target: ReadTarget::KeyProvider {
            provider,
            body: Bytes::from(body),
        },
    }
}

/// The answer to `r` from its status and body.
pub fn answer(r: &ReadRequest, status: u16, body: impl Read) -> Result<ReadResponse, OriginError> {
    let fail = |why: String| OriginError::KeyProvider {
        timeout: false,
        why,
    };
    if !(200..300).contains(&status) {
        let kind = if (400..500).contains(&status) {
            "refused the key request"
        } else {
            "failed"
        };
        return Err(fail(format!("{kind} for {} (HTTP {status})", r.path)));
    }
    let mut data = Vec::new();
    body.take(r.end)
        .read_to_end(&mut data)
        .map_err(|e| fail(format!("reading the answer for {}: {e}", r.path)))?;
    if data.len() as u64 >= r.end {
        return Err(fail(format!(
            "the answer for {} is larger than {MAX_CPIX_BYTES} bytes",
            r.path
        )));
    }
    Ok(ReadResponse {
        total_size: data.len() as u64,
        data: Bytes::from(data),
        etag: String::new(),
    })
}

/// The error of a request that got no answer: 504 when it timed out,
/// else 502 with the platform's reason.
pub fn unreachable(r: &ReadRequest, timeout: bool, cause: impl std::fmt::Display) -> OriginError {
    OriginError::KeyProvider {
        timeout,
        why: if timeout {
            format!("timed out asking for the keys of {}", r.path)
        } else {
            format!("unreachable asking for the keys of {}: {cause}", r.path)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> ReadRequest {
        let p = KeyProvider::parse("http://k.example/speke/v2.0", None).unwrap();
        read(Arc::new(p), "a/b.ism", "<cpix:CPIX/>".into())
    }

    #[test]
    fn a_2xx_answer_is_the_document() {
        let r = answer(&req(), 200, &b"<CPIX/>"[..]).unwrap();
        assert_eq!(&r.data[..], b"<CPIX/>");
    }

    #[test]
    fn statuses_and_size_are_502_or_504_with_reason() {
        let e = answer(&req(), 403, &b""[..]).unwrap_err();
        assert_eq!(e.status(), 502);
        assert!(e.to_string().contains("HTTP 403"), "{e}");
        assert!(e.to_string().contains("a/b.ism"), "{e}");
        let e = answer(&req(), 503, &b""[..]).unwrap_err();
        assert_eq!(e.status(), 502);
        assert!(e.to_string().contains("HTTP 503"), "{e}");
        let big = vec![b' '; MAX_CPIX_BYTES + 10];
        let e = answer(&req(), 200, &big[..]).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        assert_eq!(unreachable(&req(), true, "x").status(), 504);
        assert_eq!(unreachable(&req(), false, "refused").status(), 502);
    }
}
