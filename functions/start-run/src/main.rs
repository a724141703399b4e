//! The `start-run` API Lambda: POST /syncs/{id}/runs: start a run (or dry run) now. Required environment:
//! TABLE_NAME, EXECUTOR_FUNCTION_NAME (PEOPLE_API_BASE_URL and DIRECTORY_API_BASE_URL optional where Google is
//! called). The operation lives in `contact_sync::api`.

use contact_sync::api::{ApiContext, handlers};
use contact_sync::telemetry;
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // A readable start-up failure (e.g. "required environment variable TABLE_NAME is not set").
    let ctx = ApiContext::for_function("start-run")
        .await
        .map_err(|e| format!("start-run cannot start: {e}"))?;
    lambda_http::run(service_fn(|req| handlers::start_run(&ctx, req))).await
}
