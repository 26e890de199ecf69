use super::*;
use crate::input::webvtt::parse;
use crate::testutil::{boxes, child};

const DOC: &str = "WEBVTT\n\n00:01.000 --> 00:03.000\n<i>one</i> &amp; <b>\"1\"</b>\nline 2\n\n00:05.000 --> 00:07.000\ntwo\n";

#[test]
fn init_has_subt_handler_sthd_and_stpp_entry() {
    let init = init_segment("fra");
    let moov = child(&init, "moov");
    let mdia = child(child(moov, "trak"), "mdia");
    assert_eq!(&child(mdia, "hdlr")[8..12], b"subt");
    let minf = child(mdia, "minf");
    assert_eq!(child(minf, "sthd"), [0, 0, 0, 0]);
    let stsd = child(child(minf, "stbl"), "stsd");
    let stpp = child(&stsd[8..], "stpp");
    // SampleEntry: 6 reserved, data_reference_index 1
    assert_eq!(&stpp[..8], [0, 0, 0, 0, 0, 0, 0, 1]);
    let ns_end = 8 + TTML_NS.len();
    assert_eq!(&stpp[8..ns_end], TTML_NS.as_bytes());
    // NUL after namespace, empty schema_location and auxiliary_mime_types
    assert_eq!(&stpp[ns_end..ns_end + 3], [0, 0, 0]);
    let mime = child(&stpp[ns_end + 3..], "mime");
    assert_eq!(&mime[4..], format!("{SAMPLE_MIME}\0").as_bytes());
    assert!(boxes(&init).iter().any(|(t, _)| t == "ftyp"));
}

#[test]
fn one_sample_document_in_media_time_clipped_to_the_segment() {
    let cues = parse(DOC.as_bytes()).unwrap();
    let seg = media_segment(&cues, 2000, 6000, 2, "fr").unwrap();
    let top = boxes(&seg);
    assert_eq!(
        top.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        ["styp", "moof", "mdat"]
    );
    let traf = child(top[1].1, "traf");
    assert_eq!(child(top[1].1, "mfhd")[4..], 2u32.to_be_bytes());
    assert_eq!(child(traf, "tfdt")[4..], 2000u64.to_be_bytes());
    let trun = child(traf, "trun");
    assert_eq!(trun[4..8], 1u32.to_be_bytes(), "one sample");
    let mdat = top[2].1;
    assert_eq!(trun[12..16], 4000u32.to_be_bytes(), "duration");
    assert_eq!(trun[16..20], (mdat.len() as u32).to_be_bytes(), "size");
    // data offset points at the mdat payload
    let moof_len = top[1].1.len() + 8;
    assert_eq!(trun[8..12], (moof_len as u32 + 8).to_be_bytes());
    let doc = std::str::from_utf8(mdat).unwrap();
    assert!(doc.contains(r#"xml:lang="fr""#), "{doc}");
    assert!(doc.contains(r#"ttp:timeBase="media""#));
    assert!(
        doc.contains(r#"<p begin="00:00:02.000" end="00:00:03.000">one &amp; &quot;1&quot;<br/>line 2</p><p begin="00:00:05.000" end="00:00:06.000">two</p>"#),
        "{doc}"
    );
    // it parses back with our TTML reader, same times
    let back = crate::input::ttml::parse(mdat).unwrap();
    assert_eq!(
        back.cues
            .iter()
            .map(|c| (c.start_ms, c.end_ms))
            .collect::<Vec<_>>(),
        [(2000, 3000), (5000, 6000)]
    );
    assert_eq!(back.cues[0].text, "one &amp; \"1\"\nline 2");
}

#[test]
fn empty_segment_is_an_empty_document() {
    let cues = parse(DOC.as_bytes()).unwrap();
    let doc = document(&cues, 8000, 9000, 0, "").unwrap();
    assert!(doc.ends_with("<body><div></div></body></tt>\n"), "{doc}");
    assert!(crate::input::ttml::parse(doc.as_bytes())
        .unwrap()
        .cues
        .is_empty());
}

#[test]
fn smooth_documents_are_relative_to_the_fragment() {
    let cues = parse(DOC.as_bytes()).unwrap();
    let doc = document(&cues, 2000, 6000, 2000, "en").unwrap();
    assert!(
        doc.contains(r#"<p begin="00:00:00.000" end="00:00:01.000">"#)
            && doc.contains(r#"<p begin="00:00:03.000" end="00:00:04.000">two</p>"#),
        "{doc}"
    );
}
