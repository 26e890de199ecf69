//! Numbers written into manifests, formatted without `core::fmt`.
//!
//! Why: a 2 h title's media playlist is 1 200 `#EXTINF:{seconds},` lines
//! and its MPD as many `S@d` values, and the formatting machinery
//! (`write!` of a `u64`, and above all `{:.6}` of an `f64`, which takes
//! the exact-decimal path) was most of a warm manifest's CPU. The output
//! is byte-identical to the `core::fmt` forms these replace (tests).

use std::fmt::Write as _;

/// Two ASCII digits for each of 0..100 (the usual `itoa` table).
const PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// `a · b` when it surely fits a u64, judged by the operands' bit
/// lengths; `None` otherwise (also for some products that would fit:
/// callers then take their 128-bit path, which gives the same value).
///
/// Why not `checked_mul`: in wasm a 64-bit multiply with overflow check is
/// a 128-bit multiply, a library call (`__multi3`), and a manifest makes
/// one or two for each of its ~1 200 lines.
pub fn product(a: u64, b: u64) -> Option<u64> {
    let bits = (u64::BITS - a.leading_zeros()) + (u64::BITS - b.leading_zeros());
    (bits <= u64::BITS).then(|| a * b)
}

/// `value` in decimal (what `{value}` writes), two digits per division:
/// in wasm a 64-bit division by a constant may stay a division.
pub fn decimal(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while value >= 100 {
        let pair = (value % 100) as usize * 2;
        value /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if value >= 10 {
        let pair = value as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + value as u8;
    }
    // ASCII digits: always UTF-8.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// `num / den` seconds with six decimals, exactly what
/// `format!("{:.6}", num as f64 / den as f64)` writes (an `EXTINF`
/// duration, RFC 8216 §4.3.2.1).
///
/// The quotient is rounded in integers. That agrees with rounding the
/// `f64` quotient unless the exact value lies so close to a rounding tie
/// (half a microsecond) that the `f64`'s own error (at most 2⁻⁵² of the
/// value: one rounding converting `num`, one dividing) could cross it;
/// then, and for `den == 0`, the `f64` is formatted as before.
pub fn seconds6(out: &mut String, num: u64, den: u32) {
    const MICRO: u64 = 1_000_000;
    if den == 0 {
        let _ = write!(out, "{:.6}", num as f64 / f64::from(den));
        return;
    }
    // In u64 whenever `num · 10⁶` fits (every real duration: under 213
    // days at 1 MHz): 128-bit division is a library call in wasm, four of
    // them a line were most of a long playlist's cost.
    let (q, rem, tolerance) = match product(num, MICRO) {
        Some(scaled) => {
            let den = u64::from(den);
            (u128::from(scaled / den), scaled % den, (scaled >> 50) + 1)
        }
        None => {
            let scaled = u128::from(num) * u128::from(MICRO);
            let den = u128::from(den);
            // The remainder is below `den`, and `scaled >> 50` below 2⁶⁴.
            (
                scaled / den,
                (scaled % den) as u64,
                (scaled >> 50) as u64 + 1,
            )
        }
    };
    let den = u64::from(den);
    // The distance to the tie, in units of 1 / (2·10⁶·den), against the
    // f64 error in the same units (num·2·10⁶·2⁻⁵² = scaled·2⁻⁵¹), with a
    // factor 2 to spare.
    let gap = (2 * rem).abs_diff(den);
    if gap <= tolerance {
        let _ = write!(out, "{:.6}", num as f64 / den as f64);
        return;
    }
    let rounded = if 2 * rem > den { q + 1 } else { q };
    // `rounded / 10⁶` is at most `num` (den ≥ 1): it fits a u64, and so
    // does the quotient whenever `scaled` did.
    let (whole, frac) = match u64::try_from(rounded) {
        Ok(r) => (r / MICRO, r % MICRO),
        Err(_) => (
            (rounded / u128::from(MICRO)) as u64,
            (rounded % u128::from(MICRO)) as u64,
        ),
    };
    decimal(out, whole);
    out.push('.');
    // Six digits, leading zeros kept: three pairs.
    let mut digits = [0u8; 6];
    let mut rest = frac as usize;
    for at in [4, 2, 0] {
        let pair = rest % 100 * 2;
        rest /= 100;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_is_exact_or_none() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> (x % 64)
        };
        for _ in 0..100_000 {
            let (a, b) = (next(), next());
            match product(a, b) {
                Some(p) => assert_eq!(Some(p), a.checked_mul(b), "{a} {b}"),
                // Refused only near the edge: within one bit of overflow.
                None => assert!(
                    a.checked_mul(b).is_none() || (u128::from(a) * u128::from(b)) >> 63 != 0,
                    "{a} {b}"
                ),
            }
        }
        assert_eq!(product(0, u64::MAX), Some(0));
        let m = u64::from(u32::MAX);
        assert_eq!(product(m, m), Some(m * m));
        assert_eq!(product(1 << 32, 1 << 32), None);
    }

    #[test]
    fn decimal_matches_display() {
        let edges = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12_345];
        let powers = (1..20).flat_map(|e| {
            let p = 10u64.pow(e);
            [p - 1, p, p + 1]
        });
        // Every digit count, and a pseudo-random spread.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let spread = (0..100_000).map(move |_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> (x % 64)
        });
        for v in edges
            .into_iter()
            .chain(powers)
            .chain([u64::from(u32::MAX), u64::MAX - 1, u64::MAX])
            .chain(spread)
        {
            let mut s = String::from("x");
            decimal(&mut s, v);
            assert_eq!(s, format!("x{v}"));
        }
    }

    fn check(num: u64, den: u32) {
        let mut s = String::new();
        seconds6(&mut s, num, den);
        assert_eq!(s, format!("{:.6}", num as f64 / den as f64), "{num}/{den}");
    }

    #[test]
    fn seconds6_matches_f64_formatting() {
        let dens = [
            1,
            3,
            7,
            24,
            25,
            1000,
            1001,
            24_000,
            30_000,
            44_100,
            48_000,
            90_000,
            600_000,
            10_000_000,
            16_777_216,
            u32::MAX,
        ];
        // Typical durations, ties (5/10⁷ is exactly half a microsecond)
        // and extremes.
        let nums = [
            0,
            1,
            5,
            15,
            25,
            1024,
            1001,
            1_000_000,
            6_000_000,
            59_989_333,
            60_000_000,
            540_540,
            6_006,
            48_127,
            287_744,
            1 << 53,
            (1 << 53) + 1,
            // Where `num · 10⁶` stops fitting a u64 (the two paths).
            u64::MAX / 1_000_000,
            u64::MAX / 1_000_000 + 1,
            u64::MAX / 3,
            u64::MAX,
        ];
        for &d in &dens {
            for &n in &nums {
                check(n, d);
            }
        }
        // A pseudo-random sweep (xorshift) over mixed magnitudes.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let den = (x >> 32) as u32 >> (x % 24);
            let num = x >> (x % 61);
            check(num, den.max(1));
        }
        check(7, 0);
        check(0, 0);
    }

    #[test]
    fn ties_take_the_f64_path() {
        // 5 / 10⁷ s is exactly 0.5 µs: the f64 (just below or above)
        // decides, as `{:.6}` did.
        check(5, 10_000_000);
        check(15, 10_000_000);
        check(1_000_005, 10_000_000);
    }
}
