//! A local stand-in for the API Gateway HTTP API: routes requests to functions with the
//! payload format 2.0 event and converts their results back like API Gateway does.
//!
//! Request bodies are base64-encoded (`isBase64Encoded: true`) unless the content type is
//! `text/*`, `application/json`, `application/xml` or `application/javascript` — so form posts
//! (`application/x-www-form-urlencoded`, e.g. Twilio webhooks), `multipart/form-data` and
//! requests without a content type arrive base64-encoded, as on AWS.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::runtime::{FunctionPool, InvokeError};

/// API Gateway's payload limit.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// HTTP API's maximum integration timeout (the invocation itself goes on, as on AWS).
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Bodies up to this size are read (and discarded) before answering 413.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

/// A route of the HTTP API: method (or `ANY`) and path template, or `$default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    method: String,
    segments: Vec<Segment>,
    default: bool,
    route_key: String,
}

impl RoutePattern {
    /// `method` is upper-case or `ANY`; `path` like `/a/{id}/{proxy+}`, or `$default`.
    pub fn parse(method: &str, path: &str) -> Result<RoutePattern, String> {
        let method = method.to_ascii_uppercase();
        if path == "$default" {
            return Ok(RoutePattern {
                method: "ANY".into(),
                segments: vec![],
                default: true,
                route_key: "$default".into(),
            });
        }
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| format!("route path {path:?} must start with /"))?;
        let mut segments = vec![];
        let parts: Vec<&str> = if rest.is_empty() {
            vec![]
        } else {
            rest.split('/').collect()
        };
        for (i, part) in parts.iter().enumerate() {
            let seg = if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if let Some(name) = name.strip_suffix('+') {
                    if i + 1 != parts.len() {
                        return Err(format!(
                            "greedy {{{name}+}} must be the last segment of {path}"
                        ));
                    }
                    Segment::Greedy(name.to_string())
                } else {
                    Segment::Param(name.to_string())
                }
            } else {
                Segment::Literal(part.to_string())
            };
            segments.push(seg);
        }
        Ok(RoutePattern {
            route_key: format!("{method} {path}"),
            method,
            segments,
            default: false,
        })
    }

    /// `"GET /admin/businesses/{business_id}"` or `"$default"`.
    pub fn route_key(&self) -> &str {
        &self.route_key
    }

    /// Path parameters when `method` and `path` (raw, percent-encoded) match.
    pub fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if self.method != "ANY" && !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let mut params = BTreeMap::new();
        if self.default {
            return Some(params);
        }
        let rest = path.strip_prefix('/')?;
        let parts: Vec<&str> = if rest.is_empty() {
            vec![]
        } else {
            rest.split('/').collect()
        };
        let mut i = 0;
        for seg in &self.segments {
            match seg {
                Segment::Literal(lit) => {
                    if parts.get(i).map(|p| percent_decode(p)) != Some(lit.clone()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let part = parts.get(i).filter(|p| !p.is_empty())?;
                    params.insert(name.clone(), percent_decode(part));
                }
                Segment::Greedy(name) => {
                    let remaining = parts.get(i..).filter(|r| !r.is_empty())?.join("/");
                    if remaining.is_empty() {
                        return None;
                    }
                    params.insert(name.clone(), percent_decode(&remaining));
                    return Some(params);
                }
            }
            i += 1;
        }
        (i == parts.len()).then_some(params)
    }

    /// Higher is more specific: literal > `{param}` > `{greedy+}`, left to right; then an exact
    /// method beats `ANY`; `$default` is last.
    fn specificity(&self) -> (bool, Vec<u8>, bool) {
        let ranks = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(_) => 3,
                Segment::Param(_) => 2,
                Segment::Greedy(_) => 1,
            })
            .collect();
        (!self.default, ranks, self.method != "ANY")
    }
}

/// Routes to values (functions), choosing the most specific match like API Gateway.
#[derive(Clone)]
pub struct Router<T> {
    routes: Vec<(RoutePattern, T)>,
}

impl<T> Router<T> {
    pub fn new(routes: Vec<(RoutePattern, T)>) -> Self {
        Router { routes }
    }

    pub fn routes(&self) -> impl Iterator<Item = &(RoutePattern, T)> {
        self.routes.iter()
    }

    /// The best route for `method` + raw `path`, with its path parameters.
    pub fn find(
        &self,
        method: &str,
        path: &str,
    ) -> Option<(&RoutePattern, &T, BTreeMap<String, String>)> {
        self.routes
            .iter()
            .filter_map(|(r, t)| r.matches(method, path).map(|p| (r, t, p)))
            .max_by(|a, b| a.0.specificity().cmp(&b.0.specificity()))
    }
}

/// Percent-decodes `%XX` escapes (invalid escapes are kept; `+` is not a space).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Whether API Gateway passes a body with this content type as text (else base64).
pub fn is_text_content_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let media = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media.starts_with("text/")
        || matches!(
            media.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        )
}

/// Identity of the local API in events.
#[derive(Debug, Clone)]
pub struct ApiInfo {
    pub api_id: String,
    pub account_id: String,
}

/// The parts of an HTTP request an event is built from.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    /// Path as received (percent-encoded).
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: IpAddr,
    /// `x-forwarded-port`.
    pub port: u16,
}

/// Builds the API Gateway HTTP API payload format 2.0 event.
pub fn build_event(
    api: &ApiInfo,
    route: &RoutePattern,
    path_parameters: &BTreeMap<String, String>,
    req: &HttpRequest,
    request_id: &str,
) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<String> = vec![];
    for name in req.headers.keys() {
        let values: Vec<String> = req
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if name == http::header::COOKIE {
            for v in &values {
                cookies.extend(
                    v.split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_string),
                );
            }
            continue;
        }
        headers.insert(name.as_str().to_string(), values.join(","));
    }
    let source_ip = req.source_ip.to_string();
    let forwarded_for = match headers.get("x-forwarded-for") {
        Some(prev) => format!("{prev}, {source_ip}"),
        None => source_ip.clone(),
    };
    headers.insert("x-forwarded-for".into(), forwarded_for);
    headers.insert("x-forwarded-port".into(), req.port.to_string());
    headers.insert("x-forwarded-proto".into(), "http".into());
    headers.entry("x-amzn-trace-id".into()).or_insert_with(|| {
        format!(
            "Root=1-{:08x}-{}",
            chrono::Utc::now().timestamp(),
            &uuid::Uuid::new_v4().simple().to_string()[..24]
        )
    });

    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in req.raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query
            .entry(percent_decode(k))
            .or_default()
            .push(percent_decode(v));
    }

    let host = headers
        .get("host")
        .cloned()
        .unwrap_or_else(|| "localhost".into());
    let domain_prefix = host
        .split(['.', ':'])
        .next()
        .unwrap_or_default()
        .to_string();
    let now = chrono::Utc::now();
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();

    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(route.route_key()));
    event.insert("rawPath".into(), json!(req.raw_path));
    event.insert("rawQueryString".into(), json!(req.raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(headers));
    if !query.is_empty() {
        let q: BTreeMap<String, String> =
            query.into_iter().map(|(k, v)| (k, v.join(","))).collect();
        event.insert("queryStringParameters".into(), json!(q));
    }
    if !path_parameters.is_empty() {
        event.insert("pathParameters".into(), json!(path_parameters));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": api.account_id,
            "apiId": api.api_id,
            "domainName": host,
            "domainPrefix": domain_prefix,
            "http": {
                "method": req.method,
                "path": req.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": route.route_key(),
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        }),
    );
    if !req.body.is_empty() {
        let content_type = req
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        match std::str::from_utf8(req.body) {
            Ok(text) if is_text_content_type(content_type) => {
                event.insert("body".into(), json!(text));
                event.insert("isBase64Encoded".into(), json!(false));
            }
            _ => {
                event.insert("body".into(), json!(B64.encode(req.body)));
                event.insert("isBase64Encoded".into(), json!(true));
            }
        }
    } else {
        event.insert("isBase64Encoded".into(), json!(false));
    }
    Value::Object(event)
}

/// A JSON `{"message": ..}` response like API Gateway's own errors.
pub fn message_response(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            json!({ "message": message }).to_string(),
        )))
        .expect("valid response")
}

fn header_value_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Converts a function result to the HTTP response like API Gateway (format 2.0): an object
/// with `statusCode` gives status, `headers`, `multiValueHeaders`, `cookies` (Set-Cookie) and
/// `body` (base64-decoded when `isBase64Encoded`); any other JSON becomes a 200
/// `application/json` response with that JSON (a string as is) as the body.
/// Errors on a result API Gateway would reject (→ 500).
pub fn convert_result(payload: &[u8]) -> Result<Response<Full<Bytes>>, String> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| format!("function result is not JSON: {e}"))?;
    let structured = value.as_object().filter(|o| o.contains_key("statusCode"));
    let Some(obj) = structured else {
        let body = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("valid response"));
    };
    let status = header_value_string(&obj["statusCode"])
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| format!("invalid statusCode {}", obj["statusCode"]))?;
    let mut builder = Response::builder().status(status);
    let headers = builder.headers_mut().expect("builder ok");
    let mut add = |name: &str, value: String| -> Result<(), String> {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let value =
            HeaderValue::from_str(&value).map_err(|_| format!("invalid value of header {name}"))?;
        headers.append(name, value);
        Ok(())
    };
    if let Some(h) = obj.get("headers").and_then(Value::as_object) {
        for (k, v) in h {
            if let Some(v) = header_value_string(v) {
                add(k, v)?;
            }
        }
    }
    if let Some(h) = obj.get("multiValueHeaders").and_then(Value::as_object) {
        for (k, vs) in h {
            for v in vs
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(header_value_string)
            {
                add(k, v)?;
            }
        }
    }
    if let Some(cookies) = obj.get("cookies").and_then(Value::as_array) {
        for c in cookies.iter().filter_map(header_value_string) {
            add("set-cookie", c)?;
        }
    }
    let body = match obj.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) => {
            if obj.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
                Bytes::from(
                    B64.decode(s)
                        .map_err(|e| format!("body is not valid base64: {e}"))?,
                )
            } else {
                Bytes::from(s.clone())
            }
        }
        Some(other) => Bytes::from(other.to_string()),
    };
    builder.body(Full::new(body)).map_err(|e| e.to_string())
}

/// A route of the gateway with its function.
#[derive(Clone)]
pub struct GatewayRoute {
    pub pattern: RoutePattern,
    pub function: FunctionPool,
}

/// The running local HTTP API.
pub struct Gateway {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    api: ApiInfo,
    router: Router<FunctionPool>,
    port: u16,
}

impl Gateway {
    /// Binds `addr` (port 0 = a free port) and serves `routes`.
    pub async fn start(
        addr: SocketAddr,
        api: ApiInfo,
        routes: Vec<GatewayRoute>,
    ) -> std::io::Result<Gateway> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            api,
            router: Router::new(
                routes
                    .into_iter()
                    .map(|r| (r.pattern, r.function))
                    .collect(),
            ),
            port: local_addr.port(),
        });
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let shared = shared.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(&shared, peer, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(Gateway { local_addr, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops accepting requests and drops open connections.
    pub fn stop(&self) {
        self.task.abort();
    }
}

fn api_request_id() -> String {
    let u = uuid::Uuid::new_v4();
    let s = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&u.as_bytes()[..12]);
    s.replace(['+', '/'], "A")
}

async fn handle(
    shared: &Shared,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> Response<Full<Bytes>> {
    let request_id = api_request_id();
    let mut resp = route_request(shared, peer, req, &request_id).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("apigw-requestid", v);
    }
    resp
}

async fn route_request(
    shared: &Shared,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let (parts, mut body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return message_response(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    // Read the whole body even when it is too large (up to DRAIN_LIMIT), so the client gets
    // the 413 instead of a connection reset while it is still sending.
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return message_response(StatusCode::BAD_REQUEST, "Bad Request");
        };
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total <= MAX_BODY_BYTES {
                buf.extend_from_slice(&data);
            } else if total > DRAIN_LIMIT {
                break;
            }
        }
    }
    if total > MAX_BODY_BYTES {
        return message_response(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let body = Bytes::from(buf);
    let method = parts.method.as_str();
    let raw_path = parts.uri.path();
    let Some((route, function, params)) = shared.router.find(method, raw_path) else {
        return message_response(StatusCode::NOT_FOUND, "Not Found");
    };
    let http_req = HttpRequest {
        method,
        raw_path,
        raw_query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body: &body,
        source_ip: peer.ip(),
        port: shared.port,
    };
    let event = build_event(&shared.api, route, &params, &http_req, request_id);
    let function_id = function.config().logical_id.clone();
    let invocation = tokio::time::timeout(INTEGRATION_TIMEOUT, function.invoke(event.to_string()));
    let Ok(result) = invocation.await else {
        tracing::warn!(function = %function_id, "{} took longer than the 30 s integration timeout", route.route_key());
        return message_response(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    };
    match result {
        Ok(payload) => match convert_result(&payload) {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!(function = %function_id, "invalid result for {}: {e}", route.route_key());
                message_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        },
        Err(InvokeError::Timeout(d)) => {
            tracing::warn!(function = %function_id, "{} timed out after {d:?}", route.route_key());
            message_response(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        Err(e) => {
            tracing::warn!(function = %function_id, "{} failed: {e}", route.route_key());
            message_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt as _;

    fn router() -> Router<&'static str> {
        let r = |m: &str, p: &str, t: &'static str| (RoutePattern::parse(m, p).unwrap(), t);
        Router::new(vec![
            r("POST", "/admin/businesses", "create"),
            r("GET", "/admin/businesses", "list"),
            r("GET", "/admin/businesses/{business_id}", "get"),
            r("ANY", "/admin/businesses/{business_id}", "any"),
            r("GET", "/admin/businesses/special", "special"),
            r("ANY", "/files/{proxy+}", "files"),
            r("GET", "/", "root"),
        ])
    }

    #[test]
    fn path_matching_and_precedence() {
        let r = router();
        let find = |m: &str, p: &str| r.find(m, p).map(|(_, t, params)| (*t, params));
        assert_eq!(find("POST", "/admin/businesses").unwrap().0, "create");
        assert_eq!(find("GET", "/admin/businesses").unwrap().0, "list");
        let (t, params) = find("GET", "/admin/businesses/b-1").unwrap();
        assert_eq!((t, params["business_id"].as_str()), ("get", "b-1"));
        assert_eq!(find("DELETE", "/admin/businesses/b-1").unwrap().0, "any");
        assert_eq!(
            find("GET", "/admin/businesses/special").unwrap().0,
            "special"
        );
        // Percent-decoded path parameters.
        let (_, params) = find("GET", "/admin/businesses/a%20b").unwrap();
        assert_eq!(params["business_id"], "a b");
        let (t, params) = find("PUT", "/files/a/b/c.txt").unwrap();
        assert_eq!((t, params["proxy"].as_str()), ("files", "a/b/c.txt"));
        assert!(find("GET", "/files").is_none(), "greedy needs one segment");
        assert!(find("GET", "/files/").is_none());
        assert!(find("DELETE", "/admin/businesses").is_none());
        assert!(find("GET", "/admin/businesses/b-1/extra").is_none());
        assert!(find("GET", "/admin").is_none());
        assert_eq!(find("GET", "/").unwrap().0, "root");
        assert_eq!(
            r.find("GET", "/admin/businesses/x").unwrap().0.route_key(),
            "GET /admin/businesses/{business_id}"
        );
        let with_default = Router::new(vec![
            (RoutePattern::parse("ANY", "$default").unwrap(), "default"),
            (RoutePattern::parse("GET", "/a").unwrap(), "a"),
        ]);
        assert_eq!(*with_default.find("GET", "/a").unwrap().1, "a");
        assert_eq!(*with_default.find("GET", "/zzz").unwrap().1, "default");
        assert!(RoutePattern::parse("GET", "/{p+}/x").is_err());
    }

    #[test]
    fn text_content_types() {
        assert!(is_text_content_type(Some("application/json")));
        assert!(is_text_content_type(Some(
            "application/json; charset=utf-8"
        )));
        assert!(is_text_content_type(Some("text/plain")));
        assert!(is_text_content_type(Some("Text/HTML")));
        assert!(is_text_content_type(Some("application/xml")));
        assert!(!is_text_content_type(Some(
            "application/x-www-form-urlencoded"
        )));
        assert!(!is_text_content_type(Some(
            "multipart/form-data; boundary=x"
        )));
        assert!(!is_text_content_type(Some("application/octet-stream")));
        assert!(!is_text_content_type(None));
    }

    fn request_event(
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Value {
        let r: Router<()> = Router::new(vec![
            (
                RoutePattern::parse("POST", "/admin/businesses/{business_id}").unwrap(),
                (),
            ),
            (
                RoutePattern::parse("GET", "/admin/businesses/{business_id}").unwrap(),
                (),
            ),
        ]);
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let (route, _, params) = r.find(method, path).unwrap();
        let req = HttpRequest {
            method,
            raw_path: path,
            raw_query: query,
            headers: &map,
            body,
            source_ip: "127.0.0.1".parse().unwrap(),
            port: 3000,
        };
        let api = ApiInfo {
            api_id: "abc123defg".into(),
            account_id: "123456789012".into(),
        };
        build_event(&api, route, &params, &req, "req-1")
    }

    #[test]
    fn event_shape_and_lambda_http_round_trip() {
        let body = br#"{"name":"Bob's Barbers"}"#;
        let event = request_event(
            "POST",
            "/admin/businesses/b%2D1?x=1&y=a%20b&x=2&flag",
            &[
                ("Host", "127.0.0.1:3000"),
                ("Content-Type", "application/json"),
                ("X-Multi", "one"),
                ("X-Multi", "two"),
                ("Cookie", "a=1; b=2"),
                ("User-Agent", "test-agent"),
            ],
            body,
        );
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "POST /admin/businesses/{business_id}");
        assert_eq!(event["rawPath"], "/admin/businesses/b%2D1");
        assert_eq!(event["rawQueryString"], "x=1&y=a%20b&x=2&flag");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["headers"]["x-multi"], "one,two");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["headers"]["content-type"], "application/json");
        assert_eq!(event["headers"]["x-forwarded-proto"], "http");
        assert_eq!(
            event["queryStringParameters"],
            json!({"x": "1,2", "y": "a b", "flag": ""})
        );
        assert_eq!(event["pathParameters"], json!({"business_id": "b-1"}));
        let ctx = &event["requestContext"];
        assert_eq!(ctx["routeKey"], "POST /admin/businesses/{business_id}");
        assert_eq!(ctx["stage"], "$default");
        assert_eq!(ctx["accountId"], "123456789012");
        assert_eq!(ctx["apiId"], "abc123defg");
        assert_eq!(ctx["domainName"], "127.0.0.1:3000");
        assert_eq!(ctx["http"]["method"], "POST");
        assert_eq!(ctx["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(ctx["http"]["userAgent"], "test-agent");
        assert_eq!(ctx["requestId"], "req-1");
        assert!(ctx["timeEpoch"].as_i64().unwrap() > 1_600_000_000_000);
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["body"], r#"{"name":"Bob's Barbers"}"#);

        let req =
            lambda_http::request::from_str(&event.to_string()).expect("lambda_http accepts it");
        assert_eq!(req.method(), "POST");
        assert_eq!(req.raw_http_path(), "/admin/businesses/b%2D1");
        assert_eq!(req.path_parameters().first("business_id"), Some("b-1"));
        let q = req.query_string_parameters();
        assert_eq!(q.all("x"), Some(vec!["1", "2"]));
        assert_eq!(q.first("y"), Some("a b"));
        assert_eq!(req.headers()["x-multi"], "one,two");
        assert_eq!(req.headers()["cookie"], "a=1; b=2");
        assert_eq!(req.body().as_ref(), body);
        match req.request_context() {
            lambda_http::request::RequestContext::ApiGatewayV2(c) => {
                assert_eq!(
                    c.route_key.as_deref(),
                    Some("POST /admin/businesses/{business_id}")
                );
            }
            #[allow(unreachable_patterns)]
            other => panic!("unexpected context {other:?}"),
        }
    }

    #[test]
    fn form_and_binary_bodies_are_base64() {
        let form = b"From=%2B15551234567&Body=Hi+there&CallSid=CA1";
        let event = request_event(
            "POST",
            "/admin/businesses/x",
            &[("content-type", "application/x-www-form-urlencoded")],
            form,
        );
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(B64.decode(event["body"].as_str().unwrap()).unwrap(), form);
        let req = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(
            req.body().as_ref(),
            form,
            "lambda_http decodes to the raw bytes"
        );

        let binary = [0u8, 159, 146, 150, 255];
        let event = request_event("POST", "/admin/businesses/x", &[], &binary);
        assert_eq!(event["isBase64Encoded"], true);
        let req = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(req.body().as_ref(), binary);

        // Text content type but not UTF-8: still base64.
        let event = request_event(
            "POST",
            "/admin/businesses/x",
            &[("content-type", "text/plain")],
            &binary,
        );
        assert_eq!(event["isBase64Encoded"], true);

        let event = request_event("GET", "/admin/businesses/x", &[], b"");
        assert!(event.get("body").is_none());
        assert_eq!(event["isBase64Encoded"], false);
        assert!(event.get("queryStringParameters").is_none());
    }

    async fn body_of(r: Response<Full<Bytes>>) -> (StatusCode, HeaderMap, Bytes) {
        let (parts, body) = r.into_parts();
        (
            parts.status,
            parts.headers,
            body.collect().await.unwrap().to_bytes(),
        )
    }

    #[tokio::test]
    async fn results_convert_like_api_gateway() {
        let (s, h, b) = body_of(convert_result(br#"{"statusCode":201,"headers":{"x-a":"1","content-type":"text/plain"},"multiValueHeaders":{"x-b":["2","3"]},"cookies":["c=1; Path=/","d=2"],"body":"hi","isBase64Encoded":false}"#).unwrap()).await;
        assert_eq!(s, 201);
        assert_eq!(h["x-a"], "1");
        assert_eq!(h.get_all("x-b").iter().collect::<Vec<_>>(), ["2", "3"]);
        assert_eq!(
            h.get_all("set-cookie").iter().collect::<Vec<_>>(),
            ["c=1; Path=/", "d=2"]
        );
        assert_eq!(b, "hi");

        let (s, _, b) = body_of(
            convert_result(br#"{"statusCode":"200","body":"AAEC","isBase64Encoded":true}"#)
                .unwrap(),
        )
        .await;
        assert_eq!((s, b.as_ref()), (StatusCode::OK, &[0u8, 1, 2][..]));

        let (s, h, b) = body_of(convert_result(br#"{"hello":"world"}"#).unwrap()).await;
        assert_eq!(
            (s, h["content-type"].to_str().unwrap()),
            (StatusCode::OK, "application/json")
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&b).unwrap(),
            json!({"hello": "world"})
        );
        let (_, _, b) = body_of(convert_result(br#""plain""#).unwrap()).await;
        assert_eq!(b, "plain");
        let (s, _, b) = body_of(convert_result(br#"{"statusCode":204}"#).unwrap()).await;
        assert_eq!((s, b.len()), (StatusCode::NO_CONTENT, 0));

        assert!(convert_result(b"not json").is_err());
        assert!(convert_result(br#"{"statusCode":"abc"}"#).is_err());
        assert!(
            convert_result(br#"{"statusCode":200,"body":"!!","isBase64Encoded":true}"#).is_err()
        );
    }
}
