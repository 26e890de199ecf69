//! HLS closed captions: each declared CEA-608 channel or CEA-708 service
//! is a `TYPE=CLOSED-CAPTIONS` rendition with its `INSTREAM-ID` and no
//! URI (RFC 8216 §4.3.4.1: the captions are in the video segments), and
//! every video variant names the group (`CLOSED-CAPTIONS="cc"`,
//! §4.3.4.2), or says `CLOSED-CAPTIONS=NONE` when the title declares none
//! (Apple's HLS authoring rules ask for one or the other). `SERVICEn`
//! channels need protocol version 7 (§7), so the version-3/4 MPEG-TS
//! playlists list only `CCn`.

use crate::input::captions::{Captions, ClosedCaption, Instream};
use crate::manifest::lang;
use crate::media_set::MediaSet;

/// The group every video variant names.
const GROUP: &str = "cc";

/// The channels a playlist of protocol `version` can list.
fn listed(set: &MediaSet, version: u8) -> Vec<&ClosedCaption> {
    match &set.captions {
        Some(Captions::Channels(list)) => list
            .iter()
            .filter(|c| version >= 7 || matches!(c.instream, Instream::Cc(_)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The `EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS` tags; the first is the default.
pub fn media_tags(set: &MediaSet, version: u8) -> String {
    let mut out = String::new();
    for (i, c) in listed(set, version).into_iter().enumerate() {
        let name = c.name.clone().unwrap_or_else(|| match &c.language {
            Some(l) => lang::display_name(l),
            None => c.instream.to_string(),
        });
        out.push_str(&format!(
            "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"{GROUP}\",NAME=\"{name}\""
        ));
        if let Some(l) = c.language.as_deref().and_then(lang::bcp47) {
            out.push_str(&format!(",LANGUAGE=\"{l}\""));
        }
        let default = if i == 0 { "YES" } else { "NO" };
        out.push_str(&format!(
            ",DEFAULT={default},AUTOSELECT=YES,INSTREAM-ID=\"{}\"\n",
            c.instream
        ));
    }
    out
}

/// `,CLOSED-CAPTIONS="cc"` or `,CLOSED-CAPTIONS=NONE` for a video
/// variant; nothing when the title declares nothing.
pub fn stream_attr(set: &MediaSet, version: u8) -> String {
    match &set.captions {
        Some(Captions::None) => ",CLOSED-CAPTIONS=NONE".into(),
        Some(Captions::Channels(_)) if !listed(set, version).is_empty() => {
            format!(",CLOSED-CAPTIONS=\"{GROUP}\"")
        }
        _ => String::new(),
    }
}

/// The attribute for a variant without video (an audio-only variant):
/// `,CLOSED-CAPTIONS=NONE` when the title declares none, because RFC 8216
/// §4.3.4.2 wants NONE on every variant once one says it; nothing otherwise
/// (a rendition group names captions carried in video only).
pub fn audio_only_attr(set: &MediaSet) -> &'static str {
    match &set.captions {
        Some(Captions::None) => ",CLOSED-CAPTIONS=NONE",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use crate::input::captions::parse;
    use crate::testutil::{synth_set, SynthTrack};
    use crate::url::Format;

    fn master(decl: Option<&str>, format: Format) -> String {
        let mut set = synth_set(
            &[SynthTrack::video(50, 25, 25), SynthTrack::audio(94)],
            2000,
        );
        set.captions = decl.map(|d| parse(d).unwrap());
        crate::manifest::hls::multivariant(&set, format).unwrap()
    }

    #[test]
    fn declared_channels_are_a_group_every_video_variant_names() {
        let m = master(Some("CC1=en:English;CC3=es;SERVICE1=fr"), Format::HlsCmaf);
        assert!(m.contains("#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID=\"CC1\"\n"), "{m}");
        assert!(
            m.contains(
                "NAME=\"Spanish\",LANGUAGE=\"es\",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID=\"CC3\""
            ),
            "{m}"
        );
        assert!(m.contains("INSTREAM-ID=\"SERVICE1\""), "{m}");
        let infs: Vec<&str> = m
            .lines()
            .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
            .collect();
        assert!(!infs.is_empty());
        assert!(
            infs.iter().all(|l| l.contains(",CLOSED-CAPTIONS=\"cc\"")),
            "{m}"
        );
        // No URI on a CLOSED-CAPTIONS rendition (RFC 8216 §4.3.4.1).
        assert!(m
            .lines()
            .filter(|l| l.contains("CLOSED-CAPTIONS,"))
            .all(|l| !l.contains("URI=")));
        // Version 4 (TS): the 708 service is left out.
        let ts = master(Some("CC1=en;SERVICE1=fr"), Format::HlsTs);
        assert!(
            !ts.contains("SERVICE1") && ts.contains("INSTREAM-ID=\"CC1\""),
            "{ts}"
        );
        let only708 = master(Some("SERVICE1=fr"), Format::HlsTs);
        assert!(!only708.contains("CLOSED-CAPTIONS"), "{only708}");
    }

    #[test]
    fn dash_video_sets_carry_scte_accessibility() {
        let mut set = synth_set(
            &[SynthTrack::video(50, 25, 25), SynthTrack::audio(94)],
            2000,
        );
        set.captions = Some(parse("CC1=en;CC3=de:Deutsch;SERVICE1=fr;SERVICE2").unwrap());
        let mpd = crate::manifest::dash::mpd(&set, Format::DashCmaf).unwrap();
        assert!(mpd.contains("<Accessibility schemeIdUri=\"urn:scte:dash:cc:cea-608:2015\" value=\"CC1=eng;CC3=deu\"/>"), "{mpd}");
        assert!(mpd.contains("<Accessibility schemeIdUri=\"urn:scte:dash:cc:cea-708:2015\" value=\"1=lang:fra;2\"/>"), "{mpd}");
        // Video only, before the Representations.
        assert_eq!(mpd.matches("<Accessibility").count(), 2, "{mpd}");
        let video = mpd.split("contentType=\"video\"").nth(1).unwrap();
        assert!(video.find("<Accessibility").unwrap() < video.find("<Representation").unwrap());
        set.captions = Some(parse("none").unwrap());
        let mpd = crate::manifest::dash::mpd(&set, Format::DashCmaf).unwrap();
        assert!(!mpd.contains("Accessibility"), "{mpd}");
    }

    #[test]
    fn the_ism_declares_them_in_its_head() {
        let ism = br#"<smil><head><meta name="clientManifestRelativePath" content="x.ismc"/><meta name="closedCaptions" content="CC1=en:English"/></head><body><switch><video src="v.mp4"/></switch></body></smil>"#;
        let m = crate::input::ism::parse(ism).unwrap();
        assert_eq!(m.captions, Some(parse("CC1=en:English").unwrap()));
        let bad = br#"<smil><head><meta name="closedCaptions" content="CC9"/></head><body><switch><video src="v.mp4"/></switch></body></smil>"#;
        assert!(crate::input::ism::parse(bad).is_err());
        let none = br#"<smil><body><switch><video src="v.mp4"/></switch></body></smil>"#;
        assert_eq!(crate::input::ism::parse(none).unwrap().captions, None);
    }

    #[test]
    fn none_and_undeclared() {
        let m = master(Some("none"), Format::HlsCmaf);
        assert!(
            m.lines()
                .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
                .all(|l| l.ends_with(",CLOSED-CAPTIONS=NONE")),
            "{m}"
        );
        assert!(!m.contains("TYPE=CLOSED-CAPTIONS"));
        assert!(!master(None, Format::HlsCmaf).contains("CLOSED-CAPTIONS"));
    }
}
