//! The in-call tools against moto through the real SDK: availability, booking, replay,
//! concurrency, reschedule, cancel, contacts, call logs, authentication and bad input.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use frontdesk_app::booking::dynamodb::DynamoBookings;
use frontdesk_app::idempotency::hex_sha256;
use frontdesk_app::metrics::RoundTrips;
use frontdesk_app::secrets::StaticSecrets;
use frontdesk_app::store::dynamodb::DynamoStore;
use frontdesk_app::store::{BusinessRecord, BusinessStore, ToolSecretHash};
use frontdesk_app::tools::{Clock, SECRET_HEADER, Tool, ToolContext, handle};
use frontdesk_rules::parse_business_config;
use frontdesk_tests::stack::TestStack;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

const SECRET: &str = "tool-secret-of-demo-dental";
const OTHER_SECRET: &str = "tool-secret-of-other-biz";
const CALLER: &str = "+12125550142";

/// Monday 2026-11-23, 09:00 in New York.
struct Fixed(DateTime<Utc>);
impl Clock for Fixed {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}
fn now() -> DateTime<Utc> {
    "2026-11-23T14:00:00Z".parse().unwrap()
}

struct Harness {
    ctx: ToolContext,
    trips: RoundTrips,
    _stack: TestStack,
}

async fn business(store: &DynamoStore, id: &str, number: &str, secret: &str) {
    let mut doc: Value = serde_json::from_str(include_str!("../infra/demo/business.json")).unwrap();
    doc.as_object_mut().unwrap().remove("id");
    doc["telephony"]["numbers"] = json!([number]);
    doc["sms"]["sender"] = json!(number);
    let config = parse_business_config(doc).unwrap();
    let record = BusinessRecord {
        id: id.into(),
        version: 1,
        created_at: now(),
        updated_at: now(),
        config,
    };
    store.create(&record).await.unwrap();
    store
        .set_tool_secrets(
            id,
            &[ToolSecretHash {
                sha256: hex_sha256(secret.as_bytes()),
                created_at: now(),
                expires_at: None,
            }],
        )
        .await
        .unwrap();
}

async fn harness() -> Harness {
    let stack = TestStack::provision(&[]).await;
    let trips = RoundTrips::default();
    let client = trips.counted_client(stack.sdk());
    let table = stack.table("Table");
    let store = DynamoStore::new(client.clone(), table.clone());
    business(&store, "demo-dental", "+12125550100", SECRET).await;
    business(&store, "other-biz", "+12125550177", OTHER_SECRET).await;
    let ctx = ToolContext::new(
        Arc::new(store),
        Arc::new(DynamoBookings::new(client, table)),
        Arc::new(StaticSecrets::new([("signing".to_owned(), "k".repeat(48))])),
        "signing",
    )
    .with_clock(Arc::new(Fixed(now())))
    .with_round_trips(trips.clone());
    Harness {
        ctx,
        trips,
        _stack: stack,
    }
}

fn req(business: &str, tool: &str, secret: Option<&str>, body: &str) -> Request {
    let mut b = http::Request::builder()
        .method("POST")
        .uri(format!("/tools/{business}/{tool}"))
        .header("content-type", "application/json");
    if let Some(s) = secret {
        b = b.header(SECRET_HEADER, s);
    }
    b.body(Body::Text(body.to_owned())).unwrap()
}

/// Calls a tool; returns (status, body, DynamoDB round trips of the call).
async fn call_raw(
    h: &Harness,
    tool: Tool,
    business: &str,
    secret: Option<&str>,
    body: &str,
) -> (u16, Value, u64) {
    let before = h.trips.get();
    let resp = handle(&h.ctx, tool, req(business, tool.name(), secret, body))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes: &[u8] = resp.body().as_ref();
    (
        status,
        serde_json::from_slice(bytes).unwrap(),
        h.trips.get() - before,
    )
}

async fn call(h: &Harness, tool: Tool, body: Value) -> (Value, u64) {
    let (status, v, trips) =
        call_raw(h, tool, "demo-dental", Some(SECRET), &body.to_string()).await;
    assert_eq!(status, 200, "{v}");
    (v, trips)
}

fn with_call(mut body: Value, conversation: &str) -> Value {
    body["conversation_id"] = json!(conversation);
    body["caller_id"] = json!(CALLER);
    body
}

fn starts(answer: &Value) -> Vec<String> {
    answer["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_owned())
        .collect()
}

async fn offers(h: &Harness, day: &str) -> Value {
    let (v, _) = call(
        h,
        Tool::CheckAvailability,
        with_call(json!({"service": "cleaning", "date_range": day, "staff": "Dr. Lee", "max_results": 10}), "conv-a"),
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    v
}

#[tokio::test]
async fn book_see_it_gone_replay_reschedule_cancel() {
    let h = harness().await;
    // Warm the profile cache, then count a warm availability call.
    offers(&h, "2026-11-24").await;
    let (avail, trips) = call(
        &h,
        Tool::CheckAvailability,
        with_call(json!({"service": "cleaning", "date_range": "2026-11-24", "staff": "Dr. Lee", "max_results": 10}), "conv-a"),
    )
    .await;
    assert!(trips <= 1, "check_availability took {trips} round trips");
    assert_eq!(avail["today"]["date"], "2026-11-23");
    let first = avail["slots"][0].clone();
    assert!(
        first["start"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-24T08:00:00-05:00"),
        "{first}"
    );
    assert!(
        first["say"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("tomorrow"),
        "{first}"
    );

    // Book Wednesday's first slot (more than the 24-hour change window away, so it can be
    // moved and cancelled later): one round trip (configuration cached).
    let first = offers(&h, "2026-11-25").await["slots"][0].clone();
    let create = with_call(
        json!({"slot_id": first["slot_id"], "customer_name": "Ana Diaz", "customer_email": "ana@example.com"}),
        "conv-a",
    );
    let (booked, trips) = call(&h, Tool::CreateBooking, create.clone()).await;
    assert_eq!(booked["ok"], true, "{booked}");
    assert_eq!(trips, 1, "create_booking took {trips} round trips");
    let booking_id = booked["booking"]["booking_id"].as_str().unwrap().to_owned();
    assert_eq!(booked["booking"]["customer_phone"], CALLER);

    // The slot is gone (and so is every start whose buffered span would overlap it).
    let after = offers(&h, "2026-11-25").await;
    assert!(!starts(&after).contains(&first["start"].as_str().unwrap().to_owned()));

    // The agent repeats the call: the same booking comes back, nothing new is written.
    let (replay, _) = call(&h, Tool::CreateBooking, create.clone()).await;
    assert_eq!(replay, booked);

    // Found by the caller's number.
    let (found, _) = call(&h, Tool::FindBookings, with_call(json!({}), "conv-a")).await;
    assert_eq!(found["bookings"].as_array().unwrap().len(), 1);
    assert_eq!(found["bookings"][0]["booking_id"], booking_id.as_str());

    // Reschedule to another offered slot: the old start is free again, the new one taken.
    let target = after["slots"][3].clone();
    let (moved, _) = call(
        &h,
        Tool::UpdateBooking,
        with_call(json!({"booking_id": booking_id.to_lowercase(), "action": "reschedule", "reschedule_to": target["slot_id"]}), "conv-b"),
    )
    .await;
    assert_eq!(moved["ok"], true, "{moved}");
    assert_eq!(moved["booking"]["start"], target["start"]);
    let again = offers(&h, "2026-11-25").await;
    assert!(starts(&again).contains(&first["start"].as_str().unwrap().to_owned()));
    assert!(!starts(&again).contains(&target["start"].as_str().unwrap().to_owned()));

    // Cancel: released, not found any more; a second cancel says so.
    let (cancelled, _) = call(
        &h,
        Tool::UpdateBooking,
        with_call(
            json!({"booking_id": booking_id, "action": "cancel", "reason": "feeling better"}),
            "conv-c",
        ),
    )
    .await;
    assert_eq!(cancelled["ok"], true, "{cancelled}");
    assert_eq!(cancelled["booking"]["status"], "cancelled");
    let (found, _) = call(&h, Tool::FindBookings, with_call(json!({}), "conv-c")).await;
    assert_eq!(found["bookings"], json!([]));
    let (twice, _) = call(
        &h,
        Tool::UpdateBooking,
        with_call(
            json!({"booking_id": booking_id, "action": "cancel"}),
            "conv-d",
        ),
    )
    .await;
    assert_eq!(twice["error"], "already_cancelled", "{twice}");
    // Its locks are gone: another caller can book exactly that time.
    let (rebook, _) = call(
        &h,
        Tool::CreateBooking,
        with_call(
            json!({"slot_id": target["slot_id"], "customer_name": "Bo Park", "customer_phone": "+12125550199"}),
            "conv-e",
        ),
    )
    .await;
    assert_eq!(rebook["ok"], true, "{rebook}");
    assert_eq!(rebook["booking"]["start"], target["start"]);
}

#[tokio::test]
async fn fifty_concurrent_bookings_of_one_slot_have_one_winner() {
    let h = harness().await;
    let avail = offers(&h, "2026-11-25").await;
    let slot_id = avail["slots"][0]["slot_id"].clone();
    let calls = (0..50).map(|i| {
        let body = with_call(
            json!({"slot_id": slot_id, "customer_name": format!("Caller {i}"), "customer_phone": format!("+1212555{:04}", 1000 + i)}),
            &format!("conv-{i}"),
        );
        let h = &h;
        async move { call(h, Tool::CreateBooking, body).await.0 }
    });
    let answers = futures::future::join_all(calls).await;
    let winners: Vec<&Value> = answers.iter().filter(|a| a["ok"] == true).collect();
    assert_eq!(winners.len(), 1, "{answers:#?}");
    for a in answers.iter().filter(|a| a["ok"] != true) {
        assert_eq!(a["error"], "slot_taken", "{a}");
        assert!(!a["say"].as_str().unwrap().is_empty());
        assert!(!a["alternatives"].as_array().unwrap().is_empty(), "{a}");
    }
}

#[tokio::test]
async fn expected_failures_are_speakable_and_bad_requests_are_problems() {
    let h = harness().await;
    let ask = |body: Value| with_call(body, "conv-x");
    let expect = |v: &Value, code: &str| {
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["error"], code, "{v}");
        assert!(!v["say"].as_str().unwrap().is_empty(), "{v}");
    };
    let (v, _) = call(
        &h,
        Tool::CheckAvailability,
        ask(json!({"service": "tattoo"})),
    )
    .await;
    expect(&v, "unknown_service");
    let (v, _) = call(
        &h,
        Tool::CheckAvailability,
        ask(json!({"service": "cleaning", "date_range": "the day after the blue moon"})),
    )
    .await;
    expect(&v, "unparseable_date");
    let (v, _) = call(
        &h,
        Tool::CheckAvailability,
        ask(json!({"service": "cleaning", "date_range": "2026-11-01"})),
    )
    .await;
    expect(&v, "date_in_past");
    let (v, _) = call(
        &h,
        Tool::CheckAvailability,
        ask(json!({"service": "cleaning", "staff": "Dr. Who"})),
    )
    .await;
    expect(&v, "unknown_staff");
    // Christmas Day is closed: no slots, the next openings offered instead.
    let (v, _) = call(
        &h,
        Tool::CheckAvailability,
        ask(json!({"service": "cleaning", "date_range": "2026-12-25"})),
    )
    .await;
    assert_eq!(v["ok"], true);
    assert_eq!(v["slots"], json!([]));
    assert!(!v["next_available"].as_array().unwrap().is_empty(), "{v}");

    let booking = |extra: Value| {
        let mut b = json!({"customer_name": "Ana Diaz", "service": "cleaning", "staff": "dr-lee"});
        for (k, val) in extra.as_object().unwrap() {
            b[k] = val.clone();
        }
        ask(b)
    };
    let (v, _) = call(
        &h,
        Tool::CreateBooking,
        booking(json!({"slot_id": "made-up.slot"})),
    )
    .await;
    expect(&v, "invalid_slot");
    let (v, _) = call(
        &h,
        Tool::CreateBooking,
        booking(json!({"start": "2026-11-24T07:00"})),
    )
    .await;
    expect(&v, "outside_hours");
    assert!(!v["alternatives"].as_array().unwrap().is_empty(), "{v}");
    let (v, _) = call(
        &h,
        Tool::CreateBooking,
        booking(json!({"start": "2026-11-23T09:30"})),
    )
    .await;
    expect(&v, "too_soon");
    let (v, _) = call(
        &h,
        Tool::CreateBooking,
        booking(json!({"start": "2026-11-20T10:00"})),
    )
    .await;
    expect(&v, "date_in_past");
    let (v, _) = call(
        &h,
        Tool::CreateBooking,
        booking(json!({"start": "2026-12-25T10:00"})),
    )
    .await;
    expect(&v, "closed");
    let (v, _) = call(
        &h,
        Tool::CreateBooking,
        booking(json!({"start": "next blue moon"})),
    )
    .await;
    expect(&v, "unparseable_date");
    let (v, _) = call(
        &h,
        Tool::CreateBooking,
        booking(json!({"start": "2026-11-24T10:00", "customer_phone": "12"})),
    )
    .await;
    expect(&v, "invalid_phone");
    // Booking with a start time (no slot id) works too; the booking is too close to cancel later.
    let (ok, _) = call(
        &h,
        Tool::CreateBooking,
        booking(json!({"start": "2026-11-24T10:00"})),
    )
    .await;
    assert_eq!(ok["ok"], true, "{ok}");
    let late = Fixed("2026-11-24T12:00:00Z".parse().unwrap());
    let h2 = Harness {
        ctx: h.ctx.with_clock(Arc::new(late)),
        trips: h.trips,
        _stack: h._stack,
    };
    let (v, _) = call(
        &h2,
        Tool::UpdateBooking,
        ask(json!({"booking_id": ok["booking"]["booking_id"], "action": "cancel"})),
    )
    .await;
    expect(&v, "too_late_to_cancel");
    let (v, _) = call(
        &h2,
        Tool::UpdateBooking,
        ask(json!({"booking_id": "ZZZZZZZZ", "action": "cancel"})),
    )
    .await;
    expect(&v, "booking_not_found");

    // Caller mistakes the agent cannot speak around: 400 problem details, never 5xx.
    for (tool, body) in [
        (Tool::CheckAvailability, "{not json"),
        (Tool::CheckAvailability, "{}"),
        (Tool::CheckAvailability, "[1,2]"),
        (Tool::CreateBooking, r#"{"slot_id":"x"}"#),
        (Tool::UpdateBooking, r#"{"action":"cancel"}"#),
        (Tool::LogCall, r#"{"disposition":"great"}"#),
        (Tool::CheckAvailability, r#"{"service": 42}"#),
    ] {
        let (status, v, _) = call_raw(&h2, tool, "demo-dental", Some(SECRET), body).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(
            v["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:frontdesk:problem:"),
            "{v}"
        );
    }
}

#[tokio::test]
async fn tool_secrets_are_per_business() {
    let h = harness().await;
    let body = json!({"service": "cleaning"}).to_string();
    let (status, v, _) = call_raw(&h, Tool::CheckAvailability, "demo-dental", None, &body).await;
    assert_eq!(status, 401, "{v}");
    let (status, v, trips) = call_raw(
        &h,
        Tool::CheckAvailability,
        "demo-dental",
        Some("wrong"),
        &body,
    )
    .await;
    assert_eq!(status, 403, "{v}");
    assert!(trips <= 2, "{trips}");
    // Business A's secret on business B: 403, nothing but B's secret hashes read.
    let (status, v, trips) =
        call_raw(&h, Tool::CreateBooking, "other-biz", Some(SECRET), &body).await;
    assert_eq!(status, 403, "{v}");
    assert!(trips <= 2, "{trips}");
    let (status, _, _) = call_raw(
        &h,
        Tool::CheckAvailability,
        "no-such-biz",
        Some(SECRET),
        &body,
    )
    .await;
    assert_eq!(status, 403);
    // The right secret on the wrong tool's route is a 404.
    let resp = handle(
        &h.ctx,
        Tool::CreateBooking,
        req("demo-dental", "check_availability", Some(SECRET), &body),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn contacts_and_call_logs() {
    let h = harness().await;
    let (v, _) = call(
        &h,
        Tool::UpsertContact,
        with_call(
            json!({"name": "Ana Diaz", "phone": "(212) 555-0142", "email": "ana@example.com"}),
            "conv-1",
        ),
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["contact"]["phone"], CALLER);
    let log = with_call(
        json!({"disposition": "info_only", "summary": "Asked about parking."}),
        "conv-1",
    );
    let (first, trips) = call(&h, Tool::LogCall, log.clone()).await;
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["call_id"], "conv-1");
    assert_eq!(trips, 1);
    let (again, _) = call(&h, Tool::LogCall, log).await;
    assert_eq!(again, first);
}
