//! `frontdesk-recorder`: a recording reverse proxy in front of a vendor mock (see
//! `frontdesk_localstack::recorder`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use frontdesk_localstack::recorder::Recorder;

const USAGE: &str = "\
Usage: frontdesk-recorder --upstream URL [OPTIONS]

Forwards every request to URL unchanged (method, path, query, headers, body), returns the
upstream's answer and records each exchange in memory. Its own endpoints (never forwarded):
  GET    /__recorder/requests[?path_contains=S]  recorded exchanges (JSON), oldest first
  DELETE /__recorder/requests                    forget them
  POST   /__recorder/faults                      arm a fault, e.g.
           {\"path_contains\": \"Messages.json\", \"status\": 500, \"body\": \"...\", \"times\": 2}
           {\"path_contains\": \"Calls\", \"delay_ms\": 5000, \"times\": 1}
  GET    /__recorder/faults                      armed faults
  DELETE /__recorder/faults                      disarm them
  GET    /__recorder/info                        name, upstream, counts

Options:
  --upstream URL      http://host:port[/base] to forward to (required)
  --listen ADDR       address to bind (default 127.0.0.1:0, a free port)
  --name NAME         name in the logs (default recorder)
  --port-file PATH    write the bound port to PATH once listening
  -h, --help          print this help

Runs until SIGINT / SIGTERM. FRONTDESK_RECORDER_LOG sets the log filter (default info).
";

#[derive(Debug, PartialEq)]
struct Args {
    upstream: String,
    listen: SocketAddr,
    name: String,
    port_file: Option<PathBuf>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Args>> {
    let mut upstream = None;
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut name = "recorder".to_string();
    let mut port_file = None;
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
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--upstream" => upstream = Some(value()?),
            "--listen" => {
                listen = value()?
                    .parse()
                    .context("--listen takes an address like 127.0.0.1:0")?
            }
            "--name" => name = value()?,
            "--port-file" => port_file = Some(PathBuf::from(value()?)),
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(Some(Args {
        upstream: upstream.context("--upstream is required")?,
        listen,
        name,
        port_file,
    }))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let recorder = Recorder::start_named(&args.name, &args.upstream, args.listen)
        .await
        .with_context(|| format!("starting the recorder on {}", args.listen))?;
    if let Some(path) = &args.port_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{}\n", recorder.local_addr().port()))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    }
    tracing::info!(
        "recorder {} on {} -> {}",
        args.name,
        recorder.url(),
        recorder.upstream().url()
    );
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    recorder.stop();
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    frontdesk_localstack::cli::main(
        "FRONTDESK_RECORDER_LOG",
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
            "--listen",
            "127.0.0.1:0",
            "--upstream=http://127.0.0.1:4010",
            "--name",
            "twilio",
            "--port-file",
            "/tmp/p",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            a,
            Args {
                upstream: "http://127.0.0.1:4010".into(),
                listen: "127.0.0.1:0".parse().unwrap(),
                name: "twilio".into(),
                port_file: Some("/tmp/p".into()),
            }
        );
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&[]).is_err(), "--upstream is required");
        assert!(parse(&["--upstream", "http://x:1", "--listen", "nope"]).is_err());
        assert!(parse(&["--upstream", "http://x:1", "--bogus"]).is_err());
    }
}
