//! Lambda Runtime API emulator: runs a function's real binary as child processes
//! ("instances") and hands them invocations one at a time, like Lambda does.
//!
//! Each instance gets its own Runtime API endpoint (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`)
//! serving `GET /2018-06-01/runtime/invocation/next`, `POST .../invocation/{id}/response`,
//! `POST .../invocation/{id}/error` and `POST /2018-06-01/runtime/init/error`.
//! Instances are spawned on demand up to [`FunctionConfig::max_instances`] and reused warm.
//! An invocation running past the function's timeout kills its instance (as Lambda does); a
//! crashed instance fails its invocation and is replaced on the next one.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};

/// Lambda's limit for the init phase of an instance.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of output kept per instance (shown when it crashes).
const TAIL_LINES: usize = 40;
/// Invocation records kept per function.
const MAX_RECORDS: usize = 10_000;

/// How to run one function.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// Logical id; prefixes the forwarded output (`[AdminApiFunction] ...`).
    pub logical_id: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    pub executable: PathBuf,
    /// Environment of the child (it inherits nothing else). The emulator adds the Lambda
    /// variables (`AWS_LAMBDA_FUNCTION_NAME`, `..._MEMORY_SIZE`, `..._VERSION`,
    /// `..._LOG_GROUP_NAME`, `..._LOG_STREAM_NAME`, `AWS_LAMBDA_RUNTIME_API`...).
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_size: u32,
    /// Maximum concurrent instances (default 4 in [`FunctionConfig::new`]).
    pub max_instances: usize,
    /// Time allowed from spawn to the first `next` on top of the timeout (default 10 s).
    pub init_timeout: Duration,
    /// Print the children's stdout/stderr with a `[logical id]` prefix.
    pub forward_output: bool,
}

impl FunctionConfig {
    pub fn new(logical_id: &str, executable: impl Into<PathBuf>) -> Self {
        FunctionConfig {
            logical_id: logical_id.to_string(),
            function_name: logical_id.to_string(),
            function_arn: format!(
                "arn:aws:lambda:us-east-1:{}:function:{logical_id}",
                crate::intrinsics::ACCOUNT_ID
            ),
            executable: executable.into(),
            env: BTreeMap::new(),
            timeout: Duration::from_secs(3),
            memory_size: 128,
            max_instances: 4,
            init_timeout: DEFAULT_INIT_TIMEOUT,
            forward_output: true,
        }
    }
}

/// Why an invocation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvokeError {
    /// The function reported an error (`POST /invocation/{id}/error`).
    #[error("function error {error_type}: {error_message}")]
    Function {
        error_type: String,
        error_message: String,
    },
    /// The invocation ran past the timeout; the instance was killed.
    #[error("Task timed out after {:.2} seconds", .0.as_secs_f64())]
    Timeout(Duration),
    /// The runtime process exited, or could not be started.
    #[error("Runtime exited: {0}")]
    Crashed(String),
    /// The runtime reported an init error (`POST /runtime/init/error`).
    #[error("init error {error_type}: {error_message}")]
    Init {
        error_type: String,
        error_message: String,
    },
    #[error("the function has been shut down")]
    Shutdown,
}

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Success,
    FunctionError,
    Timeout,
    Crash,
    InitError,
    Shutdown,
}

impl Outcome {
    fn of(r: &Result<Bytes, InvokeError>) -> Outcome {
        match r {
            Ok(_) => Outcome::Success,
            Err(InvokeError::Function { .. }) => Outcome::FunctionError,
            Err(InvokeError::Timeout(_)) => Outcome::Timeout,
            Err(InvokeError::Crashed(_)) => Outcome::Crash,
            Err(InvokeError::Init { .. }) => Outcome::InitError,
            Err(InvokeError::Shutdown) => Outcome::Shutdown,
        }
    }
}

/// One invocation, for metrics.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationRecord {
    pub request_id: String,
    pub instance: u64,
    /// First invocation of a freshly spawned instance.
    pub cold_start: bool,
    /// For cold starts: spawn → first `next` of the instance.
    #[serde(rename = "init_duration_ms", serialize_with = "opt_ms")]
    pub init_duration: Option<Duration>,
    /// Runtime picked the invocation up → result (or timeout / crash).
    #[serde(rename = "duration_ms", serialize_with = "ms")]
    pub duration: Duration,
    pub outcome: Outcome,
}

fn ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn opt_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ms(d, s),
        None => s.serialize_none(),
    }
}

/// One instance, for metrics.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceInfo {
    pub id: u64,
    pub pid: Option<u32>,
    pub runtime_api: String,
    pub alive: bool,
    /// Spawn → first `next`.
    #[serde(rename = "init_duration_ms", serialize_with = "opt_ms")]
    pub init_duration: Option<Duration>,
    pub invocations: u64,
}

/// The instances of one function. Cheap to clone; children are killed when the last clone
/// is dropped or on [`FunctionPool::shutdown`].
#[derive(Clone)]
pub struct FunctionPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    config: FunctionConfig,
    permits: Semaphore,
    idle: Mutex<Vec<Arc<Instance>>>,
    all: Mutex<Vec<Arc<Instance>>>,
    next_id: AtomicU64,
    records: Mutex<VecDeque<InvocationRecord>>,
    shut: AtomicBool,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        for inst in self.all.lock().unwrap().iter() {
            inst.kill("function pool dropped");
        }
    }
}

struct Instance {
    id: u64,
    pid: Option<u32>,
    runtime_api: String,
    spawned_at: Instant,
    timeout: Duration,
    function_arn: String,
    state: Mutex<InstState>,
    wake: Notify,
    exited: Notify,
    kill_tx: Mutex<Option<oneshot::Sender<()>>>,
}

#[derive(Default)]
struct InstState {
    pending: Option<Pending>,
    current: Option<Current>,
    dead: Option<String>,
    exited: bool,
    init_duration: Option<Duration>,
    invocations: u64,
    tail: VecDeque<String>,
}

struct Pending {
    request_id: String,
    payload: Bytes,
    started_tx: oneshot::Sender<Instant>,
    result_tx: oneshot::Sender<Result<Bytes, InvokeError>>,
}

struct Current {
    request_id: String,
    result_tx: oneshot::Sender<Result<Bytes, InvokeError>>,
}

impl Instance {
    fn is_dead(&self) -> bool {
        self.state.lock().unwrap().dead.is_some()
    }

    /// Kills the process (group). Safe to call repeatedly and from `Drop`.
    fn kill(&self, reason: &str) {
        let exited = {
            let mut st = self.state.lock().unwrap();
            if st.dead.is_none() {
                st.dead = Some(reason.to_string());
            }
            st.exited
        };
        if let Some(tx) = self.kill_tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
        if !exited && let Some(pid) = self.pid {
            kill_process_group(pid);
        }
        self.wake.notify_one();
    }
}

#[cfg(unix)]
fn kill_process_group(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: plain syscalls; the child leads its own process group (process_group(0)).
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_process_group(_pid: u32) {}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &a[..24],
        &b[..16]
    )
}

impl FunctionPool {
    pub fn new(config: FunctionConfig) -> FunctionPool {
        let max = config.max_instances.max(1);
        FunctionPool {
            inner: Arc::new(PoolInner {
                permits: Semaphore::new(max),
                config,
                idle: Mutex::new(vec![]),
                all: Mutex::new(vec![]),
                next_id: AtomicU64::new(1),
                records: Mutex::new(VecDeque::new()),
                shut: AtomicBool::new(false),
            }),
        }
    }

    pub fn config(&self) -> &FunctionConfig {
        &self.inner.config
    }

    /// Invokes the function with `payload` (the event JSON) and returns its response payload.
    /// Waits for a free instance when `max_instances` are busy. The invocation runs to its end
    /// even if the returned future is dropped (as on Lambda when the caller goes away).
    pub async fn invoke(&self, payload: impl Into<Bytes>) -> Result<Bytes, InvokeError> {
        let pool = self.clone();
        let payload = payload.into();
        tokio::spawn(async move { pool.invoke_inner(payload).await })
            .await
            .unwrap_or_else(|e| Err(InvokeError::Crashed(format!("invocation task failed: {e}"))))
    }

    async fn invoke_inner(&self, payload: Bytes) -> Result<Bytes, InvokeError> {
        let inner = &self.inner;
        if inner.shut.load(Ordering::SeqCst) {
            return Err(InvokeError::Shutdown);
        }
        let _permit = inner
            .permits
            .acquire()
            .await
            .map_err(|_| InvokeError::Shutdown)?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let warm = loop {
            let candidate = inner.idle.lock().unwrap().pop();
            match candidate {
                Some(inst) if inst.is_dead() => continue,
                other => break other,
            }
        };
        let (inst, cold) = match warm {
            Some(inst) => (inst, false),
            None => match self.spawn().await {
                Ok(inst) => (inst, true),
                Err(e) => {
                    self.record(&request_id, 0, true, None, Duration::ZERO, &Err(e.clone()));
                    return Err(e);
                }
            },
        };
        let (started_tx, started_rx) = oneshot::channel();
        let (result_tx, mut result_rx) = oneshot::channel();
        {
            let mut st = inst.state.lock().unwrap();
            if let Some(reason) = &st.dead {
                let e = Err(InvokeError::Crashed(reason.clone()));
                drop(st);
                self.record(&request_id, inst.id, cold, None, Duration::ZERO, &e);
                return e;
            }
            st.pending = Some(Pending {
                request_id: request_id.clone(),
                payload,
                started_tx,
                result_tx,
            });
        }
        inst.wake.notify_one();

        let timeout = inner.config.timeout;
        let pickup_limit = if cold {
            inner.config.init_timeout + timeout
        } else {
            timeout
        };
        let waited_from = Instant::now();
        let result = match tokio::time::timeout(pickup_limit, started_rx).await {
            Ok(Ok(started)) => {
                match tokio::time::timeout_at(
                    tokio::time::Instant::from_std(started + timeout),
                    &mut result_rx,
                )
                .await
                {
                    Ok(Ok(r)) => (r, started),
                    Ok(Err(_)) => (Err(InvokeError::Crashed("instance lost".into())), started),
                    Err(_) => {
                        inst.kill(&format!("invocation {request_id} timed out"));
                        (Err(InvokeError::Timeout(timeout)), started)
                    }
                }
            }
            // The instance died before picking the invocation up: the reason is in result_rx.
            Ok(Err(_)) => (
                result_rx
                    .await
                    .unwrap_or_else(|_| Err(InvokeError::Crashed("instance lost".into()))),
                Instant::now(),
            ),
            Err(_) => {
                inst.kill("the runtime did not request the invocation in time");
                (Err(InvokeError::Timeout(timeout)), waited_from)
            }
        };
        let (result, started) = result;
        let duration = started.elapsed();
        let init = if cold {
            inst.state.lock().unwrap().init_duration
        } else {
            None
        };
        self.record(&request_id, inst.id, cold, init, duration, &result);
        if !inst.is_dead() && !inner.shut.load(Ordering::SeqCst) {
            inner.idle.lock().unwrap().push(inst);
        }
        result
    }

    fn record(
        &self,
        request_id: &str,
        instance: u64,
        cold_start: bool,
        init_duration: Option<Duration>,
        duration: Duration,
        result: &Result<Bytes, InvokeError>,
    ) {
        let mut records = self.inner.records.lock().unwrap();
        if records.len() >= MAX_RECORDS {
            records.pop_front();
        }
        records.push_back(InvocationRecord {
            request_id: request_id.to_string(),
            instance,
            cold_start,
            init_duration,
            duration,
            outcome: Outcome::of(result),
        });
    }

    /// Every invocation so far (the last 10 000).
    pub fn invocations(&self) -> Vec<InvocationRecord> {
        self.inner.records.lock().unwrap().iter().cloned().collect()
    }

    /// Every instance spawned so far, alive or not.
    pub fn instances(&self) -> Vec<InstanceInfo> {
        self.inner
            .all
            .lock()
            .unwrap()
            .iter()
            .map(|i| {
                let st = i.state.lock().unwrap();
                InstanceInfo {
                    id: i.id,
                    pid: i.pid,
                    runtime_api: i.runtime_api.clone(),
                    alive: !st.exited,
                    init_duration: st.init_duration,
                    invocations: st.invocations,
                }
            })
            .collect()
    }

    /// PIDs of the live instances.
    pub fn pids(&self) -> Vec<u32> {
        self.instances()
            .into_iter()
            .filter(|i| i.alive)
            .filter_map(|i| i.pid)
            .collect()
    }

    /// The last output lines (stdout and stderr, at most 40) of the newest instance.
    pub fn latest_output(&self) -> Vec<String> {
        self.inner
            .all
            .lock()
            .unwrap()
            .last()
            .map(|i| i.state.lock().unwrap().tail.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Kills the idle instances (as Lambda does when it recycles execution environments): the
    /// next invocation starts a fresh instance, with its init measured. The pool stays open.
    pub fn recycle_idle(&self) {
        let idle: Vec<Arc<Instance>> = std::mem::take(&mut *self.inner.idle.lock().unwrap());
        for inst in idle {
            inst.kill("recycled");
        }
    }

    /// Kills every instance without waiting. Later invocations fail with
    /// [`InvokeError::Shutdown`].
    pub fn kill_all(&self) {
        self.inner.shut.store(true, Ordering::SeqCst);
        self.inner.permits.close();
        for inst in self.inner.all.lock().unwrap().iter() {
            inst.kill("shutdown");
        }
    }

    /// Kills every instance and waits (up to 5 s) for them to exit. Later invocations fail
    /// with [`InvokeError::Shutdown`].
    pub async fn shutdown(&self) {
        self.kill_all();
        let all: Vec<Arc<Instance>> = self.inner.all.lock().unwrap().clone();
        let wait_all = async {
            for inst in &all {
                loop {
                    let notified = inst.exited.notified();
                    if inst.state.lock().unwrap().exited {
                        break;
                    }
                    notified.await;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), wait_all).await;
    }

    async fn spawn(&self) -> Result<Arc<Instance>, InvokeError> {
        let config = &self.inner.config;
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| InvokeError::Crashed(format!("cannot bind a runtime API port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| InvokeError::Crashed(format!("runtime API port: {e}")))?;
        let runtime_api = addr.to_string();

        let mut cmd = tokio::process::Command::new(&config.executable);
        cmd.env_clear();
        let date = chrono::Utc::now().format("%Y/%m/%d");
        let stream = format!("{date}/[$LATEST]{}", uuid::Uuid::new_v4().simple());
        let standard = [
            ("AWS_LAMBDA_FUNCTION_NAME", config.function_name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                config.memory_size.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", config.function_name),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
            ("_HANDLER", "bootstrap".to_string()),
        ];
        cmd.envs(standard);
        if let Some(dir) = config.executable.parent() {
            cmd.env("LAMBDA_TASK_ROOT", dir);
        }
        cmd.envs(&config.env);
        cmd.env("AWS_LAMBDA_LOG_STREAM_NAME", stream);
        cmd.env("AWS_LAMBDA_RUNTIME_API", &runtime_api);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: getpid is async-signal-safe.
            let parent = unsafe { libc::getpid() };
            // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    // Die with the thread that spawned us, even if we are SIGKILLed.
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if libc::getppid() != parent {
                        libc::_exit(1);
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().map_err(|e| {
            InvokeError::Crashed(format!("cannot start {}: {e}", config.executable.display()))
        })?;
        let (kill_tx, kill_rx) = oneshot::channel();
        let inst = Arc::new(Instance {
            id,
            pid: child.id(),
            runtime_api,
            spawned_at: Instant::now(),
            timeout: config.timeout,
            function_arn: config.function_arn.clone(),
            state: Mutex::new(InstState::default()),
            wake: Notify::new(),
            exited: Notify::new(),
            kill_tx: Mutex::new(Some(kill_tx)),
        });
        let prefix = config.logical_id.clone();
        let forward = config.forward_output;
        let mut outputs = vec![];
        if let Some(out) = child.stdout.take() {
            outputs.push(tokio::spawn(forward_lines(
                out,
                prefix.clone(),
                inst.clone(),
                false,
                forward,
            )));
        }
        if let Some(err) = child.stderr.take() {
            outputs.push(tokio::spawn(forward_lines(
                err,
                prefix.clone(),
                inst.clone(),
                true,
                forward,
            )));
        }
        let server = tokio::spawn(serve_runtime_api(listener, inst.clone()));
        tokio::spawn(monitor(
            child,
            kill_rx,
            inst.clone(),
            server,
            outputs,
            prefix,
        ));
        self.inner.all.lock().unwrap().push(inst.clone());
        if self.inner.shut.load(Ordering::SeqCst) {
            inst.kill("shutdown");
            return Err(InvokeError::Shutdown);
        }
        Ok(inst)
    }
}

async fn monitor(
    mut child: tokio::process::Child,
    kill_rx: oneshot::Receiver<()>,
    inst: Arc<Instance>,
    server: JoinHandle<()>,
    outputs: Vec<JoinHandle<()>>,
    prefix: String,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        _ = kill_rx => {
            if let Some(pid) = inst.pid {
                kill_process_group(pid);
            }
            let _ = child.start_kill();
            child.wait().await
        }
    };
    {
        let mut st = inst.state.lock().unwrap();
        st.exited = true;
    }
    server.abort();
    // Let the output readers drain what the process wrote last (they end on EOF).
    for o in outputs {
        let _ = tokio::time::timeout(Duration::from_millis(500), o).await;
    }
    let status = match status {
        Ok(s) => s.to_string(),
        Err(e) => format!("wait failed: {e}"),
    };
    let mut st = inst.state.lock().unwrap();
    let reason = match &st.dead {
        Some(r) => format!("{r} ({status})"),
        None => format!("{status}\nRuntime.ExitError"),
    };
    if st.dead.is_none() {
        tracing::warn!(function = %prefix, instance = inst.id, "runtime exited: {status}");
        st.dead = Some(reason.clone());
    }
    let tail: Vec<String> = st.tail.iter().cloned().collect();
    let detail = if tail.is_empty() {
        reason
    } else {
        format!("{reason}\nlast output:\n{}", tail.join("\n"))
    };
    if let Some(p) = st.pending.take() {
        let _ = p.result_tx.send(Err(InvokeError::Crashed(detail.clone())));
    }
    if let Some(c) = st.current.take() {
        let _ = c.result_tx.send(Err(InvokeError::Crashed(detail)));
    }
    drop(st);
    inst.exited.notify_waiters();
    inst.wake.notify_one();
}

async fn forward_lines(
    reader: impl AsyncRead + Unpin,
    prefix: String,
    inst: Arc<Instance>,
    to_stderr: bool,
    forward: bool,
) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        {
            let mut st = inst.state.lock().unwrap();
            if st.tail.len() >= TAIL_LINES {
                st.tail.pop_front();
            }
            st.tail.push_back(line.to_string());
        }
        if forward {
            if to_stderr {
                eprintln!("[{prefix}] {line}");
            } else {
                println!("[{prefix}] {line}");
            }
        }
    }
}

async fn serve_runtime_api(listener: TcpListener, inst: Arc<Instance>) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let inst = inst.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let inst = inst.clone();
                async move { Ok::<_, Infallible>(handle_runtime_api(&inst, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

fn accepted() -> Response<Full<Bytes>> {
    json_response(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
}

async fn handle_runtime_api(inst: &Arc<Instance>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let rest = path.strip_prefix("/2018-06-01/runtime/");
    match (method, rest) {
        (Method::GET, Some("invocation/next")) => next_invocation(inst).await,
        (Method::POST, Some("init/error")) => {
            let error_type = header(&req, "lambda-runtime-function-error-type");
            let body = read_body(req).await;
            let (error_type, error_message) = parse_error(&body, error_type);
            let pending = {
                let mut st = inst.state.lock().unwrap();
                st.dead = Some(format!("init error {error_type}: {error_message}"));
                st.pending.take()
            };
            if let Some(p) = pending {
                let _ = p.result_tx.send(Err(InvokeError::Init {
                    error_type,
                    error_message,
                }));
            }
            inst.kill("init error");
            accepted()
        }
        (Method::POST, Some(rest)) if rest.starts_with("invocation/") => {
            let rest = &rest["invocation/".len()..];
            let (id, kind) = match rest.rsplit_once('/') {
                Some((id, kind @ ("response" | "error"))) => (id.to_string(), kind),
                _ => return not_found(),
            };
            let error_type = header(&req, "lambda-runtime-function-error-type");
            let body = read_body(req).await;
            let current = {
                let mut st = inst.state.lock().unwrap();
                st.current.take_if(|c| c.request_id == id)
            };
            let Some(current) = current else {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"}),
                );
            };
            let result = if kind == "response" {
                Ok(body)
            } else {
                let (error_type, error_message) = parse_error(&body, error_type);
                Err(InvokeError::Function {
                    error_type,
                    error_message,
                })
            };
            let _ = current.result_tx.send(result);
            accepted()
        }
        _ => not_found(),
    }
}

fn not_found() -> Response<Full<Bytes>> {
    json_response(
        StatusCode::NOT_FOUND,
        serde_json::json!({"errorType": "NotFound", "errorMessage": "unknown Runtime API path"}),
    )
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn read_body(req: Request<Incoming>) -> Bytes {
    match req.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

fn parse_error(body: &[u8], header_type: Option<String>) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let error_type = v
        .get("errorType")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .or(header_type)
        .unwrap_or_else(|| "Unhandled".into());
    let error_message = v
        .get("errorMessage")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    (error_type, error_message)
}

async fn next_invocation(inst: &Arc<Instance>) -> Response<Full<Bytes>> {
    {
        let mut st = inst.state.lock().unwrap();
        if st.init_duration.is_none() {
            st.init_duration = Some(inst.spawned_at.elapsed());
        }
    }
    loop {
        let notified = inst.wake.notified();
        {
            let mut st = inst.state.lock().unwrap();
            if st.dead.is_some() {
                return json_response(
                    StatusCode::GONE,
                    serde_json::json!({"errorType": "InstanceStopped", "errorMessage": "instance stopped"}),
                );
            }
            if let Some(p) = st.pending.take() {
                let deadline = epoch_ms() + inst.timeout.as_millis();
                st.invocations += 1;
                st.current = Some(Current {
                    request_id: p.request_id.clone(),
                    result_tx: p.result_tx,
                });
                let _ = p.started_tx.send(Instant::now());
                return Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .header("lambda-runtime-aws-request-id", &p.request_id)
                    .header("lambda-runtime-deadline-ms", deadline.to_string())
                    .header("lambda-runtime-invoked-function-arn", &inst.function_arn)
                    .header("lambda-runtime-trace-id", trace_id())
                    .body(Full::new(p.payload))
                    .expect("valid response");
            }
        }
        notified.await;
    }
}
