//! Connects the gateway to the code that runs in Lambda: each template route to its function's handler, the
//! executor behind the in-process dispatcher, and the scheduler behind `POST /local/schedule`.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use contact_sync::api::ApiContext;
use contact_sync::api::handlers::handler_for;
use contact_sync::dispatch::{Dispatcher, InProcessDispatcher};
use contact_sync::google::GoogleClients;
use contact_sync::schedule::{ScheduleConfig, run_schedule};
use contact_sync::store::SyncStore;
use contact_sync::sync::{Engine, EngineSettings};

use crate::gateway::{ApiHandler, BoundRoute, ScheduleHandler};
use crate::template::Route;

/// The executor Lambda's timeout in template.yaml: each in-process invocation gets as long.
pub const EXECUTOR_INVOCATION_TIME: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(
        "template.yaml routes {route} to the binary {binary}, which is not an API function this build knows"
    )]
    UnknownFunction { route: String, binary: String },
}

/// The executor, run in-process: the engine and the dispatcher that hands it events. The dispatcher holds the
/// engine weakly, so keep this alive as long as runs may be dispatched.
pub struct InProcessExecutor {
    pub dispatcher: Arc<InProcessDispatcher>,
    pub engine: Arc<Engine>,
}

impl InProcessExecutor {
    pub fn new(google: &GoogleClients, store: Arc<dyn SyncStore>, concurrency: usize) -> Self {
        let dispatcher = InProcessDispatcher::new(EXECUTOR_INVOCATION_TIME);
        let engine = Arc::new(Engine::new(
            Arc::clone(&google.people),
            Arc::clone(&google.directory),
            store,
            Arc::clone(&dispatcher) as Arc<dyn Dispatcher>,
            EngineSettings {
                concurrency: concurrency.max(1),
                ..EngineSettings::default()
            },
        ));
        dispatcher.attach(&engine);
        InProcessExecutor { dispatcher, engine }
    }
}

/// Each route with its function's handler (looked up by the function's binary name).
pub fn bind_routes(routes: &[Route], context: &ApiContext) -> Result<Vec<BoundRoute>, WiringError> {
    routes
        .iter()
        .map(|route| {
            let handler_fn =
                handler_for(&route.binary).ok_or_else(|| WiringError::UnknownFunction {
                    route: route.route_key(),
                    binary: route.binary.clone(),
                })?;
            let context = context.clone();
            let handler: ApiHandler = Arc::new(move |request| {
                let context = context.clone();
                Box::pin(async move {
                    match handler_fn(&context, request).await {
                        Ok(response) => Ok(response),
                        Err(never) => match never {},
                    }
                })
            });
            Ok(BoundRoute {
                route: route.clone(),
                handler,
            })
        })
        .collect()
}

/// The scheduler function's logic, fired with an EventBridge scheduled event.
pub fn schedule_handler(
    store: Arc<dyn SyncStore>,
    dispatcher: Arc<dyn Dispatcher>,
) -> ScheduleHandler {
    Arc::new(move |event| {
        let store = Arc::clone(&store);
        let dispatcher = Arc::clone(&dispatcher);
        Box::pin(async move {
            let event: EventBridgeEvent = serde_json::from_value(event)
                .map_err(|e| format!("not an EventBridge event: {e}"))?;
            tracing::info!(id = ?event.id, detail_type = %event.detail_type, "scheduled event");
            let summary = run_schedule(store.as_ref(), dispatcher, ScheduleConfig::default())
                .await
                .map_err(|e| e.to_string())?;
            serde_json::to_value(summary).map_err(|e| e.to_string())
        })
    })
}
