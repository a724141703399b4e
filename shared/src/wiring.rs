//! Building each binary's parts from the one [`Config`]: the store, the Google clients and the dispatcher, and from
//! them the API context, the engine and the scheduler. The Lambda binaries (through [`lambda`](crate::lambda)),
//! the local stack, the benchmarks and the end-to-end tests all build through here, so each part is put together
//! one way.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::api::ApiContext;
use crate::config::{Config, ConfigError};
use crate::dispatch::{Dispatcher, LambdaDispatcher, NoExecutor};
use crate::google::{GoogleClients, GoogleError, LazyGoogle, RetryPolicy};
use crate::schedule::{ScheduleConfig, Scheduler};
use crate::store::{DynamoStore, SyncStore};
use crate::sync::{Engine, InProcessDispatcher};

/// Why a binary could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("building the Google clients failed: {0}")]
    Google(#[from] GoogleError),
    #[error("{0:?} is not an API function")]
    UnknownFunction(String),
}

/// The DynamoDB store on the configured table.
pub fn store(config: &Config, sdk: &SdkConfig) -> Arc<dyn SyncStore> {
    Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        &config.table_name,
    ))
}

/// Asynchronous invokes of the configured executor, or, for a binary that starts no runs, a dispatcher that
/// refuses.
pub fn dispatcher(config: &Config, sdk: &SdkConfig) -> Arc<dyn Dispatcher> {
    match &config.executor_function_name {
        Some(name) => Arc::new(LambdaDispatcher::from_sdk_config(sdk, name)),
        None => Arc::new(NoExecutor),
    }
}

/// The Google clients, with the key read from Secrets Manager now.
pub async fn google_clients(
    config: &Config,
    sdk: &SdkConfig,
    retry: RetryPolicy,
) -> Result<GoogleClients, StartupError> {
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    Ok(GoogleClients::from_secret(&secrets, config.google()?, retry).await?)
}

/// The API functions' context: the store, Google clients that read the key on first use, and the dispatcher.
pub fn api_context(config: &Config, sdk: &SdkConfig) -> ApiContext {
    let google = Arc::new(LazyGoogle::new(
        aws_sdk_secretsmanager::Client::new(sdk),
        config.google.clone(),
    ));
    ApiContext::new(
        store(config, sdk),
        Arc::clone(&google) as _,
        google,
        dispatcher(config, sdk),
    )
}

/// The engine over the given clients, store and dispatcher, tuned as configured.
pub fn engine(
    config: &Config,
    google: &GoogleClients,
    store: Arc<dyn SyncStore>,
    dispatcher: Arc<dyn Dispatcher>,
) -> Engine {
    Engine::new(
        Arc::clone(&google.people),
        Arc::clone(&google.directory),
        store,
        dispatcher,
        config.engine.clone(),
    )
}

/// The engine run in-process: each dispatched event (a run, a continuation) becomes a tokio task with
/// `invocation_time` before its deadline. Keep the dispatcher alive as long as runs may be dispatched; it holds the
/// engine weakly.
pub fn in_process_engine(
    config: &Config,
    google: &GoogleClients,
    store: Arc<dyn SyncStore>,
    invocation_time: std::time::Duration,
) -> (Arc<Engine>, Arc<InProcessDispatcher>) {
    let dispatcher = InProcessDispatcher::new(invocation_time);
    let engine = Arc::new(engine(
        config,
        google,
        store,
        Arc::clone(&dispatcher) as Arc<dyn Dispatcher>,
    ));
    dispatcher.attach(&engine);
    (engine, dispatcher)
}

/// The scheduler over the configured table and executor.
pub fn scheduler(config: &Config, sdk: &SdkConfig) -> Scheduler {
    scheduler_over(store(config, sdk), dispatcher(config, sdk))
}

/// The scheduler over a store and dispatcher of the caller's (the local stack's in-process executor).
pub fn scheduler_over(store: Arc<dyn SyncStore>, dispatcher: Arc<dyn Dispatcher>) -> Scheduler {
    Scheduler {
        store,
        dispatcher,
        config: ScheduleConfig::default(),
    }
}
