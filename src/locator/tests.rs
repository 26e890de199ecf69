use super::*;

const LOC: &str = "6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
const ASSET: &str = "9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D";

fn map() -> Locators {
    Locators::parse(&format!(
        r#" {{ "{LOC}" : "{ASSET}",
              "00000000-0000-0000-0000-000000000001": "vod-library" }} "#
    ))
    .unwrap()
}

#[test]
fn guids() {
    assert_eq!(parse_guid("00000000-0000-0000-0000-00000000000a"), Some(10));
    assert_eq!(parse_guid(LOC), parse_guid(&LOC.to_uppercase()));
    assert_eq!(guid_text(parse_guid(ASSET).unwrap()), ASSET.to_lowercase());
    for bad in [
        "",
        "6b1e1f6a2c3d4e5f8a9b0c1d2e3f4a5b",
        "{6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5b}",
        "6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5",
        "6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5g",
        "6b1e1f6a-2c3d-4e5f-8a9b_0c1d2e3f4a5b",
        "+b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
        "6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5bb",
        "ünicode-2c3d-4e5f-8a9b-0c1d2e3f4a",
    ] {
        assert_eq!(parse_guid(bad), None, "{bad}");
    }
}

#[test]
fn hit_maps_the_first_segment_to_the_container() {
    let m = map();
    assert_eq!(m.len(), 2);
    let asset = ASSET.to_lowercase();
    assert_eq!(
        m.rewrite(&format!("/{LOC}/Movie.ism/manifest(format=mpd-time-csf)"))
            .unwrap(),
        format!("/asset-{asset}/Movie.ism/manifest(format=mpd-time-csf)")
    );
    // Keys match without regard to case; encoded GUIDs are decoded first.
    let upper = LOC.to_uppercase();
    assert_eq!(
        m.rewrite(&format!("/{upper}/m.ism/manifest")).unwrap(),
        format!("/asset-{asset}/m.ism/manifest")
    );
    let encoded = format!("%36{}", &LOC[1..]);
    assert_eq!(
        m.rewrite(&format!("/{encoded}/m.ism/manifest")).unwrap(),
        format!("/asset-{asset}/m.ism/manifest")
    );
    assert_eq!(
        m.rewrite("/00000000-0000-0000-0000-000000000001/a/b.mp4/manifest")
            .unwrap(),
        "/vod-library/a/b.mp4/manifest"
    );
    // Only the first segment.
    let later = format!("/x/{LOC}/m.ism/manifest");
    assert_eq!(m.rewrite(&later).unwrap(), later);
}

#[test]
fn miss_is_unknown_and_non_guids_pass() {
    let m = map();
    assert_eq!(
        m.rewrite("/11111111-2222-3333-4444-555555555555/m.ism/manifest"),
        Err(UnknownLocator)
    );
    for p in [
        "/vod/m.ism/manifest",
        "/6b1e1f6a2c3d4e5f8a9b0c1d2e3f4a5b/m.ism/manifest",
        "/6b1e1f6a-2c3d-4e5f-8a9b-0c1d2e3f4a5/m.ism/manifest",
        "/%zz/m.ism/manifest",
        "/",
        "",
    ] {
        assert_eq!(m.rewrite(p).unwrap(), p, "{p}");
    }
    assert_eq!(UnknownLocator::STATUS, 404);
    assert_eq!(UnknownLocator::REASON, "unknown locator");
}

#[test]
fn malformed_maps_are_refused() {
    assert_eq!(Locators::parse("{}").unwrap().len(), 0);
    assert_eq!(Locators::parse(" {\n} \n").unwrap().len(), 0);
    let pair = format!(r#""{LOC}":"{ASSET}""#);
    for (json, want) in [
        ("".to_string(), LocatorError::Syntax(0)),
        ("[]".to_string(), LocatorError::Syntax(0)),
        (format!("{{{pair}"), LocatorError::Syntax(78)),
        (format!("{{{pair},}}"), LocatorError::Syntax(79)),
        (format!("{{{pair}}} x"), LocatorError::Syntax(80)),
        (format!(r#"{{"{LOC}":1}}"#), LocatorError::Syntax(40)),
        (
            format!(r#"{{"{LOC}":{{"a":"b"}}}}"#),
            LocatorError::Syntax(40),
        ),
        (format!(r#"{{"{LOC}":"a\/b"}}"#), LocatorError::Syntax(42)),
        (format!(r#"{{"{LOC}" "x"}}"#), LocatorError::Syntax(40)),
        (r#"{"not-a-guid":"x"}"#.to_string(), LocatorError::Key(1)),
        (format!(r#"{{"{LOC}":"a/b"}}"#), LocatorError::Value(1)),
        (format!(r#"{{"{LOC}":".."}}"#), LocatorError::Value(1)),
        (format!(r#"{{"{LOC}":""}}"#), LocatorError::Value(1)),
        (format!(r#"{{"{LOC}":"a b"}}"#), LocatorError::Value(1)),
        (format!(r#"{{"{LOC}":"%2e%2e"}}"#), LocatorError::Value(1)),
        (
            format!(r#"{{"{LOC}":"a","{}":"b"}}"#, LOC.to_uppercase()),
            LocatorError::Duplicate(2),
        ),
    ] {
        assert_eq!(Locators::parse(&json), Err(want.clone()), "{json}");
        assert!(!want.to_string().is_empty());
    }
    let long = format!(r#"{{"{LOC}":"{}"}}"#, "a".repeat(256));
    assert_eq!(Locators::parse(&long), Err(LocatorError::Value(1)));
    let big = format!("{{{}}}", " ".repeat(MAX_LOCATORS_BYTES));
    assert_eq!(Locators::parse(&big), Err(LocatorError::TooLarge));
}

/// The caps hold: the most entries parse, one more does not.
#[test]
fn entry_cap() {
    let entries = |n: usize| {
        let body: Vec<String> = (0..n)
            .map(|i| format!(r#""{}":"c{i}""#, guid_text(i as u128)))
            .collect();
        format!("{{{}}}", body.join(","))
    };
    let m = Locators::parse(&entries(MAX_LOCATORS)).unwrap();
    assert_eq!(m.len(), MAX_LOCATORS);
    assert_eq!(m.get(12_345), Some("c12345"));
    assert!(matches!(
        Locators::parse(&entries(MAX_LOCATORS + 1)),
        Err(LocatorError::TooMany | LocatorError::TooLarge)
    ));
}
