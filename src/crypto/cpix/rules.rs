//! CPIX content key usage rules (DASH-IF CPIX 2.3 §5.3.5
//! `ContentKeyUsageRule`, §5.3.5.2 "Usage Rules Filters"): which of a
//! document's content keys encrypts which track.
//!
//! Semantics, as the clauses say them:
//!
//! * A rule names one key (`@kid`) and holds filters. Filters of one type
//!   are ORed, then the types are ANDed (§5.3.5.2.1: "(stream-1 OR
//!   stream-2) AND video"). A rule without filters matches every track.
//! * `VideoFilter` matches video only, even without attributes;
//!   `@minPixels`/`@maxPixels` bound the encoded width × height, both
//!   inclusive (`[min, max]`); `@minFps`/`@maxFps` bound the nominal frame
//!   rate as `(min, max]` (§5.3.5.2.5); `@hdr`/`@wcg` must equal the
//!   track's. `AudioFilter` matches audio only; `@minChannels`/
//!   `@maxChannels` inclusive. `BitrateFilter` bounds the nominal bitrate,
//!   inclusive. The clause says "in Mb/s", but its producers (SPEKE v2
//!   encryptors, DASH-IF's own test vectors) write bit/s, and a Mb/s
//!   reading would put every track of a ladder in one integer bucket:
//!   bit/s it is.
//! * A track (a "content key context") must match rules of exactly zero
//!   or one key: rules naming two keys that both match are an invalid
//!   document (§5.3.5.2.1), answered 502. A track matching no rule has no
//!   key: CPIX leaves it clear, which this packager does not do inside an
//!   encrypted output; it is answered 501 rather than sent clear.
//! * A rule is unusable when a filter cannot be evaluated (an unknown
//!   filter element, or a value the track does not have); then no key is
//!   mapped at all (§5.3.5.2.1). `KeyPeriodFilter` (key rotation) and
//!   `LabelFilter` (labels agreed out of band) have no meaning here:
//!   such documents are refused (501) when parsed.
//! * `@intendedTrackType` is metadata ("it has no function in defining
//!   what Content Key are matched to what tracks", §5.3.5.2.3): kept for
//!   errors and the provider request, never matched.

use super::CpixError;

/// Most `ContentKeyUsageRule` elements read.
pub const MAX_RULES: usize = 64;
/// Most filters of one rule.
pub const MAX_FILTERS: usize = 16;
/// Longest `@intendedTrackType` kept.
pub const MAX_TRACK_TYPE: usize = 64;

/// `VideoFilter` (CPIX 2.3 §5.3.5.2.5); `None` = attribute absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VideoFilter {
    pub min_pixels: Option<u64>,
    pub max_pixels: Option<u64>,
    pub hdr: Option<bool>,
    pub wcg: Option<bool>,
    pub min_fps: Option<u32>,
    pub max_fps: Option<u32>,
}

/// `AudioFilter` (§5.3.5.2.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AudioFilter {
    pub min_channels: Option<u32>,
    pub max_channels: Option<u32>,
}

/// `BitrateFilter` (§5.3.5.2.7), bit/s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BitrateFilter {
    pub min_bitrate: Option<u64>,
    pub max_bitrate: Option<u64>,
}

/// One `ContentKeyUsageRule`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageRule {
    pub kid: [u8; 16],
    pub intended_track_type: Option<String>,
    pub video: Vec<VideoFilter>,
    pub audio: Vec<AudioFilter>,
    pub bitrate: Vec<BitrateFilter>,
}

/// What a rule is matched against: one track's characteristics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrackTraits {
    pub kind: TraitKind,
    /// Encoded width × height (video).
    pub pixels: u64,
    /// Nominal frames per second (video), when known.
    pub fps: Option<f64>,
    pub hdr: bool,
    pub wcg: bool,
    /// Channel count (audio).
    pub channels: u32,
    /// Nominal bitrate, bit/s.
    pub bitrate: u64,
}

/// The track types filters tell apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TraitKind {
    #[default]
    Video,
    Audio,
    /// Neither (text): only a rule without video/audio filters matches.
    Other,
}

impl VideoFilter {
    fn matches(&self, t: &TrackTraits) -> Result<bool, CpixError> {
        if t.kind != TraitKind::Video {
            return Ok(false);
        }
        let fps_needed = self.min_fps.is_some() || self.max_fps.is_some();
        let fps =
            match (fps_needed, t.fps) {
                (false, _) => 0.0,
                (true, Some(f)) => f,
                // §5.3.5.2.1: a filter that cannot be evaluated makes the
                // rule unusable.
                (true, None) => return Err(CpixError::Unsupported(
                    "a VideoFilter bounds the frame rate of a track whose frame rate is unknown"
                        .into(),
                )),
            };
        Ok(self.min_pixels.is_none_or(|m| t.pixels >= m)
            && self.max_pixels.is_none_or(|m| t.pixels <= m)
            && self.min_fps.is_none_or(|m| fps > f64::from(m))
            && self.max_fps.is_none_or(|m| fps <= f64::from(m))
            && self.hdr.is_none_or(|h| h == t.hdr)
            && self.wcg.is_none_or(|w| w == t.wcg))
    }
}

impl AudioFilter {
    fn matches(&self, t: &TrackTraits) -> bool {
        t.kind == TraitKind::Audio
            && self.min_channels.is_none_or(|m| t.channels >= m)
            && self.max_channels.is_none_or(|m| t.channels <= m)
    }
}

impl BitrateFilter {
    fn matches(&self, t: &TrackTraits) -> bool {
        self.min_bitrate.is_none_or(|m| t.bitrate >= m)
            && self.max_bitrate.is_none_or(|m| t.bitrate <= m)
    }
}

impl UsageRule {
    /// Whether the rule applies to `t`: each filter type present must
    /// have one matching filter (OR within a type, AND across types).
    pub fn matches(&self, t: &TrackTraits) -> Result<bool, CpixError> {
        if !self.video.is_empty() {
            let mut any = false;
            for f in &self.video {
                any |= f.matches(t)?;
            }
            if !any {
                return Ok(false);
            }
        }
        if !self.audio.is_empty() && !self.audio.iter().any(|f| f.matches(t)) {
            return Ok(false);
        }
        if !self.bitrate.is_empty() && !self.bitrate.iter().any(|f| f.matches(t)) {
            return Ok(false);
        }
        Ok(true)
    }

    pub fn filter_count(&self) -> usize {
        self.video.len() + self.audio.len() + self.bitrate.len()
    }
}

/// The key id `rules` give a track: the one key whose rules match it.
/// No rule matching is 501 (the track would be clear), rules of two keys
/// matching is 502 (an invalid document, §5.3.5.2.1). `what` names the
/// track in the reason.
pub fn key_of(rules: &[UsageRule], t: &TrackTraits, what: &str) -> Result<[u8; 16], CpixError> {
    let mut found: Option<&UsageRule> = None;
    for r in rules {
        if !r.matches(t)? {
            continue;
        }
        match found {
            Some(f) if f.kid != r.kid => {
                return Err(CpixError::Invalid(format!(
                    "{what} matches the ContentKeyUsageRules of two keys ({} and {}): a track must match one",
                    crate::manifest::dash::uuid(&f.kid),
                    crate::manifest::dash::uuid(&r.kid)
                )))
            }
            Some(_) => {}
            None => found = Some(r),
        }
    }
    found.map(|r| r.kid).ok_or_else(|| {
        CpixError::Unsupported(format!(
            "{what} matches no ContentKeyUsageRule: CPIX leaves such a track clear, which an encrypted output does not do"
        ))
    })
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
