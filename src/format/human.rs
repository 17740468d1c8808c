//! Human-readable sizes, durations and times as podman prints them
//! (docker/go-units and Go's `time` formats), without a date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use super::gofmt::fmt_float_g;

/// go-units `HumanSizeWithPrecision(size, 3)` as podman calls it: decimal
/// units, three significant digits, Go's `%g` (so 999.9 kB is `1e+03 kB`,
/// a real go-units quirk).
pub fn human_size(bytes: u64) -> String {
    human_size_with_precision(bytes as f64, 3)
}

/// go-units `HumanSize` (`8.387MB`, `12B`): four significant digits, no
/// space, as `system df` prints sizes.
pub fn human_size_compact(bytes: u64) -> String {
    let mut size = bytes as f64;
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut i = 0;
    while size >= 1000.0 && i < units.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", fmt_float_g(size, Some(4)), units[i])
}

/// go-units `HumanSizeWithPrecision`.
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = size;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{} {}", fmt_float_g(size, Some(precision)), UNITS[i])
}

/// go-units `HumanDuration`, thresholds included ("About an hour" up to
/// 1h29m, hours rounded, days below two weeks...).
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let minutes = secs / 60;
    // go-units rounds hours to nearest: int(d.Hours() + 0.5).
    let hours = (d.as_secs_f64() / 3600.0 + 0.5) as u64;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", secs / 3600 / 24 / 365)
    }
}

/// `"3 hours ago"`; a time in the future counts as now.
pub fn time_ago(t: SystemTime) -> String {
    time_ago_from(t, SystemTime::now())
}

pub fn time_ago_from(t: SystemTime, now: SystemTime) -> String {
    format!(
        "{} ago",
        human_duration(now.duration_since(t).unwrap_or_default())
    )
}

/// Seconds and nanoseconds since the epoch, also before 1970.
fn split(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    }
}

fn from_parts(secs: i64, nanos: u32) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::from_nanos(nanos as u64)
    }
}

/// Howard Hinnant's civil_from_days: days since 1970-01-01 -> (y, m, d).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

/// The inverse: (y, m, d) -> days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    nanos: u32,
}

fn civil_utc(t: SystemTime) -> Civil {
    let (secs, nanos) = split(t);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u32;
    Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        min: sod / 60 % 60,
        sec: sod % 60,
        nanos,
    }
}

/// Go's `.999999999` fraction: trailing zeros trimmed, nothing when zero.
fn fraction(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let f = format!(".{nanos:09}");
    f.trim_end_matches('0').to_string()
}

/// Now, as the records and events write times (RFC 3339, nanoseconds, UTC).
pub fn now_rfc3339() -> String {
    rfc3339_nano(std::time::SystemTime::now())
}

/// Go's `time.RFC3339Nano` in UTC: `2026-11-25T13:44:51.123456789Z`.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let c = civil_utc(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.min,
        c.sec,
        fraction(c.nanos)
    )
}

/// Go's `time.Time.String()` in UTC, which podman shows for `CreatedAt`:
/// `2026-11-25 13:44:51.123456789 +0000 UTC`.
pub fn go_time_string(t: SystemTime) -> String {
    let c = civil_utc(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{} +0000 UTC",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.min,
        c.sec,
        fraction(c.nanos)
    )
}

fn num(s: &str, what: &str) -> Result<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        bail!("bad {what} {s:?}");
    }
    s.parse().with_context(|| format!("bad {what} {s:?}"))
}

/// Parse RFC 3339 (`2026-11-25T13:44:51Z`, `...51.5+02:00`). Also takes a
/// bare date, a missing zone (read as UTC), a space instead of `T`, and a
/// lower-case `t`/`z`, all of which podman's `--since` accepts.
pub fn parse_rfc3339(s: &str) -> Result<SystemTime> {
    parse_time(s).with_context(|| format!("parsing time {s:?}"))
}

fn parse_time(s: &str) -> Result<SystemTime> {
    let s = s.trim();
    // Byte offsets below: only ASCII can be a time (found by fuzzing).
    if !s.is_ascii() || s.len() < 10 || s.as_bytes()[4] != b'-' || s.as_bytes()[7] != b'-' {
        bail!("expected YYYY-MM-DD");
    }
    let year = num(&s[0..4], "year")? as i64;
    let month = num(&s[5..7], "month")?;
    let day = num(&s[8..10], "day")?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        bail!("date out of range");
    }
    let mut rest = &s[10..];
    let (mut hour, mut min, mut sec, mut nanos) = (0, 0, 0, 0);
    if let Some(r) = rest.strip_prefix(['T', 't', ' ']) {
        if r.len() < 8 || &r[2..3] != ":" || &r[5..6] != ":" {
            bail!("expected hh:mm:ss");
        }
        hour = num(&r[0..2], "hour")?;
        min = num(&r[3..5], "minute")?;
        sec = num(&r[6..8], "second")?;
        if hour > 23 || min > 59 || sec > 59 {
            bail!("time out of range");
        }
        rest = &r[8..];
        if let Some(r) = rest.strip_prefix(['.', ',']) {
            let n = r.bytes().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                bail!("empty fraction");
            }
            let digits = &r[..n.min(9)];
            nanos = num(digits, "fraction")? * 10u32.pow(9 - digits.len() as u32);
            rest = &r[n..];
        }
    }
    let offset: i64 = match rest {
        "" | "Z" | "z" => 0,
        r if r.len() == 6 && (r.starts_with('+') || r.starts_with('-')) && &r[3..4] == ":" => {
            let h = num(&r[1..3], "zone hour")? as i64;
            let m = num(&r[4..6], "zone minute")? as i64;
            let o = h * 3600 + m * 60;
            if r.starts_with('-') {
                -o
            } else {
                o
            }
        }
        r => bail!("unexpected {r:?} after time"),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + (hour * 3600 + min * 60 + sec) as i64 - offset;
    Ok(from_parts(secs, nanos))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `time.ParseDuration`: `1h30m`, `10m`, `45s`, `1.5h`, `300ms`,
/// `-2h`; units ns, us (µs, μs), ms, s, m, h.
pub fn parse_go_duration(s: &str) -> Result<(bool, Duration)> {
    let orig = s;
    let (neg, mut s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if s == "0" {
        return Ok((neg, Duration::ZERO));
    }
    if s.is_empty() {
        bail!("time: invalid duration {orig:?}");
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let n = s
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let number = &s[..n];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            bail!("time: invalid duration {orig:?}");
        }
        let value: f64 = number
            .parse()
            .with_context(|| format!("time: invalid duration {orig:?}"))?;
        s = &s[n..];
        let u = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let nanos_per = match &s[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => bail!("time: missing unit in duration {orig:?}"),
            unit => bail!("time: unknown unit {unit:?} in duration {orig:?}"),
        };
        total += value * nanos_per;
        s = &s[u..];
    }
    if total > u64::MAX as f64 {
        bail!("time: invalid duration {orig:?}");
    }
    Ok((neg, Duration::from_nanos(total.round() as u64)))
}

/// `--since`/`--until` values as podman reads them: a Go duration before
/// `now` (`10m`, `1h30m`), a unix timestamp (`1732541091`, with optional
/// `.fraction`), or an RFC 3339 time or date.
pub fn parse_duration_or_time(s: &str, now: SystemTime) -> Result<SystemTime> {
    let s = s.trim();
    if !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.matches('.').count() <= 1
    {
        let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
        let secs: u64 = secs
            .parse()
            .with_context(|| format!("invalid timestamp {s:?}"))?;
        let digits = &frac[..frac.len().min(9)];
        let nanos = if digits.is_empty() {
            0
        } else {
            num(digits, "fraction")? * 10u32.pow(9 - digits.len() as u32)
        };
        return UNIX_EPOCH
            .checked_add(Duration::new(secs, nanos))
            .with_context(|| format!("timestamp {s:?} is out of range"));
    }
    if let Ok((neg, d)) = parse_go_duration(s) {
        // A negative duration points into the future, as in podman.
        return if neg {
            now.checked_add(d)
                .with_context(|| format!("duration {s:?} is out of range"))
        } else {
            now.checked_sub(d)
                .with_context(|| format!("duration {s:?} reaches before the epoch"))
        };
    }
    parse_rfc3339(s)
        .with_context(|| format!("{s:?} is not a duration, a unix timestamp or an RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_non_ascii_are_errors() {
        // Found by fuzzing (`--filter until=...`): a slice inside a
        // multi-byte character panicked.
        let now = SystemTime::now();
        assert!(parse_duration_or_time("2024-01-01T00:00:0\u{1a5}", now).is_err());
        assert!(parse_duration_or_time("2024-01-01T00:00:00", now).is_ok());
        // A timestamp past what a time holds: an error, not an overflow.
        assert!(parse_duration_or_time("99999999999999999999", now).is_err());
    }

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(789), "789 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1000), "1 kB");
        assert_eq!(human_size(1024), "1.02 kB");
        assert_eq!(human_size(1240), "1.24 kB");
        assert_eq!(human_size(11331), "11.3 kB");
        assert_eq!(human_size(4_260_000), "4.26 MB");
        assert_eq!(human_size(123_456_789), "123 MB");
        assert_eq!(human_size(1_500_000_000), "1.5 GB");
        assert_eq!(human_size(999_499), "999 kB");
        // go-units' %g quirk: rounds up to 1000 and switches to exponent.
        assert_eq!(human_size(999_500), "1e+03 kB");
        assert_eq!(human_size(u64::MAX), "18.4 EB");
        assert_eq!(human_size_with_precision(2_746_000.0, 4), "2.746 MB");
    }

    #[test]
    fn durations_like_go_units() {
        let s = Duration::from_secs;
        let (min, hour, day) = (60, 3600, 86_400);
        let (week, month, year) = (7 * day, 30 * day, 365 * day);
        let cases: &[(Duration, &str)] = &[
            (Duration::from_millis(450), "Less than a second"),
            (s(1), "1 second"),
            (s(45), "45 seconds"),
            (s(59), "59 seconds"),
            (s(60), "About a minute"),
            (s(3 * min), "3 minutes"),
            (s(35 * min + 40), "35 minutes"),
            (s(59 * min), "59 minutes"),
            (s(hour), "About an hour"),
            (s(hour + 29 * min), "About an hour"),
            (s(hour + 31 * min), "2 hours"),
            (s(3 * hour + 29 * min), "3 hours"),
            (s(3 * hour + 31 * min), "4 hours"),
            (s(day), "24 hours"),
            (s(day + 12 * hour), "36 hours"),
            (s(2 * day), "2 days"),
            (s(13 * day + 5 * hour), "13 days"),
            (s(2 * week), "2 weeks"),
            (s(4 * week + 3 * day), "4 weeks"),
            (s(month), "4 weeks"),
            (s(month + 2 * week), "6 weeks"),
            (s(2 * month), "2 months"),
            (s(5 * month + 2 * week), "5 months"),
            (s(24 * month), "24 months"),
            (s(24 * month + 2 * week), "2 years"),
            (s(3 * year + 2 * month), "3 years"),
        ];
        for (d, want) in cases {
            assert_eq!(human_duration(*d), *want, "{d:?}");
        }
        let now = at(1_000_000, 0);
        assert_eq!(time_ago_from(at(1_000_000 - 7200, 0), now), "2 hours ago");
        assert_eq!(
            time_ago_from(at(2_000_000, 0), now),
            "Less than a second ago"
        );
    }

    #[test]
    fn time_formats() {
        let t = at(1_795_614_672, 0);
        assert_eq!(rfc3339_nano(t), "2026-11-25T13:51:12Z");
        assert_eq!(go_time_string(t), "2026-11-25 13:51:12 +0000 UTC");
        let t = at(1_795_614_291, 123_456_789);
        assert_eq!(rfc3339_nano(t), "2026-11-25T13:44:51.123456789Z");
        assert_eq!(go_time_string(t), "2026-11-25 13:44:51.123456789 +0000 UTC");
        assert_eq!(rfc3339_nano(at(0, 500_000_000)), "1970-01-01T00:00:00.5Z");
        assert_eq!(rfc3339_nano(at(951_782_400, 0)), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339_nano(UNIX_EPOCH - Duration::from_secs(1)),
            "1969-12-31T23:59:59Z"
        );
        assert_eq!(
            rfc3339_nano(UNIX_EPOCH - Duration::from_millis(1500)),
            "1969-12-31T23:59:58.5Z"
        );
    }

    #[test]
    fn parse_times() {
        assert_eq!(
            parse_rfc3339("2026-11-25T13:44:51Z").unwrap(),
            at(1_795_614_291, 0)
        );
        assert_eq!(
            parse_rfc3339("2026-11-25T13:44:51.123456789Z").unwrap(),
            at(1_795_614_291, 123_456_789)
        );
        assert_eq!(
            parse_rfc3339("2026-11-25T15:44:51.5+02:00").unwrap(),
            at(1_795_614_291, 500_000_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-25T12:44:51-01:00").unwrap(),
            at(1_795_614_291, 0)
        );
        assert_eq!(
            parse_rfc3339("2026-11-25 13:44:51").unwrap(),
            at(1_795_614_291, 0)
        );
        assert_eq!(parse_rfc3339("2026-11-25").unwrap(), at(1_795_564_800, 0));
        assert_eq!(
            parse_rfc3339("1969-12-31T23:59:59Z").unwrap(),
            UNIX_EPOCH - Duration::from_secs(1)
        );
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "2026-11-25T25:00:00Z",
            "2026-11-25T13:44Z",
            "2026-11-25T13:44:51+0200",
            "soon",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad:?}");
        }
        // Round trip.
        let t = at(1_234_567_890, 987_654_321);
        assert_eq!(parse_rfc3339(&rfc3339_nano(t)).unwrap(), t);
    }

    #[test]
    fn go_durations() {
        let p = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(p("1h30m"), (false, Duration::from_secs(5400)));
        assert_eq!(p("10m"), (false, Duration::from_secs(600)));
        assert_eq!(p("45s"), (false, Duration::from_secs(45)));
        assert_eq!(p("1.5h"), (false, Duration::from_secs(5400)));
        assert_eq!(p("300ms"), (false, Duration::from_millis(300)));
        assert_eq!(p("2us"), (false, Duration::from_micros(2)));
        assert_eq!(p("0"), (false, Duration::ZERO));
        assert_eq!(p("-2h"), (true, Duration::from_secs(7200)));
        for bad in ["", "10", "1d", "h", "1..5s", "-"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn since_values() {
        let now = at(1_795_614_291, 0);
        assert_eq!(
            parse_duration_or_time("10m", now).unwrap(),
            at(1_795_613_691, 0)
        );
        assert_eq!(
            parse_duration_or_time("1h30m", now).unwrap(),
            at(1_795_608_891, 0)
        );
        assert_eq!(
            parse_duration_or_time("2026-11-25T10:00:00Z", now).unwrap(),
            at(1_795_600_800, 0)
        );
        assert_eq!(
            parse_duration_or_time("1732541091", now).unwrap(),
            at(1_732_541_091, 0)
        );
        assert_eq!(
            parse_duration_or_time("1732541091.25", now).unwrap(),
            at(1_732_541_091, 250_000_000)
        );
        assert!(parse_duration_or_time("yesterday", now).is_err());
        let e = parse_duration_or_time("yesterday", now).unwrap_err();
        assert!(format!("{e:#}").contains("not a duration"));
    }
}
