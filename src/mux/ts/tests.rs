//! Shared test helpers for the TS modules (track and sample builders, a
//! strict demuxer) and whole-segment tests.

use super::psi::crc32_mpeg2;
use super::*;
use crate::model::{AacConfig, Ac3Config, AvcConfig, TrackKind};
use std::collections::HashMap;

pub(super) const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x0D, 0xAC];
pub(super) const PPS: &[u8] = &[0x68, 0xEB, 0xE3];

pub(super) fn track(id: u32, codec: Codec, timescale: u32) -> TrackInfo {
    let video = matches!(codec, Codec::Avc(_) | Codec::Hevc(_));
    TrackInfo {
        track_id: id,
        kind: if video {
            TrackKind::Video
        } else {
            TrackKind::Audio
        },
        timescale,
        duration: 0,
        language: "und".into(),
        handler: FourCC::new(if video { b"vide" } else { b"soun" }),
        fourcc: FourCC::new(b"test"),
        sample_entry: Bytes::new(),
        codec,
        codec_string: String::new(),
        width: 0,
        height: 0,
        par: (1, 1),
        sample_rate: 0,
        channels: 0,
        bits_per_sample: 0,
        presentation_offset: 0,
        presented_end: None,
        avg_bitrate: 0,
        max_bitrate: 0,
        sample_count: 0,
        colour: None,
        dts_uhd_mask: None,
        dolby_vision: None,
    }
}

pub(super) fn avc(sps: &[u8], pps: &[u8]) -> Codec {
    Codec::Avc(AvcConfig {
        record: Bytes::new(),
        profile: sps.get(1).copied().unwrap_or(0),
        compatibility: sps.get(2).copied().unwrap_or(0),
        level: sps.get(3).copied().unwrap_or(0),
        nal_length_size: 4,
        sps: vec![Bytes::copy_from_slice(sps)],
        pps: vec![Bytes::copy_from_slice(pps)],
    })
}

pub(super) fn aac(profile_object_type: u8, sfi: u8, rate: u32, ch: u8) -> Codec {
    Codec::Aac(AacConfig {
        asc: Bytes::new(),
        object_type: profile_object_type,
        core_object_type: profile_object_type,
        sampling_frequency_index: sfi,
        sample_rate: rate,
        channel_config: ch,
    })
}

pub(super) fn ac3() -> Codec {
    Codec::Ac3(Ac3Config {
        dac3: Bytes::new(),
        fscod: 0,
        bsid: 8,
        bsmod: 0,
        acmod: 2,
        lfeon: false,
        bit_rate_code: 10,
    })
}

/// Length-prefixed (4 bytes) sample from NAL units.
pub(super) fn sample_of(nals: &[&[u8]]) -> Bytes {
    let mut v = Vec::new();
    for n in nals {
        v.extend_from_slice(&(n.len() as u32).to_be_bytes());
        v.extend_from_slice(n);
    }
    Bytes::from(v)
}

pub(super) fn video_sample(dts: i64, pts: i64, sync: bool, size: usize) -> MuxSample {
    let mut slice = vec![if sync { 0x65 } else { 0x41 }; size.max(1)];
    slice[1..]
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i % 251) as u8 | 1);
    MuxSample {
        dts,
        pts,
        duration: 512,
        sync,
        data: sample_of(&[&slice]),
    }
}

pub(super) fn audio_sample(pts: i64, duration: u32, data: Bytes) -> MuxSample {
    MuxSample {
        dts: pts,
        pts,
        duration,
        sync: true,
        data,
    }
}

pub(super) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[derive(Debug, Default, Clone)]
pub(super) struct PesOut {
    pub stream_id: u8,
    pub pts: Option<u64>,
    pub dts: Option<u64>,
    pub pcr: Option<u64>,
    pub random_access: bool,
    pub payload: Vec<u8>,
    /// Byte offset of the PES's first packet.
    pub offset: usize,
    raw: Vec<u8>,
}

#[derive(Debug, Default)]
pub(super) struct Demux {
    pub pids: Vec<u16>,
    pub cc: HashMap<u16, Vec<u8>>,
    pub pes: HashMap<u16, Vec<PesOut>>,
    pub pat: Vec<u8>,
    pub pmt: Vec<u8>,
}

pub(super) fn parse_timestamp(b: &[u8], prefix: u8) -> u64 {
    assert_eq!(b[0] >> 4, prefix);
    assert!(
        b[0] & 1 == 1 && b[2] & 1 == 1 && b[4] & 1 == 1,
        "marker bits"
    );
    (u64::from((b[0] >> 1) & 0x07) << 30)
        | (u64::from(u16::from_be_bytes([b[1], b[2]]) >> 1) << 15)
        | u64::from(u16::from_be_bytes([b[3], b[4]]) >> 1)
}

/// A strict TS reader: checks packet structure and stuffing, splits
/// PSI and PES, parses PES headers.
pub(super) fn demux(ts: &[u8]) -> Demux {
    assert_eq!(ts.len() % TS_PACKET_LEN, 0);
    let mut d = Demux::default();
    for (n, p) in ts.chunks(TS_PACKET_LEN).enumerate() {
        assert_eq!(p[0], 0x47, "sync byte of packet {n}");
        let pusi = p[1] & 0x40 != 0;
        let pid = u16::from(p[1] & 0x1F) << 8 | u16::from(p[2]);
        let afc = (p[3] >> 4) & 0x03;
        assert!(afc == 1 || afc == 3, "every packet carries payload");
        d.pids.push(pid);
        d.cc.entry(pid).or_default().push(p[3] & 0x0F);
        let (mut pcr, mut rai, mut off) = (None, false, 4);
        if afc == 3 {
            let len = usize::from(p[4]);
            assert!(len <= 182, "adaptation field leaves payload");
            if len > 0 {
                let flags = p[5];
                rai = flags & 0x40 != 0;
                let mut used = 1;
                if flags & 0x10 != 0 {
                    let b = &p[6..12];
                    assert_eq!(b[4] & 0x7E, 0x7E, "PCR reserved bits");
                    pcr = Some(
                        (u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])) << 1)
                            | u64::from(b[4] >> 7),
                    );
                    used += 6;
                }
                assert!(p[5 + used..5 + len].iter().all(|&b| b == 0xFF), "stuffing");
            }
            off = 5 + len;
        }
        let payload = &p[off..];
        if pid == 0 || pid == PMT_PID {
            assert!(pusi);
            assert_eq!(payload[0], 0, "pointer_field");
            let len = 3 + (usize::from(payload[2] & 0x0F) << 8 | usize::from(payload[3]));
            let section = payload[1..1 + len].to_vec();
            assert_eq!(
                crc32_mpeg2(&section),
                0,
                "CRC of a section with its CRC is 0"
            );
            assert!(payload[1 + len..].iter().all(|&b| b == 0xFF));
            if pid == 0 {
                d.pat = section
            } else {
                d.pmt = section
            }
            continue;
        }
        let list = d.pes.entry(pid).or_default();
        if pusi {
            list.push(PesOut {
                pcr,
                random_access: rai,
                offset: n * TS_PACKET_LEN,
                ..Default::default()
            });
        } else {
            assert!(pcr.is_none() && !rai, "flags only on a PES's first packet");
        }
        list.last_mut()
            .expect("PES starts with PUSI")
            .raw
            .extend_from_slice(payload);
    }
    for p in d.pes.values_mut().flatten() {
        let r = std::mem::take(&mut p.raw);
        assert_eq!(&r[..3], &[0, 0, 1]);
        p.stream_id = r[3];
        let declared = usize::from(u16::from_be_bytes([r[4], r[5]]));
        if declared != 0 {
            assert_eq!(declared, r.len() - 6, "PES_packet_length");
        }
        assert_eq!(r[6], 0x84);
        let header_end = 9 + usize::from(r[8]);
        match r[7] {
            0x80 => p.pts = Some(parse_timestamp(&r[9..14], 0b0010)),
            0xC0 => {
                p.pts = Some(parse_timestamp(&r[9..14], 0b0011));
                p.dts = Some(parse_timestamp(&r[14..19], 0b0001));
            }
            f => panic!("PTS_DTS_flags {f:#x}"),
        }
        p.payload = r[header_end..].to_vec();
    }
    d
}

pub(super) fn seg(tracks: &[TsTrack<'_>]) -> TsSegment {
    TsSegment::new(tracks, 0).unwrap()
}

#[test]
fn keyframe_follows_psi_and_pcr_on_video() {
    let v = track(1, avc(SPS, PPS), 90_000);
    let a = track(2, aac(2, 3, 48_000, 2), 48_000);
    let vs = [
        video_sample(3000, 3000, true, 500),
        video_sample(6750, 6750, false, 500),
    ];
    // Audio starts earlier than the keyframe's DTS.
    let aus = [audio_sample(0, 1024, Bytes::from_static(&[1; 50]))];
    let s = seg(&[
        TsTrack {
            info: &a,
            samples: &aus,
            pid: 0x101,
        },
        TsTrack {
            info: &v,
            samples: &vs,
            pid: 0x100,
        },
    ]);
    let d = demux(&s.to_vec());
    assert_eq!(d.pids[2], 0x100, "keyframe right after PAT/PMT");
    assert_eq!(d.pmt[8..10], [0xE1, 0x00], "PCR_PID is the video PID");
    assert_eq!(d.pes[&0x101][0].pcr, None);
    let key = &d.pes[&0x100][0];
    assert_eq!(
        (key.pts, key.dts),
        (ts_time_90k(3000, 90_000), None),
        "no DTS when equal to PTS"
    );
    assert_eq!(s.keyframe_ranges()[0].start, PSI_LEN);
    assert_eq!(s.keyframe_ranges()[0].end, d.pes[&0x101][0].offset as u64);
}

#[test]
fn rejects_bad_input() {
    let v = track(1, avc(SPS, PPS), 90_000);
    let ok = [video_sample(0, 0, true, 10)];
    let t = |info, samples, pid| TsTrack { info, samples, pid };
    let err = |tracks: &[TsTrack<'_>]| TsSegment::new(tracks, 0).err();
    assert_eq!(err(&[]), Some(MuxError::NoTracks));
    for pid in [0x0F, 0x1FFF, PMT_PID] {
        assert!(matches!(
            err(&[t(&v, &ok, pid)]),
            Some(MuxError::InvalidPid { .. })
        ));
    }
    assert!(matches!(
        err(&[t(&v, &ok, 0x100), t(&v, &ok, 0x100)]),
        Some(MuxError::InvalidPid { pid: 0x100, .. })
    ));
    let other = track(3, Codec::Other, 1000);
    assert!(matches!(
        err(&[t(&other, &[], 0x100)]),
        Some(MuxError::UnsupportedCodec { track_id: 3, .. })
    ));
    let zero = track(4, avc(SPS, PPS), 0);
    assert_eq!(
        err(&[t(&zero, &ok, 0x100)]),
        Some(MuxError::InvalidTimescale { track_id: 4 })
    );
    let back = [
        video_sample(100, 100, true, 10),
        video_sample(50, 200, false, 10),
    ];
    assert_eq!(
        err(&[t(&v, &back, 0x100)]),
        Some(MuxError::DtsNotMonotonic {
            track_id: 1,
            sample: 1
        })
    );
    let early = [video_sample(100, 99, true, 10)];
    assert_eq!(
        err(&[t(&v, &early, 0x100)]),
        Some(MuxError::PtsBeforeDts {
            track_id: 1,
            sample: 0
        })
    );
    let neg = [video_sample(-900_001, 0, true, 10)];
    assert!(matches!(
        err(&[t(&v, &neg, 0x100)]),
        Some(MuxError::TimestampOutOfRange { sample: 0, .. })
    ));
    let trunc = [MuxSample {
        data: Bytes::from_static(&[0, 0, 0, 9, 0x65]),
        ..video_sample(0, 0, true, 1)
    }];
    assert!(matches!(
        err(&[t(&v, &trunc, 0x100)]),
        Some(MuxError::Nal {
            track_id: 1,
            sample: 0,
            ..
        })
    ));
    let mono0 = track(5, aac(2, 3, 48_000, 0), 48_000);
    assert!(matches!(
        err(&[t(&mono0, &[], 0x101)]),
        Some(MuxError::Adts {
            track_id: 5,
            sample: None,
            ..
        })
    ));
    // 16 audio tracks with language descriptors: 192-byte PMT section.
    let mut langs: Vec<TrackInfo> = (0..16)
        .map(|i| track(i, aac(2, 3, 48_000, 2), 48_000))
        .collect();
    langs.iter_mut().for_each(|i| i.language = "eng".into());
    let tracks: Vec<_> = langs
        .iter()
        .enumerate()
        .map(|(i, info)| t(info, &[], 0x101 + i as u16))
        .collect();
    assert!(matches!(err(&tracks), Some(MuxError::PmtTooLarge { .. })));
    let e = MuxError::Nal {
        track_id: 1,
        sample: 2,
        source: NalError::UnsupportedLengthSize { size: 3 },
    };
    assert!(e.to_string().contains("track 1 sample 2"));
    assert!(std::error::Error::source(&e).is_some());
}

/// ffmpeg-encoded H.264 (with B-frames) and AAC, muxed into two 2 s
/// segments (muxed, as `m3u8-aapl-v3`) and one video-only/audio-only
/// pair (as `m3u8-aapl`), then decoded by ffmpeg and ffprobe.
mod ffmpeg;
