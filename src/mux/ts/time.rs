//! The 90 kHz clock of PTS, DTS and the PCR base (§2.4.3.7, §2.4.3.5):
//! track times converted with exact integer math, and the 33-bit width at
//! which these fields wrap.

use super::{MuxError, TsTrack, TS_TIME_OFFSET_90K};

pub(super) const PTS_MASK: u64 = (1 << 33) - 1;

/// Converts a track time to the 90 kHz TS clock, floored, plus
/// [`TS_TIME_OFFSET_90K`], before the 2^33 wrap. `None` if negative.
///
/// WebVTT sidecars for TS renditions map `LOCAL:00:00:00.000` to
/// `MPEGTS:` this value of time 0, i.e. [`TS_TIME_OFFSET_90K`].
pub fn ts_time_90k(time: i64, timescale: u32) -> Option<u64> {
    if timescale == 0 {
        return None;
    }
    let scaled = (i128::from(time) * 90_000).div_euclid(i128::from(timescale));
    u64::try_from(scaled + i128::from(TS_TIME_OFFSET_90K)).ok()
}

/// Converts one track's times, checking decode order.
pub(super) struct Clock<'a> {
    pub(super) track: &'a TsTrack<'a>,
}

impl Clock<'_> {
    pub(super) fn at(&self, time: i64, sample: usize) -> Result<u64, MuxError> {
        ts_time_90k(time, self.track.info.timescale).ok_or(MuxError::TimestampOutOfRange {
            track_id: self.track.info.track_id,
            sample,
            time,
        })
    }

    pub(super) fn check_order(
        &self,
        prev: Option<i64>,
        time: i64,
        sample: usize,
    ) -> Result<(), MuxError> {
        match prev {
            Some(p) if time < p => Err(MuxError::DtsNotMonotonic {
                track_id: self.track.info.track_id,
                sample,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mux::ts::tests::{avc, demux, seg, track, video_sample, PPS, SPS};
    use crate::mux::ts::{TsTrack, PCR_DELAY_90K};

    #[test]
    fn time_conversion_is_exact() {
        assert_eq!(ts_time_90k(0, 12_288), Some(TS_TIME_OFFSET_90K));
        assert_eq!(ts_time_90k(512, 12_288), Some(TS_TIME_OFFSET_90K + 3_750));
        assert_eq!(ts_time_90k(-1024, 12_288), Some(TS_TIME_OFFSET_90K - 7_500));
        assert_eq!(ts_time_90k(1001, 30_000), Some(TS_TIME_OFFSET_90K + 3_003));
        // 1024/44100 s = 2089.79… ticks, floored; frame 1000 is not 1000 × 2089.
        assert_eq!(ts_time_90k(1024, 44_100), Some(TS_TIME_OFFSET_90K + 2_089));
        assert_eq!(
            ts_time_90k(1_024_000, 44_100),
            Some(TS_TIME_OFFSET_90K + 2_089_795)
        );
        // 30 h at 10 MHz: no overflow thanks to the 128-bit intermediate.
        assert_eq!(
            ts_time_90k(1_080_000_000_000, 10_000_000),
            Some(TS_TIME_OFFSET_90K + 9_720_000_000)
        );
        assert_eq!(ts_time_90k(-10 * 48_000 - 1, 48_000), None);
        assert_eq!(ts_time_90k(1, 0), None);
    }

    #[test]
    fn timestamps_wrap_at_33_bits() {
        let info = track(1, avc(SPS, PPS), 90_000);
        let t = (1i64 << 33) - TS_TIME_OFFSET_90K as i64 + 10;
        let samples = [video_sample(t, t, true, 100)];
        let d = demux(
            &seg(&[TsTrack {
                info: &info,
                samples: &samples,
                pid: 0x100,
            }])
            .to_vec(),
        );
        let p = &d.pes[&0x100][0];
        assert_eq!(p.pts, Some(10));
        assert_eq!(p.pcr, Some((10 + (1 << 33) - PCR_DELAY_90K) & PTS_MASK));
    }
}
