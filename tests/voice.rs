//! Call entry in register-call mode and the Twilio voice webhooks, against moto through the
//! real SDK, with ElevenLabs and Twilio played by scripted HTTP servers: signatures, CallSid
//! idempotency, the after-hours policies, the fallback within the register-call budget and the
//! circuit breaker, the voicemail flow through the post-call chain, call status ordering and
//! the `transfer_call` tool. Every TwiML answer is parsed back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use frontdesk_app::booking::dynamodb::DynamoBookings;
use frontdesk_app::call_entry::CallEntry;
use frontdesk_app::elevenlabs::{CircuitBreaker, ElevenLabsClient, Guarded, REGISTER_CALL_BUDGET};
use frontdesk_app::idempotency::hex_sha256;
use frontdesk_app::postcall::SmsStatus;
use frontdesk_app::postcall::dynamodb::DynamoPipeline;
use frontdesk_app::postcall::webhook::{Pipeline, QueueUrls};
use frontdesk_app::queue::SqsQueue;
use frontdesk_app::secrets::StaticSecrets;
use frontdesk_app::store::dynamodb::DynamoStore;
use frontdesk_app::store::{BusinessRecord, BusinessStore, ToolSecretHash};
use frontdesk_app::tools::{Clock, SECRET_HEADER, Tool, ToolContext};
use frontdesk_app::transfer::TwilioTransfers;
use frontdesk_app::twilio::TwilioClient;
use frontdesk_app::voice::{Voice, inbound, status, voicemail};
use frontdesk_rules::call_entry::VARIABLES;
use frontdesk_rules::parse_business_config;
use frontdesk_rules::twiml::{self, Verb};
use frontdesk_tests::pipeline::{self, twilio_request};
use frontdesk_tests::stack::TestStack;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request as WireRequest, ResponseTemplate};

const BASE: &str = "https://hooks.example.com";
const TOKEN: &str = "twilio-token";
const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/// demo-dental: register-call, AI always.
const NUMBER: &str = "+12125550100";
/// dental-vm: register-call, voicemail only after hours.
const VM_NUMBER: &str = "+12125550110";
/// dental-ring: register-call, ring staff first after hours.
const RING_NUMBER: &str = "+12125550120";
/// dental-native: native mode (Twilio's fallback URL points at us).
const NATIVE_NUMBER: &str = "+12125550130";
const STAFF: &str = "+12125550199";
const CALLER: &str = "+12125550142";
const CONNECT_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://api.elevenlabs.io/v1/convai/conversation/twilio?token=abc"><Parameter name="agent_id" value="agent_demo"/></Stream></Connect></Response>"#;

/// A clock the test moves.
struct TestClock(Mutex<DateTime<Utc>>);
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Monday 2026-11-23, 10:00 in New York: open.
fn open_time() -> DateTime<Utc> {
    "2026-11-23T15:00:00Z".parse().unwrap()
}
/// Monday 2026-11-23, 19:30 in New York: closed, before quiet hours.
fn closed_time() -> DateTime<Utc> {
    "2026-11-24T00:30:00Z".parse().unwrap()
}
fn day() -> NaiveDate {
    "2026-11-23".parse().unwrap()
}

fn sid(n: u32) -> String {
    format!("CA{n:032x}")
}

struct Harness {
    v: Voice,
    tools: ToolContext,
    clock: Arc<TestClock>,
    stack: TestStack,
    elevenlabs: MockServer,
    twilio: MockServer,
}

async fn business(store: &DynamoStore, id: &str, number: &str, telephony: Value) {
    let mut doc: Value = serde_json::from_str(include_str!("../infra/demo/business.json")).unwrap();
    doc.as_object_mut().unwrap().remove("id");
    let t = doc["telephony"].as_object_mut().unwrap();
    t.insert("numbers".into(), json!([number]));
    t.insert("mode".into(), json!("register_call"));
    t.insert("agent_id".into(), json!("agent_demo"));
    t.insert("escalation_number".into(), json!(STAFF));
    for (k, v) in telephony.as_object().unwrap() {
        t.insert(k.clone(), v.clone());
    }
    doc["sms"]["sender"] = json!(number);
    let config = parse_business_config(doc).unwrap();
    store
        .create(&BusinessRecord {
            id: id.into(),
            version: 1,
            created_at: open_time(),
            updated_at: open_time(),
            config,
        })
        .await
        .unwrap();
    store
        .set_tool_secrets(
            id,
            &[ToolSecretHash {
                sha256: hex_sha256(b"tool-secret"),
                created_at: open_time(),
                expires_at: None,
            }],
        )
        .await
        .unwrap();
}

/// Twilio: Messages answer 201 with a fresh sid; the Calls API 200, except CallSid
/// `sid(999)`, which has ended (21220).
async fn twilio_mock() -> MockServer {
    let server = MockServer::start().await;
    pipeline::mount_twilio_messages(&server).await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/2010-04-01/Accounts/{ACCOUNT}/Calls/{}.json",
            sid(999)
        )))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"code": 21220,
            "message": "Call is not in-progress. Cannot redirect.", "status": 400})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/2010-04-01/Accounts/AC[a-z0-9]+/Calls/CA[0-9a-f]{32}\.json$",
        ))
        .respond_with(|req: &WireRequest| {
            let sid = req
                .url
                .path()
                .rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".json");
            ResponseTemplate::new(200).set_body_json(json!({"sid": sid, "status": "in-progress"}))
        })
        .mount(&server)
        .await;
    server
}

async fn harness() -> Harness {
    let elevenlabs = MockServer::start().await;
    let twilio = twilio_mock().await;
    let stack = TestStack::provision(&[]).await;
    let table = stack.table("Table");
    let dynamodb = stack.dynamodb();
    let businesses = Arc::new(DynamoStore::new(dynamodb.clone(), table.clone()));
    business(&businesses, "demo-dental", NUMBER, json!({})).await;
    business(
        &businesses,
        "dental-vm",
        VM_NUMBER,
        json!({"after_hours_policy": "voicemail_only"}),
    )
    .await;
    business(
        &businesses,
        "dental-ring",
        RING_NUMBER,
        json!({"after_hours_policy": "ring_staff_first"}),
    )
    .await;
    business(
        &businesses,
        "dental-native",
        NATIVE_NUMBER,
        json!({"mode": "native"}),
    )
    .await;
    let store = Arc::new(DynamoPipeline::new(dynamodb.clone(), table.clone()));
    let bookings = Arc::new(DynamoBookings::new(dynamodb.clone(), table.clone()));
    let secrets = Arc::new(StaticSecrets::new([
        (
            "el".to_owned(),
            json!({"api_key": "xi-test", "webhook_secret": "w"}).to_string(),
        ),
        (
            "tw".to_owned(),
            json!({"account_sid": ACCOUNT, "auth_token": TOKEN}).to_string(),
        ),
        ("signing".to_owned(), "k".repeat(48)),
    ]));
    let clock = Arc::new(TestClock(Mutex::new(open_time())));
    let twilio_client = Arc::new(TwilioClient::new(twilio.uri(), Duration::from_secs(2)));
    let p = Pipeline {
        businesses: businesses.clone(),
        calls: store.clone(),
        crm: store.clone(),
        ledger: store.clone(),
        queue: Arc::new(SqsQueue::new(stack.sqs())),
        sms: twilio_client.clone(),
        secrets: secrets.clone(),
        queues: QueueUrls {
            process: Some(stack.queue_url("PostcallQueue")),
            crm: Some(stack.queue_url("CrmSyncQueue")),
            sms: Some(stack.queue_url("SmsSendQueue")),
            analytics: Some(stack.queue_url("AnalyticsQueue")),
        },
        elevenlabs_secret_id: Some("el".into()),
        twilio_secret_id: Some("tw".into()),
        public_base_url: Some(BASE.into()),
        transcript_url_template: "https://dash.example/{conversation_id}".into(),
        assess_rules: Default::default(),
        clock: clock.clone(),
    };
    let voice_ai = Arc::new(Guarded {
        inner: ElevenLabsClient::new(elevenlabs.uri(), REGISTER_CALL_BUDGET),
        breaker: CircuitBreaker::default(),
    });
    let mut v = Voice::new(CallEntry::new(p, bookings.clone()), store, voice_ai);
    // The chain starts at once here (a minute in production, for the transcription).
    v.transcription_wait = Duration::ZERO;
    let transfers = Arc::new(TwilioTransfers::new(
        twilio_client,
        secrets.clone(),
        "tw",
        dynamodb,
        table,
    ));
    let tools = ToolContext::new(businesses, bookings, secrets, "signing")
        .with_clock(clock.clone())
        .with_transfers(transfers, Some(BASE.into()));
    Harness {
        v,
        tools,
        clock,
        stack,
        elevenlabs,
        twilio,
    }
}

/// ElevenLabs register-call answers with `template` (after `delay`).
async fn elevenlabs_answers(h: &Harness, template: ResponseTemplate) {
    h.elevenlabs.reset().await;
    Mock::given(method("POST"))
        .and(path("/v1/convai/twilio/register-call"))
        .respond_with(template)
        .mount(&h.elevenlabs)
        .await;
}

fn connect_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(CONNECT_TWIML, "text/html; charset=utf-8")
}

async fn register_calls(h: &Harness) -> Vec<Value> {
    h.elevenlabs
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn call_form<'a>(sid: &'a str, to: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", ACCOUNT),
        ("CallSid", sid),
        ("From", CALLER),
        ("To", to),
        ("Direction", "inbound"),
        ("CallStatus", "ringing"),
    ]
}

async fn answer(resp: lambda_http::Response<Body>) -> (u16, String) {
    let status = resp.status().as_u16();
    let bytes: &[u8] = resp.body().as_ref();
    (status, String::from_utf8_lossy(bytes).into_owned())
}

/// POSTs a signed webhook to the handler serving `path`.
async fn post(h: &Harness, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    send(h, twilio_request(BASE, path, form, TOKEN)).await
}

async fn send(h: &Harness, req: Request) -> (u16, String) {
    let p = req.uri().path().to_owned();
    let resp = if p.starts_with("/webhooks/twilio/voicemail/") {
        voicemail::handle(&h.v, req).await
    } else if p == "/webhooks/twilio/call-status" {
        status::handle(&h.v, req).await
    } else if p.ends_with("/fallback") || p.ends_with("/after-dial") {
        inbound::handle_fallback(&h.v, req).await
    } else {
        inbound::handle_inbound(&h.v, req).await
    };
    answer(resp.unwrap()).await
}

fn parsed(xml: &str) -> Vec<Verb> {
    twiml::parse(xml).unwrap_or_else(|e| panic!("{e}: {xml}")).0
}

async fn stats(h: &Harness, business: &str) -> BTreeMap<String, i64> {
    h.v.p().calls.stats(business, day()).await.unwrap()
}

async fn items(h: &Harness, pk: &str) -> Vec<Value> {
    let out = h
        .stack
        .dynamodb()
        .query()
        .table_name(h.stack.table("Table"))
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .map(|i| serde_dynamo::from_item(i.clone()).unwrap())
        .collect()
}

async fn texts_sent(h: &Harness) -> Vec<BTreeMap<String, String>> {
    h.twilio
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/Messages.json"))
        .map(|r| {
            frontdesk_verify::twilio::parse_form(&r.body)
                .unwrap()
                .into_iter()
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn forged_or_unsigned_webhooks_get_403_and_nothing_is_done() {
    let h = harness().await;
    elevenlabs_answers(&h, connect_ok()).await;
    let call = sid(1);
    let mut form = call_form(&call, NUMBER);
    form.extend([
        ("DialCallStatus", "no-answer"),
        ("RecordingUrl", "https://api.twilio.com/x/RE1"),
        ("RecordingSid", "RE1"),
        ("RecordingDuration", "12"),
        ("RecordingStatus", "completed"),
        ("TranscriptionStatus", "completed"),
        ("TranscriptionText", "call me"),
        ("CallStatus", "completed"),
        ("CallDuration", "30"),
    ]);
    let routes = [
        "/webhooks/twilio/voice",
        "/webhooks/twilio/voice/agent?b=demo-dental",
        "/webhooks/twilio/voice/after-ring-staff?b=demo-dental",
        "/webhooks/twilio/voice/fallback",
        "/webhooks/twilio/voice/after-dial?b=demo-dental",
        "/webhooks/twilio/voicemail/recorded?b=demo-dental",
        "/webhooks/twilio/voicemail/recording?b=demo-dental",
        "/webhooks/twilio/voicemail/transcription?b=demo-dental",
        "/webhooks/twilio/call-status",
    ];
    for route in routes {
        // Wrong token, and no signature at all.
        let (status, body) = send(&h, twilio_request(BASE, route, &form, "not-the-token")).await;
        assert_eq!(status, 403, "{route}: {body}");
        assert!(body.contains("invalid-signature"), "{route}: {body}");
        let mut unsigned = twilio_request(BASE, route, &form, TOKEN);
        unsigned.headers_mut().remove("x-twilio-signature");
        assert_eq!(send(&h, unsigned).await.0, 403, "{route}");
        // Signed for another URL (the business id in the query changed).
        let mut moved = twilio_request(BASE, route, &form, TOKEN);
        *moved.uri_mut() = route.replace("demo-dental", "dental-vm").parse().unwrap();
        if route.contains("demo-dental") {
            assert_eq!(send(&h, moved).await.0, 403, "{route}");
        }
    }
    assert!(register_calls(&h).await.is_empty(), "ElevenLabs was called");
    assert!(texts_sent(&h).await.is_empty());
    let pk = format!("BIZ#demo-dental#CALL#{call}");
    assert_eq!(
        items(&h, &pk).await,
        Vec::<Value>::new(),
        "items were written"
    );
    assert!(stats(&h, "demo-dental").await.is_empty());
}

#[tokio::test]
async fn register_call_twiml_goes_back_unchanged_and_a_retry_replays_it() {
    let h = harness().await;
    elevenlabs_answers(&h, connect_ok()).await;
    let call = sid(2);
    let (status, body) = post(&h, "/webhooks/twilio/voice", &call_form(&call, NUMBER)).await;
    assert_eq!(status, 200);
    assert_eq!(body, CONNECT_TWIML, "ElevenLabs' TwiML, byte for byte");
    twiml::validate(&body).unwrap();
    let sent = register_calls(&h).await;
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r["agent_id"], "agent_demo");
    assert_eq!(r["from_number"], CALLER);
    assert_eq!(r["to_number"], NUMBER);
    assert_eq!(r["direction"], "inbound");
    let vars = r["conversation_initiation_client_data"]["dynamic_variables"]
        .as_object()
        .unwrap();
    let mut keys: Vec<&str> = vars.keys().map(String::as_str).collect();
    keys.sort();
    let mut expected: Vec<&str> = VARIABLES.to_vec();
    expected.sort();
    assert_eq!(keys, expected, "every dynamic variable");
    assert_eq!(vars["call_sid"], call.as_str());
    assert_eq!(vars["business_id"], "demo-dental");
    assert_eq!(vars["open_now"], "true");
    assert_eq!(vars["caller_number"], CALLER);
    assert_eq!(vars["escalation_available"], "true");

    // Twilio retries: the same answer, no second conversation.
    let (status, again) = post(&h, "/webhooks/twilio/voice", &call_form(&call, NUMBER)).await;
    assert_eq!((status, again.as_str()), (200, CONNECT_TWIML));
    assert_eq!(register_calls(&h).await.len(), 1, "registered once");
    let s = stats(&h, "demo-dental").await;
    assert_eq!(s.get("voice_calls"), Some(&1));
    assert_eq!(s.get("voice_route_agent"), Some(&1));
    assert_eq!(s.get("voice_fallbacks"), None);
}

#[tokio::test]
async fn unknown_numbers_and_bad_requests_get_clear_answers() {
    let h = harness().await;
    elevenlabs_answers(&h, connect_ok()).await;
    let (status, body) = post(
        &h,
        "/webhooks/twilio/voice",
        &call_form(&sid(3), "+12125550999"),
    )
    .await;
    assert_eq!(status, 200, "never a Twilio application error");
    let verbs = parsed(&body);
    assert!(
        matches!(&verbs[0], Verb::Say { text, .. } if text.contains("can't take your call")),
        "{body}"
    );
    assert_eq!(verbs.last(), Some(&Verb::Hangup));
    assert!(register_calls(&h).await.is_empty());
    // No CallSid / a malformed one: 400 problem details.
    let (status, body) = post(
        &h,
        "/webhooks/twilio/voice",
        &[("From", CALLER), ("To", NUMBER)],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("CallSid is required"), "{body}");
    let (status, body) = post(&h, "/webhooks/twilio/voice", &call_form("CA123", NUMBER)).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = post(
        &h,
        "/webhooks/twilio/voice/nowhere",
        &call_form(&sid(4), NUMBER),
    )
    .await;
    assert_eq!(status, 404);
}

fn assert_fallback(body: &str, business: &str) {
    let verbs = parsed(body);
    assert!(matches!(&verbs[0], Verb::Say { .. }), "{body}");
    match &verbs[1] {
        Verb::Dial {
            number,
            action,
            timeout_secs,
            ..
        } => {
            assert_eq!(number, STAFF);
            assert_eq!(*timeout_secs, 20);
            assert_eq!(
                action.as_deref(),
                Some(format!("{BASE}/webhooks/twilio/voice/after-dial?b={business}").as_str())
            );
        }
        other => panic!("expected a Dial, got {other:?}: {body}"),
    }
}

#[tokio::test]
async fn elevenlabs_errors_and_timeouts_fall_back_within_the_budget_then_the_breaker_opens() {
    let h = harness().await;
    // 500: fallback at once.
    elevenlabs_answers(&h, ResponseTemplate::new(500).set_body_string("boom")).await;
    let started = Instant::now();
    let (status, body) = post(&h, "/webhooks/twilio/voice", &call_form(&sid(10), NUMBER)).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_fallback(&body, "demo-dental");
    // Not TwiML: fallback too.
    elevenlabs_answers(
        &h,
        ResponseTemplate::new(200).set_body_string("<html>oops</html>"),
    )
    .await;
    let (_, body) = post(&h, "/webhooks/twilio/voice", &call_form(&sid(11), NUMBER)).await;
    assert_fallback(&body, "demo-dental");
    // Slower than the budget: fallback when the budget runs out, well under Twilio's 15 s.
    elevenlabs_answers(&h, connect_ok().set_delay(Duration::from_secs(6))).await;
    let started = Instant::now();
    let (status, body) = post(&h, "/webhooks/twilio/voice", &call_form(&sid(12), NUMBER)).await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert_fallback(&body, "demo-dental");
    assert!(took >= REGISTER_CALL_BUDGET, "{took:?}");
    assert!(
        took < REGISTER_CALL_BUDGET + Duration::from_millis(700),
        "{took:?}"
    );
    // Three failures in a row: the breaker is open, ElevenLabs is not even asked.
    elevenlabs_answers(&h, connect_ok()).await;
    let started = Instant::now();
    let (_, body) = post(&h, "/webhooks/twilio/voice", &call_form(&sid(13), NUMBER)).await;
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_fallback(&body, "demo-dental");
    assert!(register_calls(&h).await.is_empty(), "skipped while open");
    let s = stats(&h, "demo-dental").await;
    assert_eq!(s.get("voice_fallbacks"), Some(&4));
    assert_eq!(s.get("voice_fallback_error"), Some(&1));
    assert_eq!(s.get("voice_fallback_invalid_twiml"), Some(&1));
    assert_eq!(s.get("voice_fallback_timeout"), Some(&1));
    assert_eq!(s.get("voice_fallback_circuit_open"), Some(&1));
    // The fallback's Dial action: nobody answered → voicemail; answered → hang up.
    let call10 = sid(10);
    let mut form = call_form(&call10, NUMBER);
    form.push(("DialCallStatus", "no-answer"));
    let (_, body) = post(&h, "/webhooks/twilio/voice/after-dial?b=demo-dental", &form).await;
    let verbs = parsed(&body);
    assert!(
        verbs.iter().any(|v| matches!(v, Verb::Record { .. })),
        "{body}"
    );
    form.pop();
    form.push(("DialCallStatus", "completed"));
    let (_, body) = post(&h, "/webhooks/twilio/voice/after-dial?b=demo-dental", &form).await;
    assert_eq!(parsed(&body), vec![Verb::Hangup]);
}

#[tokio::test]
async fn after_hours_policies_route_the_call() {
    let h = harness().await;
    elevenlabs_answers(&h, connect_ok()).await;
    *h.clock.0.lock().unwrap() = closed_time();
    // Voicemail only: no ElevenLabs, a voicemail with our callbacks.
    let (_, body) = post(
        &h,
        "/webhooks/twilio/voice",
        &call_form(&sid(20), VM_NUMBER),
    )
    .await;
    let verbs = parsed(&body);
    match &verbs[1] {
        Verb::Record {
            action,
            transcribe_callback,
            recording_status_callback,
            max_length_secs,
            ..
        } => {
            assert_eq!(
                action.as_deref(),
                Some(format!("{BASE}/webhooks/twilio/voicemail/recorded?b=dental-vm").as_str())
            );
            assert_eq!(
                transcribe_callback.as_deref(),
                Some(
                    format!("{BASE}/webhooks/twilio/voicemail/transcription?b=dental-vm").as_str()
                )
            );
            assert_eq!(
                recording_status_callback.as_deref(),
                Some(format!("{BASE}/webhooks/twilio/voicemail/recording?b=dental-vm").as_str())
            );
            assert_eq!(*max_length_secs, twiml::VOICEMAIL_MAX_SECONDS);
        }
        other => panic!("expected Record, got {other:?}"),
    }
    assert!(register_calls(&h).await.is_empty());
    // Ring staff first: dial the staff, then the agent.
    let call = sid(21);
    let (_, body) = post(&h, "/webhooks/twilio/voice", &call_form(&call, RING_NUMBER)).await;
    match parsed(&body).as_slice() {
        [Verb::Dial { number, action, .. }] => {
            assert_eq!(number, STAFF);
            assert_eq!(
                action.as_deref(),
                Some(
                    format!("{BASE}/webhooks/twilio/voice/after-ring-staff?b=dental-ring").as_str()
                )
            );
        }
        other => panic!("{other:?}"),
    }
    let mut form = call_form(&call, RING_NUMBER);
    form.push(("DialCallStatus", "no-answer"));
    let (_, body) = post(
        &h,
        "/webhooks/twilio/voice/after-ring-staff?b=dental-ring",
        &form,
    )
    .await;
    let agent_url = format!("{BASE}/webhooks/twilio/voice/agent?b=dental-ring");
    assert_eq!(
        parsed(&body),
        vec![Verb::Redirect {
            url: agent_url.clone()
        }]
    );
    let (_, body) = post(
        &h,
        "/webhooks/twilio/voice/agent?b=dental-ring",
        &call_form(&call, RING_NUMBER),
    )
    .await;
    assert_eq!(body, CONNECT_TWIML);
    let sent = register_calls(&h).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["conversation_initiation_client_data"]["dynamic_variables"]["persona_variant"],
        "after_hours"
    );
    let call22 = sid(22);
    let mut answered = call_form(&call22, RING_NUMBER);
    answered.push(("DialCallStatus", "completed"));
    let (_, body) = post(
        &h,
        "/webhooks/twilio/voice/after-ring-staff?b=dental-ring",
        &answered,
    )
    .await;
    assert_eq!(parsed(&body), vec![Verb::Hangup]);
    // AI always: the agent after hours too.
    let (_, body) = post(&h, "/webhooks/twilio/voice", &call_form(&sid(23), NUMBER)).await;
    assert_eq!(body, CONNECT_TWIML);
    assert_eq!(register_calls(&h).await.len(), 2);
}

#[tokio::test]
async fn a_voicemail_becomes_a_call_record_a_task_a_recap_and_a_staff_notice_once() {
    let h = harness().await;
    // Native number: ElevenLabs failed, Twilio called our fallback URL.
    let call = sid(30);
    let (_, body) = post(
        &h,
        "/webhooks/twilio/voice/fallback",
        &call_form(&call, NATIVE_NUMBER),
    )
    .await;
    assert_fallback(&body, "dental-native");
    let mut dial = call_form(&call, NATIVE_NUMBER);
    dial.push(("DialCallStatus", "no-answer"));
    let (_, body) = post(
        &h,
        "/webhooks/twilio/voice/after-dial?b=dental-native",
        &dial,
    )
    .await;
    assert!(
        parsed(&body)
            .iter()
            .any(|v| matches!(v, Verb::Record { .. }))
    );
    // The recording status first (it has no From / To: the fallback's entry has them).
    let recording_url =
        format!("https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE1");
    let status_form = [
        ("AccountSid", ACCOUNT),
        ("CallSid", call.as_str()),
        ("RecordingSid", "RE1"),
        ("RecordingUrl", recording_url.as_str()),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "21"),
    ];
    let (status, _) = post(
        &h,
        "/webhooks/twilio/voicemail/recording?b=dental-native",
        &status_form,
    )
    .await;
    assert_eq!(status, 200);
    // Then the Record action: thanks and goodbye; the voicemail is stored once.
    let mut recorded = call_form(&call, NATIVE_NUMBER);
    recorded.extend([
        ("RecordingUrl", recording_url.as_str()),
        ("RecordingSid", "RE1"),
        ("RecordingDuration", "21"),
    ]);
    let (status, body) = post(
        &h,
        "/webhooks/twilio/voicemail/recorded?b=dental-native",
        &recorded,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(parsed(&body).last(), Some(&Verb::Hangup));
    let mut transcribed = call_form(&call, NATIVE_NUMBER);
    transcribed.extend([
        ("TranscriptionStatus", "completed"),
        (
            "TranscriptionText",
            "Hi, this is Ana, please call me back about my crown.",
        ),
        ("RecordingSid", "RE1"),
        ("RecordingUrl", recording_url.as_str()),
    ]);
    post(
        &h,
        "/webhooks/twilio/voicemail/transcription?b=dental-native",
        &transcribed,
    )
    .await;
    // Twilio repeats everything.
    post(
        &h,
        "/webhooks/twilio/voicemail/recording?b=dental-native",
        &status_form,
    )
    .await;
    post(
        &h,
        "/webhooks/twilio/voicemail/recorded?b=dental-native",
        &recorded,
    )
    .await;
    post(
        &h,
        "/webhooks/twilio/voicemail/transcription?b=dental-native",
        &transcribed,
    )
    .await;
    let ran = pipeline::drain(h.v.p(), &h.stack, false).await;
    assert_eq!(ran.get("process"), Some(&1), "{ran:?}");

    let record =
        h.v.p()
            .calls
            .call("dental-native", &call)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        record.caller.as_deref(),
        Some(CALLER),
        "caller found from the entry"
    );
    let vm = record.facts.voicemail.as_ref().unwrap();
    assert_eq!(vm.duration_secs, Some(21));
    assert_eq!(
        vm.transcription.as_deref(),
        Some("Hi, this is Ana, please call me back about my crown.")
    );
    assert_eq!(
        record.assessment.as_ref().unwrap().disposition.as_str(),
        "voicemail"
    );
    // The CRM: an activity and a follow-up task quoting the message.
    let contact_items = items(&h, "BIZ#dental-native").await;
    let task = contact_items
        .iter()
        .find(|i| i["sk"].as_str().unwrap_or("").starts_with("TASK#"))
        .unwrap_or_else(|| panic!("no task in {contact_items:#?}"));
    assert!(
        task.to_string()
            .contains("please call me back about my crown"),
        "{task}"
    );
    // Two texts: the recap to the caller, the notice to the staff number.
    let texts = texts_sent(&h).await;
    assert_eq!(texts.len(), 2, "{texts:#?}");
    let recap = texts
        .iter()
        .find(|t| t["To"] == CALLER)
        .expect("recap to the caller");
    assert!(
        recap["Body"].contains("got your message"),
        "{}",
        recap["Body"]
    );
    assert!(recap["Body"].contains("call me back"), "{}", recap["Body"]);
    let notice = texts
        .iter()
        .find(|t| t["To"] == STAFF)
        .expect("notice to staff");
    assert!(
        notice["Body"].contains(&format!("new voicemail (21 s) from {CALLER}")),
        "{}",
        notice["Body"]
    );
    assert_eq!(
        h.v.p()
            .ledger
            .get("dental-native", &call, "voicemail_recap")
            .await
            .unwrap()
            .unwrap()
            .status,
        SmsStatus::Sent
    );
    let s = stats(&h, "dental-native").await;
    assert_eq!(s.get("voicemails"), Some(&1));
    assert_eq!(s.get("staff_notices_sent"), Some(&1));
    assert_eq!(s.get("voice_fallback_twilio_fallback_url"), Some(&1));
    assert_eq!(s.get("staff_dial_unanswered"), Some(&1));
    // Everything again: nothing new.
    post(
        &h,
        "/webhooks/twilio/voicemail/recorded?b=dental-native",
        &recorded,
    )
    .await;
    pipeline::drain(h.v.p(), &h.stack, false).await;
    assert_eq!(texts_sent(&h).await.len(), 2);
}

#[tokio::test]
async fn call_status_callbacks_count_once_whatever_the_order() {
    let h = harness().await;
    let call = sid(40);
    let with = |status: &'static str, extra: &[(&'static str, &'static str)]| {
        let mut f = call_form(&call, NUMBER);
        f.retain(|(k, _)| *k != "CallStatus");
        f.push(("CallStatus", status));
        f.push(("Timestamp", "Mon, 23 Nov 2026 15:01:03 +0000"));
        f.extend_from_slice(extra);
        f.into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect::<Vec<_>>()
    };
    let deliveries = [
        with("completed", &[("CallDuration", "63")]),
        with("in-progress", &[]),
        with("ringing", &[]),
        with("completed", &[("CallDuration", "63")]),
        with("busy", &[]),
    ];
    for d in &deliveries {
        let form: Vec<(&str, &str)> = d.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _) = post(&h, "/webhooks/twilio/call-status", &form).await;
        assert_eq!(status, 200);
    }
    let other = sid(41);
    let mut f = call_form(&other, NUMBER);
    f.retain(|(k, _)| *k != "CallStatus");
    f.push(("CallStatus", "no-answer"));
    post(&h, "/webhooks/twilio/call-status", &f).await;
    post(&h, "/webhooks/twilio/call-status", &f).await;
    let s = stats(&h, "demo-dental").await;
    assert_eq!(s.get("calls_completed"), Some(&1));
    assert_eq!(s.get("call_secs"), Some(&63));
    assert_eq!(s.get("calls_busy"), None, "the first final status wins");
    assert_eq!(s.get("calls_no_answer"), Some(&1));
    assert_eq!(s.get("calls_ended"), Some(&2));
}

async fn transfer(h: &Harness, business: &str, body: Value) -> Value {
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("/tools/{business}/transfer_call"))
        .header("content-type", "application/json")
        .header(SECRET_HEADER, "tool-secret")
        .body(Body::Text(body.to_string()))
        .unwrap();
    let resp = frontdesk_app::tools::handle(&h.tools, Tool::TransferCall, req)
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes: &[u8] = resp.body().as_ref();
    let v: Value = serde_json::from_slice(bytes).unwrap();
    json!({"status": status, "body": v})
}

async fn redirects(h: &Harness) -> Vec<(String, String)> {
    h.twilio
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().contains("/Calls/"))
        .map(|r| {
            let form: BTreeMap<String, String> = frontdesk_verify::twilio::parse_form(&r.body)
                .unwrap()
                .into_iter()
                .collect();
            (r.url.path().to_owned(), form["Twiml"].clone())
        })
        .collect()
}

#[tokio::test]
async fn transfer_call_redirects_the_live_call_once_and_records_why() {
    let h = harness().await;
    let call = sid(50);
    let args = json!({"reason": "Dental emergency: swelling", "call_sid": call,
        "conversation_id": "conv_t1"});
    let first = transfer(&h, "demo-dental", args.clone()).await;
    assert_eq!(first["status"], 200, "{first}");
    assert_eq!(first["body"]["ok"], true, "{first}");
    assert_eq!(first["body"]["transferred_to"], STAFF);
    let sent = redirects(&h).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].0,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/{call}.json")
    );
    let verbs = parsed(&sent[0].1);
    match &verbs[1] {
        Verb::Dial { number, action, .. } => {
            assert_eq!(number, STAFF);
            assert_eq!(
                action.as_deref(),
                Some(format!("{BASE}/webhooks/twilio/voice/after-dial?b=demo-dental").as_str())
            );
        }
        other => panic!("{other:?}"),
    }
    // The agent asks again: same answer, the call is not redirected twice.
    let again = transfer(&h, "demo-dental", args).await;
    assert_eq!(again["body"], first["body"]);
    assert_eq!(redirects(&h).await.len(), 1);
    // The reason is on the call.
    let record = items(&h, "BIZ#demo-dental#CALL#conv_t1").await;
    let note = &record.iter().find(|i| i["sk"] == "CALL").unwrap()["transfer_request"];
    assert_eq!(note["reason"], "Dental emergency: swelling");
    assert_eq!(note["number"], STAFF);
    assert_eq!(note["call_sid"], call.as_str());

    // A call that ended: a speakable failure.
    let ended = transfer(
        &h,
        "demo-dental",
        json!({"reason": "x", "call_sid": sid(999)}),
    )
    .await;
    assert_eq!(ended["body"]["ok"], false);
    assert_eq!(ended["body"]["error"], "call_ended");
    assert!(
        ended["body"]["say"]
            .as_str()
            .unwrap()
            .contains("take a message")
    );
    // Native mode transfers with ElevenLabs' transfer_to_number.
    let native = transfer(
        &h,
        "dental-native",
        json!({"reason": "x", "call_sid": sid(51)}),
    )
    .await;
    assert_eq!(native["body"]["error"], "use_transfer_to_number");
    // A number that is not a transfer rule.
    let unknown = transfer(
        &h,
        "demo-dental",
        json!({"reason": "x", "call_sid": sid(52), "transfer_number": "+12125550777"}),
    )
    .await;
    assert_eq!(unknown["body"]["error"], "unknown_transfer_number");
    // Bad input: 400 problem details.
    for bad in [
        json!({"call_sid": sid(53)}),
        json!({"reason": "x"}),
        json!({"reason": "x", "call_sid": "CA1"}),
    ] {
        let r = transfer(&h, "demo-dental", bad.clone()).await;
        assert_eq!(r["status"], 400, "{bad}: {r}");
        assert!(r["body"]["detail"].is_string());
    }
    assert_eq!(
        redirects(&h).await.len(),
        2,
        "only the ended call was tried besides the first"
    );
}

#[tokio::test]
async fn concurrent_deliveries_of_one_call_register_it_once() {
    let h = harness().await;
    elevenlabs_answers(&h, connect_ok().set_delay(Duration::from_millis(600))).await;
    let call = sid(60);
    let form = call_form(&call, NUMBER);
    let (a, b) = tokio::join!(
        post(&h, "/webhooks/twilio/voice", &form),
        post(&h, "/webhooks/twilio/voice", &form)
    );
    assert_eq!(a, (200, CONNECT_TWIML.to_owned()));
    assert_eq!(
        b,
        (200, CONNECT_TWIML.to_owned()),
        "the second waits for the first answer"
    );
    assert_eq!(register_calls(&h).await.len(), 1);
}

/// DynamoDB refusing the CallSid claim must not cost the caller the agent.
struct ClaimFails(Arc<DynamoPipeline>);

#[async_trait::async_trait]
impl frontdesk_app::voice::VoiceLog for ClaimFails {
    async fn claim(
        &self,
        _: &frontdesk_app::voice::EntryRecord,
    ) -> Result<Option<frontdesk_app::voice::EntryRecord>, frontdesk_app::postcall::PipelineError>
    {
        Err(frontdesk_app::postcall::PipelineError::Unavailable(
            "throttled".into(),
        ))
    }
    async fn answered(
        &self,
        e: &frontdesk_app::voice::EntryRecord,
    ) -> Result<(), frontdesk_app::postcall::PipelineError> {
        self.0.answered(e).await
    }
    async fn entry(
        &self,
        b: &str,
        c: &str,
        s: &str,
    ) -> Result<Option<frontdesk_app::voice::EntryRecord>, frontdesk_app::postcall::PipelineError>
    {
        self.0.entry(b, c, s).await
    }
    async fn entries(
        &self,
        b: &str,
        c: &str,
    ) -> Result<Vec<frontdesk_app::voice::EntryRecord>, frontdesk_app::postcall::PipelineError>
    {
        self.0.entries(b, c).await
    }
    async fn add_transcription(
        &self,
        b: &str,
        c: &str,
        t: &str,
    ) -> Result<bool, frontdesk_app::postcall::PipelineError> {
        self.0.add_transcription(b, c, t).await
    }
}

#[tokio::test]
async fn a_failing_callsid_claim_still_connects_the_caller() {
    let mut h = harness().await;
    elevenlabs_answers(&h, connect_ok()).await;
    let store = Arc::new(DynamoPipeline::new(
        h.stack.dynamodb(),
        h.stack.table("Table"),
    ));
    h.v.log = Arc::new(ClaimFails(store));
    let (status, body) = post(&h, "/webhooks/twilio/voice", &call_form(&sid(70), NUMBER)).await;
    assert_eq!((status, body.as_str()), (200, CONNECT_TWIML));
    assert_eq!(register_calls(&h).await.len(), 1);
}
