//! The scheduler Lambda: EventBridge invokes it on the stack's schedule; it starts one asynchronous executor run
//! of every enabled sync (contact_sync::schedule) and returns the summary.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use contact_sync::dispatch::{Dispatcher, LambdaDispatcher};
use contact_sync::schedule::{ScheduleConfig, ScheduleSummary, run_schedule};
use contact_sync::store::DynamoStore;
use contact_sync::{aws, config, telemetry};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let (table, executor) = match (
        config::required("TABLE_NAME"),
        config::required("EXECUTOR_FUNCTION_NAME"),
    ) {
        (Ok(table), Ok(executor)) => (table, executor),
        (Err(err), _) | (_, Err(err)) => {
            tracing::error!(error = %err, "configuration");
            return Err(err.into());
        }
    };
    let sdk = aws::load_config().await;
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table));
    let dispatcher: Arc<dyn Dispatcher> =
        Arc::new(LambdaDispatcher::from_sdk_config(&sdk, executor));
    lambda_runtime::run(service_fn(|event: LambdaEvent<EventBridgeEvent>| {
        let store = Arc::clone(&store);
        let dispatcher = Arc::clone(&dispatcher);
        async move { handle(store.as_ref(), dispatcher, event).await }
    }))
    .await
}

async fn handle(
    store: &DynamoStore,
    dispatcher: Arc<dyn Dispatcher>,
    event: LambdaEvent<EventBridgeEvent>,
) -> Result<ScheduleSummary, Diagnostic> {
    tracing::info!(
        request_id = %event.context.request_id,
        event_id = event.payload.id.as_deref().unwrap_or_default(),
        detail_type = %event.payload.detail_type,
        scheduled_at = ?event.payload.time,
        "scheduled event"
    );
    run_schedule(store, dispatcher, ScheduleConfig::default())
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "scheduler failed; no runs were started");
            Diagnostic {
                error_type: "ScheduleError".to_owned(),
                error_message: err.to_string(),
            }
        })
}
