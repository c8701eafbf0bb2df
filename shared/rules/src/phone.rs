//! Caller phone numbers: whatever a caller or the agent says or sends, normalised to E.164.
//!
//! A number written with a leading `+` (or `00`) is international; anything else is read in
//! the business's own country, taken from the business's first Twilio number (so "(212)
//! 555-0100" is a New York number for a US business). Numbers that do not parse to a valid
//! number are rejected rather than stored half-right.

use phonenumber::country::Id;
use phonenumber::{Mode, PhoneNumber};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("{0:?} is not a phone number")]
    Invalid(String),
}

/// Loads the phone-number metadata (`phonenumber` builds its database lazily, which takes
/// hundreds of milliseconds): call it while a container initialises, not on a caller's time.
pub fn warm_up() {
    let _ = normalize("+12125550100", None);
}

/// The ISO 3166 country of an E.164 number (e.g. `"US"` for `+12125550100`), if known.
pub fn country_of(e164: &str) -> Option<Id> {
    phonenumber::parse(None, e164).ok()?.country().id()
}

/// Normalises `input` to E.164, reading national formats in `default_country`.
pub fn normalize(input: &str, default_country: Option<Id>) -> Result<String, PhoneError> {
    let cleaned: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
        .collect();
    let cleaned = match cleaned.strip_prefix("00") {
        Some(rest) if default_country.is_none() || cleaned.len() > 10 => format!("+{rest}"),
        _ => cleaned,
    };
    let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    // Letters (extensions, vanity numbers) and stray symbols are not a number we can call back.
    if digits.is_empty() || digits.len() > 17 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PhoneError::Invalid(input.to_owned()));
    }
    let parsed: PhoneNumber = if cleaned.starts_with('+') {
        phonenumber::parse(None, &cleaned)
    } else {
        phonenumber::parse(default_country, &cleaned)
    }
    .map_err(|_| PhoneError::Invalid(input.to_owned()))?;
    if !parsed.is_valid() {
        return Err(PhoneError::Invalid(input.to_owned()));
    }
    Ok(parsed.format().mode(Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_formats_use_the_business_country() {
        let us = country_of("+12125550100");
        assert_eq!(us, Some(Id::US));
        for input in [
            "(212) 555-0123",
            "212-555-0123",
            "212.555.0123",
            "2125550123",
            "+1 212 555 0123",
            "1 212 555 0123",
        ] {
            assert_eq!(normalize(input, us).unwrap(), "+12125550123", "{input}");
        }
        let gb = country_of("+442079460000");
        assert_eq!(normalize("020 7946 0018", gb).unwrap(), "+442079460018");
        assert_eq!(normalize("+44 20 7946 0018", us).unwrap(), "+442079460018");
        assert_eq!(normalize("0044 20 7946 0018", us).unwrap(), "+442079460018");
    }

    #[test]
    fn garbage_is_rejected() {
        for input in [
            "",
            "   ",
            "12345",
            "hello",
            "+1555",
            "+999999999999999999999",
            "2125550123x",
        ] {
            assert!(normalize(input, Some(Id::US)).is_err(), "{input}");
        }
        assert!(normalize("2125550123", None).is_err());
    }
}
