//! Semantic stage: the business rules of a configuration.

use std::collections::HashSet;
use std::ops::RangeInclusive;

use chrono::NaiveTime;

use super::FieldError;
use crate::config::*;
use crate::template;

/// The sections to check; `None` marks a section that could not be read, whose rules (and the
/// cross-section rules involving it) are skipped.
pub(super) struct Sections<'a> {
    pub profile: Option<&'a Profile>,
    pub hours: Option<&'a WeeklyHours>,
    pub closures: Option<&'a [Closure]>,
    pub services: Option<&'a [Service]>,
    pub staff: Option<&'a [Staff]>,
    pub booking_rules: Option<&'a BookingRules>,
    pub persona: Option<&'a Persona>,
    pub faqs: Option<&'a [Faq]>,
    pub telephony: Option<&'a Telephony>,
    pub sms: Option<&'a Sms>,
    pub compliance: Option<&'a Compliance>,
}

impl<'a> From<&'a BusinessConfig> for Sections<'a> {
    fn from(config: &'a BusinessConfig) -> Self {
        Sections {
            profile: Some(&config.profile),
            hours: Some(&config.hours),
            closures: Some(&config.closures),
            services: Some(&config.services),
            staff: Some(&config.staff),
            booking_rules: Some(&config.booking_rules),
            persona: Some(&config.persona),
            faqs: Some(&config.faqs),
            telephony: Some(&config.telephony),
            sms: Some(&config.sms),
            compliance: Some(&config.compliance),
        }
    }
}

pub(super) fn check(sections: &Sections<'_>) -> Vec<FieldError> {
    let mut report = Report::default();
    if let Some(profile) = sections.profile {
        report.profile(profile);
    }
    if let Some(hours) = sections.hours {
        report.weekly_hours("/hours", hours);
    }
    if let Some(closures) = sections.closures {
        report.closures(closures);
    }
    if let Some(services) = sections.services {
        report.services(services, sections.staff);
    }
    if let Some(staff) = sections.staff {
        report.staff(staff);
    }
    if let Some(booking_rules) = sections.booking_rules {
        report.booking_rules(booking_rules);
    }
    if let Some(persona) = sections.persona {
        report.persona(persona, sections.compliance);
    }
    if let Some(faqs) = sections.faqs {
        report.faqs(faqs);
    }
    if let Some(telephony) = sections.telephony {
        report.telephony(telephony);
    }
    if let Some(sms) = sections.sms {
        report.sms(sms);
    }
    if let Some(compliance) = sections.compliance {
        report.compliance(compliance);
    }
    report.errors
}

const MAX_NAME: usize = 200;
const MAX_PHONE_NUMBERS: usize = 20;
/// Transfer rules a business may have.
const MAX_TRANSFER_RULES: usize = 10;
const MAX_FAQS: usize = 200;
const MINUTES_PER_DAY: u32 = 24 * 60;
const PHONE_EXAMPLE: &str = "+14155550123";

#[derive(Default)]
struct Report {
    errors: Vec<FieldError>,
}

impl Report {
    fn add(&mut self, pointer: impl Into<String>, detail: impl Into<String>) {
        self.errors.push(FieldError::new(pointer, detail));
    }

    fn profile(&mut self, profile: &Profile) {
        self.required_text("/profile/name", "name", &profile.name, MAX_NAME);
        self.ids(
            "/profile/locations",
            "location",
            "main",
            profile
                .locations
                .iter()
                .map(|location| location.id.as_str()),
        );
        for (i, location) in profile.locations.iter().enumerate() {
            let base = format!("/profile/locations/{i}");
            self.required_text(&format!("{base}/name"), "name", &location.name, MAX_NAME);
            self.required_text(
                &format!("{base}/address"),
                "address",
                &location.address,
                500,
            );
        }
        if let Some(website) = &profile.website {
            let has_host = ["https://", "http://"].iter().any(|scheme| {
                website
                    .strip_prefix(scheme)
                    .is_some_and(|rest| !rest.is_empty())
            });
            if !has_host || website.contains(char::is_whitespace) || website.len() > 2000 {
                self.add(
                    "/profile/website",
                    format!(
                        "\"{website}\" is not a valid website address; use a full http(s) URL \
                         such as \"https://smiledental.example\", or null"
                    ),
                );
            }
        }
    }

    /// Business or staff hours: every range non-empty, within one day, not overlapping.
    fn weekly_hours(&mut self, base: &str, hours: &WeeklyHours) {
        for day in WEEK {
            let key = weekday_key(day);
            let mut earlier: Vec<&TimeRange> = Vec::new();
            for (i, range) in hours.day(day).iter().enumerate() {
                let pointer = format!("{base}/{key}/{i}");
                let open = EndTime::from(range.open);
                if range.close == open {
                    self.add(
                        format!("{pointer}/close"),
                        format!(
                            "{range} is empty; the closing time must be after the opening time"
                        ),
                    );
                } else if range.close == EndTime::At(NaiveTime::MIN) {
                    self.add(
                        format!("{pointer}/close"),
                        format!(
                            "{range} ends at midnight, which is written \"24:00\"; use {open}–24:00"
                        ),
                    );
                } else if range.close < open {
                    let next = weekday_key(day.succ());
                    self.add(
                        format!("{pointer}/close"),
                        format!(
                            "{range} closes before it opens; a range can't run past midnight, so \
                             split it into {open}–24:00 on {key} and 00:00–{} on {next}",
                            range.close
                        ),
                    );
                } else {
                    if let Some(other) = earlier.iter().find(|other| overlaps(other, range)) {
                        self.add(
                            pointer,
                            format!(
                                "{range} overlaps {other} on {key}; change or merge the ranges \
                                 (ranges may touch, like 09:00–12:00 and 12:00–17:00)"
                            ),
                        );
                    }
                    earlier.push(range);
                }
            }
        }
    }

    fn closures(&mut self, closures: &[Closure]) {
        for (i, closure) in closures.iter().enumerate() {
            let base = format!("/closures/{i}");
            if let Some(end_date) = closure.end_date {
                if end_date < closure.date {
                    self.add(
                        format!("{base}/end_date"),
                        format!(
                            "end_date {end_date} is before date {}; set an end_date on or after \
                             the first day (the closure covers both days and those between)",
                            closure.date
                        ),
                    );
                }
                if closure.from.is_some() || closure.to.is_some() {
                    self.add(
                        format!("{base}/end_date"),
                        "a closure with `from` and `to` covers part of a single day; remove \
                         `end_date`, or remove `from` and `to` to close whole days",
                    );
                }
            }
            match (closure.from, closure.to) {
                (Some(_), None) => self.add(
                    format!("{base}/to"),
                    "`to` is missing; a partial-day closure needs both `from` and `to` (leave \
                     both out to close the whole day)",
                ),
                (None, Some(_)) => self.add(
                    format!("{base}/from"),
                    "`from` is missing; a partial-day closure needs both `from` and `to` (leave \
                     both out to close the whole day)",
                ),
                (Some(from), Some(to)) if to <= EndTime::from(from) => self.add(
                    format!("{base}/to"),
                    format!(
                        "`to` ({to}) must be after `from` ({}); use \"24:00\" to close until the \
                         end of the day",
                        from.format("%H:%M")
                    ),
                ),
                _ => {}
            }
            if let Some(reason) = &closure.reason {
                self.max_length(&format!("{base}/reason"), "`reason`", reason, MAX_NAME);
            }
        }
    }

    fn services(&mut self, services: &[Service], staff: Option<&[Staff]>) {
        self.ids(
            "/services",
            "service",
            "cleaning",
            services.iter().map(|service| service.id.as_str()),
        );
        for (i, service) in services.iter().enumerate() {
            let base = format!("/services/{i}");
            self.required_text(&format!("{base}/name"), "name", &service.name, MAX_NAME);
            self.in_range(
                &format!("{base}/duration_minutes"),
                "duration_minutes",
                service.duration_minutes,
                5..=720,
                "minutes",
            );
            for (field, minutes) in [
                ("buffer_before_minutes", service.buffer_before_minutes),
                ("buffer_after_minutes", service.buffer_after_minutes),
            ] {
                if minutes > MINUTES_PER_DAY {
                    self.add(
                        format!("{base}/{field}"),
                        format!(
                            "`{field}` is {minutes} minutes, longer than a day; a buffer can be \
                             at most {MINUTES_PER_DAY} minutes (24 hours)"
                        ),
                    );
                }
            }
            if let Some(description) = &service.description {
                self.max_length(
                    &format!("{base}/description"),
                    "`description`",
                    description,
                    2000,
                );
            }
            let mut listed = HashSet::new();
            for (j, staff_id) in service.staff_ids.iter().enumerate() {
                let pointer = format!("{base}/staff_ids/{j}");
                if !listed.insert(staff_id) {
                    self.add(
                        pointer,
                        format!("\"{staff_id}\" is listed twice; remove the duplicate"),
                    );
                } else if let Some(staff) = staff
                    && !staff.iter().any(|member| member.id == *staff_id)
                {
                    self.add(pointer, unknown_staff(staff_id, staff));
                }
            }
        }
    }

    fn staff(&mut self, staff: &[Staff]) {
        self.ids(
            "/staff",
            "staff",
            "dr-lee",
            staff.iter().map(|member| member.id.as_str()),
        );
        for (i, member) in staff.iter().enumerate() {
            let base = format!("/staff/{i}");
            self.required_text(&format!("{base}/name"), "name", &member.name, MAX_NAME);
            if let Some(hours) = &member.hours {
                self.weekly_hours(&format!("{base}/hours"), hours);
            }
        }
    }

    fn booking_rules(&mut self, rules: &BookingRules) {
        let base = "/booking_rules";
        self.in_range(
            &format!("{base}/min_notice_minutes"),
            "min_notice_minutes",
            rules.min_notice_minutes,
            0..=43_200,
            "minutes (30 days)",
        );
        self.in_range(
            &format!("{base}/horizon_days"),
            "horizon_days",
            rules.horizon_days,
            1..=730,
            "days",
        );
        self.in_range(
            &format!("{base}/slot_interval_minutes"),
            "slot_interval_minutes",
            rules.slot_interval_minutes,
            5..=240,
            "minutes",
        );
        for (field, cap) in [
            ("daily_cap", rules.daily_cap),
            ("staff_daily_cap", rules.staff_daily_cap),
        ] {
            if cap == Some(0) {
                self.add(
                    format!("{base}/{field}"),
                    format!("`{field}` must be at least 1; use null for no limit"),
                );
            }
        }
        self.in_range(
            &format!("{base}/cancellation_window_hours"),
            "cancellation_window_hours",
            rules.cancellation_window_hours,
            0..=720,
            "hours",
        );
    }

    fn persona(&mut self, persona: &Persona, compliance: Option<&Compliance>) {
        self.template(
            "/persona/greeting",
            "the greeting",
            &persona.greeting,
            500,
            Persona::GREETING_VARIABLES,
        );
        self.max_length("/persona/tone", "`tone`", &persona.tone, MAX_NAME);
        self.required_text(
            "/persona/escalation_message",
            "escalation_message",
            &persona.escalation_message,
            500,
        );
        self.max_length(
            "/persona/consent_message",
            "`consent_message`",
            &persona.consent_message,
            500,
        );
        if compliance.is_some_and(|compliance| compliance.recording_consent)
            && persona.consent_message.trim().is_empty()
        {
            self.add(
                "/persona/consent_message",
                "`consent_message` must not be empty while compliance.recording_consent is true; \
                 callers must be told the call is recorded (e.g. \"This call may be recorded for \
                 quality purposes.\")",
            );
        }
        if persona.languages.is_empty() {
            self.add(
                "/persona/languages",
                "add at least one language, such as [\"en-US\"]; the first one is the default",
            );
        }
        let mut seen = HashSet::new();
        for (i, language) in persona.languages.iter().enumerate() {
            let pointer = format!("/persona/languages/{i}");
            if !is_language_tag(language) {
                self.add(
                    pointer,
                    format!(
                        "\"{language}\" is not a valid language tag; use a BCP 47 tag such as \
                         \"en\", \"en-US\" or \"es-419\""
                    ),
                );
            } else if !seen.insert(language) {
                self.add(
                    pointer,
                    format!("\"{language}\" is listed twice; remove the duplicate"),
                );
            }
        }
    }

    fn faqs(&mut self, faqs: &[Faq]) {
        if faqs.len() > MAX_FAQS {
            self.add(
                "/faqs",
                format!(
                    "there are {} FAQs; at most {MAX_FAQS} are allowed",
                    faqs.len()
                ),
            );
        }
        for (i, faq) in faqs.iter().enumerate() {
            self.required_text(
                &format!("/faqs/{i}/question"),
                "question",
                &faq.question,
                1000,
            );
            self.required_text(&format!("/faqs/{i}/answer"), "answer", &faq.answer, 4000);
        }
    }

    fn telephony(&mut self, telephony: &Telephony) {
        let numbers = &telephony.numbers;
        if numbers.len() > MAX_PHONE_NUMBERS {
            self.add(
                "/telephony/numbers",
                format!(
                    "there are {} numbers; at most {MAX_PHONE_NUMBERS} are allowed",
                    numbers.len()
                ),
            );
        }
        let mut seen = HashSet::new();
        for (i, number) in numbers.iter().enumerate() {
            let pointer = format!("/telephony/numbers/{i}");
            if !self.phone(&pointer, number) {
                continue;
            }
            if !seen.insert(number) {
                self.add(
                    pointer,
                    format!("\"{number}\" is listed twice; remove the duplicate"),
                );
            }
        }
        let pointer = "/telephony/escalation_number";
        if let Some(number) = &telephony.escalation_number {
            if self.phone(pointer, number) && numbers.contains(number) {
                self.add(
                    pointer,
                    format!(
                        "\"{number}\" is one of the business's own numbers, so escalated calls \
                         would loop back to the receptionist; use a staff or front desk number"
                    ),
                );
            }
        } else if telephony.after_hours_policy == AfterHoursPolicy::RingStaffFirst {
            self.add(
                pointer,
                "after_hours_policy \"ring_staff_first\" needs an escalation_number to ring; set \
                 one, or choose \"ai_always\" or \"voicemail_only\"",
            );
        }
        let pointer = "/telephony/agent_id";
        match telephony.agent_id.as_deref() {
            Some(id)
                if id.is_empty()
                    || id.len() > 64
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                self.add(
                    pointer,
                    format!(
                        "{id:?} is not an ElevenLabs agent id (1 to 64 letters, digits, `_` or `-`, \
                         such as \"agent_01jexample\")"
                    ),
                );
            }
            None if telephony.mode == TelephonyMode::RegisterCall => self.add(
                pointer,
                "mode \"register_call\" needs the ElevenLabs agent_id to register calls with",
            ),
            _ => {}
        }
        self.in_range(
            "/telephony/ring_staff_seconds",
            "ring_staff_seconds",
            telephony.ring_staff_seconds,
            5..=60,
            "seconds",
        );
        if telephony.transfers.len() > MAX_TRANSFER_RULES {
            self.add(
                "/telephony/transfers",
                format!(
                    "there are {} transfer rules; at most {MAX_TRANSFER_RULES} are allowed",
                    telephony.transfers.len()
                ),
            );
        }
        let mut destinations = HashSet::new();
        for (i, rule) in telephony.transfers.iter().enumerate() {
            let pointer = format!("/telephony/transfers/{i}/number");
            if self.phone(&pointer, &rule.number) {
                if numbers.contains(&rule.number) {
                    self.add(
                        &pointer,
                        format!(
                            "\"{}\" is one of the business's own numbers, so the transfer would \
                             loop back to the receptionist; use a staff or front desk number",
                            rule.number
                        ),
                    );
                } else if !destinations.insert(&rule.number) {
                    self.add(
                        &pointer,
                        format!(
                            "\"{}\" has two rules; put both conditions in one rule",
                            rule.number
                        ),
                    );
                }
            }
            self.required_text(
                &format!("/telephony/transfers/{i}/condition"),
                "condition",
                &rule.condition,
                500,
            );
        }
    }

    fn sms(&mut self, sms: &Sms) {
        if let Some(sender) = &sms.sender {
            self.phone("/sms/sender", sender);
        }
        if let Some(sid) = &sms.messaging_service_sid {
            let pointer = "/sms/messaging_service_sid";
            if sms.sender.is_some() {
                self.add(
                    pointer,
                    "set either `sender` or `messaging_service_sid`, not both; set the other to null",
                );
            }
            if !is_messaging_service_sid(sid) {
                self.add(
                    pointer,
                    format!(
                        "\"{sid}\" is not a Twilio Messaging Service SID; it is \"MG\" followed by \
                         32 lowercase hex digits"
                    ),
                );
            }
        }
        for kind in MessageKind::ALL {
            self.template(
                &format!("/sms/templates/{}", kind.key()),
                &format!("the {} template", kind.key()),
                sms.templates.get(kind),
                1000,
                kind.variables(),
            );
        }
        if let Some(quiet) = &sms.quiet_hours {
            let start = minute_of_day(quiet.start);
            let end = match quiet.end {
                EndTime::At(time) => minute_of_day(time),
                EndTime::EndOfDay => 0,
            };
            if start == end {
                self.add(
                    "/sms/quiet_hours/end",
                    format!(
                        "quiet hours start and end at the same time of day ({}); use different \
                         times (the window may wrap midnight, like 21:00 to 08:00), or set \
                         quiet_hours to null to allow texts at any time",
                        quiet.start.format("%H:%M")
                    ),
                );
            }
        }
    }

    fn compliance(&mut self, compliance: &Compliance) {
        let mut seen = HashSet::new();
        for (i, kind) in compliance.redaction.kinds.iter().enumerate() {
            if !seen.insert(kind) {
                let name = serde_json::json!(kind);
                self.add(
                    format!("/compliance/redaction/kinds/{i}"),
                    format!("{name} is listed twice; remove the duplicate"),
                );
            }
        }
        let retention = &compliance.retention;
        for (field, days) in [
            ("call_records_days", retention.call_records_days),
            ("transcripts_days", retention.transcripts_days),
            ("recordings_days", retention.recordings_days),
        ] {
            self.in_range(
                &format!("/compliance/retention/{field}"),
                field,
                days,
                1..=3650,
                "days (10 years)",
            );
        }
    }

    /// A text field that must not be blank and has at most `max` characters.
    fn required_text(&mut self, pointer: &str, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(pointer, format!("`{field}` must not be empty"));
        } else {
            self.max_length(pointer, &format!("`{field}`"), value, max);
        }
    }

    /// `subject` names the value in the message: "`name`", "the greeting".
    fn max_length(&mut self, pointer: &str, subject: &str, value: &str, max: usize) {
        let length = value.chars().count();
        if length > max {
            self.add(
                pointer,
                format!("{subject} is {length} characters long; shorten it to at most {max}"),
            );
        }
    }

    fn in_range(
        &mut self,
        pointer: &str,
        field: &str,
        value: u32,
        range: RangeInclusive<u32>,
        unit: &str,
    ) {
        if !range.contains(&value) {
            self.add(
                pointer,
                format!(
                    "`{field}` must be between {} and {} {unit}; got {value}",
                    range.start(),
                    range.end()
                ),
            );
        }
    }

    /// Checks ids for slug syntax and uniqueness; `what` names the item, `example` is a good id.
    fn ids<'a>(
        &mut self,
        base: &str,
        what: &str,
        example: &str,
        ids: impl Iterator<Item = &'a str>,
    ) {
        let mut seen = HashSet::new();
        for (i, id) in ids.enumerate() {
            let pointer = format!("{base}/{i}/id");
            if !is_slug(id) {
                self.add(
                    pointer,
                    format!(
                        "\"{id}\" is not a valid {what} id; use 1 to 64 lowercase letters, \
                         digits, \"-\" or \"_\", starting with a letter or digit (e.g. \"{example}\")"
                    ),
                );
            } else if !seen.insert(id) {
                self.add(
                    pointer,
                    format!("{what} id \"{id}\" is already used; each {what} needs its own id"),
                );
            }
        }
    }

    /// Reports `number` unless it is a valid E.164 number; returns whether it is.
    fn phone(&mut self, pointer: &str, number: &str) -> bool {
        let valid = is_e164(number);
        if !valid {
            self.add(
                pointer,
                format!(
                    "\"{number}\" is not a valid E.164 phone number (example: {PHONE_EXAMPLE})"
                ),
            );
        }
        valid
    }

    /// A non-empty template that parses and uses only the `allowed` variables; `what` names
    /// it in messages.
    fn template(&mut self, pointer: &str, what: &str, text: &str, max: usize, allowed: &[&str]) {
        if text.trim().is_empty() {
            self.add(pointer, format!("{what} must not be empty"));
            return;
        }
        self.max_length(pointer, what, text, max);
        match template::variables(text) {
            Err(error) => self.add(pointer, format!("invalid template: {error}")),
            Ok(names) => {
                for name in names
                    .iter()
                    .filter(|name| !allowed.contains(&name.as_str()))
                {
                    self.add(
                        pointer,
                        format!(
                            "unknown variable `{{{{{name}}}}}` in {what}; allowed variables: {}",
                            allowed.join(", ")
                        ),
                    );
                }
            }
        }
    }
}

fn overlaps(a: &TimeRange, b: &TimeRange) -> bool {
    EndTime::from(a.open) < b.close && EndTime::from(b.open) < a.close
}

fn minute_of_day(time: NaiveTime) -> u32 {
    use chrono::Timelike;
    time.hour() * 60 + time.minute()
}

fn unknown_staff(id: &str, staff: &[Staff]) -> String {
    if staff.is_empty() {
        format!(
            "no staff member has id \"{id}\"; add them to `staff` first, or leave `staff_ids` \
             empty so any staff member can perform the service"
        )
    } else {
        let known: Vec<String> = staff
            .iter()
            .map(|member| format!("\"{}\"", member.id))
            .collect();
        format!(
            "no staff member has id \"{id}\"; use one of the ids in `staff`: {}",
            known.join(", ")
        )
    }
}

/// `^[a-z0-9][a-z0-9_-]{0,63}$`
fn is_slug(id: &str) -> bool {
    let mut bytes = id.bytes();
    id.len() <= 64
        && bytes
            .next()
            .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Strictly `+` and up to 15 digits, and a number the numbering plan assigns.
fn is_e164(number: &str) -> bool {
    let well_formed = number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit())
    });
    well_formed && phonenumber::parse(None, number).is_ok_and(|parsed| parsed.is_valid())
}

/// `^MG[0-9a-f]{32}$`
fn is_messaging_service_sid(sid: &str) -> bool {
    sid.strip_prefix("MG").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A BCP 47 tag of the usual shape: language (`en`), optional script (`Hans`), optional
/// region (`US` or `419`), in their conventional case.
fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-').peekable();
    let is_language =
        |s: &str| (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase());
    let is_script = |s: &str| {
        let mut bytes = s.bytes();
        s.len() == 4
            && bytes.next().is_some_and(|b| b.is_ascii_uppercase())
            && bytes.all(|b| b.is_ascii_lowercase())
    };
    let is_region = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()))
            || (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
    };
    if !subtags.next().is_some_and(is_language) {
        return false;
    }
    subtags.next_if(|s| is_script(s));
    subtags.next_if(|s| is_region(s));
    subtags.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for id in ["a", "0", "dr-lee", "room_2", &"a".repeat(64)] {
            assert!(is_slug(id), "{id}");
        }
        for id in [
            "",
            "-a",
            "_a",
            "Dr-Lee",
            "dr lee",
            "dr.lee",
            "é",
            &"a".repeat(65),
        ] {
            assert!(!is_slug(id), "{id}");
        }
    }

    #[test]
    fn e164_numbers() {
        for number in [
            "+12125550100",
            "+14155550123",
            "+442079460000",
            "+33612345678",
        ] {
            assert!(is_e164(number), "{number}");
        }
        for number in [
            "+1555",
            "12125550100",
            "+1 212 555 0100",
            "+1-212-555-0100",
            "+15555550100",
            "+447700900123",
            "+012125550100",
            "+1212555010012345",
            "",
            "+",
        ] {
            assert!(!is_e164(number), "{number}");
        }
    }

    proptest::proptest! {
        #[test]
        fn e164_check_never_panics(number in "\\+[0-9]{0,16}") {
            let _ = is_e164(&number);
        }
    }

    #[test]
    fn messaging_service_sids() {
        assert!(is_messaging_service_sid(&format!(
            "MG{}",
            "0123456789abcdef".repeat(2)
        )));
        assert!(!is_messaging_service_sid(&format!(
            "MG{}",
            "0123456789ABCDEF".repeat(2)
        )));
        assert!(!is_messaging_service_sid(&format!("PN{}", "0".repeat(32))));
        assert!(!is_messaging_service_sid(&format!("MG{}", "0".repeat(31))));
    }

    #[test]
    fn language_tags() {
        for tag in ["en", "en-US", "es-419", "zh-Hans", "zh-Hans-CN", "fil-PH"] {
            assert!(is_language_tag(tag), "{tag}");
        }
        for tag in [
            "",
            "e",
            "EN",
            "en-us",
            "en_US",
            "en-",
            "english",
            "en-US-x",
            "en-Latn-Latn",
        ] {
            assert!(!is_language_tag(tag), "{tag}");
        }
    }
}
