//! The local stack against moto: provisioning template.yaml, the gateway in front of a real
//! Lambda function binary (test-echo), the SQS event-source mapping with a
//! ReportBatchItemFailures consumer (test-consumer), and Schedule / ScheduleV2 events
//! (test-echo as TickFunction). Fixture: tests/fixtures/local-stack.yaml.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use base64::Engine as _;
use frontdesk_localstack::runtime::Outcome;
use frontdesk_localstack::{LocalStack, LocalStackConfig, ProvisionOptions, Template, provision};
use frontdesk_tests::moto;
use serde_json::{Value, json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn fixture_template() -> Template {
    Template::load(moto::workspace_root().join("tests/fixtures/local-stack.yaml"))
        .expect("fixture template parses")
}

struct Harness {
    sdk: SdkConfig,
    stack: LocalStack,
    log: PathBuf,
    /// Non-HTTP events test-echo got (TEST_ECHO_EVENTS_LOG), one JSON per line.
    events_log: PathBuf,
}

/// Provisions the fixture under a unique stack name, runs `before` (e.g. to send messages
/// before any poller runs), then starts the local stack on the same (reused) resources.
async fn start_with<F, Fut>(prefix: &str, before: F) -> Harness
where
    F: FnOnce(SdkConfig, frontdesk_localstack::Stack) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    start_configured(prefix, before, |_| {}).await
}

/// [`start_with`], with `configure` applied to the config last.
async fn start_configured<F, Fut>(
    prefix: &str,
    before: F,
    configure: impl FnOnce(&mut LocalStackConfig),
) -> Harness
where
    F: FnOnce(SdkConfig, frontdesk_localstack::Stack) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let sdk = moto::sdk_config().await;
    let template = fixture_template();
    let name = moto::unique_stack_name(prefix);
    let provisioned = provision(&sdk, &template, &name, &ProvisionOptions::default())
        .await
        .expect("provision the fixture");
    before(sdk.clone(), provisioned).await;
    let log = std::env::temp_dir().join(format!("{name}-consumer.log"));
    let _ = std::fs::remove_file(&log);
    let events_log = std::env::temp_dir().join(format!("{name}-echo-events.log"));
    let _ = std::fs::remove_file(&events_log);
    let mut config = LocalStackConfig::new(&name, "/nonexistent");
    config.executables.insert(
        "EchoFunction".into(),
        PathBuf::from(env!("CARGO_BIN_EXE_test-echo")),
    );
    config.executables.insert(
        "ConsumerFunction".into(),
        PathBuf::from(env!("CARGO_BIN_EXE_test-consumer")),
    );
    config.executables.insert(
        "TickFunction".into(),
        PathBuf::from(env!("CARGO_BIN_EXE_test-echo")),
    );
    config
        .extra_env
        .insert("TEST_CONSUMER_LOG".into(), log.display().to_string());
    config.extra_env.insert(
        "TEST_ECHO_EVENTS_LOG".into(),
        events_log.display().to_string(),
    );
    configure(&mut config);
    let stack = LocalStack::start(&sdk, &template, config)
        .await
        .expect("start the local stack");
    Harness {
        sdk,
        stack,
        log,
        events_log,
    }
}

async fn start(prefix: &str) -> Harness {
    start_with(prefix, |_, _| async {}).await
}

fn proc_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits (up to 3 s) for a killed process to be reaped.
async fn gone(pid: u32) -> bool {
    for _ in 0..60 {
        if !proc_alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisions_template_yaml_idempotently() {
    let sdk = moto::sdk_config().await;
    let template = Template::load(moto::workspace_root().join("template.yaml")).unwrap();
    let name = moto::unique_stack_name("prov");
    let stack = provision(&sdk, &template, &name, &ProvisionOptions::default())
        .await
        .unwrap();

    // Table with both GSIs and TTL on.
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = stack.table("Table").unwrap();
    assert_eq!(table.name, format!("{name}-Table"));
    let d = ddb
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(d.table_arn.as_deref(), Some(table.arn.as_str()));
    let mut gsis: Vec<(String, Vec<String>)> = d
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            let keys = g
                .key_schema()
                .iter()
                .map(|k| k.attribute_name().to_string())
                .collect();
            (g.index_name().unwrap_or_default().to_string(), keys)
        })
        .collect();
    gsis.sort();
    assert_eq!(
        gsis,
        [
            (
                "GSI1".to_string(),
                vec!["gsi1pk".to_string(), "gsi1sk".to_string()]
            ),
            (
                "GSI2".to_string(),
                vec!["gsi2pk".to_string(), "gsi2sk".to_string()]
            ),
        ]
    );
    let ttl = ddb
        .describe_time_to_live()
        .table_name(&table.name)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description.unwrap();
    assert_eq!(ttl.attribute_name.as_deref(), Some("expires_at"));
    assert_eq!(
        ttl.time_to_live_status
            .map(|s| s.as_str().to_string())
            .as_deref(),
        Some("ENABLED")
    );

    // Every queue with a redrive policy points at its DLQ's ARN.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut redriven = 0;
    for q in &template.queues {
        let physical = stack.queue(&q.logical_id).unwrap();
        assert_eq!(physical.name, format!("{name}-{}", q.logical_id));
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&physical.url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        assert_eq!(attrs[&QueueAttributeName::QueueArn], physical.arn);
        if let Some(r) = &q.redrive {
            redriven += 1;
            let policy: Value =
                serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
            assert_eq!(
                policy["deadLetterTargetArn"],
                stack.queue(&r.dead_letter_queue).unwrap().arn
            );
            assert_eq!(
                policy["maxReceiveCount"].to_string().trim_matches('"'),
                r.max_receive_count.to_string()
            );
            assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "180");
        }
    }
    assert_eq!(redriven, 4);

    // Secrets: generated admin token (48 alphanumerics), template strings.
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let admin = stack.secret("AdminTokenSecret").unwrap();
    assert_eq!(admin.name, format!("{name}/AdminTokenSecret"));
    assert_eq!(admin.value.len(), 48);
    assert!(
        admin.value.chars().all(|c| c.is_ascii_alphanumeric()),
        "{}",
        admin.value
    );
    let got = sm
        .get_secret_value()
        .secret_id(&admin.arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string.as_deref(), Some(admin.value.as_str()));
    assert_eq!(
        stack.secret("TwilioSecret").unwrap().value,
        r#"{"account_sid":"","auth_token":""}"#
    );

    // Function environment resolved against the physical resources.
    let env = stack
        .function_environment(template.function("AdminApiFunction").unwrap())
        .unwrap();
    assert_eq!(env["TABLE_NAME"], table.name);
    assert_eq!(env["ADMIN_TOKEN_SECRET_ARN"], admin.arn);

    // Again: everything reused, the generated token kept; an override replaces it.
    let again = provision(&sdk, &template, &name, &ProvisionOptions::default())
        .await
        .unwrap();
    assert_eq!(again.tables, stack.tables);
    assert_eq!(again.queues, stack.queues);
    assert_eq!(again.secrets, stack.secrets);
    let mut options = ProvisionOptions::default();
    options
        .secret_values
        .insert("AdminTokenSecret".into(), "override-token".into());
    let third = provision(&sdk, &template, &name, &options).await.unwrap();
    assert_eq!(third.secret("AdminTokenSecret").unwrap().arn, admin.arn);
    let got = sm
        .get_secret_value()
        .secret_id(&admin.arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string.as_deref(), Some("override-token"));

    // Another stack name gets its own resources.
    let other = provision(&sdk, &template, &moto::unique_stack_name("prov"), &options)
        .await
        .unwrap();
    assert_ne!(other.table("Table").unwrap().name, table.name);
    assert_ne!(
        other.queue("PostcallQueue").unwrap().url,
        stack.queue("PostcallQueue").unwrap().url
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_round_trip_through_a_lambda_function() {
    let h = start("gw").await;
    let base = h.stack.gateway_url();

    // The environment handed to `cargo lambda watch --env-file`: template + AWS endpoint.
    let dir = std::env::temp_dir().join(format!("frontdesk-env-{}", std::process::id()));
    let files = h.stack.write_env_files(&dir).unwrap();
    assert!(!files.is_empty());
    let echo_env = std::fs::read_to_string(dir.join("EchoFunction.env")).unwrap();
    let queue_url = &h.stack.stack().queue("WorkQueue").unwrap().url;
    assert!(
        echo_env.contains(&format!("QUEUE_URL={queue_url}\n")),
        "{echo_env}"
    );
    assert!(echo_env.contains("AWS_ENDPOINT_URL=http://"), "{echo_env}");
    let _ = std::fs::remove_dir_all(&dir);
    let client = reqwest::Client::new();

    let json_body = json!({"name": "Bob's Barbers", "n": 1});
    let resp = client
        .post(format!("{base}/echo/b%201?x=1&x=2&y=z%20w"))
        .header("content-type", "application/json")
        .header("x-test", "a")
        .header("cookie", "session=abc; theme=dark")
        .body(json_body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-echo"], "yes");
    assert_eq!(resp.headers()["set-cookie"], "echo=1; Path=/");
    assert!(resp.headers().contains_key("apigw-requestid"));
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["raw_path"], "/echo/b%201");
    assert_eq!(echo["route_key"], "ANY /echo/{id}");
    assert_eq!(echo["path_params"], json!({"id": "b 1"}));
    assert_eq!(echo["query"], json!({"x": ["1", "2"], "y": ["z w"]}));
    assert_eq!(echo["headers"]["x-test"], "a");
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(echo["headers"]["cookie"], "session=abc; theme=dark");
    assert_eq!(echo["cookies"], json!(["session=abc", "theme=dark"]));
    assert_eq!(echo["is_base64_encoded"], false);
    let body = B64.decode(echo["body_base64"].as_str().unwrap()).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json_body);
    let ctx = &echo["request_context"];
    assert_eq!(ctx["stage"], "$default");
    assert_eq!(ctx["http"]["method"], "POST");
    assert_eq!(ctx["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(ctx["accountId"], "123456789012");

    // The function runs with the template's environment resolved for this stack, the
    // caller's AWS endpoint and the Lambda runtime variables.
    let s = h.stack.stack();
    let env = &echo["env"];
    assert_eq!(env["TABLE_NAME"], s.table("Table").unwrap().name);
    assert_eq!(env["QUEUE_URL"], s.queue("WorkQueue").unwrap().url);
    assert_eq!(env["QUEUE_NAME"], s.queue("WorkQueue").unwrap().name);
    assert_eq!(
        env["STACK"],
        format!("{}-{}-123456789012", s.name, s.region)
    );
    assert_eq!(env["GREETING"], "hello");
    assert_eq!(env["AWS_ENDPOINT_URL"], moto::endpoint());
    assert_eq!(
        env["AWS_LAMBDA_FUNCTION_NAME"],
        format!("{}-EchoFunction", s.name)
    );
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(echo["function_arn"], s.functions["EchoFunction"].arn);
    let deadline = echo["deadline_ms"].as_u64().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        deadline > now_ms && deadline <= now_ms + 2_500,
        "deadline {deadline} vs now {now_ms}"
    );

    // A Twilio-style form post arrives base64-encoded, bytes intact.
    let form = "From=%2B15551234567&Body=Hi+there%21&CallSid=CA123";
    let resp = client
        .post(format!("{base}/echo/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["is_base64_encoded"], true);
    assert_eq!(
        B64.decode(echo["body_base64"].as_str().unwrap()).unwrap(),
        form.as_bytes()
    );

    // Greedy path parameter; no body.
    let echo: Value = client
        .get(format!("{base}/files/a/b/c.txt"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["route_key"], "GET /files/{proxy+}");
    assert_eq!(echo["path_params"], json!({"proxy": "a/b/c.txt"}));
    assert_eq!(echo["body_base64"], "");
    assert_eq!(echo["is_base64_encoded"], false);

    // No route (unknown path, or a method the route does not take) → 404.
    for (method, path) in [
        ("GET", "/nope"),
        ("POST", "/files/a"),
        ("GET", "/echo"),
        ("GET", "/echo/a/b"),
    ] {
        let resp = client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{method} {path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"message": "Not Found"})
        );
    }

    // Over 10 MB → 413 without invoking the function.
    let before = h
        .stack
        .function("EchoFunction")
        .unwrap()
        .invocations()
        .len();
    let resp = client
        .post(format!("{base}/echo/big"))
        .header("content-type", "application/octet-stream")
        .body(vec![b'x'; 10 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(
        h.stack
            .function("EchoFunction")
            .unwrap()
            .invocations()
            .len(),
        before
    );

    // Warm reuse: sequential requests are served by one instance; its cold start is recorded.
    let pool = h.stack.function("EchoFunction").unwrap();
    let records = pool.invocations();
    assert!(records.len() >= 3);
    assert!(records.iter().all(|r| r.outcome == Outcome::Success));
    assert_eq!(
        records.iter().filter(|r| r.cold_start).count(),
        1,
        "{records:?}"
    );
    let cold = records.iter().find(|r| r.cold_start).unwrap();
    assert!(
        cold.init_duration
            .is_some_and(|d| d > Duration::ZERO && d < Duration::from_secs(10))
    );
    assert_eq!(pool.instances().len(), 1);

    // Concurrent requests spawn more instances, up to the limit (4).
    let futures: Vec<_> = (0..6)
        .map(|i| client.get(format!("{base}/echo/c{i}")).send())
        .collect();
    for r in futures::future::join_all(futures).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let instances = pool.instances().len();
    assert!((1..=4).contains(&instances), "{instances} instances");

    // Shutdown kills every function process.
    let pids = pool.pids();
    assert!(!pids.is_empty() && pids.iter().all(|p| proc_alive(*p)));
    h.stack.shutdown().await;
    assert!(
        pids.iter().all(|p| !proc_alive(*p)),
        "function processes outlived the stack"
    );
    let _ = h.sdk;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_failures_map_like_api_gateway_and_the_stack_recovers() {
    let h = start("fail").await;
    let base = h.stack.gateway_url();
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).send();

    let first: Value = get("/echo/1").await.unwrap().json().await.unwrap();
    let first_pid = first["pid"].as_u64().unwrap() as u32;

    // The process exits mid-invocation → 500; the next request gets a new instance.
    let resp = get("/crash").await.unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"message": "Internal Server Error"})
    );
    assert!(gone(first_pid).await, "the crashed process is gone");
    let next: Value = get("/echo/2").await.unwrap().json().await.unwrap();
    assert_ne!(next["pid"].as_u64().unwrap() as u32, first_pid);

    // A function error → 500; the instance stays warm.
    let resp = get("/error").await.unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"message": "Internal Server Error"})
    );
    let after_error: Value = get("/echo/3").await.unwrap().json().await.unwrap();
    assert_eq!(after_error["pid"], next["pid"]);

    // Past the 2 s timeout → 503 after about 2 s, and the instance is killed.
    let started = Instant::now();
    let resp = get("/sleep").await.unwrap();
    let took = started.elapsed();
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"message": "Service Unavailable"})
    );
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert!(
        gone(next["pid"].as_u64().unwrap() as u32).await,
        "timed-out instance killed"
    );
    let last = get("/echo/4").await.unwrap();
    assert_eq!(last.status(), 200);

    let outcomes: Vec<Outcome> = h
        .stack
        .function("EchoFunction")
        .unwrap()
        .invocations()
        .iter()
        .map(|r| r.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Success,
            Outcome::Crash,
            Outcome::Success,
            Outcome::FunctionError,
            Outcome::Success,
            Outcome::Timeout,
            Outcome::Success
        ]
    );
    h.stack.shutdown().await;
}

async fn send_batch(sdk: &SdkConfig, queue_url: &str, bodies: &[&str]) -> BTreeMap<String, String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let entries = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            SendMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .message_body(*b)
                .build()
                .unwrap()
        })
        .collect();
    let out = sqs
        .send_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert!(out.failed.is_empty(), "{:?}", out.failed);
    out.successful
        .iter()
        .map(|s| {
            let i: usize = s.id.trim_start_matches('m').parse().unwrap();
            (s.message_id.clone(), bodies[i].to_string())
        })
        .collect()
}

async fn queue_counts(sdk: &SdkConfig, url: &str) -> (u64, u64) {
    let attrs = aws_sdk_sqs::Client::new(sdk)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let n = |k: QueueAttributeName| attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0);
    (
        n(QueueAttributeName::ApproximateNumberOfMessages),
        n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// Waits until the DLQ holds `dlq` messages and the work queue is empty.
async fn wait_for_dlq(h: &Harness, dlq: u64) {
    let s = h.stack.stack();
    let (work, dead) = (
        &s.queue("WorkQueue").unwrap().url,
        &s.queue("WorkDLQ").unwrap().url,
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let w = queue_counts(&h.sdk, work).await;
        let d = queue_counts(&h.sdk, dead).await;
        if w == (0, 0) && d.0 == dlq {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: work queue {w:?}, DLQ {d:?}; mapping {:?}; consumer invocations {:?}, instances {:?}; log {:?}",
            h.stack.mappings()[0].stats(),
            h.stack.function("ConsumerFunction").unwrap().invocations(),
            h.stack.function("ConsumerFunction").unwrap().instances(),
            std::fs::read_to_string(&h.log),
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn dlq_bodies(h: &Harness) -> BTreeMap<String, String> {
    let sqs = aws_sdk_sqs::Client::new(&h.sdk);
    let url = &h.stack.stack().queue("WorkDLQ").unwrap().url;
    let mut out = BTreeMap::new();
    for _ in 0..5 {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for m in got.messages.unwrap_or_default() {
            out.insert(m.message_id.unwrap(), m.body.unwrap());
        }
    }
    out
}

/// `<messageId> -> [(receiveCount, ok|fail)]` from the consumer's log.
fn deliveries(log: &Path) -> BTreeMap<String, Vec<(u32, String)>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let [id, count, outcome] = parts.as_slice() else {
            panic!("bad log line {line:?}")
        };
        out.entry(id.to_string())
            .or_default()
            .push((count.parse().unwrap(), outcome.to_string()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_end_in_the_dlq_and_the_rest_of_their_batch_is_processed_once() {
    let bodies = ["ok-1", "poison-1", "ok-2", "ok-3", "also poison", "ok-4"];
    let sent = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::new()));
    let sent2 = sent.clone();
    // Sent before the pollers start, so the first batch holds all of them.
    let h = start_with("sqs", move |sdk, stack| async move {
        let ids = send_batch(&sdk, &stack.queue("WorkQueue").unwrap().url, &bodies).await;
        *sent2.lock().unwrap() = ids;
    })
    .await;
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), bodies.len());

    wait_for_dlq(&h, 2).await;
    let stats = h.stack.mappings()[0].stats();
    let in_dlq = dlq_bodies(&h).await;
    let log = deliveries(&h.log);
    // ScalingConfig.MaximumConcurrency 1: one poller, so one consumer instance.
    assert_eq!(h.stack.mappings()[0].config().concurrency, 1);
    assert_eq!(
        h.stack
            .function("ConsumerFunction")
            .unwrap()
            .instances()
            .len(),
        1
    );
    h.stack.shutdown().await;

    let poison: BTreeSet<&String> = sent
        .iter()
        .filter(|(_, b)| b.contains("poison"))
        .map(|(id, _)| id)
        .collect();
    // The poison messages are in the DLQ, after exactly maxReceiveCount (2) deliveries.
    assert_eq!(
        in_dlq.values().cloned().collect::<BTreeSet<_>>(),
        ["also poison".to_string(), "poison-1".to_string()]
            .into_iter()
            .collect()
    );
    for (id, body) in &sent {
        let got = log
            .get(id)
            .unwrap_or_else(|| panic!("{body} was never delivered: {log:?}"));
        if poison.contains(id) {
            assert_eq!(
                got,
                &[(1, "fail".to_string()), (2, "fail".to_string())],
                "{body}"
            );
        } else {
            assert_eq!(
                got,
                &[(1, "ok".to_string())],
                "{body} is processed exactly once"
            );
        }
    }
    assert_eq!(log.len(), sent.len());

    // The poison messages shared batches with good ones, which were deleted right away.
    let shared: Vec<_> = stats
        .batches
        .iter()
        .filter(|b| {
            b.message_ids.iter().any(|m| poison.contains(m)) && b.message_ids.len() > b.failed.len()
        })
        .collect();
    assert!(!shared.is_empty(), "{stats:?}");
    for b in shared {
        let failed: BTreeSet<&String> = b.failed.iter().collect();
        let poisoned: BTreeSet<&String> = b
            .message_ids
            .iter()
            .filter(|m| poison.contains(m))
            .collect();
        assert_eq!(failed, poisoned);
        let mut expected_deleted: Vec<&String> = b
            .message_ids
            .iter()
            .filter(|m| !poison.contains(m))
            .collect();
        let mut deleted: Vec<&String> = b.deleted.iter().collect();
        expected_deleted.sort();
        deleted.sort();
        assert_eq!(deleted, expected_deleted);
        assert!(b.error.is_none());
    }
    assert_eq!(stats.messages_deleted, 4);
    assert_eq!(stats.messages_failed, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_error_fails_the_whole_batch() {
    let bodies = ["fail-batch", "innocent bystander"];
    let sent = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::new()));
    let sent2 = sent.clone();
    let h = start_with("batch", move |sdk, stack| async move {
        let ids = send_batch(&sdk, &stack.queue("WorkQueue").unwrap().url, &bodies).await;
        *sent2.lock().unwrap() = ids;
    })
    .await;
    let sent = sent.lock().unwrap().clone();
    wait_for_dlq(&h, 2).await;
    let in_dlq = dlq_bodies(&h).await;
    let log = deliveries(&h.log);
    let stats = h.stack.mappings()[0].stats();
    h.stack.shutdown().await;

    assert_eq!(
        in_dlq.values().cloned().collect::<BTreeSet<_>>(),
        bodies.iter().map(|b| b.to_string()).collect()
    );
    for id in sent.keys() {
        assert_eq!(log[id], [(1, "fail".to_string()), (2, "fail".to_string())]);
    }
    assert_eq!(stats.messages_deleted, 0);
    assert!(!stats.batches.is_empty());
    for b in &stats.batches {
        let error = b.error.as_deref().unwrap_or_default();
        assert!(error.contains("failing the whole batch"), "{b:?}");
        assert_eq!(b.failed.len(), b.message_ids.len());
    }
}

fn logged_events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_invoke_their_function_with_scheduled_events() {
    // Every enabled schedule every 300 ms instead of its rate (1 minute, 1 day).
    let h = start_configured(
        "sched",
        |_, _| async {},
        |c| c.schedule_period_override = Some(Duration::from_millis(300)),
    )
    .await;
    let s = h.stack.stack();
    let tickers: BTreeMap<String, bool> = h
        .stack
        .schedules()
        .iter()
        .map(|t| (t.config().event.clone(), t.running()))
        .collect();
    assert_eq!(
        tickers,
        [
            ("Nightly".to_string(), true),
            ("Paused".to_string(), false),
            ("Tick".to_string(), true),
            ("Weekdays".to_string(), false),
        ]
        .into_iter()
        .collect()
    );
    // The first tick comes one period after start, not at start.
    assert!(h.stack.schedules().iter().all(|t| t.stats().ticks == 0));

    let rule_arn = format!(
        "arn:aws:events:{}:{}:rule/{}-TickFunctionTick",
        s.region, s.account_id, s.name
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let events = loop {
        let events = logged_events(&h.events_log);
        let ticks = events
            .iter()
            .filter(|e| e["source"] == "aws.events")
            .count();
        let nightly = events.iter().filter(|e| e["job"] == "nightly").count();
        if ticks >= 3 && nightly >= 3 {
            break events;
        }
        assert!(
            Instant::now() < deadline,
            "{ticks} ticks, {nightly} nightly; events {events:?}; invocations {:?}; state {}",
            h.stack.function("TickFunction").unwrap().invocations(),
            h.stack.state()["schedules"],
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut ids = BTreeSet::new();
    for e in &events {
        if e["job"] == "nightly" {
            // ScheduleV2 with Input: the function gets the Input as is.
            assert_eq!(e, &json!({"job": "nightly"}));
            continue;
        }
        let time = e["time"].as_str().unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(time).unwrap();
        assert!(
            (chrono::Utc::now() - parsed.with_timezone(&chrono::Utc)).num_seconds() < 60,
            "{time}"
        );
        assert!(time.ends_with('Z') && !time.contains('.'), "{time}");
        ids.insert(e["id"].as_str().unwrap().to_string());
        assert_eq!(
            e,
            &json!({
                "version": "0",
                "id": e["id"],
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": s.account_id,
                "time": time,
                "region": s.region,
                "resources": [rule_arn],
                "detail": {},
            })
        );
    }
    assert_eq!(
        ids.len(),
        events
            .iter()
            .filter(|e| e["source"] == "aws.events")
            .count(),
        "every tick has its own id"
    );
    for t in h.stack.schedules() {
        let stats = t.stats();
        if t.running() {
            assert!(stats.ticks >= 3 && stats.failed == 0, "{stats:?}");
        } else {
            assert_eq!(stats.ticks, 0, "{} is disabled", t.config().event);
        }
    }
    // The state file lists every schedule.
    let state = h.stack.state();
    let listed = state["schedules"].as_array().unwrap();
    assert_eq!(listed.len(), 4);
    let weekdays = listed.iter().find(|l| l["event"] == "Weekdays").unwrap();
    assert_eq!(weekdays["expression"], "cron(0 9 ? * MON-FRI *)");
    assert_eq!(weekdays["not_run"], "disabled");
    let nightly = listed.iter().find(|l| l["event"] == "Nightly").unwrap();
    assert_eq!(nightly["type"], "ScheduleV2");
    assert_eq!(nightly["period_ms"], 300);
    assert_eq!(
        nightly["resource_arn"],
        format!(
            "arn:aws:scheduler:{}:{}:schedule/default/nightly",
            s.region, s.account_id
        )
    );
    // The HTTP function is not involved.
    assert!(
        h.stack
            .function("EchoFunction")
            .unwrap()
            .invocations()
            .is_empty()
    );

    h.stack.shutdown().await;
    let after = logged_events(&h.events_log).len();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        logged_events(&h.events_log).len(),
        after,
        "no ticks after shutdown"
    );
    let _ = std::fs::remove_file(&h.events_log);
}
