//! `elst`, the edit list (ISO/IEC 14496-12 §8.6.6): which parts of a
//! track's media timeline are presented, in which order, after which
//! delay.
//!
//! Parsed into a typed list of [`Edit`]s, then reduced to the shape dynamic
//! packaging can serve, an [`EditList`]: an optional initial delay (empty
//! edits before the first media edit) and media edits that go forward
//! through the media at normal rate. What cannot be served on one
//! continuous output track is refused as unsupported (HTTP 501) with the
//! reason: dwell edits (`media_rate` 0) and other rates, empty edits between
//! media edits (a pause in the middle), and edits that go back in the media
//! (repeats). Applying the list to samples is `index::edits`.

use super::error::{Mp4Error, Result};
use super::header::Mp4Box;

/// Most entries in one edit list. Real files hold one or two (a delay and
/// the media edit); an editor's cut list a few dozen. Every entry becomes a
/// cut that the index build looks up, so absurd counts are refused before
/// any is read.
pub const MAX_EDITS: usize = 64;

/// One `elst` entry as stored (§8.6.6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edit {
    /// Presented duration, in the movie timescale (`mvhd`).
    pub duration: u64,
    /// Start in the media (composition time, media timescale); -1 for an
    /// empty edit.
    pub media_time: i64,
    /// `media_rate_integer` and `media_rate_fraction` (16.16 as two parts).
    pub rate: (i16, i16),
}

impl Edit {
    pub fn is_empty(&self) -> bool {
        self.media_time == -1
    }
}

/// A media edit in the media timescale: media from `start` for `duration`
/// (`None`: to the end of the media, a zero `segment_duration` as
/// fragmented files write it, §8.6.6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaEdit {
    pub start: i64,
    pub duration: Option<u64>,
}

impl MediaEdit {
    /// Media end of the edit (`None`: the media's end).
    pub fn end(&self) -> Option<i64> {
        self.duration.map(|d| {
            self.start
                .saturating_add(i64::try_from(d).unwrap_or(i64::MAX))
        })
    }
}

/// An edit list reduced to what packaging applies, all in the media
/// timescale.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EditList {
    /// Initial empty edits: the track starts this late.
    pub delay: i64,
    /// Media edits in presentation order; empty when the list has none
    /// (the media is presented from composition time 0).
    pub media: Vec<MediaEdit>,
}

impl EditList {
    /// The constant shift from composition time to presentation time of
    /// the first media edit (see `TrackInfo::presentation_offset`).
    pub fn presentation_offset(&self) -> i64 {
        let start = self.media.first().map_or(0, |e| e.start);
        start.saturating_sub(self.delay)
    }

    /// Several media edits: media between them is cut out. (Whether one
    /// edit trims the media's end, the index decides from the media
    /// duration.)
    pub fn has_cuts(&self) -> bool {
        self.media.len() > 1
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}

/// Reads every entry of an `elst` box (§8.6.6.2), version 0 or 1.
pub fn parse_elst(elst: &Mp4Box, path: &str) -> Result<Vec<Edit>> {
    let p = &elst.payload;
    let at = elst.header.offset;
    if p.len() < 8 {
        return Err(Mp4Error::truncated(path, at, "elst cut short"));
    }
    let v1 = p[0] == 1;
    let count = be32(p, 4) as usize;
    if count > MAX_EDITS {
        return Err(Mp4Error::unsupported(
            path,
            at,
            format!("edit list of {count} entries (the limit is {MAX_EDITS})"),
        ));
    }
    let width = if v1 { 20 } else { 12 };
    if count * width > p.len() - 8 {
        return Err(Mp4Error::truncated(path, at, "elst entries cut short"));
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let o = 8 + i * width;
        let (duration, media_time, r) = if v1 {
            (be64(p, o), be64(p, o + 8) as i64, o + 16)
        } else {
            (
                u64::from(be32(p, o)),
                i64::from(be32(p, o + 4) as i32),
                o + 8,
            )
        };
        let rate = (
            i16::from_be_bytes([p[r], p[r + 1]]),
            i16::from_be_bytes([p[r + 2], p[r + 3]]),
        );
        out.push(Edit {
            duration,
            media_time,
            rate,
        });
    }
    Ok(out)
}

/// Converts `v` from timescale `from` to `to` (floor), saturating.
fn rescale(v: u64, from: u32, to: u32) -> i64 {
    let r = u128::from(v) * u128::from(to) / u128::from(from.max(1));
    i64::try_from(r).unwrap_or(i64::MAX)
}

impl EditList {
    /// Reduces `edits` (durations in `movie_ts`) to an [`EditList`] in
    /// `media_ts`, refusing the shapes one continuous track cannot show.
    pub fn from_edits(
        edits: &[Edit],
        movie_ts: u32,
        media_ts: u32,
        path: &str,
        at: u64,
    ) -> Result<EditList> {
        let mut list = EditList::default();
        let unsupported = |why: &str| Err(Mp4Error::unsupported(path, at, why.to_string()));
        for (i, e) in edits.iter().enumerate() {
            if e.is_empty() {
                if list.media.is_empty() {
                    list.delay = list
                        .delay
                        .saturating_add(rescale(e.duration, movie_ts, media_ts));
                    continue;
                }
                // A trailing empty edit only says the movie goes on
                // without this track: nothing to present.
                if edits[i..].iter().all(Edit::is_empty) {
                    break;
                }
                return unsupported("edit list pauses the track between media edits (empty edit)");
            }
            if e.media_time < 0 {
                return Err(Mp4Error::invalid(path, at, "negative media_time"));
            }
            // §8.6.6.3: media_rate 0 is a dwell (one frame held); other
            // rates play the media faster or slower. Neither is a plain
            // selection of samples.
            if e.rate != (1, 0) {
                return unsupported(&format!(
                    "edit list media_rate {}.{} (only 1 is supported; 0 is a dwell)",
                    e.rate.0, e.rate.1
                ));
            }
            let duration = match e.duration {
                0 => None,
                d => Some(rescale(d, movie_ts, media_ts).max(0) as u64),
            };
            if let Some(prev) = list.media.last() {
                match prev.end() {
                    Some(end) if e.media_time >= end => {}
                    Some(_) => return unsupported("edit list repeats or goes back in the media"),
                    None => {
                        return unsupported("edit list has an edit of zero duration before another")
                    }
                }
            }
            list.media.push(MediaEdit {
                start: e.media_time,
                duration,
            });
        }
        Ok(list)
    }
}

/// The track's edit list from its `edts` box (none: presented as stored).
pub fn parse_edts(edts: &Mp4Box, path: &str, movie_ts: u32, media_ts: u32) -> Result<EditList> {
    let Some(elst) = edts.children(path).find(b"elst")? else {
        return Ok(EditList::default());
    };
    let elst_path = format!("{path}/elst");
    let edits = parse_elst(&elst, &elst_path)?;
    EditList::from_edits(&edits, movie_ts, media_ts, &elst_path, elst.header.offset)
}

#[cfg(test)]
mod tests;
