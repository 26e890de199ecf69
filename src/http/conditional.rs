//! Conditional requests (RFC 9110 §13) and entity-tag comparison (§8.8.3.2).
//!
//! `If-None-Match` uses the weak comparison (two tags match when their
//! opaque parts are equal, `W/` or not); `If-Match` the strong one (both
//! must be strong and equal). Malformed lists never match anything but `*`.

/// An entity tag split into its weakness and opaque part (quotes kept).
fn parse(tag: &str) -> Option<(bool, &str)> {
    let t = tag.trim();
    let (weak, opaque) = match t.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let ok = opaque.len() >= 2 && opaque.starts_with('"') && opaque.ends_with('"');
    ok.then_some((weak, opaque))
}

/// Whether an `If-None-Match` value lists `etag` (weak comparison), which
/// makes a GET/HEAD answer 304 (§13.1.2).
pub fn none_match(if_none_match: &str, etag: &str) -> bool {
    let Some((_, mine)) = parse(etag) else {
        return false;
    };
    if_none_match.trim() == "*"
        || if_none_match
            .split(',')
            .filter_map(parse)
            .any(|(_, o)| o == mine)
}

/// Whether `etag` satisfies an `If-Match` value (strong comparison,
/// §13.1.1): `*`, or a listed strong tag equal to a strong `etag`.
pub fn matches(if_match: &str, etag: &str) -> bool {
    if if_match.trim() == "*" {
        return true;
    }
    let Some((false, mine)) = parse(etag) else {
        return false;
    };
    if_match
        .split(',')
        .filter_map(parse)
        .any(|(weak, o)| !weak && o == mine)
}

/// Whether two tags name the same representation for the purpose of
/// reading it again: weak comparison. An origin that only gives weak tags
/// (`W/"…"`, common behind compressing proxies) still identifies a
/// version, and a changed object still changes its tag.
pub fn same_version(a: &str, b: &str) -> bool {
    match (parse(a), parse(b)) {
        (Some((_, x)), Some((_, y))) => x == y,
        _ => a == b,
    }
}
