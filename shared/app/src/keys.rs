//! Every DynamoDB key the product writes, in one place (docs/data-model.md
//! describes the design). Partition keys lead with the business id, except the
//! phone-number ownership items, which exist to make a number unique across
//! businesses.

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";
pub const GSI1: &str = "GSI1";

/// The business partition.
pub fn business_pk(business_id: &str) -> String {
    format!("BIZ#{business_id}")
}

/// The business configuration item's sort key.
pub const CONFIG_SK: &str = "CONFIG";

/// GSI1 partition listing every business (admin directory).
pub const BUSINESS_DIRECTORY: &str = "BUSINESSES";

/// The ownership item of a phone number: one per number, across all businesses.
pub fn number_pk(e164: &str) -> String {
    format!("NUMBER#{e164}")
}
pub const NUMBER_SK: &str = "OWNER";

/// TTL attribute (epoch seconds); code treats an item past it as absent.
pub const EXPIRES_AT: &str = "expires_at";

/// Fixed-width UTC timestamp used inside sort keys, so that string order is time order.
pub fn ts(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A booking (the full record).
pub fn booking_sk(booking_id: &str) -> String {
    format!("BOOKING#{booking_id}")
}

/// The schedule entry of a booking: sorted by the start of its occupied span, so that
/// availability is one `Query` over a time range.
pub fn schedule_sk(occupied_from: chrono::DateTime<chrono::Utc>, booking_id: &str) -> String {
    format!("SCHED#{}#{booking_id}", ts(occupied_from))
}
pub const SCHEDULE_PREFIX: &str = "SCHED#";

/// Slot-lock partition of one staff member or resource.
pub fn staff_locks_pk(business_id: &str, staff_id: &str) -> String {
    format!("BIZ#{business_id}#STAFF#{staff_id}")
}
pub fn cell_sk(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("CELL#{}", ts(at))
}
pub fn block_sk(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("BLOCK#{}", ts(at))
}

/// Daily booking counters (caps): business-wide and per staff member, by local date.
pub fn cap_sk(date: chrono::NaiveDate) -> String {
    format!("CAP#{date}")
}
pub fn staff_cap_sk(date: chrono::NaiveDate, staff_id: &str) -> String {
    format!("CAP#{date}#STAFF#{staff_id}")
}

/// The built-in CRM contact of a caller.
pub fn contact_sk(e164: &str) -> String {
    format!("CONTACT#{e164}")
}

/// GSI1 partition of everything known about one phone number within a business.
pub fn phone_gsi1pk(business_id: &str, e164: &str) -> String {
    format!("BIZ#{business_id}#PHONE#{e164}")
}

/// The partition of one call (record, stage markers, activities).
pub fn call_pk(business_id: &str, call_id: &str) -> String {
    format!("BIZ#{business_id}#CALL#{call_id}")
}
pub const CALL_SK: &str = "CALL";

/// What we answered Twilio for one step of a call (`ENTRY#inbound`, `ENTRY#agent`,
/// `ENTRY#fallback`), under the call's partition keyed by CallSid.
pub const ENTRY_PREFIX: &str = "ENTRY#";

/// Hashes of a business's tool secrets (never the secrets themselves).
pub const TOOL_AUTH_SK: &str = "TOOLAUTH";

/// GSI2 keys.
pub const GSI2PK: &str = "gsi2pk";
pub const GSI2SK: &str = "gsi2sk";
pub const GSI2: &str = "GSI2";

/// The call record found by ElevenLabs conversation id (GSI1).
pub fn conversation_gsi1pk(conversation_id: &str) -> String {
    format!("CONV#{conversation_id}")
}
/// The call record found by Twilio CallSid (GSI2).
pub fn call_sid_gsi2pk(call_sid: &str) -> String {
    format!("CALLSID#{call_sid}")
}
/// A text message found by Twilio MessageSid (GSI2).
pub fn message_sid_gsi2pk(message_sid: &str) -> String {
    format!("MSGSID#{message_sid}")
}

/// De-duplication of a webhook: one per (type, conversation id).
pub fn webhook_sk(kind: &str, conversation_id: &str) -> String {
    format!("WEBHOOK#{kind}#{conversation_id}")
}

/// The outbox entry of a call whose first stage is not yet known to be enqueued; listed by
/// the sweep through GSI1 (`OUTBOX`, `<received utc>#<business>#<call>`).
pub const OUTBOX_SK: &str = "OUTBOX";
pub const OUTBOX_GSI1PK: &str = "OUTBOX";

/// Marker of a post-call stage done for a call (exactly-once effects).
pub fn stage_sk(stage: &str) -> String {
    format!("STAGE#{stage}")
}

/// The text message of one kind for one call (intent, then outcome).
pub fn sms_sk(kind: &str) -> String {
    format!("SMS#{kind}")
}

/// A caller's opt-out of texts from a business.
pub fn opt_out_sk(e164: &str) -> String {
    format!("OPTOUT#{e164}")
}

/// CRM timeline entry of a contact (or `unknown` when the caller withheld the number).
pub fn activity_sk(e164: Option<&str>, at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("ACTIVITY#{}#{}#{id}", e164.unwrap_or("unknown"), ts(at))
}

/// A follow-up task for the team.
pub fn task_sk(call_id: &str) -> String {
    format!("TASK#{call_id}")
}

/// Daily statistics of a business, by local date.
pub fn stats_sk(date: chrono::NaiveDate) -> String {
    format!("STATS#{date}")
}

/// Statistics no business can be credited with (rejected webhooks).
pub const UNATTRIBUTED_BUSINESS: &str = "_unattributed";

/// Marker of a status callback already counted: (MessageSid, status).
pub fn sms_status_sk(message_sid: &str, status: &str) -> String {
    format!("SMSSTATUS#{message_sid}#{status}")
}
