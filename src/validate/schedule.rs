//! CronJob schedules and time zones, checked as the Kubernetes API server checks them. Pure: no
//! I/O, no clock; this module never computes run times, it only says whether the API server
//! would accept a schedule, and why not.
//!
//! Kubernetes parses `spec.schedule` with robfig/cron v3's `ParseStandard`: five fields
//! (minute hour day-of-month month day-of-week) or a descriptor (`@hourly`, `@every 90m`, ...),
//! and since 1.27 rejects any schedule containing `TZ` (`TZ=`/`CRON_TZ=` prefixes) in favour of
//! `spec.timeZone`. The Rust cron crates accept other dialects (a seconds field, `L`, `W`, `#`,
//! day-of-week 7), so this is a small port of that grammar rather than a dependency: parity with
//! the API server is the point.

use std::fmt;

/// Why the API server would reject a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleError {
    /// `TZ=` or `CRON_TZ=` in the schedule: Kubernetes ≥ 1.27 wants `timeZone` instead.
    TimeZoneInSchedule,
    /// Anything else, in robfig/cron's words (what Kubernetes would report).
    Invalid(String),
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::TimeZoneInSchedule => {
                write!(f, "cannot use TZ or CRON_TZ in schedule")
            }
            ScheduleError::Invalid(why) => write!(f, "{why}"),
        }
    }
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Field {
        name: "day of week",
        min: 0,
        max: 6,
        names: &DAYS,
    },
];

const DESCRIPTORS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Check a CronJob schedule the way the API server does.
pub fn check_schedule(schedule: &str) -> Result<(), ScheduleError> {
    if schedule.contains("TZ") {
        return Err(ScheduleError::TimeZoneInSchedule);
    }
    let invalid = |s: String| Err(ScheduleError::Invalid(s));
    if schedule.is_empty() {
        return invalid("the schedule is empty".to_owned());
    }
    if schedule.starts_with('@') {
        if DESCRIPTORS.contains(&schedule) {
            return Ok(());
        }
        if let Some(d) = schedule.strip_prefix("@every ") {
            return if go_duration(d) {
                Ok(())
            } else {
                invalid(format!("`{d}` is not a duration such as 90m or 1h30m"))
            };
        }
        return invalid(format!(
            "unrecognized descriptor `{schedule}` (known: {}, @every <duration>)",
            DESCRIPTORS.join(", ")
        ));
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return invalid(format!(
            "expected exactly 5 fields (minute hour day-of-month month day-of-week), found {}",
            fields.len()
        ));
    }
    for (text, field) in fields.iter().zip(&FIELDS) {
        for part in text.split(',') {
            range(part, field).map_err(|why| {
                ScheduleError::Invalid(format!("{} field `{text}`: {why}", field.name))
            })?;
        }
    }
    Ok(())
}

/// One comma-separated part of a field: `*`, `?`, `N`, `N-M`, each optionally `/step`.
fn range(expr: &str, field: &Field) -> Result<(), String> {
    let (range, step) = match expr.split('/').collect::<Vec<_>>()[..] {
        [r] => (r, None),
        [r, s] => (r, Some(s)),
        _ => return Err(format!("too many slashes in `{expr}`")),
    };
    let bounds: Vec<&str> = range.split('-').collect();
    if bounds[0] == "*" || bounds[0] == "?" {
        // robfig ignores anything after a leading `*-`; so does Kubernetes.
    } else {
        let (start, end) = match bounds[..] {
            [one] => (value(one, field)?, value(one, field)?),
            [a, b] => (value(a, field)?, value(b, field)?),
            _ => return Err(format!("too many hyphens in `{expr}`")),
        };
        if start < field.min {
            return Err(format!(
                "{start} is below the minimum {} for the {}",
                field.min, field.name
            ));
        }
        if end > field.max {
            return Err(format!(
                "{end} is above the maximum {} for the {}",
                field.max, field.name
            ));
        }
        if start > end {
            return Err(format!("the range {start}-{end} runs backwards"));
        }
    }
    if let Some(step) = step
        && number(step)? == 0
    {
        return Err(format!("the step in `{expr}` must be a positive number"));
    }
    Ok(())
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = field.names.iter().position(|n| *n == lower) {
        return Ok(field.min + i as u32);
    }
    number(text).map_err(|e| match name_meant(&lower, field) {
        Some(meant) => format!(
            "`{text}` is not a {} name; did you mean `{meant}`?",
            field.name
        ),
        None => e,
    })
}

/// The day or month name `wrong` was meant to be: a close spelling (`fir` → `fri`) or a full
/// name (`monday`, `Thurs` → `thu`: only the first three letters count).
fn name_meant(wrong: &str, field: &Field) -> Option<&'static str> {
    if !wrong.chars().all(|c| c.is_ascii_alphabetic()) || wrong.len() < 2 {
        return None;
    }
    field
        .names
        .iter()
        .copied()
        .find(|n| wrong.len() > 3 && wrong.starts_with(n))
        .or_else(|| crate::diagnostic::did_you_mean(wrong, field.names.iter().copied()))
}

/// A non-negative decimal integer, as Go's `strconv.Atoi` reads it (an optional `+`).
fn number(text: &str) -> Result<u32, String> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if text.strip_prefix('-').is_some_and(all_digits) {
        return Err(format!("negative number `{text}` not allowed"));
    }
    if text.is_empty() {
        return Err("a number is missing".to_owned());
    }
    let digits = text.strip_prefix('+').unwrap_or(text);
    if !all_digits(digits) {
        return Err(format!("`{text}` is not a number"));
    }
    digits.parse().map_err(|_| format!("`{text}` is too large"))
}

/// Go's `time.ParseDuration` syntax: `[-+]?` then one or more `<decimal><unit>`, or `0`.
fn go_duration(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    if s == "0" {
        return true;
    }
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..digits];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"]
            .into_iter()
            .filter(|u| rest.starts_with(u))
            .max_by_key(|u| u.len());
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

/// Time-zone areas of the IANA database (with its `backward` links: `US/Eastern`, ...).
const AREAS: [&str; 16] = [
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Brazil",
    "Canada",
    "Chile",
    "Etc",
    "Europe",
    "Indian",
    "Mexico",
    "Pacific",
    "US",
];

/// A basic check of a CronJob `timeZone`: the API server's character rules, not `Local`, and an
/// `Area/Location` name must start with an IANA area. Whether the location exists is left to the
/// API server (this would need the whole time-zone database).
pub fn check_time_zone(tz: &str) -> Result<(), String> {
    if tz.eq_ignore_ascii_case("local") {
        return Err("`Local` is the controller's own zone, not an explicit one".to_owned());
    }
    let parts: Vec<&str> = tz.split('/').collect();
    for part in &parts {
        let ok_chars = part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'));
        if *part == "." || *part == ".." || part.starts_with('-') || !ok_chars {
            return Err(format!(
                "`{part}` is not a time-zone name part (letters, digits, '.', '-', '_', '+')"
            ));
        }
        if part.is_empty() || part.len() > 14 {
            return Err(format!(
                "`{part}` is not a time-zone name part (1 to 14 characters)"
            ));
        }
    }
    if parts.len() > 1 && !AREAS.contains(&parts[0]) {
        let hint = AREAS
            .iter()
            .find(|a| a.eq_ignore_ascii_case(parts[0]))
            .map(|a| format!(" (names are case-sensitive: `{a}`)"))
            .unwrap_or_default();
        return Err(format!(
            "`{}` is not an IANA time-zone area{hint}",
            parts[0]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) {
        assert_eq!(check_schedule(s), Ok(()), "{s}");
    }

    fn bad(s: &str, why: &str) {
        assert_eq!(
            check_schedule(s),
            Err(ScheduleError::Invalid(why.to_owned())),
            "{s}"
        );
    }

    #[test]
    fn accepts_what_kubernetes_accepts() {
        for s in [
            "0 2 * * *",
            "*/15 * * * *",
            "0 9-17/2 * * mon-fri",
            "30 4 1,15 * *",
            "0 0 ? JAN SUN",
            "5/10 * * * *",
            "0 0 1 1 *",
            "  0   2 * * *  ",
            "@hourly",
            "@daily",
            "@midnight",
            "@weekly",
            "@monthly",
            "@yearly",
            "@annually",
            "@every 1h30m",
            "@every 90s",
            "@every 1.5h",
            "@every 0",
        ] {
            ok(s);
        }
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        bad(
            "0 2 * *",
            "expected exactly 5 fields (minute hour day-of-month month day-of-week), found 4",
        );
        bad(
            "0 0 2 * * *",
            "expected exactly 5 fields (minute hour day-of-month month day-of-week), found 6",
        );
        bad(
            "60 * * * *",
            "minute field `60`: 60 is above the maximum 59 for the minute",
        );
        bad(
            "0 24 * * *",
            "hour field `24`: 24 is above the maximum 23 for the hour",
        );
        bad(
            "0 0 0 * *",
            "day of month field `0`: 0 is below the minimum 1 for the day of month",
        );
        bad(
            "0 0 * * 7",
            "day of week field `7`: 7 is above the maximum 6 for the day of week",
        );
        bad("0 0 * * L", "day of week field `L`: `L` is not a number");
        bad(
            "0 3 * * mon-fir",
            "day of week field `mon-fir`: `fir` is not a day of week name; did you mean `fri`?",
        );
        bad(
            "0 3 * * Monday",
            "day of week field `Monday`: `Monday` is not a day of week name; did you mean `mon`?",
        );
        bad(
            "0 3 1 jnu *",
            "month field `jnu`: `jnu` is not a month name; did you mean `jun`?",
        );
        bad(
            "0 0 * 13 *",
            "month field `13`: 13 is above the maximum 12 for the month",
        );
        bad(
            "5-1 * * * *",
            "minute field `5-1`: the range 5-1 runs backwards",
        );
        bad(
            "*/0 * * * *",
            "minute field `*/0`: the step in `*/0` must be a positive number",
        );
        bad(
            "1/2/3 * * * *",
            "minute field `1/2/3`: too many slashes in `1/2/3`",
        );
        bad(
            "1-2-3 * * * *",
            "minute field `1-2-3`: too many hyphens in `1-2-3`",
        );
        bad("1,,2 * * * *", "minute field `1,,2`: a number is missing");
        bad(
            "*/-1 * * * *",
            "minute field `*/-1`: negative number `-1` not allowed",
        );
        bad(
            "@reboot",
            "unrecognized descriptor `@reboot` (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>)",
        );
        bad("@every 5", "`5` is not a duration such as 90m or 1h30m");
        bad("", "the schedule is empty");
    }

    #[test]
    fn time_zone_prefixes_are_refused() {
        assert_eq!(
            check_schedule("CRON_TZ=UTC 0 2 * * *"),
            Err(ScheduleError::TimeZoneInSchedule)
        );
        assert_eq!(
            check_schedule("TZ=Europe/Berlin 0 2 * * *"),
            Err(ScheduleError::TimeZoneInSchedule)
        );
    }

    #[test]
    fn time_zones() {
        for tz in [
            "UTC",
            "Etc/UTC",
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
            "EST5EDT",
            "Etc/GMT+5",
            "US/Eastern",
        ] {
            assert_eq!(check_time_zone(tz), Ok(()), "{tz}");
        }
        assert_eq!(
            check_time_zone("Local"),
            Err("`Local` is the controller's own zone, not an explicit one".to_owned())
        );
        assert_eq!(
            check_time_zone("europe/berlin"),
            Err(
                "`europe` is not an IANA time-zone area (names are case-sensitive: `Europe`)"
                    .to_owned()
            )
        );
        assert_eq!(
            check_time_zone("Europe Berlin"),
            Err("`Europe Berlin` is not a time-zone name part (letters, digits, '.', '-', '_', '+')".to_owned())
        );
        assert_eq!(
            check_time_zone("Europe/../etc"),
            Err(
                "`..` is not a time-zone name part (letters, digits, '.', '-', '_', '+')"
                    .to_owned()
            )
        );
        assert_eq!(
            check_time_zone("Europe/"),
            Err("`` is not a time-zone name part (1 to 14 characters)".to_owned())
        );
    }
}
