use super::*;

const T: SampleTime = SampleTime {
    start_ms: 1000,
    end_ms: 2500,
    media_offset_ms: 0,
};

fn bx(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(typ);
    v.extend_from_slice(payload);
    v
}

fn tx3g(text: &[u8]) -> Vec<u8> {
    let mut v = (text.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(text);
    v
}

fn run(format: TextFormat, data: &[u8]) -> Result<Vec<Cue>, TextSampleError> {
    let mut out = Vec::new();
    decode(format, data, T, &mut out)?;
    Ok(out)
}

#[test]
fn tx3g_utf8_with_modifiers_and_escapes() {
    let mut s = tx3g("Hello <b> & -->\r\n\r\nworld é".as_bytes());
    // A `styl` modifier box after the text is ignored.
    s.extend(bx(b"styl", &[0, 0]));
    let cues = run(TextFormat::Tx3g, &s).unwrap();
    assert_eq!(cues.len(), 1);
    assert_eq!(cues[0].text, "Hello &lt;b&gt; &amp; --&gt;\nworld é");
    assert_eq!((cues[0].start_ms, cues[0].end_ms), (1000, 2500));
}

#[test]
fn tx3g_utf16_both_orders() {
    let be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain("Hé".encode_utf16().flat_map(|u| u.to_be_bytes()))
        .collect();
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("Hé".encode_utf16().flat_map(|u| u.to_le_bytes()))
        .collect();
    for b in [be, le] {
        assert_eq!(run(TextFormat::Tx3g, &tx3g(&b)).unwrap()[0].text, "Hé");
    }
    // An odd UTF-16 length is not text.
    assert_eq!(
        run(TextFormat::Tx3g, &tx3g(&[0xFE, 0xFF, 0])),
        Err(TextSampleError::Encoding)
    );
}

#[test]
fn tx3g_gaps_and_hostile_lengths() {
    assert_eq!(run(TextFormat::Tx3g, &[0, 0]).unwrap(), []);
    assert_eq!(run(TextFormat::Tx3g, &[]).unwrap(), []);
    assert_eq!(run(TextFormat::Tx3g, &tx3g(b"  \n")).unwrap(), []);
    assert!(matches!(
        run(TextFormat::Tx3g, &[0xFF, 0xFF, b'a']),
        Err(TextSampleError::Truncated(_))
    ));
    assert!(matches!(
        run(TextFormat::Tx3g, &[0]),
        Err(TextSampleError::Truncated(_))
    ));
    assert_eq!(
        run(TextFormat::Tx3g, &tx3g(&[0xC3])),
        Err(TextSampleError::Encoding)
    );
    assert!(TextFormat::Tx3g.is_gap(2) && !TextFormat::Tx3g.is_gap(3));
}

#[test]
fn wvtt_cues_and_empty() {
    let vttc = |id: &[u8], sttg: &[u8], payl: &[u8]| {
        let mut inner = Vec::new();
        if !id.is_empty() {
            inner.extend(bx(b"iden", id));
        }
        if !sttg.is_empty() {
            inner.extend(bx(b"sttg", sttg));
        }
        inner.extend(bx(b"payl", payl));
        bx(b"vttc", &inner)
    };
    let mut s = vttc(b"c1", b"line:0 align:start", b"<i>one</i>\n\ntwo");
    s.extend(bx(b"vtta", b"a comment"));
    s.extend(vttc(b"", b"", b"three --> four"));
    let cues = run(TextFormat::Wvtt, &s).unwrap();
    assert_eq!(cues.len(), 2);
    assert_eq!(cues[0].id, "c1");
    assert_eq!(cues[0].settings, "line:0 align:start");
    assert_eq!(cues[0].text, "<i>one</i>\ntwo");
    assert_eq!(cues[1].text, "three --&gt; four");
    assert_eq!(run(TextFormat::Wvtt, &bx(b"vtte", &[])).unwrap(), []);
    assert!(TextFormat::Wvtt.is_gap(8));
    // A box claiming more than the sample holds.
    let mut bad = bx(b"vttc", &bx(b"payl", b"x"));
    bad[3] = 200;
    assert!(matches!(
        run(TextFormat::Wvtt, &bad),
        Err(TextSampleError::Truncated(_))
    ));
    let mut inner = bx(b"payl", b"x");
    inner[3] = 3;
    assert!(run(TextFormat::Wvtt, &bx(b"vttc", &inner)).is_err());
    let many: Vec<u8> = (0..=MAX_SAMPLE_CUES)
        .flat_map(|_| vttc(b"", b"", b"x"))
        .collect();
    assert_eq!(
        run(TextFormat::Wvtt, &many),
        Err(TextSampleError::TooManyCues)
    );
}

#[test]
fn stpp_document_on_media_time_clipped() {
    let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xml:lang="en"><body><div>
<p begin="00:00:00.500" end="00:00:01.800">early</p>
<p begin="00:00:02.000" end="00:00:03.000">late</p>
<p begin="00:00:05.000" end="00:00:06.000">outside</p>
</div></body></tt>"#;
    let cues = run(TextFormat::Stpp, doc).unwrap();
    let got: Vec<_> = cues
        .iter()
        .map(|c| (c.start_ms, c.end_ms, c.text.as_str()))
        .collect();
    assert_eq!(got, [(1000, 1800, "early"), (2000, 2500, "late")]);
    let shifted = SampleTime {
        media_offset_ms: 500,
        ..T
    };
    let mut out = Vec::new();
    decode(TextFormat::Stpp, doc, shifted, &mut out).unwrap();
    assert_eq!((out[0].start_ms, out[0].end_ms), (1000, 1300));
    assert!(matches!(
        run(TextFormat::Stpp, b"<tt"),
        Err(TextSampleError::Ttml(_))
    ));
}

#[test]
fn pieces_join() {
    let c = |s, e, t: &str| Cue {
        id: String::new(),
        start_ms: s,
        end_ms: e,
        settings: String::new(),
        text: t.into(),
    };
    let joined = join_pieces(vec![
        c(0, 1000, "a"),
        c(500, 1000, "b"),
        c(1000, 2000, "a"),
        c(2000, 3000, "c"),
    ]);
    assert_eq!(
        joined,
        [c(0, 2000, "a"), c(500, 1000, "b"), c(2000, 3000, "c")]
    );
}

#[test]
fn stpp_entry_needs_the_ttml_namespace() {
    let entry = |ns: &[u8]| {
        let mut p = vec![0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(ns);
        bx(b"stpp", &p)
    };
    let stpp = FourCC(*b"stpp");
    assert_eq!(
        TextFormat::of_entry(stpp, &entry(b"http://www.w3.org/ns/ttml\0\0\0")),
        Some(TextFormat::Stpp)
    );
    assert_eq!(
        TextFormat::of_entry(
            stpp,
            &entry(b"urn:ebu:tt:metadata http://www.w3.org/ns/ttml\0\0\0")
        ),
        Some(TextFormat::Stpp)
    );
    assert_eq!(TextFormat::of_entry(stpp, &entry(b"urn:other\0\0\0")), None);
    assert_eq!(TextFormat::of_entry(stpp, &entry(b"no terminator")), None);
    assert_eq!(TextFormat::of_entry(stpp, b"short"), None);
    assert_eq!(
        TextFormat::of_entry(FourCC(*b"tx3g"), b""),
        Some(TextFormat::Tx3g)
    );
    assert_eq!(TextFormat::of_entry(FourCC(*b"c608"), b""), None);
}
