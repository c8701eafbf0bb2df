//! `frontdesk-local`: runs the product locally from template.yaml against moto.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use frontdesk_localstack::template::SecretValue;
use frontdesk_localstack::{LocalStack, LocalStackConfig, Template};

const USAGE: &str = "\
Usage: frontdesk-local [OPTIONS]

Runs the stack of template.yaml locally: creates its tables, queues and secrets on the
endpoint in AWS_ENDPOINT_URL (moto), serves its HTTP API routes with the functions' real
binaries behind a Lambda Runtime API emulator, polls its SQS event sources and runs its
Schedule / ScheduleV2 events.

Options:
  --template PATH        SAM template (default: template.yaml)
  --stack-name NAME      stack name, prefix of every physical name (default: frontdesk-local)
  --bin-dir DIR          directory with the built function binaries, named by
                         Metadata.BuildProperties.Binary (default: the directory of this
                         executable, i.e. the cargo target dir)
  --port N               gateway port on 127.0.0.1; 0 = a free port (default: 3000)
  --env-dir DIR          write <LogicalId>.env per function (for `cargo lambda watch --env-file`)
  --state-file PATH      write a JSON description (gateway URL, resources, secret values, PIDs)
  --parameter NAME=VALUE override a template parameter (repeatable)
  --secret ID=VALUE      value of the secret with logical id ID (repeatable)
  --max-instances N      concurrent instances per function (default: 4)
  --quiet-functions      do not print the functions' output
  --schedule-every SECS  run every enabled Schedule / ScheduleV2 event every SECS seconds
                         (fractions allowed) instead of its rate; cron(...) schedules, which
                         otherwise do not run locally, run at this period too
  --allow-real-aws       allow running without AWS_ENDPOINT_URL (creates real AWS resources)
  -h, --help             print this help

Environment: AWS_ENDPOINT_URL, AWS_REGION and credentials as for any AWS SDK;
FRONTDESK_LOCAL_LOG sets this tool's own log filter (default: info).
";

#[derive(Debug)]
struct Args {
    template: PathBuf,
    stack_name: String,
    bin_dir: Option<PathBuf>,
    port: u16,
    state_file: Option<PathBuf>,
    env_dir: Option<PathBuf>,
    parameters: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    max_instances: usize,
    quiet_functions: bool,
    allow_real_aws: bool,
    schedule_every: Option<std::time::Duration>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Args>> {
    let mut out = Args {
        template: PathBuf::from("template.yaml"),
        stack_name: "frontdesk-local".into(),
        bin_dir: None,
        port: 3000,
        state_file: None,
        env_dir: None,
        parameters: BTreeMap::new(),
        secrets: BTreeMap::new(),
        max_instances: 4,
        quiet_functions: false,
        allow_real_aws: false,
        schedule_every: None,
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> anyhow::Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().with_context(|| format!("{flag} needs a value")),
            }
        };
        let pair = |v: String, what: &str| -> anyhow::Result<(String, String)> {
            v.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("{what} takes NAME=VALUE, got {v:?}"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--template" => out.template = value()?.into(),
            "--stack-name" => out.stack_name = value()?,
            "--bin-dir" => out.bin_dir = Some(value()?.into()),
            "--port" => out.port = value()?.parse().context("--port takes a port number")?,
            "--state-file" => out.state_file = Some(value()?.into()),
            "--env-dir" => out.env_dir = Some(value()?.into()),
            "--parameter" => {
                let (k, v) = pair(value()?, "--parameter")?;
                out.parameters.insert(k, v);
            }
            "--secret" => {
                let (k, v) = pair(value()?, "--secret")?;
                out.secrets.insert(k, v);
            }
            "--max-instances" => {
                out.max_instances = value()?.parse().context("--max-instances takes a number")?;
                if out.max_instances == 0 {
                    bail!("--max-instances must be at least 1");
                }
            }
            "--quiet-functions" => out.quiet_functions = true,
            "--schedule-every" => {
                let v = value()?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.01 && *s <= 31_536_000.0)
                    .with_context(|| {
                        format!(
                            "--schedule-every takes a number of seconds (0.01 or more), got {v:?}"
                        )
                    })?;
                out.schedule_every = Some(std::time::Duration::from_secs_f64(secs));
            }
            "--allow-real-aws" => out.allow_real_aws = true,
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(Some(out))
}

fn default_bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target/debug"))
}

fn write_state(path: &Path, stack: &LocalStack) -> anyhow::Result<()> {
    write_state_text(path, &serde_json::to_string_pretty(&stack.state())?)
}

fn write_state_text(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn print_summary(
    stack: &LocalStack,
    template: &Template,
    overridden: &BTreeMap<String, String>,
    endpoint: &str,
    state_file: Option<&Path>,
) {
    let s = stack.stack();
    println!();
    println!(
        "frontdesk local stack {:?} is up (region {}, AWS endpoint {endpoint})",
        s.name, s.region
    );
    println!();
    println!("Gateway: {}", stack.gateway_url());
    for (key, function) in stack.routes() {
        let (method, path) = key.split_once(' ').unwrap_or((key.as_str(), ""));
        println!("  {method:<7} {path:<45} -> {function}");
    }
    if stack.routes().is_empty() {
        println!("  (no HttpApi routes)");
    }
    println!("Tables:");
    for t in &template.tables {
        let p = &s.tables[&t.logical_id];
        let mut notes: Vec<String> = t
            .global_secondary_indexes
            .iter()
            .map(|g| format!("GSI {}", g.name))
            .collect();
        if let Some(ttl) = t.ttl.as_ref().filter(|t| t.enabled) {
            notes.push(format!("TTL {}", ttl.attribute_name));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join(", "))
        };
        println!("  {:<22} {}{notes}", t.logical_id, p.name);
    }
    println!("Queues:");
    for q in &template.queues {
        let p = &s.queues[&q.logical_id];
        let redrive = match &q.redrive {
            Some(r) => format!(
                ", DLQ {} after {} receives",
                r.dead_letter_queue, r.max_receive_count
            ),
            None => String::new(),
        };
        let visibility = q.visibility_timeout.unwrap_or(30);
        println!(
            "  {:<22} {}  (visibility {visibility}s{redrive})",
            q.logical_id, p.url
        );
    }
    println!("Event sources:");
    for m in stack.mappings() {
        let c = m.config();
        let queue = s
            .queues
            .iter()
            .find(|(_, q)| q.url == c.queue_url)
            .map(|(id, _)| id.as_str());
        println!(
            "  {:<22} -> {}  (batch {}{}{}, concurrency {})",
            queue.unwrap_or(&c.queue_url),
            c.function,
            c.batch_size,
            if c.report_batch_item_failures {
                ", ReportBatchItemFailures"
            } else {
                ""
            },
            if c.enabled { "" } else { ", DISABLED" },
            c.concurrency,
        );
    }
    if stack.mappings().is_empty() {
        println!("  (none)");
    }
    println!("Schedules:");
    for t in stack.schedules() {
        let c = t.config();
        let when = match (c.idle_reason(), c.period) {
            (Some(reason), _) => format!("not run: {reason}"),
            (None, Some(p)) if c.expression.period() != Some(p) => {
                format!("every {:.3}s (--schedule-every)", p.as_secs_f64())
            }
            (None, _) => "on its rate".to_string(),
        };
        println!(
            "  {:<22} -> {}  ({} {}, {when})",
            c.event,
            c.function,
            c.kind.event_type(),
            c.expression
        );
    }
    if stack.schedules().is_empty() {
        println!("  (none)");
    }
    println!("Secrets:");
    for sec in &template.secrets {
        let p = &s.secrets[&sec.logical_id];
        let origin = match sec.value {
            _ if overridden.contains_key(&sec.logical_id) => "from --secret",
            SecretValue::Generate(_) => "generated",
            SecretValue::String(_) => "from template",
        };
        println!(
            "  {:<22} {}  = {}  ({origin})",
            sec.logical_id, p.name, p.value
        );
    }
    println!("Functions:");
    for (id, pool) in stack.functions() {
        let c = pool.config();
        println!(
            "  {:<22} {}  (timeout {}s, {} MB, up to {} instances)",
            id,
            c.executable.display(),
            c.timeout.as_secs(),
            c.memory_size,
            c.max_instances
        );
    }
    if let Some(p) = state_file {
        println!("State file: {}", p.display());
    }
    println!();
    println!("Press Ctrl-C to stop.");
}

async fn wait_for_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
        _ = hup.recv() => "SIGHUP",
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|v| !v.is_empty());
    if endpoint.is_none() && !args.allow_real_aws {
        bail!(
            "AWS_ENDPOINT_URL is not set: refusing to create resources in real AWS.\n\
             Start moto first (`source scripts/lib.sh && start_moto`, or use scripts/run-local),\n\
             or pass --allow-real-aws if you really mean it."
        );
    }
    let template = Template::load_with_parameters(&args.template, &args.parameters)
        .with_context(|| format!("loading {}", args.template.display()))?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut config = LocalStackConfig::new(
        &args.stack_name,
        args.bin_dir.clone().unwrap_or_else(default_bin_dir),
    );
    config.gateway_addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    config.max_instances = args.max_instances;
    config.provision.secret_values = args.secrets.clone();
    config.forward_output = !args.quiet_functions;
    config.schedule_period_override = args.schedule_every;

    // Signals are handled from here on, so Ctrl-C during start-up still cleans up.
    let signal = tokio::spawn(wait_for_signal());
    let stack = tokio::select! {
        s = LocalStack::start(&sdk, &template, config) => s?,
        sig = wait_for_signal() => bail!("interrupted by {} during start-up", sig?),
    };
    if let Some(path) = &args.state_file {
        write_state(path, &stack)?;
    }
    if let Some(dir) = &args.env_dir {
        stack.write_env_files(dir)?;
    }
    print_summary(
        &stack,
        &template,
        &args.secrets,
        endpoint.as_deref().unwrap_or("real AWS"),
        args.state_file.as_deref(),
    );

    // Keep the state file current (instances and their PIDs come and go).
    let stack = std::sync::Arc::new(stack);
    let refresher = args.state_file.clone().map(|path| {
        let stack = stack.clone();
        tokio::spawn(async move {
            let mut last = String::new();
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let text = serde_json::to_string_pretty(&stack.state()).unwrap_or_default();
                if text != last && write_state_text(&path, &text).is_ok() {
                    last = text;
                }
            }
        })
    });
    let sig = signal.await.context("signal handler")??;
    if let Some(r) = refresher {
        r.abort();
        let _ = r.await;
    }
    let stack = std::sync::Arc::into_inner(stack).context("local stack still shared")?;
    eprintln!("\n{sig}: stopping the local stack");
    stack.shutdown().await;
    if let Some(path) = &args.state_file {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    frontdesk_localstack::cli::main(
        "FRONTDESK_LOCAL_LOG",
        USAGE,
        parse_args(std::env::args().skip(1)),
        run,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Option<Args>> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags() {
        let a = parse(&[
            "--template",
            "t.yaml",
            "--stack-name=s1",
            "--port",
            "0",
            "--bin-dir",
            "/b",
            "--state-file",
            "/tmp/s.json",
            "--secret",
            "AdminTokenSecret=tok",
            "--parameter",
            "LogLevel=debug",
            "--max-instances",
            "2",
            "--allow-real-aws",
            "--schedule-every",
            "0.5",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.template, PathBuf::from("t.yaml"));
        assert_eq!(a.stack_name, "s1");
        assert_eq!(a.port, 0);
        assert_eq!(a.bin_dir, Some(PathBuf::from("/b")));
        assert_eq!(a.secrets["AdminTokenSecret"], "tok");
        assert_eq!(a.parameters["LogLevel"], "debug");
        assert_eq!(a.max_instances, 2);
        assert!(a.allow_real_aws);
        assert_eq!(
            a.schedule_every,
            Some(std::time::Duration::from_millis(500))
        );
        let d = parse(&[]).unwrap().unwrap();
        assert_eq!((d.port, d.stack_name.as_str()), (3000, "frontdesk-local"));
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--nope"]).is_err());
        assert!(parse(&["--secret", "novalue"]).is_err());
        assert_eq!(d.schedule_every, None);
        assert_eq!(
            parse(&["--schedule-every=30"])
                .unwrap()
                .unwrap()
                .schedule_every,
            Some(std::time::Duration::from_secs(30))
        );
        for bad in ["0", "-1", "soon", "NaN", "inf"] {
            assert!(parse(&["--schedule-every", bad]).is_err(), "{bad}");
        }
    }
}
