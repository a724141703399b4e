//! Starting and stopping the whole local stack: moto (or one already running), the Google emulator in-process,
//! the table and the key's secret in moto, and the gateway serving the template's routes with the real API
//! handlers, executor runs dispatched in-process.

use std::path::PathBuf;
use std::sync::Arc;

use contact_sync::api::ApiContext;
use contact_sync::config::{self, Config};
use contact_sync::dispatch::Dispatcher;
use contact_sync::google::{GoogleConfig, GoogleEndpoints, RetryPolicy, ServiceAccountKey};
use contact_sync::store::create_table;
use contact_sync::sync::{EngineSettings, InProcessDispatcher};
use contact_sync::wiring::{self as parts, StartupError};
use google_emulator::{EmulatorOptions, RunningEmulator, Seed};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::demo::DemoTarget;
use crate::event::Caller;
use crate::gateway;
use crate::moto::{MotoError, MotoProcess};
use crate::ports::{self, PortError};
use crate::repo::repo_root;
use crate::template::{self, Route, TemplateError};
use crate::wiring;

/// Default ports of `make local`.
pub const DEFAULT_API_PORT: u16 = 3000;
pub const DEFAULT_EMULATOR_PORT: u16 = 8085;
pub const DEFAULT_MOTO_PORT: u16 = 5000;
/// The table and secret names `make local` uses.
pub const DEFAULT_TABLE_NAME: &str = "contact-sync-local";
pub const DEFAULT_SECRET_ID: &str = "contact-sync/local/google-key";
pub const DEFAULT_REGION: &str = "us-east-1";
/// How long [`RunningStack::stop`] waits for runs in progress.
const RUNS_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Which moto the stack uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MotoSetting {
    /// Start `moto_server` from the virtualenv on this port (0 = a free one) and stop it at the end.
    Start { port: u16, venv: PathBuf },
    /// Use a moto that is already running (e.g. the one `make test` starts), at this endpoint URL.
    Existing { endpoint_url: String },
}

/// How the local stack starts.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The gateway's port on 127.0.0.1 (0 = a free one).
    pub api_port: u16,
    /// The Google emulator's port on 127.0.0.1 (0 = a free one).
    pub emulator_port: u16,
    pub moto: MotoSetting,
    /// The emulator's data; `None` = the demo seed.
    pub seed: Option<Seed>,
    /// The admin impersonated for Directory reads; `None` = the seed's first admin.
    pub admin_email: Option<String>,
    pub table_name: String,
    pub secret_id: String,
    pub region: String,
    /// The SAM template whose HTTP API routes are served.
    pub template: PathBuf,
    /// The IAM user name requests are attributed to.
    pub caller: String,
    /// Destination users processed in parallel within one run (`EXECUTOR_CONCURRENCY`).
    pub executor_concurrency: usize,
    /// Where moto's log goes.
    pub log_dir: PathBuf,
}

impl Default for LocalOptions {
    /// `make local`'s defaults: fixed ports, moto started from the repo's virtualenv, the demo seed.
    fn default() -> Self {
        let root = repo_root();
        LocalOptions {
            api_port: DEFAULT_API_PORT,
            emulator_port: DEFAULT_EMULATOR_PORT,
            moto: MotoSetting::Start {
                port: DEFAULT_MOTO_PORT,
                venv: root.join(".venv"),
            },
            seed: None,
            admin_email: None,
            table_name: DEFAULT_TABLE_NAME.to_owned(),
            secret_id: DEFAULT_SECRET_ID.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            template: template::default_template_path(),
            caller: Caller::default().name,
            executor_concurrency: EngineSettings::default().concurrency,
            log_dir: root.join("target/local-stack"),
        }
    }
}

impl LocalOptions {
    /// Free ports everywhere, and a table and secret of its own, so that several stacks (tests, a demo next to
    /// `make local`) never collide. Moto is the one at `AWS_ENDPOINT_URL` if that is set, else a new one.
    pub fn ephemeral() -> Self {
        let unique = ulid::Ulid::generate().to_string().to_lowercase();
        let defaults = LocalOptions::default();
        let moto = match config::aws_endpoint_url() {
            Some(endpoint_url) => MotoSetting::Existing { endpoint_url },
            None => match defaults.moto.clone() {
                MotoSetting::Start { venv, .. } => MotoSetting::Start { port: 0, venv },
                existing => existing,
            },
        };
        LocalOptions {
            api_port: 0,
            emulator_port: 0,
            moto,
            table_name: format!("contact-sync-local-{unique}"),
            secret_id: format!("contact-sync/local-{unique}/google-key"),
            ..defaults
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("starting the Google emulator failed: {0:#}")]
    Emulator(anyhow::Error),
    #[error(
        "the seed has no admin user (is_admin: true) to impersonate for Directory reads: set GOOGLE_ADMIN_EMAIL"
    )]
    NoAdmin,
    #[error("creating the table {table} in moto ({endpoint}) failed: {detail}")]
    Table {
        table: String,
        endpoint: String,
        detail: String,
    },
    #[error(transparent)]
    Secret(#[from] crate::aws::SecretError),
    #[error("the emulator's service-account key: {0}")]
    Key(contact_sync::google::GoogleError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Wiring(#[from] wiring::WiringError),
}

/// A running local stack. [`RunningStack::stop`] stops everything it started; dropping it stops the emulator and
/// moto too, without waiting.
pub struct RunningStack {
    /// `http://127.0.0.1:<API_PORT>`: the gateway.
    pub api_url: String,
    /// `http://127.0.0.1:<EMULATOR_PORT>`: the Google emulator (APIs, token endpoint, `/emulator/` control API).
    pub emulator_url: String,
    /// moto's endpoint (`AWS_ENDPOINT_URL`).
    pub moto_url: String,
    pub table_name: String,
    pub secret_id: String,
    pub admin_email: String,
    pub region: String,
    /// The routes served, as read from the template.
    pub routes: Vec<Route>,
    /// The service-account key the emulator trusts (also in the secret).
    pub key: ServiceAccountKey,
    /// moto's PID when the stack started it.
    pub moto_pid: Option<u32>,
    emulator: RunningEmulator,
    /// Runs the executor in-process; holds the engine (weakly: `_engine` keeps it alive).
    dispatcher: Arc<InProcessDispatcher>,
    _engine: Arc<contact_sync::sync::Engine>,
    moto: Option<MotoProcess>,
    gateway_stop: Option<oneshot::Sender<()>>,
    gateway_task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningStack")
            .field("api_url", &self.api_url)
            .field("emulator_url", &self.emulator_url)
            .field("moto_url", &self.moto_url)
            .field("table_name", &self.table_name)
            .finish_non_exhaustive()
    }
}

/// Starts the local stack. Ports are bound first, so a taken port fails before anything is started.
pub async fn start(opts: LocalOptions) -> Result<RunningStack, StackError> {
    let routes = template::load_routes(&opts.template)?;
    let api_listener = ports::bind(opts.api_port, "API_PORT", "--api-port").await?;
    let emulator_listener =
        ports::bind(opts.emulator_port, "EMULATOR_PORT", "--emulator-port").await?;

    let mut moto = match &opts.moto {
        MotoSetting::Start { port, venv } => {
            Some(MotoProcess::start(venv, *port, &opts.log_dir).await?)
        }
        MotoSetting::Existing { .. } => None,
    };
    match start_with(opts, routes, api_listener, emulator_listener, moto.as_ref()).await {
        Ok(mut stack) => {
            stack.moto_pid = moto.as_ref().and_then(MotoProcess::pid);
            stack.moto = moto;
            Ok(stack)
        }
        Err(err) => {
            if let Some(moto) = moto.as_mut() {
                moto.stop().await;
            }
            Err(err)
        }
    }
}

async fn start_with(
    opts: LocalOptions,
    routes: Vec<Route>,
    api_listener: tokio::net::TcpListener,
    emulator_listener: tokio::net::TcpListener,
    moto: Option<&MotoProcess>,
) -> Result<RunningStack, StackError> {
    let moto_url = match (&opts.moto, moto) {
        (_, Some(moto)) => moto.url().to_owned(),
        (MotoSetting::Existing { endpoint_url }, None) => endpoint_url.clone(),
        (MotoSetting::Start { .. }, None) => String::new(),
    };

    let seed = opts.seed.clone().unwrap_or_else(google_emulator::demo_seed);
    let admin_email = match &opts.admin_email {
        Some(admin) => admin.clone(),
        None => seed
            .users
            .iter()
            .find(|u| u.is_admin && !u.suspended)
            .map(|u| u.email.clone())
            .ok_or(StackError::NoAdmin)?,
    };
    let emulator = google_emulator::serve(
        EmulatorOptions {
            seed: Some(seed),
            ..EmulatorOptions::default()
        },
        emulator_listener,
    )
    .await
    .map_err(StackError::Emulator)?;
    let emulator_url = emulator.base_url();
    let key_json = emulator.service_account_key_json();
    let key = ServiceAccountKey::from_json(&key_json).map_err(StackError::Key)?;

    // The table and the secret, in moto, as the SAM stack would have them.
    let sdk = crate::aws::moto_config(&moto_url, &opts.region).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    create_table(&dynamodb, &opts.table_name)
        .await
        .map_err(|e| StackError::Table {
            table: opts.table_name.clone(),
            endpoint: moto_url.clone(),
            detail: e.to_string(),
        })?;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    crate::aws::put_secret(&secrets, &opts.secret_id, &key_json).await?;

    // From here on, what the functions do at start-up, from the configuration template.yaml would give them.
    let config = Config {
        table_name: opts.table_name.clone(),
        google: Some(GoogleConfig {
            key_secret_id: opts.secret_id.clone(),
            admin_email: admin_email.clone(),
            endpoints: GoogleEndpoints::all_at(&emulator_url),
        }),
        executor_function_name: None,
        engine: EngineSettings {
            concurrency: opts.executor_concurrency.max(1),
            ..EngineSettings::default()
        },
    };
    let google = parts::google_clients(&config, &sdk, RetryPolicy::default()).await?;
    let store = parts::store(&config, &sdk);
    let (engine, dispatcher) = parts::in_process_engine(
        &config,
        &google,
        Arc::clone(&store),
        wiring::EXECUTOR_INVOCATION_TIME,
    );
    let runs: Arc<dyn Dispatcher> = Arc::clone(&dispatcher) as Arc<dyn Dispatcher>;
    let context = ApiContext::new(
        Arc::clone(&store),
        Arc::clone(&google.people),
        Arc::clone(&google.directory),
        Arc::clone(&runs),
    );
    let bound = wiring::bind_routes(&routes, &context)?;
    let schedule = wiring::schedule_handler(parts::scheduler_over(Arc::clone(&store), runs));
    let caller = Caller {
        name: opts.caller.clone(),
        ..Caller::default()
    };
    let app = gateway::router(bound, caller, schedule);

    let api_addr = api_listener
        .local_addr()
        .map_err(|source| PortError::Bind {
            port: opts.api_port,
            env: "API_PORT",
            source,
        })?;
    let (gateway_stop, stopped) = oneshot::channel::<()>();
    let gateway_task = tokio::spawn(async move {
        let served = axum::serve(api_listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(err) = served {
            tracing::error!(error = %err, "the local gateway failed");
        }
    });

    Ok(RunningStack {
        api_url: format!("http://127.0.0.1:{}", api_addr.port()),
        emulator_url,
        moto_url,
        table_name: opts.table_name,
        secret_id: opts.secret_id,
        admin_email,
        region: opts.region,
        routes,
        key,
        moto_pid: None,
        emulator,
        dispatcher,
        _engine: engine,
        moto: None,
        gateway_stop: Some(gateway_stop),
        gateway_task: Some(gateway_task),
    })
}

impl RunningStack {
    /// The environment the functions would see in AWS, pointed at this stack (for tools run next to it).
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TABLE_NAME", self.table_name.clone()),
            ("GOOGLE_KEY_SECRET_ID", self.secret_id.clone()),
            ("GOOGLE_ADMIN_EMAIL", self.admin_email.clone()),
            ("PEOPLE_API_BASE_URL", self.emulator_url.clone()),
            ("DIRECTORY_API_BASE_URL", self.emulator_url.clone()),
            ("AWS_ENDPOINT_URL", self.moto_url.clone()),
            ("AWS_REGION", self.region.clone()),
            (
                "AWS_ACCESS_KEY_ID",
                crate::aws::DUMMY_ACCESS_KEY_ID.to_owned(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY",
                crate::aws::DUMMY_SECRET_ACCESS_KEY.to_owned(),
            ),
        ]
    }

    /// The Google emulator, for its control functions (contacts, stats, faults).
    pub fn emulator(&self) -> &RunningEmulator {
        &self.emulator
    }

    /// Where the demo scenario plays against this stack.
    pub fn demo_target(&self) -> DemoTarget {
        DemoTarget {
            api_url: self.api_url.clone(),
            emulator_url: self.emulator_url.clone(),
            key: self.key.clone(),
            admin_email: self.admin_email.clone(),
        }
    }

    /// moto's log file, when the stack started moto.
    pub fn moto_log(&self) -> Option<PathBuf> {
        self.moto.as_ref().map(|m| m.log().to_owned())
    }

    /// Waits until every run dispatched so far (and its continuations) has finished.
    pub async fn wait_for_runs(&self) {
        self.dispatcher.wait_idle().await;
    }

    /// Stops the gateway, gives runs in progress a few seconds to finish, then stops the emulator and moto (by
    /// its PID).
    pub async fn stop(mut self) {
        if let Some(stop) = self.gateway_stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.gateway_task.take() {
            let _ = task.await;
        }
        let runs = self.dispatcher.wait_idle();
        if tokio::time::timeout(RUNS_GRACE, runs).await.is_err() {
            tracing::warn!("runs still in progress at shutdown are abandoned");
        }
        if let Some(mut moto) = self.moto.take() {
            moto.stop().await;
        }
        self.emulator.shutdown().await;
    }
}
