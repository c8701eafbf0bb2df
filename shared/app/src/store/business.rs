//! The business configuration store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use frontdesk_rules::BusinessConfig;
use serde::{Deserialize, Serialize};

/// A business with its configuration and the metadata the API exposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessRecord {
    pub id: String,
    /// Incremented on every write; the ETag is derived from it.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub config: BusinessConfig,
}

/// One page of the business directory.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessPage {
    pub items: Vec<BusinessRecord>,
    /// Opaque cursor for the next page, if any.
    pub next: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StoreError {
    #[error("business {0} already exists")]
    AlreadyExists(String),
    #[error("business {0} not found")]
    NotFound(String),
    /// The stored version is not the one the write was based on.
    #[error("business {0} changed since it was read")]
    VersionMismatch(String),
    /// A phone number already belongs to another business.
    #[error("phone number {number} already belongs to business {owner}")]
    NumberTaken { number: String, owner: String },
    #[error("invalid page cursor")]
    BadCursor,
    /// DynamoDB failed or answered something unexpected.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait BusinessStore: Send + Sync {
    /// Stores a new business and claims its phone numbers, atomically.
    async fn create(&self, record: &BusinessRecord) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<BusinessRecord>, StoreError>;
    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<BusinessPage, StoreError>;
    /// Replaces `previous` (which must still be the stored version) by `next`,
    /// claiming added numbers and releasing removed ones, atomically.
    async fn replace(
        &self,
        previous: &BusinessRecord,
        next: &BusinessRecord,
    ) -> Result<(), StoreError>;
    /// Deletes the business (which must still be at `record.version`) and releases its numbers.
    async fn delete(&self, record: &BusinessRecord) -> Result<(), StoreError>;
    /// The business that owns a phone number (E.164), if any.
    async fn business_for_number(&self, e164: &str) -> Result<Option<String>, StoreError>;
    /// The business and the hashes of its tool secrets, in one round trip (tool calls).
    async fn tool_profile(&self, id: &str) -> Result<Option<ToolProfile>, StoreError>;
    /// Replaces the tool secret hashes of an existing business.
    async fn set_tool_secrets(&self, id: &str, hashes: &[ToolSecretHash])
    -> Result<(), StoreError>;
}

/// The SHA-256 (hex) of one tool secret; a rotated-out secret keeps working until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSecretHash {
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a tool call needs about its business: configuration and tool secret hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolProfile {
    pub business: BusinessRecord,
    pub secrets: Vec<ToolSecretHash>,
}
