//! The moto server (DynamoDB and Secrets Manager stand-in) as a child process: started from the repo-local
//! virtualenv through `infra/scripts/moto_server.py` (moto with each DynamoDB request atomic, as DynamoDB applies
//! it), waited for until it answers, and stopped by its PID.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::ports::{self, PortError};

/// The launcher: moto's own server with DynamoDB requests serialised, so conditional writes behave as in DynamoDB.
/// Passed to the virtualenv's Python with `-c`, so the binary works from any directory.
const LAUNCHER: &str = include_str!("../../scripts/moto_server.py");

/// How long moto may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error(
        "{path} does not exist: create the virtualenv first with `make venv` (infra/scripts/venv.sh)"
    )]
    NotInstalled { path: PathBuf },
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("cannot start {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("moto exited during start-up ({status}); its log is {log}")]
    Exited { status: String, log: PathBuf },
    #[error("moto did not answer on {url} within {timeout:?}; its log is {log}")]
    Timeout {
        url: String,
        timeout: Duration,
        log: PathBuf,
    },
}

/// A running moto server started by us.
#[derive(Debug)]
pub struct MotoProcess {
    child: Child,
    pid: Option<u32>,
    url: String,
    log: PathBuf,
}

impl MotoProcess {
    /// Starts moto (the launcher, under `<venv>/bin/python`) on 127.0.0.1:`port` (0 = a free port), logging to
    /// `log_dir`, and waits until it answers.
    pub async fn start(venv: &Path, port: u16, log_dir: &Path) -> Result<Self, MotoError> {
        let installed = venv.join("bin/moto_server");
        if !installed.exists() {
            return Err(MotoError::NotInstalled { path: installed });
        }
        let program = venv.join("bin/python");
        let port = ports::reserve_for_child(port, "MOTO_PORT", "--moto-port")?;
        let _ = std::fs::create_dir_all(log_dir);
        let log = log_dir.join(format!("moto-{port}.log"));
        let stdout = std::fs::File::create(&log).map_err(|source| MotoError::Spawn {
            path: log.clone(),
            source,
        })?;
        let stderr = stdout.try_clone().map_err(|source| MotoError::Spawn {
            path: log.clone(),
            source,
        })?;
        let child = Command::new(&program)
            .args(["-c", LAUNCHER, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // Not in the terminal's process group: Ctrl-C reaches us, and we stop moto ourselves.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| MotoError::Spawn {
                path: program.clone(),
                source,
            })?;
        let pid = child.id();
        let mut moto = MotoProcess {
            child,
            pid,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        if let Err(err) = moto.wait_until_ready().await {
            moto.stop().await;
            return Err(err);
        }
        tracing::info!(url = %moto.url, pid = ?moto.pid, "moto is up");
        Ok(moto)
    }

    async fn wait_until_ready(&mut self) -> Result<(), MotoError> {
        let client = reqwest::Client::new();
        let probe = format!("{}/moto-api/", self.url);
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(MotoError::Exited {
                    status: status.to_string(),
                    log: self.log.clone(),
                });
            }
            let answered = client
                .get(&probe)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(MotoError::Timeout {
                    url: self.url.clone(),
                    timeout: START_TIMEOUT,
                    log: self.log.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Kills moto (by its PID) and reaps it.
    pub async fn stop(&mut self) {
        if let Err(err) = self.child.kill().await {
            tracing::warn!(pid = ?self.pid, error = %err, "stopping moto failed");
        } else {
            tracing::info!(pid = ?self.pid, "moto stopped");
        }
    }
}
