//! `Range` requests (RFC 9110 §14): single byte ranges only.
//!
//! A `Range` header the server does not understand, or that is not a valid
//! `bytes` range set, is ignored and the whole body is sent (§14.2: "a
//! server MAY ignore the Range header field"; an invalid range-spec makes
//! the whole set invalid, §14.1.1). Several ranges would need
//! `multipart/byteranges`; players never ask for them, so they too get the
//! whole body. Only a valid single range that starts past the end is
//! unsatisfiable (416, §15.5.17).

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeAsk {
    Whole,
    /// Bytes `start..end` (end exclusive, never past `len`).
    Part(u64, u64),
    Unsatisfiable,
}

/// Interprets `header` (the `Range` value, if any) against a body of `len`
/// bytes.
pub fn ask(header: Option<&str>, len: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|r| {
        let r = r.trim();
        // The range unit is case-insensitive (§14.1).
        let (unit, set) = r.split_once('=')?;
        unit.trim().eq_ignore_ascii_case("bytes").then_some(set)
    }) else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAsk::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    match (a.is_empty(), b.is_empty()) {
        // suffix-range: the last N bytes; N = 0 is unsatisfiable (§14.1.3).
        (true, false) if digits(b) => match b.parse::<u64>() {
            Ok(0) => RangeAsk::Unsatisfiable,
            Ok(_) if len == 0 => RangeAsk::Unsatisfiable,
            Ok(n) => RangeAsk::Part(len.saturating_sub(n), len),
            // More digits than u64 holds: longer than any body.
            Err(_) if len == 0 => RangeAsk::Unsatisfiable,
            Err(_) => RangeAsk::Part(0, len),
        },
        (false, _) if digits(a) && (b.is_empty() || digits(b)) => {
            let Ok(start) = a.parse::<u64>() else {
                return RangeAsk::Unsatisfiable;
            };
            let last = if b.is_empty() {
                None
            } else {
                // A last-pos beyond u64 is beyond the body: clamp.
                Some(b.parse::<u64>().unwrap_or(u64::MAX))
            };
            // last-pos < first-pos makes the range-spec invalid (§14.1.1).
            if last.is_some_and(|l| l < start) {
                return RangeAsk::Whole;
            }
            if start >= len {
                return RangeAsk::Unsatisfiable;
            }
            let end = last.map_or(len, |l| l.saturating_add(1).min(len));
            RangeAsk::Part(start, end)
        }
        _ => RangeAsk::Whole,
    }
}

/// `Content-Range` of a partial response (§14.4).
pub fn content_range(start: u64, end: u64, len: u64) -> String {
    format!("bytes {start}-{}/{len}", end.saturating_sub(1))
}

/// `Content-Range` of a 416 (§14.4: `bytes */complete-length`).
pub fn unsatisfied_range(len: u64) -> String {
    format!("bytes */{len}")
}
