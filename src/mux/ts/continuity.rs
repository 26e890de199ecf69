//! `continuity_counter` (§2.4.3.3) across self-contained segments: every
//! elementary PID is made to carry whole 16-packet cycles per segment, so
//! a segment built alone continues the previous one's counters. Like
//! shaka-packager's `continuity_counter`.

use super::pes::Pes;

/// Makes every track's payload packet count a multiple of 16, so its
/// continuity counter ends each segment where the next segment (which
/// starts at 0) picks it up (§2.4.3.3). The missing packets are added to the
/// track's last PES packets, newest first, each PES taking at most one
/// extra packet per spare payload byte (a packet with payload must carry
/// at least one byte, and the first keeps the whole PES header). The segment's leading keyframe PES is left alone so
/// its byte range (I-frame playlists) stays what the index predicts. If a
/// track has too few bytes to spread (a handful of tiny PES), its counter
/// simply runs on from where it ends; that is only possible for
/// degenerate inputs.
pub(super) fn round_continuity(pes: &mut [Pes], tracks: usize) {
    for track in 0..tracks {
        let total: u64 = pes
            .iter()
            .filter(|p| p.track == track)
            .map(|p| p.packets)
            .sum();
        let mut missing = (16 - total % 16) % 16;
        for (i, p) in pes.iter_mut().enumerate().rev() {
            if missing == 0 {
                break;
            }
            if p.track != track || (i == 0 && p.video && p.random_access) {
                continue;
            }
            let spare = (p.len as u64).saturating_sub(p.packets + p.header_len as u64);
            let add = spare.min(missing);
            p.packets += add;
            missing -= add;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::mux::ts::tests::{
        aac, audio_sample, avc, demux, seg, track, video_sample, PPS, SPS,
    };
    use crate::mux::ts::{
        TsSegment, TsTrack, DEFAULT_CHUNK_PACKETS, FIRST_AUDIO_PID, PMT_PID, VIDEO_PID,
    };
    use bytes::Bytes;

    /// Consecutive segments read back to back (as VLC and GStreamer do)
    /// continue every PID's counter with no jump (§2.4.3.3): PAT/PMT by the
    /// sequence number, elementary PIDs by whole counter cycles. Segment
    /// sizes vary so the padding is exercised at every residue.
    #[test]
    fn continuity_counters_run_across_segments() {
        let v = track(1, avc(SPS, PPS), 90_000);
        let a = track(2, aac(2, 3, 48_000, 2), 48_000);
        let mut stream = Vec::new();
        for n in 0..20u32 {
            let base = i64::from(n) * 12 * 3750;
            let vs: Vec<_> = (0..12)
                .map(|i| {
                    video_sample(
                        base + i * 3750,
                        base + i * 3750,
                        i == 0,
                        150 + 211 * (n as usize + i as usize),
                    )
                })
                .collect();
            let aus: Vec<_> = (0..(3 + n as i64))
                .map(|i| {
                    audio_sample(
                        base / 90 * 48 + i * 1024,
                        1024,
                        Bytes::from(vec![0x21; 20 + 37 * n as usize]),
                    )
                })
                .collect();
            let s = TsSegment::new(
                &[
                    TsTrack {
                        info: &v,
                        samples: &vs,
                        pid: VIDEO_PID,
                    },
                    TsTrack {
                        info: &a,
                        samples: &aus,
                        pid: FIRST_AUDIO_PID,
                    },
                ],
                n,
            )
            .unwrap();
            let bytes = s.to_vec();
            assert_eq!(bytes.len() as u64, s.len());
            // Each segment alone still demuxes to the same access units.
            let d = demux(&bytes);
            assert_eq!(d.pes[&VIDEO_PID].len(), 12);
            stream.extend_from_slice(&bytes);
        }
        let d = demux(&stream);
        for pid in [0, PMT_PID, VIDEO_PID, FIRST_AUDIO_PID] {
            let cc = &d.cc[&pid];
            for (i, w) in cc.windows(2).enumerate() {
                assert_eq!(w[1], (w[0] + 1) & 0x0F, "pid {pid:#x} packet {i}");
            }
        }
    }

    #[test]
    fn continuity_counters_and_chunks() {
        let v = track(1, avc(SPS, PPS), 90_000);
        let a = track(2, aac(2, 3, 48_000, 2), 48_000);
        let vs: Vec<_> = (0..30)
            .map(|i| video_sample(i * 3750, i * 3750, i % 10 == 0, 2000 + 97 * i as usize))
            .collect();
        let aus: Vec<_> = (0..60)
            .map(|i| audio_sample(i * 1024, 1024, Bytes::from(vec![0x21; 300 + i as usize])))
            .collect();
        let tracks = [
            TsTrack {
                info: &v,
                samples: &vs,
                pid: VIDEO_PID,
            },
            TsTrack {
                info: &a,
                samples: &aus,
                pid: FIRST_AUDIO_PID,
            },
        ];
        let mut s = seg(&tracks);
        let whole = s.to_vec();
        assert_eq!(whole.len() as u64, s.len());
        let d = demux(&whole);
        assert_eq!(d.cc[&0], vec![0]);
        assert_eq!(d.cc[&PMT_PID], vec![0]);
        for pid in [VIDEO_PID, FIRST_AUDIO_PID] {
            let cc = &d.cc[&pid];
            assert!(cc.len() > 16);
            assert_eq!(cc.len() % 16, 0, "pid {pid:#x}: whole counter cycles");
            assert!(
                cc.iter()
                    .enumerate()
                    .all(|(i, &c)| usize::from(c) == i % 16),
                "pid {pid:#x}"
            );
        }
        assert_eq!(d.pes[&VIDEO_PID].len(), 30);
        assert_eq!(s.keyframe_ranges().len(), 3);

        let mut streamed = Vec::new();
        while let Some(chunk) = s.next_chunk_max(7) {
            assert!(chunk.len() <= 7 * 188 && chunk.len() % 188 == 0);
            streamed.extend_from_slice(&chunk);
            assert_eq!(s.remaining(), s.len() - streamed.len() as u64);
        }
        assert_eq!(streamed, whole);
        assert_eq!(s.next_chunk(), None);

        let chunks: Vec<Bytes> = seg(&tracks).collect();
        assert!(chunks
            .iter()
            .all(|c| c.len() <= DEFAULT_CHUNK_PACKETS * 188));
        assert_eq!(chunks.concat(), whole);
    }
}
