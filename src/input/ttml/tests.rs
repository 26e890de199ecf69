use super::*;

fn p() -> TimeParams {
    TimeParams::default()
}

fn ms(s: &str, p: &TimeParams) -> Option<u64> {
    time_expression(s, p).map(ns_to_ms)
}

fn cues(doc: &str) -> Vec<(u64, u64, String)> {
    parse(doc.as_bytes())
        .unwrap()
        .cues
        .into_iter()
        .map(|c| (c.start_ms, c.end_ms, c.text))
        .collect()
}

const TT: &str =
    r#"<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter""#;

#[test]
fn clock_times() {
    assert_eq!(ms("00:00:01.500", &p()), Some(1500));
    assert_eq!(ms("01:02:03", &p()), Some(3_723_000));
    assert_eq!(ms("00:00:05.1", &p()), Some(5100));
    assert_eq!(ms("100:00:00.000", &p()), Some(360_000_000));
    // frames at the default 30 fps, and at 25 and 30000/1001
    assert_eq!(ms("00:00:01:15", &p()), Some(1500));
    let pal = TimeParams {
        frame_rate: 25,
        ..p()
    };
    assert_eq!(ms("00:00:02:05", &pal), Some(2200));
    let ntsc = TimeParams {
        frame_rate: 30,
        multiplier: (1000, 1001),
        ..p()
    };
    // 29.97 fps: frame 15 = 15 × 1001/30000 s = 500.5 ms
    assert_eq!(time_expression("00:00:00:15", &ntsc), Some(500_500_000));
    // 29.97 fps has frames 0..=29
    assert_eq!(ms("00:00:00:29", &ntsc), Some(968));
    assert_eq!(ms("00:00:00:30", &ntsc), None);
    let sub = TimeParams {
        frame_rate: 25,
        sub_frame_rate: 2,
        ..p()
    };
    assert_eq!(ms("00:00:00:01.1", &sub), Some(60));
    for bad in [
        "0:00:01.000",
        "00:0:01.000",
        "00:60:00",
        "00:00:61",
        "00:00:1.5",
        "00:00:01:30",
        "00:00:00:01.2",
        "00:00:01.",
        "00:00:01.1234567890",
        "aa:bb:cc",
        "00:00:00:00:00",
        "",
        ":",
        "1000000:00:00",
    ] {
        assert_eq!(time_expression(bad, &sub), None, "{bad}");
    }
}

#[test]
fn offset_times() {
    assert_eq!(ms("12.3s", &p()), Some(12_300));
    assert_eq!(ms("1.5h", &p()), Some(5_400_000));
    assert_eq!(ms("2m", &p()), Some(120_000));
    assert_eq!(ms("250ms", &p()), Some(250));
    assert_eq!(ms("45f", &p()), Some(1500));
    let ticks = TimeParams {
        tick_rate: Some(10_000_000),
        ..p()
    };
    assert_eq!(ms("123456789t", &ticks), Some(12_346));
    assert_eq!(time_expression("5t", &p()), Some(5_000_000_000));
    for bad in [
        "12",
        "s",
        "1.s",
        "-1s",
        "1e3s",
        "12.3x",
        "1 s",
        "99999999999999s",
    ] {
        assert_eq!(time_expression(bad, &ticks), None, "{bad}");
    }
    // beyond 1000 h
    assert_eq!(time_expression("1001h", &p()), None);
    assert_eq!(time_expression("1000h", &p()), Some(MAX_TIME_NS));
}

#[test]
fn paragraphs_lines_and_whitespace() {
    let doc = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
{TT} xml:lang="en">
  <head><styling><style xml:id="s1"/></styling><metadata><p begin="0s" end="9s">not a cue</p></metadata></head>
  <body>
    <div>
      <p xml:id="c1" begin="00:00:01.000" end="00:00:03.000">
        Hello   there,<br/>
        <span tts:color="yellow">friend</span> &amp; &lt;co&gt;
      </p>
      <p begin="5s" dur="2.5s">One<br/><br/>line</p>
      <p begin="7s" end="8s">  </p>
    </div>
  </body>
</tt>"#
    );
    let l = parse(doc.as_bytes()).unwrap();
    assert_eq!(l.cues.len(), 2);
    assert_eq!(l.cues[0].id, "c1");
    assert_eq!(
        (
            l.cues[0].start_ms,
            l.cues[0].end_ms,
            l.cues[0].text.as_str()
        ),
        (1000, 3000, "Hello there,\nfriend &amp; &lt;co&gt;")
    );
    assert_eq!(
        (
            l.cues[1].start_ms,
            l.cues[1].end_ms,
            l.cues[1].text.as_str()
        ),
        (5000, 7500, "One\nline")
    );
    assert_eq!(plain_text(&l.cues[0].text), "Hello there,\nfriend & <co>");
}

#[test]
fn inheritance_par_and_seq() {
    // body/div offsets add up; end clips to the parent; no end: the parent's.
    let doc = format!(
        r#"{TT}><body begin="10s"><div begin="1s" end="5s">
          <p begin="1s" end="2s">a</p>
          <p begin="3s">b</p>
          <p begin="3500ms" end="10s">c</p>
          <p begin="6s" end="7s">never</p>
        </div>
        <div begin="20s" timeContainer="seq">
          <p dur="1s">s1</p>
          <p begin="1s" dur="2s">s2</p>
          <p dur="1s">s3</p>
        </div></body></tt>"#
    );
    assert_eq!(
        cues(&doc),
        [
            (12_000, 13_000, "a".into()),
            (14_000, 15_000, "b".into()),
            (14_500, 15_000, "c".into()),
            // the seq div starts at 10 + 20 s
            (30_000, 31_000, "s1".into()),
            (32_000, 34_000, "s2".into()),
            (34_000, 35_000, "s3".into()),
        ]
    );
}

#[test]
fn timed_spans_split_a_paragraph() {
    let doc = format!(
        r#"{TT}><body><div><p begin="1s" end="4s">Who <span begin="1s">is</span> <span begin="2s" end="1h">there?</span></p></div></body></tt>"#
    );
    // span times are relative to the paragraph's begin (par).
    assert_eq!(
        cues(&doc),
        [
            (1000, 2000, "Who".into()),
            (2000, 3000, "Who is".into()),
            (3000, 4000, "Who is there?".into()),
        ]
    );
}

#[test]
fn frame_and_tick_parameters() {
    let doc = format!(
        r#"{TT} ttp:frameRate="25" ttp:tickRate="10000000"><body><div>
          <p begin="00:00:01:05" end="00:00:02:00">f</p>
          <p begin="50f" end="75f">g</p>
          <p begin="30000000t" end="35000000t">t</p>
        </div></body></tt>"#
    );
    assert_eq!(
        cues(&doc),
        [
            (1200, 2000, "f".into()),
            (2000, 3000, "g".into()),
            (3000, 3500, "t".into()),
        ]
    );
    // tickRate from frameRate × subFrameRate when absent
    let doc = format!(
        r#"{TT} ttp:frameRate="30" ttp:frameRateMultiplier="1000 1001"><body><p begin="30t" end="60t">x</p></body></tt>"#
    );
    assert_eq!(cues(&doc), [(1001, 2002, "x".into())]);
}

#[test]
fn open_ended_paragraph_runs_to_the_cap() {
    let doc = format!(r#"{TT}><body><p begin="1s">x</p></body></tt>"#);
    assert_eq!(cues(&doc), [(1000, MAX_TIME_MS, "x".into())]);
}

#[test]
fn errors_not_panics() {
    let err = |d: &str| parse(d.as_bytes()).unwrap_err();
    assert_eq!(err("<smil/>"), TtmlError::NotTtml);
    assert_eq!(err(""), TtmlError::NotTtml);
    assert!(matches!(err("<tt><body><p>"), TtmlError::Xml { .. }));
    assert!(matches!(
        err(&format!(r#"{TT}><body><p begin="1x">a</p></body></tt>"#)),
        TtmlError::BadTime {
            what: "begin time",
            ..
        }
    ));
    assert!(matches!(
        err(&format!(r#"{TT} ttp:frameRate="0"><body/></tt>"#)),
        TtmlError::BadTime { .. }
    ));
    assert!(matches!(
        err(&format!(r#"{TT} ttp:frameRateMultiplier="1"><body/></tt>"#)),
        TtmlError::BadTime { .. }
    ));
    assert!(matches!(err("<tt></body>"), TtmlError::Xml { .. }));
    assert_eq!(parse(b"\xff\xfe<tt/>").unwrap_err(), TtmlError::NotUtf8);
    let big = vec![b' '; MAX_TTML_BYTES + 1];
    assert_eq!(parse(&big).unwrap_err(), TtmlError::TooLarge);
    // an empty document is no cues
    assert!(parse(b"<tt/>").unwrap().cues.is_empty());
}

#[test]
fn hostile_sizes() {
    // deep nesting: spans in spans
    let deep = format!(
        "{TT}><body><div><p>{}x{}</p></div></body></tt>",
        "<span>".repeat(100),
        "</span>".repeat(100)
    );
    assert!(matches!(
        parse(deep.as_bytes()).unwrap_err(),
        TtmlError::TooDeep { .. }
    ));
    // also in skipped subtrees
    let deep = format!("<tt><head>{}</head></tt>", "<a>".repeat(1000));
    assert!(matches!(
        parse(deep.as_bytes()).unwrap_err(),
        TtmlError::TooDeep { .. }
    ));
    // too many pieces in one paragraph
    let parts = format!(
        "{TT}><body><p>{}</p></body></tt>",
        (0..300)
            .map(|i| format!(r#"<span begin="{i}ms">w</span>"#))
            .collect::<String>()
    );
    assert!(matches!(
        parse(parts.as_bytes()).unwrap_err(),
        TtmlError::TooManyParts { .. }
    ));
    // too many cues
    let many = format!(
        "{TT}><body>{}</body></tt>",
        r#"<p begin="1s" end="2s">x</p>"#.repeat(MAX_CUES + 1)
    );
    assert_eq!(parse(many.as_bytes()).unwrap_err(), TtmlError::TooManyCues);
    // a huge text
    let long = format!(
        "{TT}><body><p>{}</p></body></tt>",
        "x".repeat(MAX_CUE_TEXT + 1)
    );
    assert!(matches!(
        parse(long.as_bytes()).unwrap_err(),
        TtmlError::TooLong { .. }
    ));
    // timed spans repeat a paragraph's text per interval: capped in all
    let p = format!(
        r#"<p begin="0s" end="1000s">{}{}</p>"#,
        "y".repeat(3000),
        (0..250)
            .map(|i| format!(r#"<span begin="{i}s">w</span>"#))
            .collect::<String>()
    );
    let amplified = format!("{TT}><body>{}</body></tt>", p.repeat(40));
    assert!(amplified.len() < MAX_TTML_BYTES);
    assert!(matches!(
        parse(amplified.as_bytes()).unwrap_err(),
        TtmlError::TooLong { .. }
    ));
    // an entity-expansion DOCTYPE is not expanded
    let lol = r#"<!DOCTYPE tt [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><tt><body><p begin="0s" end="1s">&b;</p></body></tt>"#;
    let _ = parse(lol.as_bytes());
}

#[test]
fn cues_sorted_by_start() {
    let doc = format!(
        r#"{TT}><body><div begin="10s"><p end="1s">late</p></div><div><p end="1s">early</p></div></body></tt>"#
    );
    assert_eq!(
        cues(&doc),
        [(0, 1000, "early".into()), (10_000, 11_000, "late".into())]
    );
}

#[test]
fn plain_text_of_webvtt_payloads() {
    assert_eq!(
        plain_text("<i>Third cue</i> &amp; more"),
        "Third cue & more"
    );
    assert_eq!(plain_text("<v Bob>hi &lt;3 &foo; <"), "hi <3 &foo; ");
}

#[test]
fn mutated_documents_never_panic() {
    // A deterministic xorshift: byte flips, truncations and spliced
    // fragments of TTML over a document using every feature.
    let base = format!(
        r#"<?xml version="1.0"?>{TT} ttp:frameRate="30" ttp:frameRateMultiplier="1000 1001" ttp:subFrameRate="2" ttp:tickRate="90000"><head><styling/></head><body dur="40s"><div begin="00:00:01:15.1" timeContainer="seq"><p xml:id="a" dur="90000t">x<br/>y <span begin="0.5s" end="12f">z</span></p><p dur="1.5m">w</p></div><div><p begin="2h" end="00:00:03.500">&amp;&lt;</p></div></body></tt>"#
    );
    let pieces: [&[u8]; 8] = [
        b"<span begin=\"1s\">",
        b"</span>",
        b"<br/>",
        b" end=\"99999999999h\"",
        b" dur=\"00:00:00:99\"",
        b"<div timeContainer=\"seq\">",
        b"&#0;",
        b"<p begin=\"1t\">",
    ];
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    assert!(parse(base.as_bytes()).is_ok());
    for _ in 0..3000 {
        let mut d = base.as_bytes().to_vec();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % (d.len() + 1);
            match next() % 4 {
                0 if at < d.len() => d[at] = next() as u8,
                1 => d.truncate(at),
                _ => {
                    let p = pieces[(next() as usize) % pieces.len()];
                    d.splice(at..at, p.iter().copied());
                }
            }
        }
        if let Ok(l) = parse(&d) {
            for c in &l.cues {
                assert!(c.start_ms <= c.end_ms && c.end_ms <= MAX_TIME_MS);
                assert!(!c.text.is_empty() && !c.text.contains("-->"));
                assert!(!c.text.contains("\n\n"));
            }
        }
    }
}
