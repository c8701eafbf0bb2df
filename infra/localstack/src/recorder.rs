//! A recording reverse proxy for vendor mocks: forwards every request to an upstream (a Prism
//! mock of the vendor's OpenAPI spec) unchanged, returns the upstream's answer, and keeps each
//! exchange in memory so tests and people can see what was sent. It can also inject faults
//! (an error status, or a delay) for the next N matching requests.
//!
//! Endpoints served by the recorder itself (never forwarded):
//!
//! * `GET /__recorder/requests[?path_contains=..]` — the exchanges, oldest first ([`Exchange`]);
//! * `DELETE /__recorder/requests` — forget them;
//! * `POST /__recorder/faults` with a [`Fault`] as JSON — answer / delay the next matching
//!   requests; `GET /__recorder/faults` lists the armed ones; `DELETE /__recorder/faults`
//!   disarms them all;
//! * `GET /__recorder/info` — name, upstream, counts.
//!
//! The same in-process: [`Recorder::start`], [`Recorder::requests`], [`Recorder::add_fault`]...

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::gateway::percent_decode;

/// Path prefix of the recorder's own endpoints.
pub const ADMIN_PREFIX: &str = "/__recorder/";
/// Exchanges kept (the oldest are dropped beyond this).
pub const MAX_EXCHANGES: usize = 10_000;
/// Largest request body accepted (and forwarded).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Time allowed for the upstream to answer.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);

/// Hop-by-hop headers: not forwarded in either direction.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// One request and the answer it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// 1, 2, ... in arrival order (not reset by `clear`).
    pub seq: u64,
    /// When the request arrived (RFC 3339, UTC, milliseconds).
    pub time: String,
    pub method: String,
    /// Path as received (percent-encoded).
    pub path: String,
    /// Raw query string without `?` (empty when none).
    pub query: String,
    /// Request headers as received (names lower-case; repeated headers joined with `, `).
    pub request_headers: BTreeMap<String, String>,
    /// Request body as text (invalid UTF-8 replaced).
    pub request_body: String,
    /// The body decoded as `application/x-www-form-urlencoded` (name → values) when the
    /// request has that content type (Twilio's API takes forms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_form: Option<BTreeMap<String, Vec<String>>>,
    /// Status returned to the client (the upstream's, an injected one, or 502).
    pub response_status: u16,
    pub response_headers: BTreeMap<String, String>,
    /// Response body as text (invalid UTF-8 replaced).
    pub response_body: String,
    /// Time from arrival to the answer (delays included).
    pub duration_ms: u64,
    /// The fault applied, if any: `"status 500"`, `"delay 5000 ms"`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Why the upstream could not be reached (the client got 502).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Exchange {
    /// The request body parsed as JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.request_body).ok()
    }

    /// First value of form field `name` (see [`Exchange::request_form`]).
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.request_form
            .as_ref()?
            .get(name)?
            .first()
            .map(String::as_str)
    }
}

/// A fault to inject for the next `times` requests whose path contains `path_contains` (and
/// whose method is `method`, when given): with `status`, answer that status and `body`
/// without forwarding; with `delay_ms`, sleep before forwarding (or before answering
/// `status`, when both are given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Substring of the request path; empty matches every request.
    #[serde(default)]
    pub path_contains: String,
    /// Only requests with this method (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Body of the injected answer (default empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Content type of the injected answer (default `application/json` when `body` parses
    /// as JSON, else `text/plain; charset=utf-8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// How many matching requests get the fault (default 1).
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// Answer `status` with `body` for the next `times` requests whose path contains `path`.
    pub fn status(path_contains: &str, status: u16, body: &str, times: u32) -> Fault {
        Fault {
            path_contains: path_contains.into(),
            method: None,
            status: Some(status),
            body: Some(body.into()),
            content_type: None,
            delay_ms: None,
            times,
        }
    }

    /// Sleep `delay` before forwarding the next `times` requests whose path contains `path`.
    pub fn delay(path_contains: &str, delay: Duration, times: u32) -> Fault {
        Fault {
            path_contains: path_contains.into(),
            method: None,
            status: None,
            body: None,
            content_type: None,
            delay_ms: Some(delay.as_millis() as u64),
            times,
        }
    }

    /// Checks the fault makes sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.status.is_none() && self.delay_ms.is_none() {
            return Err("a fault needs `status` or `delay_ms`".into());
        }
        if let Some(s) = self.status
            && !(100..=599).contains(&s)
        {
            return Err(format!("status {s} is not an HTTP status"));
        }
        if self.times == 0 {
            return Err("times must be at least 1".into());
        }
        if let Some(m) = &self.method
            && Method::from_bytes(m.to_ascii_uppercase().as_bytes()).is_err()
        {
            return Err(format!("invalid method {m:?}"));
        }
        Ok(())
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        path.contains(&self.path_contains)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }

    fn describe(&self) -> String {
        match (self.status, self.delay_ms) {
            (Some(s), Some(d)) => format!("delay {d} ms, status {s}"),
            (Some(s), None) => format!("status {s}"),
            (None, Some(d)) => format!("delay {d} ms"),
            (None, None) => "none".into(),
        }
    }
}

/// Where requests go: `http://host:port` plus an optional base path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `host:port`.
    pub authority: String,
    /// Prefix of every forwarded path, without the trailing `/` (empty for none).
    pub base_path: String,
}

impl Upstream {
    /// Parses `http://host[:port][/base]` (plain HTTP only; port 80 by default).
    pub fn parse(url: &str) -> Result<Upstream, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("upstream {url:?}: only http://host:port[/path] URLs are supported")
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || path.contains(['?', '#']) {
            return Err(format!(
                "upstream {url:?}: expected http://host:port[/path]"
            ));
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Upstream {
            authority,
            base_path: path.trim_end_matches('/').to_string(),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}{}", self.authority, self.base_path)
    }
}

/// A fault with the number of matching requests it still applies to.
#[derive(Debug, Clone)]
struct ArmedFault {
    fault: Fault,
    remaining: u32,
}

struct Shared {
    name: String,
    upstream: Upstream,
    exchanges: Mutex<VecDeque<Exchange>>,
    faults: Mutex<Vec<ArmedFault>>,
    seq: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// Takes one use of the first armed fault matching the request.
    fn take_fault(&self, method: &str, path: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().expect("faults lock");
        let i = faults
            .iter()
            .position(|f| f.remaining > 0 && f.fault.matches(method, path))?;
        faults[i].remaining -= 1;
        let fault = faults[i].fault.clone();
        if faults[i].remaining == 0 {
            faults.remove(i);
        }
        Some(fault)
    }

    fn faults_json(&self) -> serde_json::Value {
        let faults = self.faults.lock().expect("faults lock");
        serde_json::Value::Array(
            faults
                .iter()
                .map(|f| {
                    let mut v = serde_json::to_value(&f.fault).unwrap_or_default();
                    v["times"] = json!(f.remaining);
                    v
                })
                .collect(),
        )
    }

    fn record(&self, exchange: Exchange) {
        let mut ex = self.exchanges.lock().expect("exchanges lock");
        if ex.len() >= MAX_EXCHANGES {
            ex.pop_front();
        }
        ex.push_back(exchange);
    }

    fn requests(&self, path_contains: Option<&str>) -> Vec<Exchange> {
        self.exchanges
            .lock()
            .expect("exchanges lock")
            .iter()
            .filter(|e| path_contains.is_none_or(|p| e.path.contains(p)))
            .cloned()
            .collect()
    }
}

/// A running recorder. Dropping it stops it.
pub struct Recorder {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("name", &self.shared.name)
            .field("local_addr", &self.local_addr)
            .field("upstream", &self.shared.upstream)
            .finish()
    }
}

impl Recorder {
    /// Binds `addr` (port 0 = a free port) and forwards to `upstream`
    /// (`http://host:port[/base]`).
    pub async fn start(upstream: &str, addr: SocketAddr) -> anyhow::Result<Recorder> {
        Self::start_named("recorder", upstream, addr).await
    }

    /// Like [`Recorder::start`], with a name for the logs and `/__recorder/info`.
    pub async fn start_named(
        name: &str,
        upstream: &str,
        addr: SocketAddr,
    ) -> anyhow::Result<Recorder> {
        let upstream = Upstream::parse(upstream).map_err(anyhow::Error::msg)?;
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            name: name.to_string(),
            upstream,
            exchanges: Mutex::new(VecDeque::new()),
            faults: Mutex::new(vec![]),
            seq: std::sync::atomic::AtomicU64::new(0),
        });
        let task_shared = shared.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, _peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let shared = task_shared.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(Recorder {
            local_addr,
            shared,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:<port>`: the base URL to give the code under test.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn upstream(&self) -> &Upstream {
        &self.shared.upstream
    }

    /// Every exchange recorded (up to [`MAX_EXCHANGES`]), oldest first.
    pub fn requests(&self) -> Vec<Exchange> {
        self.shared.requests(None)
    }

    /// The exchanges whose path contains `path_contains`, oldest first.
    pub fn requests_matching(&self, path_contains: &str) -> Vec<Exchange> {
        self.shared.requests(Some(path_contains))
    }

    /// Forgets the recorded exchanges.
    pub fn clear(&self) {
        self.shared
            .exchanges
            .lock()
            .expect("exchanges lock")
            .clear();
    }

    /// Arms a fault (see [`Fault`]); faults apply in the order they were added.
    pub fn add_fault(&self, fault: Fault) -> Result<(), String> {
        fault.validate()?;
        self.shared
            .faults
            .lock()
            .expect("faults lock")
            .push(ArmedFault {
                remaining: fault.times,
                fault,
            });
        Ok(())
    }

    /// The armed faults, `times` being what is left of each.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared
            .faults
            .lock()
            .expect("faults lock")
            .iter()
            .map(|f| Fault {
                times: f.remaining,
                ..f.fault.clone()
            })
            .collect()
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().expect("faults lock").clear();
    }

    /// Stops accepting requests and drops open connections.
    pub fn stop(&self) {
        self.task.abort();
    }
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .expect("valid response")
}

fn message(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    json_response(status, &json!({ "message": text }))
}

/// `name=value&...` → first-seen order lost, values kept in order per name. `+` is a space.
pub fn parse_form(s: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode(&s.replace('+', " "));
        out.entry(decode(k)).or_default().push(decode(v));
    }
    out
}

fn headers_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in headers {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        out.entry(k.as_str().to_string())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert(v);
    }
    out
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn read_body(mut body: Incoming) -> Result<Bytes, StatusCode> {
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| StatusCode::BAD_REQUEST)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_BODY_BYTES {
                return Err(StatusCode::PAYLOAD_TOO_LARGE);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

async fn handle(shared: &Shared, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path().starts_with(ADMIN_PREFIX) {
        return admin(shared, req).await;
    }
    let started = Instant::now();
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(status) => return message(status, "recorder: could not read the request body"),
    };
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let fault = shared.take_fault(&method, &path);
    if let Some(d) = fault.as_ref().and_then(|f| f.delay_ms) {
        tokio::time::sleep(Duration::from_millis(d)).await;
    }
    let (response, error) = match fault.as_ref().and_then(|f| f.status.map(|s| (f, s))) {
        Some((f, status)) => (injected_response(f, status), None),
        None => match forward(&shared.upstream, &parts, body.clone()).await {
            Ok(r) => (r, None),
            Err(e) => {
                tracing::warn!(recorder = %shared.name, "{method} {path}: {e}");
                (
                    message(
                        StatusCode::BAD_GATEWAY,
                        &format!("recorder {}: {e}", shared.name),
                    ),
                    Some(e),
                )
            }
        },
    };
    // `Full` holds the whole body: take it back out to record it.
    let (rparts, rbody) = response.into_parts();
    let rbytes = rbody
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let exchange = Exchange {
        seq: shared.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1,
        time,
        method: method.clone(),
        path: path.clone(),
        query,
        request_headers: headers_map(&parts.headers),
        request_body: String::from_utf8_lossy(&body).into_owned(),
        request_form: is_form(&parts.headers).then(|| parse_form(&String::from_utf8_lossy(&body))),
        response_status: rparts.status.as_u16(),
        response_headers: headers_map(&rparts.headers),
        response_body: String::from_utf8_lossy(&rbytes).into_owned(),
        duration_ms: started.elapsed().as_millis() as u64,
        fault: fault.as_ref().map(Fault::describe),
        error,
    };
    tracing::info!(
        recorder = %shared.name,
        "{method} {path} -> {}{} ({} ms)",
        exchange.response_status,
        exchange
            .fault
            .as_deref()
            .map(|f| format!(" [fault: {f}]"))
            .unwrap_or_default(),
        exchange.duration_ms
    );
    shared.record(exchange);
    Response::from_parts(rparts, Full::new(rbytes))
}

fn injected_response(fault: &Fault, status: u16) -> Response<Full<Bytes>> {
    let body = fault.body.clone().unwrap_or_default();
    let content_type = fault.content_type.clone().unwrap_or_else(|| {
        if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
            "application/json".into()
        } else {
            "text/plain; charset=utf-8".into()
        }
    });
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp.headers_mut()
        .insert("x-recorder-fault", HeaderValue::from_static("1"));
    resp
}

/// Sends the request to the upstream on a fresh connection and reads the whole answer.
async fn forward(
    upstream: &Upstream,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, String> {
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let uri = format!("{}{path_and_query}", upstream.base_path);
    let mut builder = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(&uri)
        .version(http::Version::HTTP_11);
    for (k, v) in &parts.headers {
        if k == http::header::HOST || HOP_BY_HOP.contains(&k.as_str()) {
            continue;
        }
        builder = builder.header(k, v);
    }
    builder = builder.header(http::header::HOST, &upstream.authority);
    let request = builder
        .body(Full::new(body))
        .map_err(|e| format!("cannot build the upstream request: {e}"))?;

    let exchange = async {
        let stream = TcpStream::connect(&upstream.authority)
            .await
            .map_err(|e| format!("upstream {} unreachable: {e}", upstream.url()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("upstream {} handshake: {e}", upstream.url()))?;
        let conn = tokio::spawn(conn);
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| format!("upstream {}: {e}", upstream.url()))?;
        let (rparts, rbody) = resp.into_parts();
        let bytes = rbody
            .collect()
            .await
            .map_err(|e| format!("upstream {} body: {e}", upstream.url()))?
            .to_bytes();
        conn.abort();
        Ok::<_, String>((rparts, bytes))
    };
    let (mut rparts, bytes) = tokio::time::timeout(UPSTREAM_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            format!(
                "upstream {} did not answer within {UPSTREAM_TIMEOUT:?}",
                upstream.url()
            )
        })??;
    for h in HOP_BY_HOP {
        rparts.headers.remove(*h);
    }
    // The body is re-sent whole: its length is known.
    rparts.headers.remove(http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(rparts, Full::new(bytes)))
}

async fn admin(shared: &Shared, req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(parse_form).unwrap_or_default();
    let method = req.method().clone();
    match (method.as_str(), &path[ADMIN_PREFIX.len() - 1..]) {
        ("GET", "/requests") => {
            let filter = query.get("path_contains").and_then(|v| v.first());
            let list = shared.requests(filter.map(String::as_str));
            json_response(
                StatusCode::OK,
                &serde_json::to_value(list).unwrap_or_default(),
            )
        }
        ("DELETE", "/requests") => {
            shared.exchanges.lock().expect("exchanges lock").clear();
            json_response(StatusCode::OK, &json!({"cleared": true}))
        }
        ("GET", "/faults") => json_response(StatusCode::OK, &shared.faults_json()),
        ("POST", "/faults") => {
            let body = match read_body(req.into_body()).await {
                Ok(b) => b,
                Err(status) => return message(status, "could not read the body"),
            };
            let fault: Fault = match serde_json::from_slice(&body) {
                Ok(f) => f,
                Err(e) => return message(StatusCode::BAD_REQUEST, &format!("invalid fault: {e}")),
            };
            if let Err(e) = fault.validate() {
                return message(StatusCode::BAD_REQUEST, &format!("invalid fault: {e}"));
            }
            shared.faults.lock().expect("faults lock").push(ArmedFault {
                remaining: fault.times,
                fault: fault.clone(),
            });
            json_response(
                StatusCode::CREATED,
                &serde_json::to_value(&fault).unwrap_or_default(),
            )
        }
        ("DELETE", "/faults") => {
            shared.faults.lock().expect("faults lock").clear();
            json_response(StatusCode::OK, &json!({"cleared": true}))
        }
        ("GET", "/info") => json_response(
            StatusCode::OK,
            &json!({
                "name": shared.name,
                "upstream": shared.upstream.url(),
                "requests": shared.exchanges.lock().expect("exchanges lock").len(),
                "faults": shared.faults_json(),
            }),
        ),
        _ => message(
            StatusCode::NOT_FOUND,
            "recorder: unknown endpoint (GET|DELETE /__recorder/requests, GET|POST|DELETE /__recorder/faults, GET /__recorder/info)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        assert_eq!(
            Upstream::parse("http://127.0.0.1:4010").unwrap(),
            Upstream {
                authority: "127.0.0.1:4010".into(),
                base_path: String::new()
            }
        );
        let u = Upstream::parse("http://localhost/base/").unwrap();
        assert_eq!(u.authority, "localhost:80");
        assert_eq!(u.base_path, "/base");
        assert_eq!(u.url(), "http://localhost:80/base");
        assert!(Upstream::parse("https://api.twilio.com").is_err());
        assert!(Upstream::parse("http://").is_err());
        assert!(Upstream::parse("http://h:1/x?y").is_err());
    }

    #[test]
    fn forms_decode_plus_and_escapes() {
        let f = parse_form("To=%2B15551234567&Body=Hi+there%21&E=a&E=b&empty=&flag");
        assert_eq!(f["To"], ["+15551234567"]);
        assert_eq!(f["Body"], ["Hi there!"]);
        assert_eq!(f["E"], ["a", "b"]);
        assert_eq!(f["empty"], [""]);
        assert_eq!(f["flag"], [""]);
    }

    #[test]
    fn faults_validate_and_parse() {
        let f: Fault = serde_json::from_str(
            r#"{"path_contains": "Messages.json", "status": 500, "body": "x", "times": 2}"#,
        )
        .unwrap();
        assert_eq!(f, Fault::status("Messages.json", 500, "x", 2));
        assert!(f.validate().is_ok());
        let f: Fault =
            serde_json::from_str(r#"{"path_contains": "Calls", "delay_ms": 50}"#).unwrap();
        assert_eq!(f, Fault::delay("Calls", Duration::from_millis(50), 1));
        assert!(f.validate().is_ok());
        assert!(serde_json::from_str::<Fault>(r#"{"status": 500, "nope": 1}"#).is_err());
        let none: Fault = serde_json::from_str(r#"{"path_contains": "x"}"#).unwrap();
        assert!(none.validate().unwrap_err().contains("status"));
        assert!(Fault::status("", 700, "", 1).validate().is_err());
        assert!(Fault::status("", 500, "", 0).validate().is_err());
        let mut m = Fault::status("", 500, "", 1);
        m.method = Some("post".into());
        assert!(m.matches("POST", "/a") && !m.matches("GET", "/a"));
        assert!(Fault::status("Messages", 500, "", 1).matches("GET", "/x/Messages.json"));
        assert!(!Fault::status("Messages", 500, "", 1).matches("GET", "/x/Calls.json"));
    }
}
