//! ADTS framing for AAC in MPEG-TS (ISO/IEC 14496-3 §1.A.2, `adts_frame`).
//!
//! MP4 stores raw AAC access units and keeps the decoder configuration in
//! `esds`; an MPEG-TS stream of type 0x0F (ISO/IEC 13818-7 / 14496-3 ADTS)
//! has no out-of-band configuration, so every access unit gets its own
//! 7-byte header (`protection_absent = 1`, no CRC) built from the
//! `AudioSpecificConfig`.
//!
//! ADTS can only carry the four MPEG-2 AAC profiles in its 2-bit
//! `profile_ObjectType` (object types 1–4). HE-AAC (SBR, object type 5) and
//! HE-AAC v2 (PS, 29) are carried as their AAC-LC core at the core sampling
//! rate; the decoder finds SBR/PS in the payload (implicit signalling,
//! ISO/IEC 14496-3 §1.6.5.2), which is what every HLS encoder does.

use crate::model::AacConfig;
use std::fmt;

/// Bytes in an ADTS header without CRC (`protection_absent == 1`).
pub const ADTS_HEADER_LEN: usize = 7;

/// Largest `aac_frame_length` (13 bits), header included.
pub const ADTS_MAX_FRAME_LEN: usize = (1 << 13) - 1;

/// `sampling_frequency_index` table (ISO/IEC 14496-3 §1.6.3.4, Table 1.18).
const SAMPLING_FREQUENCIES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// Why an AAC configuration or frame cannot be expressed as ADTS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdtsError {
    /// The (core) audio object type does not fit ADTS's 2-bit profile
    /// field (only AAC Main, LC, SSR and LTP do).
    UnsupportedObjectType { object_type: u8 },
    /// `channelConfiguration` 0 means the layout is in a program config
    /// element that a raw MP4 access unit does not carry; values above 7
    /// do not fit the 3-bit field.
    UnsupportedChannelConfig { channel_config: u8 },
    /// Neither the index nor the rate maps to one of the 13 ADTS rates
    /// (ADTS has no escape for an explicit frequency).
    UnsupportedSamplingFrequency { index: u8, sample_rate: u32 },
    /// Header plus payload exceeds the 13-bit `aac_frame_length`.
    FrameTooLarge { frame_len: usize },
    /// Parsing: fewer bytes than a header or than `aac_frame_length`.
    Truncated { needed: usize, available: usize },
    /// Parsing: the 12-bit syncword 0xFFF is missing.
    NoSyncword,
}

impl fmt::Display for AdtsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdtsError::UnsupportedObjectType { object_type } => {
                write!(f, "AAC object type {object_type} cannot be carried in ADTS")
            }
            AdtsError::UnsupportedChannelConfig { channel_config } => write!(
                f,
                "AAC channel configuration {channel_config} cannot be signalled in ADTS"
            ),
            AdtsError::UnsupportedSamplingFrequency { index, sample_rate } => write!(
                f,
                "AAC sampling frequency (index {index}, {sample_rate} Hz) has no ADTS index"
            ),
            AdtsError::FrameTooLarge { frame_len } => write!(
                f,
                "ADTS frame of {frame_len} bytes exceeds {ADTS_MAX_FRAME_LEN}"
            ),
            AdtsError::Truncated { needed, available } => {
                write!(f, "ADTS truncated: need {needed} bytes, have {available}")
            }
            AdtsError::NoSyncword => write!(f, "ADTS syncword missing"),
        }
    }
}

impl std::error::Error for AdtsError {}

/// The fixed part of an ADTS header (`adts_fixed_header`, §1.A.2.2.1): the
/// same for every frame of a track, so it is validated once per track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdtsHeader {
    /// `profile_ObjectType` = audio object type − 1 (0 Main, 1 LC, 2 SSR, 3 LTP).
    pub profile: u8,
    pub sampling_frequency_index: u8,
    pub channel_config: u8,
}

impl AdtsHeader {
    /// Derives the header from an `AudioSpecificConfig`, using the core
    /// object type and core rate so HE-AAC is signalled implicitly.
    pub fn from_config(cfg: &AacConfig) -> Result<Self, AdtsError> {
        let object_type = cfg.core_object_type;
        if !(1..=4).contains(&object_type) {
            return Err(AdtsError::UnsupportedObjectType { object_type });
        }
        if !(1..=7).contains(&cfg.channel_config) {
            return Err(AdtsError::UnsupportedChannelConfig {
                channel_config: cfg.channel_config,
            });
        }
        let index = if usize::from(cfg.sampling_frequency_index) < SAMPLING_FREQUENCIES.len() {
            cfg.sampling_frequency_index
        } else {
            // Index 15 means an explicit 24-bit rate in the ASC; ADTS only
            // has the table, so map the rate back when it is a table rate.
            SAMPLING_FREQUENCIES
                .iter()
                .position(|&r| r == cfg.sample_rate)
                .and_then(|i| u8::try_from(i).ok())
                .ok_or(AdtsError::UnsupportedSamplingFrequency {
                    index: cfg.sampling_frequency_index,
                    sample_rate: cfg.sample_rate,
                })?
        };
        Ok(AdtsHeader {
            profile: object_type - 1,
            sampling_frequency_index: index,
            channel_config: cfg.channel_config,
        })
    }

    /// Encodes the header for a raw access unit of `raw_len` bytes.
    ///
    /// Layout (§1.A.2.2.1–2): syncword 0xFFF, ID 0 (MPEG-4), layer 00,
    /// protection_absent 1, profile(2), sf_index(4), private 0,
    /// channel_config(3), original/home 0, copyright bits 0,
    /// aac_frame_length(13), adts_buffer_fullness 0x7FF (VBR),
    /// number_of_raw_data_blocks_in_frame 0 (one raw block).
    pub fn encode(&self, raw_len: usize) -> Result<[u8; ADTS_HEADER_LEN], AdtsError> {
        let frame_len = raw_len.saturating_add(ADTS_HEADER_LEN);
        if frame_len > ADTS_MAX_FRAME_LEN {
            return Err(AdtsError::FrameTooLarge { frame_len });
        }
        // frame_len <= 8191 so the casts below keep every bit.
        let len = frame_len as u16;
        let fullness: u16 = 0x7FF;
        Ok([
            0xFF,
            0xF1,
            ((self.profile & 0x03) << 6)
                | ((self.sampling_frequency_index & 0x0F) << 2)
                | ((self.channel_config >> 2) & 0x01),
            ((self.channel_config & 0x03) << 6) | ((len >> 11) as u8 & 0x03),
            (len >> 3) as u8,
            (((len & 0x07) as u8) << 5) | ((fullness >> 6) as u8 & 0x1F),
            ((fullness & 0x3F) as u8) << 2,
        ])
    }

    /// Parses one header; returns it with `aac_frame_length` (header
    /// included). The inverse of [`AdtsHeader::encode`], used to split
    /// ADTS streams in tests and to verify the writer.
    pub fn parse(b: &[u8]) -> Result<(AdtsHeader, usize), AdtsError> {
        if b.len() < ADTS_HEADER_LEN {
            return Err(AdtsError::Truncated {
                needed: ADTS_HEADER_LEN,
                available: b.len(),
            });
        }
        if b[0] != 0xFF || b[1] & 0xF0 != 0xF0 {
            return Err(AdtsError::NoSyncword);
        }
        let header = AdtsHeader {
            profile: b[2] >> 6,
            sampling_frequency_index: (b[2] >> 2) & 0x0F,
            channel_config: ((b[2] & 0x01) << 2) | (b[3] >> 6),
        };
        let frame_len =
            (usize::from(b[3] & 0x03) << 11) | (usize::from(b[4]) << 3) | usize::from(b[5] >> 5);
        Ok((header, frame_len))
    }
}

/// Splits an ADTS stream into raw access units (headers and any CRC
/// removed). For tests and tools; the muxer never needs it.
pub fn split_adts(mut data: &[u8]) -> Result<Vec<&[u8]>, AdtsError> {
    let mut frames = Vec::new();
    while !data.is_empty() {
        let (_, frame_len) = AdtsHeader::parse(data)?;
        // protection_absent == 0 adds a 16-bit CRC after the header.
        let header_len = if data[1] & 0x01 == 0 { 9 } else { 7 };
        if frame_len < header_len || frame_len > data.len() {
            return Err(AdtsError::Truncated {
                needed: frame_len.max(header_len),
                available: data.len(),
            });
        }
        frames.push(&data[header_len..frame_len]);
        data = &data[frame_len..];
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn cfg(object_type: u8, core: u8, sfi: u8, rate: u32, ch: u8) -> AacConfig {
        AacConfig {
            asc: Bytes::new(),
            object_type,
            core_object_type: core,
            sampling_frequency_index: sfi,
            sample_rate: rate,
            channel_config: ch,
        }
    }

    #[test]
    fn lc_48k_mono_matches_ffmpeg_header() {
        // First ADTS header ffmpeg 5.1 wrote for `-c:a aac` 48 kHz mono:
        // fff1 4c40 1b7f fc (frame length 0xDB = 219).
        let h = AdtsHeader::from_config(&cfg(2, 2, 3, 48_000, 1)).unwrap();
        assert_eq!(h.profile, 1);
        let bytes = h.encode(219 - 7).unwrap();
        assert_eq!(bytes, [0xFF, 0xF1, 0x4C, 0x40, 0x1B, 0x7F, 0xFC]);
    }

    #[test]
    fn encode_parse_round_trip() {
        for (sfi, ch, len) in [(0u8, 7u8, 0usize), (4, 2, 371), (11, 6, 8184), (12, 1, 1)] {
            let h = AdtsHeader {
                profile: 1,
                sampling_frequency_index: sfi,
                channel_config: ch,
            };
            let b = h.encode(len).unwrap();
            let (p, frame_len) = AdtsHeader::parse(&b).unwrap();
            assert_eq!(p, h);
            assert_eq!(frame_len, len + 7);
            // buffer fullness 0x7FF, one raw data block.
            assert_eq!(((b[5] & 0x1F) as u16) << 6 | (b[6] >> 2) as u16, 0x7FF);
            assert_eq!(b[6] & 0x03, 0);
        }
    }

    #[test]
    fn he_aac_signals_lc_core() {
        // HE-AAC v1 48 kHz output: core 24 kHz (index 6), object type 5.
        let h = AdtsHeader::from_config(&cfg(5, 2, 6, 24_000, 2)).unwrap();
        assert_eq!((h.profile, h.sampling_frequency_index), (1, 6));
        let h = AdtsHeader::from_config(&cfg(29, 2, 6, 24_000, 1)).unwrap();
        assert_eq!(h.channel_config, 1);
    }

    #[test]
    fn explicit_frequency_maps_back_to_index() {
        let h = AdtsHeader::from_config(&cfg(2, 2, 15, 44_100, 2)).unwrap();
        assert_eq!(h.sampling_frequency_index, 4);
        assert_eq!(
            AdtsHeader::from_config(&cfg(2, 2, 15, 44_000, 2)),
            Err(AdtsError::UnsupportedSamplingFrequency {
                index: 15,
                sample_rate: 44_000
            })
        );
    }

    #[test]
    fn rejects_what_adts_cannot_signal() {
        assert_eq!(
            AdtsHeader::from_config(&cfg(2, 2, 3, 48_000, 0)),
            Err(AdtsError::UnsupportedChannelConfig { channel_config: 0 })
        );
        assert_eq!(
            AdtsHeader::from_config(&cfg(42, 42, 3, 48_000, 2)),
            Err(AdtsError::UnsupportedObjectType { object_type: 42 })
        );
        assert_eq!(
            AdtsHeader::from_config(&cfg(23, 23, 3, 48_000, 2)),
            Err(AdtsError::UnsupportedObjectType { object_type: 23 })
        );
        let h = AdtsHeader::from_config(&cfg(2, 2, 3, 48_000, 2)).unwrap();
        assert_eq!(
            h.encode(ADTS_MAX_FRAME_LEN - 6),
            Err(AdtsError::FrameTooLarge {
                frame_len: ADTS_MAX_FRAME_LEN + 1
            })
        );
        assert!(h.encode(ADTS_MAX_FRAME_LEN - 7).is_ok());
    }

    #[test]
    fn split_round_trip_and_truncation() {
        let h = AdtsHeader::from_config(&cfg(2, 2, 3, 48_000, 2)).unwrap();
        let mut stream = Vec::new();
        for payload in [&b"abc"[..], b"", b"defgh"] {
            stream.extend_from_slice(&h.encode(payload.len()).unwrap());
            stream.extend_from_slice(payload);
        }
        let frames = split_adts(&stream).unwrap();
        assert_eq!(frames, vec![&b"abc"[..], b"", b"defgh"]);
        assert!(matches!(
            split_adts(&stream[..stream.len() - 1]),
            Err(AdtsError::Truncated { .. })
        ));
        assert_eq!(split_adts(&[0u8; 9]), Err(AdtsError::NoSyncword));
    }
}
