//! The recorder in front of a tiny in-test upstream: forwarding (method, path, query, headers
//! incl. Authorization, body), recording, filtering, faults (status and delay), an unreachable
//! upstream, and the `frontdesk-recorder` binary. No moto needed.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use frontdesk_localstack::recorder::{Exchange, Fault, Recorder};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

/// An upstream answering 201 with a JSON description of the request it got.
struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let counter = counter.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<_>| {
                        let counter = counter.clone();
                        async move {
                            counter.fetch_add(1, Ordering::SeqCst);
                            let (parts, body) = req.into_parts();
                            let body: hyper::body::Incoming = body;
                            let bytes = body.collect().await.unwrap().to_bytes();
                            let headers: BTreeMap<String, String> = parts
                                .headers
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
                                .collect();
                            let description = json!({
                                "method": parts.method.as_str(),
                                "path": parts.uri.path(),
                                "query": parts.uri.query(),
                                "headers": headers,
                                "body": String::from_utf8_lossy(&bytes),
                            });
                            let resp = hyper::Response::builder()
                                .status(201)
                                .header("content-type", "application/json")
                                .header("x-upstream", "yes")
                                .body(Full::new(Bytes::from(description.to_string())))
                                .unwrap();
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Upstream { addr, hits, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends one HTTP/1.1 request to `base` + `path_and_query`.
async fn send(
    base: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let authority = base.strip_prefix("http://").unwrap();
    let stream = TcpStream::connect(authority).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", authority);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn recorder_for(upstream: &Upstream) -> Recorder {
    Recorder::start_named(
        "twilio",
        &upstream.url(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap()
}

const MESSAGES: &str = "/2010-04-01/Accounts/AC123/Messages.json";
const AUTH: &str = "Basic QUMxMjM6c2VjcmV0"; // AC123:secret

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_everything_and_records_the_exchange() {
    let upstream = Upstream::start().await;
    let rec = recorder_for(&upstream).await;
    assert_eq!(rec.name(), "twilio");
    let form = "To=%2B15551234567&From=%2B15550001111&Body=Your+appointment+is+at+3pm%21";
    let answer = send(
        &rec.url(),
        "POST",
        &format!("{MESSAGES}?PageSize=5&x=a%20b"),
        &[
            ("authorization", AUTH),
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-custom", "1"),
            ("x-custom", "2"),
        ],
        form,
    )
    .await;
    // The upstream's answer comes back as is.
    assert_eq!(answer.status, 201);
    assert_eq!(answer.headers["x-upstream"], "yes");
    assert_eq!(answer.headers["content-type"], "application/json");
    let seen = answer.json();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], MESSAGES);
    assert_eq!(seen["query"], "PageSize=5&x=a%20b");
    assert_eq!(seen["headers"]["authorization"], AUTH);
    assert_eq!(
        seen["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(seen["headers"]["content-length"], form.len().to_string());
    assert_eq!(seen["headers"]["host"], upstream.addr.to_string());
    assert_eq!(seen["body"], form);
    assert_eq!(upstream.hits(), 1);

    // Recorded with everything.
    let got = rec.requests();
    assert_eq!(got.len(), 1);
    let e = &got[0];
    assert_eq!(e.seq, 1);
    assert_eq!((e.method.as_str(), e.path.as_str()), ("POST", MESSAGES));
    assert_eq!(e.query, "PageSize=5&x=a%20b");
    assert_eq!(e.request_headers["authorization"], AUTH);
    assert_eq!(e.request_headers["x-custom"], "1, 2");
    assert_eq!(e.request_body, form);
    assert_eq!(e.form_value("To"), Some("+15551234567"));
    assert_eq!(e.form_value("Body"), Some("Your appointment is at 3pm!"));
    assert_eq!(e.response_status, 201);
    assert_eq!(e.response_headers["x-upstream"], "yes");
    assert_eq!(
        serde_json::from_str::<Value>(&e.response_body).unwrap(),
        seen
    );
    assert!(e.fault.is_none() && e.error.is_none());
    assert!(
        chrono::DateTime::parse_from_rfc3339(&e.time).is_ok(),
        "{}",
        e.time
    );

    // A JSON request (ElevenLabs style) and a GET.
    let body = json!({"agent_id": "agent_1", "from_number": "+1555", "to_number": "+1666"});
    let answer = send(
        &rec.url(),
        "POST",
        "/v1/convai/twilio/register-call",
        &[
            ("xi-api-key", "xi-secret"),
            ("content-type", "application/json"),
        ],
        &body.to_string(),
    )
    .await;
    assert_eq!(answer.json()["headers"]["xi-api-key"], "xi-secret");
    let answer = send(
        &rec.url(),
        "GET",
        "/2010-04-01/Accounts/AC123/Calls/CA1.json",
        &[],
        "",
    )
    .await;
    assert_eq!(answer.json()["method"], "GET");
    let all = rec.requests();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3],
        "oldest first"
    );
    assert_eq!(all[1].json(), Some(body));
    assert_eq!(all[1].request_form, None);

    // Over HTTP: the same list, a filter, info, clear.
    let listed: Vec<Exchange> = serde_json::from_str(
        &send(&rec.url(), "GET", "/__recorder/requests", &[], "")
            .await
            .body,
    )
    .unwrap();
    assert_eq!(listed, all);
    let filtered = send(
        &rec.url(),
        "GET",
        "/__recorder/requests?path_contains=Messages.json",
        &[],
        "",
    )
    .await
    .json();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["path"], MESSAGES);
    assert_eq!(filtered[0]["request_form"]["To"], json!(["+15551234567"]));
    assert_eq!(rec.requests_matching("register-call").len(), 1);
    let info = send(&rec.url(), "GET", "/__recorder/info", &[], "")
        .await
        .json();
    assert_eq!(info["name"], "twilio");
    assert_eq!(info["upstream"], upstream.url());
    assert_eq!(info["requests"], 3);
    assert_eq!(upstream.hits(), 3, "admin endpoints are never forwarded");
    let cleared = send(&rec.url(), "DELETE", "/__recorder/requests", &[], "").await;
    assert_eq!(cleared.status, 200);
    assert!(rec.requests().is_empty());
    send(&rec.url(), "GET", "/again", &[], "").await;
    assert_eq!(
        rec.requests()[0].seq,
        4,
        "sequence numbers go on after a clear"
    );
    rec.clear();
    assert!(rec.requests().is_empty());
    let unknown = send(&rec.url(), "GET", "/__recorder/nope", &[], "").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(upstream.hits(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_faults_answer_without_forwarding_for_the_next_n_requests() {
    let upstream = Upstream::start().await;
    let rec = recorder_for(&upstream).await;
    let armed = send(
        &rec.url(),
        "POST",
        "/__recorder/faults",
        &[("content-type", "application/json")],
        r#"{"path_contains": "Messages.json", "status": 500, "body": "{\"code\": 20500}", "times": 2}"#,
    )
    .await;
    assert_eq!(armed.status, 201, "{}", armed.body);
    let faults = send(&rec.url(), "GET", "/__recorder/faults", &[], "")
        .await
        .json();
    assert_eq!(faults[0]["times"], 2);

    // Other paths are not affected.
    let calls = send(
        &rec.url(),
        "POST",
        "/2010-04-01/Accounts/AC1/Calls.json",
        &[],
        "a=1",
    )
    .await;
    assert_eq!(calls.status, 201);
    for _ in 0..2 {
        let r = send(
            &rec.url(),
            "POST",
            MESSAGES,
            &[("authorization", AUTH)],
            "Body=x",
        )
        .await;
        assert_eq!(r.status, 500);
        assert_eq!(r.json(), json!({"code": 20500}));
        assert_eq!(r.headers["content-type"], "application/json");
    }
    assert_eq!(upstream.hits(), 1, "faulted requests are not forwarded");
    let third = send(&rec.url(), "POST", MESSAGES, &[], "Body=x").await;
    assert_eq!(third.status, 201);
    assert_eq!(upstream.hits(), 2);
    let got = rec.requests_matching("Messages.json");
    assert_eq!(
        got.iter()
            .map(|e| (e.response_status, e.fault.clone()))
            .collect::<Vec<_>>(),
        [
            (500, Some("status 500".to_string())),
            (500, Some("status 500".to_string())),
            (201, None)
        ]
    );
    assert_eq!(
        got[0].request_body, "Body=x",
        "faulted requests are recorded too"
    );
    assert_eq!(
        send(&rec.url(), "GET", "/__recorder/faults", &[], "")
            .await
            .json(),
        json!([])
    );

    // In process, with a method filter and a plain-text body; then cleared.
    let mut f = Fault::status("Messages", 429, "slow down", 5);
    f.method = Some("post".into());
    rec.add_fault(f).unwrap();
    let get = send(&rec.url(), "GET", MESSAGES, &[], "").await;
    assert_eq!(get.status, 201);
    let post = send(&rec.url(), "POST", MESSAGES, &[], "").await;
    assert_eq!((post.status, post.body.as_str()), (429, "slow down"));
    assert_eq!(post.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(rec.faults()[0].times, 4);
    let cleared = send(&rec.url(), "DELETE", "/__recorder/faults", &[], "").await;
    assert_eq!(cleared.status, 200);
    assert!(rec.faults().is_empty());
    assert_eq!(
        send(&rec.url(), "POST", MESSAGES, &[], "").await.status,
        201
    );

    // Invalid faults are refused.
    for bad in [
        r#"{"path_contains": "x"}"#,
        r#"{"status": 99}"#,
        r#"{"status": 500, "times": 0}"#,
        r#"{"status": 500, "typo": 1}"#,
        "not json",
    ] {
        let r = send(&rec.url(), "POST", "/__recorder/faults", &[], bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert!(rec.add_fault(Fault::status("", 500, "", 0)).is_err());
    assert!(rec.faults().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_faults_sleep_before_forwarding() {
    let upstream = Upstream::start().await;
    let rec = recorder_for(&upstream).await;
    let armed = send(
        &rec.url(),
        "POST",
        "/__recorder/faults",
        &[],
        r#"{"path_contains": "Calls", "delay_ms": 400, "times": 1}"#,
    )
    .await;
    assert_eq!(armed.status, 201);
    let started = Instant::now();
    let slow = send(
        &rec.url(),
        "POST",
        "/2010-04-01/Accounts/AC1/Calls.json",
        &[],
        "x=1",
    )
    .await;
    let took = started.elapsed();
    assert_eq!(slow.status, 201, "delayed, then forwarded");
    assert_eq!(slow.json()["body"], "x=1");
    assert!(took >= Duration::from_millis(400), "{took:?}");
    let started = Instant::now();
    let fast = send(
        &rec.url(),
        "POST",
        "/2010-04-01/Accounts/AC1/Calls.json",
        &[],
        "",
    )
    .await;
    assert_eq!(fast.status, 201);
    assert!(started.elapsed() < Duration::from_millis(400), "only once");
    assert_eq!(upstream.hits(), 2);
    let got = rec.requests();
    assert_eq!(got[0].fault.as_deref(), Some("delay 400 ms"));
    assert!(got[0].duration_ms >= 400);
    assert_eq!(got[1].fault, None);

    // Delay and status together: sleep, then answer the status without forwarding.
    let mut both = Fault::delay("Calls", Duration::from_millis(200), 1);
    both.status = Some(503);
    rec.add_fault(both).unwrap();
    let started = Instant::now();
    let r = send(&rec.url(), "GET", "/Calls", &[], "").await;
    assert_eq!(r.status, 503);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(upstream.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_is_a_recorded_502() {
    // A port nothing listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let rec = Recorder::start(
        &format!("http://127.0.0.1:{port}"),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let r = send(&rec.url(), "POST", "/x", &[], "hello").await;
    assert_eq!(r.status, 502);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );
    let e = &rec.requests()[0];
    assert_eq!(e.response_status, 502);
    assert_eq!(e.request_body, "hello");
    assert!(e.error.as_deref().unwrap().contains("unreachable"));

    assert!(
        Recorder::start(
            "https://api.twilio.com",
            SocketAddr::from(([127, 0, 0, 1], 0))
        )
        .await
        .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_its_port_and_forwards() {
    let upstream = Upstream::start().await;
    let dir = std::env::temp_dir().join(format!("frontdesk-recorder-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let port_file = dir.join("port");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk-recorder"))
        .args(["--listen", "127.0.0.1:0", "--name", "eleven", "--upstream"])
        .arg(upstream.url())
        .arg("--port-file")
        .arg(&port_file)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let port: u16 = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Ok(p) = text.trim().parse()
        {
            break p;
        }
        assert!(Instant::now() < deadline, "no port file");
        assert!(child.try_wait().unwrap().is_none(), "the recorder exited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let base = format!("http://127.0.0.1:{port}");
    let r = send(&base, "POST", "/v1/a?b=c", &[("xi-api-key", "k")], "{}").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["headers"]["xi-api-key"], "k");
    let listed = send(&base, "GET", "/__recorder/requests", &[], "")
        .await
        .json();
    assert_eq!(listed[0]["path"], "/v1/a");
    assert_eq!(listed[0]["query"], "b=c");
    let info = send(&base, "GET", "/__recorder/info", &[], "").await.json();
    assert_eq!(info["name"], "eleven");

    // SIGTERM stops it cleanly.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
