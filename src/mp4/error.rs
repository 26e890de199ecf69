//! The MP4 layer's error: what went wrong, where (box path, file offset).

use std::fmt;

/// Kinds follow mp4parse-rust: the file is wrong, the file is fine but we do
/// not handle it, or we were not given enough bytes; plus "this is not an
/// ISO BMFF file at all" (an HTML error page, a text file), which is told
/// apart so its reason never quotes the object's bytes as a box type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mp4ErrorKind {
    Invalid,
    Unsupported,
    Truncated,
    NotMp4,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mp4Error {
    pub kind: Mp4ErrorKind,
    /// Box path such as `moov/trak[1]/mdia/minf/stbl/stsz`.
    pub path: String,
    /// Absolute file offset of the box (or field) at fault.
    pub offset: u64,
    pub reason: String,
}

impl Mp4Error {
    pub fn invalid(path: impl Into<String>, offset: u64, reason: impl Into<String>) -> Self {
        Self::new(Mp4ErrorKind::Invalid, path, offset, reason)
    }
    pub fn unsupported(path: impl Into<String>, offset: u64, reason: impl Into<String>) -> Self {
        Self::new(Mp4ErrorKind::Unsupported, path, offset, reason)
    }
    pub fn truncated(path: impl Into<String>, offset: u64, reason: impl Into<String>) -> Self {
        Self::new(Mp4ErrorKind::Truncated, path, offset, reason)
    }
    /// The object does not start like an ISO BMFF file. No path, offset or
    /// detail: anything more would echo the object's content or size.
    pub fn not_mp4() -> Self {
        Self::new(Mp4ErrorKind::NotMp4, "", 0, "not an MP4 (ISO BMFF) file")
    }
    fn new(
        kind: Mp4ErrorKind,
        path: impl Into<String>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Mp4Error {
            kind,
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Mp4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Mp4ErrorKind::Invalid => "invalid MP4",
            Mp4ErrorKind::Unsupported => "unsupported MP4",
            Mp4ErrorKind::Truncated => "truncated MP4",
            Mp4ErrorKind::NotMp4 => return f.write_str(&self.reason),
        };
        write!(
            f,
            "{kind}: {} (at {} offset {})",
            self.reason, self.path, self.offset
        )
    }
}

impl std::error::Error for Mp4Error {}

pub type Result<T> = std::result::Result<T, Mp4Error>;
