//! Logging set-up shared by every binary: JSON lines in Lambda (CloudWatch), readable text elsewhere.
//! Level from `RUST_LOG`, else `LOG_LEVEL`, else `info`. Never log secrets, tokens or contact contents.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are no-ops (tests call it freely).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            EnvFilter::try_new(std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".to_owned()))
        })
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if in_lambda {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .without_time()
            .try_init()
    } else {
        builder.try_init()
    };
    // An already-installed subscriber (tests, local stack) is fine.
    drop(result);
}
