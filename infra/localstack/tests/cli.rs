//! The `frontdesk-local` binary: refuses to run without a local endpoint, fails fast on
//! missing function binaries, and runs / describes / stops a stack (needs moto through
//! AWS_ENDPOINT_URL, as `scripts/test` provides).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_frontdesk-local");

fn endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: these tests need moto. Run them with `scripts/test` \
             (or `source scripts/lib.sh && start_moto` first)."
        ),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "frontdesk-cli-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A template without functions (so no binaries are needed) and one with a function.
const RESOURCES_ONLY: &str = r#"
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt JobsDLQ.Arn, maxReceiveCount: 3}
  JobsDLQ:
    Type: AWS::SQS::Queue
  Token:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString: {PasswordLength: 20, ExcludePunctuation: true}
"#;

const WITH_FUNCTION: &str = r#"
Resources:
  Api:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: no-such-binary}}
    Properties:
      Events:
        Get: {Type: HttpApi, Properties: {Path: /x, Method: GET}}
"#;

fn run(args: &[&str], endpoint: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null());
    match endpoint {
        Some(e) => cmd.env("AWS_ENDPOINT_URL", e),
        None => cmd.env_remove("AWS_ENDPOINT_URL"),
    };
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
    cmd.output().unwrap()
}

#[test]
fn refuses_to_run_against_real_aws_by_accident() {
    let dir = temp_dir("noendpoint");
    let template = dir.join("t.yaml");
    std::fs::write(&template, RESOURCES_ONLY).unwrap();
    let out = run(&["--template", template.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AWS_ENDPOINT_URL is not set"), "{stderr}");
    assert!(stderr.contains("--allow-real-aws"), "{stderr}");

    let out = run(&["--bogus"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--help"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--state-file"));
}

#[test]
fn fails_fast_when_a_function_binary_is_missing() {
    let endpoint = endpoint();
    let dir = temp_dir("missing");
    let template = dir.join("t.yaml");
    std::fs::write(&template, WITH_FUNCTION).unwrap();
    let started = Instant::now();
    let out = run(
        &[
            "--template",
            template.to_str().unwrap(),
            "--bin-dir",
            dir.to_str().unwrap(),
            "--port",
            "0",
        ],
        Some(&endpoint),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no-such-binary") && stderr.contains("cargo build --bins"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

fn wait_for_file(path: &Path, child: &mut Child) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(v) = serde_json::from_str(&text)
        {
            return v;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("frontdesk-local exited early ({status}): {err}");
        }
        assert!(Instant::now() < deadline, "no state file after 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn http_get(url: &str, path: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp
}

#[test]
fn runs_describes_and_stops_a_stack() {
    let endpoint = endpoint();
    let dir = temp_dir("run");
    let template = dir.join("t.yaml");
    std::fs::write(&template, RESOURCES_ONLY).unwrap();
    let state = dir.join("state.json");
    let stack_name = format!("cli-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut child = Command::new(BIN)
        .args([
            "--template",
            template.to_str().unwrap(),
            "--stack-name",
            &stack_name,
            "--port",
            "0",
            "--state-file",
            state.to_str().unwrap(),
            "--secret",
            "Token=from-the-command-line",
        ])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let v = wait_for_file(&state, &mut child);
    assert_eq!(v["stack_name"], stack_name);
    assert_eq!(v["pid"], child.id());
    assert_eq!(v["secrets"]["Token"]["value"], "from-the-command-line");
    assert_eq!(v["secrets"]["Token"]["name"], format!("{stack_name}/Token"));
    let jobs = &v["queues"]["Jobs"];
    assert_eq!(jobs["name"], format!("{stack_name}-Jobs"));
    assert_eq!(jobs["dead_letter_queue"], "JobsDLQ");
    assert!(
        jobs["url"].as_str().unwrap().starts_with(&endpoint),
        "{jobs}"
    );
    let url = v["gateway_url"].as_str().unwrap().to_string();
    let resp = http_get(&url, "/anything");
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    assert!(resp.contains(r#"{"message":"Not Found"}"#), "{resp}");

    // SIGTERM: clean exit, state file removed, summary printed.
    // SAFETY: plain kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!state.exists(), "state file removed on shutdown");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("Gateway: {url}")), "{stdout}");
    assert!(stdout.contains("DLQ JobsDLQ after 3 receives"), "{stdout}");
    assert!(stdout.contains("from-the-command-line"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGTERM"));
}
