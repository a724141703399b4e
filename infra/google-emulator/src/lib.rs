//! A local stand-in for Google: the OAuth2 token endpoint (service account with domain-wide delegation),
//! the People API v1 and the Admin SDK Directory API v1 subsets contact sync uses, in Google's paths,
//! field names, limits and error bodies (checked against Google's discovery documents), plus a control
//! API for seeding, faults, latency, quotas and request counters.
//!
//! Tests start it in-process with [`start`]; the `google-emulator` binary and the local stack use
//! [`serve`].

mod api;
mod auth;
mod demo_seed;
mod directory;
pub mod discovery;
mod error;
mod fields;
mod ids;
mod people;
mod person;
mod query;
mod routes;
mod seed;
mod server;
mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use demo_seed::demo_seed;
pub use routes::ROUTES;
pub use seed::{DEFAULT_DELEGATION_SCOPES, Seed, SeedContactGroup, SeedError, SeedGroup, SeedUser};

use server::{Config, Shared};
use world::World;

/// The discovery method id of the Google API route serving `http_method` on `path` (the path part of a
/// URL, still percent-encoded), e.g. `("GET", "/v1/people/me/connections")` ->
/// `people.people.connections.list`. None for paths the emulator does not serve.
pub fn method_id_for(http_method: &str, path: &str) -> Option<&'static str> {
    routes::match_route(http_method, path)
        .ok()
        .map(|m| m.method_id)
}

/// How an emulator starts.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// The seed document; `None` loads [`demo_seed`].
    pub seed: Option<Seed>,
    /// Sleep before answering every Google API call.
    pub latency_ms: u64,
    /// Share (0..1) of Google API calls answered 503.
    pub fault_rate: f64,
    /// People API read calls allowed per user per quota window (None = unlimited).
    pub read_quota_per_minute: Option<u32>,
    /// People API write calls allowed per user per quota window (None = unlimited).
    pub write_quota_per_minute: Option<u32>,
    /// Length of a quota window (default 60000 ms; shorter in tests).
    pub quota_window_ms: u64,
    /// Makes injected faults (and the generated key) reproducible.
    pub rng_seed: Option<u64>,
    /// Google's per-user contact limit (default 25,000).
    pub max_contacts_per_user: usize,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            seed: None,
            latency_ms: 0,
            fault_rate: 0.0,
            read_quota_per_minute: None,
            write_quota_per_minute: None,
            quota_window_ms: 60_000,
            rng_seed: None,
            max_contacts_per_user: 25_000,
        }
    }
}

/// A change of the run-time knobs; absent fields stay as they are (`POST /emulator/config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_rate: Option<f64>,
    /// `Some(None)` (JSON `null`) removes the limit.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub read_quota_per_minute: Option<Option<u32>>,
    /// `Some(None)` (JSON `null`) removes the limit.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub write_quota_per_minute: Option<Option<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_window_ms: Option<u64>,
    /// User email -> HTTP status answered (with a Google error body) to every People call as that user.
    /// Replaces the whole map; `{}` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_faults: Option<BTreeMap<String, u16>>,
    /// Lifetime of access tokens issued from now on (default 3599).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_contacts_per_user: Option<usize>,
    /// `true`: every sync token issued so far becomes expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_sync_tokens: Option<bool>,
    /// Re-seeds the fault generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rng_seed: Option<u64>,
}

/// Tells a JSON `null` (Some(None)) from an absent field (None).
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

impl ConfigUpdate {
    /// Refuses values the emulator cannot honour (the HTTP control API answers 400).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(r) = self.fault_rate
            && !(0.0..=1.0).contains(&r)
        {
            return Err(format!("fault_rate must be within 0..1, got {r}"));
        }
        if self.quota_window_ms == Some(0) {
            return Err("quota_window_ms must be at least 1".into());
        }
        if let Some(faults) = &self.user_faults {
            for (email, code) in faults {
                if !(400..=599).contains(code) {
                    return Err(format!(
                        "user_faults: {email}: {code} is not an HTTP error status (400..599)"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Request counters (`GET /emulator/stats`). API calls made with a valid token are counted whatever
/// their outcome; the token endpoint and the control API are not API calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Calls per discovery method id (`people.people.batchCreateContacts`, `directory.users.list`).
    pub by_method: BTreeMap<String, u64>,
    /// Calls per token subject (current primary email), per method id.
    pub by_user: BTreeMap<String, BTreeMap<String, u64>>,
    /// GET calls.
    pub reads: u64,
    /// Mutating calls.
    pub writes: u64,
    /// 429 answers served.
    pub rate_limited: u64,
    /// 503 answers served.
    pub faults: u64,
    /// Access tokens issued by the token endpoint.
    pub tokens_issued: u64,
}

impl Stats {
    fn record(&mut self, method_id: &str, email: &str, mutating: bool) {
        *self.by_method.entry(method_id.to_string()).or_default() += 1;
        *self
            .by_user
            .entry(email.to_string())
            .or_default()
            .entry(method_id.to_string())
            .or_default() += 1;
        if mutating {
            self.writes += 1;
        } else {
            self.reads += 1;
        }
    }
}

/// A running emulator. Dropping it stops the server too; [`RunningEmulator::shutdown`] waits for that.
pub struct RunningEmulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Binds 127.0.0.1 on an ephemeral port and serves.
pub async fn start(opts: EmulatorOptions) -> anyhow::Result<RunningEmulator> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding 127.0.0.1:0")?;
    serve(opts, listener).await
}

/// Serves on an already bound listener (the binary and the local stack choose the port).
pub async fn serve(
    opts: EmulatorOptions,
    listener: TcpListener,
) -> anyhow::Result<RunningEmulator> {
    let addr = listener
        .local_addr()
        .context("reading the listener address")?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let base_url = format!("http://{host}:{}", addr.port());
    let seed = opts.seed.clone().unwrap_or_else(demo_seed);
    let world =
        World::from_seed(&seed, &api::timestamp(chrono::Utc::now())).context("loading the seed")?;
    let key_base = base_url.clone();
    let rng_seed = opts.rng_seed;
    // RSA key generation is CPU-bound: keep it off the async workers.
    let account =
        tokio::task::spawn_blocking(move || auth::ServiceAccount::generate(&key_base, rng_seed))
            .await
            .context("generating the service account key")??;
    let config = Config {
        latency_ms: opts.latency_ms,
        fault_rate: opts.fault_rate.clamp(0.0, 1.0),
        read_quota_per_minute: opts.read_quota_per_minute,
        write_quota_per_minute: opts.write_quota_per_minute,
        quota_window_ms: opts.quota_window_ms.max(1),
        user_faults: BTreeMap::new(),
        token_lifetime_secs: 3599,
        max_contacts_per_user: opts.max_contacts_per_user,
    };
    let shared = Arc::new(Shared::new(base_url, account, world, config, opts.rng_seed));
    let app = server::router(shared.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "google-emulator server failed");
        }
    });
    Ok(RunningEmulator {
        shared,
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`: the base URL of every API, the token endpoint and the control API.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The socket the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service account key file (same JSON as `GET /emulator/service-account-key`).
    pub fn service_account_key_json(&self) -> String {
        self.shared.account.key_json().to_string()
    }

    /// Replaces all data with a new seed (same as `POST /emulator/reset`).
    pub fn reset(&self, seed: Seed) -> Result<(), SeedError> {
        self.shared.reset(&seed)
    }

    /// Changes run-time knobs (same as `POST /emulator/config`; out-of-range values are clamped).
    pub fn configure(&self, cfg: ConfigUpdate) {
        self.shared.configure(&cfg);
    }

    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    pub fn reset_stats(&self) {
        self.shared.lock().stats = Stats::default();
    }

    /// Every contact of a user, all fields (same as `GET /emulator/users/{email}/contacts`); empty for
    /// an unknown user.
    pub fn contacts_of(&self, email: &str) -> Vec<Value> {
        self.shared.contacts_of(email).unwrap_or_default()
    }

    /// Every contact group of a user with members (same as `GET /emulator/users/{email}/contact-groups`).
    pub fn contact_groups_of(&self, email: &str) -> Vec<Value> {
        self.shared.contact_groups_of(email).unwrap_or_default()
    }

    /// Stops the server and waits until it has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
