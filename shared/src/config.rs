//! Every environment variable a contact-sync binary reads, and the one typed [`Config`] they are read into.
//!
//! template.yaml sets these variables on the functions. Each binary says what it [`Needs`] besides the table;
//! [`Config::from_env`] reads everything once, and a variable the binary needs that is missing or invalid fails
//! start-up with a [`ConfigError`] naming it. The local stack, the benchmarks and the end-to-end tests build a
//! [`Config`] value of their own (pointing at moto and the Google emulator) and hand it to the same
//! [`wiring`](crate::wiring) as the Lambda binaries.

use std::time::Duration;

use crate::google::{GoogleConfig, GoogleEndpoints};
use crate::sync::EngineSettings;

/// The names of the environment variables.
pub mod vars {
    /// The DynamoDB table (every function).
    pub const TABLE_NAME: &str = "TABLE_NAME";
    /// The Secrets Manager secret holding the Google service-account key (functions that call Google).
    pub const GOOGLE_KEY_SECRET_ID: &str = "GOOGLE_KEY_SECRET_ID";
    /// The Workspace admin the Directory API calls impersonate (functions that call Google).
    pub const GOOGLE_ADMIN_EMAIL: &str = "GOOGLE_ADMIN_EMAIL";
    /// The People API's root URL; Google's unless set (the emulator's in tests and locally).
    pub const PEOPLE_API_BASE_URL: &str = "PEOPLE_API_BASE_URL";
    /// The Admin SDK's root URL; Google's unless set.
    pub const DIRECTORY_API_BASE_URL: &str = "DIRECTORY_API_BASE_URL";
    /// The executor's name or ARN (functions that start runs, and the executor for its continuations).
    pub const EXECUTOR_FUNCTION_NAME: &str = "EXECUTOR_FUNCTION_NAME";
    /// Destination users one executor invocation processes at once.
    pub const EXECUTOR_CONCURRENCY: &str = "EXECUTOR_CONCURRENCY";
    /// Whole seconds before an invocation's deadline after which no destination user is started.
    pub const EXECUTOR_SAFETY_MARGIN_SECS: &str = "EXECUTOR_SAFETY_MARGIN_SECS";
    /// Where AWS calls go instead of AWS (moto). Read by the AWS SDK itself; never set in AWS.
    pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
    /// Set by Lambda from the function's `LoggingConfig.LogFormat`: `JSON` or `Text`.
    pub const AWS_LAMBDA_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
    /// Set by Lambda from the function's `LoggingConfig.ApplicationLogLevel`.
    pub const AWS_LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
    /// A developer's tracing env-filter directive; wins over `AWS_LAMBDA_LOG_LEVEL`.
    pub const RUST_LOG: &str = "RUST_LOG";
}

/// Lambda's longest timeout: a safety margin this long would leave no invocation any time to start a user.
const MAX_SAFETY_MARGIN: Duration = Duration::from_secs(900);

/// Why the configuration could not be read. Always names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("required environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {detail}")]
    Invalid { name: &'static str, detail: String },
}

/// What a binary needs besides the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Calls the Google APIs (reads the service-account key).
    pub google: bool,
    /// Starts executor runs (`EXECUTOR_FUNCTION_NAME`).
    pub dispatch: bool,
}

impl Needs {
    /// The executor: Google, and itself for its continuations.
    pub const EXECUTOR: Needs = Needs {
        google: true,
        dispatch: true,
    };
    /// The scheduler: it only lists syncs and starts runs.
    pub const SCHEDULER: Needs = Needs {
        google: false,
        dispatch: true,
    };
}

/// The configuration of one binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `TABLE_NAME`
    pub table_name: String,
    /// `GOOGLE_KEY_SECRET_ID`, `GOOGLE_ADMIN_EMAIL`, `PEOPLE_API_BASE_URL`, `DIRECTORY_API_BASE_URL`; `None` for a
    /// binary that does not call Google.
    pub google: Option<GoogleConfig>,
    /// `EXECUTOR_FUNCTION_NAME`; `None` for a binary that starts no runs.
    pub executor_function_name: Option<String>,
    /// The executor's tuning: `EXECUTOR_CONCURRENCY` and `EXECUTOR_SAFETY_MARGIN_SECS` over the defaults.
    pub engine: EngineSettings,
}

impl Config {
    /// Reads the process environment for a binary that needs `needs`.
    pub fn from_env(needs: Needs) -> Result<Config, ConfigError> {
        Config::from_vars(needs, |name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (the environment, or a test's map). Unset and blank are the same.
    pub fn from_vars(
        needs: Needs,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let table_name = required(vars::TABLE_NAME)?;
        let google = if needs.google {
            let defaults = GoogleEndpoints::default();
            Some(GoogleConfig {
                key_secret_id: required(vars::GOOGLE_KEY_SECRET_ID)?,
                admin_email: required(vars::GOOGLE_ADMIN_EMAIL)?,
                endpoints: GoogleEndpoints {
                    people_base_url: get(vars::PEOPLE_API_BASE_URL)
                        .unwrap_or(defaults.people_base_url),
                    directory_base_url: get(vars::DIRECTORY_API_BASE_URL)
                        .unwrap_or(defaults.directory_base_url),
                },
            })
        } else {
            None
        };
        let executor_function_name = if needs.dispatch {
            Some(required(vars::EXECUTOR_FUNCTION_NAME)?)
        } else {
            None
        };
        let defaults = EngineSettings::default();
        let engine = EngineSettings {
            concurrency: match get(vars::EXECUTOR_CONCURRENCY) {
                Some(value) => concurrency(&value)?,
                None => defaults.concurrency,
            },
            safety_margin: match get(vars::EXECUTOR_SAFETY_MARGIN_SECS) {
                Some(value) => safety_margin(&value)?,
                None => defaults.safety_margin,
            },
            ..defaults
        };
        Ok(Config {
            table_name,
            google,
            executor_function_name,
            engine,
        })
    }

    /// The Google configuration, or the error of a binary that was not configured to call Google.
    pub fn google(&self) -> Result<&GoogleConfig, ConfigError> {
        self.google
            .as_ref()
            .ok_or(ConfigError::Missing(vars::GOOGLE_KEY_SECRET_ID))
    }
}

/// `AWS_ENDPOINT_URL`, when set: the moto the local tools (local stack, benchmarks, tests) should use instead of
/// starting one of their own.
pub fn aws_endpoint_url() -> Option<String> {
    std::env::var(vars::AWS_ENDPOINT_URL)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// `EXECUTOR_CONCURRENCY`: a positive whole number.
fn concurrency(value: &str) -> Result<usize, ConfigError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::Invalid {
            name: vars::EXECUTOR_CONCURRENCY,
            detail: format!("expected a positive whole number, got {value:?}"),
        }),
    }
}

/// `EXECUTOR_SAFETY_MARGIN_SECS`: whole seconds, at least 1 and less than Lambda's longest timeout.
fn safety_margin(value: &str) -> Result<Duration, ConfigError> {
    let max = MAX_SAFETY_MARGIN.as_secs();
    match value.trim().parse::<u64>() {
        Ok(secs) if (1..max).contains(&secs) => Ok(Duration::from_secs(secs)),
        Ok(secs) if secs > 0 => Err(ConfigError::Invalid {
            name: vars::EXECUTOR_SAFETY_MARGIN_SECS,
            detail: format!(
                "{secs} seconds leaves no time to work: it must be less than {max} (Lambda's longest timeout)"
            ),
        }),
        _ => Err(ConfigError::Invalid {
            name: vars::EXECUTOR_SAFETY_MARGIN_SECS,
            detail: format!("expected a positive whole number of seconds, got {value:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const API_ONLY: Needs = Needs {
        google: false,
        dispatch: false,
    };

    fn read(needs: Needs, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_vars(needs, |name| vars.get(name).cloned())
    }

    const EXECUTOR_VARS: &[(&str, &str)] = &[
        (vars::TABLE_NAME, "table"),
        (vars::GOOGLE_KEY_SECRET_ID, "secret"),
        (vars::GOOGLE_ADMIN_EMAIL, "admin@example.com"),
        (vars::EXECUTOR_FUNCTION_NAME, "executor"),
    ];

    #[test]
    fn a_binary_reads_only_what_it_needs() {
        let config = read(API_ONLY, &[(vars::TABLE_NAME, "table")]).expect("config");
        assert_eq!(config.table_name, "table");
        assert_eq!(config.google, None);
        assert_eq!(config.executor_function_name, None);
        assert_eq!(config.engine, EngineSettings::default());
        assert_eq!(
            config.google().expect_err("not configured"),
            ConfigError::Missing(vars::GOOGLE_KEY_SECRET_ID)
        );
    }

    #[test]
    fn google_defaults_to_googles_endpoints() {
        let config = read(Needs::EXECUTOR, EXECUTOR_VARS).expect("config");
        let google = config.google().expect("google");
        assert_eq!(google.key_secret_id, "secret");
        assert_eq!(google.admin_email, "admin@example.com");
        assert_eq!(google.endpoints, GoogleEndpoints::default());
        assert_eq!(config.executor_function_name.as_deref(), Some("executor"));

        let mut vars = EXECUTOR_VARS.to_vec();
        vars.push((vars::PEOPLE_API_BASE_URL, "http://127.0.0.1:1"));
        let config = read(Needs::EXECUTOR, &vars).expect("config");
        let endpoints = &config.google().expect("google").endpoints;
        assert_eq!(endpoints.people_base_url, "http://127.0.0.1:1");
        assert_eq!(
            endpoints.directory_base_url,
            GoogleEndpoints::default().directory_base_url
        );
    }

    #[test]
    fn a_missing_or_blank_variable_is_named() {
        for missing in [
            vars::TABLE_NAME,
            vars::GOOGLE_KEY_SECRET_ID,
            vars::GOOGLE_ADMIN_EMAIL,
            vars::EXECUTOR_FUNCTION_NAME,
        ] {
            let without: Vec<_> = EXECUTOR_VARS
                .iter()
                .map(|&(k, v)| if k == missing { (k, "  ") } else { (k, v) })
                .collect();
            let error = read(Needs::EXECUTOR, &without).expect_err("missing");
            assert_eq!(error, ConfigError::Missing(missing));
            assert!(error.to_string().contains(missing), "{error}");
        }
    }

    #[test]
    fn the_executor_tuning_overrides_the_defaults() {
        let mut vars = EXECUTOR_VARS.to_vec();
        vars.extend([
            (vars::EXECUTOR_CONCURRENCY, "3"),
            (vars::EXECUTOR_SAFETY_MARGIN_SECS, " 120 "),
        ]);
        let config = read(Needs::EXECUTOR, &vars).expect("config");
        assert_eq!(config.engine.concurrency, 3);
        assert_eq!(config.engine.safety_margin, Duration::from_secs(120));
        assert_eq!(
            config.engine.lease_margin,
            EngineSettings::default().lease_margin
        );
    }

    #[test]
    fn the_concurrency_is_a_positive_whole_number() {
        assert_eq!(concurrency("16"), Ok(16));
        for invalid in ["0", "-1", "1.5", "many"] {
            let error = concurrency(invalid).expect_err(invalid);
            assert!(
                error.to_string().contains(vars::EXECUTOR_CONCURRENCY),
                "{error}"
            );
        }
    }

    #[test]
    fn the_safety_margin_is_whole_seconds_shorter_than_lambdas_longest_timeout() {
        assert_eq!(safety_margin("90"), Ok(Duration::from_secs(90)));
        assert_eq!(safety_margin(" 5 "), Ok(Duration::from_secs(5)));
        assert_eq!(safety_margin("899"), Ok(Duration::from_secs(899)));
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
            match safety_margin(invalid) {
                Err(ConfigError::Invalid { name, detail }) => {
                    assert_eq!(name, vars::EXECUTOR_SAFETY_MARGIN_SECS);
                    assert!(!detail.is_empty());
                }
                other => panic!("{invalid:?} was accepted: {other:?}"),
            }
        }
    }
}
