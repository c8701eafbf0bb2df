//! The post-call pipeline against moto through the real SDK (queues and table from
//! template.yaml), with Twilio played by a scripted HTTP server: signatures, storage,
//! the chain of stages, exactly-once effects under replays, texts, opt-outs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use frontdesk_app::postcall::SmsStatus;
use frontdesk_app::postcall::dynamodb::DynamoPipeline;
use frontdesk_app::postcall::stages::{Stage, run};
use frontdesk_app::postcall::webhook::{Pipeline, QueueUrls, handle_webhook, sweep_outbox};
use frontdesk_app::queue::{Job, Queue, QueueError, SqsQueue};
use frontdesk_app::secrets::StaticSecrets;
use frontdesk_app::store::dynamodb::DynamoStore;
use frontdesk_app::store::{BusinessRecord, BusinessStore};
use frontdesk_app::tools::Clock;
use frontdesk_app::twilio::TwilioClient;
use frontdesk_rules::parse_business_config;
use frontdesk_tests::pipeline;
use frontdesk_tests::stack::TestStack;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, Request as WireRequest, ResponseTemplate};

const WEBHOOK_SECRET: &str = "wsec_test_0123456789abcdef";
const BUSINESS_NUMBER: &str = "+12125550100";
const CALLER: &str = "+12125550142";
const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

struct Fixed(DateTime<Utc>);
impl Clock for Fixed {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Tuesday 2026-11-24, 15:00 in New York: outside the demo's quiet hours.
fn now() -> DateTime<Utc> {
    "2026-11-24T20:00:00Z".parse().unwrap()
}

struct Harness {
    p: Pipeline,
    stack: TestStack,
    twilio: MockServer,
    store: Arc<DynamoPipeline>,
}

async fn business(store: &DynamoStore, quiet: Option<Value>) {
    let mut doc: Value = serde_json::from_str(include_str!("../infra/demo/business.json")).unwrap();
    doc.as_object_mut().unwrap().remove("id");
    doc["telephony"]["numbers"] = json!([BUSINESS_NUMBER]);
    doc["sms"]["sender"] = json!(BUSINESS_NUMBER);
    doc["sms"]["quiet_hours"] = quiet.unwrap_or(Value::Null);
    let config = parse_business_config(doc).unwrap();
    store
        .create(&BusinessRecord {
            id: "demo-dental".into(),
            version: 1,
            created_at: now(),
            updated_at: now(),
            config,
        })
        .await
        .unwrap();
}

fn message_json(sid: &str, body: &str) -> Value {
    json!({"sid": sid, "status": "queued", "to": CALLER, "from": BUSINESS_NUMBER, "body": body,
           "num_segments": "1", "account_sid": ACCOUNT})
}

/// Twilio: every send answers 201 with a fresh sid.
async fn twilio_ok() -> MockServer {
    let server = MockServer::start().await;
    pipeline::mount_twilio_messages(&server).await;
    server
}

async fn harness_with(twilio: MockServer, quiet: Option<Value>) -> Harness {
    let stack = TestStack::provision(&[]).await;
    let table = stack.table("Table");
    let dynamodb = stack.dynamodb();
    let businesses = DynamoStore::new(dynamodb.clone(), table.clone());
    business(&businesses, quiet).await;
    let store = Arc::new(DynamoPipeline::new(dynamodb, table));
    let p = Pipeline {
        businesses: Arc::new(businesses),
        calls: store.clone(),
        crm: store.clone(),
        ledger: store.clone(),
        queue: Arc::new(SqsQueue::new(stack.sqs())),
        sms: Arc::new(TwilioClient::new(twilio.uri(), Duration::from_secs(2))),
        secrets: Arc::new(StaticSecrets::new([
            (
                "el".to_owned(),
                json!({"api_key": "xi", "webhook_secret": WEBHOOK_SECRET}).to_string(),
            ),
            (
                "tw".to_owned(),
                json!({"account_sid": ACCOUNT, "auth_token": "twilio-token"}).to_string(),
            ),
        ])),
        queues: QueueUrls {
            process: Some(stack.queue_url("PostcallQueue")),
            crm: Some(stack.queue_url("CrmSyncQueue")),
            sms: Some(stack.queue_url("SmsSendQueue")),
            analytics: Some(stack.queue_url("AnalyticsQueue")),
        },
        elevenlabs_secret_id: Some("el".into()),
        twilio_secret_id: Some("tw".into()),
        public_base_url: Some("https://hooks.example.com".into()),
        transcript_url_template: "https://dash.example/{conversation_id}".into(),
        assess_rules: Default::default(),
        clock: Arc::new(Fixed(now())),
    };
    Harness {
        p,
        stack,
        twilio,
        store,
    }
}

async fn harness() -> Harness {
    harness_with(twilio_ok().await, None).await
}

/// A transcription in which the agent booked a cleaning.
fn booked_call(conversation: &str) -> Value {
    let booking = json!({"ok": true, "booking": {"booking_id": "K7M2Q9XD", "status": "booked",
        "service_id": "cleaning", "service_name": "Teeth cleaning", "staff_id": "dr-lee", "staff_name": "Dr. Lee",
        "start": "2026-11-26T09:00:00-05:00", "end": "2026-11-26T09:45:00-05:00",
        "customer_name": "Ana Diaz", "customer_phone": CALLER}, "say": "Booked."});
    json!({
        "type": "post_call_transcription",
        "event_timestamp": now().timestamp(),
        "data": {
            "agent_id": "agent_1", "conversation_id": conversation, "status": "done",
            "transcript": [
                {"role": "agent", "message": "Smile Dental, how can I help?", "time_in_call_secs": 0},
                {"role": "user", "message": "A cleaning on Thursday, please.", "time_in_call_secs": 3},
                {"role": "agent", "message": null, "time_in_call_secs": 6, "tool_calls": [
                    {"type": "webhook", "request_id": "r1", "tool_name": "create_booking",
                     "params_as_json": "{}", "tool_has_been_called": true}]},
                {"role": "agent", "message": null, "time_in_call_secs": 7, "tool_results": [
                    {"type": "webhook", "request_id": "r1", "tool_name": "create_booking",
                     "result_value": booking.to_string(), "is_error": false, "tool_latency_secs": 0.4}]},
                {"role": "agent", "message": "You're booked.", "time_in_call_secs": 9}
            ],
            "metadata": {"start_time_unix_secs": now().timestamp() - 120, "call_duration_secs": 95,
                "phone_call": {"type": "twilio", "direction": "inbound", "agent_number": BUSINESS_NUMBER,
                               "external_number": CALLER, "call_sid": format!("CA{conversation}")}},
            "analysis": {"call_successful": "success", "transcript_summary": "Booked a cleaning for Thursday 9 AM.",
                "data_collection_results": {"caller_name": {"data_collection_id": "caller_name", "value": "Ana Diaz"}}}
        }
    })
}

fn info_call(conversation: &str) -> Value {
    let mut v = booked_call(conversation);
    let t = v["data"]["transcript"].as_array_mut().unwrap();
    t.remove(3);
    t.remove(2);
    v["data"]["analysis"]["transcript_summary"] = json!("Asked about parking.");
    v
}

fn webhook_request(body: &str, signature: Option<String>) -> Request {
    let mut b = http::Request::builder()
        .method("POST")
        .uri("/webhooks/elevenlabs/post-call")
        .header("content-type", "application/json");
    if let Some(sig) = signature {
        b = b.header("elevenlabs-signature", sig);
    }
    b.body(Body::Text(body.to_owned())).unwrap()
}

fn signed(body: &str) -> Request {
    let sig = frontdesk_verify::elevenlabs::sign(
        WEBHOOK_SECRET.as_bytes(),
        now().timestamp(),
        body.as_bytes(),
    );
    webhook_request(body, Some(sig))
}

async fn post(h: &Harness, req: Request) -> (u16, Value) {
    let resp = handle_webhook(&h.p, req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes: &[u8] = resp.body().as_ref();
    (status, serde_json::from_slice(bytes).unwrap_or(Value::Null))
}

/// Runs the chain until every queue is empty (see frontdesk_tests::pipeline::drain).
async fn drain(h: &Harness) -> BTreeMap<&'static str, usize> {
    pipeline::drain(&h.p, &h.stack, false).await
}

/// Like [`drain`], failing jobs left for SQS's redrive policy.
async fn drain_allowing_failures(
    h: &Harness,
    allow_failures: bool,
) -> BTreeMap<&'static str, usize> {
    pipeline::drain(&h.p, &h.stack, allow_failures).await
}

async fn texts_sent(h: &Harness) -> Vec<BTreeMap<String, String>> {
    h.twilio
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| {
            frontdesk_verify::twilio::parse_form(&r.body)
                .unwrap()
                .into_iter()
                .collect()
        })
        .collect()
}

async fn items_with_prefix(h: &Harness, pk: &str, prefix: &str) -> Vec<Value> {
    let out = h
        .stack
        .dynamodb()
        .query()
        .table_name(h.stack.table("Table"))
        .key_condition_expression("pk = :p AND begins_with(sk, :s)")
        .expression_attribute_values(":p", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
        .expression_attribute_values(
            ":s",
            aws_sdk_dynamodb::types::AttributeValue::S(prefix.into()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .map(|i| serde_dynamo::from_item(i.clone()).unwrap())
        .collect()
}

fn day() -> chrono::NaiveDate {
    "2026-11-24".parse().unwrap()
}

#[tokio::test]
async fn bad_signatures_get_401_and_nothing_is_stored() {
    let h = harness().await;
    let body = booked_call("conv-bad").to_string();
    let forged =
        frontdesk_verify::elevenlabs::sign(b"not-the-secret", now().timestamp(), body.as_bytes());
    let stale = frontdesk_verify::elevenlabs::sign(
        WEBHOOK_SECRET.as_bytes(),
        now().timestamp() - 31 * 60,
        body.as_bytes(),
    );
    let future = frontdesk_verify::elevenlabs::sign(
        WEBHOOK_SECRET.as_bytes(),
        now().timestamp() + 6 * 60,
        body.as_bytes(),
    );
    // Signed for the original body, sent with another.
    let tampered = webhook_request(
        &body.replace("Ana Diaz", "Eve"),
        signed(&body)
            .headers()
            .get("elevenlabs-signature")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    for req in [
        webhook_request(&body, None),
        webhook_request(&body, Some("garbage".into())),
        webhook_request(&body, Some(forged)),
        webhook_request(&body, Some(stale)),
        webhook_request(&body, Some(future)),
        tampered,
    ] {
        let (status, v) = post(&h, req).await;
        assert_eq!(status, 401, "{v}");
        assert_eq!(v["type"], "urn:frontdesk:problem:invalid-signature", "{v}");
    }
    assert!(
        h.p.calls
            .call("demo-dental", "conv-bad")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        items_with_prefix(&h, "BIZ#demo-dental", "WEBHOOK#")
            .await
            .is_empty()
    );
    assert_eq!(drain(&h).await, BTreeMap::new(), "nothing was enqueued");
    let rejected = h.p.calls.stats("_unattributed", day()).await.unwrap();
    assert_eq!(rejected.get("webhooks_rejected"), Some(&6));
}

#[tokio::test]
async fn a_booked_call_flows_through_every_stage() {
    let h = harness().await;
    let body = booked_call("conv-1").to_string();
    let (status, v) = post(&h, signed(&body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["duplicate"], false);
    let ran = drain(&h).await;
    assert_eq!(
        ran,
        BTreeMap::from([("analytics", 1), ("crm", 1), ("process", 1), ("sms", 1)])
    );

    let call =
        h.p.calls
            .call("demo-dental", "conv-1")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(call.caller.as_deref(), Some(CALLER));
    assert_eq!(
        call.transcript_url.as_deref(),
        Some("https://dash.example/conv-1")
    );
    let a = call.assessment.unwrap();
    assert_eq!(a.disposition.as_str(), "booked");

    // CRM: the contact, one activity, a note on the booking (no booking item here, so none),
    let contact = &items_with_prefix(&h, "BIZ#demo-dental", &format!("CONTACT#{CALLER}")).await[0];
    assert_eq!(contact["calls"], 1);
    assert_eq!(contact["name"], "Ana Diaz");
    let activities = items_with_prefix(&h, "BIZ#demo-dental", &format!("ACTIVITY#{CALLER}#")).await;
    assert_eq!(activities.len(), 1);
    assert_eq!(activities[0]["disposition"], "booked");
    assert_eq!(activities[0]["booking_id"], "K7M2Q9XD");

    // One text: the booking confirmation, from the business's number, with a status callback.
    let sent = texts_sent(&h).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["To"], CALLER);
    assert_eq!(sent[0]["From"], BUSINESS_NUMBER);
    assert_eq!(
        sent[0]["StatusCallback"],
        "https://hooks.example.com/webhooks/twilio/sms-status"
    );
    let text = &sent[0]["Body"];
    assert!(text.contains("Thursday, November 26"), "{text}");
    assert!(text.contains("9 AM") || text.contains("9:00"), "{text}");
    assert!(text.contains("STOP"), "{text}");
    let sms =
        h.p.ledger
            .get("demo-dental", "conv-1", "booking_confirmation")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(sms.status, SmsStatus::Sent);
    assert!(sms.message_sid.unwrap().starts_with("SM"));

    let stats = h.p.calls.stats("demo-dental", day()).await.unwrap();
    for (k, v) in [
        ("calls", 1),
        ("disposition_booked", 1),
        ("bookings", 1),
        ("sms_sent", 1),
        ("webhooks_received", 1),
        ("processing_count", 1),
    ] {
        assert_eq!(stats.get(k), Some(&v), "{k} in {stats:?}");
    }
}

#[tokio::test]
async fn a_webhook_replayed_100_times_concurrently_has_one_effect() {
    let h = harness().await;
    let body = booked_call("conv-replayed").to_string();
    let answers = futures::future::join_all((0..100).map(|_| post(&h, signed(&body)))).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    let fresh = answers
        .iter()
        .filter(|(_, v)| v["duplicate"] == false)
        .count();
    assert_eq!(fresh, 1);
    // Every stage also sees its job twice (SQS at least once): still one effect each.
    let job = Job::new("demo-dental", "conv-replayed");
    for (queue, _) in [("PostcallQueue", 0)] {
        h.p.queue
            .send(&h.stack.queue_url(queue), &job, Duration::ZERO)
            .await
            .unwrap();
    }
    drain(&h).await;
    for stage in [Stage::CrmSync, Stage::SmsSend, Stage::Analytics] {
        run(&h.p, stage, &job).await.unwrap();
    }
    drain(&h).await;
    assert_eq!(texts_sent(&h).await.len(), 1);
    assert_eq!(
        items_with_prefix(&h, "BIZ#demo-dental", &format!("ACTIVITY#{CALLER}#"))
            .await
            .len(),
        1
    );
    let contact = &items_with_prefix(&h, "BIZ#demo-dental", &format!("CONTACT#{CALLER}")).await[0];
    assert_eq!(contact["calls"], 1);
    let stats = h.p.calls.stats("demo-dental", day()).await.unwrap();
    assert_eq!(stats.get("calls"), Some(&1), "{stats:?}");
    assert_eq!(stats.get("webhooks_received"), Some(&1), "{stats:?}");
}

/// A queue that fails: the record stays in the outbox, and the sweep re-drives it.
struct DownQueue;
#[async_trait::async_trait]
impl Queue for DownQueue {
    async fn send(&self, queue_url: &str, _: &Job, _: Duration) -> Result<(), QueueError> {
        Err(QueueError {
            queue: queue_url.to_owned(),
            message: "SQS is down".into(),
        })
    }
}

#[tokio::test]
async fn a_failed_enqueue_is_swept_later_never_lost_never_doubled() {
    let mut h = harness().await;
    let working = std::mem::replace(&mut h.p.queue, Arc::new(DownQueue));
    let (status, _) = post(&h, signed(&info_call("conv-outbox").to_string())).await;
    assert_eq!(status, 200, "stored, so accepted");
    assert!(
        h.p.calls
            .call("demo-dental", "conv-outbox")
            .await
            .unwrap()
            .is_some()
    );
    h.p.queue = working;
    // Too fresh for the sweep (the webhook's own enqueue may still be on its way).
    assert_eq!(sweep_outbox(&h.p).await.unwrap(), 0);
    h.p.clock = Arc::new(Fixed(now() + chrono::Duration::minutes(2)));
    assert_eq!(sweep_outbox(&h.p).await.unwrap(), 1);
    assert_eq!(
        sweep_outbox(&h.p).await.unwrap(),
        0,
        "cleared once enqueued"
    );
    let ran = drain(&h).await;
    assert_eq!(ran.get("analytics"), Some(&1));
    let sent = texts_sent(&h).await;
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]["Body"].contains("parking") || sent[0]["Body"].contains("Smile Dental"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn unknown_types_and_audio_are_answered_without_work() {
    let h = harness().await;
    for body in [
        json!({"type": "post_call_audio", "data": {"conversation_id": "c", "full_audio": "SUQz"}}),
        json!({"type": "something_new", "data": {}}),
    ] {
        let (status, v) = post(&h, signed(&body.to_string())).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["status"], "ignored");
    }
    let (status, v) = post(&h, signed("[1, 2]")).await;
    assert_eq!(status, 400, "{v}");
    let big = "x".repeat(frontdesk_app::postcall::webhook::MAX_BODY_BYTES + 1);
    let (status, _) = post(&h, signed(&big)).await;
    assert_eq!(status, 413);
    assert_eq!(drain(&h).await, BTreeMap::new());
}

#[tokio::test]
async fn initiation_failures_are_recorded_once() {
    let h = harness().await;
    let body = json!({"type": "call_initiation_failure", "event_timestamp": now().timestamp(),
        "data": {"agent_id": "a", "conversation_id": "conv-fail", "failure_reason": "busy",
                 "metadata": {"type": "twilio", "body": {"CallSid": "CA1", "CallStatus": "busy",
                     "From": BUSINESS_NUMBER, "To": CALLER, "Direction": "outbound-api"}}}})
    .to_string();
    for _ in 0..3 {
        let (status, v) = post(&h, signed(&body)).await;
        assert_eq!(status, 200, "{v}");
    }
    let stats = h.p.calls.stats("demo-dental", day()).await.unwrap();
    assert_eq!(stats.get("initiation_failures"), Some(&1), "{stats:?}");
    assert_eq!(stats.get("initiation_failure_busy"), Some(&1), "{stats:?}");
    // The same answer-rate counters as Twilio's call status callbacks.
    assert_eq!(stats.get("calls_busy"), Some(&1), "{stats:?}");
    assert_eq!(stats.get("calls_ended"), Some(&1), "{stats:?}");
}

#[tokio::test]
async fn opted_out_callers_get_no_text_and_21610_opts_out() {
    // Twilio refuses with 21610 (the caller replied STOP to Twilio directly).
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400})))
        .mount(&twilio)
        .await;
    let h = harness_with(twilio, None).await;
    post(&h, signed(&booked_call("conv-a").to_string())).await;
    drain(&h).await;
    let sms =
        h.p.ledger
            .get("demo-dental", "conv-a", "booking_confirmation")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(sms.status, SmsStatus::OptedOut);
    assert!(
        h.p.ledger
            .is_opted_out("demo-dental", CALLER)
            .await
            .unwrap()
    );
    // The next call: no request to Twilio at all.
    let before = h.twilio.received_requests().await.unwrap().len();
    post(&h, signed(&booked_call("conv-b").to_string())).await;
    drain(&h).await;
    assert_eq!(h.twilio.received_requests().await.unwrap().len(), before);
    let sms =
        h.p.ledger
            .get("demo-dental", "conv-b", "booking_confirmation")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(sms.status, SmsStatus::OptedOut);
    let stats = h.p.calls.stats("demo-dental", day()).await.unwrap();
    assert_eq!(stats.get("sms_opted_out"), Some(&2), "{stats:?}");
}

#[tokio::test]
async fn a_lost_answer_is_reconciled_not_resent() {
    // Twilio takes the message but the answer never arrives in time.
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_delay(Duration::from_secs(5))
                .set_body_json(message_json("SMlost", "x")),
        )
        .mount(&twilio)
        .await;
    let h = harness_with(twilio, None).await;
    post(&h, signed(&booked_call("conv-lost").to_string())).await;
    let job = Job::new("demo-dental", "conv-lost");
    run(&h.p, Stage::Process, &job).await.unwrap();
    run(&h.p, Stage::CrmSync, &job).await.unwrap();
    let err = run(&h.p, Stage::SmsSend, &job).await.unwrap_err();
    assert!(err.0.contains("no answer"), "{err}");
    let sms =
        h.p.ledger
            .get("demo-dental", "conv-lost", "booking_confirmation")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(sms.status, SmsStatus::Unknown);
    let body = sms.body.clone().unwrap();
    // The list shows the message: the retry records it instead of sending again.
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"messages": [message_json("SMfound", &body)]})),
        )
        .mount(&h.twilio)
        .await;
    run(&h.p, Stage::SmsSend, &job).await.unwrap();
    let sms =
        h.p.ledger
            .get("demo-dental", "conv-lost", "booking_confirmation")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(sms.status, SmsStatus::Sent);
    assert_eq!(sms.message_sid.as_deref(), Some("SMfound"));
    let posts = h
        .twilio
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1, "never sent twice");
}

#[tokio::test]
async fn quiet_hours_delay_the_text() {
    let h = harness_with(
        twilio_ok().await,
        Some(json!({"start": "14:00", "end": "18:00"})),
    )
    .await;
    post(&h, signed(&booked_call("conv-quiet").to_string())).await;
    let job = Job::new("demo-dental", "conv-quiet");
    run(&h.p, Stage::Process, &job).await.unwrap();
    run(&h.p, Stage::SmsSend, &job).await.unwrap();
    assert!(texts_sent(&h).await.is_empty());
    // Put back on the SMS queue with a delay and the time it may go.
    let out = h
        .stack
        .sqs()
        .receive_message()
        .queue_url(h.stack.queue_url("SmsSendQueue"))
        .wait_time_seconds(0)
        .send()
        .await
        .unwrap();
    assert!(out.messages().is_empty(), "delayed, not visible yet");
    let attrs = h
        .stack
        .sqs()
        .get_queue_attributes()
        .queue_url(h.stack.queue_url("SmsSendQueue"))
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .unwrap();
    let delayed = attrs.attributes().unwrap()
        [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed]
        .clone();
    assert_eq!(delayed, "1");
    // After the window the same job sends.
    let mut h = h;
    h.p.clock = Arc::new(Fixed("2026-11-24T23:00:01Z".parse().unwrap()));
    run(&h.p, Stage::SmsSend, &job).await.unwrap();
    assert_eq!(texts_sent(&h).await.len(), 1);
    let _ = h.store;
}

#[tokio::test]
async fn a_failing_stage_lands_in_its_dlq_while_others_flow_and_redrive_completes_it() {
    const UNLUCKY: &str = "+12125550199";
    let twilio = MockServer::start().await;
    // Twilio fails for one caller only (a 500 is retried through SQS).
    Mock::given(method("POST"))
        .and(body_string_contains("To=%2B12125550199"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"code": 20500, "message": "Internal error", "status": 500})),
        )
        .with_priority(1)
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .respond_with(|req: &WireRequest| {
            let form: BTreeMap<String, String> = frontdesk_verify::twilio::parse_form(&req.body)
                .unwrap()
                .into_iter()
                .collect();
            ResponseTemplate::new(201).set_body_json(message_json("SMok", &form["Body"]))
        })
        .with_priority(5)
        .mount(&twilio)
        .await;
    let h = harness_with(twilio, None).await;
    let mut unlucky = booked_call("conv-unlucky");
    unlucky["data"]["metadata"]["phone_call"]["external_number"] = json!(UNLUCKY);
    post(&h, signed(&booked_call("conv-lucky").to_string())).await;
    post(&h, signed(&unlucky.to_string())).await;
    drain_allowing_failures(&h, true).await;

    // The other call went all the way; the failing one is in the SMS stage's DLQ.
    let sms = |call: &'static str| {
        let ledger = h.p.ledger.clone();
        async move {
            ledger
                .get("demo-dental", call, "booking_confirmation")
                .await
                .unwrap()
                .unwrap()
        }
    };
    assert_eq!(sms("conv-lucky").await.status, SmsStatus::Sent);
    let stuck = sms("conv-unlucky").await;
    assert_eq!(stuck.status, SmsStatus::Retry);
    assert_eq!(
        stuck.attempts, 5,
        "one attempt per delivery, maxReceiveCount 5"
    );
    let dlq = h.stack.queue_url("SmsSendDLQ");
    let depth = |url: String| {
        let sqs = h.stack.sqs();
        async move {
            let name = aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages;
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(name.clone())
                .send()
                .await
                .unwrap()
                .attributes()
                .unwrap()[&name]
                .clone()
        }
    };
    assert_eq!(depth(dlq.clone()).await, "1");
    let stats = h.p.calls.stats("demo-dental", day()).await.unwrap();
    assert_eq!(
        stats.get("calls"),
        Some(&1),
        "only the lucky call reached analytics"
    );

    // Twilio recovers; the documented redrive command moves the message back; it completes.
    h.twilio.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(message_json("SMlater", "x")))
        .mount(&h.twilio)
        .await;
    let out =
        std::process::Command::new(frontdesk_tests::moto::workspace_root().join("scripts/redrive"))
            .args(["--from", &dlq, "--to", &h.stack.queue_url("SmsSendQueue")])
            .output()
            .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("moved 1 message"), "{stdout}");
    assert_eq!(depth(dlq).await, "0");
    drain(&h).await;
    let done = sms("conv-unlucky").await;
    assert_eq!(done.status, SmsStatus::Sent);
    assert_eq!(done.message_sid.as_deref(), Some("SMlater"));
    let stats = h.p.calls.stats("demo-dental", day()).await.unwrap();
    assert_eq!(stats.get("calls"), Some(&2));
    assert_eq!(stats.get("sms_sent"), Some(&2));
}

/// A Twilio webhook request signed with `token` for the public URL.
fn twilio_request(path: &str, params: &[(&str, &str)], token: &str) -> Request {
    pipeline::twilio_request("https://hooks.example.com", path, params, token)
}

async fn answer(resp: lambda_http::Response<Body>) -> (u16, String) {
    let status = resp.status().as_u16();
    let bytes: &[u8] = resp.body().as_ref();
    (status, String::from_utf8_lossy(bytes).into_owned())
}

#[tokio::test]
async fn delivery_statuses_move_forward_only_and_count_once() {
    use frontdesk_app::postcall::sms_webhooks::handle_status;
    let h = harness().await;
    post(&h, signed(&booked_call("conv-st").to_string())).await;
    drain(&h).await;
    let sms =
        h.p.ledger
            .get("demo-dental", "conv-st", "booking_confirmation")
            .await
            .unwrap()
            .unwrap();
    let sid = sms.message_sid.clone().unwrap();
    let status = |s: &'static str, token: &'static str| {
        twilio_request(
            "/webhooks/twilio/sms-status",
            &[
                ("MessageSid", sid.as_str()),
                ("MessageStatus", s),
                ("AccountSid", ACCOUNT),
                ("To", CALLER),
            ],
            token,
        )
    };
    // Forged: 403, nothing changes.
    let (code, _) = answer(
        handle_status(&h.p, status("delivered", "wrong-token"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 403);
    let unchanged =
        h.p.ledger
            .get("demo-dental", "conv-st", "booking_confirmation")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(unchanged.delivery, sms.delivery);
    // delivered arrives before sent, and twice: delivered stays, counted once.
    for s in ["delivered", "sent", "delivered", "sending"] {
        let (code, body) = answer(
            handle_status(&h.p, status(s, "twilio-token"))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(code, 200, "{body}");
    }
    let after =
        h.p.ledger
            .get("demo-dental", "conv-st", "booking_confirmation")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(after.delivery.as_deref(), Some("delivered"));
    let stats = h.p.calls.stats("demo-dental", day()).await.unwrap();
    assert_eq!(stats.get("sms_delivered"), Some(&1), "{stats:?}");
    // An unknown message: 200, nothing to do.
    let other = twilio_request(
        "/webhooks/twilio/sms-status",
        &[("MessageSid", "SMunknown"), ("MessageStatus", "delivered")],
        "twilio-token",
    );
    let (code, _) = answer(handle_status(&h.p, other).await.unwrap()).await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn inbound_texts_opt_out_opt_in_help_and_replies() {
    use frontdesk_app::postcall::sms_webhooks::handle_inbound;
    let h = harness().await;
    let text = |body: &'static str, extra: &[(&'static str, &'static str)], sid: &'static str| {
        let mut p = vec![
            ("MessageSid", sid),
            ("From", CALLER),
            ("To", BUSINESS_NUMBER),
            ("Body", body),
            ("AccountSid", ACCOUNT),
        ];
        p.extend_from_slice(extra);
        twilio_request("/webhooks/twilio/sms-inbound", &p, "twilio-token")
    };
    // Forged: 403, not opted out.
    let forged = twilio_request(
        "/webhooks/twilio/sms-inbound",
        &[("From", CALLER), ("To", BUSINESS_NUMBER), ("Body", "STOP")],
        "not-the-token",
    );
    assert_eq!(
        answer(handle_inbound(&h.p, forged).await.unwrap()).await.0,
        403
    );
    assert!(
        !h.p.ledger
            .is_opted_out("demo-dental", CALLER)
            .await
            .unwrap()
    );

    let (code, twiml) = answer(
        handle_inbound(&h.p, text(" stop. ", &[], "SM1"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 200);
    assert!(twiml.contains("<Response/>"), "{twiml}");
    assert!(
        h.p.ledger
            .is_opted_out("demo-dental", CALLER)
            .await
            .unwrap()
    );
    // An opted-out caller gets no text after a booking.
    post(&h, signed(&booked_call("conv-in").to_string())).await;
    drain(&h).await;
    assert!(texts_sent(&h).await.is_empty());

    handle_inbound(&h.p, text("Start", &[], "SM2"))
        .await
        .unwrap();
    assert!(
        !h.p.ledger
            .is_opted_out("demo-dental", CALLER)
            .await
            .unwrap()
    );
    // Twilio's Advanced Opt-Out decides when it matched a keyword of its own.
    handle_inbound(&h.p, text("arrêt", &[("OptOutType", "STOP")], "SM3"))
        .await
        .unwrap();
    assert!(
        h.p.ledger
            .is_opted_out("demo-dental", CALLER)
            .await
            .unwrap()
    );
    handle_inbound(&h.p, text("START", &[], "SM4"))
        .await
        .unwrap();

    let (_, help) = answer(
        handle_inbound(&h.p, text("HELP", &[], "SM5"))
            .await
            .unwrap(),
    )
    .await;
    assert!(
        help.contains("<Message>") && help.contains("Smile Dental"),
        "{help}"
    );
    let (_, help) = answer(
        handle_inbound(&h.p, text("HELP", &[("OptOutType", "HELP")], "SM6"))
            .await
            .unwrap(),
    )
    .await;
    assert!(
        !help.contains("<Message>"),
        "Twilio already answered: {help}"
    );

    handle_inbound(&h.p, text("Running 10 minutes late <sorry>", &[], "SM7"))
        .await
        .unwrap();
    let activities = items_with_prefix(&h, "BIZ#demo-dental", &format!("ACTIVITY#{CALLER}#")).await;
    let replies: Vec<&Value> = activities
        .iter()
        .filter(|a| a["kind"] == "sms_inbound")
        .collect();
    assert_eq!(replies.len(), 1, "{activities:?}");
    assert_eq!(replies[0]["body"], "Running 10 minutes late <sorry>");
}

#[tokio::test]
async fn crm_notes_the_booking_or_opens_a_follow_up_task_once() {
    let h = harness().await;
    // The booking the agent made exists in the table (as create_booking writes it).
    h.stack
        .dynamodb()
        .put_item()
        .table_name(h.stack.table("Table"))
        .item(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("BIZ#demo-dental".into()),
        )
        .item(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("BOOKING#K7M2Q9XD".into()),
        )
        .item(
            "status",
            aws_sdk_dynamodb::types::AttributeValue::S("booked".into()),
        )
        .send()
        .await
        .unwrap();
    post(&h, signed(&booked_call("conv-note").to_string())).await;
    // A call that needs a callback: the caller asked for one and the agent could not help.
    let mut follow = info_call("conv-follow");
    follow["data"]["analysis"]["call_successful"] = json!("failure");
    follow["data"]["analysis"]["data_collection_results"]["callback_requested"] =
        json!({"data_collection_id": "callback_requested", "value": true});
    post(&h, signed(&follow.to_string())).await;
    drain(&h).await;
    // Delivered again (SQS at least once): no second note, no second task.
    run(&h.p, Stage::CrmSync, &Job::new("demo-dental", "conv-note"))
        .await
        .unwrap();
    run(
        &h.p,
        Stage::CrmSync,
        &Job::new("demo-dental", "conv-follow"),
    )
    .await
    .unwrap();
    drain(&h).await;

    let booking = &items_with_prefix(&h, "BIZ#demo-dental", "BOOKING#K7M2Q9XD").await[0];
    let notes = booking["call_notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{booking}");
    assert_eq!(notes[0]["call_id"], "conv-note");
    assert_eq!(notes[0]["disposition"], "booked");
    let tasks = items_with_prefix(&h, "BIZ#demo-dental", "TASK#").await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["call_id"], "conv-follow");
    assert_eq!(tasks[0]["status"], "open");
    assert_eq!(tasks[0]["phone"], CALLER);
    let call =
        h.p.calls
            .call("demo-dental", "conv-follow")
            .await
            .unwrap()
            .unwrap();
    let a = call.assessment.unwrap();
    assert_eq!(a.disposition.as_str(), "follow_up_needed");
    assert!(!a.flags.is_empty(), "call rated failure is flagged");
    // The follow-up text went out, with its segments known before sending.
    let sms =
        h.p.ledger
            .get("demo-dental", "conv-follow", "follow_up")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(sms.status, SmsStatus::Sent);
    assert_eq!(sms.encoding.as_deref(), Some("gsm7"));
    assert!(sms.segments.unwrap() >= 1);
    let contact = &items_with_prefix(&h, "BIZ#demo-dental", &format!("CONTACT#{CALLER}")).await[0];
    assert_eq!(contact["calls"], 2, "two calls, each counted once");
}

/// The sample event as API Gateway delivers it, body base64-encoded: the signature is
/// checked on the decoded raw bytes.
#[tokio::test]
async fn the_sample_event_base64_encoded_by_api_gateway_verifies() {
    use base64::Engine;
    let h = harness().await;
    let mut event: Value =
        serde_json::from_str(include_str!("../events/postcall-transcription.json")).unwrap();
    let body = event["body"].as_str().unwrap().to_owned();
    let signature = frontdesk_verify::elevenlabs::sign(
        WEBHOOK_SECRET.as_bytes(),
        now().timestamp(),
        body.as_bytes(),
    );
    event["headers"]["elevenlabs-signature"] = json!(signature);
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&body));
    event["isBase64Encoded"] = json!(true);
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    let (status, v) = post(&h, req).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["call_id"], "conv_01jexample");
    assert_eq!(v["business_id"], "demo-dental");
    // Decoded or not, one byte changed breaks it.
    event["body"] = json!(
        base64::engine::general_purpose::STANDARD.encode(body.replacen(
            "Front desk",
            "Front desK",
            1
        ))
    );
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(post(&h, req).await.0, 401);
}
