//! An MSB-first bit reader, the order every bitstream syntax read here
//! uses (ISO/IEC 14496-3 AudioSpecificConfig, ETSI TS 102 366 `dec3`,
//! ITU-T H.264/H.265 parameter sets). Reading past the end is `None`,
//! never a panic, so a cut-short structure is just "not known".

pub struct Bits<'a> {
    data: &'a [u8],
    bit: usize,
}

impl<'a> Bits<'a> {
    pub fn new(data: &'a [u8]) -> Bits<'a> {
        Bits { data, bit: 0 }
    }

    /// The next `n` (≤ 32) bits as an unsigned number.
    pub fn read(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.bit / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.bit % 8)) & 1);
            self.bit += 1;
        }
        Some(v)
    }

    pub fn flag(&mut self) -> Option<bool> {
        self.read(1).map(|b| b == 1)
    }

    /// Skips `n` bits, which must all be there.
    pub fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.bit.checked_add(n)?;
        (end <= self.data.len() * 8).then(|| self.bit = end)
    }

    /// Bits read so far.
    pub fn position(&self) -> usize {
        self.bit
    }

    /// Bits not read yet.
    pub fn left(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.bit)
    }
}
