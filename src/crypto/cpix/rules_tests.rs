use super::super::{parse, CpixError};
use super::*;

const FIXTURE: &str = include_str!("../../../fixtures/cpix/trackkeys.cpix.xml");
const AUDIO: &str = "a0a1a2a3b4b54c6c8d7de8e9f0f1f2f3";
const SD: &str = "5d5d5d5d111142228333444455556666";
const HD: &str = "4d4d4d4d777748889999aaaabbbbcccc";

fn video(w: u64, h: u64) -> TrackTraits {
    TrackTraits {
        kind: TraitKind::Video,
        pixels: w * h,
        fps: Some(25.0),
        bitrate: 1_000_000,
        ..TrackTraits::default()
    }
}

fn audio(channels: u32) -> TrackTraits {
    TrackTraits {
        kind: TraitKind::Audio,
        channels,
        bitrate: 128_000,
        ..TrackTraits::default()
    }
}

fn kid_of(doc: &str, t: &TrackTraits) -> Result<String, CpixError> {
    parse(doc.as_bytes())?
        .key_for(t, "track")
        .map(|k| k.kid_hex())
}

#[test]
fn the_fixture_gives_audio_sd_and_hd_their_keys() {
    let c = parse(FIXTURE.as_bytes()).unwrap();
    assert!(c.multi_key());
    assert_eq!(c.keys().count(), 3);
    assert_eq!(c.rules.len(), 3);
    assert_eq!(c.rules[1].intended_track_type.as_deref(), Some("SD"));
    assert_eq!(kid_of(FIXTURE, &audio(2)).unwrap(), AUDIO);
    assert_eq!(kid_of(FIXTURE, &audio(6)).unwrap(), AUDIO);
    // 1024x576 = 589824 is the last SD size (maxPixels inclusive).
    assert_eq!(kid_of(FIXTURE, &video(426, 240)).unwrap(), SD);
    assert_eq!(kid_of(FIXTURE, &video(1024, 576)).unwrap(), SD);
    let just_hd = TrackTraits {
        pixels: 589_825,
        ..video(1, 1)
    };
    assert_eq!(kid_of(FIXTURE, &just_hd).unwrap(), HD);
    assert_eq!(kid_of(FIXTURE, &video(1280, 720)).unwrap(), HD);
    // Each key's systems are its own slice.
    for k in c.keys() {
        let s = c.systems_of(&k.kid);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].kid, k.kid);
    }
}

/// A document with keys `kids` (hex) and `rules` inside the rule list.
fn doc(kids: &[&str], rules: &str) -> String {
    let keys: String = kids
        .iter()
        .map(|k| {
            format!(
                r#"<ContentKey kid="{k}"><Data><Secret><PlainValue>AAAAAAAAAAAAAAAAAAAAAA==</PlainValue></Secret></Data></ContentKey>"#
            )
        })
        .collect();
    format!(
        r#"<CPIX xmlns="urn:dashif:org:cpix"><ContentKeyList>{keys}</ContentKeyList><ContentKeyUsageRuleList>{rules}</ContentKeyUsageRuleList></CPIX>"#
    )
}

const K1: &str = "11111111111111111111111111111111";
const K2: &str = "22222222222222222222222222222222";

#[test]
fn a_track_matching_no_rule_is_501_and_two_keys_502() {
    let d = doc(
        &[K1, K2],
        &format!(
            r#"<ContentKeyUsageRule kid="{K1}"><VideoFilter maxPixels="100000"/></ContentKeyUsageRule>
               <ContentKeyUsageRule kid="{K2}"><VideoFilter minPixels="50000"/></ContentKeyUsageRule>"#
        ),
    );
    assert_eq!(kid_of(&d, &video(100, 100)).unwrap(), K1);
    assert_eq!(kid_of(&d, &video(1000, 1000)).unwrap(), K2);
    // Both rules match 300x300 = 90000 pixels: an invalid document.
    let e = kid_of(&d, &video(300, 300)).unwrap_err();
    assert_eq!(e.status(), 502, "{e}");
    assert!(e.to_string().contains("two keys"), "{e}");
    // No rule for audio: 501, never a clear track.
    let e = kid_of(&d, &audio(2)).unwrap_err();
    assert_eq!(e.status(), 501, "{e}");
    assert!(
        e.to_string().contains("matches no ContentKeyUsageRule"),
        "{e}"
    );
    // Two rules of one key both matching are one key.
    let same = doc(
        &[K1, K2],
        &format!(
            r#"<ContentKeyUsageRule kid="{K1}"><VideoFilter/></ContentKeyUsageRule>
               <ContentKeyUsageRule kid="{K1}"><BitrateFilter minBitrate="1"/></ContentKeyUsageRule>
               <ContentKeyUsageRule kid="{K2}"><AudioFilter/></ContentKeyUsageRule>"#
        ),
    );
    assert_eq!(kid_of(&same, &video(10, 10)).unwrap(), K1);
}

#[test]
fn filters_or_within_a_type_and_across_types() {
    // (SD OR UHD) AND bitrate <= 2 Mbit/s.
    let d = doc(
        &[K1, K2],
        &format!(
            r#"<ContentKeyUsageRule kid="{K1}">
                 <VideoFilter maxPixels="589824"/><VideoFilter minPixels="2073601"/>
                 <BitrateFilter maxBitrate="2000000"/>
               </ContentKeyUsageRule>
               <ContentKeyUsageRule kid="{K2}"><AudioFilter minChannels="3" maxChannels="6"/></ContentKeyUsageRule>"#
        ),
    );
    assert_eq!(kid_of(&d, &video(640, 360)).unwrap(), K1);
    assert_eq!(kid_of(&d, &video(3840, 2160)).unwrap(), K1);
    assert_eq!(kid_of(&d, &video(1280, 720)).unwrap_err().status(), 501);
    let fat = TrackTraits {
        bitrate: 2_000_001,
        ..video(640, 360)
    };
    assert_eq!(kid_of(&d, &fat).unwrap_err().status(), 501);
    // Channels inclusive at both ends; a VideoFilter never matches audio.
    assert_eq!(kid_of(&d, &audio(3)).unwrap(), K2);
    assert_eq!(kid_of(&d, &audio(6)).unwrap(), K2);
    assert_eq!(kid_of(&d, &audio(2)).unwrap_err().status(), 501);
    assert_eq!(kid_of(&d, &audio(8)).unwrap_err().status(), 501);
}

#[test]
fn fps_is_min_exclusive_max_inclusive_and_hdr_wcg_must_equal() {
    let d = doc(
        &[K1, K2],
        &format!(
            r#"<ContentKeyUsageRule kid="{K1}"><VideoFilter minFps="30" maxFps="60" hdr="true"/></ContentKeyUsageRule>
               <ContentKeyUsageRule kid="{K2}"><VideoFilter maxFps="30" wcg="false"/></ContentKeyUsageRule>"#
        ),
    );
    let t = |fps: f64, hdr: bool, wcg: bool| TrackTraits {
        fps: Some(fps),
        hdr,
        wcg,
        ..video(1920, 1080)
    };
    assert_eq!(kid_of(&d, &t(60.0, true, true)).unwrap(), K1);
    assert_eq!(kid_of(&d, &t(30.0, false, false)).unwrap(), K2);
    // 30 fps is not above minFps=30: not K1; HDR with WCG is not K2.
    assert_eq!(kid_of(&d, &t(30.0, true, true)).unwrap_err().status(), 501);
    assert_eq!(
        kid_of(&d, &t(50.0, false, false)).unwrap_err().status(),
        501
    );
    // A frame rate filter on a track of unknown rate: unusable, 501.
    let unknown = TrackTraits {
        fps: None,
        ..video(1920, 1080)
    };
    assert_eq!(kid_of(&d, &unknown).unwrap_err().status(), 501);
}

#[test]
fn a_rule_without_filters_matches_every_track() {
    let d = doc(&[K1], &format!(r#"<ContentKeyUsageRule kid="{K1}"/>"#));
    assert_eq!(kid_of(&d, &video(1, 1)).unwrap(), K1);
    assert_eq!(kid_of(&d, &audio(2)).unwrap(), K1);
}

#[test]
fn unsupported_and_invalid_rules_are_refused_when_parsed() {
    let refused = |rules: &str| parse(doc(&[K1, K2], rules).as_bytes()).unwrap_err();
    for (filter, why) in [
        (r#"<KeyPeriodFilter periodId="p1"/>"#, "KeyPeriodFilter"),
        (r#"<LabelFilter label="blue"/>"#, "LabelFilter"),
        (
            r#"<x:Proprietary xmlns:x="urn:x"/>"#,
            "unknown usage rule filter",
        ),
    ] {
        let e = refused(&format!(
            r#"<ContentKeyUsageRule kid="{K1}">{filter}</ContentKeyUsageRule>"#
        ));
        assert_eq!(e.status(), 501, "{e}");
        assert!(e.to_string().contains(why), "{e}");
    }
    // A rule for no key of the document, a bad number or boolean: 502.
    let three = "33333333333333333333333333333333";
    let e = refused(&format!(r#"<ContentKeyUsageRule kid="{three}"/>"#));
    assert_eq!(e.status(), 502, "{e}");
    let e = refused(&format!(
        r#"<ContentKeyUsageRule kid="{K1}"><VideoFilter maxPixels="-1"/></ContentKeyUsageRule>"#
    ));
    assert_eq!(e.status(), 502, "{e}");
    let e = refused(&format!(
        r#"<ContentKeyUsageRule kid="{K1}"><VideoFilter hdr="maybe"/></ContentKeyUsageRule>"#
    ));
    assert_eq!(e.status(), 502, "{e}");
    // Several keys and no rule: which key is whose is not said (501).
    let e = parse(doc(&[K1, K2], "").as_bytes()).unwrap_err();
    assert_eq!(e.status(), 501, "{e}");
    // The same kid twice: 502.
    let e = parse(doc(&[K1, K1], "").as_bytes()).unwrap_err();
    assert_eq!(e.status(), 502, "{e}");
}

#[test]
fn rule_and_filter_counts_are_capped() {
    let many: String = (0..=MAX_RULES)
        .map(|_| format!(r#"<ContentKeyUsageRule kid="{K1}"/>"#))
        .collect();
    let e = parse(doc(&[K1], &many).as_bytes()).unwrap_err();
    assert_eq!(e.status(), 501, "{e}");
    let filters: String = (0..=MAX_FILTERS).map(|_| "<AudioFilter/>").collect();
    let e = parse(
        doc(
            &[K1],
            &format!(r#"<ContentKeyUsageRule kid="{K1}">{filters}</ContentKeyUsageRule>"#),
        )
        .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(e.status(), 501, "{e}");
    let ok: String = (0..MAX_FILTERS).map(|_| "<AudioFilter/>").collect();
    let d = doc(
        &[K1],
        &format!(r#"<ContentKeyUsageRule kid="{K1}">{ok}</ContentKeyUsageRule>"#),
    );
    assert_eq!(kid_of(&d, &audio(2)).unwrap(), K1);
}

#[test]
fn one_key_without_rules_is_every_tracks_key() {
    let d = doc(&[K1], "");
    assert_eq!(kid_of(&d, &video(1, 1)).unwrap(), K1);
    assert_eq!(kid_of(&d, &audio(1)).unwrap(), K1);
    assert!(!parse(d.as_bytes()).unwrap().multi_key());
}
