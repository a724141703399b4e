//! Configuration from environment variables (design.md, "Configuration"). The same names are used in
//! template.yaml, the tests and the local stack. A missing required variable fails start-up naming it.

use crate::google::{DEFAULT_DIRECTORY_API_BASE_URL, DEFAULT_PEOPLE_API_BASE_URL};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("required environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {detail}")]
    Invalid { name: &'static str, detail: String },
}

/// Reads a required variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// Reads an optional variable (unset or empty = `None`).
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where the Google APIs are (Google's by default; the emulator's in tests and locally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleEndpoints {
    pub people_base_url: String,
    pub directory_base_url: String,
}

impl GoogleEndpoints {
    pub fn from_env() -> Self {
        GoogleEndpoints {
            people_base_url: optional("PEOPLE_API_BASE_URL")
                .unwrap_or_else(|| DEFAULT_PEOPLE_API_BASE_URL.to_owned()),
            directory_base_url: optional("DIRECTORY_API_BASE_URL")
                .unwrap_or_else(|| DEFAULT_DIRECTORY_API_BASE_URL.to_owned()),
        }
    }
}

/// Reads a positive integer variable with a default.
pub fn positive_usize(name: &'static str, default: usize) -> Result<usize, ConfigError> {
    match optional(name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::Invalid {
                name,
                detail: format!("expected a positive integer, got {v:?}"),
            }),
        },
    }
}
