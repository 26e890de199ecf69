//! Dynamic filters (Azure Media Services asset and account filters) and
//! the playback modifiers of the query string, as one *view* of a media
//! set: a subset of its tracks, a window of whole segments of its shared
//! timeline, and an order of renditions. Every protocol reads the view
//! through [`MediaSet`] ([`MediaSet::segments`], [`MediaSet::duration_secs`])
//! and so none filters on its own.
//!
//! * `azure`: the filter JSON, Azure's `AssetFilter`/`AccountFilter`
//!   `properties` (REFERENCES.md §1; the REST API's `PresentationTimeRange`,
//!   `FirstQuality` and `FilterTrackSelection`).
//! * `modifiers`: `max_resolution=`, `max_bitrate=`, `rendition_order=`,
//!   `default_audio_lang=` … parsed from the URL, applied as a filter.
//! * `clip`: a time range rounded out to whole segments.
//!
//! Segments keep their numbers, times and URLs: a clipped manifest lists a
//! subset of the unclipped one's segment URLs (which never carry the
//! filter), so both share cached segments; Azure rounded to GOPs the same
//! way, and our segments start at keyframes.

pub mod azure;
pub mod clip;
pub mod modifiers;

use crate::media_set::{MediaSet, SetTrack};
use crate::model::TrackKind;
use crate::timeline::HNS;
use std::fmt;

pub use clip::Clip;
pub use modifiers::Modifiers;

/// Largest filter file read from the origin. Azure's own filters are a
/// few hundred bytes; 64 KiB also bounds every string in it.
pub const MAX_FILTER_BYTES: u64 = 64 * 1024;
/// Most track selections in one filter (ORed) and conditions in one
/// selection (ANDed); more is refused, not truncated.
pub const MAX_SELECTIONS: usize = 32;
pub const MAX_CONDITIONS: usize = 16;
/// Longest condition value (a name, language, FourCC or bitrate range).
pub const MAX_VALUE_LEN: usize = 256;

/// Why a filter cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterError {
    /// The filter file is not a filter (502: the origin's content is bad).
    Invalid { name: String, reason: String },
    /// The view leaves nothing to play (400: the request asks for it).
    Empty(String),
    /// A playback modifier that this title cannot honour (400).
    Modifier(String),
}

impl FilterError {
    pub fn status(&self) -> u16 {
        match self {
            FilterError::Invalid { .. } => 502,
            FilterError::Empty(_) | FilterError::Modifier(_) => 400,
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::Invalid { name, reason } => write!(f, "filter {name}: {reason}"),
            FilterError::Empty(w) | FilterError::Modifier(w) => f.write_str(w),
        }
    }
}

impl std::error::Error for FilterError {}

/// A presentation time range in HNS (100 ns), both ends optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<u64>,
    pub end: Option<u64>,
}

impl TimeRange {
    /// The intersection (`filter=a;b`: "time ranges intersected").
    pub fn intersect(self, o: TimeRange) -> TimeRange {
        let pick = |a: Option<u64>, b: Option<u64>, f: fn(u64, u64) -> u64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        TimeRange {
            start: pick(self.start, o.start, u64::max),
            end: pick(self.end, o.end, u64::min),
        }
    }

    pub fn is_unbounded(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }
}

/// A track property a condition tests (`FilterTrackPropertyType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Property {
    Type,
    Name,
    Language,
    FourCC,
    Bitrate,
}

/// The value a condition compares with, normalised once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Kind(TrackKind),
    /// Lower-cased text (names and FourCCs compare case-insensitively, as
    /// Azure's did).
    Text(String),
    /// Bits/s, inclusive; a single value is `n..=n`.
    Bitrate(u64, u64),
}

/// `FilterTrackPropertyCondition`: `property operation value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub property: Property,
    /// `NotEqual` when false.
    pub equal: bool,
    pub value: Value,
}

/// One filter: a time range, a first quality and track selections (a
/// track is kept when every condition of at least one selection holds;
/// no selection keeps every track).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub range: TimeRange,
    /// `firstQuality.bitrate`: that video rendition is listed first.
    pub first_quality: Option<u64>,
    pub selections: Vec<Vec<Condition>>,
}

impl Condition {
    fn holds(&self, set: &MediaSet, t: &SetTrack) -> bool {
        let info = &set.track_index(t).info;
        let matches = match (&self.property, &self.value) {
            (Property::Type, Value::Kind(k)) => info.kind == *k,
            (Property::Name, Value::Text(v)) => t.name.eq_ignore_ascii_case(v),
            (Property::Language, Value::Text(v)) => same_language(&t.language, v),
            (Property::FourCC, Value::Text(v)) => {
                let entry = info.codec_string.split('.').next().unwrap_or("");
                entry.eq_ignore_ascii_case(v) || info.fourcc.as_str_lossy().eq_ignore_ascii_case(v)
            }
            (Property::Bitrate, Value::Bitrate(lo, hi)) => (*lo..=*hi).contains(&t.bitrate),
            _ => false,
        };
        matches == self.equal
    }
}

/// Two language codes name the same language: ISO 639-1, 639-2/T and
/// 639-2/B and BCP 47 tags compare by primary language (`en`, `eng`,
/// `en-US` are one language), ASCII case-insensitively.
pub fn same_language(a: &str, b: &str) -> bool {
    let primary = |c: &str| {
        let p = c.split(['-', '_']).next().unwrap_or("");
        crate::manifest::lang::bcp47(p).map(|s| s.to_ascii_lowercase())
    };
    match (primary(a), primary(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

impl Filter {
    /// Whether the filter's selections keep `t`.
    pub fn keeps(&self, set: &MediaSet, t: &SetTrack) -> bool {
        self.selections.is_empty()
            || self
                .selections
                .iter()
                .any(|sel| sel.iter().all(|c| c.holds(set, t)))
    }
}

/// Applies `filters` (in turn: selections of each, ranges intersected)
/// and then `modifiers` to `set`. A set no track or segment is left of
/// is [`FilterError::Empty`].
pub fn apply(
    mut set: MediaSet,
    filters: &[Filter],
    modifiers: &Modifiers,
) -> Result<MediaSet, FilterError> {
    let mut order: Vec<usize> = (0..set.tracks.len()).collect();
    let mut range = TimeRange::default();
    for f in filters {
        order.retain(|&i| f.keeps(&set, &set.tracks[i]));
        range = range.intersect(f.range);
    }
    if order.is_empty() {
        return Err(FilterError::Empty(
            "the filters leave no track to play".into(),
        ));
    }
    order = modifiers.apply(&set, order)?;
    modifiers.default_text(&mut set)?;
    // The last filter with a first quality wins, as a later filter's
    // selections act last.
    if let Some(q) = filters.iter().rev().find_map(|f| f.first_quality) {
        first_quality(&set, &mut order, q);
    }
    set.view_tracks(&order);
    if !range.is_unbounded() {
        set.clip = Some(Clip::of(&set.timeline, range)?);
    }
    Ok(set)
}

/// Moves the video rendition whose bitrate is nearest `bitrate` before the
/// other video renditions (HLS lists variants in set order; players start
/// with the first).
fn first_quality(set: &MediaSet, order: &mut [usize], bitrate: u64) {
    let is_video = |i: usize| set.track_index(&set.tracks[i]).info.kind == TrackKind::Video;
    let best = order
        .iter()
        .enumerate()
        .filter(|(_, &i)| is_video(i))
        .min_by_key(|(_, &i)| set.tracks[i].bitrate.abs_diff(bitrate))
        .map(|(pos, _)| pos);
    let first_video = order.iter().position(|&i| is_video(i));
    if let (Some(b), Some(f)) = (best, first_video) {
        order[f..=b].rotate_right(1);
    }
}

/// HNS from `value` in `timescale` units, saturating (a filter's
/// "no end" is `i64::MAX`).
pub fn to_hns(value: u64, timescale: u64) -> u64 {
    if timescale == 0 {
        return 0;
    }
    let v = u128::from(value) * u128::from(HNS) / u128::from(timescale);
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
