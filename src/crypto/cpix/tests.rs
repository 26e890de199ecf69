use super::*;
use crate::url::Asset;

/// The committed fixture: prefixed namespaces, Widevine (PSSH), PlayReady
/// (PSSH, ContentProtectionData, Smooth header), FairPlay (HLS only).
const FIXTURE: &str = include_str!("../../../fixtures/cpix/abr.cpix.xml");
const KID: &str = "5b1a2c3d4e5f4a6b9c7d8e9f0a1b2c3d";
const KEY: &str = "3a7f1c9e5b2d4f6a8c0e1b3d5f7a9c2e";
const WIDEVINE: [u8; 16] = [
    0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d, 0x21, 0xed,
];

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// A minimal document in the default namespace (no prefixes), as some
/// key servers write it, with `body` inside `DRMSystemList`.
fn doc(key_b64: &str, systems: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<CPIX xmlns="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc">
 <ContentKeyList>
  <ContentKey kid="{}"><Data><pskc:Secret><pskc:PlainValue>{key_b64}</pskc:PlainValue></pskc:Secret></Data></ContentKey>
 </ContentKeyList>
 <DRMSystemList>{systems}</DRMSystemList>
</CPIX>"#,
        crate::manifest::dash::uuid(&parse_uuid(KID).unwrap())
    )
}

fn key_b64() -> String {
    b64(&parse_uuid(KEY).unwrap())
}

/// A version-0 `pssh` of `system` with `data`.
fn pssh(system: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&((32 + data.len()) as u32).to_be_bytes());
    b.extend_from_slice(b"pssh");
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(system);
    b.extend_from_slice(&(data.len() as u32).to_be_bytes());
    b.extend_from_slice(data);
    b
}

fn system(body: &str) -> String {
    format!(
        r#"<DRMSystem kid="{}" systemId="edef8ba9-79d6-4ace-a3c8-27dcd51d21ed">{body}</DRMSystem>"#,
        crate::manifest::dash::uuid(&parse_uuid(KID).unwrap())
    )
}

#[test]
fn the_fixture_gives_its_key_and_three_systems() {
    let c = parse(FIXTURE.as_bytes()).unwrap();
    assert_eq!(c.key.kid_hex(), KID);
    assert_eq!(hex(&c.key.key), KEY);
    assert_eq!(c.systems.len(), 3);
    let [wv, pr, fp] = &c.systems[..] else {
        panic!()
    };
    assert_eq!(wv.system_id, WIDEVINE);
    let p = wv.pssh.as_ref().unwrap();
    assert_eq!(&p[4..8], b"pssh");
    assert_eq!(&p[12..28], &WIDEVINE);
    assert!(wv.content_protection.is_none() && wv.hls_media.is_empty());
    assert_eq!(
        hex(&pr.system_id),
        "9a04f0799840428 6ab92e65be0885f95".replace(' ', "")
    );
    assert!(pr.pssh.is_some());
    let cpd = pr.content_protection.as_deref().unwrap();
    assert!(
        cpd.starts_with("<mspr:pro xmlns:mspr=\"urn:microsoft:playready\">"),
        "{cpd}"
    );
    assert!(!is_whole_element(cpd));
    assert!(pr.smooth_header.is_some());
    assert_eq!(fp.system_id, FAIRPLAY);
    assert!(fp.pssh.is_none());
    assert_eq!(fp.hls_media.len(), 1);
    assert!(fp.hls_media[0].starts_with("#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://"));
    assert!(fp.hls_master[0].starts_with("#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd://"));
    // The version is the digest of the bytes: another document, another.
    assert_eq!(c.version, crate::http::etag::of_body(FIXTURE.as_bytes()));
    let other = FIXTURE.replace("contentId=\"abr\"", "contentId=\"abr2\"");
    assert_ne!(parse(other.as_bytes()).unwrap().version, c.version);
}

#[test]
fn default_namespaces_and_no_systems() {
    let c = parse(doc(&key_b64(), "").as_bytes()).unwrap();
    assert_eq!(c.key.kid_hex(), KID);
    assert!(c.systems.is_empty());
    // Base64 wrapped over lines, as some writers do.
    let k = key_b64();
    let wrapped = format!("{}\n   {}", &k[..10], &k[10..]);
    assert_eq!(
        hex(&parse(doc(&wrapped, "").as_bytes()).unwrap().key.key),
        KEY
    );
}

#[test]
fn the_key_never_shows_in_debug() {
    let c = parse(FIXTURE.as_bytes()).unwrap();
    let text = format!(
        "{c:?} {:?}",
        crate::crypto::KeySource::Cpix(std::sync::Arc::new(c.clone()))
    );
    assert!(!text.contains(KEY), "{text}");
    assert!(!text.contains(&key_b64()), "{text}");
    assert!(text.contains(KID));
}

#[test]
fn bad_keys_are_invalid() {
    for bad in ["not base64!", "AAECAwQFBgcICQ==", &b64(&[7u8; 32])] {
        let e = parse(doc(bad, "").as_bytes()).unwrap_err();
        assert!(matches!(e, CpixError::Invalid(_)), "{bad}: {e:?}");
        assert_eq!(e.status(), 502);
        assert!(e.to_string().contains("PlainValue"), "{e}");
    }
}

#[test]
fn encrypted_values_and_several_keys_are_unsupported() {
    let enc = include_str!("../../../fixtures/cpix/encrypted.cpix.xml");
    let e = parse(enc.as_bytes()).unwrap_err();
    assert_eq!(e.status(), 501);
    assert!(e.to_string().contains("EncryptedValue"), "{e}");
    let two = doc(&key_b64(), "").replace(
        "</ContentKeyList>",
        r#"<ContentKey kid="00000000-0000-0000-0000-000000000001"><Data><pskc:Secret><pskc:PlainValue>AAAAAAAAAAAAAAAAAAAAAA==</pskc:PlainValue></pskc:Secret></Data></ContentKey></ContentKeyList>"#,
    );
    let e = parse(two.as_bytes()).unwrap_err();
    assert_eq!(e.status(), 501);
    assert!(e.to_string().contains("2 ContentKeys"), "{e}");
    // A key without a value (the key server is asked to generate it).
    let none = doc(&key_b64(), "").replace(
        &format!(
            "<Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></Data>",
            key_b64()
        ),
        "",
    );
    assert_eq!(parse(none.as_bytes()).unwrap_err().status(), 501);
}

#[test]
fn documents_that_are_not_cpix() {
    for (bad, why) in [
        ("<smil/>", "root element"),
        ("", "no CPIX"),
        ("<CPIX><ContentKeyList>", "no ContentKey"),
        ("<CPIX><a></b></CPIX>", "well-formed"),
        (
            "<CPIX><ContentKey kid=\"xyz\"/></CPIX>",
            "ContentKey@kid is not a UUID",
        ),
        ("<CPIX><ContentKey/></CPIX>", "ContentKey@kid is missing"),
    ] {
        let e = parse(bad.as_bytes()).unwrap_err();
        assert_eq!(e.status(), 502, "{bad}");
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    let big = vec![b' '; MAX_CPIX_BYTES + 1];
    assert!(parse(&big).unwrap_err().to_string().contains("larger"));
    let many = format!("<CPIX>{}</CPIX>", "<x/>".repeat(MAX_ELEMENTS + 1));
    assert!(parse(many.as_bytes())
        .unwrap_err()
        .to_string()
        .contains("elements"));
}

#[test]
fn drm_system_data_is_checked() {
    let good = pssh(&WIDEVINE, b"\x12\x10abcdefghijklmnop");
    let ok = parse(doc(&key_b64(), &system(&format!("<PSSH>{}</PSSH>", b64(&good)))).as_bytes());
    assert_eq!(ok.unwrap().systems[0].pssh.as_deref(), Some(&good[..]));
    // Two boxes of the system are kept whole.
    let two = [good.clone(), good.clone()].concat();
    let ok = parse(doc(&key_b64(), &system(&format!("<PSSH>{}</PSSH>", b64(&two)))).as_bytes());
    assert_eq!(ok.unwrap().systems[0].pssh.as_deref(), Some(&two[..]));
    let other = pssh(&[1; 16], b"");
    let mut short = good.clone();
    short.truncate(30);
    let mut not_pssh = good.clone();
    not_pssh[4..8].copy_from_slice(b"moov");
    let kid_elsewhere = system("").replace(
        &crate::manifest::dash::uuid(&parse_uuid(KID).unwrap()),
        "00000000-0000-0000-0000-000000000009",
    );
    for (body, why) in [
        (
            system(&format!("<PSSH>{}</PSSH>", b64(&other))),
            "another system",
        ),
        (
            system(&format!("<PSSH>{}</PSSH>", b64(&short))),
            "truncated",
        ),
        (
            system(&format!("<PSSH>{}</PSSH>", b64(&not_pssh))),
            "not a pssh",
        ),
        (system("<PSSH>@@@</PSSH>"), "not base64"),
        (
            system(&format!(
                "<ContentProtectionData>{}</ContentProtectionData>",
                b64(b"<a><b></a>")
            )),
            "ContentProtectionData",
        ),
        (
            system(&format!(
                "<HLSSignalingData playlist=\"media\">{}</HLSSignalingData>",
                b64(b"#EXT-X-KEY:METHOD=SAMPLE-AES\nhttps://evil/segment.ts\n")
            )),
            "not an #EXT tag",
        ),
        (
            system(&format!(
                "<HLSSignalingData playlist=\"variant\">{}</HLSSignalingData>",
                b64(b"#EXT-X-KEY:METHOD=SAMPLE-AES")
            )),
            "playlist",
        ),
        (kid_elsewhere, "not the ContentKey's"),
    ] {
        let e = parse(doc(&key_b64(), &body).as_bytes()).unwrap_err();
        assert_eq!(e.status(), 502, "{body}");
        assert!(e.to_string().contains(why), "{body}: {e}");
    }
}

#[test]
fn content_protection_data_whole_or_inner() {
    let whole = r#"<ContentProtection schemeIdUri="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"><pssh xmlns="urn:mpeg:cenc:2013">AAAA</pssh></ContentProtection>"#;
    let c = parse(
        doc(
            &key_b64(),
            &system(&format!(
                "<ContentProtectionData>{}</ContentProtectionData><HLSSignalingData>{}</HLSSignalingData>",
                b64(whole.as_bytes()),
                b64(b"#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI=\"data:text/plain;base64,AAAA\",KEYFORMAT=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\"\r\n")
            )),
        )
        .as_bytes(),
    )
    .unwrap();
    let s = &c.systems[0];
    assert!(is_whole_element(s.content_protection.as_deref().unwrap()));
    // Without @playlist: media lines (CRLF trimmed).
    assert_eq!(s.hls_media.len(), 1);
    assert!(s.hls_media[0].ends_with("d21ed\""));
}

#[test]
fn cpix_paths_sit_beside_the_asset() {
    use crate::crypto::cpix_path;
    let ism = Asset::Ism {
        path: "a/b/title.ism".into(),
    };
    assert_eq!(cpix_path(&ism), "a/b/title.cpix.xml");
    let mp4 = Asset::Mp4 {
        path: "c.d/video.mp4".into(),
    };
    assert_eq!(cpix_path(&mp4), "c.d/video.cpix.xml");
    let set = Asset::UrlSet {
        paths: vec!["x/v_720.mp4".into(), "x/v_360.mp4".into()],
    };
    assert_eq!(cpix_path(&set), "x/v_720.cpix.xml");
    let bare = Asset::Mp4 {
        path: "dir.x/noext".into(),
    };
    assert_eq!(cpix_path(&bare), "dir.x/noext.cpix.xml");
}
