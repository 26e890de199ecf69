//! The tiles: their layout from the frame header's `tile_info()` (AV1
//! bitstream §5.9.15) and their places in a tile group OBU (§5.11), which
//! are the ranges Common Encryption protects (AV1 ISOBMFF §7).

use super::frame_size::FrameSize;
use super::sequence_header::SequenceHeader;
use super::*;

impl Av1Parser {
    /// `tile_group_obu(sz)` (§5.11.1) over `data[range]`: the tiles'
    /// ranges pushed to `out`; the last tile group of the frame updates
    /// the references.
    pub(super) fn tile_group(
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
}

/// The tile layout (§5.9.15).
pub(super) struct Tiles {
    pub(super) cols: u32,
    pub(super) rows: u32,
    pub(super) cols_log2: u32,
    pub(super) rows_log2: u32,
    pub(super) size_bytes: usize,
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
pub(super) fn tile_info(r: &mut Bits<'_>, seq: &SequenceHeader, size: &FrameSize) -> R<Tiles> {
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
