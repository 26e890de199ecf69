//! Playback modifiers: query (or path option) keys that narrow or reorder
//! the renditions of one manifest, each applied as a filter would be
//! (after the named filters). Bitrate and resolution bounds act on video
//! renditions only (audio is kept: a player needs one); a bound that
//! leaves no video rendition, or a default language the title does not
//! have, is refused (400) rather than silently ignored.

use super::{same_language, FilterError};
use crate::media_set::MediaSet;
use crate::model::TrackKind;

/// `1280x720` (both bounds) or `720p` (height only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Resolution {
    pub width: Option<u32>,
    pub height: u32,
}

impl Resolution {
    pub fn parse(v: &str) -> Option<Resolution> {
        let dim = |s: &str| {
            (!s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
                .filter(|&n| n > 0)
        };
        if let Some(h) = v.strip_suffix(['p', 'P']) {
            return Some(Resolution {
                width: None,
                height: dim(h)?,
            });
        }
        let (w, h) = v.split_once(['x', 'X'])?;
        Some(Resolution {
            width: Some(dim(w)?),
            height: dim(h)?,
        })
    }

    fn at_most(&self, w: u32, h: u32) -> bool {
        h <= self.height && self.width.is_none_or(|mw| w <= mw)
    }

    fn at_least(&self, w: u32, h: u32) -> bool {
        h >= self.height && self.width.is_none_or(|mw| w >= mw)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Order {
    Ascending,
    Descending,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Modifiers {
    pub max_resolution: Option<Resolution>,
    pub min_resolution: Option<Resolution>,
    pub max_bitrate: Option<u64>,
    pub min_bitrate: Option<u64>,
    pub rendition_order: Option<Order>,
    pub default_audio_lang: Option<String>,
    pub default_subtitles_lang: Option<String>,
}

/// The modifier keys, as written in URLs.
pub const KEYS: [&str; 7] = [
    "max_resolution",
    "min_resolution",
    "max_bitrate",
    "min_bitrate",
    "rendition_order",
    "default_audio_lang",
    "default_subtitles_lang",
];

/// Why a modifier could not be set: its key and what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub enum SetError {
    Invalid(&'static str),
    Duplicate(&'static str),
}

fn put<T>(slot: &mut Option<T>, v: Option<T>, key: &'static str) -> Result<(), SetError> {
    let v = v.ok_or(SetError::Invalid(key))?;
    if slot.is_some() {
        return Err(SetError::Duplicate(key));
    }
    *slot = Some(v);
    Ok(())
}

fn bitrate(v: &str) -> Option<u64> {
    (!v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.parse().ok())
        .flatten()
        .filter(|&n| n > 0)
}

/// A BCP 47 / ISO 639 tag: letters, digits and `-`, a 2–8 letter primary
/// subtag, at most 35 bytes (RFC 5646 §4.4.1's minimum buffer).
fn language(v: &str) -> Option<String> {
    let primary = v.split('-').next()?;
    let ok = v.len() <= 35
        && (2..=8).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| v.to_ascii_lowercase())
}

impl Modifiers {
    /// Sets modifier `key`; `Ok(false)` when `key` is not a modifier.
    pub fn set(&mut self, key: &str, v: &str) -> Result<bool, SetError> {
        let Some(&key) = KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) else {
            return Ok(false);
        };
        match key {
            "max_resolution" => put(&mut self.max_resolution, Resolution::parse(v), key)?,
            "min_resolution" => put(&mut self.min_resolution, Resolution::parse(v), key)?,
            "max_bitrate" => put(&mut self.max_bitrate, bitrate(v), key)?,
            "min_bitrate" => put(&mut self.min_bitrate, bitrate(v), key)?,
            "rendition_order" => {
                let o = if v.eq_ignore_ascii_case("asc") {
                    Some(Order::Ascending)
                } else if v.eq_ignore_ascii_case("desc") {
                    Some(Order::Descending)
                } else {
                    None
                };
                put(&mut self.rendition_order, o, key)?
            }
            "default_audio_lang" => put(&mut self.default_audio_lang, language(v), key)?,
            _ => put(&mut self.default_subtitles_lang, language(v), key)?,
        }
        Ok(true)
    }

    /// `,key=value` for each modifier set, in [`KEYS`] order, as a child
    /// manifest URL repeats them.
    pub fn url_options(&self) -> String {
        let res = |r: &Resolution| match r.width {
            Some(w) => format!("{w}x{}", r.height),
            None => format!("{}p", r.height),
        };
        let values = [
            self.max_resolution.as_ref().map(res),
            self.min_resolution.as_ref().map(res),
            self.max_bitrate.map(|b| b.to_string()),
            self.min_bitrate.map(|b| b.to_string()),
            self.rendition_order.map(|o| match o {
                Order::Ascending => "asc".to_string(),
                Order::Descending => "desc".to_string(),
            }),
            self.default_audio_lang.clone(),
            self.default_subtitles_lang.clone(),
        ];
        KEYS.iter()
            .zip(values)
            .filter_map(|(k, v)| v.map(|v| format!(",{k}={v}")))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        *self == Modifiers::default()
    }

    /// Path and query modifiers together; a key set in both must agree.
    pub fn merge(self, q: Modifiers) -> Result<Modifiers, &'static str> {
        fn one<T: PartialEq>(
            a: Option<T>,
            b: Option<T>,
            k: &'static str,
        ) -> Result<Option<T>, &'static str> {
            match (a, b) {
                (Some(a), Some(b)) if a != b => Err(k),
                (a, b) => Ok(a.or(b)),
            }
        }
        Ok(Modifiers {
            max_resolution: one(self.max_resolution, q.max_resolution, KEYS[0])?,
            min_resolution: one(self.min_resolution, q.min_resolution, KEYS[1])?,
            max_bitrate: one(self.max_bitrate, q.max_bitrate, KEYS[2])?,
            min_bitrate: one(self.min_bitrate, q.min_bitrate, KEYS[3])?,
            rendition_order: one(self.rendition_order, q.rendition_order, KEYS[4])?,
            default_audio_lang: one(self.default_audio_lang, q.default_audio_lang, KEYS[5])?,
            default_subtitles_lang: one(
                self.default_subtitles_lang,
                q.default_subtitles_lang,
                KEYS[6],
            )?,
        })
    }

    /// `order` (indexes into `set.tracks`, video first) narrowed and
    /// reordered by the modifiers.
    pub fn apply(&self, set: &MediaSet, mut order: Vec<usize>) -> Result<Vec<usize>, FilterError> {
        if self.is_empty() {
            return Ok(order);
        }
        let info = |i: usize| &set.track_index(&set.tracks[i]).info;
        let is_video = |i: usize| info(i).kind == TrackKind::Video;
        let had_video = order.iter().any(|&i| is_video(i));
        order.retain(|&i| {
            if !is_video(i) {
                return true;
            }
            let (w, h, b) = (info(i).width, info(i).height, set.tracks[i].bitrate);
            self.max_resolution.is_none_or(|r| r.at_most(w, h))
                && self.min_resolution.is_none_or(|r| r.at_least(w, h))
                && self.max_bitrate.is_none_or(|m| b <= m)
                && self.min_bitrate.is_none_or(|m| b >= m)
        });
        if had_video && !order.iter().any(|&i| is_video(i)) {
            return Err(FilterError::Modifier(
                "the resolution and bitrate bounds leave no video rendition".into(),
            ));
        }
        if let Some(o) = self.rendition_order {
            // Stable: equal bitrates keep their order; video stays first.
            order.sort_by_key(|&i| {
                let b = set.tracks[i].bitrate;
                let key = match o {
                    Order::Ascending => b,
                    Order::Descending => u64::MAX - b,
                };
                (!is_video(i), key)
            });
        }
        if let Some(lang) = &self.default_audio_lang {
            let audio = |i: usize| info(i).kind == TrackKind::Audio;
            let Some(pos) = order
                .iter()
                .position(|&i| audio(i) && same_language(&set.tracks[i].language, lang))
            else {
                return Err(FilterError::Modifier(format!(
                    "default_audio_lang={lang}: no audio track in that language"
                )));
            };
            if let Some(first) = order.iter().position(|&i| audio(i)) {
                order[first..=pos].rotate_right(1);
            }
        }
        Ok(order)
    }

    /// `default_subtitles_lang`: marks the first text track in that
    /// language the default (HLS `DEFAULT=YES`, DASH `Role` `main`) and
    /// moves it first, as `default_audio_lang` moves its audio track
    /// first. A forced track is chosen only when the language has no
    /// other (forced narrative is not "the subtitles"). Like
    /// `default_audio_lang`, a language no text track has is refused (400)
    /// rather than ignored, so a typo shows.
    pub fn default_text(&self, set: &mut MediaSet) -> Result<(), FilterError> {
        let Some(lang) = &self.default_subtitles_lang else {
            return Ok(());
        };
        let matches = |t: &&crate::media_set::TextTrack| same_language(&t.language, lang);
        let forced =
            |t: &crate::media_set::TextTrack| t.role == crate::input::ism::TextRole::Forced;
        let pos = set
            .texts
            .iter()
            .position(|t| matches(&t) && !forced(t))
            .or_else(|| set.texts.iter().position(|t| matches(&t)));
        let Some(pos) = pos else {
            return Err(FilterError::Modifier(format!(
                "default_subtitles_lang={lang}: no subtitle track in that language"
            )));
        };
        set.texts[..=pos].rotate_right(1);
        for (i, t) in set.texts.iter_mut().enumerate() {
            t.default = i == 0;
        }
        Ok(())
    }
}
