//! Admin API against moto through the real AWS SDK: the handler runs in-process
//! with the production DynamoDB store and Secrets Manager adapters, on a table
//! and secret provisioned from template.yaml.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use frontdesk_app::admin::{AdminContext, MAX_BODY_BYTES, handle};
use frontdesk_app::auth::AdminAuth;
use frontdesk_app::secrets::{CachedSecrets, SecretsManager};
use frontdesk_app::store::dynamodb::DynamoStore;
use frontdesk_app::store::{
    BusinessPage, BusinessRecord, BusinessStore, StoreError, ToolProfile, ToolSecretHash,
};
use frontdesk_tests::stack::TestStack;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};

const TOKEN: &str = "test-admin-token-0123456789";

/// Counts every store call, to prove that rejected requests touch nothing.
struct CountingStore {
    inner: DynamoStore,
    calls: AtomicUsize,
}

#[async_trait]
impl BusinessStore for CountingStore {
    async fn create(&self, r: &BusinessRecord) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.create(r).await
    }
    async fn get(&self, id: &str) -> Result<Option<BusinessRecord>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<BusinessPage, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.list(limit, cursor).await
    }
    async fn replace(&self, p: &BusinessRecord, n: &BusinessRecord) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.replace(p, n).await
    }
    async fn delete(&self, r: &BusinessRecord) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(r).await
    }
    async fn business_for_number(&self, e164: &str) -> Result<Option<String>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.business_for_number(e164).await
    }
    async fn tool_profile(&self, id: &str) -> Result<Option<ToolProfile>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.tool_profile(id).await
    }
    async fn set_tool_secrets(&self, id: &str, h: &[ToolSecretHash]) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.set_tool_secrets(id, h).await
    }
}

struct Harness {
    ctx: AdminContext,
    store: Arc<CountingStore>,
    stack: TestStack,
}

async fn harness() -> Harness {
    let stack = TestStack::provision(&[("AdminTokenSecret", TOKEN)]).await;
    let store = Arc::new(CountingStore {
        inner: DynamoStore::new(stack.dynamodb(), stack.table("Table")),
        calls: AtomicUsize::new(0),
    });
    let secrets = Arc::new(CachedSecrets::new(
        Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
            stack.sdk(),
        ))),
        CachedSecrets::DEFAULT_TTL,
    ));
    let ctx = AdminContext::new(
        store.clone(),
        AdminAuth::new(secrets, stack.secret_arn("AdminTokenSecret")),
    );
    Harness { ctx, store, stack }
}

fn demo() -> Value {
    serde_json::from_str(include_str!("../infra/demo/business.json")).unwrap()
}

/// A minimal valid business with its own id and number.
fn minimal(id: &str, number: &str) -> Value {
    json!({
        "id": id,
        "profile": {"name": format!("Business {id}"), "time_zone": "Europe/London"},
        "telephony": {"numbers": [number]}
    })
}

fn request(method: &str, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Request {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"));
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let body = body
        .map(|v| Body::Text(v.to_string()))
        .unwrap_or(Body::Empty);
    b.body(body).unwrap()
}

async fn send(h: &Harness, req: Request) -> (u16, Value, Response<Body>) {
    let resp = handle(&h.ctx, req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes: &[u8] = resp.body().as_ref();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes).unwrap()
    };
    (status, json, resp)
}

fn header(resp: &Response<Body>, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn create_read_update_with_etags_and_stale_write() {
    let h = harness().await;
    let (status, body, resp) =
        send(&h, request("POST", "/admin/businesses", Some(&demo()), &[])).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(header(&resp, "location"), "/admin/businesses/demo-dental");
    assert_eq!(header(&resp, "etag"), "\"1\"");
    assert_eq!(body["id"], "demo-dental");
    assert_eq!(body["version"], 1);
    assert_eq!(body["profile"]["time_zone"], "America/New_York");
    // Defaults are filled in and returned.
    assert!(
        body["sms"]["templates"]["follow_up"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{body}"
    );

    let (status, read, resp) = send(
        &h,
        request("GET", "/admin/businesses/demo-dental", None, &[]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&resp, "etag"), "\"1\"");
    assert_eq!(read, body);
    let (status, _, _) = send(
        &h,
        request(
            "GET",
            "/admin/businesses/demo-dental",
            None,
            &[("if-none-match", "\"1\"")],
        ),
    )
    .await;
    assert_eq!(status, 304);

    // Replace with the right ETag.
    let mut changed = read.clone();
    changed["profile"]["name"] = json!("Smile Dental Springfield");
    let (status, body, resp) = send(
        &h,
        request(
            "PUT",
            "/admin/businesses/demo-dental",
            Some(&changed),
            &[("if-match", "\"1\"")],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&resp, "etag"), "\"2\"");
    assert_eq!(body["profile"]["name"], "Smile Dental Springfield");
    assert_eq!(body["created_at"], read["created_at"]);

    // The same write again is stale: 412 with the current ETag, and nothing changes.
    changed["profile"]["name"] = json!("Lost update");
    let (status, problem, resp) = send(
        &h,
        request(
            "PUT",
            "/admin/businesses/demo-dental",
            Some(&changed),
            &[("if-match", "\"1\"")],
        ),
    )
    .await;
    assert_eq!(status, 412, "{problem}");
    assert_eq!(problem["type"], "urn:frontdesk:problem:precondition-failed");
    assert_eq!(header(&resp, "etag"), "\"2\"");
    let (_, now, _) = send(
        &h,
        request("GET", "/admin/businesses/demo-dental", None, &[]),
    )
    .await;
    assert_eq!(now["profile"]["name"], "Smile Dental Springfield");
    assert_eq!(now["version"], 2);

    // Merge patch.
    let patch = json!({"booking_rules": {"min_notice_minutes": 240}, "faqs": []});
    let (status, body, resp) = send(
        &h,
        request(
            "PATCH",
            "/admin/businesses/demo-dental",
            Some(&patch),
            &[
                ("if-match", "\"2\""),
                ("content-type", "application/merge-patch+json"),
            ],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&resp, "etag"), "\"3\"");
    assert_eq!(body["booking_rules"]["min_notice_minutes"], 240);
    assert_eq!(
        body["booking_rules"]["horizon_days"],
        now["booking_rules"]["horizon_days"]
    );
    assert_eq!(body["faqs"], json!([]));

    // Writes without If-Match are refused.
    let (status, problem, _) = send(
        &h,
        request("PATCH", "/admin/businesses/demo-dental", Some(&patch), &[]),
    )
    .await;
    assert_eq!(status, 428, "{problem}");
    let (status, _, _) = send(
        &h,
        request("DELETE", "/admin/businesses/demo-dental", None, &[]),
    )
    .await;
    assert_eq!(status, 428);
}

#[tokio::test]
async fn concurrent_writers_on_one_version_have_one_winner() {
    let h = harness().await;
    let (status, created, _) = send(
        &h,
        request(
            "POST",
            "/admin/businesses",
            Some(&minimal("race-biz", "+12125550111")),
            &[],
        ),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let writers = (0..8).map(|i| {
        let patch = json!({"profile": {"name": format!("Writer {i}")}});
        handle(
            &h.ctx,
            request(
                "PATCH",
                "/admin/businesses/race-biz",
                Some(&patch),
                &[("if-match", "\"1\"")],
            ),
        )
    });
    let results = futures_statuses(writers).await;
    assert_eq!(
        results.iter().filter(|s| **s == 200).count(),
        1,
        "{results:?}"
    );
    assert!(
        results.iter().all(|s| *s == 200 || *s == 412),
        "{results:?}"
    );
    let (_, now, _) = send(&h, request("GET", "/admin/businesses/race-biz", None, &[])).await;
    assert_eq!(now["version"], 2);
}

async fn futures_statuses<F>(futs: impl Iterator<Item = F>) -> Vec<u16>
where
    F: std::future::Future<Output = Result<Response<Body>, lambda_http::Error>>,
{
    futures::future::join_all(futs)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect()
}

#[tokio::test]
async fn a_number_belongs_to_one_business_only() {
    let h = harness().await;
    let (status, _, _) = send(
        &h,
        request(
            "POST",
            "/admin/businesses",
            Some(&minimal("first-biz", "+12125550120")),
            &[],
        ),
    )
    .await;
    assert_eq!(status, 201);

    // Creating another business with the same number conflicts, and nothing of it is stored.
    let (status, problem, _) = send(
        &h,
        request(
            "POST",
            "/admin/businesses",
            Some(&minimal("second-biz", "+12125550120")),
            &[],
        ),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "urn:frontdesk:problem:number-taken");
    assert_eq!(pointers(&problem), ["/telephony/numbers/0"]);
    assert!(problem["detail"].as_str().unwrap().contains("first-biz"));
    let (status, _, _) = send(
        &h,
        request("GET", "/admin/businesses/second-biz", None, &[]),
    )
    .await;
    assert_eq!(status, 404);

    // Adding a taken number to an existing business conflicts too, and leaves it unchanged.
    let (status, _, _) = send(
        &h,
        request(
            "POST",
            "/admin/businesses",
            Some(&minimal("third-biz", "+12125550121")),
            &[],
        ),
    )
    .await;
    assert_eq!(status, 201);
    let patch = json!({"telephony": {"numbers": ["+12125550121", "+12125550120"]}});
    let (status, problem, _) = send(
        &h,
        request(
            "PATCH",
            "/admin/businesses/third-biz",
            Some(&patch),
            &[("if-match", "\"1\"")],
        ),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(pointers(&problem), ["/telephony/numbers/1"]);
    let (_, third, _) = send(&h, request("GET", "/admin/businesses/third-biz", None, &[])).await;
    assert_eq!(third["version"], 1);
    assert_eq!(third["telephony"]["numbers"], json!(["+12125550121"]));

    // Routing by number sees the owner; moving a number releases it.
    assert_eq!(
        h.store
            .inner
            .business_for_number("+12125550120")
            .await
            .unwrap()
            .as_deref(),
        Some("first-biz")
    );
    let patch = json!({"telephony": {"numbers": ["+12125550122"]}});
    let (status, _, _) = send(
        &h,
        request(
            "PATCH",
            "/admin/businesses/first-biz",
            Some(&patch),
            &[("if-match", "\"1\"")],
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        h.store
            .inner
            .business_for_number("+12125550120")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        h.store
            .inner
            .business_for_number("+12125550122")
            .await
            .unwrap()
            .as_deref(),
        Some("first-biz")
    );
    let (status, _, _) = send(
        &h,
        request(
            "POST",
            "/admin/businesses",
            Some(&minimal("second-biz", "+12125550120")),
            &[],
        ),
    )
    .await;
    assert_eq!(status, 201);

    // Deleting a business releases its numbers.
    let (status, _, _) = send(
        &h,
        request(
            "DELETE",
            "/admin/businesses/first-biz",
            None,
            &[("if-match", "\"2\"")],
        ),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        h.store
            .inner
            .business_for_number("+12125550122")
            .await
            .unwrap(),
        None
    );
    let (status, _, _) = send(&h, request("GET", "/admin/businesses/first-biz", None, &[])).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn concurrent_claims_of_one_number_have_one_winner() {
    let h = harness().await;
    let creates = (0..10).map(|i| {
        let body = minimal(&format!("claimant-{i}"), "+12125550130");
        handle(
            &h.ctx,
            request("POST", "/admin/businesses", Some(&body), &[]),
        )
    });
    let statuses = futures_statuses(creates).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        9,
        "{statuses:?}"
    );
    let (_, page, _) = send(&h, request("GET", "/admin/businesses", None, &[])).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_configurations_are_rejected_with_every_field_named() {
    let h = harness().await;
    let mut bad = demo();
    bad["profile"]["time_zone"] = json!("America/NewYork");
    bad["telephony"]["numbers"] = json!(["+1555"]);
    bad["hours"]["monday"] =
        json!([{"open": "09:00", "close": "13:30"}, {"open": "13:00", "close": "14:00"}]);
    bad["services"][0]["buffer_after_minutes"] = json!(1500);
    bad["sms"]["templates"]["booking_confirmation"] =
        json!("Hi {{customer_name}}, see you {{when}}");
    let (status, problem, resp) =
        send(&h, request("POST", "/admin/businesses", Some(&bad), &[])).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(header(&resp, "content-type"), "application/problem+json");
    assert_eq!(problem["type"], "urn:frontdesk:problem:validation");
    let ptrs = pointers(&problem);
    for expected in [
        "/profile/time_zone",
        "/telephony/numbers/0",
        "/hours/monday/1",
        "/services/0/buffer_after_minutes",
        "/sms/templates/booking_confirmation",
    ] {
        assert!(
            ptrs.iter().any(|p| p.starts_with(expected)),
            "missing {expected} in {ptrs:?}"
        );
    }
    let text = problem["errors"].to_string();
    assert!(text.contains("America/NewYork"), "{text}");
    assert!(text.contains("when"), "{text}");
    // Nothing was written.
    let (status, _, _) = send(
        &h,
        request("GET", "/admin/businesses/demo-dental", None, &[]),
    )
    .await;
    assert_eq!(status, 404);

    // Unknown fields and wrong types are named too.
    let mut typo = minimal("typo-biz", "+12125550140");
    typo["booking_rules"] = json!({"min_notice_minutes": "soon", "horizon_dayz": 3});
    let (status, problem, _) =
        send(&h, request("POST", "/admin/businesses", Some(&typo), &[])).await;
    assert_eq!(status, 422, "{problem}");
    let ptrs = pointers(&problem);
    assert!(
        ptrs.iter().any(|p| p.starts_with("/booking_rules")),
        "{ptrs:?}"
    );

    // A body id that contradicts the URL is refused.
    let (status, _, _) = send(
        &h,
        request(
            "POST",
            "/admin/businesses",
            Some(&minimal("real-biz", "+12125550141")),
            &[],
        ),
    )
    .await;
    assert_eq!(status, 201);
    let (status, problem, _) = send(
        &h,
        request(
            "PUT",
            "/admin/businesses/real-biz",
            Some(&minimal("other-biz", "+12125550141")),
            &[("if-match", "\"1\"")],
        ),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/id"]);
    let (status, problem, _) = send(
        &h,
        request(
            "POST",
            "/admin/businesses",
            Some(&minimal("Bad_Id", "+12125550142")),
            &[],
        ),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/id"]);
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies() {
    let h = harness().await;
    let raw = |body: &str, ct: &str| {
        http::Request::builder()
            .method("POST")
            .uri("/admin/businesses")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", ct)
            .body(Body::Text(body.to_owned()))
            .unwrap()
    };
    let (status, problem, resp) = send(&h, raw("{\"profile\": {", "application/json")).await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], "urn:frontdesk:problem:malformed-json");
    assert_eq!(header(&resp, "content-type"), "application/problem+json");
    let (status, _, _) = send(&h, raw("", "application/json")).await;
    assert_eq!(status, 400);
    let (status, _, _) = send(&h, raw("[1,2]", "application/json")).await;
    assert_eq!(status, 422);
    let (status, _, _) = send(&h, raw("{}", "text/plain")).await;
    assert_eq!(status, 415);
    let mut big = minimal("big-biz", "+12125550150");
    big["faqs"] = json!([{"question": "q", "answer": "a".repeat(MAX_BODY_BYTES)}]);
    let (status, problem, _) = send(&h, raw(&big.to_string(), "application/json")).await;
    assert_eq!(status, 413, "{problem}");
    assert_eq!(
        h.store.calls.load(Ordering::SeqCst),
        0,
        "rejected bodies must not reach the store"
    );
}

#[tokio::test]
async fn missing_or_bad_tokens_are_refused_before_anything_is_read() {
    let h = harness().await;
    let cases: [Option<&str>; 4] = [
        None,
        Some("Bearer wrong-token"),
        Some(&format!("Basic {TOKEN}")),
        Some("Bearer "),
    ];
    for auth in cases {
        for (method, path, body) in [
            ("GET", "/admin/businesses", None),
            ("GET", "/admin/businesses/demo-dental", None),
            ("POST", "/admin/businesses", Some(demo())),
            ("DELETE", "/admin/businesses/demo-dental", None),
        ] {
            let mut b = http::Request::builder().method(method).uri(path);
            if let Some(a) = auth {
                b = b.header("authorization", a);
            }
            let req = b
                .body(
                    body.map(|v| Body::Text(v.to_string()))
                        .unwrap_or(Body::Empty),
                )
                .unwrap();
            let (status, problem, resp) = send(&h, req).await;
            assert_eq!(status, 401, "{method} {path} with {auth:?}: {problem}");
            assert!(header(&resp, "www-authenticate").starts_with("Bearer"));
        }
    }
    assert_eq!(
        h.store.calls.load(Ordering::SeqCst),
        0,
        "unauthenticated requests must not reach the store"
    );
    let (status, _, _) = send(
        &h,
        request("GET", "/admin/businesses/demo-dental", None, &[]),
    )
    .await;
    assert_eq!(status, 404, "nothing was written by the refused POSTs");
}

#[tokio::test]
async fn listing_pages_through_every_business() {
    let h = harness().await;
    for i in 0..5 {
        let (status, _, _) = send(
            &h,
            request(
                "POST",
                "/admin/businesses",
                Some(&minimal(&format!("list-{i}"), &format!("+1212555016{i}"))),
                &[],
            ),
        )
        .await;
        assert_eq!(status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = request("GET", "/admin/businesses", None, &[]);
        let mut q = std::collections::HashMap::from([("limit".to_owned(), "2".to_owned())]);
        if let Some(c) = &cursor {
            q.insert("cursor".to_owned(), c.clone());
        }
        req = req.with_query_string_parameters(q);
        let (status, page, _) = send(&h, req).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["list-0", "list-1", "list-2", "list-3", "list-4"]);

    let bad = request("GET", "/admin/businesses", None, &[]).with_query_string_parameters(
        std::collections::HashMap::from([("limit".to_owned(), "0".to_owned())]),
    );
    assert_eq!(send(&h, bad).await.0, 400);
    let bad = request("GET", "/admin/businesses", None, &[]).with_query_string_parameters(
        std::collections::HashMap::from([("cursor".to_owned(), "garbage".to_owned())]),
    );
    assert_eq!(send(&h, bad).await.0, 400);
}

#[tokio::test]
async fn unknown_resources_and_methods() {
    let h = harness().await;
    assert_eq!(
        send(&h, request("GET", "/admin/businesses/nope-nope", None, &[]))
            .await
            .0,
        404
    );
    assert_eq!(
        send(&h, request("GET", "/admin/other", None, &[])).await.0,
        404
    );
    let (status, _, resp) = send(&h, request("POST", "/admin/businesses/x-y-z", None, &[])).await;
    assert_eq!(status, 405);
    assert_eq!(header(&resp, "allow"), "GET, PUT, PATCH, DELETE");
    assert_eq!(
        send(
            &h,
            request(
                "PUT",
                "/admin/businesses/nope-nope",
                Some(&minimal("nope-nope", "+12125550170")),
                &[("if-match", "\"1\"")]
            )
        )
        .await
        .0,
        404
    );
}

/// Every sample event in events/ is a valid API Gateway event for its route.
#[tokio::test]
async fn sample_events_drive_the_handler() {
    let h = harness_with_token("local-dev-admin-token").await;
    let event = |name: &str| {
        let text =
            std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        lambda_http::request::from_str(&text).unwrap()
    };
    let get = event("admin-get-business.json");
    assert_eq!(
        get.path_parameters_ref()
            .and_then(|p| p.first("business_id")),
        Some("demo-dental")
    );
    assert_eq!(send(&h, event("admin-create-business.json")).await.0, 201);
    assert_eq!(send(&h, get).await.0, 200);
    let (status, page, _) = send(&h, event("admin-list-businesses.json")).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["id"], "demo-dental");
    let (status, patched, _) = send(&h, event("admin-patch-business.json")).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["booking_rules"]["min_notice_minutes"], 240);
    // The replace and delete samples carry If-Match "1": now stale.
    assert_eq!(send(&h, event("admin-replace-business.json")).await.0, 412);
    assert_eq!(send(&h, event("admin-delete-business.json")).await.0, 412);
}

async fn harness_with_token(token: &str) -> Harness {
    let mut h = harness().await;
    h.stack.set_secret("AdminTokenSecret", token).await;
    let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
        h.stack.sdk(),
    )));
    h.ctx = AdminContext::new(
        h.store.clone(),
        AdminAuth::new(secrets, h.stack.secret_arn("AdminTokenSecret")),
    );
    h
}

/// The agent configuration: native businesses get ElevenLabs' `transfer_to_number` built from
/// their transfer rules, register-call businesses the `transfer_call` server tool.
#[tokio::test]
async fn voice_agent_renders_the_transfer_rules_for_the_mode() {
    let h = harness().await;
    let mut doc = demo();
    doc["telephony"]["transfers"] = json!([
        {"number": "+12125550198", "condition": "A dental emergency", "transfer_type": "blind"}
    ]);
    let (status, body, _) = send(&h, request("POST", "/admin/businesses", Some(&doc), &[])).await;
    assert_eq!(status, 201, "{body}");
    let (status, agent, _) = send(
        &h,
        request(
            "GET",
            "/admin/businesses/demo-dental/voice-agent",
            None,
            &[],
        ),
    )
    .await;
    assert_eq!(status, 200, "{agent}");
    let transfer = &agent["built_in_tools"]["transfer_to_number"];
    assert_eq!(transfer["params"]["system_tool_type"], "transfer_to_number");
    assert_eq!(
        transfer["params"]["transfers"][0],
        json!({"transfer_destination": {"type": "phone", "phone_number": "+12125550198"},
               "condition": "A dental emergency", "transfer_type": "blind"})
    );
    let names: Vec<&str> = agent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"transfer_call"), "{names:?}");
    assert!(agent["dynamic_variables"].as_array().unwrap().len() >= 27);

    // Register-call: no built-in transfer (ElevenLabs can't), the transfer_call tool instead.
    let (_, read, resp) = send(
        &h,
        request("GET", "/admin/businesses/demo-dental", None, &[]),
    )
    .await;
    let _ = read;
    let etag = header(&resp, "etag");
    let patch = json!({"telephony": {"mode": "register_call", "agent_id": "agent_demo"}});
    let (status, body, _) = send(
        &h,
        request(
            "PATCH",
            "/admin/businesses/demo-dental",
            Some(&patch),
            &[("if-match", etag.as_str())],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, agent, _) = send(
        &h,
        request(
            "GET",
            "/admin/businesses/demo-dental/voice-agent",
            None,
            &[],
        ),
    )
    .await;
    assert_eq!(agent["built_in_tools"], json!({}));
    assert!(
        agent["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "transfer_call")
    );
    let (status, _, _) = send(
        &h,
        request(
            "POST",
            "/admin/businesses/demo-dental/voice-agent",
            None,
            &[],
        ),
    )
    .await;
    assert_eq!(status, 405);
}
