use super::*;

/// Modelled on Azure Media Encoder Standard output: three video
/// bitrates, two audio languages (one via attribute, one via param), a
/// text stream, `<meta>` in the head.
const AZURE_ISM: &str = r#"<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<smil xmlns="http://www.w3.org/2001/SMIL20/Language">
  <head>
    <meta name="formats" content="mp4" />
    <meta name="clientManifestRelativePath" content="BigBuckBunny.ismc" />
  </head>
  <body>
    <switch>
      <video src="BigBuckBunny_3400.mp4" systemBitrate="3400000">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="video" valuetype="data" />
      </video>
      <video src="BigBuckBunny_2250.mp4" systemBitrate="2250000">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="video" valuetype="data" />
      </video>
      <video src="BigBuckBunny_1000.mp4" systemBitrate="1000000">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="video" valuetype="data" />
      </video>
      <audio src="BigBuckBunny_AAC_eng_ch2_128kbps.mp4" systemBitrate="128041" systemLanguage="eng">
        <param name="trackID" value="2" valuetype="data" />
        <param name="trackName" value="aac_eng_2_128041_2_1" valuetype="data" />
        <param name="accessibility" value="" valuetype="data" />
      </audio>
      <audio src="BigBuckBunny_AAC_spa_ch2_128kbps.mp4" systemBitrate="128041">
        <param name="systemLanguage" value="spa" valuetype="data" />
        <param name="trackID" value="2" valuetype="data" />
        <param name="trackName" value="aac_spa_2_128041_2_1" valuetype="data" />
        <param name="role" value="main" valuetype="data" />
      </audio>
      <textstream src="BigBuckBunny_eng.ismt" systemBitrate="1000" systemLanguage="eng">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="textstream_eng" valuetype="data" />
      </textstream>
    </switch>
  </body>
</smil>
"#;

fn err(xml: &str) -> IsmError {
    match parse(xml.as_bytes()) {
        Err(e) => e,
        Ok(m) => panic!("expected an error, got {m:?}\n{xml}"),
    }
}

/// A minimal document around `body` (the contents of `<switch>`).
fn doc(body: &str) -> String {
    format!("<smil><body><switch>{body}</switch></body></smil>")
}

#[test]
fn azure_manifest() {
    let m = parse(AZURE_ISM.as_bytes()).expect("valid .ism");
    assert_eq!(m.tracks.len(), 6);
    let videos: Vec<_> = m
        .tracks
        .iter()
        .filter(|t| t.kind == IsmKind::Video)
        .map(|t| (t.src.as_str(), t.system_bitrate))
        .collect();
    assert_eq!(
        videos,
        [
            ("BigBuckBunny_3400.mp4", Some(3_400_000)),
            ("BigBuckBunny_2250.mp4", Some(2_250_000)),
            ("BigBuckBunny_1000.mp4", Some(1_000_000)),
        ]
    );
    assert!(m.tracks[..3].iter().all(|t| t.track_id == Some(1)
        && t.track_name.as_deref() == Some("video")
        && t.language.is_none()));
    assert_eq!(
        m.tracks[3],
        IsmTrack {
            kind: IsmKind::Audio,
            src: "BigBuckBunny_AAC_eng_ch2_128kbps.mp4".into(),
            system_bitrate: Some(128_041),
            track_id: Some(2),
            track_name: Some("aac_eng_2_128041_2_1".into()),
            language: Some("eng".into()),
            role: None,
            sdh: false,
        }
    );
    assert_eq!(m.tracks[4].language.as_deref(), Some("spa"));
    assert_eq!(
        m.tracks[4].track_name.as_deref(),
        Some("aac_spa_2_128041_2_1")
    );
    assert_eq!(
        m.tracks[5],
        IsmTrack {
            kind: IsmKind::Text,
            src: "BigBuckBunny_eng.ismt".into(),
            system_bitrate: Some(1000),
            track_id: Some(1),
            track_name: Some("textstream_eng".into()),
            language: Some("eng".into()),
            role: None,
            sdh: false,
        }
    );
}

#[test]
fn namespaces_optional_and_prefixes_ignored() {
    let plain = doc(r#"<video src="a.mp4" systemBitrate="1"/>"#);
    let prefixed = r#"<s:smil xmlns:s="http://www.w3.org/2001/SMIL20/Language"><s:body><s:switch><s:video s:src="a.mp4" systemBitrate="1"/></s:switch></s:body></s:smil>"#;
    let a = parse(plain.as_bytes()).expect("plain");
    let b = parse(prefixed.as_bytes()).expect("prefixed");
    assert_eq!(a, b);
    assert_eq!(a.tracks[0].src, "a.mp4");
}

#[test]
fn params_override_attributes() {
    let xml = doc(
        r#"<audio src="a.mp4" systemBitrate="1" systemLanguage="eng" trackName="x">
                 <param name="systemBitrate" value="2"/>
                 <param name="systemLanguage" value="fra"/>
                 <param name="trackName" value="y"/>
                 <param name="trackName" value="z"/>
                 <param name="unknown" value="whatever"/>
                 <param name="noValue"/>
                 <param value="noName"/>
               </audio>"#,
    );
    let t = &parse(xml.as_bytes()).expect("valid").tracks[0];
    assert_eq!(t.system_bitrate, Some(2));
    assert_eq!(t.language.as_deref(), Some("fra"));
    assert_eq!(t.track_name.as_deref(), Some("z"));
}

#[test]
fn ignores_meta_unknown_elements_comments_and_nested_params() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE smil>
<!-- generated -->
<smil>
  <head><meta name="x" content="y"/><video src="../../head-is-ignored.mp4"/></head>
  <body>
    <par><switch>
      <ref src="not-a-track.mp4"/>
      <video src="v.mp4"><extra><param name="trackID" value="0"/></extra><![CDATA[ junk ]]></video>
    </switch></par>
  </body>
  <video src="after-body-is-ignored.mp4"/>
</smil>"#;
    let m = parse(xml.as_bytes()).expect("valid");
    assert_eq!(m.tracks.len(), 1);
    assert_eq!(m.tracks[0].src, "v.mp4");
    assert_eq!(m.tracks[0].track_id, None);
}

#[test]
fn entities_are_unescaped() {
    let xml = doc(r#"<video src="a&amp;b.mp4"/>"#);
    assert_eq!(
        parse(xml.as_bytes()).expect("valid").tracks[0].src,
        "a&b.mp4"
    );
    let xml = doc(r#"<video src="a&#x2F;..&#x2F;b.mp4"/>"#);
    assert!(matches!(err(&xml), IsmError::InvalidSrc { .. }));
    let xml = doc(r#"<video src="&unknown;.mp4"/>"#);
    assert!(matches!(err(&xml), IsmError::Xml { .. }));
}

#[test]
fn malformed_xml() {
    let cases = [
        "<smil><body><switch><video src=\"a.mp4\"></switch></body></smil>",
        "<smil><body><switch><video src=\"a.mp4\"/></body></smil>",
        "<smil><body><switch><video src=\"a.mp4\" src=\"b.mp4\"/></switch></body></smil>",
        "<smil><body><switch><video src=a.mp4/></switch></body></smil>",
        "<smil><body><switch><video src=\"a.mp4/></switch></body></smil>",
        "<smil><body><switch><video src=\"a.mp4\"/></switch></body></smil></smil>",
        "<smil><body><switch><video src=\"a.mp4\"/></switch></body>",
        "<smil><body><switch><video src=\"a.mp4\"/></switch></body></smil><smil/>",
        "<smil><body><switch><video src=\"a.mp4\"/></switch></body></smil",
        "<smil><body><switch><video src=\"a.mp4\"/><",
    ];
    for xml in cases {
        let e = err(xml);
        assert!(
            matches!(e, IsmError::Xml { .. } | IsmError::Structure { .. }),
            "{xml}: {e:?}"
        );
        assert!(e.to_string().starts_with(".ism byte "), "{e}");
    }
    for xml in ["", "   ", "not xml at all", "<?xml version=\"1.0\"?>"] {
        assert!(parse(xml.as_bytes()).is_err(), "{xml:?}");
    }
    assert!(parse(b"<smil>\xff\xfe</smil>").is_err());
    assert!(parse(b"<smil><body><video src=\"\xff.mp4\"/></body></smil>").is_err());
}

#[test]
fn error_positions_point_at_the_element() {
    let xml = doc(r#"<video src="a.mp4"/><audio systemBitrate="1"/>"#);
    let at = xml.find("<audio").expect("present") as u64;
    match err(&xml) {
        IsmError::MissingSrc { pos, element } => {
            assert_eq!((pos, element), (at, "audio"));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(
        err(&xml).to_string(),
        format!(".ism byte {at}: <audio> has no src")
    );
    let xml = doc(r#"<video src="a.mp4" systemBitrate="fast"/>"#);
    let at = xml.find("<video").expect("present") as u64;
    assert!(matches!(
        err(&xml),
        IsmError::InvalidValue { pos, name: "systemBitrate", .. } if pos == at
    ));
}

#[test]
fn structure_errors() {
    assert!(matches!(err("<html/>"), IsmError::NotSmil { pos: 0 }));
    assert!(matches!(
        err("<?xml version=\"1.0\"?>\n<SMIL></SMIL>"),
        IsmError::NotSmil { pos: 22 }
    ));
    assert!(matches!(err("<smil/>"), IsmError::NoTracks));
    assert!(matches!(
        err("<smil><body><switch/></body></smil>"),
        IsmError::NoTracks
    ));
    assert!(matches!(
        err(&doc(r#"<video src="a.mp4"><audio src="b.mp4"/></video>"#)),
        IsmError::Structure { .. }
    ));
    let deep = format!(
        "<smil><body>{}{}</body></smil>",
        "<x>".repeat(100),
        "</x>".repeat(100)
    );
    assert!(matches!(err(&deep), IsmError::Structure { .. }));
}

#[test]
fn missing_src() {
    for body in [
        "<video/>",
        "<video systemBitrate=\"1\"><param name=\"trackID\" value=\"1\"/></video>",
        "<textstream src=\"\"/>",
    ] {
        assert!(
            matches!(err(&doc(body)), IsmError::MissingSrc { .. }),
            "{body}"
        );
    }
}

#[test]
fn hostile_src() {
    for src in [
        "../secret.mp4",
        "a/../../b.mp4",
        "./a.mp4",
        "a//b.mp4",
        "a/",
        "/etc/passwd",
        "//evil.example/x.mp4",
        "http://evil.example/x.mp4",
        "file:///etc/passwd",
        "C:\\media\\x.mp4",
        "..\\x.mp4",
        "a%2F..%2Fb.mp4",
        "a.mp4?x=1",
        "a.mp4#frag",
        "a&#10;b.mp4",
        "a&#0;b.mp4",
        "..",
        ".",
    ] {
        let xml = doc(&format!(r#"<video src="{src}"/>"#));
        assert!(
            matches!(
                parse(xml.as_bytes()),
                Err(IsmError::InvalidSrc { .. } | IsmError::Xml { .. })
            ),
            "{src}: {:?}",
            parse(xml.as_bytes())
        );
    }
    let long = "a".repeat(MAX_SRC_LEN + 1);
    assert!(matches!(
        err(&doc(&format!(r#"<video src="{long}"/>"#))),
        IsmError::InvalidSrc { .. }
    ));
    // Allowed: sub-directories, spaces, unicode.
    let xml = doc(r#"<video src="sub dir/vidéo 1.mp4"/>"#);
    assert_eq!(
        parse(xml.as_bytes()).expect("valid").tracks[0].src,
        "sub dir/vidéo 1.mp4"
    );
}

#[test]
fn invalid_values() {
    let cases = [
        (r#"systemBitrate="""#, "systemBitrate"),
        (r#"systemBitrate="-1""#, "systemBitrate"),
        (r#"systemBitrate="+1""#, "systemBitrate"),
        (r#"systemBitrate=" 1""#, "systemBitrate"),
        (r#"systemBitrate="18446744073709551616""#, "systemBitrate"),
        (r#"trackID="0""#, "trackID"),
        (r#"trackID="4294967296""#, "trackID"),
        (r#"trackID="x""#, "trackID"),
        (r#"trackName="has space""#, "trackName"),
        (r#"trackName="a,b""#, "trackName"),
        (r#"trackName="""#, "trackName"),
        (r#"systemLanguage="""#, "systemLanguage"),
        (r#"systemLanguage="en_US""#, "systemLanguage"),
    ];
    for (attr, want) in cases {
        let xml = doc(&format!(r#"<video src="a.mp4" {attr}/>"#));
        assert!(
            matches!(err(&xml), IsmError::InvalidValue { name, .. } if name == want),
            "{attr}"
        );
        // The same through a param.
        let (name, value) = attr.split_once('=').expect("attr");
        let xml = doc(&format!(
            r#"<video src="a.mp4"><param name="{name}" value={value}/></video>"#
        ));
        assert!(
            matches!(err(&xml), IsmError::InvalidValue { name, .. } if name == want),
            "param {attr}"
        );
    }
    let xml =
        doc(r#"<video src="a.mp4" trackID="4294967295" systemBitrate="18446744073709551615"/>"#);
    let t = &parse(xml.as_bytes()).expect("valid").tracks[0];
    assert_eq!(
        (t.track_id, t.system_bitrate),
        (Some(u32::MAX), Some(u64::MAX))
    );
    let xml = doc(r#"<video src="a.mp4"><param name="trackID"/></video>"#);
    assert!(matches!(
        err(&xml),
        IsmError::InvalidValue { name: "param", .. }
    ));
}

#[test]
fn caps() {
    let one = r#"<video src="a.mp4"/>"#;
    let ok = doc(&one.repeat(MAX_TRACKS));
    assert_eq!(
        parse(ok.as_bytes()).expect("valid").tracks.len(),
        MAX_TRACKS
    );
    let too_many = doc(&one.repeat(MAX_TRACKS + 1));
    let at = (too_many.len() - "</switch></body></smil>".len() - one.len()) as u64;
    assert!(matches!(err(&too_many), IsmError::TooManyTracks { pos } if pos == at));
    let mut huge = doc(one).into_bytes();
    huge.resize(MAX_ISM_BYTES + 1, b' ');
    assert!(matches!(parse(&huge), Err(IsmError::TooLarge { .. })));
    // Exactly the cap, padded with whitespace, still parses.
    huge.truncate(MAX_ISM_BYTES);
    assert!(parse(&huge).is_ok());
}

#[test]
fn resolve_joins_directory() {
    assert_eq!(
        resolve("abr/abr.ism", "video_720.mp4").ok().as_deref(),
        Some("abr/video_720.mp4")
    );
    assert_eq!(
        resolve("a/b/c.ism", "d/e.mp4").ok().as_deref(),
        Some("a/b/d/e.mp4")
    );
    assert_eq!(resolve("c.ism", "e.mp4").ok().as_deref(), Some("e.mp4"));
    for (ism, src) in [
        ("abr/abr.ism", "../x.mp4"),
        ("abr/abr.ism", "/x.mp4"),
        ("abr/abr.ism", "http://x/y.mp4"),
        ("abr/abr.ism", ""),
        ("/abr/abr.ism", "x.mp4"),
        ("../abr.ism", "x.mp4"),
        ("a//abr.ism", "x.mp4"),
        ("", "x.mp4"),
    ] {
        assert!(
            matches!(resolve(ism, src), Err(IsmError::InvalidPath { .. })),
            "{ism} + {src}"
        );
    }
    assert_eq!(
        resolve("abr/abr.ism", "../x.mp4")
            .err()
            .map(|e| e.to_string()),
        Some("src has an empty, '.' or '..' segment".to_string())
    );
}

/// Only media files are read for an `.ism`'s tracks, and never outside
/// its folder.
#[test]
fn resolve_takes_media_files_only() {
    for src in ["x.m4v", "x.M4A", "x.mov", "x.ismv", "x.cmfa", "d/x.cmfv"] {
        assert!(resolve("abr/abr.ism", src).is_ok(), "{src}");
    }
    for src in [
        "secret.json",
        "abr.ism",
        ".mp4",
        "x.mp4.txt",
        "x.ismt",
        "d/",
        "d/.mp4",
    ] {
        assert!(
            matches!(
                resolve("abr/abr.ism", src),
                Err(IsmError::InvalidPath { .. })
            ),
            "{src}"
        );
    }
    assert_eq!(
        resolve("abr/abr.ism", "keys.txt")
            .err()
            .map(|e| e.to_string()),
        Some("src is not a media file".to_string())
    );
    for src in [
        "../x.mp4",
        "a/../../x.mp4",
        "/x.mp4",
        "C:/x.mp4",
        "a\\..\\x.mp4",
    ] {
        assert!(resolve("abr/abr.ism", src).is_err(), "{src}");
    }
}

#[test]
fn resolve_agrees_with_url_asset_paths() {
    let route = crate::url::parse("/vod/abr/abr.ism/manifest", None);
    let Ok(crate::url::Route::Stream(req)) = route else {
        panic!("{route:?}");
    };
    let crate::url::Asset::Ism { path } = req.asset else {
        panic!("{:?}", req.asset);
    };
    let m = parse(AZURE_ISM.as_bytes()).expect("valid");
    let mp4 = resolve(&path, &m.tracks[0].src).expect("resolves");
    assert_eq!(mp4, "vod/abr/BigBuckBunny_3400.mp4");
}

/// Truncating a valid document anywhere, or flipping bytes, never panics.
#[test]
fn truncations_and_corruptions_never_panic() {
    let bytes = AZURE_ISM.as_bytes();
    for end in 0..bytes.len() {
        let _ = parse(&bytes[..end]);
    }
    let mut state: u32 = 0x1234_5678;
    for _ in 0..2000 {
        let mut b = bytes.to_vec();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let at = state as usize % b.len();
            b[at] = (state >> 8) as u8;
        }
        if let Ok(m) = parse(&b) {
            assert!(m.tracks.iter().all(|t| validate_src(&t.src).is_ok()));
        }
    }
}

#[test]
fn attribute_and_element_caps() {
    let with_attrs = |n: usize| {
        let attrs: String = (0..n).map(|i| format!(" a{i}=\"\"")).collect();
        doc(&format!("<video src=\"a.mp4\"{attrs}/>"))
    };
    // `src` plus the others: exactly the cap parses.
    assert!(parse(with_attrs(MAX_ATTRIBUTES - 1).as_bytes()).is_ok());
    let over = with_attrs(MAX_ATTRIBUTES);
    let at = "<smil><body><switch>".len() as u64;
    assert!(matches!(err(&over), IsmError::TooManyAttributes { pos } if pos == at));
    assert_eq!(
        err(&over).to_string(),
        format!(".ism byte {at}: more than {MAX_ATTRIBUTES} attributes on one element")
    );
    // On an element we otherwise ignore too, and on a param.
    let meta: String = (0..=MAX_ATTRIBUTES)
        .map(|i| format!(" m{i}=\"\""))
        .collect();
    let xml = format!("<smil><head><meta{meta}/></head><body><switch><video src=\"a.mp4\"/></switch></body></smil>");
    assert!(matches!(err(&xml), IsmError::TooManyAttributes { .. }));
    // ~95 000 attributes (quadratic before the cap: 9 s of CPU) are
    // refused at the 65th.
    assert!(matches!(
        err(&with_attrs(95_000)),
        IsmError::TooManyAttributes { .. }
    ));
    // Duplicates are still refused, without quick-xml's quadratic check.
    let dup = doc(r#"<video src="a.mp4" systemBitrate="1" systemBitrate="2"/>"#);
    assert!(matches!(err(&dup), IsmError::Structure { .. }));
    // Elements: the cap counts every start and empty tag.
    let fill = |n: usize| doc(&format!("<video src=\"a.mp4\"/>{}", "<x/>".repeat(n)));
    assert!(parse(fill(MAX_ELEMENTS - 4).as_bytes()).is_ok());
    let over = fill(MAX_ELEMENTS - 3);
    let at = (over.len() - "</switch></body></smil>".len() - "<x/>".len()) as u64;
    assert!(matches!(err(&over), IsmError::TooManyElements { pos } if pos == at));
}

/// An object that is not an `.ism` (a renamed text file, binary data) is
/// refused without quoting any of its bytes, its size or an offset in it.
#[test]
fn non_ism_objects_are_not_quoted() {
    let secret = "password=hunter2";
    let cases = [
        format!("{secret}</{secret}>"),
        format!("\u{1}\u{2}<<{secret}"),
        format!("<{secret}/>"),
        format!("<html><{secret}></html>"),
    ];
    for xml in &cases {
        let e = err(xml);
        assert!(matches!(e, IsmError::NotSmil { .. }), "{xml}: {e:?}");
        let shown = e.to_string();
        assert!(
            !shown.contains("hunter2") && !shown.chars().any(|c| c.is_ascii_digit()),
            "{shown}"
        );
    }
    let big = vec![b' '; MAX_ISM_BYTES + 1];
    let shown = parse(&big).expect_err("too large").to_string();
    assert!(!shown.contains(&(MAX_ISM_BYTES + 1).to_string()), "{shown}");
}

/// Fuzz finding F5 (BENCHMARKS.md, Fuzzing): a non-`.ism` object whose
/// first element has more than [`MAX_ATTRIBUTES`] attributes was refused
/// as "byte 7: more than 64 attributes", an offset in it; the root is now
/// checked first. The input is `fuzz/regressions/f5-ism-attributes-before-root.xml`.
#[test]
fn fuzz_f5_too_many_attributes_on_a_non_smil_root_is_not_smil() {
    let attrs: String = (0..=MAX_ATTRIBUTES)
        .map(|i| format!(" a{i}=\"\""))
        .collect();
    for xml in [
        format!("switch><video src=\"a.mp4\"{attrs}/>"),
        format!("<html{attrs}><body/></html>"),
    ] {
        let e = err(&xml);
        assert!(matches!(e, IsmError::NotSmil { .. }), "{e:?}");
        assert!(!e.to_string().chars().any(|c| c.is_ascii_digit()), "{e}");
    }
    // On the `<smil>` root itself the cap still holds.
    let xml = format!("<smil{attrs}><body><video src=\"a.mp4\"/></body></smil>");
    assert!(matches!(err(&xml), IsmError::TooManyAttributes { pos: 0 }));
}

#[test]
fn textstream_role_and_accessibility() {
    let doc = br#"<smil><body><switch>
      <textstream src="x_eng.vtt" systemLanguage="eng">
        <param name="trackName" value="sub_eng"/>
        <param name="role" value="caption"/>
        <param name="accessibility" value="sdh"/>
      </textstream>
      <textstream src="x_fra.vtt" systemLanguage="fra"><param name="role" value="forced"/></textstream>
    </switch></body></smil>"#;
    let m = parse(doc).unwrap();
    assert_eq!(m.tracks[0].role, Some(TextRole::Caption));
    assert!(m.tracks[0].sdh);
    assert_eq!(m.tracks[1].role, Some(TextRole::Forced));
    assert!(!m.tracks[1].sdh);
    // Values of Azure's own (`main`, an empty accessibility) are ignored.
    for other in [
        r#"name="role" value="main""#,
        r#"name="accessibility" value="" "#,
    ] {
        let doc = format!(
            r#"<smil><body><textstream src="a.vtt"><param {other}/></textstream></body></smil>"#
        );
        let m = parse(doc.as_bytes()).unwrap();
        assert_eq!(
            (m.tracks[0].role, m.tracks[0].sdh),
            (None, false),
            "{other}"
        );
    }
    assert_eq!(resolve_text("d/x.ism", "x_eng.vtt").unwrap(), "d/x_eng.vtt");
    assert!(resolve_text("d/x.ism", "x_eng.mp4").is_err());
    assert!(resolve_text("d/x.ism", "../x.vtt").is_err());
}
