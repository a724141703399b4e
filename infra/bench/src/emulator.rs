//! The Google emulator as a separate process (the `google-emulator` binary with `--seed`), so that its memory is
//! never counted in the executor's peak RSS, and its control API over HTTP.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use google_emulator::{Seed, Stats};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::sysinfo;

/// How long the emulator may take to load a seed and answer.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// The emulator's run-time knobs for one scenario family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmulatorSettings {
    pub latency_ms: u64,
    pub read_quota: Option<u32>,
    pub write_quota: Option<u32>,
    pub quota_window_ms: Option<u64>,
    pub rng_seed: u64,
}

/// A running emulator process; killed when dropped.
pub struct EmulatorProcess {
    child: Child,
    pid: Option<u32>,
    base_url: String,
    http: reqwest::Client,
}

/// The `google-emulator` binary next to this one (both are built by `make bench`).
pub fn binary_next_to_bench() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let dir = exe
        .parent()
        .context("the bench binary has no parent directory")?;
    let emulator = dir.join("google-emulator");
    if !emulator.is_file() {
        bail!(
            "{} is missing: build it with the bench (`make bench` runs `cargo build --release -p google-emulator -p bench`)",
            emulator.display()
        );
    }
    Ok(emulator)
}

impl EmulatorProcess {
    /// Writes `seed` to `work_dir`, starts the emulator on a free port with it, and waits until it answers.
    pub async fn start(
        binary: &Path,
        seed: &Seed,
        settings: &EmulatorSettings,
        work_dir: &Path,
        label: &str,
    ) -> Result<EmulatorProcess> {
        std::fs::create_dir_all(work_dir)
            .with_context(|| format!("creating {}", work_dir.display()))?;
        let seed_path = work_dir.join(format!("seed-{label}.json"));
        let text = serde_json::to_string(seed).context("encoding the seed")?;
        std::fs::write(&seed_path, text)
            .with_context(|| format!("writing {}", seed_path.display()))?;
        let log_path = work_dir.join(format!("emulator-{label}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let log_err = log.try_clone().context("duplicating the log handle")?;
        let port = local_stack::ports::reserve_for_child(0, "EMULATOR_PORT", "--emulator-port")?;

        let mut command = Command::new(binary);
        command
            .arg("--port")
            .arg(port.to_string())
            .arg("--seed")
            .arg(&seed_path)
            .arg("--latency-ms")
            .arg(settings.latency_ms.to_string())
            .arg("--rng-seed")
            .arg(settings.rng_seed.to_string());
        if let Some(read) = settings.read_quota {
            command.arg("--read-quota-per-minute").arg(read.to_string());
        }
        if let Some(write) = settings.write_quota {
            command
                .arg("--write-quota-per-minute")
                .arg(write.to_string());
        }
        if let Some(window) = settings.quota_window_ms {
            command.arg("--quota-window-ms").arg(window.to_string());
        }
        command
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id();
        let mut emulator = EmulatorProcess {
            child,
            pid,
            base_url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let started = Instant::now();
        loop {
            if let Ok(response) = emulator
                .http
                .get(format!("{}/emulator/health", emulator.base_url))
                .send()
                .await
                && response.status().is_success()
            {
                return Ok(emulator);
            }
            if let Some(status) = emulator.child.try_wait()? {
                bail!(
                    "the emulator exited during start-up ({status}); see {}",
                    log_path.display()
                );
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "the emulator did not answer within {START_TIMEOUT:?}; see {}",
                    log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn get_json(&self, path: &str) -> Result<Value> {
        let url = format!("{}{path}", self.base_url);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .with_context(|| format!("GET {url}: not JSON"))?;
        if !status.is_success() {
            bail!("GET {url}: {status} {body}");
        }
        Ok(body)
    }

    /// The service-account key JSON the emulator trusts.
    pub async fn key_json(&self) -> Result<String> {
        Ok(self
            .get_json("/emulator/service-account-key")
            .await?
            .to_string())
    }

    /// Every contact of a user, all fields.
    pub async fn contacts_of(&self, email: &str) -> Result<Vec<Value>> {
        let value = self
            .get_json(&format!("/emulator/users/{email}/contacts"))
            .await?;
        serde_json::from_value(value).context("contacts are not a list")
    }

    /// Every contact group of a user.
    pub async fn contact_groups_of(&self, email: &str) -> Result<Vec<Value>> {
        let value = self
            .get_json(&format!("/emulator/users/{email}/contact-groups"))
            .await?;
        serde_json::from_value(value).context("contact groups are not a list")
    }

    /// The emulator process's peak resident memory (kB), reported next to (never inside) the executor's.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        self.pid.and_then(sysinfo::peak_rss_kb_of)
    }

    /// Stops the process (it is ours: killed by its own handle) and waits for it.
    pub async fn stop(mut self) {
        if let Err(e) = self.child.kill().await {
            eprintln!("bench: stopping the emulator failed: {e}");
        }
    }
}

/// The emulator's control API as the child process uses it: reset and read the request counters.
pub struct ControlClient {
    base_url: String,
    http: reqwest::Client,
}

impl ControlClient {
    pub fn new(base_url: &str) -> Self {
        ControlClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends a control request without a body; an answer other than 2xx is an error naming the call.
    async fn send(&self, method: reqwest::Method, path: &str) -> Result<reqwest::Response> {
        let url = format!("{}{path}", self.base_url);
        let response = self
            .http
            .request(method.clone(), &url)
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        if !response.status().is_success() {
            bail!("{method} {url}: {}", response.status());
        }
        Ok(response)
    }

    pub async fn reset_stats(&self) -> Result<()> {
        self.send(reqwest::Method::POST, "/emulator/stats/reset")
            .await?;
        Ok(())
    }

    /// Forgets every contact of a user (`DELETE /emulator/users/{email}/contacts`); returns how many.
    pub async fn forget_contacts_of(&self, email: &str) -> Result<u64> {
        let path = format!("/emulator/users/{email}/contacts");
        let body: Value = self
            .send(reqwest::Method::DELETE, &path)
            .await?
            .json()
            .await
            .with_context(|| format!("DELETE {path}: not JSON"))?;
        Ok(body["forgotten"].as_u64().unwrap_or(0))
    }

    pub async fn stats(&self) -> Result<Stats> {
        self.send(reqwest::Method::GET, "/emulator/stats")
            .await?
            .json()
            .await
            .context("GET /emulator/stats: not the stats document")
    }
}
