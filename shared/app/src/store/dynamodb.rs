//! DynamoDB adapter of the stores (single table, see docs/data-model.md).

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use frontdesk_rules::BusinessConfig;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use super::business::{
    BusinessPage, BusinessRecord, BusinessStore, StoreError, ToolProfile, ToolSecretHash,
};
use crate::dynamo::{self, TxFailure, s};
use crate::keys;

/// The product's table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

/// The stored shape of a business configuration item.
#[derive(Serialize, Deserialize)]
struct ConfigItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    business_id: String,
    version: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    config: BusinessConfig,
}

impl ConfigItem {
    fn from_record(r: &BusinessRecord) -> Self {
        Self {
            pk: keys::business_pk(&r.id),
            sk: keys::CONFIG_SK.to_owned(),
            gsi1pk: keys::BUSINESS_DIRECTORY.to_owned(),
            gsi1sk: r.id.clone(),
            business_id: r.id.clone(),
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            config: r.config.clone(),
        }
    }

    fn into_record(self) -> BusinessRecord {
        BusinessRecord {
            id: self.business_id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            config: self.config,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct NumberItem {
    pk: String,
    sk: String,
    number: String,
    business_id: String,
    claimed_at: DateTime<Utc>,
}

fn unavailable(e: impl std::error::Error) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(e).to_string())
}

/// What one item of a transaction stands for, to explain a cancellation.
#[derive(Clone)]
enum Op {
    Config,
    Other,
    Claim(String),
    Release(String),
}

impl DynamoStore {
    fn config_key(id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (keys::PK.to_owned(), s(keys::business_pk(id))),
            (keys::SK.to_owned(), s(keys::CONFIG_SK)),
        ])
    }

    fn tool_auth_key(id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (keys::PK.to_owned(), s(keys::business_pk(id))),
            (keys::SK.to_owned(), s(keys::TOOL_AUTH_SK)),
        ])
    }

    fn number_key(number: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (keys::PK.to_owned(), s(keys::number_pk(number))),
            (keys::SK.to_owned(), s(keys::NUMBER_SK)),
        ])
    }

    fn put_config(
        &self,
        record: &BusinessRecord,
        condition: &str,
        values: HashMap<String, AttributeValue>,
    ) -> Result<TransactWriteItem, StoreError> {
        let item = to_item(ConfigItem::from_record(record))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if !values.is_empty() {
            put = put.set_expression_attribute_values(Some(values));
        }
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(unavailable)?)
            .build())
    }

    fn claim_number(
        &self,
        business_id: &str,
        number: &str,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let item = to_item(NumberItem {
            pk: keys::number_pk(number),
            sk: keys::NUMBER_SK.to_owned(),
            number: number.to_owned(),
            business_id: business_id.to_owned(),
            claimed_at: now,
        })
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR business_id = :me")
            .expression_attribute_values(":me", s(business_id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn release_number(
        &self,
        business_id: &str,
        number: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::number_key(number)))
            .condition_expression("attribute_not_exists(pk) OR business_id = :me")
            .expression_attribute_values(":me", s(business_id))
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Runs a transaction and turns a cancellation into the error of the item that failed.
    async fn transact(
        &self,
        id: &str,
        ops: Vec<(Op, TransactWriteItem)>,
        on_config_failure: impl Fn(Option<&HashMap<String, AttributeValue>>) -> StoreError,
    ) -> Result<(), StoreError> {
        dynamo::transact(&self.client, ops)
            .await
            .map_err(|failure| match failure {
                TxFailure::Cancelled(cancelled) => {
                    explain_cancellation(id, &cancelled, on_config_failure)
                }
                TxFailure::Unavailable(e) => StoreError::Unavailable(e),
            })
    }
}

fn explain_cancellation(
    id: &str,
    cancelled: &[(Op, CancellationReason)],
    on_config_failure: impl Fn(Option<&HashMap<String, AttributeValue>>) -> StoreError,
) -> StoreError {
    let Some((op, reason, code)) = dynamo::first_failure(cancelled) else {
        return StoreError::Unavailable(format!(
            "transaction for business {id} cancelled without a reason"
        ));
    };
    match (op, code) {
        (Op::Config, "ConditionalCheckFailed") => on_config_failure(reason.item()),
        (Op::Claim(number), "ConditionalCheckFailed") => StoreError::NumberTaken {
            number: number.clone(),
            owner: reason
                .item()
                .and_then(|i| i.get("business_id"))
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_else(|| "another business".to_owned()),
        },
        // Two writers raced on the same item: the loser's base is stale.
        (Op::Config, "TransactionConflict") => StoreError::VersionMismatch(id.to_owned()),
        (Op::Claim(n) | Op::Release(n), _) => {
            StoreError::Unavailable(format!("number {n}: {code}; retry"))
        }
        (Op::Config | Op::Other, _) => {
            StoreError::Unavailable(format!("business {id}: {code}; retry"))
        }
    }
}

#[async_trait]
impl BusinessStore for DynamoStore {
    async fn create(&self, record: &BusinessRecord) -> Result<(), StoreError> {
        let mut ops = vec![(
            Op::Config,
            self.put_config(record, "attribute_not_exists(pk)", HashMap::new())?,
        )];
        for number in numbers(&record.config) {
            ops.push((
                Op::Claim(number.clone()),
                self.claim_number(&record.id, &number, record.updated_at)?,
            ));
        }
        let id = record.id.clone();
        self.transact(&record.id, ops, |_| StoreError::AlreadyExists(id.clone()))
            .await
    }

    async fn get(&self, id: &str) -> Result<Option<BusinessRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::config_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item
            .map(|item| from_item::<ConfigItem>(item).map(ConfigItem::into_record))
            .transpose()
            .map_err(|e| {
                StoreError::Unavailable(format!("stored business {id} is unreadable: {e}"))
            })
    }

    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<BusinessPage, StoreError> {
        let start = cursor.map(decode_cursor).transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :d")
            .expression_attribute_values(":d", s(keys::BUSINESS_DIRECTORY))
            .limit(limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<ConfigItem>(item).map(ConfigItem::into_record))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Unavailable(format!("stored business is unreadable: {e}")))?;
        let next = out.last_evaluated_key.map(|k| encode_cursor(&k));
        Ok(BusinessPage { items, next })
    }

    async fn replace(
        &self,
        previous: &BusinessRecord,
        next: &BusinessRecord,
    ) -> Result<(), StoreError> {
        let put = self.put_config(
            next,
            "version = :expected",
            HashMap::from([(
                ":expected".to_owned(),
                AttributeValue::N(previous.version.to_string()),
            )]),
        )?;
        let mut ops = vec![(Op::Config, put)];
        let before = numbers(&previous.config);
        let after = numbers(&next.config);
        for added in after.difference(&before) {
            ops.push((
                Op::Claim(added.clone()),
                self.claim_number(&next.id, added, next.updated_at)?,
            ));
        }
        for removed in before.difference(&after) {
            ops.push((
                Op::Release(removed.clone()),
                self.release_number(&next.id, removed)?,
            ));
        }
        let id = previous.id.clone();
        self.transact(&previous.id, ops, |old| match old {
            None => StoreError::NotFound(id.clone()),
            Some(_) => StoreError::VersionMismatch(id.clone()),
        })
        .await
    }

    async fn delete(&self, record: &BusinessRecord) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::config_key(&record.id)))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(record.version.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let mut ops = vec![(
            Op::Config,
            TransactWriteItem::builder().delete(delete).build(),
        )];
        ops.push((
            Op::Other,
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::tool_auth_key(&record.id)))
                        .build()
                        .map_err(unavailable)?,
                )
                .build(),
        ));
        for number in numbers(&record.config) {
            ops.push((
                Op::Release(number.clone()),
                self.release_number(&record.id, &number)?,
            ));
        }
        let id = record.id.clone();
        self.transact(&record.id, ops, |old| match old {
            None => StoreError::NotFound(id.clone()),
            Some(_) => StoreError::VersionMismatch(id.clone()),
        })
        .await
    }

    async fn business_for_number(&self, e164: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::number_key(e164)))
            .projection_expression("business_id")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .item
            .and_then(|i| i.get("business_id").and_then(|v| v.as_s().ok()).cloned()))
    }

    async fn tool_profile(&self, id: &str) -> Result<Option<ToolProfile>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut request = HashMap::from([(
            self.table.clone(),
            KeysAndAttributes::builder()
                .keys(Self::config_key(id))
                .keys(Self::tool_auth_key(id))
                .consistent_read(true)
                .build()
                .map_err(unavailable)?,
        )]);
        let mut items = vec![];
        // Unprocessed keys are retried (rare: throttling); each retry is another round trip.
        for _ in 0..5 {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(unavailable)?;
            if let Some(found) = out.responses().and_then(|r| r.get(&self.table)) {
                items.extend(found.iter().cloned());
            }
            match out.unprocessed_keys().filter(|u| !u.is_empty()) {
                Some(rest) => request = rest.clone(),
                None => break,
            }
        }
        let mut business = None;
        let mut secrets = vec![];
        for item in items {
            match item
                .get(keys::SK)
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
            {
                Some(keys::CONFIG_SK) => {
                    let config: ConfigItem = from_item(item).map_err(|e| {
                        StoreError::Unavailable(format!("stored business {id} is unreadable: {e}"))
                    })?;
                    business = Some(config.into_record());
                }
                Some(keys::TOOL_AUTH_SK) => {
                    let auth: ToolAuthItem = from_item(item).map_err(|e| {
                        StoreError::Unavailable(format!("tool auth of {id} is unreadable: {e}"))
                    })?;
                    secrets = auth.hashes;
                }
                _ => {}
            }
        }
        Ok(business.map(|business| ToolProfile { business, secrets }))
    }

    async fn set_tool_secrets(
        &self,
        id: &str,
        hashes: &[ToolSecretHash],
    ) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::ConditionCheck;
        let item = to_item(ToolAuthItem {
            pk: keys::business_pk(id),
            sk: keys::TOOL_AUTH_SK.to_owned(),
            hashes: hashes.to_vec(),
        })
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let ops = vec![
            (
                Op::Config,
                TransactWriteItem::builder()
                    .condition_check(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(Self::config_key(id)))
                            .condition_expression("attribute_exists(pk)")
                            .build()
                            .map_err(unavailable)?,
                    )
                    .build(),
            ),
            (
                Op::Other,
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(item))
                            .build()
                            .map_err(unavailable)?,
                    )
                    .build(),
            ),
        ];
        let missing = id.to_owned();
        self.transact(id, ops, |_| StoreError::NotFound(missing.clone()))
            .await
    }
}

#[derive(Serialize, Deserialize)]
struct ToolAuthItem {
    pk: String,
    sk: String,
    hashes: Vec<ToolSecretHash>,
}

fn numbers(config: &BusinessConfig) -> BTreeSet<String> {
    config.phone_numbers().into_iter().collect()
}

/// Page cursors are the last evaluated key, as JSON of its string attributes, base64url.
fn encode_cursor(key: &HashMap<String, AttributeValue>) -> String {
    let plain: HashMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&plain).expect("cursor serializes"))
}

fn decode_cursor(cursor: &str) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let plain: HashMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    let allowed = [keys::PK, keys::SK, keys::GSI1PK, keys::GSI1SK];
    if plain.is_empty()
        || plain.keys().any(|k| !allowed.contains(&k.as_str()))
        || plain.get(keys::GSI1PK).map(String::as_str) != Some(keys::BUSINESS_DIRECTORY)
    {
        return Err(StoreError::BadCursor);
    }
    Ok(plain
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_tampering() {
        let key = HashMap::from([
            ("pk".to_owned(), s("BIZ#a")),
            ("sk".to_owned(), s("CONFIG")),
            ("gsi1pk".to_owned(), s("BUSINESSES")),
            ("gsi1sk".to_owned(), s("a")),
        ]);
        let c = encode_cursor(&key);
        assert_eq!(decode_cursor(&c).unwrap(), key);
        assert_eq!(decode_cursor("not base64!"), Err(StoreError::BadCursor));
        let other = URL_SAFE_NO_PAD.encode(br#"{"gsi1pk":"NUMBER#x","pk":"x"}"#);
        assert_eq!(decode_cursor(&other), Err(StoreError::BadCursor));
    }
}
