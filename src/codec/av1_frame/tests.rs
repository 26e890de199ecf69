use super::*;

/// An MSB-first bit writer.
#[derive(Default, Clone)]
struct W {
    bits: Vec<u8>,
}

impl W {
    fn u(mut self, n: usize, v: u64) -> W {
        for i in (0..n).rev() {
            self.bits.push(((v >> i) & 1) as u8);
        }
        self
    }
    fn f(self, b: bool) -> W {
        self.u(1, u64::from(b))
    }
    /// The bits, zero-padded to a byte (`byte_alignment()` /
    /// `trailing_bits()` are not checked by the reader).
    fn bytes(&self) -> Vec<u8> {
        let mut bits = self.bits.clone();
        while !bits.len().is_multiple_of(8) {
            bits.push(0);
        }
        bits.chunks(8)
            .map(|c| c.iter().fold(0u8, |a, b| (a << 1) | b))
            .collect()
    }
}

/// An OBU with `obu_has_size_field`.
fn obu(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![kind << 3 | 2];
    let mut n = payload.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(payload);
    out
}

/// Sequence header: profile 0, one operating point, 160×90 (8-bit
/// dimensions), 64×64 superblocks, order hints of 7 bits with ref MVs,
/// screen content tools chosen per frame, CDEF and restoration on, 4:2:0
/// 8-bit, no film grain.
fn sequence_header() -> Vec<u8> {
    W::default()
        .u(3, 0)
        .f(false)
        .f(false)
        .f(false) // no timing info
        .f(false) // no initial display delay
        .u(5, 0) // one operating point
        .u(12, 0)
        .u(5, 4)
        .u(4, 7)
        .u(4, 7)
        .u(8, 159)
        .u(8, 89)
        .f(false) // frame ids
        .f(false) // 64×64
        .f(true)
        .f(true)
        .f(true)
        .f(true)
        .f(true) // warped motion
        .f(true)
        .f(true) // order hint
        .f(true)
        .f(true) // ref frame mvs
        .f(true) // seq_choose_screen_content_tools
        .f(true) // seq_choose_integer_mv
        .u(3, 6) // 7-bit order hints
        .f(false) // superres
        .f(true) // cdef
        .f(true) // restoration
        .f(false) // 8-bit
        .f(false) // not mono
        .f(false) // no colour description
        .f(false) // range
        .u(2, 0) // chroma_sample_position
        .f(false) // separate_uv_delta_q
        .f(false) // film grain
        .f(true) // trailing one
        .bytes()
}

/// The frame header fields after `disable_frame_end_update_cdf`, common
/// to the test frames: `tiles` (a tile_info), base_q_idx 100, no deltas,
/// no qmatrix, no segmentation, no delta q; loop filter with delta
/// update; CDEF with 2 strengths; no restoration; tx mode select.
fn common_tail(w: W, tiles: impl Fn(W) -> W) -> W {
    let w = tiles(w);
    let w = w
        .u(8, 100)
        .f(false)
        .f(false)
        .f(false)
        .f(false) // qmatrix
        .f(false) // segmentation
        .f(false) // delta_q_present
        .u(6, 10)
        .u(6, 12)
        .u(6, 3)
        .u(6, 4)
        .u(3, 0)
        .f(true)
        .f(true); // delta update
    let mut w = w;
    for i in 0..10 {
        w = w.f(i == 2);
        if i == 2 {
            w = w.u(7, 0x41);
        }
    }
    w.u(2, 1)
        .u(2, 1) // cdef_bits 1: 2 strengths
        .u(12, 0xabc)
        .u(12, 0x123)
        .u(2, 0)
        .u(2, 0)
        .u(2, 0) // no restoration
        .f(true) // tx_mode_select
}

/// A shown key frame's uncompressed header, one tile.
fn key_frame_header() -> W {
    let w = W::default()
        .f(false) // show_existing_frame
        .u(2, 0) // KEY
        .f(true) // show_frame
        .f(false) // disable_cdf_update
        .f(false) // allow_screen_content_tools
        .f(false) // frame_size_override_flag
        .u(7, 0) // order_hint
        .f(false) // render size
        .f(false); // disable_frame_end_update_cdf
    common_tail(w, |w| w.f(true).f(false).f(false)).f(false) // reduced_tx_set
}

/// An inter frame (order hint 3, references in slots 0–6 all the key
/// frame's): two tile columns of 2-byte sizes, skip mode, global motion
/// (a ROTZOOM and a TRANSLATION reference), refreshes slot 1.
fn inter_frame_header() -> W {
    let w = W::default()
        .f(false)
        .u(2, 1) // INTER
        .f(true)
        .f(false) // error_resilient_mode
        .f(false)
        .f(false) // allow_screen_content_tools
        .f(false) // frame_size_override_flag
        .u(7, 3)
        .u(3, 0) // primary_ref_frame
        .u(8, 0b10) // refresh slot 1
        .f(false); // frame_refs_short_signaling
    let mut w = w;
    for i in 0..7 {
        w = w.u(3, i);
    }
    let w = w
        .f(false) // render size
        .f(true) // allow_high_precision_mv
        .f(true) // switchable filter
        .f(true) // is_motion_mode_switchable
        .f(true) // use_ref_frame_mvs
        .f(false); // disable_frame_end_update_cdf
                   // tile_info: uniform, one more column (2 tiles), rows stay; then
                   // context_update_tile_id (1 bit) and tile_size_bytes_minus_1 = 1.
    let w = common_tail(w, |w| w.f(true).f(true).f(false).f(false).u(1, 0).u(2, 1));
    // reference_select; every reference has the key frame's hint 0, the
    // only forward one and no backward: skip mode is not allowed (no
    // skip_mode_present); allow_warped_motion; reduced_tx_set.
    let mut w = w.f(true).f(true).f(false);
    // global motion: ref 1 ROTZOOM (2 alpha + 2 translation params of
    // decode_subexp(8193): "more" 0 then 3 bits), ref 2 TRANSLATION,
    // the others identity.
    w = w.f(true).f(true);
    for _ in 0..4 {
        w = w.f(false).u(3, 5);
    }
    w = w.f(true).f(false).f(true);
    for _ in 0..2 {
        // decode_subexp(1025) with high precision: 9-bit abs.
        w = w.f(false).u(3, 2);
    }
    for _ in 0..5 {
        w = w.f(false);
    }
    w
}

fn parser() -> Av1Parser {
    let av1c: Vec<u8> = [0x81, 0x00, 0x0c, 0x00]
        .into_iter()
        .chain(obu(1, &sequence_header()))
        .collect();
    Av1Parser::new(SequenceHeader::from_av1c(&av1c).unwrap())
}

/// A key frame sample: temporal delimiter, sequence header, metadata,
/// then a Frame OBU whose tile (one) follows the aligned header.
fn key_sample(tile: &[u8]) -> (Vec<u8>, Range<usize>) {
    let header = key_frame_header().bytes();
    let mut frame = header.clone();
    frame.extend_from_slice(tile);
    let mut s = obu(2, &[]);
    s.extend(obu(1, &sequence_header()));
    s.extend(obu(5, &[4, 1, 2, 3]));
    let f = obu(6, &frame);
    let start = s.len() + f.len() - tile.len();
    s.extend(f);
    (s.clone(), start..s.len())
}

#[test]
fn key_frame_tile_follows_the_frame_header() {
    let mut p = parser();
    let tile: Vec<u8> = (0..100).collect();
    let (sample, range) = key_sample(&tile);
    assert_eq!(p.tiles(&sample).unwrap(), vec![range]);
    assert!(p.refs.iter().all(|s| s.valid && s.order_hint == 0));
    assert_eq!(p.refs[0].frame_width, 160);
}

#[test]
fn inter_frame_tiles_from_a_frame_header_and_tile_group() {
    let mut p = parser();
    p.tiles(&key_sample(&[7; 40]).0).unwrap();
    // OBU_FRAME_HEADER, then a tile group with 2 tiles: a 2-byte LE
    // size then 30 bytes, then the last 50.
    let header = inter_frame_header().bytes();
    let mut tg = W::default().f(false).bytes(); // tile_start_and_end_present_flag
    tg.extend([29, 0]);
    tg.extend([1; 30]);
    tg.extend([2; 50]);
    let mut s = obu(2, &[]);
    s.extend(obu(3, &header));
    // A redundant copy of the header is clear and ignored.
    s.extend(obu(7, &header));
    let at = s.len() + 2; // OBU header + 1-byte size
    s.extend(obu(4, &tg));
    s.extend(obu(15, &[0; 5]));
    let tiles = p.tiles(&s).unwrap();
    assert_eq!(tiles, vec![at + 3..at + 33, at + 33..at + 83]);
    // Slot 1 now holds the inter frame, the rest the key frame.
    assert_eq!(p.refs[1].order_hint, 3);
    assert_eq!(p.refs[0].order_hint, 0);
    assert!(p.frame.is_none());
}

#[test]
fn an_inter_frame_without_its_references_is_refused() {
    let mut p = parser();
    let header = inter_frame_header().bytes();
    let mut s = obu(3, &header);
    s.extend(obu(4, &[0, 29, 0]));
    assert!(matches!(p.tiles(&s), Err(Av1Error::Unsupported(_))));
}

#[test]
fn cut_short_or_malformed_samples_are_errors_never_panics() {
    let (sample, range) = key_sample(&[9; 64]);
    let header = key_frame_header().bytes().len();
    for cut in 0..sample.len() {
        let r = parser().tiles(&sample[..cut]);
        // Inside the Frame OBU (its size field says more): an error.
        if cut > range.start - header - 2 {
            assert!(r.is_err(), "cut at {cut}");
        }
    }
    let mut p = parser();
    assert!(matches!(p.tiles(&[0x80, 0]), Err(Av1Error::Malformed(_))));
    // A frame before any sequence header.
    let mut p = Av1Parser::new(None);
    let mut s = obu(6, &key_frame_header().bytes());
    s.extend([0; 20]);
    assert!(p.tiles(&s).is_err());
    // Random bytes and mutations: no panic.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (good, _) = key_sample(&[3; 80]);
    for round in 0..20_000 {
        let mut p = parser();
        let data: Vec<u8> = if round % 2 == 0 {
            (0..next() % 120).map(|_| next() as u8).collect()
        } else {
            let mut v = good.clone();
            for _ in 0..1 + next() % 4 {
                let i = next() as usize % v.len();
                v[i] ^= 1 << (next() % 8);
            }
            v
        };
        if let Ok(tiles) = p.tiles(&data) {
            assert!(tiles
                .iter()
                .all(|t| t.start <= t.end && t.end <= data.len()));
        }
        let _ = SequenceHeader::from_av1c(&data);
    }
}

#[test]
fn av1c_is_found_in_the_sample_entry() {
    let mut entry = vec![0u8; 8 + 78];
    entry.extend([0, 0, 0, 16]);
    entry.extend(b"pasp");
    entry.extend([0, 0, 0, 1, 0, 0, 0, 1]);
    entry.extend([0, 0, 0, 12]);
    entry.extend(b"av1C");
    entry.extend([0x81, 0, 0x0c, 0]);
    assert_eq!(av1c_of_sample_entry(&entry), Some(&[0x81, 0, 0x0c, 0][..]));
    assert_eq!(av1c_of_sample_entry(&entry[..100]), None);
}

/// A child box whose size is near 4 GiB: on wasm32 (32-bit `usize`)
/// `at + size` wrapped, back to the start of the entry: a slice panic for
/// an `av1C`, and for another type a walk in a circle (86 → 78 → 86 …,
/// the box "at 78" being compressorname bytes). Both must be `None`. The
/// sizes are chosen to wrap exactly on a 32-bit target (`cargo miri test
/// --target i686-unknown-linux-gnu`); on 64 bits they are simply too big.
#[test]
fn av1c_walk_refuses_a_box_size_that_wraps_on_32_bits() {
    // 86 + (2^32 - 8) wraps to 78; the 8 bytes at 78 are a box of 8.
    let mut entry = vec![0u8; 8 + 78];
    entry[78..82].copy_from_slice(&[0, 0, 0, 8]);
    entry.extend(0xFFFF_FFF8u32.to_be_bytes());
    entry.extend(b"free");
    assert_eq!(av1c_of_sample_entry(&entry), None);
    // An `av1C` whose end wraps to before its start.
    let mut entry = vec![0u8; 8 + 78];
    entry.extend(0xFFFF_FFF0u32.to_be_bytes());
    entry.extend(b"av1C");
    entry.extend([0x81, 0, 0x0c, 0]);
    assert_eq!(av1c_of_sample_entry(&entry), None);
}
