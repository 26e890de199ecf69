//! The request dates signatures carry, from the adapter's clock in unix
//! seconds. Written here rather than taken from a date crate: the core
//! needs two fixed formats of a UTC instant and nothing else.
//!
//! * `x-ms-date` (Azure): the IMF-fixdate of RFC 9110 §5.6.7 (the RFC 1123
//!   form), `Fri, 24 May 2013 00:00:00 GMT`.
//! * `x-amz-date` (SigV4): ISO 8601 basic, `20130524T000000Z`, and its
//!   date part `20130524` in the credential scope.

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const SECS_PER_DAY: u64 = 86_400;

/// A UTC instant split into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Utc {
    pub year: u64,
    /// 1–12.
    pub month: u64,
    /// 1–31.
    pub day: u64,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
    /// 0 = Sunday.
    pub weekday: u64,
}

impl Utc {
    /// The instant `unix` seconds after 1970-01-01T00:00:00Z (leap seconds
    /// do not exist in unix time, so every day is 86 400 s).
    pub fn from_unix(unix: u64) -> Utc {
        let days = unix / SECS_PER_DAY;
        let secs = unix % SECS_PER_DAY;
        let (year, month, day) = civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs % 3600 / 60,
            second: secs % 60,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4) % 7,
        }
    }

    /// `Fri, 24 May 2013 00:00:00 GMT` (RFC 9110 §5.6.7 IMF-fixdate).
    pub fn imf_fixdate(&self) -> String {
        // Both indexes are in range by construction; `get` keeps a mistake
        // from ever being a trap.
        let wd = WEEKDAYS
            .get(self.weekday as usize)
            .copied()
            .unwrap_or("Thu");
        let mon = MONTHS
            .get((self.month as usize).wrapping_sub(1))
            .copied()
            .unwrap_or("Jan");
        format!(
            "{wd}, {:02} {mon} {:04} {:02}:{:02}:{:02} GMT",
            self.day, self.year, self.hour, self.minute, self.second
        )
    }

    /// `20130524T000000Z` (SigV4 `x-amz-date`).
    pub fn amz_date(&self) -> String {
        format!(
            "{}T{:02}{:02}{:02}Z",
            self.amz_day(),
            self.hour,
            self.minute,
            self.second
        )
    }

    /// `20130524` (the date of a SigV4 credential scope).
    pub fn amz_day(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

/// (year, month, day) of the proleptic Gregorian calendar, `days` after
/// 1970-01-01: Howard Hinnant's `civil_from_days`
/// (<https://howardhinnant.github.io/date_algorithms.html#civil_from_days>),
/// in unsigned arithmetic since our days are never before the epoch. Eras
/// are 400-year cycles of 146 097 days starting on a 1 March, which puts
/// the leap day at the end of the computed year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Days since 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected strings from Python:
    /// `datetime.fromtimestamp(t, timezone.utc).strftime(…)`.
    #[test]
    fn dates_match_an_independent_calendar() {
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT", "19700101T000000Z"),
            // A leap day of a year divisible by 400.
            (
                951_782_400,
                "Tue, 29 Feb 2000 00:00:00 GMT",
                "20000229T000000Z",
            ),
            // The AWS SigV4 examples' instant.
            (
                1_369_353_600,
                "Fri, 24 May 2013 00:00:00 GMT",
                "20130524T000000Z",
            ),
            // The last second of a leap day.
            (
                1_709_251_199,
                "Thu, 29 Feb 2024 23:59:59 GMT",
                "20240229T235959Z",
            ),
            // 2100 is not a leap year; past 2038 (no 32-bit overflow).
            (
                4_102_444_800,
                "Fri, 01 Jan 2100 00:00:00 GMT",
                "21000101T000000Z",
            ),
            (
                253_402_300_799,
                "Fri, 31 Dec 9999 23:59:59 GMT",
                "99991231T235959Z",
            ),
        ];
        for (t, imf, amz) in cases {
            let u = Utc::from_unix(t);
            assert_eq!(u.imf_fixdate(), imf, "{t}");
            assert_eq!(u.amz_date(), amz, "{t}");
        }
    }

    #[test]
    fn every_day_of_four_centuries_follows_the_previous() {
        // Walks 1970 → 2370 one day at a time: the calendar never skips or
        // repeats a day, and 29 February appears exactly on leap years.
        let mut prev = civil_from_days(0);
        for d in 1..146_097 {
            let cur = civil_from_days(d);
            let (y, m, day) = prev;
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let want = if day < len {
                (y, m, day + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            assert_eq!(cur, want, "day {d}");
            prev = cur;
        }
    }

    #[test]
    fn the_largest_clock_does_not_trap() {
        let u = Utc::from_unix(u64::MAX);
        assert!(u.imf_fixdate().ends_with(" GMT"));
    }
}
