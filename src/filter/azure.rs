//! Azure Media Services filter JSON: the `AssetFilter`/`AccountFilter`
//! resource (`{"name": …, "properties": {…}}`) or its `properties` alone,
//! as exported from the REST API (Microsoft.Media 2022-08-01,
//! `PresentationTimeRange`, `FirstQuality`, `FilterTrackSelection` of
//! `FilterTrackPropertyCondition`s). Keys and values compare ASCII
//! case-insensitively, as Azure's did; unknown keys (`id`, `type`,
//! `systemData` …) are ignored.
//!
//! Parsed with `serde_json`'s `Value` (no derive): a reviewed, fuzzed
//! parser, with its recursion limit (128) bounding depth; the input is
//! capped at [`MAX_FILTER_BYTES`] before parsing, which bounds every
//! string and array, and counts are checked again before use.
//!
//! Live-only fields, `presentationWindowDuration` and
//! `liveBackoffDuration`, are accepted and have no effect on on-demand
//! titles (all edgepack serves); `forceEndTimestamp` likewise (an
//! on-demand playlist always ends).

use super::{
    to_hns, Condition, Filter, FilterError, Property, TimeRange, Value, MAX_CONDITIONS,
    MAX_FILTER_BYTES, MAX_SELECTIONS, MAX_VALUE_LEN,
};
use crate::model::TrackKind;
use serde_json::{Map, Value as Json};

/// Azure's default `timescale`: HNS.
pub const DEFAULT_TIMESCALE: u64 = 10_000_000;

type Result<T> = std::result::Result<T, String>;

/// Parses filter `name`'s file.
pub fn parse(name: &str, bytes: &[u8]) -> std::result::Result<Filter, FilterError> {
    let invalid = |reason: String| FilterError::Invalid {
        name: name.to_string(),
        reason,
    };
    if bytes.len() as u64 > MAX_FILTER_BYTES {
        return Err(invalid(format!("larger than {MAX_FILTER_BYTES} bytes")));
    }
    let json: Json =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("invalid JSON: {e}")))?;
    filter(&json).map_err(invalid)
}

fn filter(json: &Json) -> Result<Filter> {
    let top = json.as_object().ok_or("not a JSON object")?;
    let props = match get(top, "properties") {
        Some(p) => p.as_object().ok_or("properties is not an object")?,
        None => top,
    };
    let mut f = Filter::default();
    if let Some(r) = get(props, "presentationTimeRange") {
        f.range = time_range(r)?;
    }
    if let Some(q) = get(props, "firstQuality") {
        let q = q.as_object().ok_or("firstQuality is not an object")?;
        let b = get(q, "bitrate").ok_or("firstQuality has no bitrate")?;
        f.first_quality = Some(number(b).ok_or("firstQuality.bitrate is not a bitrate")?);
    }
    if let Some(tracks) = get(props, "tracks") {
        let tracks = tracks.as_array().ok_or("tracks is not an array")?;
        if tracks.len() > MAX_SELECTIONS {
            return Err(format!("more than {MAX_SELECTIONS} track selections"));
        }
        for t in tracks {
            f.selections.push(selection(t)?);
        }
    }
    Ok(f)
}

/// A member by name, ASCII case-insensitively.
fn get<'a>(obj: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

/// A non-negative integer, as a JSON number or a numeric string (the
/// REST API writes int64 values as numbers; some exports quote them).
fn number(v: &Json) -> Option<u64> {
    match v {
        Json::Number(n) => n.as_u64(),
        Json::String(s) if s.len() <= 20 => s.trim().parse().ok(),
        _ => None,
    }
}

fn time_range(v: &Json) -> Result<TimeRange> {
    let r = v
        .as_object()
        .ok_or("presentationTimeRange is not an object")?;
    let field = |k: &str| -> Result<Option<u64>> {
        match get(r, k) {
            None => Ok(None),
            Some(v) => number(v)
                .map(Some)
                .ok_or_else(|| format!("{k} is not a non-negative integer")),
        }
    };
    let timescale = field("timescale")?.unwrap_or(DEFAULT_TIMESCALE);
    if timescale == 0 {
        return Err("timescale is 0".into());
    }
    // Accepted, no effect on demand (module docs); still validated.
    field("presentationWindowDuration")?;
    field("liveBackoffDuration")?;
    if let Some(v) = get(r, "forceEndTimestamp") {
        v.as_bool().ok_or("forceEndTimestamp is not a boolean")?;
    }
    let start = field("startTimestamp")?;
    let end = field("endTimestamp")?;
    if let (Some(s), Some(e)) = (start, end) {
        if s >= e {
            return Err("startTimestamp is not before endTimestamp".into());
        }
    }
    Ok(TimeRange {
        // 0 is Azure's default start, i64::MAX its default end: no bound.
        start: start.filter(|&s| s > 0).map(|s| to_hns(s, timescale)),
        end: end
            .filter(|&e| e < i64::MAX as u64)
            .map(|e| to_hns(e, timescale)),
    })
}

fn selection(v: &Json) -> Result<Vec<Condition>> {
    let o = v.as_object().ok_or("a track selection is not an object")?;
    let conds = get(o, "trackSelections")
        .and_then(Json::as_array)
        .ok_or("a track selection has no trackSelections array")?;
    if conds.is_empty() {
        return Err("an empty trackSelections".into());
    }
    if conds.len() > MAX_CONDITIONS {
        return Err(format!(
            "more than {MAX_CONDITIONS} conditions in a selection"
        ));
    }
    conds.iter().map(condition).collect()
}

fn condition(v: &Json) -> Result<Condition> {
    let o = v.as_object().ok_or("a condition is not an object")?;
    let text = |k: &str| -> Result<&str> {
        let s = get(o, k)
            .and_then(Json::as_str)
            .ok_or_else(|| format!("a condition has no {k}"))?;
        if s.len() > MAX_VALUE_LEN {
            return Err(format!("a condition's {k} is longer than {MAX_VALUE_LEN}"));
        }
        Ok(s.trim())
    };
    let p = text("property")?;
    let property = [
        ("Type", Property::Type),
        ("Name", Property::Name),
        ("Language", Property::Language),
        ("FourCC", Property::FourCC),
        ("Bitrate", Property::Bitrate),
    ]
    .into_iter()
    .find(|(n, _)| n.eq_ignore_ascii_case(p))
    .map(|(_, p)| p)
    .ok_or_else(|| format!("unknown property {p:?}"))?;
    let op = text("operation")?;
    let equal = if op.eq_ignore_ascii_case("Equal") {
        true
    } else if op.eq_ignore_ascii_case("NotEqual") {
        false
    } else {
        return Err(format!("unknown operation {op:?}"));
    };
    let raw = match get(o, "value") {
        Some(Json::Number(n)) if property == Property::Bitrate => n.to_string(),
        _ => text("value")?.to_string(),
    };
    Ok(Condition {
        property,
        equal,
        value: value(property, &raw)?,
    })
}

fn value(property: Property, raw: &str) -> Result<Value> {
    match property {
        Property::Type => [
            ("Video", TrackKind::Video),
            ("Audio", TrackKind::Audio),
            ("Text", TrackKind::Subtitle),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(raw))
        .map(|(_, k)| Value::Kind(k))
        .ok_or_else(|| format!("unknown Type {raw:?}")),
        Property::Bitrate => bitrate_range(raw).map(|(a, b)| Value::Bitrate(a, b)),
        _ if raw.is_empty() => Err(format!("an empty {property:?} value")),
        _ => Ok(Value::Text(raw.to_ascii_lowercase())),
    }
}

/// `128000` or `0-2427000` (inclusive).
pub fn bitrate_range(raw: &str) -> Result<(u64, u64)> {
    let num = |s: &str| {
        let s = s.trim();
        (s.len() <= 19 && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| format!("invalid Bitrate {raw:?}"))
    };
    match raw.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(format!("empty Bitrate range {raw:?}"));
            }
            Ok((a, b))
        }
        None => num(raw).map(|n| (n, n)),
    }
}
