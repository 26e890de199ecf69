//! The CPIX request document a key provider is asked with (DASH-IF CPIX
//! 2.3 §4, as AWS SPEKE v2.0 clients send it): the `CPIX` root with
//! `contentId` (the asset) and `version="2.3"`, one `ContentKey` per key
//! id wanted, without a value (the provider fills it in, §5.3.3), with
//! `commonEncryptionScheme` when the scheme is Common Encryption (SPEKE
//! v2.0 requires it), and a `DRMSystem` per configured system and key id
//! (§5.3.5), empty: the provider answers with the signalling it knows;
//! with a key per track type, a `ContentKeyUsageRuleList` (§5.3.5.2) with
//! one rule per key, its `intendedTrackType` and filter, as SPEKE v2.0
//! encryption contracts say it.
//!
//! Every element is in the CPIX namespace (`urn:dashif:org:cpix`, prefix
//! `cpix:`), and the PSKC namespace is declared for the answer's
//! `pskc:Secret`; attribute values are XML-escaped (a content id is an
//! object path, so may hold `&` or `"`).

use quick_xml::escape::escape;

/// The CPIX namespace (CPIX 2.3 §5.1).
pub const CPIX_NS: &str = "urn:dashif:org:cpix";
/// The PSKC namespace (RFC 6030 §4) of `Secret/PlainValue`.
pub const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";

/// What a key provider is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRequest<'a> {
    /// The asset (CPIX `@contentId`).
    pub content_id: &'a str,
    /// The key ids wanted, one `ContentKey` each.
    pub kids: &'a [[u8; 16]],
    /// `cenc` or `cbcs` (`@commonEncryptionScheme`), or none (AES-128
    /// whole-segment encryption, which CENC does not name).
    pub scheme: Option<&'a str>,
    /// The DRM systems to ask signalling for.
    pub systems: &'a [[u8; 16]],
    /// The usage rules of the keys (none: one key for every track).
    pub rules: &'a [super::rules::UsageRule],
}

/// The request document, UTF-8.
pub fn document(req: &KeyRequest<'_>) -> String {
    let uuid = crate::manifest::dash::uuid;
    let mut x = String::with_capacity(512);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<cpix:CPIX xmlns:cpix=\"{CPIX_NS}\" xmlns:pskc=\"{PSKC_NS}\" contentId=\"{}\" version=\"2.3\">\n",
        escape(req.content_id)
    ));
    x.push_str("  <cpix:ContentKeyList>\n");
    for kid in req.kids {
        x.push_str(&format!("    <cpix:ContentKey kid=\"{}\"", uuid(kid)));
        if let Some(s) = req.scheme {
            x.push_str(&format!(" commonEncryptionScheme=\"{}\"", escape(s)));
        }
        x.push_str("/>\n");
    }
    x.push_str("  </cpix:ContentKeyList>\n");
    if !req.systems.is_empty() {
        x.push_str("  <cpix:DRMSystemList>\n");
        for kid in req.kids {
            for sys in req.systems {
                x.push_str(&format!(
                    "    <cpix:DRMSystem kid=\"{}\" systemId=\"{}\"/>\n",
                    uuid(kid),
                    uuid(sys)
                ));
            }
        }
        x.push_str("  </cpix:DRMSystemList>\n");
    }
    if !req.rules.is_empty() {
        x.push_str("  <cpix:ContentKeyUsageRuleList>\n");
        for r in req.rules {
            usage_rule(&mut x, r);
        }
        x.push_str("  </cpix:ContentKeyUsageRuleList>\n");
    }
    x.push_str("</cpix:CPIX>\n");
    x
}

/// One `ContentKeyUsageRule` with its filters (CPIX 2.3 §5.3.5.2).
fn usage_rule(x: &mut String, r: &super::rules::UsageRule) {
    x.push_str(&format!(
        "    <cpix:ContentKeyUsageRule kid=\"{}\"",
        crate::manifest::dash::uuid(&r.kid)
    ));
    if let Some(t) = &r.intended_track_type {
        x.push_str(&format!(" intendedTrackType=\"{}\"", escape(t.as_str())));
    }
    x.push_str(">\n");
    let num = |x: &mut String, name: &str, v: Option<u64>| {
        if let Some(v) = v {
            x.push_str(&format!(" {name}=\"{v}\""));
        }
    };
    for f in &r.video {
        x.push_str("      <cpix:VideoFilter");
        num(x, "minPixels", f.min_pixels);
        num(x, "maxPixels", f.max_pixels);
        num(x, "minFps", f.min_fps.map(u64::from));
        num(x, "maxFps", f.max_fps.map(u64::from));
        for (name, v) in [("hdr", f.hdr), ("wcg", f.wcg)] {
            if let Some(v) = v {
                x.push_str(&format!(" {name}=\"{v}\""));
            }
        }
        x.push_str("/>\n");
    }
    for f in &r.audio {
        x.push_str("      <cpix:AudioFilter");
        num(x, "minChannels", f.min_channels.map(u64::from));
        num(x, "maxChannels", f.max_channels.map(u64::from));
        x.push_str("/>\n");
    }
    for f in &r.bitrate {
        x.push_str("      <cpix:BitrateFilter");
        num(x, "minBitrate", f.min_bitrate);
        num(x, "maxBitrate", f.max_bitrate);
        x.push_str("/>\n");
    }
    x.push_str("    </cpix:ContentKeyUsageRule>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    use quick_xml::NsReader;

    #[test]
    fn the_request_is_well_formed_namespaced_cpix() {
        let kids = [[0x11; 16], [0x22; 16]];
        let systems = [[0xed; 16]];
        let doc = document(&KeyRequest {
            content_id: "a&b/\"c\".ism",
            kids: &kids,
            scheme: Some("cbcs"),
            systems: &systems,
            rules: &[],
        });
        let mut r = NsReader::from_str(&doc);
        let mut elements = Vec::new();
        loop {
            match r.read_resolved_event().unwrap() {
                (ns, Event::Start(e) | Event::Empty(e)) => {
                    let ResolveResult::Bound(ns) = ns else {
                        panic!("unbound {:?}", e.name())
                    };
                    assert_eq!(ns.as_ref(), CPIX_NS.as_bytes());
                    let name = String::from_utf8(e.local_name().as_ref().to_vec()).unwrap();
                    let attrs: Vec<(String, String)> = e
                        .attributes()
                        .map(|a| {
                            let a = a.unwrap();
                            (
                                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                                a.unescape_value().unwrap().into_owned(),
                            )
                        })
                        .collect();
                    elements.push((name, attrs));
                }
                (_, Event::Eof) => break,
                _ => {}
            }
        }
        let names: Vec<&str> = elements.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "CPIX",
                "ContentKeyList",
                "ContentKey",
                "ContentKey",
                "DRMSystemList",
                "DRMSystem",
                "DRMSystem"
            ]
        );
        let root = &elements[0].1;
        assert!(root.contains(&("contentId".into(), "a&b/\"c\".ism".into())));
        assert!(root.contains(&("version".into(), "2.3".into())));
        let key = &elements[2].1;
        assert!(key.contains(&("kid".into(), "11111111-1111-1111-1111-111111111111".into())));
        assert!(key.contains(&("commonEncryptionScheme".into(), "cbcs".into())));
        assert!(elements[5].1.contains(&(
            "systemId".into(),
            "edededed-eded-eded-eded-edededededed".into()
        )));
        // No value is sent: the provider fills it in.
        assert!(!doc.contains("Secret"));
        // Without systems, no DRMSystemList.
        let bare = document(&KeyRequest {
            content_id: "x",
            kids: &kids[..1],
            scheme: None,
            systems: &[],
            rules: &[],
        });
        assert!(!bare.contains("ContentKeyUsageRule"));
        assert!(!bare.contains("DRMSystemList"));
        assert!(!bare.contains("commonEncryptionScheme"));
    }

    /// A request for a key per track type carries the rules, and the
    /// document parses back (as a provider echoing them would answer)
    /// to the same rules.
    #[test]
    fn track_type_rules_are_asked_and_read_back() {
        use crate::crypto::provider::{KeyProvider, TrackKeyPreset};
        let p = KeyProvider::parse("http://k.example/x", None)
            .unwrap()
            .with_track_keys(TrackKeyPreset::AudioSdHd);
        let asset = crate::url::Asset::Mp4 {
            path: "v/a.mp4".into(),
        };
        let (kids, rules) = p.requested("cenc", &asset);
        assert_eq!(kids.len(), 3);
        assert_ne!(kids[0], kids[1]);
        assert!(!kids.contains(&p.kid("cenc", &asset)));
        let doc = document(&KeyRequest {
            content_id: "v/a.mp4",
            kids: &kids,
            scheme: Some("cenc"),
            systems: &[],
            rules: &rules,
        });
        assert!(doc.contains(r#"intendedTrackType="SD">"#), "{doc}");
        assert!(
            doc.contains(r#"<cpix:VideoFilter maxPixels="589824"/>"#),
            "{doc}"
        );
        assert!(
            doc.contains(r#"<cpix:VideoFilter minPixels="589825"/>"#),
            "{doc}"
        );
        assert!(doc.contains("<cpix:AudioFilter/>"), "{doc}");
        // With values filled in, the parser reads the same rules back.
        let answer = doc.replace(
            r#"commonEncryptionScheme="cenc"/>"#,
            r#"commonEncryptionScheme="cenc"><cpix:Data><pskc:Secret><pskc:PlainValue>AAAAAAAAAAAAAAAAAAAAAA==</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>"#,
        );
        let parsed = super::super::parse(answer.as_bytes()).unwrap();
        assert_eq!(parsed.rules, rules);
        // audio-video: AUDIO and VIDEO.
        let av = p.clone().with_track_keys(TrackKeyPreset::AudioVideo);
        let (kids, rules) = av.requested("cenc", &asset);
        assert_eq!(kids.len(), 2);
        let names: Vec<_> = rules
            .iter()
            .map(|r| r.intended_track_type.clone().unwrap())
            .collect();
        assert_eq!(names, ["AUDIO", "VIDEO"]);
        // shared: today's one key id, no rule.
        let shared = p.clone().with_track_keys(TrackKeyPreset::Shared);
        let (kids, rules) = shared.requested("cenc", &asset);
        assert_eq!(kids, [p.kid("cenc", &asset)]);
        assert!(rules.is_empty());
        assert_eq!(
            TrackKeyPreset::parse(Some(" Audio-SD-HD ")),
            Ok(TrackKeyPreset::AudioSdHd)
        );
        assert_eq!(TrackKeyPreset::parse(None), Ok(TrackKeyPreset::Shared));
        assert!(TrackKeyPreset::parse(Some("uhd")).is_err());
    }
}
