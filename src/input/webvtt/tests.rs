use super::*;

#[test]
fn parses_cues_ids_settings_and_skips_blocks() {
    let doc = "\u{feff}WEBVTT - title\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\nNOTE a note\n--> not a cue\n\nSTYLE\n::cue { color: red }\n\nREGION\nid:r\n\nc1\n00:00:01.000 --> 00:00:03.500 align:start line:0\nHello\n<i>world</i>\n\n01:02.250 --> 01:02:03.004\nTwo\n";
    let l = parse(doc.as_bytes()).unwrap();
    assert_eq!(l.cues.len(), 2);
    assert_eq!(
        l.cues[0],
        Cue {
            id: "c1".into(),
            start_ms: 1000,
            end_ms: 3500,
            settings: "align:start line:0".into(),
            text: "Hello\n<i>world</i>".into(),
        }
    );
    assert_eq!(l.cues[1].start_ms, 62_250);
    assert!(parse(b"WEBVTT\n\n00:00.000 --> 1:02:03.004\nx\n").is_err());
    assert_eq!(
        parse(b"WEBVTT\n\n00:00.000 --> 01:02:03.004\nx\n")
            .unwrap()
            .cues[0]
            .end_ms,
        3_723_004
    );
}

#[test]
fn crlf_and_cr_line_endings() {
    for nl in ["\r\n", "\r", "\n"] {
        let doc = [
            "WEBVTT",
            "",
            "00:00:05.000 --> 00:00:07.000",
            "a",
            "b",
            "",
            "x",
            "00:00:08.000 --> 00:00:09.000",
            "c",
            "",
        ]
        .join(nl);
        let l = parse(doc.as_bytes()).unwrap();
        assert_eq!(l.cues.len(), 2, "{nl:?}");
        assert_eq!(l.cues[0].text, "a\nb");
        assert_eq!(l.cues[1].id, "x");
    }
}

#[test]
fn empty_file_and_signature() {
    assert_eq!(parse(b"WEBVTT").unwrap().cues.len(), 0);
    assert_eq!(parse(b"WEBVTT\tx\n").unwrap().cues.len(), 0);
    assert_eq!(parse(b"WEBVTTX\n"), Err(VttError::NoSignature));
    assert_eq!(parse(b""), Err(VttError::NoSignature));
    assert_eq!(parse(b"<tt/>"), Err(VttError::NoSignature));
    assert_eq!(parse(b"WEBVTT\n\xff"), Err(VttError::NotUtf8));
}

#[test]
fn bad_timings_are_errors_with_line() {
    for bad in [
        "00:00:01.000 --> 00:00:00.000",
        "00:00:01.00 --> 00:00:02.000",
        "00:60.000 --> 01:00.000",
        "00:00:01.000-->00:00:02.000",
        "00:00:01.000 --> ",
        "a:00:01.000 --> 00:00:02.000",
        "99999999999:00:00.000 --> 99999999999:00:01.000",
        "+1:00.000 --> 02:00.000",
    ] {
        let doc = format!("WEBVTT\n\n{bad}\ntext\n");
        match parse(doc.as_bytes()) {
            Err(VttError::BadTiming { line: 3, .. }) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn hostile_sizes_are_capped() {
    // A million cues in a document under the size cap would need 8 bytes
    // each; a document with MAX_CUES + 1 small cues is refused.
    let mut doc = String::from("WEBVTT\n");
    for _ in 0..=MAX_CUES {
        doc.push_str("\n00:01.000 --> 00:02.000\n");
    }
    assert!(doc.len() < MAX_VTT_BYTES);
    assert_eq!(parse(doc.as_bytes()), Err(VttError::TooManyCues));
    let huge = vec![b'a'; MAX_VTT_BYTES + 1];
    assert_eq!(parse(&huge), Err(VttError::TooLarge));
    let long = format!(
        "WEBVTT\n\n00:01.000 --> 00:02.000\n{}\n",
        "x".repeat(MAX_CUE_TEXT + 1)
    );
    assert_eq!(parse(long.as_bytes()), Err(VttError::TooLong { line: 4 }));
    // One long line without any newline is just a header.
    let one = format!("WEBVTT {}", "y".repeat(MAX_VTT_BYTES - 10));
    assert_eq!(parse(one.as_bytes()).unwrap().cues.len(), 0);
}

#[test]
fn timestamps_round_trip() {
    for ms in [0, 1, 999, 59_999, 3_599_999, 3_600_000, 360_000_000] {
        let mut s = String::new();
        write_timestamp(&mut s, ms);
        assert_eq!(timestamp(&s), Some(ms), "{s}");
    }
}

#[test]
fn overlapping_repeats_spanning_cues() {
    let l = parse(b"WEBVTT\n\n00:01.000 --> 00:05.000\na\n\n00:05.500 --> 00:06.500\nb\n\n00:06.000 --> 00:06.000\nz\n").unwrap();
    let texts = |from, to| {
        l.overlapping(from, to)
            .map(|c| c.text.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(0, Some(6000)), ["a", "b"]);
    assert_eq!(texts(6000, Some(12000)), ["b"]);
    assert_eq!(texts(5000, None), ["b"]);
}

#[test]
fn blob_round_trip() {
    let l = parse("WEBVTT\n\nid é\n00:01.000 --> 00:02.000 line:90%\nà\nb\n".as_bytes()).unwrap();
    let b = l.to_blob("\"etag\"");
    assert_eq!(CueList::from_blob(&b), Some(("\"etag\"".to_string(), l)));
    assert_eq!(CueList::from_blob(&b[..b.len() - 1]), None);
}
