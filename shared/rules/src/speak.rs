//! Sentences the voice agent speaks about dates, times and bookings, in the caller's language.
//!
//! Everything here returns plain text meant to be read aloud by the voice agent: short
//! sentences, no markdown, no emojis, no braces. Instants are always spoken as the local
//! wall-clock time of the business's time zone.
//!
//! # Languages
//!
//! English, Spanish, French and German ([`Language`]); any other language tag falls back to
//! English. English uses the 12-hour clock ("9 AM", "2:30 PM", "12 PM" for noon, "12 AM"
//! for midnight); Spanish, French and German use the 24-hour clock ("las 14:30",
//! "14 h 30", "14:30 Uhr"). When a local time happens twice (the hour repeated when the
//! clocks go back), the zone abbreviation is added: "1:30 AM EDT" / "1:30 AM EST".
//!
//! # Days
//!
//! Relative to the business's local "today": `today`, `tomorrow`, the weekday name for the
//! next 2 to 6 days ("Tuesday"), otherwise weekday and date ("Tuesday, December 8"), with
//! the year when it is not the current calendar year ("Tuesday, January 5, 2027"). Past
//! days always use the weekday-and-date form.
//!
//! | lang | time     | weekday + date         | slots                                     |
//! |------|----------|------------------------|-------------------------------------------|
//! | en   | 9:30 AM  | Tuesday, December 8    | tomorrow at 9:30 AM, Tuesday at 2 PM      |
//! | es   | las 9:30 | martes 8 de diciembre  | mañana a las 9:30, el martes a las 14     |
//! | fr   | 9 h 30   | mardi 8 décembre       | demain à 9 h 30, mardi à 14 h             |
//! | de   | 9:30 Uhr | Dienstag, 8. Dezember  | morgen um 9:30 Uhr, am Dienstag um 14 Uhr |
//!
//! French writes the first of the month "1er" ("mardi 1er décembre").
//!
//! # Service and staff names
//!
//! Service and staff names come from the business configuration as the operator typed them
//! ("Cleaning", "Dr. Lee"). Articles and grammatical gender can't be derived from them, so
//! the booking sentences are built to read well with a bare name: "Your Cleaning is booked
//! for ...", "Su cita de Limpieza ...", "Votre rendez-vous pour Détartrage ...",
//! "Ihr Termin für Zahnreinigung ...".

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::BusinessConfig;

/// The language the agent speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    English,
    Spanish,
    French,
    German,
}

impl Language {
    /// Every supported language.
    pub const ALL: [Language; 4] = [
        Language::English,
        Language::Spanish,
        Language::French,
        Language::German,
    ];

    /// The language of a BCP 47 tag ("en", "en-US", "es-MX", "fr_CA", "DE"), by its primary
    /// subtag (two- or three-letter codes). Unknown or empty tags give English.
    pub fn from_tag(tag: &str) -> Language {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "es" | "spa" => Language::Spanish,
            "fr" | "fra" | "fre" => Language::French,
            "de" | "deu" | "ger" => Language::German,
            _ => Language::English,
        }
    }

    /// The business's primary language: the first of `persona.languages`, else English.
    pub fn for_config(config: &BusinessConfig) -> Language {
        config
            .persona
            .languages
            .first()
            .map_or(Language::English, |tag| Language::from_tag(tag))
    }

    /// The two-letter ISO 639-1 code: "en", "es", "fr" or "de".
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Spanish => "es",
            Language::French => "fr",
            Language::German => "de",
        }
    }
}

fn weekday_name(day: Weekday, lang: Language) -> &'static str {
    let index = day.num_days_from_monday() as usize;
    let names: [&str; 7] = match lang {
        Language::English => [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ],
        Language::Spanish => [
            "lunes",
            "martes",
            "miércoles",
            "jueves",
            "viernes",
            "sábado",
            "domingo",
        ],
        Language::French => [
            "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
        ],
        Language::German => [
            "Montag",
            "Dienstag",
            "Mittwoch",
            "Donnerstag",
            "Freitag",
            "Samstag",
            "Sonntag",
        ],
    };
    names[index]
}

fn month_name(date: NaiveDate, lang: Language) -> &'static str {
    let index = date.month0() as usize;
    let names: [&str; 12] = match lang {
        Language::English => [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        Language::Spanish => [
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ],
        Language::French => [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ],
        Language::German => [
            "Januar",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ],
    };
    names[index]
}

/// Weekday and date: "Tuesday, December 8", "martes 8 de diciembre", "mardi 1er décembre",
/// "Dienstag, 8. Dezember"; with the year appended when `with_year`.
fn date_words(date: NaiveDate, lang: Language, with_year: bool) -> String {
    let weekday = weekday_name(date.weekday(), lang);
    let month = month_name(date, lang);
    let day = date.day();
    let year = date.year();
    match (lang, with_year) {
        (Language::English, false) => format!("{weekday}, {month} {day}"),
        (Language::English, true) => format!("{weekday}, {month} {day}, {year}"),
        (Language::Spanish, false) => format!("{weekday} {day} de {month}"),
        (Language::Spanish, true) => format!("{weekday} {day} de {month} de {year}"),
        (Language::French, _) => {
            let day = if day == 1 {
                "1er".to_owned()
            } else {
                day.to_string()
            };
            if with_year {
                format!("{weekday} {day} {month} {year}")
            } else {
                format!("{weekday} {day} {month}")
            }
        }
        (Language::German, false) => format!("{weekday}, {day}. {month}"),
        (Language::German, true) => format!("{weekday}, {day}. {month} {year}"),
    }
}

/// How a day is referred to, relative to today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayKind {
    Today,
    Tomorrow,
    /// 2 to 6 days ahead: the weekday name alone.
    Weekday,
    /// Anything else: weekday and date, with the year if not the current one.
    Date {
        with_year: bool,
    },
}

impl DayKind {
    fn of(date: NaiveDate, today: NaiveDate) -> DayKind {
        match date.signed_duration_since(today).num_days() {
            0 => DayKind::Today,
            1 => DayKind::Tomorrow,
            2..=6 => DayKind::Weekday,
            _ => DayKind::Date {
                with_year: date.year() != today.year(),
            },
        }
    }

    /// Weekday or date: needs "on" / "el" / "am" in front when used as an adverb.
    fn is_named(self) -> bool {
        matches!(self, DayKind::Weekday | DayKind::Date { .. })
    }
}

fn day_words(date: NaiveDate, kind: DayKind, lang: Language) -> String {
    match (kind, lang) {
        (DayKind::Today, Language::English) => "today".to_owned(),
        (DayKind::Today, Language::Spanish) => "hoy".to_owned(),
        (DayKind::Today, Language::French) => "aujourd'hui".to_owned(),
        (DayKind::Today, Language::German) => "heute".to_owned(),
        (DayKind::Tomorrow, Language::English) => "tomorrow".to_owned(),
        (DayKind::Tomorrow, Language::Spanish) => "mañana".to_owned(),
        (DayKind::Tomorrow, Language::French) => "demain".to_owned(),
        (DayKind::Tomorrow, Language::German) => "morgen".to_owned(),
        (DayKind::Weekday, _) => weekday_name(date.weekday(), lang).to_owned(),
        (DayKind::Date { with_year }, _) => date_words(date, lang, with_year),
    }
}

/// The local wall-clock time of `at` in `tz`, as spoken: "9 AM", "9:30 AM", "12 PM" (en);
/// "las 9:30", "la 1", "las 14" (es); "9 h 30", "14 h" (fr); "9:30 Uhr", "14 Uhr" (de).
///
/// Seconds are dropped. When the local time is ambiguous (it happens twice as the clocks go
/// back) the zone abbreviation is appended: "1:30 AM EDT".
pub fn time_phrase(at: DateTime<Utc>, tz: Tz, lang: Language) -> String {
    let local = at.with_timezone(&tz);
    let (hour, minute) = (local.hour(), local.minute());
    let mut phrase = match lang {
        Language::English => {
            let hour12 = match hour % 12 {
                0 => 12,
                h => h,
            };
            let meridiem = if hour < 12 { "AM" } else { "PM" };
            if minute == 0 {
                format!("{hour12} {meridiem}")
            } else {
                format!("{hour12}:{minute:02} {meridiem}")
            }
        }
        Language::Spanish => {
            let article = if hour == 1 { "la" } else { "las" };
            if minute == 0 {
                format!("{article} {hour}")
            } else {
                format!("{article} {hour}:{minute:02}")
            }
        }
        Language::French => {
            if minute == 0 {
                format!("{hour} h")
            } else {
                format!("{hour} h {minute:02}")
            }
        }
        Language::German => {
            if minute == 0 {
                format!("{hour} Uhr")
            } else {
                format!("{hour}:{minute:02} Uhr")
            }
        }
    };
    if tz
        .from_local_datetime(&local.naive_local())
        .single()
        .is_none()
    {
        phrase.push(' ');
        phrase.push_str(&local.format("%Z").to_string());
    }
    phrase
}

/// `date` relative to `today` (both local dates of the business): "today", "tomorrow",
/// "Tuesday" (2 to 6 days ahead), "Tuesday, December 8" (later, or in the past),
/// "Tuesday, January 5, 2027" (not the current calendar year).
///
/// Spanish, French and German: "hoy", "mañana", "martes", "martes 8 de diciembre";
/// "aujourd'hui", "demain", "mardi", "mardi 8 décembre"; "heute", "morgen", "Dienstag",
/// "Dienstag, 8. Dezember". The bare form, without "el" / "am"; see [`slot_phrase`].
pub fn day_phrase(date: NaiveDate, today: NaiveDate, lang: Language) -> String {
    day_words(date, DayKind::of(date, today), lang)
}

/// `date` written out, never relative (for texts, which may be read days later): "Tuesday,
/// December 8", with the year when it is not `today`'s year; es "martes 8 de diciembre", fr
/// "mardi 8 décembre", de "Dienstag, 8. Dezember".
pub fn date_phrase(date: NaiveDate, today: NaiveDate, lang: Language) -> String {
    day_words(
        date,
        DayKind::Date {
            with_year: date.year() != today.year(),
        },
        lang,
    )
}

/// A day and time as an adverbial phrase. `english_on` puts "on" before a weekday or date in
/// English ("on Tuesday at 9 AM"), for sentences that need it.
fn when(
    start: DateTime<Utc>,
    tz: Tz,
    now: DateTime<Utc>,
    lang: Language,
    english_on: bool,
) -> String {
    let date = start.with_timezone(&tz).date_naive();
    let today = now.with_timezone(&tz).date_naive();
    let kind = DayKind::of(date, today);
    let day = day_words(date, kind, lang);
    let time = time_phrase(start, tz, lang);
    let named = kind.is_named();
    let after_year = matches!(kind, DayKind::Date { with_year: true });
    match lang {
        Language::English => {
            let on = if english_on && named { "on " } else { "" };
            let comma = if after_year { "," } else { "" };
            format!("{on}{day}{comma} at {time}")
        }
        Language::Spanish => {
            let article = if named { "el " } else { "" };
            format!("{article}{day} a {time}")
        }
        Language::French => format!("{day} à {time}"),
        Language::German => {
            let am = if named { "am " } else { "" };
            let comma = if matches!(kind, DayKind::Date { .. }) {
                ","
            } else {
                ""
            };
            format!("{am}{day}{comma} um {time}")
        }
    }
}

/// A bookable start as spoken when offering or confirming it, relative to `now`:
/// "tomorrow at 9:30 AM", "Tuesday at 2 PM", "Tuesday, December 8 at 2 PM",
/// "Tuesday, January 5, 2027, at 2 PM";
/// es "mañana a las 9:30", "el martes a las 14", "el martes 8 de diciembre a las 14";
/// fr "demain à 9 h 30", "mardi à 14 h", "mardi 8 décembre à 14 h";
/// de "morgen um 9:30 Uhr", "am Dienstag um 14 Uhr", "am Dienstag, 8. Dezember, um 14 Uhr".
pub fn slot_phrase(start: DateTime<Utc>, tz: Tz, now: DateTime<Utc>, lang: Language) -> String {
    when(start, tz, now, lang, false)
}

fn join(items: &[String], lang: Language, conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => {
            let head = rest.join(", ");
            let serial_comma = if lang == Language::English && rest.len() > 1 {
                ","
            } else {
                ""
            };
            format!("{head}{serial_comma} {conjunction} {last}")
        }
    }
}

/// Spanish "o" becomes "u" before a word starting with an "o" sound ("ocho", "hora"), and
/// "y" becomes "e" before an "i" sound ("Inés", "higiene", but not "hielo").
fn spanish_conjunction(items: &[String], or: bool) -> &'static str {
    let last = items
        .last()
        .map(|item| item.trim_start().to_lowercase())
        .unwrap_or_default();
    let silent_h = last.starts_with('h');
    let mut sounds = last.chars().skip(usize::from(silent_h));
    let first = sounds.next();
    let second = sounds.next();
    if or {
        if matches!(first, Some('o' | 'ó')) {
            "u"
        } else {
            "o"
        }
    } else {
        let i_sound = matches!(first, Some('i' | 'í'))
            && !(silent_h && matches!(second, Some('e' | 'a' | 'o')));
        if i_sound { "e" } else { "y" }
    }
}

/// Alternatives: "A", "A or B", "A, B, or C" (en); "A, B o C" (es, "u" before an "o"
/// sound); "A, B ou C" (fr); "A, B oder C" (de). Empty for no items.
pub fn list_phrase(items: &[String], lang: Language) -> String {
    let conjunction = match lang {
        Language::English => "or",
        Language::Spanish => spanish_conjunction(items, true),
        Language::French => "ou",
        Language::German => "oder",
    };
    join(items, lang, conjunction)
}

/// All of several items: "A", "A and B", "A, B, and C" (en); "A, B y C" (es, "e" before an
/// "i" sound); "A, B et C" (fr); "A, B und C" (de). Empty for no items.
pub fn and_list_phrase(items: &[String], lang: Language) -> String {
    let conjunction = match lang {
        Language::English => "and",
        Language::Spanish => spanish_conjunction(items, false),
        Language::French => "et",
        Language::German => "und",
    };
    join(items, lang, conjunction)
}

/// Offers open slots (each already a [`slot_phrase`]):
/// "I have tomorrow at 9 AM, tomorrow at 2 PM, or Friday at 10 AM."; with none,
/// "I don't have anything open then."
pub fn offer_phrase(slot_phrases: &[String], lang: Language) -> String {
    if slot_phrases.is_empty() {
        return match lang {
            Language::English => "I don't have anything open then.",
            Language::Spanish => "No tengo nada disponible en ese momento.",
            Language::French => "Je n'ai rien de libre à ce moment-là.",
            Language::German => "Da habe ich leider nichts frei.",
        }
        .to_owned();
    }
    let list = list_phrase(slot_phrases, lang);
    match lang {
        Language::English => format!("I have {list}."),
        Language::Spanish => format!("Tengo disponible {list}."),
        Language::French => format!("Je peux vous proposer {list}."),
        Language::German => format!("Ich habe {list} frei."),
    }
}

/// The current local date and time of the business, for the agent's context.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Today {
    /// Local date, serialized `"2026-11-24"`.
    pub date: NaiveDate,
    /// English weekday name of `date`: `"Tuesday"`.
    pub weekday: String,
    /// Local 24-hour time: `"14:05"`.
    pub time: String,
    /// IANA name of the business's time zone: `"America/New_York"`.
    pub time_zone: String,
    /// "Today is Tuesday, November 24, 2026, and it is 2:05 PM." (localised).
    pub phrase: String,
}

/// The business's local date and time at `now`, with a sentence saying it.
///
/// es "Hoy es martes 24 de noviembre de 2026 y son las 14:05.", fr "Nous sommes le mardi
/// 24 novembre 2026 et il est 14 h 05.", de "Heute ist Dienstag, 24. November 2026, und es
/// ist 14:05 Uhr."
pub fn today(now: DateTime<Utc>, tz: Tz, lang: Language) -> Today {
    let local = now.with_timezone(&tz);
    let date = local.date_naive();
    let day = date_words(date, lang, true);
    let time = time_phrase(now, tz, lang);
    let phrase = match lang {
        Language::English => format!("Today is {day}, and it is {time}."),
        Language::Spanish => {
            let verb = if local.hour() == 1 { "es" } else { "son" };
            format!("Hoy es {day} y {verb} {time}.")
        }
        Language::French => format!("Nous sommes le {day} et il est {time}."),
        Language::German => format!("Heute ist {day}, und es ist {time}."),
    };
    Today {
        date,
        weekday: weekday_name(date.weekday(), Language::English).to_owned(),
        time: local.format("%H:%M").to_string(),
        time_zone: tz.name().to_owned(),
        phrase,
    }
}

/// " with Dr. Lee" / " con ..." / " avec ..." / " bei ...", or nothing.
fn with_staff(staff: Option<&str>, lang: Language) -> String {
    match staff.map(str::trim).filter(|name| !name.is_empty()) {
        None => String::new(),
        Some(name) => match lang {
            Language::English => format!(" with {name}"),
            Language::Spanish => format!(" con {name}"),
            Language::French => format!(" avec {name}"),
            Language::German => format!(" bei {name}"),
        },
    }
}

/// A new booking: "Your Cleaning is booked for tomorrow at 9 AM with Dr. Lee."
///
/// es "Su cita de Limpieza queda reservada para el martes a las 9 con Dr. Lee.", fr "Votre
/// rendez-vous pour Détartrage est confirmé pour mardi à 9 h avec Dr. Lee.", de "Ihr Termin
/// für Zahnreinigung ist am Dienstag um 9 Uhr bei Dr. Lee gebucht." `staff` `None` (or
/// blank) leaves the staff part out.
pub fn booking_confirmed(
    service: &str,
    start: DateTime<Utc>,
    tz: Tz,
    now: DateTime<Utc>,
    staff: Option<&str>,
    lang: Language,
) -> String {
    let service = service.trim();
    let when = when(start, tz, now, lang, false);
    let staff = with_staff(staff, lang);
    match lang {
        Language::English => format!("Your {service} is booked for {when}{staff}."),
        Language::Spanish => format!("Su cita de {service} queda reservada para {when}{staff}."),
        Language::French => {
            format!("Votre rendez-vous pour {service} est confirmé pour {when}{staff}.")
        }
        Language::German => format!("Ihr Termin für {service} ist {when}{staff} gebucht."),
    }
}

/// A moved booking: "Done — your Cleaning is now on Tuesday at 9 AM with Dr. Lee."
///
/// es "Listo, su cita de Limpieza ahora es el martes a las 9 con Dr. Lee.", fr "C'est fait,
/// votre rendez-vous pour Détartrage est maintenant mardi à 9 h avec Dr. Lee.", de "Erledigt,
/// Ihr Termin für Zahnreinigung ist jetzt am Dienstag um 9 Uhr bei Dr. Lee."
pub fn booking_moved(
    service: &str,
    start: DateTime<Utc>,
    tz: Tz,
    now: DateTime<Utc>,
    staff: Option<&str>,
    lang: Language,
) -> String {
    let service = service.trim();
    let when = when(start, tz, now, lang, true);
    let staff = with_staff(staff, lang);
    match lang {
        Language::English => format!("Done — your {service} is now {when}{staff}."),
        Language::Spanish => format!("Listo, su cita de {service} ahora es {when}{staff}."),
        Language::French => {
            format!("C'est fait, votre rendez-vous pour {service} est maintenant {when}{staff}.")
        }
        Language::German => {
            format!("Erledigt, Ihr Termin für {service} ist jetzt {when}{staff}.")
        }
    }
}

/// A cancelled booking: "Your Cleaning on Tuesday at 9 AM is cancelled."
///
/// es "Su cita de Limpieza para el martes a las 9 queda cancelada.", fr "Votre rendez-vous
/// pour Détartrage prévu mardi à 9 h est annulé.", de "Ihr Termin für Zahnreinigung am
/// Dienstag um 9 Uhr ist storniert."
pub fn booking_cancelled(
    service: &str,
    start: DateTime<Utc>,
    tz: Tz,
    now: DateTime<Utc>,
    lang: Language,
) -> String {
    let service = service.trim();
    let when = when(start, tz, now, lang, true);
    match lang {
        Language::English => format!("Your {service} {when} is cancelled."),
        Language::Spanish => format!("Su cita de {service} para {when} queda cancelada."),
        Language::French => format!("Votre rendez-vous pour {service} prévu {when} est annulé."),
        Language::German => format!("Ihr Termin für {service} {when} ist storniert."),
    }
}

/// One booking in a list (no capital, no full stop): "your Cleaning tomorrow at 9 AM with
/// Dr. Lee", "your Cleaning on Tuesday at 9 AM".
///
/// es "su cita de Limpieza el martes a las 9 con Dr. Lee", fr "votre rendez-vous pour
/// Détartrage mardi à 9 h avec Dr. Lee", de "Ihr Termin für Zahnreinigung am Dienstag um
/// 9 Uhr bei Dr. Lee". Join several with [`and_list_phrase`].
pub fn booking_line(
    service: &str,
    start: DateTime<Utc>,
    tz: Tz,
    now: DateTime<Utc>,
    staff: Option<&str>,
    lang: Language,
) -> String {
    let service = service.trim();
    let when = when(start, tz, now, lang, true);
    let staff = with_staff(staff, lang);
    match lang {
        Language::English => format!("your {service} {when}{staff}"),
        Language::Spanish => format!("su cita de {service} {when}{staff}"),
        Language::French => format!("votre rendez-vous pour {service} {when}{staff}"),
        Language::German => format!("Ihr Termin für {service} {when}{staff}"),
    }
}

/// Expected failures of the tools, as one polite sentence for the agent to speak.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Say<'a> {
    /// Someone else booked the slot first.
    SlotTaken,
    /// The time is outside the business's (or the staff member's) hours.
    OutsideHours,
    /// A closure covers the time; `reason` as configured ("Thanksgiving").
    Closed {
        reason: Option<&'a str>,
    },
    /// Earlier than the minimum notice; `earliest` is a [`slot_phrase`] of the first
    /// bookable time, if known.
    TooSoon {
        earliest: Option<String>,
    },
    /// Further ahead than the booking horizon.
    BeyondHorizon {
        days: u32,
    },
    /// The time has already passed.
    InPast,
    /// `known`: the names of the services offered.
    UnknownService {
        known: &'a [String],
    },
    /// `known`: the names of the staff who can be booked.
    UnknownStaff {
        known: &'a [String],
    },
    StaffCannotServe {
        staff: &'a str,
        service: &'a str,
    },
    /// The daily appointment cap (business or staff) is reached.
    DailyCapReached,
    /// Inside the cancellation window of `hours` hours.
    TooLateToCancel {
        hours: u32,
    },
    /// Inside the cancellation window of `hours` hours.
    TooLateToChange {
        hours: u32,
    },
    /// `input`: the date as received; quoted back after removing anything unspeakable.
    UnparseableDate {
        input: &'a str,
    },
    /// `input`: the time as received; quoted back after removing anything unspeakable.
    UnparseableTime {
        input: &'a str,
    },
    /// The local time does not exist (the hour skipped when the clocks go forward).
    NonexistentTime,
    BookingNotFound,
    AlreadyCancelled,
    /// The slot id expired or was not issued by us.
    InvalidSlot,
    /// The caller has no (upcoming) bookings.
    NoBookingsFound,
    /// `input`: the number as received; quoted back after removing anything unspeakable.
    InvalidPhone {
        input: &'a str,
    },
    /// Generic system problem: try again, or offer a callback.
    Unavailable,
    /// Nobody can be reached by transfer (no transfer number, or the transfer failed).
    TransferUnavailable,
}

/// Caller- or model-supplied text made safe to quote in a spoken sentence: letters, ASCII
/// digits and a few separators only (no braces, quotes, sentence ends, markdown or emojis), spaces
/// collapsed, at most 40 characters.
fn speakable(input: &str) -> String {
    let cleaned: String = input
        .chars()
        .map(|c| {
            // Letters of any script and ASCII digits; nothing from the emoji and symbol
            // planes, where some "letters" are emojis (U+1F170 negative squared A).
            let letter = (c.is_alphabetic() || c.is_ascii_digit()) && u32::from(c) < 0x1F000;
            if letter || "-/:,'+()&@".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .chars()
        .take(40)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A configured free text (a closure reason) without surrounding spaces or a final full stop.
fn clause(text: &str) -> &str {
    text.trim().trim_end_matches(['.', '!', '?']).trim_end()
}

/// One text per language, in the order of [`Language::ALL`].
fn pick(lang: Language, [en, es, fr, de]: [&str; 4]) -> String {
    match lang {
        Language::English => en,
        Language::Spanish => es,
        Language::French => fr,
        Language::German => de,
    }
    .to_owned()
}

/// The sentence for an expected failure, in `lang`.
pub fn say(what: Say<'_>, lang: Language) -> String {
    use Language::{English as En, French as Fr, German as De, Spanish as Es};
    match what {
        Say::SlotTaken => pick(
            lang,
            [
                "Sorry, that time was just taken.",
                "Lo siento, ese horario se acaba de ocupar.",
                "Malheureusement, ce créneau vient d'être pris.",
                "Leider wurde dieser Termin gerade vergeben.",
            ],
        ),
        Say::OutsideHours => pick(
            lang,
            [
                "Sorry, we're not open at that time.",
                "Lo siento, no abrimos a esa hora.",
                "Malheureusement, nous ne sommes pas ouverts à cette heure-là.",
                "Leider haben wir zu dieser Zeit nicht geöffnet.",
            ],
        ),
        Say::Closed { reason } => match reason.map(clause).filter(|r| !r.is_empty()) {
            None => pick(
                lang,
                [
                    "Sorry, we're closed then.",
                    "Lo siento, estamos cerrados en ese momento.",
                    "Malheureusement, nous sommes fermés à ce moment-là.",
                    "Leider haben wir da geschlossen.",
                ],
            ),
            Some(reason) => match lang {
                En => format!("Sorry, we're closed then for {reason}."),
                Es => format!("Lo siento, estamos cerrados en ese momento por {reason}."),
                Fr => format!("Malheureusement, nous sommes fermés à ce moment-là : {reason}."),
                De => format!("Leider haben wir da wegen {reason} geschlossen."),
            },
        },
        Say::TooSoon { earliest } => match earliest.as_deref().map(str::trim) {
            Some(earliest) if !earliest.is_empty() => match lang {
                En => {
                    format!("Sorry, that's too soon to book; the earliest I can do is {earliest}.")
                }
                Es => format!(
                    "Lo siento, es demasiado pronto para reservar; lo más pronto que puedo \
                    ofrecerle es {earliest}."
                ),
                Fr => format!(
                    "Malheureusement, c'est trop tôt pour réserver ; le plus tôt possible \
                    serait {earliest}."
                ),
                De => {
                    format!("Leider ist das zu kurzfristig; der früheste Termin wäre {earliest}.")
                }
            },
            _ => pick(
                lang,
                [
                    "Sorry, that's too soon to book; could you pick a later time?",
                    "Lo siento, es demasiado pronto para reservar; ¿podría elegir una hora más \
                    tarde?",
                    "Malheureusement, c'est trop tôt pour réserver ; pourriez-vous choisir un \
                    horaire plus tard ?",
                    "Leider ist das zu kurzfristig; können Sie eine spätere Zeit wählen?",
                ],
            ),
        },
        Say::BeyondHorizon { days } => match lang {
            En => format!(
                "Sorry, I can only book up to {} ahead.",
                plural(days, "day", "days")
            ),
            Es => format!(
                "Lo siento, solo puedo reservar con un máximo de {} de antelación.",
                plural(days, "día", "días")
            ),
            Fr => format!(
                "Malheureusement, je ne peux réserver que jusqu'à {} à l'avance.",
                plural(days, "jour", "jours")
            ),
            De => format!(
                "Leider kann ich nur bis zu {} im Voraus buchen.",
                plural(days, "Tag", "Tage")
            ),
        },
        Say::InPast => pick(
            lang,
            [
                "That time has already passed; could you pick a time in the future?",
                "Esa hora ya pasó; ¿podría elegir otro momento?",
                "Ce moment est déjà passé ; pourriez-vous choisir un autre horaire ?",
                "Dieser Zeitpunkt ist schon vorbei; können Sie einen anderen wählen?",
            ],
        ),
        Say::UnknownService { known: [] } => pick(
            lang,
            [
                "I'm not sure which service you mean.",
                "No tengo claro qué servicio desea.",
                "Je ne vois pas de quel service vous parlez.",
                "Ich weiß nicht genau, welche Leistung Sie meinen.",
            ],
        ),
        Say::UnknownService { known } => {
            let list = list_phrase(known, lang);
            match lang {
                En => format!("I'm not sure which service you mean; we offer {list}."),
                Es => format!("No tengo claro qué servicio desea; ofrecemos {list}."),
                Fr => {
                    format!("Je ne vois pas de quel service vous parlez ; nous proposons {list}.")
                }
                De => format!(
                    "Ich weiß nicht genau, welche Leistung Sie meinen; wir bieten {list} an."
                ),
            }
        }
        Say::UnknownStaff { known: [] } => pick(
            lang,
            [
                "I'm not sure who you mean.",
                "No tengo claro con quién desea la cita.",
                "Je ne vois pas de qui vous parlez.",
                "Ich weiß nicht genau, wen Sie meinen.",
            ],
        ),
        Say::UnknownStaff { known } => {
            let list = list_phrase(known, lang);
            match lang {
                En => format!("I'm not sure who you mean; you can book with {list}."),
                Es => format!("No tengo claro con quién desea la cita; puede reservar con {list}."),
                Fr => format!(
                    "Je ne vois pas de qui vous parlez ; vous pouvez prendre rendez-vous avec \
                    {list}."
                ),
                De => format!(
                    "Ich weiß nicht genau, wen Sie meinen; Sie können einen Termin bei {list} \
                    buchen."
                ),
            }
        }
        Say::StaffCannotServe { staff, service } => {
            let (staff, service) = (staff.trim(), service.trim());
            match lang {
                En => format!(
                    "Sorry, {staff} doesn't offer {service}; would you like to book it with \
                    someone else?"
                ),
                Es => format!(
                    "Lo siento, {staff} no realiza {service}; ¿quiere reservar con otra persona?"
                ),
                Fr => format!(
                    "Malheureusement, {staff} n'assure pas la prestation {service} ; \
                    voulez-vous réserver avec quelqu'un d'autre ?"
                ),
                De => format!(
                    "Leider bietet {staff} {service} nicht an; möchten Sie bei jemand anderem \
                    buchen?"
                ),
            }
        }
        Say::DailyCapReached => pick(
            lang,
            [
                "Sorry, we're fully booked that day; would another day work?",
                "Lo siento, ese día ya está completo; ¿le viene bien otro día?",
                "Malheureusement, cette journée est complète ; un autre jour vous \
                conviendrait-il ?",
                "Leider sind wir an diesem Tag ausgebucht; passt Ihnen ein anderer Tag?",
            ],
        ),
        Say::TooLateToCancel { hours } => match lang {
            En => format!(
                "Sorry, appointments can only be cancelled up to {} before they start, so it's \
                too late to cancel this one.",
                plural(hours, "hour", "hours")
            ),
            Es => format!(
                "Lo siento, las citas solo se pueden cancelar hasta {} antes, así que ya no es \
                posible cancelar esta.",
                plural(hours, "hora", "horas")
            ),
            Fr => format!(
                "Malheureusement, les rendez-vous ne peuvent être annulés que jusqu'à {} avant, \
                il est donc trop tard pour annuler celui-ci.",
                plural(hours, "heure", "heures")
            ),
            De => format!(
                "Leider können Termine nur bis {} vorher storniert werden, daher ist eine \
                Stornierung jetzt nicht mehr möglich.",
                plural(hours, "Stunde", "Stunden")
            ),
        },
        Say::TooLateToChange { hours } => match lang {
            En => format!(
                "Sorry, appointments can only be changed up to {} before they start, so it's \
                too late to change this one.",
                plural(hours, "hour", "hours")
            ),
            Es => format!(
                "Lo siento, las citas solo se pueden cambiar hasta {} antes, así que ya no es \
                posible cambiar esta.",
                plural(hours, "hora", "horas")
            ),
            Fr => format!(
                "Malheureusement, les rendez-vous ne peuvent être modifiés que jusqu'à {} \
                avant, il est donc trop tard pour modifier celui-ci.",
                plural(hours, "heure", "heures")
            ),
            De => format!(
                "Leider können Termine nur bis {} vorher geändert werden, daher ist eine \
                Änderung jetzt nicht mehr möglich.",
                plural(hours, "Stunde", "Stunden")
            ),
        },
        Say::UnparseableDate { input } => match speakable(input) {
            input if input.is_empty() => pick(
                lang,
                [
                    "Sorry, I couldn't understand that date; could you say it another way?",
                    "Lo siento, no entendí esa fecha; ¿podría decirla de otra forma?",
                    "Pardon, je n'ai pas compris cette date ; pourriez-vous la dire autrement ?",
                    "Entschuldigung, dieses Datum habe ich nicht verstanden; können Sie es \
                    anders sagen?",
                ],
            ),
            input => match lang {
                En => format!(
                    "Sorry, I couldn't understand the date \"{input}\"; could you say it \
                    another way?"
                ),
                Es => format!(
                    "Lo siento, no entendí la fecha \"{input}\"; ¿podría decirla de otra forma?"
                ),
                Fr => format!(
                    "Pardon, je n'ai pas compris la date \"{input}\" ; pourriez-vous la dire \
                    autrement ?"
                ),
                De => format!(
                    "Entschuldigung, das Datum \"{input}\" habe ich nicht verstanden; können \
                    Sie es anders sagen?"
                ),
            },
        },
        Say::UnparseableTime { input } => match speakable(input) {
            input if input.is_empty() => pick(
                lang,
                [
                    "Sorry, I couldn't understand that time; could you say it another way?",
                    "Lo siento, no entendí esa hora; ¿podría decirla de otra forma?",
                    "Pardon, je n'ai pas compris cette heure ; pourriez-vous la dire \
                    autrement ?",
                    "Entschuldigung, diese Uhrzeit habe ich nicht verstanden; können Sie sie \
                    anders sagen?",
                ],
            ),
            input => match lang {
                En => format!(
                    "Sorry, I couldn't understand the time \"{input}\"; could you say it \
                    another way?"
                ),
                Es => format!(
                    "Lo siento, no entendí la hora \"{input}\"; ¿podría decirla de otra forma?"
                ),
                Fr => format!(
                    "Pardon, je n'ai pas compris l'heure \"{input}\" ; pourriez-vous la dire \
                    autrement ?"
                ),
                De => format!(
                    "Entschuldigung, die Uhrzeit \"{input}\" habe ich nicht verstanden; können \
                    Sie sie anders sagen?"
                ),
            },
        },
        Say::NonexistentTime => pick(
            lang,
            [
                "That time doesn't exist that day because the clocks change; could you pick \
                another time?",
                "Esa hora no existe ese día por el cambio de horario; ¿podría elegir otra?",
                "Cette heure n'existe pas ce jour-là à cause du changement d'heure ; \
                pourriez-vous en choisir une autre ?",
                "Diese Uhrzeit gibt es an dem Tag wegen der Zeitumstellung nicht; können Sie \
                eine andere wählen?",
            ],
        ),
        Say::BookingNotFound => pick(
            lang,
            [
                "Sorry, I couldn't find that booking.",
                "Lo siento, no encuentro esa cita.",
                "Malheureusement, je ne trouve pas ce rendez-vous.",
                "Leider finde ich diesen Termin nicht.",
            ],
        ),
        Say::AlreadyCancelled => pick(
            lang,
            [
                "That booking has already been cancelled.",
                "Esa cita ya estaba cancelada.",
                "Ce rendez-vous a déjà été annulé.",
                "Dieser Termin wurde bereits storniert.",
            ],
        ),
        Say::InvalidSlot => pick(
            lang,
            [
                "Sorry, that time is no longer available to book; let me check the openings \
                again.",
                "Lo siento, ese horario ya no está disponible; déjeme revisar de nuevo.",
                "Malheureusement, ce créneau n'est plus disponible ; je vais revérifier les \
                disponibilités.",
                "Leider ist dieser Termin nicht mehr verfügbar; ich schaue noch einmal nach \
                freien Zeiten.",
            ],
        ),
        Say::NoBookingsFound => pick(
            lang,
            [
                "I couldn't find any bookings for you.",
                "No encuentro ninguna cita a su nombre.",
                "Je ne trouve aucun rendez-vous à votre nom.",
                "Ich finde keine Termine für Sie.",
            ],
        ),
        Say::InvalidPhone { input } => match speakable(input) {
            input if input.is_empty() => pick(
                lang,
                [
                    "Sorry, that doesn't seem to be a valid phone number; could you repeat it?",
                    "Lo siento, ese no parece un número de teléfono válido; ¿podría repetirlo?",
                    "Malheureusement, ce numéro de téléphone ne semble pas valide ; \
                    pourriez-vous le répéter ?",
                    "Leider scheint das keine gültige Telefonnummer zu sein; können Sie sie \
                    wiederholen?",
                ],
            ),
            input => match lang {
                En => format!(
                    "Sorry, \"{input}\" doesn't seem to be a valid phone number; could you \
                    repeat it?"
                ),
                Es => format!(
                    "Lo siento, \"{input}\" no parece un número de teléfono válido; ¿podría \
                    repetirlo?"
                ),
                Fr => format!(
                    "Malheureusement, \"{input}\" ne semble pas être un numéro de téléphone \
                    valide ; pourriez-vous le répéter ?"
                ),
                De => format!(
                    "Leider scheint \"{input}\" keine gültige Telefonnummer zu sein; können Sie \
                    sie wiederholen?"
                ),
            },
        },
        Say::Unavailable => pick(
            lang,
            [
                "Sorry, I'm having trouble with our system right now; I can try again in a \
                moment or have someone call you back.",
                "Lo siento, estoy teniendo problemas con el sistema en este momento; puedo \
                intentarlo de nuevo en un momento o pedir que le devuelvan la llamada.",
                "Malheureusement, je rencontre un problème technique en ce moment ; je peux \
                réessayer dans un instant ou demander qu'on vous rappelle.",
                "Leider habe ich gerade ein technisches Problem; ich kann es gleich noch einmal \
                versuchen oder veranlassen, dass Sie zurückgerufen werden.",
            ],
        ),
        Say::TransferUnavailable => pick(
            lang,
            [
                "I'm sorry, I can't connect you with someone right now, but I can take a \
                message and have the team call you back.",
                "Lo siento, ahora mismo no puedo comunicarle con nadie, pero puedo tomar un \
                mensaje y pedir que el equipo le devuelva la llamada.",
                "Je suis désolé, je ne peux pas vous mettre en relation pour le moment, mais je \
                peux prendre un message et demander à l'équipe de vous rappeler.",
                "Es tut mir leid, ich kann Sie gerade nicht verbinden, aber ich kann eine \
                Nachricht aufnehmen, damit das Team Sie zurückruft.",
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Language::{English as En, French as Fr, German as De, Spanish as Es};
    use chrono::NaiveDateTime;
    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Lord_Howe;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A New York wall-clock time (unambiguous ones only).
    fn ny(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        New_York
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn utc(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Tuesday 2026-11-24, 14:05 in New York.
    fn now() -> DateTime<Utc> {
        ny(2026, 11, 24, 14, 5)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    fn config(languages: serde_json::Value) -> BusinessConfig {
        serde_json::from_value(serde_json::json!({
            "profile": {"name": "Smile Dental", "time_zone": "America/New_York"},
            "persona": {"languages": languages},
        }))
        .unwrap()
    }

    #[test]
    fn date_phrase_is_never_relative() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let today = d(2026, 12, 7);
        assert_eq!(
            date_phrase(d(2026, 12, 8), today, En),
            "Tuesday, December 8"
        );
        assert_eq!(date_phrase(d(2026, 12, 7), today, En), "Monday, December 7");
        assert_eq!(
            date_phrase(d(2027, 1, 5), today, En),
            "Tuesday, January 5, 2027"
        );
        assert_eq!(
            date_phrase(d(2026, 12, 8), today, Es),
            "martes 8 de diciembre"
        );
        assert_eq!(
            date_phrase(d(2026, 12, 8), today, De),
            "Dienstag, 8. Dezember"
        );
    }

    #[test]
    fn language_from_tag_reads_the_primary_subtag() {
        for (tag, expected) in [
            ("en", En),
            ("en-US", En),
            ("EN-gb", En),
            ("es", Es),
            ("es-MX", Es),
            ("es_419", Es),
            ("spa", Es),
            ("fr", Fr),
            ("fr-CA", Fr),
            (" FR-fr ", Fr),
            ("de", De),
            ("de-AT", De),
            ("deu", De),
            ("it", En),
            ("pt-BR", En),
            ("", En),
            ("-", En),
            ("ñ-ü", En),
        ] {
            assert_eq!(Language::from_tag(tag), expected, "{tag:?}");
        }
    }

    #[test]
    fn language_for_config_uses_the_first_language() {
        assert_eq!(
            Language::for_config(&config(serde_json::json!(["es-MX", "en-US"]))),
            Es
        );
        assert_eq!(
            Language::for_config(&config(serde_json::json!(["de", "fr"]))),
            De
        );
        assert_eq!(
            Language::for_config(&config(serde_json::json!(["en-US", "es"]))),
            En
        );
        assert_eq!(Language::for_config(&config(serde_json::json!(["xx"]))), En);
        assert_eq!(Language::for_config(&config(serde_json::json!([]))), En);
        let default: BusinessConfig = serde_json::from_value(serde_json::json!({
            "profile": {"name": "Smile Dental", "time_zone": "America/New_York"},
        }))
        .unwrap();
        assert_eq!(Language::for_config(&default), En);
    }

    #[test]
    fn language_codes() {
        let codes: Vec<&str> = Language::ALL.iter().map(|lang| lang.code()).collect();
        assert_eq!(codes, ["en", "es", "fr", "de"]);
        for lang in Language::ALL {
            assert_eq!(Language::from_tag(lang.code()), lang);
        }
    }

    #[test]
    fn time_phrases_in_every_language() {
        let cases: [((u32, u32), [&str; 4]); 9] = [
            ((9, 0), ["9 AM", "las 9", "9 h", "9 Uhr"]),
            ((9, 30), ["9:30 AM", "las 9:30", "9 h 30", "9:30 Uhr"]),
            ((9, 5), ["9:05 AM", "las 9:05", "9 h 05", "9:05 Uhr"]),
            ((14, 5), ["2:05 PM", "las 14:05", "14 h 05", "14:05 Uhr"]),
            ((12, 0), ["12 PM", "las 12", "12 h", "12 Uhr"]),
            ((0, 0), ["12 AM", "las 0", "0 h", "0 Uhr"]),
            ((0, 30), ["12:30 AM", "las 0:30", "0 h 30", "0:30 Uhr"]),
            ((1, 0), ["1 AM", "la 1", "1 h", "1 Uhr"]),
            ((23, 59), ["11:59 PM", "las 23:59", "23 h 59", "23:59 Uhr"]),
        ];
        for ((hour, minute), expected) in cases {
            let at = ny(2026, 11, 24, hour, minute);
            for (lang, expected) in Language::ALL.into_iter().zip(expected) {
                assert_eq!(
                    time_phrase(at, New_York, lang),
                    expected,
                    "{hour}:{minute} {lang:?}"
                );
            }
        }
    }

    #[test]
    fn time_phrase_uses_the_business_zone_and_drops_seconds() {
        let at = utc("2026-11-24T14:30:45Z");
        assert_eq!(time_phrase(at, New_York, En), "9:30 AM");
        assert_eq!(time_phrase(at, chrono_tz::UTC, En), "2:30 PM");
        assert_eq!(time_phrase(at, chrono_tz::Europe::Berlin, De), "15:30 Uhr");
        assert_eq!(time_phrase(at, chrono_tz::Asia::Kolkata, En), "8 PM");
    }

    #[test]
    fn ambiguous_local_times_carry_the_zone_abbreviation() {
        // 2026-11-01: New York goes from 02:00 EDT back to 01:00 EST.
        assert_eq!(
            time_phrase(utc("2026-11-01T04:59:00Z"), New_York, En),
            "12:59 AM"
        );
        assert_eq!(
            time_phrase(utc("2026-11-01T05:00:00Z"), New_York, En),
            "1 AM EDT"
        );
        assert_eq!(
            time_phrase(utc("2026-11-01T05:30:00Z"), New_York, En),
            "1:30 AM EDT"
        );
        assert_eq!(
            time_phrase(utc("2026-11-01T06:30:00Z"), New_York, En),
            "1:30 AM EST"
        );
        assert_eq!(
            time_phrase(utc("2026-11-01T06:59:00Z"), New_York, En),
            "1:59 AM EST"
        );
        assert_eq!(
            time_phrase(utc("2026-11-01T07:00:00Z"), New_York, En),
            "2 AM"
        );
        assert_eq!(
            time_phrase(utc("2026-11-01T05:30:00Z"), New_York, Es),
            "la 1:30 EDT"
        );
        assert_eq!(
            time_phrase(utc("2026-11-01T06:30:00Z"), New_York, Fr),
            "1 h 30 EST"
        );
        assert_eq!(
            time_phrase(utc("2026-11-01T06:30:00Z"), New_York, De),
            "1:30 Uhr EST"
        );
        // Spring forward (2026-03-08): no local time is ambiguous.
        assert_eq!(
            time_phrase(utc("2026-03-08T06:59:00Z"), New_York, En),
            "1:59 AM"
        );
        assert_eq!(
            time_phrase(utc("2026-03-08T07:00:00Z"), New_York, En),
            "3 AM"
        );
        // Lord Howe goes back half an hour (2026-04-05 02:00 +11 to 01:30 +1030).
        let first = time_phrase(utc("2026-04-04T14:45:00Z"), Lord_Howe, En);
        let second = time_phrase(utc("2026-04-04T15:15:00Z"), Lord_Howe, En);
        assert_eq!(first, "1:45 AM +11");
        assert_eq!(second, "1:45 AM +1030");
        assert_eq!(
            time_phrase(utc("2026-04-04T15:30:00Z"), Lord_Howe, En),
            "2 AM"
        );
    }

    #[test]
    fn day_phrases_relative_to_today() {
        let today = date(2026, 11, 24); // a Tuesday
        let cases: [(NaiveDate, [&str; 4]); 8] = [
            (today, ["today", "hoy", "aujourd'hui", "heute"]),
            (
                date(2026, 11, 25),
                ["tomorrow", "mañana", "demain", "morgen"],
            ),
            (
                date(2026, 11, 26),
                ["Thursday", "jueves", "jeudi", "Donnerstag"],
            ),
            (date(2026, 11, 30), ["Monday", "lunes", "lundi", "Montag"]),
            (
                date(2026, 12, 1),
                [
                    "Tuesday, December 1",
                    "martes 1 de diciembre",
                    "mardi 1er décembre",
                    "Dienstag, 1. Dezember",
                ],
            ),
            (
                date(2026, 12, 8),
                [
                    "Tuesday, December 8",
                    "martes 8 de diciembre",
                    "mardi 8 décembre",
                    "Dienstag, 8. Dezember",
                ],
            ),
            (
                date(2027, 1, 5),
                [
                    "Tuesday, January 5, 2027",
                    "martes 5 de enero de 2027",
                    "mardi 5 janvier 2027",
                    "Dienstag, 5. Januar 2027",
                ],
            ),
            (
                date(2026, 11, 23),
                [
                    "Monday, November 23",
                    "lunes 23 de noviembre",
                    "lundi 23 novembre",
                    "Montag, 23. November",
                ],
            ),
        ];
        for (day, expected) in cases {
            for (lang, expected) in Language::ALL.into_iter().zip(expected) {
                assert_eq!(day_phrase(day, today, lang), expected, "{day} {lang:?}");
            }
        }
    }

    #[test]
    fn weekday_names_for_the_next_six_days() {
        let today = date(2026, 11, 24);
        let expected = ["Thursday", "Friday", "Saturday", "Sunday", "Monday"];
        for (offset, name) in (2..=6).zip(expected) {
            let day = today + chrono::Days::new(offset);
            assert_eq!(day_phrase(day, today, En), name);
        }
        assert_eq!(
            day_phrase(date(2026, 12, 1), today, En),
            "Tuesday, December 1"
        );
        let es = ["jueves", "viernes", "sábado", "domingo", "lunes"];
        let fr = ["jeudi", "vendredi", "samedi", "dimanche", "lundi"];
        let de = ["Donnerstag", "Freitag", "Samstag", "Sonntag", "Montag"];
        for (lang, names) in [(Es, es), (Fr, fr), (De, de)] {
            for (offset, name) in (2..=6).zip(names) {
                assert_eq!(
                    day_phrase(today + chrono::Days::new(offset), today, lang),
                    name
                );
            }
        }
    }

    #[test]
    fn day_phrases_across_the_year_end_and_leap_day() {
        let new_years_eve = date(2026, 12, 31);
        assert_eq!(day_phrase(date(2027, 1, 1), new_years_eve, En), "tomorrow");
        assert_eq!(day_phrase(date(2027, 1, 2), new_years_eve, En), "Saturday");
        assert_eq!(day_phrase(date(2027, 1, 6), new_years_eve, En), "Wednesday");
        assert_eq!(
            day_phrase(date(2027, 1, 7), new_years_eve, En),
            "Thursday, January 7, 2027"
        );
        assert_eq!(
            day_phrase(date(2026, 12, 1), new_years_eve, En),
            "Tuesday, December 1"
        );
        assert_eq!(day_phrase(date(2027, 1, 1), date(2027, 1, 1), En), "today");
        assert_eq!(
            day_phrase(date(2026, 12, 30), date(2027, 1, 1), En),
            "Wednesday, December 30, 2026"
        );
        assert_eq!(
            day_phrase(date(2028, 2, 29), date(2028, 2, 1), En),
            "Tuesday, February 29"
        );
        assert_eq!(
            day_phrase(date(2028, 2, 29), date(2028, 2, 1), De),
            "Dienstag, 29. Februar"
        );
        assert_eq!(
            day_phrase(date(2028, 2, 29), date(2028, 2, 28), Fr),
            "demain"
        );
    }

    #[test]
    fn every_month_name() {
        let today = date(2026, 1, 1);
        let months: Vec<String> = (1..=12)
            .map(|month| day_phrase(date(2026, month, 15), today, En))
            .collect();
        assert!(months[0].ends_with("January 15"));
        assert!(months[11].ends_with("December 15"));
        for lang in Language::ALL {
            let names: std::collections::HashSet<String> = (1..=12)
                .map(|month| day_phrase(date(2026, month, 28), today, lang))
                .collect();
            assert_eq!(names.len(), 12, "{lang:?}");
        }
        assert_eq!(day_phrase(date(2026, 8, 15), today, Fr), "samedi 15 août");
        assert_eq!(day_phrase(date(2026, 3, 16), today, De), "Montag, 16. März");
        assert_eq!(
            day_phrase(date(2026, 9, 16), today, Es),
            "miércoles 16 de septiembre"
        );
    }

    #[test]
    fn slot_phrases_in_every_language() {
        let cases: [(DateTime<Utc>, [&str; 4]); 6] = [
            (
                ny(2026, 11, 25, 9, 30),
                [
                    "tomorrow at 9:30 AM",
                    "mañana a las 9:30",
                    "demain à 9 h 30",
                    "morgen um 9:30 Uhr",
                ],
            ),
            (
                ny(2026, 11, 24, 16, 0),
                [
                    "today at 4 PM",
                    "hoy a las 16",
                    "aujourd'hui à 16 h",
                    "heute um 16 Uhr",
                ],
            ),
            (
                ny(2026, 11, 27, 10, 0),
                [
                    "Friday at 10 AM",
                    "el viernes a las 10",
                    "vendredi à 10 h",
                    "am Freitag um 10 Uhr",
                ],
            ),
            (
                ny(2026, 11, 28, 13, 15),
                [
                    "Saturday at 1:15 PM",
                    "el sábado a las 13:15",
                    "samedi à 13 h 15",
                    "am Samstag um 13:15 Uhr",
                ],
            ),
            (
                ny(2026, 12, 8, 14, 0),
                [
                    "Tuesday, December 8 at 2 PM",
                    "el martes 8 de diciembre a las 14",
                    "mardi 8 décembre à 14 h",
                    "am Dienstag, 8. Dezember, um 14 Uhr",
                ],
            ),
            (
                ny(2027, 1, 5, 14, 0),
                [
                    "Tuesday, January 5, 2027, at 2 PM",
                    "el martes 5 de enero de 2027 a las 14",
                    "mardi 5 janvier 2027 à 14 h",
                    "am Dienstag, 5. Januar 2027, um 14 Uhr",
                ],
            ),
        ];
        for (start, expected) in cases {
            for (lang, expected) in Language::ALL.into_iter().zip(expected) {
                assert_eq!(
                    slot_phrase(start, New_York, now(), lang),
                    expected,
                    "{start} {lang:?}"
                );
            }
        }
        assert_eq!(
            slot_phrase(ny(2026, 11, 25, 1, 0), New_York, now(), Es),
            "mañana a la 1"
        );
    }

    #[test]
    fn slot_phrases_use_local_dates_not_utc_dates() {
        // 22:00 on Tuesday in New York is already Wednesday in UTC.
        let late_tuesday = utc("2026-11-25T03:00:00Z");
        assert_eq!(
            slot_phrase(utc("2026-11-25T14:00:00Z"), New_York, late_tuesday, En),
            "tomorrow at 9 AM"
        );
        assert_eq!(
            slot_phrase(utc("2026-11-25T04:30:00Z"), New_York, late_tuesday, En),
            "today at 11:30 PM"
        );
        // 23:30 on Wednesday in New York is Thursday in UTC.
        assert_eq!(
            slot_phrase(utc("2026-11-26T04:30:00Z"), New_York, now(), En),
            "tomorrow at 11:30 PM"
        );
        // Year end: 2026-12-31 in New York, 2027-01-01 in UTC.
        let new_years_eve = utc("2027-01-01T02:00:00Z");
        assert_eq!(
            slot_phrase(utc("2027-01-01T15:00:00Z"), New_York, new_years_eve, En),
            "tomorrow at 10 AM"
        );
        assert_eq!(
            slot_phrase(utc("2027-01-08T15:00:00Z"), New_York, new_years_eve, En),
            "Friday, January 8, 2027, at 10 AM"
        );
    }

    #[test]
    fn slot_phrase_in_the_repeated_hour() {
        let saturday = ny(2026, 10, 31, 12, 0);
        assert_eq!(
            slot_phrase(utc("2026-11-01T05:30:00Z"), New_York, saturday, En),
            "tomorrow at 1:30 AM EDT"
        );
        assert_eq!(
            slot_phrase(utc("2026-11-01T06:30:00Z"), New_York, saturday, En),
            "tomorrow at 1:30 AM EST"
        );
    }

    #[test]
    fn lists_of_alternatives() {
        let cases: [(&[&str], [&str; 4]); 4] = [
            (&[], ["", "", "", ""]),
            (&["A"], ["A", "A", "A", "A"]),
            (&["A", "B"], ["A or B", "A o B", "A ou B", "A oder B"]),
            (
                &["A", "B", "C"],
                ["A, B, or C", "A, B o C", "A, B ou C", "A, B oder C"],
            ),
        ];
        for (items, expected) in cases {
            for (lang, expected) in Language::ALL.into_iter().zip(expected) {
                assert_eq!(
                    list_phrase(&strings(items), lang),
                    expected,
                    "{items:?} {lang:?}"
                );
            }
        }
        assert_eq!(
            list_phrase(&strings(&["A", "B", "C", "D"]), En),
            "A, B, C, or D"
        );
    }

    #[test]
    fn lists_of_everything() {
        let cases: [(&[&str], [&str; 4]); 3] = [
            (&["A"], ["A", "A", "A", "A"]),
            (&["A", "B"], ["A and B", "A y B", "A et B", "A und B"]),
            (
                &["A", "B", "C"],
                ["A, B, and C", "A, B y C", "A, B et C", "A, B und C"],
            ),
        ];
        for (items, expected) in cases {
            for (lang, expected) in Language::ALL.into_iter().zip(expected) {
                assert_eq!(
                    and_list_phrase(&strings(items), lang),
                    expected,
                    "{items:?} {lang:?}"
                );
            }
        }
        assert_eq!(and_list_phrase(&[], En), "");
    }

    #[test]
    fn spanish_conjunctions_change_before_the_same_sound() {
        assert_eq!(
            list_phrase(&strings(&["siete", "ocho"]), Es),
            "siete u ocho"
        );
        assert_eq!(
            list_phrase(&strings(&["Ana", "Hortensia"]), Es),
            "Ana u Hortensia"
        );
        assert_eq!(list_phrase(&strings(&["Ana", "Óscar"]), Es), "Ana u Óscar");
        assert_eq!(
            list_phrase(&strings(&["limpieza", "blanqueamiento"]), Es),
            "limpieza o blanqueamiento"
        );
        assert_eq!(
            and_list_phrase(&strings(&["Pedro", "Inés"]), Es),
            "Pedro e Inés"
        );
        assert_eq!(
            and_list_phrase(&strings(&["Ana", "Hilda"]), Es),
            "Ana e Hilda"
        );
        assert_eq!(
            and_list_phrase(&strings(&["agua", "hielo"]), Es),
            "agua y hielo"
        );
        assert_eq!(
            and_list_phrase(&strings(&["Ana", "Pedro"]), Es),
            "Ana y Pedro"
        );
        // Only Spanish changes.
        assert_eq!(list_phrase(&strings(&["A", "ocho"]), En), "A or ocho");
    }

    #[test]
    fn offers() {
        let slots = vec![
            slot_phrase(ny(2026, 11, 25, 9, 0), New_York, now(), En),
            slot_phrase(ny(2026, 11, 25, 14, 0), New_York, now(), En),
            slot_phrase(ny(2026, 11, 27, 10, 0), New_York, now(), En),
        ];
        assert_eq!(
            offer_phrase(&slots, En),
            "I have tomorrow at 9 AM, tomorrow at 2 PM, or Friday at 10 AM."
        );
        assert_eq!(offer_phrase(&slots[..1], En), "I have tomorrow at 9 AM.");
        let localized = |lang| {
            let slots: Vec<String> = [ny(2026, 11, 25, 9, 0), ny(2026, 11, 27, 10, 0)]
                .into_iter()
                .map(|start| slot_phrase(start, New_York, now(), lang))
                .collect();
            offer_phrase(&slots, lang)
        };
        assert_eq!(
            localized(Es),
            "Tengo disponible mañana a las 9 o el viernes a las 10."
        );
        assert_eq!(
            localized(Fr),
            "Je peux vous proposer demain à 9 h ou vendredi à 10 h."
        );
        assert_eq!(
            localized(De),
            "Ich habe morgen um 9 Uhr oder am Freitag um 10 Uhr frei."
        );
        let nothing = [
            "I don't have anything open then.",
            "No tengo nada disponible en ese momento.",
            "Je n'ai rien de libre à ce moment-là.",
            "Da habe ich leider nichts frei.",
        ];
        for (lang, expected) in Language::ALL.into_iter().zip(nothing) {
            assert_eq!(offer_phrase(&[], lang), expected);
        }
    }

    #[test]
    fn today_in_every_language() {
        let expected = [
            "Today is Tuesday, November 24, 2026, and it is 2:05 PM.",
            "Hoy es martes 24 de noviembre de 2026 y son las 14:05.",
            "Nous sommes le mardi 24 novembre 2026 et il est 14 h 05.",
            "Heute ist Dienstag, 24. November 2026, und es ist 14:05 Uhr.",
        ];
        for (lang, phrase) in Language::ALL.into_iter().zip(expected) {
            let today = today(now(), New_York, lang);
            assert_eq!(
                today,
                Today {
                    date: date(2026, 11, 24),
                    weekday: "Tuesday".into(),
                    time: "14:05".into(),
                    time_zone: "America/New_York".into(),
                    phrase: phrase.into(),
                }
            );
        }
        assert_eq!(
            today(ny(2026, 11, 24, 1, 10), New_York, Es).phrase,
            "Hoy es martes 24 de noviembre de 2026 y es la 1:10."
        );
        assert_eq!(
            today(ny(2026, 12, 1, 9, 0), New_York, Fr).phrase,
            "Nous sommes le mardi 1er décembre 2026 et il est 9 h."
        );
    }

    #[test]
    fn today_is_the_local_date_and_serializes() {
        let late = today(utc("2026-11-25T03:00:00Z"), New_York, En);
        assert_eq!(late.date, date(2026, 11, 24));
        assert_eq!(late.time, "22:00");
        assert_eq!(
            late.phrase,
            "Today is Tuesday, November 24, 2026, and it is 10 PM."
        );
        let json = serde_json::to_value(&late).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "date": "2026-11-24",
                "weekday": "Tuesday",
                "time": "22:00",
                "time_zone": "America/New_York",
                "phrase": "Today is Tuesday, November 24, 2026, and it is 10 PM.",
            })
        );
        let sydney = today(
            utc("2026-11-25T03:00:00Z"),
            chrono_tz::Australia::Sydney,
            De,
        );
        assert_eq!(
            (sydney.date, sydney.weekday.as_str(), sydney.time.as_str()),
            (date(2026, 11, 25), "Wednesday", "14:00")
        );
    }

    #[test]
    fn booking_sentences_in_english() {
        let tomorrow = ny(2026, 11, 25, 9, 0);
        let friday = ny(2026, 11, 27, 10, 0);
        let later = ny(2026, 12, 8, 14, 0);
        let lee = Some("Dr. Lee");
        assert_eq!(
            booking_confirmed("cleaning", tomorrow, New_York, now(), lee, En),
            "Your cleaning is booked for tomorrow at 9 AM with Dr. Lee."
        );
        assert_eq!(
            booking_confirmed("cleaning", friday, New_York, now(), None, En),
            "Your cleaning is booked for Friday at 10 AM."
        );
        assert_eq!(
            booking_moved("cleaning", tomorrow, New_York, now(), lee, En),
            "Done — your cleaning is now tomorrow at 9 AM with Dr. Lee."
        );
        assert_eq!(
            booking_moved("cleaning", later, New_York, now(), None, En),
            "Done — your cleaning is now on Tuesday, December 8 at 2 PM."
        );
        assert_eq!(
            booking_cancelled("cleaning", friday, New_York, now(), En),
            "Your cleaning on Friday at 10 AM is cancelled."
        );
        assert_eq!(
            booking_cancelled("cleaning", tomorrow, New_York, now(), En),
            "Your cleaning tomorrow at 9 AM is cancelled."
        );
        assert_eq!(
            booking_line("cleaning", tomorrow, New_York, now(), lee, En),
            "your cleaning tomorrow at 9 AM with Dr. Lee"
        );
        assert_eq!(
            booking_line(" checkup ", friday, New_York, now(), Some("  "), En),
            "your checkup on Friday at 10 AM"
        );
    }

    #[test]
    fn booking_sentences_in_other_languages() {
        let tomorrow = ny(2026, 11, 25, 9, 0);
        let friday = ny(2026, 11, 27, 10, 30);
        let later = ny(2026, 12, 8, 14, 0);
        let lee = Some("Dr. Lee");
        let cases: [(Language, &str, [String; 5]); 3] = [
            (
                Es,
                "limpieza",
                [
                    booking_confirmed("limpieza", tomorrow, New_York, now(), lee, Es),
                    booking_confirmed("limpieza", later, New_York, now(), None, Es),
                    booking_moved("limpieza", friday, New_York, now(), lee, Es),
                    booking_cancelled("limpieza", friday, New_York, now(), Es),
                    booking_line("limpieza", tomorrow, New_York, now(), lee, Es),
                ],
            ),
            (
                Fr,
                "détartrage",
                [
                    booking_confirmed("détartrage", tomorrow, New_York, now(), lee, Fr),
                    booking_confirmed("détartrage", later, New_York, now(), None, Fr),
                    booking_moved("détartrage", friday, New_York, now(), lee, Fr),
                    booking_cancelled("détartrage", friday, New_York, now(), Fr),
                    booking_line("détartrage", tomorrow, New_York, now(), lee, Fr),
                ],
            ),
            (
                De,
                "Zahnreinigung",
                [
                    booking_confirmed("Zahnreinigung", tomorrow, New_York, now(), lee, De),
                    booking_confirmed("Zahnreinigung", later, New_York, now(), None, De),
                    booking_moved("Zahnreinigung", friday, New_York, now(), lee, De),
                    booking_cancelled("Zahnreinigung", friday, New_York, now(), De),
                    booking_line("Zahnreinigung", tomorrow, New_York, now(), lee, De),
                ],
            ),
        ];
        let expected: [[&str; 5]; 3] = [
            [
                "Su cita de limpieza queda reservada para mañana a las 9 con Dr. Lee.",
                "Su cita de limpieza queda reservada para el martes 8 de diciembre a las 14.",
                "Listo, su cita de limpieza ahora es el viernes a las 10:30 con Dr. Lee.",
                "Su cita de limpieza para el viernes a las 10:30 queda cancelada.",
                "su cita de limpieza mañana a las 9 con Dr. Lee",
            ],
            [
                "Votre rendez-vous pour détartrage est confirmé pour demain à 9 h avec Dr. Lee.",
                "Votre rendez-vous pour détartrage est confirmé pour mardi 8 décembre à 14 h.",
                "C'est fait, votre rendez-vous pour détartrage est maintenant vendredi à 10 h 30 avec Dr. Lee.",
                "Votre rendez-vous pour détartrage prévu vendredi à 10 h 30 est annulé.",
                "votre rendez-vous pour détartrage demain à 9 h avec Dr. Lee",
            ],
            [
                "Ihr Termin für Zahnreinigung ist morgen um 9 Uhr bei Dr. Lee gebucht.",
                "Ihr Termin für Zahnreinigung ist am Dienstag, 8. Dezember, um 14 Uhr gebucht.",
                "Erledigt, Ihr Termin für Zahnreinigung ist jetzt am Freitag um 10:30 Uhr bei Dr. Lee.",
                "Ihr Termin für Zahnreinigung am Freitag um 10:30 Uhr ist storniert.",
                "Ihr Termin für Zahnreinigung morgen um 9 Uhr bei Dr. Lee",
            ],
        ];
        for ((lang, service, actual), expected) in cases.into_iter().zip(expected) {
            for (actual, expected) in actual.iter().zip(expected) {
                assert_eq!(actual, expected, "{lang:?} {service}");
            }
        }
    }

    /// Every variant, some twice (with and without their optional parts).
    fn every_say<'a>(services: &'a [String], staff: &'a [String], earliest: &str) -> Vec<Say<'a>> {
        vec![
            Say::SlotTaken,
            Say::OutsideHours,
            Say::Closed { reason: None },
            Say::Closed {
                reason: Some("Thanksgiving"),
            },
            Say::TooSoon { earliest: None },
            Say::TooSoon {
                earliest: Some(earliest.to_owned()),
            },
            Say::BeyondHorizon { days: 1 },
            Say::BeyondHorizon { days: 60 },
            Say::InPast,
            Say::UnknownService { known: services },
            Say::UnknownService { known: &[] },
            Say::UnknownStaff { known: staff },
            Say::UnknownStaff { known: &[] },
            Say::StaffCannotServe {
                staff: "Maria",
                service: "whitening",
            },
            Say::DailyCapReached,
            Say::TooLateToCancel { hours: 1 },
            Say::TooLateToCancel { hours: 24 },
            Say::TooLateToChange { hours: 1 },
            Say::TooLateToChange { hours: 24 },
            Say::UnparseableDate {
                input: "next blursday",
            },
            Say::UnparseableDate { input: "{}" },
            Say::UnparseableTime {
                input: "25 o'clock",
            },
            Say::UnparseableTime { input: "" },
            Say::NonexistentTime,
            Say::BookingNotFound,
            Say::AlreadyCancelled,
            Say::InvalidSlot,
            Say::NoBookingsFound,
            Say::InvalidPhone {
                input: "+1 (212) 555-01",
            },
            Say::InvalidPhone { input: "…" },
            Say::Unavailable,
            Say::TransferUnavailable,
        ]
    }

    /// Exhaustive on purpose: a new variant fails to compile until it is added to [`every_say`].
    fn variant(what: &Say<'_>) -> &'static str {
        match what {
            Say::SlotTaken => "SlotTaken",
            Say::OutsideHours => "OutsideHours",
            Say::Closed { .. } => "Closed",
            Say::TooSoon { .. } => "TooSoon",
            Say::BeyondHorizon { .. } => "BeyondHorizon",
            Say::InPast => "InPast",
            Say::UnknownService { .. } => "UnknownService",
            Say::UnknownStaff { .. } => "UnknownStaff",
            Say::StaffCannotServe { .. } => "StaffCannotServe",
            Say::DailyCapReached => "DailyCapReached",
            Say::TooLateToCancel { .. } => "TooLateToCancel",
            Say::TooLateToChange { .. } => "TooLateToChange",
            Say::UnparseableDate { .. } => "UnparseableDate",
            Say::UnparseableTime { .. } => "UnparseableTime",
            Say::NonexistentTime => "NonexistentTime",
            Say::BookingNotFound => "BookingNotFound",
            Say::AlreadyCancelled => "AlreadyCancelled",
            Say::InvalidSlot => "InvalidSlot",
            Say::NoBookingsFound => "NoBookingsFound",
            Say::InvalidPhone { .. } => "InvalidPhone",
            Say::Unavailable => "Unavailable",
            Say::TransferUnavailable => "TransferUnavailable",
        }
    }

    /// One spoken sentence: ends with a full stop or question mark, no sentence end inside
    /// (a full stop after a digit is a German ordinal, "8. Dezember"), nothing unspeakable.
    fn assert_one_sentence(sentence: &str, context: &str) {
        assert!(!sentence.trim().is_empty(), "{context}: empty");
        assert_eq!(sentence.trim(), sentence, "{context}: {sentence:?}");
        assert!(sentence.ends_with(['.', '?']), "{context}: {sentence:?}");
        let first = sentence.chars().next().unwrap();
        assert!(
            first.is_uppercase() || first == '¿',
            "{context}: {sentence:?}"
        );
        for bad in ['{', '}', '*', '#', '`', '_', '\n', '[', '<', '!'] {
            assert!(
                !sentence.contains(bad),
                "{context}: {bad:?} in {sentence:?}"
            );
        }
        assert!(
            sentence.is_ascii() || !sentence.chars().any(|c| c as u32 >= 0x1F000),
            "{context}: emoji in {sentence:?}"
        );
        let body = &sentence[..sentence.len() - 1];
        let chars: Vec<char> = body.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if matches!(c, '.' | '?') && chars.get(i + 1) == Some(&' ') {
                let after_digit = i > 0 && chars[i - 1].is_ascii_digit();
                assert!(
                    after_digit && *c == '.',
                    "{context}: two sentences in {sentence:?}"
                );
            }
        }
    }

    #[test]
    fn every_say_is_one_localized_sentence() {
        let services = strings(&["cleaning", "checkup", "whitening"]);
        let staff = strings(&["Maria", "Ben", "Olga"]);
        let mut variants = std::collections::HashSet::new();
        let mut per_language: Vec<Vec<String>> = Vec::new();
        for lang in Language::ALL {
            let earliest = slot_phrase(ny(2026, 12, 8, 14, 0), New_York, now(), lang);
            let mut sentences = Vec::new();
            for what in every_say(&services, &staff, &earliest) {
                variants.insert(variant(&what));
                let context = format!("{lang:?} {what:?}");
                let sentence = say(what, lang);
                assert_one_sentence(&sentence, &context);
                sentences.push(sentence);
            }
            let distinct: std::collections::HashSet<&String> = sentences.iter().collect();
            assert_eq!(
                distinct.len(),
                sentences.len(),
                "{lang:?}: two cases share a sentence"
            );
            per_language.push(sentences);
        }
        assert_eq!(variants.len(), 22, "every variant is covered");
        for case in 0..per_language[0].len() {
            let texts: std::collections::HashSet<&String> = per_language
                .iter()
                .map(|sentences| &sentences[case])
                .collect();
            assert_eq!(texts.len(), 4, "case {case} is not translated: {texts:?}");
        }
    }

    #[test]
    fn say_in_english() {
        let services = strings(&["a cleaning", "a checkup", "whitening"]);
        assert_eq!(say(Say::SlotTaken, En), "Sorry, that time was just taken.");
        assert_eq!(
            say(Say::UnknownService { known: &services }, En),
            "I'm not sure which service you mean; we offer a cleaning, a checkup, or whitening."
        );
        assert_eq!(
            say(
                Say::UnknownStaff {
                    known: &strings(&["Dr. Lee", "Maria"])
                },
                En
            ),
            "I'm not sure who you mean; you can book with Dr. Lee or Maria."
        );
        assert_eq!(
            say(
                Say::Closed {
                    reason: Some(" Thanksgiving. ")
                },
                En
            ),
            "Sorry, we're closed then for Thanksgiving."
        );
        assert_eq!(
            say(Say::Closed { reason: Some("  ") }, En),
            "Sorry, we're closed then."
        );
        assert_eq!(
            say(
                Say::TooSoon {
                    earliest: Some("tomorrow at 9 AM".into())
                },
                En
            ),
            "Sorry, that's too soon to book; the earliest I can do is tomorrow at 9 AM."
        );
        assert_eq!(
            say(
                Say::TooSoon {
                    earliest: Some(" ".into())
                },
                En
            ),
            say(Say::TooSoon { earliest: None }, En)
        );
        assert_eq!(
            say(Say::BeyondHorizon { days: 1 }, En),
            "Sorry, I can only book up to 1 day ahead."
        );
        assert_eq!(
            say(Say::BeyondHorizon { days: 60 }, En),
            "Sorry, I can only book up to 60 days ahead."
        );
        assert!(say(Say::TooLateToCancel { hours: 24 }, En).contains("up to 24 hours before"));
        assert!(say(Say::TooLateToChange { hours: 1 }, En).contains("up to 1 hour before"));
        assert_eq!(
            say(
                Say::StaffCannotServe {
                    staff: "Maria",
                    service: "whitening"
                },
                En
            ),
            "Sorry, Maria doesn't offer whitening; would you like to book it with someone else?"
        );
        assert_eq!(
            say(
                Say::InvalidPhone {
                    input: "+1 (212) 555-01"
                },
                En
            ),
            "Sorry, \"+1 (212) 555-01\" doesn't seem to be a valid phone number; could you repeat it?"
        );
    }

    #[test]
    fn say_in_other_languages() {
        assert_eq!(
            say(Say::SlotTaken, Es),
            "Lo siento, ese horario se acaba de ocupar."
        );
        assert_eq!(
            say(Say::SlotTaken, Fr),
            "Malheureusement, ce créneau vient d'être pris."
        );
        assert_eq!(
            say(Say::SlotTaken, De),
            "Leider wurde dieser Termin gerade vergeben."
        );
        let services = strings(&["limpieza", "ortodoncia"]);
        assert_eq!(
            say(Say::UnknownService { known: &services }, Es),
            "No tengo claro qué servicio desea; ofrecemos limpieza u ortodoncia."
        );
        assert_eq!(
            say(Say::BeyondHorizon { days: 1 }, De),
            "Leider kann ich nur bis zu 1 Tag im Voraus buchen."
        );
        assert_eq!(
            say(Say::BeyondHorizon { days: 30 }, Fr),
            "Malheureusement, je ne peux réserver que jusqu'à 30 jours à l'avance."
        );
        assert_eq!(
            say(
                Say::Closed {
                    reason: Some("Weihnachten")
                },
                De
            ),
            "Leider haben wir da wegen Weihnachten geschlossen."
        );
        assert_eq!(
            say(Say::InPast, Es),
            "Esa hora ya pasó; ¿podría elegir otro momento?"
        );
    }

    #[test]
    fn quoted_inputs_are_made_speakable() {
        assert_eq!(
            say(
                Say::UnparseableDate {
                    input: "{next}\n blursday.\u{1F389} **"
                },
                En
            ),
            "Sorry, I couldn't understand the date \"next blursday\"; could you say it another way?"
        );
        assert_eq!(
            say(Say::UnparseableTime { input: "\"}{\"" }, En),
            "Sorry, I couldn't understand that time; could you say it another way?"
        );
        assert_eq!(speakable("mañana à 9h"), "mañana à 9h");
        assert_eq!(speakable(&"9".repeat(100)).len(), 40);
        assert_eq!(speakable("2026.11.25"), "2026 11 25");
        assert_eq!(speakable("\u{1FBF0}\u{1F170}\u{1F389}9am"), "9am");
        assert_eq!(speakable("٣ 中文"), "中文");
    }

    proptest! {
        #[test]
        fn quoted_inputs_never_break_the_sentence(input in "\\PC*|[{}\".?!\n a-z0-9]{0,60}") {
            for lang in Language::ALL {
                for what in [
                    Say::UnparseableDate { input: &input },
                    Say::UnparseableTime { input: &input },
                    Say::InvalidPhone { input: &input },
                ] {
                    let sentence = say(what.clone(), lang);
                    assert_one_sentence(&sentence, &format!("{lang:?} {what:?}"));
                    let quotes = sentence.matches('"').count();
                    prop_assert!(quotes == 0 || quotes == 2, "{sentence}");
                }
            }
        }

        #[test]
        fn phrases_never_panic_and_are_never_empty(
            start in -2_000_000_000_000i64..2_000_000_000_000,
            now in -2_000_000_000_000i64..2_000_000_000_000,
            zone in prop::sample::select(vec![
                New_York,
                Lord_Howe,
                chrono_tz::UTC,
                chrono_tz::Asia::Kathmandu,
                chrono_tz::Pacific::Apia,
            ]),
        ) {
            let start = DateTime::from_timestamp(start / 1000 * 60, 0).unwrap();
            let now = DateTime::from_timestamp(now / 1000 * 60, 0).unwrap();
            for lang in Language::ALL {
                prop_assert!(!time_phrase(start, zone, lang).is_empty());
                prop_assert!(!slot_phrase(start, zone, now, lang).is_empty());
                prop_assert!(!today(now, zone, lang).phrase.is_empty());
                let local: NaiveDateTime = start.with_timezone(&zone).naive_local();
                let local_today = now.with_timezone(&zone).date_naive();
                prop_assert!(!day_phrase(local.date(), local_today, lang).is_empty());
                let maria = Some("Maria");
                let confirmed = booking_confirmed("cleaning", start, zone, now, maria, lang);
                assert_one_sentence(&confirmed, "confirmed");
                let moved = booking_moved("cleaning", start, zone, now, None, lang);
                assert_one_sentence(&moved, "moved");
                let cancelled = booking_cancelled("cleaning", start, zone, now, lang);
                assert_one_sentence(&cancelled, "cancelled");
            }
        }
    }
}
