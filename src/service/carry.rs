//! Which renditions an output format can carry, and refusals that name the
//! codecs it cannot.
//!
//! MPEG-TS for HLS carries H.264, AAC, AC-3 and E-AC-3 (stream types of
//! ISO/IEC 13818-1 Table 2-34 and ATSC A/52; HEVC is fMP4-only for Apple,
//! see [`hls::ts_capable`]); Smooth Streaming carries what MS-SSTR
//! §2.2.2.5 has a FourCC for (see [`smooth::carries`]). Both formats leave
//! the other renditions out; a title that would lose all its video (or
//! everything) is refused with the codecs at fault, so a player is not
//! handed a silently different title and an operator reads why.

use crate::manifest::{hls, smooth};
use crate::media_set::MediaSet;
use crate::model::{TrackInfo, TrackKind};

/// An output format's codec limits.
pub(super) struct Carrier {
    /// The format as refusals name it.
    name: &'static str,
    carries: fn(&TrackInfo) -> bool,
    /// Kinds that may not be lost: a title with tracks of such a kind of
    /// which none can be carried is refused.
    required: &'static [TrackKind],
    /// What to ask for instead.
    hint: &'static str,
}

/// Smooth Streaming: renditions without a FourCC are left out; a title
/// left without video (or anything) is refused.
pub(super) const SMOOTH: Carrier = Carrier {
    name: "Smooth Streaming",
    carries: smooth::carries,
    required: &[TrackKind::Video],
    hint: "use format=m3u8-cmaf or format=mpd-time-cmaf",
};

/// MPEG-TS HLS (`m3u8-aapl`, `m3u8-aapl-v3`): a title that would lose all
/// its video or all its audio is refused.
pub(super) const TS: Carrier = Carrier {
    name: "MPEG-TS",
    carries: hls::ts_capable,
    required: &[TrackKind::Video, TrackKind::Audio],
    hint: "use format=m3u8-cmaf",
};

impl Carrier {
    /// Whether the title can be served in this format; the refusal names
    /// every codec of the title the format cannot carry.
    pub(super) fn title(&self, set: &MediaSet) -> Result<(), String> {
        let infos: Vec<&TrackInfo> = set
            .tracks
            .iter()
            .map(|t| &set.track_index(t).info)
            .collect();
        let lost = |kind: TrackKind| {
            let mut of_kind = infos.iter().filter(|i| i.kind == kind).peekable();
            of_kind.peek().is_some() && of_kind.all(|i| !(self.carries)(i))
        };
        let nothing = !infos.iter().any(|i| (self.carries)(i));
        if nothing || self.required.iter().any(|&k| lost(k)) {
            return Err(self.refusal(infos.into_iter().filter(|i| !(self.carries)(i))));
        }
        Ok(())
    }

    /// The renditions this format leaves out, as `name@bitrate: why`.
    pub(super) fn omitted(&self, set: &MediaSet) -> Vec<String> {
        set.tracks
            .iter()
            .filter(|t| !(self.carries)(&set.track_index(t).info))
            .map(|t| {
                format!(
                    "{}@{}: {} cannot carry {}",
                    t.name,
                    t.bitrate,
                    self.name,
                    codec_label(&set.track_index(t).info)
                )
            })
            .collect()
    }

    /// Whether a track a sub-resource URL names can be served.
    pub(super) fn track(&self, info: &TrackInfo) -> Result<(), String> {
        if (self.carries)(info) {
            Ok(())
        } else {
            Err(self.refusal(std::iter::once(info)))
        }
    }

    /// "{format} cannot carry {codec}, {codec}; {hint}", each codec once.
    fn refusal<'a>(&self, infos: impl Iterator<Item = &'a TrackInfo>) -> String {
        let mut labels: Vec<String> = Vec::new();
        for i in infos {
            let l = codec_label(i);
            if !labels.contains(&l) {
                labels.push(l);
            }
        }
        if labels.is_empty() {
            // Every track is carried but none has samples to list.
            return format!("{} has nothing to list for this title", self.name);
        }
        format!(
            "{} cannot carry {}; {}",
            self.name,
            labels.join(", "),
            self.hint
        )
    }
}

/// A codec as refusals name it: common name, then the sample entry type,
/// or for `mp4a` (which says little) the codec string: "HEVC (hvc1)",
/// "FLAC (fLaC)", "DTS (mp4a.A9)".
pub(super) fn codec_label(info: &TrackInfo) -> String {
    crate::codec::label(info)
}

#[cfg(test)]
mod tests;
