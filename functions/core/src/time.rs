//! Time as text: ISO 8601 written and read, without a clock.

/// Seconds since the Unix epoch as an ISO 8601 UTC timestamp
/// (`2026-11-26T07:33:38Z`), by Howard Hinnant's days-to-civil algorithm.
pub fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// An ISO 8601 UTC timestamp (`2026-11-26T07:33:38Z`, with or without
/// fractions of a second, `Z` or `+00:00`: what Step Functions gives as
/// `$$.Execution.StartTime`) as seconds since the Unix epoch; `None` for
/// anything else.
pub fn parse_iso8601(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let time = time.split_once('.').map_or(time, |(whole, _)| whole);
    let number = |part: Option<&str>, len: usize| -> Option<i64> {
        let part = part?;
        (part.len() == len && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    let mut d = date.split('-');
    let (year, month, day) = (
        number(d.next(), 4)?,
        number(d.next(), 2)?,
        number(d.next(), 2)?,
    );
    let mut t = time.split(':');
    let (hour, minute, second) = (
        number(t.next(), 2)?,
        number(t.next(), 2)?,
        number(t.next(), 2)?,
    );
    if d.next().is_some()
        || t.next().is_some()
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hour * 3_600 + minute * 60 + second).ok()
}

/// A duration as people write it: `90` or `90s`, `15m`, `2h`, `1d`
/// (whole numbers); `None` for anything else or zero.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number
        .parse::<u64>()
        .ok()?
        .checked_mul(factor)
        .filter(|s| *s > 0)
}

/// How long ago (or from now) `at` is, roughly: "30 s ago", "15 min from
/// now", "3 h ago" (seconds since the epoch).
pub fn ago(at: u64, now: u64) -> String {
    let (seconds, suffix) = if at <= now {
        (now - at, "ago")
    } else {
        (at - now, "from now")
    };
    let text = match seconds {
        0..=119 => format!("{seconds} s"),
        120..=7_199 => format!("{} min", seconds / 60),
        _ => format!("{} h", seconds / 3_600),
    };
    format!("{text} {suffix}")
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_as_people_write_them() {
        for (text, seconds) in [
            ("90", 90),
            ("90s", 90),
            ("15m", 900),
            ("2h", 7_200),
            (" 1d ", 86_400),
        ] {
            assert_eq!(parse_duration(text), Some(seconds), "{text}");
        }
        for text in [
            "",
            "0",
            "0h",
            "h",
            "1.5h",
            "-1h",
            "2w",
            "1h30m",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(text), None, "{text}");
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(super::ago(100, 130), "30 s ago");
        assert_eq!(super::ago(1_000, 100), "15 min from now");
        assert_eq!(super::ago(0, 10_800), "3 h ago");
    }

    use super::{iso8601, parse_iso8601};
    use proptest::prelude::*;

    #[test]
    fn timestamps_parse_as_step_functions_writes_them() {
        assert_eq!(parse_iso8601("2026-11-26T07:33:38Z"), Some(1_795_678_418));
        assert_eq!(
            parse_iso8601("2026-11-26T07:33:38.123Z"),
            Some(1_795_678_418)
        );
        assert_eq!(
            parse_iso8601("2026-11-26T07:33:38+00:00"),
            Some(1_795_678_418)
        );
        assert_eq!(parse_iso8601("2000-02-29T00:00:00Z"), Some(951_782_400));
        for bad in [
            "",
            "yesterday",
            "2026-11-26 07:33:38Z",
            "2026-13-01T00:00:00Z",
            "2026-11-26T07:33:38+02:00",
            "2026-11-26T07:33Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parsing_undoes_formatting(secs in 0u64..4_102_444_800) {
            prop_assert_eq!(parse_iso8601(&iso8601(secs)), Some(secs));
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_611_869_109), "2021-01-28T21:25:09Z");
        assert_eq!(iso8601(1_795_678_418), "2026-11-26T07:33:38Z");
        assert_eq!(iso8601(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
