//! The content key of each track of a title, as manifests need them: with
//! several keys, one AdaptationSet / one key tag per key (the service
//! fills it, [`crate::service::track_keys`]).

use super::cpix::DrmSystem;
use super::ContentKey;

/// The key and DRM signalling of each track, by its (file, track) index
/// in the media set.
#[derive(Debug)]
pub struct TrackKeys<'a> {
    keys: Vec<((usize, usize), ContentKey, &'a [DrmSystem])>,
    /// Whether tracks may have different keys: key URLs then name the
    /// key id (single-key outputs keep the URLs they had).
    pub multi: bool,
}

impl<'a> TrackKeys<'a> {
    pub fn new(keys: Vec<((usize, usize), ContentKey, &'a [DrmSystem])>, multi: bool) -> Self {
        TrackKeys { keys, multi }
    }

    /// The key and signalling of track `track` of file `file`.
    pub fn of(&self, file: usize, track: usize) -> Option<(&ContentKey, &'a [DrmSystem])> {
        self.keys
            .iter()
            .find(|(at, _, _)| *at == (file, track))
            .map(|(_, k, d)| (k, *d))
    }

    /// The distinct keys with their signalling, in track order.
    pub fn distinct(&self) -> Vec<(&ContentKey, &'a [DrmSystem])> {
        let mut out: Vec<(&ContentKey, &'a [DrmSystem])> = Vec::new();
        for (_, k, d) in &self.keys {
            if !out.iter().any(|(o, _)| o.kid == k.kid) {
                out.push((k, *d));
            }
        }
        out
    }
}
