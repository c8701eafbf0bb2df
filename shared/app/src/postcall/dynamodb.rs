//! DynamoDB adapter of the pipeline's traits (items: docs/data-model.md).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use frontdesk_rules::postcall::{Assessment, InitiationFailure};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_attribute_value, to_item};

use super::{
    CallRecord, CallStore, Counters, Crm, CrmEntry, Once, PipelineError, SmsClaim, SmsLedger,
    SmsRecord, SmsStatus,
};
use crate::dynamo::{self, TxFailure, n, s};
use crate::keys;
use crate::queue::Job;

/// Webhook de-duplication items, stage markers and counted callbacks are kept this long.
const KEEP_MARKERS_DAYS: i64 = 30;

#[derive(Clone)]
pub struct DynamoPipeline {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl DynamoPipeline {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub(crate) fn put(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: Option<&str>,
    ) -> Put {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .expect("table and item set")
    }

    /// A marker item: exists = done. Conditioned on not existing yet.
    fn marker(&self, pk: String, sk: String, now: DateTime<Utc>) -> TransactWriteItem {
        let item = HashMap::from([
            (keys::PK.to_owned(), s(pk)),
            (keys::SK.to_owned(), s(sk)),
            ("at".to_owned(), s(now.to_rfc3339())),
            (
                keys::EXPIRES_AT.to_owned(),
                n((now + Duration::days(KEEP_MARKERS_DAYS)).timestamp()),
            ),
        ]);
        TransactWriteItem::builder()
            .put(self.put(item, Some("attribute_not_exists(pk)")))
            .build()
    }

    fn counters_update(
        &self,
        business_id: &str,
        day: NaiveDate,
        counters: &Counters,
    ) -> Option<Update> {
        if counters.0.is_empty() {
            return None;
        }
        // Several additions to one counter are summed: DynamoDB refuses a path twice.
        let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
        for (name, v) in &counters.0 {
            *sums.entry(name.as_str()).or_default() += v;
        }
        let mut u = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(keys::business_pk(business_id)))
            .key(keys::SK, s(keys::stats_sk(day)))
            .expression_attribute_names("#date", "date")
            .expression_attribute_values(":date", s(day.to_string()));
        let mut adds = vec![];
        for (i, (name, v)) in sums.iter().enumerate() {
            adds.push(format!("#c{i} :c{i}"));
            u = u
                .expression_attribute_names(format!("#c{i}"), *name)
                .expression_attribute_values(format!(":c{i}"), n(*v));
        }
        Some(
            u.update_expression(format!("SET #date = :date ADD {}", adds.join(", ")))
                .build()
                .expect("table, key, expression set"),
        )
    }

    async fn transact(
        &self,
        items: Vec<(&'static str, TransactWriteItem)>,
    ) -> Result<Once, PipelineError> {
        match dynamo::transact(&self.client, items).await {
            Ok(()) => Ok(Once::Fresh),
            Err(TxFailure::Cancelled(c)) => match dynamo::first_failure(&c) {
                Some((role, _, "ConditionalCheckFailed")) if *role == "marker" => {
                    Ok(Once::AlreadyDone)
                }
                Some((role, _, code)) => Err(PipelineError::Unavailable(format!(
                    "{role} item: {code}; retry"
                ))),
                None => Err(PipelineError::Unavailable(
                    "transaction cancelled without a reason".into(),
                )),
            },
            Err(TxFailure::Unavailable(e)) => Err(PipelineError::Unavailable(e)),
        }
    }

    pub(crate) async fn get_item(
        &self,
        key: HashMap<String, AttributeValue>,
    ) -> Result<Option<HashMap<String, AttributeValue>>, PipelineError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }
}

fn unavailable(e: impl std::error::Error) -> PipelineError {
    PipelineError::Unavailable(DisplayErrorContext(e).to_string())
}
fn ser(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Invalid(e.to_string())
}

/// `SET #a0 = :a0, ...` over every attribute of `item` (keys excluded): an update that keeps
/// attributes other writers put on the same item.
struct Assignments {
    sets: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

fn assignments(item: HashMap<String, AttributeValue>) -> Assignments {
    let mut a = Assignments {
        sets: vec![],
        names: HashMap::new(),
        values: HashMap::new(),
    };
    for (i, (name, value)) in item.into_iter().enumerate() {
        if name == keys::PK || name == keys::SK {
            continue;
        }
        a.sets.push(format!("#a{i} = :a{i}"));
        a.names.insert(format!("#a{i}"), name);
        a.values.insert(format!(":a{i}"), value);
    }
    a
}

#[async_trait]
impl CallStore for DynamoPipeline {
    async fn record_call(&self, call: &CallRecord, day: NaiveDate) -> Result<Once, PipelineError> {
        let pk = keys::call_pk(&call.business_id, &call.call_id);
        let now = call.received_at;
        let dedupe = self.marker(
            keys::business_pk(&call.business_id),
            keys::webhook_sk(frontdesk_rules::postcall::TRANSCRIPTION, &call.call_id),
            now,
        );
        let mut item = to_item(call).map_err(ser)?;
        item.insert(
            keys::GSI1PK.into(),
            s(keys::conversation_gsi1pk(&call.call_id)),
        );
        item.insert(keys::GSI1SK.into(), s(keys::CALL_SK));
        if let Some(sid) = &call.facts.call_sid {
            item.insert(keys::GSI2PK.into(), s(keys::call_sid_gsi2pk(sid)));
            item.insert(keys::GSI2SK.into(), s(keys::CALL_SK));
        }
        let a = assignments(item);
        let record = Update::builder()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(pk.clone(), keys::CALL_SK)))
            .set_expression_attribute_names(Some(a.names))
            .set_expression_attribute_values(Some(a.values))
            .update_expression(format!("SET {}", a.sets.join(", ")))
            .build()
            .expect("table, key, expression set");
        let outbox = HashMap::from([
            (keys::PK.to_owned(), s(pk)),
            (keys::SK.to_owned(), s(keys::OUTBOX_SK)),
            (keys::GSI1PK.to_owned(), s(keys::OUTBOX_GSI1PK)),
            (
                keys::GSI1SK.to_owned(),
                s(format!(
                    "{}#{}#{}",
                    keys::ts(now),
                    call.business_id,
                    call.call_id
                )),
            ),
            ("business_id".to_owned(), s(&call.business_id)),
            ("call_id".to_owned(), s(&call.call_id)),
        ]);
        let mut items = vec![
            ("marker", dedupe),
            ("call", TransactWriteItem::builder().update(record).build()),
            (
                "outbox",
                TransactWriteItem::builder()
                    .put(self.put(outbox, None))
                    .build(),
            ),
        ];
        let mut counters = Counters::default();
        counters.add("webhooks_received", 1);
        if let Some(u) = self.counters_update(&call.business_id, day, &counters) {
            items.push(("stats", TransactWriteItem::builder().update(u).build()));
        }
        self.transact(items).await
    }

    async fn record_initiation_failure(
        &self,
        business_id: &str,
        failure: &InitiationFailure,
        received_at: DateTime<Utc>,
        day: NaiveDate,
    ) -> Result<Once, PipelineError> {
        let dedupe = self.marker(
            keys::business_pk(business_id),
            keys::webhook_sk(
                frontdesk_rules::postcall::INITIATION_FAILURE,
                &failure.conversation_id,
            ),
            received_at,
        );
        let mut item = to_item(failure).map_err(ser)?;
        item.insert(
            keys::PK.into(),
            s(keys::call_pk(business_id, &failure.conversation_id)),
        );
        item.insert(keys::SK.into(), s(keys::CALL_SK));
        item.insert("business_id".into(), s(business_id));
        item.insert("call_id".into(), s(&failure.conversation_id));
        item.insert("kind".into(), s("initiation_failure"));
        item.insert("received_at".into(), s(received_at.to_rfc3339()));
        item.insert(
            keys::GSI1PK.into(),
            s(keys::conversation_gsi1pk(&failure.conversation_id)),
        );
        item.insert(keys::GSI1SK.into(), s(keys::CALL_SK));
        let mut counters = Counters::default();
        counters
            .add("webhooks_received", 1)
            .add("initiation_failures", 1);
        if let Some(reason) = &failure.failure_reason {
            counters.add(format!("initiation_failure_{}", counter_name(reason)), 1);
        }
        // The answer-rate counters of Twilio's call status callbacks (voice::status).
        let status = failure
            .failure_reason
            .as_deref()
            .or(failure.call_status.as_deref())
            .unwrap_or("failed");
        counters.add("calls_ended", 1).add(
            crate::voice::status::final_counter(status)
                .filter(|c| *c != "calls_completed")
                .unwrap_or("calls_failed"),
            1,
        );
        let mut items = vec![
            ("marker", dedupe),
            (
                "call",
                TransactWriteItem::builder()
                    .put(self.put(item, None))
                    .build(),
            ),
        ];
        if let Some(u) = self.counters_update(business_id, day, &counters) {
            items.push(("stats", TransactWriteItem::builder().update(u).build()));
        }
        self.transact(items).await
    }

    async fn clear_outbox(&self, business_id: &str, call_id: &str) -> Result<(), PipelineError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::call_pk(business_id, call_id),
                keys::OUTBOX_SK,
            )))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn outbox(&self, before: DateTime<Utc>, limit: i32) -> Result<Vec<Job>, PipelineError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :p AND gsi1sk < :before")
            .expression_attribute_values(":p", s(keys::OUTBOX_GSI1PK))
            .expression_attribute_values(":before", s(keys::ts(before)))
            .limit(limit)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| {
                let b = i.get("business_id")?.as_s().ok()?;
                let c = i.get("call_id")?.as_s().ok()?;
                Some(Job::new(b.clone(), c.clone()))
            })
            .collect())
    }

    async fn call(
        &self,
        business_id: &str,
        call_id: &str,
    ) -> Result<Option<CallRecord>, PipelineError> {
        let item = self
            .get_item(dynamo::key(
                keys::call_pk(business_id, call_id),
                keys::CALL_SK,
            ))
            .await?;
        match item {
            // A record written by `log_call` alone (no webhook yet) has no facts.
            Some(i) if i.contains_key("facts") => from_item(i)
                .map(Some)
                .map_err(|e| PipelineError::Invalid(format!("stored call {call_id}: {e}"))),
            _ => Ok(None),
        }
    }

    async fn save_assessment(
        &self,
        business_id: &str,
        call_id: &str,
        assessment: &Assessment,
    ) -> Result<(), PipelineError> {
        let value = to_attribute_value(assessment).map_err(ser)?;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::call_pk(business_id, call_id),
                keys::CALL_SK,
            )))
            .update_expression("SET assessment = :a, disposition = :d")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":a", value)
            .expression_attribute_values(":d", s(assessment.disposition.as_str()))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn count_once(
        &self,
        business_id: &str,
        day: NaiveDate,
        marker: (&str, &str),
        counters: &Counters,
    ) -> Result<Once, PipelineError> {
        let now = Utc::now();
        let mut items = vec![(
            "marker",
            self.marker(marker.0.to_owned(), marker.1.to_owned(), now),
        )];
        if let Some(u) = self.counters_update(business_id, day, counters) {
            items.push(("stats", TransactWriteItem::builder().update(u).build()));
        }
        self.transact(items).await
    }

    async fn count(
        &self,
        business_id: &str,
        day: NaiveDate,
        counters: &Counters,
    ) -> Result<(), PipelineError> {
        let Some(u) = self.counters_update(business_id, day, counters) else {
            return Ok(());
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(u.key().clone()))
            .update_expression(u.update_expression())
            .set_expression_attribute_names(u.expression_attribute_names().cloned())
            .set_expression_attribute_values(u.expression_attribute_values().cloned())
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn stats(
        &self,
        business_id: &str,
        day: NaiveDate,
    ) -> Result<BTreeMap<String, i64>, PipelineError> {
        let item = self
            .get_item(dynamo::key(
                keys::business_pk(business_id),
                keys::stats_sk(day),
            ))
            .await?
            .unwrap_or_default();
        Ok(item
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_n().ok()?.parse().ok()?)))
            .filter(|(k, _)| k != keys::EXPIRES_AT)
            .collect())
    }
}

/// A counter-name-safe form of a free-form value: lower case, `[a-z0-9_]`, at most 40.
pub fn counter_name(value: &str) -> String {
    let mut out: String = value
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

#[async_trait]
impl Crm for DynamoPipeline {
    async fn contact_name(
        &self,
        business_id: &str,
        phone: &str,
    ) -> Result<Option<String>, PipelineError> {
        let item = self
            .get_item(dynamo::key(
                keys::business_pk(business_id),
                keys::contact_sk(phone),
            ))
            .await?;
        Ok(item
            .and_then(|i| i.get("name").and_then(|v| v.as_s().ok()).cloned())
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()))
    }

    async fn record(&self, business_id: &str, entry: &CrmEntry) -> Result<Once, PipelineError> {
        let biz = keys::business_pk(business_id);
        let mut items = vec![(
            "marker",
            self.marker(
                keys::call_pk(business_id, &entry.call_id),
                keys::stage_sk(super::stage::CRM),
                entry.at,
            ),
        )];
        if let Some(phone) = &entry.phone {
            let mut sets = vec![
                "phone = :phone",
                "gsi1pk = :g1pk",
                "gsi1sk = :g1sk",
                "last_call_at = :at",
                "last_call_id = :call",
                "last_disposition = :disp",
                "created_at = if_not_exists(created_at, :at)",
            ];
            let mut u = Update::builder()
                .table_name(&self.table)
                .key(keys::PK, s(biz.clone()))
                .key(keys::SK, s(keys::contact_sk(phone)))
                .expression_attribute_values(":phone", s(phone))
                .expression_attribute_values(":g1pk", s(keys::phone_gsi1pk(business_id, phone)))
                .expression_attribute_values(":g1sk", s("CONTACT"))
                .expression_attribute_values(":at", s(entry.at.to_rfc3339()))
                .expression_attribute_values(":call", s(&entry.call_id))
                .expression_attribute_values(":disp", s(&entry.disposition))
                .expression_attribute_values(":one", n(1));
            if let Some(name) = &entry.name {
                // A name the caller gave the agent (or a booking) fills a blank; never overwrites.
                sets.push("#name = if_not_exists(#name, :name)");
                u = u
                    .expression_attribute_names("#name", "name")
                    .expression_attribute_values(":name", s(name));
            }
            let u = u
                .update_expression(format!("SET {} ADD calls :one", sets.join(", ")))
                .build()
                .expect("contact update");
            items.push(("contact", TransactWriteItem::builder().update(u).build()));
        }
        let mut activity = to_item(entry).map_err(ser)?;
        activity.insert(keys::PK.into(), s(biz.clone()));
        activity.insert(
            keys::SK.into(),
            s(keys::activity_sk(
                entry.phone.as_deref(),
                entry.at,
                &entry.call_id,
            )),
        );
        activity.insert("kind".into(), s("call"));
        items.push((
            "activity",
            TransactWriteItem::builder()
                .put(self.put(activity, None))
                .build(),
        ));
        let booking_exists = match &entry.booking_id {
            Some(id) => self
                .get_item(dynamo::key(biz.clone(), keys::booking_sk(id)))
                .await?
                .is_some(),
            None => false,
        };
        if let (Some(id), true) = (&entry.booking_id, booking_exists) {
            let note = HashMap::from([
                ("at".to_owned(), s(entry.at.to_rfc3339())),
                ("call_id".to_owned(), s(&entry.call_id)),
                ("disposition".to_owned(), s(&entry.disposition)),
                (
                    "summary".to_owned(),
                    s(entry.summary.clone().unwrap_or_default()),
                ),
            ]);
            let u = Update::builder()
                .table_name(&self.table)
                .key(keys::PK, s(biz.clone()))
                .key(keys::SK, s(keys::booking_sk(id)))
                .update_expression(
                    "SET call_notes = list_append(if_not_exists(call_notes, :empty), :note)",
                )
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":empty", AttributeValue::L(vec![]))
                .expression_attribute_values(
                    ":note",
                    AttributeValue::L(vec![AttributeValue::M(note)]),
                )
                .build()
                .expect("booking note");
            items.push(("booking", TransactWriteItem::builder().update(u).build()));
        } else if let Some(reason) = &entry.follow_up {
            let task = HashMap::from([
                (keys::PK.to_owned(), s(biz.clone())),
                (keys::SK.to_owned(), s(keys::task_sk(&entry.call_id))),
                ("kind".to_owned(), s("follow_up")),
                ("status".to_owned(), s("open")),
                ("reason".to_owned(), s(reason)),
                ("call_id".to_owned(), s(&entry.call_id)),
                ("created_at".to_owned(), s(entry.at.to_rfc3339())),
                (
                    "phone".to_owned(),
                    entry.phone.clone().map_or(AttributeValue::Null(true), s),
                ),
                (
                    "summary".to_owned(),
                    entry.summary.clone().map_or(AttributeValue::Null(true), s),
                ),
            ]);
            items.push((
                "task",
                TransactWriteItem::builder()
                    .put(self.put(task, None))
                    .build(),
            ));
        }
        self.transact(items).await
    }
}

#[async_trait]
impl SmsLedger for DynamoPipeline {
    async fn claim(
        &self,
        business_id: &str,
        call_id: &str,
        record: &SmsRecord,
        now: DateTime<Utc>,
    ) -> Result<SmsClaim, PipelineError> {
        let key = dynamo::key(
            keys::call_pk(business_id, call_id),
            keys::sms_sk(&record.kind),
        );
        let mut item = to_item(record).map_err(ser)?;
        item.remove("attempts");
        item.remove("created_at");
        let Assignments {
            mut sets,
            names,
            values,
        } = assignments(item);
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values));
        sets.push("created_at = if_not_exists(created_at, :now)".into());
        // Leases compare as numbers (epoch milliseconds): timestamps as text don't sort.
        sets.push("lease_ms = :lease".into());
        req = req.expression_attribute_values(
            ":lease",
            n(record.lease_until.unwrap_or(now).timestamp_millis()),
        );
        let sent = req
            .update_expression(format!("SET {} ADD attempts :one", sets.join(", ")))
            .condition_expression(
                "attribute_not_exists(pk) OR #st IN (:retry, :unknown) \
                 OR (#st = :sending AND lease_ms < :now_ms)",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":retry", s("retry"))
            .expression_attribute_values(":unknown", s("unknown"))
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":now_ms", n(now.timestamp_millis()))
            .expression_attribute_values(":one", n(1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match sent {
            Ok(out) => {
                let old: Option<SmsRecord> = out
                    .attributes
                    .filter(|a| a.contains_key("status"))
                    .and_then(|a| from_item(a).ok());
                Ok(match old {
                    // The previous attempt never answered: find out before sending again.
                    Some(prev)
                        if matches!(prev.status, SmsStatus::Unknown | SmsStatus::Sending) =>
                    {
                        SmsClaim::Reconcile(prev)
                    }
                    _ => SmsClaim::Claimed,
                })
            }
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                let current = self
                    .get(business_id, call_id, &record.kind)
                    .await?
                    .ok_or_else(|| PipelineError::Unavailable("text record vanished".into()))?;
                Ok(match current.status {
                    SmsStatus::Sending | SmsStatus::Unknown => SmsClaim::Busy,
                    _ => SmsClaim::Settled(current),
                })
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn settle(
        &self,
        business_id: &str,
        call_id: &str,
        record: &SmsRecord,
    ) -> Result<(), PipelineError> {
        let key = dynamo::key(
            keys::call_pk(business_id, call_id),
            keys::sms_sk(&record.kind),
        );
        let mut item = to_item(record).map_err(ser)?;
        item.remove("attempts");
        item.remove("created_at");
        if let Some(sid) = &record.message_sid {
            item.insert(keys::GSI2PK.into(), s(keys::message_sid_gsi2pk(sid)));
            item.insert(keys::GSI2SK.into(), s(keys::sms_sk(&record.kind)));
            item.insert("business_id".into(), s(business_id));
            item.insert("call_id".into(), s(call_id));
        }
        let a = assignments(item);
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .set_expression_attribute_names(Some(a.names))
            .set_expression_attribute_values(Some(a.values))
            .update_expression(format!("SET {}", a.sets.join(", ")))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn get(
        &self,
        business_id: &str,
        call_id: &str,
        kind: &str,
    ) -> Result<Option<SmsRecord>, PipelineError> {
        let item = self
            .get_item(dynamo::key(
                keys::call_pk(business_id, call_id),
                keys::sms_sk(kind),
            ))
            .await?;
        item.map(|i| from_item(i).map_err(|e| PipelineError::Invalid(e.to_string())))
            .transpose()
    }

    async fn by_message_sid(
        &self,
        sid: &str,
    ) -> Result<Option<(String, String, SmsRecord)>, PipelineError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("gsi2pk = :p")
            .expression_attribute_values(":p", s(keys::message_sid_gsi2pk(sid)))
            .limit(1)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = out.items().first().cloned() else {
            return Ok(None);
        };
        let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let (Some(b), Some(c)) = (get("business_id"), get("call_id")) else {
            return Ok(None);
        };
        let record = from_item(item).map_err(|e| PipelineError::Invalid(e.to_string()))?;
        Ok(Some((b, c, record)))
    }

    async fn advance_delivery(
        &self,
        business_id: &str,
        call_id: &str,
        kind: &str,
        status: &str,
        rank: u8,
    ) -> Result<bool, PipelineError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::call_pk(business_id, call_id),
                keys::sms_sk(kind),
            )))
            .update_expression("SET delivery = :s, delivery_rank = :r, delivery_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(delivery_rank) OR delivery_rank < :r)",
            )
            .expression_attribute_values(":s", s(status))
            .expression_attribute_values(":r", n(rank))
            .expression_attribute_values(":now", s(Utc::now().to_rfc3339()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn is_opted_out(&self, business_id: &str, phone: &str) -> Result<bool, PipelineError> {
        let item = self
            .get_item(dynamo::key(
                keys::business_pk(business_id),
                keys::opt_out_sk(phone),
            ))
            .await?;
        Ok(item
            .and_then(|i| i.get("opted_out").and_then(|v| v.as_bool().ok()).copied())
            .unwrap_or(false))
    }

    async fn set_opt_out(
        &self,
        business_id: &str,
        phone: &str,
        opted_out: bool,
        source: &str,
        at: DateTime<Utc>,
    ) -> Result<(), PipelineError> {
        // Out-of-order safe: an older event never overwrites a newer one.
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(
                keys::business_pk(business_id),
                keys::opt_out_sk(phone),
            )))
            .update_expression(
                "SET opted_out = :o, #src = :src, updated_at = :at, updated_ms = :ms, phone = :p",
            )
            .condition_expression("attribute_not_exists(updated_ms) OR updated_ms <= :ms")
            .expression_attribute_names("#src", "source")
            .expression_attribute_values(":o", AttributeValue::Bool(opted_out))
            .expression_attribute_values(":src", s(source))
            .expression_attribute_values(":at", s(at.to_rfc3339()))
            .expression_attribute_values(":ms", n(at.timestamp_millis()))
            .expression_attribute_values(":p", s(phone))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn inbound_text(
        &self,
        business_id: &str,
        phone: &str,
        message_sid: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<(), PipelineError> {
        let item = HashMap::from([
            (keys::PK.to_owned(), s(keys::business_pk(business_id))),
            (
                keys::SK.to_owned(),
                s(keys::activity_sk(Some(phone), at, message_sid)),
            ),
            ("kind".to_owned(), s("sms_inbound")),
            ("phone".to_owned(), s(phone)),
            ("message_sid".to_owned(), s(message_sid)),
            ("body".to_owned(), s(body)),
            ("at".to_owned(), s(at.to_rfc3339())),
        ]);
        // Keyed by MessageSid: Twilio's retries overwrite the same item.
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
