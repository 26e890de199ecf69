//! Azure Blob Storage Shared Key authorization, as in "Authorize with
//! Shared Key" (learn.microsoft.com/rest/api/storageservices/
//! authorize-with-shared-key), the Blob service form for version
//! 2009-09-19 and later:
//!
//! ```text
//! Authorization: SharedKey {account}:{base64(HMAC-SHA256(key, StringToSign))}
//! StringToSign = VERB \n
//!     Content-Encoding \n Content-Language \n Content-Length \n Content-MD5 \n
//!     Content-Type \n Date \n If-Modified-Since \n If-Match \n If-None-Match \n
//!     If-Unmodified-Since \n Range \n
//!     CanonicalizedHeaders   (x-ms-* as "name:value\n", sorted)
//!     CanonicalizedResource  (/{account}{encoded path}, then "\nname:values" per query parameter)
//! ```
//!
//! The date is sent as `x-ms-date`, so the `Date` line is empty. With the
//! emulator's path-style URLs (`/devstoreaccount1/container/blob`) the
//! resource is `/devstoreaccount1/devstoreaccount1/container/blob`: the
//! general rule, and what the Azure SDKs send.

use super::date::Utc;
use super::{hmac_sha256, query_pairs};
use crate::source::request::OutgoingRead;
use base64::Engine;

/// The service version we ask for (`x-ms-version`): one that Azure and
/// Azurite both accept and that reads `Range` as sent.
pub(super) const VERSION: &str = "2021-08-06";

/// The standard headers of the string to sign, in order.
const STANDARD_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// Adds `x-ms-date`, `x-ms-version` and `Authorization` to a `GET`.
pub(super) fn sign_shared_key(req: &mut OutgoingRead, account: &str, key: &[u8], now_unix: u64) {
    req.set_header("x-ms-date", Utc::from_unix(now_unix).imf_fixdate());
    req.set_header("x-ms-version", VERSION);
    let sts = string_to_sign(req, account);
    let sig = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(key, sts.as_bytes()));
    req.set_header("authorization", format!("SharedKey {account}:{sig}"));
}

/// The string to sign of a `GET` (see the module doc).
pub(super) fn string_to_sign(req: &OutgoingRead, account: &str) -> String {
    let mut s = String::from("GET\n");
    for name in STANDARD_HEADERS {
        let v = req.header(name).unwrap_or("");
        // Since version 2015-02-21 a zero Content-Length is signed empty.
        let v = if name == "content-length" && v == "0" {
            ""
        } else {
            v
        };
        s.push_str(v);
        s.push('\n');
    }
    s.push_str(&canonicalized_headers(req));
    s.push_str(&canonicalized_resource(req, account));
    s
}

/// Every `x-ms-*` header as `name:value\n`, names lower-case and sorted,
/// runs of whitespace in a value folded to one space and the ends trimmed.
fn canonicalized_headers(req: &OutgoingRead) -> String {
    let mut ms: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-ms-"))
        .map(|(n, v)| (n.to_ascii_lowercase(), fold_whitespace(v)))
        .collect();
    ms.sort();
    ms.iter().map(|(n, v)| format!("{n}:{v}\n")).collect()
}

/// `/{account}{path}` and, per query parameter (names lower-cased and
/// sorted, values decoded, several values of one name sorted and joined
/// with `,`), `\n{name}:{values}`.
fn canonicalized_resource(req: &OutgoingRead, account: &str) -> String {
    let mut out = format!("/{account}{}", req.path);
    let mut params: Vec<(String, String)> = query_pairs(&req.query)
        .into_iter()
        .map(|(n, v)| (n.to_lowercase(), v))
        .collect();
    params.sort();
    let mut i = 0;
    while let Some((name, _)) = params.get(i) {
        let same: Vec<&str> = params[i..]
            .iter()
            .take_while(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        out.push_str(&format!("\n{name}:{}", same.join(",")));
        i += same.len();
    }
    out
}

fn fold_whitespace(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Azurite's well-known development account key (public, in the
    /// Azurite README).
    const DEV_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn dev_key() -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(DEV_KEY)
            .unwrap()
    }

    fn emulator_read() -> OutgoingRead {
        let mut r = OutgoingRead {
            path: "/devstoreaccount1/media/abr/a%20b.mp4".into(),
            query: String::new(),
            headers: Vec::new(),
        };
        r.set_header("range", "bytes=0-65535");
        r.set_header("if-match", "\"0x8DC1234\"");
        r
    }

    #[test]
    fn the_string_to_sign_has_every_line_in_order() {
        let mut r = emulator_read();
        r.set_header("x-ms-version", VERSION);
        r.set_header("X-MS-Date", "Fri, 24 May 2013 00:00:00 GMT");
        let sts = string_to_sign(&r, "devstoreaccount1");
        assert_eq!(
            sts,
            "GET\n\n\n\n\n\n\n\n\"0x8DC1234\"\n\n\nbytes=0-65535\n\
             x-ms-date:Fri, 24 May 2013 00:00:00 GMT\nx-ms-version:2021-08-06\n\
             /devstoreaccount1/devstoreaccount1/media/abr/a%20b.mp4"
        );
    }

    /// The expected signature was computed outside this code, with
    /// Python's standard library:
    ///
    /// ```text
    /// python3 -c 'import hmac,hashlib,base64; k=base64.b64decode("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="); s="GET\n\n\n\n\n\n\n\n\"0x8DC1234\"\n\n\nbytes=0-65535\nx-ms-date:Fri, 24 May 2013 00:00:00 GMT\nx-ms-version:2021-08-06\n/devstoreaccount1/devstoreaccount1/media/abr/a%20b.mp4"; print(base64.b64encode(hmac.new(k,s.encode(),hashlib.sha256).digest()).decode())'
    /// ```
    #[test]
    fn a_shared_key_signature_matches_an_independent_computation() {
        let mut r = emulator_read();
        sign_shared_key(&mut r, "devstoreaccount1", &dev_key(), 1_369_353_600);
        assert_eq!(r.header("x-ms-date"), Some("Fri, 24 May 2013 00:00:00 GMT"));
        assert_eq!(r.header("x-ms-version"), Some("2021-08-06"));
        assert_eq!(
            r.header("authorization"),
            Some("SharedKey devstoreaccount1:YxLOmV/rNppjwa2qrlhu31tvb0iCC/UVAYTLkglA8kA=")
        );
        // The range and the condition are sent as signed.
        assert_eq!(r.header("range"), Some("bytes=0-65535"));
    }

    /// Query parameters join the resource: names lower-cased and sorted,
    /// values decoded, repeated names' values sorted and comma-joined.
    /// Expected signature from Python as above, over
    /// `GET` + 11 empty lines + `x-ms-date:Thu, 01 Jan 1970 00:00:00 GMT\n`
    /// `x-ms-version:2021-08-06\n` + the resource in the assertion.
    #[test]
    fn query_parameters_are_canonicalized() {
        let mut r = OutgoingRead {
            path: "/acct/c/b.mp4".into(),
            query: "timeout=30&Comp=metadata&b=2&B=1&x=a%20b".into(),
            headers: vec![("x-ms-date".into(), "d".into())],
        };
        assert_eq!(
            canonicalized_resource(&r, "acct"),
            "/acct/acct/c/b.mp4\nb:1,2\ncomp:metadata\ntimeout:30\nx:a b"
        );
        r.headers.clear();
        sign_shared_key(&mut r, "acct", &dev_key(), 0);
        assert_eq!(
            r.header("authorization"),
            Some("SharedKey acct:ukRcBBV6ZT6WVpGSFndgOF8UohEYFTirVavIKMMdtww=")
        );
    }

    #[test]
    fn x_ms_values_are_folded_and_a_zero_length_is_empty() {
        let mut r = OutgoingRead {
            path: "/a/b".into(),
            query: String::new(),
            headers: vec![
                ("x-ms-meta-b".into(), "  two   words ".into()),
                ("X-Ms-Meta-A".into(), "1".into()),
                ("content-length".into(), "0".into()),
                ("not-ms".into(), "ignored".into()),
            ],
        };
        r.set_header("x-ms-version", VERSION);
        assert_eq!(
            string_to_sign(&r, "a"),
            "GET\n\n\n\n\n\n\n\n\n\n\n\n\
             x-ms-meta-a:1\nx-ms-meta-b:two words\nx-ms-version:2021-08-06\n/a/a/b"
        );
    }
}
