//! The content key of each track (issue 14): with a CPIX document of
//! several keys, its usage rules ([`crate::crypto::cpix::rules`]) give
//! each track the key of its type (audio, SD/HD video, …); with a seed or
//! a one-key document every track has the asset's one key, as before.
//!
//! A track's characteristics, as CPIX filters read them (CPIX 2.3
//! §5.3.5.2): pixels = coded width × height from the sample entry; frame
//! rate = samples per second of the track (nominal, §5.3.5.2.5); HDR =
//! a PQ or HLG transfer (the `colr` or Dolby Vision signalling that
//! decides HLS `VIDEO-RANGE`); WCG = BT.2020 primaries (`colr` 9);
//! channels from the audio sample entry; bitrate = the rendition's
//! bitrate in URLs and manifests (`.ism` `systemBitrate`, else measured).

use super::ServeError;
use crate::crypto::cpix::rules::{TrackTraits, TraitKind};
use crate::crypto::cpix::{CpixError, DrmSystem};
use crate::crypto::{ContentKey, KeySource, TrackKeys};
use crate::media_set::{MediaSet, SetTrack};
use crate::model::{TrackInfo, TrackKind, VideoRange};
use crate::url::Asset;

/// `colour_primaries` of BT.2020 (ITU-T H.273 Table 2).
const BT2020: u16 = 9;

/// The characteristics usage rules are matched against.
pub fn traits(info: &TrackInfo, bitrate: u64) -> TrackTraits {
    let kind = match info.kind {
        TrackKind::Video => TraitKind::Video,
        TrackKind::Audio => TraitKind::Audio,
        _ => TraitKind::Other,
    };
    TrackTraits {
        kind,
        pixels: u64::from(info.width) * u64::from(info.height),
        fps: info
            .frame_rate()
            .filter(|(_, d)| *d > 0)
            .map(|(n, d)| n as f64 / d as f64),
        hdr: info.video_range() != VideoRange::Sdr,
        wcg: info.colour.is_some_and(|c| c.primaries == BT2020),
        channels: u32::from(info.channels),
        bitrate,
    }
}

/// A usage-rule error as the request's answer: 501 for what is not
/// supported (a track no rule covers), 502 for an invalid document.
pub fn serve_error(e: CpixError) -> ServeError {
    match e {
        CpixError::Unsupported(why) => {
            ServeError::NotImplemented(format!("CPIX usage rules: {why}"))
        }
        CpixError::Invalid(why) => ServeError::Media(format!("CPIX usage rules: {why}")),
    }
}

/// The key of track `t` of `set`, and its DRM systems' signalling.
pub fn of_track<'a>(
    source: &'a KeySource,
    asset: &Asset,
    set: &MediaSet,
    t: &SetTrack,
) -> Result<(ContentKey, &'a [DrmSystem]), ServeError> {
    let info = &set.track_index(t).info;
    let key = source
        .track_key(
            asset,
            &traits(info, t.bitrate),
            &format!("track {} ({} bit/s)", t.name, t.bitrate),
        )
        .map_err(serve_error)?;
    let drm = source.drm_systems_of(&key.kid);
    Ok((key, drm))
}

/// The keys of every track of `set`, for its manifests.
pub fn of_set<'a>(
    source: &'a KeySource,
    asset: &Asset,
    set: &MediaSet,
) -> Result<TrackKeys<'a>, ServeError> {
    let mut keys = Vec::with_capacity(set.tracks.len());
    for t in &set.tracks {
        let (key, drm) = of_track(source, asset, set, t)?;
        keys.push(((t.file, t.track), key, drm));
    }
    Ok(TrackKeys::new(keys, source.multi_key()))
}
