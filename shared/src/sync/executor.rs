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

/// The variable that sets [`ExecutorConfig::safety_margin`], in whole seconds.
pub const SAFETY_MARGIN_ENV: &str = "EXECUTOR_SAFETY_MARGIN_SECS";
/// Default of `EXECUTOR_SAFETY_MARGIN_SECS`.
pub const DEFAULT_SAFETY_MARGIN_SECS: u64 = 60;
/// Lambda's longest timeout: a margin this long would leave no invocation any time to start a user.
const MAX_SAFETY_MARGIN_SECS: u64 = 900;

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
    /// `EXECUTOR_SAFETY_MARGIN_SECS` (default 60): no destination user is started with less than this left before
    /// the invocation's deadline; the run continues in a new invocation instead.
    pub safety_margin: Duration,
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
            safety_margin: safety_margin(config::optional(SAFETY_MARGIN_ENV).as_deref())?,
        })
    }

    /// The engine settings for this configuration (defaults otherwise).
    pub fn settings(&self) -> EngineSettings {
        EngineSettings {
            concurrency: self.concurrency,
            safety_margin: self.safety_margin,
            ..EngineSettings::default()
        }
    }
}

/// `EXECUTOR_SAFETY_MARGIN_SECS` (unset or empty = the default): whole seconds, from 1 to 899.
fn safety_margin(value: Option<&str>) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(Duration::from_secs(DEFAULT_SAFETY_MARGIN_SECS));
    };
    match value.trim().parse::<u64>() {
        Ok(secs) if (1..MAX_SAFETY_MARGIN_SECS).contains(&secs) => Ok(Duration::from_secs(secs)),
        Ok(secs) if secs > 0 => Err(ConfigError::Invalid {
            name: SAFETY_MARGIN_ENV,
            detail: format!(
                "{secs} seconds leaves no time to work: it must be less than {MAX_SAFETY_MARGIN_SECS} \
                 (Lambda's longest timeout)"
            ),
        }),
        _ => Err(ConfigError::Invalid {
            name: SAFETY_MARGIN_ENV,
            detail: format!("expected a positive whole number of seconds, got {value:?}"),
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_safety_margin_defaults_to_a_minute() {
        assert_eq!(safety_margin(None), Ok(Duration::from_secs(60)));
    }

    #[test]
    fn the_safety_margin_is_whole_positive_seconds() {
        assert_eq!(safety_margin(Some("90")), Ok(Duration::from_secs(90)));
        assert_eq!(safety_margin(Some(" 5 ")), Ok(Duration::from_secs(5)));
        assert_eq!(safety_margin(Some("899")), Ok(Duration::from_secs(899)));
        for invalid in [
            "0",
            "-5",
            "1.5",
            "60s",
            "abc",
            "900",
            "3600",
            "18446744073709551616",
        ] {
            match safety_margin(Some(invalid)) {
                Err(ConfigError::Invalid { name, detail }) => {
                    assert_eq!(name, "EXECUTOR_SAFETY_MARGIN_SECS");
                    assert!(!detail.is_empty());
                }
                other => panic!("{invalid:?} was accepted: {other:?}"),
            }
        }
        let message = safety_margin(Some("soon"))
            .expect_err("invalid")
            .to_string();
        assert!(
            message.contains("EXECUTOR_SAFETY_MARGIN_SECS"),
            "the start-up error names the variable: {message}"
        );
    }

    #[test]
    fn the_settings_use_the_configured_margin() {
        let config = ExecutorConfig {
            table_name: "t".to_owned(),
            key_secret_id: "k".to_owned(),
            admin_email: "admin@example.com".to_owned(),
            endpoints: GoogleEndpoints {
                people_base_url: "http://people".to_owned(),
                directory_base_url: "http://directory".to_owned(),
            },
            concurrency: 3,
            safety_margin: Duration::from_secs(120),
        };
        let settings = config.settings();
        assert_eq!(settings.concurrency, 3);
        assert_eq!(settings.safety_margin, Duration::from_secs(120));
        assert_eq!(
            settings.lease_margin,
            EngineSettings::default().lease_margin
        );
    }
}
