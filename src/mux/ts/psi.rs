//! Program-specific information (§2.4.4): the program association
//! (§2.4.4.3) and program map (§2.4.4.8) sections with their CRC-32
//! (Annex A), one TS packet each, the ES descriptors the PMT carries
//! (§2.6), and the PID rules they rely on. Like shaka-packager's
//! `program_map_table_writer`.

use super::packet::TS_PAYLOAD_LEN;
use super::{ts_stream_type, MuxError, TsTrack, PMT_PID, PROGRAM_NUMBER, TS_PACKET_LEN};
use crate::model::TrackInfo;

/// MPEG-2 CRC-32 of PSI sections (§2.4.4, Annex A): polynomial 0x04C11DB7,
/// initial value all ones, no reflection, no final XOR.
pub(super) fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A long-form PSI section: header (section_syntax_indicator 1, version 0,
/// current_next 1, section 0 of 0), `body`, CRC-32.
fn psi_section(table_id: u8, id: u16, body: &[u8]) -> Vec<u8> {
    let section_length = 5 + body.len() + 4;
    let mut s = Vec::with_capacity(3 + section_length);
    s.push(table_id);
    s.push(0xB0 | ((section_length >> 8) as u8 & 0x0F));
    s.push(section_length as u8);
    s.extend_from_slice(&id.to_be_bytes());
    s.extend_from_slice(&[0xC1, 0x00, 0x00]);
    s.extend_from_slice(body);
    let crc = crc32_mpeg2(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

/// One TS packet holding a whole PSI section: pointer_field 0, then 0xFF
/// filler after the section (§2.4.4.1 allows stuffing bytes there).
fn psi_packet(pid: u16, section: &[u8], cc: u8) -> Result<[u8; TS_PACKET_LEN], MuxError> {
    if section.len() > TS_PAYLOAD_LEN - 1 {
        return Err(MuxError::PmtTooLarge { len: section.len() });
    }
    let mut p = [0xFFu8; TS_PACKET_LEN];
    p[..5].copy_from_slice(&[
        0x47,
        0x40 | (pid >> 8) as u8,
        pid as u8,
        0x10 | (cc & 0x0F),
        0x00,
    ]);
    p[5..5 + section.len()].copy_from_slice(section);
    Ok(p)
}

/// PAT (§2.4.4.3) and PMT (§2.4.4.8) packets, with continuity counter `cc`.
pub(super) fn psi(
    tracks: &[TsTrack<'_>],
    pcr_pid: u16,
    cc: u8,
) -> Result<[u8; 2 * TS_PACKET_LEN], MuxError> {
    let mut pat = Vec::new();
    pat.extend_from_slice(&PROGRAM_NUMBER.to_be_bytes());
    pat.extend_from_slice(&(0xE000 | PMT_PID).to_be_bytes());

    let mut pmt = Vec::new();
    pmt.extend_from_slice(&(0xE000 | pcr_pid).to_be_bytes());
    pmt.extend_from_slice(&[0xF0, 0x00]); // no program descriptors
    for t in tracks {
        let stream_type = ts_stream_type(&t.info.codec).ok_or(MuxError::UnsupportedCodec {
            track_id: t.info.track_id,
            fourcc: t.info.fourcc,
        })?;
        let descriptors = es_descriptors(t.info);
        pmt.push(stream_type);
        pmt.extend_from_slice(&(0xE000 | t.pid).to_be_bytes());
        pmt.extend_from_slice(&(0xF000 | descriptors.len() as u16).to_be_bytes());
        pmt.extend_from_slice(&descriptors);
    }
    let mut out = [0u8; 2 * TS_PACKET_LEN];
    out[..TS_PACKET_LEN].copy_from_slice(&psi_packet(
        0,
        &psi_section(0x00, PROGRAM_NUMBER, &pat),
        cc,
    )?);
    out[TS_PACKET_LEN..].copy_from_slice(&psi_packet(
        PMT_PID,
        &psi_section(0x02, PROGRAM_NUMBER, &pmt),
        cc,
    )?);
    Ok(out)
}

/// ES descriptors: registration_descriptor (§2.6.8) for the formats ffmpeg
/// registers (AC-3, E-AC-3, HEVC) and ISO_639_language_descriptor
/// (§2.6.18) for audio with a known language.
fn es_descriptors(info: &TrackInfo) -> Vec<u8> {
    let mut d = Vec::new();
    let family = crate::codec::Family::of_codec(&info.codec);
    if let Some(id) = family.ts_registration() {
        d.extend_from_slice(&[0x05, 4]);
        d.extend_from_slice(id);
    }
    let lang = info.language.as_bytes();
    if family.is_audio()
        && lang.len() == 3
        && lang.iter().all(u8::is_ascii_lowercase)
        && lang != b"und"
    {
        d.extend_from_slice(&[0x0A, 4, lang[0], lang[1], lang[2], 0]);
    }
    d
}

pub(super) fn validate_pids(tracks: &[TsTrack<'_>]) -> Result<(), MuxError> {
    for (i, t) in tracks.iter().enumerate() {
        let reason = if !(0x0010..=0x1FFE).contains(&t.pid) {
            "reserved or out of range"
        } else if t.pid == PMT_PID {
            "used by the PMT"
        } else if tracks[..i].iter().any(|o| o.pid == t.pid) {
            "used by two tracks"
        } else {
            continue;
        };
        return Err(MuxError::InvalidPid { pid: t.pid, reason });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::{Codec, HevcConfig};
    use crate::mux::annexb::split_annexb;
    use crate::mux::ts::tests::{aac, ac3, avc, demux, hex, sample_of, seg, track, PPS, SPS};
    use crate::mux::ts::{TsTrack, PSI_LEN};
    use crate::mux::MuxSample;
    use bytes::Bytes;

    #[test]
    fn psi_matches_ffmpeg() {
        // PAT/PMT bytes ffmpeg 5.1 wrote for one stream on PID 0x100.
        let cases: [(Codec, &str); 4] = [
            (
                aac(2, 3, 48_000, 2),
                "0002b0120001c10000e100f0000fe100f000b69bc0d9",
            ),
            (
                ac3(),
                "0002b0180001c10000e100f00081e100f006050441432d33d3017de3",
            ),
            (
                Codec::Ec3(crate::model::Ec3Config {
                    dec3: Bytes::new(),
                    data_rate: 192,
                    fscod: 0,
                    acmod: 2,
                    lfeon: false,
                    joc_complexity: None,
                }),
                "0002b0180001c10000e100f00087e100f006050445414333be57e57c",
            ),
            (
                avc(SPS, PPS),
                "0002b0120001c10000e100f0001be100f00015bd4d56",
            ),
        ];
        for (codec, pmt) in cases {
            let info = track(1, codec, 90_000);
            let s = seg(&[TsTrack {
                info: &info,
                samples: &[],
                pid: 0x100,
            }]);
            let out = s.to_vec();
            assert_eq!(out.len(), PSI_LEN as usize);
            let mut pat = hex("47400010");
            pat.extend(hex("0000b00d0001c100000001f0002ab104b2"));
            pat.resize(188, 0xFF);
            assert_eq!(&out[..188], &pat[..]);
            let mut want = hex("47500010");
            want.extend(hex(pmt));
            want.resize(188, 0xFF);
            assert_eq!(&out[188..], &want[..]);
        }
    }

    #[test]
    fn hevc_pmt_registration_and_aud() {
        let info = track(
            1,
            Codec::Hevc(HevcConfig {
                record: Bytes::new(),
                general_profile_space: 0,
                general_tier_flag: false,
                general_profile_idc: 1,
                general_profile_compatibility_flags: 0,
                general_constraint_indicator_flags: [0; 6],
                general_level_idc: 93,
                nal_length_size: 4,
                vps: vec![Bytes::from_static(&[0x40, 0x01, 0x0C])],
                sps: vec![Bytes::from_static(&[0x42, 0x01, 0x01])],
                pps: vec![Bytes::from_static(&[0x44, 0x01, 0xC1])],
            }),
            90_000,
        );
        let samples = [MuxSample {
            dts: 0,
            pts: 0,
            duration: 3000,
            sync: true,
            data: sample_of(&[&[0x26, 0x01, 0xAF]]),
        }];
        let d = demux(
            &seg(&[TsTrack {
                info: &info,
                samples: &samples,
                pid: 0x100,
            }])
            .to_vec(),
        );
        assert_eq!(
            hex("02b0180001c10000e100f00024e100f006050448455643cb9e0052"),
            d.pmt
        );
        let nals: Vec<Vec<u8>> = split_annexb(&d.pes[&0x100][0].payload)
            .iter()
            .map(|n| n.to_vec())
            .collect();
        assert_eq!(
            nals,
            vec![
                vec![0x46, 0x01, 0x50],
                vec![0x40, 0x01, 0x0C],
                vec![0x42, 0x01, 0x01],
                vec![0x44, 0x01, 0xC1],
                vec![0x26, 0x01, 0xAF]
            ]
        );
    }

    #[test]
    fn language_descriptor_for_audio() {
        let mut info = track(2, aac(2, 3, 48_000, 2), 48_000);
        info.language = "eng".into();
        let d = demux(
            &seg(&[TsTrack {
                info: &info,
                samples: &[],
                pid: 0x101,
            }])
            .to_vec(),
        );
        let es = &d.pmt[12..d.pmt.len() - 4];
        assert_eq!(
            es,
            &[0x0F, 0xE1, 0x01, 0xF0, 6, 0x0A, 4, b'e', b'n', b'g', 0][..]
        );
    }
}
