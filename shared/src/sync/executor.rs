//! Building the executor from its environment, once per process: configuration, the Google key from Secrets
//! Manager, the Google clients, the DynamoDB store and a dispatcher for continuations. The Lambda binary uses
//! [`lambda_engine_from_env`]; the local stack uses [`in_process_engine_from_env`]; tests call [`build_engine`].

use std::sync::Arc;
use std::time::Duration;

use super::run::{Engine, EngineSettings};
use crate::config::{self, ConfigError, GoogleEndpoints};
use crate::dispatch::{Dispatcher, InProcessDispatcher, LambdaDispatcher};
use crate::google::{GoogleClients, GoogleError, RetryPolicy};
use crate::store::DynamoStore;

/// Default of `EXECUTOR_CONCURRENCY`.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// The executor's environment (design.md, "Configuration").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorConfig {
    /// `TABLE_NAME`
    pub table_name: String,
    /// `GOOGLE_KEY_SECRET_ID`
    pub key_secret_id: String,
    /// `GOOGLE_ADMIN_EMAIL`
    pub admin_email: String,
    /// `PEOPLE_API_BASE_URL`, `DIRECTORY_API_BASE_URL` (Google's by default)
    pub endpoints: GoogleEndpoints,
    /// `EXECUTOR_CONCURRENCY` (default 8)
    pub concurrency: usize,
}

impl ExecutorConfig {
    /// Reads the configuration; a missing required variable is an error naming it.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(ExecutorConfig {
            table_name: config::required("TABLE_NAME")?,
            key_secret_id: config::required("GOOGLE_KEY_SECRET_ID")?,
            admin_email: config::required("GOOGLE_ADMIN_EMAIL")?,
            endpoints: GoogleEndpoints::from_env(),
            concurrency: config::positive_usize("EXECUTOR_CONCURRENCY", DEFAULT_CONCURRENCY)?,
        })
    }

    /// The engine settings for this configuration (defaults otherwise).
    pub fn settings(&self) -> EngineSettings {
        EngineSettings {
            concurrency: self.concurrency,
            ..EngineSettings::default()
        }
    }
}

/// Why the executor could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Google clients: {0}")]
    Google(#[from] GoogleError),
}

/// Builds an engine: reads the key from Secrets Manager (once), builds the Google clients and the store.
pub async fn build_engine(
    config: &ExecutorConfig,
    sdk: &aws_config::SdkConfig,
    dispatcher: Arc<dyn Dispatcher>,
    retry: RetryPolicy,
    settings: EngineSettings,
) -> Result<(Arc<Engine>, GoogleClients), StartupError> {
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let google = GoogleClients::from_secret(
        &secrets,
        &config.key_secret_id,
        &config.endpoints,
        &config.admin_email,
        retry,
    )
    .await?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name);
    let engine = Engine::new(
        Arc::clone(&google.people),
        Arc::clone(&google.directory),
        Arc::new(store),
        dispatcher,
        settings,
    );
    Ok((Arc::new(engine), google))
}

/// The Lambda executor: configuration from the environment (plus `EXECUTOR_FUNCTION_NAME`, which continuations
/// invoke asynchronously).
pub async fn lambda_engine_from_env() -> Result<Arc<Engine>, StartupError> {
    let config = ExecutorConfig::from_env()?;
    let function_name = config::required("EXECUTOR_FUNCTION_NAME")?;
    let sdk = crate::aws::load_config().await;
    let dispatcher = Arc::new(LambdaDispatcher::from_sdk_config(&sdk, function_name));
    let settings = config.settings();
    let (engine, _) =
        build_engine(&config, &sdk, dispatcher, RetryPolicy::default(), settings).await?;
    Ok(engine)
}

/// An in-process executor (local stack): configuration from the environment, continuations run on tokio with
/// `invocation_time` per invocation. Hand the dispatcher to whatever starts runs.
pub async fn in_process_engine_from_env(
    invocation_time: Duration,
) -> Result<(Arc<Engine>, Arc<InProcessDispatcher>), StartupError> {
    let config = ExecutorConfig::from_env()?;
    let sdk = crate::aws::load_config().await;
    let dispatcher = InProcessDispatcher::new(invocation_time);
    let settings = config.settings();
    let (engine, _) = build_engine(
        &config,
        &sdk,
        Arc::clone(&dispatcher) as Arc<dyn Dispatcher>,
        RetryPolicy::default(),
        settings,
    )
    .await?;
    dispatcher.attach(&engine);
    Ok((engine, dispatcher))
}
