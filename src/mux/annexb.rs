//! Length-prefixed NAL units (MP4) to Annex-B byte stream (MPEG-TS).
//!
//! MP4 samples hold NAL units each preceded by a 1-, 2- or 4-byte length
//! (ISO/IEC 14496-15 §5.3.2 for AVC, §8.3.2 for HEVC); MPEG-TS carries the
//! byte stream format of ISO/IEC 14496-10 Annex B / ISO/IEC 23008-2 Annex B,
//! where NAL units are delimited by start codes. Because TS has no
//! out-of-band decoder configuration, the parameter sets from `avcC`/`hvcC`
//! are repeated in-band before every sync sample, and every access unit
//! begins with an access unit delimiter (ISO/IEC 13818-1 §2.14.1 requires
//! AUDs for AVC in TS; Apple's HLS authoring spec asks for them too).
//!
//! The conversion is zero-copy: an access unit becomes a list of `Bytes`
//! pieces (static start codes and AUDs, clones of the configuration's
//! parameter sets, slices of the sample), whose total length is known
//! before the TS packetizer copies them.

use crate::model::Codec;
use bytes::Bytes;
use std::fmt;

/// The 4-byte start code (`zero_byte` + `start_code_prefix_one_3bytes`,
/// 14496-10 §B.1.1). The zero_byte is mandatory before parameter sets and
/// the first NAL unit of an access unit; using it everywhere keeps the
/// output size equal to the input size when `nal_length_size` is 4.
const START_CODE: &[u8] = &[0, 0, 0, 1];

/// H.264 AUD: nal_unit_type 9, primary_pic_type 7 ("any slice type"),
/// then rbsp_stop_one_bit (14496-10 §7.3.2.4).
const AVC_AUD: &[u8] = &[0x09, 0xF0];

/// HEVC AUDs for TemporalId 0..=6: AUD_NUT 35, nuh_layer_id 0,
/// nuh_temporal_id_plus1, then pic_type 2 ("I, P or B") and
/// rbsp_stop_one_bit (23008-2 §7.3.2.5). Static so no AU allocates.
static HEVC_AUDS: [[u8; 3]; 7] = [
    [0x46, 0x01, 0x50],
    [0x46, 0x02, 0x50],
    [0x46, 0x03, 0x50],
    [0x46, 0x04, 0x50],
    [0x46, 0x05, 0x50],
    [0x46, 0x06, 0x50],
    [0x46, 0x07, 0x50],
];

/// Why a sample cannot be split into NAL units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NalError {
    /// `lengthSizeMinusOne + 1` must be 1, 2 or 4 (14496-15 §5.3.3.1.2).
    UnsupportedLengthSize { size: u8 },
    /// A length prefix or NAL unit runs past the end of the sample.
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
}

impl fmt::Display for NalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NalError::UnsupportedLengthSize { size } => {
                write!(f, "unsupported NAL unit length size {size}")
            }
            NalError::Truncated {
                offset,
                needed,
                available,
            } => write!(
                f,
                "NAL unit at offset {offset} needs {needed} bytes, {available} remain"
            ),
        }
    }
}

impl std::error::Error for NalError {}

/// Which NAL unit header syntax a stream uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NalSyntax {
    /// ISO/IEC 14496-10 §7.3.1: one header byte, type in the low 5 bits.
    Avc,
    /// ISO/IEC 23008-2 §7.3.1.2: two header bytes, type in bits 6..1.
    Hevc,
}

impl NalSyntax {
    fn nal_type(self, nal: &[u8]) -> Option<u8> {
        let b = *nal.first()?;
        Some(match self {
            NalSyntax::Avc => b & 0x1F,
            NalSyntax::Hevc => (b >> 1) & 0x3F,
        })
    }

    fn is_aud(self, nal: &[u8]) -> bool {
        // AVC type 9, HEVC AUD_NUT 35.
        let aud = match self {
            NalSyntax::Avc => 9,
            NalSyntax::Hevc => 35,
        };
        self.nal_type(nal) == Some(aud)
    }

    fn is_sps(self, nal: &[u8]) -> bool {
        // AVC type 7, HEVC SPS_NUT 33.
        let sps = match self {
            NalSyntax::Avc => 7,
            NalSyntax::Hevc => 33,
        };
        self.nal_type(nal) == Some(sps)
    }

    /// An AUD for the access unit whose first NAL unit is `first`.
    fn aud(self, first: Option<&Bytes>) -> Bytes {
        match self {
            NalSyntax::Avc => Bytes::from_static(AVC_AUD),
            NalSyntax::Hevc => {
                // The AUD's TemporalId must equal the access unit's
                // (23008-2 §7.4.2.4.4), so copy it from the sample.
                let tid_plus1 = first.and_then(|n| n.get(1)).map_or(1, |b| b & 0x07);
                let aud = HEVC_AUDS
                    .get(usize::from(tid_plus1).saturating_sub(1))
                    .unwrap_or(&HEVC_AUDS[0]);
                Bytes::from_static(aud)
            }
        }
    }
}

/// Splits one length-prefixed sample into its NAL units (slices of
/// `data`). Zero-length NAL units, which some writers emit, are skipped.
pub fn split_length_prefixed(data: &Bytes, nal_length_size: u8) -> Result<Vec<Bytes>, NalError> {
    let size = usize::from(nal_length_size);
    if !matches!(size, 1 | 2 | 4) {
        return Err(NalError::UnsupportedLengthSize {
            size: nal_length_size,
        });
    }
    let mut nals = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let available = data.len() - pos;
        if available < size {
            return Err(NalError::Truncated {
                offset: pos,
                needed: size,
                available,
            });
        }
        let len = data[pos..pos + size]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        pos += size;
        let available = data.len() - pos;
        if len > available {
            return Err(NalError::Truncated {
                offset: pos - size,
                needed: len,
                available,
            });
        }
        if len > 0 {
            nals.push(data.slice(pos..pos + len));
        }
        pos += len;
    }
    Ok(nals)
}

/// What the converter needs from `avcC` / `hvcC`.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnexBConfig {
    pub syntax: NalSyntax,
    pub nal_length_size: u8,
    /// Parameter sets in decoding order (VPS, SPS, PPS), repeated before
    /// every sync sample.
    pub parameter_sets: Vec<Bytes>,
}

impl AnnexBConfig {
    /// `None` for codecs that are not NAL-unit based.
    pub fn from_codec(codec: &Codec) -> Option<Self> {
        match codec {
            Codec::Avc(c) => Some(AnnexBConfig {
                syntax: NalSyntax::Avc,
                nal_length_size: c.nal_length_size,
                parameter_sets: c.sps.iter().chain(&c.pps).cloned().collect(),
            }),
            Codec::Hevc(c) => Some(AnnexBConfig {
                syntax: NalSyntax::Hevc,
                nal_length_size: c.nal_length_size,
                parameter_sets: c.vps.iter().chain(&c.sps).chain(&c.pps).cloned().collect(),
            }),
            _ => None,
        }
    }

    /// Appends the Annex-B form of one access unit to `out` as pieces and
    /// returns its length in bytes.
    ///
    /// Order (14496-10 §7.4.1.2.3, 23008-2 §7.4.2.4.4): AUD (the sample's
    /// own, or an inserted one), then on sync samples the configuration's
    /// parameter sets unless the sample carries an SPS itself, then the
    /// sample's remaining NAL units.
    pub fn convert(
        &self,
        data: &Bytes,
        sync: bool,
        out: &mut Vec<Bytes>,
    ) -> Result<usize, NalError> {
        let nals = split_length_prefixed(data, self.nal_length_size)?;
        let mut len = 0;
        let mut push = |out: &mut Vec<Bytes>, nal: Bytes| {
            len += START_CODE.len() + nal.len();
            out.push(Bytes::from_static(START_CODE));
            out.push(nal);
        };
        let mut rest = nals.as_slice();
        match rest.split_first() {
            Some((first, tail)) if self.syntax.is_aud(first) => {
                push(out, first.clone());
                rest = tail;
            }
            _ => push(out, self.syntax.aud(rest.first())),
        }
        if sync && !rest.iter().any(|n| self.syntax.is_sps(n)) {
            for ps in &self.parameter_sets {
                push(out, ps.clone());
            }
        }
        for nal in rest {
            push(out, nal.clone());
        }
        Ok(len)
    }
}

/// Splits an Annex-B byte stream into NAL units (start codes and trailing
/// zero bytes removed). The parser paired with [`AnnexBConfig::convert`],
/// used by tests and tools; the muxer never needs it.
pub fn split_annexb(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        // The next start code's prefix (and any zero_byte or
        // trailing_zero_8bits before it) is not part of this NAL unit.
        let mut end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
        while end > s && data[end - 1] == 0 {
            end -= 1;
        }
        nals.push(&data[s..end]);
    }
    nals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixed(nals: &[&[u8]], size: usize) -> Bytes {
        let mut v = Vec::new();
        for n in nals {
            let len = n.len().to_be_bytes();
            v.extend_from_slice(&len[len.len() - size..]);
            v.extend_from_slice(n);
        }
        Bytes::from(v)
    }

    fn avc(size: u8) -> AnnexBConfig {
        AnnexBConfig {
            syntax: NalSyntax::Avc,
            nal_length_size: size,
            parameter_sets: vec![
                Bytes::from_static(&[0x67, 0x64, 0x00, 0x0D]),
                Bytes::from_static(&[0x68, 0xEB]),
            ],
        }
    }

    fn flatten(pieces: &[Bytes]) -> Vec<u8> {
        pieces.iter().flat_map(|p| p.iter().copied()).collect()
    }

    #[test]
    fn converts_every_length_size() {
        let idr: &[u8] = &[0x65, 0x88, 0x84, 0x21];
        let sei: &[u8] = &[0x06, 0x05, 0x01, 0x80];
        for size in [1u8, 2, 4] {
            let data = prefixed(&[sei, idr], usize::from(size));
            let mut out = Vec::new();
            let len = avc(size).convert(&data, false, &mut out).unwrap();
            let bytes = flatten(&out);
            assert_eq!(len, bytes.len());
            assert_eq!(
                bytes,
                [
                    &[0, 0, 0, 1, 0x09, 0xF0][..],
                    &[0, 0, 0, 1],
                    sei,
                    &[0, 0, 0, 1],
                    idr
                ]
                .concat()
            );
            assert_eq!(split_annexb(&bytes), vec![AVC_AUD, sei, idr]);
        }
    }

    #[test]
    fn parameter_sets_only_on_sync_samples_without_sps() {
        let idr: &[u8] = &[0x65, 0x88];
        let cfg = avc(4);
        let mut out = Vec::new();
        cfg.convert(&prefixed(&[idr], 4), true, &mut out).unwrap();
        assert_eq!(
            split_annexb(&flatten(&out)),
            vec![AVC_AUD, &[0x67, 0x64, 0x00, 0x0D], &[0x68, 0xEB], idr]
        );

        // In-band SPS: nothing inserted.
        let sps: &[u8] = &[0x67, 0x42];
        let pps: &[u8] = &[0x68, 0xCE];
        out.clear();
        cfg.convert(&prefixed(&[sps, pps, idr], 4), true, &mut out)
            .unwrap();
        assert_eq!(split_annexb(&flatten(&out)), vec![AVC_AUD, sps, pps, idr]);

        // Existing AUD stays first and is not duplicated.
        out.clear();
        let aud: &[u8] = &[0x09, 0x10];
        cfg.convert(&prefixed(&[aud, idr], 4), true, &mut out)
            .unwrap();
        assert_eq!(
            split_annexb(&flatten(&out)),
            vec![aud, &[0x67, 0x64, 0x00, 0x0D], &[0x68, 0xEB], idr]
        );
    }

    #[test]
    fn size_unchanged_with_four_byte_lengths_and_aud() {
        let aud: &[u8] = &[0x09, 0xF0];
        let data = prefixed(&[aud, &[0x41, 0x9A, 0x00, 0x03]], 4);
        let mut out = Vec::new();
        let len = avc(4).convert(&data, false, &mut out).unwrap();
        assert_eq!(len, data.len());
    }

    #[test]
    fn hevc_aud_and_parameter_sets() {
        let cfg = AnnexBConfig {
            syntax: NalSyntax::Hevc,
            nal_length_size: 4,
            parameter_sets: vec![
                Bytes::from_static(&[0x40, 0x01, 0x0C]),
                Bytes::from_static(&[0x42, 0x01, 0x01]),
                Bytes::from_static(&[0x44, 0x01, 0xC1]),
            ],
        };
        // IDR_W_RADL (19) with TemporalId 0.
        let idr: &[u8] = &[0x26, 0x01, 0xAF];
        let mut out = Vec::new();
        cfg.convert(&prefixed(&[idr], 4), true, &mut out).unwrap();
        let bytes = flatten(&out);
        let nals = split_annexb(&bytes);
        assert_eq!(nals.len(), 5);
        assert_eq!(nals[0], &[0x46, 0x01, 0x50]);
        assert_eq!(nals[1][0] >> 1, 32);
        assert_eq!(nals[4], idr);

        // A TRAIL_N picture in temporal layer 2 gets an AUD with TemporalId 2.
        out.clear();
        cfg.convert(&prefixed(&[&[0x00, 0x03, 0x11]], 4), false, &mut out)
            .unwrap();
        assert_eq!(split_annexb(&flatten(&out))[0], &[0x46, 0x03, 0x50]);
    }

    #[test]
    fn skips_empty_nals_and_rejects_bad_input() {
        let data = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x9A]);
        assert_eq!(
            split_length_prefixed(&data, 4).unwrap(),
            vec![Bytes::from_static(&[0x41, 0x9A])]
        );
        assert_eq!(
            split_length_prefixed(&Bytes::from_static(&[0, 0, 0, 5, 0x41]), 4),
            Err(NalError::Truncated {
                offset: 0,
                needed: 5,
                available: 1
            })
        );
        assert_eq!(
            split_length_prefixed(&Bytes::from_static(&[0, 1, 0x41, 0]), 2),
            Err(NalError::Truncated {
                offset: 3,
                needed: 2,
                available: 1
            })
        );
        assert_eq!(
            split_length_prefixed(&Bytes::new(), 3),
            Err(NalError::UnsupportedLengthSize { size: 3 })
        );
        let mut out = Vec::new();
        assert!(avc(4)
            .convert(&Bytes::from_static(&[0, 0, 1]), false, &mut out)
            .is_err());
    }

    #[test]
    fn split_annexb_handles_three_byte_codes_and_trailing_zeros() {
        let s = [
            0, 0, 1, 0x09, 0xF0, 0, 0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x65, 0x01, 0, 0,
        ];
        assert_eq!(
            split_annexb(&s),
            vec![&[0x09, 0xF0][..], &[0x67, 0x42], &[0x65, 0x01]]
        );
        assert!(split_annexb(&[]).is_empty());
    }
}
