//! The shared `main` of the crate's command-line tools (`frontdesk-local`,
//! `frontdesk-recorder`): logging to stderr, usage on `--help`, exit codes 0 / 1 / 2.

use std::future::Future;
use std::process::ExitCode;

/// Initialises logging (filter from `log_env`, default `info`), then runs `run` with the
/// parsed arguments. `Ok(None)` from the parser means `--help`: prints `usage`, exits 0; a
/// parse error prints it with `usage` and exits 2; a failed run exits 1.
pub async fn main<A, F, Fut>(
    log_env: &str,
    usage: &str,
    args: anyhow::Result<Option<A>>,
    run: F,
) -> ExitCode
where
    F: FnOnce(A) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let filter = tracing_subscriber::EnvFilter::try_from_env(log_env)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = match args {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e:#}\n\n{usage}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
