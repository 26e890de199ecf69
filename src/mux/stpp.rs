//! TTML (IMSC1 Text) in ISO BMFF (ISO/IEC 14496-30 §5, "Storage of TTML"),
//! as CMAF text tracks for DASH (`codecs="stpp.ttml.im1t"`): an init
//! segment whose handler is `subt` with a subtitle media header (`sthd`)
//! and an `XMLSubtitleSampleEntry` `stpp` (namespace
//! `http://www.w3.org/ns/ttml`, and a `mime` box naming the IMSC1 text
//! profile, as CMAF and DASH-IF IOP ask); media segments of one sample
//! spanning the segment, whose payload is a whole TTML document holding
//! the cues that show in it.
//!
//! **Times.** The document's time expressions are *media time*: the
//! track's timeline (which starts at 0 here, the title's start), not
//! offsets from the sample's start. That is the reading of 14496-30 §5
//! that DASH-IF IOP and CMAF (ISO/IEC 23000-19 §11) take, and the one
//! Shaka and dash.js apply (`ttp:timeBase="media"`). Each cue is clipped
//! to the sample's interval, so a document never says anything about time
//! outside its sample, and a cue spanning a boundary is two cues, one per
//! segment, as in [`super::wvtt`].
//!
//! The text is plain: lines joined by `<br/>`; WebVTT tags (from WebVTT
//! sources) dropped, since TTML styling is out of scope.

use super::boxes::BoxWriter;
use super::wvtt::{segment_of, text_init, Sample, MAX_SEGMENT_CUES};
use crate::input::ttml::plain_text;
use crate::input::webvtt::CueList;
use bytes::Bytes;

/// Namespace of the sample entry (14496-30 §5.3): TTML's.
pub const TTML_NS: &str = "http://www.w3.org/ns/ttml";
/// MIME type of the samples with the IMSC1 Text profile (`mime` box,
/// 14496-12 §12.6.3; CMAF §11.3).
pub const SAMPLE_MIME: &str = "application/ttml+xml;codecs=im1t";
/// DASH `@codecs` of the track (RFC 6381 for `stpp`, IMSC1 §5.1 `im1t`).
pub const CODECS: &str = "stpp.ttml.im1t";
/// IMSC1 Text profile designator (IMSC1 §6.2).
const IMSC1_TEXT: &str = "http://www.w3.org/ns/ttml/profile/imsc1/text";

/// The init segment of an IMSC1 Text track in `language` (ISO 639-2).
pub fn init_segment(language: &str) -> Bytes {
    text_init(language, b"subt", b"sthd", |w: &mut BoxWriter| {
        // XMLSubtitleSampleEntry: SampleEntry (6 reserved bytes, data
        // reference index), namespace, schema_location,
        // auxiliary_mime_types (NUL-terminated), then the MIMEBox.
        w.start(b"stpp").zeros(6).u16(1);
        w.bytes(TTML_NS.as_bytes()).u8(0).u8(0).u8(0);
        w.start_full(b"mime", 0, 0)
            .bytes(SAMPLE_MIME.as_bytes())
            .u8(0)
            .end();
        w.end();
    })
}

/// The TTML document of the cues showing in `[from, to)` ms, clipped to
/// it, with times relative to `base` ms: 0 for the media time of DASH
/// (module docs), `from` for Smooth, whose clients read a text fragment's
/// times as offsets from the fragment's start (the convention of IIS and
/// Azure Media Services, which dash.js' MSS module applies to every Smooth
/// manifest). `lang` is the BCP 47 tag for `xml:lang` ("" when unknown).
/// `None` over [`MAX_SEGMENT_CUES`].
pub fn document(cues: &CueList, from: u64, to: u64, base: u64, lang: &str) -> Option<String> {
    let inside: Vec<_> = cues.overlapping(from, Some(to)).collect();
    if inside.len() > MAX_SEGMENT_CUES {
        return None;
    }
    let mut out = String::with_capacity(400 + inside.len() * 96);
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push_str(r#"<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter" ttp:timeBase="media" ttp:profile=""#);
    out.push_str(IMSC1_TEXT);
    out.push_str(r#"" xml:lang=""#);
    escape_into(&mut out, lang);
    out.push_str(r#""><body><div>"#);
    for c in inside {
        out.push_str(r#"<p begin=""#);
        let start = c.start_ms.max(from).saturating_sub(base);
        crate::input::webvtt::write_timestamp(&mut out, start);
        out.push_str(r#"" end=""#);
        crate::input::webvtt::write_timestamp(&mut out, c.end_ms.min(to).saturating_sub(base));
        out.push_str(r#"">"#);
        for (i, line) in plain_text(&c.text).split('\n').enumerate() {
            if i > 0 {
                out.push_str("<br/>");
            }
            escape_into(&mut out, line);
        }
        out.push_str("</p>");
    }
    out.push_str("</div></body></tt>\n");
    Some(out)
}

/// XML character escaping for text and attribute values.
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Characters XML 1.0 does not allow (§2.2) are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
}

/// Media segment `sequence` (1-based) covering `[from, to)` ms: one
/// sample, the [`document`] of that interval. `None` over
/// [`MAX_SEGMENT_CUES`].
pub fn media_segment(
    cues: &CueList,
    from: u64,
    to: u64,
    sequence: u32,
    lang: &str,
) -> Option<Bytes> {
    let to = to.max(from + 1);
    let doc = document(cues, from, to, 0, lang)?;
    let sample = Sample {
        duration: u32::try_from(to - from).ok()?,
        data: doc.into_bytes(),
    };
    Some(segment_of(std::slice::from_ref(&sample), from, sequence))
}

#[cfg(test)]
mod tests;
