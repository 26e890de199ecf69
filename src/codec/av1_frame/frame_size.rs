//! Frame and render dimensions (AV1 bitstream §5.9.5 to §5.9.8): they
//! size the tile grid of `tile_info()`.

use super::sequence_header::SequenceHeader;
use super::{f, flag, Bits, R, SUPERRES_DENOM_BITS, SUPERRES_DENOM_MIN, SUPERRES_NUM};

/// Frame and render dimensions (§5.9.5 to §5.9.8).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FrameSize {
    pub(super) upscaled_width: u32,
    pub(super) frame_width: u32,
    pub(super) frame_height: u32,
    pub(super) render_width: u32,
    pub(super) render_height: u32,
}

impl FrameSize {
    /// `MiCols`, `MiRows` (§5.9.9).
    pub(super) fn mi(&self) -> (u32, u32) {
        (
            2 * ((self.frame_width + 7) >> 3),
            2 * ((self.frame_height + 7) >> 3),
        )
    }
}

/// `frame_size()` (§5.9.5) with `superres_params()`.
pub(super) fn frame_size(
    r: &mut Bits<'_>,
    seq: &SequenceHeader,
    override_flag: bool,
) -> R<FrameSize> {
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
pub(super) fn superres_params(r: &mut Bits<'_>, seq: &SequenceHeader, s: &mut FrameSize) -> R<()> {
    let denom = if seq.enable_superres && flag(r, "superres")? {
        f(r, SUPERRES_DENOM_BITS, "superres")? + SUPERRES_DENOM_MIN
    } else {
        SUPERRES_NUM
    };
    s.frame_width = (s.upscaled_width * SUPERRES_NUM + denom / 2) / denom;
    Ok(())
}

/// `render_size()` (§5.9.6).
pub(super) fn render_size(r: &mut Bits<'_>, s: &mut FrameSize) -> R<()> {
    if flag(r, "render size")? {
        s.render_width = f(r, 16, "render size")? + 1;
        s.render_height = f(r, 16, "render size")? + 1;
    } else {
        s.render_width = s.upscaled_width;
        s.render_height = s.frame_height;
    }
    Ok(())
}
