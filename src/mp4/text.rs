//! Samples of MP4 text tracks, decoded to cues ([`crate::input::webvtt::Cue`],
//! the model the sidecar path and every text muxer share).
//!
//! Three sample formats, after the sample entry:
//! - `tx3g` (3GPP TS 26.245 §5.16–5.17, ffmpeg's `mov_text`): a sample is
//!   a 16-bit text length, the text (UTF-8, or UTF-16 with a byte order
//!   mark), then modifier boxes (`styl`, `hlit`, `krok`…). Styles are
//!   ignored: the text is shown plain. A length of 0 is a gap between
//!   cues, not a cue.
//! - `wvtt` (ISO/IEC 14496-30 §7): a sample is boxes, one `vttc` per cue
//!   showing throughout it (with `iden`, `sttg` and `payl`), or one `vtte`
//!   when none is; `vtta` (comments) are skipped. A cue that overlaps
//!   others is split over several samples: consecutive equal pieces are
//!   joined back by [`join_pieces`].
//! - `stpp` (14496-30 §5–6): a sample is a whole TTML document, parsed by
//!   [`crate::input::ttml`]; its times are media time (the track's
//!   timeline, as [`crate::mux::stpp`] writes them), and its cues are
//!   clipped to the sample's interval.
//!
//! Every length read from a sample is checked against the sample's bytes,
//! and a sample yields at most [`MAX_SAMPLE_CUES`] cues.

use crate::input::webvtt::{Cue, MAX_CUE_TEXT};
use crate::model::FourCC;
use std::fmt;

/// Most cues one sample may hold (a `wvtt` sample has one per cue showing
/// at once; a TTML document one per `<p>`).
pub const MAX_SAMPLE_CUES: usize = 256;

/// A text sample format this packager decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextFormat {
    /// 3GPP timed text (`tx3g`, QuickTime/ffmpeg `mov_text`).
    Tx3g,
    /// WebVTT in ISO BMFF.
    Wvtt,
    /// TTML in ISO BMFF (XMLSubtitleSampleEntry).
    Stpp,
}

impl TextFormat {
    /// The format of a sample entry type, `None` for text entries not
    /// decoded (QuickTime `text`, `c608`, `sbtt`…).
    pub fn of(fourcc: FourCC) -> Option<TextFormat> {
        match &fourcc.0 {
            b"tx3g" => Some(TextFormat::Tx3g),
            b"wvtt" => Some(TextFormat::Wvtt),
            b"stpp" => Some(TextFormat::Stpp),
            _ => None,
        }
    }

    /// The format of a whole sample entry box (`raw`, header included):
    /// [`TextFormat::of`], and for `stpp` only when the entry's
    /// `namespace` (14496-12 §12.6.3.2: a null-terminated,
    /// space-separated list) names TTML's, so a track of some other XML
    /// is skipped rather than failing each of its segments.
    pub fn of_entry(fourcc: FourCC, raw: &[u8]) -> Option<TextFormat> {
        let f = TextFormat::of(fourcc)?;
        if f != TextFormat::Stpp {
            return Some(f);
        }
        // Box header (8) + SampleEntry (8), then `namespace`.
        let rest = raw.get(16..)?;
        let ns = &rest[..rest.iter().position(|&b| b == 0)?];
        let ns = std::str::from_utf8(ns).ok()?;
        ns.split_ascii_whitespace()
            .any(|n| n == crate::mux::stpp::TTML_NS)
            .then_some(f)
    }

    /// Whether a sample of `size` bytes can hold no cue, so it need not be
    /// read: an empty sample, a `tx3g` sample of length 0 (2 bytes), a
    /// lone `vtte` box (8 bytes).
    pub fn is_gap(self, size: u32) -> bool {
        match self {
            TextFormat::Tx3g => size <= 2,
            TextFormat::Wvtt => size <= 8,
            TextFormat::Stpp => size == 0,
        }
    }
}

/// Why a text sample does not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextSampleError {
    /// A length inside the sample runs past its end.
    Truncated(&'static str),
    /// The text is neither UTF-8 nor UTF-16 with a byte order mark.
    Encoding,
    TooManyCues,
    /// A TTML document (`stpp`) that does not parse.
    Ttml(String),
}

impl fmt::Display for TextSampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextSampleError::Truncated(w) => write!(f, "text sample cut short: {w}"),
            TextSampleError::Encoding => write!(f, "text sample is not UTF-8 or UTF-16"),
            TextSampleError::TooManyCues => {
                write!(f, "more than {MAX_SAMPLE_CUES} cues in one text sample")
            }
            TextSampleError::Ttml(e) => write!(f, "TTML sample: {e}"),
        }
    }
}

impl std::error::Error for TextSampleError {}

/// Where a sample sits, in milliseconds of the presentation timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleTime {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Media time minus presentation time (the track's edit shift), ms:
    /// subtracted from a TTML document's media times.
    pub media_offset_ms: i64,
}

/// Appends the cues of one sample to `out`.
pub fn decode(
    format: TextFormat,
    data: &[u8],
    time: SampleTime,
    out: &mut Vec<Cue>,
) -> Result<(), TextSampleError> {
    if time.end_ms <= time.start_ms {
        return Ok(());
    }
    match format {
        TextFormat::Tx3g => {
            if let Some(text) = tx3g_text(data)? {
                out.push(cue(String::new(), time, String::new(), &text));
            }
            Ok(())
        }
        TextFormat::Wvtt => wvtt_cues(data, time, out),
        TextFormat::Stpp => stpp_cues(data, time, out),
    }
}

/// The text of a `tx3g` sample (TS 26.245 §5.17: `TextSampleModifierBox`es
/// after the text are ignored), `None` for an empty sample.
pub fn tx3g_text(data: &[u8]) -> Result<Option<String>, TextSampleError> {
    if data.len() < 2 {
        return if data.is_empty() {
            Ok(None)
        } else {
            Err(TextSampleError::Truncated("text length"))
        };
    }
    let n = usize::from(u16::from_be_bytes([data[0], data[1]]));
    let text = data
        .get(2..2 + n)
        .ok_or(TextSampleError::Truncated("text longer than the sample"))?;
    let s = decode_text(text)?;
    Ok((!s.trim().is_empty()).then_some(s))
}

/// UTF-8, or UTF-16 when a byte order mark says so (§5.16: "UTF-8 or
/// UTF-16 with a BOM"; big-endian per the spec, little-endian accepted).
fn decode_text(b: &[u8]) -> Result<String, TextSampleError> {
    let utf16 = |be: bool| {
        let units = b[2..]
            .chunks(2)
            .map(|c| match (c, be) {
                ([x, y], true) => Ok(u16::from_be_bytes([*x, *y])),
                ([x, y], false) => Ok(u16::from_le_bytes([*x, *y])),
                _ => Err(TextSampleError::Encoding),
            })
            .collect::<Result<Vec<u16>, _>>()?;
        String::from_utf16(&units).map_err(|_| TextSampleError::Encoding)
    };
    match b {
        [0xFE, 0xFF, ..] => utf16(true),
        [0xFF, 0xFE, ..] => utf16(false),
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            String::from_utf8(rest.to_vec()).map_err(|_| TextSampleError::Encoding)
        }
        _ => String::from_utf8(b.to_vec()).map_err(|_| TextSampleError::Encoding),
    }
}

/// A cue from plain text (`tx3g`): `&`, `<` and `>` escaped so the text
/// stays text in WebVTT (W3C WebVTT §4.2.2; it also rules out `-->`).
fn cue(id: String, time: SampleTime, settings: String, plain: &str) -> Cue {
    let escaped = plain
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    Cue {
        id,
        start_ms: time.start_ms,
        end_ms: time.end_ms,
        settings,
        text: clean_lines(&escaped),
    }
}

/// Cue text as the cue model wants it: lines joined by `\n`, no empty
/// line (it would end the cue), no `-->` (it would start a timing line),
/// at most [`MAX_CUE_TEXT`] bytes.
fn clean_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CUE_TEXT));
    for line in text.split(['\n', '\r']).filter(|l| !l.trim().is_empty()) {
        let line = line.replace("-->", "--&gt;");
        if out.len() + line.len() + 1 > MAX_CUE_TEXT {
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out
}

/// One line, no `-->`: an identifier or a settings list.
fn one_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace("-->", "")
        .trim()
        .chars()
        .take(256)
        .collect()
}

/// (type, payload) of each box in `data`.
fn boxes(mut data: &[u8]) -> impl Iterator<Item = Result<([u8; 4], &[u8]), TextSampleError>> {
    std::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        if data.len() < 8 {
            data = &[];
            return Some(Err(TextSampleError::Truncated("box header")));
        }
        let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let typ = [data[4], data[5], data[6], data[7]];
        if size < 8 || size > data.len() {
            data = &[];
            return Some(Err(TextSampleError::Truncated("box size")));
        }
        let payload = &data[8..size];
        data = &data[size..];
        Some(Ok((typ, payload)))
    })
}

/// The cues of a `wvtt` sample (14496-30 §7.4: `VTTCueBox` holds
/// `CueIDBox` `iden`, `CueSettingsBox` `sttg`, `CuePayloadBox` `payl`).
fn wvtt_cues(data: &[u8], time: SampleTime, out: &mut Vec<Cue>) -> Result<(), TextSampleError> {
    let mut n = 0;
    for b in boxes(data) {
        let (typ, payload) = b?;
        if &typ != b"vttc" {
            continue;
        }
        n += 1;
        if n > MAX_SAMPLE_CUES {
            return Err(TextSampleError::TooManyCues);
        }
        let (mut id, mut settings, mut text) = (String::new(), String::new(), String::new());
        for c in boxes(payload) {
            let (typ, p) = c?;
            match &typ {
                b"iden" => id = one_line(p),
                b"sttg" => settings = one_line(p),
                b"payl" => {
                    let s = std::str::from_utf8(p).map_err(|_| TextSampleError::Encoding)?;
                    text = clean_lines(s);
                }
                _ => {}
            }
        }
        if !text.is_empty() {
            out.push(Cue {
                id,
                start_ms: time.start_ms,
                end_ms: time.end_ms,
                settings,
                text,
            });
        }
    }
    Ok(())
}

/// The cues of an `stpp` sample: a TTML document on media time, moved to
/// presentation time and clipped to the sample.
fn stpp_cues(data: &[u8], time: SampleTime, out: &mut Vec<Cue>) -> Result<(), TextSampleError> {
    let doc = crate::input::ttml::parse(data).map_err(|e| TextSampleError::Ttml(e.to_string()))?;
    let mut n = 0;
    for mut c in doc.cues {
        let shift = |t: u64| (t as i64).saturating_sub(time.media_offset_ms).max(0) as u64;
        c.start_ms = shift(c.start_ms).max(time.start_ms);
        c.end_ms = shift(c.end_ms).min(time.end_ms);
        if c.end_ms <= c.start_ms {
            continue;
        }
        n += 1;
        if n > MAX_SAMPLE_CUES {
            return Err(TextSampleError::TooManyCues);
        }
        out.push(c);
    }
    Ok(())
}

/// Joins a cue to an equal one that ends where it starts (a `wvtt` cue
/// split over samples by the cues overlapping it; a `tx3g` cue repeated):
/// each cue once, over its whole time, as the sidecar path has it.
pub fn join_pieces(cues: Vec<Cue>) -> Vec<Cue> {
    let mut out: Vec<Cue> = Vec::with_capacity(cues.len());
    for c in cues {
        // Pieces of one cue are at most MAX_SAMPLE_CUES apart.
        let from = out.len().saturating_sub(MAX_SAMPLE_CUES);
        let prev = out[from..].iter_mut().rev().find(|p| {
            p.end_ms == c.start_ms && p.text == c.text && p.id == c.id && p.settings == c.settings
        });
        match prev {
            Some(p) => p.end_ms = c.end_ms,
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
