//! The first decision on a client request, made once for every adapter:
//! which methods are served, what the URL names, and the ready answers for
//! the requests that need no packaging (preflight, health, errors).

use crate::http::{self, Policy, ResponseHead};
use crate::url::{self, Route, StreamRequest};

/// What to do with a client request.
#[derive(Debug)]
pub enum Entry {
    /// Send this status, headers and body (preflight, health, an error).
    Answer(ResponseHead, String),
    /// Pass this origin object through (the demo player's page and
    /// scripts), with `cache-control: public, max-age=300`.
    Proxy(String),
    /// Package: drive a [`crate::job::Job`] for it.
    Stream(StreamRequest),
}

/// Decides on `method path?query`; `head` answers carry no body.
pub fn entry(method: &str, path: &str, query: Option<&str>, policy: &Policy) -> Entry {
    let head = method.eq_ignore_ascii_case("HEAD");
    if method.eq_ignore_ascii_case("OPTIONS") {
        return Entry::Answer(http::preflight_head(policy), String::new());
    }
    if !head && !method.eq_ignore_ascii_case("GET") {
        return error(policy, 405, "only GET, HEAD and OPTIONS", head);
    }
    match url::parse(path, query) {
        Err(e) => error(policy, e.http_status(), &e.to_string(), head),
        Ok(Route::Health) => {
            let mut h = ResponseHead::new(200, policy);
            h.set("content-type", "text/plain");
            h.set("cache-control", "no-store");
            Entry::Answer(h, if head { String::new() } else { "ok\n".into() })
        }
        Ok(Route::PlayerPage) => Entry::Proxy("_player/index.html".into()),
        Ok(Route::PlayerAsset(file)) => Entry::Proxy(format!("_assets/{file}")),
        Ok(Route::Stream(s)) => Entry::Stream(s),
    }
}

/// An error answer: status, a one-line reason, never cached.
pub fn error(policy: &Policy, status: u16, reason: &str, head: bool) -> Entry {
    let (h, body) = http::error_head(policy, status, reason);
    Entry::Answer(h, if head { String::new() } else { body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(e: Entry) -> (u16, String) {
        match e {
            Entry::Answer(h, b) => (h.status, b),
            other => panic!("not an answer: {other:?}"),
        }
    }

    #[test]
    fn methods_and_routes() {
        let p = Policy::default();
        assert_eq!(answer(entry("OPTIONS", "/x", None, &p)).0, 204);
        assert_eq!(answer(entry("POST", "/health", None, &p)).0, 405);
        assert_eq!(
            answer(entry("GET", "/health", None, &p)),
            (200, "ok\n".into())
        );
        assert_eq!(
            answer(entry("HEAD", "/health", None, &p)),
            (200, String::new())
        );
        assert!(
            matches!(entry("GET", "/player", None, &p), Entry::Proxy(p) if p == "_player/index.html")
        );
        assert!(matches!(
            entry("GET", "/abr/abr.ism/manifest(format=m3u8-cmaf)", None, &p),
            Entry::Stream(_)
        ));
        let (status, body) = answer(entry("GET", "/nothing-here", None, &p));
        assert!(status >= 400 && body.ends_with('\n'), "{status} {body}");
    }
}
