//! A bit reader over the *escaped* bytes of an H.264/H.265 NAL unit: it
//! reads the RBSP (skipping emulation prevention bytes, H.264 §7.4.1 and
//! H.265 §7.4.2: a `0x03` after two zero bytes) and counts the NAL bytes
//! it has consumed, emulation prevention bytes included.
//!
//! Why: a slice header's clear range in `cbcs` sample encryption (ISO/IEC
//! 23001-7 §10.4.2) is a count of bytes of the NAL unit as stored, not of
//! its RBSP; the slice readers ([`super::avc_slice`],
//! [`super::hevc_slice`]) measure with this. Reading past the end is
//! `None`, never a panic.

/// Reads the RBSP of a NAL unit bit by bit and knows how many NAL bytes it
/// has consumed.
pub(crate) struct NalBits<'a> {
    nal: &'a [u8],
    /// Next byte of `nal` to load.
    at: usize,
    zeros: u8,
    byte: u8,
    /// Bits of `byte` not yet read.
    left: u8,
}

impl<'a> NalBits<'a> {
    /// From `nal` (header included), positioned after `skip` bytes (the
    /// NAL unit header, which holds no emulation prevention).
    pub(crate) fn new(nal: &'a [u8], skip: usize) -> NalBits<'a> {
        NalBits {
            nal,
            at: skip,
            zeros: 0,
            byte: 0,
            left: 0,
        }
    }

    pub(crate) fn bit(&mut self) -> Option<u32> {
        if self.left == 0 {
            let mut b = *self.nal.get(self.at)?;
            self.at += 1;
            if self.zeros >= 2 && b == 3 {
                b = *self.nal.get(self.at)?;
                self.at += 1;
                self.zeros = 0;
            }
            self.zeros = if b == 0 { self.zeros + 1 } else { 0 };
            self.byte = b;
            self.left = 8;
        }
        self.left -= 1;
        Some(u32::from((self.byte >> self.left) & 1))
    }

    /// `u(n)`, `n` ≤ 32.
    pub(crate) fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some((acc << 1) | self.bit()?))
    }

    pub(crate) fn flag(&mut self) -> Option<bool> {
        Some(self.bit()? == 1)
    }

    /// `ue(v)` (§9.1 of both specs), at most 32 bits of value.
    pub(crate) fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.bits(zeros)?;
        Some(((1u64 << zeros) - 1 + u64::from(rest)).min(u64::from(u32::MAX)) as u32)
    }

    /// `ue(v)` within the syntax element's range `0..=max`, else `None`.
    pub(crate) fn ue_max(&mut self, max: u32) -> Option<u32> {
        self.ue().filter(|&v| v <= max)
    }

    /// `se(v)` (§9.1.1); only its length matters here.
    pub(crate) fn se(&mut self) -> Option<()> {
        self.ue().map(|_| ())
    }

    /// NAL bytes holding what has been read (a partly read byte counts).
    pub(crate) fn consumed(&self) -> usize {
        self.at
    }

    /// The byte being read, and how many of its low bits are unread.
    pub(crate) fn current(&self) -> (u8, u8) {
        (self.byte, self.left)
    }
}

/// `Ceil(Log2(n))` (H.265 §5.7), the width of fields that index `n`
/// things; 0 for `n` ≤ 1.
pub(crate) fn ceil_log2(n: u32) -> u32 {
    if n <= 1 {
        0
    } else {
        32 - (n - 1).leading_zeros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulation_prevention_is_skipped_but_counted() {
        // RBSP 00 00 00 01 stored as 00 00 03 00 01.
        let nal = [0x41, 0x00, 0x00, 0x03, 0x00, 0x01];
        let mut r = NalBits::new(&nal, 1);
        assert_eq!(r.bits(16), Some(0));
        assert_eq!(r.consumed(), 3);
        assert_eq!(r.bits(8), Some(0));
        assert_eq!(r.consumed(), 5);
        assert_eq!(r.bits(8), Some(1));
        assert_eq!(r.bit(), None);
    }

    #[test]
    fn exp_golomb_and_ranges() {
        // 1 | 010 | 011 | 00100 → 0, 1, 2, 3
        let nal = [0x00, 0b1010_0110, 0b0100_0000];
        let mut r = NalBits::new(&nal, 1);
        assert_eq!(r.ue(), Some(0));
        assert_eq!(r.ue(), Some(1));
        assert_eq!(r.ue_max(1), None);
        let mut r = NalBits::new(&nal, 1);
        r.bits(7);
        assert_eq!(r.ue(), Some(3));
        // 32 leading zeros: not a u32.
        assert_eq!(NalBits::new(&[0, 0, 0, 0, 0, 0xff], 1).ue(), None);
    }

    #[test]
    fn ceil_log2_matches_the_spec() {
        let cases = [
            (0, 0),
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (8, 3),
            (9, 4),
        ];
        for (n, v) in cases {
            assert_eq!(ceil_log2(n), v, "{n}");
        }
        assert_eq!(ceil_log2(u32::MAX), 32);
    }
}
