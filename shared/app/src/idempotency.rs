//! Idempotency of writes, after Powertools for AWS Lambda's design, on the product's table.
//!
//! A record per (business, operation, key): `pk = BIZ#<business>`, `sk = IDEM#<operation>#<key>`,
//! with `status` (`INPROGRESS` | `COMPLETED`), `payload_hash` (SHA-256 of the canonical JSON
//! of the request), the stored `result` of the first successful run, and `expires_at`
//! (epoch seconds). Expiry is judged from the stored timestamps, never from DynamoDB's TTL
//! deleting the item (which is late in AWS and never happens in moto).
//!
//! Two ways to use it:
//! - [`Idempotency::run`]: claim the key (`INPROGRESS`), do the work, store the result
//!   (`COMPLETED`); a failed run deletes its claim so a retry can run again. Three round trips.
//! - [`Idempotency::completed_put`] + [`Idempotency::explain`]: the `COMPLETED` record is
//!   written in the same `TransactWriteItems` as the work itself (bookings do this), so the
//!   happy path costs no extra round trip and a replay is detected by the record's condition;
//!   the cancellation reason carries the stored record (`ReturnValuesOnConditionCheckFailure`).
//!
//! Either way: same key and same payload → the first result is returned again (a replay); same
//! key and another payload → [`IdemError::Conflict`]; a claim still in progress →
//! [`IdemError::InProgress`].

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::keys;

pub const STATUS_IN_PROGRESS: &str = "INPROGRESS";
pub const STATUS_COMPLETED: &str = "COMPLETED";

/// How long a completed record answers replays (24 h) and how long a claim blocks others (60 s).
pub const DEFAULT_TTL_SECONDS: i64 = 24 * 3600;
pub const IN_PROGRESS_SECONDS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum IdemError {
    #[error("idempotency key {key} was already used with a different request")]
    Conflict { key: String },
    #[error("a request with idempotency key {key} is still in progress")]
    InProgress { key: String },
    #[error("idempotency store unavailable: {0}")]
    Unavailable(String),
}

/// The identity of one idempotent write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdemKey {
    pub business_id: String,
    pub operation: String,
    /// Hex SHA-256 of the caller's key material (never the raw key: it may hold a phone number).
    pub key: String,
    /// Hex SHA-256 of the canonical request.
    pub payload_hash: String,
}

impl IdemKey {
    /// Key from explicit material (an `Idempotency-Key`, a conversation id + tool + args hash...).
    pub fn new(business_id: &str, operation: &str, key_material: &str, payload: &Value) -> Self {
        Self {
            business_id: business_id.to_owned(),
            operation: operation.to_owned(),
            key: hex_sha256(key_material.as_bytes()),
            payload_hash: payload_hash(payload),
        }
    }

    /// The default key of a tool write: the conversation, the tool and the arguments, so an
    /// agent repeating a call in the same conversation does not do the work twice. An
    /// explicit key replaces it.
    pub fn for_tool(
        business_id: &str,
        tool: &str,
        conversation_id: Option<&str>,
        explicit: Option<&str>,
        args: &Value,
    ) -> Self {
        let material = match explicit {
            Some(k) => format!("explicit\u{0}{k}"),
            None => format!(
                "{}\u{0}{tool}\u{0}{}",
                conversation_id.unwrap_or(""),
                payload_hash(args)
            ),
        };
        Self::new(business_id, tool, &material, args)
    }

    pub fn sort_key(&self) -> String {
        format!("IDEM#{}#{}", self.operation, self.key)
    }

    fn item_key(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                keys::PK.to_owned(),
                AttributeValue::S(keys::business_pk(&self.business_id)),
            ),
            (keys::SK.to_owned(), AttributeValue::S(self.sort_key())),
        ])
    }
}

/// SHA-256 of the canonical JSON (object keys sorted, no whitespace), hex.
pub fn payload_hash(value: &Value) -> String {
    hex_sha256(canonical_json(value).as_bytes())
}

fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(canonical_json)
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A stored record, as read back from a condition failure or a get.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub status: String,
    pub payload_hash: String,
    pub result: Option<Value>,
    pub expires_at: i64,
    pub in_progress_until: Option<i64>,
}

impl Record {
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let n = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
        };
        Some(Self {
            status: s("status")?,
            payload_hash: s("payload_hash")?,
            result: s("result").and_then(|r| serde_json::from_str(&r).ok()),
            expires_at: n(keys::EXPIRES_AT)?,
            in_progress_until: n("in_progress_until"),
        })
    }

    fn live(&self, now: DateTime<Utc>) -> bool {
        let now = now.timestamp();
        self.expires_at > now
            && (self.status == STATUS_COMPLETED || self.in_progress_until.is_some_and(|t| t > now))
    }
}

/// What a condition failure on an idempotency record means.
#[derive(Debug)]
pub enum Replay {
    /// The same request completed before: answer with its result.
    Completed(Value),
    Error(IdemError),
}

#[derive(Clone)]
pub struct Idempotency {
    client: Client,
    table: String,
    ttl_seconds: i64,
}

/// Condition under which a record may be (re)written: absent, or expired by its own timestamps.
const FREE: &str = "attribute_not_exists(pk) OR expires_at <= :now OR (#status = :in_progress AND in_progress_until <= :now)";

impl Idempotency {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            ttl_seconds: DEFAULT_TTL_SECONDS,
        }
    }

    pub fn with_ttl_seconds(mut self, ttl: i64) -> Self {
        self.ttl_seconds = ttl.max(1);
        self
    }

    fn condition_values(now: DateTime<Utc>) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                ":now".to_owned(),
                AttributeValue::N(now.timestamp().to_string()),
            ),
            (
                ":in_progress".to_owned(),
                AttributeValue::S(STATUS_IN_PROGRESS.into()),
            ),
        ])
    }

    fn record_item(
        &self,
        key: &IdemKey,
        status: &str,
        result: Option<&Value>,
        now: DateTime<Utc>,
    ) -> HashMap<String, AttributeValue> {
        let mut item = key.item_key();
        item.insert("status".into(), AttributeValue::S(status.into()));
        item.insert(
            "payload_hash".into(),
            AttributeValue::S(key.payload_hash.clone()),
        );
        item.insert("operation".into(), AttributeValue::S(key.operation.clone()));
        item.insert("created_at".into(), AttributeValue::S(now.to_rfc3339()));
        item.insert(
            keys::EXPIRES_AT.into(),
            AttributeValue::N((now.timestamp() + self.ttl_seconds).to_string()),
        );
        if status == STATUS_IN_PROGRESS {
            item.insert(
                "in_progress_until".into(),
                AttributeValue::N((now.timestamp() + IN_PROGRESS_SECONDS).to_string()),
            );
        }
        if let Some(result) = result {
            item.insert("result".into(), AttributeValue::S(result.to_string()));
        }
        item
    }

    /// The `COMPLETED` record as a conditional `Put`, for the caller's own transaction.
    pub fn completed_put(&self, key: &IdemKey, result: &Value, now: DateTime<Utc>) -> Put {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.record_item(
                key,
                STATUS_COMPLETED,
                Some(result),
                now,
            )))
            .condition_expression(FREE)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(Self::condition_values(now)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .expect("table, item set")
    }

    /// Interprets the old record returned by a failed condition on an idempotency record.
    pub fn explain(
        key: &IdemKey,
        old: Option<&HashMap<String, AttributeValue>>,
        now: DateTime<Utc>,
    ) -> Replay {
        let Some(record) = old.and_then(Record::from_item) else {
            // The record vanished between the check and our read: let the caller retry.
            return Replay::Error(IdemError::InProgress {
                key: key.key.clone(),
            });
        };
        if record.payload_hash != key.payload_hash {
            return Replay::Error(IdemError::Conflict {
                key: key.key.clone(),
            });
        }
        let live = record.live(now);
        match (record.status.as_str(), record.result) {
            (STATUS_COMPLETED, Some(result)) if live => Replay::Completed(result),
            _ => Replay::Error(IdemError::InProgress {
                key: key.key.clone(),
            }),
        }
    }

    /// Reads a live record, if any (used to answer a replay before doing any work).
    pub async fn get(
        &self,
        key: &IdemKey,
        now: DateTime<Utc>,
    ) -> Result<Option<Record>, IdemError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.item_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| IdemError::Unavailable(DisplayErrorContext(e).to_string()))?;
        Ok(out
            .item()
            .and_then(Record::from_item)
            .filter(|r| r.live(now)))
    }

    /// Runs `work` at most once per key: claim, work, store the result. `Ok(Err(e))` from the
    /// work (an expected failure, e.g. "slot taken") is returned as is and releases the claim,
    /// so a corrected retry can run.
    pub async fn run<F, Fut, E>(
        &self,
        key: &IdemKey,
        work: F,
    ) -> Result<Result<Value, E>, IdemError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Value, E>>,
    {
        let now = Utc::now();
        let claim = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.record_item(key, STATUS_IN_PROGRESS, None, now)))
            .condition_expression(FREE)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(Self::condition_values(now)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match claim {
            Ok(_) => {}
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                let PutItemError::ConditionalCheckFailedException(c) = e.err() else {
                    unreachable!()
                };
                return match Self::explain(key, c.item(), now) {
                    Replay::Completed(v) => Ok(Ok(v)),
                    Replay::Error(e) => Err(e),
                };
            }
            Err(e) => return Err(IdemError::Unavailable(DisplayErrorContext(e).to_string())),
        }
        match work().await {
            Ok(value) => {
                let done = Utc::now();
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(self.record_item(
                        key,
                        STATUS_COMPLETED,
                        Some(&value),
                        done,
                    )))
                    .send()
                    .await
                    .map_err(|e| IdemError::Unavailable(DisplayErrorContext(e).to_string()))?;
                Ok(Ok(value))
            }
            Err(e) => {
                let _ = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key.item_key()))
                    .condition_expression("#status = :in_progress")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(
                        ":in_progress",
                        AttributeValue::S(STATUS_IN_PROGRESS.into()),
                    )
                    .send()
                    .await;
                Ok(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_hash_ignores_key_order_and_whitespace() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": "s"}});
        let b: Value = serde_json::from_str(r#"{ "a": {"x":"s","y":[1,2]}, "b":1 }"#).unwrap();
        assert_eq!(payload_hash(&a), payload_hash(&b));
        assert_ne!(
            payload_hash(&a),
            payload_hash(&json!({"b": 2, "a": {"y": [1, 2], "x": "s"}}))
        );
        assert_ne!(payload_hash(&json!([1, 2])), payload_hash(&json!([2, 1])));
    }

    #[test]
    fn tool_keys_are_scoped_by_conversation_tool_and_arguments() {
        let args = json!({"slot_id": "abc"});
        let k = |conv, tool, explicit, args: &Value| {
            IdemKey::for_tool("biz", tool, Some(conv), explicit, args).sort_key()
        };
        assert_eq!(
            k("c1", "create_booking", None, &args),
            k("c1", "create_booking", None, &args)
        );
        assert_ne!(
            k("c1", "create_booking", None, &args),
            k("c2", "create_booking", None, &args)
        );
        assert_ne!(
            k("c1", "create_booking", None, &args),
            k("c1", "update_booking", None, &args)
        );
        assert_ne!(
            k("c1", "create_booking", None, &args),
            k("c1", "create_booking", None, &json!({"slot_id": "abd"}))
        );
        // An explicit key ignores the conversation; a changed payload under it conflicts.
        let e1 = IdemKey::for_tool("biz", "create_booking", Some("c1"), Some("k"), &args);
        let e2 = IdemKey::for_tool(
            "biz",
            "create_booking",
            Some("c2"),
            Some("k"),
            &json!({"x": 1}),
        );
        assert_eq!(e1.sort_key(), e2.sort_key());
        assert_ne!(e1.payload_hash, e2.payload_hash);
        assert!(e1.sort_key().starts_with("IDEM#create_booking#"));
    }

    fn item(
        status: &str,
        hash: &str,
        result: Option<&str>,
        expires: i64,
        until: Option<i64>,
    ) -> HashMap<String, AttributeValue> {
        let mut m = HashMap::from([
            ("status".to_owned(), AttributeValue::S(status.into())),
            ("payload_hash".to_owned(), AttributeValue::S(hash.into())),
            (
                keys::EXPIRES_AT.to_owned(),
                AttributeValue::N(expires.to_string()),
            ),
        ]);
        if let Some(r) = result {
            m.insert("result".into(), AttributeValue::S(r.into()));
        }
        if let Some(u) = until {
            m.insert("in_progress_until".into(), AttributeValue::N(u.to_string()));
        }
        m
    }

    #[test]
    fn explain_replays_conflicts_and_in_progress() {
        let now = Utc::now();
        let t = now.timestamp();
        let key = IdemKey::new("biz", "op", "k", &json!({"a": 1}));
        let h = key.payload_hash.clone();
        match Idempotency::explain(
            &key,
            Some(&item("COMPLETED", &h, Some(r#"{"ok":true}"#), t + 10, None)),
            now,
        ) {
            Replay::Completed(v) => assert_eq!(v, json!({"ok": true})),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Idempotency::explain(
                &key,
                Some(&item("COMPLETED", "other", Some("{}"), t + 10, None)),
                now
            ),
            Replay::Error(IdemError::Conflict { .. })
        ));
        assert!(matches!(
            Idempotency::explain(
                &key,
                Some(&item("INPROGRESS", &h, None, t + 10, Some(t + 5))),
                now
            ),
            Replay::Error(IdemError::InProgress { .. })
        ));
        assert!(matches!(
            Idempotency::explain(&key, None, now),
            Replay::Error(IdemError::InProgress { .. })
        ));
    }

    #[test]
    fn liveness_comes_from_stored_timestamps() {
        let now = Utc::now();
        let t = now.timestamp();
        let rec = |status: &str, expires, until| Record {
            status: status.into(),
            payload_hash: "h".into(),
            result: None,
            expires_at: expires,
            in_progress_until: until,
        };
        assert!(rec(STATUS_COMPLETED, t + 1, None).live(now));
        assert!(!rec(STATUS_COMPLETED, t, None).live(now));
        assert!(rec(STATUS_IN_PROGRESS, t + 100, Some(t + 1)).live(now));
        assert!(!rec(STATUS_IN_PROGRESS, t + 100, Some(t - 1)).live(now));
    }
}
