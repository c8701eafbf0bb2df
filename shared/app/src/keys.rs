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

/// Hashes of a business's tool secrets (never the secrets themselves).
pub const TOOL_AUTH_SK: &str = "TOOLAUTH";
