//! Why a request was rejected, and the HTTP status that says so.

use std::fmt;

/// Why a request was rejected. `Display` is a short reason meant for the
/// body of an HTTP 400 (404 for [`UrlError::NotFound`]); any echoed input is
/// clipped and escaped, but the body should still be sent as `text/plain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// No route matches this path.
    NotFound,
    /// The path is malformed or unsafe (the reason is fixed text).
    Path(&'static str),
    /// The resource part is malformed (the reason is fixed text).
    Syntax(&'static str),
    /// A sub-resource this grammar does not know.
    UnknownResource(String),
    UnknownFormat(String),
    UnknownOption(String),
    /// A known option with a value outside its grammar.
    InvalidOption {
        option: &'static str,
        value: String,
    },
    DuplicateOption(&'static str),
    /// The path and the query string give different values.
    ConflictingOption(&'static str),
    /// An option that is valid only on another kind of resource.
    MisplacedOption(&'static str),
    /// A track, filter or player asset name outside `[A-Za-z0-9_.-]{1,64}`.
    InvalidName {
        what: &'static str,
        value: String,
    },
    NotANumber(&'static str),
    OutOfRange(&'static str),
    /// A media playlist was asked for in a non-HLS format.
    NotHls,
    /// A key URL that does not say which `encryption=` it is for.
    KeyWithoutEncryption,
    /// A urlset member without a media extension
    /// ([`super::MEDIA_EXTENSIONS`]); the name is not echoed.
    NotMedia,
}

impl UrlError {
    /// The HTTP status this rejection maps to.
    pub fn http_status(&self) -> u16 {
        match self {
            UrlError::NotFound => 404,
            _ => 400,
        }
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::NotFound => write!(f, "not found"),
            UrlError::Path(reason) | UrlError::Syntax(reason) => write!(f, "{reason}"),
            UrlError::UnknownResource(v) => {
                write!(f, "unknown resource '{}'", v.escape_debug())
            }
            UrlError::UnknownFormat(v) => write!(f, "unknown format '{}'", v.escape_debug()),
            UrlError::UnknownOption(v) => write!(f, "unknown option '{}'", v.escape_debug()),
            UrlError::InvalidOption { option, value } => {
                write!(f, "invalid {option} '{}'", value.escape_debug())
            }
            UrlError::DuplicateOption(o) => write!(f, "option '{o}' given twice"),
            UrlError::ConflictingOption(o) => {
                write!(f, "option '{o}' differs between path and query")
            }
            UrlError::MisplacedOption(o) => {
                write!(f, "option '{o}' is only valid for media playlists")
            }
            UrlError::InvalidName { what, value } => {
                write!(f, "invalid {what} '{}'", value.escape_debug())
            }
            UrlError::NotANumber(what) => write!(f, "{what} is not a number"),
            UrlError::OutOfRange(what) => write!(f, "{what} is out of range"),
            UrlError::NotHls => write!(f, "media playlists need an HLS format"),
            UrlError::KeyWithoutEncryption => write!(f, "key URLs need encryption="),
            UrlError::NotMedia => write!(f, "urlset members must be media files"),
        }
    }
}

impl std::error::Error for UrlError {}

/// Keep echoed input short: error bodies should not mirror megabytes back.
pub(super) fn clip(s: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}
