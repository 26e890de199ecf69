//! The first decision on a client request, made once for every adapter:
//! which methods are served, who may ask ([`crate::access`]: token,
//! locator, allowed prefixes), what the URL names, and the ready answers
//! for the requests that need no packaging (preflight, health, errors).

use crate::access::Access;
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

/// Decides on `method path?query` at Unix time `now` (seconds, for token
/// expiry); `head` answers carry no body. In order: preflight (no token:
/// browsers send no credentials with one, Fetch "CORS-preflight
/// request"), method, the public fixed routes, then for a stream the
/// token and locator ([`Access::admit`]), the grammar, and the allowed
/// prefixes ([`Access::allows`]).
pub fn entry(
    method: &str,
    path: &str,
    query: Option<&str>,
    policy: &Policy,
    access: &Access,
    now: u64,
) -> Entry {
    let head = method.eq_ignore_ascii_case("HEAD");
    if method.eq_ignore_ascii_case("OPTIONS") {
        return Entry::Answer(http::preflight_head(policy), String::new());
    }
    let post = method.eq_ignore_ascii_case("POST");
    if !head && !post && !method.eq_ignore_ascii_case("GET") {
        return error(policy, 405, "only GET, HEAD, OPTIONS and POST", head);
    }
    if let Some(fixed) = url::fixed_route(path) {
        return match fixed {
            Err(e) => error(policy, e.http_status(), &e.to_string(), head),
            Ok(_) if post => error(policy, 405, "POST is for License(…) only", head),
            Ok(route) => public(route, policy, head),
        };
    }
    let admitted = match access.admit(path, now) {
        Ok(a) => a,
        Err(d) => return error(policy, d.status, &d.reason, head),
    };
    match url::parse(&admitted.path, query) {
        Err(e) => error(policy, e.http_status(), &e.to_string(), head),
        // POST for the licence route and only for it: a licence request
        // has a body; every other resource is read-only.
        Ok(Route::Stream(s)) if post != (s.resource == url::Resource::Licence) => {
            let reason = if post {
                "POST is for License(…) only"
            } else {
                "License(…) takes a POST of an EME licence request"
            };
            error(policy, 405, reason, head)
        }
        Ok(Route::Stream(s)) => match access.allows(&s.asset) {
            Ok(()) => Entry::Stream(s),
            Err(d) => error(policy, d.status, &d.reason, head),
        },
        // A fixed route behind a token or a locator: not one of ours.
        Ok(_) => error(policy, 404, "not found", head),
    }
}

/// The answers of the public routes.
fn public(route: Route, policy: &Policy, head: bool) -> Entry {
    match route {
        Route::Health => {
            let mut h = ResponseHead::new(200, policy);
            h.set("content-type", "text/plain");
            h.set("cache-control", "no-store");
            Entry::Answer(h, if head { String::new() } else { "ok\n".into() })
        }
        Route::PlayerPage => Entry::Proxy("_player/index.html".into()),
        Route::PlayerAsset(file) => Entry::Proxy(format!("_assets/{file}")),
        Route::Stream(_) => error(policy, 404, "not found", head),
    }
}

/// An error answer: status, a one-line reason, never cached.
pub fn error(policy: &Policy, status: u16, reason: &str, head: bool) -> Entry {
    let (h, body) = http::error_head(policy, status, reason);
    Entry::Answer(h, if head { String::new() } else { body })
}

#[cfg(test)]
mod tests;
