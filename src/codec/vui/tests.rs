use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn colour(primaries: u16, transfer: u16, matrix: u16, full: bool) -> Option<ColourInfo> {
    Some(ColourInfo {
        primaries,
        transfer,
        matrix,
        full_range: Some(full),
    })
}

// SPS NAL units from ffmpeg 5.1 with libx264/libx265, colour given only as
// encoder parameters (so the MP4 has no `colr`), 64x64 testsrc.

#[test]
fn avc_high_444_hlg() {
    // -x264-params colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc
    let sps = hex("67f4000a919b2884d80b50912094000003000400000300c03c489658");
    assert_eq!(avc_sps_colour(&sps), colour(9, 18, 9, false));
}

#[test]
fn avc_scaling_matrices_are_skipped() {
    // cqm=jvt (seq_scaling_matrix_present_flag) and BT.709.
    let sps = hex("67f4000a919b2884d80b50101014000003000400000300c03c489658");
    assert_eq!(avc_sps_colour(&sps), colour(1, 1, 1, false));
}

#[test]
fn avc_high_420_pq_full_range() {
    // -pix_fmt yuv420p, transfer=smpte2084 (libx264 keeps limited range).
    let sps = hex("6764000aacd94426c05a848804a0000003002000000601e244b2c0");
    assert_eq!(avc_sps_colour(&sps), colour(9, 16, 9, false));
}

#[test]
fn avc_without_colour_description() {
    let sps = hex("67f4000a919b2884d808800000030080000018078912cb");
    assert_eq!(avc_sps_colour(&sps), None);
}

#[test]
fn hevc_main10_pq() {
    // -pix_fmt yuv420p10le, x265 colorprim=bt2020:transfer=smpte2084.
    let sps = hex(
        "42010102200000030090000003000003001ea0208104d96566924caf016a12201208000003000800000300c040",
    );
    assert_eq!(hevc_sps_colour(&sps), colour(9, 16, 9, false));
}

#[test]
fn hevc_scaling_lists_hlg() {
    // x265 scaling-list=default, transfer=arib-std-b67 (4:4:4, Main RExt,
    // full range as ffmpeg's trace_headers shows).
    let sps = hex(
        "4201010408000003009e0800000300001e90041020b2cacd249caf016e12241208000003000800000300c040",
    );
    assert_eq!(hevc_sps_colour(&sps), colour(9, 18, 9, true));
}

#[test]
fn hevc_bt709() {
    let sps = hex(
        "42010101600000030090000003000003001ea020810596566924caf016a020202080000003008000000c04",
    );
    assert_eq!(hevc_sps_colour(&sps), colour(1, 1, 1, false));
}

#[test]
fn emulation_prevention_bytes_are_removed() {
    assert_eq!(rbsp(&[0, 0, 3, 1, 0, 0, 3, 0, 0, 3]), [0, 0, 1, 0, 0, 0, 0]);
}

#[test]
fn cut_short_and_hostile_sps_are_none() {
    let full = hex(
        "42010102200000030090000003000003001ea0208104d96566924caf016a12201208000003000800000300c040",
    );
    for n in 0..full.len() - 1 {
        // Every truncation: no colour or the right one, never a panic.
        let c = hevc_sps_colour(&full[..n]);
        assert!(c.is_none() || c == colour(9, 16, 9, false), "{n}: {c:?}");
    }
    let avc = hex("6764000aacd94426c05a848804a0000003002000000601e244b2c0");
    for n in 0..avc.len() {
        let c = avc_sps_colour(&avc[..n]);
        assert!(c.is_none() || c == colour(9, 16, 9, false), "{n}: {c:?}");
    }
    // All ones: every flag set, every ue(v) overlong.
    assert_eq!(hevc_sps_colour(&[0xff; 64]), None);
    assert_eq!(avc_sps_colour(&[0xff; 64]), None);
    // All zeros: ue(v) with more than 31 leading zeros.
    assert_eq!(hevc_sps_colour(&[0; 64]), None);
    assert_eq!(avc_sps_colour(&[0; 64]), None);
    assert_eq!(avc_sps_colour(&[]), None);
    assert_eq!(hevc_sps_colour(&[0x42]), None);
}

/// An MSB-first bit writer for synthetic SPSs (the paths no encoder here
/// writes: AVC scaling lists in the SPS, HEVC sub-layers, short-term
/// reference picture sets predicted from each other, long-term pictures).
#[derive(Default)]
struct Bits {
    bits: Vec<bool>,
}

impl Bits {
    fn u(&mut self, n: usize, v: u64) -> &mut Self {
        for i in (0..n).rev() {
            self.bits.push(v >> i & 1 == 1);
        }
        self
    }
    fn ue(&mut self, v: u64) -> &mut Self {
        let n = 64 - (v + 1).leading_zeros() as usize;
        self.u(n - 1, 0).u(n, v + 1)
    }
    fn se(&mut self, v: i64) -> &mut Self {
        self.ue(if v > 0 {
            2 * v as u64 - 1
        } else {
            (-2 * v) as u64
        })
    }
    /// The VUI up to the colour description, then the NAL unit with
    /// `header`, trailing bits and emulation prevention.
    fn vui_nal(&mut self, header: &[u8], c: (u64, u64, u64)) -> Vec<u8> {
        self.u(1, 1).u(1, 1).u(8, 255).u(32, 0x0001_0001); // aspect: Extended_SAR
        self.u(1, 1).u(1, 0); // overscan
        self.u(1, 1).u(3, 5).u(1, 1).u(1, 1); // signal type, full range
        self.u(8, c.0).u(8, c.1).u(8, c.2).u(1, 1); // …, rbsp_stop_one_bit
        while !self.bits.len().is_multiple_of(8) {
            self.bits.push(false);
        }
        let mut out = header.to_vec();
        let mut zeros = 0;
        for byte in self.bits.chunks(8) {
            let b = byte.iter().fold(0u8, |a, &x| a << 1 | u8::from(x));
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

#[test]
fn avc_sps_scaling_lists_and_poc_type_1() {
    let mut w = Bits::default();
    w.u(8, 100).u(8, 0).u(8, 40).ue(0); // High, level 4, sps 0
    w.ue(1).ue(0).ue(0).u(1, 0); // 4:2:0, 8 bit
    w.u(1, 1); // seq_scaling_matrix_present_flag
    for i in 0..8 {
        if i % 3 == 0 {
            // A list with deltas, ending early with next_scale 0.
            w.u(1, 1).se(5).se(-3).se(-10);
        } else if i == 7 {
            let n = 64;
            w.u(1, 1);
            for _ in 0..n {
                w.se(1);
            }
        } else {
            w.u(1, 0);
        }
    }
    w.ue(0).ue(1); // log2_max_frame_num_minus4, pic_order_cnt_type 1
    w.u(1, 0).se(-2).se(3).ue(3).se(1).se(-1).se(7);
    w.ue(4).u(1, 0).ue(79).ue(44).u(1, 1).u(1, 1); // refs, 1280x720, frame_mbs_only
    w.u(1, 1).ue(0).ue(0).ue(0).ue(4); // cropping
    let sps = w.vui_nal(&[0x67], (9, 18, 9));
    assert_eq!(avc_sps_colour(&sps), colour(9, 18, 9, true));
}

#[test]
fn hevc_sps_sub_layers_rps_and_long_term() {
    let mut w = Bits::default();
    w.u(4, 0).u(3, 2).u(1, 1); // vps 0, max_sub_layers_minus1 2
    w.u(32, 0).u(32, 0).u(32, 0); // general profile/tier/level (unused)
    w.u(1, 1).u(1, 1).u(1, 0).u(1, 1); // sub-layer profile/level present flags
    w.u(12, 0); // reserved_zero_2bits for i in 2..8
    w.u(32, 0).u(32, 0).u(24, 0).u(8, 90).u(8, 93); // sub-layer 0: profile + level; 1: level
    w.ue(0).ue(1).ue(1920).ue(1080).u(1, 0); // sps id, 4:2:0, size, no window
    w.ue(2).ue(2).ue(4); // 10 bit, log2_max_poc_lsb 8
    w.u(1, 1); // sub-layer ordering info for each of the 3 sub-layers
    for _ in 0..3 {
        w.ue(4).ue(2).ue(0);
    }
    w.ue(0).ue(3).ue(0).ue(3).ue(1).ue(1); // block sizes, hierarchy depths
    w.u(1, 1).u(1, 1); // scaling list data present
    for size_id in 0..4 {
        let step = if size_id == 3 { 3 } else { 1 };
        for m in (0..6).step_by(step) {
            if m % 2 == 0 {
                w.u(1, 0).ue(0);
            } else {
                w.u(1, 1);
                if size_id > 1 {
                    w.se(8);
                }
                for _ in 0..64.min(1 << (4 + (size_id << 1))) {
                    w.se(-1);
                }
            }
        }
    }
    w.u(1, 1).u(1, 1); // amp, sao
    w.u(1, 1).u(4, 7).u(4, 7).ue(0).ue(1).u(1, 0); // pcm
    w.ue(3); // three short-term RPSs
    w.ue(2).ue(1).ue(0).u(1, 1).ue(1).u(1, 1).ue(3).u(1, 0); // RPS 0: -1 -3 | 4
                                                             // RPS 1 from RPS 0, deltaRps +1, use_delta 1 1 1 0: the derivation
                                                             // (7-61, 7-62) keeps -2 | 5 (the 0 of -1+1 is dropped), so
                                                             // NumDeltaPocs is 2, not the 3 flags set.
    w.u(1, 1)
        .u(1, 0)
        .ue(0)
        .u(1, 1)
        .u(1, 0)
        .u(1, 1)
        .u(1, 1)
        .u(1, 0)
        .u(1, 0);
    // RPS 2 from RPS 1, deltaRps -2: 2 + 1 flag entries.
    w.u(1, 1).u(1, 1).ue(1).u(1, 1).u(1, 1).u(1, 0).u(1, 1);
    w.u(1, 1).ue(2).u(8, 17).u(1, 1).u(8, 200).u(1, 0); // two long-term pictures
    w.u(1, 1).u(1, 1); // temporal mvp, strong intra smoothing
    let sps = w.vui_nal(&[0x42, 0x01], (9, 16, 9));
    assert_eq!(hevc_sps_colour(&sps), colour(9, 16, 9, true));
}
