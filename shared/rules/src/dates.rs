//! Parsing the date and time arguments the voice agent's LLM fills in tool calls.
//!
//! All inputs are trimmed, runs of whitespace count as one space, and keywords are English
//! and case-insensitive. Weeks run Monday to Sunday. Past dates are not an error here: the
//! caller decides what to do with them.
//!
//! # Single dates ([`parse_date`])
//!
//! | input                                          | date                                  |
//! |------------------------------------------------|---------------------------------------|
//! | `2026-11-25`                                   | that date (ISO 8601)                  |
//! | `2026-11-25T09:00:00-05:00`                    | its date part as written (RFC 3339)   |
//! | `2026-11-25T09:00`, `2026-11-25 9am`, …        | the date part of a [`parse_start`] form |
//! | `today`, `tomorrow`                            | today, today + 1                      |
//! | `day after tomorrow`, `the day after tomorrow` | today + 2                             |
//! | `tuesday`, `this tuesday`, `tue`, `tues`       | the first Tuesday on or after today   |
//! | `next tuesday`, `next tue`                     | the Tuesday of next week              |
//!
//! A bare weekday is today when today is that weekday, else the next one (never more than
//! 6 days ahead). `next <weekday>` is that weekday in the week starting next Monday (1 to 13
//! days ahead). So on Monday 2026-11-23, `tuesday` is 2026-11-24 and `next tuesday` is
//! 2026-12-01; on Sunday 2026-11-29 both are 2026-12-01. Weekday abbreviations: `mon`,
//! `tue`/`tues`, `wed`, `thu`/`thur`/`thurs`, `fri`, `sat`, `sun`.
//!
//! # Date ranges ([`parse_date_range`])
//!
//! Inclusive at both ends. Any single date above is a one-day range. Two single dates
//! (each in any of the forms above, e.g. `today to friday`) joined as `A..B`, `A/B`,
//! `A to B`, `A - B`, `A – B` (en or em dash, spaced or not), `A through B`, `A thru B`,
//! `A until B`, `A till B`, with an optional leading `from` (`from A to B`); or
//! `between A and B`; or two ISO dates joined by a bare hyphen (`2026-11-25-2026-11-28`).
//! Keywords:
//!
//! | input                                    | range                                        |
//! |------------------------------------------|----------------------------------------------|
//! | `this week`                              | today .. this Sunday                         |
//! | `next week`                              | next Monday .. the Sunday after it           |
//! | `weekend`, `this weekend`, `the weekend` | the coming Saturday .. Sunday (on a Saturday or Sunday: today .. Sunday) |
//! | `next weekend`                           | Saturday .. Sunday of next week              |
//! | `next N days`, `the next N days`         | today .. today + N - 1 (N ≥ 1, digits)       |
//!
//! A range whose end is before its start is [`DateError::Reversed`]; one longer than
//! `max_days` days (counting both ends) is [`DateError::TooLong`].
//!
//! # Start times ([`parse_start`])
//!
//! * RFC 3339 with `Z` or an offset (`2026-11-25T09:00:00-05:00`, `2026-11-25T14:00:00Z`,
//!   fractions of a second allowed): that instant.
//! * The same with the seconds left out or a space instead of `T`
//!   (`2026-11-25T09:00-05:00`, `2026-11-25 09:00Z`): that instant. Offsets `±HH`,
//!   `±HHMM`, `±HH:MM`.
//! * A date and a local time without offset: the wall-clock time in the business's zone.
//!   The date is ISO (`2026-11-25`) and is followed by `T` or a space (optionally `at`),
//!   then `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff` (24-hour, one- or two-digit hour), or a
//!   12-hour time `9am`, `9 AM`, `9:30 pm`, `9:30:00 PM`, `9 a.m.` (hours 1 to 12;
//!   `12 AM` is midnight, `12 PM` is noon). Examples: `2026-11-25T09:00`,
//!   `2026-11-25T09:00:00`, `2026-11-25 09:00`, `2026-11-25 9:00 AM`, `2026-11-25 9am`,
//!   `2026-11-25 at 2:30pm`.
//!
//!   A local time skipped when the clocks go forward is
//!   [`DateError::NonexistentLocalTime`]. A local time that happens twice when the clocks go
//!   back resolves to the EARLIER instant (the first occurrence, still on daylight time):
//!   `2026-11-01 01:30` in New York is `05:30Z`, not `06:30Z`.
//!
//! [`parse_start_on`] also takes a relative day as the date part: any single date form
//! above, then a space (optionally `at`), then a local time: `tomorrow 9am`,
//! `next tuesday at 10:00`, `friday 2:30 pm`. The agent is given today's date and should
//! send full dates; the relative forms are there for when it does not.

use chrono::{
    DateTime, Datelike, Days, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Serialize;

/// An inclusive range of local dates, `from <= to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// The number of days in the range, counting both ends (at least 1).
    pub fn days(&self) -> i64 {
        self.to.signed_duration_since(self.from).num_days() + 1
    }

    /// Whether `date` is in the range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }
}

/// Why a date or time argument was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not one of the accepted forms; holds the input as received.
    #[error("{0:?} is not a date, date range or time in an accepted form")]
    Unparseable(String),
    #[error("the date range ends on {to}, before it starts on {from}")]
    Reversed { from: NaiveDate, to: NaiveDate },
    /// `days` counts both ends.
    #[error("the date range spans {days} days, more than the maximum of {max}")]
    TooLong { days: i64, max: i64 },
    /// The local time falls in a daylight-saving gap; holds the input as received.
    #[error("{0:?} does not exist in the business's time zone (the clocks skip it)")]
    NonexistentLocalTime(String),
}

/// Trimmed, lower case, whitespace runs collapsed to one space.
fn normalize(input: &str) -> String {
    input
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `2026-11-25` (and any year `NaiveDate`'s `Display` writes, such as `+10000-01-01`).
fn iso_date(s: &str) -> Option<NaiveDate> {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == '+');
    if plain { s.parse().ok() } else { None }
}

/// Exactly `min..=max` ASCII digits.
fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// `+05`, `-0500`, `+05:30`.
fn offset(s: &str) -> Option<FixedOffset> {
    let (sign, body) = if let Some(body) = s.strip_prefix('+') {
        (1, body)
    } else {
        (-1, s.strip_prefix('-')?)
    };
    if !body.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let (hours, minutes) = match body.len() {
        2 => (digits(body, 2, 2)?, 0),
        4 => (digits(&body[..2], 2, 2)?, digits(&body[2..], 2, 2)?),
        5 => {
            let (h, m) = body.split_once(':')?;
            (digits(h, 2, 2)?, digits(m, 2, 2)?)
        }
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    FixedOffset::east_opt(sign * seconds)
}

/// Splits a trailing `z` or numeric offset off a time.
fn split_offset(time: &str) -> (&str, Option<FixedOffset>) {
    if let Some(rest) = time.strip_suffix('z') {
        return (rest.trim_end(), FixedOffset::east_opt(0));
    }
    if let Some(at) = time.rfind(['+', '-']) {
        let (head, tail) = time.split_at(at);
        if !head.trim().is_empty()
            && let Some(found) = offset(tail)
        {
            return (head.trim_end(), Some(found));
        }
    }
    (time, None)
}

/// `SS` or `SS.fff…` (digits beyond nanoseconds are dropped).
fn seconds(s: &str) -> Option<(u32, u32)> {
    let (whole, fraction) = match s.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (s, None),
    };
    let whole = digits(whole, 2, 2)?;
    let nanos = match fraction {
        None => 0,
        Some(fraction) => {
            if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            fraction
                .bytes()
                .chain(std::iter::repeat(b'0'))
                .take(9)
                .fold(0, |nanos, digit| nanos * 10 + u32::from(digit - b'0'))
        }
    };
    Some((whole, nanos))
}

/// A wall-clock time: 24-hour `H:MM[:SS[.fff]]`, or 12-hour `H[:MM[:SS]] am|pm|a.m.|p.m.`.
fn clock(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    let mut meridiem = None;
    for (suffix, pm) in [
        ("a.m.", false),
        ("p.m.", true),
        ("a.m", false),
        ("p.m", true),
        ("am", false),
        ("pm", true),
    ] {
        if let Some(rest) = s.strip_suffix(suffix) {
            meridiem = Some((rest.trim_end(), pm));
            break;
        }
    }
    let (s, pm) = match meridiem {
        Some((rest, pm)) => (rest, Some(pm)),
        None => (s, None),
    };
    let mut parts = s.split(':');
    let hour = digits(parts.next()?, 1, 2)?;
    let minute = match parts.next() {
        Some(minute) => digits(minute, 2, 2)?,
        None if pm.is_some() => 0,
        None => return None,
    };
    let (second, nano) = match parts.next() {
        Some(second) => seconds(second)?,
        None => (0, 0),
    };
    if parts.next().is_some() {
        return None;
    }
    let hour = match pm {
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(pm) => hour % 12 + if pm { 12 } else { 0 },
        None => hour,
    };
    NaiveTime::from_hms_nano_opt(hour, minute, second, nano)
}

/// A normalized date and time: an ISO date, `t` or a space (and an optional `at`), a
/// [`clock`] time, and an optional offset.
fn date_time(s: &str) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let (date, time) = s.split_once(['t', ' '])?;
    let date = iso_date(date)?;
    let time = time.trim();
    let time = time.strip_prefix("at ").unwrap_or(time);
    let (time, offset) = split_offset(time);
    Some((date.and_time(clock(time)?), offset))
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    })
}

fn plus(date: NaiveDate, days: u32) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(u64::from(days)))
}

/// The first `day` on or after `date`.
fn on_or_after(date: NaiveDate, day: Weekday) -> Option<NaiveDate> {
    plus(
        date,
        (day.num_days_from_monday() + 7 - date.weekday().num_days_from_monday()) % 7,
    )
}

/// The Monday after `date`'s week.
fn next_monday(date: NaiveDate) -> Option<NaiveDate> {
    plus(date, 7 - date.weekday().num_days_from_monday())
}

/// A single date in normalized input.
fn single_date(s: &str, today: NaiveDate) -> Option<NaiveDate> {
    if let Some(date) = iso_date(s) {
        return Some(date);
    }
    if let Ok(date_time) = DateTime::parse_from_rfc3339(s) {
        return Some(date_time.date_naive());
    }
    if let Some((date_time, _)) = date_time(s) {
        return Some(date_time.date());
    }
    match s {
        "today" => return Some(today),
        "tomorrow" => return plus(today, 1),
        "day after tomorrow" | "the day after tomorrow" => return plus(today, 2),
        _ => {}
    }
    if let Some(day) = s.strip_prefix("next ").and_then(weekday) {
        return plus(next_monday(today)?, day.num_days_from_monday());
    }
    let day = weekday(s.strip_prefix("this ").unwrap_or(s))?;
    on_or_after(today, day)
}

/// One of the range keywords in normalized input, `Err` for `next N days` over the maximum.
fn keyword_range(
    s: &str,
    today: NaiveDate,
    max_days: i64,
) -> Option<Result<(NaiveDate, NaiveDate), DateError>> {
    let range = |from: Option<NaiveDate>, to: Option<NaiveDate>| Some(Ok((from?, to?)));
    match s {
        "this week" => return range(Some(today), on_or_after(today, Weekday::Sun)),
        "next week" => {
            let monday = next_monday(today);
            return range(monday, monday.and_then(|m| plus(m, 6)));
        }
        "weekend" | "this weekend" | "the weekend" => {
            let from = if today.weekday() == Weekday::Sun {
                Some(today)
            } else {
                on_or_after(today, Weekday::Sat)
            };
            return range(from, on_or_after(today, Weekday::Sun));
        }
        "next weekend" => {
            let monday = next_monday(today);
            return range(
                monday.and_then(|m| plus(m, 5)),
                monday.and_then(|m| plus(m, 6)),
            );
        }
        _ => {}
    }
    let count = s.strip_prefix("the ").unwrap_or(s).strip_prefix("next ")?;
    let count = count
        .strip_suffix(" days")
        .or_else(|| count.strip_suffix(" day"))?;
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let days = count.parse::<i64>().unwrap_or(i64::MAX);
    if days == 0 {
        return None;
    }
    if days > max_days {
        return Some(Err(DateError::TooLong {
            days,
            max: max_days,
        }));
    }
    let last = u32::try_from(days - 1)
        .ok()
        .and_then(|offset| plus(today, offset));
    range(Some(today), last)
}

/// Two single dates joined by a separator, in normalized input.
fn joined_range(s: &str, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let both =
        |a: &str, b: &str| Some((single_date(a.trim(), today)?, single_date(b.trim(), today)?));
    if let Some(rest) = s.strip_prefix("between ") {
        let (a, b) = rest.split_once(" and ")?;
        return both(a, b);
    }
    let s = s.strip_prefix("from ").unwrap_or(s);
    const SEPARATORS: [&str; 10] = [
        "..",
        " to ",
        " through ",
        " thru ",
        " until ",
        " till ",
        " - ",
        "–",
        "—",
        "/",
    ];
    for separator in SEPARATORS {
        if let Some(found) = s.split_once(separator).and_then(|(a, b)| both(a, b)) {
            return Some(found);
        }
    }
    // Two ISO dates joined by a bare hyphen: 2026-11-25-2026-11-28.
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
    {
        for (at, _) in s.match_indices('-') {
            let (a, b) = (&s[..at], &s[at + 1..]);
            // A second hyphen would be read as a negative year: 2026-11-25--2026-11-28.
            if !b.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            if let (Some(a), Some(b)) = (iso_date(a), iso_date(b)) {
                return Some((a, b));
            }
        }
    }
    None
}

/// Parses a date range argument; see the [module documentation](self) for the forms.
///
/// `today` is the business's local date; `max_days` the longest range accepted, counting
/// both ends.
pub fn parse_date_range(
    input: &str,
    today: NaiveDate,
    max_days: i64,
) -> Result<DateRange, DateError> {
    let s = normalize(input);
    let unparseable = || DateError::Unparseable(input.to_owned());
    let (from, to) = match keyword_range(&s, today, max_days) {
        Some(found) => found?,
        None => single_date(&s, today)
            .map(|date| (date, date))
            .or_else(|| joined_range(&s, today))
            .ok_or_else(unparseable)?,
    };
    if to < from {
        return Err(DateError::Reversed { from, to });
    }
    let range = DateRange { from, to };
    let days = range.days();
    if days > max_days {
        return Err(DateError::TooLong {
            days,
            max: max_days,
        });
    }
    Ok(range)
}

/// Parses a single date argument; see the [module documentation](self) for the forms.
///
/// `today` is the business's local date.
pub fn parse_date(input: &str, today: NaiveDate) -> Result<NaiveDate, DateError> {
    single_date(&normalize(input), today).ok_or_else(|| DateError::Unparseable(input.to_owned()))
}

/// Parses a start time argument; see the [module documentation](self) for the forms.
///
/// Times without an offset are wall-clock times in `tz`; in the hour repeated when the
/// clocks go back they resolve to the earlier instant.
pub fn parse_start(input: &str, tz: Tz) -> Result<DateTime<Utc>, DateError> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(input.trim()) {
        return Ok(instant.with_timezone(&Utc));
    }
    let unparseable = || DateError::Unparseable(input.to_owned());
    let (local, offset) = date_time(&normalize(input)).ok_or_else(unparseable)?;
    match offset {
        Some(offset) => offset
            .from_local_datetime(&local)
            .single()
            .map(|instant| instant.with_timezone(&Utc))
            .ok_or_else(unparseable),
        None => match tz.from_local_datetime(&local) {
            LocalResult::Single(instant) => Ok(instant.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, second) => Ok(first.min(second).with_timezone(&Utc)),
            LocalResult::None => Err(DateError::NonexistentLocalTime(input.to_owned())),
        },
    }
}

/// Like [`parse_start`], and also accepts a relative day before the time
/// (`tomorrow 9am`, `next tuesday at 10:00`) judged from `today`, the business's local date.
pub fn parse_start_on(input: &str, tz: Tz, today: NaiveDate) -> Result<DateTime<Utc>, DateError> {
    match parse_start(input, tz) {
        Err(DateError::Unparseable(_)) => {}
        other => return other,
    }
    let s = normalize(input);
    // Every split at a space: the left part a single date, the right part a local time.
    let local = s
        .match_indices(' ')
        .filter_map(|(i, _)| {
            let (day, time) = (&s[..i], s[i + 1..].trim());
            let day = day.strip_suffix(" at").unwrap_or(day);
            let time = time.strip_prefix("at ").unwrap_or(time);
            Some(single_date(day, today)?.and_time(clock(time)?))
        })
        .next()
        .ok_or_else(|| DateError::Unparseable(input.to_owned()))?;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(instant) => Ok(instant.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, second) => Ok(first.min(second).with_timezone(&Utc)),
        LocalResult::None => Err(DateError::NonexistentLocalTime(input.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SecondsFormat, Timelike};
    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Lord_Howe;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn range(from: NaiveDate, to: NaiveDate) -> DateRange {
        DateRange { from, to }
    }

    /// A Tuesday.
    const TODAY: (i32, u32, u32) = (2026, 11, 24);

    fn today() -> NaiveDate {
        date(TODAY.0, TODAY.1, TODAY.2)
    }

    fn unparseable(input: &str) -> DateError {
        DateError::Unparseable(input.to_owned())
    }

    #[test]
    fn iso_dates() {
        for input in ["2026-11-25", "  2026-11-25\n", "2026-11-25 ", "2026-1-5"] {
            let expected = if input.contains("-1-5") {
                date(2026, 1, 5)
            } else {
                date(2026, 11, 25)
            };
            assert_eq!(parse_date(input, today()), Ok(expected), "{input:?}");
        }
        assert_eq!(parse_date("2028-02-29", today()), Ok(date(2028, 2, 29)));
        assert_eq!(
            parse_date("2020-01-01", today()),
            Ok(date(2020, 1, 1)),
            "past dates are fine"
        );
        assert_eq!(parse_date("+10000-01-01", today()), Ok(date(10000, 1, 1)));
        assert_eq!(parse_date("-0001-12-31", today()), Ok(date(-1, 12, 31)));
    }

    #[test]
    fn date_times_give_their_date_as_written() {
        for input in [
            "2026-11-25T09:00:00-05:00",
            "2026-11-25T23:30:00-05:00", // already the 26th in UTC
            "2026-11-25T02:00:00+09:00", // still the 24th in UTC
            "2026-11-25T09:00:00Z",
            "2026-11-25t09:00:00z",
            "2026-11-25 09:00:00.123+01:00",
            "2026-11-25T09:00",
            "2026-11-25T09:00:00",
            "2026-11-25 09:00",
            "2026-11-25 9:00 AM",
            "2026-11-25 9am",
            "2026-11-25T09:00-05:00",
        ] {
            assert_eq!(
                parse_date(input, today()),
                Ok(date(2026, 11, 25)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn relative_day_keywords() {
        for (input, expected) in [
            ("today", today()),
            ("TODAY", today()),
            ("  Tomorrow ", date(2026, 11, 25)),
            ("day after tomorrow", date(2026, 11, 26)),
            ("the day after  tomorrow", date(2026, 11, 26)),
            ("Day After Tomorrow", date(2026, 11, 26)),
        ] {
            assert_eq!(parse_date(input, today()), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn weekday_names_on_every_weekday() {
        let monday = date(2026, 11, 23);
        let next_monday = date(2026, 11, 30);
        let names = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        for today_offset in 0..7u64 {
            let today = monday + Days::new(today_offset);
            for (target_offset, name) in (0..7u64).zip(names) {
                // "tuesday": this week's Tuesday if still ahead (or today), else next week's.
                let this_week = monday + Days::new(target_offset);
                let expected = if target_offset >= today_offset {
                    this_week
                } else {
                    this_week + Days::new(7)
                };
                assert_eq!(parse_date(name, today), Ok(expected), "{name} on {today}");
                assert_eq!(
                    parse_date(&format!("this {name}"), today),
                    Ok(expected),
                    "this {name} on {today}"
                );
                // "next tuesday": always the Tuesday of next week.
                let next = next_monday + Days::new(target_offset);
                assert_eq!(
                    parse_date(&format!("next {name}"), today),
                    Ok(next),
                    "next {name} on {today}"
                );
                assert_eq!(
                    parse_date(&format!("Next {}", name.to_uppercase()), today),
                    Ok(next)
                );
            }
        }
    }

    #[test]
    fn weekday_rules_spelled_out() {
        let monday = date(2026, 11, 23);
        let tuesday = date(2026, 11, 24);
        let wednesday = date(2026, 11, 25);
        let sunday = date(2026, 11, 29);
        assert_eq!(parse_date("tuesday", monday), Ok(tuesday));
        assert_eq!(parse_date("next tuesday", monday), Ok(date(2026, 12, 1)));
        assert_eq!(parse_date("tuesday", tuesday), Ok(tuesday), "today counts");
        assert_eq!(parse_date("next tuesday", tuesday), Ok(date(2026, 12, 1)));
        assert_eq!(parse_date("tuesday", wednesday), Ok(date(2026, 12, 1)));
        assert_eq!(parse_date("next tuesday", wednesday), Ok(date(2026, 12, 1)));
        assert_eq!(parse_date("monday", sunday), Ok(date(2026, 11, 30)));
        assert_eq!(parse_date("next monday", sunday), Ok(date(2026, 11, 30)));
        assert_eq!(parse_date("sunday", sunday), Ok(sunday));
        assert_eq!(parse_date("next sunday", sunday), Ok(date(2026, 12, 6)));
    }

    #[test]
    fn weekday_abbreviations() {
        for (input, expected) in [
            ("mon", date(2026, 11, 30)),
            ("tue", today()),
            ("Tues", today()),
            ("wed", date(2026, 11, 25)),
            ("thu", date(2026, 11, 26)),
            ("thur", date(2026, 11, 26)),
            ("THURS", date(2026, 11, 26)),
            ("fri", date(2026, 11, 27)),
            ("this fri", date(2026, 11, 27)),
            ("next fri", date(2026, 12, 4)),
            ("sat", date(2026, 11, 28)),
            ("sun", date(2026, 11, 29)),
        ] {
            assert_eq!(parse_date(input, today()), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn year_end_and_leap_day() {
        let new_years_eve = date(2026, 12, 31); // a Thursday
        assert_eq!(parse_date("tomorrow", new_years_eve), Ok(date(2027, 1, 1)));
        assert_eq!(
            parse_date("day after tomorrow", new_years_eve),
            Ok(date(2027, 1, 2))
        );
        assert_eq!(parse_date("friday", new_years_eve), Ok(date(2027, 1, 1)));
        assert_eq!(parse_date("thursday", new_years_eve), Ok(new_years_eve));
        assert_eq!(
            parse_date("next monday", new_years_eve),
            Ok(date(2027, 1, 4))
        );
        assert_eq!(
            parse_date("tomorrow", date(2028, 2, 28)),
            Ok(date(2028, 2, 29))
        );
        assert_eq!(
            parse_date("tomorrow", date(2028, 2, 29)),
            Ok(date(2028, 3, 1))
        );
        assert_eq!(
            parse_date("tomorrow", date(2027, 2, 28)),
            Ok(date(2027, 3, 1))
        );
        assert_eq!(
            parse_date("2027-02-29", today()),
            Err(unparseable("2027-02-29"))
        );
    }

    #[test]
    fn unparseable_dates_keep_the_input() {
        for input in [
            "",
            "   ",
            "next",
            "this",
            "tuesdays",
            "next next tuesday",
            "yesterday-ish",
            "2026-13-01",
            "2026-02-30",
            "2026-11-25x",
            "11/25/2026",
            "25.11.2026",
            "November 25",
            "2026 - 11 - 25",
            "this week",
            "next week",
            "2026-11-25..2026-11-28",
            "2026-11-25 25:00",
            "martes",
            "mañana",
            "🗓️",
        ] {
            assert_eq!(
                parse_date(input, today()),
                Err(unparseable(input)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn single_dates_are_one_day_ranges() {
        assert_eq!(
            parse_date_range("2026-11-25", today(), 31),
            Ok(range(date(2026, 11, 25), date(2026, 11, 25)))
        );
        assert_eq!(
            parse_date_range("tomorrow", today(), 31),
            Ok(range(date(2026, 11, 25), date(2026, 11, 25)))
        );
        assert_eq!(
            parse_date_range("next friday", today(), 31),
            Ok(range(date(2026, 12, 4), date(2026, 12, 4)))
        );
        assert_eq!(
            parse_date_range("2026-11-25T09:00:00-05:00", today(), 31),
            Ok(range(date(2026, 11, 25), date(2026, 11, 25)))
        );
        assert_eq!(
            parse_date_range("2020-01-01", today(), 31),
            Ok(range(date(2020, 1, 1), date(2020, 1, 1)))
        );
    }

    #[test]
    fn explicit_ranges() {
        let expected = Ok(range(date(2026, 11, 25), date(2026, 11, 28)));
        for input in [
            "2026-11-25..2026-11-28",
            "2026-11-25 .. 2026-11-28",
            "2026-11-25/2026-11-28",
            "2026-11-25 to 2026-11-28",
            "2026-11-25 TO 2026-11-28",
            "2026-11-25 - 2026-11-28",
            "2026-11-25-2026-11-28",
            "2026-11-25 – 2026-11-28",
            "2026-11-25–2026-11-28",
            "2026-11-25 — 2026-11-28",
            "2026-11-25 through 2026-11-28",
            "2026-11-25 thru 2026-11-28",
            "2026-11-25 until 2026-11-28",
            "2026-11-25 till 2026-11-28",
            "from 2026-11-25 to 2026-11-28",
            "From 2026-11-25 To 2026-11-28",
            "from 2026-11-25 - 2026-11-28",
            "between 2026-11-25 and 2026-11-28",
            "  2026-11-25   to\t2026-11-28  ",
            "2026-11-25T09:00:00-05:00/2026-11-28T17:00:00-05:00",
            "2026-11-25T00:00:00Z..2026-11-28T23:59:59Z",
            "2026-11-25 9am to 2026-11-28 5pm",
            "tomorrow..2026-11-28",
            "wednesday to saturday",
            "from tomorrow until sat",
        ] {
            assert_eq!(parse_date_range(input, today(), 31), expected, "{input:?}");
        }
        assert_eq!(
            parse_date_range("today to friday", today(), 31),
            Ok(range(today(), date(2026, 11, 27)))
        );
        assert_eq!(
            parse_date_range("2026-11-25..2026-11-25", today(), 31),
            Ok(range(date(2026, 11, 25), date(2026, 11, 25)))
        );
        assert_eq!(
            parse_date_range("2026-12-30..2027-01-02", today(), 31),
            Ok(range(date(2026, 12, 30), date(2027, 1, 2)))
        );
        assert_eq!(
            parse_date_range("2028-02-28..2028-03-01", today(), 31),
            Ok(range(date(2028, 2, 28), date(2028, 3, 1)))
        );
    }

    #[test]
    fn range_keywords() {
        for (input, from, to) in [
            ("this week", today(), date(2026, 11, 29)),
            ("This  Week", today(), date(2026, 11, 29)),
            ("next week", date(2026, 11, 30), date(2026, 12, 6)),
            ("weekend", date(2026, 11, 28), date(2026, 11, 29)),
            ("this weekend", date(2026, 11, 28), date(2026, 11, 29)),
            ("the weekend", date(2026, 11, 28), date(2026, 11, 29)),
            ("next weekend", date(2026, 12, 5), date(2026, 12, 6)),
            ("next 7 days", today(), date(2026, 11, 30)),
            ("the next 3 days", today(), date(2026, 11, 26)),
            ("The Next 14 Days", today(), date(2026, 12, 7)),
            ("next 1 day", today(), today()),
            ("next 1 days", today(), today()),
            ("next 007 days", today(), date(2026, 11, 30)),
        ] {
            assert_eq!(
                parse_date_range(input, today(), 31),
                Ok(range(from, to)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn week_boundaries() {
        let monday = date(2026, 11, 23);
        let saturday = date(2026, 11, 28);
        let sunday = date(2026, 11, 29);
        let week = |input: &str, today: NaiveDate| parse_date_range(input, today, 31).unwrap();
        assert_eq!(week("this week", monday), range(monday, sunday));
        assert_eq!(
            week("next week", monday),
            range(date(2026, 11, 30), date(2026, 12, 6))
        );
        assert_eq!(week("weekend", monday), range(saturday, sunday));
        assert_eq!(week("this week", saturday), range(saturday, sunday));
        assert_eq!(week("weekend", saturday), range(saturday, sunday));
        assert_eq!(
            week("next weekend", saturday),
            range(date(2026, 12, 5), date(2026, 12, 6))
        );
        assert_eq!(week("this week", sunday), range(sunday, sunday));
        assert_eq!(week("weekend", sunday), range(sunday, sunday));
        assert_eq!(
            week("next week", sunday),
            range(date(2026, 11, 30), date(2026, 12, 6))
        );
        assert_eq!(
            week("next weekend", sunday),
            range(date(2026, 12, 5), date(2026, 12, 6))
        );
        assert_eq!(
            week("weekend", date(2026, 11, 27)),
            range(saturday, sunday),
            "on a Friday"
        );
    }

    #[test]
    fn range_keywords_across_the_year_end_and_leap_day() {
        let new_years_eve = date(2026, 12, 31); // a Thursday
        let range_of = |input: &str, today: NaiveDate| parse_date_range(input, today, 31).unwrap();
        assert_eq!(
            range_of("this week", new_years_eve),
            range(new_years_eve, date(2027, 1, 3))
        );
        assert_eq!(
            range_of("next week", new_years_eve),
            range(date(2027, 1, 4), date(2027, 1, 10))
        );
        assert_eq!(
            range_of("weekend", new_years_eve),
            range(date(2027, 1, 2), date(2027, 1, 3))
        );
        assert_eq!(
            range_of("next 3 days", new_years_eve),
            range(new_years_eve, date(2027, 1, 2))
        );
        assert_eq!(
            range_of("next 3 days", date(2028, 2, 27)),
            range(date(2028, 2, 27), date(2028, 2, 29))
        );
        assert_eq!(
            range_of("this week", date(2028, 2, 28)),
            range(date(2028, 2, 28), date(2028, 3, 5))
        );
    }

    #[test]
    fn reversed_ranges() {
        assert_eq!(
            parse_date_range("2026-11-28..2026-11-25", today(), 31),
            Err(DateError::Reversed {
                from: date(2026, 11, 28),
                to: date(2026, 11, 25)
            })
        );
        assert_eq!(
            parse_date_range("friday to today", today(), 31),
            Err(DateError::Reversed {
                from: date(2026, 11, 27),
                to: today()
            })
        );
    }

    #[test]
    fn too_long_ranges() {
        assert_eq!(
            parse_date_range("2026-11-01..2026-12-01", today(), 31),
            Ok(range(date(2026, 11, 1), date(2026, 12, 1)))
        );
        assert_eq!(
            parse_date_range("2026-11-01..2026-12-02", today(), 31),
            Err(DateError::TooLong { days: 32, max: 31 })
        );
        assert_eq!(
            parse_date_range("next 31 days", today(), 31).map(|r| r.days()),
            Ok(31)
        );
        assert_eq!(
            parse_date_range("next 32 days", today(), 31),
            Err(DateError::TooLong { days: 32, max: 31 })
        );
        assert_eq!(
            parse_date_range("next 99999999999999999999999 days", today(), 31),
            Err(DateError::TooLong {
                days: i64::MAX,
                max: 31
            })
        );
        assert_eq!(
            parse_date_range("next week", today(), 6),
            Err(DateError::TooLong { days: 7, max: 6 })
        );
        assert_eq!(
            parse_date_range("today", today(), 0),
            Err(DateError::TooLong { days: 1, max: 0 })
        );
        assert_eq!(
            parse_date_range("next 5 days", date(262_142, 12, 29), i64::MAX),
            Err(unparseable("next 5 days")),
            "past the last representable date"
        );
    }

    #[test]
    fn unparseable_ranges_keep_the_input() {
        for input in [
            "",
            "next 0 days",
            "next -1 days",
            "next days",
            "next 1.5 days",
            "next seven days",
            "2026-11-25 to",
            "to 2026-11-28",
            "..",
            "2026-11-25..",
            "2026-11-25...2026-11-28",
            "2026-11-25 and 2026-11-28",
            "between 2026-11-25",
            "from 2026-11-25",
            "this month",
            "last week",
            "2026-11-25-2026-11",
            "2026-11-25--2026-11-28",
        ] {
            assert_eq!(
                parse_date_range(input, today(), 31),
                Err(unparseable(input)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn date_range_helpers() {
        let week = range(date(2026, 11, 23), date(2026, 11, 29));
        assert_eq!(week.days(), 7);
        assert!(week.contains(date(2026, 11, 23)));
        assert!(week.contains(date(2026, 11, 29)));
        assert!(!week.contains(date(2026, 11, 30)));
        assert_eq!(
            serde_json::to_value(week).unwrap(),
            serde_json::json!({"from": "2026-11-23", "to": "2026-11-29"})
        );
    }

    #[test]
    fn starts_with_an_offset_are_that_instant() {
        let nine_in_new_york = utc("2026-11-25T14:00:00Z");
        for input in [
            "2026-11-25T09:00:00-05:00",
            "2026-11-25T14:00:00Z",
            "2026-11-25T14:00:00+00:00",
            "2026-11-25t14:00:00z",
            "2026-11-25 14:00:00Z",
            "2026-11-25T15:00:00+01:00",
            " 2026-11-25T09:00:00-05:00 ",
            "2026-11-25T09:00-05:00",
            "2026-11-25T09:00:00-0500",
            "2026-11-25T09:00-05",
            "2026-11-25 14:00Z",
            "2026-11-25 9am -05:00",
            "2026-11-25T19:30+05:30",
        ] {
            for zone in [New_York, Lord_Howe, chrono_tz::UTC] {
                assert_eq!(
                    parse_start(input, zone),
                    Ok(nine_in_new_york),
                    "{input:?} in {zone}"
                );
            }
        }
        assert_eq!(
            parse_start("2026-11-25T14:00:00.250Z", New_York),
            Ok(nine_in_new_york + chrono::TimeDelta::milliseconds(250))
        );
        assert_eq!(
            parse_start("2026-11-25T09:00:00.1234567891234-05:00", New_York),
            Ok(nine_in_new_york + chrono::TimeDelta::nanoseconds(123_456_789))
        );
    }

    #[test]
    fn starts_without_an_offset_are_local_wall_times() {
        let nine_in_new_york = utc("2026-11-25T14:00:00Z");
        for input in [
            "2026-11-25T09:00",
            "2026-11-25T09:00:00",
            "2026-11-25T09:00:00.000",
            "2026-11-25T9:00",
            "2026-11-25 09:00",
            "2026-11-25 9:00",
            "2026-11-25 09:00:00",
            "2026-11-25 9:00 AM",
            "2026-11-25 9:00 am",
            "2026-11-25 9:00am",
            "2026-11-25 9am",
            "2026-11-25 9 AM",
            "2026-11-25 9 a.m.",
            "2026-11-25 9 a.m",
            "2026-11-25 09:00:00 AM",
            "2026-11-25 at 9am",
            "2026-11-25  AT  9 AM",
            "  2026-11-25   9am  ",
        ] {
            assert_eq!(
                parse_start(input, New_York),
                Ok(nine_in_new_york),
                "{input:?}"
            );
        }
        for (input, expected) in [
            ("2026-11-25 2:30pm", "2026-11-25T19:30:00Z"),
            ("2026-11-25 2:30 P.M.", "2026-11-25T19:30:00Z"),
            ("2026-11-25 14:30", "2026-11-25T19:30:00Z"),
            ("2026-11-25 12pm", "2026-11-25T17:00:00Z"),
            ("2026-11-25 12 PM", "2026-11-25T17:00:00Z"),
            ("2026-11-25 12am", "2026-11-25T05:00:00Z"),
            ("2026-11-25 12:30 AM", "2026-11-25T05:30:00Z"),
            ("2026-11-25 00:00", "2026-11-25T05:00:00Z"),
            ("2026-11-25 23:59:59", "2026-11-26T04:59:59Z"),
            ("2026-07-01 09:00", "2026-07-01T13:00:00Z"),
        ] {
            assert_eq!(parse_start(input, New_York), Ok(utc(expected)), "{input:?}");
        }
        assert_eq!(
            parse_start("2026-11-25 09:00", chrono_tz::Europe::Berlin),
            Ok(utc("2026-11-25T08:00:00Z"))
        );
        assert_eq!(
            parse_start("2026-11-25 09:00", Lord_Howe),
            Ok(utc("2026-11-24T22:00:00Z"))
        );
    }

    #[test]
    fn new_york_daylight_saving() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT.
        for input in [
            "2026-03-08 02:30",
            "2026-03-08T02:00",
            "2026-03-08 2:59 AM",
            "2026-03-08T02:30:00",
        ] {
            assert_eq!(
                parse_start(input, New_York),
                Err(DateError::NonexistentLocalTime(input.to_owned())),
                "{input:?}"
            );
        }
        assert_eq!(
            parse_start("2026-03-08 01:59", New_York),
            Ok(utc("2026-03-08T06:59:00Z"))
        );
        assert_eq!(
            parse_start("2026-03-08 03:00", New_York),
            Ok(utc("2026-03-08T07:00:00Z"))
        );
        // With an explicit offset the gap does not matter.
        assert_eq!(
            parse_start("2026-03-08T02:30:00-05:00", New_York),
            Ok(utc("2026-03-08T07:30:00Z"))
        );
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:00-01:59 happen twice.
        assert_eq!(
            parse_start("2026-11-01 01:30", New_York),
            Ok(utc("2026-11-01T05:30:00Z")),
            "the earlier"
        );
        assert_eq!(
            parse_start("2026-11-01 1:30 AM", New_York),
            Ok(utc("2026-11-01T05:30:00Z"))
        );
        assert_eq!(
            parse_start("2026-11-01 01:00", New_York),
            Ok(utc("2026-11-01T05:00:00Z"))
        );
        assert_eq!(
            parse_start("2026-11-01 01:59:59", New_York),
            Ok(utc("2026-11-01T05:59:59Z"))
        );
        assert_eq!(
            parse_start("2026-11-01 00:59", New_York),
            Ok(utc("2026-11-01T04:59:00Z"))
        );
        assert_eq!(
            parse_start("2026-11-01 02:00", New_York),
            Ok(utc("2026-11-01T07:00:00Z"))
        );
        // The later one can still be asked for with its offset.
        assert_eq!(
            parse_start("2026-11-01T01:30:00-05:00", New_York),
            Ok(utc("2026-11-01T06:30:00Z"))
        );
    }

    #[test]
    fn lord_howe_half_hour_daylight_saving() {
        // 2026-10-04: 02:00 +1030 jumps to 02:30 +11.
        assert_eq!(
            parse_start("2026-10-04 02:15", Lord_Howe),
            Err(DateError::NonexistentLocalTime("2026-10-04 02:15".into()))
        );
        assert_eq!(
            parse_start("2026-10-04 01:59", Lord_Howe),
            Ok(utc("2026-10-03T15:29:00Z"))
        );
        assert_eq!(
            parse_start("2026-10-04 02:30", Lord_Howe),
            Ok(utc("2026-10-03T15:30:00Z"))
        );
        // 2026-04-05: 02:00 +11 falls back to 01:30 +1030; 01:30-01:59 happen twice.
        assert_eq!(
            parse_start("2026-04-05 01:45", Lord_Howe),
            Ok(utc("2026-04-04T14:45:00Z")),
            "the earlier"
        );
        assert_eq!(
            parse_start("2026-04-05 01:29", Lord_Howe),
            Ok(utc("2026-04-04T14:29:00Z"))
        );
        assert_eq!(
            parse_start("2026-04-05 02:00", Lord_Howe),
            Ok(utc("2026-04-04T15:30:00Z"))
        );
    }

    #[test]
    fn relative_days_before_a_time() {
        // Today is Tuesday 2026-11-24 in New York (UTC-5).
        for (input, expected) in [
            ("tomorrow 9am", "2026-11-25T14:00:00Z"),
            ("Tomorrow at 9:30 AM", "2026-11-25T14:30:00Z"),
            ("next tuesday at 10:00", "2026-12-01T15:00:00Z"),
            ("friday 2:30 pm", "2026-11-27T19:30:00Z"),
            ("today 16:00", "2026-11-24T21:00:00Z"),
            ("the day after tomorrow at 8 a.m.", "2026-11-26T13:00:00Z"),
            ("2026-11-25 9am", "2026-11-25T14:00:00Z"),
            ("2026-11-25T09:00:00Z", "2026-11-25T09:00:00Z"),
        ] {
            assert_eq!(
                parse_start_on(input, New_York, today()),
                Ok(utc(expected)),
                "{input:?}"
            );
        }
        // Relative forms are only for parse_start_on.
        assert_eq!(
            parse_start("tomorrow 9am", New_York),
            Err(unparseable("tomorrow 9am"))
        );
        for input in [
            "tomorrow",
            "9am",
            "tomorrow 25:00",
            "someday 9am",
            "next 9am",
        ] {
            assert_eq!(
                parse_start_on(input, New_York, today()),
                Err(unparseable(input)),
                "{input:?}"
            );
        }
        // The spring-forward gap is still refused: 2027-03-14 02:30 does not exist in New York.
        let march = date(2027, 3, 13);
        assert_eq!(
            parse_start_on("tomorrow 2:30", New_York, march),
            Err(DateError::NonexistentLocalTime("tomorrow 2:30".into()))
        );
    }

    #[test]
    fn unparseable_starts_keep_the_input() {
        for input in [
            "",
            "2026-11-25",
            "9am",
            "09:00",
            "tomorrow 9am",
            "tomorrow at 9am",
            "2026-11-25 9",
            "2026-11-25 09",
            "2026-11-25 13pm",
            "2026-11-25 0am",
            "2026-11-25 12:60",
            "2026-11-25 24:00",
            "2026-11-25 25:00",
            "2026-11-25 9:5",
            "2026-11-25 9:005",
            "2026-11-25 009:00",
            "2026-11-25 09:00:60",
            "2026-11-25 09:00:5",
            "2026-11-25 09:00:00.",
            "2026-11-25 09:00:00.x",
            "2026-11-25 09:00:00:00",
            "2026-11-25 9 o'clock",
            "2026-11-25 noon",
            "2026-11-25 ampm",
            "2026-11-25 am",
            "2026-11-25T09:00+24:00",
            "2026-11-25T09:00+05:60",
            "2026-11-25T09:00+5",
            "2026-11-25T09:00+€5",
            "2026-11-25T09:00 EST",
            "2026-11-25T09:00:00-05:00[America/New_York]",
            "2026-02-30T09:00",
            "2026-11-25 at",
            "2026-11-25X09:00",
            "25/11/2026 09:00",
            "🕘",
        ] {
            assert_eq!(
                parse_start(input, New_York),
                Err(unparseable(input)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            unparseable("next blursday").to_string(),
            "\"next blursday\" is not a date, date range or time in an accepted form"
        );
        assert_eq!(
            DateError::Reversed {
                from: date(2026, 11, 28),
                to: date(2026, 11, 25)
            }
            .to_string(),
            "the date range ends on 2026-11-25, before it starts on 2026-11-28"
        );
        assert_eq!(
            DateError::TooLong { days: 61, max: 31 }.to_string(),
            "the date range spans 61 days, more than the maximum of 31"
        );
        assert_eq!(
            DateError::NonexistentLocalTime("2026-03-08 02:30".into()).to_string(),
            "\"2026-03-08 02:30\" does not exist in the business's time zone (the clocks skip it)"
        );
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (NaiveDate::MIN.num_days_from_ce()..=NaiveDate::MAX.num_days_from_ce())
            .prop_map(|days| NaiveDate::from_num_days_from_ce_opt(days).unwrap())
    }

    fn any_zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            New_York,
            Lord_Howe,
            chrono_tz::UTC,
            chrono_tz::Europe::Berlin,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::Pacific::Apia,
            chrono_tz::America::Santiago,
        ])
    }

    /// Strings close to the accepted forms, to get past the first checks.
    fn almost_valid() -> impl Strategy<Value = String> {
        prop_oneof![
            concat!(
                "[0-9+-]{0,7}-[0-9]{1,3}-[0-9]{1,3}",
                "([tT ]( ?at )?[0-9]{0,3}(:[0-9]{0,3}){0,3}(\\.[0-9]{0,12})?",
                "( ?[aApP]\\.?[mM]\\.?)?([zZ]|[+-][0-9:]{0,6})?)?",
            ),
            "(from |between )?[0-9-]{8,12}( ?(\\.\\.|/|to|-|–|and|through) ?[0-9-]{8,12})?",
            "(the )?(next|this)? ?([0-9]{0,25}|week|weekend|tue|tuesday|days?| ){0,4}",
            "[a-z .0-9:/+–-]{0,30}",
        ]
    }

    proptest! {
        #[test]
        fn parse_date_range_never_panics(
            input in prop_oneof!["\\PC*", ".*", almost_valid()],
            today in any_date(),
            max_days in any::<i64>(),
        ) {
            if let Ok(range) = parse_date_range(&input, today, max_days) {
                prop_assert!(range.from <= range.to);
                prop_assert!(range.days() <= max_days);
            }
        }

        #[test]
        fn parse_date_never_panics(
            input in prop_oneof!["\\PC*", ".*", almost_valid()],
            today in any_date(),
        ) {
            let _ = parse_date(&input, today);
        }

        #[test]
        fn parse_start_never_panics(
            input in prop_oneof!["\\PC*", ".*", almost_valid()],
            zone in any_zone(),
        ) {
            let _ = parse_start(&input, zone);
        }

        #[test]
        fn dates_round_trip(date in any_date(), today in any_date()) {
            prop_assert_eq!(parse_date(&date.to_string(), today), Ok(date));
            prop_assert_eq!(parse_date_range(&date.to_string(), today, 1), Ok(range(date, date)));
        }

        #[test]
        fn explicit_ranges_round_trip(
            from in any_date(),
            length in 0u64..400,
            separator in prop::sample::select(vec!["..", "/", " to ", " - ", " through "]),
        ) {
            if let Some(to) = from.checked_add_days(Days::new(length)) {
                let input = format!("{from}{separator}{to}");
                prop_assert_eq!(parse_date_range(&input, from, 400), Ok(range(from, to)));
                let reversed = format!("{to}{separator}{from}");
                let expected = if length == 0 {
                    Ok(range(from, to))
                } else {
                    Err(DateError::Reversed { from: to, to: from })
                };
                prop_assert_eq!(parse_date_range(&reversed, from, 400), expected);
            }
        }

        #[test]
        fn instants_round_trip(
            // Years 0000 to 9999, the years RFC 3339 can write.
            seconds in -62_167_219_200i64..253_402_300_800,
            nanos in 0u32..1_000_000_000,
            offset_minutes in -(23 * 60 + 59)..=(23 * 60 + 59),
            zone in any_zone(),
        ) {
            let instant = DateTime::from_timestamp(seconds, nanos).unwrap();
            let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let written = instant.with_timezone(&offset);
            if (0..=9999).contains(&written.year()) {
                prop_assert_eq!(parse_start(&written.to_rfc3339(), zone), Ok(instant));
                let seconds_only = instant.with_nanosecond(0).unwrap();
                let compact = seconds_only
                    .with_timezone(&offset)
                    .to_rfc3339_opts(SecondsFormat::Secs, true);
                prop_assert_eq!(parse_start(&compact, zone), Ok(seconds_only));
            }
            if (0..=9999).contains(&instant.year()) {
                let zulu = instant.to_rfc3339_opts(SecondsFormat::AutoSi, true);
                prop_assert_eq!(parse_start(&zulu, zone), Ok(instant));
            }
        }

        #[test]
        fn local_times_resolve_to_that_wall_time_or_a_gap(
            minutes in 0i64..(200 * 366 * 24 * 60),
            zone in any_zone(),
            twelve_hour in any::<bool>(),
        ) {
            let local = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
                + chrono::TimeDelta::minutes(minutes);
            let input = if twelve_hour {
                local.format("%Y-%m-%d %I:%M %p").to_string()
            } else {
                local.format("%Y-%m-%dT%H:%M").to_string()
            };
            match (parse_start(&input, zone), zone.from_local_datetime(&local)) {
                (Ok(instant), LocalResult::Single(expected)) => {
                    prop_assert_eq!(instant, expected.with_timezone(&Utc));
                }
                (Ok(instant), LocalResult::Ambiguous(first, second)) => {
                    prop_assert_eq!(instant, first.min(second).with_timezone(&Utc));
                    prop_assert!(instant < first.max(second).with_timezone(&Utc));
                }
                (Err(DateError::NonexistentLocalTime(text)), LocalResult::None) => {
                    prop_assert_eq!(&text, &input);
                }
                (parsed, expected) => prop_assert!(false, "{input}: {parsed:?} vs {expected:?}"),
            }
            if let Ok(instant) = parse_start(&input, zone) {
                prop_assert_eq!(instant.with_timezone(&zone).naive_local(), local);
                prop_assert_eq!(instant.second(), 0);
            }
        }
    }
}
