//! Fixture function for the local stack tests: answers with a JSON description of the HTTP
//! API request it got (parsed by lambda_http, like the real functions).
//!
//! Paths ending in `/crash` exit the process mid-invocation, `/error` return a function
//! error, `/sleep` sleep 30 s (past any test timeout).
//!
//! Any other event (not an HTTP API request, e.g. a scheduled event) is appended as one JSON
//! line to the file named by `TEST_ECHO_EVENTS_LOG` (when set) and answered with a 200.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body as EventBody;
use base64::Engine as _;
use lambda_http::RequestExt as _;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<ApiGatewayV2httpResponse, Error> {
    let raw = event.payload;
    if raw.get("requestContext").is_none() {
        if let Ok(path) = std::env::var("TEST_ECHO_EVENTS_LOG") {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            // One write per line: O_APPEND keeps concurrent instances' lines whole.
            f.write_all(format!("{raw}\n").as_bytes())?;
        }
        let mut resp = ApiGatewayV2httpResponse::default();
        resp.status_code = 200;
        return Ok(resp);
    }
    let req = lambda_http::request::from_str(&raw.to_string())?;
    let path = req.raw_http_path().to_string();
    if path.ends_with("/crash") {
        eprintln!("test-echo: crashing on purpose");
        std::process::exit(3);
    }
    if path.ends_with("/error") {
        return Err("test-echo: failing on purpose".into());
    }
    if path.ends_with("/sleep") {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    let query: BTreeMap<String, Vec<String>> = req
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, _)| {
                    (
                        k.to_string(),
                        q.all(k)
                            .unwrap_or_default()
                            .into_iter()
                            .map(str::to_string)
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let path_params: BTreeMap<String, String> = req
        .path_parameters_ref()
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k != "AWS_SECRET_ACCESS_KEY" && k != "AWS_SESSION_TOKEN")
        .collect();
    let description = json!({
        "method": req.method().as_str(),
        "raw_path": path,
        "uri": req.uri().to_string(),
        "path_params": path_params,
        "query": query,
        "headers": headers,
        "body_base64": base64::engine::general_purpose::STANDARD.encode(req.body().as_ref()),
        "is_base64_encoded": raw["isBase64Encoded"],
        "route_key": raw["routeKey"],
        "request_context": raw["requestContext"],
        "cookies": raw["cookies"],
        "request_id": event.context.request_id,
        "deadline_ms": event.context.deadline,
        "function_arn": event.context.invoked_function_arn,
        "pid": std::process::id(),
        "env": env,
    });
    let mut resp = ApiGatewayV2httpResponse::default();
    resp.status_code = 200;
    resp.headers
        .insert("content-type", "application/json".parse()?);
    resp.headers.insert("x-echo", "yes".parse()?);
    resp.cookies = vec!["echo=1; Path=/".into()];
    resp.body = Some(EventBody::Text(description.to_string()));
    Ok(resp)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
