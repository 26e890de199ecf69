//! What kind of stream access point a segment boundary is (ISO/IEC
//! 14496-12 Annex I), read from the sample tables alone.
//!
//! A sync sample followed in decode order by samples presented *before* it
//! opens an open GOP: those leading pictures (H.264 B-frames after a
//! recovery-point I-frame, HEVC RASL pictures after a CRA) reference the
//! previous GOP, so decoding from the boundary loses them. That is SAP type
//! 3 (T_EPT < T_DEC), and such a segment is not independent. A closed GOP
//! (every following sample presented after the sync sample) is SAP type 1.
//! Which leading pictures would still decode (HEVC RADL, SAP type 2) needs
//! the NAL unit types, so leading pictures are reported conservatively as
//! type 3.

use crate::index::{Result, TrackIndex};

/// Samples after a sync sample searched for leading pictures: longer than
/// any reorder depth encoders use (H.264 allows 16 reference frames).
const REORDER_WINDOW: u32 = 32;

/// `sample_flags.is_leading = 1` (ISO/IEC 14496-12 §8.8.3.1): a leading
/// sample with a dependency before its I-picture, not decodable from it.
pub const IS_LEADING_UNDECODABLE: u32 = 0x0400_0000;

/// SAP type of a track's segment boundaries as signalled in manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SapType {
    /// Closed GOPs: each segment decodes on its own.
    Closed = 1,
    /// Open GOPs: leading pictures need the previous segment.
    Open = 3,
}

/// Number of samples after sync sample `sync` (decode order) presented
/// before it.
pub fn leading_samples(t: &TrackIndex, sync: u32) -> Result<u32> {
    let end = sync
        .saturating_add(1)
        .saturating_add(REORDER_WINDOW)
        .min(t.sample_count());
    if sync >= end {
        return Ok(0);
    }
    let mut it = t.samples(sync..end)?;
    let Some(first) = it.next() else {
        return Ok(0);
    };
    let key = first?.cts();
    let mut n = 0;
    for s in it {
        let s = s?;
        if s.sync {
            break;
        }
        if s.cts() < key {
            n += 1;
        }
    }
    Ok(n)
}

/// How the boundaries of a video track behave, from the sync table alone
/// (no sample walk, so a manifest pays a few microseconds even for a
/// long title). A sync sample's composition offset (presentation minus
/// decode time) exceeds the track's smallest one by one frame per picture
/// decoded after it but presented before it (in a closed GOP every
/// picture of the previous GOP is presented first, so nothing else moves
/// it): an offset more than half a frame above the smallest marks leading
/// pictures, an open GOP. [`leading_samples`] is the same test by walking
/// the samples. Tracks without composition offsets cannot reorder and are
/// closed.
pub fn track_sap(t: &TrackIndex) -> Result<SapType> {
    if !t.is_video() || !t.has_cts {
        return Ok(SapType::Closed);
    }
    let Some(base) = t.sync_offsets().map(|(_, o)| o).min() else {
        return Ok(SapType::Closed);
    };
    let frame = (t.info.duration / u64::from(t.info.sample_count.max(1))).max(1);
    let tolerance = i64::try_from(frame / 2).unwrap_or(i64::MAX).max(1);
    let open = t
        .sync_offsets()
        .any(|(_, o)| o.saturating_sub(base) > tolerance);
    Ok(if open { SapType::Open } else { SapType::Closed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::fixture_set;

    fn video(name: &str) -> crate::media_set::MediaSet {
        fixture_set(name, 1000)
    }

    #[test]
    fn closed_gops_are_sap_1() {
        let set = video("avc_bframes.mp4");
        let t = set.track_index(&set.tracks[0]);
        assert_eq!(track_sap(t).unwrap(), SapType::Closed);
        for (_, sync) in t.sync_points().map(|(s, p)| (p, s)) {
            assert_eq!(leading_samples(t, sync).unwrap(), 0);
        }
    }

    /// x264 `open-gop=1`: every I-frame after the first has leading
    /// B-frames (presented before it, decoded after it).
    #[test]
    fn open_gops_are_sap_3() {
        let set = video("open_gop.mp4");
        let t = set.track_index(&set.tracks[0]);
        assert_eq!(track_sap(t).unwrap(), SapType::Open);
        let syncs: Vec<u32> = t.sync_points().map(|(s, _)| s).collect();
        assert!(syncs.len() >= 3, "{syncs:?}");
        assert_eq!(leading_samples(t, syncs[0]).unwrap(), 0);
        // x264 still closes a GOP now and then; most are open.
        let open = syncs[1..]
            .iter()
            .filter(|&&s| leading_samples(t, s).unwrap() > 0)
            .count();
        assert!(open * 2 >= syncs.len() - 1, "{open} of {syncs:?}");
    }

    /// The sync-table test agrees with walking the samples, sync point by
    /// sync point.
    #[test]
    fn table_and_walk_agree() {
        for name in ["open_gop.mp4", "avc_bframes.mp4", "muxed_moov_end.mp4"] {
            let set = video(name);
            let t = set.track_index(&set.tracks[0]);
            let base = t.sync_offsets().map(|(_, o)| o).min().unwrap();
            for (sample, offset) in t.sync_offsets() {
                let leading = leading_samples(t, sample).unwrap();
                assert_eq!(leading > 0, offset > base, "{name} sync sample {sample}");
            }
        }
    }

    #[test]
    fn audio_is_closed() {
        let set = video("aac.mp4");
        let t = set.track_index(&set.tracks[0]);
        assert_eq!(track_sap(t).unwrap(), SapType::Closed);
    }
}
