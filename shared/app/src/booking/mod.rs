//! The native booking backend: bookings, their schedule entries and slot locks, contacts and
//! agent call logs, behind the [`BookingStore`] trait (DynamoDB adapter in [`dynamodb`]).
//!
//! The rules (hours, grid, notice, horizon, closures, caps, the lock plan) are pure and live
//! in `frontdesk_rules::{slots, locks}`; this module only stores their decisions so that they
//! hold under concurrency: every write is one `TransactWriteItems` whose conditions make a
//! double booking, a cap overrun or a duplicated write impossible.

pub mod dynamodb;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use frontdesk_rules::locks::Lock;
use frontdesk_rules::slots::{Busy, Slot};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::idempotency::{IdemError, IdemKey};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Booked,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub name: String,
    /// E.164.
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A booking as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    pub booking_id: String,
    pub business_id: String,
    pub status: BookingStatus,
    pub service_id: String,
    pub service_name: String,
    pub staff_id: String,
    pub staff_name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub occupied_from: DateTime<Utc>,
    pub occupied_to: DateTime<Utc>,
    /// Local date of `start` in the business's zone (daily caps count by it).
    pub local_date: NaiveDate,
    /// The slot locks this booking holds (released exactly as taken, even if the service's
    /// buffers change later).
    #[serde(with = "lock_codec")]
    pub locks: Vec<Lock>,
    pub customer: Customer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incremented on every change; writes are conditional on it.
    pub version: u64,
}

impl Booking {
    pub fn busy(&self) -> Busy {
        Busy {
            booking_id: self.booking_id.clone(),
            staff_id: self.staff_id.clone(),
            start: self.start,
            occupied_from: self.occupied_from,
            occupied_to: self.occupied_to,
        }
    }
}

/// Daily caps in force when writing (from the business's booking rules).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    pub daily: Option<u32>,
    pub staff_daily: Option<u32>,
}

/// Where a booking moves to.
#[derive(Clone, Debug, PartialEq)]
pub struct Move {
    pub slot: Slot,
    pub staff_name: String,
    pub local_date: NaiveDate,
    pub locks: Vec<Lock>,
}

/// A contact write (built-in CRM).
#[derive(Clone, Debug, PartialEq)]
pub struct ContactUpdate {
    pub business_id: String,
    pub customer: Customer,
    pub conversation_id: Option<String>,
}

/// An agent's call log (`log_call`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallLog {
    pub business_id: String,
    pub call_id: String,
    pub disposition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    pub logged_at: DateTime<Utc>,
}

/// The outcome of an idempotent write: done now, or the stored answer of the first run.
#[derive(Clone, Debug, PartialEq)]
pub enum Written {
    Fresh,
    Replayed(Value),
}

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("the slot is taken")]
    SlotTaken,
    #[error("the daily cap of the business is reached")]
    DailyCapReached,
    #[error("the staff member's daily cap is reached")]
    StaffCapReached,
    #[error("booking {0} not found")]
    NotFound(String),
    #[error("booking {0} changed concurrently")]
    Stale(String),
    #[error("booking id {0} already exists")]
    IdTaken(String),
    #[error("the change needs {0} writes, more than one transaction can hold")]
    TooLarge(usize),
    #[error(transparent)]
    Idempotency(#[from] IdemError),
    #[error("booking store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait BookingStore: Send + Sync {
    /// Existing bookings whose occupied span may intersect `[from, to)`.
    async fn busy(
        &self,
        business_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Busy>, BookingError>;

    /// Creates `booking` (status booked) with its locks, schedule entry, cap counters, the
    /// contact upsert and the idempotency record holding `answer`, in one transaction.
    async fn create(
        &self,
        booking: &Booking,
        caps: Caps,
        idem: &IdemKey,
        answer: &Value,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError>;

    /// The stored answer of a completed idempotent write, if one is live.
    async fn completed(
        &self,
        idem: &IdemKey,
        now: DateTime<Utc>,
    ) -> Result<Option<Value>, BookingError>;

    async fn get(
        &self,
        business_id: &str,
        booking_id: &str,
    ) -> Result<Option<Booking>, BookingError>;

    /// Booked appointments of a phone number that have not ended, soonest first.
    async fn upcoming_for_phone(
        &self,
        business_id: &str,
        e164: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Booking>, BookingError>;

    /// Moves `current` (read before, version-checked) to `to`: old locks released and new
    /// ones taken in one transaction.
    async fn reschedule(
        &self,
        current: &Booking,
        to: &Move,
        caps: Caps,
        idem: &IdemKey,
        answer: &Value,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError>;

    async fn cancel(
        &self,
        current: &Booking,
        reason: Option<&str>,
        idem: &IdemKey,
        answer: &Value,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError>;

    async fn upsert_contact(
        &self,
        contact: &ContactUpdate,
        idem: &IdemKey,
        answer: &Value,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError>;

    async fn log_call(
        &self,
        log: &CallLog,
        idem: &IdemKey,
        answer: &Value,
        now: DateTime<Utc>,
    ) -> Result<Written, BookingError>;
}

/// Locks stored as compact strings: `C<ts>` (cell), `B<ts>` (whole block), `S<ts>` (share).
pub mod lock_codec {
    use chrono::{DateTime, Utc};
    use frontdesk_rules::locks::Lock;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn encode(lock: &Lock) -> String {
        let (tag, at) = match lock {
            Lock::Cell(t) => ('C', t),
            Lock::Block(t) => ('B', t),
            Lock::Share(t) => ('S', t),
        };
        format!("{tag}{}", at.timestamp())
    }

    pub fn decode(s: &str) -> Option<Lock> {
        let mut chars = s.chars();
        let tag = chars.next()?;
        let at = DateTime::<Utc>::from_timestamp(chars.as_str().parse().ok()?, 0)?;
        Some(match tag {
            'C' => Lock::Cell(at),
            'B' => Lock::Block(at),
            'S' => Lock::Share(at),
            _ => return None,
        })
    }

    pub fn serialize<S: Serializer>(locks: &[Lock], ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_seq(locks.iter().map(encode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<Lock>, D::Error> {
        Vec::<String>::deserialize(de)?
            .iter()
            .map(|s| decode(s).ok_or_else(|| D::Error::custom(format!("bad lock {s:?}"))))
            .collect()
    }
}

/// A short booking reference a caller can read back: 8 characters of Crockford base32
/// (no I, L, O, U).
pub fn new_booking_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits = uuid::Uuid::new_v4().as_u128();
    (0..8)
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_ids_are_short_and_unambiguous() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_booking_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert_eq!(id.len(), 8);
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            );
            assert!(!id.contains(['I', 'L', 'O', 'U']));
        }
    }
}
