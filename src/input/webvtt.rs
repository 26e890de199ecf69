//! WebVTT sidecars (W3C WebVTT, "WebVTT file format" §4 and the parser of
//! §6.1): a `.vtt` listed by an `.ism` `<textstream>` is read whole, parsed
//! once into a [`CueList`] and cached ([`CueList::to_blob`]); the text
//! outputs (HLS WebVTT segments) are written from the cue list.
//!
//! What is kept of a cue: identifier, start and end (milliseconds, the
//! format's own resolution), settings (verbatim) and payload text
//! (verbatim, tags included). Header lines (a source `X-TIMESTAMP-MAP`
//! included: cue times are taken as media times), `NOTE`, `STYLE` and
//! `REGION` blocks are dropped.
//!
//! The document comes from the origin: its size, the number of cues and
//! every field's length are capped, and a malformed timing line is an error
//! (502 with the line number) rather than the spec's silent drop, so a
//! broken file is noticed instead of playing with cues missing.

use std::fmt;

/// Largest `.vtt` read (the read asks for one byte more, to tell).
pub const MAX_VTT_BYTES: usize = 8 << 20;
/// Most cues in one file: a feature film has ~2 000; a 24 h programme at
/// one cue a second ~86 000.
pub const MAX_CUES: usize = 100_000;
/// Longest cue payload, in bytes (a few lines of text in practice).
pub const MAX_CUE_TEXT: usize = 4096;
/// Longest identifier or settings line kept.
pub const MAX_CUE_LINE: usize = 1024;
/// Latest time accepted, in milliseconds (1 000 hours): keeps every
/// conversion far from overflow.
pub const MAX_TIME_MS: u64 = 1000 * 3600 * 1000;

/// One cue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cue {
    pub id: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub settings: String,
    /// Lines joined with `\n`; never empty lines, never `-->`.
    pub text: String,
}

/// The cues of a file, in file order (WebVTT requires non-decreasing start
/// times; order is kept as written).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CueList {
    pub cues: Vec<Cue>,
}

/// Why a `.vtt` was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VttError {
    TooLarge,
    NotUtf8,
    /// The first line is not `WEBVTT` (optionally followed by text).
    NoSignature,
    /// A malformed cue timing line (1-based line number).
    BadTiming {
        line: usize,
        reason: &'static str,
    },
    TooManyCues,
    /// A cue payload, identifier or settings over its cap.
    TooLong {
        line: usize,
    },
}

impl fmt::Display for VttError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VttError::TooLarge => write!(f, "WebVTT file larger than {MAX_VTT_BYTES} bytes"),
            VttError::NotUtf8 => f.write_str("WebVTT file is not UTF-8"),
            VttError::NoSignature => f.write_str("not a WebVTT file (no WEBVTT line)"),
            VttError::BadTiming { line, reason } => {
                write!(f, "WebVTT line {line}: bad cue timing: {reason}")
            }
            VttError::TooManyCues => write!(f, "WebVTT file has more than {MAX_CUES} cues"),
            VttError::TooLong { line } => write!(f, "WebVTT line {line}: cue longer than allowed"),
        }
    }
}

impl std::error::Error for VttError {}

/// Parses a WebVTT file (§6.1, strict on timings, see the module docs).
pub fn parse(bytes: &[u8]) -> Result<CueList, VttError> {
    if bytes.len() > MAX_VTT_BYTES {
        return Err(VttError::TooLarge);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| VttError::NotUtf8)?;
    let mut lines = Lines::new(text);
    let first = lines.next().map(|(_, l)| l).unwrap_or("");
    let sig_ok = first
        .strip_prefix("WEBVTT")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
    if !sig_ok {
        return Err(VttError::NoSignature);
    }
    // The header runs to the first blank line.
    for (_, l) in lines.by_ref() {
        if l.is_empty() {
            break;
        }
    }
    let mut cues = Vec::new();
    loop {
        // Skip blank lines; collect one block.
        let mut block: Vec<(usize, &str)> = Vec::new();
        for (n, l) in lines.by_ref() {
            if l.is_empty() {
                if block.is_empty() {
                    continue;
                }
                break;
            }
            block.push((n, l));
        }
        if block.is_empty() {
            break;
        }
        if let Some(cue) = block_cue(&block)? {
            if cues.len() >= MAX_CUES {
                return Err(VttError::TooManyCues);
            }
            cues.push(cue);
        }
    }
    Ok(CueList { cues })
}

/// A block as a cue, or `None` for NOTE/STYLE/REGION and blocks without a
/// timing line (ignored, §6.1).
fn block_cue(block: &[(usize, &str)]) -> Result<Option<Cue>, VttError> {
    let (first_no, first) = block[0];
    let keyword = |k: &str| {
        first
            .strip_prefix(k)
            .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
    };
    if keyword("NOTE") || keyword("STYLE") || keyword("REGION") {
        return Ok(None);
    }
    let timing_at = if first.contains("-->") {
        0
    } else if block.get(1).is_some_and(|(_, l)| l.contains("-->")) {
        1
    } else {
        return Ok(None);
    };
    let id = if timing_at == 1 { first } else { "" };
    if id.len() > MAX_CUE_LINE {
        return Err(VttError::TooLong { line: first_no });
    }
    let (line, timing) = block[timing_at];
    let (start_ms, end_ms, settings) = timing_line(timing, line)?;
    let mut text = String::new();
    for &(n, l) in &block[timing_at + 1..] {
        // A line with "-->" ends the payload (§6.1 step "cue text").
        if l.contains("-->") {
            break;
        }
        if text.len() + l.len() + 1 > MAX_CUE_TEXT {
            return Err(VttError::TooLong { line: n });
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(l);
    }
    Ok(Some(Cue {
        id: id.to_string(),
        start_ms,
        end_ms,
        settings: settings.to_string(),
        text,
    }))
}

/// `start --> end [settings]` (§4.4 "WebVTT cue timings").
fn timing_line(l: &str, line: usize) -> Result<(u64, u64, &str), VttError> {
    let bad = |reason| VttError::BadTiming { line, reason };
    let (a, rest) = l.split_once("-->").ok_or(bad("no -->"))?;
    if !a.ends_with([' ', '\t']) || !rest.starts_with([' ', '\t']) {
        return Err(bad("--> needs a space on both sides"));
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    let (b, settings) = match rest.find([' ', '\t']) {
        Some(i) => (&rest[..i], rest[i..].trim_matches([' ', '\t'])),
        None => (rest, ""),
    };
    if settings.len() > MAX_CUE_LINE {
        return Err(VttError::TooLong { line });
    }
    let start = timestamp(a.trim_matches([' ', '\t'])).ok_or(bad("start time"))?;
    let end = timestamp(b).ok_or(bad("end time"))?;
    if end < start {
        return Err(bad("ends before it starts"));
    }
    Ok((start, end, settings))
}

/// `[hh+:]mm:ss.ttt` in milliseconds (§4.5 "WebVTT timestamp").
pub fn timestamp(s: &str) -> Option<u64> {
    let (hms, ms) = s.split_once('.')?;
    let digits = |t: &str, n: Option<usize>| {
        (!t.is_empty() && t.len() <= 10 && n.is_none_or(|n| t.len() == n))
            .then_some(())
            .filter(|_| t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|_| t.parse::<u64>().ok())
    };
    let ms = digits(ms, Some(3))?;
    let parts: Vec<&str> = hms.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [m, s] => (0, digits(m, Some(2))?, digits(s, Some(2))?),
        [h, m, s] if h.len() >= 2 => (digits(h, None)?, digits(m, Some(2))?, digits(s, Some(2))?),
        _ => return None,
    };
    if m > 59 || sec > 59 {
        return None;
    }
    let t = ((h * 60 + m) * 60 + sec) * 1000 + ms;
    (t <= MAX_TIME_MS).then_some(t)
}

/// Writes `ms` as `hh:mm:ss.ttt`.
pub fn write_timestamp(out: &mut String, ms: u64) {
    use std::fmt::Write;
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let _ = write!(
        out,
        "{h:02}:{:02}:{:02}.{:03}",
        rest / 60_000,
        rest % 60_000 / 1000,
        rest % 1000
    );
}

/// Lines of a document split at CRLF, CR or LF (§6.1), numbered from 1.
struct Lines<'a> {
    rest: &'a str,
    n: usize,
    done: bool,
}

impl<'a> Lines<'a> {
    fn new(s: &'a str) -> Self {
        Lines {
            rest: s,
            n: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);
    fn next(&mut self) -> Option<(usize, &'a str)> {
        if self.done {
            return None;
        }
        self.n += 1;
        match self.rest.find(['\r', '\n']) {
            Some(i) => {
                let line = &self.rest[..i];
                let skip = if self.rest[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                self.rest = &self.rest[i + skip..];
                Some((self.n, line))
            }
            None => {
                self.done = true;
                if self.rest.is_empty() {
                    None
                } else {
                    Some((self.n, self.rest))
                }
            }
        }
    }
}

/// Version of [`CueList::to_blob`]'s layout (part of the cache key).
pub const CUE_BLOB_VERSION: u32 = 1;

impl CueList {
    /// The cues overlapping `[from, to)` (milliseconds, `to == None`: to
    /// the end): a cue spanning a boundary belongs to both segments, as
    /// Apple's segmenter writes it.
    pub fn overlapping(&self, from: u64, to: Option<u64>) -> impl Iterator<Item = &Cue> + '_ {
        self.cues.iter().filter(move |c| {
            // A cue of no duration is never shown: it belongs nowhere.
            c.end_ms > c.start_ms && c.end_ms > from && to.is_none_or(|t| c.start_ms < t)
        })
    }

    /// A compact cache record: `version`, then per cue start, end and the
    /// three strings, each length-prefixed (u32 LE).
    pub fn to_blob(&self, version: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.cues.len() * 48);
        put_str(&mut out, version);
        for c in &self.cues {
            out.extend_from_slice(&c.start_ms.to_le_bytes());
            out.extend_from_slice(&c.end_ms.to_le_bytes());
            put_str(&mut out, &c.id);
            put_str(&mut out, &c.settings);
            put_str(&mut out, &c.text);
        }
        out
    }

    /// Reads [`CueList::to_blob`]; `None` when damaged (the caller then
    /// reads the file again).
    pub fn from_blob(b: &[u8]) -> Option<(String, CueList)> {
        let mut r = b;
        let version = get_str(&mut r)?;
        let mut cues = Vec::new();
        while !r.is_empty() {
            if cues.len() >= MAX_CUES {
                return None;
            }
            let start_ms = get_u64(&mut r)?;
            let end_ms = get_u64(&mut r)?;
            cues.push(Cue {
                start_ms,
                end_ms,
                id: get_str(&mut r)?,
                settings: get_str(&mut r)?,
                text: get_str(&mut r)?,
            });
        }
        Some((version, CueList { cues }))
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn get_u64(r: &mut &[u8]) -> Option<u64> {
    let (h, t) = r.split_first_chunk::<8>()?;
    *r = t;
    Some(u64::from_le_bytes(*h))
}

fn get_str(r: &mut &[u8]) -> Option<String> {
    let (h, t) = r.split_first_chunk::<4>()?;
    let n = u32::from_le_bytes(*h) as usize;
    let s = t.get(..n)?;
    *r = &t[n..];
    String::from_utf8(s.to_vec()).ok()
}

#[cfg(test)]
mod tests;
