//! A small box writer: open a box, write fields, close it and its size is
//! patched in. Used for every generated header (init segments, moof, tfxd).

/// Growable buffer of nested boxes.
#[derive(Default)]
pub struct BoxWriter {
    pub buf: Vec<u8>,
    open: Vec<usize>,
}

impl BoxWriter {
    pub fn with_capacity(n: usize) -> Self {
        BoxWriter {
            buf: Vec::with_capacity(n),
            open: Vec::new(),
        }
    }

    pub fn start(&mut self, typ: &[u8; 4]) -> &mut Self {
        self.open.push(self.buf.len());
        self.buf.extend_from_slice(&[0, 0, 0, 0]);
        self.buf.extend_from_slice(typ);
        self
    }

    /// Starts a full box (§4.2: version and 24-bit flags).
    pub fn start_full(&mut self, typ: &[u8; 4], version: u8, flags: u32) -> &mut Self {
        self.start(typ);
        self.u32((u32::from(version) << 24) | (flags & 0x00ff_ffff))
    }

    /// Closes the innermost open box. Boxes we generate are far below 4 GB.
    pub fn end(&mut self) -> &mut Self {
        if let Some(at) = self.open.pop() {
            let size = (self.buf.len() - at) as u32;
            self.buf[at..at + 4].copy_from_slice(&size.to_be_bytes());
        }
        self
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.buf.resize(self.buf.len() + n, 0);
        self
    }

    /// Current length, for patching offsets later.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Overwrites 4 bytes at `at` (e.g. a trun data offset).
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
}

/// The unity matrix of §8.2.2 (mvhd/tkhd).
pub const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_sizes_are_patched() {
        let mut w = BoxWriter::default();
        w.start(b"moov")
            .start_full(b"mvhd", 1, 3)
            .u32(7)
            .end()
            .end();
        assert_eq!(&w.buf[..8], b"\0\0\0\x18moov");
        assert_eq!(&w.buf[8..16], b"\0\0\0\x10mvhd");
        assert_eq!(&w.buf[16..20], &[1, 0, 0, 3]);
    }
}
