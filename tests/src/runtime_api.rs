//! A minimal AWS Lambda Runtime API (the `2018-06-01` interface custom runtimes poll), so the real function
//! binaries can run as processes exactly as Lambda runs them: `AWS_LAMBDA_RUNTIME_API` points at this server, the
//! binary long-polls `/invocation/next`, and posts a response, an invocation error or an initialisation error.
//!
//! Also here: building the function binaries and starting one as a process with a Lambda-like environment.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Mutex, mpsc};

const PREFIX: &str = "/2018-06-01/runtime";
/// The account the fake invoked-function ARNs name.
pub const ACCOUNT_ID: &str = "123456789012";

/// One event handed to the function.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub payload: serde_json::Value,
    /// How long the function has (the `Lambda-Runtime-Deadline-Ms` header is now + this).
    pub time_limit: Duration,
}

/// What the function reported back.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`.
    Response { request_id: String, body: Bytes },
    /// `POST /invocation/{id}/error`.
    Error {
        request_id: String,
        error_type: Option<String>,
        body: Bytes,
    },
    /// `POST /init/error`: the runtime could not start.
    InitError {
        error_type: Option<String>,
        body: Bytes,
    },
}

impl Outcome {
    /// The response body as JSON, or an error describing what came back instead.
    pub fn response_json(&self) -> Result<serde_json::Value> {
        match self {
            Outcome::Response { body, .. } => {
                serde_json::from_slice(body).context("the function's response is not JSON")
            }
            other => bail!("expected a response, got {}", other.describe()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Response { body, .. } => {
                format!("response {}", String::from_utf8_lossy(body))
            }
            Outcome::Error {
                error_type, body, ..
            } => format!(
                "invocation error {:?}: {}",
                error_type,
                String::from_utf8_lossy(body)
            ),
            Outcome::InitError { error_type, body } => format!(
                "init error {:?}: {}",
                error_type,
                String::from_utf8_lossy(body)
            ),
        }
    }
}

struct Shared {
    function_arn: String,
    events: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    polls: AtomicUsize,
}

/// The Runtime API server, on a free loopback port; stops when dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<Invocation>,
    outcomes: Mutex<mpsc::UnboundedReceiver<Outcome>>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts a server for the function named `function_name` (used in the invoked-function ARN).
    pub async fn start(function_name: &str) -> Result<Self> {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{function_name}"),
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
            polls: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{request_id}}/response"),
                post(response),
            )
            .route(
                &format!("{PREFIX}/invocation/{{request_id}}/error"),
                post(invocation_error),
            )
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the Runtime API listener")?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("runtime api server stopped: {err}");
            }
        });
        Ok(RuntimeApi {
            address,
            shared,
            events: events_tx,
            outcomes: Mutex::new(outcomes_rx),
            server,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`host:port`).
    pub fn endpoint(&self) -> String {
        self.address.to_string()
    }

    /// Queues one event for the next `/invocation/next` poll; returns its request id.
    pub fn invoke(&self, payload: serde_json::Value) -> Result<String> {
        let request_id = ulid::Ulid::generate().to_string().to_lowercase();
        self.events
            .send(Invocation {
                request_id: request_id.clone(),
                payload,
                time_limit: Duration::from_secs(120),
            })
            .map_err(|_| anyhow!("the runtime api server is gone"))?;
        Ok(request_id)
    }

    /// The next thing the function reported, if it reports within `timeout`.
    pub async fn next_outcome(&self, timeout: Duration) -> Option<Outcome> {
        let mut outcomes = self.outcomes.lock().await;
        tokio::time::timeout(timeout, outcomes.recv())
            .await
            .ok()
            .flatten()
    }

    /// How many times the function has polled `/invocation/next` (it polls once it has initialised).
    pub fn polls(&self) -> usize {
        self.shared.polls.load(Ordering::SeqCst)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.polls.fetch_add(1, Ordering::SeqCst);
    // Long poll, like Lambda: the function waits here until there is an event (or forever).
    let invocation = {
        let mut events = shared.events.lock().await;
        events.recv().await
    };
    let Some(invocation) = invocation else {
        return StatusCode::GONE.into_response();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let deadline_ms = (now + invocation.time_limit).as_millis();
    let trace_id = format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        now.as_secs(),
        &hex_id(&invocation.request_id, 24),
        &hex_id(&invocation.request_id, 16)
    );
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", invocation.request_id);
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set("lambda-runtime-trace-id", trace_id);
    set("content-type", "application/json".to_owned());
    (headers, invocation.payload.to_string()).into_response()
}

/// A deterministic hex string of `len` digits derived from the request id (for the trace header).
fn hex_id(seed: &str, len: usize) -> String {
    let mut out = String::new();
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    while out.len() < len {
        for b in seed.bytes() {
            state = (state ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{state:016x}"));
    }
    out.truncate(len);
    out
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(request_id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    // The receiver lives as long as the RuntimeApi; a send failure only means the test is over.
    drop(shared.outcomes.send(Outcome::Response { request_id, body }));
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    UrlPath(request_id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    drop(shared.outcomes.send(Outcome::Error {
        request_id,
        error_type: error_type(&headers),
        body,
    }));
    StatusCode::ACCEPTED
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    drop(shared.outcomes.send(Outcome::InitError {
        error_type: error_type(&headers),
        body,
    }));
    StatusCode::ACCEPTED
}

// ---- the binaries ---------------------------------------------------------------------------------------------

/// Builds the given function crates' binaries (debug) with the cargo running the tests, and returns each binary's
/// path by name. Cargo's own up-to-date checks make repeated calls cheap.
pub fn build_binaries(workspace: &Path, crates: &[String]) -> Result<BTreeMap<String, PathBuf>> {
    if crates.is_empty() {
        return Ok(BTreeMap::new());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = std::process::Command::new(cargo);
    command.current_dir(workspace).args([
        "build",
        "--bins",
        "--message-format=json-render-diagnostics",
    ]);
    for name in crates {
        command.args(["--package", name]);
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    if !output.status.success() {
        bail!("cargo build of {crates:?} failed ({})", output.status);
    }
    let mut binaries = BTreeMap::new();
    for line in output.stdout.split(|b| *b == b'\n') {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let (Some(name), Some(executable)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) else {
            continue;
        };
        if crates.iter().any(|c| c == name) {
            binaries.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    for name in crates {
        if !binaries.contains_key(name) {
            bail!("cargo build produced no binary named {name}");
        }
    }
    Ok(binaries)
}

/// A function binary running as a process under a [`RuntimeApi`]; killed when dropped.
pub struct FunctionProcess {
    child: tokio::process::Child,
    stdout: tokio::task::JoinHandle<String>,
    stderr: tokio::task::JoinHandle<String>,
}

/// What a finished (or killed) function process wrote.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    /// `None` when the process was still running and had to be killed.
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

fn drain<R>(pipe: Option<R>) -> tokio::task::JoinHandle<String>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut text = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error only truncates the captured log.
            drop(tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut text).await);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

impl FunctionProcess {
    /// Starts `binary` with a clean environment: the Lambda runtime variables (pointing at `api`) plus `env`
    /// (the function's configuration, AWS region and credentials, and so on). Nothing is inherited.
    pub fn spawn(
        binary: &Path,
        api: &RuntimeApi,
        function_name: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let mut command = tokio::process::Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.endpoint())
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]test")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("_HANDLER", "bootstrap")
            .env(
                "LAMBDA_TASK_ROOT",
                binary.parent().unwrap_or(Path::new("/")),
            )
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        Ok(FunctionProcess {
            child,
            stdout,
            stderr,
        })
    }

    /// The exit status if the process has exited, without waiting.
    pub fn try_exit_status(&mut self) -> Result<Option<std::process::ExitStatus>> {
        self.child
            .try_wait()
            .context("checking the function process")
    }

    /// Waits up to `timeout` for the process to exit on its own, killing it otherwise; returns what it wrote.
    pub async fn finish(mut self, timeout: Duration) -> Result<ProcessOutput> {
        let status = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => Some(status.context("waiting for the function process")?),
            Err(_) => {
                self.child.kill().await.context("killing the function")?;
                None
            }
        };
        Ok(ProcessOutput {
            status,
            stdout: self.stdout.await.unwrap_or_default(),
            stderr: self.stderr.await.unwrap_or_default(),
        })
    }
}
