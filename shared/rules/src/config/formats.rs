//! Strict string formats of the configuration: `"HH:MM"` times, `"24:00"` end of day,
//! `"YYYY-MM-DD"` dates and IANA time zone names. Each parses only its canonical form, so a
//! value serializes back to exactly the string it was read from.

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::EndTime;

/// Reads a start time `"HH:MM"` (24-hour, two digits each).
fn parse_time(text: &str) -> Result<NaiveTime, String> {
    if text == "24:00" {
        return Err(
            "\"24:00\" can only end a range (close, to, end); use \"00:00\" to start at midnight"
                .into(),
        );
    }
    let bytes = text.as_bytes();
    let well_formed = bytes.len() == 5
        && bytes[2] == b':'
        && [0, 1, 3, 4].iter().all(|&i| bytes[i].is_ascii_digit());
    well_formed
        .then(|| NaiveTime::parse_from_str(text, "%H:%M").ok())
        .flatten()
        .ok_or_else(|| {
            format!("invalid time \"{text}\"; use 24-hour \"HH:MM\" such as \"09:00\" or \"17:30\"")
        })
}

fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    String::deserialize(deserializer)
}

impl Serialize for EndTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EndTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match string(deserializer)?.as_str() {
            "24:00" => Ok(EndTime::EndOfDay),
            text => parse_time(text).map(EndTime::At).map_err(de::Error::custom),
        }
    }
}

/// A start time: `"HH:MM"`, `"24:00"` rejected.
pub mod time {
    use super::*;

    pub fn serialize<S: Serializer>(time: &NaiveTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&time.format("%H:%M"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
        parse_time(&string(deserializer)?).map_err(de::Error::custom)
    }

    pub mod option {
        use super::*;

        #[derive(Deserialize)]
        #[serde(transparent)]
        struct Time(#[serde(with = "super")] NaiveTime);

        pub fn serialize<S: Serializer>(
            time: &Option<NaiveTime>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match time {
                Some(time) => super::serialize(time, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<NaiveTime>, D::Error> {
            Ok(Option::<Time>::deserialize(deserializer)?.map(|Time(time)| time))
        }
    }
}

/// A calendar date: `"YYYY-MM-DD"`.
pub mod date {
    use super::*;

    pub fn serialize<S: Serializer>(date: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&date.format("%Y-%m-%d"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
        let text = string(deserializer)?;
        let bytes = text.as_bytes();
        let well_formed = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && [0, 1, 2, 3, 5, 6, 8, 9]
                .iter()
                .all(|&i| bytes[i].is_ascii_digit());
        well_formed
            .then(|| NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok())
            .flatten()
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "invalid date \"{text}\"; use \"YYYY-MM-DD\" such as \"2026-12-25\""
                ))
            })
    }

    pub mod option {
        use super::*;

        #[derive(Deserialize)]
        #[serde(transparent)]
        struct Date(#[serde(with = "super")] NaiveDate);

        pub fn serialize<S: Serializer>(
            date: &Option<NaiveDate>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match date {
                Some(date) => super::serialize(date, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<NaiveDate>, D::Error> {
            Ok(Option::<Date>::deserialize(deserializer)?.map(|Date(date)| date))
        }
    }
}

/// An IANA time zone name such as `"America/New_York"`.
pub mod time_zone {
    use super::*;

    pub fn serialize<S: Serializer>(tz: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Tz, D::Error> {
        let name = string(deserializer)?;
        name.parse().map_err(|_| {
            let example = suggestion(&name).unwrap_or("America/New_York");
            de::Error::custom(format!(
                "unknown time zone \"{name}\"; use an IANA name such as \"{example}\""
            ))
        })
    }

    /// The zone the operator most likely meant, ignoring case, spaces and underscores.
    fn suggestion(name: &str) -> Option<&'static str> {
        let simplify = |text: &str| -> String {
            text.chars()
                .filter(|c| !matches!(c, '_' | ' '))
                .flat_map(char::to_lowercase)
                .collect()
        };
        let wanted = simplify(name);
        chrono_tz::TZ_VARIANTS
            .iter()
            .map(|tz| tz.name())
            .find(|candidate| simplify(candidate) == wanted)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn end_time(text: &str) -> Result<EndTime, String> {
        serde_json::from_value(json!(text)).map_err(|e| e.to_string())
    }

    fn start_time(text: &str) -> Result<NaiveTime, String> {
        time::deserialize(json!(text)).map_err(|e| e.to_string())
    }

    #[test]
    fn times_round_trip_in_canonical_form() {
        for text in ["00:00", "09:05", "23:59", "24:00"] {
            let parsed = end_time(text).unwrap();
            assert_eq!(serde_json::to_value(parsed).unwrap(), json!(text));
        }
        let parsed = start_time("07:30").unwrap();
        assert_eq!(
            time::serialize(&parsed, serde_json::value::Serializer).unwrap(),
            json!("07:30")
        );
    }

    #[test]
    fn times_outside_hh_mm_are_rejected() {
        for text in [
            "9:00", "09:00:00", "24:01", "25:00", "12:60", "0900", "09.00", "+9:00", "",
        ] {
            let error = end_time(text).unwrap_err();
            assert!(
                error.contains(&format!("invalid time \"{text}\"")),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn end_of_day_is_rejected_as_a_start_time() {
        let error = start_time("24:00").unwrap_err();
        assert!(error.contains("can only end a range"), "{error}");
    }

    #[test]
    fn dates_are_strict() {
        let parse = |text: &str| date::deserialize(json!(text)).map_err(|e| e.to_string());
        assert_eq!(
            parse("2028-02-29").unwrap(),
            NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()
        );
        for text in [
            "2027-02-29",
            "2026-1-05",
            "26-01-05",
            "2026/01/05",
            "2026-01-05T00:00",
        ] {
            let error = parse(text).unwrap_err();
            assert!(
                error.contains(&format!("invalid date \"{text}\"")),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn optional_formats_accept_null() {
        assert_eq!(time::option::deserialize(Value::Null).unwrap(), None);
        assert_eq!(date::option::deserialize(Value::Null).unwrap(), None);
    }

    #[test]
    fn time_zone_errors_suggest_the_closest_name() {
        let parse = |text: &str| time_zone::deserialize(json!(text)).map_err(|e| e.to_string());
        assert_eq!(parse("Europe/Paris").unwrap(), Tz::Europe__Paris);
        assert_eq!(
            parse("America/NewYork").unwrap_err(),
            "unknown time zone \"America/NewYork\"; use an IANA name such as \"America/New_York\""
        );
        assert_eq!(
            parse("america/los angeles").unwrap_err(),
            "unknown time zone \"america/los angeles\"; use an IANA name such as \"America/Los_Angeles\""
        );
        assert!(
            parse("Mars/Olympus")
                .unwrap_err()
                .contains("such as \"America/New_York\"")
        );
    }
}
