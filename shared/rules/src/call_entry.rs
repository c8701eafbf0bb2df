//! What the voice agent knows when a call starts: the dynamic variables of the
//! conversation-initiation webhook, the greeting, and whether the business is open.
//!
//! When a call comes in, ElevenLabs asks our conversation-initiation webhook for the
//! conversation's `dynamic_variables` (native integration), or we pass them inline to
//! register-call. The agent's prompt and first message use them as `{{name}}` placeholders, and
//! ElevenLabs requires **every** variable the agent defines in **every** answer. So
//! [`dynamic_variables`] (a business and a caller) and [`generic_variables`] (a number that
//! belongs to no business) always return exactly the keys of [`VARIABLES`], every value a
//! string, `""` when unknown. [`client_data`] wraps them in the webhook's answer.
//!
//! # Variables
//!
//! The list is stable: the agent's placeholders are generated from [`VARIABLES`]; add new
//! names at the end, never rename. Speakable values are in the business's first language
//! (`persona.languages`, see [`crate::speak`]); times are local to `profile.time_zone`.
//!
//! | name | value | example |
//! |------|-------|---------|
//! | `business_id` | the business's id | `demo-dental` |
//! | `business_name` | `profile.name` | `Smile Dental` |
//! | `time_zone` | IANA zone of the business | `America/New_York` |
//! | `language` | first of `persona.languages` (BCP 47) | `en-US` |
//! | `local_date` | local date, ISO 8601 | `2026-11-24` |
//! | `local_time` | local time, 24-hour `HH:MM` | `14:05` |
//! | `local_datetime` | local date and time, RFC 3339 with offset | `2026-11-24T14:05:00-05:00` |
//! | `weekday` | English weekday of `local_date` | `Tuesday` |
//! | `today` | same as `local_date` | `2026-11-24` |
//! | `tomorrow` | the next local date, ISO 8601 | `2026-11-25` |
//! | `today_phrase` | the date and time as a sentence | `Today is Tuesday, November 24, 2026, and it is 2:05 PM.` |
//! | `open_now` | `true` / `false` (hours minus closures) | `true` |
//! | `today_hours` | today's opening hours, speakable | `8 AM to 12 PM and 1 PM to 5 PM`, `closed today` |
//! | `closes_at` | when the business closes, if open now | `5 PM`, `midnight`, `tomorrow at 2 AM`, `""` |
//! | `next_opening` | the next time it opens after now (when open: after `closes_at`) | `tomorrow at 8 AM`, `today at 1 PM` |
//! | `closed_reason` | reason of the closure (holiday, blackout) covering now, if any | `Christmas Day` |
//! | `persona_variant` | `morning` / `afternoon` / `evening` / `after_hours` (below) | `afternoon` |
//! | `consent_message` | `persona.consent_message` when `compliance.recording_consent`, else `""` | `This call may be recorded …` |
//! | `greeting` | the first sentence(s) of the call ([`greeting`]) | `This call may be recorded … Thanks for calling Smile Dental!` |
//! | `caller_number` | the caller's number, E.164, `""` when withheld or not a number | `+12125550123` |
//! | `caller_known` | `true` when the CRM knows the caller's name or next booking | `false` |
//! | `caller_name` | the caller's name from the CRM (cleaned, at most 60 characters) | `Ana Gomez` |
//! | `next_booking` | the caller's next booking, speakable | `your Teeth cleaning on Tuesday at 9 AM with Dr. Lee` |
//! | `next_booking_id` | its id | `bk_01H…` |
//! | `next_booking_start` | its start, RFC 3339 with the local offset | `2026-11-24T09:00:00-05:00` |
//! | `escalation_available` | `true` when a transfer to a human is possible | `true` |
//! | `call_sid` | Twilio's CallSid, when the app knows it (register-call; the initiation webhook's `call_sid`) | `CA5f…` |
//!
//! Notes:
//!
//! * `open_now`, `today_hours`, `closes_at`, `next_opening` and `closed_reason` come from
//!   [`open_state`]: the weekly hours minus the closures, per local day, with the DST rules of
//!   [`crate::slots`]. `next_opening` is searched [`SEARCH_DAYS`] days ahead (`""` beyond);
//!   `closes_at` is `""` when the business stays open past that (open around the clock).
//!   Ranges that touch (`12:00` close, `12:00` open, or `24:00` then `00:00` the next day) are
//!   one opening.
//! * `persona_variant` is `after_hours` whenever `open_now` is `false`. While open, by the
//!   local time: `morning` before 12:00, `afternoon` from 12:00 to before 17:00, `evening`
//!   from 17:00 (the same cut-offs as `time_of_day` of `check_availability`).
//! * `escalation_available` is `true` when the business has a transfer rule
//!   ([`crate::config::Telephony::transfer_rules`]: `telephony.transfers`, else the
//!   `escalation_number`). Native numbers transfer with ElevenLabs' `transfer_to_number`
//!   ([`transfer_to_number_tool`]); register-call numbers with our `transfer_call` tool, which
//!   redirects the live call through Twilio (ElevenLabs has no Twilio credentials for them).
//!   It says nothing about staff being there; combine with `open_now` in the prompt.
//! * `call_sid` is set by the app (`""` here): `transfer_call` needs it to find the live call.
//! * `next_booking` is whatever booking the app passes as the caller's next one, spoken
//!   relative to now.
//!
//! # Generic answer
//!
//! For a called number that belongs to no business (or when the business can't be loaded in
//! time), [`generic_variables`] gives the same keys with neutral values: no business, closed
//! (`open_now` `false`, `persona_variant` `after_hours`), no transfer, an anonymous caller,
//! dates and times in UTC (`time_zone` `UTC`, and no `today_phrase`, which callers would hear
//! as a local time), and the default recording notice, since whether the call is recorded
//! is unknown.

use std::cell::Cell;
use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::config::{AfterHoursPolicy, BusinessConfig, Persona, TelephonyMode, TransferType};
use crate::slots::{business_day, local_day_bounds};
use crate::speak::{self, Language};
use crate::template;

/// What the CRM knows about the caller (filled by the app from DynamoDB).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerInfo {
    /// The contact's name, as stored.
    pub name: Option<String>,
    /// The caller's next (upcoming) booking.
    pub next_booking: Option<NextBooking>,
}

/// A booking of the caller, as the agent should hear about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextBooking {
    pub booking_id: String,
    /// The service's display name ("Teeth cleaning").
    pub service_name: String,
    /// The staff member's display name ("Dr. Lee"), if one was booked.
    pub staff_name: Option<String>,
    pub start: DateTime<Utc>,
}

/// Whether the business is open at an instant, and when that changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenState {
    /// `now` lies inside the business hours of today and outside every closure.
    pub open_now: bool,
    /// When open: the end of the current opening; `None` when closed, or when the business
    /// stays open beyond the [`SEARCH_DAYS`] window.
    pub closes_at: Option<DateTime<Utc>>,
    /// The first opening that starts after `now` (when open: after `closes_at`), within
    /// [`SEARCH_DAYS`] local days after today.
    pub next_opening: Option<DateTime<Utc>>,
    /// Today's opening hours (local day of `now`), closures subtracted, sorted.
    pub today_hours: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// When closed because of a closure covering `now`: its reason, if it has one.
    pub closed_reason: Option<String>,
}

/// How many local days after today [`open_state`] searches for the next opening.
pub const SEARCH_DAYS: u64 = 14;

/// The longest `caller_name` passed to the agent, in characters.
pub const MAX_CALLER_NAME_CHARS: usize = 60;

/// Every dynamic variable the agent defines, in documentation order (see the
/// [module documentation](self)). Both [`dynamic_variables`] and [`generic_variables`] return
/// exactly these keys.
pub const VARIABLES: &[&str] = &[
    "business_id",
    "business_name",
    "time_zone",
    "language",
    "local_date",
    "local_time",
    "local_datetime",
    "weekday",
    "today",
    "tomorrow",
    "today_phrase",
    "open_now",
    "today_hours",
    "closes_at",
    "next_opening",
    "closed_reason",
    "persona_variant",
    "consent_message",
    "greeting",
    "caller_number",
    "caller_known",
    "caller_name",
    "next_booking",
    "next_booking_id",
    "next_booking_start",
    "escalation_available",
    "call_sid",
];

/// The `persona_variant` values.
pub const PERSONA_VARIANTS: [&str; 4] = ["morning", "afternoon", "evening", "after_hours"];

/// Whether the business is open at `now`: the weekly hours minus the closures of each local
/// day ([`crate::slots::business_day`], DST-exact), the current opening's end and the next
/// opening within [`SEARCH_DAYS`] days.
pub fn open_state(config: &BusinessConfig, now: DateTime<Utc>) -> OpenState {
    let tz = config.profile.time_zone;
    let today = local_date(now, tz);
    let days: Vec<_> = (0..=SEARCH_DAYS)
        .map_while(|offset| today.checked_add_days(Days::new(offset)))
        .map(|date| business_day(config, date))
        .collect();
    let Some(first) = days.first() else {
        return OpenState {
            open_now: false,
            closes_at: None,
            next_opening: None,
            today_hours: Vec::new(),
            closed_reason: None,
        };
    };
    let window_end = days.last().map_or(first.bounds.1, |day| day.bounds.1);
    // Openings of the whole window, ranges that touch across midnight merged.
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for &(from, to) in days.iter().flat_map(|day| &day.open) {
        match spans.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => spans.push((from, to)),
        }
    }
    let current = spans.iter().find(|(from, to)| *from <= now && now < *to);
    let closed_reason = match current {
        Some(_) => None,
        None => first
            .closures
            .iter()
            .filter(|closure| closure.window.0 <= now && now < closure.window.1)
            .find_map(|closure| {
                closure
                    .reason
                    .as_deref()
                    .map(str::trim)
                    .filter(|reason| !reason.is_empty())
                    .map(str::to_owned)
            }),
    };
    OpenState {
        open_now: current.is_some(),
        closes_at: current.and_then(|&(_, to)| (to < window_end).then_some(to)),
        next_opening: spans.iter().map(|&(from, _)| from).find(|&from| from > now),
        today_hours: first.open.clone(),
        closed_reason,
    }
}

/// Every variable of [`VARIABLES`] for a call to `business_id` at `now`, from `caller_e164`
/// (Twilio's `From` / ElevenLabs' `caller_id`; anything but an E.164 number counts as
/// withheld) whom the CRM knows as `caller`.
pub fn dynamic_variables(
    config: &BusinessConfig,
    business_id: &str,
    now: DateTime<Utc>,
    caller_e164: Option<&str>,
    caller: &CallerInfo,
) -> BTreeMap<String, String> {
    let tz = config.profile.time_zone;
    let lang = Language::for_config(config);
    let state = open_state(config, now);
    let mut vars = clock_variables(now, tz, lang);
    let mut set = |name: &str, value: String| {
        vars.insert(name.to_owned(), value);
    };
    set("business_id", business_id.trim().to_owned());
    set("business_name", config.profile.name.trim().to_owned());
    set("language", language_tag(config));

    set("open_now", state.open_now.to_string());
    set("today_hours", hours_phrase(&state.today_hours, tz, lang));
    let today_end = local_day_bounds(tz, local_date(now, tz)).1;
    set(
        "closes_at",
        state.closes_at.map_or_else(String::new, |at| {
            closing_phrase(at, today_end, tz, now, lang)
        }),
    );
    set(
        "next_opening",
        state
            .next_opening
            .map_or_else(String::new, |at| speak::slot_phrase(at, tz, now, lang)),
    );
    set("closed_reason", state.closed_reason.unwrap_or_default());
    set(
        "persona_variant",
        persona_variant(state.open_now, now, tz).to_owned(),
    );
    set("consent_message", consent(config).to_owned());

    set(
        "caller_number",
        caller_e164
            .map(str::trim)
            .filter(|number| is_e164(number))
            .unwrap_or_default()
            .to_owned(),
    );
    let name = caller.name.as_deref().map(clean_name).unwrap_or_default();
    let booking = caller.next_booking.as_ref();
    set(
        "caller_known",
        (!name.is_empty() || booking.is_some()).to_string(),
    );
    set("caller_name", name);
    set(
        "next_booking",
        booking.map_or_else(String::new, |b| {
            speak::booking_line(
                &b.service_name,
                b.start,
                tz,
                now,
                b.staff_name.as_deref(),
                lang,
            )
        }),
    );
    set(
        "next_booking_id",
        booking.map_or_else(String::new, |b| b.booking_id.clone()),
    );
    set(
        "next_booking_start",
        booking.map_or_else(String::new, |b| local_rfc3339(b.start, tz)),
    );
    set(
        "escalation_available",
        (!config.telephony.transfer_rules().is_empty()).to_string(),
    );
    set("call_sid", String::new());
    let greeting = greeting(config, &vars);
    vars.insert("greeting".to_owned(), greeting);
    vars
}

/// The first thing the agent says: `persona.greeting` rendered with `vars` (usually
/// `{{business_name}}` and `{{caller_name}}`), preceded by `persona.consent_message` when
/// `compliance.recording_consent` is on.
///
/// The notice comes first so the caller hears it before answering the greeting's question.
/// A variable that is unknown or empty (an unknown caller's name) renders as nothing, and the
/// sentence is tidied: "Hi {{caller_name}}, thanks for calling!" becomes "Hi, thanks for
/// calling!". A template that can't be read (validation prevents it) gives the default
/// greeting.
pub fn greeting(config: &BusinessConfig, vars: &BTreeMap<String, String>) -> String {
    compose_greeting(&config.persona.greeting, consent(config), vars)
}

/// The variables for a call to a number that belongs to no business: the same keys as
/// [`dynamic_variables`], neutral values (see the [module documentation](self#generic-answer)).
pub fn generic_variables(now: DateTime<Utc>) -> BTreeMap<String, String> {
    let lang = Language::English;
    let mut vars = clock_variables(now, Tz::UTC, lang);
    let consent = Persona::default().consent_message;
    for (name, value) in [
        ("business_id", ""),
        ("business_name", ""),
        ("language", "en-US"),
        ("today_phrase", ""),
        ("open_now", "false"),
        ("today_hours", ""),
        ("closes_at", ""),
        ("next_opening", ""),
        ("closed_reason", ""),
        ("persona_variant", "after_hours"),
        ("consent_message", consent.as_str()),
        ("caller_number", ""),
        ("caller_known", "false"),
        ("caller_name", ""),
        ("next_booking", ""),
        ("next_booking_id", ""),
        ("next_booking_start", ""),
        ("escalation_available", "false"),
        ("call_sid", ""),
    ] {
        vars.insert(name.to_owned(), value.to_owned());
    }
    let greeting = compose_greeting(GENERIC_GREETING, &consent, &vars);
    vars.insert("greeting".to_owned(), greeting);
    vars
}

/// The greeting template of [`generic_variables`].
pub const GENERIC_GREETING: &str = "Thanks for calling! How can I help you today?";

/// The conversation-initiation webhook's answer for `vars`:
/// `{"type": "conversation_initiation_client_data", "dynamic_variables": {...}}`. No
/// `conversation_config_override`: overriding needs per-agent permissions, and the agent's
/// first message and language can use the variables instead.
pub fn client_data(vars: &BTreeMap<String, String>) -> serde_json::Value {
    serde_json::json!({
        "type": "conversation_initiation_client_data",
        "dynamic_variables": vars,
    })
}

/// The ElevenLabs `transfer_to_number` system tool for the business's transfer rules (native
/// mode: ElevenLabs transfers the call itself), ready to put in the agent's
/// `conversation_config.agent.prompt.built_in_tools`. `None` when the mode is `register_call`
/// (the `transfer_call` tool does it) or there is no rule.
pub fn transfer_to_number_tool(config: &BusinessConfig) -> Option<serde_json::Value> {
    if config.telephony.mode != TelephonyMode::Native {
        return None;
    }
    let rules = config.telephony.transfer_rules();
    if rules.is_empty() {
        return None;
    }
    let transfers: Vec<serde_json::Value> = rules
        .iter()
        .map(|rule| {
            serde_json::json!({
                "transfer_destination": {"type": "phone", "phone_number": rule.number},
                "condition": rule.condition.trim(),
                "transfer_type": match rule.transfer_type {
                    TransferType::Conference => "conference",
                    TransferType::Blind => "blind",
                },
            })
        })
        .collect();
    Some(serde_json::json!({
        "type": "system",
        "name": "transfer_to_number",
        "description": format!(
            "Transfer the caller to a person at {} when one of the conditions applies. \
             Tell the caller you are connecting them first.",
            config.profile.name.trim()
        ),
        "params": {
            "system_tool_type": "transfer_to_number",
            "transfers": transfers,
            "enable_client_message": true,
        },
    }))
}

/// Who answers a call that reaches our webhook (`telephony.mode` `register_call`; native
/// numbers ring the agent directly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryRoute {
    /// Register the call with the voice agent.
    Agent,
    /// [`crate::twiml::voicemail`].
    Voicemail,
    /// [`crate::twiml::ring_staff_first`], then the agent.
    RingStaffFirst,
}

/// The route of a call given whether the business is open ([`OpenState::open_now`]): the
/// agent during business hours; outside them, `telephony.after_hours_policy`
/// (`ring_staff_first` without an escalation number falls back to the agent).
pub fn entry_route(config: &BusinessConfig, open_now: bool) -> EntryRoute {
    if open_now {
        return EntryRoute::Agent;
    }
    match config.telephony.after_hours_policy {
        AfterHoursPolicy::AiAlways => EntryRoute::Agent,
        AfterHoursPolicy::VoicemailOnly => EntryRoute::Voicemail,
        AfterHoursPolicy::RingStaffFirst => {
            let has_number = config
                .telephony
                .escalation_number
                .as_deref()
                .is_some_and(|number| !number.trim().is_empty());
            if has_number {
                EntryRoute::RingStaffFirst
            } else {
                EntryRoute::Agent
            }
        }
    }
}

// --- Internals ---

fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

fn local_rfc3339(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The date and time variables, and `time_zone`.
fn clock_variables(now: DateTime<Utc>, tz: Tz, lang: Language) -> BTreeMap<String, String> {
    let today = speak::today(now, tz, lang);
    let date = today.date.format("%Y-%m-%d").to_string();
    let tomorrow = today
        .date
        .succ_opt()
        .map_or_else(String::new, |d| d.format("%Y-%m-%d").to_string());
    [
        ("time_zone", today.time_zone),
        ("local_date", date.clone()),
        ("local_time", today.time),
        ("local_datetime", local_rfc3339(now, tz)),
        ("weekday", today.weekday),
        ("today", date),
        ("tomorrow", tomorrow),
        ("today_phrase", today.phrase),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// The first persona language as configured, or the code of the default language.
fn language_tag(config: &BusinessConfig) -> String {
    config
        .persona
        .languages
        .first()
        .map(|tag| tag.trim())
        .filter(|tag| !tag.is_empty())
        .map_or_else(
            || Language::for_config(config).code().to_owned(),
            str::to_owned,
        )
}

/// `persona.consent_message` when recording consent is on, else "".
fn consent(config: &BusinessConfig) -> &str {
    if config.compliance.recording_consent {
        config.persona.consent_message.trim()
    } else {
        ""
    }
}

/// See the module documentation: `after_hours` when closed, else by the local hour.
fn persona_variant(open_now: bool, now: DateTime<Utc>, tz: Tz) -> &'static str {
    if !open_now {
        return "after_hours";
    }
    match now.with_timezone(&tz).hour() {
        0..12 => "morning",
        12..17 => "afternoon",
        _ => "evening",
    }
}

/// `+` then 2 to 15 digits, not starting with 0.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// A CRM name made safe to put in a prompt and a spoken greeting: no control characters,
/// braces or markup, spaces collapsed, at most [`MAX_CALLER_NAME_CHARS`] characters.
fn clean_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || "{}<>[]\"\\`|*_#".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .chars()
        .take(MAX_CALLER_NAME_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// An opening range: "8 AM to 12 PM", "de las 8 a las 12", "de 8 h à 12 h",
/// "von 8 Uhr bis 12 Uhr".
fn range_phrase(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz, lang: Language) -> String {
    let from = speak::time_phrase(from, tz, lang);
    let to = end_phrase(to, tz, lang);
    match lang {
        Language::English => format!("{from} to {to}"),
        Language::Spanish => format!("de {from} a {to}"),
        Language::French => format!("de {from} à {to}"),
        Language::German => format!("von {from} bis {to}"),
    }
}

/// The end of an opening: "midnight" (and translations) when it is the end of a day, else
/// the time.
fn end_phrase(at: DateTime<Utc>, tz: Tz, lang: Language) -> String {
    let local = at.with_timezone(&tz);
    if local.hour() == 0 && local.minute() == 0 && local.second() == 0 {
        match lang {
            Language::English => "midnight",
            Language::Spanish => "la medianoche",
            Language::French => "minuit",
            Language::German => "Mitternacht",
        }
        .to_owned()
    } else {
        speak::time_phrase(at, tz, lang)
    }
}

/// Today's hours, or "closed today".
fn hours_phrase(hours: &[(DateTime<Utc>, DateTime<Utc>)], tz: Tz, lang: Language) -> String {
    if hours.is_empty() {
        return match lang {
            Language::English => "closed today",
            Language::Spanish => "cerrado hoy",
            Language::French => "fermé aujourd'hui",
            Language::German => "heute geschlossen",
        }
        .to_owned();
    }
    let ranges: Vec<String> = hours
        .iter()
        .map(|&(from, to)| range_phrase(from, to, tz, lang))
        .collect();
    speak::and_list_phrase(&ranges, lang)
}

/// When an open business closes: the time when it is today (or the midnight ending today),
/// else day and time.
fn closing_phrase(
    at: DateTime<Utc>,
    today_end: DateTime<Utc>,
    tz: Tz,
    now: DateTime<Utc>,
    lang: Language,
) -> String {
    if at == today_end {
        end_phrase(at, tz, lang)
    } else if local_date(at, tz) == local_date(now, tz) {
        speak::time_phrase(at, tz, lang)
    } else {
        speak::slot_phrase(at, tz, now, lang)
    }
}

/// The consent notice, then the rendered greeting.
fn compose_greeting(template: &str, consent: &str, vars: &BTreeMap<String, String>) -> String {
    let body = render_tidy(template, vars)
        .or_else(|| render_tidy(&Persona::default().greeting, vars))
        .unwrap_or_default();
    [consent.trim(), body.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders a greeting; unknown or empty variables render as nothing and the sentence is
/// then tidied ([`tidy`]). `None` when the template can't be read.
fn render_tidy(template: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let blank = Cell::new(false);
    let lookup = |name: &str| {
        let value = vars
            .get(name)
            .map(|value| value.trim().to_owned())
            .unwrap_or_default();
        if value.is_empty() {
            blank.set(true);
        }
        Some(value)
    };
    let rendered = template::render(template, &lookup).ok()?;
    Some(if blank.get() {
        tidy(&rendered)
    } else {
        rendered.trim().to_owned()
    })
}

/// Repairs the holes an empty variable leaves: spaces collapsed, no space before
/// punctuation, no comma next to other punctuation, no punctuation at the start or a comma
/// at the end, first letter capitalised.
fn tidy(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(collapsed.len());
    for c in collapsed.chars() {
        if matches!(c, ',' | '.' | '!' | '?' | ';' | ':') {
            if out.ends_with(' ') {
                out.pop();
            }
            match out.chars().last() {
                None => continue,
                Some(',') => {
                    out.pop();
                    if c == ',' {
                        out.push(',');
                        continue;
                    }
                }
                Some('.' | '!' | '?' | ';' | ':') if c == ',' => continue,
                _ => {}
            }
        }
        if c == ' ' && out.is_empty() {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_end_matches([',', ' ']);
    let mut chars = trimmed.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{NaiveDateTime, NaiveTime, TimeZone};
    use proptest::prelude::*;

    use super::*;
    use crate::config::{Closure, EndTime, TimeRange, WeeklyHours};

    fn demo() -> BusinessConfig {
        let mut doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../infra/demo/business.json")).unwrap();
        doc.as_object_mut().unwrap().remove("id");
        crate::parse_business_config(doc).unwrap()
    }

    /// A local wall-clock time of the demo's zone (New York) as an instant; the earlier one
    /// when ambiguous.
    fn ny(text: &str) -> DateTime<Utc> {
        at(chrono_tz::America::New_York, text)
    }

    fn at(tz: Tz, text: &str) -> DateTime<Utc> {
        let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&local)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn range(open: &str, close: &str) -> TimeRange {
        serde_json::from_value(serde_json::json!({"open": open, "close": close})).unwrap()
    }

    fn vars_at(config: &BusinessConfig, now: DateTime<Utc>) -> BTreeMap<String, String> {
        dynamic_variables(config, "demo-dental", now, None, &CallerInfo::default())
    }

    fn keys(vars: &BTreeMap<String, String>) -> BTreeSet<&str> {
        vars.keys().map(String::as_str).collect()
    }

    fn expected_keys() -> BTreeSet<&'static str> {
        VARIABLES.iter().copied().collect()
    }

    // --- open_state: edges of the demo's hours (Mon 08-12 + 13-17, Wed to 19, Fri 08-14,
    // Sat 09-12, Sun closed) ---

    #[test]
    fn open_exactly_at_opening() {
        let state = open_state(&demo(), ny("2026-11-23 08:00")); // Monday
        assert!(state.open_now);
        assert_eq!(state.closes_at, Some(ny("2026-11-23 12:00")));
        assert_eq!(state.next_opening, Some(ny("2026-11-23 13:00")));
        assert_eq!(state.closed_reason, None);
    }

    #[test]
    fn closed_one_second_before_opening() {
        let now = ny("2026-11-23 08:00") - chrono::Duration::seconds(1);
        let state = open_state(&demo(), now);
        assert!(!state.open_now);
        assert_eq!(state.closes_at, None);
        assert_eq!(state.next_opening, Some(ny("2026-11-23 08:00")));
    }

    #[test]
    fn closed_exactly_at_closing_and_open_just_before() {
        let config = demo();
        let state = open_state(&config, ny("2026-11-23 12:00"));
        assert!(!state.open_now);
        assert_eq!(state.next_opening, Some(ny("2026-11-23 13:00")));
        let before = open_state(
            &config,
            ny("2026-11-23 12:00") - chrono::Duration::seconds(1),
        );
        assert!(before.open_now);
        assert_eq!(before.closes_at, Some(ny("2026-11-23 12:00")));
    }

    #[test]
    fn lunch_break_is_closed_and_reopens_today() {
        let config = demo();
        let now = ny("2026-11-23 12:30");
        let state = open_state(&config, now);
        assert!(!state.open_now);
        assert_eq!(state.closed_reason, None);
        assert_eq!(state.next_opening, Some(ny("2026-11-23 13:00")));
        assert_eq!(
            state.today_hours,
            vec![
                (ny("2026-11-23 08:00"), ny("2026-11-23 12:00")),
                (ny("2026-11-23 13:00"), ny("2026-11-23 17:00")),
            ]
        );
        let vars = vars_at(&config, now);
        assert_eq!(vars["open_now"], "false");
        assert_eq!(vars["today_hours"], "8 AM to 12 PM and 1 PM to 5 PM");
        assert_eq!(vars["next_opening"], "today at 1 PM");
        assert_eq!(vars["closes_at"], "");
        assert_eq!(vars["persona_variant"], "after_hours");
    }

    #[test]
    fn open_in_the_afternoon_closes_at_five() {
        let vars = vars_at(&demo(), ny("2026-11-23 15:10"));
        assert_eq!(vars["open_now"], "true");
        assert_eq!(vars["closes_at"], "5 PM");
        assert_eq!(vars["next_opening"], "tomorrow at 8 AM");
    }

    #[test]
    fn whole_day_closure_has_no_hours_and_a_reason() {
        let config = demo();
        // Christmas Day 2026 is a Friday (normally 08:00-14:00).
        let now = ny("2026-12-25 10:00");
        let state = open_state(&config, now);
        assert!(!state.open_now);
        assert!(state.today_hours.is_empty());
        assert_eq!(state.closed_reason.as_deref(), Some("Christmas Day"));
        assert_eq!(state.next_opening, Some(ny("2026-12-26 09:00")));
        let vars = vars_at(&config, now);
        assert_eq!(vars["today_hours"], "closed today");
        assert_eq!(vars["closed_reason"], "Christmas Day");
        assert_eq!(vars["next_opening"], "tomorrow at 9 AM");
        // Still the holiday's reason late in the evening.
        let late = open_state(&config, ny("2026-12-25 22:00"));
        assert_eq!(late.closed_reason.as_deref(), Some("Christmas Day"));
    }

    #[test]
    fn partial_closure_cuts_the_afternoon() {
        let config = demo();
        // Christmas Eve 2026 (Thursday): closed 12:00-17:00, so only 08:00-12:00.
        let morning = open_state(&config, ny("2026-12-24 11:00"));
        assert!(morning.open_now);
        assert_eq!(morning.closes_at, Some(ny("2026-12-24 12:00")));
        assert_eq!(
            morning.today_hours,
            vec![(ny("2026-12-24 08:00"), ny("2026-12-24 12:00"))]
        );
        // The next opening skips the rest of the day and Christmas Day.
        assert_eq!(morning.next_opening, Some(ny("2026-12-26 09:00")));

        let afternoon = ny("2026-12-24 13:30");
        let state = open_state(&config, afternoon);
        assert!(!state.open_now);
        assert_eq!(
            state.closed_reason.as_deref(),
            Some("Christmas Eve: closing early")
        );
        let vars = vars_at(&config, afternoon);
        assert_eq!(vars["today_hours"], "8 AM to 12 PM");
        assert_eq!(vars["next_opening"], "Saturday at 9 AM");
        // Before the closure window but in normal closed time: no reason.
        let early = open_state(&config, ny("2026-12-24 07:00"));
        assert_eq!(early.closed_reason, None);
    }

    #[test]
    fn partial_closure_inside_a_range_splits_it() {
        let mut config = demo();
        config.closures = vec![Closure {
            date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            end_date: None,
            from: Some(NaiveTime::from_hms_opt(9, 30, 0).unwrap()),
            to: Some(EndTime::At(NaiveTime::from_hms_opt(10, 0, 0).unwrap())),
            reason: Some("Staff meeting".into()),
        }];
        let state = open_state(&config, ny("2026-11-23 09:45"));
        assert!(!state.open_now);
        assert_eq!(state.closed_reason.as_deref(), Some("Staff meeting"));
        assert_eq!(state.next_opening, Some(ny("2026-11-23 10:00")));
        assert_eq!(
            hours_phrase(
                &state.today_hours,
                config.profile.time_zone,
                Language::English
            ),
            "8 AM to 9:30 AM, 10 AM to 12 PM, and 1 PM to 5 PM"
        );
    }

    #[test]
    fn next_opening_across_the_weekend() {
        let config = demo();
        // Saturday after closing: Sunday closed, Monday 08:00.
        let now = ny("2026-11-28 13:00");
        let state = open_state(&config, now);
        assert!(!state.open_now);
        assert_eq!(state.next_opening, Some(ny("2026-11-30 08:00")));
        assert_eq!(vars_at(&config, now)["next_opening"], "Monday at 8 AM");
        // Sunday: closed all day, no reason.
        let sunday = vars_at(&config, ny("2026-11-29 11:00"));
        assert_eq!(sunday["today_hours"], "closed today");
        assert_eq!(sunday["closed_reason"], "");
        assert_eq!(sunday["next_opening"], "tomorrow at 8 AM");
        // Friday after 14:00: Saturday 09:00.
        let friday = vars_at(&config, ny("2026-11-27 15:00"));
        assert_eq!(friday["next_opening"], "tomorrow at 9 AM");
    }

    #[test]
    fn next_opening_across_a_week_long_holiday() {
        let config = demo();
        // Saturday 2027-07-31 after closing; Sunday closed; summer break Mon 2 - Fri 6 Aug.
        let now = ny("2027-07-31 12:00");
        let state = open_state(&config, now);
        assert_eq!(state.next_opening, Some(ny("2027-08-07 09:00")));
        assert_eq!(
            vars_at(&config, now)["next_opening"],
            "Saturday, August 7 at 9 AM"
        );
        let during = open_state(&config, ny("2027-08-04 10:00"));
        assert_eq!(during.closed_reason.as_deref(), Some("Summer break"));
    }

    #[test]
    fn no_opening_within_the_search_window() {
        let mut config = demo();
        config.closures = vec![Closure {
            date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            end_date: Some(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
            from: None,
            to: None,
            reason: Some("Renovation".into()),
        }];
        let now = ny("2026-11-23 10:00");
        let state = open_state(&config, now);
        assert!(!state.open_now);
        assert_eq!(state.next_opening, None);
        let vars = vars_at(&config, now);
        assert_eq!(vars["next_opening"], "");
        assert_eq!(vars["closed_reason"], "Renovation");
        // Reopening on the 15th local day is still found, on the 16th it is not.
        config.closures[0].end_date = NaiveDate::from_ymd_opt(2026, 12, 6);
        assert_eq!(
            open_state(&config, now).next_opening,
            Some(ny("2026-12-07 08:00")) // Monday, 14 days after the 23rd
        );
        config.closures[0].end_date = NaiveDate::from_ymd_opt(2026, 12, 7);
        assert_eq!(open_state(&config, now).next_opening, None);
    }

    #[test]
    fn open_around_the_clock_never_closes_within_the_window() {
        let mut config = demo();
        let all_day = vec![range("00:00", "24:00")];
        config.hours = WeeklyHours {
            monday: all_day.clone(),
            tuesday: all_day.clone(),
            wednesday: all_day.clone(),
            thursday: all_day.clone(),
            friday: all_day.clone(),
            saturday: all_day.clone(),
            sunday: all_day,
        };
        config.closures.clear();
        let now = ny("2026-11-23 03:00");
        let state = open_state(&config, now);
        assert!(state.open_now);
        assert_eq!(state.closes_at, None);
        assert_eq!(state.next_opening, None);
        let vars = vars_at(&config, now);
        assert_eq!(vars["closes_at"], "");
        assert_eq!(vars["today_hours"], "12 AM to midnight");
        assert_eq!(vars["persona_variant"], "morning");
    }

    #[test]
    fn open_until_midnight_then_from_midnight_is_one_opening() {
        let mut config = demo();
        config.closures.clear();
        config.hours.monday = vec![range("18:00", "24:00")];
        config.hours.tuesday = vec![range("00:00", "02:00"), range("08:00", "12:00")];
        let now = ny("2026-11-23 23:00");
        let state = open_state(&config, now);
        assert!(state.open_now);
        assert_eq!(state.closes_at, Some(ny("2026-11-24 02:00")));
        assert_eq!(state.next_opening, Some(ny("2026-11-24 08:00")));
        let vars = vars_at(&config, now);
        assert_eq!(vars["closes_at"], "tomorrow at 2 AM");
        assert_eq!(vars["today_hours"], "6 PM to midnight");
        // Closing at the end of today reads "midnight".
        config.hours.tuesday.clear();
        assert_eq!(vars_at(&config, now)["closes_at"], "midnight");
    }

    // --- DST in America/New_York: 2026-03-08 (02:00 -> 03:00), 2026-11-01 (02:00 -> 01:00) ---

    #[test]
    fn spring_forward_day_is_exact() {
        let mut config = demo();
        config.hours.sunday = vec![range("00:00", "04:00")];
        let state = open_state(&config, utc("2026-03-08T06:30:00Z")); // 01:30 EST
        assert!(state.open_now);
        // 00:00 EST = 05:00 UTC, 04:00 EDT = 08:00 UTC: three real hours.
        assert_eq!(
            state.today_hours,
            vec![(utc("2026-03-08T05:00:00Z"), utc("2026-03-08T08:00:00Z"))]
        );
        assert_eq!(state.closes_at, Some(utc("2026-03-08T08:00:00Z")));
        // The Monday after opens at 08:00 EDT = 12:00 UTC (a week earlier: 13:00 UTC).
        assert_eq!(state.next_opening, Some(utc("2026-03-09T12:00:00Z")));
        let before = open_state(&config, utc("2026-03-01T20:00:00Z"));
        assert_eq!(before.next_opening, Some(utc("2026-03-02T13:00:00Z")));
    }

    #[test]
    fn opening_inside_the_spring_gap_opens_when_the_clocks_jump() {
        let mut config = demo();
        config.hours.sunday = vec![range("02:30", "05:00")];
        let state = open_state(&config, utc("2026-03-08T06:59:59Z")); // 01:59:59 EST
        assert!(!state.open_now);
        assert_eq!(state.next_opening, Some(utc("2026-03-08T07:00:00Z"))); // 03:00 EDT
        assert!(open_state(&config, utc("2026-03-08T07:00:00Z")).open_now);
    }

    #[test]
    fn fall_back_day_includes_both_passes_of_the_repeated_hour() {
        let mut config = demo();
        config.hours.sunday = vec![range("01:00", "03:00")];
        // 01:00 EDT = 05:00 UTC to 03:00 EST = 08:00 UTC.
        let second_pass = utc("2026-11-01T06:30:00Z"); // 01:30 EST
        let state = open_state(&config, second_pass);
        assert!(state.open_now);
        assert_eq!(
            state.today_hours,
            vec![(utc("2026-11-01T05:00:00Z"), utc("2026-11-01T08:00:00Z"))]
        );
        let vars = vars_at(&config, second_pass);
        assert_eq!(vars["today_hours"], "1 AM EDT to 3 AM");
        assert_eq!(vars["local_time"], "01:30");
        assert_eq!(vars["local_datetime"], "2026-11-01T01:30:00-05:00");
        assert!(!open_state(&config, utc("2026-11-01T08:00:00Z")).open_now);
        assert!(!open_state(&config, utc("2026-11-01T04:59:59Z")).open_now);
    }

    // --- Variables ---

    #[test]
    fn known_caller_gets_every_variable() {
        let config = demo();
        let now = ny("2026-11-23 10:05"); // Monday
        let caller = CallerInfo {
            name: Some("  Ana   Gomez ".into()),
            next_booking: Some(NextBooking {
                booking_id: "bk_1".into(),
                service_name: "Teeth cleaning".into(),
                staff_name: Some("Dr. Lee".into()),
                start: ny("2026-11-24 09:00"),
            }),
        };
        let vars = dynamic_variables(&config, "demo-dental", now, Some("+12125550123"), &caller);
        assert_eq!(keys(&vars), expected_keys());
        let expected = [
            ("business_id", "demo-dental"),
            ("business_name", "Smile Dental"),
            ("time_zone", "America/New_York"),
            ("language", "en-US"),
            ("local_date", "2026-11-23"),
            ("local_time", "10:05"),
            ("local_datetime", "2026-11-23T10:05:00-05:00"),
            ("weekday", "Monday"),
            ("today", "2026-11-23"),
            ("tomorrow", "2026-11-24"),
            (
                "today_phrase",
                "Today is Monday, November 23, 2026, and it is 10:05 AM.",
            ),
            ("open_now", "true"),
            ("today_hours", "8 AM to 12 PM and 1 PM to 5 PM"),
            ("closes_at", "12 PM"),
            ("next_opening", "today at 1 PM"),
            ("closed_reason", ""),
            ("persona_variant", "morning"),
            (
                "consent_message",
                "This call may be recorded so we can serve you better.",
            ),
            (
                "greeting",
                "This call may be recorded so we can serve you better. Thanks for calling \
                 Smile Dental! This is the front desk. How can I help you today?",
            ),
            ("caller_number", "+12125550123"),
            ("caller_known", "true"),
            ("caller_name", "Ana Gomez"),
            (
                "next_booking",
                "your Teeth cleaning tomorrow at 9 AM with Dr. Lee",
            ),
            ("next_booking_id", "bk_1"),
            ("next_booking_start", "2026-11-24T09:00:00-05:00"),
            ("escalation_available", "true"),
            ("call_sid", ""),
        ];
        for (name, value) in expected {
            assert_eq!(vars[name], value, "{name}");
        }
        assert_eq!(expected.len(), VARIABLES.len());
    }

    #[test]
    fn next_booking_on_a_weekday_reads_like_the_example() {
        let config = demo();
        let caller = CallerInfo {
            name: None,
            next_booking: Some(NextBooking {
                booking_id: "bk_2".into(),
                service_name: "Teeth cleaning".into(),
                staff_name: Some("Dr. Lee".into()),
                start: ny("2026-11-24 09:00"), // Tuesday
            }),
        };
        let vars = dynamic_variables(&config, "d", ny("2026-11-21 10:00"), None, &caller);
        assert_eq!(
            vars["next_booking"],
            "your Teeth cleaning on Tuesday at 9 AM with Dr. Lee"
        );
        assert_eq!(vars["caller_known"], "true");
        assert_eq!(vars["caller_name"], "");
    }

    #[test]
    fn unknown_caller_gets_every_variable_empty_where_unknown() {
        let config = demo();
        for number in [
            None,
            Some("anonymous"),
            Some(""),
            Some("+0123"),
            Some("12125550123"),
        ] {
            let vars = dynamic_variables(
                &config,
                "demo-dental",
                ny("2026-11-23 10:05"),
                number,
                &CallerInfo::default(),
            );
            assert_eq!(keys(&vars), expected_keys());
            for name in [
                "caller_number",
                "caller_name",
                "next_booking",
                "next_booking_id",
                "next_booking_start",
            ] {
                assert_eq!(vars[name], "", "{name} for {number:?}");
            }
            assert_eq!(vars["caller_known"], "false");
        }
        let with_number = dynamic_variables(
            &config,
            "demo-dental",
            ny("2026-11-23 10:05"),
            Some(" +12125550123 "),
            &CallerInfo::default(),
        );
        assert_eq!(with_number["caller_number"], "+12125550123");
        assert_eq!(with_number["caller_known"], "false");
    }

    #[test]
    fn generic_variables_are_neutral() {
        let vars = generic_variables(utc("2026-11-23T15:05:00Z"));
        assert_eq!(keys(&vars), expected_keys());
        assert_eq!(vars["business_id"], "");
        assert_eq!(vars["business_name"], "");
        assert_eq!(vars["time_zone"], "UTC");
        assert_eq!(vars["local_date"], "2026-11-23");
        assert_eq!(vars["local_time"], "15:05");
        assert_eq!(vars["local_datetime"], "2026-11-23T15:05:00+00:00");
        assert_eq!(vars["today_phrase"], "");
        assert_eq!(vars["open_now"], "false");
        assert_eq!(vars["persona_variant"], "after_hours");
        assert_eq!(vars["escalation_available"], "false");
        assert_eq!(vars["caller_known"], "false");
        assert_eq!(
            vars["greeting"],
            "This call may be recorded for quality purposes. Thanks for calling! How can I \
             help you today?"
        );
        assert!(!vars["greeting"].contains("{{"));
    }

    #[test]
    fn persona_variant_cut_offs() {
        let config = demo(); // Wednesday 2026-11-25 is open 08-12 and 13-19.
        let cases = [
            ("2026-11-25 07:59", "after_hours"),
            ("2026-11-25 08:00", "morning"),
            ("2026-11-25 11:59", "morning"),
            ("2026-11-25 12:00", "after_hours"), // lunch
            ("2026-11-25 13:00", "afternoon"),
            ("2026-11-25 16:59", "afternoon"),
            ("2026-11-25 17:00", "evening"),
            ("2026-11-25 18:59", "evening"),
            ("2026-11-25 19:00", "after_hours"),
        ];
        for (time, variant) in cases {
            assert_eq!(
                vars_at(&config, ny(time))["persona_variant"],
                variant,
                "{time}"
            );
        }
        // Noon exactly while open is afternoon.
        let mut open_at_noon = demo();
        open_at_noon.hours.wednesday = vec![range("08:00", "19:00")];
        assert_eq!(
            vars_at(&open_at_noon, ny("2026-11-25 12:00"))["persona_variant"],
            "afternoon"
        );
        assert!(PERSONA_VARIANTS.contains(&"after_hours"));
    }

    #[test]
    fn consent_on_and_off() {
        let mut config = demo();
        let now = ny("2026-11-23 10:05");
        let on = vars_at(&config, now);
        assert_eq!(on["consent_message"], config.persona.consent_message);
        assert!(on["greeting"].starts_with(&config.persona.consent_message));

        config.compliance.recording_consent = false;
        let off = vars_at(&config, now);
        assert_eq!(off["consent_message"], "");
        assert_eq!(
            off["greeting"],
            "Thanks for calling Smile Dental! This is the front desk. How can I help you today?"
        );
    }

    #[test]
    fn greeting_with_and_without_the_callers_name() {
        let mut config = demo();
        config.compliance.recording_consent = false;
        config.persona.greeting =
            "Hi {{caller_name}}, thanks for calling {{business_name}}!".into();
        let now = ny("2026-11-23 10:05");
        let known = CallerInfo {
            name: Some("Ana".into()),
            next_booking: None,
        };
        let vars = dynamic_variables(&config, "d", now, None, &known);
        assert_eq!(vars["greeting"], "Hi Ana, thanks for calling Smile Dental!");
        assert_eq!(
            vars_at(&config, now)["greeting"],
            "Hi, thanks for calling Smile Dental!"
        );

        config.persona.greeting = "Welcome back {{caller_name}}! How can I help?".into();
        assert_eq!(
            vars_at(&config, now)["greeting"],
            "Welcome back! How can I help?"
        );
        config.persona.greeting = "{{caller_name}}, welcome to {{business_name}}.".into();
        assert_eq!(
            vars_at(&config, now)["greeting"],
            "Welcome to Smile Dental."
        );
        config.persona.greeting = "¡Hola {{ caller_name }}! Gracias por llamar.".into();
        assert_eq!(
            vars_at(&config, now)["greeting"],
            "¡Hola! Gracias por llamar."
        );
        // An unreadable template falls back to the default greeting.
        config.persona.greeting = "Hello {{caller_name".into();
        assert_eq!(
            vars_at(&config, now)["greeting"],
            "Thanks for calling Smile Dental! How can I help you today?"
        );
    }

    #[test]
    fn caller_names_are_cleaned_before_reaching_the_prompt() {
        let caller = CallerInfo {
            name: Some("Ana {{business_name}}\n<b>Gomez</b>".into()),
            next_booking: None,
        };
        let vars = dynamic_variables(&demo(), "d", ny("2026-11-23 10:05"), None, &caller);
        assert_eq!(vars["caller_name"], "Ana business name b Gomez /b");
        let long = CallerInfo {
            name: Some("x".repeat(500)),
            next_booking: None,
        };
        let vars = dynamic_variables(&demo(), "d", ny("2026-11-23 10:05"), None, &long);
        assert_eq!(vars["caller_name"].chars().count(), MAX_CALLER_NAME_CHARS);
        let blank = CallerInfo {
            name: Some(" \u{7} ".into()),
            next_booking: None,
        };
        let vars = dynamic_variables(&demo(), "d", ny("2026-11-23 10:05"), None, &blank);
        assert_eq!(vars["caller_known"], "false");
    }

    #[test]
    fn escalation_needs_a_transfer_rule_in_either_mode() {
        let mut config = demo();
        let now = ny("2026-11-23 10:05");
        assert_eq!(vars_at(&config, now)["escalation_available"], "true");
        config.telephony.mode = TelephonyMode::RegisterCall;
        assert_eq!(
            vars_at(&config, now)["escalation_available"],
            "true",
            "register-call transfers with the transfer_call tool"
        );
        config.telephony.escalation_number = None;
        assert_eq!(vars_at(&config, now)["escalation_available"], "false");
        config.telephony.transfers = vec![crate::config::TransferRule {
            number: "+12125550142".into(),
            condition: "billing questions".into(),
            transfer_type: TransferType::Blind,
        }];
        assert_eq!(vars_at(&config, now)["escalation_available"], "true");
    }

    #[test]
    fn transfer_rules_render_as_elevenlabs_transfer_to_number() {
        let mut config = demo();
        let tool = transfer_to_number_tool(&config).expect("native with an escalation number");
        assert_eq!(tool["type"], "system");
        assert_eq!(tool["name"], "transfer_to_number");
        assert_eq!(tool["params"]["system_tool_type"], "transfer_to_number");
        let transfers = tool["params"]["transfers"].as_array().unwrap();
        assert_eq!(transfers.len(), 1);
        assert_eq!(
            transfers[0]["transfer_destination"],
            serde_json::json!({"type": "phone", "phone_number": config.telephony.escalation_number.clone().unwrap()})
        );
        assert_eq!(
            transfers[0]["condition"],
            crate::config::DEFAULT_TRANSFER_CONDITION
        );
        assert_eq!(transfers[0]["transfer_type"], "conference");

        config.telephony.transfers = vec![
            crate::config::TransferRule {
                number: "+12125550142".into(),
                condition: "  billing questions ".into(),
                transfer_type: TransferType::Blind,
            },
            crate::config::TransferRule {
                number: "+12125550143".into(),
                condition: "a dental emergency".into(),
                transfer_type: TransferType::Conference,
            },
        ];
        let tool = transfer_to_number_tool(&config).unwrap();
        let transfers = tool["params"]["transfers"].as_array().unwrap();
        assert_eq!(
            transfers.len(),
            2,
            "explicit rules replace the escalation number"
        );
        assert_eq!(transfers[0]["condition"], "billing questions");
        assert_eq!(transfers[0]["transfer_type"], "blind");
        assert_eq!(
            transfers[1]["transfer_destination"]["phone_number"],
            "+12125550143"
        );

        config.telephony.mode = TelephonyMode::RegisterCall;
        assert_eq!(
            transfer_to_number_tool(&config),
            None,
            "register-call uses transfer_call"
        );
        config.telephony.mode = TelephonyMode::Native;
        config.telephony.transfers.clear();
        config.telephony.escalation_number = None;
        assert_eq!(transfer_to_number_tool(&config), None);
    }

    #[test]
    fn spanish_business_speaks_spanish() {
        let mut config = demo();
        config.persona.languages = vec!["es-MX".into()];
        let vars = vars_at(&config, ny("2026-11-23 12:30"));
        assert_eq!(vars["language"], "es-MX");
        assert_eq!(
            vars["today_hours"],
            "de las 8 a las 12 y de las 13 a las 17"
        );
        assert_eq!(vars["next_opening"], "hoy a las 13");
        assert_eq!(vars["weekday"], "Monday");
        let closed = vars_at(&config, ny("2026-11-29 10:00"));
        assert_eq!(closed["today_hours"], "cerrado hoy");
        config.persona.languages = vec!["de-DE".into()];
        assert_eq!(
            vars_at(&config, ny("2026-11-27 10:00"))["today_hours"],
            "von 8 Uhr bis 14 Uhr"
        );
    }

    #[test]
    fn entry_route_follows_the_after_hours_policy() {
        let mut config = demo();
        assert_eq!(entry_route(&config, true), EntryRoute::Agent);
        assert_eq!(entry_route(&config, false), EntryRoute::Agent);
        config.telephony.after_hours_policy = AfterHoursPolicy::VoicemailOnly;
        assert_eq!(entry_route(&config, true), EntryRoute::Agent);
        assert_eq!(entry_route(&config, false), EntryRoute::Voicemail);
        config.telephony.after_hours_policy = AfterHoursPolicy::RingStaffFirst;
        assert_eq!(entry_route(&config, false), EntryRoute::RingStaffFirst);
        config.telephony.escalation_number = None;
        assert_eq!(entry_route(&config, false), EntryRoute::Agent);
    }

    #[test]
    fn client_data_wraps_the_variables() {
        let vars = generic_variables(utc("2026-11-23T15:05:00Z"));
        let body = client_data(&vars);
        assert_eq!(body["type"], "conversation_initiation_client_data");
        let dynamic = body["dynamic_variables"].as_object().unwrap();
        assert_eq!(dynamic.len(), VARIABLES.len());
        assert!(dynamic.values().all(serde_json::Value::is_string));
    }

    #[test]
    fn tidy_repairs_empty_variables() {
        assert_eq!(tidy("Hi , there"), "Hi, there");
        assert_eq!(tidy("Hello , !"), "Hello!");
        assert_eq!(tidy(", hello"), "Hello");
        assert_eq!(tidy("Welcome back, "), "Welcome back");
        assert_eq!(tidy("Wait... what?"), "Wait... what?");
        assert_eq!(
            tidy("We have 1,000 smiles ,, today"),
            "We have 1,000 smiles, today"
        );
        assert_eq!(tidy(""), "");
    }

    // --- Property: the variables are complete for any time and configuration ---

    fn zones() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            chrono_tz::America::New_York,
            chrono_tz::America::Los_Angeles,
            chrono_tz::Europe::Madrid,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Pacific::Apia,
            chrono_tz::America::Santiago,
            Tz::UTC,
        ])
    }

    /// Up to three ranges of a day, on a 30-minute grid, possibly touching or empty.
    fn day_hours() -> impl Strategy<Value = Vec<TimeRange>> {
        prop::collection::vec((0u32..48, 1u32..=48), 0..3).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(start, len)| {
                    let open =
                        NaiveTime::from_num_seconds_from_midnight_opt(start * 1800, 0).unwrap();
                    let end = (start + len).min(48);
                    let close = if end == 48 {
                        EndTime::EndOfDay
                    } else {
                        EndTime::At(
                            NaiveTime::from_num_seconds_from_midnight_opt(end * 1800, 0).unwrap(),
                        )
                    };
                    TimeRange { open, close }
                })
                .collect()
        })
    }

    fn closures(base: NaiveDate) -> impl Strategy<Value = Vec<Closure>> {
        prop::collection::vec(
            (
                0u64..20,
                prop::option::of(0u64..5),
                prop::option::of((0u32..24, 1u32..=24)),
                prop::option::of("[A-Za-z ]{0,12}"),
            ),
            0..4,
        )
        .prop_map(move |items| {
            items
                .into_iter()
                .map(|(offset, span, window, reason)| {
                    let date = base + Days::new(offset);
                    let (from, to) = match window {
                        None => (None, None),
                        Some((hour, len)) => {
                            let end = (hour + len).min(24);
                            (
                                NaiveTime::from_hms_opt(hour, 0, 0),
                                Some(if end == 24 {
                                    EndTime::EndOfDay
                                } else {
                                    EndTime::At(NaiveTime::from_hms_opt(end, 0, 0).unwrap())
                                }),
                            )
                        }
                    };
                    Closure {
                        date,
                        end_date: if from.is_none() {
                            span.map(|d| date + Days::new(d))
                        } else {
                            None
                        },
                        from,
                        to,
                        reason,
                    }
                })
                .collect()
        })
    }

    prop_compose! {
        fn configs()(
            tz in zones(),
            week in prop::collection::vec(day_hours(), 7),
            start_secs in 1_577_836_800i64..2_082_758_400, // 2020 .. 2036
            consent in any::<bool>(),
            lang in prop::sample::select(vec!["en-US", "es-US", "fr-CA", "de-DE", "it", ""]),
            greeting in prop::sample::select(vec![
                "Thanks for calling {{business_name}}!",
                "Hi {{caller_name}}, welcome to {{business_name}}.",
                "{{caller_name}}",
                "Hello {{caller_name",
            ]),
            native in any::<bool>(),
            escalation in any::<bool>(),
        )(
            closures in closures(
                DateTime::from_timestamp(start_secs, 0).unwrap().with_timezone(&tz).date_naive()
                    - Days::new(3),
            ),
            tz in Just(tz),
            week in Just(week),
            start_secs in Just(start_secs),
            consent in Just(consent),
            lang in Just(lang),
            greeting in Just(greeting),
            native in Just(native),
            escalation in Just(escalation),
        ) -> (BusinessConfig, DateTime<Utc>) {
            let mut config = demo();
            config.profile.time_zone = tz;
            let mut days = week.into_iter();
            let mut next = || days.next().unwrap_or_default();
            config.hours = WeeklyHours {
                monday: next(),
                tuesday: next(),
                wednesday: next(),
                thursday: next(),
                friday: next(),
                saturday: next(),
                sunday: next(),
            };
            config.closures = closures;
            config.compliance.recording_consent = consent;
            config.persona.languages = if lang.is_empty() { vec![] } else { vec![lang.into()] };
            config.persona.greeting = greeting.into();
            config.telephony.mode = if native { TelephonyMode::Native } else { TelephonyMode::RegisterCall };
            if !escalation {
                config.telephony.escalation_number = None;
            }
            (config, DateTime::from_timestamp(start_secs, 0).unwrap())
        }
    }

    fn callers() -> impl Strategy<Value = (Option<String>, CallerInfo)> {
        (
            prop::option::of("\\PC{0,20}"),
            prop::option::of("\\PC{0,30}"),
            prop::option::of((0i64..2_000_000, prop::option::of("[A-Za-z. ]{0,10}"))),
        )
            .prop_map(|(number, name, booking)| {
                let booking = booking.map(|(offset, staff)| NextBooking {
                    booking_id: format!("bk_{offset}"),
                    service_name: "Teeth cleaning".into(),
                    staff_name: staff,
                    start: DateTime::from_timestamp(1_700_000_000 + offset * 60, 0).unwrap(),
                });
                (
                    number,
                    CallerInfo {
                        name,
                        next_booking: booking,
                    },
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_variable_is_present_and_a_string(
            (config, now) in configs(),
            minutes in 0i64..(7 * 24 * 60),
            (number, caller) in callers(),
        ) {
            let now = now + chrono::Duration::minutes(minutes);
            let vars = dynamic_variables(&config, "biz", now, number.as_deref(), &caller);
            prop_assert_eq!(keys(&vars), expected_keys());
            let json = serde_json::to_value(&vars).unwrap();
            prop_assert!(json.as_object().unwrap().values().all(serde_json::Value::is_string));
            for name in ["open_now", "caller_known", "escalation_available"] {
                prop_assert!(vars[name] == "true" || vars[name] == "false", "{name}");
            }
            prop_assert!(PERSONA_VARIANTS.contains(&vars["persona_variant"].as_str()));
            prop_assert!(!vars["greeting"].contains("{{"));
            prop_assert!(NaiveDate::parse_from_str(&vars["local_date"], "%Y-%m-%d").is_ok());
            prop_assert!(DateTime::parse_from_rfc3339(&vars["local_datetime"]).is_ok());

            // The state agrees with the opening hours it reports.
            let state = open_state(&config, now);
            prop_assert_eq!(vars["open_now"] == "true", state.open_now);
            prop_assert_eq!(state.open_now, state.today_hours.iter().any(|&(a, b)| a <= now && now < b));
            prop_assert_eq!(vars["persona_variant"] == "after_hours", !state.open_now);
            if let Some(next) = state.next_opening {
                prop_assert!(next > now);
                prop_assert!(!open_state(&config, next - chrono::Duration::seconds(1)).open_now);
                prop_assert!(open_state(&config, next).open_now);
            }
            if let Some(close) = state.closes_at {
                prop_assert!(state.open_now && close > now);
                prop_assert!(open_state(&config, close - chrono::Duration::seconds(1)).open_now);
                prop_assert!(!open_state(&config, close).open_now);
            }
            if state.open_now {
                prop_assert!(!state.today_hours.is_empty());
                prop_assert!(vars["closed_reason"].is_empty());
            }
            for pair in state.today_hours.windows(2) {
                prop_assert!(pair[0].1 < pair[1].0);
            }
        }

        #[test]
        fn generic_variables_are_complete(secs in 0i64..4_102_444_800) {
            let vars = generic_variables(DateTime::from_timestamp(secs, 0).unwrap());
            prop_assert_eq!(keys(&vars), expected_keys());
        }
    }
}
