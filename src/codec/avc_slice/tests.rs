use super::*;
use bytes::Bytes;

/// Writes bits MSB first, with `ue(v)`; `nal` adds emulation prevention.
#[derive(Default)]
struct W {
    bits: Vec<u8>,
}

impl W {
    fn u(mut self, n: u32, v: u32) -> W {
        for i in (0..n).rev() {
            self.bits.push(((v >> i) & 1) as u8);
        }
        self
    }
    fn ue(self, v: u32) -> W {
        let x = v + 1;
        let len = 32 - x.leading_zeros();
        self.u(len - 1, 0).u(len, x)
    }
    /// The NAL unit: `header`, the RBSP padded with a stop bit and zeros
    /// to `pad` more bytes, with emulation prevention bytes.
    fn nal(self, header: u8, pad: usize) -> Vec<u8> {
        let mut bits = self.bits;
        bits.push(1);
        while !bits.len().is_multiple_of(8) {
            bits.push(0);
        }
        let mut rbsp: Vec<u8> = bits
            .chunks(8)
            .map(|c| c.iter().fold(0u8, |a, b| (a << 1) | b))
            .collect();
        rbsp.extend(std::iter::repeat_n(0xaa, pad));
        let mut out = vec![header];
        let mut zeros = 0;
        for b in rbsp {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }
}

/// Baseline-style SPS 0 (frame_num 4 bits, POC type 0 with 6-bit lsb)
/// and PPS 0 (CAVLC, deblocking control, weighted P prediction).
fn config() -> AvcConfig {
    let sps = W::default()
        .u(8, 77)
        .u(16, 0x001e)
        .ue(0) // sps id
        .ue(0) // log2_max_frame_num_minus4
        .ue(0) // poc type 0
        .ue(2) // log2_max_poc_lsb_minus4 → 6 bits
        .ue(3)
        .u(1, 0)
        .ue(39)
        .ue(29)
        .u(1, 1) // frame_mbs_only
        .nal(0x67, 4);
    let pps = W::default()
        .ue(0)
        .ue(0)
        .u(1, 0) // CAVLC
        .u(1, 0)
        .ue(0) // one slice group
        .ue(2) // 3 refs l0 by default
        .ue(0)
        .u(1, 1) // weighted_pred_flag
        .u(2, 0)
        .ue(0)
        .ue(0)
        .ue(0)
        .u(1, 1) // deblocking_filter_control_present_flag
        .u(1, 0)
        .u(1, 0)
        .nal(0x68, 0);
    AvcConfig {
        record: Bytes::new(),
        profile: 77,
        compatibility: 0,
        level: 30,
        nal_length_size: 4,
        sps: vec![Bytes::from(sps)],
        pps: vec![Bytes::from(pps)],
    }
}

#[test]
fn idr_slice_header_length() {
    let ps = ParamSets::from_config(&config());
    // first_mb 0, type I (7), pps 0, frame_num, idr_pic_id, poc lsb,
    // dec_ref_pic_marking (2 bits), qp delta, deblocking idc 1: 38 bits.
    let w = W::default()
        .ue(0)
        .ue(7)
        .ue(0)
        .u(4, 0)
        .ue(0)
        .u(6, 0)
        .u(2, 0)
        .ue(0)
        .ue(1);
    assert_eq!(w.bits.len(), 1 + 7 + 1 + 4 + 1 + 6 + 2 + 1 + 3);
    let nal = w.nal(0x65, 40);
    assert_eq!(slice_header_len(&nal, &ps), Some(1 + 4));
}

#[test]
fn p_slice_with_list_modification_weights_and_marking() {
    let ps = ParamSets::from_config(&config());
    let w = W::default()
        .ue(0)
        .ue(5) // P
        .ue(0)
        .u(4, 3)
        .u(6, 8)
        .u(1, 1) // override
        .ue(1) // 2 refs
        .u(1, 1) // list modification l0
        .ue(0)
        .ue(4)
        .ue(2)
        .ue(1)
        .ue(3)
        .ue(5) // pred_weight_table: luma denom
        .ue(1) // chroma denom
        .u(1, 1) // ref 0 luma weights
        .ue(2)
        .ue(1)
        .u(1, 0)
        .u(1, 0) // ref 1 none
        .u(1, 1) // chroma weights: 4 se
        .ue(1)
        .ue(2)
        .ue(3)
        .ue(4)
        .u(1, 1) // adaptive marking
        .ue(1)
        .ue(0)
        .ue(0) // end
        .ue(3) // qp delta
        .ue(0) // deblocking idc 0
        .ue(1)
        .ue(2);
    let bits = w.bits.len();
    let nal = w.nal(0x41, 40);
    assert_eq!(slice_header_len(&nal, &ps), Some(1 + bits.div_ceil(8)));
}

#[test]
fn emulation_prevention_bytes_are_counted_in_the_nal() {
    let ps = ParamSets::from_config(&config());
    // first_mb_in_slice 2^23 - 1: 23 zero bits, a one, 23 zero bits, so
    // the RBSP starts 00 00 01 00 00 00 …: emulation prevention bytes
    // inside the header. 47 + 25 bits: exactly 9 RBSP bytes.
    let w = W::default()
        .ue((1 << 23) - 1)
        .ue(7)
        .ue(0)
        .u(4, 0)
        .ue(0)
        .u(6, 0)
        .u(2, 0)
        .ue(0)
        .ue(1);
    assert_eq!(w.bits.len(), 72);
    let nal = w.nal(0x65, 8);
    // NAL bytes up to the 9th RBSP byte, emulation prevention included.
    let (mut at, mut rbsp, mut zeros) = (1, 0, 0);
    while rbsp < 9 {
        if zeros >= 2 && nal[at] == 3 {
            zeros = 0;
        } else {
            zeros = if nal[at] == 0 { zeros + 1 } else { 0 };
            rbsp += 1;
        }
        at += 1;
    }
    assert!(at > 10, "emulation prevention in the header: {nal:02x?}");
    assert_eq!(slice_header_len(&nal, &ps), Some(at));
}

#[test]
fn unknown_or_unsupported_gives_none() {
    let ps = ParamSets::from_config(&config());
    // PPS id 5 is not in the avcC.
    let nal = W::default().ue(0).ue(7).ue(5).nal(0x65, 8);
    assert_eq!(slice_header_len(&nal, &ps), None);
    // Not a slice.
    assert_eq!(slice_header_len(&[0x06, 1, 2], &ps), None);
    // Truncated.
    assert_eq!(slice_header_len(&[0x65, 0x88], &ps), None);
    assert_eq!(slice_header_len(&[], &ps), None);
    // Garbage parameter sets parse to nothing (and do not panic).
    let mut c = config();
    c.sps = vec![Bytes::from_static(&[0x67, 0, 0, 0, 0, 0, 0, 0])];
    assert_eq!(ParamSets::from_config(&c), ParamSets::default());
}
