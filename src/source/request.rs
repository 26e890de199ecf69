//! The origin requests themselves, built once for every adapter: the path
//! (prefix joined and percent-encoded), the query, and the headers of a
//! read (`Range`, `If-Match`) or of a whole-object `GET`, signed by
//! [`OriginAuth::sign`]. An adapter turns an [`OutgoingRead`] into its
//! platform's request as it is: it adds nothing that a signature covers.

use super::ReadRequest;
use crate::auth::OriginAuth;
use crate::settings::encode_path;
use std::fmt;

/// One `GET` as it goes on the wire: what is signed is exactly what is
/// sent. `Host` is not among the headers (the adapter's URL sets it, and
/// wasi:http forbids setting it); signers are told it separately.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingRead {
    /// Percent-encoded, starting with `/`.
    pub path: String,
    /// The query without `?`; may be empty.
    pub query: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
}

/// Never prints the query or header values: after signing they hold a SAS,
/// a signature or a configured secret header.
impl fmt::Debug for OutgoingRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OutgoingRead")
            .field("path", &self.path)
            .field("query", &format_args!("<{} bytes>", self.query.len()))
            .field("headers", &names)
            .finish()
    }
}

impl OutgoingRead {
    /// An unsigned `GET` of the whole of `object` under `prefix` (see
    /// [`crate::settings::Settings::object_path`]).
    pub fn whole(prefix: &str, object: &str) -> OutgoingRead {
        OutgoingRead {
            path: format!("/{}", encode_path(&format!("{prefix}{object}"))),
            query: String::new(),
            headers: Vec::new(),
        }
    }

    /// An unsigned range read: `Range` for `r.start..r.end` (RFC 9110
    /// §14.1.2, last byte inclusive) and `If-Match` when the ETag to hold
    /// is strong ([`ReadRequest::if_match_header`]).
    pub fn range(prefix: &str, r: &ReadRequest) -> OutgoingRead {
        let mut out = OutgoingRead::whole(prefix, &r.path);
        out.set_header(
            "range",
            format!("bytes={}-{}", r.start, r.end.saturating_sub(1)),
        );
        if let Some(tag) = r.if_match_header() {
            out.set_header("if-match", tag);
        }
        out
    }

    /// `path?query`, or the path alone when the query is empty: the
    /// request target (RFC 9110 §7.1, origin-form).
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// The value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets header `name` (stored lower-case), replacing any value it had.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name.to_ascii_lowercase(), value)),
        }
    }

    /// Appends `params` (already encoded) to the query.
    pub fn append_query(&mut self, params: &str) {
        if params.is_empty() {
            return;
        }
        if !self.query.is_empty() {
            self.query.push('&');
        }
        self.query.push_str(params);
    }
}

/// How every request to one origin is made: the object prefix, the host
/// the origin sees (part of an S3 signature), and the credentials. An
/// adapter builds one per client request and asks it for each read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginRequests {
    /// The `Host` the origin receives (S3 signs it).
    pub host: String,
    /// `origin_prefix`: joined in front of every object path.
    pub prefix: String,
    pub auth: OriginAuth,
}

impl OriginRequests {
    /// The signed range read `r`, at `now_unix` (seconds).
    pub fn read(&self, r: &ReadRequest, now_unix: u64) -> OutgoingRead {
        let mut out = OutgoingRead::range(&self.prefix, r);
        self.auth.sign(&mut out, &self.host, now_unix);
        out
    }

    /// The signed `GET` of the whole of `object` (the player's files).
    pub fn whole(&self, object: &str, now_unix: u64) -> OutgoingRead {
        let mut out = OutgoingRead::whole(&self.prefix, object);
        self.auth.sign(&mut out, &self.host, now_unix);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(if_match: Option<&str>) -> ReadRequest {
        ReadRequest {
            path: "a b/ü.mp4".into(),
            start: 100,
            end: 200,
            if_match: if_match.map(str::to_string),
            target: crate::source::ReadTarget::Origin,
        }
    }

    #[test]
    fn a_read_is_encoded_ranged_and_conditional_on_a_strong_etag() {
        let r = OutgoingRead::range("media/", &read(Some("\"v1\"")));
        assert_eq!(r.path, "/media/a%20b/%C3%BC.mp4");
        assert_eq!(r.path_and_query(), "/media/a%20b/%C3%BC.mp4");
        assert_eq!(r.header("Range"), Some("bytes=100-199"));
        assert_eq!(r.header("if-match"), Some("\"v1\""));
        let weak = OutgoingRead::range("", &read(Some("W/\"v1\"")));
        assert_eq!(weak.header("if-match"), None);
        assert_eq!(weak.path, "/a%20b/%C3%BC.mp4");
    }

    #[test]
    fn without_auth_nothing_is_added() {
        let o = OriginRequests {
            host: "origin".into(),
            prefix: String::new(),
            auth: OriginAuth::None,
        };
        assert_eq!(o.read(&read(None), 0), OutgoingRead::range("", &read(None)));
        let w = o.whole("_player/index.html", 0);
        assert_eq!(w.path_and_query(), "/_player/index.html");
        assert!(w.headers.is_empty());
    }

    #[test]
    fn queries_and_headers_are_merged() {
        let mut r = OutgoingRead::whole("", "x");
        r.append_query("");
        assert_eq!(r.path_and_query(), "/x");
        r.append_query("a=1");
        r.append_query("b=2");
        assert_eq!(r.path_and_query(), "/x?a=1&b=2");
        r.set_header("X-Ms-Date", "1");
        r.set_header("x-ms-date", "2");
        assert_eq!(r.headers, vec![("x-ms-date".to_string(), "2".to_string())]);
    }

    #[test]
    fn debug_hides_the_query_and_header_values() {
        let mut r = OutgoingRead::whole("", "x");
        r.append_query("sig=SECRET");
        r.set_header("authorization", "SECRET");
        let d = format!("{r:?}");
        assert!(!d.contains("SECRET"), "{d}");
        assert!(d.contains("authorization"), "{d}");
    }
}
