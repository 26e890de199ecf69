//! DTS: the `ddts` DTSSpecificBox (ETSI TS 102 114 Annex E.3.3) and the
//! core frame header (§5.3.1), read for one thing: the channel count.
//!
//! A DTS sample entry's `channelcount` is no guide (MP4 writers put 2 there
//! whatever the stream carries), so manifests would announce 5.1 as stereo.
//! `dtsc`/`dtsh`/`dtse`/`dtsl` entries carry a `ddts` box with the layout;
//! ffmpeg's mp4 muxer writes DTS as `mp4a` with an `esds` object type of
//! 0xA9 and no `ddts`, and then only the core frame header of a sample says
//! how many channels there are.

use super::error::{Mp4Error, Result};

/// MP4RA object type indications of DTS in an `esds` DecoderConfigDescriptor:
/// 0xA9 DTS Coherent Acoustics (core), 0xAA DTS-HD High Resolution, 0xAB
/// DTS-HD Master Audio, 0xAC DTS Express.
pub fn is_dts_object_type(oti: u8) -> bool {
    (0xA9..=0xAC).contains(&oti)
}

/// Bytes of a core frame needed for its channel count: SYNC through LFF
/// (87 bits, §5.3.1).
pub const CORE_HEADER_LEN: u64 = 11;

/// `SYNC` of a core frame in the 16-bit big-endian form MP4 carries (§5.3.1).
const CORE_SYNC: u32 = 0x7FFE_8001;

/// Channels per `AMODE` (core audio channel arrangement, §5.3.1 Table 5-4):
/// A; A+B; L+R; L+R (sum/difference); Lt+Rt; C+L+R; L+R+S; C+L+R+S;
/// L+R+SL+SR; C+L+R+SL+SR; CL+CR+L+R+SL+SR; C+L+R+LR+RR+OV;
/// CF+CR+LF+RF+LR+RR; CL+C+CR+L+R+SL+SR; CL+CR+L+R+SL1+SL2+SR1+SR2;
/// CL+C+CR+L+R+SL+S+SR. 16..63 are user defined.
const AMODE_CHANNELS: [u16; 16] = [1, 2, 2, 2, 2, 3, 3, 4, 4, 5, 6, 6, 6, 7, 8, 8];

/// `ChannelLayout` bits that stand for a pair of speakers (Annex E.3.3,
/// Table E-5): L/R, Ls/Rs, Lh/Rh, Lsr/Rsr, Lc/Rc, Lw/Rw, Lss/Rss, Lhs/Rhs,
/// Lhr/Rhr. The others (C, LFE1, Cs, Ch, Oh, LFE2, Chr) are one speaker each.
const PAIR_BITS: u16 =
    0x0002 | 0x0004 | 0x0020 | 0x0040 | 0x0200 | 0x0400 | 0x0800 | 0x2000 | 0x8000;

/// `CoreLayout` value meaning "no core layout, use ChannelLayout".
const CORE_LAYOUT_NONE: u8 = 31;

/// The DTSSpecificBox (ETSI TS 102 114 Annex E.3.3): 20 bytes,
///
/// ```text
/// DTSSamplingFrequency:32 maxBitrate:32 avgBitrate:32 pcmSampleDepth:8
/// FrameDuration:2 StreamConstruction:5 CoreLFEPresent:1 CoreLayout:6
/// CoreSize:14 StereoDownmix:1 RepresentationType:3 ChannelLayout:16
/// MultiAssetFlag:1 LBRDurationMod:1 ReservedBoxPresent:1 Reserved:5
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ddts {
    pub sampling_frequency: u32,
    pub max_bitrate: u32,
    pub avg_bitrate: u32,
    pub pcm_sample_depth: u8,
    /// 0..3: 512, 1024, 2048, 4096 samples per access unit.
    pub frame_duration: u8,
    pub stream_construction: u8,
    pub core_lfe_present: bool,
    /// The core's `AMODE`, or 31 when there is no core.
    pub core_layout: u8,
    pub core_size: u16,
    pub stereo_downmix: bool,
    pub representation_type: u8,
    /// Speaker mask of core and extensions together (Table E-5).
    pub channel_layout: u16,
    pub multi_asset: bool,
    pub lbr_duration_mod: bool,
}

/// Parses a `ddts` payload.
pub fn parse_ddts(p: &[u8], offset: u64) -> Result<Ddts> {
    let Some(b) = p.get(..20) else {
        return Err(Mp4Error::truncated("ddts", offset, "record cut short"));
    };
    let be32 = |at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    // Bits 104.. packed MSB first: 2+5+1+6+14+1+3 = 32 bits, then 16 + 8.
    let packed = be32(13);
    Ok(Ddts {
        sampling_frequency: be32(0),
        max_bitrate: be32(4),
        avg_bitrate: be32(8),
        pcm_sample_depth: b[12],
        frame_duration: (packed >> 30) as u8,
        stream_construction: (packed >> 25) as u8 & 0x1f,
        core_lfe_present: (packed >> 24) & 1 == 1,
        core_layout: (packed >> 18) as u8 & 0x3f,
        core_size: (packed >> 4) as u16 & 0x3fff,
        stereo_downmix: (packed >> 3) & 1 == 1,
        representation_type: packed as u8 & 7,
        channel_layout: u16::from_be_bytes([b[17], b[18]]),
        multi_asset: b[19] & 0x80 != 0,
        lbr_duration_mod: b[19] & 0x40 != 0,
    })
}

impl Ddts {
    /// Speakers of the presentation: from `ChannelLayout` when set (it
    /// covers the extensions too, e.g. 7.1 over a 5.1 core), else from the
    /// core's `CoreLayout` + `CoreLFEPresent`; `None` when neither says.
    pub fn channels(&self) -> Option<u16> {
        if self.channel_layout != 0 {
            let l = self.channel_layout;
            return Some((l.count_ones() + (l & PAIR_BITS).count_ones()) as u16);
        }
        match self.core_layout {
            CORE_LAYOUT_NONE => None,
            a => AMODE_CHANNELS
                .get(usize::from(a))
                .map(|&c| c + u16::from(self.core_lfe_present)),
        }
    }
}

/// Channels of a DTS core frame from its header (§5.3.1): `AMODE` (6 bits
/// at bit 60) plus one if `LFF` (2 bits at bit 85) says there is an LFE
/// channel. `None` if `frame` does not start with a core sync word or its
/// fields are out of range (a substream-only DTS-HD frame, say).
pub fn core_frame_channels(frame: &[u8]) -> Option<u16> {
    let h = frame.get(..CORE_HEADER_LEN as usize)?;
    if u32::from_be_bytes([h[0], h[1], h[2], h[3]]) != CORE_SYNC {
        return None;
    }
    let bits = h.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
    let field = |at: u32, len: u32| (bits >> (88 - at - len)) as u32 & ((1 << len) - 1);
    let amode = field(60, 6) as usize;
    let lff = field(85, 2);
    if lff == 3 {
        return None;
    }
    AMODE_CHANNELS.get(amode).map(|&c| c + u16::from(lff != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `ddts` payload with the given core layout, LFE flag and mask.
    fn ddts(core_layout: u8, lfe: bool, channel_layout: u16) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&48000u32.to_be_bytes());
        v.extend_from_slice(&1_509_000u32.to_be_bytes());
        v.extend_from_slice(&1_509_000u32.to_be_bytes());
        v.push(24);
        let packed: u32 = (1 << 30) // FrameDuration 1024
            | (1 << 25) // StreamConstruction 1: core only
            | (u32::from(lfe) << 24)
            | (u32::from(core_layout) << 18)
            | (1006 << 4);
        v.extend_from_slice(&packed.to_be_bytes());
        v.extend_from_slice(&channel_layout.to_be_bytes());
        v.push(0);
        v
    }

    #[test]
    fn ddts_fields_and_channels() {
        // 5.1: C, L/R, Ls/Rs, LFE1 = 0x000F over a core of AMODE 9 + LFE.
        let d = parse_ddts(&ddts(9, true, 0x000F), 0).unwrap();
        assert_eq!(d.sampling_frequency, 48000);
        assert_eq!((d.frame_duration, d.stream_construction), (1, 1));
        assert_eq!(
            (d.core_layout, d.core_lfe_present, d.core_size),
            (9, true, 1006)
        );
        assert_eq!(d.pcm_sample_depth, 24);
        assert_eq!(d.channels(), Some(6));
        // 7.1 (Lsr/Rsr added) over the same 5.1 core: the mask wins.
        assert_eq!(
            parse_ddts(&ddts(9, true, 0x004F), 0).unwrap().channels(),
            Some(8)
        );
        // No mask: the core layout decides.
        assert_eq!(
            parse_ddts(&ddts(9, true, 0), 0).unwrap().channels(),
            Some(6)
        );
        assert_eq!(
            parse_ddts(&ddts(2, false, 0), 0).unwrap().channels(),
            Some(2)
        );
        // Neither: unknown.
        assert_eq!(parse_ddts(&ddts(31, false, 0), 0).unwrap().channels(), None);
        assert!(parse_ddts(&ddts(9, true, 0xF)[..19], 0).is_err());
    }

    #[test]
    fn core_header_channels() {
        // The first frame of ffmpeg's `-c:a dca` 5.1 at 768 kbit/s, 48 kHz:
        // AMODE 9 (C+L+R+SL+SR), LFF 2.
        let frame = [
            0x7f, 0xfe, 0x80, 0x01, 0xfc, 0x3c, 0x3f, 0xf2, 0x75, 0xe0, 0x05, 0x38,
        ];
        assert_eq!(core_frame_channels(&frame), Some(6));
        // Stereo (AMODE 2) without LFE: bits 60..66 = 000010, LFF = 0.
        let mut stereo = frame;
        stereo[7] &= 0xf0;
        stereo[8] = (stereo[8] & 0x3f) | 0x80;
        stereo[10] &= !0x06;
        assert_eq!(core_frame_channels(&stereo), Some(2));
        // Not a core frame (DTS-HD substream sync), or cut short.
        assert_eq!(
            core_frame_channels(&[0x64, 0x58, 0x20, 0x25, 0, 0, 0, 0, 0, 0, 0]),
            None
        );
        assert_eq!(core_frame_channels(&frame[..10]), None);
        assert!(is_dts_object_type(0xA9) && !is_dts_object_type(0x40));
    }
}
