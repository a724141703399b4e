//! The executor Lambda's handler: the invocation's deadline from the Lambda context, then the engine.
//! `main.rs` builds the engine once per cold start; tests call [`handle`] with a context of their own.

use chrono::{DateTime, Utc};
use contact_sync::model::ExecutorEvent;
use contact_sync::sync::{Engine, EngineError, RunReport};
use lambda_runtime::LambdaEvent;

/// Runs (or continues) the run the event asks for, stopping before the Lambda deadline.
pub async fn handle(
    engine: &Engine,
    event: LambdaEvent<ExecutorEvent>,
) -> Result<RunReport, EngineError> {
    let deadline: DateTime<Utc> = event.context.deadline().into();
    engine.execute(&event.payload, deadline).await
}
