//! What each Lambda binary does: at start-up, logging, the configuration its role needs from the environment and
//! its parts from [`wiring`]; per event, the handler, with failures reaching the Lambda runtime as
//! [`Diagnostic`]s whose `errorType` is stable (alarms and log filters may match on it).
//!
//! A start-up failure is logged and returned, so the process exits before it polls for an event and the error
//! (naming the variable at fault) is in the function's log.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};

use crate::api::{ApiContext, api_function};
use crate::config::{Config, Needs};
use crate::google::RetryPolicy;
use crate::model::ExecutorEvent;
use crate::schedule::{ScheduleSummary, Scheduler};
use crate::sync::{Engine, EngineError, RunReport};
use crate::wiring::{self, StartupError};
use crate::{aws, telemetry};

/// The `errorType` of an executor invocation that failed on the table.
pub const STORE_ERROR: &str = "StoreError";
/// The `errorType` of an executor invocation that could not start its continuation.
pub const DISPATCH_ERROR: &str = "DispatchError";
/// The `errorType` of a scheduler invocation that could not list the syncs.
pub const SCHEDULE_ERROR: &str = "ScheduleError";

/// The context of the API function `function_name`, with the configuration its needs call for.
pub async fn api_context(function_name: &str) -> Result<ApiContext, StartupError> {
    start(function_name, async {
        let function = api_function(function_name)
            .ok_or_else(|| StartupError::UnknownFunction(function_name.to_owned()))?;
        let config = Config::from_env(function.needs)?;
        Ok(wiring::api_context(&config, &aws::load_config().await))
    })
    .await
}

/// The executor's engine: its key is read now, so a missing or broken key fails start-up.
pub async fn executor() -> Result<Engine, StartupError> {
    start("executor", async {
        let config = Config::from_env(Needs::EXECUTOR)?;
        let sdk = aws::load_config().await;
        let google = wiring::google_clients(&config, &sdk, RetryPolicy::default()).await?;
        let store = wiring::store(&config, &sdk);
        let dispatcher = wiring::dispatcher(&config, &sdk);
        Ok(wiring::engine(&config, &google, store, dispatcher))
    })
    .await
}

/// The scheduler.
pub async fn scheduler() -> Result<Scheduler, StartupError> {
    start("scheduler", async {
        let config = Config::from_env(Needs::SCHEDULER)?;
        Ok(wiring::scheduler(&config, &aws::load_config().await))
    })
    .await
}

async fn start<T>(
    binary: &str,
    build: impl Future<Output = Result<T, StartupError>>,
) -> Result<T, StartupError> {
    telemetry::init();
    build.await.inspect_err(|error| {
        tracing::error!(binary, error = %error, "cannot start");
    })
}

/// The executor's handler: runs (or continues) the run the event asks for, stopping before the invocation's
/// deadline. Failures of the run itself are recorded on the run; only the table or the continuation failing
/// fails the invocation (and Lambda retries it).
pub async fn execute(
    engine: &Engine,
    event: LambdaEvent<ExecutorEvent>,
) -> Result<RunReport, Diagnostic> {
    let deadline = event.context.deadline().into();
    engine
        .execute(&event.payload, deadline)
        .await
        .map_err(|error| engine_diagnostic(&error))
}

/// How an engine failure reaches the runtime.
fn engine_diagnostic(error: &EngineError) -> Diagnostic {
    let error_type = match error {
        EngineError::Store(_) => STORE_ERROR,
        EngineError::Dispatch(_) => DISPATCH_ERROR,
    };
    diagnostic(error_type, error)
}

/// The scheduler's handler: one EventBridge scheduled event starts a run of every enabled sync.
pub async fn schedule(
    scheduler: &Scheduler,
    event: LambdaEvent<EventBridgeEvent>,
) -> Result<ScheduleSummary, Diagnostic> {
    tracing::info!(
        request_id = %event.context.request_id,
        event_id = event.payload.id.as_deref().unwrap_or_default(),
        detail_type = %event.payload.detail_type,
        scheduled_at = ?event.payload.time,
        "scheduled event"
    );
    scheduler.run().await.map_err(|error| {
        tracing::error!(error = %error, "scheduler failed; no runs were started");
        diagnostic(SCHEDULE_ERROR, &error)
    })
}

fn diagnostic(error_type: &str, error: &dyn std::fmt::Display) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::DispatchError;
    use crate::store::StoreError;

    #[test]
    fn engine_errors_reach_the_runtime_with_stable_types() {
        let store = EngineError::Store(StoreError::Backend("throttled".to_owned()));
        let diagnostic = engine_diagnostic(&store);
        assert_eq!(diagnostic.error_type, "StoreError");
        assert_eq!(diagnostic.error_message, store.to_string());

        let dispatch = EngineError::Dispatch(DispatchError::Failed {
            sync_id: "S1".to_owned(),
            detail: "denied".to_owned(),
        });
        let diagnostic = engine_diagnostic(&dispatch);
        assert_eq!(diagnostic.error_type, "DispatchError");
        assert!(diagnostic.error_message.contains("denied"));
    }
}
