use super::azure::{bitrate_range, parse};
use super::modifiers::{Order, Resolution, SetError};
use super::*;
use crate::testutil::{synth_set, SynthTrack};

/// The example of Azure's "Create or update an asset filter" REST page.
const AZURE_EXAMPLE: &str = r#"{
  "name": "assetFilterWithTimeWindowAndTrack",
  "id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Media/mediaServices/z/assets/a/assetFilters/f",
  "type": "Microsoft.Media/mediaservices/assets/assetFilters",
  "properties": {
    "presentationTimeRange": {
      "startTimestamp": 0,
      "endTimestamp": 170000000,
      "presentationWindowDuration": 9223372036854775000,
      "liveBackoffDuration": 0,
      "timescale": 10000000,
      "forceEndTimestamp": false
    },
    "firstQuality": { "bitrate": 128000 },
    "tracks": [
      { "trackSelections": [
          { "property": "Type", "operation": "Equal", "value": "Audio" },
          { "property": "Language", "operation": "NotEqual", "value": "en" },
          { "property": "FourCC", "operation": "NotEqual", "value": "EC-3" }
      ] },
      { "trackSelections": [
          { "property": "Type", "operation": "Equal", "value": "Video" },
          { "property": "Bitrate", "operation": "Equal", "value": "3000000-5000000" }
      ] }
    ]
  }
}"#;

fn cond(property: Property, equal: bool, value: Value) -> Condition {
    Condition {
        property,
        equal,
        value,
    }
}

#[test]
fn parses_azure_example() {
    let f = parse("f", AZURE_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(
        f.range,
        TimeRange {
            start: None,
            end: Some(170_000_000)
        }
    );
    assert_eq!(f.first_quality, Some(128_000));
    assert_eq!(f.selections.len(), 2);
    assert_eq!(
        f.selections[0],
        vec![
            cond(Property::Type, true, Value::Kind(TrackKind::Audio)),
            cond(Property::Language, false, Value::Text("en".into())),
            cond(Property::FourCC, false, Value::Text("ec-3".into())),
        ]
    );
    assert_eq!(
        f.selections[1][1],
        cond(
            Property::Bitrate,
            true,
            Value::Bitrate(3_000_000, 5_000_000)
        )
    );
}

#[test]
fn properties_alone_and_case_insensitive() {
    let json = br#"{"PresentationTimeRange":{"StartTimestamp":"20","ENDTIMESTAMP":40,"Timescale":1},
        "Tracks":[{"TrackSelections":[{"Property":"type","Operation":"notequal","Value":"VIDEO"}]}]}"#;
    let f = parse("f", json).unwrap();
    assert_eq!(f.range.start, Some(200_000_000));
    assert_eq!(f.range.end, Some(400_000_000));
    assert_eq!(
        f.selections,
        vec![vec![cond(
            Property::Type,
            false,
            Value::Kind(TrackKind::Video)
        )]]
    );
    // Timescale variants: ms, and Azure's default (HNS).
    let f = parse(
        "f",
        br#"{"presentationTimeRange":{"startTimestamp":1500,"timescale":1000}}"#,
    )
    .unwrap();
    assert_eq!(f.range.start, Some(15_000_000));
    let f = parse(
        "f",
        br#"{"presentationTimeRange":{"endTimestamp":9223372036854775807}}"#,
    )
    .unwrap();
    assert!(f.range.is_unbounded(), "i64::MAX is Azure's 'no end'");
    let f = parse("f", br#"{"properties":{}}"#).unwrap();
    assert_eq!(f, Filter::default());
}

#[test]
fn bitrate_values() {
    assert_eq!(bitrate_range("0-2427000"), Ok((0, 2_427_000)));
    assert_eq!(bitrate_range("128000"), Ok((128_000, 128_000)));
    for bad in ["", "-", "5-1", "abc", "1-", "99999999999999999999", "+5"] {
        assert!(bitrate_range(bad).is_err(), "{bad}");
    }
    let f = parse(
        "f",
        br#"{"tracks":[{"trackSelections":[{"property":"Bitrate","operation":"Equal","value":128000}]}]}"#,
    )
    .unwrap();
    assert_eq!(f.selections[0][0].value, Value::Bitrate(128_000, 128_000));
}

fn invalid(json: &[u8]) -> String {
    match parse("bad", json) {
        Err(e @ FilterError::Invalid { .. }) => {
            assert_eq!(e.status(), 502);
            e.to_string()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_filters_are_refused() {
    assert!(invalid(b"not json").contains("invalid JSON"));
    assert!(invalid(b"[]").contains("not a JSON object"));
    assert!(
        invalid(br#"{"presentationTimeRange":{"startTimestamp":5,"endTimestamp":5}}"#)
            .contains("not before")
    );
    assert!(invalid(br#"{"presentationTimeRange":{"timescale":0}}"#).contains("timescale"));
    assert!(
        invalid(br#"{"presentationTimeRange":{"startTimestamp":-1}}"#).contains("startTimestamp")
    );
    assert!(invalid(
        br#"{"tracks":[{"trackSelections":[{"property":"Color","operation":"Equal","value":"x"}]}]}"#
    )
    .contains("unknown property"));
    assert!(invalid(
        br#"{"tracks":[{"trackSelections":[{"property":"Type","operation":"Like","value":"Audio"}]}]}"#
    )
    .contains("unknown operation"));
    assert!(invalid(
        br#"{"tracks":[{"trackSelections":[{"property":"Type","operation":"Equal","value":"Sound"}]}]}"#
    )
    .contains("unknown Type"));
    assert!(invalid(br#"{"tracks":[{"trackSelections":[]}]}"#).contains("empty"));
}

/// Hostile files end in a bounded error, never a panic or unbounded work.
#[test]
fn hostile_json_is_bounded() {
    // Deep nesting: serde_json's recursion limit.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(invalid(&deep.as_bytes()[..60_000]).contains("invalid JSON"));
    let deep_obj = format!(
        "{{\"properties\":{}1{}}}",
        "{\"a\":".repeat(5000),
        "}".repeat(5000)
    );
    assert!(invalid(deep_obj.as_bytes()).contains("invalid JSON"));
    // Huge numbers.
    assert!(invalid(br#"{"presentationTimeRange":{"startTimestamp":1e400}}"#).contains("JSON"));
    assert!(
        invalid(br#"{"presentationTimeRange":{"startTimestamp":184467440737095516150000}}"#)
            .contains("startTimestamp")
    );
    assert!(invalid(br#"{"firstQuality":{"bitrate":1.5}}"#).contains("bitrate"));
    // A 10 MB string: refused on size before parsing.
    let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(10 << 20));
    assert!(invalid(huge.as_bytes()).contains("larger than"));
    // Counts.
    let sel = r#"{"trackSelections":[{"property":"Type","operation":"Equal","value":"Audio"}]}"#;
    let many = format!(
        "{{\"tracks\":[{}]}}",
        vec![sel; MAX_SELECTIONS + 1].join(",")
    );
    assert!(invalid(many.as_bytes()).contains("more than"));
    let c = r#"{"property":"Type","operation":"Equal","value":"Audio"}"#;
    let many = format!(
        "{{\"tracks\":[{{\"trackSelections\":[{}]}}]}}",
        vec![c; MAX_CONDITIONS + 1].join(",")
    );
    assert!(invalid(many.as_bytes()).contains("more than"));
    let long = format!(
        r#"{{"tracks":[{{"trackSelections":[{{"property":"Name","operation":"Equal","value":"{}"}}]}}]}}"#,
        "n".repeat(MAX_VALUE_LEN + 1)
    );
    assert!(invalid(long.as_bytes()).contains("longer"));
}

/// 30 s of video (2 s GOPs, 6 s segments) in two renditions, and two
/// audio tracks, English and French.
fn title() -> MediaSet {
    let mut set = synth_set(
        &[
            SynthTrack::video(750, 25, 50),
            SynthTrack::video(750, 25, 50),
            SynthTrack::audio(1406),
            SynthTrack::audio(1406),
        ],
        6000,
    );
    for (t, (name, bitrate, lang)) in set.tracks.iter_mut().zip([
        ("video", 3_000_000, "und"),
        ("video", 1_000_000, "und"),
        ("audio_eng", 128_000, "eng"),
        ("audio_fra", 96_000, "fra"),
    ]) {
        t.name = name.into();
        t.bitrate = bitrate;
        t.language = lang.into();
    }
    set.files[0].index.tracks[1].info.height = 720;
    set.files[0].index.tracks[1].info.width = 1280;
    set
}

fn names(set: &MediaSet) -> Vec<String> {
    set.tracks
        .iter()
        .map(|t| format!("{}@{}", t.name, t.bitrate))
        .collect()
}

fn selecting(selections: Vec<Vec<Condition>>) -> Filter {
    Filter {
        selections,
        ..Filter::default()
    }
}

#[test]
fn selections_and_within_or_across() {
    let audio = cond(Property::Type, true, Value::Kind(TrackKind::Audio));
    let not_en = cond(Property::Language, false, Value::Text("en".into()));
    let video = cond(Property::Type, true, Value::Kind(TrackKind::Video));
    let low = cond(Property::Bitrate, true, Value::Bitrate(0, 2_000_000));
    let f = selecting(vec![vec![audio.clone(), not_en], vec![video, low]]);
    let set = apply(title(), &[f], &Modifiers::default()).unwrap();
    assert_eq!(names(&set), ["video@1000000", "audio_fra@96000"]);
    // NotEqual on a name; names compare case-insensitively.
    let f = selecting(vec![vec![cond(
        Property::Name,
        false,
        Value::Text("audio_eng".into()),
    )]]);
    let set = apply(title(), &[f], &Modifiers::default()).unwrap();
    assert_eq!(
        names(&set),
        ["video@3000000", "video@1000000", "audio_fra@96000"]
    );
    // FourCC of the sample entry / codec string.
    let f = selecting(vec![vec![cond(
        Property::FourCC,
        true,
        Value::Text("mp4a".into()),
    )]]);
    assert_eq!(
        apply(title(), &[f], &Modifiers::default())
            .unwrap()
            .tracks
            .len(),
        2
    );
    // Nothing left: 400.
    let f = selecting(vec![vec![cond(
        Property::Type,
        true,
        Value::Kind(TrackKind::Subtitle),
    )]]);
    let e = apply(title(), &[f], &Modifiers::default()).unwrap_err();
    assert_eq!(e.status(), 400);
}

#[test]
fn languages_compare_by_primary_subtag() {
    assert!(same_language("eng", "en"));
    assert!(same_language("en-US", "ENG"));
    assert!(same_language("fre", "fra"));
    assert!(!same_language("eng", "fra"));
    assert!(!same_language("und", "und"));
    assert!(!same_language("", "en"));
}

fn starts_hns(set: &MediaSet) -> Vec<u64> {
    set.timeline
        .starts
        .iter()
        .map(|&s| crate::timeline::rescale(s, set.timeline.timescale, HNS) as u64)
        .collect()
}

fn clip(start: Option<u64>, end: Option<u64>) -> Result<Clip, FilterError> {
    let set = title();
    Clip::of(&set.timeline, TimeRange { start, end })
}

#[test]
fn clips_round_out_to_whole_segments() {
    let set = title();
    let s = starts_hns(&set);
    assert_eq!(s, [0, 60_000_000, 120_000_000, 180_000_000, 240_000_000]);
    // Start inside the first segment: from segment 0.
    let c = clip(Some(10_000_000), Some(130_000_000)).unwrap();
    assert_eq!((c.first, c.last), (0, 2));
    assert_eq!((c.start_hns, c.end_hns), (0, 180_000_000));
    // Start inside segment 1, end exactly at a boundary: that segment
    // (which starts at the end) is not included.
    let c = clip(Some(70_000_000), Some(180_000_000)).unwrap();
    assert_eq!((c.first, c.last), (1, 2));
    assert_eq!(c.duration_secs(), 12.0);
    // End past the end of the title: to the last segment.
    let c = clip(Some(240_000_000), Some(u64::MAX)).unwrap();
    assert_eq!((c.first, c.last), (4, 4));
    let end = crate::timeline::rescale(set.timeline.end, set.timeline.timescale, HNS);
    assert_eq!(c.end_hns, end as u64, "the title's end (29.96 s: the edit)");
    // Open ends.
    let c = clip(None, Some(1)).unwrap();
    assert_eq!((c.first, c.last), (0, 0));
    // Nothing left: start at or after the end, end at 0.
    assert_eq!(clip(Some(end as u64), None).unwrap_err().status(), 400);
    assert!(clip(None, Some(0)).is_err());
}

#[test]
fn clipped_view_keeps_numbers_and_times() {
    let full = title();
    let f = Filter {
        range: TimeRange {
            start: Some(70_000_000),
            end: Some(170_000_000),
        },
        ..Filter::default()
    };
    let set = apply(title(), &[f], &Modifiers::default()).unwrap();
    for (a, b) in set.tracks.iter().zip(&full.tracks) {
        let all = full.segments(b).unwrap();
        let some = set.segments(a).unwrap();
        assert_eq!(some, all[1..3].to_vec(), "{}", a.name);
    }
    assert_eq!(set.duration_secs(), 12.0);
}

#[test]
fn combined_filters_intersect() {
    let range = |s, e| Filter {
        range: TimeRange {
            start: Some(s),
            end: Some(e),
        },
        ..Filter::default()
    };
    let audio = selecting(vec![vec![cond(
        Property::Type,
        true,
        Value::Kind(TrackKind::Audio),
    )]]);
    let fra = selecting(vec![vec![cond(
        Property::Language,
        true,
        Value::Text("fr".into()),
    )]]);
    let video = selecting(vec![vec![cond(
        Property::Type,
        true,
        Value::Kind(TrackKind::Video),
    )]]);
    let set = apply(
        title(),
        &[
            range(0, 200_000_000),
            audio.clone(),
            range(130_000_000, 290_000_000),
        ],
        &Modifiers::default(),
    )
    .unwrap();
    let c = set.clip.unwrap();
    assert_eq!((c.first, c.last), (2, 3));
    assert_eq!(names(&set), ["audio_eng@128000", "audio_fra@96000"]);
    let set = apply(title(), &[audio.clone(), fra], &Modifiers::default()).unwrap();
    assert_eq!(names(&set), ["audio_fra@96000"]);
    assert!(apply(title(), &[audio, video], &Modifiers::default()).is_err());
    // Disjoint ranges leave nothing.
    let e = apply(
        title(),
        &[range(0, 50_000_000), range(130_000_000, 290_000_000)],
        &Modifiers::default(),
    )
    .unwrap_err();
    assert_eq!(e.status(), 400);
}

#[test]
fn first_quality_goes_first() {
    let f = Filter {
        first_quality: Some(900_000),
        ..Filter::default()
    };
    let set = apply(title(), &[f], &Modifiers::default()).unwrap();
    assert_eq!(
        names(&set),
        [
            "video@1000000",
            "video@3000000",
            "audio_eng@128000",
            "audio_fra@96000"
        ]
    );
}

fn mods(pairs: &[(&str, &str)]) -> Modifiers {
    let mut m = Modifiers::default();
    for (k, v) in pairs {
        assert_eq!(m.set(k, v), Ok(true), "{k}={v}");
    }
    m
}

#[test]
fn modifier_values() {
    assert_eq!(
        Resolution::parse("720p"),
        Some(Resolution {
            width: None,
            height: 720
        })
    );
    assert_eq!(
        Resolution::parse("1280X720"),
        Some(Resolution {
            width: Some(1280),
            height: 720
        })
    );
    let mut m = Modifiers::default();
    for (k, v) in [
        ("max_resolution", "720"),
        ("max_resolution", "0p"),
        ("min_resolution", "x720"),
        ("max_bitrate", "3M"),
        ("max_bitrate", "0"),
        ("rendition_order", "random"),
        ("default_audio_lang", "e"),
        ("default_audio_lang", "en_US"),
        ("default_subtitles_lang", ""),
    ] {
        assert!(matches!(m.set(k, v), Err(SetError::Invalid(_))), "{k}={v}");
    }
    assert_eq!(m.set("colour", "red"), Ok(false));
    let m = mods(&[("MAX_BITRATE", "2000000"), ("rendition_order", "ASC")]);
    assert_eq!(m.rendition_order, Some(Order::Ascending));
    assert_eq!(m.url_options(), ",max_bitrate=2000000,rendition_order=asc");
    let mut m2 = m.clone();
    assert_eq!(
        m2.set("max_bitrate", "1"),
        Err(SetError::Duplicate("max_bitrate"))
    );
    assert_eq!(
        m.clone().merge(mods(&[("max_bitrate", "1")])),
        Err("max_bitrate")
    );
    assert_eq!(m.clone().merge(m.clone()), Ok(m));
}

#[test]
fn modifiers_narrow_and_reorder() {
    let run = |pairs: &[(&str, &str)]| apply(title(), &[], &mods(pairs)).map(|s| names(&s));
    assert_eq!(
        run(&[("max_resolution", "360p")]).unwrap(),
        ["video@3000000", "audio_eng@128000", "audio_fra@96000"]
    );
    assert_eq!(
        run(&[("min_resolution", "1280x720")]).unwrap(),
        ["video@1000000", "audio_eng@128000", "audio_fra@96000"]
    );
    assert_eq!(
        run(&[("max_bitrate", "2000000"), ("default_audio_lang", "fr")]).unwrap(),
        ["video@1000000", "audio_fra@96000", "audio_eng@128000"]
    );
    assert_eq!(
        run(&[("rendition_order", "asc")]).unwrap(),
        [
            "video@1000000",
            "video@3000000",
            "audio_fra@96000",
            "audio_eng@128000"
        ]
    );
    assert_eq!(
        run(&[("min_bitrate", "1000000"), ("rendition_order", "desc")]).unwrap(),
        [
            "video@3000000",
            "video@1000000",
            "audio_eng@128000",
            "audio_fra@96000"
        ]
    );
    for bad in [
        vec![("max_bitrate", "1000")],
        vec![("min_resolution", "2160p")],
        vec![("default_audio_lang", "de")],
        vec![("default_subtitles_lang", "en")],
    ] {
        let e = apply(title(), &[], &mods(&bad)).unwrap_err();
        assert_eq!(e.status(), 400, "{bad:?}");
    }
}

#[test]
fn default_subtitles_lang_prefers_a_non_forced_track() {
    use crate::input::ism::{SidecarFormat, TextRole};
    use crate::media_set::TextTrack;
    let text = |name: &str, lang: &str, role| TextTrack {
        path: format!("{name}.vtt"),
        name: name.into(),
        bitrate: 1000,
        language: lang.into(),
        role,
        sdh: false,
        format: SidecarFormat::WebVtt,
        embedded: None,
        default: false,
    };
    let with_texts = || {
        let mut set = title();
        set.texts = vec![
            text("fr", "fra", TextRole::Subtitle),
            text("en_forced", "eng", TextRole::Forced),
            text("en", "en-GB", TextRole::Subtitle),
        ];
        set
    };
    let order = |set: &MediaSet| {
        set.texts
            .iter()
            .map(|t| format!("{}{}", t.name, if t.default { "*" } else { "" }))
            .collect::<Vec<_>>()
    };
    let set = apply(
        with_texts(),
        &[],
        &mods(&[("default_subtitles_lang", "en")]),
    )
    .unwrap();
    assert_eq!(order(&set), ["en*", "fr", "en_forced"]);
    // A forced track only when the language has nothing else.
    let mut only_forced = with_texts();
    only_forced.texts.pop();
    let set = apply(
        only_forced,
        &[],
        &mods(&[("default_subtitles_lang", "eng")]),
    )
    .unwrap();
    assert_eq!(order(&set), ["en_forced*", "fr"]);
    // Without the modifier, none is the default.
    let set = apply(with_texts(), &[], &mods(&[("max_bitrate", "5000000")])).unwrap();
    assert_eq!(order(&set), ["fr", "en_forced", "en"]);
    let e = apply(
        with_texts(),
        &[],
        &mods(&[("default_subtitles_lang", "de")]),
    )
    .unwrap_err();
    assert_eq!(e.status(), 400);
}
