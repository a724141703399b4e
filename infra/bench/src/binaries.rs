//! Each Lambda binary's size and start-up time: process start to the first event answered, under the Lambda
//! Runtime API harness of the tests crate (the binary long-polls `/invocation/next` exactly as in Lambda).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use contact_sync_tests::runtime_api::{FunctionProcess, Outcome, RuntimeApi};
use http::{HeaderMap, HeaderValue, Method};
use local_stack::event::{Caller, IncomingRequest, api_gateway_v2_event};
use local_stack::template::{Route, load_routes};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How long one function may take to answer its first event.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// One function's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BinaryFigures {
    pub name: String,
    /// `target/lambda/<name>/bootstrap` (arm64, `make build`), if present.
    pub arm64_bytes: Option<u64>,
    /// `target/release/<name>` (x86_64, this machine), if present.
    pub x86_64_bytes: Option<u64>,
    /// Start-up times of the x86_64 release binary, one per repetition.
    pub startup_ms: Vec<u64>,
    /// What the first event got back (status or outcome kind), for the reader.
    pub answered: String,
}

impl BinaryFigures {
    pub fn median_startup_ms(&self) -> Option<u64> {
        let mut sorted = self.startup_ms.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied()
    }
}

/// Where the function binaries are and what they need to start.
pub struct StartupEnv {
    pub workspace: PathBuf,
    /// The functions' configuration: table, secret, admin, Google base URLs, moto endpoint and credentials.
    pub env: BTreeMap<String, String>,
    pub repetitions: usize,
}

/// The function crates under functions/.
pub fn function_names(workspace: &Path) -> Result<Vec<String>> {
    let dir = workspace.join("functions");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        if entry.path().join("Cargo.toml").is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn size_of(path: &Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// A first event for `name`: an API Gateway v2 request on the function's first template route (path parameters
/// naming things that do not exist, so the answer is quick and touches no data), the executor's event for a sync
/// that does not exist, or an EventBridge scheduled event for the scheduler.
fn first_event(name: &str, routes: &[Route]) -> Result<serde_json::Value> {
    match name {
        "executor" => {
            return Ok(json!({"sync_id": "01BENCH0000000000000000000", "trigger": "manual"}));
        }
        "scheduler" => return Ok(local_stack::gateway::scheduled_event()),
        _ => {}
    }
    let Some(route) = routes.iter().find(|r| r.binary == name) else {
        bail!("template.yaml has no route for the function {name}");
    };
    let mut params = BTreeMap::new();
    let mut path = route.path.clone();
    for param in route.path_parameter_names() {
        let value = match param.as_str() {
            "user" => "nobody@example.com".to_owned(),
            _ => "01BENCH0000000000000000000".to_owned(),
        };
        path = path.replace(&format!("{{{param}}}"), &urlencode(&value));
        params.insert(param, value);
    }
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("bench.local"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let body: &[u8] = match route.method.as_str() {
        "POST" | "PATCH" => b"{}",
        _ => b"",
    };
    let method =
        Method::from_bytes(route.method.as_str().as_bytes()).context("the route's method")?;
    let query = if name == "search-directory" {
        "q=nobody"
    } else {
        ""
    };
    let request = IncomingRequest {
        route,
        method: &method,
        raw_path: &path,
        raw_query: query,
        headers: &headers,
        body,
        path_parameters: &params,
        source_ip: "127.0.0.1".to_owned(),
        request_id: ulid::Ulid::generate().to_string(),
    };
    Ok(api_gateway_v2_event(&request, &Caller::default()))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Response { body, .. } => serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("statusCode")
                    .map(|s| format!("HTTP {s}"))
                    .or_else(|| v.get("outcome").map(|o| format!("outcome {o}")))
                    .or_else(|| Some("answered".to_owned()))
            })
            .unwrap_or_else(|| "answered".to_owned()),
        other => other.describe(),
    }
}

/// Starts the binary under a fresh Runtime API, queues its first event, and times start to answer.
async fn time_startup(
    binary: &Path,
    name: &str,
    event: &serde_json::Value,
    env: &BTreeMap<String, String>,
) -> Result<(Duration, String)> {
    let api = RuntimeApi::start(name).await?;
    api.invoke(event.clone())?;
    let started = Instant::now();
    let process = FunctionProcess::spawn(binary, &api, name, env)?;
    let outcome = api.next_outcome(ANSWER_TIMEOUT).await;
    let elapsed = started.elapsed();
    let output = process.finish(Duration::from_millis(1)).await?;
    match outcome {
        Some(outcome @ Outcome::Response { .. }) => Ok((elapsed, describe(&outcome))),
        Some(other) => bail!(
            "{name} did not answer its first event: {}\n{}",
            other.describe(),
            output.stderr
        ),
        None => bail!(
            "{name} did not answer within {ANSWER_TIMEOUT:?}\n{}",
            output.stderr
        ),
    }
}

/// Sizes of every function binary, and start-up times of those built for this machine.
pub async fn measure(setup: &StartupEnv) -> Result<Vec<BinaryFigures>> {
    let routes = load_routes(&setup.workspace.join("template.yaml"))?;
    let mut figures = Vec::new();
    for name in function_names(&setup.workspace)? {
        let arm64 = size_of(
            &setup
                .workspace
                .join("target/lambda")
                .join(&name)
                .join("bootstrap"),
        );
        let native = setup.workspace.join("target/release").join(&name);
        let x86_64 = size_of(&native);
        let mut startup_ms = Vec::new();
        let mut answered = "not built".to_owned();
        if x86_64.is_some() {
            let event = first_event(&name, &routes)?;
            for _ in 0..setup.repetitions.max(1) {
                let (elapsed, what) = time_startup(&native, &name, &event, &setup.env).await?;
                startup_ms.push(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
                answered = what;
            }
        }
        eprintln!(
            "bench: {name}: arm64 {arm64:?} B, x86_64 {x86_64:?} B, start-up {startup_ms:?} ms ({answered})"
        );
        figures.push(BinaryFigures {
            name,
            arm64_bytes: arm64,
            x86_64_bytes: x86_64,
            startup_ms,
            answered,
        });
    }
    Ok(figures)
}
