//! Connects the gateway to the code that runs in Lambda: each template route to its function's handler (from
//! `contact_sync::api`'s table of API functions), and the scheduler behind `POST /local/schedule`. The parts
//! themselves (store, Google clients, the in-process executor) are built by `contact_sync::wiring`.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use contact_sync::api::{ApiContext, api_function};
use contact_sync::schedule::Scheduler;

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

/// Each route with its function's handler (looked up by the function's binary name).
pub fn bind_routes(routes: &[Route], context: &ApiContext) -> Result<Vec<BoundRoute>, WiringError> {
    routes
        .iter()
        .map(|route| {
            let handler_fn = api_function(&route.binary)
                .ok_or_else(|| WiringError::UnknownFunction {
                    route: route.route_key(),
                    binary: route.binary.clone(),
                })?
                .handler;
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
pub fn schedule_handler(scheduler: Scheduler) -> ScheduleHandler {
    let scheduler = Arc::new(scheduler);
    Arc::new(move |event| {
        let scheduler = Arc::clone(&scheduler);
        Box::pin(async move {
            let event: EventBridgeEvent = serde_json::from_value(event)
                .map_err(|e| format!("not an EventBridge event: {e}"))?;
            tracing::info!(id = ?event.id, detail_type = %event.detail_type, "scheduled event");
            let summary = scheduler.run().await.map_err(|e| e.to_string())?;
            serde_json::to_value(summary).map_err(|e| e.to_string())
        })
    })
}
