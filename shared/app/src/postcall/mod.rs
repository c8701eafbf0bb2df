//! The post-call pipeline: a verified ElevenLabs webhook becomes a call record, then, through
//! SQS, a disposition (`postcall-process`), a CRM activity (`crm-sync`), a text to the caller
//! (`sms-send`) and daily counters (`analytics`). Every stage is idempotent on (call, stage).
//!
//! - [`webhook`]: the `postcall-webhook` HTTP handler and the outbox sweep.
//! - [`stages`]: the four SQS consumers.
//! - [`sms_webhooks`]: Twilio's status callbacks and inbound texts.
//! - [`dynamodb`]: the DynamoDB adapter of the traits below.
//!
//! Design and operations: docs/postcall.md.

pub mod dynamodb;
pub mod sms_webhooks;
pub mod stages;
pub mod webhook;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use frontdesk_rules::postcall::{Assessment, CallFacts, InitiationFailure};
use serde::{Deserialize, Serialize};

use crate::queue::Job;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Invalid(String),
}

/// A stored call: the compact facts of the webhook plus what the stages added.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CallRecord {
    pub business_id: String,
    pub call_id: String,
    pub facts: CallFacts,
    pub received_at: DateTime<Utc>,
    /// The caller's number, E.164, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_url: Option<String>,
    /// The public base URL the webhook arrived on (`PUBLIC_BASE_URL`, else the API's own
    /// domain): Twilio's status callbacks for this call's text go under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment: Option<Assessment>,
    /// What the agent logged with the `log_call` tool during the call, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_disposition: Option<String>,
    /// The transfer the `transfer_call` tool made during the call, with its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_request: Option<TransferNote>,
}

/// A transfer made by the `transfer_call` tool (register-call mode).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TransferNote {
    pub number: String,
    pub reason: String,
    pub call_sid: String,
    pub at: DateTime<Utc>,
}

/// Whether a write happened now or had already happened (a retry or a replay).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Once {
    Fresh,
    AlreadyDone,
}

/// Counters to add to a business's statistics of one local day.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters(pub Vec<(String, i64)>);

impl Counters {
    pub fn add(&mut self, name: impl Into<String>, n: i64) -> &mut Self {
        self.0.push((name.into(), n));
        self
    }
}

/// Calls, the webhook outbox and statistics.
#[async_trait]
pub trait CallStore: Send + Sync {
    /// Stores a verified transcription webhook once per (type, conversation id): the
    /// de-duplication item, the call record, an outbox entry (until the first stage is
    /// enqueued) and the `webhooks_received` counter, in one transaction.
    async fn record_call(&self, call: &CallRecord, day: NaiveDate) -> Result<Once, PipelineError>;

    /// Stores a `call_initiation_failure` once, and counts it.
    async fn record_initiation_failure(
        &self,
        business_id: &str,
        failure: &InitiationFailure,
        received_at: DateTime<Utc>,
        day: NaiveDate,
    ) -> Result<Once, PipelineError>;

    /// The first stage is enqueued: the outbox entry can go.
    async fn clear_outbox(&self, business_id: &str, call_id: &str) -> Result<(), PipelineError>;

    /// Outbox entries received before `before` (oldest first), for the sweep.
    async fn outbox(&self, before: DateTime<Utc>, limit: i32) -> Result<Vec<Job>, PipelineError>;

    async fn call(
        &self,
        business_id: &str,
        call_id: &str,
    ) -> Result<Option<CallRecord>, PipelineError>;

    async fn save_assessment(
        &self,
        business_id: &str,
        call_id: &str,
        assessment: &Assessment,
    ) -> Result<(), PipelineError>;

    /// Adds `counters` to the business's day, exactly once per `(call, marker)`: the marker
    /// item and the counters are written in one transaction.
    async fn count_once(
        &self,
        business_id: &str,
        day: NaiveDate,
        marker: (&str, &str),
        counters: &Counters,
    ) -> Result<Once, PipelineError>;

    /// Adds `counters` without a marker (rejected webhooks: nothing to de-duplicate on).
    async fn count(
        &self,
        business_id: &str,
        day: NaiveDate,
        counters: &Counters,
    ) -> Result<(), PipelineError>;

    /// A business's counters of one day.
    async fn stats(
        &self,
        business_id: &str,
        day: NaiveDate,
    ) -> Result<std::collections::BTreeMap<String, i64>, PipelineError>;
}

/// What the CRM records about a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrmEntry {
    pub call_id: String,
    pub at: DateTime<Utc>,
    /// The caller, E.164; `None` when withheld.
    pub phone: Option<String>,
    pub name: Option<String>,
    pub disposition: String,
    pub summary: Option<String>,
    pub transcript_url: Option<String>,
    pub booking_id: Option<String>,
    /// Why someone has to call back; `Some` creates a follow-up task (when there is no booking).
    pub follow_up: Option<String>,
    pub flags: Vec<String>,
}

/// A CRM. The built-in one lives in DynamoDB; external CRMs come behind the same trait.
#[async_trait]
pub trait Crm: Send + Sync {
    /// Upserts the contact, adds the activity, and appends a note to the booking or creates a
    /// follow-up task; exactly once per call.
    async fn record(&self, business_id: &str, entry: &CrmEntry) -> Result<Once, PipelineError>;

    /// The name the CRM has for a caller, if any (to greet them).
    async fn contact_name(
        &self,
        business_id: &str,
        phone: &str,
    ) -> Result<Option<String>, PipelineError>;
}

/// Where a text of one kind for one call stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmsStatus {
    /// Being sent by the holder of the lease.
    Sending,
    /// Twilio accepted it (later: its delivery status).
    Sent,
    /// Twilio said 429 / 5xx: nothing sent, send again.
    Retry,
    /// The answer was lost: Twilio may or may not have it. Reconciled, never resent blindly.
    Unknown,
    /// Deliberately not sent (reason recorded).
    Skipped,
    /// Twilio refused it for good (error code recorded).
    Failed,
    /// The recipient has opted out (Twilio 21610 or our list).
    OptedOut,
    /// A lost answer that reconciliation could not settle: a person decides.
    Review,
}

/// The record of a text: written before sending, updated with the outcome.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SmsRecord {
    pub kind: String,
    pub status: SmsStatus,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub segments: Option<u32>,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub message_sid: Option<String>,
    /// Twilio's delivery status from status callbacks.
    #[serde(default)]
    pub delivery: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The outcome of trying to take the right to send a text.
#[derive(Clone, Debug, PartialEq)]
pub enum SmsClaim {
    /// Ours to send (first time, or after a `retry`).
    Claimed,
    /// Settled already (sent, skipped, failed, opted out, review).
    Settled(SmsRecord),
    /// Another delivery holds the lease right now.
    Busy,
    /// A previous attempt's outcome is unknown: reconcile (we hold the lease now).
    Reconcile(SmsRecord),
}

/// Texts and opt-outs.
#[async_trait]
pub trait SmsLedger: Send + Sync {
    /// Records the intent to send `record` (status `sending`, leased until `lease_until`)
    /// unless the text of this kind for this call exists in another state.
    async fn claim(
        &self,
        business_id: &str,
        call_id: &str,
        record: &SmsRecord,
        now: DateTime<Utc>,
    ) -> Result<SmsClaim, PipelineError>;

    /// Records the outcome (conditioned on still holding the lease).
    async fn settle(
        &self,
        business_id: &str,
        call_id: &str,
        record: &SmsRecord,
    ) -> Result<(), PipelineError>;

    async fn get(
        &self,
        business_id: &str,
        call_id: &str,
        kind: &str,
    ) -> Result<Option<SmsRecord>, PipelineError>;

    /// Finds a text by Twilio MessageSid: (business, call, record).
    async fn by_message_sid(
        &self,
        sid: &str,
    ) -> Result<Option<(String, String, SmsRecord)>, PipelineError>;

    /// Moves the delivery status forward (never back: callbacks arrive out of order).
    /// Returns whether it changed.
    async fn advance_delivery(
        &self,
        business_id: &str,
        call_id: &str,
        kind: &str,
        status: &str,
        rank: u8,
    ) -> Result<bool, PipelineError>;

    async fn is_opted_out(&self, business_id: &str, phone: &str) -> Result<bool, PipelineError>;

    /// Records an opt-out (`true`) or an opt-in (`false`).
    async fn set_opt_out(
        &self,
        business_id: &str,
        phone: &str,
        opted_out: bool,
        source: &str,
        at: DateTime<Utc>,
    ) -> Result<(), PipelineError>;

    /// Stores an inbound text as a CRM activity.
    async fn inbound_text(
        &self,
        business_id: &str,
        phone: &str,
        message_sid: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<(), PipelineError>;
}

/// Names of the pipeline's stages (queue consumers) and their markers.
pub mod stage {
    pub const PROCESS: &str = "process";
    pub const CRM: &str = "crm";
    pub const SMS: &str = "sms";
    pub const ANALYTICS: &str = "analytics";
}

/// Where a call's transcript can be read: `TRANSCRIPT_URL_TEMPLATE` with
/// `{conversation_id}` (default: the ElevenLabs dashboard's conversation history).
pub fn transcript_url(template: &str, conversation_id: &str) -> String {
    template.replace("{conversation_id}", conversation_id)
}

pub const DEFAULT_TRANSCRIPT_URL_TEMPLATE: &str =
    "https://elevenlabs.io/app/conversational-ai/history/{conversation_id}";
