//! Origin authentication, so private buckets work: the credentials read
//! from the deployment's settings and secrets ([`OriginAuth::from_lookup`])
//! and the signing of each origin request ([`OriginAuth::sign`]). Pure
//! functions: the adapter supplies the secrets and the current time and
//! sends what [`crate::source::request`] built and this module signed.
//!
//! | key | kind | meaning |
//! |---|---|---|
//! | `origin_auth` | config | `none` (default), `azure-shared-key`, `azure-sas`, `s3`, `header` |
//! | `azure_account` | config | storage account name (`azure-shared-key`) |
//! | `azure_key` | secret | base64 account key (`azure-shared-key`) |
//! | `azure_sas` | secret | SAS query string, with or without `?` (`azure-sas`) |
//! | `s3_access_key_id` | config | access key id (`s3`) |
//! | `s3_secret_access_key` | secret | secret access key (`s3`) |
//! | `s3_region` | config | signing region, default `us-east-1` (`s3`) |
//! | `s3_session_token` | secret | optional, sent as `x-amz-security-token` (`s3`) |
//! | `origin_header_name` | config | default `authorization` (`header`) |
//! | `origin_header_value` | secret | the header's value (`header`) |
//!
//! A secret is only ever read through the secret lookup, never echoed in an
//! error, and hidden by every `Debug` here.

mod azure;
mod date;
mod s3;

use crate::source::request::OutgoingRead;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;

/// How origin requests prove who we are.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum OriginAuth {
    /// A public origin (or one that trusts the network path).
    #[default]
    None,
    /// Azure Blob Storage, Shared Key authorization (`azure.rs`).
    AzureSharedKey {
        account: String,
        /// The account key, base64-decoded.
        key: Vec<u8>,
    },
    /// An Azure shared access signature appended to every read's query.
    AzureSas {
        /// Without a leading `?`.
        query: String,
    },
    /// AWS Signature Version 4 for S3 and its compatibles (`s3.rs`).
    S3 {
        access_key_id: String,
        secret: String,
        region: String,
        session_token: Option<String>,
    },
    /// A fixed header (a bearer token, a CDN-to-origin shared secret).
    Header { name: String, value: String },
}

/// Shows which scheme and its non-secret settings; never a key, a SAS, a
/// token or a header value, so settings can be logged.
impl fmt::Debug for OriginAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HIDDEN: &str = "<redacted>";
        match self {
            OriginAuth::None => f.write_str("None"),
            OriginAuth::AzureSharedKey { account, .. } => f
                .debug_struct("AzureSharedKey")
                .field("account", account)
                .field("key", &format_args!("{HIDDEN}"))
                .finish(),
            OriginAuth::AzureSas { .. } => f
                .debug_struct("AzureSas")
                .field("query", &format_args!("{HIDDEN}"))
                .finish(),
            OriginAuth::S3 {
                access_key_id,
                region,
                session_token,
                ..
            } => f
                .debug_struct("S3")
                .field("access_key_id", access_key_id)
                .field("secret", &format_args!("{HIDDEN}"))
                .field("region", region)
                .field(
                    "session_token",
                    &format_args!("{}", session_token.as_ref().map_or("None", |_| HIDDEN)),
                )
                .finish(),
            OriginAuth::Header { name, .. } => f
                .debug_struct("Header")
                .field("name", name)
                .field("value", &format_args!("{HIDDEN}"))
                .finish(),
        }
    }
}

/// A missing or invalid origin auth setting: which key, and what is wrong
/// with it (never its value). Every request that would reach the origin is
/// answered 500 with this as the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfigError {
    pub key: &'static str,
    pub problem: &'static str,
}

impl fmt::Display for AuthConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "origin auth misconfigured: {} ({})",
            self.key, self.problem
        )
    }
}

impl std::error::Error for AuthConfigError {}

fn bad(key: &'static str, problem: &'static str) -> AuthConfigError {
    AuthConfigError { key, problem }
}

impl OriginAuth {
    /// The credentials named by the settings: `get` reads configuration,
    /// `secret` reads secrets (the key table is in the module doc). A
    /// value is trimmed; an empty one counts as absent.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        secret: impl Fn(&str) -> Option<String>,
    ) -> Result<OriginAuth, AuthConfigError> {
        let l = Lookup {
            get: &get,
            secret: &secret,
        };
        let scheme = l.config("origin_auth").map(|s| s.to_ascii_lowercase());
        match scheme.as_deref().unwrap_or("none") {
            "none" => Ok(OriginAuth::None),
            "azure-shared-key" => azure_shared_key(&l),
            "azure-sas" => azure_sas(&l),
            "s3" => s3(&l),
            "header" => header(&l),
            _ => Err(bad("origin_auth", "unknown scheme")),
        }
    }

    /// Signs `req`, to be sent to `host` (the `Host` the origin receives)
    /// at `now_unix` (seconds): adds the headers or query parameters the
    /// scheme needs. Sign last: a change to the request afterwards can
    /// invalidate the signature.
    pub fn sign(&self, req: &mut OutgoingRead, host: &str, now_unix: u64) {
        match self {
            OriginAuth::None => {}
            OriginAuth::AzureSharedKey { account, key } => {
                azure::sign_shared_key(req, account, key, now_unix)
            }
            OriginAuth::AzureSas { query } => req.append_query(query),
            OriginAuth::S3 {
                access_key_id,
                secret,
                region,
                session_token,
            } => {
                let creds = s3::Credentials {
                    access_key_id,
                    secret,
                    region,
                    session_token: session_token.as_deref(),
                };
                s3::sign(req, host, now_unix, &creds)
            }
            OriginAuth::Header { name, value } => req.set_header(name, value.as_str()),
        }
    }
}

/// The adapter's two lookups: configuration and secrets, kept apart so a
/// secret is never taken from configuration (which platforms show and
/// log).
struct Lookup<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    secret: &'a dyn Fn(&str) -> Option<String>,
}

impl Lookup<'_> {
    fn config(&self, key: &str) -> Option<String> {
        nonempty((self.get)(key))
    }

    fn need_config(&self, key: &'static str) -> Result<String, AuthConfigError> {
        self.config(key).ok_or(bad(key, "missing"))
    }

    fn secret(&self, key: &str) -> Option<String> {
        nonempty((self.secret)(key))
    }

    fn need_secret(&self, key: &'static str) -> Result<String, AuthConfigError> {
        self.secret(key).ok_or(bad(key, "missing"))
    }
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn azure_shared_key(l: &Lookup) -> Result<OriginAuth, AuthConfigError> {
    let account = l.need_config("azure_account")?;
    // Storage account names are lower-case letters and digits; anything
    // else would also change the meaning of the signed resource path.
    if !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad("azure_account", "not a storage account name"));
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(l.need_secret("azure_key")?)
        .map_err(|_| bad("azure_key", "not base64"))?;
    if key.is_empty() {
        return Err(bad("azure_key", "missing"));
    }
    Ok(OriginAuth::AzureSharedKey { account, key })
}

fn azure_sas(l: &Lookup) -> Result<OriginAuth, AuthConfigError> {
    let sas = l.need_secret("azure_sas")?;
    let query = sas.strip_prefix('?').unwrap_or(&sas).to_string();
    if query.is_empty() || !query.bytes().all(is_query_byte) {
        return Err(bad("azure_sas", "not a URL query string"));
    }
    Ok(OriginAuth::AzureSas { query })
}

fn s3(l: &Lookup) -> Result<OriginAuth, AuthConfigError> {
    let access_key_id = l.need_config("s3_access_key_id")?;
    // The id and region are fields of the credential scope
    // `id/date/region/s3/aws4_request` inside a header value.
    if !access_key_id
        .bytes()
        .all(|b| is_field_byte(b) && !matches!(b, b'/' | b','))
    {
        return Err(bad("s3_access_key_id", "not an access key id"));
    }
    let region = l
        .config("s3_region")
        .unwrap_or_else(|| "us-east-1".to_string());
    if !region
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad("s3_region", "not a region name"));
    }
    let secret = l.need_secret("s3_secret_access_key")?;
    let session_token = l.secret("s3_session_token");
    if session_token
        .as_deref()
        .is_some_and(|t| !t.bytes().all(is_field_byte))
    {
        return Err(bad("s3_session_token", "not a header value"));
    }
    Ok(OriginAuth::S3 {
        access_key_id,
        secret,
        region,
        session_token,
    })
}

fn header(l: &Lookup) -> Result<OriginAuth, AuthConfigError> {
    let name = l
        .config("origin_header_name")
        .unwrap_or_else(|| "authorization".to_string())
        .to_ascii_lowercase();
    // RFC 9110 §5.1: a field name is a token. `host` is the URL's to set
    // (and wasi:http refuses it).
    if !name.bytes().all(is_tchar) || name == "host" {
        return Err(bad("origin_header_name", "not a header name"));
    }
    let value = l.need_secret("origin_header_value")?;
    // RFC 9110 §5.5 field-value, without obs-text: visible ASCII, inner
    // spaces and tabs. A CR or LF would split the request.
    if !value
        .bytes()
        .all(|b| is_field_byte(b) || b == b' ' || b == b'\t')
    {
        return Err(bad("origin_header_value", "not a header value"));
    }
    Ok(OriginAuth::Header { name, value })
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A visible ASCII character (RFC 5234 `VCHAR`): safe in a header value
/// on every platform.
fn is_field_byte(b: u8) -> bool {
    b.is_ascii_graphic()
}

/// A byte that may stand in a URL query as given (RFC 3986 §3.4, with
/// `%` for escapes): anything visible but `#`.
fn is_query_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'#'
}

/// HMAC-SHA256 (RFC 2104, FIPS 180-4).
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length (RFC 2104 §2: longer keys are
    // hashed), and hmac 0.12 documents that `new_from_slice` never fails
    // for `Hmac<D>`. Were it to, the zero signature is refused by the
    // origin, which fails closed.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex of SHA-256 (`HexEncode(Hash(…))` in SigV4).
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Percent-decodes a query component (RFC 3986 §2.1). Lenient: a `%` not
/// followed by two hex digits stays as it is, and bytes that do not form
/// UTF-8 are replaced; `+` is a `+` (RFC 3986 gives it no meaning; S3 and
/// Azure want a space sent as `%20`).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|h| (*h as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A query's `name=value` pairs, decoded (a name without `=` has an empty
/// value; empty parts between `&`s are skipped).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(n), percent_decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests;
