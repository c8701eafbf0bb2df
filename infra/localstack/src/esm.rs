//! SQS event-source mapping emulation: polls a queue, invokes the function with batches in
//! Lambda's SQS event shape and deletes what succeeded.
//!
//! Failed messages are not touched: they reappear after the queue's visibility timeout, and
//! the queue's redrive policy (applied by SQS / moto on receive) moves them to the DLQ after
//! `maxReceiveCount` receives.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::runtime::FunctionPool;

/// One event-source mapping.
#[derive(Debug, Clone)]
pub struct EsmConfig {
    /// Logical id of the function (for logs).
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub batch_size: u32,
    pub batching_window: Duration,
    pub report_batch_item_failures: bool,
    pub enabled: bool,
    /// Concurrent pollers (each runs one batch at a time): `MaximumConcurrency`, else the
    /// function's instance limit.
    pub concurrency: usize,
    /// Long-poll wait of each ReceiveMessage (≤ 20 s).
    pub wait_time: Duration,
}

/// What happened to one batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchRecord {
    pub message_ids: Vec<String>,
    pub deleted: Vec<String>,
    pub failed: Vec<String>,
    /// Why the whole batch failed (function error, invalid response...), if it did.
    pub error: Option<String>,
}

/// Counters and the last batches of a mapping.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EsmStats {
    pub batches: VecDeque<BatchRecord>,
    pub messages_deleted: u64,
    pub messages_failed: u64,
    pub receive_errors: u64,
}

const MAX_BATCH_RECORDS: usize = 1000;

/// A running mapping; stops when dropped or on [`EventSourceMapping::stop`].
pub struct EventSourceMapping {
    config: EsmConfig,
    stop_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    stats: Arc<Mutex<EsmStats>>,
}

impl Drop for EventSourceMapping {
    fn drop(&mut self) {
        let _ = self.stop_tx.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl EventSourceMapping {
    /// Starts `config.concurrency` pollers (none when `enabled` is false).
    pub fn start(sqs: aws_sdk_sqs::Client, config: EsmConfig, function: FunctionPool) -> Self {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stats = Arc::new(Mutex::new(EsmStats::default()));
        let config_arc = Arc::new(config.clone());
        let tasks = if config.enabled {
            (0..config.concurrency.max(1))
                .map(|_| {
                    tokio::spawn(poll_loop(
                        sqs.clone(),
                        config_arc.clone(),
                        function.clone(),
                        stats.clone(),
                        stop_rx.clone(),
                    ))
                })
                .collect()
        } else {
            vec![]
        };
        EventSourceMapping {
            config,
            stop_tx,
            tasks,
            stats,
        }
    }

    pub fn config(&self) -> &EsmConfig {
        &self.config
    }

    pub fn stats(&self) -> EsmStats {
        self.stats.lock().unwrap().clone()
    }

    /// Stops polling; a batch being processed finishes (up to `grace`) before the pollers end.
    pub async fn stop(mut self, grace: Duration) {
        let _ = self.stop_tx.send(true);
        let tasks = std::mem::take(&mut self.tasks);
        for mut t in tasks {
            if tokio::time::timeout(grace, &mut t).await.is_err() {
                t.abort();
            }
        }
    }
}

async fn poll_loop(
    sqs: aws_sdk_sqs::Client,
    cfg: Arc<EsmConfig>,
    function: FunctionPool,
    stats: Arc<Mutex<EsmStats>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            break;
        }
        let received = tokio::select! {
            r = collect_batch(&sqs, &cfg) => r,
            _ = stop.changed() => break,
        };
        let messages = match received {
            Ok(m) => m,
            Err(e) => {
                stats.lock().unwrap().receive_errors += 1;
                tracing::warn!(function = %cfg.function, queue = %cfg.queue_url, "ReceiveMessage failed: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                    _ = stop.changed() => break,
                }
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        process_batch(&sqs, &cfg, &function, &stats, messages).await;
    }
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    cfg: &EsmConfig,
    max: usize,
    wait: Duration,
) -> Result<Vec<Message>, String> {
    let out = sqs
        .receive_message()
        .queue_url(&cfg.queue_url)
        .max_number_of_messages(max.clamp(1, 10) as i32)
        .wait_time_seconds(wait.as_secs().min(20) as i32)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    Ok(out.messages.unwrap_or_default())
}

/// Up to `batch_size` messages: one long poll, then more until the batching window closes.
async fn collect_batch(sqs: &aws_sdk_sqs::Client, cfg: &EsmConfig) -> Result<Vec<Message>, String> {
    let max = cfg.batch_size.max(1) as usize;
    let mut out = receive(sqs, cfg, max, cfg.wait_time).await?;
    if out.is_empty() || cfg.batching_window.is_zero() {
        return Ok(out);
    }
    let deadline = tokio::time::Instant::now() + cfg.batching_window;
    let mut seen: HashSet<String> = out.iter().filter_map(|m| m.message_id.clone()).collect();
    while out.len() < max {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            break;
        }
        let more = receive(sqs, cfg, max - out.len(), remaining).await?;
        if more.is_empty() && remaining < Duration::from_secs(1) {
            tokio::time::sleep(remaining.min(Duration::from_millis(100))).await;
        }
        for m in more {
            if m.message_id
                .as_ref()
                .is_some_and(|id| seen.insert(id.clone()))
            {
                out.push(m);
            }
        }
    }
    Ok(out)
}

/// Lambda's SQS event for `messages`.
pub fn build_sqs_event(messages: &[Message], queue_arn: &str, region: &str) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: Map<String, Value> = m
                .attributes
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_string(), json!(v)))
                .collect();
            let message_attributes: Map<String, Value> = m
                .message_attributes
                .iter()
                .flatten()
                .map(|(k, v)| {
                    let mut a = Map::new();
                    if let Some(s) = v.string_value() {
                        a.insert("stringValue".into(), json!(s));
                    }
                    if let Some(b) = v.binary_value() {
                        a.insert("binaryValue".into(), json!(b64.encode(b.as_ref())));
                    }
                    a.insert("stringListValues".into(), json!(v.string_list_values()));
                    let binary_list: Vec<String> = v
                        .binary_list_values()
                        .iter()
                        .map(|b| b64.encode(b.as_ref()))
                        .collect();
                    a.insert("binaryListValues".into(), json!(binary_list));
                    a.insert("dataType".into(), json!(v.data_type()));
                    (k.clone(), Value::Object(a))
                })
                .collect();
            let mut r = Map::new();
            r.insert(
                "messageId".into(),
                json!(m.message_id.as_deref().unwrap_or_default()),
            );
            r.insert(
                "receiptHandle".into(),
                json!(m.receipt_handle.as_deref().unwrap_or_default()),
            );
            r.insert("body".into(), json!(m.body.as_deref().unwrap_or_default()));
            r.insert("attributes".into(), Value::Object(attributes));
            r.insert(
                "messageAttributes".into(),
                Value::Object(message_attributes),
            );
            r.insert(
                "md5OfBody".into(),
                json!(m.md5_of_body.as_deref().unwrap_or_default()),
            );
            if let Some(md5) = &m.md5_of_message_attributes {
                r.insert("md5OfMessageAttributes".into(), json!(md5));
            }
            r.insert("eventSource".into(), json!("aws:sqs"));
            r.insert("eventSourceARN".into(), json!(queue_arn));
            r.insert("awsRegion".into(), json!(region));
            Value::Object(r)
        })
        .collect();
    json!({ "Records": records })
}

/// The message ids a `ReportBatchItemFailures` response marks as failed. An `Err` fails the
/// whole batch, as Lambda does for an invalid response or an empty / unknown `itemIdentifier`.
/// `null`, `{}`, a missing, `null` or empty `batchItemFailures` mean complete success.
pub fn batch_item_failures(payload: &[u8], message_ids: &[String]) -> Result<Vec<String>, String> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(vec![]);
    }
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| format!("response is not JSON: {e}"))?;
    let failures = match &v {
        Value::Null => return Ok(vec![]),
        Value::Object(o) => match o.get("batchItemFailures") {
            None | Some(Value::Null) => return Ok(vec![]),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(format!("batchItemFailures is not a list: {other}")),
        },
        other => return Err(format!("invalid response {other}")),
    };
    let mut out = vec![];
    for item in failures {
        let id = item
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("batch item failure without an itemIdentifier: {item}"))?;
        if id.is_empty() {
            return Err("empty itemIdentifier".into());
        }
        if !message_ids.iter().any(|m| m == id) {
            return Err(format!("itemIdentifier {id} is not a message of the batch"));
        }
        if !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

async fn process_batch(
    sqs: &aws_sdk_sqs::Client,
    cfg: &EsmConfig,
    function: &FunctionPool,
    stats: &Mutex<EsmStats>,
    messages: Vec<Message>,
) {
    let ids: Vec<String> = messages
        .iter()
        .map(|m| m.message_id.clone().unwrap_or_default())
        .collect();
    let event = build_sqs_event(&messages, &cfg.queue_arn, &cfg.region);
    let outcome = match function.invoke(event.to_string()).await {
        Ok(payload) if cfg.report_batch_item_failures => batch_item_failures(&payload, &ids),
        Ok(_) => Ok(vec![]),
        Err(e) => Err(e.to_string()),
    };
    let (failed, error) = match outcome {
        Ok(failed) => (failed, None),
        Err(e) => {
            tracing::warn!(function = %cfg.function, "batch of {} failed: {e}", ids.len());
            (ids.clone(), Some(e))
        }
    };
    let to_delete: Vec<(String, String)> = messages
        .iter()
        .filter(|m| !failed.iter().any(|f| Some(f) == m.message_id.as_ref()))
        .filter_map(|m| Some((m.message_id.clone()?, m.receipt_handle.clone()?)))
        .collect();
    let mut deleted = vec![];
    for chunk in to_delete.chunks(10) {
        let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, (_, rh))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(rh)
                    .build()
                    .ok()
            })
            .collect();
        match sqs
            .delete_message_batch()
            .queue_url(&cfg.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => {
                for ok in out.successful {
                    let i: usize = ok.id.trim_start_matches('m').parse().unwrap_or(usize::MAX);
                    if let Some((id, _)) = chunk.get(i) {
                        deleted.push(id.clone());
                    }
                }
                for f in out.failed {
                    tracing::warn!(function = %cfg.function, "DeleteMessageBatch entry failed: {:?}", f.message);
                }
            }
            Err(e) => {
                tracing::warn!(function = %cfg.function, "DeleteMessageBatch failed: {}", aws_sdk_sqs::error::DisplayErrorContext(e));
            }
        }
    }
    let mut s = stats.lock().unwrap();
    s.messages_deleted += deleted.len() as u64;
    s.messages_failed += failed.len() as u64;
    if s.batches.len() >= MAX_BATCH_RECORDS {
        s.batches.pop_front();
    }
    s.batches.push_back(BatchRecord {
        message_ids: ids,
        deleted,
        failed,
        error,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::primitives::Blob;
    use aws_sdk_sqs::types::MessageAttributeValue;

    fn ids() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn partial_batch_responses() {
        let f = |s: &str| batch_item_failures(s.as_bytes(), &ids());
        assert_eq!(f(""), Ok(vec![]));
        assert_eq!(f("null"), Ok(vec![]));
        assert_eq!(f("{}"), Ok(vec![]));
        assert_eq!(f(r#"{"batchItemFailures":[]}"#), Ok(vec![]));
        assert_eq!(f(r#"{"batchItemFailures":null}"#), Ok(vec![]));
        assert_eq!(
            f(
                r#"{"batchItemFailures":[{"itemIdentifier":"b"},{"itemIdentifier":"c"},{"itemIdentifier":"b"}]}"#
            ),
            Ok(vec!["b".to_string(), "c".to_string()])
        );
        assert!(f(r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#).is_err());
        assert!(f(r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#).is_err());
        assert!(f(r#"{"batchItemFailures":[{"ItemIdentifier":"a"}]}"#).is_err());
        assert!(f(r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#).is_err());
        assert!(f(r#"{"batchItemFailures":"a"}"#).is_err());
        assert!(f("not json").is_err());
        assert!(f(r#""ok""#).is_err());
    }

    #[test]
    fn sqs_event_deserializes_with_aws_lambda_events() {
        let m = Message::builder()
            .message_id("id-1")
            .receipt_handle("rh-1")
            .body("hello")
            .md5_of_body("5d41402abc4b2a76b9719d911017c592")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1700000000000")
            .message_attributes(
                "kind",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("x")
                    .build()
                    .unwrap(),
            )
            .message_attributes(
                "raw",
                MessageAttributeValue::builder()
                    .data_type("Binary")
                    .binary_value(Blob::new(vec![1, 2, 3]))
                    .build()
                    .unwrap(),
            )
            .build();
        let event = build_sqs_event(&[m], "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1");
        let r = &event["Records"][0];
        assert_eq!(r["eventSource"], "aws:sqs");
        assert_eq!(r["attributes"]["ApproximateReceiveCount"], "2");
        assert_eq!(r["messageAttributes"]["kind"]["stringValue"], "x");
        assert_eq!(r["messageAttributes"]["raw"]["binaryValue"], "AQID");
        let parsed: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_value(event.clone()).expect("aws_lambda_events parses the event");
        let rec = &parsed.records[0];
        assert_eq!(rec.message_id.as_deref(), Some("id-1"));
        assert_eq!(rec.receipt_handle.as_deref(), Some("rh-1"));
        assert_eq!(rec.body.as_deref(), Some("hello"));
        assert_eq!(
            rec.event_source_arn.as_deref(),
            Some("arn:aws:sqs:us-east-1:123456789012:q")
        );
        assert_eq!(rec.aws_region.as_deref(), Some("us-east-1"));
        assert_eq!(rec.attributes["ApproximateReceiveCount"], "2");
        assert_eq!(
            rec.message_attributes["kind"].string_value.as_deref(),
            Some("x")
        );
    }
}
