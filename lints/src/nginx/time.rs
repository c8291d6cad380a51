//! nginx time values, as `ngx_parse_time` (src/core/ngx_parse.c) reads them.
//!
//! Units `ms s m h d w M y` (M = 30 days, y = 365 days), largest first, each at most once, a bare
//! or trailing number is seconds (`1m30` = 90 s), spaces allowed between parts (`"1h 30m"`), no
//! decimals. With millisecond resolution (`ngx_conf_set_msec_slot`, e.g. the first argument of
//! `keepalive_timeout`), `M` and `y` are rejected; with second resolution (`ngx_conf_set_sec_slot`),
//! `ms` is rejected.

/// The resolution a directive stores its time with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Milliseconds,
    Seconds,
}

/// Parses a time value. Returns milliseconds for [`Resolution::Milliseconds`] and seconds for
/// [`Resolution::Seconds`], or `None` where nginx reports "invalid value".
pub fn parse_time(text: &[u8], resolution: Resolution) -> Option<i64> {
    // nginx's steps, in order: a unit may only follow a larger one.
    const START: u8 = 0;
    const YEAR: u8 = 1;
    const MONTH: u8 = 2;
    const WEEK: u8 = 3;
    const DAY: u8 = 4;
    const HOUR: u8 = 5;
    const MIN: u8 = 6;
    const SEC: u8 = 7;
    const MSEC: u8 = 8;
    const LAST: u8 = 9;
    let is_sec = resolution == Resolution::Seconds;
    let mut step = if is_sec { START } else { MONTH };
    let mut seen_digit = false;
    let mut number: i64 = 0;
    let mut total: i64 = 0;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        i += 1;
        if b.is_ascii_digit() {
            number = number.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
            seen_digit = true;
            continue;
        }
        let (next, scale): (u8, i64) = match b {
            b'y' if step == START => (YEAR, 365 * 24 * 3600),
            b'M' if step < MONTH => (MONTH, 30 * 24 * 3600),
            b'w' if step < WEEK => (WEEK, 7 * 24 * 3600),
            b'd' if step < DAY => (DAY, 24 * 3600),
            b'h' if step < HOUR => (HOUR, 3600),
            b'm' if text.get(i) == Some(&b's') => {
                if is_sec || step >= MSEC {
                    return None;
                }
                i += 1;
                (MSEC, 1)
            }
            b'm' if step < MIN => (MIN, 60),
            b's' if step < SEC => (SEC, 1),
            b' ' if step < SEC => (LAST, 1),
            _ => return None,
        };
        step = next;
        let scale = if step != MSEC && !is_sec {
            scale * 1000
        } else {
            scale
        };
        total = total.checked_add(number.checked_mul(scale)?)?;
        number = 0;
        while text.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    if !seen_digit {
        return None;
    }
    let rest = if is_sec {
        number
    } else {
        number.checked_mul(1000)?
    };
    total.checked_add(rest)
}

/// A duration in milliseconds as nginx would write it, largest units first: `1h30m`, `500ms`.
pub fn format_ms(ms: i64) -> String {
    if ms == 0 {
        return "0".to_string();
    }
    let units = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in units {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Resolution::*;

    #[test]
    fn units_and_combinations() {
        assert_eq!(parse_time(b"75", Milliseconds), Some(75_000));
        assert_eq!(parse_time(b"75s", Milliseconds), Some(75_000));
        assert_eq!(parse_time(b"500ms", Milliseconds), Some(500));
        assert_eq!(parse_time(b"1h30m", Milliseconds), Some(5_400_000));
        assert_eq!(parse_time(b"1h 30m", Milliseconds), Some(5_400_000));
        assert_eq!(parse_time(b"1m30", Milliseconds), Some(90_000));
        assert_eq!(parse_time(b"1s500", Seconds), Some(501));
        assert_eq!(parse_time(b"1d", Seconds), Some(86_400));
        assert_eq!(parse_time(b"2w", Seconds), Some(14 * 86_400));
        assert_eq!(parse_time(b"1M", Seconds), Some(30 * 86_400));
        assert_eq!(parse_time(b"1y", Seconds), Some(365 * 86_400));
        assert_eq!(parse_time(b"1m1s1ms", Milliseconds), Some(61_001));
    }

    #[test]
    fn zero_spellings() {
        for z in ["0", "0s", "0ms", "00", "0m", "0h0m0s", "0 0"] {
            assert_eq!(parse_time(z.as_bytes(), Milliseconds), Some(0), "{z}");
        }
    }

    #[test]
    fn invalid_values() {
        for bad in [
            "",
            "s",
            "1.5s",
            "1h1d",
            "1s1s",
            "-1",
            "1x",
            "10 s",
            "9999999999999999999",
        ] {
            assert_eq!(parse_time(bad.as_bytes(), Milliseconds), None, "{bad}");
        }
        // Month and year cannot be expressed in milliseconds; ms cannot in seconds.
        assert_eq!(parse_time(b"1M", Milliseconds), None);
        assert_eq!(parse_time(b"1y", Milliseconds), None);
        assert_eq!(parse_time(b"500ms", Seconds), None);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_ms(5_400_000), "1h30m");
        assert_eq!(format_ms(500), "500ms");
        assert_eq!(format_ms(75_000), "1m15s");
        assert_eq!(format_ms(10_000), "10s");
        assert_eq!(format_ms(0), "0");
    }
}
