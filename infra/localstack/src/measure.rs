//! `frontdesk-measure`: runs built function binaries under the Lambda Runtime API emulator
//! and reports, for each sample event, the init time (process spawn → first `next`), the
//! invocation times (first, then warm p50 / p99 / max) and the DynamoDB round trips of the
//! first call and the most of any warm call (`first/warm`, from the functions'
//! `dynamodb_round_trips` log field).
//!
//! ```sh
//! source scripts/lib.sh && start_moto
//! cargo build --release --bins     # or debug: --bin-dir target/debug
//! frontdesk-measure --bin-dir "$CARGO_TARGET_DIR/release" --iterations 50 events/tool-*.json
//! ```
//!
//! Before measuring it creates the stack on moto and replays `--setup` events (default:
//! `events/admin-create-business.json`, `events/admin-rotate-tool-secret.json` and
//! `events/admin-create-business-register-call.json`, so the tool events find the demo
//! business and its local tool secret, and the Twilio voice events a register-call
//! business). Each event's function is found by the event's `routeKey` in the template.
//!
//! Twilio webhook events (an `x-twilio-signature` header) get a fresh `CallSid` for every
//! invocation (so each one is a new call, not a replay) and are signed with the local auth
//! token for the URL API Gateway would have received. ElevenLabs register-call is answered
//! at once by a local stub (a [`frontdesk_localstack::recorder::Recorder`] fault), so the
//! figures are frontdesk's own time while the phone rings.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use frontdesk_localstack::recorder::{Fault, Recorder};
use frontdesk_localstack::{LocalStack, LocalStackConfig, Template};
use serde_json::Value;

const USAGE: &str = "usage: frontdesk-measure [--template template.yaml] [--bin-dir DIR] \
[--iterations N] [--setup EVENT]... EVENT...";

struct Args {
    template: PathBuf,
    bin_dir: Option<PathBuf>,
    iterations: usize,
    setup: Vec<PathBuf>,
    events: Vec<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        template: "template.yaml".into(),
        bin_dir: None,
        iterations: 20,
        setup: vec![],
        events: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--template" => a.template = value()?.into(),
            "--bin-dir" => a.bin_dir = Some(value()?.into()),
            "--iterations" => a.iterations = value()?.parse().context("--iterations")?,
            "--setup" => a.setup.push(value()?.into()),
            "-h" | "--help" => bail!("{USAGE}"),
            s if s.starts_with('-') => bail!("unknown flag {s}\n{USAGE}"),
            _ => a.events.push(arg.into()),
        }
    }
    if a.events.is_empty() {
        bail!("no events given\n{USAGE}");
    }
    if a.setup.is_empty() {
        a.setup = vec![
            "events/admin-create-business.json".into(),
            "events/admin-rotate-tool-secret.json".into(),
            "events/admin-create-business-register-call.json".into(),
        ];
    }
    Ok(a)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn run(args: Args) -> anyhow::Result<()> {
    if std::env::var("AWS_ENDPOINT_URL").map_or(true, |v| v.is_empty()) {
        bail!(
            "AWS_ENDPOINT_URL is not set: start moto first (source scripts/lib.sh && start_moto)"
        );
    }
    let template = Template::load(&args.template)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let bin_dir = args.bin_dir.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from))
            .unwrap_or_else(|| "target/debug".into())
    });
    let stack_name = format!(
        "measure-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut config = LocalStackConfig::new(&stack_name, bin_dir.clone());
    config.gateway_addr = ([127, 0, 0, 1], 0).into();
    config.max_instances = 1;
    config.forward_output = false;
    config
        .provision
        .secret_values
        .insert("AdminTokenSecret".into(), "local-dev-admin-token".into());
    // The values the events/ samples carry (scripts/run-local uses the same).
    config.provision.secret_values.insert(
        "ElevenLabsSecret".into(),
        r#"{"api_key":"local","webhook_secret":"wsec_local_demo_webhook_secret","initiation_secret":"local-dev-init-secret"}"#.into(),
    );
    config
        .provision
        .secret_values
        .insert("TwilioSecret".into(), TWILIO_SECRET.into());
    // ElevenLabs register-call: a stub answering TwiML at once (no upstream is reached).
    let elevenlabs = Recorder::start_named(
        "elevenlabs-stub",
        "http://127.0.0.1:9",
        ([127, 0, 0, 1], 0).into(),
    )
    .await?;
    let mut answer = Fault::status("register-call", 200, STUB_TWIML, u32::MAX);
    answer.content_type = Some("text/html; charset=utf-8".into());
    elevenlabs.add_fault(answer).map_err(anyhow::Error::msg)?;
    config
        .extra_env
        .insert("ELEVENLABS_API_BASE".into(), elevenlabs.url());
    let stack = LocalStack::start(&sdk, &template, config).await?;
    let route_function = |event: &Value| -> anyhow::Result<String> {
        let key = event["routeKey"]
            .as_str()
            .context("event has no routeKey")?;
        stack
            .routes()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, f)| f.clone())
            .with_context(|| format!("no function serves {key}"))
    };
    let load = |p: &PathBuf| -> anyhow::Result<(Value, Vec<u8>)> {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        Ok((serde_json::from_slice(&bytes)?, bytes))
    };
    for p in &args.setup {
        let (event, bytes) = load(p)?;
        let f = route_function(&event)?;
        let out = stack.function(&f).unwrap().invoke(bytes).await?;
        let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
        println!("setup {} -> {}", p.display(), v["statusCode"]);
    }
    println!(
        "\nbinaries: {}   iterations per event: {}\n",
        bin_dir.display(),
        args.iterations
    );
    println!(
        "{:<34} {:>9} {:>10} {:>9} {:>9} {:>9} {:>11}  answer",
        "event", "init ms", "first ms", "p50 ms", "p99 ms", "max ms", "ddb trips"
    );
    let mut failed = false;
    for p in &args.events {
        let (event, bytes) = load(p)?;
        let f = route_function(&event)?;
        let pool = stack.function(&f).unwrap();
        // A fresh instance for the cold start: this event's function may have served setup.
        pool.recycle_idle();
        let seen = pool.invocations().len();
        let mut answer = String::new();
        let mut first_trips = None;
        for i in 0..=args.iterations {
            let payload = match twilio_call(&event, i) {
                Some(fresh) => serde_json::to_vec(&fresh)?,
                None => bytes.clone(),
            };
            let result = pool.invoke(payload).await;
            // The log line travels through a pipe: give it a moment (outside the timings).
            for _ in 0..20 {
                if i > 0 || first_trips.is_some() {
                    break;
                }
                first_trips = logged_trips(&pool.latest_output()).last().copied();
                if first_trips.is_none() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            match result {
                Ok(out) => {
                    let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
                    let body: Value = v["body"]
                        .as_str()
                        .and_then(|b| serde_json::from_str(b).ok())
                        .unwrap_or(Value::Null);
                    let twiml_verbs = v["body"].as_str().and_then(twiml_verbs);
                    answer = format!(
                        "{} {}",
                        v["statusCode"],
                        body.get("error")
                            .or(body.get("ok"))
                            .or(body.get("type"))
                            .map(Value::to_string)
                            .or(twiml_verbs)
                            .unwrap_or_default()
                    );
                }
                Err(e) => {
                    answer = format!("invoke failed: {e}");
                    failed = true;
                    break;
                }
            }
        }
        let records = pool.invocations();
        let records = &records[seen..];
        let init = records.iter().find_map(|r| r.init_duration).map(ms);
        let first = records.first().map(|r| ms(r.duration));
        let mut warm: Vec<f64> = records.iter().skip(1).map(|r| ms(r.duration)).collect();
        warm.sort_by(|a, b| a.total_cmp(b));
        // The output tail keeps the last 40 lines: the first call's line is read right after it.
        let all = logged_trips(&pool.latest_output());
        let warm_trips = if all.len() == args.iterations + 1 {
            &all[1..]
        } else {
            &all[..]
        };
        let trips = match (first_trips, warm_trips.iter().max()) {
            (Some(f), Some(w)) => format!("{f}/{w}"),
            (Some(f), None) => format!("{f}/-"),
            _ => "-".to_owned(),
        };
        println!(
            "{:<34} {:>9.1} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>11}  {}",
            p.file_name().unwrap().to_string_lossy(),
            init.unwrap_or(f64::NAN),
            first.unwrap_or(f64::NAN),
            percentile(&warm, 0.5),
            percentile(&warm, 0.99),
            warm.last().copied().unwrap_or(f64::NAN),
            trips,
            answer
        );
    }
    stack.shutdown().await;
    if failed {
        bail!("an invocation failed");
    }
    Ok(())
}

/// The auth token of the local Twilio secret (scripts/run-local uses the same).
const TWILIO_TOKEN: &str = "local-twilio-auth-token";
const TWILIO_SECRET: &str = r#"{"account_sid":"AC00000000000000000000000000000000","auth_token":"local-twilio-auth-token"}"#;
const STUB_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://api.elevenlabs.io/stub"/></Connect></Response>"#;

/// A Twilio webhook event as call number `n`: a fresh CallSid, signed for the URL API Gateway
/// received (`https://<domainName><rawPath>?<rawQueryString>`). `None` for other events.
fn twilio_call(event: &Value, n: usize) -> Option<Value> {
    event["headers"].get("x-twilio-signature")?;
    let mut e = event.clone();
    let body = e["body"].as_str()?.to_owned();
    let mut form = frontdesk_verify::twilio::parse_form(body.as_bytes()).ok()?;
    let sid = format!(
        "CA{:08x}{:024x}",
        std::process::id(),
        (n as u128) << 64 | u128::from(rand::random::<u64>())
    );
    let old = form.iter().find(|(k, _)| k == "CallSid")?.1.clone();
    for (k, v) in form.iter_mut() {
        if k == "CallSid" {
            *v = sid.clone();
        }
    }
    let body = body.replace(&format!("CallSid={old}"), &format!("CallSid={sid}"));
    let query = e["rawQueryString"].as_str().unwrap_or("");
    let url = frontdesk_verify::twilio::public_url(
        &format!("https://{}", e["requestContext"]["domainName"].as_str()?),
        e["rawPath"].as_str()?,
        query,
    );
    let signature = frontdesk_verify::twilio::signature(TWILIO_TOKEN, &url, &form);
    e["headers"]["x-twilio-signature"] = Value::String(signature);
    e["headers"]["content-length"] = Value::String(body.len().to_string());
    e["body"] = Value::String(body);
    Some(e)
}

/// The verbs of a TwiML answer, for the report (`<Say,Dial>`).
fn twiml_verbs(body: &str) -> Option<String> {
    let inner = body.split_once("<Response>")?.1;
    let verbs: Vec<&str> = inner
        .split('<')
        .skip(1)
        .filter(|t| !t.starts_with('/'))
        .map(|t| t.split([' ', '>', '/']).next().unwrap_or(""))
        .filter(|t| t.chars().next().is_some_and(char::is_uppercase))
        .collect();
    Some(format!("<{}>", verbs.join(",")))
}

/// The `dynamodb_round_trips` log fields of an instance's output, in order.
fn logged_trips(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["fields"]["dynamodb_round_trips"].as_u64())
        .collect()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("frontdesk-measure: {e:#}");
            ExitCode::FAILURE
        }
    }
}
