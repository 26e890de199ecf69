//! Elementary streams into PES packets (§2.4.3.7): one PES per video
//! access unit (Annex B, with AUD and parameter sets), audio frames grouped
//! into PES packets of at most 90 ms with ADTS headers (AAC) or as AC-3 /
//! E-AC-3 syncframes, each track with its `stream_id`.

use super::pes::{Pes, PesTrack};
use super::time::Clock;
use super::{MuxError, TsTrack, AUDIO_PES_MAX_DURATION_90K};
use crate::model::Codec;
use crate::mux::adts::{AdtsHeader, ADTS_HEADER_LEN};
use crate::mux::annexb::AnnexBConfig;
use crate::mux::MuxSample;
use bytes::{BufMut, Bytes, BytesMut};

/// Largest audio PES payload: `PES_packet_length` (16 bits) also counts
/// the 3 flag bytes and the 5-byte PTS.
const AUDIO_PES_MAX_PAYLOAD: usize = 0xFFFF - 8;

const STREAM_ID_VIDEO: u8 = 0xE0;
const STREAM_ID_AUDIO: u8 = 0xC0;
const STREAM_ID_PRIVATE_1: u8 = 0xBD;

/// One PES per access unit.
fn video_pes(t: &TsTrack<'_>, pt: PesTrack, cfg: &AnnexBConfig) -> Result<Vec<Pes>, MuxError> {
    let clock = Clock { track: t };
    let track_id = t.info.track_id;
    let mut out = Vec::with_capacity(t.samples.len());
    let mut prev = None;
    for (i, s) in t.samples.iter().enumerate() {
        clock.check_order(prev, s.dts, i)?;
        prev = Some(s.dts);
        if s.pts < s.dts {
            return Err(MuxError::PtsBeforeDts {
                track_id,
                sample: i,
            });
        }
        let (dts, pts) = (clock.at(s.dts, i)?, clock.at(s.pts, i)?);
        let mut pieces = Vec::new();
        cfg.convert(&s.data, s.sync, &mut pieces)
            .map_err(|source| MuxError::Nal {
                track_id,
                sample: i,
                source,
            })?;
        out.push(Pes::new(pt, pts, dts, pieces, s.sync));
    }
    Ok(out)
}

enum AudioFraming {
    Adts(AdtsHeader),
    /// AC-3 / E-AC-3: samples are syncframes already.
    Syncframe,
}

/// Frames grouped into PES packets of at most 90 ms, each PES stamped with
/// the PTS of its own first frame.
fn audio_pes(t: &TsTrack<'_>, pt: PesTrack, framing: AudioFraming) -> Result<Vec<Pes>, MuxError> {
    let clock = Clock { track: t };
    let headers = audio_frame_headers(t, &clock, &framing)?;
    let overhead = match framing {
        AudioFraming::Adts(_) => ADTS_HEADER_LEN,
        AudioFraming::Syncframe => 0,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.samples.len() {
        let start = clock.at(t.samples[i].pts, i)?;
        let end = pes_group_end(t, &clock, i, start, overhead)?;
        let mut pieces = Vec::with_capacity(2 * (end - i));
        for (k, s) in t.samples.iter().enumerate().take(end).skip(i) {
            if overhead > 0 {
                pieces.push(headers.slice(k * overhead..(k + 1) * overhead));
            }
            pieces.push(s.data.clone());
        }
        out.push(Pes::new(pt, start, start, pieces, true));
        i = end;
    }
    Ok(out)
}

/// Checks every frame and returns the ADTS headers of all frames in one
/// buffer (one allocation per track, sliced per frame); empty for AC-3.
fn audio_frame_headers(
    t: &TsTrack<'_>,
    clock: &Clock<'_>,
    framing: &AudioFraming,
) -> Result<Bytes, MuxError> {
    let track_id = t.info.track_id;
    let capacity = match framing {
        AudioFraming::Adts(_) => ADTS_HEADER_LEN * t.samples.len(),
        AudioFraming::Syncframe => 0,
    };
    let mut headers = BytesMut::with_capacity(capacity);
    let mut prev = None;
    for (i, s) in t.samples.iter().enumerate() {
        clock.check_order(prev, s.pts, i)?;
        prev = Some(s.pts);
        if s.data.len() + ADTS_HEADER_LEN > AUDIO_PES_MAX_PAYLOAD {
            return Err(MuxError::AudioFrameTooLarge {
                track_id,
                sample: i,
                size: s.data.len(),
            });
        }
        match framing {
            AudioFraming::Adts(h) => {
                let header = h.encode(s.data.len()).map_err(|source| MuxError::Adts {
                    track_id,
                    sample: Some(i),
                    source,
                })?;
                headers.put_slice(&header);
            }
            AudioFraming::Syncframe if !s.data.starts_with(&[0x0B, 0x77]) => {
                return Err(MuxError::MissingSyncword {
                    track_id,
                    sample: i,
                });
            }
            AudioFraming::Syncframe => {}
        }
    }
    Ok(headers.freeze())
}

/// One past the last frame of the PES that starts at frame `first` (at
/// `start` on the 90 kHz clock). A PES ends before a frame that would make
/// it span more than [`AUDIO_PES_MAX_DURATION_90K`] or overflow
/// `PES_packet_length`, and at any gap, because the decoder derives the
/// times of later frames in a PES from the first one.
fn pes_group_end(
    t: &TsTrack<'_>,
    clock: &Clock<'_>,
    first: usize,
    start: u64,
    overhead: usize,
) -> Result<usize, MuxError> {
    let frame_end = |k: usize, s: &MuxSample| {
        s.pts
            .checked_add(i64::from(s.duration))
            .ok_or(MuxError::TimestampOutOfRange {
                track_id: t.info.track_id,
                sample: k,
                time: s.pts,
            })
    };
    let mut bytes = overhead + t.samples[first].data.len();
    let mut prev_end = frame_end(first, &t.samples[first])?;
    for (k, s) in t.samples.iter().enumerate().skip(first + 1) {
        let end = frame_end(k, s)?;
        let span = clock.at(end, k)?.saturating_sub(start);
        bytes += overhead + s.data.len();
        if s.pts != prev_end || span > AUDIO_PES_MAX_DURATION_90K || bytes > AUDIO_PES_MAX_PAYLOAD {
            return Ok(k);
        }
        prev_end = end;
    }
    Ok(t.samples.len())
}

pub(super) fn track_pes(t: &TsTrack<'_>, index: usize, pcr: bool) -> Result<Vec<Pes>, MuxError> {
    let track_id = t.info.track_id;
    if t.info.timescale == 0 {
        return Err(MuxError::InvalidTimescale { track_id });
    }
    let unsupported = MuxError::UnsupportedCodec {
        track_id,
        fourcc: t.info.fourcc,
    };
    let pes_track = |stream_id, video| PesTrack {
        pid: t.pid,
        index,
        stream_id,
        pcr,
        video,
    };
    match &t.info.codec {
        Codec::Avc(_) | Codec::Hevc(_) => {
            let cfg = AnnexBConfig::from_codec(&t.info.codec).ok_or(unsupported)?;
            video_pes(t, pes_track(STREAM_ID_VIDEO, true), &cfg)
        }
        Codec::Aac(cfg) => {
            let h = AdtsHeader::from_config(cfg).map_err(|source| MuxError::Adts {
                track_id,
                sample: None,
                source,
            })?;
            audio_pes(t, pes_track(STREAM_ID_AUDIO, false), AudioFraming::Adts(h))
        }
        Codec::Ac3(_) | Codec::Ec3(_) => audio_pes(
            t,
            pes_track(STREAM_ID_PRIVATE_1, false),
            AudioFraming::Syncframe,
        ),
        Codec::Other => Err(unsupported),
    }
}

#[cfg(test)]
mod tests {
    use crate::mux::adts::{split_adts, AdtsError};
    use crate::mux::annexb::split_annexb;
    use crate::mux::ts::tests::{
        aac, ac3, audio_sample, avc, demux, seg, track, video_sample, PPS, SPS,
    };
    use crate::mux::ts::{ts_time_90k, MuxError, TsSegment, TsTrack};
    use crate::mux::ts::{FIRST_AUDIO_PID, PCR_DELAY_90K, PSI_LEN, TS_TIME_OFFSET_90K, VIDEO_PID};
    use bytes::Bytes;

    #[test]
    fn b_frame_timing_and_parameter_sets() {
        let info = track(1, avc(SPS, PPS), 12_288);
        // Decode order of an IBBP-style GOP as ffmpeg writes it in MP4.
        let times = [
            (-1024, 0, true),
            (-512, 1536, false),
            (0, 512, false),
            (512, 1024, false),
            (1024, 3072, false),
        ];
        let samples: Vec<_> = times
            .iter()
            .map(|&(d, p, k)| video_sample(d, p, k, 300))
            .collect();
        let s = seg(&[TsTrack {
            info: &info,
            samples: &samples,
            pid: VIDEO_PID,
        }]);
        let d = demux(&s.to_vec());
        let pes = &d.pes[&VIDEO_PID];
        assert_eq!(pes.len(), 5);
        for (p, &(dts, pts, key)) in pes.iter().zip(&times) {
            let (dts, pts) = (
                ts_time_90k(dts, 12_288).unwrap(),
                ts_time_90k(pts, 12_288).unwrap(),
            );
            assert_eq!(p.stream_id, 0xE0);
            assert_eq!(p.pts, Some(pts));
            assert_eq!(p.dts, (dts != pts).then_some(dts));
            assert_eq!(p.pcr, Some(dts - PCR_DELAY_90K));
            assert_eq!(p.random_access, key);
            let nals = split_annexb(&p.payload);
            assert_eq!(nals[0], &[0x09, 0xF0]);
            if key {
                assert_eq!(&nals[1..3], &[SPS, PPS]);
            } else {
                assert_eq!(nals.len(), 2);
            }
        }
        assert_eq!(pes[0].dts, Some(TS_TIME_OFFSET_90K - 7_500));
        assert_eq!(s.keyframe_ranges().len(), 1);
        assert_eq!(s.keyframe_ranges()[0], PSI_LEN..pes[1].offset as u64);
    }

    #[test]
    fn aac_frames_grouped_with_own_pts() {
        let info = track(2, aac(2, 4, 44_100, 2), 44_100);
        let mut frames: Vec<_> = (0..20)
            .map(|i| audio_sample(i * 1024, 1024, Bytes::from(vec![i as u8; 200 + i as usize])))
            .collect();
        // A gap: frame 10 starts one frame late.
        for f in &mut frames[10..] {
            f.pts += 1024;
            f.dts = f.pts;
        }
        let s = seg(&[TsTrack {
            info: &info,
            samples: &frames,
            pid: FIRST_AUDIO_PID,
        }]);
        let d = demux(&s.to_vec());
        let pes = &d.pes[&FIRST_AUDIO_PID];
        // 4 frames = 92.9 ms > 90 ms at 44.1 kHz, so 3 per PES; the gap
        // forces a new PES at frame 10: [0..3][3..6][6..9][9][10..13]…
        let starts = [0usize, 3, 6, 9, 10, 13, 16, 19];
        assert_eq!(pes.len(), starts.len());
        let mut next = 0;
        for (p, &first) in pes.iter().zip(&starts) {
            assert_eq!(p.stream_id, 0xC0);
            assert!(p.random_access);
            assert_eq!(
                p.pcr,
                p.pts.map(|t| t - PCR_DELAY_90K),
                "audio-only: PCR on audio"
            );
            assert_eq!(p.pts, ts_time_90k(frames[first].pts, 44_100));
            for raw in split_adts(&p.payload).unwrap() {
                assert_eq!(raw, &frames[next].data[..]);
                next += 1;
            }
        }
        assert_eq!(next, 20);
        assert!(s.keyframe_ranges().is_empty());
    }

    #[test]
    fn ac3_uses_private_stream_1() {
        let info = track(2, ac3(), 48_000);
        let frame = Bytes::from([&[0x0B, 0x77][..], &[0x55; 766]].concat());
        let frames: Vec<_> = (0..5)
            .map(|i| audio_sample(i * 1536, 1536, frame.clone()))
            .collect();
        let d = demux(
            &seg(&[TsTrack {
                info: &info,
                samples: &frames,
                pid: 0x101,
            }])
            .to_vec(),
        );
        let pes = &d.pes[&0x101];
        // 32 ms frames: two per PES (96 ms > 90 ms).
        assert_eq!(pes.len(), 3);
        assert!(pes.iter().all(|p| p.stream_id == 0xBD));
        assert_eq!(pes[1].payload, [frame.clone(), frame.clone()].concat());

        let bad = [audio_sample(0, 1536, Bytes::from_static(&[0x77, 0x0B]))];
        assert_eq!(
            TsSegment::new(
                &[TsTrack {
                    info: &info,
                    samples: &bad,
                    pid: 0x101
                }],
                0
            )
            .err(),
            Some(MuxError::MissingSyncword {
                track_id: 2,
                sample: 0
            })
        );
    }

    #[test]
    fn large_access_units() {
        let info = track(1, avc(SPS, PPS), 90_000);
        let samples = [video_sample(0, 0, true, 100_000)];
        let out = seg(&[TsTrack {
            info: &info,
            samples: &samples,
            pid: 0x100,
        }])
        .to_vec();
        assert_eq!(
            &out[376 + 12..376 + 18],
            &[0, 0, 1, 0xE0, 0, 0],
            "unbounded video PES"
        );
        let a = track(2, aac(2, 3, 48_000, 2), 48_000);
        let big = [audio_sample(0, 1024, Bytes::from(vec![0; 9000]))];
        assert!(matches!(
            TsSegment::new(
                &[TsTrack {
                    info: &a,
                    samples: &big,
                    pid: 0x101
                }],
                0
            ),
            Err(MuxError::Adts {
                track_id: 2,
                sample: Some(0),
                source: AdtsError::FrameTooLarge { .. }
            })
        ));
    }
}
