//! Decoder configuration records and their RFC 6381 codec strings.
//!
//! Each parser reads one configuration box payload (`avcC`, `hvcC`, `esds`,
//! `dac3`, `dec3`, `av1C`, `vpcC`) into the neutral [`crate::model`] types.

use super::error::{Mp4Error, Result};
use crate::codec::bits::Bits;
use crate::model::{AacConfig, Ac3Config, AvcConfig, Ec3Config, FourCC, HevcConfig};
use bytes::Bytes;

/// Most parameter sets of one kind we accept in a configuration record.
const MAX_PARAMETER_SETS: usize = 64;

/// A cursor over a configuration payload; every read is bounds-checked and
/// fails with the box name so errors point at the record at fault.
struct Cursor<'a> {
    data: &'a Bytes,
    pos: usize,
    what: &'static str,
    offset: u64,
}

impl<'a> Cursor<'a> {
    fn new(data: &'a Bytes, what: &'static str, offset: u64) -> Self {
        Cursor {
            data,
            pos: 0,
            what,
            offset,
        }
    }
    fn short(&self) -> Mp4Error {
        Mp4Error::truncated(self.what, self.offset + self.pos as u64, "record cut short")
    }
    fn u8(&mut self) -> Result<u8> {
        let b = *self.data.get(self.pos).ok_or_else(|| self.short())?;
        self.pos += 1;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from(self.u16()?) << 16 | u32::from(self.u16()?))
    }
    fn take(&mut self, n: usize) -> Result<Bytes> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| self.short())?;
        let b = self.data.slice(self.pos..end);
        self.pos = end;
        Ok(b)
    }
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
}

/// Parses `avcC` (ISO/IEC 14496-15 §5.3.3.1.2).
pub fn parse_avcc(payload: &Bytes, offset: u64) -> Result<AvcConfig> {
    let mut c = Cursor::new(payload, "avcC", offset);
    let _version = c.u8()?;
    let profile = c.u8()?;
    let compatibility = c.u8()?;
    let level = c.u8()?;
    let nal_length_size = (c.u8()? & 0x03) + 1;
    if nal_length_size == 3 {
        return Err(Mp4Error::invalid(
            "avcC",
            offset,
            "NAL length size 3 is not allowed",
        ));
    }
    let num_sps = usize::from(c.u8()? & 0x1f);
    let mut sps = Vec::with_capacity(num_sps);
    for _ in 0..num_sps {
        let len = usize::from(c.u16()?);
        sps.push(c.take(len)?);
    }
    let num_pps = usize::from(c.u8()?);
    let mut pps = Vec::with_capacity(num_pps);
    for _ in 0..num_pps {
        let len = usize::from(c.u16()?);
        pps.push(c.take(len)?);
    }
    Ok(AvcConfig {
        record: payload.clone(),
        profile,
        compatibility,
        level,
        nal_length_size,
        sps,
        pps,
    })
}

/// `avc1.PPCCLL` (RFC 6381 §3.3): profile, constraint flags, level in hex.
pub fn avc_codec_string(fourcc: FourCC, c: &AvcConfig) -> String {
    format!(
        "{}.{:02x}{:02x}{:02x}",
        fourcc, c.profile, c.compatibility, c.level
    )
}

/// Parses `hvcC` (ISO/IEC 14496-15 §8.3.3.1.2).
pub fn parse_hvcc(payload: &Bytes, offset: u64) -> Result<HevcConfig> {
    let mut c = Cursor::new(payload, "hvcC", offset);
    let _version = c.u8()?;
    let b = c.u8()?;
    let general_profile_space = b >> 6;
    let general_tier_flag = b & 0x20 != 0;
    let general_profile_idc = b & 0x1f;
    let general_profile_compatibility_flags = c.u32()?;
    let mut general_constraint_indicator_flags = [0u8; 6];
    for f in general_constraint_indicator_flags.iter_mut() {
        *f = c.u8()?;
    }
    let general_level_idc = c.u8()?;
    // min_spatial_segmentation, parallelismType, chromaFormat, bit depths,
    // avgFrameRate: 2 + 1 + 1 + 1 + 1 + 2 bytes.
    c.take(8)?;
    let nal_length_size = (c.u8()? & 0x03) + 1;
    if nal_length_size == 3 {
        return Err(Mp4Error::invalid(
            "hvcC",
            offset,
            "NAL length size 3 is not allowed",
        ));
    }
    let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
    let num_arrays = c.u8()?;
    for _ in 0..num_arrays {
        let nal_type = c.u8()? & 0x3f;
        let count = usize::from(c.u16()?);
        for _ in 0..count {
            let len = usize::from(c.u16()?);
            let nal = c.take(len)?;
            let list = match nal_type {
                32 => &mut vps,
                33 => &mut sps,
                34 => &mut pps,
                _ => continue,
            };
            if list.len() >= MAX_PARAMETER_SETS {
                return Err(Mp4Error::invalid("hvcC", offset, "too many parameter sets"));
            }
            list.push(nal);
        }
    }
    Ok(HevcConfig {
        record: payload.clone(),
        general_profile_space,
        general_tier_flag,
        general_profile_idc,
        general_profile_compatibility_flags,
        general_constraint_indicator_flags,
        general_level_idc,
        nal_length_size,
        vps,
        sps,
        pps,
    })
}

/// `hvc1.{space}{profile}.{compat}.{tier}{level}.{constraints}`
/// (ISO/IEC 14496-15 Annex E.3): the compatibility flags are written
/// bit-reversed in hex, and trailing zero constraint bytes are omitted.
pub fn hevc_codec_string(fourcc: FourCC, c: &HevcConfig) -> String {
    let space = match c.general_profile_space {
        1 => "A",
        2 => "B",
        3 => "C",
        _ => "",
    };
    let mut s = format!(
        "{}.{}{}.{:X}.{}{}",
        fourcc,
        space,
        c.general_profile_idc,
        c.general_profile_compatibility_flags.reverse_bits(),
        if c.general_tier_flag { 'H' } else { 'L' },
        c.general_level_idc
    );
    let flags = &c.general_constraint_indicator_flags;
    let keep = flags.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    for b in &flags[..keep] {
        s.push_str(&format!(".{b:X}"));
    }
    s
}

const AAC_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Result of parsing `esds`: the object type indication (0x40 for MPEG-4
/// audio), bitrates from the DecoderConfigDescriptor, and the AAC config.
#[derive(Clone, Debug, PartialEq)]
pub struct Esds {
    pub object_type_indication: u8,
    pub max_bitrate: u32,
    pub avg_bitrate: u32,
    pub aac: Option<AacConfig>,
}

/// Reads an expandable descriptor size (ISO/IEC 14496-1 §8.3.3).
fn descriptor(c: &mut Cursor<'_>) -> Result<(u8, usize)> {
    let tag = c.u8()?;
    let mut len = 0usize;
    for _ in 0..4 {
        let b = c.u8()?;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
    }
    if len > c.remaining() {
        return Err(c.short());
    }
    Ok((tag, len))
}

/// Parses `esds` (ISO/IEC 14496-14 §5.6; descriptors per 14496-1 §7.2.6).
pub fn parse_esds(payload: &Bytes, offset: u64) -> Result<Esds> {
    let mut c = Cursor::new(payload, "esds", offset);
    c.take(4)?; // version + flags
    let (tag, _) = descriptor(&mut c)?;
    if tag != 0x03 {
        return Err(Mp4Error::invalid("esds", offset, "missing ES_Descriptor"));
    }
    c.take(2)?; // ES_ID
    let flags = c.u8()?;
    if flags & 0x80 != 0 {
        c.take(2)?;
    }
    if flags & 0x40 != 0 {
        let n = usize::from(c.u8()?);
        c.take(n)?;
    }
    if flags & 0x20 != 0 {
        c.take(2)?;
    }
    let (tag, _) = descriptor(&mut c)?;
    if tag != 0x04 {
        return Err(Mp4Error::invalid(
            "esds",
            offset,
            "missing DecoderConfigDescriptor",
        ));
    }
    let object_type_indication = c.u8()?;
    c.take(4)?; // streamType, upStream, bufferSizeDB
    let max_bitrate = c.u32()?;
    let avg_bitrate = c.u32()?;
    let mut aac = None;
    if c.remaining() > 0 {
        let (tag, len) = descriptor(&mut c)?;
        if tag == 0x05 && object_type_indication == 0x40 {
            aac = Some(parse_audio_specific_config(c.take(len)?, offset)?);
        }
    }
    Ok(Esds {
        object_type_indication,
        max_bitrate,
        avg_bitrate,
        aac,
    })
}

/// Parses an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), detecting
/// HE-AAC (SBR) and HE-AACv2 (PS) whether signalled explicitly
/// (hierarchical, object type 5/29) or backward-compatibly (sync extension
/// 0x2b7 / 0x548 after the GASpecificConfig, §1.6.6.1).
pub fn parse_audio_specific_config(asc: Bytes, offset: u64) -> Result<AacConfig> {
    let bad = || {
        Mp4Error::invalid(
            "esds/AudioSpecificConfig",
            offset,
            "AudioSpecificConfig cut short",
        )
    };
    let mut b = Bits::new(&asc);
    let read_aot = |b: &mut Bits<'_>| -> Option<u8> {
        let aot = b.read(5)? as u8;
        if aot == 31 {
            Some(32 + b.read(6)? as u8)
        } else {
            Some(aot)
        }
    };
    let read_rate = |b: &mut Bits<'_>| -> Option<(u8, u32)> {
        let idx = b.read(4)? as u8;
        if idx == 0x0f {
            Some((idx, b.read(24)?))
        } else {
            Some((idx, *AAC_RATES.get(usize::from(idx)).unwrap_or(&0)))
        }
    };
    let mut object_type = read_aot(&mut b).ok_or_else(bad)?;
    let (sampling_frequency_index, sample_rate) = read_rate(&mut b).ok_or_else(bad)?;
    let channel_config = b.read(4).ok_or_else(bad)? as u8;
    let mut core_object_type = object_type;
    if object_type == 5 || object_type == 29 {
        read_rate(&mut b).ok_or_else(bad)?;
        core_object_type = read_aot(&mut b).ok_or_else(bad)?;
    } else if matches!(object_type, 1..=4 | 6 | 7 | 17 | 19..=23) && channel_config != 0 {
        // GASpecificConfig: frameLengthFlag, dependsOnCoreCoder (+14 bits
        // coreCoderDelay), extensionFlag.
        let _frame_length = b.read(1);
        if b.read(1) == Some(1) {
            b.read(14);
        }
        let _ext = b.read(1);
        if b.left() >= 16 && b.read(11) == Some(0x2b7) {
            let ext_type = b.read(5);
            if ext_type == Some(5) && b.read(1) == Some(1) {
                object_type = 5;
                read_rate(&mut b);
                if b.left() >= 12 && b.read(11) == Some(0x548) && b.read(1) == Some(1) {
                    object_type = 29;
                }
            }
        }
    }
    if sample_rate == 0 {
        return Err(Mp4Error::invalid(
            "esds/AudioSpecificConfig",
            offset,
            "reserved sampling frequency index",
        ));
    }
    Ok(AacConfig {
        asc,
        object_type,
        core_object_type,
        sampling_frequency_index,
        sample_rate,
        channel_config,
    })
}

/// `mp4a.40.{AOT}` for MPEG-4 audio, `mp4a.{OTI}` otherwise (RFC 6381 §3.3).
pub fn aac_codec_string(esds: &Esds) -> String {
    match &esds.aac {
        Some(aac) => format!("mp4a.40.{}", aac.object_type),
        None => format!("mp4a.{:02X}", esds.object_type_indication),
    }
}

/// Channel count for an AC-3 `acmod` (ATSC A/52 Table 5.8).
pub fn ac3_channels(acmod: u8, lfe: bool) -> u16 {
    const CH: [u16; 8] = [2, 1, 2, 3, 3, 4, 4, 5];
    CH[usize::from(acmod & 7)] + u16::from(lfe)
}

/// Parses `dac3` (ETSI TS 102 366 §F.4).
pub fn parse_dac3(payload: &Bytes, offset: u64) -> Result<Ac3Config> {
    if payload.len() < 3 {
        return Err(Mp4Error::truncated("dac3", offset, "record cut short"));
    }
    let v = u32::from(payload[0]) << 16 | u32::from(payload[1]) << 8 | u32::from(payload[2]);
    Ok(Ac3Config {
        dac3: payload.clone(),
        fscod: (v >> 22) as u8 & 3,
        bsid: (v >> 17) as u8 & 0x1f,
        bsmod: (v >> 14) as u8 & 7,
        acmod: (v >> 11) as u8 & 7,
        lfeon: (v >> 10) & 1 == 1,
        bit_rate_code: (v >> 5) as u8 & 0x1f,
    })
}

/// Parses `dec3` (ETSI TS 102 366 §F.6), first independent substream only,
/// plus the Atmos (JOC) flag of the optional extension.
pub fn parse_dec3(payload: &Bytes, offset: u64) -> Result<Ec3Config> {
    let mut b = Bits::new(payload);
    let short = || Mp4Error::truncated("dec3", offset, "record cut short");
    let data_rate = b.read(13).ok_or_else(short)? as u16;
    let num_ind_sub = b.read(3).ok_or_else(short)? + 1;
    let mut first = None;
    for _ in 0..num_ind_sub {
        let fscod = b.read(2).ok_or_else(short)? as u8;
        let _bsid = b.read(5).ok_or_else(short)?;
        b.read(1 + 1 + 3).ok_or_else(short)?; // reserved, asvc, bsmod
        let acmod = b.read(3).ok_or_else(short)? as u8;
        let lfeon = b.read(1).ok_or_else(short)? == 1;
        b.read(3).ok_or_else(short)?;
        let num_dep_sub = b.read(4).ok_or_else(short)?;
        b.read(if num_dep_sub > 0 { 9 } else { 1 })
            .ok_or_else(short)?;
        first.get_or_insert((fscod, acmod, lfeon));
    }
    let (fscod, acmod, lfeon) = first.ok_or_else(short)?;
    // reserved(7), flag_ec3_extension_type_a(1), complexity_index_type_a(8)
    // (ETSI TS 103 420 §C.3.1): present only after the substreams, and
    // only in files written for JOC-aware decoders.
    let joc_complexity = if b.left() >= 16 {
        b.read(7);
        match b.read(1) {
            Some(1) => b.read(8).map(|c| c as u8),
            _ => None,
        }
    } else {
        None
    };
    Ok(Ec3Config {
        dec3: payload.clone(),
        data_rate,
        fscod,
        acmod,
        lfeon,
        joc_complexity,
    })
}

/// `av01.P.LLT.DD` from `av1C` (AV1 ISOBMFF binding §5 and codecs parameter).
pub fn av1_codec_string(payload: &Bytes) -> Option<String> {
    let b1 = *payload.get(1)?;
    let b2 = *payload.get(2)?;
    let profile = b1 >> 5;
    let level = b1 & 0x1f;
    let tier = if b2 & 0x80 != 0 { 'H' } else { 'M' };
    let high = b2 & 0x40 != 0;
    let twelve = b2 & 0x20 != 0;
    let depth = if high && twelve {
        12
    } else if high {
        10
    } else {
        8
    };
    Some(format!("av01.{profile}.{level:02}{tier}.{depth:02}"))
}

/// `vp09.PP.LL.DD` from `vpcC` (VP Codec ISOBMFF binding §2.3 / §5).
pub fn vp9_codec_string(payload: &Bytes) -> Option<String> {
    let profile = *payload.get(4)?;
    let level = *payload.get(5)?;
    let depth = *payload.get(6)? >> 4;
    Some(format!("vp09.{profile:02}.{level:02}.{depth:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avc_string_and_parameter_sets() {
        let rec = Bytes::from_static(&[
            1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, 3, 0x67, 0x64, 0x1f, 1, 0, 2, 0x68, 0xee,
        ]);
        let c = parse_avcc(&rec, 0).unwrap();
        assert_eq!(avc_codec_string(FourCC(*b"avc1"), &c), "avc1.64001f");
        assert_eq!(c.nal_length_size, 4);
        assert_eq!(&c.sps[0][..], &[0x67, 0x64, 0x1f]);
        assert_eq!(&c.pps[0][..], &[0x68, 0xee]);
        assert!(parse_avcc(&rec.slice(..9), 0).is_err());
    }

    #[test]
    fn hevc_string_matches_spec_examples() {
        // ISO/IEC 14496-15 E.5: 'hev1.1.6.L93.B0' (Main, level 3.1, progressive,
        // non-packed), 'hvc1.A4.20000000.H120.B0.00.00.00.00.00' style.
        let mut c = HevcConfig {
            record: Bytes::new(),
            general_profile_space: 0,
            general_tier_flag: false,
            general_profile_idc: 1,
            general_profile_compatibility_flags: 0x6000_0000,
            general_constraint_indicator_flags: [0xb0, 0, 0, 0, 0, 0],
            general_level_idc: 93,
            nal_length_size: 4,
            vps: vec![],
            sps: vec![],
            pps: vec![],
        };
        assert_eq!(hevc_codec_string(FourCC(*b"hev1"), &c), "hev1.1.6.L93.B0");
        c.general_profile_space = 1;
        c.general_profile_idc = 4;
        c.general_profile_compatibility_flags = 0x4;
        c.general_tier_flag = true;
        c.general_level_idc = 120;
        assert_eq!(
            hevc_codec_string(FourCC(*b"hvc1"), &c),
            "hvc1.A4.20000000.H120.B0"
        );
    }

    #[test]
    fn aac_object_types_lc_he_hev2() {
        // LC 48 kHz stereo.
        let lc = parse_audio_specific_config(Bytes::from_static(&[0x11, 0x90]), 0).unwrap();
        assert_eq!(
            (lc.object_type, lc.sample_rate, lc.channel_config),
            (2, 48000, 2)
        );
        // Explicit hierarchical HE-AAC: AOT 5, 24 kHz core, ext 48 kHz, core LC.
        let he =
            parse_audio_specific_config(Bytes::from_static(&[0x2b, 0x11, 0x88, 0x00]), 0).unwrap();
        assert_eq!((he.object_type, he.core_object_type), (5, 2));
        // Explicit HE-AACv2: AOT 29.
        let ps =
            parse_audio_specific_config(Bytes::from_static(&[0xeb, 0x09, 0x88, 0x00]), 0).unwrap();
        assert_eq!(ps.object_type, 29);
        // Backward-compatible: LC 24 kHz mono + 0x2b7 SBR extension 48 kHz.
        let bc =
            parse_audio_specific_config(Bytes::from_static(&[0x13, 0x08, 0x56, 0xe5, 0x98]), 0)
                .unwrap();
        assert_eq!((bc.object_type, bc.core_object_type), (5, 2));
        assert!(parse_audio_specific_config(Bytes::from_static(&[0x17]), 0).is_err());
    }

    #[test]
    fn esds_round_trip_and_strings() {
        let esds = Bytes::from_static(&[
            0, 0, 0, 0, 0x03, 0x19, 0, 1, 0, 0x04, 0x11, 0x40, 0x15, 0, 0, 0, 0, 1, 0xf4, 0, 0, 1,
            0xf4, 0, 0x05, 0x02, 0x11, 0x90, 0x06, 0x01, 0x02,
        ]);
        let e = parse_esds(&esds, 0).unwrap();
        assert_eq!(e.avg_bitrate, 128000);
        assert_eq!(aac_codec_string(&e), "mp4a.40.2");
        assert!(parse_esds(&esds.slice(..12), 0).is_err());
    }

    #[test]
    fn dolby_configs() {
        // fscod 0 (48k), bsid 8, bsmod 0, acmod 7 (3/2), lfe 1, bitrate code 15.
        let v: u32 = (8 << 17) | (7 << 11) | (1 << 10) | (15 << 5);
        let b = v.to_be_bytes();
        let ac3 = parse_dac3(&Bytes::copy_from_slice(&b[1..]), 0).unwrap();
        assert_eq!((ac3.acmod, ac3.lfeon, ac3.bsid), (7, true, 8));
        assert_eq!(ac3_channels(ac3.acmod, ac3.lfeon), 6);
        // data_rate 640, one substream acmod 7 lfe 1, JOC extension present.
        let dec3 = Bytes::from_static(&[0x14, 0x00, 0x20, 0x0f, 0x00, 0x01, 0x10]);
        let e = parse_dec3(&dec3, 0).unwrap();
        assert_eq!(
            (e.data_rate, e.acmod, e.lfeon, e.joc_complexity),
            (640, 7, true, Some(16))
        );
        // The same without the extension: not Atmos.
        let plain = parse_dec3(&dec3.slice(..5), 0).unwrap();
        assert_eq!(plain.joc_complexity, None);
    }

    #[test]
    fn av1_and_vp9_strings() {
        let av1c = Bytes::from_static(&[0x81, 0x08, 0x0c, 0x00]);
        assert_eq!(av1_codec_string(&av1c).unwrap(), "av01.0.08M.08");
        let vpcc = Bytes::from_static(&[1, 0, 0, 0, 0, 31, 0x82, 2, 2, 2, 0, 0]);
        assert_eq!(vp9_codec_string(&vpcc).unwrap(), "vp09.00.31.08");
    }
}
