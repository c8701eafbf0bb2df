//! The business configuration model: what an operator sets up through the admin API.
//!
//! Every section except [`Profile`] is optional in the JSON document; missing sections and
//! fields get the defaults documented on each type (and in `docs/configuration.md`), and the
//! model serializes back in full, defaults included. Deserializing only checks the shape of
//! the document; the business rules live in [`crate::validate`].

mod formats;

use std::fmt;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The complete configuration of one business.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(expecting = "a business configuration object")]
pub struct BusinessConfig {
    pub profile: Profile,
    #[serde(default)]
    pub hours: WeeklyHours,
    #[serde(default)]
    pub closures: Vec<Closure>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub staff: Vec<Staff>,
    #[serde(default)]
    pub booking_rules: BookingRules,
    #[serde(default)]
    pub persona: Persona,
    #[serde(default)]
    pub faqs: Vec<Faq>,
    #[serde(default)]
    pub telephony: Telephony,
    #[serde(default)]
    pub sms: Sms,
    #[serde(default)]
    pub compliance: Compliance,
}

impl BusinessConfig {
    /// The business's own (Twilio) phone numbers, E.164.
    pub fn phone_numbers(&self) -> Vec<String> {
        self.telephony.numbers.clone()
    }
}

/// Who the business is and where it operates.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(expecting = "a profile object with at least `name` and `time_zone`")]
pub struct Profile {
    pub name: String,
    /// IANA time zone all hours, closures and quiet hours are expressed in.
    #[serde(with = "formats::time_zone")]
    pub time_zone: Tz,
    #[serde(default)]
    pub locations: Vec<Location>,
    #[serde(default)]
    pub website: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(expecting = "a location object with `id`, `name` and `address`")]
pub struct Location {
    pub id: String,
    pub name: String,
    pub address: String,
}

/// The days of the week in the order the configuration lists them.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// The JSON key of a weekday in [`WeeklyHours`]: `"monday"` ... `"sunday"`.
pub fn weekday_key(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// Opening hours per weekday; a day without ranges is closed. Default: closed every day.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(default, expecting = "an object with weekday keys (monday ... sunday)")]
pub struct WeeklyHours {
    pub monday: Vec<TimeRange>,
    pub tuesday: Vec<TimeRange>,
    pub wednesday: Vec<TimeRange>,
    pub thursday: Vec<TimeRange>,
    pub friday: Vec<TimeRange>,
    pub saturday: Vec<TimeRange>,
    pub sunday: Vec<TimeRange>,
}

impl WeeklyHours {
    /// The open ranges of one weekday, in the order they were configured.
    pub fn day(&self, day: Weekday) -> &[TimeRange] {
        match day {
            Weekday::Mon => &self.monday,
            Weekday::Tue => &self.tuesday,
            Weekday::Wed => &self.wednesday,
            Weekday::Thu => &self.thursday,
            Weekday::Fri => &self.friday,
            Weekday::Sat => &self.saturday,
            Weekday::Sun => &self.sunday,
        }
    }
}

/// A time range within one day, `open` inclusive, `close` exclusive.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(expecting = "a time range object with `open` and `close`")]
pub struct TimeRange {
    #[serde(with = "formats::time")]
    pub open: NaiveTime,
    pub close: EndTime,
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.open.format("%H:%M"), self.close)
    }
}

/// The end of a time range: a wall-clock time, or the end of the day (written `"24:00"`).
///
/// Orders after every start time it could be compared with, so
/// `EndTime::from(start) < end` tells whether a range is non-empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndTime {
    At(NaiveTime),
    EndOfDay,
}

impl From<NaiveTime> for EndTime {
    fn from(time: NaiveTime) -> Self {
        EndTime::At(time)
    }
}

impl fmt::Display for EndTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndTime::At(time) => write!(f, "{}", time.format("%H:%M")),
            EndTime::EndOfDay => f.write_str("24:00"),
        }
    }
}

/// A day or days the business is closed, overriding [`WeeklyHours`].
///
/// Three shapes: a whole day (`date`), several whole days (`date` + `end_date`, inclusive),
/// or part of one day (`date` + `from` + `to`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(expecting = "a closure object with at least `date`")]
pub struct Closure {
    #[serde(with = "formats::date")]
    pub date: NaiveDate,
    #[serde(default, with = "formats::date::option")]
    pub end_date: Option<NaiveDate>,
    #[serde(default, with = "formats::time::option")]
    pub from: Option<NaiveTime>,
    #[serde(default)]
    pub to: Option<EndTime>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Something a customer can book.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(expecting = "a service object with at least `id`, `name` and `duration_minutes`")]
pub struct Service {
    pub id: String,
    pub name: String,
    pub duration_minutes: u32,
    /// Time blocked before the appointment (preparation). Default 0.
    #[serde(default)]
    pub buffer_before_minutes: u32,
    /// Time blocked after the appointment (clean-up). Default 0.
    #[serde(default)]
    pub buffer_after_minutes: u32,
    /// Staff who can perform the service; empty means any staff member.
    #[serde(default)]
    pub staff_ids: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A person or a bookable resource (a room, a chair, a machine).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(expecting = "a staff object with at least `id` and `name`")]
pub struct Staff {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub kind: StaffKind,
    /// Working hours of this staff member; `None` means the business hours.
    #[serde(default)]
    pub hours: Option<WeeklyHours>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum StaffKind {
    #[default]
    Person,
    Resource,
}

/// Constraints on when appointments can be booked.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, expecting = "a booking rules object")]
pub struct BookingRules {
    /// How long before its start an appointment can still be booked.
    pub min_notice_minutes: u32,
    /// How many days ahead appointments can be booked.
    pub horizon_days: u32,
    /// Spacing of offered start times.
    pub slot_interval_minutes: u32,
    /// Maximum appointments per day for the whole business; `None` = unlimited.
    pub daily_cap: Option<u32>,
    /// Maximum appointments per day for each staff member; `None` = unlimited.
    pub staff_daily_cap: Option<u32>,
    /// Appointments can be cancelled or moved by the caller until this many hours before.
    pub cancellation_window_hours: u32,
}

impl Default for BookingRules {
    fn default() -> Self {
        Self {
            min_notice_minutes: 60,
            horizon_days: 60,
            slot_interval_minutes: 15,
            daily_cap: None,
            staff_daily_cap: None,
            cancellation_window_hours: 24,
        }
    }
}

/// How the AI receptionist speaks.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, expecting = "a persona object")]
pub struct Persona {
    /// First sentence of every call; may use the [`Persona::GREETING_VARIABLES`].
    pub greeting: String,
    pub tone: String,
    pub escalation_message: String,
    /// Spoken at the start of every call when `compliance.recording_consent` is on.
    pub consent_message: String,
    /// BCP 47 language tags, the first one is the default language.
    pub languages: Vec<String>,
}

impl Persona {
    /// Variables the greeting template may use.
    pub const GREETING_VARIABLES: &[&str] = &["business_name", "caller_name"];
}

impl Default for Persona {
    fn default() -> Self {
        Self {
            greeting: "Thanks for calling {{business_name}}! How can I help you today?".into(),
            tone: "warm and concise".into(),
            escalation_message: "Let me connect you with someone from our team.".into(),
            consent_message: "This call may be recorded for quality purposes.".into(),
            languages: vec!["en-US".into()],
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(expecting = "an FAQ object with `question` and `answer`")]
pub struct Faq {
    pub question: String,
    pub answer: String,
}

/// Phone numbers and call routing.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, expecting = "a telephony object")]
pub struct Telephony {
    pub mode: TelephonyMode,
    /// The ElevenLabs agent that answers: needed when frontdesk registers calls with
    /// ElevenLabs itself (`register_call` mode); native numbers are assigned in ElevenLabs.
    pub agent_id: Option<String>,
    /// The business's Twilio numbers, E.164.
    pub numbers: Vec<String>,
    /// Where calls are transferred to a human, E.164.
    pub escalation_number: Option<String>,
    /// Take a voicemail when a transfer isn't answered.
    pub voicemail_fallback: bool,
    pub after_hours_policy: AfterHoursPolicy,
    /// How long staff are rung before the AI (or voicemail) takes over.
    pub ring_staff_seconds: u32,
    /// When the agent may hand the caller to a human, and to which number. Empty: one rule
    /// to `escalation_number` ([`Telephony::transfer_rules`]).
    pub transfers: Vec<TransferRule>,
}

impl Telephony {
    /// The transfer rules in effect: `transfers`, or, when there are none, one rule to
    /// `escalation_number` with [`DEFAULT_TRANSFER_CONDITION`]; empty when neither is set.
    pub fn transfer_rules(&self) -> Vec<TransferRule> {
        if !self.transfers.is_empty() {
            return self.transfers.clone();
        }
        self.escalation_number
            .iter()
            .filter(|n| !n.trim().is_empty())
            .map(|number| TransferRule {
                number: number.clone(),
                condition: DEFAULT_TRANSFER_CONDITION.to_owned(),
                transfer_type: TransferType::default(),
            })
            .collect()
    }
}

/// The condition of the rule derived from `escalation_number`.
pub const DEFAULT_TRANSFER_CONDITION: &str = "The caller asks for a person, has an urgent \
    problem, or needs something you cannot do with your tools.";

/// One transfer destination and when the agent should use it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(expecting = "a transfer rule with `number` and `condition`")]
pub struct TransferRule {
    /// Where the call goes, E.164.
    pub number: String,
    /// When to transfer there, in words the agent's LLM reads ("the caller has an emergency").
    pub condition: String,
    #[serde(default)]
    pub transfer_type: TransferType,
}

/// How ElevenLabs hands the call over (native mode; register-call transfers always dial).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum TransferType {
    /// The agent dials the destination and leaves once connected (warm: it can brief staff).
    #[default]
    Conference,
    /// The call is handed over directly (caller ID kept, no briefing).
    Blind,
}

impl Default for Telephony {
    fn default() -> Self {
        Self {
            mode: TelephonyMode::default(),
            agent_id: None,
            numbers: Vec::new(),
            escalation_number: None,
            voicemail_fallback: true,
            after_hours_policy: AfterHoursPolicy::default(),
            ring_staff_seconds: 20,
            transfers: Vec::new(),
        }
    }
}

/// How calls reach the AI.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum TelephonyMode {
    /// The numbers are pointed straight at the voice AI.
    #[default]
    Native,
    /// Calls are answered by our webhook, which registers them with the voice AI.
    RegisterCall,
}

/// What happens to calls outside business hours.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum AfterHoursPolicy {
    /// The AI answers as usual.
    #[default]
    AiAlways,
    /// Callers go straight to voicemail.
    VoicemailOnly,
    /// The escalation number rings first; the AI answers if nobody picks up.
    RingStaffFirst,
}

/// Text messages sent to callers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, expecting = "an SMS object")]
pub struct Sms {
    /// Number texts are sent from (E.164); at most one of `sender` and `messaging_service_sid`.
    pub sender: Option<String>,
    /// Twilio Messaging Service that sends the texts (`MG` + 32 hex digits).
    pub messaging_service_sid: Option<String>,
    pub templates: SmsTemplates,
    pub follow_ups_enabled: bool,
    /// No texts are sent in this window (business time zone); `None` = any time.
    pub quiet_hours: Option<QuietHours>,
}

impl Default for Sms {
    fn default() -> Self {
        Self {
            sender: None,
            messaging_service_sid: None,
            templates: SmsTemplates::default(),
            follow_ups_enabled: true,
            quiet_hours: None,
        }
    }
}

/// A daily window, which may wrap midnight (`21:00` to `08:00`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(expecting = "a quiet hours object with `start` and `end`")]
pub struct QuietHours {
    #[serde(with = "formats::time")]
    pub start: NaiveTime,
    pub end: EndTime,
}

/// The kinds of text message, each with its own template.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    BookingConfirmation,
    BookingRescheduled,
    BookingCancelled,
    InfoRecap,
    FollowUp,
    VoicemailRecap,
    Reminder,
}

impl MessageKind {
    pub const ALL: [MessageKind; 7] = [
        MessageKind::BookingConfirmation,
        MessageKind::BookingRescheduled,
        MessageKind::BookingCancelled,
        MessageKind::InfoRecap,
        MessageKind::FollowUp,
        MessageKind::VoicemailRecap,
        MessageKind::Reminder,
    ];

    /// The JSON key of this kind in [`SmsTemplates`].
    pub fn key(self) -> &'static str {
        match self {
            MessageKind::BookingConfirmation => "booking_confirmation",
            MessageKind::BookingRescheduled => "booking_rescheduled",
            MessageKind::BookingCancelled => "booking_cancelled",
            MessageKind::InfoRecap => "info_recap",
            MessageKind::FollowUp => "follow_up",
            MessageKind::VoicemailRecap => "voicemail_recap",
            MessageKind::Reminder => "reminder",
        }
    }

    /// The variables a template of this kind may use.
    pub fn variables(self) -> &'static [&'static str] {
        const BOOKING: &[&str] = &[
            "business_name",
            "business_phone",
            "customer_name",
            "service",
            "date",
            "time",
            "staff",
            "booking_id",
            "location",
        ];
        const RECAP: &[&str] = &[
            "business_name",
            "business_phone",
            "customer_name",
            "summary",
        ];
        match self {
            MessageKind::BookingConfirmation
            | MessageKind::BookingRescheduled
            | MessageKind::BookingCancelled
            | MessageKind::Reminder => BOOKING,
            MessageKind::InfoRecap | MessageKind::FollowUp | MessageKind::VoicemailRecap => RECAP,
        }
    }
}

/// One template per [`MessageKind`]; kinds left out get the default English text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, expecting = "an object with one template per message kind")]
pub struct SmsTemplates {
    pub booking_confirmation: String,
    pub booking_rescheduled: String,
    pub booking_cancelled: String,
    pub info_recap: String,
    pub follow_up: String,
    pub voicemail_recap: String,
    pub reminder: String,
}

impl SmsTemplates {
    pub fn get(&self, kind: MessageKind) -> &str {
        match kind {
            MessageKind::BookingConfirmation => &self.booking_confirmation,
            MessageKind::BookingRescheduled => &self.booking_rescheduled,
            MessageKind::BookingCancelled => &self.booking_cancelled,
            MessageKind::InfoRecap => &self.info_recap,
            MessageKind::FollowUp => &self.follow_up,
            MessageKind::VoicemailRecap => &self.voicemail_recap,
            MessageKind::Reminder => &self.reminder,
        }
    }
}

impl Default for SmsTemplates {
    fn default() -> Self {
        Self {
            booking_confirmation:
                "Hi {{customer_name}}, you're booked for {{service}} on {{date}} at \
                {{time}} at {{business_name}}. To make changes, call {{business_phone}}."
                    .into(),
            booking_rescheduled: "Hi {{customer_name}}, your {{service}} at {{business_name}} has \
                moved to {{date}} at {{time}}. Questions? Call {{business_phone}}."
                .into(),
            booking_cancelled: "Hi {{customer_name}}, your {{service}} at {{business_name}} on \
                {{date}} at {{time}} has been cancelled. To rebook, call {{business_phone}}."
                .into(),
            info_recap: "Hi {{customer_name}}, thanks for calling {{business_name}}. Here's a \
                recap: {{summary}}"
                .into(),
            follow_up: "Hi {{customer_name}}, {{business_name}} here, following up on your call: \
                {{summary}} Reply or call {{business_phone}} if we can help."
                .into(),
            voicemail_recap: "Hi {{customer_name}}, {{business_name}} got your message: \
                {{summary}} We'll get back to you soon."
                .into(),
            reminder: "Reminder: {{service}} at {{business_name}} on {{date}} at {{time}}. To \
                reschedule, call {{business_phone}}."
                .into(),
        }
    }
}

/// Recording, redaction and data retention.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, expecting = "a compliance object")]
pub struct Compliance {
    /// Calls are recorded; callers hear `persona.consent_message` first.
    pub recording_consent: bool,
    pub redaction: Redaction,
    pub retention: Retention,
}

impl Default for Compliance {
    fn default() -> Self {
        Self {
            recording_consent: true,
            redaction: Redaction::default(),
            retention: Retention::default(),
        }
    }
}

/// Removal of sensitive data from transcripts and summaries.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, expecting = "a redaction object")]
pub struct Redaction {
    pub enabled: bool,
    pub kinds: Vec<RedactionKind>,
}

impl Default for Redaction {
    fn default() -> Self {
        Self {
            enabled: true,
            kinds: vec![RedactionKind::CardNumber, RedactionKind::Ssn],
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RedactionKind {
    CardNumber,
    Ssn,
    DateOfBirth,
    Email,
    Phone,
    Address,
}

/// How long data is kept, in days.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, expecting = "a retention object")]
pub struct Retention {
    pub call_records_days: u32,
    pub transcripts_days: u32,
    pub recordings_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            call_records_days: 365,
            transcripts_days: 90,
            recordings_days: 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_day_orders_after_every_time() {
        let late = NaiveTime::from_hms_opt(23, 59, 0).unwrap();
        assert!(EndTime::from(late) < EndTime::EndOfDay);
        assert!(EndTime::from(NaiveTime::MIN) < EndTime::from(late));
    }

    #[test]
    fn time_range_displays_like_the_json() {
        let range: TimeRange =
            serde_json::from_value(serde_json::json!({"open": "09:00", "close": "24:00"})).unwrap();
        assert_eq!(range.to_string(), "09:00–24:00");
    }

    #[test]
    fn message_kind_keys_match_serde_names() {
        for kind in MessageKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.key());
        }
    }

    #[test]
    fn templates_get_returns_the_matching_field() {
        let templates = SmsTemplates::default();
        let json = serde_json::to_value(&templates).unwrap();
        for kind in MessageKind::ALL {
            assert_eq!(json[kind.key()], templates.get(kind));
        }
    }

    #[test]
    fn weekday_keys_match_weekly_hours_fields() {
        let json = serde_json::to_value(WeeklyHours::default()).unwrap();
        let mut keys: Vec<&str> = WEEK.iter().map(|day| weekday_key(*day)).collect();
        keys.sort_unstable();
        let mut fields: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(keys, fields);
    }
}
