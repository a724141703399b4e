//! Logging set-up shared by every binary, following Lambda's advanced logging controls.
//!
//! A function's `LoggingConfig` (template.yaml) reaches the process as two variables, both set by Lambda:
//! [`LOG_FORMAT_ENV`] (`JSON` or `Text`) chooses JSON lines, one object per event whose fields CloudWatch can
//! filter on, or plain text; [`LOG_LEVEL_ENV`] (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`) is the most
//! detailed level written. [`FILTER_ENV`], when set, overrides that level with any env-filter directive (for
//! developers, e.g. `RUST_LOG=contact_sync=debug`). Outside Lambda neither variable is set: readable text at
//! `info`. Never log secrets, tokens or contact contents.

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

use crate::config::vars::{
    AWS_LAMBDA_LOG_FORMAT as LOG_FORMAT_ENV, AWS_LAMBDA_LOG_LEVEL as LOG_LEVEL_ENV,
    RUST_LOG as FILTER_ENV,
};

/// The level written when nothing asks for another.
const DEFAULT_LEVEL: LevelFilter = LevelFilter::INFO;

/// How each log event is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, the event's fields flattened and the current span's fields under `span`.
    Json,
    /// Human-readable text.
    Text,
}

/// The format for a value of [`LOG_FORMAT_ENV`]: JSON for `JSON` (any case), text for `Text`, for anything else
/// and when the variable is unset (outside Lambda).
pub fn log_format(value: Option<&str>) -> LogFormat {
    match value.map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}

/// The level for one of Lambda's log level names (any case). tracing has no level above `ERROR`, so `FATAL` is
/// `ERROR`. `None` for anything that is not a Lambda level.
pub fn lambda_level(value: &str) -> Option<LevelFilter> {
    match value.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(LevelFilter::TRACE),
        "DEBUG" => Some(LevelFilter::DEBUG),
        "INFO" => Some(LevelFilter::INFO),
        "WARN" => Some(LevelFilter::WARN),
        "ERROR" | "FATAL" => Some(LevelFilter::ERROR),
        _ => None,
    }
}

/// The filter for the values of [`FILTER_ENV`] and [`LOG_LEVEL_ENV`]: a non-empty, valid `RUST_LOG` directive
/// first, then the Lambda level, then `info`. An unusable value falls through to the next rather than silencing
/// the logs.
pub fn env_filter(rust_log: Option<&str>, lambda_log_level: Option<&str>) -> EnvFilter {
    if let Some(directive) = rust_log.map(str::trim).filter(|d| !d.is_empty())
        && let Ok(filter) = EnvFilter::try_new(directive)
    {
        return filter;
    }
    let level = lambda_log_level
        .and_then(lambda_level)
        .unwrap_or(DEFAULT_LEVEL);
    EnvFilter::default().add_directive(level.into())
}

/// Installs the global subscriber from the process environment once; later calls are no-ops (tests call it
/// freely).
pub fn init() {
    let var = |name: &str| std::env::var(name).ok();
    let filter = env_filter(var(FILTER_ENV).as_deref(), var(LOG_LEVEL_ENV).as_deref());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match log_format(var(LOG_FORMAT_ENV).as_deref()) {
        // CloudWatch stamps every line with its own time.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .without_time()
            .try_init(),
        // Colours only for a person at a terminal, never as escape codes in a log file or CloudWatch.
        LogFormat::Text => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
    };
    // An already-installed subscriber (tests, local stack) is fine.
    drop(result);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_only_when_lambda_asks_for_it_text_otherwise() {
        assert_eq!(log_format(Some("JSON")), LogFormat::Json);
        assert_eq!(log_format(Some("json")), LogFormat::Json);
        assert_eq!(log_format(Some("Text")), LogFormat::Text);
        assert_eq!(log_format(Some("")), LogFormat::Text);
        assert_eq!(log_format(Some("yaml")), LogFormat::Text);
        assert_eq!(log_format(None), LogFormat::Text, "outside Lambda");
    }

    #[test]
    fn every_lambda_level_maps_to_a_tracing_level_and_fatal_is_error() {
        for (name, level) in [
            ("TRACE", LevelFilter::TRACE),
            ("DEBUG", LevelFilter::DEBUG),
            ("INFO", LevelFilter::INFO),
            ("WARN", LevelFilter::WARN),
            ("ERROR", LevelFilter::ERROR),
            ("FATAL", LevelFilter::ERROR),
            ("warn", LevelFilter::WARN),
            (" DEBUG ", LevelFilter::DEBUG),
        ] {
            assert_eq!(lambda_level(name), Some(level), "{name:?}");
        }
        for not_a_level in ["", "WARNING", "OFF", "verbose", "contact_sync=debug"] {
            assert_eq!(lambda_level(not_a_level), None, "{not_a_level:?}");
        }
    }

    #[test]
    fn the_lambda_level_sets_the_filter_and_info_is_the_default() {
        let most_detailed = |rust_log, lambda| env_filter(rust_log, lambda).max_level_hint();
        assert_eq!(most_detailed(None, Some("DEBUG")), Some(LevelFilter::DEBUG));
        assert_eq!(most_detailed(None, Some("FATAL")), Some(LevelFilter::ERROR));
        assert_eq!(most_detailed(None, None), Some(LevelFilter::INFO));
        assert_eq!(
            most_detailed(None, Some("LOUD")),
            Some(LevelFilter::INFO),
            "an unknown level is the default, not silence"
        );
    }

    #[test]
    fn rust_log_overrides_the_lambda_level_unless_empty_or_invalid() {
        let most_detailed = |rust_log, lambda| env_filter(rust_log, lambda).max_level_hint();
        assert_eq!(
            most_detailed(Some("trace"), Some("ERROR")),
            Some(LevelFilter::TRACE)
        );
        assert_eq!(
            most_detailed(Some("warn,contact_sync=debug"), Some("INFO")),
            Some(LevelFilter::DEBUG)
        );
        assert_eq!(
            most_detailed(Some("  "), Some("WARN")),
            Some(LevelFilter::WARN)
        );
        assert_eq!(
            most_detailed(Some("contact_sync=[{"), Some("WARN")),
            Some(LevelFilter::WARN)
        );
    }
}
