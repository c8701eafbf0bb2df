//! ElevenLabs post-call webhooks: lenient parsing, the compact facts we keep about a call, and
//! the call's disposition and QA flags. Pure: no I/O; the HMAC signature is checked elsewhere.
//!
//! # Parsing
//!
//! [`parse`] reads the raw body into typed structs that borrow from it and skip everything we
//! don't keep (message texts, turn metrics, LLM usage, tool details, audio, ...), so a 200 KB
//! transcription costs far less than a `serde_json::Value` of the same bytes. It is lenient:
//! unknown fields are ignored, every field is optional, a field of an unexpected JSON type is
//! read as absent, `event_timestamp` may be an integer, a float or a numeric string. The only
//! errors ([`PayloadError`]) are a body that is not a JSON object (or not JSON at all, or an
//! object repeating a key of a field we read), a missing or empty `type`, and a transcription
//! or initiation failure without `data.conversation_id`. `post_call_audio` and unknown types
//! become [`Event::Ignored`].
//!
//! # Call facts
//!
//! A transcription is reduced to [`CallFacts`], stored instead of the raw transcript: who
//! called whom, how long, ElevenLabs' analysis (summary, evaluations, data collection), one
//! [`ToolUse`] per tool call joined with its result by `request_id` (no parameters, no
//! results), the bookings our `create_booking` / `update_booking` tools made
//! ([`BookingFact`]), a transfer, voicemail detection and the `end_call` reason.
//!
//! # Disposition
//!
//! [`assess`] gives every call one [`Disposition`]; the first row that applies wins:
//!
//! | # | disposition | when |
//! |---|-------------|------|
//! | 0 | `voicemail` | the caller left a message in our voicemail ([`CallFacts::voicemail`], register-call and fallback flows) |
//! | 1 | `voicemail` | the `voicemail_detection` system tool was called, or the termination reason mentions "voicemail" |
//! | 2 | `abandoned` | the caller never spoke (no user turn with text), or the call lasted less than [`AssessRules::abandoned_below_secs`] (duration, else the last turn's time) without any tool use |
//! | 3 | `escalated` | the call was transferred (`transfer_to_number`, `transfer_to_agent`, or a webhook tool named like `transfer_call`) and the transfer did not fail |
//! | 4 | `booked` / `rescheduled` / `cancelled` | the action of the **last** successful booking tool answer: booking then cancelling in one call is `cancelled`, cancelling then booking again is `booked` |
//! | 5 | `follow_up_needed` | `call_successful` is `failure`; or a tool use failed other than with an [expected caller-facing error](EXPECTED_TOOL_ERRORS) (includes `temporarily_unavailable`, tool errors, and webhook tools that never answered); or a data-collection value asks for a callback; or the request stayed unresolved |
//! | 6 | `info_only` | anything else: the caller got information |
//!
//! Details:
//! * *callback requested*: a data-collection key containing `callback`, `call_back`,
//!   `follow_up`, `follow-up` or `followup` whose value is truthy: `true`, a non-zero number,
//!   or one of the strings `yes`, `y`, `true`, `1`, `requested`, `required`, `needed`
//!   (case-insensitive). A `callback_number` holding a phone number is therefore not a request.
//! * *unresolved*: a data-collection key containing `unresolved` with a truthy value, a key
//!   containing `resolved` (not `unresolved`) whose value is `false`, `"no"`, `"false"` or `0`,
//!   or an evaluation criterion whose id contains `resolved` with result `failure`.
//! * A system tool (`end_call`, `transfer_to_number`, ...) whose result is missing from the
//!   transcript is not counted as failed: the call often ends or leaves the agent first.
//! * When the disposition is `escalated` or a booking one, the follow-up signals that also
//!   hold are appended to the reasons as `also: ...`.
//!
//! [`sms_kind`] maps a disposition to the text message to send, if any; [`message_kind`]
//! also knows that a caller who left us a voicemail gets the `voicemail_recap` text (a
//! voicemail *reached* by the agent gets none).
//!
//! # QA flags
//!
//! Independent of the disposition, [`assess`] raises:
//! * [`QaFlag::CallUnsuccessful`]: `call_successful` is `failure`;
//! * [`QaFlag::FailedEvaluation`]: the evaluation criteria whose result is `failure`;
//! * [`QaFlag::NegativeSentiment`]: a data-collection value or an evaluation whose key/id
//!   contains `sentiment` (case-insensitive) says negative:
//!
//!   | source | negative when |
//!   |--------|---------------|
//!   | data value, string | it contains `negative` (case-insensitive) |
//!   | data value, integer 1 to 5 under a key also containing `score` or `rating` | a 1–5 score: ≤ 2 |
//!   | data value, any other number | a polarity in −1..1: ≤ −0.3 |
//!   | evaluation with `score` and `max_score` | `score / max_score` ≤ 0.4 (2 of 5) |
//!   | evaluation without scores | its result is `failure` |
//!
//! * [`QaFlag::RepeatedToolErrors`]: at least [`AssessRules::repeated_tool_errors`] failed tool
//!   uses, expected caller-facing errors included (0 disables the flag).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::MessageKind;

/// `type` of the webhook carrying a finished call's transcript and analysis.
pub const TRANSCRIPTION: &str = "post_call_transcription";
/// `type` of the webhook sent when a telephony call failed to start.
pub const INITIATION_FAILURE: &str = "call_initiation_failure";
/// `type` of the webhook carrying the call's audio (we don't subscribe to it).
pub const AUDIO: &str = "post_call_audio";

/// Error codes our tools answer (`{"ok": false, "error": ...}`) when the caller asked for
/// something that cannot be done: the agent explains it, so by themselves they don't call for
/// a follow-up.
pub const EXPECTED_TOOL_ERRORS: &[&str] = &[
    "slot_taken",
    "outside_hours",
    "closed",
    "date_in_past",
    "too_soon",
    "beyond_horizon",
    "unparseable_date",
    "nonexistent_time",
    "unknown_service",
    "unknown_staff",
    "staff_cannot_serve",
    "fully_booked",
    "booking_not_found",
    "already_cancelled",
    "too_late_to_cancel",
    "too_late_to_change",
    "invalid_slot",
    "invalid_phone",
];

/// The error of a tool use whose call has no result in the transcript.
pub const NO_RESULT: &str = "no_result";
/// The error of a tool result marked `is_error` without an `error_type`.
pub const TOOL_ERROR: &str = "tool_error";
/// The error of a tool answer `{"ok": false}` without an `error` code.
pub const UNKNOWN_ERROR: &str = "unknown_error";

// ------------------------------------------------------------------------------ public types

/// A parsed post-call webhook.
// One per webhook, destructured at once: boxing the facts would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `post_call_transcription`: the facts of a finished call.
    Transcription(CallFacts),
    /// `call_initiation_failure`: a telephony call that never connected.
    InitiationFailure(InitiationFailure),
    /// `post_call_audio` and unknown types: answered 200 without work.
    Ignored {
        /// The event's `type`.
        kind: String,
        /// `data.conversation_id`, when present.
        conversation_id: Option<String>,
    },
}

impl Event {
    /// The conversation the event is about (the idempotency key of its handling, with the type).
    pub fn conversation_id(&self) -> Option<&str> {
        match self {
            Event::Transcription(facts) => Some(&facts.conversation_id),
            Event::InitiationFailure(failure) => Some(&failure.conversation_id),
            Event::Ignored {
                conversation_id, ..
            } => conversation_id.as_deref(),
        }
    }

    /// The event's `type`.
    pub fn kind(&self) -> &str {
        match self {
            Event::Transcription(_) => TRANSCRIPTION,
            Event::InitiationFailure(_) => INITIATION_FAILURE,
            Event::Ignored { kind, .. } => kind,
        }
    }
}

/// Why a webhook body cannot be handled (answer 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The body is not JSON (or repeats a key of a field we read).
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    /// The body is JSON, but not an object.
    #[error("body is not a JSON object")]
    NotAnObject,
    /// `type` is absent, empty or not a string.
    #[error("`type` is missing or empty")]
    MissingType,
    /// A transcription or initiation failure without a conversation id.
    #[error("`data.conversation_id` is missing")]
    MissingConversationId,
}

/// What we keep of a finished call: small enough to store instead of the transcript.
///
/// Empty and absent values are left out when serialized.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct CallFacts {
    /// ElevenLabs' conversation id.
    pub conversation_id: String,
    /// The ElevenLabs agent that took the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Conversation status (`done`, `failed`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When the webhook event occurred (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_timestamp: Option<i64>,
    /// Twilio call SID (`metadata.phone_call.call_sid`, else `system__call_sid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_sid: Option<String>,
    /// `inbound` or `outbound`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// The caller's number (`phone_call.external_number`, else `system__caller_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// Our number (`phone_call.agent_number`, else `system__called_number`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called: Option<String>,
    /// Call start (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// Call duration in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u32>,
    /// `metadata.termination_reason` (free text; empty means none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_reason: Option<String>,
    /// `metadata.error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CallError>,
    /// The conversation's main language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_language: Option<String>,
    /// ElevenLabs' verdict, lower-cased: `success`, `failure` or `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_successful: Option<String>,
    /// `analysis.transcript_summary`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `analysis.call_summary_title`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_title: Option<String>,
    /// Evaluation criteria results, in payload order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evaluations: Vec<Evaluation>,
    /// Data collection values by id (null values left out).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, Value>,
    /// One entry per tool call, in call order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolUse>,
    /// Caller turns with text.
    #[serde(skip_serializing_if = "is_zero")]
    pub user_turns: u32,
    /// Agent turns with text.
    #[serde(skip_serializing_if = "is_zero")]
    pub agent_turns: u32,
    /// The latest `time_in_call_secs` of the transcript.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_turn_secs: Option<u32>,
    /// The last booking action of the call (= the last of `booking_actions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking: Option<BookingFact>,
    /// Every successful booking action, in call order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub booking_actions: Vec<BookingFact>,
    /// The (last) transfer of the call to a human or another agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    /// The `voicemail_detection` system tool was called.
    #[serde(skip_serializing_if = "is_false")]
    pub voicemail_detected: bool,
    /// The `reason` the agent gave to the `end_call` system tool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_call_reason: Option<String>,
    /// The message the caller left in our voicemail (Twilio `<Record>`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voicemail: Option<Voicemail>,
}

/// A voicemail the caller left (Twilio `<Record>` of the fallback, after-hours or
/// unanswered-transfer flows).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Voicemail {
    /// Twilio's RecordingSid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_sid: Option<String>,
    /// Where the recording is (Twilio media URL; needs the account's credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
    /// Length of the recording in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u32>,
    /// Twilio's transcription (English businesses), when it arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcription: Option<String>,
}

impl Voicemail {
    /// A short quote of the message for texts: the transcription's first words (at most
    /// `max` characters, cut at a word), in quotes; `None` without a transcription.
    pub fn quote(&self, max: usize) -> Option<String> {
        let text = self
            .transcription
            .as_deref()?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() {
            return None;
        }
        if text.chars().count() <= max {
            return Some(format!("\u{201c}{text}\u{201d}"));
        }
        // One character more: a space there means the cut falls between words.
        let mut cut: String = text.chars().take(max + 1).collect();
        if let Some(space) = cut.rfind(' ') {
            cut.truncate(space);
        } else {
            cut = text.chars().take(max).collect();
        }
        Some(format!(
            "\u{201c}{}\u{2026}\u{201d}",
            cut.trim_end_matches([',', '.', ';', ':'])
        ))
    }
}

/// `metadata.error` of a conversation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct CallError {
    /// Error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// Error text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The result of one evaluation criterion.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Evaluation {
    /// The criterion id.
    pub id: String,
    /// `success`, `failure` or `unknown` (lower-cased).
    pub result: String,
    /// Why, in the analysis LLM's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    /// Score, for scored criteria.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Maximum score, for scored criteria.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_score: Option<f64>,
}

/// One tool call of the agent, joined with its result.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct ToolUse {
    /// Tool name.
    pub name: String,
    /// Tool type: `webhook`, `system`, `client`, `mcp`, ...
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// ElevenLabs' request id, joining the call and its result.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub request_id: String,
    /// The result exists, is not an error and is not an `{"ok": false}` answer.
    pub ok: bool,
    /// Why not ok: our tools' `error` code, the result's `error_type`, [`TOOL_ERROR`],
    /// [`UNKNOWN_ERROR`] or [`NO_RESULT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `tool_latency_secs` of the result, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u32>,
}

impl ToolUse {
    /// The use failed: not ok, except a system tool whose result is missing (the call ended or
    /// left the agent before a result was recorded).
    pub fn failed(&self) -> bool {
        let unanswered_system = self.kind == "system" && self.error.as_deref() == Some(NO_RESULT);
        !self.ok && !unanswered_system
    }

    /// Failed with one of the [`EXPECTED_TOOL_ERRORS`].
    pub fn expected_failure(&self) -> bool {
        self.failed()
            && self
                .error
                .as_deref()
                .is_some_and(|e| EXPECTED_TOOL_ERRORS.contains(&e))
    }
}

/// What a booking tool did.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum BookingAction {
    /// `create_booking` made a booking.
    Booked,
    /// `update_booking` moved a booking.
    Rescheduled,
    /// `update_booking` cancelled a booking.
    Cancelled,
}

/// A booking made, moved or cancelled during the call (from our tools' answers).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BookingFact {
    /// What happened.
    pub action: BookingAction,
    /// Our booking id.
    pub booking_id: String,
    /// Service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// Staff member's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_name: Option<String>,
    /// Start, local ISO 8601 with offset (the new start of a reschedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Customer's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// Customer's phone (E.164).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_phone: Option<String>,
}

/// A transfer of the call.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Transfer {
    /// The tool used (`transfer_to_number`, `transfer_to_agent`, `transfer_call`, ...).
    pub tool: String,
    /// The number (or agent index) transferred to, as the agent passed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The reason the agent gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A `call_initiation_failure` event: a call (in practice outbound) that never connected.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct InitiationFailure {
    /// ElevenLabs' conversation id.
    pub conversation_id: String,
    /// The agent that would have taken the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// `busy`, `no-answer` or `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Twilio `CallSid` / SIP `call_sid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_sid: Option<String>,
    /// Calling number (`From` / `from_number`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Called number (`To` / `to_number`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Twilio `CallStatus` / SIP `sip_status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_status: Option<String>,
    /// SIP response code (`SipResponseCode` / `sip_status_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_status: Option<u16>,
    /// When the webhook event occurred (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_timestamp: Option<i64>,
}

/// The outcome of a call, one per call (see the module docs for the precedence).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// A booking was made.
    Booked,
    /// A booking was moved.
    Rescheduled,
    /// A booking was cancelled.
    Cancelled,
    /// The caller got information; nothing left to do.
    InfoOnly,
    /// The call was transferred to a human (or another agent).
    Escalated,
    /// The call reached a voicemail.
    Voicemail,
    /// Someone has to get back to the caller.
    FollowUpNeeded,
    /// The caller hung up before anything happened.
    Abandoned,
}

impl Disposition {
    /// Every disposition.
    pub const ALL: [Disposition; 8] = [
        Disposition::Booked,
        Disposition::Rescheduled,
        Disposition::Cancelled,
        Disposition::InfoOnly,
        Disposition::Escalated,
        Disposition::Voicemail,
        Disposition::FollowUpNeeded,
        Disposition::Abandoned,
    ];

    /// The snake_case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Booked => "booked",
            Disposition::Rescheduled => "rescheduled",
            Disposition::Cancelled => "cancelled",
            Disposition::InfoOnly => "info_only",
            Disposition::Escalated => "escalated",
            Disposition::Voicemail => "voicemail",
            Disposition::FollowUpNeeded => "follow_up_needed",
            Disposition::Abandoned => "abandoned",
        }
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A quality-assurance signal about a call, independent of its disposition.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QaFlag {
    /// ElevenLabs rated the call `failure`.
    CallUnsuccessful,
    /// Evaluation criteria that failed.
    FailedEvaluation {
        /// Their ids.
        criteria: Vec<String>,
    },
    /// The caller's sentiment was negative.
    NegativeSentiment,
    /// Several tool uses failed.
    RepeatedToolErrors {
        /// How many.
        count: u32,
    },
}

/// The disposition of a call, why, and its QA flags.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Assessment {
    /// The outcome.
    pub disposition: Disposition,
    /// Short human-readable explanations (for the CRM and QA).
    pub reasons: Vec<String>,
    /// QA signals.
    pub flags: Vec<QaFlag>,
}

/// Thresholds of [`assess`].
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct AssessRules {
    /// A call shorter than this without tool use is abandoned.
    pub abandoned_below_secs: u32,
    /// This many failed tool uses raise [`QaFlag::RepeatedToolErrors`] (0: never).
    pub repeated_tool_errors: u32,
}

impl Default for AssessRules {
    fn default() -> Self {
        Self {
            abandoned_below_secs: 10,
            repeated_tool_errors: 2,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

// ------------------------------------------------------------------------------------ parse

/// Parses a post-call webhook body (after its signature was checked).
pub fn parse(body: &[u8]) -> Result<Event, PayloadError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(PayloadError::NotAnObject);
    }
    let raw: raw::Envelope<'_> =
        serde_json::from_slice(body).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    let kind = match raw.kind {
        raw::Scalar::Str(kind) if !kind.trim().is_empty() => kind,
        _ => return Err(PayloadError::MissingType),
    };
    let event_timestamp = raw.event_timestamp.int();
    let data = raw.data.0.unwrap_or_default();
    let conversation_id = text(data.conversation_id.clone());
    match &*kind {
        TRANSCRIPTION => {
            let id = conversation_id.ok_or(PayloadError::MissingConversationId)?;
            Ok(Event::Transcription(call_facts(id, event_timestamp, data)))
        }
        INITIATION_FAILURE => {
            let id = conversation_id.ok_or(PayloadError::MissingConversationId)?;
            Ok(Event::InitiationFailure(initiation_failure(
                id,
                event_timestamp,
                data,
            )))
        }
        _ => Ok(Event::Ignored {
            kind: kind.into_owned(),
            conversation_id,
        }),
    }
}

/// Non-blank text, owned.
fn text(s: raw::Scalar<'_>) -> Option<String> {
    s.text()
        .filter(|t| !t.trim().is_empty())
        .map(Cow::into_owned)
}

fn initiation_failure(
    conversation_id: String,
    event_timestamp: Option<i64>,
    data: raw::Data<'_>,
) -> InitiationFailure {
    let body = data.metadata.0.and_then(|m| m.body.0).unwrap_or_default();
    InitiationFailure {
        conversation_id,
        agent_id: text(data.agent_id),
        failure_reason: text(data.failure_reason),
        call_sid: text(body.twilio_call_sid).or_else(|| text(body.call_sid)),
        from: text(body.twilio_from).or_else(|| text(body.from_number)),
        to: text(body.twilio_to).or_else(|| text(body.to_number)),
        call_status: text(body.twilio_call_status).or_else(|| text(body.sip_status)),
        sip_status: body
            .twilio_sip_response_code
            .int()
            .or_else(|| body.sip_status_code.int())
            .and_then(|n| u16::try_from(n).ok()),
        event_timestamp,
    }
}

fn call_facts(
    conversation_id: String,
    event_timestamp: Option<i64>,
    data: raw::Data<'_>,
) -> CallFacts {
    let metadata = data.metadata.0.unwrap_or_default();
    let phone = metadata.phone_call.0.unwrap_or_default();
    let vars = data
        .conversation_initiation_client_data
        .0
        .and_then(|c| c.dynamic_variables.0)
        .unwrap_or_default();
    let analysis = data.analysis.0.unwrap_or_default();
    let mut facts = CallFacts {
        conversation_id,
        agent_id: text(data.agent_id),
        status: text(data.status),
        event_timestamp,
        call_sid: text(phone.call_sid).or_else(|| text(vars.call_sid)),
        direction: text(phone.direction),
        caller: text(phone.external_number).or_else(|| text(vars.caller_id)),
        called: text(phone.agent_number).or_else(|| text(vars.called_number)),
        started_at: metadata.start_time_unix_secs.int(),
        duration_secs: metadata.call_duration_secs.int().map(clamp_u32),
        termination_reason: text(metadata.termination_reason),
        error: metadata.error.0.and_then(|e| {
            let error = CallError {
                code: e.code.int(),
                reason: text(e.reason),
            };
            (error != CallError::default()).then_some(error)
        }),
        main_language: text(metadata.main_language),
        call_successful: text(analysis.call_successful).map(|s| s.trim().to_ascii_lowercase()),
        summary: text(analysis.transcript_summary),
        summary_title: text(analysis.call_summary_title),
        ..CallFacts::default()
    };

    let mut evaluations: Vec<(Option<Cow<'_, str>>, raw::Evaluation<'_>)> = analysis
        .evaluation_criteria_results
        .0
        .into_iter()
        .map(|(k, v)| (Some(k), v))
        .collect();
    if evaluations.is_empty() {
        evaluations = analysis
            .evaluation_criteria_results_list
            .0
            .into_iter()
            .map(|v| (None, v))
            .collect();
    }
    facts.evaluations = evaluations
        .into_iter()
        .filter_map(|(key, e)| {
            let id = text(e.criteria_id).or_else(|| key.map(Cow::into_owned))?;
            Some(Evaluation {
                id,
                result: text(e.result)
                    .map(|r| r.trim().to_ascii_lowercase())
                    .unwrap_or_else(|| "unknown".into()),
                rationale: text(e.rationale),
                score: e.score.float(),
                max_score: e.max_score.float(),
            })
        })
        .collect();

    let mut collected: Vec<(Option<Cow<'_, str>>, raw::Collected<'_>)> = analysis
        .data_collection_results
        .0
        .into_iter()
        .map(|(k, v)| (Some(k), v))
        .collect();
    if collected.is_empty() {
        collected = analysis
            .data_collection_results_list
            .0
            .into_iter()
            .map(|v| (None, v))
            .collect();
    }
    for (key, c) in collected {
        let Some(id) = text(c.data_collection_id).or_else(|| key.map(Cow::into_owned)) else {
            continue;
        };
        if !c.value.is_null() {
            facts.data.insert(id, c.value);
        }
    }

    transcript(&mut facts, data.transcript.0);
    facts
}

fn clamp_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// A tool call being joined with its result.
struct Call<'a> {
    name: Cow<'a, str>,
    kind: Option<Cow<'a, str>>,
    request_id: Option<Cow<'a, str>>,
    params: Option<Cow<'a, str>>,
    result: Option<raw::ToolResult<'a>>,
}

fn transcript<'a>(facts: &mut CallFacts, turns: Vec<raw::Turn<'a>>) {
    let mut calls: Vec<Call<'a>> = Vec::new();
    // Request id → index in `calls`, for calls still waiting for their result.
    let mut open: HashMap<Cow<'a, str>, usize> = HashMap::new();
    for turn in turns {
        let role = turn.role.text();
        if turn.message.0 {
            match role.as_deref().map(str::trim) {
                Some(r) if r.eq_ignore_ascii_case("user") => facts.user_turns += 1,
                Some(r) if r.eq_ignore_ascii_case("agent") => facts.agent_turns += 1,
                _ => {}
            }
        }
        if let Some(t) = turn.time_in_call_secs.int() {
            let t = clamp_u32(t);
            facts.last_turn_secs = Some(facts.last_turn_secs.map_or(t, |l| l.max(t)));
        }
        for call in turn.tool_calls.0 {
            let request_id = non_blank(call.request_id.text());
            let name = non_blank(call.tool_name.text()).unwrap_or(Cow::Borrowed(""));
            if let Some(id) = &request_id {
                open.insert(id.clone(), calls.len());
            }
            calls.push(Call {
                name,
                kind: non_blank(call.kind.text()),
                request_id,
                params: non_blank(call.params_as_json.text()),
                result: None,
            });
        }
        for mut result in turn.tool_results.0 {
            let request_id = non_blank(std::mem::take(&mut result.request_id).text());
            let name = non_blank(std::mem::take(&mut result.tool_name).text())
                .unwrap_or(Cow::Borrowed(""));
            let index = request_id
                .as_ref()
                .and_then(|id| open.remove(id))
                .filter(|&i| calls[i].result.is_none())
                .or_else(|| {
                    calls
                        .iter()
                        .position(|c| c.result.is_none() && c.name == name)
                });
            match index {
                Some(i) => calls[i].result = Some(result),
                None => calls.push(Call {
                    name,
                    kind: non_blank(result.kind.clone().text()),
                    request_id,
                    params: None,
                    result: Some(result),
                }),
            }
        }
    }

    for call in calls {
        let mut tool = ToolUse {
            name: call.name.clone().into_owned(),
            kind: call
                .kind
                .as_deref()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase(),
            request_id: call.request_id.as_deref().unwrap_or("").to_owned(),
            ok: false,
            error: None,
            latency_ms: None,
        };
        let booking_tool = booking_tool(&call.name);
        match call.result {
            None => tool.error = Some(NO_RESULT.into()),
            Some(result) => {
                tool.latency_ms = result
                    .tool_latency_secs
                    .float()
                    .filter(|s| *s >= 0.0)
                    .map(|s| (s * 1000.0).round().min(f64::from(u32::MAX)) as u32);
                if tool.kind.is_empty() {
                    tool.kind = result
                        .kind
                        .text()
                        .as_deref()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase();
                }
                if result.is_error.flag() == Some(true) {
                    tool.error = Some(
                        text(result.error_type)
                            .map(|e| e.trim().to_owned())
                            .unwrap_or_else(|| TOOL_ERROR.into()),
                    );
                } else {
                    let value = result.result_value.text();
                    let object = value.as_deref().filter(|v| v.trim_start().starts_with('{'));
                    let (ok, error, booking) = match (object, booking_tool) {
                        (Some(v), Some(which)) => booking_answer(v, which),
                        (Some(v), None) => {
                            let (ok, error) = verdict(v);
                            (ok, error, None)
                        }
                        (None, _) => (true, None, None),
                    };
                    tool.ok = ok;
                    tool.error = error;
                    if let Some(fact) = booking
                        && !facts.booking_actions.contains(&fact)
                    {
                        facts.booking_actions.push(fact);
                    }
                }
            }
        }
        system_tool(facts, &call.name, call.params.as_deref(), &tool);
        facts.tools.push(tool);
    }
    facts.booking = facts.booking_actions.last().cloned();
}

fn non_blank(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    s.filter(|s| !s.trim().is_empty())
}

/// Effects of the system tools (and a webhook `transfer_call`) on the facts.
fn system_tool(facts: &mut CallFacts, name: &str, params: Option<&str>, tool: &ToolUse) {
    let name = name.trim();
    let transfer = name.eq_ignore_ascii_case("transfer_to_number")
        || name.eq_ignore_ascii_case("transfer_to_agent")
        || is_tool(name, "transfer_call");
    if transfer {
        // A transfer that failed did not escalate the call (its failure asks for follow-up).
        if tool.failed() {
            return;
        }
        let params: raw::TransferParams<'_> = params.map(parse_params).unwrap_or_default();
        facts.transfer = Some(Transfer {
            tool: name.to_owned(),
            number: text(params.transfer_number)
                .or_else(|| text(params.agent_number))
                .or_else(|| text(params.phone_number))
                .or_else(|| text(params.number)),
            reason: text(params.reason),
        });
    } else if name.eq_ignore_ascii_case("voicemail_detection") {
        facts.voicemail_detected = true;
    } else if name.eq_ignore_ascii_case("end_call") {
        let params: raw::TransferParams<'_> = params.map(parse_params).unwrap_or_default();
        if let Some(reason) = text(params.reason) {
            facts.end_call_reason = Some(reason);
        }
    }
}

/// Parses a JSON object in a string leniently; anything else gives the default.
fn parse_params<'a, T: Deserialize<'a> + Default>(json: &'a str) -> T {
    serde_json::from_str::<raw::Obj<T>>(json)
        .ok()
        .and_then(|o| o.0)
        .unwrap_or_default()
}

/// `name` is `base`, or ends with it, or is `base` followed by `_` or `-` and a suffix
/// (ASCII case-insensitive): `create_booking`, `frontdesk_create_booking`, `create_booking_v2`.
fn is_tool(name: &str, base: &str) -> bool {
    let (n, b) = (name.as_bytes(), base.as_bytes());
    if n.len() < b.len() {
        return false;
    }
    n[n.len() - b.len()..].eq_ignore_ascii_case(b)
        || (n[..b.len()].eq_ignore_ascii_case(b) && matches!(n.get(b.len()), Some(b'_' | b'-')))
}

#[derive(Clone, Copy)]
enum BookingTool {
    Create,
    Update,
}

fn booking_tool(name: &str) -> Option<BookingTool> {
    let name = name.trim();
    if is_tool(name, "create_booking") {
        Some(BookingTool::Create)
    } else if is_tool(name, "update_booking") {
        Some(BookingTool::Update)
    } else {
        None
    }
}

/// `ok` and `error` of a JSON object answer: ok unless `"ok": false`.
fn verdict(json: &str) -> (bool, Option<String>) {
    match serde_json::from_str::<raw::Verdict<'_>>(json) {
        Ok(v) => verdict_of(v.ok, v.error),
        Err(_) => (true, None),
    }
}

fn verdict_of(ok: raw::Scalar<'_>, error: raw::Scalar<'_>) -> (bool, Option<String>) {
    if ok.flag() == Some(false) {
        (
            false,
            Some(
                text(error)
                    .map(|e| e.trim().to_owned())
                    .unwrap_or_else(|| UNKNOWN_ERROR.into()),
            ),
        )
    } else {
        (true, None)
    }
}

/// A booking tool's answer: its verdict and, when ok, what it did.
///
/// `update_booking` answers `{"ok": true, "unchanged": true, ...}` when asked to move a
/// booking to where it already is: no action.
fn booking_answer(json: &str, which: BookingTool) -> (bool, Option<String>, Option<BookingFact>) {
    let Ok(answer) = serde_json::from_str::<raw::BookingAnswer<'_>>(json) else {
        return (true, None, None);
    };
    let (ok, error) = verdict_of(answer.ok, answer.error);
    if !ok || answer.unchanged.flag() == Some(true) {
        return (ok, error, None);
    }
    let Some(b) = answer.booking.0 else {
        return (ok, error, None);
    };
    let Some(booking_id) = text(b.booking_id) else {
        return (ok, error, None);
    };
    let cancelled = b
        .status
        .text()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("cancelled"));
    let action = match (cancelled, which) {
        (true, _) => BookingAction::Cancelled,
        (false, BookingTool::Create) => BookingAction::Booked,
        (false, BookingTool::Update) => BookingAction::Rescheduled,
    };
    let fact = BookingFact {
        action,
        booking_id,
        service_name: text(b.service_name),
        staff_name: text(b.staff_name),
        start: text(b.start),
        customer_name: text(b.customer_name),
        customer_phone: text(b.customer_phone),
    };
    (ok, error, Some(fact))
}

// ----------------------------------------------------------------------------------- assess

/// The disposition, its reasons and the QA flags of a call (precedence in the module docs).
pub fn assess(facts: &CallFacts, rules: &AssessRules) -> Assessment {
    let (disposition, reasons) = disposition(facts, rules);
    Assessment {
        disposition,
        reasons,
        flags: qa_flags(facts, rules),
    }
}

/// The text message a disposition calls for, if any.
pub fn sms_kind(d: Disposition) -> Option<MessageKind> {
    match d {
        Disposition::Booked => Some(MessageKind::BookingConfirmation),
        Disposition::Rescheduled => Some(MessageKind::BookingRescheduled),
        Disposition::Cancelled => Some(MessageKind::BookingCancelled),
        Disposition::InfoOnly => Some(MessageKind::InfoRecap),
        Disposition::FollowUpNeeded => Some(MessageKind::FollowUp),
        Disposition::Escalated | Disposition::Voicemail | Disposition::Abandoned => None,
    }
}

/// The text message a call calls for: [`sms_kind`] of its disposition, except that a caller
/// who left us a voicemail gets [`MessageKind::VoicemailRecap`].
pub fn message_kind(facts: &CallFacts, d: Disposition) -> Option<MessageKind> {
    match d {
        Disposition::Voicemail if facts.voicemail.is_some() => Some(MessageKind::VoicemailRecap),
        d => sms_kind(d),
    }
}

fn disposition(f: &CallFacts, rules: &AssessRules) -> (Disposition, Vec<String>) {
    // 0. A message left in our voicemail.
    if let Some(vm) = &f.voicemail {
        let mut reason = "the caller left a voicemail".to_owned();
        if let Some(secs) = vm.duration_secs {
            reason.push_str(&format!(" ({secs} s)"));
        }
        return (Disposition::Voicemail, vec![reason]);
    }
    // 1. Voicemail.
    if f.voicemail_detected {
        return (Disposition::Voicemail, vec!["voicemail detected".into()]);
    }
    if let Some(reason) = &f.termination_reason
        && reason.to_ascii_lowercase().contains("voicemail")
    {
        return (
            Disposition::Voicemail,
            vec![format!("termination reason: {reason}")],
        );
    }

    // 2. Abandoned.
    if f.user_turns == 0 {
        return (
            Disposition::Abandoned,
            vec!["the caller never spoke".into()],
        );
    }
    if let Some(secs) = f.duration_secs.or(f.last_turn_secs)
        && secs < rules.abandoned_below_secs
        && f.tools.is_empty()
    {
        return (
            Disposition::Abandoned,
            vec![format!(
                "call lasted {secs} s (under {} s) without tool use",
                rules.abandoned_below_secs
            )],
        );
    }

    let follow_up = follow_up_signals(f);
    let also = |mut reasons: Vec<String>| {
        reasons.extend(follow_up.iter().map(|s| format!("also: {s}")));
        reasons
    };

    // 3. Escalated.
    if let Some(t) = &f.transfer {
        let mut reason = format!("transferred with {}", t.tool);
        if let Some(number) = &t.number {
            reason.push_str(&format!(" to {number}"));
        }
        let mut reasons = vec![reason];
        if let Some(why) = &t.reason {
            reasons.push(format!("transfer reason: {why}"));
        }
        if let Some(b) = &f.booking {
            reasons.push(format!(
                "booking {} was {} before",
                b.booking_id,
                action_word(b.action)
            ));
        }
        return (Disposition::Escalated, also(reasons));
    }

    // 4. The last booking action.
    if let Some(b) = &f.booking {
        let disposition = match b.action {
            BookingAction::Booked => Disposition::Booked,
            BookingAction::Rescheduled => Disposition::Rescheduled,
            BookingAction::Cancelled => Disposition::Cancelled,
        };
        let mut reason = format!("{} {}", action_word(b.action), b.booking_id);
        let detail: Vec<&str> = [b.service_name.as_deref(), b.start.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !detail.is_empty() {
            reason.push_str(&format!(" ({})", detail.join(", ")));
        }
        let mut reasons = vec![reason];
        let earlier: Vec<String> = f.booking_actions[..f.booking_actions.len().saturating_sub(1)]
            .iter()
            .map(|a| format!("{} {}", action_word(a.action), a.booking_id))
            .collect();
        if !earlier.is_empty() {
            reasons.push(format!("earlier in the call: {}", earlier.join(", ")));
        }
        return (disposition, also(reasons));
    }

    // 5. Follow-up.
    if !follow_up.is_empty() {
        return (Disposition::FollowUpNeeded, follow_up);
    }

    // 6. Information only.
    (
        Disposition::InfoOnly,
        vec!["no booking, transfer or follow-up needed".into()],
    )
}

fn action_word(a: BookingAction) -> &'static str {
    match a {
        BookingAction::Booked => "booked",
        BookingAction::Rescheduled => "rescheduled",
        BookingAction::Cancelled => "cancelled",
    }
}

/// Data-collection keys containing one of these ask for a callback when their value is truthy.
const CALLBACK_KEYS: [&str; 5] = [
    "callback",
    "call_back",
    "follow_up",
    "follow-up",
    "followup",
];

/// Why someone should get back to the caller (empty: no need).
fn follow_up_signals(f: &CallFacts) -> Vec<String> {
    let mut signals = Vec::new();
    if f.call_successful.as_deref() == Some("failure") {
        signals.push("ElevenLabs rated the call unsuccessful".into());
    }
    for t in &f.tools {
        if t.failed() && !t.expected_failure() {
            signals.push(format!(
                "tool {} failed: {}",
                t.name,
                t.error.as_deref().unwrap_or(UNKNOWN_ERROR)
            ));
        }
    }
    for (key, value) in &f.data {
        let k = key.to_ascii_lowercase();
        if CALLBACK_KEYS.iter().any(|w| k.contains(w)) && truthy(value) {
            signals.push(format!("callback requested ({key})"));
        } else if (k.contains("unresolved") && truthy(value))
            || (k.contains("resolved") && !k.contains("unresolved") && falsy(value))
        {
            signals.push(format!("request unresolved ({key})"));
        }
    }
    for e in &f.evaluations {
        if e.id.to_ascii_lowercase().contains("resolved") && e.result == "failure" {
            signals.push(format!("request unresolved (evaluation {})", e.id));
        }
    }
    signals
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "yes" | "y" | "true" | "1" | "requested" | "required" | "needed"
        ),
        _ => false,
    }
}

fn falsy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !*b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "no" | "n" | "false" | "0"
        ),
        _ => false,
    }
}

fn qa_flags(f: &CallFacts, rules: &AssessRules) -> Vec<QaFlag> {
    let mut flags = Vec::new();
    if f.call_successful.as_deref() == Some("failure") {
        flags.push(QaFlag::CallUnsuccessful);
    }
    let failed: Vec<String> = f
        .evaluations
        .iter()
        .filter(|e| e.result == "failure")
        .map(|e| e.id.clone())
        .collect();
    if !failed.is_empty() {
        flags.push(QaFlag::FailedEvaluation { criteria: failed });
    }
    if negative_sentiment(f) {
        flags.push(QaFlag::NegativeSentiment);
    }
    let errors = f.tools.iter().filter(|t| t.failed()).count();
    let errors = u32::try_from(errors).unwrap_or(u32::MAX);
    if rules.repeated_tool_errors > 0 && errors >= rules.repeated_tool_errors {
        flags.push(QaFlag::RepeatedToolErrors { count: errors });
    }
    flags
}

fn negative_sentiment(f: &CallFacts) -> bool {
    let data = f.data.iter().any(|(key, value)| {
        let k = key.to_ascii_lowercase();
        if !k.contains("sentiment") {
            return false;
        }
        match value {
            Value::String(s) => s.to_ascii_lowercase().contains("negative"),
            Value::Number(n) => {
                let Some(x) = n.as_f64() else { return false };
                let score_key = k.contains("score") || k.contains("rating");
                if score_key && x.fract() == 0.0 && (1.0..=5.0).contains(&x) {
                    x <= 2.0
                } else {
                    x <= -0.3
                }
            }
            _ => false,
        }
    });
    let evaluation = f.evaluations.iter().any(|e| {
        if !e.id.to_ascii_lowercase().contains("sentiment") {
            return false;
        }
        match (e.score, e.max_score) {
            (Some(score), Some(max)) if max > 0.0 => score / max <= 0.4,
            _ => e.result == "failure",
        }
    });
    data || evaluation
}

// -------------------------------------------------------------------------- raw structures

/// The webhook body as read: borrowed where possible, lenient everywhere, and blind to what
/// we don't keep.
mod raw {
    use super::*;

    /// A JSON leaf, leniently: strings borrowed when unescaped; arrays, objects and null read
    /// (and skipped) as `Absent`.
    #[derive(Clone, Debug, Default)]
    pub(super) enum Scalar<'a> {
        #[default]
        Absent,
        Bool(bool),
        Int(i64),
        Uint(u64),
        Float(f64),
        Str(Cow<'a, str>),
    }

    impl<'a> Scalar<'a> {
        /// Strings as they are, numbers as decimal text.
        pub(super) fn text(self) -> Option<Cow<'a, str>> {
            match self {
                Scalar::Str(s) => Some(s),
                Scalar::Int(n) => Some(Cow::Owned(n.to_string())),
                Scalar::Uint(n) => Some(Cow::Owned(n.to_string())),
                Scalar::Float(x) => Some(Cow::Owned(x.to_string())),
                Scalar::Absent | Scalar::Bool(_) => None,
            }
        }

        /// Integers, finite floats (truncated) and numeric strings.
        pub(super) fn int(&self) -> Option<i64> {
            match self {
                Scalar::Int(n) => Some(*n),
                Scalar::Uint(n) => i64::try_from(*n).ok(),
                Scalar::Float(x) => float_to_int(*x),
                Scalar::Str(s) => {
                    let s = s.trim();
                    s.parse::<i64>()
                        .ok()
                        .or_else(|| s.parse::<f64>().ok().and_then(float_to_int))
                }
                Scalar::Absent | Scalar::Bool(_) => None,
            }
        }

        /// Finite numbers and numeric strings.
        pub(super) fn float(&self) -> Option<f64> {
            let x = match self {
                Scalar::Int(n) => *n as f64,
                Scalar::Uint(n) => *n as f64,
                Scalar::Float(x) => *x,
                Scalar::Str(s) => s.trim().parse::<f64>().ok()?,
                Scalar::Absent | Scalar::Bool(_) => return None,
            };
            x.is_finite().then_some(x)
        }

        /// Booleans and the strings `true` / `false`.
        pub(super) fn flag(&self) -> Option<bool> {
            match self {
                Scalar::Bool(b) => Some(*b),
                Scalar::Str(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
                Scalar::Str(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            }
        }
    }

    fn float_to_int(x: f64) -> Option<i64> {
        (x.is_finite() && x >= i64::MIN as f64 && x < i64::MAX as f64).then_some(x as i64)
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ScalarVisitor(PhantomData))
        }
    }

    struct ScalarVisitor<'a>(PhantomData<Scalar<'a>>);

    impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
        type Value = Scalar<'a>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Scalar::Bool(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Scalar::Int(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Scalar::Uint(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Scalar::Float(v))
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Scalar::Str(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Scalar::Str(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Scalar::Str(Cow::Owned(v)))
        }
        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
            Ok(Scalar::Absent)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Scalar::Absent)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Scalar::Absent)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_seq(seq)?;
            Ok(Scalar::Absent)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_map(map)?;
            Ok(Scalar::Absent)
        }
    }

    /// Implements the visitor methods that yield `$empty` (the JSON value is not the expected
    /// kind); `seq` / `map` also skip arrays / objects.
    macro_rules! otherwise {
        ($empty:expr $(, $rest:ident)*) => {
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok($empty)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok($empty)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok($empty)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok($empty)
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
                Ok($empty)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok($empty)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok($empty)
            }
            $(otherwise!(@$rest $empty);)*
        };
        (@str $empty:expr) => {
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok($empty)
            }
        };
        (@seq $empty:expr) => {
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_seq(seq)?;
                Ok($empty)
            }
        };
        (@map $empty:expr) => {
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                IgnoredAny.visit_map(map)?;
                Ok($empty)
            }
        };
    }

    /// Whether a string is non-blank, without keeping it (anything else: false).
    #[derive(Default)]
    pub(super) struct NonBlank(pub(super) bool);

    impl<'de> Deserialize<'de> for NonBlank {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(NonBlankVisitor)
        }
    }

    struct NonBlankVisitor;

    impl<'de> Visitor<'de> for NonBlankVisitor {
        type Value = NonBlank;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(NonBlank(!v.trim().is_empty()))
        }
        otherwise!(NonBlank(false), seq, map);
    }

    /// A JSON object read as `T`; any other JSON value as `None`.
    pub(super) struct Obj<T>(pub(super) Option<T>);

    impl<T> Default for Obj<T> {
        fn default() -> Self {
            Obj(None)
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ObjVisitor(PhantomData))
        }
    }

    struct ObjVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
        type Value = Obj<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
        }
        otherwise!(Obj(None), str, seq);
    }

    /// A JSON array of objects read as `T` (other elements dropped); any other value as empty.
    pub(super) struct List<T>(pub(super) Vec<T>);

    impl<T> Default for List<T> {
        fn default() -> Self {
            List(Vec::new())
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ListVisitor(PhantomData))
        }
    }

    struct ListVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
        type Value = List<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
            while let Some(Obj(item)) = seq.next_element::<Obj<T>>()? {
                items.extend(item);
            }
            Ok(List(items))
        }
        otherwise!(List(Vec::new()), str, map);
    }

    /// A JSON object of objects read as `(key, T)` pairs in order (other values dropped); any
    /// other value as empty.
    pub(super) struct Entries<'a, T>(pub(super) Vec<(Cow<'a, str>, T)>);

    impl<T> Default for Entries<'_, T> {
        fn default() -> Self {
            Entries(Vec::new())
        }
    }

    impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for Entries<'a, T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(EntriesVisitor(PhantomData))
        }
    }

    struct EntriesVisitor<'a, T>(PhantomData<(Cow<'a, str>, T)>);

    impl<'de: 'a, 'a, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<'a, T> {
        type Value = Entries<'a, T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some(key) = map.next_key::<Scalar<'a>>()? {
                let Obj(value) = map.next_value::<Obj<T>>()?;
                if let (Some(key), Some(value)) = (key.text(), value) {
                    entries.push((key, value));
                }
            }
            Ok(Entries(entries))
        }
        otherwise!(Entries(Vec::new()), str, seq);
    }

    // --- The payload ---

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct Envelope<'a> {
        #[serde(borrow, rename = "type")]
        pub(super) kind: Scalar<'a>,
        #[serde(borrow)]
        pub(super) event_timestamp: Scalar<'a>,
        #[serde(borrow)]
        pub(super) data: Obj<Data<'a>>,
    }

    /// `data` of all event types.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct Data<'a> {
        #[serde(borrow)]
        pub(super) agent_id: Scalar<'a>,
        #[serde(borrow)]
        pub(super) conversation_id: Scalar<'a>,
        #[serde(borrow)]
        pub(super) status: Scalar<'a>,
        #[serde(borrow)]
        pub(super) transcript: List<Turn<'a>>,
        #[serde(borrow)]
        pub(super) metadata: Obj<Metadata<'a>>,
        #[serde(borrow)]
        pub(super) analysis: Obj<Analysis<'a>>,
        #[serde(borrow)]
        pub(super) conversation_initiation_client_data: Obj<ClientData<'a>>,
        /// `call_initiation_failure` only.
        #[serde(borrow)]
        pub(super) failure_reason: Scalar<'a>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct Turn<'a> {
        #[serde(borrow)]
        pub(super) role: Scalar<'a>,
        pub(super) message: NonBlank,
        #[serde(borrow)]
        pub(super) time_in_call_secs: Scalar<'a>,
        #[serde(borrow)]
        pub(super) tool_calls: List<ToolCall<'a>>,
        #[serde(borrow)]
        pub(super) tool_results: List<ToolResult<'a>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct ToolCall<'a> {
        #[serde(borrow, rename = "type")]
        pub(super) kind: Scalar<'a>,
        #[serde(borrow)]
        pub(super) request_id: Scalar<'a>,
        #[serde(borrow)]
        pub(super) tool_name: Scalar<'a>,
        #[serde(borrow)]
        pub(super) params_as_json: Scalar<'a>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct ToolResult<'a> {
        #[serde(borrow, rename = "type")]
        pub(super) kind: Scalar<'a>,
        #[serde(borrow)]
        pub(super) request_id: Scalar<'a>,
        #[serde(borrow)]
        pub(super) tool_name: Scalar<'a>,
        #[serde(borrow)]
        pub(super) result_value: Scalar<'a>,
        #[serde(borrow)]
        pub(super) is_error: Scalar<'a>,
        #[serde(borrow)]
        pub(super) error_type: Scalar<'a>,
        #[serde(borrow)]
        pub(super) tool_latency_secs: Scalar<'a>,
    }

    /// `metadata` of a transcription or of an initiation failure.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct Metadata<'a> {
        #[serde(borrow)]
        pub(super) start_time_unix_secs: Scalar<'a>,
        #[serde(borrow)]
        pub(super) call_duration_secs: Scalar<'a>,
        #[serde(borrow)]
        pub(super) termination_reason: Scalar<'a>,
        #[serde(borrow)]
        pub(super) error: Obj<MetadataError<'a>>,
        #[serde(borrow)]
        pub(super) main_language: Scalar<'a>,
        #[serde(borrow)]
        pub(super) phone_call: Obj<PhoneCall<'a>>,
        /// `call_initiation_failure` only.
        #[serde(borrow)]
        pub(super) body: Obj<InitiationBody<'a>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct MetadataError<'a> {
        #[serde(borrow)]
        pub(super) code: Scalar<'a>,
        #[serde(borrow)]
        pub(super) reason: Scalar<'a>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct PhoneCall<'a> {
        #[serde(borrow)]
        pub(super) direction: Scalar<'a>,
        #[serde(borrow)]
        pub(super) agent_number: Scalar<'a>,
        #[serde(borrow)]
        pub(super) external_number: Scalar<'a>,
        #[serde(borrow)]
        pub(super) call_sid: Scalar<'a>,
    }

    /// `metadata.body` of an initiation failure: Twilio's status callback or the SIP one.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct InitiationBody<'a> {
        #[serde(borrow, rename = "CallSid")]
        pub(super) twilio_call_sid: Scalar<'a>,
        #[serde(borrow, rename = "From")]
        pub(super) twilio_from: Scalar<'a>,
        #[serde(borrow, rename = "To")]
        pub(super) twilio_to: Scalar<'a>,
        #[serde(borrow, rename = "CallStatus")]
        pub(super) twilio_call_status: Scalar<'a>,
        #[serde(borrow, rename = "SipResponseCode")]
        pub(super) twilio_sip_response_code: Scalar<'a>,
        #[serde(borrow)]
        pub(super) call_sid: Scalar<'a>,
        #[serde(borrow)]
        pub(super) from_number: Scalar<'a>,
        #[serde(borrow)]
        pub(super) to_number: Scalar<'a>,
        #[serde(borrow)]
        pub(super) sip_status: Scalar<'a>,
        #[serde(borrow)]
        pub(super) sip_status_code: Scalar<'a>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct Analysis<'a> {
        #[serde(borrow)]
        pub(super) call_successful: Scalar<'a>,
        #[serde(borrow)]
        pub(super) transcript_summary: Scalar<'a>,
        #[serde(borrow)]
        pub(super) call_summary_title: Scalar<'a>,
        #[serde(borrow)]
        pub(super) evaluation_criteria_results: Entries<'a, Evaluation<'a>>,
        #[serde(borrow)]
        pub(super) evaluation_criteria_results_list: List<Evaluation<'a>>,
        #[serde(borrow)]
        pub(super) data_collection_results: Entries<'a, Collected<'a>>,
        #[serde(borrow)]
        pub(super) data_collection_results_list: List<Collected<'a>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct Evaluation<'a> {
        #[serde(borrow)]
        pub(super) criteria_id: Scalar<'a>,
        #[serde(borrow)]
        pub(super) result: Scalar<'a>,
        #[serde(borrow)]
        pub(super) rationale: Scalar<'a>,
        #[serde(borrow)]
        pub(super) score: Scalar<'a>,
        #[serde(borrow)]
        pub(super) max_score: Scalar<'a>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct Collected<'a> {
        #[serde(borrow)]
        pub(super) data_collection_id: Scalar<'a>,
        pub(super) value: Value,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct ClientData<'a> {
        #[serde(borrow)]
        pub(super) dynamic_variables: Obj<DynamicVariables<'a>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct DynamicVariables<'a> {
        #[serde(borrow, rename = "system__caller_id")]
        pub(super) caller_id: Scalar<'a>,
        #[serde(borrow, rename = "system__called_number")]
        pub(super) called_number: Scalar<'a>,
        #[serde(borrow, rename = "system__call_sid")]
        pub(super) call_sid: Scalar<'a>,
    }

    // --- Inside strings ---

    /// `ok` / `error` of any tool's JSON object answer.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct Verdict<'a> {
        #[serde(borrow)]
        pub(super) ok: Scalar<'a>,
        #[serde(borrow)]
        pub(super) error: Scalar<'a>,
    }

    /// The answer of `create_booking` / `update_booking`.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct BookingAnswer<'a> {
        #[serde(borrow)]
        pub(super) ok: Scalar<'a>,
        #[serde(borrow)]
        pub(super) error: Scalar<'a>,
        #[serde(borrow)]
        pub(super) booking: Obj<Booking<'a>>,
        #[serde(borrow)]
        pub(super) unchanged: Scalar<'a>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct Booking<'a> {
        #[serde(borrow)]
        pub(super) booking_id: Scalar<'a>,
        #[serde(borrow)]
        pub(super) status: Scalar<'a>,
        #[serde(borrow)]
        pub(super) service_name: Scalar<'a>,
        #[serde(borrow)]
        pub(super) staff_name: Scalar<'a>,
        #[serde(borrow)]
        pub(super) start: Scalar<'a>,
        #[serde(borrow)]
        pub(super) customer_name: Scalar<'a>,
        #[serde(borrow)]
        pub(super) customer_phone: Scalar<'a>,
    }

    /// Parameters of the transfer tools and of `end_call`.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    pub(super) struct TransferParams<'a> {
        #[serde(borrow)]
        pub(super) transfer_number: Scalar<'a>,
        #[serde(borrow)]
        pub(super) agent_number: Scalar<'a>,
        #[serde(borrow)]
        pub(super) phone_number: Scalar<'a>,
        #[serde(borrow)]
        pub(super) number: Scalar<'a>,
        #[serde(borrow)]
        pub(super) reason: Scalar<'a>,
    }
}

#[cfg(test)]
mod tests;
