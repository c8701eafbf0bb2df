//! Local stack: runs the product from `template.yaml` against moto (or any AWS endpoint).
//!
//! * [`template`]: load the SAM template (short and long intrinsic forms, `Globals.Function`).
//! * [`provision`]: create tables, queues and secrets for a stack name; resolve references.
//! * [`runtime`]: Lambda Runtime API emulator running the functions' real binaries.
//! * [`gateway`]: HTTP API stand-in (payload format 2.0).
//! * [`esm`]: SQS event-source mappings.
//! * [`schedule`]: `Schedule` / `ScheduleV2` events (a ticker per schedule).
//! * [`recorder`]: recording reverse proxy for the vendor mocks (`frontdesk-recorder`).
//! * [`LocalStack`]: all of the above wired together (what the `frontdesk-local` bin runs).
//!
//! See README.md for usage.

pub mod cli;
pub mod esm;
pub mod gateway;
pub mod intrinsics;
pub mod provision;
pub mod recorder;
pub mod runtime;
pub mod schedule;
pub mod template;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use aws_config::SdkConfig;
use aws_sdk_sqs::config::ProvideCredentials as _;
use serde_json::{Value, json};

pub use provision::{ProvisionOptions, Stack, provision};
pub use runtime::{FunctionConfig, FunctionPool, InvokeError};
pub use template::Template;

use esm::{EsmConfig, EventSourceMapping};
use gateway::{ApiInfo, Gateway, GatewayRoute, RoutePattern};
use schedule::{ScheduleConfig, ScheduleTicker};

/// Options of [`LocalStack::start`].
#[derive(Debug, Clone)]
pub struct LocalStackConfig {
    pub stack_name: String,
    /// Directory holding the function executables, named by `BuildProperties.Binary`.
    pub bin_dir: PathBuf,
    /// Per-function executable overrides (logical id → path).
    pub executables: BTreeMap<String, PathBuf>,
    /// Gateway address; port 0 picks a free port.
    pub gateway_addr: SocketAddr,
    /// Maximum concurrent instances per function.
    pub max_instances: usize,
    pub provision: ProvisionOptions,
    /// Extra environment variables for every function (win over the template's).
    pub extra_env: BTreeMap<String, String>,
    /// Print the functions' output with a `[LogicalId]` prefix.
    pub forward_output: bool,
    /// Start the SQS event-source mappings.
    pub event_sources: bool,
    /// Period of every enabled `Schedule` / `ScheduleV2` event instead of its own (to see
    /// schedules fire in tests and demos); also makes `cron(...)` schedules run, at this
    /// period. `None`: rates run at their period, cron schedules do not run.
    pub schedule_period_override: Option<Duration>,
}

impl LocalStackConfig {
    pub fn new(stack_name: impl Into<String>, bin_dir: impl Into<PathBuf>) -> Self {
        LocalStackConfig {
            stack_name: stack_name.into(),
            bin_dir: bin_dir.into(),
            executables: BTreeMap::new(),
            gateway_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_instances: 4,
            provision: ProvisionOptions::default(),
            extra_env: BTreeMap::new(),
            forward_output: true,
            event_sources: true,
            schedule_period_override: None,
        }
    }
}

/// A running local stack. Dropping it stops everything and kills the function processes;
/// [`LocalStack::shutdown`] does the same gracefully.
pub struct LocalStack {
    stack: Stack,
    gateway: Gateway,
    functions: BTreeMap<String, FunctionPool>,
    binaries: BTreeMap<String, PathBuf>,
    mappings: Vec<EventSourceMapping>,
    schedules: Vec<ScheduleTicker>,
    routes: Vec<(String, String)>,
    environments: BTreeMap<String, BTreeMap<String, String>>,
}

/// Stable 10-character API id for a stack name (like an API Gateway id).
fn api_id(stack_name: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in stack_name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..10)
        .map(|_| {
            let c = ALPHABET[(h % 36) as usize] as char;
            h /= 36;
            c
        })
        .collect()
}

/// Environment every function process starts from: a few host variables, every `AWS_*`
/// variable of this process, and the endpoint / region / credentials of `sdk`.
async fn base_environment(sdk: &SdkConfig) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for (k, v) in std::env::vars() {
        let keep = matches!(
            k.as_str(),
            "PATH" | "HOME" | "LANG" | "TMPDIR" | "RUST_BACKTRACE" | "LLVM_PROFILE_FILE"
        ) || (k.starts_with("AWS_") && !k.starts_with("AWS_LAMBDA_"));
        if keep {
            env.insert(k, v);
        }
    }
    env.extend(aws_environment(sdk).await?);
    Ok(env)
}

async fn aws_environment(sdk: &SdkConfig) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    if let Some(url) = sdk.endpoint_url() {
        env.insert("AWS_ENDPOINT_URL".into(), url.to_string());
    }
    if let Some(region) = sdk.region() {
        env.insert("AWS_REGION".into(), region.to_string());
        env.insert("AWS_DEFAULT_REGION".into(), region.to_string());
    }
    if let Some(provider) = sdk.credentials_provider() {
        let creds = provider
            .provide_credentials()
            .await
            .context("resolving AWS credentials for the functions")?;
        env.insert(
            "AWS_ACCESS_KEY_ID".into(),
            creds.access_key_id().to_string(),
        );
        env.insert(
            "AWS_SECRET_ACCESS_KEY".into(),
            creds.secret_access_key().to_string(),
        );
        if let Some(token) = creds.session_token() {
            env.insert("AWS_SESSION_TOKEN".into(), token.to_string());
        }
    }
    Ok(env)
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.gateway.stop();
        for s in &self.schedules {
            s.stop();
        }
        for pool in self.functions.values() {
            pool.kill_all();
        }
    }
}

impl LocalStack {
    /// Checks the binaries, provisions the stack, then starts the function pools, the gateway
    /// and the SQS event-source mappings.
    pub async fn start(
        sdk: &SdkConfig,
        template: &Template,
        config: LocalStackConfig,
    ) -> anyhow::Result<LocalStack> {
        let mut binaries = BTreeMap::new();
        let mut missing = vec![];
        for f in &template.functions {
            let path = match (config.executables.get(&f.logical_id), &f.binary) {
                (Some(p), _) => p.clone(),
                (None, Some(b)) => config.bin_dir.join(b),
                (None, None) => bail!(
                    "function {} has no Metadata.BuildProperties.Binary in the template",
                    f.logical_id
                ),
            };
            if !path.is_file() {
                missing.push(format!("{} ({})", path.display(), f.logical_id));
            }
            binaries.insert(f.logical_id.clone(), path);
        }
        if !missing.is_empty() {
            bail!(
                "function binaries not found: {}; run `cargo build --bins` (with the same CARGO_TARGET_DIR) or pass --bin-dir",
                missing.join(", ")
            );
        }

        let stack = provision(sdk, template, &config.stack_name, &config.provision)
            .await
            .with_context(|| format!("provisioning stack {}", config.stack_name))?;
        let base_env = base_environment(sdk).await?;
        let aws_env = aws_environment(sdk).await?;

        let mut functions = BTreeMap::new();
        let mut environments = BTreeMap::new();
        for f in &template.functions {
            let physical = &stack.functions[&f.logical_id];
            let mut own = stack.function_environment(f)?;
            // Reserved variables: the function's own environment cannot override them.
            own.extend(aws_env.clone());
            environments.insert(f.logical_id.clone(), own.clone());
            let mut env = base_env.clone();
            env.extend(own);
            if f.log_format.as_deref() == Some("JSON") {
                env.insert("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into());
                if let Some(level) = &f.application_log_level {
                    env.insert("AWS_LAMBDA_LOG_LEVEL".into(), level.clone());
                }
            }
            env.extend(config.extra_env.clone());
            let pool = FunctionPool::new(FunctionConfig {
                logical_id: f.logical_id.clone(),
                function_name: physical.name.clone(),
                function_arn: physical.arn.clone(),
                executable: binaries[&f.logical_id].clone(),
                env,
                timeout: f.timeout,
                memory_size: f.memory_size,
                max_instances: config.max_instances.max(1),
                init_timeout: runtime::DEFAULT_INIT_TIMEOUT,
                forward_output: config.forward_output,
            });
            functions.insert(f.logical_id.clone(), pool);
        }

        let mut routes = vec![];
        let mut gateway_routes = vec![];
        for (f, e) in template.http_routes() {
            let pattern = RoutePattern::parse(&e.method, &e.path)
                .map_err(|m| anyhow::anyhow!("function {}, event {}: {m}", f.logical_id, e.name))?;
            routes.push((pattern.route_key().to_string(), f.logical_id.clone()));
            gateway_routes.push(GatewayRoute {
                pattern,
                function: functions[&f.logical_id].clone(),
            });
        }
        routes.sort_by(|a, b| {
            let key = |r: &(String, String)| {
                let (m, p) = r.0.split_once(' ').unwrap_or(("", r.0.as_str()));
                (p.to_string(), m.to_string())
            };
            key(a).cmp(&key(b))
        });
        let api = ApiInfo {
            api_id: api_id(&stack.name),
            account_id: stack.account_id.clone(),
        };
        let gateway = Gateway::start(config.gateway_addr, api, gateway_routes)
            .await
            .with_context(|| format!("binding the gateway on {}", config.gateway_addr))?;

        let mut mappings = vec![];
        if config.event_sources {
            let sqs = aws_sdk_sqs::Client::new(sdk);
            for f in &template.functions {
                for e in &f.sqs_events {
                    let q = &stack.queues[&e.queue];
                    let concurrency = e
                        .maximum_concurrency
                        .map(|c| c as usize)
                        .unwrap_or(config.max_instances)
                        .clamp(1, config.max_instances.max(1));
                    let esm_config = EsmConfig {
                        function: f.logical_id.clone(),
                        queue_url: q.url.clone(),
                        queue_arn: q.arn.clone(),
                        region: stack.region.clone(),
                        batch_size: e.batch_size,
                        batching_window: e.maximum_batching_window,
                        report_batch_item_failures: e.report_batch_item_failures,
                        enabled: e.enabled,
                        concurrency,
                        wait_time: Duration::from_secs(20),
                    };
                    mappings.push(EventSourceMapping::start(
                        sqs.clone(),
                        esm_config,
                        functions[&f.logical_id].clone(),
                    ));
                }
            }
        }
        let mut schedules = vec![];
        for (f, e) in template.schedules() {
            let schedule_config = ScheduleConfig {
                function: f.logical_id.clone(),
                event: e.name.clone(),
                kind: e.kind,
                expression: e.expression.clone(),
                enabled: e.enabled,
                input: e.input.clone(),
                resource_arn: schedule::resource_arn(
                    e.kind,
                    &stack.region,
                    &stack.account_id,
                    &stack.name,
                    &f.logical_id,
                    &e.name,
                    e.schedule_name.as_deref(),
                ),
                region: stack.region.clone(),
                account_id: stack.account_id.clone(),
                period: ScheduleConfig::effective_period(
                    &e.expression,
                    e.enabled,
                    config.schedule_period_override,
                ),
            };
            schedules.push(ScheduleTicker::start(
                schedule_config,
                functions[&f.logical_id].clone(),
            ));
        }
        Ok(LocalStack {
            stack,
            gateway,
            functions,
            binaries,
            mappings,
            schedules,
            routes,
            environments,
        })
    }

    /// The environment of a function as resolved from the template, plus the AWS endpoint,
    /// region and credentials it is given (what `cargo lambda watch --env-file` needs to run
    /// the function against this stack).
    pub fn function_environment(&self, logical_id: &str) -> Option<&BTreeMap<String, String>> {
        self.environments.get(logical_id)
    }

    /// Writes `<LogicalId>.env` (`KEY=VALUE` lines) for every function into `dir`.
    pub fn write_env_files(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut written = vec![];
        for (id, env) in &self.environments {
            let path = dir.join(format!("{id}.env"));
            let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }

    /// `http://127.0.0.1:<port>`
    pub fn gateway_url(&self) -> String {
        self.gateway.url()
    }

    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The function pool of a logical id (to invoke directly or read metrics).
    pub fn function(&self, logical_id: &str) -> Option<&FunctionPool> {
        self.functions.get(logical_id)
    }

    pub fn functions(&self) -> &BTreeMap<String, FunctionPool> {
        &self.functions
    }

    /// The SQS event-source mappings (with their stats).
    pub fn mappings(&self) -> &[EventSourceMapping] {
        &self.mappings
    }

    /// The `Schedule` / `ScheduleV2` tickers (with their stats), disabled ones included.
    pub fn schedules(&self) -> &[ScheduleTicker] {
        &self.schedules
    }

    /// (route key, function logical id) for every HTTP route.
    pub fn routes(&self) -> &[(String, String)] {
        &self.routes
    }

    /// A JSON description: gateway URL, routes, physical resources, secret values, PIDs.
    pub fn state(&self) -> Value {
        let functions: BTreeMap<&String, Value> = self
            .functions
            .iter()
            .map(|(id, pool)| {
                let physical = &self.stack.functions[id];
                (
                    id,
                    json!({
                        "name": physical.name,
                        "arn": physical.arn,
                        "executable": self.binaries[id],
                        "environment": self.environments[id],
                        "pids": pool.pids(),
                        "instances": pool.instances(),
                    }),
                )
            })
            .collect();
        let mappings: Vec<Value> = self
            .mappings
            .iter()
            .map(|m| {
                let c = m.config();
                json!({
                    "function": c.function,
                    "queue_url": c.queue_url,
                    "batch_size": c.batch_size,
                    "report_batch_item_failures": c.report_batch_item_failures,
                    "enabled": c.enabled,
                    "concurrency": c.concurrency,
                })
            })
            .collect();
        let schedules: Vec<Value> = self
            .schedules
            .iter()
            .map(|t| {
                let c = t.config();
                json!({
                    "function": c.function,
                    "event": c.event,
                    "type": c.kind.event_type(),
                    "expression": c.expression.to_string(),
                    "enabled": c.enabled,
                    "period_ms": c.period.map(|p| p.as_millis() as u64),
                    "not_run": c.idle_reason(),
                    "resource_arn": c.resource_arn,
                    "stats": t.stats(),
                })
            })
            .collect();
        json!({
            "pid": std::process::id(),
            "stack_name": self.stack.name,
            "region": self.stack.region,
            "account_id": self.stack.account_id,
            "gateway_url": self.gateway_url(),
            "routes": self.routes.iter().map(|(k, f)| json!({"route_key": k, "function": f})).collect::<Vec<_>>(),
            "tables": self.stack.tables,
            "queues": self.stack.queues,
            "secrets": self.stack.secrets,
            "functions": functions,
            "event_source_mappings": mappings,
            "schedules": schedules,
        })
    }

    /// Stops the schedules, the pollers (letting running batches finish, up to 5 s), the
    /// gateway, and kills every function process.
    pub async fn shutdown(mut self) {
        for s in std::mem::take(&mut self.schedules) {
            s.stop();
        }
        for m in std::mem::take(&mut self.mappings) {
            m.stop(Duration::from_secs(5)).await;
        }
        self.gateway.stop();
        for pool in self.functions.values() {
            pool.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_ids_are_stable_and_short() {
        let a = super::api_id("frontdesk-local");
        assert_eq!(a.len(), 10);
        assert_eq!(a, super::api_id("frontdesk-local"));
        assert_ne!(a, super::api_id("other"));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }
}
