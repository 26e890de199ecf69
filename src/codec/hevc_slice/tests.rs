use super::rps::Rps;
use super::*;
use crate::model::HevcConfig;
use bytes::Bytes;

/// Writes bits MSB first, with `ue(v)`; `nal` ends the RBSP with
/// `byte_alignment()` (a one, then zeros) and adds emulation prevention.
#[derive(Default, Clone)]
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
    fn f(self, b: bool) -> W {
        self.u(1, u32::from(b))
    }
    fn ue(self, v: u32) -> W {
        let x = u64::from(v) + 1;
        let len = 64 - x.leading_zeros();
        let w = self.u(len - 1, 0);
        let mut w = w;
        for i in (0..len).rev() {
            w.bits.push(((x >> i) & 1) as u8);
        }
        w
    }
    /// The NAL unit of type `nal_type` (layer 0, temporal id 0): header,
    /// the RBSP aligned, `pad` more bytes of slice data, with emulation
    /// prevention bytes.
    fn nal(self, nal_type: u8, pad: usize) -> Vec<u8> {
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
        let mut out = vec![nal_type << 1, 1];
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
    /// NAL bytes of a header of these bits with no emulation prevention:
    /// the 2-byte NAL header, the bits and the alignment one, rounded up.
    fn header_len(&self) -> usize {
        2 + (self.bits.len() + 1).div_ceil(8)
    }
}

const TRAIL_N: u8 = 0;
const TRAIL_R: u8 = 1;
const IDR_W_RADL: u8 = 19;
const CRA: u8 = 21;

/// profile_tier_level of a Main-profile single layer stream.
fn ptl(w: W, profile: u32) -> W {
    w.u(2, 0)
        .u(1, 0)
        .u(5, profile)
        .u(32, 1 << (31 - profile))
        .u(32, 0x9000_0000)
        .u(16, 0)
        .u(8, 93)
}

/// SPS 0: 4:2:0 160×96 with 16×16 CTBs (60 CTBs: 6-bit addresses),
/// 8-bit POC LSB, SAO, TMVP, two short-term sets — set 0 explicit
/// {−1, −3 used; +1 unused}, set 1 predicted from it with deltaRps −1:
/// {−1 used, −2 used, −4 unused} — and two long-term SPS pictures (the
/// first used).
fn sps(profile: u32) -> Vec<u8> {
    let w = ptl(W::default().u(4, 0).u(3, 0).u(1, 1), profile)
        .ue(0) // sps id
        .ue(1) // 4:2:0
        .ue(160)
        .ue(96)
        .f(false) // conformance window
        .ue(0)
        .ue(0)
        .ue(4) // log2_max_pic_order_cnt_lsb_minus4 → 8 bits
        .f(true)
        .ue(4)
        .ue(2)
        .ue(0)
        .ue(0) // MinCb 8
        .ue(1) // CTB 16
        .ue(0)
        .ue(3)
        .ue(1)
        .ue(1)
        .f(false) // scaling lists
        .f(true) // amp
        .f(true) // SAO
        .f(false) // PCM
        .ue(2) // two short-term sets
        // set 0
        .ue(2)
        .ue(1)
        .ue(0)
        .f(true)
        .ue(1)
        .f(true)
        .ue(0)
        .f(false)
        // set 1: inter predicted, deltaRps = −1
        .f(true)
        .f(true)
        .ue(0)
        .f(true) // j0: used
        .f(false)
        .f(true) // j1: not used, kept
        .f(false)
        .f(false) // j2: dropped (its POC would be 0 anyway)
        .f(true) // j3 (deltaRps itself): used
        .f(true) // long-term pictures
        .ue(2)
        .u(8, 5)
        .f(true)
        .u(8, 9)
        .f(false)
        .f(true) // TMVP
        .f(true)
        .f(false)
        .f(false);
    w.nal(33, 0)
}

/// PPS 0 turns every slice header field on: dependent slice segments,
/// output flag, 2 extra bits, cabac_init, 2/1 default refs, chroma QP
/// offsets, weighted prediction, tiles and WPP, deblocking override,
/// list modification, header extension, chroma QP offset lists.
fn pps_full() -> Vec<u8> {
    W::default()
        .ue(0)
        .ue(0)
        .f(true) // dependent_slice_segments_enabled_flag
        .f(true) // output_flag_present_flag
        .u(3, 2) // num_extra_slice_header_bits
        .f(false)
        .f(true) // cabac_init_present_flag
        .ue(1)
        .ue(0)
        .ue(0)
        .f(false)
        .f(true) // transform_skip_enabled_flag
        .f(true)
        .ue(1)
        .ue(0)
        .ue(0)
        .f(true) // pps_slice_chroma_qp_offsets_present_flag
        .f(true) // weighted_pred_flag
        .f(true) // weighted_bipred_flag
        .f(false)
        .f(true) // tiles
        .f(true) // entropy_coding_sync
        .ue(1)
        .ue(1)
        .f(false)
        .ue(4)
        .ue(2)
        .f(true)
        .f(true) // pps_loop_filter_across_slices_enabled_flag
        .f(true) // deblocking control
        .f(true) // override enabled
        .f(false) // not disabled
        .ue(0)
        .ue(0)
        .f(false)
        .f(true) // lists_modification_present_flag
        .ue(0)
        .f(true) // slice_segment_header_extension_present_flag
        .f(true) // extensions: range only
        .f(true)
        .f(false)
        .f(false)
        .f(false)
        .u(4, 0)
        .ue(0)
        .f(false)
        .f(true) // chroma_qp_offset_list_enabled_flag
        .ue(0)
        .ue(0)
        .ue(0)
        .ue(0)
        .ue(0)
        .ue(0)
        .nal(34, 0)
}

/// PPS 1: everything off (no deblocking control, no tiles).
fn pps_plain() -> Vec<u8> {
    W::default()
        .ue(1)
        .ue(0)
        .f(false)
        .f(false)
        .u(3, 0)
        .f(false)
        .f(false)
        .ue(0)
        .ue(0)
        .ue(0)
        .f(false)
        .f(false)
        .f(false)
        .ue(0)
        .ue(0)
        .f(false)
        .f(false)
        .f(false)
        .f(false)
        .f(false)
        .f(false)
        .f(false) // loop filter across slices
        .f(false) // deblocking control
        .f(false)
        .f(false)
        .ue(0)
        .f(false)
        .f(false)
        .nal(34, 0)
}

fn config_with(sps: Vec<u8>) -> HevcConfig {
    HevcConfig {
        record: Bytes::new(),
        general_profile_space: 0,
        general_tier_flag: false,
        general_profile_idc: 1,
        general_profile_compatibility_flags: 0,
        general_constraint_indicator_flags: [0; 6],
        general_level_idc: 93,
        nal_length_size: 4,
        vps: Vec::new(),
        sps: vec![Bytes::from(sps)],
        pps: vec![Bytes::from(pps_full()), Bytes::from(pps_plain())],
    }
}

fn params() -> ParamSets {
    ParamSets::from_config(&config_with(sps(1)))
}

#[test]
fn parameter_sets_are_read() {
    let ps = params();
    assert_eq!(ps.sps.len(), 1);
    assert_eq!(ps.pps.len(), 2);
    let s = &ps.sps[0];
    assert_eq!(s.pic_size_in_ctbs, 60);
    assert_eq!(s.log2_max_poc_lsb, 8);
    assert_eq!(s.lt_used, [true, false]);
    assert_eq!(
        s.st_rps[1],
        Rps {
            negative: vec![(-1, true), (-2, true), (-4, false)],
            positive: vec![],
        }
    );
    let p = &ps.pps[0];
    assert!(p.entry_points && p.chroma_qp_offset_list && p.header_extension_present);
    assert_eq!(p.num_extra_slice_header_bits, 2);
    assert_eq!(p.num_ref_idx_default_minus1, [1, 0]);
}

#[test]
fn idr_slice_header_length() {
    let ps = params();
    // first, no_output_of_prior_pics, PPS 1, I, SAO luma on / chroma off,
    // qp delta: 15 bits, then alignment: 2 bytes after the NAL header.
    let w = W::default()
        .f(true)
        .f(false)
        .ue(1)
        .ue(2)
        .f(true)
        .f(false)
        .ue(3);
    assert_eq!(w.bits.len(), 15);
    assert_eq!(
        slice_header_len(&w.clone().nal(IDR_W_RADL, 40), &ps),
        Some(4)
    );
    // A zero bit more before the alignment is read as the alignment one.
    let longer = w.f(false);
    assert_eq!(slice_header_len(&longer.nal(IDR_W_RADL, 40), &ps), None);
    // A CRA I slice has a POC LSB and a reference picture set (SPS set 0
    // by its 1-bit index), no long-term pictures, TMVP off.
    let w = W::default()
        .f(true)
        .f(false)
        .ue(1)
        .ue(2)
        .u(8, 16)
        .f(true)
        .u(1, 0)
        .ue(0)
        .ue(0)
        .f(false)
        .f(false)
        .f(false)
        .ue(0);
    assert_eq!(w.bits.len(), 24);
    assert_eq!(slice_header_len(&w.nal(CRA, 40), &ps), Some(2 + 4));
}

/// A B slice with every field: its own short-term set predicted from SPS
/// set 1 (deltaRps +2 → {−2 used; +1 used, +2 unused}), one SPS and one
/// explicit long-term picture, both used (NumPicTotalCurr 4: 2-bit list
/// entries), list modification, weights, collocated_ref_idx, chroma QP
/// offsets, deblocking override, entry points, a header extension.
fn b_slice() -> W {
    W::default()
        .f(false) // not the first segment
        .ue(0) // PPS 0
        .f(false) // not dependent
        .u(6, 17) // slice_segment_address
        .u(2, 0) // extra bits
        .ue(0) // B
        .f(true) // pic_output_flag
        .u(8, 33) // POC LSB
        .f(false) // st_ref_pic_set in the header:
        .f(true) // inter predicted
        .ue(0) // from set 1
        .f(false) // positive
        .ue(1) // deltaRps 2
        .f(true) // j0 used
        .f(false)
        .f(true) // j1 kept unused (POC 0: dropped)
        .f(true) // j2 used
        .f(false)
        .f(true) // j3 kept unused
        .ue(1) // num_long_term_sps
        .ue(1) // num_long_term_pics
        .u(1, 0) // lt_idx_sps 0: used
        .f(false)
        .u(8, 7) // poc_lsb_lt
        .f(true) // used
        .f(true)
        .ue(2) // delta_poc_msb_cycle_lt
        .f(true) // slice_temporal_mvp_enabled_flag
        .f(false) // SAO luma
        .f(true) // SAO chroma
        .f(true) // override
        .ue(2) // 3 refs l0
        .ue(1) // 2 refs l1
        .f(true) // modify l0: three 2-bit entries
        .u(2, 1)
        .u(2, 2)
        .u(2, 3)
        .f(false) // l1 unmodified
        .f(false) // mvd_l1_zero_flag
        .f(true) // cabac_init_flag
        .f(false) // collocated from l1, which has 2 refs:
        .ue(1) // collocated_ref_idx
        .ue(6) // pred_weight_table: luma denom
        .ue(1) // chroma denom delta
        .f(true)
        .f(false)
        .f(true) // l0 luma flags
        .f(false)
        .f(true)
        .f(false) // l0 chroma flags
        .ue(1)
        .ue(2) // l0[0] luma
        .ue(1)
        .ue(2)
        .ue(3)
        .ue(4) // l0[1] chroma
        .ue(5)
        .ue(6) // l0[2] luma
        .f(false)
        .f(false) // l1 luma flags
        .f(true)
        .f(false) // l1 chroma flags
        .ue(1)
        .ue(1)
        .ue(1)
        .ue(1) // l1[0] chroma
        .ue(1) // five_minus_max_num_merge_cand
        .ue(4) // slice_qp_delta
        .ue(1)
        .ue(2) // cb, cr offsets
        .f(true) // cu_chroma_qp_offset_enabled_flag
        .f(true) // deblocking override
        .f(false)
        .ue(1)
        .ue(2)
        .f(true) // loop filter across slices
        .ue(3) // entry points
        .ue(9) // 10-bit offsets
        .u(10, 100)
        .u(10, 200)
        .u(10, 300)
        .ue(4) // header extension
        .u(8, 0xab)
        .u(8, 0xcd)
        .u(8, 0xef)
        .u(8, 0x01)
}

#[test]
fn b_slice_with_every_field() {
    let ps = params();
    let w = b_slice();
    let expected = w.header_len();
    assert_eq!(slice_header_len(&w.nal(TRAIL_R, 64), &ps), Some(expected));
    assert!(expected > 32, "longer than the fixed lead: {expected}");
}

#[test]
fn p_slice_with_an_sps_set_and_weights() {
    let ps = params();
    // SPS set 1 (2 used): 1-bit list entries; default 2 refs l0.
    let w = W::default()
        .f(true)
        .ue(0)
        .u(2, 3)
        .ue(1) // P
        .f(false)
        .u(8, 200)
        .f(true)
        .u(1, 1) // short_term_ref_pic_set_idx 1
        .ue(0)
        .ue(0) // no long-term pictures
        .f(true) // TMVP
        .f(true)
        .f(true) // SAO
        .f(false) // no override
        .f(true)
        .u(1, 1)
        .u(1, 0) // l0 modified
        .f(false) // cabac_init_flag
        .ue(1) // collocated_ref_idx (from l0, 2 refs)
        .ue(3)
        .ue(0)
        .f(false)
        .f(true)
        .f(true)
        .f(true)
        .ue(1)
        .ue(1)
        .ue(1)
        .ue(1)
        .ue(1)
        .ue(1)
        .ue(1)
        .ue(1)
        .ue(1)
        .ue(1)
        .ue(0) // five_minus
        .ue(7) // qp
        .ue(0)
        .ue(0)
        .f(false)
        .f(false) // no deblocking override: enabled, so
        .f(true) // loop filter across slices
        .ue(0) // no entry points
        .ue(0); // empty extension
    let expected = w.header_len();
    assert_eq!(slice_header_len(&w.nal(TRAIL_R, 64), &ps), Some(expected));
}

#[test]
fn dependent_slice_segment_reads_address_entry_points_and_extension() {
    let ps = params();
    let w = W::default()
        .f(false)
        .ue(0)
        .f(true) // dependent
        .u(6, 40)
        .ue(1)
        .ue(3)
        .u(4, 9)
        .ue(0);
    assert_eq!(w.bits.len(), 1 + 1 + 1 + 6 + 3 + 5 + 4 + 1);
    let nal = w.nal(TRAIL_N, 30);
    assert_eq!(slice_header_len(&nal, &ps), Some(2 + 3));
    // An address past the picture's 60 CTBs.
    let bad = W::default().f(false).ue(0).f(true).u(6, 60).ue(0).ue(0);
    assert_eq!(slice_header_len(&bad.nal(TRAIL_N, 30), &ps), None);
}

#[test]
fn emulation_prevention_bytes_are_counted_in_the_nal() {
    let ps = params();
    // Two 32-bit zero entry points: the RBSP has long zero runs.
    let w = W::default()
        .f(true)
        .f(false)
        .ue(0)
        .u(2, 0)
        .ue(2)
        .f(false)
        .f(false)
        .f(false)
        .ue(0)
        .ue(0)
        .ue(0)
        .f(false)
        .f(false)
        .f(true)
        .ue(2)
        .ue(31)
        .u(32, 0)
        .u(32, 0)
        .ue(0);
    let rbsp_len = (w.bits.len() + 1).div_ceil(8);
    let nal = w.nal(IDR_W_RADL, 8);
    // NAL bytes up to the last header RBSP byte, emulation prevention
    // included.
    let (mut at, mut rbsp, mut zeros) = (2, 0, 0);
    while rbsp < rbsp_len {
        if zeros >= 2 && nal[at] == 3 {
            zeros = 0;
        } else {
            zeros = if nal[at] == 0 { zeros + 1 } else { 0 };
            rbsp += 1;
        }
        at += 1;
    }
    assert!(at > 2 + rbsp_len, "emulation prevention in the header");
    assert_eq!(slice_header_len(&nal, &ps), Some(at));
}

#[test]
fn truncated_misaligned_unknown_or_unsupported_gives_none() {
    let ps = params();
    let nal = b_slice().nal(TRAIL_R, 0);
    let len = slice_header_len(&nal, &ps).unwrap();
    assert_eq!(len, nal.len());
    for cut in 0..len {
        assert_eq!(slice_header_len(&nal[..cut], &ps), None, "cut at {cut}");
    }
    // The alignment one flipped.
    let mut bad = nal.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1 << (7 - (b_slice().bits.len() % 8));
    assert_eq!(slice_header_len(&bad, &ps), None);
    // PPS 5 is not in the hvcC.
    let w = W::default().f(true).f(false).ue(5).ue(2);
    assert_eq!(slice_header_len(&w.nal(IDR_W_RADL, 8), &ps), None);
    // Not a slice (SEI), reserved VCL types, a layer above 0.
    let idr = W::default()
        .f(true)
        .f(false)
        .ue(1)
        .ue(2)
        .f(true)
        .f(false)
        .ue(3)
        .nal(IDR_W_RADL, 8);
    assert!(slice_header_len(&idr, &ps).is_some());
    for t in [39u8, 10, 22, 31] {
        let mut n = idr.clone();
        n[0] = t << 1;
        assert_eq!(slice_header_len(&n, &ps), None, "type {t}");
    }
    let mut layered = idr.clone();
    layered[1] |= 1 << 3;
    assert_eq!(slice_header_len(&layered, &ps), None);
    assert_eq!(slice_header_len(&[], &ps), None);
    assert_eq!(slice_header_len(&[0x26], &ps), None);
    // A screen content coding profile's SPS is not read, nor are garbage
    // parameter sets.
    assert!(ParamSets::from_config(&config_with(sps(9))).is_empty());
    let mut c = config_with(vec![0x42, 0x01, 0, 0, 0, 0, 0, 0, 0]);
    c.pps.push(Bytes::from_static(&[0x44, 0x01, 0xff]));
    assert_eq!(ParamSets::from_config(&c), ParamSets::default());
}

/// xorshift64*: reproducible pseudo-random bytes without a dependency.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn random_and_mutated_input_never_panics() {
    let ps = params();
    let mut next = rng(0x9e37_79b9_7f4a_7c15);
    let seeds = [b_slice().nal(TRAIL_R, 16), sps(1), pps_full()];
    let mut measured = 0;
    for round in 0..20_000 {
        let len = (next() % 80) as usize;
        let mut nal: Vec<u8> = if round % 2 == 0 {
            (0..len).map(|_| next() as u8).collect()
        } else {
            let mut v = seeds[round % 3].clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % v.len();
                v[i] ^= 1 << (next() % 8);
            }
            v.truncate(v.len().min(len + 8));
            v
        };
        if round % 4 == 0 && nal.len() >= 2 {
            nal[0] = ((next() % 22) as u8) << 1;
            nal[1] = 1;
        }
        if let Some(n) = slice_header_len(&nal, &ps) {
            assert!(n <= nal.len());
            measured += 1;
        }
        let c = config_with(nal.clone());
        let _ = ParamSets::from_config(&c);
    }
    assert!(measured > 0);
}
