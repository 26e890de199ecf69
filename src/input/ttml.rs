//! TTML / IMSC1 sidecars (W3C TTML2; IMSC1 is a profile of it): a `.ttml`,
//! `.xml` or `.dfxp` listed by an `.ism` `<textstream>` is read whole and
//! parsed into the same [`CueList`] WebVTT sidecars give, so every text
//! output (HLS WebVTT, DASH `wvtt` and `stpp`, Smooth TTML) is written from
//! one cue model.
//!
//! What is kept: the timing of `body`, `div`, `p` and `span` (time
//! expressions of TTML2 §10.3.1, with the `ttp:frameRate`,
//! `ttp:frameRateMultiplier`, `ttp:subFrameRate` and `ttp:tickRate`
//! parameters of §7.2; `begin`, `end` and `dur` resolved against the
//! parent per the time containment of §10.4, `par` by default and `seq`
//! when a container says so) and the text, as plain lines: `<br/>` breaks a
//! line, whitespace collapses as `xml:space="default"` says (§7.2.3 of
//! TTML1), and everything else (styles, regions, `tts:` attributes,
//! `<metadata>`, `<set>`, images) is dropped. A `<p>` whose `<span>`s carry
//! their own times becomes one cue per interval in which its visible text
//! stays the same (the intermediate synchronic documents of TTML2 §11.3.1.3
//! restricted to one paragraph). The text is stored escaped for WebVTT
//! (`&amp;`, `&lt;`, `&gt;`), the form the cue model holds.
//!
//! The document comes from the origin: its size, nesting depth, number of
//! cues, the timed pieces of one paragraph and each cue's text are capped,
//! and a time expression that does not parse is an error (502 naming the
//! byte offset), as a bad WebVTT timing line is.

use super::webvtt::{Cue, CueList, MAX_CUES, MAX_CUE_LINE, MAX_CUE_TEXT, MAX_TIME_MS};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::fmt;

/// Largest sidecar read (as for WebVTT).
pub const MAX_TTML_BYTES: usize = super::webvtt::MAX_VTT_BYTES;
/// Deepest element nesting accepted (real documents: `tt/body/div/p/span`,
/// a few levels more at most).
pub const MAX_DEPTH: usize = 32;
/// Most elements in one document.
pub const MAX_ELEMENTS: usize = 1_000_000;
/// Most timed pieces (text runs and line breaks) in one `<p>`: bounds the
/// intervals one paragraph is cut into.
pub const MAX_P_PARTS: usize = 256;
/// Most cue text in all, in bytes. Timed `<span>`s repeat a paragraph's
/// text in each interval they cut it into, so the text can outgrow the
/// document; twice the largest document is far beyond any real one.
pub const MAX_TOTAL_TEXT: usize = 2 * MAX_TTML_BYTES;

const NS_PER_MS: u64 = 1_000_000;
const MAX_TIME_NS: u64 = MAX_TIME_MS * NS_PER_MS;

/// Why a TTML document was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TtmlError {
    TooLarge,
    NotUtf8,
    /// The XML does not parse (byte offset).
    Xml {
        pos: u64,
    },
    /// The root element is not `<tt>`.
    NotTtml,
    TooDeep {
        pos: u64,
    },
    TooManyElements {
        pos: u64,
    },
    TooManyCues,
    /// A `<p>` with more than [`MAX_P_PARTS`] pieces.
    TooManyParts {
        pos: u64,
    },
    /// A cue's text over [`MAX_CUE_TEXT`].
    TooLong {
        pos: u64,
    },
    /// A time expression or timing parameter that does not parse, or is
    /// out of range.
    BadTime {
        pos: u64,
        what: &'static str,
    },
}

impl fmt::Display for TtmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TtmlError::TooLarge => write!(f, "TTML file larger than {MAX_TTML_BYTES} bytes"),
            TtmlError::NotUtf8 => f.write_str("TTML file is not UTF-8"),
            TtmlError::Xml { pos } => write!(f, "TTML byte {pos}: not well-formed XML"),
            TtmlError::NotTtml => f.write_str("not a TTML document (the root is not <tt>)"),
            TtmlError::TooDeep { pos } => {
                write!(f, "TTML byte {pos}: nested deeper than {MAX_DEPTH}")
            }
            TtmlError::TooManyElements { pos } => {
                write!(f, "TTML byte {pos}: more than {MAX_ELEMENTS} elements")
            }
            TtmlError::TooManyCues => write!(f, "TTML file has more than {MAX_CUES} cues"),
            TtmlError::TooManyParts { pos } => {
                write!(
                    f,
                    "TTML byte {pos}: a <p> of more than {MAX_P_PARTS} pieces"
                )
            }
            TtmlError::TooLong { pos } => {
                write!(f, "TTML byte {pos}: cue text longer than allowed")
            }
            TtmlError::BadTime { pos, what } => write!(f, "TTML byte {pos}: bad {what}"),
        }
    }
}

impl std::error::Error for TtmlError {}

/// The timing parameters of the `<tt>` element (TTML2 §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeParams {
    pub frame_rate: u64,
    /// `ttp:frameRateMultiplier` numerator and denominator.
    pub multiplier: (u64, u64),
    pub sub_frame_rate: u64,
    /// `ttp:tickRate`; `None`: the effective frame rate × the sub-frame
    /// rate (§7.2.12, when a frame rate is given without a tick rate).
    pub tick_rate: Option<u64>,
}

impl Default for TimeParams {
    /// §7.2.4: 30 fps; §7.2.12: tick rate 1 without a frame rate.
    fn default() -> Self {
        TimeParams {
            frame_rate: 30,
            multiplier: (1, 1),
            sub_frame_rate: 1,
            tick_rate: Some(1),
        }
    }
}

impl TimeParams {
    /// Nanoseconds per frame as a fraction (effective frame rate =
    /// frameRate × multiplier, §7.2.5).
    fn frame_ns(&self) -> (u128, u128) {
        (
            1_000_000_000 * self.multiplier.1 as u128,
            self.frame_rate as u128 * self.multiplier.0 as u128,
        )
    }

    /// Nanoseconds per tick as a fraction.
    fn tick_ns(&self) -> (u128, u128) {
        match self.tick_rate {
            Some(t) => (1_000_000_000, t as u128),
            None => {
                let (n, d) = self.frame_ns();
                (n, d * self.sub_frame_rate as u128)
            }
        }
    }
}

/// A time expression (TTML2 §10.3.1) in nanoseconds: `clock-time`
/// (`hh:mm:ss`, `hh:mm:ss.fff`, `hh:mm:ss:ff[.sub]`) or `offset-time`
/// (`12.3s`, `h`, `m`, `ms`, `f`, `t`). `wallclock()` is not read.
pub fn time_expression(s: &str, p: &TimeParams) -> Option<u64> {
    let s = s.trim();
    let ns = if s.contains(':') {
        clock_time(s, p)?
    } else {
        offset_time(s, p)?
    };
    (ns <= MAX_TIME_NS as u128).then_some(ns as u64)
}

/// `digits[.digits]` as (value × 10^k, 10^k); at most 12 integer and 9
/// fraction digits.
fn decimal(s: &str) -> Option<(u128, u128)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 12 || frac.len() > 9 || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    if s.ends_with('.') {
        return None;
    }
    let scale = 10u128.pow(frac.len() as u32);
    let v = int.parse::<u128>().ok()? * scale + frac.parse::<u128>().unwrap_or(0);
    Some((v, scale))
}

/// `value × num / den`, rounded to the nearest integer.
fn mul_div(value: u128, num: u128, den: u128) -> Option<u128> {
    let p = value.checked_mul(num)?;
    (den > 0).then(|| (p + den / 2) / den)
}

fn clock_time(s: &str, p: &TimeParams) -> Option<u128> {
    let parts: Vec<&str> = s.splitn(5, ':').collect();
    let fixed = |t: &str, n: usize| {
        (t.len() == n && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u128>().ok())
            .flatten()
    };
    let (h, m, sec, frames) = match parts.as_slice() {
        [h, m, s] => (*h, *m, *s, None),
        [h, m, s, f] => (*h, *m, *s, Some(*f)),
        _ => return None,
    };
    if h.len() < 2 || h.len() > 6 || !h.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: u128 = h.parse().ok()?;
    let m = fixed(m, 2)?;
    if m > 59 {
        return None;
    }
    let whole = (h * 60 + m) * 60;
    match frames {
        None => {
            // seconds with an optional fraction
            let (int, _) = sec.split_once('.').unwrap_or((sec, ""));
            fixed(int, 2)?;
            let (v, scale) = decimal(sec)?;
            if v / scale > 60 {
                return None;
            }
            Some(whole * 1_000_000_000 + mul_div(v, 1_000_000_000, scale)?)
        }
        Some(f) => {
            let sec = fixed(sec, 2)?;
            if sec > 60 {
                return None;
            }
            let (ff, sub) = match f.split_once('.') {
                Some((ff, sub)) => (ff, Some(sub)),
                None => (f, None),
            };
            if ff.len() < 2 || ff.len() > 4 || !ff.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let ff: u128 = ff.parse().ok()?;
            let (num, den) = p.frame_ns();
            // A frame number must be below the effective frame rate,
            // rounded up (§10.3.1).
            let (fr, m0, m1) = (
                p.frame_rate as u128,
                p.multiplier.0 as u128,
                p.multiplier.1 as u128,
            );
            if ff >= (fr * m0).div_ceil(m1) {
                return None;
            }
            let mut ns = (whole + sec) * 1_000_000_000 + mul_div(ff, num, den)?;
            if let Some(sub) = sub {
                if sub.is_empty() || sub.len() > 4 || !sub.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let sub: u128 = sub.parse().ok()?;
                if sub >= p.sub_frame_rate as u128 {
                    return None;
                }
                ns += mul_div(sub, num, den * p.sub_frame_rate as u128)?;
            }
            Some(ns)
        }
    }
}

fn offset_time(s: &str, p: &TimeParams) -> Option<u128> {
    let at = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (count, metric) = s.split_at(at);
    let (v, scale) = decimal(count)?;
    let (num, den): (u128, u128) = match metric {
        "h" => (3_600_000_000_000, 1),
        "m" => (60_000_000_000, 1),
        "s" => (1_000_000_000, 1),
        "ms" => (1_000_000, 1),
        "f" => p.frame_ns(),
        "t" => p.tick_ns(),
        _ => return None,
    };
    mul_div(v, num, den.checked_mul(scale)?)
}

/// Parses a TTML document into cues (see the module docs).
pub fn parse(bytes: &[u8]) -> Result<CueList, TtmlError> {
    if bytes.len() > MAX_TTML_BYTES {
        return Err(TtmlError::TooLarge);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| TtmlError::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut st = State::default();
    let mut elements = 0usize;
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|_| TtmlError::Xml {
            pos: reader.error_position(),
        })?;
        if matches!(event, Event::Start(_) | Event::Empty(_)) {
            elements += 1;
            if elements > MAX_ELEMENTS {
                return Err(TtmlError::TooManyElements { pos });
            }
        }
        match event {
            Event::Start(e) => st.open(&e, pos)?,
            Event::Empty(e) => {
                st.open(&e, pos)?;
                st.close(pos)?;
            }
            Event::End(_) => st.close(pos)?,
            Event::Text(t) => {
                let t = t.unescape().map_err(|_| TtmlError::Xml { pos })?;
                st.text(&t, pos)?;
            }
            Event::CData(t) => {
                let t = std::str::from_utf8(&t).map_err(|_| TtmlError::NotUtf8)?;
                st.text(t, pos)?;
            }
            Event::Eof => {
                if !st.stack.is_empty() {
                    return Err(TtmlError::Xml { pos });
                }
                break;
            }
            // Declaration, comments, PIs, DOCTYPE (its entities are not
            // expanded by quick-xml): nothing for us.
            _ => {}
        }
    }
    if !st.seen_root {
        return Err(TtmlError::NotTtml);
    }
    // WebVTT wants cues in start order; TTML documents need not be.
    st.cues.sort_by_key(|c| c.start_ms);
    Ok(CueList { cues: st.cues })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tt,
    /// `<head>` or an element of no interest: its subtree is skipped.
    Skip,
    Body,
    Div,
    P,
    Span,
    Br,
}

/// An open element and its resolved active interval (ns; `end == None`:
/// indefinite).
struct Frame {
    kind: Kind,
    begin: u64,
    end: Option<u64>,
    /// A `seq` time container: the next child's sync base.
    seq: Option<u64>,
    /// Whether it set `end` or `dur`: else its end is implicit.
    explicit_end: bool,
    /// The latest end among its timed children (the implicit duration of
    /// a `par` container, §10.4).
    children_end: Option<u64>,
    id: Option<String>,
}

/// A piece of a paragraph: a text run or a line break, active in
/// `[begin, end)`.
struct Part {
    text: Option<String>,
    begin: u64,
    end: Option<u64>,
}

#[derive(Default)]
struct State {
    seen_root: bool,
    params: TimeParams,
    stack: Vec<Frame>,
    parts: Vec<Part>,
    cues: Vec<Cue>,
    /// Bytes of cue text so far ([`MAX_TOTAL_TEXT`]).
    total_text: usize,
}

impl State {
    fn open(&mut self, e: &BytesStart<'_>, pos: u64) -> Result<(), TtmlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(TtmlError::TooDeep { pos });
        }
        let name = e.local_name();
        let parent_kind = self.stack.last().map(|f| f.kind);
        let kind = match (parent_kind, name.as_ref()) {
            (None, b"tt") => Kind::Tt,
            (None, _) => return Err(TtmlError::NotTtml),
            (Some(Kind::Skip), _) => Kind::Skip,
            (Some(Kind::Tt), b"body") => Kind::Body,
            (Some(Kind::Body | Kind::Div), b"div") => Kind::Div,
            (Some(Kind::Body | Kind::Div), b"p") => Kind::P,
            (Some(Kind::P | Kind::Span), b"span") => Kind::Span,
            (Some(Kind::P | Kind::Span), b"br") => Kind::Br,
            _ => Kind::Skip,
        };
        if kind == Kind::Tt {
            self.seen_root = true;
            self.params = params(e, pos)?;
            self.stack.push(Frame {
                kind,
                begin: 0,
                end: None,
                seq: None,
                explicit_end: false,
                children_end: None,
                id: None,
            });
            return Ok(());
        }
        if kind == Kind::Skip {
            self.stack.push(Frame {
                kind,
                begin: 0,
                end: Some(0),
                seq: None,
                explicit_end: false,
                children_end: None,
                id: None,
            });
            return Ok(());
        }
        let Some(parent) = self.stack.last() else {
            return Err(TtmlError::NotTtml);
        };
        let mut begin = None;
        let mut end = None;
        let mut dur = None;
        let mut seq = false;
        let mut id = None;
        for attr in e.attributes() {
            let attr = attr.map_err(|_| TtmlError::Xml { pos })?;
            let v = attr.unescape_value().map_err(|_| TtmlError::Xml { pos })?;
            let time =
                |what| time_expression(&v, &self.params).ok_or(TtmlError::BadTime { pos, what });
            match (
                attr.key.prefix().map(|p| p.into_inner()),
                attr.key.local_name().as_ref(),
            ) {
                (None, b"begin") => begin = Some(time("begin time")?),
                (None, b"end") => end = Some(time("end time")?),
                (None, b"dur") => dur = Some(time("duration")?),
                (None, b"timeContainer") => seq = v.trim() == "seq",
                (Some(b"xml"), b"id") => id = Some(v.into_owned()),
                _ => {}
            }
        }
        // §10.4: begin and end are offsets from the sync base: the parent's
        // begin in a `par` container, the previous sibling's end in a `seq`.
        let base = parent.seq.unwrap_or(parent.begin);
        let b = base.saturating_add(begin.unwrap_or(0));
        let mut e_ = match (end, dur) {
            (Some(en), Some(d)) => Some(base.saturating_add(en).min(b.saturating_add(d))),
            (Some(en), None) => Some(base.saturating_add(en)),
            (None, Some(d)) => Some(b.saturating_add(d)),
            (None, None) => None,
        };
        let explicit_end = e_.is_some();
        // Clipped to the parent's interval; an implicit end is the parent's.
        e_ = match (e_, parent.end) {
            (Some(x), Some(pe)) => Some(x.min(pe)),
            (None, pe) => pe,
            (x, None) => x,
        };
        let b = match parent.end {
            Some(pe) => b.min(pe),
            None => b,
        };
        let e_ = e_.map(|x| x.max(b));
        if e_.is_some_and(|x| x > MAX_TIME_NS) || b > MAX_TIME_NS {
            return Err(TtmlError::BadTime {
                pos,
                what: "time (beyond 1000 h)",
            });
        }
        if kind == Kind::Br {
            self.part(None, b, e_, pos)?;
        }
        if kind == Kind::P {
            self.parts.clear();
        }
        self.stack.push(Frame {
            kind,
            begin: b,
            end: e_,
            seq: seq.then_some(b),
            explicit_end,
            children_end: None,
            id,
        });
        Ok(())
    }

    fn part(
        &mut self,
        text: Option<String>,
        begin: u64,
        end: Option<u64>,
        pos: u64,
    ) -> Result<(), TtmlError> {
        if self.parts.len() >= MAX_P_PARTS {
            return Err(TtmlError::TooManyParts { pos });
        }
        self.parts.push(Part { text, begin, end });
        Ok(())
    }

    fn text(&mut self, t: &str, pos: u64) -> Result<(), TtmlError> {
        let Some(top) = self.stack.last() else {
            return Ok(());
        };
        if !matches!(top.kind, Kind::P | Kind::Span) {
            return Ok(());
        }
        let (b, e) = (top.begin, top.end);
        if t.len() > MAX_CUE_TEXT {
            return Err(TtmlError::TooLong { pos });
        }
        // Adjacent runs of one element (text split by a comment) join.
        if let Some(last) = self.parts.last_mut() {
            if let Some(prev) = &mut last.text {
                if last.begin == b && last.end == e {
                    if prev.len() + t.len() > MAX_CUE_TEXT {
                        return Err(TtmlError::TooLong { pos });
                    }
                    prev.push_str(t);
                    return Ok(());
                }
            }
        }
        self.part(Some(t.to_string()), b, e, pos)
    }

    fn close(&mut self, pos: u64) -> Result<(), TtmlError> {
        let Some(f) = self.stack.pop() else {
            return Ok(());
        };
        if f.kind == Kind::P {
            self.paragraph(&f, pos)?;
        }
        if f.kind == Kind::Skip || f.kind == Kind::Tt {
            return Ok(());
        }
        // The end a `seq` parent moves its cursor to, and a `par` parent's
        // implicit end takes into account.
        let resolved = if f.explicit_end {
            f.end
        } else {
            f.children_end.or(f.end).or(Some(f.begin))
        };
        if let Some(parent) = self.stack.last_mut() {
            if let Some(r) = resolved {
                parent.children_end = Some(parent.children_end.map_or(r, |c| c.max(r)));
                if parent.seq.is_some() {
                    parent.seq = Some(r);
                }
            }
        }
        Ok(())
    }

    /// The cues of a closed `<p>`: one per interval in which the same
    /// pieces are active.
    fn paragraph(&mut self, p: &Frame, pos: u64) -> Result<(), TtmlError> {
        let parts = std::mem::take(&mut self.parts);
        let end_of = |e: Option<u64>| e.unwrap_or(MAX_TIME_NS);
        let p_end = end_of(p.end);
        if parts.iter().all(|x| x.text.is_none()) || p_end <= p.begin {
            return Ok(());
        }
        let mut cuts: Vec<u64> = vec![p.begin, p_end];
        for x in &parts {
            cuts.extend(
                [x.begin, end_of(x.end)]
                    .into_iter()
                    .filter(|&t| t > p.begin && t < p_end),
            );
        }
        cuts.sort_unstable();
        cuts.dedup();
        let first = self.cues.len();
        for w in cuts.windows(2) {
            let (a, z) = (w[0], w[1]);
            let mut text = String::new();
            let mut line = String::new();
            for x in parts.iter().filter(|x| x.begin <= a && end_of(x.end) >= z) {
                match &x.text {
                    Some(t) => collapse_into(&mut line, t),
                    None => push_line(&mut text, &mut line),
                }
            }
            push_line(&mut text, &mut line);
            if text.is_empty() {
                continue;
            }
            self.total_text += text.len();
            if text.len() > MAX_CUE_TEXT || self.total_text > MAX_TOTAL_TEXT {
                return Err(TtmlError::TooLong { pos });
            }
            let (start_ms, end_ms) = (ns_to_ms(a), ns_to_ms(z));
            if let Some(prev) = self.cues[first..].last_mut() {
                if prev.text == text && prev.end_ms == start_ms {
                    prev.end_ms = end_ms;
                    continue;
                }
            }
            if self.cues.len() >= MAX_CUES {
                return Err(TtmlError::TooManyCues);
            }
            self.cues.push(Cue {
                id: String::new(),
                start_ms,
                end_ms,
                settings: String::new(),
                text,
            });
        }
        // The paragraph's xml:id names its cue (numbered when it gave
        // several); kept only when it is safe as a WebVTT identifier.
        if let Some(id) = p.id.as_deref().filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_CUE_LINE - 8
                && !id.contains("-->")
                && !id.chars().any(char::is_control)
        }) {
            let n = self.cues.len() - first;
            for (i, c) in self.cues[first..].iter_mut().enumerate() {
                c.id = if n == 1 {
                    id.to_string()
                } else {
                    format!("{id}.{}", i + 1)
                };
            }
        }
        Ok(())
    }
}

fn ns_to_ms(ns: u64) -> u64 {
    (ns + NS_PER_MS / 2) / NS_PER_MS
}

/// Appends `t` to `line` with XML default whitespace handling (runs of
/// space, tab, CR and LF become one space) and WebVTT escaping.
fn collapse_into(line: &mut String, t: &str) {
    for c in t.chars() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if !line.is_empty() && !line.ends_with(' ') {
                    line.push(' ');
                }
            }
            '&' => line.push_str("&amp;"),
            '<' => line.push_str("&lt;"),
            '>' => line.push_str("&gt;"),
            c => line.push(c),
        }
    }
}

/// Ends a line: trimmed, and dropped when empty (WebVTT payloads hold no
/// empty line).
fn push_line(text: &mut String, line: &mut String) {
    let l = line.trim_end_matches(' ');
    if !l.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(l);
    }
    line.clear();
}

/// The timing parameters on `<tt>`.
fn params(e: &BytesStart<'_>, pos: u64) -> Result<TimeParams, TtmlError> {
    let mut p = TimeParams::default();
    let mut tick_rate = None;
    let mut frame_rate_set = false;
    let num = |v: &str, what| {
        v.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=1_000_000_000).contains(n))
            .ok_or(TtmlError::BadTime { pos, what })
    };
    for attr in e.attributes() {
        let attr = attr.map_err(|_| TtmlError::Xml { pos })?;
        let v = attr.unescape_value().map_err(|_| TtmlError::Xml { pos })?;
        match attr.key.local_name().as_ref() {
            b"frameRate" => {
                p.frame_rate = num(&v, "ttp:frameRate")?.min(1000);
                frame_rate_set = true;
            }
            b"subFrameRate" => p.sub_frame_rate = num(&v, "ttp:subFrameRate")?.min(1000),
            b"tickRate" => tick_rate = Some(num(&v, "ttp:tickRate")?),
            b"frameRateMultiplier" => {
                let mut it = v.split_whitespace();
                let bad = TtmlError::BadTime {
                    pos,
                    what: "ttp:frameRateMultiplier",
                };
                let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
                    return Err(bad);
                };
                p.multiplier = (
                    num(a, "ttp:frameRateMultiplier")?.min(1_000_000),
                    num(b, "ttp:frameRateMultiplier")?.min(1_000_000),
                );
            }
            _ => {}
        }
    }
    // §7.2.12: without a tickRate, frameRate × subFrameRate when a frame
    // rate is given, else 1.
    p.tick_rate = match (tick_rate, frame_rate_set) {
        (Some(t), _) => Some(t),
        (None, true) => None,
        (None, false) => Some(1),
    };
    Ok(p)
}

/// A cue's text (WebVTT payload) as plain text: tags dropped, the
/// character references WebVTT defines resolved. Used to write TTML from
/// WebVTT sources; TTML sources round-trip exactly.
pub fn plain_text(payload: &str) -> String {
    let mut out = String::with_capacity(payload.len());
    let mut rest = payload;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(j) => rest = &rest[j + 1..],
                None => rest = "",
            }
        } else {
            let refs = [
                ("&amp;", "&"),
                ("&lt;", "<"),
                ("&gt;", ">"),
                ("&nbsp;", "\u{a0}"),
                ("&lrm;", "\u{200e}"),
                ("&rlm;", "\u{200f}"),
            ];
            match refs.iter().find(|(r, _)| rest.starts_with(r)) {
                Some((r, c)) => {
                    out.push_str(c);
                    rest = &rest[r.len()..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
