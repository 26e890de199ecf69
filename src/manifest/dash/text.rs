//! Text AdaptationSets: one per text track (a language and a role each),
//! `contentType="text"`, `mimeType="application/mp4"`: segmented WebVTT in
//! fMP4 (`codecs="wvtt"`, ISO/IEC 14496-30 §7; `mux::wvtt`) for WebVTT
//! sources, IMSC1 Text in fMP4 (`codecs="stpp.ttml.im1t"`, §5;
//! `mux::stpp`) for TTML sources, on the shared timeline: the SegmentTimeline of the reference track.
//!
//! `Role` (ISO/IEC 23009-1 §5.8.5.5, `urn:mpeg:dash:role:2011`):
//! `subtitle`, `caption`, `forced-subtitle` (DASH-IF IOP v4.3 §6.4.4, also
//! in the 5th edition of 23009-1) or `description`. SDH adds
//! `Accessibility` with `urn:tva:metadata:cs:AudioPurposeCS:2007` value 2
//! ("for the hard of hearing"), as DASH-IF IOP signals it.

use crate::input::ism::{SidecarFormat, TextRole};
use crate::media_set::MediaSet;
use crate::timeline::hns::HnsRun;
use crate::url::Format;
use quick_xml::Writer;
use std::io;

const ROLE_SCHEME: &str = "urn:mpeg:dash:role:2011";
const PURPOSE_SCHEME: &str = "urn:tva:metadata:cs:AudioPurposeCS:2007";

/// The `Role` value of a text track.
pub fn role(role: TextRole) -> &'static str {
    match role {
        TextRole::Subtitle => "subtitle",
        TextRole::Caption => "caption",
        TextRole::Forced => "forced-subtitle",
        TextRole::Description => "description",
    }
}

/// `@codecs` of a text track: TTML sources as IMSC1 Text in fMP4 (DASH-IF
/// IOP v4.3 §6.4.2: `stpp` with the profile), WebVTT sources as `wvtt`.
/// One AdaptationSet per track either way: offering a TTML source in both
/// forms would list each language twice in players' menus.
pub fn codecs(format: SidecarFormat) -> &'static str {
    match format {
        SidecarFormat::Ttml => crate::mux::stpp::CODECS,
        SidecarFormat::WebVtt => "wvtt",
    }
}

/// Writes an AdaptationSet per text track, ids from `first_id`.
pub(super) fn adaptation_sets(
    w: &mut Writer<Vec<u8>>,
    set: &MediaSet,
    format: Format,
    first_id: usize,
    timeline: &[HnsRun],
) -> io::Result<()> {
    for (i, t) in set.texts.iter().enumerate() {
        let id = (first_id + i).to_string();
        let mut el = w.create_element("AdaptationSet").with_attributes([
            ("id", id.as_str()),
            ("contentType", "text"),
            ("mimeType", "application/mp4"),
            ("segmentAlignment", "true"),
            ("startWithSAP", "1"),
        ]);
        let lang = crate::manifest::lang::bcp47(&t.language);
        if let Some(l) = &lang {
            el = el.with_attribute(("lang", l.as_str()));
        }
        el.write_inner_content(|w| {
            // AdaptationSet children order (the XSD): Accessibility, Role.
            if t.sdh {
                w.create_element("Accessibility")
                    .with_attributes([("schemeIdUri", PURPOSE_SCHEME), ("value", "2")])
                    .write_empty()?;
            }
            if t.default {
                // `default_subtitles_lang`: the set players pick first
                // (23009-1 §5.8.5.5 `main`), beside what it is for.
                w.create_element("Role")
                    .with_attributes([("schemeIdUri", ROLE_SCHEME), ("value", "main")])
                    .write_empty()?;
            }
            w.create_element("Role")
                .with_attributes([("schemeIdUri", ROLE_SCHEME), ("value", role(t.role))])
                .write_empty()?;
            let rep_id = format!("{}_{}", t.name, t.bitrate);
            let bandwidth = t.bitrate.to_string();
            w.create_element("Representation")
                .with_attributes([
                    ("id", rep_id.as_str()),
                    ("bandwidth", bandwidth.as_str()),
                    ("codecs", codecs(t.format)),
                ])
                .write_inner_content(|w| {
                    super::segment_template(w, set, &t.name, format, None, timeline)
                })?;
            Ok(())
        })?;
    }
    Ok(())
}
