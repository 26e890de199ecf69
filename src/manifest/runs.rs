//! Timeline runs written as XML empty elements: DASH `SegmentTimeline/S`
//! (ISO/IEC 23009-1 §5.3.9.6: `@t`, `@d`, `@r`) and Smooth
//! `StreamIndex/c` (MS-SSTR §2.2.2.6: `@t`, `@d`, `@r`).
//!
//! Why not quick-xml's element builder: a 2 h title has ~1 200 of these
//! for its AAC track (AAC segment durations differ, so few runs merge),
//! and building each through `create_element().with_attribute()` costs
//! an attribute escape scan and a `Cow` per attribute. The attributes are
//! decimal numbers, which never need escaping, so each element's content
//! is formatted once into a reused buffer and written as one raw
//! [`Event::Empty`] — through the writer, so its indentation stays right.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Writer;
use std::io;

/// One run: `@t` when the run does not follow the previous one, `@d`,
/// and `@r` when the element has one (its value as the format counts it:
/// DASH repeats after the first, Smooth counts all).
pub type Run = (Option<u64>, u64, Option<u32>);

/// Writes `<{tag} t=".." d=".." r=".."/>` for each run, in order.
///
/// The first element goes through the writer as an event; after an empty
/// element the writer breaks the line and indents before the next one, so
/// the others are that indentation ([`Writer::write_indent`]) and the
/// element's bytes, written at once: the same bytes without an event and
/// four small writes per element.
pub fn write<W: io::Write>(
    w: &mut Writer<W>,
    tag: &str,
    runs: impl IntoIterator<Item = Run>,
) -> io::Result<()> {
    let mut content = String::with_capacity(64);
    let mut first = true;
    for (t, d, r) in runs {
        content.clear();
        content.push('<');
        content.push_str(tag);
        if let Some(t) = t {
            attribute(&mut content, "t", t);
        }
        attribute(&mut content, "d", d);
        if let Some(r) = r {
            attribute(&mut content, "r", u64::from(r));
        }
        content.push_str("/>");
        if std::mem::take(&mut first) {
            let inner = &content[1..content.len() - 2];
            w.write_event(Event::Empty(BytesStart::from_content(inner, tag.len())))?;
        } else {
            w.write_indent()?;
            w.get_mut().write_all(content.as_bytes())?;
        }
    }
    Ok(())
}

/// ` {name}="{value}"`, the value in decimal.
fn attribute(out: &mut String, name: &str, value: u64) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    super::number::decimal(out, value);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The builder this replaces, for byte identity, written with `w`.
    fn with_builder(mut w: Writer<Vec<u8>>, runs: &[Run]) -> Vec<u8> {
        w.create_element("T")
            .write_inner_content(|w| {
                for &(t, d, r) in runs {
                    let (ts, ds, rs) = (
                        t.map(|t| t.to_string()),
                        d.to_string(),
                        r.map(|r| r.to_string()),
                    );
                    let mut e = w.create_element("S");
                    if let Some(t) = &ts {
                        e = e.with_attribute(("t", t.as_str()));
                    }
                    e = e.with_attribute(("d", ds.as_str()));
                    if let Some(r) = &rs {
                        e = e.with_attribute(("r", r.as_str()));
                    }
                    e.write_empty()?;
                }
                Ok(())
            })
            .unwrap();
        w.create_element("After").write_empty().unwrap();
        w.into_inner()
    }

    /// Indented (as manifests are written) and not, nested, with none,
    /// one or several runs, and an element after them.
    #[test]
    fn same_bytes_as_the_element_builder() {
        let runs: Vec<Run> = vec![
            (Some(0), 60_000_000, Some(3)),
            (None, 59_989_333, None),
            (Some(u64::MAX), u64::MAX, Some(u32::MAX)),
            (None, 0, Some(0)),
            (Some(10), 1, None),
        ];
        let writers = || {
            [
                Writer::new_with_indent(Vec::new(), b' ', 1),
                Writer::new_with_indent(Vec::new(), b'\t', 2),
                Writer::new(Vec::new()),
            ]
        };
        for n in [0, 1, 2, runs.len()] {
            for (mut w, theirs) in writers().into_iter().zip(writers()) {
                w.create_element("T")
                    .write_inner_content(|w| write(w, "S", runs[..n].iter().copied()))
                    .unwrap();
                w.create_element("After").write_empty().unwrap();
                let ours = w.into_inner();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    String::from_utf8(with_builder(theirs, &runs[..n])).unwrap(),
                    "{n} runs"
                );
            }
        }
    }
}
