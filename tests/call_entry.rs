//! `call-init` (ElevenLabs' conversation-initiation webhook) against moto through the real
//! SDK: authentication, every dynamic variable present, the caller known from the CRM and
//! their next booking, unknown numbers greeted generically.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use frontdesk_app::booking::dynamodb::DynamoBookings;
use frontdesk_app::call_entry::{CallEntry, INIT_SECRET_HEADER, handle_init};
use frontdesk_app::idempotency::hex_sha256;
use frontdesk_app::postcall::dynamodb::DynamoPipeline;
use frontdesk_app::postcall::webhook::{Pipeline, QueueUrls};
use frontdesk_app::queue::SqsQueue;
use frontdesk_app::secrets::StaticSecrets;
use frontdesk_app::store::dynamodb::DynamoStore;
use frontdesk_app::store::{BusinessRecord, BusinessStore, ToolSecretHash};
use frontdesk_app::tools::{Clock, SECRET_HEADER, Tool, ToolContext, handle};
use frontdesk_app::twilio::TwilioClient;
use frontdesk_rules::call_entry::VARIABLES;
use frontdesk_rules::parse_business_config;
use frontdesk_tests::stack::TestStack;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

const INIT_SECRET: &str = "init-secret-0123456789";
const CALLER: &str = "+12125550142";
const NUMBER: &str = "+12125550100";

struct Fixed(DateTime<Utc>);
impl Clock for Fixed {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Monday 2026-11-23, 10:00 in New York: open.
fn now() -> DateTime<Utc> {
    "2026-11-23T15:00:00Z".parse().unwrap()
}

struct Harness {
    ctx: CallEntry,
    tools: ToolContext,
    _stack: TestStack,
}

async fn harness() -> Harness {
    let stack = TestStack::provision(&[]).await;
    let table = stack.table("Table");
    let dynamodb = stack.dynamodb();
    let businesses = Arc::new(DynamoStore::new(dynamodb.clone(), table.clone()));
    let mut doc: Value = serde_json::from_str(include_str!("../infra/demo/business.json")).unwrap();
    doc.as_object_mut().unwrap().remove("id");
    doc["telephony"]["numbers"] = json!([NUMBER]);
    businesses
        .create(&BusinessRecord {
            id: "demo-dental".into(),
            version: 1,
            created_at: now(),
            updated_at: now(),
            config: parse_business_config(doc).unwrap(),
        })
        .await
        .unwrap();
    businesses
        .set_tool_secrets(
            "demo-dental",
            &[ToolSecretHash {
                sha256: hex_sha256(b"tool-secret"),
                created_at: now(),
                expires_at: None,
            }],
        )
        .await
        .unwrap();
    let store = Arc::new(DynamoPipeline::new(dynamodb.clone(), table.clone()));
    let bookings = Arc::new(DynamoBookings::new(dynamodb, table));
    let secrets = Arc::new(StaticSecrets::new([
        (
            "el".to_owned(),
            json!({"api_key": "xi", "webhook_secret": "w", "initiation_secret": INIT_SECRET})
                .to_string(),
        ),
        ("signing".to_owned(), "k".repeat(48)),
    ]));
    let p = Pipeline {
        businesses: businesses.clone(),
        calls: store.clone(),
        crm: store.clone(),
        ledger: store,
        queue: Arc::new(SqsQueue::new(stack.sqs())),
        sms: Arc::new(TwilioClient::new(
            "http://127.0.0.1:9",
            Duration::from_secs(1),
        )),
        secrets: secrets.clone(),
        queues: QueueUrls::default(),
        elevenlabs_secret_id: Some("el".into()),
        twilio_secret_id: None,
        public_base_url: None,
        transcript_url_template: String::new(),
        assess_rules: Default::default(),
        clock: Arc::new(Fixed(now())),
    };
    let tools = ToolContext::new(businesses, bookings.clone(), secrets, "signing")
        .with_clock(Arc::new(Fixed(now())));
    Harness {
        ctx: CallEntry::new(p, bookings),
        tools,
        _stack: stack,
    }
}

fn init_request(secret: Option<&str>, body: &str) -> Request {
    let mut b = http::Request::builder()
        .method("POST")
        .uri("/webhooks/elevenlabs/call-init")
        .header("content-type", "application/json");
    if let Some(s) = secret {
        b = b.header(INIT_SECRET_HEADER, s);
    }
    b.body(Body::Text(body.to_owned())).unwrap()
}

async fn init(h: &Harness, secret: Option<&str>, body: Value) -> (u16, Value) {
    let resp = handle_init(&h.ctx, init_request(secret, &body.to_string()))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes: &[u8] = resp.body().as_ref();
    (status, serde_json::from_slice(bytes).unwrap_or(Value::Null))
}

fn call(caller: &str, called: &str) -> Value {
    json!({"caller_id": caller, "agent_id": "agent_1", "called_number": called, "call_sid": "CA123"})
}

fn assert_every_variable(v: &Value) {
    assert_eq!(v["type"], "conversation_initiation_client_data", "{v}");
    let vars = v["dynamic_variables"].as_object().unwrap();
    for name in VARIABLES {
        assert!(
            vars.get(*name).is_some_and(Value::is_string),
            "{name} missing in {v}"
        );
    }
}

#[tokio::test]
async fn wrong_or_missing_secrets_are_refused_before_any_work() {
    let h = harness().await;
    assert_eq!(init(&h, None, call(CALLER, NUMBER)).await.0, 401);
    assert_eq!(init(&h, Some("nope"), call(CALLER, NUMBER)).await.0, 401);
    let resp = handle_init(&h.ctx, init_request(Some(INIT_SECRET), "{oops"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn a_known_caller_is_greeted_by_name_with_their_next_booking() {
    let h = harness().await;
    // The caller booked through the tools before (contact + booking).
    let tool_call = http::Request::builder()
        .method("POST")
        .uri("/tools/demo-dental/create_booking")
        .header("content-type", "application/json")
        .header(SECRET_HEADER, "tool-secret")
        .body(Body::Text(
            json!({"start": "2026-11-25T10:00", "service": "cleaning", "staff": "Dr. Lee",
                   "customer_name": "Ana Diaz", "conversation_id": "c0", "caller_id": CALLER})
            .to_string(),
        ))
        .unwrap();
    let booked = handle(&h.tools, Tool::CreateBooking, tool_call)
        .await
        .unwrap();
    assert_eq!(booked.status(), 200);

    let (status, v) = init(
        &h,
        Some(INIT_SECRET),
        call("(212) 555-0142", "+1 212 555 0100"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_every_variable(&v);
    let vars = &v["dynamic_variables"];
    assert_eq!(vars["business_id"], "demo-dental");
    assert_eq!(vars["business_name"], "Smile Dental");
    assert_eq!(vars["caller_number"], CALLER);
    assert_eq!(vars["caller_known"], "true");
    assert_eq!(vars["caller_name"], "Ana Diaz");
    assert_eq!(vars["open_now"], "true");
    assert_eq!(vars["today"], "2026-11-23");
    assert_eq!(vars["tomorrow"], "2026-11-24");
    let next = vars["next_booking"].as_str().unwrap();
    assert!(
        next.contains("Teeth cleaning") && next.contains("10 AM"),
        "{next}"
    );
    assert!(
        vars["next_booking_start"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-25T10:00:00-05:00")
    );
}

#[tokio::test]
async fn unknown_callers_and_unknown_numbers_still_get_every_variable() {
    let h = harness().await;
    let (status, v) = init(&h, Some(INIT_SECRET), call("+14155550123", NUMBER)).await;
    assert_eq!(status, 200);
    assert_every_variable(&v);
    assert_eq!(v["dynamic_variables"]["caller_known"], "false");
    assert_eq!(v["dynamic_variables"]["caller_name"], "");
    assert_eq!(v["dynamic_variables"]["business_name"], "Smile Dental");
    // A number no business owns: a safe generic greeting, never an error for the caller.
    let (status, v) = init(&h, Some(INIT_SECRET), call(CALLER, "+13125550199")).await;
    assert_eq!(status, 200);
    assert_every_variable(&v);
    assert_eq!(v["dynamic_variables"]["business_id"], "");
    // A withheld caller id.
    let (status, v) = init(&h, Some(INIT_SECRET), call("anonymous", NUMBER)).await;
    assert_eq!(status, 200);
    assert_every_variable(&v);
    assert_eq!(v["dynamic_variables"]["caller_number"], "");
}
