//! LEB128 varints and zigzag signed encoding for the compact index.

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded, so small negative numbers stay short.
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_u64(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads an unsigned varint at `*pos`; `None` when cut short or longer than
/// 10 bytes.
pub fn get_u64(data: &[u8], pos: &mut usize) -> Option<u64> {
    // Most values in an index or summary are deltas under 128: one byte,
    // no loop (the summary decode of a warm manifest is mostly this).
    let first = *data.get(*pos)?;
    if first < 0x80 {
        *pos += 1;
        return Some(u64::from(first));
    }
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let b = *data.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

pub fn get_i64(data: &[u8], pos: &mut usize) -> Option<i64> {
    let u = get_u64(data, pos)?;
    Some((u >> 1) as i64 ^ -((u & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_edges() {
        let mut buf = Vec::new();
        let vals = [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX];
        for v in vals {
            put_u64(&mut buf, v);
        }
        let signed = [0i64, -1, 1, -64, 64, i64::MIN, i64::MAX];
        for v in signed {
            put_i64(&mut buf, v);
        }
        let mut pos = 0;
        for v in vals {
            assert_eq!(get_u64(&buf, &mut pos), Some(v));
        }
        for v in signed {
            assert_eq!(get_i64(&buf, &mut pos), Some(v));
        }
        assert_eq!(pos, buf.len());
        assert_eq!(get_u64(&[0x80, 0x80], &mut 0), None);
        assert_eq!(get_u64(&[0xff; 11], &mut 0), None);
    }
}
