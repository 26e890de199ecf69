//! Where the tile data of an AV1 sample is, for Common Encryption (AV1
//! Codec ISO Media File Format Binding §7, "Common Encryption": OBU
//! headers, `obu_size`, temporal delimiters, sequence headers, frame
//! headers, metadata and padding stay clear; in Frame and Tile Group OBUs
//! only the `decode_tile()` bytes of each tile are protected).
//!
//! Finding the tiles needs the whole uncompressed frame header (AV1
//! bitstream spec §5.9, read with the sequence header of §5.5): the tile
//! info (§5.9.15) comes after the frame size, quantizer, segmentation and
//! loop filter fields, and the header's length depends on all of them —
//! and, through `frame_size_with_refs()` (§5.9.7), `skip_mode_params()`
//! (§5.9.22) and segmentation data loaded from a reference (§7.20), on
//! the reference frames. [`Av1Parser`] therefore walks the samples of a
//! segment in decode order from its first (a sync sample: a shown key
//! frame, AV1 ISOBMFF §2.4, which refreshes every reference) and keeps
//! what later headers read of the eight reference slots (§7.20, the
//! reference frame update process).
//!
//! Every count is bounded by its field width (tiles ≤ 64 × 64, §A.3), a
//! read past an OBU is [`Av1Error::Truncated`], and anything not
//! followed — scalable streams (`operating_point_idc[0]` ≠ 0),
//! `frame_refs_short_signaling`, tile list OBUs, a reference slot never
//! filled — is an error, so a segment answers 501/502 rather than a
//! wrong subsample map.

use super::bits::Bits;
use std::fmt;
use std::ops::Range;

const OBU_SEQUENCE_HEADER: u32 = 1;
const OBU_TEMPORAL_DELIMITER: u32 = 2;
const OBU_FRAME_HEADER: u32 = 3;
const OBU_TILE_GROUP: u32 = 4;
const OBU_METADATA: u32 = 5;
const OBU_FRAME: u32 = 6;
const OBU_REDUNDANT_FRAME_HEADER: u32 = 7;
const OBU_TILE_LIST: u32 = 8;
const OBU_PADDING: u32 = 15;

const KEY_FRAME: u32 = 0;
const INTER_FRAME: u32 = 1;
const INTRA_ONLY_FRAME: u32 = 2;
const SWITCH_FRAME: u32 = 3;

const NUM_REF_FRAMES: usize = 8;
const REFS_PER_FRAME: usize = 7;
const PRIMARY_REF_NONE: u32 = 7;
const ALL_FRAMES: u32 = 255;
const SELECT: u32 = 2;
const MAX_TILE_WIDTH: u32 = 4096;
const MAX_TILE_AREA: u32 = 4096 * 2304;
const MAX_TILE_COLS: u32 = 64;
const MAX_TILE_ROWS: u32 = 64;
/// Tiles listed for one sample: one frame's most (64 × 64, §A.3); a
/// `senc` entry holds 41 subsamples anyway.
const MAX_SAMPLE_TILES: usize = 4096;
const SUPERRES_NUM: u32 = 8;
const SUPERRES_DENOM_MIN: u32 = 9;
const SUPERRES_DENOM_BITS: usize = 3;
/// Segmentation feature widths, signedness and limits (§5.9.14).
const SEG_FEATURE_BITS: [usize; 8] = [8, 6, 6, 6, 6, 3, 0, 0];
const SEG_FEATURE_SIGNED: [bool; 8] = [true, true, true, true, true, false, false, false];
const SEG_FEATURE_MAX: [i32; 8] = [255, 63, 63, 63, 63, 7, 0, 0];
/// Global motion (§5.9.24, §7.11.3.6 constants).
const GM_ABS_ALPHA_BITS: u32 = 12;
const GM_ABS_TRANS_ONLY_BITS: u32 = 9;
const GM_ABS_TRANS_BITS: u32 = 12;
const IDENTITY: u32 = 0;
const TRANSLATION: u32 = 1;
const ROTZOOM: u32 = 2;
const AFFINE: u32 = 3;

/// Why an AV1 sample's tiles cannot be located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Av1Error {
    /// A structure runs past its OBU or the sample.
    Truncated(&'static str),
    /// A value the spec forbids.
    Malformed(&'static str),
    /// A feature this reader does not follow.
    Unsupported(&'static str),
}

impl fmt::Display for Av1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Av1Error::Truncated(w) => write!(f, "AV1 {w} cut short"),
            Av1Error::Malformed(w) => write!(f, "malformed AV1 {w}"),
            Av1Error::Unsupported(w) => write!(f, "AV1 {w} is not supported"),
        }
    }
}

type R<T> = Result<T, Av1Error>;

/// Reads `n` bits of structure `what`.
fn f(r: &mut Bits<'_>, n: usize, what: &'static str) -> R<u32> {
    if n > 32 {
        return Err(Av1Error::Malformed(what));
    }
    r.read(n).ok_or(Av1Error::Truncated(what))
}

fn flag(r: &mut Bits<'_>, what: &'static str) -> R<bool> {
    Ok(f(r, 1, what)? == 1)
}

/// `su(n)` (§4.10.6).
fn su(r: &mut Bits<'_>, n: usize, what: &'static str) -> R<i32> {
    let v = f(r, n, what)? as i64;
    let sign = 1i64 << (n - 1);
    Ok(if v & sign != 0 { v - 2 * sign } else { v } as i32)
}

/// `ns(n)` (§4.10.7).
fn ns(r: &mut Bits<'_>, n: u32, what: &'static str) -> R<u32> {
    if n == 0 {
        return Err(Av1Error::Malformed(what));
    }
    let w = 32 - n.leading_zeros(); // FloorLog2(n) + 1
    let m = (1u64 << w) - u64::from(n);
    let v = u64::from(f(r, w as usize - 1, what)?);
    if v < m {
        return Ok(v as u32);
    }
    let extra = u64::from(f(r, 1, what)?);
    Ok(((v << 1) - m + extra) as u32)
}

/// `uvlc()` (§4.10.3).
fn uvlc(r: &mut Bits<'_>, what: &'static str) -> R<()> {
    let mut zeros = 0;
    while !flag(r, what)? {
        zeros += 1;
        if zeros >= 32 {
            return Err(Av1Error::Malformed(what));
        }
    }
    f(r, zeros, what).map(|_| ())
}

/// `leb128()` (§4.10.5) at `data[*at..]`: at most 8 bytes, a value that
/// fits a u32 (an `obu_size` within a sample).
fn leb128(data: &[u8], at: &mut usize) -> R<usize> {
    let mut value = 0u64;
    for i in 0..8 {
        let b = *data.get(*at).ok_or(Av1Error::Truncated("obu_size"))?;
        *at += 1;
        value |= u64::from(b & 0x7f) << (i * 7);
        if b & 0x80 == 0 {
            return usize::try_from(value)
                .ok()
                .filter(|&v| v <= u32::MAX as usize)
                .ok_or(Av1Error::Malformed("obu_size"));
        }
    }
    Err(Av1Error::Malformed("obu_size"))
}

/// The body of the `av1C` box of an `av01` sample entry (the whole box,
/// header included: [`crate::model::TrackInfo::sample_entry`]), found
/// among the children after the VisualSampleEntry fields (ISO/IEC
/// 14496-12 §12.1.3: 8 + 78 bytes).
pub fn av1c_of_sample_entry(entry: &[u8]) -> Option<&[u8]> {
    let mut at = 8 + 78;
    while at + 8 <= entry.len() {
        let size = u32::from_be_bytes(entry[at..at + 4].try_into().ok()?) as usize;
        if size < 8 || at + size > entry.len() {
            return None;
        }
        if &entry[at + 4..at + 8] == b"av1C" {
            return Some(&entry[at + 8..at + size]);
        }
        at += size;
    }
    None
}

/// What frame headers read of a sequence header (§5.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SequenceHeader {
    reduced_still_picture_header: bool,
    decoder_model_info_present: bool,
    equal_picture_interval: bool,
    buffer_removal_time_length: usize,
    frame_presentation_time_length: usize,
    /// `operating_point_idc` and `decoder_model_present_for_this_op`.
    operating_points: Vec<(u32, bool)>,
    frame_width_bits: usize,
    frame_height_bits: usize,
    max_frame_width: u32,
    max_frame_height: u32,
    frame_id_numbers_present: bool,
    delta_frame_id_length: usize,
    frame_id_length: usize,
    use_128x128_superblock: bool,
    enable_warped_motion: bool,
    enable_order_hint: bool,
    enable_ref_frame_mvs: bool,
    seq_force_screen_content_tools: u32,
    seq_force_integer_mv: u32,
    order_hint_bits: usize,
    enable_superres: bool,
    enable_cdef: bool,
    enable_restoration: bool,
    mono_chrome: bool,
    subsampling_x: bool,
    subsampling_y: bool,
    separate_uv_delta_q: bool,
    film_grain_params_present: bool,
}

impl SequenceHeader {
    /// The sequence header OBU among the `configOBUs` of an `av1C` box
    /// body (AV1 ISOBMFF §2.3.3), if there is one.
    pub fn from_av1c(av1c: &[u8]) -> R<Option<SequenceHeader>> {
        let obus = av1c.get(4..).unwrap_or_default();
        let mut seq = None;
        for obu in Obus::new(obus) {
            let obu = obu?;
            if obu.kind == OBU_SEQUENCE_HEADER {
                seq = Some(parse_sequence_header(&obus[obu.payload])?);
            }
        }
        Ok(seq)
    }

    fn num_planes(&self) -> u32 {
        if self.mono_chrome {
            1
        } else {
            3
        }
    }
}

/// `sequence_header_obu()` (§5.5.1).
fn parse_sequence_header(payload: &[u8]) -> R<SequenceHeader> {
    const W: &str = "sequence header";
    let r = &mut Bits::new(payload);
    let mut s = SequenceHeader::default();
    let profile = f(r, 3, W)?;
    if profile > 2 {
        return Err(Av1Error::Malformed(W));
    }
    flag(r, W)?; // still_picture
    s.reduced_still_picture_header = flag(r, W)?;
    if s.reduced_still_picture_header {
        f(r, 5, W)?; // seq_level_idx[0]
        s.operating_points.push((0, false));
    } else {
        let mut buffer_delay_length = 0;
        if flag(r, W)? {
            // timing_info() (§5.5.3)
            f(r, 32, W)?;
            f(r, 32, W)?;
            s.equal_picture_interval = flag(r, W)?;
            if s.equal_picture_interval {
                uvlc(r, W)?;
            }
            s.decoder_model_info_present = flag(r, W)?;
            if s.decoder_model_info_present {
                // decoder_model_info() (§5.5.4)
                buffer_delay_length = f(r, 5, W)? as usize + 1;
                f(r, 32, W)?;
                s.buffer_removal_time_length = f(r, 5, W)? as usize + 1;
                s.frame_presentation_time_length = f(r, 5, W)? as usize + 1;
            }
        }
        let initial_display_delay = flag(r, W)?;
        let count = f(r, 5, W)? + 1;
        for _ in 0..count {
            let idc = f(r, 12, W)?;
            if f(r, 5, W)? > 7 {
                flag(r, W)?; // seq_tier
            }
            let mut model = false;
            if s.decoder_model_info_present {
                model = flag(r, W)?;
                if model {
                    f(r, buffer_delay_length, W)?;
                    f(r, buffer_delay_length, W)?;
                    flag(r, W)?;
                }
            }
            if initial_display_delay && flag(r, W)? {
                f(r, 4, W)?;
            }
            s.operating_points.push((idc, model));
        }
    }
    if s.operating_points[0].0 != 0 {
        return Err(Av1Error::Unsupported(
            "scalable stream (operating_point_idc)",
        ));
    }
    s.frame_width_bits = f(r, 4, W)? as usize + 1;
    s.frame_height_bits = f(r, 4, W)? as usize + 1;
    s.max_frame_width = f(r, s.frame_width_bits, W)? + 1;
    s.max_frame_height = f(r, s.frame_height_bits, W)? + 1;
    if !s.reduced_still_picture_header {
        s.frame_id_numbers_present = flag(r, W)?;
    }
    if s.frame_id_numbers_present {
        let delta = f(r, 4, W)? as usize + 2;
        let additional = f(r, 3, W)? as usize + 1;
        s.delta_frame_id_length = delta;
        s.frame_id_length = additional + delta;
    }
    s.use_128x128_superblock = flag(r, W)?;
    f(r, 2, W)?; // enable_filter_intra, enable_intra_edge_filter
    s.seq_force_screen_content_tools = SELECT;
    s.seq_force_integer_mv = SELECT;
    if !s.reduced_still_picture_header {
        f(r, 2, W)?; // enable_interintra_compound, enable_masked_compound
        s.enable_warped_motion = flag(r, W)?;
        flag(r, W)?; // enable_dual_filter
        s.enable_order_hint = flag(r, W)?;
        if s.enable_order_hint {
            flag(r, W)?; // enable_jnt_comp
            s.enable_ref_frame_mvs = flag(r, W)?;
        }
        if !flag(r, W)? {
            // !seq_choose_screen_content_tools
            s.seq_force_screen_content_tools = f(r, 1, W)?;
        }
        if s.seq_force_screen_content_tools > 0 && !flag(r, W)? {
            // !seq_choose_integer_mv
            s.seq_force_integer_mv = f(r, 1, W)?;
        }
        if s.enable_order_hint {
            s.order_hint_bits = f(r, 3, W)? as usize + 1;
        }
    }
    s.enable_superres = flag(r, W)?;
    s.enable_cdef = flag(r, W)?;
    s.enable_restoration = flag(r, W)?;
    // color_config() (§5.5.2)
    let high_bitdepth = flag(r, W)?;
    let twelve_bit = profile == 2 && high_bitdepth && flag(r, W)?;
    s.mono_chrome = profile != 1 && flag(r, W)?;
    let (mut cp, mut tc, mut mc) = (2, 2, 2);
    if flag(r, W)? {
        cp = f(r, 8, W)?;
        tc = f(r, 8, W)?;
        mc = f(r, 8, W)?;
    }
    if s.mono_chrome {
        flag(r, W)?; // color_range
        s.subsampling_x = true;
        s.subsampling_y = true;
    } else {
        if cp == 1 && tc == 13 && mc == 0 {
            // sRGB: full range 4:4:4, nothing coded.
        } else {
            flag(r, W)?; // color_range
            match profile {
                0 => (s.subsampling_x, s.subsampling_y) = (true, true),
                1 => {}
                _ if twelve_bit => {
                    s.subsampling_x = flag(r, W)?;
                    s.subsampling_y = s.subsampling_x && flag(r, W)?;
                }
                _ => s.subsampling_x = true,
            }
            if s.subsampling_x && s.subsampling_y {
                f(r, 2, W)?; // chroma_sample_position
            }
        }
        s.separate_uv_delta_q = flag(r, W)?;
    }
    s.film_grain_params_present = flag(r, W)?;
    Ok(s)
}

/// One OBU of a sample: its type and its payload's place.
#[derive(Clone, Debug)]
struct Obu {
    kind: u32,
    temporal_id: u32,
    spatial_id: u32,
    payload: Range<usize>,
}

/// The OBUs of `data` (`obu_size` present, or the rest of the data).
struct Obus<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Obus<'a> {
    fn new(data: &'a [u8]) -> Obus<'a> {
        Obus { data, at: 0 }
    }

    fn next_obu(&mut self) -> R<Obu> {
        let d = self.data;
        let h = d[self.at];
        if h & 0x80 != 0 {
            return Err(Av1Error::Malformed("obu_forbidden_bit"));
        }
        let kind = u32::from((h >> 3) & 15);
        let (extension, has_size) = (h & 4 != 0, h & 2 != 0);
        let mut at = self.at + 1;
        let (mut temporal_id, mut spatial_id) = (0, 0);
        if extension {
            let e = *d
                .get(at)
                .ok_or(Av1Error::Truncated("obu_extension_header"))?;
            temporal_id = u32::from(e >> 5);
            spatial_id = u32::from((e >> 3) & 3);
            at += 1;
        }
        let size = if has_size {
            leb128(d, &mut at)?
        } else {
            d.len().saturating_sub(at)
        };
        let end = at
            .checked_add(size)
            .filter(|&e| e <= d.len())
            .ok_or(Av1Error::Truncated("OBU"))?;
        self.at = end;
        Ok(Obu {
            kind,
            temporal_id,
            spatial_id,
            payload: at..end,
        })
    }
}

impl Iterator for Obus<'_> {
    type Item = R<Obu>;

    fn next(&mut self) -> Option<R<Obu>> {
        if self.at >= self.data.len() {
            return None;
        }
        let r = self.next_obu();
        if r.is_err() {
            self.at = self.data.len();
        }
        Some(r)
    }
}

/// What later frame headers read of a reference slot (§7.20).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RefSlot {
    valid: bool,
    frame_type: u32,
    order_hint: u32,
    upscaled_width: u32,
    frame_width: u32,
    frame_height: u32,
    render_width: u32,
    render_height: u32,
    /// The segmentation `SEG_LVL_ALT_Q` data per segment (`None`: the
    /// feature off), which a frame loading its segmentation from this
    /// slot needs to know whether it is lossless (§5.9.12).
    alt_q: [Option<i32>; 8],
}

/// The parts of a frame header that decide the tile layout and the
/// reference update.
#[derive(Clone, Debug, Default)]
struct FrameHeader {
    show_existing_frame: bool,
    frame_to_show: usize,
    slot: RefSlot,
    refresh_frame_flags: u32,
    /// The reference slots as this header leaves them before the
    /// update (a shown key frame invalidates them all; error resilient
    /// frames may reset some, §5.9.2).
    refs: [RefSlot; NUM_REF_FRAMES],
    tile_cols_log2: u32,
    tile_rows_log2: u32,
    num_tiles: u32,
    tile_size_bytes: usize,
}

/// Walks the samples of an AV1 track in decode order and gives each
/// one's tile data ranges.
#[derive(Clone, Debug)]
pub struct Av1Parser {
    seq: Option<SequenceHeader>,
    refs: [RefSlot; NUM_REF_FRAMES],
    /// A frame header whose tiles are still to come (`SeenFrameHeader`).
    frame: Option<FrameHeader>,
}

impl Av1Parser {
    /// With the sequence header of the sample entry's `av1C`, if any (the
    /// samples may carry it too).
    pub fn new(seq: Option<SequenceHeader>) -> Av1Parser {
        Av1Parser {
            seq,
            refs: [RefSlot::default(); NUM_REF_FRAMES],
            frame: None,
        }
    }

    /// The byte ranges of `sample` holding `decode_tile()` data (each
    /// tile's own range, in order); every other byte stays clear.
    pub fn tiles(&mut self, sample: &[u8]) -> R<Vec<Range<usize>>> {
        // A sample is a temporal unit whose temporal delimiter was left
        // out (AV1 ISOBMFF §2.4): it starts with no frame header seen.
        self.frame = None;
        let mut out = Vec::new();
        for obu in Obus::new(sample) {
            let obu = obu?;
            let payload = &sample[obu.payload.clone()];
            match obu.kind {
                OBU_SEQUENCE_HEADER => self.seq = Some(parse_sequence_header(payload)?),
                OBU_TEMPORAL_DELIMITER => self.frame = None,
                OBU_FRAME_HEADER | OBU_REDUNDANT_FRAME_HEADER if self.frame.is_some() => {
                    // frame_header_copy(): the same header again.
                }
                OBU_FRAME_HEADER | OBU_REDUNDANT_FRAME_HEADER | OBU_FRAME => {
                    let r = &mut Bits::new(payload);
                    let header = self.frame_header(r, &obu)?;
                    if header.show_existing_frame {
                        if obu.kind == OBU_FRAME {
                            return Err(Av1Error::Malformed("frame OBU showing an existing frame"));
                        }
                        self.show_existing(&header);
                        continue;
                    }
                    self.frame = Some(header);
                    if obu.kind == OBU_FRAME {
                        // byte_alignment() then the tile group.
                        let at = r.position().div_ceil(8);
                        self.tile_group(sample, obu.payload.start + at..obu.payload.end, &mut out)?;
                    }
                }
                OBU_TILE_GROUP => self.tile_group(sample, obu.payload.clone(), &mut out)?,
                OBU_METADATA | OBU_PADDING => {}
                OBU_TILE_LIST => return Err(Av1Error::Unsupported("tile list OBU")),
                _ => {} // reserved: ignored (§6.2.2)
            }
        }
        Ok(out)
    }

    /// `tile_group_obu(sz)` (§5.11.1) over `data[range]`: the tiles'
    /// ranges pushed to `out`; the last tile group of the frame updates
    /// the references.
    fn tile_group(
        &mut self,
        data: &[u8],
        range: Range<usize>,
        out: &mut Vec<Range<usize>>,
    ) -> R<()> {
        const W: &str = "tile group";
        let fh = self
            .frame
            .as_ref()
            .ok_or(Av1Error::Malformed("tile group without a frame header"))?;
        let r = &mut Bits::new(&data[range.clone()]);
        let (mut start, mut end) = (0, fh.num_tiles - 1);
        if fh.num_tiles > 1 && flag(r, W)? {
            let bits = (fh.tile_cols_log2 + fh.tile_rows_log2) as usize;
            start = f(r, bits, W)?;
            end = f(r, bits, W)?;
        }
        if start > end || end >= fh.num_tiles {
            return Err(Av1Error::Malformed(W));
        }
        let mut at = range.start + r.position().div_ceil(8);
        for tile in start..=end {
            let size = if tile == end {
                range.end.checked_sub(at).ok_or(Av1Error::Truncated(W))?
            } else {
                // tile_size_minus_1: le(TileSizeBytes)
                let n = fh.tile_size_bytes;
                let bytes = data
                    .get(at..at + n)
                    .filter(|_| at + n <= range.end)
                    .ok_or(Av1Error::Truncated(W))?;
                at += n;
                let v = bytes
                    .iter()
                    .rev()
                    .fold(0u64, |a, &b| (a << 8) | u64::from(b));
                usize::try_from(v + 1).map_err(|_| Av1Error::Malformed(W))?
            };
            let tile_end = at
                .checked_add(size)
                .filter(|&e| e <= range.end)
                .ok_or(Av1Error::Truncated(W))?;
            if out.len() >= MAX_SAMPLE_TILES {
                return Err(Av1Error::Unsupported("more than 4096 tiles in a sample"));
            }
            out.push(at..tile_end);
            at = tile_end;
        }
        if end == fh.num_tiles - 1 {
            if let Some(fh) = self.frame.take() {
                self.refs = fh.refs;
                self.update_refs(fh.refresh_frame_flags, fh.slot);
            }
        }
        Ok(())
    }

    /// The reference frame update process (§7.20).
    fn update_refs(&mut self, refresh: u32, slot: RefSlot) {
        for (i, r) in self.refs.iter_mut().enumerate() {
            if refresh >> i & 1 == 1 {
                *r = RefSlot {
                    valid: true,
                    ..slot
                };
            }
        }
    }

    /// `show_existing_frame`: a key frame shown again refreshes every
    /// slot with it (§7.21).
    fn show_existing(&mut self, fh: &FrameHeader) {
        let slot = self.refs[fh.frame_to_show];
        if slot.frame_type == KEY_FRAME {
            self.update_refs(ALL_FRAMES, slot);
        }
        self.frame = None;
    }

    fn slot(&self, i: usize) -> R<RefSlot> {
        let s = self.refs[i];
        if s.valid {
            Ok(s)
        } else {
            Err(Av1Error::Unsupported(
                "a reference to a frame before the segment",
            ))
        }
    }

    /// `uncompressed_header()` (§5.9.2).
    fn frame_header(&self, r: &mut Bits<'_>, obu: &Obu) -> R<FrameHeader> {
        const W: &str = "frame header";
        let seq = self
            .seq
            .as_ref()
            .ok_or(Av1Error::Malformed("frame before any sequence header"))?;
        let mut fh = FrameHeader::default();
        let (frame_type, show_frame, showable_frame, error_resilient);
        if seq.reduced_still_picture_header {
            (frame_type, show_frame, showable_frame, error_resilient) =
                (KEY_FRAME, true, false, true);
        } else {
            if flag(r, W)? {
                // show_existing_frame
                fh.show_existing_frame = true;
                fh.frame_to_show = f(r, 3, W)? as usize;
                if seq.decoder_model_info_present && !seq.equal_picture_interval {
                    f(r, seq.frame_presentation_time_length, W)?;
                }
                if seq.frame_id_numbers_present {
                    f(r, seq.frame_id_length, W)?;
                }
                self.slot(fh.frame_to_show)?;
                return Ok(fh);
            }
            frame_type = f(r, 2, W)?;
            show_frame = flag(r, W)?;
            if show_frame && seq.decoder_model_info_present && !seq.equal_picture_interval {
                f(r, seq.frame_presentation_time_length, W)?; // temporal_point_info
            }
            showable_frame = if show_frame {
                frame_type != KEY_FRAME
            } else {
                flag(r, W)?
            };
            error_resilient =
                if frame_type == SWITCH_FRAME || (frame_type == KEY_FRAME && show_frame) {
                    true
                } else {
                    flag(r, W)?
                };
        }
        let mut refs = self.refs;
        if frame_type == KEY_FRAME && show_frame {
            for s in refs.iter_mut() {
                s.valid = false;
                s.order_hint = 0;
            }
        }
        let intra = frame_type == INTRA_ONLY_FRAME || frame_type == KEY_FRAME;
        let disable_cdf_update = flag(r, W)?;
        let screen_content = if seq.seq_force_screen_content_tools == SELECT {
            flag(r, W)?
        } else {
            seq.seq_force_screen_content_tools == 1
        };
        let mut force_integer_mv = false;
        if screen_content {
            force_integer_mv = if seq.seq_force_integer_mv == SELECT {
                flag(r, W)?
            } else {
                seq.seq_force_integer_mv == 1
            };
        }
        if intra {
            force_integer_mv = true;
        }
        if seq.frame_id_numbers_present {
            f(r, seq.frame_id_length, W)?; // current_frame_id
        }
        let frame_size_override = if frame_type == SWITCH_FRAME {
            true
        } else if seq.reduced_still_picture_header {
            false
        } else {
            flag(r, W)?
        };
        let order_hint = f(r, seq.order_hint_bits, W)?;
        let primary_ref_frame = if intra || error_resilient {
            PRIMARY_REF_NONE
        } else {
            f(r, 3, W)?
        };
        if seq.decoder_model_info_present && flag(r, W)? {
            // buffer_removal_time_present_flag
            for &(idc, model) in &seq.operating_points {
                let in_temporal = idc >> obu.temporal_id & 1 == 1;
                let in_spatial = idc >> (obu.spatial_id + 8) & 1 == 1;
                if model && (idc == 0 || (in_temporal && in_spatial)) {
                    f(r, seq.buffer_removal_time_length, W)?;
                }
            }
        }
        let refresh = if frame_type == SWITCH_FRAME || (frame_type == KEY_FRAME && show_frame) {
            ALL_FRAMES
        } else {
            f(r, 8, W)?
        };
        if (!intra || refresh != ALL_FRAMES) && error_resilient && seq.enable_order_hint {
            for s in refs.iter_mut() {
                let hint = f(r, seq.order_hint_bits, W)?;
                if hint != s.order_hint || !s.valid {
                    *s = RefSlot {
                        order_hint: hint,
                        ..RefSlot::default()
                    };
                }
            }
        }
        let mut size = FrameSize::default();
        let mut allow_intrabc = false;
        let mut ref_frame_idx = [0usize; REFS_PER_FRAME];
        let mut allow_high_precision_mv = false;
        if intra {
            size = frame_size(r, seq, frame_size_override)?;
            render_size(r, &mut size)?;
            if screen_content && size.upscaled_width == size.frame_width {
                allow_intrabc = flag(r, W)?;
            }
        } else {
            if seq.enable_order_hint && flag(r, W)? {
                return Err(Av1Error::Unsupported("frame_refs_short_signaling"));
            }
            for idx in ref_frame_idx.iter_mut() {
                *idx = f(r, 3, W)? as usize;
                if seq.frame_id_numbers_present {
                    f(r, seq.delta_frame_id_length, W)?;
                }
            }
            let mut found = false;
            if frame_size_override && !error_resilient {
                // frame_size_with_refs() (§5.9.7)
                for &idx in &ref_frame_idx {
                    if flag(r, W)? {
                        let s = slot_of(&refs, idx)?;
                        size.upscaled_width = s.upscaled_width;
                        size.frame_width = s.upscaled_width;
                        size.frame_height = s.frame_height;
                        size.render_width = s.render_width;
                        size.render_height = s.render_height;
                        superres_params(r, seq, &mut size)?;
                        found = true;
                        break;
                    }
                }
            }
            if !found {
                size = frame_size(r, seq, frame_size_override)?;
                render_size(r, &mut size)?;
            }
            allow_high_precision_mv = !force_integer_mv && flag(r, W)?;
            if !flag(r, W)? {
                f(r, 2, W)?; // interpolation_filter
            }
            flag(r, W)?; // is_motion_mode_switchable
            if !error_resilient && seq.enable_ref_frame_mvs {
                flag(r, W)?; // use_ref_frame_mvs
            }
        }
        if !(seq.reduced_still_picture_header || disable_cdf_update) {
            flag(r, W)?; // disable_frame_end_update_cdf
        }
        // tile_info() (§5.9.15)
        let tiles = tile_info(r, seq, &size)?;
        // quantization_params() (§5.9.12)
        let base_q_idx = f(r, 8, W)?;
        let mut deltas_zero = read_delta_q(r)? == 0;
        if seq.num_planes() > 1 {
            let diff_uv_delta = seq.separate_uv_delta_q && flag(r, W)?;
            deltas_zero &= read_delta_q(r)? == 0;
            deltas_zero &= read_delta_q(r)? == 0;
            if diff_uv_delta {
                deltas_zero &= read_delta_q(r)? == 0;
                deltas_zero &= read_delta_q(r)? == 0;
            }
        }
        if flag(r, W)? {
            // using_qmatrix
            f(r, 8, W)?;
            if seq.separate_uv_delta_q {
                f(r, 4, W)?;
            }
        }
        // segmentation_params() (§5.9.14)
        let mut alt_q = [None; 8];
        let segmentation = flag(r, W)?;
        if segmentation {
            let update_data = if primary_ref_frame == PRIMARY_REF_NONE {
                true
            } else {
                if flag(r, W)? {
                    flag(r, W)?; // segmentation_temporal_update
                }
                flag(r, W)?
            };
            if update_data {
                for q in alt_q.iter_mut() {
                    for j in 0..8 {
                        if !flag(r, W)? {
                            continue;
                        }
                        let bits = SEG_FEATURE_BITS[j];
                        let v = if SEG_FEATURE_SIGNED[j] {
                            su(r, bits + 1, W)?.clamp(-SEG_FEATURE_MAX[j], SEG_FEATURE_MAX[j])
                        } else {
                            (f(r, bits, W)? as i32).min(SEG_FEATURE_MAX[j])
                        };
                        if j == 0 {
                            *q = Some(v);
                        }
                    }
                }
            } else {
                let idx = ref_frame_idx[primary_ref_frame as usize];
                alt_q = slot_of(&refs, idx)?.alt_q;
            }
        }
        // delta_q_params(), delta_lf_params() (§5.9.17, §5.9.18)
        let mut delta_q_present = false;
        if base_q_idx > 0 {
            delta_q_present = flag(r, W)?;
        }
        if delta_q_present {
            f(r, 2, W)?;
            if !allow_intrabc && flag(r, W)? {
                f(r, 3, W)?; // delta_lf_res, delta_lf_multi
            }
        }
        // CodedLossless (§5.9.2): every segment's qindex 0, no deltas.
        let coded_lossless = deltas_zero
            && (0..8).all(|s| {
                let q = match alt_q[s] {
                    Some(d) if segmentation => (base_q_idx as i32 + d).clamp(0, 255),
                    _ => base_q_idx as i32,
                };
                q == 0
            });
        let all_lossless = coded_lossless && size.frame_width == size.upscaled_width;
        // loop_filter_params() (§5.9.11)
        if !(coded_lossless || allow_intrabc) {
            let l0 = f(r, 6, W)?;
            let l1 = f(r, 6, W)?;
            if seq.num_planes() > 1 && (l0 != 0 || l1 != 0) {
                f(r, 12, W)?;
            }
            f(r, 3, W)?; // loop_filter_sharpness
            if flag(r, W)? && flag(r, W)? {
                // delta enabled and updated: 8 ref deltas, 2 mode deltas.
                for _ in 0..10 {
                    if flag(r, W)? {
                        f(r, 7, W)?;
                    }
                }
            }
        }
        // cdef_params() (§5.9.19)
        if !(coded_lossless || allow_intrabc) && seq.enable_cdef {
            f(r, 2, W)?; // cdef_damping_minus_3
            let bits = f(r, 2, W)?;
            let per = if seq.num_planes() > 1 { 12 } else { 6 };
            for _ in 0..1u32 << bits {
                f(r, per, W)?;
            }
        }
        // lr_params() (§5.9.20)
        if !(all_lossless || allow_intrabc) && seq.enable_restoration {
            let (mut uses_lr, mut uses_chroma_lr) = (false, false);
            for i in 0..seq.num_planes() {
                if f(r, 2, W)? != 0 {
                    uses_lr = true;
                    uses_chroma_lr |= i > 0;
                }
            }
            if uses_lr {
                // lr_unit_shift, then lr_unit_extra_shift with 64×64
                // superblocks when the shift is set.
                if flag(r, W)? && !seq.use_128x128_superblock {
                    flag(r, W)?;
                }
                if seq.subsampling_x && seq.subsampling_y && uses_chroma_lr {
                    flag(r, W)?;
                }
            }
        }
        // read_tx_mode() (§5.9.21)
        if !coded_lossless {
            flag(r, W)?;
        }
        // frame_reference_mode() (§5.9.23)
        let reference_select = !intra && flag(r, W)?;
        // skip_mode_params() (§5.9.22)
        if !intra && reference_select && seq.enable_order_hint {
            let mut hints = [0u32; REFS_PER_FRAME];
            for (h, &idx) in hints.iter_mut().zip(&ref_frame_idx) {
                *h = slot_of(&refs, idx)?.order_hint;
            }
            if skip_mode_allowed(seq, order_hint, &hints) {
                flag(r, W)?; // skip_mode_present
            }
        }
        if !(intra || error_resilient || !seq.enable_warped_motion) {
            flag(r, W)?; // allow_warped_motion
        }
        flag(r, W)?; // reduced_tx_set
                     // global_motion_params() (§5.9.24)
        if !intra {
            for _ in 0..REFS_PER_FRAME {
                let kind = if !flag(r, W)? {
                    IDENTITY
                } else if flag(r, W)? {
                    ROTZOOM
                } else if flag(r, W)? {
                    TRANSLATION
                } else {
                    AFFINE
                };
                if kind >= ROTZOOM {
                    let n = if kind == AFFINE { 4 } else { 2 };
                    for _ in 0..n {
                        decode_subexp(r, 2 * (1 << GM_ABS_ALPHA_BITS) + 1)?;
                    }
                }
                if kind >= TRANSLATION {
                    let abs_bits = if kind == TRANSLATION {
                        GM_ABS_TRANS_ONLY_BITS - u32::from(!allow_high_precision_mv)
                    } else {
                        GM_ABS_TRANS_BITS
                    };
                    for _ in 0..2 {
                        decode_subexp(r, 2 * (1 << abs_bits) + 1)?;
                    }
                }
            }
        }
        // film_grain_params() (§5.9.30)
        if seq.film_grain_params_present && (show_frame || showable_frame) && flag(r, W)? {
            film_grain_params(r, seq, frame_type)?;
        }
        fh.slot = RefSlot {
            valid: true,
            frame_type,
            order_hint,
            upscaled_width: size.upscaled_width,
            frame_width: size.frame_width,
            frame_height: size.frame_height,
            render_width: size.render_width,
            render_height: size.render_height,
            alt_q: if segmentation { alt_q } else { [None; 8] },
        };
        fh.refresh_frame_flags = refresh;
        fh.tile_cols_log2 = tiles.cols_log2;
        fh.tile_rows_log2 = tiles.rows_log2;
        fh.num_tiles = tiles.cols * tiles.rows;
        fh.tile_size_bytes = tiles.size_bytes;
        fh.refs = refs;
        Ok(fh)
    }
}

fn slot_of(refs: &[RefSlot; NUM_REF_FRAMES], idx: usize) -> R<RefSlot> {
    let s = refs[idx];
    if s.valid {
        Ok(s)
    } else {
        Err(Av1Error::Unsupported(
            "a reference to a frame before the segment",
        ))
    }
}

/// Frame and render dimensions (§5.9.5 to §5.9.8).
#[derive(Clone, Copy, Debug, Default)]
struct FrameSize {
    upscaled_width: u32,
    frame_width: u32,
    frame_height: u32,
    render_width: u32,
    render_height: u32,
}

impl FrameSize {
    /// `MiCols`, `MiRows` (§5.9.9).
    fn mi(&self) -> (u32, u32) {
        (
            2 * ((self.frame_width + 7) >> 3),
            2 * ((self.frame_height + 7) >> 3),
        )
    }
}

/// `frame_size()` (§5.9.5) with `superres_params()`.
fn frame_size(r: &mut Bits<'_>, seq: &SequenceHeader, override_flag: bool) -> R<FrameSize> {
    let mut s = FrameSize::default();
    if override_flag {
        s.frame_width = f(r, seq.frame_width_bits, "frame size")? + 1;
        s.frame_height = f(r, seq.frame_height_bits, "frame size")? + 1;
    } else {
        s.frame_width = seq.max_frame_width;
        s.frame_height = seq.max_frame_height;
    }
    s.upscaled_width = s.frame_width;
    superres_params(r, seq, &mut s)?;
    Ok(s)
}

/// `superres_params()` (§5.9.8): `FrameWidth` from `UpscaledWidth`.
fn superres_params(r: &mut Bits<'_>, seq: &SequenceHeader, s: &mut FrameSize) -> R<()> {
    let denom = if seq.enable_superres && flag(r, "superres")? {
        f(r, SUPERRES_DENOM_BITS, "superres")? + SUPERRES_DENOM_MIN
    } else {
        SUPERRES_NUM
    };
    s.frame_width = (s.upscaled_width * SUPERRES_NUM + denom / 2) / denom;
    Ok(())
}

/// `render_size()` (§5.9.6).
fn render_size(r: &mut Bits<'_>, s: &mut FrameSize) -> R<()> {
    if flag(r, "render size")? {
        s.render_width = f(r, 16, "render size")? + 1;
        s.render_height = f(r, 16, "render size")? + 1;
    } else {
        s.render_width = s.upscaled_width;
        s.render_height = s.frame_height;
    }
    Ok(())
}

/// `read_delta_q()` (§5.9.13): the delta, 0 when not coded.
fn read_delta_q(r: &mut Bits<'_>) -> R<i32> {
    if flag(r, "delta_q")? {
        su(r, 7, "delta_q")
    } else {
        Ok(0)
    }
}

/// The tile layout (§5.9.15).
struct Tiles {
    cols: u32,
    rows: u32,
    cols_log2: u32,
    rows_log2: u32,
    size_bytes: usize,
}

/// `tile_log2()` (§5.9.16).
fn tile_log2(blk: u32, target: u32) -> u32 {
    let mut k = 0;
    while k < 31 && (u64::from(blk) << k) < u64::from(target) {
        k += 1;
    }
    k
}

/// `tile_info()` (§5.9.15).
fn tile_info(r: &mut Bits<'_>, seq: &SequenceHeader, size: &FrameSize) -> R<Tiles> {
    const W: &str = "tile info";
    let (mi_cols, mi_rows) = size.mi();
    let (sb_cols, sb_rows, sb_shift) = if seq.use_128x128_superblock {
        ((mi_cols + 31) >> 5, (mi_rows + 31) >> 5, 5)
    } else {
        ((mi_cols + 15) >> 4, (mi_rows + 15) >> 4, 4)
    };
    let sb_size = sb_shift + 2;
    let max_tile_width_sb = MAX_TILE_WIDTH >> sb_size;
    let mut max_tile_area_sb = MAX_TILE_AREA >> (2 * sb_size);
    let min_log2_tile_cols = tile_log2(max_tile_width_sb, sb_cols);
    let max_log2_tile_cols = tile_log2(1, sb_cols.min(MAX_TILE_COLS));
    let max_log2_tile_rows = tile_log2(1, sb_rows.min(MAX_TILE_ROWS));
    let min_log2_tiles = min_log2_tile_cols.max(tile_log2(max_tile_area_sb, sb_rows * sb_cols));
    let (cols, rows, cols_log2, rows_log2);
    if flag(r, W)? {
        // uniform_tile_spacing_flag
        let mut cl = min_log2_tile_cols;
        while cl < max_log2_tile_cols && flag(r, W)? {
            cl += 1;
        }
        cols_log2 = cl;
        let tile_width_sb = (sb_cols + (1 << cols_log2) - 1) >> cols_log2;
        cols = sb_cols.div_ceil(tile_width_sb.max(1));
        let mut rl = min_log2_tiles.saturating_sub(cols_log2);
        while rl < max_log2_tile_rows && flag(r, W)? {
            rl += 1;
        }
        rows_log2 = rl;
        let tile_height_sb = (sb_rows + (1 << rows_log2) - 1) >> rows_log2;
        rows = sb_rows.div_ceil(tile_height_sb.max(1));
    } else {
        let (mut widest, mut start, mut i) = (0, 0, 0);
        while start < sb_cols {
            let max_width = (sb_cols - start).min(max_tile_width_sb);
            let w = ns(r, max_width, W)? + 1;
            widest = widest.max(w);
            start += w;
            i += 1;
        }
        cols = i;
        cols_log2 = tile_log2(1, cols);
        if min_log2_tiles > 0 {
            max_tile_area_sb = (sb_rows * sb_cols) >> (min_log2_tiles + 1);
        } else {
            max_tile_area_sb = sb_rows * sb_cols;
        }
        let max_tile_height_sb = (max_tile_area_sb / widest.max(1)).max(1);
        let (mut start, mut i) = (0, 0);
        while start < sb_rows {
            let max_height = (sb_rows - start).min(max_tile_height_sb);
            start += ns(r, max_height, W)? + 1;
            i += 1;
        }
        rows = i;
        rows_log2 = tile_log2(1, rows);
    }
    if cols == 0 || rows == 0 || cols > MAX_TILE_COLS || rows > MAX_TILE_ROWS {
        return Err(Av1Error::Malformed(W));
    }
    let mut size_bytes = 4;
    if cols_log2 > 0 || rows_log2 > 0 {
        f(r, (rows_log2 + cols_log2) as usize, W)?; // context_update_tile_id
        size_bytes = f(r, 2, W)? as usize + 1;
    }
    Ok(Tiles {
        cols,
        rows,
        cols_log2,
        rows_log2,
        size_bytes,
    })
}

/// `get_relative_dist()` (§7.12.3 of the order hints).
fn relative_dist(seq: &SequenceHeader, a: u32, b: u32) -> i64 {
    if !seq.enable_order_hint {
        return 0;
    }
    let diff = i64::from(a) - i64::from(b);
    let m = 1i64 << (seq.order_hint_bits - 1);
    (diff & (m - 1)) - (diff & m)
}

/// `skipModeAllowed` of `skip_mode_params()` (§5.9.22) from the order
/// hints of the frame's seven references.
fn skip_mode_allowed(seq: &SequenceHeader, order_hint: u32, hints: &[u32; REFS_PER_FRAME]) -> bool {
    let (mut forward, mut backward): (Option<u32>, Option<u32>) = (None, None);
    for &h in hints {
        let d = relative_dist(seq, h, order_hint);
        if d < 0 {
            if forward.is_none_or(|fw| relative_dist(seq, h, fw) > 0) {
                forward = Some(h);
            }
        } else if d > 0 && backward.is_none_or(|bw| relative_dist(seq, h, bw) < 0) {
            backward = Some(h);
        }
    }
    let Some(fw) = forward else {
        return false;
    };
    if backward.is_some() {
        return true;
    }
    hints.iter().any(|&h| relative_dist(seq, h, fw) < 0)
}

/// `decode_subexp(numSyms)` (§5.9.28): only its length matters.
fn decode_subexp(r: &mut Bits<'_>, num_syms: u32) -> R<()> {
    const W: &str = "global motion";
    let (mut i, mut mk, k) = (0u32, 0u32, 3u32);
    loop {
        let b2 = if i > 0 { k + i - 1 } else { k };
        if b2 >= 31 {
            return Err(Av1Error::Malformed(W));
        }
        let a = 1u32 << b2;
        if num_syms <= mk + 3 * a {
            ns(r, num_syms - mk, W)?;
            return Ok(());
        }
        if flag(r, W)? {
            i += 1;
            mk += a;
        } else {
            f(r, b2 as usize, W)?;
            return Ok(());
        }
    }
}

/// `film_grain_params()` (§5.9.30) after `apply_grain` = 1.
fn film_grain_params(r: &mut Bits<'_>, seq: &SequenceHeader, frame_type: u32) -> R<()> {
    const W: &str = "film grain";
    f(r, 16, W)?; // grain_seed
    let update_grain = frame_type != INTER_FRAME || flag(r, W)?;
    if !update_grain {
        f(r, 3, W)?; // film_grain_params_ref_idx
        return Ok(());
    }
    let num_y = f(r, 4, W)?;
    for _ in 0..num_y {
        f(r, 16, W)?; // point_y_value, point_y_scaling
    }
    let from_luma = !seq.mono_chrome && flag(r, W)?;
    let (mut num_cb, mut num_cr) = (0, 0);
    if !(seq.mono_chrome || from_luma || (seq.subsampling_x && seq.subsampling_y && num_y == 0)) {
        num_cb = f(r, 4, W)?;
        for _ in 0..num_cb {
            f(r, 16, W)?;
        }
        num_cr = f(r, 4, W)?;
        for _ in 0..num_cr {
            f(r, 16, W)?;
        }
    }
    f(r, 2, W)?; // grain_scaling_minus_8
    let lag = f(r, 2, W)?;
    let luma = 2 * lag * (lag + 1);
    let chroma = if num_y > 0 { luma + 1 } else { luma };
    if num_y > 0 {
        for _ in 0..luma {
            f(r, 8, W)?;
        }
    }
    for n in [num_cb, num_cr] {
        if from_luma || n > 0 {
            for _ in 0..chroma {
                f(r, 8, W)?;
            }
        }
    }
    f(r, 4, W)?; // ar_coeff_shift_minus_6, grain_scale_shift
    for n in [num_cb, num_cr] {
        if n > 0 {
            f(r, 25, W)?; // mult, luma_mult, offset
        }
    }
    f(r, 2, W)?; // overlap_flag, clip_to_restricted_range
    Ok(())
}

#[cfg(test)]
mod tests;
