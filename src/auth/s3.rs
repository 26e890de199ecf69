//! AWS Signature Version 4 for S3 `GET`s, as in "Authenticating Requests:
//! Using the Authorization Header (AWS Signature Version 4)"
//! (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
//! The same signature opens Cloudflare R2, Google Cloud Storage (HMAC
//! keys, XML API) and MinIO.
//!
//! ```text
//! CanonicalRequest = GET \n CanonicalURI \n CanonicalQuery \n
//!                    CanonicalHeaders \n SignedHeaders \n HashedPayload
//! StringToSign     = AWS4-HMAC-SHA256 \n {x-amz-date} \n {day}/{region}/s3/aws4_request \n
//!                    hex(SHA256(CanonicalRequest))
//! SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), "s3"), "aws4_request")
//! ```
//!
//! We sign `host` and the `x-amz-*` headers we send. `Range` and
//! `If-Match` may go unsigned (only `host`, `content-type` when present,
//! and `x-amz-*` must be), which keeps a signature independent of the byte
//! range asked for.

use super::date::Utc;
use super::{hex, hmac_sha256, query_pairs, sha256_hex};
use crate::source::request::OutgoingRead;

/// `x-amz-content-sha256` of a request whose (empty) body is not hashed.
pub(super) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// What signs a request; borrowed from [`super::OriginAuth::S3`].
pub(super) struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub session_token: Option<&'a str>,
}

/// Adds `x-amz-date`, `x-amz-content-sha256` (unsigned payload), the
/// session token if any, and `Authorization` to a `GET` sent to `host`.
pub(super) fn sign(req: &mut OutgoingRead, host: &str, now_unix: u64, c: &Credentials) {
    sign_with(req, host, now_unix, c, UNSIGNED_PAYLOAD, |_| false);
}

/// [`sign`] with a chosen payload hash, also signing the headers `extra`
/// accepts: what the AWS examples need (they sign `range` and hash the
/// empty body).
fn sign_with(
    req: &mut OutgoingRead,
    host: &str,
    now_unix: u64,
    c: &Credentials,
    payload_hash: &str,
    extra: impl Fn(&str) -> bool,
) {
    let t = Utc::from_unix(now_unix);
    let (amz_date, day) = (t.amz_date(), t.amz_day());
    req.set_header("x-amz-date", amz_date.as_str());
    req.set_header("x-amz-content-sha256", payload_hash);
    if let Some(token) = c.session_token {
        req.set_header("x-amz-security-token", token);
    }
    let (canonical_headers, signed_headers) = canonical_headers(req, host, extra);
    let creq = canonical_request(req, &canonical_headers, &signed_headers, payload_hash);
    let scope = format!("{day}/{}/s3/aws4_request", c.region);
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(creq.as_bytes())
    );
    let key = signing_key(c.secret, &day, c.region, "s3");
    let signature = hex(&hmac_sha256(&key, sts.as_bytes()));
    req.set_header(
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            c.access_key_id
        ),
    );
}

/// The canonical request. Its URI is the path exactly as sent: S3 does not
/// normalise or double-encode it, and [`crate::settings::encode_path`]
/// (which made it) already is SigV4's `UriEncode` with `/` kept; object
/// paths never hold `.`/`..` segments ([`crate::url`] refuses them), so no
/// client library rewrites it on the way either.
fn canonical_request(
    req: &OutgoingRead,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!(
        "GET\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        req.path,
        canonical_query(&req.query)
    )
}

/// Query parameters decoded, re-encoded with [`uri_encode`], sorted by
/// name (then value), as `name=value` joined by `&`; a bare name gets `=`.
fn canonical_query(query: &str) -> String {
    let mut params: Vec<(String, String)> = query_pairs(query)
        .into_iter()
        .map(|(n, v)| (uri_encode(&n, false), uri_encode(&v, false)))
        .collect();
    params.sort();
    params
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// (`name:value\n` for `host`, each `x-amz-*` header and each header
/// `extra` accepts, sorted; their names joined by `;`). Values are trimmed
/// with inner runs of spaces folded to one.
fn canonical_headers(
    req: &OutgoingRead,
    host: &str,
    extra: impl Fn(&str) -> bool,
) -> (String, String) {
    let mut signed: Vec<(String, String)> = vec![("host".into(), fold_spaces(host))];
    signed.extend(
        req.headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v))
            .filter(|(n, _)| n.starts_with("x-amz-") || extra(n))
            .map(|(n, v)| (n, fold_spaces(v))),
    );
    signed.sort();
    let lines = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let names = signed
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (lines, names)
}

fn fold_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// SigV4 `UriEncode`: every byte but the unreserved `A-Z a-z 0-9 - . _ ~`
/// as `%XX` (upper-case hex), `/` kept only in paths.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The signing key of a day, region and service.
fn signing_key(secret: &str, day: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), day.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::encode_path;

    /// The credentials and instant of the S3 SigV4 examples
    /// (sig-v4-header-based-auth.html, "Examples").
    const EXAMPLE: Credentials = Credentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE",
        secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        session_token: None,
    };
    const MAY_24_2013: u64 = 1_369_353_600;
    /// SHA-256 of the empty string: the examples hash their empty bodies.
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const HOST: &str = "examplebucket.s3.amazonaws.com";

    fn get(path: &str, query: &str) -> OutgoingRead {
        OutgoingRead {
            path: path.into(),
            query: query.into(),
            headers: Vec::new(),
        }
    }

    fn signature(r: &OutgoingRead) -> &str {
        let auth = r.header("authorization").unwrap_or_default();
        auth.rsplit("Signature=").next().unwrap_or_default()
    }

    /// "Example: GET Object": the first 10 bytes of test.txt, signing
    /// `range` too.
    #[test]
    fn the_aws_get_object_example() {
        let mut r = get("/test.txt", "");
        r.set_header("range", "bytes=0-9");
        sign_with(&mut r, HOST, MAY_24_2013, &EXAMPLE, EMPTY_SHA256, |n| {
            n == "range"
        });
        let (lines, names) = canonical_headers(&r, HOST, |n| n == "range");
        assert_eq!(names, "host;range;x-amz-content-sha256;x-amz-date");
        let creq = canonical_request(&r, &lines, &names, EMPTY_SHA256);
        assert_eq!(
            sha256_hex(creq.as_bytes()),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert_eq!(
            r.header("authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
                 SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
                 Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            )
        );
        assert_eq!(r.header("x-amz-date"), Some("20130524T000000Z"));
    }

    /// "Example: GET Bucket Lifecycle" (`?lifecycle`) and "Example: Get
    /// Bucket (List Objects)" (`?max-keys=2&prefix=J`): the signed headers
    /// production uses (`host;x-amz-content-sha256;x-amz-date`), and the
    /// canonical query.
    #[test]
    fn the_aws_bucket_examples() {
        for (query, want) in [
            (
                "lifecycle",
                "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
            ),
            (
                "max-keys=2&prefix=J",
                "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
            ),
        ] {
            let mut r = get("/", query);
            sign_with(&mut r, HOST, MAY_24_2013, &EXAMPLE, EMPTY_SHA256, |_| false);
            assert_eq!(signature(&r), want, "{query}");
            assert!(r
                .header("authorization")
                .unwrap_or_default()
                .contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"));
        }
    }

    /// "Examples of how to derive a signing key for Signature Version 4"
    /// (AWS General Reference): IAM, 2012-02-15, us-east-1.
    #[test]
    fn the_aws_signing_key_example() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn production_signs_host_and_amz_headers_only() {
        let creds = Credentials {
            session_token: Some("TOKEN"),
            ..EXAMPLE
        };
        let mut r = get("/media/a%20b.mp4", "");
        r.set_header("range", "bytes=0-9");
        r.set_header("if-match", "\"v1\"");
        sign(&mut r, "127.0.0.1:9000", MAY_24_2013, &creds);
        assert_eq!(r.header("x-amz-content-sha256"), Some(UNSIGNED_PAYLOAD));
        assert_eq!(r.header("x-amz-security-token"), Some("TOKEN"));
        let auth = r.header("authorization").unwrap_or_default().to_string();
        assert!(
            auth.contains(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"
            ),
            "{auth}"
        );
        // Another range is the same signature: Range is not signed.
        let mut other = get("/media/a%20b.mp4", "");
        other.set_header("range", "bytes=10-19");
        sign(&mut other, "127.0.0.1:9000", MAY_24_2013, &creds);
        assert_eq!(other.header("authorization"), Some(auth.as_str()));
        // The host (with its port) is signed.
        let mut moved = get("/media/a%20b.mp4", "");
        sign(&mut moved, "127.0.0.1:9001", MAY_24_2013, &creds);
        assert_ne!(moved.header("authorization"), Some(auth.as_str()));
    }

    #[test]
    fn the_canonical_query_is_decoded_encoded_and_sorted() {
        assert_eq!(canonical_query(""), "");
        assert_eq!(
            canonical_query("b=2&a=x%2fy&a=1&c&sp=r%20w&t=a+b"),
            "a=1&a=x%2Fy&b=2&c=&sp=r%20w&t=a%2Bb"
        );
    }

    /// The path we send is SigV4's canonical URI for every byte, so the
    /// URI signed is the URI sent.
    #[test]
    fn encode_path_is_the_canonical_uri_encoding() {
        let all: String = (1u8..=127)
            .map(char::from)
            .chain(['é', '€', '😀'])
            .collect();
        assert_eq!(encode_path(&all), uri_encode(&all, true));
        assert_eq!(uri_encode("a/b c", false), "a%2Fb%20c");
    }
}
